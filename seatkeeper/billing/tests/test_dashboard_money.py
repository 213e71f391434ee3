"""The home page's money tiles: last month's billed amount at the viewer's own audience, the last
vendor invoice and the unreconciled differences (partner staff only), each linking to its page,
each scoped to the viewer."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from seatkeeper.billing import reconciliation
from seatkeeper.billing.models import ProviderInvoice
from seatkeeper.billing.tests.test_reconciliation import (  # noqa: F401 - shared fixtures
    NOV_1,
    NOV_30,
    account,
    billed,
    vendor_invoice,
    vendor_line,
)
from seatkeeper.conftest import sign_in
from seatkeeper.core import clock

pytestmark = pytest.mark.django_db

IN_DECEMBER = dt.datetime(2026, 12, 10, 9, tzinfo=dt.UTC)  # "last month" is November


@pytest.fixture
def money(account, billed):  # noqa: F811
    invoice = vendor_invoice(account)
    ProviderInvoice.objects.filter(pk=invoice.pk).update(total=Decimal("24.00"))
    vendor_line(invoice, billed.vendor_subscription_id, unit="4.80")
    vendor_line(invoice, "unknown-sub", quantity="2")
    result = reconciliation.reconcile_period(account=account, period_start=NOV_1, period_end=NOV_30)
    return invoice, result


def home(client, username) -> str:
    sign_in(client, username)
    with clock.frozen(IN_DECEMBER):
        response = client.get("/")
    assert response.status_code == 200
    return response.content.decode()


def tile(page: str, name: str) -> str:
    start = page.index(f'id="{name}"')
    return page[start : page.index("</div></div>", start)]


def test_partner_staff_see_the_sale_the_last_invoice_and_open_differences(client, money):
    invoice, result = money

    page = home(client, "operator")

    billed_tile = tile(page, "dash-billed")
    # the sale to the reseller (its price), and the partner's cost
    assert "£22.50" in billed_tile and 'href="/billing/report/"' in billed_tile
    assert "£25.00" not in billed_tile  # the customer price is the reseller's sale, not ours
    last = tile(page, "dash-last-invoice")
    assert "£24.00" in last and f'href="/billing/invoices/{invoice.pk}/"' in last
    differences = tile(page, "dash-differences")
    assert ">2<" in differences  # the moved price and the subscription unknown here
    assert "£10.50" in differences  # |£1.50| + |£9.00|
    assert f'href="/billing/reconciliations/{result.pk}/?outcome=open"' in differences


def test_an_explained_difference_leaves_the_tile(client, cast, money):
    _invoice, result = money
    row = result.rows.get(outcome="vendor_only")
    reconciliation.row_accept(actor=cast.cloud_admin, row=row)

    differences = tile(home(client, "cloudadmin"), "dash-differences")

    assert ">1<" in differences and "£1.50" in differences


def test_a_reseller_sees_its_customers_price_and_its_cost_but_no_vendor_figures(client, money):
    page = home(client, "reselleradmin")

    billed_tile = tile(page, "dash-billed")
    assert "£25.00" in billed_tile and "£22.50" in billed_tile
    assert 'id="dash-last-invoice"' not in page and 'id="dash-differences"' not in page


def test_customers_see_no_money_tiles_and_another_partner_sees_none_of_ours(client, money):
    assert 'id="dash-money"' not in home(client, "customeradmin")

    outsider = home(client, "outsider")
    assert "£" not in tile(outsider, "dash-billed")
    assert "£24.00" not in outsider and ">0<" in tile(outsider, "dash-differences")
