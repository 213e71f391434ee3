"""The sandbox's fixed catalog: ~17 Microsoft 365 / Teams / Dynamics / Power BI products.

Product ids are 12 characters and SKU ids 4 (``0001``) like the real catalog; the Graph-side SKU
GUIDs and part numbers are the public ones where well known (so licences look familiar), made up
otherwise. Prices are invented, believable list prices in USD per licence per month on an annual
commitment; every other term/cycle/currency is derived in ``catalog.term_price``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal


@dataclass(frozen=True)
class ProductDef:
    id: str
    title: str
    description: str
    part_number: str
    sku_guid: str
    availability_id: str
    monthly_erp_usd: Decimal
    minimum_quantity: int = 1
    maximum_quantity: int = 300
    product_type: str = "OnlineServicesNCE"
    # Base products this add-on requires, as "productId:skuId" (dynamicAttributes.prerequisiteSkus).
    prerequisites: tuple[str, ...] = ()
    three_year: bool = False
    # Service plans shown in subscribed SKUs / licences: (serviceName, displayName).
    service_plans: tuple[tuple[str, str], ...] = field(default=())
    publisher: str = "Microsoft Corporation"

    @property
    def is_addon(self) -> bool:
        return bool(self.prerequisites)


_M365_BASES = (
    "CFQ7TTC0LH18:0001",
    "CFQ7TTC0LDPB:0001",
    "CFQ7TTC0LCHC:0001",
    "CFQ7TTC0LF8Q:0001",
    "CFQ7TTC0LF8R:0001",
    "CFQ7TTC0LFLX:0001",
)

PRODUCTS: tuple[ProductDef, ...] = (
    ProductDef(
        "CFQ7TTC0LH18",
        "Microsoft 365 Business Basic",
        "Web and mobile Office apps, Teams, 1 TB OneDrive and business-class email.",
        "O365_BUSINESS_ESSENTIALS",
        "3b555118-da6a-4418-894f-7df1e2096870",
        "CFQ7TTC0K5DP",
        Decimal("6.00"),
        service_plans=(
            ("EXCHANGE_S_STANDARD", "Exchange Online (Plan 1)"),
            ("TEAMS1", "Microsoft Teams"),
            ("SHAREPOINTSTANDARD", "SharePoint (Plan 1)"),
        ),
    ),
    ProductDef(
        "CFQ7TTC0LDPB",
        "Microsoft 365 Business Standard",
        "Desktop Office apps plus everything in Business Basic.",
        "O365_BUSINESS_PREMIUM",
        "f245ecc8-75af-4f8e-b61f-27d8114de5f3",
        "CFQ7TTC0K5DQ",
        Decimal("12.50"),
        service_plans=(
            ("OFFICE_BUSINESS", "Microsoft 365 Apps for business"),
            ("EXCHANGE_S_STANDARD", "Exchange Online (Plan 1)"),
            ("TEAMS1", "Microsoft Teams"),
        ),
    ),
    ProductDef(
        "CFQ7TTC0LCHC",
        "Microsoft 365 Business Premium",
        "Business Standard plus advanced security, Intune and Entra ID P1.",
        "SPB",
        "cbdc14ab-d96c-4c30-b9f4-6ada7cdc1d46",
        "CFQ7TTC0K5DR",
        Decimal("22.00"),
        service_plans=(
            ("OFFICE_BUSINESS", "Microsoft 365 Apps for business"),
            ("INTUNE_A", "Microsoft Intune"),
            ("AAD_PREMIUM", "Entra ID P1"),
        ),
    ),
    ProductDef(
        "CFQ7TTC0LF8Q",
        "Office 365 E1",
        "Web versions of Office apps, email, Teams and file storage for enterprises.",
        "STANDARDPACK",
        "18181a46-0d4e-45cd-891e-60aabd171b4e",
        "CFQ7TTC0K6L8",
        Decimal("10.00"),
        service_plans=(
            ("EXCHANGE_S_STANDARD", "Exchange Online (Plan 1)"),
            ("TEAMS1", "Microsoft Teams"),
        ),
    ),
    ProductDef(
        "CFQ7TTC0LF8R",
        "Office 365 E3",
        "Office apps, email, Teams, compliance and 5 TB storage for enterprises.",
        "ENTERPRISEPACK",
        "6fd2c87f-b296-42f0-b197-1e91e994b900",
        "CFQ7TTC0K6L9",
        Decimal("23.00"),
        three_year=True,
        service_plans=(
            ("OFFICESUBSCRIPTION", "Microsoft 365 Apps for enterprise"),
            ("EXCHANGE_S_ENTERPRISE", "Exchange Online (Plan 2)"),
            ("TEAMS1", "Microsoft Teams"),
        ),
    ),
    ProductDef(
        "CFQ7TTC0LFLX",
        "Microsoft 365 E3",
        "Office 365 E3 plus Windows Enterprise and Enterprise Mobility + Security E3.",
        "SPE_E3",
        "05e9a617-0261-4cee-bb44-138d3ef5d965",
        "CFQ7TTC0K6LB",
        Decimal("36.00"),
        three_year=True,
        service_plans=(
            ("OFFICESUBSCRIPTION", "Microsoft 365 Apps for enterprise"),
            ("EXCHANGE_S_ENTERPRISE", "Exchange Online (Plan 2)"),
            ("INTUNE_A", "Microsoft Intune"),
        ),
    ),
    ProductDef(
        "CFQ7TTC0LFLZ",
        "Microsoft 365 E5",
        "Microsoft 365 E3 plus advanced security, compliance, analytics and Teams Phone.",
        "SPE_E5",
        "06ebc4ee-1bb5-47dd-8120-11324bc54e06",
        "CFQ7TTC0K6LC",
        Decimal("57.00"),
        three_year=True,
        service_plans=(
            ("OFFICESUBSCRIPTION", "Microsoft 365 Apps for enterprise"),
            ("MCOEV", "Microsoft Teams Phone"),
            ("ATP_ENTERPRISE", "Defender for Office 365"),
        ),
    ),
    ProductDef(
        "CFQ7TTC0LH16",
        "Exchange Online (Plan 1)",
        "Business-class email with 50 GB mailbox per user.",
        "EXCHANGESTANDARD",
        "4b9405b0-7788-4568-add1-99614e613b69",
        "CFQ7TTC0K5DS",
        Decimal("4.00"),
        service_plans=(("EXCHANGE_S_STANDARD", "Exchange Online (Plan 1)"),),
    ),
    ProductDef(
        "CFQ7TTC0LHXK",
        "Microsoft 365 Apps for business",
        "Desktop versions of Word, Excel, PowerPoint and Outlook with 1 TB OneDrive.",
        "O365_BUSINESS",
        "cdd28e44-67e3-425e-be4c-737fab2899d3",
        "CFQ7TTC0K5DT",
        Decimal("8.25"),
        service_plans=(("OFFICE_BUSINESS", "Microsoft 365 Apps for business"),),
    ),
    ProductDef(
        "CFQ7TTC0RQN9",
        "Microsoft Teams Essentials",
        "Unlimited group meetings, chat and 10 GB cloud storage per user.",
        "Teams_Ess",
        "fde42873-30b6-436b-b361-21af5a6b84ae",
        "CFQ7TTC0KBBX",
        Decimal("4.00"),
        service_plans=(("TEAMS_ESSENTIALS", "Microsoft Teams Essentials"),),
    ),
    ProductDef(
        "CFQ7TTC0LH0R",
        "Microsoft Teams Phone Standard",
        "Cloud phone system add-on for Microsoft 365 and Office 365 plans.",
        "MCOEV",
        "e43b5b99-8dfb-405f-9987-dc307f34bcbd",
        "CFQ7TTC0K5F1",
        Decimal("10.00"),
        prerequisites=_M365_BASES,
        service_plans=(("MCOEV", "Microsoft Teams Phone"),),
    ),
    ProductDef(
        "CFQ7TTC0LHSF",
        "Microsoft Teams Audio Conferencing with dial-out to USA/CAN",
        "Dial-in and dial-out audio conferencing add-on.",
        "MCOMEETADV",
        "0c266dff-15dd-4b49-8397-2bb16070ed52",
        "CFQ7TTC0K5F2",
        Decimal("4.00"),
        prerequisites=_M365_BASES,
        service_plans=(("MCOMEETADV", "Microsoft 365 Audio Conferencing"),),
    ),
    ProductDef(
        "CFQ7TTC0LHWP",
        "Exchange Online Archiving",
        "Archiving and eDiscovery add-on for Exchange Online mailboxes.",
        "EXCHANGEARCHIVE_ADDON",
        "ee02fd1b-340e-4a4b-b355-4a514e4c8943",
        "CFQ7TTC0K5F3",
        Decimal("3.00"),
        prerequisites=(*_M365_BASES, "CFQ7TTC0LH16:0001"),
        service_plans=(("EXCHANGE_S_ARCHIVE_ADDON", "Exchange Online Archiving"),),
    ),
    ProductDef(
        "CFQ7TTC0LCHG",
        "Microsoft Defender for Office 365 (Plan 1)",
        "Protection against phishing and malware in email and collaboration tools.",
        "ATP_ENTERPRISE",
        "4ef96642-f096-40de-a3e9-d83fb2f90211",
        "CFQ7TTC0K5F4",
        Decimal("2.00"),
        prerequisites=_M365_BASES,
        service_plans=(("ATP_ENTERPRISE", "Defender for Office 365 (Plan 1)"),),
    ),
    ProductDef(
        "CFQ7TTC0L3PB",
        "Power BI Pro",
        "Self-service analytics to share and collaborate on reports.",
        "POWER_BI_PRO",
        "f8a1db68-be16-40ed-86d5-cb42ce701560",
        "CFQ7TTC0K5F5",
        Decimal("14.00"),
        service_plans=(("BI_AZURE_P2", "Power BI Pro"),),
    ),
    ProductDef(
        "CFQ7TTC0LH3N",
        "Dynamics 365 Business Central Essentials",
        "ERP for small and medium businesses: finance, sales, purchasing and inventory.",
        "DYN365_BUSCENTRAL_ESSENTIAL",
        "2880026b-2b0c-4251-8656-5d41ff11e3aa",
        "CFQ7TTC0K5F6",
        Decimal("80.00"),
        three_year=True,
        service_plans=(("DYN365_FINANCIALS_BUSINESS", "Dynamics 365 Business Central"),),
    ),
    ProductDef(
        "CFQ7TTC0LH3P",
        "Dynamics 365 Sales Professional",
        "Core sales force automation: leads, opportunities and quotes.",
        "D365_SALES_PRO",
        "be9f9771-1c64-4618-9907-244325141096",
        "CFQ7TTC0K5F7",
        Decimal("65.00"),
        minimum_quantity=1,
        maximum_quantity=1000,
        three_year=True,
        service_plans=(("D365_SALES_PRO", "Dynamics 365 Sales Professional"),),
    ),
)

PRODUCTS_BY_ID: dict[str, ProductDef] = {p.id: p for p in PRODUCTS}
PRODUCTS_BY_SKU_GUID: dict[str, ProductDef] = {p.sku_guid: p for p in PRODUCTS}
BASE_PRODUCTS: tuple[ProductDef, ...] = tuple(p for p in PRODUCTS if not p.is_addon)
ADDON_PRODUCTS: tuple[ProductDef, ...] = tuple(p for p in PRODUCTS if p.is_addon)


@dataclass(frozen=True)
class LegacyOfferDef:
    id: str
    name: str
    description: str
    monthly_usd: Decimal
    part_number: str
    addon_of: tuple[str, ...] = ()
    minimum_quantity: int = 1
    maximum_quantity: int = 10000


# Legacy (pre-NCE) licence-based offers: GUID ids, add-ons via prerequisiteOffers.
LEGACY_OFFERS: tuple[LegacyOfferDef, ...] = (
    LegacyOfferDef(
        "91fd106f-4b2c-4938-95ac-f54f74e9a239",
        "Office 365 E1",
        "Web Office apps, email and Teams.",
        Decimal("8.00"),
        "STANDARDPACK",
    ),
    LegacyOfferDef(
        "796b6b5f-613c-4e24-a17c-eba730d49c02",
        "Office 365 E3",
        "Office apps, email, Teams and compliance.",
        Decimal("20.00"),
        "ENTERPRISEPACK",
    ),
    LegacyOfferDef(
        "031c9e47-4802-4248-838e-778fb1d2cc05",
        "Microsoft 365 Business Basic",
        "Web Office apps, Teams and email.",
        Decimal("5.00"),
        "O365_BUSINESS_ESSENTIALS",
    ),
    LegacyOfferDef(
        "2828be95-46ba-4f91-b2fd-0bef192ecf60",
        "Exchange Online Archiving",
        "Archiving add-on.",
        Decimal("3.00"),
        "EXCHANGEARCHIVE_ADDON",
        addon_of=("91fd106f-4b2c-4938-95ac-f54f74e9a239", "796b6b5f-613c-4e24-a17c-eba730d49c02"),
    ),
    LegacyOfferDef(
        "4a3b5c9e-4a6d-4d6a-9b4f-4d7b8a1a2c3e",
        "Microsoft 365 Audio Conferencing",
        "Audio conferencing add-on.",
        Decimal("4.00"),
        "MCOMEETADV",
        addon_of=("796b6b5f-613c-4e24-a17c-eba730d49c02",),
    ),
    LegacyOfferDef(
        "e2a0c4d0-3f3a-4b36-9a3c-2c8f6b9a1d11",
        "Power BI Pro",
        "Self-service analytics.",
        Decimal("9.99"),
        "POWER_BI_PRO",
    ),
)
LEGACY_BY_ID: dict[str, LegacyOfferDef] = {o.id: o for o in LEGACY_OFFERS}
