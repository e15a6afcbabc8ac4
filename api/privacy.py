"""Small-cell suppression for what investors and payers see: one mechanism over every aggregate output.

Every count of people shown to an investor or a payer (API JSON, web pages, PDF reports, XLSX/CSV exports,
the run diff, ledger bases and the evidence an entry rests on) passes through this module; the intermediary
(the data controller's evaluator) sees everything.

- Primary suppression: a count ``0 < n < threshold`` (default 5, never below 3) is not shown, nor any
  statistic computed from so few (a mean of three pupils is nearly their answers).  Zero is shown.
- Complementary suppression, per additive group: a metric's cohorts add up to the pooled row, and *each
  subgroup variable's* levels add up to it separately (with the people the variable does not place as an
  unshown remainder).  In every group the hidden cells are at least two, and together count at least the
  threshold and at least one more than there are of them, so that neither a difference from the total nor
  "a hidden cell counts at least one" pins any of them down.  Each hidden cell lies in exactly one group, so
  no combination of groups (cohorts against subgroups, one variable against another) recovers it.
- Counts inside a result travel together: where the number achieved is hidden, so is every mean and
  estimate of the row (a share achieved times its n is the count); warnings that carry a count are dropped
  where that count is small or where anything in the row is hidden, and are suppressed as cells of their
  own (a warning's count across cohorts adds up like any other).
- Across runs (the diff): a count suppressed in either run, or that changed by fewer than the threshold, is
  not shown as a pair or a difference, and then neither are the row's statistics.
- Amounts (``suppress_bases``): a payer must see what it owes and why: each entry's amount (what is paid),
  its mechanism, cohort, period, the payer's share, the evidence flags.  Where a mechanism's counts are
  suppressed in any cohort, the counts of *all* its cohorts are hidden (so no cohort can be worked out
  from the evaluation's pooled figures), and with them everything a count can be recovered from: line
  amounts, prices, gross sums, cap reductions, savings and the calculation in words.  The entry's amount
  itself stays: it is what is owed.  For a per-outcome price the amount divided by the contract's price is
  the number of outcomes paid; that is what the payer, a party to the contract, pays for and may audit, and
  is documented in docs/payments.md.  Nothing here adds to it.
"""

from __future__ import annotations

from typing import Any, Callable, Iterable

from language import N_

SUPPRESSED = None  # a suppressed cell is null in JSON, and the response says why
NOTE = N_("cells counting fewer than {k} people, and cells from which one could be worked out, are not shown")


# The cell rules live with the estimators that produce counts (evaluation.suppression); shown here too.
from evaluation.suppression import protected, small, suppress_group  # noqa: E402,F401


RESULT_COUNTS = ("n_treated", "n_comparison", "n_achieved", "n_pending")
RESULT_STATISTICS = ("treated_mean", "counterfactual_mean", "estimate", "ci_low", "ci_high", "p_value",
                     "relative_effect", "improvement", "relative_improvement", "se")
POOLED = "all"


def variable(row: dict[str, Any]) -> str | None:
    """The subgroup variable of a result (``"region south"`` → ``"region"``), or None for a cohort or pooled row."""
    return str(row["subgroup"]).split(" ", 1)[0] if row.get("subgroup") else None


def hidden_cells(rows: list[dict[str, Any]], value: Callable[[dict[str, Any]], int | None], threshold: int,
                 hidden: Iterable[int] = ()) -> set[int]:
    """Indexes of one metric's ``rows`` whose ``value`` is hidden: primary, then complementary in each additive
    group (the cohorts; each subgroup variable's levels); all of them if the pooled value is small or a group
    cannot be protected while its total shows."""
    pooled = next((i for i, r in enumerate(rows) if r["cohort"] == POOLED and not r.get("subgroup")), None)
    total = value(rows[pooled]) if pooled is not None else None
    if small(total, threshold):
        return set(range(len(rows)))
    out = set(hidden) | {i for i, r in enumerate(rows) if small(value(r), threshold)}
    groups: dict[str | None, list[int]] = {}
    for i, r in enumerate(rows):
        if i != pooled:
            groups.setdefault(variable(r), []).append(i)
    for cells in groups.values():
        counts = {i: value(rows[i]) or 0 for i in cells}
        rest = max(0, (total or 0) - sum(counts.values())) if total is not None else 0
        out |= suppress_group(counts, threshold, out & set(cells), rest)
        if not protected([counts[i] for i in out & set(cells)], threshold, rest):
            return set(range(len(rows)))  # e.g. 1 + 1 + 1 = 3: only hiding the total protects them
    return out


