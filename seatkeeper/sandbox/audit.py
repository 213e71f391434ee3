"""Audit records: one per mutation, listed by date range with seek paging (reference §9.2).

``resourceOldValue``/``resourceNewValue`` are JSON *strings* of the PascalCase resource, as in
Partner Center; the other fields are camelCase.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .state import Sandbox
from .store import dumps, iso, loads
from .web import PCError, authenticate, collection, json_response, sandbox_of, seek_next, seek_state

AUDIT_RETENTION_DAYS = 90


def _pascal(value: Any) -> Any:
    if isinstance(value, dict):
        return {(k[:1].upper() + k[1:]): _pascal(v) for k, v in value.items() if k != "links"}
    if isinstance(value, list):
        return [_pascal(v) for v in value]
    return value


def build_record(
    *,
    partner_id: str,
    operation: str,
    resource_type: str,
    customer: dict[str, Any] | None,
    actor: str,
    application_id: str,
    moment: dt.datetime,
    correlation_id: str,
    old: dict[str, Any] | None = None,
    new: dict[str, Any] | None = None,
    customized: dict[str, str] | None = None,
) -> dict[str, Any]:
    customer_id = customer["id"] if customer else None
    ticks = int(moment.timestamp() * 10_000_000) + 621355968000000000  # .NET ticks
    return {
        "id": f"{partner_id}_{customer_id or ''}_{operation}_{ticks}",
        "partnerId": partner_id,
        "participants": [],
        "customerId": customer_id,
        "customerName": (customer or {}).get("companyProfile", {}).get("companyName"),
        "userPrincipalName": actor,
        "applicationId": application_id,
        "resourceType": resource_type,
        "resourceOldValue": dumps(_pascal(old)) if old is not None else None,
        "resourceNewValue": dumps(_pascal(new)) if new is not None else None,
        "operationType": operation,
        "originalCorrelationId": correlation_id,
        "operationDate": iso(moment),
        "operationStatus": "succeeded",
        "customizedData": [{"key": k, "value": v} for k, v in (customized or {}).items()],
        "attributes": {"objectType": "AuditRecord"},
    }


def record(
    sandbox: Sandbox,
    *,
    operation: str,
    resource_type: str,
    customer: dict[str, Any] | None,
    actor: str | None = None,
    application_id: str | None = None,
    old: dict[str, Any] | None = None,
    new: dict[str, Any] | None = None,
    customized: dict[str, str] | None = None,
    correlation_id: str | None = None,
    when: dt.datetime | None = None,
) -> None:
    moment = when or sandbox.clock.now()
    item = build_record(
        partner_id=sandbox.identity.partner_tenant_id,
        operation=operation,
        resource_type=resource_type,
        customer=customer,
        actor=actor or sandbox.identity.agent_upn,
        application_id=application_id or sandbox.identity.client_id,
        moment=moment,
        correlation_id=correlation_id or sandbox.new_id(),
        old=old,
        new=new,
        customized=customized,
    )
    sandbox.store.run(
        "INSERT INTO audit (op_date, customer_id, data) VALUES (?, ?, ?)",
        (item["operationDate"], item["customerId"], dumps(item)),
    )


def _parse_date(text: str, name: str) -> dt.datetime:
    try:
        value = dt.datetime.fromisoformat(text.strip())
    except ValueError as exc:
        raise PCError(400, 800002, f"{name} is not a valid date.") from exc
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


async def list_records(request: Request) -> Response:
    """``GET /v1/auditrecords?startDate=&endDate=&size=&filter=`` (App-only OK)."""
    from .subscriptions import settle_all

    sandbox = sandbox_of(request)
    authenticate(request)
    # Term ends the clock has passed are applied (and recorded, dated when they happened)
    # before anyone reads the log, as they would be at Microsoft.
    settle_all(sandbox)
    state = seek_state(request, "audit", 500, 500)
    if "start" not in state:
        params = {k.lower(): v for k, v in request.query_params.items()}
        now = sandbox.clock.now()
        start = (
            _parse_date(params["startdate"], "startDate")
            if params.get("startdate")
            else now - dt.timedelta(days=30)
        )
        if start < now - dt.timedelta(days=AUDIT_RETENTION_DAYS):
            raise PCError(400, 800002, "startDate can't be older than 90 days.")
        end = (
            _parse_date(params["enddate"], "endDate") + dt.timedelta(days=1)
            if params.get("enddate")
            else now + dt.timedelta(days=1)
        )
        state.update({"start": iso(start), "end": iso(end)})
    sql = "SELECT seq, data FROM audit WHERE op_date >= ? AND op_date < ? AND seq > ?"
    args: list[Any] = [state["start"], state["end"], state["after"]]
    flt = state.get("filter")
    if flt:
        try:
            f = {k.lower(): v for k, v in loads(flt).items()}
        except (ValueError, AttributeError) as exc:
            raise PCError(400, 800002, "The filter is invalid.") from exc
        field, value, op = (
            str(f.get("field", "")).lower(),
            str(f.get("value", "")),
            str(f.get("operator", "")).lower(),
        )
        column = {
            "customerid": "$.customerId",
            "companyname": "$.customerName",
            "resourcetype": "$.resourceType",
        }.get(field)
        if column is None or op not in ("substring", "equals"):
            raise PCError(
                400,
                800002,
                (
                    "Audit filter supports CompanyName, CustomerId, ResourceType with substring or "
                    "equals."
                ),
            )
        if op == "equals":
            sql += f" AND lower(json_extract(data, '{column}')) = lower(?)"
            args.append(value)
        else:
            sql += f" AND instr(lower(json_extract(data, '{column}')), lower(?)) > 0"
            args.append(value)
    sql += " ORDER BY seq LIMIT ?"
    args.append(state["size"] + 1)
    rows = sandbox.store.all(sql, args)
    page, more = rows[: state["size"]], len(rows) > state["size"]
    items = [loads(r[1]) for r in page]
    self_uri = "/auditrecords" + (f"?{request.url.query}" if request.url.query else "")
    next_link, token = None, None
    if more:
        token, next_link = seek_next(f"/auditrecords?size={state['size']}", state, page[-1][0])
    return json_response(collection(items, self_uri, next_link=next_link, continuation_token=token))


def routes() -> list[Route]:
    return [Route("/v1/auditrecords", list_records, methods=["GET"])]
