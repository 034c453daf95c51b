"""The billing hub: the billing-platform records (accounts, products, contracts, subscriptions, seat changes)."""
