from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from seatkeeper.accounts.models import Language, Organisation, OrganisationKind, Role, User
from seatkeeper.accounts.services import ORGANISATION_FIELDS


class OrganisationForm(forms.ModelForm):
    class Meta:
        model = Organisation
        fields = [field for field in ORGANISATION_FIELDS if field != "is_active"]
        widgets = {"country": forms.TextInput(attrs={"maxlength": 2, "size": 3})}

    def clean_country(self) -> str:
        return self.cleaned_data["country"].strip().upper()

    def clean_default_currency(self) -> str:
        return self.cleaned_data["default_currency"].strip().upper()


class OrganisationEditForm(OrganisationForm):
    class Meta(OrganisationForm.Meta):
        fields = list(ORGANISATION_FIELDS)


class ChildKindForm(forms.Form):
    kind = forms.ChoiceField(
        choices=[
            (OrganisationKind.RESELLER, _("Reseller")),
            (OrganisationKind.CUSTOMER, _("Customer")),
        ]
    )


class InviteForm(forms.Form):
    email = forms.EmailField(label=_("E-mail address"))
    first_name = forms.CharField(label=_("First name"), max_length=150)
    last_name = forms.CharField(label=_("Last name"), max_length=150)
    role = forms.ChoiceField(label=_("Role"), choices=Role.choices)
    language = forms.ChoiceField(
        label=_("Language"),
        choices=[("", _("Organisation default")), *Language.choices],
        required=False,
    )

    def __init__(self, *args, roles: list[str], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["role"].choices = [
            (value, label) for value, label in Role.choices if value in roles
        ]


class UserEditForm(forms.ModelForm):
    class Meta:
        model = User
        fields = ["first_name", "last_name", "role", "language", "is_active"]

    def __init__(self, *args, roles: list[str], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["role"].choices = [
            (value, label) for value, label in Role.choices if value in roles
        ]


class LanguageForm(forms.Form):
    language = forms.ChoiceField(
        label=_("Language"),
        choices=[("", _("Organisation default")), *Language.choices],
        required=False,
    )


class ApiTokenForm(forms.Form):
    name = forms.CharField(label=_("Token name"), max_length=100)
