"""Billing hub ORM models (filled in by the billing hub work)."""
