"""Web layer: the FastAPI application (REST API and Admin Hub pages)."""
