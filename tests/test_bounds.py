"""Amounts within bounds: every amount in a contract file is at most 10^13 with at most 6 decimals, and every
calculation from there is exact or refuses in one line (no wrap-around, no OverflowError, no InvalidOperation)."""

from __future__ import annotations

import os
from decimal import Decimal, localcontext
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from contracts import ContractFileError, load_contract_text
from contracts.model import MAX_AMOUNT
from payments.calculate import PaymentError
from payments.money import AmountTooLarge, round_money, split
from tests import helpers
from tests.helpers import MINIMAL, english
from tests.test_payments import (DAYS, SAVINGS, THRESHOLD, achievers, contract_with, outcomes, owed, result)

D = Decimal
TOO_LARGE = "is out of range; an amount may be at most 10000000000000 (10^13) in the contract's currency"


# -- contract files ---------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("price, shown", [
    ("5e15", "'5e15'"),
    ("1e400", "'1e400'"),
    ("9" * 400, "9" * 77 + "..."),
    ("10000000000000.000001", "10000000000000.000001"),
])
def test_a_price_beyond_the_maximum_is_one_clear_line(price: str, shown: str) -> None:
    with pytest.raises(ContractFileError) as caught:
        load_contract_text(MINIMAL.replace("price: 1000", f"price: {price}", 1), "c.yaml")
    assert [str(p) for p in caught.value.problems] == [f"c.yaml:47: payments.mechanisms[0].price: {shown} {TOO_LARGE}"]


def test_the_maximum_itself_and_six_decimals_are_allowed_seven_are_not() -> None:
    at_most = load_contract_text(MINIMAL.replace("price: 1000", "price: 10000000000000", 1), "c.yaml")
    assert at_most.contract.payments.mechanisms[0].price == MAX_AMOUNT == D(10) ** 13
    six = load_contract_text(MINIMAL.replace("price: 1000", "price: 1000.123456", 1), "c.yaml")
    assert six.contract.payments.mechanisms[0].price == D("1000.123456")
    with pytest.raises(ContractFileError) as caught:
        load_contract_text(MINIMAL.replace("price: 1000", "price: 1000.1234567", 1), "c.yaml")
    assert str(caught.value) == ("c.yaml:47: payments.mechanisms[0].price: 1000.1234567 has too many decimals; an "
                                 "amount may have at most 6")


def test_caps_principal_and_commitments_are_bounded_too() -> None:
    text = (MINIMAL.replace("    total: 60000", "    total: 20000000000000")
            .replace("principal: 40000", "principal: 1e20").replace("{party: fund, amount: 40000}",
                                                                      "{party: fund, amount: 1e20}"))
    with pytest.raises(ContractFileError) as caught:
        load_contract_text(text, "c.yaml")
    assert [str(p) for p in caught.value.problems] == [
        f"c.yaml:49: payments.caps.total: 20000000000000 {TOO_LARGE}",
        f"c.yaml:51: investment.principal: '1e20' {TOO_LARGE}",
        f"c.yaml:53: investment.commitments[0].amount: '1e20' {TOO_LARGE}",
    ]


@pytest.mark.parametrize("price", ["5e15", "1e400", "9" * 400])
def test_validate_and_load_refuse_in_one_line_and_store_nothing(sib, tmp_path: Path, price: str) -> None:
    path = helpers.write(tmp_path, "big.yaml", MINIMAL.replace("price: 1000", f"price: {price}", 1))
    checked = sib("contract", "validate", path)
    assert checked.code == 1 and len(checked.err.splitlines()) == 1
    assert checked.err.startswith(f"{path}:47: payments.mechanisms[0].price: ") and TOO_LARGE in checked.err
    assert sib("init").code == 0
    before = helpers.snapshot(os.environ["DATABASE_URL"])
    loaded = sib("contract", "load", path)
    assert loaded.code == 1 and len(loaded.err.splitlines()) == 1 and TOO_LARGE in loaded.err
    assert helpers.snapshot(os.environ["DATABASE_URL"]) == before
    assert "No contracts yet" in sib("contract", "list").out


# -- rate cards and milestones: exact integer sums ------------------------------------------------------------------

