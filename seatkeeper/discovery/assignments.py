"""Customers that discovery brought in, and their assignment to resellers (every write audited).

A new customer lands under the partner, unassigned. Where Partner Center names the indirect
reseller that sold to it (the customer's associatedPartnerId, a subscription's partnerId), and
staff already placed a customer of that reseller id, the same reseller is proposed. Assigning
moves the customer (and its subscriptions' "associated reseller") under the reseller.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db import transaction
from django.utils.translation import gettext as _

from seatkeeper.accounts.models import Organisation, OrganisationKind, User
from seatkeeper.activity.services import activity_record
from seatkeeper.core import clock
from seatkeeper.core.errors import PermissionRefused, ServiceError
from seatkeeper.discovery import permissions
from seatkeeper.discovery.models import Assignment, ResellerLink

BULK_LIMIT = 500


def _proposal(account_id: int, vendor_reseller_id: str) -> Organisation | None:
    if not vendor_reseller_id:
        return None
    link = (
        ResellerLink.objects.select_related("reseller")
        .filter(account_id=account_id, vendor_reseller_id=vendor_reseller_id)
        .first()
    )
    return link.reseller if link else None


def discovered(*, customer: Organisation, account, vendor_reseller_id: str, run) -> Assignment:
    """Record that `customer` came in through discovery and waits for an assignment."""
    assignment = Assignment.objects.create(
        customer=customer,
        account=account,
        vendor_reseller_id=vendor_reseller_id,
        proposed_reseller=_proposal(account.pk, vendor_reseller_id),
    )
    activity_record(
        actor=None,
        organisation=customer,
        obj=customer,
        operation="customer.discovered",
        details={"run": run.pk, "reseller_id": vendor_reseller_id or None},
    )
    return assignment


def note_vendor_reseller(customer: Organisation, vendor_reseller_id: str) -> bool:
    """The vendor named (another) indirect reseller for an unassigned customer: keep it and
    propose accordingly. Returns whether anything changed."""
    if not vendor_reseller_id:
        return False
    assignment = Assignment.objects.filter(customer=customer, assigned_at__isnull=True).first()
    if assignment is None or assignment.vendor_reseller_id == vendor_reseller_id:
        return False
    assignment.vendor_reseller_id = vendor_reseller_id
    assignment.proposed_reseller = _proposal(assignment.account_id, vendor_reseller_id)
    assignment.save(update_fields=["vendor_reseller_id", "proposed_reseller", "updated_at"])
    return True


def unassigned(partner: Organisation):
    return (
        Assignment.objects.filter(
            customer__parent=partner, assigned_at__isnull=True, account__organisation=partner
        )
        .select_related("customer", "proposed_reseller")
        .order_by("customer__name", "pk")
    )


def _check(actor: User, partner: Organisation, reseller: Organisation | None) -> None:
    if not permissions.can_assign_customers(actor, partner):
        raise PermissionRefused(_("Only the partner's staff assign customers."))
    if reseller is not None and (
        reseller.kind != OrganisationKind.RESELLER or reseller.parent_id != partner.pk
    ):
        raise ServiceError(_("Choose one of the partner's resellers."), field="reseller")


def _assign(
    actor: User, assignment: Assignment, reseller: Organisation | None, partner: Organisation
) -> None:
    from seatkeeper.subscriptions.models import Subscription

    customer = Organisation.objects.select_for_update().get(pk=assignment.customer_id)
    if customer.parent_id != partner.pk or customer.kind != OrganisationKind.CUSTOMER:
        raise ServiceError(_("This customer is no longer waiting for an assignment."))
    now = clock.now()
    if reseller is not None:
        customer.parent = reseller
        customer.path = f"{reseller.path}{customer.pk}/"
        customer.updated_at = now
        customer.save(update_fields=["parent", "path", "updated_at"])
        Subscription.objects.filter(customer=customer).update(reseller=reseller)
        if assignment.vendor_reseller_id:
            ResellerLink.objects.update_or_create(
                account_id=assignment.account_id,
                vendor_reseller_id=assignment.vendor_reseller_id,
                defaults={"reseller": reseller},
            )
    assignment.assigned_at = now
    assignment.assigned_by = actor
    assignment.save(update_fields=["assigned_at", "assigned_by", "updated_at"])
    activity_record(
        actor=actor,
        organisation=customer,
        obj=customer,
        operation="customer.assigned",
        details={"reseller": reseller.name if reseller else None},
    )


@transaction.atomic
def customer_assign(
    *, actor: User, assignment: Assignment, reseller: Organisation | None
) -> Assignment:
    """Place one discovered customer under `reseller` (None: keep it as the partner's own)."""
    partner = assignment.account.organisation
    _check(actor, partner, reseller)
    _assign(actor, assignment, reseller, partner)
    return assignment


@transaction.atomic
def customers_assign_bulk(
    *, actor: User, partner: Organisation, assignment_ids: Iterable[int], reseller: Organisation
) -> int:
    """Place several discovered customers under one reseller, all or none."""
    ids = list(dict.fromkeys(int(pk) for pk in assignment_ids))
    if not ids:
        raise ServiceError(_("Choose at least one customer."), field="customers")
    if len(ids) > BULK_LIMIT:
        raise ServiceError(
            _("Assign at most %(limit)d customers at once.") % {"limit": BULK_LIMIT},
            field="customers",
        )
    _check(actor, partner, reseller)
    waiting = list(unassigned(partner).filter(pk__in=ids))
    if len(waiting) != len(ids):
        raise ServiceError(_("Some of these customers are no longer waiting for an assignment."))
    for assignment in waiting:
        _assign(actor, assignment, reseller, partner)
    return len(waiting)
