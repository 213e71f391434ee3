"""A vendor for the billing tests that need no network: its invoices and lines are made here,
its exports go through the same operation → manifest → files steps as Graph's."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

from seatkeeper.core.money import Money
from seatkeeper.providers import interface as i
from seatkeeper.providers.errors import NotFound, ProviderError
from seatkeeper.providers.microsoft import parsing


def line(
    invoice_id: str,
    *,
    tenant: str,
    name: str,
    total: str,
    currency: str = "EUR",
    subscription: str = "sub-1",
    charge: str = "cycleCharge",
    quantity: int = 1,
) -> i.InvoiceLineItem:
    amount = Money(Decimal(total), currency)
    unit = Money(Decimal(total) / quantity, currency)
    return i.InvoiceLineItem(
        invoice_id=invoice_id,
        customer_id=tenant,
        customer_name=name,
        order_id="order-1",
        subscription_id=subscription,
        product_id="CFQ7TTC0LH18",
        sku_id="0001",
        availability_id="CFQ7TTC0K5DP",
        product_name="Microsoft 365 Business Basic",
        sku_name="Microsoft 365 Business Basic",
        charge_type=charge,
        charge_kind=parsing.charge_kind(charge),
        unit_price=unit,
        effective_unit_price=unit,
        quantity=Decimal(quantity),
        subtotal=amount,
        tax_total=Money.zero(currency),
        total=amount,
        charge_start=dt.datetime(2026, 10, 1, tzinfo=dt.UTC),
        charge_end=dt.datetime(2026, 10, 31, tzinfo=dt.UTC),
        customer_domain_name=f"{name.lower().replace(' ', '')}.onmicrosoft.com",
        unit_type="Licenses",
        billable_quantity=Decimal(quantity),
        product_qualifiers=("AddOn",) if subscription.endswith("addon") else (),
        billing_frequency="Monthly",
        subscription_start=dt.date(2026, 1, 1),
        subscription_end=dt.date(2026, 12, 31),
        pricing_currency=currency,
        pc_to_bc_exchange_rate=Decimal(1),
    )


def invoice(
    invoice_id: str,
    *,
    total: str,
    currency: str = "EUR",
    paid: str = "0",
    period: dt.date = dt.date(2026, 10, 1),
    amendments: tuple[i.Invoice, ...] = (),
    providers: tuple[str, ...] = ("one_time",),
    document_type: str = "invoice",
    amends_id: str | None = None,
) -> i.Invoice:
    end = (period.replace(day=28) + dt.timedelta(days=4)).replace(day=1) - dt.timedelta(days=1)
    return i.Invoice(
        id=invoice_id,
        invoice_date=dt.datetime.combine(end + dt.timedelta(days=6), dt.time(), tzinfo=dt.UTC),
        period_start=period,
        period_end=end,
        total_charges=Money(Decimal(total), currency),
        paid_amount=Money(Decimal(paid), currency),
        document_type=document_type,
        invoice_type="OneTime",
        amends_id=amends_id,
        amendments=amendments,
        line_item_providers=providers,
    )


@dataclass
class FakeInvoicesProvider:
    """Invoices and their lines; exports take `export_polls` looks before they are done."""

    kind: str = "microsoft"
    invoices: list[i.Invoice] = field(default_factory=list)
    lines: dict[str, list[i.InvoiceLineItem]] = field(default_factory=dict)
    export_polls: int = 1
    export_failure: tuple[str, str] | None = None
    errors: list[ProviderError] = field(default_factory=list)  # raised by the next calls
    blob_errors: list[ProviderError] = field(default_factory=list)
    calls: list[str] = field(default_factory=list)
    _operations: dict[str, dict] = field(default_factory=dict)

    def close(self) -> None:
        pass

    def _call(self, name: str) -> None:
        self.calls.append(name)
        if self.errors:
            raise self.errors.pop(0)

    def list_invoices(self, *, page_size: int = 100) -> i.Listing[i.Invoice]:
        self._call("list_invoices")
        return i.Listing(list(self.invoices))

    def invoice_document(self, *, invoice_id: str) -> bytes:
        self._call(f"document {invoice_id}")
        return b"%PDF-1.4\n% statement of " + invoice_id.encode() + b"\n%%EOF\n"

    def list_invoice_line_items(
        self, *, invoice_id: str, page_size: int = 2000
    ) -> i.Listing[i.InvoiceLineItem]:
        self._call(f"v1 lines {invoice_id}")
        if invoice_id not in self.lines:
            raise NotFound(f"invoice {invoice_id} has no lines", http_status=404)
        return i.Listing(list(self.lines[invoice_id]))

    def start_billed_export(
        self, *, invoice_id: str, attribute_set: i.AttributeSet = i.AttributeSet.FULL
    ) -> i.ExportOperation:
        self._call(f"export {invoice_id}")
        location = f"https://graph.test/operations/{len(self._operations) + 1}"
        self._operations[location] = {"key": invoice_id, "polls": 0}
        return i.ExportOperation(
            location=location, id=location[-1], status=i.ExportStatus.NOT_STARTED, retry_after=5
        )

    def start_unbilled_export(
        self,
        *,
        billing_period: i.BillingPeriod,
        currency: str,
        attribute_set: i.AttributeSet = i.AttributeSet.FULL,
    ) -> i.ExportOperation:
        key = f"unbilled {billing_period} {currency}"
        self._call(key)
        location = f"https://graph.test/operations/{len(self._operations) + 1}"
        self._operations[location] = {"key": key, "polls": 0}
        return i.ExportOperation(
            location=location, id=location[-1], status=i.ExportStatus.NOT_STARTED, retry_after=5
        )

    def export_operation(self, *, location: str) -> i.ExportOperation:
        self._call("poll")
        operation = self._operations[location]
        operation["polls"] += 1
        if operation["polls"] < self.export_polls:
            return i.ExportOperation(
                location=location, id="1", status=i.ExportStatus.RUNNING, retry_after=30
            )
        if self.export_failure or operation["key"] not in self.lines:
            code, message = self.export_failure or ("5000", "No data available")
            return i.ExportOperation(
                location=location,
                id="1",
                status=i.ExportStatus.FAILED,
                error_code=code,
                error_message=message,
            )
        return i.ExportOperation(
            location=location,
            id="1",
            status=i.ExportStatus.SUCCEEDED,
            manifest_location=f"{location}/manifest",
        )

    def export_manifest(self, *, location: str) -> i.ExportManifest:
        self._call("manifest")
        key = self._operations[location.removesuffix("/manifest")]["key"]
        count = len(self.lines[key])
        return i.ExportManifest(
            id=key,
            schema_version="2",
            data_format="compressedJSON",
            partner_tenant_id="p",
            root_directory=f"https://storage.test/{key}",
            sas_token="sig=1",
            partition_type="default",
            blob_count=2,
            blobs=(
                i.ExportBlob(name=f"0:{count // 2}"),
                i.ExportBlob(name=f"{count // 2}:{count}"),
            ),
            etag=f"etag-{count}",
        )

    def export_blob_lines(
        self, *, manifest: i.ExportManifest, blob: i.ExportBlob, invoice_id: str = ""
    ) -> i.Listing[i.InvoiceLineItem]:
        self._call(f"blob {blob.name}")
        if self.blob_errors:
            raise self.blob_errors.pop(0)
        start, end = (int(x) for x in blob.name.split(":"))
        return i.Listing(self.lines[manifest.id][start:end])
