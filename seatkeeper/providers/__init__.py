"""Vendor connectors behind one interface.

Domain code uses only:
- `interface`  : the `Provider` protocol and the frozen dataclasses it returns;
- `errors`     : `ProviderError` and subclasses, each saying whether a retry can help;
- `registry`   : `get_provider(account)` -> the implementation for `account.kind`;
- `models`     : `ProviderAccount` (credentials encrypted at rest) and the limiter's buckets.

    from seatkeeper.providers.registry import get_provider

    with get_provider(account) as provider:          # a MicrosoftProvider for kind "microsoft"
        for customer in provider.list_customers():   # lazy: one request per page
            ...

Implementations live in sub-packages (`microsoft/`); nothing else here speaks HTTP.
"""
