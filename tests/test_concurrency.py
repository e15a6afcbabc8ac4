"""Races decided by the database: each contender has its own engine and connection, they start together
(a barrier), and the store's constraints and transactions decide who wins — on SQLite and on PostgreSQL."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any, Callable

import pytest

from payments.evidence import FLAGS as ALL_FLAGS
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from outcomes.ingest import ingest_file
from payments.calculate import calculate
from payments.ledger import StepRefused, current_status, read_ledger, take_step, verify_chain
from store.db import open_store
from store.tables import ImportBatchRow, LedgerEntryRow, LedgerStepRow, ParticipantRow
from tests.helpers import row_counts, stored_minimal, write
from tests.test_payments import _store_run

CONTENDERS = 4


def race(engine: Engine, attempt: Callable[[Engine], Any], n: int = CONTENDERS) -> list[Any]:
    """Run ``attempt`` in ``n`` threads at once, each on an engine (and so a connection) of its own.

    Returns what each returned, or the exception it raised.
    """
    url = engine.url.render_as_string(hide_password=False)
    engines = [open_store(url) for _ in range(n)]
    for own in engines:  # connect before the start, so the race is over the work and not over connecting
        with own.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    start = threading.Barrier(n)
    results: list[Any] = [None] * n

    def contender(i: int) -> None:
        start.wait()
        try:
            results[i] = attempt(engines[i])
        except Exception as exc:  # kept and asserted on by the test
            results[i] = exc

    threads = [threading.Thread(target=contender, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for own in engines:
        own.dispose()
    return results


def people(n: int) -> str:
    return "participant_id,start,school_year,sex\n" + "".join(
        f"CASE-{i:05d},2020-{1 + i % 12:02d}-{1 + i % 28:02d},{4 + i % 6},{'female' if i % 2 else 'male'}\n"
        for i in range(n))


def test_the_same_file_imported_at_once_makes_one_batch(engine: Engine, key: bytes, tmp_path: Path) -> None:
    contract = stored_minimal(engine).latest.terms
    path = write(tmp_path, "people.csv", people(3000))  # big enough that the imports overlap
    reports = race(engine, lambda own: ingest_file(own, contract, path, "participants", key))
    assert not [r for r in reports if isinstance(r, Exception)], reports
    assert sorted(r.status for r in reports) == ["accepted"] + ["already_imported"] * (CONTENDERS - 1)
    assert len({r.batch_id for r in reports}) == 1
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(ImportBatchRow)).scalar_one() == 1
        assert conn.execute(sa.select(sa.func.count()).select_from(ParticipantRow)).scalar_one() == 3000


def test_two_calculations_of_one_period_at_once_make_one_set_of_entries(engine: Engine) -> None:
    stored = stored_minimal(engine)
    run = _store_run(engine, 1, 2, [(i, "c1") for i in range(1, 11)] + [(50, "c2")])
    results = race(engine, lambda own: calculate(own, stored, run))
    assert not [r for r in results if isinstance(r, Exception)], results
    written = [r for r in results if r]
    assert len(written) == 1 and [e["amount"] for e in written[0]] == [12000, 1200], results
    ledger = read_ledger(engine, "test-contract")
    assert list(ledger["seq"]) == [1, 2] and list(ledger["amount"]) == [12000, 1200]
    assert verify_chain(engine, "test-contract").ok


def test_two_approvals_of_one_entry_make_one_transition_and_one_refusal(engine: Engine) -> None:
    stored = stored_minimal(engine)
    calculate(engine, stored, _store_run(engine, 1, 2, [(1, "c1")]))
    results = race(engine, lambda own: take_step(own, "test-contract", [1], "approved", "payer:anna", "evidence read", acknowledged=ALL_FLAGS), n=2)
    taken = [r for r in results if isinstance(r, list)]
    refused = [r for r in results if isinstance(r, StepRefused)]
    assert len(taken) == 1 and len(refused) == 1, results
    assert str(refused[0]) == "entry 1 is approved; it can become invoiced or rejected, not approved"
    with engine.connect() as conn:
        steps = conn.execute(sa.select(LedgerStepRow.entry_seq, LedgerStepRow.status)).all()
    assert steps == [(1, "approved")] and current_status(engine, "test-contract") == {1: "approved"}
    assert verify_chain(engine, "test-contract").ok


# The constraints that decide those races, each refusing a second writer on its own.

def test_the_database_refuses_a_second_batch_of_one_file(engine: Engine, key: bytes, tmp_path: Path) -> None:
    contract = stored_minimal(engine).latest.terms
    first = ingest_file(engine, contract, write(tmp_path, "p.csv", people(3)), "participants", key)
    counts = row_counts(engine)
    with pytest.raises(IntegrityError), engine.begin() as conn:
        conn.execute(sa.insert(ImportBatchRow), {
            "contract_id": "test-contract", "kind": "participants", "filename": "copy.csv", "rows": 0, "summary": {},
            "sha256": first.sha256, "created_by": "t"})
    assert row_counts(engine) == counts


def test_the_database_refuses_a_second_entry_or_step_at_one_place(engine: Engine) -> None:
    stored = stored_minimal(engine)
    calculate(engine, stored, _store_run(engine, 1, 2, [(1, "c1")]))
    take_step(engine, "test-contract", [1], "approved", "payer:anna", "evidence read", acknowledged=ALL_FLAGS)
    with engine.connect() as conn:
        entry = dict(conn.execute(sa.select(LedgerEntryRow)).mappings().one())
        step = dict(conn.execute(sa.select(LedgerStepRow)).mappings().one())
    counts = row_counts(engine)
    with pytest.raises(IntegrityError), engine.begin() as conn:  # the same sequence number twice
        conn.execute(sa.insert(LedgerEntryRow), {k: v for k, v in entry.items() if k != "id"})
    with pytest.raises(IntegrityError), engine.begin() as conn:  # the same entry approved twice
        conn.execute(sa.insert(LedgerStepRow), {k: v for k, v in step.items() if k != "id"} | {"seq": 2})
    assert row_counts(engine) == counts
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(LedgerStepRow)).scalar_one() == 1
