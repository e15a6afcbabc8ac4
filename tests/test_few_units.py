"""Difference-in-differences with one or few treated units: the fast two-way fixed effects, randomisation
inference over placebo units and the wild cluster bootstrap, each against an independent computation.

- Two-way fixed effects and their clustered standard errors against pyfixest (``feols`` with ``| unit + period``
  and CRV1 by unit, its default small-sample correction), on an unbalanced panel, through both of our paths.
- Placebo estimates in closed form against refitting the model (statsmodels OLS with unit and period dummies)
  once per placebo unit; the p-value as the rank among them; the interval by test inversion, checked by refitting.
- The wild cluster restricted bootstrap against ``wildboottest`` (Rademacher weights, every sign pattern).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

from evaluation import did
from tests.helpers import english
from tests.test_estimators import _metric

pf = pytest.importorskip("pyfixest")

METRIC = _metric(design="difference_in_differences")


def _panel(units: int, treated: int, effect: float, seed: int, missing: float = 0.0, periods=range(-4, 4)):
    """Units with their own level and a common trend; ``treated`` of them gain ``effect`` from period 0."""
    rng = np.random.default_rng(seed)
    rows = []
    for u in range(units):
        is_treated = u < treated
        level = rng.normal(0, 1)
        for p in periods:
            if missing and rng.random() < missing:
                continue
            value = level + 0.1 * p + (effect if is_treated and p >= 0 else 0.0) + rng.normal(0, 0.5)
            rows.append((f"u{u:03d}", p, value, float(is_treated), float(p >= 0)))
    return pd.DataFrame(rows, columns=["unit", "period", "value", "treated", "post"])


def _clean(r) -> None:
    for field in ("estimate", "ci_low", "ci_high", "p_value", "se", "treated_mean", "counterfactual_mean"):
        value = getattr(r, field)
        assert value is None or np.isfinite(value), f"{field} is {value}"


@pytest.mark.parametrize("rows", [False, True])
def test_two_way_fixed_effects_and_event_study_match_pyfixest(rows: bool) -> None:
    data = _panel(60, 25, 0.7, seed=4, missing=0.15)
    prep = did.prepare(data)
    assert prep.cells() is not None  # the aggregated path applies; rows=True forces the row-by-row one
    ours = did.fit(prep, {"effect": np.outer([0.0, 1.0], prep.post_by_period)}, rows=rows)
    theirs = pf.feols("value ~ effect | unit + period", data=data.assign(effect=data.treated * data.post),
                      vcov={"CRV1": "unit"})
    assert ours.param("effect") == pytest.approx(float(theirs.coef()["effect"]), rel=1e-9)
    assert ours.se("effect") == pytest.approx(float(theirs.se()["effect"]), rel=1e-6)  # pyfixest demeans to 1e-8

    terms = {}
    for j, p in enumerate(prep.period_values):
        if p != -1:
            terms[f"e{p}"] = np.zeros((2, len(prep.period_values)))
            terms[f"e{p}"][1, j] = 1.0
    event = did.fit(prep, terms, rows=rows)
    theirs = pf.feols("value ~ i(period, treated, ref=-1) | unit + period", data=data, vcov={"CRV1": "unit"})
    for name, coefficient in theirs.coef().items():
        p = int(str(name).split("::")[1].split(":")[0])
        assert event.param(f"e{p}") == pytest.approx(float(coefficient), rel=1e-8)
        assert event.se(f"e{p}") == pytest.approx(float(theirs.se()[name]), rel=1e-6)


def _refit(data: pd.DataFrame, treated_units: set[str]) -> float:
    """The DiD estimate with treatment given to ``treated_units``: OLS with every unit and period dummy."""
    d = data.assign(effect=data["unit"].isin(treated_units).astype(float) * data["post"])
    x = pd.concat([d[["effect"]], pd.get_dummies(d["unit"], dtype=float),
                   pd.get_dummies(d["period"], prefix="p", dtype=float).iloc[:, 1:]], axis=1)
    return float(sm.OLS(d["value"], x).fit().params["effect"])


@pytest.mark.parametrize("effect", [1.5, -1.5])
def test_one_treated_unit_placebo_estimates_and_rank_p_value(effect: float) -> None:
    data = _panel(24, 1, effect, seed=7, missing=0.1)
    r = did.estimate(data, METRIC, "all")
    assert r.is_effect and r.n_treated == 1 and r.n_comparison == 23
    assert np.sign(r.estimate) == np.sign(effect)
    assert r.estimate == pytest.approx(_refit(data, {"u000"}), rel=1e-9)
    units = sorted(data["unit"].unique())
    refitted = np.array(sorted(_refit(data, {u}) for u in units[1:]))
    prep = did.prepare(data)
    ri = did.permutation(prep, prep.treated * prep.post, 0.05)
    assert ri["enumerated"] and ri["placebos"] == 23
    np.testing.assert_allclose(np.sort(ri["placebo_estimates"]), refitted, rtol=1e-8, atol=1e-10)
    rank = 1 + int(np.sum(np.abs(refitted) >= abs(r.estimate)))
    assert r.p_value == pytest.approx(rank / 24)
    assert r.p_value == pytest.approx(1 / 24)  # a large effect: more extreme than every placebo
    assert "evaluation.did_few_units" in [w.code for w in r.warnings]
    assert r.se_kind is not None and r.se is not None
    _clean(r)


def _p_by_refitting(data: pd.DataFrame, tau: float) -> float:
    """The randomisation p-value for the constant effect tau, by refitting every assignment."""
    shifted = data.assign(value=data["value"] - tau * data["treated"] * data["post"])
    units = sorted(data["unit"].unique())
    actual = _refit(shifted, {units[0]})
    placebo = np.array([_refit(shifted, {u}) for u in units[1:]])
    return (1 + np.sum(np.abs(placebo) >= abs(actual) - 1e-12)) / len(units)


def test_randomisation_interval_inverts_the_test() -> None:
    data = _panel(25, 1, 1.0, seed=11)
    r = did.estimate(data, METRIC, "all")
    assert r.ci_low is not None and r.ci_low < r.estimate < r.ci_high
    width = r.ci_high - r.ci_low
    for edge, outward in ((r.ci_low, -1), (r.ci_high, 1)):
        assert _p_by_refitting(data, edge - outward * 1e-3 * width) > 0.05  # just inside: not rejected
        assert _p_by_refitting(data, edge + outward * 1e-3 * width) <= 0.05  # just outside: rejected


def test_too_few_placebo_units_is_a_clear_warning_not_a_false_p_value() -> None:
    data = _panel(6, 1, 2.0, seed=3)
    r = did.estimate(data, METRIC, "all")
    assert r.is_effect and r.estimate is not None
    codes = [w.code for w in r.warnings]
    assert "evaluation.did_too_few_placebos" in codes and "evaluation.did_ci_unbounded" in codes
    assert r.p_value is not None and r.p_value >= 1 / 6 and r.ci_low is None and r.ci_high is None
    text = " | ".join(english(r.warnings))
    assert "with 5 placebo assignments the smallest possible p-value is 0.167" in text
    _clean(r)


def test_one_treated_and_one_comparison_unit_is_an_estimate_with_warnings() -> None:
    r = did.estimate(_panel(2, 1, 1.0, seed=5), METRIC, "all")
    assert r.is_effect and r.estimate is not None and r.ci_low is None
    assert "evaluation.did_too_few_placebos" in [w.code for w in r.warnings]
    _clean(r)


def test_no_comparison_unit_is_no_counterfactual() -> None:
    data = _panel(3, 3, 1.0, seed=5)
    r = did.estimate(data, METRIC, "all")
    assert not r.is_effect and r.estimate is None and [w.code for w in r.warnings] == ["evaluation.did_no_cells"]


def test_many_units_keep_cluster_robust_inference_with_t_critical_values() -> None:
    data = _panel(80, 40, 0.5, seed=2)
    r = did.estimate(data, METRIC, "all")
    assert "randomisation_inference" not in r.diagnostics
    from scipy import stats

    assert r.ci_high - r.estimate == pytest.approx(stats.t(79).ppf(0.975) * r.se)


def test_wild_cluster_bootstrap_matches_wildboottest_with_full_enumeration() -> None:
    wb_module = pytest.importorskip("wildboottest.wildboottest")
    data = _panel(10, 3, 0.6, seed=9)
    prep = did.prepare(data)
    ours = did.wild_bootstrap(prep, prep.treated * prep.post, draws=9999, weights="rademacher")
    assert ours["enumerated"] and ours["draws"] == 1024
    d = data.assign(effect=data.treated * data.post)
    x = pd.concat([d[["effect"]], pd.get_dummies(d["unit"], dtype=float),
                   pd.get_dummies(d["period"], prefix="p", dtype=float).iloc[:, 1:]], axis=1).to_numpy()
    wb = wb_module.WildboottestCL(X=x, Y=d["value"].to_numpy(), cluster=pd.factorize(d["unit"])[0],
                                  R=np.eye(x.shape[1])[0], B=9999, seed=1)
    wb.get_scores(bootstrap_type="11", impose_null=True)
    wb.get_weights(weights_type="rademacher")
    wb.get_numer()
    wb.get_denom()
    wb.get_tboot()
    wb.get_vcov()
    wb.get_tstat()
    wb.get_pvalue(pval_type="two-tailed")
    assert ours["p_value"] == pytest.approx(float(np.squeeze(wb.pvalue)), abs=1e-12)


def test_few_treated_units_report_the_bootstrap_beside_the_permutation() -> None:
    r = did.estimate(_panel(30, 3, 0.0, seed=13), METRIC, "all")
    boot = r.diagnostics["wild_bootstrap"]
    assert boot["weights"] == "webb" and boot["draws"] == 9999 and 0 <= boot["p_value"] <= 1
    assert r.diagnostics["randomisation_inference"]["placebos"] > 1000  # C(30, 3) - 1 = 4059, all of them
    assert r.p_value > 0.05  # no effect
    _clean(r)


def test_row_order_does_not_change_the_result() -> None:
    data = _panel(20, 2, 0.8, seed=21, missing=0.1)
    a = did.estimate(data, METRIC, "all").to_dict()
    b = did.estimate(data.sample(frac=1.0, random_state=3), METRIC, "all").to_dict()
    assert a["p_value"] == b["p_value"] and a["ci_low"] == pytest.approx(b["ci_low"])
    assert a["estimate"] == pytest.approx(b["estimate"], rel=1e-12)


# -- synthetic control -----------------------------------------------------------------------------------------------

def _factor_panel(effect: float, seed: int, donors: int = 15, pre: int = 12, post: int = 6, outside: bool = False):
    """Units driven by two common factors; the treated unit is a mix of three donors (so inside their hull)."""
    rng = np.random.default_rng(seed)
    periods = np.arange(-pre, post)
    factors = np.cumsum(rng.normal(0, 1, (len(periods), 2)), axis=0)
    loadings = rng.uniform(0.5, 1.5, (donors, 2))
    y0 = 10 + factors @ loadings.T + rng.normal(0, 0.1, (len(periods), donors))
    mix = np.zeros(donors)
    mix[[0, 3, 5]] = [0.5, 0.3, 0.2]
    y1 = y0 @ mix + rng.normal(0, 0.05, len(periods)) + effect * (periods >= 0)
    if outside:
        y1 = y1 + 3 * y0.max()
    rows = [(f"d{j:02d}", int(p), float(y0[t, j]), 0.0, float(p >= 0)) for t, p in enumerate(periods)
            for j in range(donors)]
    rows += [("treated", int(p), float(y1[t]), 1.0, float(p >= 0)) for t, p in enumerate(periods)]
    return pd.DataFrame(rows, columns=["unit", "period", "value", "treated", "post"])


def _pysyncon_fit(treated: pd.Series, donors: pd.DataFrame):
    """pysyncon's Synth with the pre-period outcomes as predictors and V undoing its row scaling: the same problem."""
    from pysyncon import Synth

    scale = pd.concat([donors, treated], axis=1).std(axis=1).to_numpy()
    synth = Synth()
    synth.fit(X0=donors, X1=treated, Z0=donors, Z1=treated, custom_V=scale ** 2)
    return np.asarray(synth.W)


