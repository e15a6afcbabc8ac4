"""The API's request and response models (pydantic): the shapes at the edge, and the one error shape."""

from __future__ import annotations

from datetime import date
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, field_validator

from store.db import MAX_ID


class Loose(BaseModel):
    model_config = ConfigDict(extra="allow")


class ErrorBody(BaseModel):
    status: int
    code: str
    message: str
    details: Any = None


class ErrorResponse(BaseModel):
    """Every answer other than success: the status, a stable code, a message in the request's language."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"error": {
        "status": 404, "code": "not_found", "message": "no contract 'hasselby-schol' that this token may see",
        "details": None}}]})

    error: ErrorBody


class Health(BaseModel):
    status: str
    version: str


class ContractSummary(BaseModel):
    id: str
    name: str
    currency: str
    versions: int


class VersionInfo(BaseModel):
    version: int
    effective: date
    reason: str
    fingerprint: str


class ContractDetail(BaseModel):
    id: str
    name: str
    currency: str
    version: int
    terms: dict[str, Any]
    versions: list[VersionInfo]


class Batch(BaseModel):
    id: int
    kind: str
    filename: str
    rows: int
    created_at: Any
    created_by: str
    verified_at: Any = None
    verified_by: str | None = None
    provider: str | None = Field(default=None, description="The provider whose user delivered the batch, if one did.")


class UploadResult(BaseModel):
    status: str
    batch: int | None
    rows: int
    counts: dict[str, int]
    notes: list[str]


class Participant(BaseModel):
    participant: str  # a prefix of the pseudonym: enough to follow a record, nothing to link
    cohort: str | None
    arm: str
    start: Any
    provider: str | None = Field(default=None, description="The provider delivering to the participant, if recorded.")


class RunSummary(BaseModel):
    run: int
    as_of: Any
    contract_version: int
    include_unverified: bool
    inputs_fingerprint: str
    code_version: str
    created_at: Any
    created_by: str


class Run(Loose):
    run: int
    contract_version: int
    results: list[dict[str, Any]]
    suppression: str | None = None


class EvaluateRequest(BaseModel):
    as_of: date | None = Field(default=None, description="Default: today; a date in the years 1900 to 2199.",
                               json_schema_extra={"pattern": "^(19|20|21)[0-9]{2}-"})
    include_unverified: StrictBool = False  # as documented: true or false, not 0 or "yes"

    @field_validator("as_of", mode="before")
    @classmethod
    def _text(cls, value: Any) -> Any:
        if value is not None and not isinstance(value, (str, date)):  # a number is not a date (0 is not 1970)
            raise ValueError("a date is written YYYY-MM-DD")
        return value


class PaymentsRequest(BaseModel):
    run: StrictInt | None = Field(default=None, ge=1, le=MAX_ID, description="Default: the latest evaluation run.")


class RejectRequest(BaseModel):
    reason: str = Field(min_length=1, max_length=2000)


class ApproveRequest(BaseModel):
    """Approving a flagged entry: acknowledge each of its evidence flags (codes from the entry's ``evidence``)
    and say why."""

    acknowledge: list[str] = Field(default=[], max_length=10)
    reason: str | None = Field(default=None, min_length=1, max_length=2000)


class NoteRequest(BaseModel):
    note: str | None = Field(default=None, min_length=1, max_length=2000)


class LedgerEntry(Loose):
    seq: int
    period: str
    mechanism: str
    payer: str
    amount: str
    status: str


class Step(BaseModel):
    entry: int
    status: str
    at: str
    by: str
    user: int | None = None
    party: str | None = None
    note: str | None = None
    acknowledged: list[str] = []


class AuditEvent(BaseModel):
    id: int
    at: Any
    actor: str
    action: str
    contract_id: str | None
    detail: dict[str, Any]


class Page(BaseModel):
    items: list[Any]
    total: int
    limit: int
    offset: int


# -- the investor status (GET /contracts/{id}/status); amounts and shares are exact decimal text ---------------

class Band(BaseModel):
    """P10, P50 and P90 by nearest rank (a value some simulation gave); an IRR band is null without investment."""

    p10: str | None
    p50: str | None
    p90: str | None


class StatusPayments(BaseModel):
    received: str = Field(description="Paid.")
    expected: str = Field(description="Calculated, approved or invoiced: not yet paid, not rejected.")
    by_status: dict[str, str] = Field(description="calculated, approved, invoiced, paid and rejected, each apart.")


class Note(BaseModel):
    code: str | None
    params: dict[str, Any]
    text: str


class ForecastOut(BaseModel):
    """``payments.forecast.contract_forecast``: the same numbers as ``sib forecast --json`` for the same state."""

    simulations: int
    seed: int
    evaluation_run: int
    total: Band
    by_payer: dict[str, Band]
    by_period: dict[str, Band]
    irr: Band = Field(description="Over every simulation; -1 (-100 %) where nothing comes back.")
    expected_total: str = Field(description="The mean total, rounded half-up to the minor unit.")
    expected_by_payer: dict[str, str]
    probability_of_any_payment: str
    probability_of_loss: str | None = Field(description="Share of simulations in which investors get back "
                                                        "less than was drawn; null without investment.")
    notes: list[Note]
    by_payer_year: dict[str, dict[str, Band]] = Field(default={}, description="Per payer and calendar year.")


class InvestorReturn(BaseModel):
    investor: str
    commitment: str
    drawn: str
    distributed: str
    net: str
    multiple: str | None
    irr: str | None


class StatusReturns(BaseModel):
    realised: list[InvestorReturn] = Field(description="On payments received (paid).")
    projected: list[InvestorReturn] = Field(description="On payments received and expected.")


class InvestorStatus(BaseModel):
    contract: str
    currency: str
    evaluation_run: int | None
    as_of: str | None
    metrics: list[dict[str, Any]]
    payments: StatusPayments
    forecast: ForecastOut | None
    returns: StatusReturns


# -- the schedule and a run diff ------------------------------------------------------------------------------

class ScheduleRow(BaseModel):
    """One period and payer of the repayment schedule: amounts as exact decimal text, each status in one column;
    the forecast's band split by the payer's share (null without an evaluation run)."""

    period: str = Field(description="2024, 2024-H1, 2024-Q3 or 2024-07, as the contract's schedule is.")
    payer: str
    calculated: str = Field(description="Calculated or attested, not yet approved.")
    approved: str
    invoiced: str
    paid: str
    rejected: str
    overdue: str = Field(description="Approved or invoiced, unpaid past its due date.")
    forecast_p10: str | None
    forecast_p50: str | None
    forecast_p90: str | None


class DiffEntry(BaseModel):
    metric: str
    cohort: str
    subgroup: str | None = None
    only_in: int | None = Field(default=None, description="The run that has this result when the other has none.")
    changed: dict[str, list[Any]] = Field(default={}, description="Field -> [value in the first run, in the second].")
    warnings_added: list[Note] = []
    warnings_removed: list[Note] = []
    suppressed: bool | None = Field(default=None, description="Some changes hidden: they would reveal a small count.")


class RunDiff(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    from_run: int = Field(alias="from")
    to: int
    explanation: list[Note] = Field(description="What changed between the runs, in words: date, version, inputs, "
                                                "code.")
    results: list[DiffEntry]


# -- the payer's business case and the board summary (docs/business-case.md) ----------------------------------

class Corners(BaseModel):
    low: str | None
    point: str | None
    high: str | None


class Costs3(BaseModel):
    low: str
    central: str
    high: str


class IndexUsed(BaseModel):
    series: str
    from_year: int
    to_year: int
    from_value: str
    to_value: str


class ValuedItem(BaseModel):
    """One metric's avoided cost of one item: improvement interval × unit cost range."""

    metric: str
    item: str
    name: str
    unit: str
    department: str
    per_unit: str
    cashable_share: str
    participants: int
    improvement: Corners = Field(description="Per participant, positive is better: CI low, point, CI high.")
    quantity: Corners = Field(description="Units of the item avoided in all.")
    unit_cost: Costs3 = Field(description="In the valuation's price year.")
    gross: dict[str, Costs3] = Field(description="Effect (low, point, high) -> unit cost (low, central, high).")
    cashable: dict[str, Costs3]
    index: IndexUsed
    source: str


class Percentiles(BaseModel):
    p10: str
    p50: str
    p90: str


class NetYear(BaseModel):
    year: int
    cashable_savings: str
    non_cashable: str = Field(description="Capacity freed: avoided cost that releases no budget.")
    payments: str
    own_costs: str
    net: str
    cumulative: str
    net_band: Percentiles | None
    cumulative_band: Percentiles | None
    projection: bool = Field(description="A year after the contract term's last year.")


class DepartmentNet(BaseModel):
    department: str
    name: str
    funds: str = Field(description="Its share of the outcome payments and its own costs.")
    saves: str = Field(description="Cashable savings in its budget.")
    capacity_freed: str
    net: str


class BusinessCaseOut(BaseModel):
    """``payments.valuation.contract_business_case``: the same numbers as ``sib valuation --json``."""

    contract: str
    contract_version: int
    evaluation_run: int | None
    currency: str
    price_year: int
    costs: str = Field(description="The cost file and its version.")
    items: list[ValuedItem]
    gross: dict[str, Costs3]
    cashable: dict[str, Costs3]
    payments: str
    own_costs: str
    years: list[NetYear]
    break_even: str | None = Field(description="YYYY-MM: from then on the cumulative net position stays >= 0.")
    net_total: str
    net_band: Percentiles | None
    probability_break_even: str | None
    departments: list[DepartmentNet]
    term_end: str
    simulations: int
    notes: list[dict[str, Any]]


class BySex(BaseModel):
    group: str
    n: int | None = Field(description="Null when hidden (too few people).")
    value: str


class OutcomeLine(BaseModel):
    metric: str
    id: str
    n: int
    value: str = Field(description="In words: the mean against its counterfactual and the effect with its CI, or a "
                                   "monitoring figure.")
    target: str | None
    verdict: str
    by_sex: list[BySex]
    is_effect: bool


class BoardOutcomes(BaseModel):
    effects: list[OutcomeLine]
    monitoring: list[OutcomeLine]


class BoardMoney(BaseModel):
    payer: str
    year: int
    committed: str | None = Field(description="The most the payer can owe under the contract (its cap).")
    calculated: str
    approved: str
    paid: str
    forecast: Percentiles | None


class BoardCase(BaseModel):
    net_total: str
    net_band: Percentiles | None
    break_even: str | None
    probability_break_even: str | None
    price_year: int
    departments: list[DepartmentNet]
    years: list[NetYear]


class Amended(BaseModel):
    version: int
    effective: str
    reason: str


class BoardSummary(BaseModel):
    """The board summary (nämndrapport) as JSON: the same figures as its PDF and page."""

    contract: str
    contract_version: int
    evaluation_run: int
    as_of: str
    language: str
    currency: str
    outcomes: BoardOutcomes
    money: list[BoardMoney]
    business_case: BoardCase | None
    amendments: list[Amended]
    risks: list[str]


# The error answers every route documents; a route adds its own (409, 413, 503) to these.
ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorResponse, "description": text}
    for code, text in ((400, "A body that cannot be parsed (not JSON, or broken multipart data)"),
                       (401, "Missing or unknown token"),
                       (403, "The token's role may not do this, or the request came from another site's page "
                             "(Origin or Referer)"),
                       (404, "No such contract (or not one this token may see), or no such item"),
                       (422, "Invalid request"))
}


