"""The loop ``sib worker`` runs: claim a job, do it while a thread renews the lease, record the result once.

Several workers may share one store (on PostgreSQL they claim with SKIP LOCKED).  A worker that is killed
leaves its job running; when the lease runs out, another worker (or this one, restarted) claims it again."""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from typing import Callable

from sqlalchemy.engine import Engine

from api.jobs.messages import TEXTS
from api.jobs.queue import Job, claim, fail, finish, lease_seconds, renew
from language import MessageError

log = logging.getLogger("sib.worker")


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


class _Lease:
    """Renews the job's lease every third of its length, carrying the latest progress with it."""

    def __init__(self, db: Engine, job: Job, worker: str, lease: float):
        self.db, self.job, self.worker, self.lease = db, job, worker, lease
        self.progress: tuple[int, int, str | None] | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, daemon=True, name=f"lease-{job.id}")

    def __enter__(self) -> "_Lease":
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    def note(self, done: int, total: int, step: str | None) -> None:
        self.progress = (done, total, step)

    def _beat(self) -> None:
        while not self._stop.wait(self.lease / 3):
            done, total, step = self.progress or (None, None, None)
            try:
                if not renew(self.db, self.job.id, self.worker, self.lease, done, total, step):
                    log.warning("job %s: lease lost to another worker; its result will be theirs", self.job.id)
                    return
            except Exception:  # a passing database error: the next beat tries again
                log.exception("job %s: could not renew the lease", self.job.id)


def run_one(db: Engine, worker: str, lease: float | None = None) -> Job | None:
    """Claim and do one job; the job claimed (None when the queue is empty)."""
    from api.jobs.work import do

    lease = lease_seconds() if lease is None else lease
    job = claim(db, worker, lease)
    if job is None:
        return None
    log.info("job %s (%s, %s): started, attempt %s", job.id, job.kind, job.contract_id, job.attempts)
    with _Lease(db, job, worker, lease) as held:
        try:
            done = do(db, job, held.note)
        except MessageError as exc:
            fail(db, job, worker, exc.message)
            log.info("job %s: refused: %s", job.id, exc)
            return job
        except Exception as exc:  # noqa: BLE001 - a job's crash must not stop the worker
            log.exception("job %s: failed", job.id)
            fail(db, job, worker, TEXTS("crashed", error=type(exc).__name__))
            return job
    if finish(db, job, worker, done.result, done.file):
        log.info("job %s: done %s", job.id, done.result)
    return job


def work(db: Engine, once: bool = False, poll: float = 1.0, lease: float | None = None,
         stop: Callable[[], bool] = lambda: False) -> int:
    """Do jobs until stopped (``once``: until the queue is empty); the number of jobs done."""
    worker = worker_name()
    count = 0
    while not stop():
        job = run_one(db, worker, lease)
        if job is not None:
            count += 1
            continue
        if once:
            break
        time.sleep(poll)
    return count
