"""Catalog (reference §4): products -> SKUs -> availabilities for the NCE view, legacy offers with
add-ons and offset paging.

Prices: each availability term carries a sandbox-only ``price`` object, ``{"unitPrice",
"erpPrice", "currencyCode", "pricePer"}`` where the amounts are per licence per billing cycle
(``pricePer`` says which). The real API exposes prices only through the price-sheet CSV on
another host; the connector may read these fields when pointed at the sandbox.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from . import terms
from .catalog_data import (
    LEGACY_BY_ID,
    LEGACY_OFFERS,
    PRODUCTS,
    PRODUCTS_BY_ID,
    LegacyOfferDef,
    ProductDef,
)
from .web import PCError, authenticate, collection, json_response, link, offset_params, sandbox_of

SKU_ID = "0001"
TARGET_VIEWS = {"onlineservices", "onlineservicesnce", "all"}


def product_terms(product: ProductDef) -> list[tuple[str, str]]:
    combos = [("P1M", "monthly"), ("P1Y", "monthly"), ("P1Y", "annual")]
    if product.three_year:
        combos += [("P3Y", "monthly"), ("P3Y", "annual"), ("P3Y", "triennial")]
    return combos


def catalog_item_id(product: ProductDef) -> str:
    return f"{product.id}:{SKU_ID}:{product.availability_id}"


def resolve_catalog_item(item_id: str) -> ProductDef | None:
    parts = item_id.split(":")
    if len(parts) != 3:
        return None
    product = PRODUCTS_BY_ID.get(parts[0].upper())
    if product is None or parts[1] != SKU_ID or parts[2].upper() != product.availability_id:
        return None
    return product


def render_product(product: ProductDef, prefix: str = "") -> dict[str, Any]:
    return {
        "id": product.id,
        "title": product.title,
        "description": product.description,
        "productType": {
            "id": "OnlineServices",
            "displayName": "OnlineServices",
            "subType": {"id": product.product_type, "displayName": product.product_type},
        },
        "isMicrosoftProduct": True,
        "publisherName": product.publisher,
        "links": {
            "skus": link(f"{prefix}/products/{product.id}/skus"),
            "self": link(f"{prefix}/products/{product.id}"),
        },
        "attributes": {"objectType": "Product"},
    }


def render_sku(product: ProductDef, prefix: str = "") -> dict[str, Any]:
    cycles = sorted({c for _, c in product_terms(product)}, key=list(terms.CYCLE_MONTHS).index)
    return {
        "id": SKU_ID,
        "productId": product.id,
        "title": product.title,
        "description": product.description,
        "minimumQuantity": product.minimum_quantity,
        "maximumQuantity": product.maximum_quantity,
        "isTrial": False,
        "supportedBillingCycles": cycles,
        "purchasePrerequisites": ["MicrosoftCloudAgreement"],
        "inventoryVariables": [],
        "provisioningVariables": [],
        "actions": ["Refund"],
        "dynamicAttributes": {
            "isAddon": product.is_addon,
            "hasConstraints": product.is_addon,
            "prerequisiteSkus": list(product.prerequisites),
            "upgradeTargetOffers": [],
            "provisioningId": product.sku_guid,
            "skuPartNumber": product.part_number,
        },
        "attestationProperties": {"enforceAttestation": False},
        "links": {
            "availabilities": link(f"{prefix}/products/{product.id}/skus/{SKU_ID}/availabilities"),
            "self": link(f"{prefix}/products/{product.id}/skus/{SKU_ID}"),
        },
        "attributes": {"objectType": "Sku"},
    }


def render_availability(product: ProductDef, country: str, prefix: str = "") -> dict[str, Any]:
    currency = terms.currency_for(country)
    term_list = []
    for duration, cycle in product_terms(product):
        unit, erp = terms.term_price(product.monthly_erp_usd, duration, cycle, currency)
        term_list.append(
            {
                "id": f"{duration.lower()}-{cycle}",
                "duration": duration,
                "description": terms.TERM_DESCRIPTIONS[(duration, cycle)],
                "billingCycle": cycle,
                "cancellationPolicies": [
                    {
                        "refundOptions": [
                            {"sequenceId": 1, "type": "Full", "expiresAfter": "P1D"},
                            {"sequenceId": 2, "type": "Partial", "expiresAfter": "P7D"},
                        ]
                    }
                ],
                # Sandbox extension: price per licence per billing cycle (see module docstring).
                "price": {
                    "unitPrice": str(unit),
                    "erpPrice": str(erp),
                    "currencyCode": currency,
                    "pricePer": {"monthly": "month", "annual": "year", "triennial": "3 years"}[
                        cycle
                    ],
                },
            }
        )
    renew_terms = [d for d in ("P1M", "P1Y") if any(t[0] == d for t in product_terms(product))]
    return {
        "id": product.availability_id,
        "productId": product.id,
        "skuId": SKU_ID,
        "catalogItemId": catalog_item_id(product),
        "defaultCurrency": {"code": currency, "symbol": terms.CURRENCIES[currency][0]},
        "segment": "commercial",
        "country": country.upper(),
        "isPurchasable": True,
        "isRenewable": True,
        "renewalInstructions": [
            {
                "applicableTermIds": [t["id"] for t in term_list],
                "renewalOptions": [
                    {"renewToId": f"{product.id}:{SKU_ID}", "isAutoRenewable": True}
                ],
            }
        ],
        "terms": term_list,
        "renewTermDurations": renew_terms,
        "product": render_product(product, prefix),
        "sku": render_sku(product, prefix),
        "links": {
            "self": link(
                f"{prefix}/products/{product.id}/skus/{SKU_ID}/availabilities/{product.availability_id}"
            )
        },
        "attributes": {"objectType": "Availability"},
    }


def _country(request: Request, required: bool = True) -> str:
    params = {k.lower(): v for k, v in request.query_params.items()}
    country = params.get("country")
    if not country:
        if "customer_id" in request.path_params:
            from .customers import load

            customer = load(sandbox_of(request), request.path_params["customer_id"])
            return customer["billingProfile"]["defaultAddress"].get("country") or "US"
        if required:
            raise PCError(400, 400001, "The country parameter is required.")
        return "US"
    if len(country) != 2:
        raise PCError(400, 400001, f"The country {country} is not valid.")
    return country.upper()


def _prefix(request: Request) -> str:
    cid = request.path_params.get("customer_id")
    return f"/customers/{cid}" if cid else ""


def _product(request: Request) -> ProductDef:
    product = PRODUCTS_BY_ID.get(request.path_params["product_id"].upper())
    if product is None:
        raise PCError(404, 400013, f"Product {request.path_params['product_id']} was not found.")
    return product


def _sku(request: Request) -> ProductDef:
    product = _product(request)
    if request.path_params["sku_id"] != SKU_ID:
        raise PCError(404, 400018, f"Sku {request.path_params['sku_id']} was not found.")
    return product


async def list_products(request: Request) -> Response:
    authenticate(request)
    country = _country(request)
    params = {k.lower(): v for k, v in request.query_params.items()}
    view = (params.get("targetview") or "").lower()
    if not view:
        raise PCError(400, 400001, "targetView is required.")
    items = [render_product(p, _prefix(request)) for p in PRODUCTS] if view in TARGET_VIEWS else []
    query = f"country={country}&targetView={params.get('targetview')}"
    return json_response(collection(items, f"{_prefix(request)}/products?{query}"))


async def get_product(request: Request) -> Response:
    authenticate(request)
    _country(request, required=False)
    return json_response(render_product(_product(request), _prefix(request)))


async def list_skus(request: Request) -> Response:
    authenticate(request)
    _country(request, required=False)
    product = _product(request)
    return json_response(
        collection(
            [render_sku(product, _prefix(request))],
            f"{_prefix(request)}/products/{product.id}/skus",
        )
    )


async def get_sku(request: Request) -> Response:
    authenticate(request)
    return json_response(render_sku(_sku(request), _prefix(request)))


async def list_availabilities(request: Request) -> Response:
    authenticate(request)
    country = _country(request, required="customer_id" not in request.path_params)
    product = _sku(request)
    params = {k.lower(): v for k, v in request.query_params.items()}
    segment = (params.get("targetsegment") or "commercial").lower()
    items = (
        [render_availability(product, country, _prefix(request))] if segment == "commercial" else []
    )
    return json_response(
        collection(items, f"{_prefix(request)}/products/{product.id}/skus/{SKU_ID}/availabilities")
    )


async def get_availability(request: Request) -> Response:
    authenticate(request)
    country = _country(request, required=False)
    product = _sku(request)
    if request.path_params["availability_id"].upper() != product.availability_id:
        raise PCError(
            404, 400019, f"Availability {request.path_params['availability_id']} was not found."
        )
    return json_response(render_availability(product, country, _prefix(request)))


# -- legacy offers -------------------------------------------------------------------------


def render_offer(offer: LegacyOfferDef, country: str) -> dict[str, Any]:
    currency = terms.currency_for(country)
    unit, erp = terms.term_price(offer.monthly_usd, "P1Y", "monthly", currency)
    return {
        "id": offer.id,
        "name": offer.name,
        "description": offer.description,
        "minimumQuantity": offer.minimum_quantity,
        "maximumQuantity": offer.maximum_quantity,
        "rank": 0,
        "uri": f"/offers/{offer.id}",
        "locale": "en-US",
        "country": country,
        "category": {
            "id": "Productivity",
            "name": "Productivity",
            "rank": 0,
            "locale": "en-US",
            "country": country,
            "attributes": {"objectType": "OfferCategory"},
        },
        "prerequisiteOffers": list(offer.addon_of),
        "isAddOn": bool(offer.addon_of),
        "hasAddOns": any(offer.id in o.addon_of for o in LEGACY_OFFERS),
        "isAvailableForPurchase": True,
        "billing": "license",
        "supportedBillingCycles": ["annual", "monthly"],
        "isAutoRenewable": True,
        "isTrial": False,
        "upgradeTargetOffers": [],
        "supportedCatalogTypes": ["sandbox", "live"],
        "product": {"id": offer.part_number, "name": offer.name, "unit": "Licenses"},
        "unitType": "Licenses",
        "salesGroupId": "Office",
        "isInternal": False,
        "price": {
            "unitPrice": str(unit),
            "erpPrice": str(erp),
            "currencyCode": currency,
            "pricePer": "month",
        },
        "links": {
            "learnMore": link("https://www.microsoft.com/microsoft-365"),
            "self": link(f"/offers/{offer.id}"),
        },
        "attributes": {"objectType": "Offer"},
    }


def _offer_page(request: Request, offers: list[LegacyOfferDef], base: str) -> Response:
    country = _country(request)
    size, offset = offset_params(request, 200, 200)
    page = offers[offset : offset + size]
    items = [render_offer(o, country) for o in page]
    next_link = (
        link(f"{base}?country={country}&size={size}&offset={offset + size}")
        if offset + size < len(offers)
        else None
    )
    body = collection(
        items, f"{base}?country={country}&size={size}&offset={offset}", next_link=next_link
    )
    body["totalCount"] = len(items)
    return json_response(body)


async def list_offers(request: Request) -> Response:
    authenticate(request)
    return _offer_page(request, list(LEGACY_OFFERS), "/offers")


async def get_offer(request: Request) -> Response:
    authenticate(request)
    offer = LEGACY_BY_ID.get(request.path_params["offer_id"].lower())
    if offer is None:
        raise PCError(404, 400013, f"Offer {request.path_params['offer_id']} was not found.")
    return json_response(render_offer(offer, _country(request, required=False)))


async def list_offer_addons(request: Request) -> Response:
    authenticate(request)
    offer = LEGACY_BY_ID.get(request.path_params["offer_id"].lower())
    if offer is None:
        raise PCError(404, 400013, f"Offer {request.path_params['offer_id']} was not found.")
    addons = [o for o in LEGACY_OFFERS if offer.id in o.addon_of]
    return _offer_page(request, addons, f"/offers/{offer.id}/addons")


def routes() -> list[Route]:
    out: list[Route] = []
    for prefix in ("/v1", "/v1/customers/{customer_id}"):
        out += [
            Route(f"{prefix}/products", list_products, methods=["GET"]),
            Route(f"{prefix}/products/{{product_id}}", get_product, methods=["GET"]),
            Route(f"{prefix}/products/{{product_id}}/skus", list_skus, methods=["GET"]),
            Route(f"{prefix}/products/{{product_id}}/skus/{{sku_id}}", get_sku, methods=["GET"]),
            Route(
                f"{prefix}/products/{{product_id}}/skus/{{sku_id}}/availabilities",
                list_availabilities,
                methods=["GET"],
            ),
            Route(
                f"{prefix}/products/{{product_id}}/skus/{{sku_id}}/availabilities/{{availability_id}}",
                get_availability,
                methods=["GET"],
            ),
        ]
    out += [
        Route("/v1/offers", list_offers, methods=["GET"]),
        Route("/v1/offers/{offer_id}", get_offer, methods=["GET"]),
        Route("/v1/offers/{offer_id}/addons", list_offer_addons, methods=["GET"]),
    ]
    return out
