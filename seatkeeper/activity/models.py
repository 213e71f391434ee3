"""The append-only operations log: who did what, when, to which object, with old → new values."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from seatkeeper.core import clock


class AppendOnly(Exception):
    pass


class ActivityRecordQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise AppendOnly("activity records are never changed")

    def delete(self):
        raise AppendOnly("activity records are never deleted")


class ActivityRecord(models.Model):
    at = models.DateTimeField(_("when"), default=clock.now, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("done by"),
    )
    # Kept as text so the record still says who it was after the login is removed, and says
    # "system" or "worker" for changes nobody typed.
    actor_name = models.CharField(_("done by"), max_length=200)
    organisation = models.ForeignKey(
        "accounts.Organisation",
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("organisation"),
    )
    object_type = models.CharField(_("object type"), max_length=64)
    object_id = models.CharField(_("object id"), max_length=64)
    object_repr = models.CharField(_("object"), max_length=255)
    operation = models.CharField(_("operation"), max_length=64, db_index=True)
    # {"changes": {"field": [old, new], ...}, ...anything the operation wants to keep}
    details = models.JSONField(_("details"), default=dict, blank=True)

    objects = ActivityRecordQuerySet.as_manager()

    class Meta:
        ordering = ["-at", "-id"]
        verbose_name = _("activity record")
        verbose_name_plural = _("activity records")
        indexes = [
            models.Index(fields=["organisation", "-at"]),
            models.Index(fields=["object_type", "object_id", "-at"]),
        ]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.actor_name} {self.operation} {self.object_repr}"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise AppendOnly("activity records are never changed")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AppendOnly("activity records are never deleted")

    @property
    def changes(self) -> dict[str, list]:
        return self.details.get("changes", {})
