"""Payments to the öre: hand-worked cases for every mechanism and cap, the ledger and its steps,
investor returns, the forecast and the schedule; property tests for what must always hold."""

from __future__ import annotations

import ast
import csv
import random
from datetime import date
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest

from payments.evidence import FLAGS as ALL_FLAGS
import sqlalchemy as sa
from hypothesis import given, settings
from hypothesis import strategies as st

from contracts import load_contract_text
from evaluation.result import EffectResult
from evaluation.run import EvaluationRun
from payments.calculate import PaymentError, calculate, check_run, owed_to_date, payable_period, period_of
from payments.ledger import StepRefused, current_status, entry_hash, read_ledger, take_step, verify_chain
from payments.money import quantity, round_money, split
from payments.returns import investor_returns, run_waterfall, xirr
from store.tables import EvaluationOutcomeRow, EvaluationRunRow, LedgerEntryRow
from tests.helpers import MINIMAL, english, row_counts, stored_minimal


def english_basis(contract, basis) -> str:
    """A ledger basis as an English reader of the schedule sees it."""
    from language.names import Names
    from language.words import words

    return Names(contract, words("en", contract.currency)).calculation(basis).replace("\u00a0", " ")

D = Decimal
CARD = "    - {id: card, type: rate_card, metric: attendance, price: 1000, cap: 50000}"


def contract_with(mechanisms: str, caps: str = "    total: 60000", payers: str = "    - {party: city, share: 1}",
                  extra_parties: str = "", extra_metrics: str = ""):
    text = (MINIMAL.replace(CARD, mechanisms).replace("    total: 60000", caps)
            .replace("    - {party: city, share: 1}", payers).replace("amendments:", "x_amendments:")
            .split("x_amendments:")[0])
    if extra_parties:
        text = text.replace("  - {id: provider,", extra_parties + "\n  - {id: provider,")
    if extra_metrics:
        text = text.replace("payments:\n", extra_metrics + "payments:\n", 1)
    return load_contract_text(text, "c.yaml").contract


BINARY = "\n".join(f"""  - id: {m}
    name: {m}
    kind: binary
    direction: higher_is_better
    window: {{start_months: 0, end_months: 12}}
    aggregation: last
    evaluation: {{design: fixed_baseline, baseline: 0.5, min_n: 5}}""" for m in ("grade", "work")) + "\n"


def outcomes(*rows: tuple[int, str, str, bool]) -> pd.DataFrame:
    """(participant, cohort, metric, achieved) rows."""
    return pd.DataFrame(rows, columns=["participant_id", "cohort", "metric", "achieved"])


def achievers(n: int, cohort: str = "c1", metric: str = "attendance", start: int = 0) -> list[tuple]:
    return [(start + i, cohort, metric, True) for i in range(n)]


def result(metric: str, cohort: str, **fields) -> EffectResult:
    base = dict(metric=metric, cohort=cohort, design="matched_comparison", direction="lower_is_better", n_treated=1000)
    return EffectResult(**(base | fields))


def run_of(results: list[EffectResult], version: int = 1, run_id: int = 1, as_of: date = date(2022, 6, 1),
           contract_id: str = "test-contract") -> EvaluationRun:
    return EvaluationRun(run_id, contract_id, version, as_of, False, "f" * 64, "test", results, {})


def owed(contract, frame: pd.DataFrame | None = None, results: list[EffectResult] | None = None):
    return owed_to_date(contract, run_of(results or []), frame if frame is not None else outcomes())


def amounts(items) -> list[tuple[str, str, Decimal]]:
    return [(o.cohort, o.payer, o.amount) for o in items]


# -- rate cards ---------------------------------------------------------------------------------------------------

def test_01_one_outcome_priced_per_achiever() -> None:
    c = contract_with(CARD)
    assert amounts(owed(c, outcomes(*achievers(3)))) == [("c1", "city", D("3000.00")), ("c2", "city", D("0.00"))]


def test_02_zero_outcomes_pay_nothing() -> None:
    c = contract_with(CARD)
    assert [o.amount for o in owed(c, outcomes(*[(i, "c1", "attendance", False) for i in range(5)]))] == [D("0.00")] * 2


def test_03_every_outcome_achieved() -> None:
    c = contract_with(CARD)
    assert owed(c, outcomes(*achievers(40), *achievers(9, "c2", start=100)))[1].amount == D("9000.00")


