"""Every write to the catalog: vendors, the import of a vendor's catalog, manual offers.

Imports (from a provider or from a CSV file for a manual vendor) go through one upsert,
`_apply_incoming`, which records each difference as a CatalogChange of the refresh and writes a
new VendorPrice row when a price moved (effective from the day of the import). An offer for sale
whose terms came without a price, and had none before, gets a NO_PRICE notice on the refresh
instead of silently having no cost: Partner Center's catalog carries no prices at all.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import logging
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import CharField
from django.db.models.functions import Cast
from django.utils.translation import gettext as _

from seatkeeper.accounts.models import Organisation, OrganisationKind, User
from seatkeeper.activity.services import activity_record, diff
from seatkeeper.catalog import permissions
from seatkeeper.catalog.models import (
    BillingCycle,
    CatalogChange,
    CatalogRefresh,
    ChangeKind,
    Offer,
    OfferKind,
    OfferStatus,
    OfferTerm,
    RefreshStatus,
    Term,
    Vendor,
    VendorKind,
)
from seatkeeper.core import clock
from seatkeeper.core.errors import PermissionRefused, ServiceError
from seatkeeper.core.validation import (
    amount_problem,
    csv_rows,
    parse_amount,
    quantity_problem,
    read_stored_amount,
)
from seatkeeper.core.validators import CONTROL_CHARACTERS
from seatkeeper.pricing.services import vendor_price_record

logger = logging.getLogger(__name__)

# Vendor billing cycles (providers.interface.BillingCycle values) → ours.
CYCLE_FROM_VENDOR = {
    "monthly": BillingCycle.MONTHLY,
    "annual": BillingCycle.ANNUAL,
    "triennial": BillingCycle.TRIENNIAL,
    "one_time": BillingCycle.PREPAID,
    "none": BillingCycle.NONE,
}


@dataclass(kw_only=True)
class IncomingTerm:
    term: str
    billing_cycle: str
    description: str = ""
    currency: str = ""
    cost: Decimal | None = None
    list_price: Decimal | None = None


@dataclass(kw_only=True)
class IncomingOffer:
    external_id: str
    title: str
    kind: str
    item_code: str
    currency: str
    product_id: str = ""
    sku_id: str = ""
    catalog_item_id: str = ""
    product_title: str = ""
    description: str = ""
    category: str = ""
    product_group: str = ""
    unit_type: str = "Licenses"
    minimum_quantity: int = 1
    maximum_quantity: int | None = None
    seats_within_base: bool = False
    is_trial_available: bool = False
    segment: str = ""
    country: str = ""
    is_purchasable: bool = True
    terms: list[IncomingTerm] = field(default_factory=list)
    base_external_ids: tuple[str, ...] = ()

    def offer_values(self) -> dict[str, Any]:
        return {
            "product_id": self.product_id,
            "sku_id": self.sku_id,
            "catalog_item_id": self.catalog_item_id,
            "title": self.title[:300],
            "product_title": self.product_title[:300],
            "description": self.description,
            "kind": self.kind,
            "category": self.category[:100],
            "product_group": self.product_group[:100],
            "item_code": self.item_code[:100],
            "unit_type": self.unit_type[:40],
            "minimum_quantity": self.minimum_quantity,
            "maximum_quantity": self.maximum_quantity,
            "seats_within_base": self.seats_within_base,
            "is_trial_available": self.is_trial_available,
            "currency": self.currency,
        }


def _require_catalog_rights(actor: User | None, partner: Organisation) -> None:
    if actor is not None and not permissions.can_manage_catalog(actor, partner):
        raise PermissionRefused(_("Only the partner's cloud admins manage the catalog."))


@transaction.atomic
def vendor_create(
    *,
    actor: User | None,
    partner: Organisation,
    name: str,
    kind: str,
    provider_account=None,
    country: str = "",
    segment: str = "",
) -> Vendor:
    """Add a vendor to `partner`'s catalog: connected to a provider account, or manual."""
    _require_catalog_rights(actor, partner)
    if partner.kind != OrganisationKind.PARTNER:
        raise ServiceError(_("Vendors belong to a partner."))
    if kind == VendorKind.API:
        if provider_account is None or provider_account.organisation_id != partner.pk:
            raise ServiceError(
                _("A connected vendor needs one of the partner's provider accounts."),
                field="provider_account",
            )
    elif provider_account is not None:
        raise ServiceError(_("A manual vendor has no provider account."), field="provider_account")
    name = name.strip()
    if Vendor.objects.filter(organisation=partner, name__iexact=name).exists():
        raise ServiceError(_("This partner already has a vendor with this name."), field="name")
    vendor = Vendor(
        organisation=partner,
        name=name,
        kind=kind,
        provider_account=provider_account,
        country=country.upper(),
        segment=segment,
    )
    vendor.full_clean()
    vendor.save()
    activity_record(
        actor=actor,
        organisation=partner,
        obj=vendor,
        operation="vendor.create",
        details={"kind": kind},
    )
    return vendor


