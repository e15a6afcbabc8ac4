"""`sib payments`, `sib ledger ...`, `sib schedule`, `sib returns` and `sib forecast`: what is owed and paid."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any, Optional

import typer
from rich.table import Table

from api.cli.common import JSON_OPTION, UserError, app, out, print_json, progress, w, UsageProblem

ledger_app = typer.Typer(no_args_is_help=True, help="The payment ledger.")
app.add_typer(ledger_app, name="ledger")


def _names(stored: Any) -> Any:
    from language.names import Names

    return Names(stored.latest.terms, w())


# -- sib payments --what-if (pays_on rules; payments/whatif.py) -- begin
def _show_what_if(engine: Any, stored: Any, chosen: Any, as_json: bool) -> None:
    """What each pays_on rule would owe to date on the run, per mechanism and in total; nothing is written."""
    from evaluation.run import run_outcomes
    from payments.calculate import check_run
    from payments.whatif import what_if

    said = w()
    data = what_if(check_run(stored, chosen), chosen, run_outcomes(engine, chosen.id))
    names = _names(stored)

    def exact(value: Decimal | None) -> str | None:
        return str(value) if value is not None else None

    if as_json:
        print_json({"contract": stored.id, "evaluation_run": chosen.id, "currency": data["currency"],
                    "rules": data["rules"],
                    "mechanisms": [dict(m, amounts={r: exact(a) for r, a in m["amounts"].items()})
                                   for m in data["mechanisms"]],
                    "total": {r: exact(a) for r, a in data["total"].items()}, "as_written": exact(data["as_written"]),
                    "refused": {r: said.explained(m, names) for r, m in data["refused"].items()}})
        return
    cur = data["currency"]
    heads = {"point_estimate": said._("on the point estimate"), "lower_bound": said._("on the lower bound"),
             "significant": said._("only if significant")}
    out.print(said._("What '{contract}' would owe to date on evaluation run {run}, by what it pays on (nothing "
                     "was written to the ledger):", contract=stored.id, run=chosen.id))
    table = Table(said._("mechanism"), said._("pays on"), *(heads[r] for r in data["rules"]))
    for m in data["mechanisms"]:
        table.add_row(names.mechanism(m["mechanism"]), heads[m["pays_on"]],
                      *(said.money(a, cur) if a is not None else "—" for a in m["amounts"].values()))
    table.add_row(said._("total"), "", *(said.money(a, cur) if a is not None else "—" for a in data["total"].values()))
    out.print(table)
    for rule, message in data["refused"].items():
        if rule in heads:
            out.print(said._("{rule}: refused: {reason}", rule=heads[rule], reason=names.message(message)))
    if data["as_written"] is not None:
        out.print(said._("As the contract is written: {amount}", amount=said.money(data["as_written"], cur)))
    if any(m["type"] in ("rate_card", "milestone") for m in data["mechanisms"]):
        out.print(said._("—: a rate card or milestone pays per verified outcome and cannot pay on a lower bound; "
                         "the total counts it as the contract writes it."))
# -- sib payments --what-if -- end


@app.command()
def payments(contract_id: str, run: Optional[int] = typer.Option(None, "--run", help="Evaluation run (default: the latest as-of date)."),
             as_json: bool = JSON_OPTION,
             what_if: bool = typer.Option(False, "--what-if", help="Show what paying on the point estimate, "
                                          "the lower bound or only a significant effect would owe; write nothing."),
             ) -> None:
    """Calculate what is owed from an evaluation run (adds only what is new) and show the ledger."""
    from contracts.registry import get_contract
    from evaluation.run import get_run
    from payments.calculate import calculate
    from payments.ledger import current_status, read_ledger
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
    if what_if:  # --what-if: compute and show, never calculate()
        return _show_what_if(engine, stored, chosen, as_json)
    added = calculate(engine, stored, chosen)
    ledger = read_ledger(engine, contract_id)
    statuses = current_status(engine, contract_id)
    entries = ledger_entries_json(ledger, _names(stored))
    for e in entries:
        e["status"] = statuses.get(e["seq"], "calculated")
    # what is owed to date: every entry not rejected (a rejected amount leaves every total)
    total = sum((e["amount"] for e in ledger.to_dict(orient="records") if statuses.get(e["seq"]) != "rejected"),
                start=ZERO)
    if as_json:
        print_json({"contract": contract_id, "evaluation_run": chosen.id, "added": [e["seq"] for e in added],
                    "currency": stored.currency, "entries": entries, "total": str(total)})
        return
    out.print(said.ngettext("Payments of '{contract}' from evaluation run {run}: {n} new ledger entry.",
                            "Payments of '{contract}' from evaluation run {run}: {n} new ledger entries.",
                            len(added), contract=contract_id, run=chosen.id))
    table = Table("#", said._("period"), said._("mechanism"), said._("cohort"), said._("outcome payer"),
                  said._("entry"), said._("amount"), said._("status"), said._("evidence flags"))
    for e in entries:
        flags = (e["evidence"] or {}).get("flag_codes") or []
        table.add_row(str(e["seq"]), e["period"], e["mechanism"], e["cohort"] or "", e["payer"],
                      said.label("entry", e["kind"]), said.money(e["amount"], stored.currency),
                      said.label("status", e["status"]), ", ".join(flags))
    out.print(table)
    out.print(said._("Total owed to date (not rejected): {amount}", amount=said.money(total, stored.currency)))
    if any((e["evidence"] or {}).get("flags") for e in entries):
        out.print(said._("Flagged entries need each flag acknowledged and a reason to be approved; 'sib ledger show "
                         "{contract}' says why.", contract=contract_id))


def ledger_entries_json(ledger: Any, names: Any, evidences: dict[int, Any] | None = None) -> list[dict[str, Any]]:
    """Entries for --json: exact amounts as text, the basis as stored, its calculation and evidence in words."""
    return [
        {"seq": e["seq"], "period": e["period"], "mechanism": e["mechanism"], "cohort": e["cohort"], "payer": e["payer"],
         "kind": e["kind"], "amount": str(e["amount"]), "currency": e["currency"], "basis": e["basis"],
         "calculation": names.calculation(e["basis"] or {}),
         "evidence": evidence_json((evidences or {}).get(e["seq"], (e["basis"] or {}).get("evidence")), names),
         "evaluation_run": e["evaluation_run_id"], "contract_version": e["contract_version"],
         "created_at": e["created_at"], "created_by": e["created_by"], "hash": e["hash"]}
        for e in ledger.to_dict(orient="records")
    ]


def evidence_json(evidence: dict[str, Any] | None, names: Any) -> dict[str, Any] | None:
    """An entry's evidence for --json: as stored, with each result and flag also in words."""
    if evidence is None:
        return None
    return dict(evidence, described=[names.evidence(r) for r in evidence.get("results", [])],
                flags=[dict(f, text=names.message(f)) for f in evidence.get("flags", [])])


