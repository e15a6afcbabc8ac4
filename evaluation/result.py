"""The result of one evaluation: estimate, uncertainty, diagnostics and warnings together.

Like a statsmodels results object, an ``EffectResult`` carries everything a
reader needs to judge the number, so that no report can show an estimate
without its interval and its warnings.  A design without a counterfactual
yields a result with ``is_effect`` false and no estimate: monitoring, never
an "effect".
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

from language import Message

POOLED = "all"


@dataclass
class EffectResult:
    metric: str
    cohort: str  # a cohort id, or "all" for the pooled result
    design: str
    direction: str
    n_treated: int
    n_comparison: int = 0
    treated_mean: float | None = None
    counterfactual_mean: float | None = None
    estimate: float | None = None  # treated mean minus counterfactual mean
    ci_low: float | None = None
    ci_high: float | None = None
    p_value: float | None = None
    se: float | None = None  # the estimate's standard error
    se_kind: Message | None = None  # which standard error: a code (evaluation.se_*) and its parameters, e.g. clusters
    relative_effect: float | None = None  # estimate / counterfactual mean
    n_achieved: int | None = None  # participants whose outcome counts as achieved
    n_pending: int = 0  # participants whose outcome window has not closed
    is_effect: bool = True
    subgroup: str | None = None  # e.g. "age 65–75": a subgroup of the pooled result
    warnings: list[Message | str] = field(default_factory=list)  # str: text stored before messages had codes
    diagnostics: dict[str, Any] = field(default_factory=dict)

    @property
    def improvement(self) -> float | None:
        """The estimate signed so that positive is better, whatever the metric's direction."""
        if self.estimate is None:
            return None
        return self.estimate if self.direction == "higher_is_better" else -self.estimate

    @property
    def relative_improvement(self) -> float | None:
        if self.improvement is None or not self.counterfactual_mean:
            return None
        return self.improvement / abs(self.counterfactual_mean)

    def finish(self) -> "EffectResult":
        """Fill the derived fields once the estimate is known."""
        if self.estimate is not None and self.counterfactual_mean:
            self.relative_effect = self.estimate / self.counterfactual_mean
        return self

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["improvement"] = self.improvement
        out["relative_improvement"] = self.relative_improvement
        return _clean(out)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "EffectResult":
        fields = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        fields["warnings"] = [Message.load(w) for w in fields.get("warnings") or []]
        if fields.get("se_kind") is not None:
            fields["se_kind"] = Message.load(fields["se_kind"])
        return cls(**fields)


def _clean(value: Any) -> Any:
    """JSON-safe: numpy scalars to Python, NaN and infinity to None, floats to 12 significant digits."""
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        value = value.item()
    if isinstance(value, float):
        if not math.isfinite(value):
            return None
        return float(f"{value:.12g}")
    return value
