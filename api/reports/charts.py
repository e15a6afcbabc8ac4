"""Charts as SVG text, drawn with matplotlib: one per metric in the report, small trends on the pages.

SVG keeps text as text (searchable in the PDF, readable by screen readers) and needs no image files or
network.  Drawing is deterministic (fixed hash salt, no date in the metadata), so the same run gives the
same report byte for byte apart from its generation time.
"""

from __future__ import annotations

import io
import math
import re
from typing import Any, Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from evaluation.result import EffectResult  # noqa: E402
from language.formats import NBSP  # noqa: E402

INK, ACCENT, MUTED, GOOD = "#1a1a1a", "#1f4e9c", "#6b6b6b", "#1b6e3a"  # contrast ≥ 4.5:1 on white
STYLE = {"svg.fonttype": "none", "svg.hashsalt": "sib", "font.family": "DejaVu Sans", "font.size": 8,
         "axes.edgecolor": MUTED, "axes.labelcolor": INK, "xtick.color": INK, "ytick.color": INK}


def _svg(fig: Any) -> str:
    buffer = io.StringIO()
    fig.savefig(buffer, format="svg", bbox_inches="tight", metadata={"Date": None, "Creator": None})
    plt.close(fig)
    text = buffer.getvalue()
    text = re.sub(r"\s*<metadata>.*?</metadata>", "", text, flags=re.S)  # RDF boilerplate, no content
    return text[text.index("<svg"):]  # drop the XML prolog and doctype so the SVG can sit inline in HTML


def _ticks(names: Any):
    return _ticks_of(names.w)


def _percent_ticks(names: Any):
    return _percent_ticks_of(names.w)


def _ticks_of(w: Any):
    from matplotlib.ticker import FuncFormatter

    return FuncFormatter(lambda value, _pos: w.number(value, None).replace(NBSP, " "))


def _percent_ticks_of(w: Any, digits: int = 1):
    from matplotlib.ticker import FuncFormatter

    return FuncFormatter(lambda value, _pos: w.percent(value, digits, signed=False).replace(NBSP, " "))


def followup_chart(question: dict[str, Any], names: Any) -> str | None:
    """One survey question at one level: each group's favourable share with its 95 % CI, on the full 0-100 %
    scale (suppressed groups are named and left empty, so that the reader sees they exist)."""
    cells = [c for c in question["cells"] if c["part"] == "all"]
    if not cells:
        return None
    with plt.rc_context(STYLE):
        fig, ax = plt.subplots(figsize=(6.2, 0.4 * len(cells) + 0.9))
        for y, c in enumerate(reversed(cells)):
            if c["favourable_share"] is None:
                ax.text(0.01, y, names.w._("suppressed"), va="center", color=MUTED)
                continue
            ax.plot([c["ci_low"], c["ci_high"]], [y, y], color=ACCENT, linewidth=2, solid_capstyle="butt")
            ax.plot([c["favourable_share"]], [y], "o", color=INK, markersize=6)
        ax.set_yticks(range(len(cells)), [c["name"] for c in reversed(cells)])
        ax.set_xlim(0, 1)
        ax.set_xlabel(names.w._("Share of favourable answers (95 % CI)"))
        ax.xaxis.set_major_formatter(_percent_ticks(names))
        ax.set_ylim(-0.7, len(cells) - 0.3)
        ax.spines[["top", "right"]].set_visible(False)
        return _svg(fig)


