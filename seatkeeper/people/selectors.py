"""Reads of the people domain, scoped to the person asking."""

from __future__ import annotations

from django.db.models import QuerySet
from django.http import Http404
from django.utils.translation import gettext as _

from seatkeeper.accounts.models import Organisation, User
from seatkeeper.accounts.selectors import organisations_visible_to
from seatkeeper.core.errors import ServiceError
from seatkeeper.people.models import TenantOnboarding, UserLicence, UserStatus
from seatkeeper.providers.models import ProviderAccount, ProviderKind
from seatkeeper.subscriptions.models import OperationState, Tenant


def microsoft_account_for(customer: Organisation) -> ProviderAccount:
    """The Microsoft provider account of the partner above `customer`."""
    ancestors = [int(part) for part in customer.path.strip("/").split("/") if part]
    account = (
        ProviderAccount.objects.filter(organisation_id__in=ancestors, kind=ProviderKind.MICROSOFT)
        .order_by("pk")
        .first()
    )
    if account is None:
        raise ServiceError(_("Your partner has no Microsoft provider account yet."))
    return account


def onboardings_visible_to(user: User) -> QuerySet[TenantOnboarding]:
    return TenantOnboarding.objects.filter(
        customer__in=organisations_visible_to(user)
    ).select_related("customer", "tenant")


def get_onboarding_for_user(user: User, pk: object) -> TenantOnboarding:
    try:
        return onboardings_visible_to(user).get(pk=int(str(pk)))
    except (TenantOnboarding.DoesNotExist, TypeError, ValueError):
        raise Http404("No such onboarding") from None


def current_onboarding(customer: Organisation) -> TenantOnboarding | None:
    """The onboarding under way (or failed) for `customer`, else its last finished one."""
    open_one = (
        TenantOnboarding.objects.filter(customer=customer)
        .exclude(state__in=[OperationState.DONE, OperationState.REJECTED])
        .order_by("-pk")
        .first()
    )
    return open_one or TenantOnboarding.objects.filter(customer=customer).order_by("-pk").first()


def microsoft_tenant_of(customer: Organisation) -> Tenant | None:
    return (
        Tenant.objects.filter(customer=customer, account__kind=ProviderKind.MICROSOFT)
        .order_by("pk")
        .first()
    )


def tenants_of(customer: Organisation):
    return Tenant.objects.filter(customer=customer).select_related("account").order_by("pk")


# --- seats held --------------------------------------------------------------------------------
#
# Microsoft counts consumed licences per directory SKU, not per subscription: two subscriptions
# of the same product (say 10 seats bought in January, 5 more in March as a second subscription)
# feed one pool. Seatkeeper shares a pool's licences out oldest subscription first: the licences,
# in the order they were given, fill the subscription that started first (then the lowest id) up
# to its quantity, then the next one. Whatever is left when every subscription is full (the
# vendor allowed more than we know of) stays on the newest one, so the sum always equals what is
# held. Only active and suspended subscriptions hold seats.

SEAT_HOLDING = ("active", "suspended")


def _pool(tenant_id: int, product_key: str) -> list[tuple[int, int]]:
    """(id, quantity) of the subscriptions sharing one licence pool, oldest first."""
    from seatkeeper.subscriptions.models import Subscription

    return list(
        Subscription.objects.filter(
            tenant_id=tenant_id, offer__external_id=product_key, status__in=SEAT_HOLDING
        )
        .order_by("start_date", "pk")
        .values_list("pk", "quantity")
    )


def _pool_licences(tenant_id: int, product_key: str) -> QuerySet[UserLicence]:
    return (
        UserLicence.objects.filter(
            sku__tenant_id=tenant_id,
            sku__product_key=product_key,
            user__status=UserStatus.ACTIVE,
        )
        .select_related("user", "sku")
        .order_by("assigned_at", "pk")
    )


def seat_shares(pool: list[tuple[int, int]], held: int) -> dict[int, tuple[int, int]]:
    """Each subscription's slice [start, stop) of the pool's `held` licences (oldest first; the
    last one takes any excess). Shared by the people pages and the reconciliation's seats."""
    shares, start = {}, 0
    for index, (pk, quantity) in enumerate(pool):
        stop = held if index == len(pool) - 1 else min(start + quantity, held)
        shares[pk] = (min(start, held), max(stop, min(start, held)))
        start += quantity
    return shares


def _holds_seats(subscription) -> bool:
    return (
        subscription.status in SEAT_HOLDING
        and subscription.tenant_id is not None
        and bool(subscription.offer.external_id)
    )


