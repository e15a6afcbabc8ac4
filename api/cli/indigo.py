"""`sib indigo ...`: the INDIGO impact bond dataset (Government Outcomes Lab): import, export, compare."""

from __future__ import annotations

import sys
from decimal import Decimal
from pathlib import Path
from typing import Any, Optional

import typer
from rich.table import Table

from api.cli.common import JSON_OPTION, UserError, app, chosen_version, out, print_json, progress, w

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

    said = w()
    engine = open_store()
    with progress(said._("Reading the INDIGO tables")) as step:
        try:
            if path.is_file():
                try:
                    data, source = read_document(loads(path.read_text(encoding="utf-8"))), DOCUMENT
                except (ValueError, UnicodeDecodeError) as exc:
                    raise UserError(said._("{path} is not an INDIGO project document: {reason}", path=path,
                                           reason=str(exc).splitlines()[0])) from None
            elif path.is_dir():
                data, source = read_dataset(path), DATASET
            else:
                raise UserError(said._("no folder or file {path}", path=path))
        except DatasetError as exc:
            raise UserError(str(exc)) from None
        step(text=said._("Storing the reference projects"))
        summary = store_dataset(engine, data, source)
    if as_json:
        print_json({**summary.as_dict(), "refusals": [r.as_dict() for r in data.refusals], "credit": CREDIT})
        return
    out.print(said.ngettext(
        "Imported {n} INDIGO project as reference projects: {metrics} outcome metrics, {prices} prices, {payments} "
        "payments, {results} results, {investments} investments, {commitments} payer commitments, {organisations} "
        "organisations.",
        "Imported {n} INDIGO projects as reference projects: {metrics} outcome metrics, {prices} prices, {payments} "
        "payments, {results} results, {investments} investments, {commitments} payer commitments, {organisations} "
        "organisations.", summary.projects, metrics=summary.metrics, prices=summary.prices, payments=summary.payments,
        results=summary.results, investments=summary.investments, commitments=summary.commitments,
        organisations=summary.organisations))
    if summary.refused:
        kinds = ", ".join(f"{kind} {n}" for kind, n in summary.refused_by_kind.items())
        out.print(said.ngettext("{n} value could not be read and was left empty ({kinds}); the rest of each project "
                                "was imported.",
                                "{n} values could not be read and were left empty ({kinds}); the rest of each "
                                "project was imported.", summary.refused, kinds=kinds))
        if show:
            table = Table(said._("project"), said._("table"), said._("field"), said._("value"), said._("why"))
            for r in data.refusals[:show]:
                table.add_row(r.project_id or "", r.table, r.field, r.value, r.reason)
            out.print(table)
            if summary.refused > show:
                out.print(said._("… and {n} more (all of them with --json).", n=summary.refused - show))
    else:
        out.print(said._("Every value was read."))
    out.print(CREDIT)


@indigo_app.command("export")
def indigo_export(contract_id: str = typer.Argument(..., metavar="CONTRACT"),
                  out_file: Optional[Path] = typer.Option(None, "--out", help="The file to write (default: stdout)."),
                  version: Optional[int] = typer.Option(None, help="A version (default: latest).")) -> None:
    """A contract as an INDIGO project document (JSON, valid against INDIGO's project schema v4.1)."""
    from contracts.registry import get_contract
    from indigo.export import dumps, export_project, validation_errors
    from store.db import open_store

    said = w()
    chosen = chosen_version(get_contract(open_store(), contract_id), version)
    doc = export_project(chosen.terms)
    problems = validation_errors(doc)
    if problems:  # a bug of ours, never the user's: say where
        raise UserError(said._("the INDIGO document of '{contract}' does not validate: {problem}",
                               contract=contract_id, problem=problems[0]))
    text = dumps(doc) + "\n"
    if out_file is None:
        sys.stdout.write(text)
        return
    if not out_file.parent.exists():
        raise UserError(said._("cannot write {path}: folder {folder} does not exist", path=out_file,
                               folder=out_file.parent))
    out_file.write_text(text, encoding="utf-8")
    out.print(said._("Wrote {path} (INDIGO project, schema v4.1)", path=out_file))


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
    said = w()
    if not projects:
        raise UserError(said._("no INDIGO reference projects in the store; import the dataset first: sib indigo "
                               "import DIR"))
    data = comparison_json(contract, found)
    out.print(said._("{name} ({id}): INDIGO sector(s) {sectors}", name=contract.name, id=contract.id,
                     sectors=", ".join(data["sectors"]) or said._("none found")))
    for p in data["our_prices"]:
        line = said._("  our price for {metric}: {price}", metric=p["metric"],
                      price=said.money(Decimal(p["price"]), contract.currency))
        out.print(line + (said._(", cap {cap}", cap=said.money(Decimal(p["cap"]), contract.currency)) if p["cap"] else ""))
    if not found:
        out.print(said._("No INDIGO project shares a sector or outcome words with this contract."))
    table = Table("#", said._("project"), said._("country"), said._("sector"), said._("score"), said._("their outcome"),
                  said._("price"), said._("price USD"), said._("cap"), said._("results"), said._("our metric, price"))
    for n, c in enumerate(found, start=1):
        m = c.match
        price = f"{m.price:,} {m.price_currency or ''}".strip() if m and m.price is not None else "—"
        usd = f"{m.price_usd:,}" if m and m.price_usd is not None else "—"
        cap = (f"{c.max_outcome_payment:,} {c.currency or ''}".strip() if c.max_outcome_payment is not None else "—")
        results = "; ".join(_indigo_result(r) for r in m.results) if m and m.results else "—"
        ours = (f"{m.our_metric}, {said.money(m.our_price, contract.currency)}" if m and m.our_price is not None
                else (m.our_metric if m else "—"))
        table.add_row(str(n), f"{c.name} ({c.project_id})", c.country or "", c.policy_sector or "", f"{c.score:.2f}",
                      _short(m.their_definition if m else None, 70), price, usd, cap, _short(results, 60), ours)
    out.print(table)
    out.print(CREDIT)


def _short(text: str | None, width: int) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= width else text[: width - 1] + "…"


def _indigo_result(r: dict[str, Any]) -> str:
    said = w()
    counts = (said._("{positive} of {engaged} engaged", positive=r["number_positive"], engaged=r["number_engaged"])
              if r.get("number_positive") is not None and r.get("number_engaged")
              else said._("{engaged} engaged", engaged=r["number_engaged"]) if r.get("number_engaged") else "")
    return " ".join(x for x in (r.get("type") or "", r.get("outcomes_achieved") or "", counts) if x)
