"""Pricing pages: the what-if screen, margin rules, price lists (with CSV import and export)
and exchange rates. Thin: scoped reads from selectors, writes through services, prices from
the one engine."""

from __future__ import annotations

import csv

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from seatkeeper.accounts import selectors as account_selectors
from seatkeeper.accounts.models import OrganisationKind, Role
from seatkeeper.accounts.selectors import partner_of
from seatkeeper.catalog import permissions
from seatkeeper.catalog import selectors as catalog_selectors
from seatkeeper.catalog.models import OfferStatus
from seatkeeper.core import clock
from seatkeeper.core.errors import ServiceError
from seatkeeper.core.spreadsheet import safe_cell
from seatkeeper.pricing import selectors, services
from seatkeeper.pricing.engine import PricingError, price_one
from seatkeeper.pricing.forms import (
    EntryForm,
    PolicyForm,
    PriceFileForm,
    PriceListForm,
    PriceSheetForm,
    RateForm,
    RuleForm,
    WhatIfForm,
)
from seatkeeper.pricing.models import PriceSheetOrigin, PricingPolicy, Tier
from seatkeeper.pricing.pricesheets import price_sheet_import
from seatkeeper.ui.forms import run_service


def _partner_person(request):
    user = request.user
    if user.organisation_id is None or user.organisation.kind != OrganisationKind.PARTNER:
        raise PermissionDenied(_("Price lists and exchange rates belong to the partner."))
    return user.organisation


@login_required
def whatif(request):
    user = request.user
    offers = catalog_selectors.offers_visible_to(user).filter(status=OfferStatus.ACTIVE)
    customers = account_selectors.organisations_visible_to(user).filter(
        kind=OrganisationKind.CUSTOMER
    )
    form = WhatIfForm(request.GET or None, offers=offers, customers=customers)
    context = {"form": form, "nav_active": "pricing"}
    if form.is_bound and form.is_valid():
        values = form.cleaned_data
        offer, customer = values["offer"], values["customer"]
        try:
            breakdown = price_one(
                partner=partner_of(customer),
                offer_id=offer.pk,
                customer_id=customer.pk,
                term=values["term"],
                billing_cycle=values["billing_cycle"],
                on=values.get("on") or clock.today(),
                quantity=values["quantity"],
            )
        except PricingError as error:
            form.add_error(None, error.message)
        else:
            context.update(
                breakdown=breakdown,
                tiers=selectors.tiers_for(breakdown, user),
                margins=selectors.margins_for(breakdown, user),
                offer=offer,
                customer=customer,
            )
    if "offer" in form.data and form.data.get("offer", "").isdigit():
        chosen = offers.filter(pk=int(form.data["offer"])).first()
        context["offer_terms"] = chosen.terms.filter(is_available=True) if chosen else []
    if request.htmx:
        return render(request, "pricing/whatif.html#result", context)
    return render(request, "pricing/whatif.html", context)


def _rule_choices(user):
    organisation = user.organisation
    below = account_selectors.organisations_visible_to(user).exclude(pk=organisation.pk)
    if organisation.kind == OrganisationKind.PARTNER:
        tiers = [Tier.RESELLER, Tier.CUSTOMER] if user.role == Role.CLOUD_ADMIN else [Tier.CUSTOMER]
    elif organisation.kind == OrganisationKind.RESELLER and user.role == Role.RESELLER_ADMIN:
        tiers = [Tier.CUSTOMER]
    else:
        tiers = []
    offers = catalog_selectors.offers_visible_to(user)
    return {
        "targets": below,
        "vendors": catalog_selectors.vendors_visible_to(user),
        "offers": offers,
        "categories": catalog_selectors.categories_of(offers),
        "tiers": tiers,
    }


