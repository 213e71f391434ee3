"""The license-based price sheet, on the sandbox's own host (as Microsoft serves it from
api.partner.microsoft.com, not from the Partner Center API host):

    GET /v1.0/sales/pricesheets(Market='FR',PricesheetView='updatedlicensebased')/$value
        [?timeline=current|history][&month=YYYYMM]

Facts relied on (Microsoft's "Get a price sheet" reference, in our words):
- App+User tokens only (an app-only token is refused); the answer is a file stream: the CSV, or
  the same CSV zipped when the request says `Accept-Encoding: deflate`;
- `timeline=history` with `month=YYYYMM` gives a past month's sheet; `current` (the default)
  the prices of the month so far;
- columns as in `COLUMNS`: one line per product, SKU, availability, term, billing plan and
  price tier, prices in the market's currency, `UnitPrice` the partner's price per unit per
  billing period and `ERP Price` the estimated retail price; EffectiveEndDate blank while the
  price holds.

The prices are the ones the sandbox's catalog quotes on its availabilities (`terms.term_price`),
so a partner importing the sheet prices exactly what it can order here. A past month's sheet
carries the same prices, dated from the first to the last day of that month.
"""

from __future__ import annotations

import calendar
import csv
import datetime as dt
import io
import re
import zipfile

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from . import terms
from .catalog import SKU_ID, product_terms
from .catalog_data import PRODUCTS
from .web import PCError, authenticate, sandbox_of

COLUMNS = [
    "ProductTitle", "ProductId", "SkuId", "AvailabilityId", "SkuTitle", "Publisher",
    "SkuDescription", "UnitOfMeasure", "TermDuration", "BillingPlan", "Market", "Currency",
    "UnitPrice", "PricingTierRangeMin", "PricingTierRangeMax", "EffectiveStartDate",
    "EffectiveEndDate", "Tags", "ERP Price", "Segment",
]  # fmt: skip
VIEWS = {"updatedlicensebased"}
# Other views Microsoft documents: known, but this sandbox has nothing to put in them.
OTHER_VIEWS = {"azure_consumption", "azure_reservations", "marketplace", "software"}
PLANS = {"monthly": "Monthly", "annual": "Annual", "triennial": "Triennial"}
_SELECTOR = re.compile(
    r"^pricesheets\(\s*Market\s*=\s*'(?P<market>[^']*)'\s*,"
    r"\s*PricesheetView\s*=\s*'(?P<view>[^']*)'\s*\)/\$value$",
    re.IGNORECASE,
)


def sheet_rows(market: str, first: dt.date, last: dt.date | None) -> list[dict[str, str]]:
    currency = terms.currency_for(market)
    start = f"{first.isoformat()}T00:00:00Z"
    end = f"{last.isoformat()}T23:59:59Z" if last else ""
    rows = []
    for product in PRODUCTS:
        for duration, cycle in product_terms(product):
            unit, erp = terms.term_price(product.monthly_erp_usd, duration, cycle, currency)
            rows.append(
                {
                    "ProductTitle": product.title,
                    "ProductId": product.id,
                    "SkuId": SKU_ID,
                    "AvailabilityId": product.availability_id,
                    "SkuTitle": product.title,
                    "Publisher": product.publisher,
                    "SkuDescription": product.description,
                    "UnitOfMeasure": "1 License",
                    "TermDuration": duration,
                    "BillingPlan": PLANS[cycle],
                    "Market": market,
                    "Currency": currency,
                    "UnitPrice": str(unit),
                    "PricingTierRangeMin": "0",
                    "PricingTierRangeMax": "",
                    "EffectiveStartDate": start,
                    "EffectiveEndDate": end,
                    "Tags": "License",
                    "ERP Price": str(erp),
                    "Segment": "Commercial",
                }
            )
    return rows


def sheet_csv(rows: list[dict[str, str]]) -> bytes:
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=COLUMNS, lineterminator="\r\n")
    writer.writeheader()
    writer.writerows(rows)
    return ("\ufeff" + text.getvalue()).encode("utf-8")


def _month(text: str, today: dt.date) -> tuple[dt.date, dt.date]:
    if not re.fullmatch(r"\d{6}", text or ""):
        raise PCError(400, 400001, "The month must be given as YYYYMM.")
    year, month = int(text[:4]), int(text[4:])
    if not 1 <= month <= 12 or year < 2000:
        raise PCError(400, 400001, f"The month {text} is not valid.")
    first = dt.date(year, month, 1)
    if first > today.replace(day=1):
        raise PCError(400, 400001, f"The month {text} is not in the past.")
    return first, dt.date(year, month, calendar.monthrange(year, month)[1])


async def get_price_sheet(request: Request) -> Response:
    match = _SELECTOR.match(request.path_params["resource"])
    if match is None:
        raise PCError(404, 404, "The requested resource was not found.")
    authenticate(request, user_only=True)
    market, view = match["market"].upper(), match["view"].lower()
    if not re.fullmatch(r"[A-Z]{2}", market):
        raise PCError(400, 400001, f"The market {match['market']} is not valid.")
    if view not in VIEWS | OTHER_VIEWS:
        raise PCError(400, 400001, f"The price sheet view {match['view']} is not valid.")
    params = {key.lower(): value for key, value in request.query_params.items()}
    timeline = (params.get("timeline") or "current").lower()
    today = sandbox_of(request).clock.now().date()
    if timeline == "current":
        if params.get("month"):
            raise PCError(400, 400001, "A month is given only with timeline=history.")
        first, last = today.replace(day=1), None
    elif timeline == "history":
        first, last = _month(params.get("month", ""), today)
        if first == today.replace(day=1):
            last = None  # the month under way: its prices still hold
    else:
        raise PCError(400, 400001, f"The timeline {params.get('timeline')} is not valid.")
    rows = sheet_rows(market, first, last) if view in VIEWS else []
    body = sheet_csv(rows)
    name = f"pricesheet_{market}_{view}_{first:%Y%m}"
    if "deflate" in request.headers.get("accept-encoding", "").lower():
        archive = io.BytesIO()
        with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zipped:
            zipped.writestr(f"{name}.csv", body)
        return Response(
            archive.getvalue(),
            200,
            media_type="application/octet-stream",
            headers={"Content-Disposition": f'attachment; filename="{name}.zip"'},
        )
    return Response(
        body,
        200,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
    )


def routes() -> list[Route]:
    return [Route("/v1.0/sales/{resource:path}", get_price_sheet, methods=["GET"])]
