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

import pandas as pd
from sqlalchemy.engine import Engine

from api.reports import charts
from contracts import instruments
from contracts.model import Contract, Metric
from contracts.registry import get_contract
from evaluation.power import CHANGE_FOR, PowerError, contract_power_warnings, minimum_detectable_effect
from evaluation.result import POOLED
from evaluation.run import EvaluationRun, evaluate, get_run, run_outcomes
from language import LANGUAGES, N_, MessageError, Texts
from language.jinja import environment
from language.names import Names
from language.words import default_language, words
from payments.calculate import owed_to_date, payable_period
from payments.ledger import current_status, read_ledger, verify_for_display
from payments.money import ZERO
from payments.returns import RECEIVED, investor_result
from store.version import code_version

TEMPLATES = Path(__file__).parent / "templates"
STATUS_ORDER = ("calculated", "attested", "approved", "invoiced", "paid", "rejected")

# The methodology of each design, as section 5 states it (only the designs the contract uses).
METHODS = {
    "monitoring": N_("Monitoring: the cohort's mean with its confidence interval. There is no counterfactual, so "
                     "the figure describes the participants and is never reported as an effect."),
    "fixed_baseline": N_("Fixed baseline: the cohort's mean against the reference value written into the "
                         "contract. Proportions use an exact binomial test with a Wilson interval; other outcomes a "
                         "one-sample t-test. The baseline is an assumption of the contract, not an observed "
                         "comparison group."),
    "pre_post": N_("Pre-post: the same participants after against before (paired t-test). The change also "
                   "contains whatever else changed over the period."),
    "historical_cohort": N_("Historical cohort: the cohort against an earlier cohort (Welch's two-sample t-test)."),
    "randomised": N_("Randomised: treatment arm against control arm (Welch's two-sample t-test); with covariates, "
                     "the treatment coefficient of an OLS regression on them, with HC2 standard errors (Lin, "
                     "2013)."),
    "matched_comparison": N_("Matched comparison: a propensity score (logistic regression) on the contract's "
                             "covariates; each participant matched to the nearest pool members on the logit of the "
                             "score within a caliper, exactly on the stated categorical covariates and on the cohort "
                             "(period); treated participants outside the pool's common support trimmed. Standard "
                             "errors by Abadie and Imbens (2006), which account for pool members used more than "
                             "once."),
    "synthetic_control": N_("Synthetic control: the treated unit against a weighted average of comparison units "
                            "(non-negative weights summing to one, fitted to its values before the start); the effect "
                            "is the mean gap after the start; the p-value ranks its post/pre RMSPE ratio among "
                            "placebo units (Abadie, Diamond and Hainmueller, 2010)."),
    "difference_in_differences": N_("Difference-in-differences: treated and comparison units over periods counted "
                                    "from each unit's start; two-way fixed effects (unit and period) by OLS on "
                                    "within-unit deviations, standard errors clustered by unit; an event study tests "
                                    "that treated and comparison units moved in parallel before the start."),
}

TEXTS = Texts("reports", {
    "no_language": N_("--lang {lang} is not available; expected sv or en"),
    "run_or_as_of": N_("give either --as-of or --run, not both"),
    "no_run": N_("no evaluation run for '{contract}'; give --as-of DATE to evaluate first, or run 'sib evaluate "
                 "{contract}'"),
})


class ReportError(MessageError):
    """A report that cannot be made as asked."""


def run_terms(stored: Any, run: EvaluationRun | None, lang: str | None) -> tuple[Any, str, Names]:
    """The contract version a run was made under, the document's language (Swedish for SEK unless asked) and
    its names: what the report and the board summary both start from; refused when there is no run."""
    if run is None:
        raise ReportError(TEXTS("no_run", contract=stored.id))
    version = next(v for v in stored.versions if v.version == run.contract_version)
    lang = lang or default_language(version.terms.currency)
    return version, lang, Names(version.terms, words(lang, version.terms.currency))


