"""Time to event with censoring: Kaplan–Meier per arm, log-rank, event-free share and RMST, Cox regression.

A metric of ``kind: time_to_event`` follows each participant from the start of the metric's window (counted
from the enrolment start, the exit or a dated event, as the window says) to its end.  A measurement of the metric with value ≥ 1 records that the event happened on its ``observed_on``
date (0 records a check that found none); the first such measurement in the window is the event, and its
time is the number of days from the window's start.  A participant without one is censored at the window's
end or, when the window is still open on the as-of date, at the as-of date: an open window contributes
the time observed so far instead of being left out.

Per arm: the Kaplan–Meier curve with its Greenwood standard error (statsmodels ``SurvfuncRight``) and a
pointwise interval on the log(−log) scale; the share event-free at τ, the end of the window in days (its
shortest length over participants, so every window covers it); the restricted mean survival time up to τ
(the area under the curve) with its Greenwood-type variance.  Between arms: the log-rank test
(statsmodels ``survdiff``), the difference in RMST, and, when the metric states covariates, a Cox
regression (statsmodels ``PHReg``, Efron ties) of the hazard on treatment and the covariates.

The effect that a payment rests on is the difference in the share event-free at τ (treated minus
comparison), with a Wald interval from the two Greenwood standard errors.  The metric's direction is read
on time: ``higher_is_better`` means later events, so more event-free participants, are better.
"""

from __future__ import annotations

import math
from datetime import date
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats
from statsmodels.duration.hazard_regression import PHReg
from statsmodels.duration.survfunc import SurvfuncRight, survdiff

from contracts.model import Contract, Metric
from evaluation import sensitivity
from evaluation.covariates import design_matrix
from evaluation.inputs import Inputs
from evaluation.messages import TEXTS as W
from evaluation.outcomes import window_anchor
from evaluation.result import POOLED, EffectResult

COMPARED = ("randomised", "historical_cohort")


def follow_up(inputs: Inputs, metric: Metric, as_of: date) -> pd.DataFrame:
    """participant_id, cohort, arm, start, time (days), event, horizon (days) and attributes, one row each.

    Participants whose window had not started by ``as_of`` are left out (no time at risk yet), as are those
    whose window counts from an exit or event that has not happened by then.
    """
    enrolled = inputs.enrolments.sort_values(["participant_id", "start"], kind="stable").drop_duplicates("participant_id")
    frame = enrolled.merge(inputs.participants, on="participant_id", how="left")
    anchor = window_anchor(inputs, frame, metric.window)  # enrolment start, exit or a dated event (NaT: not yet)
    low = anchor + pd.DateOffset(months=metric.window.start_months)
    high = anchor + pd.DateOffset(months=metric.window.end_months)
    stop = high.where(high <= pd.Timestamp(as_of) + pd.Timedelta(days=1), pd.Timestamp(as_of) + pd.Timedelta(days=1))
    frame = frame.assign(low=low, high=high, stop=stop)
    rows = inputs.measurements[(inputs.measurements["metric"] == metric.id) & (inputs.measurements["value"] >= 1)]
    rows = rows.merge(frame[["participant_id", "low", "stop"]], on="participant_id")
    rows = rows[(rows["observed_on"] >= rows["low"]) & (rows["observed_on"] < rows["stop"])]
    first = rows.groupby("participant_id")["observed_on"].min()
    event_on = frame["participant_id"].map(first)
    frame["event"] = event_on.notna()
    frame["time"] = ((event_on.where(frame["event"], frame["stop"]) - frame["low"]).dt.days).astype(float)
    frame["horizon"] = (frame["high"] - frame["low"]).dt.days.astype(float)
    frame["closed"] = frame["stop"] >= frame["high"]
    return frame[frame["stop"] > frame["low"]].drop(columns=["low", "high", "stop"]).reset_index(drop=True)


def kaplan_meier(time: np.ndarray, event: np.ndarray, alpha: float = 0.05) -> pd.DataFrame:
    """The curve at each event time: time, at_risk, events, survival, se (Greenwood), low, high (log-log)."""
    sf = SurvfuncRight(np.asarray(time, dtype=float), np.asarray(event, dtype=float))
    s, se = np.asarray(sf.surv_prob), np.asarray(sf.surv_prob_se)
    z = stats.norm.ppf(1 - alpha / 2)
    with np.errstate(divide="ignore", invalid="ignore"):
        # log(-log) interval (Kalbfleisch–Prentice): S^exp(±z·se/(S·log S)); at S = 1 or 0 the interval is a point.
        theta = z * se / (s * np.log(s))
        low, high = s ** np.exp(-theta), s ** np.exp(theta)
    low, high = np.where(np.isfinite(low), low, s), np.where(np.isfinite(high), high, s)
    return pd.DataFrame({"time": np.asarray(sf.surv_times, dtype=float), "at_risk": np.asarray(sf.n_risk),
                         "events": np.asarray(sf.n_events), "survival": s, "se": se,
                         "low": np.minimum(low, high), "high": np.maximum(low, high)})


