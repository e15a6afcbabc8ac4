"""The repayment schedule as rows and as downloadable files, shared by the API, the web pages and the CLI.

Column names are stable identifiers (finance systems import them); the calculation of each entry and the
caps that reduced it are written in the reader's language.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine

from contracts.registry import StoredContract

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def schedule_rows(db: Engine, stored: StoredContract, with_forecast: bool = False, ledger: Any = None
                  ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(one row per period and payer, one row per ledger entry); the forecast band if asked for.  ``ledger``:
    the contract's ledger when the caller has read it already."""
    from api.status import forecast
    from payments.ledger import current_status, read_ledger
    from payments.schedule import entry_rows, schedule

    ledger = read_ledger(db, stored.id) if ledger is None else ledger
    statuses = current_status(db, stored.id)
    band = forecast(db, stored) if with_forecast else None
    return schedule(stored.latest.terms, ledger, statuses, band), entry_rows(ledger, statuses)


def readable_entries(entries: list[dict[str, Any]], names: Any) -> list[dict[str, Any]]:
    """Entry rows with their calculation and caps in the words of ``names`` (a ``language.names.Names``)."""
    return [dict(e, calculation=names.message(e["calculation"]) if e["calculation"] else "",
                 caps_applied="; ".join(names.cap(c) if isinstance(c, dict) else str(c) for c in e["caps_applied"]))
            for e in entries]


def schedule_file(db: Engine, stored: StoredContract, kind: str, lang: str = "en") -> tuple[bytes, str, str]:
    """(content, media type, file name) of the schedule as CSV or Excel (two sheets: schedule, entries)."""
    from language.names import Names
    from language.words import words
    from payments.schedule import write_csv, write_xlsx

    rows, entries = schedule_rows(db, stored, with_forecast=True)
    with tempfile.TemporaryDirectory() as tmp:
        if kind == "csv":
            return write_csv(rows, Path(tmp) / "s.csv").read_bytes(), "text/csv", f"{stored.id}-schedule.csv"
        readable = readable_entries(entries, Names(stored.latest.terms, words(lang, stored.currency)))
        data = write_xlsx({"Schedule": rows, "Entries": readable}, Path(tmp) / "s.xlsx", stored.currency).read_bytes()
        return data, XLSX, f"{stored.id}-schedule.xlsx"
