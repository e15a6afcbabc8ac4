"""Paying on evidence, as a contract term: ``pays_on`` (point_estimate, lower_bound, significant) worked by hand for
metrics where higher and where lower is better, its checks and warning, and `sib payments --what-if`."""

from __future__ import annotations

import json
import os
from decimal import Decimal
from pathlib import Path

import pytest

from contracts import ContractFileError, load_contract_text
from contracts.checks import contract_warnings
from payments.whatif import what_if
from tests import helpers
from tests.helpers import MINIMAL, english
from tests.test_cli import MEASUREMENTS, PEOPLE
from tests.test_payments import (BINARY, DAYS, SAVINGS, THRESHOLD, achievers, contract_with, english_basis,
                                 outcomes, owed, result, run_of)

D = Decimal
BIG_CAP = "    total: 100000000"


def threshold(rule: str | None, metric: str = "exclusion", cohort_threshold: str = "0.10"):
    text = (THRESHOLD.replace("metric: exclusion", f"metric: {metric}")
            .replace("cohort_threshold: 0.10", f"cohort_threshold: {cohort_threshold}")
            .replace("overall_threshold: 0.075", f"overall_threshold: {min(D('0.075'), D(cohort_threshold))}"))
    return contract_with(text.replace("}", f", pays_on: {rule}}}") if rule else text, caps=BIG_CAP)


# -- comparison_threshold ---------------------------------------------------------------------------------------------

# Lower is better (exclusions): estimate −0.12 is an improvement of 0.12; its CI −0.20 to −0.11 is an improvement of
# 0.11 to 0.20, so the end least favourable to payment is −ci_high = 0.11.
LOWER = dict(estimate=-0.12, ci_low=-0.20, ci_high=-0.11, counterfactual_mean=1.0, n_treated=900, p_value=0.03)


@pytest.mark.parametrize("rule, expected", [
    (None, D("216000.00")),                # 2,000 × 0.12 × 900, as before pays_on existed
    ("point_estimate", D("216000.00")),
    ("lower_bound", D("198000.00")),       # 2,000 × 0.11 × 900 (11 % still reaches 10 %)
    ("significant", D("216000.00")),       # p 0.03 < 0.05
])
def test_threshold_where_lower_is_better(rule: str | None, expected: Decimal) -> None:
    line = owed(threshold(rule), results=[result("exclusion", "c1", **LOWER)])[0]
    assert line.amount == expected
    assert ("pays_on" in line.basis) == (rule is not None)  # unset: the basis is as it always was


def test_threshold_lower_bound_says_what_it_paid_on() -> None:
    c = threshold("lower_bound")
    line = owed(c, results=[result("exclusion", "c1", **LOWER)])[0]
    assert {k: line.basis[k] for k in ("pays_on", "pays_on_value", "improvement_interval", "point_improvement",
                                       "relative_improvement", "improvement_per_participant")} == {
        "pays_on": "lower_bound", "pays_on_value": "0.110000", "improvement_interval": ["0.110000", "0.200000"],
        "point_improvement": "0.120000", "relative_improvement": "0.110000", "improvement_per_participant": "0.110000"}
    assert english_basis(c, line.basis) == (
        "paid on the end of the confidence interval least favourable to payment: improvement 0.110000 per participant "
        "(interval 0.110000 to 0.200000, point estimate 0.120000), floored at zero: 0.110000; relative improvement "
        "11.0% against threshold 10.0%: reached; SEK 2,000.00 per unit × 0.110000 improvement × 900 participants = "
        "SEK 198,000.00")


def test_threshold_lower_bound_can_fall_below_the_threshold() -> None:
    r = dict(LOWER, ci_high=-0.06)  # improvement 0.06 to 0.20: 6 % at the bound, below 10 %
    line = owed(threshold("lower_bound"), results=[result("exclusion", "c1", **r)])[0]
    assert line.amount == D("0.00") and line.basis["relative_improvement"] == "0.060000"


def test_threshold_significant_at_p_equal_to_alpha_pays_nothing() -> None:
    c = threshold("significant")
    line = owed(c, results=[result("exclusion", "c1", **dict(LOWER, p_value=0.05))])[0]
    assert line.amount == D("0.00")
    assert english_basis(c, line.basis) == "paid only if significant: p 0.050 is not below 0.05: nothing due"
    no_p = owed(c, results=[result("exclusion", "c1", **dict(LOWER, p_value=None))])[0]
    assert no_p.amount == D("0.00")
    assert english([no_p.basis["trail"]]) == ["paid only if significant, but the result has no p-value: nothing due"]


