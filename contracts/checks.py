"""Checks across fields that a single field's type cannot express.

Each check returns (location, message) pairs rather than raising, so that a
file with five mistakes gets five messages at once.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Iterator

from contracts.instruments import INSTRUMENTS
from contracts.model import DESIGNS_WITH_COUNTERFACTUAL, Contract, RateCard, SavingsShare
from contracts.problems import show
from contracts.yamlfile import Path

Finding = tuple[Path, str]


def check_contract(c: Contract) -> list[Finding]:
    findings: list[Finding] = []
    for check in (_parties, _term_and_cohorts, _target_group, _metrics, _mechanisms, _payers, _investment, _amendments):
        findings.extend(check(c))
    return findings


def _duplicates(items: list, section: Path, what: str) -> Iterator[Finding]:
    seen: set[str] = set()
    for i, item in enumerate(items):
        if item.id in seen:
            yield section + (i, "id"), f"duplicate {what} id {show(item.id)}"
        seen.add(item.id)


def _parties(c: Contract) -> Iterator[Finding]:
    yield from _duplicates(c.parties, ("parties",), "party")


def _term_and_cohorts(c: Contract) -> Iterator[Finding]:
    term_ok = c.term.end > c.term.start
    if not term_ok:
        yield ("term", "end"), f"{c.term.end} is not after term.start {c.term.start}"
    yield from _duplicates(c.cohorts, ("cohorts",), "cohort")
    for i, cohort in enumerate(c.cohorts):
        loc = ("cohorts", i)
        if cohort.enrolment_end < cohort.enrolment_start:
            yield loc + ("enrolment_end",), f"{cohort.enrolment_end} is before enrolment_start {cohort.enrolment_start}"
        for field in ("enrolment_start", "enrolment_end"):
            day = getattr(cohort, field)
            if term_ok and not c.term.start <= day <= c.term.end:
                yield loc + (field,), f"{day} is outside the contract term {c.term.start} to {c.term.end}"
        for other in c.cohorts[:i]:
            if cohort.enrolment_start <= other.enrolment_end and other.enrolment_start <= cohort.enrolment_end:
                yield loc + ("enrolment_start",), (
                    f"enrolment window {cohort.enrolment_start} to {cohort.enrolment_end} overlaps cohort {show(other.id)}"
                )


def _target_group(c: Contract) -> Iterator[Finding]:
    tg = c.target_group
    seen: set[str] = set()
    for i, attr in enumerate(tg.attributes):
        loc = ("target_group", "attributes", i)
        if attr.name in seen:
            yield loc + ("name",), f"duplicate attribute {show(attr.name)}"
        seen.add(attr.name)
        if attr.type == "category" and not attr.values:
            yield loc + ("values",), f"category attribute {show(attr.name)} needs a list of allowed values"
    declared = {a.name: a for a in tg.attributes}
    for i, rule in enumerate(tg.eligibility):
        loc = ("target_group", "eligibility", i)
        attr = declared.get(rule.attribute)
        if attr is None:
            yield loc + ("attribute",), f"{show(rule.attribute)} is not a declared attribute; declared: {', '.join(declared) or 'none'}"
            continue
        if rule.op == "between":
            if not (isinstance(rule.value, list) and len(rule.value) == 2):
                yield loc + ("value",), f"{show(rule.value)} is not allowed; 'between' needs a list of two values [low, high]"
        elif rule.op == "in":
            if not isinstance(rule.value, list) or not rule.value:
                yield loc + ("value",), f"{show(rule.value)} is not allowed; 'in' needs a non-empty list of values"
        elif isinstance(rule.value, (list, dict)):
            yield loc + ("value",), f"{show(rule.value)} is not allowed; {show(rule.op)} needs a single value"
        if attr.type == "category" and attr.values:
            values = rule.value if isinstance(rule.value, list) else [rule.value]
            for v in values:
                if str(v) not in attr.values:
                    yield loc + ("value",), f"{show(v)} is not a value of {show(attr.name)}; allowed: {', '.join(attr.values)}"


def _metrics(c: Contract) -> Iterator[Finding]:
    yield from _duplicates(c.metrics, ("metrics",), "metric")
    declared = {a.name: a for a in c.target_group.attributes}
    cohort_ids = [co.id for co in c.cohorts]
    for i, m in enumerate(c.metrics):
        loc = ("metrics", i)
        if m.window.end_months <= m.window.start_months:
            yield loc + ("window", "end_months"), (
                f"{m.window.end_months} is not after window.start_months {m.window.start_months}"
            )
        if m.instrument is not None:
            instrument = INSTRUMENTS.get(m.instrument)
            if instrument is None:
                yield loc + ("instrument",), f"{show(m.instrument)} is not a built-in instrument; known: {', '.join(INSTRUMENTS)}"
            elif m.question is None or instrument.question(m.question) is None:
                ids = ", ".join(q.id for q in instrument.questions)
                yield loc + ("question",), f"{show(m.question)} is not a question of {m.instrument}; expected one of: {ids}"
            if m.kind != "ordinal":
                yield loc + ("kind",), f"{show(m.kind)} is not allowed for a survey question; expected ordinal"
        elif m.kind == "ordinal" and m.scale is None:
            yield loc + ("scale",), "an ordinal metric needs a scale (min, max) or a survey instrument"
        if m.scale is not None and m.scale.max <= m.scale.min:
            yield loc + ("scale", "max"), f"{m.scale.max} is not above scale.min {m.scale.min}"
        if m.anonymous and (m.instrument is None or m.evaluation.design != "monitoring"):
            yield loc + ("anonymous",), "anonymous answers are only for survey questions with design monitoring"
        if m.missing == "not_achieved" and m.kind != "binary" and m.achieved_when is None:
            yield loc + ("missing",), "'not_achieved' needs a binary metric or an achieved_when threshold"
        if m.missing == "zero" and m.kind not in ("count", "continuous"):
            yield loc + ("missing",), f"'zero' is not allowed for a {m.kind} metric; only for count or continuous"
        ev = m.evaluation
        eloc = loc + ("evaluation",)
        if ev.design == "fixed_baseline" and ev.baseline is None:
            yield eloc + ("baseline",), "required field is missing for design 'fixed_baseline'"
        if ev.baseline is not None and m.kind in ("binary", "rate") and not Decimal(0) <= ev.baseline <= Decimal(1):
            yield eloc + ("baseline",), f"{ev.baseline} is out of range; a {m.kind} baseline must be between 0 and 1"
        if ev.design in ("pre_post", "difference_in_differences") and ev.pre_window is None:
            yield eloc + ("pre_window",), f"required field is missing for design {show(ev.design)}"
        if ev.pre_window is not None and ev.pre_window.end_months > m.window.start_months:
            yield eloc + ("pre_window", "end_months"), (
                f"{ev.pre_window.end_months} is after the start of the outcome window ({m.window.start_months}); "
                "the 'before' window must end before it")
        if ev.design == "matched_comparison" and not ev.covariates:
            yield eloc + ("covariates",), "matched_comparison needs at least one covariate"
        if ev.design == "historical_cohort":
            if ev.comparison_cohort is None:
                yield eloc + ("comparison_cohort",), "required field is missing for design 'historical_cohort'"
            elif ev.comparison_cohort not in cohort_ids:
                yield eloc + ("comparison_cohort",), f"{show(ev.comparison_cohort)} is not a cohort; cohorts: {', '.join(cohort_ids)}"
        names = [(field, j, name) for field in ("covariates", "exact", "squares") for j, name in enumerate(getattr(ev, field))]
        names += [("interactions", j, name) for j, pair in enumerate(ev.interactions) for name in pair]
        names += [("subgroups", j, group.attribute) for j, group in enumerate(ev.subgroups)]
        for field, j, name in names:
            loc_j = eloc + ((field, j, "attribute") if field == "subgroups" else (field, j))
            if name not in declared:
                yield loc_j, f"{show(name)} is not a declared attribute; declared: {', '.join(declared) or 'none'}"
            elif field == "exact" and declared[name].type not in ("category", "boolean"):
                yield loc_j, f"{show(name)} is a {declared[name].type}; exact matching needs a category or boolean"
            elif field in ("squares", "interactions") and declared[name].type not in ("integer", "number"):
                yield loc_j, f"{show(name)} is a {declared[name].type}; squares and interactions need numbers"
        for j, group in enumerate(ev.subgroups):
            attr = declared.get(group.attribute)
            numeric = attr is not None and attr.type in ("integer", "number")
            if numeric and (not group.bands or len(group.bands) < 2 or sorted(group.bands) != group.bands):
                yield eloc + ("subgroups", j, "bands"), (
                    f"a numeric attribute needs at least two band edges in increasing order, got {show(group.bands)}")


def _mechanisms(c: Contract) -> Iterator[Finding]:
    mechanisms = c.payments.mechanisms
    yield from _duplicates(mechanisms, ("payments", "mechanisms"), "mechanism")
    metrics = {m.id: m for m in c.metrics}
    for i, mech in enumerate(mechanisms):
        loc = ("payments", "mechanisms", i)
        if isinstance(mech, RateCard):
            yield from _rate_card(mech, loc)
        yield from _contained_caps(mech, loc, c)
        for j, metric_id in enumerate(mech.metrics):
            where = loc + (("outcomes", j, "metric") if isinstance(mech, RateCard) and mech.outcomes else ("metric",))
            metric = metrics.get(metric_id)
            if metric is None:
                yield where, f"{show(metric_id)} is not a metric of this contract; metrics: {', '.join(metrics)}"
                continue
            yield from _mechanism_metric(mech, metric, where)
        if mech.type == "comparison_threshold" and mech.overall_threshold is not None and mech.overall_threshold > mech.cohort_threshold:
            yield loc + ("overall_threshold",), (
                f"{mech.overall_threshold} is above cohort_threshold {mech.cohort_threshold}; the pooled trigger must not be stricter"
            )


def _rate_card(card: RateCard, loc: Path) -> Iterator[Finding]:
    single = card.metric is not None or card.price is not None
    if single and card.outcomes:
        yield loc + ("outcomes",), "give either metric and price (one outcome) or outcomes (several), not both"
    elif not card.outcomes and (card.metric is None or card.price is None):
        missing = "price" if card.metric is not None else "metric"
        yield loc + (missing,), "required field is missing: a rate card needs metric and price, or outcomes"
    priced = card.metrics
    seen: set[str] = set()
    for j, metric_id in enumerate(priced):
        if metric_id in seen:
            yield loc + ("outcomes", j, "metric"), f"{show(metric_id)} is priced twice in this rate card"
        seen.add(metric_id)
    for j, group in enumerate(card.exclusive):
        for k, metric_id in enumerate(group):
            if metric_id not in seen:
                yield loc + ("exclusive", j, k), f"{show(metric_id)} is not an outcome of this rate card; outcomes: {', '.join(priced)}"


def _contained_caps(mech: object, loc: Path, c: Contract) -> Iterator[Finding]:
    """A cap larger than the cap that contains it can never bind as written: the contract contradicts itself."""
    chain = [("cap_per_participant", getattr(mech, "cap_per_participant", None)),
             ("cap_per_cohort", getattr(mech, "cap_per_cohort", None)), ("cap", getattr(mech, "cap", None))]
    present = [(name, value) for name, value in chain if value is not None]
    for (inner, low), (outer, high) in zip(present, present[1:]):
        if low > high:
            yield loc + (inner,), f"{low} is above {outer} {high}; a cap cannot be larger than the cap that contains it"
    mechanism_cap = getattr(mech, "cap", None)
    if mechanism_cap is not None and c.payments.caps.total is not None and mechanism_cap > c.payments.caps.total:
        yield loc + ("cap",), (f"{mechanism_cap} is above the contract's total cap {c.payments.caps.total}; "
                               "a cap cannot be larger than the cap that contains it")
    if isinstance(mech, SavingsShare) and mech.cap is not None and mech.repay_up_to > mech.cap:
        yield loc + ("repay_up_to",), (f"{mech.repay_up_to} is above the mechanism's cap {mech.cap}: the one-for-one "
                                       "repayment it promises could never be paid")


def _mechanism_metric(mech: object, metric: Any, where: Path) -> Iterator[Finding]:
    kind = getattr(mech, "type")
    has_counterfactual = metric.evaluation.design in DESIGNS_WITH_COUNTERFACTUAL
    if kind in ("rate_card", "milestone") and metric.kind != "binary" and metric.achieved_when is None:
        yield where, (f"{kind} pays per achieved outcome, so metric {show(metric.id)} needs kind binary or an "
                      "achieved_when threshold")
    if kind in ("comparison_threshold", "savings_share") and not has_counterfactual:
        yield where, (f"{kind} pays on an effect, but metric {show(metric.id)} has design "
                      f"{show(metric.evaluation.design)}, which has no counterfactual")
    if kind == "savings_share" and metric.kind not in ("count", "continuous"):
        yield where, f"savings_share needs a count or continuous metric; {show(metric.id)} is {metric.kind}"


def _payers(c: Contract) -> Iterator[Finding]:
    parties = {p.id: p for p in c.parties}
    seen: list[str] = []
    total = Decimal(0)
    for i, payer in enumerate(c.payments.payers):
        loc = ("payments", "payers", i, "party")
        yield from _party_role(parties, payer.party, "payer", loc, "an outcome payer")
        if payer.party in seen:
            yield loc, f"duplicate payer {show(payer.party)}"
        seen.append(payer.party)
        total += payer.share
    if total != 1:
        yield ("payments", "payers"), f"payer shares add up to {total}; they must add up to 1"
    for name in c.payments.caps.per_payer:
        if name not in seen:
            yield ("payments", "caps", "per_payer", name), f"{show(name)} is not a payer; payers: {', '.join(seen)}"


def _party_role(parties: dict, party_id: str, role: str, loc: Path, what: str) -> Iterator[Finding]:
    party = parties.get(party_id)
    if party is None:
        yield loc, f"{show(party_id)} is not a party of this contract; parties: {', '.join(parties)}"
    elif party.role != role:
        yield loc, f"{show(party_id)} has role {party.role}; {what} needs role {role}"


def _investment(c: Contract) -> Iterator[Finding]:
    inv = c.investment
    if inv is None:
        return
    parties = {p.id: p for p in c.parties}
    for i, commitment in enumerate(inv.commitments):
        yield from _party_role(parties, commitment.party, "investor", ("investment", "commitments", i, "party"),
                               "a commitment")
    committed = sum((x.amount for x in inv.commitments), Decimal(0))
    if committed != inv.principal:
        yield ("investment", "commitments"), f"commitments add up to {committed}; they must equal the principal {inv.principal}"
    if inv.drawdowns:
        if inv.drawdown_date is not None:
            yield ("investment", "drawdown_date"), "give either drawdown_date (one drawdown) or drawdowns, not both"
        drawn = sum((d.amount for d in inv.drawdowns), Decimal(0))
        if drawn != inv.principal:
            yield ("investment", "drawdowns"), f"drawdowns add up to {drawn}; they must equal the principal {inv.principal}"
    waterfall = inv.waterfall
    if waterfall.above_cap == "shared" and (waterfall.return_cap_irr is None or waterfall.investor_share_above_cap == 0):
        yield ("investment", "waterfall"), ("above_cap 'shared' needs return_cap_irr and an investor_share_above_cap "
                                            "above 0")


def _amendments(c: Contract) -> Iterator[Finding]:
    previous = c.term.start
    for i, amendment in enumerate(c.amendments):
        loc = ("amendments", i)
        if amendment.version != i + 2:
            yield loc + ("version",), f"{amendment.version} is out of order; expected {i + 2} (versions count up from 1, the original)"
        if not previous < amendment.effective <= c.term.end:
            yield loc + ("effective",), (
                f"{amendment.effective} is not allowed; expected a date after {previous} and no later than the term end {c.term.end}"
            )
        previous = max(previous, amendment.effective)
