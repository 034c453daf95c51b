"""The sync engine: plans, applies, journals and reconciles billing records into Autotask."""
