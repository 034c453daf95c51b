"""PSA Bridge: push subscription-billing truth into Datto Autotask PSA, exactly once."""

__version__ = "0.1.0"
