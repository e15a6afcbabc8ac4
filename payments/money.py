"""Money: Decimal only, rounded once (at the ledger), half-up to the currency's minor unit.

Statistical estimates (floats) enter a payment only through ``quantity``,
which fixes them as a Decimal with six decimals: that is a rounding of a
measured quantity (events avoided per person), never of an amount.
"""

from __future__ import annotations

from decimal import ROUND_FLOOR, ROUND_HALF_UP, Decimal, localcontext
from fractions import Fraction

from language import MessageError

# ISO 4217 minor units for the currencies a contract is likely to use; 2 otherwise.
MINOR_UNITS = {"JPY": 0, "KRW": 0, "ISK": 0, "CLP": 0, "BHD": 3, "KWD": 3, "JOD": 3, "OMR": 3, "TND": 3}
ZERO = Decimal(0)


class PaymentError(MessageError, ValueError):
    """A calculation that must not be made (a run of another contract or a superseded version, an amount beyond
    the maximum)."""


class AmountTooLarge(PaymentError):
    """An amount computed from an evaluation's estimate beyond ``MAX_AMOUNT``: refused, nothing is booked."""


def _exact(*amounts: Decimal) -> int:
    """A precision at which sums and products of ``amounts`` (and rounding them) lose no digit."""
    return 28 + sum(len(a.as_tuple().digits) + max(0, int(a.as_tuple().exponent)) for a in amounts if a.is_finite())


def product(*factors: Decimal | int) -> Decimal:
    """The exact product of amounts, quantities and counts, at whatever precision it needs (never the context's
    28 digits, which would round a product of a long estimate and a long price without a word)."""
    values = [f if isinstance(f, Decimal) else Decimal(f) for f in factors]
    with localcontext() as exact:
        exact.prec = _exact(*values)
        result = Decimal(1)
        for value in values:
            result *= value
        return result


def exact_sum(*amounts: Decimal) -> Decimal:
    """The exact sum of amounts, at whatever precision it needs (as ``product``)."""
    with localcontext() as exact:
        exact.prec = _exact(*amounts)
        return sum(amounts, ZERO)


def quantum(currency: str) -> Decimal:
    return Decimal(1).scaleb(-MINOR_UNITS.get(currency, 2))


def round_money(amount: Decimal, currency: str) -> Decimal:
    """The one rounding: half-up to the minor unit."""
    if not isinstance(amount, Decimal):
        raise TypeError(f"amounts must be Decimal, not {type(amount).__name__}")
    if not amount.is_finite():
        raise ValueError(f"amounts must be finite, not {amount}")
    with localcontext() as exact:  # quantize never runs out of digits, however large the amount
        exact.prec = _exact(amount)
        return amount.quantize(quantum(currency), rounding=ROUND_HALF_UP)


def round_exact(value: Fraction, currency: str) -> Decimal:
    """An exact value (a fraction: an indexed price, a mean) as money: half-up to the minor unit, away from zero
    on a half as ``round_money`` does."""
    q = quantum(currency)
    scaled = Fraction(value) / Fraction(q)
    units = (abs(scaled) + Fraction(1, 2)) // 1
    return Decimal(units if scaled >= 0 else -units) * q


def quantity(value: float) -> Decimal:
    """A statistical estimate as an exact Decimal quantity (six decimals), for use in a payment formula."""
    return Decimal(f"{value:.6f}")


def split(amount: Decimal, shares: list[Decimal], currency: str) -> list[Decimal]:
    """Split a rounded amount in fixed proportions without losing or inventing a minor unit.

    Largest remainder: every part is first rounded down, then the units left
    over go to the parts with the largest remainders (ties to the earlier part).
    """
    q = quantum(currency)
    if round_money(amount, currency) != amount:
        raise ValueError(f"split() takes an amount already rounded to {q}, got {amount}")
    with localcontext() as context:  # every product, sum and difference below is exact
        context.prec = _exact(amount, *shares)
        total_share = sum(shares, ZERO)
        if total_share != 1:
            raise ValueError(f"shares must add up to 1, got {total_share}")
        exact = [amount * s for s in shares]
        parts = [e.quantize(q, rounding=ROUND_FLOOR) for e in exact]
        left = int((amount - sum(parts, ZERO)) / q)
        order = sorted(range(len(parts)), key=lambda i: (-(exact[i] - parts[i]), i))
        for i in order[:left]:
            parts[i] += q
        return parts
