import pytest
from django.conf import settings


@pytest.fixture(autouse=True)
def _throttles_start_empty():
    """Throttle counts live in Redis when REDIS_URL is set, outside the test's transaction:
    each test starts with none, as it does with the database store."""
    if settings.REDIS_URL:
        from seatkeeper.accounts.throttle import KEY_PREFIX
        from seatkeeper.providers.ratelimit import default_store

        client = default_store()._redis
        keys = list(client.scan_iter(match=f"seatkeeper:ratelimit:{KEY_PREFIX}*"))
        if keys:
            client.delete(*keys)
    yield
