"""Every write to organisations, logins and API tokens.

Each function checks the actor's rights, validates, saves and appends to the activity log in one
transaction; follow-up mail is enqueued only once that transaction has committed.
"""

from __future__ import annotations

import datetime as dt
import secrets
from functools import partial
from typing import Any

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from seatkeeper.accounts import permissions, selectors
from seatkeeper.accounts.models import (
    ROLE_KINDS,
    ApiToken,
    Invitation,
    Language,
    Organisation,
    OrganisationKind,
    Role,
    User,
    hash_token,
)
from seatkeeper.activity.services import activity_record, diff
from seatkeeper.core import clock
from seatkeeper.core.errors import PermissionRefused, ServiceError

ORGANISATION_FIELDS = (
    "name",
    "legal_name",
    "address_line1",
    "address_line2",
    "city",
    "postal_code",
    "region",
    "country",
    "contact_name",
    "contact_email",
    "contact_phone",
    "vat_number",
    "default_language",
    "default_currency",
    "is_active",
)


def _normalise_organisation_values(values: dict[str, Any]) -> dict[str, Any]:
    unknown = set(values) - set(ORGANISATION_FIELDS)
    if unknown:
        raise ValidationError({field: _("Unknown field.") for field in sorted(unknown)})
    cleaned = {
        key: value.strip() if isinstance(value, str) else value for key, value in values.items()
    }
    for field in ("country", "default_currency"):
        if isinstance(cleaned.get(field), str):
            cleaned[field] = cleaned[field].upper()
    return cleaned


@transaction.atomic
def organisation_create(
    *, actor: User | None, parent: Organisation | None, kind: str, **values: Any
) -> Organisation:
    """Create a reseller or customer below `parent`.

    A partner (no parent) is created only by the system (`actor=None`: the demo loader, an
    operator's command) or a superuser.
    """
    values = _normalise_organisation_values(values)
    if parent is None:
        if kind != OrganisationKind.PARTNER:
            raise ValidationError({"parent": _("Resellers and customers need a parent.")})
        if actor is not None and not actor.is_superuser:
            raise PermissionRefused(_("Only an operator can create a partner."))
    elif actor is None:
        pass  # the system acts for the operator
    elif not permissions.can_create_organisation(actor, parent, kind):
        raise PermissionRefused(_("You may not create this kind of organisation here."))
    organisation = Organisation(kind=kind, parent=parent, **values)
    organisation.path = "/pending/"
    organisation.full_clean()
    organisation.save()
    # The path needs the new id, so it is set in a second write within the same transaction.
    organisation.path = f"{parent.path if parent else '/'}{organisation.pk}/"
    organisation.save(update_fields=["path"])
    activity_record(
        actor=actor,
        organisation=organisation,
        obj=organisation,
        operation="organisation.create",
        details={"kind": kind, "parent": str(parent) if parent else None},
    )
    return organisation


@transaction.atomic
def organisation_update(*, actor: User, organisation: Organisation, **values: Any) -> Organisation:
    values = _normalise_organisation_values(values)
    if not permissions.can_change_organisation(actor, organisation):
        raise PermissionRefused(_("You may not change this organisation."))
    organisation = Organisation.objects.select_for_update().get(pk=organisation.pk)
    changes = diff(organisation, values)
    if not changes:
        return organisation
    if permissions.COMMERCIAL_FIELDS & set(changes) and not (
        permissions.can_change_commercial_settings(actor, organisation)
    ):
        raise PermissionRefused(
            _(
                "Only the staff of the organisation above it may activate or deactivate this "
                "organisation or change its currency."
            )
        )
    for field, value in values.items():
        setattr(organisation, field, value)
    organisation.updated_at = clock.now()
    organisation.full_clean()
    organisation.save(update_fields=[*changes, "updated_at"])
    activity_record(
        actor=actor,
        organisation=organisation,
        obj=organisation,
        operation="organisation.update",
        changes=changes,
    )
    return organisation


def _check_role(actor: User, organisation: Organisation, role: str) -> None:
    if role not in Role.values:
        raise ValidationError({"role": _("Unknown role.")})
    if organisation.kind not in ROLE_KINDS[role]:
        raise ValidationError({"role": _("This role does not exist in this kind of organisation.")})
    if role not in permissions.assignable_roles(actor, organisation):
        raise PermissionRefused(_("You may not give this role."))


@transaction.atomic
def user_create(
    *,
    actor: User | None,
    organisation: Organisation,
    username: str,
    email: str,
    password: str,
    role: str,
    first_name: str = "",
    last_name: str = "",
    language: str = "",
) -> User:
    """Create a login with a password chosen by an operator (`actor=None`: the system)."""
    if actor is not None:
        if not permissions.can_manage_users(actor, organisation):
            raise PermissionRefused(_("You may not add logins to this organisation."))
        _check_role(actor, organisation, role)
    elif organisation.kind not in ROLE_KINDS.get(role, set()):
        raise ValidationError({"role": _("This role does not exist in this kind of organisation.")})
    user = User(
        username=username,
        email=email.strip().lower(),
        first_name=first_name,
        last_name=last_name,
        organisation=organisation,
        role=role,
        language=language,
    )
    validate_password(password, user)
    user.set_password(password)
    user.full_clean()
    user.save()
    activity_record(
        actor=actor,
        organisation=organisation,
        obj=user,
        operation="user.create",
        details={"role": role},
    )
    return user


