"""Charts a committee can read (issue 19, part 4): per outcome metric, the estimate with its 95 % confidence interval
at each evaluation run, the target line, labelled axes, shares on the full 0-100 % scale, and the numbers in words
(``<title>``/``<desc>`` in the SVG, a table beside it); on the investor dashboard from the first run, in the
evaluation report, and never with a value the status suppresses.
"""

from __future__ import annotations

import base64
import re
from datetime import date
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Iterator

import pytest
from fastapi.testclient import TestClient

from api.access import add_user
from api.http import create_app
from api.reports import charts
from api.status import clear_cache
from evaluation.run import evaluate, get_run
from language import formats as i18n
from language.words import words
from outcomes.batches import verify_batch
from outcomes.ingest import ingest_file
from outcomes.pseudonym import init_key, load_key
from store.db import init_store, open_store
from tests.helpers import MINIMAL, stored_minimal
from tests.test_api import measurements, people
from tests.test_pages import log_in

EN = words("en")

# The minimal contract with a target on each metric: attendance (a rate: its own scale) and exclusion (yes/no: a
# share, on the full scale).
WITH_TARGETS = (MINIMAL
                .replace("    achieved_when: {op: at_least, value: 0.9}\n",
                         "    achieved_when: {op: at_least, value: 0.9}\n    target: 0.88\n")
                .replace("    missing: not_achieved\n", "    missing: not_achieved\n    target: 0.25\n"))


def metric(kind: str = "rate", target: float | None = 0.88, instrument: str | None = None,
           unit: str | None = None) -> Any:
    return SimpleNamespace(id="attendance", name="Attendance", kind=kind, target=target, instrument=instrument,
                           unit=unit)


def point(as_of: str, run: int, value: float, low: float | None, high: float | None,
          effect: float | None = None, ci: list[float] | None = None) -> dict[str, Any]:
    return {"as_of": as_of, "run": run, "value": value, "value_ci": None if low is None else [low, high],
            "effect": effect, "ci": ci}


def group(svg: str, gid: str) -> str:
    """The body of ``<g id="gid">`` (matplotlib nests no group of the same artist in it)."""
    found = re.search(rf'<g id="{re.escape(gid)}">(.*?)</g>', svg, flags=re.S)
    assert found, f"no group {gid}"
    return found.group(1)


def texts(svg: str) -> list[str]:
    return [t.replace(i18n.NBSP, " ") for t in re.findall(r"<text[^>]*>([^<]*)</text>", svg)]


# -- the chart ------------------------------------------------------------------------------------------------------

def test_one_run_is_drawn_with_its_ci_target_axes_and_numbers_in_words() -> None:
    figure = charts.runs_figure(metric(), [point("2022-06-30", 7, 0.925, 0.9069, 0.9431)], "fixed_baseline", EN,
                                key="fig-a")
    svg = figure["svg"]
    assert svg.count("<use") >= 1 and group(svg, "fig-a-estimates").count("<use") == 1  # one point
    assert group(svg, "fig-a-ci").count("<path") == 1  # its confidence interval, as an error bar
    assert 'id="fig-a-target"' in svg and "target 0.880" in texts(svg)  # the target line, labelled
    assert "Evaluation date (run)" in texts(svg) and "Mean (95 % CI)" in texts(svg)  # both axes labelled
    assert "2022-06-30" in texts(svg) and "run 7" in texts(svg)  # the run's date and number on the x axis
    assert re.search(r'<svg[^>]* role="img" aria-label="Attendance: estimate and 95 % confidence interval at each '
                     r'evaluation" aria-describedby="fig-a-desc">', svg)
    title = re.search(r"<title>(.*?)</title>", svg).group(1)
    desc = re.search(r'<desc id="fig-a-desc">(.*?)</desc>', svg).group(1)
    assert title.startswith("Attendance") and svg.index("<title>") < svg.index("<g ")  # first children: read first
    assert desc == "2022-06-30, run 7: 0.925 (95 % CI 0.907 to 0.943). Target: 0.880."
    assert figure["rows"] == [{"day": "2022-06-30", "run": "7", "estimate": "0.925", "low": "0.907",
                               "high": "0.943", "ci": "0.907 to 0.943"}]


def test_three_runs_are_three_points_each_with_its_interval() -> None:
    trend = [point("2021-06-30", 3, 0.9, 0.87, 0.93), point("2021-12-31", 4, 0.908, 0.885, 0.931),
             point("2022-06-30", 5, 0.925, 0.907, 0.943)]
    figure = charts.runs_figure(metric(), trend, "fixed_baseline", EN, key="fig-a")
    svg = figure["svg"]
    assert group(svg, "fig-a-estimates").count("<use") == 3
    assert group(svg, "fig-a-ci").count("<path") == 3
    assert [t for t in texts(svg) if re.fullmatch(r"\d{4}-\d\d-\d\d", t)] == ["2021-06-30", "2021-12-31", "2022-06-30"]
    assert ["run 3", "run 4", "run 5"] == [t for t in texts(svg) if t.startswith("run ")]
    desc = figure["description"]
    for text in ("2021-06-30, run 3: 0.900 (95 % CI 0.870 to 0.930)", "2021-12-31, run 4: 0.908 (95 % CI 0.885 to "
                 "0.931)", "2022-06-30, run 5: 0.925 (95 % CI 0.907 to 0.943)", "Target: 0.880."):
        assert text in desc
    assert [r["run"] for r in figure["rows"]] == ["3", "4", "5"]
    again = charts.runs_figure(metric(), trend, "fixed_baseline", EN, key="fig-a")["svg"]
    assert again == svg  # drawn deterministically: the same state gives the same page and report


