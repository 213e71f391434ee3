from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from seatkeeper.catalog.models import BillingCycle, OfferKind, OfferStatus, Term, VendorKind
from seatkeeper.core.validation import AMOUNT_VALIDATORS, MAX_ID, MAX_QUANTITY, clean_query


class OfferFilterForm(forms.Form):
    """The offer filters of the catalog page, its export and the API (one definition)."""

    q = forms.CharField(max_length=200, required=False, strip=True)
    vendor = forms.IntegerField(min_value=1, max_value=MAX_ID, required=False)
    category = forms.CharField(max_length=100, required=False)
    kind = forms.ChoiceField(choices=[("", ""), *OfferKind.choices], required=False)
    term = forms.ChoiceField(choices=[("", ""), *Term.choices], required=False)
    status = forms.ChoiceField(choices=[("", ""), *OfferStatus.choices], required=False)


def offer_filters(params) -> dict:
    """The keyword arguments of selectors.search_offers from a query string; InvalidQuery (400)
    naming the field when a value is unknown or out of bounds."""
    values = clean_query(OfferFilterForm, params)
    values["text"] = values.pop("q")
    return values


class VendorForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=200)
    kind = forms.ChoiceField(label=_("Kind"), choices=VendorKind.choices)
    provider_account = forms.ModelChoiceField(
        label=_("Provider account"), queryset=None, required=False
    )
    country = forms.CharField(label=_("Catalog country"), max_length=2, required=False)
    segment = forms.CharField(label=_("Segment"), max_length=40, required=False)

    def __init__(self, *args, accounts=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["provider_account"].queryset = accounts


class OfferFileForm(forms.Form):
    file = forms.FileField(label=_("CSV file"), required=False)
    text = forms.CharField(widget=forms.HiddenInput, required=False)

    def content(self) -> str:
        upload = self.cleaned_data.get("file")
        if upload:
            return upload.read().decode("utf-8-sig", errors="replace")
        return self.cleaned_data.get("text") or ""


class ManualOfferForm(forms.Form):
    item_code = forms.CharField(label=_("Item code"), max_length=100)
    title = forms.CharField(label=_("Name"), max_length=300)
    kind = forms.ChoiceField(label=_("Kind"), choices=OfferKind.choices)
    category = forms.CharField(label=_("Category"), max_length=100, required=False)
    product_group = forms.CharField(label=_("Product group"), max_length=100, required=False)
    description = forms.CharField(label=_("Description (shown on hover)"), required=False)
    unit_type = forms.CharField(label=_("Unit type"), max_length=40, initial="Licenses")
    minimum_quantity = forms.IntegerField(
        label=_("Minimum quantity"), min_value=0, max_value=MAX_QUANTITY, initial=1
    )
    maximum_quantity = forms.IntegerField(
        label=_("Maximum quantity"), min_value=1, max_value=MAX_QUANTITY, required=False
    )
    attaches_to = forms.CharField(
        label=_("Attaches to (item codes, separated by |)"), required=False
    )
    seats_within_base = forms.BooleanField(
        label=_("Add-on seats at most the base subscription's seats"),
        required=False,
        help_text=_("Tick when the vendor refuses more add-on seats than its base has."),
    )
    term = forms.ChoiceField(label=_("Term"), choices=Term.choices)
    billing_cycle = forms.ChoiceField(label=_("Billing cycle"), choices=BillingCycle.choices)
    currency = forms.CharField(label=_("Currency"), max_length=3, required=False)
    cost = forms.DecimalField(
        label=_("Vendor cost per unit per period"), validators=AMOUNT_VALIDATORS
    )
    list_price = forms.DecimalField(
        label=_("Vendor list price per unit per period"),
        validators=AMOUNT_VALIDATORS,
        required=False,
    )
