"""SIE 4 export of the payment ledger: the vouchers an outcome payer's finance system imports.

SIE (Standard Import Export) is the Swedish interchange format for accounting data, kept by
SIE-gruppen: *SIE filformat, utgåva 4B* (2008-09-30), https://sie.se/format/.  The file written here is
a **type 4 import file** ("4I", spec 4.7: vouchers from a pre-system into an accounting program; the
recommended file suffix is ``.SI``).  Pure functions, no database: ``vouchers`` turns ledger entries and
their steps into balanced vouchers, ``write_sie`` writes them as a SIE file, and ``parse_sie`` reads a
SIE 4 file strictly (it checks our files in the tests, and anyone's).

Booking rule — one voucher per ledger step, dated the step's date (the UTC date of its ``at``), numbered
with the step's sequence number in the contract's chain of steps, so two exports never give one voucher
two numbers (its text names the ledger entry):

| step | debit | credit |
|---|---|---|
| attested (the first of two approvers) | — | — |
| approved | expense account (the mechanism's, else the default) | liability (leverantörsskuld, upplupen kostnad) |
| invoiced | — | — |
| paid | liability account | bank account |
| rejected, after an approval | liability account | the same expense account (the approval reversed, that day) |
| rejected, never approved | — | — |

An adjustment entry with a negative amount books the same rows with the signs turned, which credits
the expense and debits the liability; an entry of zero books nothing.  Every voucher balances to exactly
zero; amounts are the ledger's, already rounded to the currency's minor unit.  Only steps dated within
``[start, end]`` (inclusive; ``None`` is open) become vouchers, but a rejection in the period reverses
an approval from before it.

The texts in the file are Swedish whatever language the CLI speaks (SIE is a Swedish format, read by
Swedish finance systems), as column names of the CSV downloads never change with the language.

Points of the specification this module follows (section numbers of 4B):

- 5.5: every record ends with a line feed; a carriage return before it is allowed (we write CRLF).
- 5.7: fields separated by spaces; a field is quoted when needed (we quote every text); a quote inside
  a field is written ``\\"``; no control characters (ASCII 0-31, 127) inside a text.
- 5.8 and #FORMAT: the character set is IBM PC 8-bit extended ASCII, codepage 437 (``#FORMAT PC8``).
- 5.9: amounts with a point as decimal separator, at most two decimals, a minus sign before a negative
  amount, never a plus sign, no thousands separator.  5.10: dates as ``YYYYMMDD``.
- 5.12: the flag record first, then identification records, then the chart of accounts, then vouchers.
- 6: for type 4I, #FLAGGA, #PROGRAM, #FORMAT, #GEN, #SIETYP and #FNAMN are mandatory; #RAR, #KONTO and
  #VALUTA are optional (we always declare the accounts used, as section 6 recommends); #IB, #UB, #RES,
  #PSALDO and #PBUDGET may not occur.
- #VER ``serie verno verdatum vertext regdatum sign`` followed by ``{``, the #TRANS records and ``}``,
  each brace alone on its line (5.4); numbered vouchers of a series in ascending number order.
- #TRANS ``kontonr {objektlista} belopp transdat transtext kvantitet sign``; the amounts of a voucher add
  up to zero; account numbers are numeric (#KONTO).
- #KSUMMA (section 10) is optional; we do not write it, and ``parse_sie`` checks that a file which opens a
  checksum also closes it (a truncated file), without recomputing it.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Iterable, Mapping

from language import MessageError
from payments.messages import TEXTS as P
from payments.money import MINOR_UNITS, ZERO, quantum

ACCOUNT = re.compile(r"^[0-9]{1,10}$")
SERIES = re.compile(r"^[A-Za-z0-9]{1,10}$")
KEYS = ("expense", "liability", "bank", "by_mechanism", "names", "series")

# What happened, in the voucher's text (Swedish: SIE files are read by Swedish finance systems).
KIND_WORDS = {"approval": "godkänd", "payment": "betald", "reversal": "avvisad, godkännandet återfört"}
DEFAULT_NAMES = {"expense": "Utfallsbetalningar", "liability": "Skuld utfallsbetalningar", "bank": "Bank"}
ACCOUNT_TYPES = {"expense": "K", "liability": "S", "bank": "T"}  # #KTYP: kostnad, skuld, tillgång


class AccountsError(MessageError, ValueError):
    """An account mapping file that cannot be used; nothing was written."""


class SieError(MessageError, ValueError):
    """Vouchers that cannot be written as a SIE file."""


# -- the account mapping ------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Accounts:
    """Which accounts of the payer's chart the ledger's steps are booked on.

    ``expense`` is debited when an entry is approved, unless ``by_mechanism`` names an account for the
    entry's mechanism; ``liability`` holds what is approved and not yet paid; ``bank`` is credited when
    it is paid.  ``names`` gives account names for #KONTO (default: Swedish names of the roles);
    ``series`` is the voucher series (default ``A``).
    """

    expense: str
    liability: str
    bank: str
    by_mechanism: Mapping[str, str] = field(default_factory=dict)
    names: Mapping[str, str] = field(default_factory=dict)
    series: str = "A"

    def __post_init__(self) -> None:
        for role in ("expense", "liability", "bank"):
            if not isinstance(getattr(self, role), str) or not ACCOUNT.match(getattr(self, role)):
                raise ValueError(f"{role} account {getattr(self, role)!r} is not an account number (1 to 10 digits)")
        for mechanism, account in self.by_mechanism.items():
            if not isinstance(account, str) or not ACCOUNT.match(account):
                raise ValueError(f"expense account {account!r} of mechanism {mechanism!r} is not an account number")
        if not SERIES.match(self.series):
            raise ValueError(f"series {self.series!r} is not a voucher series (1 to 10 letters or digits)")
        clash = _clash(self.expense, self.liability, self.bank, self.by_mechanism)
        if clash:
            raise ValueError(f"account {clash[0]} is given for both {clash[1]} and {clash[2]}")

    def expense_for(self, mechanism: str) -> str:
        return self.by_mechanism.get(mechanism, self.expense)

    def roles(self) -> dict[str, str]:
        """Every account of the mapping and its role (expense, liability or bank)."""
        roles = {self.expense: "expense", self.liability: "liability", self.bank: "bank"}
        roles.update({account: "expense" for account in self.by_mechanism.values()})
        return roles

    def name_of(self, account: str) -> str:
        if account in self.names:
            return self.names[account]
        mechanisms = sorted(m for m, a in self.by_mechanism.items() if a == account)
        if mechanisms and account != self.expense:
            return f"{DEFAULT_NAMES['expense']} {', '.join(mechanisms)}"
        return DEFAULT_NAMES[self.roles().get(account, "expense")]

    def type_of(self, account: str) -> str:
        return ACCOUNT_TYPES[self.roles().get(account, "expense")]

    def as_dict(self) -> dict[str, Any]:
        return {"expense": self.expense, "liability": self.liability, "bank": self.bank,
                "by_mechanism": dict(self.by_mechanism), "names": dict(self.names), "series": self.series}


def _clash(expense: str, liability: str, bank: str, by_mechanism: Mapping[str, str]) -> tuple[str, str, str] | None:
    """An account given two roles that must differ, as (account, first key, second key).

    Expense accounts may be shared (a mechanism may use the default one); liability, bank and expense differ.
    """
    seen: dict[str, str] = {}
    pairs = [("liability", liability), ("bank", bank), ("expense", expense)]
    pairs += [(f"by_mechanism.{m}", a) for m, a in by_mechanism.items()]
    for key, account in pairs:
        first = seen.get(account)
        if first is not None and not (_is_expense(first) and _is_expense(key)):
            return account, first, key
        seen.setdefault(account, key)
    return None


def _is_expense(key: str) -> bool:
    return key == "expense" or key.startswith("by_mechanism.")


def load_accounts(path: str | Path) -> Accounts:
    """Read an account mapping file (YAML), every value as the text written: ``0123`` stays ``0123``.

    ```yaml
    expense: "4590"          # debited on approval
    liability: "2440"        # credited on approval, debited on payment
    bank: "1930"             # credited on payment
    series: B                # optional, default A
    by_mechanism:            # optional: an expense account per payment mechanism
      attendance-card: "4591"
    names:                   # optional: names for #KONTO
      "4590": Köp av huvudverksamhet, utfallsbetalningar
    ```
    """
    import yaml
    from yaml.nodes import MappingNode, ScalarNode

    where = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise AccountsError(P("sie_accounts_unreadable", path=where, reason=reason)) from None
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        raise AccountsError(P("sie_accounts_yaml", path=where, line=str(mark.line + 1 if mark else 1),
                              problem=str(exc.problem or exc.context or "not valid YAML"))) from None
    except yaml.YAMLError as exc:
        raise AccountsError(P("sie_accounts_yaml", path=where, line="1", problem=str(exc))) from None
    if not isinstance(root, MappingNode):
        raise AccountsError(P("sie_accounts_shape", path=where))

    def line(node: Any) -> str:
        return str(node.start_mark.line + 1)

    def pairs(node: MappingNode) -> list[tuple[str, Any, Any]]:
        found: list[tuple[str, Any, Any]] = []
        names: set[str] = set()
        for k, v in node.value:
            if not isinstance(k, ScalarNode):
                raise AccountsError(P("sie_accounts_shape", path=where))
            if k.value in names:
                raise AccountsError(P("sie_accounts_duplicate", path=where, line=line(k), key=k.value))
            names.add(k.value)
            found.append((k.value, k, v))
        return found

    def account(key: str, node: Any) -> str:
        value = node.value if isinstance(node, ScalarNode) else ""
        if not isinstance(node, ScalarNode) or not ACCOUNT.match(value):
            raise AccountsError(P("sie_bad_account", path=where, line=line(node), key=key,
                                  value=value if isinstance(node, ScalarNode) else "…"))
        return value

    def mapping(key: str, node: Any) -> list[tuple[str, Any, Any]]:
        if not isinstance(node, MappingNode):
            raise AccountsError(P("sie_accounts_mapping", path=where, line=line(node), key=key))
        return pairs(node)

    values: dict[str, Any] = {}
    for key, key_node, node in pairs(root):
        if key not in KEYS:
            raise AccountsError(P("sie_accounts_unknown", path=where, line=line(key_node), key=key))
        if key in ("expense", "liability", "bank"):
            values[key] = account(key, node)
        elif key == "series":
            if not isinstance(node, ScalarNode) or not SERIES.match(node.value):
                raise AccountsError(P("sie_bad_series", path=where, line=line(node),
                                      value=node.value if isinstance(node, ScalarNode) else "…"))
            values[key] = node.value
        elif key == "by_mechanism":
            values[key] = {m: account(f"by_mechanism.{m}", v) for m, _, v in mapping(key, node)}
        else:  # names
            named: dict[str, str] = {}
            for number, number_node, v in mapping(key, node):
                if not ACCOUNT.match(number):
                    raise AccountsError(P("sie_bad_account", path=where, line=line(number_node), key="names",
                                          value=number))
                if (not isinstance(v, ScalarNode) or not v.value.strip()
                        or any(ord(c) < 32 or ord(c) == 127 for c in v.value)):
                    raise AccountsError(P("sie_bad_name", path=where, line=line(v), account=number))
                named[number] = v.value.strip()
            values[key] = named
    for key in ("expense", "liability", "bank"):
        if key not in values:
            raise AccountsError(P("sie_accounts_missing", path=where, key=key))
    for name, default in (("by_mechanism", {}), ("names", {}), ("series", "A")):
        values.setdefault(name, default)
    clash = _clash(values["expense"], values["liability"], values["bank"], values["by_mechanism"])
    if clash:
        raise AccountsError(P("sie_same_account", path=where, account=clash[0], first=clash[1], second=clash[2]))
    return Accounts(**values)


# -- vouchers -----------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Transaction:
    """One #TRANS row: an account and a signed amount (debit positive, credit negative)."""

    account: str
    amount: Decimal
    text: str = ""


