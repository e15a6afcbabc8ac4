"""jobs: long work asked for on a web page and done by ``sib worker``

New table ``jobs``: one row per job (evaluation, payments, report, board summary) with its state, progress,
lease, attempts and result.  Workers claim the oldest queued job (on PostgreSQL with FOR UPDATE SKIP LOCKED, so
several share one queue); a job whose worker stopped is claimed again when its lease runs out.

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-30 14:20:00
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('jobs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('contract_id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('params', sa.JSON(), nullable=False),
    sa.Column('state', sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
    sa.Column('done', sa.Integer(), nullable=False),
    sa.Column('total', sa.Integer(), nullable=False),
    sa.Column('step', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('worker', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
    sa.Column('lease_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('result', sa.JSON(), nullable=True),
    sa.Column('file', sa.LargeBinary(), nullable=True),
    sa.Column('error', sa.JSON(), nullable=True),
    sa.Column('created_by', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['contract_id'], ['contracts.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_jobs_contract_id', 'jobs', ['contract_id'], unique=False)
    op.create_index('ix_jobs_state_id', 'jobs', ['state', 'id'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_jobs_state_id', table_name='jobs')
    op.drop_index('ix_jobs_contract_id', table_name='jobs')
    op.drop_table('jobs')
