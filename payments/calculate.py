"""From an evaluation run to ledger entries: caps, the one rounding, the payer split, timing.

The order is fixed and documented in docs/payments.md:

1. each mechanism's lines (cumulative amount owed to date per cohort), with
   per-participant and per-cohort caps applied inside the mechanism;
2. the mechanism's own cap, across its lines in contract order;
3. the contract's total cap, across all lines in contract order;
4. rounding, once, half-up to the minor unit, per line;
5. the split across payers by their shares (largest remainder);
6. each payer's cap, across that payer's lines in contract order;
7. entries: what is owed to date minus what the ledger already holds for the
   same mechanism, cohort and payer.  Nothing owed beyond that, nothing new.

Entries fall in the schedule period that contains the run's as-of date plus
the contract's payment lag.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from language import MessageError

from contracts.evaluation_only import payments_of
from contracts.model import Contract
from contracts.periods import period_of
from contracts.registry import StoredContract
from evaluation.run import EvaluationRun
from payments.evidence import evidence
from payments.ledger import GENESIS, current_status, entry_hash, read_ledger
from payments.mechanisms import Evidence, Line, lines_for
from payments.messages import TEXTS as P
from payments.money import ZERO, PaymentError, round_money, split  # PaymentError: defined with AmountTooLarge
from store.db import actor, record_audit, retrying
from store.seal import required_key, seal
from store.tables import LedgerEntryRow
from store.types import iso_utc, utcnow


class ConcurrentCalculation(MessageError):
    """Another calculation kept writing at the same moment."""


def payable_period(contract: Contract, as_of: date) -> str:
    schedule = contract.payments.schedule
    return period_of(as_of + timedelta(days=schedule.lag_days), schedule.frequency)


def _cap(lines: list[Line], cap: Decimal | None, label: str, of: str | None = None) -> None:
    """Reduce lines in order so that together they stay within ``cap``; record the reduction in the basis."""
    if cap is None:
        return
    room = cap
    for line in lines:
        allowed = min(line.amount, max(room, ZERO))
        if allowed < line.amount:
            line.basis.setdefault("caps", []).append({"cap": label, **({"of": of} if of else {}), "limit": str(cap),
                                                      "reduced_by": str(line.amount - allowed)})
            line.amount = allowed
        room -= allowed


@dataclass(frozen=True)
class Owed:
    mechanism: str
    cohort: str
    payer: str
    amount: Decimal  # rounded, cumulative to date
    basis: dict[str, Any]


def owed_to_date(contract: Contract, run: EvaluationRun, outcomes: pd.DataFrame) -> list[Owed]:
    """Steps 1-6: what each payer owes to date for each mechanism and cohort.

    ``outcomes`` are the run's per-participant outcomes (``evaluation.run.run_outcomes``).
    """
    lines = lines_for(contract, Evidence(run.result, outcomes))
    for mech in contract.payments.mechanisms:
        _cap([line for line in lines if line.mechanism == mech.id], mech.cap, "mechanism", mech.id)
    _cap(lines, contract.payments.caps.total, "contract_total")
    payers = contract.payments.payers
    owed: list[Owed] = []
    for line in lines:
        total = round_money(line.amount, contract.currency)
        parts = split(total, [p.share for p in payers], contract.currency)
        for payer, part in zip(payers, parts):
            basis = dict(line.basis, line_amount=str(total), payer_share=str(payer.share), evaluation_run=run.id)
            owed.append(Owed(line.mechanism, line.cohort, payer.party, part, basis))
    for payer, cap in contract.payments.caps.per_payer.items():
        room = cap
        for i, o in enumerate(owed):
            if o.payer != payer:
                continue
            allowed = min(o.amount, max(room, ZERO))
            if allowed < o.amount:
                basis = dict(o.basis)
                basis["caps"] = [*basis.get("caps", []), {"cap": "payer", "of": payer, "limit": str(cap),
                                                          "reduced_by": str(o.amount - allowed)}]
                owed[i] = Owed(o.mechanism, o.cohort, o.payer, allowed, basis)
            room -= allowed
    return owed


def check_run(stored: StoredContract, run: EvaluationRun) -> Contract:
    """The contract version a run may be paid under; refuse a run of another contract or an outdated version."""
    if run.contract_id != stored.id:
        raise PaymentError(P("run_other_contract", run=run.id, of=run.contract_id, contract=stored.id))
    in_effect = stored.as_of(run.as_of)
    if in_effect.version != run.contract_version:
        raise PaymentError(P("run_outdated", run=run.id, used=run.contract_version, current=in_effect.version,
                             reason=in_effect.reason, as_of=run.as_of.isoformat()))
    if run.include_unverified:
        raise PaymentError(P("run_interim", run=run.id))
    payments_of(in_effect.terms)  # an evaluation-only contract: one clear error, nothing to pay
    return in_effect.terms


def calculate(engine: Engine, stored: StoredContract, run: EvaluationRun, *, actor_name: str | None = None) -> list[dict[str, Any]]:
    """Step 7: append entries for what is owed beyond what the ledger holds; return the new entries.

    What the ledger holds excludes rejected entries, but an amount rejected from this very run is not
    offered again: only a new evaluation (after corrected data) reopens it.
    """
    from evaluation.run import run_outcomes

    contract = check_run(stored, run)
    key = required_key()
    owed = owed_to_date(contract, run, run_outcomes(engine, run.id))
    period = payable_period(contract, run.as_of)
    who = actor_name or actor()
    try:
        return retrying(lambda: _append(engine, stored, run, contract, owed, period, who, key))
    except IntegrityError:
        raise ConcurrentCalculation(P("concurrent", contract=stored.id)) from None


def _settlement(stored: StoredContract, run: EvaluationRun) -> dict[str, Any] | None:
    """The retroactive amendment a run's version settles, if it is one (``retroactive: true``)."""
    version = next((v for v in stored.versions if v.version == run.contract_version), None)
    if version is None or not version.retroactive:
        return None
    return P("retroactive_settlement", version=version.version, reason=version.reason,
             effective=version.effective.isoformat()).as_dict()


