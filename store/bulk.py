"""Bulk inserts: COPY on PostgreSQL, one executemany of plain tuples on SQLite.

Ingestion writes hundreds of thousands of rows; going through SQLAlchemy's
per-row parameter processing costs more than the database does.  Rows here
are tuples of plain Python values (str, int, float, date, None; JSON columns
already serialised), written inside the caller's transaction.

``FrameWriter`` writes whole frames: on PostgreSQL it has Arrow write them as
CSV for COPY (no Python call per row) and keeps one COPY open across
frames for the same table, so the server stores one chunk while the caller
validates the next — on two cores the two overlap.
"""

from __future__ import annotations

import uuid
from typing import Any, Callable, Sequence

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pa_csv
import sqlalchemy as sa


def bulk_insert(conn: sa.Connection, table: sa.Table, columns: Sequence[str], rows: list[tuple[Any, ...]],
                constants: dict[str, Any] | None = None) -> int:
    """Insert ``rows`` (one value per column) plus ``constants`` (one value for every row)."""
    if not rows:
        return 0
    constants = constants or {}
    _check_constants(constants)
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


class FrameWriter:
    """Bulk writes of frames inside one transaction of ``conn`` (see the module docstring).

    While a COPY is open the connection can run nothing else: call ``close()`` before any other statement
    (a write to another table closes it by itself).
    """

    def __init__(self, conn: sa.Connection):
        self.conn = conn
        self.postgres = conn.dialect.name == "postgresql"
        self._cursor: Any = None
        self._context: Any = None  # psycopg's copy context; ``_copy`` is what it gives to write to
        self._copy: Any = None
        self._target: tuple[str, tuple[str, ...]] | None = None

    def insert(self, table: sa.Table, frame: pd.DataFrame, constants: dict[str, Any] | None = None) -> int:
        """Insert the frame's rows, each with ``constants`` (text, whole numbers or None) added."""
        if frame.empty:
            return 0
        constants = constants or {}
        _check_constants(constants)
        if not self.postgres:
            varying, rows, fixed = split_constants(frame, list(frame.columns))
            return bulk_insert(self.conn, table, varying, rows, fixed | constants)
        names = (*frame.columns, *constants)
        if self._target != (table.name, names):
            self.close()
            self._cursor = self.conn.connection.dbapi_connection.cursor()
            from psycopg.copy import QueuedLibpqWriter  # a thread sends while this one prepares the next chunk

            self._context = self._cursor.copy(f"COPY {table.name} ({', '.join(names)}) FROM STDIN (FORMAT csv)",
                                              writer=QueuedLibpqWriter(self._cursor))
            self._copy = self._context.__enter__()
            self._target = (table.name, names)
        self._copy.write(csv_bytes(frame, constants))
        return len(frame)

    def close(self) -> None:
        """Finish the open COPY (waiting for the server to store what it was sent), if any."""
        self._end(None)

    def abandon(self) -> None:
        """Cancel the open COPY, if any, so that the transaction can be rolled back."""
        self._end(_Abandoned("the bulk write was abandoned"))

    def _end(self, problem: Exception | None) -> None:
        if self._copy is None:
            return
        context, cursor = self._context, self._cursor
        self._context = self._copy = self._cursor = self._target = None
        try:
            context.__exit__(type(problem) if problem else None, problem, None)
        except Exception:
            if problem is None:
                raise  # the server refused what it was sent
        finally:
            cursor.close()


class _Abandoned(Exception):
    pass


def _check_constants(constants: dict[str, Any]) -> None:
    for value in constants.values():  # the same rule on every database
        if value is not None and (not isinstance(value, (str, int)) or isinstance(value, bool)):
            raise TypeError(f"bulk constants must be text, whole numbers or None, not {type(value).__name__}")


def csv_bytes(frame: pd.DataFrame, constants: dict[str, Any]) -> bytes:
    """The rows as CSV for COPY, written by Arrow in C++: text always quoted (so an empty text stays empty)
    and a missing value unquoted and empty (NULL); dates as ISO; floats in their shortest exact form."""
    n = len(frame)
    arrays = []
    for name in frame.columns:
        column = frame[name]
        if pd.api.types.is_datetime64_any_dtype(column):  # whole days: a date, not a timestamp
            arrays.append(pa.array(column.to_numpy(dtype="datetime64[D]"), type=pa.date32(),
                                   mask=column.isna().to_numpy()))
        else:
            arrays.append(pa.array(column, from_pandas=True))
    for value in constants.values():
        arrays.append(pa.nulls(n) if value is None else pa.array(np.full(n, value, dtype=object)))
    table = pa.Table.from_arrays(arrays, names=[f"c{i}" for i in range(len(arrays))])
    sink = pa.BufferOutputStream()
    pa_csv.write_csv(table, sink, pa_csv.WriteOptions(include_header=False, quoting_style="needed"))
    return sink.getvalue().to_pybytes()


