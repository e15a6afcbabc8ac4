"""`sib costs ...`, `sib valuation` and `sib design horizon`: the payer's business case (docs/business-case.md).

Cost files are loaded like contracts; ``sib valuation`` values a contract's latest evaluation run against its
payments; ``sib design horizon`` shows, before signing, whether the savings come within the follow-up.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any, Optional

import typer
from rich.table import Table

from api.cli.common import JSON_OPTION, UserError, app, out, print_json, w
from api.cli.evaluate import design_app

costs_app = typer.Typer(no_args_is_help=True, help="Cost files (unit costs and a price index): load, list, show.")
app.add_typer(costs_app, name="costs")


def register_cost_files(files: list[Path] | None) -> None:
    """Cost files named on the command line, checked and made known to this process (nothing stored)."""
    from contracts.costs import load_costs_file, register

    for file in files or []:
        register(load_costs_file(file)[0])


@costs_app.command("load")
def costs_load(file: Path) -> None:
    """Check a cost file (items with low, central and high values, price years, sources, departments, and an
    index series) and store it, versioned."""
    from contracts.costs import load_costs_file, store_costs
    from store.db import open_store

    engine = open_store()
    costs, text = load_costs_file(file)
    added = store_costs(engine, costs, text, str(file))
    said = w()
    out.print(said._("Loaded cost file {id} version {version}: {n} items.", id=costs.id, version=costs.version,
                     n=len(costs.items)) if added
              else said._("{id} version {version} is already stored with the same content; nothing changed.",
                          id=costs.id, version=costs.version))


@costs_app.command("list")
def costs_list(as_json: bool = JSON_OPTION) -> None:
    """The cost files in the store, every version."""
    from contracts.costs import stored_versions
    from store.db import open_store

    rows = stored_versions(open_store())
    if as_json:
        print_json(rows)
        return
    said = w()
    table = Table(said._("cost file"), said._("version"), said._("name"), said._("items"), said._("loaded"))
    for r in rows:
        table.add_row(r["costs"], str(r["version"]), r["name"], said.integer(r["items"]), r["created_at"][:19])
    out.print(table)


@costs_app.command("show")
def costs_show(costs_id: str, version: Optional[int] = typer.Option(None, "--version", help="Default: the latest."),
               price_year: Optional[int] = typer.Option(None, "--price-year", help="Show every value in this year's "
                                                        "prices, moved with the file's index."),
               as_json: bool = JSON_OPTION) -> None:
    """A cost file's items, in their own price years or moved to one."""
    from contracts.costs import SCENARIOS, get
    from payments.money import round_exact
    from store.db import open_store

    open_store()
    said = w()
    costs = get(costs_id, version)
    if costs is None:
        raise UserError(said._("no cost file {id} (version {version}) in the store; 'sib costs list' shows them",
                               id=costs_id, version=version or "-"))
    if price_year is not None and price_year not in costs.index.values:
        first, last = costs.years()
        raise UserError(said._("{year} is not in the index {series} ({first}-{last})", year=str(price_year),
                               series=costs.index.name, first=str(first), last=str(last)))
    rows = []
    for item in costs.items:
        year = price_year or item.price_year
        moved = {s: costs.indexed(item, s, year) for s in SCENARIOS}
        rows.append({"item": item.id, "name": item.name, "unit": item.unit, "department": item.department,
                     "price_year": year, "source": item.source,
                     **{s: str(round_exact(moved[s].value, costs.currency)) for s in SCENARIOS},
                     "index": moved["central"].index.as_dict()})
    if as_json:
        print_json({"costs": costs.id, "version": costs.version, "name": costs.name, "currency": costs.currency,
                    "index": {"name": costs.index.name, "source": costs.index.source,
                              "values": {str(k): str(v) for k, v in costs.index.values.items()}},
                    "items": rows})
        return
    table = Table(said._("item"), said._("unit"), said._("low"), said._("central"), said._("high"),
                  said._("price year"), said._("department"), said._("source"),
                  title=f"{costs.name} ({costs.key})")
    for r in rows:
        table.add_row(r["name"], r["unit"], *(said.money(r[s], costs.currency) for s in SCENARIOS),
                      str(r["price_year"]), costs.department_name(r["department"]), r["source"])
    out.print(table)
    out.print(said._("Index: {series} ({source}).", series=costs.index.name, source=costs.index.source or "-"))


