"""Logging in and who is looking: the session cookie, the CSRF token, and the check every page starts with.

A user logs in with the API token (`sib users add`).  The token travels in an HttpOnly, SameSite=Strict
cookie, never in a URL; every form carries a CSRF token derived from it.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any, Callable

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.engine import Engine

from api.access import Principal, authenticate
from api.http.auth import reader
from api.web.render import PageError, render
from contracts.registry import UnknownContract, get_contract
from language.words import choose, default_language, words

COOKIE = "sib_session"
# Which pages each role has; a role without a page here sees none (it uses the API).
PAGES: dict[str, tuple[str, ...]] = {
    "investor": ("dashboard",),
    "payer": ("schedule",),
    "intermediary": ("dashboard", "schedule", "work"),
    "provider": (),
}


class LoginNeeded(Exception):
    def __init__(self, next_path: str):
        self.next_path = next_path


def csrf_token(token: str) -> str:
    """A per-user form token: whoever can read it could already read the session cookie."""
    return hmac.new(token.encode("utf-8"), b"sib-csrf", hashlib.sha256).hexdigest()[:32]


async def session(request: Request, db: Engine = Depends(reader)) -> tuple[Principal, str]:
    """The logged-in user and their token, or a redirect to the login page."""
    token = request.cookies.get(COOKIE)
    with db.connect() as conn:
        who = authenticate(conn, token)
    if who is None or token is None:
        raise LoginNeeded(request.url.path)
    return who, token


def page_access(page: str) -> Callable[..., Any]:
    """A dependency giving the page's context when the user may see ``page`` of the path's contract."""
    async def check(request: Request, contract_id: str = PathParam(..., max_length=64),
                    lang: str | None = Query(None, max_length=2),
                    user: tuple[Principal, str] = Depends(session),
                    db: Engine = Depends(reader)) -> dict[str, Any]:
        who, token = user
        fallback = choose(lang, "en")
        missing = words(fallback)._("There is no contract “{contract}” that you have access to.", contract=contract_id)
        if not who.sees(contract_id):
            raise PageError(404, missing, fallback)
        try:
            stored = get_contract(db, contract_id)
        except UnknownContract:
            raise PageError(404, missing, fallback) from None
        chosen = choose(lang, default_language(stored.currency))
        if page not in PAGES[who.role]:
            w = words(chosen)
            raise PageError(403, w._("The {role} role does not have this page.", role=w.label("role", who.role)),
                            chosen)
        return {"who": who, "token": token, "stored": stored, "lang": chosen, "page": page,
                "pages": PAGES[who.role], "csrf": csrf_token(token), "contract": stored.latest.terms}
    return check


router = APIRouter(include_in_schema=False)


@router.get("/login")
def login_form(lang: str | None = Query(None, max_length=2), next: str = Query("/contracts", max_length=300)
               ) -> Response:
    return render("login.html.j2", choose(lang, "sv"), next=safe_next(next), error=None)


@router.post("/login")
def login(token: str = Form("", max_length=300), next: str = Form("/contracts", max_length=300),
          lang: str = Form("sv", max_length=2), db: Engine = Depends(reader)) -> Response:
    chosen = choose(lang, "sv")
    with db.connect() as conn:
        who = authenticate(conn, token.strip())
    if who is None:
        return render("login.html.j2", chosen, status=401, next=safe_next(next),
                      error=words(chosen)._("That token is not valid: it is wrong, or revoked. Ask the "
                                            "intermediary for a new one (sib users add)."))
    response = RedirectResponse(safe_next(next), status_code=303)
    response.set_cookie(COOKIE, token.strip(), httponly=True, samesite="strict", path="/",
                        secure=False, max_age=8 * 3600)  # served over TLS in production by the proxy in front
    return response


@router.post("/logout")
def logout() -> Response:
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(COOKIE, path="/")
    return response


def safe_next(path: str) -> str:
    """Only a path on this site (never //host or a scheme): a login must not bounce anyone elsewhere."""
    return path if path.startswith("/") and not path.startswith("//") and "\\" not in path else "/contracts"
