"""Propensity-score matching: a comparison group built from a pool, with its diagnostics.

The score is a logistic regression (statsmodels) of being treated on the
contract's covariates.  Each treated participant is matched to the k nearest
pool members on the logit of the score, within a caliper of ``caliper``
standard deviations of the logit, inside strata of exact-match covariates,
after trimming treated participants outside the pool's common support.  The
standard error is Abadie and Imbens' (2006) for matching with replacement,
which accounts for controls used more than once; it treats the estimated score
as known (a second evaluator should note that).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import warnings

import numpy as np
import pandas as pd
import statsmodels.api as sm
from statsmodels.tools.sm_exceptions import ConvergenceWarning, PerfectSeparationError, PerfectSeparationWarning

from evaluation.covariates import design_matrix
from evaluation.messages import TEXTS as W
from language import Message, MessageError


class MatchingError(MessageError):
    pass


@dataclass
class MatchResult:
    att: float
    se: float
    treated_mean: float
    counterfactual_mean: float
    n_treated: int  # treated participants matched
    n_controls: int  # distinct pool members used
    weights: pd.Series  # pool index -> total weight (sums to n_treated)
    diagnostics: dict[str, Any] = field(default_factory=dict)
    warnings: list[Message] = field(default_factory=list)


def _smd(x_t: np.ndarray, x_c: np.ndarray, w_c: np.ndarray | None = None) -> tuple[float, float]:
    """Standardised mean difference (pooled SD before matching) and variance ratio."""
    w_c = np.ones(len(x_c)) if w_c is None else w_c
    mean_c = np.average(x_c, weights=w_c)
    var_c = np.average((x_c - mean_c) ** 2, weights=w_c)
    var_t = x_t.var()
    return float(x_t.mean() - mean_c), float(var_t / var_c) if var_c > 0 else float("nan")


def propensity_logit(x: pd.DataFrame, treated: np.ndarray) -> np.ndarray:
    """The linear predictor (logit of the propensity score) of a statsmodels Logit fit.

    Covariates are standardised first (the scores are the same; the fit is better conditioned), and a
    model that separates treated from pool perfectly is refused: it leaves nobody to compare with.
    """
    scaled = (x - x.mean()) / x.std(ddof=0)
    design = sm.add_constant(scaled, has_constant="add")
    with warnings.catch_warnings():
        warnings.simplefilter("error", PerfectSeparationWarning)
        warnings.simplefilter("ignore", ConvergenceWarning)
        try:
            fit = sm.Logit(treated.astype(float), design).fit(disp=0, maxiter=200, method="newton")
        except (PerfectSeparationError, PerfectSeparationWarning):
            raise MatchingError(W("matching_separation")) from None
        except np.linalg.LinAlgError:
            raise MatchingError(W("matching_collinear")) from None
    score = np.asarray(design @ fit.params)
    if not np.all(np.isfinite(score)):
        raise MatchingError(W("matching_not_finite"))
    return score


def _nearest(pool_scores: np.ndarray, targets: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """For each target, the k nearest pool positions (sorted order) and their distances; ties by position."""
    order = np.argsort(pool_scores, kind="stable")
    sorted_scores = pool_scores[order]
    pos = np.searchsorted(sorted_scores, targets)
    offsets = np.arange(-k, k)
    candidates = np.clip(pos[:, None] + offsets[None, :], 0, len(sorted_scores) - 1)
    distances = np.abs(sorted_scores[candidates] - targets[:, None])
    pick = np.argsort(distances, axis=1, kind="stable")[:, :k]
    chosen = np.take_along_axis(candidates, pick, axis=1)
    chosen_dist = np.take_along_axis(distances, pick, axis=1)
    # Clipping can repeat the edge position; a repeat is not a second neighbour.
    repeated = np.zeros_like(chosen, dtype=bool)
    repeated[:, 1:] = np.cumsum(np.diff(np.sort(chosen, axis=1), axis=1) == 0, axis=1) > 0
    chosen_dist = np.where(repeated, np.inf, chosen_dist)
    return order[chosen], chosen_dist


def _without_replacement(pool_scores: np.ndarray, targets: np.ndarray, k: int, caliper: float) -> list[list[int]]:
    """Greedy matching, treated taken from the hardest to match (highest score) down; each control used once."""
    available = np.ones(len(pool_scores), dtype=bool)
    matches: list[list[int]] = [[] for _ in targets]
    for i in np.argsort(-targets, kind="stable"):
        distance = np.where(available, np.abs(pool_scores - targets[i]), np.inf)
        best = np.argsort(distance, kind="stable")[:k]
        best = [int(j) for j in best if distance[j] <= caliper]
        available[best] = False
        matches[i] = best
    return matches


def _neighbour_variance(scores: np.ndarray, outcomes: np.ndarray) -> np.ndarray:
    """Conditional variance of each unit's outcome from its nearest same-group neighbour (AI 2006, J=1)."""
    if len(scores) < 2:
        return np.zeros(len(scores))
    order = np.argsort(scores, kind="stable")
    s, y = scores[order], outcomes[order]
    left = np.r_[np.inf, np.diff(s)]
    right = np.r_[np.diff(s), np.inf]
    neighbour = np.where(left <= right, np.r_[0, np.arange(len(s) - 1)], np.r_[np.arange(1, len(s)), len(s) - 1])
    variance = np.empty(len(s))
    variance[order] = 0.5 * (y - y[neighbour]) ** 2
    return variance


