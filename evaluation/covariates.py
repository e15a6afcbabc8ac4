"""Covariates as a numeric design matrix, shared by the propensity model and regression adjustment."""

from __future__ import annotations

from typing import Sequence

import pandas as pd


def design_matrix(frame: pd.DataFrame, covariates: Sequence[str], squares: Sequence[str] = (),
                  interactions: Sequence[Sequence[str]] = ()) -> pd.DataFrame:
    """Numeric covariates as they are, categorical ones as 0/1 columns (first level dropped), then the
    squares and pairwise products asked for.  Columns that do not vary carry no information and are left out."""
    parts = []
    for name in covariates:
        column = frame[name]
        numeric = pd.to_numeric(column, errors="coerce")
        if numeric.notna().sum() == column.notna().sum() and column.notna().any():
            parts.append(numeric.rename(name).astype(float))
        else:
            dummies = pd.get_dummies(column.astype("string"), prefix=name, dtype=float)
            parts.append(dummies.iloc[:, 1:] if dummies.shape[1] > 1 else dummies.iloc[:, :0])
    for name in squares:
        parts.append((pd.to_numeric(frame[name], errors="coerce").astype(float) ** 2).rename(f"{name}^2"))
    for a, b in interactions:
        product = pd.to_numeric(frame[a], errors="coerce").astype(float) * pd.to_numeric(frame[b], errors="coerce").astype(float)
        parts.append(product.rename(f"{a}*{b}"))
    matrix = pd.concat(parts, axis=1) if parts else pd.DataFrame(index=frame.index)
    return matrix.loc[:, matrix.std(ddof=0) > 0]
