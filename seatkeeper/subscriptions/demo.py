"""Demo rights and orders: the demo customer admin may order and change quantities itself, and a
few subscriptions exist once the sandbox is connected. Idempotent."""

from __future__ import annotations

import logging

from django.db import transaction

from seatkeeper.accounts.models import Organisation, OrganisationKind, User
from seatkeeper.catalog.models import Offer, OfferStatus
from seatkeeper.core.errors import ServiceError
from seatkeeper.subscriptions import services
from seatkeeper.subscriptions.models import CustomerRights, Subscription, Tenant

logger = logging.getLogger(__name__)

# (customer, rights) granted by the customer's reseller or partner.
RIGHTS = {
    "Boulangerie Martin": dict(
        can_order=True,
        can_increase=True,
        can_decrease=True,
        monthly_only=False,
        can_change_renewal=True,
    ),
    "Cabinet Dupont Avocats": dict(
        can_order=False,
        can_increase=True,
        can_decrease=False,
        monthly_only=True,
        can_change_renewal=False,
    ),
}
# (customer, product id at Microsoft, quantity, term, billing cycle, friendly name)
ORDERS = [
    ("Boulangerie Martin", "CFQ7TTC0LH18", 8, "P1Y", "monthly", "Boutique et fournil"),
    ("Cabinet Dupont Avocats", "CFQ7TTC0LCHC", 5, "P1M", "monthly", "Associés"),
    ("Harbour Logistics", "CFQ7TTC0LH18", 25, "P1Y", "annual", "Warehouse staff"),
    ("3DServiceLab", "CFQ7TTC0LDPB", 12, "P1M", "monthly", "Office 365 Business Premium"),
]


def _granter(customer: Organisation) -> User | None:
    ancestors = [int(part) for part in customer.path.strip("/").split("/")[:-1]]
    return (
        User.objects.filter(
            organisation_id__in=ancestors,
            role__in=["reseller_admin", "cloud_admin"],
            is_active=True,
        )
        .order_by("-organisation__path")
        .first()
    )


@transaction.atomic
def load_rights() -> None:
    for name, rights in RIGHTS.items():
        customer = Organisation.objects.filter(name=name, kind=OrganisationKind.CUSTOMER).first()
        granter = _granter(customer) if customer else None
        if (
            customer is None
            or granter is None
            or CustomerRights.objects.filter(customer=customer).exists()
        ):
            continue
        services.rights_set(actor=granter, customer=customer, **rights)


def place_orders() -> int:
    """Order the demo subscriptions for customers linked to a tenant (once)."""
    placed = 0
    for name, product_id, quantity, term, cycle, friendly in ORDERS:
        customer = Organisation.objects.filter(name=name, kind=OrganisationKind.CUSTOMER).first()
        if (
            customer is None
            or Subscription.objects.filter(customer=customer, friendly_name=friendly).exists()
        ):
            continue
        tenant = Tenant.objects.filter(customer=customer).first()
        offer = Offer.objects.filter(
            product_id=product_id,
            status=OfferStatus.ACTIVE,
            vendor__provider_account=tenant.account if tenant else None,
        ).first()
        actor = _granter(customer)
        if tenant is None or offer is None or actor is None:
            continue
        if not offer.terms.filter(term=term, billing_cycle=cycle, is_available=True).exists():
            continue
        line = services.OrderLine(
            offer=offer, quantity=quantity, term=term, billing_cycle=cycle, friendly_name=friendly
        )
        try:
            services.order_place(
                actor=actor, customer=customer, lines=[line], po_number="DEMO-2026"
            )
        except ServiceError as error:  # e.g. no price yet in that currency: skip, keep the others
            logger.warning("demo order for %s skipped: %s", name, error.message)
            continue
        placed += 1
    return placed
