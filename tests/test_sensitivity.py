"""Sensitivity analyses: E-values, Rosenbaum bounds and event-study sup-t bands, against published examples and
independent computations (scipy's Wilcoxon test, exact permutation distributions, statsmodels' dummy-variable
regression, Šidák's closed form)."""

from __future__ import annotations

import math
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from scipy import stats

from evaluation import sensitivity as sens

# Rosenbaum (2002), Observational Studies, ch. 4: blood lead of 33 exposed children and their matched controls
# (Morton et al. 1982), as in the examples of R's rbounds::psens and DOS::senWilcox.
LEAD_T = [38, 23, 41, 18, 37, 36, 23, 62, 31, 34, 24, 14, 21, 17, 16, 20, 15, 10, 45, 39, 22, 35, 49, 48, 44, 35,
          43, 39, 34, 13, 73, 25, 27]
LEAD_C = [16, 18, 18, 24, 19, 11, 10, 15, 16, 18, 18, 13, 19, 10, 16, 16, 24, 13, 9, 14, 21, 19, 7, 18, 19, 12, 11,
          22, 25, 16, 13, 11, 13]


def test_e_value_published_examples() -> None:
    # VanderWeele & Ding (2017), breastfeeding and infant infection: RR 3.9 (1.8 to 8.7) -> E-values 7.26 and 3.0.
    assert sens.e_value_rr(3.9) == pytest.approx(7.26, abs=0.005)
    assert sens.e_value_ci(3.9, 1.8, 8.7) == pytest.approx(3.0, abs=0.005)
    # A protective ratio is inverted: RR 0.80 (0.71 to 0.91) -> 1.81 and 1.43 (as R's EValue::evalues.RR gives).
    assert sens.e_value_rr(0.80) == pytest.approx(1.809, abs=0.001)
    assert sens.e_value_ci(0.80, 0.71, 0.91) == pytest.approx(1.429, abs=0.001)
    assert sens.e_value_ci(1.3, 0.9, 1.8) == 1.0  # the interval includes the null


def test_e_values_convert_differences() -> None:
    # A proportion: 0.30 against a counterfactual 0.20 is RR 1.5; the lower limit 0.02 gives RR 1.1.
    out = sens.e_values(0.10, 0.02, 0.18, 0.20, "proportion")
    assert out["risk_ratio"] == pytest.approx(1.5)
    assert out["e_value"] == pytest.approx(1.5 + math.sqrt(1.5 * 0.5))
    assert out["e_value_ci"] == pytest.approx(1.1 + math.sqrt(1.1 * 0.1))
    # A mean: effect 1 with SD 2 is d = 0.5, RR = exp(0.455) (VanderWeele & Ding's approximate conversion).
    out = sens.e_values(1.0, 0.2, 1.8, 10.0, "mean", sd=2.0)
    rr = math.exp(0.91 * 0.5)
    assert out["smd"] == 0.5 and out["e_value"] == pytest.approx(rr + math.sqrt(rr * (rr - 1)))
    assert out["e_value_ci"] == pytest.approx(sens.e_value_rr(math.exp(0.91 * 0.1)))
    # A fall is protective on the ratio scale; its limit closest to the null is the upper one.
    out = sens.e_values(-0.05, -0.09, -0.01, 0.25, "proportion")
    assert out["e_value"] == pytest.approx(sens.e_value_rr(0.8))
    assert out["e_value_ci"] == pytest.approx(sens.e_value_rr(0.24 / 0.25))
    # What cannot be converted says so instead of giving a number.
    assert "warning" in sens.e_values(0.1, 0.0, 0.2, 0.0, "proportion")
    assert "warning" in sens.e_values(0.1, 0.0, 0.2, 0.5, "mean", sd=None)
    assert sens.e_values(-0.2, -0.3, -0.1, 0.2, "proportion")["warning"]["code"] == "evaluation.evalue_zero_treated"


