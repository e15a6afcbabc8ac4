"""Reading delivered files as chunks of text, whatever shape they come in.

CSV (UTF-8 with or without BOM, or Windows-1252; ',' ';' or tab), Excel
.xlsx and JSON Lines all become the same thing: frames of stripped text, one
column per header name (lower-cased, renamed by the mapping), indexed by the
row number a person sees in the file (for CSV and Excel the header is row 1;
for JSON Lines, the line number).  Nothing is parsed here beyond text, so a
bad cell becomes a reported error later instead of a silently coerced value.
Files are streamed in chunks, so a file of ten million rows never sits in
memory at once.
"""

from __future__ import annotations

import codecs
import csv
import functools
import hashlib
import json
import os
import re
import stat
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from contracts.model import FileMapping
from language import Message, MessageError
from outcomes.messages import TEXTS as O

CHUNK_ROWS = 100_000
BLOCK_BYTES = 2 << 20  # pyarrow reads this much at a time; more when a line is longer
MAX_LINE_BYTES = 64 << 20  # a longer line is refused
SNIFF_BYTES = 1 << 20
# Limits, checked before the work they bound (docs/ingestion.md):
XLSX_MAX_ROWS = 1_048_576  # Excel's own limit: a sheet with more rows was not written by Excel
XLSX_MAX_UNCOMPRESSED = 512 << 20  # bytes of XML a workbook may unpack to, all its parts together
JSON_MAX_DEPTH = 32  # nesting of arrays and objects in one JSON Lines row (a row is one level; cells are flat)


class UnreadableFile(MessageError):
    """The file cannot be read as a table at all; one line for the user."""


@dataclass(frozen=True)
class ParseProblem:
    row: int
    message: Message
    column: str = ""


