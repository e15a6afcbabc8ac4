"""The pages people read: the contract list, the investor dashboard, the municipal schedule, the
intermediary's work page, and the schedule downloads.

Investors and payers see only suppressed aggregates (``api.privacy``), exactly as in the API; the
dashboard is built from the same status the API serves, so page and API cannot disagree.
"""

from __future__ import annotations

from datetime import date
from typing import Any, Callable
from urllib.parse import quote

from fastapi import APIRouter, Depends, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import RedirectResponse, Response
from markupsafe import Markup
from sqlalchemy.engine import Engine

from api.access import Principal
from api.exports import schedule_file, schedule_rows
from api.http.auth import reader, store
from api.privacy import run_results, suppress_bases
from api.reports import charts
from api.web.render import SECURITY_HEADERS, PageError, fragment, render
from api.web.session import COOKIE, PAGES, csrf_token, page_access, session
from contracts.registry import list_contracts
from language.names import Names
from language.words import choose, words
from payments.money import ZERO
from store.db import audit_events

AMOUNT_COLUMNS = ("calculated", "approved", "invoiced", "paid", "rejected", "overdue", "forecast_p10", "forecast_p50", "forecast_p90")

router = APIRouter(include_in_schema=False)


@router.get("/")
def home(request: Request) -> Response:
    return RedirectResponse("/portfolio" if request.cookies.get(COOKIE) else "/login", status_code=303)


@router.get("/contracts")
def contracts(lang: str | None = Query(None, max_length=2), user: tuple[Principal, str] = Depends(session),
              db: Engine = Depends(reader)) -> Response:
    who, token = user
    chosen = choose(lang, "sv")
    visible = [c for c in list_contracts(db) if who.sees(c["id"])]
    return render("contracts.html.j2", chosen, who=who, contracts=visible, pages=PAGES[who.role],
                  csrf=csrf_token(token), page="contracts", path="/contracts")


@router.get("/contracts/{contract_id}")
def contract_home(ctx_user: tuple[Principal, str] = Depends(session),
                  contract_id: str = PathParam(..., max_length=64)) -> Response:
    pages = PAGES[ctx_user[0].role]
    if not pages:
        w = words("en")
        raise PageError(403, w._("The {role} role has no web pages; use the API.",
                                 role=w.label("role", ctx_user[0].role)))
    return RedirectResponse(f"/contracts/{quote(contract_id)}/{pages[0]}", status_code=303)


@router.get("/contracts/{contract_id}/dashboard")
def dashboard(ctx: dict[str, Any] = Depends(page_access("dashboard")), db: Engine = Depends(reader)) -> Response:
    from api.status import investor_status, remembered, state_key

    stored, lang = ctx["stored"], ctx["lang"]
    key = state_key(db, stored)

    def body() -> Markup:
        # What the page shows is the same for every reader of the contract: drawn (the trends) and written (every
        # figure in the reader's language) once per state of the store and language.
        status = investor_status(db, stored, lang)  # the forecast's notes in the page's language
        for m in status["metrics"]:
            m["chart"] = _run_chart(m, lang, stored.latest.terms)
        return Markup(fragment("dashboard_body.html.j2", lang, stored.currency, contract=ctx["contract"],
                               data=status))

    return render("dashboard.html.j2", currency=stored.currency, body=remembered(key + ("dashboard", lang), body),
                  **ctx, path=f"/contracts/{stored.id}/dashboard")


@router.get("/contracts/{contract_id}/schedule")
def schedule(ctx: dict[str, Any] = Depends(page_access("schedule")), db: Engine = Depends(store),
             done: str | None = Query(None, pattern="^(approved|attested|rejected)$"),
             entry: int | None = Query(None, ge=1, le=2**31 - 1)) -> Response:
    return schedule_page(ctx, db, notice=(done, entry) if done and entry else None)


