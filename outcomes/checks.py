"""Validating a delivered file against the contract, chunk by chunk.

One checker per kind of file.  A checker sees the header once
(``header_errors``), each chunk of rows (``check``: typed rows ready for the
store, and every error found), and finally ``finish`` for what can only be
known across chunks (duplicates far apart in the file).  Nothing here touches
the store: what validation needs to know of it arrives as a ``StoreView``.
Clear participant references are hashed here and go no further.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Callable, Iterable

import numpy as np
import pandas as pd

from contracts.instruments import INSTRUMENTS, REFERENCE_PERIODS
from contracts.model import Contract, EligibilityRule, FileMapping, Metric
from outcomes import personnummer
from outcomes.pseudonym import pseudonymise
from outcomes.values import MAX_CELL, formula_like, parse_dates, parse_numbers, too_long

KINDS = ("participants", "enrolments", "measurements", "survey", "comparison")
ID = "participant_id"
TRUE_WORDS = {"true": True, "1": True, "yes": True, "ja": True, "false": False, "0": False, "no": False, "nej": False}
MAX_ERRORS = 100_000  # errors kept for the report; beyond that they are counted
MEMO_LIMIT = 250_000  # distinct references whose pseudonyms are remembered across chunks


@dataclass(frozen=True, order=True)
class RowError:
    row: int
    column: str
    message: str
    value: str = ""  # the offending cell as reported (identifiers masked)

    def __str__(self) -> str:
        where = f"row {self.row}, column {self.column}" if self.column else f"row {self.row}"
        return f"{where}: {self.message}"


@dataclass
class Prepared:
    """Typed rows of one chunk, ready for the store."""

    participants: pd.DataFrame = field(default_factory=pd.DataFrame)  # pseudonym, birth_year, legal_sex, attributes
    enrolments: pd.DataFrame = field(default_factory=pd.DataFrame)  # pseudonym or participant_id, cohort, arm, start, exit
    measurements: pd.DataFrame = field(default_factory=pd.DataFrame)
    answers: pd.DataFrame = field(default_factory=pd.DataFrame)  # anonymous survey answers
    counts: dict[str, int] = field(default_factory=dict)


class PseudonymIndex:
    """Pseudonym -> participant id for a whole contract, compactly: 40 bytes per participant, vectorised lookups.

    Pseudonyms are 64 hex digits; kept as sorted 32-byte values, a million of them take 32 MB
    where a dict of strings would take ten times that.
    """

    def __init__(self, pseudonyms: list[str], ids: list[int]):
        keys = np.array([bytes.fromhex(p) for p in pseudonyms], dtype="S32") if pseudonyms else np.array([], dtype="S32")
        order = np.argsort(keys, kind="stable")
        self.keys, self.ids = keys[order], np.asarray(ids, dtype=np.int64)[order]

    def __len__(self) -> int:
        return len(self.keys)

    def lookup(self, pseudonyms: list[str]) -> np.ndarray:
        """Participant ids as floats, NaN where a pseudonym (or "") is unknown."""
        wanted = np.array([bytes.fromhex(p) if p else b"" for p in pseudonyms], dtype="S32")
        if not len(self.keys) or not len(wanted):
            return np.full(len(wanted), np.nan)
        pos = np.minimum(np.searchsorted(self.keys, wanted), len(self.keys) - 1)
        found = (self.keys[pos] == wanted) & (wanted != b"")
        return np.where(found, self.ids[pos].astype(float), np.nan)


@dataclass(frozen=True)
class StoreView:
    """What validation needs to know of the store."""

    participant_ids: PseudonymIndex
    enrolment_starts: pd.Series  # participant id -> first enrolment start (datetime64)
    measurements: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(
        {"key": pd.Series(dtype="int64"), "id": pd.Series(dtype="int64"), "batch_id": pd.Series(dtype="int64")}))

    def starts(self, participant: pd.Series) -> pd.Series:
        """Each row's enrolment start (NaT where there is none)."""
        found = self.enrolment_starts.reindex(participant.to_numpy())
        return pd.Series(pd.to_datetime(found.to_numpy()), index=participant.index)


@dataclass(frozen=True)
class Identity:
    """Each row's pseudonym, and the same per distinct reference (so lookups are done once each)."""

    pseudonyms: pd.Series  # per row; "" where missing or invalid
    codes: np.ndarray  # row -> position in ``distinct``
    distinct: np.ndarray  # pseudonym per distinct reference, "" last
    derived: pd.DataFrame  # birth_year, legal_sex where the contract asks
    errors: list[RowError]

    def participants(self, store: StoreView) -> pd.Series:
        """Participant ids (float, NaN where unknown)."""
        ids = store.participant_ids.lookup(self.distinct.tolist())
        return pd.Series(ids[self.codes], index=self.pseudonyms.index)


@dataclass(frozen=True)
class Context:
    contract: Contract
    key: bytes
    store: StoreView
    mapping: FileMapping = field(default_factory=FileMapping)
    today: date = field(default_factory=date.today)


