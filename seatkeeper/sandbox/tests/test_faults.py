"""Throttling, scripted and random faults, timeouts, latency settings, the call log and the
admin API."""

from __future__ import annotations

import uuid

import httpx
import pytest

from seatkeeper.sandbox.faults import Faults
from seatkeeper.sandbox.testing import SandboxInfo, running_sandbox


def test_throttling_is_on_by_default_at_documented_limit(shared_sandbox: SandboxInfo) -> None:
    settings = shared_sandbox.admin.faults()
    assert settings["throttling"] is True
    assert (settings["throttle_limit"], settings["throttle_window_s"]) == (500, 60)
    assert settings["error_rate"] == settings["timeout_rate"] == settings["latency_ms"] == 0


def test_throttling_per_customer_key_429_body_and_retry_after(
    sandbox: SandboxInfo, user_client: httpx.Client
) -> None:
    sandbox.admin.set_faults(throttle_limit=5)
    sandbox.admin.set_clock("2026-06-01T00:00:00Z")  # start of a 60-second window: no rollover
    hot, cold = sandbox.demo_customers[0]["tenant_id"], sandbox.demo_customers[1]["tenant_id"]
    statuses = [user_client.get(f"/v1/customers/{hot}/subscriptions").status_code for _ in range(5)]
    assert statuses == [200] * 5
    throttled = user_client.get(f"/v1/customers/{hot}/subscriptions")
    assert throttled.status_code == 429
    retry_after = int(throttled.headers["Retry-After"])
    assert 1 <= retry_after <= 60
    assert throttled.json() == {
        "statusCode": 429,
        "message": f"Rate limit is exceeded. Try again in {retry_after} seconds.",
    }
    assert user_client.get(f"/v1/customers/{cold}/subscriptions").status_code == 200  # other key
    assert (
        user_client.get("/v1/products?country=US&targetView=OnlineServices").status_code == 200
    )  # not throttled
    sandbox.admin.advance_clock(retry_after)
    assert user_client.get(f"/v1/customers/{hot}/subscriptions").status_code == 200


def test_throttling_can_be_switched_off(tmp_path) -> None:
    with running_sandbox(tmp_path, throttling=False) as sbx:
        sbx.admin.set_faults(throttle_limit=1)
        with sbx.client(sbx.admin.access_token()) as client:
            assert [client.get("/v1/customers").status_code for _ in range(3)] == [200, 200, 200]
        assert sbx.admin.faults()["throttling"] is False


def test_scripted_fault_then_recovery_and_call_log(
    sandbox: SandboxInfo, user_client: httpx.Client
) -> None:
    sandbox.admin.clear_calls()
    sandbox.admin.set_faults(
        script=[{"method": "GET", "path": "/v1/customers", "status": 503, "times": 1}]
    )
    request_id = str(uuid.uuid4())
    failed = user_client.get("/v1/customers", headers={"MS-RequestId": request_id})
    assert failed.status_code == 503
    assert failed.json()["source"] == "PartnerFD"
    assert failed.headers["MS-RequestId"] == request_id
    assert user_client.get("/v1/customers").status_code == 200
    calls = sandbox.admin.calls(method="GET", path="/v1/customers")
    assert [(c["status"], c["fault"]) for c in calls] == [(503, "503"), (200, None)]
    assert calls[0]["requestId"] == request_id


def test_random_errors_are_5xx_and_deterministic(
    sandbox: SandboxInfo, user_client: httpx.Client
) -> None:
    sandbox.admin.set_faults("error_rate=1,path_prefix=/v1/products")
    statuses = {
        user_client.get("/v1/products?country=US&targetView=OnlineServices").status_code
        for _ in range(6)
    }
    assert statuses <= {500, 502, 503} and statuses
    assert user_client.get("/v1/customers").status_code == 200  # outside path_prefix


