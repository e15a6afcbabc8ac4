"""Ingestion: accepted whole or refused whole, every error by row and column, pseudonymised, idempotent."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import sqlalchemy as sa

from outcomes.ingest import IngestError, IngestRefused, ingest_file
from outcomes.pseudonym import MissingKeyError, init_key, load_key, pseudonymise
from outcomes.readers import UnreadableFile
from store.tables import MeasurementRow, ParticipantRow
from tests.helpers import DATA, row_counts, snapshot, stored_minimal, write

PEOPLE = """participant_id,start,school_year,sex
CASE-001,2020-02-01,4,female
CASE-002,2020-03-15,9,male
CASE-003,2021-02-01,6,female
"""


def refused(engine, contract, path, kind, key) -> list[str]:
    before = row_counts(engine)
    with pytest.raises(IngestRefused) as caught:
        ingest_file(engine, contract, path, kind, key)
    after = row_counts(engine)
    assert after.pop("audit_events") == before.pop("audit_events") + 1  # the refusal, recorded
    assert after == before, "a refused file must leave the store's data unchanged"
    return [str(e) for e in caught.value.report.errors]


def test_participants_are_stored_pseudonymised_with_cohorts(engine, key, tmp_path: Path) -> None:
    contract = stored_minimal(engine).latest.terms
    report = ingest_file(engine, contract, write(tmp_path, "p.csv", PEOPLE), "participants", key)
    assert (report.status, report.rows, report.counts) == ("accepted", 3, {"participants": 3, "enrolments": 3})
    with engine.connect() as conn:
        rows = conn.execute(sa.text(
            "SELECT p.pseudonym, p.attributes, e.cohort, e.arm, e.start FROM participants p "
            "JOIN enrolments e ON e.participant_id = p.id ORDER BY e.start")).all()
    assert [r.pseudonym for r in rows] == [pseudonymise(key, "test-contract", f"CASE-00{i}") for i in (1, 2, 3)]
    assert [(r.cohort, r.arm) for r in rows] == [("c1", "treatment"), ("c1", "treatment"), ("c2", "treatment")]
    assert "CASE-00" not in repr(snapshot(engine)), "a clear participant reference reached the store"
    if engine.dialect.name == "sqlite":  # nor any page of its file (free pages, journal leftovers)
        assert b"CASE-00" not in Path(engine.url.database).read_bytes()


def test_the_same_file_twice_changes_nothing(engine, key, tmp_path: Path) -> None:
    contract = stored_minimal(engine).latest.terms
    path = write(tmp_path, "p.csv", PEOPLE)
    first = ingest_file(engine, contract, path, "participants", key)
    counts = row_counts(engine)
    again = ingest_file(engine, contract, path, "participants", key)
    assert (again.status, again.batch_id) == ("already_imported", first.batch_id)
    assert row_counts(engine) == counts


def test_dry_run_stores_nothing(engine, key, tmp_path: Path) -> None:
    contract = stored_minimal(engine).latest.terms
    before = row_counts(engine)
    report = ingest_file(engine, contract, write(tmp_path, "p.csv", PEOPLE), "participants", key, dry_run=True)
    assert report.status == "dry_run" and row_counts(engine) == before


def test_bad_participants_file_is_refused_with_every_error(engine, key, tmp_path: Path) -> None:
    contract = stored_minimal(engine).latest.terms
    text = """participant_id,start,school_year,sex
