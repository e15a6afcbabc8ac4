"""`sib evaluate` (and `sib evaluate diff`) and `sib design power`: evaluation runs and planning."""

from __future__ import annotations

from typing import Any, Optional

import typer
from rich.table import Table

from api.cli.common import JSON_OPTION, UserError, app, out, parse_day, print_json, progress, w

design_app = typer.Typer(no_args_is_help=True, help="Design a contract: power and sample size.")
app.add_typer(design_app, name="design")


@app.command()
def evaluate(contract_id: str = typer.Argument(..., metavar="CONTRACT", help="A contract, or 'diff' and two run ids."),
             runs: Optional[list[int]] = typer.Argument(None, metavar="[RUN_A RUN_B]", show_default=False),
             as_of: Optional[str] = typer.Option(None, "--as-of", help="YYYY-MM-DD (default today)."),
             include_unverified: bool = typer.Option(False, "--include-unverified",
                                                     help="Interim view: count unverified measurements (flagged)."),
             as_json: bool = JSON_OPTION) -> None:
    """Evaluate every metric, per cohort and pooled, and store the run; or `sib evaluate diff RUN_A RUN_B`."""
    from contracts.registry import get_contract
    from evaluation.run import evaluate as run_evaluation
    from store.db import open_store

    said = w()
    engine = open_store()
    if contract_id == "diff":
        _evaluate_diff(engine, runs or [], as_json)
        return
    if runs:
        raise UserError(said._("unexpected arguments after '{contract}'; to compare runs: sib evaluate diff RUN_A "
                               "RUN_B", contract=contract_id))
    day = parse_day(as_of)
    stored = get_contract(engine, contract_id)
    with progress(said._("Evaluating {contract}", contract=contract_id)):
        run = run_evaluation(engine, stored, day, include_unverified=include_unverified)
    if as_json:
        print_json(run_json(run.as_dict()))
    else:
        _print_run(run)
    if run.reused and not run.reproduced:
        raise UserError(said._("run {run} was NOT reproduced: the same inputs gave other numbers; 'sib evaluate diff' "
                               "cannot explain this, the computation is not deterministic", run=run.id))


def run_json(data: dict[str, Any]) -> dict[str, Any]:
    """A run as JSON, each warning with its code, parameters and text."""
    return dict(data, results=w().explained_results(data["results"]))


def effect_text(estimate: float | None, low: float | None, high: float | None, digits: int | None = 3) -> str:
    """−1.300 [−12.978, 10.378]: the estimate and its 95 % confidence interval."""
    said = w()
    if estimate is None:
        return said._("no effect estimate")
    interval = (f" [{said.number(low, digits)}, {said.number(high, digits)}]" if low is not None
                else " " + said._("[no CI]"))
    return said.number(estimate, digits) + interval


def _print_run(run: Any) -> None:
    said = w()
    values = dict(run=run.id, contract=run.contract_id, as_of=run.as_of.isoformat(), version=run.contract_version)
    if run.reused and run.reproduced:
        out.print(said._("Evaluation run {run} of '{contract}' as of {as_of}, contract version {version} (reproduced "
                         "exactly: same inputs, version and code, every number equal)", **values))
    else:
        out.print(said._("Evaluation run {run} of '{contract}' as of {as_of}, contract version {version}", **values))
    table = Table(said._("outcome metric"), said._("cohort"), said._("design"), pgettext_n(), said._("n comp."),
                  said._("treated"), said._("counterfactual"), said._("effect [95 % CI]"), said.pgettext("statistics", "p"),
                  said._("warnings"))
    for r in run.results:
        cohort = r.cohort + (f" · {r.subgroup}" if r.subgroup else "")
        table.add_row(r.metric, cohort, said.label("design", r.design), str(r.n_treated), str(r.n_comparison),
                      said.number(r.treated_mean), said.number(r.counterfactual_mean),
                      effect_text(r.estimate, r.ci_low, r.ci_high) if r.is_effect else said._("monitoring only"),
                      said.p_value(r.p_value), str(len(r.warnings)) if r.warnings else "")
    out.print(table)
    out.print(said._("Warnings are listed in full by --json and in the report."))


def pgettext_n() -> str:
    return w().pgettext("statistics", "n")


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
                 alpha: float = typer.Option(0.05, "--alpha"), power: float = typer.Option(0.8, "--power"),
                 as_json: bool = JSON_OPTION) -> None:
    """The minimum detectable effect for n participants, or the n needed for an effect."""
    from evaluation.power import minimum_detectable_effect, required_n

    said = w()
    if kind not in ("proportion", "mean"):
        raise UserError(said._("--kind '{kind}' is not allowed; expected proportion or mean", kind=kind))
    if layout not in ("one_sample", "two_sample"):
        raise UserError(said._("--layout '{layout}' is not allowed; expected one_sample or two_sample", layout=layout))
    if (n is None) == (effect is None):
        raise UserError(said._("give either --n (for the minimum detectable effect) or --effect (for the n needed)"))
    result = (minimum_detectable_effect(kind, layout, n, baseline, sd, alpha, power, ratio) if n is not None  # type: ignore[arg-type]
              else required_n(kind, layout, effect, baseline, sd, alpha, power, ratio))  # type: ignore[arg-type]
    if as_json:
        print_json(result.as_dict())
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