@app.command("valuation")
def valuation(contract_id: str, simulations: int = typer.Option(1000, "--simulations", min=100, max=100000,
                                                                 help="Simulations for the net position's band."),
              as_json: bool = JSON_OPTION) -> None:
    """The payer's business case on the latest evaluation run: avoided costs (effect interval × cost range),
    cashable and not, payments, own costs, the net position per year and cumulative, the break-even month,
    and who funds against where the savings land."""
    from contracts.registry import get_contract
    from payments.valuation import contract_business_case
    from store.db import open_store

    engine = open_store()
    stored = get_contract(engine, contract_id)
    case = contract_business_case(engine, stored, simulations)
    said = w()
    if case is None:
        raise UserError(said._("contract {contract} has no evaluation run yet; 'sib evaluate' makes one, and "
                               "'sib design horizon' shows the planned case", contract=contract_id))
    if as_json:
        print_json(case.as_dict())
        return
    print_business_case(case, said)


def print_business_case(case: Any, said: Any) -> None:
    money = (lambda v: said.money(v, case.currency))
    items = Table(said._("metric"), said._("avoided"), said._("quantity [CI]"), said._("unit cost (low–high)"),
                  said._("avoided cost at point, central"), said._("range"), said._("cashable"),
                  title=said._("Avoided costs, {year} prices (cost file {costs})", year=str(case.price_year),
                               costs=case.costs))
    for i in case.items:
        q = i.quantity
        quantity = said.number(q["point"], 1) + (f" [{said.number(q['low'], 1)}; {said.number(q['high'], 1)}]"
                                                  if q["low"] is not None else "")
        items.add_row(i.metric, f"{i.name} ({i.unit})", quantity,
                      f"{money(i.unit_cost['central'])} ({money(i.unit_cost['low'])}–{money(i.unit_cost['high'])})",
                      money(i.gross["point"]["central"]), f"{money(i.range[0])} – {money(i.range[1])}",
                      f"{money(i.cashable['point']['central'])} ({said.percent(i.cashable_share, 0, False)})")
    out.print(items)
    years = Table(said._("year"), said._("cashable savings"), said._("capacity freed"), said._("payments"),
                  said._("own costs"), said._("net"), said._("cumulative"), said._("cumulative P10–P90"),
                  title=said._("The payer's net position per year"))
    for y in case.years:
        band = (f"{money(y.cumulative_band['p10'])} – {money(y.cumulative_band['p90'])}" if y.cumulative_band
                else "—")
        label = str(y.year) + (" " + said._("(projection)") if y.projection else "")
        years.add_row(label, money(y.cashable), money(y.non_cashable), money(y.payments), money(y.own_costs),
                      money(y.net), money(y.cumulative), band)
    out.print(years)
    departments = Table(said._("department"), said._("funds"), said._("saves (cashable)"), said._("capacity freed"),
                        said._("net"), title=said._("Who funds and where the savings land"))
    for d in case.departments:
        departments.add_row(d.name, money(d.funds), money(d.saves), money(d.capacity), money(d.net))
    out.print(departments)
    out.print(said._("Break-even: {month}.", month=case.break_even or said._("not within the horizon")))
    if case.net_band:
        out.print(said._("Net position at the end: {net} (P10–P90 {low} – {high}); break-even in {share} of "
                         "{n} simulations.", net=money(case.net_total), low=money(case.net_band["p10"]),
                         high=money(case.net_band["p90"]),
                         share=said.percent(Decimal(case.probability_break_even), 0, False), n=str(case.simulations)))
    for note in case.notes:
        out.print(said.message(note))


