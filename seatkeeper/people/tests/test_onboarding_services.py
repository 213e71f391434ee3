"""Tenant onboarding services against the running sandbox (real HTTPS): checks before anything
is sent, the worker's ordered and retried steps, the agreement, the one-time password link."""

from __future__ import annotations

import datetime as dt
import re
import uuid

import pytest
from django.db import transaction

from seatkeeper.core import clock
from seatkeeper.core.errors import PermissionRefused, ServiceError
from seatkeeper.people import services
from seatkeeper.people.models import CredentialLink, OnboardingStep, TenantOnboarding
from seatkeeper.subscriptions.models import OperationState, SyncStatus, Tenant

pytestmark = pytest.mark.django_db

MCA = services.AgreementAcceptance(
    first_name="Alex",
    last_name="Doe",
    email="alex.doe@customer-one.example",
    accepted_at=dt.datetime(2026, 1, 5, tzinfo=dt.UTC),
)


def _prefix() -> str:
    return f"sk{uuid.uuid4().hex[:10]}"


def _create(onboarding, **profile_changes) -> TenantOnboarding:
    customer = onboarding.cast.customer
    profile = services.TenantProfile.of(customer)
    if profile_changes:
        profile = services.TenantProfile(**{**profile.__dict__, **profile_changes})
    return services.tenant_create(
        actor=onboarding.cast.reseller_admin,
        customer=customer,
        domain=_prefix(),
        profile=profile,
        mca=MCA,
    )


def test_a_tenant_is_created_from_the_profile_with_its_agreement_and_password_link(
    onboarding, smtp_server, django_capture_on_commit_callbacks
) -> None:
    customer = onboarding.cast.customer
    with django_capture_on_commit_callbacks(execute=True):
        started = _create(onboarding)
    assert started.state == OperationState.PENDING and started.sync_status == SyncStatus.PENDING
    assert not Tenant.objects.filter(customer=customer).exists()

    with django_capture_on_commit_callbacks(execute=True):
        assert onboarding.run_worker(started) == "done"

    started.refresh_from_db()
    assert started.sync_status == SyncStatus.SYNCHRONIZED and started.step == OnboardingStep.DONE
    tenant = Tenant.objects.get(customer=customer, account=onboarding.account)
    assert tenant.vendor_customer_id == started.vendor_customer_id
    assert tenant.domain == started.domain and tenant.domain.endswith(".onmicrosoft.com")
    vendor = onboarding.vendor_customer(tenant.vendor_customer_id)
    assert vendor["companyProfile"]["companyName"] == "Customer One Ltd"
    address = vendor["billingProfile"]["defaultAddress"]
    assert (address["postalCode"], address["country"], address["firstName"]) == (
        "EC1A 1AA",
        "GB",
        "Alex",
    )
    (agreement,) = onboarding.agreements(tenant.vendor_customer_id)
    assert agreement["type"] == "MicrosoftCustomerAgreement"
    assert agreement["primaryContact"]["email"] == MCA.email
    assert agreement["dateAgreed"].startswith("2026-01-05")
    assert started.mca_confirmed_at is not None

    # The contact gets a link, never the password.
    (mail,) = smtp_server.messages
    assert mail["To"] == customer.contact_email
    body = mail.get_payload(decode=True).decode()
    token = re.search(r"/password-link/([^/\s]+)/", body).group(1)
    link = CredentialLink.objects.get(customer=customer)
    assert link.user_name == started.admin_user_name == f"admin@{tenant.domain}"
    assert link.secret and "password" not in link.secret
    seen = services.credential_reveal(token)
    assert seen is not None and seen[0] == started.admin_user_name and len(seen[1]) >= 8
    assert seen[1] not in body
    assert services.credential_reveal(token) is None  # once only
    link.refresh_from_db()
    assert link.secret == "" and link.viewed_at is not None


def test_a_wrong_address_is_refused_field_by_field_before_anything_is_sent(onboarding) -> None:
    onboarding.sandbox.admin.clear_calls()
    with pytest.raises(services.AddressRefused) as refused:
        _create(onboarding, postal_code="75001", contact_last_name="")
    assert set(refused.value.fields) == {"postal_code", "contact_last_name"}
    assert "not a postal code of GB" in refused.value.fields["postal_code"][0]

    with pytest.raises(services.AddressRefused) as refused:
        _create(onboarding, country="US", postal_code="98052", region="Washington")
    assert set(refused.value.fields) == {"region"}

    assert onboarding.sandbox.admin.calls(method="POST", path="/v1/customers") == []
    assert not TenantOnboarding.objects.exists()