SEVERAL = """    - id: card
      type: rate_card
      outcomes: [{metric: attendance, price: 1000}, {metric: grade, price: 600}, {metric: work, price: 300}]
      max_outcomes_per_participant: MOST
EXTRA"""


def _several(most: int = 3, extra: str = "") -> object:
    return contract_with(SEVERAL.replace("MOST", str(most)).replace("EXTRA", extra), extra_metrics=BINARY)


def test_04_several_outcomes_per_participant() -> None:
    frame = outcomes((1, "c1", "attendance", True), (1, "c1", "grade", True), (2, "c1", "work", True))
    assert owed(_several(), frame)[0].amount == D("1900.00")


def test_05_at_most_n_outcomes_the_highest_priced_first() -> None:
    frame = outcomes((1, "c1", "attendance", True), (1, "c1", "grade", True), (1, "c1", "work", True))
    line = owed(_several(most=2), frame)[0]
    assert line.amount == D("1600.00") and line.basis["not_paid"]["over_max_per_participant"] == 1


def test_06_exclusive_outcomes_pay_the_higher() -> None:
    frame = outcomes((1, "c1", "attendance", True), (1, "c1", "grade", True), (1, "c1", "work", True),
                     (2, "c1", "grade", True))
    line = owed(_several(extra="      exclusive: [[attendance, grade]]"), frame)[0]
    assert line.amount == D("1300.00") + D("600.00")  # participant 1: attendance, not grade, plus work; participant 2: grade
    assert line.basis["not_paid"]["exclusive"] == 1


def test_07_cap_per_participant_says_how_much_it_removed() -> None:
    frame = outcomes((1, "c1", "attendance", True), (1, "c1", "grade", True), (2, "c1", "grade", True))
    c = _several(extra="      cap_per_participant: 1200")
    line = owed(c, frame)[0]
    assert line.amount == D("1800.00")
    assert line.basis["caps"] == [{"cap": "per_participant", "limit": "1200", "participants": 1, "reduced_by": "400"}]
    assert english_basis(c, line.basis).endswith("; cap per participant (SEK 1,200.00) reduced it by SEK 400.00")


def test_08_cap_per_cohort() -> None:
    c = contract_with("    - {id: card, type: rate_card, metric: attendance, price: 1000, cap_per_cohort: 7500}")
    line = owed(c, outcomes(*achievers(10)))[0]
    assert line.amount == D("7500.00") and line.basis["caps"][-1]["reduced_by"] == "2500"


def test_09_mechanism_cap_is_shared_across_cohorts_in_order() -> None:
    c = contract_with("    - {id: card, type: rate_card, metric: attendance, price: 1000, cap: 8000}")
    items = owed(c, outcomes(*achievers(6), *achievers(5, "c2", start=100)))
    assert amounts(items) == [("c1", "city", D("6000.00")), ("c2", "city", D("2000.00"))]
    assert items[1].basis["caps"] == [{"cap": "mechanism", "of": "card", "limit": "8000", "reduced_by": "3000"}]


def test_10_contract_total_cap_across_mechanisms() -> None:
    mechanisms = ("    - {id: card, type: rate_card, metric: attendance, price: 1000}\n"
                  "    - {id: bonus, type: milestone, metric: exclusion, amount: 500}")
    c = contract_with(mechanisms, caps="    total: 4000")
    frame = outcomes(*achievers(3), *[(i, "c1", "exclusion", True) for i in range(4)])
    items = owed(c, frame)
    assert [(o.mechanism, o.cohort, o.amount) for o in items] == [
        ("card", "c1", D("3000.00")), ("card", "c2", D("0.00")), ("bonus", "c1", D("1000.00")), ("bonus", "c2", D("0.00"))]
    assert items[2].basis["caps"] == [{"cap": "contract_total", "limit": "4000", "reduced_by": "1000"}]
    assert "cap for the whole contract (SEK 4,000.00) reduced it by SEK 1,000.00" in english_basis(c, items[2].basis)


def test_11_rounding_boundaries_half_up_once() -> None:
    half = contract_with("    - {id: card, type: rate_card, metric: attendance, price: 0.005}")
    below = contract_with("    - {id: card, type: rate_card, metric: attendance, price: 0.004}")
    assert owed(half, outcomes(*achievers(1)))[0].amount == D("0.01")
    assert owed(below, outcomes(*achievers(1)))[0].amount == D("0.00")
    assert owed(half, outcomes(*achievers(3)))[0].amount == D("0.02")  # 0.015 rounds once, not three times 0.01


