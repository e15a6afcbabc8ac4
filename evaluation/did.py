"""Difference-in-differences: treated and comparison units over periods, two-way fixed effects.

Each unit (a treated participant, a municipality, or a comparison unit from the pool) is followed from its
``pre_window`` to the end of the metric's window, in periods of a month, a quarter or a year counted from its
own start (event time: a comparison unit's start is its reference date).  The model is

    y_it = a_i + l_t + b * D_it + e_it,   D_it = treated_i * post_t,

with unit and period fixed effects; ``b`` is the effect.  Unit effects are removed by demeaning within each
unit (exact, by Frisch-Waugh-Lovell; sums by unit with ``numpy.bincount``), period effects are dummies, and the
small least-squares problem left is solved directly.  Standard errors are cluster-robust by unit (CR1:
G/(G-1)·(N-1)/(N-K), K counting the regressors, the period dummies and the constant but not the unit effects,
which are nested in the clusters: fixest's and pyfixest's default), with t(G-1) critical values.

An event study replaces D with one treated-by-period term per period (the last pre-period is the reference)
and tests jointly (Wald, F(q, G-1)) that the pre-period terms are zero: a small p-value means the groups were
already drifting apart before the start, and the parallel-trends assumption is doubtful.

Few treated units (a municipality compared with others).  Cluster-robust standard errors need many treated
*and* many comparison clusters (Conley & Taber 2011; MacKinnon & Webb 2017).  Below ``FEW_TREATED`` treated or
comparison units, or ``FEW_CLUSTERS`` units in all, the p-value is randomisation inference instead: treatment
is reassigned to every other set of as many units (all of them when there are at most ``MAX_PLACEBOS``, else
that many drawn with a fixed seed), the same model is fitted to each, and the p-value is the rank of the
actual |b| among the placebo |b|: (1 + #{|b_placebo| >= |b|}) / (1 + placebos).  The confidence interval
inverts that test under a constant additive effect.  With too few placebos for any p below alpha the result
says so.  A wild cluster restricted bootstrap (Webb six-point weights, Rademacher with full enumeration when
2^G <= draws; Cameron, Gelbach & Miller 2008, Webb 2023) is reported beside it when at least two units are
treated; with a single treated cluster it is known to fail (MacKinnon & Webb 2017), so it is not shown.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from contracts.model import Metric
from evaluation.inputs import Inputs
from evaluation.messages import TEXTS as W
from evaluation.result import EffectResult
from language import Message

FEW_TREATED = 10  # fewer treated (or comparison) units than this: randomisation inference, not the sandwich
FEW_CLUSTERS = 30  # fewer units in all than this: the same
MAX_PLACEBOS = 9999  # placebo assignments enumerated in full up to this many, else this many drawn
BOOTSTRAP_DRAWS = 9999
SEED = 20160401  # fixed: the same data give the same placebo draws and bootstrap weights, run after run
CORRECTION = "G/(G−1)·(N−1)/(N−K)"
WEBB = np.array([-math.sqrt(1.5), -1.0, -math.sqrt(0.5), math.sqrt(0.5), 1.0, math.sqrt(1.5)])

PERIOD_MONTHS = {"month": 1, "quarter": 3, "year": 12}


def period_values(rows: pd.DataFrame, units: pd.Series, how: str, missing: str, first: int, last: int
                  ) -> pd.DataFrame:
    """One value per unit and period from measurement rows that carry their ``period``: aggregated by ``how`` (for
    ``any``, 1 when a value is above 0), periods ``first`` to ``last - 1`` only; with ``missing: zero``, every
    period of every unit in ``units``, no record meaning none.  Shared by the event-time and calendar panels."""
    rows = rows[(rows["period"] >= first) & (rows["period"] < last) & rows["value"].notna()]
    grouped = rows.sort_values("observed_on", kind="stable").groupby(["participant_id", "period"])["value"]
    values = grouped.max().gt(0).astype(float) if how == "any" else getattr(grouped, how)()
    frame = values.rename("value").reset_index()
    if missing == "zero":
        grid = pd.MultiIndex.from_product([units, range(first, last)], names=["participant_id", "period"])
        frame = frame.set_index(["participant_id", "period"]).reindex(grid, fill_value=0.0).reset_index()
    return frame


def as_rates(frame: pd.DataFrame, denominators: pd.DataFrame, per: Any) -> tuple[pd.DataFrame, int]:
    """Values as rates per ``per`` of each unit-period's denominator (its population); unit-periods without a
    positive denominator are left out, and their number returned."""
    frame = frame.merge(denominators.rename(columns={"value": "denominator"}), on=["participant_id", "period"],
                        how="left")
    usable = frame["denominator"].notna() & (frame["denominator"] > 0)
    rates = frame[usable].assign(value=float(per) * frame["value"][usable] / frame["denominator"][usable])
    return rates, int((~usable).sum())


def panel(inputs: Inputs, metric: Metric, as_of: date, units: pd.DataFrame) -> pd.DataFrame:
    """One row per unit and period: unit, period (negative before the start), value, treated, post.

    ``units`` has participant_id, arm and start.  Units whose outcome window has not closed are left out.  With
    ``evaluation.denominator`` (a metric such as a municipality's population, its mean in each period) each value
    becomes ``per`` x value / denominator, a rate per 1,000; a unit-period without a positive denominator is left
    out and counted in ``attrs["no_denominator"]``.
    """
    ev = metric.evaluation
    assert ev.pre_window is not None
    months = PERIOD_MONTHS[ev.period]
    units = units.assign(
        closed=(units["start"] + pd.DateOffset(months=metric.window.end_months) - pd.Timedelta(days=1)) <= pd.Timestamp(as_of))
    units = units[units["closed"]]
    first, last = ev.pre_window.start_months // months, -(-metric.window.end_months // months)

    def by_period(metric_id: str, how: str, missing: str) -> pd.DataFrame:
        rows = inputs.measurements[inputs.measurements["metric"] == metric_id].merge(
            units[["participant_id", "start", "arm"]], on="participant_id")
        elapsed = ((rows["observed_on"].dt.year - rows["start"].dt.year) * 12
                   + (rows["observed_on"].dt.month - rows["start"].dt.month)
                   - (rows["observed_on"].dt.day < rows["start"].dt.day).astype(int))  # whole months since the start
        return period_values(rows.assign(period=np.floor_divide(elapsed, months)), units["participant_id"], how,
                             missing, first, last)

    frame = by_period(metric.id, metric.aggregation, metric.missing)
    no_denominator = 0
    if ev.denominator is not None:
        frame, no_denominator = as_rates(frame, by_period(ev.denominator, "mean", "exclude"), ev.per)
    frame = frame.merge(units[["participant_id", "arm"]], on="participant_id")
    post_from = metric.window.start_months // months
    out = pd.DataFrame({
        "unit": frame["participant_id"], "period": frame["period"].astype(int), "value": frame["value"].astype(float),
        "treated": (frame["arm"] == "treatment").astype(float), "post": (frame["period"] >= post_from).astype(float),
    })
    out.attrs["no_denominator"] = no_denominator
    return out


MAX_PATTERNS = 2000  # distinct (treated, periods observed) patterns of units for the aggregated computation


@dataclass
class Prepared:
    """A panel as arrays: unit codes (sorted unit ids, so row order does not matter), period codes, values."""

    y: np.ndarray  # values, demeaned within unit
    units: np.ndarray  # unit code per row
    counts: np.ndarray  # rows per unit
    unit_ids: np.ndarray
    codes: np.ndarray  # period code per row (index into period_values)
    period_values: list[int]
    treated: np.ndarray  # per row
    post: np.ndarray  # per row
    post_by_period: np.ndarray  # per period code
    treated_units: np.ndarray  # per unit, bool
    unit_level: bool  # treated is constant within each unit, post within each period
    _indicators: np.ndarray | None = None
    _cells: tuple | None = None

    @property
    def periods(self) -> np.ndarray:
        return np.asarray(self.period_values, dtype=np.int64)[self.codes]

    @property
    def indicators(self) -> np.ndarray:
        """One indicator per period, demeaned within unit (rows x T, Fortran order)."""
        if self._indicators is None:
            self._indicators = np.empty((len(self.y), len(self.period_values)), order="F")
            for j in range(len(self.period_values)):
                self._indicators[:, j] = self.demean((self.codes == j).astype(float))
        return self._indicators

    @property
    def dummies(self) -> np.ndarray:
        """Period dummies but the first, demeaned within unit."""
        return self.indicators[:, 1:]

    @property
    def n_units(self) -> int:
        return len(self.counts)

    def demean(self, column: np.ndarray) -> np.ndarray:
        return column - (np.bincount(self.units, column, minlength=self.n_units) / self.counts)[self.units]

    def unit_sums(self, column: np.ndarray) -> np.ndarray:
        return np.bincount(self.units, column, minlength=self.n_units)

    def cells(self) -> tuple | None:
        """The panel as a units x periods grid, units grouped by pattern (treated or not, periods observed).

        Within a pattern every unit has the same demeaned regressors period by period, so cross-products need
        only the grid.  None (use the row-by-row computation) when a unit has a period twice, there are more than
        62 periods, or more than ``MAX_PATTERNS`` patterns."""
        if self._cells is None:
            g, t = self.n_units, len(self.period_values)
            flat = self.units * t + self.codes
            if t > 62 or np.bincount(flat, minlength=g * t).max(initial=0) > 1:
                self._cells = (None,)
            else:
                grid = np.zeros(g * t)
                grid[flat] = self.y
                mask = np.zeros(g * t, dtype=bool)
                mask[flat] = True
                mask = mask.reshape(g, t)
                key = (mask.astype(np.int64) << np.arange(t, dtype=np.int64)).sum(axis=1) * 2 + self.treated_units
                keys, pattern = np.unique(key, return_inverse=True)
                if len(keys) > MAX_PATTERNS:
                    self._cells = (None,)
                else:
                    order = np.argsort(pattern, kind="stable")
                    sizes = np.bincount(pattern, minlength=len(keys))
                    self._cells = (grid.reshape(g, t), mask[order[np.cumsum(sizes) - sizes]], (keys % 2).astype(int),
                                   pattern, np.split(order, np.cumsum(sizes)[:-1]), sizes)
        return None if self._cells[0] is None else self._cells


def prepare(data: pd.DataFrame) -> Prepared:
    units, unit_ids = pd.factorize(data["unit"], sort=True)
    units = units.astype(np.intp)
    counts = np.bincount(units).astype(float)
    periods = data["period"].to_numpy(dtype=np.int64)
    period_values = sorted(int(p) for p in np.unique(periods))
    codes = np.searchsorted(np.asarray(period_values, dtype=np.int64), periods)
    treated = data["treated"].to_numpy(dtype=float)
    post = data["post"].to_numpy(dtype=float)
    treated_sums = np.bincount(units, treated, minlength=len(counts))
    per_period = np.bincount(codes, minlength=len(period_values))
    post_sums = np.bincount(codes, post, minlength=len(period_values))
    level = bool(np.all((treated_sums == 0) | (treated_sums == counts))
                 and np.all((post_sums == 0) | (post_sums == per_period)))
    prep = Prepared(np.empty(0), units, counts, np.asarray(unit_ids), codes, period_values, treated, post,
                    (post_sums > 0).astype(float), treated_sums > 0, level)
    prep.y = prep.demean(data["value"].to_numpy(dtype=float))
    return prep


@dataclass
class Fit:
    names: list[str]
    params: np.ndarray
    cov: np.ndarray
    clusters: int
    observations: int
    regressors: int

    def se(self, name: str) -> float:
        i = self.names.index(name)
        return float(math.sqrt(self.cov[i, i])) if self.cov[i, i] > 0 else float("nan")

    def param(self, name: str) -> float:
        return float(self.params[self.names.index(name)])


def fit(prep: Prepared, terms: dict[str, np.ndarray], rows: bool = False) -> Fit:
    """OLS of the demeaned values on the terms and the period dummies; CR1 covariance clustered by unit.

    Each term is a function of treatment and period: an array (2, T), its value for comparison and for treated
    units in each period.  Terms that do not vary within units (nothing left after demeaning) are dropped.  On the
    units x periods grid (``Prepared.cells``) the cross-products are sums over patterns of units and the cluster
    scores one small matrix product per pattern; otherwise (or with ``rows``) row by row."""
    t = len(prep.period_values)
    dummies = np.zeros((2, t, max(t - 1, 0)))
    for j in range(1, t):
        dummies[:, j, j - 1] = 1.0
    given = np.stack([terms[name] for name in terms], axis=2) if terms else np.zeros((2, t, 0))
    design = np.concatenate([given, dummies], axis=2)  # (2, T, K)
    cells = None if rows else prep.cells()
    if cells is not None:
        grid, masks, treated, pattern, members, sizes = cells
        observed = masks[:, :, None]
        raw = design[treated]  # (P, T, K)
        z = observed * (raw - (raw * observed).sum(axis=1, keepdims=True) / masks.sum(axis=1)[:, None, None])
        varying = np.abs(z).max(axis=(0, 1)) > 1e-12
    else:
        z = design[prep.treated.astype(int), prep.codes]  # (N, K)
        z = np.column_stack([prep.demean(z[:, k]) for k in range(z.shape[1])])
        varying = np.abs(z).max(axis=0, initial=0.0) > 1e-12
    m_given = len(terms)
    keep = [k for k in range(design.shape[2]) if k >= m_given or varying[k]]
    names = [name for k, name in enumerate(terms) if varying[k]]
    z = z[..., keep]
    if cells is not None:
        ztz = np.einsum("p,ptk,ptl->kl", sizes.astype(float), z, z)
        sums = np.stack([np.bincount(pattern, grid[:, j], minlength=len(sizes)) for j in range(t)], axis=1)
        zty = np.einsum("ptk,pt->k", z, sums)
    else:
        ztz, zty = z.T @ z, z.T @ prep.y
    try:
        bread = np.linalg.inv(ztz)
    except np.linalg.LinAlgError:
        bread = np.linalg.pinv(ztz)
    params = bread @ zty
    if cells is not None:
        scores = np.empty((prep.n_units, z.shape[2]))
        for p, index in enumerate(members):
            scores[index] = (grid[index] - z[p] @ params) @ z[p]  # unobserved periods: 0 in grid and in z
    else:
        residuals = prep.y - z @ params
        scores = np.column_stack([prep.unit_sums(z[:, k] * residuals) for k in range(z.shape[1])])
    n, k, g = len(prep.y), z.shape[-1] + 1, prep.n_units  # + 1: the constant inside the unit effects, as fixest
    scale = g / (g - 1) * (n - 1) / (n - k) if g > 1 and n > k else float("nan")
    m = len(names)
    cov = (bread @ (scores.T @ scores) @ bread)[:m, :m] * scale
    return Fit(names, params[:m], cov, g, n, k)


def _rates(data: pd.DataFrame, metric: Metric, result: EffectResult) -> None:
    """A panel of rates (``evaluation.denominator``): say so, and count the unit-periods without a denominator."""
    ev = metric.evaluation
    if ev.denominator is None:
        return
    result.diagnostics["rate"] = {"per": ev.per, "denominator": ev.denominator}
    if data.attrs.get("no_denominator"):
        result.warnings.append(W("panel_no_denominator", n=int(data.attrs["no_denominator"])))


def _t_interval(beta: float, se: float, clusters: int, alpha: float) -> tuple[float, float, float]:
    t = stats.t(clusters - 1)
    half = float(t.ppf(1 - alpha / 2)) * se
    return beta - half, beta + half, float(2 * t.sf(abs(beta / se)))


def estimate(data: pd.DataFrame, metric: Metric, cohort: str) -> EffectResult:
    alpha = float(metric.evaluation.alpha)
    prep = prepare(data)
    treated_units = int(prep.treated_units.sum())
    comparison_units = int(np.bincount(prep.units, prep.treated == 0, minlength=prep.n_units).astype(bool).sum())
    result = EffectResult(metric=metric.id, cohort=cohort, design="difference_in_differences",
                          direction=metric.direction, n_treated=treated_units, n_comparison=comparison_units)
    _rates(data, metric, result)
    cell = 2 * (prep.treated == 1) + (prep.post == 1)  # comparison before, after; treated before, after
    sizes = np.bincount(cell, minlength=4)
    sums = np.bincount(cell, data["value"].to_numpy(dtype=float), minlength=4)
    means = {(t, p): sums[2 * t + p] / sizes[2 * t + p] for t in (0, 1) for p in (0, 1) if sizes[2 * t + p]}
    if len(means) < 4 or not prep.unit_level:  # no comparison (or treated) units before and after: no counterfactual
        result.warnings.append(W("did_no_cells"))
        result.is_effect = False
        if (1, 1) in means:
            result.treated_mean = float(means[(1, 1)])
        return result
    effect = prep.treated * prep.post
    model = fit(prep, {"effect": np.outer([0.0, 1.0], prep.post_by_period)})
    result.treated_mean = float(means[(1, 1)])
    result.diagnostics.update({
        "model": "two-way fixed effects (unit, period), OLS on within-unit deviations",
        "standard_error": f"clustered by unit ({prep.n_units} clusters), CR1, t({prep.n_units - 1})",
        "clusters": prep.n_units, "observations": int(len(data)), "periods": prep.period_values,
        "cell_means": {f"{'treated' if t else 'comparison'} {'after' if p else 'before'}": float(v)
                       for (t, p), v in means.items()},
    })
    if "effect" not in model.names:
        result.warnings.append(W("did_no_variance"))
        return result
    beta, se = model.param("effect"), model.se("effect")
    result.estimate = beta
    result.counterfactual_mean = result.treated_mean - beta
    few = min(treated_units, comparison_units) < FEW_TREATED or prep.n_units < FEW_CLUSTERS
    if np.isfinite(se) and se > 0:
        result.se = se
        result.se_kind = W("se_cluster", clusters=prep.n_units, correction=CORRECTION)
        if not few:
            result.ci_low, result.ci_high, result.p_value = _t_interval(beta, se, prep.n_units, alpha)
    if few:
        _few_units(prep, effect, beta, alpha, result)
    elif result.se is None:
        result.warnings.append(W("did_no_variance"))
    result.diagnostics["pre_trends"] = pre_trends(data, alpha, prep)
    if result.diagnostics["pre_trends"].get("warning"):
        result.warnings.append(Message.load(result.diagnostics["pre_trends"]["warning"]))
    return result.finish()


def _few_units(prep: Prepared, effect: np.ndarray, beta: float, alpha: float, result: EffectResult) -> None:
    """Randomisation inference as the p-value and interval; the wild cluster bootstrap beside it (two or more treated)."""
    treated_n, total = int(prep.treated_units.sum()), prep.n_units
    result.warnings.append(W("did_few_units", treated=treated_n, comparison=total - treated_n, clusters=total,
                             few=FEW_TREATED, all=FEW_CLUSTERS))
    ri = permutation(prep, effect, alpha)
    result.diagnostics["randomisation_inference"] = {k: v for k, v in ri.items() if k != "placebo_estimates"}
    result.diagnostics["inference"] = "randomisation inference over placebo assignments"
    if ri["placebos"] == 0 or ri["smallest_p"] >= alpha:  # no p-value below alpha is possible
        result.warnings.append(W("did_too_few_placebos", placebos=ri["placebos"], smallest=ri["smallest_p"],
                                 alpha=alpha))
    if ri["placebos"]:
        result.p_value = ri["p_value"]
    if ri.get("ci") is not None:
        result.ci_low, result.ci_high = ri["ci"]
    elif ri["placebos"]:
        result.warnings.append(W("did_ci_unbounded", level=1 - alpha))
    if treated_n >= 2 and result.se is not None:
        result.diagnostics["wild_bootstrap"] = wild_bootstrap(prep, effect)


def _assignments(prep: Prepared) -> tuple[np.ndarray, bool]:
    """Every other set of as many units as are treated (rows: sets of unit codes), or MAX_PLACEBOS drawn."""
    n, k = prep.n_units, int(prep.treated_units.sum())
    actual = tuple(np.flatnonzero(prep.treated_units))
    if math.comb(n, k) - 1 <= MAX_PLACEBOS:
        sets = [s for s in itertools.combinations(range(n), k) if s != actual]
        return np.array(sets, dtype=np.intp).reshape(len(sets), k), True
    rng = np.random.default_rng(SEED)
    if k == 1:  # as many distinct other units
        others = np.flatnonzero(~prep.treated_units)
        return np.sort(rng.choice(others, MAX_PLACEBOS, replace=False)).reshape(-1, 1).astype(np.intp), False
    drawn = np.array([np.sort(rng.choice(n, k, replace=False)) for _ in range(MAX_PLACEBOS)], dtype=np.intp)
    return drawn, False


def permutation(prep: Prepared, effect: np.ndarray, alpha: float) -> dict:
    """Randomisation inference for b: placebo estimates in closed form (Frisch-Waugh-Lovell), then ranks.

    With q_it = post_it - mean_i(post) and y~ the values with unit and period effects removed, assigning
    treatment to a set S of units gives b_S = sum_S a_i / (sum_S d_i - c_S' (P'P)^-1 c_S), with the per-unit sums
    a_i = sum_t q_it y~_it, d_i = sum_t q_it^2 and c_i = sum_t q_it P_it (P the demeaned period dummies).  This
    is exactly the two-way fixed-effects estimate for that assignment, balanced panel or not."""
    p = prep.dummies
    ptp_inv = np.linalg.pinv(p.T @ p)
    y_r = prep.y - p @ (ptp_inv @ (p.T @ prep.y))
    q = prep.demean(prep.post)
    a = prep.unit_sums(q * y_r)
    d = prep.unit_sums(q * q)
    c = np.column_stack([prep.unit_sums(q * p[:, j]) for j in range(p.shape[1])]) if p.shape[1] else \
        np.zeros((prep.n_units, 0))
    actual_d = prep.demean(effect)
    actual_r = actual_d - p @ (ptp_inv @ (p.T @ actual_d))
    e = prep.unit_sums(q * actual_r)  # for the interval: sum_S e_i = D_S,r' D_actual,r

    def placebo(sets: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        cs = c[sets].sum(axis=1)
        denominator = d[sets].sum(axis=1) - np.einsum("ij,jk,ik->i", cs, ptp_inv, cs)
        return a[sets].sum(axis=1), denominator, e[sets].sum(axis=1)

    sets, exact = _assignments(prep)
    numerator, denominator, overlap = placebo(sets)
    usable = denominator > 1e-12 * max(float(d.sum()), 1.0)
    numerator, denominator, overlap = numerator[usable], denominator[usable], overlap[usable]
    estimates = numerator / denominator
    beta = float(a[prep.treated_units].sum() / (actual_r @ actual_r))
    placebos = int(len(estimates))
    out: dict = {"placebos": placebos, "enumerated": exact, "seed": None if exact else SEED,
                 "smallest_p": 1.0 / (placebos + 1), "estimate": beta, "placebo_estimates": estimates}
    if not placebos:
        return out | {"p_value": None, "ci": None}
    tolerance = 1e-9 * max(abs(beta), float(np.abs(estimates).max()), 1e-300)
    out["p_value"] = float((1 + np.sum(np.abs(estimates) >= abs(beta) - tolerance)) / (placebos + 1))
    out["ci"] = _invert(beta, estimates, overlap / denominator, placebos, alpha)
    out["placebo_quantiles"] = {str(q_): float(np.quantile(estimates, q_)) for q_ in (0.025, 0.5, 0.975)}
    return out


def _invert(beta: float, estimates: np.ndarray, kappa: np.ndarray, placebos: int, alpha: float):
    """The set of constant effects t not rejected: with y - t*D, the actual estimate is beta - t and each
    placebo's is b_S - t*kappa_S; t is kept while (1 + #{|b_S - t kappa_S| >= |beta - t|}) / (1 + J) > alpha.
    Each comparison changes at the roots of a quadratic in t, so the count is evaluated between all roots."""
    roots = [beta]
    for b_s, k_s in zip(estimates, kappa):  # (b_s - t k)^2 - (beta - t)^2 = A t^2 + B t + C
        qa, qb, qc = k_s * k_s - 1.0, -2.0 * (b_s * k_s - beta), b_s * b_s - beta * beta
        if abs(qa) < 1e-14:
            if abs(qb) > 1e-14:
                roots.append(-qc / qb)
            continue
        disc = qb * qb - 4 * qa * qc
        if disc >= 0:
            roots += [(-qb - math.sqrt(disc)) / (2 * qa), (-qb + math.sqrt(disc)) / (2 * qa)]
    roots = np.unique(np.array(roots))
    spread = max(float(np.ptp(roots)), abs(beta), 1.0)
    probes = np.concatenate([[roots[0] - spread], (roots[:-1] + roots[1:]) / 2, roots, [roots[-1] + spread]])

    def p_at(t: np.ndarray) -> np.ndarray:
        out = np.empty(len(t))
        step = max(1, int(2e6 // max(len(estimates), 1)))  # probes at a time: bounded memory
        for i in range(0, len(t), step):
            c = t[i:i + step]
            extreme = np.abs(estimates[None, :] - c[:, None] * kappa[None, :]) >= np.abs(beta - c)[:, None] - 1e-12
            out[i:i + step] = (1 + extreme.sum(axis=1)) / (placebos + 1)
        return out

    kept = probes[p_at(probes) > alpha]
    if not len(kept) or p_at(probes[:1])[0] > alpha or p_at(probes[-1:])[0] > alpha:
        return None  # nothing kept, or unbounded: no interval to show
    return [float(kept.min()), float(kept.max())]


def wild_bootstrap(prep: Prepared, effect: np.ndarray, draws: int = BOOTSTRAP_DRAWS,
                   weights: str | None = None) -> dict:
    """Wild cluster restricted bootstrap (WCR-C, null b = 0 imposed) of the cluster-robust t-statistic.

    Webb's six-point weights; Rademacher with every one of the 2^G sign patterns when 2^G <= draws.  The
    p-value is the share of bootstrap |t*| above the actual |t| (symmetric), as in ``wildboottest``; the two draws
    that reproduce the data (all weights 1 or all -1) tie with |t| exactly and are not counted above it, whatever
    the rounding."""
    x = prep.demean(effect)
    p = prep.dummies
    z = np.column_stack([x, p])
    n, k, g = z.shape[0], z.shape[1], prep.n_units
    dof = k + 1  # as in fit
    bread = np.linalg.pinv(z.T @ z)
    beta = bread @ (z.T @ prep.y)
    u = prep.y - z @ beta
    scale = g / (g - 1) * (n - 1) / (n - dof)
    s = np.column_stack([prep.unit_sums(z[:, j] * u) for j in range(k)])
    a = bread[0]
    t_actual = beta[0] / math.sqrt(scale * float(np.sum((s @ a) ** 2)))
    # Restricted fit (without x): y~ = P gamma + u_r.  y* = P gamma + v_g u_r.
    gamma = np.linalg.pinv(p.T @ p) @ (p.T @ prep.y) if p.shape[1] else np.zeros(0)
    u_r = prep.y - (p @ gamma if p.shape[1] else 0.0)
    s_r = np.column_stack([prep.unit_sums(z[:, j] * u_r) for j in range(k)])  # G x K scores of u_r
    zty_fit = z.T @ (p @ gamma) if p.shape[1] else np.zeros(k)
    # H_g a for every cluster: sum over rows of z_it (z_it . a)
    za = z @ a
    h = np.column_stack([prep.unit_sums(z[:, j] * za) for j in range(k)])  # G x K
    sa = s_r @ a  # G
    if weights is None:
        weights = "rademacher" if 2 ** min(g, 62) <= draws else "webb"
    enumerated = weights == "rademacher" and 2 ** min(g, 62) <= draws
    total = 2 ** g if enumerated else draws
    rng = np.random.default_rng(SEED)
    t_boot = np.empty(total)
    gamma_full = np.concatenate([[0.0], gamma])
    step = max(1, int(4e6 // g))  # draws at a time, so that a block of weights stays small
    for start in range(0, total, step):
        size = min(step, total - start)
        if enumerated:  # every sign pattern, in order
            vb = 1.0 - 2.0 * ((np.arange(start, start + size)[:, None] >> np.arange(g)[None, :]) & 1)
        elif weights == "webb":
            vb = WEBB[rng.integers(0, 6, (size, g))]
        else:
            vb = rng.choice([-1.0, 1.0], (size, g))
        beta_b = (zty_fit[None, :] + vb @ s_r) @ bread.T  # B x K
        w = (gamma_full[None, :] - beta_b) @ h.T + vb * sa[None, :]  # B x G: a . score_g*
        t_boot[start:start + size] = beta_b[:, 0] / np.sqrt(scale * np.sum(w * w, axis=1))
    return {"weights": weights, "draws": int(total), "enumerated": enumerated, "seed": None if enumerated else SEED,
            "t": float(t_actual), "p_value": float(np.mean(np.abs(t_boot) > abs(t_actual) * (1 + 1e-9))),
            "critical_values": f"t({g - 1})", "p_value_t": float(2 * stats.t(g - 1).sf(abs(t_actual)))}


def pre_trends(data: pd.DataFrame, alpha: float, prep: Prepared | None = None) -> dict:
    """Event study: one treated-by-period term per period but the last before the start; test the earlier ones."""
    prep = prep if prep is not None else prepare(data)
    pre = [p for p, after in zip(prep.period_values, prep.post_by_period) if not after]
    if len(pre) < 2:
        return {"tested": False, "warning": W("pre_trends_one_period").as_dict()}
    reference = pre[-1]
    terms = {}
    for j, p in enumerate(prep.period_values):
        if p != reference:
            terms[f"treated_at_{p}".replace("-", "m")] = np.zeros((2, len(prep.period_values)))
            terms[f"treated_at_{p}".replace("-", "m")][1, j] = 1.0
    model = fit(prep, terms)
    coefficients = {t: {"estimate": model.param(t), "se": model.se(t)} for t in model.names}
    leads = [name for name in (f"treated_at_{p}".replace("-", "m") for p in pre[:-1]) if name in model.names]
    if not leads:
        return {"tested": False, "coefficients": coefficients, "warning": W("pre_trends_no_variation").as_dict()}
    index = [model.names.index(t) for t in leads]
    b, v = model.params[index], model.cov[np.ix_(index, index)]
    statistic = float(b @ np.linalg.pinv(v) @ b) / len(leads)
    p_value = float(stats.f(len(leads), model.clusters - 1).sf(statistic)) if model.clusters > 1 else None
    out = {"tested": p_value is not None and np.isfinite(statistic), "reference_period": reference,
           "periods_tested": len(leads), "p_value": p_value, "statistic": statistic,
           "test": f"Wald F({len(leads)}, {model.clusters - 1})", "coefficients": coefficients}
    if not out["tested"]:
        return out | {"p_value": None, "statistic": None, "warning": W("pre_trends_no_variation").as_dict()}
    if p_value < alpha:
        out["warning"] = W("pre_trends_differ", p=p_value).as_dict()
    return out
