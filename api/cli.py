"""The `sib` command line.

Thin by design: every command parses its arguments, calls one function of
contracts/, outcomes/, evaluation/ or payments/, and prints the result as a
table (or as JSON with ``--json``).  A user mistake ends with one line on
stderr and exit code 1; wrong usage exits 2.  Progress bars go to stderr, so
``--json`` output on stdout stays clean.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any, Iterator, Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy.exc import OperationalError, ProgrammingError

try:  # typer 0.2x carries its own copy of click
    from typer._click import exceptions as click_exceptions
except ImportError:  # pragma: no cover - older typer uses click itself
    from click import exceptions as click_exceptions

from api import formatting as fmt
from contracts import ContractFileError, load_contract_file
from contracts.registry import UnknownContract, VersionConflict, get_contract, list_contracts, store_contract
from outcomes.batches import BatchError, list_batches, verify_batch
from outcomes.checks import KINDS
from outcomes.ingest import IngestError, IngestRefused, ingest_file
from outcomes.pseudonym import MissingKeyError, init_key, load_key
from outcomes.readers import UnreadableFile
from decimal import Decimal

from payments.money import ZERO
from evaluation.errors import UnknownRun
from store.db import StoreError, database_url, describe, init_store, open_store

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)
if not out.is_terminal:  # piped: tables as wide as they need, not the 80-column default
    out.width = 160

app = typer.Typer(
    add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False, rich_markup_mode=None,
    help="sib: an engine for social outcomes contracts (social impact bonds). "
    "The store is DATABASE_URL (default sqlite:///sib.db).",
)
contract_app = typer.Typer(no_args_is_help=True, help="Contract files: validate, load, list, show.")
keys_app = typer.Typer(no_args_is_help=True, help="The pseudonymisation key.")
ledger_app = typer.Typer(no_args_is_help=True, help="The payment ledger.")
app.add_typer(contract_app, name="contract")
app.add_typer(keys_app, name="keys")
app.add_typer(ledger_app, name="ledger")

JSON_OPTION = typer.Option(False, "--json", help="Print JSON for scripts instead of a table.")


class UserError(Exception):
    """A mistake the user can fix; printed as one line, exit code 1."""


USER_ERRORS = (UserError, StoreError, UnknownContract, VersionConflict, MissingKeyError, UnreadableFile,
               IngestError, BatchError, UnknownRun)


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2, default=str) + "\n")


def parse_day(text: str | None, option: str = "--as-of") -> date:
    if text is None:
        return date.today()
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise UserError(f"{option} {text!r} is not a date; expected YYYY-MM-DD") from None


@contextmanager
def progress(description: str, total: float | None = None) -> Iterator[Any]:
    """A progress bar on stderr (hidden when stderr is not a terminal)."""
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn(),
                  console=err, transient=True, disable=not err.is_terminal) as bar:
        task = bar.add_task(description, total=total)
        yield lambda step=1.0, text=None: bar.update(task, advance=step, **({"description": text} if text else {}))


# -- store and keys -----------------------------------------------------------------------------------------------

@app.command()
def init() -> None:
    """Create the store (or upgrade it to the current schema)."""
    url = database_url()
    before, after = init_store(url)
    if before == after:
        out.print(f"The store {describe(url)} is already at schema {after}.")
    else:
        out.print(f"The store {describe(url)} is at schema {after}" + (f" (was {before})." if before else " (new)."))


@keys_app.command("init")
def keys_init() -> None:
    """Create the secret key that pseudonymises participant references (SIB_KEY_FILE, default ./sib.key)."""
    path = init_key()
    out.print(f"Created a new pseudonymisation key at {path} (mode 0600). Keep it secret and back it up: "
              "without it, new files cannot be linked to stored participants.")


# -- contracts ----------------------------------------------------------------------------------------------------

@contract_app.command("validate")
def contract_validate(file: Path, as_json: bool = JSON_OPTION) -> None:
    """Check a contract file and list every problem at once; warn where cohorts are too small for a threshold."""
    from contracts.problems import format_path
    from evaluation.power import contract_power_warnings

    cf = load_contract_file(file)
    warnings = [f"{file}:{cf.line_of(loc)}: {format_path(loc)}: {message}"
                for version in cf.versions for loc, message in contract_power_warnings(version.terms)]
    warnings = list(dict.fromkeys(warnings))  # an unchanged term warns once, not once per version
    if as_json:
        print_json({"file": str(file), "valid": True, "id": cf.id, "versions": [v.version for v in cf.versions],
                    "warnings": warnings})
        return
    for warning in warnings:
        err.print(f"warning: {warning}", markup=False)
    versions = ", ".join(f"{v.version} (from {v.effective})" for v in cf.versions)
    out.print(f"{file}: valid contract {cf.id!r}, version(s) {versions}"
              + (f"; {len(warnings)} warning{'s' if len(warnings) != 1 else ''}" if warnings else ""))


@contract_app.command("load")
def contract_load(file: Path) -> None:
    """Validate a contract file and store its versions."""
    cf = load_contract_file(file)
    engine = open_store()
    result = store_contract(engine, cf)
    if result.added_versions:
        out.print(f"Loaded {cf.id!r}: added version(s) {', '.join(map(str, result.added_versions))}.")
    else:
        out.print(f"{cf.id!r} is already stored with the same terms; nothing changed.")


@contract_app.command("list")
def contract_list(as_json: bool = JSON_OPTION) -> None:
    """The contracts in the store."""
    rows = list_contracts(open_store())
    if as_json:
        print_json({"contracts": rows})
        return
    if not rows:
        out.print("No contracts yet; load one with 'sib contract load FILE'.")
        return
    table = Table("id", "name", "currency", "versions")
    for row in rows:
        table.add_row(row["id"], row["name"], row["currency"], str(row["versions"]))
    out.print(table)


@contract_app.command("show")
def contract_show(contract_id: str, version: Optional[int] = typer.Option(None, help="A version (default: latest)."),
                  as_json: bool = JSON_OPTION) -> None:
    """A stored contract's terms and its versions."""
    stored = get_contract(open_store(), contract_id)
    chosen = stored.latest if version is None else next((v for v in stored.versions if v.version == version), None)
    if chosen is None:
        raise UserError(f"contract {contract_id!r} has no version {version}; versions: "
                        + ", ".join(str(v.version) for v in stored.versions))
    if as_json:
        print_json({
            "id": stored.id, "version": chosen.version, "effective": chosen.effective, "reason": chosen.reason,
            "fingerprint": chosen.fingerprint, "terms": chosen.terms_json(),
            "versions": [{"version": v.version, "effective": v.effective, "reason": v.reason,
                          "fingerprint": v.fingerprint} for v in stored.versions],
        })
        return
    c = chosen.terms
    out.print(f"[bold]{c.name}[/bold] ({c.id}), version {chosen.version} from {chosen.effective}: {chosen.reason}")
    out.print(f"Term {c.term.start} to {c.term.end}, currency {c.currency}")
    parties = Table("party", "name", "role", title="Parties")
    for p in c.parties:
        parties.add_row(p.id, p.name, p.role)
    out.print(parties)
    metrics = Table("metric", "kind", "direction", "window (months)", "design", title="Outcome metrics")
    for m in c.metrics:
        metrics.add_row(m.id, m.kind, m.direction.replace("_", " "), f"{m.window.start_months}-{m.window.end_months}",
                        m.evaluation.design)
    out.print(metrics)
    mechanisms = Table("mechanism", "type", "metric", "cap", title="Payment mechanisms")
    for mech in c.payments.mechanisms:
        mechanisms.add_row(mech.id, mech.type, ", ".join(mech.metrics), fmt.money(mech.cap, c.currency) if mech.cap else "—")
    out.print(mechanisms)
    versions = Table("version", "effective", "reason", title="Versions")
    for v in stored.versions:
        versions.add_row(str(v.version), str(v.effective), v.reason)
    out.print(versions)


