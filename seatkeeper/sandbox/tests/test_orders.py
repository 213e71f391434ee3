"""Carts, checkout, orders, provisioning and eventual consistency."""

from __future__ import annotations

import uuid

import httpx

from seatkeeper.sandbox.testing import SandboxInfo

BP_ITEM = "CFQ7TTC0LCHC:0001:CFQ7TTC0K5DR"  # Microsoft 365 Business Premium
PHONE_ITEM = "CFQ7TTC0LH0R:0001:CFQ7TTC0K5F1"  # Teams Phone Standard (add-on)


def _cart(
    client: httpx.Client, cid: str, items: list[dict], request_id: str | None = None
) -> httpx.Response:
    headers = {"MS-RequestId": request_id} if request_id else {}
    return client.post(f"/v1/customers/{cid}/carts", json={"lineItems": items}, headers=headers)


def test_cart_create_get_put_checkout_then_provisioned(
    sandbox: SandboxInfo, user_client: httpx.Client
) -> None:
    cid = sandbox.demo_customers[1]["tenant_id"]
    created = _cart(
        user_client,
        cid,
        [
            {
                "id": 0,
                "catalogItemId": BP_ITEM,
                "quantity": 3,
                "billingCycle": "Monthly",
                "termDuration": "P1Y",
            }
        ],
    )
    assert created.status_code == 201, created.text
    cart = created.json()
    assert cart["status"] == "Active" and cart["attributes"]["objectType"] == "Cart"
    assert (
        cart["lineItems"][0]["billingCycle"] == "monthly"
        and cart["lineItems"][0]["orderGroup"] == "0"
    )
    assert {"creationTimestamp", "lastModifiedTimestamp", "expirationTimestamp"} <= set(cart)
    cart["lineItems"][0]["quantity"] = 4
    put = user_client.put(f"/v1/customers/{cid}/carts/{cart['id']}", json=cart)
    assert put.status_code == 200 and put.json()["lineItems"][0]["quantity"] == 4
    assert (
        user_client.get(f"/v1/customers/{cid}/carts/{cart['id']}").json()["lineItems"][0][
            "quantity"
        ]
        == 4
    )

    sandbox.admin.set_faults(provisioning_delay_s=120)
    result = user_client.post(f"/v1/customers/{cid}/carts/{cart['id']}/checkout")
    assert result.status_code == 201, result.text
    body = result.json()
    assert body["orderErrors"] == []
    order = body["orders"][0]
    assert order["status"] == "pending" and len(order["id"]) == 12
    assert order["lineItems"][0]["subscriptionId"] is None
    assert order["attributes"]["objectType"] == "Order"
    by_order = user_client.get(
        f"/v1/customers/{cid}/subscriptions", params={"order_id": order["id"]}
    ).json()
    assert by_order["totalCount"] == 0  # ids appear only once provisioned
    status = user_client.get(f"/v1/customers/{cid}/orders/{order['id']}/provisioningstatus").json()
    assert status["items"][0]["status"] == "prefulfillmentPending"

    sandbox.admin.advance_clock(121)
    done = user_client.get(f"/v1/customers/{cid}/orders/{order['id']}").json()
    assert done["status"] == "completed"
    sid = done["lineItems"][0]["subscriptionId"]
    subs = user_client.get(
        f"/v1/customers/{cid}/subscriptions", params={"order_id": order["id"]}
    ).json()
    assert [s["id"] for s in subs["items"]] == [sid]
    assert subs["items"][0]["quantity"] == 4 and subs["items"][0]["termDuration"] == "P1Y"
    assert (
        user_client.get(f"/v1/customers/{cid}/orders/{order['id']}/provisioningstatus").json()[
            "items"
        ][0]["status"]
        == "fulfilled"
    )

    again = user_client.post(f"/v1/customers/{cid}/carts/{cart['id']}/checkout")
    assert again.status_code == 400 and again.json()["code"] == 800065