@dataclass(frozen=True)
class Voucher:
    """One ledger step booked: number = the step's number, dated the step's (UTC) date."""

    series: str
    number: int
    day: date
    kind: str  # approval, payment or reversal
    entry: int
    text: str
    by: str
    transactions: tuple[Transaction, ...]

    @property
    def total(self) -> Decimal:
        return sum((t.amount for t in self.transactions), ZERO)

    def as_dict(self) -> dict[str, Any]:
        return {"series": self.series, "number": self.number, "date": self.day.isoformat(), "kind": self.kind,
                "entry": self.entry, "text": self.text, "by": self.by,
                "transactions": [{"account": t.account, "amount": str(t.amount), "text": t.text}
                                 for t in self.transactions]}


def step_day(at: Any) -> date:
    """The UTC date of a step's ``at`` (ISO 8601 UTC text as ``store.types.iso_utc`` writes it)."""
    if isinstance(at, datetime):
        moment = at
    else:
        text = str(at).strip()
        try:
            moment = datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith("Z") else text)
        except ValueError:
            raise ValueError(f"step time {text!r} is not an ISO 8601 timestamp") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc).date()


def _records(rows: Any) -> list[Mapping[str, Any]]:
    if hasattr(rows, "to_dict"):  # a DataFrame, as read_ledger and read_steps return
        return list(rows.to_dict(orient="records"))
    return list(rows)