@contract_app.command("schema")
def contract_schema() -> None:
    """Print the JSON Schema of the contract file format."""
    from contracts.schema import contract_json_schema

    print_json(contract_json_schema())


# -- ingestion ----------------------------------------------------------------------------------------------------

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
    from outcomes.report import write_error_report

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
    contract_id = verify_batch(open_store(), batch)
    out.print(f"Batch {batch} of {contract_id!r} is verified.")


@app.command()
def history(contract_id: str, as_json: bool = JSON_OPTION) -> None:
    """Corrected measurements: each superseded value beside the one that replaced it."""
    from outcomes.batches import corrections

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


# -- evaluation and payments ----------------------------------------------------------------------------------------

@app.command()
def evaluate(contract_id: str = typer.Argument(..., metavar="CONTRACT", help="A contract, or 'diff' and two run ids."),
             runs: Optional[list[int]] = typer.Argument(None, metavar="[RUN_A RUN_B]", show_default=False),
             as_of: Optional[str] = typer.Option(None, "--as-of", help="YYYY-MM-DD (default today)."),
             include_unverified: bool = typer.Option(False, "--include-unverified",
                                                     help="Interim view: count unverified measurements (flagged)."),
             as_json: bool = JSON_OPTION) -> None:
    """Evaluate every metric, per cohort and pooled, and store the run; or `sib evaluate diff RUN_A RUN_B`."""
    from evaluation.run import evaluate as run_evaluation

    engine = open_store()
    if contract_id == "diff":
        _evaluate_diff(engine, runs or [], as_json)
        return
    if runs:
        raise UserError(f"unexpected arguments after {contract_id!r}; to compare runs: sib evaluate diff RUN_A RUN_B")
    day = parse_day(as_of)
    stored = get_contract(engine, contract_id)
    with progress(f"Evaluating {contract_id}"):
        run = run_evaluation(engine, stored, day, include_unverified=include_unverified)
    if as_json:
        print_json(run.as_dict())
    else:
        _print_run(run)
    if run.reused and not run.reproduced:
        raise UserError(f"run {run.id} was NOT reproduced: the same inputs gave other numbers; "
                        f"'sib evaluate diff' cannot explain this, the computation is not deterministic")


