"""Add-ons: chosen, then reviewed with their price (nothing written), then confirmed; and, where
the vendor says so (Offer.seats_within_base), never more seats than their base subscription's."""

from __future__ import annotations

import pytest

from seatkeeper.catalog import services as catalog_services
from seatkeeper.catalog.models import Offer
from seatkeeper.conftest import sign_in
from seatkeeper.core import clock
from seatkeeper.core.errors import ServiceError
from seatkeeper.subscriptions import services
from seatkeeper.subscriptions.models import Operation, Order, Subscription
from seatkeeper.subscriptions.tests.helpers import START, order
from seatkeeper.subscriptions.tests.test_api import api_as


@pytest.fixture
def frozen():
    with clock.frozen(START) as frozen:
        yield frozen


def _counts() -> tuple[int, int, int]:
    return Order.objects.count(), Subscription.objects.count(), Operation.objects.count()


def _choice(shop, quantity: int, **extra) -> dict:
    return {
        "offer": shop.world.teams.pk,
        "term_cycle": "P1Y|monthly",
        "quantity": quantity,
        "friendly_name": "Phones",
        **extra,
    }


def _capped(shop) -> None:
    Offer.objects.filter(pk=shop.world.teams.pk).update(seats_within_base=True)
    shop.world.teams.refresh_from_db()


def test_an_addon_is_reviewed_with_its_price_before_it_is_ordered(cast, shop, client, frozen):
    base = order(cast, shop, name="Office seats", quantity=5)
    url = f"/subscriptions/{base.pk}/addons/"
    sign_in(client, "reselleradmin")
    before = _counts()
    review = client.post(url, _choice(shop, 2))
    body = review.content.decode()
    assert review.status_code == 200 and 'id="addon-review"' in body
    assert 'id="addon-price"' in body and "Teams Phone Standard" in body
    assert 'name="confirm" value="yes"' in body and "Office seats" in body
    assert _counts() == before  # the review writes nothing
    changed = client.post(url, {**_choice(shop, 2), "edit": "1"})
    assert 'id="addon-form"' in changed.content.decode() and _counts() == before
    confirmed = client.post(url, {**_choice(shop, 2), "confirm": "yes"})
    assert confirmed.status_code == 302
    addon = Subscription.objects.get(parent=base)
    assert (addon.quantity, addon.friendly_name) == (2, "Phones")


def test_a_capped_addon_cannot_outnumber_its_base_on_review_or_confirm(cast, shop, client, frozen):
    base = order(cast, shop, name="Office seats", quantity=5)
    _capped(shop)
    url = f"/subscriptions/{base.pk}/addons/"
    sign_in(client, "reselleradmin")
    before = _counts()
    for extra in ({}, {"confirm": "yes"}):
        response = client.post(url, _choice(shop, 6, **extra))
        body = response.content.decode()
        assert response.status_code == 200 and 'id="addon-review"' not in body
        assert "Office seats" in body and "5 seats" in body, body
    assert _counts() == before
    review = client.post(url, _choice(shop, 5)).content.decode()  # the base's seats: reviewed
    assert 'id="addon-review"' in review
    page = client.get(url).content.decode()
    assert "data-seat-cap>At most 5 seats" in page


def test_the_cap_counts_the_seats_the_addon_already_has_on_the_base(cast, shop, frozen):
    base = order(cast, shop, name="Office seats", quantity=5)
    _capped(shop)
    first = order(cast, shop, offer=shop.world.teams, parent=base, name="Phones", quantity=3)
    before = _counts()
    with pytest.raises(ServiceError) as refused:
        order(cast, shop, offer=shop.world.teams, parent=base, name="More phones", quantity=3)
    assert refused.value.field == "quantity"
    assert "Office seats" in refused.value.message and "5 seats" in refused.value.message
    assert "3 of them already have this add-on" in refused.value.message
    assert _counts() == before
    # Raising the add-on itself past the base is refused too, and changes nothing.
    with pytest.raises(ServiceError) as raised:
        services.subscription_change_quantity(
            actor=cast.reseller_admin, subscription=first, quantity=6
        )
    assert "Office seats" in raised.value.message
    first.refresh_from_db()
    assert first.quantity == 3 and _counts() == before
    services.subscription_change_quantity(actor=cast.reseller_admin, subscription=first, quantity=5)
    assert Subscription.objects.get(pk=first.pk).quantity == 5


def test_an_uncapped_addon_may_outnumber_its_base(cast, shop, frozen):
    base = order(cast, shop, name="Office seats", quantity=2)
    addon = order(cast, shop, offer=shop.world.teams, parent=base, name="Phones", quantity=4)
    assert addon.quantity == 4


def test_a_manual_vendor_offer_says_whether_its_seats_stay_within_the_base(cast, shop, frozen):
    saved = catalog_services.manual_offer_save(
        actor=cast.cloud_admin,
        vendor=shop.world.uc,
        item_code="UC-REC",
        title="Call recording",
        kind="addon",
        term="P1M",
        billing_cycle="monthly",
        cost="1.50",
        attaches_to="UC-BUS",
        seats_within_base=True,
    )
    assert saved.seats_within_base is True
    shown = api_as(cast.cloud_admin).get(f"/api/v1/offers/{saved.pk}/").json()
    assert shown["seats_within_base"] is True
    text = (
        "item_code,title,kind,term,billing_cycle,cost,attaches_to,seats_within_base\n"
        "UC-REC,Call recording,addon,P1M,monthly,1.50,UC-BUS,maybe\n"
    )
    preview = catalog_services.offers_csv_preview(vendor=shop.world.uc, text=text)
    assert any("seats_within_base" in error for line in preview.lines for error in line.errors)
