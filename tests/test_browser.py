"""The web pages as people use them: headless Chromium (Debian's, driven by Selenium) against `sib serve`.

An investor logs in and reads the dashboard; municipal finance approves one payment with the mouse and
rejects another with the keyboard alone.  Figures on screen are compared with the API; screenshots are
saved under test-artifacts/ (or $SIB_TEST_ARTIFACTS).  The browser comes from the Debian packages
chromium and chromium-driver, installed by the test setup when missing (tests.conftest.require_programs);
it is never downloaded.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
from datetime import date, timedelta
from pathlib import Path
from decimal import Decimal
from typing import Any, Iterator

import httpx
import pytest
import sqlalchemy as sa
import uvicorn

from language import formats as i18n
from api.access import add_user
from api.http import create_app
from contracts.registry import get_contract
from evaluation.run import evaluate
from payments.ledger import Signer, take_step
from store.db import open_store
from store.tables import LedgerStepRow, ParticipantRow
from tests.conftest import require_programs

ARTIFACTS = Path(os.environ.get("SIB_TEST_ARTIFACTS", Path(__file__).resolve().parent.parent / "test-artifacts"))
CONTRACT = "hasselby-school"
PORTFOLIO = ("hasselby-school", "gotland-family-team", "norrkoping-foster-care", "peterborough-reconviction")


def plain(text: str) -> str:
    return " ".join(text.replace(i18n.NBSP, " ").split())


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(demo, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """`sib serve` (uvicorn, in a thread) on a copy of the demo store, with a user per role and page.

    The server seals and pseudonymises with the demo's own key (SIB_KEY_FILE, restored afterwards): a delivery
    uploaded on the work page is pseudonymised as the demo's participants were, so its rows find them.  One
    Peterborough payment is paid, so an investor's realised figures are not all zero."""
    folder = tmp_path_factory.mktemp("browser")
    shutil.copy(demo[0] / "sib-demo" / "sib.db", folder / "sib.db")
    key = demo[0] / "sib-demo" / "sib.key"
    key_before = os.environ.get("SIB_KEY_FILE")
    os.environ["SIB_KEY_FILE"] = str(key)
    url = f"sqlite:///{folder / 'sib.db'}"
    engine = open_store(url)
    stored = get_contract(engine, CONTRACT)
    evaluate(engine, stored, date(2024, 12, 31))  # an earlier date: the dashboard's trend has two points
    tokens = {"investor": add_user(engine, "Impact fund", "investor", [CONTRACT]),
              "payer": add_user(engine, "Stadens ekonomikontor", "payer", [CONTRACT], party="district"),
              "board": add_user(engine, "Socialförvaltningens ekonomi", "payer", ["gotland-family-team"],
                                party="socialforvaltningen"),
              "intermediary": add_user(engine, "Intermediären", "intermediary", [CONTRACT, "gotland-family-team"]),
              "fund": add_user(engine, "Fund of funds", "investor", list(PORTFOLIO)),
              "norrkoping": add_user(engine, "Norrköpings ekonomikontor", "payer", ["norrkoping-foster-care"],
                                     party="norrkoping"),
              "provider": add_user(engine, "Familjeteam norr", "provider", ["gotland-family-team"],
                                   party="family-team-north")}
    ministry = Signer("Justice finance", role="payer", party="justice-ministry")
    take_step(engine, "peterborough-reconviction", [1], "approved", ministry, "Checked against the register.",
              acknowledged=["missing_rule_share"])
    take_step(engine, "peterborough-reconviction", [1], "invoiced", "demo:intermediary")
    take_step(engine, "peterborough-reconviction", [1], "paid", Signer("Justice treasury", role="payer",
                                                                       party="justice-ministry"))
    port = _free_port()
    config = uvicorn.Config(create_app(engine), host="127.0.0.1", port=port, log_level="warning")
    uv = uvicorn.Server(config)
    thread = threading.Thread(target=uv.run, daemon=True)
    thread.start()
    deadline = time.time() + 30
    while not uv.started and time.time() < deadline:
        time.sleep(0.05)
    assert uv.started, "the server did not start"
    try:
        yield {"base": f"http://127.0.0.1:{port}", "engine": engine, "tokens": tokens, "url": url, "key": key,
               "data": demo[0] / "sib-demo" / "data"}
    finally:
        uv.should_exit = True
        thread.join(timeout=10)
        engine.dispose()
        if key_before is None:
            os.environ.pop("SIB_KEY_FILE", None)
        else:
            os.environ["SIB_KEY_FILE"] = key_before


@pytest.fixture
def browser() -> Iterator[Any]:
    programs = require_programs("chromium", "chromedriver")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = programs["chromium"]
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,1400",
                     "--lang=sv-SE"):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(programs["chromedriver"]), options=options)
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()