# --- the one upsert -----------------------------------------------------------------------------


def _latest_prices(offer: Offer) -> dict[tuple[str, str, str], tuple[Decimal, Decimal | None]]:
    from seatkeeper.pricing.models import VendorPrice

    latest: dict = {}
    # Read as text: a stored amount out of bounds reads as None, so the import replaces it.
    rows = VendorPrice.objects.filter(offer=offer).annotate(
        cost_text=Cast("cost", CharField()), list_price_text=Cast("list_price", CharField())
    )
    for term, cycle, currency, cost, list_price in rows.order_by(
        "effective_from", "id"
    ).values_list("term", "billing_cycle", "currency", "cost_text", "list_price_text"):
        latest[(term, cycle, currency)] = (
            read_stored_amount(cost)[0],
            read_stored_amount(list_price)[0],
        )
    return latest


def _apply_incoming(
    *,
    vendor: Vendor,
    refresh: CatalogRefresh,
    incoming: list[IncomingOffer],
    withdraw_missing: bool,
    source: str,
) -> None:
    moment = clock.now()
    seen: set[int] = set()
    by_external: dict[str, Offer] = {}
    for item in incoming:
        offer = _apply_offer(
            vendor=vendor,
            refresh=refresh,
            item=item,
            moment=moment,
            withdraw_missing=withdraw_missing,
            source=source,
        )
        seen.add(offer.pk)
        by_external[item.external_id] = offer
    _link_addons(vendor, incoming, by_external)
    if withdraw_missing:
        _withdraw_offers_not_seen(vendor, refresh, seen, moment)


def _apply_offer(
    *,
    vendor: Vendor,
    refresh: CatalogRefresh,
    item: IncomingOffer,
    moment: dt.datetime,
    withdraw_missing: bool,
    source: str,
) -> Offer:
    """One incoming offer: its row, status, terms and vendor prices brought up to date, and
    what changed recorded (and counted) in the refresh."""
    offer, kinds = _upsert_offer(vendor, item, moment)
    was_new = any(kind == ChangeKind.NEW for kind, _details in kinds)
    kinds += _apply_status(offer, item, moment, was_new=was_new)
    price_changes, unpriced = _apply_terms(
        offer, item, today=moment.date(), withdraw_missing=withdraw_missing, source=source
    )
    if price_changes:
        kinds.append((ChangeKind.PRICE_CHANGED, {"prices": price_changes}))
    counted = {kind for kind, _details in kinds}
    if unpriced and item.is_purchasable:
        kinds.append((ChangeKind.NO_PRICE, {"terms": unpriced}))
        refresh.no_price_count += 1
    for kind, details in kinds:
        CatalogChange.objects.create(refresh=refresh, offer=offer, kind=kind, details=details)
    refresh.new_count += ChangeKind.NEW in counted
    refresh.changed_count += ChangeKind.CHANGED in counted
    refresh.price_changed_count += ChangeKind.PRICE_CHANGED in counted
    refresh.withdrawn_count += ChangeKind.WITHDRAWN in counted
    refresh.unchanged_count += not counted
    return offer


