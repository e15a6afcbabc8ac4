"""Design-time power: the smallest effect a cohort can show, and the cohort needed to show an effect.

Computed with statsmodels' power classes: for a proportion, Cohen's h on the
arcsine scale (normal approximation); for a mean, Cohen's d with the t
distribution.  ``one_sample`` compares a cohort with a contracted value
(fixed_baseline); ``two_sample`` with a comparison group of ``ratio`` times
its size (randomised, matched, historical).  A contract whose payment
threshold is smaller than what its cohorts can detect will pay or not pay on
noise: Norrköping had to extend its follow-up from 24 to 36 months; this is
how a contract sees that coming.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from statsmodels.stats.power import NormalIndPower, TTestIndPower, TTestPower

from evaluation.messages import TEXTS as W
from language import Message, MessageError

Kind = Literal["proportion", "mean"]
Layout = Literal["one_sample", "two_sample"]
Change = Literal["rise", "fall"]
# A metric's direction of improvement, as the change a proportion must make to improve.
CHANGE_FOR = {"higher_is_better": "rise", "lower_is_better": "fall"}


class PowerError(MessageError, ValueError):
    """Power cannot be computed for these numbers."""


@dataclass(frozen=True)
class PowerResult:
    kind: str
    layout: str
    n: int | None
    baseline: float
    sd: float | None
    alpha: float
    power: float
    effect: float | None  # absolute, in the outcome's unit
    ratio: float
    direction: str | None = None  # rise or fall: on the arcsine scale a proportion's detectable change depends on it

    @property
    def relative(self) -> float | None:
        return None if self.effect is None or not self.baseline else self.effect / self.baseline

    def as_dict(self) -> dict[str, object]:
        return {"kind": self.kind, "layout": self.layout, "n": self.n, "baseline": self.baseline, "sd": self.sd,
                "alpha": self.alpha, "power": self.power, "effect": self.effect, "relative_effect": self.relative,
                "ratio": self.ratio, "direction": self.direction}


def _check(kind: Kind, baseline: float, sd: float | None, alpha: float, power: float) -> None:
    if not 0 < alpha < 1 or not 0 < power < 1:
        raise PowerError(W("power_alpha"))
    if kind == "proportion" and not 0 < baseline < 1:
        raise PowerError(W("power_baseline_share", baseline=baseline))
    if kind == "mean" and (sd is None or sd <= 0):
        raise PowerError(W("power_needs_sd"))


def _h_to_proportion(baseline: float, h: float, direction: int) -> float | None:
    """The proportion that lies Cohen's h away from ``baseline`` (up or down); None beyond 0 or 1."""
    phi = 2 * math.asin(math.sqrt(baseline)) + direction * h
    if not 0.0 <= phi <= math.pi:
        return None
    return math.sin(phi / 2) ** 2


def _sign(direction: "Change | int | None") -> int:
    if direction in ("rise", 1):
        return 1
    if direction in ("fall", -1):
        return -1
    raise PowerError(W("power_direction", direction=str(direction)))


def _solver(layout: Layout, kind: Kind):  # -> statsmodels power object
    if kind == "proportion":
        return NormalIndPower()
    return TTestPower() if layout == "one_sample" else TTestIndPower()


def _size(layout: Layout, kind: Kind, effect_size: float, alpha: float, power: float, ratio: float) -> float:
    solver = _solver(layout, kind)
    if layout == "one_sample":
        if kind == "proportion":  # one proportion against a known value: like a two-sample test with an infinite arm
            return solver.solve_power(effect_size=effect_size, alpha=alpha, power=power, ratio=0.0)
        return solver.solve_power(effect_size=effect_size, alpha=alpha, power=power)
    return solver.solve_power(effect_size=effect_size, alpha=alpha, power=power, ratio=ratio)


def minimum_detectable_effect(kind: Kind, layout: Layout, n: int, baseline: float, sd: float | None = None,
                              alpha: float = 0.05, power: float = 0.8, ratio: float = 1.0,
                              direction: "Change | int | None" = None) -> PowerResult:
    """The smallest absolute effect that ``n`` participants detect with ``power`` at ``alpha`` (two-sided).

    For a proportion the answer depends on the ``direction`` of the change, ``rise`` or ``fall`` (Cohen's h is
    the same distance on the arcsine scale either way, which is a larger rise than fall below 0.5); it is
    required there.  A mean's is the same either way.
    """
    _check(kind, baseline, sd, alpha, power)
    sign = _sign(direction) if kind == "proportion" or direction is not None else None
    if n < 2:
        raise PowerError(W("power_n"))
    solver = _solver(layout, kind)
    if layout == "one_sample":
        size = (solver.solve_power(nobs1=n, alpha=alpha, power=power, ratio=0.0) if kind == "proportion"
                else solver.solve_power(nobs=n, alpha=alpha, power=power))
    else:
        size = solver.solve_power(nobs1=n, alpha=alpha, power=power, ratio=ratio)
    if kind == "proportion":
        reached = _h_to_proportion(baseline, float(size), sign)  # type: ignore[arg-type]
        if reached is None:
            raise PowerError(W(f"power_unreachable_{_change(sign)}", n=n, baseline=baseline))
        effect = abs(reached - baseline)
    else:
        effect = float(size) * float(sd)  # type: ignore[arg-type]
    return PowerResult(kind, layout, n, baseline, sd, alpha, power, effect, ratio, _change(sign))


