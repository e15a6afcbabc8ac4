"""INDIGO: reading the real (messy) tables, storing reference projects, export to the schema, market comparison.

The data under tests/data/indigo/ is a slice of the INDIGO dataset (and, under full/, the whole of it):
open data from the Government Outcomes Lab, Blavatnik School of Government, University of Oxford;
see tests/data/indigo/CREDIT.md for which projects and why.
"""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from contracts import load_contract_file
from contracts.registry import list_contracts, store_contract
from examples.synthetic import CONTRACT_FILES
from indigo import CREDIT
from indigo import values as v
from indigo.compare import compare
from indigo.export import dumps, export_project, loads, prices, read_document, unknown_keys, validation_errors
from indigo.importer import DOCUMENT, load_reference, reference_counts, store_dataset, stored_refusals
from indigo.sectors import contract_sectors
from indigo.tables import read_dataset
from store.tables import AuditEventRow

DATA = Path(__file__).parent / "data" / "indigo"
FULL = DATA / "full"
C = "projects_outcome_payment_commitments"
MAX = "Maximum potential Outcome payment - Amount - (Value)"
PAID = "Total outcome payments made - Amount - (Value)"
ENGAGED = "Number engaged In impact bond - (Value)"

# Every unreadable value in the slice: (project, table, field, value, kind).
SLICE_REFUSALS = sorted([
    ("INDIGO-POJ-0119", "projects_outcome_metrics",
     "Targeted number of service users Or beneficiaries (total) - (Value)", "3000 (later revised  to 944)", "free_text"),
    *[("INDIGO-POJ-0001", "projects_results", "Period - Start - (Value)", f"2018-{m}", "bad_month") for m in (13, 14, 15, 16)],
    *[("INDIGO-POJ-0003", "projects_results", ENGAGED, "303 children and their families", "free_text")] * 3,
    ("INDIGO-POJ-0091", "projects_results", ENGAGED, "285 (up to 30/6/18)", "free_text"),
    ("INDIGO-POJ-0304", "projects_results", "Number with Positive social outcomes - (Value)", "0.46", "not_whole"),
    ("INDIGO-POJ-0004", C, MAX, "=D41-D36", "formula"),
    ("INDIGO-POJ-0017", C, MAX, "C$1.16M (estimate)", "free_text"),
    ("INDIGO-POJ-0045", C, MAX, "€", "no_number"),
    ("INDIGO-POJ-0059", C, MAX, "=M33", "formula"),
    ("INDIGO-POJ-0059", C, PAID, "=U33", "formula"),
    ("INDIGO-POJ-0078", C, MAX, "CHF 290.000", "ambiguous_separator"),
    ("INDIGO-POJ-0091", C, MAX, "$5,290,000 (housing stability); $6,130,000 (jail day reduction)", "several_values"),
    ("INDIGO-POJ-0091", C, PAID, "$1,020,000 (interim results)", "free_text"),
])


@pytest.fixture(scope="module")
def sliced():
    return read_dataset(DATA)


# -- single values ------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("text, expected", [
    ("$10,000,000", Decimal(10_000_000)), ("C$4,000,000", Decimal(4_000_000)), ("C$1.3M", Decimal(1_300_000)),
    ("¥9.76 million", Decimal(9_760_000)), ("68,000,000 rubles", Decimal(68_000_000)),
    ("$11.712M", Decimal(11_712_000)), ("1028926", Decimal(1_028_926)), ("250.50", Decimal("250.50")), ("", None),
])
def test_amounts_read_where_they_have_one_meaning(text: str, expected: Decimal | None) -> None:
    got = v.parse_amount(text)
    assert got == expected and (got is None or isinstance(got, Decimal))


@pytest.mark.parametrize("text, kind", [
    ("=D41-D36", "formula"), ("€", "no_number"), ("$", "no_number"), ("C$1.16M (estimate)", "free_text"),
    ("CHF 290.000", "ambiguous_separator"), ("$5,290,000 (housing stability); $6,130,000 (jail day reduction)",
                                             "several_values"),
    ("1,000,000 - 2,000,000", "range"), ("£1,000,000 – £2,000,000", "range"),
])
def test_amounts_without_one_meaning_are_refused(text: str, kind: str) -> None:
    with pytest.raises(v.Unreadable) as refused:
        v.parse_amount(text)
    assert refused.value.kind == kind


