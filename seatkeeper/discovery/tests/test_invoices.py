"""Invoices are a discovery kind: a run imports the partner's vendor invoices once (they are the
partner's, not a customer's), counts them with the other kinds, and a second run finds them
unchanged."""

from __future__ import annotations

import pytest

from seatkeeper.billing.models import ProviderInvoice
from seatkeeper.conftest import sign_in
from seatkeeper.core.scheduling import PERIODIC
from seatkeeper.discovery import kinds, services
from seatkeeper.discovery.models import DiscoveryRun, RunState

pytestmark = pytest.mark.django_db


def test_invoices_are_a_partner_level_kind():
    assert [module.NAME for module in kinds.partner_kinds()] == ["invoices"]
    assert "invoices" not in [module.NAME for module in kinds.customer_kinds()]
    assert "invoices" in kinds.kind_labels()


def test_a_run_imports_the_partners_invoices_and_a_second_imports_nothing_new(connected, client):
    first = connected.discover()

    assert first.state == RunState.COMPLETED and first.partner_done
    imported = ProviderInvoice.objects.filter(account=connected.account).count()
    assert imported > 0
    counts = services.run_figures(first).counts["invoices"]
    assert counts["created"] == imported
    assert first.partner_counts["invoices"]["created"] == imported
    sign_in(client, "cloudadmin")
    fragment = client.get(f"/discovery/runs/{first.pk}/progress/").content.decode()
    assert f'id="invoices-imported">{imported}<' in fragment

    second = connected.discover()

    assert second.state == RunState.COMPLETED
    assert ProviderInvoice.objects.filter(account=connected.account).count() == imported
    again = services.run_figures(second).counts["invoices"]
    assert again["created"] == 0 and again["updated"] == 0
    assert again["unchanged"] == imported


def test_a_vendor_refusal_of_the_invoices_is_a_problem_of_the_run_not_its_end(connected):
    # Partner Center answers 400 to the invoice list (a refusal, not worth retrying).
    connected.sandbox.admin.set_faults(
        script=[{"method": "GET", "path": "/v1/invoices*", "status": 400, "times": 5}]
    )
    run = connected.discover()

    assert run.state == RunState.COMPLETED
    assert [problem["kind"] for problem in run.partner_problems] == ["invoices"]
    assert services.run_figures(run).errors == 1
    assert services.run_figures(run).customers_done == services.run_figures(run).customers_total


def test_a_daily_job_picks_up_new_invoices():
    assert PERIODIC["billing.invoices_daily"].every.total_seconds() == 24 * 3600


def test_a_run_stopped_once_listed_imports_the_invoices_on_resume(connected, monkeypatch):
    original = services.import_partner

    def stop_first(run_id, *, provider):
        # A person presses Stop the moment the customer list is read.
        services.run_stop(actor=None, run=DiscoveryRun.objects.get(pk=run_id))
        return original(run_id, provider=provider)

    monkeypatch.setattr(services, "import_partner", stop_first)
    run = services.run_start(actor=None, account=connected.account, enqueue=False)
    with connected.provider() as provider:
        services.list_customers(run.pk, provider=provider)
    run.refresh_from_db()
    assert run.state == RunState.STOPPED and run.listed and not run.partner_done
    assert not ProviderInvoice.objects.exists()
    monkeypatch.undo()

    services.run_resume(actor=None, run=run, enqueue=False)
    with connected.provider() as provider:
        run = services.run_inline(run, provider=provider)

    assert run.state == RunState.COMPLETED and run.partner_done
    imported = ProviderInvoice.objects.filter(account=connected.account).count()
    assert imported > 0 and run.partner_counts["invoices"]["created"] == imported
