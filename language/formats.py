"""Numbers, money, shares and dates as each language writes them, by Babel (CLDR data).

Swedish: 1 234 567,89 kr, −7,4 %, 2025-07-31; a no-break space groups thousands, so a figure never wraps.
English: SEK 1,234,567.89, -7.4%, 2025-07-31.  Money is rounded half-up to the currency's minor unit
first, exactly as the ledger rounds (display only: ledger amounts are already rounded).
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from functools import lru_cache
from typing import Any

from babel import Locale
from babel.dates import format_date as _babel_date
from babel.numbers import format_currency, format_decimal, format_percent, get_minus_sign_symbol

from payments.money import round_money

LOCALES = {"sv": "sv_SE", "en": "en_GB"}
NBSP = "\u00a0"
DASH = "—"  # a value that is not there


@lru_cache(maxsize=None)
def _locale(lang: str) -> Locale:
    return Locale.parse(LOCALES[lang])


def _is_zero(text: str) -> bool:
    return not any(c in "123456789" for c in text)


def number(value: Any, lang: str, digits: int | None = 3) -> str:
    """``digits`` decimals, or (None) as many as a value of its size needs: 1 from 100, 2 from 1, else 3."""
    if value is None:
        return DASH
    value = Decimal(value) if isinstance(value, str) else value
    if digits is None:
        size = abs(float(value))
        digits = 1 if size >= 100 else 2 if size >= 1 else 3
    pattern = "#,##0" + ("." + "0" * digits if digits else "")
    text = format_decimal(abs(value), pattern, locale=_locale(lang))
    negative = value < 0 and not _is_zero(text)
    return (get_minus_sign_symbol(_locale(lang)) if negative else "") + text


def significant(value: Any, lang: str) -> str:
    """Up to three significant digits (0.0336, 1.3, 1,250): for sizes of effects, whatever their scale."""
    if value is None:
        return DASH
    value = float(value)
    text = format_decimal(abs(value), "@##" if abs(value) < 1000 else "#,##0", locale=_locale(lang))
    return (get_minus_sign_symbol(_locale(lang)) if value < 0 and not _is_zero(text) else "") + text


def integer(value: Any, lang: str) -> str:
    return DASH if value is None else number(value, lang, 0)


def money(amount: Any, currency: str, lang: str) -> str:
    """1 234 567,89 kr or 999,50 GBP (sv); SEK 1,234,567.89 (en): the ISO code before the figure."""
    if amount is None:
        return DASH
    value = round_money(amount if isinstance(amount, Decimal) else Decimal(str(amount)), currency)
    pattern = f"¤¤{NBSP}#,##0.00" if lang == "en" else None  # sv: the locale's own, 1 234,50 kr
    text = format_currency(abs(value), currency, pattern, locale=_locale(lang), currency_digits=True)
    text = text.replace(" ", NBSP)
    if value >= 0 or _is_zero(text):
        return text
    minus = get_minus_sign_symbol(_locale(lang))
    return text.replace(NBSP, NBSP + minus, 1) if lang == "en" else minus + text


def percent(share: Any, lang: str, digits: int = 1, signed: bool = True) -> str:
    """A share (0.074) as a percentage: ``+7.4%`` / ``+7,4 %``; ``signed`` puts + before a rise."""
    if share is None:
        return DASH
    value = float(share)
    pattern = _locale(lang).percent_formats[None].pattern.split(";")[0]
    pattern = pattern.replace("#,##0", "#,##0" + ("." + "0" * digits if digits else ""))
    text = format_percent(abs(value), pattern, locale=_locale(lang)).replace(" ", NBSP)
    if _is_zero(text):
        return text
    if value < 0:
        return get_minus_sign_symbol(_locale(lang)) + text
    return ("+" + text) if signed and value > 0 else text


def p_value(value: float | None, lang: str) -> str:
    if value is None:
        return DASH
    return f"<{NBSP}{number(0.001, lang, 3)}" if value < 0.001 else number(value, lang, 3)


def day(value: Any, lang: str) -> str:
    """A date as ISO 8601 (2025-07-31) in both languages: Swedish's own short form (CLDR), and in English the one
    form no reader on either side of the Atlantic misreads."""
    if value is None or value == "":
        return DASH
    if isinstance(value, datetime):
        value = value.date()
    if isinstance(value, str):
        value = date.fromisoformat(value[:10])
    return _babel_date(value, "yyyy-MM-dd", locale=_locale(lang))
