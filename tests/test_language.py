"""One language layer: every word a user reads comes from the catalogues, and Swedish has every one of them.

Four kinds of check:

- the catalogues: the Swedish one translates every message id the code and templates use (extracted afresh
  with Babel, so a new sentence without a translation fails here), keeps every ``{place}`` of the English,
  and nothing in it is fuzzy;
- every message code (warnings, refusals, calculation trails, errors) renders in Swedish;
- every page, for every role, and every section of the report, rendered in Swedish (the three example
  contracts, and reports with each first-page notice): no message id falls back to English, no English
  sentence is left, and no identifier stands where a name belongs;
- the CLI and the API speak Swedish when asked, English by default.
"""

from __future__ import annotations

import json
import re
import shutil
import string
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any, Iterator

import pytest
import sqlalchemy as sa
from babel.messages.pofile import read_po
from fastapi.testclient import TestClient

import language
from language import TEXTS, Message, catalogue
from language.catalogue import po_path
from language.labels import LABELS
from language.words import from_accept_language, words
from store.tables import ImportBatchRow

SV = po_path("sv")


@pytest.fixture(autouse=True)
def fresh_record() -> Iterator[None]:
    catalogue.MISSING.clear()
    yield


def missing_sv() -> list[str]:
    return sorted((m for lang, m in catalogue.MISSING if lang == "sv"), key=str)


# -- the catalogues ---------------------------------------------------------------------------------------------------

def _key(message: Any) -> tuple:
    return (message.context, message.id if isinstance(message.id, str) else tuple(message.id))


def test_the_swedish_catalogue_has_every_message_id_of_the_code_and_no_other() -> None:
    from language.update import extract

    used = {_key(m) for m in extract() if m.id}
    with SV.open("rb") as fh:
        sv = read_po(fh, locale="sv")
    have = {_key(m) for m in sv if m.id}
    assert not used - have, f"not in sv.po (run python -m language.update, then translate): {sorted(used - have)[:5]}"
    assert not have - used, f"in sv.po but no longer used (run python -m language.update): {sorted(have - used)[:5]}"
    untranslated = [m.id for m in sv if m.id and (not m.string or (isinstance(m.string, tuple) and not all(m.string)))]
    assert untranslated == []
    assert [m.id for m in sv if m.id and m.fuzzy] == []


def _places(text: str) -> list[str]:
    return sorted(f"{name}:{spec}" for _, name, spec, _ in string.Formatter().parse(text) if name is not None)


