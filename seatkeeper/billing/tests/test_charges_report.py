"""The billing report: range → cycles, grouping, each viewer's prices, totals that add up in
every currency, exports (CSV, XLSX, PDF) and the API. Money is Decimal end to end."""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal

import pytest
from django.utils import translation
from openpyxl import load_workbook

from seatkeeper.billing import charges, cycles, reports
from seatkeeper.billing.models import ChargeLine
from seatkeeper.conftest import sign_in
from seatkeeper.core import clock
from seatkeeper.core.money import minor_units
from seatkeeper.pricing import services as pricing_services
from seatkeeper.subscriptions import services
from seatkeeper.subscriptions.tests.helpers import order

DECEMBER_2 = dt.datetime(2026, 12, 2, 8, tzinfo=dt.UTC)


@pytest.fixture
def billed(cast, shop):
    """November billed for two customers of Reseller One: one in GBP, one in EUR, and a
    subscription of Reseller Two's customer; seen on 2 December."""
    cast.customer_two.default_currency = "EUR"
    cast.customer_two.save(update_fields=["default_currency"])
    pricing_services.exchange_rate_set(
        actor=None,
        partner=cast.partner,
        base_currency="GBP",
        quote_currency="EUR",
        rate=Decimal("1.1533"),
    )
    account = shop.world.vendor.provider_account
    for number, customer in enumerate([cast.customer_two, cast.customer_three], start=2):
        services.tenant_link(
            actor=None,
            customer=customer,
            account=account,
            vendor_customer_id=f"c0ffee00-0000-4000-8000-00000000000{number}",
            domain=f"customer{number}.onmicrosoft.com",
        )
    gbp = order(cast, shop, quantity=5, name="Office seats")
    order(cast, shop, customer=cast.customer_two, quantity=3, name="Bureau")
    order(
        cast, shop, actor=cast.operator, customer=cast.customer_three, quantity=2, name="Elsewhere"
    )
    with clock.frozen(dt.datetime(2026, 11, 24, 10, tzinfo=dt.UTC)):
        services.subscription_change_quantity(
            actor=cast.reseller_admin, subscription=gbp, quantity=8
        )
        shop.provision(gbp)
    with clock.frozen(DECEMBER_2):
        for account in (cast.reseller, cast.reseller_two):
            charges.billing_run(account=account, day=dt.date(2026, 11, 30))
    with clock.frozen(DECEMBER_2):
        yield cast


def report_for(user, **params):
    return reports.build_report(user, reports.report_filter(user, params))


def test_last_month_is_one_report_per_cycle_grouped_date_subscription_detail(billed):
    report = report_for(billed.reseller_admin)

    (cycle,) = report.cycles
    assert (cycle.start, cycle.end, cycle.report_date) == (
        dt.date(2026, 11, 1),
        dt.date(2026, 11, 30),
        dt.date(2026, 12, 1),
    )
    assert cycle.billed
    assert [item.name for item in cycle.subscriptions] == ["Office seats", "Bureau"]
    office = cycle.subscriptions[0]
    assert [(detail.kind, detail.quantity) for detail in office.details] == [
        ("cycle_fee", 5),
        ("prorata", 3),
    ]
    assert office.details[0].prices == [
        (Decimal("4.5000"), Decimal("22.50")),
        (Decimal("5.0000"), Decimal("25.00")),
    ]
    assert office.po_number == "PO-1"


def test_a_custom_range_shows_one_report_per_cycle_in_it(billed):
    cycles.billing_cycle_day_set(actor=billed.cloud_admin, organisation=billed.reseller, day=15)

    report = report_for(
        billed.reseller_admin, period="custom", **{"from": "2026-10", "to": "2027-01"}
    )

    assert [(cycle.start, cycle.end, cycle.billed) for cycle in report.cycles] == [
        (dt.date(2026, 10, 1), dt.date(2026, 10, 31), False),
        (dt.date(2026, 11, 1), dt.date(2026, 11, 30), True),
        # set on 2 December: December keeps its dates, the 15th applies from January
        (dt.date(2026, 12, 1), dt.date(2026, 12, 31), False),
        (dt.date(2027, 1, 1), dt.date(2027, 1, 15), False),
    ]


@pytest.mark.parametrize("who", ["cloud_admin", "reseller_admin", "customer_admin"])
def test_totals_are_the_sum_of_the_lines_in_every_currency(billed, who):
    user = getattr(billed, who)
    report = report_for(user)

    width = len(report.columns)
    for cycle in report.cycles:
        sums: dict[str, list[Decimal]] = {}
        for subscription in cycle.subscriptions:
            for detail in subscription.details:
                for line in detail.lines:
                    current = sums.setdefault(line.values["currency"], [Decimal(0)] * width)
                    for index, amount in enumerate(line.amounts):
                        assert isinstance(amount, Decimal)
                        assert -amount.as_tuple().exponent <= minor_units(line.values["currency"])
                        current[index] += amount
        assert dict(cycle.totals.rows()) == sums
    if who != "customer_admin":
        assert set(report.totals.by_currency) == {"GBP", "EUR"}


