"""`sib serve --workers 2`: two server processes on one store answer alike at every moment, a write through one
seen by both at once (what each keeps is keyed by the store's state, read at every request)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

import httpx

from api.access import add_user
from store.db import open_store

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
    engine.dispose()
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

        def status() -> dict:
            # a new connection each time, so the kernel spreads the requests over both processes
            answer = httpx.get(f"{base}/contracts/{CONTRACT}/status", timeout=120,
                               headers={"Authorization": f"Bearer {investor}", "Connection": "close"})
            assert answer.status_code == 200, answer.text
            return answer.json()["payments"]

        before = [status() for _ in range(12)]
        assert all(b == before[0] for b in before)
        ledger = httpx.get(f"{base}/contracts/{CONTRACT}/ledger", timeout=120,
                           headers={"Authorization": f"Bearer {payer}"}).json()["items"]
        entry = next(e for e in ledger if e["payer"] == "district" and e["status"] == "calculated")
        flags = (entry.get("evidence") or {}).get("flag_codes", [])
        approved = httpx.post(f"{base}/contracts/{CONTRACT}/ledger/{entry['seq']}/approve", timeout=120,
                              headers={"Authorization": f"Bearer {payer}"},
                              json={"acknowledge": flags, "reason": "Checked against the register." if flags else None})
        assert approved.status_code == 200, approved.text
        after = [status() for _ in range(12)]
        assert all(a == after[0] for a in after)  # every answer after the write has it, from either process
        moved = Decimal(after[0]["by_status"]["approved"]) - Decimal(before[0]["by_status"]["approved"])
        assert moved == Decimal(entry["amount"]) > 0
    finally:
        server.terminate()
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            server.kill()
