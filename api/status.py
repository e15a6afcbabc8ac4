"""The investor status of a contract: each metric against its target, where the money is (received,
expected, each status), the forecast, and returns (realised and projected).

A pure function of stored state (the latest evaluation run, the ledger and its steps), so it is computed
once per state and remembered: the key is the run and the last entry and step of the ledger.  The forecast
(``payments.forecast.contract_forecast``, the one function the CLI calls too, with the same defaults: 1000
simulations, seed 20240601) is remembered the same way, per number of simulations and seed, for the status
and for the municipal schedule page.

Words for where money is, never merged: **received** is what was paid; **expected** is what is calculated,
approved or invoiced and not yet paid; rejected entries count in neither, nor in the forecast.  Returns are
**realised** (on what was received) and **projected** (on what was received and what is expected).
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from decimal import Decimal
from typing import Any, Callable

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from api.admission import ContractState, state_columns
from api.privacy import small, suppress_results
from contracts.registry import StoredContract
from evaluation.result import POOLED
from evaluation.run import get_run
from language.words import words
from payments.forecast import SEED, SIMULATIONS, Forecast, contract_forecast
from payments.ledger import current_status, read_ledger
from payments.money import ZERO, quantum
from payments.returns import EXPECTED, PROJECTED, RECEIVED, amounts_by_status, investor_returns, payments_by_period
from store.tables import EvaluationRunRow

_CACHE: "OrderedDict[tuple, Any]" = OrderedDict()
_LOCK = threading.Lock()
_MAKING: dict[tuple, threading.Event] = {}  # the keys being made, each with what its waiters wait on
_Flight = threading.Event
CACHE_SIZE = 64


def state_key(engine: Engine, stored: StoredContract, state: ContractState | None = None) -> tuple:
    """What the status depends on: the contract version, the latest run, the last ledger entry and step; read in
    one query, or taken from ``state`` when the request has just read them with its token (``api.admission``)."""
    if state is None:
        with engine.connect() as conn:
            run, entry, step = conn.execute(sa.select(*state_columns(stored.id))).one()
    else:
        run, entry, step = state.run, state.entry, state.step
    return (str(engine.url), stored.id, stored.latest.fingerprint, run, entry, step)


def remembered(key: tuple, make: Callable[[], Any]) -> Any:
    """``make()`` once per key (a state of the store), the least recently used dropped beyond CACHE_SIZE.  The
    cache is read from the event loop and from the server's threads, so it is changed under a lock; ``make`` runs
    outside it, once: requests that arrive while it runs wait for its value instead of each making it again (the
    first requests after a write would otherwise each compute the forecast, sharing one interpreter)."""
    while True:
        with _LOCK:
            if key in _CACHE:
                _CACHE.move_to_end(key)
                return _CACHE[key]
            making = _MAKING.get(key)
            if making is None:
                making = _MAKING[key] = _Flight()
                break
        making.wait()  # made by another request: its value is in the cache (or, if it failed, make it here)
    try:
        value = make()
        with _LOCK:
            _CACHE[key] = value
            while len(_CACHE) > CACHE_SIZE:
                _CACHE.popitem(last=False)
    finally:
        with _LOCK:
            del _MAKING[key]
        making.set()
    return value


def written(key: tuple, lang: str = "en") -> bytes | None:
    """The status's JSON bytes already written for this state of the store and language, or None: never computes,
    so a request may ask from the event loop."""
    with _LOCK:
        found = _CACHE.get(key + ("status-json", lang))
        if found is not None:
            _CACHE.move_to_end(key + ("status-json", lang))
        return found


def investor_status(engine: Engine, stored: StoredContract, lang: str = "en") -> dict[str, Any]:
    return json.loads(investor_status_json(engine, stored, lang))


def investor_status_json(engine: Engine, stored: StoredContract, lang: str = "en", key: tuple | None = None) -> bytes:
    """The status as JSON bytes, computed once per state of the store (``key``, read here if not given) and written
    once per language: the forecast's notes carry their text in the reader's language."""
    key = key or state_key(engine, stored)

    def write() -> bytes:
        data = remembered(key + ("status",), lambda: _compute(engine, stored, key))
        if data["forecast"] is not None:
            said = words(lang)
            data = dict(data, forecast=dict(data["forecast"],
                                            notes=[said.explained(n) for n in data["forecast"]["notes"]]))
        return json.dumps(data, separators=(",", ":"), default=str).encode("utf-8")

    return remembered(key + ("status-json", lang), write)


def forecast(engine: Engine, stored: StoredContract, key: tuple | None = None, simulations: int = SIMULATIONS,
             seed: int = SEED) -> Forecast | None:
    """``payments.forecast.contract_forecast``, remembered per state of the store, simulations and seed (None
    without a run, or for a run not fit for payment)."""
    key = key or state_key(engine, stored)

    def make() -> Forecast | None:
        try:
            return contract_forecast(engine, stored, simulations, seed)
        except ValueError:  # a run that may not be paid (an interim view, an outdated version): no forecast
            return None

    return remembered(key + ("forecast", simulations, seed), make)


def trend_point(as_of: Any, run: int, shown: dict[str, Any], raw: dict[str, Any] | None = None) -> dict[str, Any]:
    """One run's pooled result of a metric as a point of its trend: the value (the cohort mean) with its 95 % CI
    where one is known (monitoring: the mean's own interval; a fixed baseline: the effect's interval moved by the
    contracted baseline, which is a constant), and the effect with its CI.  ``shown`` is the result as the reader
    may see it (suppressed for investors and payers), ``raw`` the stored one, read only for the mean's interval
    (diagnostics are dropped by the suppression) and only when ``shown`` kept its statistics."""
    def pair(low: Any, high: Any) -> list[float] | None:
        return None if low is None or high is None else [float(f"{float(low):.12g}"), float(f"{float(high):.12g}")]

    value_ci = None
    if shown.get("treated_mean") is not None:
        mean_ci = ((raw if raw is not None else shown).get("diagnostics") or {}).get("mean_ci")
        if mean_ci and len(mean_ci) == 2:
            value_ci = pair(*mean_ci)
        elif (shown.get("design") == "fixed_baseline" and shown.get("is_effect")
              and shown.get("counterfactual_mean") is not None and shown.get("ci_low") is not None):
            base = float(shown["counterfactual_mean"])
            value_ci = pair(base + shown["ci_low"], base + shown["ci_high"])
    effect = shown.get("estimate") if shown.get("is_effect") else None
    return {"as_of": as_of.isoformat() if hasattr(as_of, "isoformat") else str(as_of), "run": run,
            "value": shown.get("treated_mean"), "value_ci": value_ci, "effect": effect,
            "ci": pair(shown.get("ci_low"), shown.get("ci_high")) if effect is not None else None}


def trends(engine: Engine, stored: StoredContract) -> dict[str, list[dict[str, Any]]]:
    """Per metric, the pooled value at each evaluated date (the latest run for the date, never an interim
    view), oldest first, with its confidence interval (``trend_point``); values of groups smaller than the
    suppression threshold are left out, and so is every statistic the suppression hides."""
    threshold = stored.latest.terms.suppression_threshold
    with engine.connect() as conn:
        rows = conn.execute(sa.select(EvaluationRunRow.id, EvaluationRunRow.as_of, EvaluationRunRow.results)
                            .where(EvaluationRunRow.contract_id == stored.id,
                                   EvaluationRunRow.include_unverified.is_(False))
                            .order_by(EvaluationRunRow.as_of, EvaluationRunRow.id)).all()
    latest = {row.as_of: row for row in rows}  # the last run of each date wins
    out: dict[str, list[dict[str, Any]]] = {}
    for as_of, row in sorted(latest.items()):
        raw = (row.results or {}).get("results", [])
        for stored_result, r in zip(raw, suppress_results(raw, threshold)):  # as each run is shown, in order
            if r.get("cohort") != POOLED or r.get("subgroup") is not None or r.get("treated_mean") is None:
                continue
            if small(r.get("n_treated"), threshold):
                continue
            out.setdefault(r["metric"], []).append(trend_point(as_of, row.id, r, stored_result))
    return out


def _compute(engine: Engine, stored: StoredContract, key: tuple) -> dict[str, Any]:
    contract = stored.latest.terms
    run = get_run(engine, stored.id)
    ledger, statuses = read_ledger(engine, stored.id), current_status(engine, stored.id)
    by_status = amounts_by_status(ledger, statuses)
    q = quantum(contract.currency)

    def unit(amount: Decimal) -> str:  # ledger sums are whole minor units already: this only writes them so
        return str(amount.quantize(q))
    metrics = []
    predicted = None
    if run is not None:
        shown = [r for r in suppress_results([r.to_dict() for r in run.results], contract.suppression_threshold)
                 if r["cohort"] == POOLED and r.get("subgroup") is None]
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
    returns = {basis: [r.as_dict() for r in investor_returns(contract, payments_by_period(ledger, statuses, include))]
               for basis, include in (("realised", RECEIVED), ("projected", PROJECTED))}
    return {
        "contract": stored.id, "currency": contract.currency, "evaluation_run": run.id if run else None,
        "as_of": run.as_of.isoformat() if run else None, "metrics": metrics,
        "payments": {"received": unit(sum((by_status[s] for s in RECEIVED), ZERO)),
                     "expected": unit(sum((by_status[s] for s in EXPECTED), ZERO)),
                     "by_status": {s: unit(v) for s, v in by_status.items()}},
        "forecast": predicted,
        "returns": returns,
    }


def clear_cache() -> None:
    with _LOCK:
        _CACHE.clear()

