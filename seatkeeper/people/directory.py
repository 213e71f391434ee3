"""A customer's tenant directory, read from the vendor: its users, the licences they hold and
the tenant's licence pools (subscribed SKUs).

A sync streams: the licence pools first (`directory_begin`), then one page of users at a time
with the licences of that page's users (`directory_page`: one transaction, a few bulk queries),
then the steps that need the whole directory (`directory_finish`). No transaction is open while
the vendor answers, and no more than one page of users is held in memory: what the end needs is
the local ids of the users listed (8 bytes each) and of those found, or the database itself. A
vendor failure half-way leaves the pages already read written; the next sync reads everything
again. "Sync now" (`users_sync`) streams from the vendor; discovery's "users" kind reads the
directory first (`fetch_directory`) and writes it through the same page writer
(`apply_directory`), so a user found either way is the same record.

Matching is by the vendor's user id within the tenant. A user whose change of ours is still on
its way to the vendor (`sync_status` pending) is left as it is, and so is a vendor user with the
name of a user we are still creating (`people.users`: the worker records its id). A new user
found here gets the customer's default licence, or the activity log says why not. A user the
vendor no longer lists at all (past Microsoft's 30 days of soft deletion) is marked deleted here,
never erased: its history stays readable.

Licences name a directory SKU id (Microsoft: the Entra SKU GUID, `productSku.id`), not a
subscription. The catalog SKU of each product the tenant subscribes to carries the same id
(`dynamicAttributes.provisioningId`), which is how a licence pool is tied to the customer's
subscriptions (`LicenceSku.product_key`).
"""

from __future__ import annotations

import datetime as dt
from array import array
from bisect import bisect_left
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import batched

from django.db import transaction
from django.db.models import Exists, OuterRef
from django.db.models.functions import Coalesce, Lower
from django.utils.translation import gettext as _

from seatkeeper.accounts.models import Organisation, User
from seatkeeper.accounts.permissions import can_read
from seatkeeper.activity.services import activity_record
from seatkeeper.core import clock
from seatkeeper.core.errors import PermissionRefused, ServiceError
from seatkeeper.people.models import (
    DefaultLicence,
    DirectoryUser,
    LicenceSku,
    UserLicence,
    UserStatus,
)
from seatkeeper.providers import interface as vendor
from seatkeeper.providers.errors import ProviderError
from seatkeeper.providers.models import ProviderAccount
from seatkeeper.providers.registry import get_provider
from seatkeeper.subscriptions.models import Subscription, SyncStatus, Tenant

ProviderFactory = Callable[[ProviderAccount], vendor.Provider]

# Users read and written together: the vendor's page size (Partner Center allows up to 500).
PAGE_SIZE = 500
# Rows read or changed per query in the end steps.
CHUNK = 2000

# The fields a sync adopts from the vendor.
USER_FIELDS = (
    "display_name",
    "user_principal_name",
    "first_name",
    "last_name",
    "usage_location",
    "status",
    "deleted_at",
)


@dataclass
class DirectoryFacts:
    """What the vendor said about one tenant's directory (discovery reads it whole)."""

    users: list[vendor.TenantUser] = field(default_factory=list)
    # Licences of each active user, by vendor user id.
    licences: dict[str, list[vendor.UserLicence]] = field(default_factory=dict)
    skus: list[vendor.SubscribedSku] = field(default_factory=list)
    # Directory SKU id -> catalog product key ("productId:skuId").
    products: dict[str, str] = field(default_factory=dict)


@dataclass
class DirectoryRun:
    """What a sync keeps from one page to the next: the tenant's licence pools (a handful) and
    local ids, never the users themselves."""

    tenant: Tenant
    now: dt.datetime
    products: dict[str, str]
    # Directory SKU id -> its row; `written`: the SKU ids this run already brought in line.
    skus: dict[str, LicenceSku]
    written: set[str] = field(default_factory=set)
    # Local ids of every user the vendor listed (whatever we did with it), and of the users
    # this run created active (they get the default licence at the end).
    listed: array = field(default_factory=lambda: array("q"))
    found: array = field(default_factory=lambda: array("q"))
    counts: Counter = field(default_factory=Counter)
    pages: int = 0


def read_pools(
    provider: vendor.Provider,
    *,
    vendor_customer_id: str,
    product_ids: Iterable[str] = (),
    country: str = "",
) -> tuple[list[vendor.SubscribedSku], dict[str, str]]:
    """The tenant's licence pools, and the catalog product key of each pool's SKU id."""
    skus = list(provider.list_subscribed_skus(customer_id=vendor_customer_id))
    products: dict[str, str] = {}
    for product_id in sorted({pid for pid in product_ids if pid}):
        for sku in provider.list_skus(product_id=product_id, country=country):
            if sku.provisioning_id:
                products[sku.provisioning_id.lower()] = sku.key
    return skus, products