def schedule_page(ctx: dict[str, Any], db: Engine, notice: tuple[str, int] | None = None,
                  error: str | None = None, status: int = 200) -> Response:
    """The schedule per period and payer, and every entry with its calculation and (for payers) the forms."""
    from payments.evidence import entries_evidence, flag_code
    from payments.ledger import read_ledger

    stored, who = ctx["stored"], ctx["who"]
    ledger = read_ledger(db, stored.id)
    rows, entries = schedule_rows(db, stored, with_forecast=True, ledger=ledger)
    threshold = stored.latest.terms.suppression_threshold
    names = Names(stored.latest.terms, words(ctx["lang"], stored.currency))
    records = ledger.to_dict(orient="records")
    evidences = entries_evidence(db, stored.latest.terms, records)
    bases = {e["seq"]: dict(e["basis"] or {}, evidence=evidences.get(e["seq"])) for e in records}
    if who.aggregate_only:  # a mechanism's cohorts hidden together, as the evaluation hides them
        bases = dict(zip(bases, suppress_bases([dict(e, basis=bases[e["seq"]]) for e in records], threshold,
                                               run_results(db))))
    for e in entries:
        basis = bases.get(e["entry"], {})
        e["calculation"] = (names.calculation(basis) if basis.get("trail") or basis.get("explanation")
                            else names.w._("basis hidden: it counts too few people"))
        proof = basis.get("evidence") or {}
        e["evidence"] = [names.evidence(r) for r in proof.get("results", []) if r.get("n") is not None]
        e["flags"] = [(flag_code(f), names.message(f)) for f in proof.get("flags", [])]
        e["mine"] = who.party is None or who.party == e["payer"]
    totals = {k: sum((r[k] for r in rows), ZERO) for k in ("calculated", "approved", "invoiced", "paid", "rejected",
                                                         "overdue")}
    active = [r for r in rows if any(r[k] for k in AMOUNT_COLUMNS)]  # quiet periods stay in the downloads
    return render("schedule.html.j2", currency=stored.currency, status=status, rows=active, entries=entries,
                  quiet=len(rows) - len(active),
                  totals=totals, may_approve=who.may("ledger.approve"), notice=notice, error=error, **ctx,
                  path=f"/contracts/{stored.id}/schedule")


def _download(kind: str) -> Callable[..., Response]:
    def handler(ctx: dict[str, Any] = Depends(page_access("schedule")), db: Engine = Depends(store)) -> Response:
        data, media, name = schedule_file(db, ctx["stored"], kind, ctx["lang"],
                                          aggregate_only=ctx["who"].aggregate_only)
        return Response(data, media_type=media, headers={"Content-Disposition": f'attachment; filename="{name}"',
                                                         **SECURITY_HEADERS})
    return handler


router.get("/contracts/{contract_id}/schedule.csv")(_download("csv"))
router.get("/contracts/{contract_id}/schedule.xlsx")(_download("xlsx"))


@router.get("/contracts/{contract_id}/work")
def work(ctx: dict[str, Any] = Depends(page_access("work")), db: Engine = Depends(store),
         done: str | None = Query(None, pattern="^(uploaded|verified|already)$"),
         batch: int | None = Query(None, ge=1, le=2**31 - 1), file: str | None = Query(None, max_length=200)) -> Response:
    return work_page(ctx, db, notice={"done": done, "batch": batch, "file": file} if done else None)


def work_page(ctx: dict[str, Any], db: Engine, notice: dict[str, Any] | None = None, error: str | None = None,
              refusal: dict[str, Any] | None = None, status: int = 200) -> Response:
    """The intermediary's work page: deliveries (upload, verify), jobs (evaluate, pay, report), runs, ledger."""
    from api.jobs.queue import list_jobs
    from api.providers import provider_view
    from evaluation.run import list_runs
    from indigo.compare import compare, comparison_json
    from indigo.importer import load_reference
    from outcomes.batches import list_batches
    from outcomes.fieldwork import status as followup_status
    from payments.ledger import current_status, read_ledger, verify_for_display

    stored = ctx["stored"]
    refused = [dict(r._mapping, reasons=error_groups(r.detail.get("errors") or []))
               for r in audit_events(db, stored.id, "ingest.refused", newest_first=True)]
    runs = list_runs(db, stored.id, newest_first=True)
    statuses = current_status(db, stored.id)
    ledger = [dict(e, status=statuses.get(e["seq"], "calculated"))
              for e in read_ledger(db, stored.id).to_dict(orient="records")]
    contract = stored.latest.terms
    market = comparison_json(contract, compare(contract, load_reference(db), 5))
    return render("work.html.j2", currency=stored.currency, status=status, batches=list_batches(db, stored.id),
                  refused=refused, runs=runs, ledger=ledger, chain=verify_for_display(db, stored.id), market=market,
                  followup=_named_units(db, followup_status(db, stored.id)), jobs=list_jobs(db, stored.id, 10),
                  providers=provider_view(db, stored),
                  kinds=UPLOAD_KINDS, today=date.today().isoformat(), notice=notice, error=error, refusal=refusal,
                  **ctx, path=f"/contracts/{stored.id}/work")


UPLOAD_KINDS = ("participants", "enrolments", "measurements", "survey", "comparison")
PROVIDER_KINDS = ("participants", "enrolments", "measurements", "survey")  # a comparison pool is not a provider's


@router.get("/contracts/{contract_id}/deliveries")
def deliveries(ctx: dict[str, Any] = Depends(page_access("deliveries")), db: Engine = Depends(store),
               done: str | None = Query(None, pattern="^(uploaded|already)$"),
               batch: int | None = Query(None, ge=1, le=2**31 - 1),
               file: str | None = Query(None, max_length=200)) -> Response:
    return deliveries_page(ctx, db, notice={"done": done, "batch": batch, "file": file} if done else None)