def _print_run(run: Any) -> None:
    if run.reused:
        note = " (reproduced exactly: same inputs, version and code, every number equal)" if run.reproduced else ""
    else:
        note = ""
    out.print(f"Evaluation run {run.id} of {run.contract_id!r} as of {run.as_of}, contract version {run.contract_version}{note}")
    table = Table("metric", "cohort", "design", "n", "n comp.", "treated", "counterfactual", "effect [95 % CI]", "p",
                  "warnings")
    for r in run.results:
        cohort = r.cohort + (f" · {r.subgroup}" if r.subgroup else "")
        table.add_row(r.metric, cohort, r.design, str(r.n_treated), str(r.n_comparison), fmt.number(r.treated_mean),
                      fmt.number(r.counterfactual_mean),
                      fmt.effect(r.estimate, r.ci_low, r.ci_high) if r.is_effect else "monitoring only",
                      fmt.p_value(r.p_value), str(len(r.warnings)) if r.warnings else "")
    out.print(table)
    out.print("Warnings are listed in full by --json and in the report.")


def _evaluate_diff(engine: Any, runs: list[int], as_json: bool) -> None:
    from evaluation.diff import diff_runs
    from evaluation.run import get_run_by_id

    if len(runs) != 2:
        raise UserError("sib evaluate diff needs two run ids: sib evaluate diff RUN_A RUN_B")
    a, b = (get_run_by_id(engine, r) for r in runs)
    reasons = {v.version: v.reason for v in get_contract(engine, b.contract_id).versions}
    result = diff_runs(a, b, reasons)
    if as_json:
        print_json(result)
        return
    out.print(f"From run {a.id} to run {b.id}:")
    for line in result["explanation"]:
        out.print(f"  {line}")
    if result["results"]:
        table = Table("metric", "cohort", "what changed")
        for entry in result["results"]:
            if "only_in" in entry:
                what = f"only in run {entry['only_in']}"
            else:
                what = "; ".join(f"{k} {fmt.number(v[0], None) if isinstance(v[0], float) else v[0]} → "
                                 f"{fmt.number(v[1], None) if isinstance(v[1], float) else v[1]}"
                                 for k, v in entry["changed"].items())
                if entry["warnings_added"]:
                    what += ("; " if what else "") + f"new warning: {entry['warnings_added'][0]}"
            table.add_row(entry["metric"], entry["cohort"] + (f" · {entry['subgroup']}" if entry["subgroup"] else ""), what)
        out.print(table)


design_app = typer.Typer(no_args_is_help=True, help="Design a contract: power and sample size.")
app.add_typer(design_app, name="design")


