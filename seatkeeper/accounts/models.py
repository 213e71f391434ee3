"""Organisations (partner → resellers → customers), logins with one role each, API tokens."""

from __future__ import annotations

import datetime as dt
import hashlib

from django.contrib.auth.models import AbstractUser, UserManager
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from seatkeeper.core import clock
from seatkeeper.core.models import TimestampedModel
from seatkeeper.core.validators import single_line


class OrganisationKind(models.TextChoices):
    PARTNER = "partner", _("Partner")
    RESELLER = "reseller", _("Reseller")
    CUSTOMER = "customer", _("Customer")


# Which kind of organisation may sit directly under which: a partner serves resellers and its
# own direct customers; a reseller serves customers; a customer has nobody below it.
ALLOWED_CHILDREN: dict[str, set[str]] = {
    OrganisationKind.PARTNER: {OrganisationKind.RESELLER, OrganisationKind.CUSTOMER},
    OrganisationKind.RESELLER: {OrganisationKind.CUSTOMER},
    OrganisationKind.CUSTOMER: set(),
}


class Language(models.TextChoices):
    ENGLISH = "en", _("English")
    FRENCH = "fr", _("French")


country_code = RegexValidator(r"^[A-Z]{2}$", _("Use the two-letter ISO country code, e.g. FR."))
currency_code = RegexValidator(
    r"^[A-Z]{3}$", _("Use the three-letter ISO currency code, e.g. EUR.")
)


