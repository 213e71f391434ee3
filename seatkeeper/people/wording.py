"""How tenant onboarding reads in the activity log."""

from __future__ import annotations

from django.utils.translation import gettext_lazy, gettext_noop

from seatkeeper.activity.wording import ActionWording, FieldWording, said
from seatkeeper.core.formatting import format_datetime

ACTIONS = {
    "tenant.create": ActionWording(
        gettext_lazy("Microsoft tenant requested"),
        said(
            gettext_noop(
                "%(actor)s asked Microsoft for the tenant %(domain)s of %(organisation)s."
            ),
            domain="domain",
        ),
        uses=frozenset({"domain"}),
    ),
    "tenant.link_requested": ActionWording(
        gettext_lazy("Tenant link requested"),
        said(
            gettext_noop("%(actor)s asked to link %(organisation)s to its tenant %(domain)s."),
            domain="domain",
        ),
        uses=frozenset({"domain"}),
    ),
    "tenant.mca_accepted": ActionWording(
        gettext_lazy("Microsoft Customer Agreement accepted"),
        said(
            gettext_noop(
                "%(actor)s recorded that %(person)s (%(email)s) accepted the Microsoft Customer "
                "Agreement for %(organisation)s on %(when)s."
            ),
            person="accepted_by",
            email="email",
            when="accepted_at",
        ),
        uses=frozenset({"accepted_by", "email", "accepted_at"}),
    ),
    "tenant.retry": ActionWording(
        gettext_lazy("Tenant onboarding retried"),
        said(gettext_noop("%(actor)s sent the onboarding of %(domain)s again."), domain="domain"),
        uses=frozenset({"domain"}),
    ),
    "tenant.cancel": ActionWording(
        gettext_lazy("Tenant onboarding given up"),
        said(gettext_noop("%(actor)s gave up the onboarding of %(domain)s."), domain="domain"),
        uses=frozenset({"domain"}),
    ),
    "tenant.relationship_request": ActionWording(
        gettext_lazy("Reseller relationship request sent"),
        said(
            gettext_noop("%(actor)s sent the reseller relationship request to %(email)s."),
            email="sent_to",
        ),
        uses=frozenset({"sent_to"}),
    ),
    "credential.viewed": ActionWording(
        gettext_lazy("One-time password link opened"),
        said(
            gettext_noop("%(actor)s saw the password of %(user)s through its one-time link."),
            user="user_name",
        ),
        uses=frozenset({"user_name"}),
    ),
    "licence.assign": ActionWording(
        gettext_lazy("Licence assigned"),
        said(
            gettext_noop("%(actor)s gave %(user)s a %(licence)s licence."),
            user="user_name",
            licence="licence",
        ),
        uses=frozenset({"user_name", "licence"}),
    ),
    "licence.remove": ActionWording(
        gettext_lazy("Licence taken back"),
        said(
            gettext_noop("%(actor)s took the %(licence)s licence back from %(user)s."),
            user="user_name",
            licence="licence",
        ),
        uses=frozenset({"user_name", "licence"}),
    ),
    "users.synced": ActionWording(
        gettext_lazy("Users synchronised"),
        said(
            gettext_noop(
                "%(actor)s read the users of %(organisation)s from the vendor: %(created)s new, "
                "%(updated)s changed, %(removed)s gone."
            ),
            created="created",
            updated="updated",
            removed="removed",
        ),
        uses=frozenset({"created", "updated", "removed"}),
    ),
    "users.sync_cut_short": ActionWording(
        gettext_lazy("Users partly synchronised"),
        said(
            gettext_noop(
                "%(actor)s read part of the users of %(organisation)s before the vendor stopped "
                "answering: %(created)s new, %(updated)s changed."
            ),
            created="created",
            updated="updated",
        ),
        uses=frozenset({"created", "updated"}),
    ),
}

FIELDS = {
    "accepted_by": FieldWording(gettext_lazy("accepted by")),
    "accepted_at": FieldWording(
        gettext_lazy("accepted on"), lambda raw, entry: format_datetime(raw)
    ),
    "sent_to": FieldWording(gettext_lazy("sent to")),
    "user_name": FieldWording(gettext_lazy("user name")),
    "domain": FieldWording(gettext_lazy("domain")),
    "licence": FieldWording(gettext_lazy("licence")),
    "created": FieldWording(gettext_lazy("new users")),
    "updated": FieldWording(gettext_lazy("changed users")),
    "removed": FieldWording(gettext_lazy("users gone")),
}
