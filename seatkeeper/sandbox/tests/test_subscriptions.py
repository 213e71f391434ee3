"""Subscriptions: shapes, add-ons, and the New Commerce PATCH rules (reference §6.3)."""

from __future__ import annotations

from decimal import Decimal

import httpx

from seatkeeper.sandbox.testing import SandboxInfo

BP_ITEM = "CFQ7TTC0LCHC:0001:CFQ7TTC0K5DR"
HOUR = 3600


def _buy(
    info: SandboxInfo, client: httpx.Client, cid: str, quantity: int = 10, term: str = "P1Y"
) -> dict:
    cart = client.post(
        f"/v1/customers/{cid}/carts",
        json={
            "lineItems": [
                {
                    "catalogItemId": BP_ITEM,
                    "quantity": quantity,
                    "billingCycle": "monthly",
                    "termDuration": term,
                }
            ]
        },
    ).json()
    order = client.post(f"/v1/customers/{cid}/carts/{cart['id']}/checkout").json()["orders"][0]
    sid = client.get(f"/v1/customers/{cid}/orders/{order['id']}").json()["lineItems"][0][
        "subscriptionId"
    ]
    return client.get(f"/v1/customers/{cid}/subscriptions/{sid}").json()


def _patch(client: httpx.Client, cid: str, sub: dict, **changes: object) -> httpx.Response:
    return client.patch(f"/v1/customers/{cid}/subscriptions/{sub['id']}", json={**sub, **changes})


def _fresh(client: httpx.Client, cid: str, sub: dict) -> dict:
    return client.get(f"/v1/customers/{cid}/subscriptions/{sub['id']}").json()


def _state(client: httpx.Client, cid: str, sub: dict) -> tuple[dict, list[dict]]:
    """The subscription as the sandbox shows it and its unbilled charge lines: a refused PATCH
    leaves both as they were."""
    lines = client.get(
        "/v1/invoices/unbilled/lineitems",
        params={
            "provider": "onetime",
            "invoicelineitemtype": "billinglineitems",
            "currencycode": "EUR",
            "period": "current",
        },
    ).json()["items"]
    return _fresh(client, cid, sub), [line for line in lines if line["subscriptionId"] == sub["id"]]


def test_subscription_documented_shape(shared_sandbox: SandboxInfo) -> None:
    cid = shared_sandbox.demo_customers[0]["tenant_id"]
    with shared_sandbox.client(shared_sandbox.admin.access_token(app_only=True)) as client:
        body = client.get(f"/v1/customers/{cid}/subscriptions").json()
    assert body["attributes"]["objectType"] == "Collection" and body["totalCount"] == 3
    sub = body["items"][0]
    for key in (
        "id",
        "entitlementId",
        "offerId",
        "offerName",
        "friendlyName",
        "quantity",
        "unitType",
        "creationDate",
        "effectiveStartDate",
        "commitmentEndDate",
        "commitmentEndDateTime",
        "cancellationAllowedUntilDate",
        "billingCycleEndDate",
        "status",
        "autoRenewEnabled",
        "billingType",
        "billingCycle",
        "termDuration",
        "refundableQuantity",
        "orderId",
        "links",
        "attributes",
    ):
        assert key in sub, key
    assert sub["attributes"]["objectType"] == "Subscription" and sub["attributes"]["etag"]
    assert sub["offerId"].count(":") == 2
    assert sub["commitmentEndDateTime"].endswith("T23:59:59Z")
    assert sub["links"]["self"]["uri"] == f"/customers/{cid}/subscriptions/{sub['id']}"
    assert sub["links"]["availability"]["uri"].startswith(
        "/products/CFQ7TTC0LCHC/skus/0001/availabilities/"
    )
    addon = body["items"][1]
    assert addon["parentSubscriptionId"] == sub["id"] and addon["unitType"] == "Add-On Licenses"
    with shared_sandbox.client(shared_sandbox.admin.access_token()) as client:
        addons = client.get(f"/v1/customers/{cid}/subscriptions/{sub['id']}/addons").json()
        status = client.get(
            f"/v1/customers/{cid}/subscriptions/{sub['id']}/provisioningstatus"
        ).json()
        missing = client.get(
            f"/v1/customers/{cid}/subscriptions/00000000-0000-0000-0000-000000000000"
        )
    assert [a["id"] for a in addons["items"]] == [addon["id"]]
    assert status["status"] == "success" and status["quantity"] == 25
    assert missing.status_code == 404 and missing.json()["code"] == 20003