def metric_chart(results: Sequence[EffectResult], target: float | None, names: Any) -> str | None:
    """Per cohort (and pooled): the effect with its 95 % CI around zero, or for monitoring the mean with its CI.

    ``None`` when no cohort has a value to draw: the report then says so in words instead of an empty chart.
    """
    rows = [r for r in results if r.subgroup is None and (r.estimate if r.is_effect else r.treated_mean) is not None]
    if not rows:
        return None
    is_effect = rows[0].is_effect
    with plt.rc_context(STYLE):
        fig, ax = plt.subplots(figsize=(6.2, 0.45 * len(rows) + 0.9))
        for y, r in enumerate(reversed(rows)):
            value = r.estimate if is_effect else r.treated_mean
            low, high = ((r.ci_low, r.ci_high) if is_effect
                         else tuple(r.diagnostics.get("mean_ci") or (None, None)))
            if low is not None and high is not None:
                ax.plot([low, high], [y, y], color=ACCENT, linewidth=2, solid_capstyle="butt")
            ax.plot([value], [y], "o", color=INK if r.cohort == "all" else ACCENT, markersize=6)
        ax.set_yticks(range(len(rows)), [names.cohort(r.cohort) for r in reversed(rows)])
        if is_effect:
            ax.axvline(0, color=MUTED, linewidth=1, linestyle="--")
            ax.set_xlabel(names.w._("Effect against the counterfactual (95 % CI)"))
        else:
            if target is not None:
                ax.axvline(target, color=GOOD, linewidth=1, linestyle="--", label=names.w._("target"))
                ax.legend(loc="best", frameon=False)
            ax.set_xlabel(names.w._("Mean (95 % CI)"))
        if rows[0].diagnostics.get("reported_as") == "favourable_share":  # a survey question: the full scale
            ax.set_xlim(0, 1)
            ax.set_xlabel(names.w._("Share of favourable answers (95 % CI)"))
            ax.xaxis.set_major_formatter(_percent_ticks(names))
        else:
            ax.xaxis.set_major_formatter(_ticks(names))
        ax.set_ylim(-0.7, len(rows) - 0.3)
        ax.spines[["top", "right"]].set_visible(False)
        return _svg(fig)


VALUE_DESIGNS = ("monitoring", "fixed_baseline")  # drawn as the cohort mean against the target; others: the effect


def is_share(metric: Any) -> bool:
    """A metric whose value is a share of people (0 to 1): yes/no outcomes, a survey question's favourable answers,
    the share event-free.  Its chart is drawn on the full scale, 0 to 100 %."""
    return metric.kind in ("binary", "time_to_event") or bool(metric.instrument)


def run_points(trend: Sequence[dict[str, Any]], design: str | None) -> tuple[list[dict[str, Any]], bool]:
    """The points of a metric's chart over evaluation runs, from its trend (``api.status.trend_point``): each run's
    estimate with its 95 % CI, and whether they are effects.  The cohort mean (what the target is set for) where
    the design gives it an interval; the effect against the counterfactual for the comparative designs."""
    effect = design not in VALUE_DESIGNS and any(p.get("effect") is not None for p in trend)
    points = []
    for p in trend:
        value, ci = (p.get("effect"), p.get("ci")) if effect else (p.get("value"), p.get("value_ci"))
        if value is None:
            continue
        low, high = ci if ci else (None, None)
        points.append({"as_of": p["as_of"], "run": p["run"], "estimate": float(value),
                       "low": None if low is None else float(low), "high": None if high is None else float(high)})
    return points, effect


def _formatted(w: Any, share: bool, effect: bool) -> Any:
    if share and not effect:
        return lambda v: w.percent(v, 1, signed=False)
    return lambda v: w.number(v, None)


def run_rows(points: Sequence[dict[str, Any]], share: bool, effect: bool, w: Any) -> list[dict[str, str]]:
    """Each run as words and numbers (the chart's text alternative, and the table beside it)."""
    show = _formatted(w, share, effect)
    rows = []
    for p in points:
        low, high = (None, None) if p["low"] is None or p["high"] is None else (show(p["low"]), show(p["high"]))
        rows.append({"day": w.day(p["as_of"]), "run": str(p["run"]), "estimate": show(p["estimate"]), "low": low,
                     "high": high, "ci": w._("{low} to {high}", low=low, high=high) if low is not None else "—"})
    return rows


def run_description(rows: Sequence[dict[str, str]], target: float | None, share: bool, effect: bool,
                    w: Any) -> str:
    """The chart in words: each run's estimate and CI, the target, what zero means for an effect."""
    parts = [w._("{day}, run {run}: {value} (95 % CI {low} to {high})", day=r["day"], run=r["run"],
                 value=r["estimate"], low=r["low"], high=r["high"])
             if r["low"] is not None else w._("{day}, run {run}: {value} (no confidence interval)", day=r["day"],
                                        run=r["run"], value=r["estimate"]) for r in rows]
    text = "; ".join(parts) + "."
    if target is not None:
        shown = _formatted(w, share, False)(target)
        text += " " + (w._("The chart shows the effect against the counterfactual (0: no effect); the target "
                           "({value}) is set for the cohort mean.", value=shown) if effect
                       else w._("Target: {value}.", value=shown))
    elif effect:
        text += " " + w._("The chart shows the effect against the counterfactual (0: no effect).")
    return text


