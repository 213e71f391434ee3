"""The subscription lists (all customers, one customer) and their CSV/XLSX exports: one filter
definition (filters.SubscriptionFilter) for the page, its export and the API."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.db.models import Count, Q, QuerySet
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext_lazy

from seatkeeper.accounts.models import Organisation
from seatkeeper.activity.selectors import last_records
from seatkeeper.core import clock
from seatkeeper.core.validation import filter_or_400
from seatkeeper.subscriptions import display, exports, selectors
from seatkeeper.subscriptions.filters import STATUS_FILTERS, SubscriptionFilter
from seatkeeper.subscriptions.models import Section, Subscription
from seatkeeper.subscriptions.permissions import Action
from seatkeeper.subscriptions.views.common import customer_for, is_staff_above_customers
from seatkeeper.ui.tables import Column, build_table, register_choosable, visible_columns


def _columns(*, with_customer: bool) -> list[Column]:
    """Headers and sortable fields of the list; the cells are drawn by the template."""
    columns = [
        Column(
            "provider",
            gettext_lazy("Provider"),
            lambda s: s.offer.vendor.name,
            "offer__vendor__name",
        ),
        Column(
            "friendly_name",
            gettext_lazy("Friendly name"),
            lambda s: s.friendly_name,
            "friendly_name",
        ),
        Column("offer", gettext_lazy("Offer"), lambda s: s.offer.title, "offer__title"),
        Column("created", gettext_lazy("Creation date"), lambda s: s.created_at, "created_at"),
        Column("quantity", gettext_lazy("Quantity"), lambda s: s.quantity, "quantity"),
        Column("assigned", gettext_lazy("Assigned"), selectors.assigned_seats),
        Column(
            "commitment_end",
            gettext_lazy("Commitment end date"),
            lambda s: s.commitment_end_date,
            "commitment_end_date",
        ),
        Column("auto_renew", gettext_lazy("Auto renewable"), lambda s: s.auto_renew, "auto_renew"),
        Column("status", gettext_lazy("Status"), lambda s: s.status, "status"),
        Column("trial", gettext_lazy("Is trial"), lambda s: s.is_trial, "is_trial"),
        Column(
            "billing", gettext_lazy("Billing cycle"), lambda s: s.billing_cycle, "billing_cycle"
        ),
        Column("addons", gettext_lazy("Add-ons"), lambda s: s.addon_count, "addon_count"),
        Column("price", gettext_lazy("Price"), lambda s: None),
        Column("sync", gettext_lazy("Provisioning"), lambda s: s.sync_status, "sync_status"),
    ]
    if with_customer:
        columns.insert(
            0,
            Column(
                "customer", gettext_lazy("Customer"), lambda s: s.customer.name, "customer__name"
            ),
        )
    return columns


# Hidden until a person asks for them in the column chooser, so the list fits a 1,366 px laptop.
HIDDEN_BY_DEFAULT = {"created", "trial", "addons", "auto_renew"}
register_choosable("subscriptions", _columns(with_customer=False), hidden=HIDDEN_BY_DEFAULT)
register_choosable("subscriptions-all", _columns(with_customer=True), hidden=HIDDEN_BY_DEFAULT)


def filtered(request, queryset: QuerySet[Subscription]) -> QuerySet[Subscription]:
    """The query string's filters (filters.SubscriptionFilter: the same for the page, its
    export and the API); an unknown value answers 400 naming the filter."""
    return filter_or_400(SubscriptionFilter, request, queryset)


def _page_keys(request, customer: Organisation | None) -> QuerySet[Subscription]:
    """The rows of a page are found first by key alone (no joins to draw, no add-on count),
    then loaded in full: a deep page of 100,000 subscriptions walks an index instead of joining
    and counting add-ons for every row it skips."""
    queryset = selectors.subscriptions_visible_to(request.user)
    if customer is not None:
        queryset = queryset.filter(customer=customer)
    if request.GET.get("sort", "").lstrip("-") == "addons":
        queryset = queryset.annotate(
            addon_count=Count("addons", filter=~Q(addons__status="cancelled"), distinct=True)
        )
    return filtered(request, queryset).only("pk")


def _page_rows(queryset: QuerySet[Subscription], keys: list[int]) -> list[Subscription]:
    by_key = {row.pk: row for row in selectors.with_failed_operation(queryset.filter(pk__in=keys))}
    return [by_key[key] for key in keys if key in by_key]


def _list_page(request, *, customer: Organisation | None, template_context: dict):
    with_customer = customer is None
    columns = _columns(with_customer=with_customer)
    queryset = filtered(request, selectors.subscription_list(request.user, customer=customer))
    audience = display.viewer_audience(request.user, request.GET.get("audience"))
    export = request.GET.get("export")
    if export in ("csv", "xlsx"):
        return exports.export_response(
            request,
            queryset,
            columns=columns,
            audience=audience,
            file_format=export,
            filename=f"subscriptions-{clock.today().isoformat()}",
        )
    table_key = "subscriptions-all" if with_customer else "subscriptions"
    shown = visible_columns(request.user, table_key, columns)
    table = build_table(
        request, _page_keys(request, customer), columns, default_sort="-created", shown=shown
    )
    page_rows = _page_rows(queryset, [row.pk for row in table.page.object_list])
    pricer = display.RowPricer(
        request.user, audience, offer_ids=[row.offer_id for row in page_rows]
    )
    gate = display.ActionGate(request.user)
    assigned = selectors.assigned_by_subscription(page_rows)
    rows = [
        {
            "subscription": row,
            "price": pricer.price(row),
            "actions": gate.row_actions(row),
            "assigned": assigned.get(row.pk, 0),
        }
        for row in page_rows
    ]
    context = {
        "table": table,
        "rows": rows,
        "table_key": table_key,
        "all_columns": columns,
        "shown_keys": {column.key for column in shown},
        "customer": customer,
        "with_customer": with_customer,
        "status": request.GET.get("status", ""),
        "statuses": STATUS_FILTERS,
        "section": request.GET.get("section", ""),
        "sections": Section.choices,
        "audience": audience,
        "audiences": display.audiences_for(request.user),
        **template_context,
    }
    if request.htmx and not request.htmx.boosted:
        return render(request, "subscriptions/subscription_list.html#table", context)
    return render(request, "subscriptions/subscription_list.html", context)


@login_required
def subscription_list_all(request):
    if not is_staff_above_customers(request.user):
        if request.user.organisation_id is None:
            raise Http404
        return redirect("customer_subscriptions", customer_pk=request.user.organisation_id)
    return _list_page(request, customer=None, template_context={})


@login_required
def customer_subscriptions(request, customer_pk: int):
    customer = customer_for(request, customer_pk)
    counts = selectors.section_counts(request.user, customer)
    gate = display.ActionGate(request.user)
    return _list_page(
        request,
        customer=customer,
        template_context={
            "section_tabs": [
                (value, label, counts.get(value, 0)) for value, label in Section.choices
            ],
            "activity": last_records(request.user, customer),
            "can_order": gate.allowed(customer, Action.ORDER),
            "can_grant": gate.allowed(customer, Action.GRANT_RIGHTS),
        },
    )
