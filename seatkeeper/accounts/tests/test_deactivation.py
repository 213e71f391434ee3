"""A deactivated organisation shuts out its people and everybody below it: sign-in, sessions
and API tokens; only the staff above it bring it back."""

from __future__ import annotations

import pytest
from django.test import Client
from rest_framework.test import APIClient

from seatkeeper.accounts import services
from seatkeeper.accounts.models import Organisation
from seatkeeper.activity.models import ActivityRecord
from seatkeeper.conftest import PASSWORD, sign_in
from seatkeeper.core.errors import PermissionRefused

SUSPENDED = b"access to Seatkeeper is suspended"
INCORRECT = b"Please enter a correct"


def _deactivate(cast, organisation):
    services.organisation_update(actor=cast.cloud_admin, organisation=organisation, is_active=False)


@pytest.mark.parametrize("login", ["reselleradmin", "readonly", "customeradmin"])
def test_nobody_in_or_below_a_deactivated_organisation_signs_in(client, cast, login):
    # given the reseller (home of the first two, parent of the customer's) is deactivated
    _deactivate(cast, cast.reseller)
    # when
    response = client.post("/login/", {"username": login, "password": PASSWORD})
    # then they are told why, and not signed in
    assert response.status_code == 200
    assert SUSPENDED in response.content
    assert "_auth_user_id" not in client.session


def test_the_reason_is_shown_only_to_whoever_knows_the_password(client, cast):
    # given
    _deactivate(cast, cast.reseller)
    # when
    wrong = client.post("/login/", {"username": "reselleradmin", "password": "not-it-at-all"})
    unknown = client.post("/login/", {"username": "nobody", "password": PASSWORD})
    # then both read like any wrong password
    for response in (wrong, unknown):
        assert INCORRECT in response.content
        assert SUSPENDED not in response.content


def test_a_session_ends_at_its_next_request(cast):
    # given a customer admin signed in through the form
    browser = Client()
    assert (
        browser.post("/login/", {"username": "customeradmin", "password": PASSWORD}).status_code
        == 302
    )
    assert browser.get("/").status_code == 200
    # when the partner deactivates the reseller above the customer
    _deactivate(cast, cast.reseller)
    # then the next page sends them to sign in, and the API refuses the session too
    response = browser.get("/")
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")
    assert browser.get("/api/v1/me/").status_code in (401, 403)


def test_api_tokens_are_refused_with_the_reason(cast):
    # given
    _token, plain = services.api_token_create(actor=cast.customer_admin, name="ERP")
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {plain}")
    assert api.get("/api/v1/me/").status_code == 200
    # when
    _deactivate(cast, cast.reseller)
    # then
    refused = api.get("/api/v1/me/")
    assert refused.status_code == 401
    assert refused.json()["message"] == "The organisation of this token's owner is deactivated."


def test_the_staff_above_reactivate_and_everything_works_again(client, cast):
    # given
    _deactivate(cast, cast.reseller)
    # when the partner's operator reactivates it through the API
    api = sign_in(APIClient(), "operator")
    response = api.patch(
        f"/api/v1/organisations/{cast.reseller.pk}/", {"is_active": True}, format="json"
    )
    # then
    assert response.status_code == 200
    assert (
        client.post("/login/", {"username": "customeradmin", "password": PASSWORD}).status_code
        == 302
    )
    operations = (
        ActivityRecord.objects.filter(
            object_type="organisation",
            object_id=str(cast.reseller.pk),
            operation="organisation.update",
        )
        .order_by("pk")
        .values_list("details", flat=True)
    )
    assert [details["changes"]["is_active"] for details in operations] == [
        [True, False],
        [False, True],
    ]


@pytest.mark.parametrize(
    ("_case", "actor", "organisation", "values"),
    [
        ("own admin reactivates", "reseller_admin", "reseller", {"is_active": True}),
        ("own admin changes currency", "customer_admin", "customer", {"default_currency": "USD"}),
        ("own admin deactivates", "customer_admin", "customer", {"is_active": False}),
        ("cloud admin, own partner's currency", "cloud_admin", "partner", {"default_currency": "USD"}),  # noqa: E501
        ("read-only, a child's currency", "read_only", "customer", {"default_currency": "USD"}),
    ],
)  # fmt: skip
def test_commercial_settings_are_decided_from_above_only(cast, _case, actor, organisation, values):
    # given
    target = getattr(cast, organisation)
    if values.get("is_active") is True:
        Organisation.objects.filter(pk=target.pk).update(is_active=False)
        target.refresh_from_db()
    before = {field: getattr(target, field) for field in values}
    records = ActivityRecord.objects.count()
    # when / then
    with pytest.raises(PermissionRefused):
        services.organisation_update(actor=getattr(cast, actor), organisation=target, **values)
    target.refresh_from_db()
    assert {field: getattr(target, field) for field in values} == before
    assert ActivityRecord.objects.count() == records


def test_its_own_admin_still_edits_its_contact_details_but_not_the_rest(client, cast):
    # given
    sign_in(client, "customeradmin")
    page = client.get(f"/organisations/{cast.customer.pk}/edit/").content.decode()
    assert 'name="contact_phone"' in page
    assert 'name="default_currency"' not in page and 'name="is_active"' not in page
    # when a crafted post carries the hidden fields anyway
    values = {
        field: getattr(cast.customer, field)
        for field in services.ORGANISATION_FIELDS
        if field not in ("is_active", "default_currency")
    }
    response = client.post(
        f"/organisations/{cast.customer.pk}/edit/",
        {**values, "contact_phone": "+44 20 7946 0002", "default_currency": "USD", "is_active": ""},
    )
    # then the contact details change, the commercial settings do not
    assert response.status_code == 302
    cast.customer.refresh_from_db()
    assert cast.customer.contact_phone == "+44 20 7946 0002"
    assert (cast.customer.default_currency, cast.customer.is_active) == ("GBP", True)