def build_report(engine: Engine, contract_id: str, run_id: int | None = None, *, as_of: date | None = None,
                 lang: str | None = None, actor_name: str | None = None) -> dict[str, Any]:
    """Everything the report shows.  With ``as_of``, the contract is evaluated as of that day first (an
    unchanged store gives back the stored run, checked number by number), so the report is never older
    than the data."""
    stored = get_contract(engine, contract_id)
    if lang is not None and lang not in LANGUAGES:
        raise ReportError(TEXTS("no_language", lang=lang))
    if as_of is not None:
        if run_id is not None:
            raise ReportError(TEXTS("run_or_as_of"))
        run: EvaluationRun | None = evaluate(engine, stored, as_of, actor_name=actor_name)
    else:
        run = get_run(engine, contract_id, run_id)
    version, lang, names = run_terms(stored, run, lang)
    contract, w = version.terms, names.w

    ledger = read_ledger(engine, contract_id)
    ledger = ledger[ledger["evaluation_run_id"] <= run.id] if len(ledger) else ledger
    statuses = current_status(engine, contract_id)
    entries = [dict(e, status=statuses.get(e["seq"], "calculated")) for e in ledger.to_dict(orient="records")]
    by_status: dict[str, Decimal] = {}
    for e in entries:
        by_status[e["status"]] = by_status.get(e["status"], ZERO) + e["amount"]
    total = sum((e["amount"] for e in entries), ZERO)

    history = _run_history(engine, contract_id, run)
    metrics = [_metric_section(metric, run, names, history.get(metric.id, [])) for metric in contract.metrics]
    warnings = sum(len(m["warnings"]) for m in metrics)
    coverage = run.coverage
    chain = verify_for_display(engine, contract_id)
    paying = contract.payments is not None  # without a payments section: evaluation-only, nothing owed
    owed = [dict(o.__dict__, calculation=names.calculation(o.basis))
            for o in owed_to_date(contract, run, run_outcomes(engine, run.id))] if paying else []
    flagged = _flagged_amounts(contract, run, owed, names)
    designs_used = sorted({m.evaluation.design for m in contract.metrics})
    from api.reports.board import business_case_of, money_by_payer_year  # the board summary's very calls

    return {
        "lang": lang, "contract": contract, "stored": stored, "version": version, "run": run, "metrics": metrics,
        "names": names, "notices": _first_page_notices(run, coverage, warnings, chain, names) + flagged,
        "has_results": any(m["pooled"] is not None and m["pooled"].n_treated for m in metrics),
        "coverage": coverage, "coverage_line": _coverage_line(coverage, names), "designs": [(d, w._(METHODS[d])) for d in designs_used if d in METHODS],
        "matched": [r for r in run.results if r.design == "matched_comparison" and r.diagnostics.get("balance")
                    and r.subgroup is None],
        "did_results": [_did(r, names) for r in run.results
                        if r.design == "difference_in_differences" and r.subgroup is None],
        "synth_results": [_synth(r, names) for r in run.results
                          if r.design == "synthetic_control" and r.subgroup is None and r.diagnostics.get("gaps")],
        "sensitivity": [s for s in (_sensitivity(r, names) for r in run.results if r.subgroup is None) if s],
        "survival": [_survival(r, names) for r in run.results
                     if r.subgroup is None and r.diagnostics.get("survival") and r.cohort == POOLED],
        "power": _power(contract, run, names),
        "followup": _followup(engine, contract, run, names),
        "mechanisms": [(mech, mechanism_terms(mech, names)) for mech in contract.payments.mechanisms] if paying else [],
        "payers_line": _payers_line(contract, names) if paying else None,
        "eligibility": [_rule(rule, names) for rule in contract.target_group.eligibility],
        "owed": owed, "period": payable_period(contract, run.as_of) if paying else None,
        "ledger": entries, "total": total, "chain": chain,
        "money": money_by_payer_year(engine, stored, contract), "case": business_case_of(engine, stored, contract),
        "chain_problem": None if chain.ok else names.message(chain.reason),
        "status_parts": ", ".join(f"{w.label('status', status)} {w.money(by_status[status])}"
                                  for status in STATUS_ORDER if status in by_status),
        "investor": investor_result(contract, ledger, statuses),  # projected: every amount not rejected, once paid
        "investor_received": investor_result(contract, ledger, statuses, RECEIVED),
        "generated": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"), "code_version": code_version(),
    }