@dataclass
class TextTable:
    """A delivered file as a stream of text chunks (see the module docstring)."""

    name: str
    columns: list[str]
    chunks: Iterator[tuple[pd.DataFrame, list[ParseProblem]]]
    notes: list[Message] = field(default_factory=list)
    kind: str = "csv"  # csv, xlsx or jsonl
    source: Path | None = None

    @functools.cached_property
    def rows(self) -> int | None:
        """About how many rows the file has (its lines, less a CSV's header), counted once when asked, for a
        progress bar; None for a workbook (only reading it tells)."""
        if self.source is None or self.kind == "xlsx":
            return None
        lines = last = 0
        with open(self.source, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                lines += block.count(b"\n")
                last = block[-1]
        lines += last != 0x0A  # a last line without its newline
        return max(0, lines - (self.kind == "csv"))


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def open_table(path: Path, mapping: FileMapping | None = None, chunk_rows: int = CHUNK_ROWS) -> TextTable:
    mapping = mapping or FileMapping()
    path = Path(path)
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        raise UnreadableFile(O("no_file", path=str(path))) from None
    if stat.S_ISDIR(mode):
        raise UnreadableFile(O("is_directory", path=str(path)))
    if not stat.S_ISREG(mode):  # a pipe or a device (/dev/zero) would hang or never end
        raise UnreadableFile(O("not_regular", path=str(path)))
    try:
        with open(path, "rb") as fh:
            head = fh.read(SNIFF_BYTES)
    except FileNotFoundError:
        raise UnreadableFile(O("no_file", path=str(path))) from None
    except IsADirectoryError:
        raise UnreadableFile(O("is_directory", path=str(path))) from None
    if not head.strip():
        raise UnreadableFile(O("empty_file", file=path.name))
    suffix = path.suffix.lower()
    if suffix == ".xlsx" or head[:4] == b"PK\x03\x04":
        table = _xlsx(path, mapping, chunk_rows)
    elif suffix in (".jsonl", ".ndjson") or head.lstrip()[:1] == b"{":
        table = _jsonl(path, head, chunk_rows)
    else:
        table = _csv(path, head, mapping, chunk_rows)
    table.chunks = _clean_cells(table.chunks, csv=table.kind == "csv")
    table.source = path
    return _mapped(table, mapping)


SUSPECT = r"[\x00\r\n]"  # characters _clean_cells refuses (RE2)


def _clean_cells(chunks: Iterator[tuple[pd.DataFrame, list[ParseProblem]]],
                 csv: bool) -> Iterator[tuple[pd.DataFrame, list[ParseProblem]]]:
    """Refuse, by row and column, cells no store can hold or that show a file read wrongly: a NUL character
    (PostgreSQL cannot store one), and in CSV a line break inside a cell (an unclosed quote swallowing the rows
    after it).  Their rows go no further."""
    for frame, problems in chunks:
        if frame.attrs.get("clean"):
            yield frame, problems
            continue
        bad = pd.Series(False, index=frame.index)
        found: list[ParseProblem] = []
        for column in frame.columns:
            text = frame[column]
            nul = text.str.contains("\x00", regex=False)
            broken = text.str.contains("[\r\n]", regex=True) & ~nul if csv else None
            for mask, code in ((nul, "nul"), (broken, "line_break")):
                if mask is not None and mask.any():
                    found += [ParseProblem(int(r), O(code), column) for r in frame.index[mask.to_numpy(dtype=bool)]]
                    bad |= mask
        yield (frame[~bad] if found else frame), problems + found


# -- CSV ----------------------------------------------------------------------------------------------------------

# A well-formed UTF-8 sequence of two to four bytes: in a file that is not UTF-8 as a whole, a sign of mixed encodings.
UTF8_SEQUENCE = re.compile(rb"[\xc2-\xdf][\x80-\xbf]|\xe0[\xa0-\xbf][\x80-\xbf]|[\xe1-\xec\xee\xef][\x80-\xbf]{2}"
                           rb"|\xed[\x80-\x9f][\x80-\xbf]|\xf0[\x90-\xbf][\x80-\xbf]{2}|[\xf1-\xf3][\x80-\xbf]{3}"
                           rb"|\xf4[\x80-\x8f][\x80-\xbf]{2}")


def _encoding(path: Path, head: bytes, mapping: FileMapping) -> str:
    """UTF-8 if the whole file is UTF-8; Windows-1252 if the mapping says so, or (auto) if no line of the file is
    UTF-8 beyond ASCII.  A file mixing the two is refused with the first line that is not UTF-8: it is never
    silently read in an encoding some of its lines are not written in."""
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) or b"\x00" in head:
        raise UnreadableFile(O("utf16_or_binary", file=path.name))
    if mapping.encoding == "cp1252":
        return "cp1252"
    bad_at = _first_not_utf8(path)
    if bad_at is None:
        return "utf-8-sig"
    if mapping.encoding == "utf-8":
        raise UnreadableFile(O("not_utf8_line", file=path.name, line=_line_at(path, bad_at)))
    if _has_utf8_sequence(path):
        raise UnreadableFile(O("mixed_encoding", file=path.name, line=_line_at(path, bad_at)))
    undefined = {0x81, 0x8D, 0x8F, 0x90, 0x9D}  # bytes Windows-1252 leaves undefined
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(16 << 20), b""):
            if undefined & set(block):
                raise UnreadableFile(O("not_text", file=path.name))
    return "cp1252"


