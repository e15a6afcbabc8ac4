"""Ingesting one delivered file as one atomic batch.

The file is streamed in chunks: each chunk is validated, and while no error
has been found it is written inside one transaction that spans the whole
file.  At the end, a file with any error is rolled back whole and refused with
every error listed (up to ``MAX_ERRORS``, the rest counted); a clean file is
committed as one batch.  The same file (same bytes, kind and contract)
imported again changes nothing.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from contracts.model import Contract, FileMapping
from outcomes.checks import (
    KINDS,
    MAX_ERRORS,
    Context,
    Prepared,
    RowError,
    StoreView,
    checker,
    measurement_keys,
)
from outcomes.personnummer import scrub
from outcomes.readers import file_sha256, open_table
from store.bulk import bulk_insert
from store.db import actor, record_audit
from store.tables import EnrolmentRow, ImportBatchRow, MeasurementRow, ParticipantRow, SurveyAnswerRow

log = logging.getLogger("sib.ingest")


class IngestError(Exception):
    """A request that cannot be carried out at all (unknown kind, unreadable file); one line."""


@dataclass
class IngestReport:
    contract_id: str
    kind: str
    filename: str
    sha256: str
    rows: int = 0
    status: str = "refused"  # accepted, refused, already_imported or dry_run
    batch_id: int | None = None
    counts: dict[str, int] = field(default_factory=dict)
    errors: list[RowError] = field(default_factory=list)
    errors_total: int = 0
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "contract": self.contract_id, "kind": self.kind, "file": self.filename, "sha256": self.sha256,
            "rows": self.rows, "status": self.status, "batch": self.batch_id, "counts": self.counts,
            "notes": self.notes, "errors_total": self.errors_total,
            "errors": [{"row": e.row, "column": e.column, "value": scrub(e.value), "reason": scrub(e.message)}
                       for e in self.errors],
        }


class IngestRefused(Exception):
    def __init__(self, report: IngestReport):
        n = report.errors_total
        super().__init__(f"{report.filename} refused: {n:,} error{'s' if n != 1 else ''}; nothing was stored")
        self.report = report


def store_view(conn: sa.Connection, contract: Contract, kind: str) -> StoreView:
    """Known participants, their first enrolment start and (for measurements) the stored keys, in bulk."""
    people = pd.read_sql(
        sa.select(ParticipantRow.id, ParticipantRow.pseudonym).where(ParticipantRow.contract_id == contract.id), conn)
    starts = pd.read_sql(
        sa.select(EnrolmentRow.participant_id, sa.func.min(EnrolmentRow.start).label("start"))
        .where(EnrolmentRow.contract_id == contract.id).group_by(EnrolmentRow.participant_id), conn)
    view = StoreView(
        participant_ids=dict(zip(people["pseudonym"], people["id"].astype(int))),
        enrolment_starts=pd.Series(pd.to_datetime(starts["start"]).to_numpy(), index=starts["participant_id"].astype(int)),
    )
    if kind != "measurements":
        return view
    superseded = sa.select(MeasurementRow.supersedes_id).where(MeasurementRow.supersedes_id.is_not(None))
    stored = pd.read_sql(
        sa.select(MeasurementRow.id, MeasurementRow.participant_id, MeasurementRow.metric, MeasurementRow.observed_on,
                  MeasurementRow.batch_id)
        .where(MeasurementRow.contract_id == contract.id, MeasurementRow.id.not_in(superseded)), conn)
    index = {m.id: i for i, m in enumerate(contract.metrics)}
    stored = stored[stored["metric"].isin(list(index))]
    keys = measurement_keys(stored["participant_id"], stored["metric"].map(index), pd.to_datetime(stored["observed_on"]))
    return StoreView(view.participant_ids, view.enrolment_starts,
                     pd.DataFrame({"key": keys, "id": stored["id"].to_numpy(dtype=np.int64),
                                   "batch_id": stored["batch_id"].to_numpy(dtype=np.int64)}))


def _earlier(conn: sa.Connection, contract_id: str, kind: str, digest: str) -> int | None:
    return conn.execute(sa.select(ImportBatchRow.id).where(
        ImportBatchRow.contract_id == contract_id, ImportBatchRow.kind == kind, ImportBatchRow.sha256 == digest)).scalar()


def ingest_file(engine: Engine, contract: Contract, path: Path, kind: str, key: bytes, *,
                mapping: FileMapping | None = None, dry_run: bool = False, today: date | None = None) -> IngestReport:
    """Validate ``path`` as a ``kind`` file of ``contract`` and store it as one batch, or refuse it whole."""
    if kind not in KINDS:
        raise IngestError(f"unknown kind {kind!r}; expected one of: {', '.join(KINDS)}")
    path = Path(path)
    mapping = mapping or contract.mappings.get(kind) or FileMapping()  # type: ignore[call-overload]
    table = open_table(path, mapping)
    report = IngestReport(contract.id, kind, path.name, file_sha256(path), notes=list(table.notes))

    with engine.connect() as conn:
        earlier = _earlier(conn, contract.id, kind, report.sha256)
        if earlier is not None:
            report.status, report.batch_id = "already_imported", earlier
            return report
        view = store_view(conn, contract, kind)
    check = checker(kind, Context(contract, key, view, mapping, today or date.today()), table.columns)
    errors = check.header_errors(table.columns)
    if errors:
        return _refuse(report, errors)

    conn = engine.connect()
    transaction = None if dry_run else conn.begin()
    writer = _Writer(conn, contract.id)
    try:
        if transaction is not None:
            writer.batch_id = conn.execute(
                sa.insert(ImportBatchRow).returning(ImportBatchRow.id),
                {"contract_id": contract.id, "kind": kind, "filename": path.name, "sha256": report.sha256, "rows": 0,
                 "summary": {}, "created_by": actor()},
            ).scalar_one()
        for frame, problems in table.chunks:
            errors += [RowError(p.row, "", p.message) for p in problems]
            prepared, found = check.check(frame)
            errors += found
            report.rows += len(frame) + len(problems)
            if transaction is not None and not errors:
                writer.write(prepared)
        errors += check.finish()
        if report.rows == 0:
            errors.append(RowError(1, "", "the file has a header but no rows"))
        report.counts = dict(check.counts)
        if errors:
            if transaction is not None:
                transaction.rollback()
            return _refuse(report, errors)
        if transaction is None:
            report.status = "dry_run"
            return report
        conn.execute(sa.update(ImportBatchRow).where(ImportBatchRow.id == writer.batch_id).values(
            rows=report.rows, summary={"counts": report.counts, "notes": report.notes}))
        record_audit(conn, "ingest", contract.id, {"batch": writer.batch_id, "kind": kind, "file": path.name,
                                                   "rows": report.rows})
        transaction.commit()
    except IntegrityError:
        # Another import of the same file won the race: this one changes nothing.
        if transaction is not None and transaction.is_active:
            transaction.rollback()
        with engine.connect() as check_conn:
            earlier = _earlier(check_conn, contract.id, kind, report.sha256)
        if earlier is None:
            raise
        report.status, report.batch_id = "already_imported", earlier
        return report
    except BaseException:
        if transaction is not None and transaction.is_active:
            transaction.rollback()
        raise
    finally:
        conn.close()
    report.status, report.batch_id = "accepted", writer.batch_id
    log.info("batch %s: %s file %s accepted, %d rows", writer.batch_id, kind, path.name, report.rows)
    return report


def _refuse(report: IngestReport, errors: list[RowError]) -> IngestReport:
    unique = sorted(set(errors))
    report.errors_total = len(unique)
    report.errors = unique[:MAX_ERRORS]
    log.info("%s file %s refused: %d errors", report.kind, report.filename, report.errors_total)
    raise IngestRefused(report)


# -- writing ------------------------------------------------------------------------------------------------------

def _values(series: pd.Series) -> list[Any]:
    """A column as plain Python values: dates as ISO text (what both databases take), missing as None."""
    if pd.api.types.is_datetime64_any_dtype(series):
        return [v if isinstance(v, str) else None for v in series.dt.strftime("%Y-%m-%d").tolist()]
    if pd.api.types.is_float_dtype(series):
        return [None if v != v else v for v in series.tolist()]
    if pd.api.types.is_integer_dtype(series):
        return series.tolist()
    return [None if v is None or (isinstance(v, float) and v != v) else v for v in series.tolist()]


def _rows(frame: pd.DataFrame, columns: list[str]) -> list[tuple[Any, ...]]:
    return list(zip(*(_values(frame[c]) for c in columns)))


def _json_value(value: Any) -> Any:
    """numpy scalars in attribute values, as JSON can hold them."""
    if hasattr(value, "item"):
        return value.item()
    raise TypeError(f"cannot store {type(value).__name__} as an attribute value")


class _Writer:
    """Writes prepared chunks of one batch inside the caller's transaction."""

    def __init__(self, conn: sa.Connection, contract_id: str):
        self.conn, self.contract_id = conn, contract_id
        self.batch_id = 0
        self.last_participant = 0

    def write(self, prepared: Prepared) -> None:
        conn, batch = self.conn, self.batch_id
        people = prepared.participants
        if not people.empty:
            frame = pd.DataFrame({
                "contract_id": self.contract_id, "pseudonym": people["pseudonym"],
                "birth_year": people["birth_year"], "legal_sex": people["legal_sex"],
                "attributes": [json.dumps(a, default=_json_value, allow_nan=False) for a in people["attributes"]],
                "batch_id": batch})
            bulk_insert(conn, ParticipantRow.__table__, list(frame.columns), _rows(frame, list(frame.columns)))
        enrolments = prepared.enrolments
        if not enrolments.empty:
            if "participant_id" not in enrolments.columns:
                # Ids of this chunk's new participants: this batch's rows above the last id seen.
                ids = dict(conn.execute(sa.select(ParticipantRow.pseudonym, ParticipantRow.id).where(
                    ParticipantRow.batch_id == batch, ParticipantRow.id > self.last_participant)).all())
                self.last_participant = max(ids.values(), default=self.last_participant)
                enrolments = enrolments.assign(participant_id=enrolments["pseudonym"].map(ids))
            frame = enrolments.assign(contract_id=self.contract_id, batch_id=batch,
                                      participant_id=enrolments["participant_id"].astype(np.int64))
            columns = ["contract_id", "participant_id", "cohort", "arm", "start", "exit", "batch_id"]
            bulk_insert(conn, EnrolmentRow.__table__, columns, _rows(frame, columns))
        measurements = prepared.measurements
        if not measurements.empty:
            frame = measurements.assign(contract_id=self.contract_id, batch_id=batch, status="reported",
                                        participant_id=measurements["participant_id"].astype(np.int64),
                                        value=measurements["value"].astype(float))
            frame = frame.sort_values("participant_id", kind="stable")  # index locality: faster inserts
            columns = ["contract_id", "participant_id", "metric", "observed_on", "value", "status", "source",
                       "qualifier", "supersedes_id", "batch_id"]
            bulk_insert(conn, MeasurementRow.__table__, columns, _rows(frame, columns))
        answers = prepared.answers
        if not answers.empty:
            frame = answers.assign(contract_id=self.contract_id, batch_id=batch, value=answers["value"].astype(float))
            columns = ["contract_id", "metric", "answered_on", "value", "qualifier", "unit", "batch_id"]
            bulk_insert(conn, SurveyAnswerRow.__table__, columns, _rows(frame, columns))
