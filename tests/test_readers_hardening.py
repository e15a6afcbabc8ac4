"""Readers that refuse what they cannot read exactly (issue 15, part 3): each attack that was accepted wrongly,
crashed or hung is now a clear error naming its row and column, a single line in the CLI and a 4xx in the API,
and the store is left exactly as it was.  Stores: SQLite and PostgreSQL (the ``engine`` and ``sib`` fixtures).
"""

from __future__ import annotations

import os
import zipfile
from pathlib import Path
from typing import Iterable

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from contracts.model import FileMapping
from outcomes.ingest import IngestRefused, ingest_file
from outcomes.readers import XLSX_MAX_ROWS, UnreadableFile
from store.tables import MeasurementRow
from tests.helpers import DATA, MINIMAL, row_counts, stored_minimal, write

PEOPLE = "participant_id,start,school_year,sex\nCASE-001,2020-02-01,4,female\nCASE-002,2020-03-15,9,male\n"
DAYS = """metrics:
  - id: days
    name: Care days
    kind: count
    direction: lower_is_better
    window: {start_months: 0, end_months: 12}
    aggregation: sum
    evaluation: {design: fixed_baseline, baseline: 120}
"""
WITH_DAYS = MINIMAL.replace("metrics:\n", DAYS, 1)


# -- helpers --------------------------------------------------------------------------------------------------------

def registered(engine, key, tmp_path: Path, text: str = MINIMAL):
    contract = stored_minimal(engine, text).latest.terms
    ingest_file(engine, contract, write(tmp_path, "people.csv", PEOPLE), "participants", key)
    return contract


def refused(engine, contract, path: Path, kind: str, key: bytes, mapping: FileMapping | None = None) -> list[str]:
    """The errors of a refused file, checking that its refusal is all the store gained."""
    before = row_counts(engine)
    with pytest.raises(IngestRefused) as caught:
        ingest_file(engine, contract, path, kind, key, mapping=mapping)
    after = row_counts(engine)
    assert after.pop("audit_events") == before.pop("audit_events") + 1  # the refusal, recorded
    assert after == before, "a refused file must leave the store's data unchanged"
    return [str(e) for e in caught.value.report.errors]


def unreadable(engine, contract, path: Path, kind: str, key: bytes, mapping: FileMapping | None = None) -> str:
    """The one line of a file that cannot be read at all, checking that the store kept only the refusal."""
    before = row_counts(engine)
    with pytest.raises(UnreadableFile) as caught:
        ingest_file(engine, contract, path, kind, key, mapping=mapping)
    after = row_counts(engine)
    assert after.pop("audit_events") - before.pop("audit_events") in (0, 1)  # a regular file's refusal is recorded
    assert after == before, "an unreadable file must leave the store's data unchanged"
    return str(caught.value)


def stored_values(engine) -> list[float]:
    with engine.connect() as conn:
        return [float(v) for v in conn.execute(sa.select(MeasurementRow.value).order_by(MeasurementRow.id)).scalars()]


CONTENT_TYPES = (b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
                 b'<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
                 b'<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
                 b'<Default Extension="xml" ContentType="application/xml"/>'
                 b'<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.'
                 b'spreadsheetml.sheet.main+xml"/><Override PartName="/xl/worksheets/sheet1.xml" ContentType='
                 b'"application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/></Types>')
RELS = (b'<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" '
        b'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" '
        b'Target="xl/workbook.xml"/></Relationships>')
WORKBOOK = (b'<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
            b'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets>'
            b'<sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>')
WORKBOOK_RELS = (b'<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
                 b'<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
                 b'worksheet" Target="worksheets/sheet1.xml"/></Relationships>')


def cell(ref: str, value: str) -> bytes:
    """One cell: a number, text, or a formula ``=F`` with its saved value ``=F|V`` (or none: ``=F|``)."""
    if value.startswith("="):
        formula, _, saved = value[1:].partition("|")
        return f'<c r="{ref}"><f>{formula}</f>{f"<v>{saved}</v>" if saved else ""}</c>'.encode()
    try:
        float(value)
        return f'<c r="{ref}"><v>{value}</v></c>'.encode()
    except ValueError:
        return f'<c r="{ref}" t="inlineStr"><is><t>{value}</t></is></c>'.encode()