def _first_not_utf8(path: Path) -> int | None:
    """The offset of the first byte that is not UTF-8, or None."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    offset = 0
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(16 << 20), b""):
            pending = len(decoder.getstate()[0])
            try:
                decoder.decode(block)
            except UnicodeDecodeError as exc:
                return offset - pending + exc.start
            offset += len(block)
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            return offset - len(decoder.getstate()[0])
    return None


def _has_utf8_sequence(path: Path) -> bool:
    tail = b""
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(16 << 20), b""):
            if UTF8_SEQUENCE.search(tail + block):
                return True
            tail = block[-3:]
    return False


def _line_at(path: Path, offset: int) -> int:
    """The line (from 1) holding byte ``offset``."""
    lines, done = 1, 0
    with open(path, "rb") as fh:
        while done < offset:
            block = fh.read(min(16 << 20, offset - done))
            if not block:
                break
            lines += block.count(b"\n")
            done += len(block)
    return lines


def _csv(path: Path, head: bytes, mapping: FileMapping, chunk_rows: int) -> TextTable:
    encoding = _encoding(path, head, mapping)
    first_line = head.split(b"\n", 1)[0].rstrip(b"\r").decode(encoding, errors="replace")
    if mapping.delimiter != "auto":
        delimiter = "\t" if mapping.delimiter == "tab" else mapping.delimiter
    else:
        counts = {d: first_line.count(d) for d in (",", ";", "\t")}
        delimiter = max(counts, key=lambda d: (counts[d], d == ","))
    if "\r" in first_line:
        raise UnreadableFile(O("bare_cr", file=path.name))
    try:
        header = next(csv.reader([first_line], delimiter=delimiter))
    except csv.Error as exc:
        raise UnreadableFile(O("bad_header", file=path.name, reason=str(exc))) from None
    columns = _header(path, header)
    notes = [O("windows_1252")] if encoding == "cp1252" else []
    return TextTable(path.name, columns, _csv_chunks(path, columns, encoding, delimiter, chunk_rows), notes, "csv")


def _header(path: Path, names: list[str]) -> list[str]:
    columns = [n.strip().lower() for n in names]
    if any(not c for c in columns):
        raise UnreadableFile(O("empty_column_name", file=path.name, column=columns.index("") + 1))
    seen: set[str] = set()
    for c in columns:
        if c in seen:
            raise UnreadableFile(O("column_twice", file=path.name, column=c))
        seen.add(c)
    return columns


def _csv_chunks(path: Path, columns: list[str], encoding: str, delimiter: str,
                chunk_rows: int) -> Iterator[tuple[pd.DataFrame, list[ParseProblem]]]:
    invalid: list[ParseProblem] = []

    def on_invalid(row: pacsv.InvalidRow) -> str:
        quote = row.actual_columns < row.expected_columns and '"' in (row.text or "")
        invalid.append(ParseProblem(row.number or 0, O("fields_quote" if quote else "fields",
                                                       expected=row.expected_columns, found=row.actual_columns)))
        return "skip"

    longest, unclosed = _longest_line(path)
    if longest > MAX_LINE_BYTES:
        raise UnreadableFile(O("line_too_long", file=path.name, n=longest, limit=MAX_LINE_BYTES))
    reader = pacsv.open_csv(
        path,
        read_options=pacsv.ReadOptions(skip_rows=1, column_names=columns, use_threads=False,
                                       block_size=max(BLOCK_BYTES, 2 * longest + 1024),
                                       encoding="utf8" if encoding == "utf-8-sig" else encoding),
        parse_options=pacsv.ParseOptions(delimiter=delimiter, invalid_row_handler=on_invalid,
                                         ignore_empty_lines=False),
        convert_options=pacsv.ConvertOptions(column_types={c: pa.string() for c in columns},
                                             strings_can_be_null=False, quoted_strings_can_be_null=False),
    )
    next_row, reported = 2, 0
    pending: list[pa.RecordBatch] = []
    pending_rows = 0
    try:
        batches = iter(reader)
        while True:
            batch = next(batches, None)
            if batch is not None:
                pending.append(batch)
                pending_rows += batch.num_rows
            if pending and (pending_rows >= chunk_rows or batch is None):
                table = pa.Table.from_batches(pending)
                pending, pending_rows = [], 0
                skipped = np.array(sorted(p.row for p in invalid if p.row >= next_row), dtype=np.int64)
                candidates = np.arange(next_row, next_row + table.num_rows + len(skipped), dtype=np.int64)
                numbers = candidates[~np.isin(candidates, skipped)][: table.num_rows]
                next_row = int(numbers[-1]) + 1 if len(numbers) else next_row
                problems, reported = invalid[reported:], len(invalid)
                frame = _text_frame(table, numbers)
                del table
                pa.default_memory_pool().release_unused()  # keep a long stream's footprint flat
                yield frame, problems
            if batch is None:
                break
    except pa.ArrowInvalid as exc:
        raise UnreadableFile(O("not_csv", file=path.name, reason=_arrow_reason(exc))) from None
    if unclosed is not None and not invalid:  # not already reported as a row with too few fields
        invalid.append(ParseProblem(unclosed, O("unclosed_quote")))
    if len(invalid) > reported:
        yield pd.DataFrame(columns=columns, dtype=str), invalid[reported:]


def _longest_line(path: Path) -> tuple[int, int | None]:
    """The longest line in bytes, found in bounded memory (pyarrow needs a block to hold any whole line); and, if
    the file has an odd number of quote characters, the line of the last one (a quote never closed)."""
    longest, previous_end, offset, lines, quotes, last_quote = 0, 0, 0, 1, 0, 0
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(8 << 20), b""):
            data = np.frombuffer(block, dtype=np.uint8)
            ends = np.flatnonzero(data == 10)
            marks = np.flatnonzero(data == 34)
            if len(marks):
                quotes += len(marks)
                last_quote = lines + int(np.count_nonzero(ends < marks[-1]))
            lines += len(ends)
            ends = ends + offset
            if len(ends):
                longest = max(longest, int(ends[0] - previous_end), int(np.diff(ends).max(initial=0)))
                previous_end = int(ends[-1])
            offset += len(block)
    return max(longest, offset - previous_end), (last_quote if quotes % 2 else None)


def _arrow_reason(exc: Exception) -> Any:
    text = str(exc).split("\n")[0]
    if "straddling" in text:
        return O("csv_block").as_dict()
    return text.split(":")[0] if "CSV parse error" in text else O("csv_unparsable").as_dict()


def _text_frame(table: pa.Table, numbers: np.ndarray) -> pd.DataFrame:
    stripped = {name: pc.utf8_trim_whitespace(table.column(name)) for name in table.column_names}
    suspect = any(pc.any(pc.match_substring_regex(column, SUSPECT)).as_py() for column in stripped.values())
    # Rows that are entirely empty (blank lines) are skipped, their numbers kept by the others; found in Arrow,
    # one pass per column in C++ rather than a comparison of every cell as a Python object.
    empty = None
    for column in stripped.values():
        blank = pc.equal(column, "")
        empty = blank if empty is None else pc.and_(empty, blank)
    frame = pa.table(stripped).to_pandas()
    frame.index = pd.Index(numbers, name="row")
    if empty is not None and pc.any(empty).as_py():
        frame = frame[~pc.fill_null(empty, False).to_numpy(zero_copy_only=False)]
    frame.attrs["clean"] = not suspect  # no cell for _clean_cells to look at (found here in one pass per column)
    return frame


# -- Excel --------------------------------------------------------------------------------------------------------

def _cell_text(value: object) -> str:
    if value is None:
        return ""
    if hasattr(value, "date") and hasattr(value, "hour"):  # datetime
        return value.date().isoformat() if not (value.hour or value.minute or value.second) else value.isoformat()
    if hasattr(value, "isoformat"):  # date
        return value.isoformat()
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _xlsx(path: Path, mapping: FileMapping, chunk_rows: int) -> TextTable:
    import openpyxl

    _xlsx_limits(path)
    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=False)  # formulas as formulas, not blanks
        cached = openpyxl.load_workbook(path, read_only=True, data_only=True) if mapping.formulas == "cached" else None
    except Exception as exc:  # a damaged workbook fails in many ways (zip, XML, missing parts, bad values)
        raise UnreadableFile(O("not_xlsx", file=path.name, reason=type(exc).__name__)) from None
    if mapping.sheet is not None and mapping.sheet not in book.sheetnames:
        raise UnreadableFile(O("no_sheet", file=path.name, sheet=mapping.sheet, sheets=", ".join(book.sheetnames)))
    name = mapping.sheet or book.sheetnames[0]
    rows = _xlsx_rows(path, book[name], 1)
    values = _xlsx_rows(path, cached[name], 1) if cached is not None else None
    header = next(rows, None)
    if values is not None:
        next(values, None)
    if header is None:
        raise UnreadableFile(O("empty_sheet", file=path.name))
    while header and header[-1] is None:
        header = header[:-1]
    if any(_is_formula(h) for h in header):
        raise UnreadableFile(O("xlsx_formula_header", file=path.name))
    columns = _header(path, [_cell_text(h) for h in header])

    def chunks() -> Iterator[tuple[pd.DataFrame, list[ParseProblem]]]:
        buffer: list[list[str]] = []
        numbers: list[int] = []
        problems: list[ParseProblem] = []
        for number, row in enumerate(rows, start=2):
            saved = next(values, ()) if values is not None else ()
            row = row[: len(columns)]
            formulas = [i for i, v in enumerate(row) if _is_formula(v)]
            if formulas:
                row = list(row)
                for i in formulas:
                    value = saved[i] if i < len(saved) else None
                    if values is None or value is None or _is_formula(value):
                        code = "xlsx_formula" if values is None else "xlsx_formula_no_value"
                        problems.append(ParseProblem(number, O(code), columns[i]))
                    row[i] = value
                if len(problems) and problems[-1].row == number:
                    continue
            cells = [_cell_text(v).strip() for v in row]
            if not any(cells):
                continue
            buffer.append(cells + [""] * (len(columns) - len(cells)))
            numbers.append(number)
            if len(buffer) >= chunk_rows:
                yield pd.DataFrame(buffer, columns=columns, index=pd.Index(numbers, name="row"), dtype=str), problems
                buffer, numbers, problems = [], [], []
        yield pd.DataFrame(buffer, columns=columns, index=pd.Index(numbers, name="row"), dtype=str), problems
        book.close()
        if cached is not None:
            cached.close()

    return TextTable(path.name, columns, chunks(), kind="xlsx")


def _is_formula(value: object) -> bool:
    """A formula as openpyxl gives it when not asked for the saved values: text starting with '=' or an array or
    data-table formula object."""
    if isinstance(value, str):
        return value.startswith("=")
    return value is not None and type(value).__name__ in ("ArrayFormula", "DataTableFormula")


def _xlsx_rows(path: Path, sheet: Any, first: int) -> Iterator[tuple]:
    """A sheet's rows as values; a damaged part of the workbook is one clear error naming the row it reached."""
    number = first - 1
    try:
        for number, row in enumerate(sheet.iter_rows(values_only=True), start=first):
            if number > XLSX_MAX_ROWS:
                raise UnreadableFile(O("xlsx_rows", file=path.name, n=number, limit=XLSX_MAX_ROWS))
            yield row
    except UnreadableFile:
        raise
    except Exception as exc:  # damaged XML or values openpyxl cannot convert
        raise UnreadableFile(O("xlsx_damaged", file=path.name, row=number + 1, reason=type(exc).__name__)) from None