NO_TOTAL = "    per_payer: {}"


@pytest.mark.parametrize("price", ["10000000000000", "9999999999999.99", "9999999999999.999999"])
def test_a_price_at_the_maximum_for_many_participants_sums_exactly(price: str) -> None:
    """5,000 participants at (nearly) 10^13: far beyond a 64-bit integer of minor units, summed exactly."""
    c = contract_with(f"    - {{id: card, type: rate_card, metric: attendance, price: {price}}}", caps=NO_TOTAL)
    items = owed(c, outcomes(*achievers(5000), *achievers(3, "c2", start=9000)))
    with localcontext() as exact:
        exact.prec = 60
        expected = sum([D(price)] * 5000, D(0))  # a Decimal sum, one price at a time
    assert [o.amount for o in items] == [round_money(expected, "SEK"), round_money(D(price) * 3, "SEK")]
    assert items[0].amount > 0  # no wrap-around to a negative amount


def test_a_sum_of_prices_that_fit_alone_but_not_together_does_not_wrap() -> None:
    """10^13 at hundredths is 10^15 minor units: one fits a 64-bit integer, 10,000 of them (10^19) do not."""
    c = contract_with("    - {id: card, type: rate_card, metric: attendance, price: 10000000000000, "
                      "cap_per_cohort: 10000000000000}", caps=NO_TOTAL)
    uncapped = contract_with("    - {id: card, type: rate_card, metric: attendance, price: 10000000000000}",
                             caps=NO_TOTAL)
    frame = outcomes(*achievers(10_000))
    assert owed(uncapped, frame)[0].amount == D("100000000000000000.00")
    line = owed(c, frame)[0]
    assert line.amount == MAX_AMOUNT
    assert line.basis["caps"] == [{"cap": "per_cohort", "limit": "10000000000000",
                                   "reduced_by": str(D(10) ** 17 - D(10) ** 13)}]


def test_per_participant_caps_and_exclusivity_still_hold_on_the_exact_path() -> None:
    mechanisms = ("    - id: card\n      type: rate_card\n"
                  "      outcomes: [{metric: attendance, price: 9999999999999.999999}, {metric: exclusion, "
                  "price: 9999999999999.999998}]\n      exclusive: [[attendance, exclusion]]\n"
                  "      cap_per_participant: 9999999999999.999997")
    c = contract_with(mechanisms, caps=NO_TOTAL)
    frame = outcomes(*achievers(3), *achievers(3, metric="exclusion"), *achievers(2, metric="exclusion", start=50))
    line = owed(c, frame)[0]
    assert line.amount == round_money(D("9999999999999.999997") * 5, "SEK")  # five participants, each capped
    assert line.basis["not_paid"] == {"exclusive": 3, "over_max_per_participant": 0}
    assert line.basis["caps"][0]["reduced_by"] == str(D("0.000002") * 3 + D("0.000001") * 2)


def test_a_milestone_at_the_maximum() -> None:
    c = contract_with("    - {id: done, type: milestone, metric: exclusion, amount: 10000000000000}", caps=NO_TOTAL)
    assert owed(c, outcomes(*achievers(2000, metric="exclusion")))[0].amount == D(2000) * MAX_AMOUNT


# -- amounts computed from an estimate ------------------------------------------------------------------------------

def test_a_threshold_payment_beyond_the_maximum_refuses_in_one_line() -> None:
    c = contract_with(THRESHOLD.replace("2000}", "10000000000000}"), caps=NO_TOTAL)
    r = [result("exclusion", "c1", estimate=-0.45, counterfactual_mean=1.0, n_treated=1000)]
    with pytest.raises(AmountTooLarge) as caught:
        owed(c, results=r)
    assert isinstance(caught.value, PaymentError)  # refused like any calculation that must not be made
    assert str(caught.value).replace("\u00a0", " ") == (
        "card (c1): the amount computed from the evaluation's estimate of exclusion, 4.500000E+15, would exceed the "
        "maximum of SEK 10,000,000,000,000.00; nothing was calculated: check that estimate")
    assert len(str(caught.value).splitlines()) == 1


