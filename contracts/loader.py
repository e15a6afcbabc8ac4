"""Load a contract file: parse, validate in one pass, resolve its versions.

The result is a ``ContractFile``: the contract as written plus one resolved
``ContractVersion`` per version (the original and each amendment applied in
turn).  Anything wrong raises ``ContractFileError`` carrying every problem.
"""

from __future__ import annotations

import copy
import hashlib
import json
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path as FsPath
from typing import Any

from pydantic import ValidationError

from language import Message
from language.masking import mask_text, mask_value

from contracts.checks import check_contract
from contracts.messages import TEXTS as C
from contracts.model import Contract, FileMapping
from contracts.problems import ContractFileError, Problem, describe_error, problem_at, show
from contracts.yamlfile import Path, YamlDocument, YamlSyntaxError, parse_yaml

ORIGINAL_REASON = "Original contract"


@dataclass(frozen=True)
class ContractVersion:
    """The contract's terms as they stand from ``effective`` on."""

    version: int
    effective: date
    reason: str
    terms: Contract
    fingerprint: str
    retroactive: bool = False  # an amendment marked as a retroactive settlement (not part of the fingerprint)

    def terms_json(self) -> dict[str, Any]:
        return self.terms.model_dump(mode="json", exclude={"amendments"})


@dataclass(frozen=True)
class ContractFile:
    source: str
    contract: Contract
    versions: tuple[ContractVersion, ...]
    lines: dict = field(default_factory=dict, compare=False, repr=False)  # path in the file -> line

    def line_of(self, loc: Path) -> int:
        loc = tuple(loc)
        while loc and loc not in self.lines:
            loc = loc[:-1]
        return self.lines.get(loc, 1)

    @property
    def id(self) -> str:
        return self.contract.id

    def as_of(self, day: date) -> ContractVersion:
        return version_as_of(self.versions, day)


def version_as_of(versions: tuple[ContractVersion, ...] | list[ContractVersion], day: date) -> ContractVersion:
    """The latest version in effect on ``day`` (the original if none had started yet)."""
    current = versions[0]
    for v in versions:
        if v.effective <= day:
            current = v
    return current


# Optional keys added to the format after contracts were stored: left out of the fingerprint while unset,
# so a contract stored before they existed keeps its fingerprint (and reloading its file changes nothing).
LATER_OPTIONAL_KEYS = frozenset({"label", "name", "approval", "retroactive", "pays_on"})


def _without_unset_later_keys(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_unset_later_keys(v) for k, v in value.items()
                if not (v is None and k in LATER_OPTIONAL_KEYS)}
    if isinstance(value, list):
        return [_without_unset_later_keys(v) for v in value]
    return value


