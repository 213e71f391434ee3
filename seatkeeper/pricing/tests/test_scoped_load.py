"""A pricing context loaded for one customer prices that customer exactly as the partner-wide
context does, while reading only that customer's chain (discovery loads one per customer)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from seatkeeper.core import clock
from seatkeeper.pricing import services
from seatkeeper.pricing.engine import PriceRequest, PricingContext, PricingError
from seatkeeper.pricing.models import Method, Tier


@pytest.fixture
def priced(cast, world):
    """Rules and lists at every level, for several organisations of the partner."""
    admin = cast.cloud_admin
    rule = services.margin_rule_set
    rule(actor=admin, owner=cast.partner, tier=Tier.RESELLER, method=Method.MARKUP_ON_COST,
         value=Decimal(2))  # fmt: skip
    rule(actor=admin, owner=cast.partner, tier=Tier.RESELLER, method=Method.MARKUP_ON_COST,
         value=Decimal(3), target=cast.reseller_two)  # fmt: skip
    rule(actor=admin, owner=cast.partner, tier=Tier.CUSTOMER, method=Method.MARKUP_ON_COST,
         value=Decimal(5))  # fmt: skip
    rule(actor=admin, owner=cast.partner, tier=Tier.CUSTOMER, method=Method.MARKUP_ON_COST,
         value=Decimal(4), target=cast.direct_customer, offer=world.e3)  # fmt: skip
    rule(actor=cast.reseller_admin, owner=cast.reseller, tier=Tier.CUSTOMER,
         method=Method.MARKUP_ON_COST, value=Decimal(3))  # fmt: skip
    rule(actor=cast.reseller_admin, owner=cast.reseller, tier=Tier.CUSTOMER,
         method=Method.MARKUP_ON_COST, value=Decimal(2), target=cast.customer_two)  # fmt: skip
    global_list = services.price_list_create(
        actor=admin, partner=cast.partner, name="Public", currency="GBP"
    )
    services.price_list_entry_set(
        actor=admin, price_list=global_list, offer=world.teams, term="P1Y",
        billing_cycle="annual", unit_price=Decimal("90.00"),
    )  # fmt: skip
    own_list = services.price_list_create(
        actor=admin, partner=cast.partner, name="Direct", currency="GBP",
        customer=cast.direct_customer,
    )  # fmt: skip
    services.price_list_entry_set(
        actor=admin, price_list=own_list, offer=world.basic, term="P1Y",
        billing_cycle="annual", unit_price=Decimal("58.00"),
    )  # fmt: skip
    return cast


def _breakdowns(context: PricingContext, customer, offers) -> list[tuple]:
    rows = []
    for offer in offers:
        breakdown = context.price(
            PriceRequest(
                offer_id=offer.pk, customer_id=customer.pk, term="P1Y", billing_cycle="annual",
                on=clock.today(),
            )
        )  # fmt: skip
        rows.append(
            tuple(
                (tier.audience, tier.unit_price, tier.source, tier.source_id, tier.summary)
                for tier in breakdown.tiers
            )
        )
    return rows


def test_a_customer_scoped_context_prices_each_customer_as_the_partner_wide_one(priced, world):
    cast = priced
    offers = [world.basic, world.e3, world.teams]
    whole = PricingContext.load(partner=cast.partner)
    customers = [cast.customer, cast.customer_two, cast.customer_three, cast.direct_customer]
    sources = set()
    for customer in customers:
        scoped = PricingContext.load(partner=cast.partner, customer=customer)
        expected = _breakdowns(whole, customer, offers)
        assert _breakdowns(scoped, customer, offers) == expected
        sources.update(tier[2] for row in expected for tier in row)
    # the fixture's rules and lists are really what priced them
    assert {"rule", "price_list"} <= sources


def test_a_customer_scoped_context_reads_only_that_customers_chain(priced, world):
    cast = priced
    scoped = PricingContext.load(partner=cast.partner, customer=cast.customer)
    assert set(scoped.organisations) == {cast.partner.pk, cast.reseller.pk, cast.customer.pk}
    owners_and_targets = {
        (rule.owner_id, rule.target_id)
        for levels in scoped.rules.values()
        for versions in levels
        for rule in versions.values
    }
    assert owners_and_targets == {
        (cast.partner.pk, None),
        (cast.reseller.pk, None),
    }
    assert scoped.customer_lists == {}
    direct = PricingContext.load(partner=cast.partner, customer=cast.direct_customer)
    assert set(direct.customer_lists) == {(cast.direct_customer.pk, "GBP")}
    # another customer cannot be priced from it
    with pytest.raises(PricingError):
        scoped.price(
            PriceRequest(
                offer_id=world.basic.pk, customer_id=cast.customer_two.pk, term="P1Y",
                billing_cycle="annual", on=clock.today(),
            )
        )  # fmt: skip


def test_a_customer_of_another_partner_is_refused(cast, world):
    with pytest.raises(PricingError):
        PricingContext.load(partner=cast.partner, customer=cast.outsider_customer)
