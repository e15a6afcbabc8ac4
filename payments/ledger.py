"""The append-only, hash-chained and sealed ledger of amounts owed, and the steps people take on it.

Each entry's hash covers every field of the entry and the hash of the entry
before it in the same contract's ledger, so changing any field of any entry,
or removing or reordering entries, breaks the chain from that point on.
Entries are only inserted; a correction is an adjustment entry.

A hash chain can be recomputed by anyone who can write to the database, so
every entry, step and audit event is also sealed with a keyed MAC
(``store/seal.py``, a key kept outside the store).  What a seal cannot show
is a row removed from the end; a checkpoint can: ``checkpoint()`` writes the
chains' ends, sealed, for the finance office to keep, and ``verify_chain(...,
checkpoint=...)`` finds a deleted tail, a forged step, a recomputed chain, an
entry moved to another contract and deleted audit events.

Steps (approve, reject, invoice, pay) are taken by a ``Signer``, an
authenticated user: a payer user acts only for its own paying party; whoever
approved an entry cannot also mark it paid; an entry above the contract's
``approval.two_approvers_above`` needs two different approvers (the first
step is ``attested``); and a flagged entry (``payments.evidence``) is approved
only with each flag acknowledged and a written reason.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from language import Message, MessageError
from language.masking import mask_text
from payments.messages import TEXTS as P
from store.db import record_audit, retrying
from store.seal import audit_text, canonical, required_key, same, seal
from store.tables import AuditEventRow, LedgerEntryRow, LedgerStepRow
from store.types import iso_utc, utcnow

GENESIS = "0" * 64
HASHED_FIELDS = ("contract_id", "seq", "period", "mechanism", "payer", "cohort", "kind", "amount", "currency",
                 "evaluation_run_id", "contract_version", "basis", "created_at", "created_by", "prev_hash")


def entry_hash(fields: dict[str, Any]) -> str:
    payload = {name: fields[name] for name in HASHED_FIELDS}
    payload["amount"] = format(Decimal(payload["amount"]), "f")
    return hashlib.sha256(canonical(payload).encode("utf-8")).hexdigest()


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
    broken_at: int | None  # seq of the first entry (or step, or audit event id) that does not verify
    reason: dict[str, Any] | None  # a stored message (``payments.messages``): why it does not
    steps: int = 0
    audit_events: int = 0
    unsealed: int = 0  # rows without a seal (each one a failure, unless sealed by ``seal_legacy``)
    checkpoint: dict[str, Any] | None = None  # the checkpoint it was checked against, if any

    @property
    def ok(self) -> bool:
        return self.reason is None


def _walk(rows: list[dict[str, Any]], hasher: Any, what: str, key: bytes | None
          ) -> tuple[int | None, dict[str, Any] | None, int]:
    """The first row that breaks the chain (or, with a key, carries no valid seal), why, and how many rows have
    no seal.  Every row must be sealed: one without a seal was written without the key, or before sealing
    began (schema 0007), and is accepted only once the key's holder has checked and sealed it (``seal_legacy``);
    otherwise anyone who can write to the database could strip the seals and rewrite the chain."""
    previous = GENESIS
    unsealed = 0
    for n, row in enumerate(rows, start=1):
        if row["seq"] != n:
            return row["seq"], P(f"chain_{what}_order", n=n, seq=row["seq"]).as_dict(), unsealed
        if row["prev_hash"] != previous:
            return row["seq"], P(f"chain_{what}_link", seq=row["seq"]).as_dict(), unsealed
        if hasher(row) != row["hash"]:
            return row["seq"], P(f"chain_{what}_hash", seq=row["seq"]).as_dict(), unsealed
        if row.get("mac") is None:
            unsealed += 1
            if key is not None:
                return row["seq"], P(f"chain_{what}_unsealed", seq=row["seq"]).as_dict(), unsealed
        elif key is not None and not same(seal(key, row["hash"]), row["mac"]):
            return row["seq"], P(f"chain_{what}_seal", seq=row["seq"]).as_dict(), unsealed
        previous = row["hash"]
    return None, None, unsealed


def read_audit(conn: sa.Connection | Engine, contract_id: str) -> list[dict[str, Any]]:
    query = sa.select(AuditEventRow).where(AuditEventRow.contract_id == contract_id).order_by(AuditEventRow.id)
    if isinstance(conn, Engine):
        with conn.connect() as c:
            return [dict(r) for r in c.execute(query).mappings().all()]
    return [dict(r) for r in conn.execute(query).mappings().all()]


def _audit_check(events: list[dict[str, Any]], key: bytes) -> tuple[int | None, dict[str, Any] | None, int]:
    for event in events:
        if event["mac"] is None:
            return event["id"], P("audit_unsealed", id=event["id"]).as_dict(), 1
        text = audit_text(event["at"], event["actor"], event["action"], event["contract_id"], event["detail"])
        if not same(seal(key, text), event["mac"]):
            return event["id"], P("audit_seal", id=event["id"]).as_dict(), 0
    return None, None, 0


def _audit_digest(events: list[dict[str, Any]]) -> str:
    """One hash of a contract's audit events: each event's id and seal (or, unsealed, its content)."""
    digest = hashlib.sha256()
    for e in events:
        mark = e["mac"] or hashlib.sha256(audit_text(e["at"], e["actor"], e["action"], e["contract_id"],
                                                     e["detail"]).encode("utf-8")).hexdigest()
        digest.update(f"{e['id']}:{mark}\n".encode("ascii"))
    return digest.hexdigest()


def _end(rows: list[dict[str, Any]]) -> dict[str, Any]:
    return {"count": len(rows), "last_seq": rows[-1]["seq"] if rows else 0,
            "head_hash": rows[-1]["hash"] if rows else GENESIS}


CHECKPOINT_FORMAT = "sib-ledger-checkpoint/1"


def checkpoint(engine: Engine, contract_id: str) -> dict[str, Any]:
    """The ends of a contract's chains and of its audit log, now, sealed: a file for the finance office to keep."""
    key = required_key()
    entries = read_ledger(engine, contract_id).to_dict(orient="records")
    steps = read_steps(engine, contract_id).to_dict(orient="records")
    events = read_audit(engine, contract_id)
    data: dict[str, Any] = {
        "format": CHECKPOINT_FORMAT, "contract": contract_id, "at": iso_utc(utcnow()),
        "entries": _end(entries), "steps": _end(steps),
        "audit": {"count": len(events), "last_id": events[-1]["id"] if events else 0, "digest": _audit_digest(events)},
    }
    data["seal"] = seal(key, canonical(data))
    return data


