"""The provider interface: what domain code may ask of any licence vendor, in our own types.

Everything here is a frozen dataclass or an enum. Money is `Money` (Decimal), times are aware UTC
datetimes, calendar dates (commitment ends, billing periods) are `date`. Implementations live in
sub-packages (`microsoft/`) and are resolved by kind through `registry.get_provider()`; nothing
outside those packages speaks HTTP. Failures raise `seatkeeper.providers.errors.ProviderError`.

Listing methods return lazy iterators: pages are fetched as the caller consumes them, so a
discovery run can stop between pages and never holds a whole tenant in memory.

One record the connector cannot read (a date it cannot parse, an audit record without an id)
never aborts a listing: it is left out, logged with its raw text, and counted. Listings say how
many they skipped: a lazy `Listing` and a `RecordList` (a list) through `.skipped` and
`.skipped_records`, a `Page` through the fields of the same names. Read `.skipped` after
consuming a lazy listing: it grows as pages are read.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import IO, Protocol, runtime_checkable

from seatkeeper.core.money import Money


class TermDuration(enum.StrEnum):
    """ISO-8601 durations the vendor uses for commitment terms."""

    ONE_MONTH = "P1M"
    ONE_YEAR = "P1Y"
    THREE_YEARS = "P3Y"
    FIVE_YEARS = "P5Y"


class BillingCycle(enum.StrEnum):
    MONTHLY = "monthly"
    ANNUAL = "annual"
    TRIENNIAL = "triennial"
    ONE_TIME = "one_time"
    NONE = "none"  # trials and free items
    UNKNOWN = "unknown"


class SubscriptionStatus(enum.StrEnum):
    PENDING = "pending"
    ACTIVE = "active"
    SUSPENDED = "suspended"
    EXPIRED = "expired"
    DISABLED = "disabled"
    DELETED = "deleted"  # cancelled
    UNKNOWN = "unknown"


class OrderStatus(enum.StrEnum):
    PENDING = "pending"
    COMPLETED = "completed"
    CANCELLED = "cancelled"
    FAILED = "failed"
    UNKNOWN = "unknown"


class UserState(enum.StrEnum):
    ACTIVE = "active"
    DELETED = "deleted"  # soft-deleted, restorable for a while


class ChargeType(enum.StrEnum):
    """What a reconciliation line charges for, as New Commerce names it. Vendors also send
    capitalised or legacy names ("New", "purchase", "Cycle fee"); those map here, anything else
    is UNKNOWN and the vendor's own text stays on the line."""

    NEW = "new"
    RENEW = "renew"
    CYCLE_CHARGE = "cycleCharge"
    ADD_QUANTITY = "addQuantity"
    REMOVE_QUANTITY = "removeQuantity"
    MOVE_QUANTITY = "moveQuantity"
    CANCEL_IMMEDIATE = "cancelImmediate"
    CONVERT = "convert"
    CHANGE_BILLING_PLAN = "changeBillingPlan"
    CUSTOMER_CREDIT = "customerCredit"
    EXTEND_TERM = "extendTerm"
    UNKNOWN = "unknown"


# --- listings -------------------------------------------------------------------------------

# How many skipped records a listing keeps for its report; all of them are counted and logged.
SKIPPED_RECORDS_KEPT = 100


@dataclass(frozen=True, slots=True, kw_only=True)
class SkippedRecord:
    """A record left out of a listing because it could not be read."""

    kind: str  # "customer", "subscription", "audit record", ...
    reason: str
    raw: str  # the vendor's JSON text of the record, cut at a few kilobytes


@dataclass(slots=True)
class SkipLog:
    """The records a listing skipped: every one counted, the first `SKIPPED_RECORDS_KEPT` kept."""

    count: int = 0
    records: list[SkippedRecord] = field(default_factory=list)

    def add(self, record: SkippedRecord) -> None:
        self.count += 1
        if len(self.records) < SKIPPED_RECORDS_KEPT:
            self.records.append(record)

    def merge(self, other: SkipLog) -> None:
        self.count += other.count
        room = SKIPPED_RECORDS_KEPT - len(self.records)
        self.records.extend(other.records[: max(room, 0)])


class Listing[Item](Iterator[Item]):
    """A lazy listing that also tells how many records it had to skip so far."""

    def __init__(self, items: Iterable[Item], skips: SkipLog | None = None) -> None:
        self._items = iter(items)
        self.skips = skips if skips is not None else SkipLog()

    def __iter__(self) -> Listing[Item]:
        return self

    def __next__(self) -> Item:
        return next(self._items)

    @property
    def skipped(self) -> int:
        return self.skips.count

    @property
    def skipped_records(self) -> tuple[SkippedRecord, ...]:
        return tuple(self.skips.records)


