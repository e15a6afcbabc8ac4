"""Payment mechanisms: what an evaluation run's results are worth under the contract.

Each function is pure: a mechanism's terms and the run's results in, a list
of ``Line`` out.  A line is the cumulative amount owed to date for one
mechanism and cohort, unrounded, with a basis that shows every input of the
formula.  Caps, the payer split and rounding come later, in ``calculate``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Callable

import numpy as np
import pandas as pd

from contracts.model import MAX_AMOUNT, ComparisonThreshold, Contract, Milestone, RateCard, SavingsShare
from evaluation.result import POOLED, EffectResult
from payments.messages import TEXTS as P
from payments.money import ZERO, AmountTooLarge, exact_sum, product, quantity

INT64_MAX = 2**63 - 1


@dataclass
class Line:
    mechanism: str
    cohort: str
    amount: Decimal
    basis: dict[str, Any] = field(default_factory=dict)


Results = Callable[[str, str], EffectResult | None]  # (metric, cohort) -> result


@dataclass(frozen=True)
class Evidence:
    """What an evaluation run found: results by metric and cohort, and each treated participant's outcomes."""

    result: Results
    outcomes: pd.DataFrame  # metric, participant_id, cohort, achieved


def _cohorts(contract: Contract) -> list[str]:
    return [c.id for c in contract.cohorts]


def _places(amounts: list[Decimal | None]) -> int:
    """Decimal places of minor units fine enough to hold every amount exactly (at least hundredths)."""
    return max([2] + [-int(a.as_tuple().exponent) for a in amounts if a is not None and int(a.as_tuple().exponent) < 0])


def _units(amount: Decimal, places: int) -> int:
    """``amount`` in whole units of 10^-places, exactly (``places`` is fine enough for it: ``_places``)."""
    sign, digits, exponent = amount.as_tuple()
    coefficient = int("".join(map(str, digits)) or "0")
    return (-1 if sign else 1) * coefficient * 10 ** (int(exponent) + places)


def _amount(units: int, places: int) -> Decimal:
    """Whole units of 10^-places as a Decimal, exactly, written as ``Decimal(units) / 10**places`` writes it
    (trailing zeros of the fraction dropped) but never rounded to the context's 28 digits."""
    while places > 0 and units % 10 == 0:
        units //= 10
        places -= 1
    return Decimal(f"{units}E-{places}") if places else Decimal(units)


def per_outcome(mech: RateCard | Milestone, contract: Contract, evidence: Evidence) -> list[Line]:
    """rate_card and milestone: a price per verified outcome per participant, per cohort.

    Per participant: only achieved outcomes the card prices; of each ``exclusive`` group only the
    highest-priced; at most ``max_outcomes_per_participant``, the highest-priced first; then
    ``cap_per_participant``.  Per cohort: the sum, then ``cap_per_cohort``.  Amounts are summed as whole
    minor units (integers), so the sums are exact: Python integers, once per combination of outcomes that
    occurs (``_paid_by_masks``), or, where the rows must be sorted (``_paid_sorted``), 64-bit integers when the
    largest possible sum provably fits in one, else Python integers (any size).  The cap that bites is said,
    with by how much.

    ``pays_on: significant`` pays an outcome only where its metric's effect in the cohort is a significant
    improvement (p below the metric's alpha, improvement above zero); see ``_card_gate``.
    """
    if mech.pays_on == "lower_bound":  # refused when the contract is validated (contracts.checks)
        raise ValueError(f"{mech.type} cannot pay on a lower bound: it pays per outcome, not per unit of improvement")
    card = _card(mech)
    cohorts = [c.id for c in contract.cohorts]
    gate = _card_gate(mech, contract, evidence, cohorts, card.metrics)
    paid = _paid(card, evidence.outcomes, cohorts, gate)
    lines = [_card_line(mech, card, cohort, index, paid, gate) for index, cohort in enumerate(cohorts)]
    if lines and (paid.dropped_exclusive or paid.dropped_max):
        lines[0].basis["not_paid"] = {"exclusive": paid.dropped_exclusive,
                                      "over_max_per_participant": paid.dropped_max}
    return lines


