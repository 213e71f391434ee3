"""In a real browser (Debian's Chromium): from the vendor's invoices to one invoice's customers
to one customer's line items, then back."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from seatkeeper.billing import invoices
from seatkeeper.billing.models import ProviderInvoice
from seatkeeper.billing.tests.fakes import FakeInvoicesProvider, invoice, line
from seatkeeper.conftest import PASSWORD, Cast
from seatkeeper.providers.tests.factories import provider_account
from seatkeeper.testing.browser import click_nav

pytestmark = [pytest.mark.browser]

FR = "e04a8cd3-d94d-4551-ac06-68936b4fd910"
GB = "bef05e59-ff05-42a3-921a-4a06a0002e44"


@pytest.fixture
def world(transactional_db) -> ProviderInvoice:
    """An imported invoice with two customers, committed so the live server's thread sees it."""
    cast = Cast()
    account = provider_account(organisation=cast.partner)
    vendor = FakeInvoicesProvider(
        invoices=[invoice("G2026100101", total="72.40", paid="72.40")],
        lines={
            "G2026100101": [
                line("G2026100101", tenant=FR, name="Fabrikam Conseil", total="10.80"),
                line(
                    "G2026100101",
                    tenant=FR,
                    name="Fabrikam Conseil",
                    total="1.60",
                    subscription="teams-addon",
                    charge="addQuantity",
                ),
                line("G2026100101", tenant=GB, name="Northwind Traders", total="60.00", quantity=5),
            ]
        },
    )
    invoices.invoices_import(account=account, provider=vendor)
    target = ProviderInvoice.objects.get()
    invoices.invoice_lines_import(invoice=target, provider=vendor)
    return target


def test_invoice_to_customer_to_lines(page, live_server, world):
    page.goto(f"{live_server.url}/login/")
    page.fill("#id_username", "operator")
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/")

    click_nav(page, "invoices")
    expect(page.locator("h1")).to_contain_text("Vendor invoices")
    row = page.locator("tr", has_text="G2026100101")
    expect(row).to_contain_text("€72.40")
    expect(row).to_contain_text("Paid")
    row.get_by_role("link", name="G2026100101").click()

    expect(page.locator("#invoice-total")).to_have_text("€72.40")
    expect(page.locator("#lines-total")).to_contain_text("equals the invoice total")
    customers = page.locator("#table-region tbody tr")
    expect(customers).to_have_count(2)
    expect(page.locator("tr", has_text="Northwind Traders")).to_contain_text("€60.00")
    page.get_by_role("link", name="Fabrikam Conseil").click()

    expect(page.locator("h1")).to_contain_text("Fabrikam Conseil")
    expect(page.locator("#customer-total")).to_have_text("€12.40")
    lines = page.locator("#table-region tbody tr")
    expect(lines).to_have_count(2)
    expect(lines.nth(1)).to_contain_text("addQuantity")
    page.fill("input[name=q]", "addQuantity")
    expect(page.locator("#table-region tbody tr")).to_have_count(1)

    page.locator(".breadcrumbs").get_by_role("link", name="G2026100101").click()
    expect(page.locator("#invoice-total")).to_have_text("€72.40")
