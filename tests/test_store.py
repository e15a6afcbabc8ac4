"""The store: round trips on SQLite and PostgreSQL, migrations, and clear refusals."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from payments.evidence import FLAGS as ALL_FLAGS
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlmodel import SQLModel

from contracts import load_contract_file, load_contract_text
from contracts.registry import UnknownContract, VersionConflict, get_contract, list_contracts, store_contract
from examples.synthetic import CONTRACT_FILES
from store.db import StoreError, head_revision, init_store, open_store
from store.tables import AuditEventRow, ContractVersionRow, LedgerEntryRow

MINIMAL = (Path(__file__).parent / "data" / "minimal.yaml").read_text(encoding="utf-8")


def test_contract_round_trip_keeps_every_term(engine) -> None:
    for path in CONTRACT_FILES.values():
        cf = load_contract_file(path)
        outcome = store_contract(engine, cf)
        assert outcome.added_versions == tuple(v.version for v in cf.versions)
        stored = get_contract(engine, cf.id)
        assert [v.terms for v in stored.versions] == [v.terms for v in cf.versions]
        assert [v.fingerprint for v in stored.versions] == [v.fingerprint for v in cf.versions]
        assert [(v.version, v.effective, v.reason) for v in stored.versions] == [
            (v.version, v.effective, v.reason) for v in cf.versions]
    assert [c["id"] for c in list_contracts(engine)] == sorted(CONTRACT_FILES)


def test_loading_the_same_file_twice_changes_nothing(engine) -> None:
    cf = load_contract_text(MINIMAL, "c.yaml")
    store_contract(engine, cf)
    again = store_contract(engine, cf)
    assert again.added_versions == () and again.unchanged_versions == (1, 2)
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(ContractVersionRow)).scalar() == 2
        assert conn.execute(sa.select(sa.func.count()).select_from(AuditEventRow)).scalar() == 1


def test_an_amendment_adds_a_version_and_stored_versions_never_change(engine) -> None:
    original = MINIMAL.split("amendments:")[0]
    store_contract(engine, load_contract_text(original, "c.yaml"))
    assert store_contract(engine, load_contract_text(MINIMAL, "c.yaml")).added_versions == (2,)
    changed = MINIMAL.replace("price: 1000", "price: 999", 1)
    with pytest.raises(VersionConflict, match="version 1 of contract 'test-contract' is already stored with other terms"):
        store_contract(engine, load_contract_text(changed, "c.yaml"))
    assert get_contract(engine, "test-contract").versions[0].terms.payments.mechanisms[0].price == Decimal(1000)


def test_decimal_amounts_survive_the_store_exactly(engine) -> None:
    store_contract(engine, load_contract_text(MINIMAL, "c.yaml"))
    with engine.begin() as conn:
        run_id = conn.execute(sa.text(
            "INSERT INTO evaluation_runs (contract_id, contract_version, as_of, include_unverified, inputs_fingerprint,"
            " parameters, code_version, results, created_at, created_by) VALUES ('test-contract', 1, '2021-01-01', "
            ":f, 'x', '{}', 'test', '{}', '2021-01-01', 'test') RETURNING id"), {"f": False}).scalar_one()
        conn.execute(sa.insert(LedgerEntryRow), {
            "contract_id": "test-contract", "seq": 1, "period": "2021-Q1", "mechanism": "card", "payer": "city",
            "cohort": "c1", "kind": "calculation", "amount": Decimal("12345678901234.57"), "currency": "SEK",
            "evaluation_run_id": run_id, "contract_version": 1, "basis": {}, "created_at": "x", "created_by": "t",
            "prev_hash": "0", "hash": "1"})
    with engine.connect() as conn:
        amount = conn.execute(sa.select(LedgerEntryRow.amount)).scalar_one()
    assert amount == Decimal("12345678901234.57") and isinstance(amount, Decimal)


def test_unknown_contract_is_a_clear_error(engine) -> None:
    with pytest.raises(UnknownContract, match="no contract 'nope' in the store"):
        get_contract(engine, "nope")


def test_migrations_match_the_models(any_url: str) -> None:
    init_store(any_url)
    engine = open_store(any_url)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), SQLModel.metadata)
        methods = _index_methods(conn)
    engine.dispose()
    assert diff == [], f"models and migrations differ; add a migration: {diff}"
    assert methods == _model_index_methods(engine.dialect.name), "an index of another kind than the model's"


def _index_methods(conn: sa.Connection) -> dict[str, str]:
    """Each index's access method (btree, brin, ...) on PostgreSQL, which compare_metadata does not compare."""
    if conn.dialect.name != "postgresql":
        return {}
    return dict(conn.execute(sa.text(
        "SELECT i.relname, am.amname FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid "
        "JOIN pg_am am ON am.oid = i.relam JOIN pg_namespace n ON n.oid = i.relnamespace "
        "WHERE n.nspname = 'public' AND NOT x.indisprimary AND NOT x.indisunique")).all())


