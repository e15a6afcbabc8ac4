"""The contract file format, as pydantic models.

A contract file is what a person reviews, so these models say exactly which
fields exist and which values are allowed; the JSON Schema under docs/ is
generated from them.  Amounts and shares are ``Decimal`` (the YAML loader never
produces floats), so no float ever touches money.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from contracts.instruments import INSTRUMENTS

Slug = Annotated[
    str,
    Field(
        pattern=r"^[a-z0-9][a-z0-9_-]*$",
        max_length=64,
        description="Lower-case letters, digits, '-' and '_'; starts with a letter or digit.",
    ),
]
# Every amount, price, cap and principal in a contract file is bounded: at most MAX_AMOUNT in the currency's major
# unit (ten trillion) and at most MAX_AMOUNT_PLACES decimals, so that every sum, product and rounding the engine makes
# from them is exact (docs/contracts.md, "Amounts").
MAX_AMOUNT = Decimal(10) ** 13
MAX_AMOUNT_PLACES = 6
Money = Annotated[Decimal, Field(ge=0, le=MAX_AMOUNT, decimal_places=MAX_AMOUNT_PLACES, allow_inf_nan=False,
                                 description="An amount in the contract currency: from 0 to 10000000000000 (10^13), "
                                 "with at most 6 decimals.")]
# A share has at most SHARE_PLACES decimals, so that an amount times a share stays within Decimal's 28 digits.
SHARE_PLACES = 10
Share = Annotated[Decimal, Field(ge=0, le=1, decimal_places=SHARE_PLACES, allow_inf_nan=False,
                                 description="A fraction between 0 and 1, with at most 10 decimals.")]
Number = Annotated[Decimal, Field(allow_inf_nan=False)]

PartyRole = Literal["payer", "investor", "provider", "intermediary"]
MetricKind = Literal["binary", "rate", "count", "continuous", "ordinal", "time_to_event"]
Direction = Literal["higher_is_better", "lower_is_better"]
Aggregation = Literal["mean", "sum", "first", "last", "min", "max", "any"]
MissingRule = Literal["exclude", "not_achieved", "zero"]
Design = Literal[
    "monitoring",
    "fixed_baseline",
    "pre_post",
    "historical_cohort",
    "randomised",
    "matched_comparison",
    "difference_in_differences",
    "synthetic_control",
]
DESIGNS_WITH_COUNTERFACTUAL = frozenset(
    {"fixed_baseline", "pre_post", "historical_cohort", "randomised", "matched_comparison", "difference_in_differences",
     "synthetic_control"}
)
Frequency = Literal["monthly", "quarterly", "half_yearly", "yearly"]
PaysOn = Literal["point_estimate", "lower_bound", "significant"]
PAYS_ON_RULES: tuple[str, ...] = ("point_estimate", "lower_bound", "significant")
PAYS_ON_DESCRIPTION = (
    "What the mechanism pays on (default point_estimate, as before): point_estimate, the effect as estimated; "
    "lower_bound, the end of the confidence interval least favourable to payment, floored at zero (not for "
    "rate_card or milestone); significant, nothing unless p < the metric's evaluation alpha. See docs/payments.md.")


class Strict(BaseModel):
    """Base for every part of the file: unknown fields are errors, not ignored typos."""

    model_config = ConfigDict(extra="forbid")


class Party(Strict):
    id: Slug
    name: str = Field(min_length=1)
    role: PartyRole


class Term(Strict):
    start: date
    end: date


class AttributeSpec(Strict):
    """A participant attribute the contract collects (for eligibility, covariates, subgroups)."""

    name: Slug
    label: str | None = Field(default=None, min_length=1, description="What readers see for the attribute "
                              "(e.g. 'årskurs' for school_year); default: the name.")
    type: Literal["integer", "number", "category", "boolean", "date"]
    values: list[str] | None = Field(default=None, description="Allowed values of a category attribute.")
    description: str | None = None


class EligibilityRule(Strict):
    """One rule every enrolled participant must pass, e.g. school_year between 4 and 9."""

    attribute: Slug
    op: Literal["equals", "in", "between", "at_least", "at_most"]
    value: Any
    description: str | None = None


class TargetGroup(Strict):
    description: str = Field(min_length=1)
    unit: Literal["person", "family", "school", "district", "other"] = "person"
    attributes: list[AttributeSpec] = []
    eligibility: list[EligibilityRule] = []
    identifier: Literal["reference", "personnummer"] = Field(
        default="reference",
        description="What participant_id holds: a case reference, or a Swedish personal identity number "
        "(personnummer or samordningsnummer), checked and replaced by a keyed hash at the border.",
    )
    derive: list[Literal["birth_year", "legal_sex"]] = Field(
        default=[], description="What may be derived from a personal identity number before it is dropped."
    )


class Cohort(Strict):
    id: Slug
    name: str = Field(min_length=1)
    enrolment_start: date
    enrolment_end: date
    target_size: int | None = Field(default=None, ge=1)


WindowStart = Literal["enrolment", "exit", "event"]


class Window(Strict):
    """The measurement window, in whole months after a dated point of each participant: the enrolment start
    (the default), the enrolment's exit (discharge, end of the intervention), or a named event delivered in the
    data (the first date a binary metric named by ``event`` was 1, e.g. a completed investigation)."""

    after: WindowStart = Field(default="enrolment", description="What the months count from: enrolment (the "
                               "enrolment's start), exit (the enrolment's exit date) or event (the first date the "
                               "binary metric named in `event` was 1). A participant without an exit or event yet is "
                               "pending, not missing.")
    event: Slug | None = Field(default=None, description="With after: event, the binary metric whose first 1 dates "
                               "the event (e.g. investigation_completed).")
    start_months: int = Field(default=0, ge=-120, le=240)
    end_months: int = Field(ge=-120, le=240)


class Scale(Strict):
    """An ordinal answer scale; ``missing_codes`` (e.g. "don't know") are missing, never a score."""

    min: int
    max: int
    missing_codes: list[int] = []


class Threshold(Strict):
    """When a participant's outcome counts as achieved (for rate cards and counts of achievers)."""

    op: Literal["at_least", "at_most", "equals"]
    value: Number