def test_every_translation_keeps_the_places_of_the_english() -> None:
    with SV.open("rb") as fh:
        sv = read_po(fh, locale="sv")
    for m in sv:
        if not m.id:
            continue
        english = [m.id] if isinstance(m.id, str) else list(m.id)
        swedish = [m.string] if isinstance(m.string, str) else list(m.string)
        for source, target in zip(english * (len(swedish) // len(english)), swedish):
            assert _places(source) == _places(target), (source, target)


def test_the_field_s_swedish_terms_are_used() -> None:
    """The words of the field (and of ../shared/sources/000: finansiär, utförare, målgrupp, utfallsansvarig,
    intermediär; socialt utfallskontrakt) where the engine names the roles and the parts of a contract."""
    sv = words("sv")
    assert sv.label("role", "payer") == "utfallsansvarig" and sv.label("role", "investor") == "finansiär"
    assert sv.label("role", "provider") == "utförare" and sv.label("role", "intermediary") == "intermediär"
    for english, swedish in (("Eligibility criteria", "Urvalskriterier"), ("Outcome metric", "Utfallsmått"),
                             ("Outcome payer", "Utfallsbetalare"), ("Cohort", "Kohort"),
                             ("The outcomes contract", "Utfallskontraktet"), ("Payments", "Utfallsbetalningar"),
                             ("Investor", "Finansiär")):
        assert sv._(english) == swedish
    assert "Målgrupp" in sv._("Term {start} to {end}; currency {currency}. Target group: {target}.",
                              start="a", end="b", currency="SEK", target="t")
    text = SV.read_text(encoding="utf-8")
    assert "Behörighet\"" not in text and "betalare/investerare" not in text and "Socialt utfallskontrakt" in text


# -- every message code -----------------------------------------------------------------------------------------------

SAMPLES = {"money": "1234.5", "percent": "0.1", "signed_percent": 0.1, "p": 0.01, "day": "2025-07-31",
           "sig": 0.0336, "signed": 3, "exact": "0.120", "q": "x", "list": ["a", "b"],
           "semicolons": [{"code": "payments.no_entry", "params": {"seq": 1}}]}


def _sample(spec: str) -> Any:
    if spec.startswith("label."):
        return next(iter(LABELS[spec[6:]]))
    if spec.startswith("num"):
        return 1.5
    return SAMPLES.get(spec, 7)


def all_codes() -> dict[str, str]:
    import importlib

    for module in (*language.SOURCES, "store.db", "api.access", "api.http.errors", "api.reports.report"):
        importlib.import_module(module)
    return dict(TEXTS)


def test_every_message_code_renders_in_swedish() -> None:
    codes = all_codes()
    assert len(codes) > 150  # warnings, refusals, trails and errors of every package
    sv, en = words("sv"), words("en")
    same = []
    for code, template in codes.items():
        params = {name: _sample(spec) for _, name, spec, _ in string.Formatter().parse(template) if name}
        message = Message(code, params)
        swedish, english = sv.message(message), en.message(message)
        assert swedish and "{" not in swedish.replace("{n} {metric", ""), (code, swedish)
        if swedish == english:
            same.append(code)
    assert missing_sv() == []
    # Only messages made of names and numbers read the same in both languages.
    assert set(same) <= {"payments.count_of", "payments.price_of", "payments.several", "api.invalid",
                         "outcomes.rule_op", "evaluation.diff_inputs", "contracts.kind_value"}, same


def test_runs_and_ledger_bases_stored_before_codes_still_read(site, tmp_path: Path) -> None:
    """Warnings stored as English text (runs before messages had codes), and a ledger basis with an English
    explanation and the old names of caps: shown as written, beside everything else in Swedish."""
    from contracts.registry import get_contract
    from language.names import Names
    from store.db import open_store
    from store.tables import EvaluationRunRow

    shutil.copy(Path(str(site["engine"].url.database)), tmp_path / "sib.db")
    engine = open_store(f"sqlite:///{tmp_path / 'sib.db'}")
    with engine.begin() as conn:
        row = conn.execute(sa.select(EvaluationRunRow.id, EvaluationRunRow.results)
                           .where(EvaluationRunRow.contract_id == "hasselby-school")).all()[-1]
        results = dict(row.results)
        results["results"] = [dict(r, warnings=["only 3 participants with outcomes (as an old run wrote it)"])
                              for r in results["results"]]
        conn.execute(sa.update(EvaluationRunRow).where(EvaluationRunRow.id == row.id).values(results=results))
    html, _ = _report(engine, "hasselby-school", run_id=row.id)
    assert "only 3 participants with outcomes (as an old run wrote it)" in html
    assert "Resultaten har" in html  # the first page still counts them, in Swedish
    contract = get_contract(engine, "hasselby-school").latest.terms
    old = {"explanation": "197 outcomes paid for 197 participants", "payer_share": "0.6", "line_amount": "2758000",
           "caps": [{"cap": "per participant", "limit": "20000", "reduced_by": "400"}]}
    assert Names(contract, words("sv", "SEK")).calculation(old).replace("\u00a0", " ") == (
        "197 outcomes paid for 197 participants; taket per deltagare (20 000,00 kr) minskade beloppet med 400,00 kr; "
        "utfallsbetalarens andel 60,0 % av 2 758 000,00 kr")
    engine.dispose()


def test_text_stored_before_messages_had_codes_is_shown_as_written() -> None:
    sv = words("sv")
    assert sv.message("only 3 participants with outcomes") == "only 3 participants with outcomes"
    assert sv.message({"code": "evaluation.too_few", "params": {"n": 3, "min_n": 5}}) == \
        "bara 3 deltagare med utfall; kontraktets minimum för analys är 5"
    assert sv.message({"code": "from.a.later.engine", "params": {"n": 1}}) == "from.a.later.engine {'n': 1}"
    # parameters that do not fit the template (another version of the engine stored them) never fail a page
    assert sv.message({"code": "evaluation.too_few", "params": {"count": 3}}) == "evaluation.too_few {'count': 3}"
    assert sv.message({"code": "payments.cap_reduced", "params": {"cap": "x", "limit": "many", "by": "1"}}).startswith(
        "payments.cap_reduced")


def test_numbers_in_messages_follow_the_language() -> None:
    trail = Message("payments.threshold_reached", {"relative": "0.123", "threshold": "0.1", "price": "2000",
                                                   "improvement": "0.123000", "participants": 1200,
                                                   "amount": "295200.000000"})
    nbsp = "\u00a0"
    assert words("sv", "SEK").message(trail).replace(nbsp, " ") == (
        "relativ förbättring 12,3 % mot tröskeln 10,0 %: nådd; 2 000,00 kr per enhet × 0,123000 förbättring × "
        "1 200 deltagare = 295 200,00 kr")
    assert words("en", "SEK").message(trail).replace(nbsp, " ") == (
        "relative improvement 12.3% against threshold 10.0%: reached; SEK 2,000.00 per unit × 0.123000 improvement "
        "× 1,200 participants = SEK 295,200.00")
    assert words("sv").message(Message("evaluation.unknown_run", {"run": 2147483648})) == \
        "ingen utvärderingskörning 2147483648"  # an identifier is never grouped


# -- every page and every report section, in Swedish --------------------------------------------------------------------

ENGLISH = re.compile(r"\b(the|and|of|with|for|is|are|not|no|yet|to|by|per unit|participants?|payments?|entry|"
                     r"entries|contract|outcome|outcomes|evaluation|warning|warnings|ledger|cohort|investors?|"
                     r"payer|schedule|approved|rejected|calculated|paid|invoiced|monitoring|design|effect|"
                     r"counterfactual|baseline|comparison|treatment|control|mean|total|amount|version|reason)\b")


def visible(html: str) -> str:
    html = re.sub(r"<(style|script)[^>]*>.*?</\1>", " ", html, flags=re.S)
    html = re.sub(r'<a [^>]*lang="en"[^>]*>[^<]*</a>', " ", html)  # "English": the other language, in its own words
    html = re.sub(r'<img[^>]*alt="([^"]*)"[^>]*>', r" \1 ", html)
    html = re.sub(r"<svg.*?</svg>", " ", html, flags=re.S)
    text = re.sub(r"<[^>]+>", " ", html)
    for entity, char in (("&amp;", "&"), ("&lt;", "<"), ("&gt;", ">"), ("&#34;", '"'), ("&#39;", "'"),
                         ("&quot;", '"')):
        text = text.replace(entity, char)
    return " ".join(text.replace("\u00a0", " ").split())


def data_of(contract: Any) -> list[str]:
    """What a contract's author wrote (names, descriptions, reasons): data, in whatever language it was written."""
    out = [contract.id, contract.name, contract.description or "", contract.target_group.description]
    out += [p.name for p in contract.parties] + [c.name for c in contract.cohorts] + [m.name for m in contract.metrics]
    out += [a.label or "" for a in contract.target_group.attributes]
    out += [r.description or "" for r in contract.target_group.eligibility]
    out += [m.name or "" for m in contract.payments.mechanisms]
    return sorted((x for x in out if x), key=len, reverse=True)


def identifiers_of(contract: Any) -> set[str]:
    """What the store calls things, which a reader should never have to decode."""
    ids = {p.id for p in contract.parties} | {c.id for c in contract.cohorts} | {m.id for m in contract.metrics}
    ids |= {m.id for m in contract.payments.mechanisms} | {a.name for a in contract.target_group.attributes}
    ids |= {v for group in ("design", "mechanism", "status", "arm", "frequency", "missing") for v in LABELS[group]}
    return ids - {contract.id}


def assert_swedish(html: str, contract: Any, extra_data: tuple[str, ...] = ()) -> None:
    text = visible(html)
    for item in sorted((*data_of(contract), *extra_data), key=len, reverse=True):
        text = re.sub(r"(?<![\w-])" + re.escape(" ".join(item.split())) + r"(?![\w-])", " ", text)
    leftover = sorted(set(m.group(0) for m in ENGLISH.finditer(text)))
    assert leftover == [], f"English in a Swedish page: {leftover} … {text[:300]}"
    raw = sorted(i for i in identifiers_of(contract) if re.search(r"(?<![\w/-])" + re.escape(i) + r"(?![\w-])", text))
    assert raw == [], f"identifiers where names belong: {raw}"
    assert missing_sv() == []


# Things shown as they are on purpose: command lines, fingerprints and code versions, statistics' own names.
VERBATIM = (r"`sib evaluate [^`]*`", r"\(sib [^)]*\)", r"[0-9a-f]{12,}", r"\d+\.\d+\.\d+\+g[0-9a-f]+",
            r"evaluation\.planning_sd", r"SHA-256", r"HC2", r"OLS", r"Abadie och Imbens \(2006\)", r"Lin, 2013",
            r"Welchs", r"Wilsonintervall", r"SMD", r"P10–P90", r"P50", r"UTC", r"demo:intermediary",
            r"cli:\S+", r"api:\S+", r"Government Outcomes Lab, University of Oxford")


def strip_verbatim(html: str) -> str:
    for pattern in VERBATIM:
        html = re.sub(pattern, " ", html)
    return html


@pytest.fixture(scope="module")
def site(demo, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The demo's store (copied), with a user of each role on every contract."""
    from api.access import add_user
    from api.http import create_app
    from contracts.registry import get_contract, list_contracts
    from store.db import open_store

    folder = tmp_path_factory.mktemp("language")
    shutil.copy(demo[0] / "sib-demo" / "sib.db", folder / "sib.db")
    engine = open_store(f"sqlite:///{folder / 'sib.db'}")
    ids = [c["id"] for c in list_contracts(engine)]
    from outcomes.ingest import IngestRefused, ingest_file
    from outcomes.pseudonym import load_key

    bad = folder / "elever.csv"  # a refused delivery, so the work page shows why in Swedish
    bad.write_text("participant_id,start,school_year,sex,risk_level\nX1,2021-09-01,11,female,high\n"
                   "X2,2021-13-01,5,unknown,high\n", encoding="utf-8")
    with pytest.raises(IngestRefused):
        ingest_file(engine, get_contract(engine, "hasselby-school").latest.terms, bad, "participants",
                    load_key(demo[0] / "sib-demo" / "sib.key"))
    people = {"intermediary": "Ingrid", "investor": "Ivar", "payer": "Petra", "provider": "Pelle"}
    tokens = {role: add_user(engine, name, role, ids, party={"payer": "district", "provider": "family-team"}.get(role))
              for role, name in people.items()}
    with engine.connect() as conn:  # file names are the deliverer's words
        files = tuple(conn.execute(sa.select(ImportBatchRow.filename)).scalars())
    files += ("elever.csv", "participant_id", "start", "school_year", "sex")  # the refused file's own name and columns
    return {"engine": engine, "app": create_app(engine), "tokens": tokens, "ids": ids, "files": files,
            "contracts": {i: get_contract(engine, i).latest.terms for i in ids}}


def page(site: dict[str, Any], role: str, path: str) -> str:
    from tests.test_pages import log_in

    client = TestClient(site["app"])
    log_in(client, site["tokens"][role])
    got = client.get(path)
    assert got.status_code in (200, 403, 404), (path, got.status_code)
    return got.text


@pytest.mark.parametrize("contract_id", ["hasselby-school", "norrkoping-foster-care", "peterborough-reconviction"])
def test_every_page_for_every_role_is_swedish_with_names(site, contract_id: str) -> None:
    contract = site["contracts"][contract_id]
    seen = 0
    for role, pages in (("intermediary", ("dashboard", "schedule", "work")), ("investor", ("dashboard",)),
                        ("payer", ("schedule",))):
        for name in pages:
            html = page(site, role, f"/contracts/{contract_id}/{name}?lang=sv")
            assert '<html lang="sv">' in html
            assert_swedish(strip_verbatim(html), contract, site["files"])
            seen += 1
        html = page(site, role, "/contracts?lang=sv")
        assert_swedish(strip_verbatim(html), contract, tuple(c.name for c in site["contracts"].values()))
    if contract_id == "hasselby-school":
        work = page(site, "intermediary", f"/contracts/{contract_id}/work?lang=sv")
        assert "uppfyller inte urvalskriterierna: 11 klarar inte regeln" in work  # a stored refusal, in Swedish
        assert "”2021-13-01” är inget datum; förväntat ÅÅÅÅ-MM-DD eller ÅÅÅÅMMDD" in work
    forbidden = page(site, "investor", f"/contracts/{contract_id}/work?lang=sv")
    assert "Rollen finansiär har inte den här sidan." in forbidden
    assert_swedish(strip_verbatim(forbidden), contract)
    unknown = page(site, "investor", "/contracts/nope/dashboard?lang=sv")
    assert "Det finns inget kontrakt ”nope” som du har tillgång till." in unknown
    login = TestClient(site["app"]).get("/login?lang=sv").text
    assert_swedish(strip_verbatim(login), contract)
    assert seen == 5


def _report(engine: Any, contract_id: str, **kwargs: Any) -> tuple[str, Any]:
    from api.reports.report import build_report, render_html

    doc = build_report(engine, contract_id, lang="sv", **kwargs)
    return render_html(doc), doc["contract"]


@pytest.mark.parametrize("contract_id", ["hasselby-school", "norrkoping-foster-care", "peterborough-reconviction"])
def test_every_report_section_is_swedish_with_names(site, contract_id: str) -> None:
    html, contract = _report(site["engine"], contract_id)
    for n, heading in enumerate(("Sammanfattning", "Utfallskontraktet", "Datatäckning", "Resultat per utfallsmått",
                                 "Metod", "Beräkningen av utfallsbetalningar", "Reproducerbarhet"), start=1):
        assert f"{n}. {heading}" in html
    assert_swedish(strip_verbatim(html), contract)


def test_the_report_s_notices_are_swedish(site, tmp_path: Path) -> None:
    """Interim view, a broken ledger chain, warnings: each said on page one, in Swedish."""
    from contracts.registry import get_contract
    from evaluation.run import evaluate
    from store.db import open_store
    from store.tables import LedgerEntryRow

    shutil.copy(Path(str(site["engine"].url.database)), tmp_path / "sib.db")
    engine = open_store(f"sqlite:///{tmp_path / 'sib.db'}")
    stored = get_contract(engine, "hasselby-school")
    run = evaluate(engine, stored, date(2025, 6, 30), include_unverified=True)
    with engine.begin() as conn:  # someone with write access changes an amount
        conn.execute(sa.update(LedgerEntryRow).where(LedgerEntryRow.contract_id == "hasselby-school",
                                                     LedgerEntryRow.seq == 1).values(amount=Decimal(1)))
    html, contract = _report(engine, "hasselby-school", run_id=run.id)
    assert "Delrapport: utvärderingen innehåller mätningar som inte är verifierade" in html
    assert "Huvudboken håller INTE vid kontroll: innehållet i post 1 stämmer inte med dess hash" in html
    assert "varningar; de står under varje utfallsmått i avsnitt 4" in html
    assert_swedish(strip_verbatim(html), contract)
    engine.dispose()


def test_a_report_without_data_says_so_in_swedish(engine, tmp_path: Path) -> None:
    from evaluation.run import evaluate
    from tests.helpers import stored_minimal

    stored = stored_minimal(engine)
    evaluate(engine, stored, date(2022, 6, 30))
    html, contract = _report(engine, stored.id)
    assert "Det finns inga verifierade mätningar ännu" in html
    assert_swedish(strip_verbatim(html), contract)


# -- the CLI and the API ------------------------------------------------------------------------------------------------

def test_the_cli_speaks_swedish_when_asked(demo_copy, monkeypatch: pytest.MonkeyPatch) -> None:
    folder, sib = demo_copy
    monkeypatch.setenv("SIB_LANG", "sv")
    bad = folder / "fel.yaml"
    bad.write_text((Path(__file__).parent / "data" / "minimal.yaml").read_text(encoding="utf-8")
                   .replace("currency: SEK", "currency: X").replace("kind: rate", "kind: ratio"), encoding="utf-8")
    refused = sib("contract", "validate", bad)
    assert refused.code == 1 and refused.err.splitlines() == [
        f"{bad}:4: currency: 'X' är ingen valutakod enligt ISO 4217; förväntat tre versaler som SEK",
        f"{bad}:25: metrics[0].kind: 'ratio' är inte tillåtet; förväntat ett av: binary, rate, count, continuous, "
        "ordinal, time_to_event"]
    shown = sib("ledger", "show", "hasselby-school")
    assert shown.code == 0 and "utfallsbetalare" in shown.out and "beräknad" in shown.out
    verified = sib("ledger", "verify", "hasselby-school")
    assert "Huvudboken för 'hasselby-school' håller" in verified.out
    anonymous = sib("ledger", "pay", "hasselby-school", "1")
    assert anonymous.code == 1 and anonymous.err.startswith("fel: ett steg i huvudboken tas av en användare: ange din "
                                                            "användartoken med --token eller SIB_TOKEN")
    token = json.loads(sib("users", "add", "Petra", "--role", "payer", "--party", "district", "--contract",
                           "hasselby-school", "--json").out)["token"]
    wrong = sib("ledger", "pay", "hasselby-school", "1", "--token", token)
    assert wrong.code == 1 and wrong.err.startswith("fel: inget ändrades: post 1 är beräknad; den kan bli godkänd "
                                                    "eller avvisad, inte betald")
    assert sib("evaluate", "nope").err == \
        "fel: det finns inget kontrakt 'nope' i databasen; 'sib contract list' visar de inlästa\n"
    listed = json.loads(sib("ledger", "show", "hasselby-school", "--json").out)
    assert listed["entries"][0]["calculation"].startswith("betalda utfall:")  # --json keys stay, words follow
    assert missing_sv() == []
    monkeypatch.setenv("SIB_LANG", "en")
    assert "outcome payer" in sib("ledger", "show", "hasselby-school").out


def test_the_locale_chooses_the_cli_language(monkeypatch: pytest.MonkeyPatch) -> None:
    from language.words import from_environment

    monkeypatch.delenv("SIB_LANG", raising=False)
    for name in ("LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG"):
        monkeypatch.delenv(name, raising=False)
    assert from_environment() == "en"
    monkeypatch.setenv("LANG", "sv_SE.UTF-8")
    assert from_environment() == "sv"
    monkeypatch.setenv("LC_ALL", "C.UTF-8")
    assert from_environment() == "en"  # LC_ALL overrides LANG
    monkeypatch.setenv("SIB_LANG", "sv")
    assert from_environment() == "sv"


def test_accept_language_picks_the_api_language() -> None:
    assert from_accept_language(None) == "en"
    assert from_accept_language("sv-SE,sv;q=0.9,en;q=0.5") == "sv"
    assert from_accept_language("de, en;q=0.3, sv;q=0.7") == "sv"
    assert from_accept_language("sv;q=0, en") == "en"
    assert from_accept_language("fr") == "en"


def test_api_errors_and_warnings_follow_accept_language(site) -> None:
    client = TestClient(site["app"])
    bearer = {"Authorization": f"Bearer {site['tokens']['investor']}"}
    sv = client.get("/api/v1/contracts/nope", headers=bearer | {"Accept-Language": "sv"})
    assert sv.status_code == 404 and sv.headers["content-language"] == "sv"
    assert sv.json()["error"] == {"status": 404, "code": "not_found", "message": "inget kontrakt 'nope'",
                                  "details": None}
    en = client.get("/api/v1/contracts/nope", headers=bearer)
    assert en.json()["error"]["message"] == "no contract 'nope'" and en.headers["content-language"] == "en"
    forbidden = client.get("/api/v1/contracts/hasselby-school/ledger", headers=bearer | {"Accept-Language": "sv"})
    assert forbidden.json()["error"]["message"] == "en finansiär får inte göra detta (ledger.read)"
    bearer = {"Authorization": f"Bearer {site['tokens']['intermediary']}"}
    runs = client.get("/api/v1/contracts/hasselby-school/evaluations", headers=bearer).json()["items"]
    run = client.get(f"/api/v1/contracts/hasselby-school/evaluations/{runs[-1]['run']}",
                     headers=bearer | {"Accept-Language": "sv"}).json()
    warning = next(w for r in run["results"] for w in r["warnings"] if w["code"] == "evaluation.monitoring_only")
    assert warning == {"code": "evaluation.monitoring_only", "params": {},
                       "text": "endast uppföljning: designen har ingen jämförelse, så siffran är ingen effekt"}


def test_an_id_missing_from_the_swedish_catalogue_is_shown_in_english_and_recorded() -> None:
    sv = words("sv")
    assert sv._("A sentence nobody translated") == "A sentence nobody translated"
    assert sv.pgettext("status", "a status nobody translated") == "a status nobody translated"
    assert sv.ngettext("{n} thing", "{n} things", 2) == "2 things"
    assert missing_sv() == ["A sentence nobody translated", "status|a status nobody translated", "{n} thing"]
    words("en")._("Another untranslated sentence")
    assert len(missing_sv()) == 3  # English is the source language: nothing is missing from it


def test_the_excel_download_speaks_the_request_s_language(site) -> None:
    import io

    import openpyxl

    client = TestClient(site["app"])
    bearer = {"Authorization": f"Bearer {site['tokens']['intermediary']}"}
    path = "/api/v1/contracts/hasselby-school/exports/schedule.xlsx"
    calculation = {}
    for lang in ("sv", "en"):
        said = words(lang, "SEK")
        got = client.get(path, headers=bearer | {"Accept-Language": lang})
        assert got.headers["content-language"] == lang
        book = openpyxl.load_workbook(io.BytesIO(got.content))
        assert book.sheetnames == [said.pgettext("sheet", s) for s in ("Schedule", "Entries", "Approval trail")]
        sheet = book.worksheets[1]
        header = [c.value for c in sheet[1]]  # headers in the reader's language
        assert said.pgettext("column", "Caps applied") in header
        calculation[lang] = sheet.cell(row=2, column=header.index(said.pgettext("column", "Calculation")) + 1).value
    assert calculation["sv"].startswith("betalda utfall: ") and "Andel skoldagar med närvaro" in calculation["sv"]
    assert calculation["en"].startswith("outcomes paid: ")
    # without Accept-Language: the report's language, Swedish for a contract in SEK
    assert client.get(path, headers=bearer).headers["content-language"] == "sv"
    assert missing_sv() == []


def test_a_catalogue_edited_after_the_build_is_read_from_its_po(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                                                 ) -> None:
    """A checkout whose .po was just edited (its .mo missing or older) is not shown stale words."""
    folder = tmp_path / "sv" / "LC_MESSAGES"
    folder.mkdir(parents=True)
    po = folder / "sib.po"
    po.write_text('msgid ""\nmsgstr ""\n"Content-Type: text/plain; charset=utf-8\\n"\n\n'
                  'msgid "Ledger"\nmsgstr "Huvudboken, nyss ändrad"\n', encoding="utf-8")
    monkeypatch.setattr(catalogue, "LOCALE_DIR", tmp_path)
    catalogue.translations.cache_clear()
    try:
        assert catalogue.translations("sv").gettext("Ledger") == "Huvudboken, nyss ändrad"
        mo = po.with_suffix(".mo")
        mo.write_bytes(b"")  # a compiled catalogue older than its source is passed over
        import os

        os.utime(mo, (po.stat().st_mtime - 60, po.stat().st_mtime - 60))
        catalogue.translations.cache_clear()
        assert catalogue.translations("sv").gettext("Ledger") == "Huvudboken, nyss ändrad"
    finally:
        monkeypatch.undo()
        catalogue.translations.cache_clear()
