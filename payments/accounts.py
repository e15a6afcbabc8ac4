"""The outcome payer's annual accounts: what the contract obliges each payer to at a balance date.

Classified as the Swedish municipal accounting council's recommendation RKR R9 *Avsättningar och
ansvarsförbindelser* asks (the rule, its sources and the engine's reading of them are in
docs/payments.md, "The payer's annual accounts"):

- **liability** (skuld): entries approved or invoiced by the balance date and not paid by then;
- **paid**: entries paid by then (for reference; no longer an obligation);
- **provision** (avsättning): entries calculated by then but neither approved nor rejected, plus, when the
  forecast makes a further payment more likely than not, the forecast's estimate of the payer's payments
  less everything booked for the payer (rounded half-up to the minor unit);
- **contingent liability** (ansvarsförbindelse): the rest up to the contract's caps, never below zero; with
  no cap that bounds a payer there is no figure (``None``): the obligation is unbounded.

Everything is as at the balance date: only entries created on or before it count, and an entry's status is
the latest step taken on or before it (the day ends at 24:00 UTC, as the ledger's timestamps are UTC).
Amounts are exact Decimals; the one rounding is of a figure taken from the forecast.  Pure: the caller reads
the ledger (``payments.ledger.read_ledger``, ``read_steps``) and the forecast.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from decimal import Decimal
from typing import Any

import pandas as pd

from contracts.model import Contract, RateCard
from payments.messages import TEXTS as P
from payments.money import ZERO, round_money

LIABLE = ("approved", "invoiced")  # an approved amount is a settled obligation: a liability until paid
PROBABLE_ABOVE = Decimal("0.5")  # "more likely than not"


@dataclass(frozen=True)
class Figure:
    """One amount with its basis: which entries, forecast figures or caps, and an explanation (messages)."""

    amount: Decimal | None  # None: no figure can be given (a contingent liability without a cap)
    basis: dict[str, Any]

    def as_dict(self) -> dict[str, Any]:
        return {"amount": None if self.amount is None else str(self.amount), "basis": self.basis}


@dataclass(frozen=True)
class PayerAccounts:
    payer: str  # a party id; "total" for the sum over payers
    share: Decimal | None
    paid: Figure
    liability: Figure
    provision: Figure
    contingent_liability: Figure

    def as_dict(self) -> dict[str, Any]:
        return {"payer": self.payer, "share": None if self.share is None else str(self.share),
                "paid": self.paid.as_dict(), "liability": self.liability.as_dict(),
                "provision": self.provision.as_dict(), "contingent_liability": self.contingent_liability.as_dict()}


@dataclass(frozen=True)
class Accounts:
    contract_id: str
    currency: str
    balance_date: date
    payers: list[PayerAccounts]
    total: PayerAccounts
    notes: list[dict[str, Any]]  # stored messages (``payments.messages``)
    left_out: dict[str, Any] = field(default_factory=dict)  # entries and steps after the date, rejected entries

    def as_dict(self) -> dict[str, Any]:
        return {"contract": self.contract_id, "currency": self.currency, "balance_date": self.balance_date.isoformat(),
                "payers": [p.as_dict() for p in self.payers], "total": self.total.as_dict(), "notes": self.notes,
                "left_out": self.left_out}


def _day(value: Any) -> date:
    """The UTC calendar day of a stored timestamp (ISO 8601 text as the ledger writes it, or a datetime)."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=timezone.utc)).astimezone(timezone.utc).date()
    if isinstance(value, date):
        return value
    raise TypeError(f"not a timestamp: {value!r}")


def _get(obj: Any, name: str) -> Any:
    """A forecast's field, whether the forecast is the dataclass or its dict; None if it has no such field."""
    if obj is None:
        return None
    return obj.get(name) if isinstance(obj, dict) else getattr(obj, name, None)


def _ids(seqs: list[int]) -> list[str]:
    """Entry numbers for a message: written as they are, never grouped like a count."""
    return [str(s) for s in seqs]


def _dec(value: Any) -> Decimal | None:
    return None if value is None or value == "" else Decimal(str(value))