def _exact_signed_rank(d: np.ndarray, gamma: float) -> tuple[np.ndarray, int]:
    """The exact distribution of T2 = sum of doubled mid-ranks with independent signs, P(+) = Γ/(1+Γ) (the
    bounding distribution of Rosenbaum's sensitivity analysis, as DOS::senWilcoxExact computes it), by
    convolution; and the observed T2."""
    d = d[d != 0]
    ranks2 = np.rint(2 * stats.rankdata(np.abs(d))).astype(int)
    p = gamma / (1 + gamma)
    dist = np.zeros(ranks2.sum() + 1)
    dist[0] = 1.0
    for r in ranks2:
        shifted = np.zeros_like(dist)
        shifted[r:] = dist[:-r]
        dist = (1 - p) * dist + p * shifted
    return dist, int(ranks2[d > 0].sum())


def test_rosenbaum_wilcoxon_on_the_lead_example() -> None:
    d = np.array(LEAD_T, float) - np.array(LEAD_C, float)
    # Γ = 1 is the ordinary signed rank test (normal approximation, no continuity correction): scipy agrees.
    scipy_p = stats.wilcoxon(d, zero_method="wilcox", correction=False, alternative="greater", method="approx").pvalue
    assert sens.wilcoxon_upper_p(d, 1.0) == pytest.approx(scipy_p, rel=1e-9)
    for gamma in (2.0, 3.0, 4.0, 5.0):
        dist, t2 = _exact_signed_rank(d, gamma)
        support = np.arange(len(dist))
        mean = (support * dist).sum()
        sd = math.sqrt(((support - mean) ** 2 * dist).sum())
        # The engine's bound is the normal approximation with the bounding distribution's exact moments ...
        assert sens.wilcoxon_upper_p(d, gamma) == pytest.approx(stats.norm.sf((t2 - mean) / sd), rel=1e-9)
        # ... and it is conservative here against the exact tail (skewed: the exact tail is thinner).
        exact = dist[t2:].sum()
        assert exact <= sens.wilcoxon_upper_p(d, gamma) <= exact + 0.015
    out = sens.rosenbaum(d, binary=False, alpha=0.05)
    # Rosenbaum (2002, ch. 4): the lead effect stays significant at Γ = 4 and not at Γ = 5.
    assert 4.0 < out["gamma"] < 5.0
    assert sens.wilcoxon_upper_p(d, out["gamma"]) == pytest.approx(0.05, abs=1e-6)
    assert out["test"] == "wilcoxon" and out["informative_pairs"] == 32


def test_rosenbaum_sign_test_for_binary_outcomes() -> None:
    # 40 discordant pairs, 30 where the treated member did better; 20 concordant pairs carry no information.
    d = np.r_[np.ones(30), -np.ones(10), np.zeros(20)]
    for gamma in (1.0, 1.5, 2.0):
        p = gamma / (1 + gamma)
        direct = sum(math.comb(40, k) * p ** k * (1 - p) ** (40 - k) for k in range(30, 41))
        assert sens.sign_upper_p(d, gamma) == pytest.approx(direct, rel=1e-9)
    out = sens.rosenbaum(d, binary=True, alpha=0.05)
    assert out["informative_pairs"] == 40 and out["test"] == "sign_test"
    assert sens.sign_upper_p(d, out["gamma"]) == pytest.approx(0.05, abs=1e-6)
    # Not significant without bias: Γ is 1 and the result says so.
    flat = sens.rosenbaum(np.r_[np.ones(5), -np.ones(5)], binary=True, alpha=0.05)
    assert flat["gamma"] == 1.0 and flat["warning"]["code"] == "evaluation.rosenbaum_not_significant"


