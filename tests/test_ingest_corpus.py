"""A corpus of bad files: each refused with its exact errors, and the store left exactly as it was.

Plus personal identity numbers at the border: every form accepted, every bad
one refused masked, and no number ever in the database, the logs or a report.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Callable

import pytest
import sqlalchemy as sa

from contracts.loader import load_mapping_file
from contracts.model import FileMapping
from language.masking import mask_text
from outcomes import personnummer
from outcomes.ingest import IngestRefused, ingest_file
from outcomes.readers import UnreadableFile
from outcomes.report import neutralise, write_error_report
from store.tables import AuditEventRow
from tests import helpers
from tests.helpers import MINIMAL, stored_minimal

TODAY = date(2026, 11, 22)
PEOPLE = "participant_id,start,school_year,sex\nCASE-001,2020-02-01,4,female\nCASE-002,2020-03-15,9,male\n"
SURVEY_METRICS = """  - id: situation
    name: Situation
    kind: ordinal
    direction: lower_is_better
    instrument: skr_user_questions
    question: situation_change
    window: {start_months: 0, end_months: 24}
    aggregation: last
    evaluation: {design: monitoring}
  - id: life
    name: Quality of life
    kind: ordinal
    direction: lower_is_better
    instrument: skr_user_questions
    question: quality_of_life_change
    window: {start_months: 0, end_months: 24}
    aggregation: last
    evaluation: {design: monitoring}
  - id: importance
    name: Importance
    kind: ordinal
    direction: lower_is_better
    instrument: skr_user_questions
    question: importance_of_support
    window: {start_months: 0, end_months: 24}
    aggregation: last
    evaluation: {design: monitoring}
  - id: satisfaction
    name: Satisfaction (anonymous)
    kind: ordinal
    direction: lower_is_better
    instrument: skr_user_questions
    question: overall_satisfaction
    window: {start_months: 0, end_months: 24}
    aggregation: last
    anonymous: true
    evaluation: {design: monitoring}
