"""How discovery runs and the customers they bring in read in the activity log."""

from __future__ import annotations

from django.utils.translation import gettext_lazy, gettext_noop

from seatkeeper.activity.wording import ActionWording, FieldWording, said

ACTIONS = {
    "discovery.start": ActionWording(
        gettext_lazy("Discovery started"),
        said(gettext_noop("%(actor)s started a discovery of the vendor's customers.")),
        internal=True,
    ),
    "discovery.stop": ActionWording(
        gettext_lazy("Discovery stopped"),
        said(gettext_noop("%(actor)s stopped a discovery.")),
        internal=True,
    ),
    "discovery.resume": ActionWording(
        gettext_lazy("Discovery resumed"),
        said(gettext_noop("%(actor)s resumed a discovery.")),
        internal=True,
    ),
    "discovery.complete": ActionWording(
        gettext_lazy("Discovery completed"),
        said(gettext_noop("A discovery completed.")),
        internal=True,
    ),
    "discovery.error": ActionWording(
        gettext_lazy("Discovery failed"),
        said(gettext_noop("A discovery ended in error.")),
        internal=True,
    ),
    "discovery.confirm": ActionWording(
        gettext_lazy("Discovery preview confirmed"),
        said(gettext_noop("%(actor)s confirmed a discovery preview: applying it started.")),
        internal=True,
    ),
    "discovery.schedule": ActionWording(
        gettext_lazy("Discovery schedule changed"),
        said(gettext_noop("%(actor)s changed when discovery runs by itself.")),
        internal=True,
    ),
    "customer.discovered": ActionWording(
        gettext_lazy("Customer found at the vendor"),
        said(gettext_noop("Discovery brought in %(object)s from the vendor.")),
        internal=True,
    ),
    "customer.gone": ActionWording(
        gettext_lazy("Customer gone from the vendor"),
        said(
            gettext_noop(
                "A full discovery no longer found %(object)s at the vendor: its subscriptions "
                "are marked gone and its users deleted."
            )
        ),
        internal=True,
    ),
    "customer.assigned": ActionWording(
        gettext_lazy("Customer assigned"),
        said(gettext_noop("%(actor)s assigned %(object)s.")),
        internal=True,
    ),
}

FIELDS = {
    "discoveryrun.mode": FieldWording(gettext_lazy("kind of run"), internal=True),
    "schedule.enabled": FieldWording(gettext_lazy("runs by itself"), internal=True),
    "schedule.every_hours": FieldWording(gettext_lazy("every (hours)"), internal=True),
    "discoveryrun.account": FieldWording(gettext_lazy("provider account"), internal=True),
    "discoveryrun.trigger": FieldWording(gettext_lazy("started by"), internal=True),
    "organisation.run": FieldWording(gettext_lazy("discovery run"), internal=True),
    "organisation.reseller_id": FieldWording(
        gettext_lazy("reseller id at the vendor"), internal=True
    ),
    "subscription.refundable_seats": FieldWording(gettext_lazy("seats still refundable")),
    "subscription.changed_at_vendor_by": FieldWording(gettext_lazy("changed at the vendor by")),
    "organisation.tenant": FieldWording(gettext_lazy("tenant id"), internal=True),
    "organisation.subscriptions": FieldWording(gettext_lazy("subscriptions"), internal=True),
    "organisation.users": FieldWording(gettext_lazy("users"), internal=True),
    "organisation.reseller": FieldWording(gettext_lazy("reseller"), internal=True),
    "discoveryrun.preview": FieldWording(gettext_lazy("preview"), internal=True),
    "discoveryrun.applied_by": FieldWording(gettext_lazy("applied by"), internal=True),
    "discoveryrun.reason": FieldWording(gettext_lazy("reason"), internal=True),
    "discoveryrun.customers": FieldWording(gettext_lazy("customers"), internal=True),
    "discoveryrun.errors": FieldWording(gettext_lazy("errors"), internal=True),
    "discoveryrun.calls": FieldWording(gettext_lazy("calls"), internal=True),
}