def test_sup_t_critical_value_against_closed_forms() -> None:
    # Independent coefficients: max |Z_k| has the Šidák quantile; perfectly correlated ones: the pointwise one.
    for k in (1, 3, 6):
        sidak = stats.norm.ppf((1 + 0.95 ** (1 / k)) / 2)
        assert sens.sup_t_critical(np.eye(k), 0.05) == pytest.approx(sidak, abs=0.02)
    assert sens.sup_t_critical(np.ones((4, 4)), 0.05) == pytest.approx(1.96, abs=0.02)
    assert sens.sup_t_critical(np.eye(3), 0.05) == sens.sup_t_critical(np.eye(3), 0.05)  # seeded: reproducible


def _panel(seed: int = 1, n: int = 80, effect: float = 0.5, drift: float = 0.0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for unit in range(n):
        treated = float(unit < n // 2)
        level = rng.normal(0, 1)
        for period in range(-4, 3):
            if rng.random() < 0.1:
                continue  # unbalanced
            value = level + 0.1 * period + treated * (effect * (period >= 0) + drift * period) + rng.normal(0, 0.3)
            rows.append((unit, period, value, treated, float(period >= 0)))
    return pd.DataFrame(rows, columns=["unit", "period", "value", "treated", "post"])


def test_event_study_matches_dummy_variable_regression() -> None:
    data = _panel()
    out = sens.event_study(data, 0.05)
    assert out["reference_period"] == -1 and "warning" not in out
    # Independent: OLS with unit and period dummies and the same treated-by-period terms (statsmodels formula).
    frame = data.assign(**{f"e{p}".replace("-", "m"): data["treated"] * (data["period"] == p)
                           for p in range(-4, 3) if p != -1})
    terms = [f"e{p}".replace("-", "m") for p in range(-4, 3) if p != -1]
    fit = sm.OLS.from_formula("value ~ C(unit) + C(period) + " + " + ".join(terms), frame).fit(
        cov_type="cluster", cov_kwds={"groups": frame["unit"]})
    n, k_within = len(data), len(terms) + 6
    k_dummies = len(fit.params)
    for row in out["coefficients"]:
        name = f"e{row['period']}".replace("-", "m")
        assert row["estimate"] == pytest.approx(fit.params[name], abs=1e-9)
        # Same cluster-robust covariance up to statsmodels' (N-1)/(N-K) factor, K counting the unit dummies or not.
        scale = math.sqrt((n - k_dummies) / (n - k_within))
        assert row["se"] == pytest.approx(fit.bse[name] * scale, rel=1e-6)
        assert row["band_high"] - row["estimate"] == pytest.approx(out["critical_value"] * row["se"])
    assert out["critical_value"] > out["pointwise_critical_value"]
    post = [r for r in out["coefficients"] if r["period"] >= 0]
    assert all(r["band_low"] < 0.5 < r["band_high"] for r in post)
    # Diverging trends before the start show as pre-periods whose band excludes zero.
    drifting = sens.event_study(_panel(drift=0.4), 0.05)
    assert drifting["pre_periods_excluding_zero"] >= 1
    assert drifting["warning"]["code"] == "evaluation.event_study_pre_band"


def test_matched_run_carries_e_value_and_rosenbaum_gamma(engine, key, tmp_path: Path) -> None:
    """A matched comparison run from stored data: its result has an E-value and Γ*, as does the approval evidence."""
    from evaluation.run import evaluate
    from outcomes.batches import verify_batch
    from outcomes.ingest import ingest_file
    from payments.evidence import summarise
    from tests.helpers import MINIMAL, stored_minimal, write
    from decimal import Decimal

    text = MINIMAL.replace("""    evaluation:
      design: fixed_baseline
      baseline: 0.85
      min_n: 5""", """    evaluation:
      design: matched_comparison
      covariates: [school_year]
      min_n: 5""")
    stored = stored_minimal(engine, text)
    contract = stored.latest.terms
    rng = np.random.default_rng(3)
    people, pool = ["participant_id,start,school_year,sex"], ["participant_id,start,school_year,sex"]
    rows = ["participant_id,metric,date,value"]
    for i in range(150):
        year = int(rng.integers(4, 10))
        start = (pd.Timestamp("2020-02-01") + pd.Timedelta(days=i % 60)).date()
        (people if i < 50 else pool).append(f"U{i:03d},{start},{year},male")
        value = min(1.0, max(0.0, 0.7 + 0.01 * year + (0.08 if i < 50 else 0) + rng.normal(0, 0.05)))
        rows.append(f"U{i:03d},attendance,{(pd.Timestamp(start) + pd.Timedelta(days=30)).date()},{value:.4f}")
    for kind, name, lines in (("participants", "p.csv", people), ("comparison", "c.csv", pool),
                              ("measurements", "m.csv", rows)):
        verify_batch(engine, ingest_file(engine, contract, write(tmp_path, name, "\n".join(lines) + "\n"), kind,
                                         key).batch_id)
    run = evaluate(engine, stored, date(2022, 6, 1))
    r = run.result("attendance", "c1")
    assert r.design == "matched_comparison" and r.estimate == pytest.approx(0.08, abs=0.03)
    found = r.diagnostics["sensitivity"]
    assert found["e_value"]["e_value"] > 1 and found["e_value"]["conversion"] == "approximate_smd"
    assert found["rosenbaum"]["gamma"] > 1 and found["rosenbaum"]["test"] == "wilcoxon"
    summary = summarise(r, Decimal("0.2"))
    assert summary["sensitivity"]["e_value"] == found["e_value"]["e_value"]
    assert summary["sensitivity"]["gamma"] == found["rosenbaum"]["gamma"]
    from language.names import Names
    from language.words import words
    said = Names(contract, words("en")).evidence(summary)  # as the approver reads it beside the amount
    assert f"E-value {found['e_value']['e_value']:.2f}" in said and "Rosenbaum Γ* " in said


def test_did_run_carries_the_event_study_with_bands(engine, key, tmp_path: Path) -> None:
    from evaluation.run import evaluate
    from outcomes.batches import verify_batch
    from outcomes.ingest import ingest_file
    from tests.helpers import stored_minimal, write
    from tests.test_evaluation import DID_CONTRACT

    stored = stored_minimal(engine, DID_CONTRACT)
    contract = stored.latest.terms
    rng = np.random.default_rng(5)
    people, pool = ["participant_id,start,school_year,sex"], ["participant_id,start,school_year,sex"]
    rows = ["participant_id,metric,date,value"]
    for i in range(80):
        start = pd.Timestamp("2020-03-01") + pd.Timedelta(days=int(i))
        (people if i < 40 else pool).append(f"U{i:03d},{start.date()},5,male")
        level = rng.normal(0.8, 0.05)
        for q in range(-4, 4):
            day = (start + pd.DateOffset(months=3 * q) + pd.Timedelta(days=10)).date()
            gain = 0.05 if i < 40 and q >= 0 else 0.0
            rows.append(f"U{i:03d},attendance,{day},{min(1.0, level + 0.01 * q + gain + rng.normal(0, 0.02)):.4f}")
    for kind, name, text in (("participants", "p.csv", people), ("comparison", "c.csv", pool),
                             ("measurements", "m.csv", rows)):
        verify_batch(engine, ingest_file(engine, contract, write(tmp_path, name, "\n".join(text) + "\n"), kind,
                                         key).batch_id)
    r = evaluate(engine, stored, date(2022, 6, 1)).result("attendance", "c1")
    study = r.diagnostics["sensitivity"]["event_study"]
    assert study["reference_period"] == -1 and [c["period"] for c in study["coefficients"]] == [-4, -3, -2, 0, 1, 2, 3]
    assert study["critical_value"] > study["pointwise_critical_value"]
    assert all(c["band_low"] < 0.05 < c["band_high"] for c in study["coefficients"] if c["period"] >= 0)
    assert r.diagnostics["sensitivity"]["e_value"]["e_value"] > 1
