"""Onboarding endpoints: country validation rules, the market's address rules on customer
creation, agreement metadata and the customer's confirmed agreements (MCA)."""

from __future__ import annotations

import json
import uuid

import httpx

from seatkeeper.sandbox.onboarding import TEMPLATES
from seatkeeper.sandbox.testing import SandboxInfo
from seatkeeper.sandbox.tests.test_customers import CREATE_BODY


def test_country_validation_rules_documented_shape(shared_sandbox: SandboxInfo) -> None:
    with shared_sandbox.client(shared_sandbox.admin.access_token(app_only=True)) as client:
        us = client.get("/v1/countryvalidationrules/US")
        fr = client.get("/v1/countryvalidationrules/fr")
        unknown = client.get("/v1/countryvalidationrules/ZZ")
    assert us.status_code == 200
    body = us.json()
    assert body["iso2Code"] == "US" and body["defaultCulture"] == "en-US"
    assert body["isStateRequired"] is True and "WA" in body["supportedStatesList"]
    assert body["supportedCulturesList"] == ["en-US", "es-US"]
    assert body["attributes"] == {"objectType": "CountryValidationRules"}
    assert fr.json()["iso2Code"] == "FR" and fr.json()["isStateRequired"] is False
    assert fr.json()["postalCodeRegex"]
    assert unknown.status_code == 400 and unknown.json()["source"] == "PartnerFD"


def test_create_customer_refuses_an_address_against_the_market_rules(
    user_client: httpx.Client,
) -> None:
    body = json.loads(json.dumps(CREATE_BODY))
    body["BillingProfile"]["DefaultAddress"]["PostalCode"] = "6900"
    answer = user_client.post("/v1/customers", json=body)
    assert answer.status_code == 400 and answer.json()["code"] == 3000
    assert answer.json()["data"] == [
        "billingProfile.defaultAddress.postalCode is not a valid postal code for the country."
    ]
    body["BillingProfile"]["DefaultAddress"].update(Country="US", PostalCode="98052", State="ZZ")
    answer = user_client.post("/v1/customers", json=body)
    assert (
        "billingProfile.defaultAddress.state is not a supported state for the country."
        in (answer.json()["data"])
    )


def _agreement_body(template_id: str, **contact: str) -> dict:
    return {
        "primaryContact": {
            "firstName": "Marie",
            "lastName": "Girard",
            "email": "marie.girard@wingtip.example",
            **contact,
        },
        "templateId": template_id,
        "dateAgreed": "2026-01-05T10:00:00.000Z",
        "type": "MicrosoftCustomerAgreement",
    }


def test_mca_is_confirmed_once_per_contact_with_who_and_when(
    user_client: httpx.Client, app_client: httpx.Client
) -> None:
    created = user_client.post(
        "/v1/customers", json=CREATE_BODY, headers={"MS-RequestId": str(uuid.uuid4())}
    ).json()
    metadata = user_client.get("/v1/agreements?agreementType=MicrosoftCustomerAgreement").json()
    (template,) = metadata["items"]
    assert template["templateId"] == TEMPLATES["MicrosoftCustomerAgreement"]["templateId"]
    path = f"/v1/customers/{created['id']}/agreements"

    # App-only tokens may not confirm agreements.
    assert app_client.post(path, json=_agreement_body(template["templateId"])).status_code == 403

    confirmed = user_client.post(path, json=_agreement_body(template["templateId"]))
    assert confirmed.status_code == 201, confirmed.text
    assert confirmed.json()["userId"]  # the partner user who confirmed it
    assert confirmed.json()["dateAgreed"].startswith("2026-01-05T10:00:00")

    again = user_client.post(path, json=_agreement_body(template["templateId"]))
    assert again.status_code == 400 and again.json()["code"] == 600061

    listed = user_client.get(path).json()["items"]
    assert [a["primaryContact"]["email"] for a in listed] == ["marie.girard@wingtip.example"]
    # The agreements are not part of the customer document.
    assert "_agreements" not in user_client.get(f"/v1/customers/{created['id']}").json()


def test_agreement_errors_name_the_fields(user_client: httpx.Client) -> None:
    created = user_client.post(
        "/v1/customers", json=CREATE_BODY, headers={"MS-RequestId": str(uuid.uuid4())}
    ).json()
    body = _agreement_body("not-the-template", email="")
    answer = user_client.post(f"/v1/customers/{created['id']}/agreements", json=body)
    assert answer.status_code == 400
    assert answer.json()["data"] == [
        "primaryContact.email is required.",
        "templateId is not the current template of this agreement type.",
    ]
    unknown = user_client.post(
        f"/v1/customers/{uuid.uuid4()}/agreements",
        json=_agreement_body(TEMPLATES["MicrosoftCustomerAgreement"]["templateId"]),
    )
    assert unknown.status_code == 404 and unknown.json()["code"] == 60003


def test_a_new_customer_orders_nothing_before_its_agreement(user_client: httpx.Client) -> None:
    created = user_client.post(
        "/v1/customers", json=CREATE_BODY, headers={"MS-RequestId": str(uuid.uuid4())}
    ).json()
    items = [
        {
            "catalogItemId": "CFQ7TTC0LH18:0001:CFQ7TTC0K5DP",
            "quantity": 1,
            "billingCycle": "monthly",
            "termDuration": "P1Y",
        }
    ]
    cart = user_client.post(f"/v1/customers/{created['id']}/carts", json={"lineItems": items})
    path = f"/v1/customers/{created['id']}/carts/{cart.json()['id']}/checkout"
    refused = user_client.post(path)
    assert refused.status_code == 403 and refused.json()["code"] == 13605
    template = TEMPLATES["MicrosoftCustomerAgreement"]["templateId"]
    user_client.post(
        f"/v1/customers/{created['id']}/agreements", json=_agreement_body(template)
    ).raise_for_status()
    assert user_client.post(path).status_code == 201
