"""An evaluation run: every metric of a contract, per cohort and pooled, stored immutably.

A run records the contract version it used, the fingerprint of its inputs,
its parameters and the code version.  Evaluating again on the same inputs
with the same parameters finds the stored run instead of adding a new one:
runs are reproducible and append-only.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import date
from typing import Any, Callable

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from contracts.model import Contract, Metric
from contracts.registry import StoredContract
from evaluation import designs, did, sensitivity, staggered, survival, synth
from evaluation.inputs import Inputs, load_inputs
from evaluation.outcomes import participant_outcomes
from evaluation.errors import UnknownRun
from evaluation.messages import TEXTS as W
from evaluation.result import POOLED, EffectResult
from store.db import actor, record_audit, storable_id
from store.bulk import bulk_insert, read_frame
from store.tables import EvaluationOutcomeRow, EvaluationRunRow
from store.version import code_version

UNVERIFIED = W("interim")


@dataclass(frozen=True)
class EvaluationRun:
    id: int
    contract_id: str
    contract_version: int
    as_of: date
    include_unverified: bool
    inputs_fingerprint: str
    code_version: str
    results: list[EffectResult]
    coverage: dict[str, Any]
    reused: bool = False  # an earlier run with the same inputs, version, parameters and code
    reproduced: bool | None = None  # when reused: whether recomputing gave every number again

    def result(self, metric: str, cohort: str = POOLED, subgroup: str | None = None) -> EffectResult | None:
        return next((r for r in self.results if r.metric == metric and r.cohort == cohort and r.subgroup == subgroup),
                    None)

    def as_dict(self) -> dict[str, Any]:
        return {
            "run": self.id, "contract": self.contract_id, "contract_version": self.contract_version,
            "as_of": self.as_of.isoformat(), "include_unverified": self.include_unverified,
            "inputs_fingerprint": self.inputs_fingerprint, "code_version": self.code_version,
            "reused": self.reused, "reproduced": self.reproduced, "coverage": self.coverage,
            "results": [r.to_dict() for r in self.results],
        }


Progress = Callable[[int, int, Any], None]  # (done, total, what is being done now)


def has_achievement(metric: Metric) -> bool:
    return metric.kind == "binary" or metric.achieved_when is not None


def evaluate_metric(inputs: Inputs, metric: Metric, contract: Contract, as_of: date) -> list[EffectResult]:
    """Per-cohort results, the pooled one, then the pooled one within each stated subgroup."""
    if metric.anonymous:
        return [anonymous_answers(inputs, metric)]
    if metric.instrument and metric.evaluation.design == "monitoring":
        return _survey_question(inputs, metric, contract, as_of)
    if metric.kind == "time_to_event":  # censored follow-up: Kaplan–Meier, log-rank, RMST, Cox (evaluation.survival)
        return survival.evaluate_metric(inputs, metric, contract, as_of)
    outcomes = participant_outcomes(inputs, metric, as_of)
    design = metric.evaluation.design
    cohorts = [c.id for c in contract.cohorts]
    if design == "historical_cohort":
        cohorts = [c for c in cohorts if c != metric.evaluation.comparison_cohort]
    results = [_evaluate_group(outcomes, metric, as_of, inputs, [c], c) for c in cohorts]
    if len(cohorts) > 1:
        results.append(_evaluate_group(outcomes, metric, as_of, inputs, cohorts, POOLED))
    elif results:
        pooled = EffectResult.from_dict(results[0].to_dict())
        pooled.cohort = POOLED
        results.append(pooled)
    results += _subgroups(outcomes, metric, as_of, inputs, cohorts)
    return results


def _subgroups(outcomes: pd.DataFrame, metric: Metric, as_of: date, inputs: Inputs,
               cohorts: list[str]) -> list[EffectResult]:
    """The pooled effect within each level of each stated subgroup attribute, with a multiple-comparisons note.

    Comparison units are split by the same attribute, so each subgroup is compared like with like.
    """
    found: list[EffectResult] = []
    for group in metric.evaluation.subgroups:
        if group.attribute not in outcomes.columns:
            continue
        for label, members in _levels(outcomes[group.attribute], group):
            result = _evaluate_group(outcomes[members], metric, as_of, inputs, cohorts, POOLED)
            result.subgroup = f"{group.attribute} {label}"
            found.append(result)
    tested = [r for r in found if r.p_value is not None]
    for r in found:
        r.diagnostics["comparisons"] = len(tested)
        if r.p_value is not None:
            r.diagnostics["p_value_bonferroni"] = min(1.0, r.p_value * len(tested))
        r.warnings.append(W("subgroup", of=len(found), tests=len(tested)))
    return found


def _levels(values: pd.Series, group: Any) -> list[tuple[str, pd.Series]]:
    if group.bands:
        edges = [float(b) for b in group.bands]
        numbers = pd.to_numeric(values, errors="coerce")
        return [(f"{_edge(low)}–{_edge(high - 1) if float(high).is_integer() else _edge(high)}",
                 (numbers >= low) & (numbers < high)) for low, high in zip(edges[:-1], edges[1:])]
    return [(str(level), values == level) for level in sorted(values.dropna().unique(), key=str)]


def _edge(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def _favourable(metric: Metric, codes: pd.Series) -> pd.Series:
    """1 for the instrument's favourable answers, 0 for the others, missing for "don't know" (never a score)."""
    from contracts import instruments

    favourable = instruments.question_of(metric).favourable
    return codes.isin(favourable).astype(float).where(codes.notna())