def _upsert_offer(
    vendor: Vendor, item: IncomingOffer, moment: dt.datetime
) -> tuple[Offer, list[tuple[str, dict]]]:
    """The offer created, or updated with what the vendor says of it now; NEW or CHANGED."""
    values = item.offer_values()
    offer = Offer.objects.filter(
        vendor=vendor, external_id=item.external_id, country=item.country, segment=item.segment
    ).first()
    if offer is None:
        offer = Offer(
            vendor=vendor,
            external_id=item.external_id,
            country=item.country,
            segment=item.segment,
            last_seen_at=moment,
            **values,
        )
        offer.full_clean(validate_constraints=False)
        offer.save()
        return offer, [(ChangeKind.NEW, {"title": offer.title})]
    kinds: list[tuple[str, dict]] = []
    changes = diff(offer, values)
    if changes:
        for name, value in values.items():
            setattr(offer, name, value)
        kinds.append((ChangeKind.CHANGED, {"changes": changes}))
    offer.last_seen_at = moment
    offer.updated_at = moment
    offer.save(update_fields=[*changes, "last_seen_at", "updated_at"])
    return offer, kinds


def _apply_status(
    offer: Offer, item: IncomingOffer, moment: dt.datetime, *, was_new: bool
) -> list[tuple[str, dict]]:
    """Withdrawn or active again as the vendor says; WITHDRAWN or REINSTATED for an offer
    already known."""
    status = OfferStatus.ACTIVE if item.is_purchasable else OfferStatus.WITHDRAWN
    if offer.status == status:
        return []
    offer.status = status
    offer.withdrawn_at = moment if status == OfferStatus.WITHDRAWN else None
    offer.save(update_fields=["status", "withdrawn_at"])
    if was_new:
        return []
    change = ChangeKind.WITHDRAWN if status == OfferStatus.WITHDRAWN else ChangeKind.REINSTATED
    return [(change, {})]


def _apply_terms(
    offer: Offer, item: IncomingOffer, *, today: dt.date, withdraw_missing: bool, source: str
) -> tuple[list[dict], list[dict]]:
    """The offer's terms and their vendor prices; (price changes, terms left without a price).

    Every term ever sold is kept (subscriptions hold them); one the vendor no longer offers is
    marked unavailable when the refresh is complete (`withdraw_missing`)."""
    existing = {(t.term, t.billing_cycle): t for t in offer.terms.all()}
    offered = set()
    latest = _latest_prices(offer) if existing else {}
    price_changes = []
    unpriced = []
    for term in item.terms:
        key = (term.term, term.billing_cycle)
        offered.add(key)
        row = existing.get(key)
        if row is None:
            OfferTerm.objects.create(
                offer=offer,
                term=term.term,
                billing_cycle=term.billing_cycle,
                description=term.description[:200],
            )
        elif not row.is_available:
            row.is_available = True
            row.save(update_fields=["is_available"])
        currency = term.currency or item.currency
        if term.cost is None:
            if (term.term, term.billing_cycle, currency) not in latest:
                unpriced.append({"term": term.term, "billing_cycle": term.billing_cycle})
            continue
        change = _apply_term_price(offer, term, currency, latest, today=today, source=source)
        if change is not None:
            price_changes.append(change)
    for key, row in existing.items():
        if key not in offered and row.is_available and withdraw_missing:
            row.is_available = False
            row.save(update_fields=["is_available"])
    return price_changes, unpriced