class Subgroup(Strict):
    """An attribute to report effects within (e.g. age bands), with a note on multiple comparisons."""

    attribute: Slug
    bands: list[Number] | None = Field(default=None, description="Band edges for a numeric attribute, e.g. "
                                       "[65, 76, 86, 96] gives 65-75, 76-85, 86-95; categories need none.")


class Evaluation(Strict):
    design: Design
    baseline: Number | None = Field(default=None, description="Contracted reference value (fixed_baseline).")
    covariates: list[Slug] = Field(default=[], description="Propensity model (matched_comparison) or regression "
                                   "adjustment (randomised).")
    adjustment: Literal["additive", "lin"] = Field(
        default="additive", description="Regression adjustment with covariates (randomised): additive, one slope per "
        "covariate; lin, Lin's (2013) fully interacted model (treatment, centred covariates and their products), "
        "HC2 standard errors either way.")
    squares: list[Slug] = Field(default=[], description="Covariates whose square enters the propensity model.")
    interactions: list[Annotated[list[Slug], Field(min_length=2, max_length=2)]] = Field(
        default=[], description="Pairs of covariates whose product enters the propensity model.")
    exact: list[Slug] = Field(default=[], description="Categorical covariates matched exactly.")
    caliper: Annotated[Decimal, Field(gt=0, le=5)] = Decimal("0.2")
    neighbours: int = Field(default=1, ge=1, le=10)
    replacement: bool = True
    se: Literal["abadie_imbens_2006", "abadie_imbens_2016"] = Field(
        default="abadie_imbens_2006", description="Standard error of a matched comparison: abadie_imbens_2006 "
        "treats the estimated propensity score as known; abadie_imbens_2016 adds Abadie and Imbens' (2016) "
        "adjustment for its estimation (matching with replacement).")
    comparison_cohort: Slug | None = Field(default=None, description="Earlier cohort (historical_cohort).")
    pre_window: Window | None = Field(default=None, description="The 'before' window, months after enrolment "
                                      "(pre_post, difference_in_differences, synthetic_control).")
    period: Literal["month", "quarter", "year"] = Field(default="quarter", description="Period length "
                                                         "(difference_in_differences, synthetic_control), counted "
                                                         "from each unit's start.")
    denominator: Slug | None = Field(default=None, description="A metric (e.g. population) whose value for the same "
                                     "unit and period divides this one's (difference_in_differences, "
                                     "synthetic_control): the panel holds rates per `per`, e.g. per 1,000 "
                                     "inhabitants of a municipality.")
    per: int = Field(default=1000, ge=1, description="With denominator: the rate's base (1000: per 1,000).")
    staggered: Literal["callaway_santanna"] | None = Field(
        default=None, description="difference_in_differences when units start at different calendar dates: "
        "callaway_santanna, Callaway & Sant'Anna's (2021) group-time effects on a calendar-period panel (groups by "
        "the period of each treated unit's start), aggregated to the overall effect (post-treatment cells weighted "
        "by group size) and an event study, instead of two-way fixed effects in time since each unit's start.")
    staggered_controls: Literal["never_treated", "not_yet_treated"] = Field(
        default="never_treated", description="With staggered: the control units, never-treated ones or also those "
        "not yet treated in the periods compared.")
    subgroups: list[Subgroup] = []
    min_n: int = Field(default=60, ge=1, description="Fewer participants than this gives a warning.")
    alpha: Annotated[Decimal, Field(gt=0, lt=1)] = Decimal("0.05")
    planning_mean: Number | None = Field(default=None, description="Expected mean without the intervention, "
                                         "for power calculations (default: the baseline).")
    planning_sd: Annotated[Decimal, Field(gt=0)] | None = Field(default=None, description="Expected standard "
                                                                "deviation of the outcome, for power calculations.")
    planning_effect: Number | None = Field(default=None, description="Expected effect per participant (treated "
                                           "mean minus counterfactual mean, in the metric's units), for the "
                                           "follow-up horizon (`sib design horizon`); default: target minus "
                                           "planning mean.")


