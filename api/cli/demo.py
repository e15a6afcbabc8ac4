"""`sib demo`: the whole chain on the three example contracts."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from api.cli.common import JSON_OPTION, app, bar, out, print_json


@app.command()
def demo(directory: Path = typer.Option(Path("sib-demo"), "--dir", help="Where the demo store and reports go."),
         as_json: bool = JSON_OPTION) -> None:
    """Load the three example contracts, ingest synthetic data, evaluate, pay and report."""
    from api.demo import run_demo

    with bar() as shown:
        task = shown.add_task("Demo", total=None)

        def step(text: str, total: int | None = None) -> None:
            if total is not None:
                shown.update(task, total=total)
            shown.update(task, advance=1, description=text)

        summary = run_demo(directory, step)
    if as_json:
        print_json(summary)
        return
    table = Table("contract", "participants", "outcome", "effect [95 % CI]", "payments due", "investor net (multiple)",
                  title="sib demo: three illustrative contracts on synthetic data")
    for row in summary["contracts"]:
        table.add_row(row["contract"], row["participants_text"], row["achieved_text"], row["effect_text"],
                      row["payments_text"], row["investor_text"])
    out.print(table)
    out.print("Outcome: participants achieving the paid outcome, or the cohort mean against its counterfactual, on "
              + ", ".join(f"{r['primary_metric']}" for r in summary["contracts"]) + ".")
    out.print(f"Store: {summary['database_url']}  (explore: DATABASE_URL={summary['database_url']} sib contract list)")
    out.print(f"Reports: {', '.join(summary['reports'])}")
