"""Validating a delivered table against the contract, one kind of file at a time.

Each ``check_*`` function takes the text frame and returns the typed rows
ready to store plus every row error found.  No function here touches the
store or the clear participant references beyond hashing them: the store
lookups it needs come in as plain mappings.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Callable, Iterable

import pandas as pd

from contracts.instruments import INSTRUMENTS
from contracts.model import Contract, EligibilityRule, Metric
from outcomes.readers import parse_dates, parse_numbers

KINDS = ("participants", "enrolments", "measurements", "survey", "comparison")
STATUSES = ("reported", "verified", "rejected")
ARMS = ("treatment", "control", "comparison")
ID = "participant_id"


@dataclass(frozen=True, order=True)
class RowError:
    row: int
    column: str
    message: str

    def __str__(self) -> str:
        where = f"row {self.row}, column {self.column}" if self.column else f"row {self.row}"
        return f"{where}: {self.message}"


@dataclass
class Prepared:
    """Typed rows ready for the store (participants keyed by pseudonym until they have ids)."""

    participants: pd.DataFrame = field(default_factory=pd.DataFrame)
    enrolments: pd.DataFrame = field(default_factory=pd.DataFrame)
    measurements: pd.DataFrame = field(default_factory=pd.DataFrame)
    notes: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class StoreView:
    """What validation needs to know of the store: known participants and their enrolment starts."""

    participant_ids: dict[str, int]  # pseudonym -> participant id
    enrolment_starts: dict[int, date]  # participant id -> first enrolment start


def errors_where(mask: pd.Series, column: str, message: str | Callable[[int], str]) -> list[RowError]:
    rows = mask.index[mask.to_numpy(dtype=bool)]
    if callable(message):
        return [RowError(int(r), column, message(int(r))) for r in rows]
    return [RowError(int(r), column, message) for r in rows]


def require_columns(frame: pd.DataFrame, required: Iterable[str]) -> list[RowError]:
    missing = [c for c in required if c not in frame.columns]
    if not missing:
        return []
    have = ", ".join(frame.columns) or "none"
    return [RowError(1, c, f"required column is missing; the file has columns: {have}") for c in missing]


def _ids(frame: pd.DataFrame, pseudonyms: pd.Series, unique: bool) -> list[RowError]:
    errors = errors_where(frame[ID] == "", ID, "participant_id is empty")
    if unique:
        repeated = pseudonyms.duplicated(keep="first") & (frame[ID] != "")
        first_row = {p: int(r) for r, p in pseudonyms[~pseudonyms.duplicated(keep="first")].items()}
        errors += errors_where(repeated, ID, lambda r: f"the same participant appears again (first in row {first_row[pseudonyms[r]]})")
    return errors


def _attributes(frame: pd.DataFrame, contract: Contract) -> tuple[pd.DataFrame, list[RowError]]:
    """Typed attribute columns; blank cells are missing (None)."""
    errors: list[RowError] = []
    typed = pd.DataFrame(index=frame.index)
    for spec in contract.target_group.attributes:
        text = frame[spec.name]
        if spec.type in ("integer", "number"):
            values, bad = parse_numbers(text)
            errors += errors_where(bad, spec.name, lambda r, t=text: f"{t[r]!r} is not a number")
            if spec.type == "integer":
                fractional = values.notna() & (values != values.round())
                errors += errors_where(fractional, spec.name, lambda r, t=text: f"{t[r]!r} is not a whole number")
            as_python = (lambda v: int(v)) if spec.type == "integer" else float
            typed[spec.name] = pd.Series([as_python(v) if pd.notna(v) else None for v in values],
                                         index=values.index, dtype=object)
        elif spec.type == "category":
            allowed = spec.values or []
            bad = (text != "") & ~text.isin(allowed)
            errors += errors_where(bad, spec.name, lambda r, t=text: f"{t[r]!r} is not allowed; expected one of: {', '.join(allowed)}")
            typed[spec.name] = pd.Series([v if v else None for v in text], index=text.index, dtype=object)
        elif spec.type == "boolean":
            lowered = text.str.lower()
            truth = {"true": True, "1": True, "yes": True, "ja": True, "false": False, "0": False, "no": False, "nej": False}
            bad = (text != "") & ~lowered.isin(list(truth))
            errors += errors_where(bad, spec.name, lambda r, t=text: f"{t[r]!r} is not allowed; expected true or false")
            typed[spec.name] = pd.Series([truth.get(v) for v in lowered], index=text.index, dtype=object)
        else:  # date
            values, bad = parse_dates(text)
            errors += errors_where(bad, spec.name, lambda r, t=text: f"{t[r]!r} is not a date; expected YYYY-MM-DD or YYYYMMDD")
            typed[spec.name] = pd.Series([None if pd.isna(v) else v.date().isoformat() for v in values],
                                         index=text.index, dtype=object)
    return typed, errors


def _rule_text(rule: EligibilityRule) -> str:
    if rule.op == "between":
        return f"{rule.attribute} between {rule.value[0]} and {rule.value[1]}"
    if rule.op == "in":
        return f"{rule.attribute} in {', '.join(map(str, rule.value))}"
    return f"{rule.attribute} {rule.op.replace('_', ' ')} {rule.value}"


def _passes(values: pd.Series, rule: EligibilityRule) -> pd.Series:
    present = values.notna()
    if rule.op == "in":
        return present & values.astype(str).isin([str(v) for v in rule.value])
    if rule.op == "equals":
        return present & (values.astype(str) == str(rule.value))
    numbers = pd.to_numeric(values, errors="coerce")
    if rule.op == "between":
        low, high = (float(v) for v in rule.value)
        return (numbers >= low) & (numbers <= high)
    if rule.op == "at_least":
        return numbers >= float(rule.value)
    return numbers <= float(rule.value)


def _eligibility(typed: pd.DataFrame, contract: Contract, already_bad: set[int]) -> list[RowError]:
    errors: list[RowError] = []
    for rule in contract.target_group.eligibility:
        values = typed[rule.attribute]
        fails = ~_passes(values, rule) & ~typed.index.isin(list(already_bad))
        text = _rule_text(rule)
        errors += errors_where(
            fails, rule.attribute,
            lambda r, v=values: f"not eligible: {'missing value' if v[r] is None else repr(v[r])} fails the rule '{text}'",
        )
    return errors


def _enrolment_columns(frame: pd.DataFrame, contract: Contract, default_arm: str, allowed_arms: tuple[str, ...],
                       cohort_required: bool) -> tuple[pd.DataFrame, list[RowError]]:
    """start, exit, arm and cohort (derived from the start date when not given)."""
    errors: list[RowError] = []
    start, bad_start = parse_dates(frame["start"])
    errors += errors_where(frame["start"] == "", "start", "start date is empty")
    errors += errors_where(bad_start, "start", lambda r: f"{frame['start'][r]!r} is not a date; expected YYYY-MM-DD or YYYYMMDD")
    term = contract.term
    outside = start.notna() & ((start < pd.Timestamp(term.start)) | (start > pd.Timestamp(term.end)))
    errors += errors_where(outside, "start", lambda r: f"{start[r].date()} is outside the contract term {term.start} to {term.end}")

    exit_text = frame["exit"] if "exit" in frame.columns else pd.Series("", index=frame.index)
    exit_, bad_exit = parse_dates(exit_text)
    errors += errors_where(bad_exit, "exit", lambda r: f"{exit_text[r]!r} is not a date; expected YYYY-MM-DD or YYYYMMDD")
    errors += errors_where(exit_ < start, "exit", lambda r: f"{exit_[r].date()} is before the start {start[r].date()}")

    arm = frame["arm"].str.lower() if "arm" in frame.columns else pd.Series(default_arm, index=frame.index)
    arm = arm.where(arm != "", default_arm)
    errors += errors_where(~arm.isin(allowed_arms), "arm", lambda r: f"{arm[r]!r} is not allowed; expected one of: {', '.join(allowed_arms)}")

    derived = pd.Series(None, index=frame.index, dtype=object)
    for c in contract.cohorts:
        derived[(start >= pd.Timestamp(c.enrolment_start)) & (start <= pd.Timestamp(c.enrolment_end))] = c.id
    cohort_ids = [c.id for c in contract.cohorts]
    if "cohort" in frame.columns:
        given = frame["cohort"]
        unknown = (given != "") & ~given.isin(cohort_ids)
        errors += errors_where(unknown, "cohort", lambda r: f"{given[r]!r} is not a cohort; cohorts: {', '.join(cohort_ids)}")
        mismatch = (given != "") & given.isin(cohort_ids) & start.notna() & (derived != given)
        errors += errors_where(mismatch, "cohort", lambda r: (
            f"start {start[r].date()} is outside the enrolment window of {given[r]!r} "
            f"({contract.cohort(given[r]).enrolment_start} to {contract.cohort(given[r]).enrolment_end})"))
        cohort = given.where(given != "", derived)
    else:
        cohort = derived
    if cohort_required:
        no_cohort = start.notna() & ~outside & cohort.isna()
        errors += errors_where(no_cohort, "start", lambda r: f"{start[r].date()} is outside every cohort's enrolment window")
    out = pd.DataFrame({"cohort": cohort, "arm": arm, "start": start, "exit": exit_})
    return out, errors


def check_people(frame: pd.DataFrame, contract: Contract, pseudonyms: pd.Series, store: StoreView,
                 kind: str) -> tuple[Prepared, list[RowError]]:
    """participants (treatment/control) and comparison (pool) files: register and enrol."""
    attribute_names = [a.name for a in contract.target_group.attributes]
    errors = require_columns(frame, [ID, "start", *attribute_names])
    if errors:
        return Prepared(), errors
    errors += _ids(frame, pseudonyms, unique=True)
    known = pseudonyms.isin(list(store.participant_ids)) & (frame[ID] != "")
    errors += errors_where(known, ID, "this participant is already registered for the contract (in an earlier batch)")
    typed, attr_errors = _attributes(frame, contract)
    errors += attr_errors
    is_pool = kind == "comparison"
    enrol, enrol_errors = _enrolment_columns(
        frame, contract, default_arm="comparison" if is_pool else "treatment",
        allowed_arms=("comparison",) if is_pool else ("treatment", "control"), cohort_required=not is_pool,
    )
    errors += enrol_errors
    errors += _eligibility(typed, contract, {e.row for e in attr_errors})
    records = typed.to_dict(orient="records")
    participants = pd.DataFrame({"pseudonym": pseudonyms, "attributes": records}, index=frame.index)
    enrolments = enrol.assign(pseudonym=pseudonyms)
    return Prepared(participants=participants, enrolments=enrolments,
                    notes={"participants": len(frame), "enrolments": len(frame)}), errors


def check_enrolments(frame: pd.DataFrame, contract: Contract, pseudonyms: pd.Series,
                     store: StoreView) -> tuple[Prepared, list[RowError]]:
    """Enrolments of participants registered earlier."""
    errors = require_columns(frame, [ID, "start"])
    if errors:
        return Prepared(), errors
    errors += _ids(frame, pseudonyms, unique=True)
    participant = pseudonyms.map(store.participant_ids)
    errors += errors_where(participant.isna() & (frame[ID] != ""), ID,
                           "unknown participant; register them with a participants file first")
    enrol, enrol_errors = _enrolment_columns(frame, contract, "treatment", ARMS, cohort_required=False)
    errors += enrol_errors
    return Prepared(enrolments=enrol.assign(participant_id=participant), notes={"enrolments": len(frame)}), errors


def _known_participants(frame: pd.DataFrame, pseudonyms: pd.Series, store: StoreView) -> tuple[pd.Series, list[RowError]]:
    participant = pseudonyms.map(store.participant_ids)
    unknown = participant.isna() & (frame[ID] != "")
    errors = errors_where(frame[ID] == "", ID, "participant_id is empty")
    errors += errors_where(unknown, ID, "unknown participant; register them with a participants file first")
    return participant, errors


def _window_errors(participant: pd.Series, observed: pd.Series, metric_ids: pd.Series, contract: Contract,
                   store: StoreView, column: str) -> list[RowError]:
    """Each measurement must fall inside its metric's window after the participant's enrolment."""
    starts = pd.to_datetime(participant.map(store.enrolment_starts))
    when = observed
    errors = errors_where(participant.notna() & starts.isna(), ID,
                          "participant is not enrolled; enrol them before sending measurements")
    for metric in contract.metrics:
        rows = (metric_ids == metric.id) & starts.notna() & when.notna()
        if not rows.any():
            continue
        low = starts[rows] + pd.DateOffset(months=metric.window.start_months)
        high = starts[rows] + pd.DateOffset(months=metric.window.end_months)
        outside = ~((when[rows] >= low) & (when[rows] < high))
        errors += errors_where(outside, column, lambda r, lo=low, hi=high, m=metric: (
            f"{observed[r].date()} is outside the window of {m.id!r} for this participant "
            f"({m.window.start_months} to {m.window.end_months} months after enrolment: "
            f"{lo[r].date()} to {(hi[r] - pd.Timedelta(days=1)).date()})"))
    return errors


def _value_errors(values: pd.Series, text: pd.Series, metric: Metric) -> tuple[pd.Series, list[RowError]]:
    """Check values against the metric kind; returns values with missing-answer codes turned into None."""
    present = values.notna()
    kind = metric.kind
    if kind == "binary":
        bad = present & ~values.isin([0, 1])
        return values, errors_where(bad, "value", lambda r: f"{text[r]!r} is not allowed for binary metric {metric.id!r}; expected 0 or 1")
    if kind == "rate":
        bad = present & ((values < 0) | (values > 1))
        return values, errors_where(bad, "value", lambda r: f"{text[r]!r} is out of range for rate metric {metric.id!r}; expected a share between 0 and 1")
    if kind in ("count", "time_to_event"):
        bad = present & ((values < 0) | (values != values.round()))
        return values, errors_where(bad, "value", lambda r: f"{text[r]!r} is not allowed for {kind} metric {metric.id!r}; expected a whole number of at least 0")
    if kind == "ordinal":
        low, high, missing_codes = _scale(metric)
        is_missing_code = values.isin(missing_codes)
        bad = present & ~is_missing_code & ((values < low) | (values > high) | (values != values.round()))
        allowed = f"{low} to {high}" + (f", or {', '.join(map(str, missing_codes))} for don't know" if missing_codes else "")
        errors = errors_where(bad, "value", lambda r: f"{text[r]!r} is not on the scale of {metric.id!r}; expected {allowed}")
        return values.where(~is_missing_code), errors
    return values, []


def _scale(metric: Metric) -> tuple[int, int, list[int]]:
    if metric.instrument:
        instrument = INSTRUMENTS[metric.instrument]
        return instrument.scale_min, instrument.scale_max, [instrument.dont_know]
    assert metric.scale is not None
    return metric.scale.min, metric.scale.max, list(metric.scale.missing_codes)


def _duplicate_keys(keys: pd.DataFrame, values: pd.Series) -> list[RowError]:
    """Same participant, metric and date twice in one file: a duplicate, or a conflict if values differ."""
    duplicated = keys.duplicated(keep=False)
    if not duplicated.any():
        return []
    errors: list[RowError] = []
    group_first: dict[tuple, int] = {}
    for row, key in zip(keys.index[duplicated], keys[duplicated].itertuples(index=False, name=None)):
        if key not in group_first:
            group_first[key] = int(row)
            continue
        first = group_first[key]
        same = (pd.isna(values[first]) and pd.isna(values[row])) or values[first] == values[row]
        message = (f"duplicate of row {first} (same participant, metric and date)" if same
                   else f"conflicts with row {first}: same participant, metric and date, other value")
        errors.append(RowError(int(row), "value", message))
    return errors


def check_measurements(frame: pd.DataFrame, contract: Contract, pseudonyms: pd.Series,
                       store: StoreView) -> tuple[Prepared, list[RowError]]:
    errors = require_columns(frame, [ID, "metric", "date", "value"])
    if errors:
        return Prepared(), errors
    participant, id_errors = _known_participants(frame, pseudonyms, store)
    errors += id_errors
    metrics = {m.id: m for m in contract.metrics}
    metric_ids = frame["metric"]
    errors += errors_where(~metric_ids.isin(list(metrics)), "metric",
                           lambda r: f"{metric_ids[r]!r} is not a metric of this contract; metrics: {', '.join(metrics)}")
    observed, bad_dates = parse_dates(frame["date"])
    errors += errors_where(bad_dates | (frame["date"] == ""), "date",
                           lambda r: f"{frame['date'][r]!r} is not a date; expected YYYY-MM-DD or YYYYMMDD")
    values, bad_values = parse_numbers(frame["value"])
    errors += errors_where(bad_values, "value", lambda r: f"{frame['value'][r]!r} is not a number")
    errors += errors_where(frame["value"] == "", "value", "value is empty")
    cleaned = values.copy()
    for metric_id, metric in metrics.items():
        rows = metric_ids == metric_id
        checked, value_errors = _value_errors(values[rows], frame["value"][rows], metric)
        cleaned[rows] = checked
        errors += value_errors
    status = frame["status"].str.lower() if "status" in frame.columns else pd.Series("reported", index=frame.index)
    status = status.where(status != "", "reported")
    errors += errors_where(~status.isin(STATUSES), "status",
                           lambda r: f"{status[r]!r} is not allowed; expected one of: {', '.join(STATUSES)}")
    errors += _window_errors(participant, observed, metric_ids, contract, store, "date")
    errors += _duplicate_keys(pd.DataFrame({"p": pseudonyms, "m": metric_ids, "d": observed}), values)
    source = frame["source"] if "source" in frame.columns else pd.Series("", index=frame.index)
    measurements = pd.DataFrame({
        "participant_id": participant, "metric": metric_ids, "observed_on": observed,
        "value": cleaned, "status": status, "source": source.where(source != "", None),
    })
    return Prepared(measurements=measurements, notes={"measurements": len(frame)}), errors


def check_survey(frame: pd.DataFrame, contract: Contract, pseudonyms: pd.Series,
                 store: StoreView) -> tuple[Prepared, list[RowError]]:
    """One row per respondent, one column per survey metric (by metric id); blank means not asked."""
    survey_metrics = [m for m in contract.metrics if m.instrument is not None or m.kind == "ordinal"]
    errors = require_columns(frame, [ID, "date"])
    answer_columns = [m.id for m in survey_metrics if m.id in frame.columns]
    if not answer_columns and not errors:
        expected = ", ".join(m.id for m in survey_metrics) or "none (the contract has no survey metrics)"
        errors.append(RowError(1, "", f"no answer columns; expected one or more of: {expected}"))
    if errors:
        return Prepared(), errors
    participant, id_errors = _known_participants(frame, pseudonyms, store)
    errors += id_errors
    errors += _ids(frame, pseudonyms, unique=True)
    observed, bad_dates = parse_dates(frame["date"])
    errors += errors_where(bad_dates | (frame["date"] == ""), "date",
                           lambda r: f"{frame['date'][r]!r} is not a date; expected YYYY-MM-DD or YYYYMMDD")
    parts = []
    dont_know = 0
    for metric in survey_metrics:
        if metric.id not in frame.columns:
            continue
        text = frame[metric.id]
        values, bad = parse_numbers(text)
        errors += [RowError(e.row, metric.id, e.message) for e in errors_where(bad, metric.id, lambda r, t=text: f"{t[r]!r} is not a number")]
        checked, value_errors = _value_errors(values, text, metric)
        errors += [RowError(e.row, metric.id, e.message) for e in value_errors]
        answered = text != ""
        dont_know += int((answered & checked.isna() & ~bad).sum())
        errors += _window_errors(participant[answered], observed[answered],
                                 pd.Series(metric.id, index=frame.index)[answered], contract, store, "date")
        parts.append(pd.DataFrame({
            "participant_id": participant[answered], "metric": metric.id, "observed_on": observed[answered],
            "value": checked[answered], "status": "reported", "source": "survey",
        }))
    measurements = pd.concat(parts) if parts else pd.DataFrame()
    return Prepared(measurements=measurements, notes={"measurements": len(measurements), "dont_know": dont_know}), errors


def unique_errors(errors: list[RowError]) -> list[RowError]:
    """Sorted by row, each distinct error once."""
    return sorted(set(errors))


__all__ = ["KINDS", "Prepared", "RowError", "StoreView", "check_enrolments", "check_measurements",
           "check_people", "check_survey", "unique_errors"]
