"""Propensity-score matching: a comparison group built from a pool, with its diagnostics.

The score is a logistic regression (statsmodels) of being treated on the
contract's covariates.  Each treated participant is matched to the k nearest
pool members on the logit of the score, within a caliper of ``caliper``
standard deviations of the logit, inside strata of exact-match covariates,
after trimming treated participants outside the pool's common support.

Nothing depends on the order of the delivered rows: the rows are first put in
an order derived from the data (by pseudonym hash), and with replacement every
pool member tied at the k-th nearest distance is used, the tied ones sharing
the weight equally (Abadie and Imbens' J_M(i); R's Matching with ties = TRUE).
Without replacement, ties are broken by the pseudonym hash.  The standard
error is Abadie and Imbens' (2006) for matching with replacement, with the
K(j) and K'(j) of the actual, tie-including match sets; it treats the
estimated score as known (a second evaluator should note that)."""

from __future__ import annotations

import gc
from dataclasses import dataclass, field
from typing import Any

import warnings

import numpy as np
import pandas as pd
import statsmodels.api as sm
from statsmodels.tools.sm_exceptions import ConvergenceWarning, PerfectSeparationError, PerfectSeparationWarning

from evaluation.covariates import standardised_design
from evaluation.messages import TEXTS as W
from language import Message, MessageError


# Distances on the logit scale that differ by less than this are tied: two pool members one step either side
# of a treated participant on an integer covariate are equally far in exact arithmetic, not always in floating
# point.  (R's Matching has a distance.tolerance of 1e-5 for the same purpose.)
TIE_TOLERANCE = 1e-9


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
    weights: pd.Series  # pool row (canonical order) -> total weight K(j) (sums to n_treated)
    # The matched set when asked for: treated, control (participant_id), weight (1/#J(i); summing to 1 per treated),
    # and treated_pseudonym, control_pseudonym where the rows have pseudonyms (what an export may show).
    pairs: pd.DataFrame | None = None
    diagnostics: dict[str, Any] = field(default_factory=dict)
    warnings: list[Message] = field(default_factory=list)
    se_kind: Message | None = None


def _smd(x_t: np.ndarray, x_c: np.ndarray, w_c: np.ndarray | None = None) -> tuple[float, float]:
    """Standardised mean difference (pooled SD before matching) and variance ratio."""
    w_c = np.ones(len(x_c)) if w_c is None else w_c
    mean_c = np.average(x_c, weights=w_c)
    var_c = np.average((x_c - mean_c) ** 2, weights=w_c)
    var_t = x_t.var()
    return float(x_t.mean() - mean_c), float(var_t / var_c) if var_c > 0 else float("nan")


def propensity_logit(x: pd.DataFrame, treated: np.ndarray) -> np.ndarray:
    """The linear predictor (logit of the propensity score) on the design columns of ``x``; see
    ``_propensity_score``."""
    design = np.empty((len(x), x.shape[1] + 1), order="F")
    design[:, 0] = 1.0
    for j, column in enumerate(x.columns, start=1):
        values = x[column].to_numpy(dtype=float)
        design[:, j] = (values - values.mean()) / values.std()
    return _propensity_score(design, treated)


