"""Seals: a keyed MAC (HMAC-SHA256) over ledger entries, ledger steps, audit events and checkpoints.

A hash chain shows that rows were changed only to someone who cannot recompute it; anyone who can
write to the database can.  A seal needs a secret kept outside the store: the seal key is derived from
the key file that pseudonymises participant references (``SIB_KEY_FILE``, default ``sib.key``), with
its own label, so one secret file is kept, backed up and protected, and a copy of the database alone can
neither read participants' references back nor forge the ledger.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from contextlib import contextmanager
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterator

from language import N_, MessageError, Texts
from store.types import iso_utc

LABEL = b"sib ledger seal v1"

TEXTS = Texts("seal", {
    "no_key": N_("no key at {path} to seal the ledger with; create one with 'sib keys init' (or set SIB_KEY_FILE)"),
})


class MissingSealKey(MessageError):
    """No key to seal (or check the seal of) the ledger; the message says what to do."""


def _key_file() -> Path:
    return Path(os.environ.get("SIB_KEY_FILE") or "sib.key")


@lru_cache(maxsize=8)
def _derived(text: str) -> bytes | None:
    try:
        key = bytes.fromhex(text.strip())
    except ValueError:
        return None
    return hmac.digest(key, LABEL, hashlib.sha256) if len(key) >= 32 else None


def seal_key() -> bytes | None:
    """The seal key, or None when there is no usable key file (read each time: a key file may be replaced)."""
    try:
        text = _key_file().read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError):
        return None
    return _derived(text)


@contextmanager
def key_file(path: Path) -> Iterator[None]:
    """Seal with the key in ``path`` for a while (the demo's own store and key, wherever it runs)."""
    before = os.environ.get("SIB_KEY_FILE")
    os.environ["SIB_KEY_FILE"] = str(path)
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("SIB_KEY_FILE", None)
        else:
            os.environ["SIB_KEY_FILE"] = before


def required_key() -> bytes:
    key = seal_key()
    if key is None:
        raise MissingSealKey(TEXTS("no_key", path=str(_key_file())))
    return key


def seal(key: bytes, text: str) -> str:
    return hmac.new(key, text.encode("utf-8"), hashlib.sha256).hexdigest()


def same(a: str | None, b: str | None) -> bool:
    return a is not None and b is not None and hmac.compare_digest(a, b)


def canonical(value: Any) -> str:
    """One text for a JSON-like value, whatever the order of its keys."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def audit_text(at: datetime, actor: str, action: str, contract_id: str | None, detail: Any) -> str:
    """What an audit event's seal covers: every field but its row id (given by the database after the seal)."""
    return canonical({"at": iso_utc(at), "actor": actor, "action": action, "contract_id": contract_id,
                      "detail": detail})
