"""`sib evaluate` (and `sib evaluate diff`) and `sib design power`: evaluation runs and planning."""

from __future__ import annotations

from typing import Any, Optional

import typer
from rich.table import Table

from api.cli.common import JSON_OPTION, UserError, app, out, parse_day, print_json, progress
from language import formatting as fmt

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

    engine = open_store()
    if contract_id == "diff":
        _evaluate_diff(engine, runs or [], as_json)
        return
    if runs:
        raise UserError(f"unexpected arguments after {contract_id!r}; to compare runs: sib evaluate diff RUN_A RUN_B")
    day = parse_day(as_of)
    stored = get_contract(engine, contract_id)
    with progress(f"Evaluating {contract_id}"):
        run = run_evaluation(engine, stored, day, include_unverified=include_unverified)
    if as_json:
        print_json(run.as_dict())
    else:
        _print_run(run)
    if run.reused and not run.reproduced:
        raise UserError(f"run {run.id} was NOT reproduced: the same inputs gave other numbers; "
                        f"'sib evaluate diff' cannot explain this, the computation is not deterministic")


def _print_run(run: Any) -> None:
    if run.reused:
        note = " (reproduced exactly: same inputs, version and code, every number equal)" if run.reproduced else ""
    else:
        note = ""
    out.print(f"Evaluation run {run.id} of {run.contract_id!r} as of {run.as_of}, contract version {run.contract_version}{note}")
    table = Table("metric", "cohort", "design", "n", "n comp.", "treated", "counterfactual", "effect [95 % CI]", "p",
                  "warnings")
    for r in run.results:
        cohort = r.cohort + (f" · {r.subgroup}" if r.subgroup else "")
        table.add_row(r.metric, cohort, r.design, str(r.n_treated), str(r.n_comparison), fmt.number(r.treated_mean),
                      fmt.number(r.counterfactual_mean),
                      fmt.effect(r.estimate, r.ci_low, r.ci_high) if r.is_effect else "monitoring only",
                      fmt.p_value(r.p_value), str(len(r.warnings)) if r.warnings else "")
    out.print(table)
    out.print("Warnings are listed in full by --json and in the report.")


def _evaluate_diff(engine: Any, runs: list[int], as_json: bool) -> None:
    from contracts.registry import get_contract
    from evaluation.diff import diff_runs
    from evaluation.run import get_run_by_id

    if len(runs) != 2:
        raise UserError("sib evaluate diff needs two run ids: sib evaluate diff RUN_A RUN_B")
    a, b = (get_run_by_id(engine, r) for r in runs)
    reasons = {v.version: v.reason for v in get_contract(engine, b.contract_id).versions}
    result = diff_runs(a, b, reasons)
    if as_json:
        print_json(result)
        return
    out.print(f"From run {a.id} to run {b.id}:")
    for line in result["explanation"]:
        out.print(f"  {line}")
    if result["results"]:
        table = Table("metric", "cohort", "what changed")
        for entry in result["results"]:
            if "only_in" in entry:
                what = f"only in run {entry['only_in']}"
            else:
                what = "; ".join(f"{k} {fmt.number(v[0], None) if isinstance(v[0], float) else v[0]} → "
                                 f"{fmt.number(v[1], None) if isinstance(v[1], float) else v[1]}"
                                 for k, v in entry["changed"].items())
                if entry["warnings_added"]:
                    what += ("; " if what else "") + f"new warning: {entry['warnings_added'][0]}"
            table.add_row(entry["metric"], entry["cohort"] + (f" · {entry['subgroup']}" if entry["subgroup"] else ""), what)
        out.print(table)


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
    from evaluation.power import PowerError, minimum_detectable_effect, required_n

    if kind not in ("proportion", "mean"):
        raise UserError(f"--kind {kind!r} is not allowed; expected proportion or mean")
    if layout not in ("one_sample", "two_sample"):
        raise UserError(f"--layout {layout!r} is not allowed; expected one_sample or two_sample")
    if (n is None) == (effect is None):
        raise UserError("give either --n (for the minimum detectable effect) or --effect (for the n needed)")
    try:
        result = (minimum_detectable_effect(kind, layout, n, baseline, sd, alpha, power, ratio) if n is not None  # type: ignore[arg-type]
                  else required_n(kind, layout, effect, baseline, sd, alpha, power, ratio))  # type: ignore[arg-type]
    except PowerError as exc:
        raise UserError(str(exc)) from None
    if as_json:
        print_json(result.as_dict())
    elif n is not None:
        out.print(f"With {n:,} participants per group ({layout.replace('_', '-')}, alpha {alpha:g}, power {power:.0%}), "
                  f"the minimum detectable effect is {result.effect:.4g} ({result.relative:.1%} of {baseline:g}).")
    else:
        out.print(f"To detect an effect of {effect:g} ({result.relative:.1%} of {baseline:g}) with power {power:.0%} "
                  f"at alpha {alpha:g}, you need {result.n:,} participants per group ({layout.replace('_', '-')}).")