class Avoids(Strict):
    """A cost the metric's improvement avoids: ``per_unit`` units of cost ``item`` for each unit of the metric
    (e.g. one HVB day per care day; 180 days per placement), of which ``cashable`` is budget actually released
    (fewer purchased places) and the rest capacity freed."""

    item: Slug = Field(description="A cost item of the cost file the contract's valuation names.")
    per_unit: Annotated[Decimal, Field(gt=0, le=100000, decimal_places=6, allow_inf_nan=False)] = Decimal(1)
    cashable: Share = Field(default=Decimal(1), description="The share of the avoided cost that releases budget "
                            "(fewer purchased places); the rest frees capacity (default 1, all of it).")


class Metric(Strict):
    id: Slug
    name: str = Field(min_length=1)
    kind: MetricKind
    direction: Direction
    unit: str | None = None
    window: Window
    aggregation: Aggregation
    missing: MissingRule = "exclude"
    scale: Scale | None = None
    instrument: str | None = Field(default=None, description="Survey instrument: built in "
                                   f"({', '.join(INSTRUMENTS)}) or loaded with 'sib instrument load'.")
    instrument_version: int | None = Field(default=None, ge=1, description="The instrument's version; "
                                           "the latest known when left out.")
    question: str | None = Field(default=None, description="Question id within the instrument.")
    achieved_when: Threshold | None = None
    target: Number | None = Field(default=None, description="Contracted target for the cohort mean.")
    anonymous: bool = Field(default=False, description="Survey answers carry no participant link; "
                            "used only in aggregate.")
    evaluation: Evaluation
    avoids: list[Avoids] = Field(default=[], description="Costs the metric's improvement avoids, valued with the "
                                 "cost file the contract's valuation names.")


class PricedOutcome(Strict):
    metric: Slug
    price: Money


class RateCard(Strict):
    """A price per verified outcome per participant.

    One outcome (``metric`` and ``price``) or several (``outcomes``); ``exclusive`` groups pay only the
    highest-priced achieved outcome among them (e.g. entering work or sustaining it, not both).
    """

    id: Slug
    name: str | None = Field(default=None, min_length=1, description="What readers see for the mechanism; "
                             "default: its type and metric.")
    type: Literal["rate_card"]
    metric: Slug | None = None
    price: Money | None = None
    outcomes: list[PricedOutcome] = []
    exclusive: list[Annotated[list[Slug], Field(min_length=2)]] = Field(
        default=[], description="Groups of metrics of which only the highest-priced achieved one is paid.")
    max_outcomes_per_participant: int = Field(default=1, ge=1)
    cap_per_participant: Money | None = None
    cap_per_cohort: Money | None = None
    cap: Money | None = None
    pays_on: PaysOn | None = Field(default=None, description=PAYS_ON_DESCRIPTION)

    def priced(self) -> list[PricedOutcome]:
        if self.outcomes:
            return list(self.outcomes)
        return [PricedOutcome(metric=self.metric, price=self.price)] if self.metric and self.price is not None else []

    @property
    def metrics(self) -> list[str]:
        return [o.metric for o in self.priced()]


class ComparisonThreshold(Strict):
    """Peterborough: pay per unit of improvement against the comparison group, above a threshold."""

    id: Slug
    name: str | None = Field(default=None, min_length=1, description="What readers see for the mechanism; "
                             "default: its type and metric.")
    type: Literal["comparison_threshold"]
    metric: Slug
    cohort_threshold: Share = Field(description="Relative improvement a single cohort must reach.")
    overall_threshold: Share | None = Field(default=None, description="Relative improvement across all cohorts.")
    price_per_unit: Money = Field(description="Price per unit of improvement per participant.")
    require_significance: bool = False
    cap: Money | None = None
    pays_on: PaysOn | None = Field(default=None, description=PAYS_ON_DESCRIPTION)

    @property
    def metrics(self) -> list[str]:
        return [self.metric]


