"""The payer's business case: cost files, valuing outcomes, the follow-up horizon, the board summary.

The valuation arithmetic is checked against cases worked by hand, to the öre, including the index adjustment and
the break-even month; bad cost files and contracts get one clear line each (file, line, field) and store nothing.
"""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

import pytest

from contracts import costs as cost_files
from contracts.costs import load_costs_text
from contracts.loader import load_contract_text
from contracts.problems import ContractFileError
from evaluation.result import POOLED, EffectResult
from examples.synthetic import CONTRACT_FILES, COST_FILES
from payments.horizon import horizon
from payments.money import round_exact
from payments.valuation import break_even_month, business_case, timing

COSTS = """\
id: test-costs
version: 1
name: Test costs
currency: SEK
index:
  name: PKV (test)
  values: {2019: 100, 2020: 100, 2021: 103.7}
departments: {soc: Socialförvaltningen}
items:
  - {id: day, name: Ett dygn, unit: dygn, low: 800, central: 999.99, high: 1500, price_year: 2020,
     source: test, department: soc}
  - {id: round, name: Ett runt dygn, unit: dygn, low: 500, central: 1000, high: 2000, price_year: 2021,
     source: test, department: soc}
"""

CONTRACT = """\
id: hand
name: Hand-worked
currency: SEK
term: {start: 2020-01-01, end: 2022-06-30}
parties:
  - {id: social, name: Socialnämnden, role: payer}
  - {id: school, name: Skolnämnden, role: payer}
  - {id: fund, name: Fund, role: investor}
target_group: {description: Families}
cohorts:
  - {id: c1, name: Cohort 1, enrolment_start: 2020-01-01, enrolment_end: 2020-01-31, target_size: 12}
metrics:
  - id: days
    name: Days in care
    kind: count
    direction: lower_is_better
    window: {start_months: 0, end_months: WINDOW}
    aggregation: sum
    evaluation: {design: fixed_baseline, baseline: 40, planning_effect: -10, planning_sd: 20}
    avoids: [{item: ITEM, cashable: 0.5}]
payments:
  payers: [{party: social, share: 0.6}, {party: school, share: 0.4}]
  schedule: {frequency: yearly, lag_days: 30}
  mechanisms: [{id: pay, type: savings_share, metric: days, unit_value: 100, repay_up_to: 5000, share_above: 0.5}]
investment:
  principal: 5000
  commitments: [{party: fund, amount: 5000}]
  drawdown_date: 2020-01-01
valuation:
  costs: test-costs
  price_year: PRICE_YEAR
  own_costs: [{year: 2020, party: social, amount: OWN}]
"""


@pytest.fixture()
def test_costs():
    costs = load_costs_text(COSTS, "test-costs.yaml")
    cost_files.register(costs)
    return costs


def _contract(window: int = 24, item: str = "round", price_year: int = 2021, own: str = "48000"):
    text = (CONTRACT.replace("WINDOW", str(window)).replace("ITEM", item).replace("PRICE_YEAR", str(price_year))
            .replace("OWN", own))
    return load_contract_text(text, "hand.yaml").versions[-1].terms


def _result(estimate: float, low: float, high: float, n: int = 12) -> dict:
    r = EffectResult("days", POOLED, "fixed_baseline", "lower_is_better", n_treated=n, treated_mean=30.0,
                     counterfactual_mean=40.0, estimate=estimate, ci_low=low, ci_high=high).finish()
    c = EffectResult("days", "c1", "fixed_baseline", "lower_is_better", n_treated=n, treated_mean=30.0,
                     counterfactual_mean=40.0, estimate=estimate, ci_low=low, ci_high=high).finish()
    return {("days", POOLED): r, ("days", "c1"): c}


# -- the arithmetic, by hand ------------------------------------------------------------------------------------

def test_index_moves_a_price_exactly_and_rounds_once(test_costs) -> None:
    item = test_costs.item("day")
    moved = test_costs.indexed(item, "central", 2021)
    # 999.99 × 103.7 / 100 = 1036.98963: exact until shown, then 1036.99
    assert moved.value == Fraction("1036.98963")
    assert round_exact(moved.value, "SEK") == Decimal("1036.99")
    assert (moved.index.from_year, moved.index.to_year, moved.index.from_value, moved.index.to_value) == (
        2020, 2021, Decimal("100"), Decimal("103.7"))
    back = test_costs.indexed(test_costs.item("round"), "central", 2020)  # 1000 × 100 / 103.7 = 964.3201...
    assert round_exact(back.value, "SEK") == Decimal("964.32")


