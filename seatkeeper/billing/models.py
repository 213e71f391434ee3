"""Billing: what Seatkeeper charges (billing cycles, runs and charge lines).

The vendor's invoices live beside these, in their own section.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from seatkeeper.activity.models import AppendOnly
from seatkeeper.core import clock

# === Charges: billing cycles, billing runs and the immutable charge lines they issue ===========


class BillingCycleDay(models.Model):
    """The day a billing account's cycle ends each month (seed 001: a cycle ending on the 15th
    covers the 16th of the previous month to the 15th), and the time zone its dates are read in.

    A billing account is a reseller (for its customers) or the partner (for its direct
    customers). Versions are effective-dated: a change applies from the first day of the cycle
    after the one running when it was made, so no cycle already begun (or billed) moves."""

    organisation = models.ForeignKey(
        "accounts.Organisation",
        on_delete=models.PROTECT,
        related_name="billing_cycle_days",
        verbose_name=_("billing account"),
    )
    day = models.PositiveSmallIntegerField(
        _("cycle ends on day"),
        help_text=_("1 to 31; a day the month does not have means its last day."),
    )
    time_zone = models.CharField(
        _("time zone"), max_length=64, blank=True, help_text=_("Empty means UTC.")
    )
    effective_from = models.DateField(_("from the cycle starting on"))
    set_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    set_at = models.DateTimeField(default=clock.now)

    class Meta:
        ordering = ["organisation", "effective_from"]
        verbose_name = _("billing-cycle day")
        verbose_name_plural = _("billing-cycle days")
        constraints = [
            models.UniqueConstraint(
                fields=["organisation", "effective_from"], name="billing_cycle_day_one_per_date"
            ),
            models.CheckConstraint(
                condition=models.Q(day__gte=1, day__lte=31), name="billing_cycle_day_in_month"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.organisation_id}: day {self.day} from {self.effective_from}"


class BillingCycle(models.Model):
    """One billing cycle of one billing account: the dates its report covers (both included)."""

    account = models.ForeignKey(
        "accounts.Organisation",
        on_delete=models.PROTECT,
        related_name="billing_cycles",
        verbose_name=_("billing account"),
    )
    start_date = models.DateField(_("from"))
    end_date = models.DateField(_("to"))
    time_zone = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(default=clock.now, editable=False)

    class Meta:
        ordering = ["account", "start_date"]
        verbose_name = _("billing cycle")
        verbose_name_plural = _("billing cycles")
        constraints = [
            models.UniqueConstraint(fields=["account", "start_date"], name="billing_cycle_unique"),
        ]
        indexes = [models.Index(fields=["end_date"])]

    def __str__(self) -> str:
        return f"{self.start_date} – {self.end_date}"


class RunState(models.TextChoices):
    RUNNING = "running", _("Running")
    DONE = "done", _("Done")
    FAILED = "failed", _("Failed")


class BillingRun(models.Model):
    """One pass of the billing run over a cycle: what it found, issued and could not price."""

    cycle = models.ForeignKey(BillingCycle, on_delete=models.PROTECT, related_name="runs")
    state = models.CharField(max_length=16, choices=RunState.choices, default=RunState.RUNNING)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    requested_by_name = models.CharField(max_length=200)
    started_at = models.DateTimeField(default=clock.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    subscriptions = models.PositiveIntegerField(default=0)
    lines_created = models.PositiveIntegerField(default=0)
    corrections = models.PositiveIntegerField(default=0)
    unchanged = models.PositiveIntegerField(default=0)
    # [{"subscription": id, "code": "no_price", "message": "..."}]: subscriptions left unbilled.
    problems = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["-started_at"]
        verbose_name = _("billing run")
        verbose_name_plural = _("billing runs")

    def __str__(self) -> str:
        return f"Run {self.pk} of cycle {self.cycle}"


class ChargeKind(models.TextChoices):
    CYCLE_FEE = "cycle_fee", _("Cycle fee")
    PRORATA = "prorata", _("Pro-rata")
    REFUND = "refund", _("Refund")
    ONE_TIME = "one_time", _("One-time")
    CORRECTION = "correction", _("Correction")


class ChargeLineQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise AppendOnly("charge lines are never changed: issue a correction")

    def delete(self):
        raise AppendOnly("charge lines are never deleted: issue a correction")


class ChargeLine(models.Model):
    """One billed line, at the three audiences' prices. Never changed once written: a correction
    is a new line (kind CORRECTION, the reversal of the line in `corrects`), followed, when
    something is still due, by a new line of the same event that also names the one it replaces.

    `source_key` names the event of the subscription's timeline the line bills ("fee:<period
    start>", "op:<operation id>"); a run compares what each event should cost with the live line
    of that key and writes only differences."""

    cycle = models.ForeignKey(BillingCycle, on_delete=models.PROTECT, related_name="lines")
    run = models.ForeignKey(BillingRun, on_delete=models.PROTECT, related_name="lines")
    subscription = models.ForeignKey(
        "subscriptions.Subscription", on_delete=models.PROTECT, related_name="charge_lines"
    )
    customer = models.ForeignKey(
        "accounts.Organisation", on_delete=models.PROTECT, related_name="+"
    )
    reseller = models.ForeignKey(
        "accounts.Organisation", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    offer = models.ForeignKey("catalog.Offer", on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(_("type"), max_length=16, choices=ChargeKind.choices)
    source_key = models.CharField(max_length=64)
    operation = models.ForeignKey(
        "subscriptions.Operation",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="charge_lines",
    )
    corrects = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="corrected_by"
    )
    charged_on = models.DateField(_("date"))
    occurred_at = models.DateTimeField()
    period_start = models.DateField(_("service from"))
    period_end = models.DateField(_("service until (excluded)"))
    days = models.PositiveIntegerField()
    period_days = models.PositiveIntegerField()
    term = models.CharField(max_length=8)
    billing_cycle = models.CharField(max_length=16)
    quantity = models.IntegerField(_("quantity"))  # negative for a refund or a reversal
    currency = models.CharField(max_length=3)
    partner_cost_unit = models.DecimalField(max_digits=18, decimal_places=4)
    partner_cost_amount = models.DecimalField(max_digits=18, decimal_places=4)
    partner_cost_source = models.CharField(max_length=16, blank=True)
    partner_cost_source_id = models.PositiveIntegerField(null=True, blank=True)
    reseller_price_unit = models.DecimalField(
        max_digits=18, decimal_places=4, null=True, blank=True
    )
    reseller_price_amount = models.DecimalField(
        max_digits=18, decimal_places=4, null=True, blank=True
    )
    reseller_price_source = models.CharField(max_length=16, blank=True)
    reseller_price_source_id = models.PositiveIntegerField(null=True, blank=True)
    customer_price_unit = models.DecimalField(max_digits=18, decimal_places=4)
    customer_price_amount = models.DecimalField(max_digits=18, decimal_places=4)
    customer_price_source = models.CharField(max_length=16, blank=True)
    customer_price_source_id = models.PositiveIntegerField(null=True, blank=True)
    # Codes and numbers only (formatted when shown): {"suspended": true, "renewal": true, ...}
    details = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=clock.now, editable=False)

    objects = ChargeLineQuerySet.as_manager()

    class Meta:
        ordering = ["cycle", "subscription", "charged_on", "pk"]
        verbose_name = _("charge line")
        verbose_name_plural = _("charge lines")
        indexes = [
            # Reconciliation reads partner cost per subscription and service period.
            models.Index(
                fields=["subscription", "period_start"], name="charge_subscription_period"
            ),
            models.Index(fields=["cycle", "subscription"], name="charge_cycle_subscription"),
            models.Index(fields=["customer", "cycle"], name="charge_customer_cycle"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.quantity} × {self.subscription_id}"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise AppendOnly("charge lines are never changed: issue a correction")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AppendOnly("charge lines are never deleted: issue a correction")
