"""Logging in and who is looking: the session, its cookie, the CSRF tokens, the same-origin check, and the check
every page starts with.

A user logs in with the API token (`sib users add`), once: the browser then holds only a random session id in an
HttpOnly, SameSite=Strict cookie (Secure over https, or with SIB_SECURE_COOKIE=1), never the token; the store keeps
only the id's SHA-256 (table ``sessions``).  A session ends after SESSION_HOURS, after IDLE_MINUTES without a
request, at logout (revoked in the store: the old cookie no longer works), or when its user is revoked.  Every form
carries a CSRF token: the login form one that is also in its own cookie (double submit), every other form one
derived from the session id.  A state-changing request whose Origin (or, without one, Referer) is another site is
refused with 403 (``SameOrigin``).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from datetime import datetime, timedelta, timezone
from typing import Any, Callable
from urllib.parse import urlsplit

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import JSONResponse, RedirectResponse, Response
from sqlalchemy.engine import Engine

from api.access import Principal, authenticate
from api.http.auth import reader
from api.web.render import PageError, error_page, render
from contracts.registry import UnknownContract, get_contract
from language.words import choose, default_language, from_accept_language, words
from store.tables import SessionRow, UserRow
from store.types import utcnow

COOKIE = "sib_session"
LOGIN_COOKIE = "sib_login"  # the login form's CSRF token (double submit), before there is a session
SESSION_HOURS = 8  # a session ends this long after login, whatever happens
IDLE_MINUTES = 30  # ... or after this long without a request
# Which pages each role has; a role without a page here sees none (it uses the API).
PAGES: dict[str, tuple[str, ...]] = {
    "investor": ("dashboard",),
    "payer": ("schedule", "board"),
    "intermediary": ("dashboard", "schedule", "work", "board"),
    "provider": ("deliveries",),
}


class LoginNeeded(Exception):
    def __init__(self, next_path: str):
        self.next_path = next_path


def csrf_token(session_id: str) -> str:
    """A per-session form token: derived from the session id, which it does not reveal."""
    return hmac.new(session_id.encode("utf-8"), b"sib-csrf", hashlib.sha256).hexdigest()[:32]


def session_digest(session_id: str) -> str:
    return hashlib.sha256(session_id.encode("utf-8")).hexdigest()


def _utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)  # SQLite gives naive UTC


def start_session(db: Engine, user_id: int) -> str:
    """A new session for the user: its id (for the cookie; the store keeps only the SHA-256)."""
    session_id = secrets.token_urlsafe(32)
    now = utcnow()
    with db.begin() as conn:
        conn.execute(sa.delete(SessionRow).where(SessionRow.expires_at < now - timedelta(days=1)))  # long over
        conn.execute(sa.insert(SessionRow), {"id_hash": session_digest(session_id), "user_id": user_id,
                                             "created_at": now, "last_seen": now,
                                             "expires_at": now + timedelta(hours=SESSION_HOURS)})
    return session_id


def session_principal(conn: sa.Connection, session_id: str | None) -> Principal | None:
    """The user of a live session (not revoked, not expired, not idle too long, its user not revoked), or None;
    a live session's last request is noted (at most once a minute)."""
    if not session_id or len(session_id) > 100:
        return None
    row = conn.execute(sa.select(SessionRow.id, SessionRow.expires_at, SessionRow.last_seen, SessionRow.revoked_at,
                                 UserRow.id.label("user_id"), UserRow.name, UserRow.role, UserRow.contracts,
                                 UserRow.all_contracts, UserRow.party, UserRow.revoked_at.label("user_revoked"))
                       .join(UserRow, UserRow.id == SessionRow.user_id)
                       .where(SessionRow.id_hash == session_digest(session_id))).first()
    now = utcnow()
    if (row is None or row.revoked_at is not None or row.user_revoked is not None or now >= _utc(row.expires_at)
            or now - _utc(row.last_seen) >= timedelta(minutes=IDLE_MINUTES)):
        return None
    if now - _utc(row.last_seen) >= timedelta(minutes=1):
        conn.execute(sa.update(SessionRow).where(SessionRow.id == row.id).values(last_seen=now))
        conn.commit()
    return Principal(row.user_id, row.name, row.role, frozenset(row.contracts or []), bool(row.all_contracts),
                     row.party)


def end_session(db: Engine, session_id: str) -> None:
    with db.begin() as conn:
        conn.execute(sa.update(SessionRow).where(SessionRow.id_hash == session_digest(session_id),
                                                 SessionRow.revoked_at.is_(None)).values(revoked_at=utcnow()))


async def session(request: Request, db: Engine = Depends(reader)) -> tuple[Principal, str]:
    """The logged-in user and their session id, or a redirect to the login page."""
    session_id = request.cookies.get(COOKIE)
    with db.connect() as conn:
        who = session_principal(conn, session_id)
    if who is None or session_id is None:
        raise LoginNeeded(request.url.path)
    return who, session_id


def _secure(request: Request) -> bool:
    """Secure cookies over https (uvicorn takes X-Forwarded-Proto from a proxy it trusts) or when configured."""
    return request.url.scheme == "https" or os.environ.get("SIB_SECURE_COOKIE") == "1"


def page_access(page: str | tuple[str, ...]) -> Callable[..., Any]:
    """A dependency giving the page's context when the user may see ``page`` (or one of several) of the path's
    contract."""
    allowed = (page,) if isinstance(page, str) else page
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
        shown = next((p for p in allowed if p in PAGES[who.role]), None)
        if shown is None:
            w = words(chosen)
            raise PageError(403, w._("The {role} role does not have this page.", role=w.label("role", who.role)),
                            chosen)
        return {"who": who, "stored": stored, "lang": chosen, "page": shown,
                "pages": PAGES[who.role], "csrf": csrf_token(token), "contract": stored.latest.terms}
    return check


