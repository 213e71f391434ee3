"""MicrosoftProvider: the provider interface implemented over Partner Center's REST protocol.

Listings read each record on its own (`parsing.readable`): one the connector cannot read is left
out, logged with its raw text and counted on the listing (`.skipped`), the others still load.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import IO, TYPE_CHECKING, Any
from urllib.parse import quote

import httpx

from seatkeeper.core import clock
from seatkeeper.providers import interface as i
from seatkeeper.providers.errors import (
    NotFound,
    ProviderError,
    StaleVersion,
    UnexpectedResponse,
    ValidationFailed,
)
from seatkeeper.providers.microsoft import parsing
from seatkeeper.providers.microsoft.auth import Credentials, TokenKind, shared_token_source
from seatkeeper.providers.microsoft.budget import ThrottleBudget
from seatkeeper.providers.microsoft.client import PartnerCenterClient, decode, new_id
from seatkeeper.providers.microsoft.graph import GraphBilling
from seatkeeper.providers.microsoft.retry import RetryPolicy
from seatkeeper.providers.ratelimit import RateLimiter, default_store

if TYPE_CHECKING:
    from seatkeeper.providers.models import ProviderAccount

# Namespace for turning a caller's operation key into stable MS-RequestId values, so that the
# same operation retried by a task (even from another process, after a crash) is recognised by
# Partner Center as a repeat rather than a second purchase.
REQUEST_ID_NAMESPACE = uuid.UUID("6f1c8a2e-6c0b-4b8e-9f55-2d1b6f0c9a41")

USER = TokenKind.USER  # users, licences, provisioning status need App+User tokens

# The price sheet is served by Microsoft's "partner" API host, not the Partner Center API host.
MICROSOFT_PRICING_BASE_URL = "https://api.partner.microsoft.com"
PRICE_SHEET_VIEW = "updatedlicensebased"


def pricing_base_url(api_base_url: str) -> str:
    """Where the price sheet is asked for: `settings.MICROSOFT_PRICING_BASE_URL` when set;
    Microsoft's pricing host for Microsoft's API; otherwise the API host itself (the sandbox,
    or a proxy, serves the price sheet on its own host)."""
    from django.conf import settings

    from seatkeeper.providers.models import MICROSOFT_API_BASE_URL

    configured = getattr(settings, "MICROSOFT_PRICING_BASE_URL", "")
    if configured:
        return configured.rstrip("/")
    if api_base_url.rstrip("/") == MICROSOFT_API_BASE_URL:
        return MICROSOFT_PRICING_BASE_URL
    return api_base_url.rstrip("/")


def request_id_for(request_key: str, step: str) -> str:
    return str(uuid.uuid5(REQUEST_ID_NAMESPACE, f"{request_key}:{step}"))


def _segment(value: str) -> str:
    return quote(value, safe="")


def _listing[Item](
    records: Iterable[Any], read: Callable[[Mapping[str, Any]], Item], kind: str
) -> i.Listing[Item]:
    skips = i.SkipLog()
    return i.Listing(parsing.readable(records, read, kind=kind, skips=skips), skips)


def _record_list[Item](
    records: Iterable[Any], read: Callable[[Mapping[str, Any]], Item], kind: str
) -> i.RecordList[Item]:
    skips = i.SkipLog()
    return i.RecordList(parsing.readable(records, read, kind=kind, skips=skips), skips)


def _page[Item](
    records: list[Any],
    next_cursor: str | None,
    read: Callable[[Mapping[str, Any]], Item],
    kind: str,
) -> i.Page[Item]:
    skips = i.SkipLog()
    items = tuple(parsing.readable(records, read, kind=kind, skips=skips))
    return i.Page(
        items=items,
        next_cursor=next_cursor,
        skipped=skips.count,
        skipped_records=tuple(skips.records),
    )


class MicrosoftProvider:
    kind = "microsoft"

    def __init__(self, *, client: PartnerCenterClient, graph: GraphBilling | None = None) -> None:
        self.client = client
        # Reconciliation exports live on Microsoft Graph: another host, another token.
        self.graph = graph

    @classmethod
    def from_account(
        cls,
        account: ProviderAccount,
        *,
        sleep: Callable[[float], None] = clock.sleep,
        retry: RetryPolicy | None = None,
        timeout: httpx.Timeout | None = None,
        limiter: RateLimiter | None = None,
        budget: ThrottleBudget | None = None,
        max_connections: int = 20,
        throttle_patience: float | None = None,
    ) -> MicrosoftProvider:
        """Build the connector for one provider account (decrypting its secrets).

        `throttle_patience`: the longest a call waits for a Retry-After or the shared rate
        limiter before Throttled reaches the caller (with how long the vendor asked to wait), for
        callers that have other work to do meanwhile; None waits as the retry policy allows."""
        ca_bundle = account.ca_bundle_path or None
        credentials = Credentials(
            authority_host=account.authority_url,
            tenant_id=account.partner_tenant_id,
            client_id=account.application_id,
            client_secret=account.application_secret,
            ca_bundle=ca_bundle,
        )
        account_pk = account.pk

        def store_refresh_token(token: str) -> None:
            # Written straight away: a rotated refresh token lost here means a new consent.
            from seatkeeper.core import crypto
            from seatkeeper.providers.models import ProviderAccount

            ProviderAccount.objects.filter(pk=account_pk).update(
                refresh_token_encrypted=crypto.encrypt(token),
                refresh_token_updated_at=clock.now(),
            )

        def record_redemption() -> None:
            from seatkeeper.providers.services import account_token_redeemed

            account_token_redeemed(account_id=account_pk)

        def record_consent_lost(refresh_token: str, error: str, description: str) -> None:
            from seatkeeper.providers.services import account_consent_lost

            account_consent_lost(
                account_id=account_pk,
                refresh_token=refresh_token,
                error=error,
                description=description,
            )

        tokens = shared_token_source(
            credentials=credentials,
            refresh_token=account.refresh_token,
            on_refresh_token=store_refresh_token,
            scope=f"account:{account_pk}",
            on_redeemed=record_redemption,
            on_consent_lost=record_consent_lost,
        )
        budget = budget or ThrottleBudget.from_settings()
        if throttle_patience is not None:
            retry = dataclasses.replace(retry or RetryPolicy(), max_retry_after=throttle_patience)
        limiter = limiter or RateLimiter(
            store=default_store(), sleep=sleep, max_wait=throttle_patience
        )
        account_key = str(account_pk)
        client = PartnerCenterClient(
            base_url=account.api_base_url,
            tokens=tokens,
            limits=lambda path, customer_id: budget.limits(
                account_key=account_key, path=path, customer_id=customer_id
            ),
            limiter=limiter,
            retry=retry,
            sleep=sleep,
            timeout=timeout or httpx.Timeout(30.0, connect=10.0),
            ca_bundle=ca_bundle,
            max_connections=max_connections,
        )
        graph = GraphBilling.from_account(
            account,
            credentials=credentials,
            limiter=limiter,
            sleep=sleep,
            retry=retry,
            timeout=timeout,
        )
        return cls(client=client, graph=graph)

    def close(self) -> None:
        self.client.close()
        if self.graph is not None:
            self.graph.close()

    @property
    def calls_made(self) -> int:
        graph = self.graph.client.stats.requests if self.graph is not None else 0
        return self.client.stats.requests + graph

    def __enter__(self) -> MicrosoftProvider:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # --- the connection itself --------------------------------------------------------------

    def check_connection(self) -> i.ConnectionCheck:
        """Prove the credentials: an app-only token, then (when consent is stored) a freshly
        redeemed App+User token, and one small read of the partner's customers with it."""
        tokens = self.client.tokens
        tokens.token(kind=TokenKind.APP)
        user_consent = tokens.has_user_consent
        if user_consent:
            # Redeem the refresh token now, not an access token cached an hour ago.
            tokens.invalidate(kind=USER)
        self.client.send(
            "GET",
            "/v1/customers",
            params={"size": 1},
            token_kind=USER if user_consent else TokenKind.APP,
        )
        return i.ConnectionCheck(user_consent=user_consent)

    # --- customers -------------------------------------------------------------------------

    def check_domain_available(self, *, domain: str) -> bool:
        # HEAD /v1/domains/{domain}: 200 means the domain EXISTS (taken), 404 means it is free.
        response = self.client.send(
            "HEAD", f"/v1/domains/{_segment(domain)}", ok_statuses=(200, 404)
        )
        return response.status_code == 404

    def country_rules(self, *, country: str) -> i.CountryRules:
        data = self.client.get_json(f"/v1/countryvalidationrules/{_segment(country.upper())}")
        return parsing.country_rules(data)

    def relationship_request_url(self) -> str:
        # App+User only; the answer is {"url": ..., "attributes": {"objectType": ...}}.
        data = self.client.get_json("/v1/customers/relationshiprequests", token_kind=USER)
        return parsing.required_text(data, "url")

    def _agreement_template(self, kind: i.AgreementType) -> str:
        # The current template id of an agreement type comes from the agreement metadata.
        data = self.client.get_json(
            "/v1/agreements", params={"agreementType": str(kind)}, token_kind=USER
        )
        for item in parsing.get(data, "items") or ():
            if parsing.text(item, "agreementType") == str(kind):
                return parsing.required_text(item, "templateId")
        raise ProviderError(f"the vendor has no {kind} template", retryable=False)

    def confirm_agreement(
        self, *, customer_id: str, acceptance: i.AgreementAcceptance
    ) -> i.Agreement:
        contact: dict[str, Any] = {
            "firstName": acceptance.first_name,
            "lastName": acceptance.last_name,
            "email": acceptance.email,
        }
        if acceptance.phone_number:
            contact["phoneNumber"] = acceptance.phone_number
        moment = acceptance.accepted_at.astimezone(dt.UTC)
        body = {
            "primaryContact": contact,
            "templateId": self._agreement_template(acceptance.type),
            "dateAgreed": moment.strftime("%Y-%m-%dT%H:%M:%S.")
            + f"{moment.microsecond // 1000:03d}Z",
            "type": str(acceptance.type),
        }
        data = decode(
            self.client.send(
                "POST",
                f"/v1/customers/{_segment(customer_id)}/agreements",
                json=body,
                token_kind=USER,
                customer_id=customer_id,
            )
        )
        return parsing.agreement(data)

    def list_agreements(self, *, customer_id: str) -> list[i.Agreement]:
        data = self.client.get_json(
            f"/v1/customers/{_segment(customer_id)}/agreements",
            token_kind=USER,
            customer_id=customer_id,
        )
        return [parsing.agreement(item) for item in parsing.get(data, "items") or ()]

    def create_customer(self, *, customer: i.NewCustomer, request_key: str) -> i.CreatedCustomer:
        address = customer.address
        default_address = {
            "country": address.country,
            "region": address.region or None,
            "city": address.city,
            "state": address.state or None,
            "addressLine1": address.address_line1,
            "addressLine2": address.address_line2 or None,
            "postalCode": address.postal_code,
            "firstName": address.first_name,
            "lastName": address.last_name,
            "phoneNumber": address.phone_number or None,
            "emailAddress": address.email or None,
        }
        body: dict[str, Any] = {
            "companyProfile": {"domain": customer.domain},
            "billingProfile": {
                "email": customer.email,
                "culture": customer.culture,
                "language": customer.language,
                "companyName": customer.company_name,
                "defaultAddress": {k: v for k, v in default_address.items() if v is not None},
            },
        }
        if customer.associated_partner_id:
            body["associatedPartnerId"] = customer.associated_partner_id
        data = decode(
            self.client.send(
                "POST",
                "/v1/customers",
                json=body,
                request_id=request_id_for(request_key, "customer"),
            )
        )
        return parsing.created_customer(data)

    def get_customer(self, *, customer_id: str) -> i.Customer:
        data = self.client.get_json(
            f"/v1/customers/{_segment(customer_id)}", customer_id=customer_id
        )
        return parsing.customer(data)

    def get_billing_profile(self, *, customer_id: str) -> i.BillingProfile:
        # GET /v1/customers/{id}/profiles/billing: the billing contact and default address
        # (the customer list leaves the billing profile out).
        data = self.client.get_json(
            f"/v1/customers/{_segment(customer_id)}/profiles/billing", customer_id=customer_id
        )
        return parsing.billing_profile(data)

    def list_customers(self, *, page_size: int = 500) -> i.Listing[i.Customer]:
        records = self.client.iterate("/v1/customers", params={"size": page_size})
        return _listing(records, parsing.customer, "customer")

    def find_customer_by_domain(self, *, domain: str) -> i.Customer | None:
        # The customer filter searches Domain with starts_with (a documented operator); the
        # exact domain is then picked from the few matches.
        wanted = domain.strip().lower()
        flt = json.dumps({"Field": "Domain", "Value": wanted, "Operator": "starts_with"})
        records = self.client.iterate("/v1/customers", params={"size": 100, "filter": flt})
        for found in _listing(records, parsing.customer, "customer"):
            if found.domain.lower() == wanted:
                return found
        return None

    def customers_page(
        self, *, cursor: str | None = None, page_size: int = 500
    ) -> i.Page[i.Customer]:
        items, following = self.client.page(
            "/v1/customers", cursor=cursor, params={"size": page_size}
        )
        return _page(items, following, parsing.customer, "customer")

    # --- catalog ---------------------------------------------------------------------------

    def list_products(
        self, *, country: str, segment: str | None = None, target_view: str = "OnlineServices"
    ) -> i.Listing[i.Product]:
        params = {"country": country, "targetView": target_view}
        if segment:
            params["targetSegment"] = segment
        records = self.client.iterate("/v1/products", params=params)
        return _listing(records, parsing.product, "product")

    def list_skus(self, *, product_id: str, country: str) -> i.RecordList[i.Sku]:
        path = f"/v1/products/{_segment(product_id)}/skus"
        records = self.client.iterate(path, params={"country": country})
        return _record_list(records, lambda x: parsing.sku(x, product_id=product_id), "sku")

    def list_availabilities(
        self, *, product_id: str, sku_id: str, country: str, segment: str | None = None
    ) -> i.RecordList[i.Availability]:
        path = f"/v1/products/{_segment(product_id)}/skus/{_segment(sku_id)}/availabilities"
        params = {"country": country}
        if segment:
            params["targetSegment"] = segment
        records = self.client.iterate(path, params=params)
        return _record_list(records, parsing.availability, "availability")

    def catalog(self, *, country: str, segment: str | None = None) -> i.Listing[i.CatalogOffer]:
        """Every SKU with its availabilities; `.skipped` sums the products, SKUs and
        availabilities that could not be read."""
        products = self.list_products(country=country, segment=segment)
        skips = products.skips  # the SKUs' and availabilities' skips are added to it

        def offers() -> Iterator[i.CatalogOffer]:
            for product in products:
                skus = self.list_skus(product_id=product.id, country=country)
                skips.merge(skus.skips)
                for sku in skus:
                    availabilities = self.list_availabilities(
                        product_id=product.id, sku_id=sku.id, country=country, segment=segment
                    )
                    skips.merge(availabilities.skips)
                    yield i.CatalogOffer(
                        product=product, sku=sku, availabilities=tuple(availabilities)
                    )

        return i.Listing(offers(), skips)

    # --- orders ----------------------------------------------------------------------------

    def create_order(
        self, *, customer_id: str, lines: Sequence[i.OrderLine], request_key: str
    ) -> list[i.Order]:
        """Cart then checkout. Each step has an MS-RequestId derived from `request_key`, so
        running the whole thing again for the same key returns the same orders.

        Use one `request_key` per intended purchase (e.g. the recorded operation's id); after a
        definitive refusal (ValidationFailed), a corrected order needs a new key. Orders may come
        back `pending` with lines lacking `subscription_id`: poll `get_order` until provisioned.
        """
        if not lines:
            raise ValidationFailed("an order needs at least one line")
        correlation_id = new_id()
        customer_path = f"/v1/customers/{_segment(customer_id)}"
        cart_body = {"lineItems": [_cart_line(index, line) for index, line in enumerate(lines)]}
        cart = decode(
            self.client.send(
                "POST",
                f"{customer_path}/carts",
                json=cart_body,
                customer_id=customer_id,
                request_id=request_id_for(request_key, "cart"),
                correlation_id=correlation_id,
            )
        )
        _raise_for_cart_errors(cart)
        cart_id = parsing.required_text(cart, "id")
        result = decode(
            self.client.send(
                "POST",
                f"{customer_path}/carts/{_segment(cart_id)}/checkout",
                customer_id=customer_id,
                request_id=request_id_for(request_key, "checkout"),
                correlation_id=correlation_id,
            )
        )
        raw_orders = parsing.get(result, "orders")
        errors = parsing.get(result, "orderErrors") or ()
        if errors and not raw_orders:
            first = errors[0]
            raise ValidationFailed(
                parsing.text(first, "description") or "checkout refused",
                code=parsing.text(first, "code") or None,
                correlation_id=correlation_id,
            )
        if not isinstance(raw_orders, list) or not raw_orders:
            # Without orders we cannot know what was bought: never guess, never buy again.
            raise UnexpectedResponse(
                f"the checkout of cart {cart_id} answered without orders; look for the order "
                "in Partner Center before ordering again",
                retryable=False,
                correlation_id=correlation_id,
            )
        return [parsing.order(o, customer_id=customer_id) for o in raw_orders]

    def get_order(self, *, customer_id: str, order_id: str) -> i.Order:
        data = self.client.get_json(
            f"/v1/customers/{_segment(customer_id)}/orders/{_segment(order_id)}",
            customer_id=customer_id,
        )
        return parsing.order(data, customer_id=customer_id)

    def list_orders(self, *, customer_id: str) -> i.RecordList[i.Order]:
        path = f"/v1/customers/{_segment(customer_id)}/orders"
        records = self.client.iterate(path, customer_id=customer_id)
        return _record_list(records, lambda x: parsing.order(x, customer_id=customer_id), "order")

    # --- subscriptions ---------------------------------------------------------------------

    def _subscription_path(self, customer_id: str, subscription_id: str) -> str:
        return f"/v1/customers/{_segment(customer_id)}/subscriptions/{_segment(subscription_id)}"

    def _subscription_json(
        self, customer_id: str, subscription_id: str, correlation_id: str | None = None
    ) -> Mapping[str, Any]:
        return self.client.get_json(
            self._subscription_path(customer_id, subscription_id),
            customer_id=customer_id,
            correlation_id=correlation_id,
        )

    def get_subscription(self, *, customer_id: str, subscription_id: str) -> i.Subscription:
        data = self._subscription_json(customer_id, subscription_id)
        return parsing.subscription(data, customer_id=customer_id)

    def list_subscriptions(
        self, *, customer_id: str, order_id: str | None = None
    ) -> i.RecordList[i.Subscription]:
        path = f"/v1/customers/{_segment(customer_id)}/subscriptions"
        params = {"order_id": order_id} if order_id else None
        records = self.client.iterate(path, params=params, customer_id=customer_id)
        return _record_list(
            records, lambda x: parsing.subscription(x, customer_id=customer_id), "subscription"
        )

    def list_addons(
        self, *, customer_id: str, subscription_id: str
    ) -> i.RecordList[i.Subscription]:
        path = self._subscription_path(customer_id, subscription_id) + "/addons"
        records = self.client.iterate(path, customer_id=customer_id)
        return _record_list(
            records, lambda x: parsing.subscription(x, customer_id=customer_id), "subscription"
        )

    def update_subscription(
        self,
        *,
        customer_id: str,
        subscription_id: str,
        change: i.SubscriptionUpdate,
        stale_retries: int = 1,
        before_write: Callable[[], None] | None = None,
    ) -> i.Subscription:
        """GET the subscription fresh, apply `change`, PATCH the full resource with its etag.

        ETags are short-lived, so they are never cached: every update starts from a fresh GET.
        A stale etag (400, code 2055) means somebody changed the subscription between our GET
        and PATCH; our change holds absolute values, so applying it once more to the new state
        is safe. After `stale_retries` such rounds StaleVersion reaches the caller.

        `before_write` runs between the GET and each PATCH and may raise to stop the write (the
        worker checks there that its claim on the operation still holds). With the etag read
        before it, a write that slips past it after another worker's lands is refused as stale.
        """
        correlation_id = new_id()
        for round_number in range(stale_retries + 1):
            current = self._subscription_json(customer_id, subscription_id, correlation_id)
            if before_write is not None:
                before_write()
            try:
                return self.patch_subscription(
                    customer_id=customer_id,
                    body=apply_subscription_change(current, change),
                    correlation_id=correlation_id,
                )
            except StaleVersion:
                if round_number == stale_retries:
                    raise
        raise AssertionError("unreachable")

    def patch_subscription(
        self, *, customer_id: str, body: Mapping[str, Any], correlation_id: str | None = None
    ) -> i.Subscription:
        """PATCH a full subscription body (including `attributes.etag`) as it is."""
        subscription_id = parsing.required_text(body, "id")
        response = self.client.send(
            "PATCH",
            self._subscription_path(customer_id, subscription_id),
            json=body,
            customer_id=customer_id,
            correlation_id=correlation_id,
        )
        if response.status_code == 202 or not response.content:
            # Accepted for later processing: the subscription itself is the status to poll.
            return self.get_subscription(customer_id=customer_id, subscription_id=subscription_id)
        return parsing.subscription(decode(response), customer_id=customer_id)

    def suspend_subscription(self, *, customer_id: str, subscription_id: str) -> i.Subscription:
        change = i.SubscriptionUpdate(status=i.SubscriptionStatus.SUSPENDED)
        return self.update_subscription(
            customer_id=customer_id, subscription_id=subscription_id, change=change
        )

    def reactivate_subscription(self, *, customer_id: str, subscription_id: str) -> i.Subscription:
        change = i.SubscriptionUpdate(status=i.SubscriptionStatus.ACTIVE)
        return self.update_subscription(
            customer_id=customer_id, subscription_id=subscription_id, change=change
        )

    def cancel_subscription(self, *, customer_id: str, subscription_id: str) -> i.Subscription:
        # New-commerce cancellation is a PATCH to status "deleted", allowed only until
        # cancellationAllowedUntilDate; after it the vendor answers 900117/900213 (WindowClosed).
        change = i.SubscriptionUpdate(status=i.SubscriptionStatus.DELETED)
        return self.update_subscription(
            customer_id=customer_id, subscription_id=subscription_id, change=change
        )

    # --- users and licences ----------------------------------------------------------------

    def _users_path(self, customer_id: str) -> str:
        return f"/v1/customers/{_segment(customer_id)}/users"

    def list_users(
        self, *, customer_id: str, deleted: bool = False, page_size: int = 500
    ) -> i.Listing[i.TenantUser]:
        records = self.client.iterate(
            self._users_path(customer_id),
            params=_user_list_params(deleted=deleted, page_size=page_size),
            token_kind=USER,
            customer_id=customer_id,
        )
        return _listing(records, parsing.tenant_user, "user")

    def users_page(
        self,
        *,
        customer_id: str,
        cursor: str | None = None,
        deleted: bool = False,
        page_size: int = 500,
    ) -> i.Page[i.TenantUser]:
        items, following = self.client.page(
            self._users_path(customer_id),
            cursor=cursor,
            params=_user_list_params(deleted=deleted, page_size=page_size),
            token_kind=USER,
            customer_id=customer_id,
        )
        return _page(items, following, parsing.tenant_user, "user")

    def get_user(self, *, customer_id: str, user_id: str) -> i.TenantUser:
        data = self.client.get_json(
            f"{self._users_path(customer_id)}/{_segment(user_id)}",
            token_kind=USER,
            customer_id=customer_id,
        )
        return parsing.tenant_user(data)

    def create_user(
        self, *, customer_id: str, user: i.NewTenantUser, request_key: str
    ) -> i.TenantUser:
        body = {
            "userPrincipalName": user.user_principal_name,
            "displayName": user.display_name,
            "firstName": user.first_name,
            "lastName": user.last_name,
            "usageLocation": user.usage_location,
            "passwordProfile": {
                "password": user.password,
                "forceChangePassword": user.force_change_password,
            },
            "attributes": {"objectType": "CustomerUser"},
        }
        data = decode(
            self.client.send(
                "POST",
                self._users_path(customer_id),
                json=body,
                token_kind=USER,
                customer_id=customer_id,
                request_id=request_id_for(request_key, "user"),
            )
        )
        return parsing.tenant_user(data)

    def update_user(
        self, *, customer_id: str, user_id: str, change: i.TenantUserUpdate
    ) -> i.TenantUser:
        # User PATCH is a partial update: only the fields being changed are sent.
        fields = {
            "displayName": change.display_name,
            "firstName": change.first_name,
            "lastName": change.last_name,
            "usageLocation": change.usage_location,
            "userPrincipalName": change.user_principal_name,
        }
        body: dict[str, Any] = {k: v for k, v in fields.items() if v is not None}
        if change.password is not None:
            body["passwordProfile"] = {
                "password": change.password,
                "forceChangePassword": change.force_change_password,
            }
        body["attributes"] = {"objectType": "CustomerUser"}
        return self._patch_user(customer_id, user_id, body)

    def _patch_user(self, customer_id: str, user_id: str, body: Mapping[str, Any]) -> i.TenantUser:
        response = self.client.send(
            "PATCH",
            f"{self._users_path(customer_id)}/{_segment(user_id)}",
            json=body,
            token_kind=USER,
            customer_id=customer_id,
        )
        data = decode(response)
        if not data:
            return self.get_user(customer_id=customer_id, user_id=user_id)
        return parsing.tenant_user(data)

    def delete_user(self, *, customer_id: str, user_id: str) -> None:
        # A soft delete: the user turns "inactive" and can be restored for 30 days.
        self.client.send(
            "DELETE",
            f"{self._users_path(customer_id)}/{_segment(user_id)}",
            token_kind=USER,
            customer_id=customer_id,
            gone_after_retry_is_done=True,
        )

    def restore_user(self, *, customer_id: str, user_id: str) -> i.TenantUser:
        # Restoring is a PATCH of the deleted user's state back to "active".
        body = {"state": "active", "attributes": {"objectType": "CustomerUser"}}
        return self._patch_user(customer_id, user_id, body)

    def list_subscribed_skus(self, *, customer_id: str) -> i.RecordList[i.SubscribedSku]:
        path = f"/v1/customers/{_segment(customer_id)}/subscribedskus"
        records = self.client.iterate(path, token_kind=USER, customer_id=customer_id)
        return _record_list(records, parsing.subscribed_sku, "subscribed sku")

    def list_user_licences(self, *, customer_id: str, user_id: str) -> i.RecordList[i.UserLicence]:
        path = f"{self._users_path(customer_id)}/{_segment(user_id)}/licenses"
        records = self.client.iterate(path, token_kind=USER, customer_id=customer_id)
        return _record_list(records, parsing.user_licence, "user licence")

    def change_user_licences(
        self,
        *,
        customer_id: str,
        user_id: str,
        assign: Sequence[str] = (),
        remove: Sequence[str] = (),
    ) -> i.LicenceChangeResult:
        if not assign and not remove:
            raise ValidationFailed("nothing to assign or remove")
        body = {
            "licensesToAssign": [{"skuId": sku_id, "excludedPlans": None} for sku_id in assign]
            or None,
            "licensesToRemove": list(remove) or None,
            "attributes": {"objectType": "LicenseUpdate"},
        }
        data = decode(
            self.client.send(
                "POST",
                f"{self._users_path(customer_id)}/{_segment(user_id)}/licenseupdates",
                json=body,
                token_kind=USER,
                customer_id=customer_id,
            )
        )
        warnings = tuple(
            parsing.text(w, "message") or parsing.text(w, "code")
            for w in parsing.get(data, "licenseWarnings") or ()
        )
        return i.LicenceChangeResult(
            assigned=tuple(assign), removed=tuple(remove), warnings=warnings
        )

    # --- billing and audit -----------------------------------------------------------------

    def list_invoices(self, *, page_size: int = 100) -> i.Listing[i.Invoice]:
        # Offset paging: links.next carries the next offset. Each invoice carries its
        # amendments (credit and adjustment notes) in `amendments`.
        params = {"size": page_size, "offset": 0}
        records = self.client.iterate("/v1/invoices", params=params)
        return _listing(records, parsing.invoice, "invoice")

    def get_invoice(self, *, invoice_id: str) -> i.Invoice:
        return parsing.invoice(self.client.get_json(f"/v1/invoices/{_segment(invoice_id)}"))

    def list_invoice_line_items(
        self, *, invoice_id: str, page_size: int = 2000
    ) -> i.Listing[i.InvoiceLineItem]:
        # Modern (new-commerce) reconciliation lines: provider=onetime, seek paging, at most
        # 2000 per page.
        params = {
            "provider": "onetime",
            "invoicelineitemtype": "billinglineitems",
            "size": min(page_size, 2000),
        }
        path = f"/v1/invoices/{_segment(invoice_id)}/lineitems"
        records = self.client.iterate(path, params=params)
        return _listing(
            records,
            lambda x: parsing.invoice_line_item(x, invoice_id=invoice_id),
            "invoice line item",
        )

    def list_unbilled_line_items(
        self, *, currency: str, period: str = "current", page_size: int = 2000
    ) -> i.Listing[i.InvoiceLineItem]:
        """The open period's lines (v1, seek paging): `period` "current" or "previous"."""
        params = {
            "provider": "onetime",
            "invoicelineitemtype": "billinglineitems",
            "currencycode": currency.upper(),
            "period": period,
            "size": min(page_size, 2000),
        }
        records = self.client.iterate("/v1/invoices/unbilled/lineitems", params=params)
        return _listing(
            records,
            lambda x: parsing.invoice_line_item(x, invoice_id=""),
            "invoice line item",
        )

    def invoice_document(self, *, invoice_id: str) -> bytes:
        """The invoice's PDF statement (`GET /v1/invoices/{id}/documents/statement`)."""
        response = self.client.send(
            "GET",
            f"/v1/invoices/{_segment(invoice_id)}/documents/statement",
            headers={"Accept": "application/pdf"},
        )
        content = response.content
        if not content.startswith(b"%PDF-"):
            raise UnexpectedResponse(
                f"the statement of invoice {invoice_id} is not a PDF "
                f"({response.headers.get('Content-Type')})",
                http_status=response.status_code,
            )
        return content

    # --- prices ------------------------------------------------------------------------------

    def download_price_sheet(self, *, market: str, into: IO[bytes], month: str = "") -> None:
        """The license-based price sheet of `market`, streamed into `into` (App+User token;
        zipped on request with `Accept-Encoding: deflate`, which makes the download several
        times smaller). `month` (YYYYMM) asks for that month's sheet (`timeline=history`)."""
        if len(market) != 2 or not market.isalpha():
            raise ValidationFailed(f"not a market: {market!r}")
        base = pricing_base_url(self.client.base_url)
        path = (
            f"{base}/v1.0/sales/pricesheets(Market='{market.upper()}',"
            f"PricesheetView='{PRICE_SHEET_VIEW}')/$value"
        )
        params = {"timeline": "history", "month": month} if month else None
        self.client.send(
            "GET",
            path,
            params=params,
            headers={"Accept": "*/*", "Accept-Encoding": "deflate"},
            token_kind=USER,
            into=into,
        )

    # --- reconciliation exports (Microsoft Graph) -------------------------------------------

    def _graph(self) -> GraphBilling:
        if self.graph is None:
            raise ProviderError("this connector has no Microsoft Graph connection")
        return self.graph

    def start_billed_export(
        self, *, invoice_id: str, attribute_set: i.AttributeSet = i.AttributeSet.FULL
    ) -> i.ExportOperation:
        return self._graph().start_billed_export(invoice_id=invoice_id, attribute_set=attribute_set)

    def start_unbilled_export(
        self,
        *,
        billing_period: i.BillingPeriod,
        currency: str,
        attribute_set: i.AttributeSet = i.AttributeSet.FULL,
    ) -> i.ExportOperation:
        return self._graph().start_unbilled_export(
            billing_period=billing_period, currency=currency, attribute_set=attribute_set
        )

    def export_operation(self, *, location: str) -> i.ExportOperation:
        return self._graph().export_operation(location=location)

    def export_manifest(self, *, location: str) -> i.ExportManifest:
        return self._graph().export_manifest(location=location)

    def export_blob_lines(
        self, *, manifest: i.ExportManifest, blob: i.ExportBlob, invoice_id: str = ""
    ) -> i.Listing[i.InvoiceLineItem]:
        return self._graph().export_blob_lines(manifest=manifest, blob=blob, invoice_id=invoice_id)

    def list_audit_records(
        self, *, since: dt.date, until: dt.date | None = None, page_size: int = 500
    ) -> i.Listing[i.AuditRecord]:
        params = _audit_params(since=since, until=until, page_size=page_size)
        records = self.client.iterate("/v1/auditrecords", params=params)
        return _listing(records, parsing.audit_record, "audit record")

    def audit_records_page(
        self,
        *,
        since: dt.date,
        until: dt.date | None = None,
        cursor: str | None = None,
        page_size: int = 500,
    ) -> i.Page[i.AuditRecord]:
        params = _audit_params(since=since, until=until, page_size=page_size)
        items, following = self.client.page("/v1/auditrecords", cursor=cursor, params=params)
        return _page(items, following, parsing.audit_record, "audit record")