def test_avoided_cost_grid_to_the_ore(test_costs) -> None:
    contract = _contract(item="day")
    case = business_case(contract, test_costs, _result(-10.0, -16.0, -4.0), {}, payer_payments={})
    [item] = case.items
    assert item.quantity == {"low": Decimal("48.000000"), "point": Decimal("120.000000"),
                             "high": Decimal("192.000000")}
    # 120 days × 1036.98963 = 124,438.7556 -> 124,438.76; once, not 120 × 1036.99 = 124,438.80
    assert item.gross["point"]["central"] == Decimal("124438.76")
    assert item.cashable["point"]["central"] == Decimal("62219.38")  # × 0.5 = 62,219.3778
    assert item.gross["low"]["low"] == Decimal("39820.80")  # 48 × 800 × 1.037
    assert item.gross["high"]["high"] == Decimal("298656.00")  # 192 × 1500 × 1.037
    assert item.range == (Decimal("39820.80"), Decimal("298656.00"))
    assert item.unit_cost == {"low": Decimal("829.60"), "central": Decimal("1036.99"), "high": Decimal("1555.50")}
    assert item.index.as_dict() == {"series": "PKV (test)", "from_year": 2020, "to_year": 2021,
                                    "from_value": "100", "to_value": "103.7"}


def test_a_worse_outcome_is_an_added_cost_not_a_saving(test_costs) -> None:
    case = business_case(_contract(), test_costs, _result(5.0, 1.0, 9.0), {}, payer_payments={})
    assert case.items[0].gross["point"]["central"] == Decimal("-60000.00")  # 5 more days × 12 × 1000


def test_net_position_per_year_and_break_even_month_by_hand(test_costs) -> None:
    """12 participants enrolled in January 2020, 10 days avoided each over 24 months at 1000 kr (2021 prices),
    half cashable: 60,000 cashable, 2,500 a month from January 2020 to December 2021.  Own costs 48,000 in 2020
    (4,000 a month); 10,000 paid at the end of 2021.  Cumulative: -1,500 a month through 2020 (-18,000), then
    +2,500 a month: at or above zero from the 8th month of 2021 (-18,000 + 8 × 2,500 = 2,000); 2,000 + 4 × 2,500
    - 10,000 = 2,000 at the end."""
    contract = _contract(window=24, own="48000")
    case = business_case(contract, test_costs, _result(-10.0, -16.0, -4.0), {"2021": Decimal("10000")},
                         payer_payments={"social": Decimal("6000"), "school": Decimal("4000")})
    years = {y.year: y for y in case.years}
    assert (years[2020].cashable, years[2020].non_cashable, years[2020].own_costs, years[2020].payments,
            years[2020].net, years[2020].cumulative) == (Decimal("30000.00"), Decimal("30000.00"),
                                                         Decimal("48000.00"), Decimal("0.00"),
                                                         Decimal("-18000.00"), Decimal("-18000.00"))
    assert (years[2021].cashable, years[2021].payments, years[2021].net, years[2021].cumulative) == (
        Decimal("30000.00"), Decimal("10000.00"), Decimal("20000.00"), Decimal("2000.00"))
    assert case.break_even == "2021-08"
    assert case.net_total == Decimal("2000.00")
    assert years[2022].projection is False and years[2022].cashable == Decimal("0.00")
    departments = {d.department: d for d in case.departments}
    assert (departments["social"].funds, departments["social"].saves) == (Decimal("54000.00"), Decimal("0.00"))
    assert (departments["school"].funds, departments["school"].net) == (Decimal("4000.00"), Decimal("-4000.00"))
    assert (departments["soc"].name, departments["soc"].saves, departments["soc"].capacity) == (
        "Socialförvaltningen", Decimal("60000.00"), Decimal("60000.00"))


def test_break_even_is_where_the_cumulative_position_stays_above_zero() -> None:
    net = {(2020, 1): Fraction(5), (2020, 2): Fraction(-10), (2020, 3): Fraction(6), (2020, 4): Fraction(-2)}
    assert break_even_month(net, (2020, 1), (2020, 3)) == (2020, 3)  # 5, -5, 1: from March
    assert break_even_month(net, (2020, 1), (2020, 4)) is None  # ... and -1 in April: not broken even