def deliveries_page(ctx: dict[str, Any], db: Engine, notice: dict[str, Any] | None = None, error: str | None = None,
                    refusal: dict[str, Any] | None = None, status: int = 200) -> Response:
    """A provider's page: deliver a file, its own deliveries (accepted and refused), and its own participants'
    results and the payments attributed to them."""
    from api.providers import provider_view
    from outcomes.batches import list_batches

    stored, who = ctx["stored"], ctx["who"]
    refused = [dict(r._mapping, reasons=error_groups(r.detail.get("errors") or []))
               for r in audit_events(db, stored.id, "ingest.refused", newest_first=True)
               if (r.detail or {}).get("provider") == who.party]
    return render("deliveries.html.j2", currency=stored.currency, status=status,
                  batches=list_batches(db, stored.id, who.party), refused=refused, kinds=PROVIDER_KINDS,
                  mine=provider_view(db, stored, who.party, suppress=True), notice=notice, error=error,
                  refusal=refusal, **ctx, path=f"/contracts/{stored.id}/deliveries")


def delivery_page(ctx: dict[str, Any]) -> Callable[..., Response]:
    """The page a delivery returns to: the provider's own, or the intermediary's work page."""
    return deliveries_page if ctx["page"] == "deliveries" else work_page


def error_groups(errors: list[dict[str, Any]], first: int = 3) -> list[dict[str, Any]]:
    """Stored refusal errors grouped by what is wrong (message code and column), most frequent first, with the
    first rows of each: a mistake repeated on 50 rows is one line."""
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for e in errors:
        code = (e.get("message") or {}).get("code") or str(e.get("reason"))
        groups.setdefault((code, e.get("column") or ""), []).append(e)
    ordered = sorted(groups.values(), key=lambda found: (-len(found), found[0].get("row") or 0))
    return [{"count": len(found), "column": found[0].get("column") or "", "rows": [e.get("row") for e in found[:first]],
             "message": found[0].get("message") or found[0].get("reason"), "more": len(found) > first}
            for found in ordered]


@router.get("/contracts/{contract_id}/board")
def board(ctx: dict[str, Any] = Depends(page_access("board")), db: Engine = Depends(reader)) -> Response:
    """The board summary (nämndrapport), the same document as its PDF."""
    from api.reports.board import board_body

    stored = ctx["stored"]
    body = Markup(board_body(_board(db, ctx)))
    return render("board.html.j2", currency=stored.currency, body=body, **ctx, path=f"/contracts/{stored.id}/board")


@router.get("/contracts/{contract_id}/board.pdf")
def board_pdf(ctx: dict[str, Any] = Depends(page_access("board")), db: Engine = Depends(reader)) -> Response:
    from api.reports.board import pdf_bytes

    stored = ctx["stored"]
    return Response(pdf_bytes(_board(db, ctx)), media_type="application/pdf",
                    headers={"Content-Disposition": f'attachment; filename="{stored.id}-board.pdf"',
                             **SECURITY_HEADERS})


def _board(db: Engine, ctx: dict[str, Any]) -> dict[str, Any]:
    """The board summary's figures, or the page that says why there are none yet (no evaluation run)."""
    from api.reports.board import build_board
    from api.reports.report import ReportError

    try:
        return build_board(db, ctx["stored"].id, ctx["lang"])
    except ReportError as exc:
        raise PageError(409, words(ctx["lang"]).message(exc.message), ctx["lang"]) from None


def _named_units(db: Engine, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Fieldwork rows with each unit's name from the organisation file (its id where there is none)."""
    from contracts.organisation import get_organisation

    org = get_organisation(db) if rows else None
    return [dict(r, name=org.name_of("unit", r["unit"]) if org else r["unit"]) for r in rows]


def _run_chart(metric: dict[str, Any], lang: str, contract: Any) -> dict[str, Any] | None:
    """A metric's chart over evaluation runs (``api.reports.charts.runs_figure``: one point per run, from the first,
    with its CI, from the status's suppressed trend) and the section of the evaluation report that explains it
    (section 4, one subsection per metric in the contract's order, anchor ``metric-<id>``)."""
    order = [m.id for m in contract.metrics]
    if metric["metric"] not in order:
        return None
    model = contract.metrics[order.index(metric["metric"])]
    figure = charts.runs_figure(model, metric["trend"], metric["design"], words(lang, contract.currency),
                                key=f"fig-{metric['metric']}", width=4.6, font_size=9)
    if figure is not None:
        figure.update(section=f"4.{order.index(metric['metric']) + 1}", anchor=f"metric-{metric['metric']}")
    return figure
