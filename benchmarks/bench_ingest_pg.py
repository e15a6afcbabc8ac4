"""Ingestion into PostgreSQL against a bare COPY of the same file, measured in the same run.

    .venv/bin/python benchmarks/bench_ingest_pg.py                    # 10,000,000 rows, each variant once
    .venv/bin/python benchmarks/bench_ingest_pg.py --rows 1000000 --repeat 3

Ours: ``ingest_file`` of N attendance measurements of the Hässelby example (every check: participants known
and enrolled, metric, value range, window, dates, duplicates and conflicts against the file and the store,
pseudonymisation; COPY into ``measurements`` with its indexes and foreign keys; one atomic batch).

Floor: the same CSV file streamed with psycopg's COPY FROM STDIN into a table shaped like the file (text,
text, date, double precision; no index, no key, no check): what PostgreSQL needs just to take the bytes.

Store only: the same rows, validated and pseudonymised beforehand (untimed), written by the loader's own
``FrameWriter`` into the real ``measurements`` table: what PostgreSQL needs to store them where they live, with
no check at all.  ``copy_to_store_only`` is the ceiling of ``copy_to_ours`` on this table, whatever the
validation costs.

Each variant runs in a fresh process on a fresh database prepared the same way (contract and pupils stored),
the variants alternate, and medians are reported; ``copy_to_ours`` is floor time / our time (1.0 would mean
validation, pseudonymisation and the real table's indexes cost nothing).  Needs a PostgreSQL server
(SIB_BENCH_POSTGRES_URL, default postgresql+psycopg://postgres@127.0.0.1:5432/postgres).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from benchmarks.bench_ingest import write_files  # noqa: E402  (the same files as the SQLite benchmark)

ADMIN = os.environ.get("SIB_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")

PREPARE = r"""
import sys
from pathlib import Path
sys.path.insert(0, {root!r})
from store.db import init_store, open_store
from contracts import load_contract_file
from contracts.registry import store_contract, get_contract
from outcomes.ingest import ingest_file
init_store({url!r})
engine = open_store({url!r})
store_contract(engine, load_contract_file({contract!r}))
ingest_file(engine, get_contract(engine, "hasselby-school").latest.terms, Path({source!r}) / "people.csv",
            "participants", bytes(range(32)))
engine.dispose()
"""

OURS = r"""
import sys, time, resource
from pathlib import Path
sys.path.insert(0, {root!r})
from store.db import open_store
from contracts.registry import get_contract
from outcomes.ingest import ingest_file
engine = open_store({url!r})
stored = get_contract(engine, "hasselby-school")
t = time.perf_counter()
report = ingest_file(engine, stored.latest.terms, Path({source!r}) / "measurements.csv", "measurements",
                     bytes(range(32)))