CASE-001,2020-02-01,3,female
CASE-002,2020-13-01,5,male
CASE-003,2020-03-01,five,male
CASE-004,2020-03-01,5,other
CASE-001,2020-04-01,5,female
,2020-04-01,5,female
CASE-007,2019-04-01,5,male
CASE-008,2022-06-01,5,male
"""
    assert refused(engine, contract, write(tmp_path, "bad.csv", text), "participants", key) == [
        "row 2, column school_year: not eligible: 3 fails the rule 'school_year between 4 and 9'",
        "row 3, column start: '2020-13-01' is not a date; expected YYYY-MM-DD or YYYYMMDD",
        "row 4, column school_year: 'five' is not a number",
        "row 5, column sex: 'other' is not allowed; expected one of: female, male",
        "row 6, column participant_id: the same participant appears again (first in row 2)",
        "row 7, column participant_id: participant_id is empty",
        "row 8, column start: 2019-04-01 is outside the contract term 2020-01-01 to 2023-12-31",
        "row 9, column start: 2022-06-01 is outside every cohort's enrolment window",
    ]


def test_missing_columns_are_named(engine, key, tmp_path: Path) -> None:
    contract = stored_minimal(engine).latest.terms
    path = write(tmp_path, "p.csv", "participant_id,start\nCASE-1,2020-02-01\n")
    assert refused(engine, contract, path, "participants", key) == [
        "row 1, column school_year: required column is missing; the file has columns: participant_id, start",
        "row 1, column sex: required column is missing; the file has columns: participant_id, start",
    ]


def test_measurements_are_checked_against_the_metric(engine, key, tmp_path: Path) -> None:
    contract = stored_minimal(engine).latest.terms
    ingest_file(engine, contract, write(tmp_path, "p.csv", PEOPLE), "participants", key)
    text = """participant_id,metric,date,value