def test_dates_counts_and_currencies() -> None:
    assert v.parse_date("2018") == "2018" and v.parse_date("2018-05") == "2018-05"
    assert v.parse_date("2020-02-29") == "2020-02-29"
    for text, kind in (("2018-13", "bad_month"), ("2019-02-29", "bad_date"), ("May 2018", "not_a_date")):
        with pytest.raises(v.Unreadable) as refused:
            v.parse_date(text)
        assert refused.value.kind == kind
    assert v.parse_count("1,200") == 1200
    for text, kind in (("303 children and their families", "free_text"), ("0.46", "not_whole"), ("10-20", "range")):
        with pytest.raises(v.Unreadable) as refused:
            v.parse_count(text)
        assert refused.value.kind == kind
    assert [v.parse_currency(t) for t in ("GBP ", "Swedish", "Russian Ruble", "Swiss Francs", "NZ dollar")] == [
        "GBP", "SEK", "RUB", "CHF", "NZD"]
    with pytest.raises(v.Unreadable):
        v.parse_currency("Martian credits")


# -- the tables -----------------------------------------------------------------------------------------------------

def test_each_table_of_the_slice_is_read(sliced) -> None:
    assert sliced.counts() == {"projects": 15, "outcome_metrics": 65, "outcome_pricings": 37, "outcome_payments": 24,
                               "results": 40, "investments": 54, "outcome_payment_commitments": 28,
                               "organisations": 80, "refused": 18}
    projects = {p["id"]: p for p in sliced.projects}
    peterborough = projects["INDIGO-POJ-0153"]
    assert peterborough["name"].startswith("HMP Peterborough") and peterborough["policy_sector"] == "Criminal justice"
    assert peterborough["country"] == "GB"
    assert projects["INDIGO-POJ-0077"]["investment_currency"] == "SEK"  # written "Swedish"
    assert projects["INDIGO-POJ-0078"]["investment_currency"] == "CHF"  # written "Swiss Francs"
    commitments = {(c["project_id"], c["organisation_id"]): c for c in sliced.outcome_payment_commitments}
    assert any(c["max_amount"] == Decimal(10_000_000) for k, c in commitments.items() if k[0] == "INDIGO-POJ-0014")
    assert any(c["max_amount"] == Decimal(68_000_000) for k, c in commitments.items() if k[0] == "INDIGO-POJ-0079")
    pricing = next(p for p in sliced.outcome_pricings if p["project_id"] == "INDIGO-POJ-0001")
    assert pricing["currency"] == "ARS" and isinstance(pricing["price"], Decimal) and pricing["metric_id"]
    payment = next(p for p in sliced.outcome_payments if p["project_id"] == "INDIGO-POJ-0121")
    assert payment["currency"] == "GBP" and isinstance(payment["amount"], Decimal) and payment["type"] in ("Planned", "Actual")
    assert all(isinstance(i["amount"], Decimal) for i in sliced.investments if i["amount"] is not None)
    result = next(r for r in sliced.results if r["project_id"] == "INDIGO-POJ-0153")
    assert (result["metric_id"], result["number_engaged"], result["type"]) == ("outcomemetric1", 1802, None)
    final = next(r for r in sliced.results if r["project_id"] == "INDIGO-POJ-0001")
    assert final["type"] in ("Interim", "Final") and final["level"] == "Outcome level"
    metric = next(m for m in sliced.outcome_metrics if m["project_id"] == "INDIGO-POJ-0153")
    assert "reoffending" in metric["definition"].lower()
    assert all(o["name"] for o in sliced.organisations)


def test_every_unreadable_value_is_refused_with_where_and_what(sliced) -> None:
    got = sorted((r.project_id, r.table, r.field, r.value, r.kind) for r in sliced.refusals)
    assert got == SLICE_REFUSALS
    assert all(r.reason for r in sliced.refusals)