def test_a_threshold_payment_at_the_maximum_is_paid() -> None:
    c = contract_with(THRESHOLD.replace("2000}", "10000000000000}"), caps=NO_TOTAL)
    r = [result("exclusion", "c1", estimate=-0.5, counterfactual_mean=1.0, n_treated=2)]
    assert owed(c, results=r)[0].amount == MAX_AMOUNT


def test_an_absurd_savings_estimate_refuses_and_a_non_finite_one_is_no_estimate() -> None:
    c = contract_with(SAVINGS.replace("{cap}", ""), caps=NO_TOTAL, extra_metrics=DAYS)
    with pytest.raises(AmountTooLarge, match=r"^card \(all\): the amount computed from the evaluation's estimate of "
                                             r"days, 5\.000000E\+306, would exceed the maximum"):
        owed(c, results=[result("days", "all", estimate=-1e300, counterfactual_mean=120.0)])
    for broken in (float("inf"), float("-inf"), float("nan")):
        line = owed(c, results=[result("days", "all", estimate=broken, counterfactual_mean=120.0)])[0]
        assert line.amount == D("0.00") and english([line.basis["trail"]]) == ["no effect estimate: nothing due"]


def test_rounding_and_splitting_never_run_out_of_digits() -> None:
    huge = D("123456789012345678901234567890.125")  # 33 digits: beyond Decimal's default 28
    assert round_money(huge, "SEK") == D("123456789012345678901234567890.13")
    parts = split(D("123456789012345678901234567890.13"), [D("0.333"), D("0.333"), D("0.334")], "SEK")
    assert parts == [D("41111110741111111074111111107.41"), D("41111110741111111074111111107.41"),
                     D("41234567530123456753012345675.31")]
    with localcontext() as exact:
        exact.prec = 60
        assert sum(parts) == D("123456789012345678901234567890.13")  # not an öre lost or invented
    with pytest.raises(ValueError, match="amounts must be finite"):
        round_money(D("Infinity"), "SEK")


@given(st.decimals(min_value=0, max_value=MAX_AMOUNT, places=6, allow_nan=False, allow_infinity=False),
       st.integers(0, 3000), st.integers(0, 40))
@settings(max_examples=40, deadline=None)
def test_property_per_outcome_sums_equal_a_decimal_sum(price: Decimal, n1: int, n2: int) -> None:
    """Any allowed price, any number of achievers: the amount is the exact Decimal sum, rounded once."""
    c = contract_with(f"    - {{id: card, type: rate_card, metric: attendance, price: {price}}}", caps=NO_TOTAL)
    items = owed(c, outcomes(*achievers(n1), *achievers(n2, "c2", start=5000)))
    with localcontext() as exact:
        exact.prec = 60
        expected = [sum([price] * n, D(0)) for n in (n1, n2)]
    assert [o.amount for o in items] == [round_money(e, "SEK") for e in expected]


def test_a_share_with_too_many_decimals_is_refused_in_one_line(sib, tmp_path: Path) -> None:
    """A share times an amount at the maximum must stay within Decimal's 28 digits: at most 10 decimals."""
    from tests.helpers import MINIMAL

    path = tmp_path / "share.yaml"
    path.write_text(MINIMAL.replace("- {party: city, share: 1}", "- {party: city, share: 0.12345678901}"))
    refused = sib("contract", "validate", path)
    assert refused.code == 1 and "0.12345678901 has too many decimals; a share may have at most 10" in refused.err
    path.write_text(MINIMAL.replace("- {party: city, share: 1}", "- {party: city, share: 1.0000000000}"))
    assert sib("contract", "validate", path).code == 0


def test_sums_of_long_amounts_lose_no_digit() -> None:
    """Savings repaid plus a share of what is above can exceed Decimal's 28 digits before the one rounding."""
    from decimal import Decimal

    from payments.money import exact_sum

    repaid, above = Decimal("9999999999999.123456789012"), Decimal("1234567890123.1234567890123456789012")
    assert exact_sum(repaid, above) == Decimal("11234567890122.2469135780243456789012")
    assert repaid + above != exact_sum(repaid, above)  # the context's 28 digits would have rounded it
