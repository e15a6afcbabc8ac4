"""Time to event: Kaplan–Meier, log-rank, RMST and Cox against lifelines on the Rossi recidivism data (Rossi, Berk
& Lenihan 1980; the example of Fox's Cox-regression appendix and of lifelines' documentation), RMST against an
independent integration, and the run's handling of censoring and of arms without events."""

from __future__ import annotations

import json
import math
import re
from datetime import date

import numpy as np
import pandas as pd
import pytest

lifelines = pytest.importorskip("lifelines")
from lifelines import CoxPHFitter, KaplanMeierFitter  # noqa: E402
from lifelines.datasets import load_rossi  # noqa: E402
from lifelines.statistics import logrank_test  # noqa: E402
from lifelines.utils import restricted_mean_survival_time  # noqa: E402

from contracts import load_contract_text  # noqa: E402
from evaluation import survival  # noqa: E402
from evaluation.inputs import Inputs  # noqa: E402
from tests.helpers import MINIMAL, english  # noqa: E402

ROSSI = load_rossi()
TTE = MINIMAL.replace("""payments:
  payers:""", """  - id: rearrest
    name: Time to rearrest
    kind: time_to_event
    direction: higher_is_better
    window: {start_months: 0, end_months: 12}
    aggregation: first
    evaluation: {design: randomised, covariates: [age, prio], min_n: 5}
payments:
  payers:""").replace("""    - {name: sex, type: category, values: [female, male]}""", """    - {name: sex, type: category, values: [female, male]}
    - {name: age, type: integer}
    - {name: prio, type: integer}""")
CONTRACT = load_contract_text(TTE, "minimal.yaml").contract
METRIC = CONTRACT.metric("rearrest")
START = pd.Timestamp("2020-01-01")  # a 12-month window from here is 366 days; Rossi's follow-up is 52 weeks


def rossi_inputs(frame: pd.DataFrame = ROSSI) -> Inputs:
    """Rossi's released prisoners as participants: financial aid is the treatment arm, an arrest the event."""
    ids = list(range(len(frame)))
    enrolments = pd.DataFrame({"participant_id": ids, "cohort": "c1",
                               "arm": np.where(frame["fin"] == 1, "treatment", "control"), "start": START,
                               "exit": pd.NaT})
    arrested = frame["arrest"].to_numpy() == 1
    days = frame["week"].to_numpy() * 7
    m = pd.DataFrame({"participant_id": np.array(ids)[arrested], "metric": "rearrest",
                      "observed_on": START + pd.to_timedelta(days[arrested], unit="D"), "value": 1.0})
    checks = pd.DataFrame({"participant_id": ids, "metric": "rearrest", "observed_on": START + pd.Timedelta(days=1),
                           "value": 0.0})  # a check that found no arrest is no event
    measurements = pd.concat([m, checks], ignore_index=True)
    measurements["measurement_id"] = range(len(measurements))
    measurements["verified"] = True
    participants = pd.DataFrame({"participant_id": ids, "age": frame["age"].to_numpy(), "prio": frame["prio"].to_numpy()})
    answers = pd.DataFrame(columns=["answer_id", "metric", "answered_on", "value", "unit", "verified"])
    return Inputs(participants=participants, enrolments=enrolments, measurements=measurements, answers=answers)


def test_kaplan_meier_and_log_rank_match_lifelines_on_rossi() -> None:
    t, e = ROSSI["week"].to_numpy(float), ROSSI["arrest"].to_numpy()
    for arm in (0, 1):
        sel = ROSSI["fin"].to_numpy() == arm
        curve = survival.kaplan_meier(t[sel], e[sel])
        kmf = KaplanMeierFitter().fit(t[sel], e[sel])
        theirs = kmf.survival_function_.iloc[:, 0]
        ci = kmf.confidence_interval_
        for _, row in curve.iterrows():
            assert row["survival"] == pytest.approx(theirs.loc[row["time"]], abs=1e-12)
            assert row["low"] == pytest.approx(ci.iloc[:, 0].loc[row["time"]], abs=1e-9)  # log(-log) interval
            assert row["high"] == pytest.approx(ci.iloc[:, 1].loc[row["time"]], abs=1e-9)
    chi2, p = survival.log_rank(t, e, ROSSI["fin"].to_numpy())
    theirs = logrank_test(t[ROSSI["fin"] == 1], t[ROSSI["fin"] == 0], e[ROSSI["fin"] == 1], e[ROSSI["fin"] == 0])
    assert chi2 == pytest.approx(theirs.test_statistic, rel=1e-9)
    assert p == pytest.approx(theirs.p_value, rel=1e-9)


