"""Payments: Decimal to the öre, mechanisms, caps, the payer split, and the hash-chained ledger."""

from __future__ import annotations

import ast
import random
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa

from contracts import load_contract_text
from evaluation.result import EffectResult
from evaluation.run import EvaluationRun
from payments.calculate import calculate, owed_to_date, payable_period, period_of
from payments.ledger import read_ledger, verify_chain
from payments.mechanisms import comparison_threshold, savings_share
from payments.money import quantity, round_money, split
from payments.returns import investor_result, xirr
from store.tables import LedgerEntryRow
from tests.helpers import MINIMAL, row_counts, stored_minimal

D = Decimal


def test_rounding_is_half_up_to_the_minor_unit() -> None:
    assert round_money(D("2.675"), "SEK") == D("2.68")  # a float would give 2.67
    assert round_money(D("0.005"), "GBP") == D("0.01")
    assert round_money(D("-0.005"), "SEK") == D("-0.01")
    assert round_money(D("1234.5"), "JPY") == D("1235")
    with pytest.raises(TypeError, match="amounts must be Decimal, not float"):
        round_money(2.675, "SEK")  # type: ignore[arg-type]


def test_split_loses_and_invents_nothing() -> None:
    assert split(D("100.00"), [D("0.6"), D("0.4")], "SEK") == [D("60.00"), D("40.00")]
    assert split(D("0.01"), [D("0.6"), D("0.4")], "SEK") == [D("0.01"), D("0.00")]
    assert split(D("10.00"), [D("0.5"), D("0.25"), D("0.25")], "SEK") == [D("5.00"), D("2.50"), D("2.50")]
    # 0.015, 0.0075, 0.0075: all rounded down to 0.01, 0.00, 0.00; the two units left go to the largest remainders.
    assert split(D("0.03"), [D("0.5"), D("0.25"), D("0.25")], "SEK") == [D("0.01"), D("0.01"), D("0.01")]
    rng = random.Random(4)
    for _ in range(500):
        amount = D(rng.randint(0, 10**9)) / 100
        cuts = sorted(rng.randint(0, 1000) for _ in range(rng.randint(0, 4)))
        shares = [D(b - a) / 1000 for a, b in zip([0] + cuts, cuts + [1000])]
        parts = split(amount, shares, "SEK")
        assert sum(parts) == amount and all(p >= 0 for p in parts)
        assert all(abs(p - amount * s) < D("0.01") for p, s in zip(parts, shares))
    with pytest.raises(ValueError, match="shares must add up to 1, got 0.9"):
        split(D("1.00"), [D("0.9")], "SEK")


def test_periods_follow_the_schedule() -> None:
    day = date(2021, 8, 15)
    assert [period_of(day, f) for f in ("monthly", "quarterly", "half_yearly", "yearly")] == [
        "2021-08", "2021-Q3", "2021-H2", "2021"]
    contract = load_contract_text(MINIMAL, "c.yaml").contract  # quarterly, 30 days' lag
    assert payable_period(contract, date(2021, 9, 10)) == "2021-Q4"


def result(metric: str, cohort: str, **fields) -> EffectResult:
    base = dict(metric=metric, cohort=cohort, design="matched_comparison", direction="lower_is_better", n_treated=1000)
    return EffectResult(**(base | fields))


PETERBOROUGH = MINIMAL.replace(
    "    - {id: card, type: rate_card, metric: attendance, price: 1000, cap: 50000}",
    "    - {id: card, type: comparison_threshold, metric: exclusion, cohort_threshold: 0.10, overall_threshold: 0.075,"
    " price_per_unit: 2000}").replace("payments.mechanisms.card.price: 1200", "payments.mechanisms.card.price_per_unit: 2000")


def threshold_lines(results: dict[str, EffectResult], significance: bool = False):
    contract = load_contract_text(PETERBOROUGH, "c.yaml").contract
    mech = contract.payments.mechanisms[0].model_copy(update={"require_significance": significance})
    return comparison_threshold(mech, contract, lambda m, c: results.get(c))


def test_comparison_threshold_pays_a_cohort_that_reaches_it() -> None:
    lines = threshold_lines({
        "c1": result("exclusion", "c1", estimate=-0.05, counterfactual_mean=1.0, p_value=0.2),  # 5 %: below
        "c2": result("exclusion", "c2", estimate=-0.12, counterfactual_mean=1.0, p_value=0.01, n_treated=900),
        "all": result("exclusion", "all", estimate=-0.07, counterfactual_mean=1.0, n_treated=1900),  # 7 %: below 7.5 %
    })
    assert [(l.cohort, l.amount) for l in lines] == [("c1", D(0)), ("c2", D("2000") * D("0.120000") * 900), ("all", D(0))]
    assert lines[1].basis["explanation"] == (
        "relative improvement 12.0 % against threshold 10.0 %: reached; 2000 per unit × 0.120000 improvement "
        "× 900 participants = 216000.000000")


