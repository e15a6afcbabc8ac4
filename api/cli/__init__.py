"""The `sib` command line: one module per subject, all on one Typer app.

Thin by design: every command parses its arguments, calls one function of contracts/, outcomes/,
evaluation/ or payments/, and prints the result as a table (or as JSON with ``--json``).

| module | commands |
|---|---|
| ``store`` | ``init``, ``keys init`` |
| ``contracts`` | ``contract validate/load/list/show/schema`` |
| ``ingest`` | ``ingest``, ``batches``, ``verify``, ``history`` |
| ``evaluate`` | ``evaluate``, ``evaluate diff``, ``design power`` |
| ``payments`` | ``payments``, ``schedule``, ``returns``, ``forecast`` |
| ``business`` | ``costs load/list/show``, ``valuation``, ``design horizon`` (the payer's business case) |
| ``ledger`` | ``ledger show/approve/reject/invoice/pay/verify/checkpoint`` (steps by authenticated users) |
| ``accounts`` | ``accounts`` |
| ``accounting`` | ``ledger export`` (SIE 4 vouchers for the payer's finance system) |
| ``reports`` | ``report`` |
| ``users`` | ``users add/list/revoke`` |
| ``indigo`` | ``indigo import/export/compare`` |
| ``serve`` | ``serve`` |
| ``worker`` | ``worker`` (the jobs queued on the web pages) |
| ``demo`` | ``demo`` |
"""

from __future__ import annotations

import sys

from api.cli.common import app, main

# Each module adds its commands to ``app``; imported in the order `sib --help` lists them.
from api.cli import store  # noqa: E402,F401  isort: skip
from api.cli import contracts  # noqa: E402,F401  isort: skip
from api.cli import ingest  # noqa: E402,F401  isort: skip
from api.cli import followup  # noqa: E402,F401  isort: skip
from api.cli import evaluate  # noqa: E402,F401  isort: skip
from api.cli import payments  # noqa: E402,F401  isort: skip
from api.cli import business  # noqa: E402,F401  isort: skip
from api.cli import ledger  # noqa: E402,F401  isort: skip
from api.cli import accounting  # noqa: E402,F401  isort: skip
from api.cli import accounts  # noqa: E402,F401  isort: skip
from api.cli import reports  # noqa: E402,F401  isort: skip
from api.cli import users  # noqa: E402,F401  isort: skip
from api.cli import indigo  # noqa: E402,F401  isort: skip
from api.cli import serve  # noqa: E402,F401  isort: skip
from api.cli import worker  # noqa: E402,F401  isort: skip
from api.cli import demo  # noqa: E402,F401  isort: skip

__all__ = ["app", "main", "run"]


def run() -> None:
    """The console script: exit with main()'s code."""
    sys.exit(main())


if __name__ == "__main__":
    run()
