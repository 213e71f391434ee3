"""Forms for the subscription pages. They validate shapes only; rules live in the services."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from seatkeeper.catalog.models import BillingCycle, Term
from seatkeeper.core.validation import DATE_BOUNDS, MAX_ID, MAX_QUANTITY, clean_query
from seatkeeper.pricing.models import Method
from seatkeeper.subscriptions.models import RenewalOption, Section

# "failed" is not a status: it is a subscription whose provisioning failed.
STATUS_FILTERS = [
    ("active", _("Active")),
    ("suspended", _("Suspended")),
    ("expired", _("Expired")),
    ("cancelled", _("Cancelled")),
    ("pending", _("Pending")),
    ("failed", _("Failed")),
]


class SubscriptionFilterForm(forms.Form):
    """The filters of the subscription pages, their exports and the API (one definition)."""

    status = forms.ChoiceField(choices=[("", ""), *STATUS_FILTERS], required=False)
    section = forms.ChoiceField(choices=[("", ""), *Section.choices], required=False)
    q = forms.CharField(max_length=200, required=False)
    customer = forms.IntegerField(min_value=1, max_value=MAX_ID, required=False)
    # The dashboard's figures link here: active subscriptions whose term ends within so many
    # days, and those with seats whose cancellation window closes within so many hours.
    renews_within = forms.IntegerField(min_value=1, max_value=366, required=False)
    cancellable_within = forms.IntegerField(min_value=1, max_value=24 * 31, required=False)


def subscription_filters(params) -> dict:
    """The filters of selectors.filter_subscriptions from a query string; InvalidQuery (400)
    naming the field when a value is unknown."""
    values = clean_query(SubscriptionFilterForm, params)
    values["text"] = values.pop("q")
    values.pop("customer")  # the page takes it from its path, the API looks it up itself
    return values


class VersionedForm(forms.Form):
    # The version the person saw: a change made meanwhile by someone else is a conflict.
    version = forms.IntegerField(widget=forms.HiddenInput, min_value=1)


class QuantityForm(VersionedForm):
    quantity = forms.IntegerField(
        label=_("Total new quantity"), min_value=1, max_value=MAX_QUANTITY
    )


class ConfirmForm(VersionedForm):
    pass


class RenewalForm(VersionedForm):
    renewal_option = forms.ChoiceField(label=_("Renewal"), choices=RenewalOption.choices)


class ScheduleForm(VersionedForm):
    renewal_quantity = forms.IntegerField(
        label=_("Quantity at renewal"),
        min_value=1,
        max_value=MAX_QUANTITY,
        required=False,
        help_text=_("Leave empty to keep the current quantity."),
    )
    renewal_term_cycle = forms.ChoiceField(
        label=_("Term and billing cycle at renewal"), required=False
    )

    def __init__(self, *args, term_choices: list[tuple[str, str]], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["renewal_term_cycle"].choices = [("", _("Unchanged")), *term_choices]


class MarginOverrideMixin(forms.Form):
    margin_method = forms.ChoiceField(
        label=_("Set custom price margin"),
        required=False,
        choices=[
            ("", _("Default (customer level)")),
            (Method.MARKUP_ON_COST, Method.MARKUP_ON_COST.label),
            (Method.MARGIN, Method.MARGIN.label),
        ],
        help_text=_(
            "Only use this if you want to override the default margin configured at the "
            "customer level."
        ),
    )
    margin_value = forms.DecimalField(
        label=_("Margin %"), required=False, max_digits=7, decimal_places=2
    )

    def clean(self):
        data = super().clean()
        if data.get("margin_method") and data.get("margin_value") is None:
            self.add_error("margin_value", _("Give the percentage."))
        return data


class EditForm(VersionedForm, MarginOverrideMixin):
    friendly_name = forms.CharField(label=_("Friendly name"), max_length=200)
    po_number = forms.CharField(label=_("PO number"), max_length=100, required=False)
    external_identifier = forms.CharField(
        label=_("Subscription external identifier"), max_length=100, required=False
    )

    def __init__(self, *args, margin: bool, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if not margin:
            del self.fields["margin_method"]
            del self.fields["margin_value"]


class OrderLineForm(forms.Form):
    offer = forms.IntegerField(widget=forms.HiddenInput)
    term_cycle = forms.ChoiceField(label=_("Term and billing cycle"))
    quantity = forms.IntegerField(label=_("Quantity"), min_value=1, max_value=MAX_QUANTITY)
    friendly_name = forms.CharField(label=_("Friendly name"), max_length=200, required=False)

    def __init__(self, *args, term_choices: list[tuple[str, str]], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["term_cycle"].choices = term_choices


class AddonForm(OrderLineForm, MarginOverrideMixin):
    offer = forms.TypedChoiceField(label=_("Selected offer"), coerce=int)

    def __init__(self, *args, offer_choices: list[tuple[int, str]], margin: bool, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["offer"].choices = offer_choices
        if not margin:
            del self.fields["margin_method"]
            del self.fields["margin_value"]


class StoreForm(OrderLineForm):
    po_number = forms.CharField(label=_("Purchase order number"), max_length=100, required=False)
    start_date = forms.DateField(
        label=_("Start date"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text=_("Leave empty to start today."),
        validators=DATE_BOUNDS,
    )


class RightsForm(forms.Form):
    can_order = forms.BooleanField(label=_("Order new subscriptions"), required=False)
    can_increase = forms.BooleanField(label=_("Increase quantities"), required=False)
    can_decrease = forms.BooleanField(label=_("Decrease quantities and cancel"), required=False)
    monthly_only = forms.BooleanField(
        label=_("Monthly licences only"),
        required=False,
        help_text=_("The rights above then apply to monthly-term subscriptions only."),
    )
    can_change_renewal = forms.BooleanField(label=_("Change renewal settings"), required=False)


class FulfilForm(forms.Form):
    vendor_reference = forms.CharField(label=_("Vendor reference"), max_length=100, required=False)


class RejectForm(forms.Form):
    reason = forms.CharField(label=_("Reason"), max_length=500)


def term_cycle_value(term: str, billing_cycle: str) -> str:
    return f"{term}|{billing_cycle}"


def split_term_cycle(value: str) -> tuple[str, str]:
    term, _sep, cycle = value.partition("|")
    return term, cycle


def term_cycle_label(term: str, billing_cycle: str) -> str:
    term_label = Term(term).label if term in Term.values else term
    cycle_label = BillingCycle(billing_cycle).label if billing_cycle in BillingCycle.values else ""
    return f"{term_label} · {cycle_label or billing_cycle}"
