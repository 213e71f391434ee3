"""Amounts and quantities are bounded at the edge, and a bad stored price breaks its own offer
only: the rest of the partner's prices, the store, the API, exports and rule edits go on."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from rest_framework.test import APIClient

from seatkeeper.conftest import sign_in
from seatkeeper.core import clock
from seatkeeper.core.errors import ServiceError
from seatkeeper.pricing import services
from seatkeeper.pricing.engine import PriceRequest, PricingContext, PricingError
from seatkeeper.pricing.models import MarginRule, Method, PriceListEntry, Tier, VendorPrice


def api_as(username: str) -> APIClient:
    return sign_in(APIClient(), username)


def request_for(cast, offer, term="P1Y", cycle="annual") -> PriceRequest:
    return PriceRequest(
        offer_id=offer.pk, customer_id=cast.customer.pk, term=term, billing_cycle=cycle,
        on=clock.today(),
    )  # fmt: skip


def out_of_bounds() -> Decimal:
    # SQLite keeps whatever it is given; PostgreSQL's numeric(18, 6) holds up to 10^12.
    return Decimal("1e30") if connection.vendor == "sqlite" else Decimal("500000000000")


@pytest.fixture
def bad_basic(cast, world):
    """A legacy row: Business Basic's annual vendor cost far out of bounds, written directly."""
    price = VendorPrice.objects.get(offer=world.basic, term="P1Y", billing_cycle="annual")
    VendorPrice.objects.filter(pk=price.pk).update(cost=out_of_bounds(), list_price=None)
    return price


def test_a_bad_stored_price_fails_its_offer_only_with_a_clear_message(cast, world, bad_basic):
    # when
    context = PricingContext.load(partner=cast.partner)
    # then the other offers price as usual
    assert context.price(request_for(cast, world.e3)).customer_price.unit_price > 0
    assert context.price(request_for(cast, world.basic, cycle="monthly")).partner_cost
    with pytest.raises(PricingError) as failed:
        context.price(request_for(cast, world.basic))
    assert f"#{bad_basic.pk}" in failed.value.message
    assert world.basic.title in failed.value.message


def test_a_bad_stored_list_price_entry_fails_its_offer_only(cast, world):
    price_list = services.price_list_create(
        actor=cast.cloud_admin, partner=cast.partner, name="Global GBP", currency="GBP"
    )
    for offer, price in ((world.basic, "58"), (world.e3, "400")):
        services.price_list_entry_set(
            actor=cast.cloud_admin, price_list=price_list, offer=offer, term="P1Y",
            billing_cycle="annual", unit_price=Decimal(price),
        )  # fmt: skip
    PriceListEntry.objects.filter(offer=world.basic).update(unit_price=Decimal(-5))
    context = PricingContext.load(partner=cast.partner)
    assert context.price(request_for(cast, world.e3)).customer_price.unit_price == Decimal("400")
    with pytest.raises(PricingError, match="Global GBP"):
        context.price(request_for(cast, world.basic))


def test_with_a_bad_stored_price_the_api_and_rule_edits_still_work(cast, world, bad_basic):
    api = api_as("cloudadmin")
    params = {"customer": cast.customer.pk, "term": "P1Y", "billing_cycle": "annual"}
    # the prices API answers for the other offers, and a 400 that says why for the bad one
    assert api.get("/api/v1/prices/", {**params, "offer": world.e3.pk}).status_code == 200
    refused = api.get("/api/v1/prices/", {**params, "offer": world.basic.pk})
    assert refused.status_code == 400
    assert "out of bounds" in refused.json()["message"]
    # a rule covering every offer can still be set
    rule = services.margin_rule_set(
        actor=cast.cloud_admin, owner=cast.partner, tier=Tier.RESELLER,
        method=Method.MARKUP_ON_COST, value=Decimal(5),
    )  # fmt: skip
    assert MarginRule.objects.filter(pk=rule.pk).exists()
    # and importing the vendor's catalog again replaces the bad row
    from seatkeeper.catalog import services as catalog_services

    catalog_services.catalog_refresh(vendor=world.vendor, provider=world.provider)
    context = PricingContext.load(partner=cast.partner)
    assert context.price(request_for(cast, world.basic)).partner_cost.unit_price == Decimal("54")


def test_the_store_and_the_catalog_still_show_with_a_bad_stored_price(
    client, cast, world, bad_basic
):
    sign_in(client, "cloudadmin")
    assert client.get(f"/customers/{cast.customer.pk}/store/").status_code == 200
    assert client.get("/catalog/").status_code == 200
    assert client.get("/catalog/", {"export": "csv"}).status_code == 200


