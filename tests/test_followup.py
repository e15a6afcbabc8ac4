"""User follow-up as Stockholm proposes it: SKR's six questions exactly as the source's appendix, recoding at
import, results as shares with "vet inte" apart, fieldwork, and results at every level with suppression.

Answer files here are coded exactly as the appendix of ../shared/sources/004_5d7f34580de5711e.txt: 1 is the
best answer; "vet inte" is 6, or 5 on questions 3 and 6, which have four steps."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sqlalchemy as sa
from statsmodels.stats.proportion import proportion_confint

from contracts import instruments
from contracts.instrument_store import load_instrument_text, store_instrument
from contracts.problems import ContractFileError
from outcomes.batches import verify_batch
from outcomes.ingest import IngestRefused, ingest_file
from store.tables import ImportBatchRow, SurveyAnswerRow, SurveyContactRow, SurveyFrameMemberRow
from tests.helpers import MINIMAL, stored_minimal, write

SKR = ["situation_change", "quality_of_life_change", "importance_of_support", "overall_satisfaction", "treatment",
       "influence"]
METRICS = "".join(
    f"  - {{id: q{i}, name: Question {i}, kind: ordinal, direction: lower_is_better, instrument: skr_user_questions,"
    f" instrument_version: 2, question: {q}, anonymous: true, window: {{start_months: 0, end_months: 12}},"
    f" aggregation: last, evaluation: {{design: monitoring}}}}\n" for i, q in enumerate(SKR, start=1))
CONTRACT = MINIMAL.replace("payments:\n", METRICS + "payments:\n", 1).replace(
    "investment:\n", "suppression_threshold: 3\ninvestment:\n", 1)
ORGANISATION = """
id: city
version: 1
name: Staden
districts: {north: Norra, south: Södra}
areas: {benefit: Ekonomiskt bistånd, care: Äldreomsorg}
units:
  - {id: u1, name: Enhet 1, district: north, area: benefit, from: 2020}
  - {id: u2, name: Enhet 2, district: north, area: care, from: 2020}
  - {id: u3, name: Enhet 3, district: south, area: benefit, from: 2020, to: 2020}
  - {id: u3, name: Enhet 3, district: north, area: benefit, from: 2021}
  - {id: u4, name: Enhet 4, district: south, area: care, from: 2020}
