"""The application factory: the API under /api/v1, the web pages, one error shape, a body limit.

Investors and payers get aggregates only, with small cells suppressed (``api.privacy``).  Every write,
and every read of participant-level data, leaves an audit event.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI
from fastapi_offline import FastAPIOffline
from sqlalchemy.engine import Engine

from api.http.errors import BodyLimit, install_handlers
from api.http.routers import batches, business, contracts, evaluations, followup, payments, providers, status
from api.web import install as install_pages
from store.version import code_version

MAX_BODY = int(os.environ.get("SIB_MAX_UPLOAD_BYTES", str(200 << 20)))  # uploads; JSON bodies are far smaller


def create_app(engine: Engine | None = None, max_body: int = MAX_BODY) -> FastAPI:
    """The whole server on ``engine`` (default: the store DATABASE_URL names, opened on the first request)."""
    # Swagger UI and ReDoc from assets the app serves itself (fastapi-offline ships them): /docs and /redoc work
    # without the internet, and no page of ours loads a script from elsewhere.
    app = FastAPIOffline(title="sib engine", version=code_version(), static_url="/docs-assets", lifespan=_lifespan,
                         description="Social outcomes contracts: contracts, outcomes, evaluations and payments. "
                                     "Authenticate with `Authorization: Bearer <token>` (`sib users add`).")
    app.state.engine, app.state.reader = engine, None
    install_handlers(app)
    app.add_middleware(BodyLimit, limit=max_body)
    from api.web.session import SameOrigin  # (api.web.session imports api.http: here, not at the top)

    app.add_middleware(SameOrigin)  # outermost: a cross-site request is refused before its body is read
    v1 = APIRouter(prefix="/api/v1")
    # In order of how often each is asked for: FastAPI matches a path against every route before the one that
    # answers it, twice per router level, so the health check comes first and the investors' status right after.
    for module in (contracts, status, batches, evaluations, payments, followup, business, providers):
        v1.include_router(module.router)
    app.include_router(v1)
    install_pages(app)
    _with_examples(app)
    return app


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    """At shutdown, the asyncio connections the API's one query per request used on PostgreSQL (``store.pg_async``)
    are closed with the server's event loop, not left to the process's end."""
    yield
    from store.pg_async import close_connections

    await close_connections()


def _with_examples(app: FastAPI) -> None:
    """The OpenAPI document, built once, with the recorded example of every request and response body
    (``api.http.examples``)."""
    from api.http import examples

    build = app.openapi

    def openapi() -> dict:
        if app.openapi_schema is None:
            app.openapi_schema = examples.attach(build(), examples.load())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
