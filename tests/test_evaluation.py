"""Evaluation: outcome windows and aggregation, the designs' statistics, and reproducible runs."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa
from scipy import stats

from contracts import load_contract_text
from evaluation import designs
from evaluation.inputs import Inputs
from evaluation.matching import match
from evaluation.outcomes import participant_outcomes
from evaluation.run import evaluate, evaluate_metric
from outcomes.batches import verify_batch
from outcomes.ingest import ingest_file
from tests.helpers import MINIMAL, row_counts, stored_minimal, write, english

CONTRACT = load_contract_text(MINIMAL, "minimal.yaml").contract
ATTENDANCE = CONTRACT.metric("attendance")
EXCLUSION = CONTRACT.metric("exclusion")


def inputs(measurements: list[tuple[int, str, str, float | None]], starts: dict[int, str]) -> Inputs:
    enrolments = pd.DataFrame({"participant_id": list(starts), "cohort": "c1", "arm": "treatment",
                               "start": pd.to_datetime(list(starts.values())), "exit": pd.NaT})
    frame = pd.DataFrame(measurements, columns=["participant_id", "metric", "observed_on", "value"])
    frame["observed_on"] = pd.to_datetime(frame["observed_on"])
    frame["measurement_id"] = range(len(frame))
    frame["verified"] = True
    answers = pd.DataFrame(columns=["answer_id", "metric", "answered_on", "value", "unit", "verified"])
    return Inputs(participants=pd.DataFrame({"participant_id": list(starts)}), enrolments=enrolments,
                  measurements=frame.astype({"value": float}), answers=answers)


def test_window_is_relative_to_each_enrolment_and_half_open() -> None:
    data = inputs([
        (1, "attendance", "2020-01-31", 0.2),  # the day before enrolment: outside
        (1, "attendance", "2020-02-01", 0.8),  # first day: inside
        (1, "attendance", "2021-01-31", 1.0),  # last day of 12 months: inside
        (1, "attendance", "2021-02-01", 0.0),  # 12 months after: outside
        (2, "attendance", "2020-06-01", 0.9),
    ], {1: "2020-02-01", 2: "2020-05-15"})
    out = participant_outcomes(data, ATTENDANCE, date(2022, 1, 1)).set_index("participant_id")
    assert out.loc[1, "value"] == pytest.approx(0.9) and out.loc[1, "n_measurements"] == 2
    assert out.loc[2, "value"] == pytest.approx(0.9)
    assert out.loc[1, "achieved"] is True and out.loc[2, "achieved"] is True


def test_open_window_gives_no_outcome_yet() -> None:
    data = inputs([(1, "attendance", "2020-03-01", 0.95)], {1: "2020-02-01"})
    out = participant_outcomes(data, ATTENDANCE, date(2021, 1, 30)).set_index("participant_id")
    assert not out.loc[1, "closed"] and np.isnan(out.loc[1, "value"])
    closed = participant_outcomes(data, ATTENDANCE, date(2021, 1, 31)).set_index("participant_id")
    assert closed.loc[1, "closed"] and closed.loc[1, "value"] == pytest.approx(0.95)


def test_missing_counts_as_not_achieved_when_the_contract_says_so() -> None:
    data = inputs([(1, "exclusion", "2020-03-01", 1.0)], {1: "2020-02-01", 2: "2020-02-01"})
    out = participant_outcomes(data, EXCLUSION, date(2022, 1, 1)).set_index("participant_id")
    assert out.loc[1, "value"] == 1.0 and out.loc[1, "achieved"] is False  # lower is better: excluded is not achieved
    assert out.loc[2, "value"] == 1.0 and out.loc[2, "achieved"] is False  # no record: not achieved, as contracted


def _exit_inputs(measurements: list, starts: dict[int, str], exits: dict[int, str]) -> Inputs:
    data = inputs(measurements, starts)
    data.enrolments["exit"] = pd.to_datetime([exits.get(p) for p in data.enrolments["participant_id"]])
    return data


def test_window_after_exit_counts_from_each_exit_and_no_exit_is_pending() -> None:
    """Varnäs: the outcome two years after discharge.  Someone not yet discharged is pending, not missing."""
    from contracts.model import Window

    metric = EXCLUSION.model_copy(update={"window": Window(after="exit", start_months=0, end_months=12),
                                          "missing": "exclude"}, deep=True)
    data = _exit_inputs([
        (1, "exclusion", "2020-06-01", 1.0),  # before exit: outside the window after exit
        (1, "exclusion", "2021-01-15", 0.0),  # inside (exit 2020-12-01 .. 2021-11-30)
        (2, "exclusion", "2021-09-01", 1.0),  # exit 2021-06-01: inside
        (3, "exclusion", "2020-09-01", 1.0),  # never exited
        (4, "exclusion", "2021-12-01", 1.0),  # exit 2021-11-30: window open on as-of 2022-01-01
    ], {1: "2020-02-01", 2: "2020-02-01", 3: "2020-02-01", 4: "2020-02-01"},
        {1: "2020-12-01", 2: "2021-06-01", 4: "2021-11-30"})
    out = participant_outcomes(data, metric, date(2022, 6, 30)).set_index("participant_id")
    assert out.loc[1, "value"] == 0.0 and out.loc[1, "n_measurements"] == 1 and out.loc[1, "closed"]
    assert out.loc[2, "value"] == 1.0 and out.loc[2, "closed"]
    assert not out.loc[3, "closed"] and np.isnan(out.loc[3, "value"]) and out.loc[3, "no_anchor"]
    assert not out.loc[4, "closed"] and not out.loc[4, "no_anchor"]  # window runs to 2022-11-29
    results = evaluate_metric(data, metric.model_copy(update={"evaluation": metric.evaluation.model_copy(
        update={"design": "monitoring"})}), CONTRACT, date(2022, 6, 30))
    pooled = results[-1]
    assert pooled.n_pending == 2 and pooled.n_treated == 2
    codes = {w.code: w.params for w in pooled.warnings}
    assert codes["evaluation.window_no_exit"] == {"n": 1} and codes["evaluation.window_open"] == {"n": 2}
    assert "1 participants have no exit date by the as-of date" in " ".join(english(pooled.warnings))


def test_window_after_an_event_counts_from_its_first_date() -> None:
    """Gotland: no return within a year after the completed intervention, delivered as a binary metric."""
    from contracts.model import Window

    event = EXCLUSION.model_copy(update={"id": "completed", "direction": "higher_is_better"}, deep=True)
    metric = ATTENDANCE.model_copy(update={"window": Window(after="event", event="completed", end_months=6)},
                                   deep=True)
    contract = CONTRACT.model_copy(update={"metrics": [metric, event]}, deep=True)
    data = inputs([
        (1, "completed", "2020-01-15", 1.0),  # before the enrolment: not this enrolment's event
        (1, "completed", "2020-05-10", 0.0),  # a 0 is no event
        (1, "completed", "2020-06-01", 1.0),  # the event
        (1, "completed", "2020-09-01", 1.0),  # a later one does not move the window
        (1, "attendance", "2020-05-01", 0.1),  # before the event: outside
        (1, "attendance", "2020-07-01", 0.8), (1, "attendance", "2020-11-30", 1.0),  # inside
        (1, "attendance", "2020-12-01", 0.0),  # six months after: outside
        (2, "attendance", "2020-07-01", 0.5),  # no event: pending
    ], {1: "2020-02-01", 2: "2020-02-01"})
    out = participant_outcomes(data, metric, date(2021, 6, 1)).set_index("participant_id")
    assert out.loc[1, "window_from"] == pd.Timestamp("2020-06-01")
    assert out.loc[1, "value"] == pytest.approx(0.9) and out.loc[1, "n_measurements"] == 2
    assert not out.loc[2, "closed"] and out.loc[2, "no_anchor"] and np.isnan(out.loc[2, "value"])
    pooled = evaluate_metric(data, metric, contract, date(2021, 6, 1))[-1]
    assert pooled.n_pending == 1 and pooled.diagnostics["window_not_begun"] == 1
    assert any("1 participants have no" in text and "by the as-of date" in text for text in english(pooled.warnings))


def test_window_start_is_checked_in_the_contract() -> None:
    from contracts.checks import check_contract
    from contracts.model import Window

    def codes(window: Window, design: str = "fixed_baseline") -> list[str]:
        metric = ATTENDANCE.model_copy(update={"window": window}, deep=True)
        metric.evaluation.design = design
        if design == "difference_in_differences":
            metric.evaluation.pre_window = Window(start_months=-12, end_months=0)
        contract = CONTRACT.model_copy(update={"metrics": [metric, EXCLUSION]}, deep=True)
        return [m.code for loc, m in check_contract(contract) if "window" in loc]

    assert codes(Window(after="exit", end_months=12)) == []
    assert codes(Window(after="event", event="exclusion", end_months=12)) == []
    assert codes(Window(after="event", end_months=12)) == ["contracts.window_event_missing"]
    assert codes(Window(after="event", event="nope", end_months=12)) == ["contracts.not_a_metric"]
    assert codes(Window(after="event", event="attendance", end_months=12)) == ["contracts.window_event_kind"]
    assert codes(Window(after="enrolment", event="exclusion", end_months=12)) == ["contracts.window_event_unused"]
    assert codes(Window(after="exit", end_months=12), "difference_in_differences") == ["contracts.window_after_design"]


@pytest.mark.parametrize("how, expected", [("sum", 6.0), ("mean", 2.0), ("first", 3.0), ("last", 1.0),
                                           ("min", 1.0), ("max", 3.0), ("any", 1.0)])
def test_aggregations_follow_observation_order(how: str, expected: float) -> None:
    metric = ATTENDANCE.model_copy(update={"aggregation": how, "kind": "count"})
    data = inputs([(1, "attendance", "2020-05-01", 2.0), (1, "attendance", "2020-03-01", 3.0),
                   (1, "attendance", "2020-07-01", 1.0)], {1: "2020-02-01"})
    assert participant_outcomes(data, metric, date(2022, 1, 1))["value"].iloc[0] == expected


def test_fixed_baseline_proportion_uses_exact_binomial_and_wilson() -> None:
    values = pd.Series([1.0] * 60 + [0.0] * 40)
    metric = EXCLUSION.model_copy(update={"direction": "higher_is_better"}, deep=True)
    metric.evaluation.baseline = Decimal("0.5")
    r = designs.fixed_baseline(metric, "c1", values)
    assert r.estimate == pytest.approx(0.10)
    assert r.p_value == pytest.approx(0.056887933, abs=1e-8)  # exact two-sided binomial, 60 of 100 against 0.5
    assert (r.ci_low + 0.5, r.ci_high + 0.5) == pytest.approx((0.502002, 0.690599), abs=1e-6)  # Wilson interval


def test_fixed_baseline_mean_uses_a_one_sample_t_test() -> None:
    values = pd.Series(np.arange(1.0, 11.0))
    metric = ATTENDANCE.model_copy(update={"kind": "continuous"}, deep=True)
    metric.evaluation.baseline = Decimal("5")
    r = designs.fixed_baseline(metric, "c1", values)
    expected = stats.ttest_1samp(values, 5.0)
    assert r.estimate == pytest.approx(0.5) and r.p_value == pytest.approx(expected.pvalue)
    half = stats.t.ppf(0.975, 9) * values.std(ddof=1) / np.sqrt(10)
    assert (r.ci_low, r.ci_high) == pytest.approx((0.5 - half, 0.5 + half))


def test_two_groups_is_welch() -> None:
    rng = np.random.default_rng(1)
    a, b = pd.Series(rng.normal(1.0, 1.0, 80)), pd.Series(rng.normal(0.5, 2.0, 50))
    r = designs.two_groups(ATTENDANCE, "c1", a, b)
    assert r.estimate == pytest.approx(a.mean() - b.mean())
    assert r.p_value == pytest.approx(stats.ttest_ind(a, b, equal_var=False).pvalue)


def test_monitoring_is_never_an_effect() -> None:
    r = designs.monitoring(ATTENDANCE, "c1", pd.Series([3.0, 4.0, 5.0]))
    assert not r.is_effect and r.estimate is None and r.p_value is None and r.treated_mean == 4.0
    assert designs.MONITORING_ONLY in r.warnings


def _selection_data(n_treated: int, n_pool: int, effect: float, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Treated are older with more priors; the outcome rises with both; the true effect is ``effect``."""
    rng = np.random.default_rng(seed)

    def people(n: int, age_mean: float, prior_mean: float, treated: bool) -> pd.DataFrame:
        age = rng.normal(age_mean, 6, n)
        priors = rng.poisson(prior_mean, n).astype(float)
        group = rng.choice(["a", "b"], n)
        y = 1.0 + 0.05 * age + 0.3 * priors + (group == "b") * 0.5 + rng.normal(0, 1, n) + (effect if treated else 0)
        return pd.DataFrame({"age": age, "priors": priors, "group": group, "value": y})

    return people(n_treated, 35, 4, True), people(n_pool, 30, 2, False)


