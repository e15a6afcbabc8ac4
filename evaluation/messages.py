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
    "adjustment_lin_too_few": N_("too few participants in an arm, or a covariate that does not vary within an "
                                 "arm, for Lin's interacted adjustment; the additive adjustment is shown"),
    # which standard error an estimate carries
    "se_binomial": N_("binomial, √(p(1−p)/n); interval: Wilson"),
    "se_one_sample": N_("one-sample, s/√n"),
    "se_welch": N_("Welch (unequal variances)"),
    "se_paired": N_("paired, s/√n of the differences"),
    "se_hc2": N_("HC2 (heteroskedasticity-robust), additive regression adjustment"),
    "se_hc2_lin": N_("HC2 (heteroskedasticity-robust), Lin's interacted regression adjustment"),
    "se_abadie_imbens": N_("Abadie–Imbens (matching with replacement)"),
    "se_abadie_imbens_2016": N_("Abadie–Imbens (2016), adjusted for the estimated propensity score"),
    "se_greenwood": N_("Greenwood (Kaplan–Meier), the two arms independent"),
    "se_cluster": N_("cluster-robust, {clusters} clusters, small-sample correction {correction}"),
    "se_influence": N_("influence function (Callaway–Sant'Anna), clustered by unit, {clusters} units"),
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
    "matching_none_matched": N_("no treated participant found a match within the caliper"),
    "matched_set_not_matched": N_("metric {metric} is not evaluated by matching, so it has no matched set"),
    "matched_set_no_cohort": N_("the contract has no cohort {cohort}"),
    "matched_set_inputs_changed": N_("the data have changed since run {run}, so its matched set cannot be recomputed; "
                                     "evaluate again and export from the new run"),
    "matched_set_not_reproduced": N_("the matched set recomputed for run {run} does not give the estimate the run "
                                     "stored for {metric}; it is not exported"),
    "matching_poor_balance": N_("poor balance after matching: |SMD| > 0.1 for {covariates:covariates}"),
    # difference-in-differences
    "did_no_counterfactual": N_("no counterfactual: difference-in-differences needs at least two treated and "
                                "comparison units, each observed before and after the start"),
    "did_no_variance": N_("no variance left after the fixed effects: no confidence interval and no test"),
    "did_no_cells": N_("no counterfactual: difference-in-differences needs treated and comparison units, each "
                       "observed before and after the start"),
    "did_few_units": N_("few units ({treated} treated, {comparison} comparison, {clusters} in all; cluster-robust "
                        "errors need at least {few} of each and {all} in all): the p-value and interval come from "
                        "randomisation inference over placebo units"),
    "did_too_few_placebos": N_("too few placebo units for a permutation test: with {placebos} placebo assignments "
                               "the smallest possible p-value is {smallest:sig}, so no result can be significant at "
                               "{alpha:sig}"),
    "synth_no_counterfactual": N_("no counterfactual: a synthetic control needs a treated unit and comparison "
                                  "units observed in every period, with periods before and after the start"),
    "synth_poor_fit": N_("poor pre-period fit: the synthetic control misses the treated unit by {rmspe:sig} (RMSPE) "
                         "before the start, {share:percent} of its level (more than {limit:percent}); it is not a "
                         "credible counterfactual"),
    "panel_no_denominator": N_("{n} unit-periods have no positive denominator (e.g. no population figure) and are "
                               "left out of the rates"),
    "staggered_no_cells": N_("no counterfactual: staggered difference-in-differences needs treated units observed "
                             "before and after their start and comparison units over the same calendar periods"),
    "staggered_unbalanced": N_("{n} units are not observed in every calendar period and are left out (the "
                               "staggered estimator needs a balanced panel)"),
    "staggered_treated_first": N_("{n} treated units started in the panel's first period, with no period before, "
                                  "and are left out"),
    "staggered_no_never_treated": N_("no never-treated comparison units: units not yet treated serve as controls "
                                     "instead"),
    "staggered_cells_no_controls": N_("{n} group-period cells have no control units (nobody is untreated then) and "
                                      "are left out of the effect"),
    "did_ci_unbounded": N_("the placebo units cannot bound the effect: no {level:percent} confidence interval"),
    "pre_trends_one_period": N_("only one period before the start: pre-trends cannot be checked"),
    "pre_trends_no_variation": N_("no variation before the start: pre-trends cannot be checked"),
    "pre_trends_differ": N_("pre-trends: treated and comparison units already differed before the start (joint "
                            "test p = {p:p}); the parallel-trends assumption is doubtful"),
    # sensitivity (evaluation.sensitivity)
    "evalue_no_estimate": N_("no E-value: there is no effect estimate"),
    "evalue_zero_counterfactual": N_("no E-value: the counterfactual share is zero, so there is no risk ratio"),
    "evalue_zero_treated": N_("no E-value: the effect implies a share of zero or less, so there is no risk ratio"),
    "evalue_no_sd": N_("no E-value: the outcome has no standard deviation to standardise the effect with"),
    "rosenbaum_not_significant": N_("Rosenbaum bounds: the effect is not significant even without hidden bias "
                                    "(one-sided p = {p:p}), so Γ is 1"),
    "rosenbaum_no_pairs": N_("no Rosenbaum bounds: the matching did not give its matched pairs"),
    "event_study_no_pre": N_("no event study: no period before the start"),
    "event_study_no_variation": N_("no event study: the treated-by-period terms cannot be estimated"),
    "event_study_pre_band": N_("event study: in {n} period(s) before the start the simultaneous band excludes "
                               "zero; the parallel-trends assumption is doubtful"),
    # time to event (evaluation.survival)
    "survival_censored_open": N_("{n} participants' windows are still open: they count as event-free up to the "
                                 "as-of date and are censored there"),
    "survival_no_events_treated": N_("no events among the treated participants: their event-free share is 1 "
                                     "with no sampling variation estimated"),
    "survival_no_events_comparison": N_("no events in the comparison group: its event-free share is 1 with no "
                                        "sampling variation estimated"),
    "survival_no_events_at_all": N_("no events in either group: the log-rank test cannot be computed"),
    "survival_cox_no_events": N_("no Cox regression: a group without events has no finite hazard ratio"),
    "survival_cox_failed": N_("the Cox regression did not converge to finite estimates"),
    "survival_design": N_("time-to-event metrics are compared under the randomised or historical_cohort "
                          "design; design {design} gives the treated curve only"),
    # runs
    "interim": N_("interim view: includes measurements not yet verified"),
    "window_open": N_("outcome window not yet closed for {n} participants; they are not included"),
    "window_no_exit": N_("{n} participants have no exit date by the as-of date: their window, counted from the exit, "
                         "has not begun; they are pending, not missing"),
    "window_no_event": N_("{n} participants have no {event:metric} by the as-of date: their window, counted from "
                          "it, has not begun; they are pending, not missing"),
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
    "power_direction": N_("a proportion's minimum detectable effect depends on its direction: give rise or fall "
                          "(--direction), got '{direction}'"),
    "power_unreachable_rise": N_("no rise from a baseline of {baseline} can be detected with {n} participants"),
    "power_unreachable_fall": N_("no fall from a baseline of {baseline} can be detected with {n} participants"),
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
