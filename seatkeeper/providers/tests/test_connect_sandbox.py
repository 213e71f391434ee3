"""`seatkeeper connect_sandbox`: the demo partner registered at a real sandbox through the same
services as a person (audited), and each demo customer linked to its own company's tenant."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator

import pytest
from django.core.management import call_command

from seatkeeper.accounts.models import Organisation, OrganisationKind
from seatkeeper.activity.models import ActivityRecord
from seatkeeper.people.models import CredentialLink, TenantOnboarding
from seatkeeper.providers.microsoft.auth import forget_token_sources
from seatkeeper.providers.models import ConsentStatus, ProviderAccount
from seatkeeper.subscriptions.models import Tenant


@pytest.fixture
def demo_sandbox(tmp_path, settings) -> Iterator:
    testing = pytest.importorskip("seatkeeper.sandbox.testing")
    settings.VAR_DIR = tmp_path
    # The world `./dev run` serves: the tenants of the demo customers' companies.
    with testing.running_sandbox(tmp_path, seed="story") as sandbox:
        yield sandbox
        forget_token_sources()


def _company_of(sandbox, tenant_id: str) -> str:
    return sandbox.sandbox.store.one(
        "SELECT company_name FROM customers WHERE id = ?", (tenant_id,)
    )[0]


def _sandbox_customers(sandbox) -> int:
    return sandbox.sandbox.store.one("SELECT count(*) FROM customers")[0]


def test_connect_sandbox_registers_through_services_and_links_by_company(
    db, demo_sandbox, tmp_path
):
    # Given the demo data, and a sandbox that holds the tenants of the demo customers' companies
    # and, besides, one that Brighton Physio Clinic created itself under a domain of its own
    call_command("demo")
    with demo_sandbox.client(demo_sandbox.admin.access_token()) as client:
        created = client.post(
            "/v1/customers",
            json={
                "companyProfile": {"domain": "brightonphysio.onmicrosoft.com"},
                "billingProfile": {
                    "email": "josh.turner@brightonphysio.example",
                    "culture": "en-GB",
                    "language": "en",
                    "companyName": "Brighton Physio Clinic Ltd",
                    "defaultAddress": {
                        "country": "GB",
                        "city": "Brighton",
                        "addressLine1": "40 Western Road",
                        "postalCode": "BN1 2EB",
                        "firstName": "Josh",
                        "lastName": "Turner",
                    },
                },
            },
        )
    assert created.status_code == 201, created.text
    info_path = tmp_path / "sandbox.json"
    info_path.write_text(json.dumps(demo_sandbox.admin.info()))
    # When the demo partner is connected (the first discovery has a test of its own)
    call_command("connect_sandbox", str(info_path), "--no-discovery")
    # Then the account was registered and consented through the audited services
    account = ProviderAccount.objects.get()
    assert account.consent_status == ConsentStatus.GRANTED
    assert account.refresh_token_used_at is not None  # the connection was tested
    operations = set(
        ActivityRecord.objects.filter(object_type="provideraccount").values_list(
            "operation", flat=True
        )
    )
    assert operations == {"provider_account.register", "provider_account.consent"}
    # And every demo customer is linked to a tenant of its own company, never another's
    customers = Organisation.objects.filter(kind=OrganisationKind.CUSTOMER)
    tenants = {tenant.customer.name: tenant for tenant in Tenant.objects.select_related("customer")}
    assert set(tenants) == set(customers.values_list("name", flat=True))
    for name, tenant in tenants.items():
        assert _company_of(demo_sandbox, tenant.vendor_customer_id).startswith(name), name
    assert tenants["Brighton Physio Clinic"].domain == "brightonphysio.onmicrosoft.com"
    assert tenants["Harbour Logistics"].domain == "harbourlogistics.onmicrosoft.com"
    assert tenants["3DServiceLab"].domain == "3dservicelab.onmicrosoft.com"
    assert not Tenant.objects.filter(domain="harboursidevets.onmicrosoft.com").exists()
    # A tenant the sandbox did not have was onboarded through the people services: its
    # Microsoft Customer Agreement confirmed, its administrator's password behind a one-time link
    onboarded = TenantOnboarding.objects.get(customer__name="3DServiceLab")
    assert onboarded.state == "done" and onboarded.mca_confirmed_at is not None
    assert onboarded.tenant == tenants["3DServiceLab"]
    assert CredentialLink.objects.filter(customer__name="3DServiceLab").exists()
    with demo_sandbox.client(demo_sandbox.admin.access_token()) as client:
        agreements = client.get(f"/v1/customers/{onboarded.vendor_customer_id}/agreements")
    assert [a["type"] for a in agreements.json()["items"]] == ["MicrosoftCustomerAgreement"]
    # When it runs again, nothing changes, here or at the sandbox (the catalog is imported again:
    # that import is recorded as such)
    records = ActivityRecord.objects.exclude(operation="catalog.refresh")
    counts = (records.count(), Tenant.objects.count())
    sandbox_customers = _sandbox_customers(demo_sandbox)
    call_command("connect_sandbox", str(info_path), "--no-discovery")
    assert (records.count(), Tenant.objects.count()) == counts
    assert _sandbox_customers(demo_sandbox) == sandbox_customers


def test_connect_sandbox_without_demo_data_says_what_to_do(db, demo_sandbox, tmp_path):
    from django.core.management.base import CommandError

    info_path = tmp_path / "sandbox.json"
    info_path.write_text(json.dumps(demo_sandbox.admin.info()))
    with pytest.raises(CommandError, match="run `seatkeeper demo` first"):
        call_command("connect_sandbox", str(info_path))
    assert not ProviderAccount.objects.exists()


def test_connect_sandbox_runs_a_first_discovery_once(db, demo_sandbox, tmp_path):
    from seatkeeper.core import clock
    from seatkeeper.discovery.models import DiscoveryRun, RunState
    from seatkeeper.subscriptions.models import OperationState, Subscription
    from seatkeeper.subscriptions.provisioning import provision_subscription
    from seatkeeper.subscriptions.selectors import assigned_by_subscription

    call_command("demo")
    info_path = tmp_path / "sandbox.json"
    info_path.write_text(json.dumps(demo_sandbox.admin.info()))

    call_command("connect_sandbox", str(info_path), "--demo-orders")

    run = DiscoveryRun.objects.get()
    assert run.state == RunState.COMPLETED
    # Every subscription every sandbox tenant holds is known, under the tenant's customer.
    token = demo_sandbox.admin.access_token(app_only=False, mfa=True)
    with demo_sandbox.client(token) as client:
        vendor_ids = {
            subscription["id"]
            for customer in client.get("/v1/customers").json()["items"]
            for subscription in client.get(f"/v1/customers/{customer['id']}/subscriptions").json()[
                "items"
            ]
        }
    assert vendor_ids
    microsoft = Subscription.objects.filter(offer__vendor__kind="api")
    discovered = microsoft.exclude(order__po_number="DEMO-2026")
    assert set(discovered.values_list("vendor_subscription_id", flat=True)) == vendor_ids
    assert Tenant.objects.count() == _sandbox_customers(demo_sandbox)
    # The story's facts: people hold seats, never more than bought; some subscriptions bought
    # this week can still be cancelled for a few days
    assigned = assigned_by_subscription(list(discovered.select_related("offer")))
    assert sum(assigned.values()) >= 150
    assert all(assigned[s.pk] <= s.quantity for s in discovered)
    now = clock.now()
    closing = discovered.filter(
        cancellation_allowed_until__gt=now,
        cancellation_allowed_until__lt=now + dt.timedelta(days=7),
    )
    assert closing.count() >= 5
    # The demo orders wait for the worker; the one for the customer whose agreement acceptance
    # was never confirmed is refused by Microsoft and shows as failed, with the vendor's code
    ordered = microsoft.filter(order__po_number="DEMO-2026")
    assert ordered.count() == 6
    refused = ordered.get(customer__name="Conserverie de Quiberon")
    provision_subscription(refused.pk)
    operation = refused.operations.get()
    assert operation.state == OperationState.FAILED
    assert operation.error_code == "13605"

    call_command("connect_sandbox", str(info_path))
    assert DiscoveryRun.objects.count() == 1
