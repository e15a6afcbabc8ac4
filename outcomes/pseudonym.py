"""Pseudonymisation at the border: a keyed hash replaces every participant reference.

The key lives in a file outside the store (``SIB_KEY_FILE``, default
``sib.key`` in the working directory), so a copy of the database alone cannot
be linked back to people.  The hash is per contract, so the same person in two
contracts cannot be linked through the store either.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path

from language import MessageError
from outcomes.messages import TEXTS as O

DEFAULT_KEY_FILE = "sib.key"


class MissingKeyError(MessageError):
    """No usable pseudonymisation key; the message says what to do."""


def key_path() -> Path:
    return Path(os.environ.get("SIB_KEY_FILE") or DEFAULT_KEY_FILE)


def init_key(path: Path | None = None) -> Path:
    """Create a new random key file (mode 0600); refuse to overwrite an existing one."""
    path = path or key_path()
    if path.exists():
        raise MissingKeyError(O("key_exists", path=str(path)))
    if not path.parent.exists():
        raise MissingKeyError(O("key_folder", path=str(path), folder=str(path.parent)))
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(secrets.token_hex(32) + "\n")
    return path


def load_key(path: Path | None = None) -> bytes:
    path = path or key_path()
    try:
        text = path.read_text().strip()
    except FileNotFoundError:
        raise MissingKeyError(O("no_key", path=str(path))) from None
    try:
        key = bytes.fromhex(text)
    except ValueError:
        raise MissingKeyError(O("key_damaged", path=str(path))) from None
    if len(key) < 32:
        raise MissingKeyError(O("key_damaged", path=str(path)))
    return key


def pseudonymise(key: bytes, contract_id: str, reference: str) -> str:
    """HMAC-SHA256 of the contract id and the reference; 64 hex characters."""
    message = f"{contract_id}\x1f{reference}".encode("utf-8")
    return hmac.digest(key, message, hashlib.sha256).hex()
