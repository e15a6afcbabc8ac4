"""Jinja2 environments whose filters write numbers, money and labels the way a language does.

The report and the web pages are both rendered through these, so a figure reads the same in both.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable

import jinja2

from evaluation.result import POOLED
from language import i18n


def environment(lang: str, currency: str, folders: Iterable[Path]) -> jinja2.Environment:
    """An environment over ``folders`` (searched in order) for ``lang`` and a contract's ``currency``."""
    env = jinja2.Environment(loader=jinja2.FileSystemLoader([str(f) for f in folders]), autoescape=True,
                             undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters.update(
        money=lambda amount, cur=currency: i18n.money(amount, cur, lang),
        number=lambda value, digits=None: i18n.number(value, lang, digits),
        cohort=lambda value: i18n.t("all_cohorts", lang) if value == POOLED else value,
        percent=lambda value, digits=1, signed=True: i18n.percent(value, lang, digits, signed),
        p_value=lambda value: i18n.p_value(value, lang),
        label=lambda value: i18n.label(value, lang),
    )
    env.globals.update(t=lambda key, **values: i18n.t(key, lang, **values), lang=lang)
    return env
