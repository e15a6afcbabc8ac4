"""What every `sib` command shares: the Typer app, the consoles, one-line errors, JSON output, progress bars,
and the language the CLI speaks.

A user mistake ends with one line on stderr and exit code 1; wrong usage exits 2.  Progress bars go to
stderr, so ``--json`` output on stdout stays clean.  Words go through the catalogues (``w()._(...)``) in the
language of SIB_LANG (``sv`` or ``en``), else of the locale (LANGUAGE, LC_ALL, LC_MESSAGES, LANG), else
English; ``--json`` keys never change with the language.
"""

from __future__ import annotations

import io
import json
import logging
import os
import sys
from contextlib import contextmanager
from datetime import date
from typing import Any, Callable, Iterator, TextIO

import typer
from rich.console import Console

try:  # typer 0.2x carries its own copy of click
    from typer._click import exceptions as click_exceptions
except ImportError:  # pragma: no cover - older typer uses click itself
    from click import exceptions as click_exceptions

# Only what every command needs is imported here: `sib --help` must not wait for pandas, SQLAlchemy or the
# store (an import-graph test keeps it so).  Each command imports its own tools when it runs.
from language import MessageError
from language.masking import mask_text, mask_value, one_line
from language.words import Words, from_environment, words



class _Masked:
    """A console's file: what rich writes, with personal identity numbers masked on the way out."""

    def __init__(self, stream: Callable[[], TextIO]):
        self._stream = stream  # looked up at each write, so that tests capturing sys.stdout see the output

    def write(self, text: str) -> int:
        return self._stream().write(mask_text(text))

    def flush(self) -> None:
        self._stream().flush()

    def isatty(self) -> bool:
        return self._stream().isatty()

    def fileno(self) -> int:
        return self._stream().fileno()

    @property
    def encoding(self) -> str:
        return getattr(self._stream(), "encoding", "utf-8")


# Text from delivered files and contracts is printed literally: no rich markup ([link=...]) and no emoji codes.
out = Console(file=_Masked(lambda: sys.stdout), highlight=False, soft_wrap=True, markup=False, emoji=False)
err = Console(file=_Masked(lambda: sys.stderr), stderr=True, highlight=False, soft_wrap=True, markup=False,
              emoji=False)
if not out.is_terminal:  # piped: tables as wide as they need, not the 80-column default
    out.width = 160

app = typer.Typer(
    add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False, rich_markup_mode=None,
    help="sib: an engine for social outcomes contracts (social impact bonds). "
    "The store is DATABASE_URL (default sqlite:///sib.db).",
)

JSON_OPTION = typer.Option(False, "--json", help="Print JSON for scripts instead of a table.")


def _version(shown: bool) -> None:
    if shown:
        from store.version import code_version

        out.print(f"sib {code_version()}")
        raise typer.Exit(0)


@app.callback()
def _root(version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                       help="Print the engine's version and exit.")) -> None:
    """sib: an engine for social outcomes contracts (social impact bonds). The store is DATABASE_URL (default
    sqlite:///sib.db)."""


def w() -> Words:
    """The words of the language the CLI speaks (see the module's docstring)."""
    return words(from_environment())


class UserError(Exception):
    """A mistake the user can fix, said in the CLI's language; printed as one line, exit code 1."""


class UsageProblem(UserError):
    """An option given a value it does not take (``--lang xx``, ``--kind foo``): wrong usage, exit code 2, as a
    wrong option name is."""


USER_ERRORS = (UserError, MessageError)  # every engine error a person can act on is a MessageError


def _loaded(module: str, name: str) -> Any:
    """A class of a module already imported (None if it is not): an error of a module never loaded cannot be
    what was raised, so checking for it needs no import."""
    found = sys.modules.get(module)
    return getattr(found, name, None) if found is not None else None


def print_json(data: Any) -> None:
    """``--json`` output; anything like a personal identity number in it masked (``language.masking``)."""
    sys.stdout.write(json.dumps(mask_value(data), ensure_ascii=False, indent=2, default=str) + "\n")


def parse_day(text: str | None, option: str = "--as-of") -> date:
    if text is None:
        return date.today()
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise UserError(w()._("{option} '{text}' is not a date; expected YYYY-MM-DD", option=option, text=text)) from None


def bar() -> Any:
    """A progress bar on stderr (hidden when stderr is not a terminal): what is done, how much of how much
    (rows, metrics), the percentage, the time taken and the time left."""
    from rich.progress import (BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TaskProgressColumn,
                               TextColumn, TimeElapsedColumn, TimeRemainingColumn)

    return Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TaskProgressColumn(), TimeElapsedColumn(), TimeRemainingColumn(), console=err, transient=True,
                    disable=not err.is_terminal,
                    # Our consoles write through whatever sys.stdout/sys.stderr are (``_Masked``): were rich to
                    # redirect them to itself while the bar shows, each write would come back to it without end
                    # (a hang in every real terminal).
                    redirect_stdout=False, redirect_stderr=False)


