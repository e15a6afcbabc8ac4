"""Forecast: the distribution of outcome payments and investor returns, from the outcomes observed so far.

A seeded Monte Carlo.  In each simulation, every effect estimate is drawn
from its sampling distribution (normal, with the run's standard error), and
every participant whose outcome window is still open is given the outcome of
a participant drawn at random (bootstrap) from those already observed in the
same cohort.  Each simulated evaluation goes through the same mechanisms,
caps, rounding and waterfall as a real one, so the forecast is a distribution
of what the contract would actually pay.

Reported: P10, P50 and P90 of the total outcome payments, of each payer's
share, of each period's payments, and of the investors' IRR; the expected
(mean) total and each payer's; the probability of any payment and the
probability that the investors lose money.

The IRR is taken over every simulation, not only those that pay: a simulation
in which nothing comes back to the investors has an IRR of -100 % (-1), one in
which less comes back than was drawn has its (negative) IRR.  Leaving those
out would report the median of the lucky simulations as the median.

What the ledger already says is respected as the payment calculation respects
it (``payments.calculate``): an amount rejected from the run being forecast is
not offered again from that run, so for its mechanism, cohort and payer the
forecast counts only what is booked and not rejected.

``contract_forecast`` is the one entry point for a stored contract: the CLI,
the API and the pages all call it (the API and pages through the cache in
``api.status``) with the same defaults, so they show the same numbers for the
same seed and state of the store.
"""

from __future__ import annotations

import dataclasses
import json
from collections import OrderedDict
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from fractions import Fraction
from typing import TYPE_CHECKING, Any, Iterator

import numpy as np
import pandas as pd

from contracts.model import Contract
from evaluation.result import POOLED
from evaluation.run import EvaluationRun
from evaluation.sampling import draw_estimate, fill_pending
from payments.calculate import owed_to_date, period_of
from payments.messages import TEXTS as P
from payments.money import ZERO, round_exact
from payments.returns import NOTHING_BACK, InvestorResult, investor_returns, period_end

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from contracts.registry import StoredContract

PERCENTS = (10, 50, 90)
SIMULATIONS = 1000  # the one default, wherever a forecast is shown
SEED = 20240601

Key = tuple[str, str, str]  # (mechanism, cohort, payer), as the ledger books amounts


@dataclass(frozen=True)
class Booked:
    """What the ledger holds, as a forecast of one run needs it (the same rule as ``payments.calculate``).

    ``amounts``: per mechanism, cohort and payer, the sum of the entries that are not rejected;
    ``rejected``: the keys with an entry rejected from the run being forecast, which that run does not
    offer again: for them the forecast counts ``amounts`` only."""

    amounts: dict[Key, Decimal] = dataclasses.field(default_factory=dict)
    rejected: frozenset[Key] = frozenset()


def booked_of(ledger: pd.DataFrame, statuses: dict[int, str], run_id: int) -> Booked:
    """The ledger (``payments.ledger.read_ledger``) and its statuses (``current_status``), for a forecast of
    run ``run_id``."""
    amounts: dict[Key, Decimal] = {}
    rejected: set[Key] = set()
    for entry in ledger.to_dict(orient="records") if len(ledger) else ():
        key = (entry["mechanism"], entry["cohort"], entry["payer"])
        if statuses.get(entry["seq"]) == "rejected":
            if entry["evaluation_run_id"] == run_id:
                rejected.add(key)
            continue
        amounts[key] = amounts.get(key, ZERO) + entry["amount"]
    return Booked(amounts, frozenset(rejected))


@dataclass(frozen=True)
class Forecast:
    simulations: int
    seed: int
    evaluation_run: int
    total: dict[str, str]  # P10, P50, P90 of total outcome payments
    by_payer: dict[str, dict[str, str]]
    by_period: dict[str, dict[str, str]]
    irr: dict[str, str | None]  # P10, P50, P90 over every simulation (-1: nothing back); None without investment
    expected_total: str  # the mean of the total payments, to the minor unit (half-up): a forecast, not an amount owed
    expected_by_payer: dict[str, str]
    probability_of_any_payment: str  # a decimal fraction of the simulations
    probability_of_loss: str | None  # share of simulations in which investors get back less than was drawn
    notes: list[dict[str, Any]]  # stored messages (``payments.messages``)
    # P10, P50, P90 per payer and calendar year (of the period's end): what a payer's budget for a year must hold
    by_payer_year: dict[str, dict[str, dict[str, str]]] = dataclasses.field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class Path:
    """One simulation: what the contract pays in total, per payer and per period, and what the investors get."""

    total: Decimal
    by_payer: dict[str, Decimal]
    by_period: dict[str, Decimal]
    investors: InvestorResult | None  # all investors together; None without investment terms
    results: dict[tuple[str, str], Any] = dataclasses.field(default_factory=dict)  # (metric, cohort) -> the drawn
    # EffectResult the simulation paid on: the payer's business case values the same draw (``payments.valuation``)
    by_payer_year: dict[tuple[str, int], Decimal] = dataclasses.field(default_factory=dict)

    @property
    def irr(self) -> Decimal | None:
        """The investors' IRR: -1 when nothing comes back; None without investment (or no rate at all)."""
        r = self.investors
        if r is None:
            return None
        if r.irr is None and r.drawn > 0 and r.distributed <= 0:
            return NOTHING_BACK
        return r.irr


