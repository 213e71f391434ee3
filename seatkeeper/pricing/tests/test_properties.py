"""Property tests of the engine, on contexts built in memory from unsaved records
(`PricingContext.from_records`, no database), so hypothesis can run hundreds of cases quickly."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from seatkeeper.accounts.models import Organisation, OrganisationKind
from seatkeeper.catalog.models import Offer, Vendor, add_months
from seatkeeper.core.money import quantize, quantize_unit_price
from seatkeeper.pricing.audiences import Audience
from seatkeeper.pricing.engine import PriceRequest, PricingContext, Source
from seatkeeper.pricing.models import (
    MarginRule,
    Method,
    PriceList,
    PriceListEntry,
    PricingPolicy,
    Tier,
    VendorPrice,
)
from seatkeeper.pricing.quotes import (
    ProposedChange,
    SeatLot,
    SubscriptionFacts,
    change_charges,
    quote_change,
)

DAY = dt.date(2026, 6, 1)
PARTNER, RESELLER, CUSTOMER, DIRECT = 1, 2, 3, 4
OFFER = 10

percentages = st.decimals(min_value=-50, max_value=300, places=2, allow_nan=False)
amounts = st.decimals(min_value=0, max_value=5000, places=4, allow_nan=False)


GLOBAL_LIST, CUSTOMER_LIST = 100, 101


def organisation(pk, kind, parent, name) -> Organisation:
    path = {PARTNER: "/1/", RESELLER: "/1/2/", CUSTOMER: "/1/2/3/", DIRECT: "/1/4/"}[pk]
    return Organisation(
        id=pk, kind=kind, parent_id=parent, name=name, default_currency="EUR", path=path
    )


def vendor_price(pk, *, cost, list_price, cycle="annual") -> VendorPrice:
    return VendorPrice(
        id=pk, offer_id=OFFER, term="P1Y", billing_cycle=cycle, currency="EUR", cost=cost,
        list_price=list_price, effective_from=DAY,
    )  # fmt: skip


def list_entry(pk, *, price_list, unit_price) -> PriceListEntry:
    return PriceListEntry(
        id=pk, price_list_id=price_list, offer_id=OFFER, term="P1Y", billing_cycle="annual",
        unit_price=unit_price, effective_from=DAY,
    )  # fmt: skip


def context(
    *, cost, list_price, rules=(), entries=(), floor=True, cap=True, cycles=("annual",)
) -> PricingContext:
    partner = organisation(PARTNER, OrganisationKind.PARTNER, None, "Partner")
    return PricingContext.from_records(
        partner=partner,
        organisations=[
            partner,
            organisation(RESELLER, OrganisationKind.RESELLER, PARTNER, "Reseller"),
            organisation(CUSTOMER, OrganisationKind.CUSTOMER, RESELLER, "Customer"),
            organisation(DIRECT, OrganisationKind.CUSTOMER, PARTNER, "Direct"),
        ],
        offers=[
            Offer(
                id=OFFER,
                vendor=Vendor(id=5, name="Vendor"),
                category="Office",
                title="Office suite",
            )
        ],
        vendor_prices=[
            vendor_price(index, cost=cost, list_price=list_price, cycle=cycle)
            for index, cycle in enumerate(cycles, start=1)
        ],
        price_lists=[
            PriceList(id=GLOBAL_LIST, organisation_id=PARTNER, name="Global", currency="EUR"),
            PriceList(
                id=CUSTOMER_LIST,
                organisation_id=PARTNER,
                customer_id=CUSTOMER,
                name="Customer list",
                currency="EUR",
            ),
        ],
        list_entries=entries,
        rules=rules,
        policy=PricingPolicy(organisation_id=PARTNER, never_below_cost=floor, never_above_list=cap),
    )


def rule(rule_id, *, tier, owner, target=None, method=Method.MARKUP_ON_COST, value=Decimal(10),
         offer=None, category="", subscription_ref="") -> MarginRule:  # fmt: skip
    return MarginRule(
        id=rule_id, owner_id=owner, tier=tier, target_id=target,
        subscription_ref=subscription_ref, category=category, offer_id=offer, method=method,
        value=value, currency="EUR" if method == Method.FIXED_PRICE else "", effective_from=DAY,
    )  # fmt: skip


def request(customer=CUSTOMER, subscription_ref="") -> PriceRequest:
    return PriceRequest(
        offer_id=OFFER,
        customer_id=customer,
        term="P1Y",
        billing_cycle="annual",
        on=DAY,
        quantity=7,
        subscription_ref=subscription_ref,
    )


methods = st.sampled_from(
    [Method.MARKUP_ON_COST, Method.DISCOUNT_OFF_LIST, Method.MARGIN, Method.FIXED_PRICE]
)


def value_for(method, data):
    if method == Method.FIXED_PRICE:
        return data.draw(amounts)
    if method == Method.MARGIN:
        return data.draw(st.decimals(min_value=-50, max_value=95, places=2))
    return data.draw(percentages)


@settings(max_examples=300, deadline=None)
@given(
    cost=amounts,
    spread=st.decimals(min_value=0, max_value=1000, places=4),
    reseller_method=methods,
    customer_method=methods,
    data=st.data(),
)
def test_with_guardrails_each_tier_is_at_least_the_one_below_and_at_most_list(
    cost, spread, reseller_method, customer_method, data
):
    # given
    list_price = cost + spread
    rules = [
        rule(1, tier=Tier.RESELLER, owner=PARTNER, target=RESELLER, method=reseller_method,
             value=value_for(reseller_method, data), offer=OFFER),
        rule(2, tier=Tier.CUSTOMER, owner=RESELLER, method=customer_method,
             value=value_for(customer_method, data), offer=OFFER),
    ]  # fmt: skip
    # and, sometimes, price-list entries at any price (below cost or above list included)
    entries = []
    for list_id, entry_id in ((GLOBAL_LIST, 50), (CUSTOMER_LIST, 51)):
        if data.draw(st.booleans()):
            amount = data.draw(amounts)
            entries.append(list_entry(entry_id, price_list=list_id, unit_price=amount))
    if entries and data.draw(st.booleans()):
        rules = rules[:1]  # let a price list be the source of the customer price
    # when
    pricing = context(cost=cost, list_price=list_price, rules=rules, entries=entries)
    priced = pricing.price(request())
    # then
    assert priced.partner_cost.unit_price == cost
    assert priced.reseller_price.unit_price >= priced.partner_cost.unit_price
    assert priced.customer_price.unit_price >= priced.reseller_price.unit_price
    assert priced.reseller_price.unit_price <= list_price
    assert priced.customer_price.unit_price <= list_price


@settings(max_examples=200, deadline=None)
@given(cost=amounts, method=methods, data=st.data())
def test_without_guardrails_the_rule_is_applied_as_written(cost, method, data):
    value = value_for(method, data)
    rules = [rule(1, tier=Tier.CUSTOMER, owner=PARTNER, method=method, value=value)]
    priced = context(cost=cost, list_price=cost * 2, rules=rules, floor=False, cap=False).price(
        request(customer=DIRECT)
    )
    expected = {
        Method.MARKUP_ON_COST: cost * (1 + value / 100),
        Method.DISCOUNT_OFF_LIST: cost * 2 * (1 - value / 100),
        Method.MARGIN: cost / (1 - value / 100) if value < 100 else None,
        Method.FIXED_PRICE: value,
    }[method]
    assert priced.customer_price.unit_price == quantize_unit_price(expected)
    assert priced.reseller_price is None


@settings(max_examples=200, deadline=None)
@given(cost=amounts, markup=percentages, quantity=st.integers(min_value=0, max_value=100000))
def test_unit_prices_keep_four_places_and_totals_round_once_to_the_currency(cost, markup, quantity):
    rules = [rule(1, tier=Tier.CUSTOMER, owner=PARTNER, value=markup)]
    priced = context(cost=cost, list_price=None, rules=rules, floor=False).price(
        PriceRequest(
            offer_id=OFFER, customer_id=DIRECT, term="P1Y", billing_cycle="annual", on=DAY,
            quantity=quantity,
        )
    )  # fmt: skip
    unit = priced.customer_price.unit_price
    assert unit == unit.quantize(Decimal("0.0001"))
    total = priced.total(Audience.CUSTOMER_PRICE)
    assert total.amount == quantize(unit * quantity, "EUR")
    assert total.amount.as_tuple().exponent == -2


LEVELS = [
    "subscription",
    "customer_list",
    "customer_rule",
    "reseller_rule",
    "global_list",
    "partner_rule",
]


@settings(max_examples=300, deadline=None)
@given(present=st.sets(st.sampled_from(LEVELS)), narrowed=st.booleans())
def test_the_most_specific_source_wins(present, narrowed):
    # given one source per chosen level, each a distinct fixed price between cost and list
    rules, entries = [], []
    offer = OFFER if narrowed else None
    price_of = {level: Decimal(20 + index) for index, level in enumerate(LEVELS)}
    fixed = lambda rule_id, **kw: rule(  # noqa: E731
        rule_id, method=Method.FIXED_PRICE, offer=OFFER, **kw
    )
    if "subscription" in present:
        rules.append(fixed(1, tier=Tier.CUSTOMER, owner=RESELLER, target=CUSTOMER,
                           subscription_ref="S-1", value=price_of["subscription"]))  # fmt: skip
    if "customer_rule" in present:
        rules.append(
            fixed(2, tier=Tier.CUSTOMER, owner=RESELLER, target=CUSTOMER,
                  value=price_of["customer_rule"])
        )  # fmt: skip
    if "reseller_rule" in present:
        rules.append(
            rule(3, tier=Tier.CUSTOMER, owner=RESELLER, method=Method.FIXED_PRICE,
                 value=price_of["reseller_rule"], offer=OFFER)
        )  # fmt: skip
    if "partner_rule" in present:
        rules.append(
            rule(4, tier=Tier.CUSTOMER, owner=PARTNER, method=Method.MARKUP_ON_COST,
                 value=Decimal(130), offer=offer)
        )  # fmt: skip
    if "customer_list" in present:
        entries.append(
            list_entry(51, price_list=CUSTOMER_LIST, unit_price=price_of["customer_list"])
        )
    if "global_list" in present:
        entries.append(list_entry(50, price_list=GLOBAL_LIST, unit_price=price_of["global_list"]))
    # when
    priced = context(cost=Decimal(10), list_price=Decimal(100), rules=rules, entries=entries)
    customer_price = priced.price(request(subscription_ref="S-1")).customer_price
    # then
    winner = next((level for level in LEVELS if level in present), None)
    expected_source = {
        None: (Source.LIST_PRICE, None),
        "subscription": (Source.RULE, 1),
        "customer_list": (Source.PRICE_LIST, 51),
        "customer_rule": (Source.RULE, 2),
        "reseller_rule": (Source.RULE, 3),
        "partner_rule": (Source.RULE, 4),
        "global_list": (Source.PRICE_LIST, 50),
    }[winner]
    assert (customer_price.source, customer_price.source_id) == expected_source


@settings(max_examples=100, deadline=None)
@given(narrowings=st.sets(st.sampled_from(["offer", "category", "none"]), min_size=1))
def test_within_a_level_a_narrower_rule_beats_a_wider_one(narrowings):
    ids = {"offer": 11, "category": 12, "none": 13}
    rules = [
        rule(ids[n], tier=Tier.RESELLER, owner=PARTNER, target=RESELLER, value=Decimal(ids[n]),
             offer=OFFER if n == "offer" else None, category="Office" if n == "category" else "")
        for n in narrowings
    ]  # fmt: skip
    priced = context(cost=Decimal(10), list_price=Decimal(100), rules=rules).price(request())
    expected = next(ids[n] for n in ("offer", "category", "none") if n in narrowings)
    assert priced.reseller_price.source_id == expected


# --- quotes ------------------------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(
    start=st.dates(min_value=dt.date(2026, 6, 1), max_value=dt.date(2040, 12, 31)),
    annual=st.booleans(),
    offset=st.integers(min_value=0, max_value=400),
    quantity=st.integers(min_value=1, max_value=500),
    delta=st.integers(min_value=-500, max_value=500),
    cost=st.decimals(min_value=1, max_value=500, places=2),
)
def test_a_quote_is_the_charge_and_follows_the_pro_rata_formula(
    start, annual, offset, quantity, delta, cost
):
    # given a subscription bought at the start of its current period, an hour ago or long ago
    end = add_months(start, 12 if annual else 1)
    moment = dt.datetime.combine(start, dt.time(9), tzinfo=dt.UTC) + dt.timedelta(days=offset)
    recent = offset < 7
    subscription = SubscriptionFacts(
        offer_id=OFFER, customer_id=DIRECT, quantity=quantity, term="P1Y",
        billing_cycle="annual" if annual else "monthly", period_start=start, period_end=end,
        purchased_at=dt.datetime.combine(start, dt.time(9), tzinfo=dt.UTC),
        seat_lots=(SeatLot(quantity=quantity, purchased_at=moment - dt.timedelta(hours=1))
                   if recent else SeatLot(quantity=quantity, purchased_at=dt.datetime(
                       2020, 1, 1, tzinfo=dt.UTC)),),
    )  # fmt: skip
    unit = cost * (12 if annual else 1)
    rules = []
    pricing = context(cost=unit, list_price=unit * 2, rules=rules, cycles=("annual", "monthly"))
    change = ProposedChange(quantity=max(0, quantity + delta))
    # when
    try:
        quote = quote_change(facts=subscription, change=change, at=moment, context=pricing)
    except Exception as refused:  # only a decrease outside the window may be refused
        assert delta < 0 and not recent and moment.date() < end, refused
        return
    # then
    assert list(quote.lines) == change_charges(
        facts=subscription, change=change, at=moment, context=pricing
    )
    period_days = (end - start).days
    assert period_days in ((365, 366) if annual else (28, 29, 30, 31))
    actual_delta = change.quantity - quantity
    if moment.date() >= end or actual_delta == 0:
        assert quote.adjustment_now.amount == 0
    else:
        remaining = (end - moment.date()).days
        price = pricing.price(
            PriceRequest(offer_id=OFFER, customer_id=DIRECT, term="P1Y",
                         billing_cycle=subscription.billing_cycle, on=start)
        ).customer_price.unit_price  # fmt: skip
        expected = quantize(price * actual_delta * remaining / period_days, "EUR")
        assert quote.adjustment_now.amount == expected
        assert abs(expected) <= quantize(price * abs(actual_delta), "EUR")
