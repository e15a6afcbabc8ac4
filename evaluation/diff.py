"""What changed between two evaluation runs: the inputs, the contract version, the method, the numbers.

A run records everything it depended on, so a difference in its results can
always be traced to a difference in what went in: the as-of date, the contract
version, the measurements and participants (by the data coverage stored with
each run), or the code.
"""

from __future__ import annotations

from typing import Any

from evaluation.run import EvaluationRun

COMPARED = ("n_treated", "n_comparison", "treated_mean", "counterfactual_mean", "estimate", "ci_low", "ci_high",
            "p_value", "n_achieved")


def _key(r: Any) -> tuple[str, str, str]:
    return (r.metric, r.cohort, r.subgroup or "")


def _change(label: str, a: Any, b: Any) -> str:
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool):
        delta = b - a
        sign = "+" if delta >= 0 else "−"
        return f"{label} {a:,} → {b:,} ({sign}{abs(delta):,})" if isinstance(a, int) and isinstance(b, int) \
            else f"{label} {a:.6g} → {b:.6g}"
    return f"{label} {a} → {b}"


def diff_runs(a: EvaluationRun, b: EvaluationRun, reasons: dict[int, str] | None = None) -> dict[str, Any]:
    """A structured difference and the sentences that explain it, from run ``a`` to run ``b``."""
    explain: list[str] = []
    if a.contract_id != b.contract_id:
        explain.append(f"different contracts: {a.contract_id} and {b.contract_id}")
    if a.as_of != b.as_of:
        explain.append(f"as-of date {a.as_of} → {b.as_of}")
    if a.contract_version != b.contract_version:
        reason = (reasons or {}).get(b.contract_version)
        explain.append(f"contract version {a.contract_version} → {b.contract_version}" + (f" ({reason})" if reason else ""))
    if a.include_unverified != b.include_unverified:
        explain.append(f"unverified measurements {'included' if b.include_unverified else 'excluded'} in run {b.id}")
    if a.code_version != b.code_version:
        explain.append(f"method: code version {a.code_version} → {b.code_version}")
    inputs_changed = a.inputs_fingerprint != b.inputs_fingerprint
    if inputs_changed:
        explain.append("inputs changed (fingerprint " f"{a.inputs_fingerprint[:12]} → {b.inputs_fingerprint[:12]})")
        explain += _coverage_changes(a.coverage, b.coverage)

    left, right = {_key(r): r for r in a.results}, {_key(r): r for r in b.results}
    results = []
    for key in sorted(set(left) | set(right)):
        ra, rb = left.get(key), right.get(key)
        entry: dict[str, Any] = {"metric": key[0], "cohort": key[1], "subgroup": key[2] or None}
        if ra is None or rb is None:
            entry["only_in"] = b.id if ra is None else a.id
            results.append(entry)
            continue
        changed = {f: [getattr(ra, f), getattr(rb, f)] for f in COMPARED if getattr(ra, f) != getattr(rb, f)}
        added = [w for w in rb.warnings if w not in ra.warnings]
        removed = [w for w in ra.warnings if w not in rb.warnings]
        if changed or added or removed:
            entry.update(changed=changed, warnings_added=added, warnings_removed=removed)
            results.append(entry)
    if not explain and not results:
        explain.append("nothing: same inputs, contract version, parameters and code, and every number equal")
    elif not explain:
        explain.append("same inputs, version and code, yet different numbers: the computation is not reproducible")
    return {"from": a.id, "to": b.id, "explanation": explain, "results": results}


def _coverage_changes(a: dict[str, Any], b: dict[str, Any]) -> list[str]:
    lines = []
    for arm in sorted(set(a.get("participants", {})) | set(b.get("participants", {}))):
        x, y = a.get("participants", {}).get(arm, 0), b.get("participants", {}).get(arm, 0)
        if x != y:
            lines.append(_change(f"participants ({arm})", x, y))
    if a.get("measurements") != b.get("measurements"):
        lines.append(_change("measurements", a.get("measurements", 0), b.get("measurements", 0)))
    for metric in sorted(set(a.get("by_metric", {})) | set(b.get("by_metric", {}))):
        x, y = a.get("by_metric", {}).get(metric, 0), b.get("by_metric", {}).get(metric, 0)
        if x != y:
            lines.append(_change(f"  of which {metric}", x, y))
    if a.get("verified_share") != b.get("verified_share") and a.get("verified_share") is not None \
            and b.get("verified_share") is not None:
        lines.append(f"verified share {a['verified_share']:.1%} → {b['verified_share']:.1%}")
    if len(lines) == 0:
        lines.append("the same counts of participants and measurements: values or dates of measurements changed")
    return lines
