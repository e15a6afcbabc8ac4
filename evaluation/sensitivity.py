"""Sensitivity of an effect to bias the design cannot rule out: E-values, Rosenbaum bounds, event-study bands.

**E-value** (VanderWeele & Ding 2017, Annals of Internal Medicine 167:268): the minimum strength of
association, on the risk-ratio scale, that an unmeasured confounder would need with both the treatment and
the outcome to explain the effect away.  For a risk ratio RR ≥ 1 it is RR + sqrt(RR·(RR − 1)); a ratio
below 1 is inverted first.  It is given for the point estimate and for the confidence limit closest to the
null (1 when the interval includes the null).  Conversions to the risk-ratio scale:

- proportions (binary metrics, and the event-free share of a time-to-event metric): RR = (m0 + Δ) / m0 with
  m0 the counterfactual mean, for the estimate Δ and for each confidence limit (m0 held fixed);
- other outcomes: the standardised mean difference d = Δ / SD (SD of the outcome) gives RR ≈ exp(0.91·d)
  (VanderWeele & Ding's approximate conversion; the E-value of a continuous outcome is approximate).

**Rosenbaum bounds** (Rosenbaum 2002, *Observational Studies*, ch. 4) for matched designs: Γ is how much
more likely one member of a matched pair could be to receive treatment than the other, through an
unobserved covariate; the bound is the largest one-sided p-value of the matched-pairs test over all
assignments with bias at most Γ, and Γ* is where it crosses α.  Continuous outcomes use Wilcoxon's signed
rank statistic (zero differences dropped, average ranks for ties, the large-sample normal approximation of
``senWilcox``/``psens``); binary outcomes use the sign test on discordant pairs (exact binomial).  A pair with
more than one matched control uses the mean of its controls.

**Event study with simultaneous bands** for difference-in-differences: one treated-by-period coefficient per
period (the last before the start is the reference) from a two-way fixed-effects regression with unit-
clustered covariance, and sup-t bands (Montiel Olea & Plagborg-Møller 2019): the critical value is the
(1 − α) quantile of max |Z_k| for Z ~ N(0, R), R the coefficients' correlation, by a seeded simulation so
runs are reproducible.  Bands that exclude zero before the start mean the pre-trends differ beyond what
chance allows jointly.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import statsmodels.api as sm
from scipy import optimize, stats

from evaluation.messages import TEXTS as W

GAMMA_MAX = 100.0
SUP_T_DRAWS = 200_000


# --- E-values -------------------------------------------------------------------------------------------------

def e_value_rr(rr: float) -> float:
    """E-value of a risk ratio (VanderWeele & Ding 2017, formula 1); ratios below 1 are inverted."""
    if not (rr > 0 and math.isfinite(rr)):
        raise ValueError("a risk ratio must be positive and finite")
    if rr < 1:
        rr = 1 / rr
    return rr + math.sqrt(rr * (rr - 1))


def e_value_ci(rr: float, low: float, high: float) -> float:
    """E-value of the confidence limit closest to the null: 1 when the interval contains 1."""
    if low <= 1 <= high:
        return 1.0
    return e_value_rr(low if rr > 1 else high)


def e_values(estimate: float | None, ci_low: float | None, ci_high: float | None, counterfactual: float | None,
             scale: str, sd: float | None = None) -> dict[str, Any]:
    """E-values of a difference, for ``scale`` "proportion" (via the risk ratio) or "mean" (via exp(0.91·d)).

    Returns the risk ratios used, the E-values and ``conversion``; or ``warning`` (a message) and no E-value
    when the difference cannot be put on the risk-ratio scale.
    """
    if estimate is None:
        return {"warning": W("evalue_no_estimate").as_dict()}
    if scale == "proportion":
        if counterfactual is None or not 0 < counterfactual <= 1:
            return {"warning": W("evalue_zero_counterfactual").as_dict()}

        def to_rr(x: float) -> float:
            return (counterfactual + x) / counterfactual
        conversion = "risk_ratio"  # (counterfactual + effect) / counterfactual
    else:
        if sd is None or not sd > 0 or not math.isfinite(sd):
            return {"warning": W("evalue_no_sd").as_dict()}

        def to_rr(x: float) -> float:
            return math.exp(0.91 * x / sd)
        conversion = "approximate_smd"  # standardised mean difference d, RR = exp(0.91 d)
    rr = to_rr(estimate)
    if not rr > 0:
        return {"warning": W("evalue_zero_treated").as_dict()}
    out: dict[str, Any] = {"conversion": conversion, "risk_ratio": rr, "e_value": e_value_rr(rr)}
    if scale != "proportion":
        out["smd"], out["sd"] = estimate / sd, sd  # type: ignore[operator]
    if ci_low is not None and ci_high is not None:
        low, high = to_rr(ci_low), to_rr(ci_high)
        # A proportion's interval can reach below a share of zero: that limit is no ratio, but it is far from the
        # null only on the protective side, where the limit used is the upper one.
        out["risk_ratio_ci"] = [low if low > 0 else None, high if high > 0 else None]
        if high > 0:
            out["e_value_ci"] = e_value_ci(rr, max(low, 1e-300), high)
    return out


# --- Rosenbaum bounds ------------------------------------------------------------------------------------------

def wilcoxon_upper_p(differences: np.ndarray, gamma: float) -> float:
    """Upper bound of the one-sided (greater) p-value of the signed rank test under bias Γ (normal approx.)."""
    d = np.asarray(differences, dtype=float)
    d = d[d != 0]
    if len(d) == 0:
        return 1.0
    ranks = stats.rankdata(np.abs(d))
    t = ranks[d > 0].sum()
    p = gamma / (1 + gamma)
    mean, var = p * ranks.sum(), p * (1 - p) * (ranks ** 2).sum()
    return float(stats.norm.sf((t - mean) / math.sqrt(var)))


def sign_upper_p(differences: np.ndarray, gamma: float) -> float:
    """Upper bound of the one-sided p-value of the sign test on discordant pairs under bias Γ (exact)."""
    d = np.asarray(differences, dtype=float)
    d = d[d != 0]
    if len(d) == 0:
        return 1.0
    return float(stats.binom.sf(int((d > 0).sum()) - 1, len(d), gamma / (1 + gamma)))


def rosenbaum(differences: np.ndarray, binary: bool, alpha: float) -> dict[str, Any]:
    """Γ* at which the upper-bound one-sided p-value crosses α, for differences signed so that > 0 is better."""
    d = np.asarray(differences, dtype=float)
    d = d[np.isfinite(d)]
    upper = sign_upper_p if binary else wilcoxon_upper_p
    test = "sign_test" if binary else "wilcoxon"  # in words: Words.label("rosenbaum_test", ...)
    out: dict[str, Any] = {"test": test, "pairs": int(len(d)), "informative_pairs": int((d != 0).sum()),
                           "alpha": alpha, "p_value_gamma_1": upper(d, 1.0)}
    out["table"] = [{"gamma": g, "p_upper": upper(d, g)} for g in (1.0, 1.25, 1.5, 2.0, 3.0)]
    if out["p_value_gamma_1"] >= alpha:
        out["gamma"] = 1.0
        out["warning"] = W("rosenbaum_not_significant", p=out["p_value_gamma_1"]).as_dict()
        return out
    if upper(d, GAMMA_MAX) < alpha:
        out["gamma"], out["gamma_above"] = GAMMA_MAX, True
        return out
    out["gamma"] = float(optimize.brentq(lambda g: upper(d, g) - alpha, 1.0, GAMMA_MAX, xtol=1e-6))
    return out


def matched_differences(pairs: pd.DataFrame, treated: pd.DataFrame, pool: pd.DataFrame | None) -> np.ndarray:
    """Treated minus the weighted mean of its matched controls, one per treated participant.

    ``pairs`` is the matched set (treated, control by participant_id, weight; weights sum to 1 per treated).
    """
    y_t = treated.drop_duplicates("participant_id").set_index("participant_id")["value"].astype(float)
    if "control_value" in pairs:  # the matching gave each pair's outcomes (a pool of millions is not searched)
        y_t = pairs.drop_duplicates("treated").set_index("treated")["treated_value"].astype(float)
        frame = pairs.assign(y=pairs["control_value"].to_numpy(dtype=float) * pairs["weight"].to_numpy())
        imputed = frame.groupby("treated")["y"].sum() / frame.groupby("treated")["weight"].sum()
        return imputed.index.map(y_t).to_numpy(dtype=float) - imputed.to_numpy(dtype=float)
    y_c = pool.drop_duplicates("participant_id").set_index("participant_id")["value"].astype(float)
    frame = pairs.assign(y=pairs["control"].map(y_c).to_numpy() * pairs["weight"].to_numpy())
    imputed = frame.groupby("treated")["y"].sum() / frame.groupby("treated")["weight"].sum()
    return (imputed.index.map(y_t).to_numpy(dtype=float) - imputed.to_numpy(dtype=float))


def matched_rosenbaum(m: Any, treated: pd.DataFrame, pool: pd.DataFrame | None, binary: bool, direction: str,
                      alpha: float) -> dict[str, Any]:
    """Rosenbaum bounds of a matching result, in the metric's direction of improvement (one-sided)."""
    pairs = getattr(m, "pairs", None)
    if pairs is None or not len(pairs):
        return {"warning": W("rosenbaum_no_pairs").as_dict()}
    d = matched_differences(pairs, treated, pool)
    return rosenbaum(d if direction == "higher_is_better" else -d, binary, alpha)


