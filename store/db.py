"""Opening the store: SQLite by default, PostgreSQL when DATABASE_URL names one.

Every command takes its store from ``DATABASE_URL`` (default
``sqlite:///sib.db`` in the working directory).  The schema is created and
upgraded only by Alembic (``sib init``); other commands refuse to run on a
store that is missing or not at the current revision, with one clear line.
"""

from __future__ import annotations

import getpass
import os
import random
import re
import time
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable

import sqlalchemy as sa
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import ArgumentError, IntegrityError, OperationalError

from language import N_, MessageError, Texts

DEFAULT_URL = "sqlite:///sib.db"
MIGRATIONS = Path(__file__).parent / "migrations"

# Row ids are 32-bit integers on PostgreSQL; a larger number names no row (and must not reach a query,
# where PostgreSQL would refuse it with an error rather than find nothing).
MAX_ID = 2**31 - 1


def storable_id(value: int) -> bool:
    """Whether ``value`` can be the id of a stored row: asking for any other finds nothing."""
    return 1 <= value <= MAX_ID


TEXTS = Texts("store", {
    "not_a_url": N_("DATABASE_URL is not a database URL: '{url}'"),
    "cannot_use": N_("cannot use DATABASE_URL {store}: {reason}"),
    "no_folder": N_("cannot create the store {store}: folder {folder} does not exist"),
    "unreachable": N_("cannot reach the store {store}: {reason}"),
    "no_store": N_("no store at {store}; run 'sib init' first (or set DATABASE_URL)"),
    "not_initialised": N_("the store {store} is not initialised; run 'sib init' first"),
    "old_schema": N_("the store {store} is at schema {revision}, not {head}; run 'sib init' to upgrade it"),
})


class StoreError(MessageError):
    """A store that cannot be used as asked; the message is one line for the user."""


def database_url() -> str:
    return os.environ.get("DATABASE_URL") or DEFAULT_URL