def screenshot(driver: Any, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    driver.save_screenshot(str(path))
    assert path.stat().st_size > 10_000  # a real picture, not an empty page
    return path


def after_submit(driver: Any, css: str) -> Any:
    """The element ``css`` on the page a form submission leads to: the POST, its redirect and the new page (which
    may recompute the forecast) can take longer than the click, so wait for it rather than race it."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, 60).until(expected_conditions.presence_of_element_located((By.CSS_SELECTOR, css)))


def log_in(driver: Any, server: dict[str, Any], role: str, next_path: str) -> None:
    from selenium.webdriver.common.by import By

    driver.get(f"{server['base']}{next_path}")
    assert driver.current_url.startswith(f"{server['base']}/login?next=")  # not logged in yet: sent to the login
    field = driver.find_element(By.ID, "token")
    assert driver.find_element(By.CSS_SELECTOR, "label[for=token]").text  # the field has a visible label
    field.send_keys(server["tokens"][role])
    field.submit()
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(driver, 60).until(expected_conditions.url_to_be(f"{server['base']}{next_path}"))


def api(server: dict[str, Any], role: str, path: str, contract: str = CONTRACT) -> Any:
    response = httpx.get(f"{server['base']}/api/v1/contracts/{contract}/{path}",
                         headers={"Authorization": f"Bearer {server['tokens'][role]}"}, timeout=60)
    response.raise_for_status()
    return response.json()


def test_investor_dashboard_shows_the_apis_figures_and_nothing_about_people(server, browser) -> None:
    from selenium.webdriver.common.by import By

    log_in(browser, server, "investor", f"/contracts/{CONTRACT}/dashboard")
    status = api(server, "investor", "status")
    assert browser.find_element(By.TAG_NAME, "html").get_attribute("lang") == "sv"  # a contract in SEK
    for m in status["metrics"]:
        row = browser.find_element(By.ID, f"metric-{m['metric']}")
        assert plain(row.find_element(By.CSS_SELECTOR, "[data-field=value]").text) == plain(
            i18n.number(m["value"], "sv", None))
        assert plain(row.find_element(By.CSS_SELECTOR, "[data-field=participants]").text) == plain(
            i18n.integer(m["participants"], "sv"))  # 1 000: grouped as Swedish groups
        trend = browser.find_element(By.ID, f"chart-{m['metric']}").find_elements(By.CSS_SELECTOR, "svg[role=img]")
        assert len(trend) == 1 and m["name"] in trend[0].get_attribute("aria-label")
        assert len(m["trend"]) == 2
        if m["on_track"] is not None:
            assert ("når målet" if m["on_track"] else "under målet") in row.text
    pay = status["payments"]
    forecast = status["forecast"]
    for card, amount in (("received", pay["received"]), ("expected", pay["expected"]),
                         ("rejected", pay["by_status"]["rejected"]), ("forecast", forecast["total"]["p50"])):
        assert plain(i18n.money(amount, "SEK", "sv")) in plain(browser.find_element(By.ID, card).text)
    band = plain(browser.find_element(By.ID, "forecast").text)
    assert plain(i18n.money(forecast["total"]["p10"], "SEK", "sv")) in band
    assert plain(i18n.money(forecast["total"]["p90"], "SEK", "sv")) in band
    assert plain(i18n.money(forecast["expected_total"], "SEK", "sv")) in band
    for basis in ("realised", "projected"):
        for r in status["returns"][basis]:
            net = browser.find_element(By.CSS_SELECTOR, f"#returns-{basis}-{r['investor']} [data-field=net]").text
            assert plain(net) == plain(i18n.money(r["net"], "SEK", "sv"))

    source = browser.page_source
    with server["engine"].connect() as conn:
        pseudonyms = conn.execute(sa.select(ParticipantRow.pseudonym)
                                  .where(ParticipantRow.contract_id == CONTRACT)).scalars().all()
    assert len(pseudonyms) >= 1000 and not any(p in source for p in pseudonyms)
    assert not re.search(r"HV-\d", source)  # the delivered references
    assert "/participants" not in source
    screenshot(browser, "investor-dashboard")

    browser.get(f"{server['base']}/contracts/{CONTRACT}/schedule")
    assert "har inte den här sidan" in browser.page_source  # an investor has no schedule page


def test_municipal_finance_approves_with_the_mouse_and_rejects_with_the_keyboard(server, browser) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    log_in(browser, server, "payer", f"/contracts/{CONTRACT}/schedule")
    ledger = {e["seq"]: e for e in api(server, "payer", "ledger?limit=500")["items"]}
    first, second = sorted(seq for seq, e in ledger.items()  # the district's: the finance officer acts for it
                           if e["status"] == "calculated" and e["payer"] == "district")[:2]
    row = browser.find_element(By.ID, f"entry-{first}")
    assert plain(row.find_element(By.CSS_SELECTOR, "[data-field=amount]").text) == plain(
        i18n.money(ledger[first]["amount"], "SEK", "sv"))
    browser.find_element(By.ID, f"approve-{first}").click()
    notice = after_submit(browser, "p.done[role=status]")
    assert notice.text == f"Post {first} är godkänd."
    assert browser.find_element(By.CSS_SELECTOR, f"#entry-{first} [data-field=status]").text == "godkänd"
    assert plain(browser.find_element(By.ID, "total-approved").text) == plain(
        i18n.money(ledger[first]["amount"], "SEK", "sv"))
    screenshot(browser, "finance-approved")

    # The keyboard alone: Tab from the top of the page to the reason field, type, Enter submits the form.
    browser.get(f"{server['base']}/contracts/{CONTRACT}/schedule")
    reason = browser.find_element(By.ID, f"reason-{second}")
    body = browser.find_element(By.TAG_NAME, "body")
    body.send_keys(Keys.TAB)
    assert browser.switch_to.active_element.get_attribute("class") == "skip"  # the first stop: skip to content
    for _ in range(200):
        if browser.switch_to.active_element == reason:
            break
        browser.switch_to.active_element.send_keys(Keys.TAB)
    assert browser.switch_to.active_element == reason, "the reason field cannot be reached with the keyboard"
    reason.send_keys("Fel kohort enligt avtalet", Keys.ENTER)
    assert after_submit(browser, "p.done").text == f"Post {second} är avvisad."

    after = {e["seq"]: e["status"] for e in api(server, "payer", "ledger?limit=500")["items"]}
    assert (after[first], after[second]) == ("approved", "rejected")
    with server["engine"].connect() as conn:
        steps = conn.execute(sa.select(LedgerStepRow.entry_seq, LedgerStepRow.status, LedgerStepRow.by,
                                       LedgerStepRow.note).where(LedgerStepRow.contract_id == CONTRACT)
                             .order_by(LedgerStepRow.seq)).all()
    assert [tuple(s) for s in steps[-2:]] == [
        (first, "approved", "Stadens ekonomikontor", None),
        (second, "rejected", "Stadens ekonomikontor", "Fel kohort enligt avtalet")]
    screenshot(browser, "finance-rejected")


def test_the_browser_holds_a_session_not_the_token_and_logging_out_ends_it(server, browser) -> None:
    """The cookie a real browser keeps is a session id (HttpOnly, SameSite=Strict), not the token; the logout
    button (a form POST with its CSRF token, from this site's page) ends the session: the same cookie put back
    leads to the login page."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    from api.web.session import COOKIE

    page = f"/contracts/{CONTRACT}/dashboard"
    log_in(browser, server, "investor", page)
    cookie = browser.get_cookie(COOKIE)
    token = server["tokens"]["investor"]
    assert cookie and cookie["httpOnly"] and cookie["sameSite"] == "Strict" and cookie["path"] == "/"
    assert cookie["value"] != token and token not in cookie["value"] and token not in browser.page_source
    browser.find_element(By.CSS_SELECTOR, "form[action='/logout'] button").click()
    WebDriverWait(browser, 60).until(expected_conditions.url_to_be(f"{server['base']}/login"))
    browser.add_cookie({"name": COOKIE, "value": cookie["value"], "path": "/"})
    browser.get(server["base"] + page)
    assert browser.current_url.startswith(f"{server['base']}/login?next=")


def test_pages_are_usable_without_sight_of_the_layout(server, browser) -> None:
    """Labels for every field, one h1, headings in order, table headers, named pictures, a language."""
    from selenium.webdriver.common.by import By

    log_in(browser, server, "payer", f"/contracts/{CONTRACT}/schedule")
    for path in (f"/contracts/{CONTRACT}/schedule", "/contracts", f"/contracts/{CONTRACT}/schedule?lang=en"):
        browser.get(server["base"] + path)
        assert browser.find_element(By.TAG_NAME, "html").get_attribute("lang") in ("sv", "en")
        assert len(browser.find_elements(By.TAG_NAME, "h1")) == 1
        levels = [int(h.tag_name[1]) for h in browser.find_elements(By.CSS_SELECTOR, "h1, h2, h3")]
        assert all(b - a <= 1 for a, b in zip(levels, levels[1:]))
        for field in browser.find_elements(By.CSS_SELECTOR, "input:not([type=hidden]), select, textarea"):
            labels = browser.find_elements(By.CSS_SELECTOR, f"label[for='{field.get_attribute('id')}']")
            assert labels and labels[0].text.strip(), f"field {field.get_attribute('name')} has no label"
        for button in browser.find_elements(By.TAG_NAME, "button"):
            assert button.get_attribute("textContent").strip()
        for table in browser.find_elements(By.TAG_NAME, "table"):
            assert table.find_elements(By.TAG_NAME, "th")


def test_finance_reads_the_board_summary_at_every_width(server, browser) -> None:
    """The nämndrapport as a finance officer reads it: the API's figures, no sideways scrolling of the page at a
    phone's or a desktop's width (wide tables scroll in their own box), headings in order, its PDF one click away."""
    from selenium.webdriver.common.by import By

    page = "/contracts/gotland-family-team/board"
    log_in(browser, server, "board", page)
    response = httpx.get(f"{server['base']}/api/v1/contracts/gotland-family-team/board-summary?lang=sv",
                         headers={"Authorization": f"Bearer {server['tokens']['board']}"}, timeout=60)
    figures = response.json()
    shown = plain(browser.find_element(By.TAG_NAME, "main").text)
    net = i18n.money(Decimal(figures["business_case"]["net_total"]), "SEK", "sv")
    assert plain(net) in shown and "Nämndrapport" in shown
    for row in figures["money"]:
        assert plain(i18n.money(Decimal(row["calculated"]), "SEK", "sv")) in shown
    assert len(browser.find_elements(By.TAG_NAME, "h1")) == 1
    levels = [int(h.tag_name[1]) for h in browser.find_elements(By.CSS_SELECTOR, "h1, h2, h3")]
    assert all(b - a <= 1 for a, b in zip(levels, levels[1:]))
    for width in (390, 1400):
        browser.set_window_size(width, 1400)
        browser.get(server["base"] + page)
        assert browser.execute_script("return document.documentElement.scrollWidth") <= width
        screenshot(browser, f"finance-board-{width}")
    browser.set_window_size(1280, 1400)
    link = browser.find_element(By.PARTIAL_LINK_TEXT, "PDF").get_attribute("href")
    pdf = httpx.get(link, cookies={c["name"]: c["value"] for c in browser.get_cookies()}, timeout=60)
    assert pdf.status_code == 200 and pdf.content[:5] == b"%PDF-"


# --- Each role's main journey, end to end (issue 19): the overview first, then the pages it leads to. -----------


def log_in_to_overview(driver: Any, server: dict[str, Any], role: str) -> None:
    """The login page as a bookmark opens it: no page asked for, so the overview comes first."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get(f"{server['base']}/login")
    field = driver.find_element(By.ID, "token")
    field.send_keys(server["tokens"][role])
    field.submit()
    WebDriverWait(driver, 60).until(expected_conditions.url_to_be(f"{server['base']}/portfolio"))
    assert driver.find_element(By.CSS_SELECTOR, "nav a[aria-current=page]").get_attribute("href").startswith(
        f"{server['base']}/portfolio")


def wait_for_url(driver: Any, pattern: str) -> re.Match[str]:
    """The page a click leads to, once the browser is there (``pattern``: a regular expression on its address)."""
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(driver, 60).until(lambda d: re.search(pattern, d.current_url))
    found = re.search(pattern, driver.current_url)
    assert found
    return found


def download(driver: Any, link: str) -> httpx.Response:
    """What a link gives the logged-in browser: fetched with the browser's own cookies (its session)."""
    response = httpx.get(link, cookies={c["name"]: c["value"] for c in driver.get_cookies()}, timeout=120)
    assert response.status_code == 200, response.text[:500]
    return response


@pytest.fixture
def worker(server, tmp_path: Path) -> Iterator[dict[str, Any]]:
    """`sib worker` as its own process on the server's store, with the demo's key: the jobs asked for on the
    pages are done there, as in production.  Stopped (and killed if it will not stop) at the end."""
    log = tmp_path / "worker.log"
    env = dict(os.environ, DATABASE_URL=server["url"], SIB_KEY_FILE=str(server["key"]), SIB_LANG="en")
    with log.open("wb") as out:
        process = subprocess.Popen([sys.executable, "-c", "from api.cli import run; run()", "worker", "--poll", "0.2"],
                                   cwd=Path(__file__).resolve().parent.parent, env=env, stdout=out,
                                   stderr=subprocess.STDOUT)
    try:
        yield {"process": process, "log": log}
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=15)


def job_result(driver: Any, worker: dict[str, Any], link_css: str) -> str:
    """Wait on a job's page (its script reads the job's state every two seconds and puts it in place) for the link
    to its result, without reloading the page; its address."""
    from selenium.common.exceptions import StaleElementReferenceException, TimeoutException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    def ended(d: Any) -> Any:
        links = d.find_elements(By.CSS_SELECTOR, f"#job-state {link_css}")
        if links:
            return links[0].get_attribute("href")
        failed = d.find_elements(By.CSS_SELECTOR, "#job-state .error")
        if failed:
            raise AssertionError(f"the job failed: {failed[0].text}")
        return None

    try:
        href = WebDriverWait(driver, 240, poll_frequency=0.5,
                             ignored_exceptions=(StaleElementReferenceException,)).until(ended)
    except TimeoutException:
        state = worker["process"].poll()
        raise AssertionError(f"no result on {driver.current_url} (worker exit code {state}): "
                             f"{worker['log'].read_text(errors='replace')[-2000:]}") from None
    assert driver.find_element(By.ID, "job-state").get_attribute("data-open") == "0"  # done: no more following
    return href


def _attendance_csv(server: dict[str, Any], pupils: int, value: str, day_after_start: int,
                    unknown: int = 0) -> str:
    """Attendance of the first ``pupils`` Hässelby pupils ``day_after_start`` days after their enrolment (inside
    the metric's first-year window, on a day the demo's monthly figures never fall on), plus ``unknown``
    references never enrolled."""
    import csv

    with (server["data"] / "hasselby-participants.csv").open(encoding="utf-8") as f:
        people = list(csv.DictReader(f))[:pupils]
    lines = ["participant_id,metric,date,value,source"]
    for person in people:
        day = date.fromisoformat(person["start"]) + timedelta(days=day_after_start)
        lines.append(f"{person['participant_id']},attendance,{day.isoformat()},{value},browser test")
    lines += [f"HV-9{i:04d},attendance,2022-09-01,0.9,browser test" for i in range(unknown)]
    return "\n".join(lines) + "\n"


def upload(driver: Any, kind: str, path: Path) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    Select(driver.find_element(By.ID, "upload-kind")).select_by_value(kind)
    driver.find_element(By.ID, "upload-file").send_keys(str(path))  # the file input, as a person picks a file
    driver.find_element(By.CSS_SELECTOR, "#upload-form button[type=submit]").click()


def test_a_provider_delivers_for_its_own_families_and_is_refused_another_provider_s(server, browser,
                                                                                     tmp_path: Path) -> None:
    """A provider (the northern family team of the Gotland example) lands on its overview, opens its deliveries,
    is refused measurements for a family of the other team (as unknown: it learns nothing of who is enrolled
    elsewhere) and a file enrolling people with the other team, then enrols a new family of its own; it sees its
    own deliveries and results only."""
    from selenium.webdriver.common.by import By

    from outcomes.batches import list_batches

    engine, contract = server["engine"], "gotland-family-team"
    browser.delete_all_cookies()
    log_in(browser, server, "provider", "/portfolio")
    row = browser.find_element(By.ID, f"contract-{contract}")
    row.find_element(By.TAG_NAME, "a").click()
    wait_for_url(browser, rf"/contracts/{contract}/deliveries")
    page = plain(browser.find_element(By.TAG_NAME, "main").text)
    assert "Familjeteam norra Gotland (illustrativt)" in page
    payments = browser.find_element(By.ID, "provider-payments")
    assert {plain(th.text) for th in payments.find_elements(By.CSS_SELECTOR, "tbody th")} == {
        "Familjeteam norra Gotland (illustrativt)"}  # its own part of the ledger, not the other team's
    before = len(list_batches(engine, contract))

    theirs = tmp_path / "mätningar.csv"  # GTL-0001 works with the other team (every third family is the north's)
    theirs.write_text("participant_id,metric,date,value\nGTL-0001,placement-days,2021-03-01,0\n", encoding="utf-8")
    upload(browser, "measurements", theirs)
    refusal = plain(after_submit(browser, "#refusal").text)
    assert "mätningar.csv avvisades" in refusal and "okänd deltagare" in refusal.lower()
    other = tmp_path / "familjer.csv"
    other.write_text("participant_id,start,age,sex,provider\nGTL-9001,2021-06-01,14,female,family-team\n",
                     encoding="utf-8")
    upload(browser, "participants", other)
    assert "är en annan utförare" in plain(after_submit(browser, "#refusal").text)
    assert len(list_batches(engine, contract)) == before  # nothing stored by either

    own = tmp_path / "nya-familjer.csv"
    own.write_text("participant_id,start,age,sex\nGTL-9002,2021-06-01,15,male\n", encoding="utf-8")
    upload(browser, "participants", own)
    batch = int(wait_for_url(browser, r"done=uploaded&batch=(\d+)")[1])
    mine = list_batches(engine, contract, "family-team-north")
    assert [b["id"] for b in mine] == [batch] and mine[0]["verified_at"] is None
    listed = plain(browser.find_element(By.ID, f"batch-{batch}").text)
    assert "nya-familjer.csv" in listed and "väntar på intermediärens verifiering" in listed
    assert "gotland-families.csv" not in plain(browser.find_element(By.TAG_NAME, "main").text)  # not its file
    assert browser.find_elements(By.CSS_SELECTOR, "a[href*='/work']") == []  # no intermediary page for it
    browser.get(f"{server['base']}/contracts/{contract}/work")
    assert "403" in browser.find_element(By.TAG_NAME, "h1").text
    screenshot(browser, "journey-provider-refused-work")


def test_the_intermediary_receives_a_delivery_evaluates_and_publishes_the_report(server, browser, worker,
                                                                               tmp_path: Path) -> None:
    """Overview → the contract's work page → a refused file summarised per reason (nothing stored) → a good
    delivery → verified → an evaluation done by a real `sib worker` process → the run's results and what changed
    → the report as a PDF job, downloaded."""
    from selenium.webdriver.common.by import By

    from api.jobs.queue import get_job
    from evaluation.run import list_runs

    engine = server["engine"]
    log_in_to_overview(browser, server, "intermediary")
    row = browser.find_element(By.ID, f"contract-{CONTRACT}")
    assert {r.get_attribute("id") for r in browser.find_elements(By.CSS_SELECTOR, "#overview tbody tr")} == {
        f"contract-{CONTRACT}", "contract-gotland-family-team"}
    screenshot(browser, "journey-intermediary-overview")
    row.find_element(By.CSS_SELECTOR, "th a").click()
    wait_for_url(browser, rf"/contracts/{CONTRACT}/work\?")

    def batches() -> list[str]:
        return [r.get_attribute("id") for r in browser.find_elements(By.CSS_SELECTOR, "tr[id^=batch-]")]

    before = batches()
    bad = tmp_path / "närvaro-fel.csv"  # three shares above 1 and two pupils never enrolled: two reasons
    bad.write_text(_attendance_csv(server, 3, "1.7", 10, unknown=2), encoding="utf-8")
    upload(browser, "measurements", bad)
    refusal = after_submit(browser, "#refusal")
    summary = plain(refusal.text)
    assert bad.name in summary and "5" in refusal.find_element(By.TAG_NAME, "strong").text
    reasons = refusal.find_elements(By.TAG_NAME, "li")
    assert len(reasons) == 2, summary  # one line per reason, not one per row
    lines = sorted(plain(r.text) for r in reasons)
    assert any("(2, 3, 4)" in line for line in lines) and any("(5, 6)" in line for line in lines), lines
    assert batches() == before  # nothing stored
    screenshot(browser, "journey-intermediary-refused")

    good = tmp_path / "närvaro.csv"
    good.write_text(_attendance_csv(server, 25, "0.97", 10), encoding="utf-8")
    upload(browser, "measurements", good)
    batch = int(wait_for_url(browser, r"done=uploaded&batch=(\d+)")[1])
    assert str(batch) in browser.find_element(By.ID, "notice").text
    assert f"batch-{batch}" in batches() and len(batches()) == len(before) + 1
    assert plain(browser.find_element(By.CSS_SELECTOR, f"#batch-{batch} td:nth-of-type(4)").text) == "25"
    browser.find_element(By.CSS_SELECTOR, f"#batch-{batch} button").click()  # verify it
    wait_for_url(browser, rf"done=verified&batch={batch}")
    assert not browser.find_elements(By.CSS_SELECTOR, f"#batch-{batch} button")
    assert "Intermediären" in browser.find_element(By.ID, f"batch-{batch}").text  # verified by this user

    earlier = max(r.id for r in list_runs(engine, CONTRACT))
    end = get_contract(engine, CONTRACT).latest.terms.term.end.isoformat()
    as_of = browser.find_element(By.ID, "as-of")
    browser.execute_script("arguments[0].value = arguments[1]", as_of, end)  # the date picker, set as typed
    browser.find_element(By.CSS_SELECTOR, "#evaluate-form button[type=submit]").click()
    job = int(wait_for_url(browser, rf"/contracts/{CONTRACT}/jobs/(\d+)")[1])
    screenshot(browser, "journey-intermediary-job-waiting")
    link = job_result(browser, worker, "a[href*='/runs/']")
    done = get_job(engine, job)
    assert done.state == "done" and done.worker.endswith(f":{worker['process'].pid}")  # the worker process did it
    run = int(re.search(r"/runs/(\d+)", link)[1])
    assert run == done.result["run"] and run > earlier and not done.result.get("reused")
    screenshot(browser, "journey-intermediary-job-done")

    browser.get(link)
    assert f"/contracts/{CONTRACT}/runs/{run}" in browser.current_url
    assert str(run) in browser.find_element(By.TAG_NAME, "h1").text
    results = browser.find_elements(By.CSS_SELECTOR, "table[aria-describedby=results] tbody tr")
    assert len(results) >= 7  # attendance and the six SKR questions
    changes = browser.find_element(By.CSS_SELECTOR, "#changes + p")
    assert str(earlier) in changes.text and str(run) in changes.text  # from the run before to this one
    explained = browser.find_elements(By.CSS_SELECTOR, "#changes ~ ul li")
    assert explained and end[:4] in plain(" ".join(e.text for e in explained))  # the as-of date moved
    changed = browser.find_elements(By.CSS_SELECTOR, "table[aria-describedby=changes] tbody tr")
    assert changed, "the new attendance figures change the results"
    screenshot(browser, "journey-intermediary-run")

    browser.find_element(By.XPATH, "//form[input[@name='kind' and @value='report']]//button").click()
    report = int(wait_for_url(browser, rf"/contracts/{CONTRACT}/jobs/(\d+)")[1])
    assert report > job
    link = job_result(browser, worker, "a[download]")
    screenshot(browser, "journey-intermediary-report-ready")
    pdf = download(browser, link)
    assert pdf.content[:5] == b"%PDF-" and pdf.headers["content-type"] == "application/pdf"
    assert f"run{run}" in pdf.headers["content-disposition"]
    assert get_job(engine, report).worker == done.worker


def test_finance_approves_a_flagged_entry_from_the_overview_and_exports_the_schedule(server, browser) -> None:
    """Overview: what waits for approval, with each entry's evidence flags → the entry on the schedule, its
    evidence in view → each flag acknowledged, a reason, approved → the overview: due by date → the schedule
    downloaded as CSV and Excel."""
    from selenium.webdriver.common.by import By

    contract = "norrkoping-foster-care"
    log_in_to_overview(browser, server, "norrkoping")
    ledger = {e["seq"]: e for e in api(server, "norrkoping", "ledger?limit=500", contract)["items"]}
    waiting = sorted(s for s, e in ledger.items() if e["status"] == "calculated" and e["payer"] == "norrkoping")
    assert waiting
    seq = waiting[0]
    flags = sorted((ledger[seq].get("evidence") or {}).get("flag_codes") or [])  # the codes to acknowledge
    assert flags, "the demo's Norrköping entry carries evidence flags"

    table = browser.find_element(By.CSS_SELECTOR, "table[aria-describedby=waiting]")
    entry = table.find_element(By.CSS_SELECTOR, f"a[href$='/contracts/{contract}/schedule?lang=sv#entry-{seq}']")
    row = entry.find_element(By.XPATH, "./ancestor::tr")
    assert sorted(f.get_attribute("data-flag") for f in row.find_elements(By.CSS_SELECTOR, "[data-flag]")) == flags
    assert plain(i18n.money(Decimal(ledger[seq]["amount"]), "SEK", "sv")) in plain(row.text)
    assert not browser.find_elements(By.CSS_SELECTOR, "table[aria-describedby=due]")  # nothing due yet
    screenshot(browser, "journey-finance-overview")

    entry.click()
    wait_for_url(browser, rf"/contracts/{contract}/schedule\?lang=sv#entry-{seq}$")
    evidence = browser.find_element(By.ID, f"evidence-{seq}")
    assert evidence.find_elements(By.CSS_SELECTOR, "[data-field=evidence] li")
    assert browser.execute_script("const r = arguments[0].getBoundingClientRect();"
                                  "return r.top >= 0 && r.top < window.innerHeight", evidence), \
        "the entry's evidence is not in view where the overview's link lands"
    boxes = evidence.find_elements(By.CSS_SELECTOR, "input[name=acknowledge]")
    assert sorted(b.get_attribute("value") for b in boxes) == flags
    approve = browser.find_element(By.ID, f"approve-{seq}")
    assert not browser.execute_script("return arguments[0].form.checkValidity()", approve)  # not without them
    for box in boxes:
        box.click()
    browser.find_element(By.ID, f"why-{seq}").send_keys("Flaggorna granskade mot placeringsregistret")
    screenshot(browser, "journey-finance-acknowledged")
    approve.click()
    wait_for_url(browser, rf"done=approved&entry={seq}")
    assert browser.find_element(By.CSS_SELECTOR, "p.done[role=status]").text == f"Post {seq} är godkänd."
    assert browser.find_element(By.CSS_SELECTOR, f"#entry-{seq} [data-field=status]").text.startswith("godkänd")
    due_on_schedule = plain(browser.find_element(By.CSS_SELECTOR, f"#entry-{seq} [data-field=due]").text)
    after = {e["seq"]: e for e in api(server, "norrkoping", "ledger?limit=500", contract)["items"]}
    assert after[seq]["status"] == "approved"
    step = after[seq]["steps"][-1]
    assert step["status"] == "approved" and sorted(step["acknowledged"]) == flags and step["by"] == (
        "Norrköpings ekonomikontor")

    browser.find_element(By.CSS_SELECTOR, "nav a[href^='/portfolio']").click()
    wait_for_url(browser, r"/portfolio\?lang=sv$")
    due = browser.find_element(By.CSS_SELECTOR, "table[aria-describedby=due]")
    line = due.find_element(By.CSS_SELECTOR, f"a[href$='#entry-{seq}']").find_element(By.XPATH, "./ancestor::tr")
    cells = [plain(c.text) for c in line.find_elements(By.TAG_NAME, "td")]
    lag = get_contract(server["engine"], contract).latest.terms.payments.schedule.lag_days
    expected_day = i18n.day(date.fromisoformat(step["at"][:10]) + timedelta(days=lag), "sv")  # the approval + lag
    assert cells[0] == due_on_schedule == expected_day, (cells, due_on_schedule)
    assert cells[-1] == plain(i18n.money(Decimal(ledger[seq]["amount"]), "SEK", "sv"))
    assert not browser.find_elements(By.CSS_SELECTOR, f"table[aria-describedby=waiting] a[href$='#entry-{seq}']")
    card = plain(browser.find_element(By.ID, "totals-SEK").text)
    assert plain(i18n.money(Decimal(ledger[seq]["amount"]), "SEK", "sv")) in card
    screenshot(browser, "journey-finance-due")

    line.find_element(By.CSS_SELECTOR, "a").click()
    wait_for_url(browser, rf"/contracts/{contract}/schedule")
    csv_link = browser.find_element(By.CSS_SELECTOR, "a[href$='/schedule.csv']")
    xlsx_link = browser.find_element(By.CSS_SELECTOR, "a[href$='/schedule.xlsx']")
    assert csv_link.get_attribute("download") is not None and xlsx_link.get_attribute("download") is not None
    table_csv = download(browser, csv_link.get_attribute("href"))
    assert table_csv.headers["content-type"].startswith("text/csv")
    assert "attachment" in table_csv.headers["content-disposition"]
    import csv
    import io

    rows = list(csv.DictReader(io.StringIO(table_csv.content.decode("utf-8-sig")), delimiter=";"))  # Swedish
    mine = [r for r in rows if (r["Period"], r["Utfallsbetalarens id"]) == (ledger[seq]["period"], "norrkoping")]
    approved_amount = Decimal(ledger[seq]["amount"])
    assert len(mine) == 1 and _amount(mine[0]["Godkänt"]) == approved_amount, (rows[:3], ledger[seq]["period"])
    sheet = download(browser, xlsx_link.get_attribute("href"))
    assert sheet.content[:2] == b"PK"  # a zip: an Office Open XML workbook
    from openpyxl import load_workbook

    book = load_workbook(io.BytesIO(sheet.content), read_only=True)
    cells = [c for ws in book.worksheets for r in ws.iter_rows(values_only=True) for c in r if c is not None]
    assert any(_amount(c) == approved_amount for c in cells)


def _amount(value: Any) -> Decimal | None:
    """A cell as an amount, whatever the file's decimal comma or spaces; None if it is not one."""
    text = str(value).replace(i18n.NBSP, "").replace(" ", "").replace("\u202f", "")
    if "," in text and "." not in text:
        text = text.replace(",", ".")
    try:
        return Decimal(text)
    except ArithmeticError:
        return None


def test_the_investor_reads_the_portfolio_on_the_overview_as_the_api_has_it(server, browser) -> None:
    """The overview's cards (the whole portfolio's returns, realised and projected, per currency) and its table
    (each contract's payments received and expected, its forecast) against each contract's status in the API."""
    from selenium.webdriver.common.by import By

    log_in_to_overview(browser, server, "fund")
    statuses = {c: api(server, "fund", "status", c) for c in PORTFOLIO}
    currency = {c: get_contract(server["engine"], c).currency for c in PORTFOLIO}
    for contract, status in statuses.items():
        row = browser.find_element(By.ID, f"contract-{contract}")
        cells = [plain(c.text) for c in row.find_elements(By.TAG_NAME, "td")]
        money = lambda amount: plain(i18n.money(Decimal(amount), currency[contract], "sv"))  # noqa: E731
        assert cells[0] == money(status["payments"]["received"]), (contract, cells)
        assert cells[1] == money(status["payments"]["expected"]), (contract, cells)
        if status["forecast"]:
            assert cells[2] == money(status["forecast"]["total"]["p50"])
    assert Decimal(statuses["peterborough-reconviction"]["payments"]["received"]) > 0  # paid in the fixture
    for cur in sorted(set(currency.values())):
        mine = [statuses[c] for c in PORTFOLIO if currency[c] == cur]
        for basis in ("realised", "projected"):
            together = [next(r for r in s["returns"][basis] if r["investor"] == "all") for s in mine]
            drawn = sum(Decimal(r["drawn"]) for r in together)
            distributed = sum(Decimal(r["distributed"]) for r in together)
            card = browser.find_element(By.CSS_SELECTOR, f"#portfolio-{cur} .card[id$='-{basis}']")
            assert plain(card.find_element(By.CSS_SELECTOR, ".figure").text) == plain(
                i18n.money(distributed - drawn, cur, "sv")), (cur, basis)
            text = plain(card.text)
            assert plain(i18n.money(drawn, cur, "sv")) in text and plain(i18n.money(distributed, cur, "sv")) in text
    screenshot(browser, "journey-investor-overview")
    browser.find_element(By.CSS_SELECTOR, f"#contract-{CONTRACT} th a").click()
    wait_for_url(browser, rf"/contracts/{CONTRACT}/dashboard")
    assert plain(i18n.money(Decimal(statuses[CONTRACT]["payments"]["expected"]), "SEK", "sv")) in plain(
        browser.find_element(By.ID, "expected").text)


WCAG_21_AA = {"runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]}}


@pytest.mark.parametrize("width", (360, 1920))
def test_every_page_fits_the_width_and_passes_axe(server, browser, width: int, tmp_path: Path) -> None:
    """Every page, as the intermediary, the finance officers and the investors see them, at a small phone's width
    and a wide screen's: the overview of each role, the work page with its forms (and with a refused file's
    summary), a job waiting, a job done, a run: the page never scrolls sideways (wide tables scroll in their own
    box), no id is used twice, and axe-core finds no violation of the WCAG 2.1 A and AA rules; a screenshot of
    each is kept."""
    from api.jobs.queue import enqueue
    from api.jobs.worker import run_one
    from evaluation.run import list_runs

    axe_core = (Path(__file__).parent / "vendor" / "axe-core-4.14.1.min.js").read_text(encoding="utf-8")
    found: dict[str, list[str]] = {}

    def check(name: str) -> None:
        wide = browser.execute_script("return document.documentElement.scrollWidth")
        if wide > width:
            found.setdefault(name, []).append(f"the page is {wide} px wide")
        twice = browser.execute_script(
            "const seen = {}; document.querySelectorAll('[id]').forEach(e => seen[e.id] = (seen[e.id] || 0) + 1);"
            "return Object.keys(seen).filter(k => seen[k] > 1)")
        found.setdefault(name, []).extend(f"id {i!r} is used more than once" for i in twice)
        browser.execute_script(axe_core)  # axe-core from npm, vendored (tests/vendor/README.md)
        violations = browser.execute_async_script(
            "var done = arguments[arguments.length - 1];"
            f"axe.run(document, {json.dumps(WCAG_21_AA)}).then(r => done(r.violations))"
            ".catch(e => done([{id: 'axe-error', nodes: [{target: [String(e)]}]}]));")
        found.setdefault(name, []).extend(f"{v['id']} ({len(v['nodes'])}): {v['nodes'][0]['target']}"
                                          for v in violations)
        screenshot(browser, f"page-{name}-{width}")

    # Jobs as the work page's forms make them: two done by a worker (here, in this process), one still waiting.
    engine = server["engine"]
    run = max(r.id for r in list_runs(engine, CONTRACT))
    asked = "api:Intermediären"
    evaluation = enqueue(engine, CONTRACT, "evaluate", {"lang": "sv", "as_of": "2025-07-31",
                                                        "include_unverified": False}, asked)
    report = enqueue(engine, CONTRACT, "report", {"lang": "sv", "run": run}, asked)
    while run_one(engine, "browser-test", lease=60):  # the queue emptied (a job an earlier width left, too)
        pass
    waiting = enqueue(engine, CONTRACT, "report", {"lang": "sv", "run": run}, asked)

    browser.set_window_size(width, 1200)
    browser.get(server["base"] + "/login?lang=sv")
    check("login")
    jobs = f"/contracts/{CONTRACT}/jobs"
    pages = {"intermediary": ["/portfolio", "/contracts", f"/contracts/{CONTRACT}/dashboard",
                              f"/contracts/{CONTRACT}/schedule", f"/contracts/{CONTRACT}/work",
                              f"{jobs}/{waiting}", f"{jobs}/{evaluation}", f"{jobs}/{report}",
                              f"/contracts/{CONTRACT}/runs/{run}", "/contracts/gotland-family-team/board"],
             "payer": ["/portfolio", f"/contracts/{CONTRACT}/schedule"],
             "norrkoping": ["/portfolio", "/contracts/norrkoping-foster-care/schedule"],
             "investor": ["/portfolio", f"/contracts/{CONTRACT}/dashboard"],
             "fund": ["/portfolio"]}
    named = {f"{jobs}/{waiting}": "job-waiting", f"{jobs}/{evaluation}": "job-evaluation-done",
             f"{jobs}/{report}": "job-report-done", f"/contracts/{CONTRACT}/runs/{run}": "run"}  # stable names
    for role, paths in pages.items():
        browser.delete_all_cookies()
        log_in(browser, server, role, paths[0])
        for path in paths:
            browser.get(server["base"] + path)
            check(f"{role}-{named.get(path) or path.strip('/').replace('/', '-')}")
    browser.delete_all_cookies()
    log_in(browser, server, "intermediary", f"/contracts/{CONTRACT}/work")
    refused = tmp_path / "refused.csv"
    refused.write_text(_attendance_csv(server, 4, "2", 10, unknown=3), encoding="utf-8")
    upload(browser, "measurements", refused)
    after_submit(browser, "#refusal")
    check("intermediary-work-refused")
    found = {page: problems for page, problems in found.items() if problems}
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / f"page-problems-{width}.json").write_text(json.dumps(found, indent=1), encoding="utf-8")
    assert found == {}, found


def _luminance(hex_colour: str) -> float:
    channels = [int(hex_colour[i:i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(a: str, b: str) -> float:
    high, low = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def test_text_colours_have_enough_contrast() -> None:
    """WCAG AA (4.5:1) for every text colour the pages' stylesheet uses, on the background it is used on."""
    css = (Path(__file__).resolve().parent.parent / "api" / "web" / "templates" / "base.html.j2").read_text()
    colours = dict(re.findall(r"--([a-z-]+): (#[0-9a-f]{6})", css))
    header = re.search(r"header \{[^}]*background: (#[0-9a-f]{6})", css).group(1)
    pairs = [(colours[name], "#ffffff") for name in ("ink", "muted", "accent", "good", "bad")]
    pairs += [("#ffffff", header), ("#ffffff", colours["accent"]), (colours["bad"], "#fde8e4"),
              (colours["ink"], colours["bg-note"]), (colours["ink"], "#eef1f6")]
    for text, background in pairs:
        assert contrast(text, background) >= 4.5, (text, background)