def read_licences(
    provider: vendor.Provider, *, vendor_customer_id: str, users: Iterable[vendor.TenantUser]
) -> dict[str, list[vendor.UserLicence]]:
    """The licences of the active users among `users`: Partner Center has no tenant-wide
    licence listing, so one call per user."""
    return {
        user.id: list(provider.list_user_licences(customer_id=vendor_customer_id, user_id=user.id))
        for user in users
        if user.state == vendor.UserState.ACTIVE
    }


def fetch_directory(
    provider: vendor.Provider,
    *,
    vendor_customer_id: str,
    product_ids: Iterable[str] = (),
    country: str = "",
) -> DirectoryFacts:
    """Every vendor read a directory sync needs, held whole (discovery reads before it writes);
    the listings page through the vendor's continuation tokens inside the connector."""
    facts = DirectoryFacts()
    facts.users = list(provider.list_users(customer_id=vendor_customer_id))
    active_ids = {user.id for user in facts.users}
    # Soft-deleted users are listed apart (Partner Center: the UserState=Inactive filter).
    facts.users += [
        user
        for user in provider.list_users(customer_id=vendor_customer_id, deleted=True)
        if user.id not in active_ids
    ]
    facts.licences = read_licences(
        provider, vendor_customer_id=vendor_customer_id, users=facts.users
    )
    facts.skus, facts.products = read_pools(
        provider, vendor_customer_id=vendor_customer_id, product_ids=product_ids, country=country
    )
    return facts


def _sku_write(run: DirectoryRun, sku_id: str, values: dict) -> None:
    """Bring one licence pool's row in line with what the vendor said of it."""
    run.written.add(sku_id)
    product_key = run.products.get(sku_id)
    row = run.skus.get(sku_id)
    if row is None:
        run.skus[sku_id] = LicenceSku.objects.create(
            tenant=run.tenant, sku_id=sku_id, product_key=product_key or "", **values
        )
        return
    if product_key:
        values["product_key"] = product_key
    changed = [name for name, value in values.items() if getattr(row, name) != value]
    if changed:
        for name in changed:
            setattr(row, name, values[name])
        row.save(update_fields=changed)


def directory_begin(
    tenant: Tenant, skus: Iterable[vendor.SubscribedSku], products: Mapping[str, str]
) -> DirectoryRun:
    """Start a sync: write the tenant's licence pools."""
    run = DirectoryRun(
        tenant=tenant,
        now=clock.now(),
        products=dict(products),
        skus={row.sku_id: row for row in LicenceSku.objects.filter(tenant=tenant)},
    )
    with transaction.atomic():
        for sku in skus:
            _sku_write(
                run,
                sku.sku_id.lower(),
                {
                    "part_number": sku.sku_part_number[:120],
                    "name": sku.name[:300],
                    "total_units": max(sku.total_units, 0),
                    "consumed_units": max(sku.consumed_units, 0),
                },
            )
    return run


def _user_values(facts: vendor.TenantUser) -> dict:
    deleted = facts.state == vendor.UserState.DELETED
    return {
        "display_name": (facts.display_name or facts.user_principal_name)[:256],
        "user_principal_name": facts.user_principal_name[:255],
        "first_name": facts.first_name[:64],
        "last_name": facts.last_name[:64],
        "usage_location": facts.usage_location.upper()[:2],
        "status": UserStatus.DELETED if deleted else UserStatus.ACTIVE,
        "deleted_at": facts.deleted_at if deleted else None,
    }


def _contains(ordered: Sequence[int], value: int) -> bool:
    at = bisect_left(ordered, value)
    return at < len(ordered) and ordered[at] == value


