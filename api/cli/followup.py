"""`sib instrument ...`, `sib organisation ...` and `sib survey ...`: the user follow-up.

Instruments and organisation files are loaded like contracts; the survey commands build the year's
sampling frame, draw the sample, load the contact log and show results per level (docs/surveys.md).
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path
from typing import Optional

import typer
from rich.table import Table

from api.cli.common import JSON_OPTION, UserError, app, err, out, print_json, w

instrument_app = typer.Typer(no_args_is_help=True, help="Survey instruments: load, list, show.")
organisation_app = typer.Typer(no_args_is_help=True, help="Organisation files: load, show.")
survey_app = typer.Typer(no_args_is_help=True, help="The user follow-up: frame, draw, contacts, results.")
app.add_typer(instrument_app, name="instrument")
app.add_typer(organisation_app, name="organisation")
app.add_typer(survey_app, name="survey")


def _refused(name: str, errors: list) -> UserError:
    said = w()
    for e in errors[:50]:
        where = (said._("row {row}, column {column}", row=e.row, column=e.column) if e.column
                 else said._("row {row}", row=e.row))
        err.print(f"{name}: {where}: {said.message(e.message)}", markup=False)
    return UserError(said.ngettext("{file} refused: {n} error; nothing was stored",
                                   "{file} refused: {n} errors; nothing was stored", len(errors), file=name))


@instrument_app.command("load")
def instrument_load(file: Path) -> None:
    """Check an instrument file and store it (a new id, or a new version of one)."""
    from contracts.instrument_store import load_instrument_file, store_instrument
    from store.db import open_store

    engine = open_store()
    instrument, text = load_instrument_file(file)
    added = store_instrument(engine, instrument, text, str(file))
    said = w()
    out.print(said._("Loaded instrument {id} version {version}.", id=instrument.id, version=instrument.version) if added
              else said._("{id} version {version} is already stored with the same content; nothing changed.",
                          id=instrument.id, version=instrument.version))


@instrument_app.command("list")
def instrument_list(as_json: bool = JSON_OPTION) -> None:
    """Every instrument known: built in and loaded, with their versions."""
    from contracts import instruments
    from store.db import StoreError, open_store

    try:
        open_store()  # loaded ones too, where there is a store
    except StoreError:
        pass
    said = w()
    rows = [{"instrument": i, "versions": sorted(instruments.versions(i)),
             "built_in": sorted(instruments.builtin().get(i, {})),
             "name": instruments.get(i).name.get(said.lang), "questions": len(instruments.get(i).questions)}
            for i in instruments.known()]
    if as_json:
        print_json({"instruments": rows})
        return
    table = Table(said._("instrument"), said._("name"), said._("versions"), said._("questions"))
    for r in rows:
        table.add_row(r["instrument"], r["name"], ", ".join(map(str, r["versions"])), str(r["questions"]))
    out.print(table)


@instrument_app.command("show")
def instrument_show(instrument_id: str, version: Optional[int] = typer.Option(None, help="Default: the latest."),
                    as_json: bool = JSON_OPTION) -> None:
    """An instrument's questions, answer codes, "don't know" codes and favourable answers."""
    from contracts import instruments
    from contracts.instrument_store import describe
    from store.db import StoreError, open_store

    try:
        open_store()
    except StoreError:
        pass
    said = w()
    found = instruments.get(instrument_id, version)
    if found is None:
        raise UserError(said._("no instrument {id} (version {version}); 'sib instrument list' shows the known ones",
                               id=instrument_id, version=version or "-"))
    data = describe(found, said.lang)
    if as_json:
        print_json(data)
        return
    out.print(f"{data['name']} ({found.key})")
    for q in data["questions"]:
        out.print(f"{q['number']}. {q['text']}")
        for a in q["answers"]:
            mark = " *" if a["code"] in q["favourable"] else ""
            out.print(f"   {a['code']}. {a['label']}{mark}")
        if q["dont_know"]:
            out.print(f"   {q['dont_know']['code']}. {q['dont_know']['label']}")
    out.print(said._("* the favourable answers, reported together as a share"))


