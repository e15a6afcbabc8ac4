"""The HTTP protocol `sib serve` runs: uvicorn's h11 protocol with a timeout on reading a request's headers.

A module of its own, importable by name (``api.http.protocol:HeaderTimeout``), so that every worker process of
``sib serve --workers N`` loads the same class."""

from __future__ import annotations

import socket
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

from api.limits import HEADER_TIMEOUT


class HeaderTimeout(H11Protocol):
    """uvicorn's h11 protocol with the header-read timeout uvicorn lacks (it times out only idle keep-alive
    connections, and any byte received, one a minute, resets that): a request's line and headers must be
    complete within HEADER_TIMEOUT seconds, or the connection is closed.  The body is not timed here."""

    header_timer: Any = None

    def connection_made(self, transport: Any) -> None:  # type: ignore[override]
        super().connection_made(transport)
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            # asyncio sets TCP_NODELAY only on sockets it knows as TCP; the listening socket uvicorn hands to its
            # worker processes (--workers N) arrives without its protocol number, so each small response would
            # wait for the client's delayed ACK: 40 ms a request.  Set it here, for every connection.
            try:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            except OSError:
                pass
        self._arm()

    def _arm(self) -> None:
        self._disarm()
        self.header_timer = self.loop.call_later(HEADER_TIMEOUT, self._headers_too_slow)

    def _disarm(self) -> None:
        if self.header_timer is not None:
            self.header_timer.cancel()
            self.header_timer = None

    def _headers_too_slow(self) -> None:
        self.header_timer = None
        if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
            self.transport.close()  # no request has begun: nothing to answer

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self.conn.their_state is not h11.IDLE:  # the headers are in: the request runs untimed
            self._disarm()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
            self._arm()  # the next request on this connection gets the same time for its headers

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)
