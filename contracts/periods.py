"""Schedule periods (2019, 2019-H2, 2019-Q4, 2019-12): the label of a day, and a label's last day.

A contract's payment schedule names its periods this way; the ledger books each entry in one.
"""

from __future__ import annotations

import calendar
from datetime import date


def period_of(day: date, frequency: str) -> str:
    if frequency == "monthly":
        return f"{day.year}-{day.month:02d}"
    if frequency == "quarterly":
        return f"{day.year}-Q{(day.month - 1) // 3 + 1}"
    if frequency == "half_yearly":
        return f"{day.year}-H{1 if day.month <= 6 else 2}"
    return str(day.year)


def period_end(period: str) -> date:
    """The last day of a schedule period label."""
    year = int(period[:4])
    rest = period[5:]
    if not rest:
        month = 12
    elif rest.startswith("H"):
        month = 6 * int(rest[1:])
    elif rest.startswith("Q"):
        month = 3 * int(rest[1:])
    else:
        month = int(rest)
    return date(year, month, calendar.monthrange(year, month)[1])
