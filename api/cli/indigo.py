"""`sib indigo ...`: the INDIGO impact bond dataset (Government Outcomes Lab): import, export, compare."""

from __future__ import annotations

import sys
from decimal import Decimal
from pathlib import Path
from typing import Any, Optional

import typer
from rich.table import Table

from api.cli.common import JSON_OPTION, UserError, app, chosen_version, out, print_json, progress
from language import formatting as fmt

indigo_app = typer.Typer(no_args_is_help=True, help="The INDIGO data standard: import the public impact bond dataset, "
                         "export a contract, compare its prices with the market.")
app.add_typer(indigo_app, name="indigo")


@indigo_app.command("import")
def indigo_import(path: Path = typer.Argument(..., metavar="DIR", help="A folder of INDIGO CSV tables, or one INDIGO "
                                             "project document (.json)."),
                  show: int = typer.Option(20, "--show", min=0, help="Refused values to list (all with --json)."),
                  as_json: bool = JSON_OPTION) -> None:
    """Store INDIGO projects as reference projects (never contracts); every unreadable value is reported."""
    from indigo import CREDIT
    from indigo.export import loads, read_document
    from indigo.importer import DATASET, DOCUMENT, store_dataset
    from indigo.tables import DatasetError, read_dataset
    from store.db import open_store

    engine = open_store()
    with progress("Reading the INDIGO tables") as step:
        try:
            if path.is_file():
                try:
                    data, source = read_document(loads(path.read_text(encoding="utf-8"))), DOCUMENT
                except (ValueError, UnicodeDecodeError) as exc:
                    raise UserError(f"{path} is not an INDIGO project document: {str(exc).splitlines()[0]}") from None
            elif path.is_dir():
                data, source = read_dataset(path), DATASET
            else:
                raise UserError(f"no folder or file {path}")
        except DatasetError as exc:
            raise UserError(str(exc)) from None
        step(text="Storing the reference projects")
        summary = store_dataset(engine, data, source)
    if as_json:
        print_json({**summary.as_dict(), "refusals": [r.as_dict() for r in data.refusals], "credit": CREDIT})
        return
    out.print(f"Imported {summary.projects} INDIGO project{'s' if summary.projects != 1 else ''} as reference projects: "
              f"{summary.metrics} outcome metrics, {summary.prices} prices, {summary.payments} payments, "
              f"{summary.results} results, {summary.investments} investments, {summary.commitments} payer commitments, "
              f"{summary.organisations} organisations.")
    if summary.refused:
        kinds = ", ".join(f"{kind} {n}" for kind, n in summary.refused_by_kind.items())
        out.print(f"{summary.refused} value{'s' if summary.refused != 1 else ''} could not be read and "
                  f"{'were' if summary.refused != 1 else 'was'} left empty ({kinds}); the rest of each project was imported.")
        if show:
            table = Table("project", "table", "field", "value", "why")
            for r in data.refusals[:show]:
                table.add_row(r.project_id or "", r.table, r.field, r.value, r.reason)
            out.print(table)
            if summary.refused > show:
                out.print(f"… and {summary.refused - show} more (all of them with --json).")
    else:
        out.print("Every value was read.")
    out.print(CREDIT)


@indigo_app.command("export")
def indigo_export(contract_id: str = typer.Argument(..., metavar="CONTRACT"),
                  out_file: Optional[Path] = typer.Option(None, "--out", help="The file to write (default: stdout)."),
                  version: Optional[int] = typer.Option(None, help="A version (default: latest).")) -> None:
    """A contract as an INDIGO project document (JSON, valid against INDIGO's project schema v4.1)."""
    from contracts.registry import get_contract
    from indigo.export import dumps, export_project, validation_errors
    from store.db import open_store

    chosen = chosen_version(get_contract(open_store(), contract_id), version)
    doc = export_project(chosen.terms)
    problems = validation_errors(doc)
    if problems:  # a bug of ours, never the user's: say where
        raise UserError(f"the INDIGO document of {contract_id!r} does not validate: {problems[0]}")
    text = dumps(doc) + "\n"
    if out_file is None:
        sys.stdout.write(text)
        return
    if not out_file.parent.exists():
        raise UserError(f"cannot write {out_file}: folder {out_file.parent} does not exist")
    out_file.write_text(text, encoding="utf-8")
    out.print(f"Wrote {out_file} (INDIGO project, schema v4.1)")


@indigo_app.command("compare")
def indigo_compare(contract_id: str = typer.Argument(..., metavar="CONTRACT"),
                   limit: int = typer.Option(10, "--limit", min=1, max=319, help="How many projects to list."),
                   as_json: bool = JSON_OPTION) -> None:
    """INDIGO projects like the contract (policy sector, outcome definitions), with their prices, caps and results."""
    from contracts.registry import get_contract
    from indigo import CREDIT
    from indigo.compare import compare, comparison_json
    from indigo.importer import load_reference
    from store.db import open_store

    engine = open_store()
    contract = get_contract(engine, contract_id).latest.terms
    projects = load_reference(engine)
    found = compare(contract, projects, limit)
    if as_json:
        print_json(comparison_json(contract, found))
        return
    if not projects:
        raise UserError("no INDIGO reference projects in the store; import the dataset first: sib indigo import DIR")
    data = comparison_json(contract, found)
    out.print(f"{contract.name} ({contract.id}): INDIGO sector(s) {', '.join(data['sectors']) or 'none found'}")
    for p in data["our_prices"]:
        out.print(f"  our price for {p['metric']}: {fmt.money(Decimal(p['price']), contract.currency)}"
                  + (f", cap {fmt.money(Decimal(p['cap']), contract.currency)}" if p["cap"] else ""))
    if not found:
        out.print("No INDIGO project shares a sector or outcome words with this contract.")
    table = Table("#", "project", "country", "sector", "score", "their outcome", "price", "price USD", "cap",
                  "results", "our metric, price")
    for n, c in enumerate(found, start=1):
        m = c.match
        price = f"{m.price:,} {m.price_currency or ''}".strip() if m and m.price is not None else "—"
        usd = f"{m.price_usd:,}" if m and m.price_usd is not None else "—"
        cap = (f"{c.max_outcome_payment:,} {c.currency or ''}".strip() if c.max_outcome_payment is not None else "—")
        results = "; ".join(_indigo_result(r) for r in m.results) if m and m.results else "—"
        ours = (f"{m.our_metric}, {fmt.money(m.our_price, contract.currency)}" if m and m.our_price is not None
                else (m.our_metric if m else "—"))
        table.add_row(str(n), f"{c.name} ({c.project_id})", c.country or "", c.policy_sector or "", f"{c.score:.2f}",
                      _short(m.their_definition if m else None, 70), price, usd, cap, _short(results, 60), ours)
    out.print(table)
    out.print(CREDIT)


def _short(text: str | None, width: int) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= width else text[: width - 1] + "…"


def _indigo_result(r: dict[str, Any]) -> str:
    counts = (f"{r['number_positive']} of {r['number_engaged']} engaged" if r.get("number_positive") is not None
              and r.get("number_engaged") else f"{r['number_engaged']} engaged" if r.get("number_engaged") else "")
    return " ".join(x for x in (r.get("type") or "", r.get("outcomes_achieved") or "", counts) if x)
