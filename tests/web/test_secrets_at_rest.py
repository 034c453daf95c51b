"""A copy of the database alone does not reveal the Autotask API secret: it is stored Fernet-encrypted
with a key that lives outside the database (environment or data_dir/secret.key)."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from psabridge.connectors.models import Connector
from psabridge.hub.models import Organization
from psabridge.security.crypto import EncryptionKeyError, SecretBox

PLAINTEXT = "demo-secret-Zq93!"


def test_connector_secret_is_unreadable_without_the_key(
    settings: Any, session_factory: sessionmaker[Session]
) -> None:
    box = SecretBox.from_settings(settings)
    with session_factory() as db:
        org = Organization(name="Acme MSP", slug="acme")
        db.add(org)
        db.flush()
        db.add(
            Connector(
                organization_id=org.id,
                name="Autotask",
                username="psabridge-api@demo.example",
                secret_encrypted=box.encrypt(PLAINTEXT),
                integration_code="PSABRIDGE-DEMO",
            )
        )
        db.commit()
        # What an attacker with a dump sees: every column of the row, as stored.
        row = db.execute(text("SELECT * FROM connectors")).mappings().one()
    dump = " ".join(str(v) for v in row.values())
    assert PLAINTEXT not in dump
    stored = row["secret_encrypted"]
    assert stored.startswith("gAAAA")  # a Fernet token, not an encoding of the plaintext

    # The key is not in the database, and any other key fails loudly rather than returning garbage.
    key_file = settings.data_dir / "secret.key"
    assert key_file.read_text().strip() not in dump
    with pytest.raises(EncryptionKeyError, match="cannot be decrypted"):
        SecretBox(SecretBox.generate_key()).decrypt(stored)
    # With the installation's key it round-trips.
    assert SecretBox.from_settings(settings).decrypt(stored) == PLAINTEXT
