"""Ingesting one delivered file as one atomic batch.

The file is streamed in chunks: each chunk is validated, and while no error
has been found it is written inside one transaction that spans the whole
file.  At the end, a file with any error is rolled back whole and refused with
every error listed (up to ``MAX_ERRORS``, the rest counted); a clean file is
committed as one batch.  The same file (same bytes, kind and contract)
imported again changes nothing.
"""

from __future__ import annotations

import contextlib
import dataclasses

import json
import logging
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np
import pandas as pd
import sqlalchemy as sa
import sqlalchemy.orm
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from contracts.model import Contract, FileMapping
from language import Message, MessageError
from outcomes.checks import MAX_ERRORS, Context, Prepared, PseudonymIndex, RowError, StoreView, measurement_keys
from outcomes.kinds import KINDS, checker
from outcomes.messages import TEXTS as O
from language.masking import mask_text, mask_value
from outcomes.readers import UnreadableFile, file_sha256, open_table
from store.bulk import FrameWriter, read_frame
from store.db import actor, record_audit
from store.scope import contract_batches, summarise_batch_index
from store.tables import EnrolmentRow, ImportBatchRow, MeasurementRow, ParticipantRow, SurveyAnswerRow

log = logging.getLogger("sib.ingest")


class IngestError(MessageError):
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
    notes: list[Message] = field(default_factory=list)

    def as_dict(self, words: Any = None) -> dict[str, Any]:
        """The report as JSON: each error's reason in the language of ``words`` (default English), with its
        code and parameters beside it; anything like a personal identity number masked."""
        from language.words import words as language

        said = words or language("en")
        return {
            "contract": self.contract_id, "kind": self.kind, "file": self.filename, "sha256": self.sha256,
            "rows": self.rows, "status": self.status, "batch": self.batch_id, "counts": self.counts,
            "notes": [said.message(n) for n in self.notes], "errors_total": self.errors_total,
            "by_reason": self.by_reason(said), "errors": [error_dict(e, said) for e in self.errors],
        }

    def by_reason(self, words: Any = None, first: int = 3) -> list[dict[str, Any]]:
        """The errors grouped by what is wrong (the message's code and column), most frequent first: how many,
        and the first few rows of each, so a file with one mistake repeated 10,000 times reads as one line.
        Counts are of the errors listed (all of them, up to ``MAX_ERRORS``)."""
        from language.words import words as language

        said = words or language("en")
        groups: dict[tuple[str, str], list[RowError]] = {}
        for e in self.errors:
            groups.setdefault((e.message.code, e.column), []).append(e)
        ordered = sorted(groups.items(), key=lambda item: (-len(item[1]), item[1][0].row))
        return [{"code": code, "column": mask_text(column), "count": len(found),
                 "first": [error_dict(e, said) for e in found[:first]]} for (code, column), found in ordered]


def error_dict(e: RowError, said: Any) -> dict[str, Any]:
    """One refused row as reported and audited: reason in words, and the message it came from."""
    message = mask_value(e.message.as_dict())
    return {"row": e.row, "column": mask_text(e.column), "value": mask_text(e.value),
            "reason": said.message(message), "message": message}


class IngestRefused(MessageError):
    def __init__(self, report: IngestReport):
        n = report.errors_total
        super().__init__(O("refused" if n == 1 else "refused_many", file=report.filename, n=n))
        self.report = report


