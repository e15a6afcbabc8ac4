"""Investor returns from the ledger: net result, money multiple and IRR, all in Decimal.

Outcome payments are taken to flow to the investors in proportion to their
commitments (the usual special-purpose-vehicle arrangement); the principal is
drawn down on the contract's drawdown date and each payment arrives at the end
of its period.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal, localcontext

import pandas as pd

from contracts.model import Contract
from payments.money import ZERO


def period_end(period: str) -> date:
    """The last day of a schedule period label (2019, 2019-H2, 2019-Q4, 2019-12)."""
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
    return (pd.Timestamp(year=year, month=month, day=1) + pd.offsets.MonthEnd(0)).date()


@dataclass(frozen=True)
class InvestorResult:
    principal: Decimal
    repaid: Decimal
    net: Decimal
    multiple: Decimal | None
    irr: Decimal | None

    def as_dict(self) -> dict[str, str | None]:
        return {"principal": str(self.principal), "repaid": str(self.repaid), "net": str(self.net),
                "multiple": None if self.multiple is None else str(self.multiple),
                "irr": None if self.irr is None else str(self.irr)}


def xirr(flows: list[tuple[date, Decimal]]) -> Decimal | None:
    """The annual rate that makes the flows' present value zero, by bisection in Decimal; None if none exists."""
    if not flows or all(a >= 0 for _, a in flows) or all(a <= 0 for _, a in flows):
        return None
    start = min(d for d, _ in flows)
    with localcontext() as ctx:
        ctx.prec = 28

        def npv(rate: Decimal) -> Decimal:
            return sum((a / (1 + rate) ** (Decimal((d - start).days) / Decimal(365)) for d, a in flows), ZERO)

        low, high = Decimal("-0.99"), Decimal("10")
        f_low, f_high = npv(low), npv(high)
        if f_low * f_high > 0:
            return None
        for _ in range(200):
            mid = (low + high) / 2
            f_mid = npv(mid)
            if f_low * f_mid <= 0:
                high = mid
            else:
                low, f_low = mid, f_mid
        return ((low + high) / 2).quantize(Decimal("0.0001"))


def investor_result(contract: Contract, ledger: pd.DataFrame) -> InvestorResult | None:
    inv = contract.investment
    if inv is None:
        return None
    repaid = sum(ledger["amount"], ZERO) if len(ledger) else ZERO
    multiple = (repaid / inv.principal).quantize(Decimal("0.0001")) if inv.principal else None
    flows: list[tuple[date, Decimal]] = []
    if inv.drawdown_date is not None:
        flows.append((inv.drawdown_date, -inv.principal))
        by_period = ledger.groupby("period")["amount"].apply(lambda s: sum(s, ZERO)) if len(ledger) else {}
        flows += [(period_end(p), a) for p, a in dict(by_period).items()]
    return InvestorResult(
        principal=inv.principal, repaid=repaid, net=repaid - inv.principal,
        multiple=multiple, irr=xirr(flows),
    )
