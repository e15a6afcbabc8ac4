"""`sib serve --workers 2`: two server processes on one store answer alike at every moment, a write through one
seen by both at once (what each keeps is keyed by the store's state, read at every request)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from pathlib import Path

import httpx
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from api.access import add_user, revoke_user
from contracts import load_contract_text
from contracts.registry import get_contract, store_contract
from evaluation.run import evaluate
from examples.synthetic import CONTRACT_FILES
from store.db import open_store
from store.tables import UserRow

ROOT = Path(__file__).resolve().parents[1]
CONTRACT = "hasselby-school"


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_server_processes_serve_the_same_figures_before_and_after_a_write(demo_copy) -> None:
    folder, _ = demo_copy
    engine = open_store()
    investor = add_user(engine, "fund", "investor", [CONTRACT])
    payer = add_user(engine, "district finance", "payer", [CONTRACT], party="district")
    port = _port()
    command = [sys.executable, "-c", f"import sys; sys.path.insert(0, {str(ROOT)!r}); from api.cli import run; run()",
               "serve", "--workers", "2", "--no-worker", "--port", str(port)]
    server = subprocess.Popen(command, cwd=folder, env=dict(os.environ), stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}/api/v1"
    try:
        deadline = time.monotonic() + 120
        while True:
            assert server.poll() is None and time.monotonic() < deadline, server.stderr.read().decode()[-2000:]
            try:
                if httpx.get(base + "/health", timeout=5).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        children = subprocess.run(["pgrep", "-P", str(server.pid)], capture_output=True, text=True).stdout.split()
        assert len(children) >= 2  # two server processes (and uvicorn's own helper, if any)

        def get(path: str) -> httpx.Response:
            # a new connection each time, so the kernel spreads the requests over both processes
            return httpx.get(f"{base}/contracts/{CONTRACT}{path}", timeout=120,
                             headers={"Authorization": f"Bearer {investor}", "Connection": "close"})

        def status() -> dict:
            answer = get("/status")
            assert answer.status_code == 200, answer.text
            return answer.json()

        before = [status() for _ in range(12)]
        assert all(b["payments"] == before[0]["payments"] for b in before)
        ledger = httpx.get(f"{base}/contracts/{CONTRACT}/ledger", timeout=120,
                           headers={"Authorization": f"Bearer {payer}"}).json()["items"]
        entry = next(e for e in ledger if e["payer"] == "district" and e["status"] == "calculated")
        flags = (entry.get("evidence") or {}).get("flag_codes", [])
        approved = httpx.post(f"{base}/contracts/{CONTRACT}/ledger/{entry['seq']}/approve", timeout=120,
                              headers={"Authorization": f"Bearer {payer}"},
                              json={"acknowledge": flags, "reason": "Checked against the register." if flags else None})
        assert approved.status_code == 200, approved.text
        after = [status() for _ in range(12)]
        # every answer after the write has it, from either process
        assert all(a["payments"] == after[0]["payments"] for a in after)
        moved = Decimal(after[0]["payments"]["by_status"]["approved"]) - Decimal(
            before[0]["payments"]["by_status"]["approved"])
        assert moved == Decimal(entry["amount"]) > 0
        _every_process_sees_the_next_writes(engine, get, status, after[0]["evaluation_run"])
    finally:
        engine.dispose()
        server.terminate()
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            server.kill()


AMENDED = "\namendments:\n  - version: 2\n    effective: 2025-07-31\n    reason: Target raised\n    retroactive: true\n" \
          "    set:\n      metrics.attendance.target: 0.9\n"


def _every_process_sees_the_next_writes(engine: Engine, get: Callable[[str], httpx.Response],
                                        status: Callable[[], dict], run_before: int) -> None:
    """A new run, a new contract version, a changed role and a revoked user, each written from outside the server
    and each in every answer after it, whichever process gives it (both keep the status and the parsed contract)."""
    run = evaluate(engine, get_contract(engine, CONTRACT), date(2025, 6, 30))  # a look back: a new trend point
    assert run.id != run_before and all(run.id in _trend_runs(status()) for _ in range(12))
    store_contract(engine, load_contract_text(CONTRACT_FILES[CONTRACT].read_text(encoding="utf-8") + AMENDED))
    assert all([v["version"] for v in get("/versions").json()] == [1, 2] for _ in range(12))
    with engine.begin() as conn:
        conn.execute(sa.update(UserRow).where(UserRow.name == "fund").values(role="provider", party="provider"))
    assert all(get("/status").status_code == 403 for _ in range(12))
    with engine.connect() as conn:
        user_id = conn.execute(sa.select(UserRow.id).where(UserRow.name == "fund")).scalar_one()
    revoke_user(engine, user_id)
    assert all(get("/status").status_code == 401 for _ in range(12))


def _trend_runs(status: dict) -> set[int]:
    return {point["run"] for metric in status["metrics"] for point in metric["trend"]}
