"""Staggered adoption: Callaway & Sant'Anna (2021) group-time average treatment effects.

When units start treatment at different calendar dates, the two-way fixed-effects estimate of ``did`` compares
later-treated units with earlier-treated ones as if the latter were controls; with effects that change over time
or differ between groups it is biased, and can even have the wrong sign (Goodman-Bacon 2021).  Callaway and
Sant'Anna instead estimate, for each group g (the units first treated in calendar period g) and each period t,

    ATT(g, t) = mean(Y_t - Y_b | G = g) - mean(Y_t - Y_b | controls),

a 2 x 2 difference of means on a balanced unit x calendar-period panel, with base period b = g - 1 for t >= g
and b = t - 1 before (the R ``did`` package's default "varying" base period), without covariates.  Controls are
the never-treated units, or (``not_yet_treated``) also the units first treated after both t and b.  Units
first treated after the panel's last period count as never treated; units treated from its first period have
no period before and are left out, as in ``did``.

Standard errors come from the influence functions (analytic, clustered by unit, as ``did`` with
``bstrap = FALSE``): for a cell, psi_i = n/n_g (dY_i - mean_g) for its group's units and -n/n_c (dY_i - mean_c)
for its controls; se = sqrt(sum psi_i^2) / n.  Aggregations are weighted averages of the cells with the
influence function of the weights added (``did``'s ``wif``):

* the overall effect is ``did``'s "simple" aggregation: the average of ATT(g, t) over post-treatment cells
  (t >= g), each weighted by its group's size, so groups observed longer after their start weigh more;
* the event study averages the cells with the same event time e = t - g, weighted by group size.

Intervals are pointwise, normal, at the contract's alpha.  A Wald test of the pre-treatment cells (chi-square)
checks parallel trends.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
from scipy import stats

from contracts.model import Metric
from evaluation.did import PERIOD_MONTHS, _rates, as_rates, period_values
from evaluation.inputs import Inputs
from evaluation.messages import TEXTS as W
from evaluation.result import EffectResult
from language import Message

NEVER = "never_treated"
NOT_YET = "not_yet_treated"


def period_code(dates: pd.Series, months: int) -> pd.Series:
    """Calendar period of each date: months since year 0, divided by the period length (quarters from January)."""
    return (dates.dt.year * 12 + dates.dt.month - 1) // months


def period_start(code: int, months: int) -> str:
    month = int(code) * months
    return date(month // 12, month % 12 + 1, 1).isoformat()


def panel(inputs: Inputs, metric: Metric, as_of: date, units: pd.DataFrame) -> pd.DataFrame:
    """One row per unit and calendar period: unit, period (a calendar period code), value, group.

    ``units`` has participant_id, arm and start.  A treated unit's group is the calendar period of its start,
    a comparison unit's is NaN (never treated).  Periods run from the earliest treated start's ``pre_window`` to
    the last period that has ended by ``as_of`` (at most the latest treated start's window end).  Units not
    observed in every period are left out (the estimator needs a balanced panel), counted in
    ``attrs["unbalanced"]``; with ``evaluation.denominator`` values are rates per ``per``, as in ``did.panel``.
    """
    ev = metric.evaluation
    assert ev.pre_window is not None
    months = PERIOD_MONTHS[ev.period]
    units = units.assign(start=pd.to_datetime(units["start"]))
    treated = units[units["arm"] == "treatment"]
    first = int(period_code(treated["start"] + pd.DateOffset(months=ev.pre_window.start_months), months).min()) \
        if len(treated) else 0
    ended = int(period_code(pd.Series([pd.Timestamp(as_of) + pd.Timedelta(days=1)]), months).iloc[0])  # exclusive
    window_end = int(period_code(treated["start"] + pd.DateOffset(months=metric.window.end_months), months).max()) \
        if len(treated) else ended
    last = min(ended, window_end + 1)

    def by_period(metric_id: str, how: str, missing: str) -> pd.DataFrame:
        rows = inputs.measurements[inputs.measurements["metric"] == metric_id]
        rows = rows[rows["participant_id"].isin(units["participant_id"])]
        return period_values(rows.assign(period=period_code(rows["observed_on"], months)), units["participant_id"],
                             how, missing, first, last)

    frame = by_period(metric.id, metric.aggregation, metric.missing)
    no_denominator = 0
    if ev.denominator is not None:
        frame, no_denominator = as_rates(frame, by_period(ev.denominator, "mean", "exclude"), ev.per)
    periods = max(last - first, 0)
    counts = frame.groupby("participant_id")["period"].nunique()
    complete = counts[counts == periods].index
    groups = units.set_index("participant_id")
    group = period_code(groups["start"], months).where(groups["arm"] == "treatment")
    frame = frame[frame["participant_id"].isin(complete)]
    out = pd.DataFrame({"unit": frame["participant_id"].to_numpy(), "period": frame["period"].astype(int).to_numpy(),
                        "value": frame["value"].astype(float).to_numpy(),
                        "group": group.reindex(frame["participant_id"]).to_numpy(dtype=float)})
    out.attrs.update(no_denominator=no_denominator, unbalanced=int(len(units) - len(complete)), months=months)
    return out


def group_time(data: pd.DataFrame, controls: str = NEVER) -> dict:
    """ATT(g, t) for every group and period, with influence functions; the cells and what was left out.

    ``data`` is a balanced panel: unit, period (consecutive integers), value, group (first treated period; NaN or
    0 for never treated).  Returns {"cells": DataFrame(group, period, event_time, estimate, se, n_group,
    n_controls), "influence": array units x cells, "n": units, "pg": {group: share of units}, "y": values grid,
    "groups": per unit, "periods": list, "controls": used, "fallback": bool, "dropped_first": units left out,
    "no_controls": cells without controls}.
    """
    wide = data.pivot(index="unit", columns="period", values="value").sort_index()
    periods = [int(p) for p in wide.columns]
    if wide.isna().to_numpy().any() or periods != list(range(periods[0], periods[0] + len(periods))):
        raise ValueError("group_time needs a balanced panel over consecutive periods")
    group = data.groupby("unit")["group"].first().reindex(wide.index).fillna(0).to_numpy(dtype=float)
    group[group > periods[-1]] = 0  # first treated after the panel ends: never treated within it
    dropped_first = int(np.sum((group > 0) & (group <= periods[0])))
    keep = ~((group > 0) & (group <= periods[0]))  # no period before treatment: left out, as in did
    y, group = wide.to_numpy(dtype=float)[keep], group[keep]
    n = len(group)
    fallback = False
    if controls == NEVER and not np.any(group == 0):
        controls, fallback = NOT_YET, True
    glist = sorted(set(group[group > 0].tolist()))
    pg = {g: float(np.mean(group == g)) for g in glist}
    rows, columns, no_controls = [], [], []
    for g in glist:
        for j, t in enumerate(periods[1:], start=1):
            b = periods.index(int(g) - 1) if t >= g else j - 1
            in_g = group == g
            in_c = (group == 0) if controls == NEVER else (group == 0) | ((group > max(t, periods[b])) & (group != g))
            n_g, n_c = int(in_g.sum()), int(in_c.sum())
            if n_c == 0:
                no_controls.append((int(g), t))
                continue
            dy = y[:, j] - y[:, b]
            mu_g, mu_c = dy[in_g].mean(), dy[in_c].mean()
            psi = np.zeros(n)
            psi[in_g] = n / n_g * (dy[in_g] - mu_g)
            psi[in_c] = -n / n_c * (dy[in_c] - mu_c)
            rows.append({"group": int(g), "period": t, "event_time": int(t - g), "estimate": float(mu_g - mu_c),
                         "se": float(np.sqrt(psi @ psi) / n), "n_group": n_g, "n_controls": n_c,
                         "treated_mean": float(y[in_g, j].mean())})
            columns.append(psi)
    cells = pd.DataFrame(rows, columns=["group", "period", "event_time", "estimate", "se", "n_group", "n_controls",
                                        "treated_mean"])
    influence = np.column_stack(columns) if columns else np.zeros((n, 0))
    return {"cells": cells, "influence": influence, "n": n, "pg": pg, "groups": group, "periods": periods,
            "controls": controls, "fallback": fallback, "dropped_first": dropped_first, "no_controls": no_controls}


def aggregate(gt: dict, which: np.ndarray) -> tuple[float, float, float]:
    """A group-size-weighted average of the cells ``which`` (bool per cell): estimate, se, treated mean.

    The influence function adds the estimation of the weights (``did``'s ``wif``): w_k = pg_k / sum pg, with
    pg_k = share of units in cell k's group."""
    cells, n, groups = gt["cells"], gt["n"], gt["groups"]
    keep = np.flatnonzero(which)
    pgk = np.array([gt["pg"][g] for g in cells["group"].to_numpy()[keep]])
    total = pgk.sum()
    w = pgk / total
    att = cells["estimate"].to_numpy()[keep]
    member = np.column_stack([(groups == g).astype(float) for g in cells["group"].to_numpy()[keep]])  # n x k
    if1 = (member - pgk) / total
    if2 = np.outer((member - pgk).sum(axis=1), pgk / total ** 2)
    psi = gt["influence"][:, keep] @ w + (if1 - if2) @ att
    treated_mean = float(cells["treated_mean"].to_numpy()[keep] @ w)
    return float(att @ w), float(np.sqrt(psi @ psi) / n), treated_mean


def _interval(estimate: float, se: float, alpha: float) -> dict:
    z = float(stats.norm.ppf(1 - alpha / 2))
    if not (np.isfinite(se) and se > 0):
        return {"estimate": estimate, "se": None, "ci_low": None, "ci_high": None, "p_value": None}
    return {"estimate": estimate, "se": se, "ci_low": estimate - z * se, "ci_high": estimate + z * se,
            "p_value": float(2 * stats.norm.sf(abs(estimate / se)))}


def pre_trends(gt: dict, alpha: float) -> dict:
    """Wald test that every pre-treatment ATT(g, t) is zero, with their joint influence-function covariance."""
    pre = gt["cells"]["event_time"].to_numpy() < 0
    if not pre.any():
        return {"tested": False, "warning": W("pre_trends_one_period").as_dict()}
    b = gt["cells"]["estimate"].to_numpy()[pre]
    psi = gt["influence"][:, pre]
    v = psi.T @ psi / gt["n"] ** 2
    rank = int(np.linalg.matrix_rank(v))
    if rank == 0:
        return {"tested": False, "warning": W("pre_trends_no_variation").as_dict()}
    statistic = float(b @ np.linalg.pinv(v) @ b)
    p_value = float(stats.chi2(rank).sf(statistic))
    out = {"tested": True, "cells_tested": int(pre.sum()), "statistic": statistic, "test": f"Wald chi-square({rank})",
           "p_value": p_value}
    if p_value < alpha:
        out["warning"] = W("pre_trends_differ", p=p_value).as_dict()
    return out


def estimate(data: pd.DataFrame, metric: Metric, cohort: str, controls: str | None = None) -> EffectResult:
    """The overall ATT ("simple" aggregation) as the result; group-time cells and the event study in diagnostics."""
    ev = metric.evaluation
    alpha = float(ev.alpha)
    controls = controls or getattr(ev, "staggered_controls", NEVER)
    months = data.attrs.get("months")  # a calendar panel (``panel``): periods shown as their first day

    def label(code: int) -> str | int:
        return period_start(code, months) if months else int(code)

    groups = data.groupby("unit")["group"].first() if len(data) else pd.Series(dtype=float)
    result = EffectResult(metric=metric.id, cohort=cohort, design="difference_in_differences",
                          direction=metric.direction, n_treated=int((groups.fillna(0) > 0).sum()),
                          n_comparison=int((groups.fillna(0) == 0).sum()))
    _rates(data, metric, result)
    counts = data.groupby("unit")["period"].nunique() if len(data) else pd.Series(dtype=int)
    complete = counts[counts == data["period"].nunique()].index if len(data) else counts.index
    unbalanced = int(data.attrs.get("unbalanced", 0)) + int(len(counts) - len(complete))
    if len(complete) < len(counts) or data.duplicated(["unit", "period"]).any():  # a panel not made by ``panel``
        data = data[data["unit"].isin(complete)].groupby(["unit", "period"], as_index=False).agg(
            value=("value", "mean"), group=("group", "first"))
    if unbalanced:
        result.warnings.append(W("staggered_unbalanced", n=unbalanced))
    periods = sorted(data["period"].unique()) if len(data) else []
    if len(periods) < 2 or periods != list(range(int(periods[0]), int(periods[0]) + len(periods))):
        result.warnings.append(W("staggered_no_cells"))
        result.is_effect = False
        return result
    gt = group_time(data, controls)
    result.n_treated, result.n_comparison = int(np.sum(gt["groups"] > 0)), int(np.sum(gt["groups"] == 0))
    if gt["dropped_first"]:
        result.warnings.append(W("staggered_treated_first", n=gt["dropped_first"]))
    if gt["fallback"]:
        result.warnings.append(W("staggered_no_never_treated"))
    if gt["no_controls"]:
        result.warnings.append(W("staggered_cells_no_controls", n=len(gt["no_controls"])))
    cells = gt["cells"]
    post = (cells["event_time"] >= 0).to_numpy() if len(cells) else np.zeros(0, dtype=bool)
    if not post.any():
        result.warnings.append(W("staggered_no_cells"))
        result.is_effect = False
        return result
    beta, se, treated_mean = aggregate(gt, post)
    overall = _interval(beta, se, alpha)
    result.estimate, result.treated_mean = beta, treated_mean
    result.counterfactual_mean = treated_mean - beta
    if overall["se"] is not None:
        result.se, result.p_value = overall["se"], overall["p_value"]
        result.ci_low, result.ci_high = overall["ci_low"], overall["ci_high"]
        result.se_kind = W("se_influence", clusters=gt["n"])
    else:
        result.warnings.append(W("did_no_variance"))
    event_study = []
    for e in sorted(set(cells["event_time"].tolist())):
        b, s, _ = aggregate(gt, (cells["event_time"] == e).to_numpy())
        event_study.append({"event_time": int(e)} | _interval(b, s, alpha))
    z = float(stats.norm.ppf(1 - alpha / 2))
    group_time_cells = [
        {"group": label(r.group), "period": label(r.period),
         "event_time": int(r.event_time), "units": int(r.n_group), "controls": int(r.n_controls)}
        | _interval(float(r.estimate), float(r.se), alpha) for r in cells.itertuples()]
    result.diagnostics.update({
        "model": "Callaway & Sant'Anna (2021) group-time effects, unconditional, balanced calendar panel",
        "aggregation": "simple: post-treatment cells weighted by group size",
        "control_group": gt["controls"], "base_period": "varying",
        "standard_error": f"influence function, clustered by unit ({gt['n']} units), normal, pointwise",
        "critical_value": z, "groups": {label(g): int(round(p * gt["n"])) for g, p in gt["pg"].items()},
        "periods": [label(p) for p in gt["periods"]],
        "group_time": group_time_cells, "event_study": event_study,
    })
    result.diagnostics["pre_trends"] = pre_trends(gt, alpha)
    if result.diagnostics["pre_trends"].get("warning"):
        result.warnings.append(Message.load(result.diagnostics["pre_trends"]["warning"]))
    return result.finish()