def _against(data: dict[str, Any], contract_id: str, entries: list[dict[str, Any]], steps: list[dict[str, Any]],
             events: list[dict[str, Any]], key: bytes) -> dict[str, Any] | None:
    """Why the store does not hold what the checkpoint saw, or None."""
    body = {k: v for k, v in data.items() if k != "seal"} if isinstance(data, dict) else {}
    if not isinstance(data, dict) or data.get("format") != CHECKPOINT_FORMAT or not same(
            seal(key, canonical(body)), data.get("seal") if isinstance(data.get("seal"), str) else None):
        return P("checkpoint_seal").as_dict()
    if data["contract"] != contract_id:
        return P("checkpoint_contract", of=data["contract"], contract=contract_id).as_dict()
    for what, rows in (("entry", entries), ("step", steps)):
        seen = data["entries" if what == "entry" else "steps"]
        if seen["count"] == 0:
            continue
        at = next((r for r in rows if r["seq"] == seen["last_seq"]), None)
        if at is None:
            return P(f"checkpoint_{what}_missing", count=seen["count"], seq=seen["last_seq"], now=len(rows)).as_dict()
        if at["hash"] != seen["head_hash"]:
            return P(f"checkpoint_{what}_changed", seq=seen["last_seq"]).as_dict()
    audit = data["audit"]
    before = [e for e in events if e["id"] <= audit["last_id"]]
    if len(before) != audit["count"] or _audit_digest(before) != audit["digest"]:
        return P("checkpoint_audit", last=audit["last_id"], count=audit["count"], now=len(before)).as_dict()
    return None


def verify_chain(engine: Engine, contract_id: str, checkpoint: dict[str, Any] | None = None) -> ChainCheck:
    """Both chains (the entries, and the steps taken on them), every seal, the contract's audit events, and,
    given a checkpoint, that nothing it saw has gone or changed."""
    key = required_key()
    ledger = read_ledger(engine, contract_id).to_dict(orient="records")
    steps = read_steps(engine, contract_id).to_dict(orient="records")
    events = read_audit(engine, contract_id)
    counts = {"steps": len(steps), "audit_events": len(events), "checkpoint": checkpoint}
    unsealed = 0
    for rows, hasher, what in ((ledger, entry_hash, "entry"), (steps, step_hash, "step")):
        broken, reason, loose = _walk(rows, hasher, what, key)
        unsealed += loose
        if reason is not None:
            return ChainCheck(len(ledger), broken, reason, unsealed=unsealed, **counts)
    broken, reason, loose = _audit_check(events, key)
    unsealed += loose
    if reason is None and checkpoint is not None:
        reason = _against(checkpoint, contract_id, ledger, steps, events, key)
    return ChainCheck(len(ledger), broken, reason, unsealed=unsealed, **counts)


