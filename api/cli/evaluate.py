"""`sib evaluate` (and `sib evaluate diff`) and `sib design power`: evaluation runs and planning."""

from __future__ import annotations

from typing import Any, Optional

import typer
from rich.table import Table

from api.cli.common import JSON_OPTION, UserError, app, out, parse_day, print_json, progress, w, UsageProblem

design_app = typer.Typer(no_args_is_help=True, help="Design a contract: power and sample size.")
app.add_typer(design_app, name="design")


@app.command()
def evaluate(contract_id: str = typer.Argument(..., metavar="CONTRACT", help="A contract, or 'diff' and two run ids."),
             runs: Optional[list[int]] = typer.Argument(None, metavar="[RUN_A RUN_B]", show_default=False),
             as_of: Optional[str] = typer.Option(None, "--as-of", help="YYYY-MM-DD (default today)."),
             include_unverified: bool = typer.Option(False, "--include-unverified",
                                                     help="Interim view: count unverified measurements (flagged)."),
             metric: Optional[str] = typer.Option(None, "--metric", help="With 'matches': the matched metric."),
             cohort: Optional[str] = typer.Option(None, "--cohort", help="With 'matches': a cohort (default pooled)."),
             csv_file: Optional[str] = typer.Option(None, "--csv", help="With 'matches': write the set to this CSV file."),
             as_json: bool = JSON_OPTION) -> None:
    """Evaluate every metric, per cohort and pooled, and store the run; or `sib evaluate diff RUN_A RUN_B`; or
    `sib evaluate matches RUN --metric M [--cohort C] [--csv FILE]`: the run's matched set (who was matched to
    whom, with weights, by pseudonym), for the intermediary."""
    from contracts.registry import get_contract
    from evaluation.run import evaluate as run_evaluation
    from store.db import open_store

    said = w()
    engine = open_store()
    if contract_id == "diff":
        _evaluate_diff(engine, runs or [], as_json)
        return
    if contract_id == "matches":
        _evaluate_matches(engine, runs or [], metric, cohort, csv_file, as_json)
        return
    if runs:
        raise UserError(said._("unexpected arguments after '{contract}'; to compare runs: sib evaluate diff RUN_A "
                               "RUN_B", contract=contract_id))
    day = parse_day(as_of)
    stored = get_contract(engine, contract_id)
    with progress(said._("Evaluating {contract}", contract=contract_id)) as shown:
        def told(done: int, total: int, metric: str | None) -> None:  # metrics evaluated of the contract's
            shown.at(done, total, said._("Evaluating {contract}: {metric}", contract=contract_id, metric=metric)
                     if metric else None)

        run = run_evaluation(engine, stored, day, include_unverified=include_unverified, progress=told)
    if as_json:
        print_json(run_json(run.as_dict()))
    else:
        _print_run(run)
    if run.reused and not run.reproduced:
        raise UserError(said._("run {run} was NOT reproduced: the same inputs gave other numbers; 'sib evaluate diff' "
                               "cannot explain this, the computation is not deterministic", run=run.id))


def run_json(data: dict[str, Any]) -> dict[str, Any]:
    """A run as JSON, each warning and each standard error's kind with its code, parameters and text."""
    said = w()
    return dict(data, results=[dict(r, se_kind=said.explained(r["se_kind"]) if r.get("se_kind") else None)
                               for r in said.explained_results(data["results"])])


def effect_text(estimate: float | None, low: float | None, high: float | None, digits: int | None = 3) -> str:
    """−1.300 [−12.978, 10.378]: the estimate and its 95 % confidence interval."""
    said = w()
    if estimate is None:
        return said._("no effect estimate")
    interval = (f" [{said.number(low, digits)}, {said.number(high, digits)}]" if low is not None
                else " " + said._("[no CI]"))
    return said.number(estimate, digits) + interval


def se_text(se: float | None, kind: Any) -> str:
    """0.633 (Welch (unequal variances)): the standard error and which kind it is; a dash without one."""
    said = w()
    if se is None:
        return said.number(None)
    return said.number(se) + (f" ({said.message(kind)})" if kind else "")


def _print_run(run: Any) -> None:
    said = w()
    values = dict(run=run.id, contract=run.contract_id, as_of=run.as_of.isoformat(), version=run.contract_version)
    if run.reused and run.reproduced:
        out.print(said._("Evaluation run {run} of '{contract}' as of {as_of}, contract version {version} (reproduced "
                         "exactly: same inputs, version and code, every number equal)", **values))
    else:
        out.print(said._("Evaluation run {run} of '{contract}' as of {as_of}, contract version {version}", **values))
    table = Table(said._("outcome metric"), said._("cohort"), said._("design"), pgettext_n(), said._("n comp."),
                  said._("treated"), said._("counterfactual"), said._("effect [95 % CI]"), said._("SE (kind)"),
                  said.pgettext("statistics", "p"),
                  said._("warnings"))
    for r in run.results:
        cohort = r.cohort + (f" · {r.subgroup}" if r.subgroup else "")
        table.add_row(r.metric, cohort, said.label("design", r.design), str(r.n_treated), str(r.n_comparison),
                      said.number(r.treated_mean), said.number(r.counterfactual_mean),
                      effect_text(r.estimate, r.ci_low, r.ci_high) if r.is_effect else said._("monitoring only"),
                      se_text(r.se, r.se_kind), said.p_value(r.p_value), str(len(r.warnings)) if r.warnings else "")
    out.print(table)
    for line in sensitivity_lines(run.results):
        out.print(line)
    out.print(said._("Warnings are listed in full by --json and in the report."))