def directory_page(
    run: DirectoryRun,
    users: Sequence[vendor.TenantUser],
    licences: Mapping[str, Sequence[vendor.UserLicence]],
    *,
    skip: Sequence[int] = (),
) -> None:
    """Write one page of the vendor's users and their licences, in one transaction. `skip`
    (sorted local ids): users already written by this run, left as they are."""
    tenant, now, counts = run.tenant, run.now, run.counts
    with transaction.atomic():
        # Pools a licence names that the tenant's listing of pools did not.
        for held in licences.values():
            for licence in held:
                sku_id = licence.sku_id.lower()
                if sku_id not in run.written:
                    _sku_write(
                        run,
                        sku_id,
                        {
                            "part_number": licence.sku_part_number[:120],
                            "name": licence.name[:300],
                            "total_units": 0,
                            "consumed_units": 0,
                        },
                    )
        known = {
            user.vendor_user_id: user
            for user in DirectoryUser.objects.filter(
                tenant=tenant, vendor_user_id__in=[facts.id for facts in users]
            )
        }
        # Users created here the vendor has not confirmed yet: the vendor may list one already.
        names = {facts.user_principal_name.lower() for facts in users if facts.id not in known}
        # (Listed: once the worker records its id, it is not one the vendor dropped.)
        creating = (
            dict(
                DirectoryUser.objects.filter(tenant=tenant, vendor_user_id="")
                .annotate(name=Lower("user_principal_name"))
                .filter(name__in=names)
                .values_list("name", "pk")
            )
            if names
            else {}
        )
        held_by: dict[int, dict[int, int]] = {}
        for licence_pk, user_pk, sku_pk in UserLicence.objects.filter(
            user__in=[user.pk for user in known.values()]
        ).values_list("pk", "user_id", "sku_id"):
            held_by.setdefault(user_pk, {})[sku_pk] = licence_pk
        created: list[tuple[DirectoryUser, set[int]]] = []
        changed_users: list[DirectoryUser] = []
        changed_fields: set[str] = set()
        synced: list[int] = []
        gone: list[int] = []
        given: list[UserLicence] = []
        for facts in users:
            user = known.get(facts.id)
            if user is not None and skip and _contains(skip, user.pk):
                continue  # listed twice (active and deleted): the active listing stands
            if user is not None:
                run.listed.append(user.pk)
            if user is not None and user.sync_status == SyncStatus.PENDING:
                counts["unchanged"] += 1  # a change of ours is on its way: it stands
                continue
            if user is None and facts.user_principal_name.lower() in creating:
                run.listed.append(creating[facts.user_principal_name.lower()])
                counts["unchanged"] += 1  # ours, being created: the worker records its id
                continue
            values = _user_values(facts)
            wanted = {run.skus[licence.sku_id.lower()].pk for licence in licences.get(facts.id, [])}
            if user is None:
                user = DirectoryUser(
                    tenant=tenant,
                    customer_id=tenant.customer_id,
                    vendor_user_id=facts.id,
                    synced_at=now,
                    **values,
                )
                created.append((user, wanted))
                counts["created"] += 1
                continue
            synced.append(user.pk)
            changed = [name for name in USER_FIELDS if getattr(user, name) != values[name]]
            if changed:
                for name in changed:
                    setattr(user, name, values[name])
                user.updated_at = now
                changed_users.append(user)
                changed_fields.update(changed)
            held = held_by.get(user.pk, {})
            dropped = [licence_pk for sku_pk, licence_pk in held.items() if sku_pk not in wanted]
            added = [sku_pk for sku_pk in wanted if sku_pk not in held]
            gone += dropped
            given += (UserLicence(user=user, sku_id=sku_pk, assigned_at=now) for sku_pk in added)
            counts["updated" if changed or dropped or added else "unchanged"] += 1
        if created:
            DirectoryUser.objects.bulk_create([user for user, _wanted in created])
            for user, wanted in created:
                run.listed.append(user.pk)
                if user.status == UserStatus.ACTIVE:
                    run.found.append(user.pk)
                given += (
                    UserLicence(user=user, sku_id=sku_pk, assigned_at=now) for sku_pk in wanted
                )
        if changed_users:
            DirectoryUser.objects.bulk_update(
                changed_users, [*sorted(changed_fields), "updated_at"]
            )
        if gone:
            UserLicence.objects.filter(pk__in=gone).delete()
        if given:
            UserLicence.objects.bulk_create(given)
        if synced:
            DirectoryUser.objects.filter(pk__in=synced).update(synced_at=now)
    run.pages += 1


def _chunks(ids: Iterable[int]) -> Iterator[tuple[int, ...]]:
    return batched(ids, CHUNK)