@transaction.atomic
def user_invite(
    *,
    actor: User,
    organisation: Organisation,
    email: str,
    first_name: str,
    last_name: str,
    role: str,
    language: str = "",
) -> Invitation:
    """Invite a person into `organisation`: they choose a password through an e-mailed link,
    and only then does their login exist.

    An address that already has a login in the inviter's own tree is refused (they can see
    it anyway). Anywhere else, the invitation goes ahead exactly as for a new address, so it
    reveals nothing; that address then gets a notice instead of a link."""
    if not permissions.can_manage_users(actor, organisation):
        raise PermissionRefused(_("You may not invite people into this organisation."))
    _check_role(actor, organisation, role)
    email = email.strip().lower()
    if selectors.users_visible_to(actor).filter(email__iexact=email).exists():
        raise ValidationError({"email": _("A login with this e-mail address already exists.")})
    invitation = Invitation(
        organisation=organisation,
        email=email,
        first_name=first_name.strip(),
        last_name=last_name.strip(),
        role=role,
        language=language,
        invited_by=actor,
    )
    invitation.full_clean()
    invitation.save()
    activity_record(
        actor=actor,
        organisation=organisation,
        obj=invitation,
        operation="user.invite",
        details={"email": email, "role": role},
    )
    from seatkeeper.accounts.tasks import send_invitation

    transaction.on_commit(partial(send_invitation.enqueue, invitation_id=invitation.pk))
    return invitation


@transaction.atomic
def invitation_accept(*, invitation: Invitation, password: str) -> User:
    """Create the invited person's login with the password they chose.

    Refused when the invitation was used or has expired, when the address has a login by
    now, or when the inviter may no longer give that role there (rights are checked as of
    today, not as of the invitation)."""
    invitation = (
        Invitation.objects.select_for_update(of=("self",))
        .select_related("organisation", "invited_by")
        .get(pk=invitation.pk)
    )
    if not invitation.is_open:
        raise ServiceError(_("This invitation was used already or it has expired."))
    if User.objects.filter(email__iexact=invitation.email).exists():
        raise ServiceError(
            _("This address already has a login: sign in with it or reset its password.")
        )
    inviter, organisation = invitation.invited_by, invitation.organisation
    if (
        inviter is None
        or not permissions.can_sign_in(inviter)
        or invitation.role not in permissions.assignable_roles(inviter, organisation)
        or not selectors.organisation_in_service(organisation)
    ):
        raise ServiceError(_("This invitation is no longer valid. Ask for a new one."))
    user = User(
        username=invitation.email,
        email=invitation.email,
        first_name=invitation.first_name,
        last_name=invitation.last_name,
        organisation=organisation,
        role=invitation.role,
        language=invitation.language,
    )
    validate_password(password, user)
    user.set_password(password)
    user.full_clean()
    user.save()
    invitation.accepted_at = clock.now()
    invitation.user = user
    invitation.save(update_fields=["accepted_at", "user"])
    activity_record(
        actor=None,
        organisation=organisation,
        obj=user,
        operation="user.invitation_accept",
        details={"invitation": invitation.pk, "role": invitation.role},
        actor_name=user.get_username(),
    )
    return user


@transaction.atomic
def user_update(*, actor: User, user: User, **values: Any) -> User:
    """Change a login's names, role, language or whether it may sign in."""
    allowed = {"first_name", "last_name", "role", "language", "is_active"}
    unknown = set(values) - allowed
    if unknown:
        raise ValidationError({field: _("Unknown field.") for field in sorted(unknown)})
    if user.pk == actor.pk and ("role" in values or values.get("is_active") is False):
        raise PermissionRefused(_("You cannot change your own role or deactivate yourself."))
    if not permissions.can_manage_users(actor, user.organisation):
        raise PermissionRefused(_("You may not change this login."))
    if user.role not in permissions.assignable_roles(actor, user.organisation):
        raise PermissionRefused(_("You may not change a login with a role above yours."))
    if "role" in values:
        _check_role(actor, user.organisation, values["role"])
    if values.get("language") not in (None, "", *Language.values):
        raise ValidationError({"language": _("Unknown language.")})
    user = User.objects.select_for_update().get(pk=user.pk)
    changes = diff(user, values)
    if not changes:
        return user
    for field, value in values.items():
        setattr(user, field, value)
    user.full_clean()
    user.save(update_fields=list(changes))
    activity_record(
        actor=actor,
        organisation=user.organisation,
        obj=user,
        operation="user.update",
        changes=changes,
    )
    return user


