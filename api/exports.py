"""The repayment schedule as rows and as downloadable files, shared by the API, the web pages and the CLI.

The workbook has three sheets, each with its headers, sheet name, statuses and names in the report's
language (Swedish by default for contracts in SEK): the schedule (per period and payer), the ledger entries
(each with its outcome payer, amount, status and the calculation in words) and the approval trail (every
step every entry took: which, when, who, and any note).  The CSV is the schedule: in the language's
conventions (``sv``: semicolons and decimal commas; ``en``) or ``plain`` for machines, whose column names
are stable identifiers and never change with the language.  ``api/spreadsheets.py`` writes both.
"""

from __future__ import annotations

import copy
import io
from typing import Any, Callable, Iterable

from sqlalchemy.engine import Engine

from api.spreadsheets import (CSV_STYLES, DATE, DATETIME, INTEGER, MONEY, SHARE, TEXT, Column, Sheet, kind_of,
                              write_csv, write_xlsx)
from contracts.registry import StoredContract
from language.labels import C_

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CSV = "text/csv"

# Headers of the columns, marked for the catalogues (translated with the context "column"), and their kinds.
HEADERS: dict[str, tuple[str, str]] = {
    "period": (C_("column", "Period"), TEXT),
    "period_end": (C_("column", "Period ends"), DATE),
    "payer_name": (C_("column", "Outcome payer"), TEXT),
    "payer": (C_("column", "Outcome payer id"), TEXT),
    "calculated": (C_("column", "Calculated"), MONEY),
    "approved": (C_("column", "Approved"), MONEY),
    "invoiced": (C_("column", "Invoiced"), MONEY),
    "paid": (C_("column", "Paid"), MONEY),
    "rejected": (C_("column", "Rejected"), MONEY),
    "overdue": (C_("column", "Overdue"), MONEY),
    "forecast_p10": (C_("column", "Forecast P10"), MONEY),
    "forecast_p50": (C_("column", "Forecast P50"), MONEY),
    "forecast_p90": (C_("column", "Forecast P90"), MONEY),
    "entry": (C_("column", "Entry"), INTEGER),
    "due_date": (C_("column", "Due date"), DATE),
    "due": (C_("column", "Due date"), DATE),
    "mechanism": (C_("column", "Mechanism"), TEXT),
    "cohort": (C_("column", "Cohort"), TEXT),
    "kind": (C_("column", "Entry kind"), TEXT),
    "status": (C_("column", "Status"), TEXT),
    "amount": (C_("column", "Amount"), MONEY),
    "currency": (C_("column", "Currency"), TEXT),
    "evaluation_run": (C_("column", "Evaluation run"), INTEGER),
    "contract_version": (C_("column", "Contract version"), INTEGER),
    "calculation": (C_("column", "Calculation"), TEXT),
    "counts": (C_("column", "Outcomes counted"), TEXT),
    "prices": (C_("column", "Prices"), TEXT),
    "caps_applied": (C_("column", "Caps applied"), TEXT),
    "owed_to_date": (C_("column", "Owed to date"), MONEY),
    "previously_booked": (C_("column", "Previously booked"), MONEY),
    "created_at": (C_("column", "Created (UTC)"), DATETIME),
    "created_by": (C_("column", "Created by"), TEXT),
    "hash": (C_("column", "Hash"), TEXT),
    "seq": (C_("column", "Step"), INTEGER),
    "entry_seq": (C_("column", "Entry"), INTEGER),
    "at": (C_("column", "When (UTC)"), DATETIME),
    "by": (C_("column", "By"), TEXT),
    "note": (C_("column", "Note"), TEXT),
    "reason": (C_("column", "Reason"), TEXT),
    "comment": (C_("column", "Comment"), TEXT),
    "acknowledged": (C_("column", "Flags acknowledged"), TEXT),
    "party": (C_("column", "For party"), TEXT),
    "user_id": (C_("column", "User id"), INTEGER),
    "share": (C_("column", "Share"), SHARE),
}
SHEETS = {"schedule": C_("sheet", "Schedule"), "entries": C_("sheet", "Entries"),
          "trail": C_("sheet", "Approval trail")}
# Kept out of the approval trail: the store's own keys and the chain's links (the step's hash is shown); out of
# the entries sheet: each entry's steps (the approval trail has them, one row each).
TRAIL_HIDDEN = frozenset({"id", "contract_id", "prev_hash", "mac"})
ENTRY_HIDDEN = frozenset({"steps"})
NOT_SUMMED = frozenset({"forecast_p10", "forecast_p50", "forecast_p90", "owed_to_date", "previously_booked"})


