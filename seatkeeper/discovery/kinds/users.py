"""Users of the customer's tenant and the licences they hold (`people.directory`): the same
reading and matching as the users page's "Sync now", so a user found either way is one record.
Runs after "subscriptions": the licence pools are tied to the products the customer subscribes
to."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from seatkeeper.discovery.kinds import CustomerContext
from seatkeeper.people import directory

NAME = "users"
LABEL = _("Users")


def fetch(context: CustomerContext) -> None:
    listed = context.data.get("subscriptions") or []
    # Offer ids read "productId:skuId:availabilityId".
    product_ids = [facts.offer_id.split(":")[0] for facts in listed if facts.offer_id]
    context.data[NAME] = directory.fetch_directory(
        context.provider,
        vendor_customer_id=context.facts.id,
        product_ids=product_ids,
        country=context.account.organisation.country,
    )


def import_customer(context: CustomerContext) -> None:
    counts = directory.apply_directory(context.tenant, context.data[NAME])
    for outcome, number in counts.items():
        if number:
            context.count(NAME, outcome, number)
