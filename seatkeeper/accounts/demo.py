"""Demo organisations and one login per role. Idempotent: what exists is left as it is."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction

from seatkeeper.accounts import services
from seatkeeper.accounts.models import Organisation, OrganisationKind, Role, User
from seatkeeper.sandbox import story

PARTNER = {
    "name": "Azurel Cloud Distribution",
    "legal_name": "Azurel Cloud Distribution SAS",
    "address_line1": "12 rue de la Paix",
    "city": "Paris",
    "postal_code": "75002",
    "country": "FR",
    "contact_name": "Claire Moreau",
    "contact_email": "claire.moreau@azurel.example",
    "contact_phone": "+33 1 40 00 00 00",
    "vat_number": "FR40123456824",
    "default_language": "fr",
    "default_currency": "EUR",
}
RESELLERS = [
    {
        "name": "Bellevue Informatique",
        "legal_name": "Bellevue Informatique SARL",
        "address_line1": "8 quai Saint-Vincent",
        "city": "Lyon",
        "postal_code": "69001",
        "country": "FR",
        "contact_name": "Julien Petit",
        "contact_email": "julien.petit@bellevue-informatique.example",
        "vat_number": "FR83404833048",
        "default_language": "fr",
        "default_currency": "EUR",
    },
    {
        "name": "Thames IT Partners",
        "legal_name": "Thames IT Partners Ltd",
        "address_line1": "40 Bankside",
        "city": "London",
        "postal_code": "SE1 9JE",
        "country": "GB",
        "contact_name": "Oliver Hughes",
        "contact_email": "oliver.hughes@thames-it.example",
        "vat_number": "GB123456789",
        "default_language": "en",
        "default_currency": "GBP",
    },
    {
        "name": "Atlantique Numérique",
        "legal_name": "Atlantique Numérique SAS",
        "address_line1": "5 allée Baco",
        "city": "Nantes",
        "postal_code": "44000",
        "country": "FR",
        "contact_name": "Gwenaëlle Le Floch",
        "contact_email": "gwenaelle.lefloch@atlantique-numerique.example",
        "default_language": "fr",
        "default_currency": "EUR",
    },
]


def _customer(company: story.Company) -> tuple[str | None, dict]:
    french = company.country == "FR"
    slug = story.domain_prefix(company.name)
    first = story.domain_prefix(company.first_name)
    last = story.domain_prefix(company.last_name)
    return company.reseller, {
        "name": company.name,
        "legal_name": company.legal_name,
        "address_line1": company.street,
        "city": company.city,
        "postal_code": company.postal_code,
        "country": company.country,
        "contact_name": f"{company.first_name} {company.last_name}",
        "contact_email": f"{first}.{last}@{slug}.example",
        "default_language": "fr" if french else "en",
        "default_currency": "EUR" if french else "GBP",
    }


# (reseller name or None for the partner's own customers, values): the companies of the
# sandbox's story world, so that each is linked to its own tenant when the sandbox is connected.
CUSTOMERS = [_customer(company) for company in story.COMPANIES]


@dataclass(frozen=True)
class DemoLogin:
    role: str
    username: str
    password: str
    organisation: str


LOGINS = [
    DemoLogin(Role.CLOUD_ADMIN, "cloudadmin", "Demo-Cloud-Admin-2026", PARTNER["name"]),
    DemoLogin(Role.PARTNER_OPERATOR, "operator", "Demo-Operator-2026", PARTNER["name"]),
    DemoLogin(Role.RESELLER_ADMIN, "reseller", "Demo-Reseller-2026", "Bellevue Informatique"),
    DemoLogin(Role.CUSTOMER_ADMIN, "customer", "Demo-Customer-2026", "Boulangerie Martin"),
    DemoLogin(Role.READ_ONLY, "readonly", "Demo-Read-Only-2026", "Thames IT Partners"),
]


def _organisation(name: str, kind: str, parent: Organisation | None, values: dict) -> Organisation:
    existing = Organisation.objects.filter(name=name, kind=kind).first()
    if existing:
        return existing
    return services.organisation_create(actor=None, parent=parent, kind=kind, **values)


@transaction.atomic
def load() -> list[DemoLogin]:
    partner = _organisation(PARTNER["name"], OrganisationKind.PARTNER, None, PARTNER)
    by_name = {partner.name: partner}
    for values in RESELLERS:
        by_name[values["name"]] = _organisation(
            values["name"], OrganisationKind.RESELLER, partner, values
        )
    for parent_name, values in CUSTOMERS:
        parent = by_name[parent_name] if parent_name else partner
        by_name[values["name"]] = _organisation(
            values["name"], OrganisationKind.CUSTOMER, parent, values
        )
    for login in LOGINS:
        if User.objects.filter(username=login.username).exists():
            continue
        organisation = by_name[login.organisation]
        services.user_create(
            actor=None,
            organisation=organisation,
            username=login.username,
            email=f"{login.username}@seatkeeper-demo.example",
            password=login.password,
            role=login.role,
            first_name=login.username.capitalize(),
            last_name="Demo",
        )
    return LOGINS