def check_seat_left(subscription, *, held: int, seats: int) -> None:
    """The one seat rule, for a Microsoft licence pool as for a manual vendor's subscription:
    a seat is given only while fewer than the seats bought are held."""
    if held >= seats:
        raise ServiceError(
            _(
                "No seat left in %(subscription)s: %(held)s of %(seats)s are assigned. Add "
                "seats or take a licence back first."
            )
            % {"subscription": subscription.friendly_name, "held": held, "seats": seats},
            code="no_seat_left",
        )


def _member_seats(subscriptions) -> dict[int, int]:
    """Seats held by members in each manual vendor's subscription: one seat, one member."""
    from django.db.models import Count

    from seatkeeper.people.models import MemberSeat

    manual = [s.pk for s in subscriptions if s.tenant_id is None and s.status in SEAT_HOLDING]
    if not manual:
        return {}
    return dict(
        MemberSeat.objects.filter(subscription_id__in=manual)
        .values("subscription_id")
        .annotate(n=Count("pk"))
        .values_list("subscription_id", "n")
    )


def assigned_by_subscription(subscriptions) -> dict[int, int]:
    """Seats held in each of `subscriptions` (two queries per licence pool, not per row)."""
    out = {subscription.pk: 0 for subscription in subscriptions}
    out.update(_member_seats(subscriptions))
    pools = {
        (subscription.tenant_id, subscription.offer.external_id)
        for subscription in subscriptions
        if _holds_seats(subscription)
    }
    for tenant_id, product_key in pools:
        held = _pool_licences(tenant_id, product_key).count()
        for pk, (start, stop) in seat_shares(_pool(tenant_id, product_key), held).items():
            if pk in out:
                out[pk] = stop - start
    return out


def assigned_seats(subscription) -> int:
    return assigned_by_subscription([subscription])[subscription.pk]


def subscription_members(subscription) -> list[UserLicence]:
    """The licences (each with its user) that hold `subscription`'s seats; for a manual
    vendor's subscription, its members' seats (each with its member as `user`)."""
    if subscription.tenant_id is None and subscription.status in SEAT_HOLDING:
        from seatkeeper.people.models import MemberSeat

        return list(
            MemberSeat.objects.filter(subscription=subscription)
            .select_related("member", "subscription__offer")
            .order_by("assigned_at", "pk")
        )
    if not _holds_seats(subscription):
        return []
    tenant_id, product_key = subscription.tenant_id, subscription.offer.external_id
    licences = _pool_licences(tenant_id, product_key)
    start, stop = seat_shares(_pool(tenant_id, product_key), licences.count()).get(
        subscription.pk, (0, 0)
    )
    return list(licences[start:stop]) if stop > start else []


# --- a customer's directory users --------------------------------------------------------------

USER_FILTERS = ("all", "licensed", "unlicensed", "deleted")


def directory_users(customer: Organisation, *, show: str = "all", search: str = ""):
    """The customer's users with how many licences each holds. "all", "licensed" and
    "unlicensed" are the active users; "deleted" those deleted at the vendor."""
    from django.db.models import Count, Q

    from seatkeeper.people.models import DirectoryUser

    users = DirectoryUser.objects.filter(customer=customer).annotate(
        licence_count=Count("licences")
    )
    if show == "deleted":
        users = users.filter(status=UserStatus.DELETED)
    else:
        users = users.filter(status=UserStatus.ACTIVE)
        if show == "licensed":
            users = users.filter(licence_count__gt=0)
        elif show == "unlicensed":
            users = users.filter(licence_count=0)
    search = search.strip()[:100]
    if search:
        users = users.filter(
            Q(display_name__icontains=search) | Q(user_principal_name__icontains=search)
        )
    return users.prefetch_related("licences__sku")


def get_directory_user(customer: Organisation, pk: object):
    from seatkeeper.people.models import DirectoryUser

    try:
        return DirectoryUser.objects.select_related("tenant", "customer").get(
            customer=customer, pk=int(str(pk))
        )
    except (DirectoryUser.DoesNotExist, TypeError, ValueError):
        raise Http404("No such user") from None