# --- Event study with simultaneous bands ---------------------------------------------------------------------

def sup_t_critical(correlation: np.ndarray, alpha: float, draws: int = SUP_T_DRAWS, seed: int = 20170101) -> float:
    """(1 − α) quantile of max_k |Z_k|, Z ~ N(0, correlation), by seeded simulation (reproducible)."""
    k = correlation.shape[0]
    values, vectors = np.linalg.eigh((correlation + correlation.T) / 2)
    root = vectors * np.sqrt(np.clip(values, 0, None))
    z = np.random.default_rng(seed).standard_normal((draws, k)) @ root.T
    return float(np.quantile(np.abs(z).max(axis=1), 1 - alpha))


def event_study(data: pd.DataFrame, alpha: float) -> dict[str, Any]:
    """Event-study coefficients, their clustered covariance and sup-t bands, from a DiD panel.

    ``data`` has unit, period, value, treated and post (``evaluation.did.panel``).
    """
    pre = sorted(int(p) for p in data.loc[data["post"] == 0, "period"].unique())
    if not pre:
        return {"warning": W("event_study_no_pre").as_dict()}
    reference = pre[-1]
    periods = sorted(int(p) for p in data["period"].unique())
    columns: dict[str, np.ndarray] = {}
    treated = data["treated"].to_numpy(dtype=float)
    period = data["period"].to_numpy()
    for p in periods:
        if p != reference:
            columns[f"e{p}"] = treated * (period == p)
    for p in periods[1:]:
        columns[f"p{p}"] = (period == p).astype(float)
    frame = pd.DataFrame(columns, index=data.index)
    frame["value"] = data["value"].to_numpy(dtype=float)
    demeaned = frame - frame.groupby(data["unit"].to_numpy()).transform("mean")
    x = demeaned.drop(columns="value")
    varying = [c for c in x.columns if np.abs(x[c].to_numpy()).max() > 1e-12]
    terms = [c for c in varying if c.startswith("e")]
    if not terms:
        return {"warning": W("event_study_no_variation").as_dict()}
    fit = sm.OLS(demeaned["value"], x[varying]).fit(cov_type="cluster", cov_kwds={"groups": data["unit"].to_numpy()})
    beta = fit.params[terms].to_numpy()
    cov = fit.cov_params().loc[terms, terms].to_numpy()
    se = np.sqrt(np.diag(cov))
    if not np.all(np.isfinite(se)) or np.any(se <= 0):
        return {"warning": W("event_study_no_variation").as_dict()}
    correlation = cov / np.outer(se, se)
    critical = sup_t_critical(correlation, alpha)
    pointwise = float(stats.norm.ppf(1 - alpha / 2))
    rows = []
    for name, b, s in zip(terms, beta, se):
        p = int(name[1:])
        rows.append({"period": p, "estimate": float(b), "se": float(s), "pre": p in pre,
                     "low": float(b - pointwise * s), "high": float(b + pointwise * s),
                     "band_low": float(b - critical * s), "band_high": float(b + critical * s)})
    pre_rows = [r for r in rows if r["pre"]]
    out: dict[str, Any] = {
        "reference_period": reference, "critical_value": critical, "pointwise_critical_value": pointwise,
        "bands": "sup-t simultaneous bands from the unit-clustered covariance of the event-study coefficients",
        "coefficients": rows, "clusters": int(data["unit"].nunique()),
        "pre_periods_excluding_zero": sum(1 for r in pre_rows if r["band_low"] > 0 or r["band_high"] < 0),
        "max_abs_pre": max((abs(r["estimate"]) for r in pre_rows), default=None),
    }
    if out["pre_periods_excluding_zero"]:
        out["warning"] = W("event_study_pre_band", n=out["pre_periods_excluding_zero"]).as_dict()
    return out


