"""Evaluation designs: each turns per-participant outcomes into an ``EffectResult``.

Tests and intervals come from statsmodels and scipy: an exact binomial test
with a Wilson interval for a proportion against a contracted value, t-tests
otherwise, Welch's unequal-variance comparison between two groups, and the
matching estimator in ``evaluation.matching``.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy import stats
import statsmodels.api as sm
from statsmodels.stats.proportion import proportion_confint
from statsmodels.stats.weightstats import CompareMeans, DescrStatsW

from contracts.model import Metric
from evaluation.covariates import design_matrix
from evaluation.matching import MatchingError, match
from evaluation import sensitivity
from evaluation.messages import TEXTS as W
from evaluation.result import EffectResult

MONITORING_ONLY = W("monitoring_only")
NO_VARIANCE = W("no_variance")


def _base(metric: Metric, cohort: str, treated: pd.Series) -> EffectResult:
    return EffectResult(metric=metric.id, cohort=cohort, design=metric.evaluation.design, direction=metric.direction,
                        n_treated=int(treated.notna().sum()))


def _alpha(metric: Metric) -> float:
    return float(metric.evaluation.alpha)


def monitoring(metric: Metric, cohort: str, values: pd.Series) -> EffectResult:
    """The cohort's mean with its interval, and never an effect."""
    values = values.dropna().astype(float)
    result = _base(metric, cohort, values)
    result.is_effect = False
    result.warnings.append(MONITORING_ONLY)
    if len(values):
        result.treated_mean = float(values.mean())
    if len(values) >= 2 and values.std() > 0:
        low, high = DescrStatsW(values.to_numpy()).tconfint_mean(alpha=_alpha(metric))
        result.diagnostics["mean_ci"] = [float(low), float(high)]
    return result


def favourable_share(metric: Metric, cohort: str, favourable: pd.Series, dont_know: int = 0) -> EffectResult:
    """A survey question as the follow-up reports it: the share of favourable answers (0/1 per answer, "don't
    know" left out) with a Wilson interval; monitoring, never an effect."""
    from statsmodels.stats.proportion import proportion_confint

    values = favourable.dropna().astype(float)
    result = _base(metric, cohort, values)
    result.is_effect = False
    result.warnings.append(MONITORING_ONLY)
    result.diagnostics["reported_as"] = "favourable_share"
    result.diagnostics["dont_know"] = int(dont_know)
    if len(values):
        result.treated_mean = float(values.mean())
        low, high = proportion_confint(int(values.sum()), len(values), alpha=_alpha(metric), method="wilson")
        result.diagnostics["mean_ci"] = [float(low), float(high)]
    return result


def fixed_baseline(metric: Metric, cohort: str, values: pd.Series) -> EffectResult:
    """The cohort against the contracted reference value (a one-sample test)."""
    values = values.dropna().astype(float)
    baseline = float(metric.evaluation.baseline)  # type: ignore[arg-type]
    result = _base(metric, cohort, values)
    result.counterfactual_mean = baseline
    n = len(values)
    if n == 0:
        return result
    mean = float(values.mean())
    result.treated_mean = mean
    result.estimate = mean - baseline
    alpha = _alpha(metric)
    if metric.kind == "binary":
        successes = int(values.sum())
        low, high = proportion_confint(successes, n, alpha=alpha, method="wilson")
        result.ci_low, result.ci_high = float(low) - baseline, float(high) - baseline
        result.p_value = float(stats.binomtest(successes, n, baseline).pvalue) if 0 < baseline < 1 else None
        result.se, result.se_kind = math.sqrt(mean * (1 - mean) / n), W("se_binomial")
        result.diagnostics["test"] = "exact binomial test; Wilson interval"
    elif n >= 2 and values.std() > 0:
        d = DescrStatsW(values.to_numpy())
        low, high = d.tconfint_mean(alpha=alpha)
        result.ci_low, result.ci_high = float(low) - baseline, float(high) - baseline
        result.p_value = float(d.ttest_mean(baseline)[1])
        result.se, result.se_kind = float(d.std_mean), W("se_one_sample")
        result.diagnostics["test"] = "one-sample t-test"
    else:
        result.warnings.append(NO_VARIANCE)
    return result.finish()