# -- helpers ------------------------------------------------------------------------------------------------------

def errors_where(mask: pd.Series, column: str, message: str | Callable[[int], str],
                 values: pd.Series | None = None) -> list[RowError]:
    rows = mask.index[np.asarray(mask, dtype=bool)]
    text = (lambda r: message(r)) if callable(message) else (lambda r: message)
    shown = (lambda r: str(values[r])[:200]) if values is not None else (lambda r: "")
    return [RowError(int(r), column, text(int(r)), shown(int(r))) for r in rows]


def _date_text(day: pd.Timestamp) -> str:
    return day.date().isoformat()


def metric_days(dates: pd.Series) -> np.ndarray:
    return ((dates - pd.Timestamp("1900-01-01")).dt.days).to_numpy(dtype=np.int64)


def measurement_keys(participants: pd.Series, metric_index: pd.Series, dates: pd.Series) -> np.ndarray:
    """One int64 per (participant, metric, date): 29 bits of date and metric under the participant id."""
    return (participants.to_numpy(dtype=np.int64) << 29) + (metric_index.to_numpy(dtype=np.int64) << 17) + metric_days(dates)


class FileCheck:
    """The checks every kind shares: columns, cell hygiene, identifiers."""

    kind = ""
    required: tuple[str, ...] = ()
    optional: tuple[str, ...] = ()

    def __init__(self, ctx: Context):
        self.ctx = ctx
        self.contract = ctx.contract
        self.counts: dict[str, int] = {}
        self._memo: dict[str, tuple] = {}  # reference -> (pseudonym, facts, problem), across the file's chunks

    def allowed_columns(self) -> list[str]:
        return [*self.required, *self.optional]

    def header_errors(self, columns: list[str]) -> list[RowError]:
        allowed = self.allowed_columns()
        errors = [RowError(1, c, f"required column is missing; the file has columns: {', '.join(columns) or 'none'}")
                  for c in self.required if c not in columns]
        errors += [RowError(1, c, f"unknown column; expected columns: {', '.join(allowed)}") for c in columns
                   if c not in allowed]
        return errors

    def _cells(self, frame: pd.DataFrame) -> tuple[pd.DataFrame, list[RowError]]:
        """Refuse over-long cells and spreadsheet formulas; drop those rows from further checks."""
        errors: list[RowError] = []
        bad = pd.Series(False, index=frame.index)
        for column in frame.columns:
            text = frame[column]
            long_ = too_long(text)
            if long_.any():
                errors += errors_where(long_, column, lambda r, t=text: f"cell is {len(t[r]):,} characters long; "
                                                                        f"the limit is {MAX_CELL:,}")
            formula = formula_like(text) & ~long_
            if formula.any():
                errors += errors_where(formula, column, lambda r, t=text: f"begins with {t[r][0]!r}, which a spreadsheet "
                                                                           "would run as a formula; refused",
                                       values=None if column == ID else text)
            bad |= long_ | formula
        return frame[~bad], errors

    def _identify(self, refs: pd.Series) -> "Identity":
        """Pseudonyms (and birth year and legal sex where asked) for each row; the clear values stop here.

        Work is done once per distinct reference (a file repeats its participants), and remembered across chunks.
        """
        errors = errors_where(refs == "", ID, "participant_id is empty")
        codes, distinct = pd.factorize(refs)
        references = np.asarray(distinct, dtype=object).tolist()  # one bulk conversion, not one per element
        personal = self.contract.target_group.identifier == "personnummer"
        memo = self._memo
        if len(memo) > MEMO_LIMIT:  # bounded: a file with millions of distinct people must not fill memory
            memo.clear()
        for ref in references:
            if ref and ref not in memo:
                memo[ref] = self._pseudonym(ref) if personal else (
                    pseudonymise(self.ctx.key, self.contract.id, ref), None, None)
        known = [memo[r] if r else ("", None, None) for r in references] + [("", None, None)]
        pseudonyms = np.array([k[0] for k in known], dtype=object)
        problem = np.array([k[2] for k in known], dtype=object)
        invalid = np.array([p is not None for p in problem])[codes]  # per distinct reference, then per row
        errors += [RowError(int(r), ID, problem[code], personnummer.mask(refs[r]))
                   for r, code in zip(refs.index[invalid], codes[invalid])]
        derived = pd.DataFrame(index=refs.index, columns=["birth_year", "legal_sex"], dtype=object)
        derive = self.contract.target_group.derive if personal else []
        if derive:
            facts = np.array([k[1] for k in known], dtype=object)[codes]
            for position, name in ((0, "birth_year"), (1, "legal_sex")):
                if name in derive:
                    derived[name] = [f[position] if f else None for f in facts]
        return Identity(pd.Series(pseudonyms[codes], index=refs.index, dtype=object), codes, pseudonyms, derived, errors)

    def _pseudonym(self, ref: str) -> tuple[str, tuple[int, str] | None, str | None]:
        """(pseudonym, (birth year, legal sex), problem) of a personal identity number."""
        try:
            number = personnummer.parse(ref, self.ctx.today)
        except personnummer.InvalidNumber as exc:
            return "", None, str(exc)
        return pseudonymise(self.ctx.key, self.contract.id, number.normalised), (number.birth_year, number.legal_sex), None

    def check(self, frame: pd.DataFrame) -> tuple[Prepared, list[RowError]]:  # pragma: no cover - overridden
        raise NotImplementedError

    def finish(self) -> list[RowError]:
        return []


