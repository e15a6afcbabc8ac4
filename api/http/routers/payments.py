"""Payments: calculate from a run, the ledger and its steps (approve, invoice, pay, reject), the schedule and
its downloads."""

from __future__ import annotations

from typing import Any, Callable

from fastapi import APIRouter, Depends, Request
from fastapi import Path as PathParam
from fastapi.responses import Response
from sqlalchemy.engine import Engine

from api.access import Principal
from api.exports import XLSX, schedule_file, schedule_rows
from api.http.auth import access, store
from api.http.errors import TEXTS as A
from api.http.errors import ApiError, request_words
from api.http.routers import CONTRACT, LIMIT, OFFSET
from api.http.schemas import ERRORS, ErrorResponse, LedgerEntry, Page, PaymentsRequest, RejectRequest, Step, page_of
from api.privacy import suppress_basis
from contracts.registry import StoredContract
from language.names import Names
from store.db import MAX_ID

router = APIRouter()


@router.post(CONTRACT + "/payments", response_model=list[LedgerEntry], status_code=201,
             responses=ERRORS | {409: {"model": ErrorResponse}})
def payments(request: Request, body: PaymentsRequest, ctx: tuple = Depends(access("payments.calculate")),
             db: Engine = Depends(store)) -> list[LedgerEntry]:
    from evaluation.run import get_run
    from payments.calculate import ConcurrentCalculation, PaymentError, calculate

    who, stored = ctx
    run = get_run(db, stored.id, body.run)
    if run is None:
        raise ApiError(404, "not_found", A("no_such_run", run=body.run, contract=stored.id) if body.run
                       else A("no_run", contract=stored.id))
    try:
        added = calculate(db, stored, run, actor_name=who.actor)
    except (PaymentError, ConcurrentCalculation) as exc:
        raise ApiError.of(409, "conflict", exc) from None
    names = Names(stored.latest.terms, request_words(request))
    return [_entry(e, "calculated", who, stored, names) for e in added]


@router.get(CONTRACT + "/ledger", response_model=Page, responses=ERRORS)
def ledger(request: Request, limit: int = LIMIT, offset: int = OFFSET, ctx: tuple = Depends(access("ledger.read")),
           db: Engine = Depends(store)) -> Page:
    from payments.ledger import current_status, read_ledger

    who, stored = ctx
    statuses = current_status(db, stored.id)
    names = Names(stored.latest.terms, request_words(request))
    entries = [_entry(e, statuses.get(e["seq"], "calculated"), who, stored, names)
               for e in read_ledger(db, stored.id).to_dict(orient="records")]
    return page_of(entries, limit, offset)


def _step(status: str, action: str) -> Callable[..., list[Step]]:
    def handler(seq: int = PathParam(..., ge=1, le=MAX_ID), ctx: tuple = Depends(access(action)),
                db: Engine = Depends(store), reason: str | None = None) -> list[Step]:
        from payments.ledger import StepRefused, take_step

        who, stored = ctx
        try:
            taken = take_step(db, stored.id, [seq], status, who.actor, reason)
        except StepRefused as exc:
            missing = exc.message.code == "payments.no_entry"
            raise ApiError.of(404 if missing else 409, "not_found" if missing else "conflict", exc) from None
        return [Step(entry=t["entry_seq"], status=t["status"], at=t["at"], by=t["by"]) for t in taken]
    return handler


STEP_RESPONSES = ERRORS | {409: {"model": ErrorResponse, "description": "Not the next step for this entry"}}
router.post(CONTRACT + "/ledger/{seq}/approve", response_model=list[Step],
            responses=STEP_RESPONSES)(_step("approved", "ledger.approve"))
router.post(CONTRACT + "/ledger/{seq}/invoice", response_model=list[Step],
            responses=STEP_RESPONSES)(_step("invoiced", "ledger.invoice"))
router.post(CONTRACT + "/ledger/{seq}/pay", response_model=list[Step], responses=STEP_RESPONSES)(_step("paid", "ledger.pay"))


@router.post(CONTRACT + "/ledger/{seq}/reject", response_model=list[Step], responses=STEP_RESPONSES)
def reject(body: RejectRequest, seq: int = PathParam(..., ge=1, le=MAX_ID),
           ctx: tuple = Depends(access("ledger.approve")), db: Engine = Depends(store)) -> list[Step]:
    return _step("rejected", "ledger.approve")(seq=seq, ctx=ctx, db=db, reason=body.reason)


@router.get(CONTRACT + "/schedule", response_model=list[dict[str, Any]], responses=ERRORS)
def schedule(ctx: tuple = Depends(access("schedule.read")), db: Engine = Depends(store)) -> list[dict[str, Any]]:
    return [{k: (None if v is None else str(v) if not isinstance(v, str) else v) for k, v in row.items()}
            for row in schedule_rows(db, ctx[1], with_forecast=True)[0]]


def _export(kind: str) -> Callable[..., Response]:
    def download(request: Request, ctx: tuple = Depends(access("schedule.read")), db: Engine = Depends(store)) -> Response:
        data, media, name = schedule_file(db, ctx[1], kind, request_words(request).lang)
        return Response(data, media_type=media, headers={"Content-Disposition": f'attachment; filename="{name}"'})
    return download


router.get(CONTRACT + "/exports/schedule.csv", responses=ERRORS | {200: {"content": {"text/csv": {}}}},
           response_class=Response)(_export("csv"))
router.get(CONTRACT + "/exports/schedule.xlsx", responses=ERRORS | {200: {"content": {XLSX: {}}}},
           response_class=Response)(_export("xlsx"))


def _entry(e: dict[str, Any], status: str, who: Principal, stored: StoredContract, names: Names) -> LedgerEntry:
    """An entry as the caller may see it, with its calculation in the caller's language (none if suppressed)."""
    basis = e["basis"] or {}
    if who.aggregate_only:
        basis = suppress_basis(basis, stored.latest.terms.suppression_threshold)
    shown = names.calculation(basis) if basis.get("trail") or basis.get("explanation") else None
    return LedgerEntry(seq=e["seq"], period=e["period"], mechanism=e["mechanism"], payer=e["payer"],
                       cohort=e["cohort"], kind=e["kind"], amount=str(e["amount"]), currency=e["currency"],
                       status=status, evaluation_run=e["evaluation_run_id"], contract_version=e["contract_version"],
                       basis=basis, calculation=shown, created_at=e["created_at"], created_by=e["created_by"],
                       hash=e["hash"])