def _model_index_methods(dialect: str) -> dict[str, str]:
    if dialect != "postgresql":
        return {}
    return {index.name: index.dialect_options["postgresql"]["using"] or "btree"
            for table in SQLModel.metadata.sorted_tables for index in table.indexes}


def _revisions() -> list[str]:
    from alembic.script import ScriptDirectory

    from store.db import DEFAULT_URL, alembic_config

    script = ScriptDirectory.from_config(alembic_config(DEFAULT_URL))
    return [r.revision for r in reversed(list(script.walk_revisions()))]  # oldest first


@pytest.mark.parametrize("start", _revisions()[:-1])
def test_upgrade_from_every_earlier_revision_reaches_the_models(any_url: str, start: str) -> None:
    """A store left at any earlier schema, with a contract in it, upgrades to the head without loss or drift."""
    from alembic import command

    from store.db import alembic_config

    command.upgrade(alembic_config(any_url), start)
    raw = sa.create_engine(any_url)
    with raw.begin() as conn:  # a row written by the older schema (the contracts table has not changed since 0001)
        conn.execute(sa.text("INSERT INTO contracts (id, name, currency, source, created_at) "
                             "VALUES ('old', 'Old contract', 'SEK', 'id: old', '2020-01-01 00:00:00')"))
    raw.dispose()
    assert init_store(any_url) == (start, head_revision())
    engine = open_store(any_url)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), SQLModel.metadata)
        methods = _index_methods(conn)
        kept = conn.execute(sa.text("SELECT name FROM contracts WHERE id = 'old'")).scalar_one()
    engine.dispose()
    assert diff == [] and kept == "Old contract"
    assert methods == _model_index_methods(engine.dialect.name)


def test_init_is_idempotent_and_reports_the_revision(any_url: str) -> None:
    assert init_store(any_url) == (None, head_revision())
    assert init_store(any_url) == (head_revision(), head_revision())


def test_missing_store_is_refused_with_a_clear_message(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'absent.db'}"
    with pytest.raises(StoreError, match=r"no store at sqlite:///.*absent.db; run 'sib init' first"):
        open_store(url)
    assert not (tmp_path / "absent.db").exists()


def test_uninitialised_database_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "empty.db"
    sa.create_engine(f"sqlite:///{path}").connect().close()
    with pytest.raises(StoreError, match="is not initialised; run 'sib init' first"):
        open_store(f"sqlite:///{path}")


def test_unreachable_postgres_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(StoreError) as caught:
        open_store("postgresql+psycopg://nobody:secret@127.0.0.1:1/none")
    message = str(caught.value)
    assert message.startswith("cannot reach the store postgresql+psycopg://nobody:***@127.0.0.1:1/none")
    assert "secret" not in message and "\n" not in message


def test_dates_come_back_as_dates(engine) -> None:
    store_contract(engine, load_contract_text(MINIMAL, "c.yaml"))
    assert get_contract(engine, "test-contract").versions[1].effective == date(2021, 6, 1)


