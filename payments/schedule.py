"""The repayment schedule for municipal finance: per period and payer, what is awaiting approval (calculated),
approved, invoiced, paid and rejected, each on its own, beside the forecast; every entry with the basis of its
amount, its due date and the steps taken on it.

The columns never overlap: an amount is in exactly one of calculated, approved, invoiced, paid or rejected,
by its entry's latest step (an entry attested by the first of two approvers is still awaiting approval, so
calculated).  The forecast band (P10-P90) is of all payments the contract is expected to make for the period,
booked or not.

Due dates (the contract rule, docs/payments.md): an entry is due ``payments.schedule.lag_days`` after the
day it was approved (the final approval, when two approvers are needed); it is overdue when it is approved
or invoiced and not paid by then.  An entry not yet approved has no due date.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pandas as pd

from contracts.model import Contract
from contracts.periods import period_of
from payments.forecast import Forecast
from payments.money import ZERO

STATUSES = ("calculated", "approved", "invoiced", "paid", "rejected")
COLUMN_OF = {"calculated": "calculated", "attested": "calculated", "approved": "approved", "invoiced": "invoiced",
             "paid": "paid", "rejected": "rejected"}
COLUMNS = ["period", "payer", *STATUSES, "overdue", "forecast_p10", "forecast_p50", "forecast_p90"]


def all_periods(contract: Contract) -> list[str]:
    """Every schedule period from the term's start to its end plus the payment lag."""
    schedule = contract.payments.schedule
    last = contract.term.end + timedelta(days=schedule.lag_days)
    months = pd.date_range(pd.Timestamp(contract.term.start).replace(day=1), last, freq="MS")
    return list(dict.fromkeys(period_of(month.date(), schedule.frequency) for month in months))


def _day(at: str) -> date:
    return datetime.fromisoformat(at.replace("Z", "+00:00")).date()


def due_dates(contract: Contract, steps: pd.DataFrame | None) -> dict[int, date]:
    """Each approved entry's due date: its approval day plus the schedule's lag."""
    if steps is None or not len(steps):
        return {}
    lag = timedelta(days=contract.payments.schedule.lag_days)
    approved = steps[steps["status"] == "approved"]
    return {int(seq): _day(at) + lag for seq, at in zip(approved["entry_seq"], approved["at"])}


def is_overdue(status: str, due: date | None, today: date) -> bool:
    return due is not None and status in ("approved", "invoiced") and due < today


def schedule(contract: Contract, ledger: pd.DataFrame, statuses: dict[int, str],
             forecast: Forecast | None = None, steps: pd.DataFrame | None = None,
             today: date | None = None) -> list[dict[str, Any]]:
    """One row per period and payer, amounts as Decimal (overdue: approved or invoiced, unpaid past its due
    date); forecast columns as Decimal or None."""
    from contracts.evaluation_only import payments_of

    payments_of(contract)  # an evaluation-only contract has no schedule
    today = today or date.today()
    due = due_dates(contract, steps)
    payers = [p.party for p in contract.payments.payers]
    blank = dict.fromkeys([*STATUSES, "overdue"], ZERO)
    rows = {(period, payer): dict(blank) for period in all_periods(contract) for payer in payers}
    for entry in ledger.to_dict(orient="records"):
        row = rows.setdefault((entry["period"], entry["payer"]), dict(blank))
        status = statuses.get(entry["seq"], "calculated")
        row[COLUMN_OF[status]] += entry["amount"]
        if is_overdue(status, due.get(entry["seq"]), today):
            row["overdue"] += entry["amount"]
    out = []
    shares = {p.party: p.share for p in contract.payments.payers}
    for (period, payer), amounts in sorted(rows.items()):
        band = forecast.by_period.get(period) if forecast else None
        out.append({"period": period, "payer": payer, **amounts, **{
            f"forecast_{k}": (Decimal(v) * shares[payer] if band else None) for k, v in (band or {"p10": 0, "p50": 0, "p90": 0}).items()}})
    return out


def step_trail(steps: pd.DataFrame | None) -> dict[int, list[dict[str, Any]]]:
    """Each entry's steps in order: status, when, who (user and paying party), comment, acknowledged flags."""
    trail: dict[int, list[dict[str, Any]]] = {}
    if steps is None:
        return trail
    for s in steps.to_dict(orient="records"):
        trail.setdefault(int(s["entry_seq"]), []).append({
            "status": s["status"], "at": s["at"], "by": s["by"], "user": s.get("user_id"), "party": s.get("party"),
            "note": s.get("note"), "acknowledged": s.get("acknowledged") or []})
    return trail


def entry_rows(ledger: pd.DataFrame, statuses: dict[int, str], steps: pd.DataFrame | None = None,
               contract: Contract | None = None, today: date | None = None) -> list[dict[str, Any]]:
    """Every ledger entry with the basis of its amount, its due date and steps, flattened for a spreadsheet."""
    today = today or date.today()
    due = due_dates(contract, steps) if contract is not None else {}
    trail = step_trail(steps)
    rows = []
    for e in ledger.to_dict(orient="records"):
        basis = e["basis"] or {}
        status = statuses.get(e["seq"], "calculated")
        rows.append({
            "entry": e["seq"], "period": e["period"], "payer": e["payer"], "mechanism": e["mechanism"],
            "cohort": e["cohort"], "kind": e["kind"], "status": status,
            "amount": e["amount"], "currency": e["currency"], "due_date": due.get(e["seq"]),
            "overdue": is_overdue(status, due.get(e["seq"]), today), "evaluation_run": e["evaluation_run_id"],
            "contract_version": e["contract_version"],
            # a stored message (or, before messages had codes, English text): rendered where it is shown
            "calculation": basis.get("trail") or basis.get("explanation", ""),
            "counts": ", ".join(f"{k} {v}" for k, v in (basis.get("achieved") or {}).items()) if isinstance(
                basis.get("achieved"), dict) else str(basis.get("achieved", basis.get("participants", ""))),
            "prices": ", ".join(f"{k} {v}" for k, v in (basis.get("prices") or {}).items()) or basis.get("price_per_unit", ""),
            "caps_applied": basis.get("caps", []), "owed_to_date": basis.get("owed_to_date", ""),
            "previously_booked": basis.get("previously_booked", ""), "created_at": e["created_at"],
            "created_by": e["created_by"], "steps": trail.get(e["seq"], []), "hash": e["hash"],
        })
    return rows

