"""Shared fixtures: stores on SQLite and PostgreSQL, a key, and a CLI runner.

Every test that uses a store runs twice: on SQLite and on PostgreSQL (the
``engine``, ``any_url``, ``module_url`` and ``sib`` fixtures are parametrised
over both).  A PostgreSQL test uses a database of its own, created for it and
dropped after it.  Where no server is reachable the PostgreSQL leg is skipped
with a notice at the end of the run, unless SIB_REQUIRE_POSTGRES=1 (as in CI),
where it fails.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import tempfile
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Iterator

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine, make_url

from store.db import init_store, open_store

# The CLI speaks the locale's language; the tests read its English (tests of Swedish set SIB_LANG=sv themselves).
os.environ["SIB_LANG"] = "en"


# A key for every test that does not choose its own (SIB_KEY_FILE): ledger entries, steps and audit events are
# sealed with it, as in any store that holds a ledger.  Tests of a missing key point SIB_KEY_FILE elsewhere.
if not os.environ.get("SIB_KEY_FILE"):
    _SESSION_KEY = Path(tempfile.mkdtemp(prefix="sib-tests-")) / "session.key"
    _SESSION_KEY.write_text(bytes(range(32, 64)).hex() + "\n", encoding="ascii")
    os.environ["SIB_KEY_FILE"] = str(_SESSION_KEY)

POSTGRES_ADMIN_URL = os.environ.get("SIB_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
REQUIRE_POSTGRES = os.environ.get("SIB_REQUIRE_POSTGRES") == "1"
_postgres_skipped: list[str] = []


def _postgres_reason() -> str | None:
    """None if a PostgreSQL server answers, else why not."""
    try:
        engine = sa.create_engine(POSTGRES_ADMIN_URL, connect_args={"connect_timeout": 3})
        with engine.connect() as conn:
            conn.execute(sa.text("select 1"))
        engine.dispose()
        return None
    except Exception as exc:  # any failure to connect means: no usable server
        return f"{type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc).strip() else ''}"


_POSTGRES_PROBLEM: list[str | None] = []


def postgres_problem() -> str | None:
    if not _POSTGRES_PROBLEM:
        _POSTGRES_PROBLEM.append(_postgres_reason())
    return _POSTGRES_PROBLEM[0]


STORES = ("sqlite", "postgresql")


def _require_postgres() -> None:
    problem = postgres_problem()
    if problem is not None:
        if REQUIRE_POSTGRES:
            pytest.fail(f"SIB_REQUIRE_POSTGRES=1 but PostgreSQL is unreachable at {POSTGRES_ADMIN_URL}: {problem}")
        _postgres_skipped.append(problem)
        pytest.skip(f"PostgreSQL unreachable at {POSTGRES_ADMIN_URL}")


@contextmanager
def postgres_database() -> Iterator[str]:
    """A fresh, empty PostgreSQL database of its own, dropped afterwards (skips or fails without a server)."""
    _require_postgres()
    name = f"sib_test_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@contextmanager
def store_url(kind: str, folder: Path) -> Iterator[str]:
    """An empty store of ``kind``: a SQLite file in ``folder``, or a PostgreSQL database of its own."""
    if kind == "sqlite":
        yield f"sqlite:///{folder / 'sib.db'}"
    else:
        with postgres_database() as url:
            yield url


@pytest.fixture
def postgres_url() -> Iterator[str]:
    with postgres_database() as url:
        yield url


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'sib.db'}"


@pytest.fixture(params=STORES)
def any_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty store, once on SQLite and once on PostgreSQL: the whole suite runs on both."""
    with store_url(request.param, tmp_path) as url:
        yield url


@pytest.fixture(scope="module", params=STORES)
def module_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """As any_url, shared by the tests of one module (for worlds that are slow to build)."""
    with store_url(request.param, tmp_path_factory.mktemp("store")) as url:
        yield url


@contextmanager
def initialised(url: str) -> Iterator[Engine]:
    init_store(url)
    eng = open_store(url)
    try:
        yield eng
    finally:
        eng.dispose()


@pytest.fixture
def engine(any_url: str) -> Iterator[Engine]:
    """An initialised store on each database."""
    with initialised(any_url) as eng:
        yield eng


@pytest.fixture
def sqlite_engine(sqlite_url: str) -> Iterator[Engine]:
    """An initialised SQLite store, for what only SQLite has (its file, its pragmas)."""
    with initialised(sqlite_url) as eng:
        yield eng


@pytest.fixture
def key() -> bytes:
    return bytes(range(32))


@pytest.fixture(autouse=True)
def example_cost_files() -> Iterator[None]:
    """Each test starts knowing the example contracts' cost files and nothing else, as after `sib costs load` of
    examples/costs/ (the registry is process-wide: a cost file one test registers must not leak into the next)."""
    from contracts import costs

    costs._KNOWN.clear()
    for parsed in _example_costs():
        costs.register(parsed)
    yield
    costs._KNOWN.clear()


@lru_cache(maxsize=1)
def _example_costs() -> tuple:
    from contracts import costs
    from examples.synthetic import COST_FILES

    return tuple(costs.load_costs_file(path)[0] for path in COST_FILES.values())


