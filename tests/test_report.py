"""The evaluation report as its readers get it: a PDF checked with poppler, in Swedish and English.

Figures are compared with the numbers the store holds (the demo's runs and ledger), formatted the way each
language writes them; every page must render; a report without verified data, or with warnings, says so on
its first page.
"""

from __future__ import annotations

import json
import subprocess
from decimal import Decimal
from pathlib import Path

import pytest
from PIL import Image

from language import formats as i18n
from tests.conftest import require_programs
from tests.helpers import DATA


def pdf_text(path: Path, first: int | None = None, last: int | None = None) -> str:
    tools = require_programs("pdftotext")
    pages = (["-f", str(first)] if first else []) + (["-l", str(last)] if last else [])
    done = subprocess.run([tools["pdftotext"], *pages, str(path), "-"], capture_output=True, text=True,
                          check=True)
    return " ".join(done.stdout.replace(i18n.NBSP, " ").split())  # words, whatever the line breaks


def page_count(path: Path) -> int:
    tools = require_programs("pdfinfo")
    info = subprocess.run([tools["pdfinfo"], str(path)], capture_output=True, text=True, check=True).stdout
    return int(next(line.split()[-1] for line in info.splitlines() if line.startswith("Pages:")))


def assert_every_page_renders(path: Path, tmp_path: Path) -> int:
    """pdftoppm draws each page; each picture must have ink on it (a blank page means a broken layout)."""
    tools = require_programs("pdftoppm")
    pages = page_count(path)
    prefix = tmp_path / path.stem
    subprocess.run([tools["pdftoppm"], "-r", "30", "-png", str(path), str(prefix)], check=True, capture_output=True)
    pictures = sorted(tmp_path.glob(f"{path.stem}-*.png"))
    assert len(pictures) == pages
    for picture in pictures:
        grey = Image.open(picture).convert("L")
        dark = sum(grey.histogram()[:128])
        assert dark > 50, f"{picture.name} is blank"
    return pages


def plain(text: str) -> str:
    return text.replace(i18n.NBSP, " ")


# -- number formats ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("amount, currency, lang, expected", [
    ("1234567.89", "SEK", "sv", "1 234 567,89 kr"),
    ("1234567.89", "SEK", "en", "SEK 1,234,567.89"),
    ("-3500000", "SEK", "sv", "−3 500 000,00 kr"),
    ("-3500000", "SEK", "en", "SEK -3,500,000.00"),
    ("999.5", "GBP", "sv", "999,50 GBP"),
    ("0.005", "SEK", "sv", "0,01 kr"),  # half-up to the minor unit, as the ledger rounds
    ("-0.004", "SEK", "sv", "0,00 kr"),  # a rounded zero has no sign
    ("1000", "SEK", "sv", "1 000,00 kr"),
    ("100", "SEK", "sv", "100,00 kr"),
    ("100", "JPY", "en", "JPY 100"),  # the currency's own minor unit
])
def test_money_is_written_as_each_language_writes_it(amount: str, currency: str, lang: str, expected: str) -> None:
    written = i18n.money(Decimal(amount), currency, lang)
    assert plain(written) == expected
    assert " " not in written  # no-break spaces only: an amount never wraps across lines


@pytest.mark.parametrize("value, lang, digits, expected", [
    (1234.5, "sv", 1, "1 234,5"), (1234.5, "en", 1, "1,234.5"), (-0.0549, "sv", 3, "−0,055"),
    (-0.0001, "en", 3, "0.000"), (118.7, "sv", None, "118,7"), (0.505, "en", None, "0.505"),
])
def test_numbers(value: float, lang: str, digits: int | None, expected: str) -> None:
    assert plain(i18n.number(value, lang, digits)) == expected


def test_percent_p_values_and_dates() -> None:
    assert plain(i18n.percent(-0.074, "sv")) == "−7,4 %"
    assert plain(i18n.percent(0.035, "en")) == "+3.5%"
    assert plain(i18n.percent(0.6, "sv", 0, signed=False)) == "60 %"
    assert plain(i18n.p_value(0.0004, "sv")) == "< 0,001" and i18n.p_value(0.0134, "en") == "0.013"
    assert i18n.day("2025-07-31", "sv") == "2025-07-31" and i18n.day("2025-07-31", "en") == "2025-07-31"
    assert plain(i18n.significant(0.03361, "sv")) == "0,0336" and i18n.significant(1250.4, "en") == "1,250"


# -- the demo's reports --------------------------------------------------------------------------------------------

