"""`sib payments`, `sib ledger ...`, `sib schedule`, `sib returns` and `sib forecast`: what is owed and paid."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any, Optional

import typer
from rich.table import Table

from api.cli.common import JSON_OPTION, UserError, app, out, print_json, progress
from language import formatting as fmt

ledger_app = typer.Typer(no_args_is_help=True, help="The payment ledger.")
app.add_typer(ledger_app, name="ledger")


@app.command()
def payments(contract_id: str, run: Optional[int] = typer.Option(None, "--run", help="Evaluation run (default: the latest as-of date)."),
             as_json: bool = JSON_OPTION) -> None:
    """Calculate what is owed from an evaluation run (adds only what is new) and show the ledger."""
    from contracts.registry import get_contract
    from evaluation.run import get_run
    from payments.calculate import ConcurrentCalculation, PaymentError, calculate
    from payments.ledger import read_ledger
    from payments.money import ZERO
    from store.db import open_store

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
    from contracts.registry import get_contract
    from payments.ledger import read_ledger, read_steps
    from store.db import open_store

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
    from contracts.registry import get_contract
    from payments.ledger import StepRefused, take_step
    from store.db import actor, open_store

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
    from contracts.registry import get_contract
    from payments.ledger import verify_chain
    from store.db import open_store

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
    from contracts.registry import get_contract
    from store.db import open_store

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
    from contracts.registry import get_contract
    from payments.ledger import current_status, read_ledger
    from payments.schedule import entry_rows, write_csv, write_xlsx
    from payments.schedule import schedule as build
    from store.db import open_store

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
    from contracts.registry import get_contract
    from payments.ledger import current_status, read_ledger
    from payments.returns import investor_returns, payments_by_period, run_waterfall
    from store.db import open_store

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
