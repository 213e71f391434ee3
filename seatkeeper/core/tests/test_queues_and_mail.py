"""The real paths: a task through the database queue or Redis, mail through a real SMTP server."""

from __future__ import annotations

import os
import stat

import pytest
from django.core.mail import EmailMessage
from django.core.management import call_command

from seatkeeper.accounts import services
from seatkeeper.accounts.models import Role
from seatkeeper.core.email_url import mailer_from_url


def _invite(cast):
    return services.user_invite(
        actor=cast.reseller_admin,
        organisation=cast.customer,
        email="queued@test.example",
        first_name="Queued",
        last_name="Person",
        role=Role.CUSTOMER_ADMIN,
    )


# Workers close and reopen database connections between tasks, as they must in production, so
# these tests commit for real instead of running inside one test transaction.
@pytest.mark.django_db(transaction=True)
def test_invitation_goes_through_the_database_queue_and_smtp(
    cast, settings, smtp_server, django_capture_on_commit_callbacks
):
    settings.REDIS_URL = None
    settings.TASKS = {
        "default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default"]}
    }
    from django_tasks_db.models import DBTaskResult

    with django_capture_on_commit_callbacks(execute=True):
        _invite(cast)
    assert smtp_server.messages == []  # queued, not sent
    assert DBTaskResult.objects.filter(status="READY").count() == 1
    call_command("worker", batch=True, no_scheduler=True)
    assert DBTaskResult.objects.get().status == "SUCCESSFUL"
    assert len(smtp_server.messages) == 1
    message = smtp_server.messages[0]
    assert message["To"] == "queued@test.example"
    assert "/invitation/" in message.get_payload()


@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
def test_invitation_goes_through_redis_workers(
    cast, settings, smtp_server, redis_url, django_capture_on_commit_callbacks
):
    import django_rq

    # REDIS_URL set at start switches the settings module to RQ (and installs django_rq); the
    # suite runs tasks inline, so this test puts the RQ backend back.
    import seatkeeper.settings as configured

    assert configured.TASKS["default"]["BACKEND"] == "django_tasks_rq.RQBackend"
    settings.TASKS = configured.TASKS
    assert settings.REDIS_URL == redis_url
    django_rq.get_queue("default").empty()

    with django_capture_on_commit_callbacks(execute=True):
        _invite(cast)
    assert django_rq.get_queue("default").count == 1
    assert smtp_server.messages == []
    call_command("worker", batch=True, no_scheduler=True, rq_worker_class="rq.worker.SimpleWorker")
    assert django_rq.get_queue("default").count == 0
    assert len(smtp_server.messages) == 1
    assert smtp_server.messages[0]["To"] == "queued@test.example"


def test_mail_written_to_files_is_private(tmp_path, settings):
    # given the embedded default: mail to files, with a permissive umask
    folder = tmp_path / "mail"
    settings.MAILERS = {"default": mailer_from_url(f"file://{folder}")}
    previous = os.umask(0o022)
    try:
        # when a message is sent
        EmailMessage("Reset", "https://example/reset/secret", to=["a@example.com"]).send()
    finally:
        os.umask(previous)

    # then only the owner can read the folder and the message
    (message,) = folder.iterdir()
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert stat.S_IMODE(message.stat().st_mode) == 0o600
    assert b"reset/secret" in message.read_bytes()