def _latest_forecast(engine: Any, stored: Any, simulations: int, seed: int) -> Any:
    """(evaluation run id, forecast) from ``payments.forecast.contract_forecast``: the function the API and the
    pages show too, so the numbers are the same for the same simulations, seed and state of the store."""
    from payments.forecast import contract_forecast

    said = w()
    with progress(said._("Simulating {n} outcomes", n=simulations)):
        result = contract_forecast(engine, stored, simulations, seed)
    if result is None:
        raise UserError(said._("no evaluation run for '{contract}'; run 'sib evaluate {contract}' first",
                               contract=stored.id))
    return result.evaluation_run, result


@app.command()
def forecast(contract_id: str,
             simulations: Optional[int] = typer.Option(None, "--simulations", min=10, max=100000,
                                                       help="Default: 1000, as the API and the pages."),
             seed: Optional[int] = typer.Option(None, "--seed", help="Same seed, same forecast (default: 20240601, "
                                                                     "as the API and the pages)."),
             as_json: bool = JSON_OPTION) -> None:
    """The distribution (P10, P50, P90) of outcome payments and investor IRR, from the latest evaluation; the
    expected payment and the probability that investors lose money."""
    from contracts.registry import get_contract
    from payments.forecast import SEED, SIMULATIONS
    from store.db import open_store

    said = w()
    simulations = SIMULATIONS if simulations is None else simulations
    seed = SEED if seed is None else seed
    engine = open_store()
    stored = get_contract(engine, contract_id)
    run, result = _latest_forecast(engine, stored, simulations, seed)
    if as_json:
        data = result.as_dict()
        print_json({"contract": contract_id, **dict(data, notes=[said.explained(n) for n in data["notes"]])})
        return
    cur = stored.currency
    out.print(said._("Forecast for '{contract}' from evaluation run {run} ({n} simulations, seed {seed}):",
                     contract=contract_id, run=run, n=simulations, seed=str(seed)))
    table = Table("", "P10", "P50", "P90", said._("expected (mean)"))
    table.add_row(said._("total outcome payments"), *(said.money(result.total[k], cur) for k in ("p10", "p50", "p90")),
                  said.money(result.expected_total, cur))
    for payer, band in result.by_payer.items():
        table.add_row(f"  {payer}", *(said.money(band[k], cur) for k in ("p10", "p50", "p90")),
                      said.money(result.expected_by_payer[payer], cur))
    if result.irr["p50"] is not None:
        table.add_row(said._("investors' IRR (every simulation)"),
                      *(said.percent(result.irr[k], 1) for k in ("p10", "p50", "p90")), "")
    out.print(table)
    out.print(said._("Probability of any payment: {share:percent}",
                     share=Decimal(result.probability_of_any_payment)))
    if result.probability_of_loss is not None:
        out.print(said._("Probability that investors lose money: {share:percent}",
                         share=Decimal(result.probability_of_loss)))
    for note in result.notes:
        out.print(said._("Note: {note}", note=said.message(note)))


