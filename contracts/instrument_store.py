"""User instruments in the store: ``sib instrument load FILE`` checks the file and keeps it, versioned.

A stored instrument version never changes: loading the same id and version with other content is refused
(add a version instead), and a built-in id and version cannot be replaced.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from contracts import instruments
from contracts.datafiles import load_model_text, read_text, store_version
from contracts.instruments import Instrument, instrument_problems
from contracts.messages import TEXTS as C
from contracts.problems import ContractFileError, Problem
from language import Message
from language.masking import mask_text
from store.tables import InstrumentRow


def _checks(instrument: Instrument) -> Iterable[tuple[tuple, Message]]:
    for loc, code, fields in instrument_problems(instrument):
        yield loc, C(code, **{("value" if k == "code" else k): str(v) for k, v in fields.items()})


def load_instrument_text(text: str, name: str = "<instrument>") -> Instrument:
    """An instrument file, checked in one pass: every problem with its line and field."""
    return load_model_text(text, Instrument, name, _checks)


def load_instrument_file(path: str | Path) -> tuple[Instrument, str]:
    text = read_text(path)
    return load_instrument_text(text, str(path)), text


def store_instrument(engine: Engine, instrument: Instrument, text: str, name: str,
                     actor_name: str | None = None) -> bool:
    """Keep a checked instrument; False when the same version with the same content was already stored."""
    if instrument.version in instruments.builtin().get(instrument.id, {}):
        raise ContractFileError([Problem(mask_text(name), 0, "version", C(
            "instrument_builtin", instrument=instrument.id, version=str(instrument.version)))])
    added = store_version(engine, InstrumentRow, "instrument_id", instrument.id, instrument.version,
                          {"definition": instrument.model_dump(mode="json"), "source_text": text}, text, name,
                          C("instrument_version_changed", instrument=instrument.id, version=str(instrument.version)),
                          "instrument.load", actor_name)
    instruments.register(instrument)
    return added


def load_stored_instruments(engine: Engine) -> list[Instrument]:
    """Every instrument users loaded, made known to this process (contracts and ingestion look them up)."""
    with engine.connect() as conn:
        rows = conn.execute(sa.select(InstrumentRow.definition).order_by(InstrumentRow.id)).scalars().all()
    found = [Instrument.model_validate(row) for row in rows]
    for instrument in found:
        instruments.register(instrument)
    return found


def describe(instrument: Instrument, language: str) -> dict[str, Any]:
    """An instrument as JSON for ``sib instrument show`` and the API, in one language."""
    return {
        "instrument": instrument.id, "version": instrument.version, "name": instrument.name.get(language),
        "source": instrument.source,
        "questions": [{
            "id": q.id, "number": q.number, "text": q.text.get(language),
            "answers": [{"code": a.code, "label": a.label(language)} for a in q.answers],
            "dont_know": None if q.dont_know is None else {"code": q.dont_know.code,
                                                           "label": q.dont_know.label(language)},
            "favourable": q.favourable, "asks_about_change": q.asks_about_change,
            "asked_if": None if q.asked_if is None else q.asked_if.model_dump(),
        } for q in instrument.questions],
    }
