"""Web pages served by `sib serve`: rendered on the server, readable without JavaScript, nothing from the network.

Three audiences, each with its own pages:

- investors: the dashboard (each metric against its target with its trend, payments received and
  forecast, returns);
- municipal finance (payers): the repayment schedule per period and payer with approve and reject
  forms, and CSV/Excel downloads;
- intermediaries: every page, plus their work page (batches and refused deliveries, evaluation runs,
  the ledger, market prices).

| module | holds |
|---|---|
| ``session`` | login and logout, the session cookie, CSRF tokens, which role sees which page |
| ``overview`` | the first page after login: the portfolio per role |
| ``pages`` | the pages people read, and the downloads |
| ``forms`` | what payers do: approve and reject |
| ``actions`` | what the intermediary does: upload, verify, and jobs (evaluate, pay, report) with their pages |
| ``render`` | templates, the security headers, error pages |
| ``templates/`` | the Jinja2 templates |
"""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response


def install(app: FastAPI) -> None:
    """Add the pages to ``app``, with their HTML error pages and the redirect to the login page."""
    from api.web import actions, forms, overview, pages, session
    from api.web.render import PageError, error_page

    for module in (session, overview, pages, forms, actions):
        app.include_router(module.router)

    @app.exception_handler(PageError)
    async def page_error(_: Request, exc: PageError) -> Response:
        return error_page(exc.status, exc.message, exc.lang)

    @app.exception_handler(session.LoginNeeded)
    async def login_needed(_: Request, exc: session.LoginNeeded) -> Response:
        return RedirectResponse("/login?" + urlencode({"next": exc.next_path}), status_code=303)