class SavingsShare(Strict):
    """Norrköping: verified savings repaid one-for-one up to ``repay_up_to``, then a share, capped."""

    id: Slug
    name: str | None = Field(default=None, min_length=1, description="What readers see for the mechanism; "
                             "default: its type and metric.")
    type: Literal["savings_share"]
    metric: Slug
    unit_value: Money = Field(description="Value of one unit of the metric avoided, e.g. cost per care day.")
    repay_up_to: Money
    share_above: Share
    cap: Money | None = None
    pays_on: PaysOn | None = Field(default=None, description=PAYS_ON_DESCRIPTION)

    @property
    def metrics(self) -> list[str]:
        return [self.metric]


class Milestone(Strict):
    """A fixed sum per participant with a verified event on ``metric``."""

    id: Slug
    name: str | None = Field(default=None, min_length=1, description="What readers see for the mechanism; "
                             "default: its type and metric.")
    type: Literal["milestone"]
    metric: Slug
    amount: Money
    cap: Money | None = None
    pays_on: PaysOn | None = Field(default=None, description=PAYS_ON_DESCRIPTION)

    @property
    def metrics(self) -> list[str]:
        return [self.metric]


Mechanism = Annotated[Union[RateCard, ComparisonThreshold, SavingsShare, Milestone], Field(discriminator="type")]


class PayerShare(Strict):
    party: Slug
    share: Share


class Schedule(Strict):
    frequency: Frequency = "quarterly"
    lag_days: int = Field(default=0, ge=0, le=730, description="Days after verification before an outcome is payable.")


class Caps(Strict):
    total: Money | None = None
    per_payer: dict[Slug, Money] = {}


class Approval(Strict):
    """What approving an entry takes: evidence flags to acknowledge, and two approvers for large amounts."""

    max_missing_rule_share: Share | None = Field(
        default=None, description="Flag an entry whose result counts more than this share of participants by the "
        "missing-data rule (default 0.2).")
    two_approvers_above: Money | None = Field(
        default=None, description="Entries above this amount need two different approvers (attest in two steps).")

    @property
    def missing_rule_share(self) -> Decimal:
        return self.max_missing_rule_share if self.max_missing_rule_share is not None else Decimal("0.2")


class Payments(Strict):
    payers: list[PayerShare] = Field(min_length=1)
    schedule: Schedule = Schedule()
    mechanisms: list[Mechanism] = Field(min_length=1)
    caps: Caps = Caps()
    approval: Approval | None = Field(default=None, description="What approving an entry takes (default: flags "
                                      "acknowledged, one approver).")

    @property
    def approving(self) -> Approval:
        return self.approval or Approval()


class Commitment(Strict):
    party: Slug
    amount: Money


class Drawdown(Strict):
    date: date
    amount: Money


class Waterfall(Strict):
    """How outcome payments reach investors: principal first, then a return up to ``return_cap_irr``;
    beyond it, payments stay with the payer, or are ``shared`` with ``investor_share_above_cap`` to investors."""

    return_cap_irr: Annotated[Decimal, Field(ge=0, le=1)] | None = None
    above_cap: Literal["payer", "shared"] = "payer"
    investor_share_above_cap: Share = Decimal("0")


class Investment(Strict):
    principal: Money
    commitments: list[Commitment] = Field(min_length=1)
    drawdown_date: date | None = Field(default=None, description="One drawdown of the whole principal.")
    drawdowns: list[Drawdown] = Field(default=[], description="Several drawdowns, adding up to the principal.")
    waterfall: Waterfall = Waterfall()

    def drawdown_schedule(self) -> list[Drawdown]:
        if self.drawdowns:
            return list(self.drawdowns)
        return [Drawdown(date=self.drawdown_date, amount=self.principal)] if self.drawdown_date else []


