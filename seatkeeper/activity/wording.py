"""The activity log and the histories in words, in the reader's language.

Records store codes and numbers (`subscription.quantity`, `{"quantity": 10, "previous": 8}`);
this module turns them into a label ("Quantity changed") and a sentence ("Bellevue Informatique
raised Boutique et fournil from 8 to 10 seats") when a page is shown, so the same record reads
in English for one person and in French for the next.

Each app says how its own actions and fields read in a `wording.py` module beside its services:

    ACTIONS = {"subscription.quantity": ActionWording(label, sentence=..., uses={...})}
    FIELDS = {"quantity": FieldWording(label, value=...), "offer.status": ...}

They are found the way Django finds `admin.py` modules, the first time a label is asked for; a
new app only adds its own `wording.py`. A field may be named for one object type
(`"<object_type>.<field>"`) where the same name means something else elsewhere.

An action marked `internal` is the sellers' own working (margin rules, price lists, costs): people
of a customer organisation never see it, in the log or its filter. Fields marked `internal` are
left out of what customers read.
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from django.apps import apps
from django.core.exceptions import FieldDoesNotExist
from django.utils.translation import gettext as _

from seatkeeper.core.formatting import format_value, stored_money
from seatkeeper.core.money import Money
from seatkeeper.core.wording import fill

SYSTEM_NAMES = {"system", "worker", ""}


@dataclass(frozen=True)
class Entry:
    """One recorded action, as its wording reads it."""

    code: str
    actor: str  # who did it, as a reader names them: an organisation, or Seatkeeper
    object: str  # the object's name when it was recorded
    object_type: str
    organisation: str  # the organisation the record is about
    details: dict[str, Any]
    changes: dict[str, list]

    def get(self, key: str, default: Any = None) -> Any:
        return self.details.get(key, default)

    def money(self, key: str) -> Money | None:
        """An amount of the payload: a Decimal as string with the payload's `currency`, or the
        formatted text older records hold."""
        return stored_money(self.details.get(key), self.details.get("currency"))


Sentence = Callable[[Entry], str]


@dataclass(frozen=True)
class ActionWording:
    label: Any  # lazy text: what the action is called in lists and filters
    sentence: Sentence | None = None  # None: "<actor>: <label>, <object>."
    uses: frozenset[str] = frozenset()  # details the sentence already says
    internal: bool = False  # the sellers' own working: never shown to customers


def _plain_value(value: Any, entry: Entry) -> str:
    return format_value(value)


@dataclass(frozen=True)
class FieldWording:
    label: Any
    value: Callable[[Any, Entry], str] = _plain_value
    internal: bool = False
    bare: bool = False  # the value says it all ("Refund 41,38 €"): shown without the label


@dataclass(frozen=True)
class Description:
    label: str
    sentence: str
    details: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        return " ".join([self.sentence, "; ".join(self.details)]).strip()


@dataclass(frozen=True)
class _Registry:
    actions: dict[str, ActionWording]
    fields: dict[str, FieldWording]
    models: dict[str, Any]


@functools.cache
def registry() -> _Registry:
    actions: dict[str, ActionWording] = {}
    fields: dict[str, FieldWording] = {}
    models: dict[str, Any] = {}
    for model in apps.get_models():
        models.setdefault(model._meta.model_name, model)
    for config in apps.get_app_configs():
        name = f"{config.name}.wording"
        if importlib.util.find_spec(name) is None:
            continue
        module = importlib.import_module(name)
        actions.update(getattr(module, "ACTIONS", {}))
        fields.update(getattr(module, "FIELDS", {}))
    return _Registry(actions=actions, fields=fields, models=models)


def _humanised(code: str) -> str:
    return code.rsplit(".", 1)[-1].replace("_", " ").capitalize()


def action_label(code: str) -> str:
    wording = registry().actions.get(code)
    return str(wording.label) if wording else _humanised(code)


def object_type_label(object_type: str) -> str:
    model = registry().models.get(object_type)
    return str(model._meta.verbose_name).capitalize() if model else _humanised(object_type)


def internal_actions() -> set[str]:
    return {code for code, wording in registry().actions.items() if wording.internal}


def action_choices(codes: Iterable[str], *, customer_viewer: bool = False) -> list[tuple[str, str]]:
    """(code, label) for a filter, sorted by label as read in the active language."""
    hidden = internal_actions() if customer_viewer else set()
    choices = [(code, action_label(code)) for code in set(codes) if code not in hidden]
    return sorted(choices, key=lambda choice: choice[1].casefold())


def field_wording(entry: Entry, name: str) -> FieldWording:
    """How a field reads: as its app's `wording.py` says, else as the model field's own
    verbose name and choices say, else its name in plain words."""
    fields = registry().fields
    wording = fields.get(f"{entry.object_type}.{name}") or fields.get(name)
    return wording or _model_field_wording(entry.object_type, name)


@functools.cache
def _model_field_wording(object_type: str, name: str) -> FieldWording:
    model = registry().models.get(object_type)
    try:
        model_field = model._meta.get_field(name) if model else None
    except FieldDoesNotExist:
        model_field = None
    if model_field is None or not hasattr(model_field, "verbose_name"):
        return FieldWording(label=name.replace("_", " "))
    if model_field.choices:
        labels = dict(model_field.flatchoices)

        def value(raw: Any, entry: Entry) -> str:
            return str(labels.get(raw, raw))

        return FieldWording(label=model_field.verbose_name, value=value)
    return FieldWording(label=model_field.verbose_name)


def field_value(entry: Entry, name: str, value: Any) -> str:
    if value is None or value == "":
        return "—"
    return field_wording(entry, name).value(value, entry)


def detail_parts(
    entry: Entry, *, customer_viewer: bool = False, skip: Iterable[str] = ()
) -> list[str]:
    """The changes ("label: old → new") and the details the sentence did not say."""
    skipped = set(skip) | {"changes", "currency"}
    parts = []
    for name, pair in _in_reading_order(entry, entry.changes):
        wording = field_wording(entry, name)
        if wording.internal and customer_viewer:
            continue
        old, new = [*pair, None, None][:2]
        parts.append(
            _("%(label)s: %(old)s → %(new)s")
            % {
                "label": wording.label,
                "old": field_value(entry, name, old),
                "new": field_value(entry, name, new),
            }
        )
        skipped.add(name)
    for name, value in _in_reading_order(entry, entry.details):
        if name in skipped or name.startswith("_") or value is None or value == "":
            continue
        wording = field_wording(entry, name)
        if wording.internal and customer_viewer:
            continue
        if isinstance(value, bool) and not value and name in FLAG_FIELDS:
            continue
        shown = wording.value(value, entry)
        if name in FLAG_FIELDS:
            parts.append(str(wording.label))
        elif wording.bare and shown:
            parts.append(shown)
        elif shown:
            parts.append(_("%(label)s: %(value)s") % {"label": wording.label, "value": shown})
    return parts


def _in_reading_order(entry: Entry, values: dict[str, Any]) -> list[tuple[str, Any]]:
    """Details in the order the apps' FIELDS list them, then the others by name: PostgreSQL's
    jsonb keeps keys in an order of its own, not the order they were written in."""
    order = _field_order()

    def key(item: tuple[str, Any]) -> tuple[int, str]:
        name = item[0]
        return (order.get(f"{entry.object_type}.{name}", order.get(name, len(order))), name)

    return sorted(values.items(), key=key)


@functools.cache
def _field_order() -> dict[str, int]:
    return {name: position for position, name in enumerate(registry().fields)}


# Facts worth a mention only when they happened (their label says it all).
FLAG_FIELDS = {"renewal_changes_cleared", "trial_converted"}


def describe(entry: Entry, *, customer_viewer: bool = False) -> Description:
    wording = registry().actions.get(entry.code)
    label = str(wording.label) if wording else _humanised(entry.code)
    if wording and wording.sentence:
        sentence = wording.sentence(entry)
    else:
        sentence = _("%(actor)s: %(action)s, %(object)s.") % {
            "actor": entry.actor,
            "action": label.lower() if label else entry.code,
            "object": entry.object,
        }
    uses = wording.uses if wording else frozenset()
    details = detail_parts(entry, customer_viewer=customer_viewer, skip=uses)
    return Description(label=label, sentence=sentence, details=details)


# --- naming who did it --------------------------------------------------------------------------


def actor_phrase(user, name: str) -> str:
    """Who did it, as the sentences name them: the organisation the person acted for (the login
    itself shows in the "Done by" column), "Seatkeeper" for the system's own work."""
    if user is not None and getattr(user, "organisation_id", None):
        return user.organisation.name
    if name in SYSTEM_NAMES:
        return _("Seatkeeper")
    return name