def test_ingested_rows_round_trip_on_both_stores(engine, tmp_path: Path) -> None:
    """The bulk path (COPY on PostgreSQL, executemany on SQLite) stores the same typed values."""
    from outcomes.ingest import ingest_file
    from tests.helpers import stored_minimal, write

    contract = stored_minimal(engine).latest.terms
    key = bytes(range(32))
    people = "participant_id,start,school_year,sex\nA,2020-02-01,4,female\nB,2021-03-01,9,\n"
    ingest_file(engine, contract, write(tmp_path, "p.csv", people), "participants", key)
    m = "participant_id,metric,date,value,source\nA,attendance,2020-03-01,0.95,school\nB,exclusion,2021-04-01,1,\n"
    ingest_file(engine, contract, write(tmp_path, "m.csv", m), "measurements", key)
    with engine.connect() as conn:
        people_rows = conn.execute(sa.text(
            "SELECT p.attributes, e.cohort, e.arm, e.start, e.exit FROM participants p "
            "JOIN enrolments e ON e.participant_id = p.id ORDER BY e.start")).all()
        measurements = conn.execute(sa.text(
            "SELECT metric, observed_on, value, status, source FROM measurements ORDER BY observed_on")).all()
    import json as _json

    attributes = [a if isinstance(a, dict) else _json.loads(a) for a, *_ in people_rows]
    assert attributes == [{"school_year": 4, "sex": "female"}, {"school_year": 9, "sex": None}]
    assert [(c, arm, str(s), e) for _, c, arm, s, e in people_rows] == [
        ("c1", "treatment", "2020-02-01", None), ("c2", "treatment", "2021-03-01", None)]
    assert [(m, str(d), v, st, src) for m, d, v, st, src in measurements] == [
        ("attendance", "2020-03-01", 0.95, "reported", "school"), ("exclusion", "2021-04-01", 1.0, "reported", None)]


def test_ledger_chain_verifies_on_both_stores(engine) -> None:
    """Amounts come back from NUMERIC (PostgreSQL) or text (SQLite) in the form they were hashed in."""
    from payments.calculate import calculate
    from payments.ledger import take_step, verify_chain
    from tests.helpers import stored_minimal
    from tests.test_payments import _store_run

    stored = stored_minimal(engine)
    run = _store_run(engine, 1, 2, [(1, "c1"), (2, "c1"), (3, "c2")])
    assert [e["amount"] for e in calculate(engine, stored, run)] == [Decimal("2400.00"), Decimal("1200.00")]
    take_step(engine, "test-contract", [1], "approved", "payer:anna", "evidence read", acknowledged=ALL_FLAGS)
    check = verify_chain(engine, "test-contract")
    assert check.ok and check.entries == 2


def test_corrections_and_anonymous_answers_on_both_stores(engine, tmp_path: Path) -> None:
    from outcomes.batches import corrections
    from outcomes.ingest import ingest_file
    from tests.helpers import stored_minimal, write
    from tests.test_ingest_corpus import CONTRACT, TODAY

    contract = stored_minimal(engine, CONTRACT).latest.terms
    key = bytes(range(32))
    ingest_file(engine, contract, write(tmp_path, "p.csv", "participant_id,start,school_year,sex\nA,2020-02-01,4,female\n"),
                "participants", key, today=TODAY)
    ingest_file(engine, contract, write(tmp_path, "m.csv", "participant_id,metric,date,value\nA,attendance,2020-03-01,0.8\n"),
                "measurements", key, today=TODAY)
    fix = "participant_id,metric,date,value,correction\nA,attendance,2020-03-01,0.9,yes\n"
    ingest_file(engine, contract, write(tmp_path, "fix.csv", fix), "measurements", key, today=TODAY)
    assert corrections(engine, contract.id)[["old_value", "new_value"]].values.tolist() == [[0.8, 0.9]]
    anonymous = "date,unit,satisfaction\n2020-12-01,North,4\n2020-12-02,,6\n"
    assert ingest_file(engine, contract, write(tmp_path, "a.csv", anonymous), "survey", key,
                       today=TODAY).counts == {"answers": 2, "dont_know": 1}
    with engine.connect() as conn:
        answers = conn.execute(sa.text("SELECT unit, value FROM survey_answers ORDER BY answered_on")).all()
    assert [tuple(a) for a in answers] == [("North", 4.0), (None, None)]