@pytest.mark.parametrize("value", ["1e30", "1000000000", "0.0000001", "-1", "NaN", "abc"])
def test_a_price_list_file_with_a_price_out_of_bounds_is_refused_line_by_line(cast, world, value):
    price_list = services.price_list_create(
        actor=cast.cloud_admin, partner=cast.partner, name="Global GBP", currency="GBP"
    )
    text = f"item_code,term,billing_cycle,unit_price\n{world.basic.item_code},P1Y,annual,{value}\n"
    lines = services.price_list_csv_preview(
        actor=cast.cloud_admin, price_list=price_list, text=text
    )
    assert any("unit_price" in error for error in lines[0].errors)
    with pytest.raises(ValidationError):
        services.price_list_csv_import(actor=cast.cloud_admin, price_list=price_list, text=text)
    assert PriceListEntry.objects.count() == 0


def test_a_price_list_file_with_cr_line_endings_is_read(cast, world):
    price_list = services.price_list_create(
        actor=cast.cloud_admin, partner=cast.partner, name="Global GBP", currency="GBP"
    )
    text = (
        f"item_code,term,billing_cycle,unit_price\r{world.basic.item_code},P1Y,annual,58.00\r"
        f"{world.e3.item_code},P1Y,monthly,35\r"
    )
    count = services.price_list_csv_import(actor=cast.cloud_admin, price_list=price_list, text=text)
    assert count == 2
    assert PriceListEntry.objects.count() == 2


def test_an_unreadable_price_list_file_is_refused_naming_the_file(cast, world):
    price_list = services.price_list_create(
        actor=cast.cloud_admin, partner=cast.partner, name="Global GBP", currency="GBP"
    )
    text = "item_code,term,billing_cycle,unit_price\n" + '"' + "x" * 200_000 + '",P1Y,annual,1\n'
    with pytest.raises(ServiceError) as refused:
        services.price_list_csv_preview(actor=cast.cloud_admin, price_list=price_list, text=text)
    assert refused.value.field == "csv"


def test_the_price_list_import_api_refuses_an_amount_out_of_bounds_with_400(cast, world):
    price_list = services.price_list_create(
        actor=cast.cloud_admin, partner=cast.partner, name="Global GBP", currency="GBP"
    )
    text = f"item_code,term,billing_cycle,unit_price\r{world.basic.item_code},P1Y,annual,1e30\r"
    response = api_as("cloudadmin").post(
        f"/api/v1/price-lists/{price_list.pk}/import/", {"csv": text}, format="json"
    )
    assert response.status_code == 400
    assert "unit_price" in str(response.json())
    assert PriceListEntry.objects.count() == 0


@pytest.mark.parametrize(
    ("field", "value"),
    [("quantity", 10**30), ("new_quantity", 10**30), ("quantity", 100_001)],
)
def test_a_quote_with_a_quantity_out_of_bounds_answers_400(cast, world, field, value):
    body = {
        "offer": world.basic.pk, "customer": cast.customer.pk, "quantity": 5, "term": "P1Y",
        "billing_cycle": "annual", "period_start": "2026-01-01", "period_end": "2027-01-01",
        "purchased_at": "2026-01-01T00:00:00Z", field: value,
    }  # fmt: skip
    response = api_as("cloudadmin").post("/api/v1/quotes/", body, format="json")
    assert response.status_code == 400
    assert field in response.json()["fields"]


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("entries", {"unit_price": "1000000000"}, "unit_price"),
        ("entries", {"unit_price": "0.0000001"}, "unit_price"),
        ("rules", {"value": "1e30"}, "value"),
        ("rates", {"rate": "0"}, "rate"),
        ("rates", {"rate": "1e30"}, "rate"),
    ],
)
def test_amounts_out_of_bounds_answer_400_on_the_api(cast, world, path, body, field):
    api = api_as("cloudadmin")
    price_list = services.price_list_create(
        actor=cast.cloud_admin, partner=cast.partner, name="Global GBP", currency="GBP"
    )
    url, base = {
        "entries": (
            f"/api/v1/price-lists/{price_list.pk}/entries/",
            {"offer": world.basic.pk, "term": "P1Y", "billing_cycle": "annual"},
        ),
        "rules": ("/api/v1/margin-rules/", {"tier": "customer", "method": "fixed"}),
        "rates": ("/api/v1/exchange-rates/", {"base_currency": "EUR", "quote_currency": "GBP"}),
    }[path]
    response = api.post(url, {**base, **body}, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()["fields"]
