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