def statuses_at(steps_rows: pd.DataFrame, balance_date: date) -> tuple[dict[int, str], int]:
    """Each entry's status at the balance date (its latest step by then) and how many later steps were left out."""
    status: dict[int, str] = {}
    later = 0
    if steps_rows is None or not len(steps_rows):
        return status, later
    for step in sorted(steps_rows.to_dict(orient="records"), key=lambda s: s["seq"]):
        if _day(step["at"]) > balance_date:
            later += 1
            continue
        status[int(step["entry_seq"])] = step["status"]
    return status, later


# -- caps ----------------------------------------------------------------------------------------------------------


def _mechanism_bound(mech: Any, contract: Contract) -> Decimal | None:
    """The most a mechanism can pay over the contract: its cap, or a rate card's cap per cohort × cohorts."""
    if mech.cap is not None:
        return mech.cap
    if isinstance(mech, RateCard) and mech.cap_per_cohort is not None:
        return mech.cap_per_cohort * len(contract.cohorts)
    return None


def contract_bound(contract: Contract) -> tuple[Decimal | None, str | None]:
    """The most the contract can pay in all, and where that bound comes from ("total" or "mechanisms")."""
    candidates: list[tuple[Decimal, str]] = []
    if contract.payments.caps.total is not None:
        candidates.append((contract.payments.caps.total, "total"))
    bounds = [_mechanism_bound(m, contract) for m in contract.payments.mechanisms]
    if bounds and all(b is not None for b in bounds):
        candidates.append((sum(bounds, ZERO), "mechanisms"))
    if not candidates:
        return None, None
    return min(candidates, key=lambda c: (c[0], c[1] != "total"))


def payer_bound(contract: Contract, payer: str, share: Decimal | None) -> tuple[Decimal | None, dict[str, Any] | None]:
    """The most the contract can require of one payer, and the message that says why.

    The lower of the payer's own cap and its fixed share of the contract's bound (exact: share × bound).
    """
    candidates: list[tuple[Decimal, dict[str, Any]]] = []
    own = contract.payments.caps.per_payer.get(payer)
    if own is not None:
        candidates.append((own, P("accounts_cap_payer", payer=payer, cap=str(own)).as_dict()))
    bound, source = contract_bound(contract)
    if bound is not None and share is not None:
        part = bound * share
        part = round_money(part, contract.currency) if round_money(part, contract.currency) == part else part
        code = "accounts_cap_share_total" if source == "total" else "accounts_cap_share_mechanisms"
        candidates.append((part, P(code, share=str(share), cap=str(bound)).as_dict()))
    if not candidates:
        return None, None
    return min(candidates, key=lambda c: c[0])


# -- the forecast --------------------------------------------------------------------------------------------------


def _forecast_estimate(forecast: Any, payer: str, share: Decimal | None, contract: Contract
                       ) -> tuple[Decimal | None, str, Decimal | None]:
    """The forecast's estimate of everything the payer will pay under the contract, which estimate it is, and
    the payer's P50.

    The payer's expected value where the forecast gives one; else its share of the expected total (only for a
    payer without a cap of its own, which the share would ignore); else the payer's P50.
    """
    band = (_get(forecast, "by_payer") or {}).get(payer) or {}
    p50 = _dec(band.get("p50"))
    per_payer = _get(forecast, "expected_by_payer") or _get(forecast, "by_payer_expected") or {}
    expected = _dec(per_payer.get(payer) if isinstance(per_payer, dict) else None)
    if expected is None:
        expected = _dec(band.get("expected") or band.get("mean"))
    if expected is not None:
        return expected, "expected", p50
    total = _dec(_get(forecast, "expected_total"))
    if total is not None and share is not None and payer not in contract.payments.caps.per_payer:
        return round_money(total * share, contract.currency), "expected_share", p50
    return p50, "p50", p50