def test_rmst_against_lifelines_and_an_independent_integration() -> None:
    t, e = ROSSI["week"].to_numpy(float), ROSSI["arrest"].to_numpy()
    curve = survival.kaplan_meier(t, e)
    for tau in (20.0, 40.5, 52.0):
        area, _ = survival.rmst(curve, tau)
        kmf = KaplanMeierFitter().fit(t, e)
        assert area == pytest.approx(restricted_mean_survival_time(kmf, t=tau), rel=1e-9)
        grid = np.linspace(0, tau, 400_001)  # the step function integrated numerically on a fine grid
        s = np.array([survival.at(curve, g)[0] for g in grid[::1000]])
        step = np.repeat(s, 1000)[: len(grid) - 1]
        assert area == pytest.approx(float((step * np.diff(grid)).sum()), abs=0.05)
    # Without censoring the estimator's variance is the plug-in variance of min(T, τ) over n.
    rng = np.random.default_rng(7)
    times = np.round(rng.exponential(30, 400), 1)
    area, variance = survival.rmst(survival.kaplan_meier(times, np.ones(400)), 40.0)
    clipped = np.minimum(times, 40.0)
    assert area == pytest.approx(clipped.mean(), rel=1e-9)
    assert variance == pytest.approx(clipped.var(ddof=0) / 400, rel=1e-9)


def test_cox_matches_lifelines_published_rossi_fit() -> None:
    data = ROSSI.rename(columns={"week": "time", "arrest": "event"}).assign(_treated=ROSSI["fin"].astype(float))
    data["event"] = data["event"].astype(bool)
    covariates = ["age", "race", "wexp", "mar", "paro", "prio"]
    out = survival.cox(data, covariates, 0.05)
    theirs = CoxPHFitter().fit(ROSSI, "week", "arrest").params_
    assert out["terms"]["treated"]["coefficient"] == pytest.approx(theirs["fin"], abs=1e-5)
    for name in covariates:
        assert out["terms"][name]["coefficient"] == pytest.approx(theirs[name], abs=1e-5)
    # lifelines' documented fit of this example: fin -0.38, prio 0.09.
    assert round(out["terms"]["treated"]["coefficient"], 2) == -0.38 and round(out["terms"]["prio"]["coefficient"], 2) == 0.09


def test_run_of_a_time_to_event_metric_on_rossi() -> None:
    results = survival.evaluate_metric(rossi_inputs(), METRIC, CONTRACT, date(2021, 6, 1))
    r = next(x for x in results if x.cohort == "c1")
    info = r.diagnostics["survival"]
    assert info["tau_days"] == 366 and (r.n_treated, r.n_comparison) == (216, 216)
    t, e, fin = ROSSI["week"].to_numpy(float) * 7, ROSSI["arrest"].to_numpy(), ROSSI["fin"].to_numpy()
    for arm, value in (("treated", 1), ("comparison", 0)):
        kmf = KaplanMeierFitter().fit(t[fin == value], e[fin == value])
        assert info["arms"][arm]["event_free"] == pytest.approx(kmf.survival_function_.iloc[-1, 0], abs=1e-12)
        assert info["arms"][arm]["events"] == int(e[fin == value].sum())
    assert r.estimate == pytest.approx(info["arms"]["treated"]["event_free"] - info["arms"]["comparison"]["event_free"])
    assert r.ci_low < r.estimate < r.ci_high and 0 < r.p_value < 1
    lr = logrank_test(t[fin == 1], t[fin == 0], e[fin == 1], e[fin == 0])
    assert info["log_rank"]["p_value"] == pytest.approx(lr.p_value, rel=1e-9)
    cox = CoxPHFitter().fit(ROSSI[["week", "arrest", "fin", "age", "prio"]], "week", "arrest").params_
    assert math.log(info["cox"]["hazard_ratio"]) == pytest.approx(cox["fin"], abs=1e-5)
    assert r.diagnostics["sensitivity"]["e_value"]["risk_ratio"] == pytest.approx(r.treated_mean / r.counterfactual_mean)
    json.dumps(r.to_dict(), allow_nan=False)  # every number a number