def test_a_taken_domain_means_the_company_has_a_tenant(onboarding) -> None:
    actor, customer = onboarding.cast.reseller_admin, onboarding.cast.customer
    taken = services.domain_check(actor=actor, customer=customer, domain="tailspintoys")
    assert (taken.domain, taken.available) == ("tailspintoys.onmicrosoft.com", False)
    free = services.domain_check(actor=actor, customer=customer, domain=_prefix())
    assert free.available is True
    invalid = services.domain_check(actor=actor, customer=customer, domain="no spaces")
    assert invalid.available is None
    with pytest.raises(ServiceError) as refused:
        services.tenant_create(
            actor=actor,
            customer=customer,
            domain="tailspintoys",
            profile=services.TenantProfile.of(customer),
            mca=MCA,
        )
    assert refused.value.field == "domain" and refused.value.code == "domain_taken"


def test_vendor_failures_are_retried_and_nothing_is_half_written(
    onboarding, django_capture_on_commit_callbacks
) -> None:
    admin = onboarding.sandbox.admin
    started = _create(onboarding)
    # Partner Center is unavailable for the create, then for the agreement, for a while.
    admin.set_faults(
        script=[
            {"method": "POST", "path": "/v1/customers", "status": 503, "times": 2},
            {"method": "POST", "path": "/v1/customers/*/agreements", "status": 503, "times": 2},
        ]
    )
    with django_capture_on_commit_callbacks(execute=True):
        assert onboarding.run_worker(started) == "retrying"
    started.refresh_from_db()
    assert started.sync_status == SyncStatus.PENDING and started.error_code == "503"
    assert not Tenant.objects.filter(customer=onboarding.cast.customer).exists()

    for _ in range(4):
        onboarding.clock.sleep(3600)
        with django_capture_on_commit_callbacks(execute=True):
            for pk in services.due_onboarding_ids(clock.now()):
                services.run_onboarding(pk)
    started.refresh_from_db()
    assert started.state == OperationState.DONE, started.error_message
    assert started.sync_status == SyncStatus.SYNCHRONIZED
    # One tenant at the vendor, one agreement, one password link.
    with onboarding.sandbox.client(admin.access_token()) as client:
        found = client.get(
            "/v1/customers",
            params={
                "filter": f'{{"Field":"Domain","Value":"{started.domain}","Operator":"equals"}}'
            },
        ).json()
    assert found["totalCount"] == 1
    assert len(onboarding.agreements(started.vendor_customer_id)) == 1
    assert CredentialLink.objects.filter(customer=onboarding.cast.customer).count() == 1
    assert Tenant.objects.get(customer=onboarding.cast.customer).domain == started.domain


def test_an_existing_tenant_is_linked_once_the_relationship_exists(
    onboarding, smtp_server, django_capture_on_commit_callbacks
) -> None:
    actor, customer = onboarding.cast.reseller_admin, onboarding.cast.customer_two
    started = services.tenant_link(
        actor=actor, customer=customer, tenant="litwareinc.onmicrosoft.com", mca=MCA
    )
    with django_capture_on_commit_callbacks(execute=True):
        assert onboarding.run_worker(started) == "failed"
    started.refresh_from_db()
    assert started.sync_status == SyncStatus.FAILED and started.error_code == "no_relationship"
    assert "reseller relationship" in started.error_message
    (mail,) = smtp_server.messages  # the person who asked is told, with where to act
    assert mail["To"] == actor.email and "could not be onboarded" in mail["Subject"]

    onboarding.sandbox.admin.accept_relationship(
        "litwareinc.onmicrosoft.com", companyName="Litware Inc"
    )
    services.onboarding_retry(actor=actor, onboarding=started)
    assert onboarding.run_worker(started) == "done"
    tenant = Tenant.objects.get(customer=customer)
    assert tenant.domain == "litwareinc.onmicrosoft.com"
    assert [
        a["primaryContact"]["email"] for a in onboarding.agreements(tenant.vendor_customer_id)
    ] == [MCA.email]
    # The same tenant cannot be linked to a second customer.
    other = services.tenant_link(
        actor=actor, customer=onboarding.cast.customer, tenant=tenant.vendor_customer_id
    )
    assert onboarding.run_worker(other) == "failed"
    other.refresh_from_db()
    assert other.error_code == "already_linked"


def test_only_the_customers_reseller_or_partner_onboards(onboarding) -> None:
    cast = onboarding.cast
    for actor in (cast.customer_admin, cast.read_only, cast.outsider):
        with pytest.raises(PermissionRefused):
            services.tenant_create(
                actor=actor,
                customer=cast.customer,
                domain=_prefix(),
                profile=services.TenantProfile.of(cast.customer),
                mca=MCA,
            )
    with pytest.raises(PermissionRefused):
        services.tenant_link(
            actor=cast.outsider, customer=cast.customer, tenant="x.onmicrosoft.com"
        )


def test_a_second_onboarding_of_the_same_customer_is_refused(onboarding) -> None:
    _create(onboarding)
    with pytest.raises(ServiceError, match="already being onboarded"):
        _create(onboarding)


