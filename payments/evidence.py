"""The evidence an amount rests on, summarised for the person who approves it, and the flags that need a reason.

Every ledger entry is paid on one or more evaluation results (its mechanism's metrics, for its cohort).
The summary keeps, per result, what a finance committee asks before it signs: the design, the estimate,
its 95 % interval and p-value, n, its sensitivity to hidden bias (E-value, Rosenbaum's Γ), the share of participants whose outcome the missing-data rule supplied
(rather than data), and the result's warnings.  An entry is *flagged* when any result it rests on

- ``no_counterfactual``: comes from a design without a comparison (monitoring): no effect is measured;
- ``ci_includes_zero``: has an interval that includes zero: the effect is not distinguishable from none;
- ``wrong_sign``: goes the wrong way (the metric got worse against its counterfactual);
- ``missing_rule_share``: counts more than the contract's share (default 20 %) by the missing-data rule;
- ``no_result``: is missing from the run.

Approving a flagged entry takes an explicit acknowledgement of each flag with a written reason
(``payments.ledger.take_step``).  New entries carry their summary in the basis (``basis["evidence"]``,
covered by the hash chain); for entries written before, it is computed from their evaluation run, which
is immutable, so it is the same summary.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from contracts.model import Contract, RateCard
from evaluation.result import POOLED, EffectResult
from evaluation.sensitivity import summary as sensitivity_summary
from payments.messages import TEXTS as P

FLAGS = ("no_counterfactual", "ci_includes_zero", "wrong_sign", "missing_rule_share", "no_result")


def mechanism_metrics(contract: Contract, mechanism_id: str) -> list[str]:
    mech = next((m for m in contract.payments.mechanisms if m.id == mechanism_id), None)
    if mech is None:
        return []
    return list(mech.metrics) if isinstance(mech, RateCard) else [mech.metric]


def summarise(result: EffectResult, limit: Decimal) -> dict[str, Any]:
    """One result as the approver sees it, with its flags."""
    n = result.n_treated or 0
    by_rule = result.diagnostics.get("counted_by_missing_rule")
    share = (Decimal(by_rule) / Decimal(n)).quantize(Decimal("0.0001")) if by_rule is not None and n else None
    flags: list[dict[str, Any]] = []
    where = {"metric": result.metric, "cohort": result.cohort}
    if not result.is_effect or result.estimate is None:
        flags.append(P("flag_no_counterfactual", **where, design=result.design).as_dict())
    else:
        if result.ci_low is not None and result.ci_high is not None and result.ci_low <= 0 <= result.ci_high:
            flags.append(P("flag_ci_includes_zero", **where, low=result.ci_low, high=result.ci_high).as_dict())
        if result.improvement is not None and result.improvement < 0:
            flags.append(P("flag_wrong_sign", **where, estimate=result.estimate).as_dict())
    if share is not None and share > limit:
        flags.append(P("flag_missing_rule_share", metric=result.metric, n=by_rule, total=n, share=str(share),
                       limit=str(limit)).as_dict())
    return {
        "metric": result.metric, "cohort": result.cohort, "design": result.design, "is_effect": result.is_effect,
        "estimate": result.estimate, "ci_low": result.ci_low, "ci_high": result.ci_high, "p_value": result.p_value,
        "n": n, "n_comparison": result.n_comparison, "counted_by_missing_rule": by_rule,
        "missing_rule_share": None if share is None else str(share),
        "warnings": [w.as_dict() if hasattr(w, "as_dict") else w for w in result.warnings],
        # How strong hidden bias would have to be to explain the effect away: E-value, Rosenbaum's Γ*.
        "sensitivity": sensitivity_summary(result),
        "flags": flags,
    }


def evidence(contract: Contract, results: list[EffectResult], run_id: int, mechanism_id: str,
             cohort: str | None) -> dict[str, Any]:
    """The results one entry (a mechanism and cohort) rests on, and its flags (codes and their messages)."""
    limit = contract.payments.approving.missing_rule_share
    found = {(r.metric, r.cohort): r for r in results if r.subgroup is None}
    summaries, messages = [], []
    for metric in mechanism_metrics(contract, mechanism_id):
        result = found.get((metric, cohort or POOLED))
        if result is None:
            messages.append(P("flag_no_result", metric=metric, cohort=cohort or POOLED, run=run_id).as_dict())
            continue
        summary = summarise(result, limit)
        summaries.append(summary)
        messages += summary["flags"]
    return {"run": run_id, "results": summaries, "flags": messages,
            "flag_codes": sorted({flag_code(m) for m in messages})}


def flag_code(message: dict[str, Any]) -> str:
    """A flag's code (``ci_includes_zero``) from its stored message (``payments.flag_ci_includes_zero``)."""
    return str(message["code"]).split(".flag_", 1)[-1]


def codes(entry_evidence: dict[str, Any] | None) -> list[str]:
    return list((entry_evidence or {}).get("flag_codes") or [])


def entries_evidence(engine: Any, contract: Contract, entries: list[dict[str, Any]]) -> dict[int, dict[str, Any]]:
    """Each entry's evidence: as stored in its basis, or (entries written before) from its evaluation run."""
    from evaluation.run import get_run_by_id

    out: dict[int, dict[str, Any]] = {}
    runs: dict[int, Any] = {}
    for entry in entries:
        stored = (entry.get("basis") or {}).get("evidence")
        if stored is not None:
            out[entry["seq"]] = stored
            continue
        run_id = entry["evaluation_run_id"]
        if run_id not in runs:
            runs[run_id] = get_run_by_id(engine, run_id)
        out[entry["seq"]] = evidence(contract, runs[run_id].results, run_id, entry["mechanism"], entry["cohort"])
    return out