class Organisation(TimestampedModel):
    kind = models.CharField(_("kind"), max_length=16, choices=OrganisationKind.choices)
    parent = models.ForeignKey(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="children",
        verbose_name=_("parent"),
    )
    # Materialised path "/<root id>/<child id>/.../<own id>/": everything below an organisation
    # is `path__startswith=organisation.path`, one indexed range scan whatever the depth.
    path = models.CharField(max_length=255, db_index=True, editable=False)
    name = models.CharField(_("name"), max_length=200, validators=[single_line])
    legal_name = models.CharField(_("legal name"), max_length=200, validators=[single_line])
    address_line1 = models.CharField(_("address"), max_length=200, validators=[single_line])
    address_line2 = models.CharField(
        _("address (line 2)"), max_length=200, blank=True, validators=[single_line]
    )
    city = models.CharField(_("city"), max_length=100, validators=[single_line])
    postal_code = models.CharField(_("postal code"), max_length=20, validators=[single_line])
    region = models.CharField(
        _("region or state"), max_length=100, blank=True, validators=[single_line]
    )
    country = models.CharField(_("country"), max_length=2, validators=[country_code])
    contact_name = models.CharField(_("contact name"), max_length=200, validators=[single_line])
    contact_email = models.EmailField(_("contact e-mail"))
    contact_phone = models.CharField(
        _("contact phone"), max_length=40, blank=True, validators=[single_line]
    )
    vat_number = models.CharField(
        _("VAT number"), max_length=40, blank=True, validators=[single_line]
    )
    default_language = models.CharField(
        _("default language"), max_length=8, choices=Language.choices, default=Language.ENGLISH
    )
    default_currency = models.CharField(
        _("default currency"), max_length=3, default="EUR", validators=[currency_code]
    )
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("organisation")
        verbose_name_plural = _("organisations")
        constraints = [
            models.CheckConstraint(
                condition=Q(kind=OrganisationKind.PARTNER, parent__isnull=True)
                | Q(~Q(kind=OrganisationKind.PARTNER), parent__isnull=False),
                name="organisation_partner_is_root",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def depth(self) -> int:
        return self.path.strip("/").count("/")

    @property
    def ancestor_ids(self) -> list[int]:
        return [int(part) for part in self.path.strip("/").split("/")[:-1]]

    def is_within(self, other: Organisation) -> bool:
        """True when this organisation is `other` or sits anywhere below it."""
        return self.path.startswith(other.path)


class Role(models.TextChoices):
    CLOUD_ADMIN = "cloud_admin", _("Cloud admin")
    PARTNER_OPERATOR = "partner_operator", _("Partner operator")
    RESELLER_ADMIN = "reseller_admin", _("Reseller admin")
    CUSTOMER_ADMIN = "customer_admin", _("Customer admin")
    READ_ONLY = "read_only", _("Read-only")


# The organisation kinds a role may belong to (DESIGN.md, "Who uses it").
ROLE_KINDS: dict[str, set[str]] = {
    Role.CLOUD_ADMIN: {OrganisationKind.PARTNER},
    Role.PARTNER_OPERATOR: {OrganisationKind.PARTNER},
    Role.RESELLER_ADMIN: {OrganisationKind.RESELLER},
    Role.CUSTOMER_ADMIN: {OrganisationKind.CUSTOMER},
    Role.READ_ONLY: {
        OrganisationKind.PARTNER,
        OrganisationKind.RESELLER,
        OrganisationKind.CUSTOMER,
    },
}


class User(AbstractUser):
    organisation = models.ForeignKey(
        Organisation,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="users",
        verbose_name=_("organisation"),
    )
    role = models.CharField(_("role"), max_length=32, choices=Role.choices, default=Role.READ_ONLY)
    language = models.CharField(
        _("language"),
        max_length=8,
        choices=Language.choices,
        blank=True,
        help_text=_("Empty means the organisation's default language."),
    )
    email = models.EmailField(_("e-mail address"), unique=True)
    first_name = models.CharField(
        _("first name"), max_length=150, blank=True, validators=[single_line]
    )
    last_name = models.CharField(
        _("last name"), max_length=150, blank=True, validators=[single_line]
    )
    # The columns each list shows this person, by list: {"subscriptions": ["provider", ...]}.
    # A list this person never chose shows its default columns.
    table_columns = models.JSONField(_("columns shown in lists"), default=dict, blank=True)

    objects = UserManager()

    class Meta:
        ordering = ["username"]
        verbose_name = _("user")
        verbose_name_plural = _("users")

    @property
    def preferred_language(self) -> str:
        if self.language:
            return self.language
        if self.organisation_id:
            return self.organisation.default_language
        return Language.ENGLISH


def hash_token(token: str) -> str:
    # Tokens are 256-bit random values, so a fast hash is enough: nothing to brute-force.
    return hashlib.sha256(token.encode()).hexdigest()


class ApiToken(TimestampedModel):
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(_("name"), max_length=100, validators=[single_line])
    prefix = models.CharField(max_length=12, editable=False)
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False)
    expires_at = models.DateTimeField(_("expires"), null=True, blank=True, editable=False)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("API token")
        verbose_name_plural = _("API tokens")

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_expired(self) -> bool:
        return self.expires_at is not None and self.expires_at <= clock.now()

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None and not self.is_expired

    def touch(self) -> None:
        moment = clock.now()
        # Conditional update: at most one write per minute per token, whatever the request rate.
        if self.last_used_at is None or (moment - self.last_used_at).total_seconds() > 60:
            ApiToken.objects.filter(pk=self.pk).update(last_used_at=moment)


class Invitation(TimestampedModel):
    """A person asked to join an organisation. The login is created only when they accept,
    so an invitation looks the same whether or not the address already has a login somewhere
    the inviter cannot see (it then never becomes one: one address, one login)."""

    organisation = models.ForeignKey(
        Organisation, on_delete=models.PROTECT, related_name="invitations"
    )
    email = models.EmailField(_("e-mail address"))
    first_name = models.CharField(_("first name"), max_length=150, validators=[single_line])
    last_name = models.CharField(_("last name"), max_length=150, validators=[single_line])
    role = models.CharField(_("role"), max_length=32, choices=Role.choices)
    language = models.CharField(_("language"), max_length=8, choices=Language.choices, blank=True)
    invited_by = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    accepted_at = models.DateTimeField(_("accepted"), null=True, blank=True)
    user = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("invitation")
        verbose_name_plural = _("invitations")

    def __str__(self) -> str:
        return self.email

    @property
    def expires_at(self):
        from django.conf import settings

        return self.created_at + dt.timedelta(seconds=settings.PASSWORD_RESET_TIMEOUT)

    @property
    def is_open(self) -> bool:
        return self.accepted_at is None and clock.now() < self.expires_at

    @property
    def preferred_language(self) -> str:
        return self.language or self.organisation.default_language