def test_overall_trigger_never_pays_the_same_improvement_twice() -> None:
    lines = threshold_lines({
        "c1": result("exclusion", "c1", estimate=-0.05, counterfactual_mean=1.0),
        "c2": result("exclusion", "c2", estimate=-0.12, counterfactual_mean=1.0),
        "all": result("exclusion", "all", estimate=-0.085, counterfactual_mean=1.0, n_treated=2000),
    })
    cohort_paid = D("2000") * D("0.12") * 1000
    assert lines[-1].amount == D("2000") * D("0.085") * 2000 - cohort_paid
    assert sum(l.amount for l in lines) == D("2000") * D("0.085") * 2000


def test_significance_can_be_required() -> None:
    lines = threshold_lines({"c2": result("exclusion", "c2", estimate=-0.12, counterfactual_mean=1.0, p_value=0.2)},
                            significance=True)
    assert lines[1].amount == 0 and lines[1].basis["explanation"].endswith("but not significant at 0.05: nothing due")


NORRKOPING = MINIMAL.replace(
    "    - {id: card, type: rate_card, metric: attendance, price: 1000, cap: 50000}",
    "    - {id: card, type: savings_share, metric: days, unit_value: 5000, repay_up_to: 10000000, share_above: 0.5}"
).replace("  - id: exclusion", """  - id: days
    name: Care days
    kind: count
    direction: lower_is_better
    window: {start_months: 0, end_months: 12}
    aggregation: sum
    evaluation: {design: fixed_baseline, baseline: 120}
  - id: exclusion""").replace("payments.mechanisms.card.price: 1200", "payments.mechanisms.card.unit_value: 5000")


@pytest.mark.parametrize("days_saved, expected", [
    ("1.3", D("6500000")),  # below the principal: repaid one-for-one
    ("3", D("10000000") + D("0.5") * D("5000000")),  # above: half of the savings beyond the principal
    ("-2", D("0")),  # worse than baseline: no savings
])
def test_savings_share(days_saved: str, expected: Decimal) -> None:
    contract = load_contract_text(NORRKOPING, "c.yaml").contract
    r = result("days", "all", estimate=-float(days_saved), counterfactual_mean=120.0, design="fixed_baseline")
    [line] = savings_share(contract.payments.mechanisms[0], contract, lambda m, c: r)
    assert line.amount == expected


def _run(contract_version: int, n_c1: int, n_c2: int, run_id: int = 1, as_of: date = date(2022, 6, 1)) -> EvaluationRun:
    results = [result("attendance", "c1", design="fixed_baseline", direction="higher_is_better", n_achieved=n_c1),
               result("attendance", "c2", design="fixed_baseline", direction="higher_is_better", n_achieved=n_c2)]
    return EvaluationRun(run_id, "test-contract", contract_version, as_of, False, "f" * 64, "test", results, {})


def _insert_run(engine, run_id: int) -> None:
    with engine.begin() as conn:
        conn.execute(sa.text(
            "INSERT INTO evaluation_runs (id, contract_id, contract_version, as_of, include_unverified, "
            "inputs_fingerprint, parameters, code_version, results, created_at, created_by) VALUES "
            "(:id, 'test-contract', 2, '2022-06-01', :f, 'x', '{}', 'test', '{}', '2022-06-01', 'test')"),
            {"id": run_id, "f": False})


def test_caps_bite_in_order_and_say_by_how_much() -> None:
    contract = load_contract_text(MINIMAL, "c.yaml").versions[1].terms  # price 1200, mechanism cap 50000, total 60000
    owed = owed_to_date(contract, _run(2, 30, 20))
    assert [(o.cohort, o.amount) for o in owed] == [("c1", D("36000.00")), ("c2", D("14000.00"))]
    assert owed[1].basis["caps"] == [{"cap": "mechanism card", "limit": "50000", "reduced_by": "10000"}]


def test_ledger_is_idempotent_adjusts_and_never_edits(engine) -> None:
    stored = stored_minimal(engine)
    _insert_run(engine, 1)
    first = calculate(engine, stored, _run(2, 10, 5))
    assert [(e["cohort"], e["kind"], e["amount"], e["period"]) for e in first] == [
        ("c1", "calculation", D("12000.00"), "2022-Q3"), ("c2", "calculation", D("6000.00"), "2022-Q3")]
    counts = row_counts(engine)
    assert calculate(engine, stored, _run(2, 10, 5)) == [] and row_counts(engine) == counts

    _insert_run(engine, 2)
    corrected = calculate(engine, stored, _run(2, 8, 5, run_id=2))
    assert [(e["cohort"], e["kind"], e["amount"]) for e in corrected] == [("c1", "adjustment", D("-2400.00"))]
    ledger = read_ledger(engine, "test-contract")
    assert list(ledger["amount"]) == [D("12000.00"), D("6000.00"), D("-2400.00")]
    assert verify_chain(engine, "test-contract").ok