def _survey_question(inputs: Inputs, metric: Metric, contract: Contract, as_of: date) -> list[EffectResult]:
    """A linked survey question per cohort and pooled: the share of favourable answers, as the follow-up reports."""
    outcomes = participant_outcomes(inputs, metric, as_of)
    answered = outcomes[(outcomes["arm"] == "treatment") & outcomes["closed"] & (outcomes["n_measurements"] > 0)]
    cohorts = [c.id for c in contract.cohorts]
    m = inputs.measurements
    dont_know = m.loc[(m["metric"] == metric.id) & m["value"].isna(), "participant_id"].unique()  # "vet inte"
    results = []
    for label, members in [*((c, [c]) for c in cohorts), (POOLED, cohorts)]:
        mine = answered[answered["cohort"].isin(members)]["value"]
        unsure = outcomes[outcomes["cohort"].isin(members) & (outcomes["arm"] == "treatment") & outcomes["closed"]
                          & (outcomes["n_measurements"] == 0) & outcomes["participant_id"].isin(dont_know)]
        results.append(designs.favourable_share(metric, label, _favourable(metric, mine), len(unsure)))
    return results


def anonymous_answers(inputs: Inputs, metric: Metric) -> EffectResult:
    """Anonymous survey answers have no participant, so no window and no cohort: all answers to date, in aggregate,
    as the share of favourable answers."""
    answers = inputs.answers[inputs.answers["metric"] == metric.id]
    result = designs.favourable_share(metric, POOLED, _favourable(metric, answers["value"]),
                                      int(answers["value"].isna().sum()))
    result.diagnostics["answers_by_unit"] = {str(u): int(n) for u, n in answers["unit"].fillna("").value_counts().sort_index().items()}
    result.diagnostics["dont_know"] = int(answers["value"].isna().sum())
    result.warnings.append(W("anonymous"))
    return result


