"""The reconciliation pages: partner staff only (another partner's answers 404), the counts and
the difference rows with their links, explaining and accepting from the page, marking the period
reconciled, the CSV export, and the link from the invoice."""

from __future__ import annotations

import csv
import io

import pytest

from seatkeeper.billing import reconciliation
from seatkeeper.billing.models import ReconciliationState
from seatkeeper.billing.tests.test_reconciliation import (  # noqa: F401 - shared fixtures
    NOV_1,
    NOV_30,
    TENANT,
    account,
    billed,
    vendor_invoice,
    vendor_line,
)
from seatkeeper.conftest import sign_in

pytestmark = pytest.mark.django_db


@pytest.fixture
def compared(account, billed):  # noqa: F811
    invoice = vendor_invoice(account)
    vendor_line(invoice, billed.vendor_subscription_id, unit="4.80")
    vendor_line(invoice, "unknown-sub", quantity="2")
    result = reconciliation.reconcile_period(account=account, period_start=NOV_1, period_end=NOV_30)
    return invoice, result


@pytest.mark.parametrize(
    ("username", "status"),
    [
        ("cloudadmin", 200),
        ("operator", 200),
        ("reselleradmin", 404),
        ("customeradmin", 404),
        ("outsider", 404),  # another partner's cloud admin
    ],
)
def test_only_the_partners_staff_see_a_reconciliation(client, cast, compared, username, status):
    _invoice, result = compared
    sign_in(client, username)

    page = client.get(f"/billing/reconciliations/{result.pk}/")
    row = result.rows.first()
    accept = client.post(f"/billing/reconciliations/{result.pk}/rows/{row.pk}/", {"note": "x"})

    assert page.status_code == status
    assert accept.status_code == (302 if status == 200 else 404)
    row.refresh_from_db()
    assert bool(row.resolution) is (status == 200)


def test_the_page_shows_counts_rows_and_links_then_the_period_is_reconciled(
    client,
    cast,
    billed,  # noqa: F811
    compared,
):
    invoice, result = compared
    sign_in(client, "operator")

    detail = client.get(f"/billing/invoices/{invoice.pk}/").content.decode()
    assert f'href="/billing/reconciliations/{result.pk}/"' in detail

    page = client.get(f"/billing/reconciliations/{result.pk}/").content.decode()
    assert "Amount differs" in page and "Only at the vendor" in page
    assert "The price moved" in page
    assert f'href="/subscriptions/{billed.pk}/"' in page
    assert f"/billing/invoices/{invoice.pk}/customers/{TENANT}/" in page
    assert "£1.50" in page  # 5 × (£4.80 − £4.50)
    only_vendor = client.get(f"/billing/reconciliations/{result.pk}/?outcome=vendor_only")
    assert only_vendor.content.decode().count('data-outcome="vendor_only"') >= 1
    assert 'data-outcome="amount_differs"' not in only_vendor.content.decode().split("<tbody>")[1]

    client.post(f"/billing/reconciliations/{result.pk}/reconciled/")
    result.refresh_from_db()
    assert result.state == ReconciliationState.OPEN  # differences still open

    for row in result.rows.exclude(outcome="matched"):
        client.post(
            f"/billing/reconciliations/{result.pk}/rows/{row.pk}/",
            {"resolution": "explained", "note": "Known"},
        )
    client.post(f"/billing/reconciliations/{result.pk}/reconciled/")
    result.refresh_from_db()
    assert (result.state, result.reconciled_by) == (ReconciliationState.RECONCILED, cast.operator)


def test_the_csv_export_holds_every_difference_as_numbers(client, cast, compared):
    _invoice, result = compared
    sign_in(client, "cloudadmin")

    response = client.get(f"/billing/reconciliations/{result.pk}/?export=csv")

    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig"))))
    header, *body = rows
    assert "Difference" in header and len(body) == 2
    differences = sorted(row[header.index("Difference")] for row in body)
    assert differences == ["1.500000", "9.000000"]


def test_the_invoice_page_starts_a_comparison_in_french(client, cast, account, billed):  # noqa: F811
    invoice = vendor_invoice(account)
    vendor_line(invoice, billed.vendor_subscription_id)
    cast.cloud_admin.language = "fr"
    cast.cloud_admin.save(update_fields=["language"])
    sign_in(client, "cloudadmin")

    response = client.post(f"/billing/invoices/{invoice.pk}/reconcile/")

    result = reconciliation.reconciliation_for_invoice(invoice)
    assert response.status_code == 302 and response["Location"].endswith(f"/{result.pk}/")
    page = client.get(f"/billing/reconciliations/{result.pk}/?outcome=matched").content.decode()
    assert "Rapprochement" in page and "Concordant" in page
