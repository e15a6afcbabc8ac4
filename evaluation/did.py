"""Difference-in-differences: treated and comparison units over periods, two-way fixed effects.

Each unit (a treated participant, or a comparison unit from the pool) is
followed from its ``pre_window`` to the end of the metric's window, in
periods of a month, a quarter or a year counted from its own start (event
time: a comparison unit's start is its reference date).  The model is

    y_it = a_i + l_t + b * D_it + e_it,   D_it = treated_i * post_t,

with unit and period fixed effects; ``b`` is the effect.  Unit effects are
removed by demeaning within each unit (exact, by Frisch-Waugh-Lovell), the
rest is statsmodels OLS, and standard errors are clustered by unit.  An event
study replaces D with one treated-by-period term per period (the last
pre-period is the reference) and tests jointly that the pre-period terms are
zero: a small p-value there means the groups were already drifting apart
before the start, and the parallel-trends assumption is doubtful.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import statsmodels.api as sm

from contracts.model import Metric
from evaluation.inputs import Inputs
from evaluation.messages import TEXTS as W
from evaluation.result import EffectResult
from language import Message

PERIOD_MONTHS = {"month": 1, "quarter": 3, "year": 12}


def panel(inputs: Inputs, metric: Metric, as_of: date, units: pd.DataFrame) -> pd.DataFrame:
    """One row per unit and period: unit, period (negative before the start), value, treated, post.

    ``units`` has participant_id, arm and start.  Units whose outcome window has not closed are left out.
    """
    ev = metric.evaluation
    assert ev.pre_window is not None
    months = PERIOD_MONTHS[ev.period]
    units = units.assign(
        closed=(units["start"] + pd.DateOffset(months=metric.window.end_months) - pd.Timedelta(days=1)) <= pd.Timestamp(as_of))
    units = units[units["closed"]]
    rows = inputs.measurements[inputs.measurements["metric"] == metric.id].merge(
        units[["participant_id", "start", "arm"]], on="participant_id")
    elapsed = ((rows["observed_on"].dt.year - rows["start"].dt.year) * 12
               + (rows["observed_on"].dt.month - rows["start"].dt.month)
               - (rows["observed_on"].dt.day < rows["start"].dt.day).astype(int))  # whole months since the start
    rows = rows.assign(period=np.floor_divide(elapsed, months))
    first, last = ev.pre_window.start_months // months, -(-metric.window.end_months // months)
    rows = rows[(rows["period"] >= first) & (rows["period"] < last) & rows["value"].notna()]
    grouped = rows.sort_values("observed_on", kind="stable").groupby(["participant_id", "period"])["value"]
    how = metric.aggregation
    values = grouped.max().gt(0).astype(float) if how == "any" else getattr(grouped, how)()
    frame = values.rename("value").reset_index()
    if metric.missing == "zero":  # every period of every unit, no record meaning none
        grid = pd.MultiIndex.from_product([units["participant_id"], range(first, last)], names=["participant_id", "period"])
        frame = frame.set_index(["participant_id", "period"]).reindex(grid, fill_value=0.0).reset_index()
    frame = frame.merge(units[["participant_id", "arm"]], on="participant_id")
    post_from = metric.window.start_months // months
    return pd.DataFrame({
        "unit": frame["participant_id"], "period": frame["period"].astype(int), "value": frame["value"].astype(float),
        "treated": (frame["arm"] == "treatment").astype(float), "post": (frame["period"] >= post_from).astype(float),
    })


def _within(frame: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """Demean each column within unit (removes the unit fixed effects)."""
    return frame[columns] - frame.groupby("unit")[columns].transform("mean")


def _twfe(data: pd.DataFrame, terms: list[str]) -> tuple[sm.regression.linear_model.RegressionResultsWrapper, list[str]]:
    periods = pd.get_dummies(data["period"], prefix="p", dtype=float).iloc[:, 1:]
    design = pd.concat([data[["unit"] + terms], periods], axis=1)
    columns = terms + list(periods.columns)
    demeaned = _within(design.assign(value=data["value"]), columns + ["value"])
    varying = [c for c in columns if demeaned[c].abs().max() > 1e-12]
    fit = sm.OLS(demeaned["value"], demeaned[varying]).fit(cov_type="cluster", cov_kwds={"groups": data["unit"]})
    return fit, varying


def estimate(data: pd.DataFrame, metric: Metric, cohort: str) -> EffectResult:
    alpha = float(metric.evaluation.alpha)
    treated_units = data.loc[data["treated"] == 1, "unit"].nunique()
    comparison_units = data.loc[data["treated"] == 0, "unit"].nunique()
    result = EffectResult(metric=metric.id, cohort=cohort, design="difference_in_differences",
                          direction=metric.direction, n_treated=int(treated_units), n_comparison=int(comparison_units))
    cells = data.groupby(["treated", "post"])["value"]
    missing_cells = {(t, p) for t in (0.0, 1.0) for p in (0.0, 1.0)} - set(cells.groups)
    if missing_cells or treated_units < 2 or comparison_units < 2:
        result.warnings.append(W("did_no_counterfactual"))
        result.is_effect = False
        if (1.0, 1.0) in cells.groups:
            result.treated_mean = float(cells.mean()[(1.0, 1.0)])
        return result
    data = data.assign(effect=data["treated"] * data["post"])
    fit, _ = _twfe(data, ["effect"])
    beta, se = float(fit.params["effect"]), float(fit.bse["effect"])
    means = cells.mean()
    result.treated_mean = float(means[(1.0, 1.0)])
    result.counterfactual_mean = result.treated_mean - beta
    result.estimate = beta
    if np.isfinite(se) and se > 0:
        low, high = fit.conf_int(alpha=alpha).loc["effect"]
        result.ci_low, result.ci_high, result.p_value = float(low), float(high), float(fit.pvalues["effect"])
    else:
        result.warnings.append(W("did_no_variance"))
    result.diagnostics.update({
        "model": "two-way fixed effects (unit, period), OLS on within-unit deviations",
        "standard_error": f"clustered by unit ({data['unit'].nunique()} clusters)",
        "clusters": int(data["unit"].nunique()),
        "observations": int(len(data)), "periods": sorted(int(p) for p in data["period"].unique()),
        "cell_means": {f"{'treated' if t else 'comparison'} {'after' if p else 'before'}": float(v)
                       for (t, p), v in means.items()},
    })
    result.diagnostics["pre_trends"] = pre_trends(data, alpha)
    if result.diagnostics["pre_trends"].get("warning"):
        result.warnings.append(Message.load(result.diagnostics["pre_trends"]["warning"]))
    return result.finish()


def pre_trends(data: pd.DataFrame, alpha: float) -> dict:
    """Event study: one treated-by-period term per period but the last before the start; test the earlier ones."""
    periods = sorted(int(p) for p in data.loc[data["post"] == 0, "period"].unique())
    if len(periods) < 2:
        return {"tested": False, "warning": W("pre_trends_one_period").as_dict()}
    reference = periods[-1]
    terms = []
    for p in sorted(int(p) for p in data["period"].unique()):
        if p != reference:
            name = f"treated_at_{p}".replace("-", "m")
            data = data.assign(**{name: data["treated"] * (data["period"] == p)})
            terms.append(name)
    fit, varying = _twfe(data, terms)
    leads = [f"treated_at_{p}".replace("-", "m") for p in periods[:-1]]
    leads = [t for t in leads if t in varying]
    coefficients = {t: {"estimate": float(fit.params[t]), "se": float(fit.bse[t])} for t in terms if t in varying}
    if not leads:
        return {"tested": False, "coefficients": coefficients,
                "warning": W("pre_trends_no_variation").as_dict()}
    restriction = np.zeros((len(leads), len(fit.params)))
    for i, name in enumerate(leads):
        restriction[i, list(fit.params.index).index(name)] = 1.0
    wald = fit.wald_test(restriction, scalar=True)
    p_value = float(wald.pvalue)
    out = {"tested": True, "reference_period": reference, "periods_tested": len(leads), "p_value": p_value,
           "statistic": float(wald.statistic), "coefficients": coefficients}
    if p_value < alpha:
        out["warning"] = W("pre_trends_differ", p=p_value).as_dict()
    return out