def _followup(engine: Engine, contract: Contract, run: EvaluationRun, names: Names) -> dict[str, Any] | None:
    """The user follow-up by unit for the run's year (answers to its as-of date): shares, n, "don't know", the
    response rate, suppressed like every published figure, with a chart per question on the full scale."""
    from contracts.organisation import get_organisation
    from evaluation import followup

    if not followup.survey_metrics(contract):
        return None
    answers = followup.load_answers(engine, contract)
    answers = answers[pd.to_datetime(answers["answered_on"]) <= pd.Timestamp(run.as_of)]
    if answers.empty:
        return None
    result = followup.results_with_fieldwork(engine, contract, followup.Request(level="unit", year=int(answers["year"].max())),
                                             get_organisation(engine), names.w.lang, answers)
    for question in result["questions"]:
        svg = charts.followup_chart(question, names)
        question["chart"] = None if svg is None else _image(svg)
    return result


def _run_history(engine: Engine, contract_id: str, run: EvaluationRun) -> dict[str, list[dict[str, Any]]]:
    """Per metric, the pooled result of each evaluated date up to the report's run, oldest first, as the points of
    its chart over the runs (``api.status.trend_point``): the last run of each date made no later than the
    report's run, never an interim view (except the report's own run, which stands for its date)."""
    import sqlalchemy as sa

    from api.status import trend_point
    from store.tables import EvaluationRunRow

    with engine.connect() as conn:
        rows = conn.execute(sa.select(EvaluationRunRow.id, EvaluationRunRow.as_of, EvaluationRunRow.results)
                            .where(EvaluationRunRow.contract_id == contract_id, EvaluationRunRow.id <= run.id,
                                   EvaluationRunRow.as_of <= run.as_of,
                                   EvaluationRunRow.include_unverified.is_(False))
                            .order_by(EvaluationRunRow.as_of, EvaluationRunRow.id)).all()
    latest: dict[Any, tuple[int, list[dict[str, Any]]]] = {
        row.as_of: (row.id, (row.results or {}).get("results", [])) for row in rows}
    latest[run.as_of] = (run.id, [r.to_dict() for r in run.results])  # the report's run stands for its date
    out: dict[str, list[dict[str, Any]]] = {}
    for as_of, (run_id, results) in sorted(latest.items()):
        for r in results:
            if r.get("cohort") == POOLED and r.get("subgroup") is None and r.get("treated_mean") is not None:
                out.setdefault(r["metric"], []).append(trend_point(as_of, run_id, r))
    return out


