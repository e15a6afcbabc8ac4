"""Staggered adoption: Callaway & Sant'Anna group-time effects, against csdid and a direct computation.

- Every ATT(g, t) and its influence-function standard error against ``csdid`` (the Python port of R's ``did``,
  analytic standard errors), with never-treated and with not-yet-treated controls; the "simple" overall effect
  and the event study with their standard errors likewise.
- Each ATT(g, t) as a 2 x 2 difference of means computed by hand.
- Effects that grow with time since the start and differ between groups: two-way fixed effects is biased (here
  even of the wrong sign), Callaway–Sant'Anna recovers the true average effect, for a rise and for a fall.
- The analytic standard error against a bootstrap over units.
- No never-treated units: a warning and not-yet-treated controls; nobody to compare with: no counterfactual.
- Through the run with ``staggered: callaway_santanna`` in the contract.
"""

from __future__ import annotations

import warnings
from datetime import date

import numpy as np
import pandas as pd
import pytest

from evaluation import staggered
from tests.helpers import english
from tests.test_estimators import _metric

METRIC = _metric(design="difference_in_differences")


def _staggered(n: int, seed: int, sign: float = 1.0, groups=(0, 3, 5, 7), periods: int = 8, noise: float = 1.0,
               dynamic: bool = True) -> tuple[pd.DataFrame, dict]:
    """Units first treated in period g (0: never), effects growing with time since the start, larger for the
    earliest group; returns the panel and the true effect of every treated unit-period (sign x effect)."""
    rng = np.random.default_rng(seed)
    g = rng.choice(groups, n)
    rows, truth = [], {}
    for i in range(n):
        level = rng.normal()
        for t in range(1, periods + 1):
            effect = 0.0
            if g[i] and t >= g[i]:
                effect = sign * ((t - g[i] + 1) if dynamic else 1.0) * (1.5 if len(groups) > 1 and g[i] == groups[1] else 1.0)
                truth[(i, t)] = effect
            rows.append((i, t, level + 0.3 * t + effect + noise * rng.normal(), float(g[i])))
    return pd.DataFrame(rows, columns=["unit", "period", "value", "group"]), truth


def _csdid(data: pd.DataFrame, control: str):
    from csdid.att_gt import ATTgt

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return ATTgt(yname="value", tname="period", idname="unit", gname="group", data=data,
                     control_group=control).fit(est_method="reg", bstrap=False)


