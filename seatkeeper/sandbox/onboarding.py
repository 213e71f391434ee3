"""What onboarding a new customer needs besides the customer itself: the market's address rules
(``GET /v1/countryvalidationrules/{country}``), the agreement metadata (``GET /v1/agreements``)
and the customer's confirmed agreements (``GET``/``POST /v1/customers/{id}/agreements``).

Facts relied on (Partner Center REST reference, in our words):

- Country validation rules answer one ``CountryValidationRules`` object per two-letter market:
  ``iso2Code``, ``defaultCulture``, ``isStateRequired`` + ``supportedStatesList``,
  ``supportedLanguagesList``, ``supportedCulturesList``, ``isPostalCodeRequired`` +
  ``postalCodeRegex``, ``isCityRequired``, ``isVatIdSupported`` + ``vatIdRegex``,
  ``phoneNumberRegex``, ``countryCallingCodesList``, ``isTaxIdSupported``, ``isTaxIdOptional``.
  The sandbox knows a handful of markets; another code answers 400 (the exact code Microsoft
  uses for an unknown market is not documented: 400 with the market named is our choice).
- The agreement metadata lists templates by ``type`` (``MicrosoftCloudAgreement``,
  ``MicrosoftCustomerAgreement``); confirming acceptance posts ``primaryContact`` (first and last
  name, e-mail, optional phone), ``templateId``, ``dateAgreed`` (UTC) and ``type`` with an
  App+User token; the answer (201) adds ``userId``, the partner user who confirmed it.
- The same confirmation posted again for the same contact is refused with 400 600061
  "A partner confirmed agreement already exists for the customer."
"""

from __future__ import annotations

import re
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from . import audit
from .customers import load as load_customer
from .customers import save as save_customer
from .store import iso, parse_iso
from .web import PCError, authenticate, collection, json_response, read_body, sandbox_of

MCA = "MicrosoftCustomerAgreement"
MCLA = "MicrosoftCloudAgreement"
# Fixed template ids: the sandbox has one current version of each agreement.
TEMPLATES = {
    MCA: {
        "templateId": "117a69a2-0fa6-4e7b-a5d1-a7ed2b3c3c8e",
        "agreementType": MCA,
        "agreementLink": "https://aka.ms/customeragreement",
        "versionRank": 0,
    },
    MCLA: {
        "templateId": "998b88de-aa99-4388-a42c-1b3517d49490",
        "agreementType": MCLA,
        "agreementLink": "https://aka.ms/microsoftcloudagreement",
        "versionRank": 0,
    },
}

_EU_VAT = r"^[A-Z]{2}[0-9A-Z]{2,13}$"

