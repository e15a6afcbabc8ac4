"""Reading one INDIGO cell: amounts, counts, dates and currencies, or a reason why not.

The INDIGO tables are typed by hand in spreadsheets, so a numeric column may
hold "$10,000,000", "C$1.3M", "=D41-D36", "303 children and their families"
or a month "2018-13".  These functions read what has one meaning and raise
``Unreadable`` (with a short ``kind`` and a reason for people) for the rest;
they never guess.  Amounts are ``Decimal``: no float ever touches money.
"""

from __future__ import annotations

import calendar
import re
from decimal import Decimal, InvalidOperation

# Kinds of unreadable values, as reported (and counted) by the import.
FORMULA = "formula"
NO_NUMBER = "no_number"
RANGE = "range"
SEVERAL = "several_values"
FREE_TEXT = "free_text"
AMBIGUOUS = "ambiguous_separator"
BAD_MONTH = "bad_month"
BAD_DATE = "bad_date"
NOT_A_DATE = "not_a_date"
CURRENCY = "unknown_currency"
NEGATIVE = "negative"
NOT_WHOLE = "not_whole"


class Unreadable(ValueError):
    """A cell that has no single meaning; ``kind`` is one of the constants above."""

    def __init__(self, kind: str, reason: str):
        super().__init__(reason)
        self.kind = kind
        self.reason = reason


# Currency names written in full in the dataset, and the ISO 4217 code each one means.
CURRENCY_NAMES = {
    "russian ruble": "RUB", "russian rubles": "RUB", "russian rouble": "RUB", "rubles": "RUB", "roubles": "RUB",
    "swedish": "SEK", "swedish krona": "SEK", "swedish kronor": "SEK",
    "swiss francs": "CHF", "swiss franc": "CHF",
    "israeli new shekels": "ILS", "israeli new shekel": "ILS",
    "japanese yen": "JPY", "yen": "JPY",
    "south african rand": "ZAR", "south korean won": "KRW",
    "nz dollar": "NZD", "new zealand dollar": "NZD",
    "us dollar": "USD", "us dollars": "USD", "euro": "EUR", "euros": "EUR", "pound sterling": "GBP",
}
# Signs and words written around amounts; stripped before the number is read (their currency is the row's).
_PREFIX = re.compile(r"^(?:US\$|C\$|CA\$|A\$|AU\$|NZ\$|R\$|\$|£|€|¥|₩|₪|₽|[A-Z]{3}(?=[\s\d]))\s*")
_SUFFIX = re.compile(r"(?:\s*(?i:rubles|roubles|euros?|dollars|pounds)|\s+[A-Z]{3})$")
_SCALE = {"k": Decimal(10**3), "thousand": Decimal(10**3), "m": Decimal(10**6), "mn": Decimal(10**6),
          "million": Decimal(10**6), "bn": Decimal(10**9), "billion": Decimal(10**9)}
_NUMBER = re.compile(r"^(?P<num>\d+(?:\.\d+)?|\d{1,3}(?:,\d{3})+(?:\.\d+)?)\s*(?P<scale>k|thousand|m|mn|million|bn|billion)?$",
                     re.IGNORECASE)
_DOTTED_THOUSANDS = re.compile(r"^\d{1,3}(?:\.\d{3})+$")
_RANGE = re.compile(r"\d\s*(?:-|–|—|to)\s*[^\d\s]{0,3}\s*\d", re.IGNORECASE)
_DIGITS = re.compile(r"\d")


def blank(text: str | None) -> bool:
    return text is None or not str(text).strip()


