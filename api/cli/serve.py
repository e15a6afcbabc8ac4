"""`sib serve`: the web pages and the HTTP API."""

from __future__ import annotations

import typer

from api.cli.common import app, err, w


@app.command()
def serve(host: str = typer.Option("127.0.0.1", help="Address to listen on."),
          port: int = typer.Option(8000, help="Port to listen on.")) -> None:
    """Serve the web pages (log in at /login) and the HTTP API (OpenAPI at /openapi.json, docs at /docs)."""
    import uvicorn

    from api.http import create_app
    from store.db import open_store

    open_store().dispose()  # refuse to start on a missing or outdated store
    site = f"http://{host}:{port}"
    err.print(w()._("Pages: {site}/login (log in with a token from 'sib users add'); API: {site}/docs", site=site))
    uvicorn.run(create_app(), host=host, port=port, log_level="info")