def _card_line(mech: RateCard | Milestone, card: _Card, cohort: str, index: int, paid: _Paid,
               gate: _Gate | None) -> Line:
    """A cohort's line: what its participants are paid, summed, then the caps per participant and per cohort."""
    sums = paid.people[index]
    gross = sum(units * count for units, count in sums.items())
    prices, places = card.prices, card.places
    basis: dict[str, Any] = {
        "metrics": card.metrics, "prices": {m: str(p) for m, p in prices.items()},
        "achieved": dict(zip(card.metrics, paid.achieved[index])),
        "participants_paid": sum(sums.values()), "outcomes_paid": paid.outcomes[index],
    }
    caps = []
    amount = gross
    if card.cap_pp is not None:
        limit = card.limit_pp
        capped = sum(min(units, limit) * count for units, count in sums.items())
        if capped < gross:
            caps.append({"cap": "per_participant", "limit": str(card.cap_pp),
                         "participants": sum(count for units, count in sums.items() if units > limit),
                         "reduced_by": str(_amount(gross - capped, places))})
        amount = capped
    if card.cap_cohort is not None and amount > card.limit_cohort:
        caps.append({"cap": "per_cohort", "limit": str(card.cap_cohort),
                     "reduced_by": str(_amount(amount - card.limit_cohort, places))})
        amount = card.limit_cohort
    trail = P("rate_card", outcomes=basis["outcomes_paid"], participants=basis["participants_paid"],
              achieved=[P("count_of", n=n, metric=m).as_dict() for m, n in basis["achieved"].items()],
              prices=[P("price_of", metric=m, price=str(p)).as_dict() for m, p in prices.items()],
              gross=str(_amount(gross, places))).as_dict()
    if gate is not None:
        basis |= {"pays_on": "significant", "significant": gate.paid[index], "p_values": gate.p_values[index],
                  "alpha": gate.alpha}
        trail = P("card_significant", checks=gate.checks[index], trail=trail).as_dict()
    elif mech.pays_on == "point_estimate":
        basis["pays_on"] = "point_estimate"
        trail = P("pays_on_outcomes", trail=trail).as_dict()
    basis["trail"] = trail
    if caps:
        basis["caps"] = caps
    return Line(mech.id, cohort, _amount(amount, places), basis)


@dataclass(frozen=True)
class _Card:
    """A per-outcome mechanism's terms as the sums need them: prices and caps in whole units of 10^-places."""

    metrics: list[str]  # in the card's order
    prices: dict[str, Decimal]
    units: list[int]  # each metric's price in whole units
    order: list[int]  # the metrics by price, highest first, ties in the card's order: the order they are paid in
    group_of: list[int]  # each metric's exclusive group (a metric in none is a group of its own)
    most: int  # outcomes paid per participant at most
    cap_pp: Decimal | None
    cap_cohort: Decimal | None
    limit_pp: int | None  # the caps in whole units
    limit_cohort: int | None
    places: int

    def dtype(self, outcomes: int) -> type:
        """int64 when the largest sum possible (the largest price or cap times the number of outcomes) fits in
        one, so that no sum can wrap; otherwise Python integers (``object``), which never wrap."""
        limits = [limit for limit in (self.limit_pp, self.limit_cohort) if limit is not None]
        return np.int64 if max(self.units + limits + [0]) * max(1, outcomes) <= INT64_MAX else object


def _card(mech: RateCard | Milestone) -> _Card:
    if isinstance(mech, RateCard):
        prices = {o.metric: o.price for o in mech.priced()}
        groups = {metric: f"exclusive {j}" for j, group in enumerate(mech.exclusive) for metric in group}
        most, cap_pp, cap_cohort = mech.max_outcomes_per_participant, mech.cap_per_participant, mech.cap_per_cohort
    else:
        prices, groups, most, cap_pp, cap_cohort = {mech.metric: mech.amount}, {}, 1, None, None
    places = _places([*prices.values(), cap_pp, cap_cohort])
    metrics = list(prices)
    units = [_units(prices[m], places) for m in metrics]
    group_names = list(dict.fromkeys(groups.get(m, m) for m in metrics))
    return _Card(metrics, prices, units, sorted(range(len(metrics)), key=lambda i: (-units[i], i)),
                 [group_names.index(groups.get(m, m)) for m in metrics], most, cap_pp, cap_cohort,
                 None if cap_pp is None else _units(cap_pp, places),
                 None if cap_cohort is None else _units(cap_cohort, places), places)


