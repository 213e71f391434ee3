"""Every write to prices: vendor prices, exchange rates, price lists, margin rules, guardrails.

Price-bearing rows are appended, never changed: a new price or rule is a new row effective from
a date that is today or later, so no figure already shown or billed can move. Billing prices a
period as it stood on the period's first day, so a change takes effect from the next period.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from django.apps import apps
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from seatkeeper.accounts.models import Organisation, OrganisationKind, User
from seatkeeper.activity.services import activity_record
from seatkeeper.catalog import permissions
from seatkeeper.catalog.models import BillingCycle, Offer, OfferTerm, Term, Vendor
from seatkeeper.core import clock
from seatkeeper.core.errors import PermissionRefused, ServiceError
from seatkeeper.core.money import Money
from seatkeeper.core.validation import (
    MAX_AMOUNT,
    MAX_RATE,
    csv_rows,
    parse_amount,
    require_amount,
)
from seatkeeper.pricing.engine import PricingContext, PricingError, TierPrice
from seatkeeper.pricing.models import (
    ExchangeRate,
    MarginRule,
    Method,
    PriceList,
    PriceListEntry,
    PriceSource,
    PricingPolicy,
    Tier,
    VendorPrice,
)


def _require_price_rights(actor: User | None, partner: Organisation) -> None:
    if actor is not None and not permissions.can_manage_prices(actor, partner):
        raise PermissionRefused(_("Only the partner's cloud admins manage prices."))


def _effective(day: dt.date | None) -> dt.date:
    today = clock.today()
    if day is None:
        return today
    if day < today:
        raise ServiceError(
            _("Prices and rules cannot be back-dated: past figures never change."),
            field="effective_from",
        )
    return day


def _currency(code: str, field: str = "currency") -> str:
    code = (code or "").strip().upper()
    if len(code) != 3 or not code.isalpha():
        raise ServiceError(_("Use a three-letter currency code, e.g. EUR."), field=field)
    return code


def _check_term(offer: Offer, term: str, billing_cycle: str) -> None:
    if term not in Term.values or billing_cycle not in BillingCycle.values:
        raise ServiceError(_("Unknown term or billing cycle."), field="term")
    if not OfferTerm.objects.filter(offer=offer, term=term, billing_cycle=billing_cycle).exists():
        raise ServiceError(
            _("%(offer)s is not sold on %(term)s / %(cycle)s.")
            % {"offer": offer.title, "term": term, "cycle": billing_cycle},
            field="term",
        )


def vendor_price_record(
    *,
    offer: Offer,
    term: str,
    billing_cycle: str,
    currency: str,
    cost: Decimal,
    list_price: Decimal | None,
    effective_from: dt.date,
    source: str,
) -> VendorPrice:
    """Append a vendor price, checked by the caller: `vendor_price_set` for a person's, the
    catalog refresh for the vendor's (which records the price changes in its own activity row).
    Vendor prices are never edited: a new one takes over from its `effective_from`."""
    return VendorPrice.objects.create(
        offer=offer,
        term=term,
        billing_cycle=billing_cycle,
        currency=currency,
        cost=cost,
        list_price=list_price,
        effective_from=effective_from,
        source=source,
    )


@transaction.atomic
def vendor_price_set(
    *,
    actor: User | None,
    offer: Offer,
    term: str,
    billing_cycle: str,
    currency: str,
    cost: Decimal,
    list_price: Decimal | None = None,
    effective_from: dt.date | None = None,
) -> VendorPrice:
    """Record a vendor's cost and list price (manual vendors; corrections of imported ones)."""
    partner = offer.vendor.organisation
    _require_price_rights(actor, partner)
    _check_term(offer, term, billing_cycle)
    require_amount(cost, field="cost")
    if list_price is not None:
        require_amount(list_price, field="list_price")
    if list_price is not None and list_price < cost:
        raise ServiceError(_("The list price cannot be below cost, nor the cost below zero."))
    price = vendor_price_record(
        offer=offer,
        term=term,
        billing_cycle=billing_cycle,
        currency=_currency(currency),
        cost=cost,
        list_price=list_price,
        effective_from=_effective(effective_from),
        source=PriceSource.MANUAL,
    )
    activity_record(
        actor=actor,
        organisation=partner,
        obj=offer,
        operation="vendor_price.set",
        details={
            "term": term,
            "billing_cycle": billing_cycle,
            "cost": str(cost),
            "list_price": None if list_price is None else str(list_price),
            "currency": price.currency,
            "effective_from": price.effective_from.isoformat(),
        },
    )
    return price