@login_required
def rule_list(request):
    user = request.user
    if user.organisation_id is None or user.organisation.kind == OrganisationKind.CUSTOMER:
        raise PermissionDenied(_("Margins are set by partners and resellers."))
    choices = _rule_choices(user)
    form = RuleForm(request.POST or None, **choices)
    if request.method == "POST":
        if not choices["tiers"]:
            raise PermissionDenied(_("You may not set margin rules."))
        if form.is_valid():
            values = {key: value for key, value in form.cleaned_data.items()}
            values["effective_from"] = values.get("effective_from") or None
            rule = run_service(
                form,
                lambda: services.margin_rule_set(actor=user, owner=user.organisation, **values),
            )
            if rule:
                messages.success(request, _("Rule saved."))
                return redirect("pricing_rules")
    today = clock.today()
    rules = selectors.current_rules(selectors.rules_visible_to(user), today)
    partner = partner_of(user.organisation)
    policy = PricingPolicy.objects.filter(organisation=partner).first()
    can_policy = permissions.can_manage_prices(user, partner)
    return render(
        request,
        "pricing/rule_list.html",
        {
            "rules": rules,
            "today": today,
            "form": form,
            "can_set": bool(choices["tiers"]),
            "policy": policy,
            "policy_form": PolicyForm(
                initial={
                    "never_below_cost": policy.never_below_cost if policy else True,
                    "never_above_list": policy.never_above_list if policy else True,
                }
            )
            if can_policy
            else None,
            "nav_active": "pricing",
        },
    )


@login_required
@require_POST
def rule_remove(request, pk: int):
    rule = selectors.get_rule_for_user(request.user, pk)
    try:
        services.margin_rule_remove(actor=request.user, rule=rule)
    except ServiceError as error:
        if error.status_code == 403:
            raise PermissionDenied(error.message) from error
        messages.error(request, error.message)
    else:
        messages.success(request, _("Rule removed from today."))
    return redirect("pricing_rules")


@login_required
@require_POST
def policy_set(request):
    partner = _partner_person(request)
    form = PolicyForm(request.POST)
    if form.is_valid():
        try:
            services.pricing_policy_set(actor=request.user, partner=partner, **form.cleaned_data)
        except ServiceError as error:
            raise PermissionDenied(error.message) from error
        messages.success(request, _("Guardrails saved."))
    return redirect("pricing_rules")


@login_required
def price_list_list(request):
    partner = _partner_person(request)
    customers = account_selectors.organisations_visible_to(request.user).filter(
        kind=OrganisationKind.CUSTOMER
    )
    form = PriceListForm(request.POST or None, customers=customers)
    if request.method == "POST" and form.is_valid():
        price_list = run_service(
            form,
            lambda: services.price_list_create(
                actor=request.user, partner=partner, **form.cleaned_data
            ),
        )
        if price_list:
            return redirect("pricing_price_list", pk=price_list.pk)
    return render(
        request,
        "pricing/price_list_list.html",
        {
            "lists": selectors.price_lists_visible_to(request.user),
            "form": form,
            "can_manage": permissions.can_manage_prices(request.user, partner),
            "nav_active": "pricing",
        },
    )


