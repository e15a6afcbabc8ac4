"""The planned effect as results: what a contract expects its cohorts to show, before any data.

The follow-up horizon (``payments.horizon``) values these results with the same functions as a run's; they are
statistical quantities (an effect and its standard error), so they live here, not among the payment code.
"""

from __future__ import annotations

import math
from decimal import Decimal

import pandas as pd

from contracts.model import Contract, Metric
from evaluation.result import POOLED, EffectResult

Z95 = 1.959963984540054
ONE_SAMPLE = ("fixed_baseline",)  # designs whose estimate has no comparison group's noise


def planning_effect(metric: Metric) -> Decimal | None:
    ev = metric.evaluation
    if ev.planning_effect is not None:
        return ev.planning_effect
    mean = ev.planning_mean if ev.planning_mean is not None else ev.baseline
    if metric.target is None or mean is None:
        return None
    return metric.target - mean


def planned_results(contract: Contract) -> dict[tuple[str, str], EffectResult]:
    """Per metric with a planning effect, per cohort and pooled: the planned effect on the target size, with
    the interval a cohort of that size would have (from ``planning_sd``; none without it)."""
    results: dict[tuple[str, str], EffectResult] = {}
    sizes = {c.id: c.target_size or 0 for c in contract.cohorts}
    for metric in contract.metrics:
        effect = planning_effect(metric)
        if effect is None:
            continue
        ev = metric.evaluation
        mean = ev.planning_mean if ev.planning_mean is not None else ev.baseline
        for cohort, n in [*sizes.items(), (POOLED, sum(sizes.values()))]:
            if not n:
                continue
            se = None
            if ev.planning_sd is not None:
                se = float(ev.planning_sd) * math.sqrt((1 if ev.design in ONE_SAMPLE else 2) / n)
            r = EffectResult(metric.id, cohort, ev.design, metric.direction, n_treated=n,
                             counterfactual_mean=None if mean is None else float(mean),
                             treated_mean=None if mean is None else float(mean + effect), estimate=float(effect),
                             ci_low=None if se is None else float(effect) - Z95 * se,
                             ci_high=None if se is None else float(effect) + Z95 * se, se=se)
            results[(metric.id, cohort)] = r.finish()
    return results


def no_outcomes() -> pd.DataFrame:
    """A run's per-participant outcomes (``evaluation.run.run_outcomes``) before there are any: the planned case
    pays on results alone (rate cards and milestones, which pay per participant, pay nothing on it)."""
    return pd.DataFrame({"metric": pd.Series(dtype=object), "participant_id": pd.Series(dtype="int64"),
                         "cohort": pd.Series(dtype=object), "value": pd.Series(dtype=float),
                         "achieved": pd.Series(dtype=bool)})