def store_view(conn: sa.Connection, contract: Contract, kind: str, provider: str | None = None) -> StoreView:
    """Known participants, their first enrolment start and (for measurements) the stored keys, in bulk; for a
    provider's delivery, each participant's provider."""
    people = read_frame(conn, sa.select(ParticipantRow.id, ParticipantRow.pseudonym)
                        .where(ParticipantRow.contract_id == contract.id))
    starts = read_frame(conn, sa.select(EnrolmentRow.participant_id, sa.func.min(EnrolmentRow.start).label("start"))
                        .where(EnrolmentRow.contract_id == contract.id).group_by(EnrolmentRow.participant_id))
    view = StoreView(
        participant_ids=PseudonymIndex(people["pseudonym"].tolist(), people["id"].astype(int).tolist()),
        enrolment_starts=pd.Series(pd.to_datetime(starts["start"]).to_numpy(), index=starts["participant_id"].astype(int)),
    )
    if provider is not None:
        owners = read_frame(conn, sa.select(EnrolmentRow.participant_id, EnrolmentRow.provider)
                            .where(EnrolmentRow.contract_id == contract.id).order_by(EnrolmentRow.start))
        owners = owners.drop_duplicates("participant_id", keep="first")  # the provider they were first enrolled with
        view = dataclasses.replace(view, providers=pd.Series(owners["provider"].to_numpy(dtype=object),
                                                             index=owners["participant_id"].astype(int)))
    if kind == "survey":  # anonymous answers' units are checked against the organisation file, if one is loaded
        from contracts.organisation import Organisation
        from store.tables import OrganisationRow

        row = conn.execute(sa.select(OrganisationRow.definition)
                           .order_by(OrganisationRow.version.desc(), OrganisationRow.id.desc()).limit(1)).scalar()
        view = dataclasses.replace(view, organisation=None if row is None else Organisation.model_validate(row))
    if kind != "measurements":
        return view
    stored = read_frame(conn, sa.select(
        MeasurementRow.id, MeasurementRow.participant_id, MeasurementRow.metric, MeasurementRow.observed_on,
        MeasurementRow.batch_id, MeasurementRow.supersedes_id)
        .where(MeasurementRow.batch_id.in_(sorted(contract_batches(conn, contract.id)))))  # the batch index alone
    stored = stored[~stored["id"].isin(set(stored["supersedes_id"].dropna().astype(int)))]
    metric_index = pd.Index([m.id for m in contract.metrics]).get_indexer(stored["metric"])
    stored, metric_index = stored[metric_index >= 0], metric_index[metric_index >= 0]
    keys = measurement_keys(stored["participant_id"], pd.Series(metric_index), pd.to_datetime(stored["observed_on"]))
    return dataclasses.replace(view, measurements=pd.DataFrame({
        "key": keys, "id": stored["id"].to_numpy(dtype=np.int64), "batch_id": stored["batch_id"].to_numpy(dtype=np.int64)}))


def _earlier(conn: sa.Connection, contract_id: str, kind: str, digest: str) -> int | None:
    return conn.execute(sa.select(ImportBatchRow.id).where(
        ImportBatchRow.contract_id == contract_id, ImportBatchRow.kind == kind, ImportBatchRow.sha256 == digest)).scalar()


REFUSAL_ERRORS_KEPT = 20


def ingest_file(engine: Engine, contract: Contract, path: Path, kind: str, key: bytes, *,
                mapping: FileMapping | None = None, dry_run: bool = False, today: date | None = None,
                actor_name: str | None = None, filename: str | None = None,
                progress: Callable[[int, int | None], None] | None = None, provider: str | None = None) -> IngestReport:
    """Validate ``path`` as a ``kind`` file of ``contract`` and store it as one batch, or refuse it whole.

    A refused file stores none of its rows; the refusal itself (file name, hash, error count and the first
    errors, masked as in the error report) is kept in the audit log, so the intermediary can see which
    deliveries failed and why.  A dry run leaves no trace.  ``progress(rows read, rows in the file or None)`` is
    told after each chunk (the CLI's bar).  ``provider``: the provider delivering the file (a provider user's
    upload): its people are enrolled with it, and it may deliver only for its own participants.
    """
    if kind not in KINDS:
        raise IngestError(O("unknown_kind", kind=kind, kinds=", ".join(KINDS)))
    name = mask_text(filename or Path(path).name)  # a file name is stored, logged and shown: masked first
    try:
        return _ingest(engine, contract, Path(path), kind, key, mapping, dry_run, today, actor_name, name, progress,
                       provider)
    except IngestRefused as refused:
        if not dry_run:
            from language.words import words

            report = refused.report  # the first errors, as the error report words them (in English)
            _record_refusal(engine, contract.id, actor_name, {
                "kind": kind, "file": name, "sha256": report.sha256, "rows": report.rows, "provider": provider,
                "errors_total": report.errors_total,
                "errors": [error_dict(e, words("en")) for e in report.errors[:REFUSAL_ERRORS_KEPT]]})
        raise
    except UnreadableFile as unreadable:
        if not dry_run and Path(path).is_file():  # a mistyped path is not a delivery
            _record_refusal(engine, contract.id, actor_name, {
                "kind": kind, "file": name, "rows": 0, "errors_total": 1,
                "errors": [{"row": None, "column": "", "value": "",
                            "reason": mask_text(f"unreadable: {unreadable}"),
                            "message": O("unreadable", reason=unreadable.message.as_dict()).as_dict()}]})
        raise


