"""Every table of the store, as SQLModel classes.

One module so that a newcomer (and Alembic) sees the whole schema at once.
Rows that record history (contract versions, measurements, evaluation runs,
ledger entries, audit events) are only ever inserted, never updated; a
correction is a new row that points at the one it supersedes.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from store.types import ExactDecimal, utcnow


def _json() -> Any:
    return Field(default_factory=dict, sa_column=sa.Column(sa.JSON, nullable=False, default=dict))


def _when() -> Any:
    return Field(default_factory=utcnow, sa_column=sa.Column(sa.DateTime(timezone=True), nullable=False, default=utcnow))


class ContractRow(SQLModel, table=True):
    __tablename__ = "contracts"

    id: str = Field(primary_key=True, max_length=64)
    name: str
    currency: str = Field(max_length=3)
    source: str
    created_at: datetime = _when()


class ContractVersionRow(SQLModel, table=True):
    __tablename__ = "contract_versions"
    __table_args__ = (sa.UniqueConstraint("contract_id", "version"),)

    id: int | None = Field(default=None, primary_key=True)
    contract_id: str = Field(foreign_key="contracts.id", index=True, max_length=64)
    version: int
    effective: date
    reason: str
    fingerprint: str = Field(max_length=64)
    terms: dict = _json()
    loaded_at: datetime = _when()
    retroactive: bool | None = None  # an amendment marked as a retroactive settlement (since 0007)


class ImportBatchRow(SQLModel, table=True):
    __tablename__ = "import_batches"
    __table_args__ = (sa.UniqueConstraint("contract_id", "kind", "sha256"),)

    id: int | None = Field(default=None, primary_key=True)
    contract_id: str = Field(foreign_key="contracts.id", index=True, max_length=64)
    kind: str = Field(max_length=20)
    filename: str
    sha256: str = Field(max_length=64)
    rows: int
    summary: dict = _json()
    created_at: datetime = _when()
    created_by: str
    verified_at: datetime | None = Field(default=None, sa_column=sa.Column(sa.DateTime(timezone=True)))
    verified_by: str | None = None
    provider: str | None = Field(default=None, max_length=64)  # delivered by this provider's user (since 0013)


class ParticipantRow(SQLModel, table=True):
    """A pseudonymous participant: a keyed hash, never the clear identity."""

    __tablename__ = "participants"
    __table_args__ = (sa.UniqueConstraint("contract_id", "pseudonym"),)

    id: int | None = Field(default=None, primary_key=True)
    contract_id: str = Field(foreign_key="contracts.id", index=True, max_length=64)
    pseudonym: str = Field(max_length=64)
    birth_year: int | None = None
    legal_sex: str | None = Field(default=None, max_length=1)
    attributes: dict = _json()
    batch_id: int = Field(foreign_key="import_batches.id")


class EnrolmentRow(SQLModel, table=True):
    __tablename__ = "enrolments"
    __table_args__ = (sa.UniqueConstraint("participant_id", "start"),)

    id: int | None = Field(default=None, primary_key=True)
    contract_id: str = Field(foreign_key="contracts.id", index=True, max_length=64)
    participant_id: int = Field(foreign_key="participants.id", index=True)
    cohort: str | None = Field(default=None, max_length=64)
    arm: str = Field(max_length=20)  # treatment, control or comparison
    start: date
    exit: date | None = None
    batch_id: int = Field(foreign_key="import_batches.id")
    provider: str | None = Field(default=None, max_length=64)  # the provider party delivering to them (since 0013)


class MeasurementRow(SQLModel, table=True):
    """One observed value.  A correction is a new row whose ``supersedes_id`` names the row it replaces.

    One index only, on the batch: bulk ingestion writes millions of rows and
    every index is paid for on each of them.  Batch ids only grow and a batch's
    rows are written together, so on PostgreSQL a block-range (BRIN) index
    finds them at almost no cost per row (a b-tree cost a third of the COPY).
    Evaluation reads a contract's measurements whole, through its batches.

    For the same reason no foreign keys (migration 0005): on PostgreSQL each is
    a trigger on every inserted row.  The loader checks every reference of a
    batch in one query per table before it commits.
    """

    __tablename__ = "measurements"
    __table_args__ = (sa.Index("ix_measurements_batch_id", "batch_id", postgresql_using="brin"),)

    id: int | None = Field(default=None, primary_key=True)
    contract_id: str = Field(max_length=64)  # checked by the loader (see above)
    participant_id: int  # checked by the loader
    metric: str = Field(max_length=64)
    observed_on: date
    value: float | None = None  # a measured quantity, never money; None is a missing answer ("don't know")
    status: str = Field(default="reported", max_length=10)  # reported, or rejected; verification is per batch
    source: str | None = None
    qualifier: str | None = Field(default=None, max_length=32)  # e.g. a survey answer's reference period
    supersedes_id: int | None = None  # checked by the loader
    batch_id: int  # the loader's own batch
    instrument: str | None = Field(default=None, max_length=64)  # a survey answer: the instrument it was coded under
    instrument_version: int | None = None  # ... and its version (since 0010)


class SurveyAnswerRow(SQLModel, table=True):
    """An anonymous survey answer: no link to any participant, used only in aggregate."""

    __tablename__ = "survey_answers"
    __table_args__ = (sa.Index("ix_survey_answers_contract_metric", "contract_id", "metric"),)

    id: int | None = Field(default=None, primary_key=True)
    contract_id: str = Field(foreign_key="contracts.id", max_length=64)
    metric: str = Field(max_length=64)
    answered_on: date
    value: float | None = None  # None is "don't know"
    qualifier: str | None = Field(default=None, max_length=32)
    unit: str | None = Field(default=None, max_length=200)  # the aggregation unit (a school, a district)
    batch_id: int = Field(foreign_key="import_batches.id")
    instrument: str | None = Field(default=None, max_length=64)  # the instrument it was coded under (since 0010)
    instrument_version: int | None = None
    age_band: str | None = Field(default=None, max_length=16)  # an anonymous answer may carry age band and sex
    sex: str | None = Field(default=None, max_length=1)  # k (kvinna) or m (man), as the follow-up reports them


# -- User follow-up (SKR's questions and others): instruments, organisation, fieldwork (since 0010) ---------------


class InstrumentRow(SQLModel, table=True):
    """A survey instrument a user loaded (``sib instrument load``): its checked definition and the file's text."""

    __tablename__ = "instruments"
    __table_args__ = (sa.UniqueConstraint("instrument_id", "version"),)

    id: int | None = Field(default=None, primary_key=True)
    instrument_id: str = Field(max_length=64)
    version: int
    definition: dict = _json()
    source_text: str
    sha256: str = Field(max_length=64)
    created_at: datetime = _when()
    created_by: str


