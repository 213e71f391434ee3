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


class DirectoryUserForm(forms.Form):
    """A user of the customer's tenant, new or edited: the names, the user name on one of the
    tenant's domains, the usage location. The rules are the service's (`people.users`)."""

    display_name = _line(_("Display name"), max_length=256)
    first_name = _line(_("First name"), required=False, max_length=64)
    last_name = _line(_("Last name"), required=False, max_length=64)
    alias = _line(
        _("User name"),
        max_length=64,
        widget=forms.TextInput(attrs={"autocomplete": "off", "autocapitalize": "none"}),
    )
    domain = forms.ChoiceField(label=_("Domain"), choices=())
    usage_location = _line(
        _("Usage location"),
        required=False,
        max_length=2,
        help_text=_("Two-letter country code; Microsoft gives no licence without one."),
    )

    def __init__(self, *args, domains: list[str], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["domain"].choices = [(domain, "@" + domain) for domain in domains]

    @property
    def user_name(self) -> str:
        return f"{self.cleaned_data['alias']}@{self.cleaned_data['domain']}"


PASSWORD_CHOICES = [
    ("generate", _("Generate a password and send it through a one-time link")),
    ("type", _("Type the password")),
]


class PasswordChoiceForm(forms.Form):
    """How the new password reaches its user: generated and sent through a one-time link, or
    typed here and checked against the policy as it is typed."""

    password_mode = forms.ChoiceField(
        label=_("Password"), choices=PASSWORD_CHOICES, widget=forms.RadioSelect, initial="generate"
    )
    send_password_to = forms.EmailField(label=_("Send the one-time link to"), required=False)
    password = forms.CharField(
        label=_("Password"),
        required=False,
        max_length=256,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def service_arguments(self) -> dict:
        if self.cleaned_data["password_mode"] == "type":
            return {"password": self.cleaned_data["password"] or "", "send_password_to": ""}
        return {"password": None, "send_password_to": self.cleaned_data["send_password_to"] or ""}
