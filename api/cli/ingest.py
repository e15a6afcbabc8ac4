"""`sib ingest`, `sib batches`, `sib verify` and `sib history`: delivered files, their batches and corrections."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.table import Table

from api.cli.common import JSON_OPTION, UserError, app, err, out, print_json, progress
from language import formatting as fmt
from outcomes.kinds import KINDS


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

    if kind not in KINDS:
        raise UserError(f"--kind {kind!r} is not allowed; expected one of: {', '.join(KINDS)}")
    if errors is not None and errors.suffix.lower() not in (".csv", ".json"):
        raise UserError(f"--errors {errors} must end in .csv or .json")
    file_mapping = load_mapping_file(mapping) if mapping is not None else None
    engine = open_store()
    stored = get_contract(engine, contract_id)
    key = load_key()
    with progress(f"Ingesting {file.name}"):
        try:
            report = ingest_file(engine, stored.latest.terms, file, kind, key, mapping=file_mapping, dry_run=dry_run)
        except IngestRefused as refused:
            if errors is not None:
                write_error_report(refused.report, errors)
            if as_json:
                print_json(refused.report.as_dict())
            else:
                for e in refused.report.as_dict()["errors"][:50]:
                    where = f"row {e['row']}, column {e['column']}" if e["column"] else f"row {e['row']}"
                    err.print(f"{file.name}: {where}: {e['reason']}", markup=False)
                if refused.report.errors_total > 50:
                    more = refused.report.errors_total - 50
                    err.print(f"... and {more:,} more error{'s' if more != 1 else ''}"
                              + ("" if errors else "; --errors FILE writes them all"), markup=False)
            raise UserError(str(refused) + (f"; error report in {errors}" if errors else "")) from None
    if as_json:
        print_json(report.as_dict())
    elif report.status == "already_imported":
        out.print(f"{file.name} was already imported as batch {report.batch_id}; nothing changed.")
    elif report.status == "dry_run":
        out.print(f"{file.name}: {report.rows} rows are valid ({_counts(report.counts)}); dry run, nothing stored.")
    else:
        notes = f" Note: {'; '.join(report.notes)}." if report.notes else ""
        out.print(f"{file.name}: stored as batch {report.batch_id} ({_counts(report.counts)}).{notes}")


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{n:,} {what.replace('_', ' ')}" for what, n in counts.items())


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
    table = Table("batch", "kind", "file", "rows", "imported", "verified")
    for r in rows:
        table.add_row(str(r["id"]), r["kind"], r["filename"], f"{r['rows']:,}",
                      f"{r['created_at']:%Y-%m-%d %H:%M} by {r['created_by']}",
                      f"{r['verified_at']:%Y-%m-%d %H:%M} by {r['verified_by']}" if r["verified_at"] else "no")
    out.print(table)


@app.command()
def verify(batch: int) -> None:
    """Mark an import batch verified (the intermediary's check); its measurements then count."""
    from outcomes.batches import verify_batch
    from store.db import open_store

    contract_id = verify_batch(open_store(), batch)
    out.print(f"Batch {batch} of {contract_id!r} is verified.")


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
    if not rows:
        out.print(f"No corrections in {contract_id!r}.")
        return
    table = Table("participant", "metric", "date", "was", "now", "batch", "corrected in")
    for r in rows:
        table.add_row(r["participant"] + "…", r["metric"], str(r["observed_on"]), fmt.number(r["old_value"], None),
                      fmt.number(r["new_value"], None), str(r["old_batch"]), str(r["new_batch"]))
    out.print(table)
