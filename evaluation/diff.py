"""What changed between two evaluation runs: the inputs, the contract version, the method, the numbers.

A run records everything it depended on, so a difference in its results can
always be traced to a difference in what went in: the as-of date, the contract
version, the measurements and participants (by the data coverage stored with
each run), or the code.  The explanation is a list of messages (``language``),
rendered in the reader's language.
"""

from __future__ import annotations

from typing import Any

from evaluation.messages import TEXTS as W
from evaluation.run import EvaluationRun
from language import Message

COMPARED = ("n_treated", "n_comparison", "treated_mean", "counterfactual_mean", "estimate", "ci_low", "ci_high",
            "p_value", "n_achieved")


def _key(r: Any) -> tuple[str, str, str]:
    return (r.metric, r.cohort, r.subgroup or "")


def _stored(warnings: list[Any]) -> list[Any]:
    return [w.as_dict() if isinstance(w, Message) else w for w in warnings]


COUNTS = ("n_treated", "n_comparison", "n_achieved")


def diff_runs(a: EvaluationRun, b: EvaluationRun, reasons: dict[int, str] | None = None,
              threshold: int | None = None) -> dict[str, Any]:
    """A structured difference and the messages that explain it, from run ``a`` to run ``b``.

    ``threshold``: for investors and payers (whose runs come suppressed, ``api.privacy``): a value suppressed
    in either run is not paired, a count of people that changed by fewer than ``threshold`` is not shown (the
    few who came or went would be its difference), nor then the statistics of its row (a mean's change over one
    person is that person's value); coverage lines likewise."""
    explain: list[Message] = []
    if a.contract_id != b.contract_id:
        explain.append(W("diff_contracts", a=a.contract_id, b=b.contract_id))
    if a.as_of != b.as_of:
        explain.append(W("diff_as_of", a=a.as_of.isoformat(), b=b.as_of.isoformat()))
    if a.contract_version != b.contract_version:
        reason = (reasons or {}).get(b.contract_version)
        explain.append(W("diff_version_reason", a=a.contract_version, b=b.contract_version, reason=reason) if reason
                       else W("diff_version", a=a.contract_version, b=b.contract_version))
    if a.include_unverified != b.include_unverified:
        explain.append(W("diff_unverified_included" if b.include_unverified else "diff_unverified_excluded", run=b.id))
    if a.code_version != b.code_version:
        explain.append(W("diff_code", a=a.code_version, b=b.code_version))
    if a.inputs_fingerprint != b.inputs_fingerprint:
        explain.append(W("diff_inputs", a=a.inputs_fingerprint[:12], b=b.inputs_fingerprint[:12]))
        explain += _coverage_changes(a.coverage, b.coverage, threshold)

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
        if threshold is not None and changed:
            pairs = {f: (getattr(ra, f), getattr(rb, f)) for f in COMPARED}
            narrow = any(None in pairs[f] or _near(*pairs[f], threshold) for f in COUNTS if pairs[f] != (None, None))
            kept = {f: v for f, v in changed.items() if None not in v and not (narrow and f not in COUNTS)
                    and not (f in COUNTS and _near(*v, threshold))}
            if kept != changed:
                entry["suppressed"] = True
            changed = kept
        added = [w for w in rb.warnings if w not in ra.warnings]
        removed = [w for w in ra.warnings if w not in rb.warnings]
        if changed or added or removed or entry.get("suppressed"):
            entry.update(changed=changed, warnings_added=_stored(added), warnings_removed=_stored(removed))
            results.append(entry)
    if not explain and not results:
        explain.append(W("diff_nothing"))
    elif not explain:
        explain.append(W("diff_not_reproducible"))
    return {"from": a.id, "to": b.id, "explanation": [m.as_dict() for m in explain], "results": results}


def _near(x: Any, y: Any, threshold: int) -> bool:
    """Two counts too close to show both: they differ by fewer than the threshold (but differ)."""
    return x is not None and y is not None and 0 < abs(y - x) < threshold


def _coverage_changes(a: dict[str, Any], b: dict[str, Any], threshold: int | None = None) -> list[Message]:
    lines = _counted_changes(a, b)
    if threshold is not None:  # investors and payers: no small count and no change by fewer than the threshold
        lines = [m for m in lines if not any(isinstance(m.params.get(k), int) and (
            0 < abs(m.params[k]) < threshold) for k in ("a", "b", "delta"))]
    return lines or [W("diff_values_changed")]


def _counted_changes(a: dict[str, Any], b: dict[str, Any]) -> list[Message]:
    lines = []
    for arm in sorted(set(a.get("participants", {})) | set(b.get("participants", {}))):
        x, y = a.get("participants", {}).get(arm, 0), b.get("participants", {}).get(arm, 0)
        if x != y:
            lines.append(W("diff_participants", arm=arm, a=x, b=y, delta=y - x))
    x, y = a.get("measurements", 0), b.get("measurements", 0)
    if x != y:
        lines.append(W("diff_measurements", a=x, b=y, delta=y - x))
    for metric in sorted(set(a.get("by_metric", {})) | set(b.get("by_metric", {}))):
        x, y = a.get("by_metric", {}).get(metric, 0), b.get("by_metric", {}).get(metric, 0)
        if x != y:
            lines.append(W("diff_metric_measurements", metric=metric, a=x, b=y, delta=y - x))
    if a.get("verified_share") != b.get("verified_share") and a.get("verified_share") is not None \
            and b.get("verified_share") is not None:
        lines.append(W("diff_verified_share", a=a["verified_share"], b=b["verified_share"]))
    return lines
