"""Parsing columns of text into typed values, vectorised, with a mask of what did not parse.

Every function takes a column of stripped text and returns the parsed column
and a boolean mask of the cells that are not blank but could not be read, so
the caller can report each one by row and column.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

MAX_CELL = 10_000  # characters: longer cells are refused, not stored
FORMULA_START = ("=", "@")  # a spreadsheet would run these on opening an export


def parse_dates(text: pd.Series, fmt: str | None = None) -> tuple[pd.Series, pd.Series]:
    """ISO 8601 (2016-03-01) or compact (20160301) dates, or ``fmt``; returns (datetime64 with NaT, bad-mask)."""
    if fmt:
        parsed = pd.to_datetime(text, format=fmt, errors="coerce")
    else:
        parsed = pd.to_datetime(text, format="%Y-%m-%d", errors="coerce")
        compact = text.str.len() == 8
        if compact.any():
            parsed = parsed.fillna(pd.to_datetime(text.where(compact), format="%Y%m%d", errors="coerce"))
    return parsed, parsed.isna() & (text != "")


def parse_numbers(text: pd.Series, decimal: str = "auto") -> tuple[pd.Series, pd.Series]:
    """Numbers with a decimal point or a Swedish decimal comma; NaN and infinity are refused."""
    if decimal == "comma":
        numbers = pd.to_numeric(_swedish(text, comma=True), errors="coerce").astype(float)
    else:
        numbers = _arrow_numbers(text)
        if numbers is None:
            numbers = pd.to_numeric(text, errors="coerce").astype(float)
        retry = numbers.isna() & (text != "")
        if retry.any():  # thousands spaces, a decimal comma
            numbers[retry] = pd.to_numeric(_swedish(text[retry], comma=decimal == "auto"), errors="coerce")
    finite = np.isfinite(numbers.to_numpy(dtype=float, na_value=np.nan))
    bad = pd.Series(~finite, index=text.index) & (text != "")
    return numbers.where(~bad), bad


def _arrow_numbers(text: pd.Series) -> pd.Series | None:
    """The common case, a column of plain numbers, in one pyarrow cast; None if any cell needs a closer look."""
    try:
        array = pa.array(text, type=pa.string())
        blank = pc.equal(array, "")
        numbers = pc.cast(pc.if_else(blank, pa.scalar(None, pa.string()), array), pa.float64())
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
        return None
    return pd.Series(numbers.to_numpy(zero_copy_only=False), index=text.index, dtype=float)


def _swedish(text: pd.Series, comma: bool) -> pd.Series:
    """Drop (non-breaking) spaces; with ``comma``, a lone comma is the decimal mark and a point is refused."""
    cleaned = text.str.replace("\u00a0", "", regex=False).str.replace(" ", "", regex=False)
    if comma:
        has_point = cleaned.str.contains(".", regex=False)
        cleaned = cleaned.str.replace(",", ".", regex=False).where(~has_point, "x")
    return cleaned


def too_long(text: pd.Series) -> pd.Series:
    return text.str.len() > MAX_CELL


def formula_like(text: pd.Series) -> pd.Series:
    """Cells a spreadsheet would treat as a formula: refused at the border."""
    return text.str.startswith(FORMULA_START)


def future(dates: pd.Series, today: date | None = None) -> pd.Series:
    return dates > pd.Timestamp(today or date.today())