def fingerprint_terms(terms: dict[str, Any]) -> str:
    canonical = json.dumps(_without_unset_later_keys(terms), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def load_contract_file(path: str | FsPath) -> ContractFile:
    """Read and validate a contract file; raise ``ContractFileError`` listing every problem."""
    name = mask_text(str(path))
    try:
        text = FsPath(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ContractFileError([Problem(name, 0, "", C("no_file"))]) from None
    except IsADirectoryError:
        raise ContractFileError([Problem(name, 0, "", C("directory"))]) from None
    except UnicodeDecodeError:
        raise ContractFileError([Problem(name, 0, "", C("not_utf8"))]) from None
    return load_contract_text(text, name)


def load_contract_text(text: str, name: str = "<contract>") -> ContractFile:
    name = mask_text(name)
    try:
        doc = parse_yaml(text)
    except YamlSyntaxError as exc:
        raise ContractFileError([Problem(name, exc.line, "", exc.message or C("yaml", problem=exc.problem))]) from None
    if doc.data is None:
        raise ContractFileError([Problem(name, 1, "", C("empty_file"))])
    # A contract's text is stored and shown (names, descriptions, reasons): a personal number in it is masked.
    doc.data = mask_value(doc.data)
    if not isinstance(doc.data, dict):
        raise ContractFileError([Problem(name, 1, "", C("top_not_mapping", got=show(doc.data)))])

    problems = [problem_at(name, doc, loc, C("duplicate_key", key=show(loc[-1])), line)
                for loc, line in doc.duplicates]
    contract, found = _validate(doc.data, doc, name)
    problems += found
    if contract is None or problems:
        # Amended versions are checked only on a sound original, so no problem is reported twice.
        raise ContractFileError(problems)
    versions, found = _resolve_versions(contract, doc, name)
    problems += found
    if problems:
        raise ContractFileError(problems)
    return ContractFile(source=name, contract=contract, versions=tuple(versions), lines=dict(doc.lines))


def _validate(data: dict[str, Any], doc: YamlDocument, name: str, *, line: int | None = None,
              amendment: tuple[int, int] | None = None) -> tuple[Contract | None, list[Problem]]:
    """Structural validation, then (if the structure is sound) the cross-field checks; problems of an amended
    version say which amendment (version, index) made it."""
    def said(message: Message) -> Message:
        if amendment is None:
            return message
        return C("in_version", version=str(amendment[0]), i=str(amendment[1]), problem=message.as_dict())

    try:
        contract = Contract.model_validate(data)
    except ValidationError as exc:
        problems = []
        for error in exc.errors(include_url=False):
            loc, message = describe_error(Contract, error, data)
            problems.append(problem_at(name, doc, loc, said(message), line))
        return None, problems
    return contract, [problem_at(name, doc, loc, said(message), line) for loc, message in check_contract(contract)]


def _resolve_versions(contract: Contract, doc: YamlDocument, name: str) -> tuple[list[ContractVersion], list[Problem]]:
    problems: list[Problem] = []
    base = copy.deepcopy(doc.data)
    base.pop("amendments", None)
    versions = [_version(1, contract.term.start, ORIGINAL_REASON, contract)]
    current = base
    for i, amendment in enumerate(contract.amendments):
        current = copy.deepcopy(current)
        set_loc: Path = ("amendments", i, "set")
        for dotted, value in amendment.set.items():
            error = _apply(current, dotted, value)
            if error:
                problems.append(problem_at(name, doc, set_loc + (dotted,), error))
        # Problems inside an amended version are reported at the amendment's line.
        amended, found = _validate(current, doc, name, line=doc.line_of(set_loc), amendment=(amendment.version, i))
        problems += found
        if amended is not None:
            versions.append(_version(amendment.version, amendment.effective, amendment.reason, amended,
                                     bool(amendment.retroactive)))
    return versions, problems


def _version(number: int, effective: date, reason: str, terms: Contract, retroactive: bool = False) -> ContractVersion:
    resolved = terms.model_copy(update={"amendments": []})
    payload = resolved.model_dump(mode="json", exclude={"amendments"})
    return ContractVersion(number, effective, reason, resolved, fingerprint_terms(payload), retroactive)


def _apply(data: dict[str, Any], dotted: str, value: Any) -> Message | None:
    """Set ``dotted`` (list items named by id) to ``value`` in ``data``; return an error or None."""
    parts = dotted.split(".")
    if parts[0] in ("id", "amendments") or parts[-1] == "id":
        return C("not_amendable", path=show(dotted))
    current: Any = data
    for depth, part in enumerate(parts[:-1]):
        where = ".".join(parts[: depth + 1])
        if isinstance(current, list):
            match = [item for item in current if isinstance(item, dict) and item.get("id") == part]
            if not match:
                ids = ", ".join(str(item.get("id")) for item in current if isinstance(item, dict))
                return C("no_item", id=show(part), where=".".join(parts[:depth]), ids=ids)
            current = match[0]
        elif isinstance(current, dict):
            if part not in current or not isinstance(current[part], (dict, list)):
                return C("not_in_original", path=show(where))
            current = current[part]
    last = parts[-1]
    if isinstance(current, list):
        return C("names_a_list", path=show(dotted), example=".".join(parts))
    current[last] = value
    return None


def load_mapping_file(path: str | FsPath) -> FileMapping:
    """A file mapping (for `sib ingest --mapping`), validated like a contract: every problem, with lines."""
    name = mask_text(str(path))
    try:
        text = FsPath(path).read_text(encoding="utf-8")
    except (FileNotFoundError, IsADirectoryError):
        raise ContractFileError([Problem(name, 0, "", C("no_file"))]) from None
    except UnicodeDecodeError:
        raise ContractFileError([Problem(name, 0, "", C("not_utf8"))]) from None
    try:
        doc = parse_yaml(text)
    except YamlSyntaxError as exc:
        raise ContractFileError([Problem(name, exc.line, "", exc.message or C("yaml", problem=exc.problem))]) from None
    if not isinstance(doc.data, dict):
        raise ContractFileError([Problem(name, 1, "", C("mapping_not_mapping"))])
    try:
        return FileMapping.model_validate(doc.data)
    except ValidationError as exc:
        problems = []
        for error in exc.errors(include_url=False):
            loc, message = describe_error(FileMapping, error, doc.data)
            problems.append(problem_at(name, doc, loc, message))
        raise ContractFileError(problems) from None
