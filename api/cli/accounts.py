"""`sib accounts`: the outcome payer's obligations at a balance date, for its annual accounts (RKR R9)."""

from __future__ import annotations

from typing import Any

import typer
from rich.table import Table

from api.cli.common import JSON_OPTION, UserError, app, out, parse_day, print_json, w
from language import MessageError

FIGURES = ("liability", "provision", "contingent_liability", "paid")


def _forecast(engine: Any, stored: Any, day: Any, simulations: int, seed: int) -> tuple[Any, dict[str, Any] | None]:
    """The forecast the provision reads, with the run it came from; (None, None) without a run that may be paid.

    The one place the accounts get a forecast.  The run is the latest as of the balance date or earlier (a
    later run counts participants enrolled after the balance date): when that is the contract's latest run,
    the forecast every other view shows (``payments.forecast.contract_forecast``); else the same simulation of
    the earlier run.
    """
    import payments.forecast as forecasting
    from evaluation.run import get_run, get_run_by_id, list_runs, run_outcomes
    from payments.calculate import check_run
    from payments.ledger import current_status, read_ledger

    runs = [r for r in list_runs(engine, stored.id) if r.as_of <= day and not r.include_unverified]
    if not runs:
        return None, None
    chosen = max(runs, key=lambda r: (r.as_of, r.id))
    latest = get_run(engine, stored.id)
    try:
        if latest is not None and latest.id == chosen.id and hasattr(forecasting, "contract_forecast"):
            forecast = forecasting.contract_forecast(engine, stored, simulations, seed)
        else:
            run = get_run_by_id(engine, chosen.id)
            booked = ((forecasting.booked_of(read_ledger(engine, stored.id), current_status(engine, stored.id),
                                             run.id),) if hasattr(forecasting, "booked_of") else ())
            forecast = forecasting.simulate(check_run(stored, run), run, run_outcomes(engine, run.id), simulations,
                                            seed, *booked)
    except (UserError, MessageError):
        return None, None
    if forecast is None:
        return None, None
    return forecast, {"evaluation_run": chosen.id, "as_of": chosen.as_of.isoformat()}


@app.command()
def accounts(contract_id: str,
             balance_date: str = typer.Option(..., "--balance-date", help="The balance date, YYYY-MM-DD."),
             simulations: int = typer.Option(1000, "--simulations", min=10, max=100000,
                                             help="Simulations of the forecast the provision uses."),
             seed: int = typer.Option(20240601, "--seed", help="Seed of that forecast."),
             as_json: bool = JSON_OPTION) -> None:
    """Each outcome payer's liability, provision and contingent liability at a balance date (RKR R9), with
    the basis of each figure; see docs/payments.md."""
    from contracts.registry import get_contract
    from language.names import Names
    from language.words import words
    from payments.accounts import classify
    from payments.ledger import read_ledger, read_steps
    from store.db import open_store

    day = parse_day(balance_date, "--balance-date")
    engine = open_store()
    stored = get_contract(engine, contract_id)
    contract = stored.as_of(day).terms
    said = words(w().lang, contract.currency)
    names = Names(contract, said)
    forecast, run = _forecast(engine, stored, day, simulations, seed)
    result = classify(contract, read_ledger(engine, contract_id), read_steps(engine, contract_id), day, forecast, run)
    if as_json:
        data = result.as_dict()
        for payer in [*data["payers"], data["total"]]:
            for name in FIGURES:
                basis = payer[name]["basis"]
                basis["explanation"] = [said.explained(m, names) for m in basis["explanation"]]
                if basis.get("cap_source"):
                    basis["cap_source"] = said.explained(basis["cap_source"], names)
        print_json({**data, "evaluation_run": (run or {}).get("evaluation_run"),
                    "notes": [said.explained(n, names) for n in data["notes"]]})
        return
    cur = contract.currency
    out.print(said._("Obligations of the outcome payers of '{contract}' at the balance date {day} (RKR R9):",
                     contract=contract_id, day=said.day(day)))
    headings = {"liability": said._("liability"), "provision": said._("provision"),
                "contingent_liability": said._("contingent liability"), "paid": said._("paid (for reference)")}
    for payer in [*result.payers, result.total]:
        title = said._("total") if payer.payer == "total" else said._(
            "{payer} (share {share})", payer=names.party(payer.payer),
            share=said.percent(payer.share, signed=False) if payer.share is not None else "—")
        table = Table("", said._("amount"), said._("basis"), title=title, title_justify="left")
        for name in FIGURES:
            figure = getattr(payer, name)
            amount = said.money(figure.amount, cur) if figure.amount is not None else said._("no cap")
            basis = "; ".join(said.message(m, names) for m in figure.basis["explanation"])
            table.add_row(headings[name], amount, basis)
        out.print(table)
    for note in result.notes:
        out.print(said._("Note: {note}", note=said.message(note, names)))