class FileMapping(Strict):
    """How a delivered file's columns and formats map onto ours, for files that do not use our names."""

    columns: dict[str, str] = Field(default={}, description="Our column name -> the file's column name.")
    constants: dict[str, str] = Field(default={}, description="Our column name -> one value for every row.")
    date_format: str | None = Field(default=None, description="strftime format of dates, e.g. '%d/%m/%Y'; "
                                    "default ISO 8601 or YYYYMMDD.")
    decimal: Annotated[Literal["auto", "point", "comma"], BeforeValidator(
        lambda v: {".": "point", ",": "comma"}.get(v, v) if isinstance(v, str) else v)] = Field(
        default="auto", description="The decimal mark: point or comma ('.' and ',' also do); auto reads a point or "
        "a lone comma and refuses numbers that could mean two things.")
    thousands: Literal[" ", ",", ".", "'"] | None = Field(
        default=None, description="The thousands separator, if numbers have one (' ' also allows no-break spaces); "
        "without it, numbers with thousands separators are refused.")
    formulas: Literal["refuse", "cached"] = Field(
        default="refuse", description="Formula cells of an .xlsx file: refused, or read as the value Excel last "
        "computed and saved with the file (refused where there is none).")
    encoding: Literal["auto", "utf-8", "cp1252"] = "auto"
    delimiter: Literal["auto", ",", ";", "tab"] = "auto"
    units: dict[Slug, Literal["share", "percent"]] = Field(
        default={}, description="Per rate metric: whether values are shares (0-1) or percentages (0-100).")
    sheet: str | None = Field(default=None, description="The worksheet of an .xlsx file (default: the first).")
    recode: dict[Slug, dict[Annotated[str, BeforeValidator(lambda v: str(v) if isinstance(v, int) else v)],
                            Annotated[int, Field(ge=0, le=99)]]] = Field(
        default={}, description="Per survey question (metric id): the file's value -> the instrument's code, e.g. a "
        "supplier's reversed 1-5 or 9 for \"don't know\"; values not listed are read as they are.  The batch "
        "records the mapping it was read with.")


class OwnCost(Strict):
    """What a payer itself spends on the intervention in a calendar year (staff, premises, the intermediary),
    beside the outcome payments, in that year's prices."""

    year: int = Field(ge=1900, le=2200)
    party: Slug = Field(description="The payer (or department) that bears it.")
    amount: Money
    description: str | None = None


class Valuation(Strict):
    """The payer's business case: the cost file the metrics' avoided costs are valued with, the price year
    figures are shown in, and the payer's own costs of the intervention."""

    costs: Slug = Field(description="The cost file's id (loaded with 'sib costs load').")
    costs_version: int | None = Field(default=None, ge=1, description="Its version; the latest loaded when left "
                                      "out.")
    price_year: int = Field(ge=1900, le=2200, description="The year whose prices every figure is shown in.")
    own_costs: list[OwnCost] = []


class Amendment(Strict):
    """A later version: the fields it changes, when it takes effect, and why."""

    version: int = Field(ge=2)
    effective: date
    reason: str = Field(min_length=1)
    retroactive: bool | None = Field(
        default=None, description="A retroactive settlement: it may take effect before periods that already have "
        "entries; its differences are booked in the current period as adjustments that name it.")
    set: dict[str, Any] = Field(
        min_length=1,
        description="Dotted paths to new values; list items are named by their id, "
        "e.g. metrics.placement_days.window.end_months.",
    )


class Contract(Strict):
    """A whole social outcomes contract, as of one version."""

    id: Slug
    name: str = Field(min_length=1)
    description: str | None = None
    currency: str = Field(pattern=r"^[A-Z]{3}$", description="ISO 4217 code, e.g. SEK.")
    term: Term
    parties: list[Party] = Field(min_length=1)
    target_group: TargetGroup
    cohorts: list[Cohort] = Field(min_length=1)
    metrics: list[Metric] = Field(min_length=1)
    payments: Payments | None = Field(default=None, description="Outcome payments. Optional: without them the "
                                      "contract is evaluation-only (no payment commands, no payment checks).")
    investment: Investment | None = None
    valuation: Valuation | None = Field(default=None, description="The payer's business case: avoided costs, own "
                                        "costs and the net position (docs/business-case.md).")
    suppression_threshold: int = Field(default=5, ge=3, description="Smallest cell shown to investors and payers "
                                       "(at least 3; never lowered by an amendment once data exists).")
    mappings: dict[Literal["participants", "enrolments", "measurements", "survey", "comparison"], FileMapping] = Field(
        default={}, description="File mappings per kind of file, used unless `sib ingest --mapping` names another.")
    amendments: list[Amendment] = []

    def metric(self, metric_id: str) -> Metric:
        return next(m for m in self.metrics if m.id == metric_id)

    def cohort(self, cohort_id: str) -> Cohort:
        return next(c for c in self.cohorts if c.id == cohort_id)

    def party(self, party_id: str) -> Party:
        return next(p for p in self.parties if p.id == party_id)
