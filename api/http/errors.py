"""One error shape for the API, ``{"error": {"status", "code", "message", "details"}}``, and HTML error
pages for the web pages; the request body limit."""

from __future__ import annotations

from typing import Any, Callable

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.web.render import error_page
from store.db import StoreError


class ApiError(Exception):
    """An answer other than success: the status, a stable code, a message a person can act on."""

    def __init__(self, status: int, code: str, message: str, details: Any = None):
        super().__init__(message)
        self.status, self.code, self.message, self.details = status, code, message, details


def error_response(status: int, code: str, message: str, details: Any = None) -> JSONResponse:
    return JSONResponse({"error": {"status": status, "code": code, "message": message, "details": details}},
                        status_code=status)


def is_api(request: Request) -> bool:
    """JSON errors for the API and its documentation; HTML error pages for the web pages."""
    path = request.url.path
    return path.startswith("/api/") or path in ("/openapi.json", "/docs", "/redoc")


def install_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def api_error(_: Request, exc: ApiError) -> JSONResponse:
        return error_response(exc.status, exc.code, exc.message, exc.details)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> Response:
        details = [{"where": ".".join(str(p) for p in e.get("loc", ())), "message": e.get("msg", "")}
                   for e in exc.errors()]
        first = details[0] if details else {"where": "", "message": "invalid request"}
        if not is_api(request):
            return error_page(422, f"{first['where']}: {first['message']}")
        return error_response(422, "invalid", f"{first['where']}: {first['message']}", details)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        codes = {404: "not_found", 405: "method_not_allowed", 413: "too_large"}
        if not is_api(request):
            return error_page(exc.status_code, str(exc.detail))
        return error_response(exc.status_code, codes.get(exc.status_code, "error"), str(exc.detail))

    @app.exception_handler(StoreError)
    async def store_error(_: Request, exc: StoreError) -> JSONResponse:
        return error_response(503, "store_unavailable", str(exc))


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
            await error_response(413, "too_large", f"the request body is over {self.limit:,} bytes")(scope, receive, send)
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
