"""Swedish personal identity numbers (personnummer and samordningsnummer), checked at the border.

Accepted forms: YYYYMMDD-NNNN, YYYYMMDDNNNN, YYMMDD-NNNN, YYMMDDNNNN and
YYMMDD+NNNN (the '+' marks someone 100 or older).  A samordningsnummer
(co-ordination number) has 60 added to the day.  The date must exist and the
last digit must be the Luhn check digit of the ten-digit form.

A valid number is normalised to twelve digits (so that every written form of
the same number hashes alike) and then only ever hashed; birth year and legal
sex are derived only when the contract asks.  Nothing here puts a number in
an error message: messages say what is wrong, and ``mask`` shows YYMMDD-****.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from language import MessageError
from outcomes.messages import TEXTS as O

_FORM = re.compile(r"^(\d{2})?(\d{2})(\d{2})(\d{2})([-+]?)(\d{3})(\d)$")
_DIGITS = re.compile(r"\D")


class InvalidNumber(MessageError, ValueError):
    """Why a value is not a valid personal identity number; the message never contains the number."""


@dataclass(frozen=True)
class PersonalNumber:
    normalised: str  # twelve digits, YYYYMMDDNNNC, with the day as written (+60 for samordningsnummer)
    birth_date: date
    coordination: bool

    @property
    def birth_year(self) -> int:
        return self.birth_date.year

    @property
    def legal_sex(self) -> str:
        """'F' or 'M': the second-to-last digit is even for women, odd for men."""
        return "M" if int(self.normalised[-2]) % 2 else "F"


def luhn_digit(nine: str) -> int:
    total = 0
    for i, ch in enumerate(nine):
        product = int(ch) * (2 if i % 2 == 0 else 1)
        total += product - 9 if product > 9 else product
    return (10 - total % 10) % 10


def parse(text: str, today: date | None = None) -> PersonalNumber:
    today = today or date.today()
    match = _FORM.match(text.strip().replace(" ", ""))
    if not match:
        raise InvalidNumber(O("pnr_form"))
    century, yy, mm, dd, separator, serial, check = match.groups()
    if century is not None:
        if separator == "+":
            raise InvalidNumber(O("pnr_plus"))
        year = int(century + yy)
    else:
        year = today.year // 100 * 100 + int(yy)
        if year > today.year:
            year -= 100
        if separator == "+":
            year -= 100
    day = int(dd)
    coordination = day > 60
    try:
        born = date(year, int(mm), day - 60 if coordination else day)
    except ValueError:
        raise InvalidNumber(O("snr_date" if coordination else "pnr_date")) from None
    if born > today:
        raise InvalidNumber(O("pnr_future"))
    if luhn_digit(yy + mm + dd + serial) != int(check):
        raise InvalidNumber(O("pnr_luhn"))
    return PersonalNumber(f"{year:04d}{mm}{dd}{serial}{check}", born, coordination)


def mask(text: str) -> str:
    """YYMMDD-****: enough to find the row, never the whole number."""
    digits = _DIGITS.sub("", text or "")
    if len(digits) >= 12:
        return f"{digits[2:8]}-****"
    if len(digits) >= 10:
        return f"{digits[:6]}-****"
    return "******-****"