@design_app.command("power")
def design_power(kind: str = typer.Option(..., "--kind", help="proportion (a binary outcome) or mean."),
                 baseline: float = typer.Option(..., "--baseline", help="The proportion or mean without the intervention."),
                 n: Optional[int] = typer.Option(None, "--n", help="Participants per group: gives the minimum detectable effect."),
                 effect: Optional[float] = typer.Option(None, "--effect", help="An absolute effect: gives the n needed."),
                 sd: Optional[float] = typer.Option(None, "--sd", help="Standard deviation of the outcome (means)."),
                 layout: str = typer.Option("two_sample", "--layout",
                                            help="two_sample (against a comparison group) or one_sample (against a "
                                                 "contracted value)."),
                 ratio: float = typer.Option(1.0, "--ratio", help="Comparison group size per participant."),
                 alpha: float = typer.Option(0.05, "--alpha"), power: float = typer.Option(0.8, "--power"),
                 as_json: bool = JSON_OPTION) -> None:
    """The minimum detectable effect for n participants, or the n needed for an effect."""
    from evaluation.power import PowerError, minimum_detectable_effect, required_n

    if kind not in ("proportion", "mean"):
        raise UserError(f"--kind {kind!r} is not allowed; expected proportion or mean")
    if layout not in ("one_sample", "two_sample"):
        raise UserError(f"--layout {layout!r} is not allowed; expected one_sample or two_sample")
    if (n is None) == (effect is None):
        raise UserError("give either --n (for the minimum detectable effect) or --effect (for the n needed)")
    try:
        result = (minimum_detectable_effect(kind, layout, n, baseline, sd, alpha, power, ratio) if n is not None  # type: ignore[arg-type]
                  else required_n(kind, layout, effect, baseline, sd, alpha, power, ratio))  # type: ignore[arg-type]
    except PowerError as exc:
        raise UserError(str(exc)) from None
    if as_json:
        print_json(result.as_dict())
    elif n is not None:
        out.print(f"With {n:,} participants per group ({layout.replace('_', '-')}, alpha {alpha:g}, power {power:.0%}), "
                  f"the minimum detectable effect is {result.effect:.4g} ({result.relative:.1%} of {baseline:g}).")
    else:
        out.print(f"To detect an effect of {effect:g} ({result.relative:.1%} of {baseline:g}) with power {power:.0%} "
                  f"at alpha {alpha:g}, you need {result.n:,} participants per group ({layout.replace('_', '-')}).")


@app.command()
def payments(contract_id: str, run: Optional[int] = typer.Option(None, "--run", help="Evaluation run (default: the latest as-of date)."),
             as_json: bool = JSON_OPTION) -> None:
    """Calculate what is owed from an evaluation run (adds only what is new) and show the ledger."""
    from evaluation.run import get_run
    from payments.calculate import ConcurrentCalculation, PaymentError, calculate
    from payments.ledger import read_ledger

    engine = open_store()
    stored = get_contract(engine, contract_id)
    chosen = get_run(engine, contract_id, run)
    if chosen is None:
        raise UserError(f"no evaluation run{f' {run}' if run else ''} for {contract_id!r}; run 'sib evaluate {contract_id}' first")
    try:
        added = calculate(engine, stored, chosen)
    except (ConcurrentCalculation, PaymentError) as exc:
        raise UserError(str(exc)) from None
    ledger = read_ledger(engine, contract_id)
    entries = ledger_entries_json(ledger)
    total = sum((e["amount"] for e in ledger.to_dict(orient="records")), start=ZERO)
    if as_json:
        print_json({"contract": contract_id, "evaluation_run": chosen.id, "added": [e["seq"] for e in added],
                    "currency": stored.currency, "entries": entries, "total": str(total)})
        return
    out.print(f"Payments of {contract_id!r} from evaluation run {chosen.id}: "
              f"{len(added)} new ledger entr{'y' if len(added) == 1 else 'ies'}.")
    table = Table("#", "period", "mechanism", "cohort", "payer", "kind", "amount")
    for e in entries:
        table.add_row(str(e["seq"]), e["period"], e["mechanism"], e["cohort"] or "", e["payer"], e["kind"],
                      fmt.money(e["amount"], stored.currency))
    out.print(table)
    out.print(f"Total owed to date: {fmt.money(total, stored.currency)}")


def ledger_entries_json(ledger: Any) -> list[dict[str, Any]]:
    return [
        {"seq": e["seq"], "period": e["period"], "mechanism": e["mechanism"], "cohort": e["cohort"], "payer": e["payer"],
         "kind": e["kind"], "amount": str(e["amount"]), "currency": e["currency"], "basis": e["basis"],
         "evaluation_run": e["evaluation_run_id"], "contract_version": e["contract_version"],
         "created_at": e["created_at"], "created_by": e["created_by"], "hash": e["hash"]}
        for e in ledger.to_dict(orient="records")
    ]


