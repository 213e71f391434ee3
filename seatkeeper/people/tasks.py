"""Background work of the people domain. Tasks take ids and call the services."""

from __future__ import annotations

from django.tasks import task

from seatkeeper.core import clock
from seatkeeper.people import licences, services, users


@task()
def onboard(onboarding_id: int) -> str:
    return services.run_onboarding(onboarding_id)


@task()
def onboarding_sweep() -> int:
    """Retries that fell due and onboardings abandoned by a worker that died."""
    ids = services.due_onboarding_ids(clock.now())
    for onboarding_id in ids:
        onboard.enqueue(onboarding_id=onboarding_id)
    return len(ids)


@task()
def credentials_purge() -> int:
    return services.credentials_purge()


@task()
def licence_change(change_id: int) -> str:
    return licences.run_change(change_id)


@task()
def licence_sweep() -> int:
    """Licence changes whose retry fell due, and those abandoned by a worker that died."""
    ids = licences.due_change_ids(clock.now())
    for change_id in ids:
        licence_change.enqueue(change_id=change_id)
    return len(ids)


@task()
def user_change(change_id: int) -> str:
    return users.run_user_change(change_id)


@task()
def user_sweep() -> int:
    """User changes whose retry fell due, and those abandoned by a worker that died."""
    ids = users.due_user_change_ids(clock.now())
    for change_id in ids:
        user_change.enqueue(change_id=change_id)
    return len(ids)