payments:
"""
CONTRACT = MINIMAL.replace("payments:\n", SURVEY_METRICS, 1)


def snapshot(engine) -> dict[str, list[tuple]]:
    """Every row of the store, but the audit log (where a refusal is recorded, see below)."""
    return helpers.snapshot(engine, skip=("audit_events",))


def refusals(engine) -> list[dict]:
    with engine.connect() as conn:
        return [dict(r.detail, actor=r.actor) for r in conn.execute(
            sa.select(AuditEventRow).where(AuditEventRow.action == "ingest.refused").order_by(AuditEventRow.id))]


@pytest.fixture
def setup(engine, key, tmp_path: Path):
    contract = stored_minimal(engine, CONTRACT).latest.terms
    people = tmp_path / "people.csv"
    people.write_text(PEOPLE)
    ingest_file(engine, contract, people, "participants", key, today=TODAY)
    measured = tmp_path / "stored.csv"
    measured.write_text("participant_id,metric,date,value\nCASE-002,attendance,2020-04-01,0.8\n")
    ingest_file(engine, contract, measured, "measurements", key, today=TODAY)
    return engine, contract, key, tmp_path


@dataclass
class Bad:
    name: str
    kind: str
    content: bytes | Callable[[Path], Path]
    expected: list[str]  # exact errors, or one "unreadable: <message>"
    suffix: str = ".csv"
    mapping: FileMapping | None = None


M = "participant_id,metric,date,value\n"


def _xlsx(rows: list[list[object]]) -> Callable[[Path], Path]:
    def build(path: Path) -> Path:
        import openpyxl

        book = openpyxl.Workbook()
        for row in rows:
            book.active.append(row)
        book.save(path)
        return path
    return build


CORPUS = [
    Bad("utf-16 file", "measurements", (M + "CASE-001,attendance,2020-03-01,0.9\n").encode("utf-16"),
        ["unreadable: bad.csv is not text in UTF-8 or Windows-1252 (it looks like UTF-16 or binary); save it as CSV UTF-8"]),
    Bad("bytes neither UTF-8 nor Windows-1252", "measurements", M.encode() + b"CASE-001,attendance,2020-03-01,0\x81\n",
        ["unreadable: bad.csv is neither UTF-8 nor Windows-1252 text; save it as CSV UTF-8"]),
    Bad("byte order mark and an unknown metric", "measurements",
        b"\xef\xbb\xbf" + (M + "CASE-001,attendence,2020-03-01,0.9\n").encode(),
        ["row 2, column metric: 'attendence' is not a metric of this contract; metrics: attendance, exclusion, "
         "situation, life, importance"]),
    Bad("empty file", "measurements", b"", ["unreadable: bad.csv is empty"]),
    Bad("blank lines only", "measurements", b"\n\n  \n", ["unreadable: bad.csv is empty"]),
    Bad("header only", "measurements", M.encode(), ["row 1: the file has a header but no rows"]),
    Bad("truncated last line", "measurements", (M + "CASE-001,attendance,2020-03-01,0.9\nCASE-001,attendance,2020-0").encode(),
        ["row 3: expected 4 fields, found 3"]),
    Bad("unbalanced quotes", "measurements", (M + 'CASE-001,"attendance,2020-03-01,0.9\nCASE-001,attendance,2020-04-01,0.9\n').encode(),
        ['row 2: expected 4 fields, found 2 (an unclosed quote?)']),
    Bad("too many fields", "measurements", (M + "CASE-001,attendance,2020-03-01,0.9,extra\n").encode(),
        ["row 2: expected 4 fields, found 5"]),
    Bad("unknown column", "measurements", ("participant_id,metric,date,value,colour\nCASE-001,attendance,2020-03-01,0.9,red\n").encode(),
        ["row 1, column colour: unknown column; expected columns: participant_id, metric, date, value, source, correction"]),
    Bad("missing column", "measurements", ("participant_id,metric,value\nCASE-001,attendance,0.9\n").encode(),
        ["row 1, column date: required column is missing; the file has columns: participant_id, metric, value"]),
    Bad("column named twice", "measurements", ("participant_id,metric,date,date,value\nCASE-001,attendance,2020-03-01,2020-03-01,0.9\n").encode(),
        ["unreadable: bad.csv: column 'date' appears twice in the header"]),
    Bad("rate out of range", "measurements", (M + "CASE-001,attendance,2020-03-01,1.5\n").encode(),
        ["row 2, column value: '1.5' is out of range for rate metric 'attendance'; expected a share between 0 and 1 "
         "(or declare percent in a mapping)"]),
    Bad("not a number", "measurements", (M + "CASE-001,attendance,2020-03-01,high\n").encode(),
        ["row 2, column value: 'high' is not a number"]),
    Bad("NaN", "measurements", (M + "CASE-001,attendance,2020-03-01,NaN\n").encode(),
        ["row 2, column value: 'NaN' is not a number"]),
    Bad("infinity", "measurements", (M + "CASE-001,attendance,2020-03-01,-inf\n").encode(),
        ["row 2, column value: '-inf' is not a number"]),
    Bad("binary outcome of 2", "measurements", (M + "CASE-001,exclusion,2020-03-01,2\n").encode(),
        ["row 2, column value: '2' is not allowed for binary metric 'exclusion'; expected 0 or 1"]),
    Bad("impossible date", "measurements", (M + "CASE-001,attendance,2020-13-01,0.9\n").encode(),
        ["row 2, column date: '2020-13-01' is not a date; expected YYYY-MM-DD or YYYYMMDD"]),
    Bad("future date", "measurements", (M + "CASE-001,attendance,2031-01-01,0.9\n").encode(),
        ["row 2, column date: 2031-01-01 is in the future"]),
    Bad("after the contract term", "measurements", (M + "CASE-001,exclusion,2024-01-15,1\n").encode(),
        ["row 2, column date: 2024-01-15 is after the contract term ends (2023-12-31)"]),
    Bad("outside the metric window", "measurements", (M + "CASE-001,attendance,2021-02-01,0.9\n").encode(),
        ["row 2, column date: 2021-02-01 is outside the window of 'attendance' for this participant "
         "(0 to 12 months after enrolment: 2020-02-01 to 2021-01-31)"]),
    Bad("unknown participant", "measurements", (M + "CASE-404,attendance,2020-03-01,0.9\n").encode(),
        ["row 2, column participant_id: unknown participant; register them with a participants file first"]),
    Bad("duplicate rows", "measurements", (M + "CASE-001,attendance,2020-03-01,0.9\nCASE-001,attendance,2020-03-01,0.9\n").encode(),
        ["row 3, column value: duplicate of row 2 (same participant, metric and date)"]),
    Bad("conflicting values", "measurements", (M + "CASE-001,attendance,2020-03-01,0.9\nCASE-001,attendance,2020-03-01,0.7\n").encode(),
        ["row 3, column value: conflicts with row 2: same participant, metric and date, other value"]),
    Bad("already stored, not marked as a correction", "measurements", (M + "CASE-002,attendance,2020-04-01,0.85\n").encode(),
        ["row 2, column date: a measurement of 'attendance' for this participant on 2020-04-01 is already stored "
         "(batch 2); to replace it, send it with correction = true"]),
    Bad("a correction of nothing", "measurements",
        ("participant_id,metric,date,value,correction\nCASE-002,attendance,2020-05-01,0.85,true\n").encode(),
        ["row 2, column correction: nothing to correct: no stored measurement of 'attendance' for this participant "
         "on 2020-05-01"]),
    Bad("a ten-megabyte field", "measurements", (M + "CASE-001,attendance,2020-03-01,0.9\n").encode()
        + b"CASE-001,attendance,2020-04-01," + b"9" * (10 << 20) + b"\n",
        [f"row 3, column value: cell is {10 << 20:,} characters long; the limit is 10,000"]),
    Bad("a formula", "measurements",
        ("participant_id,metric,date,value,source\nCASE-001,attendance,2020-03-01,0.9,=HYPERLINK(\"http://x\")\n").encode(),
        ["row 2, column source: begins with '=', which a spreadsheet would run as a formula; refused"]),
    Bad("ineligible participant", "participants", ("participant_id,start,school_year,sex\nCASE-009,2020-02-01,3,male\n").encode(),
        ["row 2, column school_year: not eligible: 3 fails the rule 'school_year between 4 and 9'"]),
    Bad("category not allowed", "participants", ("participant_id,start,school_year,sex\nCASE-009,2020-02-01,5,x\n").encode(),
        ["row 2, column sex: 'x' is not allowed; expected one of: female, male"]),
    Bad("start outside every cohort", "participants", ("participant_id,start,school_year,sex\nCASE-009,2022-06-01,5,male\n").encode(),
        ["row 2, column start: 2022-06-01 is outside every cohort's enrolment window"]),
    Bad("participant twice", "participants",
        ("participant_id,start,school_year,sex\nCASE-009,2020-02-01,5,male\nCASE-009,2020-03-01,5,male\n").encode(),
        ["row 3, column participant_id: the same participant appears again (first in row 2)"]),
    Bad("participant already registered", "participants", ("participant_id,start,school_year,sex\nCASE-001,2020-02-01,5,male\n").encode(),
        ["row 2, column participant_id: this participant is already registered for the contract (in an earlier batch)"]),
    Bad("third question without improvement", "survey",
        ("participant_id,date,refers_to,situation,life,importance\nCASE-001,2020-12-01,since_start,3,4,1\n").encode(),
        ["row 2, column importance: 'importance' is asked only when situation or life shows improvement (1 or 2); "
         "leave it blank otherwise"]),
    Bad("change question without its reference period", "survey",
        ("participant_id,date,situation\nCASE-001,2020-12-01,4\n").encode(),
        ["row 1, column refers_to: required column is missing: change questions need the period the answer refers "
         "to (since_start or since_last_follow_up)"]),
    Bad("an unknown reference period", "survey",
        ("participant_id,date,refers_to,situation\nCASE-001,2020-12-01,last year,4\n").encode(),
        ["row 2, column refers_to: 'last year' is not allowed; expected one of: since_start, since_last_follow_up"]),
    Bad("answer off the scale", "survey",
        ("participant_id,date,refers_to,situation\nCASE-001,2020-12-01,since_start,7\n").encode(),
        ["row 2, column situation: '7' is not on the scale of 'situation'; expected 1 to 5, or 6 for don't know"]),
    Bad("anonymous answers with participants", "survey",
        ("participant_id,date,satisfaction\nCASE-001,2020-12-01,4\n").encode(),
        ["row 1, column participant_id: these questions are answered anonymously; the file must not link answers "
         "to participants"]),
    Bad("anonymous and named questions together", "survey",
        ("date,refers_to,situation,satisfaction\n2020-12-01,since_start,4,4\n").encode(),
        ["row 1: anonymous and named questions cannot share a file; send them separately"]),
    Bad("a bad cell in a workbook", "measurements",
        _xlsx([["participant_id", "metric", "date", "value"], ["CASE-001", "attendance", date(2020, 3, 1), 1.5]]),
        ["row 2, column value: '1.5' is out of range for rate metric 'attendance'; expected a share between 0 and 1 "
         "(or declare percent in a mapping)"], suffix=".xlsx"),
    Bad("lines ending in a bare carriage return", "measurements",
        b"participant_id,metric,date,value\rCASE-001,attendance,2020-03-01,0.9\r",
        ["unreadable: bad.csv: its lines end with a bare carriage return (an old Mac format); save it as CSV UTF-8"]),
    Bad("a broken JSON line", "measurements",
        (b'{"participant_id": "CASE-001", "metric": "attendance", "date": "2020-03-01", "value": 0.9}\n'
         b'{"participant_id": "CASE-001", "metric": "attendance", "date": "2020-04-01", "value": 0.9\n'),
        ["row 2: not valid JSON; expected one JSON object per line"], suffix=".jsonl"),
    Bad("a percentage above 100", "measurements", (M + "CASE-001,attendance,2020-03-01,120\n").encode(),
        ["row 2, column value: '120' is out of range for rate metric 'attendance'; expected a percentage between 0 and 100"],
        mapping=FileMapping(units={"attendance": "percent"})),
    Bad("a mapping naming a missing column", "measurements", ("Person;Mått;Datum;Närvaro\nCASE-001;attendance;2020-03-01;0,9\n").encode(),
        ["unreadable: bad.csv: the mapping names column 'personnummer', which the file does not have; the file has: "
         "person, mått, datum, närvaro"],
        mapping=FileMapping(columns={"participant_id": "Personnummer", "metric": "Mått", "date": "Datum", "value": "Närvaro"})),
]


@pytest.mark.parametrize("case", CORPUS, ids=[c.name for c in CORPUS])
def test_bad_file_is_refused_exactly_and_changes_nothing(setup, case: Bad) -> None:
    engine, contract, key, tmp_path = setup
    path = tmp_path / f"bad{case.suffix}"
    if callable(case.content):
        case.content(path)
    else:
        path.write_bytes(case.content)
    before = snapshot(engine)
    if case.expected[0].startswith("unreadable: "):
        with pytest.raises(UnreadableFile) as caught:
            ingest_file(engine, contract, path, case.kind, key, mapping=case.mapping, today=TODAY)
        assert [f"unreadable: {caught.value}"] == case.expected
    else:
        with pytest.raises(IngestRefused) as caught:
            ingest_file(engine, contract, path, case.kind, key, mapping=case.mapping, today=TODAY)
        assert [str(e) for e in caught.value.report.errors] == case.expected
    assert snapshot(engine) == before
    # Only the refusal is recorded: which file, and its first errors as the error report shows them.
    [refusal] = refusals(engine)
    assert (refusal["file"], refusal["kind"]) == (path.name, case.kind)
    assert refusal["errors_total"] == len(case.expected) or refusal["errors_total"] >= 20
    assert len(refusal["errors"]) == min(len(case.expected), 20)


def test_the_corpus_is_large_enough() -> None:
    assert len(CORPUS) >= 30


def test_xlsx_jsonl_and_a_mapped_swedish_export_are_accepted(setup) -> None:
    engine, contract, key, tmp_path = setup
    _xlsx([["participant_id", "metric", "date", "value"], ["CASE-001", "attendance", date(2020, 3, 1), 0.9]])(
        tmp_path / "a.xlsx")
    assert ingest_file(engine, contract, tmp_path / "a.xlsx", "measurements", key, today=TODAY).status == "accepted"
    (tmp_path / "b.jsonl").write_text('{"participant_id": "CASE-001", "metric": "exclusion", "date": "2020-05-01", "value": 0}\n')
    assert ingest_file(engine, contract, tmp_path / "b.jsonl", "measurements", key, today=TODAY).status == "accepted"
    mapping_file = tmp_path / "mapping.yaml"
    mapping_file.write_text("columns: {participant_id: Elev, date: Datum, value: Närvaro}\nconstants: {metric: attendance}\n"
                            "date_format: '%d/%m/%Y'\ndecimal: comma\nunits: {attendance: percent}\n")
    export = tmp_path / "export.csv"
    export.write_bytes("Elev;Datum;Närvaro\nCASE-001;01/06/2020;92,5\n".encode("cp1252"))
    report = ingest_file(engine, contract, export, "measurements", key, mapping=load_mapping_file(mapping_file), today=TODAY)
    assert (report.status, helpers.english(report.notes)) == ("accepted", ["read as Windows-1252"])
    with engine.connect() as conn:
        stored = conn.exec_driver_sql("SELECT observed_on, value FROM measurements WHERE observed_on = '2020-06-01'").all()
    assert [(str(day), value) for day, value in stored] == [("2020-06-01", 0.925)]


def test_a_correction_supersedes_and_keeps_the_history(setup) -> None:
    from outcomes.batches import corrections

    engine, contract, key, tmp_path = setup
    fix = tmp_path / "fix.csv"
    fix.write_text("participant_id,metric,date,value,correction\nCASE-002,attendance,2020-04-01,0.85,true\n")
    assert ingest_file(engine, contract, fix, "measurements", key, today=TODAY).counts["corrections"] == 1
    history = corrections(engine, contract.id)
    assert history[["old_value", "new_value", "old_batch", "new_batch"]].values.tolist() == [[0.8, 0.85, 2, 3]]
    again = tmp_path / "fix2.csv"
    again.write_text("participant_id,metric,date,value,correction\nCASE-002,attendance,2020-04-01,0.86,true\n")
    ingest_file(engine, contract, again, "measurements", key, today=TODAY)  # corrects the correction
    assert corrections(engine, contract.id)["new_value"].tolist() == [0.85, 0.86]


def test_anonymous_answers_are_stored_without_participants(setup) -> None:
    engine, contract, key, tmp_path = setup
    answers = tmp_path / "anon.csv"
    answers.write_text("date,unit,satisfaction\n2020-12-01,School A,4\n2020-12-02,School A,6\n2020-12-03,School B,5\n")
    report = ingest_file(engine, contract, answers, "survey", key, today=TODAY)
    assert report.counts == {"answers": 3, "dont_know": 1}
    with engine.connect() as conn:
        rows = conn.exec_driver_sql("SELECT metric, unit, value FROM survey_answers ORDER BY answered_on").all()
    assert rows == [("satisfaction", "School A", 4.0), ("satisfaction", "School A", None), ("satisfaction", "School B", 5.0)]


def test_the_error_report_is_masked_and_safe_in_a_spreadsheet(setup) -> None:
    engine, contract, key, tmp_path = setup
    bad = tmp_path / "bad.csv"
    bad.write_text("participant_id,metric,date,value,source\nCASE-001,attendance,2020-03-01,0.9,@SUM(A1)\n"
                   "CASE-001,attendance,2020-04-01,-1,note 811218-9876\n")
    with pytest.raises(IngestRefused) as caught:
        ingest_file(engine, contract, bad, "measurements", key, today=TODAY)
    csv_report = write_error_report(caught.value.report, tmp_path / "errors.csv").read_text(encoding="utf-8-sig")
    assert csv_report.splitlines() == [
        "row,column,value,reason",
        "2,source,'@SUM(A1),\"begins with '@', which a spreadsheet would run as a formula; refused\"",
        "3,value,'-1,'-1' is out of range for rate metric 'attendance'; expected a share between 0 and 1 "
        "(or declare percent in a mapping)",
    ]
    data = json.loads(write_error_report(caught.value.report, tmp_path / "errors.json").read_text())
    assert data["errors_total"] == 2 and data["errors"][0]["value"] == "@SUM(A1)"
    assert neutralise("=1+1") == "'=1+1" and neutralise("plain") == "plain" and neutralise(3) == 3


# -- personal identity numbers --------------------------------------------------------------------------------------

@pytest.mark.parametrize("text, normalised, born", [
    ("811218-9876", "198112189876", date(1981, 12, 18)),
    ("8112189876", "198112189876", date(1981, 12, 18)),
    ("19811218-9876", "198112189876", date(1981, 12, 18)),
    ("198112189876", "198112189876", date(1981, 12, 18)),
    ("121212+1212", "191212121212", date(1912, 12, 12)),  # '+': a hundred or older
    ("121212-1212", "201212121212", date(2012, 12, 12)),
    ("701063-2391", "197010632391", date(1970, 10, 3)),  # samordningsnummer: day + 60
])
def test_every_written_form_is_accepted_and_normalised(text: str, normalised: str, born: date) -> None:
    number = personnummer.parse(text, TODAY)
    assert (number.normalised, number.birth_date) == (normalised, born)


def test_legal_sex_and_coordination() -> None:
    assert personnummer.parse("811218-9876", TODAY).legal_sex == "M"  # second-to-last digit 7: odd
    assert personnummer.parse("811218-9868", TODAY).legal_sex == "F"  # 6: even
    assert personnummer.parse("701063-2391", TODAY).coordination


@pytest.mark.parametrize("text, reason", [
    ("811218-9875", "the check digit is wrong (Luhn)"),
    ("811332-9876", "the date part is not a real date (checked as a personnummer)"),
    ("811292-9876", "the date part is not a real date (checked as a samordningsnummer)"),
    ("19811218+9876", "a twelve-digit number takes '-' or no separator, not '+'"),
    ("81121-9876", "not a personal identity number; expected YYYYMMDD-NNNN, YYMMDD-NNNN or YYMMDD+NNNN"),
    ("20301218-9876", "the date part lies in the future"),
])
def test_bad_numbers_are_refused_without_the_number(text: str, reason: str) -> None:
    with pytest.raises(personnummer.InvalidNumber) as caught:
        personnummer.parse(text, TODAY)
    assert str(caught.value) == reason and text not in str(caught.value)


def test_masking() -> None:
    assert personnummer.mask("19811218-9876") == "811218-****"
    assert personnummer.mask("811218-9876") == "811218-****"
    assert personnummer.mask("x") == "******-****"
    assert mask_text("call 811218-9876 or 19811218-9876") == "call 811218-**** or 811218-****"


PNR_CONTRACT = MINIMAL.replace("id: test-contract", "id: pnr-contract", 1).replace(
    "  description: Pupils in school years 4-9\n",
    "  description: Pupils in school years 4-9\n  identifier: personnummer\n  derive: [birth_year, legal_sex]\n", 1)


def _is_valid(text: str) -> bool:
    try:
        personnummer.parse(text, TODAY)
        return True
    except personnummer.InvalidNumber:
        return False


def test_no_number_reaches_the_database_the_logs_or_the_report(engine, key, tmp_path: Path, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    contract = stored_minimal(engine, PNR_CONTRACT).latest.terms
    numbers = ["20120314-1237", "20120315-2382", "20120316-3348", "20120317-4352"]  # check digits by Luhn
    assert all(_is_valid(n) for n in numbers)
    forms = [numbers[0], numbers[1][2:], numbers[2].replace("-", ""), numbers[3][2:].replace("-", "")]
    people = tmp_path / "people.csv"
    people.write_text("participant_id,start,school_year,sex\n" + "".join(
        f"{n},2020-0{i + 2}-01,5,female\n" for i, n in enumerate(forms)))
    ingest_file(engine, contract, people, "participants", key, today=TODAY)
    m = tmp_path / "m.csv"
    m.write_text(M + "".join(f"{n},attendance,2020-06-01,0.9\n" for n in numbers))  # another written form
    ingest_file(engine, contract, m, "measurements", key, today=TODAY)
    bad = tmp_path / "bad.csv"
    bad.write_text(M + f"{numbers[0][:-1]}0,attendance,2020-07-01,0.9\n{numbers[1]},attendance,2020-07-01,2\n")
    with pytest.raises(IngestRefused) as caught:
        ingest_file(engine, contract, bad, "measurements", key, today=TODAY)
    assert [str(e) for e in caught.value.report.errors] == [
        "row 2, column participant_id: the check digit is wrong (Luhn)",
        "row 3, column value: '2' is out of range for rate metric 'attendance'; expected a share between 0 and 1 "
        "(or declare percent in a mapping)",
    ]
    assert caught.value.report.errors[0].value == f"{numbers[0][2:8]}-****"
    report_text = write_error_report(caught.value.report, tmp_path / "e.csv").read_text() + json.dumps(
        caught.value.report.as_dict())

    with engine.connect() as conn:
        derived = conn.exec_driver_sql("SELECT birth_year, legal_sex FROM participants ORDER BY id").all()
    assert derived == [(2012, "M" if int(n[-2]) % 2 else "F") for n in numbers]
    stored = b"".join(p.read_bytes() for p in tmp_path.glob("sib.db*"))
    logs = "\n".join(r.getMessage() for r in caplog.records)
    for n in numbers:
        digits = n.replace("-", "")
        for form in {n, digits, digits[2:], n[2:], f"{digits[2:8]}-{digits[8:]}"}:
            assert form.encode() not in stored, f"{form} is in the database"
            assert form not in logs and form not in report_text
    assert len(caplog.records) >= 3  # the batches were logged, without numbers


def test_single_rows_and_identical_rows_are_all_stored(setup) -> None:
    """Columns with one value in every row are written as constants; a batch of such rows must still be written."""
    engine, contract, key, tmp_path = setup
    one = tmp_path / "one.csv"
    one.write_text("participant_id,start,school_year,sex\nCASE-010,2020-05-01,6,male\n")
    assert ingest_file(engine, contract, one, "participants", key, today=TODAY).counts["participants"] == 1
    same = tmp_path / "same.csv"
    same.write_text("date,unit,satisfaction\n2020-12-01,School A,4\n2020-12-01,School A,4\n")
    ingest_file(engine, contract, same, "survey", key, today=TODAY)
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM survey_answers").scalar() == 2
        assert conn.exec_driver_sql("SELECT count(*) FROM enrolments WHERE start = '2020-05-01'").scalar() == 1
