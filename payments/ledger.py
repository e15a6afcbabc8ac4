"""The append-only, hash-chained ledger of amounts owed.

Each entry's hash covers every field of the entry and the hash of the entry
before it in the same contract's ledger, so changing any field of any entry,
or removing or reordering entries, breaks the chain from that point on.
Entries are only inserted; a correction is an adjustment entry.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from store.tables import LedgerEntryRow

GENESIS = "0" * 64
HASHED_FIELDS = ("contract_id", "seq", "period", "mechanism", "payer", "cohort", "kind", "amount", "currency",
                 "evaluation_run_id", "contract_version", "basis", "created_at", "created_by", "prev_hash")


def entry_hash(fields: dict[str, Any]) -> str:
    payload = {name: fields[name] for name in HASHED_FIELDS}
    payload["amount"] = format(Decimal(payload["amount"]), "f")
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def read_ledger(conn: sa.Connection | Engine, contract_id: str) -> pd.DataFrame:
    """All entries of a contract in chain order, in one query; amounts stay Decimal."""
    query = sa.select(LedgerEntryRow).where(LedgerEntryRow.contract_id == contract_id).order_by(LedgerEntryRow.seq)
    if isinstance(conn, Engine):
        with conn.connect() as c:
            rows = c.execute(query).mappings().all()
    else:
        rows = conn.execute(query).mappings().all()
    columns = [c.name for c in LedgerEntryRow.__table__.columns]
    return pd.DataFrame([dict(r) for r in rows], columns=columns)


@dataclass(frozen=True)
class ChainCheck:
    entries: int
    broken_at: int | None  # seq of the first entry that does not verify
    reason: str | None

    @property
    def ok(self) -> bool:
        return self.broken_at is None


def verify_chain(engine: Engine, contract_id: str) -> ChainCheck:
    ledger = read_ledger(engine, contract_id)
    previous = GENESIS
    for n, entry in enumerate(ledger.to_dict(orient="records"), start=1):
        if entry["seq"] != n:
            return ChainCheck(len(ledger), entry["seq"], f"expected entry {n} here, found entry {entry['seq']}")
        if entry["prev_hash"] != previous:
            return ChainCheck(len(ledger), entry["seq"], "it does not follow the entry before it")
        if entry_hash(entry) != entry["hash"]:
            return ChainCheck(len(ledger), entry["seq"], "its content does not match its hash")
        previous = entry["hash"]
    return ChainCheck(len(ledger), None, None)