ROW_TAG = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?row[\s>/]")
DIMENSION = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?dimension\s+ref=\"[A-Z]*\d*:?[A-Z]*(\d+)\"")


def _xlsx_limits(path: Path) -> None:
    """Check, from the zip archive alone and before any XML is parsed, that the workbook unpacks to at most
    XLSX_MAX_UNCOMPRESSED bytes (the sizes its directory declares; unpacking stops there) and that no sheet has
    more than XLSX_MAX_ROWS rows (its dimension, then its row elements counted in one streaming pass)."""
    try:
        with zipfile.ZipFile(path) as archive:
            parts = archive.infolist()
            size = sum(p.file_size for p in parts)
            if size > XLSX_MAX_UNCOMPRESSED:
                raise UnreadableFile(O("xlsx_size", file=path.name, n=size, limit=XLSX_MAX_UNCOMPRESSED))
            for part in parts:
                if part.filename.startswith("xl/worksheets/") and part.filename.endswith(".xml"):
                    rows = _sheet_rows(archive, part)
                    if rows > XLSX_MAX_ROWS:
                        raise UnreadableFile(O("xlsx_rows", file=path.name, n=rows, limit=XLSX_MAX_ROWS))
    except UnreadableFile:
        raise
    except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, OSError, EOFError, ValueError,
            RuntimeError) as exc:
        raise UnreadableFile(O("not_xlsx", file=path.name, reason=type(exc).__name__)) from None