class InstrumentConversionRow(SQLModel, table=True):
    """A recoding of stored answers from one instrument version to another, or the refusal to: what, how, how many."""

    __tablename__ = "instrument_conversions"

    id: int | None = Field(default=None, primary_key=True)
    instrument_id: str = Field(max_length=64)
    question: str = Field(max_length=64)
    from_version: int
    to_version: int | None = None  # None: refused (the answers stay under from_version, shown apart)
    mapping: dict = _json()  # old code -> new code, as text keys
    reason: str
    rows: int
    created_at: datetime = _when()


class CostFileRow(SQLModel, table=True):
    """A cost file (unit costs with ranges, price years, sources, departments and a price index), versioned."""

    __tablename__ = "cost_files"
    __table_args__ = (sa.UniqueConstraint("costs_id", "version"),)

    id: int | None = Field(default=None, primary_key=True)
    costs_id: str = Field(max_length=64)
    version: int
    definition: dict = _json()
    sha256: str = Field(max_length=64)
    created_at: datetime = _when()
    created_by: str


class OrganisationRow(SQLModel, table=True):
    """An organisation file (units → district administration → area of activity → city), versioned like a contract."""

    __tablename__ = "organisations"
    __table_args__ = (sa.UniqueConstraint("organisation_id", "version"),)

    id: int | None = Field(default=None, primary_key=True)
    organisation_id: str = Field(max_length=64)
    version: int
    definition: dict = _json()
    sha256: str = Field(max_length=64)
    created_at: datetime = _when()
    created_by: str


