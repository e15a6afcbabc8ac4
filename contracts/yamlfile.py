"""Read a YAML file into plain data, remembering the line of every value.

Two things PyYAML does not do on its own and a contract file needs:
numbers with a decimal point become ``Decimal`` (never float, so amounts stay
exact), and every path in the document maps to the line it came from, so an
error can say "line 14" rather than "somewhere".  Duplicate keys, which PyYAML
silently lets the last one win, are reported.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

import yaml
from yaml.events import AliasEvent, CollectionEndEvent, CollectionStartEvent, ScalarEvent
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from contracts.messages import TEXTS as C
from language import Message

Path = tuple[Any, ...]

# Limits, checked on the parser's events before any value is built (docs/contracts.md): a contract is a few
# hundred lines, so these leave room for the largest while refusing an alias bomb ("billion laughs") or a
# nesting bomb before it costs memory or time.
MAX_BYTES = 1 << 20  # characters of YAML
MAX_DEPTH = 64  # nested mappings and lists
MAX_VALUES = 100_000  # values in the document once every alias ("*name", "<<: *name") is expanded


class _DecimalLoader(yaml.SafeLoader):
    """SafeLoader that turns YAML floats into ``Decimal``."""


def _construct_decimal(loader: yaml.SafeLoader, node: ScalarNode) -> Decimal | str:
    text = loader.construct_scalar(node).replace("_", "")
    try:
        return Decimal(text)
    except InvalidOperation:
        # ".inf", ".nan" and friends: keep the text, so validation reports it as not a number.
        return text


_DecimalLoader.add_constructor("tag:yaml.org,2002:float", _construct_decimal)


@dataclass
class YamlDocument:
    data: Any
    lines: dict[Path, int] = field(default_factory=dict)
    duplicates: list[tuple[Path, int]] = field(default_factory=list)

    def line_of(self, path: Path) -> int:
        """The line of ``path`` or of its nearest enclosing value that exists."""
        path = tuple(path)
        while path and path not in self.lines:
            path = path[:-1]
        return self.lines.get(path, 1)


class YamlSyntaxError(Exception):
    """Text that is not YAML: the line, and the YAML parser's own words for the problem (or, for a limit, the
    ``message`` to show instead)."""

    def __init__(self, line: int, problem: str, message: Message | None = None):
        super().__init__(f"YAML syntax error: {problem}")
        self.line = line
        self.problem = problem
        self.message = message


def _limit(line: int, message: Message) -> YamlSyntaxError:
    return YamlSyntaxError(line, message.code, message)


def check_limits(text: str) -> None:
    """Refuse, before anything is built, YAML over MAX_BYTES, nested deeper than MAX_DEPTH, or expanding (through
    aliases) to more than MAX_VALUES values; streaming the parser's events costs as much as reading the text."""
    if len(text) > MAX_BYTES:
        raise _limit(1, C("yaml_too_large", n=len(text), limit=MAX_BYTES))
    sizes: dict[str, int] = {}  # anchor -> values it stands for
    open_: list[list] = [[0, None]]  # per open collection: values inside so far, its anchor
    for event in yaml.parse(text, Loader=yaml.SafeLoader):
        line = event.start_mark.line + 1 if event.start_mark else 1
        if isinstance(event, CollectionStartEvent):
            open_.append([0, event.anchor])
            if len(open_) - 1 > MAX_DEPTH:
                raise _limit(line, C("yaml_too_deep", limit=MAX_DEPTH))
            continue
        if isinstance(event, CollectionEndEvent):
            inside, anchor = open_.pop()
            size = inside + 1
        elif isinstance(event, ScalarEvent):
            size, anchor = 1, event.anchor
        elif isinstance(event, AliasEvent):
            size, anchor = sizes.get(event.anchor or "", 1), None
        else:
            continue
        if anchor:
            sizes[anchor] = size
        open_[-1][0] += size
        if sum(level[0] for level in open_) > MAX_VALUES:
            raise _limit(line, C("yaml_too_many", limit=MAX_VALUES))


def parse_yaml(text: str) -> YamlDocument:
    """Parse ``text``; raise ``YamlSyntaxError`` with a line number if it is not YAML or breaks a limit."""
    try:
        check_limits(text)
    except yaml.MarkedYAMLError:
        pass  # not YAML: said below, with the parser's own words
    except yaml.YAMLError as exc:
        raise YamlSyntaxError(1, str(exc)) from None
    loader = _DecimalLoader(text)
    try:
        root = loader.get_single_node()
        doc = YamlDocument(data=None)
        if root is not None:
            doc.data = _build(loader, root, (), doc)
        return doc
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 1
        problem = exc.problem or exc.context or "not valid YAML"
        raise YamlSyntaxError(line, str(problem)) from None
    except yaml.YAMLError as exc:
        raise YamlSyntaxError(1, str(exc)) from None
    finally:
        loader.dispose()


def _build(loader: yaml.SafeLoader, node: Node, path: Path, doc: YamlDocument) -> Any:
    doc.lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, MappingNode):
        explicit = {id(k) for k, _ in node.value}
        loader.flatten_mapping(node)  # "<<" merge keys: merged pairs come first, explicit ones override
        out: dict[Any, Any] = {}
        written_explicitly: set[Any] = set()
        for key_node, value_node in node.value:
            key = _build(loader, key_node, path, doc) if isinstance(key_node, ScalarNode) else str(key_node.value)
            key_path = path + (key,)
            line = key_node.start_mark.line + 1
            if id(key_node) in explicit:
                if key in written_explicitly:
                    doc.duplicates.append((key_path, line))
                written_explicitly.add(key)
            doc.lines[key_path] = line
            out[key] = _build(loader, value_node, key_path, doc)
        return out
    if isinstance(node, SequenceNode):
        return [_build(loader, item, path + (i,), doc) for i, item in enumerate(node.value)]
    try:
        return loader.construct_object(node, deep=True)
    except (ValueError, OverflowError):
        # e.g. "2016-13-01" looks like a date to YAML but is not one: keep the text for validation.
        return node.value
