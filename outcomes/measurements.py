"""Measurements: each value checked against its metric, its window and what the store already holds."""

from __future__ import annotations

from typing import Iterable

import numpy as np
import pandas as pd

from contracts import instruments
from contracts.model import Metric
from outcomes.checks import (ID, TRUE_WORDS, Context, FileCheck, Prepared, RowError, date_text, errors_where,
                             measurement_keys, not_a_date)
from outcomes.messages import TEXTS as O
from outcomes.values import free_text, number_problem, parse_dates, parse_numbers


def scale_of(metric: Metric) -> tuple[int, int, list[int]]:
    """The lowest and highest answer code and the "don't know" codes (stored as no value)."""
    if metric.instrument:
        question = instruments.question_of(metric)
        return question.scale_min, question.scale_max, question.dont_know_codes
    assert metric.scale is not None
    return metric.scale.min, metric.scale.max, list(metric.scale.missing_codes)


def value_errors(values: pd.Series, text: pd.Series, metric: Metric, column: str,
                 percent: bool = False) -> tuple[pd.Series, list[RowError]]:
    """Check values against the metric's kind; returns values as stored (shares, missing codes as None)."""
    present = values.notna()
    kind = metric.kind
    if kind == "binary":
        bad = present & ~values.isin([0, 1])
        return values, errors_where(bad, column, lambda r: O("binary_value", value=text[r], metric=metric.id), text)
    if kind == "rate":
        if percent:
            bad = present & ((values < 0) | (values > 100))
            return values / 100, errors_where(bad, column, lambda r: O("rate_percent", value=text[r], metric=metric.id),
                                              text)
        bad = present & ((values < 0) | (values > 1))
        return values, errors_where(bad, column, lambda r: O("rate_share", value=text[r], metric=metric.id), text)
    if kind in ("count", "time_to_event"):
        bad = present & ((values < 0) | (values != values.round()))
        return values, errors_where(bad, column, lambda r: O("count_value", value=text[r], kind=kind, metric=metric.id),
                                    text)
    if kind == "ordinal":
        low, high, missing_codes = scale_of(metric)
        is_missing_code = values.isin(missing_codes)
        bad = present & ~is_missing_code & ((values < low) | (values > high) | (values != values.round()))
        codes = ", ".join(map(str, missing_codes))
        errors = errors_where(bad, column, lambda r: (
            O("scale_dont_know", value=text[r], metric=metric.id, low=low, high=high, codes=codes) if missing_codes
            else O("scale", value=text[r], metric=metric.id, low=low, high=high)), text)
        return values.where(~is_missing_code), errors
    return values, []


def window_errors(ctx: Context, metrics: Iterable[Metric], participant: pd.Series, observed: pd.Series,
                  metric_ids: pd.Series) -> list[RowError]:
    """Each measurement must fall inside its metric's window (or pre-window) after the participant's enrolment."""
    starts = ctx.store.starts(participant)
    errors = errors_where(participant.notna() & starts.isna(), ID,
                          O("not_enrolled"))
    for metric in metrics:
        rows = (metric_ids == metric.id) & starts.notna() & observed.notna()
        if not rows.any():
            continue
        windows = [metric.window] + ([metric.evaluation.pre_window] if metric.evaluation.pre_window else [])
        if any(w.after != "enrolment" for w in windows):
            # A window after an exit or an event is placed by dates not known here; the evaluation places it.
            # Only a measurement before every window could begin (before the enrolment start) is refused.
            earliest = min(0, *(w.start_months for w in windows if w.after == "enrolment"))
            low = starts[rows] + pd.DateOffset(months=earliest)
            errors += errors_where(observed[rows] < low, "date", lambda r, lo=low, m=metric: O(
                "before_enrolment", date=date_text(observed[r]), metric=m.id, low=date_text(lo[r])))
            continue
        inside = pd.Series(False, index=starts[rows].index)
        for window in windows:
            low = starts[rows] + pd.DateOffset(months=window.start_months)
            high = starts[rows] + pd.DateOffset(months=window.end_months)
            inside |= (observed[rows] >= low) & (observed[rows] < high)
        low = starts[rows] + pd.DateOffset(months=metric.window.start_months)
        high = starts[rows] + pd.DateOffset(months=metric.window.end_months)
        errors += errors_where(~inside, "date", lambda r, lo=low, hi=high, m=metric: O(
            "outside_window", date=date_text(observed[r]), metric=m.id, from_months=m.window.start_months,
            to_months=m.window.end_months, low=date_text(lo[r]), high=date_text(hi[r] - pd.Timedelta(days=1))))
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
        _, participant, unknown = self._registered(frame[ID])
        errors += unknown
        metric_ids = frame["metric"]
        unknown_metric = ~metric_ids.isin(list(self.metrics))
        errors += errors_where(unknown_metric, "metric", lambda r: O("not_a_metric", value=metric_ids[r],
                                                                     metrics=", ".join(self.metrics)), metric_ids)
        fmt = self.ctx.mapping.date_format
        observed, bad_dates = parse_dates(frame["date"], fmt)
        errors += errors_where(bad_dates | (frame["date"] == ""), "date",
                               lambda r: not_a_date(frame["date"][r], fmt), frame["date"])
        ahead = observed > pd.Timestamp(self.ctx.today)
        errors += errors_where(ahead, "date", lambda r: O("in_future", date=date_text(observed[r])))
        after_term = ~ahead & (observed > pd.Timestamp(self.contract.term.end))
        errors += errors_where(after_term, "date", lambda r: O("after_term", date=date_text(observed[r]),
                                                               end=str(self.contract.term.end)))
        decimal, thousands = self.ctx.mapping.decimal, self.ctx.mapping.thousands
        values, bad_values = parse_numbers(frame["value"], decimal, thousands)
        errors += errors_where(bad_values, "value", lambda r: number_problem(frame["value"][r], decimal, thousands),
                               frame["value"])
        errors += errors_where(frame["value"] == "", "value", O("value_empty"))
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
            "source": free_text(source), "supersedes_id": supersedes, "qualifier": None,
        })
        self.counts["measurements"] = self.counts.get("measurements", 0) + len(frame)
        self.counts["corrections"] = self.counts.get("corrections", 0) + int(correction[0].sum())
        return Prepared(measurements=measurements), errors

    def _corrections(self, frame: pd.DataFrame) -> tuple[pd.Series, list[RowError]]:
        if "correction" not in frame.columns:
            return pd.Series(False, index=frame.index), []
        text = frame["correction"].str.lower()
        bad = (text != "") & ~text.isin(list(TRUE_WORDS))
        errors = errors_where(bad, "correction", lambda r: O("not_boolean", value=frame["correction"][r]),
                              frame["correction"])
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
        errors = errors_where(hit & ~correction, "date", lambda r: O(
            "already_stored", metric=metric_ids[r], date=date_text(observed[r]), batch=int(batch[r])))
        errors += errors_where(correction & usable & ~hit, "correction", lambda r: O(
            "nothing_to_correct", metric=metric_ids[r], date=date_text(observed[r])))
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
            message = O("duplicate_row" if same else "conflicting_row", row=int(first))
            errors.append(RowError(int(row), "value", message))
        return errors
