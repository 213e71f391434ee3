"""Customers: documented requests and response shapes, paging, filter, create + idempotency,
domain check, errors."""

from __future__ import annotations

import json
import uuid

import httpx
import pytest

from seatkeeper.sandbox.testing import SandboxInfo, running_sandbox

# The documented create request (reference §3), PascalCase keys as in the docs samples.
CREATE_BODY = {
    "CompanyProfile": {"Domain": "wingtipnouveau.onmicrosoft.com"},
    "BillingProfile": {
        "Culture": "fr-FR",
        "Email": "marie.girard@wingtip.example",
        "Language": "fr",
        "CompanyName": "Wingtip Nouveau SAS",
        "DefaultAddress": {
            "FirstName": "Marie",
            "LastName": "Girard",
            "AddressLine1": "8 place Bellecour",
            "City": "Lyon",
            "PostalCode": "69002",
            "Country": "FR",
        },
    },
}


def test_list_customers_collection_envelope_and_headers(shared_sandbox: SandboxInfo) -> None:
    request_id, correlation_id = str(uuid.uuid4()), str(uuid.uuid4())
    with shared_sandbox.client(shared_sandbox.admin.access_token(app_only=True)) as client:
        response = client.get(
            "/v1/customers?size=40",
            headers={"MS-RequestId": request_id, "MS-CorrelationId": correlation_id},
        )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    assert response.headers["MS-RequestId"] == request_id
    assert response.headers["MS-CorrelationId"] == correlation_id
    assert response.headers["MS-CV"]
    body = response.json()
    assert body["attributes"] == {"objectType": "Collection"}
    assert body["totalCount"] == len(body["items"]) == 6
    assert "next" not in body["links"] and "continuationToken" not in body
    item = body["items"][0]
    assert set(item) >= {
        "id",
        "commerceId",
        "companyProfile",
        "relationshipToPartner",
        "links",
        "attributes",
    }
    assert "billingProfile" not in item and "allowDelegatedAccess" not in item  # list omits them
    assert item["companyProfile"]["tenantId"] == item["id"]
    assert item["attributes"]["objectType"] == "Customer"
    assert item["links"]["self"] == {
        "uri": f"/customers/{item['id']}",
        "method": "GET",
        "headers": [],
    }


def test_get_customer_by_id_full_shape(shared_sandbox: SandboxInfo) -> None:
    cid = shared_sandbox.demo_customers[3]["tenant_id"]
    with shared_sandbox.client(shared_sandbox.admin.access_token()) as client:
        body = client.get(f"/v1/customers/{cid.upper()}").json()
    assert body["id"] == cid
    assert body["companyProfile"]["companyName"] == "Northwind Traders Ltd"
    profile = body["billingProfile"]
    assert (
        profile["attributes"]["objectType"] == "CustomerBillingProfile"
        and profile["attributes"]["etag"]
    )
    assert profile["defaultAddress"]["country"] == "GB"
    assert body["allowDelegatedAccess"] is True and body["relationshipToPartner"] == "reseller"


def test_unknown_customer_is_404_60003_partnerfd(shared_sandbox: SandboxInfo) -> None:
    with shared_sandbox.client(shared_sandbox.admin.access_token()) as client:
        response = client.get(f"/v1/customers/{uuid.uuid4()}")
    assert response.status_code == 404
    body = response.json()
    assert set(body) == {"code", "description", "data", "source"}
    assert body["code"] == 60003 and body["source"] == "PartnerFD"


def test_filter_starts_with_and_equals_and_bad_operator(shared_sandbox: SandboxInfo) -> None:
    def run(flt: dict) -> httpx.Response:
        with shared_sandbox.client(shared_sandbox.admin.access_token()) as client:
            return client.get("/v1/customers", params={"size": 10, "filter": json.dumps(flt)})

    starts = run({"Field": "CompanyName", "Value": "b", "Operator": "starts_with"}).json()
    assert [c["companyProfile"]["companyName"] for c in starts["items"]] == [
        "Boulangerie Marceau et Fils"
    ]
    domain = run(
        {"Field": "Domain", "Value": "contosodental.onmicrosoft.com", "Operator": "equals"}
    ).json()
    assert domain["totalCount"] == 1
    bad = run({"Field": "CompanyName", "Value": "x", "Operator": "substring"})
    assert bad.status_code == 400 and bad.json()["code"] == 2000
    assert (
        bad.json()["description"] == "Customer search only allows starts with and equals operation."
    )


