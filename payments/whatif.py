"""What each evidence rule would have paid: the contract's mechanisms re-run with ``pays_on`` substituted.

``sib payments CONTRACT --what-if`` shows, for the latest (or a chosen) evaluation run, what every mechanism
and the contract as a whole would owe to date if it paid on the point estimate, on the lower bound of the
confidence interval, or only on a significant effect.  Nothing is written: this is ``owed_to_date`` (every
cap, the rounding and the payer split included) on a copy of the terms, once per rule.

A rule that a mechanism cannot take (``lower_bound`` for a rate card or a milestone, which pay per verified
outcome, not per unit of improvement) is not applicable to it: its amount under that rule is None, and in
that rule's total it counts as the contract writes it.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pandas as pd

from contracts.checks import PER_OUTCOME
from contracts.model import PAYS_ON_RULES, Contract
from evaluation.run import EvaluationRun
from payments.calculate import owed_to_date
from payments.money import ZERO, PaymentError


def applies(mechanism_type: str, rule: str) -> bool:
    """Whether a mechanism of this type can pay on ``rule`` (the contract checks refuse the others)."""
    return not (mechanism_type in PER_OUTCOME and rule == "lower_bound")


def with_rule(contract: Contract, rule: str) -> Contract:
    """The contract's terms with every mechanism that can take it paying on ``rule``; the others unchanged."""
    mechanisms = [m.model_copy(update={"pays_on": rule}) if applies(m.type, rule) else m
                  for m in contract.payments.mechanisms]
    return contract.model_copy(update={"payments": contract.payments.model_copy(update={"mechanisms": mechanisms})})


def what_if(contract: Contract, run: EvaluationRun, outcomes: pd.DataFrame) -> dict[str, Any]:
    """What each rule would owe to date on ``run``: per mechanism and in total, as Decimal (rounded, after caps).

    Returns ``{"evaluation_run", "currency", "rules", "mechanisms": [{"mechanism", "type", "pays_on",
    "amounts": {rule: Decimal | None}}], "total": {rule: Decimal | None}, "as_written": Decimal | None,
    "refused": {rule: Message dict}}``.  ``pays_on`` is the mechanism's rule as the contract writes it
    (point_estimate when unset); ``as_written`` the total under the contract's own rules.  A rule under which
    the calculation is refused (an amount beyond the maximum) has no amounts and says why in ``refused``.
    """
    owed: dict[str, dict[str, Decimal] | None] = {}
    refused: dict[str, dict[str, Any]] = {}
    for rule in (*PAYS_ON_RULES, "as_written"):
        terms = contract if rule == "as_written" else with_rule(contract, rule)
        try:
            items = owed_to_date(terms, run, outcomes)
        except PaymentError as exc:
            owed[rule] = None
            refused[rule] = exc.message.as_dict()
            continue
        sums: dict[str, Decimal] = {m.id: ZERO for m in contract.payments.mechanisms}
        for item in items:
            sums[item.mechanism] += item.amount
        owed[rule] = sums
    def amount(rule: str, mechanism: Any) -> Decimal | None:
        sums = owed[rule]
        return sums[mechanism.id] if sums is not None and applies(mechanism.type, rule) else None

    def total(rule: str) -> Decimal | None:
        sums = owed[rule]
        return sum(sums.values(), ZERO) if sums is not None else None

    return {"evaluation_run": run.id, "currency": contract.currency, "rules": list(PAYS_ON_RULES),
            "mechanisms": [{"mechanism": m.id, "type": m.type, "pays_on": m.pays_on or "point_estimate",
                            "amounts": {rule: amount(rule, m) for rule in PAYS_ON_RULES}}
                           for m in contract.payments.mechanisms],
            "total": {rule: total(rule) for rule in PAYS_ON_RULES}, "as_written": total("as_written"),
            "refused": refused}
