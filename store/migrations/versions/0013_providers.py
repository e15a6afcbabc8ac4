"""providers: an enrolment records the provider delivering to the person; a batch, the provider that delivered it

New nullable columns ``enrolments.provider`` and ``import_batches.provider`` (a provider party id of the
contract).  Rows stored before this revision have none: their provider is not known, and a provider user sees
none of them.

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-30 15:20:00
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('enrolments') as batch:
        batch.add_column(sa.Column('provider', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True))
    with op.batch_alter_table('import_batches') as batch:
        batch.add_column(sa.Column('provider', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('import_batches') as batch:
        batch.drop_column('provider')
    with op.batch_alter_table('enrolments') as batch:
        batch.drop_column('provider')
