"""Catalog pages: the offer browser, offer details, vendors with their imports. Thin views:
scoped reads from selectors, writes through services."""

from __future__ import annotations

from functools import partial

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from seatkeeper.catalog import permissions, selectors, services, tasks
from seatkeeper.catalog.forms import ManualOfferForm, OfferFileForm, VendorForm, offer_filters
from seatkeeper.catalog.labels import category_label
from seatkeeper.catalog.models import OfferKind, OfferStatus, Term, VendorKind
from seatkeeper.core.errors import ServiceError
from seatkeeper.ui.forms import run_service
from seatkeeper.ui.tables import Column, build_table, csv_response

OFFER_COLUMNS = [
    Column(
        "title",
        gettext_lazy("Offer"),
        lambda o: o.title,
        "title",
        link=lambda o: reverse("catalog_offer", args=[o.pk]),
    ),
    Column("item_code", gettext_lazy("Item code"), lambda o: o.item_code, "item_code"),
    Column("vendor", gettext_lazy("Vendor"), lambda o: o.vendor.name, "vendor__name"),
    Column("category", gettext_lazy("Category"), lambda o: category_label(o.category), "category"),
    Column("group", gettext_lazy("Product group"), lambda o: o.product_group, "product_group"),
    Column("kind", gettext_lazy("Kind"), lambda o: o.get_kind_display(), "kind"),
    Column(
        "terms",
        gettext_lazy("Terms"),
        lambda o: ", ".join(
            sorted({t.get_term_display() for t in o.terms.all() if t.is_available})
        ),
    ),
    Column("status", gettext_lazy("Status"), lambda o: o.get_status_display(), "status"),
]


def _partner(request):
    partner_id = selectors.partner_id_of(request.user)
    if partner_id is None:
        raise PermissionDenied
    from seatkeeper.accounts.models import Organisation

    return Organisation.objects.get(pk=partner_id)


@login_required
def offer_list(request):
    visible = selectors.offers_visible_to(request.user)
    params = request.GET
    queryset = selectors.search_offers(visible, **offer_filters(params)).prefetch_related("terms")
    if params.get("export") == "csv":
        return csv_response(
            request, queryset, OFFER_COLUMNS, default_sort="title", filename="offers.csv"
        )
    table = build_table(request, queryset, OFFER_COLUMNS, default_sort="title")
    context = {
        "table": table,
        "vendors": selectors.vendors_visible_to(request.user),
        "categories": selectors.categories_of(visible),
        "kinds": OfferKind.choices,
        "terms": Term.choices,
        "statuses": OfferStatus.choices,
        "filters": params,
        "nav_active": "catalog",
    }
    if request.htmx:
        return render(request, "catalog/offer_list.html#table", context)
    return render(request, "catalog/offer_list.html", context)


@login_required
def offer_detail(request, pk: int):
    offer = selectors.get_offer_for_user(request.user, pk)
    from seatkeeper.pricing.audiences import Audience, visible_audiences

    vendor_prices = []
    if Audience.PARTNER_COST in visible_audiences(request.user):
        vendor_prices = offer.vendor_prices.order_by("term", "billing_cycle", "-effective_from")
    return render(
        request,
        "catalog/offer_detail.html",
        {
            "offer": offer,
            "terms": offer.terms.all(),
            "base_offers": offer.base_offers.all(),
            "addons": offer.addons.all(),
            "vendor_prices": vendor_prices,
            "changes": offer.changes.select_related("refresh")[:20],
            "can_withdraw": offer.vendor.kind == VendorKind.MANUAL
            and offer.status == OfferStatus.ACTIVE
            and permissions.can_manage_catalog(request.user, offer.vendor.organisation),
            "nav_active": "catalog",
        },
    )


@login_required
@require_POST
def offer_withdraw(request, pk: int):
    offer = selectors.get_offer_for_user(request.user, pk)
    if request.POST.get("confirm") != "yes":
        messages.error(request, _("Tick the box to confirm."))
        return redirect("catalog_offer", pk=offer.pk)
    try:
        services.offer_withdraw(actor=request.user, offer=offer)
    except ServiceError as error:
        raise PermissionDenied(error.message) from error
    messages.success(request, _("%(title)s can no longer be bought.") % {"title": offer.title})
    return redirect("catalog_offer", pk=offer.pk)


