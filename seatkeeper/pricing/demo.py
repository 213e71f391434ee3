"""Demo catalog and prices for the demo partner (accounts.demo). Idempotent.

- "Microsoft": imported from the partner's provider account when one answers (the sandbox);
  otherwise a few offers with the sandbox's ids and prices are imported from a built-in list,
  so the next real import updates them in place.
- "Rainbow UC": a manual vendor whose plans come from a CSV file (a free Essential plan,
  Business, Enterprise, Attendant, options, an application and a custom free item; monthly or
  prepaid 1, 3 or 5 years).
- An EUR→GBP rate for the British reseller's customers, the partner's margins towards resellers
  and customers, one reseller's margins towards its customers, a global EUR price list and one
  customer's own list.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from decimal import Decimal

from seatkeeper.accounts.demo import PARTNER
from seatkeeper.accounts.models import Organisation, OrganisationKind
from seatkeeper.catalog import services as catalog_services
from seatkeeper.catalog.models import Offer, Vendor, VendorKind
from seatkeeper.core.money import Money
from seatkeeper.pricing import services
from seatkeeper.pricing.models import (
    ExchangeRate,
    MarginRule,
    Method,
    PriceList,
    PriceListEntry,
    Tier,
)
from seatkeeper.providers import interface as i

logger = logging.getLogger(__name__)

UC_PLANS = """item_code,title,kind,category,product_group,description,term,billing_cycle,currency,cost,list_price,attaches_to
RB-ESS,Rainbow Essential,service,Rainbow,Plans,Free plan: chat and audio/video calls between members,P1M,monthly,EUR,0,0,
RB-BUS,Rainbow Business,service,Rainbow,Plans,Conferences up to 24 participants and file sharing,P1M,monthly,EUR,3.60,4.00,
RB-BUS,Rainbow Business,service,Rainbow,Plans,Conferences up to 24 participants and file sharing,P1Y,prepaid,EUR,38.88,43.20,
RB-BUS,Rainbow Business,service,Rainbow,Plans,Conferences up to 24 participants and file sharing,P3Y,prepaid,EUR,110.16,122.40,
RB-BUS,Rainbow Business,service,Rainbow,Plans,Conferences up to 24 participants and file sharing,P5Y,prepaid,EUR,172.80,192.00,
RB-ENT,Rainbow Enterprise,service,Rainbow,Plans,Conferences up to 120 participants and recording,P1M,monthly,EUR,7.20,8.00,
RB-ENT,Rainbow Enterprise,service,Rainbow,Plans,Conferences up to 120 participants and recording,P1Y,prepaid,EUR,77.76,86.40,
RB-ENT,Rainbow Enterprise,service,Rainbow,Plans,Conferences up to 120 participants and recording,P3Y,prepaid,EUR,220.32,244.80,
RB-ATT,Rainbow Attendant,service,Rainbow,Plans,Switchboard attendant console,P1M,monthly,EUR,13.50,15.00,
RB-ATT,Rainbow Attendant,service,Rainbow,Plans,Switchboard attendant console,P1Y,prepaid,EUR,145.80,162.00,
RB-PBX,Cloud PBX option,addon,Rainbow,Options,Phone number and calls through the company PBX,P1M,monthly,EUR,2.70,3.00,RB-BUS|RB-ENT
RB-REC,Call recording option,addon,Rainbow,Options,Record and keep calls for 90 days,P1M,monthly,EUR,1.80,2.00,RB-BUS|RB-ENT|RB-ATT
RB-TEAMS,Rainbow for Microsoft Teams,application,Rainbow,Applications,Rainbow calls from inside Teams,P1M,monthly,EUR,0.90,1.00,
RB-ROOM,Meeting room licence,custom,Rainbow,Custom items,Free room device licence granted by the vendor,P1M,monthly,EUR,0,0,
"""  # noqa: E501

# (product id, title, monthly list price in EUR on an annual term, add-on of)
MICROSOFT = [
    ("CFQ7TTC0LH18", "Microsoft 365 Business Basic", "5.70", ()),
    ("CFQ7TTC0LDPB", "Microsoft 365 Business Standard", "11.90", ()),
    ("CFQ7TTC0LCHC", "Microsoft 365 Business Premium", "20.90", ()),
    ("CFQ7TTC0LFLX", "Microsoft 365 E3", "34.20", ()),
    ("CFQ7TTC0LFK5", "Microsoft 365 E5", "54.70", ()),
    ("CFQ7TTC0J1FV", "Microsoft Teams Phone Standard", "7.60", ("CFQ7TTC0LFLX:0001",)),
]


@dataclass(frozen=True, slots=True, kw_only=True)
class _PricedTerm(i.Term):
    list_price: Money | None = None


class BuiltInMicrosoftCatalog:
    """The demo's stand-in when no provider account answers: the sandbox's ids and its pricing
    (partner cost = 90% of list; monthly term 20% above annual)."""

    kind = "microsoft"

    def catalog(self, *, country: str, segment: str | None = None):
        for product_id, title, monthly, addon_of in MICROSOFT:
            terms = []
            for duration, cycle, factor in (
                ("P1M", i.BillingCycle.MONTHLY, Decimal("1.2")),
                ("P1Y", i.BillingCycle.MONTHLY, Decimal(1)),
                ("P1Y", i.BillingCycle.ANNUAL, Decimal(12)),
            ):
                erp = (Decimal(monthly) * factor).quantize(Decimal("0.01"))
                terms.append(
                    _PricedTerm(
                        duration=duration,
                        billing_cycle=cycle,
                        price=Money((erp * Decimal("0.9")).quantize(Decimal("0.01")), "EUR"),
                        list_price=Money(erp, "EUR"),
                    )
                )
            sku = i.Sku(
                id="0001", product_id=product_id, title=title, maximum_quantity=300,
                is_addon=bool(addon_of), prerequisite_skus=addon_of,
                description=f"{title} (New Commerce)",
            )  # fmt: skip
            product = i.Product(
                id=product_id, title=title, product_type="OnlineServicesNCE",
                publisher="Microsoft Corporation",
            )  # fmt: skip
            availability = i.Availability(
                id="DZH318Z0BQ3Q", product_id=product_id, sku_id="0001",
                catalog_item_id=f"{product_id}:0001:DZH318Z0BQ3Q", segment="commercial",
                country=country, currency="EUR", terms=tuple(terms),
            )  # fmt: skip
            yield i.CatalogOffer(product=product, sku=sku, availabilities=(availability,))


def _vendor(partner: Organisation, name: str, kind: str, account=None) -> Vendor:
    existing = Vendor.objects.filter(organisation=partner, name=name).first()
    if existing:
        return existing
    return catalog_services.vendor_create(
        actor=None, partner=partner, name=name, kind=kind, provider_account=account,
        country=partner.country,
    )  # fmt: skip


def _microsoft(partner: Organisation) -> Vendor:
    account = partner.provider_accounts.filter(is_active=True, kind="microsoft").first()
    vendor = _vendor(partner, "Microsoft", VendorKind.API, account)
    if vendor.provider_account_id is None:
        # No provider account yet: a connected vendor needs one, so the built-in list is
        # imported through a manual vendor's refresh path instead.
        return vendor
    try:
        catalog_services.catalog_refresh(vendor=vendor)
    except Exception as error:  # the sandbox is not running
        logger.warning("demo: catalog import from %s failed (%s)", vendor, error)
        if not vendor.offers.exists():  # never overwrite a catalog a real import brought
            catalog_services.catalog_refresh(vendor=vendor, provider=BuiltInMicrosoftCatalog())
    else:
        _price_sheets(vendor)
    return vendor


def _price_sheets(vendor: Vendor) -> None:
    """The price sheet of every market the demo's customers are in, as after any catalog
    refresh (the task runs it in the background; the demo wants it at once)."""
    from seatkeeper.pricing.pricesheets import price_sheet_download, price_sheet_markets

    for market in price_sheet_markets(vendor):
        try:
            price_sheet_download(actor=None, vendor=vendor, market=market)
        except Exception as error:
            logger.warning("demo: price sheet %s of %s not imported (%s)", market, vendor, error)


def _rule(**values) -> None:
    owner, tier, target = values["owner"], values["tier"], values.get("target")
    exists = MarginRule.objects.filter(owner=owner, tier=tier, target=target).exists()
    if not exists:
        services.margin_rule_set(actor=None, **values)


def load() -> dict[str, int]:
    """Load the demo catalog and prices (after accounts.demo.load)."""
    partner = Organisation.objects.get(name=PARTNER["name"], kind=OrganisationKind.PARTNER)
    resellers = list(partner.children.filter(kind=OrganisationKind.RESELLER).order_by("pk"))
    microsoft = None
    if partner.provider_accounts.filter(is_active=True).exists():
        microsoft = _microsoft(partner)
    uc = _vendor(partner, "Rainbow UC", VendorKind.MANUAL)
    if not uc.offers.exists():
        catalog_services.offers_csv_import(actor=None, vendor=uc, text=UC_PLANS)
    for quote, rate in (("GBP", "0.8600"), ("USD", "1.0500")):
        if not ExchangeRate.objects.filter(organisation=partner, quote_currency=quote).exists():
            services.exchange_rate_set(
                actor=None, partner=partner, base_currency="EUR", quote_currency=quote,
                rate=Decimal(rate),
            )  # fmt: skip
    _rule(owner=partner, tier=Tier.RESELLER, method=Method.MARKUP_ON_COST, value=Decimal(4))
    _rule(owner=partner, tier=Tier.CUSTOMER, method=Method.MARKUP_ON_COST, value=Decimal(8))
    if resellers:
        _rule(owner=partner, tier=Tier.RESELLER, target=resellers[0], category="Rainbow",
              method=Method.MARKUP_ON_COST, value=Decimal(2))  # fmt: skip
    # Each reseller's own margin towards its customers: a margin, a markup, a discount off list.
    for reseller, method, value in zip(
        resellers,
        (Method.MARGIN, Method.MARKUP_ON_COST, Method.DISCOUNT_OFF_LIST),
        (Decimal(5), Decimal(6), Decimal(2)),
        strict=False,
    ):
        _rule(owner=reseller, tier=Tier.CUSTOMER, method=method, value=value)
    if resellers:
        customers = list(resellers[0].children.order_by("pk"))
        if customers:
            _rule(owner=resellers[0], tier=Tier.CUSTOMER, target=customers[0],
                  method=Method.DISCOUNT_OFF_LIST, value=Decimal(1))  # fmt: skip
    global_list = PriceList.objects.filter(organisation=partner, customer=None, currency="EUR")
    global_list = global_list.first() or services.price_list_create(
        actor=None, partner=partner, name="Tarif public EUR", currency="EUR"
    )
    if not PriceListEntry.objects.filter(price_list=global_list).exists():
        for code, term, cycle, price in (
            ("RB-BUS", "P1M", "monthly", "3.95"),
            ("RB-ENT", "P1M", "monthly", "7.90"),
        ):
            offer = Offer.objects.get(vendor=uc, item_code=code)
            services.price_list_entry_set(
                actor=None, price_list=global_list, offer=offer, term=term,
                billing_cycle=cycle, unit_price=Decimal(price),
            )  # fmt: skip
    direct = partner.children.filter(kind=OrganisationKind.CUSTOMER).order_by("pk").first()
    if direct and not PriceList.objects.filter(organisation=partner, customer=direct).exists():
        own = services.price_list_create(
            actor=None, partner=partner, name=f"{direct.name} contract", currency="EUR",
            customer=direct,
        )  # fmt: skip
        offer = Offer.objects.get(vendor=uc, item_code="RB-ENT")
        services.price_list_entry_set(
            actor=None, price_list=own, offer=offer, term="P1Y", billing_cycle="prepaid",
            unit_price=Decimal("82.00"),
        )  # fmt: skip
    return {
        "offers": Offer.objects.filter(vendor__organisation=partner).count(),
        "rules": MarginRule.objects.filter(owner__path__startswith=partner.path).count(),
        "microsoft": bool(microsoft),
    }
