"""Role × (own, child, sibling, parent) × (read, change), through the UI and the API.

Read answers 200 inside the asker's tree and 404 outside it (never 403, which would reveal that
the object exists). Change answers 200/302 where the role may change, 403 where it may read but
not change, 404 outside the tree. Relations that do not exist for a role (a partner has no
parent, a customer no child) are not listed.
"""

from __future__ import annotations

import csv
import io

import pytest
from rest_framework.test import APIClient

from seatkeeper.accounts.models import Organisation
from seatkeeper.conftest import PASSWORD, organisation_values, sign_in

# role login → {relation: (organisation attribute on the cast, read status, change status)}
MATRIX = {
    "cloudadmin": {
        "own": ("partner", 200, 200),
        "child": ("reseller", 200, 200),
        "sibling": ("other_partner", 404, 404),
    },
    "operator": {
        "own": ("partner", 200, 403),
        "child": ("customer", 200, 200),
        "sibling": ("other_partner", 404, 404),
    },
    "reselleradmin": {
        "own": ("reseller", 200, 200),
        "child": ("customer", 200, 200),
        "sibling": ("reseller_two", 404, 404),
        "parent": ("partner", 404, 404),
    },
    "customeradmin": {
        "own": ("customer", 200, 200),
        "sibling": ("customer_two", 404, 404),
        "parent": ("reseller", 404, 404),
    },
    "readonly": {
        "own": ("reseller", 200, 403),
        "child": ("customer", 200, 403),
        "sibling": ("reseller_two", 404, 404),
        "parent": ("partner", 404, 404),
    },
}
CASES = [
    pytest.param(login, relation, *expected, id=f"{login}-{relation}")
    for login, relations in MATRIX.items()
    for relation, expected in relations.items()
]


def _target(cast, attribute: str) -> Organisation:
    return getattr(cast, attribute)


@pytest.mark.parametrize(("login", "relation", "attribute", "read", "change"), CASES)
def test_ui_read_and_change(client, cast, login, relation, attribute, read, change):
    # given
    target = _target(cast, attribute)
    sign_in(client, login)
    before = organisation_values(target)
    # when
    read_response = client.get(f"/organisations/{target.pk}/")
    values = {**organisation_values(target), "contact_phone": "+44 20 7946 0000"}
    change_response = client.post(f"/organisations/{target.pk}/edit/", values)
    # then
    assert read_response.status_code == read
    if read == 200:
        assert target.name.encode() in read_response.content
    expected_change = 302 if change == 200 else change
    assert change_response.status_code == expected_change
    target.refresh_from_db()
    if change == 200:
        assert target.contact_phone == "+44 20 7946 0000"
    else:
        assert organisation_values(target) == before


@pytest.mark.parametrize(("login", "relation", "attribute", "read", "change"), CASES)
def test_api_read_and_change(cast, login, relation, attribute, read, change):
    # given
    target = _target(cast, attribute)
    api = APIClient()
    sign_in(api, login)
    before = organisation_values(target)
    # when
    read_response = api.get(f"/api/v1/organisations/{target.pk}/")
    change_response = api.patch(
        f"/api/v1/organisations/{target.pk}/", {"contact_phone": "+44 20 7946 0001"}, format="json"
    )
    # then
    assert read_response.status_code == read
    if read == 200:
        assert read_response.json()["id"] == target.pk
    assert change_response.status_code == change
    target.refresh_from_db()
    if change == 200:
        assert target.contact_phone == "+44 20 7946 0001"
    else:
        assert organisation_values(target) == before


@pytest.mark.parametrize(("login", "relation", "attribute", "read", "change"), CASES)
def test_people_of_an_organisation_follow_the_same_scope(
    cast, login, relation, attribute, read, change
):
    # given: a login inside the target organisation
    target = _target(cast, attribute)
    from seatkeeper.accounts import services
    from seatkeeper.accounts.models import Role

    person = services.user_create(
        actor=None,
        organisation=target,
        username=f"person-{target.pk}",
        email=f"person-{target.pk}@test.example",
        password=PASSWORD,
        role=Role.READ_ONLY,
    )
    api = APIClient()
    sign_in(api, login)
    # when
    read_response = api.get(f"/api/v1/users/{person.pk}/")
    change_response = api.patch(
        f"/api/v1/users/{person.pk}/", {"first_name": "Renamed"}, format="json"
    )
    # then
    assert read_response.status_code == read
    assert change_response.status_code == change
    person.refresh_from_db()
    assert (person.first_name == "Renamed") == (change == 200)


