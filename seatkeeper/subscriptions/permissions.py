"""Who may do what to a subscription. Every check lives here and is called by the services, so
the pages and the API refuse the same things with the same message.

Partner staff and the customer's reseller may do everything (fulfilment of manual orders is for
partner staff only). A customer admin may do only what the reseller or partner above granted in
`CustomerRights`; "monthly licences only" narrows every granted right to monthly-term
subscriptions. Read-only logins change nothing.
"""

from __future__ import annotations

import enum

from django.utils.translation import gettext as _

from seatkeeper.accounts.models import Organisation, Role, User
from seatkeeper.accounts.permissions import PARTNER_STAFF, can_read
from seatkeeper.core.errors import PermissionRefused


class Action(enum.StrEnum):
    ORDER = "order"
    INCREASE = "increase"
    DECREASE = "decrease"
    CANCEL = "cancel"
    SUSPEND = "suspend"
    REACTIVATE = "reactivate"
    RENEWAL = "renewal"
    EDIT = "edit"
    RETRY = "retry"
    FULFIL = "fulfil"
    GRANT_RIGHTS = "grant_rights"


# Which granted right lets a customer admin take each action (None: never theirs to take).
CUSTOMER_RIGHT: dict[Action, str | None] = {
    Action.ORDER: "can_order",
    Action.INCREASE: "can_increase",
    Action.DECREASE: "can_decrease",
    Action.CANCEL: "can_decrease",
    Action.RENEWAL: "can_change_renewal",
    Action.EDIT: "",  # the customer's own labels (friendly name, PO number)
    Action.SUSPEND: None,
    Action.REACTIVATE: None,
    Action.RETRY: None,
    Action.FULFIL: None,
    Action.GRANT_RIGHTS: None,
}
RIGHT_LABELS = {
    "can_order": _("order new subscriptions"),
    "can_increase": _("increase quantities"),
    "can_decrease": _("decrease quantities and cancel"),
    "can_change_renewal": _("change renewal settings"),
}


def refusal(
    actor: User, customer: Organisation, action: Action, *, term: str | None = None
) -> str | None:
    """Why `actor` may not take `action` for `customer` (None: allowed)."""
    if not can_read(actor, customer):
        return _("You may not act for this customer.")
    if actor.role in PARTNER_STAFF:
        return None
    if action == Action.FULFIL:
        return _("Only partner staff fulfil manual orders.")
    if actor.role == Role.RESELLER_ADMIN:
        return None
    if actor.role != Role.CUSTOMER_ADMIN:
        return _("Your role can only read subscriptions.")
    right = CUSTOMER_RIGHT[action]
    if right is None:
        return _("Only your reseller or partner can do this.")
    if right == "":
        return None
    from seatkeeper.subscriptions.models import CustomerRights

    rights = CustomerRights.objects.filter(customer=customer).first()
    if rights is None or not getattr(rights, right):
        return _("Your reseller has not granted you the right to %(right)s.") % {
            "right": RIGHT_LABELS[right]
        }
    if rights.monthly_only and term is not None and term != "P1M":
        return _("Your rights cover monthly licences only.")
    return None


def check(actor: User, customer: Organisation, action: Action, *, term: str | None = None) -> None:
    reason = refusal(actor, customer, action, term=term)
    if reason:
        raise PermissionRefused(reason)


def allowed(
    actor: User, customer: Organisation, action: Action, *, term: str | None = None
) -> bool:
    return refusal(actor, customer, action, term=term) is None