def test_timing_spreads_enrolment_and_window_evenly(test_costs) -> None:
    contract = _contract(window=3)
    shares = timing(contract, contract.metric("days"), {"c1": Fraction(1)})
    assert shares == {(2020, 1): Fraction(1, 3), (2020, 2): Fraction(1, 3), (2020, 3): Fraction(1, 3)}
    assert sum(shares.values()) == 1


def test_simulations_carry_the_effect_into_the_net_band(test_costs) -> None:
    """Each simulation values its own drawn effect and subtracts its own payments: the band is of the net."""
    contract = _contract(window=12, own="0")
    draws = [(_result(-x, -x - 1, -x + 1), {"2020": Decimal(str(100 * x))}) for x in range(1, 11)]
    case = business_case(contract, test_costs, _result(-5.0, -9.0, -1.0), {}, payer_payments={},
                         simulations=draws)
    # draw x: 12 × x days × 1000 × 0.5 = 6000x saved, 100x paid: net 5900x; P10, P50, P90 of x=1..10 by rank: 1, 5, 9
    assert case.net_band == {"p10": Decimal("5900.00"), "p50": Decimal("29500.00"), "p90": Decimal("53100.00")}
    assert case.probability_break_even == "1.000"


# -- bad input: one clear line each, nothing stored -------------------------------------------------------------

def _problems(text: str) -> list[str]:
    with pytest.raises(ContractFileError) as caught:
        load_costs_text(text, "costs.yaml")
    return [str(p) for p in caught.value.problems]


def test_cost_item_without_a_price_year() -> None:
    text = COSTS.replace(" price_year: 2020,\n     source: test", "\n     source: test", 1)
    assert _problems(text) == ["costs.yaml:10: items[0].price_year: required field is missing"]


def test_index_series_with_a_gap() -> None:
    text = COSTS.replace("{2019: 100, 2020: 100, 2021: 103.7}", "{2018: 99, 2019: 100, 2021: 103.7}")
    assert _problems(text) == [
        "costs.yaml:7: index.values[2021]: the index has no value for 2020; a series must give every year from "
        "2018 to 2021",
        "costs.yaml:10: items[0].price_year: cost item day: price year 2020 is not in the index PKV (test) "
        "(2018-2021); add the year to the index"]


def test_cost_range_with_low_above_high() -> None:
    text = COSTS.replace("low: 800, central: 999.99, high: 1500", "low: 1800, central: 999.99, high: 1500")
    assert _problems(text) == ["costs.yaml:10: items[0].low: cost item day: low 1800, central 999.99 and high 1500 "
                               "must rise (low <= central <= high)"]


def test_metric_naming_an_unknown_cost_item(test_costs) -> None:
    with pytest.raises(ContractFileError) as caught:
        load_contract_text(CONTRACT.replace("WINDOW", "24").replace("ITEM", "hvb").replace("PRICE_YEAR", "2021")
                           .replace("OWN", "0"), "hand.yaml")
    assert [str(p) for p in caught.value.problems] == [
        "hand.yaml:20: metrics[0].avoids[0].item: 'hvb' is not an item of cost file test-costs v1; items: day, round"]


def test_valuation_naming_a_cost_file_not_loaded_and_a_year_outside_its_index(test_costs) -> None:
    text = CONTRACT.replace("WINDOW", "24").replace("ITEM", "day").replace("OWN", "0")
    with pytest.raises(ContractFileError) as caught:
        load_contract_text(text.replace("PRICE_YEAR", "2030"), "hand.yaml")
    assert [str(p) for p in caught.value.problems] == [
        "hand.yaml:31: valuation.price_year: price year 2030 is not in the index of cost file test-costs v1 "
        "(2019-2021)"]
    with pytest.raises(ContractFileError) as caught:
        load_contract_text(text.replace("PRICE_YEAR", "2021").replace("costs: test-costs", "costs: other"),
                           "hand.yaml")
    assert str(caught.value.problems[0]).startswith("hand.yaml:30: valuation.costs: cost file 'other' is not loaded; "
                                                    "load it with 'sib costs load FILE'")


