"""The ``psabridge`` command line. Each area registers its own commands; this module only assembles them."""

from __future__ import annotations

import typer

from psabridge import __version__

app = typer.Typer(
    name="psabridge",
    help="PSA Bridge: billing hub, Autotask connector, sync engine and Autotask emulator.",
    no_args_is_help=True,
    add_completion=False,
)


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", help="Print the version and exit.", is_eager=True),
) -> None:
    if version:
        typer.echo(__version__)
        raise typer.Exit()


@app.command()
def serve(
    host: str | None = typer.Option(None, help="Address to bind (default from PSABRIDGE_HOST)."),
    port: int | None = typer.Option(None, help="Port (default from PSABRIDGE_PORT)."),
) -> None:
    """Run the web application: REST API under /api/v1 and the Admin Hub."""
    import uvicorn

    from psabridge.config import get_settings
    from psabridge.web.app import create_app

    settings = get_settings()
    uvicorn.run(
        create_app(settings), host=host or settings.host, port=port or settings.port, log_level="info"
    )


def _register_areas() -> None:
    from psabridge.hub.commands import register as register_hub

    register_hub(app)

    from psabridge.emulator.commands import register as register_emulator

    register_emulator(app)

    from psabridge.auth.commands import register as register_users

    register_users(app)

    from psabridge.sync.commands import register as register_sync

    register_sync(app)

    from psabridge.reconcile.commands import register as register_reconcile

    register_reconcile(app)

    from psabridge.demo import register as register_demo

    register_demo(app)


_register_areas()

if __name__ == "__main__":  # pragma: no cover
    app()