@app.command()
def schedule(contract_id: str, with_forecast: bool = typer.Option(False, "--forecast", help="Add the forecast band."),
             csv_file: Optional[Path] = typer.Option(None, "--csv", help="Write the schedule as CSV."),
             xlsx_file: Optional[Path] = typer.Option(None, "--xlsx", help="Write the schedule, its entries and the "
                                                      "approval trail as Excel."),
             style: Optional[str] = typer.Option(None, "--csv-style", help="sv (semicolons, decimal comma), en or "
                                                 "plain (for machines: stable column names, exact amounts); "
                                                 "default: the language's."),
             lang: Optional[str] = typer.Option(None, "--lang", help="Language of the files: sv or en (default: sv "
                                                "for contracts in SEK, else en)."),
             as_json: bool = JSON_OPTION) -> None:
    """The repayment schedule per period and payer: calculated (awaiting approval), approved, invoiced, paid,
    rejected and overdue, each amount in one column (and the forecast)."""
    from api.exports import contract_sheets, csv_style
    from api.spreadsheets import CSV_STYLES, write_csv, write_xlsx
    from contracts.registry import get_contract
    from language.words import default_language
    from payments.forecast import SEED, SIMULATIONS
    from payments.ledger import read_ledger, read_steps
    from payments.schedule import schedule as build
    from store.db import open_store

    said = w()
    if lang is not None and lang not in ("sv", "en"):
        raise UsageProblem(said._("--lang '{lang}' is not available; expected sv or en", lang=lang))
    if style is not None and style not in CSV_STYLES:
        raise UsageProblem(said._("--csv-style '{style}' is not available; expected sv, en or plain", style=style))
    for target in (csv_file, xlsx_file):
        if target is not None and not target.parent.exists():
            raise UserError(said._("cannot write {path}: folder {folder} does not exist", path=target,
                                   folder=target.parent))
    engine = open_store()
    stored = get_contract(engine, contract_id)
    contract = stored.latest.terms
    band = _latest_forecast(engine, stored, SIMULATIONS, SEED)[1] if with_forecast else None
    ledger, steps = read_ledger(engine, contract_id), read_steps(engine, contract_id)
    statuses = dict(zip(steps["entry_seq"], steps["status"])) if len(steps) else {}
    rows = build(contract, ledger, statuses, band, steps)
    if csv_file is not None or xlsx_file is not None:
        lang = lang or default_language(contract.currency)
        sheets = contract_sheets(stored, lang, ledger, steps, band)
        if csv_file is not None:
            write_csv(sheets[0], csv_file, csv_style(style, lang), contract.currency)
        if xlsx_file is not None:
            write_xlsx(sheets, xlsx_file, contract.currency, lang)
    if as_json:
        print_json({"contract": contract_id, "currency": contract.currency,
                    "rows": [{k: (str(v) if isinstance(v, Decimal) else v) for k, v in r.items()} for r in rows]})
        return
    kinds = ("calculated", "approved", "invoiced", "paid", "rejected", "overdue")
    table = Table(said._("period"), said._("outcome payer"), said._("calculated"), said._("approved"),
                  said._("invoiced"), said._("paid"), said._("rejected"), said._("overdue"),
                  *([said._("forecast P10–P90")] if band else []))
    for r in rows:
        if not any(r[k] for k in kinds) and not (band and r["forecast_p90"]):
            continue
        extra = [f"{said.money(r['forecast_p10'], contract.currency)} – {said.money(r['forecast_p90'], contract.currency)}"
                 if r["forecast_p10"] is not None else ""] if band else []
        table.add_row(r["period"], r["payer"], *(said.money(r[k], contract.currency) for k in kinds), *extra)
    out.print(table)
    for target in (csv_file, xlsx_file):
        if target is not None:
            out.print(said._("Wrote {path}", path=target))


