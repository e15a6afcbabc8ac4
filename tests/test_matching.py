"""Matching that does not depend on row order: all tied neighbours, a data-derived order, and the AI variance."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from evaluation.covariates import design_matrix
from contracts.registry import get_contract
from evaluation.matching import TIE_TOLERANCE, MatchingError, match, propensity_logit
from evaluation.result import POOLED
from evaluation.run import evaluate
from outcomes.batches import verify_batch
from outcomes.ingest import ingest_file
from store.db import init_store, open_store
from tests.helpers import MINIMAL, stored_minimal


def _tied_people(n_treated: int, n_pool: int, seed: int, levels: int = 4) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Integer covariates on few levels, so many people are identical and many distances tie exactly."""
    rng = np.random.default_rng(seed)

    def people(prefix: str, n: int, shift: float) -> pd.DataFrame:
        age = rng.integers(0, levels, n) + (rng.random(n) < shift)
        prior = rng.integers(0, 3, n)
        y = 1.0 + 0.5 * age + 0.3 * prior + rng.integers(0, 4, n)
        return pd.DataFrame({"participant_id": [f"{prefix}{h:016x}" for h in rng.integers(0, 2**62, n)],
                             "age": age, "prior": prior, "group": rng.choice(["a", "b"], n), "value": y})

    return people("t", n_treated, 0.5), people("c", n_pool, 0.1)


def _run(treated: pd.DataFrame, pool: pd.DataFrame, **options):
    try:
        return match(treated, pool, ["age", "prior"], options.pop("exact", []), pairs=True, **options)
    except MatchingError as exc:
        return exc.message.code


def _same(a, b) -> None:
    if isinstance(a, str) or isinstance(b, str):
        assert a == b
        return
    assert (a.att, a.se, a.n_treated, a.n_controls) == (b.att, b.se, b.n_treated, b.n_controls)
    assert (a.treated_mean, a.counterfactual_mean) == (b.treated_mean, b.counterfactual_mean)
    assert repr(a.diagnostics) == repr(b.diagnostics) and [m.as_dict() for m in a.warnings] == [m.as_dict() for m in b.warnings]
    pd.testing.assert_frame_equal(a.pairs, b.pairs)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(n_treated=st.integers(1, 25), n_pool=st.integers(2, 80), seed=st.integers(0, 2**32 - 1),
       shuffle=st.integers(0, 2**32 - 1), k=st.integers(1, 3), caliper=st.sampled_from([0.05, 0.2, 5.0]),
       replacement=st.booleans(), exact=st.sampled_from([[], ["group"]]))
def test_any_permutation_of_the_delivered_rows_gives_an_identical_result(n_treated, n_pool, seed, shuffle, k, caliper,
                                                                         replacement, exact) -> None:
    treated, pool = _tied_people(n_treated, n_pool, seed)
    rng = np.random.default_rng(shuffle)
    options = dict(caliper_sd=caliper, k=k, replacement=replacement)
    first = _run(treated, pool, exact=list(exact), **options)
    again = _run(treated.sample(frac=1, random_state=rng.integers(2**31)).reset_index(drop=True),
                 pool.sample(frac=1, random_state=rng.integers(2**31)).reset_index(drop=True), exact=list(exact), **options)
    _same(first, again)
    if not isinstance(first, str) and replacement:
        # Each matched treated participant's weights sum to one, so the weights sum to the number matched.
        assert first.pairs.groupby("treated")["weight"].sum().to_numpy() == pytest.approx(1.0)
        assert first.weights.sum() == pytest.approx(first.n_treated)