def _sheet_rows(archive: zipfile.ZipFile, part: zipfile.ZipInfo) -> int:
    """The rows of one sheet's XML: its dimension if that already says too many, else its row elements counted."""
    rows, tail = 0, b""
    with archive.open(part) as xml:
        first = xml.read(4096)
        dimension = DIMENSION.search(first)
        if dimension and int(dimension.group(1)) > XLSX_MAX_ROWS:
            return int(dimension.group(1))
        block = first
        while block:
            text = tail + block
            rows += len(ROW_TAG.findall(text)) - len(ROW_TAG.findall(tail))
            tail = text[-64:]
            block = xml.read(8 << 20)
    return rows


# -- JSON Lines ---------------------------------------------------------------------------------------------------

def _json_text(value: object) -> str | None:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float, str)):
        return str(value) if not isinstance(value, float) or not value.is_integer() else str(int(value))
    return None  # nested lists and objects are not cells


class _KeyTwice(ValueError):
    def __init__(self, key: str):
        super().__init__(key)
        self.key = key


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object whose keys are all different (also in case and spacing): the last one never silently wins."""
    seen: set[str] = set()
    for key, _ in pairs:
        name = key.strip().lower()
        if name in seen:
            raise _KeyTwice(key)
        seen.add(name)
    return dict(pairs)


BRACKETS = re.compile(r"[\[\]{}]")
JSON_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')


def _too_deep(line: str | bytes) -> bool:
    """Whether a line nests arrays and objects deeper than JSON_MAX_DEPTH (checked before it is parsed, so no
    parser recurses into a bomb); quick where the line has few brackets, as every row has."""
    if isinstance(line, bytes):
        line = line.decode("utf-8", errors="replace")
    if line.count("[") + line.count("{") <= JSON_MAX_DEPTH:
        return False
    depth = 0
    for bracket in BRACKETS.findall(JSON_STRING.sub("", line)):
        depth += 1 if bracket in "[{" else -1
        if depth > JSON_MAX_DEPTH:
            return True
    return False


def _jsonl(path: Path, head: bytes, chunk_rows: int) -> TextTable:
    line = head.split(b"\n", 1)[0]
    if _too_deep(line):
        raise UnreadableFile(O("json_too_deep_first", file=path.name, limit=JSON_MAX_DEPTH))
    try:
        first = json.loads(line, object_pairs_hook=_object)
    except _KeyTwice as twice:
        raise UnreadableFile(O("json_key_twice_first", file=path.name, key=twice.key.strip().lower())) from None
    except (ValueError, RecursionError):
        raise UnreadableFile(O("json_first_line", file=path.name)) from None
    if not isinstance(first, dict):
        raise UnreadableFile(O("json_first_object", file=path.name))
    columns = _header(path, list(first))

    def chunks() -> Iterator[tuple[pd.DataFrame, list[ParseProblem]]]:
        buffer: list[list[str]] = []
        numbers: list[int] = []
        problems: list[ParseProblem] = []
        with open(path, encoding="utf-8-sig", errors="strict") as fh:
            try:
                for number, line in enumerate(fh, start=1):
                    if not line.strip():
                        continue
                    if _too_deep(line):
                        problems.append(ParseProblem(number, O("json_too_deep", limit=JSON_MAX_DEPTH)))
                        continue
                    try:
                        obj = json.loads(line, object_pairs_hook=_object, parse_float=str)  # as written: 1e-400
                    except _KeyTwice as twice:
                        key = twice.key.strip().lower()
                        problems.append(ParseProblem(number, O("json_key_twice", key=key), key))
                        continue
                    except (ValueError, RecursionError):
                        problems.append(ParseProblem(number, O("json_line")))
                        continue
                    if not isinstance(obj, dict):
                        problems.append(ParseProblem(number, O("json_object")))
                        continue
                    keys = {str(k).strip().lower(): v for k, v in obj.items()}
                    unknown = [k for k in keys if k not in columns]
                    if unknown:
                        problems.append(ParseProblem(number, O("json_field", field=unknown[0],
                                                               fields=", ".join(columns))))
                        continue
                    cells = [_json_text(keys.get(c)) for c in columns]
                    if any(c is None for c in cells):
                        problems.append(ParseProblem(number, O("json_nested")))
                        continue
                    buffer.append([c.strip() for c in cells])  # type: ignore[union-attr]
                    numbers.append(number)
                    if len(buffer) >= chunk_rows:
                        yield pd.DataFrame(buffer, columns=columns, index=pd.Index(numbers, name="row"), dtype=str), problems
                        buffer, numbers, problems = [], [], []
            except UnicodeDecodeError:
                raise UnreadableFile(O("json_not_utf8", file=path.name)) from None
        yield pd.DataFrame(buffer, columns=columns, index=pd.Index(numbers, name="row"), dtype=str), problems

    return TextTable(path.name, columns, chunks(), kind="jsonl")


# -- mapping ------------------------------------------------------------------------------------------------------

def _mapped(table: TextTable, mapping: FileMapping) -> TextTable:
    """Rename the file's columns to ours and add constant columns, as the mapping says."""
    if not mapping.columns and not mapping.constants:
        return table
    theirs_to_ours = {theirs.strip().lower(): ours for ours, theirs in mapping.columns.items()}
    missing = [theirs for theirs in theirs_to_ours if theirs not in table.columns]
    if missing:
        raise UnreadableFile(O("mapping_column", file=table.name, column=missing[0], columns=", ".join(table.columns)))
    columns = [theirs_to_ours.get(c, c) for c in table.columns] + [c for c in mapping.constants if c not in theirs_to_ours.values()]

    def chunks() -> Iterator[tuple[pd.DataFrame, list[ParseProblem]]]:
        for frame, problems in table.chunks:
            frame = frame.rename(columns=theirs_to_ours)
            for name, value in mapping.constants.items():
                frame[name] = value
            yield frame, problems

    return TextTable(table.name, columns, chunks(), table.notes, table.kind, table.source)


def read_table(path: Path, mapping: FileMapping | None = None) -> pd.DataFrame:
    """A whole (small) file as one text frame; parse problems raise. For tests and small tools."""
    table = open_table(path, mapping)
    frames, problems = [], []
    for frame, found in table.chunks:
        frames.append(frame)
        problems += found
    if problems:
        raise UnreadableFile(O("row_problem", file=table.name, row=problems[0].row, problem=problems[0].message.as_dict()))
    return pd.concat(frames) if frames else pd.DataFrame(columns=table.columns)


__all__ = ["CHUNK_ROWS", "ParseProblem", "TextTable", "UnreadableFile", "file_sha256", "open_table", "read_table"]
