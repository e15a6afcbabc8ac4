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

from language import MessageError
from payments.messages import TEXTS as P
from store.db import record_audit, retrying
from store.tables import LedgerEntryRow, LedgerStepRow
from store.types import iso_utc, utcnow

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
    return _read_chain(conn, LedgerEntryRow, contract_id)


def _read_chain(conn: sa.Connection | Engine, model: Any, contract_id: str) -> pd.DataFrame:
    """A contract's rows of a hash-chained table in chain order, as exact values (no NaN for None)."""
    query = sa.select(model).where(model.contract_id == contract_id).order_by(model.seq)
    if isinstance(conn, Engine):
        with conn.connect() as c:
            rows = c.execute(query).mappings().all()
    else:
        rows = conn.execute(query).mappings().all()
    return pd.DataFrame([dict(r) for r in rows], columns=[c.name for c in model.__table__.columns], dtype=object)


@dataclass(frozen=True)
class ChainCheck:
    entries: int
    broken_at: int | None  # seq of the first entry that does not verify
    reason: dict[str, Any] | None  # a stored message (``payments.messages``): why it does not

    @property
    def ok(self) -> bool:
        return self.broken_at is None


def _walk(rows: list[dict[str, Any]], hasher: Any, what: str) -> tuple[int | None, dict[str, Any] | None]:
    previous = GENESIS
    for n, row in enumerate(rows, start=1):
        if row["seq"] != n:
            return row["seq"], P(f"chain_{what}_order", n=n, seq=row["seq"]).as_dict()
        if row["prev_hash"] != previous:
            return row["seq"], P(f"chain_{what}_link", seq=row["seq"]).as_dict()
        if hasher(row) != row["hash"]:
            return row["seq"], P(f"chain_{what}_hash", seq=row["seq"]).as_dict()
        previous = row["hash"]
    return None, None


def verify_chain(engine: Engine, contract_id: str) -> ChainCheck:
    """Both chains: the entries, and the steps (approved, invoiced, paid, rejected) taken on them."""
    ledger = read_ledger(engine, contract_id)
    broken, reason = _walk(ledger.to_dict(orient="records"), entry_hash, "entry")
    if broken is not None:
        return ChainCheck(len(ledger), broken, reason)
    steps = read_steps(engine, contract_id)
    broken, reason = _walk(steps.to_dict(orient="records"), step_hash, "step")
    if broken is not None:
        return ChainCheck(len(ledger), broken, reason)
    return ChainCheck(len(ledger), None, None)


# -- steps: calculated -> approved -> invoiced -> paid, or rejected -------------------------------------------------

NEXT = {"calculated": ("approved", "rejected"), "approved": ("invoiced", "rejected"), "invoiced": ("paid",),
        "paid": (), "rejected": ()}
STEP_FIELDS = ("contract_id", "seq", "entry_seq", "status", "note", "at", "by", "prev_hash")


class StepRefused(MessageError, ValueError):
    """A step that cannot be taken; nothing was changed."""


def step_hash(fields: dict[str, Any]) -> str:
    payload = {name: fields[name] for name in STEP_FIELDS}
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def read_steps(conn: sa.Connection | Engine, contract_id: str) -> pd.DataFrame:
    """All steps of a contract's entries in chain order, in one query."""
    return _read_chain(conn, LedgerStepRow, contract_id)


def current_status(conn: sa.Connection | Engine, contract_id: str) -> dict[int, str]:
    """Each entry's status: its latest step, or 'calculated'."""
    steps = read_steps(conn, contract_id)
    return dict(zip(steps["entry_seq"], steps["status"])) if len(steps) else {}


def take_step(engine: Engine, contract_id: str, entries: list[int], status: str, who: str,
              note: str | None = None) -> list[dict[str, Any]]:
    """Move entries to ``status``, all or none; refuse an entry that is not one step before it."""
    if status not in ("approved", "invoiced", "paid", "rejected"):
        raise StepRefused(P("not_a_step", status=status))
    if status == "rejected" and not note:
        raise StepRefused(P("reason_needed"))
    if not entries:
        raise StepRefused(P("no_entries"))
    return retrying(lambda: _take_step(engine, contract_id, entries, status, who, note))


def _take_step(engine: Engine, contract_id: str, entries: list[int], status: str, who: str,
               note: str | None) -> list[dict[str, Any]]:
    with engine.begin() as conn:
        known = set(read_ledger(conn, contract_id)["seq"])
        current = current_status(conn, contract_id)
        steps = read_steps(conn, contract_id)
        problems = []
        for seq in entries:
            now = current.get(seq, "calculated")
            if seq not in known:
                problems.append(P("no_entry", seq=seq))
            elif status not in NEXT[now]:
                problems.append(P("wrong_step", seq=seq, now=now, allowed=list(NEXT[now]), status=status) if NEXT[now]
                                else P("final_step", seq=seq, now=now, status=status))
        if len(problems) == 1:
            raise StepRefused(problems[0])
        if problems:
            raise StepRefused(P("several", problems=[p.as_dict() for p in problems]))
        seq_no = int(steps["seq"].max()) if len(steps) else 0
        prev = steps["hash"].iloc[-1] if len(steps) else GENESIS
        at = iso_utc(utcnow())
        taken = []
        for entry in entries:
            seq_no += 1
            row = {"contract_id": contract_id, "seq": seq_no, "entry_seq": entry, "status": status, "note": note,
                   "at": at, "by": who, "prev_hash": prev}
            row["hash"] = prev = step_hash(row)
            taken.append(row)
        conn.execute(sa.insert(LedgerStepRow), taken)
        record_audit(conn, f"ledger.{status}", contract_id, {"entries": entries, "note": note}, who)
    return taken
