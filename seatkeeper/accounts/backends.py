"""Password sign-in that also asks whether the person's organisation is still in service."""

from __future__ import annotations

from django.contrib.auth.backends import ModelBackend

from seatkeeper.accounts import permissions
from seatkeeper.accounts.models import User


class OrganisationBackend(ModelBackend):
    """Django's password backend, refusing anybody whose organisation, or one above it, is
    deactivated: at sign-in, and for an existing session at its next request (Django asks the
    backend for the session's user on every request)."""

    def user_can_authenticate(self, user) -> bool:
        return super().user_can_authenticate(user) and permissions.can_sign_in(user)

    def get_user(self, user_id):
        try:
            user = User._default_manager.select_related("organisation").get(pk=user_id)
        except User.DoesNotExist:
            return None
        return user if self.user_can_authenticate(user) else None
