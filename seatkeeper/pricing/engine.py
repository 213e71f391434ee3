"""The one pricing engine. Every screen, export, quote and the billing run price through here.

    context = PricingContext.load(partner=partner)          # a fixed handful of queries
    breakdown = context.price(PriceRequest(offer_id=…, customer_id=…, term="P1Y",
                                           billing_cycle="annual", quantity=10, on=date))

`load` reads everything a partner's prices depend on once (organisations, offers, vendor
prices, exchange rates, price lists, margin rules, guardrails); `price` then works in memory,
so pricing 100,000 subscriptions issues no query per subscription.

How a price is made, and the order in which sources win (most specific first):

Partner cost    the vendor's cost for the offer, term and cycle, converted into the price's
                currency through the partner's exchange-rate table.
Reseller price  (only when the customer sits under a reseller) the partner's rule for that
                reseller, else its rule for all resellers, else the partner cost.
Customer price  a rule for the single subscription; the customer's own price list; a rule for
                the customer; a rule for the reseller's customers (set by the reseller, or by
                the partner for that reseller); the partner's global price list; the
                partner's rule for all customers; the vendor list price; the seller's cost.
                (At one level an explicit list price beats a rule.)
Within one level a rule narrowed to an offer beats one narrowed to a category, which beats a
vendor, which beats no narrowing; a term or cycle narrowing breaks ties.

Guardrails (on unless the partner turns them off): a price below the seller's cost is raised
to it, a price above the vendor list price is lowered to it (cost wins if both apply). Rules
that would break them are refused when they are set (services.margin_rule_set); the engine
clamps as well because vendor prices move after rules are written.

Before the first price: vendor costs and exchange rates are facts Seatkeeper learns on the day
of an import, so the first version known also prices any earlier day (a subscription discovered
at the vendor, or ordered with a past start) until a later version replaces it. Price lists and
margin rules are decisions and apply only from their own date.

Unit prices are per unit per billing period of the term and cycle, rounded to
money.UNIT_PRICE_PLACES; totals are rounded once to the currency's minor unit.
"""

from __future__ import annotations

import bisect
import datetime as dt
import enum
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import CharField, Q
from django.db.models.functions import Cast

from seatkeeper.accounts.models import Organisation, OrganisationKind
from seatkeeper.catalog.models import TERM_MONTHS, Offer, cycle_months
from seatkeeper.core.errors import ServiceError
from seatkeeper.core.formatting import format_date, format_money, format_number
from seatkeeper.core.money import Money, quantize, quantize_unit_price
from seatkeeper.core.validation import read_stored_amount
from seatkeeper.core.wording import remembered_gettext as _
from seatkeeper.pricing.audiences import Audience
from seatkeeper.pricing.models import (
    ExchangeRate,
    MarginRule,
    Method,
    PriceList,
    PriceListEntry,
    PricingPolicy,
    Tier,
    VendorPrice,
)

HUNDRED = Decimal(100)


class PricingError(ServiceError):
    def __init__(self, message: str) -> None:
        super().__init__(message, code="no_price")


class Source(enum.StrEnum):
    VENDOR_PRICE = "vendor_price"
    RULE = "rule"
    PRICE_LIST = "price_list"
    LIST_PRICE = "list_price"
    AT_COST = "at_cost"


@dataclass(frozen=True, slots=True, kw_only=True)
class PriceRequest:
    offer_id: int
    customer_id: int
    term: str
    billing_cycle: str
    on: dt.date
    quantity: int = 1
    subscription_ref: str = ""
    currency: str | None = None  # None: the customer's default currency


@dataclass(frozen=True, slots=True, kw_only=True)
class TierPrice:
    audience: Audience
    unit_price: Decimal  # per unit per billing period
    currency: str
    source: Source
    source_id: int | None
    summary: str  # which list or rule applied, with no figures of the tier below
    steps: tuple[str, ...]  # the full working, for people allowed to see the tier below

    @property
    def money(self) -> Money:
        return Money(self.unit_price, self.currency)

    @property
    def explanation(self) -> str:
        return " ".join(self.steps)


