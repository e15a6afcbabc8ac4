"""Checks across fields that a single field's type cannot express.

Each check returns (location, message) pairs rather than raising, so that a
file with five mistakes gets five messages at once.  A message is a code and its
parameters (``contracts.messages``), a value from the file written as the file
would write it (``show``).
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any, Iterator

from contracts import costs as cost_files
from contracts import instruments
from contracts.messages import TEXTS as C
from contracts.model import DESIGNS_WITH_COUNTERFACTUAL, Contract, RateCard, SavingsShare
from contracts.problems import show
from contracts.yamlfile import Path
from language import Message

Finding = tuple[Path, Message]
PER_OUTCOME = ("rate_card", "milestone")  # mechanisms that pay a price per verified outcome


def check_contract(c: Contract) -> list[Finding]:
    findings: list[Finding] = []
    for check in (_parties, _term_and_cohorts, _target_group, _metrics, _mechanisms, _payers, _investment, _amendments,
                  _horizon, _valuation):
        findings.extend(check(c))
    return findings


def contract_warnings(c: Contract) -> list[Finding]:
    """What `sib contract validate` warns about in a valid contract: terms that are allowed but that a reader
    should know about before signing."""
    return list(_point_estimates_without_counterfactual(c))


def _point_estimates_without_counterfactual(c: Contract) -> Iterator[Finding]:
    """A mechanism that pays on the point estimate (``pays_on`` point_estimate, or unset) of a metric whose design
    has no counterfactual pays on what was measured, not on an effect.  (comparison_threshold and savings_share on
    such a design are refused outright; so this is a rate card or milestone on a monitored metric.)"""
    metrics = {m.id: m for m in c.metrics}
    for i, mech in enumerate(c.payments.mechanisms if c.payments is not None else []):
        if (mech.pays_on or "point_estimate") != "point_estimate":
            continue
        for j, metric_id in enumerate(mech.metrics):
            metric = metrics.get(metric_id)
            if metric is None or metric.evaluation.design in DESIGNS_WITH_COUNTERFACTUAL:
                continue
            loc = ("payments", "mechanisms", i) + (
                ("outcomes", j, "metric") if isinstance(mech, RateCard) and mech.outcomes else ("metric",))
            yield loc, C("point_estimate_no_counterfactual", kind=mech.type, metric=show(metric.id),
                         design=show(metric.evaluation.design))


def _duplicates(items: list, section: Path, what: str) -> Iterator[Finding]:
    seen: set[str] = set()
    for i, item in enumerate(items):
        if item.id in seen:
            yield section + (i, "id"), C(f"duplicate_{what}", id=show(item.id))
        seen.add(item.id)


def _undeclared(name: str, declared: dict) -> Message:
    if declared:
        return C("not_declared", name=show(name), declared=", ".join(declared))
    return C("not_declared_none", name=show(name))


def _parties(c: Contract) -> Iterator[Finding]:
    yield from _duplicates(c.parties, ("parties",), "party")


def _term_and_cohorts(c: Contract) -> Iterator[Finding]:
    term_ok = c.term.end > c.term.start
    if not term_ok:
        yield ("term", "end"), C("term_end", end=str(c.term.end), start=str(c.term.start))
    yield from _duplicates(c.cohorts, ("cohorts",), "cohort")
    for i, cohort in enumerate(c.cohorts):
        loc = ("cohorts", i)
        if cohort.enrolment_end < cohort.enrolment_start:
            yield loc + ("enrolment_end",), C("enrolment_end", end=str(cohort.enrolment_end),
                                              start=str(cohort.enrolment_start))
        for field in ("enrolment_start", "enrolment_end"):
            day = getattr(cohort, field)
            if term_ok and not c.term.start <= day <= c.term.end:
                yield loc + (field,), C("outside_term", day=str(day), start=str(c.term.start), end=str(c.term.end))
        for other in c.cohorts[:i]:
            if cohort.enrolment_start <= other.enrolment_end and other.enrolment_start <= cohort.enrolment_end:
                yield loc + ("enrolment_start",), C("cohorts_overlap", start=str(cohort.enrolment_start),
                                                    end=str(cohort.enrolment_end), other=show(other.id))


def _target_group(c: Contract) -> Iterator[Finding]:
    tg = c.target_group
    seen: set[str] = set()
    for i, attr in enumerate(tg.attributes):
        loc = ("target_group", "attributes", i)
        if attr.name in seen:
            yield loc + ("name",), C("duplicate_attribute", name=show(attr.name))
        seen.add(attr.name)
        if attr.type == "category" and not attr.values:
            yield loc + ("values",), C("category_values", name=show(attr.name))
    declared = {a.name: a for a in tg.attributes}
    for i, rule in enumerate(tg.eligibility):
        loc = ("target_group", "eligibility", i)
        attr = declared.get(rule.attribute)
        if attr is None:
            yield loc + ("attribute",), _undeclared(rule.attribute, declared)
            continue
        if rule.op == "between":
            if not (isinstance(rule.value, list) and len(rule.value) == 2):
                yield loc + ("value",), C("between_value", value=show(rule.value))
        elif rule.op == "in":
            if not isinstance(rule.value, list) or not rule.value:
                yield loc + ("value",), C("in_value", value=show(rule.value))
        elif isinstance(rule.value, (list, dict)):
            yield loc + ("value",), C("single_value", value=show(rule.value), op=show(rule.op))
        if attr.type == "category" and attr.values:
            values = rule.value if isinstance(rule.value, list) else [rule.value]
            for v in values:
                if str(v) not in attr.values:
                    yield loc + ("value",), C("not_a_value", value=show(v), name=show(attr.name),
                                              allowed=", ".join(attr.values))


def _metrics(c: Contract) -> Iterator[Finding]:
    yield from _duplicates(c.metrics, ("metrics",), "metric")
    declared = {a.name: a for a in c.target_group.attributes}
    cohort_ids = [co.id for co in c.cohorts]
    for i, m in enumerate(c.metrics):
        loc = ("metrics", i)
        if m.window.end_months <= m.window.start_months:
            yield loc + ("window", "end_months"), C("window_end", end=str(m.window.end_months),
                                                     start=str(m.window.start_months))
        yield from _window_start(m, c, loc + ("window",))
        if m.instrument is not None:
            instrument = instruments.get(m.instrument, m.instrument_version)
            if not instruments.versions(m.instrument):
                yield loc + ("instrument",), C("unknown_instrument", instrument=show(m.instrument),
                                               known=", ".join(instruments.known()))
            elif instrument is None:
                yield loc + ("instrument_version",), C("unknown_instrument_version", instrument=m.instrument,
                                                       version=str(m.instrument_version),
                                                       known=", ".join(map(str, sorted(instruments.versions(m.instrument)))))
            elif m.question is None or instrument.question(m.question) is None:
                ids = ", ".join(q.id for q in instrument.questions)
                yield loc + ("question",), C("unknown_question", question=show(m.question), instrument=m.instrument,
                                             ids=ids)
            else:
                question = instrument.question(m.question)
                assert question is not None
                low = sorted(question.favourable) == sorted(question.codes)[:len(question.favourable)]
                expected = "lower_is_better" if low else "higher_is_better"
                if m.direction != expected:
                    yield loc + ("direction",), C("survey_direction", direction=m.direction, expected=expected,
                                                  codes=", ".join(map(str, question.favourable)),
                                                  instrument=instrument.key)
            if m.kind != "ordinal":
                yield loc + ("kind",), C("survey_kind", kind=show(m.kind))
        elif m.kind == "ordinal" and m.scale is None:
            yield loc + ("scale",), C("ordinal_scale")
        if m.scale is not None and m.scale.max <= m.scale.min:
            yield loc + ("scale", "max"), C("scale_max", max=str(m.scale.max), min=str(m.scale.min))
        if m.anonymous and (m.instrument is None or m.evaluation.design != "monitoring"):
            yield loc + ("anonymous",), C("anonymous")
        if m.missing == "not_achieved" and m.kind != "binary" and m.achieved_when is None:
            yield loc + ("missing",), C("not_achieved")
        if m.missing == "zero" and m.kind not in ("count", "continuous"):
            yield loc + ("missing",), C("missing_zero", kind=m.kind)
        ev = m.evaluation
        eloc = loc + ("evaluation",)
        if ev.design == "fixed_baseline" and ev.baseline is None:
            yield eloc + ("baseline",), C("missing_for_design", design=show("fixed_baseline"))
        if ev.baseline is not None and m.kind in ("binary", "rate") and not Decimal(0) <= ev.baseline <= Decimal(1):
            yield eloc + ("baseline",), C("baseline_range", baseline=str(ev.baseline), kind=m.kind)
        if ev.design in ("pre_post", "difference_in_differences", "synthetic_control") and ev.pre_window is None:
            yield eloc + ("pre_window",), C("missing_for_design", design=show(ev.design))
        if ev.pre_window is not None and ev.pre_window.end_months > m.window.start_months and m.window.after == "enrolment":
            yield eloc + ("pre_window", "end_months"), C("pre_window_end", end=str(ev.pre_window.end_months),
                                                          start=str(m.window.start_months))
        if ev.denominator is not None and ev.denominator not in {x.id for x in c.metrics}:
            yield eloc + ("denominator",), C("not_a_metric", metric=show(ev.denominator),
                                             metrics=", ".join(x.id for x in c.metrics))
        elif ev.denominator is not None and ev.design not in ("difference_in_differences", "synthetic_control"):
            yield eloc + ("denominator",), C("denominator_design", design=show(ev.design))
        if ev.staggered is not None and ev.design != "difference_in_differences":
            yield eloc + ("staggered",), C("staggered_design", design=show(ev.design))
        if ev.design == "matched_comparison" and not ev.covariates:
            yield eloc + ("covariates",), C("needs_covariate")
        if ev.design == "historical_cohort":
            if ev.comparison_cohort is None:
                yield eloc + ("comparison_cohort",), C("missing_for_design", design=show("historical_cohort"))
            elif ev.comparison_cohort not in cohort_ids:
                yield eloc + ("comparison_cohort",), C("not_a_cohort", cohort=show(ev.comparison_cohort),
                                                       cohorts=", ".join(cohort_ids))
        names = [(field, j, name) for field in ("covariates", "exact", "squares") for j, name in enumerate(getattr(ev, field))]
        names += [("interactions", j, name) for j, pair in enumerate(ev.interactions) for name in pair]
        names += [("subgroups", j, group.attribute) for j, group in enumerate(ev.subgroups)]
        for field, j, name in names:
            loc_j = eloc + ((field, j, "attribute") if field == "subgroups" else (field, j))
            if name not in declared:
                yield loc_j, _undeclared(name, declared)
            elif field == "exact" and declared[name].type not in ("category", "boolean"):
                yield loc_j, C("exact_type", name=show(name), type=declared[name].type)
            elif field in ("squares", "interactions") and declared[name].type not in ("integer", "number"):
                yield loc_j, C("numeric_type", name=show(name), type=declared[name].type)
        for j, group in enumerate(ev.subgroups):
            attr = declared.get(group.attribute)
            numeric = attr is not None and attr.type in ("integer", "number")
            if numeric and (not group.bands or len(group.bands) < 2 or sorted(group.bands) != group.bands):
                yield eloc + ("subgroups", j, "bands"), C("bands", bands=show(group.bands))


def _window_start(m: Any, c: Contract, loc: Path) -> Iterator[Finding]:
    """after: event names a binary, participant-level metric whose own window counts from enrolment or exit."""
    window = m.window
    if window.after != "enrolment" and m.evaluation.design in ("difference_in_differences", "synthetic_control"):
        yield loc + ("after",), C("window_after_design", after=show(window.after))
    if window.after != "event":
        if window.event is not None:
            yield loc + ("event",), C("window_event_unused", after=show(window.after))
        return
    metrics = {x.id: x for x in c.metrics}
    event = metrics.get(window.event) if window.event is not None else None
    if window.event is None:
        yield loc + ("event",), C("window_event_missing")
    elif event is None:
        yield loc + ("event",), C("not_a_metric", metric=show(window.event), metrics=", ".join(metrics))
    elif event.id == m.id or event.kind != "binary" or event.anonymous or event.window.after == "event":
        yield loc + ("event",), C("window_event_kind", metric=show(window.event))


def _mechanisms(c: Contract) -> Iterator[Finding]:
    if c.payments is None:  # an evaluation-only contract
        return
    mechanisms = c.payments.mechanisms
    yield from _duplicates(mechanisms, ("payments", "mechanisms"), "mechanism")
    metrics = {m.id: m for m in c.metrics}
    for i, mech in enumerate(mechanisms):
        loc = ("payments", "mechanisms", i)
        if isinstance(mech, RateCard):
            yield from _rate_card(mech, loc)
        if mech.type in PER_OUTCOME and mech.pays_on == "lower_bound":
            yield loc + ("pays_on",), C("pays_on_per_outcome", kind=mech.type)
        yield from _contained_caps(mech, loc, c)
        for j, metric_id in enumerate(mech.metrics):
            where = loc + (("outcomes", j, "metric") if isinstance(mech, RateCard) and mech.outcomes else ("metric",))
            metric = metrics.get(metric_id)
            if metric is None:
                yield where, C("not_a_metric", metric=show(metric_id), metrics=", ".join(metrics))
                continue
            yield from _mechanism_metric(mech, metric, where)
        if mech.type == "comparison_threshold" and mech.overall_threshold is not None and mech.overall_threshold > mech.cohort_threshold:
            yield loc + ("overall_threshold",), C("overall_threshold", overall=str(mech.overall_threshold),
                                                   cohort=str(mech.cohort_threshold))


def _rate_card(card: RateCard, loc: Path) -> Iterator[Finding]:
    single = card.metric is not None or card.price is not None
    if single and card.outcomes:
        yield loc + ("outcomes",), C("card_both")
    elif not card.outcomes and (card.metric is None or card.price is None):
        missing = "price" if card.metric is not None else "metric"
        yield loc + (missing,), C("card_missing")
    priced = card.metrics
    seen: set[str] = set()
    for j, metric_id in enumerate(priced):
        if metric_id in seen:
            yield loc + ("outcomes", j, "metric"), C("priced_twice", metric=show(metric_id))
        seen.add(metric_id)
    for j, group in enumerate(card.exclusive):
        for k, metric_id in enumerate(group):
            if metric_id not in seen:
                yield loc + ("exclusive", j, k), C("not_an_outcome", metric=show(metric_id), outcomes=", ".join(priced))


def _contained_caps(mech: object, loc: Path, c: Contract) -> Iterator[Finding]:
    """A cap larger than the cap that contains it can never bind as written: the contract contradicts itself."""
    chain = [("cap_per_participant", getattr(mech, "cap_per_participant", None)),
             ("cap_per_cohort", getattr(mech, "cap_per_cohort", None)), ("cap", getattr(mech, "cap", None))]
    present = [(name, value) for name, value in chain if value is not None]
    for (inner, low), (outer, high) in zip(present, present[1:]):
        if low > high:
            yield loc + (inner,), C("cap_inner", low=str(low), outer=outer, high=str(high))
    mechanism_cap = getattr(mech, "cap", None)
    if mechanism_cap is not None and c.payments.caps.total is not None and mechanism_cap > c.payments.caps.total:
        yield loc + ("cap",), C("cap_total", cap=str(mechanism_cap), total=str(c.payments.caps.total))
    if isinstance(mech, SavingsShare) and mech.cap is not None and mech.repay_up_to > mech.cap:
        yield loc + ("repay_up_to",), C("repay_above_cap", upto=str(mech.repay_up_to), cap=str(mech.cap))


def _mechanism_metric(mech: object, metric: Any, where: Path) -> Iterator[Finding]:
    kind = getattr(mech, "type")
    has_counterfactual = metric.evaluation.design in DESIGNS_WITH_COUNTERFACTUAL
    if kind in ("rate_card", "milestone") and metric.kind != "binary" and metric.achieved_when is None:
        yield where, C("per_outcome_kind", kind=kind, metric=show(metric.id))
    if kind in ("comparison_threshold", "savings_share") and not has_counterfactual:
        yield where, C("needs_counterfactual", kind=kind, metric=show(metric.id), design=show(metric.evaluation.design))
    rule = getattr(mech, "pays_on", None)
    if kind in PER_OUTCOME and rule == "significant" and not has_counterfactual:
        yield where[:3] + ("pays_on",), C("pays_on_needs_effect", rule=show(rule), metric=show(metric.id),
                                          design=show(metric.evaluation.design))
    if kind == "savings_share" and metric.kind not in ("count", "continuous"):
        yield where, C("savings_kind", metric=show(metric.id), kind=metric.kind)


def _payers(c: Contract) -> Iterator[Finding]:
    if c.payments is None:
        return
    parties = {p.id: p for p in c.parties}
    seen: list[str] = []
    total = Decimal(0)
    for i, payer in enumerate(c.payments.payers):
        loc = ("payments", "payers", i, "party")
        yield from _party_role(parties, payer.party, "payer", loc, "payer_role")
        if payer.party in seen:
            yield loc, C("duplicate_payer", payer=show(payer.party))
        seen.append(payer.party)
        total += payer.share
    if total != 1:
        yield ("payments", "payers"), C("shares", total=str(total))
    for name in c.payments.caps.per_payer:
        if name not in seen:
            yield ("payments", "caps", "per_payer", name), C("not_a_payer", name=show(name), payers=", ".join(seen))


def _party_role(parties: dict, party_id: str, role: str, loc: Path, code: str) -> Iterator[Finding]:
    party = parties.get(party_id)
    if party is None:
        yield loc, C("not_a_party", party=show(party_id), parties=", ".join(parties))
    elif party.role != role:
        yield loc, C(code, party=show(party_id), role=party.role)


def _investment(c: Contract) -> Iterator[Finding]:
    inv = c.investment
    if inv is None:
        return
    if c.payments is None:
        yield ("investment",), C("investment_without_payments")
    parties = {p.id: p for p in c.parties}
    for i, commitment in enumerate(inv.commitments):
        yield from _party_role(parties, commitment.party, "investor", ("investment", "commitments", i, "party"),
                               "commitment_role")
    committed = sum((x.amount for x in inv.commitments), Decimal(0))
    if committed != inv.principal:
        yield ("investment", "commitments"), C("commitments", total=str(committed), principal=str(inv.principal))
    if inv.drawdowns:
        if inv.drawdown_date is not None:
            yield ("investment", "drawdown_date"), C("drawdown_both")
        drawn = sum((d.amount for d in inv.drawdowns), Decimal(0))
        if drawn != inv.principal:
            yield ("investment", "drawdowns"), C("drawdowns", total=str(drawn), principal=str(inv.principal))
    waterfall = inv.waterfall
    if waterfall.above_cap == "shared" and (waterfall.return_cap_irr is None or waterfall.investor_share_above_cap == 0):
        yield ("investment", "waterfall"), C("shared")


def _amendments(c: Contract) -> Iterator[Finding]:
    previous = c.term.start
    for i, amendment in enumerate(c.amendments):
        loc = ("amendments", i)
        if amendment.version != i + 2:
            yield loc + ("version",), C("amendment_order", version=str(amendment.version), expected=str(i + 2))
        if not previous < amendment.effective <= c.term.end:
            yield loc + ("effective",), C("amendment_date", effective=str(amendment.effective), previous=str(previous),
                                          end=str(c.term.end))
        previous = max(previous, amendment.effective)


def plus_months(day: date, months: int) -> date:
    """``day`` plus whole calendar months, the last day of a shorter month when the day does not exist in it."""
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    for d in range(day.day, 27, -1):
        try:
            return date(year, month, d)
        except ValueError:
            continue
    return date(year, month, min(day.day, 28))


def payable_after(c: Contract, metric: Any, cohort: Any) -> date | None:
    """The day the last outcome window of ``cohort`` on ``metric`` closes plus the payment lag: when the last
    payment on it can be due.  None when windows count from an exit or event (not known at design time)."""
    if c.payments is None or metric.window.after != "enrolment":
        return None
    return plus_months(cohort.enrolment_end, metric.window.end_months) + timedelta(days=c.payments.schedule.lag_days)


def _horizon(c: Contract) -> Iterator[Finding]:
    """A paid metric whose cohorts' outcome windows, plus the payment lag, end after the contract term: the
    contract would owe payments it has no term left to make (Norrköping extended its follow-up from 24 to 36
    months; the term must hold the longer horizon)."""
    if c.payments is None or c.term.end <= c.term.start:
        return
    paid = {m for mech in c.payments.mechanisms for m in mech.metrics}
    for i, metric in enumerate(c.metrics):
        if metric.id not in paid:
            continue
        for cohort in c.cohorts:
            due = payable_after(c, metric, cohort)
            if due is not None and due > c.term.end:
                closes = plus_months(cohort.enrolment_end, metric.window.end_months)
                yield ("metrics", i, "window", "end_months"), C(
                    "horizon_after_term", metric=show(metric.id), cohort=show(cohort.id), closes=str(closes),
                    lag=str(c.payments.schedule.lag_days), due=str(due), end=str(c.term.end))
                break


def _valuation(c: Contract) -> Iterator[Finding]:
    """The cost file the valuation names is known, in the contract's currency, holds the price year, and has
    every item the metrics name; own costs are borne by payers."""
    avoiding = [(i, m) for i, m in enumerate(c.metrics) if m.avoids]
    v = c.valuation
    if v is None:
        for i, _ in avoiding:
            yield ("metrics", i, "avoids"), C("avoids_without_valuation")
        return
    costs = cost_files.get(v.costs, v.costs_version)
    if costs is None:
        if cost_files.get(v.costs) is None:
            yield ("valuation", "costs"), C("unknown_costs", costs=show(v.costs),
                                            known=", ".join(cost_files.known()) or "-")
        else:
            yield ("valuation", "costs_version"), C("unknown_costs_version", costs=v.costs,
                                                    version=str(v.costs_version))
    else:
        if costs.currency != c.currency:
            yield ("valuation", "costs"), C("costs_currency", costs=costs.key, currency=costs.currency,
                                            contract=c.currency)
        first, last = costs.years()
        if v.price_year not in costs.index.values:
            yield ("valuation", "price_year"), C("valuation_price_year", year=str(v.price_year), costs=costs.key,
                                                 first=str(first), last=str(last))
        items = ", ".join(item.id for item in costs.items)
        for i, metric in avoiding:
            for j, avoided in enumerate(metric.avoids):
                if costs.item(avoided.item) is None:
                    yield ("metrics", i, "avoids", j, "item"), C("unknown_cost_item", item=show(avoided.item),
                                                                 costs=costs.key, items=items)
    payers = ([p.party for p in c.payments.payers] if c.payments is not None  # an evaluation-only contract: any
              else [p.id for p in c.parties if p.role == "payer"])  # party in the payer role
    for j, own in enumerate(v.own_costs):
        if own.party not in payers:
            yield ("valuation", "own_costs", j, "party"), C("not_a_payer", name=show(own.party),
                                                            payers=", ".join(payers) or "-")