def _amount(entry: Mapping[str, Any]) -> Decimal:
    value = entry["amount"]
    if isinstance(value, float):
        raise TypeError(f"entry {entry['seq']}: amounts must be Decimal, not float")
    amount = Decimal(str(value)) if not isinstance(value, Decimal) else value
    currency = str(entry.get("currency") or "SEK")
    if amount != amount.quantize(quantum(currency)):
        raise ValueError(f"entry {entry['seq']}: {amount} is not rounded to the minor unit of {currency}")
    return amount


def vouchers(ledger_entries: Iterable[Mapping[str, Any]], steps: Iterable[Mapping[str, Any]], accounts: Accounts,
             *, start: date | None = None, end: date | None = None) -> list[Voucher]:
    """The vouchers that the steps taken on ``ledger_entries`` book (see the module's booking rule).

    Steps on entries not among ``ledger_entries`` (another payer's, say) are skipped.  The result is in
    step order, which is ascending voucher number.
    """
    entries = {int(e["seq"]): e for e in _records(ledger_entries)}
    approved: set[int] = set()
    booked: list[Voucher] = []
    for step in sorted(_records(steps), key=lambda s: int(s["seq"])):
        seq, status = int(step["entry_seq"]), str(step["status"])
        if status not in ("attested", "approved", "invoiced", "paid", "rejected"):
            raise ValueError(f"step {step['seq']}: '{status}' is not a ledger step")
        entry = entries.get(seq)
        if entry is None:
            continue
        kind = {"approved": "approval", "paid": "payment"}.get(status)
        if status == "rejected" and seq in approved:
            kind = "reversal"
        if status == "approved":
            approved.add(seq)
        day = step_day(step["at"])
        if kind is None or (start is not None and day < start) or (end is not None and day > end):
            continue
        amount = _amount(entry)
        if amount == 0:
            continue
        expense = accounts.expense_for(str(entry["mechanism"]))
        debit, credit = {"approval": (expense, accounts.liability), "payment": (accounts.liability, accounts.bank),
                         "reversal": (accounts.liability, expense)}[kind]
        row_text = " ".join(str(p) for p in (entry.get("period"), entry.get("mechanism"), entry.get("cohort")) if p)
        adjustment = " (justering)" if entry.get("kind") == "adjustment" else ""
        text = f"Utfallsbetalning {entry['contract_id']} post {seq}{adjustment} {KIND_WORDS[kind]}"
        booked.append(Voucher(series=accounts.series, number=int(step["seq"]), day=day, kind=kind, entry=seq,
                              text=text, by=str(step.get("by") or ""),
                              transactions=(Transaction(debit, amount, row_text),
                                            Transaction(credit, -amount, row_text))))
    return booked


