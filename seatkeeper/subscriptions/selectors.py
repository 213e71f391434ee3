"""Scoped reads of subscriptions, lots, operations and orders."""

from __future__ import annotations

import datetime as dt

from django.db.models import Count, Exists, OuterRef, Q, QuerySet
from django.http import Http404
from django.urls import reverse

from seatkeeper.accounts.models import Organisation, OrganisationKind, User
from seatkeeper.accounts.permissions import PARTNER_STAFF
from seatkeeper.core import clock
from seatkeeper.core.validation import object_id
from seatkeeper.subscriptions.models import (
    CustomerRights,
    Operation,
    OperationState,
    SeatLot,
    Subscription,
    SyncStatus,
    Tenant,
)


def subscriptions_visible_to(user: User) -> QuerySet[Subscription]:
    if not user.is_authenticated or not user.is_active or user.organisation_id is None:
        return Subscription.objects.none()
    return Subscription.objects.filter(customer__path__startswith=user.organisation.path)


def subscription_list(
    user: User, *, customer: Organisation | None = None
) -> QuerySet[Subscription]:
    """What the lists show: one query for the page, add-ons counted in it, no query per row."""
    queryset = subscriptions_visible_to(user)
    if customer is not None:
        queryset = queryset.filter(customer=customer)
    return queryset.select_related("offer", "offer__vendor", "customer", "reseller").annotate(
        addon_count=Count("addons", filter=~Q(addons__status="cancelled"), distinct=True)
    )


def filter_subscriptions(
    queryset: QuerySet[Subscription],
    *,
    status: str = "",
    section: str = "",
    text: str = "",
    renews_within: int | None = None,
    cancellable_within: int | None = None,
) -> QuerySet[Subscription]:
    """Status ("failed": provisioning failed), section, search, renewals within so many days
    and cancellation windows closing within so many hours (validated by
    forms.SubscriptionFilterForm); shared by the pages, their exports, the API and the
    dashboard's figures, so a figure and its list count the same rows."""
    if renews_within:
        today = clock.today()
        queryset = queryset.filter(
            status="active",
            commitment_end_date__gte=today,
            commitment_end_date__lte=today + dt.timedelta(days=renews_within),
        )
    if cancellable_within:
        now = clock.now()
        queryset = queryset.filter(
            Exists(
                SeatLot.objects.filter(
                    subscription=OuterRef("pk"),
                    quantity__gt=0,
                    cancellable_until__gt=now,
                    cancellable_until__lte=now + dt.timedelta(hours=cancellable_within),
                )
            ),
            status="active",
        )
    if status == "failed":
        queryset = queryset.filter(sync_status=SyncStatus.FAILED)
    elif status:
        queryset = queryset.filter(status=status)
    if section:
        queryset = queryset.filter(offer__kind=section)
    text = text.strip()
    if text:
        queryset = queryset.filter(
            Q(friendly_name__icontains=text)
            | Q(offer__title__icontains=text)
            | Q(customer__name__icontains=text)
            | Q(po_number__icontains=text)
            | Q(external_identifier__icontains=text)
            | Q(vendor_subscription_id__icontains=text)
        )
    return queryset


def get_subscription_for_user(user: User, pk: object) -> Subscription:
    try:
        return (
            subscriptions_visible_to(user)
            .select_related("offer", "offer__vendor", "customer", "reseller", "parent", "tenant")
            .get(pk=object_id(pk))
        )
    except (Subscription.DoesNotExist, TypeError, ValueError):
        raise Http404("No such subscription") from None


def get_operation_for_user(user: User, pk: object) -> Operation:
    try:
        return Operation.objects.select_related("subscription", "subscription__customer").get(
            pk=object_id(pk), subscription__in=subscriptions_visible_to(user)
        )
    except (Operation.DoesNotExist, TypeError, ValueError):
        raise Http404("No such operation") from None


