"""Investors: drawdowns, the waterfall of outcome payments, and returns (XIRR, money multiple, net), in Decimal.

Outcome payments reach investors through a waterfall: first the principal
drawn, then a return up to the contract's ``return_cap_irr``; what is left
above the cap stays with the payer, or is shared in a stated proportion.
Drawdowns and distributions are split across investors in proportion to
their commitments, by largest remainder, so no öre is lost or invented.
Each period's payments arrive at the period's end.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from datetime import date
from decimal import ROUND_FLOOR, Decimal, localcontext
from typing import Iterable

import pandas as pd

from contracts.model import Contract
from contracts.periods import period_end  # noqa: F401  (re-exported: callers import it from here)
from payments.money import ZERO, quantum, round_money, split

YEAR = Decimal(365)


def _years(start: date, day: date) -> Decimal:
    return Decimal((day - start).days) / YEAR


def npv(flows: list[tuple[date, Decimal]], rate: Decimal) -> Decimal:
    start = min(d for d, _ in flows)
    with localcontext() as ctx:
        ctx.prec = 34
        return sum((a / (1 + rate) ** _years(start, d) for d, a in flows), ZERO)


TOLERANCE = Decimal("0.000001")
LOW, HIGH = Decimal("-0.9999"), Decimal("100")  # the usual bracket: -99.99 % to +10,000 % a year
NOTHING_BACK = Decimal("-1.0000")  # the IRR of flows in which nothing comes back: the whole investment lost


def xirr(flows: list[tuple[date, Decimal]]) -> Decimal | None:
    """The annual rate that makes the flows' present value zero, by bisection in Decimal, to 0.0001.

    None when there is no such rate: no flows, only outflows (nothing comes back: the caller may call that
    -100 %, ``NOTHING_BACK``), only inflows, or all on one day.  When the root lies outside the usual bracket
    (-99.99 % to +10,000 %) the bracket is widened rather than the answer dropped: towards -100 % (so little
    comes back, so late, that even -99.99 % a year values it above the outlay; such a rate is reported as it
    is, and may round to -1.0000) and upwards by doubling.

    Remembered per set of flows: a forecast asks for the same flows again and again."""
    return _xirr(tuple(flows))


@lru_cache(maxsize=4096)
def _xirr(flows: tuple[tuple[date, Decimal], ...]) -> Decimal | None:
    if not flows or all(a >= 0 for _, a in flows) or all(a <= 0 for _, a in flows):
        return None
    low, high = LOW, HIGH
    f_low, f_high = npv(flows, low), npv(flows, high)
    if f_low * f_high > 0:
        bracket = _widen(flows, f_low, f_high)
        if bracket is None:
            return None
        low, f_low, high = bracket
    with localcontext() as ctx:
        ctx.prec = 34
        while high - low > TOLERANCE:  # about 27 halvings: the answer is kept to 0.0001
            mid = (low + high) / 2
            f_mid = npv(flows, mid)
            if f_low * f_mid <= 0:
                high = mid
            else:
                low, f_low = mid, f_mid
    return ((low + high) / 2).quantize(Decimal("0.0001"))


def _widen(flows: tuple[tuple[date, Decimal], ...], f_low: Decimal, f_high: Decimal
           ) -> tuple[Decimal, Decimal, Decimal] | None:
    """(low, npv at low, high) of a bracket outside the usual one with a change of sign, or None."""
    if f_low < 0:  # the value is below the outlay even at -99.99 %: the rate lies between -100 % and that
        high = LOW
        for digits in range(5, 60):
            low = Decimal(1).scaleb(-digits) - 1
            f = npv(flows, low)
            if f * f_high <= 0:
                return low, f, high
            high = low
        return None
    low, high = HIGH, HIGH * 2  # the value is above the outlay even at +10,000 %
    for _ in range(60):
        f = npv(flows, high)
        if f * f_low <= 0:
            return low, f_low, high
        low, f_low, high = high, f, high * 2
    return None


@dataclass
class Waterfall:
    """Where each payment went."""

    drawdowns: list[tuple[date, Decimal]] = field(default_factory=list)  # (date, amount) for all investors
    distributions: list[tuple[date, Decimal]] = field(default_factory=list)
    retained: Decimal = ZERO  # above the cap, kept by the payer
    steps: list[dict[str, str]] = field(default_factory=list)  # per payment: principal, return, above cap


def run_waterfall(contract: Contract, payments: list[tuple[date, Decimal]]) -> Waterfall:
    """Distribute dated outcome payments (in date order) through the contract's waterfall."""
    inv = contract.investment
    assert inv is not None
    result = Waterfall(drawdowns=[(d.date, d.amount) for d in inv.drawdown_schedule()])
    cap = inv.waterfall.return_cap_irr
    principal_left = sum((a for _, a in result.drawdowns), ZERO)
    for day, amount in sorted(payments):
        if amount <= 0:
            continue
        to_principal = min(amount, principal_left)
        principal_left -= to_principal
        rest = amount - to_principal
        to_return = rest
        above = ZERO
        if cap is not None and rest > 0:
            flows = [(d, -a) for d, a in result.drawdowns] + result.distributions + [(day, to_principal)]
            # The most that keeps the investors' IRR at the cap: what brings the flows' NPV at the cap to zero.
            room = max(ZERO, -npv(flows, cap) * (1 + cap) ** _years(min(d for d, _ in flows), day))
            to_return = min(rest, room.quantize(quantum(contract.currency), rounding=ROUND_FLOOR))  # never above the cap
            above = rest - to_return
        shared = ZERO
        if above > 0 and inv.waterfall.above_cap == "shared":
            shared = round_money(above * inv.waterfall.investor_share_above_cap, contract.currency)
        result.retained += above - shared
        result.distributions.append((day, to_principal + to_return + shared))
        result.steps.append({"date": day.isoformat(), "payment": str(amount), "principal": str(to_principal),
                             "return": str(to_return), "above_cap_to_investors": str(shared),
                             "above_cap_to_payer": str(above - shared)})
    return result