# -- writing ------------------------------------------------------------------------------------------------------

# Characters codepage 437 lacks, written as the nearest it has.
_NEAREST = {"–": "-", "—": "-", "‐": "-", "‑": "-", "’": "'", "‘": "'", "‚": "'", "“": '"', "”": '"', "„": '"',
            "…": "...", "\u00a0": " ", "€": "EUR", "\\": "/", "Ł": "L", "ł": "l", "Ø": "O", "ø": "o", "Đ": "D",
            "đ": "d", "Þ": "Th", "þ": "th", "Œ": "OE", "œ": "oe"}


def pc8(text: str) -> str:
    """``text`` as codepage 437 can carry it, one line: å ä ö Å Ä Ö é ü stay; control characters become spaces;
    a backslash becomes a slash (SIE escapes only quotes, so a backslash before a quote would change it);
    other letters lose their accents; anything else is a question mark."""
    out = []
    for c in text:
        if ord(c) < 32 or ord(c) == 127:
            out.append(" ")
            continue
        if c in _NEAREST:
            out.append(_NEAREST[c])
            continue
        try:
            c.encode("cp437")
            out.append(c)
            continue
        except UnicodeEncodeError:
            pass
        plain = "".join(d for d in unicodedata.normalize("NFKD", c) if not unicodedata.combining(d))
        try:
            plain.encode("cp437")
            out.append(plain or "?")
        except UnicodeEncodeError:
            out.append("?")
    return "".join(out)


def quoted(text: str) -> str:
    """A SIE text field: in quotes, an inner quote preceded by a backslash (spec 5.7)."""
    return '"' + pc8(text).replace('"', '\\"') + '"'


def sie_amount(amount: Decimal) -> str:
    """An amount as SIE writes it (5.9): point as decimal separator, a leading minus, never a plus, no grouping."""
    return format(abs(amount) if amount == 0 else amount, "f")  # never "-0.00"


def sie_date(day: date) -> str:
    return day.strftime("%Y%m%d")


