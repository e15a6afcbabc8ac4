"""Results and payments per provider: every provider for the intermediary, a provider's own for its user."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from sqlalchemy.engine import Engine

from api.http.auth import access, store
from api.http.routers import CONTRACT
from api.http.schemas import ERRORS, ProviderView

router = APIRouter()


@router.get(CONTRACT + "/providers",
            summary="Outcomes and payments per provider",
            operation_id="per_provider", response_model=ProviderView, responses=ERRORS)
def per_provider(ctx: tuple = Depends(access("providers.read")), db: Engine = Depends(store)) -> ProviderView:
    """The latest run's outcomes of each provider's participants on the paid metrics (descriptive: count, mean
    with its 95 % interval, outcomes achieved) and the ledger attributed to providers (pro rata to outcomes
    achieved, or to participants for payments on an effect, in minor units adding up to each entry).  A provider
    sees its own only, its groups under the suppression threshold as counts."""
    from api.providers import provider_view

    who, stored = ctx
    mine = who.party if who.role == "provider" else None
    view = provider_view(db, stored, mine, suppress=mine is not None)
    return ProviderView(run=view["run"], outcomes=view["outcomes"],
                        payments=[dict(p, amount=str(p["amount"])) for p in view["payments"]],
                        totals=[{"provider": k, "amount": str(v)} for k, v in view["totals"].items()])
