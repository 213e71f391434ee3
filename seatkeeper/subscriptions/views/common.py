"""What the subscription pages share: scoped lookups, refusals, running a service with its refusal
on the form, dry runs, term choices and the per-subscription margin."""

from __future__ import annotations

from collections.abc import Callable

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import Http404

from seatkeeper.accounts.models import Organisation, OrganisationKind
from seatkeeper.accounts.selectors import get_organisation_for_user
from seatkeeper.core.errors import Conflict, PermissionRefused, ServiceError
from seatkeeper.subscriptions import selectors
from seatkeeper.subscriptions.forms import term_cycle_label, term_cycle_value
from seatkeeper.subscriptions.models import Subscription


def is_staff_above_customers(user) -> bool:
    kind = user.organisation.kind if user.organisation_id else None
    return kind in (OrganisationKind.PARTNER, OrganisationKind.RESELLER)


def customer_for(request, customer_pk: int) -> Organisation:
    customer = get_organisation_for_user(request.user, customer_pk)
    if customer.kind != OrganisationKind.CUSTOMER:
        raise Http404("Not a customer")
    return customer


def subscription_for(request, pk: int) -> Subscription:
    return selectors.get_subscription_for_user(request.user, pk)


def refuse_unless(gate_refusal: str | None) -> None:
    if gate_refusal:
        raise PermissionDenied(gate_refusal)


def run(form, call: Callable[[], object]) -> tuple[object | None, int]:
    """Call a service; its refusal goes on the form with the HTTP status it deserves (403 for
    rights, 409 for a change made meanwhile by someone else, 200 for a rule)."""
    try:
        return call(), 200
    except Conflict as error:
        form.add_error(None, error.message)
        return None, 409
    except PermissionRefused as error:
        form.add_error(None, error.message)
        return None, 403
    except ServiceError as error:
        form.add_error(error.field if error.field in form.fields else None, error.message)
        return None, 200
    except ValidationError as error:
        for field, errors in getattr(error, "message_dict", {None: error.messages}).items():
            for message in errors:
                form.add_error(field if field in form.fields else None, message)
        return None, 200


class _DryRun(Exception):
    pass


def dry_run(call: Callable[[], object]) -> str | None:
    """The service's refusal for a change, without making it: the change runs in a transaction
    that is always rolled back (and its after-commit work is dropped with it)."""
    try:
        with transaction.atomic():
            call()
            raise _DryRun
    except _DryRun:
        return None
    except ServiceError as error:
        return error.message
    except ValidationError as error:
        return " ".join(error.messages)


def may_set_margin(request, customer: Organisation) -> bool:
    """A margin of its own for one subscription: set by the partner or reseller serving the
    customer (the pricing app's rule for a single subscription)."""
    from seatkeeper.catalog.permissions import can_set_rule

    return request.user.organisation_id is not None and can_set_rule(
        request.user, owner=request.user.organisation, tier="customer", target=customer
    )


def set_margin(request, subscription: Subscription, data: dict) -> None:
    from seatkeeper.pricing.models import Tier
    from seatkeeper.pricing.services import margin_rule_set

    margin_rule_set(
        actor=request.user,
        owner=request.user.organisation,
        tier=Tier.CUSTOMER,
        method=data["margin_method"],
        value=data["margin_value"],
        target=subscription.customer,
        subscription_ref=str(subscription.pk),
    )


def offer_term_choices(offer) -> list[tuple[str, str]]:
    return [
        (
            term_cycle_value(term.term, term.billing_cycle),
            term_cycle_label(term.term, term.billing_cycle),
        )
        for term in offer.terms.all()
        if term.is_available
    ]