def _change(sign: int | None) -> str | None:
    return None if sign is None else "rise" if sign > 0 else "fall"


def required_n(kind: Kind, layout: Layout, effect: float, baseline: float, sd: float | None = None,
               alpha: float = 0.05, power: float = 0.8, ratio: float = 1.0) -> PowerResult:
    """Participants (per group) needed to detect an absolute ``effect``."""
    _check(kind, baseline, sd, alpha, power)
    if effect == 0:
        raise PowerError(W("power_zero_effect"))
    if kind == "proportion":
        target = baseline + effect
        if not 0 < target < 1:
            raise PowerError(W("power_not_a_share", baseline=baseline, effect=effect))
        size = abs(2 * math.asin(math.sqrt(target)) - 2 * math.asin(math.sqrt(baseline)))
    else:
        size = abs(effect) / float(sd)  # type: ignore[arg-type]
    n = _size(layout, kind, size, alpha, power, ratio)
    return PowerResult(kind, layout, int(math.ceil(n)), baseline, sd, alpha, power, effect, ratio,
                       _change(1 if effect > 0 else -1))


def contract_power_warnings(contract) -> list[tuple[tuple, Message]]:  # contract: contracts.model.Contract
    """(location, message) for each payment threshold or target smaller than the planned cohorts can detect."""
    from contracts.model import ComparisonThreshold

    findings: list[tuple[tuple, Message]] = []
    sizes = [c.target_size for c in contract.cohorts]
    if contract.payments is None:  # an evaluation-only contract: no threshold to check
        return findings
    for i, mech in enumerate(contract.payments.mechanisms):
        metric = next((m for m in contract.metrics if m.id == mech.metrics[0]), None) if mech.metrics else None
        if metric is None or metric.evaluation.design in ("monitoring",):
            continue
        loc = ("payments", "mechanisms", i)
        ev = metric.evaluation
        kind: Kind = "proportion" if metric.kind == "binary" else "mean"  # a rate per person varies less than p(1-p)
        mean = ev.planning_mean if ev.planning_mean is not None else ev.baseline
        sd = float(ev.planning_sd) if ev.planning_sd is not None else None
        if not isinstance(mech, ComparisonThreshold) and metric.target is None:
            continue
        if mean is None or (kind == "mean" and sd is None) or not all(sizes):
            findings.append((loc, W("power_unchecked_sd" if kind == "mean" else "power_unchecked", metric=metric.id)))
            continue
        layout: Layout = "one_sample" if ev.design == "fixed_baseline" else "two_sample"
        ratio = float(ev.neighbours) if ev.design == "matched_comparison" else 1.0
        alpha = float(ev.alpha)
        checks: list[tuple[tuple, Message, float, int]] = []
        if isinstance(mech, ComparisonThreshold):
            checks.append((loc + ("cohort_threshold",), W("power_what_cohort"), float(mech.cohort_threshold) * float(mean),
                           min(sizes)))  # type: ignore[type-var]
            if mech.overall_threshold is not None:
                checks.append((loc + ("overall_threshold",), W("power_what_overall"),
                               float(mech.overall_threshold) * float(mean), sum(sizes)))  # type: ignore[arg-type]
        else:
            checks.append((loc + ("metric",), W("power_what_target", metric=metric.id), abs(float(metric.target) - float(mean)),
                           min(sizes)))  # type: ignore[type-var]
        for where, what, effect, n in checks:
            try:
                mde = minimum_detectable_effect(kind, layout, int(n), float(mean), sd, alpha, 0.8, ratio,
                                                CHANGE_FOR[metric.direction]).effect
            except PowerError as exc:
                findings.append((where, W("power_cannot", what=what.as_dict(), reason=exc.message.as_dict())))
                continue
            if mde is not None and effect < mde:
                findings.append((where, W("power_too_small", what=what.as_dict(), effect=effect, mean=float(mean), n=n,
                                          mde=mde, alpha=alpha)))
    return findings
