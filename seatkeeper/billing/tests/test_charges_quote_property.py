"""The quote a person saw before a change is the charge billed for it, over generated timelines.

Hypothesis draws a subscription (term, billing cycle, quantity) and a few weeks of changes at
random moments: increases, decreases (inside or outside the vendor's window: a refused one is
simply not made), suspensions, reactivations and a cancellation. Before each change the test
asks for the quote at every audience, as the pages do; then the change goes through the
services and the vendor (a fake provider). Once the cycles have ended they are billed, and the
line billed for each change must equal its quote, audience by audience, to the penny.
"""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from seatkeeper.billing import charges
from seatkeeper.billing.models import ChargeLine
from seatkeeper.core import clock
from seatkeeper.core.errors import ServiceError
from seatkeeper.pricing.audiences import Audience
from seatkeeper.pricing.quotes import ProposedChange
from seatkeeper.subscriptions import services
from seatkeeper.subscriptions.models import Operation, Status
from seatkeeper.testing import TEST_NOW

FIELDS = {
    Audience.PARTNER_COST: "partner_cost_amount",
    Audience.RESELLER_PRICE: "reseller_price_amount",
    Audience.CUSTOMER_PRICE: "customer_price_amount",
}

steps = st.lists(
    st.tuples(
        st.integers(min_value=1, max_value=60 * 60 * 24 * 6),  # seconds after the previous step
        st.sampled_from(["increase", "decrease", "suspend", "reactivate", "cancel"]),
        st.integers(min_value=1, max_value=7),
    ),
    min_size=1,
    max_size=7,
)
plans = st.sampled_from([("P1Y", "monthly"), ("P1M", "monthly"), ("P1Y", "annual")])


class Rollback(Exception):
    pass


def _change(cast, subscription, action: str, amount: int):
    """The service call for one step, or None when the step makes no sense now."""
    if action == "increase" and subscription.status == Status.ACTIVE:
        quantity = subscription.quantity + amount
        change = ProposedChange(quantity=quantity)
        return change, lambda: services.subscription_change_quantity(
            actor=cast.reseller_admin, subscription=subscription, quantity=quantity
        )
    if action == "decrease" and subscription.status == Status.ACTIVE:
        quantity = max(subscription.quantity - amount, 1)
        if quantity == subscription.quantity:
            return None
        change = ProposedChange(quantity=quantity)
        return change, lambda: services.subscription_change_quantity(
            actor=cast.reseller_admin, subscription=subscription, quantity=quantity
        )
    if action == "cancel" and subscription.status == Status.ACTIVE:
        return ProposedChange(quantity=0), lambda: services.subscription_cancel(
            actor=cast.reseller_admin, subscription=subscription
        )
    if action == "suspend" and subscription.status == Status.ACTIVE:
        return None, lambda: services.subscription_suspend(
            actor=cast.reseller_admin, subscription=subscription
        )
    if action == "reactivate" and subscription.status == Status.SUSPENDED:
        return None, lambda: services.subscription_reactivate(
            actor=cast.reseller_admin, subscription=subscription
        )
    return None


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(plan=plans, quantity=st.integers(min_value=1, max_value=20), timeline=steps)
def test_the_charge_billed_for_a_change_is_the_quote_seen_before_it(
    cast, shop, plan, quantity, timeline
):
    quoted: dict[int, dict[Audience, object]] = {}
    try:
        with transaction.atomic():
            moment = TEST_NOW
            with clock.frozen(moment):
                placed = services.order_place(
                    actor=cast.reseller_admin,
                    customer=cast.customer,
                    lines=[
                        services.OrderLine(
                            offer=shop.world.basic,
                            quantity=quantity,
                            term=plan[0],
                            billing_cycle=plan[1],
                        )
                    ],
                )
                subscription = placed.subscriptions.get()
                shop.provision(subscription)
            for seconds, action, amount in timeline:
                moment += dt.timedelta(seconds=seconds)
                subscription.refresh_from_db()
                step = _change(cast, subscription, action, amount)
                if step is None:
                    continue
                change, call = step
                with clock.frozen(moment):
                    quotes = {}
                    if change is not None:
                        try:
                            quotes = {
                                audience: services.quote(
                                    subscription, change, at=moment, audience=audience
                                )
                                for audience in FIELDS
                            }
                        except ServiceError:
                            continue  # outside the window: the page refuses it too
                    try:
                        call()
                    except ServiceError:
                        continue
                    shop.provision(subscription)
                operation = Operation.objects.filter(subscription=subscription).latest("sequence")
                if quotes:
                    quoted[operation.pk] = quotes
            # Bill every cycle the timeline touched, once they have all ended.
            with clock.frozen(moment + dt.timedelta(days=40)):
                day = TEST_NOW.date()
                while day <= moment.date():
                    charges.billing_run(account=cast.reseller, day=day)
                    day = (day.replace(day=1) + dt.timedelta(days=32)).replace(day=1)
            billed = {
                line.operation_id: line
                for line in ChargeLine.objects.filter(subscription=subscription).exclude(
                    operation=None
                )
            }
            for operation_id, quotes in quoted.items():
                expected = {
                    audience: quote.adjustment_now.amount for audience, quote in quotes.items()
                }
                line = billed.get(operation_id)
                got = {
                    audience: getattr(line, field) if line else 0
                    for audience, field in FIELDS.items()
                }
                assert got == expected, (operation_id, quotes[Audience.CUSTOMER_PRICE].lines)
                if line is not None:
                    quote_line = quotes[Audience.CUSTOMER_PRICE].lines[0]
                    assert (line.quantity, line.days, line.period_days) == (
                        quote_line.quantity,
                        quote_line.days,
                        quote_line.period_days,
                    )
            raise Rollback
    except Rollback:
        pass
