"""Billing records.

Charges (first section): what Seatkeeper charges: billing cycles, billing runs and the immutable
charge lines they issue.

Vendor invoices (second section): the vendor's invoices, credit and adjustment notes as it issued
them, their PDF statements, and their reconciliation lines, imported so that what the partner is
charged can be compared line by line with what it charges. They are the vendor's documents:
imported again, never edited here. A vendor invoice's lines are replaced whole when imported
again (a new *generation* written beside the old one, switched in one short transaction), so a
reader never sees half an import.
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from seatkeeper.activity.models import AppendOnly
from seatkeeper.core import clock
from seatkeeper.core.models import TimestampedModel
from seatkeeper.core.money import Money

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


# === Vendor invoices ---------------------------------------------------------------------------

AMOUNT = {"max_digits": 20, "decimal_places": 6}  # amounts: cents and the odd sub-cent
RATE = {"max_digits": 24, "decimal_places": 10}  # unit prices and exchange rates


class DocumentType(models.TextChoices):
    INVOICE = "invoice", _("Invoice")
    CREDIT_NOTE = "credit_note", _("Credit note")
    ADJUSTMENT_NOTE = "adjustment_note", _("Adjustment note")
    VOID_NOTE = "void_note", _("Void note")
    # The open period's charges, not invoiced yet (the vendor's unbilled reconciliation).
    UNBILLED = "unbilled", _("Not invoiced yet")
    OTHER = "other", _("Other document")


class LinesState(models.TextChoices):
    NOT_AVAILABLE = "not_available", _("No lines at the vendor")
    PENDING = "pending", _("Waiting to be imported")
    EXPORTING = "exporting", _("The vendor is preparing them")
    IMPORTED = "imported", _("Imported")
    FAILED = "failed", _("Import failed")


# How the lines of an invoice may move (one function changes them: invoices.lines_transition).
LINES_TRANSITIONS: dict[str, set[str]] = {
    LinesState.NOT_AVAILABLE: {LinesState.PENDING},
    LinesState.PENDING: {LinesState.EXPORTING, LinesState.IMPORTED, LinesState.FAILED},
    LinesState.EXPORTING: {
        LinesState.EXPORTING,
        LinesState.PENDING,
        LinesState.IMPORTED,
        LinesState.FAILED,
    },
    LinesState.IMPORTED: {LinesState.PENDING},
    LinesState.FAILED: {LinesState.PENDING},
}


class LinesSource(models.TextChoices):
    V1_API = "v1", _("Partner Center line-item API (v1)")
    GRAPH_EXPORT = "v2", _("Microsoft Graph reconciliation export (v2)")


class PaymentStatus(models.TextChoices):
    PAID = "paid", _("Paid")
    PARTLY_PAID = "partly_paid", _("Partly paid")
    UNPAID = "unpaid", _("Unpaid")
    NOT_APPLICABLE = "not_applicable", pgettext_lazy("payment status", "—")


class ProviderInvoice(TimestampedModel):
    """One document of the vendor: an invoice, one of its amendments, or the open period."""

    partner = models.ForeignKey(
        "accounts.Organisation",
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("partner"),
    )
    account = models.ForeignKey(
        "providers.ProviderAccount",
        on_delete=models.PROTECT,
        related_name="invoices",
        verbose_name=_("provider account"),
    )
    vendor_invoice_id = models.CharField(_("invoice number"), max_length=64)
    document_type = models.CharField(
        _("document type"), max_length=24, choices=DocumentType.choices
    )
    invoice_type = models.CharField(_("invoice type"), max_length=32, blank=True)
    amends = models.ForeignKey(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="amendments",
        verbose_name=_("amends"),
    )
    invoice_date = models.DateTimeField(_("invoice date"), null=True, blank=True)
    period_start = models.DateField(_("billing period start"), null=True, blank=True)
    period_end = models.DateField(_("billing period end"), null=True, blank=True)
    currency = models.CharField(_("currency"), max_length=3)
    total = models.DecimalField(_("total"), **AMOUNT)
    paid = models.DecimalField(_("paid"), **AMOUNT, default=Decimal(0))
    # `invoiceDetails[].billingProvider`, comma-separated: one_time, office, azure...
    line_item_providers = models.CharField(max_length=100, blank=True)
    # A digest of what the vendor said: an import that finds it equal changes nothing.
    vendor_fingerprint = models.CharField(max_length=64, editable=False)
    last_seen_at = models.DateTimeField(_("last seen at the vendor"), null=True, blank=True)

    lines_state = models.CharField(
        _("line items"), max_length=16, choices=LinesState.choices, default=LinesState.PENDING
    )
    lines_source = models.CharField(
        _("line items from"), max_length=4, choices=LinesSource.choices, blank=True
    )
    lines_generation = models.PositiveIntegerField(default=0, editable=False)
    lines_count = models.PositiveIntegerField(_("line items"), default=0)
    lines_total = models.DecimalField(_("sum of the line items"), **AMOUNT, null=True, blank=True)
    lines_imported_at = models.DateTimeField(_("line items imported"), null=True, blank=True)
    lines_error = models.TextField(_("last error"), blank=True)
    lines_attempts = models.PositiveIntegerField(default=0, editable=False)
    # The vendor's export under way: where to follow it and when to look next.
    export_location = models.CharField(max_length=1000, blank=True, editable=False)
    next_attempt_at = models.DateTimeField(null=True, blank=True, editable=False)
    manifest_etag = models.CharField(max_length=100, blank=True, editable=False)
    # A lease: the worker importing the lines holds it, so no other worker starts the same.
    lines_claimed_until = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["-period_start", "-invoice_date", "vendor_invoice_id"]
        verbose_name = _("vendor invoice")
        verbose_name_plural = _("vendor invoices")
        constraints = [
            models.UniqueConstraint(
                fields=["account", "vendor_invoice_id"], name="provider_invoice_unique_per_account"
            ),
        ]
        indexes = [
            models.Index(fields=["partner", "-invoice_date"], name="provider_invoice_by_date"),
            models.Index(fields=["lines_state", "next_attempt_at"], name="provider_invoice_due"),
        ]

    def __str__(self) -> str:
        return self.vendor_invoice_id

    @property
    def total_money(self) -> Money:
        return Money(self.total, self.currency)

    @property
    def paid_money(self) -> Money:
        return Money(self.paid, self.currency)

    @property
    def payment_status(self) -> str:
        """Paid, partly paid or unpaid; a credit, a zero total or the open period owe nothing."""
        if self.document_type == DocumentType.UNBILLED or self.total <= 0:
            return PaymentStatus.NOT_APPLICABLE
        if self.paid >= self.total:
            return PaymentStatus.PAID
        if self.paid > 0:
            return PaymentStatus.PARTLY_PAID
        return PaymentStatus.UNPAID

    def get_payment_status_display(self) -> str:
        return str(PaymentStatus(self.payment_status).label)

    @property
    def lines_match_total(self) -> bool | None:
        """Do the imported lines add up to the vendor's total? None until they are imported."""
        if self.lines_total is None or self.lines_state != LinesState.IMPORTED:
            return None
        return self.lines_total == self.total