@pytest.mark.parametrize("effect", [2.0, -2.0])
def test_synthetic_control_weights_match_pysyncon_and_placebos_rank(effect: float) -> None:
    pytest.importorskip("pysyncon")
    from evaluation import synth

    data = _factor_panel(effect, seed=1)
    r = synth.estimate(data, METRIC, "all")
    wide = data.pivot(index="period", columns="unit", values="value")
    pre = wide.index < 0
    donors = wide.drop(columns="treated")
    theirs = _pysyncon_fit(wide.loc[pre, "treated"], donors[pre])
    ours = np.array([r.diagnostics["weights"].get(u, 0.0) for u in donors.columns])
    np.testing.assert_allclose(ours, theirs, atol=2e-3)
    assert ours.min() >= 0 and ours.sum() == pytest.approx(1.0)
    assert r.estimate == pytest.approx(effect, abs=0.15) and r.is_effect
    # RMSPE and the placebo ratios recomputed with pysyncon's weights
    gap = wide["treated"] - donors @ theirs
    assert r.diagnostics["rmspe_pre"] == pytest.approx(np.sqrt(np.mean(gap[pre] ** 2)), rel=0.05, abs=1e-3)
    ratios = []
    for unit in donors.columns:
        others = donors.drop(columns=unit)
        w = _pysyncon_fit(donors.loc[pre, unit], others[pre])
        g = donors[unit] - others @ w
        ratios.append(np.sqrt(np.mean(g[~pre] ** 2)) / np.sqrt(np.mean(g[pre] ** 2)))
    treated_ratio = np.sqrt(np.mean(gap[~pre] ** 2)) / np.sqrt(np.mean(gap[pre] ** 2))
    assert r.p_value == pytest.approx((1 + np.sum(np.array(ratios) >= treated_ratio)) / 16)
    assert r.p_value == pytest.approx(1 / 16)
    assert len(r.diagnostics["gaps"]) == 18 and r.diagnostics["placebo_gaps"]
    _clean(r)


