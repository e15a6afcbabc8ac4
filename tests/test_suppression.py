"""Small-cell suppression as one mechanism: the six differencing attacks that once worked, performed against the
real outputs (API JSON, the payer's XLSX, the run diff), a randomised search over generated tables, and the
threshold's limits (never below 3, never lowered by an amendment once data exists)."""

from __future__ import annotations

import io
import json
import re
from datetime import date
from decimal import Decimal
from itertools import combinations
from typing import Any, Iterator

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from api.access import add_user
from api.http import create_app
from api.privacy import suppress_results
from contracts import load_contract_text
from contracts.problems import ContractFileError
from contracts.registry import VersionConflict, store_contract
from evaluation.run import evaluate
from outcomes.batches import verify_batch
from outcomes.ingest import ingest_file
from outcomes.pseudonym import init_key, load_key
from payments.calculate import calculate
from store.db import init_store, open_store
from store.seal import key_file
from tests.helpers import MINIMAL, stored_minimal

K = 5  # the contract's threshold (the default)
PRICE = 1200  # the rate card's price in the version in effect (amendment 2)
CONTRACT = MINIMAL.replace("      baseline: 0.85\n      min_n: 5",
                           "      baseline: 0.85\n      min_n: 5\n      subgroups:\n        - {attribute: sex}\n"
                           "        - {attribute: school_year, bands: [4, 7, 10]}")
assert CONTRACT != MINIMAL

# Cohort c1: 40 pupils (3 of them girls; 3 excluded from school); cohort c2: 2 pupils.
PEOPLE = ([(f"A{i:03d}", f"2020-{1 + i % 11:02d}-01", 4 + i % 6, "female" if i < 3 else "male") for i in range(40)]
          + [("B000", "2021-01-01", 5, "male"), ("B001", "2021-02-01", 8, "male")])
EXCLUDED = {"A003", "A004", "A005"}


def _files(people: list[tuple[str, str, int, str]]) -> tuple[str, str]:
    part = "participant_id,start,school_year,sex\n" + "".join(f"{p},{s},{y},{x}\n" for p, s, y, x in people)
    rows = [f"{p},attendance,{s[:8]}20,{0.85 + (i % 4) * 0.05:.2f}" for i, (p, s, _, _) in enumerate(people)]
    rows += [f"{p},exclusion,{s[:8]}21,{int(p in EXCLUDED)}" for p, s, _, _ in people]
    return part, "participant_id,metric,date,value\n" + "\n".join(rows) + "\n"