@transaction.atomic
def exchange_rate_set(
    *,
    actor: User | None,
    partner: Organisation,
    base_currency: str,
    quote_currency: str,
    rate: Decimal,
    effective_from: dt.date | None = None,
    source: str = PriceSource.MANUAL,
) -> ExchangeRate:
    """1 base = `rate` quote from `effective_from` on (today by default)."""
    _require_price_rights(actor, partner)
    base, quote = (
        _currency(base_currency, "base_currency"),
        _currency(quote_currency, "quote_currency"),
    )
    if base == quote:
        raise ServiceError(_("Choose two different currencies."), field="quote_currency")
    if not rate.is_finite() or rate <= 0 or rate > MAX_RATE:
        raise ServiceError(
            _("A rate must be above zero and at most %(max)s.") % {"max": f"{MAX_RATE:,}"},
            field="rate",
        )
    row = ExchangeRate.objects.create(
        organisation=partner,
        base_currency=base,
        quote_currency=quote,
        rate=rate,
        effective_from=_effective(effective_from),
        source=source,
        recorded_by=actor,
    )
    activity_record(
        actor=actor,
        organisation=partner,
        obj=row,
        operation="exchange_rate.set",
        details={"rate": str(rate), "effective_from": row.effective_from.isoformat()},
    )
    return row


RATE_CSV_COLUMNS = ["base_currency", "quote_currency", "rate", "effective_from"]


def _rate(text: str) -> Decimal:
    rate = Decimal(text)
    if not rate.is_finite() or not 0 < rate <= MAX_RATE:
        raise InvalidOperation(text)
    return rate


def exchange_rates_csv_import(*, actor: User | None, partner: Organisation, text: str) -> int:
    """Import dated rates (e.g. the central bank's, exported to CSV): every line or none."""
    _require_price_rights(actor, partner)
    try:
        fieldnames, reader = csv_rows(text)
        lines = list(reader)
    except ValueError as unreadable:
        raise ServiceError(str(unreadable), field="csv") from None
    missing = set(RATE_CSV_COLUMNS[:3]) - set(fieldnames)
    if missing:
        raise ServiceError(
            _("The file needs the columns: %(columns)s.") % {"columns": ", ".join(sorted(missing))},
            field="csv",
        )
    rows, errors = [], []
    for number, row in enumerate(lines, start=2):
        try:
            day = (row.get("effective_from") or "").strip()
            rows.append(
                {
                    "base_currency": _currency(row.get("base_currency", ""), "base_currency"),
                    "quote_currency": _currency(row.get("quote_currency", ""), "quote_currency"),
                    "rate": _rate((row.get("rate") or "").strip().replace(",", ".")),
                    "effective_from": dt.date.fromisoformat(day) if day else None,
                }
            )
        except (ServiceError, InvalidOperation, ValueError) as error:
            message = error.message if isinstance(error, ServiceError) else _("Bad number or date.")
            errors.append(_("Line %(number)s: %(error)s") % {"number": number, "error": message})
    if errors or not rows:
        raise ValidationError(errors or [_("The file has no lines.")])
    with transaction.atomic():
        for values in rows:
            exchange_rate_set(actor=actor, partner=partner, source=PriceSource.CSV, **values)
    return len(rows)


@transaction.atomic
def pricing_policy_set(
    *, actor: User | None, partner: Organisation, never_below_cost: bool, never_above_list: bool
) -> PricingPolicy:
    _require_price_rights(actor, partner)
    policy, _created = PricingPolicy.objects.select_for_update().get_or_create(organisation=partner)
    changes = {}
    for name, value in (
        ("never_below_cost", never_below_cost),
        ("never_above_list", never_above_list),
    ):
        if getattr(policy, name) != value:
            changes[name] = [getattr(policy, name), value]
            setattr(policy, name, value)
    if changes:
        policy.updated_at = clock.now()
        policy.save()
        activity_record(
            actor=actor,
            organisation=partner,
            obj=policy,
            operation="pricing_policy.set",
            changes=changes,
        )
    return policy


# --- price lists -------------------------------------------------------------------------------


