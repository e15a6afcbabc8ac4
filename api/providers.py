"""Results and payments per provider, for the provider's page (its own only) and the intermediary's (every
provider): the latest run's outcomes per provider (``evaluation.providers``) and the ledger attributed to them
(``payments.providers``).  A provider's groups smaller than the suppression threshold show counts only."""

from __future__ import annotations

from typing import Any

import pandas as pd
from sqlalchemy.engine import Engine

from contracts.registry import StoredContract
from payments.money import ZERO


def provider_view(db: Engine, stored: StoredContract, provider: str | None = None,
                  suppress: bool = False) -> dict[str, Any]:
    """{"run", "outcomes", "payments", "totals"} for every provider, or for ``provider`` alone."""
    from evaluation.providers import enrolled, outcomes_by_provider
    from evaluation.run import get_run, run_outcomes
    from payments.ledger import current_status, read_ledger
    from payments.providers import payments_by_provider, provider_totals

    contract = stored.latest.terms
    people = enrolled(db, stored.id)
    owners = pd.Series(people["provider"].to_numpy(dtype=object), index=people["participant_id"].astype(int))
    run = get_run(db, stored.id)
    outcomes = outcomes_by_provider(run_outcomes(db, run.id), owners) if run is not None else []
    threshold = contract.suppression_threshold
    if suppress:
        outcomes = [dict(o, mean=None, ci=[None, None], achieved=None, suppressed=True)
                    if o["participants"] < threshold else dict(o, suppressed=False) for o in outcomes]
    statuses = current_status(db, stored.id)
    entries = [e for e in read_ledger(db, stored.id).to_dict(orient="records")
               if statuses.get(e["seq"], "calculated") != "rejected"]
    runs = sorted({int(e["evaluation_run_id"]) for e in entries})
    evidence = pd.concat([run_outcomes(db, r).assign(run=r) for r in runs], ignore_index=True) if runs else \
        pd.DataFrame(columns=["metric", "participant_id", "cohort", "value", "achieved", "run"])
    parts = payments_by_provider(contract, entries, evidence, people) if contract.payments is not None else []
    totals = provider_totals(parts)
    if provider is not None:
        outcomes = [o for o in outcomes if o["provider"] == provider]
        parts = [p for p in parts if p["provider"] == provider]
        totals = {provider: totals.get(provider, ZERO)}
    return {"run": None if run is None else {"id": run.id, "as_of": run.as_of.isoformat()},
            "outcomes": outcomes, "payments": parts, "totals": totals,
            "ledger_total": sum((e["amount"] for e in entries), ZERO)}
