"""Survey instruments as versioned data: questions, their answer codes, "don't know" and the rules.

An instrument is a YAML file in the same style as a contract (see
``contracts/instruments_data/skr_user_questions.v2.yaml`` and docs/surveys.md):
each question with its exact wording in Swedish and English, its answer codes
and labels, the code for "don't know" (vet inte: counted and shown apart, never
a score), the favourable codes the follow-up reports as a share (the top two
steps), and a condition when a question is asked only after certain answers
(SKR's question 3 only after improvement on question 1 or 2).

The built-in instruments are the files in ``contracts/instruments_data``; users
load their own with ``sib instrument load FILE`` (stored, versioned; see
``contracts.instrument_store``).  A stored answer records the instrument and
version it was coded under.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

REFERENCE_PERIODS = ("since_start", "since_last_follow_up")
DATA = Path(__file__).resolve().parent / "instruments_data"

InstrumentId = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]*$", max_length=64)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Texts(_Strict):
    """The same words in Swedish (the source's) and English (a translation)."""

    sv: str = Field(min_length=1, max_length=2000)
    en: str = Field(min_length=1, max_length=2000)

    def get(self, language: str) -> str:
        return self.sv if language.startswith("sv") else self.en


class Answer(_Strict):
    code: int = Field(ge=0, le=99)
    sv: str = Field(min_length=1, max_length=200)
    en: str = Field(min_length=1, max_length=200)

    def label(self, language: str) -> str:
        return self.sv if language.startswith("sv") else self.en


class Condition(_Strict):
    """Asked only when one of ``questions`` was answered with one of ``codes``."""

    questions: list[InstrumentId] = Field(min_length=1)
    codes: list[int] = Field(min_length=1)


class Question(_Strict):
    id: InstrumentId
    number: int = Field(ge=1, le=999)
    text: Texts
    answers: list[Answer] = Field(min_length=2, max_length=20)
    dont_know: Answer | None = None
    favourable: list[int] = Field(min_length=1, description="Codes reported together as the favourable share.")
    asks_about_change: bool = False  # answered relative to a reference period (since the start / the last follow-up)
    asked_if: Condition | None = None

    @property
    def codes(self) -> list[int]:
        return [a.code for a in self.answers]

    @property
    def scale_min(self) -> int:
        return min(self.codes)

    @property
    def scale_max(self) -> int:
        return max(self.codes)

    @property
    def dont_know_codes(self) -> list[int]:
        return [self.dont_know.code] if self.dont_know is not None else []

    def answer(self, code: int) -> Answer | None:
        return next((a for a in self.answers if a.code == code), None)


class Instrument(_Strict):
    id: InstrumentId
    version: int = Field(ge=1, le=9999)
    name: Texts
    source: str = Field(min_length=1, max_length=2000)
    reference_periods: dict[str, Texts] = Field(default_factory=dict)
    questions: list[Question] = Field(min_length=1, max_length=200)

    def question(self, question_id: str) -> Question | None:
        return next((q for q in self.questions if q.id == question_id), None)

    @property
    def key(self) -> str:
        return f"{self.id}@{self.version}"


def instrument_problems(instrument: Instrument) -> list[tuple[tuple, str, dict]]:
    """Cross-field rules of an instrument file: (location, message code, fields) for each broken one."""
    found: list[tuple[tuple, str, dict]] = []
    seen: dict[str, int] = {}
    for i, q in enumerate(instrument.questions):
        loc = ("questions", i)
        if q.id in seen:
            found.append((loc + ("id",), "instrument_duplicate_question", {"question": q.id}))
        codes = q.codes
        if len(set(codes)) != len(codes):
            found.append((loc + ("answers",), "instrument_duplicate_code", {"question": q.id}))
        if q.dont_know is not None and q.dont_know.code in codes:
            found.append((loc + ("dont_know", "code"), "instrument_dont_know_code",
                          {"question": q.id, "code": q.dont_know.code}))
        stray = [c for c in q.favourable if c not in codes]
        if stray:
            found.append((loc + ("favourable",), "instrument_favourable",
                          {"question": q.id, "codes": ", ".join(map(str, stray))}))
        if q.asked_if is not None:
            for j, other in enumerate(q.asked_if.questions):
                if other not in seen:
                    found.append((loc + ("asked_if", "questions", j), "instrument_condition_question",
                                  {"question": q.id, "other": other}))
                else:
                    earlier = instrument.questions[seen[other]]
                    stray = [c for c in q.asked_if.codes if c not in earlier.codes]
                    if stray:
                        found.append((loc + ("asked_if", "codes"), "instrument_condition_codes",
                                      {"question": q.id, "other": other, "codes": ", ".join(map(str, stray))}))
        seen.setdefault(q.id, i)
    return found


@cache
def builtin() -> dict[str, dict[int, Instrument]]:
    """The instruments shipped with the engine, by id and version (files in ``contracts/instruments_data``)."""
    import yaml

    found: dict[str, dict[int, Instrument]] = {}
    for path in sorted(DATA.glob("*.yaml")):
        instrument = Instrument.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))
        found.setdefault(instrument.id, {})[instrument.version] = instrument
    return found


_loaded: dict[str, dict[int, Instrument]] = {}  # instruments users loaded into the store (contracts.instrument_store)


def register(instrument: Instrument) -> None:
    """Make a stored instrument known to this process (the store is the record; this is a cache of it)."""
    _loaded.setdefault(instrument.id, {})[instrument.version] = instrument


def versions(instrument_id: str) -> dict[int, Instrument]:
    return {**_loaded.get(instrument_id, {}), **builtin().get(instrument_id, {})}


def known() -> list[str]:
    return sorted(set(builtin()) | set(_loaded))


def get(instrument_id: str, version: int | None = None) -> Instrument | None:
    """An instrument by id, at ``version`` or else its latest."""
    found = versions(instrument_id)
    if not found:
        return None
    return found.get(version) if version is not None else found[max(found)]


class _Instruments:
    """``INSTRUMENTS[id]``: the latest version of each known instrument (a read-only view)."""

    def get(self, instrument_id: str, default: Instrument | None = None) -> Instrument | None:
        return get(instrument_id) or default

    def __getitem__(self, instrument_id: str) -> Instrument:
        found = get(instrument_id)
        if found is None:
            raise KeyError(instrument_id)
        return found

    def __contains__(self, instrument_id: object) -> bool:
        return isinstance(instrument_id, str) and get(instrument_id) is not None

    def __iter__(self):
        return iter(known())


INSTRUMENTS = _Instruments()


def question_of(metric) -> Question:
    """The instrument question a (checked) survey metric asks, in the version it names or the latest."""
    instrument = get(metric.instrument, getattr(metric, "instrument_version", None))
    question = instrument.question(metric.question or "") if instrument is not None else None
    if question is None:
        raise KeyError(f"{metric.instrument}.{metric.question}")
    return question