def test_term_dates_follow_nce_rules(sandbox: SandboxInfo, user_client: httpx.Client) -> None:
    sandbox.admin.set_clock("2026-06-18T10:00:00Z")
    cid = sandbox.demo_customers[0]["tenant_id"]
    monthly = _buy(sandbox, user_client, cid, 2, "P1M")
    yearly = _buy(sandbox, user_client, cid, 2, "P1Y")
    assert monthly["commitmentEndDate"].startswith("2026-07-17")
    assert yearly["commitmentEndDate"].startswith("2027-06-17")
    assert monthly["cancellationAllowedUntilDate"].startswith("2026-06-25T10:00:00")
    assert [o["type"] for o in monthly["refundOptions"]] == ["Full", "Partial"]


def test_quantity_increase_then_reduce_inside_window_only(
    sandbox: SandboxInfo, user_client: httpx.Client
) -> None:
    cid = sandbox.demo_customers[0]["tenant_id"]
    sub = _buy(sandbox, user_client, cid, quantity=10)
    assert sub["refundableQuantity"]["totalQuantity"] == 10
    sandbox.admin.advance_clock(169 * HOUR)  # the purchase's 168 h window closed
    sub = _fresh(user_client, cid, sub)
    assert sub["refundableQuantity"] == {"totalQuantity": 0, "details": []}
    grown = _patch(user_client, cid, sub, quantity=15)
    assert grown.status_code == 200, grown.text
    sub = grown.json()
    assert sub["quantity"] == 15 and sub["refundableQuantity"]["totalQuantity"] == 5
    before = _state(user_client, cid, sub)
    too_far = _patch(user_client, cid, sub, quantity=9)
    assert too_far.status_code == 400 and too_far.json()["code"] == 800090
    assert _state(user_client, cid, sub) == before
    back = _patch(user_client, cid, sub, quantity=11)
    assert back.status_code == 200 and back.json()["refundableQuantity"]["totalQuantity"] == 1
    sandbox.admin.advance_clock(169 * HOUR)
    late = _patch(user_client, cid, _fresh(user_client, cid, sub), quantity=10)
    assert late.status_code == 400 and late.json()["code"] == 800090


def test_min_max_quantity_is_2002(sandbox: SandboxInfo, user_client: httpx.Client) -> None:
    cid = sandbox.demo_customers[0]["tenant_id"]
    sub = _buy(sandbox, user_client, cid, quantity=5)
    before = _state(user_client, cid, sub)
    response = _patch(user_client, cid, sub, quantity=301)
    assert response.status_code == 400 and response.json()["code"] == 2002
    assert _state(user_client, cid, sub) == before


def test_stale_etag_is_2055(sandbox: SandboxInfo, user_client: httpx.Client) -> None:
    cid = sandbox.demo_customers[0]["tenant_id"]
    sub = _buy(sandbox, user_client, cid)
    assert _patch(user_client, cid, sub, friendlyName="Sales team").status_code == 200
    stale = _patch(user_client, cid, sub, friendlyName="Old copy")
    assert stale.status_code == 400 and stale.json()["code"] == 2055
    if_match = user_client.patch(
        f"/v1/customers/{cid}/subscriptions/{sub['id']}",
        json={"friendlyName": "x"},
        headers={"If-Match": sub["attributes"]["etag"]},
    )
    assert if_match.status_code == 400 and if_match.json()["code"] == 2055
    fresh = _fresh(user_client, cid, sub)
    assert fresh["friendlyName"] == "Sales team"
    assert (
        _patch(user_client, cid, fresh, autoRenewEnabled=False).json()["autoRenewEnabled"] is False
    )


