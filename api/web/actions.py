"""What the intermediary does on the work page: upload a delivery, verify a batch, and ask for long work (an
evaluation, payments, a report, a board summary) as a job that ``sib worker`` does; the job's page shows its
progress and links to its result, and a run's page shows its results and what changed since the run before.

Every form carries the session's CSRF token and is refused without it; every action is audited (the upload and
the verification by the engine, a job when queued and when done)."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, File, Form, UploadFile
from fastapi import Path as PathParam
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.engine import Engine

from api.http.auth import store
from api.web.pages import PROVIDER_KINDS, UPLOAD_KINDS, delivery_page, work_page
from api.web.render import SECURITY_HEADERS, PageError, render
from api.web.session import check_form, page_access
from language.names import Names
from language.words import words

router = APIRouter(include_in_schema=False)
JOB_SCRIPT = (Path(__file__).parent / "assets" / "job.js").read_bytes()
JOB_ACTIONS = {"evaluate": "evaluation.run", "payments": "payments.calculate", "report": "evaluation.read",
               "board": "schedule.read"}


def _back(ctx: dict[str, Any], **query: Any) -> RedirectResponse:
    anchor = f"#batch-{query['batch']}" if "batch" in query else ""
    return RedirectResponse(f"/contracts/{ctx['stored'].id}/{ctx['page']}?{urlencode(dict(query, lang=ctx['lang']))}"
                            f"{anchor}", status_code=303)


@router.post("/contracts/{contract_id}/batches")
def upload(kind: str = Form("", max_length=20), file: UploadFile = File(...), csrf: str = Form("", max_length=64),
           ctx: dict[str, Any] = Depends(page_access(("work", "deliveries"))), db: Engine = Depends(store)) -> Response:
    """A delivered file, checked and pseudonymised in this request (in a child process with the upload time
    budget): a file with clear identity numbers is never stored, so it cannot wait in a queue.  A provider's
    file enrols people with it and may only concern its own participants."""
    from api.http.uploads import Upload, UploadTooSlow, as_uploaded, ingest_upload, received
    from outcomes.ingest import IngestError, IngestRefused
    from outcomes.pseudonym import MissingKeyError, load_key
    from outcomes.readers import UnreadableFile

    check_form(ctx, csrf, "batch.upload")
    w = words(ctx["lang"])
    names = Names(ctx["contract"], w)
    who = ctx["who"]
    provider = who.party if who.role == "provider" else None
    page = delivery_page(ctx)
    if kind not in (PROVIDER_KINDS if provider else UPLOAD_KINDS):
        return page(ctx, db, error=w._("Choose what the file holds."), status=422)
    try:
        key = load_key()
    except MissingKeyError:
        return page(ctx, db, error=w._("No pseudonymisation key is configured (SIB_KEY_FILE), so no file can "
                                            "be received."), status=503)
    with received(file) as (path, name):
        try:
            report = ingest_upload(db, Upload(ctx["contract"], path, kind, key, False, who.actor, name,
                                              provider=provider))
        except IngestRefused as refused:
            groups = refused.report.by_reason(w)
            return page(ctx, db, status=422, refusal={
                "file": name, "total": refused.report.errors_total, "listed": len(refused.report.errors),
                "groups": [dict(g, rows=[e["row"] for e in g["first"]], reason=g["first"][0]["reason"],
                                more=g["count"] > len(g["first"])) for g in groups]})
        except (UnreadableFile, IngestError) as exc:
            text = names.message(as_uploaded(exc.message, path, name))
            return page(ctx, db, error=w._("{file} could not be read: {reason}", file=name, reason=text), status=422)
        except UploadTooSlow as exc:
            return page(ctx, db, error=names.message(exc.message), status=503)
    if report.status == "already_imported" or report.batch_id is None:  # the same file again: nothing new stored
        return _back(ctx, done="already", file=name)
    return _back(ctx, done="uploaded", batch=report.batch_id)


@router.post("/contracts/{contract_id}/batches/{batch_id}/verify")
def verify(batch_id: int = PathParam(..., ge=1, le=2**31 - 1), csrf: str = Form("", max_length=64),
           ctx: dict[str, Any] = Depends(page_access("work")), db: Engine = Depends(store)) -> Response:
    from outcomes.batches import BatchError, list_batches, verify_batch

    check_form(ctx, csrf, "batch.verify")
    w = words(ctx["lang"])
    if not any(b["id"] == batch_id for b in list_batches(db, ctx["stored"].id)):
        raise PageError(404, w._("There is no batch {batch} of this contract.", batch=batch_id), ctx["lang"])
    try:
        verify_batch(db, batch_id, ctx["who"].actor)
    except BatchError as exc:
        return work_page(ctx, db, error=Names(ctx["contract"], w).message(exc.message), status=409)
    return _back(ctx, done="verified", batch=batch_id)


@router.post("/contracts/{contract_id}/jobs")
def ask(kind: str = Form("", max_length=20), as_of: str = Form("", max_length=10),
        include_unverified: str = Form("", max_length=5), run: int | None = Form(None, ge=1, le=2**31 - 1),
        csrf: str = Form("", max_length=64), ctx: dict[str, Any] = Depends(page_access("work")),
        db: Engine = Depends(store)) -> Response:
    """Queue a job; the answer is its page, which follows it to its result."""
    from api.jobs.queue import enqueue

    w = words(ctx["lang"])
    if kind not in JOB_ACTIONS:
        raise PageError(422, w._("There is no such job."), ctx["lang"])
    check_form(ctx, csrf, JOB_ACTIONS[kind])
    params: dict[str, Any] = {"lang": ctx["lang"]}
    if kind == "evaluate":
        try:
            day = date.fromisoformat(as_of) if as_of else date.today()
        except ValueError:
            return work_page(ctx, db, error=w._("“{value}” is not a date (YYYY-MM-DD).", value=as_of), status=422)
        if not date(1900, 1, 1) <= day < date(2200, 1, 1):
            return work_page(ctx, db, error=w._("“{value}” is not a date (YYYY-MM-DD).", value=as_of), status=422)
        params.update(as_of=day.isoformat(), include_unverified=include_unverified == "on")
    elif kind in ("payments", "report"):
        if run is None:
            raise PageError(422, w._("Name the evaluation run."), ctx["lang"])
        params["run"] = run
    job_id = enqueue(db, ctx["stored"].id, kind, params, ctx["who"].actor)
    return RedirectResponse(f"/contracts/{ctx['stored'].id}/jobs/{job_id}?lang={ctx['lang']}", status_code=303)


def _own_job(db: Engine, ctx: dict[str, Any], job_id: int) -> Any:
    from api.jobs.queue import get_job

    job = get_job(db, job_id)
    if job is None or job.contract_id != ctx["stored"].id:
        raise PageError(404, words(ctx["lang"])._("There is no job {job} of this contract.", job=job_id), ctx["lang"])
    return job


@router.get("/contracts/{contract_id}/jobs/{job_id}")
def job_page(job_id: int = PathParam(..., ge=1, le=2**31 - 1), ctx: dict[str, Any] = Depends(page_access("work")),
             db: Engine = Depends(store)) -> Response:
    """A job's state and progress (the page reloads itself every two seconds until it is done), then its result."""
    job = _own_job(db, ctx, job_id)
    stored = ctx["stored"]
    page = render("job.html.j2", currency=stored.currency, job=job, refresh=job.open,
                  error=Names(ctx["contract"], words(ctx["lang"])).message(job.error) if job.error else None,
                  **ctx, path=f"/contracts/{stored.id}/jobs/{job.id}")
    if job.open:  # the one page with a script: this site's own, which follows the job (assets/job.js)
        page.headers["Content-Security-Policy"] = (SECURITY_HEADERS["Content-Security-Policy"]
                                                   + "; script-src 'self'; connect-src 'self'")
    return page