class Shown:
    """One task on a progress bar, for the work to tell: ``step()`` moves it on, ``at(done, total)`` sets it
    (rows read of rows in the file, metrics evaluated of metrics); ``showing`` is false when nobody watches
    (stderr not a terminal), so work that costs something only to count may skip it."""

    def __init__(self, shown: Any, task: Any):
        self._shown, self._task = shown, task
        self.showing = not shown.disable

    def __call__(self, step: float = 1.0, text: str | None = None) -> None:
        self._shown.update(self._task, advance=step, **({"description": text} if text else {}))

    def at(self, done: float, total: float | None, text: str | None = None) -> None:
        self._shown.update(self._task, completed=done, total=total, **({"description": text} if text else {}))


@contextmanager
def progress(description: str, total: float | None = None) -> Iterator[Shown]:
    """One task on a progress bar; yields a ``Shown`` (call it to advance, ``.at(done, total)`` to set it)."""
    with bar() as shown:
        yield Shown(shown, shown.add_task(description, total=total))


def chosen_version(stored: Any, version: int | None) -> Any:
    """The latest version of a stored contract, or the one asked for (a user error if there is none)."""
    chosen = stored.latest if version is None else next((v for v in stored.versions if v.version == version), None)
    if chosen is None:
        raise UserError(w()._("contract '{contract}' has no version {version}; versions: {versions}",
                              contract=stored.id, version=version,
                              versions=", ".join(str(v.version) for v in stored.versions)))
    return chosen


class OneLineFormatter(logging.Formatter):
    """Log records as single lines: personal identity numbers masked, newlines and control characters in
    file-supplied text (a file name, a cell) escaped, so no record can forge another."""

    def format(self, record: logging.LogRecord) -> str:
        return one_line(super().format(record))


def configure_logging() -> None:
    """Log lines (batches accepted or refused, runs, ledger entries; never a personal number) to SIB_LOG_FILE."""
    target = os.environ.get("SIB_LOG_FILE")
    if target and not logging.getLogger("sib").handlers:
        handler = logging.FileHandler(target, encoding="utf-8")
        handler.setFormatter(OneLineFormatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
        logging.getLogger("sib").addHandler(handler)
        logging.getLogger("sib").setLevel(logging.INFO)


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; map user errors to one line and exit code 1, usage errors to 2.  With --json, an error is a
    JSON object on stderr ({"error": {"code", "message", "exit", "problems"?}}), for scripts as the output is."""
    configure_logging()
    args = sys.argv[1:] if argv is None else list(argv)
    failed = _JsonErrors() if "--json" in args else _TextErrors()
    try:
        result = app(args=args, prog_name="sib", standalone_mode=False)
    except typer.Exit as exc:
        return exc.exit_code
    except click_exceptions.UsageError as exc:
        shown = io.StringIO()
        exc.show(file=shown)  # the usage line and the error, which may quote a file name: masked
        return failed.usage(mask_text(shown.getvalue()), mask_text(exc.format_message()))
    except click_exceptions.ClickException as exc:
        return failed.say("error", exc.format_message(), 1)
    except typer.Abort:
        return failed.say("aborted", w()._("Aborted."), 1, bare=True)
    except USER_ERRORS as exc:
        said = w().message(exc.message) if isinstance(exc, MessageError) else str(exc)
        code = exc.message.code if isinstance(exc, MessageError) else type(exc).__name__
        return failed.say(code, said, 2 if isinstance(exc, UsageProblem) else 1)
    except Exception as exc:
        contract_file = _loaded("contracts.problems", "ContractFileError")
        if contract_file is not None and isinstance(exc, contract_file):
            return failed.problems([problem.text(w()) for problem in exc.problems])
        database = tuple(c for c in (_loaded("sqlalchemy.exc", "OperationalError"),
                                     _loaded("sqlalchemy.exc", "ProgrammingError")) if c is not None)
        if database and isinstance(exc, database):
            from store.db import database_url, describe

            return failed.say("store_failed", w()._("the store {store} failed: {reason}",
                                                    store=describe(database_url()),
                                                    reason=str(getattr(exc, "orig", exc)).splitlines()[0]), 1)
        raise
    return result if isinstance(result, int) else 0


class _TextErrors:
    """Errors as lines on stderr."""

    def usage(self, shown: str, message: str) -> int:
        sys.stderr.write(shown)
        return 2

    def say(self, code: str, message: str, status: int, bare: bool = False) -> int:
        err.print(message if bare else w()._("error: {message}", message=message), markup=False)
        return status

    def problems(self, lines: list[str]) -> int:
        for line in lines:
            err.print(line, markup=False)
        return 1


class _JsonErrors:
    """Errors as one JSON object on stderr, for a command run with --json."""

    def _write(self, code: str, message: str, status: int, problems: list[str] | None = None) -> int:
        body: dict[str, Any] = {"code": code, "message": message, "exit": status}
        if problems is not None:
            body["problems"] = problems
        sys.stderr.write(mask_text(json.dumps({"error": body}, ensure_ascii=False)) + "\n")
        return status

    def usage(self, shown: str, message: str) -> int:
        return self._write("usage", message, 2)

    def say(self, code: str, message: str, status: int, bare: bool = False) -> int:
        return self._write(code, message, status)

    def problems(self, lines: list[str]) -> int:
        return self._write("invalid_file", lines[0] if len(lines) == 1 else
                           w().ngettext("{n} problem", "{n} problems", len(lines)), 1, lines)