# -- participants, comparison pools and enrolments ------------------------------------------------------------------

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


class EnrolmentColumns:
    """start, exit, arm and cohort (derived from the start date when not given)."""

    def __init__(self, ctx: Context, default_arm: str, arms: tuple[str, ...], cohort_required: bool):
        self.ctx, self.default_arm, self.arms, self.cohort_required = ctx, default_arm, arms, cohort_required

    def parse(self, frame: pd.DataFrame) -> tuple[pd.DataFrame, list[RowError]]:
        contract, fmt = self.ctx.contract, self.ctx.mapping.date_format
        errors: list[RowError] = []
        start, bad_start = parse_dates(frame["start"], fmt)
        errors += errors_where(frame["start"] == "", "start", "start date is empty")
        errors += errors_where(bad_start, "start", lambda r: f"{frame['start'][r]!r} is not a date; "
                                                             f"expected {_date_formats(fmt)}", frame["start"])
        term = contract.term
        outside = start.notna() & ((start < pd.Timestamp(term.start)) | (start > pd.Timestamp(term.end)))
        errors += errors_where(outside, "start",
                               lambda r: f"{_date_text(start[r])} is outside the contract term {term.start} to {term.end}")
        ahead = start.notna() & ~outside & (start > pd.Timestamp(self.ctx.today))
        errors += errors_where(ahead, "start", lambda r: f"{_date_text(start[r])} is in the future")

        exit_text = frame["exit"] if "exit" in frame.columns else pd.Series("", index=frame.index)
        exit_, bad_exit = parse_dates(exit_text, fmt)
        errors += errors_where(bad_exit, "exit", lambda r: f"{exit_text[r]!r} is not a date; expected {_date_formats(fmt)}",
                               exit_text)
        errors += errors_where(exit_ < start, "exit",
                               lambda r: f"{_date_text(exit_[r])} is before the start {_date_text(start[r])}")

        arm = frame["arm"].str.lower() if "arm" in frame.columns else pd.Series(self.default_arm, index=frame.index)
        arm = arm.where(arm != "", self.default_arm)
        errors += errors_where(~arm.isin(self.arms), "arm",
                               lambda r: f"{arm[r]!r} is not allowed; expected one of: {', '.join(self.arms)}", arm)

        derived = pd.Series(None, index=frame.index, dtype=object)
        for c in contract.cohorts:
            derived[(start >= pd.Timestamp(c.enrolment_start)) & (start <= pd.Timestamp(c.enrolment_end))] = c.id
        cohort_ids = [c.id for c in contract.cohorts]
        if "cohort" in frame.columns:
            given = frame["cohort"]
            unknown = (given != "") & ~given.isin(cohort_ids)
            errors += errors_where(unknown, "cohort", lambda r: f"{given[r]!r} is not a cohort; cohorts: {', '.join(cohort_ids)}",
                                   given)
            mismatch = (given != "") & given.isin(cohort_ids) & start.notna() & (derived != given)
            errors += errors_where(mismatch, "cohort", lambda r: (
                f"start {_date_text(start[r])} is outside the enrolment window of {given[r]!r} "
                f"({contract.cohort(given[r]).enrolment_start} to {contract.cohort(given[r]).enrolment_end})"))
            cohort = pd.Series(np.where(given != "", given, derived), index=frame.index, dtype=object)
        else:
            cohort = derived
        if self.cohort_required:
            no_cohort = start.notna() & ~outside & cohort.isna()
            errors += errors_where(no_cohort, "start",
                                   lambda r: f"{_date_text(start[r])} is outside every cohort's enrolment window")
        cohort = cohort.where(cohort.notna(), None)
        return pd.DataFrame({"cohort": cohort, "arm": arm, "start": start, "exit": exit_}), errors


def _date_formats(fmt: str | None) -> str:
    return f"the mapping's format {fmt}" if fmt else "YYYY-MM-DD or YYYYMMDD"