elapsed = time.perf_counter() - t
assert report.status == "accepted", (report.status, report.errors[:3])
print(elapsed, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""

STORE = r"""
import sys, time, resource
from pathlib import Path
sys.path.insert(0, {root!r})
import pandas as pd, sqlalchemy as sa
from store.db import open_store
from store.bulk import FrameWriter
from store.tables import MeasurementRow, ParticipantRow
from outcomes.pseudonym import pseudonymise
engine = open_store({url!r})
with engine.connect() as conn:  # untimed: the rows exactly as the loader would send them, validated already
    ids = dict(conn.execute(sa.select(ParticipantRow.pseudonym, ParticipantRow.id)).all())
file = pd.read_csv(Path({source!r}) / "measurements.csv", dtype=str)
refs = pd.Series(file["participant_id"].unique())
participant = file["participant_id"].map(dict(zip(refs, (ids[pseudonymise(bytes(range(32)), "hasselby-school", r)]
                                                          for r in refs))))
frame = pd.DataFrame({{"metric": file["metric"], "observed_on": pd.to_datetime(file["date"]), "source": None,
                      "qualifier": None, "supersedes_id": None, "participant_id": participant,
                      "value": file["value"].astype(float)}}).sort_values("participant_id", kind="stable")
chunks = [frame.iloc[i:i + 100_000] for i in range(0, len(frame), 100_000)]
del file, frame
t = time.perf_counter()
with engine.begin() as conn:
    writer = FrameWriter(conn)
    for chunk in chunks:
        writer.insert(MeasurementRow.__table__, chunk,
                      {{"contract_id": "hasselby-school", "batch_id": 1_000_000, "status": "reported"}})
    writer.close()
elapsed = time.perf_counter() - t
print(elapsed, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""

COPY = r"""
import time, resource
from pathlib import Path
import psycopg
with psycopg.connect({dsn!r}) as conn:
    conn.execute("CREATE TABLE bare (participant_id text, metric text, date date, value double precision)")
    conn.commit()
    t = time.perf_counter()
    with conn.cursor() as cur, open(Path({source!r}) / "measurements.csv", "rb") as fh:
        with cur.copy("COPY bare FROM STDIN (FORMAT csv, HEADER true)") as copy:
            while block := fh.read(1 << 20):
                copy.write(block)
    conn.commit()
    elapsed = time.perf_counter() - t
print(elapsed, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def fresh_database(admin: sa.Engine) -> str:
    name = f"sib_bench_{uuid.uuid4().hex[:10]}"
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    return name


def run(script: str, admin: sa.Engine, source: Path) -> tuple[float, int]:
    """Prepare a fresh database (in a process of its own), run ``script`` on it in another, drop it."""
    name = fresh_database(admin)
    url = make_url(ADMIN).set(database=name)
    fill = dict(root=str(ROOT), source=str(source), url=url.render_as_string(hide_password=False),
                dsn=url.set(drivername="postgresql").render_as_string(hide_password=False),
                contract=str(ROOT / "examples" / "hasselby_school.yaml"))
    try:
        subprocess.run([sys.executable, "-c", PREPARE.format(**fill)], check=True)
        with admin.connect() as conn:  # both start from settled tables, not from the preparation's dead tuples
            conn.execute(sa.text("CHECKPOINT"))
        done = subprocess.run([sys.executable, "-c", script.format(**fill)], capture_output=True, text=True)
        if done.returncode:
            raise SystemExit(f"the measured step failed:\n{done.stderr[-3000:]}")
        out = done.stdout
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    seconds, rss = out.split()
    return float(seconds), int(rss)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--files", type=Path, help="keep the generated files in this folder and reuse them")
    args = parser.parse_args()
    admin = sa.create_engine(ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        server = conn.execute(sa.text("SHOW server_version")).scalar_one()
    result: dict[str, object] = {"rows": args.rows, "repeat": args.repeat, "postgresql": server}
    with tempfile.TemporaryDirectory() as tmp:
        source = args.files or Path(tmp)
        marker = source / f"rows-{args.rows}"
        if not marker.exists():
            source.mkdir(parents=True, exist_ok=True)
            write_files(source, args.rows)
            marker.touch()
        result["file_mib"] = round((source / "measurements.csv").stat().st_size / 2**20)
        ours, floor, stored = [], [], []
        for _ in range(args.repeat):
            floor.append(run(COPY, admin, source))
            stored.append(run(STORE, admin, source))
            ours.append(run(OURS, admin, source))
    admin.dispose()
    t_ours, t_copy = statistics.median(t for t, _ in ours), statistics.median(t for t, _ in floor)
    t_store = statistics.median(t for t, _ in stored)
    result.update({
        "ingest_seconds": round(t_ours, 1), "copy_seconds": round(t_copy, 1),
        "ingest_rows_per_second": round(args.rows / t_ours), "copy_rows_per_second": round(args.rows / t_copy),
        "copy_to_ours": round(t_copy / t_ours, 2),
        "store_only_seconds": round(t_store, 2), "copy_to_store_only": round(t_copy / t_store, 2),
        "peak_rss_mib_ingest": round(statistics.median(m for _, m in ours) / 1024),
        "peak_rss_mib_copy": round(statistics.median(m for _, m in floor) / 1024),
    })
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
