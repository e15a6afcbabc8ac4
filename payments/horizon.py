"""The follow-up horizon, at design time: whether the savings come in time.

From the planning effect (``evaluation.planning``: planning_effect, or target minus planning mean), the cohorts' target
sizes and the unit costs, month by month: the expected cumulative cashable savings (with a band from the low
corner, the planned effect's 95 % interval at the low cost, to the high corner), the cumulative outcome
payments the mechanisms would make on the planned effect, and the investors' principal; for each follow-up
length asked for, side by side.  Norrköping's follow-up was extended from 24 to 36 months because 24 were too
short to show the savings; this is the view that shows it before signing.

The same functions as the business case of a run (``payments.valuation``) value the planned effect: only the
results differ.  Months after the contract term are projections, and are marked as such.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from fractions import Fraction
from typing import Any

from contracts.checks import payable_after, plus_months
from contracts.costs import CostFile
from contracts.model import Contract, Metric
from evaluation.planning import no_outcomes, planned_results, planning_effect
from evaluation.result import POOLED, EffectResult
from payments.messages import TEXTS as P
from payments.money import round_exact
from payments.valuation import (Month, break_even_month, improvements, month_of, month_text, months_between,
                                owed_by_due_month, own_cost_months, savings_months, value_item)

def with_follow_up(contract: Contract, months: int) -> Contract:
    """The contract with every metric that avoids costs or is paid on followed for ``months`` after its start.

    A count or amount summed over the window is taken to accrue at the same rate each month, so its planning
    effect (and planning SD) scale with the window's length: 30 days avoided in 12 months are 60 in 24.  Any
    other metric (a share, a mean, the last value) keeps its planning effect."""
    followed = {m for mech in contract.payments.mechanisms for m in mech.metrics} if contract.payments else set()
    followed |= {m.id for m in contract.metrics if m.avoids}
    metrics = []
    for m in contract.metrics:
        if m.id not in followed:
            metrics.append(m)
            continue
        update: dict[str, Any] = {"window": m.window.model_copy(update={"end_months": months})}
        effect = planning_effect(m)
        if m.aggregation == "sum" and m.kind in ("count", "continuous") and effect is not None:
            factor = Decimal(months - m.window.start_months) / Decimal(m.window.end_months - m.window.start_months)
            ev = {"planning_effect": effect * factor}
            if m.evaluation.planning_sd is not None:
                ev["planning_sd"] = m.evaluation.planning_sd * factor
            update["evaluation"] = m.evaluation.model_copy(update=ev)
        metrics.append(m.model_copy(update=update))
    return contract.model_copy(update={"metrics": metrics})


@dataclass(frozen=True)
class HorizonMonth:
    month: str
    savings: Decimal  # cumulative cashable savings, planned effect at the central cost
    savings_low: Decimal  # low end of the planned effect's interval at the low cost
    savings_high: Decimal
    payments: Decimal  # cumulative outcome payments on the planned effect
    own_costs: Decimal
    principal: Decimal | None
    projection: bool  # after the contract term

    def as_dict(self) -> dict[str, Any]:
        return {"month": self.month, "savings": str(self.savings), "savings_low": str(self.savings_low),
                "savings_high": str(self.savings_high), "payments": str(self.payments),
                "own_costs": str(self.own_costs),
                "principal": None if self.principal is None else str(self.principal), "projection": self.projection}


@dataclass(frozen=True)
class Horizon:
    follow_up_months: int
    months: list[HorizonMonth]
    break_even: str | None  # cumulative cashable savings at or above payments and own costs from then on
    principal_reached: str | None  # cumulative savings reach the principal
    last_payment_due: date | None
    term_end: date
    beyond_term: bool  # windows plus lag end after the term: the contract would need a longer term
    notes: list[dict[str, Any]]

    def as_dict(self) -> dict[str, Any]:
        return {"follow_up_months": self.follow_up_months, "break_even": self.break_even,
                "principal_reached": self.principal_reached,
                "last_payment_due": None if self.last_payment_due is None else self.last_payment_due.isoformat(),
                "term_end": self.term_end.isoformat(), "beyond_term": self.beyond_term, "notes": self.notes,
                "months": [m.as_dict() for m in self.months]}


def _planned_run(contract: Contract, results: dict[tuple[str, str], EffectResult]) -> Any:
    from evaluation.run import EvaluationRun

    # as of the term's start: each payment falls due when its windows close (plus the lag), never later
    return EvaluationRun(0, contract.id, 0, contract.term.start, False, "", "", list(results.values()), {})


def horizon(contract: Contract, costs: CostFile, months: int | None = None) -> Horizon:
    """The horizon of ``contract`` followed for ``months`` (its own windows when None)."""
    terms = with_follow_up(contract, months) if months is not None else contract
    results = planned_results(terms)
    notes = [P("horizon_no_effect", metric=m.id).as_dict() for m in terms.metrics if m.avoids
             and planning_effect(m) is None]
    if terms.payments is not None:
        notes += [P("horizon_per_outcome", mechanism=mech.id).as_dict() for mech in terms.payments.mechanisms
                  if mech.type in ("rate_card", "milestone")]
    valuation = terms.valuation
    assert valuation is not None
    items, sizes = [], {c.id: c.target_size or 0 for c in terms.cohorts}
    for metric in terms.metrics:
        pooled = results.get((metric.id, POOLED))
        if pooled is None:
            continue
        for avoided in metric.avoids:
            items.append(value_item(costs, valuation.price_year, metric, avoided, pooled.n_treated,
                                    improvements(pooled), terms.currency))
    series = {corner: savings_months(terms, items, sizes, effect, scenario) for corner, (effect, scenario) in
              {"central": ("point", "central"), "low": ("low", "low"), "high": ("high", "high")}.items()}
    run = _planned_run(terms, results)
    pay = owed_by_due_month(terms, run, no_outcomes())
    own = own_cost_months(terms)
    principal = terms.investment.principal if terms.investment is not None else None
    dues = [payable_after(terms, m, c) for m in terms.metrics if m.avoids or _paid(terms, m) for c in terms.cohorts]
    last_due = max((d for d in dues if d is not None), default=None)
    every = [m for s in (*series.values(), pay, own) for m in s] + [month_of(terms.term.start),
                                                                   month_of(terms.term.end)]
    first, last = min(every), max(every)
    if last_due is not None:
        last = max(last, month_of(last_due))
    rows: list[HorizonMonth] = []
    totals = {k: Fraction(0) for k in ("central", "low", "high", "pay", "own")}
    reached = None
    net: dict[Month, Fraction] = {}
    for month in months_between(first, last):
        for k in ("central", "low", "high"):
            totals[k] += series[k].get(month, Fraction(0))
        totals["pay"] += pay.get(month, Fraction(0))
        totals["own"] += own.get(month, Fraction(0))
        net[month] = series["central"].get(month, Fraction(0)) - pay.get(month, Fraction(0)) - own.get(month, Fraction(0))
        if principal is not None and reached is None and totals["central"] >= principal and principal > 0:
            reached = month
        cur = terms.currency
        low, high = sorted((totals["low"], totals["high"]))
        rows.append(HorizonMonth(month_text(month), round_exact(totals["central"], cur), round_exact(low, cur),
                                 round_exact(high, cur), round_exact(totals["pay"], cur), round_exact(totals["own"], cur),
                                 principal, month > month_of(terms.term.end)))
    even = break_even_month(net, first, last) if items else None
    return Horizon(months if months is not None else _window(terms), rows,
                   None if even is None else month_text(even), None if reached is None else month_text(reached),
                   last_due, terms.term.end, last_due is not None and last_due > terms.term.end, notes)


def _paid(contract: Contract, metric: Metric) -> bool:
    return contract.payments is not None and any(metric.id in mech.metrics for mech in contract.payments.mechanisms)


def _window(contract: Contract) -> int:
    valued = [m.window.end_months for m in contract.metrics if m.avoids] or [m.window.end_months for m in
                                                                               contract.metrics]
    return max(valued)


def horizon_warnings(contract: Contract) -> list[tuple[tuple, Any]]:
    """(location, message) when the expected cumulative savings reach the investors' principal only after the
    last payment date (or not within the follow-up): the savings come too late to repay in the term."""
    from contracts import costs as cost_files
    from contracts.messages import TEXTS as C

    v = contract.valuation
    if v is None or contract.investment is None or contract.payments is None:
        return []
    costs = cost_files.get(v.costs, v.costs_version)
    if costs is None or not any(m.avoids and planning_effect(m) is not None for m in contract.metrics):
        return []
    h = horizon(contract, costs)
    if h.last_payment_due is None:
        return []
    due = h.last_payment_due
    principal = str(contract.investment.principal)
    if h.principal_reached is None:
        return [(("investment", "principal"), C("horizon_never", principal=principal, due=str(due)))]
    year, month = map(int, h.principal_reached.split("-"))
    reached_end = plus_months(date(year, month, 1), 1)
    if reached_end > due:
        return [(("investment", "principal"), C("horizon_late", principal=principal, month=h.principal_reached,
                                                due=str(due)))]
    return []