def _apply_term_price(
    offer: Offer, term: IncomingTerm, currency: str, latest: dict, *, today: dt.date, source: str
) -> dict | None:
    """A new vendor price from today when the vendor's differs from the latest one known; the
    change to record when there was one before (None for a first price or no change)."""
    if amount_problem(term.cost) or (
        term.list_price is not None and amount_problem(term.list_price)
    ):
        # Never stored: a price out of bounds would break the offer's prices.
        logger.warning(
            "offer %s %s %s: vendor price out of bounds (%s, %s), not stored",
            offer.pk, term.term, term.billing_cycle, term.cost, term.list_price,
        )  # fmt: skip
        return None
    before = latest.get((term.term, term.billing_cycle, currency))
    after = (term.cost, term.list_price)
    if before is not None and before[0] == after[0] and before[1] == after[1]:
        return None
    vendor_price_record(
        offer=offer,
        term=term.term,
        billing_cycle=term.billing_cycle,
        currency=currency,
        cost=term.cost,
        list_price=term.list_price,
        effective_from=today,
        source=source,
    )
    if before is None:
        return None
    # Decimals as strings with their currency; a missing list price is None.
    return {
        "term": term.term,
        "billing_cycle": term.billing_cycle,
        "currency": currency,
        "cost": [_decimal_text(before[0]), _decimal_text(after[0])],
        "list_price": [_decimal_text(before[1]), _decimal_text(after[1])],
    }


def _link_addons(
    vendor: Vendor, incoming: list[IncomingOffer], by_external: dict[str, Offer]
) -> None:
    """Add-ons to the base offers the vendor names (once every offer of the refresh exists)."""
    for item in incoming:
        if not item.base_external_ids:
            continue
        bases = Offer.objects.filter(vendor=vendor, external_id__in=item.base_external_ids)
        by_external[item.external_id].base_offers.set(bases)


def _withdraw_offers_not_seen(
    vendor: Vendor, refresh: CatalogRefresh, seen: set[int], moment: dt.datetime
) -> None:
    """A complete refresh withdraws the active offers the vendor no longer lists."""
    gone = Offer.objects.filter(vendor=vendor, status=OfferStatus.ACTIVE).exclude(pk__in=seen)
    for offer in gone:
        offer.status = OfferStatus.WITHDRAWN
        offer.withdrawn_at = moment
        offer.save(update_fields=["status", "withdrawn_at"])
        CatalogChange.objects.create(refresh=refresh, offer=offer, kind=ChangeKind.WITHDRAWN)
        refresh.withdrawn_count += 1


def _incoming_from_provider(catalog_offer, *, country: str, segment: str) -> list[IncomingOffer]:
    product, sku = catalog_offer.product, catalog_offer.sku
    result = []
    seen_keys = set()
    for availability in catalog_offer.availabilities:
        key = (availability.country or country, availability.segment or segment)
        if key in seen_keys:
            continue
        seen_keys.add(key)
        terms = []
        for term in availability.terms:
            cycle = CYCLE_FROM_VENDOR.get(str(term.billing_cycle))
            if cycle is None or term.duration not in Term.values:
                continue  # a term we do not sell (unknown to us) is skipped, not guessed
            price = term.price
            list_price = getattr(term, "retail_price", None) or getattr(term, "list_price", None)
            terms.append(
                IncomingTerm(
                    term=term.duration,
                    billing_cycle=cycle,
                    description=term.description,
                    currency=price.currency if price else availability.currency,
                    cost=price.amount if price else None,
                    list_price=list_price.amount if list_price is not None else None,
                )
            )
        result.append(
            IncomingOffer(
                external_id=sku.key,
                product_id=product.id,
                sku_id=sku.id,
                catalog_item_id=availability.catalog_item_id,
                title=sku.title or product.title,
                product_title=product.title,
                description=sku.description or product.description,
                kind=OfferKind.ADDON if sku.is_addon else OfferKind.SERVICE,
                category=product.product_type or _("Other"),
                product_group=product.publisher or product.product_sub_type,
                item_code=availability.catalog_item_id or sku.key,
                minimum_quantity=sku.minimum_quantity,
                maximum_quantity=sku.maximum_quantity,
                is_trial_available=sku.is_trial,
                segment=key[1],
                country=key[0],
                currency=availability.currency,
                is_purchasable=availability.is_purchasable,
                terms=terms,
                base_external_ids=tuple(sku.prerequisite_skus),
            )
        )
    return result


