"""Vendor category codes read as words, in the reader's language."""

from __future__ import annotations

import pytest
from django.utils import translation

from seatkeeper.catalog.labels import category_label


@pytest.mark.parametrize(
    ("code", "english", "french"),
    [
        ("OnlineServices", "Online services", "Services en ligne"),
        ("OnlineServicesNCE", "Online services (New Commerce)", "Services en ligne (New Commerce)"),
        ("", "Other", "Autre"),
    ],
)
def test_known_codes_have_translated_labels(code, english, french):
    with translation.override("en"):
        assert category_label(code) == english
    with translation.override("fr"):
        assert category_label(code) == french


@pytest.mark.parametrize(
    ("code", "label"),
    [
        ("CloudPBXAddOns", "Cloud PBX add ons"),
        ("UnifiedCommunications", "Unified communications"),
        ("Téléphonie et visio", "Téléphonie et visio"),
    ],
)
def test_other_codes_are_split_into_words(code, label):
    assert category_label(code) == label