@pytest.mark.parametrize("who", ["cloud_admin", "reseller_admin"])
def test_every_level_of_totals_adds_up_and_the_export_adds_up_to_them(billed, client, who):
    """Rounding rule (charges.py, core.money): each line is rounded once, to its currency's
    minor unit; every total above it (detail, subscription, cycle, report) adds rounded lines
    and is never rounded again, so each level is exactly the sum of the level below, per
    currency, and the CSV export adds up to the report's totals."""
    user = getattr(billed, who)
    report = report_for(user)
    width = len(report.columns)

    def zero() -> list[Decimal]:
        return [Decimal(0)] * width

    report_sums: dict[str, list[Decimal]] = {}
    for cycle in report.cycles:
        cycle_sums: dict[str, list[Decimal]] = {}
        for subscription in cycle.subscriptions:
            subscription_sums: dict[str, list[Decimal]] = {}
            for detail in subscription.details:
                line_sums = zero()
                for line in detail.lines:
                    line_sums = [a + b for a, b in zip(line_sums, line.amounts, strict=True)]
                assert detail.amounts == line_sums
                current = subscription_sums.setdefault(detail.currency, zero())
                subscription_sums[detail.currency] = [
                    a + b for a, b in zip(current, detail.amounts, strict=True)
                ]
            assert dict(subscription.totals.rows()) == subscription_sums
            for currency, amounts in subscription.totals.rows():
                current = cycle_sums.setdefault(currency, zero())
                cycle_sums[currency] = [a + b for a, b in zip(current, amounts, strict=True)]
        assert dict(cycle.totals.rows()) == cycle_sums
        for currency, amounts in cycle.totals.rows():
            current = report_sums.setdefault(currency, zero())
            report_sums[currency] = [a + b for a, b in zip(current, amounts, strict=True)]
    assert dict(report.totals.rows()) == report_sums
    assert {"GBP", "EUR"} <= set(report_sums)

    client.force_login(user)
    text = b"".join(client.get("/billing/report/?export=csv").streaming_content)
    rows = list(csv.DictReader(io.StringIO(text.decode("utf-8-sig"))))
    exported: dict[str, list[Decimal]] = {}
    for row in rows:
        current = exported.setdefault(row["Currency"], zero())
        amounts = [Decimal(row[f"Amount ({column.label})"]) for column in report.columns]
        for amount in amounts:
            assert -amount.as_tuple().exponent == minor_units(row["Currency"])
        exported[row["Currency"]] = [a + b for a, b in zip(current, amounts, strict=True)]
    assert exported == report_sums


def test_every_one_sees_their_own_audiences_prices(billed):
    partner = report_for(billed.cloud_admin)
    reseller = report_for(billed.reseller_admin)
    customer = report_for(billed.customer_admin)

    assert [column.key for column in partner.columns] == ["cost", "sale"]
    assert [column.key for column in customer.columns] == ["price"]
    fee = lambda report: report.cycles[0].subscriptions[0].details[0]  # noqa: E731
    # the partner: its cost and what it sells to the reseller
    assert fee(partner).amounts == [Decimal("22.50"), Decimal("22.50")]
    # the reseller: its cost and its customer's price
    assert fee(reseller).amounts == [Decimal("22.50"), Decimal("25.00")]
    # the customer: its price, and no rule behind it
    assert fee(customer).amounts == [Decimal("25.00")]
    assert all(text == "" for text, _url in fee(customer).lines[0].sources)
    assert [item.name for item in customer.cycles[0].subscriptions] == ["Office seats"]


def test_the_partner_sees_every_reseller_and_a_reseller_only_its_own(billed):
    partner = report_for(billed.cloud_admin)
    reseller = report_for(billed.reseller_admin)

    names = lambda report: {s.name for c in report.cycles for s in c.subscriptions}  # noqa: E731
    assert names(partner) == {"Office seats", "Bureau", "Elsewhere"}
    assert names(reseller) == {"Office seats", "Bureau"}