@transaction.atomic
def price_list_create(
    *,
    actor: User | None,
    partner: Organisation,
    name: str,
    currency: str,
    customer: Organisation | None = None,
) -> PriceList:
    """The partner's global list for a currency, or a customer's own list that overrides it."""
    _require_price_rights(actor, partner)
    currency = _currency(currency)
    if customer is not None and (
        customer.kind != OrganisationKind.CUSTOMER or not customer.is_within(partner)
    ):
        raise ServiceError(
            _("A customer list is for one of the partner's customers."), field="customer"
        )
    existing = PriceList.objects.filter(organisation=partner, currency=currency, customer=customer)
    if existing.exists():
        raise ServiceError(_("There is already a list for this currency."), field="currency")
    price_list = PriceList(
        organisation=partner, customer=customer, name=name.strip(), currency=currency
    )
    price_list.full_clean(validate_constraints=False)
    price_list.save()
    activity_record(
        actor=actor,
        organisation=partner,
        obj=price_list,
        operation="price_list.create",
        details={"currency": currency, "customer": str(customer) if customer else None},
    )
    return price_list


def _guardrail_message(
    context: PricingContext,
    *,
    price: Decimal,
    floor: TierPrice,
    list_price: Decimal | None,
    offer_title: str,
    term: str,
    billing_cycle: str,
    currency: str,
) -> str | None:
    where = f"{offer_title} ({term}, {billing_cycle})"
    if context.never_below_cost and price < floor.unit_price:
        return _(
            "%(where)s would cost %(price)s, below the %(base)s %(floor)s. Guardrail “never below "
            "cost” refuses it; raise the price or ask a cloud admin to turn the guardrail off."
        ) % {
            "where": where,
            "price": Money(price, currency),
            "base": floor.audience.label.lower(),
            "floor": floor.money,
        }
    if context.never_above_list and list_price is not None and price > list_price:
        return _(
            "%(where)s would cost %(price)s, above the vendor list price %(list)s. Guardrail "
            "“never above list price” refuses it; lower the price or ask a cloud admin to turn "
            "the guardrail off."
        ) % {"where": where, "price": Money(price, currency), "list": Money(list_price, currency)}
    return None


@transaction.atomic
def price_list_entry_set(
    *,
    actor: User | None,
    price_list: PriceList,
    offer: Offer,
    term: str,
    billing_cycle: str,
    unit_price: Decimal | None,
    effective_from: dt.date | None = None,
    source: str = PriceSource.MANUAL,
    context: PricingContext | None = None,
) -> PriceListEntry:
    """Set (or with None, remove) a list price for an offer from `effective_from` on."""
    partner = price_list.organisation
    _require_price_rights(actor, partner)
    if offer.vendor.organisation_id != partner.pk:
        raise ServiceError(_("This offer is not in the partner's catalog."), field="offer")
    _check_term(offer, term, billing_cycle)
    day = _effective(effective_from)
    if unit_price is not None:
        require_amount(unit_price, field="unit_price")
        context = context or PricingContext.load(partner=partner, offer_ids=[offer.pk])
        target = price_list.customer or partner
        try:
            floor, list_price = context.floor_for(
                offer_id=offer.pk,
                term=term,
                billing_cycle=billing_cycle,
                on=day,
                target=target,
                currency=price_list.currency,
            )
        except PricingError:
            floor = list_price = None
        if floor is not None:
            message = _guardrail_message(
                context,
                price=unit_price,
                floor=floor,
                list_price=list_price,
                offer_title=offer.title,
                term=term,
                billing_cycle=billing_cycle,
                currency=price_list.currency,
            )
            if message:
                raise ServiceError(message, field="unit_price", code="guardrail")
    entry = PriceListEntry.objects.create(
        price_list=price_list,
        offer=offer,
        term=term,
        billing_cycle=billing_cycle,
        unit_price=unit_price,
        effective_from=day,
        source=source,
        recorded_by=actor,
    )
    activity_record(
        actor=actor,
        organisation=partner,
        obj=price_list,
        operation="price_list.entry_set",
        details={
            "offer": offer.title,
            "term": term,
            "billing_cycle": billing_cycle,
            "unit_price": None if unit_price is None else str(unit_price),
            "effective_from": day.isoformat(),
        },
    )
    return entry


PRICE_LIST_CSV_COLUMNS = ["item_code", "term", "billing_cycle", "unit_price", "effective_from"]


@dataclass
class PriceCsvLine:
    number: int
    values: dict[str, str]
    errors: list[str]
    offer: Offer | None = None
    unit_price: Decimal | None = None
    effective_from: dt.date | None = None