def test_a_share_is_drawn_on_the_full_scale_from_0_to_100_percent() -> None:
    trend = [point("2021-06-30", 3, 0.357, 0.163, 0.612), point("2022-06-30", 5, 0.35, 0.221, 0.505)]
    figure = charts.runs_figure(metric("binary", 0.25), trend, "fixed_baseline", EN, key="fig-s")
    ticks = texts(figure["svg"])
    assert [t for t in ticks if t.endswith("%") and not t.startswith("target")] == ["0%", "25%", "50%", "75%", "100%"]
    assert "Share (95 % CI)" in ticks and "target 25.0%" in ticks
    assert "2021-06-30, run 3: 35.7% (95 % CI 16.3% to 61.2%)" in figure["description"]
    assert figure["heading"] == "Share"
    survey = charts.runs_figure(metric("ordinal", None, instrument="skr_user_questions"), trend, "monitoring", EN,
                                key="fig-q")
    assert "Share of favourable answers (95 % CI)" in texts(survey["svg"]) and "100%" in texts(survey["svg"])
    assert 'id="fig-q-target"' not in survey["svg"]  # no target, no line


def test_a_comparative_design_draws_the_effect_against_the_line_of_no_effect() -> None:
    trend = [dict(point("2022-06-30", 2, 0.6, None, None), effect=0.1, ci=[0.02, 0.18])]
    figure = charts.runs_figure(metric(unit="days"), trend, "randomised", EN, key="fig-e")
    svg = figure["svg"]
    assert figure["effect"] and group(svg, "fig-e-estimates").count("<use") == 1
    assert 'id="fig-e-zero"' in svg and "no effect" in texts(svg) and 'id="fig-e-target"' not in svg
    assert "Effect, days (95 % CI)" in texts(svg)
    assert figure["description"] == ("2022-06-30, run 2: 0.100 (95 % CI 0.020 to 0.180). The chart shows the effect "
                                     "against the counterfactual (0: no effect); the target (0.880) is set for the "
                                     "cohort mean.")


def test_a_run_without_an_interval_is_a_point_and_said_so() -> None:
    figure = charts.runs_figure(metric(), [point("2022-06-30", 1, 0.9, None, None)], "monitoring", EN, key="fig-n")
    assert group(figure["svg"], "fig-n-estimates").count("<use") == 1 and 'id="fig-n-ci"' not in figure["svg"]
    assert figure["description"].startswith("2022-06-30, run 1: 0.900 (no confidence interval).")
    assert charts.runs_figure(metric(), [], "monitoring", EN, key="fig-n") is None  # nothing to draw: words instead


def test_every_id_in_a_chart_is_its_own_so_charts_can_share_a_page() -> None:
    one = charts.runs_figure(metric(), [point("2022-06-30", 1, 0.9, 0.8, 0.95)], "monitoring", EN, key="fig-a")["svg"]
    ids = re.findall(r'\bid="([^"]+)"', one)
    assert ids and all(i.startswith("fig-a-") for i in ids)
    references = re.findall(r'(?:href="#|url\(#)([^")]+)', one)
    assert references and set(references) <= set(ids)


# -- the dashboard and the report on a store ------------------------------------------------------------------------

@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """Three contracts: evaluated once; at four dates of which the first counts two people (suppressed for
    investors); and one of three people (every value suppressed)."""
    folder = tmp_path_factory.mktemp("committee")
    url = f"sqlite:///{folder / 'sib.db'}"
    init_store(url)
    engine = open_store(url)
    key = load_key(init_key(folder / "sib.key"))
    dates = {"one-run": [date(2022, 6, 30)],
             "four-runs": [date(2021, 1, 15), date(2021, 6, 30), date(2021, 12, 31), date(2022, 6, 30)],
             "tiny": [date(2021, 12, 31), date(2022, 6, 30)]}
    for cid, days in dates.items():
        stored = stored_minimal(engine, WITH_TARGETS.replace("id: test-contract", f"id: {cid}", 1))
        n = 3 if cid == "tiny" else 40
        for kind, body in (("participants", people("A", n)), ("measurements", measurements("A", n))):
            path = folder / f"{cid}-{kind}.csv"
            path.write_text(body)
            verify_batch(engine, ingest_file(engine, stored.latest.terms, path, kind, key).batch_id)
        for day in days:
            evaluate(engine, stored, day)
    clear_cache()
    token = add_user(engine, "Fund", "investor", list(dates))
    client = TestClient(create_app(engine))
    assert log_in(client, token).status_code == 303
    yield {"engine": engine, "client": client, "folder": folder}
    engine.dispose()


