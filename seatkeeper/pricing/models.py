"""Prices and margins. Every price-bearing row is effective-dated and append-only: a change is a
new row with a later `effective_from`, so past figures can always be recomputed as they were.

Amounts are per unit per billing period of the (term, billing cycle) they name, in the row's
currency, as the vendor quotes them (Microsoft: P1Y annual = the yearly price per licence).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from seatkeeper.catalog.models import BillingCycle, Term
from seatkeeper.core import clock
from seatkeeper.core.models import TimestampedModel
from seatkeeper.core.validation import (
    AMOUNT_DECIMAL_PLACES,
    AMOUNT_MAX_DIGITS,
    AMOUNT_VALIDATORS,
    RATE_VALIDATORS,
    RULE_VALUE_VALIDATORS,
)
from seatkeeper.core.validators import single_line

# The column shape and bounds of every amount (core.validation says why these).
AMOUNT = {
    "max_digits": AMOUNT_MAX_DIGITS,
    "decimal_places": AMOUNT_DECIMAL_PLACES,
    "validators": AMOUNT_VALIDATORS,
}


class AppendOnly(Exception):
    pass


class AppendOnlyModel(models.Model):
    recorded_at = models.DateTimeField(_("recorded"), default=clock.now, editable=False)

    class Meta:
        abstract = True

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise AppendOnly(f"{type(self).__name__} rows are never changed; add a new one")
        super().save(*args, **kwargs)


class PriceSource(models.TextChoices):
    IMPORT = "import", _("Vendor catalog import")
    MANUAL = "manual", _("Entered by hand")
    CSV = "csv", _("CSV import")
    PRICE_SHEET = "pricesheet", _("Vendor price sheet")


class VendorPrice(AppendOnlyModel):
    """What the vendor charges the partner (cost) and its list price (ERP) for an offer."""

    offer = models.ForeignKey(
        "catalog.Offer", on_delete=models.PROTECT, related_name="vendor_prices"
    )
    term = models.CharField(_("term"), max_length=8, choices=Term.choices)
    billing_cycle = models.CharField(
        _("billing cycle"), max_length=16, choices=BillingCycle.choices
    )
    currency = models.CharField(_("currency"), max_length=3)
    cost = models.DecimalField(_("vendor cost"), **AMOUNT)
    list_price = models.DecimalField(_("vendor list price (ERP)"), null=True, blank=True, **AMOUNT)
    effective_from = models.DateField(_("effective from"))
    source = models.CharField(max_length=16, choices=PriceSource.choices)

    class Meta:
        ordering = ["offer", "term", "billing_cycle", "effective_from", "id"]
        indexes = [models.Index(fields=["offer", "term", "billing_cycle", "effective_from"])]

    def __str__(self) -> str:
        return f"{self.offer_id} {self.term} {self.billing_cycle} from {self.effective_from}"


class ExchangeRate(AppendOnlyModel):
    """1 `base_currency` = `rate` `quote_currency`, from `effective_from` on, for one partner."""

    organisation = models.ForeignKey(
        "accounts.Organisation", on_delete=models.PROTECT, related_name="exchange_rates"
    )
    base_currency = models.CharField(_("from"), max_length=3)
    quote_currency = models.CharField(_("to"), max_length=3)
    rate = models.DecimalField(
        _("rate"), max_digits=20, decimal_places=10, validators=RATE_VALIDATORS
    )
    effective_from = models.DateField(_("effective from"))
    source = models.CharField(max_length=16, choices=PriceSource.choices)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["base_currency", "quote_currency", "-effective_from", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(rate__gt=0), name="exchange_rate_positive"),
        ]

    def __str__(self) -> str:
        return f"1 {self.base_currency} = {self.rate.normalize():f} {self.quote_currency}"


class PriceList(TimestampedModel):
    """Sale prices to customers: one global list per partner and currency, and lists for single
    customers that override it. The entries are the customer price per unit per period."""

    organisation = models.ForeignKey(
        "accounts.Organisation",
        on_delete=models.PROTECT,
        related_name="price_lists",
        verbose_name=_("partner"),
    )
    customer = models.ForeignKey(
        "accounts.Organisation",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="customer_price_lists",
        verbose_name=_("customer"),
        help_text=_("Empty for the partner's global list."),
    )
    name = models.CharField(_("name"), max_length=200, validators=[single_line])
    currency = models.CharField(_("currency"), max_length=3)

    class Meta:
        ordering = ["customer", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["organisation", "currency"],
                condition=Q(customer__isnull=True),
                name="price_list_one_global_per_currency",
            ),
            models.UniqueConstraint(
                fields=["organisation", "customer", "currency"],
                condition=Q(customer__isnull=False),
                name="price_list_one_per_customer_currency",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_global(self) -> bool:
        return self.customer_id is None


class PriceListEntry(AppendOnlyModel):
    """A price from `effective_from` on. `unit_price` None removes the offer from the list."""

    price_list = models.ForeignKey(PriceList, on_delete=models.PROTECT, related_name="entries")
    offer = models.ForeignKey("catalog.Offer", on_delete=models.PROTECT, related_name="+")
    term = models.CharField(_("term"), max_length=8, choices=Term.choices)
    billing_cycle = models.CharField(
        _("billing cycle"), max_length=16, choices=BillingCycle.choices
    )
    unit_price = models.DecimalField(_("unit price"), null=True, blank=True, **AMOUNT)
    effective_from = models.DateField(_("effective from"))
    source = models.CharField(max_length=16, choices=PriceSource.choices)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["price_list", "offer", "term", "billing_cycle", "effective_from", "id"]
        indexes = [models.Index(fields=["price_list", "offer", "term", "billing_cycle"])]

    def __str__(self) -> str:
        return f"{self.offer_id} {self.term} {self.billing_cycle} from {self.effective_from}"


class PricingPolicy(TimestampedModel):
    """A partner's guardrails. Both are on unless a cloud admin turns them off."""

    organisation = models.OneToOneField(
        "accounts.Organisation", on_delete=models.PROTECT, related_name="pricing_policy"
    )
    never_below_cost = models.BooleanField(_("never below cost"), default=True)
    never_above_list = models.BooleanField(_("never above vendor list price"), default=True)

    def __str__(self) -> str:
        return f"guardrails of {self.organisation_id}"


