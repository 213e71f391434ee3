"""Scoped reads of subscriptions, lots, operations and orders."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db.models import Count, Exists, OuterRef, Q, QuerySet, Subquery
from django.http import Http404
from django.urls import reverse

from seatkeeper.accounts.models import Organisation, OrganisationKind, User
from seatkeeper.accounts.permissions import PARTNER_STAFF
from seatkeeper.catalog.models import Offer, OfferKind
from seatkeeper.catalog.selectors import offers_visible_to
from seatkeeper.core import clock
from seatkeeper.core.validation import object_id
from seatkeeper.subscriptions.models import (
    CustomerRights,
    Operation,
    OperationState,
    SeatLot,
    Status,
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


def renewing_within(queryset: QuerySet[Subscription], days: int) -> QuerySet[Subscription]:
    """Active subscriptions whose term ends within `days` days (filters.SubscriptionFilter and
    the dashboard's renewals figure, so the figure and its list count the same rows)."""
    today = clock.today()
    return queryset.filter(
        status="active",
        commitment_end_date__gte=today,
        commitment_end_date__lte=today + dt.timedelta(days=days),
    )


def cancellable_within(queryset: QuerySet[Subscription], hours: int) -> QuerySet[Subscription]:
    """Active subscriptions with seats whose cancellation window closes within `hours` hours
    (filters.SubscriptionFilter and the dashboard's windows figure)."""
    now = clock.now()
    return queryset.filter(
        Exists(
            SeatLot.objects.filter(
                subscription=OuterRef("pk"),
                quantity__gt=0,
                cancellable_until__gt=now,
                cancellable_until__lte=now + dt.timedelta(hours=hours),
            )
        ),
        status="active",
    )


def with_status(queryset: QuerySet[Subscription], status: str) -> QuerySet[Subscription]:
    """Subscriptions of `status`; "failed" is those whose provisioning failed
    (filters.SubscriptionFilter)."""
    if status == "failed":
        return queryset.filter(sync_status=SyncStatus.FAILED)
    return queryset.filter(status=status) if status else queryset


def search_subscriptions(queryset: QuerySet[Subscription], text: str) -> QuerySet[Subscription]:
    """The search of the lists, their exports and the API (filters.SubscriptionFilter)."""
    text = text.strip()
    if not text:
        return queryset
    return queryset.filter(
        Q(friendly_name__icontains=text)
        | Q(offer__title__icontains=text)
        | Q(customer__name__icontains=text)
        | Q(po_number__icontains=text)
        | Q(external_identifier__icontains=text)
        | Q(vendor_subscription_id__icontains=text)
    )


def with_failed_operation(queryset: QuerySet[Subscription]) -> QuerySet[Subscription]:
    """Each row with the id of its first failed operation (`failed_operation_id`), for "Retry"."""
    failed = Operation.objects.filter(
        subscription=OuterRef("pk"), state=OperationState.FAILED
    ).order_by("sequence")
    return queryset.annotate(failed_operation_id=Subquery(failed.values("pk")[:1]))


def section_counts(user: User, customer: Organisation) -> dict[str, int]:
    """Subscriptions of `customer` not ended, per section (offer kind), for the section tabs."""
    return dict(
        subscriptions_visible_to(user)
        .filter(customer=customer)
        .exclude(status=Status.CANCELLED)
        .order_by()
        .values_list("offer__kind")
        .annotate(n=Count("pk"))
    )


def has_operation_in_flight(subscription: Subscription) -> bool:
    """A change the vendor is working on (a change waiting for a person in the fulfilment queue
    is not one): the page refreshes itself until it settles."""
    return subscription.operations.filter(
        state__in=(OperationState.PENDING, OperationState.RUNNING)
    ).exists()


def own_margin_rule(subscription: Subscription):
    """The margin set for this one subscription (the latest), or None."""
    from seatkeeper.pricing.models import MarginRule

    return (
        MarginRule.objects.filter(
            subscription_ref=str(subscription.pk), target_id=subscription.customer_id
        )
        .order_by("-effective_from", "-id")
        .first()
    )


@dataclass(frozen=True)
class StoreShelf:
    """What the store shows: the categories, the chosen one's product groups, the chosen
    group's products (the first of each when the asked one does not exist)."""

    offers: QuerySet[Offer]  # all the store sells this person (add-ons are ordered apart)
    categories: list[str]
    category: str
    groups: list[str]
    group: str
    products: list[Offer]


def store_shelf(user: User, *, category: str, group: str) -> StoreShelf:
    offers = (
        offers_visible_to(user)
        .filter(status="active", vendor__is_active=True)
        .exclude(kind=OfferKind.ADDON)
    )
    categories = sorted(set(offers.values_list("category", flat=True)))
    if category not in categories:
        category = categories[0] if categories else ""
    in_category = offers.filter(category=category)
    groups = sorted(set(in_category.values_list("product_group", flat=True)))
    if group not in groups:
        group = groups[0] if groups else ""
    products = list(
        in_category.filter(product_group=group).prefetch_related("terms").order_by("title")
    )
    return StoreShelf(offers, categories, category, groups, group, products)


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
        "windows_count": cancellable_within(visible, WINDOW_HOURS).count(),
        "failed_count": failed.count(),
        "failed": list(failed.select_related("customer", "offer").order_by("-updated_at")[:5]),
        "fulfilment_count": fulfilment_queue(user).count() if user.role in PARTNER_STAFF else None,
        "subscriptions_url": reverse("subscription_list_all")
        if above_customers
        else reverse("customer_subscriptions", args=[user.organisation_id]),
    }