def two_groups(metric: Metric, cohort: str, treated: pd.Series, comparison: pd.Series) -> EffectResult:
    """Difference in means between two independent groups (randomised arms, historical cohorts)."""
    treated, comparison = treated.dropna().astype(float), comparison.dropna().astype(float)
    result = _base(metric, cohort, treated)
    result.n_comparison = len(comparison)
    if len(treated) == 0 or len(comparison) == 0:
        result.warnings.append(W("no_comparison_outcomes") if len(treated) else W("no_treated_outcomes"))
        result.is_effect = False
        return result
    result.treated_mean, result.counterfactual_mean = float(treated.mean()), float(comparison.mean())
    result.estimate = result.treated_mean - result.counterfactual_mean
    if len(treated) >= 2 and len(comparison) >= 2 and (treated.std() > 0 or comparison.std() > 0):
        compare = CompareMeans(DescrStatsW(treated.to_numpy()), DescrStatsW(comparison.to_numpy()))
        low, high = compare.tconfint_diff(alpha=_alpha(metric), usevar="unequal")
        result.ci_low, result.ci_high = float(low), float(high)
        result.p_value = float(compare.ttest_ind(usevar="unequal")[1])
        result.se, result.se_kind = float(compare.std_meandiff_separatevar), W("se_welch")
        result.diagnostics["test"] = "Welch two-sample t-test"
    else:
        result.warnings.append(NO_VARIANCE)
    return result.finish()


def randomised(metric: Metric, cohort: str, treated: pd.DataFrame, control: pd.DataFrame) -> EffectResult:
    """Treatment arm against control arm: the difference in means, and adjusted for the stated covariates.

    With covariates, the estimate is the treatment coefficient of an OLS regression of the outcome on
    treatment and the covariates, with HC2 standard errors; the unadjusted difference stays in the
    diagnostics.  ``adjustment: additive`` (the default) fits one slope per covariate; ``adjustment: lin``
    fits Lin's (2013) fully interacted model: treatment, the covariates centred at their sample mean, and
    treatment times the centred covariates, so that each arm has its own slopes and the treatment
    coefficient is the average effect; it cannot hurt asymptotic precision even when effects vary.
    Randomisation makes every version unbiased (consistent); adjustment buys precision.
    """
    result = two_groups(metric, cohort, treated["value"], control["value"])
    covariates = list(metric.evaluation.covariates)
    if not covariates or result.estimate is None:
        return result
    both = pd.concat([treated.assign(_treated=1.0), control.assign(_treated=0.0)], ignore_index=True)
    both = both[both["value"].notna()]
    usable = both[covariates].notna().all(axis=1)
    if (~usable).any():
        result.warnings.append(W("adjustment_covariate_missing", n=int((~usable).sum())))
    both = both[usable]
    x = design_matrix(both, covariates)
    design = sm.add_constant(pd.concat([both["_treated"], x], axis=1), has_constant="add")
    if len(both) <= design.shape[1] + 1:
        result.warnings.append(W("adjustment_too_few"))
        return result
    kind = W("se_hc2")
    if metric.evaluation.adjustment == "lin":
        lin = lin_design(both["_treated"], x)
        arms_large = all((both["_treated"] == arm).sum() > x.shape[1] + 1 for arm in (0.0, 1.0))
        if arms_large and np.linalg.matrix_rank(lin.to_numpy()) == lin.shape[1]:
            design, kind = lin, W("se_hc2_lin")
        else:
            result.warnings.append(W("adjustment_lin_too_few"))
    fit = sm.OLS(both["value"].astype(float), design).fit(cov_type="HC2")
    estimate, se = float(fit.params["_treated"]), float(fit.bse["_treated"])
    if not np.isfinite(se) or se <= 0:
        result.warnings.append(W("adjustment_failed"))
        return result
    low, high = fit.conf_int(alpha=_alpha(metric)).loc["_treated"]
    result.diagnostics.update(unadjusted={"estimate": result.estimate, "ci": [result.ci_low, result.ci_high],
                                          "p_value": result.p_value},
                              adjustment={"covariates": list(x.columns), "standard_error": "HC2", "n": int(len(both)),
                                          "model": "lin" if kind.code.endswith("lin") else "additive"})
    result.estimate, result.ci_low, result.ci_high = estimate, float(low), float(high)
    result.p_value = float(fit.pvalues["_treated"])
    result.se, result.se_kind = se, kind
    result.counterfactual_mean = result.treated_mean - estimate if result.treated_mean is not None else None
    result.diagnostics["test"] = ("OLS regression adjustment" + (" (Lin, interacted)" if kind.code.endswith("lin")
                                                                 else "") + ", HC2 standard errors")
    return result.finish()


