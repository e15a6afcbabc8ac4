"""Personal identity numbers never leave the engine: the one masking function every boundary uses.

Text leaves the engine as rendered messages (CLI lines, API errors, pages, reports, the ``--errors`` files),
audit payloads, log lines and exports, and free text from deliveries is stored (file names, a measurement's
``source``, a survey unit, rejection reasons, a contract's description).  Each of these passes through
``mask_text`` (or ``mask_value`` for JSON-like payloads), which finds Swedish personal identity numbers and
co-ordination numbers (samordningsnummer, day + 60) in every written form and shows them as ``YYMMDD-****``:
enough for the intermediary to find the row in the delivered file, never the whole number.

A written form is a date part, ``YYYYMMDD`` or ``YYMMDD`` (a real month; a day 01–31, or 61–91 for a
co-ordination number), then at most one separator (``-``, ``+``, a space, an en or em dash, a minus sign, a
non-breaking space, an underscore, or nothing), then four digits, with no digit directly before or after.  It
may stand inside longer text (``file_198805113884.csv``, ``pnr:9805113884``).  The check digit is not required:
a mistyped number is still somebody's.  A bare run of ten or twelve digits whose date part is no date (an
amount, a timestamp) is left alone; a 64-character hexadecimal digest is never touched.

This module is deliberately light (only ``re``): every package imports it.
"""

from __future__ import annotations

import re
from typing import Any

_SEPARATOR = "[-+_ \u00a0\u2010\u2011\u2012\u2013\u2014\u2212]"
_MONTH = "(?:0[1-9]|1[0-2])"
_DAY = "(?:0[1-9]|[12][0-9]|3[01]|6[1-9]|[78][0-9]|9[01])"
NUMBER = re.compile(
    rf"(?<![0-9])(?:(?:18|19|20)(?P<yy12>[0-9]{{2}})|(?P<yy10>[0-9]{{2}}))(?P<md>{_MONTH}{_DAY})"
    rf"{_SEPARATOR}?[0-9]{{4}}(?![0-9])")
_DIGEST = re.compile(r"^[0-9a-f]{64}$")
MASKED_SERIAL = "****"


def _masked(match: re.Match[str]) -> str:
    return f"{match.group('yy12') or match.group('yy10')}{match.group('md')}-{MASKED_SERIAL}"


def mask_text(text: str) -> str:
    """``text`` with every personal identity or co-ordination number in it shown as YYMMDD-****."""
    if not isinstance(text, str) or len(text) < 10 or _DIGEST.match(text):
        return text
    return NUMBER.sub(_masked, text)


_DECIMAL_TEXT = re.compile(r"^-?[0-9]+\.[0-9]+$")


def mask_value(value: Any) -> Any:
    """A JSON-like value (dicts, lists, strings) with ``mask_text`` applied to every string, keys included.

    A whole number read from a cell (``198805113884`` in a count column) is masked as text too; amounts are
    Decimal, or text with a decimal point, and are never touched."""
    if isinstance(value, str):
        return value if _DECIMAL_TEXT.match(value) else mask_text(value)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        text = str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)
        masked = mask_text(text)
        return value if masked == text else masked
    if isinstance(value, dict):
        return {mask_value(k): mask_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [mask_value(v) for v in value]
    return value


def has_number(text: str) -> bool:
    """Whether ``text`` holds something ``mask_text`` would mask."""
    return isinstance(text, str) and mask_text(text) != text


_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\u0085\u2028\u2029]|[\r\n]")


def one_line(text: str) -> str:
    """Masked, with control characters (newlines included) escaped: one log line can never become two."""
    return _CONTROL.sub(lambda m: m.group(0).encode("unicode_escape").decode("ascii"), mask_text(str(text)))
