"""Forecast: the distribution of outcome payments and investor returns, from the outcomes observed so far.

A seeded Monte Carlo.  In each simulation, every effect estimate is drawn
from its sampling distribution (normal, with the run's standard error), and
every participant whose outcome window is still open is given the outcome of
a participant drawn at random (bootstrap) from those already observed in the
same cohort.  Each simulated evaluation goes through the same mechanisms,
caps, rounding and waterfall as a real one, so the forecast is a distribution
of what the contract would actually pay.  Reported: P10, P50 and P90 of the
total outcome payments, of each payer's share, of each period's payments, and
of the investors' IRR.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd

from contracts.model import Contract
from evaluation.result import POOLED
from evaluation.run import EvaluationRun
from evaluation.sampling import draw_estimate, fill_pending
from payments.calculate import owed_to_date, period_of
from payments.messages import TEXTS as P
from payments.money import ZERO
from payments.returns import investor_returns, period_end

PERCENTS = (10, 50, 90)


@dataclass(frozen=True)
class Forecast:
    simulations: int
    seed: int
    total: dict[str, str]  # P10, P50, P90 of total outcome payments
    by_payer: dict[str, dict[str, str]]
    by_period: dict[str, dict[str, str]]
    irr: dict[str, str | None]
    probability_of_any_payment: str  # a decimal fraction of the simulations
    notes: list[dict[str, Any]]  # stored messages (``payments.messages``)

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _quantiles(values: list[Any]) -> dict[str, Any]:
    """P10, P50 and P90 by the nearest-rank method (a value that occurred, never an interpolation)."""
    ordered = sorted(values)
    n = len(ordered)
    return {f"p{percent}": ordered[max(0, -(-percent * n // 100) - 1)] for percent in PERCENTS}


def _payable(contract: Contract, cohort_id: str, metric_id: str, as_of: date) -> str:
    """The period in which a cohort's last open outcome window closes (after the lag)."""
    cohort = contract.cohort(cohort_id) if cohort_id != POOLED else max(contract.cohorts, key=lambda c: c.enrolment_end)
    metric = contract.metric(metric_id)
    closes = (pd.Timestamp(cohort.enrolment_end) + pd.DateOffset(months=metric.window.end_months)).date()
    return period_of(max(closes, as_of) + timedelta(days=contract.payments.schedule.lag_days),
                     contract.payments.schedule.frequency)


def simulate(contract: Contract, run: EvaluationRun, outcomes: pd.DataFrame, simulations: int = 1000,
             seed: int = 20240601) -> Forecast:
    rng = np.random.default_rng(seed)
    results = {(r.metric, r.cohort): r for r in run.results if r.subgroup is None}
    totals: list[Decimal] = []
    payer_totals: dict[str, list[Decimal]] = {p.party: [] for p in contract.payments.payers}
    period_totals: dict[str, list[Decimal]] = {}
    irrs: list[Decimal | None] = []
    notes = []
    pending = {key: r.n_pending for key, r in results.items() if r.n_pending}
    if pending:
        notes.append(P("forecast_pending", n=sum(v for (m, c), v in pending.items() if c != POOLED)).as_dict())
    for _ in range(simulations):
        drawn = {key: draw_estimate(r, rng) for key, r in results.items()}
        simulated = dataclasses.replace(run, results=list(drawn.values()))
        sim_outcomes = fill_pending(outcomes, results, rng)
        owed = owed_to_date(contract, simulated, sim_outcomes)
        total = sum((o.amount for o in owed), ZERO)
        totals.append(total)
        for payer in payer_totals:
            payer_totals[payer].append(sum((o.amount for o in owed if o.payer == payer), ZERO))
        by_period: dict[str, Decimal] = {}
        for o in owed:
            metric = o.basis.get("metric") or (o.basis.get("metrics") or [None])[0]
            period = _payable(contract, o.cohort, metric, run.as_of) if metric else period_of(run.as_of, "yearly")
            by_period[period] = by_period.get(period, ZERO) + o.amount
        for period, amount in by_period.items():
            period_totals.setdefault(period, []).append(amount)
        if contract.investment is not None:
            payments = sorted((period_end(p), a) for p, a in by_period.items())
            irrs.append(investor_returns(contract, payments, together_only=True)[0].irr)
    for period, values in period_totals.items():  # a period without payments in some runs paid nothing in them
        values += [ZERO] * (simulations - len(values))
    known = [i for i in irrs if i is not None]
    irr = {k: (str(v) if v is not None else None) for k, v in _quantiles(known).items()} if known else \
        {f"p{p}": None for p in PERCENTS}
    if contract.investment is not None and len(known) < simulations:
        notes.append(P("forecast_no_irr", none=simulations - len(known), simulations=simulations).as_dict())
    paying = sum(1 for t in totals if t > 0)
    return Forecast(simulations, seed, _strings(_quantiles(totals)),
                    {p: _strings(_quantiles(v)) for p, v in payer_totals.items()},
                    {p: _strings(_quantiles(v)) for p, v in sorted(period_totals.items())},
                    irr, str((Decimal(paying) / Decimal(simulations)).quantize(Decimal("0.001"))), notes)


def _strings(values: dict[str, Decimal]) -> dict[str, str]:
    return {k: str(v) for k, v in values.items()}