class SurveyFrameRow(SQLModel, table=True):
    """A sampling frame for one contract and year: who could be asked, built from enrolments or decisions."""

    __tablename__ = "survey_frames"

    id: int | None = Field(default=None, primary_key=True)
    contract_id: str = Field(foreign_key="contracts.id", index=True, max_length=64)
    year: int
    built_from: str = Field(max_length=20)  # enrolments or decisions
    rules: dict = _json()  # the exclusions applied (shortest decision, others stated in the plan)
    created_at: datetime = _when()
    created_by: str


class SurveyFrameMemberRow(SQLModel, table=True):
    """One decision or enrolment in a frame, pseudonymous: never a name, a number or contact details."""

    __tablename__ = "survey_frame_members"

    id: int | None = Field(default=None, primary_key=True)
    frame_id: int = Field(foreign_key="survey_frames.id", index=True)
    pseudonym: str = Field(max_length=64)
    unit: str = Field(max_length=64)
    decision_type: str | None = Field(default=None, max_length=64)
    start: date
    end: date | None = None
    age_band: str | None = Field(default=None, max_length=16)
    sex: str | None = Field(default=None, max_length=1)
    excluded: str | None = Field(default=None, max_length=64)  # why not drawable (e.g. shorter than a month)


class SurveyDrawRow(SQLModel, table=True):
    """A seeded, reproducible random draw from a frame: per unit a target number and reserves, in drawn order."""

    __tablename__ = "survey_draws"

    id: int | None = Field(default=None, primary_key=True)
    frame_id: int = Field(foreign_key="survey_frames.id", index=True)
    seed: int
    target: int
    reserves: int
    created_at: datetime = _when()
    created_by: str


class SurveyDrawMemberRow(SQLModel, table=True):
    __tablename__ = "survey_draw_members"

    id: int | None = Field(default=None, primary_key=True)
    draw_id: int = Field(foreign_key="survey_draws.id", index=True)
    member_id: int = Field(foreign_key="survey_frame_members.id")
    position: int  # 1.. within the unit, in drawn order
    reserve: bool


class SurveyContactRow(SQLModel, table=True):
    """One contact attempt with a sampled person: the pseudonym and the outcome, never contact details."""

    __tablename__ = "survey_contacts"

    id: int | None = Field(default=None, primary_key=True)
    draw_id: int = Field(foreign_key="survey_draws.id", index=True)
    pseudonym: str = Field(max_length=64)
    attempt: int
    channel: str = Field(max_length=16)  # phone, letter, visit, digital
    outcome: str = Field(max_length=16)  # answered, declined, no_answer, unreachable
    contacted_on: date
    created_at: datetime = _when()
    created_by: str


class EvaluationRunRow(SQLModel, table=True):
    __tablename__ = "evaluation_runs"

    id: int | None = Field(default=None, primary_key=True)
    contract_id: str = Field(foreign_key="contracts.id", index=True, max_length=64)
    contract_version: int
    as_of: date
    include_unverified: bool = False
    inputs_fingerprint: str = Field(max_length=64)
    parameters: dict = _json()
    code_version: str
    results: dict = _json()
    created_at: datetime = _when()
    created_by: str


