from __future__ import annotations

import datetime as dt

from django import forms
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from seatkeeper.accounts import permissions
from seatkeeper.accounts.models import Language, Organisation, OrganisationKind, Role, User
from seatkeeper.accounts.services import ORGANISATION_FIELDS
from seatkeeper.core import clock


class SignInForm(AuthenticationForm):
    """Django's sign-in form. Someone whose password is right but whose organisation (or one
    above it) is deactivated is told so; everybody else sees the usual "incorrect" message, so
    only the password's owner learns anything about the account."""

    error_messages = {
        **AuthenticationForm.error_messages,
        "organisation_inactive": _(
            "Your organisation's access to Seatkeeper is suspended. Please contact your provider."
        ),
    }

    def clean(self):
        try:
            return super().clean()
        except ValidationError:
            if self._right_password_of_a_suspended_login():
                raise ValidationError(
                    self.error_messages["organisation_inactive"], code="organisation_inactive"
                ) from None
            raise

    def _right_password_of_a_suspended_login(self) -> bool:
        if getattr(self.request, "axes_locked_out", False):
            return False  # a locked login answers nothing, whatever the password
        username = self.cleaned_data.get("username")
        password = self.cleaned_data.get("password")
        if not username or not password:
            return False
        try:
            user = User._default_manager.get_by_natural_key(username)
        except User.DoesNotExist:
            User().set_password(password)  # the same work as a real check: timing tells nothing
            return False
        return (
            user.check_password(password) and user.is_active and not (permissions.can_sign_in(user))
        )


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

    def __init__(self, *args, commercial: bool, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if not commercial:
            # Decided by the staff above the organisation (permissions.COMMERCIAL_FIELDS).
            for field in permissions.COMMERCIAL_FIELDS:
                self.fields.pop(field, None)


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


TOKEN_LIFETIMES = [
    ("30", _("in 30 days")),
    ("90", _("in 90 days")),
    ("365", _("in a year")),
    ("", _("never (until revoked)")),
]


class ApiTokenForm(forms.Form):
    name = forms.CharField(label=_("Token name"), max_length=100)
    expires_in = forms.ChoiceField(
        label=_("Expires"), choices=TOKEN_LIFETIMES, initial="90", required=False
    )

    def expires_at(self) -> dt.datetime | None:
        days = self.cleaned_data.get("expires_in")
        return clock.now() + dt.timedelta(days=int(days)) if days else None
