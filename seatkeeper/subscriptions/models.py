"""Subscriptions, the seat lots they were bought in, and the operations that change them.

A `Subscription` row holds the *desired* state (what the people asked for); `sync_status` says
whether the vendor matches it. Every change is an `Operation`: written in the same transaction as
the desired state, then carried out by the worker, in order, per subscription. The operations are
both the subscription's history and its outbox.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from seatkeeper.core import clock
from seatkeeper.core.models import TimestampedModel
from seatkeeper.core.money import Money
from seatkeeper.core.validators import single_line
from seatkeeper.core.wording import fill
from seatkeeper.pricing.audiences import Audience


class Tenant(TimestampedModel):
    """A customer's directory at a vendor (Microsoft: the customer tenant id and its domain)."""

    customer = models.ForeignKey(
        "accounts.Organisation",
        on_delete=models.PROTECT,
        related_name="tenants",
        verbose_name=_("customer"),
    )
    account = models.ForeignKey(
        "providers.ProviderAccount",
        on_delete=models.PROTECT,
        related_name="tenants",
        verbose_name=_("provider account"),
    )
    vendor_customer_id = models.CharField(_("tenant id"), max_length=64)
    domain = models.CharField(_("primary domain"), max_length=255)

    class Meta:
        verbose_name = _("tenant")
        verbose_name_plural = _("tenants")
        constraints = [
            models.UniqueConstraint(
                fields=["account", "vendor_customer_id"], name="tenant_unique_vendor_id"
            ),
            models.UniqueConstraint(fields=["customer", "account"], name="tenant_one_per_account"),
        ]

    def __str__(self) -> str:
        return self.domain


class CustomerRights(TimestampedModel):
    """What a customer's admins may do themselves, granted by the reseller or partner above them
    (as the UC vendor's business partner grants "subscription management rights")."""

    customer = models.OneToOneField(
        "accounts.Organisation",
        on_delete=models.CASCADE,
        related_name="subscription_rights",
    )
    can_order = models.BooleanField(_("order new subscriptions"), default=False)
    can_increase = models.BooleanField(_("increase quantities"), default=False)
    can_decrease = models.BooleanField(_("decrease quantities and cancel"), default=False)
    monthly_only = models.BooleanField(_("monthly licences only"), default=False)
    can_change_renewal = models.BooleanField(_("change renewal settings"), default=False)

    class Meta:
        verbose_name = _("customer rights")
        verbose_name_plural = _("customer rights")

    def __str__(self) -> str:
        return fill(_("Subscription rights of %(customer)s"), {"customer": self.customer})


class Order(TimestampedModel):
    customer = models.ForeignKey(
        "accounts.Organisation",
        on_delete=models.PROTECT,
        related_name="orders",
    )
    placed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        related_name="+",
    )
    po_number = models.CharField(
        _("PO number"), max_length=100, blank=True, validators=[single_line]
    )

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("order")
        verbose_name_plural = _("orders")

    def __str__(self) -> str:
        return f"Order {self.pk}"


class Status(models.TextChoices):
    PENDING = "pending", _("Pending")
    ACTIVE = "active", _("Active")
    SUSPENDED = "suspended", _("Suspended")
    EXPIRED = "expired", _("Expired")
    CANCELLED = "cancelled", _("Cancelled")


class SyncStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    SYNCHRONIZED = "synchronized", _("Synchronized")
    FAILED = "failed", _("Failed")


class RenewalOption(models.TextChoices):
    NONE = "none", _("No renewal")
    ONCE = "once", _("Renew once")
    EVERY_TIME = "every_time", _("Renew every time")
    CONVERT_TO_MONTHLY = "convert_to_monthly", _("Renew as monthly licences")


class Section(models.TextChoices):
    """The sections of a customer's subscription page, as the UC vendor's admin page has them."""

    SERVICES = "service", _("Services")
    OPTIONS = "addon", _("Options / add-ons")
    APPLICATIONS = "application", _("Applications")
    CUSTOM = "custom", _("Custom")