def _propensity_score(design: np.ndarray, treated: np.ndarray) -> np.ndarray:
    """The linear predictor (logit of the propensity score) of a statsmodels Logit fit on ``design``: a
    constant, then covariates standardised (the scores are the same; the fit is better conditioned).

    A model that separates treated from pool perfectly is refused: it leaves nobody to compare with.
    """
    _check_rank(design)
    share = float(treated.mean())
    start = np.zeros(design.shape[1])  # the constant at the treated share's logit: fewer Newton steps
    start[0] = np.log(share / (1.0 - share)) if 0.0 < share < 1.0 else 0.0
    with warnings.catch_warnings():
        warnings.simplefilter("error", PerfectSeparationWarning)
        warnings.simplefilter("ignore", ConvergenceWarning)
        try:
            fit = _Logit(treated.astype(float), design, check_rank=False).fit(
                start_params=start, disp=0, maxiter=200, method="newton")
        except (PerfectSeparationError, PerfectSeparationWarning):
            raise MatchingError(W("matching_separation")) from None
        except np.linalg.LinAlgError:
            raise MatchingError(W("matching_collinear")) from None
    # Column by column (elementwise multiply and add, no BLAS kernel): identical people get bit-identical scores,
    # so they are tied, whichever rows they are on.
    params = np.asarray(fit.params, dtype=float)
    # statsmodels' model and results refer to each other, so they outlive this call until the cycle collector
    # runs, and with them their hold on the design (a gigabyte for a register-sized pool): collect them now.
    del fit
    gc.collect()
    score = np.full(len(design), params[0])
    for j in range(1, len(params)):
        score += design[:, j] * params[j]
    if not np.all(np.isfinite(score)):
        raise MatchingError(W("matching_not_finite"))
    return score


def _check_rank(design: np.ndarray, block: int = 1_000_000) -> None:
    """Refuse collinear covariates: the eigenvalues of the design's Gram matrix, summed over blocks of rows
    (statsmodels' own check factorises a copy of the whole design).

    The Gram matrix is computed to a rounding of about eps times its largest eigenvalue, so a collinear design's
    smallest eigenvalue comes out as that rounding, of either sign: the test is on the eigenvalues themselves.
    (Their square roots, compared as singular values against eps, let an exact collinearity through whenever
    the rounding came out positive: it did with OpenBLAS 0.3.31.)"""
    gram = np.zeros((design.shape[1], design.shape[1]))
    for start in range(0, len(design), block):
        part = design[start:start + block]
        gram += part.T @ part
    eigen = np.linalg.eigvalsh(gram)
    if eigen.min() <= eigen.max() * max(design.shape) * np.finfo(float).eps:
        raise MatchingError(W("matching_collinear"))


class _Logit(sm.Logit):
    """statsmodels' Logit with its Hessian summed over blocks of rows.

    The same matrix (X' diag(p(1-p)) X), but without the weighted copy of the whole design that statsmodels
    makes: with a pool of ten million that copy alone is a gigabyte.
    """

    BLOCK = 1_000_000

    def hessian(self, params: np.ndarray) -> np.ndarray:
        X = self.exog
        total = np.zeros((X.shape[1], X.shape[1]))
        for start in range(0, len(X), self.BLOCK):
            block = X[start:start + self.BLOCK]
            p = self.cdf(block @ params)
            total -= (block * (p * (1 - p))[:, None]).T @ block
        return total


ID_COLUMNS = ("person_key", "pseudonym", "participant_id")


def _prepared(treated: pd.DataFrame, pool: pd.DataFrame, pool_rows: np.ndarray | None, covariates: list[str],
              columns: list[str], warnings: list[Message]) -> tuple[pd.DataFrame, np.ndarray]:
    """Treated then pool rows with every covariate, each group in its canonical order (``_canonical_order``),
    in the columns matching reads, copied once, a column at a time (a pool of millions is never held twice)."""
    t_rows = np.arange(len(treated))
    p_rows = np.arange(len(pool)) if pool_rows is None else np.asarray(pool_rows, dtype=np.int64)

    def usable(frame: pd.DataFrame, rows: np.ndarray) -> np.ndarray:
        ok = np.ones(len(rows), dtype=bool)
        for name in covariates:
            ok &= ~pd.isna(frame[name].to_numpy()[rows])
        return ok

    ok = usable(treated, t_rows)
    if not ok.all():
        warnings.append(W("matching_covariate_missing", n=int((~ok).sum())))
    t_rows, p_rows = t_rows[ok], p_rows[usable(pool, p_rows)]
    if not len(t_rows) or not len(p_rows):
        raise MatchingError(W("matching_needs_both"))
    name = next((c for c in ID_COLUMNS if c in treated and c in pool and treated[c].iloc[t_rows].notna().all()
                 and pool[c].iloc[p_rows].notna().all()), None)
    t_rows = t_rows[_canonical_order(treated, t_rows, name, columns)]
    p_rows = p_rows[_canonical_order(pool, p_rows, name, columns)]
    kept = columns + [c for c in ID_COLUMNS if c in treated and c in pool and c not in columns]
    data = {c: np.concatenate([treated[c].to_numpy()[t_rows], pool[c].to_numpy()[p_rows]]) for c in kept}
    is_treated = np.r_[np.ones(len(t_rows), dtype=bool), np.zeros(len(p_rows), dtype=bool)]
    return pd.DataFrame(data, copy=False), is_treated