@dataclass(frozen=True)
class InvestorResult:
    investor: str  # a party id, or "all"
    commitment: Decimal  # the capital the investor committed (not an outcome payment)
    drawn: Decimal
    distributed: Decimal
    net: Decimal
    multiple: Decimal | None
    irr: Decimal | None

    def as_dict(self) -> dict[str, str | None]:
        return {"investor": self.investor, "commitment": str(self.commitment), "drawn": str(self.drawn),
                "distributed": str(self.distributed), "net": str(self.net),
                "multiple": None if self.multiple is None else str(self.multiple),
                "irr": None if self.irr is None else str(self.irr)}


def _result(name: str, commitment: Decimal, drawdowns: list[tuple[date, Decimal]],
            distributions: list[tuple[date, Decimal]]) -> InvestorResult:
    drawn = sum((a for _, a in drawdowns), ZERO)
    distributed = sum((a for _, a in distributions), ZERO)
    flows = [(d, -a) for d, a in drawdowns] + [(d, a) for d, a in distributions if a]
    return InvestorResult(name, commitment, drawn, distributed, distributed - drawn,
                          (distributed / drawn).quantize(Decimal("0.0001")) if drawn else None, xirr(flows))


def investor_returns(contract: Contract, payments: list[tuple[date, Decimal]], *,
                     together_only: bool = False) -> list[InvestorResult]:
    """All investors together first, then each investor (drawdowns and distributions pro rata to commitments);
    only the first with ``together_only`` (the forecast needs no more, a thousand times over)."""
    inv = contract.investment
    if inv is None:
        return []
    flows = run_waterfall(contract, payments)
    results = [_result("all", inv.principal, flows.drawdowns, flows.distributions)]
    if together_only:
        return results
    shares = [c.amount / inv.principal for c in inv.commitments] if inv.principal else []
    per: dict[str, tuple[list, list]] = {c.party: ([], []) for c in inv.commitments}
    for kind, series in ((0, flows.drawdowns), (1, flows.distributions)):
        for day, amount in series:
            for commitment, part in zip(inv.commitments, split(round_money(amount, contract.currency), shares,
                                                               contract.currency)):
                per[commitment.party][kind].append((day, part))
    results += [_result(c.party, c.amount, *per[c.party]) for c in inv.commitments]
    return results


# Where money is, in one set of words: an entry is calculated, (attested by a first of two approvers,) approved,
# invoiced, paid or rejected: its last step.  Investors count what was paid as received, and what is calculated,
# attested, approved or invoiced as expected; rejected entries count nowhere.
RECEIVED = ("paid",)
EXPECTED = ("calculated", "attested", "approved", "invoiced")
PROJECTED = RECEIVED + EXPECTED  # received and expected together, for a projection: never called received
STATUSES = ("calculated", "attested", "approved", "invoiced", "paid", "rejected")


def amounts_by_status(ledger: pd.DataFrame, statuses: dict[int, str] | None = None) -> dict[str, Decimal]:
    """The ledger's amounts per status (an entry without steps is calculated), every status present; a status
    not named in ``STATUSES`` keeps a total of its own, never merged into another."""
    statuses = statuses or {}
    totals = {s: ZERO for s in STATUSES}
    for seq, amount in zip(ledger["seq"], ledger["amount"]) if len(ledger) else ():
        status = statuses.get(int(seq), "calculated")
        totals[status] = totals.get(status, ZERO) + amount
    return totals


def payments_by_period(ledger: pd.DataFrame, statuses: dict[int, str] | None, include: Iterable[str]
                       ) -> list[tuple[date, Decimal]]:
    """Ledger amounts whose status is in ``include`` (e.g. ``RECEIVED``, or ``PROJECTED``), summed per period
    and dated at the period's end.  Rejected entries are never included, whatever ``include`` says."""
    statuses = statuses or {}
    wanted = set(include) - {"rejected"}
    totals: dict[str, Decimal] = {}
    for entry in ledger.to_dict(orient="records"):
        if statuses.get(entry["seq"], "calculated") not in wanted:
            continue
        totals[entry["period"]] = totals.get(entry["period"], ZERO) + entry["amount"]
    return sorted((period_end(p), a) for p, a in totals.items())


def investor_result(contract: Contract, ledger: pd.DataFrame, statuses: dict[int, str] | None = None,
                    include: Iterable[str] = PROJECTED) -> InvestorResult | None:
    """All investors together, on the ledger amounts whose status is in ``include`` (by default received and
    expected: a projection, as the report has always shown it)."""
    results = investor_returns(contract, payments_by_period(ledger, statuses, include))
    return results[0] if results else None


def portfolio_returns(contracts: Iterable[tuple[Contract, list[tuple[date, Decimal]]]]) -> InvestorResult | None:
    """All investors of several contracts (in one currency) together: each contract's waterfall on its own
    payments, the drawdowns and distributions pooled, one multiple and one IRR over the pooled flows."""
    drawdowns: list[tuple[date, Decimal]] = []
    distributions: list[tuple[date, Decimal]] = []
    commitment = ZERO
    for contract, payments in contracts:
        if contract.investment is None:
            continue
        flows = run_waterfall(contract, payments)
        drawdowns += flows.drawdowns
        distributions += flows.distributions
        commitment += contract.investment.principal
    if not drawdowns:
        return None
    return _result("portfolio", commitment, sorted(drawdowns), sorted(distributions))