class Tier(models.TextChoices):
    RESELLER = "reseller", _("Reseller price (what the reseller pays the partner)")
    CUSTOMER = "customer", _("Customer price (what the customer pays)")


class Method(models.TextChoices):
    MARKUP_ON_COST = "markup", _("Markup on cost %")
    DISCOUNT_OFF_LIST = "discount", _("Discount off list price %")
    MARGIN = "margin", _("Margin %")
    FIXED_PRICE = "fixed", _("Fixed price")
    # A later version of a rule that switches it off: the next most specific source applies.
    REMOVED = "removed", _("Removed")


class MarginRule(AppendOnlyModel):
    """How one tier's price is made from the tier below. Versions share a `scope_key`; the
    latest version effective on a date is the rule on that date."""

    owner = models.ForeignKey(
        "accounts.Organisation",
        on_delete=models.PROTECT,
        related_name="margin_rules",
        verbose_name=_("set by"),
    )
    tier = models.CharField(_("price it sets"), max_length=16, choices=Tier.choices)
    target = models.ForeignKey(
        "accounts.Organisation",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("for"),
        help_text=_("A reseller or a customer; empty for all of them below the owner."),
    )
    # The subscriptions app keeps its own ids; a rule for one subscription names it here.
    subscription_ref = models.CharField(_("subscription"), max_length=64, blank=True)
    vendor = models.ForeignKey(
        "catalog.Vendor", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    category = models.CharField(_("category"), max_length=100, blank=True, validators=[single_line])
    offer = models.ForeignKey(
        "catalog.Offer", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    term = models.CharField(_("term"), max_length=8, choices=Term.choices, blank=True)
    billing_cycle = models.CharField(
        _("billing cycle"), max_length=16, choices=BillingCycle.choices, blank=True
    )
    method = models.CharField(_("method"), max_length=16, choices=Method.choices)
    value = models.DecimalField(
        _("value"),
        max_digits=AMOUNT_MAX_DIGITS,
        decimal_places=AMOUNT_DECIMAL_PLACES,
        validators=RULE_VALUE_VALIDATORS,
    )
    currency = models.CharField(_("currency (fixed price)"), max_length=3, blank=True)
    effective_from = models.DateField(_("effective from"))
    scope_key = models.CharField(max_length=200, db_index=True, editable=False)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["scope_key", "effective_from", "id"]
        indexes = [models.Index(fields=["owner", "tier"])]

    def __str__(self) -> str:
        return f"{self.get_method_display()} {self.value}"

    @staticmethod
    def key_for(
        *,
        owner_id: int,
        tier: str,
        target_id: int | None,
        subscription_ref: str,
        vendor_id: int | None,
        category: str,
        offer_id: int | None,
        term: str,
        billing_cycle: str,
    ) -> str:
        parts = [owner_id, tier, target_id, subscription_ref, vendor_id, offer_id, term]
        parts += [billing_cycle, category]
        return "|".join("" if part is None else str(part) for part in parts)[:200]


class PriceSheetOrigin(models.TextChoices):
    VENDOR = "vendor", _("Downloaded from the vendor")
    UPLOAD = "upload", _("Uploaded by hand")


class PriceSheetStatus(models.TextChoices):
    RUNNING = "running", _("In progress")
    COMPLETED = "completed", _("Completed")
    FAILED = "failed", _("Error")


class PriceSheetImport(models.Model):
    """One import of a vendor's price sheet (Microsoft's license-based price sheet, downloaded or
    uploaded): what it read, what it added, and the catalog offers it found no price for."""

    vendor = models.ForeignKey(
        "catalog.Vendor", on_delete=models.PROTECT, related_name="price_sheet_imports"
    )
    origin = models.CharField(_("origin"), max_length=16, choices=PriceSheetOrigin.choices)
    started_at = models.DateTimeField(_("started"), default=clock.now)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)
    status = models.CharField(
        _("status"),
        max_length=16,
        choices=PriceSheetStatus.choices,
        default=PriceSheetStatus.RUNNING,
    )
    started_by = models.CharField(max_length=200)
    file_name = models.CharField(_("file"), max_length=255, blank=True)
    # The markets the sheet covered ("FR,GB") and, for a sheet of past prices, its month (YYYYMM).
    markets = models.CharField(_("markets"), max_length=200, blank=True)
    month = models.CharField(_("month"), max_length=6, blank=True)
    rows_read = models.PositiveIntegerField(_("rows read"), default=0)
    rows_matched = models.PositiveIntegerField(_("rows matched to an offer"), default=0)
    rows_unmatched = models.PositiveIntegerField(_("rows for offers not in the catalog"), default=0)
    rows_rejected = models.PositiveIntegerField(_("rows refused"), default=0)
    tier_rows = models.PositiveIntegerField(_("higher-tier rows set aside"), default=0)
    prices_added = models.PositiveIntegerField(_("prices added"), default=0)
    prices_unchanged = models.PositiveIntegerField(_("prices unchanged"), default=0)
    offers_priced = models.PositiveIntegerField(_("offers priced"), default=0)
    offers_without_price = models.PositiveIntegerField(_("offers without a price"), default=0)
    # [{"offer": id, "title": ..., "country": ..., "terms": [[term, cycle], ...]}, ...]
    unpriced = models.JSONField(default=list, blank=True)
    # The first refused rows: [{"line": n, "problem": text}, ...]
    problems = models.JSONField(default=list, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]

    def __str__(self) -> str:
        return f"{self.vendor} {self.markets} {self.started_at:%Y-%m-%d %H:%M}"

    @property
    def unpriced_offers(self) -> list[dict]:
        """The offers without a price, their terms in the reader's language."""
        terms, cycles = dict(Term.choices), dict(BillingCycle.choices)
        return [
            {
                **item,
                "term_labels": [
                    f"{terms.get(term, term)} · {cycles.get(cycle, cycle)}"
                    for term, cycle in item.get("terms", [])
                ],
            }
            for item in self.unpriced
        ]