def runs_chart(points: Sequence[dict[str, Any]], *, target: float | None, share: bool, effect: bool, w: Any,
               title: str, description: str, key: str, unit: str | None = None, favourable: bool = False,
               width: float = 6.2, font_size: float = 8) -> str:
    """A metric over evaluation runs: one point per run (its as-of date and run on the x axis), the 95 % CI as an
    error bar, the target as a labelled dashed line (for an effect, the line of no effect instead), axes labelled,
    shares on the full 0-100 % scale.  ``title`` and ``description`` go inside the SVG (``<title>``, ``<desc>``,
    ``role="img"``) so that it reads aloud; every id in it starts with ``key``, so that several charts can sit in
    one page.  Drawn even for one run."""
    n = len(points)
    xs = list(range(n))
    ys = [p["estimate"] for p in points]
    with plt.rc_context(dict(STYLE, **{"font.size": font_size})):
        fig, ax = plt.subplots(figsize=(width, 2.8 + (font_size - 8) * 0.15))
        with_ci = [(x, p) for x, p in zip(xs, points) if p["low"] is not None and p["high"] is not None]
        if with_ci:
            bars = ax.errorbar([x for x, _ in with_ci], [p["estimate"] for _, p in with_ci],
                               yerr=[[p["estimate"] - p["low"] for _, p in with_ci],
                                     [p["high"] - p["estimate"] for _, p in with_ci]],
                               fmt="none", ecolor=ACCENT, elinewidth=2, capsize=5, capthick=1.5,
                               label=w._("95 % confidence interval"))
            for part in bars.lines[2]:
                part.set_gid(f"{key}-ci")
            for i, cap in enumerate(bars.lines[1]):
                cap.set_gid(f"{key}-ci-caps-{i}")
        if n > 1:
            ax.plot(xs, ys, color=ACCENT, linewidth=1, alpha=0.6)
        ax.plot(xs, ys, "o", color=INK, markersize=6, label=w._("estimate"), gid=f"{key}-estimates")
        shown = _formatted(w, share, effect)
        if effect:
            ax.axhline(0, color=MUTED, linewidth=1.2, linestyle="--", label=w._("no effect"), gid=f"{key}-zero")
        elif target is not None:
            ax.axhline(target, color=GOOD, linewidth=1.5, linestyle="--", gid=f"{key}-target",
                       label=w._("target {value}", value=shown(target)))
        ax.set_xlim(-0.6, n - 0.4)
        if n > 6:  # many runs: the dates alone, slanted; the runs are in the table beside the chart
            ax.set_xticks(xs, [w.day(p["as_of"]) for p in points], rotation=35, ha="right")
        else:
            ax.set_xticks(xs, [f"{w.day(p['as_of'])}\n{w._('run {run}', run=str(p['run']))}" for p in points])
        ax.set_xlabel(w._("Evaluation date (run)"))
        if share and not effect:
            ax.set_ylim(0, 1)
            ax.set_yticks([0, 0.25, 0.5, 0.75, 1])
            ax.yaxis.set_major_formatter(_percent_ticks_of(w, 0))
            ax.set_ylabel(w._("Share of favourable answers (95 % CI)") if favourable else w._("Share (95 % CI)"))
        else:
            levels = ys + [p[k] for p in points for k in ("low", "high") if p[k] is not None]
            levels += [0.0] if effect else ([target] if target is not None else [])
            low, high = min(levels), max(levels)
            pad = (high - low) * 0.12 or max(abs(high) * 0.1, 0.1)
            ax.set_ylim(low - pad, high + pad)
            from matplotlib.ticker import FuncFormatter, MaxNLocator

            ax.yaxis.set_major_locator(MaxNLocator(nbins=6, steps=[1, 2, 2.5, 5, 10]))
            ticks = ax.get_yticks()  # as many decimals as the step between ticks needs, the same for each
            step = min((b - a for a, b in zip(ticks, ticks[1:])), default=1.0)
            digits = max(0, -math.floor(math.log10(step)) + (1 if round(step / 10 ** math.floor(math.log10(step)), 6)
                                                               % 1 else 0))
            ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: w.number(v, digits).replace(NBSP, " ")))
            if effect:
                ax.set_ylabel(w._("Effect, {unit} (95 % CI)", unit=unit) if unit
                              else w._("Effect against the counterfactual (95 % CI)"))
            else:
                ax.set_ylabel(w._("Mean, {unit} (95 % CI)", unit=unit) if unit else w._("Mean (95 % CI)"))
        handles, labels = ax.get_legend_handles_labels()
        order = sorted(range(len(labels)), key=lambda i: (labels[i] != w._("estimate"),
                                                          labels[i] != w._("95 % confidence interval")))
        ax.legend([handles[i] for i in order], [labels[i] for i in order], loc="lower left",
                  bbox_to_anchor=(0, 1.01), ncol=3 if width >= 5.5 else 2, frameon=False, borderaxespad=0)
        ax.spines[["top", "right"]].set_visible(False)
        svg = _svg(fig)
    return _accessible(_prefixed(svg, key), key, title, description)


