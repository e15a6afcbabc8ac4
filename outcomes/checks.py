"""Validating a delivered file against the contract, chunk by chunk: what every kind of file shares.

One checker per kind of file (``outcomes.people``, ``outcomes.measurements``,
``outcomes.surveys``; ``outcomes.kinds.checker`` picks one).  A checker sees the header once
(``header_errors``), each chunk of rows (``check``: typed rows ready for the
store, and every error found), and finally ``finish`` for what can only be
known across chunks (duplicates far apart in the file).  Nothing here touches
the store: what validation needs to know of it arrives as a ``StoreView``.
Clear participant references are hashed here and go no further.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Callable

import numpy as np
import pandas as pd

from contracts.model import Contract, FileMapping
from language import Message
from outcomes import personnummer
from outcomes.messages import TEXTS as O
from outcomes.pseudonym import pseudonymise
from outcomes.values import MAX_CELL, formula_like, too_long

ID = "participant_id"
TRUE_WORDS = {"true": True, "1": True, "yes": True, "ja": True, "false": False, "0": False, "no": False, "nej": False}
MAX_ERRORS = 100_000  # errors kept for the report; beyond that they are counted
MEMO_LIMIT = 250_000  # distinct references whose pseudonyms are remembered across chunks


@dataclass(frozen=True)
class RowError:
    row: int
    column: str
    message: Message  # why, as a code and parameters (``outcomes.messages``)
    value: str = ""  # the offending cell as reported (identifiers masked)

    @property
    def text(self) -> str:
        """The reason in English (reports render ``message`` in their reader's language)."""
        from language.words import words

        return words("en").message(self.message)

    def __str__(self) -> str:
        where = f"row {self.row}, column {self.column}" if self.column else f"row {self.row}"
        return f"{where}: {self.text}"

    @property
    def sort_key(self) -> tuple:
        """Errors are reported by row, then column, then reason."""
        return (self.row, self.column, self.message.code, json.dumps(self.message.params, sort_keys=True, default=str),
                self.value)


@dataclass
class Prepared:
    """Typed rows of one chunk, ready for the store."""

    participants: pd.DataFrame = field(default_factory=pd.DataFrame)  # pseudonym, birth_year, legal_sex, attributes
    enrolments: pd.DataFrame = field(default_factory=pd.DataFrame)  # pseudonym or participant_id, cohort, arm, start, exit
    measurements: pd.DataFrame = field(default_factory=pd.DataFrame)
    answers: pd.DataFrame = field(default_factory=pd.DataFrame)  # anonymous survey answers
    counts: dict[str, int] = field(default_factory=dict)


class PseudonymIndex:
    """Pseudonym -> participant id for a whole contract, compactly: 40 bytes per participant, vectorised lookups.

    Pseudonyms are 64 hex digits; kept as sorted 32-byte values, a million of them take 32 MB
    where a dict of strings would take ten times that.
    """

    def __init__(self, pseudonyms: list[str], ids: list[int]):
        keys = np.array([bytes.fromhex(p) for p in pseudonyms], dtype="S32") if pseudonyms else np.array([], dtype="S32")
        order = np.argsort(keys, kind="stable")
        self.keys, self.ids = keys[order], np.asarray(ids, dtype=np.int64)[order]

    def __len__(self) -> int:
        return len(self.keys)

    def lookup(self, pseudonyms: list[str]) -> np.ndarray:
        """Participant ids as floats, NaN where a pseudonym (or "") is unknown."""
        wanted = np.array([bytes.fromhex(p) if p else b"" for p in pseudonyms], dtype="S32")
        if not len(self.keys) or not len(wanted):
            return np.full(len(wanted), np.nan)
        pos = np.minimum(np.searchsorted(self.keys, wanted), len(self.keys) - 1)
        found = (self.keys[pos] == wanted) & (wanted != b"")
        return np.where(found, self.ids[pos].astype(float), np.nan)


@dataclass(frozen=True)
class StoreView:
    """What validation needs to know of the store."""

    participant_ids: PseudonymIndex
    enrolment_starts: pd.Series  # participant id -> first enrolment start (datetime64)
    measurements: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(
        {"key": pd.Series(dtype="int64"), "id": pd.Series(dtype="int64"), "batch_id": pd.Series(dtype="int64")}))
    organisation: Any = None  # the latest organisation file, for survey answers' units (contracts.organisation)
    providers: pd.Series | None = None  # participant id -> provider of their enrolments (for a provider's delivery)

    def starts(self, participant: pd.Series) -> pd.Series:
        """Each row's enrolment start (NaT where there is none)."""
        found = self.enrolment_starts.reindex(participant.to_numpy())
        return pd.Series(pd.to_datetime(found.to_numpy()), index=participant.index)


