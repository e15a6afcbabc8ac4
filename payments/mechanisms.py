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

from contracts.model import ComparisonThreshold, Contract, Milestone, RateCard, SavingsShare
from evaluation.result import POOLED, EffectResult
from payments.money import ZERO, quantity


@dataclass
class Line:
    mechanism: str
    cohort: str
    amount: Decimal
    basis: dict[str, Any] = field(default_factory=dict)


Results = Callable[[str, str], EffectResult | None]  # (metric, cohort) -> result


def _cohorts(contract: Contract) -> list[str]:
    return [c.id for c in contract.cohorts]


def per_outcome(mech: RateCard | Milestone, contract: Contract, result: Results) -> list[Line]:
    """rate_card and milestone: a price per participant whose outcome is achieved, per cohort."""
    price = mech.price if isinstance(mech, RateCard) else mech.amount
    per_participant = price
    if isinstance(mech, RateCard) and mech.cap_per_participant is not None:
        per_participant = min(price * mech.max_outcomes_per_participant, mech.cap_per_participant)
    lines = []
    for cohort in _cohorts(contract):
        r = result(mech.metric, cohort)
        achieved = (r.n_achieved or 0) if r is not None else 0
        amount = per_participant * achieved
        basis = {"explanation": f"{achieved} participants achieved the outcome × {per_participant} = {amount}",
                 "metric": mech.metric, "achieved": achieved, "price": str(per_participant)}
        if isinstance(mech, RateCard) and mech.cap_per_cohort is not None and amount > mech.cap_per_cohort:
            basis["cap_per_cohort"] = {"cap": str(mech.cap_per_cohort), "reduced_by": str(amount - mech.cap_per_cohort)}
            amount = mech.cap_per_cohort
        lines.append(Line(mech.id, cohort, amount, basis))
    return lines


def _pct(share: Decimal) -> str:
    return f"{share * 100:.1f} %"


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
            return ZERO, {"triggered": False, "explanation": "no effect estimate: nothing due"}
        relative, improvement = quantity(r.relative_improvement), quantity(r.improvement)
        basis: dict[str, Any] = {
            "relative_improvement": str(relative), "threshold": str(threshold),
            "improvement_per_participant": str(improvement), "participants": r.n_treated,
            "price_per_unit": str(mech.price_per_unit), "p_value": r.p_value, "triggered": False,
        }
        reached = f"relative improvement {_pct(relative)} against threshold {_pct(threshold)}"
        if relative < threshold:
            return ZERO, basis | {"explanation": f"{reached}: below, nothing due"}
        if mech.require_significance and not _significant(r, alpha):
            return ZERO, basis | {"explanation": f"{reached}, but not significant at {alpha}: nothing due"}
        amount = mech.price_per_unit * improvement * r.n_treated
        return amount, basis | {"triggered": True, "explanation": (
            f"{reached}: reached; {mech.price_per_unit} per unit × {improvement} improvement "
            f"× {r.n_treated} participants = {amount}")}

    for cohort in _cohorts(contract):
        amount, basis = owed(result(mech.metric, cohort), mech.cohort_threshold)
        lines.append(Line(mech.id, cohort, amount, basis | {"metric": mech.metric}))
    if mech.overall_threshold is not None and len(lines) > 1:
        amount, basis = owed(result(mech.metric, POOLED), mech.overall_threshold)
        paid_by_cohorts = sum((line.amount for line in lines), ZERO)
        final = max(ZERO, amount - paid_by_cohorts) if amount > 0 else ZERO
        explanation = f"all cohorts: {basis['explanation']}"
        if amount > 0:
            explanation += f"; less {paid_by_cohorts} already due for the cohorts = {final}"
        lines.append(Line(mech.id, POOLED, final, basis | {
            "metric": mech.metric, "pooled_amount": str(amount), "less_cohort_payments": str(paid_by_cohorts),
            "explanation": explanation,
        }))
    return lines


def savings_share(mech: SavingsShare, contract: Contract, result: Results) -> list[Line]:
    """Norrköping: verified savings repaid one-for-one up to ``repay_up_to``, then ``share_above`` of the rest."""
    r = result(mech.metric, POOLED)
    if r is None or r.improvement is None:
        return [Line(mech.id, POOLED, ZERO, {"metric": mech.metric, "explanation": "no effect estimate: nothing due"})]
    improvement = max(ZERO, quantity(r.improvement))
    savings = improvement * r.n_treated * mech.unit_value
    repaid = min(savings, mech.repay_up_to)
    above = max(ZERO, savings - mech.repay_up_to) * mech.share_above
    return [Line(mech.id, POOLED, repaid + above, {
        "metric": mech.metric,
        "explanation": (f"savings {improvement} per participant × {r.n_treated} participants × {mech.unit_value} "
                        f"= {savings}; repaid {repaid} one-for-one up to {mech.repay_up_to}, "
                        f"plus {mech.share_above} × {max(ZERO, savings - mech.repay_up_to)} above it = {repaid + above}"),
        "improvement_per_participant": str(improvement), "participants": r.n_treated,
        "unit_value": str(mech.unit_value), "savings": str(savings), "repay_up_to": str(mech.repay_up_to),
        "share_above": str(mech.share_above),
    })]


def lines_for(contract: Contract, result: Results) -> list[Line]:
    """Every mechanism's lines, in the order the contract lists them."""
    lines: list[Line] = []
    for mech in contract.payments.mechanisms:
        if isinstance(mech, (RateCard, Milestone)):
            lines += per_outcome(mech, contract, result)
        elif isinstance(mech, ComparisonThreshold):
            lines += comparison_threshold(mech, contract, result)
        else:
            lines += savings_share(mech, contract, result)
    return lines