def test_matching_recovers_a_known_effect_where_the_naive_comparison_does_not() -> None:
    treated, pool = _selection_data(600, 4000, effect=-0.5, seed=7)
    naive = treated["value"].mean() - pool["value"].mean()
    m = match(treated, pool, ["age", "priors", "group"], ["group"], caliper_sd=0.2, k=3, replacement=True)
    assert naive > 0.2  # selection makes the programme look harmful
    assert m.att == pytest.approx(-0.5, abs=0.15)
    assert m.att - 1.96 * m.se < -0.5 < m.att + 1.96 * m.se
    assert m.diagnostics["max_abs_smd_after"] < 0.1
    before = {b["covariate"]: b["smd_before"] for b in m.diagnostics["balance"]}
    assert abs(before["age"]) > 0.5
    assert m.weights.sum() == pytest.approx(m.n_treated)


def test_matching_standard_error_is_close_to_a_bootstrap_that_redoes_the_matching() -> None:
    treated, pool = _selection_data(300, 2000, effect=0.0, seed=3)
    m = match(treated, pool, ["age", "priors"], [], caliper_sd=0.2, k=1, replacement=True)
    rng = np.random.default_rng(0)
    draws = []
    for _ in range(60):
        t = treated.sample(len(treated), replace=True, random_state=rng.integers(1 << 31))
        c = pool.sample(len(pool), replace=True, random_state=rng.integers(1 << 31))
        draws.append(match(t, c, ["age", "priors"], [], caliper_sd=0.2, k=1, replacement=True).att)
    assert m.se == pytest.approx(np.std(draws, ddof=1), rel=0.35)