def xlsx_rows(rows: Iterable[list[str]]) -> Iterable[bytes]:
    for number, values in enumerate(rows, start=1):
        yield (f'<row r="{number}">'.encode() + b"".join(cell(f"{chr(65 + i)}{number}", v) for i, v in enumerate(values))
               + b"</row>")


def write_xlsx(path: Path, rows: Iterable[bytes], dimension: str | None = None) -> Path:
    """A minimal workbook written row by row (a sheet of millions of rows stays small in memory and on disk)."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", CONTENT_TYPES)
        archive.writestr("_rels/.rels", RELS)
        archive.writestr("xl/workbook.xml", WORKBOOK)
        archive.writestr("xl/_rels/workbook.xml.rels", WORKBOOK_RELS)
        with archive.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as sheet:
            sheet.write(b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
                        + (f'<dimension ref="{dimension}"/>'.encode() if dimension else b"") + b"<sheetData>")
            for row in rows:
                sheet.write(row)
            sheet.write(b"</sheetData></worksheet>")
    return path


def bomb_rows(n: int) -> Iterable[bytes]:
    yield b'<row r="1"><c r="A1" t="inlineStr"><is><t>participant_id</t></is></c></row>'
    row = b'<row><c t="inlineStr"><is><t>CASE-001</t></is></c></row>'
    for start in range(1, n, 100_000):
        yield row * min(100_000, n - start)


# -- 1. an unclosed quote -------------------------------------------------------------------------------------------

def test_an_unclosed_quote_is_an_error_naming_its_row_not_a_swallowed_row(engine, key, tmp_path: Path) -> None:
    contract = registered(engine, key, tmp_path)
    header = "participant_id,metric,date,value,source\n"
    never_closed = 'row 2: a quote (") on this line is never closed: the lines after it would be read as one cell'
    line_break = ("row 2, column source: the cell contains a line break: an unclosed quote? The rows after it would "
                  "be read as its text")
    swallowing = header + 'CASE-001,attendance,2020-03-01,0.9,"school\nCASE-002,attendance,2020-04-01,0.95,school\n'
    assert refused(engine, contract, write(tmp_path, "m1.csv", swallowing), "measurements", key) == [
        never_closed, line_break]
    # Closed by a later stray quote, the swallowed line is part of one cell: the line break in it is refused.
    closed_later = header + ('CASE-001,attendance,2020-03-01,0.9,"school\nCASE-002,attendance,2020-04-01,0.95,'
                             'school"\nCASE-002,attendance,2020-05-01,0.95,school\n')
    assert refused(engine, contract, write(tmp_path, "m2.csv", closed_later), "measurements", key) == [line_break]
    # On the last line it swallows nothing, but the cell is still not what was written.
    last = header + 'CASE-001,attendance,2020-03-01,0.9,"school\n'
    assert refused(engine, contract, write(tmp_path, "m3.csv", last), "measurements", key) == [never_closed]


# -- 2. thousands separators ----------------------------------------------------------------------------------------

def test_thousands_separators_are_refused_unless_the_mapping_declares_them_and_then_read_exactly(
        engine, key, tmp_path: Path) -> None:
    contract = registered(engine, key, tmp_path, WITH_DAYS)
    header = "participant_id,metric,date,value\n"
    text = header + "CASE-001,days,2020-03-01,\"1,000\"\nCASE-002,days,2020-04-01,1.000\nCASE-002,days,2020-05-01,1 000\n"
    assert refused(engine, contract, write(tmp_path, "m.csv", text), "measurements", key) == [
        "row 2, column value: '1,000' could be a number with a thousands separator or with a decimal mark; declare "
        "decimal (and thousands) in the mapping to read it",
        "row 3, column value: '1.000' could be a number with a thousands separator or with a decimal mark; declare "
        "decimal (and thousands) in the mapping to read it",
        "row 4, column value: '1 000' has a thousands separator; declare thousands (and decimal) in the mapping to "
        "read it"]
    swedish = FileMapping.model_validate({"decimal": ",", "thousands": " "})
    other = write(tmp_path, "m2.csv", header + "CASE-001,days,2020-03-01,1.000\n")
    assert refused(engine, contract, other, "measurements", key, swedish) == [
        "row 2, column value: '1.000' is not a number in the mapping's form (decimal comma, thousands ' ')"]
    good = write(tmp_path, "m3.csv", header + "CASE-001,days,2020-03-01,1 000\nCASE-002,days,2020-04-01,1\u00a0234\n"
                                              "CASE-002,days,2020-05-01,12\n")
    assert ingest_file(engine, contract, good, "measurements", key, mapping=swedish).status == "accepted"
    assert stored_values(engine) == [1000.0, 1234.0, 12.0]


# -- 3. underflow and overflow --------------------------------------------------------------------------------------

def test_underflow_and_overflow_are_errors_naming_row_and_column(engine, key, tmp_path: Path) -> None:
    contract = registered(engine, key, tmp_path)
    text = "participant_id,metric,date,value\nCASE-001,attendance,2020-03-01,1e-400\nCASE-002,attendance,2020-04-01,1e400\n"
    expected = ["row 2, column value: '1e-400' is out of range for a number (it would be read as infinity or as 0)",
                "row 3, column value: '1e400' is out of range for a number (it would be read as infinity or as 0)"]
    assert refused(engine, contract, write(tmp_path, "m.csv", text), "measurements", key) == expected
    lines = ('{"participant_id": "CASE-001", "metric": "attendance", "date": "2020-03-01", "value": 1e-400}\n'
             '{"participant_id": "CASE-002", "metric": "attendance", "date": "2020-04-01", "value": 1e400}\n')
    assert refused(engine, contract, write(tmp_path, "m.jsonl", lines), "measurements", key) == [
        e.replace("row 2", "row 1").replace("row 3", "row 2") for e in expected]


# -- 4. formula cells -----------------------------------------------------------------------------------------------

def test_xlsx_formula_cells_are_refused_unless_cached_values_are_allowed_and_present(engine, key, tmp_path: Path) -> None:
    contract = registered(engine, key, tmp_path)
    header = ["participant_id", "metric", "date", "value"]
    saved = write_xlsx(tmp_path / "saved.xlsx", xlsx_rows([header, ["CASE-001", "attendance", "2020-03-01",
                                                                    "=0.5+0.4|0.9"]]))
    assert refused(engine, contract, saved, "measurements", key) == [
        "row 2, column value: a formula cell: an .xlsx file is read as values; save the values, or declare formulas: "
        "cached in the mapping to read the value Excel last saved"]
    unsaved = write_xlsx(tmp_path / "unsaved.xlsx", xlsx_rows([header, ["CASE-001", "attendance", "2020-03-01",
                                                                        "=0.5+0.4|"]]))
    cached = FileMapping(formulas="cached")
    assert refused(engine, contract, unsaved, "measurements", key, cached) == [
        "row 2, column value: a formula cell with no saved value: open and save the workbook in Excel, or save the "
        "values"]
    assert ingest_file(engine, contract, saved, "measurements", key, mapping=cached).status == "accepted"
    assert stored_values(engine) == [0.9]


# -- 5. duplicate JSON keys -----------------------------------------------------------------------------------------

def test_duplicate_json_keys_are_an_error_naming_row_and_key(engine, key, tmp_path: Path) -> None:
    contract = registered(engine, key, tmp_path)
    lines = ('{"participant_id": "CASE-001", "metric": "attendance", "date": "2020-03-01", "value": 0.9}\n'
             '{"participant_id": "CASE-002", "metric": "attendance", "date": "2020-04-01", "value": 0.2, "Value": 0.95}\n')
    assert refused(engine, contract, write(tmp_path, "m.jsonl", lines), "measurements", key) == [
        "row 2, column value: key 'value' appears twice in the object"]


# -- 6. mixed encodings ---------------------------------------------------------------------------------------------

def test_mixed_encodings_are_an_error_naming_the_line_and_never_reinterpreted(engine, key, tmp_path: Path) -> None:
    contract = stored_minimal(engine).latest.terms
    header = "participant_id,start,school_year,sex\n"
    mixed = tmp_path / "mixed.csv"
    mixed.write_bytes((header + "CASE-Å01,2020-02-01,4,female\n").encode() + "CASE-Ö02,2020-03-01,5,male\n".encode(
        "cp1252"))
    assert unreadable(engine, contract, mixed, "participants", key) == (
        "mixed.csv: line 3 is not UTF-8, but other lines are; a file must be in one encoding: save it as CSV UTF-8 "
        "(or declare encoding: cp1252 in the mapping if it is Windows-1252)")
    windows = write(tmp_path, "windows.csv", header + "CASE-Å01,2020-02-01,4,female\n", "cp1252")
    assert unreadable(engine, contract, windows, "participants", key, FileMapping(encoding="utf-8")) == (
        "windows.csv: line 2 is not UTF-8 text, as the mapping declares the file to be")
    report = ingest_file(engine, contract, windows, "participants", key)  # wholly Windows-1252: read, and said
    assert report.status == "accepted" and [n.code for n in report.notes] == ["outcomes.windows_1252"]


# -- 7. what crashed: one line in the CLI, a 4xx in the API with the same words ---------------------------------------

def crashing_files(folder: Path) -> dict[str, tuple[str, Path, str]]:
    """name -> (kind, file, the one line that refuses it)."""
    folder.mkdir(exist_ok=True)
    (folder / "csv.xlsx").write_text(PEOPLE)
    (folder / "corrupt.xlsx").write_bytes(b"PK\x03\x04" + bytes(range(256)) * 8)
    (folder / "deep.jsonl").write_text('{"participant_id": "CASE-001", "start": "2020-02-01", "school_year": 4, '
                                       '"sex": "female"}\n{"participant_id": ' + "[" * 100_000 + "]" * 100_000 + "}\n")
    (folder / "bomb.xlsx").unlink(missing_ok=True)
    write_xlsx(folder / "bomb.xlsx", bomb_rows(XLSX_MAX_ROWS + 2))
    return {
        "csv in xlsx": ("participants", folder / "csv.xlsx", "csv.xlsx is not a readable .xlsx workbook: BadZipFile"),
        "corrupt xlsx": ("participants", folder / "corrupt.xlsx",
                         "corrupt.xlsx is not a readable .xlsx workbook: BadZipFile"),
        "deep jsonl": ("participants", folder / "deep.jsonl",
                       "deep.jsonl refused: 1 error; nothing was stored"),
        "xlsx bomb": ("participants", folder / "bomb.xlsx",
                      f"bomb.xlsx has a sheet of {XLSX_MAX_ROWS + 2:,} rows; the limit is {XLSX_MAX_ROWS:,}"),
    }


@pytest.fixture(scope="module")
def crashing(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[str, Path, str]]:
    return crashing_files(tmp_path_factory.mktemp("crashing"))


def test_files_that_crashed_are_one_line_in_the_cli(sib, tmp_path: Path, crashing) -> None:
    assert sib("init").code == 0 and sib("keys", "init").code == 0
    assert sib("contract", "load", DATA / "minimal.yaml").code == 0
    from tests.helpers import snapshot

    before = snapshot(os.environ["DATABASE_URL"], skip=("audit_events",))
    for name, (kind, path, line) in crashing.items():
        result = sib("ingest", "test-contract", path, "--kind", kind)
        assert result.code == 1 and "Traceback" not in result.err, name
        if name == "deep jsonl":  # read, and refused by row: the row's line, then the summary
            assert result.err == ("deep.jsonl: row 2: nested deeper than 32 levels; expected one flat object per "
                                  f"line\nerror: {line}\n"), name
        else:
            assert result.err == f"error: {line}\n", name
    dated = write(tmp_path, "dated.csv", "participant_id,start,school_year,sex\nCASE-001,-2022-05-01,4,female\n")
    result = sib("ingest", "test-contract", dated, "--kind", "participants")
    assert (result.code, result.err) == (1, "dated.csv: row 2, column start: '-2022-05-01' is not a date; expected "
                                            "YYYY-MM-DD or YYYYMMDD\nerror: dated.csv refused: 1 error; nothing was "
                                            "stored\n")
    assert snapshot(os.environ["DATABASE_URL"], skip=("audit_events",)) == before


@pytest.fixture
def api(engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """An app on the store with the minimal contract, a key, and a provider's token."""
    from api.access import add_user
    from api.http import create_app
    from outcomes.pseudonym import init_key

    monkeypatch.setenv("SIB_KEY_FILE", str(init_key(tmp_path / "sib.key")))
    stored_minimal(engine)
    token = add_user(engine, "provider-1", "provider", ["test-contract"], party="provider")
    client = TestClient(create_app(engine))

    def upload(path: Path, kind: str, name: str | None = None):
        return client.post("/api/v1/contracts/test-contract/batches", data={"kind": kind},
                           files={"file": (name or path.name, path.read_bytes())},
                           headers={"Authorization": f"Bearer {token}"})

    return upload