def test_the_rest_of_a_project_with_refused_values_is_imported(sliced) -> None:
    bad_months = [r for r in sliced.results if r["project_id"] == "INDIGO-POJ-0001" and r["period_start"] is None]
    assert len(bad_months) == 4
    assert all(r["period_end"] and r["metric_id"] and r["outcomes_achieved"] for r in bad_months)
    several = [c for c in sliced.outcome_payment_commitments if c["project_id"] == "INDIGO-POJ-0091"]
    assert several and several[0]["max_amount"] is None and several[0]["organisation_id"]
    assert any(p["id"] == "INDIGO-POJ-0091" for p in sliced.projects)
    assert len([m for m in sliced.outcome_metrics if m["project_id"] == "INDIGO-POJ-0119"]) >= 1


def test_a_folder_that_is_not_a_dataset(tmp_path: Path) -> None:
    from indigo.tables import DatasetError

    with pytest.raises(DatasetError, match="has no projects.csv"):
        read_dataset(tmp_path)
    with pytest.raises(DatasetError, match="no folder"):
        read_dataset(tmp_path / "missing")


# -- the store ----------------------------------------------------------------------------------------------------------

def test_import_stores_reference_projects_once_apart_from_contracts(engine, sliced) -> None:
    first = store_dataset(engine, sliced)
    counts = reference_counts(engine)
    again = store_dataset(engine, read_dataset(DATA))
    assert first == again
    assert reference_counts(engine) == counts == {
        "projects": 15, "outcome_metrics": 65, "outcome_pricings": 37, "outcome_payments": 24, "results": 40,
        "investments": 54, "outcome_payment_commitments": 28, "organisations": 80, "refusals": 18}
    assert list_contracts(engine) == []
    stored = load_reference(engine, ["INDIGO-POJ-0014"])["INDIGO-POJ-0014"]
    assert Decimal(10_000_000) in [c["max_amount"] for c in stored["outcome_payment_commitments"]]
    assert sorted((r["project_id"], r["table_name"], r["field"], r["value"], r["kind"])
                  for r in stored_refusals(engine)) == SLICE_REFUSALS
    with engine.connect() as conn:
        events = conn.execute(sa.select(AuditEventRow.detail).where(AuditEventRow.action == "indigo.import")).scalars().all()
    assert len(events) == 2 and events[0]["projects"] == 15 and events[0]["refused"] == 18


def test_the_whole_dataset_imports(engine) -> None:
    data = read_dataset(FULL)
    summary = store_dataset(engine, data)
    assert (summary.projects, summary.metrics, summary.prices, summary.payments) == (319, 1408, 385, 2232)
    assert (summary.results, summary.investments, summary.commitments, summary.organisations) == (518, 1080, 666, 1549)
    assert summary.refused == 64
    assert summary.refused_by_kind == {"ambiguous_separator": 1, "bad_month": 4, "formula": 3, "free_text": 11,
                                       "no_number": 43, "not_whole": 1, "several_values": 1}
    assert reference_counts(engine)["projects"] == 319


# -- export ---------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("contract_id", sorted(CONTRACT_FILES))
def test_export_validates_and_round_trips(engine, contract_id: str) -> None:
    contract = load_contract_file(CONTRACT_FILES[contract_id]).versions[-1].terms
    doc = export_project(contract, today=date(2024, 1, 1))
    assert validation_errors(doc) == [] and unknown_keys(doc) == []
    text = dumps(doc)
    back = loads(text)
    assert validation_errors(back) == []
    data = read_document(back)
    assert data.refusals == []
    store_dataset(engine, data, DOCUMENT)
    stored = load_reference(engine)[contract.id]
    assert stored["source"] == DOCUMENT and stored["name"] == contract.name
    assert stored["currency"] == contract.currency
    assert (stored["start_date"], stored["end_date"]) == (contract.term.start.isoformat(), contract.term.end.isoformat())
    assert [(m["metric_id"], m["definition"]) for m in stored["outcome_metrics"]] == [(m.id, m.name) for m in contract.metrics]
    assert [(p["metric_id"], p["price"], p["max_price"], p["currency"]) for p in stored["outcome_pricings"]] == [
        (metric, price, cap, contract.currency) for metric, price, cap, _ in prices(contract)]
    assert stored["max_outcome_payment"] == contract.payments.caps.total
    assert stored["investment"] == contract.investment.principal
    assert sum(c["max_amount"] for c in stored["outcome_payment_commitments"]) == contract.payments.caps.total
    assert list_contracts(engine) == []  # a reference project, never a contract