def catalog_refresh(
    *, vendor: Vendor, actor: User | None = None, provider: Any = None
) -> CatalogRefresh:
    """Import `vendor`'s catalog from its provider account (`provider` lets tests pass a fake).

    The refresh row is committed first so a failure is recorded; the offers and prices change
    in one transaction, so a failed import leaves the catalog as it was.
    """
    _require_catalog_rights(actor, vendor.organisation)
    if vendor.kind != VendorKind.API or vendor.provider_account_id is None:
        raise ServiceError(_("Only a connected vendor's catalog can be refreshed from the vendor."))
    actor_name = actor.get_username() if actor else "system"
    refresh = CatalogRefresh.objects.create(vendor=vendor, started_by=actor_name)
    country = vendor.country or vendor.organisation.country
    try:
        if provider is None:
            from seatkeeper.providers.registry import get_provider

            provider = get_provider(vendor.provider_account)
        with transaction.atomic():
            incoming = []
            for catalog_offer in provider.catalog(country=country, segment=vendor.segment or None):
                incoming.extend(
                    _incoming_from_provider(catalog_offer, country=country, segment=vendor.segment)
                )
            _apply_incoming(
                vendor=vendor,
                refresh=refresh,
                incoming=incoming,
                withdraw_missing=True,
                source="import",
            )
            refresh.status = RefreshStatus.COMPLETED
            refresh.finished_at = clock.now()
            refresh.save()
            activity_record(
                actor=actor,
                organisation=vendor.organisation,
                obj=vendor,
                operation="catalog.refresh",
                details=_refresh_counts(refresh),
            )
    except Exception as error:  # recorded on the run, then raised for the caller or the task
        CatalogRefresh.objects.filter(pk=refresh.pk).update(
            status=RefreshStatus.FAILED, finished_at=clock.now(), error=str(error)[:2000]
        )
        refresh.refresh_from_db()
        raise
    return refresh


def _decimal_text(value) -> str | None:
    return None if value is None else str(value)


def _refresh_counts(refresh: CatalogRefresh) -> dict[str, int]:
    return {
        "refresh": refresh.pk,
        "new": refresh.new_count,
        "changed": refresh.changed_count,
        "price_changed": refresh.price_changed_count,
        "withdrawn": refresh.withdrawn_count,
        "unchanged": refresh.unchanged_count,
        "no_price": refresh.no_price_count,
    }


# --- manual vendors -------------------------------------------------------------------------------

OFFER_CSV_COLUMNS = [
    "item_code",
    "title",
    "kind",
    "category",
    "product_group",
    "description",
    "unit_type",
    "minimum_quantity",
    "maximum_quantity",
    "term",
    "billing_cycle",
    "currency",
    "cost",
    "list_price",
    "attaches_to",
    "seats_within_base",
]

_YES = {"yes", "true", "1", "oui"}
_NO = {"", "no", "false", "0", "non"}


@dataclass
class CsvLine:
    number: int
    values: dict[str, str]
    errors: list[str]


@dataclass
class OfferCsvPreview:
    lines: list[CsvLine]
    offers: list[IncomingOffer]

    @property
    def is_valid(self) -> bool:
        return bool(self.lines) and not any(line.errors for line in self.lines)

    @property
    def error_count(self) -> int:
        return sum(bool(line.errors) for line in self.lines)


def _decimal(text: str, name: str, errors: list[str], *, required: bool) -> Decimal | None:
    if not (text or "").strip():
        if required:
            errors.append(_("%(name)s is required.") % {"name": name})
        return None
    try:
        return parse_amount(text)
    except ValueError as problem:
        errors.append(f"{name} {problem}")
        return None


def _quantity(text: str, name: str, errors: list[str], default: int | None) -> int | None:
    if not text:
        return default
    if not text.isdigit():
        errors.append(_("%(name)s must be a whole number.") % {"name": name})
        return default
    problem = quantity_problem(int(text))
    if problem:
        errors.append(f"{name} {problem}")
        return default
    return int(text)