def test_one_treated_participant_uses_every_tied_neighbour_including_equal_distances_either_side() -> None:
    treated = pd.DataFrame({"participant_id": ["t1"], "x": [2], "value": [10.0]})
    pool = pd.DataFrame({"participant_id": ["c1", "c2", "c3", "c4", "c5", "c6"], "x": [1, 2, 2, 3, 5, 0],
                         "value": [3.0, 4.0, 8.0, 9.0, 1.0, 2.0]})
    one = match(treated, pool, ["x"], [], caliper_sd=5, k=1, replacement=True, pairs=True)
    assert one.att == pytest.approx(10 - (4 + 8) / 2)  # both people at x = 2, half each
    assert sorted(one.pairs["control"]) == ["c2", "c3"] and (one.pairs["weight"] == 0.5).all()
    two = match(treated, pool, ["x"], [], caliper_sd=5, k=2, replacement=True)
    assert two.att == one.att  # the two ties already make two neighbours
    three = match(treated, pool, ["x"], [], caliper_sd=5, k=3, replacement=True, pairs=True)
    # x = 1 and x = 3 are equally far from 2: both join, four neighbours at a quarter each.
    assert three.att == pytest.approx(10 - (3 + 4 + 8 + 9) / 4)
    assert sorted(three.pairs["control"]) == ["c1", "c2", "c3", "c4"] and (three.pairs["weight"] == 0.25).all()


@pytest.mark.parametrize("k", [1, 2])
def test_ties_agree_with_causalinference_which_also_keeps_every_tied_match(k: int) -> None:
    """causalinference (Laurence Wong) includes tied matches and averages them, as Abadie and Imbens define."""
    from causalinference import CausalModel

    treated, pool = _tied_people(60, 400, seed=12, levels=6)
    m = match(treated, pool, ["age", "prior"], [], caliper_sd=100, k=k, replacement=True)
    assert m.diagnostics["treated_with_tied_matches"] > 30  # the case in question, not an easy one
    both = pd.concat([treated, pool], ignore_index=True)
    is_treated = np.r_[np.ones(len(treated)), np.zeros(len(pool))].astype(bool)
    score = propensity_logit(design_matrix(both, ["age", "prior"]), is_treated)
    peer = CausalModel(both.value.to_numpy(dtype=float), is_treated.astype(int), score.round(9).reshape(-1, 1))
    peer.est_via_matching(matches=k, bias_adj=False)
    assert m.att == pytest.approx(peer.estimates["matching"]["att"], abs=1e-12)
    # Keeping only the first tie in file order (the old behaviour) gives another number here.
    first_only = []
    for s, in zip(score[is_treated]):
        d = np.abs(score[~is_treated] - s)
        first_only.append(pool.value.to_numpy()[np.argsort(d, kind="stable")[:k]].mean())
    assert m.att != pytest.approx(np.mean(treated.value.to_numpy() - np.array(first_only)), abs=1e-6)


def _reference(treated: pd.DataFrame, pool: pd.DataFrame, covariates: list[str], k: int, caliper_sd: float):
    """Abadie and Imbens (2006) with ties, written out a person at a time: J(i) = {j : d_ij <= d_(k)(i)} within the
    caliper, K(j) = sum_i 1{j in J(i)}/#J(i), K'(j) = sum_i 1{j in J(i)}/#J(i)^2, sigma^2(j) from the nearest
    other pool members (all of them when tied), V = [sum_i (Y_i - Yhat_i - att)^2 + sum_j (K^2 - K') sigma^2] / N1^2."""
    both = pd.concat([treated, pool], ignore_index=True)
    is_t = np.r_[np.ones(len(treated)), np.zeros(len(pool))].astype(bool)
    s = propensity_logit(design_matrix(both, covariates), is_t)
    caliper = caliper_sd * np.std(s, ddof=1)
    st_, sc = s[is_t], s[~is_t]
    yt, yc = both.value.to_numpy()[is_t], both.value.to_numpy()[~is_t]
    K, Kp, effects = np.zeros(len(sc)), np.zeros(len(sc)), []
    for i in range(len(st_)):
        if not sc.min() - caliper <= st_[i] <= sc.max() + caliper:
            continue
        d = np.abs(sc - st_[i])
        d_k = np.sort(d)[min(k, len(d)) - 1]
        J = np.flatnonzero((d <= d_k + TIE_TOLERANCE) & (d <= caliper))
        if len(J) == 0:
            continue
        K[J] += 1 / len(J)
        Kp[J] += 1 / len(J) ** 2
        effects.append((yt[i], yc[J].mean()))
    sigma2 = np.zeros(len(sc))
    for j in range(len(sc)):
        d = np.abs(sc - sc[j])
        d[j] = np.inf
        J = np.flatnonzero(d <= d.min() + TIE_TOLERANCE)
        sigma2[j] = len(J) / (len(J) + 1) * (yc[j] - yc[J].mean()) ** 2
    e = np.array([a - b for a, b in effects])
    att = e.mean()
    variance = (np.sum((e - att) ** 2) + np.sum((K ** 2 - Kp) * sigma2)) / len(e) ** 2
    return att, np.sqrt(variance), len(e), int((K > 0).sum()), np.sort(K[K > 0])


