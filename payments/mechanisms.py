"""Payment mechanisms: what an evaluation run's results are worth under the contract.

Each function is pure: a mechanism's terms and the run's results in, a list
of ``Line`` out.  A line is the cumulative amount owed to date for one
mechanism and cohort, unrounded, with a basis that shows every input of the
formula.  Caps, the payer split and rounding come later, in ``calculate``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Callable

import numpy as np
import pandas as pd

from contracts.model import ComparisonThreshold, Contract, Milestone, RateCard, SavingsShare
from evaluation.result import POOLED, EffectResult
from payments.messages import TEXTS as P
from payments.money import ZERO, quantity


@dataclass
class Line:
    mechanism: str
    cohort: str
    amount: Decimal
    basis: dict[str, Any] = field(default_factory=dict)


Results = Callable[[str, str], EffectResult | None]  # (metric, cohort) -> result


@dataclass(frozen=True)
class Evidence:
    """What an evaluation run found: results by metric and cohort, and each treated participant's outcomes."""

    result: Results
    outcomes: pd.DataFrame  # metric, participant_id, cohort, achieved


def _cohorts(contract: Contract) -> list[str]:
    return [c.id for c in contract.cohorts]


def _scale(amounts: list[Decimal | None]) -> int:
    """Minor units fine enough to hold every amount exactly (at least hundredths)."""
    places = max([2] + [-a.as_tuple().exponent for a in amounts if a is not None and a.as_tuple().exponent < 0])
    return 10 ** places


def _units(amount: Decimal, scale: int) -> int:
    return int(amount * scale)