@ledger_app.command("show")
def ledger_show(contract_id: str, as_json: bool = JSON_OPTION) -> None:
    """Every ledger entry with its status and the steps taken on it."""
    from payments.ledger import read_ledger, read_steps

    engine = open_store()
    stored = get_contract(engine, contract_id)
    ledger, steps = read_ledger(engine, contract_id), read_steps(engine, contract_id)
    entries = ledger_entries_json(ledger)
    history: dict[int, list[dict[str, Any]]] = {}
    for step in steps.to_dict(orient="records"):
        history.setdefault(step["entry_seq"], []).append(
            {"status": step["status"], "at": step["at"], "by": step["by"], "note": step["note"]})
    for entry in entries:
        entry["steps"] = history.get(entry["seq"], [])
        entry["status"] = entry["steps"][-1]["status"] if entry["steps"] else "calculated"
    if as_json:
        print_json({"contract": contract_id, "entries": entries})
        return
    table = Table("#", "period", "mechanism", "cohort", "payer", "kind", "amount", "status", "last step")
    for e in entries:
        last = e["steps"][-1] if e["steps"] else None
        table.add_row(str(e["seq"]), e["period"], e["mechanism"], e["cohort"] or "", e["payer"], e["kind"],
                      fmt.money(e["amount"], stored.currency), e["status"],
                      f"{last['at'][:16].replace('T', ' ')} by {last['by']}" if last else "")
    out.print(table)


def _step(contract_id: str, entries: list[int], status: str, reason: str | None) -> None:
    from payments.ledger import StepRefused, take_step
    from store.db import actor

    engine = open_store()
    get_contract(engine, contract_id)
    try:
        taken = take_step(engine, contract_id, entries, status, actor(), reason)
    except StepRefused as exc:
        raise UserError(f"nothing was changed: {exc}") from None
    out.print(f"{len(taken)} entr{'y' if len(taken) == 1 else 'ies'} of {contract_id!r} {status}: "
              + ", ".join(str(t["entry_seq"]) for t in taken))


ENTRIES = typer.Argument(..., metavar="ENTRY...", help="Ledger entry numbers (sib ledger show).")


@ledger_app.command("approve")
def ledger_approve(contract_id: str, entries: list[int] = ENTRIES) -> None:
    """Approve calculated entries (the payer's finance officer)."""
    _step(contract_id, entries, "approved", None)


@ledger_app.command("reject")
def ledger_reject(contract_id: str, entries: list[int] = ENTRIES,
                  reason: str = typer.Option(..., "--reason", help="Why (kept with the step).")) -> None:
    """Reject calculated or approved entries, with a reason; only a new evaluation reopens the amount."""
    _step(contract_id, entries, "rejected", reason)


@ledger_app.command("invoice")
def ledger_invoice(contract_id: str, entries: list[int] = ENTRIES) -> None:
    """Mark approved entries invoiced."""
    _step(contract_id, entries, "invoiced", None)


@ledger_app.command("pay")
def ledger_pay(contract_id: str, entries: list[int] = ENTRIES) -> None:
    """Mark invoiced entries paid."""
    _step(contract_id, entries, "paid", None)


@ledger_app.command("verify")
def ledger_verify(contract_id: str, as_json: bool = JSON_OPTION) -> None:
    """Check the ledger's hash chain; any changed, removed or reordered entry is found."""
    from payments.ledger import verify_chain

    engine = open_store()
    get_contract(engine, contract_id)
    check = verify_chain(engine, contract_id)
    if as_json:
        print_json({"contract": contract_id, "entries": check.entries, "ok": check.ok, "broken_at": check.broken_at,
                    "reason": check.reason})
    if not check.ok:
        raise UserError(f"the ledger of {contract_id!r} does not verify: {check.reason}")
    if not as_json:
        out.print(f"The ledger of {contract_id!r} verifies: {check.entries} entries, chain intact.")


