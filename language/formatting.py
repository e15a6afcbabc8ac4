"""Numbers as people read them, shared by the CLI tables and the reports."""

from __future__ import annotations

from decimal import Decimal

from payments.money import round_money


def money(amount: Decimal | str | None, currency: str) -> str:
    """SEK 1,234,567.89 or SEK −3,500,000.00 (display only: amounts are already rounded at the ledger)."""
    if amount is None:
        return "—"
    value = round_money(Decimal(amount), currency)
    sign = "−" if value < 0 else ""
    return f"{currency} {sign}{abs(value):,}"


def number(value: float | None, digits: int | None = 3) -> str:
    """A number with ``digits`` decimals, or (None) as many as a value of its size needs."""
    if value is None:
        return "—"
    if digits is None:
        size = abs(value)
        digits = 1 if size >= 100 else 2 if size >= 1 else 3
    return f"{value:,.{digits}f}".replace("-", "−")


def percent(value: float | None, digits: int = 1) -> str:
    if value is None:
        return "—"
    return f"{value * 100:+.{digits}f} %".replace("-", "−")


def p_value(value: float | None) -> str:
    if value is None:
        return "—"
    return "< 0.001" if value < 0.001 else f"{value:.3f}"


def effect(estimate: float | None, low: float | None, high: float | None, digits: int | None = 3) -> str:
    """−1.300 [−12.978, 10.378]: the estimate and its 95 % confidence interval."""
    if estimate is None:
        return "no effect estimate"
    interval = f" [{number(low, digits)}, {number(high, digits)}]" if low is not None else " [no CI]"
    return f"{number(estimate, digits)}{interval}"
