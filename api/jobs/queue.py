"""The job queue in the store.  A job is queued by a page, claimed by one worker at a time under a lease the
worker renews, and finished once: only the worker holding the lease can mark it done or failed."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError

from api.jobs.messages import TEXTS
from language import Message
from store.db import record_audit
from store.tables import JobRow
from store.types import utcnow

KINDS = ("evaluate", "payments", "report", "board")
LEASE_SECONDS = 60.0  # a worker renews its lease every third of this; a killed worker's job waits this long
MAX_ATTEMPTS = 3  # a job whose worker died this many times is failed rather than tried for ever


def lease_seconds() -> float:
    try:
        return max(0.5, float(os.environ.get("SIB_JOB_LEASE_SECONDS", LEASE_SECONDS)))
    except ValueError:
        return LEASE_SECONDS


@dataclass(frozen=True)
class Job:
    id: int
    contract_id: str
    kind: str
    params: dict[str, Any]
    state: str
    done: int
    total: int
    step: str | None
    attempts: int
    worker: str | None
    result: dict[str, Any] | None
    has_file: bool
    error: dict[str, Any] | None
    created_by: str
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None

    @property
    def open(self) -> bool:
        return self.state in ("queued", "running")

    @property
    def percent(self) -> int | None:
        return None if not self.total else min(100, round(100 * self.done / self.total))


_COLUMNS = [c for c in JobRow.__table__.c if c.name not in ("file", "lease_until")]


def _job(row: Any) -> Job:
    values = {k: v for k, v in row._mapping.items() if k != "has_file"}
    return Job(**values, has_file=bool(row.has_file))


def _select() -> Any:
    return sa.select(*_COLUMNS, JobRow.file.isnot(None).label("has_file"))


def enqueue(db: Engine, contract_id: str, kind: str, params: dict[str, Any], who: str) -> int:
    """A new queued job (and its audit event, in the same transaction); its id."""
    if kind not in KINDS:
        raise ValueError(f"unknown job kind {kind!r}")
    with db.begin() as conn:
        job_id = conn.execute(sa.insert(JobRow).returning(JobRow.id),
                              {"contract_id": contract_id, "kind": kind, "params": params, "state": "queued",
                               "done": 0, "total": 0, "attempts": 0, "created_by": who,
                               "created_at": utcnow()}).scalar_one()
        record_audit(conn, "job.queued", contract_id, {"job": job_id, "kind": kind, "params": params}, who)
    return int(job_id)


def get_job(db: Engine, job_id: int) -> Job | None:
    with db.connect() as conn:
        row = conn.execute(_select().where(JobRow.id == job_id)).first()
    return None if row is None else _job(row)


def job_file(db: Engine, job_id: int) -> bytes | None:
    with db.connect() as conn:
        return conn.execute(sa.select(JobRow.file).where(JobRow.id == job_id)).scalar()


def list_jobs(db: Engine, contract_id: str, limit: int = 20) -> list[Job]:
    """A contract's jobs, newest first."""
    with db.connect() as conn:
        rows = conn.execute(_select().where(JobRow.contract_id == contract_id)
                            .order_by(JobRow.id.desc()).limit(limit)).all()
    return [_job(r) for r in rows]


def _claimable(now: datetime) -> Any:
    return sa.or_(JobRow.state == "queued", sa.and_(JobRow.state == "running", JobRow.lease_until < now))


def claim(db: Engine, worker: str, lease: float | None = None) -> Job | None:
    """The oldest job waiting (or whose worker's lease ran out), now held by ``worker``; None when there is none.

    On PostgreSQL the row is locked with FOR UPDATE SKIP LOCKED, so workers claiming at the same moment take
    different jobs without waiting; on SQLite writes are serialised and the conditional update decides.  A job
    whose lease ran out MAX_ATTEMPTS times is failed instead (its work kills its worker)."""
    now = utcnow()
    lease = lease_seconds() if lease is None else lease
    try:
        with db.begin() as conn:
            query = sa.select(JobRow.id, JobRow.attempts, JobRow.contract_id).where(_claimable(now)).order_by(
                JobRow.id).limit(1)
            if db.dialect.name == "postgresql":
                query = query.with_for_update(skip_locked=True)
            found = conn.execute(query).first()
            if found is None:
                return None
            if found.attempts >= MAX_ATTEMPTS:
                conn.execute(sa.update(JobRow).where(JobRow.id == found.id, _claimable(now)).values(
                    state="failed", finished_at=now, lease_until=None,
                    error=TEXTS("abandoned", attempts=found.attempts).as_dict()))
                record_audit(conn, "job.failed", found.contract_id, {"job": found.id, "attempts": found.attempts},
                             worker)
                return None
            taken = conn.execute(sa.update(JobRow).where(JobRow.id == found.id, _claimable(now)).values(
                state="running", worker=worker, lease_until=now + timedelta(seconds=lease),
                attempts=JobRow.attempts + 1, started_at=sa.func.coalesce(JobRow.started_at, now))).rowcount
    except OperationalError:  # SQLite: another worker wrote first; the next poll tries again
        return None
    return get_job(db, found.id) if taken == 1 else None


def renew(db: Engine, job_id: int, worker: str, lease: float | None = None, done: int | None = None,
          total: int | None = None, step: str | None = None) -> bool:
    """Extend the lease (and note progress); False when the job is no longer this worker's."""
    lease = lease_seconds() if lease is None else lease
    values: dict[str, Any] = {"lease_until": utcnow() + timedelta(seconds=lease)}
    if done is not None:
        values.update(done=done, total=total or 0, step=(step or "")[:200] or None)
    with db.begin() as conn:
        return conn.execute(sa.update(JobRow).where(JobRow.id == job_id, JobRow.worker == worker,
                                                    JobRow.state == "running").values(**values)).rowcount == 1


def finish(db: Engine, job: Job, worker: str, result: dict[str, Any], file: bytes | None = None) -> bool:
    """Mark the job done with its result (and document) if ``worker`` still holds it; False if another took it."""
    return _end(db, job, worker, {"state": "done", "result": result, "file": file, "done": max(job.total, 1),
                                  "total": max(job.total, 1)}, "job.done", result)


def fail(db: Engine, job: Job, worker: str, message: Message) -> bool:
    return _end(db, job, worker, {"state": "failed", "error": message.as_dict()}, "job.failed",
                {"error": message.as_dict()})


def _end(db: Engine, job: Job, worker: str, values: dict[str, Any], action: str, detail: dict[str, Any]) -> bool:
    with db.begin() as conn:
        ended = conn.execute(sa.update(JobRow).where(JobRow.id == job.id, JobRow.worker == worker,
                                                     JobRow.state == "running")
                             .values(**values, finished_at=utcnow(), lease_until=None)).rowcount == 1
        if ended:
            record_audit(conn, action, job.contract_id, {"job": job.id, "kind": job.kind, **detail}, job.created_by)
    return ended