def per_outcome(mech: RateCard | Milestone, contract: Contract, evidence: Evidence) -> list[Line]:
    """rate_card and milestone: a price per verified outcome per participant, per cohort.

    Per participant: only achieved outcomes the card prices; of each ``exclusive`` group only the
    highest-priced; at most ``max_outcomes_per_participant``, the highest-priced first; then
    ``cap_per_participant``.  Per cohort: the sum, then ``cap_per_cohort``.  Amounts are summed as whole
    minor units (integers), so the sums are exact and fast; the cap that bites is said, with by how much.
    """
    if isinstance(mech, RateCard):
        prices = {o.metric: o.price for o in mech.priced()}
        groups = {metric: f"exclusive {j}" for j, group in enumerate(mech.exclusive) for metric in group}
        most, cap_pp, cap_cohort = mech.max_outcomes_per_participant, mech.cap_per_participant, mech.cap_per_cohort
    else:
        prices, groups, most, cap_pp, cap_cohort = {mech.metric: mech.amount}, {}, 1, None, None
    scale = _scale([*prices.values(), cap_pp, cap_cohort])
    outcomes = evidence.outcomes
    metrics = list(prices)
    # Integer codes throughout: a metric's position in the card, a group per exclusive set (or per metric).
    cohorts = [c.id for c in contract.cohorts]
    metric_code = pd.Index(metrics).get_indexer(outcomes["metric"])
    all_cohorts = pd.Index(cohorts).get_indexer(outcomes["cohort"])
    keep = (metric_code >= 0) & (all_cohorts >= 0) & outcomes["achieved"].to_numpy(dtype=bool)
    code = metric_code[keep]
    person = outcomes["participant_id"].to_numpy()[keep].astype(np.int64)
    cohort_code = all_cohorts[keep]
    achieved_counts = np.bincount(cohort_code * len(metrics) + code, minlength=len(cohorts) * len(metrics))
    price_of = np.array([_units(prices[m], scale) for m in metrics], dtype=np.int64)
    group_names = list(dict.fromkeys(groups.get(m, m) for m in metrics))
    group_of = np.array([group_names.index(groups.get(m, m)) for m in metrics], dtype=np.int64)
    price = price_of[code]
    # Highest price first within each participant (ties by the card's order), then:
    order = np.lexsort((code, -price, person))
    person, code, price, cohort_code = person[order], code[order], price[order], cohort_code[order]
    # ... of each exclusive group only the first (the highest-priced) ...
    group_key = person * len(group_names) + group_of[code]
    first = np.zeros(len(group_key), dtype=bool)
    first[np.unique(group_key, return_index=True)[1]] = True
    dropped_exclusive = int((~first).sum())
    person, code, price, cohort_code = person[first], code[first], price[first], cohort_code[first]
    # ... and at most ``most`` outcomes per participant.
    starts = np.r_[0, np.flatnonzero(np.diff(person)) + 1] if len(person) else np.array([], dtype=np.int64)
    rank = np.arange(len(person)) - np.repeat(starts, np.diff(np.r_[starts, len(person)]))
    within = rank < most
    dropped_max = int((~within).sum())
    person, code, price, cohort_code = person[within], code[within], price[within], cohort_code[within]
    starts = np.r_[0, np.flatnonzero(np.diff(person)) + 1] if len(person) else np.array([], dtype=np.int64)
    per_person = np.add.reduceat(price, starts) if len(person) else np.array([], dtype=np.int64)
    person_cohort = cohort_code[starts] if len(person) else np.array([], dtype=np.int64)
    lines = []
    for index, cohort in enumerate(cohorts):
        people = per_person[person_cohort == index]
        gross = int(people.sum())
        basis: dict[str, Any] = {
            "metrics": metrics, "prices": {m: str(p) for m, p in prices.items()},
            "achieved": {m: int(achieved_counts[index * len(metrics) + i]) for i, m in enumerate(metrics)},
            "participants_paid": int(len(people)), "outcomes_paid": int((cohort_code == index).sum()),
        }
        caps = []
        amount = gross
        if cap_pp is not None:
            limit = _units(cap_pp, scale)
            capped = int(np.minimum(people, limit).sum())
            if capped < gross:
                caps.append({"cap": "per_participant", "limit": str(cap_pp), "participants": int((people > limit).sum()),
                             "reduced_by": str(Decimal(gross - capped) / scale)})
            amount = capped
        if cap_cohort is not None and amount > _units(cap_cohort, scale):
            caps.append({"cap": "per_cohort", "limit": str(cap_cohort),
                         "reduced_by": str(Decimal(amount - _units(cap_cohort, scale)) / scale)})
            amount = _units(cap_cohort, scale)
        basis["trail"] = P("rate_card", outcomes=basis["outcomes_paid"], participants=basis["participants_paid"],
                           achieved=[P("count_of", n=n, metric=m).as_dict() for m, n in basis["achieved"].items()],
                           prices=[P("price_of", metric=m, price=str(p)).as_dict() for m, p in prices.items()],
                           gross=str(Decimal(gross) / scale)).as_dict()
        if caps:
            basis["caps"] = caps
        lines.append(Line(mech.id, cohort, Decimal(amount) / scale, basis))
    if lines and (dropped_exclusive or dropped_max):
        lines[0].basis["not_paid"] = {"exclusive": dropped_exclusive, "over_max_per_participant": dropped_max}
    return lines


def _significant(r: EffectResult, alpha: Decimal) -> bool:
    return r.p_value is not None and Decimal(str(r.p_value)) < alpha