@pytest.mark.parametrize("controls,theirs", [(staggered.NEVER, "nevertreated"), (staggered.NOT_YET, "notyettreated")])
def test_group_time_effects_and_aggregations_match_csdid(controls: str, theirs: str, capsys) -> None:
    pytest.importorskip("csdid")
    data, _ = _staggered(300, seed=1)
    gt = staggered.group_time(data, controls)
    reference = _csdid(data, theirs)
    r = reference.results
    cells = gt["cells"].merge(pd.DataFrame({"group": r["group"], "period": r["year"], "att": r["att"], "ref_se": r["se"]}),
                              on=["group", "period"])
    assert len(cells) == len(gt["cells"]) == len(r["att"])
    np.testing.assert_allclose(cells["estimate"], cells["att"], rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(cells["se"], cells["ref_se"], rtol=1e-6)

    post = (gt["cells"]["event_time"] >= 0).to_numpy()
    estimate, se, _ = staggered.aggregate(gt, post)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reference.aggte("simple", bstrap=False)
    assert estimate == pytest.approx(float(reference.atte["overall_att"]), rel=1e-9)
    assert se == pytest.approx(float(reference.atte["overall_se"]), rel=1e-6)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reference.aggte("dynamic", bstrap=False)
    for e, att, ref_se in zip(reference.atte["egt"], reference.atte["att_egt"], reference.atte["se_egt"]):
        b, s, _ = staggered.aggregate(gt, (gt["cells"]["event_time"] == e).to_numpy())
        assert b == pytest.approx(float(att), rel=1e-9, abs=1e-12)
        assert s == pytest.approx(float(ref_se), rel=1e-6)
    capsys.readouterr()  # csdid prints its summaries


def test_each_cell_is_a_two_by_two_difference_of_means() -> None:
    data, _ = _staggered(120, seed=2)
    wide = data.pivot(index="unit", columns="period", values="value")
    group = data.groupby("unit")["group"].first()
    cells = staggered.group_time(data)["cells"]
    assert len(cells) == 3 * 7  # three groups, periods 2..8
    for cell in cells.itertuples():
        base = cell.group - 1 if cell.period >= cell.group else cell.period - 1
        change = wide[cell.period] - wide[base]
        by_hand = change[group == cell.group].mean() - change[group == 0].mean()
        assert cell.estimate == pytest.approx(by_hand, rel=1e-12, abs=1e-12)


def _twfe(data: pd.DataFrame) -> float:
    """Two-way fixed effects with one treatment dummy (treated from the own start): OLS with every dummy."""
    d = data.assign(treated=((data["group"] > 0) & (data["period"] >= data["group"])).astype(float))
    x = pd.concat([d[["treated"]], pd.get_dummies(d["unit"], dtype=float),
                   pd.get_dummies(d["period"], prefix="p", dtype=float).iloc[:, 1:]], axis=1).to_numpy()
    return float(np.linalg.lstsq(x, d["value"].to_numpy(), rcond=None)[0][0])


@pytest.mark.parametrize("sign", [1.0, -1.0])
def test_two_way_fixed_effects_is_biased_and_callaway_santanna_is_not(sign: float) -> None:
    """Few never-treated units, early groups with effects that keep growing: TWFE uses the early-treated as
    controls for the later ones and their growing effects enter with a negative weight."""
    data, truth = _staggered(400, seed=3, sign=sign, groups=(0, 2, 2, 2, 5, 5, 7), noise=0.2)
    groups = data.groupby("unit")["group"].first()
    # The true "simple" aggregate: the mean effect over treated unit-periods (group-size weights, post cells).
    true_att = float(np.mean(list(truth.values())))
    twfe = _twfe(data)
    r = staggered.estimate(data, METRIC, "all")
    assert r.estimate == pytest.approx(true_att, abs=0.05)
    assert r.ci_low < true_att < r.ci_high
    assert abs(twfe - true_att) > 0.5 * abs(true_att)  # TWFE: more than half the effect off
    assert np.sign(r.estimate) == sign and r.p_value < 0.001
    assert r.n_treated == int((groups > 0).sum()) and r.n_comparison == int((groups == 0).sum())
    assert r.counterfactual_mean == pytest.approx(r.treated_mean - r.estimate)
    event = {row["event_time"]: row for row in r.diagnostics["event_study"]}
    for e in range(0, 3):  # effect e + 1 (1.5 x for the group starting in period 2)
        low, high = sorted([sign * (e + 1), sign * (e + 1) * 1.5])
        assert event[e]["ci_low"] < high and event[e]["ci_high"] > low
    assert all(abs(event[e]["estimate"]) < 0.15 for e in event if e < 0)
    assert r.diagnostics["pre_trends"]["tested"] and r.diagnostics["pre_trends"]["p_value"] > 0.001


def test_standard_error_agrees_with_a_bootstrap_over_units() -> None:
    data, _ = _staggered(200, seed=4, noise=1.5)
    gt = staggered.group_time(data)
    post = (gt["cells"]["event_time"] >= 0).to_numpy()
    _, se, _ = staggered.aggregate(gt, post)
    wide = data.pivot(index="unit", columns="period", values="value")
    group = data.groupby("unit")["group"].first()
    rng = np.random.default_rng(5)
    draws = []
    for _ in range(300):
        pick = rng.integers(0, len(wide), len(wide))
        resampled = wide.iloc[pick].set_axis(range(len(pick)))
        long = resampled.stack().rename("value").reset_index().set_axis(["unit", "period", "value"], axis=1)
        long["group"] = group.to_numpy()[pick][long["unit"]]
        b = staggered.group_time(long)
        draws.append(staggered.aggregate(b, (b["cells"]["event_time"] >= 0).to_numpy())[0])
    assert np.std(draws, ddof=1) == pytest.approx(se, rel=0.15)


def _clean(r) -> None:
    for field in ("estimate", "ci_low", "ci_high", "p_value", "se", "treated_mean", "counterfactual_mean"):
        value = getattr(r, field)
        assert value is None or np.isfinite(value), f"{field} is {value}"


def test_no_never_treated_units_falls_back_to_not_yet_treated_with_a_warning() -> None:
    data, _ = _staggered(200, seed=6, groups=(3, 5, 7))
    r = staggered.estimate(data, METRIC, "all")
    assert any("no never-treated comparison units" in w for w in english(r.warnings))
    assert r.diagnostics["control_group"] == staggered.NOT_YET
    # the last group has nobody left untreated after it starts: its cells are left out, and said so
    assert any("group-period cells have no control units" in w for w in english(r.warnings))
    assert not [c for c in r.diagnostics["group_time"] if c["group"] == 7 and c["event_time"] >= 0]
    assert [c for c in r.diagnostics["group_time"] if c["group"] == 7 and c["event_time"] < 0]  # not-yet-treated
    _clean(r)
    assert r.estimate is not None and r.se is not None


def test_nobody_to_compare_with_is_no_counterfactual() -> None:
    data, _ = _staggered(50, seed=7, groups=(4,))
    r = staggered.estimate(data, METRIC, "all")
    assert not r.is_effect and r.estimate is None
    assert any("no counterfactual" in w for w in english(r.warnings))
    _clean(r)


def test_an_unbalanced_panel_leaves_incomplete_units_out_with_a_warning() -> None:
    data, _ = _staggered(120, seed=10)
    gaps = data.drop(index=data.index[[5, 30, 31]])  # units 0 and 3 lose a period
    r = staggered.estimate(gaps, METRIC, "all")
    assert any("2 units are not observed in every calendar period" in w for w in english(r.warnings))
    complete = staggered.estimate(data[~data["unit"].isin([0, 3])], METRIC, "all")
    assert r.estimate == pytest.approx(complete.estimate) and r.se == pytest.approx(complete.se)
    _clean(r)


def test_units_treated_from_the_first_period_are_left_out_with_a_warning() -> None:
    data, _ = _staggered(100, seed=8, groups=(0, 1, 4))
    r = staggered.estimate(data, METRIC, "all")
    assert any("started in the panel's first period" in w for w in english(r.warnings))
    _clean(r)


def _staggered_contract(controls: str = "never_treated"):
    from contracts import load_contract_text
    from evaluation.inputs import Inputs
    from tests.helpers import MINIMAL

    text = MINIMAL.replace("""    evaluation:
      design: fixed_baseline
      baseline: 0.85
      min_n: 5""", f"""    evaluation:
      design: difference_in_differences
      staggered: callaway_santanna
      staggered_controls: {controls}
      pre_window: {{start_months: -12, end_months: 0}}
      period: quarter
      min_n: 1""")
    contract = load_contract_text(text).contract
    rng = np.random.default_rng(9)
    enrolments, measurements = [], []
    starts = {0: None, 1: pd.Timestamp("2021-01-01"), 2: pd.Timestamp("2021-07-01")}  # quarter starts
    for unit in range(60):
        kind = unit % 3
        start = starts[kind]
        enrolments.append((unit + 1, "c1", "comparison" if start is None else "treatment",
                           start if start is not None else pd.Timestamp("2021-01-01"), pd.NaT))
        level = rng.uniform(0.5, 0.9)
        for q in range(12):  # 2020Q1 .. 2022Q4
            day = pd.Timestamp("2020-01-15") + pd.DateOffset(months=3 * q)
            effect = 0.05 * (1 + (day - start).days // 90) if start is not None and day >= start else 0.0
            measurements.append((len(measurements), unit + 1, "attendance", day,
                                 level + 0.01 * q + effect + rng.normal(0, 0.01), True))
    inputs = Inputs(
        pd.DataFrame({"participant_id": range(1, 61), "school_year": 5, "sex": "male"}),
        pd.DataFrame(enrolments, columns=["participant_id", "cohort", "arm", "start", "exit"]),
        pd.DataFrame(measurements, columns=["measurement_id", "participant_id", "metric", "observed_on", "value",
                                            "verified"]),
        pd.DataFrame(columns=["answer_id", "metric", "answered_on", "value", "unit", "verified"]))
    return inputs, contract


def test_staggered_design_through_the_run() -> None:
    from evaluation.run import evaluate_metric

    inputs, contract = _staggered_contract()
    metric = contract.metric("attendance")
    assert metric.evaluation.staggered == "callaway_santanna"
    r = evaluate_metric(inputs, metric, contract, date(2023, 1, 15))[0]
    assert r.is_effect and r.design == "difference_in_differences"
    assert r.n_treated == 40 and r.n_comparison == 20
    assert "Callaway" in r.diagnostics["model"]
    assert r.diagnostics["groups"] == {"2021-01-01": 20, "2021-07-01": 20}
    event = {row["event_time"]: row["estimate"] for row in r.diagnostics["event_study"]}
    for e in range(0, 4):
        assert event[e] == pytest.approx(0.05 * (e + 1), abs=0.01)
    assert abs(event[-2]) < 0.01
    # the panel ends with the later group's window (12 months), 2022Q3: group 2021Q1 has 7 post quarters, group
    # 2021Q3 five; the simple aggregate weights the 12 cells equally (equal group sizes), effect 0.05 x (e + 1)
    assert r.diagnostics["periods"][0] == "2020-01-01" and r.diagnostics["periods"][-1] == "2022-07-01"
    truth = 0.05 * (sum(range(1, 8)) + sum(range(1, 6))) / 12
    assert r.estimate == pytest.approx(truth, abs=0.01) and r.ci_low < truth < r.ci_high
    assert "influence function" in english([r.se_kind])[0]
    _clean(r)


def test_staggered_is_checked_to_be_for_difference_in_differences() -> None:
    from contracts.checks import check_contract

    _, contract = _staggered_contract()
    metric = contract.metric("attendance").model_copy(deep=True)
    codes = [m.code for loc, m in check_contract(contract.model_copy(update={"metrics": [metric]})) if "staggered" in loc]
    assert codes == []
    metric.evaluation.design = "synthetic_control"
    codes = [m.code for loc, m in check_contract(contract.model_copy(update={"metrics": [metric]})) if "staggered" in loc]
    assert codes == ["contracts.staggered_design"]
