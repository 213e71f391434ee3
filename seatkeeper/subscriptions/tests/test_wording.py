"""The history and the activity log speak in words, in the reader's language; payloads keep
numbers and codes; customers never read their seller's pricing internals."""

from __future__ import annotations

import html
import json
import re
from decimal import Decimal

import pytest

from seatkeeper.accounts import services as accounts_services
from seatkeeper.activity.models import ActivityRecord
from seatkeeper.conftest import sign_in
from seatkeeper.core import clock
from seatkeeper.pricing import services as pricing_services
from seatkeeper.subscriptions import services
from seatkeeper.subscriptions.models import OperationKind
from seatkeeper.subscriptions.tests.helpers import START, grant, order

NBSP = "\xa0"
CODES = ("subscription.", "margin_rule", "customerrights", "can_order", "adjustment", "previous")


@pytest.fixture
def frozen():
    with clock.frozen(START) as frozen:
        yield frozen


def _text(page: str) -> str:
    """What a person reads: the page without its tags and attributes."""
    return html.unescape(re.sub(r"[ \t\r\n]+", " ", re.sub(r"<[^>]+>", " ", page)))


def _grown_then_shrunk(cast, shop, frozen):
    subscription = order(cast, shop)
    frozen.advance(hours=2)
    services.subscription_change_quantity(
        actor=cast.reseller_admin, subscription=subscription, quantity=8
    )
    frozen.advance(hours=1)
    services.subscription_change_quantity(
        actor=cast.reseller_admin, subscription=subscription, quantity=6
    )
    return subscription


def test_payloads_and_activity_details_store_numbers_and_codes(cast, shop, frozen):
    # given an order, an increase and a decrease inside the vendor's window
    subscription = _grown_then_shrunk(cast, shop, frozen)
    # then the payloads hold Decimals as strings with their currency, never formatted money
    create, grow, shrink = subscription.operations.order_by("sequence")
    assert create.payload["unit_price"] == "5.0000" and create.payload["currency"] == "GBP"
    assert Decimal(grow.payload["adjustment"]) > 0 and grow.payload["currency"] == "GBP"
    assert Decimal(shrink.payload["adjustment"]) < 0
    assert Decimal(shrink.payload["new_total"]) == Decimal("30.00")
    records = ActivityRecord.objects.filter(object_type="subscription")
    # the order, the vendor setting it up (pending → active), the increase and the decrease
    assert records.count() == 4
    for stored in [create.payload, grow.payload, shrink.payload, *[r.details for r in records]]:
        text = json.dumps(stored, ensure_ascii=False)
        assert "£" not in text and "€" not in text and "GBP " not in text


def test_the_history_reads_in_french_with_no_raw_codes(cast, shop, client, frozen):
    # given a French-speaking reseller admin and a subscription grown then shrunk
    accounts_services.user_update(actor=cast.cloud_admin, user=cast.reseller_admin, language="fr")
    subscription = _grown_then_shrunk(cast, shop, frozen)
    # when they open the subscription
    body = sign_in(client, "reselleradmin").get(f"/subscriptions/{subscription.pk}/")
    history = _text(body.content.decode().split('id="history"')[1].split("</table>")[0])
    # then each change is a sentence, money reads the French way, the refund in words
    assert "Reseller One a augmenté l'abonnement Office seats de 5 à 8 licences." in history
    assert "Reseller One a réduit l'abonnement Office seats de 8 à 6 licences." in history
    assert f"À payer 15,00{NBSP}£GB" in history
    assert "Remboursement de " in history
    assert f"nouveau total par période de facturation : 30,00{NBSP}£GB" in history
    assert "Reseller One a commandé Microsoft 365 Business Basic : 5 licences." in history
    assert "22 nov. 2026, 11:00" in history
    for raw in (*CODES, "£", "-", "None", "True", "False", "GBP"):
        assert raw not in history.replace("£GB", ""), raw


def test_the_activity_log_reads_in_french_with_labels_in_its_filter(cast, shop, client, frozen):
    # given changes to a subscription and to the customer's rights, read by a French reseller
    accounts_services.user_update(actor=cast.cloud_admin, user=cast.reseller_admin, language="fr")
    _grown_then_shrunk(cast, shop, frozen)
    grant(cast, can_order=True)
    # when they open the activity log
    page = sign_in(client, "reselleradmin").get("/activity/?size=100")
    content = page.content.decode()
    text = _text(content)
    # then actions, objects and fields have French names and sentences
    assert "Reseller One a augmenté l'abonnement Office seats de 5 à 8 licences." in text
    assert "Quantité modifiée" in text and "Abonnement commandé" in text
    assert "Reseller One a modifié ce que le client Customer One peut faire" in text
    assert "commander de nouveaux abonnements : Non → Oui" in text
    assert "Abonnement : Office seats" in text
    # the filter lists labels; the codes stay in the option values only
    options = re.findall(r'<option value="([^"]*)"[^>]*>([^<]*)</option>', content)
    options = [(value, html.unescape(label)) for value, label in options]
    assert ("subscription.quantity", "Quantité modifiée") in options
    assert ("subscription.rights", "Droits du client modifiés") in options
    for raw in CODES:
        assert raw not in text, raw


def test_customers_never_read_their_sellers_rule_texts(cast, shop, client, frozen):
    # given a reseller rule pricing this customer, and a customer admin who may see prices
    pricing_services.margin_rule_set(
        actor=cast.reseller_admin,
        owner=cast.reseller,
        tier="customer",
        target=cast.customer,
        method="markup",
        value=Decimal("10"),
    )
    grant(cast, can_increase=True)
    subscription = order(cast, shop)
    # when the reseller and the customer admin open the subscription and the quantity page
    reseller_page = sign_in(client, "reselleradmin").get(f"/subscriptions/{subscription.pk}/")
    customer_client = sign_in(client, "customeradmin")
    customer_pages = [
        customer_client.get(f"/subscriptions/{subscription.pk}/"),
        customer_client.get(f"/subscriptions/{subscription.pk}/quantity/?quantity=6"),
        customer_client.get("/activity/"),
    ]
    # then the reseller reads its rule; the customer reads its price only
    assert "Rule #" in reseller_page.content.decode()
    for page in customer_pages:
        assert page.status_code == 200
        body = page.content.decode()
        assert "Rule #" not in body and "Reseller One for" not in body
        assert "margin_rule" not in body and "Price rule set" not in body
    assert "£4.95" in customer_pages[0].content.decode()  # 4.50 + 10 %, per seat


def test_an_old_record_with_formatted_money_still_reads_in_words(cast, shop, frozen):
    # given a history row written before amounts were stored as numbers
    from seatkeeper.subscriptions.display import operation_details
    from seatkeeper.subscriptions.models import Operation

    subscription = order(cast, shop)
    old = Operation.objects.create(
        subscription=subscription,
        sequence=99,
        kind=OperationKind.CANCEL,
        payload={"status": "cancelled", "refund": "£-41.38"},
        requested_by=cast.reseller_admin,
        requested_by_name="reselleradmin",
        state="done",
    )
    # then it reads as a refund, in French too
    from django.utils import translation

    assert operation_details(old) == "Reseller One ended Office seats. Refund £41.38"
    with translation.override("fr"):
        assert operation_details(old) == (
            f"Reseller One a résilié l'abonnement Office seats. Remboursement de 41,38{NBSP}£GB"
        )