@pytest.mark.parametrize("k, caliper", [(1, 100.0), (2, 100.0), (3, 0.05), (1, 0.01)])
def test_abadie_imbens_variance_with_ties_against_a_person_by_person_computation(k: int, caliper: float) -> None:
    treated, pool = _tied_people(80, 300, seed=4, levels=5)
    treated = treated.assign(age=treated.age * 1.0 + np.r_[np.zeros(60), np.linspace(0.1, 3, 20)])  # some untied
    m = match(treated, pool, ["age", "prior"], [], caliper_sd=caliper, k=k, replacement=True)
    att, se, n1, n0, weights = _reference(treated, pool, ["age", "prior"], k, caliper)
    assert (m.n_treated, m.n_controls) == (n1, n0)
    assert m.att == pytest.approx(att, rel=1e-12)
    assert m.se == pytest.approx(se, rel=1e-9)
    assert np.sort(m.weights.to_numpy()) == pytest.approx(weights, rel=1e-12)


def test_matched_set_holds_pseudonyms_and_the_weights_the_estimate_used() -> None:
    treated, pool = _tied_people(40, 200, seed=9)
    m = match(treated, pool, ["age", "prior"], ["group"], caliper_sd=0.2, k=2, replacement=True, pairs=True)
    pairs = m.pairs
    assert set(pairs.treated) <= set(treated.participant_id) and set(pairs.control) <= set(pool.participant_id)
    assert pairs.treated.nunique() == m.n_treated and pairs.control.nunique() == m.n_controls
    # The estimate is the weighted difference the pairs describe.
    y = pd.concat([treated, pool]).set_index("participant_id").value
    imputed = (pairs.weight * y.loc[pairs.control].to_numpy()).groupby(pairs.treated).sum()
    assert m.att == pytest.approx((y.loc[imputed.index] - imputed).mean())
    # Exact strata hold: nobody is matched across groups.
    group = pd.concat([treated, pool]).set_index("participant_id").group
    assert (group.loc[pairs.treated].to_numpy() == group.loc[pairs.control].to_numpy()).all()


def test_without_replacement_breaks_ties_by_pseudonym_not_by_file_order() -> None:
    treated = pd.DataFrame({"participant_id": ["t1", "t2"], "x": [1, 3], "value": [5.0, 6.0]})
    pool = pd.DataFrame({"participant_id": ["a", "b", "c", "d"], "x": [1, 1, 3, 0], "value": [1.0, 2.0, 3.0, 0.0]})
    runs = [match(t, p, ["x"], [], caliper_sd=5, k=1, replacement=False, pairs=True)
            for t, p in ((treated, pool), (treated[::-1], pool[::-1]))]
    _same(*runs)
    assert len(runs[0].pairs) == 2 and set(runs[0].pairs.control) & {"a", "b"} and "c" in set(runs[0].pairs.control)


