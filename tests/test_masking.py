"""No clear personal identity number leaves the engine, on any path, in any written form.

Numbers are generated (valid personnummer and samordningsnummer, every written form: with or without the
century, with '-', '+', a space, an en dash, an em dash, a minus sign, an underscore or nothing between), planted
in every input position a delivery or a user controls (a cell, a header cell, a JSON key, a file name, a mapping,
the contract's text, a rejection reason, a user's name), and every output is searched for them: the CLI's
lines and JSON, the ``--errors`` reports, the log file, the API's answers, and every row of the store, on both
databases.  A number counts as leaked when its ten digits after the century appear in an output with the
separators taken out, which no masked form (YYMMDD-****) can produce.
"""

from __future__ import annotations

import json
import logging
import random
import re
from datetime import date, timedelta
from pathlib import Path
from typing import Any, Iterator

import pytest
from fastapi.testclient import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st

from language.masking import mask_text, mask_value, one_line
from outcomes import personnummer
from tests import helpers
from tests.helpers import MINIMAL
from tests.test_pages import log_in

TODAY = date(2026, 11, 22)
SEPARATORS_12 = ("", "-", " ", "\u2013", "\u2014", "\u2212", "_")
SEPARATORS_10 = ("", "-", "+", " ", "\u2013", "_", "\u00a0")


def number(born: date, serial: int, coordination: bool = False) -> str:
    """A valid twelve-digit number (YYYYMMDDNNNC) for someone born on ``born``."""
    day = born.day + (60 if coordination else 0)
    nine = f"{born:%y%m}{day:02d}{serial:03d}"
    return f"{born.year:04d}{born:%m}{day:02d}{serial:03d}{personnummer.luhn_digit(nine)}"


def forms(n: str) -> list[str]:
    """Every written form of the twelve-digit ``n``."""
    return [n[:8] + s + n[8:] for s in SEPARATORS_12] + [n[2:8] + s + n[8:] for s in SEPARATORS_10]


def leaked(n: str, text: str) -> bool:
    return n[2:] in re.sub(r"\D", "", text) or any(f in text for f in forms(n))


def generated(rng: random.Random, count: int) -> list[str]:
    out = []
    while len(out) < count:
        born = date(1920, 1, 1) + timedelta(days=rng.randrange(0, (date(2019, 12, 31) - date(1920, 1, 1)).days))
        n = number(born, rng.randrange(0, 1000), coordination=rng.random() < 0.3)
        personnummer.parse(n, TODAY)  # valid, as generated
        if n not in out:
            out.append(n)
    return out


# -- the masking function itself ------------------------------------------------------------------------------------

BORN = st.dates(date(1900, 1, 1), date(2025, 12, 31))
AROUND = st.text(st.characters(blacklist_categories=("Nd", "Cs")), max_size=12)


@settings(max_examples=400, deadline=None)
@given(born=BORN, serial=st.integers(0, 999), coordination=st.booleans(), which=st.integers(0, 13),
       before=AROUND, after=AROUND)
def test_every_written_form_is_masked_wherever_it_stands(born: date, serial: int, coordination: bool, which: int,
                                                         before: str, after: str) -> None:
    n = number(born, serial, coordination)
    written = forms(n)[which]
    masked = mask_text(before + written + after)
    assert not leaked(n, masked)
    assert masked == f"{before}{n[2:8]}-****{after}"  # the rest of the text is as it was


def test_what_is_not_a_number_is_left_alone() -> None:
    kept = ["1500000000", "amount 1234567890.00", "2024-05-01 12:30", "a1b2c3", "12 345 678,50 kr",
            "ab" * 32, "0123456789abcdef" * 4, "20241301-1234"]  # month 13 is no date
    assert [mask_text(t) for t in kept] == kept
    assert mask_value({"sha256": "9" * 64, "n": 3, "x": [f"see {number(date(1990, 1, 2), 123)}"]}) == {
        "sha256": "9" * 64, "n": 3, "x": ["see 900102-****"]}


