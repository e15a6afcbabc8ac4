"""Synthetic control for a single treated unit (Abadie & Gardeazabal 2003; Abadie, Diamond & Hainmueller 2010).

A municipality (or district, school) that changed its practice is compared with a weighted average of the others:
the weights are non-negative, sum to one, and make the weighted average follow the treated unit's own values as
closely as possible before the start (least squares over the pre-period outcomes, every pre-period equally
weighted; scipy's SLSQP on the quadratic programme).  The effect is the mean gap, treated minus synthetic, after
the start.  How well the synthetic unit fits before the start is the pre-period RMSPE (root mean squared
prediction error); a poor fit (above ``POOR_FIT`` of the treated unit's mean absolute pre-period value) is a
warning, because then the synthetic unit is not a credible counterfactual.

Inference is placebo-in-space (ADH 2010, section 4): each comparison unit in turn is treated as if it had
started, with the other comparison units as its donors, and the ratio of post- to pre-period RMSPE is computed
for all; the p-value is the rank of the treated unit's ratio, (1 + #{placebo ratio >= treated ratio}) / (1 + J).
With fewer than 1/alpha placebos no p-value can fall below alpha, and the result says so.  There is no
confidence interval.  Several treated units are averaged into one treated series first (the synthetic control of
their mean), which the diagnostics state.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.optimize import minimize

from contracts.model import Metric
from evaluation.did import _rates
from evaluation.messages import TEXTS as W
from evaluation.result import EffectResult

POOR_FIT = 0.1  # pre-period RMSPE above this share of the treated unit's mean |value| before the start: a warning
PLOT_FIT = 5.0  # placebos fitting worse than 5x the treated unit's pre-period RMSPE are left out of the gap plot


def weights(treated: np.ndarray, donors: np.ndarray) -> np.ndarray:
    """Non-negative weights summing to one minimising ||treated - donors @ w||² (rows periods, columns donors)."""
    j = donors.shape[1]
    if j == 1:
        return np.ones(1)
    scale = max(float(np.abs(donors).max()), float(np.abs(treated).max()), 1e-300)
    a, b = donors / scale, treated / scale
    p, q = a.T @ a, a.T @ b
    result = minimize(lambda w: 0.5 * w @ p @ w - q @ w, np.full(j, 1.0 / j), jac=lambda w: p @ w - q,
                      method="SLSQP", bounds=[(0.0, 1.0)] * j,
                      constraints=[{"type": "eq", "fun": lambda w: w.sum() - 1.0, "jac": lambda w: np.ones(j)}],
                      options={"ftol": 1e-14, "maxiter": 1000})
    w = np.clip(result.x, 0.0, None)
    return w / w.sum()


def _rmspe(gaps: np.ndarray) -> float:
    return float(np.sqrt(np.mean(gaps ** 2))) if len(gaps) else float("nan")


def fit_one(treated: np.ndarray, donors: np.ndarray, pre: np.ndarray) -> dict:
    w = weights(treated[pre], donors[pre])
    gaps = treated - donors @ w
    before, after = _rmspe(gaps[pre]), _rmspe(gaps[~pre])
    floor = 1e-12 * max(float(np.abs(treated).max()), 1e-300)
    return {"weights": w, "gaps": gaps, "rmspe_pre": before, "rmspe_post": after,
            "ratio": after / max(before, floor)}


def estimate(data: pd.DataFrame, metric: Metric, cohort: str) -> EffectResult:
    """``data`` as for difference-in-differences: unit, period, value, treated, post."""
    alpha = float(metric.evaluation.alpha)
    treated_ids = sorted(data.loc[data["treated"] == 1, "unit"].unique())
    wide = data.pivot_table(index="period", columns="unit", values="value", aggfunc="mean").sort_index()
    post_by_period = data.groupby("period")["post"].max().reindex(wide.index).astype(bool).to_numpy()
    comparison = [u for u in wide.columns if u not in set(treated_ids)]
    complete = [u for u in comparison if wide[u].notna().all()]
    result = EffectResult(metric=metric.id, cohort=cohort, design="synthetic_control", direction=metric.direction,
                          n_treated=len(treated_ids), n_comparison=len(complete))
    _rates(data, metric, result)
    treated_series = wide[treated_ids].mean(axis=1).to_numpy() if treated_ids else np.array([])
    observed = ~np.isnan(treated_series) if treated_ids else np.zeros(len(wide), dtype=bool)
    pre, post = observed & ~post_by_period, observed & post_by_period
    if not treated_ids or not complete or not pre.any() or not post.any():
        result.warnings.append(W("synth_no_counterfactual"))
        result.is_effect = False
        if treated_ids and post.any():
            result.treated_mean = float(np.mean(treated_series[post]))
        return result
    keep = observed
    y1, y0, pre_k = treated_series[keep], wide[complete].to_numpy()[keep], pre[keep]
    periods = [int(p) for p in wide.index[keep]]
    main = fit_one(y1, y0, pre_k)
    gaps = main["gaps"]
    result.estimate = float(np.mean(gaps[~pre_k]))
    result.treated_mean = float(np.mean(y1[~pre_k]))
    result.counterfactual_mean = result.treated_mean - result.estimate
    placebo = []
    for i in range(len(complete)):
        others = [k for k in range(len(complete)) if k != i]
        if others:
            placebo.append(fit_one(y0[:, i], y0[:, others], pre_k))
    ratios = np.array([p["ratio"] for p in placebo])
    level = float(np.mean(np.abs(y1[pre_k])))
    result.diagnostics.update({
        "model": "synthetic control: non-negative weights summing to one on the pre-period outcomes",
        "treated_units": [str(u) for u in treated_ids], "donors_left_out": len(comparison) - len(complete),
        "weights": {str(u): float(w) for u, w in zip(complete, main["weights"]) if w > 1e-6},
        "rmspe_pre": main["rmspe_pre"], "rmspe_post": main["rmspe_post"], "rmspe_ratio": main["ratio"],
        "pre_periods": int(pre_k.sum()), "post_periods": int((~pre_k).sum()),
        "gaps": [{"period": p, "gap": float(g), "post": not b} for p, g, b in zip(periods, gaps, pre_k)],
        "placebo_gaps": [[float(g) for g in p["gaps"]] for p in placebo
                         if p["rmspe_pre"] <= PLOT_FIT * max(main["rmspe_pre"], 1e-300)],
        "placebos": len(placebo),
    })
    if len(treated_ids) > 1:
        result.diagnostics["note"] = "several treated units: the synthetic control of their mean"
    if level > 0 and main["rmspe_pre"] > POOR_FIT * level:
        result.warnings.append(W("synth_poor_fit", rmspe=main["rmspe_pre"], share=main["rmspe_pre"] / level,
                                 limit=POOR_FIT))
    smallest = 1.0 / (len(placebo) + 1)
    if smallest >= alpha:
        result.warnings.append(W("did_too_few_placebos", placebos=len(placebo), smallest=smallest, alpha=alpha))
    if len(placebo):
        result.p_value = float((1 + np.sum(ratios >= main["ratio"] * (1 - 1e-9))) / (len(placebo) + 1))
        result.diagnostics["placebo_ratio_quantiles"] = {str(q): float(np.quantile(ratios, q)) for q in (0.5, 0.9)}
    result.diagnostics["inference"] = "placebo-in-space: rank of the post/pre RMSPE ratio; no confidence interval"
    return result.finish()