MATCHED = MINIMAL.replace("""    evaluation:
      design: fixed_baseline
      baseline: 0.85
      min_n: 5""", """    evaluation:
      design: matched_comparison
      covariates: [school_year, sex]
      neighbours: 2
      min_n: 5""")


def _files(folder: Path, seed: int, shuffle: int | None) -> list[tuple[Path, str]]:
    rng = np.random.default_rng(seed)
    people = pd.DataFrame({"participant_id": [f"P{i:03d}" for i in range(40)] + [f"Q{i:03d}" for i in range(160)],
                           "start": [f"2020-{1 + i % 12:02d}-01" for i in range(200)],
                           "school_year": np.r_[rng.integers(5, 10, 40), rng.integers(4, 9, 160)],
                           "sex": rng.choice(["female", "male"], 200)})
    values = pd.DataFrame({"participant_id": people.participant_id, "metric": "attendance",
                           "date": pd.to_datetime(people.start) + pd.Timedelta(days=40),
                           "value": (0.4 + 0.04 * people.school_year + rng.integers(0, 3, 200) / 20).round(2)})
    values["date"] = values["date"].dt.strftime("%Y-%m-%d")
    order = np.random.default_rng(shuffle).permutation if shuffle is not None else (lambda frame: frame)
    paths = []
    for name, kind, frame in (("treated.csv", "participants", people[:40]), ("pool.csv", "comparison", people[40:]),
                              ("values.csv", "measurements", values)):
        frame = frame.iloc[order(len(frame))] if shuffle is not None else frame
        frame.to_csv(folder / name, index=False)
        paths.append((folder / name, kind))
    return paths


def test_a_permuted_delivery_gives_an_identical_run_through_the_store(tmp_path: Path) -> None:
    """The same files in three row orders: the same input fingerprint and the same results, number for number."""
    payloads = []
    for n, shuffle in enumerate([None, 1, 2]):
        folder = tmp_path / str(n)
        folder.mkdir()
        url = f"sqlite:///{folder / 'store.db'}"
        init_store(url)
        engine = open_store(url)
        stored = stored_minimal(engine, MATCHED)
        for path, kind in _files(folder, seed=3, shuffle=shuffle):
            verify_batch(engine, ingest_file(engine, stored.latest.terms, path, kind, bytes(range(32))).batch_id)
        run = evaluate(engine, get_contract(engine, stored.id), date(2023, 6, 1))
        payloads.append([run.inputs_fingerprint] + [r.to_dict() for r in run.results if r.metric == "attendance"])
        engine.dispose()
    pooled = next(r for r in payloads[0][1:] if r["cohort"] == POOLED and r["subgroup"] is None)
    assert pooled["estimate"] is not None and pooled["diagnostics"]["treated_with_tied_matches"] > 0
    assert repr(payloads[1]) == repr(payloads[0]) and repr(payloads[2]) == repr(payloads[0])


