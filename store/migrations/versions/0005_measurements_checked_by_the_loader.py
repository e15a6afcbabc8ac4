"""measurements: references checked by the loader, not per row; a BRIN index on the batch

On PostgreSQL each foreign key on ``measurements`` is a trigger queued for
every inserted row (even where the value is null): with four of them, COPY
spent four fifths of its time there (300,000 rows: 12.9 s with the three on
contract, participant and batch, 2.2 s without; the one on ``supersedes_id``
another 0.9 s).  The loader checks every participant and superseded row of a
batch in one query before it commits (``_Writer.verify_references``), the
batch and the contract are its own, and nothing in the store is ever deleted,
so the keys guarded nothing the loader does not.

On PostgreSQL the b-tree on ``batch_id`` becomes a block-range (BRIN) index:
batch ids only grow and a batch's rows are written together, so a few pages
find them; the b-tree cost a third of the COPY.  SQLite keeps its b-tree.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-22 11:55:00
"""
from alembic import op


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None

DROPPED = (("contract_id", "contracts"), ("participant_id", "participants"), ("batch_id", "import_batches"),
           ("supersedes_id", "measurements"))
# SQLite keeps its foreign keys unnamed: name them as reflected, so batch mode can drop them.
NAMES = {"fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s"}


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for column, _ in DROPPED:
            op.drop_constraint(f"measurements_{column}_fkey", "measurements", type_="foreignkey")
        op.drop_index("ix_measurements_batch_id", table_name="measurements")
        op.create_index("ix_measurements_batch_id", "measurements", ["batch_id"], postgresql_using="brin")
        return
    with op.batch_alter_table("measurements", naming_convention=NAMES) as batch_op:
        for column, table in DROPPED:
            batch_op.drop_constraint(f"fk_measurements_{column}_{table}", type_="foreignkey")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.drop_index("ix_measurements_batch_id", table_name="measurements")
        op.create_index("ix_measurements_batch_id", "measurements", ["batch_id"])
    with op.batch_alter_table("measurements", naming_convention=NAMES) as batch_op:
        for column, table in DROPPED:
            batch_op.create_foreign_key(f"measurements_{column}_fkey", table, [column], ["id"])