def at(curve: pd.DataFrame, t: float) -> tuple[float, float, float, float]:
    """Survival, Greenwood SE and interval at time t (the step function, right-continuous)."""
    before = curve[curve["time"] <= t]
    if before.empty:
        return 1.0, 0.0, 1.0, 1.0
    row = before.iloc[-1]
    return float(row["survival"]), float(row["se"]), float(row["low"]), float(row["high"])


def rmst(curve: pd.DataFrame, tau: float) -> tuple[float, float]:
    """Restricted mean survival time up to τ, and its variance: Σ_{t_j ≤ τ} A_j² d_j / (n_j (n_j − d_j)),
    A_j = ∫_{t_j}^{τ} S(u) du (the Greenwood-type estimator; Klein & Moeschberger 2003, 4.5)."""
    steps = curve[curve["time"] <= tau]
    times = np.r_[0.0, steps["time"].to_numpy(), tau]
    levels = np.r_[1.0, steps["survival"].to_numpy()]
    areas = levels * np.diff(times)  # area of each step: S constant from one event time to the next
    total = float(areas.sum())
    after = np.cumsum(areas[::-1])[::-1][1:]  # A_j: the area from event time j to τ
    n, d = steps["at_risk"].to_numpy(dtype=float), steps["events"].to_numpy(dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(n > d, after ** 2 * d / (n * (n - d)), 0.0)
    return total, float(terms.sum())


def arm_summary(data: pd.DataFrame, tau: float, alpha: float) -> dict[str, Any]:
    curve = kaplan_meier(data["time"].to_numpy(), data["event"].to_numpy(), alpha)
    s, se, low, high = at(curve, tau)
    area, variance = rmst(curve, tau)
    z = stats.norm.ppf(1 - alpha / 2)
    shown = curve[curve["time"] <= tau]
    return {
        "n": int(len(data)), "events": int(data["event"].sum()), "censored": int((~data["event"]).sum()),
        "event_free": s, "event_free_se": se, "event_free_ci": [low, high],
        "rmst": area, "rmst_se": math.sqrt(variance), "rmst_ci": [area - z * math.sqrt(variance),
                                                                 area + z * math.sqrt(variance)],
        "curve": {k: shown[k].tolist() for k in ("time", "survival", "low", "high", "at_risk")},
    }


def log_rank(time: np.ndarray, event: np.ndarray, group: np.ndarray) -> tuple[float, float]:
    chi2, p = survdiff(np.asarray(time, dtype=float), np.asarray(event, dtype=float), np.asarray(group))
    return float(chi2), float(p)


def cox(data: pd.DataFrame, covariates: list[str], alpha: float) -> dict[str, Any]:
    """Hazard ratio of treatment adjusted for ``covariates`` (statsmodels PHReg, Efron ties)."""
    usable = data[covariates].notna().all(axis=1) if covariates else pd.Series(True, index=data.index)
    data = data[usable]
    x = pd.concat([data["_treated"].rename("treated"), design_matrix(data, covariates)], axis=1)
    fit = PHReg(data["time"].to_numpy(dtype=float), x.to_numpy(dtype=float),
                status=data["event"].to_numpy(dtype=float), ties="efron").fit()
    params, bse = np.asarray(fit.params), np.asarray(fit.bse)
    if not (np.all(np.isfinite(params)) and np.all(np.isfinite(bse))):
        return {"warning": W("survival_cox_failed").as_dict()}
    z = stats.norm.ppf(1 - alpha / 2)
    terms = {}
    for name, b, s in zip(x.columns, params, bse):
        terms[name] = {"coefficient": float(b), "se": float(s), "hazard_ratio": math.exp(b),
                       "ci": [math.exp(b - z * s), math.exp(b + z * s)], "p_value": float(2 * stats.norm.sf(abs(b / s)))}
    return {"model": "Cox proportional hazards, Efron ties (statsmodels PHReg)", "n": int(len(data)),
            "left_out": int((~usable).sum()), "terms": terms, "hazard_ratio": terms["treated"]["hazard_ratio"],
            "ci": terms["treated"]["ci"], "p_value": terms["treated"]["p_value"]}


def estimate(metric: Metric, cohort: str, treated: pd.DataFrame, comparison: pd.DataFrame | None) -> EffectResult:
    """One cohort's (or the pooled) survival comparison as an ``EffectResult``."""
    ev = metric.evaluation
    alpha = float(ev.alpha)
    result = EffectResult(metric=metric.id, cohort=cohort, design=ev.design, direction=metric.direction,
                          n_treated=int(len(treated)), n_comparison=0 if comparison is None else int(len(comparison)))
    result.n_pending = int((~treated["closed"]).sum()) if len(treated) else 0
    both = [treated] + ([comparison] if comparison is not None else [])
    horizons = pd.concat([d["horizon"] for d in both])
    if len(treated) == 0:
        result.is_effect = False
        result.warnings.append(W("no_treated_outcomes"))
        return result
    tau = float(horizons.min())
    arms = {"treated": arm_summary(treated, tau, alpha)}
    info: dict[str, Any] = {"tau_days": tau, "arms": arms, "event": "first measurement with value ≥ 1 in the window",
                            "censoring": "at the window's end, or at the as-of date while the window is open"}
    result.diagnostics["survival"] = info
    result.treated_mean = arms["treated"]["event_free"]
    if result.n_pending:
        result.warnings.append(W("survival_censored_open", n=result.n_pending))
    if arms["treated"]["events"] == 0:
        result.warnings.append(W("survival_no_events_treated"))
    if comparison is None:
        result.is_effect = False
        result.warnings.append(W("monitoring_only") if ev.design == "monitoring"
                               else W("survival_design", design=ev.design))
        if arms["treated"]["events"]:
            result.diagnostics["mean_ci"] = arms["treated"]["event_free_ci"]
        return result
    if len(comparison) == 0:
        result.is_effect = False
        result.warnings.append(W("no_comparison_outcomes"))
        return result
    arms["comparison"] = arm_summary(comparison, tau, alpha)
    t, c = arms["treated"], arms["comparison"]
    if c["events"] == 0:
        result.warnings.append(W("survival_no_events_comparison"))
    result.counterfactual_mean = c["event_free"]
    result.estimate = t["event_free"] - c["event_free"]
    se = math.sqrt(t["event_free_se"] ** 2 + c["event_free_se"] ** 2)
    z = stats.norm.ppf(1 - alpha / 2)
    if se > 0:
        result.ci_low, result.ci_high = result.estimate - z * se, result.estimate + z * se
        result.p_value = float(2 * stats.norm.sf(abs(result.estimate) / se))
        result.se, result.se_kind = se, W("se_greenwood")
        result.diagnostics["test"] = "difference in Kaplan–Meier event-free share at τ, Greenwood standard errors"
    else:
        result.warnings.append(W("no_variance"))
    rmst_se = math.sqrt(t["rmst_se"] ** 2 + c["rmst_se"] ** 2)
    difference = t["rmst"] - c["rmst"]
    info["rmst_difference"] = {"estimate": difference, "se": rmst_se,
                               "ci": [difference - z * rmst_se, difference + z * rmst_se] if rmst_se > 0 else None}
    both_frame = pd.concat([treated.assign(_treated=1.0), comparison.assign(_treated=0.0)], ignore_index=True)
    if both_frame["event"].any():
        chi2, p = log_rank(both_frame["time"].to_numpy(), both_frame["event"].to_numpy(), both_frame["_treated"].to_numpy())
        info["log_rank"] = {"chi2": chi2, "p_value": p, "df": 1}
    else:
        info["log_rank"] = {"warning": W("survival_no_events_at_all").as_dict()}
    if t["events"] == 0 or c["events"] == 0:
        info["cox"] = {"warning": W("survival_cox_no_events").as_dict()}
    else:
        info["cox"] = cox(both_frame, list(ev.covariates), alpha)
    result.diagnostics["standard_error_value"] = se
    return result.finish()


def evaluate_metric(inputs: Inputs, metric: Metric, contract: Contract, as_of: date) -> list[EffectResult]:
    """Per-cohort results, then the pooled one, for a time-to-event metric."""
    ev = metric.evaluation
    frame = follow_up(inputs, metric, as_of)
    cohorts = [c.id for c in contract.cohorts]
    if ev.design == "historical_cohort":
        cohorts = [c for c in cohorts if c != ev.comparison_cohort]

    def group(members: list[str], label: str) -> EffectResult:
        treated = frame[frame["cohort"].isin(members) & (frame["arm"] == "treatment")]
        if ev.design == "randomised":
            comparison = frame[frame["cohort"].isin(members) & (frame["arm"] == "control")]
        elif ev.design == "historical_cohort":
            comparison = frame[(frame["cohort"] == ev.comparison_cohort) & (frame["arm"] == "treatment")]
        else:
            comparison = None
        result = estimate(metric, label, treated, comparison)
        if result.n_treated < ev.min_n:
            result.warnings.append(W("too_few", n=result.n_treated, min_n=ev.min_n))
        sensitivity.attach(result, metric.kind, None)
        return result

    results = [group([c], c) for c in cohorts]
    if len(cohorts) > 1:
        results.append(group(cohorts, POOLED))
    elif results:
        pooled = EffectResult.from_dict(results[0].to_dict())
        pooled.cohort = POOLED
        results.append(pooled)
    return results