class PeopleCheck(FileCheck):
    """participants (treatment or control arm) and comparison (pool) files: register and enrol."""

    def __init__(self, ctx: Context, kind: str):
        super().__init__(ctx)
        self.kind = kind
        self.attributes = [a.name for a in ctx.contract.target_group.attributes]
        self.required = (ID, "start", *self.attributes)
        self.optional = ("cohort", "exit") if kind == "comparison" else ("cohort", "arm", "exit")
        pool = kind == "comparison"
        self.enrol = EnrolmentColumns(ctx, "comparison" if pool else "treatment",
                                      ("comparison",) if pool else ("treatment", "control"), cohort_required=not pool)
        self.first_row: dict[str, int] = {}

    def _attributes(self, frame: pd.DataFrame) -> tuple[pd.DataFrame, list[RowError], set[int]]:
        errors: list[RowError] = []
        typed = pd.DataFrame(index=frame.index)
        for spec in self.contract.target_group.attributes:
            text = frame[spec.name]
            if spec.type in ("integer", "number"):
                values, bad = parse_numbers(text, self.ctx.mapping.decimal)
                errors += errors_where(bad, spec.name, lambda r, t=text: f"{t[r]!r} is not a number", text)
                if spec.type == "integer":
                    fractional = values.notna() & (values != values.round())
                    errors += errors_where(fractional, spec.name, lambda r, t=text: f"{t[r]!r} is not a whole number", text)
                as_python = int if spec.type == "integer" else float
                typed[spec.name] = pd.Series([as_python(v) if v == v else None for v in values.tolist()],
                                             index=text.index, dtype=object)
            elif spec.type == "category":
                allowed = spec.values or []
                bad = (text != "") & ~text.isin(allowed)
                errors += errors_where(bad, spec.name, lambda r, t=text, a=allowed: f"{t[r]!r} is not allowed; "
                                                                                    f"expected one of: {', '.join(a)}", text)
                typed[spec.name] = pd.Series([v if v else None for v in text.tolist()], index=text.index, dtype=object)
            elif spec.type == "boolean":
                lowered = text.str.lower()
                bad = (text != "") & ~lowered.isin(list(TRUE_WORDS))
                errors += errors_where(bad, spec.name, lambda r, t=text: f"{t[r]!r} is not allowed; expected true or false",
                                       text)
                typed[spec.name] = pd.Series([TRUE_WORDS.get(v) for v in lowered.tolist()], index=text.index, dtype=object)
            else:
                values, bad = parse_dates(text, self.ctx.mapping.date_format)
                errors += errors_where(bad, spec.name, lambda r, t=text: f"{t[r]!r} is not a date; expected "
                                                                         f"{_date_formats(self.ctx.mapping.date_format)}", text)
                typed[spec.name] = pd.Series([None if pd.isna(v) else v.date().isoformat() for v in values],
                                             index=text.index, dtype=object)
        return typed, errors, {e.row for e in errors}

    def check(self, frame: pd.DataFrame) -> tuple[Prepared, list[RowError]]:
        frame, errors = self._cells(frame)
        identity = self._identify(frame[ID])
        pseudonyms, derived = identity.pseudonyms, identity.derived
        errors += identity.errors
        present = pseudonyms != ""
        again = present & pseudonyms.isin(list(self.first_row))
        errors += errors_where(again, ID, lambda r: f"the same participant appears again (first in row "
                                                    f"{self.first_row[pseudonyms[r]]})")
        within = present & ~again & pseudonyms.duplicated(keep="first")
        first_here = pseudonyms[present & ~again & ~within]
        self.first_row.update(zip(first_here, first_here.index.astype(int)))
        errors += errors_where(within, ID, lambda r: f"the same participant appears again (first in row "
                                                     f"{self.first_row[pseudonyms[r]]})")
        known = present & identity.participants(self.ctx.store).notna()
        errors += errors_where(known, ID, "this participant is already registered for the contract (in an earlier batch)")
        typed, attribute_errors, bad_rows = self._attributes(frame)
        errors += attribute_errors
        enrol, enrol_errors = self.enrol.parse(frame)
        errors += enrol_errors
        for rule in self.contract.target_group.eligibility:
            values = typed[rule.attribute]
            fails = ~_passes(values, rule) & ~typed.index.isin(list(bad_rows))
            text = _rule_text(rule)
            errors += errors_where(fails, rule.attribute, lambda r, v=values, t=text: (
                f"not eligible: {'missing value' if v[r] is None else repr(v[r])} fails the rule '{t}'"))
        participants = pd.concat([pd.DataFrame({"pseudonym": pseudonyms}), derived], axis=1).assign(
            attributes=typed.to_dict(orient="records"))
        self.counts["participants"] = self.counts.get("participants", 0) + len(frame)
        self.counts["enrolments"] = self.counts.get("enrolments", 0) + len(frame)
        return Prepared(participants=participants, enrolments=enrol.assign(pseudonym=pseudonyms)), errors


