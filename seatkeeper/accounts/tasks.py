"""Background work of the accounts domain: invitation mail."""

from __future__ import annotations

from django.conf import settings
from django.core import signing
from django.core.mail import send_mail
from django.tasks import task
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import translation

from seatkeeper.accounts.models import Invitation, User

INVITATION_SALT = "seatkeeper.accounts.invitation"


def invitation_token(invitation: Invitation) -> str:
    return signing.dumps(invitation.pk, salt=INVITATION_SALT)


def invitation_from_token(token: str) -> Invitation | None:
    """The invitation a link names, whether or not it is still open; None for a forged one."""
    try:
        pk = signing.loads(token, salt=INVITATION_SALT)
    except signing.BadSignature:
        return None
    return Invitation.objects.select_related("organisation").filter(pk=pk).first()


def invitation_link(invitation: Invitation) -> str:
    path = reverse("invitation_accept", args=[invitation_token(invitation)])
    return settings.SITE_URL.rstrip("/") + path


@task()
def send_invitation(invitation_id: int) -> None:
    """The link to choose a password; or, when the address has a login by now, a notice that
    one address holds one login (the inviter is never told which of the two went out)."""
    invitation = Invitation.objects.select_related("organisation", "invited_by").get(
        pk=invitation_id
    )
    existing = User.objects.filter(email__iexact=invitation.email).first()
    language = existing.preferred_language if existing else invitation.preferred_language
    with translation.override(language):
        context = {
            "invitation": invitation,
            "inviter": invitation.invited_by,
            "organisation": invitation.organisation,
        }
        if existing is None:
            context["link"] = invitation_link(invitation)
            template = "accounts/email/invitation"
        else:
            template = "accounts/email/invitation_existing_login"
        subject = render_to_string(f"{template}_subject.txt", context).strip()
        body = render_to_string(f"{template}.txt", context)
    send_mail(subject, body, None, [invitation.email])
