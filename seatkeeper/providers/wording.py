"""How changes to provider accounts read in the activity log."""

from __future__ import annotations

from django.utils.translation import gettext_lazy, gettext_noop

from seatkeeper.activity.wording import ActionWording, FieldWording, said

ACTIONS = {
    "provider_account.register": ActionWording(
        gettext_lazy("Provider account registered"),
        said(gettext_noop("%(actor)s registered the provider account %(object)s.")),
    ),
    "provider_account.update": ActionWording(
        gettext_lazy("Provider account edited"),
        said(gettext_noop("%(actor)s edited the provider account %(object)s.")),
    ),
    "provider_account.consent": ActionWording(
        gettext_lazy("Consent granted"),
        said(gettext_noop("%(actor)s granted consent for %(object)s.")),
    ),
    "provider_account.consent_lost": ActionWording(
        gettext_lazy("Consent refused by the vendor"),
        said(gettext_noop("The vendor refused the consent of %(object)s.")),
    ),
    "provider_account.outage": ActionWording(
        gettext_lazy("Provisioning paused: the vendor is not answering"),
        said(
            gettext_noop(
                "The vendor stopped answering for %(object)s; provisioning is paused until it "
                "answers again."
            )
        ),
    ),
    "provider_account.outage_over": ActionWording(
        gettext_lazy("Provisioning resumed: the vendor answers again"),
        said(gettext_noop("The vendor answers again for %(object)s; provisioning resumed.")),
    ),
}

FIELDS = {
    "partner_tenant_id": FieldWording(gettext_lazy("partner tenant id")),
    "application_id": FieldWording(gettext_lazy("application id")),
    "authority_url": FieldWording(gettext_lazy("sign-in address")),
    "api_base_url": FieldWording(gettext_lazy("API address")),
    "secret_changed": FieldWording(gettext_lazy("secret changed")),
    "consent_dropped": FieldWording(gettext_lazy("consent to be granted again")),
    "consented_by": FieldWording(gettext_lazy("consented by")),
    "error": FieldWording(gettext_lazy("error")),
    "description": FieldWording(gettext_lazy("description")),
    "since": FieldWording(gettext_lazy("unreachable since")),
}
