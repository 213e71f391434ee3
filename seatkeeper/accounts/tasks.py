"""Background work of the accounts domain: invitation mail."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.tokens import default_token_generator
from django.core.mail import send_mail
from django.tasks import task
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import translation
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from seatkeeper.accounts.models import User


def invitation_link(user: User) -> str:
    uid = urlsafe_base64_encode(force_bytes(user.pk))
    token = default_token_generator.make_token(user)
    return settings.SITE_URL.rstrip("/") + reverse("invitation_accept", args=[uid, token])


@task()
def send_invitation(user_id: int, invited_by_id: int) -> None:
    user = User.objects.select_related("organisation").get(pk=user_id)
    inviter = User.objects.filter(pk=invited_by_id).first()
    with translation.override(user.preferred_language):
        context = {"user": user, "inviter": inviter, "link": invitation_link(user)}
        subject = render_to_string("accounts/email/invitation_subject.txt", context).strip()
        body = render_to_string("accounts/email/invitation.txt", context)
    send_mail(subject, body, None, [user.email])
