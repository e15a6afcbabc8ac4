"""Parsing columns of text into typed values, vectorised, with a mask of what did not parse.

Every function takes a column of stripped text and returns the parsed column
and a boolean mask of the cells that are not blank but could not be read, so
the caller can report each one by row and column.
"""

from __future__ import annotations

import re
from datetime import date

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from language import Message
from outcomes.messages import TEXTS as O

MAX_CELL = 10_000  # characters: longer cells are refused, not stored
FORMULA_START = ("=", "@")  # a spreadsheet would run these on opening an export


YEARS = (1, 9999)  # a date outside these years cannot be stored (nor is it any delivery's date)


def parse_dates(text: pd.Series, fmt: str | None = None) -> tuple[pd.Series, pd.Series]:
    """ISO 8601 (2016-03-01) or compact (20160301) dates, or ``fmt``; returns (datetime64 with NaT, bad-mask).

    A sign ("-2022-05-01") or a year outside 1-9999 is a bad date, never a negative or far year."""
    if fmt:
        parsed = pd.to_datetime(text, format=fmt, errors="coerce")
    else:
        parsed = pd.to_datetime(text, format="%Y-%m-%d", errors="coerce")
        compact = text.str.len() == 8
        if compact.any():
            parsed = parsed.fillna(pd.to_datetime(text.where(compact), format="%Y%m%d", errors="coerce"))
    if parsed.notna().any():
        years = parsed.dt.year
        out = (years < YEARS[0]) | (years > YEARS[1])
        if not fmt:  # the year of an ISO date is four digits: no sign, no fifth digit
            out |= parsed.notna() & (text.str.len() != 10) & (text.str.len() != 8)
        parsed = parsed.where(~out)
    return parsed, parsed.isna() & (text != "")


# Numbers.  Without a declared locale a number is read only where it cannot mean two things: a decimal point or a
# lone decimal comma, no thousands separators, and never "1.000" or "1,000" (a thousand, or one?).  A mapping that
# declares ``decimal`` and ``thousands`` has its numbers read exactly in that form and no other.
SPACES = " \u00a0\u202f"  # a space as a thousands separator: plain, no-break or narrow no-break
EXPONENT = r"(?:[eE][+-]?\d+)?"
AMBIGUOUS = r"^[+-]?[1-9]\d{0,2}[.,]\d{3}$"
GROUPED = r"(?:^|\D)[1-9]\d{0,2}[ \u00a0\u202f',.]\d{3}(?:\D|$)|\d[ \u00a0\u202f']\d"
SMALLEST = np.finfo(float).tiny  # below this a number has underflowed (to zero or a subnormal)


def _marks(decimal: str, thousands: str | None) -> tuple[str | None, str | None]:
    """The decimal mark (None: point or lone comma) and the thousands separator as regex classes.

    A point or comma declared as thousands separator makes the other one the decimal mark."""
    if decimal == "auto" and thousands in (",", "."):
        decimal = "point" if thousands == "," else "comma"
    mark = {"point": r"\.", ".": r"\.", "comma": ",", ",": ","}.get(decimal)
    if thousands and mark and re.fullmatch(mark, thousands):
        thousands = None  # the same mark cannot be both: numbers with it are refused, not guessed
    group = None if not thousands else (f"[{SPACES}]" if thousands == " " else re.escape(thousands))
    return mark, group


def number_form(decimal: str = "auto", thousands: str | None = None) -> str:
    """The one form a number may take under a mapping's ``decimal`` and ``thousands`` (a full-match regex)."""
    mark, group = _marks(decimal, thousands)
    whole = rf"(?:[1-9]\d{{0,2}}(?:{group}\d{{3}})+|\d+)" if group else r"\d+"
    point = mark or "[.,]"
    return rf"^[+-]?(?:{whole}(?:{point}\d*)?|{point}\d+){EXPONENT}$"


def parse_numbers(text: pd.Series, decimal: str = "auto", thousands: str | None = None) -> tuple[pd.Series, pd.Series]:
    """Numbers in the form the mapping declares (``number_form``); returns (float with NaN, bad-mask).

    NaN, infinity, overflow (1e400) and underflow (1e-400, which would be read as 0) are bad; so is every form
    the declaration does not allow, so a cell is read exactly as written or refused (``number_problem`` says why).
    """
    if not len(text):
        return pd.Series(dtype=float, index=text.index), pd.Series(dtype=bool, index=text.index)
    array = pa.array(text, type=pa.string())  # one conversion; every pass below is one C++ pass over it
    blank = pc.equal(array, "")
    if decimal in ("auto", "point") and not thousands:
        plain = _plain_numbers(array, blank, decimal == "auto")
        if plain is not None:
            return pd.Series(plain, index=text.index), pd.Series(np.isnan(plain), index=text.index) & (text != "")
    shaped = pc.match_substring_regex(array, number_form(decimal, thousands))
    if decimal == "auto" and not thousands:
        shaped = pc.and_(shaped, pc.invert(pc.match_substring_regex(array, AMBIGUOUS)))
    normal = pc.if_else(pc.and_(shaped, pc.invert(blank)), array, pa.scalar(None, pa.string()))
    mark, group = _marks(decimal, thousands)
    if group is not None:
        normal = pc.replace_substring_regex(normal, group, "")
    if mark != r"\.":
        normal = pc.replace_substring(normal, ",", ".")
    try:
        values = pc.cast(normal, pa.float64()).to_numpy(zero_copy_only=False)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):  # a form the cast does not know: read one by one
        values = pd.to_numeric(pd.Series(normal.to_pylist()), errors="coerce").to_numpy(dtype=float)
    values = np.asarray(values, dtype=float)
    with np.errstate(invalid="ignore"):
        ok = np.isfinite(values)
        tiny = np.flatnonzero(ok & (np.abs(values) < SMALLEST))
    for position, written in zip(tiny, normal.take(pa.array(tiny, type=pa.int64())).to_pylist()):
        ok[position] = not re.match(r"[^eE]*[1-9]", written)  # 0 written as 0 is 0; anything else underflowed
    bad = pd.Series(~ok, index=text.index) & ~pd.Series(blank.to_numpy(zero_copy_only=False), index=text.index)
    return pd.Series(values, index=text.index).where(~bad), bad