@organisation_app.command("load")
def organisation_load(file: Path) -> None:
    """Check an organisation file (units, district administrations, areas of activity, by year) and store it."""
    from contracts.organisation import load_organisation_file, store_organisation
    from store.db import open_store

    engine = open_store()
    org, text = load_organisation_file(file)
    added = store_organisation(engine, org, text, str(file))
    said = w()
    out.print(said._("Loaded organisation {id} version {version}: {n} unit placements.", id=org.id, version=org.version,
                     n=len(org.units)) if added
              else said._("{id} version {version} is already stored with the same content; nothing changed.",
                          id=org.id, version=org.version))


@organisation_app.command("show")
def organisation_show(organisation_id: Optional[str] = typer.Argument(None), as_json: bool = JSON_OPTION) -> None:
    """The latest version of an organisation file."""
    from contracts.organisation import get_organisation
    from store.db import open_store

    org = get_organisation(open_store(), organisation_id)
    said = w()
    if org is None:
        raise UserError(said._("no organisation file loaded; 'sib organisation load FILE' loads one"))
    if as_json:
        print_json(org.model_dump(mode="json", by_alias=True))
        return
    table = Table(said._("unit"), said._("district administration"), said._("area of activity"), said._("years"))
    for p in org.units:
        table.add_row(p.name or p.id, org.name_of("district", p.district), org.name_of("area", p.area),
                      f"{p.from_year}–{p.to_year or ''}")
    out.print(table)


def _organisation(engine, organisation_id: Optional[str]):
    from contracts.organisation import get_organisation

    return get_organisation(engine, organisation_id)


@survey_app.command("frame")
def survey_frame(contract_id: str, year: int = typer.Option(..., "--year", help="The follow-up year."),
                 decisions: Optional[Path] = typer.Option(None, "--decisions", help="A file of decisions "
                                                          "(participant_id, decision_type, unit, start, end); "
                                                          "default: the contract's enrolments."),
                 organisation: Optional[str] = typer.Option(None, "--organisation", help="Check units against it "
                                                            "(default: the latest loaded, if any)."),
                 exclude_type: list[str] = typer.Option([], "--exclude-type", help="A decision type the follow-up "
                                                        "plan excludes (repeat for several)."),
                 as_json: bool = JSON_OPTION) -> None:
    """Build the year's sampling frame: one member per person and unit, decisions shorter than a month excluded."""
    from contracts.registry import get_contract
    from outcomes.fieldwork import FieldworkRefused, build_frame
    from outcomes.pseudonym import load_key
    from store.db import open_store

    engine = open_store()
    stored = get_contract(engine, contract_id)
    try:
        report = build_frame(engine, stored.id, year, load_key(), _organisation(engine, organisation), decisions,
                             exclude_types=tuple(exclude_type))
    except FieldworkRefused as refused:
        raise _refused(decisions.name if decisions else "enrolments", refused.errors) from None
    if as_json:
        print_json(report.as_dict())
        return
    said = w()
    out.print(said._("Frame {frame} for {year}: {n} members, drawable per unit: {units}", frame=report.frame_id,
                     year=year, n=report.members,
                     units=", ".join(f"{u} {n}" for u, n in report.by_unit.items()) or "-"))
    for reason, n in report.excluded.items():
        out.print(said._("excluded ({reason}): {n}", reason=said.label("frame_exclusion", reason), n=n))


@survey_app.command("draw")
def survey_draw(frame_id: int, per_unit: int = typer.Option(20, "--per-unit", min=1, help="Target sample per unit "
                                                           "(the source: about 20)."),
                reserves: int = typer.Option(5, "--reserves", min=0, help="Reserves per unit, in drawn order."),
                seed: Optional[int] = typer.Option(None, "--seed", help="Default: derived from the frame and year."),
                as_json: bool = JSON_OPTION) -> None:
    """Draw the sample per unit from a frame: seeded and reproducible, with reserves."""
    from outcomes.fieldwork import draw
    from store.db import open_store

    result = draw(open_store(), frame_id, per_unit, reserves, seed)
    if as_json:
        print_json(result)
        return
    said = w()
    out.print(said._("Draw {draw} from frame {frame} (seed {seed}):", draw=result["draw"], frame=frame_id,
                     seed=result["seed"]))
    for unit, counts in result["units"].items():
        out.print(said._("  {unit}: {sample} drawn, {reserves} reserves", unit=unit, sample=counts["sample"],
                         reserves=counts["reserves"]))