@dataclass
class Result:
    code: int
    out: str
    err: str


@pytest.fixture
def sib(any_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]):
    """Run `sib ARGS...` in-process in a temporary folder with its own store (on each database) and key."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", any_url)
    monkeypatch.setenv("SIB_KEY_FILE", str(tmp_path / "sib.key"))
    monkeypatch.setenv("SIB_ACTOR", "test:intermediary")
    from api.cli import main

    def run(*args: str) -> Result:
        capsys.readouterr()
        code = main([str(a) for a in args])
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return run


@pytest.fixture(scope="session")
def demo(tmp_path_factory: pytest.TempPathFactory):
    """`sib demo --json` run once for the whole session (it is the slowest thing the suite does).

    Tests that change the store work on a copy (``demo_copy``), so every test sees the demo as it was written.
    """
    folder = tmp_path_factory.mktemp("demo")
    monkeypatch = pytest.MonkeyPatch()
    monkeypatch.chdir(folder)
    monkeypatch.delenv("DATABASE_URL", raising=False)
    from api.cli import main

    buffer = io.StringIO()
    monkeypatch.setattr("sys.stdout", buffer)
    code = main(["demo", "--json"])
    monkeypatch.undo()
    assert code == 0
    summary = json.loads(buffer.getvalue())
    return folder, {row["contract"]: row for row in summary["contracts"]}, summary


@pytest.fixture
def demo_copy(demo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]):
    """`sib` on a private copy of the demo store: returns (folder, run) where run(*args) -> Result."""
    folder = demo[0] / "sib-demo"
    shutil.copy(folder / "sib.db", tmp_path / "sib.db")
    shutil.copy(folder / "sib.key", tmp_path / "sib.key")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'sib.db'}")
    monkeypatch.setenv("SIB_KEY_FILE", str(tmp_path / "sib.key"))
    monkeypatch.setenv("SIB_ACTOR", "test:intermediary")
    from api.cli import main

    def run(*args: str) -> Result:
        capsys.readouterr()
        code = main([str(a) for a in args])
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return tmp_path, run


# -- system programs the tests drive: poppler for PDFs, Chromium for the pages ----------------------------------------

REQUIRE_BROWSER = os.environ.get("SIB_REQUIRE_BROWSER") == "1"
PROGRAMS = {"pdftotext": "poppler-utils", "pdftoppm": "poppler-utils", "pdfinfo": "poppler-utils",
            "chromium": "chromium", "chromedriver": "chromium-driver"}
_programs_skipped: list[str] = []
_install_tried: list[str] = []


def _install(packages: list[str]) -> str | None:
    """Install Debian packages when we may (root with apt-get); None on success, else why not."""
    if shutil.which("apt-get") is None or not hasattr(os, "geteuid") or os.geteuid() != 0:
        return "not root on a Debian system, so the test setup cannot install them"
    if set(packages) <= set(_install_tried):
        return "installing them failed earlier in this run"
    _install_tried.extend(packages)
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    done = subprocess.run(["apt-get", "install", "-y", "-q", *packages], env=env, capture_output=True, text=True,
                          timeout=900)
    if done.returncode != 0:
        update = subprocess.run(["apt-get", "update", "-q"], env=env, capture_output=True, text=True, timeout=600)
        done = subprocess.run(["apt-get", "install", "-y", "-q", *packages], env=env, capture_output=True, text=True,
                              timeout=900) if update.returncode == 0 else update
    return None if done.returncode == 0 else f"apt-get failed: {(done.stderr or done.stdout).strip().splitlines()[-1:]}"


def require_programs(*names: str) -> dict[str, str]:
    """The paths of system programs, installed from Debian packages if missing; a visible skip if impossible
    (a failure where SIB_REQUIRE_BROWSER=1, as in CI)."""
    missing = [n for n in names if shutil.which(n) is None]
    if missing:
        problem = _install(sorted({PROGRAMS[n] for n in missing}))
        missing = [n for n in names if shutil.which(n) is None]
        if missing:
            reason = f"{', '.join(missing)} not available ({problem or 'not found after installing'})"
            if REQUIRE_BROWSER:
                pytest.fail(f"SIB_REQUIRE_BROWSER=1 but {reason}")
            _programs_skipped.append(reason)
            pytest.skip(reason)
    return {n: shutil.which(n) or n for n in names}


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if _programs_skipped:
        terminalreporter.write_sep("!", "PDF or browser tests SKIPPED", yellow=True)
        terminalreporter.write_line(
            f"{len(_programs_skipped)} test(s) did not run: {_programs_skipped[0]}. Install the Debian packages "
            "poppler-utils, chromium and chromium-driver to run them; CI sets SIB_REQUIRE_BROWSER=1.")
    if _postgres_skipped:
        terminalreporter.write_sep("!", "PostgreSQL tests SKIPPED", yellow=True)
        terminalreporter.write_line(
            f"{len(_postgres_skipped)} PostgreSQL test(s) did not run: no server at {POSTGRES_ADMIN_URL} "
            f"({_postgres_skipped[0]}). Set SIB_TEST_POSTGRES_URL to run them; CI sets SIB_REQUIRE_POSTGRES=1."
        )
