"""The gettext catalogues: ``language/locale/<lang>/LC_MESSAGES/sib.po`` in the repository, compiled to
``.mo`` when the package is built or installed (``setup.py``), and from the ``.po`` in memory when a
``.mo`` is missing or older (a checkout whose catalogue was just edited).

Message ids are English, so English needs no translation (its catalogue is the template itself).  A
message id the Swedish catalogue lacks is shown in English, and recorded in ``MISSING``: the tests render
every page, report and message in Swedish and fail on anything recorded there.
"""

from __future__ import annotations

import gettext
import io
from functools import lru_cache
from pathlib import Path

LOCALE_DIR = Path(__file__).parent / "locale"
DOMAIN = "sib"
MISSING: set[tuple[str, str]] = set()  # (language, message id) shown untranslated since start
_MISSING_LIMIT = 10_000


class _Untranslated(gettext.NullTranslations):
    """The last fallback: the English message id, noted as missing."""

    def __init__(self, lang: str):
        super().__init__()
        self.lang = lang

    def _note(self, message: str) -> None:
        if self.lang != "en" and len(MISSING) < _MISSING_LIMIT:
            MISSING.add((self.lang, message))

    def gettext(self, message: str) -> str:
        self._note(message)
        return message

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        self._note(singular)
        return singular if n == 1 else plural

    def pgettext(self, context: str, message: str) -> str:
        self._note(f"{context}|{message}")
        return message

    def npgettext(self, context: str, singular: str, plural: str, n: int) -> str:
        self._note(f"{context}|{singular}")
        return singular if n == 1 else plural


def po_path(lang: str) -> Path:
    return LOCALE_DIR / lang / "LC_MESSAGES" / f"{DOMAIN}.po"


def compile_po(po: Path, mo: Path | io.BytesIO) -> None:
    """Write the compiled catalogue of ``po`` (fuzzy entries left out, as gettext does)."""
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    with po.open("rb") as source:
        catalog = read_po(source)
    if isinstance(mo, Path):
        with mo.open("wb") as target:
            write_mo(target, catalog)
    else:
        write_mo(mo, catalog)


@lru_cache(maxsize=None)
def translations(lang: str) -> gettext.NullTranslations:
    """The catalogue of ``lang``, falling back to the English message id (recorded as missing)."""
    po = po_path(lang)
    mo = po.with_suffix(".mo")
    found: gettext.NullTranslations
    if mo.exists() and (not po.exists() or mo.stat().st_mtime >= po.stat().st_mtime):
        with mo.open("rb") as source:
            found = gettext.GNUTranslations(source)
    elif po.exists():
        buffer = io.BytesIO()
        compile_po(po, buffer)
        buffer.seek(0)
        found = gettext.GNUTranslations(buffer)
    else:
        found = gettext.NullTranslations()
    found.add_fallback(_Untranslated(lang))
    return found