@dataclass(frozen=True)
class _Paid:
    """What a card pays in each cohort before the caps, in whole units, and what it leaves unpaid."""

    people: list[dict[int, int]]  # per cohort: a sum paid to a participant -> how many are paid it (0 included)
    outcomes: list[int]  # per cohort: outcomes paid
    achieved: list[list[int]]  # per cohort, per metric: outcomes achieved, paid or not
    dropped_exclusive: int
    dropped_max: int


MASK_METRICS = 12  # a card with more priced outcomes is summed by sorting the rows (its masks would be too many)


def _paid(card: _Card, outcomes: pd.DataFrame, cohorts: list[str], gate: _Gate | None) -> _Paid:
    """Per participant: achieved outcomes the card prices, in a cohort of the contract (and, with a gate, in a
    cohort and metric it allows); of each exclusive group the highest-priced; at most ``most``, highest-priced
    first.  Summed per participant, exactly.

    What a participant is paid depends only on which of the card's outcomes they achieved: with integer
    participant ids, each participant's outcomes become a bit mask, and each mask that occurs is worked out
    once and counted (``_paid_by_masks``).  Evidence a mask cannot hold (the same outcome twice for a
    participant, outcomes in two cohorts, more than ``MASK_METRICS`` priced outcomes) is summed by sorting the
    rows (``_paid_sorted``), the same numbers, several times slower."""
    metric = _positions(outcomes["metric"], card.metrics)
    cohort = _positions(outcomes["cohort"], cohorts)
    achieved = outcomes["achieved"].to_numpy(dtype=bool)
    ids = outcomes["participant_id"].to_numpy()
    if ids.dtype.kind in "iu" and len(card.metrics) <= MASK_METRICS:
        row, n = _participant_positions(ids.astype(np.int64, copy=False))
        masks = _outcome_masks(row, n, metric, cohort, achieved, len(card.metrics), len(cohorts))
        if masks is not None:
            return _paid_by_masks(card, masks, gate)
    return _paid_sorted(card, ids, metric, cohort, achieved, len(cohorts), gate)


def _positions(column: pd.Series, names: list[str]) -> np.ndarray:
    """Each row's value as its position in ``names``; ``len(names)`` for any other value (or none).

    In a small unsigned integer type.  A categorical column is looked up once per category, not once per row;
    one whose categories are ``names`` (and no row without a value) already holds the positions: its codes."""
    dtype = np.min_scalar_type(len(names))
    if isinstance(column.dtype, pd.CategoricalDtype):
        values = column.array
        codes = values.codes
        if list(values.categories) == names and (not len(codes) or codes.min() >= 0):
            return codes.view(f"u{codes.itemsize}")  # non-negative: the same numbers
        at = {name: i for i, name in enumerate(names)}
        lookup = np.array([at.get(c, len(names)) for c in values.categories] + [len(names)], dtype=dtype)
        return lookup.take(codes)  # code -1 (no value) takes the last entry
    found = pd.Index(names).get_indexer(column)
    return np.where(found >= 0, found, len(names)).astype(dtype)


def _participant_positions(ids: np.ndarray) -> tuple[np.ndarray, int]:
    """Each row's participant as a position 0..n-1, and n; the same id, the same position."""
    if not len(ids):
        return ids, 0
    low, high = int(ids.min()), int(ids.max())
    if high - low < 2 * len(ids) + 1024:  # ids close together (a contract's, as the store numbers them): offsets
        return (ids - low if low else ids), high - low + 1
    row = pd.factorize(ids)[0]
    return row, int(row.max()) + 1