# The markets the sandbox knows. Regexes are the usual national formats.
MARKETS: dict[str, dict[str, Any]] = {
    "FR": {
        "defaultCulture": "fr-FR",
        "languages": ["fr", "en"],
        "cultures": ["fr-FR", "en-US"],
        "states": [],
        "postalCodeRegex": r"^\d{5}$",
        "phoneNumberRegex": r"^(\+33|0)[1-9]( ?\d{2}){4}$",
        "callingCodes": ["+33"],
        "vat": _EU_VAT,
    },
    "BE": {
        "defaultCulture": "fr-BE",
        "languages": ["fr", "nl", "de", "en"],
        "cultures": ["fr-BE", "nl-BE", "en-US"],
        "states": [],
        "postalCodeRegex": r"^\d{4}$",
        "phoneNumberRegex": r"^(\+32|0)[1-9][\d ]{7,10}$",
        "callingCodes": ["+32"],
        "vat": _EU_VAT,
    },
    "CH": {
        "defaultCulture": "de-CH",
        "languages": ["de", "fr", "it", "en"],
        "cultures": ["de-CH", "fr-CH", "it-CH", "en-US"],
        "states": [],
        "postalCodeRegex": r"^\d{4}$",
        "phoneNumberRegex": r"^(\+41|0)[1-9][\d ]{8,11}$",
        "callingCodes": ["+41"],
        "vat": r"^CHE-?\d{3}\.?\d{3}\.?\d{3}",
    },
    "DE": {
        "defaultCulture": "de-DE",
        "languages": ["de", "en"],
        "cultures": ["de-DE", "en-US"],
        "states": [],
        "postalCodeRegex": r"^\d{5}$",
        "phoneNumberRegex": r"^(\+49|0)[1-9][\d ]{5,14}$",
        "callingCodes": ["+49"],
        "vat": _EU_VAT,
    },
    "GB": {
        "defaultCulture": "en-GB",
        "languages": ["en"],
        "cultures": ["en-GB"],
        "states": [],
        "postalCodeRegex": r"^[A-Za-z]{1,2}\d[A-Za-z\d]? ?\d[A-Za-z]{2}$",
        "phoneNumberRegex": r"^(\+44|0)[1-9][\d ]{8,12}$",
        "callingCodes": ["+44"],
        "vat": r"^GB\d{9}$",
    },
    "US": {
        "defaultCulture": "en-US",
        "languages": ["en", "es"],
        "cultures": ["en-US", "es-US"],
        # The documented sample lists these two-letter codes.
        "states": (
            "AK AL AR AZ CA CO CT DC DE FL GA HI IA ID IL IN KS KY LA MA MD ME MI MN MO MS MT "
            "NC ND NE NH NJ NM NV NY OH OK OR PA RI SC SD TN TX UT VA VT WA WI WV WY"
        ).split(),
        "postalCodeRegex": r"^\d{5}(-\d{4})?$",
        "phoneNumberRegex": r"^(\+1)?[\d\- ().]{10,14}$",
        "callingCodes": ["+1"],
        "vat": None,
    },
    "HU": {
        "defaultCulture": "hu-HU",
        "languages": ["hu", "en"],
        "cultures": ["hu-HU", "en-US"],
        "states": [],
        "postalCodeRegex": r"^\d{4}$",
        "phoneNumberRegex": r"^(\+36|06)[\d ]{8,10}$",
        "callingCodes": ["+36"],
        "vat": _EU_VAT,
        "phoneRequired": True,
    },
}


def rules_for(country: str) -> dict[str, Any]:
    """The CountryValidationRules document of a market, or 400 naming the market."""
    code = (country or "").upper()
    market = MARKETS.get(code)
    if market is None:
        raise PCError(400, 600001, f"Country {country!r} is not a supported market.", [country])
    return {
        "iso2Code": code,
        "defaultCulture": market["defaultCulture"],
        "isStateRequired": bool(market["states"]),
        "supportedStatesList": market["states"],
        "supportedLanguagesList": market["languages"],
        "supportedCulturesList": market["cultures"],
        "isPostalCodeRequired": True,
        "postalCodeRegex": market["postalCodeRegex"],
        "isCityRequired": True,
        "isVatIdSupported": market["vat"] is not None,
        "vatIdRegex": market["vat"],
        "phoneNumberRegex": market["phoneNumberRegex"],
        "isPhoneNumberRequired": bool(market.get("phoneRequired")),
        "countryCallingCodesList": market["callingCodes"],
        "isTaxIdSupported": False,
        "isTaxIdOptional": True,
        "attributes": {"objectType": "CountryValidationRules"},
    }


def address_problems(address: dict[str, Any]) -> list[str]:
    """What POST /v1/customers refuses in a billing address under its market's rules (field
    paths as the request names them). Unknown markets are left to the caller's own checks."""
    market = MARKETS.get(str(address.get("country") or "").upper())
    if market is None:
        return []
    prefix = "billingProfile.defaultAddress"
    problems = []
    postal = str(address.get("postalCode") or "")
    if postal and not re.match(market["postalCodeRegex"], postal):
        problems.append(f"{prefix}.postalCode is not a valid postal code for the country.")
    state = str(address.get("state") or "")
    if market["states"] and state.upper() not in market["states"]:
        problems.append(f"{prefix}.state is not a supported state for the country.")
    return problems