def test_sib_evaluate_matches_exports_the_runs_matched_set_by_pseudonym(sib, tmp_path: Path) -> None:
    import json

    assert sib("init").code == 0 and sib("keys", "init").code == 0
    (tmp_path / "matched.yaml").write_text(MATCHED)
    assert sib("contract", "load", tmp_path / "matched.yaml").code == 0
    for path, kind in _files(tmp_path, seed=5, shuffle=None):
        ingested = json.loads(sib("ingest", "test-contract", path, "--kind", kind, "--json").out)
        assert sib("verify", ingested["batch"]).code == 0
    run = json.loads(sib("evaluate", "test-contract", "--as-of", "2023-06-01", "--json").out)
    stored = next(r for r in run["results"] if r["metric"] == "attendance" and r["cohort"] == POOLED
                  and r["subgroup"] is None)
    result = sib("evaluate", "matches", run["run"], "--metric", "attendance", "--csv", tmp_path / "set.csv", "--json")
    assert result.code == 0, result.err
    summary = json.loads(result.out)
    pairs = pd.read_csv(tmp_path / "set.csv")
    assert list(pairs.columns) == ["treated", "control", "weight"] and len(pairs) == summary["pairs"]
    # Pseudonyms only: 64 hex characters, never a delivered reference such as P001 or Q017.
    assert pairs.treated.str.fullmatch(r"[0-9a-f]{64}").all() and pairs.control.str.fullmatch(r"[0-9a-f]{64}").all()
    assert not (tmp_path / "set.csv").read_text().count("P0") and not (tmp_path / "set.csv").read_text().count("Q0")
    assert pairs.groupby("treated").weight.sum().to_numpy() == pytest.approx(1.0)
    assert (pairs.treated.nunique(), pairs.control.nunique()) == (stored["n_treated"], stored["n_comparison"])
    assert summary["estimate"] == stored["estimate"]
    # The set reproduces the stored estimate from the delivered values, joined by pseudonym.
    people = pd.read_csv(tmp_path / "values.csv")
    from outcomes.pseudonym import load_key, pseudonymise  # the store's keyed hash of a delivered reference

    key = load_key(tmp_path / "sib.key")
    y = pd.Series(people.value.to_numpy(), index=[pseudonymise(key, "test-contract", r) for r in people.participant_id])
    imputed = (pairs.weight * y.loc[pairs.control].to_numpy()).groupby(pairs.treated).sum()
    assert stored["estimate"] == pytest.approx((y.loc[imputed.index] - imputed).mean(), rel=1e-12)
    again = sib("evaluate", "matches", run["run"], "--metric", "attendance", "--csv", tmp_path / "again.csv")
    assert again.code == 0 and (tmp_path / "again.csv").read_bytes() == (tmp_path / "set.csv").read_bytes()
    refused = sib("evaluate", "matches", run["run"], "--metric", "exclusion")
    assert refused.code == 1 and "is not evaluated by matching" in refused.err


def _ai2016_reference(treated: pd.DataFrame, pool: pd.DataFrame, covariates: list[str], k: int, l: int = 2) -> float:
    """Abadie and Imbens (2016), Theorem 2 (ATT), a unit at a time on the unscaled covariates: the variance
    change (d' I^-1 d - c' I^-1 c) / N, with I = mean of f X X', d = mean of X f (mu1 - mu0 - tau) / p and
    c = mean of f [cov(X, mu1 | F) + F / (1 - F) cov(X, mu0 | F)] / p, the conditional covariances from the
    l nearest units of each group on the score, ties included."""
    import statsmodels.api as sm

    both = pd.concat([treated, pool], ignore_index=True)
    w = np.r_[np.ones(len(treated)), np.zeros(len(pool))]
    X = sm.add_constant(both[covariates].astype(float)).to_numpy()
    s = X @ sm.Logit(w, X).fit(disp=0).params
    y, n, p = both.value.to_numpy(float), len(both), w.mean()
    F = 1 / (1 + np.exp(-s))
    f = F * (1 - F)
    info = sum(f[i] * np.outer(X[i], X[i]) for i in range(n)) / n

    def nearest(i: int, group: int, m: int) -> np.ndarray:
        members = np.flatnonzero(w == group)
        dist = np.abs(s[members] - s[i])
        return members[dist <= np.sort(dist)[min(m, len(dist)) - 1] + TIE_TOLERANCE]

    mu1 = np.array([y[i] if w[i] == 1 else y[nearest(i, 1, k)].mean() for i in range(n)])
    mu0 = np.array([y[i] if w[i] == 0 else y[nearest(i, 0, k)].mean() for i in range(n)])
    tau = np.mean((mu1 - mu0)[w == 1])
    d = sum(X[i] * f[i] * (mu1[i] - mu0[i] - tau) for i in range(n)) / (n * p)
    c = np.zeros(X.shape[1])
    for i in range(n):
        for group, factor in ((1, 1.0), (0, F[i] / (1 - F[i]))):
            h = nearest(i, group, l)
            if len(h) > 1:
                cov = ((X[h] - X[h].mean(0)) * (y[h] - y[h].mean())[:, None]).sum(0) / (len(h) - 1)
                c += f[i] * factor * cov / (n * p)
    inverse = np.linalg.inv(info)
    return float((d @ inverse @ d - c @ inverse @ c) / n)


