"""The investor status of a contract (cached per state of the store) and its audit log."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from sqlalchemy.engine import Engine

from api.http.auth import access, reader, store
from api.http.routers import CONTRACT, LIMIT, OFFSET
from api.http.errors import request_words
from api.http.schemas import ERRORS, AuditEvent, InvestorStatus, Page, page_of
from store.db import audit_events

router = APIRouter()


@router.get(CONTRACT + "/status",
            summary="The investor status: outcomes, payments, forecast",
            operation_id="investor_status", response_model=InvestorStatus, responses=ERRORS)
def status(request: Request, ctx: tuple = Depends(access("status.read")), db: Engine = Depends(reader)) -> Response:
    """Metrics against targets; payments received (paid) and expected (calculated, approved or invoiced), and
    each status apart; the forecast (the same as ``sib forecast`` for the same state); returns, realised and
    projected."""
    from api.status import investor_status_json

    # The same bytes for the same state of the store and language: computed once, then served as they are.
    said = request_words(request)
    return Response(investor_status_json(db, ctx[1], said.lang), media_type="application/json",
                    headers={"Content-Language": said.lang})


@router.get(CONTRACT + "/audit",
            summary="The audit trail of a contract", operation_id="list_audit", response_model=Page, responses=ERRORS)
def audit(limit: int = LIMIT, offset: int = OFFSET, ctx: tuple = Depends(access("audit.read")),
          db: Engine = Depends(store)) -> Page:
    return page_of([AuditEvent(**r._mapping) for r in audit_events(db, ctx[1].id)], limit, offset)
