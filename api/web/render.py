"""Rendering a page: the templates in ``api/web/templates``, the reader's language, the security headers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jinja2
from fastapi.responses import HTMLResponse

from language.jinja import environment
from language.names import Names
from language.words import words

TEMPLATES = Path(__file__).parent / "templates"
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; img-src data:; form-action 'self'; "
                               "frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",  # not "no-referrer": with it, browsers send a form's Origin as "null"
    "Cache-Control": "no-store",
}


class PageError(Exception):
    """A page that cannot be shown: rendered as an HTML page with the status, never a traceback."""

    def __init__(self, status: int, message: str, lang: str = "en"):
        super().__init__(message)
        self.status, self.message, self.lang = status, message, lang


_ENVIRONMENTS: dict[tuple[str, str], jinja2.Environment] = {}


def _environment(lang: str, currency: str) -> jinja2.Environment:
    env = _ENVIRONMENTS.get((lang, currency))
    if env is None:
        env = _ENVIRONMENTS[(lang, currency)] = environment(lang, currency, [TEMPLATES])
    return env


def fragment(name: str, lang: str, currency: str = "SEK", **values: Any) -> str:
    """A part of a page (HTML text) from the templates in ``lang``, for a page that keeps it per state."""
    values["lang"] = lang
    if values.get("contract") is not None:
        values["names"] = Names(values["contract"], words(lang, currency))
    return _environment(lang, currency).get_template(name).render(**values)


def render(name: str, lang: str, currency: str = "SEK", status: int = 200, **values: Any) -> HTMLResponse:
    """A page from the templates in ``lang``, with the security headers every page carries."""
    env = _environment(lang, currency)
    values.setdefault("who", None)
    values.setdefault("page", None)
    values.setdefault("path", "/")
    values["lang"] = lang
    w = words(lang, currency)
    values["page_names"] = {"dashboard": w._("Investor dashboard"), "schedule": w._("Repayment schedule"),
                            "work": w._("Intermediary work"), "board": w._("Board summary"),
                            "deliveries": w._("Deliveries")}
    if values.get("contract") is not None:
        values["names"] = Names(values["contract"], w)
    html = env.get_template(name).render(**values)
    return HTMLResponse(html, status_code=status, headers=SECURITY_HEADERS)


def error_page(status: int, message: str, lang: str = "en") -> HTMLResponse:
    return render("error.html.j2", lang, status=status, code=status, message=message)
