"""Outcomes per provider: each provider's participants' outcomes on the paid metrics, as a run stored them.

Descriptive, not an effect: the contract's effect is estimated for whole cohorts against their counterfactual;
what a provider's own participants achieved is shown beside it (count, mean with its 95 % interval, how many
reached the paid outcome), so a provider sees its own results and the intermediary can compare providers.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa
from scipy import stats
from sqlalchemy.engine import Engine

from store.bulk import read_frame
from store.tables import EnrolmentRow

UNKNOWN = None  # enrolments stored before providers were recorded (0013), or delivered without one


def enrolled(engine: Engine, contract_id: str) -> pd.DataFrame:
    """Each participant's first enrolment: participant_id, cohort, arm and provider (None where not recorded)."""
    with engine.connect() as conn:
        rows = read_frame(conn, sa.select(EnrolmentRow.participant_id, EnrolmentRow.cohort, EnrolmentRow.arm,
                                          EnrolmentRow.provider)
                          .where(EnrolmentRow.contract_id == contract_id)
                          .order_by(EnrolmentRow.start, EnrolmentRow.id))
    return rows.drop_duplicates("participant_id", keep="first").reset_index(drop=True)


def providers_of(engine: Engine, contract_id: str) -> pd.Series:
    """Participant id -> the provider of their first enrolment (None where none was recorded)."""
    rows = enrolled(engine, contract_id)
    return pd.Series(rows["provider"].to_numpy(dtype=object), index=rows["participant_id"].astype(int))


def outcomes_by_provider(outcomes: pd.DataFrame, providers: pd.Series) -> list[dict[str, Any]]:
    """Per provider and metric: participants, the mean outcome with its t interval, and how many achieved the
    paid outcome.  ``outcomes``: a run's per-participant outcomes (``evaluation.run.run_outcomes``)."""
    if not len(outcomes):
        return []
    frame = outcomes.assign(provider=providers.reindex(outcomes["participant_id"].astype(int)).to_numpy())
    out = []
    for (provider, metric), group in frame.groupby([frame["provider"].fillna(""), "metric"], sort=True):
        values = group["value"].dropna().astype(float).to_numpy()
        mean = float(values.mean()) if len(values) else None
        low = high = None
        if len(values) > 1:
            spread = float(values.std(ddof=1)) / np.sqrt(len(values))
            if spread > 0:
                low, high = stats.t.interval(0.95, len(values) - 1, loc=mean, scale=spread)
                low, high = float(low), float(high)
            else:
                low = high = mean
        out.append({"provider": provider or UNKNOWN, "metric": metric, "participants": int(len(group)),
                    "with_value": int(len(values)), "mean": mean, "ci": [low, high],
                    "achieved": int(group["achieved"].sum())})
    return out
