"""user follow-up: instruments as data, answers recoded to SKR's own codes, organisation and fieldwork

Every survey answer now records the instrument and version it was coded under (``instrument``,
``instrument_version`` on ``measurements`` and ``survey_answers``); anonymous answers may carry an age band and
sex.  New tables: ``instruments`` (user-loaded instrument files), ``instrument_conversions`` (the record of this
migration's recoding), ``organisations``, and the fieldwork tables ``survey_frames``, ``survey_frame_members``,
``survey_draws``, ``survey_draw_members`` and ``survey_contacts``.

Answers stored before this revision were coded under the engine's earlier paraphrase of SKR's six questions
(instrument version 1: five steps on every question, 1 the worst answer, "don't know" already stored as no
value).  SKR's own coding (version 2, ``contracts/instruments_data/skr_user_questions.v2.yaml``) puts the best
answer at 1.  Where the scales have the same five steps (questions 1, 2, 4 and 5) the answers are converted,
new code = 6 − old code, and the conversion is recorded with the number of rows.  Questions 3 and 6 have four
steps in the source and five in version 1: no mapping is faithful, so those answers are not converted; they
keep version 1, the refusal is recorded, and results show them apart, never as version-2 answers
(docs/surveys.md).

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-30 08:15:00
"""
import json
from datetime import datetime, timezone

from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None

INSTRUMENT = "skr_user_questions"
REVERSED = {str(old): 6 - old for old in range(1, 6)}
CONVERTED = ("situation_change", "quality_of_life_change", "overall_satisfaction", "treatment")
REFUSED = {
    "importance_of_support": "version 1 had five steps of importance; the source has four of significance",
    "influence": "version 1 had five steps of influence; the source has four",
}


def _text(length: int | None = None):
    return sqlmodel.sql.sqltypes.AutoString(length=length) if length else sqlmodel.sql.sqltypes.AutoString()


def _when():
    return sa.Column('created_at', sa.DateTime(timezone=True), nullable=False)