def _evaluate_group(outcomes: pd.DataFrame, metric: Metric, as_of: date, inputs: Inputs,
                    cohorts: list[str], label: str) -> EffectResult:
    ev = metric.evaluation
    in_group = outcomes["cohort"].isin(cohorts)
    treated_all = outcomes[in_group & (outcomes["arm"] == "treatment")]
    treated = treated_all[treated_all["closed"]]
    design = ev.design
    extra: dict = {}  # sensitivity analyses beyond the E-value (evaluation.sensitivity)
    if design == "monitoring":
        result = designs.monitoring(metric, label, treated["value"])
    elif design == "fixed_baseline":
        result = designs.fixed_baseline(metric, label, treated["value"])
    elif design == "randomised":
        control = outcomes[in_group & (outcomes["arm"] == "control") & outcomes["closed"]]
        result = designs.randomised(metric, label, treated, control)
    elif design == "historical_cohort":
        earlier = outcomes[(outcomes["cohort"] == ev.comparison_cohort) & outcomes["closed"]]
        result = designs.two_groups(metric, label, treated["value"], earlier["value"])
    elif design == "pre_post":
        before = participant_outcomes(inputs, metric, as_of, window=ev.pre_window).set_index("participant_id")["value"]
        after = treated.set_index("participant_id")["value"]
        result = designs.paired(metric, label, before.reindex(after.index), after)
    elif design == "matched_comparison":
        result = designs.matched(metric, label, *matching_frames(outcomes, in_group, cohorts, ev))
    elif design == "synthetic_control":  # units over periods, one treated unit against a weighted average
        pool, _ = _comparison_pool(outcomes, cohorts, [])
        units = pd.concat([treated_all, pool])[["participant_id", "arm", "start"]]
        result = synth.estimate(did.panel(inputs, metric, as_of, units), metric, label)
    else:  # difference_in_differences
        pool, _ = _comparison_pool(outcomes, cohorts, [])
        units = pd.concat([treated_all, pool])[["participant_id", "arm", "start"]]
        if ev.staggered == "callaway_santanna":  # calendar periods, groups by start (evaluation.staggered)
            data = staggered.panel(inputs, metric, as_of, units)
            result = staggered.estimate(data, metric, label)
        else:
            data = did.panel(inputs, metric, as_of, units)
            result = did.estimate(data, metric, label)
        if result.is_effect and result.estimate is not None and ev.staggered is None:
            extra["event_study"] = sensitivity.event_study(data, float(ev.alpha))

    closed = outcomes.loc[outcomes["closed"] & (in_group | (outcomes["arm"] != "treatment")), "value"]
    sensitivity.attach(result, metric.kind, sensitivity.outcome_sd(closed), extra)
    if has_achievement(metric):
        result.n_achieved = int(treated["achieved"].dropna().astype(bool).sum())
    result.n_pending = int((~treated_all["closed"]).sum())
    if result.n_pending:
        result.warnings.append(W("window_open", n=result.n_pending))
    if metric.window.after != "enrolment" and "no_anchor" in treated_all:
        no_anchor = int(treated_all["no_anchor"].sum())
        if no_anchor:
            result.warnings.append(W("window_no_exit", n=no_anchor) if metric.window.after == "exit"
                                   else W("window_no_event", n=no_anchor, event=metric.window.event))
        result.diagnostics["window_not_begun"] = no_anchor
    if result.n_treated < ev.min_n:
        result.warnings.append(W("too_few", n=result.n_treated, min_n=ev.min_n))
    missing = int(treated["value"].isna().sum())
    result.diagnostics["missing_outcomes"] = missing
    # Participants with no measurement in the window whose outcome the missing-data rule supplied (zero, or
    # not achieved): a payer approving an amount must see how much of it rests on the rule, not on data.
    by_rule = int((treated["n_measurements"] == 0).sum()) if metric.missing != "exclude" and "n_measurements" in treated else 0
    result.diagnostics["counted_by_missing_rule"] = by_rule
    if missing and metric.missing == "exclude":
        result.warnings.append(W("missing_excluded", n=missing))
    return result


def matching_frames(outcomes: pd.DataFrame, in_group: pd.Series, cohorts: list[str],
                    ev: Any) -> tuple[pd.DataFrame, pd.DataFrame, list[str], np.ndarray]:
    """Treated with a closed outcome (a copy), the pool as the outcomes frame itself with the positions of its
    members with a closed outcome (matching copies what it reads once: with a national register as the pool,
    every copy is gigabytes), and the exact-match columns."""
    exact = list(ev.exact)
    comparison = (outcomes["arm"] == "comparison").to_numpy()
    if outcomes.loc[comparison, "cohort"].notna().any():  # a pool with cohorts: the same period (as _comparison_pool)
        comparison &= outcomes["cohort"].isin(cohorts).to_numpy()
        exact.append("cohort")
    wanted = [*ev.covariates, *exact, *ev.squares, *(c for pair in ev.interactions for c in pair),
              "value", "participant_id", "person_key"]
    columns = [c for c in dict.fromkeys(wanted) if c in outcomes.columns]
    ready = (outcomes["closed"] & outcomes["value"].notna()).to_numpy()
    treated = (in_group & (outcomes["arm"] == "treatment")).to_numpy() & ready
    return outcomes.loc[treated, columns], outcomes, exact, np.flatnonzero(comparison & ready)