def record_entry(record) -> Entry:
    """An `ActivityRecord` as its wording reads it (select `actor__organisation` and
    `organisation` with the records)."""
    details = dict(record.details or {})
    changes = details.pop("changes", {}) or {}
    return Entry(
        code=record.operation,
        actor=actor_phrase(record.actor, record.actor_name),
        object=record.object_repr,
        object_type=record.object_type,
        organisation=record.organisation.name,
        details=details,
        changes=changes,
    )


def is_customer_viewer(user) -> bool:
    from seatkeeper.accounts.models import OrganisationKind

    organisation = getattr(user, "organisation", None)
    return organisation is None or organisation.kind == OrganisationKind.CUSTOMER


def describe_record(record, *, viewer=None) -> Description:
    return describe(record_entry(record), customer_viewer=is_customer_viewer(viewer))


# Helpers for the apps' wording modules.


def said(message: str, **placeholders: str) -> Sentence:
    """A sentence from a message marked with `gettext_noop`: `%(actor)s` and `%(object)s`, and
    each other placeholder filled with the detail it names, read through that field's wording
    (`said(gettext_noop("%(actor)s invited %(email)s."), email="email")`)."""

    def sentence(entry: Entry) -> str:
        values = {"actor": entry.actor, "object": entry.object, "organisation": entry.organisation}
        for placeholder, key in placeholders.items():
            values[placeholder] = field_value(entry, key, entry.get(key))
        return fill(_(message), values)

    return sentence


def choice_value(choices) -> Callable[[Any, Entry], str]:
    """The label of a TextChoices value; the stored value when it is not one of them."""

    def value(raw: Any, entry: Entry) -> str:
        try:
            return str(choices(raw).label)
        except ValueError:
            return str(raw)

    return value


def money_value(raw: Any, entry: Entry) -> str:
    money = stored_money(raw, entry.details.get("currency"))
    return format_value(money) if money is not None else str(raw)