def _append(engine: Engine, stored: StoredContract, run: EvaluationRun, contract: Contract, owed: list[Owed],
            period: str, who: str, sealing: bytes) -> list[dict[str, Any]]:
    with engine.begin() as conn:
        ledger = read_ledger(conn, stored.id)
        status = current_status(conn, stored.id)
        booked: dict[tuple[str, str, str], Decimal] = {}
        rejected_here: set[tuple[str, str, str]] = set()
        for entry in ledger.itertuples():
            key = (entry.mechanism, entry.cohort, entry.payer)
            if status.get(entry.seq) == "rejected":
                if entry.evaluation_run_id == run.id:
                    rejected_here.add(key)
                continue
            booked[key] = booked.get(key, ZERO) + entry.amount
        seq = int(ledger["seq"].max()) if len(ledger) else 0
        prev = ledger["hash"].iloc[-1] if len(ledger) else GENESIS
        created_at = iso_utc(utcnow())
        settles = _settlement(stored, run)
        proofs: dict[tuple[str, str | None], dict[str, Any]] = {}
        new_entries = []
        for o in owed:
            key = (o.mechanism, o.cohort, o.payer)
            already = booked.get(key, ZERO)
            delta = o.amount - already
            if delta == 0 or key in rejected_here:
                continue
            seq += 1
            if (o.mechanism, o.cohort) not in proofs:
                proofs[(o.mechanism, o.cohort)] = evidence(contract, run.results, run.id, o.mechanism, o.cohort)
            basis = dict(o.basis, owed_to_date=str(o.amount), previously_booked=str(already),
                         evidence=proofs[(o.mechanism, o.cohort)])
            if settles is not None and already != 0:
                basis["settlement"] = settles
            entry = {
                "contract_id": stored.id, "seq": seq, "period": period, "mechanism": o.mechanism,
                "payer": o.payer, "cohort": o.cohort, "kind": "calculation" if already == 0 else "adjustment",
                "amount": delta, "currency": contract.currency, "evaluation_run_id": run.id,
                "contract_version": run.contract_version,
                "basis": basis, "created_at": created_at, "created_by": who, "prev_hash": prev,
            }
            entry["hash"] = prev = entry_hash(entry)
            entry["mac"] = seal(sealing, entry["hash"])
            new_entries.append(entry)
        if new_entries:
            conn.execute(sa.insert(LedgerEntryRow), new_entries)
            record_audit(conn, "payments.calculate", stored.id,
                         {"run": run.id, "entries": [e["seq"] for e in new_entries]}, who)
    return new_entries