def test_the_relationship_request_is_mailed_with_what_to_do(
    onboarding, smtp_server, django_capture_on_commit_callbacks
) -> None:
    customer = onboarding.cast.customer
    with django_capture_on_commit_callbacks(execute=True):
        url = services.relationship_request_send(
            actor=onboarding.cast.reseller_admin, customer=customer
        )
    assert "invType=ResellerRelationship" in url and onboarding.sandbox.partner_tenant_id in url
    (mail,) = smtp_server.messages
    assert mail["To"] == customer.contact_email
    body = mail.get_payload(decode=True).decode()
    assert url in body and "global administrator" in body


def test_an_unopened_password_link_expires_and_its_secret_is_erased(onboarding) -> None:
    customer = onboarding.cast.customer
    with transaction.atomic():
        link = services.credential_issue(
            customer=customer,
            user_name="admin@x.onmicrosoft.com",
            password="S3cret!pass",
            recipient=customer.contact_email,
        )
    assert services.credentials_purge() == 0
    onboarding.clock.frozen.advance(seconds=services.CREDENTIAL_LIFETIME.total_seconds() + 1)
    assert services.credentials_purge() == 1
    link.refresh_from_db()
    assert link.secret == "" and link.viewed_at is None


def test_the_french_contact_gets_the_mail_in_french(
    onboarding, smtp_server, django_capture_on_commit_callbacks
) -> None:
    customer = onboarding.cast.customer
    customer.default_language = "fr"
    customer.save(update_fields=["default_language"])
    with django_capture_on_commit_callbacks(execute=True):
        services.relationship_request_send(actor=onboarding.cast.reseller_admin, customer=customer)
    (mail,) = smtp_server.messages
    assert "revendeur" in mail["Subject"]


def test_an_outage_during_the_checks_is_a_refusal_and_records_nothing(onboarding) -> None:
    onboarding.sandbox.admin.set_faults(
        script=[
            {"method": "GET", "path": "/v1/countryvalidationrules/*", "status": 503, "times": 9},
            {"method": "HEAD", "path": "/v1/domains/*", "status": 503, "times": 9},
        ]
    )
    with pytest.raises(services.VendorUnavailable) as refused:
        _create(onboarding)
    assert refused.value.code == "vendor_unavailable" and "try again" in refused.value.message
    with pytest.raises(services.VendorUnavailable):
        services.domain_check(
            actor=onboarding.cast.reseller_admin, customer=onboarding.cast.customer, domain="abc"
        )
    assert not TenantOnboarding.objects.exists()


def test_a_tenant_without_the_agreement_is_not_linked_until_it_is_given(onboarding) -> None:
    actor, customer = onboarding.cast.reseller_admin, onboarding.cast.customer_two
    onboarding.sandbox.admin.accept_relationship(
        "lesjardinsdeclaire.onmicrosoft.com", companyName="Les Jardins de Claire"
    )
    first = services.tenant_link(
        actor=actor, customer=customer, tenant="lesjardinsdeclaire.onmicrosoft.com"
    )
    assert onboarding.run_worker(first) == "failed"
    first.refresh_from_db()
    assert first.error_code == "mca_missing"
    assert not Tenant.objects.filter(customer=customer).exists()
    services.onboarding_cancel(actor=actor, onboarding=first)

    second = services.tenant_link(
        actor=actor, customer=customer, tenant="lesjardinsdeclaire.onmicrosoft.com", mca=MCA
    )
    assert onboarding.run_worker(second) == "done"
    assert Tenant.objects.get(customer=customer).domain == "lesjardinsdeclaire.onmicrosoft.com"


def test_a_worker_dying_after_the_vendor_created_the_tenant_creates_it_once(
    onboarding, monkeypatch, django_capture_on_commit_callbacks
) -> None:
    started = _create(onboarding)
    real_issue = services.credential_issue

    def crash(**kwargs):
        raise RuntimeError("worker killed")

    # The tenant exists at Microsoft, then the worker dies before its own commit.
    monkeypatch.setattr(services, "credential_issue", crash)
    assert onboarding.run_worker(started) == "retrying"
    started.refresh_from_db()
    assert started.vendor_customer_id == "" and started.step == OnboardingStep.CUSTOMER
    assert not CredentialLink.objects.exists()

    monkeypatch.setattr(services, "credential_issue", real_issue)
    onboarding.clock.sleep(3600)
    with django_capture_on_commit_callbacks(execute=True):
        assert onboarding.run_worker(started) == "done"
    started.refresh_from_db()
    # The same request key: Partner Center answered with the tenant it had already created.
    posts = [
        call
        for call in onboarding.sandbox.admin.calls(method="POST", path="/v1/customers")
        if call["path"] == "/v1/customers"
    ]
    # (the connector may resend within an attempt, e.g. after refreshing an expired token)
    assert len(posts) >= 2 and len({call["requestId"] for call in posts}) == 1
    with onboarding.sandbox.client(onboarding.sandbox.admin.access_token()) as client:
        found = client.get(
            "/v1/customers",
            params={
                "filter": f'{{"Field":"Domain","Value":"{started.domain}","Operator":"equals"}}'
            },
        ).json()
    assert [c["id"] for c in found["items"]] == [started.vendor_customer_id]
    assert CredentialLink.objects.count() == 1
