"""Every Partner Center response carries the front-door headers and documented envelopes."""

from __future__ import annotations

import uuid

import pytest

from seatkeeper.sandbox.testing import SandboxInfo

FABRIKAM = "e04a8cd3-d94d-4551-ac06-68936b4fd910"  # demo world, random seed 1
PATHS = [
    ("/v1/customers?size=2", "Collection"),
    (f"/v1/customers/{FABRIKAM}", "Customer"),
    (f"/v1/customers/{FABRIKAM}/profiles/billing", "CustomerBillingProfile"),
    (f"/v1/customers/{FABRIKAM}/profiles/company", "CustomerCompanyProfile"),
    (f"/v1/customers/{FABRIKAM}/subscriptions", "Collection"),
    (f"/v1/customers/{FABRIKAM}/orders", "Collection"),
    (f"/v1/customers/{FABRIKAM}/users", "Collection"),
    (f"/v1/customers/{FABRIKAM}/subscribedskus", "Collection"),
    ("/v1/customers/relationshiprequests", "RelationshipRequest"),
    ("/v1/products?country=FR&targetView=OnlineServices", "Collection"),
    ("/v1/products/CFQ7TTC0LH18?country=FR", "Product"),
    ("/v1/products/CFQ7TTC0LH18/skus/0001?country=FR", "Sku"),
    ("/v1/products/CFQ7TTC0LH18/skus/0001/availabilities/CFQ7TTC0K5DP?country=FR", "Availability"),
    ("/v1/offers?country=US", "Collection"),
    ("/v1/invoices", "Collection"),
    ("/v1/auditrecords", "Collection"),
]


@pytest.mark.parametrize(("path", "object_type"), PATHS)
def test_front_door_headers_and_object_type(
    shared_sandbox: SandboxInfo, path: str, object_type: str
) -> None:
    assert shared_sandbox.demo_customers[0]["tenant_id"] == FABRIKAM
    request_id, correlation_id = str(uuid.uuid4()), str(uuid.uuid4())
    with shared_sandbox.client(shared_sandbox.admin.access_token()) as client:
        response = client.get(
            path,
            headers={
                "MS-RequestId": request_id,
                "MS-CorrelationId": correlation_id,
                "X-Locale": "fr-FR",
            },
        )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json; charset=utf-8"
    assert response.headers["MS-RequestId"] == request_id
    assert response.headers["MS-CorrelationId"] == correlation_id
    assert response.headers["MS-CV"].endswith(".0")
    assert response.headers["MS-ServerId"]
    assert response.headers["X-Locale"] == "fr-FR"
    assert response.json()["attributes"]["objectType"] == object_type


def test_unknown_route_and_method_are_partnerfd_errors(shared_sandbox: SandboxInfo) -> None:
    with shared_sandbox.client(shared_sandbox.admin.access_token()) as client:
        missing = client.get("/v1/nothing-here")
        method = client.put("/v1/customers")
    assert missing.status_code == 404 and missing.json()["source"] == "PartnerFD"
    assert method.status_code == 405 and method.json()["source"] == "PartnerFD"