def split_constants(frame: pd.DataFrame, columns: list[str]) -> tuple[list[str], list[tuple[Any, ...]], dict[str, Any]]:
    """Columns that vary (as row tuples of plain values) and columns with one value in every row (as constants)."""
    varying, constants = [], {}
    if len(frame) < 2:  # one row: nothing to gain, and a row needs at least one bound column
        return columns, list(zip(*(plain_values(frame[c]) for c in columns))), {}
    for c in columns:
        column = frame[c]
        if column.isna().all():
            constants[c] = None
        elif (pd.api.types.is_string_dtype(column) or column.dtype == object) and column.nunique(dropna=False) == 1 \
                and isinstance(column.iloc[0], (str, int)):
            constants[c] = column.iloc[0]
        else:
            varying.append(c)
    if not varying:  # every column constant: bind one anyway, so that there are rows to insert
        first = columns[0]
        varying.append(first)
        constants.pop(first)
    return varying, list(zip(*(plain_values(frame[c]) for c in varying))), constants


def plain_values(series: pd.Series) -> list[Any]:
    """A column as plain Python values: dates as ISO text (what both databases take), missing as None."""
    if pd.api.types.is_datetime64_any_dtype(series):
        series = series.dt.strftime("%Y-%m-%d")
    if pd.api.types.is_float_dtype(series):
        array = series.to_numpy(dtype=float)
        return np.where(np.isnan(array), None, array).tolist()
    if pd.api.types.is_integer_dtype(series):
        return series.tolist()
    return series.to_numpy(dtype=object, na_value=None).tolist()


FETCH_ROWS = 200_000


def read_frame(conn: sa.Connection, query: sa.Select,
               convert: Callable[[pd.DataFrame], pd.DataFrame] | None = None) -> pd.DataFrame:
    """A query's rows as a frame, fetched through the driver's cursor (SQLAlchemy's per-row processing skipped).

    FETCH_ROWS at a time (on PostgreSQL through a server-side cursor), each chunk made a frame and passed
    through ``convert`` (e.g. text to dates, JSON to columns) before the next is fetched, so the client never
    holds a whole result as Python rows: a read of ten million rows costs the typed frame, not the rows.
    Values come back as the driver gives them: on SQLite, dates are ISO text.  Only for plain columns.
    """
    compiled = query.compile(dialect=conn.dialect, compile_kwargs={"render_postcompile": True})  # IN (list)
    params = compiled.construct_params()
    raw = conn.connection.dbapi_connection
    if conn.dialect.name == "postgresql":
        # A named cursor lives in the transaction; outside one (autocommit) it must be held open explicitly.
        cursor = raw.cursor(name=f"sib_read_{uuid.uuid4().hex[:12]}", withhold=bool(raw.autocommit))
        statement: Any = str(compiled)
        args: Any = params
    else:
        cursor = raw.cursor()
        statement = str(compiled)
        args = tuple(params[name] for name in compiled.positiontup or ()) if conn.dialect.paramstyle == "qmark" else params
    parts: dict[str, list[Any]] = {}  # column -> its chunks, each a copy of its own (see _joined)
    try:
        cursor.execute(statement, args)
        columns = [d[0] for d in cursor.description]
        while rows := cursor.fetchmany(FETCH_ROWS):
            frame = pd.DataFrame.from_records(rows, columns=columns)
            del rows
            frame = convert(frame) if convert else frame
            for name in frame.columns:
                parts.setdefault(name, []).append(frame[name].copy())
            del frame
    finally:
        cursor.close()
    if not parts:
        empty = pd.DataFrame(columns=columns)
        return convert(empty) if convert else empty
    return _joined(parts)


def _joined(parts: dict[str, list[Any]]) -> pd.DataFrame:
    """One frame from per-column chunks, a column at a time, each column's chunks released as soon as it is
    joined, and the columns kept as they are (not consolidated into one block, which would copy them all):
    the peak is the result plus one column, not twice the result."""
    columns: dict[str, Any] = {}
    for name in list(parts):
        chunks = parts.pop(name)
        columns[name] = chunks[0] if len(chunks) == 1 else pd.concat(chunks, ignore_index=True)
        del chunks
    return pd.DataFrame(columns, copy=False)
