"""Ingestion speed and memory, against a floor measured in the same run.

    .venv/bin/python benchmarks/bench_ingest.py                  # 1,000,000 rows x 3, then 10,000,000 once
    .venv/bin/python benchmarks/bench_ingest.py --rows 200000 --stream-rows 0   # quicker

Speed: ``ingest_file`` of N attendance measurements from CSV into SQLite
(every check: participants known and enrolled, metric, value range, window,
dates, duplicates and conflicts, stored keys, pseudonymisation; one atomic
batch) against the floor: the same rows read with pyarrow and inserted with one
bare executemany into the same table, no validation at all.  The variants
alternate, each in a fresh process and a fresh store, and medians are
reported; ``floor_to_ours`` is floor time / our time (1.0 would be free
validation).

Memory: one ingest of M rows streamed in chunks, its peak RSS.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

PREPARE = r"""
import sys
from pathlib import Path
sys.path.insert(0, {root!r})
from store.db import init_store, open_store
from contracts import load_contract_file
from contracts.registry import store_contract, get_contract
from outcomes.ingest import ingest_file
source, work = Path({source!r}), Path({work!r})
url = f"sqlite:///{{work / 'bench.db'}}"
init_store(url)
engine = open_store(url)
store_contract(engine, load_contract_file({contract!r}))
ingest_file(engine, get_contract(engine, "hasselby-school").latest.terms, source / "people.csv", "participants",
            bytes(range(32)))
engine.dispose()
"""

# Each measured process starts on a prepared store, so its peak memory is the measured step's alone.
OPEN = r"""
import sys, time, resource
from pathlib import Path
sys.path.insert(0, {root!r})
from store.db import open_store
from contracts.registry import get_contract
from outcomes.ingest import ingest_file
source, work = Path({source!r}), Path({work!r})
engine = open_store(f"sqlite:///{{work / 'bench.db'}}")
stored = get_contract(engine, "hasselby-school")
key = bytes(range(32))
"""

OURS = OPEN + r"""
t = time.perf_counter()
report = ingest_file(engine, stored.latest.terms, source / "measurements.csv", "measurements", key)
elapsed = time.perf_counter() - t
assert report.status == "accepted", (report.status, report.errors[:3])
print(elapsed, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""

FLOOR = OPEN + r"""
import pyarrow.csv as pacsv, pyarrow.compute as pc
t = time.perf_counter()
table = pacsv.read_csv(source / "measurements.csv")
ids = pc.add(pc.cast(pc.utf8_slice_codeunits(table["participant_id"], 1), "int64"), 1).to_pylist()
rows = list(zip(ids, table["metric"].to_pylist(), [d.isoformat() for d in table["date"].to_pylist()],
                table["value"].to_pylist()))
with engine.begin() as conn:
    conn.exec_driver_sql(
        "INSERT INTO measurements (participant_id, metric, observed_on, value, contract_id, status, batch_id) "
        "VALUES (?, ?, ?, ?, 'hasselby-school', 'reported', 1)", rows)
elapsed = time.perf_counter() - t
print(elapsed, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def write_files(work: Path, rows: int) -> None:
    """Pupils of the Hässelby example (ids P0000000...) and ``rows`` attendance measurements in their windows."""
    import numpy as np
    import pandas as pd

    pupils = max(1000, rows // 10)
    rng = np.random.default_rng(0)
    starts = pd.Timestamp("2021-08-16") + pd.to_timedelta(rng.integers(0, 300, pupils), unit="D")
    pd.DataFrame({
        "participant_id": [f"P{i:07d}" for i in range(pupils)], "start": starts.strftime("%Y-%m-%d"),
        "school_year": rng.integers(4, 10, pupils), "sex": rng.choice(["female", "male"], pupils),
        "risk_level": rng.choice(["elevated", "high"], pupils),
    }).to_csv(work / "people.csv", index=False)
    with open(work / "measurements.csv", "w") as fh:
        fh.write("participant_id,metric,date,value\n")
        step = 1_000_000
        for begin in range(0, rows, step):
            n = np.arange(begin, min(rows, begin + step))
            who = n % pupils
            day = starts[who] + pd.to_timedelta((n // pupils) % 360, unit="D")
            pd.DataFrame({
                "participant_id": [f"P{i:07d}" for i in who], "metric": "attendance", "date": day.strftime("%Y-%m-%d"),
                "value": np.round(rng.uniform(0.5, 1.0, len(n)), 4),
            }).to_csv(fh, index=False, header=False)


def run(script: str, source: Path, work: Path) -> tuple[float, int]:
    """Prepare a store in ``work`` (in a process of its own), then run ``script`` on it in a fresh one."""
    work.mkdir()
    fill = dict(root=str(ROOT), source=str(source), work=str(work), contract=str(ROOT / "examples" / "hasselby_school.yaml"))
    subprocess.run([sys.executable, "-c", PREPARE.format(**fill)], check=True)
    out = subprocess.run([sys.executable, "-c", script.format(**fill)], capture_output=True, text=True, check=True).stdout
    seconds, rss = out.split()
    return float(seconds), int(rss)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--stream-rows", type=int, default=10_000_000, help="0 skips the memory run")
    args = parser.parse_args()
    result: dict[str, object] = {"rows": args.rows, "repeat": args.repeat}
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "source"
        source.mkdir()
        write_files(source, args.rows)
        ours, floor = [], []
        for i in range(args.repeat):
            ours.append(run(OURS, source, Path(tmp) / f"ours{i}"))
            floor.append(run(FLOOR, source, Path(tmp) / f"floor{i}"))
        t_ours, t_floor = statistics.median(t for t, _ in ours), statistics.median(t for t, _ in floor)
        result.update({
            "ingest_seconds": round(t_ours, 2), "floor_seconds": round(t_floor, 2),
            "ingest_rows_per_second": round(args.rows / t_ours), "floor_rows_per_second": round(args.rows / t_floor),
            "floor_to_ours": round(t_floor / t_ours, 2),
            "peak_rss_mib_ingest": round(statistics.median(m for _, m in ours) / 1024),
            "peak_rss_mib_floor": round(statistics.median(m for _, m in floor) / 1024),
        })
    if args.stream_rows:
        with tempfile.TemporaryDirectory() as tmp:
            source = Path(tmp) / "source"
            source.mkdir()
            write_files(source, args.stream_rows)
            seconds, rss = run(OURS, source, Path(tmp) / "stream")
            result.update({"stream_rows": args.stream_rows, "stream_seconds": round(seconds, 1),
                           "stream_rows_per_second": round(args.stream_rows / seconds),
                           "stream_peak_rss_mib": round(rss / 1024)})
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