class LedgerEntryRow(SQLModel, table=True):
    """One amount owed, hash-chained to the entry before it in the same contract's ledger."""

    __tablename__ = "ledger_entries"
    __table_args__ = (sa.UniqueConstraint("contract_id", "seq"),)

    id: int | None = Field(default=None, primary_key=True)
    contract_id: str = Field(foreign_key="contracts.id", index=True, max_length=64)
    seq: int
    period: str = Field(max_length=10)
    mechanism: str = Field(max_length=64)
    payer: str = Field(max_length=64)
    cohort: str | None = Field(default=None, max_length=64)
    kind: str = Field(max_length=12)  # calculation or adjustment
    amount: Decimal = Field(sa_column=sa.Column(ExactDecimal(), nullable=False))
    currency: str = Field(max_length=3)
    evaluation_run_id: int = Field(foreign_key="evaluation_runs.id")
    contract_version: int
    basis: dict = _json()
    created_at: str = Field(max_length=32)  # ISO 8601 UTC text, exactly as hashed
    created_by: str
    prev_hash: str = Field(max_length=64)
    hash: str = Field(max_length=64)
    mac: str | None = Field(default=None, max_length=64)  # keyed MAC of the hash (store/seal.py); None before 0007


class AuditEventRow(SQLModel, table=True):
    __tablename__ = "audit_events"

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = _when()
    actor: str
    action: str = Field(max_length=64)
    contract_id: str | None = Field(default=None, max_length=64, index=True)
    detail: dict = _json()
    mac: str | None = Field(default=None, max_length=64)  # keyed MAC of the event (store/seal.py), when a key exists


class EvaluationOutcomeRow(SQLModel, table=True):
    """Each treated participant's outcome on a metric paid per participant, as an evaluation run found it.

    Payments per participant (rate cards, milestones) are calculated from these, so that a later
    correction of the data cannot change what an earlier run pays: the run keeps its own evidence.
    """

    __tablename__ = "evaluation_outcomes"

    id: int | None = Field(default=None, primary_key=True)
    run_id: int = Field(foreign_key="evaluation_runs.id", index=True)
    metric: str = Field(max_length=64)
    participant_id: int = Field(foreign_key="participants.id")
    cohort: str | None = Field(default=None, max_length=64)
    value: float | None = None
    achieved: bool


class LedgerStepRow(SQLModel, table=True):
    """A ledger entry's step: approved, invoiced, paid or rejected; who and when; hash-chained like the entries.

    One row per entry and status, so a second approval of the same entry is refused by the database.
    """

    __tablename__ = "ledger_steps"
    __table_args__ = (sa.UniqueConstraint("contract_id", "entry_seq", "status"), sa.UniqueConstraint("contract_id", "seq"))

    id: int | None = Field(default=None, primary_key=True)
    contract_id: str = Field(foreign_key="contracts.id", index=True, max_length=64)
    seq: int
    entry_seq: int
    status: str = Field(max_length=12)
    note: str | None = None
    at: str = Field(max_length=32)  # ISO 8601 UTC text, exactly as hashed
    by: str
    user_id: int | None = None  # the authenticated user who took the step (None: written before 0007)
    party: str | None = Field(default=None, max_length=64)  # the paying party a payer's step acted for
    acknowledged: list | None = Field(default=None, sa_column=sa.Column(sa.JSON, nullable=True))  # evidence flags
    prev_hash: str = Field(max_length=64)
    hash: str = Field(max_length=64)
    mac: str | None = Field(default=None, max_length=64)


class UserRow(SQLModel, table=True):
    """An API user: a role, the contracts it may see, and the hash of its token (never the token)."""

    __tablename__ = "users"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=200)
    role: str = Field(max_length=20)  # intermediary, investor, payer or provider
    contracts: list = Field(default_factory=list, sa_column=sa.Column(sa.JSON, nullable=False, default=list))
    all_contracts: bool = False  # intermediaries only
    party: str | None = Field(default=None, max_length=64)  # payers only: the one paying party it acts for
    token_hash: str = Field(max_length=64, unique=True)
    token_hint: str = Field(max_length=12)  # the token's first characters, to tell tokens apart in a list
    created_at: datetime = _when()
    revoked_at: datetime | None = Field(default=None, sa_column=sa.Column(sa.DateTime(timezone=True)))


