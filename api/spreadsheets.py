"""Spreadsheets a finance office imports without rework: typed columns, written as Excel or as CSV.

A sheet is a title, columns and rows.  Each column has a key (the row's key, and the column's name in the
``plain`` CSV), a header already in the reader's language, and a kind that says how its values are written:

| kind | a row holds | Excel | CSV ``sv`` / ``en`` | CSV ``plain`` |
|---|---|---|---|---|
| ``money`` | Decimal (or its text) | a number, the currency's format | 1234,50 / 1234.50 (minor unit) | exact text |
| ``date`` | ``datetime.date`` or ISO text | a date, ``yyyy-mm-dd`` | 2025-07-31 | 2025-07-31 |
| ``datetime`` | aware ``datetime`` or ISO text | a date and time in UTC | 2025-07-31 12:00:00 | as stored |
| ``integer`` | int | a number, no grouping | 17 | 17 |
| ``share`` | Decimal (0.6) | a percentage | 0,6 / 0.6 | 0.6 |
| ``text`` | anything | text | text | text |

A column may say how a person reads its value (``show``: a party's name for its id, a status in words);
Excel and the ``sv``/``en`` CSV show that, the ``plain`` CSV keeps the stored value.  Columns only for people
(``machine=False``) are left out of the ``plain`` CSV, so its columns stay the stable machine keys.

Excel keeps numbers as IEEE doubles, which hold 15 significant digits exactly: every amount below 10^13 (ten
thousand billion kronor) is read back to the öre; the cell is written with up to 16.  The ``plain`` CSV is
exact for any amount.  Text that a spreadsheet would run as a formula (``=``, ``+``, ``-``, ``@``, tab, carriage
return first) is neutralised with a leading apostrophe in every format (``outcomes.report.neutralise``).
"""

from __future__ import annotations

import csv
import io
import json
import numbers
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from pathlib import Path
from typing import IO, Any, Callable, Iterable, Union

from outcomes.report import neutralise
from payments.money import MINOR_UNITS

MONEY, DATE, DATETIME, INTEGER, TEXT, SHARE = "money", "date", "datetime", "integer", "text", "share"
KINDS = (MONEY, DATE, DATETIME, INTEGER, TEXT, SHARE)
CSV_STYLES = ("sv", "en", "plain")
DATE_FORMAT, DATETIME_FORMAT = "yyyy-mm-dd", "yyyy-mm-dd hh:mm:ss"
SYMBOLS = {("sv", "SEK"): "kr"}  # a currency a language writes by its sign; every other by its ISO code
_BAD_TITLE = str.maketrans({c: " " for c in "[]:*?/\\"})

Target = Union[str, Path, IO[bytes]]


@dataclass(frozen=True)
class Column:
    """One column: ``key`` of the rows, ``header`` in the reader's language, ``kind`` (see the module)."""

    key: str
    header: str
    kind: str = TEXT
    show: Callable[[Any], Any] | None = None  # the value as a person reads it (Excel and the sv/en CSV)
    machine: bool = True  # in the plain CSV
    total: bool = True  # a money column summed in the totals row

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"no column kind {self.kind!r}; expected one of: {', '.join(KINDS)}")


@dataclass
class Sheet:
    """A table: its title (the sheet's name in Excel), columns, rows, and whether a totals row follows."""

    title: str
    columns: list[Column]
    rows: list[dict[str, Any]] = field(default_factory=list)
    totals: bool = False
    total_label: str | None = None  # default: "Total" in the workbook's language


# -- values ----------------------------------------------------------------------------------------------------------

def _decimal(value: Any) -> Decimal | None:
    if value is None or value == "" or isinstance(value, bool):
        return None
    if isinstance(value, Decimal):
        return value
    if isinstance(value, float):  # never an amount of ours; a share or an estimate at most
        return Decimal(repr(value))
    try:
        return Decimal(str(value).strip())
    except InvalidOperation:
        return None


def _date(value: Any) -> date | None:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str) and value.strip():
        try:
            return date.fromisoformat(value.strip()[:10])
        except ValueError:
            return None
    return None


def _datetime(value: Any) -> datetime | None:
    """A moment as naive UTC (Excel has no time zones)."""
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, date):
        return datetime(value.year, value.month, value.day)
    elif isinstance(value, str) and value.strip():
        try:
            moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            return None
    else:
        return None
    if moment.tzinfo is not None:
        moment = moment.astimezone(timezone.utc).replace(tzinfo=None)
    return moment.replace(microsecond=0)


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, (list, tuple)):
        return "; ".join(_text(v) for v in value)
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)
    return str(value)