def _outcome_masks(row: np.ndarray, n: int, metric: np.ndarray, cohort: np.ndarray, achieved: np.ndarray, k: int,
                   n_cohorts: int) -> np.ndarray | None:
    """Each participant's achieved outcomes of the card as a bit mask (bit m: the card's metric m), per cohort of
    the contract: [cohort, participant], 0 for none.  Rows of no cohort of the contract are left out.  None if a
    mask cannot say it all: a participant with the same outcome twice in the rows, or with outcomes in two
    cohorts of the contract."""
    # Every row marks one cell of an [achieved, metric, cohort, participant] table; metric k (none of the card's)
    # and cohort n_cohorts (none of the contract's) are cells never read, and so is the half not achieved.
    width = (k + 1) * (n_cohorts + 1)
    small = np.min_scalar_type(2 * width - 1)
    cell = metric * small.type(n_cohorts + 1)  # arithmetic on small integers: several times faster than np.where
    cell += cohort
    cell += achieved * small.type(width)
    key = np.multiply(cell, n, dtype=np.int64)
    key += row
    table = np.zeros(2 * width * n, dtype=bool)
    table[key] = True
    table = table.reshape(2, k + 1, n_cohorts + 1, n)[1, :k]  # achieved: [metric, cohort, participant]
    if np.count_nonzero(table) != np.count_nonzero(achieved & (metric < k)):  # two rows, one outcome
        return None
    masks = np.zeros((n_cohorts, n), dtype=np.min_scalar_type(2**k - 1))
    for m in range(k):
        masks |= table[m, :n_cohorts].view(np.uint8).astype(masks.dtype, copy=False) << m
    if n_cohorts > 1:
        seen = masks[0] != 0
        for later in masks[1:]:
            here = later != 0
            if np.any(seen & here):
                return None
            seen |= here
    return masks


@dataclass(frozen=True)
class _Combination:
    """What a participant who achieved a given set of the card's outcomes is paid."""

    outcomes: int  # outcomes achieved (of those the gate allows)
    groups: int  # outcomes left after exclusivity: one per exclusive group
    paid: int  # outcomes paid: at most ``most``
    units: int  # their prices, summed


def _combination(card: _Card, mask: int) -> _Combination:
    """The card's rules for one participant whose outcomes are ``mask`` (bit m: metric m): by price, highest
    first; of each exclusive group the first; at most ``most``."""
    groups: set[int] = set()
    paid = units = 0
    for m in card.order:
        if mask >> m & 1 and card.group_of[m] not in groups:
            groups.add(card.group_of[m])
            if paid < card.most:
                paid += 1
                units += card.units[m]
    return _Combination(mask.bit_count(), len(groups), paid, units)


def _paid_by_masks(card: _Card, masks: np.ndarray, gate: _Gate | None) -> _Paid:
    """``_paid`` from each participant's outcomes as a bit mask (``_outcome_masks``): the participants with each
    mask counted, each mask paid once by the card's rules (``_combination``); every sum a Python integer."""
    k = len(card.metrics)
    combinations: dict[int, _Combination] = {}
    people, paid_outcomes, achieved = [], [], []
    outcomes = groups = paid = 0
    for index, cohort_masks in enumerate(masks):
        allowed = sum(1 << m for m in range(k) if gate is None or gate.allowed[index, m])
        histogram = np.bincount(cohort_masks, minlength=1 << k)
        sums: dict[int, int] = {}  # whole units paid to a participant -> participants
        paid_here, achieved_here = 0, [0] * k
        for mask in (np.flatnonzero(histogram[1:]) + 1).tolist():  # participants with an outcome achieved
            count = int(histogram[mask])
            for m in range(k):
                achieved_here[m] += count * (mask >> m & 1)
            mask &= allowed
            if mask not in combinations:
                combinations[mask] = _combination(card, mask)
            combination = combinations[mask]
            outcomes += count * combination.outcomes
            groups += count * combination.groups
            paid += count * combination.paid
            if combination.paid:
                sums[combination.units] = sums.get(combination.units, 0) + count
                paid_here += count * combination.paid
        people.append(sums)
        paid_outcomes.append(paid_here)
        achieved.append(achieved_here)
    return _Paid(people, paid_outcomes, achieved, outcomes - groups, groups - paid)


