"""The status and every contract route read the caller's token and the contract's state in one query per request
(``api.admission``): whatever the process keeps (the parsed contract, the status's JSON bytes) is used only while
that query says it is still the store's state.  So every write is seen by the very next request: a ledger step, a
new evaluation run, a new contract version, a user whose role or contracts changed, a revoked user.  On PostgreSQL
the query goes over asyncio connections (``store.pg_async``), tested here for what they keep."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from api.access import add_user, revoke_user
from api.http import create_app
from contracts import load_contract_text
from contracts.registry import get_contract, store_contract
from evaluation.run import evaluate
from outcomes.batches import verify_batch
from outcomes.ingest import ingest_file
from payments.calculate import calculate
from payments.evidence import FLAGS as ALL_FLAGS
from payments.ledger import take_step
from store.tables import UserRow
from tests.helpers import MINIMAL, stored_minimal
from tests.test_api import measurements, people

CONTRACT = "test-contract"
STATUS = f"/api/v1/contracts/{CONTRACT}/status"
TARGET_RAISED = MINIMAL.rstrip("\n") + """
  - version: 3
    effective: 2022-10-01
    reason: Attendance target set
    set:
      metrics.attendance.target: 0.95
"""


@pytest.fixture
def world(engine: Engine, key: bytes, tmp_path: Path) -> Iterator[dict[str, Any]]:
    """The minimal contract with 40 pupils, one run, its ledger entries (none approved), and an investor."""
    stored = stored_minimal(engine)
    for kind, name, text in (("participants", "p.csv", people("A", 40)), ("measurements", "m.csv", measurements("A", 40))):
        (tmp_path / name).write_text(text)
        verify_batch(engine, ingest_file(engine, stored.latest.terms, tmp_path / name, kind, key).batch_id)
    entries = calculate(engine, stored, evaluate(engine, stored, date(2022, 6, 30)))
    token = add_user(engine, "fund", "investor", [CONTRACT])
    yield {"engine": engine, "client": TestClient(create_app(engine)), "token": token, "entries": entries}


def _get(world: dict[str, Any], path: str = STATUS) -> Any:
    return world["client"].get(path, headers={"Authorization": f"Bearer {world['token']}"})


def _status(world: dict[str, Any]) -> dict[str, Any]:
    answer = _get(world)
    assert answer.status_code == 200, answer.text
    assert _get(world).content == answer.content  # the same state: the same bytes again
    return answer.json()


def _user(world: dict[str, Any], **values: Any) -> None:
    with world["engine"].begin() as conn:
        conn.execute(sa.update(UserRow).where(UserRow.name == "fund").values(**values))


def test_a_ledger_step_and_a_new_run_are_in_the_next_status(world: dict[str, Any]) -> None:
    before = _status(world)
    entry = next(e for e in world["entries"] if e["amount"] > 0)
    take_step(world["engine"], CONTRACT, [entry["seq"]], "approved", "test", "evidence read", acknowledged=ALL_FLAGS)
    after = _status(world)
    moved = Decimal(after["payments"]["by_status"]["approved"]) - Decimal(before["payments"]["by_status"]["approved"])
    assert moved == entry["amount"] > 0
    run = evaluate(world["engine"], get_contract(world["engine"], CONTRACT), date(2022, 12, 31))
    later = _status(world)
    assert (later["evaluation_run"], later["as_of"]) == (run.id, "2022-12-31") != (after["evaluation_run"],
                                                                                  after["as_of"])


def test_a_new_contract_version_is_in_the_next_answer_of_every_contract_route(world: dict[str, Any]) -> None:
    before = _status(world)
    assert next(m for m in before["metrics"] if m["metric"] == "attendance")["target"] is None
    assert [v["version"] for v in _get(world, f"/api/v1/contracts/{CONTRACT}/versions").json()] == [1, 2]
    assert store_contract(world["engine"], load_contract_text(TARGET_RAISED)).added_versions == (3,)
    assert [v["version"] for v in _get(world, f"/api/v1/contracts/{CONTRACT}/versions").json()] == [1, 2, 3]
    after = _status(world)
    assert next(m for m in after["metrics"] if m["metric"] == "attendance")["target"] == "0.95"


def test_a_changed_or_revoked_user_is_refused_at_the_next_request(world: dict[str, Any]) -> None:
    _status(world)  # answered, and its bytes kept for this state
    _user(world, role="provider", party="provider")  # a role without status.read
    assert _get(world).status_code == 403
    _user(world, role="investor", party=None, contracts=["other-contract"])  # no longer this contract's user
    assert _get(world).status_code == 404
    _user(world, contracts=[CONTRACT])
    assert _get(world).status_code == 200
    with world["engine"].connect() as conn:
        user_id = conn.execute(sa.select(UserRow.id).where(UserRow.name == "fund")).scalar_one()
    revoke_user(world["engine"], user_id)
    refused = _get(world)
    assert refused.status_code == 401 and refused.json()["error"]["code"] == "unauthenticated"


def test_the_order_of_refusals_is_kept(world: dict[str, Any]) -> None:
    """401 before the path is looked at (an over-long contract id without a token is not a 422); with a token, an
    id PostgreSQL could not even compare (a NUL) is a contract that does not exist, not a server error."""
    client = world["client"]
    assert client.get(f"/api/v1/contracts/{'x' * 65}/status").status_code == 401
    assert _get(world, f"/api/v1/contracts/{'x' * 65}/status").status_code == 422
    assert _get(world, "/api/v1/contracts/test%00contract/status").status_code == 404
    assert _get(world, "/api/v1/contracts/no-such-contract/status").status_code == 404
    assert client.get(STATUS, headers={"Authorization": "Bearer sib_not-a-token"}).status_code == 401


# -- what the process keeps is made once per state, however many ask at once ---------------------------------------

def test_requests_that_arrive_while_a_value_is_made_wait_for_it(monkeypatch: pytest.MonkeyPatch) -> None:
    """Eight threads ask for the same key while its value is being made: it is made once, and all eight get it;
    a make that fails leaves the next caller to make it."""
    import api.status

    waiting, changed = [], threading.Condition()

    class Counted(threading.Event):
        def wait(self, timeout: float | None = None) -> bool:
            with changed:
                waiting.append(1)
                changed.notify_all()
            return super().wait(timeout)

    monkeypatch.setattr(api.status, "_Flight", Counted)
    key, made, release = ("test-single-flight", object()), [], threading.Event()

    def make() -> str:
        made.append(1)
        release.wait()
        return "value"

    answers: list[str] = []
    threads = [threading.Thread(target=lambda: answers.append(api.status.remembered(key, make))) for _ in range(8)]
    for thread in threads:
        thread.start()
    with changed:  # one makes it, seven wait for it (the bound only keeps a broken cache from hanging the suite)
        seven = changed.wait_for(lambda: len(waiting) == 7, timeout=60)
    release.set()
    for thread in threads:
        thread.join()
    assert seven and made == [1] and answers == ["value"] * 8

    failed = ("test-single-flight", object())
    with pytest.raises(RuntimeError):
        api.status.remembered(failed, lambda: (_ for _ in ()).throw(RuntimeError("no")))
    assert api.status.remembered(failed, lambda: "made again") == "made again"


# -- PostgreSQL's asyncio connections (store.pg_async) ------------------------------------------------------------

@pytest.fixture
def pg(postgres_url: str) -> Iterator[Engine]:
    from tests.conftest import initialised

    with initialised(postgres_url) as engine:
        yield engine


PID = "SELECT pg_backend_pid() AS pid"


def test_a_kept_connection_the_server_closed_is_replaced(pg: Engine) -> None:
    from store.pg_async import close_connections, connections

    async def scenario() -> tuple[int, int, int]:
        first = (await connections(pg).first(PID, {})).pid
        again = (await connections(pg).first(PID, {})).pid  # the same connection, kept
        with pg.connect() as conn:
            assert conn.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": first}).scalar_one()
        replaced = (await connections(pg).first(PID, {})).pid  # answered on a new one, not an error
        await close_connections()
        return first, again, replaced

    first, again, replaced = asyncio.run(scenario())
    assert first == again != replaced


def test_the_connections_of_a_closed_event_loop_are_closed(pg: Engine) -> None:
    from store.pg_async import close_connections, connections

    async def one() -> Any:
        kept = connections(pg)
        await kept.first(PID, {})
        return kept.idle[0]

    old = asyncio.run(one())  # its loop is closed when asyncio.run returns
    assert not old.closed
    new = asyncio.run(one())  # a new loop: the old loop's connection is closed first
    assert old.closed and not new.closed

    async def closing() -> Any:
        kept = connections(pg)
        await kept.first(PID, {})
        conn = kept.idle[0]
        await close_connections()  # what the server does at shutdown
        return conn

    closed_at_shutdown = asyncio.run(closing())  # (and, in its new loop, the previous loop's closed first)
    assert new.closed and closed_at_shutdown.closed
