"""A customer's tenant being onboarded at the vendor, and the one-time links that hand a new
administrator its password.

`TenantOnboarding` is the desired state (create this tenant, or link that one) and its outbox,
carried out by the worker step by step with the same states, retry schedule, claim timeout and
sync status as the subscriptions' operations (`subscriptions.provisioning`): the customer is
created with a request key the vendor recognises on a retry, the Microsoft Customer Agreement is
confirmed next, and only then is the `Tenant` recorded, so nothing can be ordered for a tenant
that is half onboarded.
"""

from __future__ import annotations

import datetime as dt
import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from seatkeeper.core import clock
from seatkeeper.core.models import TimestampedModel
from seatkeeper.subscriptions.models import OperationState, SyncStatus


class OnboardingKind(models.TextChoices):
    CREATE = "create", _("Create a tenant")
    LINK = "link", _("Link an existing tenant")


class OnboardingStep(models.TextChoices):
    CUSTOMER = "customer", _("Tenant")
    AGREEMENT = "agreement", _("Microsoft Customer Agreement")
    LINK = "link", _("Link")
    DONE = "done", _("Done")


class QueuedVendorChange(TimestampedModel):
    """What every change queued for the vendor holds (a tenant onboarding, a licence change, a user
    change): its state, who asked, and the bookkeeping the sweeps and workers use (when it was
    claimed, how many attempts, when the next one is due, the vendor's refusal)."""

    state = models.CharField(
        max_length=24, choices=OperationState.choices, default=OperationState.PENDING
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    requested_by_name = models.CharField(_("done by"), max_length=200)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True, default=clock.now)
    claimed_at = models.DateTimeField(null=True, blank=True)
    done_at = models.DateTimeField(null=True, blank=True)
    error_code = models.CharField(max_length=40, blank=True)
    error_message = models.TextField(blank=True)

    class Meta:
        abstract = True


class TenantOnboarding(QueuedVendorChange):
    customer = models.ForeignKey(
        "accounts.Organisation",
        on_delete=models.PROTECT,
        related_name="tenant_onboardings",
        verbose_name=_("customer"),
    )
    account = models.ForeignKey(
        "providers.ProviderAccount", on_delete=models.PROTECT, related_name="+"
    )
    kind = models.CharField(_("kind"), max_length=12, choices=OnboardingKind.choices)
    # CREATE: the new initial domain. LINK: what the person typed (a tenant id or a domain).
    domain = models.CharField(_("domain"), max_length=255)
    vendor_customer_id = models.CharField(_("tenant id"), max_length=64, blank=True)
    # What the vendor is sent (company name, culture, language, address); no secret in it.
    profile = models.JSONField(default=dict, blank=True)
    # Who at the customer accepted the Microsoft Customer Agreement, and when; who recorded it.
    mca_first_name = models.CharField(_("first name"), max_length=50, blank=True)
    mca_last_name = models.CharField(_("last name"), max_length=50, blank=True)
    mca_email = models.EmailField(_("e-mail"), blank=True)
    mca_phone = models.CharField(_("phone"), max_length=40, blank=True)
    mca_accepted_at = models.DateTimeField(_("accepted on"), null=True, blank=True)
    mca_confirmed_at = models.DateTimeField(_("confirmed to Microsoft on"), null=True, blank=True)
    admin_user_name = models.CharField(_("administrator"), max_length=255, blank=True)
    tenant = models.ForeignKey(
        "subscriptions.Tenant", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    step = models.CharField(
        max_length=12, choices=OnboardingStep.choices, default=OnboardingStep.CUSTOMER
    )
    sync_status = models.CharField(
        _("sync status"), max_length=16, choices=SyncStatus.choices, default=SyncStatus.PENDING
    )
    # Sent as MS-RequestId: the same key on every attempt, so a retried create is one tenant.
    request_key = models.UUIDField(default=uuid.uuid4, editable=False)

    class Meta:
        verbose_name = _("tenant onboarding")
        verbose_name_plural = _("tenant onboardings")
        constraints = [
            # One onboarding under way per customer and account.
            models.UniqueConstraint(
                fields=["customer", "account"],
                condition=~Q(state__in=["done", "rejected"]),
                name="onboarding_one_open_per_customer",
            ),
        ]
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                name="onboarding_open_due",
                condition=Q(state__in=["pending", "running"]),
            ),
        ]

    def __str__(self) -> str:
        return self.domain

    @property
    def mca_contact(self) -> str:
        return f"{self.mca_first_name} {self.mca_last_name}".strip()