def test_cli_refuses_a_bad_cost_file_and_stores_nothing(sib, tmp_path: Path) -> None:
    assert sib("init").code == 0
    bad = tmp_path / "bad.yaml"
    bad.write_text(COSTS.replace("low: 800, central: 999.99, high: 1500", "low: 1800, central: 999.99, high: 1500"),
                   encoding="utf-8")
    result = sib("costs", "load", bad)
    assert result.code == 1
    assert f"{bad}:10: items[0].low: cost item day: low 1800" in result.err
    assert "Traceback" not in result.err
    assert json.loads(sib("costs", "list", "--json").out) == []
    good = tmp_path / "good.yaml"
    good.write_text(COSTS, encoding="utf-8")
    assert sib("costs", "load", good).code == 0
    changed = tmp_path / "changed.yaml"
    changed.write_text(COSTS.replace("central: 999.99", "central: 999.98"), encoding="utf-8")
    refused = sib("costs", "load", changed)
    assert refused.code == 1 and "already stored with other content" in refused.err
    listed = json.loads(sib("costs", "list", "--json").out)
    assert [(r["costs"], r["version"], r["items"]) for r in listed] == [("test-costs", 1, 2)]
    shown = json.loads(sib("costs", "show", "test-costs", "--price-year", "2021", "--json").out)
    assert shown["items"][0]["central"] == "1036.99" and shown["items"][0]["index"]["to_value"] == "103.7"


def test_contract_load_refuses_an_unknown_cost_item_and_stores_nothing(sib, tmp_path: Path) -> None:
    assert sib("init").code == 0
    costs = tmp_path / "costs.yaml"
    costs.write_text(COSTS, encoding="utf-8")
    assert sib("costs", "load", costs).code == 0
    contract = tmp_path / "hand.yaml"
    contract.write_text(CONTRACT.replace("WINDOW", "24").replace("ITEM", "hvb").replace("PRICE_YEAR", "2021")
                        .replace("OWN", "0"), encoding="utf-8")
    result = sib("contract", "load", contract)
    assert result.code == 1
    assert f"{contract}:20: metrics[0].avoids[0].item: 'hvb' is not an item of cost file test-costs v1" in result.err
    assert json.loads(sib("contract", "list", "--json").out) == {"contracts": []}


# -- the follow-up horizon --------------------------------------------------------------------------------------

def test_validate_refuses_windows_that_end_after_the_term(test_costs) -> None:
    text = (CONTRACT.replace("WINDOW", "30").replace("ITEM", "day").replace("PRICE_YEAR", "2021")
            .replace("OWN", "0"))
    with pytest.raises(ContractFileError) as caught:
        load_contract_text(text, "hand.yaml")
    assert [str(p) for p in caught.value.problems] == [
        "hand.yaml:17: metrics[0].window.end_months: the outcome windows of 'days' for cohort 'c1' close on "
        "2022-07-31; with the 30-day payment lag the last payment falls due on 2022-08-30, after the contract term "
        "ends (2022-06-30): extend the term or shorten the window"]


def test_horizon_by_hand(test_costs) -> None:
    """Planned: 10 days fewer per participant in 24 months, 12 participants, 1000 kr, half cashable: 60,000 over
    January 2020 - December 2021; at 12 months the planned effect halves (a count accrues evenly)."""
    contract = _contract(window=24, own="0")
    h = horizon(contract, test_costs)
    months = {m.month: m for m in h.months}
    assert months["2020-01"].savings == Decimal("2500.00") and months["2021-12"].savings == Decimal("60000.00")
    assert months["2021-12"].principal == Decimal("5000")
    assert h.principal_reached == "2020-02"  # 2,500 + 2,500 = 5,000
    assert h.last_payment_due == date(2022, 3, 2) and not h.beyond_term  # 2020-01-31 + 24 months + 30 days
    # the savings share pays 10 × 12 × 100 = 12,000 -> 5,000 + half of 7,000 = 8,500, in the month it falls due
    assert months["2022-03"].payments == Decimal("8500.00") and months["2022-02"].payments == Decimal("0.00")
    assert max(months) == "2022-06" and not any(m.projection for m in h.months)  # all within the term
    short = horizon(contract, test_costs, 12)
    assert {m.month: m for m in short.months}["2020-12"].savings == Decimal("30000.00")
    # the band: the planned effect's 95 % interval (SE = 20 / √12) at the low and high cost
    se = 20 / 12 ** 0.5
    low = (10 - 1.959963984540054 * se) * 12 * 500 * 0.5
    assert abs(float(months["2021-12"].savings_low) - low) < 0.01
    # without a planning SD the band is the cost range alone: 120 days × 500 or 2000 kr × 0.5
    bare = contract.model_copy(update={"metrics": [contract.metrics[0].model_copy(update={
        "evaluation": contract.metrics[0].evaluation.model_copy(update={"planning_sd": None})})]})
    end = horizon(bare, test_costs).months[-1]
    assert (end.savings_low, end.savings, end.savings_high) == (Decimal("30000.00"), Decimal("60000.00"),
                                                                 Decimal("120000.00"))


