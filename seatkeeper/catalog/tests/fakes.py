"""A provider that serves a small fixed catalog, for import tests (only `catalog()` is used)."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from seatkeeper.core.money import Money
from seatkeeper.providers import interface as i


@dataclass(frozen=True, slots=True, kw_only=True)
class PricedTerm(i.Term):
    """A term with the vendor's list price beside its cost (what the sandbox's `erpPrice` is)."""

    list_price: Money | None = None


def _term(duration, cycle, cost: str, currency: str) -> PricedTerm:
    # List price = cost / 0.9, the partner discount the sandbox uses.
    list_price = (Decimal(cost) / Decimal("0.9")).quantize(Decimal("0.01"))
    return PricedTerm(
        duration=duration,
        billing_cycle=cycle,
        price=Money(Decimal(cost), currency),
        list_price=Money(list_price, currency),
    )


def offer(
    product_id: str,
    title: str,
    *,
    annual: str = "120.00",
    monthly_annual_term: str = "10.00",
    monthly_term: str = "12.00",
    currency: str = "GBP",
    addon_of: tuple[str, ...] = (),
    purchasable: bool = True,
) -> i.CatalogOffer:
    product = i.Product(
        id=product_id, title=title, product_type="OnlineServicesNCE", publisher="Microsoft"
    )
    sku = i.Sku(
        id="0001",
        product_id=product_id,
        title=title,
        description=f"{title} description",
        maximum_quantity=300,
        is_addon=bool(addon_of),
        prerequisite_skus=addon_of,
    )
    terms = (
        _term("P1M", i.BillingCycle.MONTHLY, monthly_term, currency),
        _term("P1Y", i.BillingCycle.MONTHLY, monthly_annual_term, currency),
        _term("P1Y", i.BillingCycle.ANNUAL, annual, currency),
    )
    availability = i.Availability(
        id="AV01",
        product_id=product_id,
        sku_id="0001",
        catalog_item_id=f"{product_id}:0001:AV01",
        segment="commercial",
        country="GB",
        currency=currency,
        is_purchasable=purchasable,
        terms=terms,
    )
    return i.CatalogOffer(product=product, sku=sku, availabilities=(availability,))


@dataclass
class FakeCatalogProvider:
    offers: list[i.CatalogOffer] = field(default_factory=list)
    kind: str = "microsoft"
    calls: int = 0

    def catalog(self, *, country: str, segment: str | None = None):
        self.calls += 1
        yield from self.offers


def without_prices(catalog_offer: i.CatalogOffer) -> i.CatalogOffer:
    """The same offer as Partner Center's own catalog sends it: terms without any price."""
    availabilities = tuple(
        i.Availability(
            id=a.id,
            product_id=a.product_id,
            sku_id=a.sku_id,
            catalog_item_id=a.catalog_item_id,
            segment=a.segment,
            country=a.country,
            currency=a.currency,
            is_purchasable=a.is_purchasable,
            terms=tuple(
                i.Term(duration=t.duration, billing_cycle=t.billing_cycle) for t in a.terms
            ),
        )
        for a in catalog_offer.availabilities
    )
    return i.CatalogOffer(
        product=catalog_offer.product, sku=catalog_offer.sku, availabilities=availabilities
    )