class CredentialLink(models.Model):
    """A password shown once: encrypted at rest (`core.crypto`), readable through a link whose
    token is stored only as a hash, erased at the first view or at expiry."""

    customer = models.ForeignKey(
        "accounts.Organisation", on_delete=models.CASCADE, related_name="+"
    )
    token_hash = models.CharField(max_length=64, unique=True)
    user_name = models.CharField(_("user name"), max_length=255)
    recipient = models.EmailField(_("sent to"))
    secret = models.TextField(blank=True)  # Fernet token; empty once seen or expired
    created_at = models.DateTimeField(default=clock.now)
    expires_at = models.DateTimeField()
    viewed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("one-time password link")
        verbose_name_plural = _("one-time password links")

    def __str__(self) -> str:
        return self.user_name


# Microsoft keeps a deleted user this long, during which it can be restored.
DELETED_USER_KEPT = dt.timedelta(days=30)


class UserStatus(models.TextChoices):
    ACTIVE = "active", _("Active")
    DELETED = "deleted", _("Deleted")


class DirectoryUser(TimestampedModel):
    """A user of a customer's tenant, as the vendor last told us (`services.users_sync`).

    `sync_status` pending marks a change of ours still on its way to the vendor: a sync then
    leaves the user as it is, so the person's change is never overwritten by the vendor's older
    facts."""

    tenant = models.ForeignKey(
        "subscriptions.Tenant", on_delete=models.CASCADE, related_name="directory_users"
    )
    customer = models.ForeignKey(
        "accounts.Organisation",
        on_delete=models.CASCADE,
        related_name="directory_users",
        verbose_name=_("customer"),
    )
    vendor_user_id = models.CharField(_("vendor user id"), max_length=64)
    display_name = models.CharField(_("name"), max_length=256)
    user_principal_name = models.CharField(_("user principal name"), max_length=255)
    first_name = models.CharField(_("first name"), max_length=64, blank=True)
    last_name = models.CharField(_("last name"), max_length=64, blank=True)
    usage_location = models.CharField(_("usage location"), max_length=2, blank=True)
    status = models.CharField(
        _("status"), max_length=12, choices=UserStatus.choices, default=UserStatus.ACTIVE
    )
    deleted_at = models.DateTimeField(_("deleted on"), null=True, blank=True)
    sync_status = models.CharField(
        _("sync status"),
        max_length=16,
        choices=SyncStatus.choices,
        default=SyncStatus.SYNCHRONIZED,
    )
    synced_at = models.DateTimeField(_("last sync"), null=True, blank=True)

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")
        ordering = ["display_name", "pk"]
        constraints = [
            # A user created here has no vendor id until the vendor made it.
            models.UniqueConstraint(
                fields=["tenant", "vendor_user_id"],
                condition=~Q(vendor_user_id=""),
                name="directory_user_unique_vendor_id",
            ),
        ]
        indexes = [models.Index(fields=["customer", "status"], name="directory_user_by_status")]

    def __str__(self) -> str:
        return self.user_principal_name

    @property
    def purge_at(self):
        """When the vendor deletes this deleted user for good (Microsoft keeps it 30 days)."""
        if self.status != UserStatus.DELETED or self.deleted_at is None:
            return None
        return self.deleted_at + DELETED_USER_KEPT


class LicenceSku(models.Model):
    """One licence pool of a tenant: the vendor's SKU id that users are given, and the catalog
    product it comes from (`product_key`, "productId:skuId", as `catalog.Offer.external_id`),
    which ties it to the customer's subscriptions of that product."""

    tenant = models.ForeignKey(
        "subscriptions.Tenant", on_delete=models.CASCADE, related_name="licence_skus"
    )
    sku_id = models.CharField(_("SKU id"), max_length=64)
    part_number = models.CharField(_("part number"), max_length=120, blank=True)
    name = models.CharField(_("name"), max_length=300, blank=True)
    product_key = models.CharField(_("product"), max_length=200, blank=True)
    total_units = models.PositiveIntegerField(_("purchased"), default=0)
    consumed_units = models.PositiveIntegerField(_("consumed"), default=0)

    class Meta:
        verbose_name = _("licence SKU")
        verbose_name_plural = _("licence SKUs")
        constraints = [
            models.UniqueConstraint(fields=["tenant", "sku_id"], name="licence_sku_unique"),
        ]

    def __str__(self) -> str:
        return self.name or self.part_number or self.sku_id


