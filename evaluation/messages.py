"""What the evaluation says to its readers: warnings on results and the reasons an estimate is missing.

Each is stored in a run as a code and its parameters and rendered in the reader's language
(``language.words``).  The English text here is the catalogues' message id.
"""

from language import N_, Texts

TEXTS = Texts("evaluation", {
    # designs
    "monitoring_only": N_("monitoring only: this design has no counterfactual, so the figure is not an effect"),
    "no_variance": N_("fewer than two outcomes or no variance in them: no confidence interval and no test"),
    "no_comparison_outcomes": N_("no counterfactual: the comparison group has no outcomes, so there is no effect "
                                 "to estimate"),
    "no_treated_outcomes": N_("no counterfactual: the treated group has no outcomes, so there is no effect to "
                              "estimate"),
    "adjustment_covariate_missing": N_("{n} participants lack a covariate and are left out of the adjustment"),
    "adjustment_too_few": N_("too few participants for regression adjustment; the unadjusted difference is shown"),
    "adjustment_failed": N_("regression adjustment failed (no variance left); the unadjusted difference is shown"),
    "no_before_and_after": N_("no counterfactual: no participant has outcomes both before and after"),
    "pre_post_change": N_("pre-post: the change also contains whatever else changed over the period"),
    "no_match": N_("no counterfactual: {reason}"),
    # matching
    "matching_covariate_missing": N_("{n} treated participants lack a covariate and were left out"),
    "matching_needs_both": N_("matching needs treated participants and pool members with every covariate"),
    "matching_nothing_varies": N_("no covariate varies, so the propensity model has nothing to go on"),
    "matching_separation": N_("the covariates separate treated participants from the pool perfectly; there is no "
                              "one comparable to match with"),
    "matching_collinear": N_("the propensity model cannot be fitted: its covariates are collinear"),
    "matching_not_finite": N_("the propensity model did not converge to finite scores"),
    "matching_off_support": N_("{n} treated participants are outside the pool's common support and were trimmed"),
    "matching_no_match": N_("{n} treated participants found no match within the caliper and were left out"),
    "matching_poor_balance": N_("poor balance after matching: |SMD| > 0.1 for {covariates:covariates}"),
    # difference-in-differences
    "did_no_counterfactual": N_("no counterfactual: difference-in-differences needs at least two treated and "
                                "comparison units, each observed before and after the start"),
    "did_no_variance": N_("no variance left after the fixed effects: no confidence interval and no test"),
    "pre_trends_one_period": N_("only one period before the start: pre-trends cannot be checked"),
    "pre_trends_no_variation": N_("no variation before the start: pre-trends cannot be checked"),
    "pre_trends_differ": N_("pre-trends: treated and comparison units already differed before the start (joint "
                            "test p = {p:p}); the parallel-trends assumption is doubtful"),
    # runs
    "interim": N_("interim view: includes measurements not yet verified"),
    "window_open": N_("outcome window not yet closed for {n} participants; they are not included"),
    "too_few": N_("only {n} participants with outcomes; the contract's minimum for analysis is {min_n}"),
    "missing_excluded": N_("{n} participants have no measurement in the window and are excluded"),
    "subgroup": N_("subgroup result, one of {of}: exploratory; with {tests} tests, about one in twenty is "
                   "'significant' by chance at 5 % (Bonferroni-adjusted p in diagnostics)"),
    "anonymous": N_("anonymous answers: no link to participants; shown in aggregate only"),
    # power, at design time and in the report
    "power_alpha": N_("alpha and power must be between 0 and 1"),
    "power_baseline_share": N_("a baseline proportion must be between 0 and 1, got {baseline}"),
    "power_needs_sd": N_("a mean needs the outcome's standard deviation (--sd), greater than 0"),
    "power_n": N_("n must be at least 2"),
    "power_zero_effect": N_("the effect must not be zero"),
    "power_not_a_share": N_("baseline {baseline} plus effect {effect} is not a proportion"),
    "power_unchecked": N_("cannot check the threshold against the cohorts' power: set the cohorts' target_size and "
                          "evaluation.planning_mean of metric {metric:metric}"),
    "power_unchecked_sd": N_("cannot check the threshold against the cohorts' power: set the cohorts' target_size "
                             "and evaluation.planning_mean and planning_sd of metric {metric:metric}"),
    "power_cannot": N_("cannot check the power of {what}: {reason}"),
    "power_too_small": N_("{what} ({effect:sig} on a planned mean of {mean:sig}) is below the minimum detectable "
                          "effect for {n} participants ({mde:sig}, at 80 % power and alpha {alpha:sig}): a real "
                          "improvement of that size will often not show; plan larger cohorts or a longer follow-up"),
    "power_what_cohort": N_("the cohort threshold"),
    "power_what_overall": N_("the threshold across all cohorts"),
    "power_what_target": N_("the target of {metric:metric}"),
    "power_no_sd": N_("power not computed, because the contract gives no evaluation.planning_sd for the metric"),
    # what changed between two runs
    "diff_contracts": N_("different contracts: {a} and {b}"),
    "diff_as_of": N_("as-of date {a:day} → {b:day}"),
    "diff_version": N_("contract version {a} → {b}"),
    "diff_version_reason": N_("contract version {a} → {b} ({reason})"),
    "diff_unverified_included": N_("unverified measurements included in run {run}"),
    "diff_unverified_excluded": N_("unverified measurements excluded in run {run}"),
    "diff_code": N_("method: code version {a} → {b}"),
    "diff_inputs": N_("inputs changed (fingerprint {a} → {b})"),
    "diff_participants": N_("participants ({arm:label.arm}) {a} → {b} ({delta:signed})"),
    "diff_measurements": N_("measurements {a} → {b} ({delta:signed})"),
    "diff_metric_measurements": N_("  of which {metric:metric} {a} → {b} ({delta:signed})"),
    "diff_verified_share": N_("verified share {a:percent} → {b:percent}"),
    "diff_values_changed": N_("the same counts of participants and measurements: values or dates of measurements "
                              "changed"),
    "diff_nothing": N_("nothing: same inputs, contract version, parameters and code, and every number equal"),
    "diff_not_reproducible": N_("same inputs, version and code, yet different numbers: the computation is not "
                                "reproducible"),
    # runs that are not there
    "unknown_run": N_("no evaluation run {run}"),
})
