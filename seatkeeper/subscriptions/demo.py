"""Demo rights and orders. Idempotent.

- The demo customer admin may order and change quantities itself.
- Rainbow UC (a manual vendor): most customers use it; the partner fulfilled most orders, a few
  still wait in the fulfilment queue and one was rejected.
- Microsoft: once the sandbox is connected (its subscriptions come from the first discovery), a
  few orders placed from Seatkeeper, provisioned by the worker; one fails, Microsoft refusing
  a customer whose agreement acceptance was never confirmed.
"""

from __future__ import annotations

import logging

from django.db import transaction

from seatkeeper.accounts.models import Organisation, OrganisationKind, User
from seatkeeper.catalog.models import Offer, OfferStatus
from seatkeeper.core.errors import ServiceError
from seatkeeper.sandbox import story
from seatkeeper.subscriptions import services
from seatkeeper.subscriptions.models import (
    CustomerRights,
    OperationKind,
    OperationState,
    Subscription,
    Tenant,
)

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
    ("3DServiceLab", "CFQ7TTC0LDPB", 12, "P1M", "monthly", "Bureau d'études"),
    ("Camden Bakery", "CFQ7TTC0RQN9", 3, "P1M", "monthly", "Shop floor"),
    # Its tenant's agreement acceptance was never confirmed: Microsoft refuses the order.
    ("Conserverie de Quiberon", "CFQ7TTC0LCHC", 10, "P1Y", "monthly", "Atelier de production"),
]
# Rainbow plans by the company's place in story.COMPANIES (every third company has none):
# (item code, term, billing cycle, share of the staff, add-on of line n)
RAINBOW_PLANS = (
    (("RB-BUS", "P1M", "monthly", 1.0, None), ("RB-PBX", "P1M", "monthly", 0.5, 0)),
    (("RB-ENT", "P1Y", "prepaid", 0.8, None), ("RB-ATT", "P1M", "monthly", 0.0, None)),
    None,
    (("RB-BUS", "P1Y", "prepaid", 1.0, None), ("RB-REC", "P1M", "monthly", 0.2, 0)),
    (("RB-ESS", "P1M", "monthly", 1.0, None), ("RB-TEAMS", "P1M", "monthly", 0.5, None)),
    None,
)
RAINBOW_PO = "RB-DEMO"
# Orders left in the fulfilment queue (by company index), and the one the partner rejected.
RAINBOW_WAITING = frozenset({4, 16, 27, 37})
RAINBOW_REJECTED = 21
RAINBOW_REJECTION = "Call recording is not offered in this region before January."


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


def _partner_admin(customer: Organisation) -> User | None:
    partner_id = int(customer.path.strip("/").split("/")[0])
    return (
        User.objects.filter(organisation_id=partner_id, role="cloud_admin", is_active=True)
        .order_by("pk")
        .first()
    )


@transaction.atomic
def load_rainbow() -> int:
    """Rainbow UC subscriptions for the story's customers, through the store's and the
    fulfilment queue's services (once: nothing is ordered again for a customer that has some)."""
    placed = 0
    for n, company in enumerate(story.COMPANIES):
        plan = RAINBOW_PLANS[n % len(RAINBOW_PLANS)]
        customer = Organisation.objects.filter(
            name=company.name, kind=OrganisationKind.CUSTOMER
        ).first()
        if plan is None or customer is None:
            continue
        if Subscription.objects.filter(customer=customer, po_number=RAINBOW_PO).exists():
            continue
        actor, operator = _granter(customer), _partner_admin(customer)
        if actor is None or operator is None:
            continue
        lines: list[Subscription] = []
        for code, term, cycle, share, parent in plan:
            offer = Offer.objects.filter(
                vendor__name="Rainbow UC", item_code=code, status=OfferStatus.ACTIVE
            ).first()
            if offer is None:
                continue
            base = lines[parent] if parent is not None and parent < len(lines) else None
            if parent is not None and (base is None or base.status != "active"):
                continue
            line = services.OrderLine(
                offer=offer,
                quantity=max(1, round(company.seats * share)),
                term=term,
                billing_cycle=cycle,
                parent=base,
            )
            order = services.order_place(
                actor=actor, customer=customer, lines=[line], po_number=RAINBOW_PO
            )
            subscription = order.subscriptions.get()
            operation = subscription.operations.get(kind=OperationKind.CREATE)
            last = len(lines) == len(plan) - 1
            if operation.state == OperationState.AWAITING_FULFILMENT:
                if n == RAINBOW_REJECTED and last:
                    services.fulfilment_reject(
                        actor=operator, operation=operation, reason=RAINBOW_REJECTION
                    )
                elif not (n in RAINBOW_WAITING and last):
                    services.fulfilment_complete(
                        actor=operator,
                        operation=operation,
                        vendor_reference=f"RB-{customer.pk:04d}-{subscription.pk:05d}",
                    )
            subscription.refresh_from_db()
            lines.append(subscription)
            placed += 1
    return placed