def test_files_that_crashed_are_a_4xx_in_the_api_with_the_same_words(engine, api, tmp_path: Path, crashing) -> None:
    before = row_counts(engine)
    for name, (kind, path, line) in crashing.items():
        response = api(path, kind)
        assert response.status_code == 422, name
        assert response.json()["error"]["message"] == line, name
    dated = write(tmp_path, "dated.csv", "participant_id,start,school_year,sex\nCASE-001,-2022-05-01,4,female\n")
    response = api(dated, "participants")
    assert response.status_code == 422 and response.json()["error"]["details"]["errors"][0]["reason"] == (
        "'-2022-05-01' is not a date; expected YYYY-MM-DD or YYYYMMDD")
    after = row_counts(engine)
    assert after.pop("audit_events") >= before.pop("audit_events") and after == before


# -- 8. NUL bytes ---------------------------------------------------------------------------------------------------

def test_a_nul_byte_past_the_first_megabyte_is_refused_by_row_and_column(engine, key, tmp_path: Path) -> None:
    contract = registered(engine, key, tmp_path)
    rows = [f"CASE-00{1 + i % 2},attendance,2020-{3 + i % 2:02d}-{1 + i // 2 % 28:02d},0.9,school" for i in range(20)]
    filler = "participant_id,metric,date,value,source\n" + "\n".join(rows) + "\n"
    padding = "\n" * (1 << 20)  # blank lines: skipped, but they push the NUL past the first megabyte
    text = filler + padding + "CASE-001,attendance,2020-06-01,0.9,sch\x00ool\n"
    path = write(tmp_path, "m.csv", text)
    assert path.stat().st_size > 1 << 20
    assert refused(engine, contract, path, "measurements", key)[-1:] == [
        f"row {len(rows) + 2 + (1 << 20)}, column source: the cell contains a NUL character (binary data); refused"]