@pytest.fixture(scope="module")
def world(module_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    folder = tmp_path_factory.mktemp("suppression")
    init_store(module_url)
    engine = open_store(module_url)
    key_path = init_key(folder / "sib.key")
    key = load_key(key_path)
    sealing = key_file(key_path)
    sealing.__enter__()
    stored = stored_minimal(engine, CONTRACT)
    contract = stored.latest.terms

    def ingest(people: list[tuple[str, str, int, str]], tag: str) -> None:
        for kind, text in zip(("participants", "measurements"), _files(people)):
            path = folder / f"{tag}-{kind}.csv"
            path.write_text(text)
            verify_batch(engine, ingest_file(engine, contract, path, kind, key).batch_id)

    ingest(PEOPLE, "first")
    first = evaluate(engine, stored, date(2022, 6, 30))
    calculate(engine, stored, first)
    ingest([("A040", "2020-03-01", 6, "male")], "late")  # one more pupil: the next run counts 43
    second = evaluate(engine, stored, date(2022, 6, 30))
    tokens = {role: add_user(engine, f"{role}-1", role, ["test-contract"], party={"payer": "city", "provider": "provider"}.get(role))
              for role in ("intermediary", "investor", "payer")}
    client = TestClient(create_app(engine))
    yield {"engine": engine, "client": client, "tokens": tokens, "first": first.id, "second": second.id}
    sealing.__exit__(None, None, None)
    engine.dispose()


def get(world: dict[str, Any], path: str, role: str) -> Any:
    got = world["client"].get(f"/api/v1/contracts/test-contract{path}", headers={
        "Authorization": f"Bearer {world['tokens'][role]}", "Accept-Language": "en"})
    assert got.status_code == 200, got.text
    return got


def _run(world: dict[str, Any], role: str, run: str = "first") -> list[dict[str, Any]]:
    return get(world, f"/evaluations/{world[run]}", role).json()["results"]


def _key(r: dict[str, Any]) -> tuple[str, str, str]:
    return (r["metric"], r["cohort"], r["subgroup"] or "")


def _truth(world: dict[str, Any], run: str = "first") -> dict[tuple[str, str, str], dict[str, Any]]:
    return {_key(r): r for r in _run(world, "intermediary", run)}


def _small(n: Any) -> bool:
    return isinstance(n, int) and 0 < n < K


# -- the six attacks ------------------------------------------------------------------------------------------------

def test_attack_a_warnings_in_suppressed_cells_carry_no_count(world: dict[str, Any]) -> None:
    truth = _truth(world)
    assert any(w["code"] == "evaluation.too_few" and w["params"]["n"] == 2
               for w in truth[("attendance", "c2", "")]["warnings"])  # the intermediary sees "only 2 participants"
    for role in ("investor", "payer"):
        for r in _run(world, role):
            real = truth[_key(r)]
            hidden = {real[c] for c in ("n_treated", "n_achieved", "n_pending") if r.get(c) is None and real.get(c)}
            for w in r["warnings"]:
                if r.get("suppressed"):
                    assert "n" not in w["params"], (role, _key(r), w)
                assert not any(re.search(rf"(?<![\d.,]){n} (participants|treated)", w["text"]) for n in hidden)
                assert not _small(w["params"].get("n")), (role, _key(r), w)


def test_attack_b_complementary_cell_within_each_subgroup_variable(world: dict[str, Any]) -> None:
    truth = _truth(world)
    assert truth[("attendance", "all", "sex female")]["n_treated"] == 3  # the cell to protect
    seen = {_key(r): r["n_treated"] for r in _run(world, "investor") if r["metric"] == "attendance"}
    total = seen[("attendance", "all", "")]
    assert total == 42
    for variable in ("sex", "school_year"):
        levels = {k: n for k, n in seen.items() if k[2].startswith(variable + " ")}
        hidden = [k for k, n in levels.items() if n is None]
        assert len(hidden) != 1, (variable, levels)  # total less the shown levels would be that one cell
        if hidden:  # the attack: the total less the other levels of the same variable
            rest = total - sum(n for n in levels.values() if n is not None)
            assert all(rest != truth[k]["n_treated"] for k in hidden)
    cohorts = {k: n for k, n in seen.items() if k[2] == "" and k[1] != "all"}
    assert list(cohorts.values()) == [None, None]  # c2 (2 pupils) and its complement c1


def test_attack_c_a_mean_times_its_n(world: dict[str, Any]) -> None:
    truth = _truth(world)
    excluded = truth[("exclusion", "all", "")]
    assert round(excluded["treated_mean"] * excluded["n_treated"]) == 3  # three pupils excluded: a small cell
    for role in ("investor", "payer"):
        for r in _run(world, role):
            real = truth[_key(r)]
            if r["metric"] == "exclusion" and r.get("treated_mean") is not None and r.get("n_treated") is not None:
                derived = round(r["treated_mean"] * r["n_treated"])  # a share of a binary outcome times its n
                assert not _small(derived) and not _small(r["n_treated"] - derived), (role, _key(r), derived)
            if r.get("n_achieved") is None and real.get("n_achieved") is not None:
                assert all(r.get(s) is None for s in ("treated_mean", "estimate", "ci_low", "ci_high",
                                                      "improvement")), (role, _key(r))


def _payer_ledger(world: dict[str, Any]) -> list[dict[str, Any]]:
    return get(world, "/ledger?limit=100", "payer").json()["items"]


def _numbers(value: Any) -> list[Decimal]:
    text = json.dumps(value, default=str)
    return [Decimal(m) for m in re.findall(r"(?<![\w.])\d+(?:\.\d+)?", text)]


def test_attack_d_ledger_basis_amounts_do_not_give_counts(world: dict[str, Any]) -> None:
    full = {e["seq"]: e for e in get(world, "/ledger?limit=100", "intermediary").json()["items"]}
    small_entry = next(e for e in full.values() if e["cohort"] == "c2")
    paid = small_entry["basis"]["outcomes_paid"]
    assert Decimal(small_entry["basis"]["line_amount"]) / PRICE == paid and _small(paid)  # the old attack
    for e in _payer_ledger(world):
        basis = e["basis"]
        assert not {"line_amount", "prices", "price_per_unit", "owed_to_date", "previously_booked", "trail",
                    "caps", "not_paid"} & set(basis), basis
        assert e["calculation"] is None
        counts = {full[e["seq"]]["basis"].get(k) for k in ("participants_paid", "outcomes_paid")}
        counts |= set((full[e["seq"]]["basis"].get("achieved") or {}).values())
        constants = ("evidence", "payer_share", "evaluation_run", "alpha", "threshold")  # the contract's, the run's
        shown = {k: v for k, v in basis.items() if k not in constants}
        proof = [{k: v for k, v in r.items() if k not in ("metric", "cohort", "design")}
                 for r in (e["evidence"] or {}).get("results", [])]
        for number in _numbers(shown) + _numbers(proof):  # every figure of the basis and its evidence
            for count in (c for c in counts if _small(c)):
                assert number / PRICE != count and number != count, (e["seq"], number, count)


def test_attack_e_payers_xlsx_entries_sheet(world: dict[str, Any]) -> None:
    from openpyxl import load_workbook

    for role in ("payer", "intermediary"):
        data = get(world, "/exports/schedule.xlsx", role).content
        book = load_workbook(io.BytesIO(data), read_only=True)
        sheet = book.worksheets[1]
        rows = [[c for c in row] for row in sheet.iter_rows(values_only=True)]
        header = rows[0]
        text = [" ".join(str(c) for i, c in enumerate(row) if c is not None and header[i] != "Amount")
                for row in rows[1:]]
        leaks = [t for t in text if re.search(r"(?<![\d.,])[1-4] (outcomes|participants)|paid: [1-4]\b", t)
                 or re.search(r"achieved: [1-4] |\b1[ ,]?200\b", t)]
        if role == "intermediary":
            assert leaks, "the intermediary's sheet should spell the calculation out"
        else:
            assert leaks == [], leaks


def test_attack_f_run_diff_shows_no_small_change(world: dict[str, Any]) -> None:
    path = f"/evaluations/{world['first']}/diff/{world['second']}"
    full = get(world, path, "intermediary").json()
    assert any("42 → 43" in m["text"] for m in full["explanation"])  # one pupil more: the intermediary sees it
    assert any(e.get("changed", {}).get("n_treated") == [42, 43] for e in full["results"])
    for role in ("investor", "payer"):
        seen = get(world, path, role).json()
        for m in seen["explanation"]:
            numbers = [int(x) for x in re.findall(r"(?<![\d.])\d+(?![\d.])", m["text"])]
            assert not ({42, 43} <= set(numbers)), m["text"]
            assert not any(isinstance(v, int) and 0 < abs(v) < K for v in m["params"].values()), m
        for e in seen["results"]:
            for field, (a, b) in e.get("changed", {}).items():
                assert a is not None and b is not None, (field, e)
                if field.startswith("n_"):
                    assert abs(b - a) >= K, (field, e)
                else:  # a statistic changes only where every count of its row changed by the threshold or more
                    assert not any(abs(p[1] - p[0]) < K for f, p in e["changed"].items() if f.startswith("n_")), e
            assert not any(isinstance(p[0], (int, float)) and (p[0], p[1]) == (42, 43)
                           for p in e.get("changed", {}).values())


# -- a randomised search ----------------------------------------------------------------------------------------------

def _table(cohorts: list[int], a: list[int], b: list[int]) -> list[dict[str, Any]]:
    """Results of one metric: cohorts, the pooled row, two subgroup variables (their levels add up to the total,
    the second leaving some people unplaced)."""
    rows = [{"metric": "m", "cohort": f"c{i}", "subgroup": None, "n_treated": n} for i, n in enumerate(cohorts)]
    rows.append({"metric": "m", "cohort": "all", "subgroup": None, "n_treated": sum(cohorts)})
    rows += [{"metric": "m", "cohort": "all", "subgroup": f"region r{i}", "n_treated": n} for i, n in enumerate(a)]
    rows += [{"metric": "m", "cohort": "all", "subgroup": f"age a{i}", "n_treated": n} for i, n in enumerate(b)]
    return [dict(r, treated_mean=0.5, warnings=[]) for r in rows]


def _group(r: dict[str, Any]) -> str:
    return "pooled" if r["cohort"] == "all" and not r["subgroup"] else (r["subgroup"] or "cohort").split(" ")[0]


@st.composite
def tables(draw: Any) -> tuple[int, list[int], list[int], list[int]]:
    cell = st.integers(0, 30) | st.integers(1, 6)
    cohorts = draw(st.lists(cell, min_size=1, max_size=5))
    total = sum(cohorts)

    def split(parts: int, of: int) -> list[int]:
        cuts = sorted(draw(st.lists(st.integers(0, of), min_size=parts - 1, max_size=parts - 1)))
        return [y - x for x, y in zip([0, *cuts], [*cuts, of])]
    a = split(draw(st.integers(2, 5)), total)
    placed = draw(st.integers(0, total))  # the second variable leaves total - placed people unplaced
    b = split(draw(st.integers(2, 4)), placed)
    return draw(st.integers(3, 8)), cohorts, a, b


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck), database=None)
@given(tables())
def test_no_suppressed_cell_is_recovered_from_published_cells(case: tuple[int, list[int], list[int], list[int]]
                                                             ) -> None:
    """Every pairwise difference and sum of published cells (and each published cell alone) is tried against
    every suppressed cell; and for every suppressed cell there is another table, with every published cell the
    same and every group adding up the same, in which that cell differs: no attack recovers it exactly."""
    k, cohorts, a, b = case
    rows = _table(cohorts, a, b)
    shown = suppress_results(rows, k)
    published = [r["n_treated"] for r in shown if r["n_treated"] is not None]
    hidden = [i for i, r in enumerate(shown) if r["n_treated"] is None]
    assert all(not (0 < n < k) for n in published)  # primary suppression
    for i in hidden:
        assert shown[i]["treated_mean"] is None
    groups: dict[str, list[int]] = {}
    for i, r in enumerate(rows):
        groups.setdefault(_group(r), []).append(i)
    unplaced = sum(a) - sum(b)
    if any(_group(rows[i]) == "pooled" for i in hidden):  # the total itself is small: nothing is published
        assert len(hidden) == len(rows)
        return
    for i in hidden:
        value = rows[i]["n_treated"]
        if value == 0:
            continue
        # another world: move one person between this cell and another hidden cell of its group (or the unplaced)
        partners = [j for j in groups[_group(rows[i])] if j != i and j in hidden and rows[j]["n_treated"] > 0]
        moves = [(j, d) for j in partners for d in (1, -1)
                 if value + d >= 1 and rows[j]["n_treated"] - d >= 1]
        if _group(rows[i]) == "age" and unplaced > 0:  # the unplaced are never published: an unknown too
            moves += [(None, d) for d in (1, -1) if value + d >= 1 and unplaced - d >= 0]
        assert moves, (k, cohorts, a, b, rows[i]["subgroup"] or rows[i]["cohort"], shown)
        candidates = set(published) | {x - y for x, y in combinations(published, 2)} | {
            y - x for x, y in combinations(published, 2)} | {x + y for x, y in combinations(published, 2)}
        other = value + moves[0][1]  # the cell in the other world, whose published view is this one's
        assert not [c for c in candidates if c == value and c == other]