def _forecast_part(forecast: Any, forecast_run: dict[str, Any] | None, payer: str, share: Decimal | None,
                   booked: Decimal, contract: Contract, balance_date: date
                   ) -> tuple[Decimal, dict[str, Any], dict[str, Any]]:
    """The provision the forecast adds for one payer: (amount, basis, explanation).

    Only a forecast from an evaluation run as of the balance date or earlier is used: a later run counts
    participants enrolled after the balance date, whose payments arise from no event before it.  A further
    payment is probable when the probability of any payment is above one half and the payer's P50 is above
    what is booked for it (then, by the nearest-rank P50, more than half of the simulations pay more than is
    booked).  The amount is the estimate less what is booked, rounded half-up; never below zero.
    """
    run = (forecast_run or {}).get("evaluation_run", _get(forecast, "evaluation_run"))
    run_as_of = (forecast_run or {}).get("as_of")
    if forecast is None:
        return ZERO, {"used": False}, P("accounts_no_forecast").as_dict()
    if run_as_of is not None and str(run_as_of) > balance_date.isoformat():
        return ZERO, {"used": False, "evaluation_run": run, "as_of": str(run_as_of)}, P(
            "accounts_forecast_after", run=run, as_of=str(run_as_of), day=balance_date.isoformat()).as_dict()
    estimate, kind, p50 = _forecast_estimate(forecast, payer, share, contract)
    probability = _dec(_get(forecast, "probability_of_any_payment")) or ZERO
    band = (_get(forecast, "by_payer") or {}).get(payer) or {}
    basis: dict[str, Any] = {
        "used": False, "evaluation_run": run, "as_of": run_as_of, "estimate": kind,
        "estimate_amount": None if estimate is None else str(estimate),
        "expected_total": _get(forecast, "expected_total"),
        "p10": band.get("p10"), "p50": band.get("p50"), "p90": band.get("p90"),
        "probability_of_any_payment": str(probability), "booked": str(booked), "further": "0",
    }
    kind_message = P(f"accounts_estimate_{kind}",
                     **({"share": str(share)} if kind == "expected_share" else {})).as_dict()
    if estimate is None or p50 is None:
        return ZERO, basis, P("accounts_no_forecast").as_dict()
    probable = probability > PROBABLE_ABOVE and p50 > booked
    basis["probable"] = probable
    if not probable:
        return ZERO, basis, P("accounts_forecast_improbable", p50=str(p50), booked=str(booked),
                              probability=str(probability)).as_dict()
    further = round_money(estimate - booked, contract.currency)
    if further <= 0:
        return ZERO, basis, P("accounts_forecast_nothing_more", estimate=kind_message, amount=str(estimate),
                              booked=str(booked)).as_dict()
    basis.update(used=True, further=str(further))
    return further, basis, P("accounts_forecast_added", estimate=kind_message, amount=str(estimate),
                             booked=str(booked), further=str(further), p50=str(p50),
                             probability=str(probability)).as_dict()


# -- the classification --------------------------------------------------------------------------------------------