def lin_design(treated: pd.Series, x: pd.DataFrame) -> pd.DataFrame:
    """Lin's (2013) design: constant, treatment, covariates centred at the sample mean, treatment x centred."""
    centred = x - x.mean()
    interacted = centred.mul(treated, axis=0).add_prefix("_treated:")
    return sm.add_constant(pd.concat([treated, centred, interacted], axis=1), has_constant="add")


def paired(metric: Metric, cohort: str, before: pd.Series, after: pd.Series) -> EffectResult:
    """The same participants after against before (pre_post)."""
    both = pd.DataFrame({"before": before, "after": after}).dropna().astype(float)
    result = _base(metric, cohort, both["after"])
    result.n_comparison = len(both)
    if both.empty:
        result.warnings.append(W("no_before_and_after"))
        result.is_effect = False
        return result
    result.treated_mean, result.counterfactual_mean = float(both["after"].mean()), float(both["before"].mean())
    diff = both["after"] - both["before"]
    result.estimate = float(diff.mean())
    if len(diff) >= 2 and diff.std() > 0:
        d = DescrStatsW(diff.to_numpy())
        low, high = d.tconfint_mean(alpha=_alpha(metric))
        result.ci_low, result.ci_high = float(low), float(high)
        result.p_value = float(d.ttest_mean(0.0)[1])
        result.se, result.se_kind = float(d.std_mean), W("se_paired")
        result.diagnostics["test"] = "paired t-test"
    else:
        result.warnings.append(NO_VARIANCE)
    result.warnings.append(W("pre_post_change"))
    return result.finish()


def matched(metric: Metric, cohort: str, treated: pd.DataFrame, pool: pd.DataFrame, exact: list[str],
            pool_rows: np.ndarray | None = None) -> EffectResult:
    """Treated against a propensity-matched comparison group from the pool (its ``pool_rows``, when given)."""
    ev = metric.evaluation
    result = _base(metric, cohort, treated["value"])
    try:
        m = match(treated, pool, list(ev.covariates), exact, caliper_sd=float(ev.caliper), k=ev.neighbours,
                  replacement=ev.replacement, squares=list(ev.squares), interactions=[list(p) for p in ev.interactions],
                  pairs=True, se=ev.se, pool_rows=pool_rows)
    except MatchingError as exc:
        result.warnings.append(W("no_match", reason=exc.message.as_dict()))
        result.is_effect = False
        return result
    z = stats.norm.ppf(1 - _alpha(metric) / 2)
    result.n_treated, result.n_comparison = m.n_treated, m.n_controls
    result.treated_mean, result.counterfactual_mean = m.treated_mean, m.counterfactual_mean
    result.estimate = m.att
    if m.se > 0:
        result.ci_low, result.ci_high = m.att - z * m.se, m.att + z * m.se
        result.se = float(m.se)  # a matching result may name its own kind (e.g. adjusted for the estimated score)
        result.se_kind = getattr(m, "se_kind", None) or W("se_abadie_imbens")
        result.p_value = float(2 * stats.norm.sf(abs(m.att) / m.se))
    result.warnings += m.warnings
    result.diagnostics.update(m.diagnostics, standard_error_value=m.se)
    if result.p_value is not None:  # Rosenbaum bounds on the matched pairs (evaluation.sensitivity)
        result.diagnostics["sensitivity"] = {"rosenbaum": sensitivity.matched_rosenbaum(
            m, treated, None, metric.kind == "binary", metric.direction, _alpha(metric))}
    return result.finish()
