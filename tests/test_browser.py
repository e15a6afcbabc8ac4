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
import threading
import time
from datetime import date
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
from store.db import open_store
from store.tables import LedgerStepRow, ParticipantRow
from tests.conftest import require_programs

ARTIFACTS = Path(os.environ.get("SIB_TEST_ARTIFACTS", Path(__file__).resolve().parent.parent / "test-artifacts"))
CONTRACT = "hasselby-school"


def plain(text: str) -> str:
    return " ".join(text.replace(i18n.NBSP, " ").split())


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(demo, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """`sib serve` (uvicorn, in a thread) on a copy of the demo store, with an investor and a finance officer."""
    folder = tmp_path_factory.mktemp("browser")
    shutil.copy(demo[0] / "sib-demo" / "sib.db", folder / "sib.db")
    engine = open_store(f"sqlite:///{folder / 'sib.db'}")
    stored = get_contract(engine, CONTRACT)
    evaluate(engine, stored, date(2024, 12, 31))  # an earlier date: the dashboard's trend has two points
    tokens = {"investor": add_user(engine, "Impact fund", "investor", [CONTRACT]),
              "payer": add_user(engine, "Stadens ekonomikontor", "payer", [CONTRACT], party="district"),
              "board": add_user(engine, "Socialförvaltningens ekonomi", "payer", ["gotland-family-team"],
                                party="socialforvaltningen"),
              "intermediary": add_user(engine, "Intermediären", "intermediary", [CONTRACT, "gotland-family-team"])}
    port = _free_port()
    config = uvicorn.Config(create_app(engine), host="127.0.0.1", port=port, log_level="warning")
    uv = uvicorn.Server(config)
    thread = threading.Thread(target=uv.run, daemon=True)
    thread.start()
    deadline = time.time() + 30
    while not uv.started and time.time() < deadline:
        time.sleep(0.05)
    assert uv.started, "the server did not start"
    yield {"base": f"http://127.0.0.1:{port}", "engine": engine, "tokens": tokens}
    uv.should_exit = True
    thread.join(timeout=10)
    engine.dispose()


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


def api(server: dict[str, Any], role: str, path: str) -> Any:
    response = httpx.get(f"{server['base']}/api/v1/contracts/{CONTRACT}/{path}",
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


WCAG_21_AA = {"runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]}}


@pytest.mark.parametrize("width", (360, 1920))
def test_every_page_fits_the_width_and_passes_axe(server, browser, width: int) -> None:
    """Every page, as the intermediary and the finance officer see them, at a small phone's width and a wide
    screen's: the page never scrolls sideways (wide tables scroll in their own box), and axe-core finds no
    violation of the WCAG 2.1 A and AA rules; a screenshot of each is kept."""
    axe_core = (Path(__file__).parent / "vendor" / "axe-core-4.14.1.min.js").read_text(encoding="utf-8")
    found: dict[str, list[str]] = {}

    def check(name: str) -> None:
        wide = browser.execute_script("return document.documentElement.scrollWidth")
        if wide > width:
            found.setdefault(name, []).append(f"the page is {wide} px wide")
        browser.execute_script(axe_core)  # axe-core from npm, vendored (tests/vendor/README.md)
        violations = browser.execute_async_script(
            "var done = arguments[arguments.length - 1];"
            f"axe.run(document, {json.dumps(WCAG_21_AA)}).then(r => done(r.violations))"
            ".catch(e => done([{id: 'axe-error', nodes: [{target: [String(e)]}]}]));")
        found.setdefault(name, []).extend(f"{v['id']} ({len(v['nodes'])}): {v['nodes'][0]['target']}"
                                          for v in violations)
        screenshot(browser, f"page-{name}-{width}")

    browser.set_window_size(width, 1200)
    browser.get(server["base"] + "/login?lang=sv")
    check("login")
    pages = {"intermediary": ["/contracts", f"/contracts/{CONTRACT}/dashboard", f"/contracts/{CONTRACT}/schedule",
                              f"/contracts/{CONTRACT}/work", "/contracts/gotland-family-team/board"],
             "payer": [f"/contracts/{CONTRACT}/schedule"]}
    for role, paths in pages.items():
        browser.delete_all_cookies()
        log_in(browser, server, role, paths[0])
        for path in paths:
            browser.get(server["base"] + path)
            check(f"{role}-{path.strip('/').replace('/', '-')}")
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