def test_the_schema_is_enforced() -> None:
    contract = load_contract_file(CONTRACT_FILES["hasselby-school"]).versions[-1].terms
    doc = export_project(contract)
    doc["outcome_pricings"][0]["price_per_unit"]["amount"]["value"] = "14000"  # a string where INDIGO wants a number
    doc["dates"]["start_date_of_service_provision"]["value"] = "2021-8-1"
    doc["outcome_metrics"][0]["definiton"] = {"value": "typo"}
    errors = validation_errors(doc)
    assert any("price_per_unit/amount/value" in e for e in errors) and any("start_date_of_service_provision" in e for e in errors)
    assert unknown_keys(doc) == ["/outcome_metrics/0/definiton"]


def test_amounts_are_written_exactly() -> None:
    assert dumps({"a": Decimal("0.10"), "b": Decimal(6_000_000)}) == '{\n  "a": 0.10,\n  "b": 6000000\n}'
    assert loads('{"a": 0.10}') == {"a": Decimal("0.10")}


# -- compare --------------------------------------------------------------------------------------------------------

def test_sectors_from_the_contract_words() -> None:
    sectors = {cid: contract_sectors(load_contract_file(path).versions[-1].terms)[0] for cid, path in CONTRACT_FILES.items()}
    assert sectors == {"hasselby-school": "Education", "norrkoping-foster-care": "Child and family welfare",
                       "peterborough-reconviction": "Criminal justice", "gotland-family-team": "Child and family welfare"}


def test_compare_ranks_a_sector_and_outcome_match_first(engine, sliced) -> None:
    store_dataset(engine, sliced)
    projects = load_reference(engine)
    peterborough = load_contract_file(CONTRACT_FILES["peterborough-reconviction"]).versions[-1].terms
    found = compare(peterborough, projects, 5)
    assert found[0].project_id == "INDIGO-POJ-0153" and found[0].policy_sector == "Criminal justice"
    assert found[0].match.our_metric == "reconviction-events" and found[0].match.our_price == Decimal(20000)
    assert "reoffending" in found[0].match.their_definition.lower()
    assert [c.score for c in found] == sorted((c.score for c in found), reverse=True)
    school = load_contract_file(CONTRACT_FILES["hasselby-school"]).versions[-1].terms
    assert compare(school, projects, 1)[0].policy_sector == "Education"
    foster = load_contract_file(CONTRACT_FILES["norrkoping-foster-care"]).versions[-1].terms
    assert len(compare(foster, projects, 2)) == 2 and len(compare(foster, projects, 15)) > 2
    assert compare(foster, projects, 1)[0].policy_sector == "Child and family welfare"


# -- the CLI ----------------------------------------------------------------------------------------------------------