def _canonical_order(frame: pd.DataFrame, rows: np.ndarray, name: str | None, columns: list[str]) -> np.ndarray:
    """An order of ``frame``'s ``rows`` (one group: the treated, or the pool) that depends on the data only, never
    on the order it was delivered in.

    By the person key (``person_key``: the first 64 bits of the pseudonym, as the store gives it), else by a
    64-bit hash of ``pseudonym`` or ``participant_id`` (``name``), or of the row's covariates and outcome where
    there is none of these (rows equal in all of these are interchangeable).  Two people with the same key or
    hash (about one chance in 10^7 at ten million people) are ordered by their covariates and outcome, and then,
    where they have names, by name: rows still equal after that are interchangeable in every figure.  Every
    later step (the propensity fit, the sums, the greedy order without replacement) then sees the same rows in
    the same order whatever order the file had, so the run is identical to the last bit.
    """
    content = None
    ids = None
    if name == "person_key":
        key = frame[name].to_numpy(dtype=np.uint64)[rows]
    elif name is not None:
        ids = frame[name].to_numpy()[rows]
        key = pd.util.hash_array(ids, categorize=False)
    else:
        key = content = pd.util.hash_pandas_object(frame[columns].iloc[rows], index=False).to_numpy()
    order = np.argsort(key, kind="stable")
    if name is not None and (key[order][1:] == key[order][:-1]).any():
        content = pd.util.hash_pandas_object(frame[columns].iloc[rows], index=False).to_numpy()
        order = np.lexsort(((ids.astype(str) if ids is not None else np.zeros(len(key))), content, key))
    return order


