"""The first page after login: the portfolio overview for the user's role (``api.portfolio``)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response
from sqlalchemy.engine import Engine

from api.access import Principal
from api.http.auth import reader
from api.web.render import render
from api.web.session import PAGES, csrf_token, session
from language.words import choose

router = APIRouter(include_in_schema=False)


@router.get("/portfolio")
def overview(lang: str | None = Query(None, max_length=2), user: tuple[Principal, str] = Depends(session),
             db: Engine = Depends(reader)) -> Response:
    from api.portfolio import portfolio

    who, token = user
    chosen = choose(lang, "sv")
    return render("portfolio.html.j2", chosen, who=who, data=portfolio(db, who, chosen), pages=PAGES[who.role],
                  csrf=csrf_token(token), page="portfolio", path="/portfolio")
