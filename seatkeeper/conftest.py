"""Shared test cast: one partner tree plus an outsider partner, and one login per role.

Azure Partner (P)                       Other Partner (P2)
├── Reseller One (R1)                   └── Other Customer (X)
│   ├── Customer One (C1)
│   └── Customer Two (C2)
├── Reseller Two (R2)
│   └── Customer Three (C3)
└── Direct Customer (D)
"""

from __future__ import annotations

import os

import pytest
from django.conf import settings as django_settings
from django.utils import translation

from seatkeeper.accounts import services
from seatkeeper.accounts.models import Organisation, OrganisationKind, Role
from seatkeeper.core import clock
from seatkeeper.testing import TEST_NOW

PASSWORD = "Test-Password-2026!"


def company(name: str, **extra) -> dict:
    slug = name.lower().replace(" ", "-")
    values = {
        "name": name,
        "legal_name": f"{name} Ltd",
        "address_line1": "1 High Street",
        "city": "London",
        "postal_code": "EC1A 1AA",
        "country": "GB",
        "contact_name": "Alex Doe",
        "contact_email": f"contact@{slug}.example",
        "default_language": "en",
        "default_currency": "GBP",
    }
    values.update(extra)
    return values


class Cast:
    def __init__(self) -> None:
        self.partner = services.organisation_create(
            actor=None, parent=None, kind=OrganisationKind.PARTNER, **company("Azure Partner")
        )
        self.other_partner = services.organisation_create(
            actor=None, parent=None, kind=OrganisationKind.PARTNER, **company("Other Partner")
        )
        child = lambda parent, kind, name: services.organisation_create(  # noqa: E731
            actor=None, parent=parent, kind=kind, **company(name)
        )
        self.reseller = child(self.partner, OrganisationKind.RESELLER, "Reseller One")
        self.reseller_two = child(self.partner, OrganisationKind.RESELLER, "Reseller Two")
        self.customer = child(self.reseller, OrganisationKind.CUSTOMER, "Customer One")
        self.customer_two = child(self.reseller, OrganisationKind.CUSTOMER, "Customer Two")
        self.customer_three = child(self.reseller_two, OrganisationKind.CUSTOMER, "Customer Three")
        self.direct_customer = child(self.partner, OrganisationKind.CUSTOMER, "Direct Customer")
        self.outsider_customer = child(
            self.other_partner, OrganisationKind.CUSTOMER, "Other Customer"
        )
        login = lambda name, organisation, role: services.user_create(  # noqa: E731
            actor=None,
            organisation=organisation,
            username=name,
            email=f"{name}@test.example",
            password=PASSWORD,
            role=role,
            first_name=name.title(),
            last_name="Test",
        )
        self.cloud_admin = login("cloudadmin", self.partner, Role.CLOUD_ADMIN)
        self.operator = login("operator", self.partner, Role.PARTNER_OPERATOR)
        self.reseller_admin = login("reselleradmin", self.reseller, Role.RESELLER_ADMIN)
        self.customer_admin = login("customeradmin", self.customer, Role.CUSTOMER_ADMIN)
        self.read_only = login("readonly", self.reseller, Role.READ_ONLY)
        self.outsider = login("outsider", self.other_partner, Role.CLOUD_ADMIN)


@pytest.fixture(scope="session", autouse=True)
def _clock_frozen_for_the_session():
    """Session fixtures (the shared sandbox, its world) are built at TEST_NOW too."""
    with clock.frozen(TEST_NOW):
        yield


@pytest.fixture(autouse=True)
def _clock_frozen_for_each_test():
    """Every test starts at TEST_NOW, whatever the machine's date and whatever an earlier test
    did to the clock; a test that needs another moment freezes or moves it itself."""
    with clock.frozen(TEST_NOW) as frozen:
        yield frozen


@pytest.fixture
def cast(db) -> Cast:
    return Cast()


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    """Argon2 is slow on purpose; tests that are not about hashing use a fast hasher."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _english_unless_a_test_says_otherwise():
    """Django's locale middleware activates the language of each request in the thread that
    served it and leaves it there; the test client serves in the test's thread, so a test
    signed in as a French speaker would otherwise leave French to the next test."""
    translation.activate(django_settings.LANGUAGE_CODE)
    yield
    translation.deactivate()


@pytest.fixture(autouse=True)
def _tasks_run_immediately(settings):
    """Tasks run inline in most tests; tests of the queues themselves override TASKS."""
    settings.TASKS = {"default": {"BACKEND": "django.tasks.backends.immediate.ImmediateBackend"}}


@pytest.fixture(autouse=True)
def _rate_limit_buckets_start_full():
    """With REDIS_URL set, the vendor rate-limit buckets (and the login throttles) live in Redis,
    outside the test's transaction, and every test sandbox's partner tenant is the same bucket
    key. A bucket last touched by a test whose clock ran ahead would make the next test, back at
    TEST_NOW, sleep until the clock caught up with it: each test starts with none, as it does
    with the database store."""
    if django_settings.REDIS_URL:
        from seatkeeper.providers.ratelimit import default_store

        client = default_store()._redis
        keys = list(client.scan_iter(match="seatkeeper:ratelimit:*"))
        if keys:
            client.delete(*keys)
    yield


@pytest.fixture
def redis_url() -> str:
    url = os.environ.get("REDIS_URL")
    if not url:
        pytest.skip("REDIS_URL is not set")
    return url


def sign_in(client, username: str):
    """Sign `client` in as `username` (axes needs a request for password logins, so tests that
    are not about signing in skip the form)."""
    from seatkeeper.accounts.models import User

    client.force_login(User.objects.get(username=username))
    return client


def organisation_values(organisation: Organisation) -> dict:
    return {field: getattr(organisation, field) for field in services.ORGANISATION_FIELDS}


from seatkeeper.testing.browser import browser, page  # noqa: E402, F401 - shared fixtures
from seatkeeper.testing.mail import smtp_server  # noqa: E402, F401 - shared fixture