def write_sie(vouchers: Iterable[Voucher], *, company_name: str, contract_id: str, currency: str, accounts: Accounts,
              generated: date, program_version: str, fiscal_year: tuple[date, date] | None = None,
              program: str = "sib", signature: str | None = None) -> bytes:
    """A SIE type 4 (import) file of ``vouchers``, encoded as codepage 437 with CRLF line ends.

    ``company_name`` is the outcome payer (#FNAMN), ``fiscal_year`` its financial year (#RAR 0) if known:
    then every voucher must be dated within it.
    """
    digits = MINOR_UNITS.get(currency, 2)
    if digits > 2:
        raise SieError(P("sie_minor_unit", currency=currency, digits=digits))
    booked = list(vouchers)
    q = quantum(currency)
    for v in booked:
        if v.total != 0:
            raise ValueError(f"voucher {v.series} {v.number} does not balance: {v.total}")
        if fiscal_year is not None and not fiscal_year[0] <= v.day <= fiscal_year[1]:
            raise ValueError(f"voucher {v.series} {v.number} is dated {v.day}, outside the financial year "
                             f"{fiscal_year[0]} to {fiscal_year[1]}")
        for t in v.transactions:
            if t.amount != t.amount.quantize(q):
                raise ValueError(f"voucher {v.series} {v.number}: {t.amount} is not rounded to {q}")
    lines = ["#FLAGGA 0",
             f"#PROGRAM {quoted(program)} {quoted(program_version)}",
             "#FORMAT PC8",
             f"#GEN {sie_date(generated)}" + (f" {quoted(signature)}" if signature else ""),
             "#SIETYP 4",
             f"#PROSA {quoted(f'Utfallsbetalningar enligt utfallskontrakt {contract_id}')}",
             f"#FNAMN {quoted(company_name)}"]
    if fiscal_year is not None:
        if fiscal_year[0] > fiscal_year[1]:
            raise ValueError(f"the financial year starts {fiscal_year[0]}, after it ends {fiscal_year[1]}")
        lines.append(f"#RAR 0 {sie_date(fiscal_year[0])} {sie_date(fiscal_year[1])}")
    lines.append(f"#VALUTA {currency}")
    used = sorted({t.account for v in booked for t in v.transactions}, key=lambda a: (len(a), a))
    for account in used:
        lines.append(f"#KONTO {account} {quoted(accounts.name_of(account))}")
    for account in used:
        lines.append(f"#KTYP {account} {accounts.type_of(account)}")
    for v in sorted(booked, key=lambda v: (v.series, v.number)):
        day = sie_date(v.day)
        lines.append(f"#VER {v.series} {v.number} {day} {quoted(v.text)} {day}" + (f" {quoted(v.by)}" if v.by else ""))
        lines.append("{")
        for t in v.transactions:
            lines.append(f"   #TRANS {t.account} {{}} {sie_amount(t.amount)} {day} {quoted(t.text)}")
        lines.append("}")
    return ("\r\n".join(lines) + "\r\n").encode("cp437")


# -- reading ------------------------------------------------------------------------------------------------------

GROUP = {"#FLAGGA": 1,
         **dict.fromkeys(("#PROGRAM", "#FORMAT", "#GEN", "#SIETYP", "#PROSA", "#FTYP", "#FNR", "#ORGNR", "#BKOD",
                          "#ADRESS", "#FNAMN", "#RAR", "#TAXAR", "#OMFATTN", "#KPTYP", "#VALUTA"), 2),
         **dict.fromkeys(("#KONTO", "#KTYP", "#ENHET", "#SRU", "#DIM", "#UNDERDIM", "#OBJEKT"), 3),
         **dict.fromkeys(("#IB", "#UB", "#OIB", "#OUB", "#RES", "#PSALDO", "#PBUDGET", "#VER"), 4)}
GROUP_NAMES = {1: "the flag record", 2: "identification records", 3: "the chart of accounts",
               4: "balances and vouchers"}
ONCE = ("#FLAGGA", "#PROGRAM", "#FORMAT", "#GEN", "#SIETYP", "#FNAMN", "#VALUTA", "#KPTYP", "#ORGNR", "#FNR", "#FTYP",
        "#BKOD", "#ADRESS", "#TAXAR", "#OMFATTN")
MANDATORY = ("#FLAGGA", "#PROGRAM", "#FORMAT", "#GEN", "#SIETYP", "#FNAMN")
SUB_RECORDS = ("#TRANS", "#RTRANS", "#BTRANS")
AMOUNT = re.compile(r"^-?[0-9]+(\.[0-9]{1,2})?$")
QUANTITY = re.compile(r"^-?[0-9]+(\.[0-9]+)?$")


UTF8_PAIR = re.compile(rb"[\xc2-\xdf][\x80-\xbf]")


def _valid_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


class _Objects(tuple):
    """An object list ``{dim obj ...}`` as read: the fields inside the braces."""


def _fields(line: str, n: int) -> list[Any]:
    """The fields of one record: text (quotes removed, ``\\"`` read as a quote) or an ``_Objects`` list."""

    def fail(why: str) -> ValueError:
        return ValueError(f"line {n}: {why}")

    out: list[Any] = []
    inner: list[str] | None = None
    i, size = 0, len(line)
    while i < size:
        c = line[i]
        if c in " \t":
            i += 1
            continue
        if c == '"':
            i += 1
            buf = []
            while True:
                if i >= size:
                    raise fail("a quoted field is not closed")
                if line[i] == "\\" and i + 1 < size and line[i + 1] == '"':
                    buf.append('"')
                    i += 2
                    continue
                if line[i] == '"':
                    i += 1
                    break
                buf.append(line[i])
                i += 1
            if i < size and line[i] not in " \t}":
                raise fail("a quoted field must be followed by a space")
            (out if inner is None else inner).append("".join(buf))
            continue
        if c == "{":
            if inner is not None:
                raise fail("an object list inside an object list")
            inner = []
            i += 1
            continue
        if c == "}":
            if inner is None:
                raise fail("'}' without '{'")
            out.append(_Objects(inner))
            inner = None
            i += 1
            continue
        j = i
        while j < size and line[j] not in " \t{}":
            j += 1
        word = line[i:j]
        if '"' in word:
            raise fail(f"stray quote in {word!r}")
        (out if inner is None else inner).append(word)
        i = j
    if inner is not None:
        raise fail("an object list is not closed with '}'")
    return out