TAMPERING = [
    ("amount", "'12000.01'"), ("period", "'2022-Q4'"), ("mechanism", "'other'"), ("payer", "'someone'"),
    ("cohort", "'c2'"), ("kind", "'adjustment'"), ("currency", "'EUR'"), ("basis", "'{}'"),
    ("created_at", "'2000-01-01T00:00:00.000000Z'"), ("created_by", "'mallory'"), ("contract_version", "1"),
    ("prev_hash", "'" + "1" * 64 + "'"), ("hash", "'" + "2" * 64 + "'"),
]


@pytest.mark.parametrize("field, value", TAMPERING, ids=[t[0] for t in TAMPERING])
def test_verify_detects_a_change_to_any_field(engine, field: str, value: str) -> None:
    stored = stored_minimal(engine)
    _insert_run(engine, 1)
    calculate(engine, stored, _run(2, 10, 5))
    assert verify_chain(engine, "test-contract").ok
    with engine.begin() as conn:
        conn.execute(sa.text(f"UPDATE ledger_entries SET {field} = {value} WHERE seq = 1"))
    check = verify_chain(engine, "test-contract")
    assert not check.ok and check.broken_at == 1


def test_verify_detects_a_removed_entry(engine) -> None:
    stored = stored_minimal(engine)
    _insert_run(engine, 1)
    calculate(engine, stored, _run(2, 10, 5))
    with engine.begin() as conn:
        conn.execute(sa.delete(LedgerEntryRow).where(LedgerEntryRow.seq == 1))
    check = verify_chain(engine, "test-contract")
    assert (check.ok, check.broken_at, check.reason) == (False, 2, "expected entry 1 here, found entry 2")


def test_investor_returns() -> None:
    assert xirr([(date(2020, 1, 1), D(-100)), (date(2020, 12, 31), D(110))]) == D("0.1000")
    assert xirr([(date(2020, 1, 1), D(-100))]) is None
    contract = load_contract_text(MINIMAL, "c.yaml").contract
    import pandas as pd

    ledger = pd.DataFrame({"amount": [D("30000.00"), D("14000.00")], "period": ["2020-Q4", "2021-Q4"]})
    r = investor_result(contract, ledger)
    assert (r.repaid, r.net, r.multiple) == (D("44000.00"), D("4000.00"), D("1.1000"))
    flows = [(-40000, 0), (30000, 365), (14000, 730)]  # drawdown 2020-01-01; period ends 2020-12-31, 2021-12-31
    assert abs(sum(a / (1 + float(r.irr)) ** (d / 365) for a, d in flows)) < 5  # NPV at the IRR is zero (to 4 decimals)


def test_quantity_is_exact_for_six_decimals() -> None:
    assert quantity(0.1234567) == D("0.123457") and quantity(-1.3) == D("-1.300000")


PAYMENT_CODE = sorted((Path(__file__).resolve().parent.parent / "payments").glob("*.py"))


@pytest.mark.parametrize("path", PAYMENT_CODE, ids=lambda p: p.name)
def test_no_float_in_payment_code(path: Path) -> None:
    """No float() call and no float literal anywhere in payments/; estimates enter only through quantity()."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    offences = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "float":
            offences.append(f"line {node.lineno}: float()")
        if isinstance(node, ast.Constant) and isinstance(node.value, float):
            offences.append(f"line {node.lineno}: float literal {node.value}")
        if isinstance(node, ast.Import | ast.ImportFrom) and any(a.name in ("math", "numpy") for a in node.names):
            offences.append(f"line {node.lineno}: imports {', '.join(a.name for a in node.names)}")
        if isinstance(node, ast.ImportFrom) and node.module in ("math", "numpy"):
            offences.append(f"line {node.lineno}: imports from {node.module}")
    assert offences == []


def test_the_store_refuses_a_float_amount(engine) -> None:
    stored_minimal(engine)
    _insert_run(engine, 1)
    with pytest.raises(Exception, match="amounts must be Decimal, not float"):
        with engine.begin() as conn:
            conn.execute(sa.insert(LedgerEntryRow), {
                "contract_id": "test-contract", "seq": 1, "period": "2022", "mechanism": "m", "payer": "city",
                "cohort": "c1", "kind": "calculation", "amount": 1.5, "currency": "SEK", "evaluation_run_id": 1,
                "contract_version": 1, "basis": {}, "created_at": "x", "created_by": "t", "prev_hash": "0", "hash": "1"})