def test_checkout_is_idempotent_on_request_id(
    sandbox: SandboxInfo, user_client: httpx.Client
) -> None:
    cid = sandbox.demo_customers[1]["tenant_id"]
    cart = _cart(
        user_client,
        cid,
        [
            {
                "catalogItemId": BP_ITEM,
                "quantity": 2,
                "billingCycle": "monthly",
                "termDuration": "P1M",
            }
        ],
    ).json()
    request_id = str(uuid.uuid4())
    first = user_client.post(
        f"/v1/customers/{cid}/carts/{cart['id']}/checkout", headers={"MS-RequestId": request_id}
    )
    retry = user_client.post(
        f"/v1/customers/{cid}/carts/{cart['id']}/checkout", headers={"MS-RequestId": request_id}
    )
    assert first.status_code == retry.status_code == 201
    assert first.json()["orders"][0]["id"] == retry.json()["orders"][0]["id"]
    orders = user_client.get(f"/v1/customers/{cid}/orders").json()["items"]
    assert sum(1 for o in orders if o["id"] == first.json()["orders"][0]["id"]) == 1


def test_addon_needs_a_base_subscription(sandbox: SandboxInfo, user_client: httpx.Client) -> None:
    cid = sandbox.demo_customers[1][
        "tenant_id"
    ]  # has Business Basic, not a Teams Phone base? (it is one)
    lonely = sandbox.demo_customers[4]["tenant_id"]
    # Harbourside has Business Premium (a base) -> add-on attaches to it.
    ok = _cart(
        user_client,
        lonely,
        [
            {
                "catalogItemId": PHONE_ITEM,
                "quantity": 2,
                "billingCycle": "monthly",
                "termDuration": "P1Y",
            }
        ],
    ).json()
    order = user_client.post(f"/v1/customers/{lonely}/carts/{ok['id']}/checkout").json()["orders"][
        0
    ]
    sid = user_client.get(f"/v1/customers/{lonely}/orders/{order['id']}").json()["lineItems"][0][
        "subscriptionId"
    ]
    addon = user_client.get(f"/v1/customers/{lonely}/subscriptions/{sid}").json()
    assert addon["parentSubscriptionId"]
    addons = user_client.get(
        f"/v1/customers/{lonely}/subscriptions/{addon['parentSubscriptionId']}/addons"
    ).json()
    assert sid in [a["id"] for a in addons["items"]]
    # A customer whose only subscriptions are not prerequisites is refused.
    created = user_client.post(
        "/v1/customers",
        json={
            "companyProfile": {"domain": "solotrader.onmicrosoft.com"},
            "billingProfile": {
                "email": "a@b.example",
                "culture": "en-GB",
                "language": "en",
                "companyName": "Solo Trader",
                "defaultAddress": {
                    "firstName": "A",
                    "lastName": "B",
                    "addressLine1": "1 High St",
                    "city": "York",
                    "postalCode": "YO1 7HH",
                    "country": "GB",
                },
            },
        },
    ).json()
    # A new customer's acceptance of the Microsoft Customer Agreement comes before any order.
    template = user_client.get("/v1/agreements?agreementType=MicrosoftCustomerAgreement").json()
    confirmed = user_client.post(
        f"/v1/customers/{created['id']}/agreements",
        json={
            "primaryContact": {"firstName": "A", "lastName": "B", "email": "a@solo.example"},
            "templateId": template["items"][0]["templateId"],
            "dateAgreed": "2026-01-05T00:00:00.000Z",
            "type": "MicrosoftCustomerAgreement",
        },
    )
    assert confirmed.status_code == 201
    refused = _cart(
        user_client,
        created["id"],
        [
            {
                "catalogItemId": PHONE_ITEM,
                "quantity": 1,
                "billingCycle": "monthly",
                "termDuration": "P1Y",
            }
        ],
    ).json()
    answer = user_client.post(f"/v1/customers/{created['id']}/carts/{refused['id']}/checkout")
    assert answer.status_code == 400 and answer.json()["code"] == 800009
    # Base + add-on in the same cart is fine.
    both = _cart(
        user_client,
        created["id"],
        [
            {
                "catalogItemId": BP_ITEM,
                "quantity": 2,
                "billingCycle": "monthly",
                "termDuration": "P1Y",
            },
            {
                "catalogItemId": PHONE_ITEM,
                "quantity": 1,
                "billingCycle": "monthly",
                "termDuration": "P1Y",
            },
        ],
    ).json()
    assert (
        user_client.post(f"/v1/customers/{created['id']}/carts/{both['id']}/checkout").status_code
        == 201
    )
    assert cid


