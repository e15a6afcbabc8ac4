"""Parsing columns of text into typed values, vectorised, with a mask of what did not parse.

Every function takes a column of stripped text and returns the parsed column
and a boolean mask of the cells that are not blank but could not be read, so
the caller can report each one by row and column.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

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
    cleaned = text.str.replace("\u00a0", "", regex=False).str.replace(" ", "", regex=False)
    if decimal == "comma":
        cleaned = cleaned.str.replace(".", "\x00", regex=False).str.replace(",", ".", regex=False)
    elif decimal == "auto":
        has_comma = cleaned.str.contains(",", regex=False)
        if has_comma.any():
            comma_decimal = has_comma & ~cleaned.str.contains(".", regex=False)
            cleaned = cleaned.where(~comma_decimal, cleaned.str.replace(",", ".", regex=False))
    numbers = pd.to_numeric(cleaned, errors="coerce").astype(float)
    finite = np.isfinite(numbers.to_numpy(dtype=float, na_value=np.nan))
    bad = pd.Series(~finite, index=text.index) & (text != "")
    return numbers.where(~bad), bad


def too_long(text: pd.Series) -> pd.Series:
    return text.str.len() > MAX_CELL


def formula_like(text: pd.Series) -> pd.Series:
    """Cells a spreadsheet would treat as a formula: refused at the border."""
    return text.str.startswith(FORMULA_START)


def future(dates: pd.Series, today: date | None = None) -> pd.Series:
    return dates > pd.Timestamp(today or date.today())
