"""Delivered files: the batches of a contract, uploading one, verifying one; the participants (audited)."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Depends, File, Form, Query, Request, UploadFile
from fastapi import Path as PathParam
from sqlalchemy.engine import Engine

from api.http.auth import access, store
from api.http.errors import TEXTS as A
from api.http.errors import ApiError, request_words
from api.http.routers import CONTRACT, LIMIT, OFFSET
from api.http.schemas import ERRORS, Batch, ErrorResponse, Page, Participant, UploadResult, page_of
from store.db import MAX_ID

KINDS_LITERAL = Literal["participants", "enrolments", "measurements", "survey", "comparison"]

router = APIRouter()


@router.get(CONTRACT + "/batches",
            summary="The import batches of a contract",
            operation_id="list_batches", response_model=Page, responses=ERRORS)
def batches(limit: int = LIMIT, offset: int = OFFSET, ctx: tuple = Depends(access("batch.read")),
            db: Engine = Depends(store)) -> Page:
    from outcomes.batches import list_batches

    return page_of([Batch(**b) for b in list_batches(db, ctx[1].id, _provider(ctx[0]))], limit, offset)


def _provider(who: Any) -> str | None:
    """The provider a user is (it sees its own deliveries and participants only), or None for everyone else."""
    return who.party if who.role == "provider" else None


@router.get(CONTRACT + "/batches/{batch_id}",
            summary="One import batch", operation_id="get_batch", response_model=Batch, responses=ERRORS)
def batch(batch_id: int = PathParam(..., ge=1, le=MAX_ID), ctx: tuple = Depends(access("batch.read")),
          db: Engine = Depends(store)) -> Batch:
    from outcomes.batches import list_batches

    found = next((b for b in list_batches(db, ctx[1].id, _provider(ctx[0])) if b["id"] == batch_id), None)
    if found is None:
        raise ApiError(404, "not_found", A("no_batch", batch=batch_id, contract=ctx[1].id))
    return Batch(**found)


@router.post(CONTRACT + "/batches",
             summary="Upload a delivered file as one batch (all rows or none)",
             operation_id="upload_batch", response_model=UploadResult, status_code=201,
             responses=ERRORS | {413: {"model": ErrorResponse, "description": "Too large"},
                                 503: {"model": ErrorResponse,
                                       "description": "No pseudonymisation key, or the file's check took longer "
                                       "than the upload time budget (SIB_UPLOAD_SECONDS); nothing stored"}})
def upload(request: Request, kind: KINDS_LITERAL = Form(...), file: UploadFile = File(...),
           dry_run: bool = Query(False), ctx: tuple = Depends(access("batch.upload")),
           db: Engine = Depends(store)) -> UploadResult:
    from api.http.uploads import Upload, UploadTooSlow, as_uploaded, ingest_upload, received
    from outcomes.ingest import IngestError, IngestRefused
    from outcomes.pseudonym import MissingKeyError, load_key
    from outcomes.readers import UnreadableFile

    who, stored = ctx
    try:
        key = load_key()
    except MissingKeyError:
        raise ApiError(503, "not_configured", A("no_key")) from None
    with received(file) as (path, name):
        try:  # in a worker process with a time budget, so one large file cannot starve other requests
            report = ingest_upload(db, Upload(stored.latest.terms, path, kind, key, dry_run, who.actor, name,
                                              provider=_provider(who)))
        except IngestRefused as refused:
            raise ApiError.of(422, "refused", refused, refused.report.as_dict) from None
        except (UnreadableFile, IngestError) as exc:
            raise ApiError(422, "unreadable", as_uploaded(exc.message, path, name)) from None
        except UploadTooSlow as exc:
            raise ApiError.of(503, "too_slow", exc) from None
    return UploadResult(status=report.status, batch=report.batch_id, rows=report.rows, counts=report.counts,
                        notes=[request_words(request).message(n) for n in report.notes])


@router.post(CONTRACT + "/batches/{batch_id}/verify",
             summary="Verify a batch (the intermediary's check)", operation_id="verify_batch", response_model=Batch,
             responses=ERRORS | {409: {"model": ErrorResponse}})
def verify(batch_id: int = PathParam(..., ge=1, le=MAX_ID), ctx: tuple = Depends(access("batch.verify")),
           db: Engine = Depends(store)) -> Batch:
    from outcomes.batches import BatchError, list_batches, verify_batch

    who, stored = ctx
    if not any(b["id"] == batch_id for b in list_batches(db, stored.id)):
        raise ApiError(404, "not_found", A("no_batch", batch=batch_id, contract=stored.id))
    try:
        verify_batch(db, batch_id, who.actor)
    except BatchError as exc:
        raise ApiError.of(409, "conflict", exc) from None
    return Batch(**next(b for b in list_batches(db, stored.id) if b["id"] == batch_id))


@router.get(CONTRACT + "/participants",
            summary="Participants (pseudonyms only; audited)",
            operation_id="list_participants", response_model=Page, responses=ERRORS)
def participants(limit: int = LIMIT, offset: int = OFFSET, ctx: tuple = Depends(access("participants.read")),
                 db: Engine = Depends(store)) -> Page:
    from outcomes.batches import participants as enrolled

    who, stored = ctx
    total, rows = enrolled(db, stored.id, limit, offset, who.actor, _provider(who))
    return Page(items=[Participant(participant=r.pseudonym[:12], cohort=r.cohort, arm=r.arm, start=r.start,
                                   provider=r.provider)
                       for r in rows], total=total, limit=limit, offset=offset)
