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


def _print_version(value: bool) -> None:
    """``--version`` answers before Click looks for a command (a plain flag came too late: "Missing
    command")."""
    if value:
        typer.echo(f"psabridge {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", help="Print the version and exit.", is_eager=True, callback=_print_version
    ),
) -> None:
    """PSA Bridge: billing hub, Autotask connector, sync engine and Autotask emulator."""


@app.command()
def serve(
    host: str | None = typer.Option(None, help="Address to bind (default from PSABRIDGE_HOST)."),
    port: int | None = typer.Option(None, help="Port (default from PSABRIDGE_PORT)."),
) -> None:
    """Run the web application: REST API under /api/v1 and the Admin Hub (jobs run in `psabridge worker`
    when PSABRIDGE_BROKER_URL is set, else in this process)."""
    import uvicorn

    from psabridge import logs
    from psabridge.config import get_settings
    from psabridge.web.app import create_app

    settings = get_settings()
    logs.configure(settings.log_level, settings.log_format)
    uvicorn.run(
        create_app(settings),
        host=host or settings.host,
        port=port or settings.port,
        log_level="info",
        log_config=None,
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

    from psabridge.jobs.commands import register as register_jobs

    register_jobs(app)

    from psabridge.demo import register as register_demo

    register_demo(app)


_register_areas()


def explain(exc: BaseException) -> str | None:
    """The one line a person needs for an error they can act on (None: a bug, keep the traceback)."""
    from sqlalchemy.exc import OperationalError

    from psabridge.autotask.errors import AutotaskError
    from psabridge.connectors.errors import ConnectorError, explain_api_error
    from psabridge.hub.errors import HubError
    from psabridge.sync.service import SyncError

    if isinstance(exc, AutotaskError):
        return explain_api_error(exc, action="complete this command").message
    if isinstance(exc, ConnectorError):
        return exc.message
    if isinstance(exc, HubError):
        return exc.detail
    if isinstance(exc, SyncError):
        return str(exc)
    if isinstance(exc, OperationalError):
        first = str(exc.orig).strip().splitlines()[0] if exc.orig else "no answer"
        return f"The database could not be used ({first}). Check PSABRIDGE_DATABASE_URL and that it runs."
    return None


def main() -> None:
    """The ``psabridge`` entry point: the Typer app, with errors the user can act on printed as one line
    on stderr (exit 1) instead of a traceback."""
    try:
        app()
    except Exception as exc:
        line = explain(exc)
        if line is None:
            raise
        from psabridge.cli_text import visible

        typer.echo(f"Error: {visible(line)}", err=True)
        raise SystemExit(1) from None


if __name__ == "__main__":  # pragma: no cover
    main()