@pytest.mark.parametrize("levels", [4, 50])
def test_abadie_imbens_2016_adjustment_against_a_unit_by_unit_computation(levels: int) -> None:
    treated, pool = _tied_people(50, 150, seed=21, levels=levels)
    known = match(treated, pool, ["age", "prior"], [], caliper_sd=100, k=1, replacement=True)
    adjusted = match(treated, pool, ["age", "prior"], [], caliper_sd=100, k=1, replacement=True,
                     se="abadie_imbens_2016")
    expected = _ai2016_reference(treated, pool, ["age", "prior"], k=1)
    assert expected != pytest.approx(0, abs=1e-6)  # an adjustment that matters here
    assert adjusted.diagnostics["variance_adjustment_2016"] == pytest.approx(expected, rel=1e-6)
    assert adjusted.se ** 2 == pytest.approx(known.se ** 2 + expected, rel=1e-9)
    assert adjusted.att == known.att and adjusted.se_kind.code == "evaluation.se_abadie_imbens_2016"
    assert known.se_kind.code == "evaluation.se_abadie_imbens" and known.diagnostics["variance_adjustment_2016"] is None


def test_the_contract_chooses_the_2016_standard_error_and_the_result_says_so() -> None:
    from contracts import load_contract_text
    from evaluation import designs

    text = MATCHED.replace("      neighbours: 2\n", "      neighbours: 2\n      se: abadie_imbens_2016\n")
    metric = load_contract_text(text).contract.metric("attendance")
    assert metric.evaluation.se == "abadie_imbens_2016"
    assert load_contract_text(MATCHED).contract.metric("attendance").evaluation.se == "abadie_imbens_2006"
    treated, pool = _tied_people(50, 150, seed=21, levels=50)
    treated, pool = (f.rename(columns={"age": "school_year", "prior": "sex"}) for f in (treated, pool))
    r = designs.matched(metric, POOLED, treated, pool, [])
    direct = match(treated, pool, ["school_year", "sex"], [], caliper_sd=0.2, k=2, replacement=True,
                   se="abadie_imbens_2016")
    assert r.se == pytest.approx(direct.se) and r.se_kind.code == "evaluation.se_abadie_imbens_2016"


# --- A pool of millions: the design held once, typed inputs, and the same figures ------------------------------

def test_the_standardised_design_is_the_design_matrix_centred_and_scaled() -> None:
    """``standardised_design`` (matching's one array) holds exactly the columns of ``design_matrix``, each
    centred and scaled, after a constant; text covariates with repeated values give the same 0/1 columns."""
    from evaluation.covariates import standardised_design

    treated, pool = _tied_people(40, 300, seed=3)
    both = pd.concat([treated, pool], ignore_index=True).assign(
        text_number=lambda f: f["prior"].astype(str), constant=7)
    covariates = ["age", "prior", "group", "text_number", "constant"]
    x = design_matrix(both, covariates, squares=["age"], interactions=[["age", "prior"]])
    design, names = standardised_design(both, covariates, squares=["age"], interactions=[["age", "prior"]])
    assert names == list(x.columns) == ["age", "prior", "group_b", "text_number", "age^2", "age*prior"]
    assert design.shape == (len(both), len(names) + 1) and (design[:, 0] == 1.0).all()
    expected = ((x - x.mean()) / x.std(ddof=0)).to_numpy()
    np.testing.assert_allclose(design[:, 1:], expected, rtol=0, atol=1e-12)


