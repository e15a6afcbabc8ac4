"""Keep the catalogues in step with the code: ``python -m language.update``.

Extracts every message id from the Python code and the Jinja2 templates (Babel), writes the template
``language/locale/sib.pot``, and merges it into each language's ``sib.po``: new ids arrive untranslated,
ids no longer in the code are dropped, nothing is guessed (no fuzzy matching).  Then translate what is new
in ``language/locale/sv/LC_MESSAGES/sib.po``; ``tests/test_language.py`` fails until every id is.
"""

from __future__ import annotations

from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po, write_po

from language import LANGUAGES
from language.catalogue import DOMAIN, LOCALE_DIR, po_path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("api", "contracts", "outcomes", "evaluation", "payments", "store", "language", "indigo")
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "pgettext": ((1, "c"), 2), "N_": None,
            "C_": ((1, "c"), 2)}
METHOD_MAP = [("**/templates/**.j2", "jinja2"), ("**.py", "python")]
OPTIONS = {"**/templates/**.j2": {"trim_blocks": "true", "lstrip_blocks": "true"}}


def extract() -> Catalog:
    """Every message id the code and templates use, with where each is used."""
    catalog = Catalog(project="sib-engine", domain=DOMAIN, charset="utf-8")
    for package in PACKAGES:
        for filename, lineno, message, comments, context in extract_from_dir(
                ROOT / package, METHOD_MAP, OPTIONS, KEYWORDS, strip_comment_tags=True):
            catalog.add(message, None, [(f"{package}/{filename}", lineno)], auto_comments=comments, context=context)
    return catalog


def update() -> dict[str, int]:
    """Write the template and merge it into every language; returns the untranslated count per language."""
    template = extract()
    with open(LOCALE_DIR / f"{DOMAIN}.pot", "wb") as fh:
        write_po(fh, template, width=120, sort_by_file=False, omit_header=False)
    untranslated = {}
    for lang in LANGUAGES:
        path = po_path(lang)
        if path.exists():
            with path.open("rb") as fh:
                catalog = read_po(fh, locale=lang, domain=DOMAIN)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            catalog = Catalog(locale=lang, domain=DOMAIN, project="sib-engine", charset="utf-8")
        catalog.update(template, no_fuzzy_matching=True, update_header_comment=False)
        catalog.obsolete.clear()
        catalog.fuzzy = False  # the header is ours, not a guess
        catalog.last_translator = "sib-engine developers"
        catalog.language_team = {"sv": "Svenska", "en": "English"}[lang]
        catalog.copyright_holder = "the sib-engine developers"
        with path.open("wb") as fh:
            write_po(fh, catalog, width=120, omit_header=False, include_previous=False)
        untranslated[lang] = sum(1 for m in catalog if m.id and not m.string)
    return untranslated


if __name__ == "__main__":
    for lang, n in update().items():
        print(f"{po_path(lang)}: {n} untranslated" + (" (English is the source language)" if lang == "en" else ""))
