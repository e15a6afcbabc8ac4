"""The independent evaluation report: gathered from the store, rendered from a template, in Swedish or English.

``build_report`` collects everything the report states (terms, coverage, results with their charts, the
methodology actually used, power, the payment trail, the ledger with its statuses, the reproducibility
block) into one plain dictionary; ``render_html`` fills the Jinja2 template and ``write_report`` turns it
into PDF with weasyprint.  Nothing in the template computes: it only shows, in the reader's language.
"""

from __future__ import annotations

import base64
from datetime import date, datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine

from api.reports import charts
from contracts.instruments import INSTRUMENTS
from contracts.model import Contract, Metric
from contracts.registry import get_contract
from evaluation.power import PowerError, contract_power_warnings, minimum_detectable_effect
from evaluation.result import POOLED
from evaluation.run import EvaluationRun, evaluate, get_run, run_outcomes
from language import i18n
from language.jinja import environment
from payments.calculate import owed_to_date, payable_period
from payments.ledger import current_status, read_ledger, verify_chain
from payments.money import ZERO
from payments.returns import investor_result
from store.version import code_version

TEMPLATES = Path(__file__).parent / "templates"
STATUS_ORDER = ("calculated", "approved", "invoiced", "paid", "rejected")


class ReportError(Exception):
    pass


def build_report(engine: Engine, contract_id: str, run_id: int | None = None, *, as_of: date | None = None,
                 lang: str | None = None, actor_name: str | None = None) -> dict[str, Any]:
    """Everything the report shows.  With ``as_of``, the contract is evaluated as of that day first (an
    unchanged store gives back the stored run, checked number by number), so the report is never older
    than the data."""
    stored = get_contract(engine, contract_id)
    if lang is not None and lang not in i18n.LANGUAGES:
        raise ReportError(f"--lang {lang!r} is not available; expected one of {', '.join(i18n.LANGUAGES)}")
    if as_of is not None:
        if run_id is not None:
            raise ReportError("give either --as-of or --run, not both")
        run: EvaluationRun | None = evaluate(engine, stored, as_of, actor_name=actor_name)
    else:
        run = get_run(engine, contract_id, run_id)
    if run is None:
        raise ReportError(f"no evaluation run for {contract_id!r}; give --as-of DATE to evaluate first, "
                          f"or run 'sib evaluate {contract_id}'")
    version = next(v for v in stored.versions if v.version == run.contract_version)
    contract = version.terms
    lang = lang or i18n.default_language(contract.currency)

    ledger = read_ledger(engine, contract_id)
    ledger = ledger[ledger["evaluation_run_id"] <= run.id] if len(ledger) else ledger
    statuses = current_status(engine, contract_id)
    entries = [dict(e, status=statuses.get(e["seq"], "calculated")) for e in ledger.to_dict(orient="records")]
    by_status: dict[str, Decimal] = {}
    for e in entries:
        by_status[e["status"]] = by_status.get(e["status"], ZERO) + e["amount"]
    total = sum((e["amount"] for e in entries), ZERO)

    metrics = [_metric_section(metric, run, lang) for metric in contract.metrics]
    warnings = sum(len(m["warnings"]) for m in metrics)
    coverage = run.coverage
    chain = verify_chain(engine, contract_id)
    notices = _first_page_notices(run, coverage, warnings, chain, lang)
    designs_used = sorted({m.evaluation.design for m in contract.metrics})
    return {
        "lang": lang, "contract": contract, "stored": stored, "version": version, "run": run, "metrics": metrics,
        "notices": notices, "has_results": any(m["pooled"] is not None and m["pooled"].n_treated for m in metrics),
        "coverage": coverage, "designs": [(d, i18n.DESIGNS.get(d, {}).get(lang, d)) for d in designs_used],
        "matched": [r for r in run.results if r.design == "matched_comparison" and r.diagnostics.get("balance")
                    and r.subgroup is None],
        "did_results": [r for r in run.results if r.design == "difference_in_differences" and r.subgroup is None],
        "power": _power(contract, run, lang),
        "mechanisms": [(mech, mechanism_terms(mech, contract.currency, lang)) for mech in contract.payments.mechanisms],
        "payers_line": _payers_line(contract, lang),
        "eligibility": [_rule(rule, lang) for rule in contract.target_group.eligibility],
        "owed": owed_to_date(contract, run, run_outcomes(engine, run.id)), "period": payable_period(contract, run.as_of),
        "ledger": entries, "total": total, "chain": chain,
        "status_parts": ", ".join(f"{i18n.label(status, lang)} {i18n.money(by_status[status], contract.currency, lang)}"
                                  for status in STATUS_ORDER if status in by_status),
        "investor": investor_result(contract, ledger, statuses),
        "generated": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"), "code_version": code_version(),
    }


def _metric_section(metric: Metric, run: EvaluationRun, lang: str) -> dict[str, Any]:
    results = [r for r in run.results if r.metric == metric.id]
    question = None
    if metric.instrument:
        q = INSTRUMENTS[metric.instrument].question(metric.question or "")
        question = (q.sv if lang == "sv" else q.en) if q else None
    where: dict[str, list[str]] = {}  # each warning once, with the cohorts it applies to
    for r in results:
        cohort = i18n.t("all_cohorts", lang) if r.cohort == POOLED else r.cohort
        for w in r.warnings:
            where.setdefault(w, []).append(cohort + (f" · {r.subgroup}" if r.subgroup else ""))
    warnings = [f"{', '.join(dict.fromkeys(cohorts))}: {w}" for w, cohorts in where.items()]
    svg = charts.metric_chart(results, None if metric.target is None else float(metric.target), lang)
    return {"metric": metric, "question": question, "results": results, "warnings": warnings,
            "pooled": next((r for r in results if r.cohort == POOLED and r.subgroup is None), None),
            "chart": None if svg is None else "data:image/svg+xml;base64," + base64.b64encode(svg.encode()).decode(),
            "achieved": any(r.n_achieved is not None for r in results)}