def test_12_fractions_of_an_ore_add_exactly() -> None:
    c = contract_with("    - {id: card, type: rate_card, metric: attendance, price: 1000.125}")
    assert owed(c, outcomes(*achievers(2)))[0].amount == D("2000.25")


def test_13_two_payers_by_largest_remainder() -> None:
    parties = "  - {id: region, name: Region, role: payer}"
    c = contract_with("    - {id: card, type: rate_card, metric: attendance, price: 1000.01}",
                      payers="    - {party: city, share: 0.6}\n    - {party: region, share: 0.4}", extra_parties=parties)
    assert amounts(owed(c, outcomes(*achievers(1))))[:2] == [("c1", "city", D("600.01")), ("c1", "region", D("400.00"))]


def test_14_three_payers_never_lose_an_ore() -> None:
    parties = "  - {id: region, name: Region, role: payer}\n  - {id: state, name: State, role: payer}"
    c = contract_with("    - {id: card, type: rate_card, metric: attendance, price: 100}",
                      payers="    - {party: city, share: 0.333}\n    - {party: region, share: 0.333}\n"
                             "    - {party: state, share: 0.334}", extra_parties=parties)
    assert [o.amount for o in owed(c, outcomes(*achievers(1)))[:3]] == [D("33.30"), D("33.30"), D("33.40")]


def test_15_payer_cap() -> None:
    parties = "  - {id: region, name: Region, role: payer}"
    c = contract_with(CARD, caps="    total: 60000\n    per_payer: {city: 500}",
                      payers="    - {party: city, share: 0.6}\n    - {party: region, share: 0.4}", extra_parties=parties)
    items = owed(c, outcomes(*achievers(1)))
    assert amounts(items)[:2] == [("c1", "city", D("500.00")), ("c1", "region", D("400.00"))]
    assert items[0].basis["caps"] == [{"cap": "payer", "of": "city", "limit": "500", "reduced_by": "100.00"}]
    assert "caps" not in items[1].basis  # a payer's cap is written on that payer's lines alone
    payer_name = next(p.name for p in c.parties if p.id == "city")
    assert f"cap of outcome payer {payer_name} (SEK 500.00) reduced it by SEK 100.00" in english_basis(c, items[0].basis)


def test_16_milestone_with_a_cap() -> None:
    c = contract_with("    - {id: done, type: milestone, metric: exclusion, amount: 2500, cap: 7000}")
    assert owed(c, outcomes(*[(i, "c1", "exclusion", True) for i in range(4)]))[0].amount == D("7000.00")


# -- comparison thresholds and savings ----------------------------------------------------------------------------

THRESHOLD = ("    - {id: card, type: comparison_threshold, metric: exclusion, cohort_threshold: 0.10, "
             "overall_threshold: 0.075, price_per_unit: 2000}")


def test_17_a_cohort_reaching_the_threshold() -> None:
    c = contract_with(THRESHOLD, caps="    total: 10000000")
    r = [result("exclusion", "c1", estimate=-0.12, counterfactual_mean=1.0, n_treated=900)]
    line = owed(c, results=r)[0]
    assert line.amount == D("216000.00")
    assert line.basis["trail"] == {"code": "payments.threshold_reached", "params": {
        "relative": "0.120000", "threshold": "0.10", "price": "2000", "improvement": "0.120000", "participants": 900,
        "amount": "216000.000000"}}
    assert [t.replace("\u00a0", " ") for t in english([line.basis["trail"]])] == [
        "relative improvement 12.0% against threshold 10.0%: reached; SEK 2,000.00 per unit × 0.120000 improvement "
        "× 900 participants = SEK 216,000.00"]


def test_18_a_cohort_below_the_threshold() -> None:
    c = contract_with(THRESHOLD, caps="    total: 10000000")
    assert owed(c, results=[result("exclusion", "c1", estimate=-0.05, counterfactual_mean=1.0)])[0].amount == D("0.00")


def test_19_the_overall_trigger_never_pays_twice() -> None:
    c = contract_with(THRESHOLD, caps="    total: 10000000")
    r = [result("exclusion", "c1", estimate=-0.05, counterfactual_mean=1.0),
         result("exclusion", "c2", estimate=-0.12, counterfactual_mean=1.0),
         result("exclusion", "all", estimate=-0.085, counterfactual_mean=1.0, n_treated=2000)]
    items = owed(c, results=r)
    assert [o.amount for o in items] == [D("0.00"), D("240000.00"), D("100000.00")]
    assert sum(o.amount for o in items) == D("2000") * D("0.085") * 2000