def page_of(items: list[Any], limit: int, offset: int) -> Page:
    """One page of a list, with the total."""
    return Page(items=items[offset: offset + limit], total=len(items), limit=limit, offset=offset)


# -- per provider ------------------------------------------------------------------------------------------------

class RunRef(BaseModel):
    id: int
    as_of: str


class ProviderOutcome(BaseModel):
    provider: str | None = Field(description="The provider party; null: enrolled before providers were recorded.")
    metric: str
    participants: int
    with_value: int
    mean: float | None
    ci: list[float | None] = Field(description="The mean's 95 % t interval [low, high].")
    achieved: int | None = Field(description="Participants who reached the paid outcome.")
    suppressed: bool | None = None


class ProviderPayment(BaseModel):
    entry: int
    period: str
    payer: str
    mechanism: str
    provider: str | None
    amount: str = Field(description="This provider's part of the entry (exact decimal text).")
    basis: str = Field(description="outcomes (achieved, for payments per outcome) or participants (for an effect).")
    count: int


class ProviderTotal(BaseModel):
    provider: str | None
    amount: str


class ProviderView(BaseModel):
    run: RunRef | None
    outcomes: list[ProviderOutcome]
    payments: list[ProviderPayment]
    totals: list[ProviderTotal]


# -- user follow-up (SKR's questions) and INDIGO market prices ----------------------------------------------------