@dataclass(frozen=True, slots=True, kw_only=True)
class PriceBreakdown:
    request: PriceRequest
    currency: str
    offer_title: str
    list_price: Decimal | None
    partner_cost: TierPrice
    reseller_price: TierPrice | None  # None for a customer served by the partner directly
    customer_price: TierPrice
    months_per_period: int
    term_months: int

    @property
    def tiers(self) -> list[TierPrice]:
        tiers = [self.partner_cost, self.reseller_price, self.customer_price]
        return [tier for tier in tiers if tier is not None]

    def tier(self, audience: Audience) -> TierPrice | None:
        return {tier.audience: tier for tier in self.tiers}.get(audience)

    def total(self, audience: Audience, quantity: int | None = None) -> Money:
        """Quantity × unit price for one billing period, rounded to the currency."""
        tier = self.tier(audience)
        quantity = self.request.quantity if quantity is None else quantity
        return Money(quantize(tier.unit_price * quantity, self.currency), self.currency)

    def monthly(self, audience: Audience) -> Money:
        tier = self.tier(audience)
        amount = tier.unit_price * self.request.quantity / self.months_per_period
        return Money(quantize(amount, self.currency), self.currency)

    def whole_term(self, audience: Audience) -> Money:
        tier = self.tier(audience)
        amount = tier.unit_price * self.request.quantity * self.term_months / self.months_per_period
        return Money(quantize(amount, self.currency), self.currency)

    @property
    def partner_margin(self) -> Decimal:
        sold = self.reseller_price or self.customer_price
        return sold.unit_price - self.partner_cost.unit_price

    @property
    def reseller_margin(self) -> Decimal | None:
        if self.reseller_price is None:
            return None
        return self.customer_price.unit_price - self.reseller_price.unit_price

    def margins(self) -> list[tuple[str, Decimal, Decimal | None]]:
        """(whose margin, amount per unit per period, % of their sale price)."""
        rows = []
        sold = self.reseller_price or self.customer_price
        rows.append((_("Partner margin"), self.partner_margin, percent(self.partner_margin, sold)))
        if self.reseller_price is not None:
            margin = self.reseller_margin
            rows.append((_("Reseller margin"), margin, percent(margin, self.customer_price)))
        return rows


def percent(margin: Decimal, price: TierPrice) -> Decimal | None:
    if not price.unit_price:
        return None
    return (margin * HUNDRED / price.unit_price).quantize(Decimal("0.01"))


# --- the in-memory tables ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Dated[T]:
    """Versions of one thing ordered by effective date; `at(day)` is the one in force."""

    dates: list[dt.date]
    values: list[T]

    def at(self, day: dt.date) -> T | None:
        index = bisect.bisect_right(self.dates, day)
        return self.values[index - 1] if index else None

    def at_or_first(self, day: dt.date) -> T | None:
        """The version in force on `day`, or before the first version, the first one.

        For facts of the world (vendor prices, exchange rates) that Seatkeeper only learnt on
        the day of its first import: a subscription that started earlier (discovered at the
        vendor, or ordered with a past start) is priced at the first price we know, which is
        the best knowledge we have, until a later version replaces it. Decisions people make
        (price lists, margin rules) do not reach back: they apply from their own date."""
        return self.at(day) or (self.values[0] if self.values else None)


def _dated[T](rows: Iterable[tuple[dt.date, T]]) -> _Dated[T]:
    # Sorted by date and then by insertion (id): of two rows for the same day the later wins.
    ordered = sorted(enumerate(rows), key=lambda item: (item[1][0], item[0]))
    return _Dated([row[0] for _, row in ordered], [row[1] for _, row in ordered])


@dataclass(frozen=True, slots=True)
class _Org:
    id: int
    kind: str
    parent_id: int | None
    name: str
    currency: str


@dataclass(frozen=True, slots=True)
class _Offer:
    id: int
    vendor_id: int
    vendor_name: str
    category: str
    title: str


@dataclass(frozen=True, slots=True)
class _VendorPrice:
    id: int
    currency: str
    cost: Decimal
    list_price: Decimal | None
    effective_from: dt.date
    bad_value: str = ""  # a stored amount out of bounds: pricing this offer fails, alone


@dataclass(frozen=True, slots=True)
class _Rule:
    id: int
    owner_id: int
    tier: str
    target_id: int | None
    subscription_ref: str
    vendor_id: int | None
    category: str
    offer_id: int | None
    term: str
    billing_cycle: str
    method: str
    value: Decimal
    currency: str
    effective_from: dt.date

    def matches(self, offer: _Offer, term: str, billing_cycle: str) -> bool:
        return (
            self.offer_id in (None, offer.id)
            and self.vendor_id in (None, offer.vendor_id)
            and self.category in ("", offer.category)
            and self.term in ("", term)
            and self.billing_cycle in ("", billing_cycle)
        )

    @property
    def specificity(self) -> tuple:
        narrowed_by_period = bool(self.term) + bool(self.billing_cycle)
        return (
            self.offer_id is not None,
            bool(self.category),
            self.vendor_id is not None,
            narrowed_by_period,
            self.effective_from,
            self.id,
        )