def test_20_significance_required() -> None:
    text = THRESHOLD.replace("}", ", require_significance: true}")
    c = contract_with(text, caps="    total: 10000000")
    r = [result("exclusion", "c1", estimate=-0.12, counterfactual_mean=1.0, p_value=0.2)]
    assert owed(c, results=r)[0].amount == D("0.00")


def test_21_a_negative_effect_pays_nothing() -> None:
    c = contract_with(THRESHOLD, caps="    total: 10000000")
    assert owed(c, results=[result("exclusion", "c1", estimate=0.08, counterfactual_mean=1.0)])[0].amount == D("0.00")


SAVINGS = ("    - {id: card, type: savings_share, metric: days, unit_value: 5000, repay_up_to: 10000000, "
           "share_above: 0.5{cap}}")
DAYS = """  - id: days
    name: Care days
    kind: count
    direction: lower_is_better
    window: {start_months: 0, end_months: 12}
    aggregation: sum
    evaluation: {design: fixed_baseline, baseline: 120}
"""


@pytest.mark.parametrize("case, saved, cap, expected", [
    ("22 below the principal: one-for-one", "1.3", "", D("6500000.00")),
    ("23 above it: half of the rest, capped", "3", ", cap: 12000000", D("12000000.00")),
    ("24 a negative effect: nothing", "-2", "", D("0.00")),
    ("25 exactly the principal", "2", "", D("10000000.00")),
    ("26 above it, under the cap", "2.5", ", cap: 12000000", D("11250000.00")),
])
def test_savings_share(case: str, saved: str, cap: str, expected: Decimal) -> None:
    c = contract_with(SAVINGS.replace("{cap}", cap), caps="    total: 20000000", extra_metrics=DAYS)
    r = [result("days", "all", estimate=-float(saved), counterfactual_mean=120.0, design="fixed_baseline")]
    assert owed(c, results=r)[0].amount == expected


# -- money --------------------------------------------------------------------------------------------------------

def test_27_rounding_is_half_up_to_the_minor_unit() -> None:
    assert round_money(D("2.675"), "SEK") == D("2.68")  # a float would give 2.67
    assert round_money(D("-0.005"), "SEK") == D("-0.01")
    assert round_money(D("1234.5"), "JPY") == D("1235")
    with pytest.raises(TypeError, match="amounts must be Decimal, not float"):
        round_money(2.675, "SEK")  # type: ignore[arg-type]


@given(st.integers(0, 10**12), st.lists(st.integers(0, 1000), min_size=0, max_size=5))
@settings(max_examples=300, deadline=None)
def test_property_split_adds_up_exactly(cents: int, cuts: list[int]) -> None:
    amount = D(cents) / 100
    edges = sorted(cuts)
    shares = [D(b - a) / 1000 for a, b in zip([0] + edges, edges + [1000])]
    parts = split(amount, shares, "SEK")
    assert sum(parts) == amount and all(p >= 0 for p in parts)
    assert all(abs(p - amount * s) < D("0.01") for p, s in zip(parts, shares))


@given(st.lists(st.tuples(st.integers(0, 30), st.sampled_from(["attendance", "grade", "work"]),
                          st.sampled_from(["c1", "c2"])), max_size=80),
       st.integers(1, 3), st.lists(st.integers(0, 30000), min_size=3, max_size=3))
@settings(max_examples=150, deadline=None)
def test_property_no_cap_is_ever_exceeded(rows, most, caps) -> None:
    cap_pp, cap_cohort, cap = sorted(caps)  # each cap within the one that contains it, as the contract checks demand
    extra = f"      cap_per_participant: {cap_pp}\n      cap_per_cohort: {cap_cohort}\n      cap: {cap}"
    c = _several(most=most, extra=extra)
    frame = outcomes(*[(p, cohort if p % 2 else "c1", m, True) for p, m, cohort in rows])
    frame["cohort"] = frame["participant_id"].map(lambda p: "c1" if p % 2 == 0 else "c2")
    items = owed(c, frame)
    assert all(o.amount <= cap_cohort for o in items)
    assert sum(o.amount for o in items) <= cap
    per_person = frame.drop_duplicates(["participant_id", "metric"]).groupby("participant_id").size()
    assert sum(o.amount for o in items) <= min(cap_pp, 1900) * len(per_person) + D(0)
    assert items == owed(c, frame)  # the same evidence, the same amounts: recalculation is idempotent


