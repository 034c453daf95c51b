"""``psabridge emulator``: run the Autotask emulator as a server (demo, manual testing)."""

from __future__ import annotations

from pathlib import Path

import typer

from psabridge.emulator import seed


def register(app: typer.Typer) -> None:
    """Add the ``emulator`` command to the root CLI."""

    @app.command("emulator")
    def emulator(
        port: int = typer.Option(8765, envvar="PSABRIDGE_EMULATOR_PORT", help="Port to listen on."),
        host: str = typer.Option("127.0.0.1", envvar="PSABRIDGE_EMULATOR_HOST", help="Address to bind."),
        state: Path | None = typer.Option(
            None,
            "--state",
            envvar="PSABRIDGE_EMULATOR_STATE",
            help="JSON file keeping the tenant across restarts (a journal FILE.journal sits beside it).",
        ),
        fsync: bool = typer.Option(
            False,
            "--fsync/--no-fsync",
            envvar="PSABRIDGE_EMULATOR_FSYNC",
            help="fsync the journal after every write (survives power loss, not only a killed process).",
        ),
        username: str = typer.Option(
            seed.DEMO_USERNAME, envvar="PSABRIDGE_EMULATOR_USERNAME", help="API user name."
        ),
        secret: str = typer.Option(
            seed.DEMO_SECRET, envvar="PSABRIDGE_EMULATOR_SECRET", help="API user secret."
        ),
        integration_code: str = typer.Option(
            seed.DEMO_INTEGRATION_CODE,
            envvar="PSABRIDGE_EMULATOR_INTEGRATION_CODE",
            help="API integration code.",
        ),
        hourly_limit: int = typer.Option(
            10_000, envvar="PSABRIDGE_EMULATOR_HOURLY_LIMIT", help="Requests per rolling hour."
        ),
    ) -> None:
        """Run an emulated Autotask tenant (REST API + /_emulator control API)."""
        import uvicorn

        from psabridge.emulator.app import create_emulator_app
        from psabridge.emulator.limits import LimitSettings
        from psabridge.emulator.tenant import EmulatorTenant

        tenant = EmulatorTenant(
            username=username,
            secret=secret,
            integration_code=integration_code,
            state_file=state,
            fsync=fsync,
        )
        app = create_emulator_app(tenant, limits=LimitSettings(hourly_limit=hourly_limit))
        base = f"http://{host}:{port}"
        typer.echo("Autotask emulator")
        typer.echo(f"  zone discovery : {base}/atservicesrest/v1.0/zoneInformation?user={username}")
        typer.echo(f"  REST base      : {base}/ATServicesRest/V1.0/")
        typer.echo(f"  username       : {username}")
        typer.echo(f"  secret         : {secret}")
        typer.echo(f"  integration code: {integration_code}")
        typer.echo(f"  state file     : {state or '(in memory)'}")
        typer.echo(f"  control API    : {base}/_emulator/ (reset, state, faults, limits, rules, zone, calls)")
        typer.echo(f"  after a zone move (POST {base}/_emulator/zone): {base}/zone2/ATServicesRest/V1.0/")
        try:
            uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False)
        finally:
            tenant.close()  # also done by the app's lifespan; closing twice is harmless
