"""Helpers for sentences put together from translated messages and names."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from django.utils import translation
from django.utils.translation import gettext

_remembered: dict[tuple[str | None, str], str] = {}


def remembered_gettext(message: str) -> str:
    """gettext, remembered per language: for code that builds the same phrases thousands of times
    (the pricing engine explains every price), where looking each up in the catalog again was
    most of its time."""
    key = (translation.get_language(), message)
    try:
        return _remembered[key]
    except KeyError:
        _remembered[key] = value = gettext(message)
        return value


# French drops the vowel of "de", "le", "la" and "que" before a word that starts with a vowel
# ("d'Audio conférence", "l'abonnement"). Translators write it in their own words; a name filled
# in later cannot be known to them, so `fill` (in code) and `elide` (on a page or an e-mail, the
# `elided` template filter) elide before it. A word starting with "h" or "y" keeps "de":
# English names read that way ("de Harbourside", "de Yealink"), and French names with a mute h
# are rare among products and companies.
_VOWELS = frozenset("aeiouàâäéèêëîïôöùûüœæAEIOUÀÂÄÉÈÊËÎÏÔÖÙÛÜŒÆ")
_WORDS = "de|le|la|que|De|Le|La|Que"
_BEFORE_PLACEHOLDER = re.compile(rf"(?<![\w'’])({_WORDS}) (?=%\((\w+)\)s)")
_BEFORE_VOWEL = re.compile(rf"(?<![\w'’&#;-])({_WORDS}) (?=[{''.join(sorted(_VOWELS))}])")


def _in_french() -> bool:
    return (translation.get_language() or "").split("-")[0] == "fr"


def _elided(word: str) -> str:
    return word[:-1] + "'"


def fill(message: str, values: Mapping[str, Any]) -> str:
    """`message % values`, with the elisions the filled-in names call for in French:
    `fill(_("%(n)s seats of %(name)s"), {"n": 3, "name": "Audio conférence"})` reads
    "3 licences d'Audio conférence" in French, "3 seats of Audio conference" in English."""
    if _in_french():

        def before_name(match: re.Match) -> str:
            value = str(values.get(match.group(2), ""))
            return _elided(match.group(1)) if value[:1] in _VOWELS else match.group(0)

        message = _BEFORE_PLACEHOLDER.sub(before_name, message)
    return message % values


def elide(text: str) -> str:
    """`text` (a sentence already filled in, such as a translated template block) with the
    elisions French calls for before a word starting with a vowel: "Découverte de Acme" reads
    "Découverte d'Acme". Translated words are already elided, so only filled-in names change;
    other languages are left as they are."""
    if not _in_french():
        return text
    return _BEFORE_VOWEL.sub(lambda match: _elided(match.group(1)), text)
