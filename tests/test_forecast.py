"""The forecast, unbiased and the same everywhere: the IRR over every simulation (-100 % where nothing comes
back), the probability that investors lose money, the expected payment; rejected entries left out; and the
CLI, the API and the dashboard showing the same numbers for the same seed and state."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal

import pytest
from fastapi.testclient import TestClient

from language import formats as i18n
from payments.forecast import SEED, SIMULATIONS, Booked, _mean, booked_of, contract_forecast, paths, simulate
from payments.returns import NOTHING_BACK, investor_returns, period_end, xirr
from tests.test_payments import D, contract_with, outcomes, result, run_of

THRESHOLD = ("    - {id: card, type: comparison_threshold, metric: exclusion, cohort_threshold: 0.10, "
             "overall_threshold: 0.075, price_per_unit: 2000}")
SE = 0.01  # the standard error of the estimates below: a 95 % interval of ±1.96 SE
Z95 = 1.959963984540054


def uncertain(estimate: float, se: float = SE, cohort: str = "c1", n: int = 900):
    """A cohort's effect on exclusions (lower is better) with its 95 % interval."""
    return result("exclusion", cohort, estimate=estimate, counterfactual_mean=1.0, n_treated=n,
                  ci_low=estimate - Z95 * se, ci_high=estimate + Z95 * se, p_value=0.001)


def threshold_contract(total_cap: int = 60000):
    """Cohort c1 pays 2,000 per unit of improvement per participant if it improves by 10 % or more; the
    investors put in 40,000 on 2020-01-01; the contract pays at most ``total_cap``."""
    return contract_with(THRESHOLD, caps=f"    total: {total_cap}")


def forecast_of(contract, results, simulations: int = 1000, booked: Booked | None = None):
    return simulate(contract, run_of(results), outcomes(), simulations, SEED, booked)


# -- (a) the IRR is taken over every simulation ---------------------------------------------------------------------

def test_simulations_that_pay_nothing_count_in_the_irr_at_minus_100_percent() -> None:
    # The improvement is drawn around 9.48 % with SE 1 %: about 30 % of simulations reach the 10 % threshold and
    # pay the 60,000 cap (each 2,000 × 0.10 × 900 = 180,000 or more, capped); the others pay nothing.
    c = threshold_contract()
    f = forecast_of(c, [uncertain(-0.0948)])
    paying = Decimal(f.probability_of_any_payment)
    assert Decimal("0.25") < paying < Decimal("0.35")
    assert f.total == {"p10": "0.00", "p50": "0.00", "p90": "60000.00"}
    # 60,000 back on 2022-09-30 (the period after c1's window closes, plus the lag) for 40,000 on 2020-01-01.
    paid_irr = xirr([(date(2020, 1, 1), D(-40000)), (period_end("2022-Q3"), D(60000))])
    assert paid_irr is not None and paid_irr > 0
    # Over every simulation, not over the paying ones only: the median investor loses everything.
    assert f.irr == {"p10": str(NOTHING_BACK), "p50": str(NOTHING_BACK), "p90": str(paid_irr)}
    assert NOTHING_BACK == Decimal(-1)
    nothing = [n for n in f.notes if n["code"] == "payments.forecast_nothing_back"]
    assert nothing == [{"code": "payments.forecast_nothing_back",
                        "params": {"none": 1000 - int(paying * 1000), "simulations": 1000, "irr": "-1.0000"}}]
    assert not any(n["code"] == "payments.forecast_no_irr" for n in f.notes)
    # The mean is exact: the paying simulations times 60,000, over 1,000.
    assert f.expected_total == str((D(60000) * paying).quantize(D("0.01")))


def test_a_partial_repayment_has_its_negative_irr_not_minus_100_percent() -> None:
    c = threshold_contract(total_cap=30000)  # always pays, but only 30,000 of the 40,000 invested
    f = forecast_of(c, [uncertain(-0.20)], simulations=50)
    assert f.total["p10"] == f.total["p90"] == "30000.00"
    irr = Decimal(f.irr["p50"])
    assert NOTHING_BACK < irr < 0 and f.irr["p10"] == f.irr["p90"] == f.irr["p50"]
    assert f.probability_of_any_payment == "1.000" and f.probability_of_loss == "1.000"
    assert not any(n["code"] == "payments.forecast_nothing_back" for n in f.notes)


def test_xirr_finds_rates_outside_the_usual_bracket() -> None:
    # 1 back after two years on 100,000,000: -99.99 % a year, short of -100 %, not "no IRR".
    tiny = xirr([(date(2020, 1, 1), D(-100000000)), (date(2021, 12, 31), D(1))])
    assert tiny is not None and D(-1) <= tiny <= D("-0.9999")
    # Doubled in a month: about 2^(365/31) - 1, far above the usual +10,000 % a year.
    huge = xirr([(date(2020, 1, 1), D(-1)), (date(2020, 2, 1), D(2))])
    assert huge is not None and D(3000) < huge < D(4000)
    assert xirr([(date(2020, 1, 1), D(-100))]) is None  # nothing comes back: the forecast calls it -100 %