class UserLicence(models.Model):
    """A licence a directory user holds."""

    user = models.ForeignKey(DirectoryUser, on_delete=models.CASCADE, related_name="licences")
    sku = models.ForeignKey(LicenceSku, on_delete=models.CASCADE, related_name="licences")
    assigned_at = models.DateTimeField(default=clock.now)

    class Meta:
        verbose_name = _("licence")
        verbose_name_plural = _("licences")
        constraints = [
            models.UniqueConstraint(fields=["user", "sku"], name="user_licence_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.user} · {self.sku}"


class LicenceAction(models.TextChoices):
    ASSIGN = "assign", _("Assign")
    REMOVE = "remove", _("Remove")


class LicenceChange(QueuedVendorChange):
    """A licence given or taken back here, on its way to the vendor (`licences.run_change`),
    retried like the subscriptions' operations. Until it is done the user's `sync_status` is
    pending, so a sync does not undo it."""

    user = models.ForeignKey(DirectoryUser, on_delete=models.CASCADE, related_name="changes")
    sku = models.ForeignKey(LicenceSku, on_delete=models.CASCADE, related_name="+")
    subscription = models.ForeignKey(
        "subscriptions.Subscription",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    action = models.CharField(max_length=8, choices=LicenceAction.choices)

    class Meta:
        verbose_name = _("licence change")
        verbose_name_plural = _("licence changes")
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                name="licence_change_open_due",
                condition=Q(state__in=["pending", "running"]),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.action} {self.sku} · {self.user}"


class UserAction(models.TextChoices):
    CREATE = "create", _("Create")
    UPDATE = "update", _("Edit")
    DELETE = "delete", _("Delete")
    RESTORE = "restore", _("Restore")
    PASSWORD = "password", _("Reset password")


class UserChange(QueuedVendorChange):
    """A user created, edited, deleted, restored or given a new password here, on its way to the
    vendor (`users.run_user_change`), retried like the licence changes. The change shows at once
    and the user's `sync_status` stays pending until every change of the user is done, so a sync
    does not undo it; a change the vendor refuses for good is undone here, the vendor's answer
    kept. A user's changes reach the vendor in the order they were made."""

    customer = models.ForeignKey(
        "accounts.Organisation", on_delete=models.CASCADE, related_name="+"
    )
    # Null once a refused creation took its user away: the change stays as the record of it.
    user = models.ForeignKey(
        DirectoryUser,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="user_changes",
    )
    user_principal_name = models.CharField(_("user principal name"), max_length=255)
    action = models.CharField(_("action"), max_length=12, choices=UserAction.choices)
    # The values sent (and, for an edit, the previous ones, put back if the vendor refuses).
    fields = models.JSONField(default=dict, blank=True)
    # The password to send, encrypted (`core.crypto`); erased once the vendor answered.
    secret = models.TextField(blank=True)
    # Where the one-time link to a generated password goes once the vendor accepted it.
    credential_recipient = models.EmailField(_("send the password to"), blank=True)
    # What the person who asked must know (the default licence could not be given...).
    notice = models.TextField(_("notice"), blank=True)
    # Sent as MS-RequestId on a creation: a retried create is one user.
    request_key = models.UUIDField(default=uuid.uuid4, editable=False)

    class Meta:
        verbose_name = _("user change")
        verbose_name_plural = _("user changes")
        ordering = ["pk"]
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                name="user_change_open_due",
                condition=Q(state__in=["pending", "running"]),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.action} {self.user_principal_name}"


class DefaultLicence(models.Model):
    """The subscription whose licence every new user of the customer is given (seed 002's star),
    whether created here or found by a sync, while it has seats left."""

    customer = models.OneToOneField(
        "accounts.Organisation", on_delete=models.CASCADE, related_name="default_licence"
    )
    subscription = models.ForeignKey(
        "subscriptions.Subscription", on_delete=models.CASCADE, related_name="+"
    )
    set_by_name = models.CharField(_("done by"), max_length=200)
    set_at = models.DateTimeField(default=clock.now)

    class Meta:
        verbose_name = _("default licence")
        verbose_name_plural = _("default licences")

    def __str__(self) -> str:
        return str(self.subscription)


# --- members of a manual vendor ------------------------------------------------------------------


class Member(TimestampedModel):
    """A person of a customer who uses a manual vendor's service (Rainbow): the vendor has no
    API, so its members live here. A member holds at most one service (plan) and any number
    of options compatible with it, each a seat of one of the customer's subscriptions
    (`MemberSeat`, `members.member_seats_set`)."""

    customer = models.ForeignKey(
        "accounts.Organisation",
        on_delete=models.CASCADE,
        related_name="members",
        verbose_name=_("customer"),
    )
    vendor = models.ForeignKey(
        "catalog.Vendor", on_delete=models.PROTECT, related_name="+", verbose_name=_("vendor")
    )
    user_name = models.CharField(_("user name"), max_length=255)
    display_name = models.CharField(_("name"), max_length=256)
    first_name = models.CharField(_("first name"), max_length=64, blank=True)
    last_name = models.CharField(_("last name"), max_length=64, blank=True)
    email = models.EmailField(_("e-mail"), blank=True)

    class Meta:
        verbose_name = _("member")
        verbose_name_plural = _("members")
        ordering = ["display_name", "pk"]
        constraints = [
            # The vendor's login is one person, whichever customer it is in.
            models.UniqueConstraint(fields=["vendor", "user_name"], name="member_unique_name"),
        ]
        indexes = [models.Index(fields=["customer", "vendor"], name="member_by_customer")]

    def __str__(self) -> str:
        return self.user_name

    # The names the members list of a subscription shares with directory users.
    @property
    def user_principal_name(self) -> str:
        return self.user_name

    @property
    def vendor_user_id(self) -> str:
        return self.user_name


class MemberSeat(models.Model):
    """One seat of a manual vendor's subscription held by a member."""

    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="seats")
    subscription = models.ForeignKey(
        "subscriptions.Subscription", on_delete=models.CASCADE, related_name="member_seats"
    )
    assigned_at = models.DateTimeField(default=clock.now)

    class Meta:
        verbose_name = _("member seat")
        verbose_name_plural = _("member seats")
        constraints = [
            models.UniqueConstraint(fields=["member", "subscription"], name="member_seat_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.member} · {self.subscription}"

    # The names the members list of a subscription shares with directory licences.
    @property
    def user(self) -> Member:
        return self.member

    @property
    def sku(self):
        return self.subscription.offer


class ImportAction(models.TextChoices):
    CREATE = "create", _("Create")
    UPDATE = "update", _("Update")
    DELETE = "delete", _("Delete")
    NONE = "none", _("No change")
    ERROR = "error", _("Error")


class ImportKind(models.TextChoices):
    MEMBERS = "members", _("Members of a manual vendor")
    USERS = "users", _("Users of the tenant")


class MemberImport(TimestampedModel):
    """A bulk file read into its lines at the preview and applied line by line
    (`bulk.import_apply`): a customer's members for one manual vendor (`kind` members, with its
    `vendor`), or the users of the customer's tenant (`kind` users, no vendor)."""

    customer = models.ForeignKey(
        "accounts.Organisation", on_delete=models.CASCADE, related_name="+"
    )
    kind = models.CharField(
        _("kind"), max_length=8, choices=ImportKind.choices, default=ImportKind.MEMBERS
    )
    vendor = models.ForeignKey(
        "catalog.Vendor", on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )
    file_name = models.CharField(_("file"), max_length=255)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    requested_by_name = models.CharField(_("done by"), max_length=200)
    # How many lines of each action the preview (then the apply) found.
    counts = models.JSONField(default=dict, blank=True)
    applied_at = models.DateTimeField(_("applied on"), null=True, blank=True)

    class Meta:
        verbose_name = _("member import")
        verbose_name_plural = _("member imports")

    def __str__(self) -> str:
        return self.file_name


class MemberImportLine(models.Model):
    """One line of a bulk file: what it asks, what the preview said it will do (or its error),
    and once applied, what was done."""

    member_import = models.ForeignKey(MemberImport, on_delete=models.CASCADE, related_name="lines")
    number = models.PositiveIntegerField(_("line"))
    user_name = models.CharField(_("user name"), max_length=255, blank=True)
    # The line's values, password apart.
    values = models.JSONField(default=dict, blank=True)
    # A password typed in the file, encrypted (`core.crypto`); erased once applied.
    secret = models.TextField(blank=True)
    action = models.CharField(_("action"), max_length=8, choices=ImportAction.choices)
    message = models.TextField(_("details"), blank=True)
    # Refused only for want of a seat: planned again once the other lines freed some.
    waits_for_seat = models.BooleanField(default=False)
    outcome = models.CharField(_("outcome"), max_length=8, choices=ImportAction.choices, blank=True)
    outcome_message = models.TextField(_("result"), blank=True)

    class Meta:
        verbose_name = _("import line")
        verbose_name_plural = _("import lines")
        ordering = ["member_import", "number"]
        constraints = [
            models.UniqueConstraint(
                fields=["member_import", "number"], name="member_import_line_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.number}: {self.user_name}"
