"""`sib ingest`, `sib batches`, `sib verify` and `sib history`: delivered files, their batches and corrections."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import typer
from rich.table import Table

from api.cli.common import JSON_OPTION, UserError, app, err, out, print_json, progress, w, UsageProblem
from outcomes import KINDS


@app.command()
def ingest(contract_id: str, file: Path,
           kind: str = typer.Option(..., "--kind", help=f"One of: {', '.join(KINDS)}."),
           mapping: Optional[Path] = typer.Option(None, "--mapping", help="A YAML file mapping the file's columns, "
                                                 "formats and units onto ours (default: the contract's, if any)."),
           errors: Optional[Path] = typer.Option(None, "--errors", help="Write the error report of a refused file "
                                                "here (.csv or .json)."),
           dry_run: bool = typer.Option(False, "--dry-run", help="Validate only; store nothing."),
           as_json: bool = JSON_OPTION) -> None:
    """Validate a delivered file and store it as one batch (all rows or none)."""
    from contracts.loader import load_mapping_file
    from contracts.registry import get_contract
    from outcomes.ingest import IngestRefused, ingest_file
    from outcomes.pseudonym import load_key
    from outcomes.report import write_error_report
    from store.db import open_store

    said = w()
    if kind not in KINDS:
        raise UsageProblem(said._("--kind '{kind}' is not allowed; expected one of: {kinds}", kind=kind,
                               kinds=", ".join(KINDS)))
    if errors is not None and errors.suffix.lower() not in (".csv", ".json"):
        raise UsageProblem(said._("--errors {path} must end in .csv or .json", path=errors))
    file_mapping = load_mapping_file(mapping) if mapping is not None else None
    engine = open_store()
    stored = get_contract(engine, contract_id)
    key = load_key()
    with progress(said._("Ingesting {file}", file=file.name)) as shown:
        try:  # rows read of the rows in the file (counted only when someone watches the bar)
            report = ingest_file(engine, stored.latest.terms, file, kind, key, mapping=file_mapping, dry_run=dry_run,
                                 progress=(lambda done, total: shown.at(done, total)) if shown.showing else None)
        except IngestRefused as refused:
            if errors is not None:
                write_error_report(refused.report, errors, said)
            if as_json:
                print_json(refused.report.as_dict(said))
            else:
                print_refusal(file.name, refused.report, said, errors is not None)
            summary = said.message(refused.message)
            raise UserError(said._("{summary}; error report in {path}", summary=summary, path=errors) if errors
                            else summary) from None
    if as_json:
        print_json(report.as_dict())
    elif report.status == "already_imported":
        out.print(said._("{file} was already imported as batch {batch}; nothing changed.", file=file.name,
                         batch=report.batch_id))
    elif report.status == "dry_run":
        out.print(said._("{file}: {rows} rows are valid ({counts}); dry run, nothing stored.", file=file.name,
                         rows=report.rows, counts=_counts(report.counts)))
    else:
        line = said._("{file}: stored as batch {batch} ({counts}).", file=file.name, batch=report.batch_id,
                      counts=_counts(report.counts))
        if report.notes:
            line += " " + said._("Note: {notes}.", notes="; ".join(said.messages(report.notes)))
        out.print(line)


def _counts(counts: dict[str, int]) -> str:
    said = w()
    return ", ".join(f"{said.integer(n)} {said.label('count', what)}" for what, n in counts.items())


@app.command()
def batches(contract_id: str, as_json: bool = JSON_OPTION) -> None:
    """The import batches of a contract and whether each is verified."""
    from contracts.registry import get_contract
    from outcomes.batches import list_batches
    from store.db import open_store

    engine = open_store()
    get_contract(engine, contract_id)
    rows = list_batches(engine, contract_id)
    if as_json:
        print_json({"batches": rows})
        return
    said = w()
    table = Table(said._("batch"), said._("kind"), said._("file"), said._("rows"), said._("imported"),
                  said._("verified"))
    for r in rows:
        created, verified = (r[k].strftime("%Y-%m-%d %H:%M") if r[k] else None for k in ("created_at", "verified_at"))
        table.add_row(str(r["id"]), said.label("file", r["kind"]), r["filename"], said.integer(r["rows"]),
                      said._("{at} by {who}", at=created, who=r["created_by"]),
                      said._("{at} by {who}", at=verified, who=r["verified_by"]) if verified else said._("no"))
    out.print(table)


@app.command()
def verify(batch: int) -> None:
    """Mark an import batch verified (the intermediary's check); its measurements then count."""
    from outcomes.batches import verify_batch
    from store.db import open_store

    contract_id = verify_batch(open_store(), batch)
    out.print(w()._("Batch {batch} of '{contract}' is verified.", batch=batch, contract=contract_id))


@app.command()
def history(contract_id: str, as_json: bool = JSON_OPTION) -> None:
    """Corrected measurements: each superseded value beside the one that replaced it."""
    from contracts.registry import get_contract
    from outcomes.batches import corrections
    from store.db import open_store

    engine = open_store()
    get_contract(engine, contract_id)
    frame = corrections(engine, contract_id)
    rows = frame[["participant", "metric", "observed_on", "old_value", "new_value", "old_batch", "new_batch"]].to_dict(
        orient="records")
    if as_json:
        print_json({"contract": contract_id, "corrections": rows})
        return
    said = w()
    if not rows:
        out.print(said._("No corrections in '{contract}'.", contract=contract_id))
        return
    table = Table(said._("participant"), said._("outcome metric"), said._("date"), said._("was"), said._("now"),
                  said._("batch"), said._("corrected in"))
    for r in rows:
        table.add_row(r["participant"] + "…", r["metric"], str(r["observed_on"]), said.number(r["old_value"], None),
                      said.number(r["new_value"], None), str(r["old_batch"]), str(r["new_batch"]))
    out.print(table)


def print_refusal(name: str, report: Any, said: Any, written: bool) -> None:
    """A refused file's report on stderr, one line per reason (how many rows, the first three), not one line per
    error: a mistake repeated on 10,000 rows is one line."""
    hidden = False
    for group in report.by_reason(said):
        first = group["first"][0]
        if group["count"] == 1:
            where = (said._("row {row}, column {column}", row=first["row"], column=first["column"]) if first["column"]
                     else said._("row {row}", row=first["row"]))
        else:
            rows = ", ".join(str(e["row"]) for e in group["first"])
            more = group["count"] > len(group["first"])
            hidden = hidden or more
            where = said.ngettext("{n} row ({rows}{more})", "{n} rows ({rows}{more})", group["count"], rows=rows,
                                  more=", ..." if more else "")
            if group["column"]:
                where = said._("column {column}, {rows}", column=group["column"], rows=where)
        err.print(f"{name}: {where}: {first['reason']}", markup=False)
    if report.errors_total > len(report.errors):
        hidden = True
        err.print(said.ngettext("... and {n} more error not listed", "... and {n} more errors not listed",
                                report.errors_total - len(report.errors)), markup=False)
    if hidden and not written:
        err.print(said._("'--errors FILE' writes every error with its row, column and value"), markup=False)
