"""How changes to organisations, logins and API tokens read in the activity log."""

from __future__ import annotations

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, gettext_noop

from seatkeeper.accounts.models import OrganisationKind, Role
from seatkeeper.activity.wording import ActionWording, Entry, FieldWording, choice_value, said
from seatkeeper.core.formatting import format_datetime

ACTIONS = {
    "organisation.create": ActionWording(
        gettext_lazy("Organisation created"),
        said(gettext_noop("%(actor)s created %(object)s (%(kind)s)."), kind="kind"),
        uses=frozenset({"kind"}),
    ),
    "organisation.update": ActionWording(
        gettext_lazy("Organisation edited"),
        said(gettext_noop("%(actor)s edited the details of %(object)s.")),
    ),
    "user.create": ActionWording(
        gettext_lazy("Login created"),
        said(gettext_noop("%(actor)s created the login %(object)s (%(role)s)."), role="role"),
        uses=frozenset({"role"}),
    ),
    "user.invite": ActionWording(
        gettext_lazy("Person invited"),
        said(gettext_noop("%(actor)s invited %(email)s (%(role)s)."), email="email", role="role"),
        uses=frozenset({"email", "role"}),
    ),
    "user.invitation_accept": ActionWording(
        gettext_lazy("Invitation accepted"),
        said(gettext_noop("%(object)s accepted an invitation (%(role)s)."), role="role"),
        uses=frozenset({"role", "invitation"}),
    ),
    "user.update": ActionWording(
        gettext_lazy("Login edited"),
        said(gettext_noop("%(actor)s edited the login %(object)s.")),
    ),
    "user.language": ActionWording(
        gettext_lazy("Language changed"),
        said(gettext_noop("%(object)s changed their language.")),
    ),
    "user.password_change": ActionWording(
        gettext_lazy("Password changed"),
        said(gettext_noop("%(object)s changed their password.")),
    ),
    "user.password_reset": ActionWording(
        gettext_lazy("Password reset"),
        said(gettext_noop("%(object)s set a new password through a reset link.")),
    ),
    "user.password_change_locked": ActionWording(
        gettext_lazy("Password change locked"),
        said(gettext_noop("Password changes for %(object)s were locked after failed attempts.")),
    ),
    "api_token.create": ActionWording(
        gettext_lazy("API token created"),
        said(gettext_noop("%(actor)s created the API token %(object)s.")),
    ),
    "api_token.revoke": ActionWording(
        gettext_lazy("API token revoked"),
        said(gettext_noop("%(actor)s revoked the API token %(object)s.")),
    ),
    "api_token.revoke_all": ActionWording(
        gettext_lazy("API tokens revoked"),
        said(
            gettext_noop("Every API token of %(object)s was revoked (%(reason)s)."), reason="reason"
        ),
        uses=frozenset({"reason", "tokens"}),
    ),
}


def _reason(raw, entry: Entry) -> str:
    return {
        "password_change": _("password changed"),
        "password_reset": _("password reset"),
    }.get(raw, str(raw))


FIELDS = {
    "kind": FieldWording(gettext_lazy("kind"), choice_value(OrganisationKind)),
    "role": FieldWording(gettext_lazy("role"), choice_value(Role)),
    "email": FieldWording(gettext_lazy("e-mail address")),
    "organisation.parent": FieldWording(gettext_lazy("above it")),
    "invitation": FieldWording(gettext_lazy("invitation"), internal=True),
    "api_token.reason": FieldWording(gettext_lazy("reason"), _reason),
    "user.reason": FieldWording(gettext_lazy("reason"), _reason),
    "tokens": FieldWording(gettext_lazy("tokens"), lambda raw, entry: str(len(raw or []))),
    "expires_at": FieldWording(gettext_lazy("expires"), lambda raw, entry: format_datetime(raw)),
}
