"""The user follow-up's results per level of the organisation (suppressed for every reader)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query, Request
from sqlalchemy.engine import Engine

from api.http.auth import access, store
from api.http.errors import request_words
from api.http.routers import CONTRACT
from api.http.schemas import ERRORS, FollowupResults

router = APIRouter()


@router.get(CONTRACT + "/followup", response_model=FollowupResults, responses=ERRORS, summary="User follow-up results",
            operation_id="followup_results")
def followup_results(request: Request, level: str = Query("unit", pattern="^(unit|district|area|city)$"),
                     by: str | None = Query(None, pattern="^(age_band|sex)$"),
                     year: int | None = Query(None, ge=1900, le=2200),
                     ctx: tuple = Depends(access("evaluation.read")), db: Engine = Depends(store)) -> FollowupResults:
    """Per question: favourable share with its Wilson CI, distribution, "don't know" apart, n and the response
    rate, at the level asked; cells that could identify anyone are suppressed (primary and complementary)."""
    from contracts.organisation import get_organisation
    from evaluation import followup

    _, stored = ctx
    org = get_organisation(db)
    level = level if org is not None or level in ("unit", "city") else "unit"  # districts need the organisation
    return FollowupResults(**followup.results_with_fieldwork(db, stored.latest.terms, followup.Request(level=level, by=by, year=year),
                                                   org, request_words(request).lang))
