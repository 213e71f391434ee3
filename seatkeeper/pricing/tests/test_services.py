"""Rights, guardrails, history and the activity log of the pricing services."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from seatkeeper.accounts.models import User
from seatkeeper.activity.models import ActivityRecord
from seatkeeper.core import clock
from seatkeeper.core.errors import PermissionRefused, ServiceError
from seatkeeper.pricing import services
from seatkeeper.pricing.engine import PriceRequest, PricingContext, Source
from seatkeeper.pricing.models import (
    ExchangeRate,
    MarginRule,
    Method,
    PriceList,
    PriceListEntry,
    PricingPolicy,
    Tier,
    VendorPrice,
)


def user(name: str) -> User:
    return User.objects.get(username=name)


def pricing_state() -> dict:
    """Everything a pricing service writes, to compare before and after a refusal."""
    return {
        model.__name__: list(model.objects.order_by("pk").values())
        for model in (
            MarginRule, PriceList, PriceListEntry, VendorPrice, ExchangeRate, PricingPolicy,
            ActivityRecord,
        )
    }  # fmt: skip


def customer_price(cast, world, customer=None, offer=None, on=None):
    context = PricingContext.load(partner=cast.partner)
    return context.price(
        PriceRequest(
            offer_id=(offer or world.basic).pk,
            customer_id=(customer or cast.customer).pk,
            term="P1Y",
            billing_cycle="annual",
            on=on or clock.today(),
        )
    )


def subscription_of(customer, offer):
    """A subscription row, as the subscriptions app keeps it (pricing only knows its id)."""
    from seatkeeper.subscriptions.models import Subscription

    return Subscription.objects.create(
        customer=customer, offer=offer, friendly_name=f"Seats of {customer}", quantity=5,
        term="P1Y", billing_cycle="annual", start_date=clock.today(), term_start=clock.today(),
    )  # fmt: skip


@pytest.mark.parametrize(
    ("_case", "username", "owner", "tier", "target", "subscription_of_", "allowed"),
    [
        ("cloud admin, all resellers", "cloudadmin", "partner", Tier.RESELLER, None, None, True),
        ("cloud admin, one reseller", "cloudadmin", "partner", Tier.RESELLER, "reseller", None, True),  # noqa: E501
        ("operator, reseller prices", "operator", "partner", Tier.RESELLER, None, None, False),
        ("operator, a direct customer", "operator", "partner", Tier.CUSTOMER, "direct_customer", None, True),  # noqa: E501
        ("operator, a direct customer's subscription", "operator", "partner", Tier.CUSTOMER, "direct_customer", "direct_customer", True),  # noqa: E501
        ("reseller admin, its customer", "reselleradmin", "reseller", Tier.CUSTOMER, "customer", None, True),  # noqa: E501
        ("reseller admin, its customer's subscription", "reselleradmin", "reseller", Tier.CUSTOMER, "customer", "customer", True),  # noqa: E501
        ("reseller admin, its customer with a sibling customer's subscription", "reselleradmin", "reseller", Tier.CUSTOMER, "customer", "customer_two", False),  # noqa: E501
        ("reseller admin, its customer with another reseller's subscription", "reselleradmin", "reseller", Tier.CUSTOMER, "customer", "customer_three", False),  # noqa: E501
        ("reseller admin, its customer with another partner's subscription", "reselleradmin", "reseller", Tier.CUSTOMER, "customer", "outsider_customer", False),  # noqa: E501
        ("operator, a direct customer with a reseller's subscription", "operator", "partner", Tier.CUSTOMER, "direct_customer", "customer", False),  # noqa: E501
        ("reseller admin, all its customers", "reselleradmin", "reseller", Tier.CUSTOMER, None, None, True),  # noqa: E501
        ("reseller admin, another's customer", "reselleradmin", "reseller", Tier.CUSTOMER, "customer_three", None, False),  # noqa: E501
        ("reseller admin, as the partner", "reselleradmin", "partner", Tier.CUSTOMER, None, None, False),  # noqa: E501
        ("reseller admin, its own price", "reselleradmin", "reseller", Tier.RESELLER, None, None, False),  # noqa: E501
        ("customer admin", "customeradmin", "customer", Tier.CUSTOMER, None, None, False),
        ("read-only", "readonly", "reseller", Tier.CUSTOMER, None, None, False),
        ("outsider", "outsider", "partner", Tier.RESELLER, None, None, False),
    ],
)  # fmt: skip
def test_who_may_set_which_margin_rule(
    cast, world, _case, username, owner, tier, target, subscription_of_, allowed
):
    # given
    subscription_ref = ""
    if subscription_of_:
        subscription_ref = str(subscription_of(getattr(cast, subscription_of_), world.basic).pk)
    kwargs = dict(
        actor=user(username),
        owner=getattr(cast, owner),
        tier=tier,
        target=getattr(cast, target) if target else None,
        subscription_ref=subscription_ref,
        method=Method.MARKUP_ON_COST,
        value=Decimal(5),
    )
    # when / then
    if allowed:
        rule = services.margin_rule_set(**kwargs)
        record = ActivityRecord.objects.get(operation="margin_rule.set")
        assert (record.actor, record.object_id) == (user(username), str(rule.pk))
        assert rule.subscription_ref == subscription_ref
    else:
        with pytest.raises((PermissionRefused, ServiceError)):
            services.margin_rule_set(**kwargs)
        assert MarginRule.objects.count() == 0
        assert not ActivityRecord.objects.filter(operation="margin_rule.set").exists()


@pytest.mark.parametrize("subscription_ref", ["999999", "not-an-id", "١٢", "00"])
def test_a_subscription_that_is_not_the_customers_is_refused_alike(cast, world, subscription_ref):
    # given another reseller's subscription, and references that name no subscription at all
    foreign = subscription_of(cast.customer_three, world.basic)
    # when / then: the same answer whether the subscription exists elsewhere or nowhere
    messages = set()
    for ref in (str(foreign.pk), subscription_ref):
        with pytest.raises(ServiceError) as refused:
            services.margin_rule_set(
                actor=cast.reseller_admin, owner=cast.reseller, tier=Tier.CUSTOMER,
                target=cast.customer, subscription_ref=ref, method=Method.MARKUP_ON_COST,
                value=Decimal(0),
            )  # fmt: skip
        assert refused.value.field == "subscription_ref"
        messages.add(refused.value.message)
    assert len(messages) == 1
    assert MarginRule.objects.count() == 0


def test_the_engine_applies_only_rules_of_the_subscriptions_own_sellers(cast, world):
    """Rows that slipped past the service (written before it checked, or by hand) about
    another tenant's subscription or customer never move that tenant's prices."""
    # given a subscription of reseller two's customer, priced from the partner's rule
    foreign = subscription_of(cast.customer_three, world.basic)
    services.margin_rule_set(
        actor=cast.cloud_admin, owner=cast.partner, tier=Tier.CUSTOMER,
        method=Method.MARKUP_ON_COST, value=Decimal(10), target=cast.customer_three,
    )  # fmt: skip

    def price():
        return PricingContext.load(partner=cast.partner).price(
            PriceRequest(
                offer_id=world.basic.pk, customer_id=cast.customer_three.pk, term="P1Y",
                billing_cycle="annual", on=clock.today(), subscription_ref=str(foreign.pk),
            )
        ).customer_price  # fmt: skip

    before = price()
    # when reseller one's rows name that subscription (for its own customer), or that customer
    common = dict(
        owner=cast.reseller, tier=Tier.CUSTOMER, method=Method.MARKUP_ON_COST, value=Decimal(0),
        effective_from=clock.today(),
    )  # fmt: skip
    for target, ref in ((cast.customer, str(foreign.pk)), (cast.customer_three, "")):
        rule = MarginRule(target=target, subscription_ref=ref, **common)
        rule.scope_key = services._scope_key(rule)
        rule.save()
    # then the subscription keeps its price and the rule that made it
    after = price()
    assert (after.unit_price, after.source_id) == (before.unit_price, before.source_id)
    assert before.unit_price == Decimal("59.4000")


def test_a_rule_that_would_sell_below_cost_is_refused_with_the_offer_named(cast, world):
    with pytest.raises(ServiceError) as refused:
        services.margin_rule_set(
            actor=cast.cloud_admin, owner=cast.partner, tier=Tier.RESELLER,
            method=Method.DISCOUNT_OFF_LIST, value=Decimal(20), vendor=world.vendor,
        )  # fmt: skip
    assert refused.value.code == "guardrail"
    assert "below the partner cost" in refused.value.message
    assert "Microsoft 365" in refused.value.message
    assert MarginRule.objects.count() == 0


def test_a_rule_above_list_is_refused_unless_the_guardrail_is_off(cast, world):
    kwargs = dict(
        actor=cast.reseller_admin, owner=cast.reseller, tier=Tier.CUSTOMER,
        method=Method.MARKUP_ON_COST, value=Decimal(50),
    )  # fmt: skip
    before = pricing_state()
    with pytest.raises(ServiceError, match="above the vendor list price"):
        services.margin_rule_set(**kwargs)
    with pytest.raises(PermissionRefused):
        services.pricing_policy_set(
            actor=cast.reseller_admin, partner=cast.partner, never_below_cost=True,
            never_above_list=False,
        )  # fmt: skip
    assert pricing_state() == before
    services.pricing_policy_set(
        actor=cast.cloud_admin, partner=cast.partner, never_below_cost=True, never_above_list=False
    )
    services.margin_rule_set(**kwargs)
    assert customer_price(cast, world).customer_price.unit_price == Decimal("81.0000")


def test_rules_and_prices_cannot_be_back_dated(cast, world):
    before = pricing_state()
    with pytest.raises(ServiceError, match="back-dated"):
        services.margin_rule_set(
            actor=cast.cloud_admin, owner=cast.partner, tier=Tier.RESELLER,
            method=Method.MARKUP_ON_COST, value=Decimal(5),
            effective_from=clock.today() - dt.timedelta(days=1),
        )  # fmt: skip
    assert pricing_state() == before


def test_a_new_version_applies_from_its_date_and_the_old_one_before(cast, world):
    today = clock.today()
    services.margin_rule_set(
        actor=cast.cloud_admin, owner=cast.partner, tier=Tier.RESELLER,
        method=Method.MARKUP_ON_COST, value=Decimal(5),
    )  # fmt: skip
    services.margin_rule_set(
        actor=cast.cloud_admin, owner=cast.partner, tier=Tier.RESELLER,
        method=Method.MARKUP_ON_COST, value=Decimal(10), effective_from=today + dt.timedelta(days=30),  # noqa: E501
    )  # fmt: skip
    assert customer_price(cast, world).reseller_price.unit_price == Decimal("56.7000")
    later = customer_price(cast, world, on=today + dt.timedelta(days=30))
    assert later.reseller_price.unit_price == Decimal("59.4000")
    assert MarginRule.objects.values("scope_key").distinct().count() == 1


def test_before_the_first_import_the_first_vendor_price_applies_but_rules_do_not(cast, world):
    # given a catalog first imported today, a margin rule from today, and a later price
    today = clock.today()
    services.margin_rule_set(
        actor=cast.cloud_admin, owner=cast.partner, tier=Tier.RESELLER,
        method=Method.MARKUP_ON_COST, value=Decimal(5),
    )  # fmt: skip
    services.vendor_price_set(
        actor=cast.cloud_admin, offer=world.basic, term="P1Y", billing_cycle="annual",
        currency="GBP", cost=Decimal("60.00"), list_price=Decimal("70.00"),
        effective_from=today + dt.timedelta(days=10),
    )  # fmt: skip

    # when a subscription that started a year earlier is priced
    year_ago = customer_price(cast, world, on=today - dt.timedelta(days=365))

    # then the first imported cost applies back then, the later one only from its date, and
    # the rule set today does not reach back
    assert year_ago.partner_cost.unit_price == Decimal("54.0000")
    assert year_ago.reseller_price.unit_price == Decimal("54.0000")
    assert customer_price(cast, world).reseller_price.unit_price == Decimal("56.7000")
    later = customer_price(cast, world, on=today + dt.timedelta(days=10))
    assert later.partner_cost.unit_price == Decimal("60.0000")


def test_removing_a_rule_falls_back_to_the_next_source(cast, world):
    rule = services.margin_rule_set(
        actor=cast.reseller_admin, owner=cast.reseller, tier=Tier.CUSTOMER, target=cast.customer,
        method=Method.MARGIN, value=Decimal(5),
    )  # fmt: skip
    assert customer_price(cast, world).customer_price.source == Source.RULE
    services.margin_rule_remove(actor=cast.reseller_admin, rule=rule)
    assert customer_price(cast, world).customer_price.source == Source.LIST_PRICE


def test_a_customer_list_overrides_the_global_list(cast, world):
    global_list = services.price_list_create(
        actor=cast.cloud_admin, partner=cast.partner, name="Global GBP", currency="GBP"
    )
    own = services.price_list_create(
        actor=cast.cloud_admin, partner=cast.partner, name="Customer Two", currency="gbp",
        customer=cast.customer_two,
    )  # fmt: skip
    for price_list, price in ((global_list, "59.00"), (own, "57.00")):
        services.price_list_entry_set(
            actor=cast.cloud_admin, price_list=price_list, offer=world.basic, term="P1Y",
            billing_cycle="annual", unit_price=Decimal(price),
        )  # fmt: skip
    assert customer_price(cast, world).customer_price.unit_price == Decimal("59")
    two = customer_price(cast, world, customer=cast.customer_two).customer_price
    assert (two.unit_price, two.summary) == (Decimal("57"), "Price list “Customer Two”")


def test_a_list_price_below_cost_is_refused(cast, world):
    price_list = services.price_list_create(
        actor=cast.cloud_admin, partner=cast.partner, name="Global GBP", currency="GBP"
    )
    before = pricing_state()
    with pytest.raises(ServiceError, match="below the partner cost"):
        services.price_list_entry_set(
            actor=cast.cloud_admin, price_list=price_list, offer=world.basic, term="P1Y",
            billing_cycle="annual", unit_price=Decimal("50"),
        )  # fmt: skip
    assert PriceListEntry.objects.count() == 0
    assert pricing_state() == before


def test_a_price_list_file_is_checked_line_by_line_and_imported_whole(cast, world):
    price_list = services.price_list_create(
        actor=cast.cloud_admin, partner=cast.partner, name="Global GBP", currency="GBP"
    )
    good = "item_code,term,billing_cycle,unit_price\n"
    good += f"{world.basic.item_code},P1Y,annual,58.00\n{world.e3.item_code},P1Y,monthly,35\n"
    bad = good + f"NOPE,P1Y,annual,1\n{world.basic.item_code},P1Y,monthly,1.00\n"
    lines = services.price_list_csv_preview(actor=cast.cloud_admin, price_list=price_list, text=bad)
    assert [bool(line.errors) for line in lines] == [False, False, True, True]
    assert "Unknown item code." in lines[2].errors
    assert "below the partner cost" in lines[3].errors[0]
    with pytest.raises(ValidationError):
        services.price_list_csv_import(actor=cast.cloud_admin, price_list=price_list, text=bad)
    assert PriceListEntry.objects.count() == 0
    assert (
        services.price_list_csv_import(actor=cast.cloud_admin, price_list=price_list, text=good)
        == 2
    )
    with pytest.raises(PermissionRefused):
        services.price_list_csv_import(actor=cast.reseller_admin, price_list=price_list, text=good)


def test_a_vendor_cost_in_another_currency_converts_through_the_rate_table(cast, world):
    services.vendor_price_set(
        actor=cast.cloud_admin, offer=world.uc_business, term="P1M", billing_cycle="monthly",
        currency="EUR", cost=Decimal("5.00"), list_price=Decimal("6.00"),
    )  # fmt: skip
    with pytest.raises(ServiceError, match="No exchange rate from EUR to GBP"):
        customer_price_for(cast, world)
    services.exchange_rate_set(
        actor=cast.cloud_admin, partner=cast.partner, base_currency="GBP", quote_currency="EUR",
        rate=Decimal("1.25"),
    )  # fmt: skip
    priced = customer_price_for(cast, world)
    assert priced.partner_cost.unit_price == Decimal("4.0000")
    assert "converted at 1 EUR = 0.8 GBP" in priced.partner_cost.explanation


def customer_price_for(cast, world):
    context = PricingContext.load(partner=cast.partner)
    return context.price(
        PriceRequest(
            offer_id=world.uc_business.pk, customer_id=cast.customer.pk, term="P1M",
            billing_cycle="monthly", on=clock.today(),
        )
    )  # fmt: skip


def test_pricing_many_issues_no_query_per_item(cast, world, django_assert_max_num_queries):
    with django_assert_max_num_queries(10):
        context = PricingContext.load(partner=cast.partner)
        requests = [
            PriceRequest(offer_id=offer.pk, customer_id=customer.pk, term="P1Y",
                         billing_cycle="annual", on=clock.today(), quantity=n)
            for n, customer in enumerate([cast.customer, cast.customer_two, cast.direct_customer])
            for offer in (world.basic, world.e3, world.teams)
        ]  # fmt: skip
        priced = context.price_many(requests * 50)
    assert len(priced) == 450


def test_price_rows_are_never_changed_in_place(cast, world):
    from seatkeeper.pricing.models import AppendOnly, VendorPrice

    price = VendorPrice.objects.filter(offer=world.basic).first()
    price.cost = Decimal("1.00")
    with pytest.raises(AppendOnly):
        price.save()
    rule = services.margin_rule_set(
        actor=cast.cloud_admin, owner=cast.partner, tier=Tier.RESELLER,
        method=Method.MARKUP_ON_COST, value=Decimal(5),
    )  # fmt: skip
    rule.value = Decimal(1)
    with pytest.raises(AppendOnly):
        rule.save()


def test_a_reseller_price_rule_cannot_target_a_customer(cast, world):
    before = pricing_state()
    with pytest.raises(ServiceError, match="A reseller price is for a reseller"):
        services.margin_rule_set(
            actor=None, owner=cast.partner, tier=Tier.RESELLER,
            target=cast.customer, method=Method.MARKUP_ON_COST, value=Decimal(5),
        )  # fmt: skip
    assert pricing_state() == before


def test_exchange_rates_import_from_a_file_whole_or_not_at_all(cast, world):
    bad = "base_currency,quote_currency,rate,effective_from\nEUR,GBP,0.86,\nEUR,XX,abc,\n"
    with pytest.raises(ValidationError) as refused:
        services.exchange_rates_csv_import(actor=cast.cloud_admin, partner=cast.partner, text=bad)
    assert "Line 3" in str(refused.value)
    assert ExchangeRate.objects.count() == 0
    good = "base_currency,quote_currency,rate,effective_from\nEUR,GBP,0.86,\nUSD,GBP,0.79,\n"
    assert (
        services.exchange_rates_csv_import(actor=cast.cloud_admin, partner=cast.partner, text=good)
        == 2
    )
    assert set(ExchangeRate.objects.values_list("source", flat=True)) == {"csv"}
    before = pricing_state()
    with pytest.raises(PermissionRefused):
        services.exchange_rates_csv_import(actor=cast.operator, partner=cast.partner, text=good)
    assert pricing_state() == before
