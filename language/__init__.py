"""The language layer: every word a user reads, in Swedish or English.

Domain code (contracts/, outcomes/, evaluation/, payments/) never writes a sentence for a person.  It
produces a ``Message``: a code and its parameters, stored as such in runs, ledger bases and audit events,
and rendered in the reader's language only where it is shown (``language.words``).  Pages, reports, CLI
output and API errors are written with English message ids through the gettext catalogues in
``language/locale`` (Babel extracts and compiles them), so adding or changing a sentence is one place in
the code and one entry per catalogue.

This module is deliberately light (no Babel, no pandas): every package may import it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

LANGUAGES = ("sv", "en")


def N_(text: str) -> str:
    """Mark ``text`` as a message id for the catalogues; it is translated where it is shown, not here."""
    return text


@dataclass(frozen=True, eq=True)
class Message:
    """A sentence for a person, kept as ``code`` and ``params`` until it is shown (see ``language.words``).

    Parameters are plain JSON values: numbers, strings (amounts as exact decimal text), lists.
    """

    code: str
    params: Mapping[str, Any] = field(default_factory=dict)

    def __hash__(self) -> int:
        return hash((self.code, json.dumps(self.params, sort_keys=True, default=str)))

    def as_dict(self) -> dict[str, Any]:
        return {"code": self.code, "params": dict(self.params)}

    @staticmethod
    def load(value: Any) -> "Message | str":
        """A stored message: ``{"code", "params"}`` becomes a Message; older stored text stays text."""
        if isinstance(value, Message):
            return value
        if isinstance(value, dict) and "code" in value:
            return Message(str(value["code"]), dict(value.get("params") or {}))
        return str(value)


# code -> English template, for every message any package can produce.
TEXTS: dict[str, str] = {}


class Texts:
    """The message codes of one package, with their English templates (the catalogues' message ids).

    ``Texts("evaluation", {"no_variance": N_("...")})`` registers ``evaluation.no_variance``; calling the
    object, ``TEXTS("no_variance", n=3)``, makes a Message, and an unknown code fails at once.
    """

    def __init__(self, package: str, templates: Mapping[str, str]):
        self.package = package
        self.templates = dict(templates)
        for code, text in self.templates.items():
            full = f"{package}.{code}"
            if TEXTS.get(full, text) != text:
                raise ValueError(f"message code {full} is defined twice with different texts")
            TEXTS[full] = text

    def __call__(self, code: str, **params: Any) -> Message:
        if code not in self.templates:
            raise KeyError(f"no message {self.package}.{code}")
        return Message(f"{self.package}.{code}", params)

    def codes(self) -> Iterable[str]:
        return (f"{self.package}.{code}" for code in self.templates)


# Where the packages keep their message texts; imported when a stored message is shown.
SOURCES = ("contracts.messages", "outcomes.messages", "evaluation.messages", "payments.messages",
           "api.jobs.messages")


def template(code: str) -> str | None:
    """The English template of a message code (importing the packages' texts on first need)."""
    if code not in TEXTS:
        import importlib

        for module in SOURCES:
            importlib.import_module(module)
    return TEXTS.get(code)


class MessageError(Exception):
    """An error a person can act on, whose words are a ``Message``: ``str()`` gives the English sentence,
    and the CLI, the API and the pages show ``.message`` in their reader's language."""

    def __init__(self, message: Message):
        super().__init__(message.code)
        self.message = message

    def __str__(self) -> str:
        from language.words import words

        return words("en").message(self.message)
