"""`seatkeeper connect_sandbox var/sandbox/sandbox.json`: point the demo partner at a running
Partner Center sandbox, exactly as an operator would point it at the real service.

It registers the provider account (secrets encrypted; consent granted through the sandbox's
admin API instead of a browser), creates the Microsoft vendor and imports its catalog over HTTP,
and links the demo customers to the sandbox's demo tenants. Idempotent.
"""

from __future__ import annotations

import json
from pathlib import Path

import httpx
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from seatkeeper.accounts.models import Organisation, OrganisationKind
from seatkeeper.activity.services import activity_record
from seatkeeper.catalog import services as catalog_services
from seatkeeper.catalog.models import Vendor, VendorKind
from seatkeeper.providers.models import ProviderAccount, ProviderKind
from seatkeeper.subscriptions import services as subscription_services


def _consented_refresh_token(info: dict) -> str:
    with httpx.Client(base_url=info["base_url"], verify=info["ca_cert"], timeout=30) as client:
        response = client.post(
            "/_sandbox/refresh-token", json={}, headers={"X-Sandbox-Key": info["admin_key"]}
        )
        response.raise_for_status()
        return response.json()["refresh_token"]


class Command(BaseCommand):
    help = "Connect the demo partner to a running Partner Center sandbox (idempotent)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("sandbox_json", type=Path)
        parser.add_argument(
            "--partner", default=None, help="partner name (default: the first partner)"
        )
        parser.add_argument(
            "--demo-orders",
            action="store_true",
            help="also order the demo subscriptions (once); the worker provisions them",
        )

    def handle(
        self, *args, sandbox_json: Path, partner: str | None, demo_orders: bool, **options
    ) -> None:
        try:
            info = json.loads(sandbox_json.read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            raise CommandError(f"cannot read {sandbox_json}: {error}") from error
        partners = Organisation.objects.filter(kind=OrganisationKind.PARTNER).order_by("pk")
        organisation = partners.filter(name=partner).first() if partner else partners.first()
        if organisation is None:
            raise CommandError("no partner organisation: run `seatkeeper demo` first")
        account = self._account(organisation, info)
        vendor = Vendor.objects.filter(organisation=organisation, provider_account=account).first()
        if vendor is None:
            vendor = catalog_services.vendor_create(
                actor=None,
                partner=organisation,
                name="Microsoft",
                kind=VendorKind.API,
                provider_account=account,
                country=organisation.country,
            )
        refresh = catalog_services.catalog_refresh(vendor=vendor)
        self.stdout.write(
            f"Catalog imported from the sandbox: {refresh.status}, "
            f"{refresh.new_count} new, {refresh.changed_count} changed"
        )
        customers = Organisation.objects.filter(
            kind=OrganisationKind.CUSTOMER, path__startswith=organisation.path
        ).order_by("pk")
        for customer, tenant in zip(customers, info.get("demo_customers", []), strict=False):
            subscription_services.tenant_link(
                actor=None,
                customer=customer,
                account=account,
                vendor_customer_id=tenant["tenant_id"],
                domain=tenant["domain"],
            )
        self.stdout.write(f"Partner Center sandbox connected at {info['base_url']}")
        if demo_orders:
            from seatkeeper.subscriptions.demo import place_orders

            self.stdout.write(f"Demo orders placed: {place_orders()}")
        if demo_orders:
            from seatkeeper.subscriptions.demo import place_orders

            self.stdout.write(f"Demo orders placed: {place_orders()}")

    @transaction.atomic
    def _account(self, organisation: Organisation, info: dict) -> ProviderAccount:
        account = ProviderAccount.objects.filter(
            organisation=organisation,
            kind=ProviderKind.MICROSOFT,
            partner_tenant_id=info["partner_tenant_id"],
        ).first()
        created = account is None
        if created:
            account = ProviderAccount(
                organisation=organisation,
                kind=ProviderKind.MICROSOFT,
                partner_tenant_id=info["partner_tenant_id"],
            )
        account.name = f"Partner Center sandbox ({info.get('partner_name', 'demo')})"
        account.application_id = info["client_id"]
        account.set_application_secret(info["client_secret"])
        account.authority_url = info["authority_url"]
        account.api_base_url = info["base_url"]
        account.ca_bundle_path = info["ca_cert"]
        if created or not account.refresh_token:
            account.set_refresh_token(_consented_refresh_token(info))
        account.save()
        if created:
            activity_record(
                actor=None,
                organisation=organisation,
                obj=account,
                operation="provider_account.create",
                details={"base_url": info["base_url"]},
            )
        return account
