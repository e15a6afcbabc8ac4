"""``Words``: one language's way of saying everything, for pages, reports, CLI lines and API errors.

``words("sv", "SEK")._("Ledger entries")`` translates a message id; parameters fill ``{name}`` places,
each formatted by the language's rules and by its format spec:

| spec | the value | Swedish | English |
|---|---|---|---|
| (none) | whole number, or number | 1 234 | 1,234 |
| ``num``, ``num0`` … ``num4`` | a number, with as many decimals as its size needs, or that many | 0,055 | 0.055 |
| ``sig`` | a number to three significant digits | 0,0336 | 0.0336 |
| ``signed`` | a whole number with its sign | +1 000 | +1,000 |
| ``money`` | an amount in the contract's currency | 14 000,00 kr | SEK 14,000.00 |
| ``percent``, ``signed_percent`` | a share (0.074) | 7,4 % | 7.4% |
| ``p`` | a p-value | < 0,001 | < 0.001 |
| ``day`` | a date | 2025-07-31 | 2025-07-31 |
| ``q`` | a value quoted as it was delivered | ”abc” | 'abc' |
| ``label.GROUP`` | a contract value in words (``language.labels``); a list: alternatives | godkänd | approved |
| ``exact`` | an exact decimal, all its digits | 0,12 | 0.12 |
| ``list``, ``semicolons`` | a list, each item as it is (a stored message rendered) | a, b | a, b |
| ``metric``, ``party``, ``cohort``, ``mechanism``, ``attribute``, ``covariate`` (and plurals for lists) | an identifier of the contract | its name | its name |

A parameter that is itself a stored message (``{"code": …}``) is rendered in the same language.  Whole
numbers named as identifiers (``run``, ``batch``, ``entry``, ``seq``, ``row``, ``version``, ``user``, ...)
are never grouped: run 2147483648, not run 2,147,483,648.
"""

from __future__ import annotations

import os
import string
from datetime import date
from decimal import Decimal
from functools import lru_cache
from typing import Any, Iterable

from language import LANGUAGES, Message, template
from language import formats
from language.masking import mask_text, mask_value
from language.catalogue import translations
from language.labels import LABELS


# Specs that name a contract's things; without the contract (``Names``) the identifier is shown.
NAMED = {"metric": "metric", "metrics": "metric", "party": "party", "parties": "party", "cohort": "cohort",
         "mechanism": "mechanism", "attribute": "attribute", "covariate": "covariate", "covariates": "covariate"}


# Parameters that name a thing rather than count it: written as they are.
IDENTIFIERS = frozenset({"run", "batch", "entry", "seq", "row", "version", "user", "column", "used", "current",
                         "only_in", "seed", "schema", "before", "head", "revision"})


def _as_identifiers(params: dict[str, Any]) -> dict[str, Any]:
    return {k: (str(v) if k in IDENTIFIERS and isinstance(v, int) and not isinstance(v, bool) else v)
            for k, v in params.items()}