class EnrolmentCheck(FileCheck):
    """Enrolments of participants registered earlier."""

    kind = "enrolments"
    required = (ID, "start")
    optional = ("cohort", "arm", "exit")

    def __init__(self, ctx: Context):
        super().__init__(ctx)
        self.enrol = EnrolmentColumns(ctx, "treatment", ("treatment", "control", "comparison"), cohort_required=False)
        self.seen: dict[str, int] = {}

    def check(self, frame: pd.DataFrame) -> tuple[Prepared, list[RowError]]:
        frame, errors = self._cells(frame)
        identity = self._identify(frame[ID])
        errors += identity.errors
        participant = identity.participants(self.ctx.store)
        errors += errors_where(participant.isna() & (identity.pseudonyms != ""), ID,
                               "unknown participant; register them with a participants file first")
        enrol, enrol_errors = self.enrol.parse(frame)
        errors += enrol_errors
        self.counts["enrolments"] = self.counts.get("enrolments", 0) + len(frame)
        return Prepared(enrolments=enrol.assign(participant_id=participant)), errors


# -- measurements -------------------------------------------------------------------------------------------------

def scale_of(metric: Metric) -> tuple[int, int, list[int]]:
    if metric.instrument:
        instrument = INSTRUMENTS[metric.instrument]
        return instrument.scale_min, instrument.scale_max, [instrument.dont_know]
    assert metric.scale is not None
    return metric.scale.min, metric.scale.max, list(metric.scale.missing_codes)


def value_errors(values: pd.Series, text: pd.Series, metric: Metric, column: str,
                 percent: bool = False) -> tuple[pd.Series, list[RowError]]:
    """Check values against the metric's kind; returns values as stored (shares, missing codes as None)."""
    present = values.notna()
    kind = metric.kind
    if kind == "binary":
        bad = present & ~values.isin([0, 1])
        return values, errors_where(bad, column, lambda r: f"{text[r]!r} is not allowed for binary metric "
                                                           f"{metric.id!r}; expected 0 or 1", text)
    if kind == "rate":
        if percent:
            bad = present & ((values < 0) | (values > 100))
            return values / 100, errors_where(bad, column, lambda r: f"{text[r]!r} is out of range for rate metric "
                                                                     f"{metric.id!r}; expected a percentage between 0 and 100", text)
        bad = present & ((values < 0) | (values > 1))
        return values, errors_where(bad, column, lambda r: f"{text[r]!r} is out of range for rate metric {metric.id!r}; "
                                                           "expected a share between 0 and 1 (or declare percent in a mapping)",
                                    text)
    if kind in ("count", "time_to_event"):
        bad = present & ((values < 0) | (values != values.round()))
        return values, errors_where(bad, column, lambda r: f"{text[r]!r} is not allowed for {kind} metric {metric.id!r}; "
                                                           "expected a whole number of at least 0", text)
    if kind == "ordinal":
        low, high, missing_codes = scale_of(metric)
        is_missing_code = values.isin(missing_codes)
        bad = present & ~is_missing_code & ((values < low) | (values > high) | (values != values.round()))
        allowed = f"{low} to {high}" + (f", or {', '.join(map(str, missing_codes))} for don't know" if missing_codes else "")
        errors = errors_where(bad, column, lambda r: f"{text[r]!r} is not on the scale of {metric.id!r}; expected {allowed}",
                              text)
        return values.where(~is_missing_code), errors
    return values, []


def window_errors(ctx: Context, metrics: Iterable[Metric], participant: pd.Series, observed: pd.Series,
                  metric_ids: pd.Series) -> list[RowError]:
    """Each measurement must fall inside its metric's window (or pre-window) after the participant's enrolment."""
    starts = ctx.store.starts(participant)
    errors = errors_where(participant.notna() & starts.isna(), ID,
                          "participant is not enrolled; enrol them before sending measurements")
    for metric in metrics:
        rows = (metric_ids == metric.id) & starts.notna() & observed.notna()
        if not rows.any():
            continue
        windows = [metric.window] + ([metric.evaluation.pre_window] if metric.evaluation.pre_window else [])
        inside = pd.Series(False, index=starts[rows].index)
        for window in windows:
            low = starts[rows] + pd.DateOffset(months=window.start_months)
            high = starts[rows] + pd.DateOffset(months=window.end_months)
            inside |= (observed[rows] >= low) & (observed[rows] < high)
        low = starts[rows] + pd.DateOffset(months=metric.window.start_months)
        high = starts[rows] + pd.DateOffset(months=metric.window.end_months)
        errors += errors_where(~inside, "date", lambda r, lo=low, hi=high, m=metric: (
            f"{_date_text(observed[r])} is outside the window of {m.id!r} for this participant "
            f"({m.window.start_months} to {m.window.end_months} months after enrolment: "
            f"{_date_text(lo[r])} to {_date_text(hi[r] - pd.Timedelta(days=1))})"))
    return errors