# Higher is better (attendance): estimate +0.05 on a counterfactual 0.5 (10 %); the CI +0.02 to +0.08 is already an
# improvement, so the end least favourable to payment is ci_low = 0.02 (4 %, above the 2 % threshold).
HIGHER = dict(direction="higher_is_better", estimate=0.05, ci_low=0.02, ci_high=0.08, counterfactual_mean=0.5,
              n_treated=900, p_value=0.001)


@pytest.mark.parametrize("rule, fields, expected", [
    ("point_estimate", {}, D("90000.00")),                                   # 2,000 × 0.05 × 900
    ("lower_bound", {}, D("36000.00")),                                      # 2,000 × 0.02 × 900
    ("lower_bound", {"ci_low": -0.01, "ci_high": 0.11}, D("0.00")),          # the CI crosses zero: bound 0
    ("significant", {}, D("90000.00")),
    ("significant", {"p_value": 0.06}, D("0.00")),                           # not below alpha 0.05
])
def test_threshold_where_higher_is_better(rule: str, fields: dict, expected: Decimal) -> None:
    c = threshold(rule, metric="attendance", cohort_threshold="0.02")
    line = owed(c, results=[result("attendance", "c1", **(HIGHER | fields))])[0]
    assert line.amount == expected


def test_threshold_lower_bound_without_an_interval_pays_nothing() -> None:
    c = threshold("lower_bound", metric="attendance", cohort_threshold="0.02")
    line = owed(c, results=[result("attendance", "c1", **(HIGHER | {"ci_low": None, "ci_high": None}))])[0]
    assert line.amount == D("0.00")
    assert english([line.basis["trail"]]) == [
        "paid on the lower bound of the confidence interval, but the result has none: nothing due"]


def test_threshold_pooled_line_reads_the_same_rule() -> None:
    """Cohort 1 pays on its bound (0.11); the pooled bound (0.08, above 7.5 %) pays 2,000 × 0.08 × 1,900 = 304,000,
    less the 198,000 already owed = 106,000.00."""
    r = [result("exclusion", "c1", **LOWER),
         result("exclusion", "c2", estimate=-0.15, ci_low=-0.31, ci_high=0.01, counterfactual_mean=1.0, n_treated=1000),
         result("exclusion", "all", estimate=-0.135, ci_low=-0.2, ci_high=-0.08, counterfactual_mean=1.0,
                n_treated=1900)]
    assert [o.amount for o in owed(threshold("lower_bound"), results=r)] == [D("198000.00"), D("0.00"),
                                                                             D("106000.00")]


# -- savings_share ----------------------------------------------------------------------------------------------------

EARNINGS = """  - id: earnings
    name: Earnings
    kind: continuous
    direction: higher_is_better
    window: {start_months: 0, end_months: 12}
    aggregation: sum
    evaluation: {design: fixed_baseline, baseline: 100}
"""


def savings(rule: str, metric: str = "days"):
    text = SAVINGS.replace("{cap}", f", pays_on: {rule}").replace("metric: days", f"metric: {metric}")
    return contract_with(text, caps="    total: 20000000", extra_metrics=DAYS + EARNINGS)


@pytest.mark.parametrize("rule, fields, expected", [
    ("point_estimate", {}, D("6500000.00")),                           # 1.3 × 1,000 × 5,000
    ("lower_bound", {}, D("3000000.00")),                              # −ci_high = 0.6: 0.6 × 1,000 × 5,000
    ("lower_bound", {"ci_high": 0.4}, D("0.00")),                      # the CI crosses zero
    ("significant", {"p_value": 0.05}, D("0.00")),                     # p equal to alpha: not significant
    ("significant", {"p_value": 0.049}, D("6500000.00")),
])
def test_savings_where_lower_is_better(rule: str, fields: dict, expected: Decimal) -> None:
    r = dict(estimate=-1.3, ci_low=-2.0, ci_high=-0.6, counterfactual_mean=120.0, p_value=0.01) | fields
    assert owed(savings(rule), results=[result("days", "all", **r)])[0].amount == expected


@pytest.mark.parametrize("rule, fields, expected", [
    ("point_estimate", {}, D("10000000.00")),                          # 2 × 1,000 × 5,000: all one-for-one
    ("lower_bound", {}, D("2500000.00")),                              # ci_low = 0.5: 0.5 × 1,000 × 5,000
    ("lower_bound", {"ci_low": -0.5}, D("0.00")),                      # the CI crosses zero
    ("significant", {"p_value": 0.05}, D("0.00")),
])
def test_savings_where_higher_is_better(rule: str, fields: dict, expected: Decimal) -> None:
    r = dict(direction="higher_is_better", estimate=2.0, ci_low=0.5, ci_high=3.5, counterfactual_mean=100.0,
             p_value=0.01) | fields
    assert owed(savings(rule, "earnings"), results=[result("earnings", "all", **r)])[0].amount == expected


