"""A customer with subscriptions of a manual vendor (the world's Rainbow-like "UC" vendor):
ordered through the store and fulfilled by the partner's operator, as in production."""

from __future__ import annotations

from dataclasses import dataclass

from seatkeeper.catalog.models import Offer
from seatkeeper.pricing.tests.world import World, build_world
from seatkeeper.subscriptions import services as subscription_services
from seatkeeper.subscriptions.models import OperationState, Subscription


def manual_subscription(
    cast, offer: Offer, *, quantity: int, name: str, parent: Subscription | None = None
) -> Subscription:
    line = subscription_services.OrderLine(
        offer=offer,
        quantity=quantity,
        term="P1M",
        billing_cycle="monthly",
        friendly_name=name,
        parent=parent,
    )
    placed = subscription_services.order_place(
        actor=cast.reseller_admin, customer=cast.customer, lines=[line], po_number="PO-1"
    )
    subscription = placed.subscriptions.get()
    operation = subscription.operations.get(state=OperationState.AWAITING_FULFILMENT)
    subscription_services.fulfilment_complete(
        actor=cast.operator, operation=operation, vendor_reference=f"RB-{subscription.pk}"
    )
    subscription.refresh_from_db()
    return subscription


@dataclass
class Rainbow:
    world: World
    business: Subscription
    enterprise: Subscription
    recording: Subscription
    attendant: Subscription

    @property
    def vendor(self):
        return self.world.uc


def rainbow_world(cast, *, business=2, enterprise=1, recording=2, attendant=1) -> Rainbow:
    world = build_world(cast)
    offer = lambda code: Offer.objects.get(vendor=world.uc, item_code=code)  # noqa: E731
    business_subscription = manual_subscription(
        cast, offer("UC-BUS"), quantity=business, name="Business"
    )
    return Rainbow(
        world=world,
        business=business_subscription,
        enterprise=manual_subscription(
            cast, offer("UC-ENT"), quantity=enterprise, name="Enterprise"
        ),
        recording=manual_subscription(
            cast,
            offer("UC-REC"),
            quantity=recording,
            name="Recording",
            parent=business_subscription,
        ),
        attendant=manual_subscription(cast, offer("UC-ATT"), quantity=attendant, name="Attendant"),
    )