def user_set_table_columns(
    *, actor: User, table: str, columns: list[str] | None, allowed: list[str]
) -> User:
    """The columns a list shows `actor`, in the list's own order (None: back to the list's
    defaults); the first column is always shown, it names the row. A personal display choice,
    not an activity-log event."""
    if not table or len(table) > 40:
        raise ValidationError({"table": _("Unknown list.")})
    chosen_by_list = dict(actor.table_columns)
    if columns is None:
        chosen_by_list.pop(table, None)
    else:
        unknown = sorted(set(columns) - set(allowed))
        if unknown:
            raise ValidationError(
                {"columns": _("Unknown columns: %(columns)s.") % {"columns": ", ".join(unknown)}}
            )
        chosen_by_list[table] = [key for key in allowed if key in columns or key == allowed[0]]
    actor.table_columns = chosen_by_list
    actor.save(update_fields=["table_columns"])
    return actor


@transaction.atomic
def user_set_language(*, actor: User, language: str) -> User:
    """A person's own UI language ("" = their organisation's default)."""
    if language not in ("", *Language.values):
        raise ValidationError({"language": _("Unknown language.")})
    changes = diff(actor, {"language": language})
    if changes:
        actor.language = language
        actor.save(update_fields=["language"])
        if actor.organisation_id:
            activity_record(
                actor=actor,
                organisation=actor.organisation,
                obj=actor,
                operation="user.language",
                changes=changes,
            )
    return actor


@transaction.atomic
def user_password_changed(*, actor: User | None, user: User, how: str) -> None:
    """Record a password change or reset (Django's views have already saved the new hash) and
    revoke the person's API tokens: whoever learnt the old password may have made one."""
    if user.organisation_id:
        activity_record(
            actor=actor,
            organisation=user.organisation,
            obj=user,
            operation=f"user.password_{how}",
            actor_name=user.get_username(),
        )
    api_tokens_revoke_all(actor=actor, user=user, reason=f"password_{how}")


@transaction.atomic
def user_password_change_locked(*, user: User) -> None:
    """Record that too many wrong old passwords locked the password-change form."""
    if user.organisation_id:
        activity_record(
            actor=user,
            organisation=user.organisation,
            obj=user,
            operation="user.password_change_locked",
        )


@transaction.atomic
def api_tokens_revoke_all(*, actor: User | None, user: User, reason: str) -> int:
    """Revoke every token of `user` still in force; returns how many were."""
    tokens = ApiToken.objects.select_for_update().filter(user=user, revoked_at__isnull=True)
    revoked = sorted(tokens.values_list("pk", flat=True))
    if not revoked:
        return 0
    ApiToken.objects.filter(pk__in=revoked).update(revoked_at=clock.now())
    if user.organisation_id:
        activity_record(
            actor=actor,
            organisation=user.organisation,
            obj=user,
            operation="api_token.revoke_all",
            details={"reason": reason, "tokens": revoked},
            actor_name=None if actor is not None else user.get_username(),
        )
    return len(revoked)


TOKEN_BYTES = 32


@transaction.atomic
def api_token_create(
    *,
    actor: User,
    name: str,
    expires_at: dt.datetime | None = None,
    created_with: ApiToken | None = None,
) -> tuple[ApiToken, str]:
    """A new API token for `actor`, valid until `expires_at` (None: until revoked). The plain
    value is returned once and never stored.

    A token made through the API with another token (`created_with`) never outlives it, so a
    leaked short-lived token cannot mint a lasting one."""
    name = name.strip()
    if not name:
        raise ValidationError({"name": _("Give the token a name, e.g. where it will be used.")})
    if expires_at is not None and expires_at <= clock.now():
        raise ValidationError({"expires_at": _("Choose an expiry in the future.")})
    limit = created_with.expires_at if created_with is not None else None
    if limit is not None and (expires_at is None or expires_at > limit):
        raise ValidationError(
            {
                "expires_at": _(
                    "A token made with another token expires no later than it does (%(moment)s)."
                )
                % {"moment": limit.isoformat()}
            }
        )
    plain = f"sk_{secrets.token_urlsafe(TOKEN_BYTES)}"
    token = ApiToken(
        user=actor,
        name=name,
        prefix=plain[:10],
        token_hash=hash_token(plain),
        expires_at=expires_at,
    )
    token.full_clean()
    token.save()
    if actor.organisation_id:
        activity_record(
            actor=actor,
            organisation=actor.organisation,
            obj=token,
            operation="api_token.create",
            details={"expires_at": expires_at.isoformat() if expires_at else None},
        )
    return token, plain


@transaction.atomic
def api_token_revoke(*, actor: User, token: ApiToken) -> ApiToken:
    if token.user_id != actor.pk:
        raise PermissionRefused(_("You can only revoke your own tokens."))
    token = ApiToken.objects.select_for_update().get(pk=token.pk)
    if token.revoked_at is None:
        token.revoked_at = clock.now()
        token.save(update_fields=["revoked_at"])
        if actor.organisation_id:
            activity_record(
                actor=actor,
                organisation=actor.organisation,
                obj=token,
                operation="api_token.revoke",
            )
    return token