# -- rate cards and milestones ----------------------------------------------------------------------------------------

def test_rate_card_significant_pays_only_cohorts_with_a_significant_improvement() -> None:
    """Higher is better: cohort 1 improves with p 0.01 (3 achievers paid); cohort 2's p is exactly 0.05 (its 2
    achievers are not paid)."""
    c = contract_with("    - {id: card, type: rate_card, metric: attendance, price: 1000, pays_on: significant}")
    up = dict(direction="higher_is_better", estimate=0.05)
    items = owed(c, outcomes(*achievers(3), *achievers(2, "c2", start=10)),
                 [result("attendance", "c1", p_value=0.01, **up), result("attendance", "c2", p_value=0.05, **up)])
    assert [o.amount for o in items] == [D("3000.00"), D("0.00")]
    assert items[1].basis["achieved"] == {"attendance": 2} and items[1].basis["outcomes_paid"] == 0
    assert (items[0].basis["pays_on"], items[0].basis["significant"], items[1].basis["significant"]) == (
        "significant", {"attendance": True}, {"attendance": False})
    assert english_basis(c, items[1].basis).startswith(
        "paid only for outcomes whose metric improved significantly in the cohort: Attendance changed by 0.050000 "
        "with p 0.050, not a significant improvement at 0.05: not paid; outcomes paid: 0")


@pytest.mark.parametrize("estimate, p, expected", [
    (-0.10, 0.01, D("5000.00")),   # lower is better: exclusions fell, significantly: 2 × 2,500
    (0.10, 0.001, D("0.00")),      # significant, but the wrong way
    (-0.10, 0.05, D("0.00")),      # p equal to alpha
    (-0.10, None, D("0.00")),      # no p-value
])
def test_milestone_significant_where_lower_is_better(estimate: float, p: float | None, expected: Decimal) -> None:
    c = contract_with("    - {id: done, type: milestone, metric: exclusion, amount: 2500, pays_on: significant}")
    frame = outcomes(*achievers(2, metric="exclusion"))
    assert owed(c, frame, [result("exclusion", "c1", estimate=estimate, p_value=p)])[0].amount == expected


def test_rate_card_significant_gates_each_metric_before_exclusivity() -> None:
    """Attendance (1,000) improves significantly, grade (600) does not: participant 1's grade is not paid, so
    exclusivity keeps attendance; participant 2's grade alone pays nothing; work has no result: not paid."""
    c = contract_with("""    - id: card
      type: rate_card
      outcomes: [{metric: attendance, price: 1000}, {metric: grade, price: 600}, {metric: work, price: 300}]
      exclusive: [[attendance, grade]]
      max_outcomes_per_participant: 3
      pays_on: significant""", extra_metrics=BINARY)
    up = dict(direction="higher_is_better", estimate=0.05)
    frame = outcomes((1, "c1", "attendance", True), (1, "c1", "grade", True), (1, "c1", "work", True),
                     (2, "c1", "grade", True))
    line = owed(c, frame, [result("attendance", "c1", p_value=0.01, **up), result("grade", "c1", p_value=0.2, **up)])[0]
    assert line.amount == D("1000.00")
    assert line.basis["achieved"] == {"attendance": 1, "grade": 2, "work": 1}
    assert line.basis["significant"] == {"attendance": True, "grade": False, "work": False}


def test_rate_card_on_the_point_estimate_says_so() -> None:
    c = contract_with("    - {id: card, type: rate_card, metric: attendance, price: 1000, pays_on: point_estimate}")
    line = owed(c, outcomes(*achievers(2)))[0]
    assert line.amount == D("2000.00") and line.basis["pays_on"] == "point_estimate"
    assert english_basis(c, line.basis).startswith("paid on every verified outcome, whatever the effect: ")


# -- the contract file -------------------------------------------------------------------------------------------------

def _problems(text: str) -> list[str]:
    with pytest.raises(ContractFileError) as caught:
        load_contract_text(text, "c.yaml")
    return [str(p) for p in caught.value.problems]


MONITORED = MINIMAL.replace("      design: fixed_baseline\n      baseline: 0.85\n", "      design: monitoring\n")