def check_form(ctx: dict[str, Any], csrf: str, action: str) -> None:
    """Refuse a form without this session's CSRF token, or whose action the user's role may not take."""
    w = words(ctx["lang"])
    if not hmac.compare_digest(csrf, ctx["csrf"]):
        raise PageError(403, w._("The form has expired or came from another site; reload the page and try again."),
                        ctx["lang"])
    if not ctx["who"].may(action):
        raise PageError(403, w._("The {role} role does not have this page.", role=w.label("role", ctx["who"].role)),
                        ctx["lang"])


router = APIRouter(include_in_schema=False)


@router.get("/login")
def login_form(request: Request, lang: str | None = Query(None, max_length=2),
               next: str = Query("/portfolio", max_length=300)) -> Response:
    return _login_page(request, choose(lang, "sv"), next)


def _login_page(request: Request, lang: str, next_path: str, error: str | None = None, status: int = 200) -> Response:
    """The login form with its CSRF token, the same in the form and in its own cookie (a new one if there is none)."""
    token = request.cookies.get(LOGIN_COOKIE) or ""
    if len(token) != 43:
        token = secrets.token_urlsafe(32)
    response = render("login.html.j2", lang, status=status, next=safe_next(next_path), error=error, csrf=token)
    response.set_cookie(LOGIN_COOKIE, token, httponly=True, samesite="strict", path="/login",
                        secure=_secure(request), max_age=3600)
    return response


@router.post("/login")
def login(request: Request, token: str = Form("", max_length=300), next: str = Form("/portfolio", max_length=300),
          lang: str = Form("sv", max_length=2), csrf: str = Form("", max_length=64),
          db: Engine = Depends(reader)) -> Response:
    chosen = choose(lang, "sv")
    expected = request.cookies.get(LOGIN_COOKIE) or ""
    if not expected or not hmac.compare_digest(csrf, expected):
        return _login_page(request, chosen, next, status=403, error=words(chosen)._(
            "The form has expired or came from another site; reload the page and try again."))
    with db.connect() as conn:
        who = authenticate(conn, token.strip())
    if who is None:
        return _login_page(request, chosen, next, status=401, error=words(chosen)._(
            "That token is not valid: it is wrong, or revoked. Ask the intermediary for a new one (sib users add)."))
    response = RedirectResponse(safe_next(next), status_code=303)
    response.set_cookie(COOKIE, start_session(db, who.id), httponly=True, samesite="strict", path="/",
                        secure=_secure(request), max_age=SESSION_HOURS * 3600)
    response.delete_cookie(LOGIN_COOKIE, path="/login")
    return response


@router.post("/logout")
def logout(request: Request, csrf: str = Form("", max_length=64), db: Engine = Depends(reader)) -> Response:
    """End the session in the store (its cookie no longer works anywhere), then forget the cookie."""
    session_id = request.cookies.get(COOKIE)
    with db.connect() as conn:
        who = session_principal(conn, session_id)
    if who is not None and session_id is not None:
        if not hmac.compare_digest(csrf, csrf_token(session_id)):
            lang = choose(request.query_params.get("lang"), "en")
            raise PageError(403, words(lang)._("The form has expired or came from another site; reload the page "
                                               "and try again."), lang)
        end_session(db, session_id)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(COOKIE, path="/")
    return response


def safe_next(path: str) -> str:
    """Only a path on this site (never //host or a scheme): a login must not bounce anyone elsewhere."""
    return path if path.startswith("/") and not path.startswith("//") and "\\" not in path else "/portfolio"


STATE_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def _origin(url: str) -> str | None:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower() if parts.scheme and parts.netloc else None


def same_origin(headers: dict[str, str]) -> bool:
    """Whether a request's Origin (or, without one, its Referer) is this site: one of SIB_ORIGINS when set (e.g.
    ``https://sib.example.org``), else the request's own Host.  Neither header (a program, not a browser page) is
    let through: the CSRF tokens and SameSite cookies still stand; ``Origin: null`` is not."""
    sent = headers.get("origin") or None
    if sent is None and headers.get("referer"):
        sent = _origin(headers["referer"]) or "null"
    if sent is None:
        return True
    allowed = [o.strip().lower().rstrip("/") for o in os.environ.get("SIB_ORIGINS", "").split(",") if o.strip()]
    if allowed:
        return sent.lower().rstrip("/") in allowed
    parsed = urlsplit(sent)
    return bool(parsed.scheme in ("http", "https") and parsed.netloc
                and parsed.netloc.lower() == headers.get("host", "").lower())


class SameOrigin:
    """Refuse a state-changing request sent from another site's page: 403, a clear page (JSON for the API)."""

    def __init__(self, app: Any):
        self.app = app

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] != "http" or scope["method"] not in STATE_CHANGING:
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers") or []}
        if same_origin(headers):
            await self.app(scope, receive, send)
            return
        from api.http.errors import TEXTS as A
        from api.http.errors import is_api

        request = Request(scope)
        if is_api(request):
            said = words(from_accept_language(headers.get("accept-language")))
            response: Response = JSONResponse(
                {"error": {"status": 403, "code": "cross_origin", "message": said.message(A("cross_origin")),
                           "details": None}}, status_code=403, headers={"Content-Language": said.lang})
        else:
            lang = choose(request.query_params.get("lang"), "en")
            response = error_page(403, words(lang)._("This form was sent from another site's page, so it was "
                                                     "refused. Open the page on this site and send it from there."),
                                  lang)
        await response(scope, receive, send)