async def country_rules(request: Request) -> Response:
    authenticate(request)
    return json_response(rules_for(request.path_params["country"]))


async def agreement_metadata(request: Request) -> Response:
    authenticate(request, user_only=True)
    wanted = request.query_params.get("agreementType", "").strip()
    items = [
        dict(template)
        for kind, template in TEMPLATES.items()
        if not wanted or wanted.lower() in ("all", kind.lower())
    ]
    return json_response(collection(items, "/agreements"))


def _agreements(customer: dict[str, Any]) -> list[dict[str, Any]]:
    return customer.setdefault("_agreements", [])


async def list_agreements(request: Request) -> Response:
    sandbox = sandbox_of(request)
    authenticate(request, user_only=True)
    customer = load_customer(sandbox, request.path_params["customer_id"])
    wanted = request.query_params.get("agreementType", "").strip().lower()
    items = [a for a in _agreements(customer) if not wanted or a["type"].lower() in (wanted, "all")]
    return json_response(collection(items, f"/customers/{customer['id']}/agreements"))


async def create_agreement(request: Request) -> Response:
    sandbox = sandbox_of(request)
    principal = authenticate(request, user_only=True)
    body = await read_body(request)
    with sandbox.store.tx():
        customer = load_customer(sandbox, request.path_params["customer_id"])
        contact = body.get("primaryContact") or {}
        errors = [
            f"primaryContact.{name} is required."
            for name in ("firstName", "lastName", "email")
            if not str(contact.get(name) or "").strip()
        ]
        kind = str(body.get("type") or "")
        template = TEMPLATES.get(kind)
        if template is None:
            errors.append(f"type must be {MCA} or {MCLA}.")
        elif str(body.get("templateId") or "").lower() != template["templateId"]:
            errors.append("templateId is not the current template of this agreement type.")
        try:
            agreed = parse_iso(str(body.get("dateAgreed") or ""))
        except ValueError:
            errors.append("dateAgreed must be a UTC date and time.")
            agreed = None
        if errors:
            raise PCError(400, 600059, " ".join(errors), errors)
        assert template is not None and agreed is not None
        if agreed > sandbox.clock.now():
            raise PCError(400, 600059, "dateAgreed can't be in the future.", ["dateAgreed"])
        person = {
            "firstName": str(contact.get("firstName")).strip(),
            "lastName": str(contact.get("lastName")).strip(),
            "email": str(contact.get("email")).strip(),
            "phoneNumber": str(contact.get("phoneNumber") or "").strip() or None,
        }
        for existing in _agreements(customer):
            if existing["type"] == kind and existing["primaryContact"] == person:
                raise PCError(
                    400,
                    600061,
                    "A partner confirmed agreement already exists for the customer.",
                )
        agreement = {
            "userId": principal.oid or principal.client_id,
            "primaryContact": person,
            "dateAgreed": iso(agreed),
            "type": kind,
            "agreementLink": template["agreementLink"],
            "templateId": template["templateId"],
            "attributes": {"objectType": "Agreement"},
        }
        _agreements(customer).append(agreement)
        save_customer(sandbox, customer)
        audit.record(
            sandbox,
            operation="create_agreement",
            resource_type="agreement",
            customer=customer,
            actor=principal.display,
            application_id=principal.client_id,
            new=agreement,
        )
    return json_response(agreement, 201)


def has_agreement(customer: dict[str, Any], kind: str = MCA) -> bool:
    return any(a["type"] == kind for a in customer.get("_agreements", []))


def routes() -> list[Route]:
    return [
        Route("/v1/countryvalidationrules/{country}", country_rules, methods=["GET"]),
        Route("/v1/agreements", agreement_metadata, methods=["GET"]),
        Route("/v1/customers/{customer_id}/agreements", list_agreements, methods=["GET"]),
        Route("/v1/customers/{customer_id}/agreements", create_agreement, methods=["POST"]),
    ]