def _quantiles(values: list[Any]) -> dict[str, Any]:
    """P10, P50 and P90 by the nearest-rank method (a value that occurred, never an interpolation)."""
    ordered = sorted(values)
    n = len(ordered)
    return {f"p{percent}": ordered[max(0, -(-percent * n // 100) - 1)] for percent in PERCENTS}


def _mean(values: list[Decimal], currency: str) -> Decimal:
    """The mean, exactly (as a fraction), then rounded half-up to the currency's minor unit."""
    return round_exact(Fraction(sum(values, ZERO)) / len(values), currency)


def _share(count: int, of: int) -> str:
    return str((Decimal(count) / Decimal(of)).quantize(Decimal("0.001")))


def payable_day(contract: Contract, owed: Any, as_of: date) -> date:
    """The day an amount owed (``payments.calculate.Owed``) falls due: when its cohort's last open outcome window
    closes (not before ``as_of``), after the lag; ``as_of`` itself when it names no metric."""
    metric_id = owed.basis.get("metric") or (owed.basis.get("metrics") or [None])[0]
    if not metric_id:
        return as_of
    cohort = (contract.cohort(owed.cohort) if owed.cohort != POOLED
              else max(contract.cohorts, key=lambda c: c.enrolment_end))
    metric = contract.metric(metric_id)
    closes = (pd.Timestamp(cohort.enrolment_end) + pd.DateOffset(months=metric.window.end_months)).date()
    return max(closes, as_of) + timedelta(days=contract.payments.schedule.lag_days)


def payable_period(contract: Contract, owed: Any, as_of: date) -> str:
    """The period in which an amount owed falls due (``payable_day``); the run's year when it names no metric."""
    metric = owed.basis.get("metric") or (owed.basis.get("metrics") or [None])[0]
    if not metric:
        return period_of(as_of, "yearly")
    return period_of(payable_day(contract, owed, as_of), contract.payments.schedule.frequency)


def paths(contract: Contract, run: EvaluationRun, outcomes: pd.DataFrame, simulations: int = SIMULATIONS,
          seed: int = SEED, booked: Booked | None = None) -> Iterator[Path]:
    """Each simulation in turn (the same ones, in the same order, for the same seed)."""
    rng = np.random.default_rng(seed)
    booked = booked or Booked()
    results = {(r.metric, r.cohort): r for r in run.results if r.subgroup is None}
    for _ in range(simulations):
        drawn = {key: draw_estimate(r, rng) for key, r in results.items()}
        simulated = dataclasses.replace(run, results=list(drawn.values()))
        sim_outcomes = fill_pending(outcomes, results, rng)
        total = ZERO
        by_payer = {p.party: ZERO for p in contract.payments.payers}
        by_period: dict[str, Decimal] = {}
        by_payer_year: dict[tuple[str, int], Decimal] = {}
        for o in owed_to_date(contract, simulated, sim_outcomes):
            key = (o.mechanism, o.cohort, o.payer)
            amount = booked.amounts.get(key, ZERO) if key in booked.rejected else o.amount
            total += amount
            by_payer[o.payer] = by_payer.get(o.payer, ZERO) + amount
            period = payable_period(contract, o, run.as_of)
            by_period[period] = by_period.get(period, ZERO) + amount
            year = (o.payer, period_end(period).year)
            by_payer_year[year] = by_payer_year.get(year, ZERO) + amount
        investors = None
        if contract.investment is not None:
            payments = sorted((period_end(p), a) for p, a in by_period.items())
            investors = investor_returns(contract, payments, together_only=True)[0]
        yield Path(total, by_payer, by_period, investors, drawn, by_payer_year)


_SHARED: "OrderedDict[tuple, list[Path]]" = OrderedDict()
SHARED_RUNS = 4  # the simulations of this many runs are kept (a few MB each)


def shared_paths(contract: Contract, run: EvaluationRun, outcomes: pd.DataFrame, simulations: int = SIMULATIONS,
                 seed: int = SEED, booked: Booked | None = None) -> list[Path]:
    """``paths`` of a stored run, drawn once in a process and kept for the next reader: the forecast, the board
    summary and the business case value the same simulations.  The same seed draws the same paths, so this
    changes no number, only how often they are drawn; the key holds all they depend on (the run's results and
    per-participant outcomes, the contract's terms, the ledger's bookings, the number of simulations and the
    seed)."""
    booked = booked or Booked()
    if run.id is None:
        return list(paths(contract, run, outcomes, simulations, seed, booked))
    results = json.dumps([r.to_dict() for r in run.results], sort_keys=True, default=str)
    observed = (len(outcomes), int(pd.util.hash_pandas_object(outcomes, index=False).sum()) if len(outcomes) else 0)
    key = (run.id, run.inputs_fingerprint, results, observed, contract.model_dump_json(), simulations, seed,
           tuple(sorted(booked.amounts.items())), booked.rejected)
    if key in _SHARED:
        _SHARED.move_to_end(key)
        return _SHARED[key]
    drawn = _SHARED[key] = list(paths(contract, run, outcomes, simulations, seed, booked))
    while len(_SHARED) > SHARED_RUNS:
        _SHARED.popitem(last=False)
    return drawn


def simulate(contract: Contract, run: EvaluationRun, outcomes: pd.DataFrame, simulations: int = SIMULATIONS,
             seed: int = SEED, booked: Booked | None = None) -> Forecast:
    """The forecast of ``run``; ``booked`` is what the ledger holds (``booked_of``), so that an amount rejected
    from this run is not counted again."""
    totals: list[Decimal] = []
    payer_totals: dict[str, list[Decimal]] = {p.party: [] for p in contract.payments.payers}
    period_totals: dict[str, list[Decimal]] = {}
    payer_years: dict[tuple[str, int], list[Decimal]] = {}
    irrs: list[Decimal] = []
    undefined = nothing_back = losses = 0
    notes = []
    results = {(r.metric, r.cohort): r for r in run.results if r.subgroup is None}
    pending = sum(r.n_pending for (_, cohort), r in results.items() if r.n_pending and cohort != POOLED)
    if pending:
        notes.append(P("forecast_pending", n=pending).as_dict())
    for path in shared_paths(contract, run, outcomes, simulations, seed, booked):
        totals.append(path.total)
        for payer, amount in path.by_payer.items():
            payer_totals.setdefault(payer, []).append(amount)
        for period, amount in path.by_period.items():
            period_totals.setdefault(period, []).append(amount)
        for key, amount in path.by_payer_year.items():
            payer_years.setdefault(key, []).append(amount)
        if path.investors is not None:
            irr = path.irr
            if irr is None:
                undefined += 1
            else:
                irrs.append(irr)
                nothing_back += irr == NOTHING_BACK and path.investors.distributed <= 0
            losses += path.investors.distributed < path.investors.drawn
    for values in [*period_totals.values(), *payer_years.values()]:  # a period (year) without payments in some
        values += [ZERO] * (simulations - len(values))  # simulations paid nothing in them
    invested = contract.investment is not None
    irr = ({k: str(v) for k, v in _quantiles(irrs).items()} if irrs else {f"p{p}": None for p in PERCENTS})
    if nothing_back:
        notes.append(P("forecast_nothing_back", none=nothing_back, simulations=simulations,
                       irr=str(NOTHING_BACK)).as_dict())
    if undefined:
        notes.append(P("forecast_irr_undefined", none=undefined, simulations=simulations).as_dict())
    paying = sum(1 for t in totals if t > 0)
    currency = contract.currency
    return Forecast(
        simulations=simulations, seed=seed, evaluation_run=run.id, total=_strings(_quantiles(totals)),
        by_payer={p: _strings(_quantiles(v)) for p, v in payer_totals.items()},
        by_period={p: _strings(_quantiles(v)) for p, v in sorted(period_totals.items())},
        irr=irr, expected_total=str(_mean(totals, currency)),
        expected_by_payer={p: str(_mean(v, currency)) for p, v in payer_totals.items()},
        probability_of_any_payment=_share(paying, simulations),
        probability_of_loss=_share(losses, simulations) if invested else None, notes=notes,
        by_payer_year={payer: {str(year): _strings(_quantiles(v)) for (p, year), v in sorted(payer_years.items())
                               if p == payer} for payer in dict.fromkeys(p for p, _ in sorted(payer_years))})


def contract_forecast(engine: Engine, stored: StoredContract, simulations: int = SIMULATIONS,
                      seed: int = SEED) -> Forecast | None:
    """The forecast of a stored contract from its latest evaluation run and its ledger: the one function that
    the CLI (``sib forecast``, ``sib schedule --forecast``), the API and the pages show.

    None without an evaluation run; a run that may not be paid (``check_run``) is refused with its reason."""
    from evaluation.run import get_run, run_outcomes
    from payments.calculate import check_run
    from contracts.evaluation_only import payments_of
    from payments.ledger import current_status, read_ledger

    payments_of(stored)  # an evaluation-only contract has nothing to forecast
    run = get_run(engine, stored.id)
    if run is None:
        return None
    contract = check_run(stored, run)
    booked = booked_of(read_ledger(engine, stored.id), current_status(engine, stored.id), run.id)
    return simulate(contract, run, run_outcomes(engine, run.id), simulations, seed, booked)


def _strings(values: dict[str, Decimal]) -> dict[str, str]:
    return {k: str(v) for k, v in values.items()}
