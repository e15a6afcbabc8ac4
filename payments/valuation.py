"""The payer's business case: what the measured effects avoid in costs, against what the payer pays.

For each metric that names the costs it avoids (``avoids`` in the contract), the avoided cost is

    improvement per participant × units of the item per unit of the metric × participants × unit cost,

the unit cost moved from its price year to the valuation's price year with the cost file's index (the index used
goes with every figure).  The improvement is carried with its confidence interval, and the unit cost with its
low, central and high values: every avoided cost is a 3 × 3 table (effect low / point / high × cost low /
central / high), its headline the point estimate at the central cost and its range the corners.  The part the
contract states as cashable (budget actually released: fewer purchased places) is shown apart from capacity
freed: only cashable savings pay for anything (Umeå and Uddevalla: savings that are not realised make the
municipality pay twice).

Over time, the avoided units fall in each participant's outcome window, enrolment spread evenly over the
cohort's enrolment months and the improvement evenly over the window's months.  The payer's net position per
year is cashable savings minus outcome payments (what the mechanisms owe on the same estimates, in the period
they fall due) minus its own costs of the intervention; its uncertainty comes from the forecast's simulations
(``payments.forecast.paths``), which draw the effect once and value that same draw on both sides: a larger
effect saves more and, under a savings share, also pays more.

Every amount is exact (fractions) until shown, then rounded once, half-up to the minor unit (``round_exact``).
Savings are in the valuation's price year; payments and own costs are as the contract states them (current
prices).  Per department: who funds (the payers' shares of the payments and their own costs) against where the
savings land (the cost items' departments): the view in which one department pays and another saves.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from fractions import Fraction
from typing import Any, Iterable

import pandas as pd

from contracts.costs import SCENARIOS, CostFile, IndexUse
from contracts.model import Avoids, Contract, Metric
from contracts.periods import period_end
from evaluation.result import POOLED, EffectResult
from language import MessageError
from payments.messages import TEXTS as P
from payments.money import ZERO, product, quantity, round_exact

EFFECTS = ("low", "point", "high")  # the improvement's interval, low end first, and its point estimate
Month = tuple[int, int]  # (year, month)
Grid = dict[str, dict[str, Decimal]]  # effect -> cost scenario -> amount


def month_of(day: date) -> Month:
    return day.year, day.month


def add_months(month: Month, k: int) -> Month:
    index = month[0] * 12 + month[1] - 1 + k
    return index // 12, index % 12 + 1


def month_text(month: Month) -> str:
    return f"{month[0]:04d}-{month[1]:02d}"


def months_between(first: Month, last: Month) -> list[Month]:
    count = (last[0] - first[0]) * 12 + last[1] - first[1] + 1
    return [add_months(first, k) for k in range(max(0, count))]


# -- when avoided units fall -------------------------------------------------------------------------------------

def timing(contract: Contract, metric: Metric, weights: dict[str, Fraction],
           end_months: int | None = None) -> dict[Month, Fraction]:
    """The share of a metric's avoided units that falls in each calendar month (the shares add up to 1).

    ``weights`` gives each cohort's share of the participants; within a cohort, enrolment is spread evenly over
    its enrolment months and each participant's improvement evenly over the window's months (``end_months``
    replaces the window's end, for the horizon)."""
    start = metric.window.start_months
    end = metric.window.end_months if end_months is None else end_months
    span = max(1, end - start)
    shares: dict[Month, Fraction] = {}
    for cohort in contract.cohorts:
        weight = weights.get(cohort.id, Fraction(0))
        if not weight:
            continue
        enrolled = months_between(month_of(cohort.enrolment_start), month_of(cohort.enrolment_end))
        each = weight / len(enrolled) / span
        for first in enrolled:
            for k in range(start, start + span):
                month = add_months(first, k)
                shares[month] = shares.get(month, Fraction(0)) + each
    return shares


def cohort_weights(contract: Contract, sizes: dict[str, int]) -> dict[str, Fraction]:
    """Each cohort's share of the participants, from ``sizes`` (a run's treated counts), else the cohorts'
    target sizes, else equal shares."""
    counts = {c.id: sizes.get(c.id) or 0 for c in contract.cohorts}
    if not sum(counts.values()):
        counts = {c.id: c.target_size or 0 for c in contract.cohorts}
    if not sum(counts.values()):
        counts = {c.id: 1 for c in contract.cohorts}
    total = sum(counts.values())
    return {k: Fraction(v, total) for k, v in counts.items()}


# -- what one avoided cost is worth ------------------------------------------------------------------------------

@dataclass(frozen=True)
class ItemValue:
    """One metric's avoided cost of one item, as a 3 × 3 table, with the index it was moved with."""

    metric: str
    item: str
    name: str
    unit: str
    department: str
    per_unit: Decimal
    cashable_share: Decimal
    participants: int
    improvement: dict[str, Decimal | None]  # per participant: low, point, high
    quantity: dict[str, Decimal | None]  # units of the item avoided in all: low, point, high
    unit_cost: dict[str, Decimal]  # in the price year, to the minor unit: low, central, high
    gross: Grid
    cashable: Grid
    index: IndexUse
    source: str
    exact: dict[str, dict[str, Fraction]] = field(repr=False, default_factory=dict)  # gross, unrounded
    unit_exact: dict[str, Fraction] = field(repr=False, default_factory=dict)  # the indexed unit costs, unrounded

    @property
    def range(self) -> tuple[Decimal, Decimal]:
        """The lowest and highest corner of the table: the avoided cost's whole range."""
        corners = [v for row in self.gross.values() for v in row.values()]
        return min(corners), max(corners)

    def as_dict(self) -> dict[str, Any]:
        def grid(g: Grid) -> dict[str, dict[str, str | None]]:
            return {e: {s: (None if v is None else str(v)) for s, v in row.items()} for e, row in g.items()}

        return {"metric": self.metric, "item": self.item, "name": self.name, "unit": self.unit,
                "department": self.department, "per_unit": str(self.per_unit),
                "cashable_share": str(self.cashable_share), "participants": self.participants,
                "improvement": {k: _text(v) for k, v in self.improvement.items()},
                "quantity": {k: _text(v) for k, v in self.quantity.items()},
                "unit_cost": {k: str(v) for k, v in self.unit_cost.items()},
                "gross": grid(self.gross), "cashable": grid(self.cashable), "index": self.index.as_dict(),
                "source": self.source}


def _text(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def improvements(result: EffectResult) -> dict[str, Decimal | None]:
    """The improvement per participant (positive is better) and its confidence interval, low end first, as the
    payment mechanisms read them (six-decimal quantities)."""
    from payments.mechanisms import improvement_interval

    interval = improvement_interval(result)
    point = None if result.improvement is None else quantity(result.improvement)
    return {"low": interval[0] if interval else None,
            "point": point if point is not None and point.is_finite() else None,
            "high": interval[1] if interval else None}


def value_item(costs: CostFile, price_year: int, metric: Metric, avoided: Avoids, participants: int,
               improvement: dict[str, Decimal | None], currency: str) -> ItemValue:
    """What ``avoided`` is worth at each corner of effect and unit cost, rounded once per figure."""
    item = costs.item(avoided.item)
    assert item is not None, "the contract's checks make sure every avoided item is in its cost file"
    indexed = {s: costs.indexed(item, s, price_year) for s in SCENARIOS}
    quantity = {e: None if v is None else product(v, avoided.per_unit, participants) for e, v in improvement.items()}
    exact = {e: {s: Fraction(q) * indexed[s].value for s in SCENARIOS} for e, q in quantity.items() if q is not None}
    gross = {e: {s: round_exact(v, currency) for s, v in row.items()} for e, row in exact.items()}
    cashable = {e: {s: round_exact(v * Fraction(avoided.cashable), currency) for s, v in row.items()}
                for e, row in exact.items()}
    return ItemValue(metric.id, item.id, item.name, item.unit, item.department, avoided.per_unit,
                     avoided.cashable, participants, improvement, quantity,
                     {s: round_exact(indexed[s].value, currency) for s in SCENARIOS}, gross, cashable,
                     indexed["central"].index, item.source, exact, {s: indexed[s].value for s in SCENARIOS})


def headline_result(results: dict[tuple[str, str], EffectResult], metric: str) -> EffectResult | None:
    """The result a metric's savings are valued on: the pooled one, or a single cohort's."""
    pooled = results.get((metric, POOLED))
    if pooled is not None:
        return pooled
    mine = [r for (m, _), r in results.items() if m == metric]
    return mine[0] if len(mine) == 1 else None


# -- the business case -------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class YearRow:
    year: int
    cashable: Decimal
    non_cashable: Decimal
    payments: Decimal
    own_costs: Decimal
    net: Decimal  # cashable savings - payments - own costs
    cumulative: Decimal
    net_band: dict[str, Decimal] | None  # P10, P50, P90 over the simulations
    cumulative_band: dict[str, Decimal] | None
    projection: bool  # after the contract term

    def as_dict(self) -> dict[str, Any]:
        band = (lambda b: None if b is None else {k: str(v) for k, v in b.items()})
        return {"year": self.year, "cashable_savings": str(self.cashable), "non_cashable": str(self.non_cashable),
                "payments": str(self.payments), "own_costs": str(self.own_costs), "net": str(self.net),
                "cumulative": str(self.cumulative), "net_band": band(self.net_band),
                "cumulative_band": band(self.cumulative_band), "projection": self.projection}


@dataclass(frozen=True)
class DepartmentRow:
    department: str
    name: str
    funds: Decimal  # its share of the outcome payments plus its own costs
    saves: Decimal  # cashable savings in its budget
    capacity: Decimal  # capacity freed in it (non-cashable)

    @property
    def net(self) -> Decimal:
        return self.saves - self.funds

    def as_dict(self) -> dict[str, Any]:
        return {"department": self.department, "name": self.name, "funds": str(self.funds),
                "saves": str(self.saves), "capacity_freed": str(self.capacity), "net": str(self.net)}


@dataclass(frozen=True)
class BusinessCase:
    contract: str
    contract_version: int
    evaluation_run: int | None
    currency: str
    price_year: int
    costs: str  # the cost file and version
    items: list[ItemValue]
    gross: Grid  # all items together
    cashable: Grid
    payments: Decimal  # what the mechanisms owe on the point estimates
    own_costs: Decimal
    years: list[YearRow]
    break_even: str | None  # the first month from which the cumulative net position stays at or above zero
    net_total: Decimal
    net_band: dict[str, Decimal] | None
    probability_break_even: str | None  # share of simulations whose cumulative net is at least zero at the end
    departments: list[DepartmentRow]
    term_end: date
    simulations: int
    notes: list[dict[str, Any]]

    def as_dict(self) -> dict[str, Any]:
        grid = (lambda g: {e: {s: str(v) for s, v in row.items()} for e, row in g.items()})
        return {"contract": self.contract, "contract_version": self.contract_version,
                "evaluation_run": self.evaluation_run, "currency": self.currency, "price_year": self.price_year,
                "costs": self.costs, "items": [i.as_dict() for i in self.items], "gross": grid(self.gross),
                "cashable": grid(self.cashable), "payments": str(self.payments), "own_costs": str(self.own_costs),
                "years": [y.as_dict() for y in self.years], "break_even": self.break_even,
                "net_total": str(self.net_total),
                "net_band": None if self.net_band is None else {k: str(v) for k, v in self.net_band.items()},
                "probability_break_even": self.probability_break_even,
                "departments": [d.as_dict() for d in self.departments], "term_end": self.term_end.isoformat(),
                "simulations": self.simulations, "notes": self.notes}


def _sum_grids(grids: Iterable[Grid]) -> Grid:
    total: Grid = {e: {s: ZERO for s in SCENARIOS} for e in EFFECTS}
    seen = {e: False for e in EFFECTS}
    for g in grids:
        for e, row in g.items():
            seen[e] = True
            for s, v in row.items():
                total[e][s] += v
    return {e: row for e, row in total.items() if seen[e]}


def own_cost_months(contract: Contract) -> dict[Month, Fraction]:
    """The payer's own costs, each year's spread evenly over its twelve months."""
    months: dict[Month, Fraction] = {}
    for own in contract.valuation.own_costs if contract.valuation else ():
        for m in range(1, 13):
            months[(own.year, m)] = months.get((own.year, m), Fraction(0)) + Fraction(own.amount) / 12
    return months


def payment_months(by_period: dict[str, Decimal]) -> dict[Month, Fraction]:
    """Payments per period, in the month the period ends."""
    months: dict[Month, Fraction] = {}
    for period, amount in by_period.items():
        month = month_of(period_end(period))
        months[month] = months.get(month, Fraction(0)) + Fraction(amount)
    return months


def savings_months(contract: Contract, items: list[ItemValue], sizes: dict[str, int], effect: str = "point",
                   scenario: str = "central", cashable: bool = True) -> dict[Month, Fraction]:
    """Cashable (or gross) savings per month for one corner of the table (an effect without an interval at its
    point estimate: the corner then moves with the unit cost alone)."""
    weights = cohort_weights(contract, sizes)
    months: dict[Month, Fraction] = {}
    for item in items:
        row = item.exact.get(effect) or item.exact.get("point")
        if row is None:
            continue
        total = row[scenario] * (Fraction(item.cashable_share) if cashable else 1)
        for month, share in timing(contract, contract.metric(item.metric), weights).items():
            months[month] = months.get(month, Fraction(0)) + total * share
    return months


def by_year(months: dict[Month, Fraction]) -> dict[int, Fraction]:
    years: dict[int, Fraction] = {}
    for (year, _), value in months.items():
        years[year] = years.get(year, Fraction(0)) + value
    return years


def break_even_month(net: dict[Month, Fraction], first: Month, last: Month) -> Month | None:
    """The first month from which the cumulative net position is at or above zero through ``last``; None when it
    ends below zero."""
    cumulative = Fraction(0)
    found: Month | None = None
    for month in months_between(first, last):
        cumulative += net.get(month, Fraction(0))
        if cumulative >= 0:
            found = found or month
        else:
            found = None
    return found


def _quantiles(values: list[Fraction], currency: str) -> dict[str, Decimal]:
    ordered = sorted(values)
    n = len(ordered)
    return {f"p{p}": round_exact(ordered[max(0, -(-p * n // 100) - 1)], currency) for p in (10, 50, 90)}


def business_case(contract: Contract, costs: CostFile, results: dict[tuple[str, str], EffectResult],
                  payments_by_period: dict[str, Decimal], *, payer_payments: dict[str, Decimal],
                  simulations: list[tuple[dict[tuple[str, str], EffectResult], dict[str, Decimal]]] = (),
                  run_id: int | None = None, version: int = 1) -> BusinessCase:
    """The business case of ``contract`` on ``results`` (per (metric, cohort), as a run holds them).

    ``payments_by_period``: what the mechanisms owe on the point estimates, per period due;
    ``payer_payments``: the same per payer; ``simulations``: the forecast's draws, each its results and
    payments per period, for the uncertainty of the net position."""
    valuation = contract.valuation
    assert valuation is not None, "a business case needs the contract's valuation"
    currency = contract.currency
    notes: list[dict[str, Any]] = []
    items: list[ItemValue] = []
    sizes: dict[str, int] = {}
    for metric in contract.metrics:
        if not metric.avoids:
            continue
        result = headline_result(results, metric.id)
        if result is None or result.improvement is None:
            notes.append(P("valuation_no_estimate", metric=metric.id).as_dict())
            continue
        if not result.is_effect:
            notes.append(P("valuation_not_effect", metric=metric.id, design=result.design).as_dict())
            continue
        for (m, cohort), r in results.items():
            if m == metric.id and cohort != POOLED:
                sizes[cohort] = max(sizes.get(cohort, 0), r.n_treated)
        for avoided in metric.avoids:
            items.append(value_item(costs, valuation.price_year, metric, avoided, result.n_treated,
                                    improvements(result), currency))
    own = own_cost_months(contract)
    pay_months = payment_months(payments_by_period)
    per_item = [savings_months(contract, [item], sizes) for item in items]  # cashable, point, central
    cash_months = _total(per_item)
    gross_months = savings_months(contract, items, sizes, cashable=False)
    central = _total([cash_months], minus=[pay_months, own])
    span = [m for series in (central, gross_months) for m in series] or [month_of(contract.term.start)]
    span += [month_of(period_end(p)) for _, by_period in simulations for p in by_period]  # a draw may pay later
    first = min(min(span), month_of(contract.term.start))
    last = max(max(span), month_of(contract.term.end))
    years = list(range(first[0], last[0] + 1))
    own_years = by_year(own)
    weights = cohort_weights(contract, sizes)
    shares = [by_year(timing(contract, contract.metric(item.metric), weights)) for item in items]  # each sums to 1
    draws: list[dict[int, Fraction]] = []  # per simulation, the net position per year: the savings of its drawn
    for drawn, by_period in simulations:  # effect (timed as the point estimate's) less its own payments
        totals = _drawn_cashable(items, drawn)
        paid = by_year(payment_months(by_period))
        draws.append({y: sum((total * share.get(y, Fraction(0)) for total, share in zip(totals, shares)),
                             Fraction(0)) - paid.get(y, Fraction(0)) - own_years.get(y, Fraction(0)) for y in years})
    rows: list[YearRow] = []
    cumulative = Fraction(0)
    draw_cumulative = [Fraction(0)] * len(draws)
    for year in years:
        def in_year(series: dict[Month, Fraction]) -> Fraction:
            return sum((v for (y, _), v in series.items() if y == year), Fraction(0))

        net = in_year(central)
        cumulative += net
        band = cum_band = None
        if draws:
            yearly = [d[year] for d in draws]
            draw_cumulative = [c + v for c, v in zip(draw_cumulative, yearly)]
            band, cum_band = _quantiles(yearly, currency), _quantiles(draw_cumulative, currency)
        cash, gross = in_year(cash_months), in_year(gross_months)
        rows.append(YearRow(year, round_exact(cash, currency), round_exact(gross - cash, currency),
                            round_exact(in_year(pay_months), currency), round_exact(in_year(own), currency),
                            round_exact(net, currency), round_exact(cumulative, currency), band, cum_band,
                            year > contract.term.end.year))
    ends = [sum(d.values(), Fraction(0)) for d in draws]
    even = break_even_month(central, first, last)
    return BusinessCase(
        contract=contract.id, contract_version=version, evaluation_run=run_id, currency=currency,
        price_year=valuation.price_year, costs=costs.key, items=items, gross=_sum_grids(i.gross for i in items),
        cashable=_sum_grids(i.cashable for i in items),
        payments=round_exact(sum(pay_months.values(), Fraction(0)), currency),
        own_costs=round_exact(sum(own.values(), Fraction(0)), currency), years=rows,
        break_even=None if even is None else month_text(even), net_total=round_exact(cumulative, currency),
        net_band=_quantiles(ends, currency) if draws else None,
        probability_break_even=(str((Decimal(sum(1 for e in ends if e >= 0)) / len(ends)).quantize(Decimal("0.001")))
                                if draws else None),
        departments=departments(contract, costs, items, payer_payments), term_end=contract.term.end,
        simulations=len(draws), notes=notes)


def _drawn_cashable(items: list[ItemValue], drawn: dict[tuple[str, str], EffectResult]) -> list[Fraction]:
    """Per item: the cashable avoided cost of a simulation's drawn improvement, at the central unit cost."""
    totals = []
    for item in items:
        result = headline_result(drawn, item.metric)
        improvement = improvements(result)["point"] if result is not None else None
        totals.append(Fraction(improvement or ZERO) * Fraction(item.per_unit) * item.participants
                      * item.unit_exact["central"] * Fraction(item.cashable_share))
    return totals


def _total(plus: list[dict[Month, Fraction]], minus: Iterable[dict[Month, Fraction]] = ()) -> dict[Month, Fraction]:
    """Monthly series added (``plus``) and subtracted (``minus``)."""
    total: dict[Month, Fraction] = {}
    for sign, group in ((1, plus), (-1, minus)):
        for series in group:
            for month, value in series.items():
                total[month] = total.get(month, Fraction(0)) + sign * value
    return total


def departments(contract: Contract, costs: CostFile, items: list[ItemValue],
                payer_payments: dict[str, Decimal]) -> list[DepartmentRow]:
    """Who funds (payments by payer, own costs by party) against where the cashable savings land (the cost
    items' departments), at the point estimate and the central cost."""
    names = {p.id: p.name for p in contract.parties}
    funds: dict[str, Fraction] = {k: Fraction(v) for k, v in payer_payments.items()}
    for own in contract.valuation.own_costs if contract.valuation else ():
        funds[own.party] = funds.get(own.party, Fraction(0)) + Fraction(own.amount)
    saves: dict[str, Fraction] = {}
    capacity: dict[str, Fraction] = {}
    for item in items:
        exact = item.exact.get("point", {}).get("central")
        if exact is None:
            continue
        cash = exact * Fraction(item.cashable_share)
        saves[item.department] = saves.get(item.department, Fraction(0)) + cash
        capacity[item.department] = capacity.get(item.department, Fraction(0)) + exact - cash
    rows = []
    for key in dict.fromkeys([*funds, *saves]):
        name = names.get(key) or costs.department_name(key)
        rows.append(DepartmentRow(key, name, round_exact(funds.get(key, Fraction(0)), contract.currency),
                                  round_exact(saves.get(key, Fraction(0)), contract.currency),
                                  round_exact(capacity.get(key, Fraction(0)), contract.currency)))
    return rows


# -- from a stored contract --------------------------------------------------------------------------------------

def owed_by_period(contract: Contract, run: Any, outcomes: pd.DataFrame) -> tuple[dict[str, Decimal],
                                                                                  dict[str, Decimal]]:
    """What the mechanisms owe on ``run``'s point estimates: per period due and per payer."""
    from payments.calculate import owed_to_date
    from payments.forecast import payable_period

    periods: dict[str, Decimal] = {}
    payers: dict[str, Decimal] = {}
    if contract.payments is None:
        return periods, payers
    for o in owed_to_date(contract, run, outcomes):
        period = payable_period(contract, o, run.as_of)
        periods[period] = periods.get(period, ZERO) + o.amount
        payers[o.payer] = payers.get(o.payer, ZERO) + o.amount
    return periods, payers


def owed_by_due_month(contract: Contract, run: Any, outcomes: pd.DataFrame) -> dict[Month, Fraction]:
    """What the mechanisms owe on ``run``'s point estimates, in the month each amount falls due (the horizon's
    month-by-month view; the yearly views date payments at their period's end, as the ledger does)."""
    from payments.calculate import owed_to_date
    from payments.forecast import payable_day

    months: dict[Month, Fraction] = {}
    for o in owed_to_date(contract, run, outcomes) if contract.payments is not None else ():
        month = month_of(payable_day(contract, o, run.as_of))
        months[month] = months.get(month, Fraction(0)) + Fraction(o.amount)
    return months


def contract_business_case(engine: Any, stored: Any, simulations: int | None = None) -> BusinessCase | None:
    """The business case of a stored contract on its latest evaluation run: the one function the CLI
    (``sib valuation``), the board summary, the report and the API call.  None without a run; refused
    (``ValuationError``) when the contract has no valuation or its cost file is not loaded."""
    from contracts import costs as cost_files
    from evaluation.run import get_run, run_outcomes
    from payments.forecast import SEED, SIMULATIONS, booked_of, shared_paths
    from payments.ledger import current_status, read_ledger

    run = get_run(engine, stored.id)
    if run is None:
        return None
    version = stored.as_of(run.as_of)
    contract = version.terms
    costs = _costs_of(contract, cost_files)
    outcomes = run_outcomes(engine, run.id)
    by_period, by_payer = owed_by_period(contract, run, outcomes)
    draws: list[tuple[dict, dict]] = []
    if contract.payments is not None:
        booked = booked_of(read_ledger(engine, stored.id), current_status(engine, stored.id), run.id)
        for path in shared_paths(contract, run, outcomes, simulations or SIMULATIONS, SEED, booked):
            draws.append((path.results, path.by_period))
    results = {(r.metric, r.cohort): r for r in run.results if r.subgroup is None}
    return business_case(contract, costs, results, by_period, payer_payments=by_payer, simulations=draws,
                         run_id=run.id, version=version.version)


class ValuationError(MessageError, ValueError):
    """A business case that cannot be made: no valuation in the contract, or its cost file is not loaded."""


def _costs_of(contract: Contract, cost_files: Any) -> CostFile:
    if contract.valuation is None:
        raise ValuationError(P("valuation_none", contract=contract.id))
    costs = cost_files.get(contract.valuation.costs, contract.valuation.costs_version)
    if costs is None:
        raise ValuationError(P("valuation_costs_missing", costs=contract.valuation.costs))
    return costs