def test_seek_paging_over_thousands_of_customers(tmp_path) -> None:
    with running_sandbox(
        tmp_path, seed="none", customers=2100, subscriptions_per_customer=0, users_per_customer=0
    ) as sbx:
        with sbx.client(sbx.admin.access_token(app_only=True)) as client:
            first = client.get("/v1/customers?size=500").json()
            seen = [c["id"] for c in first["items"]]
            page, pages = first, 1
            while "next" in page["links"]:
                nxt = page["links"]["next"]
                assert nxt["uri"].endswith("seekOperation=Next")
                assert nxt["headers"][0]["key"] == "MS-ContinuationToken"
                assert nxt["headers"][0]["value"] == page["continuationToken"]
                uri = nxt["uri"] if nxt["uri"].startswith("/v1") else "/v1" + nxt["uri"]
                page = client.get(
                    uri, headers={h["key"]: h["value"] for h in nxt["headers"]}
                ).json()
                seen += [c["id"] for c in page["items"]]
                pages += 1
            assert page["totalCount"] == 100  # totalCount is the page size, not the grand total
    assert pages == 5
    assert len(seen) == len(set(seen)) == 2100


def test_seek_next_without_token_is_400(shared_sandbox: SandboxInfo) -> None:
    with shared_sandbox.client(shared_sandbox.admin.access_token()) as client:
        response = client.get("/v1/customers?size=2&seekOperation=Next")
    assert response.status_code == 400