@dataclass(slots=True)
class PricingContext:
    partner: Organisation
    organisations: dict[int, _Org]
    offers: dict[int, _Offer]
    vendor_prices: dict[tuple[int, str, str], _Dated[_VendorPrice]]
    rates: dict[tuple[str, str], _Dated[tuple[int, Decimal]]]
    global_lists: dict[str, tuple[int, str]]
    customer_lists: dict[tuple[int, str], tuple[int, str]]
    # (entry id, unit price) or, for a stored price out of bounds, (entry id, None, its text)
    list_entries: dict[tuple[int, int, str, str], _Dated[tuple]]
    # level key -> rule versions per scope key
    rules: dict[tuple, list[_Dated[_Rule]]]
    never_below_cost: bool = True
    never_above_list: bool = True
    _cost_cache: dict = field(default_factory=dict)
    _descriptions: dict = field(default_factory=dict)

    @property
    def vendor_names(self) -> dict[int, str]:
        return {offer.vendor_id: offer.vendor_name for offer in self.offers.values()}

    # --- loading ---------------------------------------------------------------------------

    @classmethod
    def load(
        cls,
        *,
        partner: Organisation,
        offer_ids: Sequence[int] | None = None,
        customer: Organisation | None = None,
    ) -> PricingContext:
        """Read everything `partner`'s prices depend on, in a fixed number of queries.

        With `customer`, only what can price that one customer: its chain of organisations
        (the partner, its reseller, itself), the price lists of the partner and of that
        customer, and the rules the partner or its reseller set for everybody, for the reseller
        or for the customer. The queries are as many, their rows do not grow with the number of
        the partner's customers (discovery prices every customer of a large partner in turn)."""
        chain = Organisation.objects.filter(path__startswith=partner.path)
        if customer is not None:
            if not customer.is_within(partner):
                raise PricingError(_("Prices are for a customer of this partner."))
            chain = chain.filter(pk__in=[*customer.ancestor_ids, customer.pk])
        organisations = {
            row[0]: _Org(*row)
            for row in chain.values_list("id", "kind", "parent_id", "name", "default_currency")
        }
        offer_rows = Offer.objects.filter(vendor__organisation=partner)
        if offer_ids is not None:
            offer_rows = offer_rows.filter(pk__in=list(offer_ids))
        offers = {
            row[0]: _Offer(*row)
            for row in offer_rows.values_list(
                "id", "vendor_id", "vendor__name", "category", "title"
            )
        }
        prices: dict[tuple, list] = defaultdict(list)
        vendor_rows = VendorPrice.objects.filter(offer__vendor__organisation=partner)
        if offer_ids is not None:
            vendor_rows = vendor_rows.filter(offer_id__in=list(offer_ids))
        # Amounts are read as text and checked (core.validation.read_stored_amount).
        vendor_rows = vendor_rows.annotate(
            cost_text=Cast("cost", CharField()), list_price_text=Cast("list_price", CharField())
        )
        for row in vendor_rows.order_by("id").values_list(
            "id", "offer_id", "term", "billing_cycle", "currency", "cost_text", "list_price_text",
            "effective_from",
        ):  # fmt: skip
            cost, bad_cost = read_stored_amount(row[5])
            list_price, bad_list_price = read_stored_amount(row[6])
            bad = bad_cost or bad_list_price
            price = _VendorPrice(row[0], row[4], cost or Decimal(0), list_price, row[7], bad)
            prices[(row[1], row[2], row[3])].append((row[7], price))
        rates: dict[tuple, list] = defaultdict(list)
        for row in (
            ExchangeRate.objects.filter(organisation=partner)
            .order_by("id")
            .values_list("id", "base_currency", "quote_currency", "rate", "effective_from")
        ):
            rates[(row[1], row[2])].append((row[4], (row[0], row[3])))
        global_lists, customer_lists = {}, {}
        list_rows = PriceList.objects.filter(organisation=partner)
        if customer is not None:
            list_rows = list_rows.filter(Q(customer__isnull=True) | Q(customer=customer))
        for list_id, customer_id, currency, name in list_rows.values_list(
            "id", "customer_id", "currency", "name"
        ):
            if customer_id is None:
                global_lists[currency] = (list_id, name)
            else:
                customer_lists[(customer_id, currency)] = (list_id, name)
        entries: dict[tuple, list] = defaultdict(list)
        entry_rows = PriceListEntry.objects.filter(price_list__organisation=partner)
        if customer is not None:
            entry_rows = entry_rows.filter(
                Q(price_list__customer__isnull=True) | Q(price_list__customer=customer)
            )
        if offer_ids is not None:
            entry_rows = entry_rows.filter(offer_id__in=list(offer_ids))
        entry_rows = entry_rows.annotate(unit_price_text=Cast("unit_price", CharField()))
        for row in entry_rows.order_by("id").values_list(
            "id", "price_list_id", "offer_id", "term", "billing_cycle", "unit_price_text",
            "effective_from",
        ):  # fmt: skip
            amount, bad = read_stored_amount(row[5])
            entry = (row[0], amount, bad) if bad else (row[0], amount)
            entries[(row[1], row[2], row[3], row[4])].append((row[6], entry))
        versions: dict[str, list] = defaultdict(list)
        rule_rows = MarginRule.objects.filter(owner__path__startswith=partner.path)
        if customer is not None:
            # Only the partner and the customer's reseller price it (`_sellers_of`), for all,
            # for that reseller, or for the customer and its subscriptions.
            sellers = [partner.pk, customer.parent_id or partner.pk]
            rule_rows = rule_rows.filter(owner_id__in=sellers).filter(
                Q(target__isnull=True) | Q(target_id__in=[customer.pk, *sellers])
            )
        for rule in rule_rows.order_by("id"):
            versions[rule.scope_key].append(
                (
                    rule.effective_from,
                    _Rule(
                        rule.id, rule.owner_id, rule.tier, rule.target_id, rule.subscription_ref,
                        rule.vendor_id, rule.category, rule.offer_id, rule.term,
                        rule.billing_cycle, rule.method, rule.value, rule.currency,
                        rule.effective_from,
                    ),
                )
            )  # fmt: skip
        rules: dict[tuple, list] = defaultdict(list)
        for rows in versions.values():
            first = rows[0][1]
            rules[_level_key(first)].append(_dated(rows))
        policy = PricingPolicy.objects.filter(organisation=partner).first()
        return cls(
            partner=partner,
            organisations=organisations,
            offers=offers,
            vendor_prices={key: _dated(rows) for key, rows in prices.items()},
            rates={key: _dated(rows) for key, rows in rates.items()},
            global_lists=global_lists,
            customer_lists=customer_lists,
            list_entries={key: _dated(rows) for key, rows in entries.items()},
            rules=dict(rules),
            never_below_cost=policy.never_below_cost if policy else True,
            never_above_list=policy.never_above_list if policy else True,
        )

    @classmethod
    def from_records(
        cls,
        *,
        partner: Organisation,
        organisations: Iterable[Organisation],
        offers: Iterable[Offer],
        vendor_prices: Iterable[VendorPrice] = (),
        price_lists: Iterable[PriceList] = (),
        list_entries: Iterable[PriceListEntry] = (),
        rules: Iterable[MarginRule] = (),
        policy: PricingPolicy | None = None,
    ) -> PricingContext:
        """The context `load` reads, built from model instances held in memory (unsaved, their
        ids set, an offer's `vendor` attached): prices worked out without the database, as the
        property tests do for hundreds of worlds."""
        prices: dict[tuple, list] = defaultdict(list)
        for price in vendor_prices:
            prices[(price.offer_id, price.term, price.billing_cycle)].append(
                (
                    price.effective_from,
                    _VendorPrice(
                        price.pk, price.currency, price.cost, price.list_price,
                        price.effective_from,
                    ),
                )
            )  # fmt: skip
        global_lists, customer_lists = {}, {}
        for price_list in price_lists:
            if price_list.customer_id is None:
                global_lists[price_list.currency] = (price_list.pk, price_list.name)
            else:
                key = (price_list.customer_id, price_list.currency)
                customer_lists[key] = (price_list.pk, price_list.name)
        entries: dict[tuple, list] = defaultdict(list)
        for entry in list_entries:
            key = (entry.price_list_id, entry.offer_id, entry.term, entry.billing_cycle)
            entries[key].append((entry.effective_from, (entry.pk, entry.unit_price)))
        versions: dict[str, list] = defaultdict(list)
        for rule in sorted(rules, key=lambda rule: rule.pk):
            scope_key = rule.scope_key or MarginRule.key_for(
                owner_id=rule.owner_id, tier=rule.tier, target_id=rule.target_id,
                subscription_ref=rule.subscription_ref, vendor_id=rule.vendor_id,
                category=rule.category, offer_id=rule.offer_id, term=rule.term,
                billing_cycle=rule.billing_cycle,
            )  # fmt: skip
            versions[scope_key].append((rule.effective_from, _rule_of(rule)))
        grouped: dict[tuple, list] = defaultdict(list)
        for rows in versions.values():
            grouped[_level_key(rows[0][1])].append(_dated(rows))
        return cls(
            partner=partner,
            organisations={
                organisation.pk: _Org(
                    organisation.pk,
                    organisation.kind,
                    organisation.parent_id,
                    organisation.name,
                    organisation.default_currency,
                )
                for organisation in organisations
            },
            offers={
                offer.pk: _Offer(
                    offer.pk, offer.vendor_id, offer.vendor.name, offer.category, offer.title
                )
                for offer in offers
            },
            vendor_prices={key: _dated(rows) for key, rows in prices.items()},
            rates={},
            global_lists=global_lists,
            customer_lists=customer_lists,
            list_entries={key: _dated(rows) for key, rows in entries.items()},
            rules=dict(grouped),
            never_below_cost=policy.never_below_cost if policy else True,
            never_above_list=policy.never_above_list if policy else True,
        )

    # --- currency ----------------------------------------------------------------------------

    def convert(
        self, amount: Decimal, source: str, target: str, on: dt.date
    ) -> tuple[Decimal, str | None]:
        """`amount` in `target`, and a note of the rate used (None when no conversion)."""
        if source == target:
            return amount, None
        direct = self.rates.get((source, target))
        found = direct.at_or_first(on) if direct else None
        if found:
            rate = found[1]
        else:
            inverse = self.rates.get((target, source))
            found = inverse.at_or_first(on) if inverse else None
            if not found:
                raise PricingError(
                    _("No exchange rate from %(source)s to %(target)s on %(day)s.")
                    % {"source": source, "target": target, "day": format_date(on)}
                )
            rate = Decimal(1) / found[1]
        note = _("converted at 1 %(source)s = %(rate)s %(target)s") % {
            "source": source,
            "rate": format_number(rate),
            "target": target,
        }
        return amount * rate, note

    # --- pricing ---------------------------------------------------------------------------

    def price(self, request: PriceRequest) -> PriceBreakdown:
        offer = self.offers.get(request.offer_id)
        customer = self.organisations.get(request.customer_id)
        if offer is None:
            raise PricingError(_("This offer is not in the partner's catalog."))
        if customer is None or customer.kind != OrganisationKind.CUSTOMER:
            raise PricingError(_("Prices are for a customer of this partner."))
        currency = request.currency or customer.currency
        cost, list_price, cost_steps = self._vendor_cost(offer, request, currency)
        partner_cost = TierPrice(
            audience=Audience.PARTNER_COST,
            unit_price=cost,
            currency=currency,
            source=Source.VENDOR_PRICE,
            source_id=None,
            summary=_("Vendor cost"),
            steps=tuple(cost_steps),
        )
        parent = self.organisations.get(customer.parent_id)
        reseller = parent if parent and parent.kind == OrganisationKind.RESELLER else None
        reseller_price = None
        if reseller is not None:
            reseller_price = self._reseller_price(
                offer, request, currency, reseller, partner_cost, list_price
            )
        seller_cost = reseller_price or partner_cost
        customer_price = self._customer_price(
            offer, request, currency, customer, reseller, seller_cost, list_price
        )
        return PriceBreakdown(
            request=request,
            currency=currency,
            offer_title=offer.title,
            list_price=list_price,
            partner_cost=partner_cost,
            reseller_price=reseller_price,
            customer_price=customer_price,
            months_per_period=cycle_months(request.term, request.billing_cycle),
            term_months=TERM_MONTHS[request.term],
        )

    def price_many(self, requests: Iterable[PriceRequest]) -> list[PriceBreakdown]:
        return [self.price(request) for request in requests]

    # --- what a rule would do (for services checking a rule before they write it) -----------

    def floor_for(
        self,
        *,
        offer_id: int,
        term: str,
        billing_cycle: str,
        on: dt.date,
        target: Organisation,
        currency: str,
    ) -> tuple[TierPrice, Decimal | None]:
        """(seller's cost, vendor list price) of a price set for `target` (a customer, a
        reseller or the partner itself): what the guardrails compare a price against."""
        offer = self.offers[offer_id]
        request = PriceRequest(
            offer_id=offer_id,
            customer_id=target.pk,
            term=term,
            billing_cycle=billing_cycle,
            on=on,
            currency=currency,
        )
        cost, list_price, steps = self._vendor_cost(offer, request, currency)
        partner_cost = TierPrice(
            audience=Audience.PARTNER_COST,
            unit_price=cost,
            currency=currency,
            source=Source.VENDOR_PRICE,
            source_id=None,
            summary="",
            steps=tuple(steps),
        )
        if target.kind == OrganisationKind.CUSTOMER:
            breakdown = self.price(request)
            return breakdown.reseller_price or breakdown.partner_cost, list_price
        if target.kind == OrganisationKind.RESELLER:
            reseller = self.organisations[target.pk]
            return (
                self._reseller_price(offer, request, currency, reseller, partner_cost, list_price),
                list_price,
            )
        return partner_cost, list_price

    def rule_covers(
        self, rule: MarginRule, *, offer_id: int, term: str, billing_cycle: str
    ) -> bool:
        """Whether `rule` (saved or not) narrows to nothing that excludes this offer, term and
        cycle."""
        return _rule_of(rule).matches(self.offers[offer_id], term, billing_cycle)

    def rule_price(
        self,
        rule: MarginRule,
        *,
        offer_id: int,
        term: str,
        billing_cycle: str,
        floor: TierPrice,
        list_price: Decimal | None,
        currency: str,
    ) -> Decimal | None:
        """The unit price `rule` (saved or not) would make for an offer, term and cycle over
        `floor`, before guardrails; None when it does not cover them or cannot apply (a margin
        of 100% or more, a discount off a list price the vendor does not give)."""
        if not self.rule_covers(rule, offer_id=offer_id, term=term, billing_cycle=billing_cycle):
            return None
        applied = self._apply_rule(_rule_of(rule), floor, list_price, currency, rule.effective_from)
        return applied[0] if applied is not None else None

    def _vendor_cost(
        self, offer: _Offer, request: PriceRequest, currency: str
    ) -> tuple[Decimal, Decimal | None, list[str]]:
        cache_key = (offer.id, request.term, request.billing_cycle, request.on, currency)
        cached = self._cost_cache.get(cache_key)
        if cached is not None:
            return cached
        versions = self.vendor_prices.get((offer.id, request.term, request.billing_cycle))
        price = versions.at_or_first(request.on) if versions else None
        if price is not None and price.bad_value:
            raise PricingError(
                _(
                    "The vendor price #%(id)s of %(offer)s (%(term)s, %(cycle)s) holds %(value)s, "
                    "out of bounds: this offer cannot be priced until a cloud admin corrects it."
                )
                % {
                    "id": price.id,
                    "offer": offer.title,
                    "term": request.term,
                    "cycle": request.billing_cycle,
                    "value": price.bad_value,
                }
            )
        if price is None:
            raise PricingError(
                _("No vendor price for %(offer)s (%(term)s, %(cycle)s) on %(day)s.")
                % {
                    "offer": offer.title,
                    "term": request.term,
                    "cycle": request.billing_cycle,
                    "day": format_date(request.on),
                }
            )
        cost, note = self.convert(price.cost, price.currency, currency, request.on)
        cost = quantize_unit_price(cost)
        steps = [
            _("Vendor cost %(amount)s per unit per period (vendor price from %(day)s)")
            % {
                "amount": _text(price.cost, price.currency),
                "day": format_date(price.effective_from),
            }
        ]
        if note:
            steps.append(f"{note} = {_text(cost, currency)}")
        steps[-1] += "."
        list_price = None
        if price.list_price is not None:
            list_price, _note = self.convert(price.list_price, price.currency, currency, request.on)
            list_price = quantize_unit_price(list_price)
        result = (cost, list_price, steps)
        self._cost_cache[cache_key] = result
        return result

    def _sellers_of(self, customer: _Org) -> frozenset[int]:
        """The organisations whose rules may price `customer`: the partner and the customer's
        reseller, nobody beside them."""
        parent = self.organisations.get(customer.parent_id)
        return frozenset({self.partner.id, parent.id if parent else self.partner.id})

    def _best_rule(self, levels: Iterable[tuple], offer: _Offer, request: PriceRequest):
        # Services refuse a rule about somebody else's customer or subscription; a row written
        # before they did (or by hand) must not move a price in another tenant's tree either.
        customer = self.organisations[request.customer_id]
        sellers = self._sellers_of(customer)
        best = None
        for level in levels:
            for versions in self.rules.get(level, ()):
                rule = versions.at(request.on)
                if rule is None or rule.method == Method.REMOVED:
                    continue
                if rule.owner_id not in sellers:
                    continue
                if rule.subscription_ref and rule.target_id != customer.id:
                    continue
                if not rule.matches(offer, request.term, request.billing_cycle):
                    continue
                if best is None or rule.specificity > best.specificity:
                    best = rule
        return best

    def _apply_rule(
        self, rule: _Rule, seller_cost: TierPrice, list_price: Decimal | None, currency: str, on
    ) -> tuple[Decimal, str] | None:
        value = rule.value
        cost = seller_cost.unit_price
        cost_label = seller_cost.audience.label.lower()
        if rule.method == Method.MARKUP_ON_COST:
            price = cost * (1 + value / HUNDRED)
            text = _("markup %(value)s%% on %(base)s %(cost)s") % {
                "value": _number(value),
                "base": cost_label,
                "cost": _text(cost, currency),
            }
        elif rule.method == Method.MARGIN:
            if value >= HUNDRED:
                return None
            price = cost / (1 - value / HUNDRED)
            text = _("margin %(value)s%% over %(base)s %(cost)s") % {
                "value": _number(value),
                "base": cost_label,
                "cost": _text(cost, currency),
            }
        elif rule.method == Method.DISCOUNT_OFF_LIST:
            if list_price is None:
                return None
            price = list_price * (1 - value / HUNDRED)
            text = _("discount %(value)s%% off the vendor list price %(list)s") % {
                "value": _number(value),
                "list": _text(list_price, currency),
            }
        else:
            price, note = self.convert(value, rule.currency or currency, currency, on)
            text = _("fixed price %(amount)s") % {"amount": _text(value, rule.currency or currency)}
            if note:
                text += f" ({note})"
        return quantize_unit_price(price), text

    def _describe_rule(self, rule: _Rule) -> str:
        described = self._descriptions.get(rule.id)
        if described is None:
            described = self._descriptions[rule.id] = self._describe(rule)
        return described

    def _describe(self, rule: _Rule) -> str:
        owner = self.organisations.get(rule.owner_id)
        target = self.organisations.get(rule.target_id) if rule.target_id else None
        if rule.subscription_ref:
            whom = _("subscription %(ref)s") % {"ref": rule.subscription_ref}
        elif target is not None:
            whom = target.name
        elif rule.tier == Tier.RESELLER:
            whom = _("all resellers")
        else:
            whom = _("all customers")
        narrowing = []
        if rule.offer_id:
            offer = self.offers.get(rule.offer_id)
            narrowing.append(offer.title if offer else _("one offer"))
        if rule.category:
            narrowing.append(_("category %(name)s") % {"name": rule.category})
        if rule.vendor_id:
            vendor = self.vendor_names.get(rule.vendor_id, "")
            narrowing.append(_("vendor %(name)s") % {"name": vendor})
        if rule.term or rule.billing_cycle:
            narrowing.append(" ".join(filter(None, [rule.term, rule.billing_cycle])))
        scope = f" ({', '.join(narrowing)})" if narrowing else ""
        return _("Rule #%(id)s set by %(owner)s for %(whom)s%(scope)s, from %(day)s") % {
            "id": rule.id,
            "owner": owner.name if owner else "?",
            "whom": whom,
            "scope": scope,
            "day": format_date(rule.effective_from),
        }

    def _guard(
        self,
        price: Decimal,
        steps: list[str],
        floor: TierPrice,
        list_price: Decimal | None,
        currency: str,
    ) -> tuple[Decimal, bool]:
        clamped = False
        if self.never_above_list and list_price is not None and price > list_price:
            price = list_price
            clamped = True
            steps.append(
                _("Lowered to the vendor list price %(amount)s (guardrail: never above list).")
                % {"amount": _text(list_price, currency)}
            )
        if self.never_below_cost and price < floor.unit_price:
            price = floor.unit_price
            clamped = True
            steps.append(
                _("Raised to the %(base)s %(amount)s (guardrail: never below cost).")
                % {"base": floor.audience.label.lower(), "amount": floor.money}
            )
        return price, clamped

    def _from_rule(self, audience, rule, seller_cost, list_price, currency, on) -> TierPrice | None:
        applied = self._apply_rule(rule, seller_cost, list_price, currency, on)
        if applied is None:
            return None
        price, how = applied
        described = self._describe_rule(rule)
        steps = [f"{described}: {how} = {_text(price, currency)}."]
        price, _clamped = self._guard(price, steps, seller_cost, list_price, currency)
        return TierPrice(
            audience=audience,
            unit_price=price,
            currency=currency,
            source=Source.RULE,
            source_id=rule.id,
            summary=described,
            steps=tuple(steps),
        )

    def _reseller_price(self, offer, request, currency, reseller, partner_cost, list_price):
        for levels in (
            [("target", Tier.RESELLER, reseller.id)],
            [("wide", Tier.RESELLER, self.partner.id)],
        ):
            rule = self._best_rule(levels, offer, request)
            if rule is not None:
                priced = self._from_rule(
                    Audience.RESELLER_PRICE, rule, partner_cost, list_price, currency, request.on
                )
                if priced is not None:
                    return priced
        text = _("No partner rule for %(name)s: the reseller pays the partner cost.") % {
            "name": reseller.name
        }
        return TierPrice(
            audience=Audience.RESELLER_PRICE,
            unit_price=partner_cost.unit_price,
            currency=currency,
            source=Source.AT_COST,
            source_id=None,
            summary=text,
            steps=(text,),
        )

    def _list_entry(self, list_ref, offer, request, currency) -> TierPrice | None:
        if list_ref is None:
            return None
        list_id, name = list_ref
        versions = self.list_entries.get((list_id, offer.id, request.term, request.billing_cycle))
        found = versions.at(request.on) if versions else None
        if found is not None and len(found) == 3:
            raise PricingError(
                _(
                    "The price #%(id)s of %(offer)s in the price list “%(name)s” holds "
                    "%(value)s, out of bounds: this offer cannot be priced until a cloud admin "
                    "corrects it."
                )
                % {"id": found[0], "offer": offer.title, "name": name, "value": found[2]}
            )
        if found is None or found[1] is None:
            return None
        entry_id, amount = found
        described = _("Price list “%(name)s”") % {"name": name}
        return TierPrice(
            audience=Audience.CUSTOMER_PRICE,
            unit_price=quantize_unit_price(amount),
            currency=currency,
            source=Source.PRICE_LIST,
            source_id=entry_id,
            summary=described,
            steps=(f"{described}: {_text(amount, currency)}.",),
        )

    def _customer_price(
        self, offer, request, currency, customer, reseller, seller_cost, list_price
    ):
        partner_id = self.partner.id
        sources: list = []
        if request.subscription_ref:
            sources.append(("rules", [("subscription", request.subscription_ref)]))
        sources.append(("list", self.customer_lists.get((customer.id, currency))))
        sources.append(("rules", [("target", Tier.CUSTOMER, customer.id)]))
        if reseller is not None:
            sources.append(
                (
                    "rules",
                    [("target", Tier.CUSTOMER, reseller.id), ("wide", Tier.CUSTOMER, reseller.id)],
                )
            )
        # At the partner's level, as at the customer's, explicit list prices beat a formula:
        # the partner's rule prices whatever its global list leaves out.
        sources.append(("list", self.global_lists.get(currency)))
        sources.append(("rules", [("wide", Tier.CUSTOMER, partner_id)]))
        for kind, ref in sources:
            if kind == "rules":
                rule = self._best_rule(ref, offer, request)
                priced = rule and self._from_rule(
                    Audience.CUSTOMER_PRICE, rule, seller_cost, list_price, currency, request.on
                )
            else:
                priced = self._list_entry(ref, offer, request, currency)
                if priced is not None:
                    steps = list(priced.steps)
                    price, clamped = self._guard(
                        priced.unit_price, steps, seller_cost, list_price, currency
                    )
                    if clamped:
                        priced = _replace(priced, unit_price=price, steps=tuple(steps))
            if priced:
                return priced
        if list_price is not None:
            text = _("No sale price set: the vendor list price applies.")
            steps = [f"{text} {_text(list_price, currency)}."]
            price, _clamped = self._guard(list_price, steps, seller_cost, list_price, currency)
            return TierPrice(
                audience=Audience.CUSTOMER_PRICE,
                unit_price=price,
                currency=currency,
                source=Source.LIST_PRICE,
                source_id=None,
                summary=text,
                steps=tuple(steps),
            )
        text = _("No sale price and no vendor list price: sold at the seller's cost.")
        return TierPrice(
            audience=Audience.CUSTOMER_PRICE,
            unit_price=seller_cost.unit_price,
            currency=currency,
            source=Source.AT_COST,
            source_id=None,
            summary=text,
            steps=(text,),
        )