def _text(fields: list[Any], k: int, n: int, what: str, required: bool = False) -> str | None:
    if k >= len(fields):
        if required:
            raise ValueError(f"line {n}: {fields[0]} needs {what}")
        return None
    value = fields[k]
    if isinstance(value, _Objects):
        raise ValueError(f"line {n}: {what} of {fields[0]} cannot be an object list")
    return value


def _date(text: str | None, n: int, what: str) -> date:
    if text is None or not re.fullmatch(r"[0-9]{8}", text):
        raise ValueError(f"line {n}: {what} {text!r} is not a date (YYYYMMDD)")
    try:
        return datetime.strptime(text, "%Y%m%d").date()
    except ValueError:
        raise ValueError(f"line {n}: {what} {text!r} is not a date (YYYYMMDD)") from None


def _optional_date(text: str | None, n: int, what: str) -> date | None:
    return None if text in (None, "") else _date(text, n, what)


def _account(text: str | None, n: int, label: str) -> str:
    if text is None or not ACCOUNT.match(text):
        raise ValueError(f"line {n}: {label} account {text!r} is not numeric")
    return text


def parse_sie(data: bytes) -> dict[str, Any]:
    """Read a SIE 4 file strictly; raise ``ValueError`` naming the line and the rule at the first violation.

    Checks: codepage 437 (a file that reads as UTF-8 is refused), line ends, no control characters, the
    syntax of every record, the mandatory records and the order of their groups (5.12), records that may
    occur once, dates, amounts (at most two decimals), #KONTO for every account a #TRANS uses, #VER blocks
    with their braces alone on a line, each voucher balanced to zero, ascending numbers within a series,
    voucher dates within the declared financial years, and a #KSUMMA that is opened is also closed.

    Returns the flag, program, generation date, type, company name, currency, financial years, accounts,
    account types and vouchers (amounts as Decimal, dates as ``date``).
    """
    if any(b >= 0x80 for b in data) and (_valid_utf8(data) or UTF8_PAIR.search(data)):
        # In codepage 437 the bytes 0xC2-0xDF are box-drawing characters, which no accounting text holds; followed
        # by a continuation byte they are UTF-8 (å is C3 A5).
        raise ValueError("the file is UTF-8 encoded; SIE files are written in codepage 437 (#FORMAT PC8)")
    text = data.decode("cp437")
    if text and not text.endswith("\n"):
        raise ValueError("the last record does not end with a line feed")
    result: dict[str, Any] = {"flag": None, "program": None, "format": None, "generated": None,
                              "generated_by": None, "sie_type": None, "company_name": None, "currency": "SEK",
                              "prosa": None, "fiscal_years": {}, "accounts": {}, "account_types": {},
                              "vouchers": [], "checksum": None}
    seen: list[str] = []
    group = 0
    voucher: dict[str, Any] | None = None
    block_line = 0
    expect_open = 0
    last_number: dict[str, int] = {}
    checksum = "none"  # none, open, closed
    for n, raw in enumerate(text.split("\n")[:-1] if text else [], start=1):
        line = raw[:-1] if raw.endswith("\r") else raw
        bad = next((c for c in line if (ord(c) < 32 and c != "\t") or ord(c) == 127), None)
        if bad is not None:
            raise ValueError(f"line {n}: control character {ord(bad)} (spec 5.7 allows none)")
        stripped = line.strip(" \t")
        if not stripped:
            continue
        if checksum == "closed":
            raise ValueError(f"line {n}: a record after the closing #KSUMMA")
        if expect_open:
            if stripped != "{":
                raise ValueError(f"line {n}: the #VER on line {expect_open} must be followed by '{{' alone on a line")
            expect_open = 0
            continue
        if voucher is not None:
            if stripped == "}":
                _close(voucher, block_line)
                result["vouchers"].append(voucher)
                voucher = None
                continue
            fields = _fields(stripped, n)
            label = fields[0] if fields and isinstance(fields[0], str) else ""
            if label not in SUB_RECORDS:
                raise ValueError(f"line {n}: {label or stripped[:20]!r} inside the #VER block of line {block_line}; "
                                 "only #TRANS, #RTRANS and #BTRANS may appear there, and '}' closes it")
            voucher["rows"].append((label, _trans(fields, n, result["accounts"]), n))
            continue
        if stripped in ("{", "}"):
            raise ValueError(f"line {n}: '{stripped}' outside a #VER block")
        fields = _fields(stripped, n)
        label = fields[0] if fields and isinstance(fields[0], str) else ""
        if not label.startswith("#"):
            raise ValueError(f"line {n}: a record starts with a label such as #VER, not {stripped[:20]!r}")
        if not seen and label != "#FLAGGA":
            raise ValueError(f"line {n}: the first record must be #FLAGGA, not {label}")
        if label == "#KSUMMA":
            if seen == ["#FLAGGA"] and len(fields) == 1:
                checksum = "open"
            elif checksum == "open" and len(fields) == 2 and re.fullmatch(r"-?[0-9]+", fields[1] or ""):
                checksum = "closed"
                result["checksum"] = {"value": int(fields[1]), "verified": False}
            else:
                raise ValueError(f"line {n}: #KSUMMA opens a checksum right after #FLAGGA and closes it, with "
                                 "the sum, as the last record")
            seen.append(label)
            continue
        if label in SUB_RECORDS:
            raise ValueError(f"line {n}: {label} outside a #VER block")
        if label not in GROUP:
            raise ValueError(f"line {n}: {label} is not a label of SIE 4B")
        if GROUP[label] < group:
            raise ValueError(f"line {n}: {label} is among {GROUP_NAMES[GROUP[label]]}, which come before "
                             f"{GROUP_NAMES[group]} (spec 5.12)")
        group = GROUP[label]
        if label in ONCE and label in seen:
            raise ValueError(f"line {n}: a second {label}")
        seen.append(label)
        if label == "#VER":
            voucher = _ver(fields, n, last_number)
            block_line = expect_open = n
        else:
            _record(label, fields, n, result)
    if voucher is not None or expect_open:
        raise ValueError(f"the #VER block of line {block_line or expect_open} is not closed with '}}'")
    if checksum == "open":
        raise ValueError("the file opens a #KSUMMA checksum but does not close it: it is cut short")
    missing = [label for label in MANDATORY if label not in seen]
    if missing:
        raise ValueError(f"mandatory record{'s' if len(missing) > 1 else ''} missing: {', '.join(missing)}")
    years = result["fiscal_years"]
    for v in result["vouchers"]:
        if years and not any(start <= v["date"] <= end for start, end in years.values()):
            raise ValueError(f"line {v['line']}: voucher {v['series']} {v['number']} is dated {v['date']}, outside "
                             "every financial year of #RAR")
    return result


