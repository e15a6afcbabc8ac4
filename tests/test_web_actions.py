"""The overview per role and what the intermediary does in the browser: upload, verify, evaluate, pay, report,
each as a form with its CSRF token, long work as a job done by the worker.  (The same journeys in a real browser
are in test_browser.py.)"""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Any, Iterator

import pytest
from fastapi.testclient import TestClient

from api.access import add_user
from api.jobs.queue import get_job
from api.jobs.worker import run_one
from api.portfolio import portfolio
from api.http import create_app
from contracts.registry import get_contract
from outcomes.batches import list_batches
from outcomes.pseudonym import init_key
from payments.ledger import current_status, read_ledger
from payments.returns import RECEIVED, PROJECTED, investor_returns, payments_by_period, portfolio_returns
from store.db import audit_events, init_store, open_store
from tests.helpers import row_counts, stored_minimal
from tests.test_api import TWO_PAYERS, measurements, people
from tests.test_pages import client as _client
from tests.test_pages import session_csrf, text_of

CONTRACT = "test-contract"


@pytest.fixture(scope="module")
def world(module_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """One contract with no data yet, a user per role; on SQLite and on PostgreSQL."""
    folder = tmp_path_factory.mktemp("actions")
    patch = pytest.MonkeyPatch()
    patch.setenv("SIB_KEY_FILE", str(init_key(folder / "sib.key")))
    patch.setenv("SIB_UPLOAD_WORKER", "inline")
    init_store(module_url)
    engine = open_store(module_url)
    stored_minimal(engine, TWO_PAYERS)
    tokens = {role: add_user(engine, f"{role}-1", role, [CONTRACT], party={"payer": "city", "provider": "provider"}.get(role))
              for role in ("intermediary", "investor", "payer", "provider")}
    yield {"engine": engine, "app": create_app(engine), "tokens": tokens, "folder": folder}
    engine.dispose()
    patch.undo()




def _upload(c: TestClient, kind: str, name: str, body: str, csrf: str | None = None) -> Any:
    return c.post(f"/contracts/{CONTRACT}/batches?lang=en", data={"kind": kind, "csrf": csrf or session_csrf(c)},
                  files={"file": (name, body.encode(), "text/csv")}, follow_redirects=False)


def _ask(c: TestClient, **form: Any) -> int:
    answer = c.post(f"/contracts/{CONTRACT}/jobs?lang=en", data=dict(form, csrf=session_csrf(c)),
                    follow_redirects=False)
    assert answer.status_code == 303, answer.text
    return int(re.search(r"/jobs/(\d+)", answer.headers["location"]).group(1))


def _work(world: dict[str, Any]) -> None:
    while run_one(world["engine"], "test-worker", lease=60):
        pass


def test_the_intermediary_journey_in_the_browser_forms(world) -> None:
    """Upload (a refused file summarised per reason, nothing stored), upload, verify, evaluate, see the run and
    what changed, calculate payments, produce the report: each step's result on the page, each audited."""
    engine, c = world["engine"], _client(world, "intermediary")
    overview = text_of(c.get("/portfolio?lang=en").text)
    assert "period 2023-Q4 ended 2023-12-31" in overview  # no evaluation since the term's periods ended

    bad = people("A", 30).replace(",4,", ",12,")  # school year 12 on every fourth row: outside 4–9
    bad = bad.replace("A001,", "A001,x", 1)
    before = row_counts(engine)
    refused = _upload(c, "participants", "people.csv", bad)
    assert refused.status_code == 422
    summary = text_of(re.search(r'<div class="error" role="alert" id="refusal">(.*?)</div>', refused.text, re.S)[1])
    assert summary.startswith("people.csv was refused: 6 errors. Nothing was stored.")
    assert "column school_year, 5 rows (2, 8, 14, …): not eligible" in summary  # one line for five rows
    assert "column start, 1 row (3)" in summary and len(re.findall(r"rows? \(", summary)) == 2  # two reasons
    assert row_counts(engine) == dict(before, audit_events=before["audit_events"] + 1)  # the refusal, audited

    assert _upload(c, "participants", "p.csv", people("A", 40)).status_code == 303
    done = _upload(c, "measurements", "m.csv", measurements("A", 40))
    assert done.status_code == 303 and "done=uploaded" in done.headers["location"]
    page = c.get(done.headers["location"]).text
    batch = int(re.search(r"batch=(\d+)", done.headers["location"])[1])
    assert f"Batch {batch} received" in text_of(page)
    again = _upload(c, "measurements", "m.csv", measurements("A", 40))
    assert "m.csv was received before: nothing new was stored." in text_of(c.get(again.headers["location"]).text)

    assert len(portfolio(engine, _who(engine, "intermediary"))["contracts"][0]["unverified"]) == 2
    for b in list_batches(engine, CONTRACT):
        answer = c.post(f"/contracts/{CONTRACT}/batches/{b['id']}/verify?lang=en", data={"csrf": session_csrf(c)},
                        follow_redirects=False)
        assert answer.status_code == 303
    assert all(b["verified_at"] for b in list_batches(engine, CONTRACT))
    assert sorted(e.detail["batch"] for e in audit_events(engine, CONTRACT, "batch.verify")) == sorted(
        b["id"] for b in list_batches(engine, CONTRACT))  # each verification audited, by the user who did it
    assert {e.actor for e in audit_events(engine, CONTRACT, "batch.verify")} == {"api:intermediary-1"}

    first = _ask(c, kind="evaluate", as_of="2021-12-31")
    waiting = c.get(f"/contracts/{CONTRACT}/jobs/{first}?lang=en")
    assert "Waiting for a worker" in text_of(waiting.text) and 'id="check-again"' in waiting.text
    assert '<script src="/assets/job.js" defer></script>' in waiting.text  # follows the job; this site's only script
    assert "script-src 'self'" in waiting.headers["content-security-policy"]
    script = c.get("/assets/job.js")
    assert script.status_code == 200 and script.headers["content-type"].startswith("text/javascript")
    second = _ask(c, kind="evaluate", as_of="2022-06-30")
    _work(world)
    runs = [get_job(engine, j).result["run"] for j in (first, second)]
    job_page = c.get(f"/contracts/{CONTRACT}/jobs/{second}?lang=en").text
    assert f"/runs/{runs[1]}" in job_page and "job.js" not in job_page and "check-again" not in job_page
    run_page = text_of(c.get(f"/contracts/{CONTRACT}/runs/{runs[1]}?lang=en").text)
    assert f"From run {runs[0]} to run {runs[1]}." in run_page
    assert "as-of date 2021-12-31 → 2022-06-30" in run_page and "contract version 2 → 2" not in run_page
    assert "Attendance" in run_page and "95 % CI" in run_page

    pay = _ask(c, kind="payments", run=runs[1])
    _work(world)
    result = get_job(engine, pay).result
    ledger = read_ledger(engine, CONTRACT)
    assert result["entries"] == [int(s) for s in ledger["seq"]] and len(result["entries"]) >= 1
    assert result["amount"] == str(sum(ledger["amount"]))
    again = _ask(c, kind="payments", run=runs[1])  # the same run again: nothing more is owed
    _work(world)
    assert get_job(engine, again).result["entries"] == [] and len(read_ledger(engine, CONTRACT)) == len(ledger)

    report = _ask(c, kind="report", run=runs[1])
    _work(world)
    document = c.get(f"/contracts/{CONTRACT}/jobs/{report}/file")
    assert document.status_code == 200 and document.content.startswith(b"%PDF")
    assert document.headers["content-disposition"] == f'attachment; filename="{CONTRACT}-report-run{runs[1]}.pdf"'
    actions = [e.action for e in audit_events(engine, CONTRACT) if e.action.startswith("job.")]
    assert actions.count("job.queued") == 5 and actions.count("job.done") == 5

    mine = portfolio(engine, _who(engine, "intermediary"))["contracts"][0]
    assert mine["unverified"] == [] and mine["latest_run"]["id"] == runs[1]
    assert mine["awaiting_approval"] == {"entries": len(ledger), "amount": str(sum(ledger["amount"]))}


def _who(engine: Any, role: str) -> Any:
    from api.access import Principal

    return Principal(1, role, role, frozenset({CONTRACT}), False, "city" if role == "payer" else None)


def test_every_action_needs_the_form_token_and_the_role(world) -> None:
    engine = world["engine"]
    c = _client(world, "intermediary")
    before = row_counts(engine)
    assert _upload(c, "participants", "p.csv", people("Z", 3), csrf="forged").status_code == 403
    assert c.post(f"/contracts/{CONTRACT}/jobs", data={"kind": "evaluate", "csrf": "forged"}).status_code == 403
    assert c.post(f"/contracts/{CONTRACT}/batches/1/verify", data={"csrf": ""}).status_code == 403
    assert row_counts(engine) == before  # nothing stored, nothing queued
    for role in ("payer", "investor"):
        other = _client(world, role)
        for path, data in ((f"/contracts/{CONTRACT}/jobs", {"kind": "evaluate"}),
                           (f"/contracts/{CONTRACT}/batches/1/verify", {})):
            assert other.post(path, data=dict(data, csrf=session_csrf(other))).status_code == 403
        assert other.get(f"/contracts/{CONTRACT}/runs/1").status_code == 403
    assert row_counts(engine) == before
    bad_day = c.post(f"/contracts/{CONTRACT}/jobs?lang=en", data={"kind": "evaluate", "as_of": "2021-13-01",
                                                                  "csrf": session_csrf(c)})
    assert bad_day.status_code == 422 and "“2021-13-01” is not a date (YYYY-MM-DD)." in text_of(bad_day.text)
    assert c.get(f"/contracts/{CONTRACT}/jobs/999999").status_code == 404
    assert row_counts(engine) == before


def test_finance_sees_its_own_amounts_due_by_date_and_approvals_with_their_evidence(world) -> None:
    engine = world["engine"]
    if not len(read_ledger(engine, CONTRACT)):
        pytest.skip("needs the journey's ledger (run the module)")
    c = _client(world, "payer")
    data = portfolio(engine, _who(engine, "payer"))
    ledger = read_ledger(engine, CONTRACT)
    city = ledger[ledger["payer"] == "city"]
    assert {r["entry"] for r in data["waiting"]} == {int(s) for s in city["seq"]}  # the region's are not shown
    assert data["totals"]["SEK"]["waiting"] == str(sum(city["amount"]))
    page = c.get("/portfolio?lang=en").text
    for r in data["waiting"]:
        assert f"/schedule?lang=en#entry-{r['entry']}" in page
        for flag in r["flags"]:
            assert f'data-flag="{flag["code"]}"' in page
    seq = data["waiting"][0]["entry"]
    flags = [f["code"] for f in data["waiting"][0]["flags"]]
    approved = c.post(f"/contracts/{CONTRACT}/ledger/{seq}/approve?lang=en",
                      data={"csrf": session_csrf(c), "acknowledge": flags, "reason": "checked" if flags else ""},
                      follow_redirects=False)
    assert approved.status_code == 303, text_of(approved.text)
    after = portfolio(engine, _who(engine, "payer"))
    due = [r for r in after["due"] if r["entry"] == seq]
    assert due and due[0]["due_date"] == (date.today() + timedelta(days=30)).isoformat() and not due[0]["overdue"]
    assert seq not in {r["entry"] for r in after["waiting"]}
    assert after["totals"]["SEK"]["overdue"] == "0" and after["totals"]["SEK"]["any_overdue"] is False
    late = portfolio(engine, _who(engine, "payer"), today=date.today() + timedelta(days=31))  # past its due date
    assert next(r for r in late["due"] if r["entry"] == seq)["overdue"] and late["totals"]["SEK"]["any_overdue"]
    assert late["totals"]["SEK"]["overdue"] == due[0]["amount"]
    assert "Due by date" in text_of(c.get("/portfolio?lang=en").text)


def test_the_portfolio_of_one_contract_has_that_contract_s_returns(world) -> None:
    engine = world["engine"]
    contract = get_contract(engine, CONTRACT).latest.terms
    ledger, statuses = read_ledger(engine, CONTRACT), current_status(engine, CONTRACT)
    for include in (RECEIVED, PROJECTED):
        payments = payments_by_period(ledger, statuses, include)
        alone = investor_returns(contract, payments)[0]
        pooled = portfolio_returns([(contract, payments)])
        assert (pooled.drawn, pooled.distributed, pooled.net, pooled.multiple, pooled.irr) == (
            alone.drawn, alone.distributed, alone.net, alone.multiple, alone.irr)
    twice = portfolio_returns([(contract, payments), (contract, payments)])
    assert twice.drawn == 2 * alone.drawn and twice.irr == alone.irr  # the same flows twice: the same rate
    page = text_of(_client(world, "investor").get("/portfolio?lang=en").text)
    assert "Portfolio, projected: with payments expected (SEK)" in page and "Test contract" in page