CASE-001,attendance,2020-03-01,0.95
CASE-001,attendance,2020-04-01,1.2
CASE-001,attendance,2020-05-01,nan
CASE-001,attendence,2020-05-01,0.9
CASE-404,attendance,2020-05-01,0.9
CASE-001,attendance,2021-03-01,0.9
CASE-002,exclusion,2020-05-01,2
CASE-002,attendance,2020-06-01,0.8
CASE-002,attendance,2020-06-01,0.7
CASE-002,attendance,2020-07-01,inf
CASE-003,attendance,2021-03-01,0.90
CASE-003,attendance,2021-03-01,0.9
"""
    assert refused(engine, contract, write(tmp_path, "m.csv", text), "measurements", key) == [
        "row 3, column value: '1.2' is out of range for rate metric 'attendance'; expected a share between 0 and 1 "
        "(or declare percent in a mapping)",
        "row 4, column value: 'nan' is not a number",
        "row 5, column metric: 'attendence' is not a metric of this contract; metrics: attendance, exclusion",
        "row 6, column participant_id: unknown participant; register them with a participants file first",
        "row 7, column date: 2021-03-01 is outside the window of 'attendance' for this participant "
        "(0 to 12 months after enrolment: 2020-02-01 to 2021-01-31)",
        "row 8, column value: '2' is not allowed for binary metric 'exclusion'; expected 0 or 1",
        "row 10, column value: conflicts with row 9: same participant, metric and date, other value",
        "row 11, column value: 'inf' is not a number",
        "row 13, column value: duplicate of row 12 (same participant, metric and date)",
    ]


def test_swedish_csv_semicolons_decimal_comma_bom_and_compact_dates(engine, key, tmp_path: Path) -> None:
    contract = stored_minimal(engine).latest.terms
    ingest_file(engine, contract, write(tmp_path, "p.csv", PEOPLE), "participants", key)
    text = "\ufeffparticipant_id;metric;date;value\nCASE-001;attendance;20200301;0,95\nCASE-002;exclusion;20200501;1\n"
    report = ingest_file(engine, contract, write(tmp_path, "m.csv", text), "measurements", key)
    assert report.status == "accepted"
    with engine.connect() as conn:
        values = conn.execute(sa.select(MeasurementRow.metric, MeasurementRow.observed_on, MeasurementRow.value)
                              .order_by(MeasurementRow.metric)).all()
    assert [(m, str(d), v) for m, d, v in values] == [("attendance", "2020-03-01", 0.95), ("exclusion", "2020-05-01", 1.0)]


def test_windows_1252_file_is_read(engine, key, tmp_path: Path) -> None:
    contract = stored_minimal(engine).latest.terms
    text = PEOPLE.replace("CASE-001", "ÅSA-001")
    report = ingest_file(engine, contract, write(tmp_path, "p.csv", text, encoding="cp1252"), "participants", key)
    assert report.status == "accepted"
    with engine.connect() as conn:
        pseudonyms = set(conn.execute(sa.select(ParticipantRow.pseudonym)).scalars())
    assert pseudonymise(key, "test-contract", "ÅSA-001") in pseudonyms


def test_unreadable_and_unknown_inputs_are_one_line_errors(engine, key, tmp_path: Path) -> None:
    contract = stored_minimal(engine).latest.terms
    with pytest.raises(UnreadableFile, match="no such file"):
        ingest_file(engine, contract, tmp_path / "absent.csv", "participants", key)
    with pytest.raises(UnreadableFile, match="is empty"):
        ingest_file(engine, contract, write(tmp_path, "e.csv", "  \n"), "participants", key)
    with pytest.raises(IngestError, match="unknown kind 'people'; expected one of: participants, enrolments, "
                                          "measurements, survey, comparison"):
        ingest_file(engine, contract, write(tmp_path, "p.csv", PEOPLE), "people", key)


def test_key_is_required_created_once_and_kept_secret(tmp_path: Path) -> None:
    path = tmp_path / "sib.key"
    with pytest.raises(MissingKeyError, match="no pseudonymisation key at .*; create one with 'sib keys init'"):
        load_key(path)
    init_key(path)
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    assert len(load_key(path)) == 32
    with pytest.raises(MissingKeyError, match="a key already exists"):
        init_key(path)


def test_survey_dont_know_is_missing_not_a_score(engine, key, tmp_path: Path) -> None:
    text = (Path(__file__).parent / "data" / "minimal.yaml").read_text(encoding="utf-8").replace(
        "payments:\n", "  - id: satisfaction\n    name: Satisfaction\n    kind: ordinal\n    direction: lower_is_better\n"
        "    instrument: skr_user_questions\n    question: overall_satisfaction\n"
        "    window: {start_months: 0, end_months: 14}\n    aggregation: last\n"
        "    evaluation: {design: monitoring}\npayments:\n", 1)
    contract = stored_minimal(engine, text).latest.terms
    ingest_file(engine, contract, write(tmp_path, "p.csv", PEOPLE), "participants", key)
    survey = "participant_id,date,satisfaction\nCASE-001,2020-12-01,4\nCASE-002,2020-12-01,6\nCASE-003,2021-12-01,\n"
    report = ingest_file(engine, contract, write(tmp_path, "s.csv", survey), "survey", key)
    assert report.counts == {"answers": 2, "dont_know": 1}
    with engine.connect() as conn:
        values = sorted(conn.execute(sa.select(MeasurementRow.value)).scalars(), key=lambda v: (v is None, v))
    assert values[0] == 4.0 and values[1] is None
    with engine.connect() as conn:  # each answer records the instrument and version it was coded under
        coded = set(conn.execute(sa.select(MeasurementRow.instrument, MeasurementRow.instrument_version)).all())
    assert coded == {("skr_user_questions", 2)}
    bad = "participant_id,date,satisfaction\nCASE-001,2020-12-02,9\n"  # the old "don't know"; SKR's is 6
    assert refused(engine, contract, write(tmp_path, "s2.csv", bad), "survey", key) == [
        "row 2, column satisfaction: '9' is not on the scale of 'satisfaction'; expected 1 to 5, or 6 for don't know"]
    assert not any(isinstance(v, float) and math.isnan(v) for v in values if v is not None)


def test_foreign_keys_are_back_on_after_a_bulk_ingest(sqlite_engine, key, tmp_path: Path) -> None:
    engine = sqlite_engine  # SQLite only: PostgreSQL never turns them off
    contract = stored_minimal(engine).latest.terms
    ingest_file(engine, contract, write(tmp_path, "p.csv", PEOPLE), "participants", key)
    for _ in range(3):  # whichever pooled connection comes next
        with engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1


def test_a_dangling_reference_is_caught_before_commit(sqlite_engine, key, tmp_path: Path) -> None:
    """The bulk path skips SQLite's per-row checks; the batch-level check still refuses a row without a participant."""
    engine = sqlite_engine
    from outcomes.ingest import _Writer
    from store.bulk import bulk_insert
    from store.tables import ImportBatchRow

    stored_minimal(engine)
    conn = engine.connect()
    conn.connection.dbapi_connection.execute("PRAGMA foreign_keys=OFF")
    with conn.begin():
        batch = conn.execute(sa.insert(ImportBatchRow).returning(ImportBatchRow.id), {
            "contract_id": "test-contract", "kind": "measurements", "filename": "x", "sha256": "x", "rows": 1,
            "summary": {}, "created_by": "t"}).scalar_one()
        bulk_insert(conn, MeasurementRow.__table__, ["participant_id", "observed_on", "value"], [(999, "2020-03-01", 0.9)],
                    {"contract_id": "test-contract", "metric": "attendance", "status": "reported", "batch_id": batch})
        writer = _Writer(conn, "test-contract")
        writer.batch_id, writer.written = batch, {"measurements"}
        with pytest.raises(RuntimeError, match=f"batch {batch}: 1 rows refer to rows that do not exist"):
            writer.verify_references()
    conn.connection.dbapi_connection.execute("PRAGMA foreign_keys=ON")
    conn.close()