def _record_refusal(engine: Engine, contract_id: str, actor_name: str | None, details: dict[str, Any]) -> None:
    with engine.begin() as conn:
        record_audit(conn, "ingest.refused", contract_id, details, actor_name)


def _ingest(engine: Engine, contract: Contract, path: Path, kind: str, key: bytes, mapping: FileMapping | None,
            dry_run: bool, today: date | None, actor_name: str | None, name: str,
            progress: Callable[[int, int | None], None] | None = None, provider: str | None = None) -> IngestReport:
    mapping = mapping or contract.mappings.get(kind) or FileMapping()  # type: ignore[call-overload]
    table = open_table(path, mapping)
    report = IngestReport(contract.id, kind, name, file_sha256(path), notes=list(table.notes))

    with engine.connect() as conn:
        earlier = _earlier(conn, contract.id, kind, report.sha256)
        if earlier is not None:
            report.status, report.batch_id = "already_imported", earlier
            return report
        view = store_view(conn, contract, kind, provider)
    check = checker(kind, Context(contract, key, view, mapping, today or date.today(), provider), table.columns)
    errors = check.header_errors(table.columns)
    if errors:
        return _refuse(report, errors)

    conn = engine.connect()
    sqlite = conn.dialect.name == "sqlite"
    if sqlite and not dry_run:
        # Per-row foreign-key checks would cost SQLite a third of the bulk insert.  Every reference was validated
        # above against a store that never deletes, and _Writer.verify_references checks them again in one query.
        conn.connection.dbapi_connection.execute("PRAGMA foreign_keys=OFF")
    transaction = None if dry_run else conn.begin()
    writer = _Writer(conn, contract.id)
    try:
        if transaction is not None:
            writer.batch_id = conn.execute(
                sa.insert(ImportBatchRow).returning(ImportBatchRow.id),
                {"contract_id": contract.id, "kind": kind, "filename": name, "sha256": report.sha256, "rows": 0,
                 "summary": {}, "created_by": actor_name or actor(), "provider": provider},
            ).scalar_one()
        for frame, problems in table.chunks:
            errors += [RowError(p.row, p.column, p.message) for p in problems]
            prepared, found = check.check(frame)
            errors += found
            report.rows += len(frame) + len(problems)
            if transaction is not None and not errors:
                writer.write(prepared)
            if progress is not None:
                progress(report.rows, table.rows)
        errors += check.finish()
        if report.rows == 0:
            errors.append(RowError(1, "", O("no_rows")))
        report.counts = dict(check.counts)
        if errors:
            if transaction is not None:
                writer.bulk.abandon()
                transaction.rollback()
            return _refuse(report, errors)
        if transaction is None:
            report.status = "dry_run"
            return report
        writer.verify_references()
        conn.execute(sa.update(ImportBatchRow).where(ImportBatchRow.id == writer.batch_id).values(
            rows=report.rows, summary={"counts": report.counts, "notes": [n.as_dict() for n in report.notes],
                                       # the mapping the file was read with (columns, formats, recoding)
                                       "mapping": mapping.model_dump(mode="json", exclude_defaults=True)}))
        record_audit(conn, "ingest", contract.id, {"batch": writer.batch_id, "kind": kind, "file": name,
                                                   "rows": report.rows}, actor_name)
        transaction.commit()
    except IntegrityError:
        # Another import of the same file won the race: this one changes nothing.
        writer.bulk.abandon()
        if transaction is not None and transaction.is_active:
            transaction.rollback()
        with engine.connect() as check_conn:
            earlier = _earlier(check_conn, contract.id, kind, report.sha256)
        if earlier is None:
            raise
        report.status, report.batch_id = "already_imported", earlier
        return report
    except BaseException:
        writer.bulk.abandon()
        if transaction is not None and transaction.is_active:
            transaction.rollback()
        raise
    finally:
        if sqlite and not dry_run:
            conn.connection.dbapi_connection.execute("PRAGMA foreign_keys=ON")
        conn.close()
    report.status, report.batch_id = "accepted", writer.batch_id
    if "measurements" in writer.written:
        _summarise(engine)
    log.info("batch %s: %s file %s accepted, %d rows", writer.batch_id, kind, name, report.rows)
    return report


