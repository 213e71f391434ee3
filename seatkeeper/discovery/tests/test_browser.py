"""In a real browser: Trigger discovery on the account page, watch the run's progress arrive
without reloading, Stop, Resume, and see it complete. The work is done by the real worker
command on the database queue, in the test's thread, while the page polls the live server."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from django.core.management import call_command
from playwright.sync_api import expect

from seatkeeper.catalog import services as catalog_services
from seatkeeper.catalog.models import VendorKind
from seatkeeper.conftest import PASSWORD, Cast
from seatkeeper.core import clock
from seatkeeper.discovery import services
from seatkeeper.discovery.models import DiscoveryRun, RunState
from seatkeeper.providers.microsoft.auth import forget_token_sources
from seatkeeper.providers.tests.factories import provider_account
from seatkeeper.subscriptions.models import Subscription

pytestmark = [pytest.mark.browser]


@pytest.fixture
def connected(tmp_path, transactional_db, settings) -> Iterator:
    import seatkeeper.settings as configured

    testing = pytest.importorskip("seatkeeper.sandbox.testing")
    settings.TASKS = configured.TASKS  # the real queue: the worker below does the work
    if configured.REDIS_URL:
        import django_rq

        django_rq.get_queue("default").empty()
    settings.REDIS_URL = None  # rate-limit buckets in the database
    with testing.running_sandbox(tmp_path, customers=2, users_per_customer=1) as sbx:
        cast = Cast()
        account = provider_account(
            organisation=cast.partner,
            api_base_url=sbx.base_url,
            authority_url=sbx.authority_url,
            partner_tenant_id=sbx.partner_tenant_id,
            application_id=sbx.client_id,
            application_secret=sbx.client_secret,
            refresh_token=sbx.admin.mint_refresh_token(),
            ca_bundle_path=str(sbx.ca_cert),
        )
        account.consent_granted_at = clock.now()
        account.save()
        vendor = catalog_services.vendor_create(
            actor=None,
            partner=cast.partner,
            name="Microsoft",
            kind=VendorKind.API,
            provider_account=account,
            country="GB",
        )
        catalog_services.catalog_refresh(vendor=vendor)
        yield account
        forget_token_sources()


def _worker() -> None:
    call_command("worker", batch=True, no_scheduler=True, rq_worker_class="rq.worker.SimpleWorker")


def test_trigger_watch_stop_resume(page, live_server, connected):
    account = connected
    page.goto(f"{live_server.url}/login/")
    page.fill("#id_username", "cloudadmin")
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/")

    # Trigger discovery on the account page: the run page opens, in progress, nothing done yet.
    page.goto(f"{live_server.url}/providers/{account.pk}/")
    expect(page.locator("#discovery")).to_contain_text("Not started")
    page.click("#trigger-discovery")
    page.wait_for_url(re.compile(r".*/discovery/runs/\d+/$"))
    run = DiscoveryRun.objects.get()
    expect(page.locator("#progress [data-state]")).to_have_attribute("data-state", "in_progress")

    # A worker reads the customer list and imports two customers: the page shows it by itself.
    ids = services.list_customers(run.pk)
    for vendor_customer_id in ids[:2]:
        services.import_customer(run.pk, vendor_customer_id)
    expect(page.locator("#customers-done")).to_have_text(f"2 of {len(ids)}")
    imported = Subscription.objects.count()
    assert imported > 0
    expect(page.locator("#subscriptions-imported")).to_have_text(str(imported))

    # Stop: the run ends cleanly, and offers Resume.
    page.click("#stop-run")
    expect(page.locator("#progress [data-state]")).to_have_attribute("data-state", "stopped")
    run.refresh_from_db()
    assert run.state == RunState.STOPPED

    # Resume: the workers take the customers not done, and the page follows to the end.
    page.click("#resume-run")
    expect(page.locator("#progress [data-state]")).to_have_attribute("data-state", "in_progress")
    _worker()
    expect(page.locator("#progress [data-state]")).to_have_attribute("data-state", "completed")
    expect(page.locator("#customers-done")).to_have_text(f"{len(ids)} of {len(ids)}")
    run.refresh_from_db()
    assert run.state == RunState.COMPLETED
