"""Names and other single-line fields refuse control characters: forms, API, alike."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from seatkeeper.accounts.models import ApiToken, User
from seatkeeper.conftest import organisation_values, sign_in

REFUSED = "Control characters (line breaks, tabs, direction marks…) are not allowed here."
SAMPLES = ["Evil\nCorp", "Tab\there", "Bell\x07", "Esc\x1b[31m", "A\u202eB", "C1\x85x", "L\u2028n"]


@pytest.mark.parametrize("value", SAMPLES)
def test_the_organisation_form_names_the_field(client, cast, value):
    # given
    sign_in(client, "reselleradmin")
    before = organisation_values(cast.customer)
    # when
    response = client.post(
        f"/organisations/{cast.customer.pk}/edit/", {**before, "name": value, "city": value}
    )
    # then
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert errors["name"] == [REFUSED] and errors["city"] == [REFUSED]
    cast.customer.refresh_from_db()
    assert organisation_values(cast.customer) == before


def test_the_api_names_the_field_and_writes_nothing(cast):
    api = sign_in(APIClient(), "reselleradmin")
    before = organisation_values(cast.customer)
    response = api.patch(
        f"/api/v1/organisations/{cast.customer.pk}/",
        {"legal_name": "Legal\rName", "contact_name": "Ok Name"},
        format="json",
    )
    assert response.status_code == 400
    assert response.json()["fields"] == {"legal_name": [REFUSED]}
    cast.customer.refresh_from_db()
    assert organisation_values(cast.customer) == before


def test_people_names_refuse_them_in_the_api_and_the_invitation_form(client, cast):
    # API
    api = sign_in(APIClient(), "reselleradmin")
    response = api.patch(
        f"/api/v1/users/{cast.customer_admin.pk}/", {"last_name": "Doe\x1b"}, format="json"
    )
    assert (response.status_code, response.json()["fields"]) == (400, {"last_name": [REFUSED]})
    assert User.objects.get(pk=cast.customer_admin.pk).last_name == "Test"
    # invitation form
    sign_in(client, "reselleradmin")
    response = client.post(
        f"/organisations/{cast.customer.pk}/invite/",
        {"email": "n@test.example", "first_name": "N\u2066", "last_name": "P", "role": "read_only"},
    )
    assert response.status_code == 200
    assert response.context["form"].errors["first_name"] == [REFUSED]
    assert not User.objects.filter(email="n@test.example").exists()


def test_token_names_refuse_them(cast):
    api = sign_in(APIClient(), "reselleradmin")
    response = api.post("/api/v1/tokens/", {"name": "ci\nbot"}, format="json")
    assert (response.status_code, response.json()["fields"]) == (400, {"name": [REFUSED]})
    assert not ApiToken.objects.exists()


def test_joiners_some_scripts_need_stay_allowed(cast):
    api = sign_in(APIClient(), "reselleradmin")
    name = "می\u200cخواهم"  # Persian, with a zero-width non-joiner
    response = api.patch(
        f"/api/v1/organisations/{cast.customer.pk}/", {"name": name}, format="json"
    )
    assert response.status_code == 200
    cast.customer.refresh_from_db()
    assert cast.customer.name == name
