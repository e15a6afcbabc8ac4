"""One error shape for the API, ``{"error": {"status", "code", "message", "details"}}``, and HTML error
pages for the web pages; the request body limit.

The message is written in the language the request's ``Accept-Language`` prefers (Swedish or English;
English by default); ``code`` never changes with the language.  A page's error is in its ``?lang``.
"""

from __future__ import annotations

from typing import Any, Callable

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.web.render import error_page
from language import N_, Message, MessageError, Texts
from language.masking import mask_text, mask_value
from language.words import Words, choose, from_accept_language, words
from store.db import StoreError

TEXTS = Texts("api", {
    "unauthenticated": N_("a valid API token is needed: Authorization: Bearer <token>"),
    "no_contract": N_("no contract '{contract}'"),
    "forbidden": N_("a {role:label.role} may not do this ({action})"),
    "no_batch": N_("no batch {batch} in contract '{contract}'"),
    "no_key": N_("the server has no pseudonymisation key; run 'sib keys init' where the server runs"),
    "implausible_date": N_("as_of {as_of} is not a plausible date"),
    "no_run": N_("no evaluation run for '{contract}'"),
    "no_such_run": N_("no evaluation run {run} in contract '{contract}'"),
    "too_large": N_("the request body is over {limit} bytes"),
    "invalid": N_("{where}: {message}"),
    "cross_origin": N_("the request came from another site's page (its Origin or Referer), so it was refused"),
    "not_found": N_("Not Found"),
    "method_not_allowed": N_("Method Not Allowed"),
})
HTTP_TEXTS = {404: "not_found", 405: "method_not_allowed"}


class ApiError(Exception):
    """An answer other than success: the status, a stable code, a message a person can act on (a ``Message``,
    said in the request's language), and details (or a function of the request's ``Words`` giving them)."""

    def __init__(self, status: int, code: str, message: Message, details: Any = None):
        super().__init__(message.code)
        self.status, self.code, self.message, self.details = status, code, message, details

    @classmethod
    def of(cls, status: int, code: str, exc: MessageError, details: Any = None) -> "ApiError":
        return cls(status, code, exc.message, details)


def request_words(request: Request) -> Words:
    """The language a request prefers: Accept-Language for the API (default English)."""
    return words(from_accept_language(request.headers.get("accept-language")))


def _answer(request: Request, status: int, code: str, message: Message, details: Any = None) -> JSONResponse:
    said = request_words(request)
    if callable(details):
        details = details(said)
    details = mask_value(details)  # a delivered file's cells, headers and names, masked like every message
    return JSONResponse({"error": {"status": status, "code": code, "message": said.message(message),
                                   "details": details}},
                        status_code=status, headers={"Content-Language": said.lang})


def is_api(request: Request) -> bool:
    """JSON errors for the API and its documentation; HTML error pages for the web pages."""
    path = request.url.path
    return path.startswith("/api/") or path in ("/openapi.json", "/docs", "/redoc")


def _page_words(request: Request) -> Words:
    return words(choose(request.query_params.get("lang"), "en"))


def install_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError) -> JSONResponse:
        return _answer(request, exc.status, exc.code, exc.message, exc.details)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> Response:
        details = [{"where": ".".join(str(p) for p in e.get("loc", ())), "message": e.get("msg", "")}
                   for e in exc.errors()]
        first = details[0] if details else {"where": "", "message": "invalid request"}
        message = TEXTS("invalid", where=first["where"], message=first["message"])
        if not is_api(request):
            said = _page_words(request)
            return error_page(422, said.message(message), said.lang)
        return _answer(request, 422, "invalid", message, details)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        codes = {404: "not_found", 405: "method_not_allowed", 413: "too_large"}
        known = HTTP_TEXTS.get(exc.status_code)
        message = TEXTS(known) if known and exc.detail in ("Not Found", "Method Not Allowed") else None
        headers = _allow(request) if exc.status_code == 405 else {}
        if not is_api(request):
            said = _page_words(request)
            page = error_page(exc.status_code, said.message(message) if message else str(exc.detail), said.lang)
            page.headers.update(headers)
            return page
        if message is None:
            said = request_words(request)
            return JSONResponse({"error": {"status": exc.status_code, "code": codes.get(exc.status_code, "error"),
                                           "message": mask_text(str(exc.detail)), "details": None}},
                                status_code=exc.status_code, headers={"Content-Language": said.lang, **headers})
        answer = _answer(request, exc.status_code, codes.get(exc.status_code, "error"), message)
        answer.headers.update(headers)
        return answer

    @app.exception_handler(StoreError)
    async def store_error(request: Request, exc: StoreError) -> JSONResponse:
        return _answer(request, 503, "store_unavailable", exc.message)

    from contracts.evaluation_only import NoPayments

    @app.exception_handler(NoPayments)
    async def evaluation_only(request: Request, exc: NoPayments) -> JSONResponse:  # no payments section
        return _answer(request, 409, "evaluation_only", exc.message)


def _allow(request: Request) -> dict[str, str]:
    """405's ``Allow``: every method of every route at this path (Starlette names only the first route's)."""
    from starlette.routing import Match

    methods = [m for m in ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")
               if any(route.matches({**request.scope, "method": m})[0] is Match.FULL
                      for route in request.app.router.routes)]
    return {"Allow": ", ".join(methods)} if methods else {}


class BodyLimit:
    """Refuse request bodies over ``limit`` bytes with 413, whether or not they declare their length."""

    def __init__(self, app: Any, limit: int):
        self.app, self.limit = app, limit

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            said = words(from_accept_language(headers.get(b"accept-language", b"").decode("latin-1")))
            message = said.message(TEXTS("too_large", limit=self.limit))
            await JSONResponse({"error": {"status": 413, "code": "too_large", "message": message, "details": None}},
                               status_code=413, headers={"Content-Language": said.lang})(scope, receive, send)
            return
        seen = 0

        async def counting() -> dict:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.limit:
                raise StarletteHTTPException(413, words("en").message(TEXTS("too_large", limit=self.limit)))
            return message

        await self.app(scope, counting, send)
