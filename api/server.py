"""The HTTP API (FastAPI), versioned under /api/v1.

Routers are thin: each checks the caller's token, contract and role (in that
order: 401, then 404 for a contract the caller may not know exists, then
403), calls one function of contracts/, outcomes/, evaluation/ or payments/,
and answers with a pydantic model.  Investors and payers get aggregates only,
with small cells suppressed (api.privacy).  Every write, and every read of
participant-level data, leaves an audit event.  Errors have one shape:
``{"error": {"status", "code", "message", "details"}}``.
"""

from __future__ import annotations


import os
import tempfile
from datetime import date
from pathlib import Path
from typing import Any, Callable, Literal

import sqlalchemy as sa
from fastapi import APIRouter, Depends, FastAPI, File, Form, Path as PathParam, Query, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.engine import Engine
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.auth import Principal, authenticate
from api.exports import XLSX, schedule_file, schedule_rows
from api.pages import error_page, install as install_pages
from api.privacy import NOTE, suppress_basis, suppress_results
from contracts.registry import StoredContract, UnknownContract, get_contract, list_contracts
from store.db import MAX_ID, StoreError, open_store, record_audit
from store.tables import AuditEventRow, EnrolmentRow, ParticipantRow
from store.version import code_version

MAX_BODY = int(os.environ.get("SIB_MAX_UPLOAD_BYTES", str(200 << 20)))  # uploads; JSON bodies are far smaller
KINDS_LITERAL = Literal["participants", "enrolments", "measurements", "survey", "comparison"]


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, details: Any = None):
        super().__init__(message)
        self.status, self.code, self.message, self.details = status, code, message, details


# -- models ---------------------------------------------------------------------------------------------------------

class Loose(BaseModel):
    model_config = ConfigDict(extra="allow")


class ErrorBody(BaseModel):
    status: int
    code: str
    message: str
    details: Any = None


class ErrorResponse(BaseModel):
    error: ErrorBody


class Health(BaseModel):
    status: str
    version: str


class ContractSummary(BaseModel):
    id: str
    name: str
    currency: str
    versions: int


class VersionInfo(BaseModel):
    version: int
    effective: date
    reason: str
    fingerprint: str


class ContractDetail(BaseModel):
    id: str
    name: str
    currency: str
    version: int
    terms: dict[str, Any]
    versions: list[VersionInfo]


class Batch(BaseModel):
    id: int
    kind: str
    filename: str
    rows: int
    created_at: Any
    created_by: str
    verified_at: Any = None
    verified_by: str | None = None


class UploadResult(BaseModel):
    status: str
    batch: int | None
    rows: int
    counts: dict[str, int]
    notes: list[str]


class Participant(BaseModel):
    participant: str  # a prefix of the pseudonym: enough to follow a record, nothing to link
    cohort: str | None
    arm: str
    start: Any


class RunSummary(BaseModel):
    run: int
    as_of: Any
    contract_version: int
    include_unverified: bool
    inputs_fingerprint: str
    code_version: str
    created_at: Any
    created_by: str


class Run(Loose):
    run: int
    contract_version: int
    results: list[dict[str, Any]]
    suppression: str | None = None


class EvaluateRequest(BaseModel):
    as_of: date | None = Field(default=None, description="Default: today.")
    include_unverified: bool = False


class PaymentsRequest(BaseModel):
    run: int | None = Field(default=None, ge=1, le=MAX_ID, description="Default: the latest evaluation run.")


class RejectRequest(BaseModel):
    reason: str = Field(min_length=1, max_length=2000)


class LedgerEntry(Loose):
    seq: int
    period: str
    mechanism: str
    payer: str
    amount: str
    status: str


class Step(BaseModel):
    entry: int
    status: str
    at: str
    by: str


class AuditEvent(BaseModel):
    id: int
    at: Any
    actor: str
    action: str
    contract_id: str | None
    detail: dict[str, Any]


class Page(BaseModel):
    items: list[Any]
    total: int
    limit: int
    offset: int


ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorResponse, "description": text}
    for code, text in ((401, "Missing or unknown token"), (403, "The token's role may not do this"),
                       (404, "No such contract (or not one this token may see), or no such item"),
                       (422, "Invalid request"))
}