def match(treated: pd.DataFrame, pool: pd.DataFrame, covariates: list[str], exact: list[str], *,
          caliper_sd: float, k: int, replacement: bool, squares: list[str] | None = None,
          interactions: list[list[str]] | None = None) -> MatchResult:
    """ATT of ``treated`` against matched members of ``pool``; both need ``value`` and the covariates."""
    warnings: list[Message] = []
    both = pd.concat([treated, pool], ignore_index=True)
    is_treated = np.r_[np.ones(len(treated), dtype=bool), np.zeros(len(pool), dtype=bool)]
    usable = both[covariates].notna().all(axis=1).to_numpy()
    if (~usable & is_treated).any():
        warnings.append(W("matching_covariate_missing", n=int((~usable & is_treated).sum())))
    both, is_treated = both[usable].reset_index(drop=True), is_treated[usable]
    if is_treated.sum() == 0 or (~is_treated).sum() == 0:
        raise MatchingError(W("matching_needs_both"))
    x = design_matrix(both, covariates, squares or [], interactions or [])
    if x.shape[1] == 0:
        raise MatchingError(W("matching_nothing_varies"))
    score = propensity_logit(x, is_treated)
    caliper = caliper_sd * float(np.std(score, ddof=1))

    # Strata of the exact-match covariates, numbered (one vectorised group-by, not a join per row).
    strata = both.groupby(exact, dropna=False, sort=True).ngroup().to_numpy() if exact else np.zeros(len(both), int)
    order = np.argsort(strata, kind="stable")
    bounds = np.flatnonzero(np.diff(strata[order])) + 1
    matches: dict[int, list[int]] = {}
    off_support = 0
    for members in np.split(order, bounds):
        members = np.sort(members)
        t_idx, c_idx = members[is_treated[members]], members[~is_treated[members]]
        if len(t_idx) == 0:
            continue
        if len(c_idx) == 0:
            off_support += len(t_idx)
            continue
        lo, hi = score[c_idx].min(), score[c_idx].max()
        supported = (score[t_idx] >= lo - caliper) & (score[t_idx] <= hi + caliper)
        off_support += int((~supported).sum())
        t_idx = t_idx[supported]
        if replacement:
            chosen, dist = _nearest(score[c_idx], score[t_idx], k)
            for i, row, drow in zip(t_idx, chosen, dist):
                keep = [int(c_idx[j]) for j, d in zip(row, drow) if d <= caliper]
                if keep:
                    matches[int(i)] = keep
        else:
            for i, row in zip(t_idx, _without_replacement(score[c_idx], score[t_idx], k, caliper)):
                if row:
                    matches[int(i)] = [int(c_idx[j]) for j in row]

    n_treated_all = int(is_treated.sum())
    if not matches:
        raise MatchingError("no treated participant found a match within the caliper")
    unmatched = n_treated_all - off_support - len(matches)
    if off_support:
        warnings.append(W("matching_off_support", n=off_support))
    if unmatched:
        warnings.append(W("matching_no_match", n=unmatched))

    y = both["value"].to_numpy(dtype=float)
    treated_rows = np.array(sorted(matches))
    weights = np.zeros(len(both))
    imputed = np.empty(len(treated_rows))
    for n, i in enumerate(treated_rows):
        controls = matches[int(i)]
        weights[controls] += 1.0 / len(controls)
        imputed[n] = y[controls].mean()
    treated_y = y[treated_rows]
    att = float((treated_y - imputed).mean())
    n1 = len(treated_rows)

    # Abadie-Imbens (2006) variance of the ATT for matching with replacement.
    control_rows = np.flatnonzero(weights > 0)
    sigma2 = np.zeros(len(both))
    control_mask = ~is_treated
    sigma2[control_mask] = _neighbour_variance(score[control_mask], y[control_mask])
    km = weights[control_rows]  # K_M(j)/M for each used control
    m_eff = np.array([len(matches[int(i)]) for i in treated_rows], dtype=float)
    variance = (np.sum((treated_y - imputed - att) ** 2)
                + np.sum((km ** 2 - km / np.mean(m_eff)) * sigma2[control_rows])) / n1 ** 2
    se = float(np.sqrt(max(variance, 0.0)))

    balance = _balance(x, is_treated, treated_rows, weights)
    worst = max((abs(r["smd_after"]) for r in balance if np.isfinite(r["smd_after"])), default=0.0)
    if worst > 0.1:
        poor = [r["covariate"] for r in balance if abs(r["smd_after"]) > 0.1]
        warnings.append(W("matching_poor_balance", covariates=poor))
    return MatchResult(
        att=att, se=se, treated_mean=float(treated_y.mean()), counterfactual_mean=float(imputed.mean()),
        n_treated=n1, n_controls=len(control_rows),
        weights=pd.Series(weights[control_rows], index=control_rows), warnings=warnings,
        diagnostics={
            "pool_size": int((~is_treated).sum()), "treated_in": n_treated_all, "off_support": off_support,
            "unmatched": unmatched, "caliper_sd": caliper_sd, "caliper_logit": caliper, "neighbours": k,
            "replacement": replacement, "exact": exact, "max_abs_smd_after": worst, "balance": balance,
            "standard_error": "Abadie-Imbens (2006), score treated as known",
        },
    )


def _balance(x: pd.DataFrame, is_treated: np.ndarray, treated_rows: np.ndarray,
             weights: np.ndarray) -> list[dict[str, Any]]:
    """SMD and variance ratio of every design column, before and after matching."""
    rows = []
    for column in x.columns:
        values = x[column].to_numpy(dtype=float)
        t_all, c_all = values[is_treated], values[~is_treated]
        pooled_sd = np.sqrt((t_all.var() + c_all.var()) / 2)
        diff_before, vr_before = _smd(t_all, c_all)
        used = weights > 0
        diff_after, vr_after = _smd(values[treated_rows], values[used], weights[used])
        scale = pooled_sd if pooled_sd > 0 else float("nan")
        rows.append({
            "covariate": column,
            "smd_before": diff_before / scale, "smd_after": diff_after / scale,
            "variance_ratio_before": vr_before, "variance_ratio_after": vr_after,
        })
    return rows