def test_matching_without_replacement_uses_each_control_once() -> None:
    treated, pool = _selection_data(200, 1500, effect=0.3, seed=11)
    m = match(treated, pool, ["age", "priors"], [], caliper_sd=0.2, k=1, replacement=False)
    assert (m.weights == 1.0).all() and m.n_controls == m.n_treated


def test_poor_balance_is_warned() -> None:
    treated, pool = _selection_data(300, 320, effect=0.0, seed=5)
    m = match(treated, pool, ["age", "priors"], [], caliper_sd=5, k=1, replacement=False)
    assert any(w.startswith("poor balance after matching: |SMD| > 0.1 for") for w in english(m.warnings))


PEOPLE = "participant_id,start,school_year,sex\n" + "".join(
    f"P{i:03d},2020-{1 + i % 12:02d}-01,{4 + i % 6},{'female' if i % 2 else 'male'}\n" for i in range(40))


def _measurements(rng_seed: int) -> str:
    rng = np.random.default_rng(rng_seed)
    rows = ["participant_id,metric,date,value"]
    for i in range(40):
        rows.append(f"P{i:03d},attendance,2020-{1 + i % 12:02d}-15,{rng.uniform(0.7, 1.0):.3f}")
    return "\n".join(rows) + "\n"


def test_runs_are_reproducible_and_append_only(engine, key, tmp_path: Path) -> None:
    stored = stored_minimal(engine)
    contract = stored.latest.terms
    b1 = ingest_file(engine, contract, write(tmp_path, "p.csv", PEOPLE), "participants", key)
    b2 = ingest_file(engine, contract, write(tmp_path, "m.csv", _measurements(1)), "measurements", key)

    unverified = evaluate(engine, stored, date(2022, 6, 1))
    assert unverified.result("attendance", "c1").n_treated == 0  # nothing verified yet
    # not even where a missing measurement counts (exclusion: missing = not achieved): no enrolment is verified
    assert unverified.result("exclusion").n_treated == 0 and unverified.coverage["participants"] == {}
    interim = evaluate(engine, stored, date(2022, 6, 1), include_unverified=True)
    assert interim.result("attendance", "c1").n_treated == 40
    assert english(interim.result("attendance", "c1").warnings)[0] == "interim view: includes measurements not yet verified"

    verify_batch(engine, b1.batch_id)
    verify_batch(engine, b2.batch_id)
    first = evaluate(engine, stored, date(2022, 6, 1))
    counts = row_counts(engine)
    again = evaluate(engine, stored, date(2022, 6, 1))
    assert again.reused and again.id == first.id and row_counts(engine) == counts
    assert [r.to_dict() for r in again.results] == [r.to_dict() for r in first.results]

    r = first.result("attendance", "c1")
    assert r.n_treated == 40 and r.design == "fixed_baseline" and r.counterfactual_mean == 0.85
    assert first.contract_version == 2  # the amendment took effect on 2021-06-01

    ingest_file(engine, contract, write(tmp_path, "m2.csv", _measurements(2).replace("-15,", "-20,")),
                "measurements", key)
    changed = evaluate(engine, stored, date(2022, 6, 1), include_unverified=True)
    assert changed.inputs_fingerprint not in (first.inputs_fingerprint, interim.inputs_fingerprint)