def offers_csv_preview(*, vendor: Vendor, text: str) -> OfferCsvPreview:
    """Read a manual vendor's offers file (one line per offer, term and cycle); write nothing."""
    try:
        fieldnames, rows = csv_rows(text)
        missing = {"item_code", "title", "term", "billing_cycle", "cost"} - set(fieldnames)
        if missing:
            raise ServiceError(
                _("The file needs the columns: %(columns)s.")
                % {"columns": ", ".join(sorted(missing))},
                field="csv",
            )
        return _offers_csv_lines(vendor, rows)
    except ValueError as unreadable:
        raise ServiceError(str(unreadable), field="csv") from None


def _offers_csv_lines(vendor: Vendor, rows) -> OfferCsvPreview:
    lines: list[CsvLine] = []
    offers: dict[str, IncomingOffer] = {}
    for number, row in enumerate(rows, start=2):
        values = {key: (value or "").strip() for key, value in row.items() if key}
        errors: list[str] = []
        code = values.get("item_code", "")
        if not code:
            errors.append(_("item_code is required."))
        if not values.get("title"):
            errors.append(_("title is required."))
        for name in ("item_code", "title", "category", "product_group"):
            if CONTROL_CHARACTERS.search(values.get(name, "")):
                errors.append(_("%(name)s holds control characters.") % {"name": name})
        kind = values.get("kind") or OfferKind.SERVICE
        if kind not in OfferKind.values:
            errors.append(
                _("kind must be one of %(values)s.") % {"values": ", ".join(OfferKind.values)}
            )
        if values.get("term") not in Term.values:
            errors.append(_("term must be one of %(values)s.") % {"values": ", ".join(Term.values)})
        if values.get("billing_cycle") not in BillingCycle.values:
            errors.append(
                _("billing_cycle must be one of %(values)s.")
                % {"values": ", ".join(BillingCycle.values)}
            )
        currency = (values.get("currency") or vendor.organisation.default_currency).upper()
        if len(currency) != 3 or not currency.isalpha():
            errors.append(_("currency must be a three-letter code."))
        cost = _decimal(values.get("cost", ""), "cost", errors, required=True)
        list_price = _decimal(values.get("list_price", ""), "list_price", errors, required=False)
        if cost is not None and list_price is not None and list_price < cost:
            errors.append(_("list_price is below cost."))
        quantities = [
            _quantity(values.get(name, ""), name, errors, default)
            for name, default in (("minimum_quantity", 1), ("maximum_quantity", None))
        ]
        within = values.get("seats_within_base", "").lower()
        if within not in _YES | _NO:
            errors.append(_("seats_within_base must be yes or no."))
        if errors:
            lines.append(CsvLine(number, values, errors))
            continue
        offer = offers.get(code)
        if offer is None:
            offer = offers[code] = IncomingOffer(
                external_id=code,
                title=values["title"],
                kind=kind,
                item_code=code,
                currency=currency,
                category=values.get("category", ""),
                product_group=values.get("product_group", ""),
                description=values.get("description", ""),
                unit_type=values.get("unit_type") or "Licenses",
                minimum_quantity=quantities[0],
                maximum_quantity=quantities[1],
                seats_within_base=within in _YES,
                product_title=values.get("product_group", ""),
                base_external_ids=tuple(
                    part.strip()
                    for part in values.get("attaches_to", "").split("|")
                    if part.strip()
                ),
            )
        if any(
            t.term == values["term"] and t.billing_cycle == values["billing_cycle"]
            for t in offer.terms
        ):
            errors.append(_("This item code already has a line for this term and cycle."))
        else:
            offer.terms.append(
                IncomingTerm(
                    term=values["term"],
                    billing_cycle=values["billing_cycle"],
                    currency=currency,
                    cost=cost,
                    list_price=list_price,
                )
            )
        lines.append(CsvLine(number, values, errors))
    known = set(offers) | set(
        Offer.objects.filter(vendor=vendor).values_list("external_id", flat=True)
    )
    for line in lines:
        for base in filter(
            None, (p.strip() for p in line.values.get("attaches_to", "").split("|"))
        ):
            if base not in known:
                line.errors.append(
                    _("attaches_to names an unknown item code: %(code)s") % {"code": base}
                )
    return OfferCsvPreview(lines=lines, offers=list(offers.values()))