def runs_figure(metric: Any, trend: Sequence[dict[str, Any]], design: str | None, w: Any, *, key: str,
                width: float = 6.2, font_size: float = 8) -> dict[str, Any] | None:
    """A metric's chart over evaluation runs with its words: the SVG, a row per run (date, run, estimate, CI), the
    title and the description; ``None`` when no run has a value that may be shown.  ``metric`` is the contract's
    metric, ``trend`` its points (``api.status.trend_point``), the same for the dashboard and the report."""
    points, effect = run_points(trend, design)
    if not points:
        return None
    share = is_share(metric)
    target = None if metric.target is None else float(metric.target)
    rows = run_rows(points, share, effect, w)
    title = w._("{metric}: estimate and 95 % confidence interval at each evaluation", metric=metric.name)
    description = run_description(rows, target, share, effect, w)
    svg = runs_chart(points, target=target, share=share, effect=effect, w=w, title=title, description=description,
                     key=key, unit=metric.unit, favourable=bool(metric.instrument), width=width, font_size=font_size)
    heading = w._("Effect") if effect else w._("Share") if share else w._("Mean")
    return {"svg": svg, "rows": rows, "title": title, "description": description, "effect": effect,
            "share": share, "heading": heading}


def _prefixed(svg: str, key: str) -> str:
    """Every id of a matplotlib SVG (and every reference to one) starting with ``key``: several charts inline in
    one page then never share an id (a marker or clip path of one chart drawn in another)."""
    ids = set(re.findall(r'\bid="([^"]+)"', svg))
    for found in sorted(ids, key=len, reverse=True):
        if found.startswith(key):
            continue
        svg = (svg.replace(f'id="{found}"', f'id="{key}-{found}"').replace(f'"#{found}"', f'"#{key}-{found}"')
               .replace(f"url(#{found})", f"url(#{key}-{found})"))
    return svg


def _accessible(svg: str, key: str, title: str, description: str) -> str:
    """``role="img"``, its name and description, and ``<title>`` and ``<desc>`` as the first children."""
    opening = re.search(r"<svg\b[^>]*>", svg)
    assert opening is not None
    head = opening.group(0)[:-1] + (f' role="img" aria-label="{_escape(title)}" '
                                    f'aria-describedby="{key}-desc">')
    inside = f'<title>{_escape(title)}</title><desc id="{key}-desc">{_escape(description)}</desc>'
    return svg[:opening.start()] + head + inside + svg[opening.end():]


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