def _first_page_notices(run: EvaluationRun, coverage: dict[str, Any], warnings: int, chain: Any, lang: str) -> list[str]:
    """What a reader must know before any figure: said in words on page one, never left to an empty chart."""
    notices = []
    if not coverage.get("measurements") or coverage.get("verified_share") == 0:
        notices.append(i18n.t("no_verified", lang))
    if run.include_unverified:
        notices.append(i18n.t("interim", lang))
    if warnings:
        notices.append(i18n.t("warnings_count", lang, n=warnings))
    if not chain.ok:
        notices.append(i18n.t("chain_broken", lang, reason=f"{chain.broken_at}: {chain.reason}"))
    return notices


def _power(contract: Contract, run: EvaluationRun, lang: str) -> list[str]:
    """The smallest effect each metric's actual numbers could detect, and the contract's own planning warnings."""
    lines = []
    for metric in contract.metrics:
        ev = metric.evaluation
        pooled = run.result(metric.id)
        if ev.design == "monitoring" or pooled is None or pooled.n_treated < 2:
            continue
        kind = "proportion" if metric.kind == "binary" else "mean"
        layout = "one_sample" if ev.design in ("fixed_baseline", "pre_post") else "two_sample"
        baseline = pooled.counterfactual_mean if pooled.counterfactual_mean is not None else ev.planning_mean
        if baseline is None:
            continue
        sd = float(ev.planning_sd) if ev.planning_sd is not None else None
        if kind == "mean" and sd is None:
            lines.append(i18n.t("power_no_sd", lang, metric=metric.name))
            continue
        ratio = (pooled.n_comparison / pooled.n_treated) if layout == "two_sample" and pooled.n_comparison else 1.0
        try:
            mde = minimum_detectable_effect(kind, layout, pooled.n_treated, float(baseline), sd,  # type: ignore[arg-type]
                                            float(ev.alpha), 0.8, ratio)
        except PowerError as exc:
            lines.append(f"{metric.name}: {exc}")
            continue
        lines.append(i18n.t("power_line", lang, metric=metric.name, n=pooled.n_treated,
                            mde=i18n.number(mde.effect, lang), alpha=i18n.number(float(ev.alpha), lang, 2)))
    lines.extend(message for _where, message in contract_power_warnings(contract))
    return lines


def mechanism_terms(mech: Any, currency: str, lang: str) -> str:
    """A payment mechanism's terms in one sentence of the reader's language."""
    def money(amount: Any) -> str:
        return i18n.money(amount, currency, lang)

    def share(value: Any) -> str:
        return i18n.percent(value, lang, 1, signed=False)

    if mech.type == "rate_card":
        parts = [i18n.t("rc_price", lang, price=money(o.price), metric=o.metric) for o in mech.priced()]
        text = "; ".join(parts)
        for group in mech.exclusive or []:
            text += i18n.t("rc_exclusive", lang, options=(" " + i18n.t("or", lang) + " ").join(group))
        if mech.cap_per_participant is not None:
            text += i18n.t("rc_cap_pp", lang, amount=money(mech.cap_per_participant))
    elif mech.type == "milestone":
        text = i18n.t("ms_amount", lang, amount=money(mech.amount))
    elif mech.type == "savings_share":
        text = i18n.t("ss_terms", lang, unit=money(mech.unit_value), upto=money(mech.repay_up_to),
                      share=share(mech.share_above))
    else:
        text = i18n.t("ct_terms", lang, price=money(mech.price_per_unit), threshold=share(mech.cohort_threshold))
        if mech.overall_threshold is not None:
            text += i18n.t("ct_overall", lang, threshold=share(mech.overall_threshold))
    if mech.cap is not None:
        text += i18n.t("capped", lang, amount=money(mech.cap))
    return text


def _payers_line(contract: Contract, lang: str) -> str:
    payments = contract.payments
    payers = ", ".join(f"{p.party} ({i18n.percent(p.share, lang, 2, signed=False)})" for p in payments.payers)
    text = i18n.t("payers_line", lang, payers=payers, frequency=i18n.label(payments.schedule.frequency, lang),
                  lag=payments.schedule.lag_days)
    if payments.caps.total is not None:
        text += i18n.t("contract_cap", lang, amount=i18n.money(payments.caps.total, contract.currency, lang))
    return text


def _rule(rule: Any, lang: str) -> str:
    value = rule.value
    if isinstance(value, (list, tuple)):
        value = (" " + i18n.t("and", lang) + " " if rule.op == "between" else ", ").join(str(v) for v in value)
    text = f"{rule.attribute} {i18n.label(rule.op, lang)} {value}"
    return f"{text} ({rule.description})" if getattr(rule, "description", None) else text


def render_html(doc: dict[str, Any]) -> str:
    env = environment(doc["lang"], doc["contract"].currency, [TEMPLATES])
    return env.get_template("report.html.j2").render(**doc)


def write_report(doc: dict[str, Any], path: Path, kind: str = "pdf") -> Path:
    html = render_html(doc)
    if kind == "html":
        path.write_text(html, encoding="utf-8")
        return path
    import weasyprint  # imported here: it is slow to load and only PDFs need it

    weasyprint.HTML(string=html, base_url=str(TEMPLATES)).write_pdf(str(path))
    return path

