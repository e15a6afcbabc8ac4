"""Small-cell suppression for what investors and payers see.

A count of people below the contract's threshold (default 5) is not shown,
nor any statistic computed from so few (a mean of three pupils is nearly
their answers).  Where cells add up to a shown total (cohorts to the pooled
figure, units to all answers), one suppressed cell could be worked out from
the others, so the smallest other cell is suppressed too (complementary
suppression).  Zero is shown: it tells nothing about anyone.
"""

from __future__ import annotations

from typing import Any

from language import N_

SUPPRESSED = None  # a suppressed cell is null in JSON, and the response says why
NOTE = N_("cells counting fewer than {k} people, and cells from which one could be worked out, are not shown")


def small(n: int | None, threshold: int) -> bool:
    return n is not None and 0 < n < threshold


def suppress_group(counts: dict[str, int], threshold: int) -> set[str]:
    """Keys of an additive group of counts to hide: the small ones, and one more if a single one is small."""
    hidden = {k for k, n in counts.items() if small(n, threshold)}
    if len(hidden) == 1:
        others = sorted((n, k) for k, n in counts.items() if k not in hidden and n > 0)
        if others:
            hidden.add(others[0][1])
    return hidden


RESULT_COUNTS = ("n_treated", "n_comparison", "n_achieved", "n_pending")
RESULT_STATISTICS = ("treated_mean", "counterfactual_mean", "estimate", "ci_low", "ci_high", "p_value",
                     "relative_effect", "improvement", "relative_improvement")


def suppress_results(results: list[dict[str, Any]], threshold: int) -> list[dict[str, Any]]:
    """Evaluation results as investors and payers may see them: counts and statistics of small groups hidden.

    The groups: for each metric, its cohorts add up to the pooled result; a subgroup's levels add up likewise.
    Diagnostics (balance tables, per-unit counts) are left out entirely: they describe individuals' data.
    """
    out = [dict(r, diagnostics={}) for r in results]
    groups: dict[tuple[str, str], dict[str, int]] = {}
    for i, r in enumerate(out):
        part = "subgroup" if r.get("subgroup") else "cohort"
        if r["cohort"] == "all" and not r.get("subgroup"):
            continue
        groups.setdefault((r["metric"], part), {})[str(i)] = r.get("n_treated") or 0
    hidden: set[int] = set()
    for counts in groups.values():
        hidden |= {int(k) for k in suppress_group(counts, threshold)}
    for i, r in enumerate(out):
        own_small = any(small(r.get(c), threshold) for c in ("n_treated", "n_comparison"))
        if i in hidden or own_small:
            for key in RESULT_COUNTS + RESULT_STATISTICS:
                if key in r:
                    r[key] = SUPPRESSED
            r["suppressed"] = True
        elif small(r.get("n_achieved"), threshold):
            r["n_achieved"] = SUPPRESSED
            r["suppressed"] = True
    return out


def suppress_basis(basis: dict[str, Any], threshold: int) -> dict[str, Any]:
    """A ledger entry's basis with its small counts of people hidden (amounts are what is owed: shown)."""
    out = dict(basis)
    if isinstance(out.get("achieved"), dict):
        hidden = suppress_group(out["achieved"], threshold)
        out["achieved"] = {k: (SUPPRESSED if k in hidden else v) for k, v in out["achieved"].items()}
    elif small(out.get("achieved"), threshold):
        out["achieved"] = SUPPRESSED
    for key in ("participants", "participants_paid", "outcomes_paid"):
        if small(out.get(key), threshold):
            out[key] = SUPPRESSED
    if any(v is SUPPRESSED for v in out.values()) or (isinstance(out.get("achieved"), dict)
                                                     and SUPPRESSED in out["achieved"].values()):
        out.pop("explanation", None)  # the trail spells the counts out
        out.pop("trail", None)
        for cap in out.get("caps", []):
            cap.pop("participants", None)
    if isinstance(out.get("evidence"), dict):
        out["evidence"] = suppress_evidence(out["evidence"], threshold)
    return out


def suppress_evidence(evidence: dict[str, Any], threshold: int) -> dict[str, Any]:
    """The evidence an entry rests on, without counts of people below the threshold (nor what derives them)."""
    results, hidden = [], False
    for r in evidence.get("results", []):
        r = dict(r)
        hidden = hidden or small(r.get("n"), threshold) or (bool(r.get("counted_by_missing_rule"))
                                                           and small(r.get("counted_by_missing_rule"), threshold))
        if small(r.get("n"), threshold):
            r.update({k: SUPPRESSED for k in ("n", "n_comparison", "estimate", "ci_low", "ci_high", "p_value")})
            r["counted_by_missing_rule"] = r["missing_rule_share"] = SUPPRESSED
        elif small(r.get("counted_by_missing_rule"), threshold) and r.get("counted_by_missing_rule"):
            r["counted_by_missing_rule"] = r["missing_rule_share"] = SUPPRESSED
        r["warnings"] = [w for w in r.get("warnings", []) if not (isinstance(w, dict) and w.get("params"))]
        results.append(r)
    flags = [{"code": f["code"], "params": {}} if hidden else f for f in evidence.get("flags", [])]
    return dict(evidence, results=results, flags=flags)