def typed(value: Any, kind: str) -> Any:
    """A stored value as the Python value its kind is written from; None for an empty cell.  A value that does
    not fit its kind is kept as (neutralised) text rather than lost."""
    if value is None or (isinstance(value, float) and value != value):  # None or NaN (pandas' missing)
        return None
    if kind in (MONEY, SHARE):
        number = _decimal(value)
        return number if number is not None else (neutralise(_text(value)) or None)
    if kind == DATE:
        day = _date(value)
        return day if day is not None else (neutralise(_text(value)) or None)
    if kind == DATETIME:
        moment = _datetime(value)
        return moment if moment is not None else (neutralise(_text(value)) or None)
    if kind == INTEGER:
        if isinstance(value, bool):
            return neutralise(str(value))
        try:
            return int(value)
        except (TypeError, ValueError):
            return neutralise(_text(value)) or None
    return neutralise(_text(value)) or None


def shown(column: Column, row: dict[str, Any]) -> Any:
    """The cell of ``row`` in ``column`` as a person reads it, typed."""
    value = row.get(column.key)
    if column.show is not None and value is not None and value != "":
        value = column.show(value)
    return typed(value, column.kind)


def kind_of(values: Iterable[Any]) -> str:
    """The kind of a column nobody described, from its values: Decimal money, dates, whole numbers, else text."""
    seen = [v for v in values if v is not None and v != ""]
    if not seen:
        return TEXT
    if all(isinstance(v, Decimal) for v in seen):
        return MONEY
    if all(isinstance(v, datetime) for v in seen):
        return DATETIME
    if all(isinstance(v, date) and not isinstance(v, datetime) for v in seen):
        return DATE
    if all(isinstance(v, numbers.Integral) and not isinstance(v, bool) for v in seen):
        return INTEGER
    return TEXT


def minor_unit(currency: str | None) -> Decimal | None:
    return None if currency is None else Decimal(1).scaleb(-MINOR_UNITS.get(currency, 2))


# -- Excel -----------------------------------------------------------------------------------------------------------

def money_format(currency: str, lang: str) -> str:
    """Excel's number format for amounts: ``#,##0.00 "kr"`` for kronor in Swedish, ``#,##0.00 "GBP"`` for other
    currencies in Swedish, ``"SEK "#,##0.00`` in English.  Excel writes the separators of the reader's locale."""
    digits = MINOR_UNITS.get(currency, 2)
    number = "#,##0" + ("." + "0" * digits if digits else "")
    sign = SYMBOLS.get((lang, currency), currency)
    return f'{number} "{sign}"' if lang == "sv" else f'"{sign} "{number}'


def _title(text: str, taken: set[str]) -> str:
    """A sheet name Excel accepts: at most 31 characters, none of []:*?/\\, unique in the workbook."""
    base = (text.translate(_BAD_TITLE).strip(" '") or "Sheet")[:31]
    title, n = base, 1
    while title.lower() in taken:
        n += 1
        title = f"{base[:31 - len(str(n)) - 1]} {n}"
    taken.add(title.lower())
    return title


def _width(value: Any, kind: str) -> int:
    if value is None:
        return 0
    if kind == MONEY and isinstance(value, Decimal):
        return len(f"{value:,.2f}") + 5
    if kind == DATE:
        return 10
    if kind == DATETIME:
        return 19
    text = str(value)
    return max((len(line) for line in text.splitlines()), default=0)


