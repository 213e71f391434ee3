"""The list of reconciled periods (page and CSV) and the reconciliation REST API: list, detail,
rows, seats billed against assigned, and marking reconciled; scoped per role (another partner's
period answers 404, resellers and customers are refused) with its 400/403/404/409 answers."""

from __future__ import annotations

import csv
import io

import pytest

from seatkeeper.accounts import services as account_services
from seatkeeper.accounts.models import Role
from seatkeeper.billing import reconciliation
from seatkeeper.billing.models import ReconciliationState
from seatkeeper.billing.tests.test_reconciliation import (  # noqa: F401 - shared fixtures
    account,
    billed,
    run,
    vendor_invoice,
    vendor_line,
)
from seatkeeper.billing.tests.test_reconciliation_seats import give_licences
from seatkeeper.conftest import PASSWORD, sign_in

pytestmark = pytest.mark.django_db


@pytest.fixture
def compared(account, billed):  # noqa: F811
    invoice = vendor_invoice(account)
    vendor_line(invoice, billed.vendor_subscription_id, unit="4.80")  # +£1.50
    vendor_line(invoice, "unknown-sub", quantity="2")  # +£9.00, only at the vendor
    give_licences(billed, 2)
    return run(account)


def test_the_list_page_shows_each_period_with_its_counts_and_total(client, compared):
    sign_in(client, "operator")

    page = client.get("/billing/reconciliations/").content.decode()

    assert f'href="/billing/reconciliations/{compared.pk}/"' in page
    row = page.split(f'data-reconciliation="{compared.pk}"')[1].split("</tr>")[0]
    assert '<td data-outcome="amount_differs">1</td>' in row
    assert '<td data-outcome="vendor_only">1</td>' in row
    assert "GBP" in row
    assert "£10.50" in row  # the differences' sum: £1.50 + £9.00
    assert "£14.40" in row  # 3 unused seats at the vendor's £4.80
    assert "Open: 2 differences to see" in row
    reconciled_only = client.get("/billing/reconciliations/?state=reconciled").content.decode()
    assert f'data-reconciliation="{compared.pk}"' not in reconciled_only


def test_the_list_exports_to_csv(client, compared):
    sign_in(client, "cloudadmin")

    response = client.get("/billing/reconciliations/?export=csv")

    text = b"".join(response.streaming_content).decode("utf-8-sig")
    (row,) = csv.DictReader(io.StringIO(text))
    assert row["Period start"] == "2026-11-01" and row["Currency"] == "GBP"
    assert (row["Amount differs"], row["Only at the vendor"], row["Matched"]) == ("1", "1", "0")
    assert row["Total difference"] == "10.500000 GBP"
    assert row["State"] == "Open" and row["Reconciled by"] == ""


@pytest.mark.parametrize("username", ["reselleradmin", "customeradmin"])
def test_only_the_partners_staff_see_the_list(client, compared, username):
    sign_in(client, username)

    assert client.get("/billing/reconciliations/").status_code == 404
    assert client.get("/api/v1/billing/reconciliations/").status_code == 403


def test_the_detail_page_shows_seats_next_to_their_cost_and_exports_them(
    client,
    compared,
    billed,  # noqa: F811
):
    sign_in(client, "operator")

    page = client.get(f"/billing/reconciliations/{compared.pk}/").content.decode()
    seats = page.split('id="seat-rows"')[1].split("</table>")[0]
    assert f'data-seat="{billed.pk}"' in seats
    assert "£14.40" in seats
    assert "3 unused seats in 1 subscription, costing £14.40" in page

    response = client.get(f"/billing/reconciliations/{compared.pk}/?export=seats")
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    (row,) = csv.DictReader(io.StringIO(text))
    assert (row["Seats billed"], row["Seats assigned"], row["Unused seats"]) == (
        "5.000000",
        "2",
        "3.000000",
    )
    assert row["Cost of the unused seats"] == "14.400000"
    assert row["Billed according to"] == "The vendor's invoice"