def _paid_sorted(card: _Card, ids: np.ndarray, metric: np.ndarray, cohort: np.ndarray, achieved: np.ndarray,
                 n_cohorts: int, gate: _Gate | None) -> _Paid:
    """``_paid`` by sorting the achieved rows by participant, highest price first (ties in the card's order, then
    the rows' order): for any evidence, e.g. a participant whose rows name two cohorts (paid in the cohort of
    the highest-priced outcome paid).  Sums per participant in 64-bit integers when the largest sum possible
    provably fits in one (``_Card.dtype``), else in Python integers."""
    k = len(card.metrics)
    metric, cohort = metric.astype(np.int64), cohort.astype(np.int64)  # arithmetic below: no narrow type
    achieved = (metric < k) & (cohort < n_cohorts) & achieved
    keep = achieved  # what may be paid: every achieved outcome, unless the card pays only on significant effects
    if gate is not None:
        keep = achieved.copy()
        keep[achieved] = gate.allowed[cohort[achieved], metric[achieved]]
    code = metric[keep]
    person = ids[keep].astype(np.int64)
    cohort_code = cohort[keep]
    achieved_counts = np.bincount(cohort[achieved] * k + metric[achieved], minlength=n_cohorts * k)
    price_of = np.array(card.units, dtype=card.dtype(len(code)))
    rank = {u: i for i, u in enumerate(sorted(set(card.units)))}
    rank_of = np.array([rank[u] for u in card.units], dtype=np.int64)  # a price's order, without its size
    group_of = np.array(card.group_of, dtype=np.int64)
    n_groups = max(card.group_of, default=-1) + 1
    # Highest price first within each participant (ties by the card's order), then:
    order = np.lexsort((code, -rank_of[code], person))
    person, code, cohort_code = person[order], code[order], cohort_code[order]
    # ... of each exclusive group only the first (the highest-priced) ...
    group_key = person * n_groups + group_of[code]
    first = np.zeros(len(group_key), dtype=bool)
    first[np.unique(group_key, return_index=True)[1]] = True
    dropped_exclusive = int((~first).sum())
    person, code, cohort_code = person[first], code[first], cohort_code[first]
    # ... and at most ``most`` outcomes per participant.
    starts = np.r_[0, np.flatnonzero(np.diff(person)) + 1] if len(person) else np.array([], dtype=np.int64)
    within = (np.arange(len(person)) - np.repeat(starts, np.diff(np.r_[starts, len(person)]))) < card.most
    dropped_max = int((~within).sum())
    person, code, cohort_code = person[within], code[within], cohort_code[within]
    price = price_of[code]
    starts = np.r_[0, np.flatnonzero(np.diff(person)) + 1] if len(person) else np.array([], dtype=np.int64)
    per_person = np.add.reduceat(price, starts) if len(person) else np.array([], dtype=price_of.dtype)
    person_cohort = cohort_code[starts] if len(person) else np.array([], dtype=np.int64)
    return _Paid([_histogram(per_person[person_cohort == i]) for i in range(n_cohorts)],
                 [int((cohort_code == i).sum()) for i in range(n_cohorts)],
                 [[int(achieved_counts[i * k + j]) for j in range(k)] for i in range(n_cohorts)],
                 dropped_exclusive, dropped_max)


def _histogram(sums: np.ndarray) -> dict[int, int]:
    """Participants' sums (int64 or Python integers) as sum -> how many participants."""
    values, counts = np.unique(sums, return_counts=True)
    return dict(zip((int(v) for v in values), (int(c) for c in counts)))