def test_norrkoping_example_warns_that_24_months_come_too_late(sib) -> None:
    result = sib("contract", "validate", CONTRACT_FILES["norrkoping-foster-care"], "--costs",
                 COST_FILES["norrkoping-costs"])
    assert result.code == 0
    assert ("investment.principal: at the planning effect and central costs, expected cumulative savings never "
            "reach the principal (10000000) within the follow-up; the last payment falls due on 2019-03-31") in result.err
    shown = json.loads(sib("design", "horizon", CONTRACT_FILES["norrkoping-foster-care"], "--costs",
                           COST_FILES["norrkoping-costs"], "--follow-up-months", "24,36", "--json").out)
    by_length = {h["follow_up_months"]: h for h in shown["horizons"]}
    assert by_length[24]["principal_reached"] is None and by_length[36]["principal_reached"] == "2019-03"
    assert by_length[36]["last_payment_due"] == "2020-03-30" and not by_length[36]["beyond_term"]
    assert all(m["projection"] == (m["month"] > "2020-06") for m in by_length[36]["months"])
    bad = sib("design", "horizon", CONTRACT_FILES["norrkoping-foster-care"], "--follow-up-months", "24,x")
    assert bad.code == 2 and "--follow-up-months" in bad.err


# -- the demo: each payer's net position, recomputed from its own files ----------------------------------------

def test_demo_norrkoping_net_position_recomputed_from_the_data(demo) -> None:
    """Cashable HVB savings: (120 − mean days) × 1,000 children × 5,000 kr (2019 prices) moved to 2016 prices
    (× 100 / 108.3), 80 % cashable; less the 6.5 MSEK the savings share pays and 0.9 MSEK own costs."""
    import pandas as pd

    folder, rows, _ = demo
    people = pd.read_csv(folder / "sib-demo" / "data" / "norrkoping-participants.csv", parse_dates=["start"])
    care = pd.read_csv(folder / "sib-demo" / "data" / "norrkoping-measurements.csv", parse_dates=["date"])
    care = care[care["metric"] == "residential-care-days"].merge(people, on="participant_id")
    days = Fraction(int(care[care["date"] < care["start"] + pd.DateOffset(months=36)]["value"].sum()), len(people))
    improvement = Fraction(Decimal(str(round(float(120 - days), 6))))
    cashable = improvement * len(people) * 5000 * Fraction(100) / Fraction("108.3") * Fraction("0.8")
    row = rows["norrkoping-foster-care"]
    case = row["business_case"]
    departments = {d["department"]: d for d in case["departments"]}
    assert Decimal(departments["socialforvaltningen"]["saves"]) == round_exact(cashable, "SEK")
    paid = Decimal(row["payments_due"])
    assert Decimal(departments["norrkoping"]["funds"]) == paid + 900000
    assert Decimal(case["net_total"]) == round_exact(cashable - Fraction(paid) - 900000, "SEK")
    assert Decimal(case["net_band"]["p10"]) < Decimal(case["net_total"]) < Decimal(case["net_band"]["p90"])
    assert case["break_even"] is None  # as in Norrköping: a net loss although the outcome improved
    assert rows["gotland-family-team"]["business_case"]["break_even"] is not None


