"""Forms of the provider account pages; the services validate and report per field."""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from seatkeeper.providers.models import (
    MICROSOFT_API_BASE_URL,
    MICROSOFT_AUTHORITY_HOST,
    MICROSOFT_GRAPH_BASE_URL,
)


def local_sandbox() -> dict[str, Any] | None:
    """The Partner Center sandbox started beside this Seatkeeper (`./dev run`), if any: its
    sandbox.json, whose hosts and CA the registration form then proposes."""
    path = settings.VAR_DIR / "sandbox" / "sandbox.json"
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(info, dict) or not info.get("base_url"):
        return None
    return info


def registration_initial() -> dict[str, str]:
    sandbox = local_sandbox()
    if sandbox is None:
        return {
            "authority_url": MICROSOFT_AUTHORITY_HOST,
            "api_base_url": MICROSOFT_API_BASE_URL,
            "graph_base_url": MICROSOFT_GRAPH_BASE_URL,
        }
    return {
        "authority_url": sandbox["base_url"],
        "api_base_url": sandbox["base_url"],
        "graph_base_url": sandbox.get("graph_base_url") or sandbox["base_url"],
        "ca_bundle_path": str(sandbox.get("ca_cert") or ""),
    }


class AccountForm(forms.Form):
    name = forms.CharField(
        label=_("Account name"),
        max_length=200,
        help_text=_("The name the partner is known by in Seatkeeper."),
    )
    partner_tenant_id = forms.CharField(
        label=_("Account id"),
        max_length=64,
        help_text=_(
            "The partner's tenant id at Microsoft (Partner Center: Account settings, "
            "Organization profile, Microsoft ID)."
        ),
    )
    application_id = forms.CharField(
        label=_("Application id"),
        max_length=64,
        help_text=_("The application (client) id of the partner's Secure Application Model app."),
    )
    application_secret = forms.CharField(
        label=_("Application secret"),
        max_length=1000,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
        help_text=_("A client secret of that app. Stored encrypted; never shown again."),
    )
    authority_url = forms.CharField(
        label=_("Authority host"),
        max_length=200,
        help_text=_(
            "Where partner agents sign in; Microsoft's is https://login.microsoftonline.com."
        ),
    )
    api_base_url = forms.CharField(
        label=_("API host"),
        max_length=200,
        help_text=_(
            "Partner Center's REST API; Microsoft's is https://api.partnercenter.microsoft.com."
        ),
    )
    graph_base_url = forms.CharField(
        label=_("Microsoft Graph host"),
        max_length=200,
        required=False,
        initial=MICROSOFT_GRAPH_BASE_URL,
        help_text=_(
            "Where the billing reconciliation exports are asked for; Microsoft's is "
            "https://graph.microsoft.com."
        ),
    )
    ca_bundle_path = forms.CharField(
        label=_("Extra CA bundle"),
        max_length=500,
        required=False,
        help_text=_(
            "Path on the server of a PEM file of certificate authorities to trust as well (a "
            "corporate proxy's, the sandbox's). Leave empty for Microsoft."
        ),
    )

    def clean_graph_base_url(self) -> str | None:
        # Left empty: Microsoft's (an account that never heard of Graph keeps working).
        return self.cleaned_data["graph_base_url"].strip() or MICROSOFT_GRAPH_BASE_URL


class AccountEditForm(AccountForm):
    """The tenant is what the account is: it does not change. The secret is only replaced."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        del self.fields["partner_tenant_id"]
        secret = self.fields["application_secret"]
        secret.required = False
        secret.help_text = _("Leave empty to keep the current secret.")

    def clean_graph_base_url(self) -> str | None:
        return self.cleaned_data["graph_base_url"].strip() or None  # empty: as it is
