from __future__ import annotations

import datetime as dt

from babel.dates import format_timedelta
from django import template

from seatkeeper.core.formatting import current_locale
from seatkeeper.discovery import permissions, selectors

register = template.Library()


@register.filter
def duration(value):
    """A length of time in the reader's language ("3 minutes", "3 minutes")."""
    if value is None or value == "":
        return "—"
    seconds = value.total_seconds() if isinstance(value, dt.timedelta) else float(value)
    return format_timedelta(dt.timedelta(seconds=seconds), locale=current_locale())


@register.inclusion_tag("discovery/_account_card.html", takes_context=True)
def discovery_card(context, account):
    """The account page's discovery card: the latest run and "Trigger discovery"."""
    user = context["request"].user
    return {
        "account": account,
        "run": selectors.latest_run(account),
        "can_run": permissions.can_run_discovery(user, account.organisation),
        "offer_start": context.get("just_registered", False),
        "csrf_token": context.get("csrf_token"),
    }


@register.filter
def imported(figures, kind):
    return figures.imported(kind)


@register.filter
def label(labels, kind):
    return labels.get(kind, kind)


def _shown(field: str, value):
    from django.utils.translation import gettext as _

    from seatkeeper.subscriptions.models import Status

    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return _("Yes") if value else _("No")
    if field == "status":
        return Status(value).label if value in Status.values else value
    return value


@register.inclusion_tag("discovery/_drift.html")
def vendor_drift(subscription):
    """Ours beside the vendor's, where discovery last saw the vendor differ."""
    from seatkeeper.discovery import drift
    from seatkeeper.subscriptions.models import Subscription

    rows = [
        (
            Subscription._meta.get_field(difference.field).verbose_name,
            _shown(difference.field, difference.ours),
            _shown(difference.field, difference.vendor),
        )
        for difference in drift.differences(subscription)
    ]
    state = getattr(subscription, "vendor_state", None) if rows else None
    return {"rows": rows, "state": state}
