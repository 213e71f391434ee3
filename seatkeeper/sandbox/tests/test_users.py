"""Customer users, subscribed SKUs and licences."""

from __future__ import annotations

import json

import httpx
import pytest

from seatkeeper.sandbox.testing import SandboxInfo, running_sandbox

SPB = "cbdc14ab-d96c-4c30-b9f4-6ada7cdc1d46"  # Microsoft 365 Business Premium


def _new_user(
    client: httpx.Client,
    cid: str,
    alias: str,
    password: str = "Sandbox!Pass1",  # noqa: S107 - a test password
    location: str = "FR",
) -> httpx.Response:
    domain = client.get(f"/v1/customers/{cid}").json()["companyProfile"]["domain"]
    return client.post(
        f"/v1/customers/{cid}/users",
        json={
            "usageLocation": location,
            "userPrincipalName": f"{alias}@{domain}",
            "firstName": "Jeanne",
            "lastName": "Roux",
            "displayName": "Jeanne Roux",
            "passwordProfile": {"password": password, "forceChangePassword": True},
            "attributes": {"objectType": "CustomerUser"},
        },
    )


def test_create_get_user_documented_shape(sandbox: SandboxInfo, user_client: httpx.Client) -> None:
    cid = sandbox.demo_customers[0]["tenant_id"]
    created = _new_user(user_client, cid, "jeanne.roux")
    assert created.status_code == 201, created.text
    user = created.json()
    assert user["userPrincipalName"] == "jeanne.roux@fabrikamconseil.onmicrosoft.com"
    assert user["passwordProfile"] == {"password": "Sandbox!Pass1", "forceChangePassword": True}
    assert user["state"] == "active" and user["usageLocation"] == "FR"
    assert user["attributes"]["objectType"] == "CustomerUser"
    fetched = user_client.get(f"/v1/customers/{cid}/users/{user['id']}").json()
    assert "passwordProfile" not in fetched and fetched["displayName"] == "Jeanne Roux"
    assert (
        user_client.get(f"/v1/customers/{cid}/users/00000000-0000-0000-0000-000000000000").json()[
            "code"
        ]
        == 60002
    )
    duplicate = _new_user(user_client, cid, "jeanne.roux")
    assert duplicate.status_code == 409


@pytest.mark.parametrize(
    ("alias", "password"),
    [
        ("ok.alias", "short1A"),
        ("ok.alias", "alllowercase1"),
        ("ok.alias", "Pässwort123!"),
        ("bad alias", "Sandbox!Pass1"),
        ("trailing.", "Sandbox!Pass1"),
        ("x" * 65, "Sandbox!Pass1"),
    ],
)
def test_password_policy_and_upn_rules(
    shared_sandbox: SandboxInfo, alias: str, password: str
) -> None:
    cid = shared_sandbox.demo_customers[1]["tenant_id"]
    with shared_sandbox.client(shared_sandbox.admin.access_token()) as client:
        response = _new_user(client, cid, alias, password)
    assert response.status_code == 400
    assert response.json()["code"] == 800002


def test_upn_must_use_a_customer_domain(shared_sandbox: SandboxInfo) -> None:
    cid = shared_sandbox.demo_customers[1]["tenant_id"]
    with shared_sandbox.client(shared_sandbox.admin.access_token()) as client:
        response = client.post(
            f"/v1/customers/{cid}/users",
            json={
                "userPrincipalName": "someone@fabrikamconseil.onmicrosoft.com",
                "displayName": "X",
                "passwordProfile": {"password": "Sandbox!Pass1"},
            },
        )
    assert response.status_code == 400


def test_delete_is_soft_then_restore(sandbox: SandboxInfo, user_client: httpx.Client) -> None:
    cid = sandbox.demo_customers[0]["tenant_id"]
    user = _new_user(user_client, cid, "temp.worker").json()
    assert user_client.delete(f"/v1/customers/{cid}/users/{user['id']}").status_code == 204
    active = [u["id"] for u in user_client.get(f"/v1/customers/{cid}/users").json()["items"]]
    assert user["id"] not in active
    flt = json.dumps({"Field": "UserState", "Value": "Inactive", "Operator": "equals"})
    deleted = user_client.get(f"/v1/customers/{cid}/users", params={"filter": flt}).json()["items"]
    assert [u["id"] for u in deleted] == [user["id"]]
    assert deleted[0]["state"] == "inactive" and deleted[0]["softDeletionTime"]
    restored = user_client.patch(
        f"/v1/customers/{cid}/users/{user['id']}",
        json={"State": "active", "attributes": {"objectType": "CustomerUser"}},
    )
    assert restored.status_code == 200 and restored.json()["state"] == "active"
    renamed = user_client.patch(
        f"/v1/customers/{cid}/users/{user['id']}",
        json={"displayName": "Temp W.", "usageLocation": "GB"},
    )
    assert renamed.json()["displayName"] == "Temp W." and renamed.json()["usageLocation"] == "GB"


