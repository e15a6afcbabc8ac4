"""The investor status of a contract: each metric against its target, payments received and forecast, returns.

A pure function of stored state (the latest evaluation run, the ledger and its steps), so it is computed
once per state and remembered: the key is the run and the last entry and step of the ledger.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from api.privacy import suppress_results
from contracts.registry import StoredContract
from evaluation.result import POOLED
from evaluation.run import get_run, run_outcomes
from payments.calculate import check_run
from payments.forecast import simulate
from payments.ledger import current_status, read_ledger
from payments.money import ZERO
from payments.returns import investor_returns, payments_by_period
from store.tables import EvaluationRunRow, LedgerEntryRow, LedgerStepRow

_CACHE: "OrderedDict[tuple, bytes]" = OrderedDict()
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


def investor_status(engine: Engine, stored: StoredContract) -> dict[str, Any]:
    return json.loads(investor_status_json(engine, stored))


def investor_status_json(engine: Engine, stored: StoredContract) -> bytes:
    """The status as JSON bytes, computed once per state of the store."""
    key = state_key(engine, stored)
    if key in _CACHE:
        _CACHE.move_to_end(key)
        return _CACHE[key]
    encoded = json.dumps(_compute(engine, stored), separators=(",", ":"), default=str).encode("utf-8")
    _CACHE[key] = encoded
    while len(_CACHE) > CACHE_SIZE:
        _CACHE.popitem(last=False)
    return encoded


def _compute(engine: Engine, stored: StoredContract) -> dict[str, Any]:
    contract = stored.latest.terms
    run = get_run(engine, stored.id)
    ledger, statuses = read_ledger(engine, stored.id), current_status(engine, stored.id)
    received = sum((e["amount"] for e in ledger.to_dict(orient="records") if statuses.get(e["seq"]) == "paid"), ZERO)
    committed = sum((e["amount"] for e in ledger.to_dict(orient="records") if statuses.get(e["seq"]) != "rejected"), ZERO)
    metrics = []
    forecast = None
    if run is not None:
        shown = suppress_results([r.to_dict() for r in run.results if r.cohort == POOLED and r.subgroup is None],
                                 contract.suppression_threshold)
        by_metric = {r["metric"]: r for r in shown}
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
                            "effect": r.get("estimate") if r.get("is_effect") else None,
                            "ci": [r.get("ci_low"), r.get("ci_high")] if r.get("is_effect") else None,
                            "participants": r.get("n_treated"), "suppressed": bool(r.get("suppressed"))})
        try:
            paid_under = check_run(stored, run)
            forecast = simulate(paid_under, run, run_outcomes(engine, run.id), FORECAST_SIMULATIONS).as_dict()
        except ValueError:
            forecast = None
    returns = [r.as_dict() for r in investor_returns(contract, payments_by_period(ledger, statuses))]
    return {
        "contract": stored.id, "currency": contract.currency, "evaluation_run": run.id if run else None,
        "as_of": run.as_of.isoformat() if run else None, "metrics": metrics,
        "payments": {"received": str(received), "committed": str(committed),
                     "forecast_total": forecast["total"] if forecast else None,
                     "forecast_irr": forecast["irr"] if forecast else None},
        "returns": returns,
    }


def clear_cache() -> None:
    _CACHE.clear()