def sensitivity_lines(results: list[Any]) -> list[str]:
    """Per effect: its E-value, Rosenbaum's Γ*, the event study's bands; per time-to-event result: its curves' ends."""
    said = w()
    lines = []
    for r in results:
        if r.subgroup:
            continue
        where = f"{r.metric} · {r.cohort}: "
        found = r.diagnostics.get("sensitivity") or {}
        parts = []
        ev = found.get("e_value") or {}
        if ev.get("e_value") is not None:
            parts.append(said._("E-value {e:num2} (confidence limit {ci})", e=ev["e_value"],
                                ci=said.number(ev.get("e_value_ci"), 2)))
        elif ev.get("warning"):
            parts.append(said.message(ev["warning"]))
        rb = found.get("rosenbaum") or {}
        if rb.get("gamma") is not None:
            parts.append(said._("Rosenbaum Γ* {gamma:num2} ({test})", gamma=rb["gamma"],
                                test=said.label("rosenbaum_test", rb["test"]))
                         + (" " + said._("or more") if rb.get("gamma_above") else ""))
        elif rb.get("warning"):
            parts.append(said.message(rb["warning"]))
        es = found.get("event_study") or {}
        if es.get("critical_value") is not None:
            parts.append(said._("event study: sup-t critical value {c:num2}, {n} period(s) before the start with a "
                                "band excluding zero", c=es["critical_value"], n=es["pre_periods_excluding_zero"]))
        info = r.diagnostics.get("survival")
        if info:
            arms = info["arms"]
            text = said._("event-free at day {tau}: treated {t:percent}", tau=int(info["tau_days"]),
                          t=arms["treated"]["event_free"])
            if "comparison" in arms:
                text += ", " + said._("comparison {c:percent}; RMST difference {d:num1} days",
                                      c=arms["comparison"]["event_free"], d=info["rmst_difference"]["estimate"])
                if (info.get("log_rank") or {}).get("p_value") is not None:
                    text += "; " + said._("log-rank p = {p:p}", p=info["log_rank"]["p_value"])
                if (info.get("cox") or {}).get("hazard_ratio") is not None:
                    text += "; " + said._("Cox hazard ratio {hr:num2}", hr=info["cox"]["hazard_ratio"])
            parts.insert(0, text)
        if parts:
            lines.append(where + "; ".join(parts))
    return lines


def pgettext_n() -> str:
    return w().pgettext("statistics", "n")


def _evaluate_matches(engine: Any, runs: list[int], metric: str | None, cohort: str | None, csv_file: str | None,
                      as_json: bool) -> None:
    """A run's matched set by pseudonym: recomputed from the run and checked against its stored estimate."""
    from evaluation.matching import matched_set

    said = w()
    if len(runs) != 1 or not metric:
        raise UserError(said._("sib evaluate matches needs one run id and a metric: sib evaluate matches RUN "
                               "--metric METRIC [--cohort COHORT] [--csv FILE]"))
    pairs, summary = matched_set(engine, runs[0], metric, cohort)
    if csv_file:
        pairs.to_csv(csv_file, index=False, float_format="%.17g")
    if as_json:
        print_json(dict(summary, matches=pairs.to_dict(orient="records") if not csv_file else None, csv=csv_file))
        return
    out.print(said._("Matched set of run {run}, {metric}, {cohort}: {treated} treated matched to {controls} pool "
                     "members in {pairs} pairs (weights 1 / number of matches; ties shared)", **summary))
    if csv_file:
        out.print(said._("written to {file}", file=csv_file))
        return
    table = Table(said._("treated"), said._("control"), said._("weight"))
    for row in pairs.itertuples(index=False):
        table.add_row(row.treated, row.control, said.number(row.weight, 4))
    out.print(table)


