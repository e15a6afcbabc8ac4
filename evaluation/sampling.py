"""Resampling for forecasts: effect estimates drawn from their sampling distribution, open outcomes bootstrapped."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
from scipy import special

from evaluation.result import POOLED, EffectResult

# scipy.stats.norm's ppf(0.975) and sf(z) are special.ndtri(0.975) and special.ndtr(-z): the same numbers, without
# the distribution object's argument checks, which cost a forecast's thousand draws per result a second.
Z_975 = float(special.ndtri(0.975))


def standard_error(r: EffectResult) -> float | None:
    """The standard error implied by a result's 95 % interval (None without one)."""
    if r.ci_low is None or r.ci_high is None:
        return None
    return (r.ci_high - r.ci_low) / (2 * Z_975)


def draw_estimate(r: EffectResult, rng: np.random.Generator) -> EffectResult:
    """The result with its estimate drawn from its sampling distribution (unchanged if it has none)."""
    se = standard_error(r)
    if r.estimate is None or se is None or se <= 0:
        return r
    estimate = float(rng.normal(r.estimate, se))
    return dataclasses.replace(r, estimate=estimate, ci_low=estimate - (r.estimate - r.ci_low),
                               ci_high=estimate + (r.ci_high - r.estimate),
                               p_value=float(2 * special.ndtr(-abs(estimate) / se))).finish()


def fill_pending(outcomes: pd.DataFrame, results: dict[tuple[str, str], EffectResult],
                  rng: np.random.Generator) -> pd.DataFrame:
    """Observed outcomes, plus a bootstrap draw for each participant whose window is still open."""
    parts = [outcomes]
    next_id = -1
    for (metric, cohort), r in results.items():
        if cohort == POOLED or not r.n_pending:
            continue
        observed = outcomes[(outcomes["metric"] == metric) & (outcomes["cohort"] == cohort)]
        if observed.empty:
            observed = outcomes[outcomes["metric"] == metric]
        if observed.empty:
            continue
        picks = observed.iloc[rng.integers(0, len(observed), r.n_pending)]
        ids = np.arange(next_id, next_id - r.n_pending, -1)  # stand-ins, never a real participant id
        next_id -= r.n_pending
        parts.append(picks.assign(participant_id=ids, cohort=cohort))
    return pd.concat(parts, ignore_index=True) if len(parts) > 1 else outcomes