def _count_warnings(r: dict[str, Any]) -> dict[str, int]:
    """The warnings of a result that count people: code → n."""
    found = {}
    for w in r.get("warnings") or []:
        n = (w.get("params") or {}).get("n") if isinstance(w, dict) else None
        if isinstance(n, int) and not isinstance(n, bool):
            found[str(w.get("code"))] = n
    return found


def suppress_results(results: list[dict[str, Any]], threshold: int) -> list[dict[str, Any]]:
    """Evaluation results as investors and payers may see them: counts and statistics of small groups hidden.

    Per metric, the additive groups are its cohorts (adding up to the pooled result) and each subgroup
    variable's levels (adding up to it separately).  A row hidden for its treated or comparison count shows
    no count nor statistic; a hidden number achieved hides the row's statistics too (a share times its n is
    the count); a hidden number pending hides only itself.  Diagnostics (balance tables, per-unit counts) are
    left out entirely: they describe individuals' data.  Warnings carrying a count are dropped where hidden.
    """
    out = [dict(r, diagnostics={}) for r in results]
    by_metric: dict[str, list[int]] = {}
    for i, r in enumerate(results):
        by_metric.setdefault(str(r.get("metric")), []).append(i)
    for indexes in by_metric.values():
        rows = [results[i] for i in indexes]
        whole = hidden_cells(rows, lambda r: r.get("n_treated"), threshold,
                             {j for j, r in enumerate(rows) if small(r.get("n_comparison"), threshold)})
        achieved = hidden_cells(rows, lambda r: r.get("n_achieved"), threshold, whole | {
            j for j, r in enumerate(rows) if r.get("n_achieved") is not None and r.get("n_treated") is not None
            and small(r["n_treated"] - r["n_achieved"], threshold)})
        pending = hidden_cells(rows, lambda r: r.get("n_pending"), threshold, whole)
        codes = {code for r in rows for code in _count_warnings(r)}
        dropped = {code: hidden_cells(rows, lambda r, c=code: _count_warnings(r).get(c, 0), threshold, whole)
                   for code in codes}
        for j, i in enumerate(indexes):
            r = out[i]
            keys = (RESULT_COUNTS + RESULT_STATISTICS if j in whole else
                    ("n_achieved",) + RESULT_STATISTICS if j in achieved and r.get("n_achieved") is not None else ())
            keys += ("n_pending",) if j in pending and r.get("n_pending") else ()
            for key in keys:
                if key in r:
                    r[key] = SUPPRESSED
            if "se" in keys and isinstance(r.get("se_kind"), dict) and r["se_kind"].get("params"):
                r["se_kind"] = SUPPRESSED  # its parameters (e.g. the number of clusters) are counts too
            anything = bool(keys)
            r["warnings"] = [w for w in r.get("warnings") or [] if not (
                isinstance(w, dict) and "n" in (w.get("params") or {})
                and (anything or j in dropped.get(str(w.get("code")), ())))]
            if anything:
                r["suppressed"] = True
    return out


BASIS_SHOWN = frozenset({"metric", "metrics", "pays_on", "payer_share", "evaluation_run", "triggered", "alpha",
                         "threshold", "settlement", "evidence", "suppressed"})  # what a hidden basis keeps
BASIS_COUNTS = ("achieved", "participants", "participants_paid", "outcomes_paid")


def _basis_counts(basis: dict[str, Any]) -> list[Any]:
    found: list[Any] = []
    for key in BASIS_COUNTS:
        value = basis.get(key)
        found += list(value.values()) if isinstance(value, dict) else [value]
    found += [c.get("participants") for c in basis.get("caps") or [] if isinstance(c, dict)]
    found += list((basis.get("not_paid") or {}).values()) if isinstance(basis.get("not_paid"), dict) else []
    return [n for n in found if isinstance(n, int) and not isinstance(n, bool)]


def result_pattern(results: list[dict[str, Any]], threshold: int) -> set[tuple[str, str]]:
    """(metric, cohort) of the cohort and pooled results whose counts investors and payers do not see."""
    return {(str(r["metric"]), str(r["cohort"])) for r in suppress_results(results, threshold)
            if not r.get("subgroup") and r.get("suppressed")}


