"""The web app's jobs done by one and by two `sib worker` processes on PostgreSQL: throughput, and that every
job yields exactly one result.

    .venv/bin/python benchmarks/bench_jobs.py [--participants 2000] [--jobs 12]

A Hässelby-style contract with ``--participants`` pupils is ingested, verified, evaluated and paid.  Then the
same queue is done twice, on fresh copies of the queue: ``--jobs`` evaluation jobs (each as of another month
end, so each makes a run of its own) and a board summary, first by one worker, then by two (`sib worker --once`
processes started together: they claim with FOR UPDATE SKIP LOCKED).  Reported: wall seconds, jobs per second,
the ratio two ÷ one, and the checks: every job done, once (one job.done audit event each), one run per date.
PostgreSQL from SIB_TEST_POSTGRES_URL or postgres@127.0.0.1.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import date
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

ADMIN = os.environ.get("SIB_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
SIB = [sys.executable, "-c", "import sys; sys.path.insert(0, %r); from api.cli import run; run()" % str(ROOT)]


def month_ends(n: int) -> list[date]:
    """``n`` month ends inside the example's term, latest first."""
    days, year, month = [], 2025, 7
    while len(days) < n:
        nxt = date(year + (month == 12), month % 12 + 1, 1)
        days.append(date.fromordinal(nxt.toordinal() - 1))
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return days


def queue(url: str, days: list[date]) -> list[int]:
    from api.jobs.queue import enqueue
    from store.db import open_store

    engine = open_store(url)
    ids = [enqueue(engine, "hasselby-school", "evaluate", {"as_of": d.isoformat(), "lang": "sv"}, "bench")
           for d in days]
    ids.append(enqueue(engine, "hasselby-school", "board", {"lang": "sv"}, "bench"))
    engine.dispose()
    return ids


def checks(url: str, ids: list[int], days: list[date]) -> dict[str, object]:
    from store.tables import AuditEventRow, EvaluationRunRow, JobRow

    engine = sa.create_engine(url)
    with engine.connect() as conn:
        states = dict(conn.execute(sa.select(JobRow.id, JobRow.state).where(JobRow.id.in_(ids))).all())
        done_events = conn.execute(sa.select(AuditEventRow.detail).where(AuditEventRow.action == "job.done")).scalars()
        per_job: dict[int, int] = {}
        for detail in done_events:
            if detail["job"] in ids:
                per_job[detail["job"]] = per_job.get(detail["job"], 0) + 1
        runs = conn.execute(sa.select(EvaluationRunRow.as_of, sa.func.count()).where(
            EvaluationRunRow.as_of.in_(days)).group_by(EvaluationRunRow.as_of)).all()
    engine.dispose()
    return {"all_done": all(states.get(i) == "done" for i in ids),
            "each_done_once": sorted(per_job) == sorted(ids) and set(per_job.values()) == {1},
            "one_run_per_date": len(runs) == len(days) and all(n == 1 for _, n in runs)}


def drain(url: str, workers: int, folder: Path) -> float:
    env = dict(os.environ, DATABASE_URL=url, SIB_KEY_FILE=str(folder / "sib.key"))
    start = time.perf_counter()
    running = [subprocess.Popen([*SIB, "worker", "--once", "--poll", "0.1"], env=env, cwd=folder,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for _ in range(workers)]
    for process in running:
        if process.wait() != 0:
            raise SystemExit("a worker failed")
    return time.perf_counter() - start


def main() -> None:
    from bench_api import prepare

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--participants", type=int, default=2000)
    parser.add_argument("--jobs", type=int, default=12)
    options = parser.parse_args()
    admin = sa.create_engine(ADMIN, isolation_level="AUTOCOMMIT")
    result: dict[str, object] = {"participants": options.participants, "evaluation_jobs": options.jobs}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for workers in (1, 2):
            name = f"sib_bench_jobs_{uuid.uuid4().hex[:8]}"
            with admin.connect() as conn:
                conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
            url = sa.engine.make_url(ADMIN).set(database=name).render_as_string(hide_password=False)
            try:
                prepare(url, folder, options.participants)
                days = month_ends(options.jobs)
                ids = queue(url, days)
                seconds = drain(url, workers, folder)
                result[f"workers_{workers}"] = {"seconds": round(seconds, 2),
                                                "jobs_per_second": round(len(ids) / seconds, 3),
                                                **checks(url, ids, days)}
            finally:
                with admin.connect() as conn:
                    conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    result["throughput_ratio_2_to_1"] = round(result["workers_2"]["jobs_per_second"]
                                              / result["workers_1"]["jobs_per_second"], 2)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
