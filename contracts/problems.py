"""Problems found in a contract file, phrased for the person who has to fix them.

Every problem names the file, the line, the field path, the bad value and
what is allowed.  Pydantic's error records are translated here so that the
messages are ours, stable across pydantic versions, and tested word for word;
each is a code and its parameters (``contracts.messages``), said in the reader's
language where it is shown.
"""

from __future__ import annotations

import difflib
import types
import typing
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from pydantic import BaseModel

from contracts.messages import TEXTS as C
from contracts.model import MAX_AMOUNT, SHARE_PLACES
from contracts.yamlfile import Path, YamlDocument
from language import Message

SKIPPED_LOC_PARTS = {"[key]"}


@dataclass(frozen=True)
class Problem:
    file: str
    line: int
    path: str
    message: Message

    def __str__(self) -> str:
        return self.text()

    def text(self, words: Any = None) -> str:
        """The problem as one line, in the language of ``words`` (a ``language.words.Words``; default English)."""
        if words is None:
            from language.words import words as language

            words = language("en")
        where = f"{self.path}: " if self.path else ""
        return f"{self.file}:{self.line}: {where}{words.message(self.message)}"


class ContractFileError(Exception):
    """A contract file with one or more problems; ``str()`` lists them all, one per line."""

    def __init__(self, problems: list[Problem]):
        super().__init__("\n".join(str(p) for p in problems))
        self.problems = problems


def show(value: Any) -> str:
    """A value as it would be written in the file, shortened for a one-line message."""
    if isinstance(value, str):
        text = repr(value)
    elif isinstance(value, bool):
        text = "true" if value else "false"
    elif value is None:
        text = "null"
    elif isinstance(value, (Decimal, int, date)):
        text = str(value)
    elif isinstance(value, dict):
        text = "a mapping {" + ", ".join(str(k) for k in list(value)[:4]) + (", ...}" if len(value) > 4 else "}")
    elif isinstance(value, list):
        text = "a list of " + str(len(value)) + " item" + ("" if len(value) == 1 else "s")
    else:
        text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def format_path(loc: Path) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif isinstance(part, str) and part.isidentifier():
            out += ("." if out else "") + part
        else:
            out += f"[{part!r}]"
    return out


def clean_loc(loc: Path, data: Any) -> Path:
    """Pydantic's error location with union tags and internal markers removed, following ``data``."""
    clean: list[Any] = []
    current = data
    for part in loc:
        if part in SKIPPED_LOC_PARTS or (isinstance(part, str) and part.startswith("function-")):
            continue
        if isinstance(current, dict):
            if part in current:
                clean.append(part)
                current = current[part]
                continue
            if current.get("type") == part:  # discriminated-union tag
                continue
        elif isinstance(current, list) and isinstance(part, int) and 0 <= part < len(current):
            clean.append(part)
            current = current[part]
            continue
        clean.append(part)
        current = None
    return tuple(clean)


def _strip(tp: Any, value: Any) -> Any:
    """Unwrap Annotated/Optional and pick the union member a value's ``type`` names."""
    while True:
        origin = typing.get_origin(tp)
        if origin is typing.Annotated:
            tp = typing.get_args(tp)[0]
        elif origin in (typing.Union, types.UnionType):
            args = [a for a in typing.get_args(tp) if a is not type(None)]
            if len(args) == 1:
                tp = args[0]
            else:
                tag = value.get("type") if isinstance(value, dict) else None
                chosen = [a for a in args if _is_model(a) and _literal_default(a, "type") == tag]
                return chosen[0] if chosen else tp
        else:
            return tp


def _is_model(tp: Any) -> bool:
    return isinstance(tp, type) and issubclass(tp, BaseModel)


def _literal_default(model: type[BaseModel], field: str) -> Any:
    info = model.model_fields.get(field)
    if info is None:
        return None
    args = typing.get_args(_strip(info.annotation, None))
    return args[0] if len(args) == 1 else None


def annotation_at(root: type[BaseModel], loc: Path, data: Any) -> tuple[Any, Any]:
    """The (unwrapped) type expected at ``loc`` and the type of its container."""
    tp: Any = root
    container: Any = None
    current = data
    for part in loc:
        tp = _strip(tp, current)
        container = tp
        if _is_model(tp):
            info = tp.model_fields.get(part) if isinstance(part, str) else None
            if info is None:
                return None, container
            tp = info.annotation
        elif typing.get_origin(tp) is list:
            tp = typing.get_args(tp)[0]
        elif typing.get_origin(tp) is dict:
            tp = typing.get_args(tp)[1]
        else:
            return None, container
        current = current.get(part) if isinstance(current, dict) else (
            current[part] if isinstance(current, list) and isinstance(part, int) and part < len(current) else None
        )
    return _strip(tp, current), container


