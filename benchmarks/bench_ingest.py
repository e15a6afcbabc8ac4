"""Ingestion speed and memory, as ratios against a bare load of the same file in the same run.

    .venv/bin/python benchmarks/bench_ingest.py [--rows 200000] [--repeat 3]

The baseline reads the same CSV with pandas and writes its rows through the
same bulk path (one executemany of tuples into a fresh SQLite store): no
validation, no pseudonymisation, no checks against the contract, no batch.
``sib ingest`` does all of those; the ratio says what they cost.  Each variant runs in a fresh process
(so peak memory is its own), alternating, and the median is reported.
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

SETUP = r"""
import sys, time, resource
from pathlib import Path
sys.path.insert(0, {root!r})
from store.db import init_store, open_store
from contracts import load_contract_file
from contracts.registry import store_contract, get_contract
from outcomes.ingest import ingest_file
work = Path({work!r})
url = f"sqlite:///{{work / 'bench.db'}}"
init_store(url)
engine = open_store(url)
store_contract(engine, load_contract_file({contract!r}))
stored = get_contract(engine, "hasselby-school")
key = bytes(range(32))
ingest_file(engine, stored.latest.terms, work / "people.csv", "participants", key)
"""

OURS = SETUP + r"""
t = time.perf_counter()
report = ingest_file(engine, stored.latest.terms, work / "measurements.csv", "measurements", key)
elapsed = time.perf_counter() - t
assert report.status == "accepted", report.status
print(elapsed, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""

BASELINE = SETUP + r"""
import pandas as pd
from store.bulk import bulk_insert
from store.tables import MeasurementRow
t = time.perf_counter()
frame = pd.read_csv(work / "measurements.csv")
ids = pd.read_sql("select id from participants", engine)["id"].tolist()
rows = [("hasselby-school", ids[i % len(ids)], m, pd.Timestamp(d).date(), float(v), "reported", None, 1)
        for i, (m, d, v) in enumerate(zip(frame["metric"], frame["date"], frame["value"]))]
with engine.begin() as conn:
    bulk_insert(conn, MeasurementRow.__table__, ["contract_id", "participant_id", "metric", "observed_on", "value",
                "status", "source", "batch_id"], rows)
elapsed = time.perf_counter() - t
print(elapsed, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def write_files(work: Path, rows: int) -> None:
    """Pupils of the Hässelby example and ``rows`` attendance measurements inside their windows."""
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
    who = np.arange(rows) % pupils
    day = starts[who] + pd.to_timedelta((np.arange(rows) // pupils) % 360, unit="D")
    pd.DataFrame({
        "participant_id": [f"P{i:07d}" for i in who], "metric": "attendance", "date": day.strftime("%Y-%m-%d"),
        "value": np.round(rng.uniform(0.5, 1.0, rows), 4),
    }).to_csv(work / "measurements.csv", index=False)


def run(script: str) -> tuple[float, int]:
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout
    seconds, rss = out.split()
    return float(seconds), int(rss)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    contract = str(ROOT / "examples" / "hasselby_school.yaml")
    ours, base = [], []
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "source"
        source.mkdir()
        write_files(source, args.rows)
        for i in range(args.repeat):
            for name, script, sink in (("ours", OURS, ours), ("baseline", BASELINE, base)):
                work = Path(tmp) / f"{name}{i}"
                work.mkdir()
                for f in ("people.csv", "measurements.csv"):
                    (work / f).write_bytes((source / f).read_bytes())
                sink.append(run(script.format(root=str(ROOT), work=str(work), contract=contract)))
    t_ours, t_base = statistics.median(t for t, _ in ours), statistics.median(t for t, _ in base)
    m_ours, m_base = statistics.median(m for _, m in ours), statistics.median(m for _, m in base)
    print(json.dumps({
        "rows": args.rows, "repeat": args.repeat,
        "ingest_seconds": round(t_ours, 3), "baseline_seconds": round(t_base, 3),
        "ingest_rows_per_second": round(args.rows / t_ours), "baseline_rows_per_second": round(args.rows / t_base),
        "time_ratio_ingest_to_baseline": round(t_ours / t_base, 2),
        "peak_rss_mib_ingest": round(m_ours / 1024, 1), "peak_rss_mib_baseline": round(m_base / 1024, 1),
        "memory_ratio_ingest_to_baseline": round(m_ours / m_base, 2),
    }, indent=2))


if __name__ == "__main__":
    main()
