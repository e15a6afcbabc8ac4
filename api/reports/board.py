"""The board summary (nämndrapport): one page for the political board and the finance office.

Outcomes against targets (effects apart from monitoring figures, by sex where the contract's subgroups allow);
money committed, calculated, approved, paid and forecast (P10–P90) per payer and calendar year; the payer's net
position and its uncertainty; amendments and open risks.  Plain Swedish by default, English on request.

Every figure comes from the same function calls as the full report's (``api.reports.report`` calls
``money_by_payer_year``, ``outcome_rows`` and ``payments.valuation.contract_business_case`` too), so the page,
the PDF, the API and the report cannot disagree.
"""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine

from contracts.model import Contract
from contracts.periods import period_end
from contracts.registry import get_contract
from evaluation.result import POOLED, EffectResult
from evaluation.run import EvaluationRun, get_run
from evaluation.suppression import suppress_group
from language import LANGUAGES
from language.names import Names
from payments.money import ZERO, quantum

SEX_ATTRIBUTES = ("sex", "legal_sex", "kon")
CALCULATED, APPROVED, PAID = ("calculated", "attested"), ("approved", "invoiced"), ("paid",)


def outcome_rows(contract: Contract, run: EvaluationRun, names: Names) -> dict[str, list[dict[str, Any]]]:
    """Each metric's pooled result against its target, effects apart from monitoring figures; by sex where the
    run has subgroup results on a sex attribute (small groups hidden together, as every published figure)."""
    w = names.w
    effects, monitoring = [], []
    for metric in contract.metrics:
        pooled = run.result(metric.id, POOLED)
        if pooled is None:
            continue
        row = {"metric": names.metric(metric.id), "id": metric.id, "n": pooled.n_treated,
               "value": _value(pooled, names), "target": None if metric.target is None else w.number(metric.target),
               "verdict": _verdict(pooled, metric.target, w), "by_sex": _by_sex(run, metric.id, contract, names),
               "is_effect": pooled.is_effect and pooled.estimate is not None}
        (effects if row["is_effect"] else monitoring).append(row)
    return {"effects": effects, "monitoring": monitoring}


def _value(r: EffectResult, names: Names) -> str:
    w = names.w
    if r.is_effect and r.estimate is not None:
        ci = (f" [{w.number(r.ci_low)}; {w.number(r.ci_high)}]" if r.ci_low is not None and r.ci_high is not None
              else "")
        return w._("{treated} against {counterfactual}: effect {effect}{ci}", treated=w.number(r.treated_mean),
                   counterfactual=w.number(r.counterfactual_mean), effect=w.number(r.estimate), ci=ci)
    if r.treated_mean is None:
        return "—"
    ci = (f" [{w.number(r.ci_low)}; {w.number(r.ci_high)}]" if r.ci_low is not None and r.ci_high is not None else "")
    return w._("{mean} (monitoring, no comparison){ci}", mean=w.number(r.treated_mean), ci=ci)


def _verdict(r: EffectResult, target: Decimal | None, w: Any) -> str:
    """Whether the cohort mean reached the target, said with its uncertainty: reached, not reached, or cannot be
    told apart (the interval spans the target: a monitoring figure's own interval; for an effect, the effect's
    interval moved onto the cohort mean, so the counterfactual's uncertainty counts too)."""
    if target is None or r.treated_mean is None:
        return "—"
    better = (lambda a, b: a >= b) if r.direction == "higher_is_better" else (lambda a, b: a <= b)
    low = high = None
    if not r.is_effect and r.ci_low is not None and r.ci_high is not None:
        low, high = r.ci_low, r.ci_high
    elif r.is_effect and r.ci_low is not None and r.ci_high is not None and r.estimate is not None:
        low, high = r.treated_mean - (r.estimate - r.ci_low), r.treated_mean + (r.ci_high - r.estimate)
    t = float(target)
    if low is not None and low <= t <= high:
        return w._("too close to tell (the interval spans the target)")
    return w._("reached") if better(r.treated_mean, t) else w._("not reached")


