"""Pages: the catalog browser, what-if, rules, price lists with CSV preview, rates."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from seatkeeper.conftest import sign_in
from seatkeeper.pricing import services
from seatkeeper.pricing.models import MarginRule, Method, PriceListEntry, Tier


@pytest.fixture
def margins(cast, world):
    services.margin_rule_set(
        actor=cast.cloud_admin, owner=cast.partner, tier=Tier.RESELLER,
        method=Method.MARKUP_ON_COST, value=Decimal(5),
    )  # fmt: skip
    return world


def test_the_catalog_browser_searches_filters_and_exports(client, cast, world):
    sign_in(client, "customeradmin")
    page = client.get("/catalog/", {"q": "Business", "vendor": world.uc.pk})
    assert page.status_code == 200
    assert b"UC-BUS" in page.content and b"Business plan" in page.content  # hover description
    assert b"Microsoft 365" not in page.content
    fragment = client.get("/catalog/", {"kind": "addon"}, headers={"HX-Request": "true"})
    assert b"<html" not in fragment.content and b"UC-REC" in fragment.content
    export = client.get("/catalog/", {"export": "csv", "term": "P1Y"})
    assert (
        b"".join(export.streaming_content).count(b"\n") == 5
    )  # header, 3 Microsoft offers, UC Business


def test_offer_details_show_vendor_prices_only_to_the_partner(client, cast, world):
    sign_in(client, "cloudadmin")
    assert b"Vendor prices" in client.get(f"/catalog/offers/{world.basic.pk}/").content
    sign_in(client, "reselleradmin")
    page = client.get(f"/catalog/offers/{world.basic.pk}/")
    assert page.status_code == 200 and b"Vendor prices" not in page.content
    sign_in(client, "outsider")
    assert client.get(f"/catalog/offers/{world.basic.pk}/").status_code == 404


@pytest.mark.parametrize(
    ("username", "shown", "hidden"),
    [
        ("cloudadmin", [b"Partner cost", b"Reseller price", b"Customer price", b"Partner margin"], []),  # noqa: E501
        ("reselleradmin", [b"Reseller price", b"Customer price", b"Reseller margin"], [b"Partner cost", b"Partner margin"]),  # noqa: E501
        ("customeradmin", [b"Customer price"], [b"Partner cost", b"Reseller price", b"Reseller margin"]),  # noqa: E501
    ],
)  # fmt: skip
def test_the_what_if_screen_says_whose_price_each_is(
    client, cast, margins, username, shown, hidden
):
    sign_in(client, username)
    page = client.get("/pricing/", {"offer": margins.basic.pk, "customer": cast.customer.pk,
                                    "term": "P1Y", "billing_cycle": "annual", "quantity": 10})  # fmt: skip  # noqa: E501
    assert page.status_code == 200
    for text in shown:
        assert text in page.content
    for text in hidden:
        assert text not in page.content
    assert "£600.00".encode() in page.content  # 10 × £60.00 customer price (list) per year


def test_a_reseller_admin_sets_a_margin_for_its_customers_on_the_rules_page(client, cast, world):
    sign_in(client, "reselleradmin")
    page = client.get("/pricing/rules/")
    assert page.status_code == 200
    response = client.post("/pricing/rules/", {"tier": "customer", "target": cast.customer.pk,
                                               "method": "margin", "value": "5"})  # fmt: skip
    assert response.status_code == 302
    assert MarginRule.objects.get().owner == cast.reseller
    refused = client.post("/pricing/rules/", {"tier": "customer", "method": "discount",
                                              "value": "30"})  # fmt: skip
    assert refused.status_code == 200 and b"below the reseller price" in refused.content
    assert MarginRule.objects.count() == 1


def test_customers_and_resellers_cannot_open_partner_pages(client, cast, world):
    sign_in(client, "customeradmin")
    assert client.get("/pricing/rules/").status_code == 403
    sign_in(client, "reselleradmin")
    assert client.get("/pricing/price-lists/").status_code == 403
    assert client.get("/pricing/exchange-rates/").status_code == 403


def test_price_list_csv_preview_shows_errors_per_line_before_writing(client, cast, world):
    price_list = services.price_list_create(
        actor=cast.cloud_admin, partner=cast.partner, name="Global", currency="GBP"
    )
    sign_in(client, "cloudadmin")
    text = "item_code,term,billing_cycle,unit_price\n"
    text += f"{world.basic.item_code},P1Y,annual,58\nNOPE,P1Y,annual,3\n"
    page = client.post(f"/pricing/price-lists/{price_list.pk}/", {"form": "file", "text": text})
    assert page.status_code == 200 and b"Unknown item code." in page.content
    assert b"Import these prices" not in page.content
    confirmed = client.post(f"/pricing/price-lists/{price_list.pk}/",
                            {"form": "file", "text": text, "confirm": "1"})  # fmt: skip
    assert confirmed.status_code == 200 and PriceListEntry.objects.count() == 0
    good = text.replace("NOPE,P1Y,annual,3\n", "")
    done = client.post(f"/pricing/price-lists/{price_list.pk}/",
                       {"form": "file", "text": good, "confirm": "1"})  # fmt: skip
    assert done.status_code == 302 and PriceListEntry.objects.count() == 1
    export = client.get(f"/pricing/price-lists/{price_list.pk}/", {"export": "csv"})
    assert world.basic.item_code.encode() in export.content


def test_the_cloud_admin_refreshes_a_vendor_and_imports_a_manual_file(
    client, cast, world, monkeypatch, django_capture_on_commit_callbacks
):
    monkeypatch.setattr(
        "seatkeeper.providers.registry.get_provider", lambda account: world.provider
    )
    sign_in(client, "cloudadmin")
    before = world.vendor.refreshes.count()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/catalog/vendors/{world.vendor.pk}/refresh/")
    assert response.status_code == 302
    refresh = world.vendor.refreshes.first()
    assert world.vendor.refreshes.count() == before + 1  # the task ran (immediate backend)
    assert refresh.started_by == "cloudadmin"
    page = client.post(f"/catalog/vendors/{world.uc.pk}/",
                       {"text": "item_code,title,term,billing_cycle,cost\nUC-NEW,New,P1M,monthly,1\n"})  # fmt: skip  # noqa: E501
    assert b"Import these lines" in page.content
    sign_in(client, "operator")
    assert client.post(f"/catalog/vendors/{world.vendor.pk}/refresh/").status_code == 403


def test_the_cloud_admin_defines_a_manual_offer_by_hand(client, cast, world):
    sign_in(client, "cloudadmin")
    response = client.post(f"/catalog/vendors/{world.uc.pk}/", {
        "form": "offer", "item_code": "UC-FAX", "title": "Fax to mail", "kind": "addon",
        "unit_type": "Licenses", "minimum_quantity": 1, "attaches_to": "UC-BUS", "term": "P1M",
        "billing_cycle": "monthly", "cost": "0.50", "list_price": "1.00",
    })  # fmt: skip
    assert response.status_code == 302
    page = client.get(response["Location"])
    assert b"Fax to mail" in page.content and b"Business" in page.content  # attaches to


def test_the_cloud_admin_enters_and_imports_exchange_rates(client, cast, world):
    from seatkeeper.pricing.models import ExchangeRate

    sign_in(client, "cloudadmin")
    rate = {"base_currency": "eur", "quote_currency": "GBP", "rate": "0.86"}
    entered = client.post("/pricing/exchange-rates/", rate)
    assert entered.status_code == 302
    content = b"base_currency,quote_currency,rate\nUSD,GBP,0.79\n"
    upload = SimpleUploadedFile("rates.csv", content)
    imported = client.post("/pricing/exchange-rates/", {"form": "file", "file": upload})
    assert imported.status_code == 302
    assert ExchangeRate.objects.count() == 2
    assert b"1 EUR = 0.86 GBP" in client.get("/pricing/exchange-rates/").content


def test_the_admin_lists_prices_read_only_and_scoped(client, cast, world):
    sign_in(client, "cloudadmin")
    page = client.get("/admin/pricing/vendorprice/")
    assert page.status_code == 200 and b"Microsoft 365 E3" in page.content
    assert client.get("/admin/catalog/offer/add/").status_code == 403
    sign_in(client, "outsider")
    assert b"Microsoft 365 E3" not in client.get("/admin/pricing/vendorprice/").content


def test_the_pricing_pages_and_explanations_speak_french(client, cast, margins):
    from django.utils import translation

    from seatkeeper.pricing.audiences import Audience

    with translation.override("fr"):
        assert Audience.CUSTOMER_PRICE.label == "Prix client"
    cast.cloud_admin.language = "fr"
    cast.cloud_admin.save(update_fields=["language"])
    sign_in(client, "cloudadmin")
    query = {"offer": margins.basic.pk, "customer": cast.customer.pk, "term": "P1Y",
             "billing_cycle": "annual", "quantity": 1}  # fmt: skip
    page = client.get("/pricing/", query)
    assert "Coût partenaire".encode() in page.content
    assert "majoration de 5 % sur le coût partenaire".encode() in page.content


def test_a_manual_offer_is_withdrawn_after_confirmation(client, cast, world):
    from seatkeeper.activity.models import ActivityRecord
    from seatkeeper.catalog.models import OfferStatus

    url = f"/catalog/offers/{world.uc_business.pk}/withdraw/"
    sign_in(client, "reselleradmin")
    assert client.post(url, {"confirm": "yes"}).status_code == 403
    sign_in(client, "cloudadmin")
    assert b"Withdraw from sale" in client.get(f"/catalog/offers/{world.uc_business.pk}/").content
    client.post(url)  # not confirmed
    world.uc_business.refresh_from_db()
    assert world.uc_business.status == OfferStatus.ACTIVE
    client.post(url, {"confirm": "yes"})
    world.uc_business.refresh_from_db()
    assert (
        world.uc_business.status == OfferStatus.WITHDRAWN and not world.uc_business.is_purchasable
    )
    assert ActivityRecord.objects.filter(operation="offer.withdraw").count() == 1
