"""`sib serve`: the web pages and the HTTP API."""

from __future__ import annotations

import typer

from api.cli.common import app, err, w
from api.limits import HEADER_TIMEOUT, SERVER_LIMITS  # noqa: F401  (HEADER_TIMEOUT: for the tests)


@app.command()
def serve(host: str = typer.Option("127.0.0.1", help="Address to listen on."),
          port: int = typer.Option(8000, help="Port to listen on."),
          worker: bool = typer.Option(True, "--worker/--no-worker",
                                      help="Also start one 'sib worker' process for the jobs asked for on the pages "
                                           "(--no-worker when workers run on their own)."),
          workers: int = typer.Option(1, "--workers", min=1, max=64,
                                      help="Server processes answering requests (each reads the same store; what "
                                           "they keep is keyed by the store's state, so every one answers alike).")
          ) -> None:
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
        if workers == 1:
            uvicorn.run(create_app(), host=host, port=port, log_level="info", http=header_timeout_protocol(),
                        log_config=log_config(), **SERVER_LIMITS)  # log lines masked and one line each
        else:  # each process builds the app by name (uvicorn starts them afresh)
            uvicorn.run("api.http:create_app", factory=True, workers=workers, host=host, port=port,
                        log_level="info", http="api.http.protocol:HeaderTimeout", log_config=log_config(),
                        **SERVER_LIMITS)
    finally:
        if jobs is not None:  # a job it was doing is taken again by the next worker when its lease runs out
            jobs.terminate()
            jobs.wait(30)


def header_timeout_protocol() -> type:
    """The protocol class for ``uvicorn.run(http=...)`` (``api.http.protocol``; imported when serving, so the CLI's
    other commands never import uvicorn)."""
    from api.http.protocol import HeaderTimeout

    return HeaderTimeout