def test_lower_bound_is_refused_for_rate_cards_and_milestones() -> None:
    assert _problems(MINIMAL.replace("price: 1000,", "price: 1000, pays_on: lower_bound,", 1)) == [
        "c.yaml:47: payments.mechanisms[0].pays_on: 'lower_bound' is not allowed for rate_card: it pays a price per "
        "verified outcome, not per unit of improvement, so there is no improvement for a confidence bound to lower; "
        "expected point_estimate or significant"]
    milestone = MINIMAL.replace("{id: card, type: rate_card, metric: attendance, price: 1000, cap: 50000}",
                                "{id: card, type: milestone, metric: exclusion, amount: 1000, pays_on: lower_bound}")
    milestone = milestone.replace("payments.mechanisms.card.price: 1200", "payments.mechanisms.card.amount: 1200")
    [problem] = _problems(milestone)
    assert problem.startswith("c.yaml:47: payments.mechanisms[0].pays_on: 'lower_bound' is not allowed for milestone: ")


def test_an_unknown_rule_and_significance_without_a_counterfactual_are_refused() -> None:
    assert _problems(MINIMAL.replace("price: 1000,", "price: 1000, pays_on: sometimes,", 1)) == [
        "c.yaml:47: payments.mechanisms[0].pays_on: 'sometimes' is not allowed; expected one of: point_estimate, "
        "lower_bound, significant"]
    assert _problems(MONITORED.replace("price: 1000,", "price: 1000, pays_on: significant,", 1)) == [
        "c.yaml:46: payments.mechanisms[0].pays_on: pays_on 'significant' needs an effect estimate with its p-value, "
        "but metric 'attendance' has design 'monitoring', which has no counterfactual: the mechanism would never pay"]


def test_paying_on_a_point_estimate_without_a_counterfactual_is_a_warning() -> None:
    from language.words import words

    said = words("en")
    warned = contract_warnings(load_contract_text(MONITORED, "c.yaml").contract)
    assert [(loc, said.message(m)) for loc, m in warned] == [(
        ("payments", "mechanisms", 0, "metric"),
        "rate_card pays on the point estimate (pays_on point_estimate, the default), but metric 'attendance' has "
        "design 'monitoring', which has no counterfactual: what it pays is not shown to be the intervention's effect")]
    assert [m.code for _, m in warned] == ["contracts.point_estimate_no_counterfactual"]
    assert contract_warnings(load_contract_text(MINIMAL, "c.yaml").contract) == []  # fixed_baseline has one


def test_validate_prints_the_warning(sib, tmp_path: Path) -> None:
    path = helpers.write(tmp_path, "monitored.yaml", MONITORED)
    checked = sib("contract", "validate", path)
    assert checked.code == 0 and checked.out.strip().endswith("; 1 warning")
    assert checked.err.startswith(f"warning: {path}:46: payments.mechanisms[0].metric: rate_card pays on the point "
                                  "estimate")
    data = json.loads(sib("contract", "validate", path, "--json").out)
    assert data["valid"] and len(data["warnings"]) == 1


def test_pays_on_unset_leaves_fingerprints_alone_and_set_changes_them() -> None:
    from contracts.loader import fingerprint_terms

    terms = load_contract_text(MINIMAL, "c.yaml").versions[0].terms_json()
    assert terms["payments"]["mechanisms"][0]["pays_on"] is None
    without = json.loads(json.dumps(terms))
    del without["payments"]["mechanisms"][0]["pays_on"]
    assert fingerprint_terms(terms) == fingerprint_terms(without)
    ruled = load_contract_text(MINIMAL.replace("price: 1000,", "price: 1000, pays_on: point_estimate,", 1), "c.yaml")
    assert ruled.versions[0].fingerprint != load_contract_text(MINIMAL, "c.yaml").versions[0].fingerprint


# -- what if ----------------------------------------------------------------------------------------------------------