def _user_list_params(*, deleted: bool, page_size: int) -> dict[str, Any]:
    params: dict[str, Any] = {"size": page_size}
    if deleted:
        # Soft-deleted users are only listed through this filter.
        params["filter"] = '{"Field":"UserState","Value":"Inactive","Operator":"equals"}'
    return params


def _audit_params(*, since: dt.date, until: dt.date | None, page_size: int) -> dict[str, Any]:
    # Records are kept 90 days; an older startDate is refused with a 400.
    params: dict[str, Any] = {"startDate": since.isoformat(), "size": page_size}
    if until is not None:
        params["endDate"] = until.isoformat()
    return params


def _cart_line(index: int, line: i.OrderLine) -> dict[str, Any]:
    item: dict[str, Any] = {
        "id": index,
        "catalogItemId": line.catalog_item_id,
        "quantity": line.quantity,
        "billingCycle": str(line.billing_cycle),
        "termDuration": line.term_duration,
    }
    if line.friendly_name:
        item["friendlyName"] = line.friendly_name
    if line.parent_subscription_id:
        item["provisioningContext"] = {"parentSubscriptionId": line.parent_subscription_id}
    if line.partner_id_on_record:
        item["participants"] = [{"key": "transaction_reseller", "value": line.partner_id_on_record}]
    return item


