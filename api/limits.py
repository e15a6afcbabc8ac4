"""What a slow or greedy client may hold (docs/api.md, "Timeouts and limits"), for `sib serve` and its protocol:
here, outside ``api.http``, so that the CLI can name them without loading the server.

An idle keep-alive connection is closed after 5 s; a request's line and headers must arrive whole within
HEADER_TIMEOUT s of the connection opening (or of the previous response), else the connection is closed; they may
not exceed 64 KiB; at most 200 connections at once (more are answered 503); a graceful shutdown waits 30 s at most.
"""

HEADER_TIMEOUT = 10.0
SERVER_LIMITS: dict = {"timeout_keep_alive": 5, "h11_max_incomplete_event_size": 64 * 1024, "limit_concurrency": 200,
                       "timeout_graceful_shutdown": 30}
