from __future__ import annotations

import pytest
from django.core.management import call_command

from seatkeeper.accounts.models import Organisation, Role, User
from seatkeeper.activity.models import ActivityRecord


@pytest.mark.django_db
def test_demo_data_is_believable_and_idempotent(settings, tmp_path):
    settings.VAR_DIR = tmp_path
    call_command("demo")
    counts = (Organisation.objects.count(), User.objects.count(), ActivityRecord.objects.count())
    call_command("demo")
    assert (
        Organisation.objects.count(),
        User.objects.count(),
        ActivityRecord.objects.count(),
    ) == counts
    assert Organisation.objects.filter(kind="partner").count() == 1
    assert Organisation.objects.filter(kind="reseller").count() == 2
    assert Organisation.objects.filter(kind="customer", country="FR").exists()
    assert Organisation.objects.filter(kind="customer", country="GB").exists()
    lines = (tmp_path / "demo-logins.txt").read_text().splitlines()
    assert {line.split()[0] for line in lines} == set(Role.values)
    for line in lines:
        role, username, password = line.split()
        user = User.objects.get(username=username)
        assert user.role == role
        assert user.check_password(password)