def test_swedish_report_of_a_sek_contract_states_the_stored_figures(demo, tmp_path: Path) -> None:
    folder, rows, _ = demo
    row = rows["norrkoping-foster-care"]
    pdf = folder / "sib-demo" / "norrkoping-foster-care-report.pdf"
    first = pdf_text(pdf, 1, 1)
    assert "Oberoende utvärderingsrapport" in first and "1. Sammanfattning" in first
    assert plain(i18n.money(Decimal(row["payments_due"]), "SEK", "sv")) in first
    assert plain(i18n.money(Decimal(row["investor"]["net"]), "SEK", "sv")) in first
    effect = f"{plain(i18n.number(row['ci_low'], 'sv', None))} till {plain(i18n.number(row['ci_high'], 'sv', None))}"
    assert effect in first
    whole = pdf_text(pdf)
    for heading in ("2. Utfallskontraktet", "3. Datatäckning", "4. Resultat per utfallsmått och kohort", "5. Metod",
                    "6. Beräkningen av utfallsbetalningar steg för steg", "7. Reproducerbarhet"):
        assert heading in whole
    assert "Fast jämförelsenivå: kohortens medelvärde" in whole and "Styrka (minsta påvisbara effekt)" in whole
    assert f"sida 1 av {page_count(pdf)}" in whole
    assert assert_every_page_renders(pdf, tmp_path) >= 3


def test_english_report_of_a_gbp_contract_has_matching_balance_and_trail(demo, tmp_path: Path) -> None:
    folder, rows, _ = demo
    row = rows["peterborough-reconviction"]
    pdf = folder / "sib-demo" / "peterborough-reconviction-report.pdf"
    text = pdf_text(pdf)
    assert "Independent evaluation report" in text
    assert plain(i18n.money(Decimal(row["payments_due"]), "GBP", "en")) in text  # e.g. GBP 2,404,006.20
    assert "Balance after matching" in text and "SMD after" in text
    assert "Abadie and Imbens (2006)" in text  # the methodology of the design actually used
    assert "Ledger hash chains and seals: intact" in text
    assert_every_page_renders(pdf, tmp_path)


def test_report_with_warnings_says_so_on_its_first_page(demo) -> None:
    folder, _, _ = demo
    first = pdf_text(folder / "sib-demo" / "hasselby-school-report.pdf", 1, 1)
    assert "Observera" in first and "varningar" in first


def test_charts_are_svg_with_text_in_the_html(demo) -> None:
    folder, _, _ = demo
    html = (folder / "sib-demo" / "hasselby-school-report.html").read_text(encoding="utf-8")
    import base64
    import re

    charts = re.findall(r'<img src="data:image/svg\+xml;base64,([^"]+)" alt="([^"]+)"', html)
    assert len(charts) >= 3
    svg = base64.b64decode(charts[0][0]).decode()
    assert svg.startswith("<svg") and "<text" in svg  # text stays text: searchable and readable aloud
    assert not re.search(r'(href|src)="https?:|url\(https?:', svg)  # nothing fetched from the network
    assert charts[0][1].startswith("Diagram: ")


# -- `sib report` ---------------------------------------------------------------------------------------------------

def test_english_on_request_and_status_of_ledger_entries(demo_copy, tmp_path: Path) -> None:
    _, sib = demo_copy
    token = json.loads(sib("users", "add", "Ekonom", "--role", "payer", "--party", "norrkoping", "--contract",
                           "norrkoping-foster-care", "--json").out)["token"]
    refused = sib("ledger", "approve", "norrkoping-foster-care", "1", "--token", token)
    assert refused.code == 1 and "not distinguishable from zero" in refused.err and (
        "612 of 1,000 participants (61.2%)" in refused.err)
    assert sib("ledger", "approve", "norrkoping-foster-care", "1", "--token", token, "--acknowledge",
               "ci_includes_zero", "--acknowledge", "missing_rule_share", "--reason", "committee minute 12").code == 0
    done = sib("report", "norrkoping-foster-care", "--lang", "en", "--out", tmp_path / "en.pdf")
    assert done.code == 0 and "in English" in done.out
    text = pdf_text(tmp_path / "en.pdf")
    assert "Independent evaluation report" in text and "SEK 6,500,000.00" in text
    first_page = " ".join(text[:text.index("1. Summary")].split())
    assert "SEK 6,500,000.00 owed under" in first_page and "rests on evidence that needs a reason to approve" in first_page
    assert "not distinguishable from zero" in first_page and "counted by the missing-data rule" in first_page
    ledger = text[text.index("Ledger status"):]
    assert "approved" in ledger and "By status: approved SEK" in ledger
    sv = sib("report", "norrkoping-foster-care", "--format", "html", "--out", tmp_path / "sv.html")
    assert sv.code == 0
    html = (tmp_path / "sv.html").read_text(encoding="utf-8")
    assert '<html lang="sv">' in html and "godkänd" in html and "6\u00a0500\u00a0000,00\u00a0kr" in html


