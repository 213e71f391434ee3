"""Onboarding pages and API: scoped like the rest (another reseller's customer is a 404), the
domain checked as the person types, address errors per field, Idempotency-Key on creating."""

from __future__ import annotations

import re
import uuid

import pytest
from django.urls import reverse

from seatkeeper.conftest import sign_in
from seatkeeper.people.models import TenantOnboarding
from seatkeeper.people.tests.test_onboarding_services import MCA
from seatkeeper.subscriptions.tests.test_api import api_as

pytestmark = pytest.mark.django_db


def test_another_resellers_customer_is_not_found(onboarding, client) -> None:
    cast = onboarding.cast
    sign_in(client, cast.reseller_admin.username)
    elsewhere = cast.customer_three  # below Reseller Two
    for name in ("tenant_onboard", "tenant_domain_check"):
        assert client.get(reverse(name, args=[elsewhere.pk])).status_code == 404
    assert (
        client.post(reverse("tenant_relationship_request", args=[elsewhere.pk])).status_code == 404
    )
    api = api_as(cast.reseller_admin)
    assert api.get(f"/api/v1/customers/{elsewhere.pk}/tenant/").status_code == 404
    assert (
        api.post(
            f"/api/v1/customers/{elsewhere.pk}/tenant/create/", {"domain": "x"}, format="json"
        ).status_code
        == 404
    )
    outsider = api_as(cast.outsider)
    assert outsider.get(f"/api/v1/customers/{cast.customer.pk}/tenant/").status_code == 404


def test_the_customer_admin_may_not_onboard_its_own_tenant(onboarding, client) -> None:
    cast = onboarding.cast
    sign_in(client, cast.customer_admin.username)
    assert client.get(reverse("tenant_onboard", args=[cast.customer.pk])).status_code == 403
    answer = api_as(cast.customer_admin).get(
        f"/api/v1/customers/{cast.customer.pk}/tenant/domain-check/", {"domain": "anything"}
    )
    assert answer.status_code == 403


def test_the_page_is_prefilled_checks_the_domain_and_names_wrong_fields(onboarding, client) -> None:
    cast = onboarding.cast
    sign_in(client, cast.reseller_admin.username)
    page = client.get(reverse("tenant_onboard", args=[cast.customer.pk]))
    assert page.status_code == 200
    form = page.context["create_form"]
    assert form.initial["postal_code"] == "EC1A 1AA" and form.initial["domain"] == "customerone"
    assert form.initial["contact_first_name"] == "Alex"

    check = reverse("tenant_domain_check", args=[cast.customer.pk])
    assert client.get(check, {"domain": "tailspintoys"}).json()["available"] is False
    assert client.get(check, {"domain": f"sk{uuid.uuid4().hex[:8]}"}).json()["available"] is True
    assert client.get(check, {"domain": "bad name"}).json()["available"] is None

    values = {
        **{k: v for k, v in form.initial.items() if v is not None},
        "action": "create",
        "domain": f"sk{uuid.uuid4().hex[:8]}",
        "postal_code": "nope",
        "city": "",
        "mca_accepted": "on",
        "mca_accepted_at": "2026-01-05",
    }
    answer = client.post(reverse("tenant_onboard", args=[cast.customer.pk]), values)
    assert answer.status_code == 200
    errors = answer.context["create_form"].errors
    assert "postal_code" in errors and "city" in errors
    assert not TenantOnboarding.objects.exists()

    values.update(postal_code="SW1A 1AA", city="London")
    answer = client.post(reverse("tenant_onboard", args=[cast.customer.pk]), values)
    assert answer.status_code == 302
    assert TenantOnboarding.objects.get().domain == f"{values['domain']}.onmicrosoft.com"


def test_the_customer_pages_lead_to_onboarding_until_the_tenant_exists(onboarding, client):
    cast = onboarding.cast
    sign_in(client, cast.reseller_admin.username)
    for url in (
        reverse("organisation_detail", args=[cast.customer.pk]),
        reverse("customer_subscriptions", args=[cast.customer.pk]),
    ):
        body = client.get(url).content.decode()
        assert 'data-action="create-tenant"' in body, url
    sign_in(client, cast.customer_admin.username)
    body = client.get(reverse("customer_subscriptions", args=[cast.customer.pk])).content.decode()
    assert "create-tenant" not in body


