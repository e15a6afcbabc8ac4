"""The web pages over HTTP: login, who sees which page, CSRF, suppression, downloads, error pages.

The same pages in a real browser are in test_browser.py; these run without one.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any, Iterator

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from language import formats as i18n
from api.access import add_user
from api.web.session import COOKIE, csrf_token
from api.http import create_app
from contracts.registry import get_contract
from evaluation.run import evaluate
from outcomes.batches import verify_batch
from outcomes.ingest import IngestRefused, ingest_file
from outcomes.pseudonym import init_key, load_key
from payments.calculate import calculate
from store.db import init_store, open_store
from store.tables import LedgerStepRow, ParticipantRow
from tests.helpers import stored_minimal
from tests.test_api import TWO_PAYERS, measurements, people

TINY = TWO_PAYERS.replace("id: test-contract", "id: tiny-contract", 1)
ROLES = ("intermediary", "investor", "payer", "provider")


@pytest.fixture(scope="module")
def site(module_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """Two contracts: one with 40 participants, one with 3 (every count of people in it is small)."""
    folder = tmp_path_factory.mktemp("pages")
    url = module_url  # SQLite, then PostgreSQL
    init_store(url)
    engine = open_store(url)
    key = load_key(init_key(folder / "sib.key"))
    entries = {}
    for text, prefix, n in ((TWO_PAYERS, "A", 40), (TINY, "T", 3)):
        stored = stored_minimal(engine, text)
        contract = stored.latest.terms
        for kind, name, body in (("participants", f"{prefix}p.csv", people(prefix, n)),
                                 ("measurements", f"{prefix}m.csv", measurements(prefix, n))):
            (folder / name).write_text(body)
            verify_batch(engine, ingest_file(engine, contract, folder / name, kind, key).batch_id)
        evaluate(engine, stored, date(2021, 12, 31))
        run = evaluate(engine, stored, date(2022, 6, 30))
        entries[stored.id] = [e["seq"] for e in calculate(engine, stored, run)]
    bad = folder / "bad.csv"
    bad.write_text(people("A", 2).replace("A001,", "A001,not-a-date-", 1).replace(",4,", ",12,", 1))
    with pytest.raises(IngestRefused):
        ingest_file(engine, get_contract(engine, "test-contract").latest.terms, bad, "participants", key)
    tokens = {role: add_user(engine, f"{role}-1", role, ["test-contract", "tiny-contract"],
                             party={"payer": "city", "provider": "provider"}.get(role)) for role in ROLES}
    app = create_app(engine)
    yield {"engine": engine, "app": app, "tokens": tokens, "entries": entries}
    engine.dispose()


def log_in(c: TestClient, token: str, next_path: str = "/contracts") -> Any:
    """Log in as a person does: the login form (its CSRF token, also in its cookie), then the token."""
    form = c.get("/login?lang=en")
    csrf = re.search(r'name="csrf" value="([^"]+)"', form.text).group(1)
    return c.post("/login", data={"token": token, "next": next_path, "csrf": csrf, "lang": "en"},
                  follow_redirects=False)


def session_csrf(c: TestClient) -> str:
    """The form token of the client's session (as every page's forms carry it)."""
    return csrf_token(c.cookies[COOKIE])


def client(site: dict[str, Any], role: str | None = None) -> TestClient:
    c = TestClient(site["app"])
    if role:
        assert log_in(c, site["tokens"][role]).status_code == 303
    return c


def text_of(html: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", html).replace(i18n.NBSP, " ").split())


# -- logging in -----------------------------------------------------------------------------------------------------

def test_pages_need_a_login_and_come_back_after_it(site) -> None:
    c = client(site)
    first = c.get("/contracts/test-contract/dashboard", follow_redirects=False)
    assert first.status_code == 303 and first.headers["location"] == "/login?next=%2Fcontracts%2Ftest-contract%2Fdashboard"
    form = c.get(first.headers["location"])
    assert form.status_code == 200 and 'name="next" value="/contracts/test-contract/dashboard"' in form.text
    done = log_in(c, site["tokens"]["investor"], "/contracts/test-contract/dashboard")
    assert done.status_code == 303 and done.headers["location"] == "/contracts/test-contract/dashboard"
    cookie = [h for h in done.headers.get_list("set-cookie") if h.startswith(COOKIE + "=")][0]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/" in cookie
    assert c.get("/contracts/test-contract/dashboard").status_code == 200


def test_a_wrong_token_is_refused_without_a_cookie(site) -> None:
    done = log_in(client(site), "sib_wrong")
    assert done.status_code == 401 and COOKIE not in done.headers.get("set-cookie", "")
    assert "That token is not valid: it is wrong, or revoked." in done.text
    assert "sib_wrong" not in done.text  # what was typed is not echoed back


@pytest.mark.parametrize("target", ["//evil.example/x", "https://evil.example/", "/\\evil.example"])
def test_login_never_sends_anyone_to_another_site(site, target: str) -> None:
    done = log_in(client(site), site["tokens"]["payer"], target)
    assert done.headers["location"] == "/portfolio"  # the overview, on this site


def test_logout_clears_the_cookie(site) -> None:
    c = client(site, "investor")
    done = c.post("/logout", data={"csrf": session_csrf(c)}, follow_redirects=False)
    assert done.status_code == 303 and f'{COOKIE}=""' in done.headers["set-cookie"]


# -- who sees which page ----------------------------------------------------------------------------------------------

PAGE_ROLES = {"dashboard": {"investor", "intermediary"}, "schedule": {"payer", "intermediary"},
              "work": {"intermediary"}}


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("page", sorted(PAGE_ROLES))
def test_each_role_sees_only_its_pages(site, role: str, page: str) -> None:
    c = client(site, role)
    shown = c.get(f"/contracts/test-contract/{page}")
    assert shown.status_code == (200 if role in PAGE_ROLES[page] else 403)
    if shown.status_code == 403:
        assert "does not have this page" in shown.text or "har inte den här sidan" in shown.text
    assert c.get(f"/contracts/unknown/{page}").status_code == 404


def test_the_contract_list_links_only_the_roles_pages(site) -> None:
    page = client(site, "payer").get("/contracts?lang=en").text
    assert "/contracts/test-contract/schedule" in page
    assert "/dashboard" not in page and "/work" not in page
    provider = client(site, "provider").get("/contracts?lang=en").text
    assert "/contracts/test-contract/deliveries" in provider and "/schedule" not in provider


def test_a_contract_outside_the_users_list_is_not_found(site) -> None:
    engine = site["engine"]
    token = add_user(engine, "other-investor", "investor", ["tiny-contract"])
    c = TestClient(site["app"])
    log_in(c, token)
    assert c.get("/contracts/test-contract/dashboard").status_code == 404
    assert "test-contract" not in c.get("/contracts").text


# -- what the pages show --------------------------------------------------------------------------------------------

def test_dashboard_shows_the_status_the_api_serves(site) -> None:
    c = client(site, "investor")
    api = c.get("/api/v1/contracts/test-contract/status",
                headers={"Authorization": f"Bearer {site['tokens']['investor']}"}).json()
    page = text_of(c.get("/contracts/test-contract/dashboard?lang=en").text)
    assert f"evaluated as of {api['as_of']}" in page
    for m in api["metrics"]:
        assert m["name"] in page and i18n.number(m["value"], "en", None) in page
        assert len(m["trend"]) == 2  # two evaluated dates
    def shown(amount: str) -> str:
        return i18n.money(amount, "SEK", "en").replace(i18n.NBSP, " ")

    pay = api["payments"]
    assert f"Received (paid) {shown(pay['received'])}" in page
    assert f"Expected (not yet paid) {shown(pay['expected'])}" in page
    assert "Committed" not in page and "committed" not in page  # no word that merges statuses
    for status in ("calculated", "approved", "invoiced"):
        assert f"{status} {shown(pay['by_status'][status])}" in page
    assert f"Rejected {shown(pay['by_status']['rejected'])}" in page
    assert shown(api["forecast"]["total"]["p50"]) in page and shown(api["forecast"]["expected_total"]) in page
    assert i18n.percent(api["forecast"]["irr"]["p50"], "en", 1, False) in page
    for basis in ("realised", "projected"):
        net = next(r["net"] for r in api["returns"][basis] if r["investor"] == "all")
        assert shown(net) in page


def test_small_groups_are_suppressed_for_investors_and_payers(site) -> None:
    investor = client(site, "investor").get("/contracts/tiny-contract/dashboard?lang=en").text
    assert "suppressed (few people)" in investor
    status = client(site, "investor").get("/api/v1/contracts/tiny-contract/status",
                                          headers={"Authorization": f"Bearer {site['tokens']['investor']}"}).json()
    assert all(m["value"] is None for m in status["metrics"])
    payer = client(site, "payer").get("/contracts/tiny-contract/schedule?lang=en").text
    assert "basis hidden: it counts too few people" in payer and "outcomes paid:" not in payer
    intermediary = client(site, "intermediary").get("/contracts/tiny-contract/schedule?lang=en").text
    assert "outcomes paid:" in intermediary  # the intermediary works on the full basis


def test_no_participant_level_data_on_any_page(site) -> None:
    with site["engine"].connect() as conn:
        pseudonyms = conn.execute(sa.select(ParticipantRow.pseudonym)).scalars().all()
    for role, pages in (("investor", ["dashboard"]), ("payer", ["schedule"]),
                        ("intermediary", ["dashboard", "schedule", "work"])):
        for page in pages:
            html = client(site, role).get(f"/contracts/test-contract/{page}").text
            assert not any(p in html for p in pseudonyms)
            assert not re.search(r"\bA0\d\d\b", html)  # the delivered references are never stored, let alone shown


def test_work_page_lists_batches_refusals_runs_and_ledger(site) -> None:
    page = text_of(client(site, "intermediary").get("/contracts/test-contract/work?lang=en").text)
    assert "Ap.csv" in page and "Am.csv" in page
    assert "bad.csv (participants)" in page and "not a date" in page  # the refused delivery and why
    assert "Ledger hash chains and seals: intact" in page
    assert page.count(" verified data") == 2  # two runs (the form offers "unverified data" as an interim view)


def test_pages_are_in_swedish_for_sek_and_english_on_request(site) -> None:
    c = client(site, "investor")
    sv = c.get("/contracts/test-contract/dashboard").text
    en = c.get("/contracts/test-contract/dashboard?lang=en").text
    assert '<html lang="sv">' in sv and "Översikt för finansiärer" in sv and " kr<" in sv.replace(i18n.NBSP, " ")
    assert '<html lang="en">' in en and "Investor dashboard" in en and ">SEK" in en


def test_pages_fetch_nothing_from_elsewhere_and_say_so_in_their_headers(site) -> None:
    for role, page in (("investor", "dashboard"), ("payer", "schedule"), ("intermediary", "work")):
        shown = client(site, role).get(f"/contracts/test-contract/{page}")
        assert shown.headers["content-security-policy"].startswith("default-src 'none'")
        assert shown.headers["cache-control"] == "no-store"
        assert not re.search(r'(src|href)="(https?:)?//', shown.text)
        assert "<script" not in shown.text


def test_downloads_from_the_page_equal_the_api_exports(site) -> None:
    c = client(site, "payer")
    auth = {"Authorization": f"Bearer {site['tokens']['payer']}"}
    for kind in ("csv", "xlsx"):
        page = c.get(f"/contracts/test-contract/schedule.{kind}")
        api = c.get(f"/api/v1/contracts/test-contract/exports/schedule.{kind}", headers=auth)
        assert page.status_code == api.status_code == 200
        if kind == "csv":
            assert page.content == api.content
        else:
            assert page.content[:2] == b"PK" and page.headers["content-type"] == api.headers["content-type"]
    assert client(site, "investor").get("/contracts/test-contract/schedule.csv").status_code == 403


def test_unknown_pages_and_bad_queries_are_html_pages_not_json(site) -> None:
    c = client(site, "payer")
    missing = c.get("/no/such/page")
    assert missing.status_code == 404 and missing.headers["content-type"].startswith("text/html")
    bad = c.get("/contracts/test-contract/schedule?entry=0&done=approved")
    assert bad.status_code == 422 and "<html" in bad.text
    api = c.get("/api/v1/nothing-here")
    assert api.status_code == 404 and api.json()["error"]["code"] == "not_found"


# -- decisions ------------------------------------------------------------------------------------------------------

def steps(site, contract: str = "test-contract") -> list[tuple[int, str, str, str | None]]:
    with site["engine"].connect() as conn:
        return [(r.entry_seq, r.status, r.by, r.note) for r in conn.execute(
            sa.select(LedgerStepRow).where(LedgerStepRow.contract_id == contract).order_by(LedgerStepRow.seq))]


def test_approving_needs_the_form_token(site) -> None:
    c = client(site, "payer")
    entry = site["entries"]["test-contract"][0]
    before = steps(site)
    forged = c.post(f"/contracts/test-contract/ledger/{entry}/approve", data={"csrf": "0" * 32}, follow_redirects=False)
    assert forged.status_code == 403 and steps(site) == before
    token = session_csrf(c)
    assert f'name="csrf" value="{token}"' in c.get("/contracts/test-contract/schedule").text
    done = c.post(f"/contracts/test-contract/ledger/{entry}/approve?lang=en", data={"csrf": token},
                  follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"].endswith(f"done=approved&entry={entry}&lang=en#entry-{entry}")
    assert steps(site)[len(before):] == [(entry, "approved", "payer-1", None)]
    shown = c.get(done.headers["location"]).text
    assert f"Entry {entry} approved." in shown
    again = c.post(f"/contracts/test-contract/ledger/{entry}/approve?lang=en", data={"csrf": token})
    assert again.status_code == 409 and "approved" in again.text and steps(site)[len(before):] == [
        (entry, "approved", "payer-1", None)]


def test_rejecting_needs_a_reason_and_an_allowed_role(site) -> None:
    entry = site["entries"]["test-contract"][2]  # the city's (the payer user acts for the city: [1] is the region's)
    payer = client(site, "payer")
    region = payer.post(f"/contracts/test-contract/ledger/{site['entries']['test-contract'][1]}/reject?lang=en",
                        data={"csrf": session_csrf(payer), "reason": "not ours"})
    assert region.status_code == 409 and "payer-1 acts for City only" in region.text
    token = session_csrf(payer)
    before = steps(site)
    blank = payer.post(f"/contracts/test-contract/ledger/{entry}/reject?lang=en", data={"csrf": token, "reason": "  "})
    assert blank.status_code == 422 and f"Entry {entry} was not rejected: give the reason." in blank.text
    assert steps(site) == before
    intermediary = client(site, "intermediary")  # sees the schedule, may not decide on it (segregation of duties)
    refused = intermediary.post(f"/contracts/test-contract/ledger/{entry}/reject",
                                data={"csrf": session_csrf(intermediary), "reason": "x"})
    assert refused.status_code == 403 and steps(site) == before
    assert "reject" not in intermediary.get("/contracts/test-contract/schedule").text.split("<h2 id=\"entries\">")[1]
    done = payer.post(f"/contracts/test-contract/ledger/{entry}/reject", data={"csrf": token, "reason": "wrong cohort"},
                      follow_redirects=False)
    assert done.status_code == 303
    assert steps(site)[len(before):] == [(entry, "rejected", "payer-1", "wrong cohort")]


def test_a_flagged_entry_is_approved_on_the_page_only_with_each_flag_ticked_and_a_reason(demo, tmp_path) -> None:
    """Norrköping's 6.5 M rests on an effect whose CI includes zero and on 612 of 1,000 counted by the missing-data
    rule: the page shows both, and takes the approval only with both acknowledged and a reason, kept on the step."""
    import shutil

    from api.access import add_user
    from api.http import create_app
    from store.db import open_store
    from store.seal import key_file

    shutil.copy(demo[0] / "sib-demo" / "sib.db", tmp_path / "sib.db")
    engine = open_store(f"sqlite:///{tmp_path / 'sib.db'}")
    tokens = [add_user(engine, "Eva", "payer", ["norrkoping-foster-care"], party="norrkoping")]
    page = "/contracts/norrkoping-foster-care/schedule?lang=en"
    with key_file(demo[0] / "sib-demo" / "sib.key"):
        eva = TestClient(create_app(engine))
        log_in(eva, tokens[0])
        shown = text_of(eva.get(page).text)
        assert "is not distinguishable from zero" in shown and "612 of 1,000 participants (61.2%)" in shown
        approve = "/contracts/norrkoping-foster-care/ledger/1/approve?lang=en"
        both = ["ci_includes_zero", "missing_rule_share"]
        for form in ({"acknowledge": both}, {"acknowledge": both[:1], "reason": "minute 12"},
                     {"acknowledge": both, "reason": "  "}):
            refused = eva.post(approve, data={"csrf": session_csrf(eva), **form})
            assert refused.status_code == 409 and "entry 1 is flagged" in text_of(refused.text)
        assert steps({"engine": engine}, "norrkoping-foster-care") == []
        done = eva.post(approve, data={"csrf": session_csrf(eva), "acknowledge": both, "reason": "minute 12"},
                        follow_redirects=False)
        assert done.status_code == 303 and "done=approved" in done.headers["location"]
    with engine.connect() as conn:
        step = conn.execute(sa.select(LedgerStepRow).where(LedgerStepRow.contract_id == "norrkoping-foster-care")).one()
    assert (step.status, step.by, step.party, step.note, sorted(step.acknowledged)) == (
        "approved", "Eva", "norrkoping", "minute 12", both)
    engine.dispose()