def test_too_few_participants_and_open_windows_are_warned(engine, key, tmp_path: Path) -> None:
    stored = stored_minimal(engine)
    contract = stored.latest.terms
    people = "participant_id,start,school_year,sex\nA,2020-01-10,5,male\nB,2020-11-10,5,female\n"
    verify_batch(engine, ingest_file(engine, contract, write(tmp_path, "p.csv", people), "participants", key).batch_id)
    m = "participant_id,metric,date,value\nA,attendance,2020-02-01,0.9\nB,attendance,2020-12-01,0.8\n"
    batch = ingest_file(engine, contract, write(tmp_path, "m.csv", m), "measurements", key).batch_id
    verify_batch(engine, batch)
    run = evaluate(engine, stored, date(2021, 6, 1))
    r = run.result("attendance", "c1")
    assert r.n_treated == 1 and r.n_pending == 1
    assert "outcome window not yet closed for 1 participants; they are not included" in english(r.warnings)
    assert "only 1 participants with outcomes; the contract's minimum for analysis is 5" in english(r.warnings)


DID_CONTRACT = MINIMAL.replace("""    evaluation:
      design: fixed_baseline
      baseline: 0.85
      min_n: 5""", """    evaluation:
      design: difference_in_differences
      pre_window: {start_months: -12, end_months: 0}
      period: quarter
      min_n: 5""")


