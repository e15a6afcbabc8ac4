"""Per-participant outcomes from measurements, following a metric's definition.

One row per enrolled participant: the measurements inside the metric's window
(relative to that participant's enrolment start, exit, or a dated event) are
aggregated as the metric says, the contract's missing-data rule is applied,
and whether the outcome counts as achieved is decided.  Pure: frames in, frame out.

A window that counts from the exit or from an event has no start for a
participant who has not exited or had the event by the as-of date: that
participant's window is open (pending), never a missing outcome.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

from contracts.model import Metric, Window
from evaluation.inputs import Inputs


def _window_bounds(starts: pd.Series, window: Window) -> tuple[pd.Series, pd.Series]:
    return starts + pd.DateOffset(months=window.start_months), starts + pd.DateOffset(months=window.end_months)


def window_anchor(inputs: Inputs, frame: pd.DataFrame, window: Window) -> pd.Series:
    """Each participant's date the window counts from (NaT where the exit or event has not happened by as-of).

    ``frame`` has participant_id, start and exit (one enrolment per participant).  An event is the first
    measurement equal to 1 of the binary metric ``window.event`` on or after the participant's enrolment start.
    """
    if window.after == "exit":
        return pd.to_datetime(frame["exit"])
    if window.after == "event":
        m = inputs.measurements
        hits = m[(m["metric"] == window.event) & (m["value"] > 0)]
        hits = hits.merge(frame[["participant_id", "start"]], on="participant_id")
        first = hits[hits["observed_on"] >= hits["start"]].groupby("participant_id")["observed_on"].min()
        return pd.to_datetime(frame["participant_id"].map(first))
    return frame["start"]


def _aggregate(values: pd.DataFrame, how: str) -> pd.Series:
    if how in ("first", "last"):  # only these depend on the order of a participant's measurements
        values = values.sort_values(["participant_id", "observed_on"], kind="stable")
    grouped = values.groupby("participant_id")["value"]
    if how == "any":
        return grouped.max().gt(0).astype(float)
    return getattr(grouped, how)()


def participant_outcomes(inputs: Inputs, metric: Metric, as_of: date, window: Window | None = None) -> pd.DataFrame:
    """participant_id, cohort, arm, start, closed, value, achieved, n_measurements and attributes.

    ``closed`` is whether the participant's window had ended by ``as_of``; only closed
    windows give an outcome.  ``window`` overrides the metric's (for a pre-period).
    """
    window = window or metric.window
    enrolled = inputs.enrolments
    if not enrolled["participant_id"].is_unique:  # the first enrolment of each (a register: one each, no copy)
        enrolled = enrolled.sort_values(["participant_id", "start"], kind="stable").drop_duplicates("participant_id")
    frame = enrolled.merge(inputs.participants, on="participant_id", how="left")
    anchor = window_anchor(inputs, frame, window)
    frame["window_from"] = anchor
    frame["no_anchor"] = anchor.isna().to_numpy()  # no exit or event yet: pending, and said in a warning
    low, high = _window_bounds(anchor, window)
    frame["closed"] = ((high - pd.Timedelta(days=1)) <= pd.Timestamp(as_of)).fillna(False).astype(bool)

    m = inputs.measurements
    mine = np.flatnonzero((m["metric"] == metric.id).to_numpy())
    # Each measurement's participant's window, by position (no join of frames: a register's pool is millions).
    position = pd.Index(frame["participant_id"]).get_indexer(m["participant_id"].to_numpy()[mine])
    known = position >= 0
    mine, position = mine[known], position[known]
    observed = m["observed_on"].to_numpy()[mine]
    inside = ((observed >= low.to_numpy()[position]) & (observed < high.to_numpy()[position])
              & ~np.isnan(m["value"].to_numpy(dtype=float)[mine]))
    rows = pd.DataFrame({"participant_id": m["participant_id"].to_numpy()[mine[inside]],
                         "observed_on": observed[inside], "value": m["value"].to_numpy(dtype=float)[mine[inside]]})
    value = _aggregate(rows, metric.aggregation)
    frame["n_measurements"] = frame["participant_id"].map(rows.groupby("participant_id").size()).fillna(0).astype(int)
    frame["value"] = frame["participant_id"].map(value).astype(float)

    missing = frame["value"].isna()
    if metric.missing == "zero":
        frame.loc[missing, "value"] = 0.0
    frame["achieved"] = _achieved(frame["value"], metric)
    if metric.missing == "not_achieved":
        frame.loc[missing, "achieved"] = False
        if metric.kind == "binary":
            frame.loc[missing, "value"] = 0.0 if metric.direction == "higher_is_better" else 1.0
    frame.loc[~frame["closed"], ["value", "achieved"]] = np.nan
    return frame


def _achieved(values: pd.Series, metric: Metric) -> pd.Series:
    present = values.notna()
    if metric.achieved_when is not None:
        threshold = float(metric.achieved_when.value)
        op = metric.achieved_when.op
        hit = values >= threshold if op == "at_least" else values <= threshold if op == "at_most" else values == threshold
    elif metric.kind == "binary":
        hit = values == (1.0 if metric.direction == "higher_is_better" else 0.0)
    else:
        return pd.Series(np.nan, index=values.index, dtype=object)
    return hit.astype(object).where(present, np.nan)
