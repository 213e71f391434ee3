"""The invoice pages: who sees them, the invoice → customers → lines walk, exports, the PDF,
and the buttons that import."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

import pytest
from openpyxl import load_workbook

from seatkeeper.accounts import services as account_services
from seatkeeper.accounts.models import Role
from seatkeeper.activity.models import ActivityRecord
from seatkeeper.billing import invoices
from seatkeeper.billing.models import LinesState, ProviderInvoice
from seatkeeper.billing.tests.fakes import FakeInvoicesProvider, invoice, line
from seatkeeper.conftest import PASSWORD, sign_in
from seatkeeper.providers.tests.factories import provider_account

pytestmark = pytest.mark.django_db

FR = "e04a8cd3-d94d-4551-ac06-68936b4fd910"


@pytest.fixture
def imported(cast):
    account = provider_account(organisation=cast.partner)
    vendor = FakeInvoicesProvider(
        invoices=[invoice("G1", total="60.30", paid="10.00")],
        lines={
            "G1": [
                line("G1", tenant=FR, name="Fabrikam", total="10.30"),
                line("G1", tenant="t-2", name="=cmd|' /C calc'!A0", total="50.00"),
            ]
        },
    )
    invoices.invoices_import(account=account, provider=vendor)
    g1 = ProviderInvoice.objects.get()
    invoices.invoice_lines_import(invoice=g1, provider=vendor)
    g1.refresh_from_db()
    return g1


def _partner_read_only(cast):
    return account_services.user_create(
        actor=None,
        organisation=cast.partner,
        username="partnerreader",
        email="partnerreader@test.example",
        password=PASSWORD,
        role=Role.READ_ONLY,
        first_name="Pat",
        last_name="Reader",
    )


@pytest.mark.parametrize(
    ("username", "status"),
    [
        ("cloudadmin", 200),
        ("operator", 200),
        ("partnerreader", 200),
        ("reselleradmin", 404),
        ("customeradmin", 404),
        ("readonly", 404),  # a reseller's read-only login
        ("outsider", 200),  # another partner's admin: sees its own (empty) list only
    ],
)
def test_only_the_partners_people_see_its_invoices(client, cast, imported, username, status):
    _partner_read_only(cast)
    sign_in(client, username)

    listing = client.get("/billing/invoices/")
    detail = client.get(f"/billing/invoices/{imported.pk}/")
    lines = client.get(f"/billing/invoices/{imported.pk}/customers/{FR}/")
    statement = client.get(f"/billing/invoices/{imported.pk}/statement/")

    assert listing.status_code == status
    own = username in ("cloudadmin", "operator", "partnerreader")
    assert [detail.status_code, lines.status_code, statement.status_code] == (
        [200, 200, 200] if own else [404, 404, 404]
    )
    if status == 200:
        assert (b"G1" in listing.content) is own
    assert (b'data-nav="invoices"' in client.get("/").content) is (status == 200)


def test_the_walk_shows_the_invoice_its_customers_and_one_customers_lines(client, cast, imported):
    sign_in(client, "operator")

    listing = client.get("/billing/invoices/").content.decode()
    detail = client.get(f"/billing/invoices/{imported.pk}/").content.decode()
    lines = client.get(f"/billing/invoices/{imported.pk}/customers/{FR}/").content.decode()

    assert "€60.30" in listing and "Partly paid" in listing
    assert f'href="/billing/invoices/{imported.pk}/"' in listing
    assert f'href="/billing/invoices/{imported.pk}/customers/{FR}/"' in detail
    assert "Fabrikam" in detail and "€10.30" in detail and "equals the invoice total" in detail
    assert "Import the line items again" not in detail  # operators read; cloud admins import
    assert lines.count("Microsoft 365 Business Basic") >= 1 and "€10.30" in lines


def test_exports_hold_every_row_with_numbers_and_no_formula(client, cast, imported):
    sign_in(client, "cloudadmin")

    invoices_csv = b"".join(client.get("/billing/invoices/?export=csv").streaming_content).decode()
    customers_csv = b"".join(
        client.get(f"/billing/invoices/{imported.pk}/?export=csv").streaming_content
    ).decode()
    workbook = load_workbook(
        io.BytesIO(
            b"".join(
                client.get(
                    f"/billing/invoices/{imported.pk}/customers/t-2/?export=xlsx"
                ).streaming_content
            )
        )
    )

    invoice_rows = list(csv.reader(io.StringIO(invoices_csv.lstrip("\ufeff"))))
    assert invoice_rows[1][0] == "G1" and Decimal(invoice_rows[1][6]) == Decimal("60.30")
    customer_rows = list(csv.reader(io.StringIO(customers_csv.lstrip("\ufeff"))))
    assert sorted(row[0] for row in customer_rows[1:]) == ["'=cmd|' /C calc'!A0", "Fabrikam"]
    assert sum(Decimal(row[6]) for row in customer_rows[1:]) == Decimal("60.30")
    sheet = list(workbook.active.iter_rows(values_only=True))
    assert len(sheet) == 2 and sheet[1][0] == "'=cmd|' /C calc'!A0"


def test_the_statement_is_served_as_a_pdf_to_partner_staff(client, cast, imported):
    sign_in(client, "operator")

    response = client.get(f"/billing/invoices/{imported.pk}/statement/")

    assert response["Content-Type"] == "application/pdf"
    assert response.content.startswith(b"%PDF-") and b"G1" in response.content


def test_an_operator_cannot_start_an_import_or_a_reimport(
    client, cast, imported, django_capture_on_commit_callbacks
):
    sign_in(client, "operator")
    records = ActivityRecord.objects.count()

    with django_capture_on_commit_callbacks() as callbacks:
        client.post("/billing/invoices/import/")
        client.post(f"/billing/invoices/{imported.pk}/reimport/")

    imported.refresh_from_db()
    assert callbacks == [] and ActivityRecord.objects.count() == records
    assert imported.lines_state == LinesState.IMPORTED


def test_a_cloud_admin_asks_for_an_import_and_a_reimport(
    client, cast, imported, django_capture_on_commit_callbacks
):
    sign_in(client, "cloudadmin")

    with django_capture_on_commit_callbacks() as callbacks:
        asked = client.post("/billing/invoices/import/", follow=True)
        again = client.post(f"/billing/invoices/{imported.pk}/reimport/", follow=True)

    imported.refresh_from_db()
    assert len(callbacks) == 2
    assert b"Import asked for: 1 provider account" in asked.content
    assert b"being imported again" in again.content
    assert imported.lines_state == LinesState.PENDING
    assert ActivityRecord.objects.filter(operation="vendor_invoices.import_requested").exists()


def test_unknown_ids_and_pages_answer_404(client, cast, imported):
    sign_in(client, "cloudadmin")

    assert client.get("/billing/invoices/999999/").status_code == 404
    assert client.get(f"/billing/invoices/{imported.pk}/customers/not-a-tenant/").status_code == 404
    assert client.get("/billing/invoices/?sort=;drop&page=abc&size=7").status_code == 200


def test_the_imports_read_as_sentences_in_the_partners_activity_log_only(client, cast, imported):
    sign_in(client, "cloudadmin")
    partner_log = client.get("/activity/").content.decode()
    sign_in(client, "reselleradmin")
    reseller_log = client.get("/activity/").content.decode()

    assert "Vendor invoice imported" in partner_log and "G1" in partner_log
    assert "Vendor invoice" not in reseller_log
