"""Bulk inserts: COPY on PostgreSQL, one executemany of plain tuples on SQLite.

Ingestion writes hundreds of thousands of rows; going through SQLAlchemy's
per-row parameter processing costs more than the database does.  Rows here
are tuples of plain Python values (str, int, float, date, None; JSON columns
already serialised), written inside the caller's transaction.
"""

from __future__ import annotations

import uuid
from typing import Any, Sequence

import pandas as pd
import sqlalchemy as sa


def bulk_insert(conn: sa.Connection, table: sa.Table, columns: Sequence[str], rows: list[tuple[Any, ...]],
                constants: dict[str, Any] | None = None) -> int:
    """Insert ``rows`` (one value per column) plus ``constants`` (one value for every row)."""
    if not rows:
        return 0
    constants = constants or {}
    for value in constants.values():  # the same rule on every database
        if value is not None and (not isinstance(value, (str, int)) or isinstance(value, bool)):
            raise TypeError(f"bulk constants must be text, whole numbers or None, not {type(value).__name__}")
    if conn.dialect.name == "postgresql":
        names = ", ".join([*columns, *constants])
        tail = tuple(constants.values())
        cursor = conn.connection.dbapi_connection.cursor()
        try:
            with cursor.copy(f"COPY {table.name} ({names}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row + tail)
        finally:
            cursor.close()
    elif conn.dialect.paramstyle == "qmark":
        # Constants are written into the statement once, not bound on every row: binding is the cost here.
        literals = [_literal(conn, value) for value in constants.values()]
        names = ", ".join([*columns, *constants])
        values = ", ".join(["?"] * len(columns) + literals)
        conn.exec_driver_sql(f"INSERT INTO {table.name} ({names}) VALUES ({values})", rows)
    else:  # any other database: SQLAlchemy's own executemany
        conn.execute(sa.insert(table), [dict(zip(columns, row)) | constants for row in rows])
    return len(rows)


def _literal(conn: sa.Connection, value: str | int | None) -> str:
    """A plain value (text, a whole number or NULL) as SQL text, quoted by SQLAlchemy for this dialect."""
    if value is None:
        return "NULL"
    return str(sa.literal(value).compile(dialect=conn.dialect, compile_kwargs={"literal_binds": True}))


FETCH_ROWS = 200_000


def read_frame(conn: sa.Connection, query: sa.Select) -> pd.DataFrame:
    """A query's rows as a frame, fetched through the driver's cursor (SQLAlchemy's per-row processing skipped).

    On PostgreSQL through a server-side cursor, FETCH_ROWS at a time, so the client never holds the whole
    result twice (rows and frame); on SQLite in one fetch.  Values come back as the driver gives them: on
    SQLite, dates are ISO text.  Only for plain columns.
    """
    compiled = query.compile(dialect=conn.dialect)
    params = compiled.construct_params()
    raw = conn.connection.dbapi_connection
    if conn.dialect.name == "postgresql":
        # A named cursor lives in the transaction; outside one (autocommit) it must be held open explicitly.
        cursor = raw.cursor(name=f"sib_read_{uuid.uuid4().hex[:12]}", withhold=bool(raw.autocommit))
        try:
            cursor.execute(str(compiled), params)
            columns = [d[0] for d in cursor.description]
            frames = []
            while rows := cursor.fetchmany(FETCH_ROWS):
                frames.append(pd.DataFrame.from_records(rows, columns=columns))
        finally:
            cursor.close()
        if not frames:
            return pd.DataFrame(columns=columns)
        return frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)
    if conn.dialect.paramstyle == "qmark":
        args: Any = tuple(params[name] for name in compiled.positiontup or ())
    else:
        args = params
    cursor = raw.cursor()
    try:
        cursor.execute(str(compiled), args)
        columns = [d[0] for d in cursor.description]
        return pd.DataFrame.from_records(cursor.fetchall(), columns=columns)
    finally:
        cursor.close()