# -- the ledger -----------------------------------------------------------------------------------------------------

def _store_run(engine, run_id: int, version: int, achieved: list[tuple[int, str]], as_of: str = "2022-06-01",
               interim: bool = False, results: list[EffectResult] | None = None) -> EvaluationRun:
    """A stored run whose per-participant outcomes are ``achieved`` (participant, cohort) on attendance."""
    from store.tables import ParticipantRow

    with engine.begin() as conn:
        conn.execute(sa.insert(EvaluationRunRow), {
            "id": run_id, "contract_id": "test-contract", "contract_version": version, "as_of": date.fromisoformat(as_of),
            "include_unverified": interim, "inputs_fingerprint": "x", "parameters": {}, "code_version": "t",
            "results": {"results": [r.to_dict() for r in results or []], "coverage": {}}, "created_by": "t"})
        have = set(conn.execute(sa.select(ParticipantRow.id)).scalars())
        if not have:
            batch = conn.exec_driver_sql(
                "INSERT INTO import_batches (contract_id, kind, filename, sha256, rows, summary, created_at, created_by)"
                " VALUES ('test-contract', 'participants', 'p', 'p', 0, '{}', '2022-01-01', 't') RETURNING id").scalar()
            conn.execute(sa.insert(ParticipantRow), [{"id": i, "contract_id": "test-contract", "pseudonym": f"{i:064d}",
                                                      "attributes": {}, "batch_id": batch} for i in range(1, 101)])
        for participant, cohort in achieved:
            conn.execute(sa.insert(EvaluationOutcomeRow), {"run_id": run_id, "metric": "attendance",
                                                           "participant_id": participant, "cohort": cohort,
                                                           "value": 0.95, "achieved": True})
    return run_of(results or [], version=version, run_id=run_id, as_of=date.fromisoformat(as_of))


def test_28_ledger_is_idempotent_adjusts_and_never_edits(engine) -> None:
    stored = stored_minimal(engine)  # version 2 from 2021-06-01: price 1200, mechanism cap 50000
    first = calculate(engine, stored, _store_run(engine, 1, 2, [(i, "c1") for i in range(1, 11)] + [(50, "c2")]))
    assert [(e["cohort"], e["kind"], e["amount"], e["period"]) for e in first] == [
        ("c1", "calculation", D("12000.00"), "2022-Q3"), ("c2", "calculation", D("1200.00"), "2022-Q3")]
    counts = row_counts(engine)
    assert calculate(engine, stored, run_of([], version=2, run_id=1)) == [] and row_counts(engine) == counts
    corrected = calculate(engine, stored, _store_run(engine, 2, 2, [(i, "c1") for i in range(1, 9)] + [(50, "c2")]))
    assert [(e["cohort"], e["kind"], e["amount"]) for e in corrected] == [("c1", "adjustment", D("-2400.00"))]
    assert list(read_ledger(engine, "test-contract")["amount"]) == [D("12000.00"), D("1200.00"), D("-2400.00")]
    assert verify_chain(engine, "test-contract").ok


def test_29_a_rejected_amount_returns_only_with_a_new_evaluation(engine) -> None:
    stored = stored_minimal(engine)
    calculate(engine, stored, _store_run(engine, 1, 2, [(1, "c1"), (2, "c1")]))
    take_step(engine, "test-contract", [1], "rejected", "payer:anna", note="two pupils moved school")
    assert calculate(engine, stored, run_of([], version=2, run_id=1)) == []
    again = calculate(engine, stored, _store_run(engine, 2, 2, [(1, "c1")]))
    assert [(e["cohort"], e["kind"], e["amount"]) for e in again] == [("c1", "calculation", D("1200.00"))]


