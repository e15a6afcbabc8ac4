"""The payer's business case and the board summary (nämndrapport), for the payer and the intermediary."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from sqlalchemy.engine import Engine

from api.http.auth import access, store
from api.http.errors import ApiError, request_words
from api.http.routers import CONTRACT
from api.http.schemas import ERRORS, BoardSummary, BusinessCaseOut, ErrorResponse

router = APIRouter()
NOT_YET = {409: {"model": ErrorResponse, "description": "No evaluation run yet, or (valuation) no valuation section "
                 "in the contract or its cost file not loaded"}}


@router.get(CONTRACT + "/valuation", response_model=BusinessCaseOut, responses=ERRORS | NOT_YET,
            summary="The payer's business case", operation_id="business_case")
def business_case(ctx: tuple = Depends(access("schedule.read")), db: Engine = Depends(store)) -> BusinessCaseOut:
    """Avoided costs on the latest evaluation run (effect interval × unit cost range, cashable and not), payments,
    own costs, the net position per year with its P10–P90 band, the break-even month, and per department who
    funds against where the savings land (``sib valuation``)."""
    from payments.valuation import ValuationError, contract_business_case

    _, stored = ctx
    try:
        case = contract_business_case(db, stored)
    except ValuationError as exc:
        raise ApiError.of(409, "no_valuation", exc) from None
    if case is None:
        from api.reports.report import TEXTS

        raise ApiError(409, "no_run", TEXTS("no_run", contract=stored.id))
    return BusinessCaseOut(**case.as_dict())


@router.get(CONTRACT + "/board-summary", response_model=BoardSummary, summary="Board summary",
            responses=ERRORS | NOT_YET | {200: {"content": {"application/json": {}, "application/pdf": {}},
                                               "description": "The summary as JSON, or (format=pdf) its one-page PDF"}},
            operation_id="board_summary")
def board_summary(request: Request, format: str = Query("json", pattern="^(json|pdf)$"),
                  lang: str | None = Query(None, pattern="^(sv|en)$"),
                  ctx: tuple = Depends(access("schedule.read")),
                  db: Engine = Depends(store)) -> Response | BoardSummary:
    """The board summary (nämndrapport): outcomes against targets, money per payer and year with the forecast's
    P10–P90, the net position and its band, amendments and open risks; as JSON, or the one-page PDF."""
    from api.reports.board import board_json, build_board, pdf_bytes
    from api.reports.report import ReportError

    _, stored = ctx
    try:
        doc = build_board(db, stored.id, lang or request_words(request).lang)
    except ReportError as exc:
        raise ApiError.of(409, "no_run", exc) from None
    if format == "pdf":
        return Response(pdf_bytes(doc), media_type="application/pdf",
                        headers={"Content-Disposition": f'attachment; filename="{stored.id}-board.pdf"'})
    return BoardSummary(**board_json(doc))

