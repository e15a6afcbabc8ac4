"""Uploads checked and stored in a worker process of their own, with a time budget.

Reading a delivered file is CPU work in Python (openpyxl above all): run in the server's own process it holds
the interpreter lock and slows every other request (40× for one large workbook).  Here each upload is ingested
by a child process forked from a small server process that has already imported the ingestion code (so a child
starts in milliseconds, not the second an import takes), while the request's thread only waits.  A child that
exceeds ``SIB_UPLOAD_SECONDS`` (default 300) is killed: its transaction dies with it, so nothing is stored, and
the upload is refused with 503.  ``SIB_UPLOAD_WORKER=inline`` runs ingestion in the server process instead (as
before this existed; for comparison in benchmarks/bench_upload_bomb.py and for debugging).
"""

from __future__ import annotations

import multiprocessing
import os
import tempfile
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, Iterator

from sqlalchemy.engine import Engine

from language import Message, MessageError

DEFAULT_SECONDS = 300.0
PRELOAD = ["outcomes.ingest", "outcomes.kinds", "store.db", "openpyxl"]
_context_lock = threading.Lock()
_context: Any = None


class UploadTooSlow(MessageError):
    """The upload's check did not finish within the time budget; nothing was stored."""


@dataclass(frozen=True)
class Upload:
    contract: Any  # contracts.model.Contract
    path: Path
    kind: str
    key: bytes
    dry_run: bool
    actor_name: str | None
    filename: str
    today: date | None = None
    provider: str | None = None  # a provider user's delivery: only its own participants


def budget() -> float:
    try:
        return max(0.0, float(os.environ.get("SIB_UPLOAD_SECONDS", DEFAULT_SECONDS)))
    except ValueError:
        return DEFAULT_SECONDS


def ingest_upload(engine: Engine, upload: Upload, seconds: float | None = None) -> Any:
    """``ingest_file`` for an upload, in a worker process with a time budget: the report, or the same exceptions
    (IngestRefused, UnreadableFile, IngestError) as in process; UploadTooSlow when the budget is spent."""
    from outcomes.ingest import ingest_file

    if os.environ.get("SIB_UPLOAD_WORKER") == "inline":
        return ingest_file(engine, upload.contract, upload.path, upload.kind, upload.key, dry_run=upload.dry_run,
                           actor_name=upload.actor_name, filename=upload.filename, today=upload.today,
                           provider=upload.provider)
    seconds = budget() if seconds is None else seconds
    url = engine.url.render_as_string(hide_password=False)
    context = _worker_context()
    receiving, sending = context.Pipe(duplex=False)
    child = context.Process(target=_work, args=(sending, url, upload, dict(os.environ), os.getcwd()), daemon=True)
    child.start()
    sending.close()
    try:
        if not receiving.poll(seconds):
            child.kill()
            child.join()
            from outcomes.messages import TEXTS as O

            raise UploadTooSlow(O("upload_too_slow", file=upload.filename, seconds=_whole(seconds)))
        outcome, value = receiving.recv()
    except EOFError:  # the child died without a word (killed from outside, out of memory)
        outcome, value = "error", f"the worker process ended with code {child.exitcode}"
    finally:
        receiving.close()
        child.join(timeout=30)
    from outcomes.ingest import IngestError, IngestRefused
    from outcomes.readers import UnreadableFile

    if outcome == "report":
        return value
    if outcome == "refused":
        raise IngestRefused(value)
    if outcome in ("unreadable", "ingest_error"):
        raise (UnreadableFile if outcome == "unreadable" else IngestError)(value)
    raise RuntimeError(value)


def _whole(seconds: float) -> Any:
    return int(seconds) if float(seconds).is_integer() else seconds


def _worker_context() -> Any:
    """A forkserver that has imported the ingestion code once; each upload's process is forked from it."""
    global _context
    with _context_lock:
        if _context is None:
            context = multiprocessing.get_context("forkserver")
            context.set_forkserver_preload(PRELOAD)
            _context = context
        return _context


def _work(sending: Any, url: str, upload: Upload, environment: dict[str, str], folder: str) -> None:
    """In the worker: the server's environment and folder (key file, store), then ``ingest_file``."""
    os.environ.clear()
    os.environ.update(environment)
    os.chdir(folder)
    from outcomes.ingest import IngestError, IngestRefused, ingest_file
    from outcomes.readers import UnreadableFile
    from store.db import make_engine

    engine = make_engine(url)
    try:
        report = ingest_file(engine, upload.contract, upload.path, upload.kind, upload.key, dry_run=upload.dry_run,
                             actor_name=upload.actor_name, filename=upload.filename, today=upload.today,
                             provider=upload.provider)
        sending.send(("report", report))
    except IngestRefused as refused:
        sending.send(("refused", refused.report))
    except UnreadableFile as exc:
        sending.send(("unreadable", exc.message))
    except IngestError as exc:
        sending.send(("ingest_error", exc.message))
    except BaseException as exc:  # reported to the server, which answers 500 as for any unexpected failure
        sending.send(("error", f"{type(exc).__name__}: {exc}"))
    finally:
        engine.dispose()
        sending.close()


__all__ = ["Upload", "UploadTooSlow", "budget", "ingest_upload"]


@contextmanager
def received(file: Any) -> Iterator[tuple[Path, str]]:
    """An uploaded file (``UploadFile``) written to a private temporary folder, removed afterwards: its path and
    its name as uploaded (no folders, at most 200 characters)."""
    name = Path(file.filename or "upload.csv").name[:200] or "upload.csv"
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / ("upload" + (Path(name).suffix.lower()[:8] or ".csv"))
        with open(path, "wb") as out:
            for block in iter(lambda: file.file.read(1 << 20), b""):
                out.write(block)
        yield path, name


def as_uploaded(message: Message, path: Path, name: str) -> Message:
    """A message about the temporary file, naming the file as it was uploaded."""
    params = {k: (name if v in (str(path), path.name) else v) for k, v in message.params.items()}
    return Message(message.code, params)