def test_checkout_errors_stale_availability_term_quantity(
    sandbox: SandboxInfo, user_client: httpx.Client
) -> None:
    cid = sandbox.demo_customers[0]["tenant_id"]

    def checkout(item: dict) -> httpx.Response:
        cart = _cart(user_client, cid, [item]).json()
        return user_client.post(f"/v1/customers/{cid}/carts/{cart['id']}/checkout")

    stale = checkout(
        {
            "catalogItemId": "CFQ7TTC0LCHC:0001:OLDAVAIL0000",
            "quantity": 1,
            "billingCycle": "monthly",
            "termDuration": "P1Y",
        }
    )
    assert stale.status_code == 404 and stale.json()["code"] == 400019
    cycle = checkout(
        {"catalogItemId": BP_ITEM, "quantity": 1, "billingCycle": "annual", "termDuration": "P1M"}
    )
    assert cycle.status_code == 400 and cycle.json()["code"] == 800122
    too_many = checkout(
        {
            "catalogItemId": BP_ITEM,
            "quantity": 301,
            "billingCycle": "monthly",
            "termDuration": "P1Y",
        }
    )
    assert too_many.status_code == 400 and too_many.json()["code"] == 800017
    bad = _cart(user_client, cid, [{"catalogItemId": "nonsense", "quantity": 1}]).json()
    assert bad["lineItems"][0]["error"]["errorCode"] == 10001


def test_direct_order_and_order_list_delay(sandbox: SandboxInfo, user_client: httpx.Client) -> None:
    cid = sandbox.demo_customers[2]["tenant_id"]
    sandbox.admin.set_faults(order_list_delay_s=600)
    before = len(user_client.get(f"/v1/customers/{cid}/orders").json()["items"])
    created = user_client.post(
        f"/v1/customers/{cid}/orders",
        json={
            "ReferenceCustomerId": cid,
            "BillingCycle": "monthly",
            "LineItems": [
                {
                    "LineItemNumber": 0,
                    "OfferId": "CFQ7TTC0L3PB:0001:CFQ7TTC0K5F5",
                    "Quantity": 2,
                    "TermDuration": "P1M",
                    "FriendlyName": "BI team",
                }
            ],
        },
    )
    assert created.status_code == 201, created.text
    oid = created.json()["id"]
    assert (
        user_client.get(f"/v1/customers/{cid}/orders/{oid}").status_code == 200
    )  # by id: immediate
    assert (
        len(user_client.get(f"/v1/customers/{cid}/orders").json()["items"]) == before
    )  # list: later
    sandbox.admin.advance_clock(601)
    listed = user_client.get(f"/v1/customers/{cid}/orders").json()["items"]
    assert oid in [o["id"] for o in listed]
    assert user_client.get(f"/v1/customers/{cid}/orders/nope00000000").json()["code"] == 20000


def test_order_prices_only_with_include_price(shared_sandbox: SandboxInfo) -> None:
    cid = shared_sandbox.demo_customers[0]["tenant_id"]
    with shared_sandbox.client(shared_sandbox.admin.access_token()) as client:
        plain = client.get(f"/v1/customers/{cid}/orders").json()["items"][0]
        priced = client.get(f"/v1/customers/{cid}/orders?include_price=true").json()["items"][0]
    assert "pricing" not in plain["lineItems"][0]
    assert {"listPrice", "discountedPrice", "price", "extendedPrice"} <= set(
        priced["lineItems"][0]["pricing"]
    )
    assert plain["links"]["self"]["uri"] == f"/customers/{cid}/orders/{plain['id']}"