@survey_app.command("contacts")
def survey_contacts(draw_id: int, file: Path, as_json: bool = JSON_OPTION) -> None:
    """Load a contact log (participant_id, attempt, channel, outcome, date): pseudonyms and outcomes only."""
    from outcomes.fieldwork import FieldworkRefused, load_contacts
    from outcomes.pseudonym import load_key
    from store.db import open_store

    try:
        result = load_contacts(open_store(), draw_id, file, load_key())
    except FieldworkRefused as refused:
        raise _refused(file.name, refused.errors) from None
    if as_json:
        print_json(result)
        return
    out.print(w()._("Contact log for draw {draw}: {n} attempts stored, {answered} answered.", draw=draw_id,
                    n=result["contacts"], answered=result["answered"]))


@survey_app.command("results")
def survey_results(contract_id: str,
                   level: str = typer.Option("unit", "--level", help="unit, district, area or city."),
                   by: Optional[str] = typer.Option(None, "--by", help="age_band or sex."),
                   year: Optional[int] = typer.Option(None, "--year", help="Default: every year."),
                   organisation: Optional[str] = typer.Option(None, "--organisation"),
                   export: Optional[Path] = typer.Option(None, "--export", help="Write the rows as CSV here."),
                   as_json: bool = JSON_OPTION) -> None:
    """Per question: the favourable share with its CI, the distribution, "don't know" apart, n and the response
    rate; at any level of the organisation, suppressed where a cell could identify anyone."""
    from contracts.organisation import LEVELS
    from contracts.registry import get_contract
    from evaluation import followup
    from store.db import open_store

    said = w()
    if level not in LEVELS:
        raise typer.BadParameter(said._("expected one of: {allowed}", allowed=", ".join(LEVELS)), param_hint="--level")
    if by is not None and by not in followup.BY:
        raise typer.BadParameter(said._("expected one of: {allowed}", allowed=", ".join(followup.BY)),
                                 param_hint="--by")
    engine = open_store()
    contract = get_contract(engine, contract_id).latest.terms
    org = _organisation(engine, organisation)
    if level in ("district", "area") and org is None:
        raise UserError(said._("--level {level} needs an organisation file; 'sib organisation load FILE' loads one",
                               level=level))
    result = followup.results_with_fieldwork(engine, contract, followup.Request(level=level, by=by, year=year), org,
                                             said.lang)
    if export is not None:
        rows = followup.as_rows(result)
        with open(export, "w", newline="", encoding="utf-8") as fh:
            writer = csv.DictWriter(fh, fieldnames=list(rows[0]) if rows else ["question"])
            writer.writeheader()
            writer.writerows(rows)
    if as_json:
        print_json(result)
        return
    _print_results(result, said)


def _print_results(result: dict, said) -> None:
    def percent(value: float | None) -> str:
        return "–" if value is None else said.percent(value, 0, signed=False)

    for q in result["questions"]:
        out.print(f"{q['number']}. {q['text']}")
        out.print(said._("   favourable: {answers}", answers=", ".join(q["favourable_words"])))
        table = Table(said._("group"), said._("share favourable"), said._("95 % CI"), said._("n"),
                      said._("don't know"), said._("response rate"))
        for c in q["cells"]:
            name = c["name"] + ("" if c["part"] == "all" else f" · {c['part']}")
            if c["suppressed"]:
                table.add_row(name, said._("suppressed"), "", "", "", "")
                continue
            rate = (c["response"] or {}).get("rate")
            table.add_row(name, percent(c["favourable_share"]),
                          "" if c["ci_low"] is None else f"{percent(c['ci_low'])}–{percent(c['ci_high'])}",
                          str(c["answered"]), str(c["dont_know"]), percent(rate))
        out.print(table)
        if q["other_version"]:
            out.print(said._("   {n} answers coded under another version of the instrument are not included",
                             n=q["other_version"]))
    sys.stdout.flush()