@dataclass(frozen=True)
class Identity:
    """Each row's pseudonym, and the same per distinct reference (so lookups are done once each)."""

    pseudonyms: pd.Series  # per row; "" where missing or invalid
    codes: np.ndarray  # row -> position in ``distinct``
    distinct: np.ndarray  # pseudonym per distinct reference, "" last
    derived: pd.DataFrame  # birth_year, legal_sex where the contract asks
    errors: list[RowError]

    def participants(self, store: StoreView) -> pd.Series:
        """Participant ids (float, NaN where unknown)."""
        ids = store.participant_ids.lookup(self.distinct.tolist())
        return pd.Series(ids[self.codes], index=self.pseudonyms.index)


@dataclass(frozen=True)
class Context:
    contract: Contract
    key: bytes
    store: StoreView
    mapping: FileMapping = field(default_factory=FileMapping)
    today: date = field(default_factory=date.today)
    provider: str | None = None  # the provider delivering the file (a provider user's upload): only its participants


# -- helpers ------------------------------------------------------------------------------------------------------

def errors_where(mask: pd.Series, column: str, message: Message | Callable[[int], Message],
                 values: pd.Series | None = None) -> list[RowError]:
    rows = mask.index[np.asarray(mask, dtype=bool)]
    text = (lambda r: message(r)) if callable(message) else (lambda r: message)
    shown = (lambda r: str(values[r])[:200]) if values is not None else (lambda r: "")
    return [RowError(int(r), column, text(int(r)), shown(int(r))) for r in rows]


def date_text(day: pd.Timestamp) -> str:
    return day.date().isoformat()


def metric_days(dates: pd.Series) -> np.ndarray:
    return ((dates - pd.Timestamp("1900-01-01")).dt.days).to_numpy(dtype=np.int64)


def measurement_keys(participants: pd.Series, metric_index: pd.Series, dates: pd.Series) -> np.ndarray:
    """One int64 per (participant, metric, date): 29 bits of date and metric under the participant id."""
    return (participants.to_numpy(dtype=np.int64) << 29) + (metric_index.to_numpy(dtype=np.int64) << 17) + metric_days(dates)


def not_a_date(value: str, fmt: str | None) -> Message:
    """The refusal of a cell that is not a date in the expected format."""
    return O("not_a_date_format", value=value, format=fmt) if fmt else O("not_a_date", value=value)