def _by_sex(run: EvaluationRun, metric: str, contract: Contract, names: Names) -> list[dict[str, Any]]:
    groups = [r for r in run.results if r.metric == metric and r.cohort == POOLED and r.subgroup
              and r.subgroup.split(" ", 1)[0] in SEX_ATTRIBUTES]
    if not groups:
        return []
    hidden = suppress_group({r.subgroup: r.n_treated for r in groups}, contract.suppression_threshold)
    return [{"group": names.subgroup(r.subgroup), "n": None if r.subgroup in hidden else r.n_treated,
             "value": names.w._("hidden: too few people") if r.subgroup in hidden else _value(r, names)}
            for r in groups]


def money_by_payer_year(engine: Engine, stored: Any, contract: Contract) -> list[dict[str, Any]]:
    """Per payer and calendar year (of the period's end): calculated, approved, paid (from the ledger) and the
    forecast's P10, P50 and P90 (``payments.forecast``), with what the payer has committed at most (its cap)."""
    from payments.forecast import contract_forecast
    from payments.ledger import current_status, read_ledger

    if contract.payments is None:
        return []
    ledger = read_ledger(engine, stored.id)
    statuses = current_status(engine, stored.id)
    try:
        forecast = contract_forecast(engine, stored)
    except Exception as exc:  # a run that may not be paid (check_run) has no forecast; said as such on the page
        from language import MessageError

        if not isinstance(exc, MessageError):
            raise
        forecast = None
    table: dict[tuple[str, int], dict[str, Any]] = {}
    zero = ZERO.quantize(quantum(contract.currency))  # written as the ledger writes amounts: 0.00

    def row(payer: str, year: int) -> dict[str, Any]:
        return table.setdefault((payer, year), {"payer": payer, "year": year, "calculated": zero, "approved": zero,
                                                "paid": zero, "forecast": None})

    for e in ledger.to_dict(orient="records") if len(ledger) else ():
        status = statuses.get(e["seq"], "calculated")
        bucket = ("calculated" if status in CALCULATED else "approved" if status in APPROVED
                  else "paid" if status in PAID else None)
        if bucket is not None:
            row(e["payer"], period_end(e["period"]).year)[bucket] += e["amount"]
    for payer, years in (forecast.by_payer_year if forecast else {}).items():
        for year, band in years.items():
            row(payer, int(year))["forecast"] = {k: Decimal(v) for k, v in band.items()}
    committed = committed_by_payer(contract)
    return [dict(r, committed=committed.get(r["payer"])) for _, r in sorted(table.items())]


def committed_by_payer(contract: Contract) -> dict[str, Decimal | None]:
    """The most each payer can owe under the contract: its own cap, else its share of the total cap, else none."""
    caps = contract.payments.caps
    return {p.party: caps.per_payer.get(p.party) if p.party in caps.per_payer
            else (None if caps.total is None else caps.total * p.share) for p in contract.payments.payers}


def business_case_of(engine: Engine, stored: Any, contract: Contract) -> Any:
    """The payer's business case (``payments.valuation``) where the contract has a valuation and its cost file is
    loaded; None otherwise."""
    from payments.valuation import ValuationError, contract_business_case

    if contract.valuation is None:
        return None
    try:
        return contract_business_case(engine, stored)
    except ValuationError:
        return None


def risks(contract: Contract, run: EvaluationRun, case: Any, names: Names,
          notices: list[str]) -> list[str]:
    """Open risks in words: unverified or pending data, warnings, flagged amounts, the ledger, the horizon."""
    w = names.w
    found = list(notices)
    pending = sum(r.n_pending for r in run.results if r.cohort == POOLED and r.subgroup is None)
    if pending:
        found.append(w.ngettext("{n} outcome is not yet observed (its window is still open).",
                                "{n} outcomes are not yet observed (their windows are still open).", pending))
    if case is not None:
        if case.probability_break_even is not None and Decimal(case.probability_break_even) < Decimal("0.9"):
            found.append(w._("The payer breaks even in only {share} of the simulations.",
                             share=w.percent(Decimal(case.probability_break_even), 0, False)))
        if any(y.projection for y in case.years):
            found.append(w._("Part of the savings fall after the contract term ({end}): a projection, not a result.",
                             end=w.day(contract.term.end)))
    return found


