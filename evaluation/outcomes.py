"""Per-participant outcomes from measurements, following a metric's definition.

One row per enrolled participant: the measurements inside the metric's window
(relative to that participant's enrolment start) are aggregated as the
metric says, the contract's missing-data rule is applied, and whether the
outcome counts as achieved is decided.  Pure: frames in, frame out.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

from contracts.model import Metric, Window
from evaluation.inputs import Inputs


def _window_bounds(starts: pd.Series, window: Window) -> tuple[pd.Series, pd.Series]:
    return starts + pd.DateOffset(months=window.start_months), starts + pd.DateOffset(months=window.end_months)


def _aggregate(values: pd.DataFrame, how: str) -> pd.Series:
    grouped = values.sort_values(["participant_id", "observed_on"], kind="stable").groupby("participant_id")["value"]
    if how == "any":
        return grouped.max().gt(0).astype(float)
    return getattr(grouped, how)()


def participant_outcomes(inputs: Inputs, metric: Metric, as_of: date, window: Window | None = None) -> pd.DataFrame:
    """participant_id, cohort, arm, start, closed, value, achieved, n_measurements and attributes.

    ``closed`` is whether the participant's window had ended by ``as_of``; only closed
    windows give an outcome.  ``window`` overrides the metric's (for a pre-period).
    """
    window = window or metric.window
    enrolled = inputs.enrolments.sort_values(["participant_id", "start"], kind="stable").drop_duplicates("participant_id")
    frame = enrolled.merge(inputs.participants, on="participant_id", how="left")
    low, high = _window_bounds(frame["start"], window)
    frame["closed"] = (high - pd.Timedelta(days=1)) <= pd.Timestamp(as_of)

    rows = inputs.measurements[inputs.measurements["metric"] == metric.id]
    rows = rows.merge(frame[["participant_id"]].assign(low=low.values, high=high.values), on="participant_id")
    rows = rows[(rows["observed_on"] >= rows["low"]) & (rows["observed_on"] < rows["high"]) & rows["value"].notna()]
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
