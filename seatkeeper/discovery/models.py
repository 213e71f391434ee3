"""Discovery runs: importing a partner's world (customers, tenants, subscriptions, ...) from a
provider account, one customer at a time.

A run knows its customers from the first page of the vendor's customer list onwards; each
customer is one `RunCustomer` row, the run's checkpoint: a stopped run resumes with the customers
not yet done, never from zero. Counts per kind (created / updated / unchanged / removed) and the
calls made are kept per customer, so workers importing customers in parallel never write the
same row, and the run's figures are their sum.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from seatkeeper.core import clock
from seatkeeper.core.models import TimestampedModel


class RunState(models.TextChoices):
    NOT_STARTED = "not_started", pgettext_lazy("discovery state", "Not started")
    IN_PROGRESS = "in_progress", pgettext_lazy("discovery state", "In progress")
    STOPPED = "stopped", pgettext_lazy("discovery state", "Stopped")
    ERROR = "error", pgettext_lazy("discovery state", "Error")
    COMPLETED = "completed", pgettext_lazy("discovery state", "Completed")


# Seed 003 shows each state with a symbol beside its name.
STATE_SYMBOLS = {
    RunState.NOT_STARTED: "○",
    RunState.IN_PROGRESS: "◔",
    RunState.STOPPED: "■",
    RunState.ERROR: "✖",
    RunState.COMPLETED: "✔",
}

FINISHED_STATES = (RunState.STOPPED, RunState.ERROR, RunState.COMPLETED)


class Trigger(models.TextChoices):
    PERSON = "person", _("Started by a person")
    REGISTRATION = "registration", _("After registration")
    SCHEDULE = "schedule", _("Schedule")
    SYSTEM = "system", _("Seatkeeper (command)")


class RunMode(models.TextChoices):
    FULL = "full", _("Full")
    # Only the customers Partner Center's audit records say changed since the last run.
    INCREMENTAL = "incremental", _("Incremental")


class DiscoveryRun(TimestampedModel):
    account = models.ForeignKey(
        "providers.ProviderAccount",
        on_delete=models.CASCADE,
        related_name="discovery_runs",
        verbose_name=_("provider account"),
    )
    state = models.CharField(
        _("state"), max_length=16, choices=RunState.choices, default=RunState.NOT_STARTED
    )
    trigger = models.CharField(_("started by"), max_length=16, choices=Trigger.choices)
    mode = models.CharField(
        _("kind of run"), max_length=16, choices=RunMode.choices, default=RunMode.FULL
    )
    # Incremental runs: the audit records read are those from this moment's day on.
    since = models.DateTimeField(_("changes since"), null=True, blank=True)
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("person"),
    )
    started_at = models.DateTimeField(_("started"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)
    # Asked for by Stop; the workers finish the customer in hand and take no other.
    stop_requested = models.BooleanField(default=False)
    # Whether the whole customer list has been read (the run knows its total).
    listed = models.BooleanField(default=False)
    listing_calls = models.PositiveIntegerField(default=0)
    # Where reading the customer list stopped (the vendor's continuation), to resume there.
    listing_cursor = models.TextField(blank=True)
    # The partner-level kinds (the vendor's invoices), imported once per run after the list is
    # read: whether that is done, and their counts and problems as a customer's are kept.
    partner_done = models.BooleanField(default=False)
    partner_counts = models.JSONField(default=dict, blank=True)
    partner_problems = models.JSONField(default=list, blank=True)
    error_code = models.CharField(_("error code"), max_length=40, blank=True)
    error_message = models.TextField(_("reason"), blank=True)
    # A preview reads the vendor and works out what applying it would create, update and
    # assign (each customer's work rolled back), writing only the run's report; a person's
    # Confirm starts the run that applies it (`confirmed_run`).
    preview = models.BooleanField(_("preview"), default=False)
    confirmed_run = models.ForeignKey(
        "self",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("applied by"),
    )

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = _("discovery run")
        verbose_name_plural = _("discovery runs")

    def __str__(self) -> str:
        return f"Discovery {self.pk} ({self.account})"

    @property
    def symbol(self) -> str:
        return STATE_SYMBOLS[RunState(self.state)]

    @property
    def is_finished(self) -> bool:
        return self.state in FINISHED_STATES

    @property
    def duration(self):
        if self.started_at is None:
            return None
        return (self.finished_at or clock.now()) - self.started_at


class CustomerState(models.TextChoices):
    PENDING = "pending", pgettext_lazy("discovery customer", "To do")
    DONE = "done", pgettext_lazy("discovery customer", "Done")
    ERROR = "error", pgettext_lazy("discovery customer", "Error")


class RunCustomer(models.Model):
    """One customer of a run: its checkpoint, what importing it changed, what went wrong."""

    run = models.ForeignKey(DiscoveryRun, on_delete=models.CASCADE, related_name="customers")
    vendor_customer_id = models.CharField(_("tenant id"), max_length=64)
    company_name = models.CharField(_("company"), max_length=300, blank=True)
    # What the customer list said, so importing the customer needs no second read of it.
    domain = models.CharField(max_length=255, blank=True)
    vendor_reseller_id = models.CharField(max_length=64, blank=True)
    state = models.CharField(
        max_length=16, choices=CustomerState.choices, default=CustomerState.PENDING
    )
    # {"customers": {"created": 1, "updated": 0, ...}, "subscriptions": {...}}
    counts = models.JSONField(default=dict, blank=True)
    calls = models.PositiveIntegerField(default=0)
    # Records that could not be imported (an offer missing from the catalog...), with the reason.
    problems = models.JSONField(default=list, blank=True)
    # Who changed what at the vendor, as its audit records say (incremental runs):
    # {vendor subscription id: user principal name}, the latest change of each.
    changed_by = models.JSONField(default=dict, blank=True)
    # A preview's report of this customer: {"customer": "create" | "update" | "unchanged",
    # "reseller": the reseller proposed for a new customer, or ""}.
    report = models.JSONField(default=dict, blank=True)
    error_code = models.CharField(max_length=40, blank=True)
    # The vendor's answer, as it sent it.
    error_message = models.TextField(blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["run", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["run", "vendor_customer_id"], name="run_customer_unique"
            ),
        ]
        indexes = [models.Index(fields=["run", "state"])]

    def __str__(self) -> str:
        return self.company_name or self.vendor_customer_id


class Assignment(TimestampedModel):
    """A customer that discovery brought in: it lands under the partner "unassigned" until partner
    staff place it under a reseller (or keep it as the partner's own). `vendor_reseller_id` is the
    indirect reseller Partner Center names for it (associatedPartnerId, or partnerId on its
    subscriptions), which proposes the reseller."""

    customer = models.OneToOneField(
        "accounts.Organisation",
        on_delete=models.CASCADE,
        related_name="discovery_assignment",
        verbose_name=_("customer"),
    )
    account = models.ForeignKey(
        "providers.ProviderAccount", on_delete=models.CASCADE, related_name="+"
    )
    vendor_reseller_id = models.CharField(_("reseller id at the vendor"), max_length=64, blank=True)
    proposed_reseller = models.ForeignKey(
        "accounts.Organisation",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("proposed reseller"),
    )
    assigned_at = models.DateTimeField(_("assigned"), null=True, blank=True)
    assigned_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["customer__name"]
        verbose_name = _("customer assignment")
        verbose_name_plural = _("customer assignments")

    def __str__(self) -> str:
        return str(self.customer)


class ResellerLink(models.Model):
    """What staff taught Seatkeeper: the vendor's id of an indirect reseller is this reseller."""

    account = models.ForeignKey(
        "providers.ProviderAccount", on_delete=models.CASCADE, related_name="+"
    )
    vendor_reseller_id = models.CharField(max_length=64)
    reseller = models.ForeignKey(
        "accounts.Organisation", on_delete=models.CASCADE, related_name="+"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["account", "vendor_reseller_id"], name="reseller_link_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.vendor_reseller_id} -> {self.reseller}"


class Schedule(TimestampedModel):
    """When an account is discovered again by itself: incremental runs every `every_hours`
    (twice a day by default), a full one when the last full run is `full_every_days` old."""

    account = models.OneToOneField(
        "providers.ProviderAccount", on_delete=models.CASCADE, related_name="discovery_schedule"
    )
    enabled = models.BooleanField(_("runs by itself"), default=True)
    every_hours = models.PositiveSmallIntegerField(_("every (hours)"), default=12)
    full_every_days = models.PositiveSmallIntegerField(_("full run every (days)"), default=7)
    next_run_at = models.DateTimeField(_("next run"))

    class Meta:
        verbose_name = _("discovery schedule")
        verbose_name_plural = _("discovery schedules")

    def __str__(self) -> str:
        return f"Discovery schedule of {self.account}"


class VendorState(models.Model):
    """What the vendor last said about a subscription, kept by discovery. Where it differs from
    the subscription (a person's change still on its way, or one the vendor refused), the
    subscription page and the drift report show both until they agree again."""

    subscription = models.OneToOneField(
        "subscriptions.Subscription", on_delete=models.CASCADE, related_name="vendor_state"
    )
    run = models.ForeignKey(DiscoveryRun, on_delete=models.SET_NULL, null=True, related_name="+")
    seen_at = models.DateTimeField(_("seen at the vendor"))
    quantity = models.PositiveIntegerField(_("quantity"))
    status = models.CharField(_("status"), max_length=16)
    auto_renew = models.BooleanField(_("auto-renew"))
    term = models.CharField(_("term"), max_length=8)
    billing_cycle = models.CharField(_("billing cycle"), max_length=16)
    renewal_quantity = models.PositiveIntegerField(null=True, blank=True)
    renewal_term = models.CharField(max_length=8, blank=True)
    renewal_billing_cycle = models.CharField(max_length=16, blank=True)

    class Meta:
        verbose_name = _("vendor state")
        verbose_name_plural = _("vendor states")

    def __str__(self) -> str:
        return f"Vendor state of {self.subscription_id}"


class GoneCustomer(models.Model):
    """A customer tenant Seatkeeper knew from the vendor that a full run no longer found in the
    vendor's customer list, and the vendor confirmed unknown (the relationship ended, the
    tenant was deleted). Its subscriptions are marked gone, its users deleted; nothing is
    deleted, and the row goes when a later run finds the customer again."""

    tenant = models.OneToOneField(
        "subscriptions.Tenant", on_delete=models.CASCADE, related_name="vendor_gone"
    )
    run = models.ForeignKey(DiscoveryRun, on_delete=models.SET_NULL, null=True, related_name="+")
    gone_at = models.DateTimeField(_("gone from the vendor"))

    class Meta:
        verbose_name = _("customer gone from the vendor")
        verbose_name_plural = _("customers gone from the vendor")

    def __str__(self) -> str:
        return f"Gone from the vendor: {self.tenant_id}"
