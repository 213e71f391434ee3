"""Importing a vendor's catalog from a provider, and a manual vendor's offers from a file."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from seatkeeper.activity.models import ActivityRecord
from seatkeeper.catalog import services
from seatkeeper.catalog.models import (
    CatalogChange,
    ChangeKind,
    Offer,
    OfferKind,
    OfferStatus,
    RefreshStatus,
)
from seatkeeper.catalog.tests.fakes import FakeCatalogProvider, offer, without_prices
from seatkeeper.core.errors import PermissionRefused
from seatkeeper.pricing.models import VendorPrice
from seatkeeper.pricing.tests.world import BASIC, E3, TEAMS_PHONE, UC_CSV


def test_the_first_import_creates_offers_terms_prices_and_add_on_links(world):
    assert Offer.objects.filter(vendor=world.vendor).count() == 3
    assert world.teams.kind == OfferKind.ADDON
    assert set(world.teams.base_offers.values_list("external_id", flat=True)) == {BASIC, E3}
    assert sorted(world.basic.terms.values_list("term", "billing_cycle")) == [
        ("P1M", "monthly"), ("P1Y", "annual"), ("P1Y", "monthly"),
    ]  # fmt: skip
    price = VendorPrice.objects.get(offer=world.basic, term="P1Y", billing_cycle="annual")
    assert (price.cost, price.list_price, price.currency) == (
        Decimal("54.000000"), Decimal("60.000000"), "GBP",
    )  # fmt: skip
    refresh = world.vendor.refreshes.get()
    assert (refresh.status, refresh.new_count) == (RefreshStatus.COMPLETED, 3)


def test_a_second_import_records_price_changes_withdrawals_and_keeps_history(cast, world):
    # given the vendor raises E3 and stops selling Teams Phone
    world.provider.offers = [
        world.provider.offers[0],
        offer(E3.split(":")[0], "Microsoft 365 E3", annual="410.40", monthly_annual_term="34.20",
              monthly_term="41.04"),
    ]  # fmt: skip
    # when
    refresh = services.catalog_refresh(
        vendor=world.vendor, actor=cast.cloud_admin, provider=world.provider
    )
    # then
    kinds = dict(
        CatalogChange.objects.filter(refresh=refresh).values_list("offer__external_id", "kind")
    )
    assert kinds == {E3: ChangeKind.PRICE_CHANGED, TEAMS_PHONE: ChangeKind.WITHDRAWN}
    assert (refresh.price_changed_count, refresh.withdrawn_count, refresh.unchanged_count) == (
        1,
        1,
        1,
    )
    world.teams.refresh_from_db()
    assert world.teams.status == OfferStatus.WITHDRAWN and not world.teams.is_purchasable
    costs = VendorPrice.objects.filter(offer=world.e3, term="P1Y", billing_cycle="annual")
    assert sorted(costs.values_list("cost", flat=True)) == [Decimal("388.8"), Decimal("410.4")]
    assert (
        ActivityRecord.objects.filter(operation="catalog.refresh", actor=cast.cloud_admin).count()
        == 1
    )


def test_an_offer_that_comes_back_is_reinstated(cast, world):
    world.provider.offers = world.provider.offers[:2]
    services.catalog_refresh(vendor=world.vendor, provider=world.provider)
    world.provider.offers.append(offer(TEAMS_PHONE.split(":")[0], "Teams Phone Standard",
                                       annual="86.40", monthly_annual_term="7.20",
                                       monthly_term="8.64", addon_of=(BASIC, E3)))  # fmt: skip
    refresh = services.catalog_refresh(vendor=world.vendor, provider=world.provider)
    assert list(refresh.changes.values_list("kind", flat=True)) == [ChangeKind.REINSTATED]


def test_an_import_that_finds_no_price_says_so_per_offer(cast, world):
    # given a vendor whose catalog carries no prices: two offers already priced, one new
    new = offer("CFQ7TTC0NEW1", "Microsoft 365 Copilot")
    world.provider.offers = [without_prices(o) for o in [*world.provider.offers, new]]
    prices_before = VendorPrice.objects.count()
    # when
    refresh = services.catalog_refresh(
        vendor=world.vendor, actor=cast.cloud_admin, provider=world.provider
    )
    # then: only the new offer, which has no cost from before, is reported, term by term
    notices = refresh.changes.filter(kind=ChangeKind.NO_PRICE)
    assert [(n.offer.external_id, n.details) for n in notices] == [
        ("CFQ7TTC0NEW1:0001", {"terms": [
            {"term": "P1M", "billing_cycle": "monthly"},
            {"term": "P1Y", "billing_cycle": "monthly"},
            {"term": "P1Y", "billing_cycle": "annual"},
        ]}),
    ]  # fmt: skip
    assert refresh.no_price_count == 1
    assert (refresh.new_count, refresh.unchanged_count) == (1, 3)
    assert VendorPrice.objects.count() == prices_before
    record = ActivityRecord.objects.get(operation="catalog.refresh", actor=cast.cloud_admin)
    assert record.details["no_price"] == 1


def test_every_import_repeats_the_notice_until_a_price_is_known(cast):
    # given a first catalog without prices
    from seatkeeper.pricing.tests.world import build_world

    world = build_world(cast)
    copilot = offer("CFQ7TTC0NEW1", "Microsoft 365 Copilot")
    world.provider.offers = [*world.provider.offers, without_prices(copilot)]
    first = services.catalog_refresh(vendor=world.vendor, provider=world.provider)
    # when the vendor still sends none, then sends one
    again = services.catalog_refresh(vendor=world.vendor, provider=world.provider)
    world.provider.offers[-1] = copilot
    priced = services.catalog_refresh(vendor=world.vendor, provider=world.provider)
    # then
    assert (first.no_price_count, again.no_price_count, priced.no_price_count) == (1, 1, 0)
    assert not priced.changes.filter(kind=ChangeKind.NO_PRICE).exists()


def test_a_withdrawn_offer_without_price_is_not_reported(cast, world):
    gone = offer("CFQ7TTC0OLD1", "Retired plan", purchasable=False)
    provider = FakeCatalogProvider(offers=[*world.provider.offers, without_prices(gone)])

    refresh = services.catalog_refresh(vendor=world.vendor, provider=provider)

    assert refresh.no_price_count == 0
    assert not refresh.changes.filter(kind=ChangeKind.NO_PRICE).exists()


def test_a_failed_import_is_recorded_and_changes_nothing(cast, world):
    class Broken:
        def catalog(self, **_):
            yield world.provider.offers[0]
            raise RuntimeError("vendor unavailable")

    with pytest.raises(RuntimeError):
        services.catalog_refresh(vendor=world.vendor, provider=Broken())
    refresh = world.vendor.refreshes.first()
    assert (refresh.status, refresh.error) == (RefreshStatus.FAILED, "vendor unavailable")
    assert Offer.objects.filter(vendor=world.vendor, status=OfferStatus.ACTIVE).count() == 3


@pytest.mark.parametrize("username", ["operator", "reselleradmin", "readonly", "outsider"])
def test_only_the_partners_cloud_admin_refreshes_the_catalog(cast, world, username):
    from seatkeeper.accounts.models import User

    before = world.vendor.refreshes.count()
    with pytest.raises(PermissionRefused):
        services.catalog_refresh(
            vendor=world.vendor, actor=User.objects.get(username=username), provider=world.provider
        )
    assert world.vendor.refreshes.count() == before


def test_a_manual_vendors_plans_come_from_a_file(world):
    offers = {o.item_code: o for o in Offer.objects.filter(vendor=world.uc)}
    assert set(offers) == {"UC-ESS", "UC-BUS", "UC-ENT", "UC-ATT", "UC-REC"}
    assert offers["UC-ATT"].kind == OfferKind.APPLICATION
    assert set(offers["UC-REC"].base_offers.values_list("item_code", flat=True)) == {
        "UC-BUS",
        "UC-ENT",
    }
    assert sorted(offers["UC-BUS"].terms.values_list("term", "billing_cycle")) == [
        ("P1M", "monthly"), ("P1Y", "prepaid"),
    ]  # fmt: skip


def test_a_file_with_errors_is_reported_per_line_and_writes_nothing(cast, world):
    text = UC_CSV + "UC-X,,service,Rainbow,Plans,,P2Y,weekly,GBP,abc,,UC-NOPE\n"
    preview = services.offers_csv_preview(vendor=world.uc, text=text)
    bad = [line for line in preview.lines if line.errors]
    assert [line.number for line in bad] == [8]
    assert len(bad[0].errors) == 5  # title, term, billing cycle, cost, attaches_to
    before = Offer.objects.count()
    with pytest.raises(ValidationError):
        services.offers_csv_import(actor=cast.cloud_admin, vendor=world.uc, text=text)
    assert Offer.objects.count() == before


def test_a_file_with_control_characters_in_a_name_is_refused_per_line(cast, world):
    text = UC_CSV + "UC-NEW,New\u2028plan,service,Rain\tbow,Plans,,P1M,monthly,GBP,1.00,2.00,\n"
    preview = services.offers_csv_preview(vendor=world.uc, text=text)
    bad = [line for line in preview.lines if line.errors]
    assert [(line.number, line.errors) for line in bad] == [
        (8, ["title holds control characters.", "category holds control characters."])
    ]
    with pytest.raises(ValidationError):
        services.offers_csv_import(actor=cast.cloud_admin, vendor=world.uc, text=text)
    assert not Offer.objects.filter(item_code="UC-NEW").exists()


def test_a_manual_offer_defined_by_hand_gains_terms_and_prices(cast, world):
    # given
    values = dict(
        vendor=world.uc, item_code="UC-ROOM", title="Meeting room", kind=OfferKind.CUSTOM,
        category="Rainbow", product_group="Custom items", cost=Decimal(0), list_price=Decimal(0),
    )  # fmt: skip
    # when
    offer = services.manual_offer_save(
        actor=cast.cloud_admin, term="P1M", billing_cycle="monthly", **values
    )
    services.manual_offer_save(
        actor=cast.cloud_admin, term="P5Y", billing_cycle="prepaid", **values
    )
    # then
    assert sorted(offer.terms.values_list("term", flat=True)) == ["P1M", "P5Y"]
    assert VendorPrice.objects.filter(offer=offer).count() == 2
    with pytest.raises(PermissionRefused):
        services.manual_offer_save(
            actor=cast.reseller_admin, term="P1Y", billing_cycle="prepaid", **values
        )
    with pytest.raises(ValidationError):
        services.manual_offer_save(
            actor=cast.cloud_admin, term="P9Y", billing_cycle="prepaid", **values
        )


def test_the_periodic_job_refreshes_every_connected_vendor(
    cast, world, monkeypatch, django_capture_on_commit_callbacks
):
    from seatkeeper.catalog import tasks
    from seatkeeper.core.scheduling import PERIODIC

    monkeypatch.setattr(
        "seatkeeper.providers.registry.get_provider", lambda account: world.provider
    )
    assert PERIODIC["catalog.refresh"].task is tasks.refresh_all_catalogs
    before = world.vendor.refreshes.count()
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        tasks.refresh_all_catalogs.call()
    assert len(callbacks) == 1  # one task per connected vendor; the manual one is skipped
    assert world.vendor.refreshes.count() == before + 1
    assert world.uc.refreshes.count() == 1


def test_an_import_page_refreshes_itself_while_the_import_runs(client, cast, world):
    from seatkeeper.catalog.models import CatalogRefresh, RefreshStatus
    from seatkeeper.conftest import sign_in

    running = CatalogRefresh.objects.create(
        vendor=world.vendor, status=RefreshStatus.RUNNING, started_by="schedule"
    )
    sign_in(client, "cloudadmin")
    url = f"/catalog/refreshes/{running.pk}/"
    assert 'data-live="polling"' in client.get(url).content.decode()
    CatalogRefresh.objects.filter(pk=running.pk).update(status=RefreshStatus.COMPLETED)
    settled = client.get(url).content.decode()
    assert 'id="refresh-live"' in settled and 'data-live="polling"' not in settled
