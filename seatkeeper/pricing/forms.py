from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from seatkeeper.catalog.models import BillingCycle, Term
from seatkeeper.core.validation import (
    AMOUNT_VALIDATORS,
    DATE_BOUNDS,
    MAX_QUANTITY,
    RATE_VALIDATORS,
    RULE_VALUE_VALIDATORS,
)
from seatkeeper.pricing.models import Method, Tier

OPTIONAL = [("", "—")]


class DateInput(forms.DateInput):
    input_type = "date"


class WhatIfForm(forms.Form):
    offer = forms.ModelChoiceField(label=_("Offer"), queryset=None)
    customer = forms.ModelChoiceField(label=_("Customer"), queryset=None)
    term = forms.ChoiceField(label=_("Term"), choices=Term.choices, initial=Term.ONE_YEAR)
    billing_cycle = forms.ChoiceField(
        label=_("Billing cycle"), choices=BillingCycle.choices, initial=BillingCycle.MONTHLY
    )
    quantity = forms.IntegerField(
        label=_("Quantity"), min_value=0, max_value=MAX_QUANTITY, initial=1
    )
    on = forms.DateField(label=_("On"), required=False, widget=DateInput, validators=DATE_BOUNDS)

    def __init__(self, *args, offers=None, customers=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["offer"].queryset = offers
        self.fields["customer"].queryset = customers


class RuleForm(forms.Form):
    tier = forms.ChoiceField(label=_("Price it sets"), choices=Tier.choices)
    target = forms.ModelChoiceField(
        label=_("For"), queryset=None, required=False, empty_label=_("All of them")
    )
    subscription_ref = forms.CharField(label=_("Single subscription id"), required=False)
    vendor = forms.ModelChoiceField(label=_("Vendor"), queryset=None, required=False)
    category = forms.ChoiceField(label=_("Category"), required=False)
    offer = forms.ModelChoiceField(label=_("Offer"), queryset=None, required=False)
    term = forms.ChoiceField(label=_("Term"), choices=OPTIONAL + Term.choices, required=False)
    billing_cycle = forms.ChoiceField(
        label=_("Billing cycle"), choices=OPTIONAL + BillingCycle.choices, required=False
    )
    method = forms.ChoiceField(
        label=_("Method"), choices=[c for c in Method.choices if c[0] != Method.REMOVED]
    )
    value = forms.DecimalField(label=_("Value (% or price)"), validators=RULE_VALUE_VALIDATORS)
    currency = forms.CharField(label=_("Currency (fixed price)"), max_length=3, required=False)
    effective_from = forms.DateField(
        label=_("Effective from"), required=False, widget=DateInput,
        help_text=_("Today if empty. Subscriptions are billed at the price of each period's "
                    "first day, so a change applies from their next billing period."),
    )  # fmt: skip

    def __init__(self, *args, targets=None, vendors=None, offers=None, categories=(), tiers=None,
                 **kwargs):  # fmt: skip
        super().__init__(*args, **kwargs)
        self.fields["target"].queryset = targets
        self.fields["vendor"].queryset = vendors
        self.fields["offer"].queryset = offers
        self.fields["category"].choices = OPTIONAL + [(c, c) for c in categories]
        if tiers is not None:
            self.fields["tier"].choices = [c for c in Tier.choices if c[0] in tiers]


class PriceListForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=200)
    currency = forms.CharField(label=_("Currency"), max_length=3)
    customer = forms.ModelChoiceField(
        label=_("Customer"), queryset=None, required=False, empty_label=_("Global list")
    )

    def __init__(self, *args, customers=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["customer"].queryset = customers


class EntryForm(forms.Form):
    offer = forms.ModelChoiceField(label=_("Offer"), queryset=None)
    term = forms.ChoiceField(label=_("Term"), choices=Term.choices)
    billing_cycle = forms.ChoiceField(label=_("Billing cycle"), choices=BillingCycle.choices)
    unit_price = forms.DecimalField(
        label=_("Customer price per unit per billing period"), validators=AMOUNT_VALIDATORS,
        required=False, help_text=_("Empty removes the offer from the list."),
    )  # fmt: skip
    effective_from = forms.DateField(
        label=_("Effective from"), required=False, widget=DateInput, validators=DATE_BOUNDS
    )

    def __init__(self, *args, offers=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["offer"].queryset = offers


class PriceFileForm(forms.Form):
    file = forms.FileField(label=_("CSV file"), required=False)
    text = forms.CharField(widget=forms.HiddenInput, required=False)

    def content(self) -> str:
        upload = self.cleaned_data.get("file")
        if upload:
            return upload.read().decode("utf-8-sig", errors="replace")
        return self.cleaned_data.get("text") or ""


class RateForm(forms.Form):
    base_currency = forms.CharField(label=_("From"), max_length=3)
    quote_currency = forms.CharField(label=_("To"), max_length=3)
    rate = forms.DecimalField(label=_("1 From ="), validators=RATE_VALIDATORS)
    effective_from = forms.DateField(
        label=_("Effective from"), required=False, widget=DateInput, validators=DATE_BOUNDS
    )


class PolicyForm(forms.Form):
    never_below_cost = forms.BooleanField(label=_("Never below cost"), required=False)
    never_above_list = forms.BooleanField(label=_("Never above vendor list price"), required=False)


# A license-based price sheet is tens of megabytes as a CSV; Django keeps an upload this large in
# a temporary file, and the import reads it line by line.
MAX_PRICE_SHEET_BYTES = 200 * 1024 * 1024


class PriceSheetForm(forms.Form):
    vendor = forms.ModelChoiceField(label=_("Vendor"), queryset=None)
    file = forms.FileField(
        label=_("Price sheet"),
        help_text=_(
            "Microsoft's license-based price sheet (New Commerce), as downloaded from Partner "
            "Center: the CSV file or its zip archive."
        ),
    )

    def __init__(self, *args, vendors, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["vendor"].queryset = vendors
        if len(vendors) == 1:
            self.fields["vendor"].initial = vendors[0].pk

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > MAX_PRICE_SHEET_BYTES:
            raise forms.ValidationError(
                _("The file is larger than %(size)s MB.")
                % {"size": MAX_PRICE_SHEET_BYTES // (1024 * 1024)}
            )
        return upload
