"""The investor status of a contract (cached per state of the store) and its audit log."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from sqlalchemy.engine import Engine
from starlette.concurrency import run_in_threadpool

from api.http.auth import Admitted, access, admission, reader_of, store
from api.http.routers import CONTRACT, LIMIT, OFFSET
from api.http.errors import request_words
from api.http.schemas import ERRORS, AuditEvent, InvestorStatus, Page, page_of
from store.db import audit_events

router = APIRouter()


@router.get(CONTRACT + "/status",
            summary="The investor status: outcomes, payments, forecast",
            operation_id="investor_status", response_model=InvestorStatus, responses=ERRORS)
async def status(request: Request, ctx: Admitted = Depends(admission("status.read"))) -> Response:
    """Metrics against targets; payments received (paid) and expected (calculated, approved or invoiced), and
    each status apart; the forecast (the same as ``sib forecast`` for the same state); returns, realised and
    projected."""
    from api.status import investor_status_json, state_key, written

    # The same bytes for the same state of the store (read with the token, in one query) and language: served
    # from the event loop as they are; only the first request for a state computes them, in a thread, so that a
    # forecast of seconds holds up no other request.
    said, db = request_words(request), reader_of(request)
    key = state_key(db, ctx.stored, ctx.state)
    body = written(key, said.lang)
    if body is None:
        body = await run_in_threadpool(investor_status_json, db, ctx.stored, said.lang, key)
    return Response(body, media_type="application/json", headers={"Content-Language": said.lang})


@router.get(CONTRACT + "/audit",
            summary="The audit trail of a contract", operation_id="list_audit", response_model=Page, responses=ERRORS)
def audit(limit: int = LIMIT, offset: int = OFFSET, ctx: tuple = Depends(access("audit.read")),
          db: Engine = Depends(store)) -> Page:
    return page_of([AuditEvent(**r._mapping) for r in audit_events(db, ctx[1].id)], limit, offset)