def test_create_customer_documented_request(
    user_client: httpx.Client, sandbox: SandboxInfo
) -> None:
    response = user_client.post(
        "/v1/customers", json=CREATE_BODY, headers={"MS-RequestId": str(uuid.uuid4())}
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["companyProfile"]["domain"] == "wingtipnouveau.onmicrosoft.com"
    assert body["billingProfile"]["defaultAddress"]["postalCode"] == "69002"
    assert (
        body["userCredentials"]["userName"] == "admin"
        and len(body["userCredentials"]["password"]) >= 8
    )
    assert body["attributes"]["objectType"] == "Customer"
    fetched = user_client.get(f"/v1/customers/{body['id']}")
    assert fetched.status_code == 200 and fetched.json()["relationshipToPartner"] == "reseller"
    assert user_client.head("/v1/domains/wingtipnouveau.onmicrosoft.com").status_code == 200


def test_create_customer_is_idempotent_on_request_id(user_client: httpx.Client) -> None:
    request_id = str(uuid.uuid4())
    first = user_client.post(
        "/v1/customers", json=CREATE_BODY, headers={"MS-RequestId": request_id}
    )
    again = user_client.post(
        "/v1/customers", json=CREATE_BODY, headers={"MS-RequestId": request_id}
    )
    assert first.status_code == again.status_code == 201
    assert first.json()["id"] == again.json()["id"]
    names = [
        c["companyProfile"]["companyName"] for c in user_client.get("/v1/customers").json()["items"]
    ]
    assert names.count("Wingtip Nouveau SAS") == 1
    other = user_client.post(
        "/v1/customers", json=CREATE_BODY, headers={"MS-RequestId": str(uuid.uuid4())}
    )
    assert other.status_code == 409  # domain now taken


def test_create_customer_validation_errors(user_client: httpx.Client) -> None:
    body = json.loads(json.dumps(CREATE_BODY))
    del body["BillingProfile"]["DefaultAddress"]["City"]
    body["CompanyProfile"]["Domain"] = "bad domain.onmicrosoft.com"
    missing = user_client.post("/v1/customers", json=body)
    assert missing.status_code == 400 and missing.json()["code"] == 3000
    assert "billingProfile.defaultAddress.city is required." in missing.json()["data"]
    body = json.loads(json.dumps(CREATE_BODY))
    body["CompanyProfile"]["Domain"] = "bad_domain.example.com"
    assert user_client.post("/v1/customers", json=body).json()["code"] == 3000
    assert user_client.post("/v1/customers", content=b"{not json").status_code == 400


def test_domain_check_head(shared_sandbox: SandboxInfo) -> None:
    with shared_sandbox.client(shared_sandbox.admin.access_token(app_only=True)) as client:
        taken = client.head("/v1/domains/fabrikamconseil.onmicrosoft.com")
        free = client.head("/v1/domains/nobody-here-yet.onmicrosoft.com")
    assert (taken.status_code, taken.content) == (200, b"")
    assert (free.status_code, free.content) == (404, b"")


def test_relationship_request_link(shared_sandbox: SandboxInfo) -> None:
    with shared_sandbox.client(shared_sandbox.admin.access_token()) as client:
        body = client.get("/v1/customers/relationshiprequests").json()
    assert body["attributes"] == {"objectType": "RelationshipRequest"}
    assert f"partnerId={shared_sandbox.partner_tenant_id}" in body["url"]
    assert body["url"].startswith(
        "https://admin.microsoft.com/Adminportal/Home?invType=ResellerRelationship"
    )


def test_billing_profile_patch_needs_if_match(
    user_client: httpx.Client, sandbox: SandboxInfo
) -> None:
    cid = sandbox.demo_customers[0]["tenant_id"]
    profile = user_client.get(f"/v1/customers/{cid}/profiles/billing").json()
    etag = profile["attributes"]["etag"]
    assert (
        user_client.patch(
            f"/v1/customers/{cid}/profiles/billing", json={"firstName": "Léa"}
        ).status_code
        == 400
    )
    stale = user_client.patch(
        f"/v1/customers/{cid}/profiles/billing",
        json={"firstName": "Léa"},
        headers={"If-Match": "1"},
    )
    assert stale.status_code == 412
    ok = user_client.patch(
        f"/v1/customers/{cid}/profiles/billing",
        json={"FirstName": "Léa"},
        headers={"If-Match": etag},
    )
    assert ok.status_code == 200 and ok.json()["firstName"] == "Léa"
    assert ok.json()["attributes"]["etag"] != etag


def test_delete_customer_purges_sandbox_tenant(
    user_client: httpx.Client, sandbox: SandboxInfo
) -> None:
    cid = sandbox.demo_customers[5]["tenant_id"]
    assert user_client.delete(f"/v1/customers/{cid}").status_code == 204
    assert user_client.get(f"/v1/customers/{cid}").status_code == 404
    assert user_client.head("/v1/domains/contosodental.onmicrosoft.com").status_code == 404


def test_company_profile_and_qualifications(shared_sandbox: SandboxInfo) -> None:
    cid = shared_sandbox.demo_customers[2]["tenant_id"]
    with shared_sandbox.client(shared_sandbox.admin.access_token(app_only=True)) as client:
        company = client.get(f"/v1/customers/{cid}/profiles/company").json()
        qualifications = client.get(f"/v1/customers/{cid}/qualifications").json()
    assert company["companyName"] == "Atelier Lumière Architectes"
    assert company["domain"] == "atelierlumiere.onmicrosoft.com" and company["tenantId"] == cid
    assert company["links"]["self"]["uri"] == f"/customers/{cid}/profiles/company"
    assert qualifications == []  # a bare JSON array, not a collection


def test_foreign_tenant_domain_is_taken_but_not_a_customer(user_client: httpx.Client) -> None:
    assert user_client.head("/v1/domains/tailspintoys.onmicrosoft.com").status_code == 200
    flt = json.dumps(
        {"Field": "Domain", "Value": "tailspintoys.onmicrosoft.com", "Operator": "equals"}
    )
    assert user_client.get("/v1/customers", params={"filter": flt}).json()["totalCount"] == 0
    body = json.loads(json.dumps(CREATE_BODY))
    body["CompanyProfile"]["Domain"] = "tailspintoys.onmicrosoft.com"
    response = user_client.post("/v1/customers", json=body)
    assert response.status_code == 409 and response.json()["code"] == 600008


def test_foreign_tenant_accepts_the_relationship(
    sandbox: SandboxInfo, user_client: httpx.Client
) -> None:
    link = user_client.get("/v1/customers/relationshiprequests").json()["url"]
    assert sandbox.partner_tenant_id in link
    customer = sandbox.admin.accept_relationship(
        "adatum.onmicrosoft.com", companyName="Adatum Corporation"
    )
    fetched = user_client.get(f"/v1/customers/{customer['id']}").json()
    assert fetched["companyProfile"]["companyName"] == "Adatum Corporation"
    assert fetched["relationshipToPartner"] == "reseller"
    users = user_client.get(f"/v1/customers/{customer['id']}/users").json()["items"]
    assert [u["userPrincipalName"] for u in users] == ["admin@adatum.onmicrosoft.com"]
    with pytest.raises(httpx.HTTPStatusError):
        sandbox.admin.accept_relationship("adatum.onmicrosoft.com")  # already a customer