def test_a_log_line_stays_one_line_and_masked() -> None:
    n = number(date(1988, 1, 4), 608)
    forged = f"file_{n}.csv accepted\n2026-11-30 INFO sib.ingest batch 99: forged"
    line = one_line(forged)
    assert "\n" not in line and "\\n" in line and not leaked(n, line)


# -- every position, every output, both stores ------------------------------------------------------------------------

CONTRACT = MINIMAL.replace("  description: Pupils in school years 4-9\n",
                           "  description: Pupils in school years 4-9\n  identifier: personnummer\n", 1)
HEADER = "participant_id,start,school_year,sex"
FORMS = len(SEPARATORS_12) + len(SEPARATORS_10)


def _files(person: str, planted: list[str], newcomer: str) -> list[tuple[str, str, str, str]]:
    """(position, kind, file name, text): each file plants every one of ``planted`` (written forms of different
    numbers) in one position.  ``person`` is a registered participant's valid number, ``newcomer`` one not yet
    registered."""
    row = f"{person},2020-02-01,5,female"
    other = [f"{n[:-1]}{(int(n[-1]) + 1) % 10}" if n[-1].isdigit() else n for n in planted]  # wrong check digit
    key = {"participant_id": person, "start": "2020-02-01", "school_year": 5, "sex": "female"}
    first = ",".join(planted[:4])
    return [
        ("cell", "participants", "cell.csv", HEADER + "\n" + "".join(f"{person},2020-02-01,{p},female\n"
                                                                      for p in planted)),
        ("identifier cell", "participants", "id.csv", HEADER + "\n" + "".join(f"{p},2020-02-01,5,female\n"
                                                                             for p in other)),
        ("header cell", "participants", "header.csv",
         f"{HEADER},{','.join(planted)}\n{row}{',x' * len(planted)}\n"),
        ("no header line", "participants", "noheader.csv", f"{first}\n{row}\n"),
        ("column twice", "participants", "twice.csv", f"{HEADER},{planted[0]},{planted[0]}\n{row},1,2\n"),
        ("json key", "participants", "key.jsonl", json.dumps(dict(key, **{p: 1 for p in planted})) + "\n"),
        ("file name", "participants", f"leverans {' '.join(planted[:5])}.csv",
         f"{HEADER}\n{newcomer},2020-02-01,5,female\n"),
        ("free text", "measurements", "source.csv", "participant_id,metric,date,value,source\n" + "".join(
            f"{person},attendance,2020-06-{i + 1:02d},0.9,register {p}\n" for i, p in enumerate(planted))),
    ]