def classify(contract: Contract, ledger_rows: pd.DataFrame, steps_rows: pd.DataFrame, balance_date: date,
             forecast: Any = None, forecast_run: dict[str, Any] | None = None) -> Accounts:
    """Each payer's obligations under ``contract`` at ``balance_date``, and their sum.

    ``ledger_rows`` and ``steps_rows`` are as ``payments.ledger.read_ledger`` and ``read_steps`` give them;
    ``forecast`` a ``payments.forecast.Forecast`` (or None: no evaluation to forecast from), and
    ``forecast_run`` optionally ``{"evaluation_run": id, "as_of": "YYYY-MM-DD"}`` for the basis.
    """
    day = balance_date.isoformat()
    currency = contract.currency
    status, later_steps = statuses_at(steps_rows, balance_date)
    shares = {p.party: p.share for p in contract.payments.payers}
    entries = ledger_rows.to_dict(orient="records") if ledger_rows is not None and len(ledger_rows) else []
    counted = [e for e in entries if _day(e["created_at"]) <= balance_date]
    later = sorted(int(e["seq"]) for e in entries if _day(e["created_at"]) > balance_date)
    payers = list(shares) + sorted({e["payer"] for e in counted} - set(shares))
    groups: dict[str, dict[str, list[dict[str, Any]]]] = {
        p: {"paid": [], "liability": [], "calculated": [], "rejected": []} for p in payers}
    for e in sorted(counted, key=lambda e: e["seq"]):
        now = status.get(int(e["seq"]), "calculated")
        kind = ("paid" if now == "paid" else "liability" if now in LIABLE else "rejected" if now == "rejected"
                else "calculated")  # calculated, or a step short of approval (attested by one of two)
        groups[e["payer"]][kind].append(e)

    def booked(rows: list[dict[str, Any]]) -> tuple[Decimal, list[int]]:
        return sum((Decimal(r["amount"]) for r in rows), ZERO), [int(r["seq"]) for r in rows]

    result: list[PayerAccounts] = []
    for payer in payers:
        share = shares.get(payer)
        g = groups[payer]
        paid, paid_seqs = booked(g["paid"])
        liability, liability_seqs = booked(g["liability"])
        calculated, calculated_seqs = booked(g["calculated"])
        paid_fig = Figure(paid, {"entries": paid_seqs, "explanation": [
            P("accounts_paid" if paid_seqs else "accounts_paid_none", day=day, entries=_ids(paid_seqs)).as_dict()]})
        liability_fig = Figure(liability, {"entries": liability_seqs, "explanation": [
            P("accounts_liability" if liability_seqs else "accounts_liability_none", day=day,
              entries=_ids(liability_seqs)).as_dict()]})
        total_booked = paid + liability + calculated
        further, forecast_basis, forecast_message = _forecast_part(forecast, forecast_run, payer, share, total_booked,
                                                                   contract, balance_date)
        provision = calculated + further
        provision_fig = Figure(provision, {
            "entries": calculated_seqs, "calculated": str(calculated), "forecast": forecast_basis,
            "explanation": [P("accounts_calculated" if calculated_seqs else "accounts_calculated_none", day=day,
                              entries=_ids(calculated_seqs), amount=str(calculated)).as_dict(), forecast_message]})
        bound, source = payer_bound(contract, payer, share)
        if bound is None:
            contingent = Figure(None, {"cap": None, "explanation": [P("accounts_no_cap", payer=payer).as_dict()]})
        else:
            rest = bound - paid - liability - provision
            amount = max(rest, ZERO)
            contingent = Figure(amount, {"cap": str(bound), "cap_source": source, "explanation": [P(
                "accounts_contingent" if rest >= 0 else "accounts_contingent_none", cap=str(bound), source=source,
                paid=str(paid), liability=str(liability), provision=str(provision), rest=str(amount)).as_dict()]})
        result.append(PayerAccounts(payer, share, paid_fig, liability_fig, provision_fig, contingent))

    total = _total(result)
    notes = []
    if balance_date < contract.term.start:
        notes.append(P("accounts_before_term", day=day, start=contract.term.start.isoformat()).as_dict())
    if later:
        notes.append(P("accounts_later_entries", day=day, entries=_ids(later)).as_dict())
    if later_steps:
        notes.append(P("accounts_later_steps", day=day, n=later_steps).as_dict())
    notes.append(P("accounts_nominal").as_dict())
    rejected = sorted(int(e["seq"]) for g in groups.values() for e in g["rejected"])
    return Accounts(contract.id, currency, balance_date, result, total, notes,
                    {"entries_created_after": later, "steps_taken_after": later_steps, "rejected": rejected})


def _total(payers: list[PayerAccounts]) -> PayerAccounts:
    """The sum over payers; a total contingent liability only if every payer's is bounded."""

    def summed(name: str) -> Figure:
        figures = [getattr(p, name) for p in payers]
        entries = sorted(s for f in figures for s in f.basis.get("entries", []))
        message = P("accounts_sum").as_dict()
        if any(f.amount is None for f in figures):
            return Figure(None, {"explanation": [P("accounts_total_no_cap").as_dict()]})
        amount = sum((f.amount for f in figures if f.amount is not None), ZERO)
        return Figure(amount, {**({"entries": entries} if name != "contingent_liability" else {}),
                               "explanation": [message]})

    return PayerAccounts("total", None, summed("paid"), summed("liability"), summed("provision"),
                         summed("contingent_liability"))