def test_the_api_lists_and_details_a_period_with_its_rows_and_seats(client, compared, billed):  # noqa: F811
    sign_in(client, "operator")

    listed = client.get("/api/v1/billing/reconciliations/").json()
    detail = client.get(f"/api/v1/billing/reconciliations/{compared.pk}/").json()
    rows = client.get(f"/api/v1/billing/reconciliations/{compared.pk}/rows/?outcome=open").json()
    seats = client.get(f"/api/v1/billing/reconciliations/{compared.pk}/seats/").json()

    (item,) = listed["results"]
    assert item["id"] == compared.pk and item["state"] == "open"
    assert item["currencies"] == ["GBP"]
    assert item["counts"] == {
        "matched": 0,
        "amount_differs": 1,
        "quantity_differs": 0,
        "vendor_only": 1,
        "ours_only": 0,
    }
    assert item["total_difference"] == [{"currency": "GBP", "amount": "10.500000"}]
    assert item["reconciled_by"] == "" and item["reconciled_at"] is None
    assert detail["seats_compared"] == 1
    assert detail["seat_totals"][0]["unused_cost"] == "14.400000"
    assert rows["count"] == 2
    assert {row["outcome"] for row in rows["results"]} == {"amount_differs", "vendor_only"}
    (seat,) = seats["results"]
    assert (seat["subscription"], seat["assigned_seats"], seat["unused_seats"]) == (
        billed.pk,
        2,
        "3.000000",
    )


def test_the_api_refuses_bad_filters_with_400(client, compared):
    sign_in(client, "operator")

    bad_state = client.get("/api/v1/billing/reconciliations/?state=closed")
    bad_outcome = client.get(f"/api/v1/billing/reconciliations/{compared.pk}/rows/?outcome=x")

    assert bad_state.status_code == 400 and "state" in bad_state.json()["fields"]
    assert bad_outcome.status_code == 400 and "outcome" in bad_outcome.json()["fields"]


@pytest.mark.parametrize("username", ["outsider", "reselleradmin"])
def test_another_partners_period_answers_404(client, compared, username):
    sign_in(client, username)

    for path in ("", "rows/", "seats/"):
        assert (
            client.get(f"/api/v1/billing/reconciliations/{compared.pk}/{path}").status_code == 404
        )
    mark = client.post(f"/api/v1/billing/reconciliations/{compared.pk}/reconciled/")

    assert mark.status_code == 404
    compared.refresh_from_db()
    assert compared.state == ReconciliationState.OPEN


def test_marking_through_the_api_needs_every_difference_resolved(client, cast, compared):
    read_only = account_services.user_create(
        actor=None,
        organisation=cast.partner,
        username="partnerreader",
        email="reader@test.example",
        password=PASSWORD,
        role=Role.READ_ONLY,
        first_name="Reader",
        last_name="Test",
    )
    client.force_login(read_only)
    assert client.get(f"/api/v1/billing/reconciliations/{compared.pk}/").status_code == 200
    refused = client.post(f"/api/v1/billing/reconciliations/{compared.pk}/reconciled/")
    assert refused.status_code == 403

    sign_in(client, "operator")
    early = client.post(f"/api/v1/billing/reconciliations/{compared.pk}/reconciled/")
    assert early.status_code == 409 and early.json()["code"] == "unresolved"

    for row in compared.rows.all():
        reconciliation.row_accept(actor=cast.operator, row=row, note="Known")
    done = client.post(f"/api/v1/billing/reconciliations/{compared.pk}/reconciled/")
    again = client.post(f"/api/v1/billing/reconciliations/{compared.pk}/reconciled/")

    assert done.status_code == 200
    assert done.json()["state"] == "reconciled" and done.json()["reconciled_by"] == "operator"
    assert done.json()["reconciled_at"] is not None
    assert again.status_code == 409 and again.json()["code"] == "reconciled"
    listed = client.get("/api/v1/billing/reconciliations/?state=reconciled").json()
    assert [item["id"] for item in listed["results"]] == [compared.pk]
    page = client.get("/billing/reconciliations/").content.decode()
    assert "by operator" in page


def test_the_schema_documents_every_reconciliation_endpoint_and_its_errors(client, cast):
    sign_in(client, "cloudadmin")

    schema = client.get("/api/v1/schema/?format=json").json()

    paths = schema["paths"]
    listing = paths["/api/v1/billing/reconciliations/"]["get"]["responses"]
    mark = paths["/api/v1/billing/reconciliations/{id}/reconciled/"]["post"]["responses"]
    detail = paths["/api/v1/billing/reconciliations/{id}/"]["get"]["responses"]
    assert {"200", "400", "403"} <= set(listing)
    assert {"200", "400", "403", "404", "409"} <= set(mark)
    assert {"200", "403", "404"} <= set(detail)
    assert "/api/v1/billing/reconciliations/{id}/seats/" in paths