def _page(items: list[Any], limit: int, offset: int) -> Page:
    return Page(items=items[offset: offset + limit], total=len(items), limit=limit, offset=offset)


# -- the application ----------------------------------------------------------------------------------------------

def create_app(engine: Engine | None = None, max_body: int = MAX_BODY) -> FastAPI:
    app = FastAPI(title="sib engine", version=code_version(),
                  description="Social outcomes contracts: contracts, outcomes, evaluations and payments. "
                              "Authenticate with `Authorization: Bearer <token>` (`sib users add`).")
    state: dict[str, Engine] = {}

    async def store() -> Engine:
        if "engine" not in state:
            state["engine"] = engine or open_store()
        return state["engine"]

    async def reader(db: Engine = Depends(store)) -> Engine:
        """The same store for reads that need no transaction: each query on its own, nothing to roll back."""
        if "reader" not in state:
            state["reader"] = db.execution_options(isolation_level="AUTOCOMMIT")
        return state["reader"]

    async def principal(request: Request, db: Engine = Depends(reader)) -> Principal:
        header = request.headers.get("authorization", "")
        token = header[7:].strip() if header.lower().startswith("bearer ") else None
        with db.connect() as conn:
            who = authenticate(conn, token)
        if who is None:
            raise ApiError(401, "unauthenticated", "a valid API token is needed: Authorization: Bearer <token>")
        return who

    def access(action: str) -> Callable[..., tuple[Principal, StoredContract]]:
        async def check(contract_id: str = PathParam(..., max_length=64), who: Principal = Depends(principal),
                        db: Engine = Depends(reader)) -> tuple[Principal, StoredContract]:
            if not who.sees(contract_id):
                raise ApiError(404, "not_found", f"no contract {contract_id!r}")
            try:
                stored = get_contract(db, contract_id)
            except UnknownContract:
                raise ApiError(404, "not_found", f"no contract {contract_id!r}") from None
            if not who.may(action):
                raise ApiError(403, "forbidden", f"a {who.role} may not do this ({action})")
            return who, stored
        return check

    _handlers(app)
    app.add_middleware(BodyLimit, limit=max_body)
    v1 = APIRouter(prefix="/api/v1")
    c = "/contracts/{contract_id}"
    LIMIT = Query(50, ge=1, le=500)
    OFFSET = Query(0, ge=0, le=10**9)

    @v1.get("/health", response_model=Health)
    def health() -> Health:
        return Health(status="ok", version=code_version())

    @v1.get("/contracts", response_model=Page, responses=ERRORS)
    def contracts(limit: int = LIMIT, offset: int = OFFSET, who: Principal = Depends(principal),
                  db: Engine = Depends(store)) -> Page:
        visible = [ContractSummary(**r) for r in list_contracts(db) if who.sees(r["id"])]
        return _page(visible, limit, offset)

    @v1.get(c, response_model=ContractDetail, responses=ERRORS)
    def contract(ctx: tuple = Depends(access("contract.read"))) -> ContractDetail:
        _, stored = ctx
        latest = stored.latest
        return ContractDetail(id=stored.id, name=stored.name, currency=stored.currency, version=latest.version,
                              terms=latest.terms_json(), versions=[_version(v) for v in stored.versions])

    @v1.get(c + "/versions", response_model=list[VersionInfo], responses=ERRORS)
    def versions(ctx: tuple = Depends(access("contract.read"))) -> list[VersionInfo]:
        return [_version(v) for v in ctx[1].versions]

    # -- ingestion ------------------------------------------------------------------------------------------------

    @v1.get(c + "/batches", response_model=Page, responses=ERRORS)
    def batches(limit: int = LIMIT, offset: int = OFFSET, ctx: tuple = Depends(access("batch.read")),
                db: Engine = Depends(store)) -> Page:
        from outcomes.batches import list_batches

        return _page([Batch(**b) for b in list_batches(db, ctx[1].id)], limit, offset)

    @v1.get(c + "/batches/{batch_id}", response_model=Batch, responses=ERRORS)
    def batch(batch_id: int = PathParam(..., ge=1, le=MAX_ID), ctx: tuple = Depends(access("batch.read")),
              db: Engine = Depends(store)) -> Batch:
        from outcomes.batches import list_batches

        found = next((b for b in list_batches(db, ctx[1].id) if b["id"] == batch_id), None)
        if found is None:
            raise ApiError(404, "not_found", f"no batch {batch_id} in contract {ctx[1].id!r}")
        return Batch(**found)

    @v1.post(c + "/batches", response_model=UploadResult, status_code=201,
             responses=ERRORS | {413: {"model": ErrorResponse, "description": "Too large"},
                                 503: {"model": ErrorResponse, "description": "No pseudonymisation key"}})
    def upload(kind: KINDS_LITERAL = Form(...), file: UploadFile = File(...),
               dry_run: bool = Query(False), ctx: tuple = Depends(access("batch.upload")),
               db: Engine = Depends(store)) -> UploadResult:
        from outcomes.ingest import IngestError, IngestRefused, ingest_file
        from outcomes.pseudonym import MissingKeyError, load_key
        from outcomes.readers import UnreadableFile

        who, stored = ctx
        try:
            key = load_key()
        except MissingKeyError:
            raise ApiError(503, "not_configured", "the server has no pseudonymisation key; run 'sib keys init' "
                                                  "where the server runs") from None
        name = Path(file.filename or "upload.csv").name[:200] or "upload.csv"
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / ("upload" + (Path(name).suffix.lower()[:8] or ".csv"))
            with open(path, "wb") as out:
                for block in iter(lambda: file.file.read(1 << 20), b""):
                    out.write(block)
            try:
                report = ingest_file(db, stored.latest.terms, path, kind, key, dry_run=dry_run, actor_name=who.actor,
                                     filename=name)
            except IngestRefused as refused:
                raise ApiError(422, "refused", str(refused), refused.report.as_dict()) from None
            except (UnreadableFile, IngestError) as exc:
                raise ApiError(422, "unreadable", str(exc).replace(str(path), name)) from None
        return UploadResult(status=report.status, batch=report.batch_id, rows=report.rows, counts=report.counts,
                            notes=report.notes)

    @v1.post(c + "/batches/{batch_id}/verify", response_model=Batch, responses=ERRORS | {409: {"model": ErrorResponse}})
    def verify(batch_id: int = PathParam(..., ge=1, le=MAX_ID), ctx: tuple = Depends(access("batch.verify")),
               db: Engine = Depends(store)) -> Batch:
        from outcomes.batches import BatchError, list_batches, verify_batch

        who, stored = ctx
        if not any(b["id"] == batch_id for b in list_batches(db, stored.id)):
            raise ApiError(404, "not_found", f"no batch {batch_id} in contract {stored.id!r}")
        try:
            verify_batch(db, batch_id, who.actor)
        except BatchError as exc:
            raise ApiError(409, "conflict", str(exc)) from None
        return Batch(**next(b for b in list_batches(db, stored.id) if b["id"] == batch_id))

    @v1.get(c + "/participants", response_model=Page, responses=ERRORS)
    def participants(limit: int = LIMIT, offset: int = OFFSET, ctx: tuple = Depends(access("participants.read")),
                     db: Engine = Depends(store)) -> Page:
        who, stored = ctx
        query = (sa.select(ParticipantRow.pseudonym, EnrolmentRow.cohort, EnrolmentRow.arm, EnrolmentRow.start)
                 .join(EnrolmentRow, EnrolmentRow.participant_id == ParticipantRow.id)
                 .where(ParticipantRow.contract_id == stored.id).order_by(ParticipantRow.id))
        with db.begin() as conn:
            total = conn.execute(sa.select(sa.func.count()).select_from(query.subquery())).scalar_one()
            rows = conn.execute(query.limit(limit).offset(offset)).all()
            record_audit(conn, "participants.read", stored.id, {"limit": limit, "offset": offset, "rows": len(rows)},
                         who.actor)
        return Page(items=[Participant(participant=r.pseudonym[:12], cohort=r.cohort, arm=r.arm, start=r.start)
                           for r in rows], total=total, limit=limit, offset=offset)

    # -- evaluation -----------------------------------------------------------------------------------------------

    @v1.post(c + "/evaluations", response_model=Run, status_code=201, responses=ERRORS)
    def evaluate(body: EvaluateRequest, ctx: tuple = Depends(access("evaluation.run")), db: Engine = Depends(store)) -> Run:
        from evaluation.run import evaluate as run_evaluation

        who, stored = ctx
        as_of = body.as_of or date.today()
        if not date(1900, 1, 1) < as_of < date(2200, 1, 1):
            raise ApiError(422, "invalid", f"as_of {as_of} is not a plausible date")
        run = run_evaluation(db, stored, as_of, include_unverified=body.include_unverified, actor_name=who.actor)
        return _run(run.as_dict(), who, stored)

    @v1.get(c + "/evaluations", response_model=Page, responses=ERRORS)
    def evaluations(limit: int = LIMIT, offset: int = OFFSET, ctx: tuple = Depends(access("evaluation.read")),
                    db: Engine = Depends(store)) -> Page:
        from store.tables import EvaluationRunRow

        with db.connect() as conn:
            rows = conn.execute(sa.select(EvaluationRunRow.id, EvaluationRunRow.as_of, EvaluationRunRow.contract_version,
                                          EvaluationRunRow.include_unverified, EvaluationRunRow.inputs_fingerprint,
                                          EvaluationRunRow.code_version, EvaluationRunRow.created_at,
                                          EvaluationRunRow.created_by)
                                .where(EvaluationRunRow.contract_id == ctx[1].id).order_by(EvaluationRunRow.id)).all()
        return _page([RunSummary(run=r.id, **{k: v for k, v in r._mapping.items() if k != "id"}) for r in rows],
                     limit, offset)

    @v1.get(c + "/evaluations/{run_id}", response_model=Run, responses=ERRORS)
    def evaluation(run_id: int = PathParam(..., ge=1, le=MAX_ID), ctx: tuple = Depends(access("evaluation.read")),
                   db: Engine = Depends(store)) -> Run:
        who, stored = ctx
        return _run(_stored_run(db, stored, run_id).as_dict(), who, stored)

    @v1.get(c + "/evaluations/{run_a}/diff/{run_b}", response_model=Loose, responses=ERRORS)
    def evaluation_diff(run_a: int = PathParam(..., ge=1, le=MAX_ID), run_b: int = PathParam(..., ge=1, le=MAX_ID),
                        ctx: tuple = Depends(access("evaluation.read")), db: Engine = Depends(store)) -> Loose:
        from evaluation.diff import diff_runs

        who, stored = ctx
        a, b = _stored_run(db, stored, run_a), _stored_run(db, stored, run_b)
        if who.aggregate_only:  # the numbers compared are the suppressed ones
            threshold = stored.latest.terms.suppression_threshold
            for run in (a, b):
                shown = suppress_results([r.to_dict() for r in run.results], threshold)
                for result, visible in zip(run.results, shown):
                    for k, v in visible.items():
                        if k in result.__dataclass_fields__:
                            setattr(result, k, v)
        return Loose(**diff_runs(a, b, {v.version: v.reason for v in stored.versions}))

    # -- payments -------------------------------------------------------------------------------------------------

    @v1.post(c + "/payments", response_model=list[LedgerEntry], status_code=201,
             responses=ERRORS | {409: {"model": ErrorResponse}})
    def payments(body: PaymentsRequest, ctx: tuple = Depends(access("payments.calculate")),
                 db: Engine = Depends(store)) -> list[LedgerEntry]:
        from evaluation.run import get_run
        from payments.calculate import ConcurrentCalculation, PaymentError, calculate

        who, stored = ctx
        run = get_run(db, stored.id, body.run)
        if run is None:
            raise ApiError(404, "not_found", f"no evaluation run{f' {body.run}' if body.run else ''} for {stored.id!r}")
        try:
            added = calculate(db, stored, run, actor_name=who.actor)
        except (PaymentError, ConcurrentCalculation) as exc:
            raise ApiError(409, "conflict", str(exc)) from None
        return [_entry(e, "calculated", who, stored) for e in added]

    @v1.get(c + "/ledger", response_model=Page, responses=ERRORS)
    def ledger(limit: int = LIMIT, offset: int = OFFSET, ctx: tuple = Depends(access("ledger.read")),
               db: Engine = Depends(store)) -> Page:
        from payments.ledger import current_status, read_ledger

        who, stored = ctx
        statuses = current_status(db, stored.id)
        entries = [_entry(e, statuses.get(e["seq"], "calculated"), who, stored)
                   for e in read_ledger(db, stored.id).to_dict(orient="records")]
        return _page(entries, limit, offset)

    def _step(status: str, action: str) -> Callable[..., list[Step]]:
        def handler(seq: int = PathParam(..., ge=1, le=MAX_ID), ctx: tuple = Depends(access(action)),
                    db: Engine = Depends(store), reason: str | None = None) -> list[Step]:
            from payments.ledger import StepRefused, take_step

            who, stored = ctx
            try:
                taken = take_step(db, stored.id, [seq], status, who.actor, reason)
            except StepRefused as exc:
                message = str(exc)
                code = 404 if message == f"no entry {seq}" else 409
                raise ApiError(code, "not_found" if code == 404 else "conflict", message) from None
            return [Step(entry=t["entry_seq"], status=t["status"], at=t["at"], by=t["by"]) for t in taken]
        return handler

    step_responses = ERRORS | {409: {"model": ErrorResponse, "description": "Not the next step for this entry"}}
    v1.post(c + "/ledger/{seq}/approve", response_model=list[Step], responses=step_responses)(_step("approved", "ledger.approve"))
    v1.post(c + "/ledger/{seq}/invoice", response_model=list[Step], responses=step_responses)(_step("invoiced", "ledger.invoice"))
    v1.post(c + "/ledger/{seq}/pay", response_model=list[Step], responses=step_responses)(_step("paid", "ledger.pay"))

    @v1.post(c + "/ledger/{seq}/reject", response_model=list[Step], responses=step_responses)
    def reject(body: RejectRequest, seq: int = PathParam(..., ge=1, le=MAX_ID),
               ctx: tuple = Depends(access("ledger.approve")), db: Engine = Depends(store)) -> list[Step]:
        return _step("rejected", "ledger.approve")(seq=seq, ctx=ctx, db=db, reason=body.reason)

    @v1.get(c + "/schedule", response_model=list[dict[str, Any]], responses=ERRORS)
    def schedule(ctx: tuple = Depends(access("schedule.read")), db: Engine = Depends(store)) -> list[dict[str, Any]]:
        return [{k: (None if v is None else str(v) if not isinstance(v, str) else v) for k, v in row.items()}
                for row in schedule_rows(db, ctx[1], with_forecast=True)[0]]

    def export(kind: str) -> Callable[..., Response]:
        def download(ctx: tuple = Depends(access("schedule.read")), db: Engine = Depends(store)) -> Response:
            data, media, name = schedule_file(db, ctx[1], kind)
            return Response(data, media_type=media, headers=_download(name))
        return download

    v1.get(c + "/exports/schedule.csv", responses=ERRORS | {200: {"content": {"text/csv": {}}}},
           response_class=Response)(export("csv"))
    v1.get(c + "/exports/schedule.xlsx", responses=ERRORS | {200: {"content": {XLSX: {}}}},
           response_class=Response)(export("xlsx"))

    @v1.get(c + "/status", response_model=Loose, responses=ERRORS)
    def status(ctx: tuple = Depends(access("status.read")), db: Engine = Depends(reader)) -> Response:
        from api.status import investor_status_json

        # The same bytes for the same state of the store: computed once, then served as they are.
        return Response(investor_status_json(db, ctx[1]), media_type="application/json")

    @v1.get(c + "/audit", response_model=Page, responses=ERRORS)
    def audit(limit: int = LIMIT, offset: int = OFFSET, ctx: tuple = Depends(access("audit.read")),
              db: Engine = Depends(store)) -> Page:
        with db.connect() as conn:
            rows = conn.execute(sa.select(AuditEventRow).where(AuditEventRow.contract_id == ctx[1].id)
                                .order_by(AuditEventRow.id)).all()
        return _page([AuditEvent(**r._mapping) for r in rows], limit, offset)

    @v1.get(c + "/indigo/compare", response_model=Loose, responses=ERRORS)
    def indigo_compare(limit: int = Query(10, ge=1, le=100), ctx: tuple = Depends(access("indigo.read")),
                       db: Engine = Depends(reader)) -> dict[str, Any]:
        """INDIGO projects like this contract, with their prices per outcome, caps and results (``credit`` names
        the source: the Government Outcomes Lab's open data)."""
        from indigo.compare import compare, comparison_json
        from indigo.importer import load_reference

        contract = ctx[1].latest.terms
        return comparison_json(contract, compare(contract, load_reference(db), limit))

    app.include_router(v1)
    install_pages(app, store, reader)
    return app


