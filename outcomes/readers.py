"""Reading delivered files into frames of text, and parsing columns of text.

Everything is read as text first and parsed column by column, so that a bad
cell becomes a reported error with its row and column instead of a silently
coerced value.  Row numbers are spreadsheet rows: the header is row 1.
"""

from __future__ import annotations

import csv
import hashlib
import io
from pathlib import Path

import numpy as np
import pandas as pd

HEADER_ROWS = 1


class UnreadableFile(Exception):
    """The file cannot be read as a table at all; one line for the user."""


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def read_table(path: Path) -> pd.DataFrame:
    """A CSV file as a frame of stripped text; UTF-8 (with or without BOM) or Windows-1252, ',' or ';'."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise UnreadableFile(f"no such file: {path}") from None
    except IsADirectoryError:
        raise UnreadableFile(f"{path} is a directory, not a data file") from None
    if not raw.strip():
        raise UnreadableFile(f"{path} is empty")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = raw.decode("cp1252", errors="replace")
    first_line = text.splitlines()[0]
    delimiter = ";" if first_line.count(";") > first_line.count(",") else ","
    try:
        frame = pd.read_csv(io.StringIO(text), sep=delimiter, dtype=str, keep_default_na=False,
                            skip_blank_lines=True, quoting=csv.QUOTE_MINIMAL)
    except (pd.errors.ParserError, csv.Error) as exc:
        raise UnreadableFile(f"{path} is not a readable CSV table: {str(exc).strip().splitlines()[0]}") from None
    frame.columns = [str(c).strip().lower() for c in frame.columns]
    for column in frame.columns:
        frame[column] = frame[column].str.strip()
    frame.index = np.arange(HEADER_ROWS + 1, HEADER_ROWS + 1 + len(frame))  # spreadsheet row numbers
    return frame


def parse_dates(text: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Parse ISO 8601 (2016-03-01) or compact (20160301) dates; return (datetime64 with NaT, bad-mask)."""
    iso = pd.to_datetime(text, format="%Y-%m-%d", errors="coerce")
    compact = pd.to_datetime(text, format="%Y%m%d", errors="coerce")
    parsed = iso.fillna(compact)
    return parsed, parsed.isna() & (text != "")


def parse_numbers(text: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Parse numbers with a decimal point or a Swedish decimal comma; NaN and infinity are refused."""
    cleaned = text.str.replace("\u00a0", "", regex=False).str.replace(" ", "", regex=False)
    comma_decimal = cleaned.str.contains(",", regex=False) & ~cleaned.str.contains(".", regex=False)
    cleaned = cleaned.where(~comma_decimal, cleaned.str.replace(",", ".", regex=False))
    numbers = pd.to_numeric(cleaned, errors="coerce")
    not_finite = ~np.isfinite(numbers.to_numpy(dtype=float, na_value=np.nan))
    bad = (pd.Series(not_finite, index=text.index) | numbers.isna()) & (text != "")
    return numbers.where(~bad), bad
