"""The dashboard's figures beyond the money tiles, each scoped to the viewer and each with the
address of the list behind it (its filter in the query string). Every read is a fixed number of
queries, whatever the number of customers, subscriptions or seats."""

from __future__ import annotations

from urllib.parse import urlencode

from django.urls import reverse

from seatkeeper.accounts.models import OrganisationKind, User
from seatkeeper.billing.dashboard import money_by_month, top_customers
from seatkeeper.discovery.permissions import can_see_discovery
from seatkeeper.discovery.selectors import runs_visible_to
from seatkeeper.people.selectors import seat_totals
from seatkeeper.subscriptions.selectors import (
    WINDOW_HOURS,
    renewing_within,
    subscriptions_visible_to,
)
from seatkeeper.ui.charts import money_chart

RENEWALS_WITHIN_DAYS = 30
LISTED = 5


def subscriptions_url(user: User, **filters) -> str:
    """The subscription list the viewer reads (a customer's people: their own), filtered."""
    if user.organisation_id is None or user.organisation.kind != OrganisationKind.CUSTOMER:
        url = reverse("subscription_list_all")
    else:
        url = reverse("customer_subscriptions", args=[user.organisation_id])
    return f"{url}?{urlencode(filters)}" if filters else url


def charts(user: User) -> list:
    return [money_chart(currency, rows) for currency, rows in money_by_month(user).items()]


def utilisation(user: User) -> dict:
    totals = seat_totals(subscriptions_visible_to(user))
    purchased = totals["purchased"]
    totals["percent"] = round(totals["assigned"] * 100 / purchased) if purchased else None
    totals["url"] = reverse("right_sizing")
    return totals


def renewals(user: User) -> dict:
    renewing = renewing_within(subscriptions_visible_to(user), RENEWALS_WITHIN_DAYS)
    return {
        "count": renewing.count(),
        "first": list(
            renewing.select_related("customer").order_by("commitment_end_date", "pk")[:LISTED]
        ),
        "days": RENEWALS_WITHIN_DAYS,
        "url": subscriptions_url(user, renews_within=RENEWALS_WITHIN_DAYS),
    }


def discovery(user: User) -> dict | None:
    """The last discovery run of the viewer's partner (partner staff only)."""
    if user.organisation_id is None or not can_see_discovery(user, user.organisation):
        return None
    run = runs_visible_to(user).order_by("-created_at", "-pk").first()
    return {
        "run": run,
        "url": reverse("discovery_run", args=[run.pk]) if run else reverse("discovery_runs"),
        "list_url": reverse("discovery_runs"),
    }


def summary(user: User) -> dict:
    return {
        "charts": charts(user),
        "top_customers": top_customers(user),
        "utilisation": utilisation(user),
        "renewals": renewals(user),
        "discovery": discovery(user),
        "failures_url": subscriptions_url(user, status="failed"),
        "windows_url": subscriptions_url(user, cancellable_within=WINDOW_HOURS),
    }