def test_groups_in_the_known_cases() -> None:
    from api.privacy import suppress_group

    assert suppress_group({"c1": 3, "c2": 40, "c3": 12}, 5) == {"c1", "c3"}
    assert suppress_group({"c1": 1, "c2": 1, "c3": 50}, 5) == {"c1", "c2", "c3"}  # two hidden ones: 2 = 1 + 1
    assert suppress_group({"south": 4, "north": 89}, 5) == {"south", "north"}
    shown = suppress_results(_table([40, 2], [4, 38], [20, 22]), 5)
    by = {(r["cohort"], r["subgroup"]): r["n_treated"] for r in shown}
    assert by[("all", "region r0")] is None and by[("all", "region r1")] is None  # not an age band instead
    assert by[("all", "age a0")] == 20 and by[("all", "age a1")] == 22
    assert by[("all", None)] == 42


# -- the threshold ----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("threshold", [0, 1, 2])
def test_a_threshold_below_three_is_refused(threshold: int) -> None:
    with pytest.raises(ContractFileError) as caught:
        load_contract_text(MINIMAL.replace("currency: SEK", f"currency: SEK\nsuppression_threshold: {threshold}"))
    assert "suppression_threshold" in str(caught.value.problems if hasattr(caught.value, "problems") else caught.value)
    assert load_contract_text(MINIMAL.replace("currency: SEK", "currency: SEK\nsuppression_threshold: 3")
                              ).contract.suppression_threshold == 3