def seal_legacy(engine: Engine, contract_id: str, who: str) -> dict[str, int]:
    """Seal a contract's rows that carry none: written before sealing began (schema 0007) or, for audit events,
    before the store had a key.  The key's holder vouches for them, once: the hash chains are checked first
    and nothing is sealed if they are broken; the act is itself an audit event."""
    key = required_key()
    with engine.begin() as conn:
        counts = {}
        for model, hasher, what in ((LedgerEntryRow, entry_hash, "entry"), (LedgerStepRow, step_hash, "step")):
            rows = _read_chain(conn, model, contract_id).to_dict(orient="records")
            broken, reason, _ = _walk(rows, hasher, what, None)
            if reason is not None:
                raise StepRefused(Message.load(reason))
            loose = [r for r in rows if r.get("mac") is None]
            for r in loose:
                conn.execute(sa.update(model).where(model.id == r["id"]).values(mac=seal(key, r["hash"])))
            counts[what] = len(loose)
        events = [e for e in read_audit(conn, contract_id) if e["mac"] is None]
        for e in events:
            text = audit_text(e["at"], e["actor"], e["action"], e["contract_id"], e["detail"])
            conn.execute(sa.update(AuditEventRow).where(AuditEventRow.id == e["id"]).values(mac=seal(key, text)))
        counts["audit"] = len(events)
        record_audit(conn, "ledger.seal_legacy", contract_id, counts, who)
    return counts


def verify_for_display(engine: Engine, contract_id: str) -> ChainCheck:
    """``verify_chain`` for a page or a report: without the key, a check that says so (never an error page)."""
    from store.seal import MissingSealKey

    try:
        return verify_chain(engine, contract_id)
    except MissingSealKey as exc:
        return ChainCheck(0, None, exc.message.as_dict())


# -- steps: calculated -> [attested ->] approved -> invoiced -> paid, or rejected ----------------------------------

NEXT = {"calculated": ("attested", "approved", "rejected"), "attested": ("approved", "rejected"),
        "approved": ("invoiced", "rejected"), "invoiced": ("paid",), "paid": (), "rejected": ()}
STEP_FIELDS = ("contract_id", "seq", "entry_seq", "status", "note", "at", "by", "prev_hash")
LATER_STEP_FIELDS = ("user_id", "party", "acknowledged")  # hashed when present (steps written since 0007)
PAYER_STEPS = frozenset({"attested", "approved", "rejected", "paid"})


class StepRefused(MessageError, ValueError):
    """A step that cannot be taken; nothing was changed."""


@dataclass(frozen=True)
class Signer:
    """Who takes a step: an authenticated user (its id, name, role and, for a payer, its one paying party)."""

    name: str
    user_id: int | None = None
    role: str | None = None
    party: str | None = None

    @property
    def identity(self) -> str:
        return f"user:{self.user_id}" if self.user_id is not None else self.name


def _identity(step: dict[str, Any]) -> str:
    return f"user:{step['user_id']}" if step.get("user_id") is not None else step["by"]


def step_hash(fields: dict[str, Any]) -> str:
    payload = {name: fields[name] for name in STEP_FIELDS}
    payload |= {name: fields[name] for name in LATER_STEP_FIELDS if fields.get(name) is not None}
    return hashlib.sha256(canonical(payload).encode("utf-8")).hexdigest()


def read_steps(conn: sa.Connection | Engine, contract_id: str) -> pd.DataFrame:
    """All steps of a contract's entries in chain order, in one query."""
    return _read_chain(conn, LedgerStepRow, contract_id)


def current_status(conn: sa.Connection | Engine, contract_id: str) -> dict[int, str]:
    """Each entry's status: its latest step, or 'calculated'."""
    steps = read_steps(conn, contract_id)
    return dict(zip(steps["entry_seq"], steps["status"])) if len(steps) else {}


def take_step(engine: Engine, contract_id: str, entries: list[int], status: str, who: Signer | str,
              note: str | None = None, *, acknowledged: list[str] | None = None) -> list[dict[str, Any]]:
    """Move entries to ``status``, all or none; refuse an entry that is not one step before it, a step by the
    wrong party or by the person who approved it, and a flagged approval without acknowledgement and reason.

    Asked to approve an entry that needs two approvers and has none yet, the step taken is ``attested``."""
    signer = who if isinstance(who, Signer) else Signer(who)
    if status not in ("approved", "invoiced", "paid", "rejected"):
        raise StepRefused(P("not_a_step", status=status))
    if status == "rejected" and not note:
        raise StepRefused(P("reason_needed"))
    if not entries:
        raise StepRefused(P("no_entries"))
    note = mask_text(note) if note else note  # a reason is stored, sealed and shown: no personal number in it
    entries = list(dict.fromkeys(entries))  # an entry named twice is one step
    if signer.role == "payer" and signer.party is None and status in PAYER_STEPS:
        raise StepRefused(P("no_party", who=signer.name))
    key = required_key()
    return retrying(lambda: _take_step(engine, contract_id, entries, status, signer, note, acknowledged or [], key))