def allowed_literals(tp: Any) -> list[str] | None:
    if typing.get_origin(tp) is typing.Literal:
        return [str(a) for a in typing.get_args(tp)]
    return None


def _kind_of(value: Any) -> dict[str, Any]:
    if isinstance(value, dict):
        return C("kind_mapping").as_dict()
    if isinstance(value, list):
        return C("kind_list").as_dict()
    if isinstance(value, str):
        return C("kind_text", value=show(value)).as_dict()
    return C("kind_value", value=show(value)).as_dict()


RANGES = {"greater_than_equal": ("at_least", "ge"), "greater_than": ("greater_than", "gt"),
          "less_than_equal": ("at_most", "le"), "less_than": ("less_than", "lt")}


def describe_error(root: type[BaseModel], error: dict[str, Any], data: Any) -> tuple[Path, Message]:
    """Translate one pydantic error into (clean location, message)."""
    kind = error["type"]
    ctx = error.get("ctx") or {}
    loc = clean_loc(error["loc"], data)
    value = error.get("input")
    got = show(value)

    if kind in ("union_tag_invalid", "union_tag_not_found"):
        tp, _ = annotation_at(root, loc, data)
        tags = _union_tags(tp)
        loc = loc + ("type",)
        if kind == "union_tag_not_found":
            return loc, C("missing_tag", allowed=", ".join(tags))
        return loc, C("not_allowed", got=show(ctx.get("tag")), allowed=", ".join(tags))

    tp, container = annotation_at(root, loc, data)
    field = loc[-1] if loc else ""

    if kind == "missing":
        return loc, C("missing")
    if kind == "extra_forbidden":
        allowed = list(container.model_fields) if _is_model(container) else []
        hint = difflib.get_close_matches(str(field), allowed, n=1)
        if hint:
            return loc, C("unknown_field_hint", hint=hint[0], allowed=", ".join(allowed))
        return loc, C("unknown_field", allowed=", ".join(allowed))
    if kind == "literal_error":
        allowed = allowed_literals(tp) or [ctx.get("expected", "")]
        return loc, C("not_allowed", got=got, allowed=", ".join(allowed))
    if kind in ("date_type", "date_parsing", "date_from_datetime_parsing", "date_from_datetime_inexact"):
        return loc, C("not_a_date", got=got)
    if kind in ("decimal_parsing", "decimal_type", "float_parsing", "float_type", "finite_number"):
        return loc, C("not_a_number", got=got)
    if kind in ("int_parsing", "int_type", "int_from_float"):
        return loc, C("not_whole", got=got)
    if kind in ("bool_parsing", "bool_type"):
        return loc, C("not_boolean", got=got)
    if kind == "less_than_equal" and ctx.get("le") == MAX_AMOUNT:
        return loc, C("amount_too_large", got=got, limit=str(MAX_AMOUNT))
    if kind == "decimal_max_places" and ctx.get("decimal_places") == SHARE_PLACES:
        return loc, C("share_places", got=got, limit=str(SHARE_PLACES))
    if kind == "decimal_max_places":
        return loc, C("decimal_places", got=got, limit=str(ctx.get("decimal_places")))
    if kind in RANGES:
        code, bound = RANGES[kind]
        return loc, C(code, got=got, limit=str(ctx.get(bound)))
    if kind == "string_pattern_mismatch":
        return loc, C("currency" if field == "currency" else "slug", got=got)
    if kind == "string_too_short":
        return loc, C("empty")
    if kind == "string_too_long":
        return loc, C("too_long", got=got, limit=str(ctx.get("max_length")))
    if kind == "too_short":
        return loc, C("too_few_items", limit=str(ctx.get("min_length")),
                      n=str(len(value) if hasattr(value, "__len__") else 0))
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return loc, C("expected_mapping", kind=_kind_of(value))
    if kind == "list_type":
        return loc, C("expected_list", kind=_kind_of(value))
    if kind == "string_type":
        return loc, C("expected_text", kind=_kind_of(value))
    return loc, C("invalid", reason=error.get("msg", "invalid value"), got=got)


def _union_tags(tp: Any) -> list[str]:
    tags = []
    for member in typing.get_args(tp):
        if _is_model(member):
            tag = _literal_default(member, "type")
            if tag is not None:
                tags.append(str(tag))
    return tags


def problem_at(file: str, doc: YamlDocument, loc: Path, message: Message, line: int | None = None) -> Problem:
    return Problem(file=file, line=line or doc.line_of(loc), path=format_path(loc), message=message)