def _record(label: str, fields: list[Any], n: int, result: dict[str, Any]) -> None:
    """The fields of one identification or chart record, checked and kept."""
    first = _text(fields, 1, n, "a value", required=label in ("#FLAGGA", "#FORMAT", "#GEN", "#SIETYP", "#FNAMN",
                                                                "#PROGRAM", "#RAR", "#VALUTA", "#KONTO", "#KTYP"))
    if label == "#FLAGGA":
        if first not in ("0", "1"):
            raise ValueError(f"line {n}: #FLAGGA is 0 or 1, not {first!r}")
        result["flag"] = int(first)
    elif label == "#PROGRAM":
        result["program"] = {"name": first, "version": _text(fields, 2, n, "the version")}
    elif label == "#FORMAT":
        if first != "PC8":
            raise ValueError(f"line {n}: #FORMAT must be PC8 (codepage 437), not {first!r}")
        result["format"] = first
    elif label == "#GEN":
        result["generated"] = _date(first, n, "#GEN date")
        result["generated_by"] = _text(fields, 2, n, "the signature")
    elif label == "#SIETYP":
        if first != "4":
            raise ValueError(f"line {n}: this reader reads SIE type 4 files, not #SIETYP {first}")
        result["sie_type"] = 4
    elif label == "#FNAMN":
        if not first:
            raise ValueError(f"line {n}: #FNAMN needs the company's name")
        result["company_name"] = first
    elif label == "#PROSA":
        result["prosa"] = first
    elif label == "#RAR":
        if not re.fullmatch(r"0|-[1-9][0-9]*", first or ""):
            raise ValueError(f"line {n}: #RAR year {first!r} is 0 or negative (-1 the year before)")
        start = _date(_text(fields, 2, n, "the start date", True), n, "#RAR start")
        end = _date(_text(fields, 3, n, "the end date", True), n, "#RAR end")
        if start > end:
            raise ValueError(f"line {n}: the financial year starts {start}, after it ends {end}")
        if int(first) in result["fiscal_years"]:
            raise ValueError(f"line {n}: a second #RAR {first}")
        result["fiscal_years"][int(first)] = (start, end)
    elif label == "#VALUTA":
        if not re.fullmatch(r"[A-Z]{3}", first or ""):
            raise ValueError(f"line {n}: #VALUTA {first!r} is not an ISO 4217 currency code")
        result["currency"] = first
    elif label == "#KONTO":
        account = _account(first, n, "#KONTO")
        if account in result["accounts"]:
            raise ValueError(f"line {n}: account {account} is declared twice")
        name = _text(fields, 2, n, "the account's name", True)
        result["accounts"][account] = name
    elif label == "#KTYP":
        account = _account(first, n, "#KTYP")
        if account not in result["accounts"]:
            raise ValueError(f"line {n}: #KTYP of account {account}, which no #KONTO before it declares")
        kind = _text(fields, 2, n, "the account type", True)
        if kind not in ("T", "S", "K", "I"):
            raise ValueError(f"line {n}: account type {kind!r} is T, S, K or I")
        result["account_types"][account] = kind


