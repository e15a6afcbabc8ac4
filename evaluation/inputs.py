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
from store.tables import EnrolmentRow, ImportBatchRow, MeasurementRow, ParticipantRow, SurveyAnswerRow


@dataclass(frozen=True)
class Inputs:
    participants: pd.DataFrame  # participant_id, pseudonym and one column per attribute
    enrolments: pd.DataFrame  # participant_id, cohort, arm, start, exit
    measurements: pd.DataFrame  # measurement_id, participant_id, metric, observed_on, value, verified
    answers: pd.DataFrame  # anonymous survey answers: answer_id, metric, answered_on, value, unit, verified

    def fingerprint(self) -> str:
        """SHA-256 over the exact rows used, whatever order they were delivered in: same inputs, same fingerprint.

        The store's row ids follow the order of the delivered files, so they are left out: a participant is
        named by their pseudonym (a keyed hash of the delivered reference), and each table is digested as the
        sorted 64-bit hashes of its rows (a multiset).  The same data delivered in another row order gives the
        same fingerprint, as it gives the same run.  (Runs of code versions before this one fingerprinted the
        rows in id order; their fingerprints are of that definition.)
        """
        digest = hashlib.sha256()
        pseudonyms = (self.participants.set_index("participant_id")["pseudonym"]
                      if "pseudonym" in self.participants.columns else None)
        for name, frame, ids in (("participants", self.participants, ("participant_id",)),
                                 ("enrolments", self.enrolments, ()),
                                 ("measurements", self.measurements, ("measurement_id",)),
                                 ("answers", self.answers, ("answer_id",))):
            content = frame.drop(columns=[c for c in ids if c in frame.columns])
            if "participant_id" in content.columns and pseudonyms is not None:
                content = content.assign(participant_id=content["participant_id"].map(pseudonyms))
            content = content.reindex(sorted(content.columns), axis=1)
            digest.update(f"{name}:{','.join(content.columns)}:{len(content)}".encode())
            if len(content):
                rows = pd.util.hash_pandas_object(content, index=False).to_numpy()
                digest.update(np.sort(rows).tobytes())
        return digest.hexdigest()


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


def load_inputs(engine: Engine, contract_id: str, as_of: date, include_unverified: bool = False) -> Inputs:
    verified = ImportBatchRow.verified_at.is_not(None)
    measurements_q = (
        sa.select(
            MeasurementRow.id.label("measurement_id"), MeasurementRow.participant_id, MeasurementRow.metric,
            MeasurementRow.observed_on, MeasurementRow.value, MeasurementRow.supersedes_id, verified.label("verified"),
        )
        .join(ImportBatchRow, ImportBatchRow.id == MeasurementRow.batch_id)  # through the batch index
        .where(ImportBatchRow.contract_id == contract_id, MeasurementRow.status != "rejected")
    )
    enrolments_q = sa.select(
        EnrolmentRow.participant_id, EnrolmentRow.cohort, EnrolmentRow.arm, EnrolmentRow.start, EnrolmentRow.exit
    ).where(EnrolmentRow.contract_id == contract_id, EnrolmentRow.start <= as_of)
    if not include_unverified:  # an unverified enrolment must not count either: with missing: zero it would be paid
        enrolments_q = enrolments_q.join(ImportBatchRow, ImportBatchRow.id == EnrolmentRow.batch_id).where(verified)
    participants_q = sa.select(ParticipantRow.id.label("participant_id"), ParticipantRow.pseudonym,
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
    with engine.connect() as conn:  # through the driver's cursor: these can be millions of rows
        measurements = read_frame(conn, measurements_q)
        enrolments = read_frame(conn, enrolments_q)
        people = read_frame(conn, participants_q)
        answers = read_frame(conn, answers_q)

    # The pseudonym (a keyed hash of the delivered reference) orders people by the data, not by file order, where
    # an order matters (matching's ties), and names them in the matched set an intermediary may export.
    participants = pd.concat([people[["participant_id", "pseudonym"]], _attributes(people["attributes"])], axis=1)
    for frame, column in ((measurements, "observed_on"), (enrolments, "start"), (enrolments, "exit")):
        frame[column] = pd.to_datetime(frame[column])
    # A corrected measurement is replaced by its correction (whatever the dates); then the as-of and verification cuts.
    superseded = set(measurements["supersedes_id"].dropna().astype(int))
    measurements = measurements[~measurements["measurement_id"].isin(superseded)].drop(columns="supersedes_id")
    measurements = measurements[measurements["observed_on"] <= pd.Timestamp(as_of)]
    if not include_unverified:
        measurements = measurements[measurements["verified"].astype(bool)]
    measurements = measurements.reset_index(drop=True)
    measurements["value"] = measurements["value"].astype(float)
    measurements["verified"] = measurements["verified"].astype(bool)
    answers["answered_on"] = pd.to_datetime(answers["answered_on"])
    answers["value"] = answers["value"].astype(float)
    answers["verified"] = answers["verified"].astype(bool)
    return Inputs(participants=participants, enrolments=enrolments, measurements=measurements, answers=answers)