class MeasurementCheck(FileCheck):
    kind = "measurements"
    required = (ID, "metric", "date", "value")
    optional = ("source", "correction")

    def __init__(self, ctx: Context):
        super().__init__(ctx)
        self.metrics = {m.id: m for m in ctx.contract.metrics if not m.anonymous}
        self.metric_positions = pd.Index([m.id for m in ctx.contract.metrics])
        stored = ctx.store.measurements.sort_values("key", kind="stable")
        self.stored_keys = stored["key"].to_numpy(dtype=np.int64)
        self.stored_ids = stored["id"].to_numpy(dtype=np.int64)
        self.stored_batches = stored["batch_id"].to_numpy(dtype=np.int64)
        self.keys: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []  # (keys, rows, values) per chunk

    def check(self, frame: pd.DataFrame) -> tuple[Prepared, list[RowError]]:
        frame, errors = self._cells(frame)
        identity = self._identify(frame[ID])
        errors += identity.errors
        participant = identity.participants(self.ctx.store)
        errors += errors_where(participant.isna() & (identity.pseudonyms != ""), ID,
                               "unknown participant; register them with a participants file first")
        metric_ids = frame["metric"]
        unknown_metric = ~metric_ids.isin(list(self.metrics))
        errors += errors_where(unknown_metric, "metric", lambda r: f"{metric_ids[r]!r} is not a metric of this contract; "
                                                                   f"metrics: {', '.join(self.metrics)}", metric_ids)
        fmt = self.ctx.mapping.date_format
        observed, bad_dates = parse_dates(frame["date"], fmt)
        errors += errors_where(bad_dates | (frame["date"] == ""), "date",
                               lambda r: f"{frame['date'][r]!r} is not a date; expected {_date_formats(fmt)}", frame["date"])
        ahead = observed > pd.Timestamp(self.ctx.today)
        errors += errors_where(ahead, "date", lambda r: f"{_date_text(observed[r])} is in the future")
        after_term = ~ahead & (observed > pd.Timestamp(self.contract.term.end))
        errors += errors_where(after_term, "date", lambda r: f"{_date_text(observed[r])} is after the contract term ends "
                                                             f"({self.contract.term.end})")
        values, bad_values = parse_numbers(frame["value"], self.ctx.mapping.decimal)
        errors += errors_where(bad_values, "value", lambda r: f"{frame['value'][r]!r} is not a number", frame["value"])
        errors += errors_where(frame["value"] == "", "value", "value is empty")
        stored_values = values.copy()
        for metric_id, metric in self.metrics.items():
            rows = metric_ids == metric_id
            if rows.any():
                percent = self.ctx.mapping.units.get(metric_id) == "percent"
                checked, found = value_errors(values[rows], frame["value"][rows], metric, "value", percent)
                stored_values[rows] = checked
                errors += found
        in_time = observed.where(~(ahead | after_term))  # dates already refused are not checked again
        errors += window_errors(self.ctx, self.metrics.values(), participant, in_time, metric_ids)
        correction = self._corrections(frame)
        errors += correction[1]
        usable, keys = self._keys(participant, metric_ids, observed)
        supersedes, store_errors = self._against_store(usable, keys, metric_ids, observed, correction[0])
        errors += store_errors
        self.keys.append((keys, usable.index[usable.to_numpy()].to_numpy(dtype=np.int32),
                          values[usable].to_numpy(dtype=float)))
        source = frame["source"] if "source" in frame.columns else pd.Series("", index=frame.index)
        measurements = pd.DataFrame({
            "participant_id": participant, "metric": metric_ids, "observed_on": observed, "value": stored_values,
            "source": source.where(source != "", None), "supersedes_id": supersedes, "qualifier": None,
        })
        self.counts["measurements"] = self.counts.get("measurements", 0) + len(frame)
        self.counts["corrections"] = self.counts.get("corrections", 0) + int(correction[0].sum())
        return Prepared(measurements=measurements), errors

    def _corrections(self, frame: pd.DataFrame) -> tuple[pd.Series, list[RowError]]:
        if "correction" not in frame.columns:
            return pd.Series(False, index=frame.index), []
        text = frame["correction"].str.lower()
        bad = (text != "") & ~text.isin(list(TRUE_WORDS))
        errors = errors_where(bad, "correction", lambda r: f"{frame['correction'][r]!r} is not allowed; "
                                                           "expected true or false", frame["correction"])
        return text.map(TRUE_WORDS).fillna(False).astype(bool), errors

    def _keys(self, participant: pd.Series, metric_ids: pd.Series, observed: pd.Series) -> tuple[pd.Series, np.ndarray]:
        metric_index = pd.Series(self.metric_positions.get_indexer(metric_ids), index=metric_ids.index)
        usable = participant.notna() & (metric_index >= 0) & observed.notna() & metric_ids.isin(list(self.metrics))
        return usable, measurement_keys(participant[usable], metric_index[usable], observed[usable])

    def _against_store(self, usable: pd.Series, keys: np.ndarray, metric_ids: pd.Series, observed: pd.Series,
                       correction: pd.Series) -> tuple[pd.Series, list[RowError]]:
        """A stored measurement with the same key must be corrected explicitly, and only such a one can be."""
        supersedes = pd.Series(None, index=usable.index, dtype=object)
        rows = usable.index[usable.to_numpy()]
        hit = pd.Series(False, index=usable.index)
        batch = stored_id = pd.Series(0, index=rows, dtype=np.int64)
        if len(keys) and len(self.stored_keys):
            pos = np.minimum(np.searchsorted(self.stored_keys, keys), len(self.stored_keys) - 1)
            found = self.stored_keys[pos] == keys
            hit[rows] = found
            batch = pd.Series(self.stored_batches[pos], index=rows)
            stored_id = pd.Series(self.stored_ids[pos], index=rows)
        errors = errors_where(hit & ~correction, "date", lambda r: (
            f"a measurement of {metric_ids[r]!r} for this participant on {_date_text(observed[r])} is already stored "
            f"(batch {batch[r]}); to replace it, send it with correction = true"))
        errors += errors_where(correction & usable & ~hit, "correction", lambda r: (
            f"nothing to correct: no stored measurement of {metric_ids[r]!r} for this participant on "
            f"{_date_text(observed[r])}"))
        chosen = hit & correction
        supersedes[chosen] = [int(stored_id[r]) for r in chosen.index[chosen.to_numpy()]]
        return supersedes, errors

    def finish(self) -> list[RowError]:
        """Same participant, metric and date twice in the file: a duplicate, or a conflict if the values differ.

        Only the keys are sorted whole (8 bytes a row); rows and values are gathered for repeated keys alone.
        """
        chunks, self.keys = self.keys, []
        if not chunks:
            return []
        ordered = np.sort(np.concatenate([k for k, _, _ in chunks]))
        repeated_keys = np.unique(ordered[1:][ordered[1:] == ordered[:-1]])
        del ordered
        if not len(repeated_keys):
            return []
        masks = [np.isin(keys, repeated_keys) for keys, _, _ in chunks]
        repeated = pd.DataFrame({
            "key": np.concatenate([keys[m] for (keys, _, _), m in zip(chunks, masks)]),
            "row": np.concatenate([rows[m] for (_, rows, _), m in zip(chunks, masks)]),
            "value": np.concatenate([values[m] for (_, _, values), m in zip(chunks, masks)]),
        }).sort_values(["key", "row"], kind="stable")
        errors = []
        first_row: dict[int, tuple[int, float]] = {}
        for key, row, value in repeated.itertuples(index=False, name=None):
            if key not in first_row:
                first_row[key] = (row, value)
                continue
            first, first_value = first_row[key]
            same = (np.isnan(first_value) and np.isnan(value)) or first_value == value
            message = (f"duplicate of row {first} (same participant, metric and date)" if same
                       else f"conflicts with row {first}: same participant, metric and date, other value")
            errors.append(RowError(int(row), "value", message))
        return errors