def _metric_section(metric: Metric, run: EvaluationRun, names: Names,
                    history: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    w = names.w
    results = [r for r in run.results if r.metric == metric.id]
    question = favourable = None
    if metric.instrument:
        instrument = instruments.get(metric.instrument, metric.instrument_version)
        q = instrument.question(metric.question or "") if instrument else None
        question = q.text.get(w.lang) if q else None
        favourable = ", ".join(f"{a.code} {a.label(w.lang)}" for a in (q.answers if q else []) if a.code in q.favourable)
    where: dict[str, list[str]] = {}  # each warning once, with the cohorts it applies to
    for r in results:
        cohort = names.cohort(r.cohort) + (f" · {names.subgroup(r.subgroup)}" if r.subgroup else "")
        for warning in r.warnings:
            where.setdefault(names.message(warning), []).append(cohort)
    warnings = [f"{', '.join(dict.fromkeys(cohorts))}: {text}" for text, cohorts in where.items()]
    kinds: dict[str, list[str]] = {}  # which standard error each estimate carries, each kind once
    for r in results:
        if r.se is not None and r.se_kind is not None:
            kinds.setdefault(names.message(r.se_kind), []).append(
                names.cohort(r.cohort) + (f" · {names.subgroup(r.subgroup)}" if r.subgroup else ""))
    se_kinds = "; ".join(f"{text} ({', '.join(dict.fromkeys(cohorts))})" for text, cohorts in kinds.items())
    svg = charts.metric_chart(results, None if metric.target is None else float(metric.target), names)
    return {"metric": metric, "question": question, "favourable": favourable, "results": results, "warnings": warnings,
            "pooled": next((r for r in results if r.cohort == POOLED and r.subgroup is None), None),
            "chart": None if svg is None else "data:image/svg+xml;base64," + base64.b64encode(svg.encode()).decode(),
            "runs": _runs_figure(metric, results, history or [], w),
            "achieved": any(r.n_achieved is not None for r in results), "se_kinds": se_kinds}


def _runs_figure(metric: Metric, results: list[Any], history: list[dict[str, Any]], w: Any) -> dict[str, Any] | None:
    """The metric over the evaluation runs (the dashboard's chart, unsuppressed like the rest of the report), as an
    image with its text alternative and a row per run; the anchor the dashboard names."""
    pooled = next((r for r in results if r.cohort == POOLED and r.subgroup is None), None)
    design = pooled.design if pooled is not None else metric.evaluation.design
    figure = charts.runs_figure(metric, history, design, w, key=f"fig-{metric.id}")
    if figure is not None:
        figure["image"] = _image(figure["svg"])
    return figure


def _coverage_line(coverage: dict[str, Any], names: Names) -> str:
    """Who and what the run counted: participants by arm, measurements and the share verified."""
    w = names.w
    arms = ", ".join(f"{w.integer(n)} {names.arm(arm)}" for arm, n in (coverage.get("participants") or {}).items())
    line = w._("Participants: {arms}.", arms=arms or w.integer(0))
    if coverage.get("verified_share") is not None:
        return line + " " + w._("Measurements used: {n}, of which {share:percent} verified.",
                                n=coverage.get("measurements") or 0, share=coverage["verified_share"])
    return line + " " + w._("Measurements used: {n}.", n=coverage.get("measurements") or 0)


def _first_page_notices(run: EvaluationRun, coverage: dict[str, Any], warnings: int, chain: Any,
                        names: Names) -> list[str]:
    """What a reader must know before any figure: said in words on page one, never left to an empty chart."""
    w = names.w
    notices = []
    if not coverage.get("measurements") or coverage.get("verified_share") == 0:
        notices.append(w._("There are no verified measurements yet: the report shows no results and no amounts."))
    if run.include_unverified:
        notices.append(w._("Interim view: this evaluation includes measurements that have not been verified. It "
                           "must not be used for payment."))
    if warnings:
        notices.append(w.ngettext("The results carry {n} warning; it is listed under its metric in section 4.",
                                  "The results carry {n} warnings; they are listed under each metric in section 4.",
                                  warnings))
    if not chain.ok:
        notices.append(w._("The ledger does NOT verify: {reason}", reason=names.message(chain.reason)))
    return notices


def _flagged_amounts(contract: Contract, run: EvaluationRun, owed: list[dict[str, Any]], names: Names) -> list[str]:
    """Page one says which amounts rest on evidence an approver must acknowledge (payments.evidence): the same
    flags the schedule, the API and the CLI show at the point of approval."""
    from payments.evidence import evidence

    w = names.w
    amounts: dict[tuple[str, str], Decimal] = {}
    for o in owed:
        amounts[(o["mechanism"], o["cohort"])] = amounts.get((o["mechanism"], o["cohort"]), ZERO) + o["amount"]
    notices = []
    for (mechanism, cohort), amount in amounts.items():
        if not amount:
            continue
        flags = evidence(contract, run.results, run.id, mechanism, cohort)["flags"]
        if flags:
            notices.append(w._("{amount} owed under {mechanism} ({cohort}) rests on evidence that needs a reason to "
                               "approve: {flags}.", amount=w.money(amount), mechanism=names.mechanism(mechanism),
                               cohort=names.cohort(cohort), flags="; ".join(names.message(f) for f in flags)))
    return notices


def _image(svg: str) -> str:
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode()).decode()