def comparison_threshold(mech: ComparisonThreshold, contract: Contract, result: Results) -> list[Line]:
    """Peterborough: per cohort at ``cohort_threshold``; across cohorts at ``overall_threshold``.

    A payment is price per unit × improvement per participant × participants.
    The final, pooled payment is reduced by what the cohort payments already
    paid, so no improvement is paid twice.
    """
    alpha = contract.metric(mech.metric).evaluation.alpha
    lines: list[Line] = []

    def owed(r: EffectResult | None, threshold: Decimal) -> tuple[Decimal, dict[str, Any]]:
        if r is None or r.relative_improvement is None or r.improvement is None:
            return ZERO, {"triggered": False, "trail": P("no_estimate").as_dict()}
        relative, improvement = quantity(r.relative_improvement), quantity(r.improvement)
        basis: dict[str, Any] = {
            "relative_improvement": str(relative), "threshold": str(threshold),
            "improvement_per_participant": str(improvement), "participants": r.n_treated,
            "price_per_unit": str(mech.price_per_unit), "p_value": r.p_value, "triggered": False,
        }
        against = {"relative": str(relative), "threshold": str(threshold)}
        if relative < threshold:
            return ZERO, basis | {"trail": P("threshold_below", **against).as_dict()}
        if mech.require_significance and not _significant(r, alpha):
            return ZERO, basis | {"trail": P("threshold_not_significant", **against, alpha=str(alpha)).as_dict()}
        amount = mech.price_per_unit * improvement * r.n_treated
        return amount, basis | {"triggered": True, "trail": P(
            "threshold_reached", **against, price=str(mech.price_per_unit), improvement=str(improvement),
            participants=r.n_treated, amount=str(amount)).as_dict()}

    for cohort in _cohorts(contract):
        amount, basis = owed(result(mech.metric, cohort), mech.cohort_threshold)
        lines.append(Line(mech.id, cohort, amount, basis | {"metric": mech.metric}))
    if mech.overall_threshold is not None and len(lines) > 1:
        amount, basis = owed(result(mech.metric, POOLED), mech.overall_threshold)
        paid_by_cohorts = sum((line.amount for line in lines), ZERO)
        final = max(ZERO, amount - paid_by_cohorts) if amount > 0 else ZERO
        trail = (P("all_cohorts_less", trail=basis["trail"], paid=str(paid_by_cohorts), final=str(final)) if amount > 0
                 else P("all_cohorts", trail=basis["trail"]))
        lines.append(Line(mech.id, POOLED, final, basis | {
            "metric": mech.metric, "pooled_amount": str(amount), "less_cohort_payments": str(paid_by_cohorts),
            "trail": trail.as_dict(),
        }))
    return lines


def savings_share(mech: SavingsShare, contract: Contract, result: Results) -> list[Line]:
    """Norrköping: verified savings repaid one-for-one up to ``repay_up_to``, then ``share_above`` of the rest."""
    r = result(mech.metric, POOLED)
    if r is None or r.improvement is None:
        return [Line(mech.id, POOLED, ZERO, {"metric": mech.metric, "trail": P("no_estimate").as_dict()})]
    improvement = max(ZERO, quantity(r.improvement))
    savings = improvement * r.n_treated * mech.unit_value
    repaid = min(savings, mech.repay_up_to)
    above = max(ZERO, savings - mech.repay_up_to) * mech.share_above
    return [Line(mech.id, POOLED, repaid + above, {
        "metric": mech.metric,
        "trail": P("savings", improvement=str(improvement), participants=r.n_treated, unit=str(mech.unit_value),
                   savings=str(savings), repaid=str(repaid), upto=str(mech.repay_up_to), share=str(mech.share_above),
                   above=str(max(ZERO, savings - mech.repay_up_to)), amount=str(repaid + above)).as_dict(),
        "improvement_per_participant": str(improvement), "participants": r.n_treated,
        "unit_value": str(mech.unit_value), "savings": str(savings), "repay_up_to": str(mech.repay_up_to),
        "share_above": str(mech.share_above),
    })]


def lines_for(contract: Contract, evidence: Evidence) -> list[Line]:
    """Every mechanism's lines, in the order the contract lists them."""
    lines: list[Line] = []
    for mech in contract.payments.mechanisms:
        if isinstance(mech, (RateCard, Milestone)):
            lines += per_outcome(mech, contract, evidence)
        elif isinstance(mech, ComparisonThreshold):
            lines += comparison_threshold(mech, contract, evidence.result)
        else:
            lines += savings_share(mech, contract, evidence.result)
    return lines