class _Filler(string.Formatter):
    def __init__(self, words: "Words", names: Any = None):
        self.words, self.names = words, names

    def format_field(self, value: Any, spec: str) -> str:
        w = self.words
        if isinstance(value, (dict, Message)) and (isinstance(value, Message) or "code" in value):
            return w.message(value, self.names)
        if spec in NAMED:
            if isinstance(value, (list, tuple)):
                return ", ".join(self.format_field(v, NAMED[spec]) for v in value)
            return getattr(self.names, NAMED[spec])(value) if self.names is not None else str(value)
        if spec == "q":  # a value quoted as the reader's language quotes
            return w.quoted(value)
        if spec == "sig":
            return w.significant(value)
        if spec == "signed":
            return ("+" if value >= 0 else "") + w.integer(value)
        if spec == "money":
            return w.money(value)
        if spec in ("percent", "signed_percent"):
            return w.percent(value, signed=spec == "signed_percent")
        if spec == "p":
            return w.p_value(value)
        if spec == "day":
            return w.day(value)
        if spec.startswith("num"):
            return w.number(value, int(spec[3:]) if spec[3:] else None)
        if spec.startswith("label."):
            if isinstance(value, (list, tuple)):  # alternatives: approved or rejected
                return w.either(w.label(spec[6:], v) for v in value)
            return w.label(spec[6:], value)
        if spec == "list":
            return ", ".join(self.format_field(v, "") for v in value)
        if spec == "semicolons":
            return "; ".join(self.format_field(v, "") for v in value)
        if spec == "exact":  # an exact decimal as stored, with the language's decimal sign
            exponent = Decimal(str(value)).as_tuple().exponent
            return w.number(value, max(0, -exponent) if isinstance(exponent, int) else None)
        if spec:
            return format(value, spec)
        if isinstance(value, bool) or value is None:
            return str(value)
        if isinstance(value, int):
            return w.integer(value)
        if isinstance(value, (float, Decimal)):
            return w.number(value, None)
        if isinstance(value, (list, tuple)):
            return ", ".join(self.format_field(v, "") for v in value)
        return str(value)