def test_timeout_hangs_then_drops_the_connection(
    sandbox: SandboxInfo, user_client: httpx.Client
) -> None:
    sandbox.admin.set_faults(timeout_rate=1.0, timeout_s=0.2, path_prefix="/v1/customers")
    with pytest.raises(httpx.HTTPError):
        user_client.get("/v1/customers")
    sandbox.admin.set_faults(timeout_rate=0.0)
    assert user_client.get("/v1/customers").status_code == 200
    assert sandbox.admin.calls(path="/v1/customers")[0]["fault"] == "timeout"


def test_scripted_timeout_on_checkout(sandbox: SandboxInfo, user_client: httpx.Client) -> None:
    cid = sandbox.demo_customers[0]["tenant_id"]
    cart = user_client.post(
        f"/v1/customers/{cid}/carts",
        json={
            "lineItems": [
                {
                    "catalogItemId": "CFQ7TTC0LH18:0001:CFQ7TTC0K5DP",
                    "quantity": 1,
                    "billingCycle": "monthly",
                    "termDuration": "P1M",
                }
            ]
        },
    ).json()
    sandbox.admin.set_faults(
        timeout_s=0.1,
        script=[
            {"method": "POST", "path": "/v1/customers/*/carts/*/checkout", "status": "timeout"}
        ],
    )
    with pytest.raises(httpx.HTTPError):
        user_client.post(f"/v1/customers/{cid}/carts/{cart['id']}/checkout")
    # The dropped call never reached the API: a retry checks out exactly once.
    assert user_client.post(f"/v1/customers/{cid}/carts/{cart['id']}/checkout").status_code == 201


def test_latency_and_spec_from_running_sandbox(tmp_path) -> None:
    with running_sandbox(tmp_path, latency_ms=5, faults="eventual,seed=7") as sbx:
        settings = sbx.admin.faults()
        with sbx.client(sbx.admin.access_token()) as client:
            assert client.get("/v1/customers").status_code == 200
    assert settings["latency_ms"] == 5 and settings["seed"] == 7
    assert settings["provisioning_delay_s"] == 60 and settings["order_list_delay_s"] == 900


def test_fault_spec_parsing() -> None:
    faults = Faults()
    faults.apply_spec("flaky, latency_ms=20, throttling=off, path_prefix=/v1/customers")
    assert (faults.error_rate, faults.timeout_rate, faults.latency_ms) == (0.05, 0.01, 20)
    assert faults.throttling is False and faults.path_prefix == "/v1/customers"
    with pytest.raises(ValueError, match="unknown fault setting"):
        faults.apply_spec("bogus=1")
    with pytest.raises(ValueError, match="unknown fault preset"):
        faults.apply_spec("chaos")


def test_admin_api_needs_the_key(sandbox: SandboxInfo) -> None:
    with sandbox.client() as client:
        assert client.get("/_sandbox/faults").status_code == 401
        assert client.get("/_sandbox/faults", headers={"X-Sandbox-Key": "wrong"}).status_code == 401
        assert (
            client.put(
                "/_sandbox/faults", json={"nope": 1}, headers={"X-Sandbox-Key": sandbox.admin_key}
            ).status_code
            == 400
        )


def test_admin_reset_restores_world_clock_and_faults(
    sandbox: SandboxInfo, user_client: httpx.Client
) -> None:
    cid = sandbox.demo_customers[0]["tenant_id"]
    assert user_client.delete(f"/v1/customers/{cid}").status_code == 204
    sandbox.admin.set_faults(error_rate=0.5, path_prefix="/nowhere")
    sandbox.admin.advance_clock(86400)
    info = sandbox.admin.reset()
    assert info["demo_customers"][0]["tenant_id"] == cid
    assert sandbox.admin.faults()["error_rate"] == 0
    assert sandbox.admin.info()["partner_tenant_id"] == sandbox.partner_tenant_id
    with sandbox.client(sandbox.admin.access_token()) as fresh:
        assert fresh.get(f"/v1/customers/{cid}").status_code == 200
