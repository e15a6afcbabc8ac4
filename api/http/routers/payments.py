"""Payments: calculate from a run, the ledger and its steps (approve, invoice, pay, reject), the schedule and
its downloads."""

from __future__ import annotations

from typing import Any, Callable

from fastapi import APIRouter, Depends, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import Response
from sqlalchemy.engine import Engine

from api.access import Principal
from api.exports import XLSX, schedule_file, schedule_rows
from api.http.auth import access, store
from api.http.errors import TEXTS as A
from api.http.errors import ApiError, request_words
from api.http.routers import CONTRACT, LIMIT, OFFSET
from api.http.schemas import (ERRORS, ApproveRequest, ErrorResponse, LedgerEntry, NoteRequest, Page, PaymentsRequest,
                              RejectRequest, ScheduleRow, Step)
from api.privacy import run_results, suppress_basis, suppress_bases
from contracts.registry import StoredContract
from language.names import Names
from language.words import default_language, from_accept_language
from store.db import MAX_ID

router = APIRouter()


@router.post(CONTRACT + "/payments",
             summary="Calculate what is owed from a run (new amounts reach the ledger)",
             operation_id="calculate_payments", response_model=list[LedgerEntry], status_code=201,
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
    return [_entry(e, [], who, stored, names, (e["basis"] or {}).get("evidence")) for e in added]


@router.get(CONTRACT + "/ledger",
            summary="The ledger's entries with their statuses",
            operation_id="list_ledger", response_model=Page, responses=ERRORS)
def ledger(request: Request, limit: int = LIMIT, offset: int = OFFSET, ctx: tuple = Depends(access("ledger.read")),
           db: Engine = Depends(store)) -> Page:
    from payments.evidence import entries_evidence
    from payments.ledger import read_ledger, read_steps
    from payments.schedule import step_trail

    who, stored = ctx
    steps = read_steps(db, stored.id)
    names = Names(stored.latest.terms, request_words(request))
    rows = read_ledger(db, stored.id).to_dict(orient="records")
    window = rows[offset:offset + limit]
    history = step_trail(steps)
    if who.aggregate_only:  # hidden as a whole ledger: a mechanism's cohorts are suppressed together
        evidences = entries_evidence(db, stored.latest.terms, rows)
        bases = suppress_bases([dict(e, basis=dict(e["basis"] or {}, evidence=evidences.get(e["seq"])))
                                for e in rows], stored.latest.terms.suppression_threshold, run_results(db))
        shown = dict(zip((e["seq"] for e in rows), bases))
        window = [dict(e, basis=shown[e["seq"]]) for e in window]
        evidences = {e["seq"]: e["basis"].get("evidence") for e in window}
    else:
        evidences = entries_evidence(db, stored.latest.terms, window)
    entries = [_entry(e, history.get(e["seq"], []), who, stored, names, evidences.get(e["seq"])) for e in window]
    return Page(items=entries, total=len(rows), limit=limit, offset=offset)


def _take(db: Engine, ctx: tuple, seq: int, status: str, note: str | None,
          acknowledged: list[str] | None = None) -> list[Step]:
    """One step by the authenticated user (its role was checked by ``access``; party, duties and evidence
    flags are checked by the ledger itself)."""
    from payments.ledger import StepRefused, take_step

    who, stored = ctx
    try:
        taken = take_step(db, stored.id, [seq], status, who.signer, note, acknowledged=acknowledged)
    except StepRefused as exc:
        missing = exc.message.code == "payments.no_entry"
        raise ApiError.of(404 if missing else 409, "not_found" if missing else "conflict", exc) from None
    return [Step(entry=t["entry_seq"], status=t["status"], at=t["at"], by=t["by"], user=t["user_id"],
                 party=t["party"], note=t["note"], acknowledged=t["acknowledged"] or []) for t in taken]


STEP_RESPONSES = ERRORS | {409: {"model": ErrorResponse, "description": "Not the next step for this entry, another "
                                 "party's entry, the same person twice, or evidence flags not acknowledged"}}
SEQ = PathParam(..., ge=1, le=MAX_ID)


@router.post(CONTRACT + "/ledger/{seq}/approve", response_model=list[Step], responses=STEP_RESPONSES,
             operation_id="approve_entry",
             summary="Approve a ledger entry")
def approve(body: ApproveRequest | None = None, seq: int = SEQ, ctx: tuple = Depends(access("ledger.approve")),
            db: Engine = Depends(store)) -> list[Step]:
    """Approve (or, above the contract's two-approver limit, attest) an entry owed by the user's paying party.
    A flagged entry needs each flag in ``acknowledge`` and a ``reason``."""
    body = body or ApproveRequest()
    return _take(db, ctx, seq, "approved", body.reason, body.acknowledge)


@router.post(CONTRACT + "/ledger/{seq}/invoice", response_model=list[Step], responses=STEP_RESPONSES,
             operation_id="invoice_entry",
             summary="Mark a ledger entry invoiced")
def invoice(body: NoteRequest | None = None, seq: int = SEQ, ctx: tuple = Depends(access("ledger.invoice")),
            db: Engine = Depends(store)) -> list[Step]:
    return _take(db, ctx, seq, "invoiced", (body or NoteRequest()).note)


@router.post(CONTRACT + "/ledger/{seq}/pay", response_model=list[Step], responses=STEP_RESPONSES,
             operation_id="pay_entry",
             summary="Mark a ledger entry paid")
def pay(body: NoteRequest | None = None, seq: int = SEQ, ctx: tuple = Depends(access("ledger.pay")),
        db: Engine = Depends(store)) -> list[Step]:
    """Mark an invoiced entry paid: by a user of its paying party other than whoever approved it."""
    return _take(db, ctx, seq, "paid", (body or NoteRequest()).note)


@router.post(CONTRACT + "/ledger/{seq}/reject", response_model=list[Step], responses=STEP_RESPONSES,
             operation_id="reject_entry",
             summary="Reject a ledger entry")
def reject(body: RejectRequest, seq: int = SEQ, ctx: tuple = Depends(access("ledger.approve")),
           db: Engine = Depends(store)) -> list[Step]:
    return _take(db, ctx, seq, "rejected", body.reason)


@router.get(CONTRACT + "/schedule",
            summary="The repayment schedule per period and payer",
            operation_id="get_schedule", response_model=list[ScheduleRow], responses=ERRORS)
def schedule(ctx: tuple = Depends(access("schedule.read")), db: Engine = Depends(store)) -> list[ScheduleRow]:
    return [ScheduleRow(**{k: (None if v is None else v if isinstance(v, str) else str(v)) for k, v in row.items()})
            for row in schedule_rows(db, ctx[1], with_forecast=True)[0]]


def _export(kind: str) -> Callable[..., Response]:
    """The schedule's download: in the Accept-Language's language, else the contract's (Swedish for SEK); for
    payers, small counts in the entries' bases hidden.  CSV in ``style`` (sv, en or plain; default: the
    language's)."""
    def send(request: Request, ctx: tuple, db: Engine, style: str | None) -> Response:
        who, stored = ctx
        lang = from_accept_language(request.headers.get("accept-language"), default_language(stored.currency))
        data, media, name = schedule_file(db, stored, kind, lang, style, aggregate_only=who.aggregate_only)
        return Response(data, media_type=media, headers={"Content-Disposition": f'attachment; filename="{name}"',
                                                         "Content-Language": lang})

    def download(request: Request, ctx: tuple = Depends(access("schedule.read")),
                 db: Engine = Depends(store)) -> Response:
        return send(request, ctx, db, None)

    def download_csv(request: Request, style: str | None = Query(None, pattern="^(sv|en|plain)$", description=(
            "sv: semicolons, decimal comma, UTF-8 with BOM; en: commas, decimal point, UTF-8 with BOM; plain: for "
            "machines, the stable column names, exact amounts, no BOM. Default: the language's.")),
            ctx: tuple = Depends(access("schedule.read")), db: Engine = Depends(store)) -> Response:
        return send(request, ctx, db, style)
    return download_csv if kind == "csv" else download


router.get(CONTRACT + "/exports/schedule.csv", responses=ERRORS | {200: {"content": {"text/csv": {}}}},
           response_class=Response, summary="The repayment schedule as CSV",
           operation_id="export_schedule_csv")(_export("csv"))
router.get(CONTRACT + "/exports/schedule.xlsx", responses=ERRORS | {200: {"content": {XLSX: {}}}},
           response_class=Response, summary="The repayment schedule as Excel",
           operation_id="export_schedule_xlsx")(_export("xlsx"))


def _entry(e: dict[str, Any], steps: list[dict[str, Any]], who: Principal, stored: StoredContract, names: Names,
           evidence: dict[str, Any] | None) -> LedgerEntry:
    """An entry as the caller may see it: its calculation, the evidence it rests on (with its flags) in the
    caller's language, and every step taken on it (who, when, the comment); small counts suppressed."""
    basis = dict(e["basis"] or {}, evidence=evidence)
    if who.aggregate_only:  # a ledger's entries come suppressed together; one calculated entry alone here
        basis = suppress_basis(basis, stored.latest.terms.suppression_threshold)
    shown = names.calculation(basis) if basis.get("trail") or basis.get("explanation") else None
    proof = basis.pop("evidence")
    if proof is not None:
        proof = dict(proof, described=[names.evidence(r) for r in proof.get("results", []) if r.get("n") is not None],
                     flags=[dict(f, text=names.message(f)) for f in proof.get("flags", [])])
    status = steps[-1]["status"] if steps else "calculated"
    return LedgerEntry(seq=e["seq"], period=e["period"], mechanism=e["mechanism"], payer=e["payer"],
                       cohort=e["cohort"], kind=e["kind"], amount=str(e["amount"]), currency=e["currency"],
                       status=status, evaluation_run=e["evaluation_run_id"], contract_version=e["contract_version"],
                       basis=basis, calculation=shown, evidence=proof, steps=steps, created_at=e["created_at"],
                       created_by=e["created_by"], hash=e["hash"])
