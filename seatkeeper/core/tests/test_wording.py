"""French elisions before names filled into translated sentences (`core.wording`)."""

from __future__ import annotations

import pytest
from django.template import Context, Template
from django.utils import translation

from seatkeeper.activity.wording import Entry, describe
from seatkeeper.core.wording import elide, fill


@pytest.mark.parametrize(
    ("_case", "message", "values", "expected"),
    [
        (
            "de before a vowel",
            "%(n)s licences de %(name)s",
            {"n": 3, "name": "Audio conférence"},
            "3 licences d'Audio conférence",
        ),
        (
            "de before an accented vowel",
            "Abonnements de %(name)s",
            {"name": "Éditions Lune"},
            "Abonnements d'Éditions Lune",
        ),
        ("le before a vowel", "Voir le %(name)s", {"name": "abonnement"}, "Voir l'abonnement"),
        ("la before a vowel", "Voir la %(name)s", {"name": "offre"}, "Voir l'offre"),
        ("que before a vowel", "Pour que %(who)s gère", {"who": "Acme"}, "Pour qu'Acme gère"),
        ("a capital De", "De %(name)s", {"name": "Acme"}, "D'Acme"),
        (
            "de before a consonant",
            "Abonnements de %(name)s",
            {"name": "Boutique et fournil"},
            "Abonnements de Boutique et fournil",
        ),
        (
            "de before an h",
            "Abonnements de %(name)s",
            {"name": "Harbourside Vets"},
            "Abonnements de Harbourside Vets",
        ),
        ("de before a number", "de %(old)s à %(new)s", {"old": 8, "new": 10}, "de 8 à 10"),
        ("no article before the name", "Commande %(name)s", {"name": "Acme"}, "Commande Acme"),
    ],
)
def test_fill_elides_before_a_name_in_french(_case, message, values, expected):
    with translation.override("fr"):
        assert fill(message, values) == expected


def test_fill_leaves_english_as_it_is():
    with translation.override("en"):
        assert fill("Renew de %(name)s", {"name": "Acme"}) == "Renew de Acme"


def test_elide_changes_only_what_french_elides():
    with translation.override("fr"):
        assert elide("Découverte de Acme") == "Découverte d'Acme"
        assert elide("Relancez-la ou abandonnez-la ici") == "Relancez-la ou abandonnez-la ici"
        assert elide("Le tenant de Harbourside") == "Le tenant de Harbourside"
    with translation.override("en"):
        assert elide("de Acme") == "de Acme"


def test_an_activity_sentence_elides_before_the_organisation_in_french():
    entry = Entry(
        code="tenant.create", actor="Bellevue Informatique", object="", object_type="",
        organisation="Atelier Dupont", details={"domain": "atelierdupont.onmicrosoft.com"},
        changes={},
    )  # fmt: skip
    with translation.override("fr"):
        sentence = describe(entry).sentence
    assert "d'Atelier Dupont" in sentence
    assert "de Atelier" not in sentence


def test_a_translated_block_in_a_template_elides_before_the_name():
    template = Template(
        "{% load i18n wording %}{% filter elided %}{% blocktranslate with account=name %}"
        "Discovery of {{ account }}{% endblocktranslate %}{% endfilter %}"
    )
    with translation.override("fr"):
        assert template.render(Context({"name": "Azur Conseil"})) == "Découverte d'Azur Conseil"
    with translation.override("en"):
        assert template.render(Context({"name": "Azur Conseil"})) == "Discovery of Azur Conseil"
