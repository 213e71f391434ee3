"""Uploading a price sheet by hand: the page (English and French) and the API, partner staff
only, uploads by the partner's cloud admins."""

from __future__ import annotations

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from seatkeeper.conftest import sign_in
from seatkeeper.pricing.models import PriceSheetImport, PriceSheetOrigin, VendorPrice
from seatkeeper.pricing.pricesheets import price_sheet_import
from seatkeeper.pricing.tests.sheets import NOVEMBER, french_vendor, sheet_bytes


@pytest.fixture
def french(cast):
    return french_vendor(cast)


def upload(data: bytes, name: str = "pricesheet_FR.zip") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type="application/octet-stream")


# --- the page -----------------------------------------------------------------------------------


def test_a_cloud_admin_uploads_a_zipped_sheet_and_reads_what_it_did(cast, client, french):
    vendor, _basic, e3 = french
    sign_in(client, "cloudadmin")
    page = client.get("/pricing/price-sheets/")
    assert page.status_code == 200 and "Upload a price sheet" in page.content.decode()
    answer = client.post(
        "/pricing/price-sheets/",
        {"vendor": vendor.pk, "file": upload(sheet_bytes(NOVEMBER, zipped=True))},
        follow=True,
    )
    run = PriceSheetImport.objects.get()
    assert answer.redirect_chain[-1][0] == f"/pricing/price-sheets/{run.pk}/"
    text = answer.content.decode()
    assert run.origin == PriceSheetOrigin.UPLOAD and run.file_name == "pricesheet_FR.zip"
    assert "6 lines read: 5 for offers of the catalog, 1 for offers it does not hold" in text
    assert "5 prices added" in text
    assert "1 offer for sale found no price in this sheet." in text
    assert e3.title in text and "1 month · Monthly" in text
    assert VendorPrice.objects.filter(offer__vendor=vendor).count() == 5


def test_the_page_speaks_french(cast, client, french):
    vendor, _basic, _e3 = french
    run = price_sheet_import(
        actor=cast.cloud_admin, vendor=vendor, source=io.BytesIO(sheet_bytes(NOVEMBER))
    )
    cast.cloud_admin.language = "fr"
    cast.cloud_admin.save(update_fields=["language"])
    sign_in(client, "cloudadmin")
    listing = client.get("/pricing/price-sheets/")
    detail = client.get(f"/pricing/price-sheets/{run.pk}/")
    assert "Envoyer une grille tarifaire" in listing.content.decode()
    text = detail.content.decode()
    assert "5 prix ajoutés" in text and "1 offre en vente n'a trouvé aucun prix" in text
    assert "1 mois · Mensuel" in text


def test_a_file_that_is_not_a_price_sheet_says_why(cast, client, french):
    vendor, _basic, _e3 = french
    sign_in(client, "cloudadmin")
    answer = client.post(
        "/pricing/price-sheets/", {"vendor": vendor.pk, "file": upload(b"a,b\r\n1,2\r\n", "x.csv")}
    )
    assert answer.status_code == 200
    assert "This is not a license-based price sheet" in answer.content.decode()
    assert not VendorPrice.objects.exists()


def test_only_partner_staff_see_price_sheets_and_only_cloud_admins_upload(cast, client, french):
    vendor, _basic, _e3 = french
    run = price_sheet_import(actor=None, vendor=vendor, source=io.BytesIO(sheet_bytes(NOVEMBER)))
    sheet = {"vendor": vendor.pk, "file": upload(sheet_bytes(NOVEMBER))}
    # a partner operator reads but may not upload
    sign_in(client, "operator")
    assert client.get(f"/pricing/price-sheets/{run.pk}/").status_code == 200
    assert "Upload a price sheet" not in client.get("/pricing/price-sheets/").content.decode()
    assert client.post("/pricing/price-sheets/", sheet).status_code == 403
    # a reseller is not the partner's staff
    sign_in(client, "reselleradmin")
    assert client.get("/pricing/price-sheets/").status_code == 403
    assert client.get(f"/pricing/price-sheets/{run.pk}/").status_code == 404
    # another partner's cloud admin sees none of it and cannot name this vendor
    sign_in(client, "outsider")
    assert client.get(f"/pricing/price-sheets/{run.pk}/").status_code == 404
    answer = client.post("/pricing/price-sheets/", sheet)
    assert answer.status_code == 200  # the vendor is not among its choices: nothing imported
    assert PriceSheetImport.objects.count() == 1