def _latest_forecast(engine: Any, stored: Any, simulations: int, seed: int) -> Any:
    from evaluation.run import get_run, run_outcomes
    from payments.calculate import check_run
    from payments.forecast import simulate

    run = get_run(engine, stored.id)
    if run is None:
        raise UserError(f"no evaluation run for {stored.id!r}; run 'sib evaluate {stored.id}' first")
    try:
        contract = check_run(stored, run)
    except ValueError as exc:
        raise UserError(str(exc)) from None
    with progress(f"Simulating {simulations:,} outcomes"):
        return run, simulate(contract, run, run_outcomes(engine, run.id), simulations, seed)


@app.command()
def forecast(contract_id: str, simulations: int = typer.Option(1000, "--simulations", min=10, max=100000),
             seed: int = typer.Option(20240601, "--seed", help="Same seed, same forecast."),
             as_json: bool = JSON_OPTION) -> None:
    """The distribution (P10, P50, P90) of outcome payments and investor IRR, from the latest evaluation."""
    engine = open_store()
    stored = get_contract(engine, contract_id)
    run, result = _latest_forecast(engine, stored, simulations, seed)
    if as_json:
        print_json({"contract": contract_id, "evaluation_run": run.id, **result.as_dict()})
        return
    cur = stored.currency
    out.print(f"Forecast for {contract_id!r} from evaluation run {run.id} ({simulations:,} simulations, seed {seed}):")
    table = Table("", "P10", "P50", "P90")
    table.add_row("total outcome payments", *(fmt.money(result.total[k], cur) for k in ("p10", "p50", "p90")))
    for payer, band in result.by_payer.items():
        table.add_row(f"  {payer}", *(fmt.money(band[k], cur) for k in ("p10", "p50", "p90")))
    if any(v is not None for v in result.irr.values()):
        table.add_row("investor IRR", *(fmt.percent(float(result.irr[k]), 1) if result.irr[k] else "—"
                                        for k in ("p10", "p50", "p90")))
    out.print(table)
    out.print(f"Probability of any payment: {Decimal(result.probability_of_any_payment):.1%}")
    for note in result.notes:
        out.print(f"Note: {note}")


@app.command()
def schedule(contract_id: str, with_forecast: bool = typer.Option(False, "--forecast", help="Add the forecast band."),
             csv_file: Optional[Path] = typer.Option(None, "--csv", help="Write the schedule as CSV."),
             xlsx_file: Optional[Path] = typer.Option(None, "--xlsx", help="Write schedule and entries as Excel."),
             as_json: bool = JSON_OPTION) -> None:
    """The repayment schedule per period and payer: committed, approved, invoiced, paid (and forecast)."""
    from payments.ledger import current_status, read_ledger
    from payments.schedule import entry_rows, schedule as build, write_csv, write_xlsx

    for target in (csv_file, xlsx_file):
        if target is not None and not target.parent.exists():
            raise UserError(f"cannot write {target}: folder {target.parent} does not exist")
    engine = open_store()
    stored = get_contract(engine, contract_id)
    contract = stored.latest.terms
    band = _latest_forecast(engine, stored, 1000, 20240601)[1] if with_forecast else None
    ledger, statuses = read_ledger(engine, contract_id), current_status(engine, contract_id)
    rows = build(contract, ledger, statuses, band)
    if csv_file is not None:
        write_csv(rows, csv_file)
    if xlsx_file is not None:
        write_xlsx({"Schedule": rows, "Entries": entry_rows(ledger, statuses)}, xlsx_file, contract.currency)
    if as_json:
        print_json({"contract": contract_id, "currency": contract.currency,
                    "rows": [{k: (str(v) if isinstance(v, Decimal) else v) for k, v in r.items()} for r in rows]})
        return
    table = Table("period", "payer", "committed", "approved", "invoiced", "paid", "rejected",
                  *(["forecast P10–P90"] if band else []))
    for r in rows:
        if not any(r[k] for k in ("committed", "rejected")) and not (band and r["forecast_p90"]):
            continue
        extra = [f"{fmt.money(r['forecast_p10'], contract.currency)} – {fmt.money(r['forecast_p90'], contract.currency)}"
                 if r["forecast_p10"] is not None else ""] if band else []
        table.add_row(r["period"], r["payer"], *(fmt.money(r[k], contract.currency)
                                                  for k in ("committed", "approved", "invoiced", "paid", "rejected")), *extra)
    out.print(table)
    for target in (csv_file, xlsx_file):
        if target is not None:
            out.print(f"Wrote {target}")