def test_cancel_inside_window_refunds_and_then_is_immutable(
    sandbox: SandboxInfo, user_client: httpx.Client
) -> None:
    cid = sandbox.demo_customers[0]["tenant_id"]
    sub = _buy(sandbox, user_client, cid, quantity=4)
    cancelled = _patch(user_client, cid, sub, status="deleted")
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "deleted"
    again = _patch(user_client, cid, cancelled.json(), quantity=5)
    assert again.status_code == 400 and again.json()["code"] == 2011
    lines = user_client.get(
        "/v1/invoices/unbilled/lineitems",
        params={
            "provider": "onetime",
            "invoicelineitemtype": "billinglineitems",
            "currencycode": "EUR",
            "period": "current",
        },
    ).json()["items"]
    mine = [line for line in lines if line["subscriptionId"] == sub["id"]]
    assert [line["chargeType"] for line in mine] == ["new", "cancelImmediate"]
    assert Decimal(mine[0]["subtotal"]) == -Decimal(
        mine[1]["subtotal"]
    )  # full refund in the first 24 h


def test_cancel_after_168_hours_is_900213(sandbox: SandboxInfo, user_client: httpx.Client) -> None:
    cid = sandbox.demo_customers[0]["tenant_id"]
    sub = _buy(sandbox, user_client, cid)
    sandbox.admin.advance_clock(169 * HOUR)
    before = _state(user_client, cid, sub)
    response = _patch(user_client, cid, before[0], status="deleted")
    assert response.status_code == 400 and response.json()["code"] == 900213
    assert _state(user_client, cid, sub) == before


def test_suspend_reactivate_rules(sandbox: SandboxInfo, user_client: httpx.Client) -> None:
    cid = sandbox.demo_customers[0]["tenant_id"]
    sub = _buy(sandbox, user_client, cid)
    before = _state(user_client, cid, sub)
    mixed = _patch(user_client, cid, sub, status="suspended", quantity=12)
    assert mixed.status_code == 400 and mixed.json()["code"] == 2001
    assert _state(user_client, cid, sub) == before
    suspended = _patch(user_client, cid, sub, status="suspended").json()
    assert suspended["status"] == "suspended"
    rename = _patch(user_client, cid, suspended, friendlyName="nope")
    assert rename.status_code == 400 and rename.json()["code"] == 800091
    grow = _patch(user_client, cid, suspended, status="active", quantity=20)
    assert grow.status_code == 400 and grow.json()["code"] == 800091
    active = _patch(user_client, cid, suspended, status="active")
    assert active.status_code == 200 and active.json()["status"] == "active"


def test_billing_cycle_change_is_2054(sandbox: SandboxInfo, user_client: httpx.Client) -> None:
    cid = sandbox.demo_customers[0]["tenant_id"]
    sub = _buy(sandbox, user_client, cid)
    before = _state(user_client, cid, sub)
    response = _patch(user_client, cid, sub, billingCycle="annual")
    assert response.status_code == 400 and response.json()["code"] == 2054
    assert _state(user_client, cid, sub) == before


def test_fresh_subscription_is_pending_then_409_800082(
    sandbox: SandboxInfo, user_client: httpx.Client
) -> None:
    sandbox.admin.set_faults("eventual")
    cid = sandbox.demo_customers[0]["tenant_id"]
    cart = user_client.post(
        f"/v1/customers/{cid}/carts",
        json={
            "lineItems": [
                {
                    "catalogItemId": BP_ITEM,
                    "quantity": 3,
                    "billingCycle": "monthly",
                    "termDuration": "P1M",
                }
            ]
        },
    ).json()
    order = user_client.post(f"/v1/customers/{cid}/carts/{cart['id']}/checkout").json()["orders"][0]
    sandbox.admin.advance_clock(61)  # provisioned: ids visible, subscription still pending
    sid = user_client.get(f"/v1/customers/{cid}/orders/{order['id']}").json()["lineItems"][0][
        "subscriptionId"
    ]
    sub = user_client.get(f"/v1/customers/{cid}/subscriptions/{sid}").json()
    assert sub["status"] == "pending" and sub["commitmentEndDate"] == "0001-01-01T00:00:00Z"
    busy = _patch(user_client, cid, sub, quantity=4)
    assert busy.status_code == 409 and busy.json()["code"] == 800082
    sandbox.admin.advance_clock(151)
    sub = user_client.get(f"/v1/customers/{cid}/subscriptions/{sid}").json()
    assert sub["status"] == "active"
    assert _patch(user_client, cid, sub, quantity=4).status_code == 409  # still settling
    sandbox.admin.advance_clock(151)
    assert _patch(user_client, cid, _fresh(user_client, cid, sub), quantity=4).status_code == 200


