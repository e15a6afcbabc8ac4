"""Reading an evaluation's inputs from the store in bulk, and fingerprinting them.

Three frames, each read with one query into pandas: participants with their
attributes, enrolments, and the measurements that count (not rejected, not
superseded, observed by the as-of date, and verified unless an interim view
asks otherwise).  Enrolments, like measurements, count only once their batch is verified.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd
import pyarrow.json as pa_json
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from store.bulk import read_frame
from store.scope import contract_batches
from store.tables import EnrolmentRow, ImportBatchRow, MeasurementRow, ParticipantRow, SurveyAnswerRow


@dataclass(frozen=True)
class Inputs:
    participants: pd.DataFrame  # participant_id, person_key (see ``person_keys``) and one column per attribute
    enrolments: pd.DataFrame  # participant_id, cohort, arm, start, exit
    measurements: pd.DataFrame  # participant_id, metric, observed_on, value, verified
    answers: pd.DataFrame  # anonymous survey answers: answer_id, metric, answered_on, value, unit, verified

    def fingerprint(self) -> str:
        """SHA-256 over the exact rows used, whatever order they were delivered in: same inputs, same fingerprint.

        The store's row ids follow the order of the delivered files, so they are left out: a participant is
        named by their person key (the first 64 bits of their pseudonym, a keyed hash of the delivered
        reference), and each table is digested as the sorted 64-bit hashes of its rows (a multiset).  The same
        data delivered in another row order gives the same fingerprint, as it gives the same run.  (Runs of
        earlier code versions digested the whole pseudonym, and before that the rows in id order; their
        fingerprints are of those definitions.)
        """
        digest = hashlib.sha256()
        keys = (self.participants.set_index("participant_id")["person_key"]
                if "person_key" in self.participants.columns else None)
        for name, frame, ids in (("participants", self.participants, ("participant_id",)),
                                 ("enrolments", self.enrolments, ()),
                                 ("measurements", self.measurements, ("measurement_id",)),
                                 ("answers", self.answers, ("answer_id",))):
            content = frame.drop(columns=[c for c in ids if c in frame.columns])
            if "participant_id" in content.columns and keys is not None:
                content = content.assign(participant_id=content["participant_id"].map(keys))
            content = content.reindex(sorted(content.columns), axis=1)
            digest.update(f"{name}:{','.join(content.columns)}:{len(content)}".encode())
            if len(content):
                rows = pd.util.hash_pandas_object(content, index=False).to_numpy()
                digest.update(np.sort(rows).tobytes())
        return digest.hexdigest()


def person_keys(prefixes: pd.Series) -> np.ndarray:
    """The first 16 hex digits of each pseudonym as an unsigned 64-bit number.

    A pseudonym is an HMAC-SHA256, so its first 64 bits are as good as random: a key that orders people by
    the data, not by the file (matching's ties), at 8 bytes a person instead of a 64-character string.
    The full pseudonym is read from the store only where one is shown (the matched set).
    """
    if not len(prefixes):
        return np.zeros(0, dtype=np.uint64)
    text = list(prefixes)
    if all(isinstance(t, str) and len(t) == 16 for t in text):
        try:
            return np.frombuffer(bytes.fromhex("".join(text)), dtype=">u8").astype(np.uint64)
        except ValueError:
            pass
    return pd.util.hash_array(np.asarray(text, dtype=object), categorize=False)  # not a hex pseudonym: its hash


def _shared(column: pd.Series, cache: dict) -> pd.Series:
    """A text column with one Python object per distinct value (a cohort or arm repeated ten million times
    costs a pointer a row, not a string a row); the same objects across chunks through ``cache``."""
    codes, uniques = pd.factorize(column, use_na_sentinel=True)
    if not len(uniques):
        return column.astype(object)
    values = np.array([cache.setdefault(u, u) for u in uniques] + [None], dtype=object)
    return pd.Series(values[codes], index=column.index, dtype=object)


def _attributes(column: pd.Series) -> pd.DataFrame:
    """Participant attributes as columns.  SQLite gives JSON text, parsed here by pyarrow in one pass;
    PostgreSQL's driver gives dictionaries already."""
    if column.empty:
        return pd.DataFrame(index=column.index)
    if isinstance(column.iloc[0], str):
        table = pa_json.read_json(io.BytesIO("\n".join(column).encode("utf-8")))
        frame = table.to_pandas()
    else:
        frame = pd.DataFrame.from_records(list(column))
    frame.index = column.index
    return frame


def _people_chunk(chunk: pd.DataFrame) -> pd.DataFrame:
    attributes = _attributes(chunk["attributes"])
    people = pd.DataFrame({"participant_id": chunk["participant_id"].astype(np.int64),
                           "person_key": person_keys(chunk["key_hex"])}, index=chunk.index)
    return pd.concat([people, attributes], axis=1)


def _settled(frame: pd.DataFrame) -> pd.DataFrame:
    """Attribute columns with one type whatever the chunks were: a chunk in which a number attribute is all
    missing is parsed as empty text and joins the others as text; numbers again (as one parse of the whole
    column would give), so that neither the run nor its fingerprint depends on where the chunks fell."""
    for name in frame.columns:
        column = frame[name]
        if column.dtype != object or name in ("participant_id", "person_key"):
            continue
        present = column.dropna()
        if not len(present) or isinstance(present.iloc[0], (str, bool)):  # text (the usual object column): as is
            continue
        if present.map(lambda v: isinstance(v, (int, float)) and not isinstance(v, bool)).all():
            frame[name] = pd.to_numeric(column).astype(float if column.isna().any() else present.dtype)
    return frame


def _dated(columns: tuple[str, ...], shared: tuple[str, ...] = (), cache: dict | None = None):
    """A chunk converter: ISO text to dates, repeated text to shared objects."""
    cache = {} if cache is None else cache

    def convert(chunk: pd.DataFrame) -> pd.DataFrame:
        for column in columns:
            chunk[column] = pd.to_datetime(chunk[column])
        for column in shared:
            chunk[column] = _shared(chunk[column], cache)
        if "supersedes_id" in chunk:  # mostly NULL: a number column, not an object column of Nones
            chunk["supersedes_id"] = pd.to_numeric(chunk["supersedes_id"]).astype(float)
        return chunk
    return convert


def load_inputs(engine: Engine, contract_id: str, as_of: date, include_unverified: bool = False) -> Inputs:
    verified = ImportBatchRow.verified_at.is_not(None)
    with engine.connect() as conn:
        batches = contract_batches(conn, contract_id)
    measurements_q = (
        sa.select(
            MeasurementRow.id.label("measurement_id"), MeasurementRow.participant_id, MeasurementRow.metric,
            MeasurementRow.observed_on, MeasurementRow.value, MeasurementRow.supersedes_id, MeasurementRow.batch_id,
        )  # by the contract's batch ids: the batch index alone, however many contracts the store holds
        .where(MeasurementRow.batch_id.in_(sorted(batches)), MeasurementRow.status != "rejected")
    )
    enrolments_q = sa.select(
        EnrolmentRow.participant_id, EnrolmentRow.cohort, EnrolmentRow.arm, EnrolmentRow.start, EnrolmentRow.exit
    ).where(EnrolmentRow.contract_id == contract_id, EnrolmentRow.start <= as_of)
    if not include_unverified:  # an unverified enrolment must not count either: with missing: zero it would be paid
        enrolments_q = enrolments_q.join(ImportBatchRow, ImportBatchRow.id == EnrolmentRow.batch_id).where(verified)
    participants_q = sa.select(ParticipantRow.id.label("participant_id"),
                               sa.func.substr(ParticipantRow.pseudonym, 1, 16).label("key_hex"),
                               ParticipantRow.attributes).where(
        ParticipantRow.contract_id == contract_id
    )
    answers_q = (
        sa.select(SurveyAnswerRow.id.label("answer_id"), SurveyAnswerRow.metric, SurveyAnswerRow.answered_on,
                  SurveyAnswerRow.value, SurveyAnswerRow.unit, verified.label("verified"))
        .join(ImportBatchRow, ImportBatchRow.id == SurveyAnswerRow.batch_id)
        .where(SurveyAnswerRow.contract_id == contract_id, SurveyAnswerRow.answered_on <= as_of)
    )
    if not include_unverified:
        answers_q = answers_q.where(verified)
    cache: dict = {}
    with engine.connect() as conn:  # through the driver's cursor, converted chunk by chunk: millions of rows
        measurements = read_frame(conn, measurements_q, _dated(("observed_on",), ("metric",), cache))
        enrolments = read_frame(conn, enrolments_q, _dated(("start", "exit"), ("cohort", "arm"), cache))
        # The person key (from the pseudonym, a keyed hash of the delivered reference) orders people by the data,
        # not by file order, where an order matters (matching's ties).
        participants = _settled(read_frame(conn, participants_q, _people_chunk))
        answers = read_frame(conn, answers_q, _dated(("answered_on",), ("metric", "unit"), cache))

    measurements["verified"] = measurements.pop("batch_id").map(batches).astype(bool)
    # A corrected measurement is replaced by its correction (whatever the dates); then the as-of and verification cuts.
    superseded = measurements["supersedes_id"].dropna().astype(np.int64).unique()
    keep = measurements["observed_on"] <= pd.Timestamp(as_of)
    if len(superseded):
        keep &= ~measurements["measurement_id"].isin(superseded)
    if not include_unverified:
        keep &= measurements["verified"].astype(bool)
    # The row id has done its work (corrections); evaluation and the fingerprint do not read it.
    measurements = measurements.loc[keep.to_numpy()].drop(columns=["supersedes_id", "measurement_id"]).reset_index(drop=True)
    measurements["value"] = measurements["value"].astype(float)
    measurements["verified"] = measurements["verified"].astype(bool)
    answers["value"] = answers["value"].astype(float)
    answers["verified"] = answers["verified"].astype(bool)
    return Inputs(participants=participants, enrolments=enrolments, measurements=measurements, answers=answers)