@app.command()
def returns(contract_id: str, as_json: bool = JSON_OPTION) -> None:
    """Investors' result on the committed ledger: drawn, distributed through the waterfall, net, multiple, IRR."""
    from payments.ledger import current_status, read_ledger
    from payments.returns import investor_returns, payments_by_period, run_waterfall

    engine = open_store()
    stored = get_contract(engine, contract_id)
    contract = stored.latest.terms
    if contract.investment is None:
        raise UserError(f"contract {contract_id!r} has no investment terms")
    payments = payments_by_period(read_ledger(engine, contract_id), current_status(engine, contract_id))
    results = investor_returns(contract, payments)
    flows = run_waterfall(contract, payments)
    if as_json:
        print_json({"contract": contract_id, "currency": contract.currency, "investors": [r.as_dict() for r in results],
                    "retained_by_payer": str(flows.retained), "waterfall": flows.steps})
        return
    table = Table("investor", "committed", "drawn", "distributed", "net", "multiple", "IRR")
    for r in results:
        table.add_row(r.investor, *(fmt.money(v, contract.currency) for v in (r.committed, r.drawn, r.distributed, r.net)),
                      f"×{r.multiple:.2f}" if r.multiple is not None else "—",
                      fmt.percent(float(r.irr), 1) if r.irr is not None else "—")
    out.print(table)
    if flows.retained:
        out.print(f"Above the return cap, kept by the payer: {fmt.money(flows.retained, contract.currency)}")


users_app = typer.Typer(no_args_is_help=True, help="API users and their tokens.")
app.add_typer(users_app, name="users")


@users_app.command("add")
def users_add(name: str, role: str = typer.Option(..., "--role", help="intermediary, investor, payer or provider."),
              contract: Optional[list[str]] = typer.Option(None, "--contract", help="A contract it may see (repeat)."),
              all_contracts: bool = typer.Option(False, "--all-contracts", help="Every contract (intermediaries only)."),
              as_json: bool = JSON_OPTION) -> None:
    """Add an API user; its token is printed once and only its hash is kept."""
    from api.auth import UserError as AuthError, add_user

    engine = open_store()
    try:
        token = add_user(engine, name, role, contract or [], all_contracts, {c["id"] for c in list_contracts(engine)})
    except AuthError as exc:
        raise UserError(str(exc)) from None
    if as_json:
        print_json({"name": name, "role": role, "token": token})
    else:
        out.print(f"Added {name} ({role}). The token, shown this once:")
        out.print(token, markup=False)


@users_app.command("list")
def users_list(as_json: bool = JSON_OPTION) -> None:
    """API users (never their tokens: the first characters only)."""
    from api.auth import list_users

    rows = list_users(open_store())
    if as_json:
        print_json({"users": rows})
        return
    table = Table("id", "name", "role", "contracts", "token", "revoked")
    for r in rows:
        table.add_row(str(r["id"]), r["name"], r["role"], "all" if r["all_contracts"] else ", ".join(r["contracts"]),
                      r["token_hint"] + "…", f"{r['revoked_at']:%Y-%m-%d %H:%M}" if r["revoked_at"] else "")
    out.print(table)


@users_app.command("revoke")
def users_revoke(user_id: int) -> None:
    """Revoke a user's token at once."""
    from api.auth import UserError as AuthError, revoke_user

    try:
        name = revoke_user(open_store(), user_id)
    except AuthError as exc:
        raise UserError(str(exc)) from None
    out.print(f"Revoked user {user_id} ({name}).")


# -- INDIGO: the public impact bond dataset ---------------------------------------------------------------------------

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
    from indigo.export import dumps, export_project, validation_errors

    stored = get_contract(open_store(), contract_id)
    chosen = stored.latest if version is None else next((v for v in stored.versions if v.version == version), None)
    if chosen is None:
        raise UserError(f"contract {contract_id!r} has no version {version}; versions: "
                        + ", ".join(str(v.version) for v in stored.versions))
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
    from indigo import CREDIT
    from indigo.compare import compare, comparison_json
    from indigo.importer import load_reference

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


# -- reports, server, demo ------------------------------------------------------------------------------------------

