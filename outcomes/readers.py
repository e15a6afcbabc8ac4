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
import hashlib
import json
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


class UnreadableFile(MessageError):
    """The file cannot be read as a table at all; one line for the user."""


@dataclass(frozen=True)
class ParseProblem:
    row: int
    message: Message


@dataclass
class TextTable:
    """A delivered file as a stream of text chunks (see the module docstring)."""

    name: str
    columns: list[str]
    chunks: Iterator[tuple[pd.DataFrame, list[ParseProblem]]]
    notes: list[Message] = field(default_factory=list)


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
    return _mapped(table, mapping)


# -- CSV ----------------------------------------------------------------------------------------------------------

def _encoding(path: Path, head: bytes, mapping: FileMapping) -> str:
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) or b"\x00" in head:
        raise UnreadableFile(O("utf16_or_binary", file=path.name))
    if mapping.encoding != "auto":
        return "utf-8-sig" if mapping.encoding == "utf-8" else mapping.encoding
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        with open(path, "rb") as fh:
            for block in iter(lambda: fh.read(16 << 20), b""):
                decoder.decode(block)
            decoder.decode(b"", final=True)
        return "utf-8-sig"
    except UnicodeDecodeError:
        pass
    undefined = {0x81, 0x8D, 0x8F, 0x90, 0x9D}  # bytes Windows-1252 leaves undefined
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(16 << 20), b""):
            if undefined & set(block):
                raise UnreadableFile(O("not_text", file=path.name))
    return "cp1252"


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
    return TextTable(path.name, columns, _csv_chunks(path, columns, encoding, delimiter, chunk_rows), notes)


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

    longest = _longest_line(path)
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
    if len(invalid) > reported:
        yield pd.DataFrame(columns=columns, dtype=str), invalid[reported:]


def _longest_line(path: Path) -> int:
    """The longest line in bytes, found in bounded memory: pyarrow needs a block to hold any whole line."""
    longest, previous_end, offset = 0, 0, 0
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(8 << 20), b""):
            ends = np.flatnonzero(np.frombuffer(block, dtype=np.uint8) == 10) + offset
            if len(ends):
                longest = max(longest, int(ends[0] - previous_end), int(np.diff(ends).max(initial=0)))
                previous_end = int(ends[-1])
            offset += len(block)
    return max(longest, offset - previous_end)


def _arrow_reason(exc: Exception) -> Any:
    text = str(exc).split("\n")[0]
    if "straddling" in text:
        return O("csv_block").as_dict()
    return text.split(":")[0] if "CSV parse error" in text else O("csv_unparsable").as_dict()


def _text_frame(table: pa.Table, numbers: np.ndarray) -> pd.DataFrame:
    stripped = {name: pc.utf8_trim_whitespace(table.column(name)) for name in table.column_names}
    frame = pa.table(stripped).to_pandas()
    frame.index = pd.Index(numbers, name="row")
    # Rows that are entirely empty (blank lines) are skipped, their numbers kept by the others.
    empty = (frame == "").all(axis=1)
    return frame[~empty] if empty.any() else frame


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
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except (InvalidFileException, KeyError, OSError, ValueError) as exc:
        raise UnreadableFile(O("not_xlsx", file=path.name, reason=type(exc).__name__)) from None
    if mapping.sheet is not None and mapping.sheet not in book.sheetnames:
        raise UnreadableFile(O("no_sheet", file=path.name, sheet=mapping.sheet, sheets=", ".join(book.sheetnames)))
    sheet = book[mapping.sheet] if mapping.sheet else book.worksheets[0]
    rows = sheet.iter_rows(values_only=True)
    header = next(rows, None)
    if header is None:
        raise UnreadableFile(O("empty_sheet", file=path.name))
    while header and header[-1] is None:
        header = header[:-1]
    columns = _header(path, [_cell_text(h) for h in header])

    def chunks() -> Iterator[tuple[pd.DataFrame, list[ParseProblem]]]:
        buffer: list[list[str]] = []
        numbers: list[int] = []
        for number, row in enumerate(rows, start=2):
            cells = [_cell_text(v).strip() for v in row[: len(columns)]]
            if not any(cells):
                continue
            buffer.append(cells + [""] * (len(columns) - len(cells)))
            numbers.append(number)
            if len(buffer) >= chunk_rows:
                yield pd.DataFrame(buffer, columns=columns, index=pd.Index(numbers, name="row"), dtype=str), []
                buffer, numbers = [], []
        if buffer:
            yield pd.DataFrame(buffer, columns=columns, index=pd.Index(numbers, name="row"), dtype=str), []
        book.close()

    return TextTable(path.name, columns, chunks())


# -- JSON Lines ---------------------------------------------------------------------------------------------------

def _json_text(value: object) -> str | None:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float, str)):
        return str(value) if not isinstance(value, float) or not value.is_integer() else str(int(value))
    return None  # nested lists and objects are not cells


def _jsonl(path: Path, head: bytes, chunk_rows: int) -> TextTable:
    try:
        first = json.loads(head.split(b"\n", 1)[0])
    except ValueError:
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
                    try:
                        obj = json.loads(line)
                    except ValueError:
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

    return TextTable(path.name, columns, chunks())


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

    return TextTable(table.name, columns, chunks(), table.notes)


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