class FileCheck:
    """The checks every kind shares: columns, cell hygiene, identifiers."""

    kind = ""
    required: tuple[str, ...] = ()
    optional: tuple[str, ...] = ()

    def __init__(self, ctx: Context):
        self.ctx = ctx
        self.contract = ctx.contract
        self.counts: dict[str, int] = {}
        self._memo: dict[str, tuple] = {}  # reference -> (pseudonym, facts, problem), across the file's chunks

    def allowed_columns(self) -> list[str]:
        return [*self.required, *self.optional]

    def header_errors(self, columns: list[str]) -> list[RowError]:
        allowed = self.allowed_columns()
        missing = O("required_column", columns=", ".join(columns)) if columns else O("required_column_none")
        errors = [RowError(1, c, missing) for c in self.required if c not in columns]
        errors += [RowError(1, c, O("unknown_column", expected=", ".join(allowed))) for c in columns
                   if c not in allowed]
        return errors

    def _cells(self, frame: pd.DataFrame) -> tuple[pd.DataFrame, list[RowError]]:
        """Refuse over-long cells and spreadsheet formulas; drop those rows from further checks."""
        errors: list[RowError] = []
        bad = pd.Series(False, index=frame.index)
        for column in frame.columns:
            text = frame[column]
            long_ = too_long(text)
            if long_.any():
                errors += errors_where(long_, column, lambda r, t=text: O("cell_too_long", n=len(t[r]), limit=MAX_CELL))
            formula = formula_like(text) & ~long_
            if formula.any():
                errors += errors_where(formula, column, lambda r, t=text: O("formula", first=t[r][0]),
                                       values=None if column == ID else text)
            bad |= long_ | formula
        return frame[~bad], errors

    def _identify(self, refs: pd.Series) -> "Identity":
        """Pseudonyms (and birth year and legal sex where asked) for each row; the clear values stop here.

        Work is done once per distinct reference (a file repeats its participants), and remembered across chunks.
        """
        errors = errors_where(refs == "", ID, O("id_empty"))
        codes, distinct = pd.factorize(refs)
        references = np.asarray(distinct, dtype=object).tolist()  # one bulk conversion, not one per element
        personal = self.contract.target_group.identifier == "personnummer"
        memo = self._memo
        if len(memo) > MEMO_LIMIT:  # bounded: a file with millions of distinct people must not fill memory
            memo.clear()
        for ref in references:
            if ref and ref not in memo:
                memo[ref] = self._pseudonym(ref) if personal else (
                    pseudonymise(self.ctx.key, self.contract.id, ref), None, None)
        known = [memo[r] if r else ("", None, None) for r in references] + [("", None, None)]
        pseudonyms = np.array([k[0] for k in known], dtype=object)
        problem = np.array([k[2] for k in known], dtype=object)
        invalid = np.array([p is not None for p in problem])[codes]  # per distinct reference, then per row
        errors += [RowError(int(r), ID, problem[code], personnummer.mask(refs[r]))
                   for r, code in zip(refs.index[invalid], codes[invalid])]
        derived = pd.DataFrame(index=refs.index, columns=["birth_year", "legal_sex"], dtype=object)
        derive = self.contract.target_group.derive if personal else []
        if derive:
            facts = np.array([k[1] for k in known], dtype=object)[codes]
            for position, name in ((0, "birth_year"), (1, "legal_sex")):
                if name in derive:
                    derived[name] = [f[position] if f else None for f in facts]
        return Identity(pd.Series(pseudonyms[codes], index=refs.index, dtype=object), codes, pseudonyms, derived, errors)

    def _registered(self, refs: pd.Series) -> tuple["Identity", pd.Series, list[RowError]]:
        """Identify rows of people who must be registered already: their identity, stored participant ids
        (NaN where unknown), and the errors (bad references, then unknown people)."""
        identity = self._identify(refs)
        participant = identity.participants(self.ctx.store)
        theirs = self.ctx.store.providers
        if self.ctx.provider is not None and theirs is not None:
            # A provider delivers only for its own participants; another provider's are as unknown to it as
            # people never registered (the same error: a delivery does not learn who is enrolled elsewhere).
            owner = theirs.reindex(participant.to_numpy()).to_numpy()
            participant = participant.where(pd.Series(owner == self.ctx.provider, index=participant.index))
        errors = identity.errors + errors_where(participant.isna() & (identity.pseudonyms != ""), ID,
                                                O("unknown_participant"))
        return identity, participant, errors

    def _pseudonym(self, ref: str) -> tuple[str, tuple[int, str] | None, Message | None]:
        """(pseudonym, (birth year, legal sex), problem) of a personal identity number."""
        try:
            number = personnummer.parse(ref, self.ctx.today)
        except personnummer.InvalidNumber as exc:
            return "", None, exc.message
        return pseudonymise(self.ctx.key, self.contract.id, number.normalised), (number.birth_year, number.legal_sex), None

    def check(self, frame: pd.DataFrame) -> tuple[Prepared, list[RowError]]:  # pragma: no cover - overridden
        raise NotImplementedError

    def finish(self) -> list[RowError]:
        return []