# -- 9. pipes and devices -------------------------------------------------------------------------------------------

def test_non_regular_files_are_refused_not_read(sib, tmp_path: Path) -> None:
    assert sib("init").code == 0 and sib("keys", "init").code == 0
    assert sib("contract", "load", DATA / "minimal.yaml").code == 0
    fifo = tmp_path / "delivery.csv"
    os.mkfifo(fifo)  # opened for reading, it would wait for a writer for ever
    for path in (fifo, Path("/dev/zero")):
        result = sib("ingest", "test-contract", path, "--kind", "participants")
        assert (result.code, result.err) == (
            1, f"error: {path} is not a regular file (a pipe, a device or a socket); give a data file\n")


# -- 10. limits, enforced before the work ---------------------------------------------------------------------------

def billion_laughs(levels: int = 9) -> str:
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, levels + 1)]
    return "\n".join(lines) + "\n"


def test_limits_refuse_yaml_bombs_and_xlsx_bombs_before_the_work(sib, engine, key, tmp_path: Path) -> None:
    cases = {
        "laughs.yaml": (billion_laughs(), "laughs.yaml:6: expands to more than 100,000 values through its aliases "
                                          "(*name); refused before reading further"),
        "deep.yaml": ("a: " + "[" * 100_000 + "]" * 100_000 + "\n",
                      "deep.yaml:1: nested deeper than 64 levels; refused before reading further"),
        "big.yaml": ("description: '" + "x" * (1 << 20) + "'\n",
                     "big.yaml:1: the file has 1,048,592 characters; a contract file may have at most 1,048,576"),
    }
    for name, (text, line) in cases.items():
        write(tmp_path, name, text)
        result = sib("contract", "validate", name)  # the folder the CLI runs in
        assert (result.code, result.err) == (1, line + "\n"), name
    assert sib("contract", "validate", DATA.parent.parent / "examples" / "hasselby_school.yaml").code == 0  # aliases

    contract = stored_minimal(engine).latest.terms
    claimed = write_xlsx(tmp_path / "claimed.xlsx", bomb_rows(2), dimension="A1:A3000000")
    assert unreadable(engine, contract, claimed, "participants", key) == (
        "claimed.xlsx has a sheet of 3,000,000 rows; the limit is 1,048,576")
    counted = write_xlsx(tmp_path / "counted.xlsx", bomb_rows(3_000_000))
    assert counted.stat().st_size < 2 << 20  # millions of rows in a file of two megabytes
    assert unreadable(engine, contract, counted, "participants", key) == (
        "counted.xlsx has a sheet of 3,000,000 rows; the limit is 1,048,576")


