"""Bad input on the catalog gives a 400 naming the field, never a 500, and writes nothing."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from rest_framework.test import APIClient

from seatkeeper.catalog import services
from seatkeeper.catalog.models import Offer
from seatkeeper.conftest import sign_in
from seatkeeper.pricing.models import VendorPrice

HUGE = "99999999999999999999999"


def api_as(username: str) -> APIClient:
    return sign_in(APIClient(), username)


@pytest.mark.parametrize(
    ("_case", "query", "field"),
    [
        ("vendor beyond any id", {"vendor": HUGE}, "vendor"),
        ("vendor not a number", {"vendor": "abc"}, "vendor"),
        ("unknown kind", {"kind": "bogus"}, "kind"),
        ("unknown status", {"status": "bogus"}, "status"),
        ("unknown term", {"term": "P9Y"}, "term"),
    ],
)
def test_a_bad_offer_filter_answers_400_naming_the_field(cast, world, _case, query, field):
    # when
    response = api_as("cloudadmin").get("/api/v1/offers/", query)
    # then
    assert response.status_code == 400
    assert list(response.json()["fields"]) == [field]


@pytest.mark.parametrize("query", [{"vendor": HUGE}, {"kind": "bogus"}, {"status": "x"}])
def test_the_catalog_page_and_its_export_answer_400_to_a_bad_filter(client, cast, world, query):
    sign_in(client, "cloudadmin")
    page = client.get("/catalog/", query)
    export = client.get("/catalog/", {**query, "export": "csv"})
    assert page.status_code == 400 and export.status_code == 400
    assert next(iter(query)) in page.content.decode()


def test_good_filters_still_filter(cast, world):
    body = api_as("cloudadmin").get("/api/v1/offers/", {"vendor": world.uc.pk, "kind": "addon"})
    assert body.status_code == 200
    assert [row["item_code"] for row in body.json()["results"]] == ["UC-REC"]


@pytest.mark.parametrize("column", ["cost", "list_price"])
@pytest.mark.parametrize("value", ["1e30", "1000000000", "0.0000001", "NaN", "-1"])
def test_an_offers_file_with_an_amount_out_of_bounds_is_refused_line_by_line(
    cast, world, column, value
):
    # given a line whose cost or list price no column can hold (or that is not a price)
    row = {"cost": "1.00", "list_price": "2.00", column: value}
    text = (
        "item_code,title,term,billing_cycle,currency,cost,list_price\n"
        f"UC-BIG,Big,P1M,monthly,GBP,{row['cost']},{row['list_price']}\n"
    )
    prices_before, offers_before = VendorPrice.objects.count(), Offer.objects.count()
    # when
    preview = services.offers_csv_preview(vendor=world.uc, text=text)
    with pytest.raises(ValidationError) as refused:
        services.offers_csv_import(actor=cast.cloud_admin, vendor=world.uc, text=text)
    # then
    assert any(column in error for error in preview.lines[0].errors)
    assert "Line 2" in str(refused.value)
    assert (VendorPrice.objects.count(), Offer.objects.count()) == (prices_before, offers_before)


def test_an_offers_file_with_a_quantity_out_of_bounds_is_refused(cast, world):
    text = (
        "item_code,title,term,billing_cycle,currency,cost,maximum_quantity\n"
        "UC-BIG,Big,P1M,monthly,GBP,1.00,99999999999999999999\n"
    )
    preview = services.offers_csv_preview(vendor=world.uc, text=text)
    assert any("maximum_quantity" in error for error in preview.lines[0].errors)


def test_an_offers_file_with_cr_line_endings_is_read(cast, world):
    text = (
        "item_code,title,term,billing_cycle,currency,cost\rUC-CR,Old Mac file,P1M,monthly,GBP,3\r"
    )
    refresh = services.offers_csv_import(actor=cast.cloud_admin, vendor=world.uc, text=text)
    assert refresh.new_count == 1
    assert Offer.objects.get(vendor=world.uc, item_code="UC-CR").title == "Old Mac file"


def test_the_offers_api_refuses_an_amount_out_of_bounds_with_400(cast, world):
    text = "item_code,title,term,billing_cycle,currency,cost\nUC-BIG,Big,P1M,monthly,GBP,1e30\n"
    before = VendorPrice.objects.count()
    response = api_as("cloudadmin").post(
        f"/api/v1/vendors/{world.uc.pk}/offers/import/", {"csv": text}, format="json"
    )
    assert response.status_code == 400
    assert "cost" in str(response.json())
    assert VendorPrice.objects.count() == before