def _comparison_pool(outcomes: pd.DataFrame, cohorts: list[str], exact: list[str]) -> tuple[pd.DataFrame, list[str]]:
    """Comparison units from the same period: pool members of the same cohorts when the pool has cohorts."""
    pool = outcomes[outcomes["arm"] == "comparison"]
    if pool["cohort"].notna().any():
        return pool[pool["cohort"].isin(cohorts)], exact + ["cohort"]
    return pool, exact


def coverage(inputs: Inputs, contract: Contract) -> dict[str, Any]:
    """Data coverage for the report: participants by arm, measurements and the verified share."""
    arms = inputs.enrolments.drop_duplicates("participant_id")["arm"].value_counts()
    m = inputs.measurements
    return {
        "participants": {arm: int(n) for arm, n in sorted(arms.items())},
        "measurements": int(len(m)),
        "verified_share": float(m["verified"].mean()) if len(m) else None,
        "by_metric": {metric.id: int((m["metric"] == metric.id).sum()) for metric in contract.metrics},
    }


def evaluate(engine: Engine, stored: StoredContract, as_of: date, *, include_unverified: bool = False,
             actor_name: str | None = None, progress: Progress | None = None) -> EvaluationRun:
    """Evaluate every metric as of ``as_of`` with the contract version then in effect; ``progress(done, total,
    what)`` is told after the inputs are read and after each metric (the CLI's bar)."""
    version = stored.as_of(as_of)
    contract = version.terms
    inputs = load_inputs(engine, stored.id, as_of, include_unverified)
    fingerprint = inputs.fingerprint()
    code = code_version()
    parameters = {"as_of": as_of.isoformat(), "include_unverified": include_unverified,
                  "contract_version": version.version, "contract_fingerprint": version.fingerprint}

    with engine.connect() as conn:
        earlier = conn.execute(
            sa.select(EvaluationRunRow).where(
                EvaluationRunRow.contract_id == stored.id, EvaluationRunRow.inputs_fingerprint == fingerprint,
                EvaluationRunRow.code_version == code,
            ).order_by(EvaluationRunRow.id)
        ).all()
    payload = compute(inputs, contract, as_of, include_unverified, progress)
    for row in earlier:
        if row.parameters == parameters:
            # Same inputs, version, parameters and code: the stored run, checked number by number.
            stored_run = _from_row(row, reused=True)
            return dataclasses.replace(stored_run, reproduced=row.results == payload)
    with engine.begin() as conn:
        run_id = conn.execute(
            sa.insert(EvaluationRunRow).returning(EvaluationRunRow.id),
            {"contract_id": stored.id, "contract_version": version.version, "as_of": as_of,
             "include_unverified": include_unverified, "inputs_fingerprint": fingerprint,
             "parameters": parameters, "code_version": code, "results": payload,
             "created_by": actor_name or actor()},
        ).scalar_one()
        outcomes = paid_outcomes(inputs, contract, as_of)
        if len(outcomes):
            rows = list(zip(outcomes["metric"], outcomes["participant_id"].tolist(), outcomes["cohort"],
                            [None if v != v else v for v in outcomes["value"].tolist()], outcomes["achieved"].tolist()))
            bulk_insert(conn, EvaluationOutcomeRow.__table__, ["metric", "participant_id", "cohort", "value", "achieved"],
                        rows, {"run_id": run_id})
        record_audit(conn, "evaluation.run", stored.id, {"run": run_id, "as_of": as_of.isoformat()}, actor_name)
    return EvaluationRun(run_id, stored.id, version.version, as_of, include_unverified, fingerprint, code,
                         [EffectResult.from_dict(r) for r in payload["results"]], payload["coverage"])


def compute(inputs: Inputs, contract: Contract, as_of: date, include_unverified: bool,
            progress: Progress | None = None) -> dict[str, Any]:
    """Every result and the data coverage, as the JSON-ready payload a run stores."""
    results = []
    for done, metric in enumerate(contract.metrics):
        if progress is not None:
            progress(done, len(contract.metrics), metric.id)
        results += evaluate_metric(inputs, metric, contract, as_of)
    if progress is not None:
        progress(len(contract.metrics), len(contract.metrics), None)
    if include_unverified:
        for r in results:
            r.warnings.insert(0, UNVERIFIED)
    return {"results": [r.to_dict() for r in results], "coverage": coverage(inputs, contract)}