def test_collinear_covariates_are_refused_with_a_clear_reason() -> None:
    treated, pool = _tied_people(30, 200, seed=5)
    treated, pool = (f.assign(twice=2.0 * f["age"] + 1.0) for f in (treated, pool))
    with pytest.raises(MatchingError) as refused:
        match(treated, pool, ["age", "prior", "twice"], [], caliper_sd=0.2, k=1, replacement=True)
    assert refused.value.message.code == "evaluation.matching_collinear"


def test_the_person_key_orders_like_the_pseudonym_prefix_and_rows_tied_on_it_by_their_content() -> None:
    """Evaluation reads a 64-bit person key (the pseudonym's first 16 hex digits), not the 64-character
    pseudonym; matching orders by it, and a permutation still gives an identical result when two people share
    a key (then their covariates and outcome order them)."""
    from evaluation.inputs import person_keys

    pseudonyms = pd.Series(["00000000000000ff" + "a" * 48, "ffffffffffffffff" + "b" * 48, "8000000000000000" + "c" * 48])
    assert person_keys(pseudonyms.str[:16]).tolist() == [255, 2**64 - 1, 2**63]
    assert person_keys(pd.Series([], dtype=object)).tolist() == []
    treated, pool = _tied_people(20, 150, seed=11)
    rng = np.random.default_rng(0)
    treated, pool = (f.assign(person_key=rng.integers(0, 2**63, len(f)).astype(np.uint64)) for f in (treated, pool))
    pool.loc[pool.index[:10], "person_key"] = np.uint64(42)  # ten people share a key
    first = _run(treated, pool, caliper_sd=0.2, k=1, replacement=True)
    for seed in range(3):
        order = np.random.default_rng(seed).permutation(len(pool))
        _same(first, _run(treated, pool.iloc[order], caliper_sd=0.2, k=1, replacement=True))


def test_attributes_read_in_chunks_have_one_type_and_the_fingerprint_no_order(tmp_path: Path, monkeypatch) -> None:
    """A number attribute missing for every participant of one fetched chunk is still numbers after the chunks
    are joined, and the input fingerprint is the same whichever order the participants were delivered in."""
    from store import bulk
    from evaluation.inputs import load_inputs

    monkeypatch.setattr(bulk, "FETCH_ROWS", 2)
    prints = []
    for order in (["A", "B", "C", "D"], ["C", "D", "A", "B"]):
        url = f"sqlite:///{tmp_path / ('s' + ''.join(order) + '.db')}"
        init_store(url)
        engine = open_store(url)
        contract = stored_minimal(engine, MINIMAL.replace(
            "  eligibility:\n    - {attribute: school_year, op: between, value: [4, 9]}\n", "")).latest.terms
        years = {"A": "", "B": "", "C": "5", "D": "6"}  # school_year missing for A and B
        people = "participant_id,start,school_year,sex\n" + "".join(
            f"CASE-{p},2020-02-01,{years[p]},female\n" for p in order)
        path = tmp_path / "p.csv"
        path.write_text(people)
        verify_batch(engine, ingest_file(engine, contract, path, "participants", bytes(range(32))).batch_id)
        inputs = load_inputs(engine, "test-contract", date(2021, 1, 1))
        assert str(inputs.participants["school_year"].dtype) == "float64"
        prints.append(inputs.fingerprint())
    assert prints[0] == prints[1]


@pytest.mark.parametrize("seed", range(8))
def test_an_exact_linear_combination_is_refused_whatever_the_rounding(seed: int) -> None:
    """The rank check must not depend on the sign of a rounding error: on the Gram matrix a collinear design's
    smallest eigenvalue is rounding of either sign (its square root passed as a singular value on one BLAS)."""
    treated, pool = _tied_people(30, 200, seed=seed)
    treated, pool = (f.assign(both=f["age"] - 3.0 * f["prior"] + 0.5) for f in (treated, pool))
    with pytest.raises(MatchingError) as refused:
        match(treated, pool, ["age", "prior", "both"], [], caliper_sd=0.2, k=1, replacement=True)
    assert refused.value.message.code == "evaluation.matching_collinear"
