"""Files loaded like a contract (instruments, organisations): read, parsed and validated in one pass, every
problem reported with its file, line and field, nothing stored unless the whole file is sound."""

from __future__ import annotations

import hashlib
from pathlib import Path as FsPath
from typing import Any, Callable, Iterable, TypeVar

from pydantic import BaseModel, ValidationError

from contracts.messages import TEXTS as C
from contracts.problems import ContractFileError, Problem, describe_error, problem_at, show
from contracts.yamlfile import YamlSyntaxError, parse_yaml
from language import Message
from language.masking import mask_text, mask_value

Model = TypeVar("Model", bound=BaseModel)
Checks = Callable[[Any], Iterable[tuple[tuple, Message]]]


def read_text(path: str | FsPath) -> str:
    name = mask_text(str(path))
    try:
        return FsPath(path).read_text(encoding="utf-8")
    except (FileNotFoundError, IsADirectoryError):
        raise ContractFileError([Problem(name, 0, "", C("no_file"))]) from None
    except UnicodeDecodeError:
        raise ContractFileError([Problem(name, 0, "", C("not_utf8"))]) from None


def load_model_text(text: str, model: type[Model], name: str, checks: Checks | None = None) -> Model:
    """``text`` as ``model``: YAML syntax, then structure, then ``checks`` (cross-field rules), every problem."""
    name = mask_text(name)
    try:
        doc = parse_yaml(text)
    except YamlSyntaxError as exc:
        raise ContractFileError([Problem(name, exc.line, "", exc.message or C("yaml", problem=exc.problem))]) from None
    if not isinstance(doc.data, dict):
        raise ContractFileError([Problem(name, 1, "", C("top_not_mapping_of", got=show(doc.data),
                                                        what=model.__name__.lower()))])
    doc.data = mask_value(doc.data)
    problems = [problem_at(name, doc, loc, C("duplicate_key", key=show(loc[-1])), line) for loc, line in doc.duplicates]
    try:
        value = model.model_validate(doc.data)
    except ValidationError as exc:
        for error in exc.errors(include_url=False):
            loc, message = describe_error(model, error, doc.data)
            problems.append(problem_at(name, doc, loc, message))
        raise ContractFileError(problems) from None
    if checks is not None:
        problems += [problem_at(name, doc, loc, message) for loc, message in checks(value)]
    if problems:
        raise ContractFileError(problems)
    return value


def store_version(engine: Any, table: Any, key: str, ident: str, version: int, values: dict[str, Any], text: str,
                  name: str, changed: Message, audit: str, actor_name: str | None = None) -> bool:
    """Keep one version of a file loaded like a contract (an instrument, an organisation): False when that
    version is stored with the same content; refused (``changed``) when it is stored with other content, since
    a stored version never changes."""
    import sqlalchemy as sa

    from store.db import actor, record_audit

    digest = sha256(text)
    columns = table.__table__.c
    with engine.begin() as conn:
        earlier = conn.execute(sa.select(columns.sha256).where(columns[key] == ident,
                                                               columns.version == version)).scalar()
        if earlier is not None:
            if earlier == digest:
                return False
            raise ContractFileError([Problem(mask_text(name), 0, "version", changed)])
        conn.execute(sa.insert(table).values(**{key: ident, "version": version, "sha256": digest,
                                                "created_by": actor_name or actor()}, **values))
        record_audit(conn, audit, None, {key: ident, "version": version}, actor_name)
    return True


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