def paid_outcomes(inputs: Inputs, contract: Contract, as_of: date) -> pd.DataFrame:
    """Treated participants' closed outcomes on every metric that a mechanism pays per participant."""
    mechanisms = contract.payments.mechanisms if contract.payments is not None else []  # none: evaluation-only
    metrics = sorted({m for mech in mechanisms if mech.type in ("rate_card", "milestone")
                      for m in mech.metrics})
    parts = []
    for metric_id in metrics:
        frame = participant_outcomes(inputs, contract.metric(metric_id), as_of)
        frame = frame[(frame["arm"] == "treatment") & frame["closed"]]
        parts.append(pd.DataFrame({
            "metric": metric_id, "participant_id": frame["participant_id"].astype("int64"), "cohort": frame["cohort"],
            "value": frame["value"].astype(float), "achieved": frame["achieved"].astype("boolean").fillna(False).astype(bool)}))
    columns = ["metric", "participant_id", "cohort", "value", "achieved"]
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=columns)


def run_outcomes(engine: Engine, run_id: int) -> pd.DataFrame:
    """The per-participant outcomes a run stored, in one query."""
    with engine.connect() as conn:
        frame = read_frame(conn, sa.select(EvaluationOutcomeRow.metric, EvaluationOutcomeRow.participant_id,
                                           EvaluationOutcomeRow.cohort, EvaluationOutcomeRow.value,
                                           EvaluationOutcomeRow.achieved)
                           .where(EvaluationOutcomeRow.run_id == run_id))
    return frame.astype({"achieved": bool}) if len(frame) else frame


def _from_row(row: Any, reused: bool = False) -> EvaluationRun:
    return EvaluationRun(
        id=row.id, contract_id=row.contract_id, contract_version=row.contract_version, as_of=row.as_of,
        include_unverified=row.include_unverified, inputs_fingerprint=row.inputs_fingerprint,
        code_version=row.code_version, results=[EffectResult.from_dict(r) for r in row.results["results"]],
        coverage=row.results["coverage"], reused=reused,
    )


def list_runs(engine: Engine, contract_id: str, newest_first: bool = False) -> list[Any]:
    """A contract's runs without their results: id, as-of date, version, interim or not, fingerprint, code, who."""
    with engine.connect() as conn:
        return conn.execute(
            sa.select(EvaluationRunRow.id, EvaluationRunRow.as_of, EvaluationRunRow.contract_version,
                      EvaluationRunRow.include_unverified, EvaluationRunRow.inputs_fingerprint,
                      EvaluationRunRow.code_version, EvaluationRunRow.created_at, EvaluationRunRow.created_by)
            .where(EvaluationRunRow.contract_id == contract_id)
            .order_by(EvaluationRunRow.id.desc() if newest_first else EvaluationRunRow.id)).all()


def get_run_by_id(engine: Engine, run_id: int) -> EvaluationRun:
    if not storable_id(run_id):
        raise UnknownRun(W("unknown_run", run=run_id))
    with engine.connect() as conn:
        row = conn.execute(sa.select(EvaluationRunRow).where(EvaluationRunRow.id == run_id)).first()
    if row is None:
        raise UnknownRun(W("unknown_run", run=run_id))
    return _from_row(row)


def get_run(engine: Engine, contract_id: str, run_id: int | None = None) -> EvaluationRun | None:
    """A stored run, or when ``run_id`` is None the latest one of the contract: the latest as-of date, and of
    its runs the last made (a look back at an earlier date does not turn the clock back)."""
    if run_id is not None and not storable_id(run_id):
        return None
    query = sa.select(EvaluationRunRow).where(EvaluationRunRow.contract_id == contract_id)
    query = (query.where(EvaluationRunRow.id == run_id) if run_id is not None
             else query.order_by(EvaluationRunRow.as_of.desc(), EvaluationRunRow.id.desc()))
    with engine.connect() as conn:
        row = conn.execute(query.limit(1)).first()
    return _from_row(row) if row is not None else None