@pytest.mark.parametrize("wrong", ["another contract's participant", "a correction of nothing"])
def test_the_batch_check_refuses_what_no_foreign_key_guards(engine, key, tmp_path: Path, wrong: str) -> None:
    """Measurements have no foreign keys (migration 0005); the loader's check before commit is stricter than they
    were: the participant must be one of this contract's, and a corrected row must exist in it."""
    from outcomes.ingest import _Writer
    from store.bulk import bulk_insert
    from store.tables import ImportBatchRow

    contract = stored_minimal(engine).latest.terms
    stored_minimal(engine, (DATA / "minimal.yaml").read_text().replace("id: test-contract", "id: other", 1))
    ingest_file(engine, contract, write(tmp_path, "p.csv", PEOPLE), "participants", key)
    with engine.connect() as conn:
        theirs = conn.execute(sa.select(ParticipantRow.id)).scalars().first()
    row = (theirs, None) if wrong.startswith("another") else (theirs, 10**6)
    counts = row_counts(engine)
    conn = engine.connect()
    transaction = conn.begin()
    try:
        batch = conn.execute(sa.insert(ImportBatchRow).returning(ImportBatchRow.id), {
            "contract_id": "other", "kind": "measurements", "filename": "x", "sha256": "x", "rows": 1,
            "summary": {}, "created_by": "t"}).scalar_one()
        contract_id = "other" if wrong.startswith("another") else "test-contract"
        bulk_insert(conn, MeasurementRow.__table__, ["participant_id", "supersedes_id", "observed_on", "value"],
                    [(*row, "2020-03-01", 0.9)], {"contract_id": contract_id, "metric": "attendance",
                                                  "status": "reported", "batch_id": batch})
        writer = _Writer(conn, contract_id)
        writer.batch_id, writer.written, writer.corrections = batch, {"measurements"}, True
        with pytest.raises(RuntimeError, match=f"batch {batch}: 1 rows refer to rows that do not exist"):
            writer.verify_references()
    finally:
        transaction.rollback()  # what the loader does on that error
    conn.close()
    assert row_counts(engine) == counts


def test_bulk_constants_are_quoted(engine) -> None:
    from store.bulk import bulk_insert, read_frame
    from store.tables import ContractRow

    with engine.begin() as conn:
        bulk_insert(conn, ContractRow.__table__, ["id"], [("a",), ("b",)],
                    {"name": "O'Brien's; DROP TABLE contracts; --", "currency": "SEK", "source": "x",
                     "created_at": "2026-01-01 00:00:00"})
        frame = read_frame(conn, sa.select(ContractRow.id, ContractRow.name).order_by(ContractRow.id))
    assert frame.values.tolist() == [["a", "O'Brien's; DROP TABLE contracts; --"], ["b", "O'Brien's; DROP TABLE contracts; --"]]
    with pytest.raises(TypeError, match="bulk constants must be text, whole numbers or None, not float"):
        with engine.begin() as conn:
            bulk_insert(conn, ContractRow.__table__, ["id"], [("c",)], {"name": 1.5})