class Subscription(TimestampedModel):
    customer = models.ForeignKey(
        "accounts.Organisation",
        on_delete=models.PROTECT,
        related_name="subscriptions",
        verbose_name=_("customer"),
    )
    # The customer's reseller when it has one: "Associated Reseller" in the seeds.
    reseller = models.ForeignKey(
        "accounts.Organisation",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("associated reseller"),
    )
    offer = models.ForeignKey(
        "catalog.Offer",
        on_delete=models.PROTECT,
        related_name="subscriptions",
        verbose_name=_("offer"),
    )
    tenant = models.ForeignKey(
        Tenant, on_delete=models.PROTECT, null=True, blank=True, related_name="subscriptions"
    )
    order = models.ForeignKey(
        Order, on_delete=models.PROTECT, null=True, blank=True, related_name="subscriptions"
    )
    parent = models.ForeignKey(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="addons",
        verbose_name=_("base subscription"),
    )
    friendly_name = models.CharField(_("friendly name"), max_length=200, validators=[single_line])
    po_number = models.CharField(
        _("PO number"), max_length=100, blank=True, validators=[single_line]
    )
    external_identifier = models.CharField(
        _("external identifier"), max_length=100, blank=True, validators=[single_line]
    )
    quantity = models.PositiveIntegerField(_("quantity"))
    term = models.CharField(_("term"), max_length=8)
    billing_cycle = models.CharField(_("billing cycle"), max_length=16)
    status = models.CharField(
        _("status"), max_length=16, choices=Status.choices, default=Status.PENDING, db_index=True
    )
    is_trial = models.BooleanField(_("trial"), default=False)
    auto_renew = models.BooleanField(_("auto-renew"), default=True)
    renewal_option = models.CharField(
        _("renewal"), max_length=24, choices=RenewalOption.choices, default=RenewalOption.EVERY_TIME
    )
    start_date = models.DateField(_("start date"))
    term_start = models.DateField(_("current term started"))
    commitment_end_date = models.DateField(_("commitment end date"), null=True, blank=True)
    cancellation_allowed_until = models.DateTimeField(_("cancellable until"), null=True, blank=True)
    # Changes asked for at renewal; a later vendor sync never wipes them (only a person does).
    renewal_quantity = models.PositiveIntegerField(_("quantity at renewal"), null=True, blank=True)
    renewal_term = models.CharField(_("term at renewal"), max_length=8, blank=True)
    renewal_billing_cycle = models.CharField(
        _("billing cycle at renewal"), max_length=16, blank=True
    )
    vendor_subscription_id = models.CharField(
        _("vendor subscription id"), max_length=100, blank=True, db_index=True
    )
    vendor_order_id = models.CharField(_("vendor order id"), max_length=100, blank=True)
    sync_status = models.CharField(
        _("sync status"),
        max_length=16,
        choices=SyncStatus.choices,
        default=SyncStatus.PENDING,
        db_index=True,
    )
    sync_error_code = models.CharField(_("vendor error code"), max_length=40, blank=True)
    sync_error_message = models.TextField(_("vendor error"), blank=True)
    synced_at = models.DateTimeField(_("last synchronised"), null=True, blank=True)
    # Bumped by every change; a change made from a stale page is refused instead of overwriting.
    version = models.PositiveIntegerField(default=1)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("subscription")
        verbose_name_plural = _("subscriptions")
        indexes = [
            models.Index(fields=["customer", "status"]),
            models.Index(fields=["status", "commitment_end_date"]),
        ]

    def __str__(self) -> str:
        return self.friendly_name or self.offer.title

    @property
    def is_manual(self) -> bool:
        return self.tenant_id is None

    @property
    def section(self) -> str:
        return self.offer.kind

    @property
    def has_scheduled_changes(self) -> bool:
        return bool(self.renewal_quantity or self.renewal_term or self.renewal_billing_cycle)

    def next_term(self) -> dict | None:
        """What the subscription becomes at renewal when that differs from today: the changes
        scheduled for renewal, and "convert to monthly". None when it renews as it is. This is
        what the vendor is told (Partner Center's scheduled next-term instructions)."""
        quantity = self.renewal_quantity or self.quantity
        term = self.renewal_term or self.term
        cycle = self.renewal_billing_cycle or self.billing_cycle
        if self.renewal_option == RenewalOption.CONVERT_TO_MONTHLY:
            term, cycle = "P1M", "monthly"
        if (quantity, term, cycle) == (self.quantity, self.term, self.billing_cycle):
            return None
        return {"quantity": quantity, "term": term, "billing_cycle": cycle}


class LotKind(models.TextChoices):
    PURCHASE = "purchase", _("Purchase")
    INCREASE = "increase", _("Increase")
    RENEWAL = "renewal", _("Renewal")


class SeatLot(models.Model):
    """Seats bought together, with the price they were bought at and until when they can be
    removed for a refund (New Commerce: 168 hours after the purchase, renewal or increase)."""

    subscription = models.ForeignKey(Subscription, on_delete=models.CASCADE, related_name="lots")
    kind = models.CharField(max_length=16, choices=LotKind.choices)
    quantity = models.PositiveIntegerField(_("seats left"))
    original_quantity = models.PositiveIntegerField(_("seats bought"))
    unit_price = models.DecimalField(_("unit price"), max_digits=18, decimal_places=4)
    currency = models.CharField(max_length=3)
    price_audience = models.CharField(max_length=20, default="customer_price")
    purchased_at = models.DateTimeField(_("bought at"), default=clock.now)
    cancellable_until = models.DateTimeField(_("removable until"), null=True, blank=True)
    reminded_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["purchased_at", "pk"]
        indexes = [models.Index(fields=["cancellable_until"])]

    def __str__(self) -> str:
        return f"{self.quantity} seats bought {self.purchased_at:%Y-%m-%d}"

    @property
    def unit_money(self) -> Money:
        return Money(self.unit_price, self.currency)

    @property
    def price_audience_label(self) -> str:
        """Whose price `unit_price` is: the lot records the price it was bought at, for the
        audience named in `price_audience` (the customer's price, as billed)."""
        return Audience(self.price_audience).label


