"""Reconciliation: does what Autotask will invoice match the billing hub, seat by seat?

The sync trusts its journal (a no-change re-run costs no call), so it never notices what people change in
Autotask after a push. A reconciliation reads Autotask with the fewest calls that answer the question,
compares it with the hub and with what PSA Bridge last wrote, and proposes a fix per difference; a person
approves fixes, and approved fixes are written through the sync's own journaled applier, exactly once.
"""
