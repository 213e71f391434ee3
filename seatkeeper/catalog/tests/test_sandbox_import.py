"""End to end: import the catalog of a real Partner Center sandbox over HTTPS, then price it."""

from __future__ import annotations

from decimal import Decimal

import pytest

from seatkeeper.catalog import services
from seatkeeper.catalog.models import ChangeKind, Offer, OfferKind, RefreshStatus, VendorKind
from seatkeeper.conftest import sign_in
from seatkeeper.core import clock
from seatkeeper.pricing.engine import PriceRequest, PricingContext
from seatkeeper.pricing.models import VendorPrice
from seatkeeper.providers.models import ProviderAccount, ProviderKind


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory):
    testing = pytest.importorskip("seatkeeper.sandbox.testing")
    with testing.running_sandbox(tmp_path_factory.mktemp("catalog"), customers=1) as info:
        yield info
        from seatkeeper.providers.microsoft.auth import forget_token_sources

        forget_token_sources()


def sandbox_vendor(cast, sandbox):
    """The partner's Microsoft vendor, connected to `sandbox`."""
    account = ProviderAccount(
        organisation=cast.partner, kind=ProviderKind.MICROSOFT, name="Sandbox",
        partner_tenant_id=sandbox.partner_tenant_id, application_id=sandbox.client_id,
        authority_url=sandbox.authority_url, api_base_url=sandbox.base_url,
        ca_bundle_path=str(sandbox.ca_cert),
    )  # fmt: skip
    account.set_application_secret(sandbox.client_secret)
    account.set_refresh_token(sandbox.admin.mint_refresh_token())
    account.save()
    return services.vendor_create(
        actor=cast.cloud_admin, partner=cast.partner, name="Microsoft", kind=VendorKind.API,
        provider_account=account, country="GB",
    )  # fmt: skip


def test_a_cloud_admin_imports_the_sandbox_catalog_and_prices_it(cast, sandbox):
    # given the partner's provider account pointing at the sandbox
    vendor = sandbox_vendor(cast, sandbox)
    # when
    refresh = services.catalog_refresh(vendor=vendor, actor=cast.cloud_admin)
    # then
    assert refresh.status == RefreshStatus.COMPLETED
    assert refresh.new_count >= 10
    offers = Offer.objects.filter(vendor=vendor)
    assert offers.filter(kind=OfferKind.ADDON, base_offers__isnull=False).exists()
    basic = offers.get(external_id="CFQ7TTC0LH18:0001")
    annual = VendorPrice.objects.get(offer=basic, term="P1Y", billing_cycle="annual")
    monthly_term = VendorPrice.objects.get(offer=basic, term="P1M", billing_cycle="monthly")
    assert annual.currency == "GBP" and annual.list_price > annual.cost
    # the monthly-term premium comes from the vendor's own prices
    assert monthly_term.list_price * 12 > annual.list_price
    priced = PricingContext.load(partner=cast.partner).price(
        PriceRequest(offer_id=basic.pk, customer_id=cast.customer.pk, term="P1Y",
                     billing_cycle="annual", on=clock.today())
    )  # fmt: skip
    assert priced.customer_price.unit_price == annual.list_price.quantize(Decimal("0.0001"))
    # a second import changes nothing
    again = services.catalog_refresh(vendor=vendor, actor=cast.cloud_admin)
    assert (again.new_count, again.changed_count, again.price_changed_count) == (0, 0, 0)
    assert again.unchanged_count == refresh.new_count


@pytest.fixture(scope="module")
def unpriced_sandbox(tmp_path_factory):
    """A sandbox whose catalog has no prices, as Partner Center's own."""
    testing = pytest.importorskip("seatkeeper.sandbox.testing")
    with testing.running_sandbox(
        tmp_path_factory.mktemp("unpriced"), customers=1, dialect="no_catalog_prices,bom"
    ) as info:
        yield info
        from seatkeeper.providers.microsoft.auth import forget_token_sources

        forget_token_sources()


def test_an_import_without_prices_says_so_on_the_import_page(cast, client, unpriced_sandbox):
    # given
    vendor = sandbox_vendor(cast, unpriced_sandbox)
    # when
    refresh = services.catalog_refresh(vendor=vendor, actor=cast.cloud_admin)
    # then: every offer is imported, none priced, each one said so
    assert refresh.status == RefreshStatus.COMPLETED
    assert refresh.new_count >= 10
    assert not VendorPrice.objects.filter(offer__vendor=vendor).exists()
    for_sale = Offer.objects.filter(vendor=vendor, status="active").count()
    assert refresh.no_price_count == for_sale > 0
    assert refresh.changes.filter(kind=ChangeKind.NO_PRICE).count() == for_sale
    page = sign_in(client, "cloudadmin").get(f"/catalog/refreshes/{refresh.pk}/")
    assert page.status_code == 200
    assert f"{for_sale} offers came without a price" in page.content.decode()
    assert 'href="/pricing/price-sheets/"' in page.content.decode()