class OperationKind(models.TextChoices):
    CREATE = "create", _("Order")
    QUANTITY = "quantity", _("Change quantity")
    SUSPEND = "suspend", _("Suspend")
    REACTIVATE = "reactivate", _("Reactivate")
    # "Cancel" only ever means "go back"; ending a subscription has its own words.
    CANCEL = "cancel", pgettext_lazy("operation kind", "End subscription")
    AUTO_RENEW = "auto_renew", _("Auto-renew")
    RENAME = "rename", _("Edit details")
    SCHEDULE_RENEWAL = "schedule_renewal", _("Schedule changes at renewal")
    RENEW = "renew", _("Renewal")
    EXPIRE = "expire", _("Expiry")
    REFRESH = "refresh", _("Vendor facts refreshed")


class OperationState(models.TextChoices):
    PENDING = "pending", _("Pending")
    RUNNING = "running", _("Running")
    DONE = "done", _("Done")
    FAILED = "failed", _("Failed")
    AWAITING_FULFILMENT = "awaiting_fulfilment", _("Awaiting fulfilment")
    REJECTED = "rejected", _("Rejected")
    WITHDRAWN = "withdrawn", _("Withdrawn")


# Who `OperationAttempt.by_name` names when the worker itself called the vendor.
WORKER = "worker"

OPEN_STATES = (
    OperationState.PENDING,
    OperationState.RUNNING,
    OperationState.FAILED,
    OperationState.AWAITING_FULFILMENT,
)


class Operation(models.Model):
    subscription = models.ForeignKey(
        Subscription, on_delete=models.CASCADE, related_name="operations"
    )
    sequence = models.PositiveIntegerField()
    kind = models.CharField(_("operation"), max_length=24, choices=OperationKind.choices)
    payload = models.JSONField(default=dict, blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    requested_by_name = models.CharField(_("done by"), max_length=200)
    requested_at = models.DateTimeField(_("when"), default=clock.now)
    state = models.CharField(
        max_length=24, choices=OperationState.choices, default=OperationState.PENDING
    )
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    # A new value on every claim (a fencing token): a worker whose claim moved to another worker
    # finds it changed and neither writes to the vendor nor records its result.
    claim_token = models.UUIDField(null=True, blank=True, editable=False)
    # The worker holding the claim (seatkeeper.core.workers); its death frees the claim at once.
    claimed_by = models.CharField(max_length=64, blank=True, editable=False)
    done_at = models.DateTimeField(null=True, blank=True)
    # Sent as MS-RequestId: the same key on every attempt, so a retried create is the same order.
    request_key = models.UUIDField(default=uuid.uuid4, editable=False)
    error_code = models.CharField(max_length=40, blank=True)
    error_message = models.TextField(blank=True)
    result = models.JSONField(default=dict, blank=True)
    # When a person decided what to do about a refused operation (sent it again or withdrew
    # it); a failed or rejected operation without it waits for that decision.
    settled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["subscription", "sequence"]
        constraints = [
            models.UniqueConstraint(
                fields=["subscription", "sequence"], name="operation_sequence_unique"
            ),
        ]
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                name="operation_open_due",
                condition=Q(state__in=["pending", "running"]),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} #{self.sequence}"


class AttemptOutcome(models.TextChoices):
    DONE = "done", _("Done")
    RETRYING = "retrying", _("Failed, tried again later")
    FAILED = "failed", _("Failed")
    RETRY_ASKED = "retry_asked", _("Sent again")
    FULFILLED = "fulfilled", _("Carried out by hand")
    REJECTED = "rejected", _("Rejected")
    ROLLED_BACK = "rolled_back", _("Rolled back to what the vendor has")
    WITHDRAWN = "withdrawn", _("Withdrawn")


# Outcomes of the worker's own calls to the vendor (the others are a person's decisions).
VENDOR_OUTCOMES = (AttemptOutcome.DONE, AttemptOutcome.RETRYING, AttemptOutcome.FAILED)


class OperationAttempt(models.Model):
    """One try of an operation, or one decision about it, kept for good: when, by whom (the
    worker, or a person who retried, fulfilled, rejected or withdrew it) and what the vendor
    answered. A retry starts a new try; the earlier ones and their errors stay."""

    operation = models.ForeignKey(Operation, on_delete=models.CASCADE, related_name="attempt_log")
    at = models.DateTimeField(_("when"), default=clock.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    by_name = models.CharField(_("by"), max_length=200)  # "worker" for the worker's own tries
    outcome = models.CharField(_("outcome"), max_length=16, choices=AttemptOutcome.choices)
    vendor_status = models.CharField(max_length=40, blank=True)
    error_code = models.CharField(_("vendor error code"), max_length=40, blank=True)
    error_message = models.TextField(_("vendor error"), blank=True)

    class Meta:
        ordering = ["operation", "at", "pk"]

    def __str__(self) -> str:
        return f"{self.operation} {self.outcome} {self.at:%Y-%m-%d %H:%M}"

    @property
    def by_worker(self) -> bool:
        return self.by_id is None and self.by_name == WORKER