def test_difference_in_differences_from_stored_measurements(engine, key, tmp_path: Path) -> None:
    """Quarterly attendance a year before and after each start; the treated gain 0.05 after theirs."""
    stored = stored_minimal(engine, DID_CONTRACT)
    contract = stored.latest.terms
    rng = np.random.default_rng(5)
    people = ["participant_id,start,school_year,sex"]
    pool = ["participant_id,start,school_year,sex"]
    rows = ["participant_id,metric,date,value"]
    for i in range(120):
        start = pd.Timestamp("2020-03-01") + pd.Timedelta(days=int(i))
        (people if i < 60 else pool).append(f"U{i:03d},{start.date()},5,male")
        level = rng.normal(0.8, 0.05)
        for q in range(-4, 4):
            day = (start + pd.DateOffset(months=3 * q) + pd.Timedelta(days=10)).date()
            gain = 0.05 if i < 60 and q >= 0 else 0.0
            rows.append(f"U{i:03d},attendance,{day},{min(1.0, level + 0.01 * q + gain + rng.normal(0, 0.02)):.4f}")
    for kind, name, text in (("participants", "p.csv", people), ("comparison", "c.csv", pool), ("measurements", "m.csv", rows)):
        batch = ingest_file(engine, contract, write(tmp_path, name, "\n".join(text) + "\n"), kind, key).batch_id
        verify_batch(engine, batch)
    run = evaluate(engine, stored, date(2022, 6, 1))
    r = run.result("attendance", "c1")
    assert (r.design, r.n_treated, r.n_comparison) == ("difference_in_differences", 60, 60)
    assert r.estimate == pytest.approx(0.05, abs=0.01) and r.ci_low < 0.05 < r.ci_high
    assert r.diagnostics["periods"] == list(range(-4, 4))
    assert r.diagnostics["pre_trends"]["tested"] and r.diagnostics["pre_trends"]["p_value"] > 0.01