class RecordList[Item](list[Item]):
    """A complete (single-page) listing: a plain list that also tells what it skipped."""

    def __init__(self, items: Iterable[Item] = (), skips: SkipLog | None = None) -> None:
        super().__init__(items)
        self.skips = skips if skips is not None else SkipLog()

    @property
    def skipped(self) -> int:
        return self.skips.count

    @property
    def skipped_records(self) -> tuple[SkippedRecord, ...]:
        return tuple(self.skips.records)


@dataclass(frozen=True, slots=True, kw_only=True)
class Page[Item]:
    """One page of a long listing. `next_cursor` is opaque text to store and pass back for the
    following page (so a crashed discovery resumes where it stopped); None on the last page.
    Vendors' continuation tokens expire, so a cursor is for resuming soon, not for archiving.
    `skipped` counts the records of this page that could not be read (left out of `items`)."""

    items: tuple[Item, ...]
    next_cursor: str | None
    skipped: int = 0
    skipped_records: tuple[SkippedRecord, ...] = ()


# --- customers -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Address:
    country: str
    city: str
    postal_code: str
    address_line1: str
    address_line2: str = ""
    state: str = ""
    region: str = ""
    first_name: str = ""
    last_name: str = ""
    phone_number: str = ""
    email: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class NewCustomer:
    """What creating a tenant needs. `domain` is the full initial domain (x.onmicrosoft.com)."""

    domain: str
    company_name: str
    email: str
    address: Address
    culture: str = "en-US"
    language: str = "en"
    associated_partner_id: str | None = None  # the indirect reseller, when there is one


@dataclass(frozen=True, slots=True, kw_only=True)
class Customer:
    id: str  # the customer's tenant id at the vendor
    domain: str
    company_name: str
    relationship: str = ""
    associated_partner_id: str | None = None
    commerce_id: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class BillingProfile:
    """Who to bill at a customer (Partner Center's ``profiles/billing``): its contact and
    default address, as the partner recorded them when the tenant was created or since."""

    company_name: str
    first_name: str = ""
    last_name: str = ""
    email: str = ""
    culture: str = ""
    language: str = ""
    address: Address | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class CreatedCustomer:
    """A new tenant plus the first administrator's credentials, shown once and never stored."""

    customer: Customer
    admin_user_name: str
    admin_password: str = field(repr=False)


@dataclass(frozen=True, slots=True, kw_only=True)
class CountryRules:
    """A market's address rules at the vendor (Partner Center's country validation rules)."""

    country: str
    default_culture: str = ""
    state_required: bool = False
    states: tuple[str, ...] = ()
    languages: tuple[str, ...] = ()
    cultures: tuple[str, ...] = ()
    postal_code_required: bool = True
    postal_code_regex: str = ""
    city_required: bool = True
    phone_required: bool = False
    phone_regex: str = ""


class AgreementType(enum.StrEnum):
    MICROSOFT_CUSTOMER_AGREEMENT = "MicrosoftCustomerAgreement"
    MICROSOFT_CLOUD_AGREEMENT = "MicrosoftCloudAgreement"


@dataclass(frozen=True, slots=True, kw_only=True)
class AgreementAcceptance:
    """The customer's acceptance of an agreement, confirmed by the partner on its behalf: who at
    the customer accepted it, and when."""

    first_name: str
    last_name: str
    email: str
    accepted_at: dt.datetime
    phone_number: str = ""
    type: AgreementType = AgreementType.MICROSOFT_CUSTOMER_AGREEMENT


@dataclass(frozen=True, slots=True, kw_only=True)
class Agreement:
    type: str
    template_id: str
    accepted_at: dt.datetime | None
    email: str = ""
    confirmed_by: str = ""  # the partner user who confirmed it


