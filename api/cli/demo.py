"""`sib demo`: the whole chain on the four example contracts."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from api.cli.common import JSON_OPTION, app, bar, out, print_json, w
from api.cli.evaluate import effect_text


@app.command()
def demo(directory: Path = typer.Option(Path("sib-demo"), "--dir", help="Where the demo store and reports go."),
         as_json: bool = JSON_OPTION) -> None:
    """Load the four example contracts, ingest synthetic data, evaluate, pay, value and report."""
    from api.demo import run_demo

    said = w()
    with bar() as shown:
        task = shown.add_task(said._("Demo"), total=None)

        def step(text: str, total: int | None = None) -> None:
            if total is not None:
                shown.update(task, total=total)
            shown.update(task, advance=1, description=text)

        summary = run_demo(directory, step, said)
    if as_json:
        print_json(summary)
        return
    table = Table(said._("contract"), said._("participants"), said._("outcome"), said._("effect [95 % CI]"),
                  said._("payments calculated"), said._("investor net if paid (multiple)"),
                  title=said._("sib demo: four illustrative contracts on synthetic data"))
    for row in summary["contracts"]:
        table.add_row(row["contract"], _participants(row), _achieved(row), _effect(row),
                      said.money(Decimal(row["payments_due"]), row["currency"]), _investor(row))
    out.print(table)
    _business_cases(summary["contracts"])
    out.print(said._("Outcome: participants achieving the paid outcome, or the cohort mean against its "
                     "counterfactual, on {metrics}.", metrics=", ".join(r["primary_metric"] for r in summary["contracts"])))
    url, key = summary["database_url"], summary.get("key_file", "sib-demo/sib.key")
    out.print(said._("Store: {url}; pseudonymisation and sealing key: {key}", url=url, key=key))
    out.print(said._("Reports: {reports}", reports=", ".join(summary["reports"])))
    out.print(said._("Next: open a report above; or explore the store with the same two settings, e.g. "
                     "DATABASE_URL={url} SIB_KEY_FILE={key} sib valuation gotland-family-team; or serve the pages: "
                     "add a user with 'sib users add NAME --role intermediary --all-contracts' (same settings), run "
                     "'sib serve' and log in at http://127.0.0.1:8000/login with its token.", url=url, key=key))


def _business_cases(rows: list[dict[str, Any]]) -> None:
    """Each payer's (and each saving department's) net position, where the contract has a valuation."""
    said = w()
    table = Table(said._("contract"), said._("department"), said._("funds"), said._("saves (cashable)"),
                  said._("net"), title=said._("The payers' business case (sib valuation): who funds, where the "
                                              "savings land"))
    notes = []
    for row in rows:
        case = row.get("business_case")
        if not case:
            continue
        money = (lambda v: said.money(Decimal(v), row["currency"]))
        for d in case["departments"]:
            table.add_row(row["contract"], d["name"], money(d["funds"]), money(d["saves"]), money(d["net"]))
        band = case["net_band"]
        notes.append(said._("{contract}: net position {net} (P10–P90 {low} – {high}), break-even {month}",
                            contract=row["contract"], net=money(case["net_total"]),
                            low=money(band["p10"]) if band else "—", high=money(band["p90"]) if band else "—",
                            month=case["break_even"] or said._("not within the horizon")))
    if notes:
        out.print(table)
        for note in notes:
            out.print(note)


def _participants(row: dict[str, Any]) -> str:
    said = w()
    if row["comparison_pool"]:
        return said._("{n} + {pool} pool", n=row["participants"], pool=row["comparison_pool"])
    return said.integer(row["participants"])


def _achieved(row: dict[str, Any]) -> str:
    said = w()
    if row["outcomes_achieved"] is not None:
        return f"{said.integer(row['outcomes_achieved'])} / {said.integer(row['n_treated'])}"
    return said._("{treated} vs {counterfactual}", treated=said.number(row["treated_mean"], None),
                  counterfactual=said.number(row["counterfactual_mean"], None))


def _effect(row: dict[str, Any]) -> str:
    text = effect_text(row["estimate"], row["ci_low"], row["ci_high"], None)
    return text + (f" ({w().percent(row['relative_effect'])})" if row["relative_effect"] is not None else "")


def _investor(row: dict[str, Any]) -> str:
    said = w()
    investor = row["investor"]
    if not investor:
        return "—"
    multiple = said.number(Decimal(str(investor["multiple"])), 2) if investor.get("multiple") is not None else "—"
    return f"{said.money(Decimal(investor['net']), row['currency'])} (×{multiple})"
