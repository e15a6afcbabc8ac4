"""`sib serve`: the web pages and the HTTP API."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import typer

from api.cli.common import app, err, w


@app.command()
def serve(host: str = typer.Option("127.0.0.1", help="Address to listen on."),
          port: int = typer.Option(8000, help="Port to listen on."),
          worker: bool = typer.Option(True, "--worker/--no-worker",
                                      help="Also start one 'sib worker' process for the jobs asked for on the pages "
                                           "(--no-worker when workers run on their own).")) -> None:
    """Serve the web pages (log in at /login) and the HTTP API (OpenAPI at /openapi.json, docs at /docs)."""
    import subprocess
    import sys

    import uvicorn

    from api.http import create_app
    from api.http.logs import log_config
    from store.db import open_store

    open_store().dispose()  # refuse to start on a missing or outdated store
    site = f"http://{host}:{port}"
    err.print(w()._("Pages: {site}/login (log in with a token from 'sib users add'); API: {site}/docs", site=site))
    jobs = subprocess.Popen([sys.executable, "-c", "from api.cli import run; run()", "worker"]) if worker else None
    try:
        uvicorn.run(create_app(), host=host, port=port, log_level="info", http=header_timeout_protocol(),
                    log_config=log_config(), **SERVER_LIMITS)  # log lines masked and one line each
    finally:
        if jobs is not None:  # a job it was doing is taken again by the next worker when its lease runs out
            jobs.terminate()
            jobs.wait(30)


# What a slow or greedy client may hold (docs/api.md, "Timeouts and limits"): an idle keep-alive connection is closed
# after 5 s; a request's line and headers must arrive whole within HEADER_TIMEOUT s of the connection opening (or of
# the previous response), else the connection is closed; they may not exceed 64 KiB; at most 200 connections at
# once (more are answered 503); a graceful shutdown waits 30 s at most.
HEADER_TIMEOUT = 10.0
SERVER_LIMITS: dict = {"timeout_keep_alive": 5, "h11_max_incomplete_event_size": 64 * 1024, "limit_concurrency": 200,
                       "timeout_graceful_shutdown": 30}


@lru_cache(maxsize=1)
def header_timeout_protocol() -> type:
    """The protocol class for ``uvicorn.run(http=...)`` (built on first use: the CLI's other commands never
    import uvicorn)."""
    import h11
    from uvicorn.protocols.http.h11_impl import H11Protocol

    class HeaderTimeout(H11Protocol):
        """uvicorn's h11 protocol with the header-read timeout uvicorn lacks (it times out only idle keep-alive
        connections, and any byte received, one a minute, resets that): a request's line and headers must be
        complete within HEADER_TIMEOUT seconds, or the connection is closed.  The body is not timed here."""

        header_timer: Any = None

        def connection_made(self, transport: Any) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._arm()

        def _arm(self) -> None:
            self._disarm()
            self.header_timer = self.loop.call_later(HEADER_TIMEOUT, self._headers_too_slow)

        def _disarm(self) -> None:
            if self.header_timer is not None:
                self.header_timer.cancel()
                self.header_timer = None

        def _headers_too_slow(self) -> None:
            self.header_timer = None
            if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
                self.transport.close()  # no request has begun: nothing to answer

        def data_received(self, data: bytes) -> None:
            super().data_received(data)
            if self.conn.their_state is not h11.IDLE:  # the headers are in: the request runs untimed
                self._disarm()

        def on_response_complete(self) -> None:
            super().on_response_complete()
            if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
                self._arm()  # the next request on this connection gets the same time for its headers

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

    return HeaderTimeout
