"""What a user does on a page: approve or reject a ledger entry (payers), each form checked for its CSRF token."""

from __future__ import annotations

from typing import Any, Callable
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form
from fastapi import Path as PathParam
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.engine import Engine

from api.http.auth import store
from api.web.pages import schedule_page
from api.web.session import check_form, page_access
from language.names import Names
from language.words import words

router = APIRouter(include_in_schema=False)


def _step(status: str) -> Callable[..., Response]:
    def handler(seq: int = PathParam(..., ge=1, le=2**31 - 1), csrf: str = Form("", max_length=64),
                reason: str = Form("", max_length=500), acknowledge: list[str] = Form([], max_length=10),
                ctx: dict[str, Any] = Depends(page_access("schedule")), db: Engine = Depends(store)) -> Response:
        from payments.ledger import StepRefused, take_step

        lang = ctx["lang"]
        w = words(lang)
        check_form(ctx, csrf, "ledger.approve")
        if status == "rejected" and not reason.strip():
            return schedule_page(ctx, db, error=w._("Entry {entry} was not rejected: give the reason.", entry=seq),
                                 status=422)
        try:
            taken = take_step(db, ctx["stored"].id, [seq], status, ctx["who"].signer, reason.strip() or None,
                              acknowledged=acknowledge)
        except StepRefused as exc:
            return schedule_page(ctx, db, error=Names(ctx["stored"].latest.terms, w).message(exc.message), status=409)
        query = urlencode({"done": taken[0]["status"], "entry": seq, "lang": lang})  # attested, when two must approve
        return RedirectResponse(f"/contracts/{ctx['stored'].id}/schedule?{query}#entry-{seq}", status_code=303)
    return handler


router.post("/contracts/{contract_id}/ledger/{seq}/approve")(_step("approved"))
router.post("/contracts/{contract_id}/ledger/{seq}/reject")(_step("rejected"))
