"""Web pages served by `sib serve`: rendered on the server, readable without JavaScript, nothing from the network.

Three audiences, each with its own pages:

- investors: the dashboard (each metric against its target with its trend, payments received and
  forecast, returns), built from the same status the API serves, so page and API cannot disagree;
- municipal finance (payers): the repayment schedule per period and payer with approve and reject
  forms, and CSV/Excel downloads;
- intermediaries: every page, plus their work page (batches and refused deliveries, evaluation runs,
  the ledger).

A user logs in with the API token (`sib users add`).  The token travels in an HttpOnly, SameSite=Strict
cookie, never in a URL; every form carries a CSRF token derived from it.  Investors and payers see only
suppressed aggregates (api.privacy), exactly as in the API.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any, Callable
from urllib.parse import quote, urlencode

import jinja2
import sqlalchemy as sa
from fastapi import APIRouter, Depends, FastAPI, Form, Path as PathParam, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.engine import Engine

from api import charts, i18n
from api.auth import Principal, authenticate
from api.exports import schedule_file, schedule_rows
from api.privacy import suppress_basis
from api.report import TEMPLATES, environment
from contracts.registry import UnknownContract, get_contract, list_contracts
from payments.money import ZERO
from store.tables import AuditEventRow

COOKIE = "sib_session"
# Which pages each role has; a role without a page here sees none (it uses the API).
PAGES: dict[str, tuple[str, ...]] = {
    "investor": ("dashboard",),
    "payer": ("schedule",),
    "intermediary": ("dashboard", "schedule", "work"),
    "provider": (),
}
AMOUNT_COLUMNS = ("committed", "approved", "invoiced", "paid", "rejected", "forecast_p10", "forecast_p50", "forecast_p90")
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; img-src data:; form-action 'self'; "
                               "frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


class PageError(Exception):
    """A page that cannot be shown: rendered as an HTML page with the status, never a traceback."""

    def __init__(self, status: int, message: str, lang: str = "en"):
        super().__init__(message)
        self.status, self.message, self.lang = status, message, lang


class LoginNeeded(Exception):
    def __init__(self, next_path: str):
        self.next_path = next_path


def csrf_token(token: str) -> str:
    """A per-user form token: whoever can read it could already read the session cookie."""
    return hmac.new(token.encode("utf-8"), b"sib-csrf", hashlib.sha256).hexdigest()[:32]


def _lang(value: str | None, fallback: str) -> str:
    return value if value in i18n.LANGUAGES else fallback


_ENVIRONMENTS: dict[tuple[str, str], jinja2.Environment] = {}


def render(name: str, lang: str, currency: str = "SEK", status: int = 200, **values: Any) -> HTMLResponse:
    """A page from templates/pages in ``lang``, with the security headers every page carries."""
    env = _ENVIRONMENTS.get((lang, currency))
    if env is None:
        env = _ENVIRONMENTS[(lang, currency)] = environment(lang, currency)
        env.loader = jinja2.FileSystemLoader([TEMPLATES / "pages", TEMPLATES])
    values.setdefault("who", None)
    values.setdefault("page", None)
    values.setdefault("path", "/")
    values["lang"] = lang
    html = env.get_template(name).render(**values)
    return HTMLResponse(html, status_code=status, headers=SECURITY_HEADERS)


def error_page(status: int, message: str, lang: str = "en") -> HTMLResponse:
    return render("error.html.j2", lang, status=status, code=status, message=message)


def install(app: FastAPI, store: Callable[..., Any], reader: Callable[..., Any]) -> None:
    """Add the pages to ``app``; ``store`` and ``reader`` are the API's engine dependencies."""

    async def session(request: Request, db: Engine = Depends(reader)) -> tuple[Principal, str]:
        token = request.cookies.get(COOKIE)
        with db.connect() as conn:
            who = authenticate(conn, token)
        if who is None or token is None:
            raise LoginNeeded(request.url.path)
        return who, token

    def page_access(page: str) -> Callable[..., Any]:
        async def check(request: Request, contract_id: str = PathParam(..., max_length=64),
                        lang: str | None = Query(None, max_length=2),
                        user: tuple[Principal, str] = Depends(session),
                        db: Engine = Depends(reader)) -> dict[str, Any]:
            who, token = user
            fallback = _lang(lang, "en")
            if not who.sees(contract_id):
                raise PageError(404, i18n.t("pg_no_contract", fallback, contract=contract_id), fallback)
            try:
                stored = get_contract(db, contract_id)
            except UnknownContract:
                raise PageError(404, i18n.t("pg_no_contract", fallback, contract=contract_id), fallback) from None
            language = _lang(lang, i18n.default_language(stored.currency))
            if page not in PAGES[who.role]:
                raise PageError(403, i18n.t("pg_forbidden", language, role=i18n.label(who.role, language)), language)
            return {"who": who, "token": token, "stored": stored, "lang": language, "page": page,
                    "pages": PAGES[who.role], "csrf": csrf_token(token), "contract": stored.latest.terms}
        return check

    router = APIRouter(include_in_schema=False)

    @router.get("/")
    def home(request: Request) -> Response:
        return RedirectResponse("/contracts" if request.cookies.get(COOKIE) else "/login", status_code=303)

    @router.get("/login")
    def login_form(lang: str | None = Query(None, max_length=2), next: str = Query("/contracts", max_length=300)
                   ) -> Response:
        return render("login.html.j2", _lang(lang, "sv"), next=_safe_next(next), error=None)

    @router.post("/login")
    def login(token: str = Form("", max_length=300), next: str = Form("/contracts", max_length=300),
              lang: str = Form("sv", max_length=2), db: Engine = Depends(reader)) -> Response:
        language = _lang(lang, "sv")
        with db.connect() as conn:
            who = authenticate(conn, token.strip())
        if who is None:
            return render("login.html.j2", language, status=401, next=_safe_next(next),
                          error=i18n.t("pg_bad_token", language))
        response = RedirectResponse(_safe_next(next), status_code=303)
        response.set_cookie(COOKIE, token.strip(), httponly=True, samesite="strict", path="/",
                            secure=False, max_age=8 * 3600)  # served over TLS in production by the proxy in front
        return response

    @router.post("/logout")
    def logout() -> Response:
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(COOKIE, path="/")
        return response

    @router.get("/contracts")
    def contracts(lang: str | None = Query(None, max_length=2), user: tuple[Principal, str] = Depends(session),
                  db: Engine = Depends(reader)) -> Response:
        who, token = user
        language = _lang(lang, "sv")
        visible = [c for c in list_contracts(db) if who.sees(c["id"])]
        return render("contracts.html.j2", language, who=who, contracts=visible, pages=PAGES[who.role],
                      csrf=csrf_token(token), page="contracts", path="/contracts")

    @router.get("/contracts/{contract_id}")
    def contract_home(ctx_user: tuple[Principal, str] = Depends(session),
                      contract_id: str = PathParam(..., max_length=64)) -> Response:
        pages = PAGES[ctx_user[0].role]
        if not pages:
            raise PageError(403, i18n.t("pg_forbidden", "en", role=ctx_user[0].role))
        return RedirectResponse(f"/contracts/{quote(contract_id)}/{pages[0]}", status_code=303)

    @router.get("/contracts/{contract_id}/dashboard")
    def dashboard(ctx: dict[str, Any] = Depends(page_access("dashboard")), db: Engine = Depends(reader)) -> Response:
        from api.status import investor_status, remembered, state_key

        stored, lang = ctx["stored"], ctx["lang"]
        status = investor_status(db, stored)
        # Drawing is the slow part of the page: the pictures are kept per state of the store and language.
        pictures = remembered(state_key(db, stored) + ("sparklines", lang),
                              lambda: {m["metric"]: _sparkline(m, lang) for m in status["metrics"]})
        for m in status["metrics"]:
            m["sparkline"] = pictures.get(m["metric"])
        return render("dashboard.html.j2", currency=ctx["stored"].currency, data=status, **ctx,
                      path=f"/contracts/{ctx['stored'].id}/dashboard")

    @router.get("/contracts/{contract_id}/schedule")
    def schedule(ctx: dict[str, Any] = Depends(page_access("schedule")), db: Engine = Depends(store),
                 done: str | None = Query(None, pattern="^(approved|rejected)$"),
                 entry: int | None = Query(None, ge=1, le=2**31 - 1)) -> Response:
        return _schedule_page(ctx, db, notice=(done, entry) if done and entry else None)

    def _schedule_page(ctx: dict[str, Any], db: Engine, notice: tuple[str, int] | None = None,
                       error: str | None = None, status: int = 200) -> Response:
        stored, who = ctx["stored"], ctx["who"]
        rows, entries = schedule_rows(db, stored, with_forecast=True)
        from payments.ledger import read_ledger

        threshold = stored.latest.terms.suppression_threshold
        bases = {e["seq"]: (suppress_basis(e["basis"] or {}, threshold) if who.aggregate_only else e["basis"] or {})
                 for e in read_ledger(db, stored.id).to_dict(orient="records")}
        for e in entries:
            e["calculation"] = bases.get(e["entry"], {}).get("explanation") or i18n.t("pg_suppressed_basis", ctx["lang"])
        totals = {k: sum((r[k] for r in rows), ZERO) for k in ("committed", "approved", "invoiced", "paid", "rejected")}
        active = [r for r in rows if any(r[k] for k in AMOUNT_COLUMNS)]  # quiet periods stay in the downloads
        return render("schedule.html.j2", currency=stored.currency, status=status, rows=active, entries=entries,
                      quiet=len(rows) - len(active),
                      totals=totals, may_approve=who.may("ledger.approve"), notice=notice, error=error, **ctx,
                      path=f"/contracts/{stored.id}/schedule")

    def _step(status: str) -> Callable[..., Response]:
        def handler(seq: int = PathParam(..., ge=1, le=2**31 - 1), csrf: str = Form("", max_length=64),
                    reason: str = Form("", max_length=500), ctx: dict[str, Any] = Depends(page_access("schedule")),
                    db: Engine = Depends(store)) -> Response:
            from payments.ledger import StepRefused, take_step

            lang = ctx["lang"]
            if not hmac.compare_digest(csrf, ctx["csrf"]):
                raise PageError(403, i18n.t("pg_csrf", lang), lang)
            if not ctx["who"].may("ledger.approve"):
                raise PageError(403, i18n.t("pg_forbidden", lang, role=i18n.label(ctx["who"].role, lang)), lang)
            if status == "rejected" and not reason.strip():
                return _schedule_page(ctx, db, error=i18n.t("pg_reason_needed", lang, entry=seq), status=422)
            try:
                take_step(db, ctx["stored"].id, [seq], status, ctx["who"].actor, reason.strip() or None)
            except StepRefused as exc:
                return _schedule_page(ctx, db, error=str(exc), status=409)
            query = urlencode({"done": status, "entry": seq, "lang": lang})
            return RedirectResponse(f"/contracts/{ctx['stored'].id}/schedule?{query}#entry-{seq}", status_code=303)
        return handler

    router.post("/contracts/{contract_id}/ledger/{seq}/approve")(_step("approved"))
    router.post("/contracts/{contract_id}/ledger/{seq}/reject")(_step("rejected"))

    def _download(kind: str) -> Callable[..., Response]:
        def handler(ctx: dict[str, Any] = Depends(page_access("schedule")), db: Engine = Depends(store)) -> Response:
            data, media, name = schedule_file(db, ctx["stored"], kind)
            return Response(data, media_type=media, headers={"Content-Disposition": f'attachment; filename="{name}"',
                                                             **SECURITY_HEADERS})
        return handler

    router.get("/contracts/{contract_id}/schedule.csv")(_download("csv"))
    router.get("/contracts/{contract_id}/schedule.xlsx")(_download("xlsx"))

    @router.get("/contracts/{contract_id}/work")
    def work(ctx: dict[str, Any] = Depends(page_access("work")), db: Engine = Depends(store)) -> Response:
        from outcomes.batches import list_batches
        from payments.ledger import current_status, read_ledger, verify_chain
        from store.tables import EvaluationRunRow

        stored = ctx["stored"]
        with db.connect() as conn:
            refused = conn.execute(sa.select(AuditEventRow).where(
                AuditEventRow.contract_id == stored.id, AuditEventRow.action == "ingest.refused")
                .order_by(AuditEventRow.id.desc())).all()
            runs = conn.execute(sa.select(EvaluationRunRow.id, EvaluationRunRow.as_of, EvaluationRunRow.contract_version,
                                          EvaluationRunRow.include_unverified, EvaluationRunRow.inputs_fingerprint,
                                          EvaluationRunRow.code_version, EvaluationRunRow.created_at,
                                          EvaluationRunRow.created_by)
                                .where(EvaluationRunRow.contract_id == stored.id)
                                .order_by(EvaluationRunRow.id.desc())).all()
        statuses = current_status(db, stored.id)
        ledger = [dict(e, status=statuses.get(e["seq"], "calculated"))
                  for e in read_ledger(db, stored.id).to_dict(orient="records")]
        from indigo.compare import compare, comparison_json
        from indigo.importer import load_reference

        contract = stored.latest.terms
        market = comparison_json(contract, compare(contract, load_reference(db), 5))
        return render("work.html.j2", currency=stored.currency, batches=list_batches(db, stored.id),
                      refused=refused, runs=runs, ledger=ledger, chain=verify_chain(db, stored.id), market=market, **ctx,
                      path=f"/contracts/{stored.id}/work")

    app.include_router(router)

    @app.exception_handler(PageError)
    async def page_error(_: Request, exc: PageError) -> Response:
        return error_page(exc.status, exc.message, exc.lang)

    @app.exception_handler(LoginNeeded)
    async def login_needed(_: Request, exc: LoginNeeded) -> Response:
        return RedirectResponse("/login?" + urlencode({"next": exc.next_path}), status_code=303)


def _sparkline(metric: dict[str, Any], lang: str) -> str | None:
    points = [(p["as_of"], p["value"]) for p in metric["trend"]]
    if len(points) < 2:
        return None
    label = i18n.t("pg_trend_label", lang, metric=metric["name"], n=len(points),
                   first=i18n.number(points[0][1], lang, None), last=i18n.number(points[-1][1], lang, None))
    return charts.sparkline(points, None if metric["target"] is None else float(metric["target"]), label)


def _safe_next(path: str) -> str:
    """Only a path on this site (never //host or a scheme): a login must not bounce anyone elsewhere."""
    return path if path.startswith("/") and not path.startswith("//") and "\\" not in path else "/contracts"
