"""the payer's business case: cost files (unit costs with ranges, price years, sources, departments and an index)

New table ``cost_files``: one row per cost file version, kept like an organisation file (``sib costs load``).

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-30 11:00:00
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('cost_files',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('costs_id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('definition', sa.JSON(), nullable=False),
    sa.Column('sha256', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_by', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('costs_id', 'version')
    )


def downgrade() -> None:
    op.drop_table('cost_files')
