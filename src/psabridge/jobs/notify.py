"""Notifications of failed runs and of reconciliation differences: an e-mail (SMTP settings) and a
webhook signed with HMAC-SHA256 (``X-PSABridge-Signature: sha256=<hex>`` of ``<timestamp>.<body>``,
the timestamp in ``X-PSABridge-Timestamp``), each sent once per event. Failures to notify are logged and
counted, never raised: a notification must not fail the run it reports. No secret is ever in the text.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import smtplib
import time
from email.message import EmailMessage
from typing import Any

import httpx

from psabridge.config import Settings
from psabridge.metrics import NOTIFICATIONS

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-PSABridge-Signature"
TIMESTAMP_HEADER = "X-PSABridge-Timestamp"


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The webhook signature: ``sha256=`` + hex HMAC-SHA256 of ``timestamp.body`` under ``secret``."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return f"sha256={mac.hexdigest()}"


def notify(settings: Settings, event: str, subject: str, text: str, data: dict[str, Any]) -> None:
    """Send one e-mail and one webhook (each when configured) about ``event``."""
    if settings.smtp_host and settings.notify_email_to:
        try:
            send_email(settings, subject, text)
            NOTIFICATIONS.labels(channel="email", result="sent").inc()
        except (OSError, smtplib.SMTPException) as exc:
            NOTIFICATIONS.labels(channel="email", result="failed").inc()
            log.warning("notification e-mail not sent: %s", exc)
    if settings.notify_webhook_url:
        try:
            send_webhook(settings, {"event": event, "subject": subject, **data})
            NOTIFICATIONS.labels(channel="webhook", result="sent").inc()
        except httpx.HTTPError as exc:
            NOTIFICATIONS.labels(channel="webhook", result="failed").inc()
            log.warning("notification webhook not delivered: %s", type(exc).__name__)


def send_email(settings: Settings, subject: str, text: str) -> None:
    message = EmailMessage()
    message["From"] = settings.smtp_from
    message["To"] = ", ".join(a.strip() for a in settings.notify_email_to.split(",") if a.strip())
    message["Subject"] = subject
    message.set_content(text)
    with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=15) as smtp:
        if settings.smtp_starttls:
            smtp.starttls()
        if settings.smtp_username and settings.smtp_password is not None:
            smtp.login(settings.smtp_username, settings.smtp_password.get_secret_value())
        smtp.send_message(message)


def send_webhook(settings: Settings, payload: dict[str, Any]) -> None:
    body = json.dumps(payload, default=str, sort_keys=True).encode()
    timestamp = str(int(time.time()))
    headers = {"Content-Type": "application/json", TIMESTAMP_HEADER: timestamp}
    if settings.notify_webhook_secret is not None:
        headers[SIGNATURE_HEADER] = sign(settings.notify_webhook_secret.get_secret_value(), timestamp, body)
    response = httpx.post(settings.notify_webhook_url, content=body, headers=headers, timeout=15)
    response.raise_for_status()
