from __future__ import annotations

from collections import Counter

import pytest
from django.core.management import call_command

from seatkeeper.accounts.models import Organisation, Role, User
from seatkeeper.activity.models import ActivityRecord
from seatkeeper.sandbox import story
from seatkeeper.subscriptions.models import Operation, OperationState, Status, Subscription


@pytest.mark.django_db
def test_demo_data_is_believable_and_idempotent(settings, tmp_path):
    settings.VAR_DIR = tmp_path
    call_command("demo")
    counts = (
        Organisation.objects.count(),
        User.objects.count(),
        ActivityRecord.objects.count(),
        Subscription.objects.count(),
    )
    call_command("demo")
    assert (
        Organisation.objects.count(),
        User.objects.count(),
        ActivityRecord.objects.count(),
        Subscription.objects.count(),
    ) == counts
    assert Organisation.objects.filter(kind="partner").count() == 1
    resellers = Organisation.objects.filter(kind="reseller")
    assert resellers.count() == 3
    # About forty customers in France and the United Kingdom, each in its country's currency
    # and language, most of them a reseller's
    customers = Organisation.objects.filter(kind="customer")
    assert customers.count() == len(story.COMPANIES) == 40
    assert set(customers.values_list("country", "default_currency", "default_language")) == {
        ("FR", "EUR", "fr"),
        ("GB", "GBP", "en"),
    }
    by_reseller = Counter(customers.values_list("parent__name", flat=True))
    assert all(by_reseller[reseller.name] >= 10 for reseller in resellers), by_reseller
    assert by_reseller["Azurel Cloud Distribution"] == 6  # the partner's own customers
    assert len(set(customers.values_list("name", flat=True))) == 40
    lines = (tmp_path / "demo-logins.txt").read_text().splitlines()
    assert {line.split()[0] for line in lines} == set(Role.values)
    for line in lines:
        role, username, password = line.split()
        user = User.objects.get(username=username)
        assert user.role == role
        assert user.check_password(password)


@pytest.mark.django_db
def test_the_demo_rainbow_subscriptions_show_the_fulfilment_queue_at_work(settings, tmp_path):
    settings.VAR_DIR = tmp_path
    call_command("demo")
    rainbow = Subscription.objects.filter(offer__vendor__name="Rainbow UC")
    # Most customers use Rainbow; the partner fulfilled most orders with the vendor's reference
    assert rainbow.values("customer").distinct().count() >= 25
    active = rainbow.filter(status=Status.ACTIVE)
    assert active.count() >= 40
    assert all(s.vendor_subscription_id.startswith("RB-") for s in active)
    # a few wait in the queue, one was rejected with the reason given
    operations = Operation.objects.filter(subscription__in=rainbow)
    assert operations.filter(state=OperationState.AWAITING_FULFILMENT).count() == 4
    rejected = operations.get(state=OperationState.REJECTED)
    assert rejected.subscription.status == Status.CANCELLED
    assert "January" in rejected.error_message
    # add-ons sit on an active base of the same customer
    for addon in rainbow.filter(parent__isnull=False):
        assert addon.parent.customer_id == addon.customer_id
        assert addon.parent.status == Status.ACTIVE
    # the prices come from the margins of each level, in the customer's currency
    for subscription in rainbow.select_related("customer"):
        lot = subscription.lots.get()
        assert lot.currency == subscription.customer.default_currency