def test_what_if_by_hand() -> None:
    """A rate card on attendance (higher is better) and a Peterborough threshold on exclusions (lower is better).

    Threshold: cohort 1 improves 0.12 (CI 0.11 to 0.20, p 0.03) on 900; cohort 2 0.15 (CI −0.01 to 0.31, p 0.06) on
    1,000; all 0.135 (CI 0.07 to 0.20, p 0.01) on 1,900.
    - point estimate: 216,000 + 300,000; pooled 513,000 less 516,000 already owed: 0.  Total 516,000.
    - lower bound: 2,000 × 0.11 × 900 = 198,000; cohort 2's CI crosses zero: 0; pooled 7 % < 7.5 %: 0.  198,000.
    - significant: 216,000; cohort 2 p 0.06: 0; pooled 513,000 less 216,000 = 297,000.  Total 513,000.
    Rate card (1,000 per achiever): cohort 1 has 3 achievers and p 0.01; cohort 2 has 2 and no result.
    - point estimate 5,000; lower bound not applicable (the total counts it as written: 5,000); significant 3,000.
    """
    c = contract_with("    - {id: card, type: rate_card, metric: attendance, price: 1000}\n"
                      + THRESHOLD.replace("id: card", "id: peterborough"), caps="    total: 10000000")
    results = [result("attendance", "c1", direction="higher_is_better", estimate=0.05, p_value=0.01),
               result("exclusion", "c1", **LOWER),
               result("exclusion", "c2", estimate=-0.15, ci_low=-0.31, ci_high=0.01, counterfactual_mean=1.0,
                      n_treated=1000, p_value=0.06),
               result("exclusion", "all", estimate=-0.135, ci_low=-0.2, ci_high=-0.07, counterfactual_mean=1.0,
                      n_treated=1900, p_value=0.01)]
    got = what_if(c, run_of(results), outcomes(*achievers(3), *achievers(2, "c2", start=10)))
    assert got["mechanisms"] == [
        {"mechanism": "card", "type": "rate_card", "pays_on": "point_estimate",
         "amounts": {"point_estimate": D("5000.00"), "lower_bound": None, "significant": D("3000.00")}},
        {"mechanism": "peterborough", "type": "comparison_threshold", "pays_on": "point_estimate",
         "amounts": {"point_estimate": D("516000.00"), "lower_bound": D("198000.00"), "significant": D("513000.00")}}]
    assert got["total"] == {"point_estimate": D("521000.00"), "lower_bound": D("203000.00"),
                            "significant": D("516000.00")}
    assert (got["as_written"], got["refused"], got["evaluation_run"], got["currency"]) == (D("521000.00"), {}, 1, "SEK")
    assert c.payments.mechanisms[1].pays_on is None  # the terms themselves are untouched


def test_what_if_says_which_rule_is_refused() -> None:
    c = contract_with(THRESHOLD.replace("2000}", "10000000000000}"), caps="    per_payer: {}")
    r = [result("exclusion", "c1", estimate=-0.45, ci_low=-0.5, ci_high=0.1, counterfactual_mean=1.0, n_treated=1000,
                p_value=0.2)]
    got = what_if(c, run_of(r), outcomes())
    assert got["total"] == {"point_estimate": None, "lower_bound": D("0.00"), "significant": D("0.00")}
    assert sorted(got["refused"]) == ["as_written", "point_estimate"]
    assert got["refused"]["point_estimate"]["code"] == "payments.amount_too_large"


@pytest.fixture
def evaluated(sib, tmp_path: Path):
    for step in (("init",), ("keys", "init"), ("contract", "load", helpers.DATA / "minimal.yaml")):
        assert sib(*step).code == 0
    (tmp_path / "people.csv").write_text(PEOPLE)
    (tmp_path / "m.csv").write_text(MEASUREMENTS)
    for kind, name in (("participants", "people.csv"), ("measurements", "m.csv")):
        batch = json.loads(sib("ingest", "test-contract", tmp_path / name, "--kind", kind, "--json").out)["batch"]
        assert sib("verify", str(batch)).code == 0
    assert sib("evaluate", "test-contract", "--as-of", "2022-06-30").code == 0
    return sib


def test_cli_what_if_shows_every_rule_and_writes_nothing(evaluated) -> None:
    before = helpers.snapshot(os.environ["DATABASE_URL"])
    data = json.loads(evaluated("payments", "test-contract", "--what-if", "--json").out)
    assert data["rules"] == ["point_estimate", "lower_bound", "significant"] and data["currency"] == "SEK"
    [card] = data["mechanisms"]
    assert (card["mechanism"], card["pays_on"], card["amounts"]["lower_bound"]) == ("card", "point_estimate", None)
    assert card["amounts"]["point_estimate"] == data["total"]["point_estimate"] == data["as_written"]
    assert D(card["amounts"]["significant"]) <= D(card["amounts"]["point_estimate"])
    assert data["total"]["lower_bound"] == data["as_written"]  # the card counts as written under lower_bound
    shown = evaluated("payments", "test-contract", "--what-if")
    assert shown.code == 0 and "nothing was written to the ledger" in shown.out
    assert "on the point estimate" in shown.out and "only if significant" in shown.out
    assert helpers.snapshot(os.environ["DATABASE_URL"]) == before  # no ledger entry, no audit event, nothing
