"""Evaluation-only contracts: a contract without a payments section is evaluated and reported, never paid.

Every payment path asks ``payments_of`` for the contract's payment terms; without them it gets one clear error
(``NoPayments``) instead of a traceback deep inside a calculation.
"""

from __future__ import annotations

from typing import Any

from contracts.messages import TEXTS as C
from contracts.model import Contract, Payments
from language import MessageError


class NoPayments(MessageError, ValueError):
    """The contract has no payments section: there is nothing to calculate, schedule, forecast or approve."""


def has_payments(contract: Contract) -> bool:
    return contract.payments is not None


def payments_of(contract: Contract | Any) -> Payments:
    """The contract's payment terms (a ``Contract`` or a stored contract, whose latest version is asked)."""
    terms = contract if isinstance(contract, Contract) else contract.latest.terms
    if terms.payments is None:
        raise NoPayments(C("evaluation_only", contract=terms.id))
    return terms.payments