def test_limits_in_the_api_are_4xx(engine, api, tmp_path: Path) -> None:
    before = row_counts(engine)
    deep = write(tmp_path, "deep.jsonl", '{"participant_id": ' + "[" * 100_000 + "]" * 100_000 + "}\n")
    response = api(deep, "participants")
    assert (response.status_code, response.json()["error"]["message"]) == (
        422, "deep.jsonl: line 1 is nested deeper than 32 levels; expected one flat object per line")
    bomb = write_xlsx(tmp_path / "bomb.xlsx", bomb_rows(3_000_000))
    response = api(bomb, "participants")
    assert (response.status_code, response.json()["error"]["message"]) == (
        422, "bomb.xlsx has a sheet of 3,000,000 rows; the limit is 1,048,576")
    after = row_counts(engine)
    assert after.pop("audit_events") >= before.pop("audit_events") and after == before


# -- 11. an upload past its time budget -----------------------------------------------------------------------------

def test_an_upload_past_its_time_budget_is_refused_with_503_and_stores_nothing(
        engine, api, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    before = row_counts(engine)
    monkeypatch.setenv("SIB_UPLOAD_SECONDS", "0")  # no time at all: the worker is stopped before it answers
    response = api(write(tmp_path, "people.csv", PEOPLE), "participants")
    assert response.status_code == 503 and response.json()["error"] == {
        "status": 503, "code": "too_slow", "details": None,
        "message": "people.csv was not checked within 0 seconds, the limit for an upload; nothing was stored: send "
                   "it in smaller files, or have the intermediary run 'sib ingest'"}
    assert row_counts(engine) == before
    monkeypatch.setenv("SIB_UPLOAD_SECONDS", "300")  # the same file with time to spare: stored, by the worker
    accepted = api(write(tmp_path, "people.csv", PEOPLE), "participants")
    assert (accepted.status_code, accepted.json()["status"], accepted.json()["rows"]) == (201, "accepted", 2)
    assert row_counts(engine)["participants"] == before["participants"] + 2


def test_cell_checks_in_arrow_match_python_per_cell():
    """too_long and formula_like run in Arrow (a million-row file has millions of cells); they must flag exactly
    what a per-cell Python check flags: characters not bytes, missing cells unflagged, other objects handled."""
    import pandas as pd

    from outcomes.values import FORMULA_START, MAX_CELL, formula_like, too_long

    cells = ["=SUM(A1)", "@cmd", "ok", "", None, "é" * MAX_CELL, "é" * (MAX_CELL + 1), " =a", "a=b", "+1", "-1"]
    text = pd.Series(cells, index=range(100, 100 + len(cells)), dtype=object)
    expect_long = [c is not None and len(c) > MAX_CELL for c in cells]
    expect_formula = [c is not None and c.startswith(FORMULA_START) for c in cells]
    assert too_long(text).tolist() == expect_long
    assert formula_like(text).tolist() == expect_formula
    assert list(too_long(text).index) == list(text.index)
    mixed = pd.Series(["=x", 12], dtype=object)  # not all text: the per-cell path, same answer for the text
    assert bool(formula_like(mixed).iloc[0]) is True
