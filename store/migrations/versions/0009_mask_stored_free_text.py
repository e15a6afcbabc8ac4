"""mask personal identity numbers in stored free text

Stores written before ``language.masking`` was applied at storage may hold a clear personal identity number
in free text a delivery or a user supplied: a file name (``import_batches.filename``), a measurement's
``source``, an anonymous survey answer's ``unit``, a user's name, a contract's file name or an amendment's
reason.  These columns are not hashed or sealed, so they are masked in place (YYMMDD-****), one distinct
value at a time.  Sealed rows (ledger steps' notes, audit payloads) cannot be rewritten without breaking
their seals; they are masked wherever they are shown.  Masking cannot be undone: the downgrade leaves the
masked text as it is.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-30 05:20:00
"""
from alembic import op
import sqlalchemy as sa

from language.masking import mask_text


revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None

COLUMNS = (("import_batches", "filename"), ("measurements", "source"), ("survey_answers", "unit"),
           ("users", "name"), ("contracts", "source"), ("contract_versions", "reason"))


def upgrade() -> None:
    conn = op.get_bind()
    for table, column in COLUMNS:
        t = sa.table(table, sa.column(column, sa.Text))
        values = conn.execute(sa.select(t.c[column]).where(t.c[column].is_not(None)).distinct()).scalars().all()
        for value in values:
            masked = mask_text(value)
            if masked != value:
                conn.execute(sa.update(t).where(t.c[column] == value).values({column: masked}))


def downgrade() -> None:
    pass