def test_open_windows_are_censored_at_the_as_of_date() -> None:
    as_of = date(2020, 7, 1)  # day 182 of every window: followed through it, so for 183 days
    frame = survival.follow_up(rossi_inputs(), METRIC, as_of)
    assert (frame["time"] <= 183).all() and not frame["closed"].any()
    t = np.minimum(ROSSI["week"].to_numpy() * 7, 183)
    e = (ROSSI["arrest"].to_numpy() == 1) & (ROSSI["week"].to_numpy() * 7 < 183)
    assert frame["event"].to_numpy().tolist() == e.tolist() and frame["time"].to_numpy().tolist() == t.tolist()
    r = survival.evaluate_metric(rossi_inputs(), METRIC, CONTRACT, as_of)[0]
    assert r.n_pending == 216 and "216 participants' windows are still open" in english(r.warnings)[0]


def test_an_arm_without_events_is_warned_not_nan() -> None:
    frame = ROSSI.copy()
    frame.loc[frame["fin"] == 0, "arrest"] = 0  # nobody in the control arm is arrested
    r = survival.evaluate_metric(rossi_inputs(frame), METRIC, CONTRACT, date(2021, 6, 1))[0]
    said = english(r.warnings)
    assert "no events in the comparison group: its event-free share is 1 with no sampling variation estimated" in said
    assert r.counterfactual_mean == 1.0 and r.estimate < 0 and r.ci_low is not None
    assert r.diagnostics["survival"]["cox"]["warning"]["code"] == "evaluation.survival_cox_no_events"
    json.dumps(r.to_dict(), allow_nan=False)
    frame["arrest"] = 0  # nobody at all
    r = survival.evaluate_metric(rossi_inputs(frame), METRIC, CONTRACT, date(2021, 6, 1))[0]
    assert r.estimate == 0 and r.ci_low is None and r.p_value is None
    assert "fewer than two outcomes or no variance in them: no confidence interval and no test" in english(r.warnings)
    assert r.diagnostics["survival"]["log_rank"]["warning"]["code"] == "evaluation.survival_no_events_at_all"
    json.dumps(r.to_dict(), allow_nan=False)


def test_stored_run_and_report_show_the_curves(engine, key, tmp_path) -> None:
    """From ingested files to the run and the report: curves with bands, log-rank, Cox and the E-value."""
    from api.reports.report import build_report, render_html, write_report
    from evaluation.run import evaluate
    from outcomes.batches import verify_batch
    from outcomes.ingest import ingest_file
    from tests.helpers import stored_minimal, write

    stored = stored_minimal(engine, TTE)
    contract = stored.latest.terms
    people = ["participant_id,start,school_year,sex,age,prio,arm"]
    rows = ["participant_id,metric,date,value"]
    for i, r in ROSSI.iterrows():
        people.append(f"R{i:03d},2020-01-01,5,male,{r['age']},{r['prio']},{'treatment' if r['fin'] else 'control'}")
        if r["arrest"]:
            rows.append(f"R{i:03d},rearrest,{(START + pd.Timedelta(days=int(r['week']) * 7)).date()},1")
    for kind, name, lines in (("participants", "p.csv", people), ("measurements", "m.csv", rows)):
        verify_batch(engine, ingest_file(engine, contract, write(tmp_path, name, "\n".join(lines) + "\n"), kind,
                                         key).batch_id)
    run = evaluate(engine, stored, date(2021, 6, 1))
    r = run.result("rearrest", "c1")
    assert (r.n_treated, r.n_comparison) == (216, 216)
    t, e, fin = ROSSI["week"].to_numpy(float) * 7, ROSSI["arrest"].to_numpy(), ROSSI["fin"].to_numpy()
    lr = logrank_test(t[fin == 1], t[fin == 0], e[fin == 1], e[fin == 0])
    assert r.diagnostics["survival"]["log_rank"]["p_value"] == pytest.approx(lr.p_value, rel=1e-9)
    doc = build_report(engine, stored.id, run.id, lang="en")
    html = render_html(doc)
    assert write_report(doc, tmp_path / "report.pdf").stat().st_size > 0  # the curves render in the PDF too
    assert "Time to event: Time to rearrest" in html and "Log-rank test: χ² = " in html
    assert "Kaplan–Meier curves" in html and "Cox regression (age, prio): hazard ratio" in html
    assert "Sensitivity to hidden bias" in html and "E-value" in html
    assert not re.search(r"\bnan\b|\binf\b", html, flags=re.I)  # no number that is not one