def licence_choices(user) -> list[dict]:
    """The customer's subscriptions a licence can come from, each with its seats: bought,
    assigned (shared out as `assigned_by_subscription` does) and left."""
    from seatkeeper.subscriptions.models import Subscription

    subscriptions = list(
        Subscription.objects.filter(
            tenant_id=user.tenant_id, status__in=SEAT_HOLDING, parent__isnull=True
        )
        .select_related("offer")
        .order_by("friendly_name", "pk")
    )
    assigned = assigned_by_subscription(subscriptions)
    return [
        {
            "subscription": subscription,
            "assigned": assigned[subscription.pk],
            "available": max(subscription.quantity - assigned[subscription.pk], 0),
        }
        for subscription in subscriptions
    ]


# --- seats in bulk (dashboard, right-sizing) ---------------------------------------------------


def _seat_holding(subscriptions: QuerySet) -> QuerySet:
    return subscriptions.filter(status__in=SEAT_HOLDING, tenant__isnull=False).exclude(
        offer__external_id=""
    )


def seats_in_bulk(subscriptions: QuerySet) -> list[dict]:
    """Every seat-holding subscription of `subscriptions` with its quantity and the seats held in
    it, shared out as `assigned_by_subscription` does, in two queries whatever their number: the
    pools are read whole (a pool belongs to one tenant, so to one customer: the viewer sees all
    of it or none), and the licences are counted per pool in the database."""
    from django.db.models import Count

    from seatkeeper.subscriptions.models import Subscription

    visible = _seat_holding(subscriptions)
    rows = list(
        Subscription.objects.filter(
            tenant_id__in=visible.values("tenant_id"), status__in=SEAT_HOLDING
        )
        .exclude(offer__external_id="")
        .order_by("start_date", "pk")
        .values("pk", "tenant_id", "offer__external_id", "quantity")
    )
    wanted = set(visible.values_list("pk", flat=True))
    held = {
        (row["sku__tenant_id"], row["sku__product_key"]): row["held"]
        for row in UserLicence.objects.filter(
            sku__tenant_id__in=visible.values("tenant_id"), user__status=UserStatus.ACTIVE
        )
        .values("sku__tenant_id", "sku__product_key")
        .annotate(held=Count("pk"))
        .order_by()
    }
    pools: dict[tuple, list[tuple[int, int]]] = {}
    for row in rows:
        pools.setdefault((row["tenant_id"], row["offer__external_id"]), []).append(
            (row["pk"], row["quantity"])
        )
    out = []
    for key, pool in pools.items():
        quantities = dict(pool)
        for pk, (start, stop) in seat_shares(pool, held.get(key, 0)).items():
            if pk in wanted:
                out.append({"pk": pk, "quantity": quantities[pk], "assigned": stop - start})
    return out


def seat_totals(subscriptions: QuerySet) -> dict:
    """Seats bought and seats held across the seat-holding subscriptions of `subscriptions`, added
    by the database (two queries, whatever the number of customers)."""
    from django.db.models import Exists, OuterRef, Sum

    visible = _seat_holding(subscriptions)
    purchased = visible.aggregate(total=Sum("quantity"))["total"] or 0
    pool_visible = visible.filter(
        tenant_id=OuterRef("sku__tenant_id"), offer__external_id=OuterRef("sku__product_key")
    )
    assigned = (
        UserLicence.objects.filter(user__status=UserStatus.ACTIVE)
        .filter(Exists(pool_visible))
        .count()
    )
    return {
        "purchased": purchased,
        "assigned": assigned,
        "unassigned": max(purchased - assigned, 0),
    }


def refused_user_changes(customer: Organisation, limit: int = 10):
    """The customer's latest user changes the vendor refused for good, newest first (a refused
    creation leaves nothing else behind to show it)."""
    from seatkeeper.people.models import UserChange

    return list(
        UserChange.objects.filter(customer=customer, state=OperationState.FAILED).order_by("-pk")[
            :limit
        ]
    )


def bulk_licence_choices(customer: Organisation) -> list:
    """The customer's vendor subscriptions a licence can be given from, for the users list."""
    from seatkeeper.subscriptions.models import Subscription

    return list(
        Subscription.objects.filter(
            customer=customer,
            tenant__isnull=False,
            status__in=SEAT_HOLDING,
            parent__isnull=True,
        )
        .select_related("offer")
        .order_by("friendly_name", "pk")
    )


def manual_vendors_of(customer: Organisation) -> list:
    """The manual vendors (Rainbow) the customer has subscriptions of: their members are here."""
    from seatkeeper.catalog.models import Vendor, VendorKind

    return list(
        Vendor.objects.filter(
            kind=VendorKind.MANUAL,
            offers__subscriptions__customer=customer,
            offers__subscriptions__tenant__isnull=True,
        )
        .distinct()
        .order_by("name")
    )
