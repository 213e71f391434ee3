"""Which implementation serves which provider kind.

Domain code asks `get_provider(account)` and receives something that satisfies
`interface.Provider`; it never imports a vendor package. Implementations are imported on first
use, so a deployment without a vendor's extra dependencies still starts. A kind can be switched
off with `settings.<KIND>_ENABLED = False` (e.g. MICROSOFT_ENABLED).
"""

from __future__ import annotations

import functools
from importlib import import_module
from typing import TYPE_CHECKING, Any

from django.conf import settings

from seatkeeper.providers.errors import ProviderError

if TYPE_CHECKING:
    from seatkeeper.providers.interface import Provider
    from seatkeeper.providers.models import ProviderAccount

# kind -> (label, dotted path of a class with `from_account(account, **options)`)
PROVIDERS: dict[str, tuple[str, str]] = {
    "microsoft": (
        "Microsoft Partner Center",
        "seatkeeper.providers.microsoft.adapter.MicrosoftProvider",
    ),
}


class UnknownProvider(ProviderError):
    """No implementation is registered (or enabled) for this kind."""


@functools.cache
def provider_class(kind: str) -> Any:
    try:
        _, dotted = PROVIDERS[kind]
    except KeyError:
        raise UnknownProvider(f"no provider implementation for kind {kind!r}") from None
    module_name, _, class_name = dotted.rpartition(".")
    return getattr(import_module(module_name), class_name)


def is_enabled(kind: str) -> bool:
    return kind in PROVIDERS and bool(getattr(settings, f"{kind.upper()}_ENABLED", True))


def get_provider(account: ProviderAccount, **options: Any) -> Provider:
    """The connector for `account`. `options` are implementation-specific (tests inject `sleep`)."""
    if not is_enabled(account.kind):
        raise UnknownProvider(f"provider kind {account.kind!r} is not enabled")
    if not account.is_active:
        raise ProviderError(f"provider account {account.pk} is deactivated")
    return provider_class(account.kind).from_account(account, **options)
