"""An import killed with SIGKILL while it writes leaves no partial batch, harms no earlier batch, and can be
run again — on SQLite and on PostgreSQL.  The import runs as a real `sib ingest` process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from outcomes.ingest import ingest_file
from store.db import init_store, open_store
from store.tables import ImportBatchRow, MeasurementRow
from tests.helpers import snapshot, stored_minimal, write

PEOPLE, DAYS = 2000, 300  # 600,000 measurements: several seconds of writing
WRITTEN_ENOUGH = 8 * 2**20  # bytes of uncommitted rows seen before the kill: proof that it is midway


def people() -> str:
    return "participant_id,start,school_year,sex\n" + "".join(
        f"CASE-{i:05d},2020-{1 + i % 12:02d}-{1 + i % 28:02d},{4 + i % 6},{'female' if i % 2 else 'male'}\n"
        for i in range(PEOPLE))


def measurements(path: Path) -> Path:
    """Every person's attendance on each of DAYS days from their start (inside the metric's window)."""
    who = np.repeat(np.arange(PEOPLE), DAYS)
    starts = pd.to_datetime([f"2020-{1 + i % 12:02d}-{1 + i % 28:02d}" for i in range(PEOPLE)])
    days = starts[who] + pd.to_timedelta(np.tile(np.arange(DAYS), PEOPLE), unit="D")
    pd.DataFrame({"participant_id": [f"CASE-{i:05d}" for i in who], "metric": "attendance",
                  "date": days.strftime("%Y-%m-%d"),
                  "value": np.round(np.random.default_rng(0).uniform(0.5, 1.0, len(who)), 3)}).to_csv(path, index=False)
    return path


def uncommitted_bytes(engine: Engine, folder: Path) -> int:
    """How much the running import has written so far without committing (visible from outside it)."""
    if engine.dialect.name == "sqlite":
        wal = folder / "sib.db-wal"
        return wal.stat().st_size if wal.exists() else 0
    with engine.connect() as conn:  # a table's heap grows with rows no other transaction can see yet
        return conn.execute(sa.text("SELECT pg_relation_size('measurements')")).scalar_one()


def wait_until_gone(engine: Engine) -> None:
    """PostgreSQL ends a killed client's backend (rolling it back) once it notices the closed socket."""
    if engine.dialect.name != "postgresql":
        return
    for _ in range(200):
        with engine.connect() as conn:
            others = conn.execute(sa.text("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                                          "AND pid <> pg_backend_pid()")).scalar_one()
        if not others:
            return
        time.sleep(0.05)
    raise AssertionError("the killed import's backend is still there after 10 s")


def test_an_import_killed_midway_leaves_no_partial_batch_and_can_be_rerun(any_url: str, tmp_path: Path) -> None:
    init_store(any_url)
    engine = open_store(any_url)
    key_file = write(tmp_path, "sib.key", bytes(range(32)).hex() + "\n")
    contract = stored_minimal(engine).latest.terms
    earlier = ingest_file(engine, contract, write(tmp_path, "people.csv", people()), "participants", bytes(range(32)))
    engine.dispose()  # SQLite: the last connection closing checkpoints and removes the write-ahead log
    before = snapshot(engine)
    path = measurements(tmp_path / "attendance.csv")

    sib = Path(sys.executable).with_name("sib")
    env = os.environ | {"DATABASE_URL": any_url, "SIB_KEY_FILE": str(key_file), "SIB_ACTOR": "test:kill"}
    process = subprocess.Popen([str(sib), "ingest", "test-contract", str(path), "--kind", "measurements"],
                               cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    seen = 0
    try:
        deadline = time.monotonic() + 120
        while process.poll() is None and time.monotonic() < deadline:
            seen = uncommitted_bytes(engine, tmp_path)
            if seen > WRITTEN_ENOUGH:
                os.kill(process.pid, signal.SIGKILL)
                break
            time.sleep(0.02)
    finally:
        if process.poll() is None and seen <= WRITTEN_ENOUGH:
            process.kill()
        process.wait()
    assert process.returncode == -signal.SIGKILL and seen > WRITTEN_ENOUGH, (
        f"the import was not caught midway (exit {process.returncode}, {seen} bytes written): "
        f"{process.stderr.read().decode()[-500:]}")
    engine.dispose()
    wait_until_gone(engine)

    assert snapshot(engine) == before, "the killed import left something behind or changed an earlier batch"
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            assert conn.execute(sa.text("PRAGMA integrity_check")).scalar_one() == "ok"
        assert conn.execute(sa.select(ImportBatchRow.id)).scalars().all() == [earlier.batch_id]

    again = ingest_file(engine, contract, path, "measurements", bytes(range(32)))
    assert (again.status, again.rows) == ("accepted", PEOPLE * DAYS)
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(MeasurementRow)).scalar_one() == PEOPLE * DAYS
        assert conn.execute(sa.select(ImportBatchRow.id).order_by(ImportBatchRow.id)).scalars().all() == [
            earlier.batch_id, again.batch_id]
    engine.dispose()