def test_the_api_creates_once_per_idempotency_key_and_names_wrong_fields(onboarding) -> None:
    cast = onboarding.cast
    api = api_as(cast.reseller_admin)
    url = f"/api/v1/customers/{cast.customer.pk}/tenant/create/"
    mca = {
        "first_name": MCA.first_name,
        "last_name": MCA.last_name,
        "email": MCA.email,
        "accepted_on": "2026-01-05",
    }
    refused = api.post(url, {"domain": "anything1", "postal_code": "1", "mca": mca}, format="json")
    assert refused.status_code == 400 and set(refused.json()["fields"]) == {"postal_code"}

    body = {"domain": f"sk{uuid.uuid4().hex[:8]}", "mca": mca}
    first = api.post(url, body, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    again = api.post(url, body, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    assert first.status_code == again.status_code == 202
    assert again["Idempotent-Replayed"] == "true" and first.json()["id"] == again.json()["id"]
    assert TenantOnboarding.objects.count() == 1
    status = api.get(f"/api/v1/customers/{cast.customer.pk}/tenant/").json()
    assert status["tenant_id"] is None and status["onboarding"]["sync_status"] == "pending"
    listed = api.get("/api/v1/tenant-onboardings/").json()
    assert [row["domain"] for row in listed["results"]] == [first.json()["domain"]]
    assert api_as(cast.outsider).get("/api/v1/tenant-onboardings/").json()["results"] == []


def test_the_password_link_needs_no_login_and_shows_the_password_once(
    onboarding, client, django_capture_on_commit_callbacks
) -> None:
    from django.db import transaction

    from seatkeeper.people import services

    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        services.credential_issue(
            customer=onboarding.cast.customer,
            user_name="admin@x.onmicrosoft.com",
            password="S3cret!pass-42",
            recipient="contact@customer-one.example",
        )
    from django.core import mail

    token = re.search(r"/password-link/([^/\s]+)/", mail.outbox[-1].body).group(1)
    url = reverse("credential_reveal", args=[token])
    first = client.get(url)
    assert first.status_code == 200 and "S3cret!pass-42" not in first.content.decode()
    assert "no-store" in first["Cache-Control"]
    shown = client.post(url)
    assert "S3cret!pass-42" in shown.content.decode()
    assert "no-store" in shown["Cache-Control"]
    again = client.post(url)
    assert "S3cret!pass-42" not in again.content.decode()
    assert b"credential-gone" in again.content
    assert b"credential-gone" in client.get(reverse("credential_reveal", args=["nothing"])).content


def test_a_failed_onboarding_is_shown_with_retry_and_give_up_in_french(onboarding, client):
    from django.utils import translation

    from seatkeeper.people import services

    cast = onboarding.cast
    started = services.tenant_link(
        actor=cast.reseller_admin, customer=cast.customer, tenant="nobody-here.onmicrosoft.com"
    )
    assert onboarding.run_worker(started) == "failed"
    cast.reseller_admin.language = "fr"
    cast.reseller_admin.save(update_fields=["language"])
    sign_in(client, cast.reseller_admin.username)
    with translation.override("fr"):
        page = client.get(
            reverse("tenant_onboard", args=[cast.customer.pk]), HTTP_ACCEPT_LANGUAGE="fr"
        )
        body = page.content.decode()
        assert "Liaison du tenant nobody-here.onmicrosoft.com" in body
        assert "Abandonner" in body and "no_relationship" in body
        detail = client.get(reverse("organisation_detail", args=[cast.customer.pk])).content
        assert "en cours de mise en service" in detail.decode()
    client.post(reverse("tenant_onboarding_action", args=[started.pk, "cancel"]))
    started.refresh_from_db()
    assert started.state == "rejected"
    body = client.get(reverse("tenant_onboard", args=[cast.customer.pk])).content.decode()
    assert 'id="create-tenant"' in body