def test_as_of_evaluates_first_and_reuses_an_unchanged_run(demo_copy, tmp_path: Path) -> None:
    _, sib = demo_copy
    runs_before = json.loads(sib("evaluate", "norrkoping-foster-care", "--as-of", "2020-06-30", "--json").out)["run"]
    done = sib("report", "norrkoping-foster-care", "--as-of", "2020-06-30", "--out", tmp_path / "r.html")
    assert done.code == 0 and f"evaluation run {runs_before} as of 2020-06-30" in done.out
    later = sib("report", "norrkoping-foster-care", "--as-of", "2019-12-31", "--out", tmp_path / "r2.html")
    assert later.code == 0 and "as of 2019-12-31" in later.out
    assert f"evaluation run {runs_before} " not in later.out  # a new run for a new day
    assert "utvärderat per 2019-12-31" in (tmp_path / "r2.html").read_text(encoding="utf-8")


def test_report_without_verified_data_says_so_plainly(sib, tmp_path: Path) -> None:
    assert sib("init").code == 0 and sib("keys", "init").code == 0
    assert sib("contract", "load", DATA / "minimal.yaml").code == 0
    people = "participant_id,start,school_year,sex\n" + "".join(
        f"P{i:03d},2020-02-01,5,{'female' if i % 2 else 'male'}\n" for i in range(12))
    (tmp_path / "people.csv").write_text(people)
    assert sib("ingest", "test-contract", tmp_path / "people.csv", "--kind", "participants").code == 0  # not verified
    done = sib("report", "test-contract", "--as-of", "2022-06-30", "--out", tmp_path / "empty.pdf")
    assert done.code == 0, done.err
    assert "inga verifierade mätningar" in done.out
    first = pdf_text(tmp_path / "empty.pdf", 1, 1)
    assert "Observera" in first and "Det finns inga verifierade mätningar ännu" in first
    assert "Inga resultat ännu." in first
    assert_every_page_renders(tmp_path / "empty.pdf", tmp_path)
    assert sib("report", "test-contract", "--format", "html", "--out", tmp_path / "empty.html").code == 0
    html = (tmp_path / "empty.html").read_text(encoding="utf-8")
    assert "<img" not in html and html.count("Inget diagram") == 2  # words instead of empty charts


@pytest.mark.parametrize("args, message", [
    (["--lang", "de"], "error: --lang 'de' is not available; expected sv or en"),
    (["--format", "docx"], "error: --format 'docx' is not allowed; expected pdf or html"),
    (["--as-of", "2022-13-01"], "error: --as-of '2022-13-01' is not a date"),
    (["--as-of", "2022-06-30", "--run", "1"], "error: give either --as-of or --run, not both"),
])
def test_report_mistakes_are_one_line_and_write_nothing(sib, tmp_path: Path, args: list[str], message: str) -> None:
    assert sib("init").code == 0
    assert sib("contract", "load", DATA / "minimal.yaml").code == 0
    done = sib("report", "test-contract", "--out", tmp_path / "r.pdf", *args)
    assert done.code != 0 and done.err.startswith(message) and done.err.count("\n") == 1
    assert not (tmp_path / "r.pdf").exists()


def test_report_before_any_run_says_what_to_do(sib, tmp_path: Path) -> None:
    assert sib("init").code == 0
    assert sib("contract", "load", DATA / "minimal.yaml").code == 0
    done = sib("report", "test-contract", "--out", tmp_path / "r.pdf")
    assert done.code == 1 and done.err == ("error: no evaluation run for 'test-contract'; give --as-of DATE to "
                                           "evaluate first, or run 'sib evaluate test-contract'\n")


def test_a_table_row_is_never_split_across_pages(demo) -> None:
    """Names wrap over lines where identifiers did not: each ledger row must still be read whole on one page
    (its mechanism's name beside its status and amount)."""
    folder, rows, _ = demo
    pdf = folder / "sib-demo" / "norrkoping-foster-care-report.pdf"
    pages = [pdf_text(pdf, n, n) for n in range(1, page_count(pdf) + 1)]
    ledger = [p for p in pages if "Huvudbokens status" in p]
    assert len(ledger) == 1
    status = ledger[0].split("Huvudbokens status", 1)[1]
    amount = plain(i18n.money(Decimal(rows["norrkoping-foster-care"]["payments_due"]), "SEK", "sv"))
    for word in ("Delade besparingar", "institutionsvård", "Norrköpings", "beräknad", amount):  # cells wrap: by word
        assert word in status, word
