"""Shared fixtures: stores on SQLite and PostgreSQL, a key, and a CLI runner.

PostgreSQL tests use a database of their own, created for the test and
dropped after it.  Where no server is reachable they are skipped with a notice
at the end of the run, unless SIB_REQUIRE_POSTGRES=1 (as in CI), where they fail.
"""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine, make_url

from store.db import init_store, open_store

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


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test, dropped afterwards."""
    problem = postgres_problem()
    if problem is not None:
        if REQUIRE_POSTGRES:
            pytest.fail(f"SIB_REQUIRE_POSTGRES=1 but PostgreSQL is unreachable at {POSTGRES_ADMIN_URL}: {problem}")
        _postgres_skipped.append(problem)
        pytest.skip(f"PostgreSQL unreachable at {POSTGRES_ADMIN_URL}")
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


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'sib.db'}"


@pytest.fixture(params=["sqlite", "postgresql"])
def any_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The same test on both stores."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'sib.db'}"
    return request.getfixturevalue("postgres_url")


@pytest.fixture
def engine(sqlite_url: str) -> Iterator[Engine]:
    init_store(sqlite_url)
    eng = open_store(sqlite_url)
    yield eng
    eng.dispose()


@pytest.fixture
def any_engine(any_url: str) -> Iterator[Engine]:
    init_store(any_url)
    eng = open_store(any_url)
    yield eng
    eng.dispose()


@pytest.fixture
def key() -> bytes:
    return bytes(range(32))


@dataclass
class Result:
    code: int
    out: str
    err: str


@pytest.fixture
def sib(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]):
    """Run `sib ARGS...` in-process in a temporary folder with its own store and key."""
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

    return run


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if _postgres_skipped:
        terminalreporter.write_sep("!", "PostgreSQL tests SKIPPED", yellow=True)
        terminalreporter.write_line(
            f"{len(_postgres_skipped)} PostgreSQL test(s) did not run: no server at {POSTGRES_ADMIN_URL} "
            f"({_postgres_skipped[0]}). Set SIB_TEST_POSTGRES_URL to run them; CI sets SIB_REQUIRE_POSTGRES=1."
        )