def schedule_rows(db: Engine, stored: StoredContract, with_forecast: bool = False, ledger: Any = None
                  ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(one row per period and payer, one row per ledger entry); the forecast band if asked for.  ``ledger``:
    the contract's ledger when the caller has read it already."""
    from api.status import forecast
    from payments.ledger import read_ledger, read_steps
    from payments.schedule import entry_rows, schedule

    ledger = read_ledger(db, stored.id) if ledger is None else ledger
    steps = read_steps(db, stored.id)
    statuses = dict(zip(steps["entry_seq"], steps["status"])) if len(steps) else {}
    band = forecast(db, stored) if with_forecast else None
    contract = stored.latest.terms
    return (schedule(contract, ledger, statuses, band, steps),
            entry_rows(ledger, statuses, steps, contract))


# -- the sheets ------------------------------------------------------------------------------------------------------

def _column(key: str, w: Any, rows: Iterable[dict[str, Any]], show: Callable[[Any], Any] | None = None,
            machine: bool = True, header_key: str | None = None) -> Column:
    """The column of ``key``: its header in the language of ``w`` and its kind, from ``HEADERS``; a key the
    engine does not describe yet gets a header made from the key and a kind read from its values."""
    known = HEADERS.get(header_key or key)
    if show is None and _all_bool(rows, key):  # a flag: yes or no in words
        header = w.pgettext("column", known[0]) if known else key.replace("_", " ").capitalize()
        return Column(key, header, TEXT, show=_yes_no(w), machine=machine)
    if known is not None:
        header, kind = w.pgettext("column", known[0]), known[1]
    else:
        header = key.replace("_", " ").capitalize()
        kind = (DATETIME if key.endswith("_at") else DATE if key.endswith("_date")
                else kind_of(r.get(key) for r in rows))
    return Column(key, header, kind, show=show, machine=machine, total=key not in NOT_SUMMED)


def _extras(rows: list[dict[str, Any]], used: Iterable[str], w: Any, names: Any,
            hidden: frozenset[str] = frozenset()) -> list[Column]:
    """Columns for every key the rows have that no column shows yet (a column added to the computation shows
    up without a change here), in the rows' order."""
    seen = set(used) | hidden
    keys: dict[str, None] = {}
    for row in rows:
        keys.update(dict.fromkeys(k for k in row if k not in seen))
    out = []
    for key in keys:
        out.append(_column(key, w, rows, show=names.party if key == "party" else None))
    return out


def _all_bool(rows: list[dict[str, Any]], key: str) -> bool:
    values = [r.get(key) for r in rows if r.get(key) is not None]
    return bool(values) and all(isinstance(v, bool) for v in values)


def _yes_no(w: Any) -> Callable[[Any], str]:
    return lambda v: w.pgettext("value", "yes") if v else w.pgettext("value", "no")


def schedule_sheets(contract: Any, rows: list[dict[str, Any]], entries: list[dict[str, Any]],
                    steps: list[dict[str, Any]], lang: str, hidden_basis: Iterable[int] = ()) -> list[Sheet]:
    """The schedule, the entries and the approval trail as sheets in ``lang``.  ``rows`` and ``entries`` as
    ``schedule_rows`` gives them (entries with their calculation still a stored message), ``steps`` as
    ``payments.ledger.read_steps`` gives them (as records); ``hidden_basis``: entries whose basis the reader
    may not see (it counts too few people): their calculation says so and their counts are left out."""
    from language.names import Names
    from language.words import words
    from payments.returns import period_end

    w = words(lang, contract.currency)
    names = Names(contract, w)
    party, status = names.party, (lambda v: w.label("status", v))

    def ends(period: Any) -> Any:
        try:
            return period_end(str(period))
        except (ValueError, TypeError):
            return None

    money = ("calculated", "approved", "invoiced", "paid", "rejected", "overdue",
             "forecast_p10", "forecast_p50", "forecast_p90")
    columns = [_column("period", w, rows),
               _column("period", w, rows, show=ends, machine=False, header_key="period_end"),
               _column("payer", w, rows, show=party, machine=False, header_key="payer_name"),
               _column("payer", w, rows)]
    columns += [_column(k, w, rows) for k in money if any(k in r for r in rows)]
    columns += _extras(rows, [c.key for c in columns], w, names)
    schedule = Sheet(w.pgettext("sheet", SHEETS["schedule"]), columns, rows, totals=True)

    hidden = set(hidden_basis)
    shown_entries = [dict(e, calculation=w._("basis hidden: it counts too few people"), counts="")
                     if e.get("entry") in hidden else e for e in entries]
    caps = (lambda value: "; ".join(names.cap(c) if isinstance(c, dict) else str(c) for c in value)
            if isinstance(value, (list, tuple)) else str(value))
    kind = (lambda v: w.label("entry", v))
    columns = [_column("entry", w, entries), _column("period", w, entries), _column("due_date", w, entries),
               _column("due", w, entries), _column("payer", w, entries, show=party, machine=False,
                                                   header_key="payer_name"),
               _column("payer", w, entries), _column("mechanism", w, entries, show=names.mechanism),
               _column("cohort", w, entries, show=names.cohort), _column("kind", w, entries, show=kind),
               _column("status", w, entries, show=status), _column("amount", w, entries),
               _column("currency", w, entries)]
    columns += _extras(shown_entries, [c.key for c in columns] + ["calculation", "caps_applied", "created_at",
                                                                   "created_by", "hash"], w, names, ENTRY_HIDDEN)
    columns += [_column("calculation", w, entries, show=names.message),
                _column("caps_applied", w, entries, show=caps),
                *(_column(k, w, entries) for k in ("created_at", "created_by", "hash"))]
    columns = [c for c in columns if any(c.key in e for e in entries) or (not entries and c.key != "due")]
    sheet_entries = Sheet(w.pgettext("sheet", SHEETS["entries"]), columns, shown_entries, totals=True)

    by_entry = {e.get("entry"): e for e in entries}
    trail = [dict(s, period=by_entry.get(s.get("entry_seq"), {}).get("period"),
                  payer=by_entry.get(s.get("entry_seq"), {}).get("payer"),
                  amount=by_entry.get(s.get("entry_seq"), {}).get("amount")) for s in steps]
    columns = [_column("seq", w, trail), _column("entry_seq", w, trail), _column("period", w, trail),
               _column("payer", w, trail, show=party, machine=False, header_key="payer_name"),
               _column("payer", w, trail),
               Column("amount", w.pgettext("column", HEADERS["amount"][0]), MONEY, total=False),
               _column("status", w, trail, show=status), _column("at", w, trail), _column("by", w, trail),
               _column("note", w, trail)]
    columns += _extras(trail, [c.key for c in columns] + ["hash"], w, names, hidden=TRAIL_HIDDEN)
    columns.append(_column("hash", w, trail))
    sheet_trail = Sheet(w.pgettext("sheet", SHEETS["trail"]), columns, trail)
    return [schedule, sheet_entries, sheet_trail]


def contract_sheets(stored: StoredContract, lang: str, ledger: Any, steps: Any, band: Any = None,
                    aggregate_only: bool = False, results: Any = None) -> list[Sheet]:
    """The three sheets of a contract from its ``ledger`` and ``steps`` (as ``payments.ledger`` reads them) and
    a forecast ``band`` (or None).  For a reader who sees only aggregates (``aggregate_only``), the basis of an
    entry that counts too few people is hidden, as on the schedule page."""
    from payments.schedule import entry_rows, schedule

    contract = stored.latest.terms
    statuses = dict(zip(steps["entry_seq"], steps["status"])) if len(steps) else {}
    rows = schedule(contract, ledger, statuses, band, steps)
    hidden: list[int] = []
    if aggregate_only and len(ledger):
        from api.privacy import suppress_bases

        threshold = contract.suppression_threshold
        bases = suppress_bases(copy.deepcopy(ledger.to_dict(orient="records")), threshold, results)
        hidden = [int(seq) for seq, before, after in zip(ledger["seq"], ledger["basis"], bases)
                  if after.get("suppressed") or (_explained(before or {}) and not _explained(after))]
        ledger = ledger.assign(basis=bases)
    entries = entry_rows(ledger, statuses, steps, contract)
    return schedule_sheets(contract, rows, entries, steps.to_dict(orient="records") if len(steps) else [], lang,
                           hidden)


def _explained(basis: dict[str, Any]) -> bool:
    return bool(basis.get("trail") or basis.get("explanation"))


def csv_style(style: str | None, lang: str) -> str:
    """The CSV style asked for, else the language's own."""
    if style is None:
        return lang if lang in CSV_STYLES else "en"
    if style not in CSV_STYLES:
        raise ValueError(f"no CSV style {style!r}; expected one of: {', '.join(CSV_STYLES)}")
    return style


def schedule_file(db: Engine, stored: StoredContract, kind: str, lang: str | None = None, style: str | None = None,
                  aggregate_only: bool = False) -> tuple[bytes, str, str]:
    """(content, media type, file name) of the schedule as CSV (the schedule sheet, in ``style``: sv, en or
    plain; default the language's) or Excel (schedule, entries, approval trail).  ``lang``: default Swedish for
    contracts in SEK, else English."""
    from api.status import forecast
    from language.words import default_language
    from payments.ledger import read_ledger, read_steps

    lang = lang or default_language(stored.currency)
    ledger, steps = read_ledger(db, stored.id), read_steps(db, stored.id)
    from api.privacy import run_results

    sheets = contract_sheets(stored, lang, ledger, steps, forecast(db, stored), aggregate_only, run_results(db))
    buffer = io.BytesIO()
    if kind == "csv":
        write_csv(sheets[0], buffer, csv_style(style, lang), stored.currency)
        return buffer.getvalue(), CSV, f"{stored.id}-schedule.csv"
    write_xlsx(sheets, buffer, stored.currency, lang)
    return buffer.getvalue(), XLSX, f"{stored.id}-schedule.xlsx"
