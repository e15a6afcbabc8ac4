"""Evaluation runs: run one, list them, read one (suppressed for investors and payers), compare two."""

from __future__ import annotations

from datetime import date
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi import Path as PathParam
from sqlalchemy.engine import Engine

from api.access import Principal
from api.http.auth import access, store
from api.http.errors import TEXTS as A
from api.http.errors import ApiError, request_words
from api.http.routers import CONTRACT, LIMIT, OFFSET
from api.http.schemas import ERRORS, EvaluateRequest, Page, Run, RunDiff, RunSummary, page_of
from api.privacy import NOTE, suppress_results
from contracts.registry import StoredContract
from language.words import Words
from store.db import MAX_ID

router = APIRouter()


@router.post(CONTRACT + "/evaluations",
             summary="Evaluate every metric as of a date",
             operation_id="run_evaluation", response_model=Run, status_code=201, responses=ERRORS)
def evaluate(request: Request, body: EvaluateRequest, ctx: tuple = Depends(access("evaluation.run")),
             db: Engine = Depends(store)) -> Run:
    from evaluation.run import evaluate as run_evaluation

    who, stored = ctx
    as_of = body.as_of or date.today()
    if not date(1900, 1, 1) <= as_of < date(2200, 1, 1):
        raise ApiError(422, "invalid", A("implausible_date", as_of=as_of.isoformat()))
    run = run_evaluation(db, stored, as_of, include_unverified=body.include_unverified, actor_name=who.actor)
    return _run(run.as_dict(), who, stored, request_words(request))


@router.get(CONTRACT + "/evaluations",
            summary="The stored evaluation runs",
            operation_id="list_evaluations", response_model=Page, responses=ERRORS)
def evaluations(limit: int = LIMIT, offset: int = OFFSET, ctx: tuple = Depends(access("evaluation.read")),
                db: Engine = Depends(store)) -> Page:
    from evaluation.run import list_runs

    rows = list_runs(db, ctx[1].id)
    return page_of([RunSummary(run=r.id, **{k: v for k, v in r._mapping.items() if k != "id"}) for r in rows],
                   limit, offset)


@router.get(CONTRACT + "/evaluations/{run_id}",
            summary="One evaluation run with its results",
            operation_id="get_evaluation", response_model=Run, responses=ERRORS)
def evaluation(request: Request, run_id: int = PathParam(..., ge=1, le=MAX_ID),
               ctx: tuple = Depends(access("evaluation.read")), db: Engine = Depends(store)) -> Run:
    who, stored = ctx
    return _run(_stored_run(db, stored, run_id).as_dict(), who, stored, request_words(request))


@router.get(CONTRACT + "/evaluations/{run_a}/diff/{run_b}",
            summary="What changed between two runs",
            operation_id="diff_evaluations", response_model=RunDiff, responses=ERRORS)
def evaluation_diff(request: Request, run_a: int = PathParam(..., ge=1, le=MAX_ID),
                    run_b: int = PathParam(..., ge=1, le=MAX_ID), ctx: tuple = Depends(access("evaluation.read")),
                    db: Engine = Depends(store)) -> RunDiff:
    from evaluation.diff import diff_runs

    who, stored = ctx
    a, b = _stored_run(db, stored, run_a), _stored_run(db, stored, run_b)
    threshold = None
    if who.aggregate_only:  # the numbers compared are the suppressed ones, and no small change between them
        threshold = stored.latest.terms.suppression_threshold
        for run in (a, b):
            shown = suppress_results([r.to_dict() for r in run.results], threshold)
            for result, visible in zip(run.results, shown):
                for k, v in visible.items():
                    if k in result.__dataclass_fields__:
                        setattr(result, k, v)
    result = diff_runs(a, b, {v.version: v.reason for v in stored.versions}, threshold)
    return RunDiff(**request_words(request).explained_diff(result))


def _stored_run(db: Engine, stored: StoredContract, run_id: int) -> Any:
    from evaluation.run import get_run

    run = get_run(db, stored.id, run_id)
    if run is None:
        raise ApiError(404, "not_found", A("no_such_run", run=run_id, contract=stored.id))
    return run


def _run(data: dict[str, Any], who: Principal, stored: StoredContract, said: Words) -> Run:
    """A run as the caller may see it, each warning with its code, parameters and text in the caller's language."""
    if who.aggregate_only:
        threshold = stored.latest.terms.suppression_threshold
        data = dict(data, results=suppress_results(data["results"], threshold), coverage={},
                    suppression=said._(NOTE, k=threshold))
    results = [dict(r, se_kind=said.explained(r["se_kind"]) if r.get("se_kind") else None)
               for r in said.explained_results(data["results"])]
    return Run(**dict(data, results=results))
