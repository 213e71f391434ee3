"""E-mail about onboardings, to the person who asked, in their own language."""

from __future__ import annotations

from django.conf import settings
from django.core.mail import send_mail
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import translation

from seatkeeper.people.models import TenantOnboarding


def onboarding_failed(*, onboarding_id: int) -> int:
    """Tell the person who asked that Microsoft refused the onboarding, and where to act."""
    onboarding = TenantOnboarding.objects.select_related("customer", "requested_by").get(
        pk=onboarding_id
    )
    person = onboarding.requested_by
    if person is None or not person.is_active or not person.email:
        return 0
    link = settings.SITE_URL.rstrip("/") + reverse("tenant_onboard", args=[onboarding.customer_id])
    context = {"onboarding": onboarding, "user": person, "link": link}
    with translation.override(person.preferred_language):
        subject = render_to_string("people/email/onboarding_failed_subject.txt", context)
        body = render_to_string("people/email/onboarding_failed.txt", context)
    send_mail(subject.strip(), body, None, [person.email])
    return 1
