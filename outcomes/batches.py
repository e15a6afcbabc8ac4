"""Import batches: listing them, the intermediary's verification, and the history of corrections.

Verification is recorded on the batch (who and when); measurement rows are
never changed.  A measurement counts as verified when its batch has been
verified and it was not rejected.  Corrections are new rows that name the row
they supersede, so the whole history stays in the store and can be shown.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.orm import aliased

from language import MessageError
from outcomes.messages import TEXTS as O
from store.db import actor, record_audit, storable_id
from store.scope import contract_batches
from store.tables import EnrolmentRow, ImportBatchRow, MeasurementRow, ParticipantRow
from store.types import utcnow


class BatchError(MessageError):
    pass


def list_batches(engine: Engine, contract_id: str, provider: str | None = None) -> list[dict[str, Any]]:
    """A contract's batches (with ``provider``: only those that provider delivered), oldest first."""
    query = (
        sa.select(ImportBatchRow.id, ImportBatchRow.kind, ImportBatchRow.filename, ImportBatchRow.rows,
                  ImportBatchRow.created_at, ImportBatchRow.created_by, ImportBatchRow.verified_at,
                  ImportBatchRow.verified_by, ImportBatchRow.provider)
        .where(ImportBatchRow.contract_id == contract_id)
        .order_by(ImportBatchRow.id)
    )
    if provider is not None:
        query = query.where(ImportBatchRow.provider == provider)
    with engine.connect() as conn:
        return [dict(row._mapping) for row in conn.execute(query)]


def participants(engine: Engine, contract_id: str, limit: int, offset: int, who: str,
                 provider: str | None = None) -> tuple[int, list[Any]]:
    """One page of a contract's enrolled participants (pseudonym, cohort, arm, start, provider) and the total
    (with ``provider``: only that provider's); a read of participant-level data, so it is audited."""
    query = (sa.select(ParticipantRow.pseudonym, EnrolmentRow.cohort, EnrolmentRow.arm, EnrolmentRow.start,
                       EnrolmentRow.provider)
             .join(EnrolmentRow, EnrolmentRow.participant_id == ParticipantRow.id)
             .where(ParticipantRow.contract_id == contract_id).order_by(ParticipantRow.id))
    if provider is not None:
        query = query.where(EnrolmentRow.provider == provider)
    with engine.begin() as conn:
        total = conn.execute(sa.select(sa.func.count()).select_from(query.subquery())).scalar_one()
        rows = conn.execute(query.limit(limit).offset(offset)).all()
        record_audit(conn, "participants.read", contract_id, {"limit": limit, "offset": offset, "rows": len(rows),
                                                              **({"provider": provider} if provider else {})}, who)
    return total, rows


def verify_batch(engine: Engine, batch_id: int, who: str | None = None) -> str:
    """Mark a batch verified, once; return its contract.  A second verification is refused."""
    with engine.begin() as conn:
        row = conn.execute(sa.select(ImportBatchRow.contract_id, ImportBatchRow.verified_by)
                           .where(ImportBatchRow.id == batch_id)).first() if storable_id(batch_id) else None
        if row is None:
            raise BatchError(O("no_batch", batch=batch_id))
        done = conn.execute(
            sa.update(ImportBatchRow)
            .where(ImportBatchRow.id == batch_id, ImportBatchRow.verified_at.is_(None))
            .values(verified_at=utcnow(), verified_by=who or actor())
        ).rowcount
        if done == 0:
            raise BatchError(O("already_verified", batch=batch_id, by=row.verified_by))
        record_audit(conn, "batch.verify", row.contract_id, {"batch": batch_id}, who)
    return row.contract_id


def corrections(engine: Engine, contract_id: str) -> pd.DataFrame:
    """Every superseded measurement beside the one that replaced it, oldest first."""
    old = aliased(MeasurementRow)
    new = aliased(MeasurementRow)
    query = (
        sa.select(new.metric, new.observed_on, ParticipantRow.pseudonym, old.value.label("old_value"),
                  new.value.label("new_value"), old.batch_id.label("old_batch"), new.batch_id.label("new_batch"),
                  old.id.label("old_id"), new.id.label("new_id"))
        .join(old, new.supersedes_id == old.id)
        .join(ParticipantRow, ParticipantRow.id == new.participant_id)
        .order_by(new.id)
    )
    with engine.connect() as conn:  # by the contract's batch ids: the batch index alone
        frame = pd.read_sql(query.where(new.batch_id.in_(sorted(contract_batches(conn, contract_id))),
                                        new.contract_id == contract_id), conn)
    frame["participant"] = frame.pop("pseudonym").str[:12]  # a pseudonym prefix: enough to follow, nothing to link
    return frame