def _sensitivity(result: Any, names: Names) -> dict[str, Any] | None:
    """An effect's sensitivity to hidden bias in words: E-value, Rosenbaum's Γ*, the event study with its bands."""
    w = names.w
    found = result.diagnostics.get("sensitivity") or {}
    if not found:
        return None
    lines = []
    ev = found.get("e_value") or {}
    if ev.get("e_value") is not None:
        lines.append(w._("E-value {e:num2}; for the confidence limit closest to no effect {ci}: an unmeasured "
                         "confounder associated with both the intervention and the outcome by a risk ratio this "
                         "large could explain the effect away ({conversion}).", e=ev["e_value"],
                         ci=w.number(ev.get("e_value_ci"), 2), conversion=w.label("e_value_conversion", ev["conversion"])))
    elif ev.get("warning"):
        lines.append(names.message(ev["warning"]))
    rb = found.get("rosenbaum") or {}
    if rb.get("gamma") is not None:
        lines.append(w._("Rosenbaum bounds ({test}, {pairs} matched pairs): significance at α = {alpha:sig} is lost "
                         "at Γ = {gamma:num2}, i.e. if hidden bias could make one member of a pair {gamma:num2} times "
                         "as likely as the other to be treated.", test=w.label("rosenbaum_test", rb["test"]),
                         pairs=rb["pairs"], alpha=rb["alpha"], gamma=rb["gamma"]))
    elif rb.get("warning"):
        lines.append(names.message(rb["warning"]))
    es = found.get("event_study") or {}
    chart = None
    if es.get("coefficients"):
        lines.append(w._("Event study: sup-t simultaneous bands (critical value {c:num2} against {z:num2} pointwise, "
                         "{clusters} clusters); {n} period(s) before the start with a band excluding zero.",
                         c=es["critical_value"], z=es["pointwise_critical_value"], clusters=es["clusters"],
                         n=es["pre_periods_excluding_zero"]))
        chart = _image(charts.event_study_chart(es, names))
    elif es.get("warning"):
        lines.append(names.message(es["warning"]))
    return {"result": result, "lines": lines, "chart": chart}


def _survival(result: Any, names: Names) -> dict[str, Any]:
    """A time-to-event result: its curves, and event-free shares, RMST, log-rank and Cox in words."""
    w = names.w
    info = result.diagnostics["survival"]
    lines = []
    for arm, label in (("treated", w._("treated")), ("comparison", w._("comparison"))):
        a = info["arms"].get(arm)
        if a:
            lines.append(w._("{arm}: {n} participants, {events} events, {censored} censored; event-free at day {tau}: "
                             "{s:percent} ({low:percent} to {high:percent}); restricted mean time event-free up to "
                             "day {tau}: {rmst:num1} days ({rlow:num1} to {rhigh:num1}).", arm=label, n=a["n"],
                             events=a["events"], censored=a["censored"], tau=int(info["tau_days"]), s=a["event_free"],
                             low=a["event_free_ci"][0], high=a["event_free_ci"][1], rmst=a["rmst"],
                             rlow=a["rmst_ci"][0], rhigh=a["rmst_ci"][1]))
    difference = info.get("rmst_difference")
    if difference and difference.get("ci"):
        lines.append(w._("Difference in restricted mean time event-free: {d:num1} days ({low:num1} to {high:num1}).",
                         d=difference["estimate"], low=difference["ci"][0], high=difference["ci"][1]))
    for key in ("log_rank", "cox"):
        part = info.get(key) or {}
        if part.get("warning"):
            lines.append(names.message(part["warning"]))
    if (info.get("log_rank") or {}).get("p_value") is not None:
        lines.append(w._("Log-rank test: χ² = {chi2:num2}, p = {p:p}.", chi2=info["log_rank"]["chi2"],
                         p=info["log_rank"]["p_value"]))
    cox = info.get("cox") or {}
    if cox.get("hazard_ratio") is not None:
        lines.append(w._("Cox regression ({covariates}): hazard ratio {hr:num2} ({low:num2} to {high:num2}), "
                         "p = {p:p}.", covariates=", ".join(t for t in cox["terms"] if t != "treated") or "—",
                         hr=cox["hazard_ratio"], low=cox["ci"][0], high=cox["ci"][1], p=cox["p_value"]))
    return {"result": result, "lines": lines, "chart": _image(charts.survival_chart(info, names))}