def offers_csv_import(*, actor: User | None, vendor: Vendor, text: str) -> CatalogRefresh:
    """Create or update a manual vendor's offers from a CSV file: all lines or none."""
    _require_catalog_rights(actor, vendor.organisation)
    if vendor.kind != VendorKind.MANUAL:
        raise ServiceError(_("Offers are imported from a file only for a manual vendor."))
    preview = offers_csv_preview(vendor=vendor, text=text)
    if not preview.is_valid:
        raise ValidationError(
            [
                _("Line %(number)s: %(errors)s")
                % {"number": line.number, "errors": " ".join(line.errors)}
                for line in preview.lines
                if line.errors
            ]
            or [_("The file has no lines.")]
        )
    with transaction.atomic():
        refresh = CatalogRefresh.objects.create(
            vendor=vendor, started_by=actor.get_username() if actor else "system"
        )
        _apply_incoming(
            vendor=vendor,
            refresh=refresh,
            incoming=preview.offers,
            withdraw_missing=False,
            source="csv",
        )
        refresh.status = RefreshStatus.COMPLETED
        refresh.finished_at = clock.now()
        refresh.save()
        activity_record(
            actor=actor,
            organisation=vendor.organisation,
            obj=vendor,
            operation="catalog.csv_import",
            details=_refresh_counts(refresh),
        )
    return refresh


@transaction.atomic
def offer_withdraw(*, actor: User, offer: Offer) -> Offer:
    """Stop selling a manual offer; subscriptions that hold it keep it."""
    _require_catalog_rights(actor, offer.vendor.organisation)
    offer = Offer.objects.select_for_update().get(pk=offer.pk)
    if offer.status == OfferStatus.WITHDRAWN:
        return offer
    offer.status = OfferStatus.WITHDRAWN
    offer.withdrawn_at = clock.now()
    offer.save(update_fields=["status", "withdrawn_at"])
    activity_record(
        actor=actor,
        organisation=offer.vendor.organisation,
        obj=offer,
        operation="offer.withdraw",
        changes={"status": [OfferStatus.ACTIVE, OfferStatus.WITHDRAWN]},
    )
    return offer


def manual_offer_save(
    *,
    actor: User | None,
    vendor: Vendor,
    item_code: str,
    title: str,
    kind: str,
    term: str,
    billing_cycle: str,
    cost: Decimal,
    list_price: Decimal | None = None,
    currency: str = "",
    category: str = "",
    product_group: str = "",
    description: str = "",
    unit_type: str = "Licenses",
    minimum_quantity: int = 1,
    maximum_quantity: int | None = None,
    attaches_to: str = "",
    seats_within_base: bool = False,
) -> Offer:
    """Define (or change) one manual offer by hand, with one term and its vendor price.

    Saving the same item code again with another term adds that term; the offer's other
    details take the new values. Recorded as a catalog refresh like a file import.
    """
    values = {
        "item_code": item_code.strip(),
        "title": title.strip(),
        "kind": kind,
        "term": term,
        "billing_cycle": billing_cycle,
        "currency": currency or vendor.organisation.default_currency,
        "cost": str(cost),
        "list_price": "" if list_price is None else str(list_price),
        "category": category,
        "product_group": product_group,
        "description": description,
        "unit_type": unit_type,
        "minimum_quantity": str(minimum_quantity),
        "maximum_quantity": "" if maximum_quantity is None else str(maximum_quantity),
        "attaches_to": attaches_to,
        "seats_within_base": "yes" if seats_within_base else "",
    }
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=OFFER_CSV_COLUMNS)
    writer.writeheader()
    writer.writerow(values)
    preview = offers_csv_preview(vendor=vendor, text=buffer.getvalue())
    errors = [error for line in preview.lines for error in line.errors]
    if errors:
        raise ValidationError(errors)
    offers_csv_import(actor=actor, vendor=vendor, text=buffer.getvalue())
    return Offer.objects.get(vendor=vendor, external_id=values["item_code"], country="", segment="")