# -- survey answers -----------------------------------------------------------------------------------------------

class SurveyCheck(FileCheck):
    """One row per answer sheet, one column per survey metric (by metric id); blank means not answered."""

    kind = "survey"

    def __init__(self, ctx: Context, columns: list[str]):
        super().__init__(ctx)
        self.survey = [m for m in ctx.contract.metrics if m.instrument is not None or m.kind == "ordinal"]
        self.answered = [m for m in self.survey if m.id in columns]
        self.anonymous = bool(self.answered) and all(m.anonymous for m in self.answered)
        self.changes = [m for m in self.answered if m.instrument and _question(m).asks_about_change]
        self.required = ("date",) if self.anonymous else (ID, "date")
        self.optional = tuple(m.id for m in self.survey) + ("refers_to", "source") + (("unit",) if self.anonymous else ())
        self.first_row: dict[tuple[str, int], int] = {}

    def header_errors(self, columns: list[str]) -> list[RowError]:
        if not self.answered:
            expected = ", ".join(m.id for m in self.survey) or "none (the contract has no survey questions)"
            return [RowError(1, "", f"no answer columns; expected one or more of: {expected}")]
        mixed = {m.anonymous for m in self.answered}
        if len(mixed) > 1:
            return [RowError(1, "", "anonymous and named questions cannot share a file; send them separately")]
        errors = super().header_errors(columns)
        if self.anonymous and ID in columns:
            errors.append(RowError(1, ID, "these questions are answered anonymously; the file must not link answers "
                                          "to participants"))
        if self.changes and "refers_to" not in columns:
            errors.append(RowError(1, "refers_to", "required column is missing: change questions need the period the "
                                                   f"answer refers to ({' or '.join(REFERENCE_PERIODS)})"))
        return [e for e in errors if not (e.column == ID and e.message.startswith("unknown column") and self.anonymous)]

    def check(self, frame: pd.DataFrame) -> tuple[Prepared, list[RowError]]:
        frame, errors = self._cells(frame)
        fmt = self.ctx.mapping.date_format
        answered_on, bad_dates = parse_dates(frame["date"], fmt)
        errors += errors_where(bad_dates | (frame["date"] == ""), "date",
                               lambda r: f"{frame['date'][r]!r} is not a date; expected {_date_formats(fmt)}", frame["date"])
        errors += errors_where(answered_on > pd.Timestamp(self.ctx.today), "date",
                               lambda r: f"{_date_text(answered_on[r])} is in the future")
        refers_to = frame["refers_to"].str.lower() if "refers_to" in frame.columns else pd.Series("", index=frame.index)
        if self.changes:
            errors += errors_where(~refers_to.isin(REFERENCE_PERIODS), "refers_to", lambda r: (
                f"{frame['refers_to'][r]!r} is not allowed; expected one of: {', '.join(REFERENCE_PERIODS)}"),
                frame["refers_to"])
        participant = pd.Series(np.nan, index=frame.index)
        if not self.anonymous:
            identity = self._identify(frame[ID])
            errors += identity.errors
            participant = identity.participants(self.ctx.store)
            errors += errors_where(participant.isna() & (identity.pseudonyms != ""), ID,
                                   "unknown participant; register them with a participants file first")
            errors += self._repeated(identity.pseudonyms, answered_on)
        answers: dict[str, pd.Series] = {}
        parts, dont_know = [], 0
        for metric in self.answered:
            text = frame[metric.id]
            values, bad = parse_numbers(text, self.ctx.mapping.decimal)
            errors += errors_where(bad, metric.id, lambda r, t=text: f"{t[r]!r} is not a number", text)
            checked, found = value_errors(values, text, metric, metric.id)
            errors += found
            answers[metric.id] = values
            given = text != ""
            dont_know += int((given & checked.isna() & ~bad).sum())
            qualifier = refers_to.where(refers_to != "", None) if metric in self.changes else None
            parts.append(pd.DataFrame({
                "participant_id": participant[given], "metric": metric.id, "observed_on": answered_on[given],
                "value": checked[given], "qualifier": qualifier[given] if qualifier is not None else None,
            }))
        errors += self._conditional(answers)
        if not self.anonymous:
            for part in parts:
                errors += window_errors(self.ctx, self.answered, part["participant_id"], part["observed_on"], part["metric"])
        rows = pd.concat(parts) if parts else pd.DataFrame()
        self.counts["answers"] = self.counts.get("answers", 0) + len(rows)
        self.counts["dont_know"] = self.counts.get("dont_know", 0) + dont_know
        if self.anonymous:
            unit = frame["unit"] if "unit" in frame.columns else pd.Series("", index=frame.index)
            rows = rows.drop(columns=["participant_id"]).rename(columns={"observed_on": "answered_on"})
            rows["unit"] = unit.reindex(rows.index).where(unit.reindex(rows.index) != "", None)
            return Prepared(answers=rows), errors
        return Prepared(measurements=rows.assign(source="survey", supersedes_id=None)), errors

    def _repeated(self, pseudonyms: pd.Series, answered_on: pd.Series) -> list[RowError]:
        errors = []
        days = metric_days(answered_on.fillna(pd.Timestamp("1900-01-01")))
        for row, key in zip(pseudonyms.index, zip(pseudonyms, days)):
            if not key[0]:
                continue
            if key in self.first_row:
                errors.append(RowError(int(row), ID, f"the same participant answered on the same date in row "
                                                     f"{self.first_row[key]}"))
            else:
                self.first_row[key] = int(row)
        return errors

    def _conditional(self, answers: dict[str, pd.Series]) -> list[RowError]:
        """A question asked only after improvement must be blank unless an earlier answer shows improvement."""
        errors: list[RowError] = []
        by_question = {_question(m).id: (m, answers[m.id]) for m in self.answered if m.instrument}
        for metric, values in by_question.values():
            question = _question(metric)
            if not question.asked_when_improved:
                continue
            triggers = [(q, by_question[q]) for q in question.asked_when_improved if q in by_question]
            if not triggers:
                continue
            improved = pd.Series(False, index=values.index)
            for q, (m, v) in triggers:
                improved |= v.isin(_question(m).improvement_codes)
            shown = " or ".join(m.id for _, (m, _) in triggers)
            codes = " or ".join(str(c) for c in sorted({c for _, (m, _) in triggers for c in _question(m).improvement_codes}))
            errors += errors_where(values.notna() & ~improved, metric.id, lambda r: (
                f"{metric.id!r} is asked only when {shown} shows improvement ({codes}); leave it blank otherwise"))
        return errors


def _question(metric: Metric):  # -> Question
    return INSTRUMENTS[metric.instrument].question(metric.question or "")  # type: ignore[index]


def checker(kind: str, ctx: Context, columns: list[str]) -> FileCheck:
    if kind in ("participants", "comparison"):
        return PeopleCheck(ctx, kind)
    if kind == "enrolments":
        return EnrolmentCheck(ctx)
    if kind == "measurements":
        return MeasurementCheck(ctx)
    return SurveyCheck(ctx, columns)


def capped(errors: Iterable[RowError]) -> list[RowError]:
    return sorted(set(errors))