@dataclass(frozen=True)
class _Gate:
    """Which outcomes a rate card paying on significance may pay, per cohort and metric, and why."""

    allowed: np.ndarray  # [cohort, metric] -> bool
    checks: list[list[dict[str, Any]]]  # per cohort: a trail message per metric
    paid: list[dict[str, bool]]  # per cohort: metric -> paid or not
    p_values: list[dict[str, Any]]  # per cohort: metric -> p-value (None: none)
    alpha: dict[str, str]  # metric -> its evaluation alpha


def _card_gate(mech: RateCard | Milestone, contract: Contract, evidence: Evidence, cohorts: list[str],
               metrics: list[str]) -> _Gate | None:
    """For ``pays_on: significant``: which (cohort, metric) outcomes may be paid, and why.

    An outcome is paid only where its metric's result for the cohort is a significant improvement: a p-value
    below the metric's evaluation alpha and an improvement above zero (a significant change for the worse pays
    nothing).  None when the mechanism pays on every verified outcome.
    """
    if mech.pays_on != "significant":
        return None
    allowed = np.zeros((len(cohorts), len(metrics)), dtype=bool)
    alphas = {m: contract.metric(m).evaluation.alpha for m in metrics}
    checks, passed, p_values = [], [], []
    for i, cohort in enumerate(cohorts):
        said, ok, ps = [], {}, {}
        for j, metric in enumerate(metrics):
            r = evidence.result(metric, cohort)
            improvement = _estimate(r.improvement) if r is not None else None
            p = r.p_value if r is not None and _estimate(r.p_value) is not None else None
            ps[metric] = p
            if improvement is None or p is None:
                said.append(P("card_metric_no_result", metric=metric).as_dict())
            elif _significant(r, alphas[metric]) and improvement > 0:
                allowed[i, j] = True
                said.append(P("card_metric_paid", metric=metric, improvement=str(improvement), p=p,
                              alpha=str(alphas[metric])).as_dict())
            else:
                said.append(P("card_metric_unpaid", metric=metric, improvement=str(improvement), p=p,
                              alpha=str(alphas[metric])).as_dict())
            ok[metric] = bool(allowed[i, j])
        checks.append(said)
        passed.append(ok)
        p_values.append(ps)
    return _Gate(allowed, checks, passed, p_values, {m: str(a) for m, a in alphas.items()})


def _estimate(value: Any) -> Decimal | None:
    """A statistical estimate as a six-decimal quantity; None if there is none or it is not a finite number."""
    if value is None:
        return None
    q = quantity(value)
    return q if q.is_finite() else None


def _significant(r: EffectResult, alpha: Decimal) -> bool:
    return r.p_value is not None and Decimal(str(r.p_value)) < alpha


def improvement_interval(r: EffectResult) -> tuple[Decimal, Decimal] | None:
    """The confidence interval of the improvement (the estimate signed so that positive is better), low end first:
    ``[ci_low, ci_high]`` for a metric where higher is better, ``[-ci_high, -ci_low]`` where lower is better."""
    low, high = _estimate(r.ci_low), _estimate(r.ci_high)
    if low is None or high is None:
        return None
    return (low, high) if r.direction == "higher_is_better" else (-high, -low)


@dataclass(frozen=True)
class _Reading:
    """What a mechanism's ``pays_on`` rule reads from one result."""

    improvement: Decimal  # per participant, the value paid on
    relative: Decimal | None  # relative improvement, as the rule reads it
    basis: dict[str, Any]  # the rule and the values it used, for the line's basis
    stop: dict[str, Any] | None  # the trail when the rule leaves nothing to pay on
    frame: Callable[[dict[str, Any]], dict[str, Any]]  # the trail -> the trail as the rule frames it