@router.get("/assets/job.js")
def job_script() -> Response:
    return Response(JOB_SCRIPT, media_type="text/javascript; charset=utf-8",
                    headers={**SECURITY_HEADERS, "Cache-Control": "public, max-age=3600"})


@router.get("/contracts/{contract_id}/jobs/{job_id}/file")
def job_document(job_id: int = PathParam(..., ge=1, le=2**31 - 1), ctx: dict[str, Any] = Depends(page_access("work")),
                 db: Engine = Depends(store)) -> Response:
    from api.jobs.queue import job_file

    job = _own_job(db, ctx, job_id)
    data = job_file(db, job.id) if job.state == "done" else None
    if data is None:
        raise PageError(404, words(ctx["lang"])._("Job {job} has no document.", job=job_id), ctx["lang"])
    name = (job.result or {}).get("filename") or f"job-{job.id}.pdf"
    return Response(data, media_type="application/pdf",
                    headers={"Content-Disposition": f'attachment; filename="{name}"', **SECURITY_HEADERS})


@router.get("/contracts/{contract_id}/runs/{run_id}")
def run_page(run_id: int = PathParam(..., ge=1, le=2**31 - 1), ctx: dict[str, Any] = Depends(page_access("work")),
             db: Engine = Depends(store)) -> Response:
    """One evaluation run: every result with its interval, and what changed since the run before it."""
    from evaluation.diff import diff_runs
    from evaluation.run import get_run, list_runs

    stored = ctx["stored"]
    w = words(ctx["lang"])
    run = get_run(db, stored.id, run_id)
    if run is None:
        raise PageError(404, w._("There is no evaluation run {run} of this contract.", run=run_id), ctx["lang"])
    earlier = [r.id for r in list_runs(db, stored.id) if r.id < run.id]
    diff = None
    if earlier:
        before = get_run(db, stored.id, earlier[-1])
        diff = w.explained_diff(diff_runs(before, run, {v.version: v.reason for v in stored.versions}))
    return render("run.html.j2", currency=stored.currency, run=run, diff=diff,
                  results=[r.to_dict() for r in run.results], **ctx, path=f"/contracts/{stored.id}/runs/{run.id}")
