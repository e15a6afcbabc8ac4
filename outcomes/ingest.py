"""Ingesting one delivered file as one atomic batch.

The file is read, pseudonymised and validated in full before anything is
written; then the batch and all its rows are written in one transaction.  A
file with any error is refused whole, with every error listed.  The same file
(same bytes, same kind, same contract) imported again changes nothing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from contracts.model import Contract
from outcomes.checks import (
    ID,
    KINDS,
    Prepared,
    RowError,
    StoreView,
    check_enrolments,
    check_measurements,
    check_people,
    check_survey,
    unique_errors,
)
from outcomes.pseudonym import pseudonymise
from outcomes.readers import file_sha256, read_table
from store.bulk import bulk_insert
from store.db import actor, record_audit
from store.tables import EnrolmentRow, ImportBatchRow, MeasurementRow, ParticipantRow


class IngestError(Exception):
    """A request that cannot be carried out at all (unknown kind, unreadable file); one line."""


@dataclass
class IngestReport:
    contract_id: str
    kind: str
    filename: str
    sha256: str
    rows: int
    status: str  # accepted, refused, already_imported or dry_run
    batch_id: int | None = None
    counts: dict[str, int] = field(default_factory=dict)
    errors: list[RowError] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "contract": self.contract_id, "kind": self.kind, "file": self.filename, "sha256": self.sha256,
            "rows": self.rows, "status": self.status, "batch": self.batch_id, "counts": self.counts,
            "errors": [{"row": e.row, "column": e.column, "message": e.message} for e in self.errors],
        }


class IngestRefused(Exception):
    def __init__(self, report: IngestReport):
        n = len(report.errors)
        super().__init__(f"{report.filename} refused: {n} error{'s' if n != 1 else ''}; nothing was stored")
        self.report = report


def store_view(conn: sa.Connection, contract_id: str) -> StoreView:
    """Known participants and their first enrolment start, read in bulk."""
    people = pd.read_sql(
        sa.select(ParticipantRow.id, ParticipantRow.pseudonym).where(ParticipantRow.contract_id == contract_id), conn
    )
    starts = pd.read_sql(
        sa.select(EnrolmentRow.participant_id, sa.func.min(EnrolmentRow.start).label("start"))
        .where(EnrolmentRow.contract_id == contract_id)
        .group_by(EnrolmentRow.participant_id),
        conn,
    )
    return StoreView(
        participant_ids=dict(zip(people["pseudonym"], people["id"].astype(int))),
        enrolment_starts={int(p): pd.Timestamp(s).date() for p, s in zip(starts["participant_id"], starts["start"])},
    )


def ingest_file(engine: Engine, contract: Contract, path: Path, kind: str, key: bytes, *,
                dry_run: bool = False) -> IngestReport:
    """Validate ``path`` as a ``kind`` file of ``contract`` and store it as one batch."""
    if kind not in KINDS:
        raise IngestError(f"unknown kind {kind!r}; expected one of: {', '.join(KINDS)}")
    path = Path(path)
    frame = read_table(path)
    digest = file_sha256(path)
    report = IngestReport(contract.id, kind, path.name, digest, len(frame), status="refused")

    with engine.connect() as conn:
        earlier = conn.execute(
            sa.select(ImportBatchRow.id).where(
                ImportBatchRow.contract_id == contract.id, ImportBatchRow.kind == kind, ImportBatchRow.sha256 == digest
            )
        ).scalar()
        if earlier is not None:
            report.status, report.batch_id = "already_imported", earlier
            return report
        view = store_view(conn, contract.id)

    references = frame[ID] if ID in frame.columns else pd.Series("", index=frame.index)
    hashed = {ref: pseudonymise(key, contract.id, ref) for ref in references.unique() if ref}
    pseudonyms = references.map(hashed).fillna("")
    prepared, errors = _check(kind, frame, contract, pseudonyms, view)
    report.errors = unique_errors(errors)
    report.counts = dict(prepared.notes)
    if report.errors:
        raise IngestRefused(report)
    if dry_run:
        report.status = "dry_run"
        return report

    try:
        with engine.begin() as conn:
            batch_id = conn.execute(
                sa.insert(ImportBatchRow).returning(ImportBatchRow.id),
                {"contract_id": contract.id, "kind": kind, "filename": path.name, "sha256": digest,
                 "rows": len(frame), "summary": report.counts, "created_by": actor()},
            ).scalar_one()
            _write(conn, contract.id, batch_id, prepared)
            record_audit(conn, "ingest", contract.id,
                         {"batch": batch_id, "kind": kind, "file": path.name, "rows": len(frame)})
    except IntegrityError:
        # Another import of the same file won the race: this one changes nothing.
        with engine.connect() as conn:
            earlier = conn.execute(
                sa.select(ImportBatchRow.id).where(
                    ImportBatchRow.contract_id == contract.id, ImportBatchRow.kind == kind,
                    ImportBatchRow.sha256 == digest,
                )
            ).scalar()
        if earlier is None:
            raise
        report.status, report.batch_id = "already_imported", earlier
        return report
    report.status, report.batch_id = "accepted", batch_id
    return report


def _check(kind: str, frame: pd.DataFrame, contract: Contract, pseudonyms: pd.Series,
           view: StoreView) -> tuple[Prepared, list[RowError]]:
    if kind in ("participants", "comparison"):
        return check_people(frame, contract, pseudonyms, view, kind)
    if kind == "enrolments":
        return check_enrolments(frame, contract, pseudonyms, view)
    if kind == "measurements":
        return check_measurements(frame, contract, pseudonyms, view)
    return check_survey(frame, contract, pseudonyms, view)


def _values(series: pd.Series) -> list[Any]:
    """A column as plain Python values: dates as ISO text (what both databases take), missing as None."""
    if pd.api.types.is_datetime64_any_dtype(series):
        text = series.dt.strftime("%Y-%m-%d")
        return [v if isinstance(v, str) else None for v in text.tolist()]
    if pd.api.types.is_float_dtype(series):
        return [None if v != v else float(v) for v in series.tolist()]
    if pd.api.types.is_integer_dtype(series):
        return [int(v) for v in series.tolist()]
    return [None if v is None or (isinstance(v, float) and v != v) else v for v in series.tolist()]


def _json_value(value: Any) -> Any:
    """numpy scalars and timestamps in attribute values, as JSON can hold them."""
    if isinstance(value, pd.Timestamp):
        return value.date().isoformat()
    if hasattr(value, "item"):
        return value.item()
    raise TypeError(f"cannot store {type(value).__name__} as an attribute value")


def _rows(frame: pd.DataFrame, columns: list[str]) -> list[tuple[Any, ...]]:
    return list(zip(*(_values(frame[c]) for c in columns)))


def _write(conn: sa.Connection, contract_id: str, batch_id: int, prepared: Prepared) -> None:
    people = prepared.participants
    if not people.empty:
        frame = pd.DataFrame({"contract_id": contract_id, "pseudonym": people["pseudonym"],
                              "attributes": [json.dumps(a, default=_json_value, allow_nan=False) for a in people["attributes"]],
                              "batch_id": batch_id})
        bulk_insert(conn, ParticipantRow.__table__, list(frame.columns), _rows(frame, list(frame.columns)))
    enrolments = prepared.enrolments
    if not enrolments.empty:
        if "participant_id" not in enrolments.columns:
            ids = dict(conn.execute(
                sa.select(ParticipantRow.pseudonym, ParticipantRow.id).where(ParticipantRow.batch_id == batch_id)
            ).all())
            enrolments = enrolments.assign(participant_id=enrolments["pseudonym"].map(ids))
        frame = enrolments.assign(contract_id=contract_id, batch_id=batch_id,
                                  participant_id=enrolments["participant_id"].astype(int))
        columns = ["contract_id", "participant_id", "cohort", "arm", "start", "exit", "batch_id"]
        bulk_insert(conn, EnrolmentRow.__table__, columns, _rows(frame, columns))
    measurements = prepared.measurements
    if not measurements.empty:
        frame = measurements.assign(contract_id=contract_id, batch_id=batch_id,
                                    participant_id=measurements["participant_id"].astype(int),
                                    value=measurements["value"].astype(float))
        columns = ["contract_id", "participant_id", "metric", "observed_on", "value", "status", "source", "batch_id"]
        bulk_insert(conn, MeasurementRow.__table__, columns, _rows(frame, columns))
