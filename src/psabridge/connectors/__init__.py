"""PSA connectors: the Autotask connector's stored credentials and settings, and its setup flow."""