@login_required
def vendor_list(request):
    partner = _partner(request)
    can_manage = permissions.can_manage_catalog(request.user, partner)
    form = VendorForm(
        request.POST or None, accounts=partner.provider_accounts.filter(is_active=True)
    )
    if request.method == "POST":
        if not can_manage:
            raise PermissionDenied
        if form.is_valid():
            vendor = run_service(
                form,
                lambda: services.vendor_create(
                    actor=request.user, partner=partner, **form.cleaned_data
                ),
            )
            if vendor:
                messages.success(request, _("Vendor %(name)s added.") % {"name": vendor.name})
                return redirect("catalog_vendor", pk=vendor.pk)
    return render(
        request,
        "catalog/vendor_list.html",
        {
            "vendors": selectors.vendors_visible_to(request.user),
            "refreshes": selectors.refreshes_visible_to(request.user)[:20],
            "form": form,
            "can_manage": can_manage,
            "nav_active": "catalog",
        },
    )


@login_required
def vendor_detail(request, pk: int):
    vendor = selectors.get_vendor_for_user(request.user, pk)
    can_manage = permissions.can_manage_catalog(request.user, vendor.organisation)
    is_offer = request.POST.get("form") == "offer"
    offer_form = ManualOfferForm(request.POST if is_offer else None)
    form = OfferFileForm(None if is_offer else (request.POST or None), request.FILES or None)
    preview = None
    if request.method == "POST" and is_offer:
        if not can_manage:
            raise PermissionDenied
        if offer_form.is_valid():
            values = {k: v for k, v in offer_form.cleaned_data.items() if v not in (None, "")}
            offer = run_service(
                offer_form,
                lambda: services.manual_offer_save(actor=request.user, vendor=vendor, **values),
            )
            if offer:
                messages.success(request, _("%(title)s saved.") % {"title": offer.title})
                return redirect("catalog_offer", pk=offer.pk)
    elif request.method == "POST":
        if not can_manage:
            raise PermissionDenied
        if form.is_valid():
            text = form.content()
            try:
                preview = services.offers_csv_preview(vendor=vendor, text=text)
            except ServiceError as error:
                form.add_error(None, error.message)
            if preview is not None and request.POST.get("confirm") and preview.is_valid:
                refresh = run_service(
                    form,
                    lambda: services.offers_csv_import(
                        actor=request.user, vendor=vendor, text=text
                    ),
                )
                if refresh:
                    messages.success(
                        request,
                        _("Imported: %(new)s new, %(changed)s changed.")
                        % {"new": refresh.new_count, "changed": refresh.changed_count},
                    )
                    return redirect("catalog_refresh", pk=refresh.pk)
            form = OfferFileForm(initial={"text": text})
    return render(
        request,
        "catalog/vendor_detail.html",
        {
            "vendor": vendor,
            "offers_count": vendor.offers.count(),
            "refreshes": vendor.refreshes.all()[:20],
            "form": form,
            "offer_form": offer_form,
            "preview": preview,
            "columns": services.OFFER_CSV_COLUMNS,
            "can_manage": can_manage,
            "is_manual": vendor.kind == VendorKind.MANUAL,
            "nav_active": "catalog",
        },
    )


@login_required
@require_POST
def vendor_refresh(request, pk: int):
    """Start an import in the worker (a whole catalog is hundreds of vendor requests); the
    vendor page lists the run with its counts once it is done."""
    vendor = selectors.get_vendor_for_user(request.user, pk)
    if not permissions.can_manage_catalog(request.user, vendor.organisation):
        raise PermissionDenied
    if vendor.kind != VendorKind.API:
        messages.error(request, _("Only a connected vendor's catalog is imported from the vendor."))
        return redirect("catalog_vendor", pk=vendor.pk)
    transaction.on_commit(
        partial(tasks.refresh_vendor_catalog.enqueue, vendor_id=vendor.pk, actor_id=request.user.pk)
    )
    messages.success(request, _("The catalog import has started; refresh this page to see it."))
    return redirect("catalog_vendor", pk=vendor.pk)


@login_required
def refresh_detail(request, pk: int):
    refresh = selectors.refreshes_visible_to(request.user).filter(pk=pk).first()
    if refresh is None:
        from django.http import Http404

        raise Http404
    return render(
        request,
        "catalog/refresh_detail.html",
        {
            "refresh": refresh,
            "changes": refresh.changes.select_related("offer"),
            "nav_active": "catalog",
        },
    )
