"""Users of the customer's tenant and the licences they hold (`people.directory`): the same
reading and matching as the users page's "Sync now", so a user found either way is one record.
Runs after "subscriptions": the licence pools are tied to the products the customer subscribes
to."""

from __future__ import annotations

import threading

from django.utils.translation import gettext_lazy as _

from seatkeeper.discovery.kinds import CustomerContext
from seatkeeper.people import directory
from seatkeeper.people.models import DirectoryUser, UserStatus
from seatkeeper.providers import interface as vendor
from seatkeeper.subscriptions.models import SyncStatus

NAME = "users"
LABEL = _("Users")

# The catalog's SKUs of a product (`list_skus`), read once per run in a process: every customer
# holding the product would otherwise read the same page again, most of a run's calls.
_skus: dict[tuple[int, str, str], list] = {}
_skus_lock = threading.Lock()


class _SkusOnce:
    """The provider, with `list_skus` remembered for the run."""

    def __init__(self, provider, run_id: int) -> None:
        self._provider = provider
        self._run_id = run_id

    def __getattr__(self, name):
        return getattr(self._provider, name)

    def list_skus(self, *, product_id: str, country: str) -> list:
        key = (self._run_id, product_id, country)
        with _skus_lock:
            found = _skus.get(key)
        if found is not None:
            return found
        found = list(self._provider.list_skus(product_id=product_id, country=country))
        with _skus_lock:
            for other in [other for other in _skus if other[0] != self._run_id]:
                del _skus[other]  # an earlier run's: the catalog may have changed since
            _skus[key] = found
        return found


def fetch(context: CustomerContext) -> None:
    listed = context.data.get("subscriptions") or []
    # Offer ids read "productId:skuId:availabilityId".
    product_ids = [facts.offer_id.split(":")[0] for facts in listed if facts.offer_id]
    context.data[NAME] = directory.fetch_directory(
        _SkusOnce(context.provider, context.run.pk),
        vendor_customer_id=context.facts.id,
        product_ids=product_ids,
        country=context.account.organisation.country,
    )


def import_customer(context: CustomerContext) -> None:
    facts = context.data[NAME]
    # Users the vendor now lists as deleted that were active here: the run counts them
    # removed (the directory sync counts them updated).
    deleted_there = [user.id for user in facts.users if user.state == vendor.UserState.DELETED]
    newly_deleted = (
        DirectoryUser.objects.filter(
            tenant=context.tenant, status=UserStatus.ACTIVE, vendor_user_id__in=deleted_there
        )
        .exclude(sync_status=SyncStatus.PENDING)
        .count()
        if deleted_there
        else 0
    )
    counts = directory.apply_directory(context.tenant, facts)
    if newly_deleted:
        counts["updated"] -= newly_deleted
        counts["removed"] += newly_deleted
    for outcome, number in counts.items():
        if number:
            context.count(NAME, outcome, number)