def test_30_steps_go_in_order_each_once_with_who_and_when(engine) -> None:
    stored = stored_minimal(engine)
    calculate(engine, stored, _store_run(engine, 1, 2, [(1, "c1"), (60, "c2")]))
    with pytest.raises(StepRefused, match="entry 1 is calculated; it can become approved or rejected, not paid"):
        take_step(engine, "test-contract", [1], "paid", "payer:anna")
    take_step(engine, "test-contract", [1, 2], "approved", "payer:anna", "evidence read", acknowledged=ALL_FLAGS)
    with pytest.raises(StepRefused, match="entry 1 is approved; it can become invoiced or rejected, not approved"):
        take_step(engine, "test-contract", [1], "approved", "payer:bo", "evidence read", acknowledged=ALL_FLAGS)
    take_step(engine, "test-contract", [1], "invoiced", "provider:cy")
    with pytest.raises(StepRefused, match="entry 1 was approved by payer:anna, who cannot also mark it paid"):
        take_step(engine, "test-contract", [1], "paid", "payer:anna")
    steps = take_step(engine, "test-contract", [1], "paid", "payer:bo")
    assert steps[0]["by"] == "payer:bo" and steps[0]["at"].endswith("Z")
    assert current_status(engine, "test-contract") == {1: "paid", 2: "approved"}
    with pytest.raises(StepRefused, match="a rejection needs a reason"):
        take_step(engine, "test-contract", [2], "rejected", "payer:anna")
    take_step(engine, "test-contract", [2], "rejected", "payer:anna", note="wrong cohort")  # a note among none
    assert current_status(engine, "test-contract")[2] == "rejected"
    with pytest.raises(StepRefused, match="no entry 9"):
        take_step(engine, "test-contract", [9], "approved", "payer:anna", "evidence read", acknowledged=ALL_FLAGS)
    assert verify_chain(engine, "test-contract").ok


ENTRY_FIELDS = ["amount", "period", "mechanism", "payer", "cohort", "kind", "currency", "basis", "created_at",
                "created_by", "contract_version", "prev_hash", "hash"]


@pytest.mark.parametrize("field", ENTRY_FIELDS)
def test_31_verify_detects_a_change_to_any_field(engine, field: str) -> None:
    stored = stored_minimal(engine)
    calculate(engine, stored, _store_run(engine, 1, 2, [(1, "c1"), (2, "c1")]))
    take_step(engine, "test-contract", [1], "approved", "payer:anna", "evidence read", acknowledged=ALL_FLAGS)
    values = {"amount": "'1.00'", "basis": "'{}'", "contract_version": "1", "prev_hash": "'" + "1" * 64 + "'",
              "hash": "'" + "2" * 64 + "'"}
    with engine.begin() as conn:
        conn.execute(sa.text(f"UPDATE ledger_entries SET {field} = {values.get(field, chr(39) + 'x' + chr(39))} WHERE seq = 1"))
    check = verify_chain(engine, "test-contract")
    assert not check.ok and check.broken_at == 1


@pytest.mark.parametrize("field, value", [("status", "'paid'"), ("by", "'mallory'"), ("at", "'x'"), ("note", "'x'"),
                                          ("entry_seq", "2")])
def test_32_verify_detects_a_changed_step(engine, field: str, value: str) -> None:
    stored = stored_minimal(engine)
    calculate(engine, stored, _store_run(engine, 1, 2, [(1, "c1"), (60, "c2")]))
    take_step(engine, "test-contract", [1], "approved", "payer:anna", "evidence read", acknowledged=ALL_FLAGS)
    with engine.begin() as conn:
        conn.execute(sa.text(f"UPDATE ledger_steps SET {field} = {value} WHERE seq = 1"))
    check = verify_chain(engine, "test-contract")
    assert (check.ok, english([check.reason])) == (False, ["the content of step 1 does not match its hash"])


def test_33_verify_detects_a_removed_entry(engine) -> None:
    stored = stored_minimal(engine)
    calculate(engine, stored, _store_run(engine, 1, 2, [(1, "c1"), (60, "c2")]))
    with engine.begin() as conn:
        conn.execute(sa.delete(LedgerEntryRow).where(LedgerEntryRow.seq == 1))
    check = verify_chain(engine, "test-contract")
    assert (check.ok, check.broken_at, english([check.reason])) == (False, 2, ["expected entry 1 here, found entry 2"])