def _text(amount: Decimal, currency: str) -> str:
    """An amount in the reader's language, rounded to the currency (`core.formatting`)."""
    return format_money(amount, currency)


def _replace(tier: TierPrice, **changes) -> TierPrice:
    from dataclasses import replace

    return replace(tier, **changes)


def _number(value: Decimal) -> str:
    return format_number(value)


def _rule_of(rule: MarginRule) -> _Rule:
    """A margin rule as the engine reads it (an unsaved rule gets id 0)."""
    return _Rule(
        rule.pk or 0, rule.owner_id, rule.tier, rule.target_id, rule.subscription_ref,
        rule.vendor_id, rule.category, rule.offer_id, rule.term, rule.billing_cycle, rule.method,
        rule.value, rule.currency, rule.effective_from,
    )  # fmt: skip


def _level_key(rule: _Rule) -> tuple:
    if rule.subscription_ref:
        return ("subscription", rule.subscription_ref)
    if rule.target_id is not None:
        return ("target", rule.tier, rule.target_id)
    return ("wide", rule.tier, rule.owner_id)


def price_one(
    *,
    partner: Organisation,
    offer_id: int,
    customer_id: int,
    term: str,
    billing_cycle: str,
    on: dt.date,
    quantity: int = 1,
    subscription_ref: str = "",
    currency: str | None = None,
) -> PriceBreakdown:
    """Convenience for a single price (loads the context for that one offer)."""
    context = PricingContext.load(partner=partner, offer_ids=[offer_id])
    return context.price(
        PriceRequest(
            offer_id=offer_id,
            customer_id=customer_id,
            term=term,
            billing_cycle=billing_cycle,
            on=on,
            quantity=quantity,
            subscription_ref=subscription_ref,
            currency=currency,
        )
    )