@pytest.mark.parametrize("login", list(MATRIX))
def test_lists_hold_only_the_askers_tree(client, cast, login):
    # given
    sign_in(client, login)
    api = APIClient()
    sign_in(api, login)
    home = {
        "cloudadmin": cast.partner,
        "operator": cast.partner,
        "reselleradmin": cast.reseller,
        "customeradmin": cast.customer,
        "readonly": cast.reseller,
    }[login]
    expected = set(
        Organisation.objects.filter(path__startswith=home.path).values_list("name", flat=True)
    )
    # when
    api_names = {
        item["name"] for item in api.get("/api/v1/organisations/?limit=200").json()["results"]
    }
    csv_text = b"".join(client.get("/organisations/?export=csv").streaming_content).decode(
        "utf-8-sig"
    )
    csv_names = {row[0] for row in csv.reader(io.StringIO(csv_text))} - {"Company name"}
    page = client.get("/organisations/?size=100").content.decode()
    # then
    assert api_names == expected
    assert csv_names == expected
    for organisation in Organisation.objects.exclude(path__startswith=home.path):
        assert f">{organisation.name}</a>" not in page


def test_a_missing_object_and_a_foreign_one_answer_alike(cast):
    api = APIClient()
    sign_in(api, "customeradmin")
    missing = api.get("/api/v1/organisations/999999/")
    foreign = api.get(f"/api/v1/organisations/{cast.outsider_customer.pk}/")
    assert missing.status_code == foreign.status_code == 404
    assert missing.json() == foreign.json()


# Whether an organisation is active and its currency are decided by the staff above it: its own
# people may not change them (403), nor may anyone outside the tree (404).
COMMERCIAL_MATRIX = {
    "cloudadmin": {
        "own": ("partner", 403),
        "child": ("reseller", 200),
        "sibling": ("other_partner", 404),
    },
    "operator": {
        "own": ("partner", 403),
        "child": ("customer", 200),
        "sibling": ("other_partner", 404),
    },
    "reselleradmin": {
        "own": ("reseller", 403),
        "child": ("customer", 200),
        "sibling": ("reseller_two", 404),
        "parent": ("partner", 404),
    },
    "customeradmin": {
        "own": ("customer", 403),
        "sibling": ("customer_two", 404),
        "parent": ("reseller", 404),
    },
    "readonly": {
        "own": ("reseller", 403),
        "child": ("customer", 403),
        "sibling": ("reseller_two", 404),
        "parent": ("partner", 404),
    },
}
COMMERCIAL_CASES = [
    pytest.param(login, relation, *expected, id=f"{login}-{relation}")
    for login, relations in COMMERCIAL_MATRIX.items()
    for relation, expected in relations.items()
]


@pytest.mark.parametrize(
    "change", [{"default_currency": "USD"}, {"is_active": False}], ids=["currency", "deactivate"]
)
@pytest.mark.parametrize(("login", "relation", "attribute", "status"), COMMERCIAL_CASES)
def test_api_commercial_settings(cast, login, relation, attribute, status, change):
    # given
    target = _target(cast, attribute)
    api = APIClient()
    sign_in(api, login)
    before = organisation_values(target)
    # when
    response = api.patch(f"/api/v1/organisations/{target.pk}/", change, format="json")
    # then
    assert response.status_code == status
    target.refresh_from_db()
    if status == 200:
        assert organisation_values(target) == {**before, **change}
    else:
        assert organisation_values(target) == before


@pytest.mark.parametrize(("login", "relation", "attribute", "status"), COMMERCIAL_CASES)
def test_api_reactivation(cast, login, relation, attribute, status):
    # given the target was deactivated
    target = _target(cast, attribute)
    Organisation.objects.filter(pk=target.pk).update(is_active=False)
    api = APIClient()
    sign_in(api, login)
    # when
    response = api.patch(f"/api/v1/organisations/{target.pk}/", {"is_active": True}, format="json")
    # then: the target's own people, and those below it, are not even signed in any more
    expected = 401 if relation in ("own", "parent") else status
    assert response.status_code == expected
    target.refresh_from_db()
    assert target.is_active == (expected == 200)
