"""The partner's catalog: vendors, their offers (one SKU in a country and segment), the terms an
offer is sold on, and the record of each refresh (what was new, changed or withdrawn).

An offer is never deleted: a withdrawn offer stays for the subscriptions that hold it and
cannot be bought again (`Offer.is_purchasable`).
"""

from __future__ import annotations

import calendar
import datetime as dt

from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from seatkeeper.core import clock
from seatkeeper.core.models import TimestampedModel
from seatkeeper.core.validators import single_line


class VendorKind(models.TextChoices):
    API = "api", _("Connected (imported from the vendor)")
    MANUAL = "manual", _("Manual (defined here, fulfilled by a person)")


class Vendor(TimestampedModel):
    organisation = models.ForeignKey(
        "accounts.Organisation",
        on_delete=models.PROTECT,
        related_name="vendors",
        verbose_name=_("partner"),
    )
    name = models.CharField(_("name"), max_length=200, validators=[single_line])
    kind = models.CharField(_("kind"), max_length=16, choices=VendorKind.choices)
    provider_account = models.ForeignKey(
        "providers.ProviderAccount",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="vendors",
        verbose_name=_("provider account"),
    )
    # What the import asks the vendor for (its catalog is per country and segment).
    country = models.CharField(_("catalog country"), max_length=2, blank=True)
    segment = models.CharField(_("segment"), max_length=40, blank=True)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("vendor")
        verbose_name_plural = _("vendors")
        constraints = [
            models.UniqueConstraint(
                fields=["organisation", "name"], name="vendor_unique_name_per_partner"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class OfferKind(models.TextChoices):
    SERVICE = "service", _("Service (base plan)")
    ADDON = "addon", _("Option / add-on")
    APPLICATION = "application", _("Application")
    CUSTOM = "custom", _("Custom item")


class OfferStatus(models.TextChoices):
    ACTIVE = "active", pgettext_lazy("offer status", "Active")
    WITHDRAWN = "withdrawn", pgettext_lazy("offer status", "Withdrawn")


class Term(models.TextChoices):
    ONE_MONTH = "P1M", _("1 month")
    ONE_YEAR = "P1Y", _("1 year")
    THREE_YEARS = "P3Y", _("3 years")
    FIVE_YEARS = "P5Y", _("5 years")


class BillingCycle(models.TextChoices):
    MONTHLY = "monthly", _("Monthly")
    ANNUAL = "annual", _("Annual")
    TRIENNIAL = "triennial", _("Triennial")
    PREPAID = "prepaid", _("Prepaid for the whole term")
    NONE = "none", _("Not billed (trial or free)")


TERM_MONTHS = {Term.ONE_MONTH: 1, Term.ONE_YEAR: 12, Term.THREE_YEARS: 36, Term.FIVE_YEARS: 60}
CYCLE_MONTHS = {
    BillingCycle.MONTHLY: 1,
    BillingCycle.ANNUAL: 12,
    BillingCycle.TRIENNIAL: 36,
    BillingCycle.NONE: 1,
}


def add_months(day: dt.date, months: int) -> dt.date:
    """The same day `months` later, or the month's last day when it is shorter (Jan 31 → Feb 28)."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def cycle_months(term: str, billing_cycle: str) -> int:
    """Months covered by one billing period of `billing_cycle` on `term` (prepaid = the term)."""
    if billing_cycle == BillingCycle.PREPAID:
        return TERM_MONTHS[term]
    return CYCLE_MONTHS[billing_cycle]


class Offer(TimestampedModel):
    vendor = models.ForeignKey(
        Vendor, on_delete=models.PROTECT, related_name="offers", verbose_name=_("vendor")
    )
    # The vendor's key for the SKU ("productId:skuId"); the item code for manual vendors.
    external_id = models.CharField(_("vendor id"), max_length=200)
    product_id = models.CharField(_("product id"), max_length=100, blank=True)
    sku_id = models.CharField(_("SKU id"), max_length=100, blank=True)
    catalog_item_id = models.CharField(_("catalog item id"), max_length=200, blank=True)
    title = models.CharField(_("name"), max_length=300)
    product_title = models.CharField(_("product"), max_length=300, blank=True)
    description = models.TextField(_("description"), blank=True)
    kind = models.CharField(_("kind"), max_length=16, choices=OfferKind.choices)
    category = models.CharField(_("category"), max_length=100, blank=True, db_index=True)
    product_group = models.CharField(_("product group"), max_length=100, blank=True)
    item_code = models.CharField(_("item code"), max_length=100)
    unit_type = models.CharField(_("unit type"), max_length=40, default="Licenses")
    minimum_quantity = models.PositiveIntegerField(_("minimum quantity"), default=1)
    maximum_quantity = models.PositiveIntegerField(_("maximum quantity"), null=True, blank=True)
    # An add-on whose seats may not outnumber its base subscription's seats, where the vendor
    # says so. Partner Center documents no such flag: its offer and SKU resources give only an
    # absolute minimumQuantity/maximumQuantity (offer resources, product resources), and the
    # SKU's `constraints` and `dynamicAttributes.hasConstraints` are listed without any content
    # described. So Microsoft offers leave it off (the vendor's own refusal still stands), and
    # a manual vendor's offer file or form sets it (column `seats_within_base`).
    seats_within_base = models.BooleanField(
        _("add-on seats within the base's seats"), default=False
    )
    is_trial_available = models.BooleanField(_("trial available"), default=False)
    segment = models.CharField(_("segment"), max_length=40, blank=True)
    country = models.CharField(_("country"), max_length=2, blank=True)
    currency = models.CharField(_("currency"), max_length=3)
    base_offers = models.ManyToManyField(
        "self",
        symmetrical=False,
        blank=True,
        related_name="addons",
        verbose_name=_("attaches to"),
    )
    status = models.CharField(
        _("status"), max_length=16, choices=OfferStatus.choices, default=OfferStatus.ACTIVE
    )
    withdrawn_at = models.DateTimeField(_("withdrawn"), null=True, blank=True)
    last_seen_at = models.DateTimeField(_("last seen at the vendor"), null=True, blank=True)

    class Meta:
        ordering = ["category", "product_group", "title"]
        verbose_name = _("offer")
        verbose_name_plural = _("offers")
        constraints = [
            models.UniqueConstraint(
                fields=["vendor", "external_id", "country", "segment"],
                name="offer_unique_per_vendor_country_segment",
            ),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def base_offer_ids(self) -> list[int]:
        return [offer.pk for offer in self.base_offers.all()]

    @property
    def is_purchasable(self) -> bool:
        return self.status == OfferStatus.ACTIVE and self.vendor.is_active


class OfferTerm(models.Model):
    """A term and billing cycle on which an offer is sold (prices are per term and cycle)."""

    offer = models.ForeignKey(Offer, on_delete=models.CASCADE, related_name="terms")
    term = models.CharField(_("term"), max_length=8, choices=Term.choices)
    billing_cycle = models.CharField(
        _("billing cycle"), max_length=16, choices=BillingCycle.choices
    )
    description = models.CharField(_("description"), max_length=200, blank=True)
    is_available = models.BooleanField(_("available"), default=True)

    class Meta:
        ordering = ["offer", "term", "billing_cycle"]
        constraints = [
            models.UniqueConstraint(
                fields=["offer", "term", "billing_cycle"], name="offer_term_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_term_display()} · {self.get_billing_cycle_display()}"


class RefreshStatus(models.TextChoices):
    RUNNING = "running", _("In progress")
    COMPLETED = "completed", _("Completed")
    FAILED = "failed", _("Error")


class CatalogRefresh(models.Model):
    """One import of a vendor's catalog (scheduled, on demand, or a manual CSV)."""

    vendor = models.ForeignKey(Vendor, on_delete=models.PROTECT, related_name="refreshes")
    started_at = models.DateTimeField(default=clock.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(
        max_length=16, choices=RefreshStatus.choices, default=RefreshStatus.RUNNING
    )
    started_by = models.CharField(max_length=200)
    new_count = models.PositiveIntegerField(default=0)
    changed_count = models.PositiveIntegerField(default=0)
    price_changed_count = models.PositiveIntegerField(default=0)
    withdrawn_count = models.PositiveIntegerField(default=0)
    unchanged_count = models.PositiveIntegerField(default=0)
    # Offers for sale of which some term came with no price and had none from before: they
    # have no vendor cost until a price sheet brings one (Partner Center's catalog has none).
    no_price_count = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]

    def __str__(self) -> str:
        return f"{self.vendor} {self.started_at:%Y-%m-%d %H:%M}"


class ChangeKind(models.TextChoices):
    NEW = "new", pgettext_lazy("offer change", "New")
    CHANGED = "changed", pgettext_lazy("offer change", "Changed")
    PRICE_CHANGED = "price_changed", pgettext_lazy("offer change", "Changed price")
    WITHDRAWN = "withdrawn", pgettext_lazy("offer change", "Withdrawn")
    REINSTATED = "reinstated", pgettext_lazy("offer change", "Available again")
    # A notice rather than a change: recorded at every import that still finds no price.
    NO_PRICE = "no_price", pgettext_lazy("offer change", "No price found")


class CatalogChange(models.Model):
    refresh = models.ForeignKey(CatalogRefresh, on_delete=models.CASCADE, related_name="changes")
    offer = models.ForeignKey(Offer, on_delete=models.PROTECT, related_name="changes")
    kind = models.CharField(max_length=16, choices=ChangeKind.choices)
    details = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["refresh", "id"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.offer}"

    @property
    def details_text(self) -> str:
        """What changed, in the reader's language (`catalog.wording`)."""
        from seatkeeper.catalog.wording import change_details

        return change_details(self)