def _did(result: Any, names: Names) -> dict[str, Any]:
    """A difference-in-differences result's pre-trend test and standard errors, in words."""
    w = names.w
    pre = result.diagnostics.get("pre_trends", {})
    if pre.get("tested"):
        test = w._("Joint test that treated and comparison units moved in parallel over the {periods} period(s) "
                   "before the start: p = {p:p}.", periods=pre["periods_tested"], p=pre["p_value"])
    else:
        test = names.message(pre["warning"]) if pre.get("warning") else "—"
    clusters = result.diagnostics.get("clusters")
    errors = w._("Standard errors clustered by unit ({n} clusters).", n=clusters) if clusters else ""
    ri = result.diagnostics.get("randomisation_inference")
    if ri and ri.get("placebos"):
        errors += " " + w._("Few units: the p-value is the rank of the estimate among {n} placebo assignments of the "
                            "treatment to other units (randomisation inference).", n=ri["placebos"])
    return {"result": result, "test": test, "errors": errors}


def _synth(result: Any, names: Any) -> dict[str, Any]:
    """A synthetic control's donors, pre-period fit and placebo test in words, with its gap plot."""
    w = names.w
    d = result.diagnostics
    donors = sorted(d["weights"].items(), key=lambda kv: -kv[1])
    lines = [w._("Synthetic unit: {donors}.", donors=", ".join(f"{u} {w.percent(v, signed=False)}" for u, v in donors)),
             w._("Fit before the start: RMSPE {rmspe}; after/before RMSPE ratio {ratio}.",
                 rmspe=w.significant(d["rmspe_pre"]), ratio=w.significant(d["rmspe_ratio"]))]
    if result.p_value is not None:
        lines.append(w._("Placebo test over {n} comparison units: p = {p:p}.", n=d["placebos"], p=result.p_value))
    return {"result": result, "lines": lines, "chart": _image(charts.gap_chart(d, names))}


def _power(contract: Contract, run: EvaluationRun, names: Names) -> list[str]:
    """The smallest effect each metric's actual numbers could detect, and the contract's own planning warnings."""
    w = names.w
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
            lines.append(w._("{metric}: power not computed, because the contract gives no evaluation.planning_sd "
                             "for the metric.", metric=metric.name))
            continue
        ratio = (pooled.n_comparison / pooled.n_treated) if layout == "two_sample" and pooled.n_comparison else 1.0
        try:
            mde = minimum_detectable_effect(kind, layout, pooled.n_treated, float(baseline), sd,  # type: ignore[arg-type]
                                            float(ev.alpha), 0.8, ratio, CHANGE_FOR[metric.direction])
        except PowerError as exc:
            lines.append(f"{metric.name}: {names.message(exc.message)}")
            continue
        lines.append(w._("{metric}: with the {n} participants evaluated (all cohorts), an effect of {mde:num3} can "
                         "be detected with 80 % power (α {alpha:num2}).", metric=metric.name, n=pooled.n_treated,
                         mde=mde.effect, alpha=float(ev.alpha)))
    lines.extend(names.message(message) for _where, message in contract_power_warnings(contract))
    return lines