class SessionRow(SQLModel, table=True):
    """A browser's login (``api.web.session``): the SHA-256 of its random id (never the id, never the user's token),
    whose user, and when it ends: at ``expires_at``, after a quiet spell since ``last_seen``, or at logout."""

    __tablename__ = "sessions"

    id: int | None = Field(default=None, primary_key=True)
    id_hash: str = Field(max_length=64, unique=True)
    user_id: int = Field(foreign_key="users.id", index=True)
    created_at: datetime = _when()
    expires_at: datetime = Field(sa_column=sa.Column(sa.DateTime(timezone=True), nullable=False))
    last_seen: datetime = Field(sa_column=sa.Column(sa.DateTime(timezone=True), nullable=False))
    revoked_at: datetime | None = Field(default=None, sa_column=sa.Column(sa.DateTime(timezone=True)))


# -- INDIGO reference projects ----------------------------------------------------------------------------------------
# Public impact bond projects (the Government Outcomes Lab's INDIGO dataset, and INDIGO documents imported one by
# one), kept apart from live contracts: nothing here is a contract, and nothing here is ever paid.  A dataset import
# replaces the whole dataset set in one transaction.  Amounts are exact; dates are INDIGO's text (YYYY, YYYY-MM or
# YYYY-MM-DD), since INDIGO often knows only the year or the month.


def _money() -> Any:
    return Field(default=None, sa_column=sa.Column(ExactDecimal(), nullable=True))


def _project() -> Any:
    return Field(foreign_key="indigo_projects.id", index=True, max_length=64)


class IndigoProjectRow(SQLModel, table=True):
    __tablename__ = "indigo_projects"

    id: str = Field(primary_key=True, max_length=64)  # INDIGO-POJ-0001, or an exported contract's id
    source: str = Field(max_length=20)  # dataset (the CSV tables) or document (one INDIGO JSON document)
    name: str
    stage: str | None = Field(default=None, max_length=64)
    policy_sector: str | None = Field(default=None, max_length=64)
    country: str | None = Field(default=None, max_length=64)
    start_date: str | None = Field(default=None, max_length=10)
    end_date: str | None = Field(default=None, max_length=10)
    currency: str | None = Field(default=None, max_length=3)  # of the maximum outcome payment
    max_outcome_payment: Decimal | None = _money()
    max_outcome_payment_usd: Decimal | None = _money()
    investment_currency: str | None = Field(default=None, max_length=3)
    investment: Decimal | None = _money()
    investment_usd: Decimal | None = _money()
    target_population: str | None = None
    targeted_number: int | None = None
    detail: dict = _json()  # INDIGO's other fields, as read (amounts as text)
    imported_at: datetime = _when()


class IndigoOutcomeMetricRow(SQLModel, table=True):
    __tablename__ = "indigo_outcome_metrics"

    id: int | None = Field(default=None, primary_key=True)
    project_id: str = _project()
    metric_id: str | None = Field(default=None, max_length=64)
    definition: str | None = None
    policy_sector: str | None = None
    target_population: str | None = None
    targeted_number: int | None = None
    target: str | None = None
    validation_method: str | None = None


class IndigoPricingRow(SQLModel, table=True):
    __tablename__ = "indigo_pricings"

    id: int | None = Field(default=None, primary_key=True)
    project_id: str = _project()
    metric_id: str | None = Field(default=None, max_length=64)
    currency: str | None = Field(default=None, max_length=3)
    price: Decimal | None = _money()
    price_usd: Decimal | None = _money()  # as INDIGO gives it (World Bank rates)
    max_price: Decimal | None = _money()
    description: str | None = None


class IndigoPaymentRow(SQLModel, table=True):
    __tablename__ = "indigo_payments"

    id: int | None = Field(default=None, primary_key=True)
    project_id: str = _project()
    plan_id: str | None = Field(default=None, max_length=64)
    metric_id: str | None = Field(default=None, max_length=64)
    period_start: str | None = Field(default=None, max_length=10)
    period_end: str | None = Field(default=None, max_length=10)
    type: str | None = Field(default=None, max_length=20)  # Planned or Actual
    payer: str | None = None
    currency: str | None = Field(default=None, max_length=3)
    amount: Decimal | None = _money()
    amount_usd: Decimal | None = _money()