"""


def test_the_built_in_instrument_is_the_sources_appendix() -> None:
    skr = instruments.get("skr_user_questions")
    assert skr is not None and skr.version == 2 and [q.id for q in skr.questions] == SKR
    q1, q3, q5, q6 = (skr.question(i) for i in ("situation_change", "importance_of_support", "treatment", "influence"))
    assert [a.sv for a in q1.answers] == ["Förbättrats mycket", "Förbättrats lite", "Ingen förändring",
                                          "Försämrats lite", "Försämrats mycket"]
    assert q1.dont_know.code == 6 and q1.dont_know.sv == "Vet inte/har ingen uppfattning"
    assert q3.codes == [1, 2, 3, 4] and q3.dont_know.code == 5 and q6.codes == [1, 2, 3, 4] and q6.dont_know.code == 5
    assert [a.sv for a in q6.answers] == ["Mycket", "Ganska mycket", "Ganska lite", "Inte alls"]
    assert q3.asked_if.questions == ["situation_change", "quality_of_life_change"] and q3.asked_if.codes == [1, 2]
    assert "socialsekreteraren/biståndshandläggaren" in q5.text.sv and "personalen" not in q5.text.sv
    assert skr.question("overall_satisfaction").text.sv == (
        "Hur nöjd eller missnöjd är du sammantaget med det stöd du fått från socialtjänsten?")
    assert all(q.favourable == [1, 2] for q in skr.questions)


BAD_INSTRUMENT = """id: barn
version: 1
name: {sv: Barnens frågor, en: Children's questions}
source: test
questions:
  - id: a
    number: 1
    text: {sv: "Hur är det?", en: "How is it?"}
    answers:
      - {code: 1, sv: Bra, en: Good}
      - {code: 1, sv: Dåligt, en: Bad}
    dont_know: {code: 1, sv: Vet inte, en: Don't know}
    favourable: [7]
  - id: b
    number: 2
    text: {sv: "Och nu?", en: "And now?"}
    answers: [{code: 1, sv: Ja, en: "Yes"}, {code: 2, sv: Nej, en: "No"}]
    favourable: [1]
    asked_if: {questions: [c], codes: [1]}
"""


def test_an_instrument_file_is_checked_whole_with_lines_and_fields() -> None:
    with pytest.raises(ContractFileError) as refused:
        load_instrument_text(BAD_INSTRUMENT, "barn.yaml")
    assert [str(p) for p in refused.value.problems] == [
        "barn.yaml:9: questions[0].answers: question a uses an answer code twice; each code may appear once",
        "barn.yaml:12: questions[0].dont_know.code: question a: the \"don't know\" code 1 is also an answer code",
        "barn.yaml:13: questions[0].favourable: question a: favourable codes 7 are not among its answer codes",
        "barn.yaml:19: questions[1].asked_if.questions[0]: question b is asked after c, which is not an earlier "
        "question of this instrument",
    ]


CHILDREN = """id: barn
version: 1
name: {sv: Barnens frågor, en: Children's questions}
source: Anpassning för barn (test)
questions:
  - id: situation_change
    number: 1
    text: {sv: "Har det blivit bättre för dig?", en: "Has it got better for you?"}
    answers: [{code: 1, sv: Ja, en: "Yes"}, {code: 2, sv: Lite, en: A little}, {code: 3, sv: Nej, en: "No"}]
    dont_know: {code: 9, sv: Vet inte, en: Don't know}
    favourable: [1, 2]
"""


def test_a_user_instrument_is_stored_versioned_and_used_by_a_contract(engine, key, tmp_path: Path) -> None:
    instrument = load_instrument_text(CHILDREN, "barn.yaml")
    assert store_instrument(engine, instrument, CHILDREN, "barn.yaml") is True
    assert store_instrument(engine, instrument, CHILDREN, "barn.yaml") is False  # the same: nothing changes
    with pytest.raises(ContractFileError, match="already stored with other content"):
        store_instrument(engine, instrument, CHILDREN.replace("Lite", "Lite grann"), "barn.yaml")
    builtin = CHILDREN.replace("id: barn", "id: skr_user_questions").replace("version: 1", "version: 2")
    with pytest.raises(ContractFileError, match="is built in and cannot be replaced"):
        store_instrument(engine, load_instrument_text(builtin, "x.yaml"), builtin, "x.yaml")
    metric = ("  - {id: child, name: Barn, kind: ordinal, direction: lower_is_better, instrument: barn, "
              "question: situation_change, anonymous: true, window: {start_months: 0, end_months: 12}, "
              "aggregation: last, evaluation: {design: monitoring}}\n")
    contract = stored_minimal(engine, MINIMAL.replace("payments:\n", metric + "payments:\n", 1)).latest.terms
    report = ingest_file(engine, contract, write(tmp_path, "a.csv", "date,unit,child\n2020-12-01,u1,1\n"
                                                                    "2020-12-02,u1,9\n"), "survey", key)
    assert report.counts == {"answers": 2, "dont_know": 1}
    with engine.connect() as conn:
        coded = conn.execute(sa.select(SurveyAnswerRow.value, SurveyAnswerRow.instrument,
                                       SurveyAnswerRow.instrument_version).order_by(SurveyAnswerRow.id)).all()
    assert [tuple(r) for r in coded] == [(1.0, "barn", 1), (None, "barn", 1)]


def _answers(rows: list[tuple]) -> str:
    """An answer file as the appendix codes it: date, unit, age band, sex, then questions 1-6 (blank: not asked)."""
    lines = ["date,refers_to,unit,age_band,sex,q1,q2,q3,q4,q5,q6"]
    for row in rows:
        lines.append(",".join("" if v is None else str(v) for v in (row[0], "since_start", *row[1:])))
    return "\n".join(lines) + "\n"


@pytest.fixture
def followup(engine, key, tmp_path: Path):
    stored = stored_minimal(engine, CONTRACT)
    return engine, stored.latest.terms, key, tmp_path


def test_recoding_at_import_turns_a_suppliers_codes_into_the_instruments_and_the_batch_records_it(followup) -> None:
    engine, contract, key, tmp = followup
    from contracts.model import FileMapping

    # The supplier reverses the five steps (5 = improved a lot) and writes 9 for don't know.
    mapping = FileMapping(columns={"q1": "situation"}, recode={"q1": {5: 1, 4: 2, 3: 3, 2: 4, 1: 5, 9: 6}})
    text = "date,refers_to,unit,situation\n2020-12-01,since_start,u1,5\n2020-12-02,since_start,u1,1\n" \
           "2020-12-03,since_start,u1,9\n"
    report = ingest_file(engine, contract, write(tmp, "s.csv", text), "survey", key, mapping=mapping)
    assert report.counts == {"answers": 3, "dont_know": 1}
    with engine.connect() as conn:
        values = conn.execute(sa.select(SurveyAnswerRow.value).order_by(SurveyAnswerRow.id)).scalars().all()
        summary = conn.execute(sa.select(ImportBatchRow.summary)).scalar_one()
    assert values == [1.0, 5.0, None]
    assert summary["mapping"]["recode"] == {"q1": {"5": 1, "4": 2, "3": 3, "2": 4, "1": 5, "9": 6}}
    # Without the recoding the supplier's 9 is off SKR's scale: refused, nothing stored.
    with pytest.raises(IngestRefused) as refused:
        ingest_file(engine, contract, write(tmp, "s2.csv", "date,refers_to,unit,q1\n2020-12-04,since_start,u1,9\n"), "survey", key)
    assert [str(e) for e in refused.value.report.errors] == [
        "row 2, column q1: '9' is not on the scale of 'q1'; expected 1 to 5, or 6 for don't know"]


def test_the_third_question_where_it_was_not_asked_is_refused(followup) -> None:
    engine, contract, key, tmp = followup
    text = _answers([("2020-12-01", "u1", "25-34", "k", 3, 4, 1, 2, 2, 2)])  # no improvement, yet question 3
    with pytest.raises(IngestRefused) as refused:
        ingest_file(engine, contract, write(tmp, "s.csv", text), "survey", key)
    assert [str(e) for e in refused.value.report.errors] == [
        "row 2, column q3: 'q3' is asked only when q1 or q2 shows improvement (1 or 2); leave it blank otherwise"]
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(SurveyAnswerRow)).scalar() == 0


def _load(engine, contract, key, tmp, rows, name="answers.csv"):
    report = ingest_file(engine, contract, write(tmp, name, _answers(rows)), "survey", key)
    verify_batch(engine, report.batch_id)


def test_results_are_shares_with_dont_know_apart_and_question_3_over_those_asked(followup) -> None:
    from evaluation import followup as fu

    engine, contract, key, tmp = followup
    rows = [("2020-12-01", "u1", "25-34", "k", 1, 2, 1, 1, 1, 1),
            ("2020-12-02", "u1", "25-34", "m", 2, 3, 5, 2, 2, 4),   # q3 "vet inte" (5 on a four-step question)
            ("2020-12-03", "u1", "35-44", "k", 3, 3, None, 6, 3, 5),  # q3 not asked; q4 and q6 "vet inte"
            ("2020-12-04", "u1", "35-44", "m", 4, 5, None, 4, 5, 3),
            ("2020-12-05", "u1", "45-54", "k", 6, 1, 2, 3, 1, 2),
            ("2020-12-06", "u1", "45-54", "m", 1, 4, 2, 1, 1, 1)]
    _load(engine, contract, key, tmp, rows)
    result = fu.results(contract, fu.load_answers(engine, contract), fu.Request(level="unit"), None, language="sv")
    by_question = {q["question"]: q["cells"][0] for q in result["questions"]}
    q1 = by_question["situation_change"]
    assert (q1["asked"], q1["answered"], q1["dont_know"], q1["favourable"]) == (6, 5, 1, 3)
    assert [d["n"] for d in q1["distribution"]] == [2, 1, 1, 1, 0] and q1["favourable_share"] == 0.6
    low, high = proportion_confint(3, 5, alpha=0.05, method="wilson")
    assert (q1["ci_low"], q1["ci_high"]) == pytest.approx((low, high))
    assert q1["distribution"][0]["label"] == "Förbättrats mycket"
    q3 = by_question["importance_of_support"]
    assert (q3["asked"], q3["answered"], q3["dont_know"], q3["favourable"]) == (4, 3, 1, 3)  # asked: 4 of 6
    q6 = by_question["influence"]
    assert (q6["answered"], q6["dont_know"], q6["favourable"]) == (5, 1, 3)
    assert [d["code"] for d in q6["distribution"]] == [1, 2, 3, 4]  # four steps, as the source


def test_results_at_every_level_are_suppressed_across_levels(followup) -> None:
    """A unit under the threshold is hidden, and so is another unit of its district and of its area, so that
    neither total less its shown units gives it away; units that moved are counted where they were that year."""
    from contracts.organisation import load_organisation_text
    from evaluation import followup as fu
    from evaluation.suppression import protected

    engine, contract, key, tmp = followup
    org = load_organisation_text(ORGANISATION, "org.yaml")
    answers = {"u1": 6, "u2": 2, "u3": 5, "u4": 7}  # u2 has two answers: under the threshold of 3
    rows = [("2021-11-0%d" % (1 + i % 9), unit, "25-34", "k", 1, 1, 1, 1, 1, 1)
            for unit, n in answers.items() for i in range(n)]
    _load(engine, contract, key, tmp, rows)
    data = fu.load_answers(engine, contract)
    units = fu.results(contract, data, fu.Request(level="unit", year=2021), org)
    cells = {c["group"]: c for c in units["questions"][0]["cells"]}
    assert cells["u2"]["suppressed"] and cells["u2"]["favourable_share"] is None and cells["u2"]["distribution"] is None
    hidden = {g for g, c in cells.items() if c["suppressed"]}
    # u2 is in district north (u1, u2, u3 in 2021) and area care (u2, u4): each relation protects it.
    for members in (("u1", "u2", "u3"), ("u2", "u4")):
        assert protected([answers[u] for u in members if u in hidden], 3)
    districts = fu.results(contract, data, fu.Request(level="district", year=2021), org)
    counts = {c["group"]: c["answered"] for c in districts["questions"][0]["cells"]}
    assert counts == {"north": 13, "south": 7}  # u3 moved to north in 2021
    by_sex = fu.results(contract, data, fu.Request(level="city", by="sex", year=2021), org)
    assert {(c["group"], c["part"]): c["answered"] for c in by_sex["questions"][0]["cells"]} == {
        ("city", "all"): 20, ("city", "k"): 20}


DECISIONS = """participant_id,decision_type,unit,start,end
19850312-4425,försörjningsstöd,u1,2021-01-10,2021-12-31
19900101-0017,försörjningsstöd,u1,2021-03-01,2021-03-20
CASE-7,försörjningsstöd,u1,2021-02-01,
CASE-8,försörjningsstöd,u2,2021-02-01,2021-08-01
CASE-9,försörjningsstöd,u2,2019-01-01,2020-06-30
"""


def test_fieldwork_frame_draw_and_contacts_are_pseudonymous_reproducible_and_checked(sib, tmp_path: Path) -> None:
    assert sib("init").code == 0 and sib("keys", "init").code == 0
    write(tmp_path, "c.yaml", CONTRACT)
    write(tmp_path, "org.yaml", ORGANISATION)
    assert sib("contract", "load", "c.yaml").code == 0 and sib("organisation", "load", "org.yaml").code == 0
    write(tmp_path, "decisions.csv", DECISIONS)
    planned = sib("survey", "frame", "test-contract", "--year", "2021", "--decisions", "decisions.csv",
                  "--exclude-type", "försörjningsstöd", "--json")
    assert json.loads(planned.out)["excluded"] == {"decision_type_excluded": 3, "not_in_year": 1,
                                                   "shorter_than_a_month": 1}
    frame = sib("survey", "frame", "test-contract", "--year", "2021", "--decisions", "decisions.csv", "--json")
    assert frame.code == 0, frame.err
    built = json.loads(frame.out)
    assert built["excluded"] == {"not_in_year": 1, "shorter_than_a_month": 1}
    assert built["drawable_by_unit"] == {"u1": 2, "u2": 1}
    from store.db import open_store

    engine = open_store()
    with engine.connect() as conn:
        stored = conn.execute(sa.select(SurveyFrameMemberRow)).all()
    assert not any("19850312" in str(tuple(r)) or "CASE-7" in str(tuple(r)) for r in stored)  # pseudonyms only
    first = next(r for r in stored if r.start.isoformat() == "2021-01-10")
    assert (first.age_band, first.sex) == ("35-44", "k")  # from the number, which is then forgotten

    draws = [json.loads(sib("survey", "draw", str(built["frame"]), "--per-unit", "1", "--reserves", "1",
                            "--seed", "7", "--json").out) for _ in range(2)]
    with engine.connect() as conn:
        drawn = [conn.execute(sa.text("SELECT member_id, position, reserve FROM survey_draw_members WHERE draw_id = "
                                      f"{d['draw']} ORDER BY member_id")).all() for d in draws]
    assert drawn[0] == drawn[1] and draws[0]["units"] == {"u1": {"sample": 1, "reserves": 1},
                                                          "u2": {"sample": 1, "reserves": 0}}
    draw_id = draws[-1]["draw"]  # the latest draw is the one in use
    with engine.connect() as conn:
        main_u1 = conn.execute(sa.text(
            "SELECT m.pseudonym FROM survey_frame_members m JOIN survey_draw_members d ON d.member_id = m.id "
            f"WHERE d.draw_id = {draw_id} AND m.unit = 'u1' AND d.reserve = false")).scalar()
    from outcomes.pseudonym import load_key, pseudonymise

    main_ref = next(r for r in ("198503124425", "CASE-7")
                    if pseudonymise(load_key(), "test-contract", r) == main_u1)
    shown = "19850312-4425" if main_ref.startswith("1985") else main_ref
    bad = (f"participant_id,attempt,channel,outcome,date\n{shown},1,phone,no_answer,2021-10-01\n"
           f"{shown},2,phone,no_answer,2021-10-02\n{shown},3,phone,no_answer,2021-10-03\n"
           f"{shown},4,phone,answered,2021-10-04\nCASE-9,1,phone,answered,2021-10-01\n")
    write(tmp_path, "contacts.csv", bad)
    refused = sib("survey", "contacts", str(draw_id), "contacts.csv")
    assert refused.code == 1
    assert "contacts.csv: row 5, column attempt: at most 3 phone attempts per person" in refused.err
    assert "contacts.csv: row 6, column participant_id: this person was not drawn in draw" in refused.err
    assert "19850312" not in refused.err + refused.out
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(SurveyContactRow)).scalar() == 0
    good = (f"participant_id,attempt,channel,outcome,date\n{shown},1,phone,no_answer,2021-10-01\n"
            f"{shown},2,phone,answered,2021-10-02\n")
    write(tmp_path, "contacts.csv", good)
    assert sib("survey", "contacts", str(draw_id), "contacts.csv").code == 0
    results = json.loads(sib("survey", "results", "test-contract", "--year", "2021", "--json").out)
    assert results["nonresponse"]["sex"][0]["frame"] >= 1
    from outcomes.fieldwork import response

    people = response(engine, draw_id)
    by_unit = people.groupby("unit")[["in_sample", "answered"]].sum()
    assert by_unit.loc["u1"].tolist() == [1, 1] and by_unit.loc["u2"].tolist() == [1, 0]
    from outcomes.fieldwork import status

    due = {r["unit"]: (r["sample"], r["answered"], r["rate"], r["due"]) for r in status(engine, "test-contract")}
    assert due == {"u1": (1, 1, 1.0, 0), "u2": (1, 0, 0.0, 1)}


def test_a_unit_not_in_the_organisation_file_is_refused_row_by_row_with_nothing_stored(sib, tmp_path: Path) -> None:
    assert sib("init").code == 0 and sib("keys", "init").code == 0
    write(tmp_path, "c.yaml", CONTRACT)
    write(tmp_path, "org.yaml", ORGANISATION)
    sib("contract", "load", "c.yaml")
    sib("organisation", "load", "org.yaml")
    write(tmp_path, "d.csv", "participant_id,unit,start\nCASE-1,u9,2021-01-01\nCASE-2,u1,2021-01-01\n"
                             "CASE-3,u8,2021-13-01\n")
    result = sib("survey", "frame", "test-contract", "--year", "2021", "--decisions", "d.csv")
    assert result.code == 1
    assert result.err.splitlines()[:3] == [
        "d.csv: row 2, column unit: 'u9' is not a unit of organisation city in 2021",
        "d.csv: row 4, column start: not a date; write YYYY-MM-DD",
        "d.csv: row 4, column unit: 'u8' is not a unit of organisation city in 2021",
    ]
    from store.db import open_store

    with open_store().connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM survey_frames")).scalar() == 0


def test_old_answers_are_converted_by_the_migration_or_kept_apart_with_a_record(sqlite_url: str, tmp_path: Path) -> None:
    """A store at 0009 holding answers coded under version 1 (1 = worst): questions 1, 2, 4 and 5 become
    6 - old; questions 3 and 6 (five steps then, four in the source) stay version 1, recorded as refused."""
    from alembic import command

    from store.db import alembic_config, make_engine

    config = alembic_config(sqlite_url)
    command.upgrade(config, "0009")
    engine = make_engine(sqlite_url)
    terms = {"id": "old", "metrics": [{"id": f"q{i}", "instrument": "skr_user_questions", "question": q}
                                      for i, q in enumerate(SKR, start=1)]}
    with engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO contracts (id, name, currency, source, created_at) VALUES "
                             "('old', 'Old', 'SEK', 'x', '2020-01-01')"))
        conn.execute(sa.text("INSERT INTO contract_versions (contract_id, version, effective, reason, fingerprint, "
                             "terms, loaded_at) VALUES ('old', 1, '2020-01-01', 'x', 'f', :t, '2020-01-01')"),
                     {"t": json.dumps(terms)})
        conn.execute(sa.text("INSERT INTO import_batches (contract_id, kind, filename, sha256, rows, summary, "
                             "created_at, created_by) VALUES ('old', 'survey', 'a.csv', 's', 3, '{}', '2020-01-01', 'x')"))
        for metric, value in (("q1", 5), ("q1", 1), ("q1", None), ("q3", 5), ("q6", 2), ("q4", 4)):
            conn.execute(sa.text("INSERT INTO survey_answers (contract_id, metric, answered_on, value, batch_id) "
                                 "VALUES ('old', :m, '2020-12-01', :v, 1)"), {"m": metric, "v": value})
    command.upgrade(config, "head")
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT metric, value, instrument_version FROM survey_answers ORDER BY id")).all()
        records = conn.execute(sa.text("SELECT question, to_version, rows, reason FROM instrument_conversions "
                                       "ORDER BY id")).all()
    assert [tuple(r) for r in rows] == [("q1", 1.0, 2), ("q1", 5.0, 2), ("q1", None, 2), ("q3", 5.0, 1),
                                        ("q6", 2.0, 1), ("q4", 2.0, 2)]
    assert [(r[0], r[1], r[2]) for r in records] == [("situation_change", 2, 3), ("overall_satisfaction", 2, 1),
                                                     ("importance_of_support", None, 1), ("influence", None, 1)]
    assert records[2][3].startswith("not converted")


def test_the_run_and_the_report_show_survey_questions_as_favourable_shares(followup) -> None:
    from datetime import date

    from api.reports.report import build_report, render_html
    from contracts.registry import get_contract
    from evaluation.run import evaluate

    engine, contract, key, tmp = followup
    rows = [("2020-12-01", "u1", "25-34", "k", 1, 2, 1, 1, 1, 1), ("2020-12-02", "u1", "25-34", "m", 2, 3, 5, 2, 2, 4),
            ("2020-12-03", "u1", "35-44", "k", 3, 3, None, 6, 3, 5), ("2020-12-04", "u1", "35-44", "m", 4, 5, None, 4, 5, 3)]
    _load(engine, contract, key, tmp, rows)
    run = evaluate(engine, get_contract(engine, contract.id), date(2021, 6, 1))
    q1, q4 = run.result("q1"), run.result("q4")
    assert (q1.treated_mean, q1.n_treated, q1.diagnostics["dont_know"]) == (0.5, 4, 0)
    assert (q4.treated_mean, q4.n_treated, q4.diagnostics["dont_know"]) == (pytest.approx(2 / 3), 3, 1)
    low, high = proportion_confint(2, 3, alpha=0.05, method="wilson")
    assert q4.diagnostics["mean_ci"] == pytest.approx([low, high]) and not q4.is_effect
    html = render_html(build_report(engine, contract.id, run.id, lang="sv"))
    assert "Hur nöjd eller missnöjd är du sammantaget med det stöd du fått från socialtjänsten?" in html
    assert "1 Mycket nöjd, 2 Ganska nöjd" in html
    assert "Brukaruppföljning 2020 per enhet" in html and "Andel positiva svar" in html  # on the full 0-100 % scale


def test_the_api_gives_the_results_per_level_suppressed(followup) -> None:
    from fastapi.testclient import TestClient

    from api.access import add_user
    from api.http.app import create_app
    from contracts.organisation import load_organisation_text, store_organisation

    engine, contract, key, tmp = followup
    store_organisation(engine, load_organisation_text(ORGANISATION, "org.yaml"), ORGANISATION, "org.yaml")
    rows = [("2021-11-0%d" % (1 + i % 9), unit, "25-34", "k", 1, 2, 1, 1, 1, 1)
            for unit, n in {"u1": 4, "u2": 1, "u3": 4}.items() for i in range(n)]
    _load(engine, contract, key, tmp, rows)
    token = add_user(engine, "payer-1", "payer", [contract.id], party="city")
    client = TestClient(create_app(engine))
    got = client.get(f"/api/v1/contracts/{contract.id}/followup?level=district&year=2021",
                     headers={"Authorization": f"Bearer {token}", "Accept-Language": "sv"})
    assert got.status_code == 200, got.text
    cells = {c["group"]: c for c in got.json()["questions"][0]["cells"]}
    assert set(cells) == {"north"} and cells["north"]["answered"] == 9 and cells["north"]["name"] == "Norra"
    units = client.get(f"/api/v1/contracts/{contract.id}/followup?level=unit&year=2021",
                       headers={"Authorization": f"Bearer {token}"}).json()["questions"][0]["cells"]
    shown = {c["group"]: c["answered"] for c in units}
    assert shown["u2"] is None and sum(v is None for v in shown.values()) >= 2  # u2 and one to protect it
    bad = client.get(f"/api/v1/contracts/{contract.id}/followup?level=street",
                     headers={"Authorization": f"Bearer {token}"})
    assert bad.status_code == 422


def test_answers_from_a_unit_not_in_the_organisation_file_are_refused_with_nothing_stored(followup) -> None:
    from contracts.organisation import load_organisation_text, store_organisation

    engine, contract, key, tmp = followup
    store_organisation(engine, load_organisation_text(ORGANISATION, "org.yaml"), ORGANISATION, "org.yaml")
    text = _answers([("2021-12-01", "u1", "25-34", "k", 1, 2, 1, 1, 1, 1),
                     ("2021-12-02", "u9", "25-34", "m", 2, 2, 1, 1, 1, 1),
                     ("2020-12-02", "u3", "25-34", "m", 2, 2, 1, 1, 1, 1),   # u3 was in the south in 2020: fine
                     ("2019-12-02", "u1", "25-34", "m", 2, 2, 1, 1, 1, 1)])  # before u1 was placed
    with pytest.raises(IngestRefused) as refused:
        ingest_file(engine, contract, write(tmp, "s.csv", text), "survey", key)
    assert [str(e) for e in refused.value.report.errors] == [
        "row 3, column unit: 'u9' is not a unit of organisation city in 2021",
        "row 5, column unit: 'u1' is not a unit of organisation city in 2019"]
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(SurveyAnswerRow)).scalar() == 0


def test_an_organisation_file_is_checked_whole_and_a_stored_version_never_changes(engine) -> None:
    from contracts.organisation import load_organisation_text, store_organisation

    bad = ORGANISATION.replace("{id: u3, name: Enhet 3, district: north, area: benefit, from: 2021}",
                               "{id: u3, name: Enhet 3, district: east, area: benefit, from: 2020}").replace(
        "district: south, area: care, from: 2020}", "district: south, area: care, from: 2020, to: 2019}")
    with pytest.raises(ContractFileError) as refused:
        load_organisation_text(bad, "org.yaml")
    assert [str(p) for p in refused.value.problems] == [
        "org.yaml:11: units[3].from: unit u3 is placed twice for the same years (see units[2]); a unit belongs to "
        "one district and area at a time",
        "org.yaml:11: units[3].district: east is not a district of this organisation; known: north, south",
        "org.yaml:12: units[4].to: unit u4: 'to' (2019) is before 'from' (2020)",
    ]
    org = load_organisation_text(ORGANISATION, "org.yaml")
    assert store_organisation(engine, org, ORGANISATION, "org.yaml") is True
    assert store_organisation(engine, org, ORGANISATION, "org.yaml") is False
    with pytest.raises(ContractFileError, match="already stored with other content"):
        store_organisation(engine, org, ORGANISATION + "\n# changed\n", "org.yaml")
