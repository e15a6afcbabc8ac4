"""The investor status of a contract: each metric against its target, payments received and forecast, returns.

A pure function of stored state (the latest evaluation run, the ledger and its steps), so it is computed
once per state and remembered: the key is the run and the last entry and step of the ledger.  The forecast
(500 simulations) is remembered the same way, for the status and for the municipal schedule page.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from typing import Any, Callable

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from api.privacy import small, suppress_results
from contracts.registry import StoredContract
from evaluation.result import POOLED
from evaluation.run import get_run, run_outcomes
from payments.calculate import check_run
from payments.forecast import Forecast, simulate
from payments.ledger import current_status, read_ledger
from payments.money import ZERO
from payments.returns import investor_returns, payments_by_period
from store.tables import EvaluationRunRow, LedgerEntryRow, LedgerStepRow

_CACHE: "OrderedDict[tuple, Any]" = OrderedDict()
CACHE_SIZE = 64
FORECAST_SIMULATIONS = 500


def state_key(engine: Engine, stored: StoredContract) -> tuple:
    """What the status depends on: the contract version, the latest run, the last ledger entry and step (one query)."""
    cid = stored.id
    query = sa.select(
        sa.select(sa.func.max(EvaluationRunRow.id)).where(EvaluationRunRow.contract_id == cid).scalar_subquery(),
        sa.select(sa.func.max(LedgerEntryRow.seq)).where(LedgerEntryRow.contract_id == cid).scalar_subquery(),
        sa.select(sa.func.max(LedgerStepRow.seq)).where(LedgerStepRow.contract_id == cid).scalar_subquery(),
    )
    with engine.connect() as conn:
        run, entry, step = conn.execute(query).one()
    return (str(engine.url), cid, stored.latest.fingerprint, run, entry, step)


def remembered(key: tuple, make: Callable[[], Any]) -> Any:
    """``make()`` once per key (a state of the store), the least recently used dropped beyond CACHE_SIZE."""
    if key in _CACHE:
        _CACHE.move_to_end(key)
        return _CACHE[key]
    value = make()
    _CACHE[key] = value
    while len(_CACHE) > CACHE_SIZE:
        _CACHE.popitem(last=False)
    return value


def investor_status(engine: Engine, stored: StoredContract) -> dict[str, Any]:
    return json.loads(investor_status_json(engine, stored))


def investor_status_json(engine: Engine, stored: StoredContract) -> bytes:
    """The status as JSON bytes, computed once per state of the store."""
    key = state_key(engine, stored)
    return remembered(key + ("status",), lambda: json.dumps(
        _compute(engine, stored, key), separators=(",", ":"), default=str).encode("utf-8"))


def forecast(engine: Engine, stored: StoredContract, key: tuple | None = None) -> Forecast | None:
    """The payment forecast of the latest run (None without a run, or for a run not fit for payment)."""
    key = key or state_key(engine, stored)

    def make() -> Forecast | None:
        run = get_run(engine, stored.id)
        if run is None:
            return None
        try:
            paid_under = check_run(stored, run)
        except ValueError:
            return None
        return simulate(paid_under, run, run_outcomes(engine, run.id), FORECAST_SIMULATIONS)

    return remembered(key + ("forecast",), make)


def trends(engine: Engine, stored: StoredContract) -> dict[str, list[dict[str, Any]]]:
    """Per metric, the pooled value at each evaluated date (the latest run for the date, never an interim
    view), oldest first; values of groups smaller than the suppression threshold are left out."""
    threshold = stored.latest.terms.suppression_threshold
    with engine.connect() as conn:
        rows = conn.execute(sa.select(EvaluationRunRow.id, EvaluationRunRow.as_of, EvaluationRunRow.results)
                            .where(EvaluationRunRow.contract_id == stored.id,
                                   EvaluationRunRow.include_unverified.is_(False))
                            .order_by(EvaluationRunRow.as_of, EvaluationRunRow.id)).all()
    latest = {row.as_of: row for row in rows}  # the last run of each date wins
    out: dict[str, list[dict[str, Any]]] = {}
    for as_of, row in sorted(latest.items()):
        for r in (row.results or {}).get("results", []):
            if r.get("cohort") != POOLED or r.get("subgroup") is not None or r.get("treated_mean") is None:
                continue
            if small(r.get("n_treated"), threshold):
                continue
            out.setdefault(r["metric"], []).append({"as_of": as_of.isoformat() if hasattr(as_of, "isoformat")
                                                    else str(as_of), "run": row.id, "value": r["treated_mean"]})
    return out


def _compute(engine: Engine, stored: StoredContract, key: tuple) -> dict[str, Any]:
    contract = stored.latest.terms
    run = get_run(engine, stored.id)
    ledger, statuses = read_ledger(engine, stored.id), current_status(engine, stored.id)
    received = sum((e["amount"] for e in ledger.to_dict(orient="records") if statuses.get(e["seq"]) == "paid"), ZERO)
    committed = sum((e["amount"] for e in ledger.to_dict(orient="records") if statuses.get(e["seq"]) != "rejected"), ZERO)
    metrics = []
    predicted = None
    if run is not None:
        shown = suppress_results([r.to_dict() for r in run.results if r.cohort == POOLED and r.subgroup is None],
                                 contract.suppression_threshold)
        by_metric = {r["metric"]: r for r in shown}
        history = trends(engine, stored)
        for metric in contract.metrics:
            r = by_metric.get(metric.id)
            if r is None:
                continue
            target = metric.target
            value = r.get("treated_mean")
            better = metric.direction == "higher_is_better"
            on_track = None if target is None or value is None else (value >= float(target) if better else value <= float(target))
            metrics.append({"metric": metric.id, "name": metric.name, "design": r["design"], "value": value,
                            "target": None if target is None else str(target), "on_track": on_track,
                            "direction": metric.direction,
                            "effect": r.get("estimate") if r.get("is_effect") else None,
                            "ci": [r.get("ci_low"), r.get("ci_high")] if r.get("is_effect") else None,
                            "participants": r.get("n_treated"), "suppressed": bool(r.get("suppressed")),
                            "trend": history.get(metric.id, [])})
        made = forecast(engine, stored, key)
        predicted = made.as_dict() if made is not None else None
    returns = [r.as_dict() for r in investor_returns(contract, payments_by_period(ledger, statuses))]
    return {
        "contract": stored.id, "currency": contract.currency, "evaluation_run": run.id if run else None,
        "as_of": run.as_of.isoformat() if run else None, "metrics": metrics,
        "payments": {"received": str(received), "committed": str(committed),
                     "forecast_total": predicted["total"] if predicted else None,
                     "forecast_irr": predicted["irr"] if predicted else None},
        "returns": returns,
    }


def clear_cache() -> None:
    _CACHE.clear()

