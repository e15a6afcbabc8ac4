"""The portfolio overview: every contract a user sees, with what needs their attention, per role.

- intermediary: deliveries waiting for verification, evaluations due (a period ended with no evaluation since,
  or verified data newer than the latest run), warnings in the latest run, entries awaiting approval, open jobs;
- payer (municipal finance): for its own paying party, amounts due by date, approvals waiting with the
  evidence flags of each entry, and what is overdue;
- investor: each contract's payments received and expected, the forecast (P50 with P10–P90) and returns, and
  the returns of the whole portfolio (per currency: realised on what was paid, projected with what is expected).

Built from the same functions as the contract pages, so the overview and the pages cannot disagree."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy.engine import Engine

from api.access import Principal
from contracts.registry import StoredContract, get_contract, list_contracts
from payments.money import ZERO


def visible_contracts(db: Engine, who: Principal) -> list[StoredContract]:
    return [get_contract(db, c["id"]) for c in list_contracts(db) if who.sees(c["id"])]


def portfolio(db: Engine, who: Principal, lang: str = "en", today: date | None = None) -> dict[str, Any]:
    """The overview for ``who``: one row per contract it sees (and, for investors and payers, totals)."""
    today = today or date.today()
    contracts = visible_contracts(db, who)
    if who.role == "intermediary":
        return {"role": who.role, "contracts": [_intermediary(db, s, today) for s in contracts]}
    if who.role == "payer":
        return _payer(db, who, contracts, lang, today)
    if who.role == "investor":
        return _investor(db, contracts, lang)
    return {"role": who.role, "contracts": [_provider(db, s, who.party) for s in contracts]}


def runs_due(contract: Any, runs: list[Any], batches: list[dict[str, Any]], today: date) -> list[dict[str, Any]]:
    """Why an evaluation is due: periods that ended (up to today) with no evaluation of verified data as of
    their end or later, and verified deliveries newer than the latest such evaluation."""
    from contracts.periods import period_end
    from payments.schedule import all_periods

    final = [r for r in runs if not r.include_unverified]
    latest_as_of = max((r.as_of for r in final), default=None)
    reasons: list[dict[str, Any]] = []
    if contract.payments is not None:
        ended = [p for p in all_periods(contract) if period_end(p) <= today and period_end(p) <= contract.term.end]
        missing = [p for p in ended if latest_as_of is None or latest_as_of < period_end(p)]
        if missing:
            reasons.append({"why": "period_ended", "period": missing[-1], "ended": period_end(missing[-1]).isoformat(),
                            "periods": len(missing)})
    last_made = max((_naive(r.created_at) for r in final), default=None)
    newer = [b for b in batches if b["verified_at"] is not None
             and (last_made is None or _naive(b["verified_at"]) > last_made)]
    if newer:
        reasons.append({"why": "new_data", "batches": [b["id"] for b in newer]})
    return reasons


def _naive(moment: Any) -> Any:
    return moment.replace(tzinfo=None) if getattr(moment, "tzinfo", None) else moment


def _intermediary(db: Engine, stored: StoredContract, today: date) -> dict[str, Any]:
    from api.jobs.queue import list_jobs
    from evaluation.run import get_run, list_runs
    from outcomes.batches import list_batches
    from payments.ledger import current_status, read_ledger

    contract = stored.latest.terms
    batches = list_batches(db, stored.id)
    runs = list_runs(db, stored.id)
    latest = get_run(db, stored.id)
    statuses = current_status(db, stored.id)
    ledger = read_ledger(db, stored.id)
    waiting = [(int(seq), amount) for seq, amount in zip(ledger["seq"], ledger["amount"])
               if statuses.get(int(seq), "calculated") in ("calculated", "attested")] if len(ledger) else []
    from evaluation.result import POOLED

    pooled = [r for r in (latest.results if latest else []) if r.cohort == POOLED and r.subgroup is None]
    warnings = list({m: None for r in pooled for m in r.warnings})  # each once, in the order first met
    return {"id": stored.id, "name": contract.name, "currency": contract.currency,
            "unverified": [b["id"] for b in batches if b["verified_at"] is None],
            "latest_run": None if latest is None else {"id": latest.id, "as_of": latest.as_of.isoformat()},
            "runs_due": runs_due(contract, runs, batches, today),
            "warnings": [m.as_dict() if hasattr(m, "as_dict") else m for m in warnings],
            "awaiting_approval": {"entries": len(waiting), "amount": str(sum((a for _, a in waiting), ZERO))},
            "open_jobs": sum(1 for j in list_jobs(db, stored.id, 50) if j.open)}


def _payer(db: Engine, who: Principal, contracts: list[StoredContract], lang: str, today: date) -> dict[str, Any]:
    from api.privacy import run_results, suppress_bases
    from language.names import Names
    from language.words import words
    from payments.evidence import entries_evidence, flag_code
    from payments.ledger import read_ledger, read_steps
    from payments.schedule import entry_rows

    due: list[dict[str, Any]] = []
    waiting: list[dict[str, Any]] = []
    party_name = who.party
    totals: dict[str, dict[str, Decimal]] = {}
    for stored in contracts:
        contract = stored.latest.terms
        if contract.payments is None:
            continue
        names = Names(contract, words(lang, contract.currency))
        if who.party in {p.party for p in contract.payments.payers}:
            party_name = names.party(who.party)
        ledger, steps = read_ledger(db, stored.id), read_steps(db, stored.id)
        statuses = dict(zip(steps["entry_seq"], steps["status"])) if len(steps) else {}
        records = ledger.to_dict(orient="records")
        evidence = entries_evidence(db, contract, records)
        hidden = dict(zip((e["seq"] for e in records), suppress_bases(  # as on the schedule page
            [dict(e, basis=dict(e["basis"] or {}, evidence=evidence.get(e["seq"]))) for e in records],
            contract.suppression_threshold, run_results(db))))
        total = totals.setdefault(contract.currency, {"due": ZERO, "overdue": ZERO, "waiting": ZERO})
        for row in entry_rows(ledger, statuses, steps, contract, today):
            if who.party is not None and row["payer"] != who.party:
                continue
            common = {"contract": stored.id, "contract_name": contract.name, "currency": contract.currency,
                      "entry": row["entry"], "period": row["period"], "payer": row["payer"],
                      "payer_name": names.party(row["payer"]), "amount": str(row["amount"]), "status": row["status"]}
            if row["status"] in ("approved", "invoiced"):
                due.append(dict(common, due_date=row["due_date"].isoformat() if row["due_date"] else None,
                                overdue=bool(row["overdue"])))
                total["due"] += row["amount"]
                total["overdue"] += row["amount"] if row["overdue"] else ZERO
            elif row["status"] in ("calculated", "attested"):
                proof = (hidden.get(row["entry"]) or {}).get("evidence") or {}
                waiting.append(dict(common, flags=[{"code": flag_code(f), "text": names.message(f)}
                                                   for f in proof.get("flags", [])]))
                total["waiting"] += row["amount"]
    due.sort(key=lambda r: (r["due_date"] or "9999", r["payer"], r["contract"]))
    return {"role": "payer", "party": who.party, "party_name": party_name, "due": due, "waiting": waiting,
            "totals": {c: {**{k: str(v) for k, v in t.items()}, "any_overdue": t["overdue"] > ZERO}
                       for c, t in sorted(totals.items())}}


def _investor(db: Engine, contracts: list[StoredContract], lang: str) -> dict[str, Any]:
    from api.status import investor_status
    from payments.ledger import current_status, read_ledger
    from payments.returns import PROJECTED, RECEIVED, payments_by_period, portfolio_returns

    rows = []
    pooled: dict[str, dict[str, list]] = {}
    for stored in contracts:
        contract = stored.latest.terms
        status = investor_status(db, stored, lang)
        fc = status["forecast"]
        together = {b: next((r for r in status["returns"][b] if r["investor"] == "all"), None)
                    for b in ("realised", "projected")}
        rows.append({"id": stored.id, "name": contract.name, "currency": contract.currency,
                     "received": status["payments"]["received"], "expected": status["payments"]["expected"],
                     "forecast": None if fc is None else {"p10": fc["total"]["p10"], "p50": fc["total"]["p50"],
                                                          "p90": fc["total"]["p90"], "irr_p50": fc["irr"]["p50"]},
                     "returns": together})
        if contract.investment is not None and contract.payments is not None:
            ledger, statuses = read_ledger(db, stored.id), current_status(db, stored.id)
            mine = pooled.setdefault(contract.currency, {"realised": [], "projected": []})
            mine["realised"].append((contract, payments_by_period(ledger, statuses, RECEIVED)))
            mine["projected"].append((contract, payments_by_period(ledger, statuses, PROJECTED)))
    totals = {}
    for currency, parts in sorted(pooled.items()):
        totals[currency] = {b: (r.as_dict() if (r := portfolio_returns(parts[b])) else None)
                            for b in ("realised", "projected")}
    return {"role": "investor", "contracts": rows, "portfolio": totals}


def _provider(db: Engine, stored: StoredContract, provider: str | None) -> dict[str, Any]:
    """A provider's own: deliveries waiting for verification, refused deliveries, participants, attributed pay."""
    from api.providers import provider_view
    from outcomes.batches import list_batches
    from store.db import audit_events

    mine = list_batches(db, stored.id, provider) if provider else []
    refused = [e for e in audit_events(db, stored.id, "ingest.refused") if (e.detail or {}).get("provider") == provider]
    view = provider_view(db, stored, provider) if provider else {"outcomes": [], "totals": {}}
    return {"id": stored.id, "name": stored.latest.terms.name, "currency": stored.latest.terms.currency,
            "delivered": len(mine), "unverified": [b["id"] for b in mine if b["verified_at"] is None],
            "refused": len(refused), "participants": max((o["participants"] for o in view["outcomes"]), default=0),
            "attributed": str(view["totals"].get(provider, ZERO))}
