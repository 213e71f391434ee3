"""Orders, subscriptions and add-ons, over HTTPS against the sandbox."""

from __future__ import annotations

from typing import Any

import pytest

from seatkeeper.providers import errors
from seatkeeper.providers import interface as i
from seatkeeper.providers.microsoft.adapter import MicrosoftProvider
from seatkeeper.providers.tests.helpers import TEAMS_PHONE, buy, new_customer, order_line

pytestmark = pytest.mark.django_db


@pytest.fixture
def customer_id(provider: MicrosoftProvider) -> str:
    return new_customer(provider).customer.id


def test_an_order_creates_subscriptions_and_can_be_read_back(
    provider: MicrosoftProvider, customer_id: str, sandbox: Any
) -> None:
    # when
    order, subscriptions = buy(
        provider, customer_id, order_line(provider, quantity=3, friendly_name="Sales seats")
    )

    # then
    assert order.customer_id == customer_id
    assert [line.quantity for line in order.lines] == [3]
    fetched = provider.get_order(customer_id=customer_id, order_id=order.id)
    assert fetched.id == order.id
    (subscription,) = subscriptions
    assert subscription.quantity == 3
    assert subscription.friendly_name == "Sales seats"
    assert subscription.term_duration == "P1M"
    assert subscription.billing_cycle is i.BillingCycle.MONTHLY
    assert subscription.order_id == order.id
    # the cart and its checkout were one logical operation: one correlation id
    posts = [
        c for c in sandbox.admin.calls(method="POST", path=f"/v1/customers/{customer_id}/carts")
    ]
    assert len(posts) == 2
    assert posts[0]["correlationId"] == posts[1]["correlationId"]
    assert posts[0]["requestId"] != posts[1]["requestId"]


def test_running_the_same_order_again_does_not_buy_twice(
    provider: MicrosoftProvider, customer_id: str
) -> None:
    # given
    line = order_line(provider, quantity=2)
    first = provider.create_order(customer_id=customer_id, lines=[line], request_key="order-42")

    # when: the task that placed it runs again
    second = provider.create_order(customer_id=customer_id, lines=[line], request_key="order-42")

    # then
    assert [o.id for o in second] == [o.id for o in first]
    assert len(provider.list_subscriptions(customer_id=customer_id)) == 1


def test_an_addon_attaches_to_its_base(provider: MicrosoftProvider, customer_id: str) -> None:
    # given
    _, (base,) = buy(provider, customer_id, order_line(provider, quantity=5))

    # when
    _, (addon,) = buy(
        provider,
        customer_id,
        order_line(provider, TEAMS_PHONE, quantity=2, parent_subscription_id=base.id),
    )

    # then
    assert addon.parent_subscription_id == base.id
    listed = provider.list_addons(customer_id=customer_id, subscription_id=base.id)
    assert [s.id for s in listed] == [addon.id]


def test_an_addon_without_a_base_is_refused(provider: MicrosoftProvider, customer_id: str) -> None:
    with pytest.raises(errors.ValidationFailed) as raised:
        provider.create_order(
            customer_id=customer_id,
            lines=[order_line(provider, TEAMS_PHONE, quantity=1)],
            request_key="orphan-addon",
        )
    assert raised.value.code == "800009"


def test_subscription_updates_round_trip(provider: MicrosoftProvider, customer_id: str) -> None:
    # given
    _, (subscription,) = buy(provider, customer_id, order_line(provider, quantity=3))

    # when
    changed = provider.update_subscription(
        customer_id=customer_id,
        subscription_id=subscription.id,
        change=i.SubscriptionUpdate(quantity=7, friendly_name="Renamed", auto_renew=False),
    )

    # then
    assert (changed.quantity, changed.friendly_name, changed.auto_renew) == (7, "Renamed", False)
    again = provider.get_subscription(customer_id=customer_id, subscription_id=subscription.id)
    assert (again.quantity, again.friendly_name, again.auto_renew) == (7, "Renamed", False)


