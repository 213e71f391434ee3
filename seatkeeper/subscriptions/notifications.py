"""E-mail about subscriptions, to the people who can act on it, each in their own language.

Failures that need a person go to the staff who can retry (the customer's reseller admins, or the
partner's operators and cloud admins for a direct customer). Renewals and closing cancellation
windows go to the customer's admins and its reseller's admins.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from django.conf import settings
from django.core.mail import send_mail
from django.db.models import Q
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import translation

from seatkeeper.accounts.models import Organisation, Role, User
from seatkeeper.subscriptions.models import Operation, SeatLot, Subscription

WINDOW_NOTICE = dt.timedelta(hours=48)


def _staff_for(customer: Organisation) -> list[User]:
    ancestors = [int(part) for part in customer.path.strip("/").split("/")[:-1]]
    query = Q(organisation_id__in=ancestors, role=Role.RESELLER_ADMIN)
    if not User.objects.filter(query, is_active=True).exists():
        query = Q(organisation_id__in=ancestors, role__in=[Role.PARTNER_OPERATOR, Role.CLOUD_ADMIN])
    return list(User.objects.filter(query, is_active=True).select_related("organisation"))


def _admins_for(customer: Organisation) -> list[User]:
    ancestors = [int(part) for part in customer.path.strip("/").split("/")[:-1]]
    query = Q(organisation=customer, role=Role.CUSTOMER_ADMIN) | Q(
        organisation_id__in=ancestors, role=Role.RESELLER_ADMIN
    )
    return list(User.objects.filter(query, is_active=True).select_related("organisation"))


def _send(template: str, recipients: Iterable[User], context: dict) -> int:
    sent = 0
    for user in recipients:
        with translation.override(user.preferred_language):
            subject = render_to_string(
                f"subscriptions/email/{template}_subject.txt", context
            ).strip()
            body = render_to_string(
                f"subscriptions/email/{template}.txt", {**context, "user": user}
            )
        send_mail(subject, body, None, [user.email])
        sent += 1
    return sent


def _link(subscription: Subscription) -> str:
    return settings.SITE_URL.rstrip("/") + reverse("subscription_detail", args=[subscription.pk])


def provisioning_failed(*, operation_id: int) -> int:
    operation = Operation.objects.select_related(
        "subscription", "subscription__customer", "subscription__offer"
    ).get(pk=operation_id)
    subscription = operation.subscription
    recipients = _staff_for(subscription.customer)
    renewal_not_seen = operation.error_code == "renewal_not_seen"
    if renewal_not_seen:
        # Their subscription did not renew as they chose: the customer's admins hear it too.
        seen = {user.pk for user in recipients}
        recipients += [u for u in _admins_for(subscription.customer) if u.pk not in seen]
    return _send(
        "failed",
        recipients,
        {
            "subscription": subscription,
            "operation": operation,
            "link": _link(subscription),
            "renewal_not_seen": renewal_not_seen,
        },
    )


def renewed(*, subscription_id: int) -> int:
    subscription = Subscription.objects.select_related("customer", "offer").get(pk=subscription_id)
    return _send(
        "renewed",
        _admins_for(subscription.customer),
        {"subscription": subscription, "link": _link(subscription)},
    )


def closing_windows(now: dt.datetime) -> int:
    """Remind once per seat lot, 48 hours or less before its removal window closes."""
    lots = SeatLot.objects.filter(
        quantity__gt=0,
        reminded_at__isnull=True,
        cancellable_until__gt=now,
        cancellable_until__lte=now + WINDOW_NOTICE,
        subscription__status="active",
    ).select_related("subscription", "subscription__customer", "subscription__offer")
    sent = 0
    for lot in lots:
        claimed = SeatLot.objects.filter(pk=lot.pk, reminded_at__isnull=True).update(
            reminded_at=now
        )
        if claimed != 1:
            continue  # another scheduler sent it
        subscription = lot.subscription
        sent += _send(
            "window",
            _admins_for(subscription.customer),
            {"subscription": subscription, "lot": lot, "link": _link(subscription)},
        )
    return sent
