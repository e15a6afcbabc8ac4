"""Payments per provider: each ledger entry attributed to the providers whose participants earned it.

An entry is paid for a mechanism's metrics in one cohort.  A payment per outcome (rate card, milestone) is
attributed in proportion to the outcomes each provider's participants achieved; a payment on an effect (a
threshold against a comparison, a share of savings) in proportion to their participants.  Parts are whole
minor units and add up to the entry exactly (largest remainder), so the providers' totals add up to the ledger.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pandas as pd

from contracts.model import Contract
from evaluation.result import POOLED
from payments.money import ZERO, quantum

PER_OUTCOME = ("rate_card", "milestone")


def pro_rata(amount: Decimal, weights: list[int], currency: str) -> list[Decimal]:
    """``amount`` in parts proportional to whole-number ``weights``, in minor units that add up exactly."""
    total = sum(weights)
    if total <= 0:
        raise ValueError("weights must add up to more than 0")
    q = quantum(currency)
    units = int((abs(amount) / q).to_integral_value())
    if Decimal(units) * q != abs(amount):
        raise ValueError(f"pro_rata() takes an amount rounded to {q}, got {amount}")
    floors = [units * w // total for w in weights]
    left = units - sum(floors)
    order = sorted(range(len(weights)), key=lambda i: (-(units * weights[i] % total), i))
    for i in order[:left]:
        floors[i] += 1
    sign = -1 if amount < 0 else 1
    return [sign * Decimal(f) * q for f in floors]


def payments_by_provider(contract: Contract, entries: list[dict[str, Any]], outcomes: pd.DataFrame,
                         people: pd.DataFrame) -> list[dict[str, Any]]:
    """Each entry's parts per provider: entry, provider, amount, and the basis (outcomes achieved or
    participants counted).  ``outcomes``: the per-participant outcomes of the entries' runs, with a ``run``
    column; ``people``: each participant's participant_id, cohort, arm and provider
    (``evaluation.providers.enrolled``)."""
    mechanisms = {m.id: m for m in (contract.payments.mechanisms if contract.payments else [])}
    owner = pd.Series(people["provider"].to_numpy(dtype=object), index=people["participant_id"].astype(int))
    frame = outcomes.assign(provider=owner.reindex(outcomes["participant_id"].astype(int)).to_numpy()
                            ) if len(outcomes) else outcomes.assign(provider=None)
    treated = people[people["arm"] == "treatment"]
    parts: list[dict[str, Any]] = []
    for entry in entries:
        mechanism = mechanisms.get(entry["mechanism"])
        if mechanism is None:
            continue
        per_outcome = mechanism.type in PER_OUTCOME
        if per_outcome:  # the outcomes this entry's run found achieved, by whose participants achieved them
            counted = frame[(frame["run"] == entry["evaluation_run_id"]) & frame["metric"].isin(mechanism.metrics)
                            & frame["achieved"].astype(bool)]
        else:  # a payment on the cohort's effect: its treated participants, each counted once
            counted = treated
        if entry.get("cohort") not in (None, "", POOLED):
            counted = counted[counted["cohort"] == entry["cohort"]]
        weights = counted.groupby(counted["provider"].fillna(""), sort=True).size()
        if weights.sum() == 0:
            continue
        for provider, amount, weight in zip(weights.index, pro_rata(entry["amount"], weights.tolist(),
                                                                     contract.currency), weights.tolist()):
            parts.append({"entry": int(entry["seq"]), "period": entry["period"], "payer": entry["payer"],
                          "mechanism": entry["mechanism"], "provider": provider or None, "amount": amount,
                          "basis": "outcomes" if per_outcome else "participants", "count": int(weight)})
    return parts


def provider_totals(parts: list[dict[str, Any]]) -> dict[str | None, Decimal]:
    totals: dict[str | None, Decimal] = {}
    for p in parts:
        totals[p["provider"]] = totals.get(p["provider"], ZERO) + p["amount"]
    return totals