# -- helpers --------------------------------------------------------------------------------------------------------

def _version(v: Any) -> VersionInfo:
    return VersionInfo(version=v.version, effective=v.effective, reason=v.reason, fingerprint=v.fingerprint)


def _stored_run(db: Engine, stored: StoredContract, run_id: int) -> Any:
    from evaluation.run import get_run

    run = get_run(db, stored.id, run_id)
    if run is None:
        raise ApiError(404, "not_found", f"no evaluation run {run_id} in contract {stored.id!r}")
    return run


def _run(data: dict[str, Any], who: Principal, stored: StoredContract) -> Run:
    if who.aggregate_only:
        threshold = stored.latest.terms.suppression_threshold
        data = dict(data, results=suppress_results(data["results"], threshold), coverage={},
                    suppression=NOTE.format(k=threshold))
    return Run(**data)


def _entry(e: dict[str, Any], status: str, who: Principal, stored: StoredContract) -> LedgerEntry:
    basis = e["basis"] or {}
    if who.aggregate_only:
        basis = suppress_basis(basis, stored.latest.terms.suppression_threshold)
    return LedgerEntry(seq=e["seq"], period=e["period"], mechanism=e["mechanism"], payer=e["payer"],
                       cohort=e["cohort"], kind=e["kind"], amount=str(e["amount"]), currency=e["currency"],
                       status=status, evaluation_run=e["evaluation_run_id"], contract_version=e["contract_version"],
                       basis=basis, created_at=e["created_at"], created_by=e["created_by"], hash=e["hash"])