def _ver(fields: list[Any], n: int, last_number: dict[str, int]) -> dict[str, Any]:
    series = _text(fields, 1, n, "a series", True)
    number = _text(fields, 2, n, "a voucher number", True)
    day = _date(_text(fields, 3, n, "a date", True), n, "voucher date")
    if number not in ("", None) and not re.fullmatch(r"[0-9]+", number):
        raise ValueError(f"line {n}: voucher number {number!r} is not a number")
    numbered = int(number) if number else None
    if numbered is not None:
        before = last_number.get(series or "")
        if before is not None and numbered <= before:
            raise ValueError(f"line {n}: voucher {series} {numbered} after {series} {before}; numbers within a series "
                             "ascend")
        last_number[series or ""] = numbered
    return {"series": series, "number": numbered, "date": day, "text": _text(fields, 4, n, "the text"),
            "registered": _optional_date(_text(fields, 5, n, "the registration date"), n, "registration date"),
            "sign": _text(fields, 6, n, "the signature"), "transactions": [], "added": [], "removed": [],
            "rows": [], "line": n}


def _trans(fields: list[Any], n: int, accounts: Mapping[str, str]) -> dict[str, Any]:
    label = fields[0]
    account = _account(_text(fields, 1, n, "an account", True), n, label)
    if account not in accounts:
        raise ValueError(f"line {n}: account {account} is not declared with #KONTO")
    if len(fields) < 3 or not isinstance(fields[2], _Objects):
        raise ValueError(f"line {n}: {label} needs an object list after the account ({{}} when empty)")
    objects = list(fields[2])
    if len(objects) % 2:
        raise ValueError(f"line {n}: an object list holds pairs of dimension and object")
    amount_text = _text(fields, 3, n, "an amount", True)
    if not AMOUNT.match(amount_text or ""):
        raise ValueError(f"line {n}: amount {amount_text!r} is not an amount (a point before at most two "
                         "decimals, a minus sign if negative)")
    try:
        amount = Decimal(amount_text)
    except InvalidOperation:  # pragma: no cover - the pattern admits only numbers
        raise ValueError(f"line {n}: amount {amount_text!r} is not an amount") from None
    quantity = _text(fields, 6, n, "the quantity")
    if quantity not in (None, "") and not QUANTITY.match(quantity):
        raise ValueError(f"line {n}: quantity {quantity!r} is not a number")
    return {"account": account, "objects": [(objects[i], objects[i + 1]) for i in range(0, len(objects), 2)],
            "amount": amount, "date": _optional_date(_text(fields, 4, n, "the date"), n, "transaction date"),
            "text": _text(fields, 5, n, "the text"), "quantity": Decimal(quantity) if quantity else None,
            "sign": _text(fields, 7, n, "the signature")}


def _close(voucher: dict[str, Any], n: int) -> None:
    """A #VER block at its '}': #RTRANS each followed by its #TRANS, at least one row, and a balance of zero."""
    rows = voucher.pop("rows")
    i = 0
    while i < len(rows):
        label, row, line = rows[i]
        if label == "#RTRANS":
            if i + 1 >= len(rows) or rows[i + 1][0] != "#TRANS" or rows[i + 1][1] != row:
                raise ValueError(f"line {line}: an #RTRANS must be followed by the same row as #TRANS")
            voucher["added"].append(row)
        elif label == "#BTRANS":
            voucher["removed"].append(row)
        else:
            voucher["transactions"].append(row)
        i += 1
    if not voucher["transactions"]:
        raise ValueError(f"line {n}: the voucher has no #TRANS rows")
    total = sum((t["amount"] for t in voucher["transactions"]), ZERO)
    if total != 0:
        raise ValueError(f"line {n}: voucher {voucher['series']} {voucher['number']} does not balance: its amounts "
                         f"add up to {total}, not 0")
