"""Notifications: a failed run sends one e-mail (to a local SMTP server, aiosmtpd) and one webhook signed
with HMAC-SHA256 (to a local HTTP server); reconciliation differences are notified too. Logs are JSON
without secrets."""

from __future__ import annotations

import json
import logging
import socket
import threading
from collections.abc import Iterator
from email import message_from_bytes
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from pydantic import SecretStr

from psabridge.connectors.models import Connector
from psabridge.jobs import notify
from psabridge.jobs import service as jobs
from psabridge.logs import JsonFormatter, mask
from tests.jobs.support import jobs_of
from tests.sync.support import Hub, SyncEnv, build_fixture


class _Mailbox:
    def __init__(self) -> None:
        self.messages: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(envelope)
        return "250 OK"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture()
def mailbox() -> Iterator[tuple[_Mailbox, int]]:
    box = _Mailbox()
    controller = Controller(box, hostname="127.0.0.1", port=_free_port())
    controller.start()
    yield box, controller.port
    controller.stop()


@pytest.fixture()
def webhook() -> Iterator[tuple[list[tuple[dict[str, str], bytes]], str]]:
    received: list[tuple[dict[str, str], bytes]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            received.append(({k.lower(): v for k, v in self.headers.items()}, body))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield received, f"http://127.0.0.1:{server.server_address[1]}/hook"
    server.shutdown()
    server.server_close()


def test_a_failed_run_sends_one_email_and_one_signed_webhook(
    env: SyncEnv, hub: Hub, mailbox: tuple[_Mailbox, int], webhook: tuple[list[Any], str]
) -> None:
    box, smtp_port = mailbox
    received, url = webhook
    settings = env.app_settings.model_copy(
        update={
            "smtp_host": "127.0.0.1",
            "smtp_port": smtp_port,
            "notify_email_to": "ops@msp.example",
            "notify_webhook_url": url,
            "notify_webhook_secret": SecretStr("hook-key-123"),
        }
    )
    build_fixture(hub)
    with env.factory() as s:  # Autotask refuses this API user: the run fails
        connector = s.get(Connector, env.connector_id)
        assert connector is not None
        connector.username = "nobody@unknown.example"
        s.commit()
    job_id = jobs.enqueue(env.factory, settings, env.org_id, "sync", dispatch_now=False)
    assert jobs.execute(env.factory, settings, job_id) == "failed"
    job = jobs_of(env.factory)[0]
    assert job.state == "failed" and job.error
    assert len(box.messages) == 1 and len(received) == 1
    mail = message_from_bytes(box.messages[0].content)
    assert box.messages[0].rcpt_tos == ["ops@msp.example"]
    assert "failed" in mail["Subject"] and f"Job {job_id}" in mail.get_payload()
    headers, body = received[0]
    expected = notify.sign("hook-key-123", headers["x-psabridge-timestamp"], body)
    assert headers["x-psabridge-signature"] == expected
    payload = json.loads(body)
    assert payload["event"] == "sync.failed" and payload["job"]["id"] == job_id
    secret = env.emu.credentials.secret
    assert secret not in mail.as_string() and secret.encode() not in body and b"hook-key-123" not in body


def test_notification_failures_do_not_fail_anything(env: SyncEnv) -> None:
    settings = env.app_settings.model_copy(
        update={
            "smtp_host": "127.0.0.1",
            "smtp_port": _free_port(),  # nothing listens
            "notify_email_to": "ops@msp.example",
            "notify_webhook_url": f"http://127.0.0.1:{_free_port()}/hook",
        }
    )
    notify.notify(settings, "sync.failed", "subject", "text", {})


def test_json_logs_are_structured_and_mask_secrets() -> None:
    record = logging.LogRecord(
        "psabridge.test",
        logging.WARNING,
        __file__,
        1,
        "connect redis://user:hunter2@host/0 secret=abc %s",
        ("x",),
        None,
    )
    record.job_id = 7
    line = json.loads(JsonFormatter().format(record))
    assert line["level"] == "WARNING" and line["logger"] == "psabridge.test" and line["job_id"] == 7
    assert "hunter2" not in line["message"] and "abc" not in line["message"]
    assert mask("Authorization: Bearer tok.en-123") == "Authorization: Bearer ***"