class AnswerCount(BaseModel):
    code: int
    label: str | None
    n: int
    share: float | None


class CellResponse(BaseModel):
    sample: int | None = None
    answered: int | None = None
    rate: float | None = None


class FollowupCell(BaseModel):
    group: str | None
    part: str | None
    name: str | None
    asked: int | None
    answered: int | None
    dont_know: int | None
    favourable: int | None
    favourable_share: float | None
    ci_low: float | None
    ci_high: float | None
    distribution: list[AnswerCount] | None
    suppressed: bool
    response: CellResponse | None = Field(default=None, description="The year's sample and answers in this group.")


class FollowupQuestion(BaseModel):
    metric: str
    question: str
    number: int
    text: str | None
    instrument: str
    favourable_codes: list[int]
    favourable_words: list[str]
    asked_only_after: dict[str, Any] | None
    other_version: int = Field(description="Answers coded under another version of the instrument: not counted here.")
    cells: list[FollowupCell]


class NonresponseRow(BaseModel):
    value: str
    frame: int
    frame_share: float | None
    answered: int
    answered_share: float | None


class FollowupResults(BaseModel):
    contract: str
    level: str
    by: str | None
    year: int | None
    confidence: float
    threshold: int
    unplaced_answers: int
    questions: list[FollowupQuestion]
    nonresponse: dict[str, list[NonresponseRow]] | None = Field(
        description="Age band and sex of those who answered against the sampling frame's, per attribute.")


class OurPrice(BaseModel):
    metric: str
    price: str
    cap: str | None
    mechanism: str


class IndigoAmount(BaseModel):
    currency: str | None
    amount: str | None
    amount_usd: str | None
    max_if_all_targets_achieved: str | None = None


class IndigoMatch(BaseModel):
    our_metric: str | None
    our_price: str | None
    their_metric: str | None
    their_definition: str | None
    similarity: float
    price: IndigoAmount
    results: list[dict[str, Any]]


class IndigoProject(BaseModel):
    project_id: str
    name: str | None
    country: str | None
    policy_sector: str | None
    stage: str | None
    score: float
    sector_score: float
    definition_score: float
    cap: IndigoAmount
    match: IndigoMatch | None


class IndigoComparison(BaseModel):
    contract: str
    currency: str
    sectors: list[str]
    our_prices: list[OurPrice]
    projects: list[IndigoProject]
    credit: str