def _summarise(engine: Engine) -> None:
    """The batch index made to know the delivery just stored (store.scope): best effort, as autovacuum would
    do it later anyway (a user who does not own the table may not)."""
    try:
        with engine.begin() as conn:
            summarise_batch_index(conn)
    except sa.exc.DBAPIError as exc:
        log.warning("the measurements' batch index was not summarised: %s", str(exc.orig).splitlines()[0])


def _refuse(report: IngestReport, errors: list[RowError]) -> IngestReport:
    unique = sorted(set(errors), key=lambda e: e.sort_key)
    report.errors_total = len(unique)
    report.errors = unique[:MAX_ERRORS]
    log.info("%s file %s refused: %d errors", report.kind, report.filename, report.errors_total)
    raise IngestRefused(report)


# -- writing ------------------------------------------------------------------------------------------------------

def _json_value(value: Any) -> Any:
    """numpy scalars in attribute values, as JSON can hold them."""
    if hasattr(value, "item"):
        return value.item()
    raise TypeError(f"cannot store {type(value).__name__} as an attribute value")


class _Writer:
    """Writes prepared chunks of one batch inside the caller's transaction."""

    def __init__(self, conn: sa.Connection, contract_id: str):
        self.conn, self.contract_id = conn, contract_id
        self.bulk = FrameWriter(conn)
        self.written: set[str] = set()  # tables this batch wrote to, and whether it wrote corrections:
        self.corrections = False  # what verify_references checks
        self.batch_id = 0
        self.last_participant = 0

    def write(self, prepared: Prepared) -> None:
        conn, batch = self.conn, self.batch_id
        fixed = {"contract_id": self.contract_id, "batch_id": batch}
        people = prepared.participants
        if not people.empty:
            frame = pd.DataFrame({
                "pseudonym": people["pseudonym"], "birth_year": people["birth_year"], "legal_sex": people["legal_sex"],
                "attributes": [json.dumps(a, default=_json_value, allow_nan=False) for a in people["attributes"]]})
            self._insert(ParticipantRow, frame, fixed)
        enrolments = prepared.enrolments
        if not enrolments.empty:
            if "participant_id" not in enrolments.columns:
                # Ids of this chunk's new participants: this batch's rows above the last id seen.
                self.bulk.close()
                ids = dict(conn.execute(sa.select(ParticipantRow.pseudonym, ParticipantRow.id).where(
                    ParticipantRow.contract_id == self.contract_id,  # the contract's index: no scan of other's
                    ParticipantRow.batch_id == batch, ParticipantRow.id > self.last_participant)).all())
                self.last_participant = max(ids.values(), default=self.last_participant)
                enrolments = enrolments.assign(participant_id=enrolments["pseudonym"].map(ids))
            columns = ["cohort", "arm", "start", "exit", *(["provider"] if "provider" in enrolments.columns else [])]
            frame = enrolments[columns].assign(
                participant_id=enrolments["participant_id"].astype(np.int64))
            self._insert(EnrolmentRow, frame, fixed)
        measurements = prepared.measurements
        if not measurements.empty:
            extra = [c for c in ("instrument", "instrument_version") if c in measurements.columns]
            frame = measurements[["metric", "observed_on", "source", "qualifier", "supersedes_id", *extra]].assign(
                participant_id=measurements["participant_id"].astype(np.int64), value=measurements["value"].astype(float))
            frame = frame.sort_values("participant_id", kind="stable")  # index locality: faster inserts
            self._insert(MeasurementRow, frame, fixed | {"status": "reported"})
        answers = prepared.answers
        if not answers.empty:
            extra = [c for c in ("instrument", "instrument_version", "age_band", "sex") if c in answers.columns]
            frame = answers[["metric", "answered_on", "qualifier", "unit", *extra]].assign(
                value=answers["value"].astype(float))
            self._insert(SurveyAnswerRow, frame, fixed)

    def verify_references(self) -> None:
        """Every row of this batch refers to an existing participant of its contract, and every correction to an
        existing row: one query per kind of reference this batch wrote (the store has no per-row keys there)."""
        self.bulk.close()
        with self.hash_joins():
            for query in self.participant_checks():
                self._none_dangling(query)
        if self.corrections:  # a correction's row is found by its primary key: a nested loop is the right plan
            earlier = sa.orm.aliased(MeasurementRow)
            self._none_dangling(
                sa.select(sa.func.count()).select_from(MeasurementRow)
                .outerjoin(earlier, sa.and_(earlier.id == MeasurementRow.supersedes_id,
                                            earlier.contract_id == self.contract_id))
                .where(MeasurementRow.batch_id == self.batch_id, MeasurementRow.supersedes_id.is_not(None),
                       earlier.id.is_(None)))

    def _none_dangling(self, query: sa.Select) -> None:
        dangling = self.conn.execute(query).scalar_one()
        if dangling:
            raise RuntimeError(f"batch {self.batch_id}: {dangling} rows refer to rows that do not exist")

    def participant_checks(self) -> list[sa.Select]:
        """Counts of this batch's rows whose participant is not one of its contract's (each must be 0)."""
        return [sa.select(sa.func.count()).select_from(model).outerjoin(ParticipantRow, sa.and_(
                ParticipantRow.id == model.participant_id, ParticipantRow.contract_id == self.contract_id))
                .where(model.contract_id == self.contract_id,  # enrolments: the contract's index
                       model.batch_id == self.batch_id, ParticipantRow.id.is_(None))
                for model in (MeasurementRow, EnrolmentRow) if model.__tablename__ in self.written]

    @contextlib.contextmanager
    def hash_joins(self) -> Iterator[None]:
        """On PostgreSQL, no nested loops for the participant checks.  The batch, and often its contract, are newer
        than the table statistics, which then count them as one row each: PostgreSQL would loop over the batch
        probing all of the contract's participants for each row (39 s for 110,000 measurements in a store of five
        contracts, against 0.04 s by a hash join, which reads each side once)."""
        postgres = self.conn.dialect.name == "postgresql"
        if postgres:
            self.conn.exec_driver_sql("SET LOCAL enable_nestloop = off")  # this transaction only
        yield  # on an error the transaction is rolled back, and the setting with it
        if postgres:
            self.conn.exec_driver_sql("SET LOCAL enable_nestloop TO DEFAULT")

    def _insert(self, model: Any, frame: pd.DataFrame, fixed: dict[str, Any]) -> None:
        self.bulk.insert(model.__table__, frame, fixed)
        self.written.add(model.__tablename__)
        if "supersedes_id" in frame.columns and frame["supersedes_id"].notna().any():
            self.corrections = True