class IndigoResultRow(SQLModel, table=True):
    __tablename__ = "indigo_results"

    id: int | None = Field(default=None, primary_key=True)
    project_id: str = _project()
    metric_id: str | None = Field(default=None, max_length=64)
    level: str | None = Field(default=None, max_length=32)
    type: str | None = Field(default=None, max_length=32)
    period_start: str | None = Field(default=None, max_length=10)
    period_end: str | None = Field(default=None, max_length=10)
    outcomes_achieved: str | None = None
    number_engaged: int | None = None
    number_positive: int | None = None


class IndigoInvestmentRow(SQLModel, table=True):
    __tablename__ = "indigo_investments"

    id: int | None = Field(default=None, primary_key=True)
    project_id: str = _project()
    investment_id: str | None = Field(default=None, max_length=64)
    organisation_id: str | None = Field(default=None, max_length=64)
    currency: str | None = Field(default=None, max_length=3)
    amount_min: Decimal | None = _money()
    amount: Decimal | None = _money()
    amount_max: Decimal | None = _money()
    amount_usd: Decimal | None = _money()
    investment_type: str | None = None


class IndigoCommitmentRow(SQLModel, table=True):
    """An outcome payer's commitment: the most it may pay (its cap), and what it has paid."""

    __tablename__ = "indigo_commitments"

    id: int | None = Field(default=None, primary_key=True)
    project_id: str = _project()
    organisation_id: str | None = Field(default=None, max_length=64)
    role: str | None = None
    currency: str | None = Field(default=None, max_length=3)
    max_amount: Decimal | None = _money()
    max_amount_usd: Decimal | None = _money()
    paid: Decimal | None = _money()
    paid_usd: Decimal | None = _money()


class IndigoOrganisationRow(SQLModel, table=True):
    __tablename__ = "indigo_organisations"

    id: str = Field(primary_key=True, max_length=64)
    name: str
    type: str | None = None
    country: str | None = Field(default=None, max_length=64)
    website: str | None = None


class IndigoRefusalRow(SQLModel, table=True):
    """A value of the last import that could not be read: where, what it said, and why."""

    __tablename__ = "indigo_refusals"

    id: int | None = Field(default=None, primary_key=True)
    source: str = Field(max_length=20)
    project_id: str | None = Field(default=None, max_length=64)  # no key: the project may be the unknown one
    table_name: str = Field(max_length=64)
    field: str
    value: str
    kind: str = Field(max_length=32)
    reason: str
    row: int | None = None


class JobRow(SQLModel, table=True):
    """Long work asked for on a page (an evaluation, payments, a report, a board summary), done by ``sib worker``.

    Unlike the history tables this row changes: queued → running → done or failed.  A running job holds a lease
    (``lease_until``) that its worker renews; a job whose lease ran out (its worker was killed) is claimed again.
    What a job produces is stored where it belongs (a run, ledger entries); a document is kept here (``file``)."""

    __tablename__ = "jobs"
    __table_args__ = (sa.Index("ix_jobs_state_id", "state", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    contract_id: str = Field(foreign_key="contracts.id", index=True, max_length=64)
    kind: str = Field(max_length=20)
    params: dict = _json()
    state: str = Field(default="queued", max_length=10)
    done: int = 0
    total: int = 0
    step: str | None = Field(default=None, max_length=200)  # what the worker is doing now (a metric id, …)
    attempts: int = 0
    worker: str | None = Field(default=None, max_length=200)
    lease_until: datetime | None = Field(default=None, sa_column=sa.Column(sa.DateTime(timezone=True)))
    result: dict | None = Field(default=None, sa_column=sa.Column(sa.JSON))
    file: bytes | None = Field(default=None, sa_column=sa.Column(sa.LargeBinary))
    error: dict | None = Field(default=None, sa_column=sa.Column(sa.JSON))  # a message: {"code", "params"}
    created_by: str
    created_at: datetime = _when()
    started_at: datetime | None = Field(default=None, sa_column=sa.Column(sa.DateTime(timezone=True)))
    finished_at: datetime | None = Field(default=None, sa_column=sa.Column(sa.DateTime(timezone=True)))