def test_changes_at_renewal_are_scheduled_read_back_and_removed(
    provider: MicrosoftProvider, customer_id: str, sandbox: Any
) -> None:
    _, (subscription,) = buy(provider, customer_id, order_line(provider, quantity=3))
    ids = {"customer_id": customer_id, "subscription_id": subscription.id}
    next_term = i.NextTerm(quantity=5, term_duration="P1Y", billing_cycle=i.BillingCycle.ANNUAL)
    sandbox.admin.clear_calls()

    scheduled = provider.update_subscription(
        **ids, change=i.SubscriptionUpdate(next_term=next_term)
    )

    assert scheduled.next_term == next_term and scheduled.quantity == 3
    assert len(sandbox.admin.calls(method="PATCH")) == 1
    with sandbox.client(sandbox.admin.access_token()) as raw:
        path = f"/v1/customers/{customer_id}/subscriptions/{subscription.id}"
        on_the_wire = raw.get(path).json()["scheduledNextTermInstructions"]
    product, sku, availability = subscription.offer_id.split(":")
    assert on_the_wire == {
        "product": {
            "productId": product,
            "skuId": sku,
            "availabilityId": availability,
            "billingCycle": "annual",
            "termDuration": "P1Y",
        },
        "quantity": 5,
    }
    renamed = provider.update_subscription(**ids, change=i.SubscriptionUpdate(friendly_name="X"))
    assert renamed.next_term == next_term  # the full-body PATCH keeps what it read
    removed = provider.update_subscription(**ids, change=i.SubscriptionUpdate(clear_next_term=True))
    assert removed.next_term is None
    assert provider.get_subscription(**ids).next_term is None


def test_suspend_reactivate_and_cancel(provider: MicrosoftProvider, customer_id: str) -> None:
    _, (subscription,) = buy(provider, customer_id, order_line(provider, quantity=2))
    ids = {"customer_id": customer_id, "subscription_id": subscription.id}

    assert provider.suspend_subscription(**ids).status is i.SubscriptionStatus.SUSPENDED
    assert provider.reactivate_subscription(**ids).status is i.SubscriptionStatus.ACTIVE
    assert provider.cancel_subscription(**ids).status is i.SubscriptionStatus.DELETED
    with pytest.raises(errors.ValidationFailed) as raised:
        provider.update_subscription(**ids, change=i.SubscriptionUpdate(quantity=3))
    assert raised.value.code == "2011"


def test_quantity_outside_the_sku_limits_is_refused_without_retry(
    provider: MicrosoftProvider, customer_id: str, sandbox: Any
) -> None:
    _, (subscription,) = buy(provider, customer_id, order_line(provider, quantity=2))
    sandbox.admin.clear_calls()

    with pytest.raises(errors.ValidationFailed) as raised:
        provider.update_subscription(
            customer_id=customer_id,
            subscription_id=subscription.id,
            change=i.SubscriptionUpdate(quantity=100_000),
        )

    assert raised.value.code is not None
    assert len(sandbox.admin.calls(method="PATCH")) == 1


def test_cancelling_after_the_window_is_window_closed(
    provider: MicrosoftProvider, customer_id: str, sandbox: Any
) -> None:
    # given: a subscription bought 8 days ago (the window is 7 days)
    _, (subscription,) = buy(provider, customer_id, order_line(provider, quantity=2))
    sandbox.admin.advance_clock(8 * 24 * 3600)

    # when / then
    with pytest.raises(errors.WindowClosed) as raised:
        provider.cancel_subscription(customer_id=customer_id, subscription_id=subscription.id)
    assert raised.value.code in {"900117", "900213"}
    assert raised.value.retryable is False


def test_an_unknown_subscription_is_not_found(
    provider: MicrosoftProvider, customer_id: str
) -> None:
    with pytest.raises(errors.NotFound) as raised:
        provider.get_subscription(
            customer_id=customer_id, subscription_id="00000000-0000-4000-8000-000000000001"
        )
    assert raised.value.code == "20003"


def test_eventual_consistency_pending_order_then_ready_subscription(
    provider: MicrosoftProvider, customer_id: str, sandbox: Any
) -> None:
    # given: provisioning takes a minute and fresh subscriptions refuse changes for a while
    sandbox.admin.set_faults(provisioning_delay_s=60, subscription_ready_delay_s=300)
    line = order_line(provider, quantity=2)

    # when: the order is placed
    (order,) = provider.create_order(customer_id=customer_id, lines=[line], request_key="slow")

    # then: pending, without a subscription id yet
    assert order.status is i.OrderStatus.PENDING
    assert [ln.subscription_id for ln in order.lines] == [None]

    # later: completed, with the subscription, which still refuses updates for a while
    sandbox.admin.advance_clock(120)
    provisioned = provider.get_order(customer_id=customer_id, order_id=order.id)
    assert provisioned.status is i.OrderStatus.COMPLETED
    (subscription_id,) = [ln.subscription_id for ln in provisioned.lines]
    assert subscription_id
    with pytest.raises(errors.Conflict) as raised:
        provider.update_subscription(
            customer_id=customer_id,
            subscription_id=subscription_id,
            change=i.SubscriptionUpdate(quantity=3),
        )
    assert raised.value.code == "800082"
    assert raised.value.retryable is True

    # and once it is ready, the same change goes through
    sandbox.admin.advance_clock(600)
    changed = provider.update_subscription(
        customer_id=customer_id,
        subscription_id=subscription_id,
        change=i.SubscriptionUpdate(quantity=3),
    )
    assert changed.quantity == 3