def _plain_numbers(array: pa.Array, blank: pa.Array, auto: bool) -> np.ndarray | None:
    """The common case, a column of plain numbers, in one pyarrow cast (NaN where refused); None if any cell
    needs a closer look.  Only cells that could be ambiguous ("1.000": between 1 and 1000, five to eight
    characters) are matched against AMBIGUOUS."""
    try:
        values = pc.cast(pc.if_else(blank, pa.scalar(None, pa.string()), array), pa.float64())
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
        return None
    values = np.asarray(values.to_numpy(zero_copy_only=False), dtype=float)
    with np.errstate(invalid="ignore"):
        ok = np.isfinite(values)
        size = np.abs(values)
        tiny = np.flatnonzero(ok & (size < SMALLEST))
        if auto:
            length = np.asarray(pc.utf8_length(array).to_numpy(zero_copy_only=False))
            maybe = np.flatnonzero(ok & (size >= 1) & (size < 1000) & (length >= 5) & (length <= 8))
            if len(maybe):
                ambiguous = pc.match_substring_regex(array.take(pa.array(maybe, type=pa.int64())), AMBIGUOUS)
                ok[maybe[np.asarray(ambiguous.to_numpy(zero_copy_only=False), dtype=bool)]] = False
    for position, written in zip(tiny, array.take(pa.array(tiny, type=pa.int64())).to_pylist()):
        ok[position] = not re.match(r"[+-]?[^eE]*[1-9]", written)  # 0 written as 0 is 0; anything else underflowed
    return np.where(ok, values, np.nan)


def number_problem(value: str, decimal: str = "auto", thousands: str | None = None) -> Message:
    """Why ``value`` was not read as a number under the mapping's ``decimal`` and ``thousands``."""
    if re.fullmatch(number_form(decimal, thousands), value):
        if decimal == "auto" and not thousands and re.fullmatch(AMBIGUOUS, value):
            return O("number_ambiguous", value=value)
        return O("number_range", value=value)
    if re.search(GROUPED, value) and re.fullmatch(r"[+-]?[\d \u00a0\u202f',.]+" + EXPONENT, value):
        return (O("number_thousands", value=value) if not thousands
                else O("number_form", value=value, decimal=decimal, thousands=thousands))
    return O("not_a_number", value=value)


def too_long(text: pd.Series) -> pd.Series:
    """Cells of more than MAX_CELL characters (code points, as ``len`` counts them)."""
    arrow = _arrow_text(text)
    if arrow is None:
        return text.str.len() > MAX_CELL
    return _mask(pc.greater(pc.utf8_length(arrow), MAX_CELL), text.index)


def formula_like(text: pd.Series) -> pd.Series:
    """Cells a spreadsheet would treat as a formula: refused at the border."""
    arrow = _arrow_text(text)
    if arrow is None:
        return text.str.startswith(FORMULA_START)
    starts = [pc.starts_with(arrow, mark) for mark in FORMULA_START]
    either = starts[0]
    for more in starts[1:]:
        either = pc.or_(either, more)
    return _mask(either, text.index)


def _arrow_text(text: pd.Series) -> pa.Array | None:
    """A column of text as an Arrow array, for checks that run in C++ rather than once per cell in Python
    (a million-row delivery has four million cells); None if it holds anything but text and missing cells."""
    try:
        return pa.array(text, type=pa.string(), from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return None


def _mask(flags: pa.Array, index: pd.Index) -> pd.Series:
    """Arrow booleans as a boolean Series; a missing cell is not flagged."""
    return pd.Series(pc.fill_null(flags, False).to_numpy(zero_copy_only=False), index=index, dtype=bool)


def future(dates: pd.Series, today: date | None = None) -> pd.Series:
    return dates > pd.Timestamp(today or date.today())


def free_text(column: pd.Series) -> pd.Series:
    """A free-text column as stored: empty cells as None, personal identity numbers masked
    (``language.masking``), checked once per distinct value so that a large file pays little."""
    from language.masking import mask_text

    distinct = column.dropna().unique()
    masked = {value: mask_text(value) for value in distinct}
    changed = {value: new for value, new in masked.items() if new != value}
    if changed:
        column = column.replace(changed)
    return column.where(column != "", None)