def _take_step(engine: Engine, contract_id: str, entries: list[int], status: str, signer: Signer,
               note: str | None, acknowledged: list[str], key: bytes) -> list[dict[str, Any]]:
    from contracts.registry import get_contract
    from payments.evidence import codes, entries_evidence

    from contracts.evaluation_only import payments_of

    contract = get_contract(engine, contract_id).latest.terms
    payments_of(contract)  # an evaluation-only contract has no entries to step
    ledger = {e["seq"]: e for e in read_ledger(engine, contract_id).to_dict(orient="records")}  # never changes
    evidence = entries_evidence(engine, contract, [ledger[s] for s in entries if s in ledger]) \
        if status == "approved" else {}
    with engine.begin() as conn:
        # One read of the steps gives both each entry's status and its history: two reads could see two states
        # of the table (a concurrent step committed between them), and refuse for the wrong reason.
        frame = read_steps(conn, contract_id)
        current = dict(zip(frame["entry_seq"], frame["status"])) if len(frame) else {}
        steps = frame.to_dict(orient="records")
        by_entry: dict[int, list[dict[str, Any]]] = {}
        for step in steps:
            by_entry.setdefault(step["entry_seq"], []).append(step)
        limit = contract.payments.approving.two_approvers_above
        problems, taken_as = [], {}
        for seq in entries:
            now = current.get(seq, "calculated")
            entry = ledger.get(seq)
            if entry is None:
                problems.append(P("no_entry", seq=seq))
                continue
            wanted = status
            if status == "approved" and now == "calculated" and limit is not None and abs(entry["amount"]) > limit:
                wanted = "attested"
            if wanted not in NEXT[now]:
                allowed = [s for s in NEXT[now] if s != "attested"]  # attesting is what approving does, when due
                problems.append(P("wrong_step", seq=seq, now=now, allowed=allowed, status=status) if NEXT[now]
                                else P("final_step", seq=seq, now=now, status=status))
                continue
            problem = _duty_problem(signer, entry, wanted, by_entry.get(seq, []), limit)
            if problem is None and wanted in ("attested", "approved"):
                flags = codes(evidence.get(seq))
                if flags and not (set(flags) <= set(acknowledged) and note and note.strip()):
                    problem = P("flagged", seq=seq, flags=(evidence[seq] or {}).get("flags", []), codes=flags)
            if problem is not None:
                problems.append(problem)
            taken_as[seq] = wanted
        if len(problems) == 1:
            raise StepRefused(problems[0])
        if problems:
            raise StepRefused(P("several", problems=[p.as_dict() for p in problems]))
        seq_no = steps[-1]["seq"] if steps else 0
        prev = steps[-1]["hash"] if steps else GENESIS
        at = iso_utc(utcnow())
        taken = []
        for entry in entries:
            seq_no += 1
            flags = codes(evidence.get(entry)) if taken_as[entry] in ("attested", "approved") else []
            row = {"contract_id": contract_id, "seq": seq_no, "entry_seq": entry, "status": taken_as[entry],
                   "note": note, "at": at, "by": signer.name, "user_id": signer.user_id,
                   "party": signer.party if taken_as[entry] in PAYER_STEPS else None,
                   "acknowledged": flags or None, "prev_hash": prev}
            row["hash"] = prev = step_hash(row)
            row["mac"] = seal(key, row["hash"])
            taken.append(row)
        conn.execute(sa.insert(LedgerStepRow), taken)
        for status_taken in dict.fromkeys(taken_as.values()):
            record_audit(conn, f"ledger.{status_taken}", contract_id,
                         {"entries": [s for s in entries if taken_as[s] == status_taken], "note": note,
                          **({"user": signer.user_id} if signer.user_id is not None else {}),
                          **({"acknowledged": sorted(set(acknowledged))} if acknowledged else {})}, signer.name)
    return taken


def _duty_problem(signer: Signer, entry: dict[str, Any], wanted: str, history: list[dict[str, Any]],
                  limit: Any) -> Any:
    """Why this signer may not take this step on this entry (a message), or None."""
    if signer.role == "payer" and wanted in PAYER_STEPS and signer.party != entry["payer"]:
        return P("other_party", seq=entry["seq"], payer=entry["payer"], who=signer.name, party=signer.party)
    approvers = {_identity(s): s["by"] for s in history if s["status"] in ("attested", "approved")}
    if wanted == "paid" and signer.identity in approvers:
        return P("same_person", seq=entry["seq"], who=approvers[signer.identity])
    if wanted == "approved" and signer.identity in approvers:
        return P("second_approver", seq=entry["seq"], amount=str(entry["amount"]), limit=str(limit),
                 who=approvers[signer.identity])
    return None