def _download(name: str) -> dict[str, str]:
    return {"Content-Disposition": f'attachment; filename="{name}"'}


def _error(status: int, code: str, message: str, details: Any = None) -> JSONResponse:
    return JSONResponse({"error": {"status": status, "code": code, "message": message, "details": details}},
                        status_code=status)


def _is_api(request: Request) -> bool:
    """JSON errors for the API and its documentation; HTML error pages for the web pages."""
    path = request.url.path
    return path.startswith("/api/") or path in ("/openapi.json", "/docs", "/redoc")


def _handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def api_error(_: Request, exc: ApiError) -> JSONResponse:
        return _error(exc.status, exc.code, exc.message, exc.details)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> Response:
        details = [{"where": ".".join(str(p) for p in e.get("loc", ())), "message": e.get("msg", "")}
                   for e in exc.errors()]
        first = details[0] if details else {"where": "", "message": "invalid request"}
        if not _is_api(request):
            return error_page(422, f"{first['where']}: {first['message']}")
        return _error(422, "invalid", f"{first['where']}: {first['message']}", details)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        codes = {404: "not_found", 405: "method_not_allowed", 413: "too_large"}
        if not _is_api(request):
            return error_page(exc.status_code, str(exc.detail))
        return _error(exc.status_code, codes.get(exc.status_code, "error"), str(exc.detail))

    @app.exception_handler(StoreError)
    async def store_error(_: Request, exc: StoreError) -> JSONResponse:
        return _error(503, "store_unavailable", str(exc))


class BodyLimit:
    """Refuse request bodies over ``limit`` bytes with 413, whether or not they declare their length."""

    def __init__(self, app: Any, limit: int):
        self.app, self.limit = app, limit

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            await _error(413, "too_large", f"the request body is over {self.limit:,} bytes")(scope, receive, send)
            return
        seen = 0

        async def counting() -> dict:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.limit:
                raise StarletteHTTPException(413, f"the request body is over {self.limit:,} bytes")
            return message

        await self.app(scope, counting, send)



