"""Covariates as a numeric design matrix, shared by the propensity model and regression adjustment."""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd


def design_matrix(frame: pd.DataFrame, covariates: Sequence[str], squares: Sequence[str] = (),
                  interactions: Sequence[Sequence[str]] = ()) -> pd.DataFrame:
    """Numeric covariates as they are, categorical ones as 0/1 columns (first level dropped), then the
    squares and pairwise products asked for.  Columns that do not vary carry no information and are left out."""
    parts = list(_blocks(frame, covariates, squares, interactions))
    matrix = pd.concat(parts, axis=1) if parts else pd.DataFrame(index=frame.index)
    return matrix.loc[:, matrix.std(ddof=0) > 0]


def standardised_design(frame: pd.DataFrame, covariates: Sequence[str], squares: Sequence[str] = (),
                        interactions: Sequence[Sequence[str]] = (),
                        release: Sequence[str] = ()) -> tuple[np.ndarray, list[str]]:
    """The columns of ``design_matrix``, each centred and scaled to SD 1, after a constant column of ones, in
    one array filled column by column (column-major), and their names.

    For a pool of millions: the design is held once, never as a frame and an array side by side, and the
    covariates named in ``release`` are deleted from ``frame`` as soon as their columns are made.
    """
    # Columns at most: one per number, one per level but the first of a text covariate, then squares and products.
    bound = 1 + len(squares) + len(interactions) + sum(
        1 if frame[name].dtype != object else max(int(frame[name].nunique()) - 1, 1) for name in covariates)
    design = np.empty((len(frame), bound), order="F")
    design[:, 0] = 1.0
    names: list[str] = []
    labels = [*covariates, *[None] * (len(squares) + len(interactions))]
    for covariate, block in zip(labels, _blocks(frame, covariates, squares, interactions)):
        for name, column in (block.items() if isinstance(block, pd.DataFrame) else [(block.name, block)]):
            values = column.to_numpy(dtype=float)
            sd = values.std()
            if not sd > 0:
                continue
            target = design[:, 1 + len(names)]
            np.subtract(values, values.mean(), out=target)
            target /= sd
            names.append(str(name))
        del block
        if covariate is not None and covariate in release and covariate in frame.columns:
            del frame[covariate]
    return design[:, :1 + len(names)], names


def _blocks(frame: pd.DataFrame, covariates: Sequence[str], squares: Sequence[str],
            interactions: Sequence[Sequence[str]]):
    """The design's columns, covariate by covariate (a Series, or a frame of 0/1 columns)."""
    for name in covariates:
        yield _columns(frame[name], name)
    for name in squares:
        yield (pd.to_numeric(frame[name], errors="coerce").astype(float) ** 2).rename(f"{name}^2")
    for a, b in interactions:
        product = pd.to_numeric(frame[a], errors="coerce").astype(float) * pd.to_numeric(frame[b], errors="coerce").astype(float)
        yield product.rename(f"{a}*{b}")


def _columns(column: pd.Series, name: str) -> pd.DataFrame | pd.Series:
    """One covariate: numeric as it is, else 0/1 columns of its levels as text, sorted, the first dropped.

    Text is read through its distinct values (a category repeated over millions of rows is converted once).
    """
    if column.dtype != object:
        numeric = pd.to_numeric(column, errors="coerce")
        if numeric.notna().sum() == column.notna().sum() and column.notna().any():
            return numeric.rename(name).astype(float)
    codes, uniques = pd.factorize(column, use_na_sentinel=True)
    numbers = pd.to_numeric(pd.Series(uniques, dtype=object), errors="coerce").to_numpy(dtype=float)
    if len(uniques) and not np.isnan(numbers).any():
        return pd.Series(np.where(codes >= 0, numbers[np.maximum(codes, 0)], np.nan), index=column.index, name=name)
    levels = sorted({str(u) for u in uniques})
    position = {level: i for i, level in enumerate(levels)}
    level_of = np.array([position[str(u)] for u in uniques] + [-1], dtype=np.int64)[codes]  # -1: missing
    return pd.DataFrame({f"{name}_{level}": (level_of == i).astype(float) for i, level in enumerate(levels)
                         if i > 0}, index=column.index)
