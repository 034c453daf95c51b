"""Secrets at rest and password hashing.

Two different jobs with two different tools, kept side by side because both are about never storing
something an attacker with a copy of the database could use:

* ``SecretBox`` encrypts secrets we must be able to read back (the Autotask API user's secret) with
  Fernet (AES-128-CBC + HMAC-SHA256, authenticated). The key lives outside the database: in
  ``PSABRIDGE_ENCRYPTION_KEY`` or in ``data_dir/secret.key`` (created on first use, mode 0600), so a
  leaked database dump alone reveals nothing.
* ``hash_password`` / ``verify_password`` hash user passwords with argon2id; passwords are never
  recoverable, only checked.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import TYPE_CHECKING

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from cryptography.fernet import Fernet, InvalidToken

if TYPE_CHECKING:
    from psabridge.config import Settings

KEY_FILE_NAME = "secret.key"


class EncryptionKeyError(RuntimeError):
    """The configured key is malformed, or it is not the key the stored secrets were encrypted with."""


def _fernet(key: str | bytes, source: str) -> Fernet:
    try:
        return Fernet(key.encode("ascii") if isinstance(key, str) else key)
    except (ValueError, TypeError, UnicodeEncodeError) as exc:
        raise EncryptionKeyError(
            f"The encryption key from {source} is not a valid Fernet key (32 url-safe base64-encoded "
            "bytes). Generate one with: python -c 'from cryptography.fernet import Fernet; "
            "print(Fernet.generate_key().decode())'"
        ) from exc


def load_or_create_key_file(path: Path) -> bytes:
    """Read the key in ``path``, creating it (mode 0600, atomically) when it does not exist yet.

    ``O_EXCL`` makes concurrent first starts (web app and a worker) agree on one key instead of
    each writing its own and making the other's secrets unreadable.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        key = Fernet.generate_key()
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass  # another process won the race; read its key below
        else:
            with os.fdopen(fd, "wb") as fh:
                fh.write(key + b"\n")
            return key
    with contextlib.suppress(OSError):
        if path.stat().st_mode & 0o077:
            # Tighten permissions that were loosened by hand; the key is as sensitive as the secrets.
            path.chmod(0o600)
    return path.read_bytes().strip()


class SecretBox:
    """Encrypts and decrypts short secrets with one installation-wide Fernet key."""

    def __init__(self, key: str | bytes, *, source: str = "the given key") -> None:
        self._source = source
        self._fernet = _fernet(key, source)

    @classmethod
    def from_settings(cls, settings: Settings) -> SecretBox:
        """The box for this installation: ``PSABRIDGE_ENCRYPTION_KEY`` if set, else the key file."""
        if settings.encryption_key is not None:
            return cls(settings.encryption_key.get_secret_value(), source="PSABRIDGE_ENCRYPTION_KEY")
        path = settings.data_dir / KEY_FILE_NAME
        return cls(load_or_create_key_file(path), source=str(path))

    @staticmethod
    def generate_key() -> str:
        """A fresh random key, for operators who prefer to set ``PSABRIDGE_ENCRYPTION_KEY``."""
        return Fernet.generate_key().decode("ascii")

    def encrypt(self, plaintext: str) -> str:
        """Ciphertext (url-safe text, safe to store in a VARCHAR column); random IV per call."""
        return self._fernet.encrypt(plaintext.encode("utf-8")).decode("ascii")

    def decrypt(self, token: str) -> str:
        """The plaintext of ``token``; a clear ``EncryptionKeyError`` if the key does not match."""
        try:
            return self._fernet.decrypt(token.encode("ascii")).decode("utf-8")
        except (InvalidToken, UnicodeEncodeError) as exc:
            raise EncryptionKeyError(
                f"A stored secret cannot be decrypted with the key from {self._source}: the key changed "
                "or the data is corrupt. Restore the original key (PSABRIDGE_ENCRYPTION_KEY or "
                "secret.key) or re-enter the secret."
            ) from exc

    def __repr__(self) -> str:  # never show key material, even in debug output
        return f"SecretBox(source={self._source!r})"


# argon2id with the library's defaults (RFC 9106 "low memory" profile: 64 MiB, t=3, p=4).
_hasher = PasswordHasher()


def hash_password(password: str) -> str:
    """An argon2id hash of ``password`` (salted; encodes its own parameters)."""
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    """Whether ``password`` matches ``password_hash``; False (never an exception) for bad hashes."""
    try:
        return _hasher.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def password_needs_rehash(password_hash: str) -> bool:
    """Whether the hash was made with weaker parameters than today's (rehash on next login)."""
    try:
        return _hasher.check_needs_rehash(password_hash)
    except InvalidHashError:
        return True