def directory_finish(run: DirectoryRun, *, complete: bool = True) -> Counter:
    """The steps that need the whole directory; returns how many users were created, updated,
    unchanged and removed (marked deleted because the vendor no longer lists them). Not
    `complete` (the vendor stopped answering half-way): nobody is marked deleted, since the
    listing was cut short, but the users found so far get their default licence."""
    tenant, now, counts = run.tenant, run.now, run.counts
    if complete:
        listed = array("q", sorted(run.listed))
        candidates = (
            DirectoryUser.objects.filter(tenant=tenant)
            .exclude(vendor_user_id="")
            .exclude(sync_status=SyncStatus.PENDING)
            .annotate(holds=Exists(UserLicence.objects.filter(user=OuterRef("pk"))))
            .order_by("pk")
            .values_list("pk", "status", "holds")
        )
        removed = array(
            "q",
            (
                pk
                for pk, status, holds in candidates.iterator(chunk_size=CHUNK)
                if not _contains(listed, pk) and (status != UserStatus.DELETED or holds)
            ),
        )
        del listed
        for chunk in _chunks(removed):
            DirectoryUser.objects.filter(pk__in=chunk).update(
                status=UserStatus.DELETED,
                deleted_at=Coalesce("deleted_at", now),
                updated_at=now,
            )
            UserLicence.objects.filter(user__in=chunk).delete()
        if removed:
            counts["removed"] += len(removed)
    from seatkeeper.people.licences import overflow_withdraw

    # The vendor's own assignments may have taken the seats our pending ones counted on.
    withdrawn = overflow_withdraw(tenant.pk)
    if withdrawn:
        counts["withdrawn"] = withdrawn
    if run.found and DefaultLicence.objects.filter(customer_id=tenant.customer_id).exists():
        from seatkeeper.people.users import default_licence_for_found

        # New users get the customer's default licence; why not is in the activity log.
        for chunk in _chunks(run.found):
            users = DirectoryUser.objects.filter(pk__in=chunk).select_related("customer")
            for user in users.order_by("pk"):
                if user.status == UserStatus.ACTIVE:
                    default_licence_for_found(user)
    return counts


def apply_directory(tenant: Tenant, facts: DirectoryFacts) -> Counter:
    """Write a directory read whole (`fetch_directory`), a page at a time; returns the counts
    of `directory_finish`."""
    run = directory_begin(tenant, facts.skus, facts.products)
    for page in batched(facts.users, PAGE_SIZE):
        directory_page(run, page, {u.id: facts.licences.get(u.id, []) for u in page})
    return directory_finish(run)


def directory_stream(provider: vendor.Provider, run: DirectoryRun) -> None:
    """Read the tenant's users from the vendor a page at a time, each page's licences with it,
    writing each page before reading the next. A ProviderError is raised as it comes: the pages
    written before it stay (`run.pages`)."""
    customer_id = run.tenant.vendor_customer_id
    skip: Sequence[int] = ()
    # Soft-deleted users are listed apart (Partner Center: the UserState=Inactive filter).
    for deleted in (False, True):
        if deleted:
            skip = array("q", sorted(run.listed))
        listing = provider.list_users(customer_id=customer_id, deleted=deleted, page_size=PAGE_SIZE)
        for page in batched(listing, PAGE_SIZE):
            held = read_licences(provider, vendor_customer_id=customer_id, users=page)
            directory_page(run, page, held, skip=skip)


def _check_sync(actor: User | None, customer: Organisation) -> None:
    if actor is not None and not can_read(actor, customer):
        raise PermissionRefused(_("You may not see this customer's users."))


def _synced(
    actor: User | None,
    customer: Organisation,
    run: DirectoryRun,
    operation: str,
    names: Sequence[str] = ("created", "updated", "removed"),
) -> None:
    activity_record(
        actor=actor,
        organisation=customer,
        obj=run.tenant,
        operation=operation,
        details={name: run.counts.get(name, 0) for name in names},
    )


def users_sync(
    *,
    actor: User | None,
    customer: Organisation,
    provider_factory: ProviderFactory | None = None,
) -> Counter:
    """Read the customer's tenant directory from the vendor now and bring ours in line, a page
    of users at a time."""
    _check_sync(actor, customer)
    tenant = (
        Tenant.objects.select_related("account", "customer")
        .filter(customer=customer)
        .order_by("pk")
        .first()
    )
    if tenant is None:
        raise ServiceError(
            _("%(customer)s has no tenant at the vendor yet: there are no users to read.")
            % {"customer": customer.name}
        )
    product_ids = (
        Subscription.objects.filter(tenant=tenant)
        .values_list("offer__product_id", flat=True)
        .distinct()
    )
    factory = provider_factory or get_provider
    run: DirectoryRun | None = None
    try:
        with factory(tenant.account) as provider:
            skus, products = read_pools(
                provider,
                vendor_customer_id=tenant.vendor_customer_id,
                product_ids=list(product_ids),
                country=customer.country,
            )
            run = directory_begin(tenant, skus, products)
            directory_stream(provider, run)
    except ProviderError as error:
        if run is None or not run.pages:
            raise ServiceError(
                _("The vendor did not answer (%(error)s): nothing was changed, try again later.")
                % {"error": error.message},
                code="vendor_unavailable",
            ) from error
        with transaction.atomic():
            directory_finish(run, complete=False)
            _synced(actor, customer, run, "users.sync_cut_short", ("created", "updated"))
        raise ServiceError(
            _(
                "The vendor stopped answering (%(error)s): the users read until then are saved, "
                "try again later for the others."
            )
            % {"error": error.message},
            code="vendor_unavailable",
        ) from error
    with transaction.atomic():
        counts = directory_finish(run)
        _synced(actor, customer, run, "users.synced")
    return counts
