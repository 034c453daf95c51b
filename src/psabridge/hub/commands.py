"""CLI commands of the billing hub."""

import typer


def register(app: typer.Typer) -> None:
    """Add the hub's commands to the root CLI."""