def mechanism_terms(mech: Any, names: Names) -> str:
    """A payment mechanism's terms in one sentence of the reader's language."""
    w = names.w

    def share(value: Any) -> str:
        return w.percent(value, 1, signed=False)

    if mech.type == "rate_card":
        parts = [w._("{price} per participant achieving {metric}", price=w.money(o.price), metric=names.metric(o.metric))
                 for o in mech.priced()]
        text = "; ".join(parts)
        for group in mech.exclusive or []:
            text += w._("; only the higher of {options}",
                        options=w.either(names.metric(m) for m in group))
        if mech.cap_per_participant is not None:
            text += w._("; at most {amount} per participant", amount=w.money(mech.cap_per_participant))
    elif mech.type == "milestone":
        text = w._("{amount} per verified event", amount=w.money(mech.amount))
    elif mech.type == "savings_share":
        text = w._("savings valued at {unit} per unit, repaid one-for-one up to {upto}, then {share} above",
                   unit=w.money(mech.unit_value), upto=w.money(mech.repay_up_to), share=share(mech.share_above))
    else:
        text = w._("{price} per unit of improvement per participant, if the cohort improves by {threshold}",
                   price=w.money(mech.price_per_unit), threshold=share(mech.cohort_threshold))
        if mech.overall_threshold is not None:
            text += w._(" or all cohorts together by {threshold}", threshold=share(mech.overall_threshold))
    if mech.cap is not None:
        text += w._("; capped at {amount}", amount=w.money(mech.cap))
    return text


def _payers_line(contract: Contract, names: Names) -> str:
    w = names.w
    payments = contract.payments
    payers = ", ".join(f"{names.party(p.party)} ({w.percent(p.share, 2, signed=False)})" for p in payments.payers)
    text = w._("Outcome payers: {payers}. Schedule: {frequency}, payable {lag} days after verification.",
               payers=payers, frequency=w.label("frequency", payments.schedule.frequency),
               lag=payments.schedule.lag_days)
    if payments.caps.total is not None:
        text += w._(" Contract cap: {amount}.", amount=w.money(payments.caps.total))
    return text


def _rule(rule: Any, names: Names) -> str:
    w = names.w
    value = rule.value
    if isinstance(value, (list, tuple)) and rule.op == "between" and len(value) == 2:
        value = w._("{low} and {high}", low=names.level(rule.attribute, value[0]),
                    high=names.level(rule.attribute, value[1]))
    elif isinstance(value, (list, tuple)):
        value = ", ".join(names.level(rule.attribute, v) for v in value)
    else:
        value = names.level(rule.attribute, value)
    text = f"{names.attribute(rule.attribute)} {w.label('op', rule.op)} {value}"
    return f"{text} ({rule.description})" if getattr(rule, "description", None) else text


def render_html(doc: dict[str, Any], template: str = "report.html.j2") -> str:
    env = environment(doc["lang"], doc["contract"].currency, [TEMPLATES])
    return env.get_template(template).render(**doc)


def pdf_of(html: str) -> bytes:
    import weasyprint  # imported here: it is slow to load and only PDFs need it

    return weasyprint.HTML(string=html, base_url=str(TEMPLATES)).write_pdf()


def write_report(doc: dict[str, Any], path: Path, kind: str = "pdf", template: str = "report.html.j2") -> Path:
    """The report (or another document of this folder's templates, e.g. the board summary) as HTML or PDF."""
    html = render_html(doc, template)
    if kind == "html":
        path.write_text(html, encoding="utf-8")
    else:
        path.write_bytes(pdf_of(html))
    return path