@app.command()
def report(contract_id: str, out_file: Path = typer.Option(..., "--out", help="The file to write (.pdf or .html)."),
           as_of: Optional[str] = typer.Option(None, "--as-of", help="Evaluate as of YYYY-MM-DD first, then report "
                                               "on that run (default: the latest stored run)."),
           lang: Optional[str] = typer.Option(None, "--lang", help="sv or en (default: sv for contracts in SEK, "
                                              "else en)."),
           format: Optional[str] = typer.Option(None, "--format", help="pdf or html (default: from --out)."),
           run: Optional[int] = typer.Option(None, "--run", help="A stored evaluation run instead of --as-of.")) -> None:
    """Write the independent evaluation report of a contract (PDF or HTML, Swedish or English)."""
    from api.report import ReportError, build_report, write_report

    kind = (format or out_file.suffix.lstrip(".") or "pdf").lower()
    if kind not in ("pdf", "html"):
        raise UserError(f"--format {kind!r} is not allowed; expected pdf or html")
    if lang is not None and lang not in ("sv", "en"):
        raise UserError(f"--lang {lang!r} is not available; expected sv or en")
    if not out_file.parent.exists():
        raise UserError(f"cannot write {out_file}: folder {out_file.parent} does not exist")
    day = parse_day(as_of) if as_of is not None else None
    engine = open_store()
    with progress(f"Writing the report of {contract_id}"):
        try:
            doc = build_report(engine, contract_id, run, as_of=day, lang=lang)
        except ReportError as exc:
            raise UserError(str(exc)) from None
        write_report(doc, out_file, kind)
    notes = f" ({' '.join(doc['notices'])})" if doc["notices"] else ""
    out.print(f"Wrote {out_file}: evaluation run {doc['run'].id} as of {doc['run'].as_of}, in "
              f"{'Swedish' if doc['lang'] == 'sv' else 'English'}.{notes}")


@app.command()
def serve(host: str = typer.Option("127.0.0.1", help="Address to listen on."),
          port: int = typer.Option(8000, help="Port to listen on.")) -> None:
    """Serve the web pages (log in at /login) and the HTTP API (OpenAPI at /openapi.json, docs at /docs)."""
    import uvicorn

    from api.server import create_app

    open_store().dispose()  # refuse to start on a missing or outdated store
    err.print(f"Pages: http://{host}:{port}/login (log in with a token from 'sib users add'); "
              f"API: http://{host}:{port}/docs")
    uvicorn.run(create_app(), host=host, port=port, log_level="info")


@app.command()
def demo(directory: Path = typer.Option(Path("sib-demo"), "--dir", help="Where the demo store and reports go."),
         as_json: bool = JSON_OPTION) -> None:
    """Load the three example contracts, ingest synthetic data, evaluate, pay and report."""
    from api.demo import run_demo

    with Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn(),
                  console=err, transient=True, disable=not err.is_terminal) as bar:
        task = bar.add_task("Demo", total=None)

        def step(text: str, total: int | None = None) -> None:
            if total is not None:
                bar.update(task, total=total)
            bar.update(task, advance=1, description=text)

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


# -- entry point ----------------------------------------------------------------------------------------------------

def _configure_logging() -> None:
    """Log lines (batches accepted or refused, runs, ledger entries; never a personal number) to SIB_LOG_FILE."""
    target = os.environ.get("SIB_LOG_FILE")
    if target and not logging.getLogger("sib").handlers:
        handler = logging.FileHandler(target, encoding="utf-8")
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
        logging.getLogger("sib").addHandler(handler)
        logging.getLogger("sib").setLevel(logging.INFO)


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; map user errors to one line and exit code 1, usage errors to 2."""
    _configure_logging()
    try:
        result = app(args=argv, prog_name="sib", standalone_mode=False)
    except typer.Exit as exc:
        return exc.exit_code
    except click_exceptions.UsageError as exc:
        exc.show()
        return 2
    except click_exceptions.ClickException as exc:
        err.print(f"error: {exc.format_message()}", markup=False)
        return 1
    except typer.Abort:
        err.print("Aborted.")
        return 1
    except ContractFileError as exc:
        for problem in exc.problems:
            err.print(str(problem), markup=False)
        return 1
    except USER_ERRORS as exc:
        err.print(f"error: {exc}", markup=False)
        return 1
    except (OperationalError, ProgrammingError) as exc:
        err.print(f"error: the store {describe(database_url())} failed: {str(getattr(exc, 'orig', exc)).splitlines()[0]}",
                  markup=False)
        return 1
    return result if isinstance(result, int) else 0


def run() -> None:
    """The console script: exit with main()'s code."""
    sys.exit(main())


if __name__ == "__main__":
    run()
