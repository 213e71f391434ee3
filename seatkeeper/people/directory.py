"""A customer's tenant directory, read from the vendor: its users, the licences they hold and
the tenant's licence pools (subscribed SKUs).

Reading and writing are apart: `fetch_directory` makes every vendor call (no transaction is
open while the vendor answers), `apply_directory` writes what it read in one pass. Both the
"Sync now" button (`users_sync`) and discovery's "users" kind use them, so a user found either
way is the same record.

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

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from django.db import transaction
from django.utils.translation import gettext as _

from seatkeeper.accounts.models import Organisation, User
from seatkeeper.accounts.permissions import can_read
from seatkeeper.activity.services import activity_record
from seatkeeper.core import clock
from seatkeeper.core.errors import PermissionRefused, ServiceError
from seatkeeper.people.models import DirectoryUser, LicenceSku, UserLicence, UserStatus
from seatkeeper.providers import interface as vendor
from seatkeeper.providers.errors import ProviderError
from seatkeeper.providers.models import ProviderAccount
from seatkeeper.providers.registry import get_provider
from seatkeeper.subscriptions.models import Subscription, SyncStatus, Tenant

ProviderFactory = Callable[[ProviderAccount], vendor.Provider]

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
    """What the vendor said about one tenant's directory."""

    users: list[vendor.TenantUser] = field(default_factory=list)
    # Licences of each active user, by vendor user id.
    licences: dict[str, list[vendor.UserLicence]] = field(default_factory=dict)
    skus: list[vendor.SubscribedSku] = field(default_factory=list)
    # Directory SKU id -> catalog product key ("productId:skuId").
    products: dict[str, str] = field(default_factory=dict)


def fetch_directory(
    provider: vendor.Provider,
    *,
    vendor_customer_id: str,
    product_ids: Iterable[str] = (),
    country: str = "",
) -> DirectoryFacts:
    """Every vendor read a directory sync needs; the listings page through the vendor's
    continuation tokens inside the connector."""
    facts = DirectoryFacts()
    facts.users = list(provider.list_users(customer_id=vendor_customer_id))
    active_ids = {user.id for user in facts.users}
    # Soft-deleted users are listed apart (Partner Center: the UserState=Inactive filter).
    facts.users += [
        user
        for user in provider.list_users(customer_id=vendor_customer_id, deleted=True)
        if user.id not in active_ids
    ]
    # Licences are read per user: Partner Center has no tenant-wide licence listing.
    for user in facts.users:
        if user.state == vendor.UserState.ACTIVE:
            facts.licences[user.id] = list(
                provider.list_user_licences(customer_id=vendor_customer_id, user_id=user.id)
            )
    facts.skus = list(provider.list_subscribed_skus(customer_id=vendor_customer_id))
    for product_id in sorted({pid for pid in product_ids if pid}):
        for sku in provider.list_skus(product_id=product_id, country=country):
            if sku.provisioning_id:
                facts.products[sku.provisioning_id.lower()] = sku.key
    return facts


def _sku_rows(tenant: Tenant, facts: DirectoryFacts) -> dict[str, LicenceSku]:
    rows = {row.sku_id: row for row in LicenceSku.objects.filter(tenant=tenant)}
    seen: dict[str, dict] = {}
    for sku in facts.skus:
        seen[sku.sku_id.lower()] = {
            "part_number": sku.sku_part_number[:120],
            "name": sku.name[:300],
            "total_units": max(sku.total_units, 0),
            "consumed_units": max(sku.consumed_units, 0),
        }
    for held in facts.licences.values():
        for licence in held:
            seen.setdefault(
                licence.sku_id.lower(),
                {
                    "part_number": licence.sku_part_number[:120],
                    "name": licence.name[:300],
                    "total_units": 0,
                    "consumed_units": 0,
                },
            )
    for sku_id, values in seen.items():
        product_key = facts.products.get(sku_id)
        row = rows.get(sku_id)
        if row is None:
            rows[sku_id] = LicenceSku.objects.create(
                tenant=tenant, sku_id=sku_id, product_key=product_key or "", **values
            )
            continue
        if product_key:
            values["product_key"] = product_key
        changed = [name for name, value in values.items() if getattr(row, name) != value]
        if changed:
            for name in changed:
                setattr(row, name, values[name])
            row.save(update_fields=changed)
    return rows


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


def _set_licences(user: DirectoryUser, wanted: set[int], held: dict[int, UserLicence]) -> bool:
    gone = [licence.pk for sku_pk, licence in held.items() if sku_pk not in wanted]
    new = [sku_pk for sku_pk in wanted if sku_pk not in held]
    if gone:
        UserLicence.objects.filter(pk__in=gone).delete()
    if new:
        UserLicence.objects.bulk_create(
            UserLicence(user=user, sku_id=sku_pk, assigned_at=clock.now()) for sku_pk in new
        )
    return bool(gone or new)