def test_synthetic_control_poor_fit_and_too_few_placebos_are_warned() -> None:
    from evaluation import synth

    r = synth.estimate(_factor_panel(1.0, seed=2, donors=6, outside=True), METRIC, "all")
    codes = [w.code for w in r.warnings]
    assert "evaluation.synth_poor_fit" in codes and "evaluation.did_too_few_placebos" in codes
    assert r.estimate is not None and np.isfinite(r.estimate)
    assert any(t.startswith("poor pre-period fit: the synthetic control misses the treated unit by")
               for t in english(r.warnings))
    _clean(r)


def test_synthetic_control_without_comparison_units_is_no_counterfactual() -> None:
    from evaluation import synth

    data = _factor_panel(1.0, seed=2)
    r = synth.estimate(data[data.unit == "treated"], METRIC, "all")
    assert not r.is_effect and r.estimate is None
    assert [w.code for w in r.warnings] == ["evaluation.synth_no_counterfactual"]


# -- through the run: one municipality against others ----------------------------------------------------------------

def _municipalities(design: str, effect: float, seed: int = 3):
    """One treated municipality and 24 others, quarterly values a year before and after a common start."""
    from contracts import load_contract_text
    from evaluation.inputs import Inputs
    from tests.helpers import MINIMAL

    text = MINIMAL.replace("""    evaluation:
      design: fixed_baseline
      baseline: 0.85
      min_n: 5""", f"""    evaluation:
      design: {design}
      pre_window: {{start_months: -12, end_months: 0}}
      period: quarter
      min_n: 1""")
    contract = load_contract_text(text).contract
    rng = np.random.default_rng(seed)
    start = pd.Timestamp("2020-04-01")
    enrolments, measurements = [], []
    factor = np.cumsum(rng.normal(0, 0.02, 8))
    for unit in range(25):
        enrolments.append((unit + 1, "c1", "treatment" if unit == 0 else "comparison", start, pd.NaT))
        level, loading = rng.uniform(0.6, 0.9), rng.uniform(0.5, 1.5)
        for q in range(-4, 4):
            value = level + loading * factor[q + 4] + (effect if unit == 0 and q >= 0 else 0) + rng.normal(0, 0.01)
            measurements.append((len(measurements), unit + 1, "attendance", start + pd.DateOffset(months=3 * q, days=10),
                                 value, True))
    inputs = Inputs(
        pd.DataFrame({"participant_id": range(1, 26), "school_year": 5, "sex": "male"}),
        pd.DataFrame(enrolments, columns=["participant_id", "cohort", "arm", "start", "exit"]),
        pd.DataFrame(measurements, columns=["measurement_id", "participant_id", "metric", "observed_on", "value",
                                            "verified"]),
        pd.DataFrame(columns=["answer_id", "metric", "answered_on", "value", "unit", "verified"]))
    return inputs, contract