LOWERED = MINIMAL + ("  - version: 3\n    effective: 2023-01-01\n    reason: Smaller cells\n    set:\n"
                     "      suppression_threshold: 3\n")


def test_lowering_the_threshold_by_amendment_once_data_exists_is_refused(engine: Any, tmp_path: Any) -> None:
    stored = stored_minimal(engine)
    path = tmp_path / "p.csv"
    path.write_text("participant_id,start,school_year,sex\nA001,2020-02-01,5,male\n")
    ingest_file(engine, stored.latest.terms, path, "participants", load_key(init_key(tmp_path / "sib.key")))
    with pytest.raises(VersionConflict) as caught:
        store_contract(engine, load_contract_text(LOWERED, "minimal.yaml"))
    from language.words import words

    text = words("en").message(caught.value.message)
    assert "lowers the suppression threshold from 5 to 3" in text and "already has data" in text
    raised = LOWERED.replace("suppression_threshold: 3", "suppression_threshold: 7")
    assert store_contract(engine, load_contract_text(raised, "minimal.yaml")).added_versions == (3,)


def test_lowering_the_threshold_before_any_data_is_allowed(engine: Any) -> None:
    stored_minimal(engine)
    assert store_contract(engine, load_contract_text(LOWERED, "minimal.yaml")).added_versions == (3,)