# --- catalog -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Product:
    id: str
    title: str
    description: str = ""
    product_type: str = ""
    product_sub_type: str = ""
    publisher: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class Sku:
    id: str
    product_id: str
    title: str
    description: str = ""
    minimum_quantity: int = 1
    maximum_quantity: int | None = None
    is_trial: bool = False
    is_addon: bool = False
    # "productId:skuId" of the base SKUs an add-on may attach to.
    prerequisite_skus: tuple[str, ...] = ()
    supported_billing_cycles: tuple[BillingCycle, ...] = ()
    # The licence SKU the tenant's users are given for it (Microsoft: the directory's SKU id,
    # dynamicAttributes.provisioningId; the same id the licences and subscribed SKUs carry).
    provisioning_id: str = ""

    @property
    def key(self) -> str:
        return f"{self.product_id}:{self.sku_id}"

    @property
    def sku_id(self) -> str:
        return self.id


@dataclass(frozen=True, slots=True, kw_only=True)
class Term:
    duration: str  # a TermDuration value; kept as str so unknown vendor terms still load
    billing_cycle: BillingCycle
    description: str = ""
    # Per licence per billing cycle, when the vendor exposes prices in its catalog: the
    # partner's cost and the vendor's estimated retail price.
    price: Money | None = None
    retail_price: Money | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Availability:
    id: str
    product_id: str
    sku_id: str
    catalog_item_id: str  # what an order line names
    segment: str
    country: str
    currency: str
    is_purchasable: bool = True
    is_renewable: bool = True
    terms: tuple[Term, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class CatalogOffer:
    """One SKU with everything needed to sell it: its product and its current availabilities."""

    product: Product
    sku: Sku
    availabilities: tuple[Availability, ...]


# --- orders and subscriptions ---------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderLine:
    catalog_item_id: str
    quantity: int
    term_duration: str
    billing_cycle: BillingCycle
    friendly_name: str = ""
    partner_id_on_record: str | None = None
    # For an add-on: the base subscription it attaches to (else the vendor picks a base).
    parent_subscription_id: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderLineItem:
    line_number: int
    offer_id: str
    quantity: int
    term_duration: str = ""
    friendly_name: str = ""
    subscription_id: str | None = None  # appears once the vendor has provisioned the line
    parent_subscription_id: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Order:
    id: str
    customer_id: str
    status: OrderStatus
    billing_cycle: BillingCycle
    currency: str
    created_at: dt.datetime | None
    lines: tuple[OrderLineItem, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class NextTerm:
    """What a subscription becomes when it renews (Partner Center's
    ``scheduledNextTermInstructions``): same product, possibly another quantity, term or cycle."""

    quantity: int
    term_duration: str
    billing_cycle: BillingCycle


@dataclass(frozen=True, slots=True, kw_only=True)
class RefundWindow:
    """A New Commerce refund option (``refundOptions[]``): "Full" in the first hours after
    purchase or renewal, then "Partial" until the cancellation window closes."""

    kind: str  # "Full" or "Partial", as the vendor names it
    expires_at: dt.datetime | None


@dataclass(frozen=True, slots=True, kw_only=True)
class RefundableLot:
    """Seats that may still be taken back (``refundableQuantity.details[]``): each purchase or
    seat increase is a lot with its own window."""

    quantity: int
    allowed_until: dt.datetime | None


@dataclass(frozen=True, slots=True, kw_only=True)
class Subscription:
    id: str
    customer_id: str
    offer_id: str
    offer_name: str
    friendly_name: str
    quantity: int
    status: SubscriptionStatus
    billing_cycle: BillingCycle
    term_duration: str = ""
    unit_type: str = ""
    auto_renew: bool = False
    is_trial: bool = False
    parent_subscription_id: str | None = None
    order_id: str | None = None
    partner_id: str | None = None
    created_at: dt.datetime | None = None
    effective_start: dt.datetime | None = None
    commitment_end: dt.date | None = None
    cancellation_allowed_until: dt.datetime | None = None
    refundable_quantity: int = 0
    suspension_reasons: tuple[str, ...] = ()
    next_term: NextTerm | None = None  # the changes scheduled for renewal, if any
    # The windows behind `cancellation_allowed_until` and `refundable_quantity`, as sent.
    refund_windows: tuple[RefundWindow, ...] = ()
    refundable_lots: tuple[RefundableLot, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class SubscriptionUpdate:
    """The fields to change; None leaves a field as it is."""

    quantity: int | None = None
    friendly_name: str | None = None
    auto_renew: bool | None = None
    status: SubscriptionStatus | None = None  # ACTIVE (reactivate), SUSPENDED, DELETED (cancel)
    # Changes at renewal: `next_term` schedules them, `clear_next_term` removes any scheduled.
    next_term: NextTerm | None = None
    clear_next_term: bool = False


# --- users and licences ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class TenantUser:
    id: str
    user_principal_name: str
    display_name: str
    first_name: str = ""
    last_name: str = ""
    usage_location: str = ""
    state: UserState = UserState.ACTIVE
    deleted_at: dt.datetime | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class NewTenantUser:
    user_principal_name: str
    display_name: str
    first_name: str
    last_name: str
    usage_location: str
    password: str = field(repr=False)
    force_change_password: bool = True


@dataclass(frozen=True, slots=True, kw_only=True)
class TenantUserUpdate:
    display_name: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    usage_location: str | None = None
    user_principal_name: str | None = None
    # A password reset (Partner Center: `passwordProfile` in the same PATCH).
    password: str | None = field(default=None, repr=False)
    force_change_password: bool = True


@dataclass(frozen=True, slots=True, kw_only=True)
class SubscribedSku:
    """A licence pool in the tenant: what the subscriptions bought and how much is used."""

    sku_id: str
    sku_part_number: str
    name: str
    total_units: int
    consumed_units: int
    active_units: int
    suspended_units: int = 0
    warning_units: int = 0
    target_type: str = "User"

    @property
    def available_units(self) -> int:
        return self.total_units - self.consumed_units


@dataclass(frozen=True, slots=True, kw_only=True)
class UserLicence:
    sku_id: str
    sku_part_number: str
    name: str


@dataclass(frozen=True, slots=True, kw_only=True)
class LicenceChangeResult:
    assigned: tuple[str, ...]
    removed: tuple[str, ...]
    warnings: tuple[str, ...] = ()


# --- billing and audit -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Invoice:
    id: str
    invoice_date: dt.datetime | None
    period_start: dt.date | None
    period_end: dt.date | None
    total_charges: Money
    paid_amount: Money
    # "invoice", "credit_note", "adjustment_note", "void_note" (lower case, words joined by _)
    document_type: str = "invoice"
    invoice_type: str = ""
    # For an amendment: the document it amends. On an invoice: its credit and adjustment notes.
    amends_id: str | None = None
    amendments: tuple[Invoice, ...] = ()
    # Where its reconciliation lines come from (`invoiceDetails[].billingProvider`): "one_time"
    # for New Commerce, "office" / "azure" for legacy licence-based and usage invoices.
    line_item_providers: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class InvoiceLineItem:
    """One reconciliation line: a charge or a refund for a subscription over a period."""

    invoice_id: str
    customer_id: str
    customer_name: str
    order_id: str
    subscription_id: str
    product_id: str
    sku_id: str
    availability_id: str
    product_name: str
    sku_name: str
    charge_type: str
    unit_price: Money
    effective_unit_price: Money
    quantity: Decimal
    subtotal: Money
    tax_total: Money
    total: Money
    charge_start: dt.datetime | None
    charge_end: dt.datetime | None
    term_and_billing_cycle: str = ""
    reference_id: str = ""
    # `charge_type` is the vendor's text ("new", "New", "cycleCharge"); this is its meaning.
    charge_kind: ChargeType = ChargeType.UNKNOWN
    customer_domain_name: str = ""
    order_date: dt.datetime | None = None
    unit_type: str = ""
    billable_quantity: Decimal | None = None
    product_qualifiers: tuple[str, ...] = ()  # "AddOn", "Trial"
    billing_frequency: str = ""  # "Monthly", or "" for charges billed once
    subscription_start: dt.date | None = None
    subscription_end: dt.date | None = None
    # Prices are set in `pricing_currency` and billed in the line's currency at this rate.
    pricing_currency: str = ""
    pc_to_bc_exchange_rate: Decimal | None = None
    pc_to_bc_exchange_rate_date: dt.date | None = None
    customer_country: str = ""
    subscription_description: str = ""
    reseller_mpn_id: str = ""  # the indirect reseller on record, when there is one
    alternate_id: str = ""
    publisher_name: str = ""
    credit_reason_code: str = ""
    promotion_id: str = ""


# --- reconciliation exports (Microsoft Graph, billed invoice reconciliation API v2) -------------


class AttributeSet(enum.StrEnum):
    """How much of each line an export carries: every attribute, or a documented subset."""

    FULL = "full"
    BASIC = "basic"


class BillingPeriod(enum.StrEnum):
    """The open (unbilled) period an unbilled export covers."""

    CURRENT = "current"
    LAST = "last"


class ExportStatus(enum.StrEnum):
    NOT_STARTED = "notStarted"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True, kw_only=True)
class ExportOperation:
    """A long-running export at the vendor. Poll `location` until it is done; a running one says
    when to look again (`retry_after`, seconds). A succeeded one names its manifest."""

    location: str
    id: str
    status: ExportStatus
    retry_after: float | None = None
    manifest_location: str | None = None
    error_code: str = ""
    error_message: str = ""
    created_at: dt.datetime | None = None
    last_action_at: dt.datetime | None = None

    @property
    def is_done(self) -> bool:
        return self.status in (ExportStatus.SUCCEEDED, ExportStatus.FAILED)


@dataclass(frozen=True, slots=True, kw_only=True)
class ExportBlob:
    name: str
    partition_value: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class ExportManifest:
    """Where an export's files are: `blobs` under `root_directory`, readable with `sas_token`
    (a shared-access signature: whoever holds it may read the files until it expires)."""

    id: str
    schema_version: str
    data_format: str
    partner_tenant_id: str
    root_directory: str
    sas_token: str = field(repr=False)
    partition_type: str
    blob_count: int
    blobs: tuple[ExportBlob, ...]
    etag: str = ""
    created_at: dt.datetime | None = None

    def blob_url(self, blob: ExportBlob) -> str:
        """`{rootDirectory}/{name}?{sasToken}`, as Microsoft's samples build it."""
        token = self.sas_token.lstrip("?")
        return f"{self.root_directory.rstrip('/')}/{blob.name}" + (f"?{token}" if token else "")


@dataclass(frozen=True, slots=True, kw_only=True)
class AuditRecord:
    # The vendor's id is built from partner, customer, operation and time; two operations in
    # the same tick can share it, so (id, correlation_id) is the safer key for de-duplication.
    id: str
    operation_type: str
    operation_status: str
    operation_date: dt.datetime
    resource_type: str
    customer_id: str = ""
    customer_name: str = ""
    user_principal_name: str = ""
    application_id: str = ""
    correlation_id: str = ""
    resource_new_value: str = ""  # the vendor's JSON text, kept as text
    # `customizedData` as sent: a value the vendor sent as null stays None.
    details: Mapping[str, str | None] = field(default_factory=dict)
    resource_old_value: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class ConnectionCheck:
    """What a connection test proved: the application's credentials always (or it raised), the
    partner's delegated consent (App+User, Secure Application Model) when `user_consent`."""

    user_consent: bool


# --- the interface ----------------------------------------------------------------------------


@runtime_checkable
class Provider(Protocol):
    """A vendor connector bound to one provider account (one partner's credentials)."""

    kind: str

    def close(self) -> None:
        """Release pooled connections; also available as `with get_provider(...) as p:`."""
        ...

    @property
    def calls_made(self) -> int:
        """Requests sent to the vendor by this connector so far, retries included."""
        ...

    def check_connection(self) -> ConnectionCheck:
        """Prove the credentials with the vendor (tokens and one small read); raises
        ProviderError (AuthFailed for refused credentials) when they do not work."""
        ...

    # customers
    def check_domain_available(self, *, domain: str) -> bool: ...
    def country_rules(self, *, country: str) -> CountryRules: ...
    def relationship_request_url(self) -> str:
        """The link a customer follows to accept the partner as its reseller."""
        ...

    def confirm_agreement(
        self, *, customer_id: str, acceptance: AgreementAcceptance
    ) -> Agreement: ...
    def list_agreements(self, *, customer_id: str) -> list[Agreement]: ...
    def create_customer(self, *, customer: NewCustomer, request_key: str) -> CreatedCustomer: ...
    def get_customer(self, *, customer_id: str) -> Customer: ...
    def get_billing_profile(self, *, customer_id: str) -> BillingProfile: ...
    def find_customer_by_domain(self, *, domain: str) -> Customer | None:
        """The partner's customer whose tenant has `domain` (None: not a customer of ours)."""
        ...

    def list_customers(self, *, page_size: int = 500) -> Listing[Customer]: ...
    def customers_page(
        self, *, cursor: str | None = None, page_size: int = 500
    ) -> Page[Customer]: ...

    # catalog
    def list_products(self, *, country: str, segment: str | None = None) -> Listing[Product]: ...
    def list_skus(self, *, product_id: str, country: str) -> RecordList[Sku]: ...
    def list_availabilities(
        self, *, product_id: str, sku_id: str, country: str, segment: str | None = None
    ) -> RecordList[Availability]: ...
    def catalog(self, *, country: str, segment: str | None = None) -> Listing[CatalogOffer]: ...

    # orders
    def create_order(
        self, *, customer_id: str, lines: Sequence[OrderLine], request_key: str
    ) -> list[Order]: ...
    def get_order(self, *, customer_id: str, order_id: str) -> Order: ...

    # subscriptions
    def get_subscription(self, *, customer_id: str, subscription_id: str) -> Subscription: ...
    def list_subscriptions(
        self, *, customer_id: str, order_id: str | None = None
    ) -> RecordList[Subscription]: ...
    def list_addons(
        self, *, customer_id: str, subscription_id: str
    ) -> RecordList[Subscription]: ...
    def update_subscription(
        self,
        *,
        customer_id: str,
        subscription_id: str,
        change: SubscriptionUpdate,
        stale_retries: int = 1,
        before_write: Callable[[], None] | None = None,
    ) -> Subscription: ...
    def suspend_subscription(self, *, customer_id: str, subscription_id: str) -> Subscription: ...
    def reactivate_subscription(
        self, *, customer_id: str, subscription_id: str
    ) -> Subscription: ...
    def cancel_subscription(self, *, customer_id: str, subscription_id: str) -> Subscription: ...

    # users and licences
    def list_users(
        self, *, customer_id: str, deleted: bool = False, page_size: int = 500
    ) -> Listing[TenantUser]: ...
    def users_page(
        self,
        *,
        customer_id: str,
        cursor: str | None = None,
        deleted: bool = False,
        page_size: int = 500,
    ) -> Page[TenantUser]: ...
    def get_user(self, *, customer_id: str, user_id: str) -> TenantUser: ...
    def create_user(
        self, *, customer_id: str, user: NewTenantUser, request_key: str
    ) -> TenantUser: ...
    def update_user(
        self, *, customer_id: str, user_id: str, change: TenantUserUpdate
    ) -> TenantUser: ...
    def delete_user(self, *, customer_id: str, user_id: str) -> None: ...
    def restore_user(self, *, customer_id: str, user_id: str) -> TenantUser: ...
    def list_subscribed_skus(self, *, customer_id: str) -> RecordList[SubscribedSku]: ...
    def list_user_licences(self, *, customer_id: str, user_id: str) -> RecordList[UserLicence]: ...
    def change_user_licences(
        self,
        *,
        customer_id: str,
        user_id: str,
        assign: Sequence[str] = (),
        remove: Sequence[str] = (),
    ) -> LicenceChangeResult: ...

    # billing and audit
    def list_invoices(self, *, page_size: int = 100) -> Listing[Invoice]: ...
    def get_invoice(self, *, invoice_id: str) -> Invoice: ...
    def list_invoice_line_items(
        self, *, invoice_id: str, page_size: int = 2000
    ) -> Listing[InvoiceLineItem]: ...
    def invoice_document(self, *, invoice_id: str) -> bytes:
        """The invoice's PDF statement."""
        ...

    # prices (the catalog carries none: the vendor publishes a price sheet per market)
    def download_price_sheet(self, *, market: str, into: IO[bytes], month: str = "") -> None:
        """Stream the license-based price sheet of `market` (two letters) into `into`, as the
        vendor sends it (a CSV, or the CSV zipped); `month` (YYYYMM) asks for a past month."""
        ...

    # reconciliation exports (asynchronous: start, poll the operation, read the manifest's files)
    def start_billed_export(
        self, *, invoice_id: str, attribute_set: AttributeSet = AttributeSet.FULL
    ) -> ExportOperation: ...
    def start_unbilled_export(
        self,
        *,
        billing_period: BillingPeriod,
        currency: str,
        attribute_set: AttributeSet = AttributeSet.FULL,
    ) -> ExportOperation: ...
    def export_operation(self, *, location: str) -> ExportOperation: ...
    def export_manifest(self, *, location: str) -> ExportManifest: ...
    def export_blob_lines(
        self, *, manifest: ExportManifest, blob: ExportBlob, invoice_id: str = ""
    ) -> Listing[InvoiceLineItem]:
        """The lines of one file, streamed: read and decompressed as the caller iterates."""
        ...

    def list_audit_records(
        self, *, since: dt.date, until: dt.date | None = None
    ) -> Listing[AuditRecord]: ...
    def audit_records_page(
        self,
        *,
        since: dt.date,
        until: dt.date | None = None,
        cursor: str | None = None,
        page_size: int = 500,
    ) -> Page[AuditRecord]: ...