def _renewing_and_lapsing(sandbox: SandboxInfo, user_client: httpx.Client) -> tuple:
    """On 10 January 2026, a customer buys two monthly subscriptions: one renews, the other's
    auto-renewal is off. Returns the customer's id and both subscriptions."""
    sandbox.admin.set_clock("2026-01-10T08:00:00Z")
    cid = sandbox.demo_customers[0]["tenant_id"]
    renewing = _buy(sandbox, user_client, cid, quantity=3, term="P1M")
    lapsing = _patch(
        user_client,
        cid,
        _buy(sandbox, user_client, cid, quantity=2, term="P1M"),
        autoRenewEnabled=False,
    ).json()
    return cid, renewing, lapsing


def test_term_end_renews_or_expires(sandbox: SandboxInfo, user_client: httpx.Client) -> None:
    cid, renewing, lapsing = _renewing_and_lapsing(sandbox, user_client)
    assert renewing["commitmentEndDate"].startswith("2026-02-09")
    sandbox.admin.set_clock("2026-02-11T08:00:00Z")
    renewed = _fresh(user_client, cid, renewing)
    assert renewed["status"] == "active"
    assert renewed["commitmentEndDate"].startswith("2026-03-09")
    assert renewed["refundableQuantity"]["totalQuantity"] == 3  # a new 168-hour window
    assert renewed["cancellationAllowedUntilDate"].startswith("2026-02-17")
    expired = _fresh(user_client, cid, lapsing)
    assert expired["status"] == "expired"
    refused = _patch(user_client, cid, expired, status="active")
    assert refused.status_code == 400 and refused.json()["code"] == 800096
    lines = user_client.get(
        "/v1/invoices/unbilled/lineitems",
        params={
            "provider": "onetime",
            "invoicelineitemtype": "billinglineitems",
            "currencycode": "EUR",
            "period": "current",
        },
    ).json()["items"]
    assert [line["chargeType"] for line in lines if line["subscriptionId"] == renewing["id"]] == [
        "renew"
    ]


def test_patch_can_answer_202_with_location(
    sandbox: SandboxInfo, user_client: httpx.Client
) -> None:
    cid = sandbox.demo_customers[0]["tenant_id"]
    sub = _buy(sandbox, user_client, cid, quantity=5)
    sandbox.admin.set_faults(patch_accepted_rate=1.0)
    accepted = _patch(user_client, cid, sub, quantity=7)
    assert accepted.status_code == 202
    assert accepted.headers["Location"] == f"/customers/{cid}/subscriptions/{sub['id']}"
    assert user_client.get("/v1" + accepted.headers["Location"]).json()["quantity"] == 7


def test_provisioning_status_pending_while_seats_change(
    sandbox: SandboxInfo, user_client: httpx.Client
) -> None:
    cid = sandbox.demo_customers[0]["tenant_id"]
    sub = _buy(sandbox, user_client, cid, quantity=5)
    sandbox.admin.set_faults(provisioning_delay_s=900)
    _patch(user_client, cid, sub, quantity=8)
    url = f"/v1/customers/{cid}/subscriptions/{sub['id']}/provisioningstatus"
    assert user_client.get(url).json()["status"] == "pending"
    sandbox.admin.advance_clock(901)
    status = user_client.get(url).json()
    assert status["status"] == "success" and status["quantity"] == 8


def _next_term(quantity: int, term: str = "P1Y", cycle: str = "annual", **product: str) -> dict:
    product_id, sku_id, availability_id = BP_ITEM.split(":")
    return {
        "product": {
            "productId": product_id,
            "skuId": sku_id,
            "availabilityId": availability_id,
            "billingCycle": cycle,
            "termDuration": term,
            **product,
        },
        "quantity": quantity,
    }