def _read(rule: str | None, r: EffectResult, alpha: Decimal) -> _Reading:
    """Read result ``r`` (which has a finite improvement) as ``rule`` says.

    - None (unset): the point estimate, as before the rule existed; nothing added to basis or trail;
    - ``point_estimate``: the same, named in the basis and the trail;
    - ``lower_bound``: the end of the confidence interval least favourable to payment (for an interval above zero,
      the end nearer zero), floored at zero; no interval, nothing to pay on;
    - ``significant``: the point estimate, but only if p < alpha (p equal to alpha is not significant).
    """
    point = _estimate(r.improvement) or ZERO
    relative = _estimate(r.relative_improvement)
    if rule is None:
        return _Reading(point, relative, {}, None, lambda trail: trail)
    basis: dict[str, Any] = {"pays_on": rule}
    if rule == "point_estimate":
        return _Reading(point, relative, basis | {"pays_on_value": str(point)}, None,
                        lambda trail: P("pays_on_point_estimate", trail=trail).as_dict())
    if rule == "significant":
        basis["alpha"] = str(alpha)
        p = r.p_value if _estimate(r.p_value) is not None else None
        if p is None:
            return _Reading(point, relative, basis, P("pays_on_no_p_value").as_dict(), lambda trail: trail)
        if not _significant(r, alpha):
            return _Reading(point, relative, basis, P("pays_on_not_significant", p=p, alpha=str(alpha)).as_dict(),
                            lambda trail: trail)
        return _Reading(point, relative, basis | {"pays_on_value": str(point)}, None,
                        lambda trail: P("pays_on_significant", p=p, alpha=str(alpha), trail=trail).as_dict())
    interval = improvement_interval(r)
    if interval is None:
        return _Reading(point, relative, basis, P("pays_on_no_interval").as_dict(), lambda trail: trail)
    bound = interval[0]
    used = max(ZERO, bound)
    if relative is not None:  # the bound's relative improvement, computed as the point estimate's is
        at_bound = r.ci_low if r.direction == "higher_is_better" else -r.ci_high
        relative = max(ZERO, _estimate(at_bound / abs(r.counterfactual_mean)) or ZERO)
    values = {"bound": str(bound), "low": str(interval[0]), "high": str(interval[1]), "point": str(point),
              "used": str(used)}
    basis |= {"pays_on_value": str(used), "improvement_interval": [values["low"], values["high"]],
              "point_improvement": str(point)}
    return _Reading(used, relative, basis, None,
                    lambda trail: P("pays_on_lower_bound", **values, trail=trail).as_dict())


def _bounded(amount: Decimal, mech_id: str, cohort: str, metric: str) -> Decimal:
    """An amount computed from an evaluation's estimate, refused if it is beyond the largest amount a contract may
    hold (``MAX_AMOUNT``): such an estimate is broken, and no payment may rest on it."""
    if amount > MAX_AMOUNT:
        raise AmountTooLarge(P("amount_too_large", mechanism=mech_id, cohort=cohort, metric=metric,
                               amount=f"{amount:.6E}", limit=str(MAX_AMOUNT)))
    return amount