def test_cli_import_compare_export(sib, tmp_path: Path) -> None:
    assert sib("init").code == 0
    assert sib("contract", "load", CONTRACT_FILES["peterborough-reconviction"]).code == 0
    done = sib("indigo", "import", DATA)
    assert done.code == 0, done.err
    assert "Imported 15 INDIGO projects" in done.out and "65 outcome metrics, 37 prices, 24 payments" in done.out
    assert "18 values could not be read" in done.out and "bad_month 4" in done.out and "2018-13" in done.out
    assert CREDIT in done.out
    as_json = json.loads(sib("indigo", "import", DATA, "--json").out)
    assert (as_json["projects"], as_json["refused"], as_json["credit"]) == (15, 18, CREDIT)
    assert {"project_id": "INDIGO-POJ-0004", "table": C, "field": MAX, "value": "=D41-D36", "kind": "formula",
            "reason": "a spreadsheet formula, not a value", "row": 5} in as_json["refusals"]
    assert json.loads(sib("contract", "list", "--json").out)["contracts"][0]["id"] == "peterborough-reconviction"
    assert len(json.loads(sib("contract", "list", "--json").out)["contracts"]) == 1
    shown = sib("indigo", "compare", "peterborough-reconviction", "--limit", "3")
    assert shown.code == 0 and "INDIGO-POJ-0153" in shown.out and CREDIT in shown.out
    data = json.loads(sib("indigo", "compare", "peterborough-reconviction", "--json", "--limit", "3").out)
    assert data["credit"] == CREDIT and data["projects"][0]["project_id"] == "INDIGO-POJ-0153"
    assert data["sectors"] == ["Criminal justice"] and data["projects"][0]["match"]["our_price"] == "20000"
    assert data["our_prices"][0] == {"metric": "reconviction-events", "price": "20000", "cap": "8000000",
                                     "mechanism": "reconviction-reduction: per unit of improvement against the comparison group"}
    exported = sib("indigo", "export", "peterborough-reconviction")
    assert exported.code == 0 and validation_errors(loads(exported.out)) == []
    target = tmp_path / "p.json"
    assert sib("indigo", "export", "peterborough-reconviction", "--out", target).code == 0
    assert loads(target.read_text())["id"] == "peterborough-reconviction"
    back = sib("indigo", "import", target)
    assert back.code == 0 and "Imported 1 INDIGO project " in back.out


def test_cli_one_line_errors(sib, tmp_path: Path) -> None:
    sib("init")
    for args, message in ((("indigo", "export", "nope"), "error: no contract 'nope' in the store"),
                          (("indigo", "compare", "nope"), "error: no contract 'nope' in the store"),
                          (("indigo", "import", tmp_path / "missing"), "error: no folder or file"),
                          (("indigo", "import", tmp_path), "is not an INDIGO dataset: it has no projects.csv")):
        done = sib(*args)
        assert done.code == 1 and message in done.err and "Traceback" not in done.err and len(done.err.splitlines()) == 1
    sib("contract", "load", CONTRACT_FILES["hasselby-school"])
    empty = sib("indigo", "compare", "hasselby-school")
    assert empty.code == 1 and "import the dataset first" in empty.err
    (tmp_path / "bad.json").write_text("{not json")
    bad = sib("indigo", "import", tmp_path / "bad.json")
    assert bad.code == 1 and "is not an INDIGO project document" in bad.err


# -- API and page ---------------------------------------------------------------------------------------------------

def test_api_and_work_page_show_the_market_with_the_credit(engine, sliced) -> None:
    from api.access import add_user
    from api.http import create_app
    from tests.test_pages import log_in

    store_contract(engine, load_contract_file(CONTRACT_FILES["peterborough-reconviction"]))
    store_dataset(engine, sliced)
    tokens = {role: add_user(engine, role, role, ["peterborough-reconviction"],
                             party="justice-ministry" if role == "payer" else None) for role in ("intermediary", "payer")}
    client = TestClient(create_app(engine))
    path = "/api/v1/contracts/peterborough-reconviction/indigo/compare?limit=1"
    got = client.get(path, headers={"Authorization": f"Bearer {tokens['intermediary']}"})
    assert got.status_code == 200
    assert got.json()["credit"] == CREDIT and got.json()["projects"][0]["project_id"] == "INDIGO-POJ-0153"
    assert len(got.json()["projects"]) == 1
    assert client.get(path, headers={"Authorization": f"Bearer {tokens['payer']}"}).status_code == 403
    log_in(client, tokens["intermediary"])
    page = client.get("/contracts/peterborough-reconviction/work?lang=en")
    assert page.status_code == 200 and "Market prices (INDIGO)" in page.text and CREDIT in page.text
    assert "INDIGO-POJ-0153" in page.text
