"""A few asyncio connections to a PostgreSQL store, for the one query the API makes on every request
(``api.admission``).

A query on the engine's own (blocking) connections holds the server's event loop for the whole round trip to
PostgreSQL: no other request moves meanwhile, and one server process answered the status at a third of its
health rate.  On psycopg's asyncio connections the loop serves other requests while one waits.  They are kept
per event loop (a connection belongs to the loop it was opened on; the test client opens a loop per request):
at most MAX_CONNECTIONS per store and loop, in autocommit (a read, nothing to roll back), and those of a loop
that has closed are closed too.  Nothing is cached here: every call is a query.
"""

from __future__ import annotations

import asyncio
import threading
import weakref
from typing import Any

from sqlalchemy.engine import Engine

MAX_CONNECTIONS = 4  # per store and event loop, beside the engine's own pool


class Connections:
    """The asyncio connections of one store on one event loop."""

    def __init__(self, engine: Engine):
        self.args, self.kwargs = engine.dialect.create_connect_args(engine.url)
        self.idle: list[Any] = []
        self.slots = asyncio.Semaphore(MAX_CONNECTIONS)

    async def first(self, sql: str, params: dict[str, Any]) -> Any:
        """The first row of ``sql`` (a named tuple), or None.  A kept connection the server has closed meanwhile
        (a restart, an idle timeout) is dropped and the query made once more on a new one."""
        import psycopg

        async with self.slots:
            reused = bool(self.idle)
            try:
                return await self._first(sql, params)
            except psycopg.OperationalError:
                if not reused:
                    raise
            return await self._first(sql, params, fresh=True)

    async def _first(self, sql: str, params: dict[str, Any], fresh: bool = False) -> Any:
        conn = await self._open() if fresh or not self.idle else self.idle.pop()
        try:
            row = await (await conn.execute(sql, params)).fetchone()
        except BaseException:
            await _close(conn)  # failed or cancelled mid-query: its state is unknown, so it is not used again
            raise
        self.idle.append(conn)
        return row

    async def _open(self) -> Any:
        import psycopg
        from psycopg.rows import namedtuple_row

        return await psycopg.AsyncConnection.connect(*self.args, **self.kwargs, autocommit=True,
                                                     row_factory=namedtuple_row)

    async def close(self) -> None:
        while self.idle:
            await _close(self.idle.pop())

    def abandon(self) -> None:
        """Close the connections of a loop that has closed (they can no longer be awaited on it)."""
        while self.idle:
            self.idle.pop().pgconn.finish()


async def _close(conn: Any) -> None:
    await conn.close()  # (psycopg closes a broken connection without complaint)


# Per event loop (by id, with a weak reference to tell a loop that has gone from a new one given the same id): the
# loop's connections to each store.  Loops run in several threads (the test client runs one per request), so the
# table is changed under a lock.
_LOOPS: dict[int, tuple[weakref.ref[asyncio.AbstractEventLoop], dict[str, Connections]]] = {}
_LOCK = threading.Lock()


def connections(engine: Engine) -> Connections:
    """This event loop's connections to ``engine``'s store (those of loops that have closed or gone are closed
    first)."""
    loop = asyncio.get_running_loop()
    url = engine.url.render_as_string(hide_password=False)
    with _LOCK:
        for key, (ref, stores) in list(_LOOPS.items()):
            gone = ref()
            if gone is None or gone.is_closed():
                del _LOOPS[key]
                for kept in stores.values():
                    kept.abandon()
        stores = _LOOPS.setdefault(id(loop), (weakref.ref(loop), {}))[1]
        if url not in stores:
            stores[url] = Connections(engine)
        return stores[url]


async def close_connections() -> None:
    """Close this event loop's connections (the server's shutdown)."""
    with _LOCK:
        stores = _LOOPS.pop(id(asyncio.get_running_loop()), (None, {}))[1]
    for kept in stores.values():
        await kept.close()