def comparison_threshold(mech: ComparisonThreshold, contract: Contract, result: Results) -> list[Line]:
    """Peterborough: per cohort at ``cohort_threshold``; across cohorts at ``overall_threshold``.

    A payment is price per unit × improvement per participant × participants, the improvement read as
    ``pays_on`` says (``_read``).  The final, pooled payment is reduced by what the cohort payments already
    paid, so no improvement is paid twice.
    """
    alpha = contract.metric(mech.metric).evaluation.alpha
    lines: list[Line] = []

    def owed(r: EffectResult | None, threshold: Decimal, cohort: str) -> tuple[Decimal, dict[str, Any]]:
        if r is None or _estimate(r.relative_improvement) is None or _estimate(r.improvement) is None:
            return ZERO, {"triggered": False, "trail": P("no_estimate").as_dict()}
        reading = _read(mech.pays_on, r, alpha)
        relative, improvement = reading.relative or ZERO, reading.improvement
        basis: dict[str, Any] = {
            "relative_improvement": str(relative), "threshold": str(threshold),
            "improvement_per_participant": str(improvement), "participants": r.n_treated,
            "price_per_unit": str(mech.price_per_unit), "p_value": r.p_value, "triggered": False, **reading.basis,
        }
        if reading.stop is not None:
            return ZERO, basis | {"trail": reading.stop}
        against = {"relative": str(relative), "threshold": str(threshold)}
        if relative < threshold:
            return ZERO, basis | {"trail": reading.frame(P("threshold_below", **against).as_dict())}
        if mech.require_significance and not _significant(r, alpha):
            return ZERO, basis | {"trail": reading.frame(
                P("threshold_not_significant", **against, alpha=str(alpha)).as_dict())}
        amount = _bounded(product(mech.price_per_unit, improvement, r.n_treated), mech.id, cohort, mech.metric)
        return amount, basis | {"triggered": True, "trail": reading.frame(P(
            "threshold_reached", **against, price=str(mech.price_per_unit), improvement=str(improvement),
            participants=r.n_treated, amount=str(amount)).as_dict())}

    for cohort in _cohorts(contract):
        amount, basis = owed(result(mech.metric, cohort), mech.cohort_threshold, cohort)
        lines.append(Line(mech.id, cohort, amount, basis | {"metric": mech.metric}))
    if mech.overall_threshold is not None and len(lines) > 1:
        amount, basis = owed(result(mech.metric, POOLED), mech.overall_threshold, POOLED)
        paid_by_cohorts = sum((line.amount for line in lines), ZERO)
        final = max(ZERO, amount - paid_by_cohorts) if amount > 0 else ZERO
        trail = (P("all_cohorts_less", trail=basis["trail"], paid=str(paid_by_cohorts), final=str(final)) if amount > 0
                 else P("all_cohorts", trail=basis["trail"]))
        lines.append(Line(mech.id, POOLED, final, basis | {
            "metric": mech.metric, "pooled_amount": str(amount), "less_cohort_payments": str(paid_by_cohorts),
            "trail": trail.as_dict(),
        }))
    return lines


def savings_share(mech: SavingsShare, contract: Contract, result: Results) -> list[Line]:
    """Norrköping: verified savings repaid one-for-one up to ``repay_up_to``, then ``share_above`` of the rest.

    The improvement is read as ``pays_on`` says (``_read``); a negative one saves nothing."""
    r = result(mech.metric, POOLED)
    if r is None or _estimate(r.improvement) is None:
        return [Line(mech.id, POOLED, ZERO, {"metric": mech.metric, "trail": P("no_estimate").as_dict()})]
    reading = _read(mech.pays_on, r, contract.metric(mech.metric).evaluation.alpha)
    if reading.stop is not None:
        return [Line(mech.id, POOLED, ZERO, {"metric": mech.metric, "trail": reading.stop, **reading.basis})]
    improvement = max(ZERO, reading.improvement)
    savings = _bounded(product(improvement, r.n_treated, mech.unit_value), mech.id, POOLED, mech.metric)
    repaid = min(savings, mech.repay_up_to)
    above = product(max(ZERO, savings - mech.repay_up_to), mech.share_above)
    owed = exact_sum(repaid, above)
    return [Line(mech.id, POOLED, owed, {
        "metric": mech.metric,
        "trail": reading.frame(P(
            "savings", improvement=str(improvement), participants=r.n_treated, unit=str(mech.unit_value),
            savings=str(savings), repaid=str(repaid), upto=str(mech.repay_up_to), share=str(mech.share_above),
            above=str(max(ZERO, savings - mech.repay_up_to)), amount=str(owed)).as_dict()),
        "improvement_per_participant": str(improvement), "participants": r.n_treated,
        "unit_value": str(mech.unit_value), "savings": str(savings), "repay_up_to": str(mech.repay_up_to),
        "share_above": str(mech.share_above), **reading.basis,
    })]


def lines_for(contract: Contract, evidence: Evidence) -> list[Line]:
    """Every mechanism's lines, in the order the contract lists them."""
    lines: list[Line] = []
    for mech in contract.payments.mechanisms:
        if isinstance(mech, (RateCard, Milestone)):
            lines += per_outcome(mech, contract, evidence)
        elif isinstance(mech, ComparisonThreshold):
            lines += comparison_threshold(mech, contract, evidence.result)
        else:
            lines += savings_share(mech, contract, evidence.result)
    return lines
