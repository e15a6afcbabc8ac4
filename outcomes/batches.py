"""Import batches: listing them and the intermediary's verification step.

Verification is recorded on the batch (who and when); the measurement rows
themselves are never changed.  A measurement counts as verified when its own
status says so, or when its batch has been verified and it was not rejected.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from store.db import actor, record_audit
from store.tables import ImportBatchRow
from store.types import utcnow


class BatchError(Exception):
    pass


def list_batches(engine: Engine, contract_id: str) -> list[dict[str, Any]]:
    query = (
        sa.select(ImportBatchRow.id, ImportBatchRow.kind, ImportBatchRow.filename, ImportBatchRow.rows,
                  ImportBatchRow.created_at, ImportBatchRow.created_by, ImportBatchRow.verified_at,
                  ImportBatchRow.verified_by)
        .where(ImportBatchRow.contract_id == contract_id)
        .order_by(ImportBatchRow.id)
    )
    with engine.connect() as conn:
        return [dict(row._mapping) for row in conn.execute(query)]


def verify_batch(engine: Engine, contract_id: str, batch_id: int) -> None:
    """Mark a batch verified, once; a second verification is refused."""
    with engine.begin() as conn:
        done = conn.execute(
            sa.update(ImportBatchRow)
            .where(ImportBatchRow.id == batch_id, ImportBatchRow.contract_id == contract_id,
                   ImportBatchRow.verified_at.is_(None))
            .values(verified_at=utcnow(), verified_by=actor())
        ).rowcount
        if done == 0:
            exists = conn.execute(
                sa.select(ImportBatchRow.verified_by).where(
                    ImportBatchRow.id == batch_id, ImportBatchRow.contract_id == contract_id)
            ).first()
            if exists is None:
                raise BatchError(f"no batch {batch_id} for contract {contract_id!r}")
            raise BatchError(f"batch {batch_id} is already verified (by {exists.verified_by})")
        record_audit(conn, "batch.verify", contract_id, {"batch": batch_id})
