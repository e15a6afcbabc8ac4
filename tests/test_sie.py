"""SIE 4 export of the ledger (payments/sie.py, `sib ledger export`): the booking rule, the file, a strict reader."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest

from payments.sie import (Accounts, AccountsError, SieError, load_accounts, parse_sie, pc8, step_day, vouchers,
                          write_sie)

D = Decimal
ACCOUNTS = Accounts(expense="4590", liability="2440", bank="1930")


def entry(seq: int, amount: str, mechanism: str = "card", kind: str = "calculation", currency: str = "SEK") -> dict:
    return {"seq": seq, "contract_id": "hasselby-school", "period": "2025-Q1", "mechanism": mechanism,
            "cohort": "cohort-2021", "payer": "district", "kind": kind, "amount": D(amount), "currency": currency}


def step(seq: int, entry_seq: int, status: str, day: str, hour: str = "10:00:00", by: str = "ekonom") -> dict:
    return {"seq": seq, "entry_seq": entry_seq, "status": status, "at": f"{day}T{hour}.000000Z", "by": by,
            "note": "reason" if status == "rejected" else None}


def rows(voucher) -> list[tuple[str, Decimal]]:
    return [(t.account, t.amount) for t in voucher.transactions]


# -- the booking rule ---------------------------------------------------------------------------------------------

def test_an_approval_books_the_cost_against_the_liability() -> None:
    [v] = vouchers([entry(1, "1000.50")], [step(1, 1, "approved", "2025-03-01")], ACCOUNTS)
    assert (v.series, v.number, v.day, v.kind, v.entry) == ("A", 1, date(2025, 3, 1), "approval", 1)
    assert rows(v) == [("4590", D("1000.50")), ("2440", D("-1000.50"))]
    assert v.total == 0 and v.text == "Utfallsbetalning hasselby-school post 1 godkänd" and v.by == "ekonom"


def test_a_payment_clears_the_liability_from_the_bank_and_invoicing_books_nothing() -> None:
    steps = [step(1, 1, "approved", "2025-03-01"), step(2, 1, "invoiced", "2025-03-10"),
             step(3, 1, "paid", "2025-04-02")]
    approval, payment = vouchers([entry(1, "1000.50")], steps, ACCOUNTS)
    assert payment.kind == "payment" and payment.number == 3 and payment.day == date(2025, 4, 2)
    assert rows(payment) == [("2440", D("1000.50")), ("1930", D("-1000.50"))]
    assert payment.text.endswith("post 1 betald")
    # over both vouchers the expense is debited once and the liability is back at zero
    totals: dict[str, Decimal] = {}
    for v in (approval, payment):
        for account, amount in rows(v):
            totals[account] = totals.get(account, D(0)) + amount
    assert totals == {"4590": D("1000.50"), "2440": D("0.00"), "1930": D("-1000.50")}


def test_a_rejection_after_approval_reverses_it_on_the_rejection_date() -> None:
    entries = [entry(1, "2500.00", mechanism="milestones"), entry(2, "300.00")]
    accounts = Accounts(expense="4590", liability="2440", bank="1930", by_mechanism={"milestones": "4591"})
    steps = [step(1, 1, "approved", "2025-03-01"), step(2, 2, "rejected", "2025-03-02"),
             step(3, 1, "rejected", "2025-03-20")]
    approval, reversal = vouchers(entries, steps, accounts)  # entry 2 was never approved: nothing to reverse
    assert rows(approval) == [("4591", D("2500.00")), ("2440", D("-2500.00"))]
    assert reversal.kind == "reversal" and reversal.day == date(2025, 3, 20) and reversal.number == 3
    assert rows(reversal) == [("2440", D("2500.00")), ("4591", D("-2500.00"))]  # the same expense account
    assert reversal.text == "Utfallsbetalning hasselby-school post 1 avvisad, godkännandet återfört"


def test_an_attestation_alone_books_nothing() -> None:
    steps = [step(1, 1, "attested", "2025-03-01", by="a"), step(2, 1, "rejected", "2025-03-02")]
    assert vouchers([entry(1, "900000.00")], steps, ACCOUNTS) == []
    steps = [step(1, 1, "attested", "2025-03-01", by="a"), step(2, 1, "approved", "2025-03-03", by="b")]
    [v] = vouchers([entry(1, "900000.00")], steps, ACCOUNTS)
    assert v.kind == "approval" and v.day == date(2025, 3, 3) and v.by == "b"


def test_a_negative_adjustment_turns_the_signs() -> None:
    entries = [entry(1, "1000.00"), entry(2, "-250.25", kind="adjustment")]
    steps = [step(1, 1, "approved", "2025-03-01"), step(2, 2, "approved", "2025-06-01"),
             step(3, 2, "invoiced", "2025-06-02"), step(4, 2, "paid", "2025-06-03")]
    _, approval, payment = vouchers(entries, steps, ACCOUNTS)
    assert rows(approval) == [("4590", D("-250.25")), ("2440", D("250.25"))]  # the cost credited back
    assert rows(payment) == [("2440", D("-250.25")), ("1930", D("250.25"))]  # money comes back to the bank
    assert "post 2 (justering) godkänd" in approval.text
    assert all(v.total == 0 for v in (approval, payment))


def test_only_steps_dated_within_the_period_inclusive() -> None:
    entries = [entry(1, "100.00"), entry(2, "200.00"), entry(3, "300.00")]
    steps = [step(1, 1, "approved", "2025-02-28", "23:59:59"), step(2, 2, "approved", "2025-03-01", "00:00:00"),
             step(3, 3, "approved", "2025-03-31", "23:59:59"), step(4, 1, "rejected", "2025-03-15"),
             step(5, 2, "invoiced", "2025-03-20"), step(6, 2, "paid", "2025-04-01", "00:00:00")]
    booked = vouchers(entries, steps, ACCOUNTS, start=date(2025, 3, 1), end=date(2025, 3, 31))
    assert [(v.number, v.kind, v.entry) for v in booked] == [(2, "approval", 2), (3, "approval", 3),
                                                             (4, "reversal", 1)]  # approved before, reversed within
    assert [v.number for v in vouchers(entries, steps, ACCOUNTS, start=date(2025, 4, 1))] == [6]
    assert [v.number for v in vouchers(entries, steps, ACCOUNTS, end=date(2025, 2, 28))] == [1]
    assert len(vouchers(entries, steps, ACCOUNTS)) == 5


def test_the_date_is_the_utc_date_of_the_step() -> None:
    assert step_day("2025-03-01T23:30:00.000000Z") == date(2025, 3, 1)
    assert step_day("2025-03-02T00:30:00+02:00") == date(2025, 3, 1)
    assert step_day(datetime(2025, 3, 1, 23, 0, tzinfo=timezone(timedelta(hours=-2)))) == date(2025, 3, 2)


def test_other_payers_entries_zero_amounts_and_floats() -> None:
    steps = [step(1, 1, "approved", "2025-03-01"), step(2, 9, "approved", "2025-03-01"),
             step(3, 2, "approved", "2025-03-01")]
    assert [v.entry for v in vouchers([entry(1, "10.00"), entry(2, "0.00")], steps, ACCOUNTS)] == [1]
    with pytest.raises(TypeError, match="Decimal"):
        vouchers([dict(entry(1, "10.00"), amount=10.0)], steps, ACCOUNTS)
    with pytest.raises(ValueError, match="minor unit"):
        vouchers([entry(1, "10.005")], steps, ACCOUNTS)


# -- the file -----------------------------------------------------------------------------------------------------

def sample_file(**extra) -> bytes:
    accounts = Accounts(expense="4590", liability="2440", bank="1930", by_mechanism={"card": "4591"},
                        names={"4591": "Köp av huvudverksamhet, utfallsbetalningar", "2440": "Leverantörsskulder"},
                        series="B")
    entries = [entry(1, "1234567.89"), entry(2, "-0.50", mechanism="other", kind="adjustment")]
    steps = [step(1, 1, "approved", "2025-03-01", by='Åsa "ekonomichef" Öberg'), step(2, 2, "approved", "2025-03-02"),
             step(3, 1, "invoiced", "2025-03-03"), step(4, 1, "paid", "2025-03-04")]
    booked = vouchers(entries, steps, accounts)
    return write_sie(booked, company_name="Hässelby-Vällingby stadsdelsförvaltning", contract_id="hasselby-school",
                     currency="SEK", accounts=accounts, generated=date(2025, 3, 5), program_version="1.2.3+gabc",
                     signature="cli:ekonom", **extra)


def test_the_file_is_pc8_with_crlf_and_the_records_in_their_order() -> None:
    data = sample_file(fiscal_year=(date(2025, 1, 1), date(2025, 12, 31)))
    assert "Hässelby".encode("cp437") in data and b"\x84" in data  # ä in codepage 437
    assert data.endswith(b"}\r\n") and data.count(b"\n") == data.count(b"\r\n")
    lines = data.decode("cp437").split("\r\n")
    assert lines[:9] == ["#FLAGGA 0", '#PROGRAM "sib" "1.2.3+gabc"', "#FORMAT PC8", '#GEN 20250305 "cli:ekonom"',
                         "#SIETYP 4", '#PROSA "Utfallsbetalningar enligt utfallskontrakt hasselby-school"',
                         '#FNAMN "Hässelby-Vällingby stadsdelsförvaltning"', "#RAR 0 20250101 20251231",
                         "#VALUTA SEK"]
    assert lines[9:13] == ['#KONTO 1930 "Bank"', '#KONTO 2440 "Leverantörsskulder"',
                           '#KONTO 4590 "Utfallsbetalningar"',
                           '#KONTO 4591 "Köp av huvudverksamhet, utfallsbetalningar"']
    assert lines[13:17] == ["#KTYP 1930 T", "#KTYP 2440 S", "#KTYP 4590 K", "#KTYP 4591 K"]
    assert lines[17:22] == [
        '#VER B 1 20250301 "Utfallsbetalning hasselby-school post 1 godkänd" 20250301 "Åsa \\"ekonomichef\\" Öberg"',
        "{", '   #TRANS 4591 {} 1234567.89 20250301 "2025-Q1 card cohort-2021"',
        '   #TRANS 2440 {} -1234567.89 20250301 "2025-Q1 card cohort-2021"', "}"]
    assert '   #TRANS 4590 {} -0.50 20250302 "2025-Q1 other cohort-2021"' in lines  # no "-0,50", no "+"


def test_write_then_read_gives_the_same_vouchers() -> None:
    parsed = parse_sie(sample_file())
    assert parsed["flag"] == 0 and parsed["format"] == "PC8" and parsed["sie_type"] == 4
    assert parsed["company_name"] == "Hässelby-Vällingby stadsdelsförvaltning" and parsed["currency"] == "SEK"
    assert parsed["generated"] == date(2025, 3, 5) and parsed["program"] == {"name": "sib", "version": "1.2.3+gabc"}
    assert parsed["accounts"]["4591"] == "Köp av huvudverksamhet, utfallsbetalningar"
    assert parsed["account_types"] == {"1930": "T", "2440": "S", "4590": "K", "4591": "K"}
    first, second, third = parsed["vouchers"]
    assert (first["series"], first["number"], first["date"], first["sign"]) == \
        ("B", 1, date(2025, 3, 1), 'Åsa "ekonomichef" Öberg')
    assert [(t["account"], t["amount"]) for t in first["transactions"]] == \
        [("4591", D("1234567.89")), ("2440", D("-1234567.89"))]
    assert second["text"] == "Utfallsbetalning hasselby-school post 2 (justering) godkänd"
    assert (third["number"], third["date"]) == (4, date(2025, 3, 4))
    assert [(t["account"], t["amount"]) for t in third["transactions"]] == \
        [("2440", D("1234567.89")), ("1930", D("-1234567.89"))]


def test_financial_year_currency_and_words_codepage_437_lacks() -> None:
    with pytest.raises(ValueError, match="outside the financial year"):
        sample_file(fiscal_year=(date(2024, 1, 1), date(2024, 12, 31)))
    booked = vouchers([entry(1, "1500", currency="JPY")], [step(1, 1, "approved", "2025-03-01")], ACCOUNTS)
    data = write_sie(booked, company_name="x", contract_id="c", currency="JPY", accounts=ACCOUNTS,
                     generated=date(2025, 3, 1), program_version="1")
    assert b"#TRANS 4590 {} 1500 20250301" in data and parse_sie(data)["currency"] == "JPY"
    with pytest.raises(SieError, match="at most two decimals, but BHD has 3"):
        write_sie([], company_name="x", contract_id="c", currency="BHD", accounts=ACCOUNTS,
                  generated=date(2025, 3, 1), program_version="1")
    assert pc8("Łódź – “kommun” €5\\x\ttab") == "Lódz - \"kommun\" EUR5/x tab"
    assert pc8("Å Ä Ö å ä ö é ü") == "Å Ä Ö å ä ö é ü"


# -- the strict reader --------------------------------------------------------------------------------------------

GOOD = ['#FLAGGA 0', '#PROGRAM "sib" 1', '#FORMAT PC8', '#GEN 20250305', '#SIETYP 4', '#FNAMN "Kommunen"',
        '#KONTO 2440 "Leverantörsskulder"', '#KONTO 4590 "Kostnad"',
        '#VER A 1 20250301 "Godkänd"', '{', '#TRANS 4590 {} 100.00', '#TRANS 2440 {} -100.00', '}']


def sie(lines: list[str], ending: str = "\r\n") -> bytes:
    return (ending.join(lines) + ending).encode("cp437")


def changed(index: int, line: str | None) -> bytes:
    lines = list(GOOD)
    if line is None:
        del lines[index]
    else:
        lines[index] = line
    return sie(lines)


def test_the_reader_takes_a_plain_file_with_lf_object_lists_and_corrections() -> None:
    lines = GOOD[:-1] + ['#BTRANS 4590 {} 40.00', '#RTRANS 4590 {1 "456" 6 "SIB 1"} 40.00',
                         '#TRANS 4590 {1 "456" 6 "SIB 1"} 40.00', '#TRANS 2440 {} -40.00 "" "" 0', '}',
                         '', '#VER "" "" 20250302 "Utan nummer"', '{', '#TRANS 4590 {} 1', '#TRANS 2440 {} -1', '}']
    parsed = parse_sie(sie(lines, "\n"))
    first, second = parsed["vouchers"]
    assert first["transactions"][2]["objects"] == [("1", "456"), ("6", "SIB 1")]
    assert len(first["transactions"]) == 4 and len(first["added"]) == 1 and len(first["removed"]) == 1
    assert second["number"] is None and second["series"] == ""


@pytest.mark.parametrize("data, message", [
    (changed(11, "#TRANS 2440 {} -99.99"), "line 9: voucher A 1 does not balance: its amounts add up to 0.01, not 0"),
    (changed(11, "#TRANS 2441 {} -100.00"), "line 12: account 2441 is not declared with #KONTO"),
    (changed(8, '#VER A 1 20250230 "Godkänd"'), "line 9: voucher date '20250230' is not a date (YYYYMMDD)"),
    (changed(3, "#GEN 2025-03-05"), "line 4: #GEN date '2025-03-05' is not a date"),
    (changed(10, "#TRANS 4590 {} 100.001"), "line 11: amount '100.001' is not an amount"),
    (changed(10, "#TRANS 4590 {} +100.00"), "line 11: amount '+100.00' is not an amount"),
    (changed(10, "#TRANS 4590 {} 100,00"), "line 11: amount '100,00' is not an amount"),
    (changed(10, "#TRANS 4590 100.00"), "line 11: #TRANS needs an object list after the account"),
    (changed(6, '#KONTO 24A0 "Skuld"'), "line 7: #KONTO account '24A0' is not numeric"),
    (changed(5, None), "mandatory record missing: #FNAMN"),
    (changed(0, "#FLAGGA 2"), "line 1: #FLAGGA is 0 or 1"),
    (changed(2, "#FORMAT UTF8"), "line 3: #FORMAT must be PC8"),
    (sie(GOOD[:5] + GOOD[6:7] + GOOD[5:6] + GOOD[7:]), "line 7: #FNAMN is among identification records, which "
                                                         "come before the chart of accounts (spec 5.12)"),
    (sie(GOOD[1:]), "line 1: the first record must be #FLAGGA"),
    (changed(9, "{ #TRANS 4590 {} 100.00"), "line 10: the #VER on line 9 must be followed by '{' alone on a line"),
    (sie(GOOD[:-1]), "the #VER block of line 9 is not closed"),
    (sie(GOOD[:8] + ["#TRANS 4590 {} 1"]), "line 9: #TRANS outside a #VER block"),
    (sie(GOOD + ['#VER A 1 20250302 "Igen"', "{", "#TRANS 4590 {} 1", "#TRANS 2440 {} -1", "}"]),
     "line 14: voucher A 1 after A 1; numbers within a series ascend"),
    (sie(GOOD[:1] + ["#KSUMMA"] + GOOD[1:]), "opens a #KSUMMA checksum but does not close it"),
    (changed(5, "#FNAMN Kommunen #SALDO"), None),  # extra fields at the end of a record are allowed (7.3)
    (sie(GOOD[:6] + ["#BUDGET 1"] + GOOD[6:]), "line 7: #BUDGET is not a label of SIE 4B"),
    (changed(8, '#VER A 1 20250301 "Godkänd\x07"'), "line 9: control character 7"),
    (changed(8, '#VER A 1 20250301 "Godkänd'), "line 9: a quoted field is not closed"),
    (changed(10, "#IB 0 4590 100.00"), "line 11: '#IB' inside the #VER block of line 9"),
    (sie(GOOD[:4] + ["#SIETYP 4"] + GOOD[4:]), "line 6: a second #SIETYP"),
    ("\n".join(GOOD).encode("cp437"), "the last record does not end with a line feed"),
    (sie(GOOD).replace("Leverantörsskulder".encode("cp437"), "Leverantörsskulder".encode("utf-8")),
     "the file is UTF-8 encoded"),
    (sie(GOOD[:6] + ["#RAR 0 20240101 20241231"] + GOOD[6:]),
     "line 10: voucher A 1 is dated 2025-03-01, outside every financial year of #RAR"),
])
def test_the_reader_refuses_what_the_specification_does_not_allow(data: bytes, message: str | None) -> None:
    if message is None:
        parse_sie(data)
        return
    with pytest.raises(ValueError) as caught:
        parse_sie(data)
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


# -- the account mapping ------------------------------------------------------------------------------------------

def mapping(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "konton.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_an_account_mapping_keeps_every_number_as_written(tmp_path: Path) -> None:
    accounts = load_accounts(mapping(tmp_path, (
        "expense: 4590\nliability: '2440'\nbank: 0193\nseries: LEV1\n"
        "by_mechanism:\n  attendance-card: 45901\n  milestones: 4590\n"
        "names:\n  '2440': Leverantörsskulder\n  45901: Köp av huvudverksamhet\n")))
    assert accounts == Accounts(expense="4590", liability="2440", bank="0193", series="LEV1",
                                by_mechanism={"attendance-card": "45901", "milestones": "4590"},
                                names={"2440": "Leverantörsskulder", "45901": "Köp av huvudverksamhet"})
    assert accounts.name_of("0193") == "Bank" and accounts.name_of("45901") == "Köp av huvudverksamhet"


@pytest.mark.parametrize("text, message", [
    ("expense: 45x0\nliability: 2440\nbank: 1930\n",
     "konton.yaml, line 1: expense '45x0' is not an account number (1 to 10 digits)"),
    ("expense: 4590.0\nliability: 2440\nbank: 1930\n", "expense '4590.0' is not an account number"),
    ("expense: 4590\nliability: 2440\nbank: 12345678901\n", "line 3: bank '12345678901' is not an account number"),
    ("expense: 4590\nliability: 2440\n", "konton.yaml: the bank account is missing"),
    ("expense: 4590\nliability: 2440\nbank: 1930\nkonto: 1\n", "line 4: unknown key 'konto'"),
    ("expense: 4590\nliability: 2440\nbank: 1930\nbank: 1931\n", "line 4: 'bank' is given twice"),
    ("expense: 4590\nliability: 1930\nbank: 1930\n", "account 1930 is given both as liability and as bank"),
    ("expense: 4590\nliability: 2440\nbank: 1930\nby_mechanism: {card: 2440}\n",
     "account 2440 is given both as liability and as by_mechanism.card"),
    ("expense: 4590\nliability: 2440\nbank: 1930\nby_mechanism: 4591\n", "line 4: by_mechanism must list"),
    ("expense: 4590\nliability: 2440\nbank: 1930\nseries: A-1\n", "line 4: series 'A-1' is not a voucher series"),
    ("expense: 4590\nliability: 2440\nbank: 1930\nnames: {'4590': ''}\n", "the name of account 4590 must be text"),
    ("- 4590\n- 2440\n", "an account mapping names the expense, liability and bank accounts"),
    ("expense: [4590\n", "konton.yaml, line 2: not YAML"),
])
def test_a_bad_account_mapping_is_one_clear_line(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(AccountsError) as caught:
        load_accounts(mapping(tmp_path, text))
    assert message in str(caught.value) and "\n" not in str(caught.value)


def test_an_unreadable_mapping(tmp_path: Path) -> None:
    with pytest.raises(AccountsError, match="cannot read the account mapping .*nope.yaml"):
        load_accounts(tmp_path / "nope.yaml")


# -- `sib ledger export` ------------------------------------------------------------------------------------------

def _take(engine, contract: str, seq: int, status: str, who: str, note: str | None = None) -> str:
    """Take one step directly on the store (the CLI's steps need a user token); acknowledge evidence flags,
    and approve a second time when the first approval was only an attestation."""
    from payments.ledger import StepRefused, take_step

    try:
        taken = take_step(engine, contract, [seq], status, who, note)
    except StepRefused as exc:
        codes = dict(exc.message.params).get("codes")
        if not codes:
            raise
        taken = take_step(engine, contract, [seq], status, who, note or "accepted for the test", acknowledged=codes)
    if taken[0]["status"] == "attested":
        return _take(engine, contract, seq, status, f"{who}-second", note)
    return taken[0]["status"]


def test_sib_ledger_export_writes_a_sie_file_the_reader_accepts(demo_copy, tmp_path: Path) -> None:
    from payments.ledger import read_ledger
    from store.db import open_store

    folder, sib = demo_copy
    contract = "norrkoping-foster-care"
    engine = open_store()
    seqs = [int(s) for s in read_ledger(engine, contract)["seq"]]
    assert seqs, "the demo has ledger entries"
    assert _take(engine, contract, seqs[0], "approved", "finance:approver") == "approved"
    assert _take(engine, contract, seqs[0], "invoiced", "finance:clerk") == "invoiced"
    assert _take(engine, contract, seqs[0], "paid", "finance:treasurer") == "paid"
    engine.dispose()
    (folder / "konton.yaml").write_text("expense: 4590\nliability: 2440\nbank: 1930\n"
                                        "names: {'4590': Köp av huvudverksamhet}\n", encoding="utf-8")
    today = datetime.now(timezone.utc).date().isoformat()
    done = sib("ledger", "export", contract, "--sie", folder / "LEVR.SI", "--accounts", folder / "konton.yaml",
               "--from", today, "--to", today)
    assert done.code == 0, done.err
    assert "Wrote" in done.out and "2 vouchers for 'norrkoping-foster-care'" in done.out
    assert "Accounts: expense 4590, liability 2440, bank 1930; voucher series A." in done.out
    parsed = parse_sie((folder / "LEVR.SI").read_bytes())
    assert parsed["company_name"] == "Norrköpings kommun (illustrativt)" and parsed["currency"] == "SEK"
    assert parsed["accounts"]["4590"] == "Köp av huvudverksamhet"
    approval, payment = parsed["vouchers"]
    assert approval["text"] == f"Utfallsbetalning {contract} post {seqs[0]} godkänd"
    assert [t["account"] for t in approval["transactions"]] == ["4590", "2440"]
    assert [t["account"] for t in payment["transactions"]] == ["2440", "1930"]
    assert approval["transactions"][0]["amount"] == payment["transactions"][0]["amount"] > 0

    as_json = json.loads(sib("ledger", "export", contract, "--sie", folder / "all.SI", "--accounts",
                             folder / "konton.yaml", "--json").out)
    assert as_json["count"] == 2 and as_json["payer"] == "norrkoping" and as_json["file"].endswith("all.SI")
    assert [v["kind"] for v in as_json["vouchers"]] == ["approval", "payment"]
    tomorrow = (datetime.now(timezone.utc).date() + timedelta(days=1)).isoformat()
    none = sib("ledger", "export", contract, "--sie", folder / "later.SI", "--accounts", folder / "konton.yaml",
               "--from", tomorrow)
    assert none.code == 0 and "no vouchers" in none.out
    assert parse_sie((folder / "later.SI").read_bytes())["vouchers"] == []


def test_sib_ledger_export_mistakes_are_one_line_and_write_nothing(demo_copy) -> None:
    folder, sib = demo_copy
    (folder / "bad.yaml").write_text("expense: 45x0\nliability: 2440\nbank: 1930\n", encoding="utf-8")
    (folder / "good.yaml").write_text("expense: 4590\nliability: 2440\nbank: 1930\n", encoding="utf-8")
    target = folder / "out.SI"
    cases = [
        (["norrkoping-foster-care", "--accounts", folder / "bad.yaml"],
         f"error: {folder / 'bad.yaml'}, line 1: expense '45x0' is not an account number (1 to 10 digits)"),
        (["norrkoping-foster-care", "--accounts", folder / "good.yaml", "--from", "2025-04-01", "--to", "2025-03-01"],
         "error: --from 2025-04-01 is after --to 2025-03-01; nothing was written"),
        (["norrkoping-foster-care", "--accounts", folder / "good.yaml", "--from", "2025-02-30"],
         "error: --from '2025-02-30' is not a date; expected YYYY-MM-DD"),
        (["norrkoping-foster-care"], "error: give the accounts to book on with --accounts FILE"),
        (["hasselby-school", "--accounts", folder / "good.yaml"],
         "error: contract 'hasselby-school' has several outcome payers (district, education); choose whose books "
         "with --payer"),
        (["hasselby-school", "--accounts", folder / "good.yaml", "--payer", "nobody"],
         "error: 'nobody' is not an outcome payer of 'hasselby-school'"),
        (["nope", "--accounts", folder / "good.yaml"], "error: "),
    ]
    for args, message in cases:
        done = sib("ledger", "export", args[0], "--sie", target, *args[1:])
        assert done.code == 1 and done.err.startswith(message), (args, done.err)
        assert len(done.err.strip().splitlines()) == 1 and not target.exists()
    done = sib("ledger", "export", "norrkoping-foster-care", "--sie", folder / "no" / "out.SI",
               "--accounts", folder / "good.yaml")
    assert done.code == 1 and "folder" in done.err and "does not exist" in done.err
    (folder / "mech.yaml").write_text("expense: 4590\nliability: 2440\nbank: 1930\nby_mechanism: {typo: 4591}\n",
                                      encoding="utf-8")
    done = sib("ledger", "export", "norrkoping-foster-care", "--sie", target, "--accounts", folder / "mech.yaml")
    assert done.code == 1 and "names mechanism typo, which 'norrkoping-foster-care' does not have" in done.err
    assert not target.exists()
    done = sib("ledger", "export", "hasselby-school", "--sie", target, "--accounts", folder / "good.yaml",
               "--payer", "education")
    assert done.code == 0 and "no vouchers" in done.out
    assert parse_sie(target.read_bytes())["company_name"] == "Utbildningsförvaltningen (illustrativt)"
