"""The payer's annual accounts at a balance date (RKR R9): liability, provision, contingent liability.

Pure-function tests on small ledgers built by hand, then `sib accounts` on the demo store.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from decimal import Decimal
from typing import Any

import pandas as pd

from contracts import load_contract_text
from payments.accounts import classify
from tests.helpers import MINIMAL, english

D = Decimal
BALANCE = date(2022, 12, 31)
ONE_PAYER = """  payers:
    - {party: city, share: 1}
"""
TWO_PAYERS = """  payers:
    - {party: city, share: 0.6}
    - {party: region, share: 0.4}
"""


def contract(payers: str = ONE_PAYER, caps: str = "  caps:\n    total: 60000\n", mechanism_cap: str = ", cap: 50000"):
    text = MINIMAL.replace("    - {party: city, share: 1}\n", "").replace("  payers:\n", payers)
    text = text.replace("  caps:\n    total: 60000\n", caps)
    text = text.replace("price: 1000, cap: 50000}", f"price: 1000{mechanism_cap}}}")
    text = text.replace("  - {id: city, name: City, role: payer}\n",
                        "  - {id: city, name: City, role: payer}\n  - {id: region, name: Region, role: payer}\n")
    return load_contract_text(text, "accounts.yaml").contract


def at(day: str) -> str:
    """A timestamp as the ledger writes it: ISO 8601 UTC text."""
    return datetime.fromisoformat(day).replace(tzinfo=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass
class Ledger:
    entries: list[dict[str, Any]] = field(default_factory=list)
    steps: list[dict[str, Any]] = field(default_factory=list)

    def entry(self, amount: str, created: str = "2022-03-01T10:00:00", payer: str = "city") -> int:
        seq = len(self.entries) + 1
        self.entries.append({"contract_id": "test-contract", "seq": seq, "period": "2022-Q1", "mechanism": "card",
                             "payer": payer, "cohort": "c1", "kind": "calculation", "amount": D(amount),
                             "currency": "SEK", "created_at": at(created), "created_by": "test"})
        return seq

    def step(self, seq: int, status: str, when: str) -> None:
        self.steps.append({"contract_id": "test-contract", "seq": len(self.steps) + 1, "entry_seq": seq,
                           "status": status, "note": "why" if status == "rejected" else None, "at": at(when),
                           "by": "test"})

    def frames(self) -> tuple[pd.DataFrame, pd.DataFrame]:
        entry_columns = ["contract_id", "seq", "period", "mechanism", "payer", "cohort", "kind", "amount", "currency",
                         "created_at", "created_by"]
        step_columns = ["contract_id", "seq", "entry_seq", "status", "note", "at", "by"]
        return (pd.DataFrame(self.entries, columns=entry_columns, dtype=object),
                pd.DataFrame(self.steps, columns=step_columns, dtype=object))


@dataclass(frozen=True)
class FakeForecast:
    """The fields of payments.forecast.Forecast the accounts read (plus, optionally, an expected total)."""

    total: dict[str, str]
    by_payer: dict[str, dict[str, str]]
    probability_of_any_payment: str
    expected_total: str | None = None


def accounts(ledger: Ledger, terms=None, day: date = BALANCE, forecast=None, run=None):
    entries, steps = ledger.frames()
    return classify(terms or contract(), entries, steps, day, forecast, run)


def figures(payer) -> dict[str, Decimal | None]:
    return {name: getattr(payer, name).amount for name in ("paid", "liability", "provision", "contingent_liability")}


# -- liability, paid, provision, nothing ----------------------------------------------------------------------------


def test_approved_and_unpaid_is_a_liability() -> None:
    ledger = Ledger()
    one = ledger.entry("10000.00")
    ledger.step(one, "approved", "2022-04-01T09:00:00")
    two = ledger.entry("2500.50")
    ledger.step(two, "approved", "2022-04-01T09:00:00")
    ledger.step(two, "invoiced", "2022-05-01T09:00:00")
    city = accounts(ledger).payers[0]
    assert city.liability.amount == D("12500.50")
    assert city.liability.basis["entries"] == [one, two]
    assert city.paid.amount == 0 and city.provision.amount == 0
    assert english(city.liability.basis["explanation"]) == [
        "approved or invoiced by 2022-12-31 and not paid by then: entries 1, 2"]


def test_paid_before_the_date_is_no_liability_but_paid_after_it_still_is() -> None:
    ledger = Ledger()
    early = ledger.entry("4000.00")
    for status, when in (("approved", "2022-04-01"), ("invoiced", "2022-05-01"), ("paid", "2022-06-01")):
        ledger.step(early, status, when)
    late = ledger.entry("3000.00")
    for status, when in (("approved", "2022-11-01"), ("invoiced", "2022-12-01"), ("paid", "2023-01-15")):
        ledger.step(late, status, when)
    result = accounts(ledger)
    city = result.payers[0]
    assert city.paid.amount == D("4000.00") and city.paid.basis["entries"] == [early]
    assert city.liability.amount == D("3000.00") and city.liability.basis["entries"] == [late]
    assert result.left_out["steps_taken_after"] == 1
    # on the last second of the balance date (UTC) a step still counts; a second later it does not
    ledger.steps[-1]["at"] = at("2022-12-31T23:59:59")
    assert accounts(ledger).payers[0].paid.amount == D("7000.00")
    ledger.steps[-1]["at"] = at("2023-01-01T00:00:00")
    assert accounts(ledger).payers[0].paid.amount == D("4000.00")


def test_calculated_is_a_provision_rejected_is_nothing_and_later_entries_are_left_out() -> None:
    ledger = Ledger()
    calculated = ledger.entry("1234.56")
    rejected = ledger.entry("999.00")
    ledger.step(rejected, "approved", "2022-04-01")
    ledger.step(rejected, "rejected", "2022-05-01")
    later = ledger.entry("5000.00", created="2023-02-01T08:00:00")
    rejected_later = ledger.entry("700.00")
    ledger.step(rejected_later, "rejected", "2023-01-10")  # rejected only after the date: still awaiting approval
    result = accounts(ledger)
    city = result.payers[0]
    assert city.provision.amount == D("1934.56")
    assert city.provision.basis["entries"] == [calculated, rejected_later]
    assert city.provision.basis["calculated"] == "1934.56"
    assert city.liability.amount == 0 and city.paid.amount == 0
    assert result.left_out == {"entries_created_after": [later], "steps_taken_after": 1, "rejected": [rejected]}
    assert "entries created after 2022-12-31 are left out: 3" in english(result.notes)
    # no forecast: nothing beyond the calculated entries, and the basis says so
    assert city.provision.basis["forecast"] == {"used": False}
    assert english(city.provision.basis["explanation"])[1] == (
        "no forecast (no evaluation run that may be paid to forecast from): no provision beyond the calculated "
        "entries")


def test_a_negative_adjustment_reduces_what_it_adjusts() -> None:
    ledger = Ledger()
    first = ledger.entry("10000.00")
    ledger.step(first, "approved", "2022-04-01")
    ledger.entry("-1500.00", created="2022-09-01T10:00:00")
    city = accounts(ledger).payers[0]
    assert (city.liability.amount, city.provision.amount) == (D("10000.00"), D("-1500.00"))
    assert city.contingent_liability.amount == D("50000") - D("8500.00")


# -- the contingent liability: the rest up to the caps ---------------------------------------------------------------


def test_contingent_is_the_cap_less_the_rest_per_payer_by_share() -> None:
    terms = contract(TWO_PAYERS, "  caps:\n    total: 100000\n    per_payer: {region: 30000}\n", mechanism_cap="")
    ledger = Ledger()
    city_paid = ledger.entry("6000.00")
    region_paid = ledger.entry("4000.00", payer="region")
    for seq in (city_paid, region_paid):
        for status, when in (("approved", "2022-04-01"), ("invoiced", "2022-05-01"), ("paid", "2022-06-01")):
            ledger.step(seq, status, when)
    city_owed = ledger.entry("1200.00")
    ledger.step(city_owed, "approved", "2022-10-01")
    ledger.entry("800.00", payer="region")
    result = accounts(ledger, terms)
    city, region = result.payers
    assert (city.payer, region.payer) == ("city", "region")
    # city: 60 % of the total cap 100,000 = 60,000, less 6,000 paid and 1,200 owed
    assert figures(city) == {"paid": D("6000.00"), "liability": D("1200.00"), "provision": 0,
                             "contingent_liability": D("52800.00")}
    assert city.contingent_liability.basis["cap"] == "60000.00"
    # region: its own cap of 30,000 is below its share (40,000) of the total
    assert figures(region) == {"paid": D("4000.00"), "liability": 0, "provision": D("800.00"),
                               "contingent_liability": D("25200.00")}
    assert region.contingent_liability.basis["cap"] == "30000"
    assert english(region.contingent_liability.basis["explanation"]) == [
        "cap SEK\u00a030,000.00 (the cap of outcome payer region) less paid SEK\u00a04,000.00, liability "
        "SEK\u00a00.00 and provision SEK\u00a0800.00 = SEK\u00a025,200.00"]
    assert figures(result.total) == {"paid": D("10000.00"), "liability": D("1200.00"), "provision": D("800.00"),
                                     "contingent_liability": D("78000.00")}


def test_the_mechanisms_caps_bound_a_contract_without_a_total_cap_and_the_floor_is_zero() -> None:
    terms = contract(caps="")  # the rate card's cap of 50,000 is the only bound
    ledger = Ledger()
    big = ledger.entry("50000.00")
    ledger.step(big, "approved", "2022-04-01")
    ledger.entry("1.00")  # a calculation beyond the cap (it could not happen, but the floor holds)
    city = accounts(ledger, terms).payers[0]
    assert city.contingent_liability.amount == 0
    assert english(city.contingent_liability.basis["explanation"])[0].endswith(": nothing left")


def test_without_a_cap_there_is_no_figure() -> None:
    terms = contract(caps="", mechanism_cap="")
    ledger = Ledger()
    ledger.entry("100.00")
    result = accounts(ledger, terms)
    city = result.payers[0]
    assert city.contingent_liability.amount is None
    assert city.contingent_liability.as_dict()["amount"] is None
    assert "has no upper limit" in english(city.contingent_liability.basis["explanation"])[0]
    assert result.total.contingent_liability.amount is None
    assert result.total.provision.amount == D("100.00")


def test_a_balance_date_before_the_term_is_allowed_and_noted() -> None:
    ledger = Ledger()
    ledger.entry("100.00")
    result = accounts(ledger, day=date(2019, 12, 31))
    assert figures(result.payers[0]) == {"paid": 0, "liability": 0, "provision": 0, "contingent_liability": D("50000")}
    assert english(result.notes)[0] == ("the balance date 2019-12-31 is before the contract's term starts on "
                                        "2020-01-01: nothing can be owed yet")


# -- the forecast -----------------------------------------------------------------------------------------------------


def test_an_improbable_further_payment_adds_no_provision() -> None:
    ledger = Ledger()
    ledger.entry("1000.00")
    band = {"p10": "0", "p50": "0", "p90": "30000"}
    forecast = FakeForecast(band, {"city": band}, "0.400", expected_total="9000.00")
    city = accounts(ledger, forecast=forecast, run={"evaluation_run": 7, "as_of": "2022-12-31"}).payers[0]
    assert city.provision.amount == D("1000.00")
    assert city.provision.basis["forecast"]["probable"] is False
    assert city.provision.basis["forecast"]["used"] is False
    assert english(city.provision.basis["explanation"])[1] == (
        "no forecast amount: a further payment is not more likely than not (P50 SEK\u00a00.00 against "
        "SEK\u00a01,000.00 booked, probability of any payment 40.0%)")
    assert city.contingent_liability.amount == D("49000.00")


def test_a_probable_further_payment_adds_the_expected_total_less_what_is_booked() -> None:
    ledger = Ledger()
    paid = ledger.entry("1000.00")
    for status, when in (("approved", "2022-04-01"), ("invoiced", "2022-05-01"), ("paid", "2022-06-01")):
        ledger.step(paid, status, when)
    ledger.entry("2000.00")
    band = {"p10": "1000.00", "p50": "8000.00", "p90": "20000.00"}
    forecast = FakeForecast(band, {"city": band}, "0.900", expected_total="9000.555")
    result = accounts(ledger, forecast=forecast, run={"evaluation_run": 7, "as_of": "2022-12-31"})
    city = result.payers[0]
    # expected 9,000.555 (the payer's share 1 of it, rounded half-up: 9,000.56) less 3,000 booked
    assert city.provision.amount == D("2000.00") + D("6000.56")
    basis = city.provision.basis["forecast"]
    assert basis["estimate"] == "expected_share" and basis["further"] == "6000.56" and basis["used"] is True
    assert basis["evaluation_run"] == 7 and basis["booked"] == "3000.00"
    assert english(city.provision.basis["explanation"])[1] == (
        "plus the forecast: share 100.0% of the expected total SEK\u00a09,000.56 less SEK\u00a03,000.00 booked = "
        "SEK\u00a06,000.56; a further payment is more likely than not (P50 SEK\u00a08,000.00 above what is booked, "
        "probability of any payment 90.0%)")
    assert city.contingent_liability.amount == D("50000") - D("1000.00") - D("8000.56") == D("40999.44")
    # the same forecast, but a payment no more likely than not (docs/payments.md, worked example)
    unlikely = FakeForecast(band, {"city": band}, "0.400", expected_total="9000.555")
    city = accounts(ledger, forecast=unlikely, run={"evaluation_run": 7, "as_of": "2022-12-31"}).payers[0]
    assert (city.provision.amount, city.contingent_liability.amount) == (D("2000.00"), D("47000.00"))


def test_without_an_expected_value_the_median_is_used_and_said() -> None:
    ledger = Ledger()
    ledger.entry("2000.00")
    band = {"p10": "1000.00", "p50": "8000.00", "p90": "20000.00"}
    city = accounts(ledger, forecast=FakeForecast(band, {"city": band}, "0.900")).payers[0]
    assert city.provision.amount == D("8000.00")
    assert city.provision.basis["forecast"]["estimate"] == "p50"
    assert "median (P50; the forecast gives no expected value)" in english(city.provision.basis["explanation"])[1]


def test_probable_but_nothing_beyond_what_is_booked() -> None:
    ledger = Ledger()
    ledger.entry("5000.00")
    band = {"p10": "4000.00", "p50": "6000.00", "p90": "7000.00"}
    city = accounts(ledger, forecast=FakeForecast(band, {"city": band}, "0.950", expected_total="4900.00")).payers[0]
    assert city.provision.amount == D("5000.00")
    assert english(city.provision.basis["explanation"])[1].startswith("no forecast amount: the forecast's share")


def test_a_forecast_from_a_run_after_the_balance_date_adds_nothing() -> None:
    ledger = Ledger()
    ledger.entry("2000.00")
    band = {"p10": "1000.00", "p50": "8000.00", "p90": "20000.00"}
    forecast = FakeForecast(band, {"city": band}, "0.900", expected_total="9000.00")
    city = accounts(ledger, forecast=forecast, run={"evaluation_run": 9, "as_of": "2023-03-31"}).payers[0]
    assert city.provision.amount == D("2000.00")
    assert city.provision.basis["forecast"] == {"used": False, "evaluation_run": 9, "as_of": "2023-03-31"}
    assert english(city.provision.basis["explanation"])[1] == (
        "no forecast amount: evaluation run 9 is as of 2023-03-31, after the balance date, and counts participants "
        "enrolled since; evaluate as of 2022-12-31 for a forecast of the performance delivered by then")


def test_two_payers_each_get_their_share_of_the_forecast() -> None:
    terms = contract(TWO_PAYERS, "  caps:\n    total: 100000\n", mechanism_cap="")
    ledger = Ledger()
    ledger.entry("600.00")
    ledger.entry("400.00", payer="region")
    forecast = FakeForecast({"p50": "10000.00"}, {"city": {"p50": "6000.00"}, "region": {"p50": "4000.00"}},
                            "0.800", expected_total="12000.00")
    city, region = accounts(ledger, terms, forecast=forecast).payers
    assert city.provision.amount == D("600.00") + D("7200.00") - D("600.00")
    assert region.provision.amount == D("400.00") + D("4800.00") - D("400.00")


# -- the command ------------------------------------------------------------------------------------------------------


def test_cli_accounts_json_on_the_demo(demo_copy) -> None:
    _, sib = demo_copy
    today = datetime.now(timezone.utc).date().isoformat()
    done = sib("accounts", "hasselby-school", "--balance-date", today, "--simulations", "50", "--json")
    assert done.code == 0, done.err
    data = json.loads(done.out)
    assert data["contract"] == "hasselby-school" and data["balance_date"] == today and data["currency"] == "SEK"
    assert [p["payer"] for p in data["payers"]] == ["district", "education"]
    ledger = json.loads(sib("ledger", "show", "hasselby-school", "--json").out)["entries"]
    booked = sum(D(e["amount"]) for e in ledger)
    assert sum(D(p["provision"]["basis"]["calculated"]) for p in data["payers"]) == booked
    for payer in data["payers"]:
        assert payer["liability"]["amount"] == "0" and payer["paid"]["amount"] == "0"
        contingent = payer["contingent_liability"]
        cap = D(contingent["basis"]["cap"])
        assert cap == D("6000000") * D(payer["share"])
        assert D(contingent["amount"]) == max(cap - D(payer["provision"]["amount"]), D(0))
        assert all(m["text"] for m in payer["provision"]["basis"]["explanation"])
        assert payer["provision"]["basis"]["forecast"]["evaluation_run"] is not None
    assert D(data["total"]["provision"]["amount"]) == sum(D(p["provision"]["amount"]) for p in data["payers"])
    # before anything was booked (and before the term): nothing but the caps
    early = json.loads(sib("accounts", "hasselby-school", "--balance-date", "2021-01-01", "--simulations", "50",
                           "--json").out)
    assert [p["contingent_liability"]["amount"] for p in early["payers"]] == ["3600000.00", "2400000.00"]
    assert early["notes"][0]["code"] == "payments.accounts_before_term"
    table = sib("accounts", "hasselby-school", "--balance-date", today, "--simulations", "50")
    assert table.code == 0 and "contingent liability" in table.out and today in table.out


def test_cli_accounts_errors_are_one_line(demo_copy) -> None:
    _, sib = demo_copy
    bad = sib("accounts", "hasselby-school", "--balance-date", "2024-13-01")
    assert bad.code == 1 and bad.err.strip().count("\n") == 0 and "--balance-date" in bad.err
    unknown = sib("accounts", "no-such-contract", "--balance-date", "2024-12-31")
    assert unknown.code == 1 and unknown.err.strip().count("\n") == 0