def write_xlsx(sheets: list[Sheet], target: Target, currency: str, lang: str) -> Target:
    """An Excel workbook, one worksheet per sheet: a bold, frozen header row with an autofilter over the table;
    amounts as numbers in the currency's format; dates as dates; a totals row under the money columns of a
    sheet that asks for one (the exact Decimal sum, written as a number, so a reader that does not recalculate
    sees it too).  ``target``: a path or a binary file object."""
    from openpyxl import Workbook
    from openpyxl.styles import Border, Font, PatternFill, Side
    from openpyxl.utils import get_column_letter

    from language.words import words

    book = Workbook()
    book.remove(book.active)
    book.properties.language = {"sv": "sv-SE", "en": "en-GB"}.get(lang, lang)
    book.properties.creator = "sib-engine"
    formats = {MONEY: money_format(currency, lang), DATE: DATE_FORMAT, DATETIME: DATETIME_FORMAT, INTEGER: "0",
               SHARE: "0.0%"}
    bold, header_fill = Font(bold=True), PatternFill("solid", fgColor="DDDDDD")
    rule = Border(top=Side(style="thin"))
    taken: set[str] = set()
    for sheet in sheets:
        ws = book.create_sheet(_title(sheet.title, taken))
        columns = sheet.columns
        widths = [len(c.header) for c in columns]
        ws.append([neutralise(c.header) for c in columns])
        for cell in ws[1]:
            cell.font, cell.fill = bold, header_fill
        for row in sheet.rows:
            values = [shown(c, row) for c in columns]
            ws.append(values)
            for i, (cell, column, value) in enumerate(zip(ws[ws.max_row], columns, values)):
                if value is None:
                    continue
                if isinstance(value, str):
                    cell.data_type = "s"  # text is text: never a formula, whatever it begins with
                elif column.kind in formats:
                    cell.number_format = formats[column.kind]
                widths[i] = max(widths[i], _width(value, column.kind))
        last = get_column_letter(max(1, len(columns)))
        ws.freeze_panes = "A2"
        ws.auto_filter.ref = f"A1:{last}{1 + len(sheet.rows)}"
        summed = [c for c in columns if c.kind == MONEY and c.total]
        if sheet.totals and summed:
            at = len(sheet.rows) + 2
            label = next((i for i, c in enumerate(columns) if c.kind == TEXT), None)
            if label is not None:
                text = sheet.total_label or words(lang).pgettext("spreadsheet", "Total")
                ws.cell(row=at, column=label + 1, value=neutralise(text))
            for i, column in enumerate(columns):
                cell = ws.cell(row=at, column=i + 1)
                if column in summed:
                    total = sum((v for v in (shown(column, r) for r in sheet.rows) if isinstance(v, Decimal)),
                                Decimal(0))
                    cell.value, cell.number_format = total, formats[MONEY]
                    widths[i] = max(widths[i], _width(total, MONEY))
                cell.font, cell.border = bold, rule
        for i, width in enumerate(widths):
            ws.column_dimensions[get_column_letter(i + 1)].width = min(60, max(8, width + 2))
    book.save(target)
    return target


# -- CSV -------------------------------------------------------------------------------------------------------------

def _csv_cell(value: Any, kind: str, style: str, step: Decimal | None) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value  # text, already neutralised
    if kind == MONEY and isinstance(value, Decimal):
        if style != "plain" and step is not None:
            value = value.quantize(step, rounding=ROUND_HALF_UP)
        text = format(value, "f")
    elif kind == SHARE and isinstance(value, Decimal):
        text = format(value, "f")
    elif isinstance(value, datetime):
        text = value.strftime("%Y-%m-%d %H:%M:%S")
    elif isinstance(value, date):
        text = value.isoformat()
    else:
        text = str(value)
    return text.replace(".", ",") if style == "sv" and kind in (MONEY, SHARE) else text


def _plain(column: Column, row: dict[str, Any]) -> str:
    """A plain CSV cell: the stored value as it is (amounts exact), text neutralised."""
    value = row.get(column.key)
    if value is None or (isinstance(value, float) and value != value):
        return ""
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, numbers.Number) and not isinstance(value, bool):
        return str(value)
    return neutralise(_text(value))


def write_csv(sheet: Sheet, target: Target, style: str = "en", currency: str | None = None) -> Target:
    """One sheet as CSV in a ``style``: ``sv`` (semicolons, decimal comma, UTF-8 with BOM: what Excel in
    Swedish opens as columns), ``en`` (commas, decimal point, UTF-8 with BOM) or ``plain`` for machines
    (commas, decimal point, the columns' keys as headers, UTF-8 without BOM, amounts exact).  In ``sv`` and
    ``en`` amounts are rounded half-up to ``currency``'s minor unit, without thousands separators; dates
    are ISO in every style.  ``target``: a path or a binary file object."""
    if style not in CSV_STYLES:
        raise ValueError(f"no CSV style {style!r}; expected one of: {', '.join(CSV_STYLES)}")
    text = io.StringIO()
    writer = csv.writer(text, delimiter=";" if style == "sv" else ",", lineterminator="\r\n")
    if style == "plain":
        columns = [c for c in sheet.columns if c.machine]
        writer.writerow([neutralise(c.key) for c in columns])
        for row in sheet.rows:
            writer.writerow([_plain(c, row) for c in columns])
    else:
        step = minor_unit(currency)
        writer.writerow([neutralise(c.header) for c in sheet.columns])
        for row in sheet.rows:
            writer.writerow([_csv_cell(shown(c, row), c.kind, style, step) for c in sheet.columns])
    data = text.getvalue().encode("utf-8-sig" if style != "plain" else "utf-8")
    if isinstance(target, (str, Path)):
        Path(target).write_bytes(data)
    else:
        target.write(data)
    return target