@pytest.mark.parametrize("design", ["difference_in_differences", "synthetic_control"])
def test_one_municipality_through_the_run_is_an_effect_not_monitoring(design: str) -> None:
    from datetime import date

    from evaluation.run import evaluate_metric

    inputs, contract = _municipalities(design, effect=-0.1)
    r = evaluate_metric(inputs, contract.metric("attendance"), contract, date(2022, 6, 1))[0]
    assert r.design == design and r.is_effect and r.n_treated == 1 and r.n_comparison == 24
    assert r.estimate == pytest.approx(-0.1, abs=0.03)
    assert r.p_value == pytest.approx(1 / 25)  # more extreme than every one of the 24 placebo municipalities
    _clean(r)
    if design == "synthetic_control":
        from api.reports import charts
        from language.names import Names
        from language.words import words

        svg = charts.gap_chart(r.diagnostics, Names(contract, words("en")))
        assert svg.startswith("<svg") and "placebo units" in svg


def test_rates_per_thousand_from_a_population_denominator() -> None:
    """Municipality x quarter counts over population: the panel holds 1000 x count / mean population that quarter,
    and the estimate equals the one on rates computed by hand; a quarter without population is said, not zero."""
    from datetime import date

    from contracts.checks import check_contract
    from contracts.model import Metric
    from evaluation.run import evaluate_metric

    inputs, contract = _municipalities("difference_in_differences", effect=0.0)
    rates = contract.metric("attendance").model_copy(update={"kind": "count", "aggregation": "sum"}, deep=True)
    rates.evaluation.denominator = "population"
    population = Metric(id="population", name="Inhabitants", kind="count", direction="higher_is_better",
                        window=rates.window, aggregation="mean", evaluation={"design": "monitoring"})
    contract = contract.model_copy(update={"metrics": [rates, population]}, deep=True)
    assert not [m for loc, m in check_contract(contract) if "denominator" in loc]
    rng = np.random.default_rng(8)
    m = inputs.measurements.copy()
    m["value"] = rng.poisson(30, len(m)).astype(float)  # events in the quarter
    people = m.assign(metric="population", value=rng.uniform(5_000, 50_000, len(m)).round(),
                      measurement_id=m["measurement_id"] + 10_000)
    second = people.assign(value=people["value"] + 100, measurement_id=people["measurement_id"] + 10_000,
                           observed_on=people["observed_on"] + pd.Timedelta(days=30))  # a second figure, same quarter
    gone = people.index[5]  # one unit-quarter has no population at all
    people, second = people.drop(index=gone), second.drop(index=gone)
    data = inputs.__class__(inputs.participants, inputs.enrolments,
                            pd.concat([m, people, second], ignore_index=True), inputs.answers)
    r = evaluate_metric(data, contract.metric("attendance"), contract, date(2022, 6, 1))[0]
    assert r.diagnostics["rate"] == {"per": 1000, "denominator": "population"}
    assert "evaluation.panel_no_denominator" in [w.code for w in r.warnings]
    assert "1 unit-periods have no positive denominator" in " ".join(english(r.warnings))
    # by hand: rate = 1000 * events / mean(population figures of the quarter)
    start = pd.Timestamp("2020-04-01")
    quarter = lambda d: ((d.dt.year - start.year) * 12 + d.dt.month - start.month) // 3  # noqa: E731
    events = m.assign(period=quarter(m["observed_on"])).groupby(["participant_id", "period"])["value"].sum()
    both = pd.concat([people, second])
    pop = both.assign(period=quarter(both["observed_on"])).groupby(["participant_id", "period"])["value"].mean()
    hand = (1000 * events / pop).dropna().rename("value").reset_index()
    hand = pd.DataFrame({"unit": hand["participant_id"], "period": hand["period"], "value": hand["value"],
                         "treated": (hand["participant_id"] == 1).astype(float), "post": (hand["period"] >= 0) * 1.0})
    assert len(hand) == 25 * 8 - 1
    assert r.estimate == pytest.approx(did.estimate(hand, contract.metric("attendance"), "all").estimate, rel=1e-12)


def test_a_denominator_is_checked_in_the_contract() -> None:
    from contracts.checks import check_contract

    _, contract = _municipalities("difference_in_differences", effect=0.0)
    metric = contract.metric("attendance").model_copy(deep=True)
    metric.evaluation.denominator = "nope"
    codes = [m.code for loc, m in check_contract(contract.model_copy(update={"metrics": [metric]})) if "denominator" in loc]
    assert codes == ["contracts.not_a_metric"]
    metric.evaluation.denominator, metric.evaluation.design = "attendance", "fixed_baseline"
    metric.evaluation.baseline = 0.5
    codes = [m.code for loc, m in check_contract(contract.model_copy(update={"metrics": [metric]})) if "denominator" in loc]
    assert codes == ["contracts.denominator_design"]