# -- (b) no better than the median payment path -----------------------------------------------------------------

@pytest.mark.parametrize("estimate,cap", [(-0.0948, 60000), (-0.11, 10000000), (-0.13, 10000000)])
def test_irr_p50_is_at_or_below_the_irr_of_the_median_payment_path(estimate: float, cap: int) -> None:
    c = threshold_contract(cap)
    results = [uncertain(estimate, se=0.02)]
    f = forecast_of(c, results, simulations=400)
    every = list(paths(c, run_of(results), outcomes(), 400, SEED))
    median_total = Decimal(f.total["p50"])
    median = [p for p in every if p.total == median_total]
    assert median
    irrs = []
    for path in median:  # the median path's IRR, through the investors' waterfall as for any ledger
        payments = sorted((period_end(period), amount) for period, amount in path.by_period.items())
        [together] = investor_returns(c, payments, together_only=True)
        irrs.append(together.irr if together.irr is not None else NOTHING_BACK)
    assert Decimal(f.irr["p50"]) <= min(irrs)


# -- (c) the probability of a loss -------------------------------------------------------------------------------

def test_probability_of_loss_by_hand() -> None:
    certain = [result("exclusion", "c1", estimate=-0.20, counterfactual_mean=1.0, n_treated=900)]  # no interval
    # Always 60,000 back for 40,000: never a loss.
    assert forecast_of(threshold_contract(60000), certain, 20).probability_of_loss == "0.000"
    # Exactly the 40,000 drawn comes back: not a loss (nothing gained either).
    assert forecast_of(threshold_contract(40000), certain, 20).probability_of_loss == "0.000"
    # 39,999.99 back: a loss in every simulation, though every simulation pays.
    short = forecast_of(contract_with(THRESHOLD, caps="    total: 39999.99"), certain, 20)
    assert (short.probability_of_any_payment, short.probability_of_loss) == ("1.000", "1.000")
    # Each simulation either pays the cap (above the principal) or nothing: a loss exactly when nothing is paid.
    f = forecast_of(threshold_contract(60000), [uncertain(-0.0948)])
    assert Decimal(f.probability_of_loss) == 1 - Decimal(f.probability_of_any_payment)
    every = list(paths(threshold_contract(60000), run_of([uncertain(-0.0948)]), outcomes(), 1000, SEED))
    assert Decimal(f.probability_of_loss) == Decimal(sum(p.total < 40000 for p in every)) / 1000


def test_expected_payment_is_the_exact_mean_rounded_half_up() -> None:
    assert _mean([D("0.01"), D("0.00")], "SEK") == D("0.01")  # 0.005: half-up
    assert _mean([D("0.01"), D("0.00"), D("0.00")], "SEK") == D("0.00")  # 0.00333...
    assert _mean([D("1.00"), D("2.00"), D("2.00")], "SEK") == D("1.67")
    assert _mean([D("5"), D("6")], "JPY") == D("6")
    assert str(_mean([D("10.00")] * 3, "SEK")) == "10.00"


def test_a_contract_without_investment_has_no_irr_and_no_loss() -> None:
    from contracts import load_contract_text
    from tests.helpers import MINIMAL

    text = MINIMAL.split("investment:")[0] + "amendments:" + MINIMAL.split("amendments:")[1]
    c = load_contract_text(text, "c.yaml").contract
    assert c.investment is None
    f = simulate(c, run_of([]), outcomes(), 10, SEED)
    assert f.irr == {"p10": None, "p50": None, "p90": None} and f.probability_of_loss is None


# -- (e) rejected entries leave the totals and the forecast -------------------------------------------------------

