"""Charts as SVG text, drawn with matplotlib: one per metric in the report, small trends on the pages.

SVG keeps text as text (searchable in the PDF, readable by screen readers) and needs no image files or
network.  Drawing is deterministic (fixed hash salt, no date in the metadata), so the same run gives the
same report byte for byte apart from its generation time.
"""

from __future__ import annotations

import io
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
    from matplotlib.ticker import FuncFormatter

    return FuncFormatter(lambda value, _pos: names.w.number(value, None).replace(NBSP, " "))


def _percent_ticks(names: Any):
    from matplotlib.ticker import FuncFormatter

    return FuncFormatter(lambda value, _pos: names.w.percent(value, signed=False).replace(NBSP, " "))


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


def sparkline(points: Sequence[tuple[str, float]], target: float | None, label: str) -> str:
    """A small trend (one point per evaluation run) for the dashboard; ``label`` becomes the accessible name."""
    with plt.rc_context(STYLE):
        fig, ax = plt.subplots(figsize=(2.4, 0.6))
        xs = list(range(len(points)))
        values = [v for _, v in points]
        ax.plot(xs, values, color=ACCENT, linewidth=1.5, marker="o", markersize=2.5)
        if target is not None:
            ax.axhline(target, color=GOOD, linewidth=0.8, linestyle="--")
        ax.set_xticks([])
        ax.set_yticks([])
        for side in ax.spines.values():
            side.set_visible(False)
        svg = _svg(fig)
    title = f'<title>{_escape(label)}</title>'
    return re.sub(r"<svg\b", '<svg role="img" aria-label="' + _escape(label) + '"', svg, count=1).replace(
        ">", ">" + title, 1)


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