@pytest.fixture
def planted_world(sib, any_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    log = tmp_path / "sib.log"
    monkeypatch.setenv("SIB_LOG_FILE", str(log))
    logger = logging.getLogger("sib")
    assert sib("init").code == 0
    assert sib("keys", "init").code == 0
    yield {"log": log, "url": any_url}
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
        handler.close()


def test_no_planted_number_reaches_any_output_or_either_store(sib, planted_world: dict[str, Any],
                                                              tmp_path: Path) -> None:
    rng = random.Random(20261130)
    outputs: list[str] = []

    def run(*args: Any) -> Any:
        result = sib(*args)
        outputs.extend([result.out, result.err])
        return result

    # The contract's own text and file name, and a user's name.
    contract_number, user_number, person, newcomer = generated(rng, 4)
    text = CONTRACT.replace("Pupils in school years 4-9", f"Pupils, e.g. {forms(contract_number)[3]}", 1)
    text = text.replace("reason: Price raised", f"reason: Price raised for {contract_number}", 1)
    contract_file = tmp_path / f"contract {forms(contract_number)[8]}.yaml"
    contract_file.write_text(text, encoding="utf-8")
    assert run("contract", "validate", contract_file).code == 0
    assert run("contract", "load", contract_file).code == 0
    run("contract", "show", "test-contract")
    run("contract", "show", "test-contract", "--json")
    added = run("users", "add", f"Anna {forms(user_number)[1]}", "--role", "intermediary", "--contract",
                "test-contract", "--json")
    token = json.loads(added.out)["token"]
    (tmp_path / "people.csv").write_text(f"{HEADER}\n{person},2020-02-01,5,female\n")
    assert run("ingest", "test-contract", tmp_path / "people.csv", "--kind", "participants").code == 0

    from api.http import create_app
    from store.db import open_store

    engine = open_store(planted_world["url"])
    client = TestClient(create_app(engine))
    auth = {"Authorization": f"Bearer {token}"}
    planted = [contract_number, user_number]
    for position, *_ in _files(person, ["0"] * FORMS, newcomer):
        numbers = generated(rng, FORMS)  # a new number for each written form, in each position
        planted += numbers
        written = [forms(n)[i] for i, n in enumerate(numbers)]
        _, kind, name, text = next(f for f in _files(person, written, newcomer) if f[0] == position)
        path = tmp_path / position.replace(" ", "_") / name
        path.parent.mkdir()
        path.write_text(text, encoding="utf-8")
        for report in ("e.csv", "e.json"):
            run("ingest", "test-contract", path, "--kind", kind, "--dry-run", "--errors", tmp_path / report)
            if (tmp_path / report).exists():
                outputs.append((tmp_path / report).read_text(encoding="utf-8-sig"))
                (tmp_path / report).unlink()
        run("ingest", "test-contract", path, "--kind", kind, "--json", "--dry-run")
        run("ingest", "test-contract", path, "--kind", kind)  # refused deliveries are audited; good ones stored
        with open(path, "rb") as fh:
            answer = client.post("/api/v1/contracts/test-contract/batches", headers=auth, data={"kind": kind},
                                 files={"file": (path.name, fh, "text/csv")}, params={"dry_run": "true"})
        assert answer.status_code < 500, answer.text
        outputs.append(answer.text)
    # A mapping naming a column by a number, over a file whose columns are numbers: the error lists both.
    numbers = generated(rng, FORMS)
    planted += numbers
    written = [forms(n)[i] for i, n in enumerate(numbers)]
    mapping = helpers.write(tmp_path, "mapping.yaml", f"columns:\n  participant_id: '{written[0]}'\n")
    path = helpers.write(tmp_path, "mapped.csv", f"start,school_year,sex,{','.join(written[1:])}\n"
                                                 f"2020-02-01,5,female{',1' * (FORMS - 1)}\n")
    assert run("ingest", "test-contract", path, "--kind", "participants", "--mapping", mapping).code == 1
    run("ingest", "test-contract", path, "--kind", "participants", "--mapping", mapping, "--json")
    for args in (("batches", "test-contract"), ("batches", "test-contract", "--json"), ("users", "list"),
                 ("users", "list", "--json"), ("contract", "list", "--json")):
        run(*args)
    for path in ("/api/v1/contracts/test-contract", "/api/v1/contracts/test-contract/batches"):
        outputs.append(client.get(path, headers=auth).text)
    assert log_in(client, token).status_code == 303
    for lang in ("sv", "en"):  # the intermediary's work page lists refused deliveries and their first errors
        page = client.get(f"/contracts/test-contract/work?lang={lang}")
        assert page.status_code == 200 and "noheader.csv" in page.text
        outputs.append(page.text)
    engine.dispose()

    outputs.append(planted_world["log"].read_text(encoding="utf-8"))
    assert "accepted" in outputs[-1] and "refused" in outputs[-1]  # the log was written
    stored = json.dumps(helpers.snapshot(planted_world["url"]), ensure_ascii=False)
    assert "leverans" in stored and "register" in stored  # the accepted file's name and its sources were stored
    assert len(planted) == 2 + FORMS * (len(_files(person, ["0"] * FORMS, newcomer)) + 1)
    hits = [(n, i) for n in planted for i, text in enumerate(outputs + [stored]) if leaked(n, text)]
    assert hits == []
    everything = "".join(outputs) + stored
    assert not leaked(person, everything) and not leaked(newcomer, everything)  # valid identifiers: only hashed


def test_a_rejection_reason_and_an_approval_note_are_stored_masked(engine, tmp_path: Path) -> None:
    from evaluation.run import evaluate
    from outcomes.batches import verify_batch
    from outcomes.ingest import ingest_file
    from outcomes.pseudonym import init_key, load_key
    from payments.calculate import calculate
    from payments.evidence import FLAGS
    from payments.ledger import take_step, verify_chain
    from store.seal import key_file
    from tests.test_api import measurements, people

    key_path = init_key(tmp_path / "sib.key")
    with key_file(key_path):
        stored = helpers.stored_minimal(engine)
        for kind, text in (("participants", people("A", 20)), ("measurements", measurements("A", 20))):
            path = helpers.write(tmp_path, f"{kind}.csv", text)
            verify_batch(engine, ingest_file(engine, stored.latest.terms, path, kind, load_key(key_path)).batch_id)
        entries = [e["seq"] for e in calculate(engine, stored, evaluate(engine, stored, date(2022, 6, 30)))]
        n, m = generated(random.Random(7), 2)
        take_step(engine, stored.id, entries[:1], "rejected", "finance", f"wrong person: {forms(n)[4]}")
        take_step(engine, stored.id, entries[1:2], "approved", "finance", f"checked against {forms(m)[9]}",
                  acknowledged=list(FLAGS))
        assert verify_chain(engine, stored.id).ok  # masked before it was hashed and sealed
    snapshot = json.dumps(helpers.snapshot(engine), ensure_ascii=False)
    assert f"wrong person: {n[2:8]}-****" in snapshot and f"checked against {m[2:8]}-****" in snapshot
    assert not leaked(n, snapshot) and not leaked(m, snapshot)


def test_file_text_is_printed_literally_and_a_file_name_cannot_forge_a_log_line(sib, planted_world: dict[str, Any],
                                                                                tmp_path: Path) -> None:
    assert sib("contract", "load", helpers.write(tmp_path, "c.yaml", CONTRACT.replace(
        "name: Test contract", "name: '[link=https://evil.example]Test[/link] :x: [bold]contract'", 1))).code == 0
    shown = sib("contract", "show", "test-contract")
    assert "[link=https://evil.example]Test[/link] :x: [bold]contract" in shown.out and "❌" not in shown.out
    forged = tmp_path / "people.csv\n2026-11-30 04:00:00,000 INFO sib.ingest batch 99: forged.csv accepted, 9 rows"
    forged.write_text(f"{HEADER}\n{generated(random.Random(3), 1)[0]},2020-02-01,5,[link=x]y[/link]\n")
    refused = sib("ingest", "test-contract", forged, "--kind", "participants")
    assert refused.code == 1 and "[link=x]y[/link]" in refused.err
    lines = planted_world["log"].read_text(encoding="utf-8").splitlines()
    assert len(lines) == 1 and "batch 99" in lines[0] and "\\n2026-11-30" in lines[0]
    assert "refused" in lines[0]


def test_a_store_written_before_masking_has_its_free_text_masked_on_upgrade(any_url: str) -> None:
    import sqlalchemy as sa
    from alembic import command

    from store.db import alembic_config, head_revision, init_store

    n, m = generated(random.Random(11), 2)
    command.upgrade(alembic_config(any_url), "0008")
    raw = sa.create_engine(any_url)
    with raw.begin() as conn:
        conn.execute(sa.text("INSERT INTO contracts (id, name, currency, source, created_at) VALUES "
                             "('old', 'Old', 'SEK', :source, '2020-01-01 00:00:00')"), {"source": f"c_{n}.yaml"})
        conn.execute(sa.text("INSERT INTO import_batches (contract_id, kind, filename, sha256, rows, summary, "
                             "created_at, created_by) VALUES ('old', 'participants', :name, :digest, 1, '{}', "
                             "'2020-01-01 00:00:00', 'cli:x')"), {"name": f"leverans {forms(m)[2]}.csv",
                                                                  "digest": "9" * 64})
    assert init_store(any_url) == ("0008", head_revision())
    with raw.connect() as conn:
        source = conn.execute(sa.text("SELECT source FROM contracts")).scalar_one()
        row = conn.execute(sa.text("SELECT filename, sha256 FROM import_batches")).one()
    raw.dispose()
    assert source == f"c_{n[2:8]}-****.yaml"
    assert tuple(row) == (f"leverans {m[2:8]}-****.csv", "9" * 64)