# --- the API ------------------------------------------------------------------------------------


def api_as(username: str) -> APIClient:
    return sign_in(APIClient(), username)


def test_the_api_imports_a_sheet_once_per_idempotency_key(cast, french):
    vendor, _basic, e3 = french
    api = api_as("cloudadmin")
    url = f"/api/v1/vendors/{vendor.pk}/price-sheets/"
    data = sheet_bytes(NOVEMBER, bom=True)
    first = api.post(url, {"file": upload(data, "sheet.csv")}, format="multipart",
                     HTTP_IDEMPOTENCY_KEY="sheet-1")  # fmt: skip
    assert first.status_code == 201, first.json()
    body = first.json()
    assert body["prices_added"] == 5 and body["offers_without_price"] == 1
    assert body["unpriced"] == [
        {"offer": e3.pk, "title": e3.title, "country": "FR", "terms": [["P1M", "monthly"]]}
    ]
    again = api.post(url, {"file": upload(data, "sheet.csv")}, format="multipart",
                     HTTP_IDEMPOTENCY_KEY="sheet-1")  # fmt: skip
    assert again.status_code == 201 and again["Idempotent-Replayed"] == "true"
    assert PriceSheetImport.objects.count() == 1
    # the same key with another file is refused
    other = sheet_bytes(NOVEMBER[:2])
    refused = api.post(url, {"file": upload(other, "sheet.csv")}, format="multipart",
                       HTTP_IDEMPOTENCY_KEY="sheet-1")  # fmt: skip
    assert refused.status_code == 422
    listing = api.get(url)
    assert listing.status_code == 200 and listing.json()["count"] == 1
    detail = api.get(f"/api/v1/price-sheets/{body['id']}/")
    assert detail.status_code == 200 and detail.json()["prices_added"] == 5


def test_the_api_answers_a_bad_file_with_400(cast, french):
    vendor, _basic, _e3 = french
    answer = api_as("cloudadmin").post(
        f"/api/v1/vendors/{vendor.pk}/price-sheets/",
        {"file": upload(b"PK\x03\x04broken", "sheet.zip")},
        format="multipart",
    )
    assert answer.status_code == 400


@pytest.mark.parametrize(
    ("username", "read", "write"),
    [("operator", 200, 403), ("reselleradmin", 404, 404), ("outsider", 404, 404)],
)
def test_the_api_is_for_partner_staff_and_uploads_for_cloud_admins(
    cast, french, username, read, write
):
    vendor, _basic, _e3 = french
    run = price_sheet_import(actor=None, vendor=vendor, source=io.BytesIO(sheet_bytes(NOVEMBER)))
    api = api_as(username)
    assert api.get(f"/api/v1/vendors/{vendor.pk}/price-sheets/").status_code == read
    assert api.get(f"/api/v1/price-sheets/{run.pk}/").status_code == read
    answer = api.post(
        f"/api/v1/vendors/{vendor.pk}/price-sheets/",
        {"file": upload(sheet_bytes(NOVEMBER))},
        format="multipart",
    )
    assert answer.status_code == write
    assert PriceSheetImport.objects.count() == 1


def test_a_large_upload_is_read_from_its_temporary_file(cast, client, french, settings):
    # Django keeps an upload above this size in a temporary file rather than in memory.
    settings.FILE_UPLOAD_MAX_MEMORY_SIZE = 0
    vendor, _basic, _e3 = french
    sign_in(client, "cloudadmin")
    for data in (sheet_bytes(NOVEMBER, bom=True), sheet_bytes(NOVEMBER, zipped=True)):
        answer = client.post(
            "/pricing/price-sheets/", {"vendor": vendor.pk, "file": upload(data)}, follow=True
        )
        assert answer.status_code == 200
    first, second = PriceSheetImport.objects.order_by("pk")
    assert (first.prices_added, second.prices_added, second.prices_unchanged) == (5, 0, 5)
