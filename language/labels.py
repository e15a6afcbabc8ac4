"""Words for the values a contract and the ledger use (designs, roles, statuses, ...), by group.

A value is stored as written in the contract file (``fixed_baseline``, ``payer``, ``calculated``); where a
person reads it, ``Words.label(group, value)`` shows it in words, translated with the group as gettext
context (the same English word can need different Swedish words in different places).
"""

from __future__ import annotations


def C_(context: str, text: str) -> str:
    """Mark ``text`` for the catalogues under ``context`` (translated with pgettext where it is shown)."""
    return text


LABELS: dict[str, dict[str, str]] = {
    "design": {
        "monitoring": C_("design", "monitoring"),
        "fixed_baseline": C_("design", "fixed baseline"),
        "pre_post": C_("design", "pre-post"),
        "historical_cohort": C_("design", "historical cohort"),
        "randomised": C_("design", "randomised"),
        "matched_comparison": C_("design", "matched comparison"),
        "difference_in_differences": C_("design", "difference-in-differences"),
        "synthetic_control": C_("design", "synthetic control"),
    },
    # how a run's sensitivity figures were found (stored as these codes in diagnostics.sensitivity)
    "rosenbaum_test": {
        "sign_test": C_("rosenbaum_test", "sign test on discordant pairs, exact binomial"),
        "wilcoxon": C_("rosenbaum_test", "Wilcoxon signed rank test, normal approximation"),
    },
    "e_value_conversion": {
        "risk_ratio": C_("e_value_conversion", "risk ratio (counterfactual + effect) / counterfactual"),
        "approximate_smd": C_("e_value_conversion", "approximate: standardised mean difference d, RR = exp(0.91 d)"),
    },
    # why a decision or enrolment in a follow-up's sampling frame is not drawn (outcomes.fieldwork)
    "frame_exclusion": {
        "shorter_than_a_month": C_("frame_exclusion", "decision shorter than a month"),
        "not_in_year": C_("frame_exclusion", "not in force during the year"),
        "decision_type_excluded": C_("frame_exclusion", "decision type excluded by the follow-up plan"),
    },
    "role": {
        "payer": C_("role", "outcome payer"),
        "investor": C_("role", "investor"),
        "provider": C_("role", "provider"),
        "intermediary": C_("role", "intermediary"),
    },
    "kind": {
        "binary": C_("kind", "binary"),
        "rate": C_("kind", "rate"),
        "count": C_("kind", "count"),
        "continuous": C_("kind", "continuous"),
        "ordinal": C_("kind", "ordinal"),
        "time_to_event": C_("kind", "time to event"),
    },
    "aggregation": {
        "mean": C_("aggregation", "mean"),
        "sum": C_("aggregation", "sum"),
        "first": C_("aggregation", "first"),
        "last": C_("aggregation", "last"),
        "min": C_("aggregation", "min"),
        "max": C_("aggregation", "max"),
        "any": C_("aggregation", "any"),
        "count": C_("aggregation", "count"),
    },
    "missing": {
        "exclude": C_("missing", "excluded"),
        "not_achieved": C_("missing", "counted as not achieved"),
        "zero": C_("missing", "counted as zero"),
    },
    "mechanism": {
        "rate_card": C_("mechanism", "rate card"),
        "comparison_threshold": C_("mechanism", "comparison threshold"),
        "savings_share": C_("mechanism", "savings share"),
        "milestone": C_("mechanism", "milestone"),
    },
    "entry": {
        "calculation": C_("entry", "calculation"),
        "adjustment": C_("entry", "adjustment"),
    },
    "status": {
        "calculated": C_("status", "calculated"),
        "attested": C_("status", "attested (1 of 2)"),
        "approved": C_("status", "approved"),
        "invoiced": C_("status", "invoiced"),
        "paid": C_("status", "paid"),
        "rejected": C_("status", "rejected"),
    },
    "frequency": {
        "monthly": C_("frequency", "monthly"),
        "quarterly": C_("frequency", "quarterly"),
        "half_yearly": C_("frequency", "half-yearly"),
        "yearly": C_("frequency", "yearly"),
    },
    "op": {
        "equals": C_("op", "equals"),
        "in": C_("op", "is one of"),
        "between": C_("op", "between"),
        "at_least": C_("op", "at least"),
        "at_most": C_("op", "at most"),
    },
    "arm": {
        "treatment": C_("arm", "in the intervention"),
        "comparison": C_("arm", "in the comparison group"),
        "control": C_("arm", "in the control group"),
    },
    "file": {
        "participants": C_("file", "participants"),
        "enrolments": C_("file", "enrolments"),
        "measurements": C_("file", "measurements"),
        "survey": C_("file", "survey answers"),
        "comparison": C_("file", "comparison pool"),
    },
    "job": {
        "evaluate": C_("job", "evaluation"),
        "payments": C_("job", "payment calculation"),
        "report": C_("job", "evaluation report"),
        "board": C_("job", "board summary"),
    },
    "job_state": {
        "queued": C_("job_state", "waiting"),
        "running": C_("job_state", "running"),
        "done": C_("job_state", "done"),
        "failed": C_("job_state", "failed"),
    },
    "count": {
        "participants": C_("count", "participants"),
        "enrolments": C_("count", "enrolments"),
        "measurements": C_("count", "measurements"),
        "corrections": C_("count", "corrections"),
        "answers": C_("count", "answers"),
        "dont_know": C_("count", "don't know"),
    },
    "field": {
        "n_treated": C_("field", "participants"),
        "n_comparison": C_("field", "comparison"),
        "treated_mean": C_("field", "mean"),
        "counterfactual_mean": C_("field", "counterfactual"),
        "estimate": C_("field", "effect"),
        "ci_low": C_("field", "CI low"),
        "ci_high": C_("field", "CI high"),
        "p_value": C_("field", "p"),
        "n_achieved": C_("field", "achieved"),
    },
    "direction": {
        "higher_is_better": C_("direction", "higher"),
        "lower_is_better": C_("direction", "lower"),
    },
    "sex": {
        "female": C_("sex", "female"),
        "male": C_("sex", "male"),
    },
}
