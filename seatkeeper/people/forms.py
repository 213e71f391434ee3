from __future__ import annotations

import datetime as dt

from django import forms
from django.utils.translation import gettext_lazy as _

from seatkeeper.core import clock
from seatkeeper.core.validators import single_line


def _line(label, *, required=True, max_length=200, **extra) -> forms.CharField:
    return forms.CharField(
        label=label, required=required, max_length=max_length, validators=[single_line], **extra
    )


class TenantCreateForm(forms.Form):
    domain = _line(
        _("Domain"),
        max_length=60,
        help_text=_("The tenant's initial domain: <name>.onmicrosoft.com"),
        widget=forms.TextInput(attrs={"autocomplete": "off", "data-domain-check": ""}),
    )
    company_name = _line(_("Company name"), required=False, max_length=256)
    contact_first_name = _line(_("Administrator's first name"), required=False, max_length=50)
    contact_last_name = _line(_("Administrator's last name"), required=False, max_length=50)
    contact_email = forms.EmailField(label=_("Contact e-mail"), required=False)
    contact_phone = _line(_("Phone"), required=False, max_length=40)
    address_line1 = _line(_("Address"), required=False)
    address_line2 = _line(_("Address (continued)"), required=False)
    city = _line(_("City"), required=False, max_length=100)
    postal_code = _line(_("Postal code"), required=False, max_length=20)
    region = _line(_("State or region"), required=False, max_length=100)
    country = _line(_("Country (two letters)"), max_length=2, min_length=2)
    language = _line(_("Language"), max_length=8)
    mca_accepted = forms.BooleanField(
        label=_("The customer accepted the Microsoft Customer Agreement"), required=True
    )
    mca_first_name = _line(_("Accepted by: first name"), max_length=50)
    mca_last_name = _line(_("Accepted by: last name"), max_length=50)
    mca_email = forms.EmailField(label=_("Accepted by: e-mail"))
    mca_accepted_at = forms.DateField(
        label=_("Accepted on"), widget=forms.DateInput(attrs={"type": "date"})
    )

    def clean_country(self) -> str:
        return self.cleaned_data["country"].upper()

    def clean_mca_accepted_at(self) -> dt.date:
        value = self.cleaned_data["mca_accepted_at"]
        if value > clock.today():
            raise forms.ValidationError(_("The agreement cannot be accepted in the future."))
        return value


class TenantLinkForm(forms.Form):
    tenant = _line(
        _("Tenant id or domain"),
        max_length=255,
        help_text=_("Once the customer has accepted the reseller relationship request."),
    )
    mca_accepted = forms.BooleanField(
        label=_("The customer accepted the Microsoft Customer Agreement"), required=False
    )
    mca_first_name = _line(_("Accepted by: first name"), required=False, max_length=50)
    mca_last_name = _line(_("Accepted by: last name"), required=False, max_length=50)
    mca_email = forms.EmailField(label=_("Accepted by: e-mail"), required=False)
    mca_accepted_at = forms.DateField(
        label=_("Accepted on"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )

    def clean(self):
        data = super().clean()
        if data.get("mca_accepted"):
            for name in ("mca_first_name", "mca_last_name", "mca_email", "mca_accepted_at"):
                if not data.get(name):
                    self.add_error(name, _("Say who accepted the agreement, and when."))
        return data
