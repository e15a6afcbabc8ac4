"""The server's log lines (uvicorn's own and the access log), one line each and masked.

A request line carries the path and query string a client chose; an error line may carry a file name.  Both
go through ``language.masking.one_line``: no personal identity number, no newline or control character that
could forge another line.
"""

from __future__ import annotations

import copy
import logging
from typing import Any

from uvicorn.config import LOGGING_CONFIG
from uvicorn.logging import AccessFormatter, DefaultFormatter

from language.masking import one_line


class OneLineDefault(DefaultFormatter):
    def format(self, record: logging.LogRecord) -> str:
        return one_line(super().format(record))


class OneLineAccess(AccessFormatter):
    def format(self, record: logging.LogRecord) -> str:
        return one_line(super().format(record))


def log_config() -> dict[str, Any]:
    """uvicorn's logging configuration with its two formatters replaced by the masking ones above."""
    config = copy.deepcopy(LOGGING_CONFIG)
    config["formatters"]["default"]["()"] = f"{__name__}.OneLineDefault"
    config["formatters"]["access"]["()"] = f"{__name__}.OneLineAccess"
    return config