def price_list_csv_preview(
    *, actor: User | None, price_list: PriceList, text: str
) -> list[PriceCsvLine]:
    """Check every line of a price-list file as the import would; write nothing."""
    partner = price_list.organisation
    _require_price_rights(actor, partner)
    try:
        fieldnames, reader = csv_rows(text)
        rows = list(reader)
    except ValueError as unreadable:
        raise ServiceError(str(unreadable), field="csv") from None
    missing = {"item_code", "term", "billing_cycle", "unit_price"} - set(fieldnames)
    if missing:
        raise ServiceError(
            _("The file needs the columns: %(columns)s.") % {"columns": ", ".join(sorted(missing))},
            field="csv",
        )
    offers = {}
    for offer in Offer.objects.filter(vendor__organisation=partner).prefetch_related("terms"):
        offers.setdefault(offer.item_code, offer)
    context = PricingContext.load(partner=partner)
    target = price_list.customer or partner
    lines = []
    seen = set()
    for number, row in enumerate(rows, start=2):
        values = {key: (value or "").strip() for key, value in row.items() if key}
        line = PriceCsvLine(number=number, values=values, errors=[])
        line.offer = offers.get(values.get("item_code", ""))
        term, cycle = values.get("term", ""), values.get("billing_cycle", "")
        if line.offer is None:
            line.errors.append(_("Unknown item code."))
        elif not any(t.term == term and t.billing_cycle == cycle for t in line.offer.terms.all()):
            line.errors.append(_("This offer is not sold on this term and billing cycle."))
        text_price = values.get("unit_price", "")
        if text_price:
            try:
                line.unit_price = parse_amount(text_price)
            except ValueError as problem:
                line.errors.append(f"unit_price {problem}")
        try:
            day = values.get("effective_from", "")
            line.effective_from = dt.date.fromisoformat(day) if day else clock.today()
            if line.effective_from < clock.today():
                line.errors.append(_("effective_from is in the past: past figures never change."))
        except ValueError:
            line.errors.append(_("effective_from must be a date like 2026-12-01."))
        key = (values.get("item_code"), term, cycle, values.get("effective_from"))
        if key in seen:
            line.errors.append(_("The same offer, term and cycle appear twice."))
        seen.add(key)
        if not line.errors and line.unit_price is not None:
            try:
                floor, list_price = context.floor_for(
                    offer_id=line.offer.pk,
                    term=term,
                    billing_cycle=cycle,
                    on=line.effective_from,
                    target=target,
                    currency=price_list.currency,
                )
                message = _guardrail_message(
                    context,
                    price=line.unit_price,
                    floor=floor,
                    list_price=list_price,
                    offer_title=line.offer.title,
                    term=term,
                    billing_cycle=cycle,
                    currency=price_list.currency,
                )
                if message:
                    line.errors.append(message)
            except PricingError:
                pass  # no vendor price yet: nothing to guard against
        lines.append(line)
    return lines


def price_list_csv_import(*, actor: User | None, price_list: PriceList, text: str) -> int:
    """Import a price-list file: every line or none. Returns the number of prices written."""
    lines = price_list_csv_preview(actor=actor, price_list=price_list, text=text)
    bad = [line for line in lines if line.errors]
    if bad or not lines:
        raise ValidationError(
            [
                _("Line %(number)s: %(errors)s")
                % {"number": line.number, "errors": " ".join(line.errors)}
                for line in bad
            ]
            or [_("The file has no lines.")]
        )
    with transaction.atomic():
        for line in lines:
            PriceListEntry.objects.create(
                price_list=price_list,
                offer=line.offer,
                term=line.values["term"],
                billing_cycle=line.values["billing_cycle"],
                unit_price=line.unit_price,
                effective_from=line.effective_from,
                source=PriceSource.CSV,
                recorded_by=actor,
            )
        activity_record(
            actor=actor,
            organisation=price_list.organisation,
            obj=price_list,
            operation="price_list.csv_import",
            details={"lines": len(lines)},
        )
    return len(lines)


# --- margin rules ---------------------------------------------------------------------------------


