"""`sib payments`, `sib ledger ...`, `sib schedule`, `sib returns` and `sib forecast`: what is owed and paid."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any, Optional

import typer
from rich.table import Table

from api.cli.common import JSON_OPTION, UserError, app, out, print_json, progress, w

ledger_app = typer.Typer(no_args_is_help=True, help="The payment ledger.")
app.add_typer(ledger_app, name="ledger")


def _names(stored: Any) -> Any:
    from language.names import Names

    return Names(stored.latest.terms, w())


@app.command()
def payments(contract_id: str, run: Optional[int] = typer.Option(None, "--run", help="Evaluation run (default: the latest as-of date)."),
             as_json: bool = JSON_OPTION) -> None:
    """Calculate what is owed from an evaluation run (adds only what is new) and show the ledger."""
    from contracts.registry import get_contract
    from evaluation.run import get_run
    from payments.calculate import calculate
    from payments.ledger import read_ledger
    from payments.money import ZERO
    from store.db import open_store

    said = w()
    engine = open_store()
    stored = get_contract(engine, contract_id)
    chosen = get_run(engine, contract_id, run)
    if chosen is None:
        raise UserError(said._("no evaluation run {run} for '{contract}'; run 'sib evaluate {contract}' first",
                               run=run, contract=contract_id) if run else
                        said._("no evaluation run for '{contract}'; run 'sib evaluate {contract}' first",
                               contract=contract_id))
    added = calculate(engine, stored, chosen)
    ledger = read_ledger(engine, contract_id)
    entries = ledger_entries_json(ledger, _names(stored))
    total = sum((e["amount"] for e in ledger.to_dict(orient="records")), start=ZERO)
    if as_json:
        print_json({"contract": contract_id, "evaluation_run": chosen.id, "added": [e["seq"] for e in added],
                    "currency": stored.currency, "entries": entries, "total": str(total)})
        return
    out.print(said.ngettext("Payments of '{contract}' from evaluation run {run}: {n} new ledger entry.",
                            "Payments of '{contract}' from evaluation run {run}: {n} new ledger entries.",
                            len(added), contract=contract_id, run=chosen.id))
    table = Table("#", said._("period"), said._("mechanism"), said._("cohort"), said._("outcome payer"),
                  said._("entry"), said._("amount"))
    for e in entries:
        table.add_row(str(e["seq"]), e["period"], e["mechanism"], e["cohort"] or "", e["payer"],
                      said.label("entry", e["kind"]), said.money(e["amount"], stored.currency))
    out.print(table)
    out.print(said._("Total owed to date: {amount}", amount=said.money(total, stored.currency)))


def ledger_entries_json(ledger: Any, names: Any) -> list[dict[str, Any]]:
    """Entries for --json: exact amounts as text, the basis as stored, and its calculation in words."""
    return [
        {"seq": e["seq"], "period": e["period"], "mechanism": e["mechanism"], "cohort": e["cohort"], "payer": e["payer"],
         "kind": e["kind"], "amount": str(e["amount"]), "currency": e["currency"], "basis": e["basis"],
         "calculation": names.calculation(e["basis"] or {}),
         "evaluation_run": e["evaluation_run_id"], "contract_version": e["contract_version"],
         "created_at": e["created_at"], "created_by": e["created_by"], "hash": e["hash"]}
        for e in ledger.to_dict(orient="records")
    ]


@ledger_app.command("show")
def ledger_show(contract_id: str, as_json: bool = JSON_OPTION) -> None:
    """Every ledger entry with its status and the steps taken on it."""
    from contracts.registry import get_contract
    from payments.ledger import read_ledger, read_steps
    from store.db import open_store

    said = w()
    engine = open_store()
    stored = get_contract(engine, contract_id)
    ledger, steps = read_ledger(engine, contract_id), read_steps(engine, contract_id)
    entries = ledger_entries_json(ledger, _names(stored))
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
    table = Table("#", said._("period"), said._("mechanism"), said._("cohort"), said._("outcome payer"),
                  said._("entry"), said._("amount"), said._("status"), said._("last step"))
    for e in entries:
        last = e["steps"][-1] if e["steps"] else None
        table.add_row(str(e["seq"]), e["period"], e["mechanism"], e["cohort"] or "", e["payer"],
                      said.label("entry", e["kind"]), said.money(e["amount"], stored.currency),
                      said.label("status", e["status"]),
                      said._("{at} by {who}", at=last["at"][:16].replace("T", " "), who=last["by"]) if last else "")
    out.print(table)


def _step(contract_id: str, entries: list[int], status: str, reason: str | None) -> None:
    from contracts.registry import get_contract
    from payments.ledger import StepRefused, take_step
    from store.db import actor, open_store

    said = w()
    engine = open_store()
    get_contract(engine, contract_id)
    try:
        taken = take_step(engine, contract_id, entries, status, actor(), reason)
    except StepRefused as exc:
        raise UserError(said._("nothing was changed: {reason}", reason=said.message(exc.message))) from None
    out.print(said.ngettext("{n} entry of '{contract}' {status}: {entries}",
                            "{n} entries of '{contract}' {status}: {entries}", len(taken), contract=contract_id,
                            status=said.label("status", status), entries=", ".join(str(t["entry_seq"]) for t in taken)))


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
    from contracts.registry import get_contract
    from payments.ledger import verify_chain
    from store.db import open_store

    said = w()
    engine = open_store()
    get_contract(engine, contract_id)
    check = verify_chain(engine, contract_id)
    reason = said.message(check.reason) if check.reason else None
    if as_json:
        print_json({"contract": contract_id, "entries": check.entries, "ok": check.ok, "broken_at": check.broken_at,
                    "reason": reason, "reason_code": (check.reason or {}).get("code")})
    if not check.ok:
        raise UserError(said._("the ledger of '{contract}' does not verify: {reason}", contract=contract_id,
                               reason=reason))
    if not as_json:
        out.print(said.ngettext("The ledger of '{contract}' verifies: {n} entry, chain intact.",
                                "The ledger of '{contract}' verifies: {n} entries, chain intact.", check.entries,
                                contract=contract_id))


def _latest_forecast(engine: Any, stored: Any, simulations: int, seed: int) -> Any:
    from evaluation.run import get_run, run_outcomes
    from payments.calculate import check_run
    from payments.forecast import simulate

    said = w()
    run = get_run(engine, stored.id)
    if run is None:
        raise UserError(said._("no evaluation run for '{contract}'; run 'sib evaluate {contract}' first",
                               contract=stored.id))
    contract = check_run(stored, run)
    with progress(said._("Simulating {n} outcomes", n=simulations)):
        return run, simulate(contract, run, run_outcomes(engine, run.id), simulations, seed)


@app.command()
def forecast(contract_id: str, simulations: int = typer.Option(1000, "--simulations", min=10, max=100000),
             seed: int = typer.Option(20240601, "--seed", help="Same seed, same forecast."),
             as_json: bool = JSON_OPTION) -> None:
    """The distribution (P10, P50, P90) of outcome payments and investor IRR, from the latest evaluation."""
    from contracts.registry import get_contract
    from store.db import open_store

    said = w()
    engine = open_store()
    stored = get_contract(engine, contract_id)
    run, result = _latest_forecast(engine, stored, simulations, seed)
    if as_json:
        data = result.as_dict()
        print_json({"contract": contract_id, "evaluation_run": run.id,
                    **dict(data, notes=[said.explained(n) for n in data["notes"]])})
        return
    cur = stored.currency
    out.print(said._("Forecast for '{contract}' from evaluation run {run} ({n} simulations, seed {seed}):",
                     contract=contract_id, run=run.id, n=simulations, seed=str(seed)))
    table = Table("", "P10", "P50", "P90")
    table.add_row(said._("total outcome payments"), *(said.money(result.total[k], cur) for k in ("p10", "p50", "p90")))
    for payer, band in result.by_payer.items():
        table.add_row(f"  {payer}", *(said.money(band[k], cur) for k in ("p10", "p50", "p90")))
    if any(v is not None for v in result.irr.values()):
        table.add_row(said._("investor IRR"), *(said.percent(float(result.irr[k]), 1) if result.irr[k] else "—"
                                                for k in ("p10", "p50", "p90")))
    out.print(table)
    out.print(said._("Probability of any payment: {share:percent}",
                     share=Decimal(result.probability_of_any_payment)))
    for note in result.notes:
        out.print(said._("Note: {note}", note=said.message(note)))


@app.command()
def schedule(contract_id: str, with_forecast: bool = typer.Option(False, "--forecast", help="Add the forecast band."),
             csv_file: Optional[Path] = typer.Option(None, "--csv", help="Write the schedule as CSV."),
             xlsx_file: Optional[Path] = typer.Option(None, "--xlsx", help="Write schedule and entries as Excel."),
             as_json: bool = JSON_OPTION) -> None:
    """The repayment schedule per period and payer: committed, approved, invoiced, paid (and forecast)."""
    from api.exports import readable_entries
    from contracts.registry import get_contract
    from payments.ledger import current_status, read_ledger
    from payments.schedule import entry_rows, schedule as build, write_csv, write_xlsx
    from store.db import open_store

    said = w()
    for target in (csv_file, xlsx_file):
        if target is not None and not target.parent.exists():
            raise UserError(said._("cannot write {path}: folder {folder} does not exist", path=target,
                                   folder=target.parent))
    engine = open_store()
    stored = get_contract(engine, contract_id)
    contract = stored.latest.terms
    band = _latest_forecast(engine, stored, 1000, 20240601)[1] if with_forecast else None
    ledger, statuses = read_ledger(engine, contract_id), current_status(engine, contract_id)
    rows = build(contract, ledger, statuses, band)
    if csv_file is not None:
        write_csv(rows, csv_file)
    if xlsx_file is not None:
        entries = readable_entries(entry_rows(ledger, statuses), _names(stored))
        write_xlsx({"Schedule": rows, "Entries": entries}, xlsx_file, contract.currency)
    if as_json:
        print_json({"contract": contract_id, "currency": contract.currency,
                    "rows": [{k: (str(v) if isinstance(v, Decimal) else v) for k, v in r.items()} for r in rows]})
        return
    table = Table(said._("period"), said._("outcome payer"), said._("committed"), said._("approved"),
                  said._("invoiced"), said._("paid"), said._("rejected"),
                  *([said._("forecast P10–P90")] if band else []))
    for r in rows:
        if not any(r[k] for k in ("committed", "rejected")) and not (band and r["forecast_p90"]):
            continue
        extra = [f"{said.money(r['forecast_p10'], contract.currency)} – {said.money(r['forecast_p90'], contract.currency)}"
                 if r["forecast_p10"] is not None else ""] if band else []
        table.add_row(r["period"], r["payer"], *(said.money(r[k], contract.currency)
                                                  for k in ("committed", "approved", "invoiced", "paid", "rejected")),
                      *extra)
    out.print(table)
    for target in (csv_file, xlsx_file):
        if target is not None:
            out.print(said._("Wrote {path}", path=target))


@app.command()
def returns(contract_id: str, as_json: bool = JSON_OPTION) -> None:
    """Investors' result on the committed ledger: drawn, distributed through the waterfall, net, multiple, IRR."""
    from contracts.registry import get_contract
    from payments.ledger import current_status, read_ledger
    from payments.returns import investor_returns, payments_by_period, run_waterfall
    from store.db import open_store

    said = w()
    engine = open_store()
    stored = get_contract(engine, contract_id)
    contract = stored.latest.terms
    if contract.investment is None:
        raise UserError(said._("contract '{contract}' has no investment terms", contract=contract_id))
    payments = payments_by_period(read_ledger(engine, contract_id), current_status(engine, contract_id))
    results = investor_returns(contract, payments)
    flows = run_waterfall(contract, payments)
    if as_json:
        print_json({"contract": contract_id, "currency": contract.currency, "investors": [r.as_dict() for r in results],
                    "retained_by_payer": str(flows.retained), "waterfall": flows.steps})
        return
    table = Table(said._("investor"), said._("committed"), said._("drawn"), said._("distributed"), said._("net"),
                  said._("multiple"), said._("IRR"))
    for r in results:
        table.add_row(r.investor, *(said.money(v, contract.currency) for v in (r.committed, r.drawn, r.distributed, r.net)),
                      f"×{said.number(r.multiple, 2)}" if r.multiple is not None else "—",
                      said.percent(float(r.irr), 1) if r.irr is not None else "—")
    out.print(table)
    if flows.retained:
        out.print(said._("Above the return cap, kept by the outcome payer: {amount}",
                         amount=said.money(flows.retained, contract.currency)))