def build_board(engine: Engine, contract_id: str, lang: str | None = None) -> dict[str, Any]:
    """Everything the board summary shows, from the latest evaluation run."""
    from api.reports.report import TEXTS, ReportError, _first_page_notices, _flagged_amounts, run_terms
    from evaluation.run import run_outcomes
    from payments.calculate import owed_to_date
    from payments.ledger import verify_for_display

    stored = get_contract(engine, contract_id)
    if lang is not None and lang not in LANGUAGES:
        raise ReportError(TEXTS("no_language", lang=lang))
    run = get_run(engine, contract_id)
    version, lang, names = run_terms(stored, run, lang)
    contract, w = version.terms, names.w
    case = business_case_of(engine, stored, contract)
    owed = ([dict(o.__dict__) for o in owed_to_date(contract, run, run_outcomes(engine, run.id))]
            if contract.payments is not None else [])
    chain = verify_for_display(engine, contract_id)
    warnings = sum(len(r.warnings) for r in run.results if r.subgroup is None)
    notices = _first_page_notices(run, run.coverage, warnings, chain, names) + _flagged_amounts(contract, run, owed,
                                                                                                names)
    outcomes = outcome_rows(contract, run, names)
    payer_names = {p.id: p.name for p in contract.parties}
    committed = committed_by_payer(contract) if contract.payments is not None else {}
    return {
        "lang": lang, "contract": contract, "stored": stored, "version": version, "run": run, "names": names,
        "outcomes": outcomes, "money": money_by_payer_year(engine, stored, contract), "case": case,
        "amendments": [{"version": v.version, "effective": v.effective, "reason": names.reason(v.reason)}
                       for v in stored.versions if 1 < v.version <= version.version],
        "risks": risks(contract, run, case, names, notices),
        "payer_names": payer_names,
        "committed_text": "; ".join(f"{payer_names.get(p, p)} {w.money(v) if v is not None else w._('no cap')}"
                                    for p, v in committed.items()),
        "generated": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
    }


def board_json(doc: dict[str, Any]) -> dict[str, Any]:
    """The board summary as JSON (the API): the same figures, amounts as strings."""
    text = (lambda v: None if v is None else str(v))
    case = doc["case"]
    return {
        "contract": doc["contract"].id, "contract_version": doc["version"].version, "evaluation_run": doc["run"].id,
        "as_of": doc["run"].as_of.isoformat(), "language": doc["lang"], "currency": doc["contract"].currency,
        "outcomes": doc["outcomes"],
        "money": [{"payer": m["payer"], "year": m["year"], "committed": text(m["committed"]),
                   "calculated": text(m["calculated"]), "approved": text(m["approved"]), "paid": text(m["paid"]),
                   "forecast": None if m["forecast"] is None else {k: str(v) for k, v in m["forecast"].items()}}
                  for m in doc["money"]],
        "business_case": None if case is None else {
            "net_total": str(case.net_total), "net_band": None if case.net_band is None else
            {k: str(v) for k, v in case.net_band.items()}, "break_even": case.break_even,
            "probability_break_even": case.probability_break_even, "price_year": case.price_year,
            "departments": [d.as_dict() for d in case.departments], "years": [y.as_dict() for y in case.years]},
        "amendments": [dict(a, effective=a["effective"].isoformat()) for a in doc["amendments"]],
        "risks": doc["risks"],
    }


def board_body(doc: dict[str, Any]) -> str:
    """The summary's sections alone (no page around them), for the web page."""
    from api.reports.report import render_html

    return render_html(doc, "board_body.html.j2")


def write_board(doc: dict[str, Any], path: Path, kind: str = "pdf") -> Path:
    from api.reports.report import write_report

    return write_report(doc, path, kind, "board.html.j2")


def pdf_bytes(doc: dict[str, Any]) -> bytes:
    from api.reports.report import pdf_of, render_html

    return pdf_of(render_html(doc, "board.html.j2"))
