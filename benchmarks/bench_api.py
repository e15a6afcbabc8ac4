"""The investor status endpoint and dashboard page under load from a second process, on SQLite and PostgreSQL.

    sudo apt install wrk                        # the load generator (Debian's package)
    .venv/bin/python benchmarks/bench_api.py [--participants 10000] [--seconds 15] [--workers 1,2]

A contract of 10,000 pupils (the Hässelby-style example, synthetic data) is
ingested, verified, evaluated and paid; then ``sib serve`` (one uvicorn
process) answers ``GET /api/v1/contracts/{id}/status`` as an investor, loaded
by wrk on loopback (one thread, eight connections), and then the investor's
dashboard page (``GET /contracts/{id}/dashboard``, HTML with inline SVG trends,
the session cookie).  In the same run, the
same server is loaded on ``GET /api/v1/health`` (no token, no store), the
floor of any endpoint; the ratios are status ÷ health and dashboard ÷ health
throughput.  PostgreSQL
runs only when a server answers (SIB_TEST_POSTGRES_URL or postgres@127.0.0.1).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
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

ADMIN = os.environ.get("SIB_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


def prepare(url: str, folder: Path, participants: int) -> tuple[str, str]:
    """A store with the example contract and ``participants`` pupils, evaluated and paid; an investor's token and
    a session of the same investor (the page's cookie)."""
    from api.access import add_user
    from contracts import load_contract_file
    from contracts.registry import get_contract, store_contract
    from evaluation.run import evaluate
    from examples.synthetic import CONTRACT_FILES, hasselby
    from outcomes.batches import verify_batch
    from outcomes.ingest import ingest_file
    from outcomes.pseudonym import init_key, load_key
    from payments.calculate import calculate
    from store.db import init_store, open_store
    from store.seal import key_file

    init_store(url)
    engine = open_store(url)
    store_contract(engine, load_contract_file(CONTRACT_FILES["hasselby-school"]))
    stored = get_contract(engine, "hasselby-school")
    key_path = folder / "sib.key"
    if not key_path.exists():
        init_key(key_path)
    key = load_key(key_path)
    data = folder / "data"
    data.mkdir(exist_ok=True)
    for kind, path in hasselby(data, n=participants):
        verify_batch(engine, ingest_file(engine, stored.latest.terms, path, kind, key).batch_id)
    with key_file(key_path):  # the ledger is sealed with the store's key
        calculate(engine, stored, evaluate(engine, stored, date(2025, 7, 31)))
    token = add_user(engine, "bench-investor", "investor", ["hasselby-school"])
    from api.access import authenticate
    from api.web.session import start_session

    with engine.connect() as conn:
        session = start_session(engine, authenticate(conn, token).id)
    engine.dispose()
    return token, session


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wrk(url: str, seconds: int, token: str | None, cookie: bool = False) -> dict[str, float]:
    args = ["wrk", "-t1", "-c8", f"-d{seconds}s", "--latency", url]
    if token:
        args[1:1] = ["-H", f"Cookie: sib_session={token}" if cookie else f"Authorization: Bearer {token}"]
    text = subprocess.run(args, capture_output=True, text=True, check=True).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)", text)
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}[p99.group(2)]
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", text)  # a redirect to the login page counts here
    return {"requests_per_second": rate, "p99_ms": round(float(p99.group(1)) * scale, 2),
            "non_2xx": int(non_2xx.group(1)) if non_2xx else 0}


def warm(url: str, token: str, workers: int) -> None:
    """Every server process computes the status before the clock starts.  Each request goes on a new connection,
    which the kernel gives to one process or the other, so asking 4 × workers times did not make sure of it (one
    run's two processes answered nothing in 10 s: every request waited for a forecast of 10,000 pupils, longer
    than wrk's 2 s timeout).  Asked until 8 answers per process in a row were quick (a cached status is answered
    in milliseconds, a first one in seconds)."""
    in_a_row = 0
    for _ in range(500):
        took = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{time_total}", "-H", "Connection: close",
                               "-H", f"Authorization: Bearer {token}", url],
                              check=True, capture_output=True, text=True).stdout
        in_a_row = in_a_row + 1 if float(took) < 1.0 else 0
        if in_a_row >= 8 * workers:
            return


def measure(url: str, folder: Path, tokens: tuple[str, str], seconds: int, workers: int = 1) -> dict[str, object]:
    token, session = tokens
    port = free_port()
    env = dict(os.environ, DATABASE_URL=url, SIB_KEY_FILE=str(folder / "sib.key"))
    server = subprocess.Popen([str(Path(sys.executable).parent / "sib"), "serve", "--port", str(port), "--no-worker",
                               "--workers", str(workers)], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.2)
        status_url = f"{base}/api/v1/contracts/hasselby-school/status"
        warm(status_url, token, workers)
        health = wrk(f"{base}/api/v1/health", seconds, None)
        status = wrk(status_url, seconds, token)
        dashboard = wrk(f"{base}/contracts/hasselby-school/dashboard", seconds, session, cookie=True)
    finally:
        server.terminate()
        server.wait(timeout=30)
    return {"status": status, "dashboard": dashboard, "health": health,
            "ratio_status_to_health": round(status["requests_per_second"] / health["requests_per_second"], 2),
            "ratio_dashboard_to_health": round(dashboard["requests_per_second"] / health["requests_per_second"], 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--participants", type=int, default=10000)
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--workers", default="1,2", help="server processes to measure with, e.g. 1,2")
    args = parser.parse_args()
    counts = [int(n) for n in args.workers.split(",")]
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed (Debian: apt install wrk)")
    result: dict[str, object] = {"participants": args.participants, "seconds": args.seconds}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        url = f"sqlite:///{folder / 'sib.db'}"
        token = prepare(url, folder, args.participants)
        result["sqlite"] = {f"workers_{n}": measure(url, folder, token, args.seconds, n) for n in counts}
        try:
            admin = sa.create_engine(ADMIN, isolation_level="AUTOCOMMIT")
            name = f"sib_bench_{uuid.uuid4().hex[:8]}"
            with admin.connect() as conn:
                conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        except Exception as exc:  # no server: say so, measure SQLite only
            result["postgresql"] = f"skipped: {type(exc).__name__}"
        else:
            pg = sa.engine.make_url(ADMIN).set(database=name).render_as_string(hide_password=False)
            try:
                token = prepare(pg, folder, args.participants)
                result["postgresql"] = {f"workers_{n}": measure(pg, folder, token, args.seconds, n) for n in counts}
            finally:
                with admin.connect() as conn:
                    conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    for store in ("sqlite", "postgresql"):
        found = result.get(store)
        if isinstance(found, dict) and "workers_1" in found and "workers_2" in found:
            found["status_scaling_2_to_1"] = round(found["workers_2"]["status"]["requests_per_second"]
                                                   / found["workers_1"]["status"]["requests_per_second"], 2)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