@transaction.atomic
def margin_rule_set(
    *,
    actor: User | None,
    owner: Organisation,
    tier: str,
    method: str,
    value: Decimal,
    target: Organisation | None = None,
    subscription_ref: str = "",
    vendor: Vendor | None = None,
    category: str = "",
    offer: Offer | None = None,
    term: str = "",
    billing_cycle: str = "",
    currency: str = "",
    effective_from: dt.date | None = None,
) -> MarginRule:
    """Set the rule for one scope from `effective_from` on (a new version if one exists).

    Refused when it would break a guardrail for any offer it covers, with the first offender.
    """
    if tier not in Tier.values:
        raise ServiceError(_("Unknown tier."), field="tier")
    if method not in Method.values or method == Method.REMOVED:
        raise ServiceError(_("Unknown method."), field="method")
    if not value.is_finite() or abs(value) > MAX_AMOUNT:
        raise ServiceError(
            _("A rule's value is at most %(max)s.") % {"max": f"{MAX_AMOUNT:,}"}, field="value"
        )
    if actor is not None and not permissions.can_set_rule(
        actor, owner=owner, tier=tier, target=target
    ):
        raise PermissionRefused(_("You may not set this margin rule."))
    if owner.kind not in (OrganisationKind.PARTNER, OrganisationKind.RESELLER):
        raise ServiceError(_("Rules are set by a partner or a reseller."))
    if target is not None and not target.is_within(owner):
        raise ServiceError(_("The rule must be for an organisation you serve."), field="target")
    if tier == Tier.RESELLER and (owner.kind != OrganisationKind.PARTNER or subscription_ref):
        raise ServiceError(_("Reseller prices are set by the partner, for a reseller or all."))
    if target is not None:
        allowed_kinds = {
            Tier.RESELLER: {OrganisationKind.RESELLER},
            # a reseller as the target of a customer-price rule: "that reseller's customers"
            Tier.CUSTOMER: {OrganisationKind.CUSTOMER, OrganisationKind.RESELLER},
        }[tier]
        if target.kind not in allowed_kinds or target.pk == owner.pk:
            raise ServiceError(
                _("A reseller price is for a reseller; a customer price for a customer or a "
                  "reseller's customers."),
                field="target",
            )  # fmt: skip
    subscription_ref = subscription_ref.strip()
    if subscription_ref:
        if target is None or target.kind != OrganisationKind.CUSTOMER:
            raise ServiceError(_("A rule for one subscription names its customer."), field="target")
        _check_subscription_of(target, subscription_ref)
    partner = _partner(owner)
    for scoped in (vendor, offer):
        if scoped is not None:
            vendor_org = (
                scoped.organisation_id
                if isinstance(scoped, Vendor)
                else scoped.vendor.organisation_id
            )
            if vendor_org != partner.pk:
                raise ServiceError(_("This is not in the partner's catalog."))
    if method == Method.FIXED_PRICE:
        if offer is None or not term or not billing_cycle:
            raise ServiceError(
                _("A fixed price is for one offer, term and billing cycle."), field="offer"
            )
        currency = _currency(
            currency or (target.default_currency if target else owner.default_currency)
        )
        require_amount(value, field="value")
    else:
        currency = ""
        if method == Method.MARGIN and value >= 100:
            raise ServiceError(_("A margin is below 100%."), field="value")
        if value <= -100:
            raise ServiceError(_("A percentage above -100 please."), field="value")
    if offer is not None and (term or billing_cycle):
        if term and billing_cycle:
            _check_term(offer, term, billing_cycle)
    day = _effective(effective_from)
    rule = MarginRule(
        owner=owner,
        tier=tier,
        target=target,
        subscription_ref=subscription_ref,
        vendor=vendor,
        category=category.strip(),
        offer=offer,
        term=term,
        billing_cycle=billing_cycle,
        method=method,
        value=value,
        currency=currency,
        effective_from=day,
        recorded_by=actor,
    )
    rule.scope_key = _scope_key(rule)
    rule.full_clean(exclude=["scope_key"])
    _check_rule_guardrails(rule, partner)
    rule.save()
    activity_record(
        actor=actor,
        organisation=owner,
        obj=rule,
        operation="margin_rule.set",
        details={
            "tier": tier,
            "target": str(target) if target else None,
            "method": method,
            "value": str(value),
            "currency": currency or None,
            "effective_from": day.isoformat(),
        },
    )
    return rule


@transaction.atomic
def margin_rule_remove(
    *, actor: User | None, rule: MarginRule, effective_from: dt.date | None = None
) -> MarginRule:
    """Switch a rule off from `effective_from` on; the next most specific source then applies."""
    if actor is not None and not permissions.can_set_rule(
        actor, owner=rule.owner, tier=rule.tier, target=rule.target
    ):
        raise PermissionRefused(_("You may not change this margin rule."))
    removal = MarginRule(
        owner=rule.owner,
        tier=rule.tier,
        target=rule.target,
        subscription_ref=rule.subscription_ref,
        vendor=rule.vendor,
        category=rule.category,
        offer=rule.offer,
        term=rule.term,
        billing_cycle=rule.billing_cycle,
        method=Method.REMOVED,
        value=Decimal(0),
        effective_from=_effective(effective_from),
        scope_key=rule.scope_key,
        recorded_by=actor,
    )
    removal.save()
    activity_record(
        actor=actor,
        organisation=rule.owner,
        obj=removal,
        operation="margin_rule.remove",
        details={"rule": rule.pk, "effective_from": removal.effective_from.isoformat()},
    )
    return removal


