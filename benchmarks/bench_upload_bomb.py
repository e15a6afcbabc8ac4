"""Other requests' latency while an xlsx bomb and a big legitimate file are uploaded, before and after uploads ran
in a worker process with a time budget.

    .venv/bin/python benchmarks/bench_upload_bomb.py [--bomb-rows 1000000] [--rows 20000] [--seconds 10] \\
        [--window 60] [--budget 20]

``sib serve`` (one uvicorn process, as in production) runs in a subprocess on a SQLite store with the
Hässelby-style example contract.  For each way of running uploads — ``inline`` (SIB_UPLOAD_WORKER=inline:
ingestion in the server's own process, as before) and ``worker`` (the default: a forked worker process with
SIB_UPLOAD_SECONDS as its budget) — and for each file, a fresh server is started and one client sends
``GET /api/v1/health`` back to back on one keep-alive connection: first for ``--seconds`` with nothing else
(the baseline), then while a provider uploads the file with ``dry_run`` (until the upload answers, or for at most
``--window`` seconds).  Reported: p50 and p99 latency in both phases and **p99 during ÷ p99 baseline**, measured
in the same run on the same server, and what the upload answered and when.

The files: an xlsx bomb of ``--bomb-rows`` rows of one participant (1,000,000: under Excel's row limit, so the
limits checked from the archive let it through to openpyxl; about 1 MB compressed) and a legitimate .xlsx of
``--rows`` distinct participants.  Also timed: the refusal of a 3,000,000-row bomb (refused from the archive).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
import zipfile
from pathlib import Path
from typing import Iterable

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CONTRACT = "hasselby-school"


# -- files ----------------------------------------------------------------------------------------------------------

PARTS = {
    "[Content_Types].xml": '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<Types xmlns="http://schemas.'
    'openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.'
    'openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override '
    'PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main'
    '+xml"/><Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-'
    'officedocument.spreadsheetml.worksheet+xml"/></Types>',
    "_rels/.rels": '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship '
    'Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" '
    'Target="xl/workbook.xml"/></Relationships>',
    "xl/workbook.xml": '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://'
    'schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets><sheet name="Sheet1" sheetId="1" '
    'r:id="rId1"/></sheets></workbook>',
    "xl/_rels/workbook.xml.rels": '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" '
    'Target="worksheets/sheet1.xml"/></Relationships>',
}


def _row(values: list[str]) -> bytes:
    return b"<row>" + b"".join(f'<c t="inlineStr"><is><t>{v}</t></is></c>'.encode() for v in values) + b"</row>"


def write_xlsx(path: Path, blocks: Iterable[bytes]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in PARTS.items():
            archive.writestr(name, text)
        with archive.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as sheet:
            sheet.write(b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>')
            for block in blocks:
                sheet.write(block)
            sheet.write(b"</sheetData></worksheet>")
    return path


HEADER = ["participant_id", "start", "school_year", "sex", "risk_level"]


def bomb(path: Path, rows: int) -> Path:
    """``rows`` rows of one and the same participant: compresses to almost nothing, costs openpyxl every row."""
    row = _row(["HV-00001", "2021-09-01", "5", "female", "high"])
    return write_xlsx(path, [_row(HEADER)] + [row * min(100_000, rows - i) for i in range(0, rows, 100_000)])


def legitimate(path: Path, rows: int) -> Path:
    """``rows`` distinct, valid participants of the example contract."""
    def blocks() -> Iterable[bytes]:
        yield _row(HEADER)
        for i in range(rows):
            start = f"2021-{9 + i % 4:02d}-{1 + i % 28:02d}" if i % 2 else f"2022-{1 + i % 5:02d}-{1 + i % 28:02d}"
            yield _row([f"BIG-{i:07d}", start, str(4 + i % 6), ("female", "male")[i % 2], ("elevated", "high")[i % 3 == 0]])
    return write_xlsx(path, blocks())


# -- the server and the clients -------------------------------------------------------------------------------------

def prepare(folder: Path) -> tuple[str, str]:
    """A SQLite store with the example contract and a provider's token; (url, token)."""
    from api.access import add_user
    from contracts import load_contract_file
    from contracts.registry import store_contract
    from examples.synthetic import CONTRACT_FILES
    from outcomes.pseudonym import init_key
    from store.db import init_store, open_store

    url = f"sqlite:///{folder / 'sib.db'}"
    init_store(url)
    engine = open_store(url)
    store_contract(engine, load_contract_file(CONTRACT_FILES[CONTRACT]))
    init_key(folder / "sib.key")
    token = add_user(engine, "bench-provider", "provider", [CONTRACT])
    engine.dispose()
    return url, token


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(folder: Path, url: str, mode: str, budget: float) -> tuple[subprocess.Popen, int]:
    port = free_port()
    env = dict(os.environ, DATABASE_URL=url, SIB_KEY_FILE=str(folder / "sib.key"), SIB_UPLOAD_SECONDS=str(budget))
    env.pop("SIB_UPLOAD_WORKER", None)
    if mode == "inline":
        env["SIB_UPLOAD_WORKER"] = "inline"
    server = subprocess.Popen([str(Path(sys.executable).parent / "sib"), "serve", "--port", str(port)], env=env,
                              cwd=folder, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(150):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return server, port
        except OSError:
            time.sleep(0.2)
    server.kill()
    raise SystemExit("sib serve did not start")


def upload(port: int, token: str, path: Path, timeout: float) -> dict[str, object]:
    boundary = uuid.uuid4().hex
    body = (f'--{boundary}\r\nContent-Disposition: form-data; name="kind"\r\n\r\nparticipants\r\n'
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{path.name}"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n").encode() + path.read_bytes() + f"\r\n--{boundary}--\r\n".encode()
    started = time.perf_counter()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("POST", f"/api/v1/contracts/{CONTRACT}/batches?dry_run=true", body=body,
                     headers={"Authorization": f"Bearer {token}",
                              "Content-Type": f"multipart/form-data; boundary={boundary}"})
        response = conn.getresponse()
        answer = json.loads(response.read() or b"{}")
        status: object = response.status
        said = answer.get("status") or answer.get("error", {}).get("code")
    except (OSError, http.client.HTTPException):  # timed out, or the server was stopped while it worked
        status, said = "no answer", f"still running after {timeout:.0f} s"
    finally:
        conn.close()
    return {"http": status, "answer": said, "seconds": round(time.perf_counter() - started, 1)}


def health_latencies(port: int, until: threading.Event, at_most: float) -> list[float]:
    """Seconds per GET /api/v1/health, back to back on one keep-alive connection."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    latencies: list[float] = []
    deadline = time.perf_counter() + at_most
    while not until.is_set() and time.perf_counter() < deadline:
        started = time.perf_counter()
        conn.request("GET", "/api/v1/health")
        conn.getresponse().read()
        latencies.append(time.perf_counter() - started)
    conn.close()
    return latencies


def summary(latencies: list[float]) -> dict[str, float]:
    ordered = sorted(latencies)
    return {"requests": len(ordered), "p50_ms": round(statistics.median(ordered) * 1000, 2),
            "p99_ms": round(ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))] * 1000, 2)}


def measure(folder: Path, url: str, token: str, mode: str, path: Path, seconds: float, window: float,
            budget: float) -> dict[str, object]:
    server, port = start_server(folder, url, mode, budget)
    try:
        warm = folder / "warm.xlsx"
        if not warm.exists():
            legitimate(warm, 10)
        upload(port, token, warm, 60)  # the first upload starts the worker server: not part of what is measured
        baseline = health_latencies(port, threading.Event(), seconds)
        done = threading.Event()
        result: dict[str, object] = {}

        def send() -> None:
            result.update(upload(port, token, path, window + 5))
            done.set()

        sender = threading.Thread(target=send, daemon=True)
        sender.start()
        time.sleep(0.2)  # the body is sent; the server is working on it
        during = health_latencies(port, done, window)
        if mode == "worker":
            done.wait(timeout=budget + 10)  # the budget ends it
        if not result:
            result = {"http": "no answer", "answer": f"still running after {window:.0f} s", "seconds": None}
    finally:
        server.kill()
        server.wait(timeout=30)
    base, load = summary(baseline), summary(during)
    return {"upload": result, "baseline": base, "during": load, "p99_ratio": round(load["p99_ms"] / base["p99_ms"], 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bomb-rows", type=int, default=1_000_000)
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--seconds", type=float, default=10.0, help="baseline phase")
    parser.add_argument("--window", type=float, default=60.0, help="longest phase during an upload")
    parser.add_argument("--budget", type=float, default=20.0, help="SIB_UPLOAD_SECONDS of the worker")
    args = parser.parse_args()
    result: dict[str, object] = {k: v for k, v in vars(args).items()}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        url, token = prepare(folder)
        files = {"xlsx bomb": bomb(folder / "bomb.xlsx", args.bomb_rows),
                 "big legitimate xlsx": legitimate(folder / "big.xlsx", args.rows)}
        result["file_bytes"] = {name: path.stat().st_size for name, path in files.items()}
        for mode in ("inline", "worker"):
            for name, path in files.items():
                result[f"{mode}: {name}"] = measure(folder, url, token, mode, path, args.seconds, args.window,
                                                    args.budget)
                print(json.dumps({f"{mode}: {name}": result[f"{mode}: {name}"]}), file=sys.stderr, flush=True)
        from outcomes.readers import UnreadableFile, open_table

        three_million = bomb(folder / "three_million.xlsx", 3_000_000)
        result["file_bytes"]["3,000,000-row bomb"] = three_million.stat().st_size  # type: ignore[index]
        started = time.perf_counter()
        try:
            open_table(three_million)
        except UnreadableFile as exc:
            result["3,000,000-row bomb"] = {"refused": str(exc), "seconds": round(time.perf_counter() - started, 2)}
    print(json.dumps(result, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