def dashboard(world: dict[str, Any], cid: str) -> str:
    got = world["client"].get(f"/contracts/{cid}/dashboard?lang=en")
    assert got.status_code == 200
    return got.text


def section(html: str, metric_id: str) -> str:
    found = re.search(rf'<section class="chart" id="chart-{metric_id}".*?</section>', html, flags=re.S)
    assert found, f"no chart section for {metric_id}"
    return found.group(0)


def test_the_dashboard_shows_the_chart_from_the_first_run(world) -> None:
    html = dashboard(world, "one-run")
    run = get_run(world["engine"], "one-run")
    pooled = run.result("attendance")
    part = section(html, "attendance")
    svg = re.search(r"<svg.*?</svg>", part, flags=re.S).group(0)
    assert group(svg, "fig-attendance-estimates").count("<use") == 1
    assert group(svg, "fig-attendance-ci").count("<path") == 1 and 'id="fig-attendance-target"' in svg
    low, high = (pooled.counterfactual_mean + pooled.ci_low, pooled.counterfactual_mean + pooled.ci_high)
    numbers = [i18n.number(v, "en", None) for v in (pooled.treated_mean, low, high)]
    desc = re.search(r"<desc[^>]*>(.*?)</desc>", svg).group(1)
    assert f"2022-06-30, run {run.id}: {numbers[0]} (95 % CI {numbers[1]} to {numbers[2]})" in desc
    table = re.search(r"<table.*?</table>", part, flags=re.S).group(0)  # the numbers beside the chart, as text
    assert len(re.findall(r"<tr><th scope=\"row\">", table)) == 1
    assert all(n in table for n in numbers) and "2022-06-30" in table
    assert "How this is estimated: section 4.1 “Attendance” of the evaluation report (sib report, anchor " \
           "#metric-attendance)" in part
    assert 'href="#chart-attendance">Chart of 1 evaluation</a>' in html  # the table row leads to it
    exclusion = section(html, "exclusion")
    assert ">100%<" in exclusion and ">0%<" in exclusion and "section 4.2" in exclusion  # a share: full scale


def test_a_suppressed_run_is_not_in_the_chart(world) -> None:
    engine = world["engine"]
    html = dashboard(world, "four-runs")
    hidden = get_run(engine, "four-runs", None)
    runs = [get_run(engine, "four-runs", i) for i in range(hidden.id - 3, hidden.id + 1)]
    small = runs[0]
    assert small.as_of == date(2021, 1, 15) and small.result("attendance").n_treated < 5  # suppressed for investors
    part = section(html, "attendance")
    assert group(part, "fig-attendance-estimates").count("<use") == 3  # the three runs an investor may see
    assert "2021-01-15" not in html and f"run {small.id}:" not in html
    r = small.result("attendance")
    for value in (r.counterfactual_mean + r.ci_low, r.counterfactual_mean + r.ci_high):
        assert i18n.number(value, "en", None) not in part
    assert 'href="#chart-attendance">Chart of 3 evaluations</a>' in html


def test_nothing_is_drawn_where_every_value_is_suppressed(world) -> None:
    html = dashboard(world, "tiny")
    run = get_run(world["engine"], "tiny")
    for metric_id in ("attendance", "exclusion"):
        part = section(html, metric_id)
        assert "<svg" not in part and "No evaluation has a value that may be shown" in part
        assert i18n.number(run.result(metric_id).treated_mean, "en", None) not in part


def test_the_report_has_the_chart_and_the_anchor_the_dashboard_names(world, tmp_path: Path) -> None:
    from api.reports.report import build_report, render_html, write_report

    doc = build_report(world["engine"], "four-runs", lang="en")
    html = render_html(doc)
    heading = re.search(r'<h3 id="metric-attendance">(.*?)</h3>', html)
    assert heading and heading.group(1) == "4.1 Attendance"  # the section the dashboard names, at its anchor
    assert '<h3 id="metric-exclusion">4.2 Excluded from school</h3>' in html
    block = re.search(r'<div class="keep" id="metric-attendance-runs">.*?</div>', html, flags=re.S).group(0)
    image, alt = re.search(r'<img src="data:image/svg\+xml;base64,([^"]+)" alt="([^"]+)"', block).groups()
    svg = base64.b64decode(image).decode()
    assert group(svg, "fig-attendance-estimates").count("<use") == 4  # every evaluated date up to the report's run
    assert 'id="fig-attendance-target"' in svg and "Evaluation date (run)" in texts(svg)
    assert alt.startswith("Attendance: estimate and 95 % confidence interval at each evaluation: 2021-01-15")
    assert block.count("<tr><td>") == 4 and "Target: 0.880." in alt
    pdf = write_report(doc, tmp_path / "report.pdf")
    assert pdf.read_bytes()[:5] == b"%PDF-"