def test_34_a_run_of_another_version_or_contract_or_an_interim_view_is_refused(engine) -> None:
    stored = stored_minimal(engine)
    _store_run(engine, 1, 1, [(1, "c1")])
    _store_run(engine, 2, 2, [(1, "c1")], interim=True)
    before = row_counts(engine)
    with pytest.raises(PaymentError, match=r"evaluation run 1 used contract version 1, but version 2 \(Price raised\) "
                                           r"is in effect on its as-of date 2022-06-01; evaluate again before paying"):
        calculate(engine, stored, run_of([], version=1, run_id=1))
    with pytest.raises(PaymentError, match="evaluation run 1 belongs to contract 'other', not 'test-contract'"):
        check_run(stored, run_of([], version=2, contract_id="other"))
    interim = EvaluationRun(2, "test-contract", 2, date(2022, 6, 1), True, "f", "t", [], {})
    with pytest.raises(PaymentError, match="evaluation run 2 includes unverified measurements"):
        calculate(engine, stored, interim)
    assert row_counts(engine) == before


def test_35_periods_follow_the_schedule_and_the_lag() -> None:
    assert [period_of(date(2021, 8, 15), f) for f in ("monthly", "quarterly", "half_yearly", "yearly")] == [
        "2021-08", "2021-Q3", "2021-H2", "2021"]
    contract = load_contract_text(MINIMAL, "c.yaml").contract  # quarterly, 30 days' lag
    assert payable_period(contract, date(2021, 9, 10)) == "2021-Q4"


# -- investors ------------------------------------------------------------------------------------------------------

INVESTORS = MINIMAL.replace("  - {id: fund, name: Fund, role: investor}",
                            "  - {id: fund, name: Fund, role: investor}\n  - {id: trust, name: Trust, role: investor}")


def _investment(text: str):
    return load_contract_text(INVESTORS.replace("""  principal: 40000
  commitments:
    - {party: fund, amount: 40000}
  drawdown_date: 2020-01-01""", text), "c.yaml").contract


def test_36_xirr() -> None:
    assert xirr([(date(2020, 1, 1), D(-100)), (date(2020, 12, 31), D(110))]) == D("0.1000")
    assert xirr([(date(2020, 1, 1), D(-100))]) is None


def test_37_a_loss_like_norrkopings() -> None:
    c = _investment("""  principal: 10000000
  commitments:
    - {party: fund, amount: 10000000}
  drawdown_date: 2016-01-01""")
    [all_, fund] = investor_returns(c, [(date(2019, 12, 31), D("6500000.00"))])
    assert (all_.distributed, all_.net, all_.multiple) == (D("6500000.00"), D("-3500000.00"), D("0.6500"))
    assert all_.irr is not None and all_.irr < 0 and fund.net == all_.net


def test_38_waterfall_caps_the_return_and_the_payer_keeps_the_rest() -> None:
    c = _investment("""  principal: 100
  commitments:
    - {party: fund, amount: 60}
    - {party: trust, amount: 40}
  drawdowns: [{date: 2020-01-01, amount: 100}]
  waterfall: {return_cap_irr: 0.10}""")
    flows = run_waterfall(c, [(date(2020, 12, 31), D("150.00"))])
    assert flows.distributions == [(date(2020, 12, 31), D("110.00"))] and flows.retained == D("40.00")
    [all_, fund, trust] = investor_returns(c, [(date(2020, 12, 31), D("150.00"))])
    assert (all_.irr, fund.distributed, trust.distributed) == (D("0.1000"), D("66.00"), D("44.00"))


def test_39_waterfall_shares_above_the_cap() -> None:
    c = _investment("""  principal: 100
  commitments:
    - {party: fund, amount: 60}
    - {party: trust, amount: 40}
  drawdowns: [{date: 2020-01-01, amount: 100}]
  waterfall: {return_cap_irr: 0.10, above_cap: shared, investor_share_above_cap: 0.5}""")
    flows = run_waterfall(c, [(date(2020, 12, 31), D("150.00"))])
    assert flows.distributions[0][1] == D("130.00") and flows.retained == D("20.00")


# -- the scan -------------------------------------------------------------------------------------------------------

PAYMENT_CODE = sorted((Path(__file__).resolve().parent.parent / "payments").glob("*.py"))