def _tied_neighbours(pool_scores: np.ndarray, targets: np.ndarray, k: int,
                     caliper: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Abadie and Imbens' J_M(i) with ties: every pool member at most as far as the k-th nearest (counted with
    multiplicity), within the caliper.

    The pool is grouped by distinct score (identical people have identical scores); the k-th nearest lies among
    the k nearest distinct scores on either side of the target, so a (targets x 2k) window of groups suffices.
    Returns the distinct scores' inverse index and counts, the window's group numbers and which of them are matched.
    """
    values, inverse, counts = np.unique(pool_scores, return_inverse=True, return_counts=True)
    n = len(values)
    w = min(k, n) + 1  # one more each side: a distance equal to the k-th only after rounding is still found
    pos = np.searchsorted(values, targets)
    window = pos[:, None] + np.arange(-w, w)[None, :]
    valid = (window >= 0) & (window < n)
    window = np.clip(window, 0, n - 1)
    distance = np.where(valid, np.abs(values[window] - targets[:, None]), np.inf)
    by_distance = np.argsort(distance, axis=1, kind="stable")
    sorted_distance = np.take_along_axis(distance, by_distance, axis=1)
    cumulative = np.cumsum(np.take_along_axis(np.where(valid, counts[window], 0), by_distance, axis=1), axis=1)
    kth = np.minimum(np.argmax(cumulative >= k, axis=1), valid.sum(axis=1) - 1)
    kth = np.where(cumulative[:, -1] >= k, kth, valid.sum(axis=1) - 1)  # a pool smaller than k: all of it
    d_k = sorted_distance[np.arange(len(targets)), kth]
    chosen = valid & (distance <= d_k[:, None] + TIE_TOLERANCE) & (distance <= caliper)
    return inverse, counts, window, chosen


def _group_sums(scores: np.ndarray, targets: np.ndarray, columns: list[np.ndarray], l: int) -> tuple[np.ndarray, list[np.ndarray]]:
    """For each target, the number of units in ``scores`` at most as far as the l-th nearest (ties included) and
    the sums of each of ``columns`` over them."""
    inverse, counts, window, chosen = _tied_neighbours(scores, targets, l, np.inf)
    size = np.where(chosen, counts[window], 0).sum(axis=1).astype(float)
    sums = []
    for column in columns:
        by_group = np.bincount(inverse, weights=column, minlength=len(counts))
        sums.append(np.where(chosen, by_group[window], 0.0).sum(axis=1))
    return size, sums


def _ai2016_adjustment(score: np.ndarray, design: np.ndarray, is_treated: np.ndarray, y: np.ndarray, k: int,
                       att: float, l: int = 2) -> float:
    """Abadie and Imbens (2016, Theorem 2): the change in the ATT's variance from estimating the logit score,
    (d' I^-1 d - c' I^-1 c) / N, with I the logit information, d = dtau/dtheta and c the covariance term, each
    estimated by matching on the score (conditional covariances from the l nearest in each group, ties included).
    """
    n = len(score)
    p_hat = is_treated.mean()
    F = 1.0 / (1.0 + np.exp(-score))
    f = F * (1.0 - F)
    info = (design * f[:, None]).T @ design / n
    t_idx, c_idx = np.flatnonzero(is_treated), np.flatnonzero(~is_treated)
    # mu(1, X_i) and mu(0, X_i): the own outcome, and the mean of the k nearest in the other group.
    mu1, mu0 = y.copy(), y.copy()
    size, (total,) = _group_sums(score[t_idx], score[c_idx], [y[t_idx]], k)
    mu1[c_idx] = total / size
    size, (total,) = _group_sums(score[c_idx], score[t_idx], [y[c_idx]], k)
    mu0[t_idx] = total / size
    d = design.T @ (f * (mu1 - mu0 - att)) / (n * p_hat)
    c = np.zeros(design.shape[1])
    for group, factor in ((t_idx, np.ones(n)), (c_idx, F / (1.0 - F))):
        columns = [y[group]] + [design[group, m] for m in range(design.shape[1])] + \
                  [design[group, m] * y[group] for m in range(design.shape[1])]
        size, sums = _group_sums(score[group], score, columns, l)
        sum_y, sum_x, sum_xy = sums[0], np.column_stack(sums[1:1 + design.shape[1]]), np.column_stack(sums[1 + design.shape[1]:])
        cov = np.where(size[:, None] > 1, (sum_xy - sum_x * sum_y[:, None] / size[:, None])
                       / np.maximum(size - 1, 1)[:, None], 0.0)
        c += (cov * (f * factor)[:, None]).sum(axis=0) / (n * p_hat)
    solve = np.linalg.pinv(info)
    return float((d @ solve @ d - c @ solve @ c) / n)


def _neighbour_variance(scores: np.ndarray, outcomes: np.ndarray, rows: np.ndarray | None = None) -> np.ndarray:
    """Conditional variance of each unit's outcome from its nearest same-group neighbours (AI 2006, eq. 14),
    for the units ``rows`` (default: all).

    The neighbours are every other unit at the nearest distance (all of them when tied, so the value does not
    depend on row order): sigma^2 = J/(J+1) (Y - mean of the J neighbours)^2, which is (Y - Y_j)^2 / 2 for one.
    The group's distinct scores, counts and sums are over every unit; the rest only for ``rows`` (the pool
    members actually matched, out of a pool that may be millions).
    """
    rows = np.arange(len(scores)) if rows is None else np.asarray(rows)
    if len(scores) < 2:
        return np.zeros(len(rows))
    values, counts = np.unique(scores, return_counts=True)
    sums = np.bincount(np.searchsorted(values, scores), weights=outcomes, minlength=len(values))
    g = np.searchsorted(values, scores[rows])  # each wanted unit's distinct score
    last = len(values) - 1
    left = np.where(g > 0, values[g] - values[np.maximum(g - 1, 0)], np.inf)
    right = np.where(g < last, values[np.minimum(g + 1, last)] - values[g], np.inf)
    use_left, use_right = left <= right + TIE_TOLERANCE, right <= left + TIE_TOLERANCE
    below, above = np.maximum(g - 1, 0), np.minimum(g + 1, last)
    near_n = np.where(use_left, counts[below], 0) + np.where(use_right, counts[above], 0)
    near_sum = np.where(use_left, sums[below], 0.0) + np.where(use_right, sums[above], 0.0)
    own_n = counts[g] - 1
    y = outcomes[rows]
    j = np.where(own_n > 0, own_n, near_n).astype(float)
    total = np.where(own_n > 0, sums[g] - y, near_sum)
    return j / (j + 1) * (y - total / j) ** 2


def _without_replacement(pool_scores: np.ndarray, targets: np.ndarray, k: int, caliper: float) -> list[list[int]]:
    """Greedy matching without replacement, each control used once.

    The rule depends on the data, not on the file's order: treated are taken from the hardest to match (highest
    score) down, and among equal scores, and among equally near controls, the lower canonical position wins, that
    is the smaller pseudonym hash (see ``_canonical_order``).  Ties are broken, not shared: a control used by
    one treated participant is gone for the next.
    """
    available = np.ones(len(pool_scores), dtype=bool)
    matches: list[list[int]] = [[] for _ in targets]
    for i in np.argsort(-targets, kind="stable"):
        distance = np.where(available, np.abs(pool_scores - targets[i]), np.inf)
        best = np.argsort(distance, kind="stable")[:k]
        best = [int(j) for j in best if distance[j] <= caliper]
        available[best] = False
        matches[i] = best
    return matches


def match(treated: pd.DataFrame, pool: pd.DataFrame, covariates: list[str], exact: list[str], *,
          caliper_sd: float, k: int, replacement: bool, squares: list[str] | None = None,
          interactions: list[list[str]] | None = None, pairs: bool = False,
          se: str = "abadie_imbens_2006", pool_rows: np.ndarray | None = None) -> MatchResult:
    """ATT of ``treated`` against matched members of ``pool``; both need ``value`` and the covariates.

    With replacement, every pool member tied at the k-th nearest distance is used, the tied ones sharing the
    treated participant's weight equally (R's Matching with ``ties = TRUE``, Stata's ``teffects nnmatch``).
    ``pairs=True`` also returns the matched set (see ``MatchResult.pairs``).  ``pool_rows`` (positions in
    ``pool``) uses only those rows: a caller with a register-sized frame need not copy its selection first.
    """
    warnings: list[Message] = []
    columns = list(dict.fromkeys([*covariates, *exact, *(squares or []), *(c for p in interactions or [] for c in p),
                                  "value"]))
    both, is_treated = _prepared(treated, pool, pool_rows, covariates, columns, warnings)
    # The balance table reads the standardised design too: differences over pooled SDs do not change.
    later = {*exact, *(squares or []), *(c for p in interactions or [] for c in p), "value", *ID_COLUMNS}
    design, names = standardised_design(both, covariates, squares or [], interactions or [],
                                        release=[c for c in covariates if c not in later])
    if not names:
        raise MatchingError(W("matching_nothing_varies"))
    both = both.drop(columns=[c for c in both.columns if c not in ("value", "participant_id", "pseudonym", *exact)])
    score = _propensity_score(design, is_treated)
    if se != "abadie_imbens_2016":
        # From here the design serves only the balance table (standardised differences and variance ratios, a
        # diagnostic): single precision halves what a pool of millions holds while the neighbours are found.
        design = design.astype(np.float32)
    caliper = caliper_sd * float(np.std(score, ddof=1))
    y = both["value"].to_numpy(dtype=float)

    # Strata of the exact-match covariates, numbered (one vectorised group-by, not a join per row).
    if exact:
        strata = both.groupby(exact, dropna=False, sort=True).ngroup().to_numpy()
        order = np.argsort(strata, kind="stable")
        groups = np.split(order, np.flatnonzero(np.diff(strata[order])) + 1)
        del strata, order
    else:
        groups = [np.arange(len(both))]
    imputed_all = np.full(len(both), np.nan)  # per treated row: mean outcome of its matches
    n_matches = np.zeros(len(both))  # per treated row: #J(i), the number of its matches
    weights = np.zeros(len(both))  # per pool row: K(j) = sum over the treated it serves of 1/#J(i)
    k_prime = np.zeros(len(both))  # per pool row: K'(j) = sum of 1/#J(i)^2 (AI 2006)
    found: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []  # for the matched set: treated, controls, weights
    off_support = 0
    for members in groups:
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
        if len(t_idx) == 0:
            continue
        if replacement:
            inverse, counts, window, chosen = _tied_neighbours(score[c_idx], score[t_idx], k, caliper)
            group_n = np.where(chosen, counts[window], 0)
            size = group_n.sum(axis=1)
            hit = size > 0
            sums = np.bincount(inverse, weights=y[c_idx], minlength=len(counts))
            imputed_all[t_idx[hit]] = np.where(chosen, sums[window], 0.0).sum(axis=1)[hit] / size[hit]
            n_matches[t_idx] = size
            share = np.divide(1.0, size, out=np.zeros(len(size)), where=hit)
            rows, cols = np.nonzero(chosen)
            group = window[rows, cols]
            weights[c_idx] += np.bincount(group, weights=share[rows], minlength=len(counts))[inverse]
            k_prime[c_idx] += np.bincount(group, weights=share[rows] ** 2, minlength=len(counts))[inverse]
            if pairs:
                by_group = np.argsort(inverse, kind="stable")
                first = np.r_[0, np.cumsum(counts)[:-1]]
                reps = counts[group]
                member = by_group[np.repeat(first[group], reps) + _ranges(reps)]
                found.append((np.repeat(t_idx[rows], reps), c_idx[member], np.repeat(share[rows], reps)))
        else:
            for i, row in zip(t_idx, _without_replacement(score[c_idx], score[t_idx], k, caliper)):
                if row:
                    controls = c_idx[row]
                    imputed_all[i] = y[controls].mean()
                    n_matches[i] = len(controls)
                    weights[controls] += 1.0 / len(controls)
                    k_prime[controls] += 1.0 / len(controls) ** 2
                    if pairs:
                        found.append((np.full(len(controls), i), controls, np.full(len(controls), 1.0 / len(controls))))

    n_treated_all = int(is_treated.sum())
    treated_rows = np.flatnonzero(is_treated & (n_matches > 0))
    if not len(treated_rows):
        raise MatchingError(W("matching_none_matched"))
    unmatched = n_treated_all - off_support - len(treated_rows)
    if off_support:
        warnings.append(W("matching_off_support", n=off_support))
    if unmatched:
        warnings.append(W("matching_no_match", n=unmatched))

    imputed = imputed_all[treated_rows]
    treated_y = y[treated_rows]
    att = float((treated_y - imputed).mean())
    n1 = len(treated_rows)

    # Abadie-Imbens (2006) variance of the ATT, eq. (14) with ties: K(j) and K'(j) from the actual #J(i).
    control_rows = np.flatnonzero(weights > 0)
    sigma2 = np.zeros(len(both))
    control_mask = ~is_treated
    controls = np.flatnonzero(control_mask)
    sigma2[control_rows] = _neighbour_variance(score[controls], y[controls],
                                               np.searchsorted(controls, control_rows))
    km, kp = weights[control_rows], k_prime[control_rows]
    variance = (np.sum((treated_y - imputed - att) ** 2) + np.sum((km ** 2 - kp) * sigma2[control_rows])) / n1 ** 2
    se_kind, adjustment = W("se_abadie_imbens"), None
    if se == "abadie_imbens_2016" and replacement:
        adjustment = _ai2016_adjustment(score, design, is_treated, y, k, att)
        variance += adjustment
        se_kind = W("se_abadie_imbens_2016")
    se_value = float(np.sqrt(max(variance, 0.0)))

    balance = _balance(design[:, 1:], names, is_treated, treated_rows, weights)
    worst = max((abs(r["smd_after"]) for r in balance if np.isfinite(r["smd_after"])), default=0.0)
    if worst > 0.1:
        poor = [r["covariate"] for r in balance if abs(r["smd_after"]) > 0.1]
        warnings.append(W("matching_poor_balance", covariates=poor))
    matched_set = None
    if pairs:
        t, c, w = ([np.concatenate([f[n] for f in found]) for n in range(3)] if found
                   else [np.array([], dtype=int), np.array([], dtype=int), np.array([])])
        t, c = t.astype(int), c.astype(int)
        ids = both["participant_id"].to_numpy() if "participant_id" in both else np.arange(len(both))
        matched_set = pd.DataFrame({"treated": ids[t], "control": ids[c], "weight": w.astype(float),
                                    "treated_value": y[t], "control_value": y[c]})
        if "pseudonym" in both:
            names = both["pseudonym"].to_numpy()
            matched_set["treated_pseudonym"], matched_set["control_pseudonym"] = names[t], names[c]
        matched_set = matched_set.sort_values(["treated", "control"], kind="stable").reset_index(drop=True)
    k_max = int(n_matches[treated_rows].max())
    return MatchResult(
        att=att, treated_mean=float(treated_y.mean()), counterfactual_mean=float(imputed.mean()),
        n_treated=n1, n_controls=len(control_rows), se=se_value, se_kind=se_kind,
        weights=pd.Series(weights[control_rows], index=control_rows), warnings=warnings, pairs=matched_set,
        diagnostics={
            "pool_size": int((~is_treated).sum()), "treated_in": n_treated_all, "off_support": off_support,
            "unmatched": unmatched, "caliper_sd": caliper_sd, "caliper_logit": caliper, "neighbours": k,
            "replacement": replacement, "exact": exact, "max_abs_smd_after": worst, "balance": balance,
            "ties": "all tied neighbours, equal weights" if replacement else "broken by pseudonym hash",
            "treated_with_tied_matches": int((n_matches[treated_rows] > k).sum()), "most_matches": k_max,
            "standard_error": ("Abadie-Imbens (2016), adjusted for the estimated score" if adjustment is not None
                               else "Abadie-Imbens (2006), score treated as known"),
            "variance_adjustment_2016": adjustment,
        },
    )


def _ranges(lengths: np.ndarray) -> np.ndarray:
    """0..n-1 for each n in ``lengths``, concatenated."""
    total = int(lengths.sum())
    starts = np.repeat(np.cumsum(lengths) - lengths, lengths)
    return np.arange(total) - starts


def _balance(x: np.ndarray, names: list[str], is_treated: np.ndarray, treated_rows: np.ndarray,
             weights: np.ndarray) -> list[dict[str, Any]]:
    """SMD and variance ratio of every design column (``names``), before and after matching, in double
    precision whatever ``x`` holds."""
    rows = []
    used = weights > 0
    for j, column in enumerate(names):
        values = x[:, j]
        t_all, c_all = values[is_treated].astype(float), values[~is_treated].astype(float)
        pooled_sd = np.sqrt((t_all.var() + c_all.var()) / 2)
        diff_before, vr_before = _smd(t_all, c_all)
        del c_all
        diff_after, vr_after = _smd(values[treated_rows].astype(float), values[used].astype(float), weights[used])
        scale = pooled_sd if pooled_sd > 0 else float("nan")
        rows.append({
            "covariate": column,
            "smd_before": diff_before / scale, "smd_after": diff_after / scale,
            "variance_ratio_before": vr_before, "variance_ratio_after": vr_after,
        })
    return rows


def matched_set(engine: Any, run_id: int, metric_id: str, cohort: str | None = None) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Who was matched to whom in a stored run, with weights, by pseudonym only: for the intermediary.

    Recomputed from the run (its contract version, as-of date and interim flag) on the same inputs, which the
    run's fingerprint must confirm, and refused unless the recomputed estimate is the one the run stored: the
    matched set is then the run's, not a new one.  Matching is deterministic in the data (row order included),
    so the same run always gives the same set.  Returns the pairs (treated, control, weight) and a summary.
    """
    from contracts.registry import get_contract
    from evaluation.inputs import load_inputs
    from evaluation.outcomes import participant_outcomes
    from evaluation.result import POOLED, _clean
    from evaluation.run import get_run_by_id, matching_frames

    run = get_run_by_id(engine, run_id)
    stored = get_contract(engine, run.contract_id)
    contract = next(v for v in stored.versions if v.version == run.contract_version).terms
    metric = next((m for m in contract.metrics if m.id == metric_id), None)
    if metric is None or metric.evaluation.design != "matched_comparison":
        raise MatchingError(W("matched_set_not_matched", metric=metric_id))
    cohort = cohort or POOLED
    cohorts = [c.id for c in contract.cohorts] if cohort == POOLED else [cohort]
    if cohort != POOLED and cohort not in {c.id for c in contract.cohorts}:
        raise MatchingError(W("matched_set_no_cohort", cohort=cohort))
    inputs = load_inputs(engine, stored.id, run.as_of, run.include_unverified)
    if inputs.fingerprint() != run.inputs_fingerprint:
        raise MatchingError(W("matched_set_inputs_changed", run=run_id))
    ev = metric.evaluation
    outcomes = participant_outcomes(inputs, metric, run.as_of)
    treated, pool, exact, rows = matching_frames(outcomes, outcomes["cohort"].isin(cohorts), cohorts, ev)
    m = match(treated, pool, list(ev.covariates), exact, caliper_sd=float(ev.caliper), k=ev.neighbours,
              replacement=ev.replacement, squares=list(ev.squares), interactions=[list(p) for p in ev.interactions],
              pairs=True, pool_rows=rows)
    result = run.result(metric_id, cohort)
    if result is None or result.estimate is None or result.estimate != _clean(m.att):  # as stored: 12 digits
        raise MatchingError(W("matched_set_not_reproduced", run=run_id, metric=metric_id))
    assert m.pairs is not None
    names = _pseudonyms(engine, np.unique(np.r_[m.pairs["treated"].to_numpy(), m.pairs["control"].to_numpy()]))
    pairs = pd.DataFrame({"treated": m.pairs["treated"].map(names), "control": m.pairs["control"].map(names),
                          "weight": m.pairs["weight"]}).sort_values(["treated", "control"], kind="stable")
    summary = {"run": run.id, "contract": run.contract_id, "metric": metric_id, "cohort": cohort,
               "as_of": run.as_of.isoformat(), "estimate": result.estimate, "treated": m.n_treated, "controls": m.n_controls,
               "pairs": len(pairs), "treated_with_tied_matches": m.diagnostics["treated_with_tied_matches"]}
    return pairs.reset_index(drop=True), summary


def _pseudonyms(engine: Any, ids: np.ndarray) -> dict[int, str]:
    """The stored pseudonyms of the participants ``ids`` (the matched ones only: evaluation reads a 64-bit key)."""
    import sqlalchemy as sa

    from store.tables import ParticipantRow

    names: dict[int, str] = {}
    with engine.connect() as conn:
        for start in range(0, len(ids), 5_000):
            chunk = [int(i) for i in ids[start:start + 5_000]]
            names.update(conn.execute(sa.select(ParticipantRow.id, ParticipantRow.pseudonym)
                                      .where(ParticipantRow.id.in_(chunk))).all())
    return names
