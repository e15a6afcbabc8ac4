"""A contract's rows in the tables that hold every contract's: found through its batches.

``measurements`` has one index, a block-range (BRIN) index on the batch (store/tables.py): a batch's rows are
written together, so its ranges find them at almost no cost per row.  A query that names the contract's batch
ids is answered from those ranges alone, whatever else the store holds; a join to ``import_batches`` leaves
the choice to PostgreSQL's planner, which, in a store of 1,000 contracts, read the whole table instead
(benchmarks/bench_scale.py, docs/scale.md).
"""

from __future__ import annotations

import sqlalchemy as sa

from store.tables import ImportBatchRow


def contract_batches(conn: sa.Connection, contract_id: str) -> dict[int, bool]:
    """Each batch of the contract: id -> verified."""
    rows = conn.execute(sa.select(ImportBatchRow.id, ImportBatchRow.verified_at.is_not(None))
                        .where(ImportBatchRow.contract_id == contract_id)).all()
    return {int(batch): bool(verified) for batch, verified in rows}


def summarise_batch_index(conn: sa.Connection) -> None:
    """Bring the measurements' block-range index up to date with the rows just written (PostgreSQL).

    A BRIN index knows nothing of pages written since it was last summarised, and returns all of them for every
    query: until autovacuum came by, each contract's read would scan every measurement stored since.  Summarising
    after each delivery costs a read of that delivery's pages.
    """
    if conn.dialect.name == "postgresql":
        conn.execute(sa.text("SELECT brin_summarize_new_values('ix_measurements_batch_id')"))