def apply_directory(tenant: Tenant, facts: DirectoryFacts) -> Counter:
    """Write what the vendor said; returns how many users were created, updated, unchanged and
    removed (marked deleted because the vendor no longer lists them)."""
    now = clock.now()
    counts: Counter = Counter()
    skus = _sku_rows(tenant, facts)
    local = list(DirectoryUser.objects.filter(tenant=tenant))
    known = {user.vendor_user_id: user for user in local if user.vendor_user_id}
    # Users created here the vendor has not confirmed yet: the vendor may list one already.
    creating = {user.user_principal_name.lower() for user in local if not user.vendor_user_id}
    found: list[DirectoryUser] = []
    held: dict[int, dict[int, UserLicence]] = {}
    for licence in UserLicence.objects.filter(user__tenant=tenant):
        held.setdefault(licence.user_id, {})[licence.sku_id] = licence
    seen: list[int] = []
    for facts_user in facts.users:
        user = known.get(facts_user.id)
        if user is not None and user.sync_status == SyncStatus.PENDING:
            counts["unchanged"] += 1  # a change of ours is on its way: it stands
            continue
        if user is None and facts_user.user_principal_name.lower() in creating:
            counts["unchanged"] += 1  # ours, being created: the worker records its id
            continue
        values = _user_values(facts_user)
        wanted = {
            skus[licence.sku_id.lower()].pk for licence in facts.licences.get(facts_user.id, [])
        }
        if user is None:
            user = DirectoryUser.objects.create(
                tenant=tenant,
                customer=tenant.customer,
                vendor_user_id=facts_user.id,
                synced_at=now,
                **values,
            )
            _set_licences(user, wanted, {})
            found.append(user)
            counts["created"] += 1
            continue
        seen.append(user.pk)
        changed = [name for name in USER_FIELDS if getattr(user, name) != values[name]]
        if changed:
            for name in changed:
                setattr(user, name, values[name])
            user.updated_at = now
            user.save(update_fields=[*changed, "updated_at"])
        licences_changed = _set_licences(user, wanted, held.get(user.pk, {}))
        counts["updated" if changed or licences_changed else "unchanged"] += 1
    listed = {facts_user.id for facts_user in facts.users}
    for vendor_id, user in known.items():
        if vendor_id in listed or user.sync_status == SyncStatus.PENDING:
            continue
        if user.status == UserStatus.DELETED and not held.get(user.pk):
            continue
        user.status, user.deleted_at = UserStatus.DELETED, user.deleted_at or now
        user.updated_at = now
        user.save(update_fields=["status", "deleted_at", "updated_at"])
        UserLicence.objects.filter(user=user).delete()
        counts["removed"] += 1
    DirectoryUser.objects.filter(pk__in=seen).update(synced_at=now)
    from seatkeeper.people.licences import overflow_withdraw

    # The vendor's own assignments may have taken the seats our pending ones counted on.
    withdrawn = overflow_withdraw(tenant.pk)
    if withdrawn:
        counts["withdrawn"] = withdrawn
    if found:
        from seatkeeper.people.users import default_licence_for_found

        # New users get the customer's default licence; why not is in the activity log.
        for user in found:
            if user.status == UserStatus.ACTIVE:
                default_licence_for_found(user)
    return counts


def _check_sync(actor: User | None, customer: Organisation) -> None:
    if actor is not None and not can_read(actor, customer):
        raise PermissionRefused(_("You may not see this customer's users."))


def users_sync(
    *,
    actor: User | None,
    customer: Organisation,
    provider_factory: ProviderFactory | None = None,
) -> Counter:
    """Read the customer's tenant directory from the vendor now and bring ours in line."""
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
    try:
        with factory(tenant.account) as provider:
            facts = fetch_directory(
                provider,
                vendor_customer_id=tenant.vendor_customer_id,
                product_ids=list(product_ids),
                country=customer.country,
            )
    except ProviderError as error:
        raise ServiceError(
            _("The vendor did not answer (%(error)s): nothing was changed, try again later.")
            % {"error": error.message},
            code="vendor_unavailable",
        ) from error
    with transaction.atomic():
        counts = apply_directory(tenant, facts)
        activity_record(
            actor=actor,
            organisation=customer,
            obj=tenant,
            operation="users.synced",
            details={name: counts.get(name, 0) for name in ("created", "updated", "removed")},
        )
    return counts