@pytest.mark.parametrize("autocommit", [False, True])
def test_bulk_reads_return_every_row_in_chunks(engine, monkeypatch: pytest.MonkeyPatch, autocommit: bool) -> None:
    """read_frame on a server-side cursor (PostgreSQL) in chunks, inside a transaction or outside one."""
    from store import bulk
    from store.tables import ContractRow

    monkeypatch.setattr(bulk, "FETCH_ROWS", 3)
    with engine.begin() as conn:
        bulk.bulk_insert(conn, ContractRow.__table__, ["id", "name"], [(f"c{i:02d}", f"name {i}") for i in range(10)],
                         {"currency": "SEK", "source": "x", "created_at": "2026-01-01 00:00:00"})
    reader = engine.execution_options(isolation_level="AUTOCOMMIT") if autocommit else engine
    query = sa.select(ContractRow.id, ContractRow.name).order_by(ContractRow.id)
    with reader.connect() as conn:
        frame = bulk.read_frame(conn, query)
        empty = bulk.read_frame(conn, query.where(ContractRow.id == "none"))
    assert frame.values.tolist() == [[f"c{i:02d}", f"name {i}"] for i in range(10)]
    assert list(empty.columns) == ["id", "name"] and len(empty) == 0


def test_frames_are_written_exactly_over_several_chunks(engine) -> None:
    """FrameWriter (COPY as CSV from Arrow on PostgreSQL, executemany on SQLite): every awkward value back as it was,
    over several frames through one open COPY."""
    import pandas as pd

    from store.bulk import FrameWriter, read_frame
    from store.tables import MeasurementRow

    awkward = ['say "hi", then\ttab', "back\\slash\nnew line\r", "", "ÅÄÖ åäö é 🙂", None, r"\N", "NULL", ","]
    frames = [pd.DataFrame({
        "participant_id": [i * 10 + n for n in range(len(awkward))],
        "observed_on": pd.to_datetime(["2020-02-29", None, "1999-12-31", "2024-01-01", "2020-01-01", "2021-06-30",
                                       "2022-02-02", "2023-03-03"]),
        "value": [0.1, float("nan"), 1e-300, 123456789.123456789, -0.0, 2 / 3, 0.3, 7.0],
        "source": awkward,
    }) for i in range(3)]
    with engine.begin() as conn:
        writer = FrameWriter(conn)
        for frame in frames:
            writer.insert(MeasurementRow.__table__, frame.drop(index=1), {"contract_id": "c", "metric": "m",
                                                                           "status": "reported", "batch_id": 1,
                                                                           "qualifier": None})
        writer.close()
        back = read_frame(conn, sa.select(MeasurementRow.participant_id, MeasurementRow.observed_on,
                                          MeasurementRow.value, MeasurementRow.source, MeasurementRow.qualifier,
                                          MeasurementRow.metric).order_by(MeasurementRow.id))
    sent = pd.concat([f.drop(index=1) for f in frames], ignore_index=True)
    assert back["participant_id"].tolist() == sent["participant_id"].tolist()
    assert [str(d)[:10] for d in back["observed_on"]] == sent["observed_on"].dt.strftime("%Y-%m-%d").tolist()
    assert back["value"].tolist() == sent["value"].tolist()  # exactly: shortest repr round-trips
    assert back["source"].tolist() == sent["source"].tolist()  # None stays NULL, "" stays empty text
    assert back["qualifier"].isna().all() and set(back["metric"]) == {"m"}