class ProviderInvoiceDocument(models.Model):
    """The invoice's PDF statement, kept in the database: web and worker machines share nothing
    else, and it is served only through a view that checks who asks."""

    invoice = models.OneToOneField(
        ProviderInvoice, on_delete=models.CASCADE, related_name="document"
    )
    content = models.BinaryField()
    content_type = models.CharField(max_length=100, default="application/pdf")
    size = models.PositiveIntegerField()
    sha256 = models.CharField(max_length=64)
    fetched_at = models.DateTimeField()

    class Meta:
        verbose_name = _("invoice statement")

    def __str__(self) -> str:
        return f"{self.invoice} ({self.size} bytes)"


class InvoiceCustomerTotal(models.Model):
    """What one customer tenant costs on one invoice, in one currency: counted while the lines
    are imported (in exact Decimals), so the invoice's customer page never adds up a million
    lines again."""

    invoice = models.ForeignKey(
        ProviderInvoice, on_delete=models.CASCADE, related_name="customer_totals"
    )
    customer_tenant_id = models.CharField(_("tenant id"), max_length=64)
    customer_name = models.CharField(_("customer"), max_length=255, blank=True)
    customer_domain = models.CharField(_("domain"), max_length=255, blank=True)
    # Our organisation for that tenant, when it is known here.
    customer = models.ForeignKey(
        "accounts.Organisation",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    currency = models.CharField(_("currency"), max_length=3)
    line_count = models.PositiveIntegerField(_("line items"))
    subtotal = models.DecimalField(_("subtotal"), **AMOUNT)
    tax_total = models.DecimalField(_("tax"), **AMOUNT)
    total = models.DecimalField(_("total"), **AMOUNT)

    class Meta:
        ordering = ["customer_name", "customer_tenant_id"]
        constraints = [
            models.UniqueConstraint(
                fields=["invoice", "customer_tenant_id", "currency"],
                name="invoice_customer_total_unique",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.invoice} · {self.customer_name or self.customer_tenant_id}"


class InvoiceLineItem(models.Model):
    """One vendor reconciliation line, as the vendor sent it, ready to be matched with our
    charges: by invoice, customer tenant, subscription, period and charge type. Rows of one
    invoice belong to one import `generation`; only the invoice's current one is visible
    (`invoice_selectors.current_lines`)."""

    invoice = models.ForeignKey(
        ProviderInvoice, on_delete=models.CASCADE, related_name="lines", db_index=False
    )
    generation = models.PositiveIntegerField()
    position = models.PositiveIntegerField()  # order in the vendor's data
    period = models.DateField(_("billing period"), null=True, blank=True)
    customer_tenant_id = models.CharField(_("tenant id"), max_length=64)
    customer_name = models.CharField(_("customer"), max_length=255, blank=True)
    customer_domain = models.CharField(_("domain"), max_length=255, blank=True)
    customer_country = models.CharField(_("country"), max_length=8, blank=True)
    reseller_mpn_id = models.CharField(_("reseller MPN id"), max_length=32, blank=True)
    order_id = models.CharField(_("order id"), max_length=64, blank=True)
    order_date = models.DateTimeField(_("order date"), null=True, blank=True)
    subscription_id = models.CharField(_("subscription id"), max_length=64, blank=True)
    subscription_description = models.CharField(_("subscription"), max_length=255, blank=True)
    product_id = models.CharField(_("product id"), max_length=64, blank=True)
    sku_id = models.CharField(_("SKU id"), max_length=64, blank=True)
    availability_id = models.CharField(_("availability id"), max_length=64, blank=True)
    product_name = models.CharField(_("product"), max_length=255, blank=True)
    sku_name = models.CharField(_("SKU"), max_length=255, blank=True)
    product_qualifiers = models.JSONField(_("product qualifiers"), default=list, blank=True)
    publisher_name = models.CharField(_("publisher"), max_length=100, blank=True)
    charge_type = models.CharField(_("charge type"), max_length=64, blank=True)
    charge_kind = models.CharField(max_length=32, blank=True)  # providers.interface.ChargeType
    charge_start = models.DateField(_("charge start"), null=True, blank=True)
    charge_end = models.DateField(_("charge end"), null=True, blank=True)
    subscription_start = models.DateField(_("subscription start"), null=True, blank=True)
    subscription_end = models.DateField(_("subscription end"), null=True, blank=True)
    term_and_billing_cycle = models.CharField(
        _("term and billing cycle"), max_length=200, blank=True
    )
    billing_frequency = models.CharField(_("billing frequency"), max_length=32, blank=True)
    unit_type = models.CharField(_("unit type"), max_length=64, blank=True)
    quantity = models.DecimalField(_("quantity"), **AMOUNT)
    billable_quantity = models.DecimalField(_("billable quantity"), **AMOUNT, null=True, blank=True)
    unit_price = models.DecimalField(_("unit price"), **RATE)
    effective_unit_price = models.DecimalField(_("effective unit price"), **RATE)
    subtotal = models.DecimalField(_("subtotal"), **AMOUNT)
    tax_total = models.DecimalField(_("tax"), **AMOUNT)
    total = models.DecimalField(_("total"), **AMOUNT)
    currency = models.CharField(_("currency"), max_length=3)
    pricing_currency = models.CharField(_("pricing currency"), max_length=3, blank=True)
    pc_to_bc_exchange_rate = models.DecimalField(
        _("exchange rate (pricing to billing currency)"), **RATE, null=True, blank=True
    )
    pc_to_bc_exchange_rate_date = models.DateField(_("exchange rate date"), null=True, blank=True)
    reference_id = models.CharField(_("reference id"), max_length=64, blank=True)
    alternate_id = models.CharField(_("alternate id"), max_length=64, blank=True)
    credit_reason_code = models.CharField(_("credit reason"), max_length=64, blank=True)
    promotion_id = models.CharField(_("promotion id"), max_length=64, blank=True)

    class Meta:
        ordering = ["invoice", "generation", "position"]
        verbose_name = _("vendor line item")
        verbose_name_plural = _("vendor line items")
        indexes = [
            # An invoice's customer page, in the vendor's order.
            models.Index(
                fields=["invoice", "generation", "customer_tenant_id", "position"],
                name="invoice_line_by_customer",
            ),
            # Reconciliation: by tenant, by subscription, by charge type, each over a period.
            models.Index(fields=["customer_tenant_id", "period"], name="invoice_line_by_tenant"),
            models.Index(fields=["subscription_id", "period"], name="invoice_line_by_subscription"),
            models.Index(fields=["period", "charge_kind"], name="invoice_line_by_charge"),
        ]

    def __str__(self) -> str:
        return f"{self.invoice_id} #{self.position}"

    @property
    def total_money(self) -> Money:
        return Money(self.total, self.currency)


class ImportStatus(models.TextChoices):
    RUNNING = "running", _("In progress")
    COMPLETED = "completed", _("Completed")
    FAILED = "failed", _("Error")


class InvoiceImportRun(models.Model):
    """One import of a provider account's invoice list, with what it found."""

    account = models.ForeignKey(
        "providers.ProviderAccount", on_delete=models.PROTECT, related_name="invoice_imports"
    )
    partner = models.ForeignKey("accounts.Organisation", on_delete=models.PROTECT, related_name="+")
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    started_at = models.DateTimeField(_("started"))
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)
    status = models.CharField(
        _("status"), max_length=16, choices=ImportStatus.choices, default=ImportStatus.RUNNING
    )
    created_count = models.PositiveIntegerField(_("new"), default=0)
    updated_count = models.PositiveIntegerField(_("changed"), default=0)
    unchanged_count = models.PositiveIntegerField(_("unchanged"), default=0)
    skipped_count = models.PositiveIntegerField(_("unreadable"), default=0)
    documents_count = models.PositiveIntegerField(_("statements fetched"), default=0)
    error = models.TextField(_("error"), blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]
        verbose_name = _("invoice import")
        verbose_name_plural = _("invoice imports")

    def __str__(self) -> str:
        return f"{self.account} {self.started_at:%Y-%m-%d %H:%M}"


# === Reconciliation: the vendor's line items against our partner-cost charge lines ============


class ReconciliationState(models.TextChoices):
    OPEN = "open", _("Open")
    RECONCILED = "reconciled", _("Reconciled")


class Outcome(models.TextChoices):
    MATCHED = "matched", _("Matched")
    AMOUNT_DIFFERS = "amount_differs", _("Amount differs")
    QUANTITY_DIFFERS = "quantity_differs", _("Quantity differs")
    VENDOR_ONLY = "vendor_only", _("Only at the vendor")
    OURS_ONLY = "ours_only", _("Only here")


class LikelyCause(models.TextChoices):
    NONE = "", _("Not known")
    VENDOR_CHANGE = "vendor_change", _("A change at the vendor not seen here")
    PRICE_MOVED = "price_moved", _("The price moved")
    PRORATION = "proration", _("A proration rule")


class Resolution(models.TextChoices):
    NONE = "", _("Unresolved")
    ACCEPTED = "accepted", _("Accepted")
    EXPLAINED = "explained", _("Explained")


class Reconciliation(models.Model):
    """One provider account's billing period compared: the vendor's invoice line items of the
    period against our partner-cost charge lines whose service starts in it, per subscription.
    Computed again on demand (its rows replaced, their explanations carried over) until it is
    marked reconciled."""

    partner = models.ForeignKey("accounts.Organisation", on_delete=models.PROTECT, related_name="+")
    account = models.ForeignKey(
        "providers.ProviderAccount",
        on_delete=models.PROTECT,
        related_name="reconciliations",
        verbose_name=_("provider account"),
    )
    period_start = models.DateField(_("billing period start"))
    period_end = models.DateField(_("billing period end"))
    tolerance_amount = models.DecimalField(**AMOUNT)
    tolerance_percent = models.DecimalField(max_digits=9, decimal_places=4)
    computed_at = models.DateTimeField(_("compared at"))
    vendor_lines = models.PositiveIntegerField(default=0)
    charge_lines = models.PositiveIntegerField(default=0)
    # Matched subscriptions are counted, not stored: rows grow with the differences only.
    matched = models.PositiveIntegerField(_("matched"), default=0)
    # Subscriptions whose seats billed were held against their seats assigned (the third side);
    # only those with seats left unused (or assigned beyond the bill) are stored as SeatUsage.
    seats_compared = models.PositiveIntegerField(_("subscriptions compared on seats"), default=0)
    state = models.CharField(
        _("state"),
        max_length=16,
        choices=ReconciliationState.choices,
        default=ReconciliationState.OPEN,
    )
    reconciled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    reconciled_by_name = models.CharField(_("reconciled by"), max_length=200, blank=True)
    reconciled_at = models.DateTimeField(_("reconciled at"), null=True, blank=True)

    class Meta:
        ordering = ["-period_start", "account"]
        verbose_name = _("reconciliation")
        verbose_name_plural = _("reconciliations")
        constraints = [
            models.UniqueConstraint(
                fields=["account", "period_start", "period_end"],
                name="reconciliation_one_per_period",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.account} {self.period_start} – {self.period_end}"


class ReconciliationRow(models.Model):
    """One difference of a reconciled period, for one subscription and currency: what the vendor
    billed, what we cost, the outcome, the likely cause, and what a person said about it."""

    reconciliation = models.ForeignKey(
        Reconciliation, on_delete=models.CASCADE, related_name="rows"
    )
    outcome = models.CharField(_("outcome"), max_length=20, choices=Outcome.choices)
    cause = models.CharField(
        _("likely cause"), max_length=20, choices=LikelyCause.choices, blank=True
    )
    subscription = models.ForeignKey(
        "subscriptions.Subscription",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    vendor_subscription_id = models.CharField(_("vendor subscription id"), max_length=64)
    customer_tenant_id = models.CharField(_("tenant id"), max_length=64, blank=True)
    description = models.CharField(_("subscription"), max_length=255, blank=True)
    currency = models.CharField(_("currency"), max_length=3)
    vendor_quantity = models.DecimalField(_("vendor quantity"), **AMOUNT, null=True, blank=True)
    our_quantity = models.DecimalField(_("our quantity"), **AMOUNT, null=True, blank=True)
    vendor_amount = models.DecimalField(_("vendor amount"), **AMOUNT, default=Decimal(0))
    our_amount = models.DecimalField(_("our partner cost"), **AMOUNT, default=Decimal(0))
    difference = models.DecimalField(_("difference"), **AMOUNT, default=Decimal(0))
    vendor_unit_price = models.DecimalField(**RATE, null=True, blank=True)
    our_unit_price = models.DecimalField(**RATE, null=True, blank=True)
    invoice = models.ForeignKey(
        ProviderInvoice, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    resolution = models.CharField(
        _("resolution"), max_length=16, choices=Resolution.choices, blank=True
    )
    note = models.TextField(_("note"), blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    resolved_by_name = models.CharField(_("by"), max_length=200, blank=True)
    resolved_at = models.DateTimeField(_("when"), null=True, blank=True)

    class Meta:
        ordering = ["reconciliation", "outcome", "vendor_subscription_id", "currency"]
        verbose_name = _("reconciliation row")
        verbose_name_plural = _("reconciliation rows")
        constraints = [
            models.UniqueConstraint(
                fields=["reconciliation", "vendor_subscription_id", "currency"],
                name="reconciliation_row_unique",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.vendor_subscription_id} {self.get_outcome_display()}"

    @property
    def is_difference(self) -> bool:
        return self.outcome != Outcome.MATCHED

    @property
    def difference_money(self) -> Money:
        return Money(self.difference, self.currency)


class SeatSource(models.TextChoices):
    VENDOR = "vendor", _("The vendor's invoice")
    OURS = "ours", _("Our charges")


class SeatUsage(models.Model):
    """The third side of a reconciled period, for one subscription and currency whose seats
    billed differ from its seats assigned: the seats billed for the whole period (the vendor's,
    or ours when the vendor billed none), the seats assigned to people when compared, the unused
    seats and what they cost at the billed unit price."""

    reconciliation = models.ForeignKey(
        Reconciliation, on_delete=models.CASCADE, related_name="seat_rows"
    )
    subscription = models.ForeignKey(
        "subscriptions.Subscription", on_delete=models.PROTECT, related_name="+"
    )
    vendor_subscription_id = models.CharField(_("vendor subscription id"), max_length=64)
    customer_tenant_id = models.CharField(_("tenant id"), max_length=64, blank=True)
    description = models.CharField(_("subscription"), max_length=255, blank=True)
    currency = models.CharField(_("currency"), max_length=3)
    billed_seats = models.DecimalField(_("seats billed"), **AMOUNT)
    billed_source = models.CharField(
        _("billed according to"), max_length=8, choices=SeatSource.choices
    )
    assigned_seats = models.PositiveIntegerField(_("seats assigned"))
    # Negative when more seats are assigned than billed.
    unused_seats = models.DecimalField(_("unused seats"), **AMOUNT)
    unit_price = models.DecimalField(_("unit price"), **RATE, null=True, blank=True)
    unused_cost = models.DecimalField(_("cost of the unused seats"), **AMOUNT, default=Decimal(0))

    class Meta:
        ordering = ["reconciliation", "-unused_cost", "vendor_subscription_id", "currency"]
        verbose_name = _("seat usage")
        verbose_name_plural = _("seat usages")
        constraints = [
            models.UniqueConstraint(
                fields=["reconciliation", "subscription", "currency"],
                name="seat_usage_unique",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.vendor_subscription_id} {self.billed_seats} / {self.assigned_seats}"