def test_an_error_in_a_later_chunk_stores_none_of_the_earlier_ones(engine, key, tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """Chunks are written as they are checked (through one open COPY on PostgreSQL); a bad row further on
    still refuses the whole file, and the rows already sent are rolled back."""
    import functools

    import outcomes.ingest

    contract = stored_minimal(engine).latest.terms
    ingest_file(engine, contract, write(tmp_path, "p.csv", PEOPLE), "participants", key)
    monkeypatch.setattr(outcomes.ingest, "open_table", functools.partial(outcomes.ingest.open_table, chunk_rows=2))
    rows = [f"CASE-001,attendance,2020-0{2 + i}-10,0.9" for i in range(5)] + ["CASE-001,attendance,2020-08-10,9"]
    path = write(tmp_path, "m.csv", "participant_id,metric,date,value\n" + "\n".join(rows) + "\n")
    assert refused(engine, contract, path, "measurements", key) == [
        "row 7, column value: '9' is out of range for rate metric 'attendance'; expected a share between 0 and 1 "
        "(or declare percent in a mapping)"]
    monkeypatch.undo()
    good = write(tmp_path, "m2.csv", "participant_id,metric,date,value\n" + "\n".join(rows[:5]) + "\n")
    assert ingest_file(engine, contract, good, "measurements", key).status == "accepted"  # the connection is sound


def test_reference_checks_join_by_hash_when_statistics_know_nothing_of_the_batch(postgres_url, key) -> None:
    """A new batch (often of a new contract) is newer than PostgreSQL's statistics, which count it as one row: the
    planner then probes all of the contract's participants once per row of the batch, a nested loop that took 39 s
    for 110,000 measurements in a store of five contracts (benchmarks/bench_scale.py).  The loader's checks must
    read each side once, by hash, whatever the statistics say; and the setting must not outlive them."""
    from tests.conftest import initialised
    from outcomes.ingest import _Writer
    from store.bulk import bulk_insert
    from store.tables import ImportBatchRow

    with initialised(postgres_url) as engine:
        stored_minimal(engine)
        with engine.begin() as conn:  # 3,000 participants of the contract, then statistics taken, as in a store in use
            batch = conn.execute(sa.insert(ImportBatchRow).returning(ImportBatchRow.id), {
                "contract_id": "test-contract", "kind": "participants", "filename": "p", "sha256": "p",
                "rows": 3000, "summary": {}, "created_by": "t"}).scalar_one()
            bulk_insert(conn, ParticipantRow.__table__, ["pseudonym"], [(f"{i:064x}",) for i in range(3000)],
                        {"contract_id": "test-contract", "attributes": "{}", "batch_id": batch})
            ids = conn.execute(sa.select(ParticipantRow.id)).scalars().all()
        with engine.connect() as conn:
            conn.execute(sa.text("ANALYZE"))
            conn.commit()
        with engine.connect() as conn, conn.begin():
            batch = conn.execute(sa.insert(ImportBatchRow).returning(ImportBatchRow.id), {
                "contract_id": "test-contract", "kind": "measurements", "filename": "m", "sha256": "m",
                "rows": 30000, "summary": {}, "created_by": "t"}).scalar_one()
            bulk_insert(conn, MeasurementRow.__table__, ["participant_id", "observed_on", "value"],
                        [(ids[i % len(ids)], f"2020-03-{1 + i % 28:02d}", 0.9) for i in range(30000)],
                        {"contract_id": "test-contract", "metric": "attendance", "status": "reported", "batch_id": batch})
            writer = _Writer(conn, "test-contract")
            writer.batch_id, writer.written = batch, {"measurements"}
            (check,) = writer.participant_checks()
            explain = sa.text("EXPLAIN " + str(check.compile(conn, compile_kwargs={"literal_binds": True})))
            unguarded = "\n".join(conn.execute(explain).scalars())
            with writer.hash_joins():
                guarded = "\n".join(conn.execute(explain).scalars())
                assert conn.execute(check).scalar_one() == 0
            setting = conn.exec_driver_sql("SHOW enable_nestloop").scalar_one()
        assert "Nested Loop" in unguarded  # the trap is real on this data: the statistics see one row
        assert "Hash" in guarded and "Nested Loop" not in guarded
        assert setting == "on"  # the rest of the loader's transaction plans as usual
