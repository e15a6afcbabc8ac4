"""Jobs asked for on the web pages and done by `sib worker`: the queue in the store, leases, and exactly one
result per job even when a worker is killed mid-job (SIGKILL) or two workers claim at once (PostgreSQL)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from api.jobs.messages import TEXTS
from api.jobs.queue import MAX_ATTEMPTS, claim, enqueue, fail, finish, get_job, job_file, list_jobs, renew
from api.jobs.worker import run_one
from language.words import words
from store.db import audit_events
from store.tables import EvaluationRunRow, JobRow
from store.types import utcnow
from tests.helpers import stored_minimal


def _expire(engine: Engine, job_id: int) -> None:
    """As if the worker holding the job stopped renewing its lease a while ago."""
    with engine.begin() as conn:
        conn.execute(sa.update(JobRow).where(JobRow.id == job_id).values(lease_until=utcnow() - timedelta(seconds=5)))


def test_a_job_is_claimed_once_done_once_and_audited(engine: Engine) -> None:
    stored = stored_minimal(engine)
    first = enqueue(engine, stored.id, "board", {"lang": "en"}, "api:ada")
    second = enqueue(engine, stored.id, "evaluate", {"as_of": "2022-06-30"}, "api:ada")
    job = claim(engine, "w1", lease=60)
    assert (job.id, job.state, job.worker, job.attempts) == (first, "running", "w1", 1)
    other = claim(engine, "w2", lease=60)
    assert other.id == second  # the first is held: the next worker takes the next job
    assert claim(engine, "w3", lease=60) is None  # both held, none waiting
    assert renew(engine, job.id, "w1", 60, done=1, total=2, step="pdf")
    assert not renew(engine, job.id, "w2", 60)  # not w2's job
    assert get_job(engine, job.id).percent == 50
    assert not finish(engine, job, "w2", {"x": 1})  # only the holder records the result
    assert finish(engine, job, "w1", {"filename": "b.pdf"}, b"%PDF-1.7 ...")
    assert not finish(engine, job, "w1", {"filename": "again.pdf"}, b"again")  # done is done
    done = get_job(engine, job.id)
    assert (done.state, done.result, done.has_file, done.open) == ("done", {"filename": "b.pdf"}, True, False)
    assert job_file(engine, job.id) == b"%PDF-1.7 ..."
    assert [j.id for j in list_jobs(engine, stored.id)] == [second, first]  # newest first
    actions = [e.action for e in audit_events(engine, stored.id) if e.action.startswith("job.")]
    assert actions == ["job.queued", "job.queued", "job.done"]


def test_a_job_whose_worker_stopped_is_claimed_again_and_given_up_after_three_tries(engine: Engine) -> None:
    stored = stored_minimal(engine)
    job_id = enqueue(engine, stored.id, "board", {}, "api:ada")
    held = claim(engine, "dead-1", lease=60)
    assert claim(engine, "w2", lease=60) is None  # the lease still runs
    _expire(engine, job_id)
    again = claim(engine, "w2", lease=60)
    assert (again.id, again.worker, again.attempts) == (job_id, "w2", 2)
    assert not finish(engine, held, "dead-1", {"late": True})  # the first worker woke up too late: not its job
    for n in range(2, MAX_ATTEMPTS):
        _expire(engine, job_id)
        assert claim(engine, f"w{n + 1}", lease=60).attempts == n + 1
    _expire(engine, job_id)
    assert claim(engine, "w9", lease=60) is None
    given_up = get_job(engine, job_id)
    assert given_up.state == "failed" and given_up.error["code"] == "jobs.abandoned"
    assert "stopped 3 times" in words("en").message(given_up.error)
    assert [e.detail for e in audit_events(engine, stored.id, "job.failed")] == [{"job": job_id, "attempts": 3}]


def test_a_refused_job_fails_with_its_reason_and_the_worker_goes_on(engine: Engine) -> None:
    stored = stored_minimal(engine)
    job_id = enqueue(engine, stored.id, "payments", {"run": 999}, "api:ada")
    job = run_one(engine, "w1", lease=60)
    assert job.id == job_id
    failed = get_job(engine, job_id)
    assert failed.state == "failed" and failed.error == {"code": "jobs.unknown_run", "params": {"run": 999}}
    assert words("sv").message(failed.error) != words("en").message(failed.error)  # shown in the reader's words
    assert run_one(engine, "w1", lease=60) is None  # the queue is empty; the worker is still there
    enqueue(engine, stored.id, "board", {}, "api:ada")
    held = claim(engine, "w2", lease=60)
    assert fail(engine, held, "w2", TEXTS("crashed", error="ValueError"))
    assert get_job(engine, held.id).error == {"code": "jobs.crashed", "params": {"error": "ValueError"}}


def test_a_run_stored_by_a_worker_that_died_before_marking_its_job_is_the_job_s_one_result(demo_copy) -> None:
    """The crash window between storing a run and marking the job done: the next worker's evaluation gives the
    stored run back (same inputs, version and code), so there is still exactly one run."""
    from api.jobs.work import do
    from store.db import open_store

    engine = open_store()
    job_id = enqueue(engine, "gotland-family-team", "evaluate", {"as_of": "2023-03-31"}, "api:ada")
    job = claim(engine, "dying", lease=60)
    stored_by_dying = do(engine, job, lambda *_: None).result["run"]  # stored, then the worker "dies"
    _expire(engine, job_id)
    run_one(engine, "w2", lease=60)
    done = get_job(engine, job_id)
    assert done.state == "done" and done.attempts == 2
    assert done.result == {"run": stored_by_dying, "reused": True}
    assert _runs(engine, "gotland-family-team", "2023-03-31") == 1


def _runs(engine: Engine, contract: str, as_of: str) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(EvaluationRunRow).where(
            EvaluationRunRow.contract_id == contract, EvaluationRunRow.as_of == sa.func.date(as_of)
            if conn.dialect.name == "sqlite" else EvaluationRunRow.as_of == as_of)).scalar_one()


def test_a_worker_killed_mid_job_leaves_it_to_the_next_worker_which_yields_exactly_one_result(demo_copy) -> None:
    """`sib worker` is killed with SIGKILL while evaluating; after its lease runs out, a second worker does the job
    again: one run, the job done once, on attempt 2."""
    from store.db import open_store

    folder, _ = demo_copy
    engine = open_store()
    job_id = enqueue(engine, "peterborough-reconviction", "evaluate", {"as_of": "2023-04-30"}, "api:ada")
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[1]))
    command = [sys.executable, "-c", "from api.cli import run; run()", "worker", "--lease", "1", "--poll", "0.1"]
    worker = subprocess.Popen(command, cwd=folder, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while get_job(engine, job_id).state == "queued":
            assert time.monotonic() < deadline and worker.poll() is None, worker.stderr.read().decode() if worker.poll() else "no claim"
            time.sleep(0.01)
        worker.send_signal(signal.SIGKILL)
        worker.wait(10)
    finally:
        if worker.poll() is None:
            worker.kill()
    killed = get_job(engine, job_id)
    assert killed.state == "running" and killed.attempts == 1, "the job ended before the kill: nothing was shown"
    assert _runs(engine, "peterborough-reconviction", "2023-04-30") == 0
    time.sleep(1.2)  # the killed worker's lease runs out
    second = subprocess.run(command[:-4] + ["--once", "--lease", "1"], cwd=folder, env=env, capture_output=True,
                            text=True, timeout=120)
    assert second.returncode == 0, second.stderr
    done = get_job(engine, job_id)
    assert (done.state, done.attempts) == ("done", 2)
    assert _runs(engine, "peterborough-reconviction", "2023-04-30") == 1
    assert [e.detail["job"] for e in audit_events(engine, "peterborough-reconviction", "job.done")] == [job_id]


def test_workers_claiming_at_once_on_postgresql_take_different_jobs(postgres_url: str) -> None:
    """FOR UPDATE SKIP LOCKED: eight workers claiming from eight threads at the same moment each get their own."""
    from tests.conftest import initialised

    with initialised(postgres_url) as engine:
        stored = stored_minimal(engine)
        ids = {enqueue(engine, stored.id, "board", {}, "api:ada") for _ in range(8)}
        got: list[int | None] = []
        start = threading.Barrier(8)

        def take(n: int) -> None:
            start.wait()
            job = claim(engine, f"w{n}", lease=60)
            got.append(job.id if job else None)

        threads = [threading.Thread(target=take, args=(n,)) for n in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sorted(got) == sorted(ids)  # nobody waited, nobody took a job twice
        with engine.connect() as conn:
            assert conn.execute(sa.select(sa.func.count()).where(JobRow.state == "running")).scalar_one() == 8
