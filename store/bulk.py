"""Bulk inserts: COPY on PostgreSQL, one executemany of plain tuples on SQLite.

Ingestion writes hundreds of thousands of rows; going through SQLAlchemy's
per-row parameter processing costs more than the database does.  Rows here
are tuples of plain Python values (str, int, float, date, None; JSON columns
already serialised), written inside the caller's transaction.
"""

from __future__ import annotations

from typing import Any, Sequence

import sqlalchemy as sa


def bulk_insert(conn: sa.Connection, table: sa.Table, columns: Sequence[str], rows: list[tuple[Any, ...]]) -> int:
    if not rows:
        return 0
    names = ", ".join(columns)
    if conn.dialect.name == "postgresql":
        cursor = conn.connection.dbapi_connection.cursor()
        try:
            with cursor.copy(f"COPY {table.name} ({names}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        finally:
            cursor.close()
    elif conn.dialect.paramstyle == "qmark":
        placeholders = ", ".join("?" for _ in columns)
        conn.exec_driver_sql(f"INSERT INTO {table.name} ({names}) VALUES ({placeholders})", rows)
    else:  # any other database: SQLAlchemy's own executemany
        conn.execute(sa.insert(table), [dict(zip(columns, row)) for row in rows])
    return len(rows)
