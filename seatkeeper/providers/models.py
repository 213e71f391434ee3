"""Provider accounts (a partner's registered link to a vendor) and the shared rate-limit buckets."""

from __future__ import annotations

import datetime as dt

from django.db import models
from django.utils.translation import gettext_lazy as _

from seatkeeper.core import clock, crypto
from seatkeeper.core.models import TimestampedModel


class ProviderKind(models.TextChoices):
    MICROSOFT = "microsoft", _("Microsoft Partner Center")


MICROSOFT_AUTHORITY_HOST = "https://login.microsoftonline.com"
MICROSOFT_API_BASE_URL = "https://api.partnercenter.microsoft.com"
# Microsoft serves partner billing exports (reconciliation API v2) on Graph, not on Partner Center.
MICROSOFT_GRAPH_BASE_URL = "https://graph.microsoft.com"
# Microsoft: a refresh token unused for 90 days can no longer be redeemed; each use renews it.
REFRESH_TOKEN_INACTIVITY_LIMIT = dt.timedelta(days=90)


class ConsentStatus(models.TextChoices):
    NOT_GRANTED = "not_granted", _("Not granted")
    GRANTED = "granted", _("Granted")
    # Refused by the authority (expired, revoked) or past 90 days unused: only a new consent helps.
    NEEDED = "needed", _("Consent needed")


class ProviderAccount(TimestampedModel):
    """Credentials and endpoints for one partner at one vendor.

    Secrets are stored encrypted (Fernet, settings.ENCRYPTION_KEY); read them through the
    `application_secret` / `refresh_token` properties, set them with `set_*`.
    """

    organisation = models.ForeignKey(
        "accounts.Organisation",
        on_delete=models.PROTECT,
        related_name="provider_accounts",
        verbose_name=_("partner"),
    )
    kind = models.CharField(_("kind"), max_length=32, choices=ProviderKind.choices)
    name = models.CharField(_("account name"), max_length=200)
    partner_tenant_id = models.CharField(_("partner tenant id"), max_length=64)
    application_id = models.CharField(_("application id"), max_length=64)
    application_secret_encrypted = models.TextField(_("application secret (encrypted)"))
    refresh_token_encrypted = models.TextField(_("consented refresh token (encrypted)"), blank=True)
    refresh_token_updated_at = models.DateTimeField(null=True, blank=True)
    # The login host, to which the partner tenant is appended, or a full authority URL that
    # already names the tenant (`https://host/{tenant}`).
    authority_url = models.URLField(_("authority URL"), default=MICROSOFT_AUTHORITY_HOST)
    api_base_url = models.URLField(_("API base URL"), default=MICROSOFT_API_BASE_URL)
    graph_base_url = models.URLField(
        _("Microsoft Graph base URL"),
        default=MICROSOFT_GRAPH_BASE_URL,
        help_text=_("Where billing reconciliation exports are asked for (Microsoft Graph)."),
    )
    # Extra CAs to trust (the sandbox's, or a corporate proxy's). TLS verification stays on.
    ca_bundle_path = models.CharField(_("CA bundle path"), max_length=500, blank=True)
    is_active = models.BooleanField(_("active"), default=True)
    # The partner's consent (Secure Application Model): who gave it and when, when its refresh
    # token was last redeemed (it lapses after 90 days unused), when the authority refused it.
    consent_granted_at = models.DateTimeField(_("consent granted"), null=True, blank=True)
    consented_by = models.CharField(_("consented by"), max_length=255, blank=True)
    refresh_token_used_at = models.DateTimeField(
        _("refresh token last used"), null=True, blank=True
    )
    consent_lost_at = models.DateTimeField(_("consent refused"), null=True, blank=True)
    consent_error = models.CharField(_("consent error"), max_length=500, blank=True)
    # The smallest expiry warning (in days before expiry) already e-mailed for the current token
    # lifetime; cleared whenever the token is used again.
    expiry_warning_days = models.PositiveSmallIntegerField(null=True, blank=True)
    # A vendor outage seen by the provisioning worker: since when the vendor stopped answering
    # (5xx, timeouts, refused connections), how many operations met it, and when the queue of
    # this account was paused (OUTAGE_THRESHOLD operations in a row; the cloud admins are told
    # once). Cleared when the vendor answers again.
    outage_since = models.DateTimeField(_("vendor unreachable since"), null=True, blank=True)
    outage_failures = models.PositiveIntegerField(default=0)
    outage_paused_at = models.DateTimeField(_("provisioning paused"), null=True, blank=True)
    outage_error = models.CharField(_("vendor error"), max_length=500, blank=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("provider account")
        verbose_name_plural = _("provider accounts")
        constraints = [
            models.UniqueConstraint(
                fields=["organisation", "kind", "partner_tenant_id"],
                name="provider_account_unique_tenant_per_partner",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_kind_display()})"

    @property
    def application_secret(self) -> str:
        return crypto.decrypt(self.application_secret_encrypted)

    def set_application_secret(self, secret: str) -> None:
        self.application_secret_encrypted = crypto.encrypt(secret)

    @property
    def refresh_token(self) -> str | None:
        if not self.refresh_token_encrypted:
            return None
        return crypto.decrypt(self.refresh_token_encrypted)

    def set_refresh_token(self, token: str | None) -> None:
        self.refresh_token_encrypted = crypto.encrypt(token) if token else ""
        self.refresh_token_updated_at = clock.now() if token else None

    @property
    def refresh_token_expires_at(self) -> dt.datetime | None:
        """When the stored refresh token lapses if nobody uses it (last use + 90 days)."""
        if not self.refresh_token_encrypted:
            return None
        moments = [
            moment
            for moment in (
                self.refresh_token_used_at,
                self.refresh_token_updated_at,
                self.consent_granted_at,
            )
            if moment is not None
        ]
        return max(moments) + REFRESH_TOKEN_INACTIVITY_LIMIT if moments else None

    @property
    def consent_status(self) -> ConsentStatus:
        if not self.refresh_token_encrypted:
            return ConsentStatus.NOT_GRANTED
        expires_at = self.refresh_token_expires_at
        if self.consent_lost_at is not None or (expires_at and expires_at <= clock.now()):
            return ConsentStatus.NEEDED
        return ConsentStatus.GRANTED


class RateLimitBucket(models.Model):
    """One token bucket shared by every worker process that uses the same database.

    Updated only by a conditional UPDATE on `version` (optimistic concurrency), which behaves the
    same on SQLite and PostgreSQL without holding a lock across the caller's sleep.
    """

    key = models.CharField(max_length=200, unique=True)
    tokens = models.FloatField()
    refilled_at = models.FloatField(help_text="POSIX seconds of the last refill")
    version = models.BigIntegerField(default=0)

    class Meta:
        verbose_name = _("rate-limit bucket")

    def __str__(self) -> str:
        return self.key
