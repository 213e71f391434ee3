"""Catalog: products, SKUs, availabilities (terms, prices, add-ons) and legacy offers."""

from __future__ import annotations

from decimal import Decimal

from seatkeeper.sandbox.testing import SandboxInfo


def _get(info: SandboxInfo, path: str) -> dict:
    with info.client(info.admin.access_token(app_only=True)) as client:
        response = client.get(path)
    assert response.status_code == 200, response.text
    return response.json()


def test_products_list_documented_shape(shared_sandbox: SandboxInfo) -> None:
    body = _get(shared_sandbox, "/v1/products?country=US&targetView=OnlineServices")
    assert body["attributes"]["objectType"] == "Collection"
    assert body["totalCount"] == len(body["items"]) >= 15
    product = next(p for p in body["items"] if p["id"] == "CFQ7TTC0LH18")
    assert len(product["id"]) == 12
    assert product["title"] == "Microsoft 365 Business Basic"
    assert product["productType"]["id"] == "OnlineServices"
    assert product["links"]["skus"]["uri"] == "/products/CFQ7TTC0LH18/skus"
    assert product["attributes"]["objectType"] == "Product"


def test_products_need_country_and_target_view(shared_sandbox: SandboxInfo) -> None:
    with shared_sandbox.client(shared_sandbox.admin.access_token()) as client:
        assert client.get("/v1/products?targetView=OnlineServices").status_code == 400
        assert client.get("/v1/products?country=US").status_code == 400
        assert client.get("/v1/products/NOPE00000000?country=US").json()["code"] == 400013
        assert client.get("/v1/products/CFQ7TTC0LH18/skus/0009?country=US").json()["code"] == 400018
        response = client.get("/v1/products/CFQ7TTC0LH18/skus/0001/availabilities/NOPE?country=US")
        assert response.status_code == 404 and response.json()["code"] == 400019


def test_sku_shape_and_addon_relations(shared_sandbox: SandboxInfo) -> None:
    sku = _get(shared_sandbox, "/v1/products/CFQ7TTC0LH0R/skus?country=US")["items"][0]
    assert sku["id"] == "0001" and len(sku["id"]) == 4
    assert sku["productId"] == "CFQ7TTC0LH0R"
    assert sku["minimumQuantity"] == 1 and sku["maximumQuantity"] == 300
    assert sku["dynamicAttributes"]["isAddon"] is True
    assert "CFQ7TTC0LCHC:0001" in sku["dynamicAttributes"]["prerequisiteSkus"]
    base = _get(shared_sandbox, "/v1/products/CFQ7TTC0LCHC/skus/0001?country=US")
    assert (
        base["dynamicAttributes"]["isAddon"] is False
        and base["dynamicAttributes"]["prerequisiteSkus"] == []
    )
    assert base["attributes"]["objectType"] == "Sku"


def test_availability_terms_cycles_and_prices(shared_sandbox: SandboxInfo) -> None:
    body = _get(shared_sandbox, "/v1/products/CFQ7TTC0LFLX/skus/0001/availabilities?country=FR")
    availability = body["items"][0]
    assert availability["catalogItemId"] == f"CFQ7TTC0LFLX:0001:{availability['id']}"
    assert availability["defaultCurrency"] == {"code": "EUR", "symbol": "€"}
    assert availability["segment"] == "commercial" and availability["isPurchasable"] is True
    terms = {(t["duration"], t["billingCycle"]): t for t in availability["terms"]}
    assert set(terms) == {
        ("P1M", "monthly"),
        ("P1Y", "monthly"),
        ("P1Y", "annual"),
        ("P3Y", "monthly"),
        ("P3Y", "annual"),
        ("P3Y", "triennial"),
    }
    monthly = terms[("P1Y", "monthly")]["price"]
    annual = terms[("P1Y", "annual")]["price"]
    flexible = terms[("P1M", "monthly")]["price"]
    assert monthly["currencyCode"] == "EUR" and monthly["pricePer"] == "month"
    assert Decimal(annual["erpPrice"]) == Decimal(monthly["erpPrice"]) * 12
    assert Decimal(monthly["unitPrice"]) < Decimal(monthly["erpPrice"])
    assert Decimal(flexible["erpPrice"]) > Decimal(monthly["erpPrice"])  # P1M premium
    assert terms[("P1Y", "monthly")]["description"] == "One-Year commitment for monthly billing"
    assert (
        terms[("P1M", "monthly")]["cancellationPolicies"][0]["refundOptions"][0]["expiresAfter"]
        == "P1D"
    )
    single = _get(
        shared_sandbox,
        f"/v1/products/CFQ7TTC0LFLX/skus/0001/availabilities/{availability['id']}?country=US",
    )
    assert single["defaultCurrency"]["code"] == "USD"


def test_customer_scoped_catalog_uses_customer_country(shared_sandbox: SandboxInfo) -> None:
    cid = shared_sandbox.demo_customers[3]["tenant_id"]  # GB
    body = _get(
        shared_sandbox, f"/v1/customers/{cid}/products/CFQ7TTC0LH18/skus/0001/availabilities"
    )
    assert body["items"][0]["defaultCurrency"]["code"] == "GBP"


def test_legacy_offers_offset_paging_and_addons(shared_sandbox: SandboxInfo) -> None:
    first = _get(shared_sandbox, "/v1/offers?country=US&size=4&offset=0")
    assert first["totalCount"] == 4
    assert first["links"]["next"]["uri"] == "/offers?country=US&size=4&offset=4"
    second = _get(shared_sandbox, "/v1/offers?country=US&size=4&offset=4")
    assert second["totalCount"] == 2 and "next" not in second["links"]
    offer = first["items"][1]
    assert offer["attributes"]["objectType"] == "Offer"
    assert {
        "id",
        "name",
        "minimumQuantity",
        "maximumQuantity",
        "isAddOn",
        "hasAddOns",
        "billing",
        "supportedBillingCycles",
        "product",
        "unitType",
        "prerequisiteOffers",
    } <= set(offer)
    addons = _get(shared_sandbox, f"/v1/offers/{offer['id']}/addons?country=US")
    assert addons["totalCount"] >= 1
    assert all(a["isAddOn"] and offer["id"] in a["prerequisiteOffers"] for a in addons["items"])


def test_single_offer_and_unknown_offer(shared_sandbox: SandboxInfo) -> None:
    offer = _get(shared_sandbox, "/v1/offers/796B6B5F-613C-4E24-A17C-EBA730D49C02?country=GB")
    assert (
        offer["id"] == "796b6b5f-613c-4e24-a17c-eba730d49c02" and offer["name"] == "Office 365 E3"
    )
    assert offer["price"]["currencyCode"] == "GBP" and offer["hasAddOns"] is True
    with shared_sandbox.client(shared_sandbox.admin.access_token()) as client:
        missing = client.get("/v1/offers/00000000-0000-0000-0000-000000000000?country=US")
    assert missing.status_code == 404 and missing.json()["code"] == 400013