def test_user_seek_paging_over_thousands(tmp_path) -> None:
    with running_sandbox(
        tmp_path, seed="none", customers=1, subscriptions_per_customer=1, users_per_customer=2500
    ) as sbx:
        cid = sbx.demo_customers[0]["tenant_id"]
        ids: list[str] = []
        with sbx.client(sbx.admin.access_token()) as client:
            page = client.get(f"/v1/customers/{cid}/users?size=500").json()
            ids += [u["id"] for u in page["items"]]
            while "next" in page["links"]:
                nxt = page["links"]["next"]
                page = client.get(
                    "/v1" + nxt["uri"], headers={h["key"]: h["value"] for h in nxt["headers"]}
                ).json()
                ids += [u["id"] for u in page["items"]]
    assert len(ids) == len(set(ids)) == 2500


def test_subscribed_skus_and_licence_assignment(
    sandbox: SandboxInfo, user_client: httpx.Client
) -> None:
    cid = sandbox.demo_customers[4]["tenant_id"]  # Harbourside: 9 Business Premium seats
    skus = {
        s["productSku"]["id"]: s
        for s in user_client.get(f"/v1/customers/{cid}/subscribedskus").json()["items"]
    }
    spb = skus[SPB]
    assert spb["attributes"]["objectType"] == "SubscribedSku"
    assert spb["productSku"]["skuPartNumber"] == "SPB"
    assert spb["totalUnits"] == spb["activeUnits"] == 9
    assert spb["availableUnits"] == spb["totalUnits"] - spb["consumedUnits"]
    free = spb["availableUnits"]
    users = []
    for n in range(free + 1):
        users.append(_new_user(user_client, cid, f"vet{n}", location="GB").json())
    body = {
        "licensesToAssign": [{"skuId": SPB, "excludedPlans": None}],
        "licensesToRemove": None,
        "attributes": {"objectType": "LicenseUpdate"},
    }
    for user in users[:free]:
        response = user_client.post(
            f"/v1/customers/{cid}/users/{user['id']}/licenseupdates", json=body
        )
        assert response.status_code == 201, response.text
        assert response.json()["attributes"]["objectType"] == "LicenseUpdate"
    over = user_client.post(
        f"/v1/customers/{cid}/users/{users[-1]['id']}/licenseupdates", json=body
    )
    assert over.status_code == 400 and over.json()["code"] == 60012
    assert over.json()["data"][0].startswith("LicenseQuotaExceededException")
    after = {
        s["productSku"]["id"]: s
        for s in user_client.get(f"/v1/customers/{cid}/subscribedskus").json()["items"]
    }[SPB]
    assert after["consumedUnits"] == 9 and after["availableUnits"] == 0
    licences = user_client.get(f"/v1/customers/{cid}/users/{users[0]['id']}/licenses").json()[
        "items"
    ]
    assert (
        licences[0]["productSku"]["id"] == SPB
        and licences[0]["attributes"]["objectType"] == "License"
    )
    removed = user_client.post(
        f"/v1/customers/{cid}/users/{users[0]['id']}/licenseupdates",
        json={"licensesToRemove": [SPB]},
    )
    assert removed.status_code == 201
    assert (
        user_client.post(
            f"/v1/customers/{cid}/users/{users[-1]['id']}/licenseupdates", json=body
        ).status_code
        == 201
    )


def test_licence_needs_usage_location_and_a_subscribed_sku(
    sandbox: SandboxInfo, user_client: httpx.Client
) -> None:
    cid = sandbox.demo_customers[4]["tenant_id"]
    domain = "harboursidevets.onmicrosoft.com"
    user = user_client.post(
        f"/v1/customers/{cid}/users",
        json={
            "userPrincipalName": f"nolocation@{domain}",
            "displayName": "No Location",
            "passwordProfile": {"password": "Sandbox!Pass1"},
        },
    ).json()
    no_location = user_client.post(
        f"/v1/customers/{cid}/users/{user['id']}/licenseupdates",
        json={"licensesToAssign": [{"skuId": SPB}]},
    )
    assert no_location.status_code == 400
    unknown = user_client.post(
        f"/v1/customers/{cid}/users/{user['id']}/licenseupdates",
        json={"licensesToAssign": [{"skuId": "00000000-0000-0000-0000-000000000000"}]},
    )
    assert unknown.status_code == 400


def test_subscribed_sku_counts_can_lag_assignments(
    sandbox: SandboxInfo, user_client: httpx.Client
) -> None:
    cid = sandbox.demo_customers[4]["tenant_id"]
    sandbox.admin.set_faults(license_lag_s=900)

    def consumed() -> int:
        skus = user_client.get(f"/v1/customers/{cid}/subscribedskus").json()["items"]
        return next(s["consumedUnits"] for s in skus if s["productSku"]["id"] == SPB)

    before = consumed()
    user = _new_user(user_client, cid, "laggy", location="GB").json()
    assigned = user_client.post(
        f"/v1/customers/{cid}/users/{user['id']}/licenseupdates",
        json={"licensesToAssign": [{"skuId": SPB}]},
    )
    assert assigned.status_code == 201
    assert consumed() == before
    sandbox.admin.advance_clock(901)
    assert consumed() == before + 1