def test_board_summary_pdf_is_one_page_with_the_reports_figures(demo_copy) -> None:
    from pypdf import PdfReader

    folder, run = demo_copy
    assert run("board", "gotland-family-team", "--out", folder / "board.pdf").code == 0
    reader = PdfReader(str(folder / "board.pdf"))
    assert len(reader.pages) == 1
    text = " ".join(reader.pages[0].extract_text().split())
    for words in ("Nämndrapport", "Utfall mot mål", "Effekter", "Uppföljningsmått", "Pengar per betalare och år",
                  "Betalarens nettoposition", "Ändringar och öppna risker"):
        assert words in text, words
    board = json.loads(run("board", "gotland-family-team", "--json").out)
    assert [o["id"] for o in board["outcomes"]["effects"]] == ["placement-days"]
    assert [o["id"] for o in board["outcomes"]["monitoring"]] == ["no-placement"]
    assert {s["group"].split()[-1] for s in board["outcomes"]["effects"][0]["by_sex"]} >= {"female", "male"} or \
        board["outcomes"]["effects"][0]["by_sex"]
    money = {(m["payer"], m["year"]): m for m in board["money"]}
    assert set(money) == {("socialforvaltningen", 2023), ("halso-och-sjukvard", 2023)}
    social = money[("socialforvaltningen", 2023)]
    assert Decimal(social["calculated"]) > 0 and social["paid"] == "0.00"
    assert Decimal(social["forecast"]["p10"]) <= Decimal(social["forecast"]["p50"]) <= Decimal(social["forecast"]["p90"])
    amended = json.loads(run("board", "norrkoping-foster-care", "--json").out)["amendments"]
    assert amended == [{"version": 2, "effective": "2017-09-01", "reason": "Uppföljningen förlängd från 24 till 36 "
                        "månader; 24 månader var för kort för att visa besparingarna"}]
    valued = json.loads(run("valuation", "gotland-family-team", "--json").out)
    assert board["business_case"]["net_total"] == valued["net_total"]
    assert board["business_case"]["departments"] == valued["departments"]
    assert run("report", "gotland-family-team", "--out", folder / "r.html").code == 0
    report = (folder / "r.html").read_text(encoding="utf-8")
    from language.words import words

    said = words("sv", "SEK")
    assert said.money(Decimal(valued["net_total"])) in report  # the report shows the very same net position
    assert said.money(Decimal(social["calculated"])) in report


def test_board_summary_in_the_api_and_the_pages(demo) -> None:
    from fastapi.testclient import TestClient

    from api.access import add_user
    from api.http import create_app
    from store.db import open_store

    folder, _, _ = demo
    engine = open_store(f"sqlite:///{folder / 'sib-demo' / 'sib.db'}")
    try:
        tokens = {role: add_user(engine, f"board-{role}", role, ["gotland-family-team"],
                                 party="socialforvaltningen" if role == "payer" else None)
                  for role in ("payer", "investor", "intermediary")}
        c = TestClient(create_app(engine))
        url = "/api/v1/contracts/gotland-family-team/board-summary"
        answer = c.get(url, headers={"Authorization": f"Bearer {tokens['payer']}"})
        assert answer.status_code == 200 and answer.json()["contract"] == "gotland-family-team"
        assert c.get(url, headers={"Authorization": f"Bearer {tokens['investor']}"}).status_code == 403
        pdf = c.get(url + "?format=pdf&lang=en", headers={"Authorization": f"Bearer {tokens['intermediary']}"})
        assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
        assert pdf.content[:5] == b"%PDF-"
        valuation = c.get("/api/v1/contracts/gotland-family-team/valuation",
                          headers={"Authorization": f"Bearer {tokens['payer']}"})
        assert valuation.status_code == 200 and valuation.json()["net_total"] == answer.json()["business_case"]["net_total"]
        none = c.get("/api/v1/contracts/hasselby-school/valuation",
                     headers={"Authorization": f"Bearer {tokens['intermediary']}"})
        assert none.status_code in (403, 404, 409)
    finally:
        engine.dispose()


def test_an_evaluation_only_contract_has_savings_and_own_costs_but_no_payments(test_costs) -> None:
    text = CONTRACT.replace("WINDOW", "12").replace("ITEM", "round").replace("PRICE_YEAR", "2021").replace(
        "OWN", "6000")
    text = text[:text.index("\npayments:")] + text[text.index("\nvaluation:"):]
    contract = load_contract_text(text, "hand.yaml").versions[-1].terms
    assert contract.payments is None
    case = business_case(contract, test_costs, _result(-10.0, -16.0, -4.0), {}, payer_payments={})
    # 120 days × 1000 kr × 0.5 = 60,000 cashable in 2020, less 6,000 own costs
    assert (case.payments, case.own_costs, case.net_total) == (Decimal("0.00"), Decimal("6000.00"),
                                                               Decimal("54000.00"))
    assert case.break_even == "2020-01" and case.net_band is None
