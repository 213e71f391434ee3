"""A priced catalog on top of the shared cast: a connected vendor imported from a fake provider
(three offers, one an add-on) and a manual UC vendor, all in GBP like the cast."""

from __future__ import annotations

from dataclasses import dataclass

from seatkeeper.catalog import services as catalog_services
from seatkeeper.catalog.models import Offer, Vendor, VendorKind
from seatkeeper.catalog.tests.fakes import FakeCatalogProvider, offer
from seatkeeper.providers.models import ProviderAccount, ProviderKind

BASIC = "CFQ7TTC0LH18:0001"
E3 = "CFQ7TTC0LFLX:0001"
TEAMS_PHONE = "CFQ7TTC0J1FV:0001"

UC_CSV = (
    "item_code,title,kind,category,product_group,description,term,billing_cycle,currency,cost,"
    "list_price,attaches_to\n"
    """UC-ESS,Essential,service,Rainbow,Plans,Free plan,P1M,monthly,GBP,0,0,
UC-BUS,Business,service,Rainbow,Plans,Business plan,P1M,monthly,GBP,4.00,5.00,
UC-BUS,Business,service,Rainbow,Plans,Business plan,P1Y,prepaid,GBP,43.20,54.00,
UC-ENT,Enterprise,service,Rainbow,Plans,Enterprise plan,P1M,monthly,GBP,8.00,10.00,
UC-ATT,Attendant,application,Rainbow,Applications,Switchboard attendant,P1M,monthly,GBP,12.00,15.00,
UC-REC,Call recording,addon,Rainbow,Options,Record calls,P1M,monthly,GBP,1.50,2.00,UC-BUS|UC-ENT
"""
)


def fake_provider() -> FakeCatalogProvider:
    return FakeCatalogProvider(
        offers=[
            offer(BASIC.split(":")[0], "Microsoft 365 Business Basic", annual="54.00",
                  monthly_annual_term="4.50", monthly_term="5.40"),
            offer(E3.split(":")[0], "Microsoft 365 E3", annual="388.80",
                  monthly_annual_term="32.40", monthly_term="38.88"),
            offer(TEAMS_PHONE.split(":")[0], "Teams Phone Standard", annual="86.40",
                  monthly_annual_term="7.20", monthly_term="8.64", addon_of=(BASIC, E3)),
        ]
    )  # fmt: skip


@dataclass
class World:
    vendor: Vendor
    uc: Vendor
    basic: Offer
    e3: Offer
    teams: Offer
    uc_business: Offer
    provider: FakeCatalogProvider


def build_world(cast) -> World:
    account = ProviderAccount(
        organisation=cast.partner,
        kind=ProviderKind.MICROSOFT,
        name="Partner Center",
        partner_tenant_id="11111111-1111-4111-8111-111111111111",
        application_id="22222222-2222-4222-8222-222222222222",
    )
    account.set_application_secret("secret")
    account.save()
    vendor = catalog_services.vendor_create(
        actor=None, partner=cast.partner, name="Microsoft", kind=VendorKind.API,
        provider_account=account, country="GB",
    )  # fmt: skip
    provider = fake_provider()
    catalog_services.catalog_refresh(vendor=vendor, provider=provider)
    uc = catalog_services.vendor_create(
        actor=None, partner=cast.partner, name="Rainbow UC", kind=VendorKind.MANUAL
    )
    catalog_services.offers_csv_import(actor=None, vendor=uc, text=UC_CSV)
    return World(
        vendor=vendor,
        uc=uc,
        basic=Offer.objects.get(vendor=vendor, external_id=BASIC),
        e3=Offer.objects.get(vendor=vendor, external_id=E3),
        teams=Offer.objects.get(vendor=vendor, external_id=TEAMS_PHONE),
        uc_business=Offer.objects.get(vendor=uc, external_id="UC-BUS"),
        provider=provider,
    )