@app.command()
def returns(contract_id: str, as_json: bool = JSON_OPTION) -> None:
    """Investors' result through the waterfall (drawn, distributed, net, multiple, IRR): realised, on payments
    received (paid); and projected, on payments received and expected (calculated, approved or invoiced).
    Rejected entries count in neither."""
    from contracts.registry import get_contract
    from payments.ledger import current_status, read_ledger
    from payments.returns import PROJECTED, RECEIVED, investor_returns, payments_by_period, run_waterfall
    from store.db import open_store

    said = w()
    engine = open_store()
    stored = get_contract(engine, contract_id)
    contract = stored.latest.terms
    if contract.investment is None:
        raise UserError(said._("contract '{contract}' has no investment terms", contract=contract_id))
    ledger, statuses = read_ledger(engine, contract_id), current_status(engine, contract_id)
    views = []
    for basis, include, title in (
            ("realised", RECEIVED, said._("Realised: on payments received (paid)")),
            ("projected", PROJECTED, said._("Projected: on payments received and expected (calculated, approved or "
                                            "invoiced)"))):
        payments = payments_by_period(ledger, statuses, include)
        views.append((basis, include, title, investor_returns(contract, payments), run_waterfall(contract, payments)))
    if as_json:
        print_json({"contract": contract_id, "currency": contract.currency,
                    **{basis: {"statuses": list(include), "investors": [r.as_dict() for r in results],
                               "retained_by_payer": str(flows.retained), "waterfall": flows.steps}
                       for basis, include, _, results, flows in views}})
        return
    for _basis, _include, title, results, flows in views:
        out.print(title)
        table = Table(said._("investor"), said._("commitment"), said._("drawn"), said._("distributed"), said._("net"),
                      said._("multiple"), said._("IRR"))
        for r in results:
            table.add_row(r.investor, *(said.money(v, contract.currency)
                                        for v in (r.commitment, r.drawn, r.distributed, r.net)),
                          f"×{said.number(r.multiple, 2)}" if r.multiple is not None else "—",
                          said.percent(r.irr, 1) if r.irr is not None else "—")
        out.print(table)
        if flows.retained:
            out.print(said._("Above the return cap, kept by the outcome payer: {amount}",
                             amount=said.money(flows.retained, contract.currency)))
