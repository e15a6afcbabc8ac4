"""`sib contract ...`: validate, load, list, show and the file format's schema."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.table import Table

from api.cli.common import JSON_OPTION, UserError, app, chosen_version, err, out, print_json, w

contract_app = typer.Typer(no_args_is_help=True, help="Contract files: init, validate, load, list, show.")
app.add_typer(contract_app, name="contract")


@contract_app.command("init")
def contract_init(file: Path, force: bool = typer.Option(False, "--force", help="Replace an existing file.")) -> None:
    """Write a commented contract template to FILE: every section with a note on what it means; it validates
    as written."""
    import contracts

    template = Path(contracts.__file__).parent / "templates" / "contract.yaml"
    said = w()
    if file.exists() and not force:
        raise UserError(said._("{path} exists; --force replaces it", path=file))
    if not file.parent.exists():
        raise UserError(said._("cannot write {path}: folder {folder} does not exist", path=file, folder=file.parent))
    file.write_text(template.read_text(encoding="utf-8"), encoding="utf-8")
    out.print(said._("Wrote {path}: edit it, then 'sib contract validate {path}' and 'sib contract load {path}'.",
                     path=file))


@contract_app.command("validate")
def contract_validate(file: Path, costs: Optional[list[Path]] = typer.Option(
        None, "--costs", help="A cost file the valuation names that is not loaded into the store (repeatable)."),
        as_json: bool = JSON_OPTION) -> None:
    """Check a contract file and list every problem at once; warn where cohorts are too small for a threshold,
    a mechanism pays on a point estimate without a counterfactual, or the expected savings reach the principal
    only after the last payment date."""
    from api.cli.business import register_cost_files
    from contracts import load_contract_file
    from contracts.checks import contract_warnings
    from contracts.problems import format_path
    from evaluation.power import contract_power_warnings
    from payments.horizon import horizon_warnings

    _store_instruments()
    register_cost_files(costs)
    cf = load_contract_file(file)
    said = w()
    warnings = [f"{file}:{cf.line_of(loc)}: {format_path(loc)}: {said.message(message)}"
                for version in cf.versions
                for loc, message in contract_warnings(version.terms) + contract_power_warnings(version.terms)
                + horizon_warnings(version.terms)]
    warnings = list(dict.fromkeys(warnings))  # an unchanged term warns once, not once per version
    if as_json:
        print_json({"file": str(file), "valid": True, "id": cf.id, "versions": [v.version for v in cf.versions],
                    "warnings": warnings})
        return
    for warning in warnings:
        err.print(said._("warning: {message}", message=warning), markup=False)
    versions = ", ".join(said._("{version} (from {effective})", version=v.version, effective=v.effective.isoformat())
                         for v in cf.versions)
    line = said._("{file}: valid contract '{id}', version(s) {versions}", file=file, id=cf.id, versions=versions)
    if warnings:
        line += said.ngettext("; {n} warning", "; {n} warnings", len(warnings))
    out.print(line)


def _store_instruments() -> None:
    """Survey instruments and cost files loaded into the store (if there is one), so that a contract naming one
    validates."""
    from store.db import StoreError, open_store

    try:
        open_store()
    except StoreError:
        pass


@contract_app.command("load")
def contract_load(file: Path) -> None:
    """Validate a contract file and store its versions."""
    from contracts import load_contract_file
    from contracts.registry import store_contract
    from store.db import open_store

    engine = open_store()  # first: the store's own survey instruments are then known to the contract's checks
    cf = load_contract_file(file)
    result = store_contract(engine, cf)
    if result.added_versions:
        out.print(w()._("Loaded '{id}': added version(s) {versions}.", id=cf.id,
                        versions=", ".join(map(str, result.added_versions))))
    else:
        out.print(w()._("'{id}' is already stored with the same terms; nothing changed.", id=cf.id))


@contract_app.command("list")
def contract_list(as_json: bool = JSON_OPTION) -> None:
    """The contracts in the store."""
    from store.db import open_store
    from store.listing import list_contracts

    rows = list_contracts(open_store(registries=False))
    if as_json:
        print_json({"contracts": rows})
        return
    said = w()
    if not rows:
        out.print(said._("No contracts yet; load one with 'sib contract load FILE'."))
        return
    table = Table(said._("id"), said._("name"), said._("currency"), said._("versions"))
    for row in rows:
        table.add_row(row["id"], row["name"], row["currency"], str(row["versions"]))
    out.print(table)


@contract_app.command("show")
def contract_show(contract_id: str, version: Optional[int] = typer.Option(None, help="A version (default: latest)."),
                  as_json: bool = JSON_OPTION) -> None:
    """A stored contract's terms and its versions."""
    from contracts.registry import get_contract
    from store.db import open_store

    stored = get_contract(open_store(), contract_id)
    chosen = chosen_version(stored, version)
    if as_json:
        print_json({
            "id": stored.id, "version": chosen.version, "effective": chosen.effective, "reason": chosen.reason,
            "fingerprint": chosen.fingerprint, "terms": chosen.terms_json(),
            "versions": [{"version": v.version, "effective": v.effective, "reason": v.reason,
                          "fingerprint": v.fingerprint} for v in stored.versions],
        })
        return
    c = chosen.terms
    said = w()
    out.print(said._("{name} ({id}), version {version} from {effective}: {reason}", name=c.name, id=c.id,
                     version=chosen.version, effective=chosen.effective.isoformat(), reason=_reason(chosen.reason)))
    out.print(said._("Term {start} to {end}, currency {currency}", start=c.term.start.isoformat(),
                     end=c.term.end.isoformat(), currency=c.currency))
    parties = Table(said._("party"), said._("name"), said._("role"), title=said._("Parties"))
    for p in c.parties:
        parties.add_row(p.id, p.name, said.label("role", p.role))
    out.print(parties)
    metrics = Table(said._("outcome metric"), said._("kind"), said._("better when"), said._("window (months)"),
                    said._("design"), title=said._("Outcome metrics"))
    for m in c.metrics:
        metrics.add_row(m.id, said.label("kind", m.kind), said.label("direction", m.direction),
                        f"{m.window.start_months}–{m.window.end_months}", said.label("design", m.evaluation.design))
    out.print(metrics)
    if c.payments is None:
        out.print(said._("Evaluation-only: no payments section, so no outcome payments."))
    else:
        mechanisms = Table(said._("mechanism"), said._("type"), said._("outcome metric"), said._("cap"),
                           title=said._("Payment mechanisms"))
        for mech in c.payments.mechanisms:
            mechanisms.add_row(mech.id, said.label("mechanism", mech.type), ", ".join(mech.metrics),
                               said.money(mech.cap, c.currency) if mech.cap else "—")
        out.print(mechanisms)
    versions = Table(said._("version"), said._("effective"), said._("reason"), title=said._("Versions"))
    for v in stored.versions:
        versions.add_row(str(v.version), str(v.effective), _reason(v.reason))
    out.print(versions)


def _reason(reason: str) -> str:
    from contracts.loader import ORIGINAL_REASON

    return w()._("Original contract") if reason == ORIGINAL_REASON else reason


@contract_app.command("schema")
def contract_schema() -> None:
    """Print the JSON Schema of the contract file format."""
    from contracts.schema import contract_json_schema

    print_json(contract_json_schema())