def history(subscription: Subscription) -> QuerySet[Operation]:
    return subscription.operations.order_by("-sequence")


def open_lots(subscription: Subscription) -> QuerySet[SeatLot]:
    return subscription.lots.filter(quantity__gt=0)


# The dashboard's "cancellation windows closing" figure looks this many hours ahead.
WINDOW_HOURS = 48


def windows_closing(
    user: User, *, within: dt.timedelta = dt.timedelta(hours=WINDOW_HOURS)
) -> QuerySet[SeatLot]:
    now = clock.now()
    return (
        SeatLot.objects.filter(
            subscription__in=subscriptions_visible_to(user).filter(status="active"),
            quantity__gt=0,
            cancellable_until__gt=now,
            cancellable_until__lte=now + within,
        )
        .select_related("subscription", "subscription__customer", "subscription__offer")
        .order_by("cancellable_until")
    )


def fulfilment_queue(user: User) -> QuerySet[Operation]:
    return (
        Operation.objects.filter(
            subscription__in=subscriptions_visible_to(user),
            state=OperationState.AWAITING_FULFILMENT,
        )
        .select_related("subscription", "subscription__customer", "subscription__offer")
        .order_by("requested_at")
    )


REFUSED = Q(state=OperationState.FAILED) | Q(state=OperationState.REJECTED, settled_at__isnull=True)


def refused_operations(subscription: Subscription) -> QuerySet[Operation]:
    """Operations the vendor refused, or a person rejected, waiting for someone to send them
    again or withdraw them."""
    return subscription.operations.filter(REFUSED).order_by("sequence")


def refused_queue(user: User) -> QuerySet[Operation]:
    return (
        Operation.objects.filter(REFUSED, subscription__in=subscriptions_visible_to(user))
        .select_related("subscription", "subscription__customer", "subscription__offer")
        .order_by("requested_at")
    )


def rights_of(customer: Organisation) -> CustomerRights:
    return CustomerRights.objects.filter(customer=customer).first() or CustomerRights(
        customer=customer
    )


def tenant_of(customer: Organisation, account) -> Tenant | None:
    return Tenant.objects.filter(customer=customer, account=account).first()


def assigned_seats(subscription: Subscription) -> int:
    """Seats held by the tenant's users: the licences of the subscription's pool, shared out
    oldest subscription first (`people.selectors`, where the rule is written down)."""
    from seatkeeper.people.selectors import assigned_seats as held

    return held(subscription)


def assigned_by_subscription(subscriptions) -> dict[int, int]:
    from seatkeeper.people.selectors import assigned_by_subscription as held

    return held(subscriptions)


def subscription_members(subscription: Subscription):
    """The licences, each with its user, that hold the subscription's seats."""
    from seatkeeper.people.selectors import subscription_members as members

    return members(subscription)


def dashboard_summary(user: User) -> dict:
    """What the dashboard shows about the subscriptions `user` may see: failures, cancellation
    windows closing, the fulfilment queue for partner staff, and where the full list lives."""
    visible = subscriptions_visible_to(user)
    failed = visible.filter(sync_status=SyncStatus.FAILED)
    above_customers = user.organisation_id is not None and user.organisation.kind in (
        OrganisationKind.PARTNER,
        OrganisationKind.RESELLER,
    )
    return {
        "windows_closing": list(windows_closing(user)[:10]),
        # subscriptions, as the list behind the figure counts them (a subscription may have
        # several lots whose windows close)
        "windows_count": filter_subscriptions(visible, cancellable_within=WINDOW_HOURS).count(),
        "failed_count": failed.count(),
        "failed": list(failed.select_related("customer", "offer").order_by("-updated_at")[:5]),
        "fulfilment_count": fulfilment_queue(user).count() if user.role in PARTNER_STAFF else None,
        "subscriptions_url": reverse("subscription_list_all")
        if above_customers
        else reverse("customer_subscriptions", args=[user.organisation_id]),
    }