def parse_amount(text: str | None) -> Decimal | None:
    """An amount of money, or None for an empty cell.

    Read: plain numbers, thousands separated by commas, a currency sign or code before or after
    ("$1,350,000", "68,000,000 rubles") and a scale word ("C$1.3M", "¥9.76 million").
    Refused: formulas, a sign without a number, ranges, several amounts, a number with words that qualify it
    ("(estimate)"), and "290.000", where the dot may separate thousands or decimals.
    """
    if blank(text):
        return None
    raw = str(text).strip()
    if raw.startswith("="):
        raise Unreadable(FORMULA, "a spreadsheet formula, not a value")
    if not _DIGITS.search(raw):
        raise Unreadable(NO_NUMBER, "no number in it (a currency sign or words only)")
    core = _SUFFIX.sub("", _PREFIX.sub("", raw)).strip()
    match = _NUMBER.match(core)
    if match is None:
        if core.startswith("-") and _NUMBER.match(core[1:].strip()):
            raise Unreadable(NEGATIVE, "a negative amount")
        if _RANGE.search(core) and len(re.findall(r"\d+(?:[.,]\d+)*", core)) == 2 and not re.search(r"[a-z(;]", core, re.I):
            raise Unreadable(RANGE, "a range, not one amount")
        if len(re.findall(r"\d+(?:[.,]\d+)*", core)) > 1 and (";" in core or " and " in core or "/" in core):
            raise Unreadable(SEVERAL, "several amounts in one cell")
        if _DOTTED_THOUSANDS.match(core):
            raise Unreadable(AMBIGUOUS, "the dot may separate thousands or decimals")
        raise Unreadable(FREE_TEXT, "words around the number that qualify it")
    number = match.group("num")
    if raw != core and not match.group("scale") and re.fullmatch(r"\d{1,3}\.\d{3}", number):
        # "CHF 290.000", typed by hand in the European style: 290 or 290,000?
        raise Unreadable(AMBIGUOUS, "the dot may separate thousands or decimals")
    try:
        value = Decimal(number.replace(",", ""))
    except InvalidOperation:  # pragma: no cover - the pattern admits only digits
        raise Unreadable(FREE_TEXT, "not a number") from None
    scale = match.group("scale")
    if scale:
        value = value * _SCALE[scale.lower()]
    return Decimal(int(value)) if value == value.to_integral_value() else value


def parse_count(text: str | None) -> int | None:
    """A whole number of people or units, or None for an empty cell; "303 children and their families" is refused."""
    if blank(text):
        return None
    raw = str(text).strip()
    if re.fullmatch(r"\d+(?:\.0+)?|\d{1,3}(?:,\d{3})+", raw):
        return int(Decimal(raw.replace(",", "")))
    if not _DIGITS.search(raw):
        raise Unreadable(NO_NUMBER, "no number in it")
    if re.fullmatch(r"\d[\d,]*\s*(?:-|–|to)\s*\d[\d,]*", raw):
        raise Unreadable(RANGE, "a range, not one number")
    if re.fullmatch(r"\d+\.\d+", raw):
        raise Unreadable(NOT_WHOLE, "a fraction (a share?), not a number of people or units")
    raise Unreadable(FREE_TEXT, "words around the number that qualify it")


def parse_number(text: str | None) -> Decimal | None:
    """A plain number (a duration, a share), or None for an empty cell."""
    if blank(text):
        return None
    raw = str(text).strip()
    if re.fullmatch(r"-?\d+(?:\.\d+)?", raw):
        return Decimal(raw)
    if raw.startswith("="):
        raise Unreadable(FORMULA, "a spreadsheet formula, not a value")
    if not _DIGITS.search(raw):
        raise Unreadable(NO_NUMBER, "no number in it")
    raise Unreadable(FREE_TEXT, "words around the number that qualify it")


def parse_date(text: str | None) -> str | None:
    """An INDIGO date: YYYY, YYYY-MM or YYYY-MM-DD (kept as written), or None for an empty cell.

    "2018-13" is refused (there is no thirteenth month), not moved to the next year.
    """
    if blank(text):
        return None
    raw = str(text).strip()
    match = re.fullmatch(r"(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?", raw)
    if match is None:
        raise Unreadable(NOT_A_DATE, "not a date as INDIGO writes them (YYYY, YYYY-MM or YYYY-MM-DD)")
    year, month, day = match.groups()
    if month is not None and not 1 <= int(month) <= 12:
        raise Unreadable(BAD_MONTH, f"there is no month {int(month)}")
    if day is not None and not 1 <= int(day) <= calendar.monthrange(int(year), int(month))[1]:
        raise Unreadable(BAD_DATE, f"there is no day {int(day)} in {year}-{month}")
    return raw


def parse_currency(text: str | None) -> str | None:
    """An ISO 4217 code, from a code ("GBP ", "gbp") or a name written in full ("Russian Ruble", "Swedish")."""
    if blank(text):
        return None
    raw = " ".join(str(text).split())
    if re.fullmatch(r"[A-Za-z]{3}", raw):
        return raw.upper()
    code = CURRENCY_NAMES.get(raw.lower())
    if code is None:
        raise Unreadable(CURRENCY, "not a currency code or a currency name this engine knows")
    return code


def text(value: str | None) -> str | None:
    """A free-text cell, trimmed; None when empty."""
    if blank(value):
        return None
    return str(value).strip()