class Words:
    """The words and number formats of one language, for amounts in one currency."""

    def __init__(self, lang: str, currency: str = "SEK"):
        if lang not in LANGUAGES:
            raise ValueError(f"no language {lang!r}; expected one of: {', '.join(LANGUAGES)}")
        self.lang, self.currency = lang, currency
        self._catalogue = translations(lang)
        self._filler = _Filler(self)

    # -- sentences ------------------------------------------------------------------------------------------------

    def gettext(self, message: str, /, **params: Any) -> str:
        """``message`` (an English message id) in this language, its ``{places}`` filled."""
        return self.fill(self._catalogue.gettext(message), params)

    _ = gettext

    def ngettext(self, singular: str, plural: str, n: int, /, **params: Any) -> str:
        """The singular or plural form for ``n``, which also fills ``{n}``."""
        return self.fill(self._catalogue.ngettext(singular, plural, n), {"n": n, **params})

    def pgettext(self, context: str, message: str, /, **params: Any) -> str:
        return self.fill(self._catalogue.pgettext(context, message), params)

    def fill(self, text: str, params: dict[str, Any]) -> str:
        """``text`` with its places filled; a personal identity number in a parameter comes out masked."""
        return mask_text(self._filler.vformat(text, (), _as_identifiers(params))) if params else text

    def message(self, value: Any, names: Any = None) -> str:
        """A stored message in this language; text stored before messages had codes is shown as written.

        With ``names`` (``language.names.Names``), identifiers in it are shown as the contract names them.
        """
        msg = Message.load(value)
        if isinstance(msg, str):
            return mask_text(msg)
        text = template(msg.code)
        if text is None:  # a code from another version of the engine: say what is known
            return mask_text(msg.code + (f" {dict(msg.params)}" if msg.params else ""))
        filler = self._filler if names is None else _Filler(self, names)
        try:
            return mask_text(filler.vformat(self._catalogue.gettext(text), (), _as_identifiers(dict(msg.params))))
        except (KeyError, IndexError, ValueError, TypeError, ArithmeticError):
            # Parameters that do not fit the template (stored by another version of the engine): say what is known
            # rather than fail the whole page.
            return mask_text(msg.code + (f" {dict(msg.params)}" if msg.params else ""))

    def messages(self, values: Iterable[Any], names: Any = None) -> list[str]:
        return [self.message(v, names) for v in values]

    def explained(self, value: Any, names: Any = None) -> dict[str, Any]:
        """A stored message for JSON readers: its code and parameters, and its text in this language (text
        stored before messages had codes has no code)."""
        msg = Message.load(value)
        if isinstance(msg, str):
            return {"code": None, "params": {}, "text": mask_text(msg)}
        return {"code": msg.code, "params": mask_value(dict(msg.params)), "text": self.message(msg, names)}

    def either(self, items: Iterable[str]) -> str:
        """Alternatives: a, b or c."""
        items = list(items)
        if len(items) < 2:
            return "".join(items)
        return self._("{first} or {last}", first=", ".join(items[:-1]), last=items[-1])

    def quoted(self, value: Any) -> str:
        """Text as a file had it, quoted: ”abc” in Swedish, 'abc' in English (as Python writes it); a number
        as it is."""
        if not isinstance(value, str):
            return str(value)
        return f"”{value}”" if self.lang == "sv" else repr(value)

    def explained_results(self, results: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Evaluation results (as a run stores them) with each warning explained (``explained``)."""
        return [dict(r, warnings=[self.explained(w) for w in r.get("warnings", [])]) for r in results]

    def explained_diff(self, diff: dict[str, Any]) -> dict[str, Any]:
        """A run diff (``evaluation.diff.diff_runs``) with its explanation and changed warnings explained."""
        entries = [dict(e, **{k: [self.explained(m) for m in e[k]] for k in ("warnings_added", "warnings_removed")
                              if k in e}) for e in diff["results"]]
        return dict(diff, explanation=[self.explained(m) for m in diff["explanation"]], results=entries)

    def label(self, group: str, value: Any) -> str:
        """A contract or ledger value in words; a value the group does not know is shown as written."""
        if value is None:
            return ""
        english = LABELS[group].get(str(value))
        if english is None:
            return str(value)
        return self._catalogue.pgettext(group, english)

    # -- numbers --------------------------------------------------------------------------------------------------

    def number(self, value: Any, digits: int | None = 3) -> str:
        return formats.number(value, self.lang, digits)

    def integer(self, value: Any) -> str:
        return formats.integer(value, self.lang)

    def significant(self, value: Any) -> str:
        return formats.significant(value, self.lang)

    def money(self, amount: Any, currency: str | None = None) -> str:
        return formats.money(amount, currency or self.currency, self.lang)

    def percent(self, share: Any, digits: int = 1, signed: bool = True) -> str:
        return formats.percent(share, self.lang, digits, signed)

    def p_value(self, value: float | None) -> str:
        return formats.p_value(value, self.lang)

    def day(self, value: date | str | None) -> str:
        return formats.day(value, self.lang)


@lru_cache(maxsize=None)
def words(lang: str, currency: str = "SEK") -> Words:
    return Words(lang, currency)


def default_language(currency: str) -> str:
    """Swedish for contracts in SEK, else English."""
    return "sv" if currency == "SEK" else "en"


def choose(value: str | None, fallback: str) -> str:
    return value if value in LANGUAGES else fallback


def from_accept_language(header: str | None, default: str = "en") -> str:
    """The first of our languages an ``Accept-Language`` header prefers (by q-value), else ``default``."""
    ranked = []
    for position, part in enumerate((header or "").split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        for param in params.split(";"):
            key, _, number = param.strip().partition("=")
            if key == "q":
                try:
                    quality = float(number)
                except ValueError:
                    quality = 0.0
        lang = tag.strip().lower()[:2]
        if lang in LANGUAGES and quality > 0:
            ranked.append((-quality, position, lang))
    return min(ranked)[2] if ranked else default


def from_environment(default: str = "en") -> str:
    """The CLI's language: SIB_LANG (sv or en), else the first of LANGUAGE, LC_ALL, LC_MESSAGES, LANG that
    names one of ours (sv_SE.UTF-8 is Swedish), else English."""
    chosen = os.environ.get("SIB_LANG", "").strip().lower()
    if chosen in LANGUAGES:
        return chosen
    for name in ("LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG"):
        value = os.environ.get(name, "")
        if value:
            lang = value.split(":")[0][:2].lower()
            return lang if lang in LANGUAGES else default
    return default