def _evaluate_diff(engine: Any, runs: list[int], as_json: bool) -> None:
    from contracts.registry import get_contract
    from evaluation.diff import diff_runs
    from evaluation.run import get_run_by_id

    said = w()
    if len(runs) != 2:
        raise UserError(said._("sib evaluate diff needs two run ids: sib evaluate diff RUN_A RUN_B"))
    a, b = (get_run_by_id(engine, r) for r in runs)
    reasons = {v.version: v.reason for v in get_contract(engine, b.contract_id).versions}
    result = diff_runs(a, b, reasons)
    if as_json:
        print_json(said.explained_diff(result))
        return
    out.print(said._("From run {a} to run {b}:", a=a.id, b=b.id))
    for line in result["explanation"]:
        out.print(f"  {said.message(line)}")
    if result["results"]:
        table = Table(said._("outcome metric"), said._("cohort"), said._("what changed"))
        for entry in result["results"]:
            if "only_in" in entry:
                what = said._("only in run {run}", run=entry["only_in"])
            else:
                what = "; ".join(f"{said.label('field', k)} {_value(v[0])} → {_value(v[1])}"
                                 for k, v in entry["changed"].items())
                if entry["warnings_added"]:
                    what += ("; " if what else "") + said._("new warning: {warning}",
                                                            warning=said.message(entry["warnings_added"][0]))
            table.add_row(entry["metric"], entry["cohort"] + (f" · {entry['subgroup']}" if entry["subgroup"] else ""),
                          what)
        out.print(table)


def _value(value: Any) -> str:
    return w().number(value, None) if isinstance(value, float) else str(value)


@design_app.command("power")
def design_power(kind: str = typer.Option(..., "--kind", help="proportion (a binary outcome) or mean."),
                 baseline: float = typer.Option(..., "--baseline", help="The proportion or mean without the intervention."),
                 n: Optional[int] = typer.Option(None, "--n", help="Participants per group: gives the minimum detectable effect."),
                 effect: Optional[float] = typer.Option(None, "--effect", help="An absolute effect: gives the n needed."),
                 sd: Optional[float] = typer.Option(None, "--sd", help="Standard deviation of the outcome (means)."),
                 layout: str = typer.Option("two_sample", "--layout",
                                            help="two_sample (against a comparison group) or one_sample (against a "
                                                 "contracted value)."),
                 ratio: float = typer.Option(1.0, "--ratio", help="Comparison group size per participant."),
                 direction: Optional[str] = typer.Option(
                     None, "--direction", help="The change that improves the outcome: rise or fall (or the metric's "
                     "higher_is_better or lower_is_better); needed with --kind proportion and --n."),
                 alpha: float = typer.Option(0.05, "--alpha"), power: float = typer.Option(0.8, "--power"),
                 as_json: bool = JSON_OPTION) -> None:
    """The minimum detectable effect for n participants, or the n needed for an effect."""
    from evaluation.power import CHANGE_FOR, minimum_detectable_effect, required_n

    said = w()
    if kind not in ("proportion", "mean"):
        raise UsageProblem(said._("--kind '{kind}' is not allowed; expected proportion or mean", kind=kind))
    if layout not in ("one_sample", "two_sample"):
        raise UsageProblem(said._("--layout '{layout}' is not allowed; expected one_sample or two_sample",
                                  layout=layout))
    if (n is None) == (effect is None):
        raise UserError(said._("give either --n (for the minimum detectable effect) or --effect (for the n needed)"))
    change = CHANGE_FOR.get(direction, direction) if direction is not None else None
    if change not in (None, "rise", "fall"):
        raise UsageProblem(said._("--direction '{direction}' is not allowed; expected rise or fall",
                                  direction=direction))
    if kind == "proportion" and n is not None and change is None:
        raise UserError(said._("a proportion's minimum detectable effect is not the same for a rise and a fall: give "
                               "--direction rise or --direction fall"))
    if change is not None and effect is not None and (effect > 0) != (change == "rise"):
        raise UsageProblem(said._("--effect {effect} is not a {change}", effect=effect,
                               change=said._("rise") if change == "rise" else said._("fall")))
    result = (minimum_detectable_effect(kind, layout, n, baseline, sd, alpha, power, ratio, change)  # type: ignore[arg-type]
              if n is not None
              else required_n(kind, layout, effect, baseline, sd, alpha, power, ratio))  # type: ignore[arg-type]
    if as_json:
        print_json(result.as_dict())
    elif n is not None and change is not None:
        out.print(said._("With {n} participants per group ({layout}, alpha {alpha:sig}, power {power:percent}), the "
                         "minimum detectable {change} is {effect:sig} ({relative:percent} of {baseline:sig}).", n=n,
                         layout=layout.replace("_", "-"), alpha=alpha, power=power, effect=result.effect,
                         relative=result.relative, baseline=baseline,
                         change=said._("rise") if change == "rise" else said._("fall")))
    elif n is not None:
        out.print(said._("With {n} participants per group ({layout}, alpha {alpha:sig}, power {power:percent}), the "
                         "minimum detectable effect is {effect:sig} ({relative:percent} of {baseline:sig}).", n=n,
                         layout=layout.replace("_", "-"), alpha=alpha, power=power, effect=result.effect,
                         relative=result.relative, baseline=baseline))
    else:
        out.print(said._("To detect an effect of {effect:sig} ({relative:percent} of {baseline:sig}) with power "
                         "{power:percent} at alpha {alpha:sig}, you need {n} participants per group ({layout}).",
                         effect=effect, relative=result.relative, baseline=baseline, power=power, alpha=alpha,
                         n=result.n, layout=layout.replace("_", "-")))