def test_changes_at_renewal_are_kept_then_applied_when_the_term_renews(
    sandbox: SandboxInfo, user_client: httpx.Client
) -> None:
    sandbox.admin.set_clock("2026-01-10T08:00:00Z")
    cid = sandbox.demo_customers[0]["tenant_id"]
    sub = _buy(sandbox, user_client, cid, quantity=3, term="P1M")
    scheduled = _patch(user_client, cid, sub, scheduledNextTermInstructions=_next_term(5))
    assert scheduled.status_code == 200
    assert scheduled.json()["scheduledNextTermInstructions"] == _next_term(5)
    assert scheduled.json()["quantity"] == 3  # nothing changes before the renewal
    # The full-body PATCH of another field sends the instructions back unchanged: they stay.
    renamed = _patch(user_client, cid, scheduled.json(), friendlyName="Office").json()
    assert renamed["scheduledNextTermInstructions"] == _next_term(5)
    sandbox.admin.set_clock("2026-02-11T08:00:00Z")
    renewed = _fresh(user_client, cid, sub)
    assert (renewed["quantity"], renewed["termDuration"], renewed["billingCycle"]) == (
        5,
        "P1Y",
        "annual",
    )
    assert renewed["commitmentEndDate"].startswith("2027-02-09")
    assert "scheduledNextTermInstructions" not in renewed


def test_a_mid_term_quantity_change_or_auto_renew_off_deletes_changes_at_renewal(
    sandbox: SandboxInfo, user_client: httpx.Client
) -> None:
    cid = sandbox.demo_customers[0]["tenant_id"]
    sub = _buy(sandbox, user_client, cid, quantity=3)
    scheduled = _patch(user_client, cid, sub, scheduledNextTermInstructions=_next_term(5)).json()
    assert (
        "scheduledNextTermInstructions"
        not in _patch(user_client, cid, scheduled, quantity=4).json()
    )
    scheduled = _patch(
        user_client, cid, _fresh(user_client, cid, sub), scheduledNextTermInstructions=_next_term(6)
    ).json()
    assert scheduled["scheduledNextTermInstructions"]["quantity"] == 6
    lapsing = _patch(user_client, cid, scheduled, autoRenewEnabled=False).json()
    assert "scheduledNextTermInstructions" not in lapsing
    refused = _patch(user_client, cid, lapsing, scheduledNextTermInstructions=_next_term(6))
    assert refused.status_code == 400 and refused.json()["code"] == 3000
    assert "auto-renew" in refused.json()["description"]


def test_changes_at_renewal_are_validated_and_can_be_removed(
    sandbox: SandboxInfo, user_client: httpx.Client
) -> None:
    cid = sandbox.demo_customers[0]["tenant_id"]
    sub = _buy(sandbox, user_client, cid, quantity=3)
    for instructions, code in (
        (_next_term(5, term="P1M", cycle="annual"), 3000),
        (_next_term(5, skuId="0002"), 3000),
        (_next_term(100000), 2002),
    ):
        refused = _patch(user_client, cid, sub, scheduledNextTermInstructions=instructions)
        assert refused.status_code == 400 and refused.json()["code"] == code, instructions
    assert "scheduledNextTermInstructions" not in _fresh(user_client, cid, sub)
    # PascalCase, as the documentation's samples send it, is read the same way.
    pascal = {"Product": {k[0].upper() + k[1:]: v for k, v in _next_term(4)["product"].items()}}
    scheduled = _patch(
        user_client, cid, sub, scheduledNextTermInstructions={**pascal, "Quantity": 4}
    ).json()
    assert scheduled["scheduledNextTermInstructions"] == _next_term(4)
    removed = _patch(user_client, cid, scheduled, scheduledNextTermInstructions=None).json()
    assert "scheduledNextTermInstructions" not in removed


def test_term_ends_are_audited_when_they_happened_before_anyone_reads_them(
    sandbox: SandboxInfo, user_client: httpx.Client
) -> None:
    """A sync reads the audit log first: term ends the clock passed are there already (nobody
    read the subscriptions), dated the day the new term or the lapse began, not the moment the
    sandbox got round to them (issue 9)."""
    _cid, renewing, lapsing = _renewing_and_lapsing(sandbox, user_client)
    sandbox.admin.set_clock("2026-02-11T08:00:00Z")

    records = user_client.get(
        "/v1/auditrecords", params={"startDate": "2026-02-01", "size": 500}
    ).json()["items"]

    ends = {
        details["SubscriptionId"]: (details["Status"], record["operationDate"])
        for record in records
        if record["userPrincipalName"] == "FulfillmentService"
        for details in [{d["key"]: d["value"] for d in record["customizedData"]}]
    }
    assert ends[renewing["id"]][0] == "active"
    assert ends[lapsing["id"]][0] == "expired"
    assert ends[renewing["id"]][1].startswith("2026-02-10T00:00:00")
    assert ends[lapsing["id"]][1].startswith("2026-02-10T00:00:00")