def survival_chart(info: dict[str, Any], names: Any) -> str:
    """Kaplan–Meier curves per arm up to the window's end, each with its pointwise 95 % band (log-log)."""
    with plt.rc_context(STYLE):
        fig, ax = plt.subplots(figsize=(6.2, 2.8))
        labels = {"treated": names.w._("treated"), "comparison": names.w._("comparison")}
        for arm, colour in (("treated", ACCENT), ("comparison", MUTED)):
            data = info["arms"].get(arm)
            if not data:
                continue
            curve = data["curve"]
            times = [0.0] + list(curve["time"]) + [info["tau_days"]]
            surv = [1.0] + list(curve["survival"]) + [data["event_free"]]
            low = [1.0] + list(curve["low"]) + [data["event_free_ci"][0]]
            high = [1.0] + list(curve["high"]) + [data["event_free_ci"][1]]
            ax.step(times, surv, where="post", color=colour, linewidth=1.6, label=labels[arm])
            ax.fill_between(times, low, high, step="post", color=colour, alpha=0.18, linewidth=0)
        ax.set_xlim(0, info["tau_days"])
        ax.set_xlabel(names.w._("Days since the start of the window"))
        ax.set_ylabel(names.w._("Share event-free (95 % CI)"))
        ax.yaxis.set_major_formatter(_ticks(names))
        ax.legend(loc="lower left", frameon=False)
        ax.spines[["top", "right"]].set_visible(False)
        return _svg(fig)


def event_study_chart(study: dict[str, Any], names: Any) -> str:
    """Event-study coefficients by period with pointwise 95 % intervals and sup-t simultaneous bands."""
    rows = study["coefficients"]
    with plt.rc_context(STYLE):
        fig, ax = plt.subplots(figsize=(6.2, 2.6))
        xs = [r["period"] for r in rows]
        ax.vlines(xs, [r["band_low"] for r in rows], [r["band_high"] for r in rows], color=MUTED, linewidth=5,
                  alpha=0.45, label=names.w._("simultaneous band"))
        ax.vlines(xs, [r["low"] for r in rows], [r["high"] for r in rows], color=ACCENT, linewidth=1.6,
                  label=names.w._("pointwise 95 % CI"))
        ax.plot(xs, [r["estimate"] for r in rows], "o", color=INK, markersize=4)
        ax.plot([study["reference_period"]], [0], "o", markerfacecolor="white", color=INK, markersize=4)
        ax.axhline(0, color=MUTED, linewidth=1, linestyle="--")
        ax.axvline(study["reference_period"] + 0.5, color=MUTED, linewidth=0.8, linestyle=":")
        ax.set_xlabel(names.w._("Period relative to the start (the last period before it is the reference)"))
        ax.yaxis.set_major_formatter(_ticks(names))
        ax.legend(loc="best", frameon=False)
        ax.spines[["top", "right"]].set_visible(False)
        return _svg(fig)


def gap_chart(diagnostics: dict[str, Any], names: Any) -> str:
    """Synthetic control: the treated unit's gap (treated minus synthetic) by period, the placebo units' gaps behind
    it in grey (those fitting the pre-period no worse than five times the treated unit), the start marked."""
    gaps = diagnostics["gaps"]
    xs = [g["period"] for g in gaps]
    with plt.rc_context(STYLE):
        fig, ax = plt.subplots(figsize=(6.2, 2.6))
        for i, placebo in enumerate(diagnostics.get("placebo_gaps") or []):
            ax.plot(xs, placebo, color=MUTED, linewidth=0.7, alpha=0.5,
                    label=names.w._("placebo units") if i == 0 else None)
        ax.plot(xs, [g["gap"] for g in gaps], color=ACCENT, linewidth=2, label=names.w._("treated unit"))
        first_post = next((g["period"] for g in gaps if g["post"]), None)
        if first_post is not None:
            ax.axvline(first_post - 0.5, color=MUTED, linewidth=0.8, linestyle=":")
        ax.axhline(0, color=MUTED, linewidth=1, linestyle="--")
        ax.set_xlabel(names.w._("Period relative to the start"))
        ax.set_ylabel(names.w._("Treated minus synthetic"))
        ax.yaxis.set_major_formatter(_ticks(names))
        ax.legend(loc="best", frameon=False)
        ax.spines[["top", "right"]].set_visible(False)
        return _svg(fig)
