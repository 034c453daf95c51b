"""Secrets at rest: what an operator notices is that a key file appears once, secrets round-trip with it,
and a wrong key is reported clearly instead of yielding garbage."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from psabridge.config import Settings
from psabridge.security.crypto import (
    EncryptionKeyError,
    SecretBox,
    hash_password,
    password_needs_rehash,
    verify_password,
)


def test_key_file_created_once_with_owner_only_permissions(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data", encryption_key=None)
    box = SecretBox.from_settings(settings)
    key_file = tmp_path / "data" / "secret.key"
    assert key_file.exists()
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    token = box.encrypt("demo-secret")
    assert "demo-secret" not in token
    # A second start reuses the same key file: earlier secrets stay readable.
    assert SecretBox.from_settings(settings).decrypt(token) == "demo-secret"


def test_environment_key_wins_over_key_file(tmp_path: Path) -> None:
    key = SecretBox.generate_key()
    settings = Settings(data_dir=tmp_path, encryption_key=key)  # type: ignore[arg-type]
    token = SecretBox.from_settings(settings).encrypt("s3cr3t")
    assert not (tmp_path / "secret.key").exists()
    assert SecretBox(key).decrypt(token) == "s3cr3t"


def test_each_encryption_differs_so_equal_secrets_are_not_recognisable() -> None:
    box = SecretBox(SecretBox.generate_key())
    assert box.encrypt("same") != box.encrypt("same")


def test_wrong_key_gives_a_clear_error() -> None:
    token = SecretBox(SecretBox.generate_key()).encrypt("demo-secret")
    with pytest.raises(EncryptionKeyError, match="cannot be decrypted"):
        SecretBox(SecretBox.generate_key(), source="PSABRIDGE_ENCRYPTION_KEY").decrypt(token)


def test_malformed_key_is_refused_with_its_source() -> None:
    settings = Settings(encryption_key="not-a-key")  # type: ignore[arg-type]
    with pytest.raises(EncryptionKeyError, match="PSABRIDGE_ENCRYPTION_KEY"):
        SecretBox.from_settings(settings)


def test_repr_never_shows_the_key() -> None:
    key = SecretBox.generate_key()
    assert key not in repr(SecretBox(key))


def test_password_hash_is_argon2id_and_verifies() -> None:
    hashed = hash_password("correct horse battery staple")
    assert hashed.startswith("$argon2id$")
    assert "correct horse" not in hashed
    assert verify_password(hashed, "correct horse battery staple")
    assert not verify_password(hashed, "wrong")
    assert not verify_password("not-a-hash", "anything")
    assert not password_needs_rehash(hashed)