def _check_subscription_of(customer: Organisation, subscription_ref: str) -> None:
    """A rule for one subscription prices that subscription only if it is the customer's.

    Anything else (another customer's subscription, one that does not exist, not an id) gets
    the same answer, so the error tells nobody whether a subscription exists elsewhere."""
    # The subscriptions app sits above pricing; its model is looked up, not imported.
    subscription_model = apps.get_model("subscriptions", "Subscription")
    belongs = re.fullmatch(r"[0-9]{1,18}", subscription_ref) is not None and (
        subscription_model.objects.filter(pk=int(subscription_ref), customer=customer).exists()
    )
    if not belongs:
        raise ServiceError(_("This customer has no such subscription."), field="subscription_ref")


def _partner(organisation: Organisation) -> Organisation:
    from seatkeeper.accounts.selectors import partner_of

    return partner_of(organisation)


def _scope_key(rule: MarginRule) -> str:
    return MarginRule.key_for(
        owner_id=rule.owner_id,
        tier=rule.tier,
        target_id=rule.target_id,
        subscription_ref=rule.subscription_ref,
        vendor_id=rule.vendor_id,
        category=rule.category,
        offer_id=rule.offer_id,
        term=rule.term,
        billing_cycle=rule.billing_cycle,
    )


def _check_rule_guardrails(rule: MarginRule, partner: Organisation) -> None:
    """Evaluate the rule for every offer, term and cycle it covers, on its first day."""
    offers = Offer.objects.filter(vendor__organisation=partner)
    terms = OfferTerm.objects.all()
    if rule.subscription_ref:
        # A rule for one subscription prices that subscription only: its offer, term and cycle
        # (not every offer of the catalog, which named another product in the refusal).
        subscription = (
            apps.get_model("subscriptions", "Subscription")
            .objects.filter(pk=int(rule.subscription_ref))
            .values("offer_id", "term", "billing_cycle")
            .get()
        )
        offers = offers.filter(pk=subscription["offer_id"])
        terms = terms.filter(term=subscription["term"], billing_cycle=subscription["billing_cycle"])
    if rule.offer_id:
        offers = offers.filter(pk=rule.offer_id)
    if rule.vendor_id:
        offers = offers.filter(vendor_id=rule.vendor_id)
    if rule.category:
        offers = offers.filter(category=rule.category)
    offer_ids = list(offers.values_list("pk", flat=True))
    if not offer_ids:
        return
    context = PricingContext.load(partner=partner, offer_ids=offer_ids)
    if not (context.never_below_cost or context.never_above_list):
        return
    # Who the price is for decides the floor: a customer's seller cost, a reseller's price,
    # the partner cost for rules that cover everyone.
    if rule.tier == Tier.RESELLER:
        floor_for = partner
    elif rule.target is not None:
        floor_for = rule.target
    elif rule.owner.kind == OrganisationKind.RESELLER:
        floor_for = rule.owner
    else:
        floor_for = partner
    currency = floor_for.default_currency
    terms = terms.filter(offer_id__in=offer_ids).values_list("offer_id", "term", "billing_cycle")
    for offer_id, term, cycle in terms:
        if not context.rule_covers(rule, offer_id=offer_id, term=term, billing_cycle=cycle):
            continue
        try:
            floor, list_price = context.floor_for(
                offer_id=offer_id,
                term=term,
                billing_cycle=cycle,
                on=rule.effective_from,
                target=floor_for,
                currency=currency,
            )
            price = context.rule_price(
                rule,
                offer_id=offer_id,
                term=term,
                billing_cycle=cycle,
                floor=floor,
                list_price=list_price,
                currency=currency,
            )
        except PricingError:
            continue  # no vendor price or rate yet: nothing to compare with
        if price is None:
            continue
        offer = context.offers[offer_id]
        message = _guardrail_message(
            context,
            price=price,
            floor=floor,
            list_price=list_price,
            offer_title=offer.title,
            term=term,
            billing_cycle=cycle,
            currency=currency,
        )
        if message:
            raise ServiceError(message, field="value", code="guardrail")