def _raise_for_cart_errors(cart: Mapping[str, Any]) -> None:
    for line in parsing.get(cart, "lineItems") or ():
        error = parsing.get(line, "error")
        if error:
            raise ValidationFailed(
                parsing.text(error, "errorDescription") or "cart line refused",
                code=parsing.text(error, "errorCode") or None,
            )


def apply_subscription_change(
    current: Mapping[str, Any], change: i.SubscriptionUpdate
) -> dict[str, Any]:
    """The full subscription body with `change` applied; `attributes.etag` travels unchanged.

    Fields are found and set in whatever casing the vendor used (legacy answers are PascalCase),
    so the body sent back never holds `Quantity` and `quantity` side by side."""
    if not isinstance(current, Mapping) or parsing.get(current, "id") in (None, ""):
        raise UnexpectedResponse("subscription GET returned no subscription")
    status = parsing.subscription_status(parsing.get(current, "status"))
    if status is i.SubscriptionStatus.DELETED:
        raise ValidationFailed("a cancelled subscription cannot be changed", code="2011")
    body = dict(current)
    if change.quantity is not None:
        parsing.put(body, "quantity", change.quantity)
    if change.friendly_name is not None:
        parsing.put(body, "friendlyName", change.friendly_name)
    if change.auto_renew is not None:
        parsing.put(body, "autoRenewEnabled", change.auto_renew)
    if change.status is not None:
        parsing.put(body, "status", str(change.status))
    if change.clear_next_term:
        parsing.put(body, "scheduledNextTermInstructions", None)
    if change.next_term is not None:
        parsing.put(body, "scheduledNextTermInstructions", next_term_body(body, change.next_term))
    return body


def next_term_body(current: Mapping[str, Any], next_term: i.NextTerm) -> dict[str, Any]:
    """Changes at renewal as Partner Center takes them: the product is named by the three parts
    of the New Commerce offer id (product:sku:availability). The subscription's availability
    is kept: a New Commerce availability lists every term and billing cycle the SKU is sold
    with, so a term or cycle change at renewal does not need another one."""
    parts = parsing.text(current, "offerId").split(":")
    if len(parts) != 3:
        raise ValidationFailed(
            "changes at renewal exist for New Commerce subscriptions only", code="invalid_offer"
        )
    product_id, sku_id, availability_id = parts
    return {
        "product": {
            "productId": product_id,
            "skuId": sku_id,
            "availabilityId": availability_id,
            "billingCycle": str(next_term.billing_cycle),
            "termDuration": next_term.term_duration,
        },
        "quantity": next_term.quantity,
    }


__all__ = ["MicrosoftProvider", "NotFound", "apply_subscription_change", "request_id_for"]