def describe(url: str) -> str:
    """The URL with any password hidden, fit for a message or a log line."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "<unreadable DATABASE_URL>"


def actor() -> str:
    """Who is acting, for audit events and ledger steps: SIB_ACTOR, else the OS user."""
    explicit = os.environ.get("SIB_ACTOR")
    if explicit:
        return explicit
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli:unknown"


def make_engine(url: str | None = None) -> Engine:
    url = url or database_url()
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise StoreError(TEXTS("not_a_url", url=url)) from None
    kwargs: dict[str, Any] = {}
    if parsed.get_backend_name() == "sqlite":
        kwargs["connect_args"] = {"timeout": 30}
    elif parsed.get_backend_name() == "postgresql":
        # No JIT: the store's queries are short scans, and compiling one took longer than running it (1.5 s for
        # a contract's measurements in a store of 1,000 contracts, benchmarks/bench_scale.py).
        given = parsed.query.get("options")
        kwargs["connect_args"] = {"options": " ".join(filter(None, [given if isinstance(given, str) else None,
                                                                    "-c jit=off"]))}
    try:
        engine = sa.create_engine(parsed, **kwargs)
    except (ArgumentError, ImportError) as exc:
        raise StoreError(TEXTS("cannot_use", store=describe(url), reason=str(exc))) from None
    if parsed.get_backend_name() == "sqlite":
        sa.event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.close()


def _sqlite_path(url: str) -> Path | None:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database or parsed.database == ":memory:":
        return None
    return Path(parsed.database)


def alembic_config(url: str) -> Any:
    from alembic.config import Config  # alembic is imported only to change the schema (sib init), not to use it

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


@lru_cache(maxsize=1)
def head_revision() -> str:
    """The newest migration's revision: the one no other migration revises, read from the migration files'
    ``revision`` and ``down_revision`` lines (alembic's own reading of the folder costs every command a tenth of
    a second; a test checks that the two agree)."""
    revisions, revised = set(), set()
    for path in (MIGRATIONS / "versions").glob("*.py"):
        text = path.read_text(encoding="utf-8")
        for name, found in (("revision", revisions), ("down_revision", revised)):
            match = re.search(rf"^{name}\s*=\s*['\"]([^'\"]+)['\"]", text, re.M)
            if match:
                found.add(match.group(1))
    heads = revisions - revised
    if len(heads) == 1:
        return heads.pop()
    from alembic.script import ScriptDirectory  # a branched history: alembic decides

    return ScriptDirectory.from_config(alembic_config(DEFAULT_URL)).get_current_head() or ""


def current_revision(engine: Engine) -> str | None:
    """The store's schema revision (alembic's table ``alembic_version``), None for a store never initialised."""
    with engine.connect() as conn:
        if not sa.inspect(conn).has_table("alembic_version"):
            return None
        return conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()


def init_store(url: str | None = None) -> tuple[str | None, str]:
    """Create or upgrade the store to the current schema; return (revision before, revision after)."""
    url = url or database_url()
    path = _sqlite_path(url)
    if path is not None and path.parent and not path.parent.exists():
        raise StoreError(TEXTS("no_folder", store=describe(url), folder=str(path.parent)))
    engine = make_engine(url)
    try:
        before = current_revision(engine)
        from alembic import command

        with engine.begin() as conn:
            config = alembic_config(url)
            config.attributes["connection"] = conn
            command.upgrade(config, "head")
        return before, head_revision()
    except OperationalError as exc:
        raise StoreError(TEXTS("unreachable", store=describe(url), reason=_first_line(exc))) from None
    finally:
        engine.dispose()


def open_store(url: str | None = None, registries: bool = True) -> Engine:
    """An engine on an existing, current store; a clear StoreError otherwise.  ``registries``: make the store's
    survey instruments and cost files known to the process (every command that reads contracts' terms needs
    them; a listing of contracts does not)."""
    url = url or database_url()
    path = _sqlite_path(url)
    if path is not None and not path.exists():
        raise StoreError(TEXTS("no_store", store=describe(url)))
    engine = make_engine(url)
    try:
        revision = current_revision(engine)
    except OperationalError as exc:
        engine.dispose()
        raise StoreError(TEXTS("unreachable", store=describe(url), reason=_first_line(exc))) from None
    if revision is None:
        engine.dispose()
        raise StoreError(TEXTS("not_initialised", store=describe(url)))
    if revision != head_revision():
        engine.dispose()
        raise StoreError(TEXTS("old_schema", store=describe(url), revision=revision, head=head_revision()))
    if not registries:
        return engine
    # Survey instruments users loaded into this store are made known to the process, so that contracts,
    # ingestion and results find them by id and version like the built-in ones.
    from contracts.costs import load_stored_costs
    from contracts.instrument_store import load_stored_instruments

    load_stored_instruments(engine)
    load_stored_costs(engine)  # likewise cost files, which contracts' valuations name
    return engine


def _first_line(exc: Exception) -> str:
    text = str(getattr(exc, "orig", exc) or exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def record_audit(conn: sa.Connection, action: str, contract_id: str | None, detail: dict[str, Any],
                 who: str | None = None) -> None:
    """Append one audit event inside the caller's transaction."""
    from store.seal import audit_text, seal, seal_key
    from store.tables import AuditEventRow
    from store.types import utcnow

    from language.masking import mask_text, mask_value

    # Audit payloads hold file names, refused cells and reasons: masked before they are stored (and sealed).
    row = {"at": utcnow(), "actor": mask_text(who or actor()), "action": action, "contract_id": contract_id,
           "detail": mask_value(detail)}
    key = seal_key()
    # Sealed whenever a key exists (every store that holds participants or a ledger has one).
    row["mac"] = seal(key, audit_text(row["at"], row["actor"], action, contract_id, detail)) if key else None
    conn.execute(sa.insert(AuditEventRow), row)


def audit_events(engine: Engine, contract_id: str, action: str | None = None, newest_first: bool = False) -> list[Any]:
    """A contract's audit events (of one ``action``, if given), in the order they were written or newest first."""
    from store.tables import AuditEventRow

    query = sa.select(AuditEventRow).where(AuditEventRow.contract_id == contract_id)
    if action is not None:
        query = query.where(AuditEventRow.action == action)
    with engine.connect() as conn:
        return conn.execute(query.order_by(AuditEventRow.id.desc() if newest_first else AuditEventRow.id)).all()


def retrying(attempt: Callable[[], Any], attempts: int = 25) -> Any:
    """Run a read-then-append transaction again when a concurrent one took the same sequence number.

    The database's unique constraints decide the race; the loser reads the new state and tries again,
    so no update is lost and nothing is appended twice.
    """
    for n in range(attempts):
        try:
            return attempt()
        except IntegrityError:
            if n == attempts - 1:
                raise
            time.sleep(random.uniform(0.005, 0.05))
    return None  # pragma: no cover
