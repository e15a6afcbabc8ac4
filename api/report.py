"""The independent evaluation report: gathered from the store, rendered from a template.

``build_report`` collects everything the report states (terms, coverage,
results, the payment trail, the reproducibility block) into one plain
dictionary; ``write_report`` renders it to HTML with Jinja2 and, for PDF, with
weasyprint.  Nothing in the template computes: it only shows.
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import jinja2
from sqlalchemy.engine import Engine

from api import formatting as fmt
from contracts.instruments import INSTRUMENTS
from contracts.registry import get_contract
from evaluation.result import POOLED
from evaluation.run import get_run, run_outcomes
from payments.calculate import owed_to_date, payable_period
from payments.ledger import current_status, read_ledger, verify_chain
from payments.money import ZERO
from payments.returns import investor_result
from store.version import code_version

TEMPLATES = Path(__file__).parent / "templates"


class ReportError(Exception):
    pass


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True, undefined=jinja2.StrictUndefined)
    env.filters.update(money=fmt.money, number=fmt.number, percent=fmt.percent, p_value=fmt.p_value)
    return env


DESIGN_TEXT = {
    "monitoring": "Monitoring: the cohort's mean with its confidence interval. There is no counterfactual, "
                  "so the figure describes the participants and is never reported as an effect.",
    "fixed_baseline": "Fixed baseline: the cohort's mean against the reference value written into the contract. "
                      "Proportions use an exact binomial test with a Wilson interval; other outcomes a one-sample t-test. "
                      "The baseline is an assumption of the contract, not an observed comparison group.",
    "pre_post": "Pre-post: the same participants after against before (paired t-test). The change also contains "
                "whatever else changed over the period.",
    "historical_cohort": "Historical cohort: the cohort against an earlier cohort (Welch's two-sample t-test).",
    "randomised": "Randomised: treatment arm against control arm (Welch's two-sample t-test); with covariates, the "
                  "treatment coefficient of an OLS regression on them, with HC2 standard errors (Lin, 2013).",
    "difference_in_differences": "Difference-in-differences: treated and comparison units over periods counted from "
                                 "each unit's start; two-way fixed effects (unit and period) by OLS on within-unit "
                                 "deviations, standard errors clustered by unit; an event study tests that treated and "
                                 "comparison units moved in parallel before the start.",
    "matched_comparison": "Matched comparison: a propensity score (logistic regression) on the contract's covariates; "
                          "each participant matched to the nearest pool members on the logit of the score within a caliper, "
                          "exactly on the stated categorical covariates and on the cohort (period); treated participants "
                          "outside the pool's common support trimmed. Standard errors by Abadie and Imbens (2006), "
                          "which account for pool members used more than once.",
}


def build_report(engine: Engine, contract_id: str, run_id: int | None = None) -> dict[str, Any]:
    stored = get_contract(engine, contract_id)
    run = get_run(engine, contract_id, run_id)
    if run is None:
        raise ReportError(f"no evaluation run for {contract_id!r}; run 'sib evaluate {contract_id}' first")
    version = next(v for v in stored.versions if v.version == run.contract_version)
    contract = version.terms
    ledger = read_ledger(engine, contract_id)
    ledger = ledger[ledger["evaluation_run_id"] <= run.id] if len(ledger) else ledger
    chain = verify_chain(engine, contract_id)
    total = sum(ledger["amount"], ZERO) if len(ledger) else ZERO

    metrics = []
    for metric in contract.metrics:
        results = [r for r in run.results if r.metric == metric.id]
        question = None
        if metric.instrument:
            q = INSTRUMENTS[metric.instrument].question(metric.question or "")
            question = q.en if q else None
        metrics.append({"metric": metric, "question": question, "results": results,
                        "pooled": next((r for r in results if r.cohort == POOLED and r.subgroup is None), None)})

    designs_used = sorted({m.evaluation.design for m in contract.metrics})
    return {
        "contract": contract, "stored": stored, "version": version, "run": run, "metrics": metrics,
        "coverage": run.coverage, "designs": [(d, DESIGN_TEXT.get(d, d)) for d in designs_used],
        "matched": [r for r in run.results if r.design == "matched_comparison" and r.diagnostics.get("balance")
                    and r.subgroup is None],
        "did_results": [r for r in run.results if r.design == "difference_in_differences" and r.subgroup is None],
        "owed": owed_to_date(contract, run, run_outcomes(engine, run.id)), "period": payable_period(contract, run.as_of),
        "ledger": ledger.to_dict(orient="records"), "total": total, "chain": chain,
        "investor": investor_result(contract, ledger, current_status(engine, contract_id)),
        "generated": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"), "code_version": code_version(),
    }


def render_html(doc: dict[str, Any]) -> str:
    return _environment().get_template("report.html.j2").render(**doc)


def write_report(doc: dict[str, Any], path: Path, kind: str = "pdf") -> Path:
    html = render_html(doc)
    if kind == "html":
        path.write_text(html, encoding="utf-8")
        return path
    import weasyprint  # imported here: it is slow to load and only PDFs need it

    weasyprint.HTML(string=html, base_url=str(TEMPLATES)).write_pdf(str(path))
    return path
