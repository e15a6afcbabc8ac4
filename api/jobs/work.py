"""What each kind of job does.  Each is the same call the CLI and the API make, so a job's result is the
engine's result; ``progress(done, total, step)`` is told as the work goes on."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any, Callable

from sqlalchemy.engine import Engine

from api.jobs.messages import TEXTS
from api.jobs.queue import Job
from language import MessageError

Progress = Callable[[int, int, str | None], None]


@dataclass(frozen=True)
class Done:
    """What a job gave: its result (ids of what it stored, a summary) and, for a document, the file."""

    result: dict[str, Any] = field(default_factory=dict)
    file: bytes | None = None


class JobRefused(MessageError):
    """The job cannot be done as asked (no such run, a run that may not be paid): a reason, not a crash."""


def do(db: Engine, job: Job, progress: Progress) -> Done:
    """Do ``job``; MessageError (any the engine raises) when it cannot, with the reason for its reader."""
    from contracts.registry import get_contract

    stored = get_contract(db, job.contract_id)
    return _KINDS[job.kind](db, stored, job, progress)


def _evaluate(db: Engine, stored: Any, job: Job, progress: Progress) -> Done:
    from evaluation.run import evaluate

    run = evaluate(db, stored, date.fromisoformat(job.params["as_of"]),
                   include_unverified=bool(job.params.get("include_unverified")), actor_name=job.created_by,
                   progress=lambda done, total, what: progress(done, total, what))
    # a second evaluation of unchanged data gives the stored run: a job done twice still yields one run
    return Done({"run": run.id, "reused": run.reused})


def _run(db: Engine, stored: Any, job: Job) -> Any:
    from evaluation.run import get_run

    run = get_run(db, stored.id, job.params.get("run"))
    if run is None:
        raise JobRefused(TEXTS("unknown_run", run=job.params.get("run")))
    return run


def _payments(db: Engine, stored: Any, job: Job, progress: Progress) -> Done:
    from payments.calculate import calculate
    from payments.money import ZERO

    run = _run(db, stored, job)
    progress(0, 1, None)
    # only what the ledger does not hold yet is appended: calculating again from the same run adds nothing
    added = calculate(db, stored, run, actor_name=job.created_by)
    return Done({"run": run.id, "entries": [int(e["seq"]) for e in added],
                 "amount": str(sum((e["amount"] for e in added), ZERO))})


def _report(db: Engine, stored: Any, job: Job, progress: Progress) -> Done:
    from api.reports.report import build_report, pdf_of, render_html

    run = _run(db, stored, job)
    progress(0, 2, "report")
    doc = build_report(db, stored.id, run.id, lang=job.params.get("lang"), actor_name=job.created_by)
    progress(1, 2, "pdf")
    return Done({"run": run.id, "filename": f"{stored.id}-report-run{run.id}.pdf"}, pdf_of(render_html(doc)))


def _board(db: Engine, stored: Any, job: Job, progress: Progress) -> Done:
    from api.reports.board import build_board, pdf_bytes

    progress(0, 2, "board")
    doc = build_board(db, stored.id, job.params.get("lang"))
    progress(1, 2, "pdf")
    return Done({"filename": f"{stored.id}-board.pdf"}, pdf_bytes(doc))


_KINDS: dict[str, Callable[[Engine, Any, Job, Progress], Done]] = {
    "evaluate": _evaluate, "payments": _payments, "report": _report, "board": _board}