def test_an_abandoned_copy_leaves_the_transaction_able_to_roll_back(engine) -> None:
    import pandas as pd

    from store.bulk import FrameWriter
    from store.tables import MeasurementRow

    conn = engine.connect()
    transaction = conn.begin()
    writer = FrameWriter(conn)
    writer.insert(MeasurementRow.__table__, pd.DataFrame({"participant_id": [1, 2], "observed_on": ["2020-01-01"] * 2}),
                  {"contract_id": "c", "metric": "m", "status": "reported", "batch_id": 1})
    writer.abandon()
    transaction.rollback()
    assert conn.execute(sa.select(sa.func.count()).select_from(MeasurementRow)).scalar_one() == 0
    conn.close()


def test_bulk_reads_convert_each_chunk_before_the_next_is_fetched(engine, monkeypatch: pytest.MonkeyPatch) -> None:
    """read_frame's ``convert`` sees every chunk (on either store) and the result is their concatenation."""
    from store import bulk
    from store.tables import ContractRow

    monkeypatch.setattr(bulk, "FETCH_ROWS", 4)
    with engine.begin() as conn:
        bulk.bulk_insert(conn, ContractRow.__table__, ["id", "name"], [(f"k{i:02d}", f"{i}") for i in range(10)],
                         {"currency": "SEK", "source": "x", "created_at": "2026-01-01 00:00:00"})
    sizes: list[int] = []

    def convert(chunk):
        sizes.append(len(chunk))
        return chunk.assign(name=chunk["name"].astype(int))

    query = sa.select(ContractRow.id, ContractRow.name).where(ContractRow.id.like("k%")).order_by(ContractRow.id)
    with engine.connect() as conn:
        frame = bulk.read_frame(conn, query, convert)
        empty = bulk.read_frame(conn, query.where(ContractRow.id == "none"), lambda f: f.assign(extra=1))
    assert sizes == [4, 4, 2] and frame["name"].tolist() == list(range(10)) and str(frame["name"].dtype) == "int64"
    assert list(empty.columns) == ["id", "name", "extra"] and len(empty) == 0


def test_postgres_summarises_the_batch_index_after_each_delivery_and_runs_without_jit(postgres_url: str,
                                                                                       tmp_path: Path) -> None:
    """A contract's measurements are read by its batch ids through a block-range index, which knows nothing of
    pages written since it was last summarised (and returns all of them): each delivery summarises what it wrote,
    so nothing is left for a later read to scan.  JIT is off: compiling a scan took longer than running it."""
    from evaluation.inputs import load_inputs
    from outcomes.ingest import ingest_file
    from tests.helpers import stored_minimal, write

    init_store(postgres_url)
    engine = open_store(postgres_url)
    try:
        contract = stored_minimal(engine).latest.terms
        key = bytes(range(32))
        people = "participant_id,start,school_year,sex\n" + "".join(f"P{i},2020-02-01,4,female\n" for i in range(300))
        ingest_file(engine, contract, write(tmp_path, "p.csv", people), "participants", key)
        days = [date.fromordinal(date(2020, 3, 1).toordinal() + d).isoformat() for d in range(100)]
        rows = "".join(f"P{i % 300},attendance,{days[i // 300]},0.9\n" for i in range(30000))  # several ranges
        ingest_file(engine, contract, write(tmp_path, "m.csv", "participant_id,metric,date,value\n" + rows),
                    "measurements", key)
        with engine.begin() as conn:
            pages = conn.execute(sa.text("SELECT pg_relation_size('measurements') / 8192")).scalar_one()
            left = conn.execute(sa.text("SELECT brin_summarize_new_values('ix_measurements_batch_id')")).scalar_one()
            jit = conn.exec_driver_sql("SHOW jit").scalar_one()
        inputs = load_inputs(engine, "test-contract", date(2021, 1, 1), include_unverified=True)
    finally:
        engine.dispose()
    assert pages > 2 * 128  # more than two block ranges (128 pages each)
    assert left == 0  # every full range summarised by the delivery itself
    assert jit == "off"
    assert len(inputs.measurements) == 30000 and not inputs.measurements["verified"].any()  # read by batch ids
