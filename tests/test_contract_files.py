"""Contract files: the examples load, and every kind of broken file gets its exact message."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import jsonschema
import pytest

from contracts import ContractFileError, load_contract_file, load_contract_text
from contracts.schema import SCHEMA_FILE, contract_json_schema
from examples.synthetic import CONTRACT_FILES

DATA = Path(__file__).parent / "data"
MINIMAL = (DATA / "minimal.yaml").read_text(encoding="utf-8")


def problems(text: str) -> list[str]:
    with pytest.raises(ContractFileError) as caught:
        load_contract_text(text, "c.yaml")
    return [str(p) for p in caught.value.problems]


def broken(old: str, new: str) -> list[str]:
    assert old in MINIMAL, f"the test's anchor {old!r} is not in minimal.yaml"
    return problems(MINIMAL.replace(old, new, 1))


# Each case: (what is broken, text replaced, replacement, the exact messages).
BROKEN = [
    ("unknown metric kind", "kind: rate", "kind: ratio",
     ["c.yaml:25: metrics[0].kind: 'ratio' is not allowed; expected one of: "
      "binary, rate, count, continuous, ordinal, time_to_event"]),
    ("lower-case currency", "currency: SEK", "currency: sek",
     ["c.yaml:4: currency: 'sek' is not an ISO 4217 currency code; expected three capital letters such as SEK"]),
    ("impossible date", "  start: 2020-01-01", "  start: 2020-02-30",
     ["c.yaml:6: term.start: '2020-02-30' is not a valid date; expected YYYY-MM-DD"]),
    ("text where an amount belongs", "price: 1000", "price: a thousand",
     ["c.yaml:47: payments.mechanisms[0].price: 'a thousand' is not a number"]),
    ("negative amount", "price: 1000", "price: -5",
     ["c.yaml:47: payments.mechanisms[0].price: -5 is out of range; must be at least 0"]),
    ("unknown mechanism type", "type: rate_card", "type: ratecard",
     ["c.yaml:47: payments.mechanisms[0].type: 'ratecard' is not allowed; expected one of: "
      "rate_card, comparison_threshold, savings_share, milestone"]),
    ("misspelt field", "    aggregation: mean", "    agregation: mean",
     ["c.yaml:23: metrics[0].aggregation: required field is missing",
      "c.yaml:28: metrics[0].agregation: unknown field (did you mean 'aggregation'?); allowed fields: id, name, kind, "
      "direction, unit, window, aggregation, missing, scale, instrument, instrument_version, question, achieved_when, target, anonymous, "
      "evaluation, avoids"]),
    ("missing required field", "name: Test contract\n", "",
     ["c.yaml:2: name: required field is missing"]),
    ("share above one", "{party: city, share: 1}", "{party: city, share: 1.5}",
     ["c.yaml:44: payments.payers[0].share: 1.5 is out of range; must be at most 1",]),
    ("payer shares not adding up", "{party: city, share: 1}", "{party: city, share: 0.9}",
     ["c.yaml:43: payments.payers: payer shares add up to 0.9; they must add up to 1"]),
    ("payer who is not a payer", "{party: city, share: 1}", "{party: fund, share: 1}",
     ["c.yaml:44: payments.payers[0].party: 'fund' has role investor; an outcome payer needs role payer"]),
    ("mechanism on an unknown metric", "metric: attendance, price", "metric: attendence, price",
     ["c.yaml:47: payments.mechanisms[0].metric: 'attendence' is not a metric of this contract; "
      "metrics: attendance, exclusion"]),
    ("term ending before it starts", "  end: 2023-12-31", "  end: 2019-12-31",
     ["c.yaml:7: term.end: 2019-12-31 is not after term.start 2020-01-01",
      "c.yaml:57: amendments[0].effective: 2021-06-01 is not allowed; expected a date after 2020-01-01 "
      "and no later than the term end 2019-12-31"]),
    ("overlapping cohorts", "enrolment_start: 2021-01-01", "enrolment_start: 2020-06-01",
     ["c.yaml:21: cohorts[1].enrolment_start: enrolment window 2020-06-01 to 2021-12-31 overlaps cohort 'c1'"]),
    ("fixed baseline without a baseline", "      baseline: 0.85\n", "",
     ["c.yaml:30: metrics[0].evaluation.baseline: required field is missing for design 'fixed_baseline'"]),
    ("rate baseline above one", "      baseline: 0.85", "      baseline: 85",
     ["c.yaml:32: metrics[0].evaluation.baseline: 85 is out of range; a rate baseline must be between 0 and 1"]),
    ("eligibility on an undeclared attribute", "{attribute: school_year, op", "{attribute: grade, op",
     ["c.yaml:18: target_group.eligibility[0].attribute: 'grade' is not a declared attribute; "
      "declared: school_year, sex"]),
    ("window ending before it starts", "window: {start_months: 0, end_months: 12}\n    aggregation: mean",
     "window: {start_months: 12, end_months: 6}\n    aggregation: mean",
     ["c.yaml:27: metrics[0].window.end_months: 6 is not after window.start_months 12"]),
    ("duplicate metric id", "  - id: exclusion", "  - id: attendance",
     ["c.yaml:34: metrics[1].id: duplicate metric id 'attendance'"]),
    ("duplicate key", "name: Test contract\n", "name: Test contract\nname: Other name\n",
     ["c.yaml:4: name: duplicate key 'name'; each key may appear once"]),
    ("commitments not equal to the principal", "{party: fund, amount: 40000}", "{party: fund, amount: 30000}",
     ["c.yaml:52: investment.commitments: commitments add up to 30000; they must equal the principal 40000"]),
    ("amendment on an unknown item", "payments.mechanisms.card.price", "payments.mechanisms.kard.price",
     ["c.yaml:60: amendments[0].set['payments.mechanisms.kard.price']: no item with id 'kard' in "
      "payments.mechanisms; ids: card"]),
    ("amendment that breaks a version", "payments.mechanisms.card.price: 1200", "payments.mechanisms.card.price: lots",
     ["c.yaml:59: payments.mechanisms[0].price: in version 2 (amendments[0]): 'lots' is not a number"]),
    ("amendment effective before the one before", "effective: 2021-06-01", "effective: 2019-06-01",
     ["c.yaml:57: amendments[0].effective: 2019-06-01 is not allowed; expected a date after 2020-01-01 "
      "and no later than the term end 2023-12-31"]),
    ("a list where a mapping belongs", "term:\n  start: 2020-01-01\n  end: 2023-12-31", "term: [2020, 2023]",
     ["c.yaml:5: term: expected a mapping (key: value), got a list"]),
    ("a cap larger than the cap that contains it", "price: 1000, cap: 50000", "price: 1000, cap: 70000",
     ["c.yaml:47: payments.mechanisms[0].cap: 70000 is above the contract's total cap 60000; a cap cannot be larger "
      "than the cap that contains it"]),
    ("a per-participant cap above the cohort cap", "price: 1000, cap: 50000",
     "price: 1000, cap_per_participant: 3000, cap_per_cohort: 2000",
     ["c.yaml:47: payments.mechanisms[0].cap_per_participant: 3000 is above cap_per_cohort 2000; a cap cannot be "
      "larger than the cap that contains it"]),
    ("a rate card without a price", "metric: attendance, price: 1000, cap: 50000", "metric: attendance, cap: 50000",
     ["c.yaml:47: payments.mechanisms[0].price: required field is missing: a rate card needs metric and price, "
      "or outcomes"]),
    ("boolean that is not one", "min_n: 5\n  - id", "min_n: 5\n      alpha: often\n  - id",
     ["c.yaml:34: metrics[0].evaluation.alpha: 'often' is not a number"]),
]


@pytest.mark.parametrize("case, old, new, expected", BROKEN, ids=[b[0] for b in BROKEN])
def test_broken_file_gets_exact_messages(case: str, old: str, new: str, expected: list[str]) -> None:
    assert broken(old, new) == expected


def test_there_are_at_least_fifteen_distinct_broken_files() -> None:
    assert len({b[0] for b in BROKEN}) >= 15


def test_every_problem_is_reported_at_once() -> None:
    text = (MINIMAL.replace("kind: rate", "kind: ratio", 1).replace("currency: SEK", "currency: kronor", 1)
            .replace("price: 1000", "price: free", 1))
    assert problems(text) == [
        "c.yaml:4: currency: 'kronor' is not an ISO 4217 currency code; expected three capital letters such as SEK",
        "c.yaml:25: metrics[0].kind: 'ratio' is not allowed; expected one of: "
        "binary, rate, count, continuous, ordinal, time_to_event",
        "c.yaml:47: payments.mechanisms[0].price: 'free' is not a number",
    ]


def test_yaml_syntax_error_names_its_line() -> None:
    assert problems("id: x\nname: [unclosed\ncurrency: SEK\n") == [
        "c.yaml:3: YAML syntax error: expected ',' or ']', but got ':'"
    ]


def test_empty_file_and_non_mapping_file() -> None:
    assert problems("") == ["c.yaml:1: the file is empty; expected a contract (a mapping with id, name, term, ...)"]
    assert problems("- just\n- a list\n") == ["c.yaml:1: expected a mapping (key: value) at the top, got a list of 2 items"]


def test_missing_file_is_one_clear_problem(tmp_path: Path) -> None:
    with pytest.raises(ContractFileError) as caught:
        load_contract_file(tmp_path / "nope.yaml")
    assert str(caught.value) == f"{tmp_path / 'nope.yaml'}:0: no such file"


def test_amounts_are_decimal_never_float() -> None:
    cf = load_contract_text(MINIMAL.replace("price: 1000", "price: 1000.10", 1), "c.yaml")
    price = cf.contract.payments.mechanisms[0].price
    assert isinstance(price, Decimal) and price == Decimal("1000.10")
    assert cf.versions[0].terms_json()["payments"]["mechanisms"][0]["price"] == "1000.10"


def test_amendment_makes_a_version_with_its_own_terms() -> None:
    cf = load_contract_text(MINIMAL, "c.yaml")
    assert [(v.version, str(v.effective), v.reason) for v in cf.versions] == [
        (1, "2020-01-01", "Original contract"), (2, "2021-06-01", "Price raised")]
    assert [v.terms.payments.mechanisms[0].price for v in cf.versions] == [Decimal(1000), Decimal(1200)]
    assert cf.versions[0].fingerprint != cf.versions[1].fingerprint
    assert cf.as_of(__import__("datetime").date(2021, 5, 31)).version == 1
    assert cf.as_of(__import__("datetime").date(2021, 6, 1)).version == 2


@pytest.mark.parametrize("path", sorted(CONTRACT_FILES.values()), ids=lambda p: p.stem)
def test_example_contracts_load_and_say_they_are_illustrative(path: Path) -> None:
    cf = load_contract_file(path)
    assert "illustrativ" in cf.contract.name.lower()  # illustrative, or in a Swedish contract illustrativt
    assert path.read_text(encoding="utf-8").startswith("# ILLUSTRATIVE EXAMPLE.")


def test_examples_cover_the_reference_mechanisms() -> None:
    kinds = {cid: {m.type for m in load_contract_file(p).contract.payments.mechanisms} for cid, p in CONTRACT_FILES.items()}
    assert kinds == {"norrkoping-foster-care": {"savings_share"}, "hasselby-school": {"rate_card"},
                     "peterborough-reconviction": {"comparison_threshold"}, "gotland-family-team": {"savings_share"}}
    peterborough = load_contract_file(CONTRACT_FILES["peterborough-reconviction"]).contract
    assert len(peterborough.cohorts) == 3
    assert peterborough.metrics[0].evaluation.design == "matched_comparison"
    hasselby = load_contract_file(CONTRACT_FILES["hasselby-school"]).contract
    assert sorted(m.question for m in hasselby.metrics if m.instrument) == sorted(
        ["situation_change", "quality_of_life_change", "importance_of_support", "overall_satisfaction", "treatment",
         "influence"])


def test_published_json_schema_is_the_generated_one() -> None:
    assert json.loads(SCHEMA_FILE.read_text(encoding="utf-8")) == contract_json_schema(), (
        "docs/contract.schema.json is out of date: run `python -m contracts.schema`"
    )


@pytest.mark.parametrize("path", sorted(CONTRACT_FILES.values()), ids=lambda p: p.stem)
def test_examples_validate_against_the_published_schema(path: Path) -> None:
    import yaml

    data = json.loads(json.dumps(yaml.safe_load(path.read_text(encoding="utf-8")), default=str))
    jsonschema.validate(data, json.loads(SCHEMA_FILE.read_text(encoding="utf-8")))


def test_schema_rejects_what_the_loader_rejects() -> None:
    import yaml

    data = json.loads(json.dumps(yaml.safe_load(MINIMAL.replace("kind: rate", "kind: ratio")), default=str))
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(data, json.loads(SCHEMA_FILE.read_text(encoding="utf-8")))


def test_names_added_to_the_format_later_leave_stored_fingerprints_alone() -> None:
    """An attribute's ``label`` and a mechanism's ``name`` came after contracts were stored: unset, they are not
    part of the fingerprint (reloading an old contract's file changes nothing); set, they are."""
    from contracts.loader import fingerprint_terms

    terms = load_contract_file(DATA / "minimal.yaml").versions[0].terms_json()
    assert terms["payments"]["mechanisms"][0]["name"] is None
    without = json.loads(json.dumps(terms))
    for mech in without["payments"]["mechanisms"]:
        del mech["name"]
    for attribute in without["target_group"]["attributes"]:
        del attribute["label"]
    assert fingerprint_terms(terms) == fingerprint_terms(without)
    named = json.loads(json.dumps(terms))
    named["payments"]["mechanisms"][0]["name"] = "Prislista för närvaro"
    assert fingerprint_terms(named) != fingerprint_terms(terms)
    named = json.loads(json.dumps(terms))
    named["target_group"]["attributes"][0]["label"] = "årskurs"
    assert fingerprint_terms(named) != fingerprint_terms(terms)