# --- attached to a result -------------------------------------------------------------------------------------

def attach(result: Any, kind: str, sd: float | None, extra: dict[str, Any] | None = None) -> None:
    """Put the E-values (and ``extra``: Rosenbaum bounds, event study) in ``result.diagnostics['sensitivity']``.

    Only effects get a sensitivity analysis; monitoring results have no effect to explain away.
    """
    if not result.is_effect or result.estimate is None:
        return
    found = dict(result.diagnostics.get("sensitivity") or {})
    scale = "proportion" if kind in ("binary", "time_to_event") else "mean"
    found["e_value"] = e_values(result.estimate, result.ci_low, result.ci_high, result.counterfactual_mean, scale, sd)
    found.update(extra or {})
    result.diagnostics["sensitivity"] = found


def outcome_sd(values: pd.Series) -> float | None:
    values = pd.to_numeric(values, errors="coerce").dropna()
    if len(values) < 2:
        return None
    sd = float(values.std(ddof=1))
    return sd if sd > 0 else None


def summary(result: Any) -> dict[str, Any]:
    """The figures an approver sees beside an amount: E-value (estimate, CI limit) and Γ*, None when absent."""
    found = result.diagnostics.get("sensitivity") or {}
    ev = found.get("e_value") or {}
    rb = found.get("rosenbaum") or {}
    return {"e_value": ev.get("e_value"), "e_value_ci": ev.get("e_value_ci"), "gamma": rb.get("gamma"),
            "gamma_test": rb.get("test")}
