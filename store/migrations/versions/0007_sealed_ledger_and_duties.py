"""sealed ledger and duties kept apart

A keyed MAC (``mac``) on every ledger entry, ledger step and audit event, so that someone who can write to
the database but does not hold the key cannot change, forge or recompute them unseen (rows written before
this revision have none, and are checked by their hash chain only).  A step records the user who took it
(``user_id``), the paying party it acted for (``party``) and the evidence flags it acknowledged
(``acknowledged``); a payer user is bound to one paying party (``users.party``); a contract version
records whether its amendment is a retroactive settlement (``contract_versions.retroactive``).

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30 02:00:00
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('contract_versions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('retroactive', sa.Boolean(), nullable=True))
    with op.batch_alter_table('ledger_entries', schema=None) as batch_op:
        batch_op.add_column(sa.Column('mac', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True))
    with op.batch_alter_table('ledger_steps', schema=None) as batch_op:
        batch_op.add_column(sa.Column('user_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('party', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True))
        batch_op.add_column(sa.Column('acknowledged', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('mac', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True))
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.add_column(sa.Column('mac', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True))
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('party', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('party')
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.drop_column('mac')
    with op.batch_alter_table('ledger_steps', schema=None) as batch_op:
        batch_op.drop_column('mac')
        batch_op.drop_column('acknowledged')
        batch_op.drop_column('party')
        batch_op.drop_column('user_id')
    with op.batch_alter_table('ledger_entries', schema=None) as batch_op:
        batch_op.drop_column('mac')
    with op.batch_alter_table('contract_versions', schema=None) as batch_op:
        batch_op.drop_column('retroactive')