@login_required
def price_list_detail(request, pk: int):
    price_list = selectors.get_price_list_for_user(request.user, pk)
    today = clock.today()
    can_manage = permissions.can_manage_prices(request.user, price_list.organisation)
    entries = selectors.current_entries(price_list, today)
    if request.GET.get("export") == "csv":
        response = HttpResponse(content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="price-list-{price_list.pk}.csv"'
        writer = csv.writer(response)
        writer.writerow([*services.PRICE_LIST_CSV_COLUMNS, "title", "currency"])
        for entry in entries:
            writer.writerow(
                [safe_cell(value) for value in (
                    entry.offer.item_code, entry.term, entry.billing_cycle, entry.unit_price,
                    entry.effective_from, entry.offer.title, price_list.currency,
                )]
            )  # fmt: skip
        return response
    offers = catalog_selectors.offers_visible_to(request.user)
    entry_form = EntryForm(
        request.POST if request.POST.get("form") == "entry" else None, offers=offers
    )
    file_form = PriceFileForm(
        request.POST if request.POST.get("form") == "file" else None, request.FILES or None
    )
    preview = None
    if request.method == "POST":
        if not can_manage:
            raise PermissionDenied
        if request.POST.get("form") == "entry" and entry_form.is_valid():
            saved = run_service(
                entry_form,
                lambda: services.price_list_entry_set(
                    actor=request.user, price_list=price_list, **entry_form.cleaned_data
                ),
            )
            if saved:
                messages.success(request, _("Price saved."))
                return redirect("pricing_price_list", pk=price_list.pk)
        elif request.POST.get("form") == "file" and file_form.is_valid():
            text = file_form.content()
            try:
                preview = services.price_list_csv_preview(
                    actor=request.user, price_list=price_list, text=text
                )
            except ServiceError as error:
                file_form.add_error(None, error.message)
            if preview and request.POST.get("confirm") and not any(line.errors for line in preview):
                count = run_service(
                    file_form,
                    lambda: services.price_list_csv_import(
                        actor=request.user, price_list=price_list, text=text
                    ),
                )
                if count:
                    messages.success(request, _("%(count)s prices imported.") % {"count": count})
                    return redirect("pricing_price_list", pk=price_list.pk)
            file_form = PriceFileForm(initial={"text": text}) if preview is not None else file_form
    return render(
        request,
        "pricing/price_list_detail.html",
        {
            "price_list": price_list,
            "entries": entries,
            "scheduled": selectors.scheduled_entries(price_list, today).select_related("offer"),
            "entry_form": entry_form,
            "file_form": file_form,
            "preview": preview,
            "preview_valid": preview is not None and not any(line.errors for line in preview),
            "columns": services.PRICE_LIST_CSV_COLUMNS,
            "can_manage": can_manage,
            "nav_active": "pricing",
        },
    )


@login_required
def rate_list(request):
    partner = _partner_person(request)
    is_file = request.POST.get("form") == "file"
    form = RateForm(None if is_file else (request.POST or None))
    file_form = PriceFileForm(request.POST if is_file else None, request.FILES or None)
    if is_file and file_form.is_valid():
        count = run_service(
            file_form,
            lambda: services.exchange_rates_csv_import(
                actor=request.user, partner=partner, text=file_form.content()
            ),
        )
        if count:
            messages.success(request, _("%(count)s rates imported.") % {"count": count})
            return redirect("pricing_rates")
    if request.method == "POST" and not is_file and form.is_valid():
        rate = run_service(
            form,
            lambda: services.exchange_rate_set(
                actor=request.user, partner=partner, **form.cleaned_data
            ),
        )
        if rate:
            messages.success(request, _("Rate saved."))
            return redirect("pricing_rates")
    return render(
        request,
        "pricing/rate_list.html",
        {
            "rates": selectors.exchange_rates_visible_to(request.user)[:200],
            "form": form,
            "file_form": file_form,
            "columns": services.RATE_CSV_COLUMNS,
            "can_manage": permissions.can_manage_prices(request.user, partner),
            "nav_active": "pricing",
        },
    )


@login_required
def price_sheet_list(request):
    """The vendor's price sheets imported so far, and the upload of one by hand (the same file
    Partner Center offers for download): partner staff only, uploads by its cloud admins."""
    partner = _partner_person(request)
    vendors = selectors.price_sheet_vendors_for(request.user)
    can_manage = permissions.can_manage_prices(request.user, partner)
    form = PriceSheetForm(request.POST or None, request.FILES or None, vendors=vendors)
    if request.method == "POST":
        if not can_manage:
            raise PermissionDenied(_("Only the partner's cloud admins import vendor prices."))
        if form.is_valid():
            upload = form.cleaned_data["file"]
            run = run_service(
                form,
                lambda: price_sheet_import(
                    actor=request.user,
                    vendor=form.cleaned_data["vendor"],
                    source=upload.file,
                    origin=PriceSheetOrigin.UPLOAD,
                    file_name=upload.name,
                ),
            )
            if run:
                messages.success(request, _("Price sheet imported."))
                return redirect("pricing_price_sheet", pk=run.pk)
    return render(
        request,
        "pricing/price_sheet_list.html",
        {
            "imports": selectors.price_sheet_imports_visible_to(request.user)[:100],
            "form": form if vendors else None,
            "can_manage": can_manage,
            "nav_active": "pricing",
        },
    )


@login_required
def price_sheet_detail(request, pk: int):
    run = selectors.get_price_sheet_import_for_user(request.user, pk)
    return render(
        request,
        "pricing/price_sheet_detail.html",
        {"run": run, "nav_active": "pricing"},
    )