def test_a_rejected_entry_leaves_received_expected_and_the_forecast(engine, monkeypatch) -> None:
    from api.status import investor_status
    from payments.calculate import calculate
    from payments.ledger import current_status, read_ledger, take_step
    from tests.helpers import stored_minimal
    from tests.test_payments import _store_run

    stored = stored_minimal(engine)  # version 2: 1,200 per pupil at 90 % attendance
    run = _store_run(engine, 1, 2, [(1, "c1"), (2, "c1"), (60, "c2")])
    assert [(e["cohort"], e["amount"]) for e in calculate(engine, stored, run)] == [("c1", D("2400.00")),
                                                                                   ("c2", D("1200.00"))]
    before = contract_forecast(engine, stored, 20)
    assert before is not None and before.total["p50"] == before.expected_total == "3600.00"
    status = investor_status(engine, stored)
    assert (status["payments"]["received"], status["payments"]["expected"]) == ("0.00", "3600.00")

    take_step(engine, "test-contract", [1], "rejected", "payer:anna", note="two pupils moved school")
    booked = booked_of(read_ledger(engine, "test-contract"), current_status(engine, "test-contract"), run.id)
    assert booked.rejected == {("card", "c1", "city")} and booked.amounts == {("card", "c2", "city"): D("1200.00")}
    after = contract_forecast(engine, stored, 20)
    assert after is not None and after.total == {"p10": "1200.00", "p50": "1200.00", "p90": "1200.00"}
    assert after.expected_total == "1200.00" and after.expected_by_payer == {"city": "1200.00"}
    status = investor_status(engine, stored)
    pay = status["payments"]
    assert (D(pay["received"]), D(pay["expected"])) == (D(0), D("1200.00"))
    assert D(pay["by_status"]["rejected"]) == D("2400.00") and D(pay["by_status"]["calculated"]) == D("1200.00")
    assert status["forecast"]["total"]["p50"] == "1200.00"
    assert [D(r["distributed"]) for r in status["returns"]["projected"]] == [D("1200.00"), D("1200.00")]
    assert [D(r["distributed"]) for r in status["returns"]["realised"]] == [D(0), D(0)]
    assert status["returns"]["realised"][0]["irr"] is None  # nothing received yet

    # Entry 2 paid (its steps are the ledger's business, tested there; here only where its money is counted).
    import api.status

    monkeypatch.setattr(api.status, "current_status", lambda e, c: {**current_status(e, c), 2: "paid"})
    api.status.clear_cache()
    pay = investor_status(engine, stored)["payments"]
    assert (D(pay["received"]), D(pay["expected"]), D(pay["by_status"]["rejected"])) == (
        D("1200.00"), D(0), D("2400.00"))
    status = investor_status(engine, stored)
    assert [D(r["distributed"]) for r in status["returns"]["realised"]] == [D("1200.00"), D("1200.00")]
    assert status["returns"]["realised"] == status["returns"]["projected"]


# -- (d) the same numbers in the CLI, the API and the dashboard ---------------------------------------------------

def test_cli_api_and_dashboard_show_the_same_forecast(demo_copy) -> None:
    from api.access import add_user
    from api.http import create_app
    from api.status import clear_cache
    from store.db import open_store
    from tests.test_pages import log_in

    folder, sib = demo_copy
    contract = "norrkoping-foster-care"  # the case: a good chance that nothing is paid
    cli = json.loads(sib("forecast", contract, "--json").out)
    assert (cli["simulations"], cli["seed"]) == (SIMULATIONS, SEED) == (1000, 20240601)
    engine = open_store(f"sqlite:///{folder / 'sib.db'}")
    try:
        token = add_user(engine, "investor-1", "investor", [contract])
        clear_cache()
        client = TestClient(create_app(engine))
        api = client.get(f"/api/v1/contracts/{contract}/status", headers={"Authorization": f"Bearer {token}"}).json()
        log_in(client, token)
        page = client.get(f"/contracts/{contract}/dashboard?lang=en").text
    finally:
        engine.dispose()
    shown = api["forecast"]
    for key in ("simulations", "seed", "evaluation_run", "total", "by_payer", "by_period", "irr", "expected_total",
                "expected_by_payer", "probability_of_any_payment", "probability_of_loss"):
        assert shown[key] == cli[key], key
    assert [n["text"] for n in shown["notes"]] == [n["text"] for n in cli["notes"]]
    # The numbers: P50 payment 6,875,680 for 1,000 simulations; IRR over every simulation.
    assert cli["total"]["p50"] == "6875680.00"
    assert Decimal(cli["irr"]["p10"]) == NOTHING_BACK and Decimal(cli["irr"]["p50"]) < 0
    assert Decimal(cli["probability_of_loss"]) >= 1 - Decimal(cli["probability_of_any_payment"])
    plain = page.replace(i18n.NBSP, " ")
    for figure in (i18n.money(cli["total"]["p50"], "SEK", "en"), i18n.money(cli["expected_total"], "SEK", "en"),
                   i18n.percent(cli["irr"]["p50"], "en", 1, False), i18n.percent(cli["irr"]["p10"], "en", 1, False),
                   i18n.percent(cli["probability_of_loss"], "en", 1, False)):
        assert figure.replace(i18n.NBSP, " ") in plain, figure


def test_shared_simulations_are_the_same_paths_and_never_another_run_s() -> None:
    """The forecast, the board summary and the business case share one drawing of a run's simulations: the same
    numbers as drawing them again, drawn once, and keyed by everything they depend on (here: the estimate)."""
    from payments.forecast import shared_paths

    c = threshold_contract(60000)
    first, second = run_of([uncertain(-0.0948)]), run_of([uncertain(-0.20)])
    fresh = [(p.total, p.by_period) for p in paths(c, first, outcomes(), 200, SEED)]
    kept = shared_paths(c, first, outcomes(), 200, SEED)
    assert [(p.total, p.by_period) for p in kept] == fresh
    assert shared_paths(c, first, outcomes(), 200, SEED) is kept  # drawn once
    other = [(p.total, p.by_period) for p in shared_paths(c, second, outcomes(), 200, SEED)]
    assert other == [(p.total, p.by_period) for p in paths(c, second, outcomes(), 200, SEED)] and other != fresh
    assert shared_paths(c, first, outcomes(), 100, SEED) is not kept  # another number of simulations
