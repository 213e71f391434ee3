"""Demo organisations and one login per role. Idempotent: what exists is left as it is."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction

from seatkeeper.accounts import services
from seatkeeper.accounts.models import Organisation, OrganisationKind, Role, User

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
]
CUSTOMERS = [
    (
        "Bellevue Informatique",
        {
            "name": "Boulangerie Martin",
            "legal_name": "Boulangerie Martin SARL",
            "address_line1": "3 place Bellecour",
            "city": "Lyon",
            "postal_code": "69002",
            "country": "FR",
            "contact_name": "Sophie Martin",
            "contact_email": "sophie@boulangerie-martin.example",
            "vat_number": "FR12345678901",
            "default_language": "fr",
            "default_currency": "EUR",
        },
    ),
    (
        "Bellevue Informatique",
        {
            "name": "Cabinet Dupont Avocats",
            "legal_name": "Cabinet Dupont Avocats SELARL",
            "address_line1": "21 cours Lafayette",
            "city": "Lyon",
            "postal_code": "69003",
            "country": "FR",
            "contact_name": "Marc Dupont",
            "contact_email": "marc.dupont@dupont-avocats.example",
            "default_language": "fr",
            "default_currency": "EUR",
        },
    ),
    (
        "Thames IT Partners",
        {
            "name": "Harbour Logistics",
            "legal_name": "Harbour Logistics Ltd",
            "address_line1": "1 Dock Road",
            "city": "Southampton",
            "postal_code": "SO14 3GG",
            "country": "GB",
            "contact_name": "Emma Clarke",
            "contact_email": "emma.clarke@harbour-logistics.example",
            "vat_number": "GB987654321",
            "default_language": "en",
            "default_currency": "GBP",
        },
    ),
    (
        "Thames IT Partners",
        {
            "name": "Oakwood Dental Practice",
            "legal_name": "Oakwood Dental Practice LLP",
            "address_line1": "7 Oak Lane",
            "city": "Reading",
            "postal_code": "RG1 2AB",
            "country": "GB",
            "contact_name": "Priya Shah",
            "contact_email": "priya.shah@oakwood-dental.example",
            "default_language": "en",
            "default_currency": "GBP",
        },
    ),
    (
        None,
        {
            "name": "3DServiceLab",
            "legal_name": "3DServiceLab SAS",
            "address_line1": "5 avenue des Sciences",
            "city": "Grenoble",
            "postal_code": "38000",
            "country": "FR",
            "contact_name": "Luc Bernard",
            "contact_email": "luc.bernard@3dservicelab.example",
            "vat_number": "FR55555555555",
            "default_language": "fr",
            "default_currency": "EUR",
        },
    ),
    (
        None,
        {
            "name": "Greenfield Architects",
            "legal_name": "Greenfield Architects LLP",
            "address_line1": "22 Queen Street",
            "city": "Edinburgh",
            "postal_code": "EH2 1JX",
            "country": "GB",
            "contact_name": "Fiona Reid",
            "contact_email": "fiona.reid@greenfield-arch.example",
            "default_language": "en",
            "default_currency": "GBP",
        },
    ),
]


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