def test_rerun_reproduces_every_number_and_diff_explains_a_change(engine, key, tmp_path: Path) -> None:
    from evaluation.diff import diff_runs
    from store.tables import EvaluationRunRow

    stored = stored_minimal(engine)
    contract = stored.latest.terms
    for kind, name, text in (("participants", "p.csv", PEOPLE), ("measurements", "m.csv", _measurements(1))):
        verify_batch(engine, ingest_file(engine, contract, write(tmp_path, name, text), kind, key).batch_id)
    first = evaluate(engine, stored, date(2022, 6, 1))
    again = evaluate(engine, stored, date(2022, 6, 1))
    assert (again.id, again.reused, again.reproduced) == (first.id, True, True)

    extra = "participant_id,metric,date,value\n" + "".join(
        f"P{i:03d},exclusion,2020-{1 + i % 12:02d}-25,{i % 2}\n" for i in range(10))
    verify_batch(engine, ingest_file(engine, contract, write(tmp_path, "x.csv", extra), "measurements", key).batch_id)
    second = evaluate(engine, stored, date(2022, 6, 1))
    change = diff_runs(first, second)
    said = english(change["explanation"])
    assert said[0].startswith("inputs changed (fingerprint")
    assert "measurements 40 → 50 (+10)" in said
    assert "  of which exclusion 0 → 10 (+10)" in said
    assert {e["metric"] for e in change["results"]} == {"exclusion"}
    assert english(diff_runs(first, first)["explanation"]) == [
        "nothing: same inputs, contract version, parameters and code, and every number equal"]

    with engine.begin() as conn:  # a stored run altered behind the engine's back is caught on re-running
        row = conn.execute(sa.select(EvaluationRunRow.results).where(EvaluationRunRow.id == second.id)).scalar_one()
        row["results"][0]["estimate"] = 0.5
        conn.execute(sa.update(EvaluationRunRow).where(EvaluationRunRow.id == second.id).values(results=row))
    assert evaluate(engine, stored, date(2022, 6, 1)).reproduced is False