@pytest.mark.parametrize("path", PAYMENT_CODE, ids=lambda p: p.name)
def test_no_float_in_payment_code(path: Path) -> None:
    """No float() call, float literal, float dtype or math module anywhere in payments/: amounts are Decimal
    (or whole minor units as integers); statistical estimates enter only through quantity()."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    offences = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "float":
            offences.append(f"line {node.lineno}: float()")
        if isinstance(node, ast.Constant) and isinstance(node.value, float):
            offences.append(f"line {node.lineno}: float literal {node.value}")
        if isinstance(node, ast.Attribute) and node.attr.startswith("float"):
            offences.append(f"line {node.lineno}: .{node.attr}")
        if isinstance(node, ast.keyword) and node.arg == "dtype" and isinstance(node.value, ast.Name) \
                and node.value.id == "float":
            offences.append(f"line {node.lineno}: dtype=float")
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            names = [a.name for a in node.names] + ([node.module] if isinstance(node, ast.ImportFrom) else [])
            if "math" in names:
                offences.append(f"line {node.lineno}: imports math")
    assert offences == []


def test_quantity_is_exact_for_six_decimals() -> None:
    assert quantity(0.1234567) == D("0.123457") and quantity(-1.3) == D("-1.300000")


def test_the_store_refuses_a_float_amount(engine) -> None:
    stored_minimal(engine)
    _store_run(engine, 1, 2, [])
    with pytest.raises(Exception, match="amounts must be Decimal, not float"):
        with engine.begin() as conn:
            conn.execute(sa.insert(LedgerEntryRow), {
                "contract_id": "test-contract", "seq": 1, "period": "2022", "mechanism": "m", "payer": "city",
                "cohort": "c1", "kind": "calculation", "amount": 1.5, "currency": "SEK", "evaluation_run_id": 1,
                "contract_version": 1, "basis": {}, "created_at": "x", "created_by": "t", "prev_hash": "0", "hash": "1"})


@given(st.sampled_from(["seq", "period", "mechanism", "payer", "cohort", "kind", "amount", "currency",
                        "evaluation_run_id", "contract_version", "basis", "created_at", "created_by", "prev_hash"]),
       st.integers(1, 3), st.text(min_size=1, max_size=8))
@settings(max_examples=200, deadline=None)
def test_property_any_single_field_change_breaks_the_hash(field: str, which: int, text: str) -> None:
    entry = {"contract_id": "c", "seq": which, "period": "2022-Q3", "mechanism": "card", "payer": "city", "cohort": "c1",
             "kind": "calculation", "amount": D("1200.00"), "currency": "SEK", "evaluation_run_id": 1,
             "contract_version": 2, "basis": {"achieved": 1}, "created_at": "2026-01-01T00:00:00.000000Z",
             "created_by": "t", "prev_hash": "0" * 64}
    changed = dict(entry)
    if field == "amount":
        changed[field] = entry["amount"] + D(len(text)) / 100
    elif field in ("seq", "evaluation_run_id", "contract_version"):
        changed[field] = entry[field] + len(text)
    elif field == "basis":
        changed[field] = {"achieved": text}
    else:
        changed[field] = entry[field] + text
    assert entry_hash(changed) != entry_hash(entry)


def test_a_random_portfolio_recalculates_to_the_same_amounts() -> None:
    rng = random.Random(9)
    c = _several(most=2, extra="      exclusive: [[grade, work]]\n      cap_per_participant: 1500")
    frame = outcomes(*[(rng.randint(0, 500), rng.choice(["c1", "c2"]), rng.choice(["attendance", "grade", "work"]), True)
                       for _ in range(3000)])
    frame = frame.drop_duplicates(["participant_id", "metric"])
    frame["cohort"] = frame["participant_id"].map(lambda p: "c1" if p < 250 else "c2")
    first, second = owed(c, frame), owed(c, frame.sample(frac=1, random_state=3))
    assert amounts(first) == amounts(second)  # row order of the evidence does not matter


def test_csv_of_the_schedule_is_safe(tmp_path: Path) -> None:
    from api.spreadsheets import MONEY, Column, Sheet, write_csv

    sheet = Sheet("s", [Column("period", "Period"), Column("payer", "Payer"), Column("paid", "Paid", MONEY)],
                  [{"period": "2022-Q3", "payer": "=cmd|' /C calc'!A0", "paid": D("1200.00")}])
    text = write_csv(sheet, tmp_path / "s.csv", "plain").read_text(encoding="utf-8")
    assert list(csv.reader(text.splitlines())) == [["period", "payer", "paid"],
                                                   ["2022-Q3", "'=cmd|' /C calc'!A0", "1200.00"]]
    text = write_csv(sheet, tmp_path / "s.csv", "sv", "SEK").read_text(encoding="utf-8-sig")
    assert list(csv.reader(text.splitlines(), delimiter=";")) == [["Period", "Payer", "Paid"],
                                                                  ["2022-Q3", "'=cmd|' /C calc'!A0", "1200,00"]]