def upgrade() -> None:
    for table in ("measurements", "survey_answers"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column('instrument', _text(64), nullable=True))
            batch_op.add_column(sa.Column('instrument_version', sa.Integer(), nullable=True))
    with op.batch_alter_table('survey_answers', schema=None) as batch_op:
        batch_op.add_column(sa.Column('age_band', _text(16), nullable=True))
        batch_op.add_column(sa.Column('sex', _text(1), nullable=True))
    op.create_table('instruments',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('instrument_id', _text(64), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('definition', sa.JSON(), nullable=False),
    sa.Column('source_text', _text(), nullable=False),
    sa.Column('sha256', _text(64), nullable=False),
    _when(),
    sa.Column('created_by', _text(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('instrument_id', 'version')
    )
    op.create_table('instrument_conversions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('instrument_id', _text(64), nullable=False),
    sa.Column('question', _text(64), nullable=False),
    sa.Column('from_version', sa.Integer(), nullable=False),
    sa.Column('to_version', sa.Integer(), nullable=True),
    sa.Column('mapping', sa.JSON(), nullable=False),
    sa.Column('reason', _text(), nullable=False),
    sa.Column('rows', sa.Integer(), nullable=False),
    _when(),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('organisations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('organisation_id', _text(64), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('definition', sa.JSON(), nullable=False),
    sa.Column('sha256', _text(64), nullable=False),
    _when(),
    sa.Column('created_by', _text(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('organisation_id', 'version')
    )
    op.create_table('survey_frames',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('contract_id', _text(64), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('built_from', _text(20), nullable=False),
    sa.Column('rules', sa.JSON(), nullable=False),
    _when(),
    sa.Column('created_by', _text(), nullable=False),
    sa.ForeignKeyConstraint(['contract_id'], ['contracts.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_survey_frames_contract_id', 'survey_frames', ['contract_id'], unique=False)
    op.create_table('survey_frame_members',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('frame_id', sa.Integer(), nullable=False),
    sa.Column('pseudonym', _text(64), nullable=False),
    sa.Column('unit', _text(64), nullable=False),
    sa.Column('decision_type', _text(64), nullable=True),
    sa.Column('start', sa.Date(), nullable=False),
    sa.Column('end', sa.Date(), nullable=True),
    sa.Column('age_band', _text(16), nullable=True),
    sa.Column('sex', _text(1), nullable=True),
    sa.Column('excluded', _text(64), nullable=True),
    sa.ForeignKeyConstraint(['frame_id'], ['survey_frames.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_survey_frame_members_frame_id', 'survey_frame_members', ['frame_id'], unique=False)
    op.create_table('survey_draws',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('frame_id', sa.Integer(), nullable=False),
    sa.Column('seed', sa.Integer(), nullable=False),
    sa.Column('target', sa.Integer(), nullable=False),
    sa.Column('reserves', sa.Integer(), nullable=False),
    _when(),
    sa.Column('created_by', _text(), nullable=False),
    sa.ForeignKeyConstraint(['frame_id'], ['survey_frames.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_survey_draws_frame_id', 'survey_draws', ['frame_id'], unique=False)
    op.create_table('survey_draw_members',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('draw_id', sa.Integer(), nullable=False),
    sa.Column('member_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('reserve', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['draw_id'], ['survey_draws.id'], ),
    sa.ForeignKeyConstraint(['member_id'], ['survey_frame_members.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_survey_draw_members_draw_id', 'survey_draw_members', ['draw_id'], unique=False)
    op.create_table('survey_contacts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('draw_id', sa.Integer(), nullable=False),
    sa.Column('pseudonym', _text(64), nullable=False),
    sa.Column('attempt', sa.Integer(), nullable=False),
    sa.Column('channel', _text(16), nullable=False),
    sa.Column('outcome', _text(16), nullable=False),
    sa.Column('contacted_on', sa.Date(), nullable=False),
    _when(),
    sa.Column('created_by', _text(), nullable=False),
    sa.ForeignKeyConstraint(['draw_id'], ['survey_draws.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_survey_contacts_draw_id', 'survey_contacts', ['draw_id'], unique=False)
    _convert_answers()


def _survey_metrics(conn) -> dict[str, dict[str, str]]:
    """Per contract, metric id -> SKR question id, from every stored version of its terms."""
    versions = sa.table("contract_versions", sa.column("contract_id", sa.Text), sa.column("terms", sa.JSON))
    found: dict[str, dict[str, str]] = {}
    for contract_id, terms in conn.execute(sa.select(versions.c.contract_id, versions.c.terms)).all():
        if isinstance(terms, str):  # SQLite gives JSON text, PostgreSQL a mapping
            terms = json.loads(terms)
        for metric in (terms or {}).get("metrics", []):
            if metric.get("instrument") == INSTRUMENT and metric.get("question"):
                found.setdefault(contract_id, {})[metric["id"]] = metric["question"]
    return found


def _convert_answers() -> None:
    conn = op.get_bind()
    conversions = sa.table("instrument_conversions", sa.column("instrument_id", sa.Text), sa.column("question", sa.Text),
                           sa.column("from_version", sa.Integer), sa.column("to_version", sa.Integer),
                           sa.column("mapping", sa.JSON), sa.column("reason", sa.Text), sa.column("rows", sa.Integer),
                           sa.column("created_at", sa.DateTime(timezone=True)))
    counts: dict[str, int] = {}
    for name in ("measurements", "survey_answers"):
        table = sa.table(name, sa.column("contract_id", sa.Text), sa.column("metric", sa.Text),
                         sa.column("value", sa.Float), sa.column("instrument", sa.Text),
                         sa.column("instrument_version", sa.Integer))
        for contract_id, metrics in _survey_metrics(conn).items():
            for metric, question in metrics.items():
                rows = sa.and_(table.c.contract_id == contract_id, table.c.metric == metric,
                               table.c.instrument.is_(None))
                if question in CONVERTED:
                    result = conn.execute(sa.update(table).where(rows).values(
                        value=sa.case((table.c.value.is_(None), None), else_=6 - table.c.value),
                        instrument=INSTRUMENT, instrument_version=2))
                else:
                    result = conn.execute(sa.update(table).where(rows).values(instrument=INSTRUMENT,
                                                                             instrument_version=1))
                counts[question] = counts.get(question, 0) + (result.rowcount or 0)
    now = datetime.now(timezone.utc)
    for question in (*CONVERTED, *REFUSED):
        if not counts.get(question):
            continue
        converted = question in CONVERTED
        conn.execute(sa.insert(conversions).values(
            instrument_id=INSTRUMENT, question=question, from_version=1, to_version=2 if converted else None,
            mapping=REVERSED if converted else {}, rows=counts[question], created_at=now,
            reason=("the same five steps in reverse order: new code = 6 - old code" if converted
                    else f"not converted: {REFUSED[question]}")))


def downgrade() -> None:
    conn = op.get_bind()
    for name in ("measurements", "survey_answers"):  # the converted answers back to version 1's codes
        table = sa.table(name, sa.column("value", sa.Float), sa.column("instrument", sa.Text),
                         sa.column("instrument_version", sa.Integer))
        conn.execute(sa.update(table).where(table.c.instrument == INSTRUMENT, table.c.instrument_version == 2,
                                            table.c.value.is_not(None)).values(value=6 - table.c.value))
    for index, table in (('ix_survey_contacts_draw_id', 'survey_contacts'),
                         ('ix_survey_draw_members_draw_id', 'survey_draw_members'),
                         ('ix_survey_draws_frame_id', 'survey_draws'),
                         ('ix_survey_frame_members_frame_id', 'survey_frame_members'),
                         ('ix_survey_frames_contract_id', 'survey_frames')):
        op.drop_index(index, table_name=table)
        op.drop_table(table)
    op.drop_table('organisations')
    op.drop_table('instrument_conversions')
    op.drop_table('instruments')
    with op.batch_alter_table('survey_answers', schema=None) as batch_op:
        batch_op.drop_column('sex')
        batch_op.drop_column('age_band')
    for table in ("measurements", "survey_answers"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column('instrument_version')
            batch_op.drop_column('instrument')