@design_app.command("horizon")
def design_horizon(contract: str = typer.Argument(..., help="A contract file, or the id of a stored contract."),
                   follow_up_months: Optional[str] = typer.Option(None, "--follow-up-months",
                                                                  help="Follow-up lengths to compare, e.g. 24,36 "
                                                                  "(default: the contract's own)."),
                   costs: Optional[list[Path]] = typer.Option(None, "--costs", help="A cost file not yet loaded."),
                   as_json: bool = JSON_OPTION) -> None:
    """Month by month, for each follow-up length: expected cumulative savings (with their band), payments and
    the principal, and when each breaks even; months after the term are projections."""
    from contracts import costs as cost_files
    from payments.horizon import horizon

    said = w()
    lengths = _lengths(follow_up_months, said)
    terms = _design_terms(contract, costs)
    if terms.valuation is None:
        raise UserError(said._("contract {contract} has no valuation section: name its cost file there "
                               "(docs/business-case.md)", contract=terms.id))
    cost_file = cost_files.get(terms.valuation.costs, terms.valuation.costs_version)
    cases = [horizon(terms, cost_file, months) for months in (lengths or [None])]
    if as_json:
        print_json({"contract": terms.id, "currency": terms.currency, "price_year": terms.valuation.price_year,
                    "horizons": [h.as_dict() for h in cases]})
        return
    money = (lambda v: said.money(v, terms.currency))
    table = Table(said._("month"), title=said._("{contract}: cumulative savings (cashable, {year} prices), payments "
                                                "and principal", contract=terms.id,
                                                year=str(terms.valuation.price_year)))
    for h in cases:
        for name in (said._("savings, {m} months", m=h.follow_up_months), said._("band"),
                     said._("payments, {m} months", m=h.follow_up_months)):
            table.add_column(name, justify="right")
    principal = cases[0].months[0].principal if cases[0].months else None
    months = sorted({m.month for h in cases for m in h.months})
    by_case = [{m.month: m for m in h.months} for h in cases]
    for month in months:
        row = [month + (" *" if any(c.get(month) and c[month].projection for c in by_case) else "")]
        for rows in by_case:
            m = rows.get(month)
            row += ([money(m.savings), f"{money(m.savings_low)} – {money(m.savings_high)}", money(m.payments)]
                    if m else ["", "", ""])
        table.add_row(*row)
    out.print(table)
    out.print(said._("* after the contract term ({end}): a projection.", end=cases[0].term_end.isoformat()))
    if principal is not None:
        out.print(said._("Principal: {amount}.", amount=money(principal)))
    for h in cases:
        out.print(said._("{m} months: break-even {even}; savings reach the principal {reached}; last payment due "
                         "{due}.", m=h.follow_up_months, even=h.break_even or said._("not within the horizon"),
                         reached=h.principal_reached or said._("not within the horizon"),
                         due=h.last_payment_due.isoformat() if h.last_payment_due else "—")
                  + (" " + said._("The term would have to run to {due}.", due=h.last_payment_due.isoformat())
                     if h.beyond_term else ""))
        for note in h.notes:
            out.print(said.message(note))


def _lengths(text: str | None, said: Any) -> list[int]:
    if not text:
        return []
    try:
        values = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        values = []
    if not values or any(not 1 <= v <= 240 for v in values):
        raise typer.BadParameter(said._("a comma-separated list of whole months from 1 to 240, e.g. 24,36"),
                                 param_hint="--follow-up-months")
    return values


def _design_terms(contract: str, costs: list[Path] | None) -> Any:
    """The latest terms of a contract file (checked, with cost files named by --costs known) or of a stored
    contract."""
    from contracts import load_contract_file
    from store.db import StoreError, open_store

    try:
        engine = open_store()
    except StoreError:
        engine = None
    register_cost_files(costs)
    if Path(contract).suffix in (".yaml", ".yml") or Path(contract).is_file():
        return load_contract_file(contract).versions[-1].terms
    if engine is None:
        raise UserError(w()._("{contract} is neither a contract file nor a contract in a store", contract=contract))
    from contracts.registry import get_contract

    return get_contract(engine, contract).latest.terms