def test_legacy_offer_order_and_addon(sandbox: SandboxInfo, user_client: httpx.Client) -> None:
    cid = sandbox.demo_customers[3]["tenant_id"]
    e3, archiving = "796b6b5f-613c-4e24-a17c-eba730d49c02", "2828be95-46ba-4f91-b2fd-0bef192ecf60"
    refused = user_client.post(
        f"/v1/customers/{cid}/orders",
        json={
            "billingCycle": "monthly",
            "lineItems": [{"lineItemNumber": 0, "offerId": archiving, "quantity": 1}],
        },
    )
    assert refused.status_code == 400 and refused.json()["code"] == 800009
    order = user_client.post(
        f"/v1/customers/{cid}/orders",
        json={
            "billingCycle": "monthly",
            "lineItems": [
                {"lineItemNumber": 0, "offerId": e3, "quantity": 5, "friendlyName": "Legacy E3"},
                {"lineItemNumber": 1, "offerId": archiving, "quantity": 5},
            ],
        },
    )
    assert order.status_code == 201, order.text
    items = user_client.get(f"/v1/customers/{cid}/orders/{order.json()['id']}").json()["lineItems"]
    base = user_client.get(f"/v1/customers/{cid}/subscriptions/{items[0]['subscriptionId']}").json()
    assert base["offerId"] == e3 and base["links"]["offer"]["uri"] == f"/offers/{e3}"
    assert "cancellationAllowedUntilDate" not in base  # not a New Commerce subscription
    addon = user_client.get(
        f"/v1/customers/{cid}/subscriptions/{items[1]['subscriptionId']}"
    ).json()
    assert addon["parentSubscriptionId"] == base["id"]
    sandbox.admin.advance_clock(30 * 24 * 3600)
    base = user_client.get(f"/v1/customers/{cid}/subscriptions/{base['id']}").json()
    smaller = user_client.patch(
        f"/v1/customers/{cid}/subscriptions/{base['id']}", json={**base, "quantity": 3}
    )
    assert smaller.status_code == 200 and smaller.json()["quantity"] == 3  # legacy: no 168 h rule


def test_overlapping_order_is_409_800060_while_provisioning(
    sandbox: SandboxInfo, user_client: httpx.Client
) -> None:
    cid = sandbox.demo_customers[2]["tenant_id"]
    sandbox.admin.set_faults(provisioning_delay_s=60)
    body = {
        "billingCycle": "monthly",
        "lineItems": [
            {
                "lineItemNumber": 0,
                "offerId": "CFQ7TTC0LH16:0001:CFQ7TTC0K5DS",
                "quantity": 1,
                "termDuration": "P1M",
            }
        ],
    }
    assert user_client.post(f"/v1/customers/{cid}/orders", json=body).status_code == 201
    busy = user_client.post(f"/v1/customers/{cid}/orders", json=body)
    assert busy.status_code == 409 and busy.json()["code"] == 800060
    sandbox.admin.advance_clock(61)
    assert user_client.post(f"/v1/customers/{cid}/orders", json=body).status_code == 201


def test_sandbox_account_quotas_when_switched_on(
    sandbox: SandboxInfo, user_client: httpx.Client
) -> None:
    cid = sandbox.demo_customers[1]["tenant_id"]  # 2 subscriptions already
    sandbox.admin.set_faults("quotas")

    def order(quantity: int, offer: str = "CFQ7TTC0L3PB:0001:CFQ7TTC0K5F5") -> httpx.Response:
        return user_client.post(
            f"/v1/customers/{cid}/orders",
            json={
                "billingCycle": "monthly",
                "lineItems": [
                    {
                        "lineItemNumber": 0,
                        "offerId": offer,
                        "quantity": quantity,
                        "termDuration": "P1M",
                    }
                ],
            },
        )

    too_many_seats = order(26)
    assert too_many_seats.status_code == 400 and too_many_seats.json()["code"] == 800018
    assert order(25).status_code == 201
    assert order(1, "CFQ7TTC0LHXK:0001:CFQ7TTC0K5DT").status_code == 201
    assert order(1, "CFQ7TTC0LF8Q:0001:CFQ7TTC0K6L8").status_code == 201  # fifth
    sixth = order(1, "CFQ7TTC0LH3P:0001:CFQ7TTC0K5F7")
    assert sixth.status_code == 400 and sixth.json()["code"] == 800018


def test_order_list_billing_type_filter_and_unknown_cart(shared_sandbox: SandboxInfo) -> None:
    cid = shared_sandbox.demo_customers[3]["tenant_id"]  # annual E3 + audio, monthly Sales Pro
    with shared_sandbox.client(shared_sandbox.admin.access_token()) as client:
        annual = client.get(f"/v1/customers/{cid}/orders?billingType=annual").json()["items"]
        monthly = client.get(f"/v1/customers/{cid}/orders?billingType=Monthly").json()["items"]
        cart = client.get(f"/v1/customers/{cid}/carts/{uuid.uuid4()}")
    assert {o["billingCycle"] for o in annual} == {"annual"} and len(annual) == 2
    assert {o["billingCycle"] for o in monthly} == {"monthly"} and len(monthly) == 1
    assert cart.status_code == 404 and cart.json()["source"] == "PartnerFD"