def test_another_tenants_report_answers_404(billed, client):
    sign_in(client, "reselleradmin")

    assert (
        client.get(f"/billing/report/?organisation={billed.customer_three.pk}").status_code == 404
    )
    assert client.get(f"/billing/report/?organisation={billed.customer.pk}").status_code == 200
    statement = f"/billing/statements/{billed.customer_three.pk}/2026-11-30.pdf"
    assert client.get(statement).status_code == 404
    api = client.get(f"/api/v1/billing/report/?organisation={billed.customer_three.pk}")
    assert api.status_code == 404


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("period=someday", "period"),
        ("period=custom&from=2026-13", "from"),
        ("period=custom&from=2026-10&to=2026-09", "to"),
        ("period=custom&from=2020-01&to=2026-01", "to"),
    ],
)
def test_a_bad_range_is_a_400_naming_the_field(billed, client, query, field):
    sign_in(client, "reselleradmin")

    page = client.get(f"/billing/report/?{query}")
    api = client.get(f"/api/v1/billing/report/?{query}")

    assert page.status_code == 400
    assert f'data-field="{field}"'.encode() in page.content
    assert api.status_code == 400
    assert field in api.json()["fields"]


def test_the_csv_export_has_every_line_with_friendly_name_and_po_number(billed, client):
    sign_in(client, "reselleradmin")

    response = client.get("/billing/report/?export=csv")

    text = b"".join(response.streaming_content).decode("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert len(rows) == ChargeLine.objects.filter(reseller=billed.reseller).count() == 3
    office = [row for row in rows if row["Friendly name"] == "Office seats"]
    assert [row["Type"] for row in office] == ["Cycle fee", "Pro-rata"]
    assert office[0]["PO number"] == "PO-1"
    assert office[0]["Amount (Customer price)"] == "25.00"
    assert office[1]["Amount (Your cost (reseller price))"] == "12.60"
    assert "Partner cost" not in text


def test_the_xlsx_export_keeps_amounts_as_numbers(billed, client):
    sign_in(client, "customeradmin")

    response = client.get("/billing/report/?export=xlsx")

    sheet = load_workbook(io.BytesIO(b"".join(response.streaming_content))).active
    header, *rows = [list(row) for row in sheet.iter_rows(values_only=True)]
    assert "Reseller" not in header and "Price set by" not in header
    amount = header.index("Amount (Price)")
    assert [row[amount] for row in rows] == [25, 14]
    assert {row[header.index("PO number")] for row in rows} == {"PO-1"}


def test_the_pdf_statement_is_in_the_readers_language_and_locale(billed, client):
    billed.customer_admin.language = "fr"
    billed.customer_admin.save(update_fields=["language"])
    sign_in(client, "customeradmin")

    response = client.get(f"/billing/statements/{billed.customer.pk}/2026-11-30.pdf")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response.content.startswith(b"%PDF")
    with translation.override("fr"):
        assert reports.money_text(Decimal("1234.5"), "EUR") == "1\u202f234,50\u00a0€"
        assert reports.money_text(Decimal("4.1234"), "EUR", unit=True) == "4,1234\u00a0€"
    with translation.override("en"):
        assert reports.money_text(Decimal("1234.5"), "EUR") == "€1,234.50"
        assert reports.money_text(Decimal("4.5000"), "GBP", unit=True) == "£4.50"


def test_the_api_gives_the_report_and_its_lines_as_decimal_strings(billed, client):
    sign_in(client, "reselleradmin")

    report = client.get("/api/v1/billing/report/").json()
    lines = client.get("/api/v1/billing/charge-lines/?kind=prorata").json()

    (cycle,) = report["cycles"]
    assert cycle["report_date"] == "2026-12-01"
    totals = {total["currency"]: total["amounts"] for total in cycle["totals"]}
    assert [amount["amount"] for amount in totals["GBP"]] == ["35.10", "39.00"]
    assert set(totals) == {"GBP", "EUR"}
    (line,) = lines["results"]
    assert line["friendly_name"] == "Office seats"
    assert [price["amount"] for price in line["prices"]] == ["12.60", "14.00"]
    assert "reseller price" in line["prices"][0]["label"]


def test_partner_staff_set_a_cycle_day_through_the_page_and_the_api(billed, client):
    sign_in(client, "cloudadmin")

    page = client.post(
        "/billing/cycles/", {"organisation": billed.reseller.pk, "day": "15", "time_zone": ""}
    )
    bad = client.post(
        "/api/v1/billing/cycle-days/",
        {"organisation": billed.reseller_two.pk, "day": 40},
        content_type="application/json",
    )
    good = client.post(
        "/api/v1/billing/cycle-days/",
        {"organisation": billed.reseller_two.pk, "day": 5, "time_zone": "Europe/Paris"},
        content_type="application/json",
    )

    assert page.status_code == 302
    assert bad.status_code == 400 and "day" in bad.json()["fields"]
    assert good.status_code == 201
    assert (good.json()["next_day"], good.json()["next_from"]) == (5, "2027-01-01")
    sign_in(client, "reselleradmin")
    refused = client.post(
        "/api/v1/billing/cycle-days/",
        {"organisation": billed.reseller.pk, "day": 3},
        content_type="application/json",
    )
    assert refused.status_code == 403
    listing = client.get("/billing/cycles/")
    assert listing.status_code == 200
    assert b"day 15 from" in listing.content