def suppress_bases(entries: list[dict[str, Any]], threshold: int,
                   results: Callable[[int], list[dict[str, Any]] | None] | None = None) -> list[dict[str, Any]]:
    """The bases of ledger ``entries`` (each with ``mechanism``, ``cohort`` and ``basis``, its ``evidence`` in it
    where shown) as payers may see them.  ``results``: a run's results by its id, so that an entry hides what the
    evaluation hides (the same cells, whichever output they are read from).

    Where any cohort of a mechanism has a hidden count (small, or hidden in its run's results), the counts of
    all the mechanism's entries are hidden, and with them every amount but the entry's own (``BASIS_SHOWN``)."""
    patterns: dict[int, set[tuple[str, str]]] = {}

    def pattern(run: Any) -> set[tuple[str, str]]:
        if results is None or not isinstance(run, int):
            return set()
        if run not in patterns:
            patterns[run] = result_pattern(results(run) or [], threshold)
        return patterns[run]

    def metrics(basis: dict[str, Any]) -> list[str]:
        return [str(m) for m in basis.get("metrics") or ([basis["metric"]] if basis.get("metric") else [])]

    def exposed(e: dict[str, Any]) -> bool:
        basis = e.get("basis") or {}
        cohort = str(e.get("cohort") or POOLED)
        run = basis.get("evaluation_run", e.get("evaluation_run_id"))
        return (any(small(n, threshold) for n in _basis_counts(basis))
                or any((m, cohort) in pattern(run) for m in metrics(basis))
                or any(small(r.get("n"), threshold) or small(r.get("counted_by_missing_rule"), threshold)
                       for r in (basis.get("evidence") or {}).get("results", [])))

    hiding = {str(e.get("mechanism")) for e in entries if exposed(e)}
    out = []
    for e in entries:
        basis = dict(e.get("basis") or {})
        run = basis.get("evaluation_run", e.get("evaluation_run_id"))
        if str(e.get("mechanism")) in hiding:
            basis = {k: v for k, v in basis.items() if k in BASIS_SHOWN}
            basis.update({k: SUPPRESSED for k in BASIS_COUNTS if k in (e.get("basis") or {})})
            basis["suppressed"] = True
        if isinstance(basis.get("evidence"), dict):
            basis["evidence"] = suppress_evidence(basis["evidence"], threshold, pattern(run))
        out.append(basis)
    return out


def run_results(engine: Any) -> Callable[[int], list[dict[str, Any]] | None]:
    """A run's results by its id, from the store (for ``suppress_bases``)."""
    from evaluation.errors import UnknownRun
    from evaluation.run import get_run_by_id

    def load(run_id: int) -> list[dict[str, Any]] | None:
        try:
            return [r.to_dict() for r in get_run_by_id(engine, run_id).results]
        except UnknownRun:
            return None
    return load


def suppress_basis(basis: dict[str, Any], threshold: int) -> dict[str, Any]:
    """One ledger entry's basis with its small counts hidden (``suppress_bases`` for a ledger: it hides the
    counts of all the cohorts of a mechanism where one is small, which one basis alone cannot)."""
    return suppress_bases([{"mechanism": None, "cohort": None, "basis": basis}], threshold)[0]


def suppress_evidence(evidence: dict[str, Any], threshold: int,
                      hidden: set[tuple[str, str]] = frozenset()) -> dict[str, Any]:  # type: ignore[assignment]
    """The evidence an entry rests on, without counts of people below the threshold, nor those the evaluation
    hides (``hidden``: (metric, cohort)), nor what derives them; flags then lose their numbers."""
    results, any_hidden = [], False
    for r in evidence.get("results", []):
        r = dict(r)
        whole = small(r.get("n"), threshold) or (str(r.get("metric")), str(r.get("cohort"))) in hidden
        by_rule = small(r.get("counted_by_missing_rule"), threshold) or small(
            (r.get("n") or 0) - (r.get("counted_by_missing_rule") or 0) if r.get("counted_by_missing_rule") else 0,
            threshold)
        if whole:
            # the sensitivity figures (E-value, Γ) are functions of the estimate: hidden with it
            r.update({k: SUPPRESSED for k in ("n", "n_comparison", "estimate", "ci_low", "ci_high", "p_value", "se",
                                              "sensitivity")})
        if whole or by_rule:
            r["counted_by_missing_rule"] = r["missing_rule_share"] = SUPPRESSED
        any_hidden = any_hidden or whole or by_rule
        r["warnings"] = [w for w in r.get("warnings", []) if not (isinstance(w, dict) and w.get("params"))]
        r["flags"] = [{"code": f["code"], "params": {}} if (whole or by_rule) and isinstance(f, dict) else f
                      for f in r.get("flags", [])]
        results.append(r)
    flags = [{"code": f["code"], "params": {}} if any_hidden else f for f in evidence.get("flags", [])]
    return dict(evidence, results=results, flags=flags)
