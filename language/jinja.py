"""Jinja2 environments that speak one language: ``_()``, ``ngettext()`` and number filters from ``Words``.

The report and the web pages are both rendered through these, so a figure reads the same in both.  In a
template, ``{{ _("Ledger entries") }}`` is a message id of the catalogues (``python -m language.update``
extracts it), ``{{ amount|money }}``, ``{{ value|number }}``, ``{{ share|percent }}``, ``{{ p|p_value }}``,
``{{ day|day }}`` write numbers and dates, and ``{{ status|label("status") }}`` a contract value in words;
stored messages are rendered with the contract's names by ``names.message(...)``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable

import jinja2
import markupsafe

from language.masking import mask_text
from language.words import words


def _masked(value: object) -> object:
    """Every value a page or report prints, with personal identity numbers masked (``language.masking``);
    markup the engine made itself (charts) is left as it is."""
    if isinstance(value, str) and not isinstance(value, markupsafe.Markup):
        return mask_text(value)
    return value


def environment(lang: str, currency: str, folders: Iterable[Path]) -> jinja2.Environment:
    """An environment over ``folders`` (searched in order) for ``lang`` and a contract's ``currency``."""
    w = words(lang, currency)
    env = jinja2.Environment(loader=jinja2.FileSystemLoader([str(f) for f in folders]), autoescape=True,
                             undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True,
                             finalize=_masked)
    env.filters.update(
        money=lambda amount, cur=currency: w.money(amount, cur),
        number=lambda value, digits=None: w.number(value, digits),
        integer=w.integer,
        percent=lambda value, digits=1, signed=True: w.percent(value, digits, signed),
        p_value=w.p_value,
        day=w.day,
        label=lambda value, group: w.label(group, value),
    )
    env.globals.update(_=w.gettext, gettext=w.gettext, ngettext=w.ngettext, pgettext=w.pgettext, words=w, lang=lang)
    return env
