"""Background work of the subscriptions domain. Tasks take ids and call services/provisioning."""

from __future__ import annotations

import logging

from django.db import transaction
from django.tasks import task

from seatkeeper.core import clock
from seatkeeper.providers.errors import ProviderError
from seatkeeper.providers.registry import get_provider
from seatkeeper.subscriptions import lifecycle as lifecycle_rules
from seatkeeper.subscriptions import notifications, provisioning
from seatkeeper.subscriptions.models import Status, Subscription

logger = logging.getLogger(__name__)
REFRESH_BATCH = 200


@task()
def provision(subscription_id: int) -> str:
    return provisioning.provision_subscription(subscription_id)


@task()
def provisioning_sweep() -> int:
    """Retries that fell due and operations abandoned by a worker that died."""
    ids = provisioning.due_subscription_ids(clock.now())
    for subscription_id in ids:
        provision.enqueue(subscription_id=subscription_id)
    return len(ids)


@task()
def refresh_vendor_facts() -> int:
    """Facts the vendor knows only later (the commitment end date can appear minutes after the
    subscription) are fetched again until present."""
    missing = (
        Subscription.objects.filter(
            tenant__isnull=False,
            status__in=[Status.ACTIVE, Status.SUSPENDED],
            commitment_end_date__isnull=True,
        )
        .exclude(vendor_subscription_id="")
        .select_related("tenant", "tenant__account")[:REFRESH_BATCH]
    )
    refreshed = 0
    for subscription in missing:
        try:
            facts = get_provider(subscription.tenant.account).get_subscription(
                customer_id=subscription.tenant.vendor_customer_id,
                subscription_id=subscription.vendor_subscription_id,
            )
        except ProviderError as error:
            logger.warning("refresh of subscription %s failed: %s", subscription.pk, error)
            continue
        with transaction.atomic():
            locked = (
                Subscription.objects.select_for_update()
                .select_related("customer")
                .get(pk=subscription.pk)
            )
            dates = provisioning.apply_vendor_facts(locked, facts)
            provisioning.record_vendor_dates(locked, dates)
            locked.save(
                update_fields=[
                    "vendor_subscription_id",
                    "vendor_order_id",
                    "commitment_end_date",
                    "cancellation_allowed_until",
                ]
            )
        refreshed += 1
    return refreshed


@task()
def lifecycle() -> dict[str, int]:
    """Renewals and expiries at term end."""
    return lifecycle_rules.run(clock.now())


@task()
def window_reminders() -> int:
    return notifications.closing_windows(clock.now())
