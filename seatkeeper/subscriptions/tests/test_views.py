"""The subscription pages: what each role sees and may do, refusals shown with the service's
message, conflicts, and the lists' filters, queries and prices."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from seatkeeper.conftest import sign_in
from seatkeeper.core import clock
from seatkeeper.pricing.models import MarginRule
from seatkeeper.providers.errors import ValidationFailed
from seatkeeper.subscriptions import services
from seatkeeper.subscriptions.models import (
    CustomerRights,
    Operation,
    OperationState,
    RenewalOption,
    Status,
    Subscription,
    SyncStatus,
)
from seatkeeper.subscriptions.tests.helpers import START, grant, order, recorded_state


@pytest.fixture
def frozen():
    with clock.frozen(START) as frozen:
        yield frozen


def _list_url(cast) -> str:
    return f"/customers/{cast.customer.pk}/subscriptions/"


def _table(response) -> str:
    body = response.content.decode()
    return body[body.index('id="table-region"') :]


def test_the_customer_list_shows_the_seed_columns_and_prices_for_the_viewer(
    cast, shop, client, frozen
):
    subscription = order(cast, shop)
    order(cast, shop, offer=shop.world.teams, parent=subscription, quantity=2, name="Phones")
    page = sign_in(client, "reselleradmin").get(_list_url(cast)).content.decode()
    for header in ("Provider", "Friendly name", "Creation date", "Quantity", "Assigned"):
        assert header in page
    for header in ("Commitment end date", "Auto renewable", "Is trial", "Billing cycle"):
        assert header in page
    assert "Office seats" in page and "Phones" in page
    # 5 seats at the reseller price (the partner cost here, no rule): £4.50 each per month
    assert "£22.50" in page and "Reseller price" in page
    assert f'href="/subscriptions/{subscription.pk}/addons/"' in page


def test_a_customer_admin_sees_customer_prices_and_no_actions_without_rights(
    cast, shop, client, frozen
):
    subscription = order(cast, shop)
    page = sign_in(client, "customeradmin").get(_list_url(cast)).content.decode()
    assert "Customer price" in page and "Partner cost" not in page
    assert f"/subscriptions/{subscription.pk}/suspend/" not in page
    assert f"/subscriptions/{subscription.pk}/quantity/" not in page
    grant(cast, can_increase=True)
    page = client.get(_list_url(cast)).content.decode()
    assert f"/subscriptions/{subscription.pk}/quantity/" in page
    assert f"/subscriptions/{subscription.pk}/suspend/" not in page


def test_the_list_costs_the_same_queries_for_any_number_of_rows(cast, shop, client, frozen):
    for n in range(2):
        order(cast, shop, name=f"Seats {n}")
    sign_in(client, "reselleradmin")
    with CaptureQueriesContext(connection) as few:
        assert client.get(_list_url(cast)).status_code == 200
    for n in range(6):
        order(cast, shop, name=f"More {n}")
    with CaptureQueriesContext(connection) as many:
        assert client.get(_list_url(cast)).status_code == 200
    assert len(many) == len(few)


def test_filters_by_status_failed_section_and_search(cast, shop, client, frozen):
    good = order(cast, shop, name="Good seats")
    bad = order(cast, shop, name="Bad seats", provision=False)
    shop.provider.failures = [ValidationFailed("Offer not available", code="800002")]
    shop.provision(bad)
    services.subscription_suspend(actor=cast.reseller_admin, subscription=good)
    sign_in(client, "reselleradmin")
    failed = _table(client.get(_list_url(cast) + "?status=failed"))
    assert "Bad seats" in failed and "Good seats" not in failed
    assert "800002" in failed and "Offer not available" in failed
    suspended = _table(client.get(_list_url(cast) + "?status=suspended"))
    assert "Good seats" in suspended and "Bad seats" not in suspended
    assert "Good seats" not in _table(client.get(_list_url(cast) + "?section=addon"))
    searched = _table(client.get(_list_url(cast) + "?q=bad"))
    assert "Bad seats" in searched and "Good seats" not in searched


def test_htmx_requests_get_only_the_table(cast, shop, client, frozen):
    order(cast, shop)
    response = sign_in(client, "reselleradmin").get(_list_url(cast), HTTP_HX_REQUEST="true")
    body = response.content.decode()
    assert body.lstrip().startswith('<div id="table-region">') and "<html" not in body


def test_the_list_across_customers_is_scoped_to_the_viewer(cast, shop, client, frozen):
    order(cast, shop, name="Reseller one seats")
    order(
        cast,
        shop,
        customer=cast.direct_customer,
        actor=cast.cloud_admin,
        offer=shop.world.uc_business,
        term="P1M",
        name="Direct seats",
    )
    page = _table(sign_in(client, "reselleradmin").get("/subscriptions/"))
    assert "Reseller one seats" in page and "Direct seats" not in page
    page = _table(sign_in(client, "cloudadmin").get("/subscriptions/"))
    assert "Reseller one seats" in page and "Direct seats" in page
    response = sign_in(client, "customeradmin").get("/subscriptions/")
    assert response.status_code == 302 and response.url == _list_url(cast)


def test_other_organisations_get_404(cast, shop, client, frozen):
    subscription = order(cast, shop)
    sign_in(client, "outsider")
    for url in (
        _list_url(cast),
        f"/subscriptions/{subscription.pk}/",
        f"/subscriptions/{subscription.pk}/quantity/",
        f"/subscriptions/{subscription.pk}/suspend/",
        f"/customers/{cast.customer.pk}/store/",
        f"/customers/{cast.customer.pk}/rights/",
    ):
        assert client.get(url).status_code == 404, url
    assert (
        client.post(f"/subscriptions/{subscription.pk}/suspend/", {"step": "2"}).status_code == 404
    )


def _grown_from_5_to_8_seen_by_the_reseller(cast, shop, client, frozen) -> tuple[Subscription, str]:
    """Five seats bought at 09:00 and three more at 11:00, on the page the reseller admin sees."""
    subscription = order(cast, shop)
    frozen.advance(hours=2)
    services.subscription_change_quantity(
        actor=cast.reseller_admin, subscription=subscription, quantity=8
    )
    page = sign_in(client, "reselleradmin").get(f"/subscriptions/{subscription.pk}/")
    return subscription, page.content.decode()


def test_the_subscription_page_shows_lots_refunds_history_and_vendor_ids(
    cast, shop, client, frozen
):
    subscription, body = _grown_from_5_to_8_seen_by_the_reseller(cast, shop, client, frozen)
    assert "3 seats can be removed until 29 Nov 2026, 11:00 for a refund of" in body
    assert "5 seats can be removed until 29 Nov 2026, 09:00" in body
    assert "0 assigned" in body
    assert subscription.vendor_subscription_id in body
    assert "Change quantity" in body and "reselleradmin" in body
    history = body[body.index('id="history"') :]
    assert "Reseller One raised Office seats from 5 to 8 seats. Charge £15.00" in history
    assert "term: 1 year; billing cycle: Monthly" in history
    assert "parent" not in history and "None" not in history
    assert "Reseller price" in body and "Customer price" in body and "Partner cost" not in body


def test_a_trial_that_converts_is_shown_loudly(cast, shop, client, frozen):
    subscription = order(cast, shop)
    Subscription.objects.filter(pk=subscription.pk).update(is_trial=True)
    body = sign_in(client, "reselleradmin").get(f"/subscriptions/{subscription.pk}/").content
    assert b"This trial converts to a paid subscription" in body


def test_quantity_preview_shows_the_quote_with_whose_prices(cast, shop, client, frozen):
    subscription = order(cast, shop)
    sign_in(client, "reselleradmin")
    fragment = client.get(f"/subscriptions/{subscription.pk}/quantity/preview/?quantity=7")
    body = fragment.content.decode()
    assert 'id="quote"' in body and "<html" not in body
    assert "£31.50" in body  # 7 × £4.50 from the next period
    assert "£9.00" in body  # 2 more seats for the whole first month
    assert "Reseller price" in body and "2 × £4.50" in body


def test_quantity_change_saves_with_the_version(cast, shop, client, frozen):
    subscription = order(cast, shop)
    sign_in(client, "reselleradmin")
    response = client.post(
        f"/subscriptions/{subscription.pk}/quantity/",
        {"quantity": 7, "version": subscription.version},
    )
    assert response.status_code == 302
    subscription.refresh_from_db()
    assert subscription.quantity == 7
    assert subscription.operations.filter(kind="quantity").count() == 1


def test_saving_an_unchanged_quantity_says_nothing_changed(cast, shop, client, frozen):
    subscription = order(cast, shop, quantity=5)
    sign_in(client, "reselleradmin")
    response = client.post(
        f"/subscriptions/{subscription.pk}/quantity/",
        {"quantity": 5, "version": subscription.version},
        follow=True,
    )
    body = response.content.decode()
    assert "Nothing changed: the subscription already has 5 seats." in body
    assert "The quantity was changed." not in body
    assert not subscription.operations.filter(kind="quantity").exists()


def test_the_quantity_page_warns_that_it_drops_the_changes_at_renewal(cast, shop, client, frozen):
    subscription = order(cast, shop)
    url = f"/subscriptions/{subscription.pk}/quantity/"
    assert (
        'id="drops-renewal-changes"'
        not in sign_in(client, "reselleradmin").get(url).content.decode()
    )
    services.subscription_schedule_renewal(
        actor=cast.reseller_admin, subscription=subscription, quantity=2
    )
    assert 'id="drops-renewal-changes"' in client.get(url).content.decode()
    subscription.refresh_from_db()
    response = client.post(url, {"quantity": 7, "version": subscription.version})
    assert response.status_code == 302
    page = client.get(f"/subscriptions/{subscription.pk}/").content.decode()
    assert "None scheduled." in page


def test_two_people_changing_at_once_get_a_conflict(cast, shop, client, frozen):
    subscription = order(cast, shop)
    seen = subscription.version
    services.subscription_change_quantity(
        actor=cast.cloud_admin, subscription=subscription, quantity=6, expected_version=seen
    )
    before = recorded_state(shop)
    response = sign_in(client, "reselleradmin").post(
        f"/subscriptions/{subscription.pk}/quantity/", {"quantity": 9, "version": seen}
    )
    assert response.status_code == 409
    body = response.content.decode()
    assert 'id="conflict"' in body and "cloudadmin changed this subscription" in body
    subscription.refresh_from_db()
    assert subscription.quantity == 6
    assert recorded_state(shop) == before


def test_a_customer_admin_without_rights_is_refused_the_quantity_page(cast, shop, client, frozen):
    subscription = order(cast, shop)
    sign_in(client, "customeradmin")
    response = client.get(f"/subscriptions/{subscription.pk}/quantity/")
    assert response.status_code == 403
    assert "has not granted you the right to increase quantities" in response.content.decode()
    before = recorded_state(shop)
    response = client.post(
        f"/subscriptions/{subscription.pk}/quantity/", {"quantity": 9, "version": 1}
    )
    assert response.status_code == 403
    subscription.refresh_from_db()
    assert subscription.quantity == 5
    assert recorded_state(shop) == before


def test_a_customer_admin_allowed_to_increase_sees_why_a_decrease_is_refused(
    cast, shop, client, frozen
):
    subscription = order(cast, shop)
    grant(cast, can_increase=True)
    sign_in(client, "customeradmin")
    fragment = client.get(f"/subscriptions/{subscription.pk}/quantity/preview/?quantity=3")
    assert "has not granted you the right to decrease quantities" in fragment.content.decode()
    before = recorded_state(shop)
    response = client.post(
        f"/subscriptions/{subscription.pk}/quantity/",
        {"quantity": 3, "version": subscription.version},
    )
    assert response.status_code == 403
    assert "decrease quantities" in response.content.decode()
    assert recorded_state(shop) == before
    response = client.post(
        f"/subscriptions/{subscription.pk}/quantity/",
        {"quantity": 6, "version": subscription.version},
    )
    assert response.status_code == 302
    assert Subscription.objects.get(pk=subscription.pk).quantity == 6


def test_a_decrease_after_the_window_shows_the_services_message(cast, shop, client, frozen):
    subscription = order(cast, shop)
    frozen.advance(days=8)
    sign_in(client, "reselleradmin")
    fragment = client.get(f"/subscriptions/{subscription.pk}/quantity/preview/?quantity=3")
    assert "window closed" in fragment.content.decode()
    before = recorded_state(shop)
    response = client.post(
        f"/subscriptions/{subscription.pk}/quantity/",
        {"quantity": 3, "version": subscription.version},
    )
    assert response.status_code == 200
    assert "Seats can no longer be removed" in response.content.decode()
    assert Operation.objects.filter(subscription=subscription, kind="quantity").count() == 0
    assert recorded_state(shop) == before


def test_suspend_asks_twice(cast, shop, client, frozen):
    subscription = order(cast, shop)
    sign_in(client, "reselleradmin")
    url = f"/subscriptions/{subscription.pk}/suspend/"
    first = client.get(url)
    assert first.status_code == 200 and b'name="step" value="1"' in first.content
    second = client.post(url, {"step": "1", "version": subscription.version})
    assert second.status_code == 200 and b'name="step" value="2"' in second.content
    assert b"confirm again" in second.content
    assert Subscription.objects.get(pk=subscription.pk).status == Status.ACTIVE
    done = client.post(url, {"step": "2", "version": subscription.version})
    assert done.status_code == 302
    assert Subscription.objects.get(pk=subscription.pk).status == Status.SUSPENDED


def test_suspend_is_refused_to_a_customer_admin_even_with_rights(cast, shop, client, frozen):
    subscription = order(cast, shop)
    grant(cast, can_order=True, can_increase=True, can_decrease=True, can_change_renewal=True)
    sign_in(client, "customeradmin")
    url = f"/subscriptions/{subscription.pk}/suspend/"
    before = recorded_state(shop)
    assert client.get(url).status_code == 403
    assert client.post(url, {"step": "2", "version": subscription.version}).status_code == 403
    assert Subscription.objects.get(pk=subscription.pk).status == Status.ACTIVE
    assert recorded_state(shop) == before


def test_reactivate_a_suspended_subscription(cast, shop, client, frozen):
    subscription = order(cast, shop)
    subscription = services.subscription_suspend(
        actor=cast.reseller_admin, subscription=subscription
    )
    sign_in(client, "reselleradmin")
    url = f"/subscriptions/{subscription.pk}/reactivate/"
    assert client.get(url).status_code == 200
    assert client.post(url, {"version": subscription.version}).status_code == 302
    assert Subscription.objects.get(pk=subscription.pk).status == Status.ACTIVE


def test_the_subscription_page_refreshes_itself_until_the_vendor_is_done(
    cast, shop, client, frozen
):
    subscription = order(cast, shop, provision=False)
    sign_in(client, "reselleradmin")
    url = f"/subscriptions/{subscription.pk}/"
    pending = client.get(url).content.decode()
    assert 'data-live="polling"' in pending and 'hx-trigger="every 3s"' in pending
    shop.provision(subscription)
    settled = client.get(url, headers={"HX-Request": "true"}).content.decode()
    assert 'id="subscription-live"' in settled and 'data-live="polling"' not in settled


def test_cancel_shows_the_refund_and_the_deadline(cast, shop, client, frozen):
    subscription = order(cast, shop)
    sign_in(client, "reselleradmin")
    url = f"/subscriptions/{subscription.pk}/cancel/"
    body = client.get(url).content.decode()
    assert 'id="refund"' in body and "Reseller price" in body and 'id="deadline"' in body
    assert client.post(url, {"version": subscription.version}).status_code == 302
    assert Subscription.objects.get(pk=subscription.pk).status == Status.CANCELLED


def test_ending_a_subscription_is_never_called_cancel(cast, shop, client, frozen):
    """ "Cancel" only ever means "go back"; ending is "End subscription" / "Résilier"."""
    subscription = order(cast, shop)
    sign_in(client, "reselleradmin")
    detail = client.get(f"/subscriptions/{subscription.pk}/").content.decode()
    assert 'data-action="cancel">End subscription</a>' in detail
    assert (
        ">End subscription</button>"
        in client.get(f"/subscriptions/{subscription.pk}/cancel/").content.decode()
    )
    client.post("/profile/language/", {"language": "fr"})
    detail = client.get(f"/subscriptions/{subscription.pk}/").content.decode()
    assert 'data-action="cancel">Résilier l\'abonnement</a>' in detail


def test_cancel_after_the_window_shows_the_refusal_with_its_date(cast, shop, client, frozen):
    subscription = order(cast, shop)
    frozen.advance(days=10)
    sign_in(client, "reselleradmin")
    url = f"/subscriptions/{subscription.pk}/cancel/"
    body = client.get(url).content.decode()
    assert 'id="refusal"' in body and "can no longer be cancelled" in body
    assert "2026" in body
    response = client.post(url, {"version": subscription.version})
    assert response.status_code == 200
    assert Subscription.objects.get(pk=subscription.pk).status == Status.ACTIVE


def test_renewal_option_and_changes_at_renewal(cast, shop, client, frozen):
    subscription = order(cast, shop)
    sign_in(client, "reselleradmin")
    url = f"/subscriptions/{subscription.pk}/renewal/"
    assert client.get(url).status_code == 200
    response = client.post(
        url,
        {
            "form": "schedule",
            "version": subscription.version,
            "renewal_quantity": 3,
            "renewal_term_cycle": "",
        },
    )
    assert response.status_code == 302
    subscription.refresh_from_db()
    assert subscription.renewal_quantity == 3
    body = client.get(f"/subscriptions/{subscription.pk}/").content.decode()
    assert 'id="scheduled"' in body and "Quantity 3" in body
    response = client.post(
        url,
        {"form": "renewal", "version": subscription.version, "renewal_option": "none"},
    )
    assert response.status_code == 302
    subscription.refresh_from_db()
    assert subscription.renewal_option == RenewalOption.NONE and not subscription.auto_renew


def test_renewal_needs_the_right_for_a_customer_admin(cast, shop, client, frozen):
    subscription = order(cast, shop)
    sign_in(client, "customeradmin")
    assert client.get(f"/subscriptions/{subscription.pk}/renewal/").status_code == 403
    grant(cast, can_change_renewal=True)
    assert client.get(f"/subscriptions/{subscription.pk}/renewal/").status_code == 200


def test_edit_details(cast, shop, client, frozen):
    subscription = order(cast, shop)
    response = sign_in(client, "customeradmin").post(
        f"/subscriptions/{subscription.pk}/edit/",
        {
            "version": subscription.version,
            "friendly_name": "Sales team",
            "po_number": "PO-77",
            "external_identifier": "",
        },
    )
    assert response.status_code == 302
    subscription.refresh_from_db()
    assert (subscription.friendly_name, subscription.po_number) == ("Sales team", "PO-77")
    assert (
        sign_in(client, "readonly").get(f"/subscriptions/{subscription.pk}/edit/").status_code
        == 403
    )


def test_a_failed_operation_is_retried_by_hand(cast, shop, client, frozen):
    subscription = order(cast, shop)
    services.subscription_change_quantity(
        actor=cast.reseller_admin, subscription=subscription, quantity=7
    )
    shop.provider.failures = [ValidationFailed("Quantity outside limits", code="2002")]
    shop.provision(subscription)
    failed = subscription.operations.get(state=OperationState.FAILED)
    page = sign_in(client, "reselleradmin").get(f"/subscriptions/{subscription.pk}/")
    assert f"/operations/{failed.pk}/retry/" in page.content.decode()
    assert "2002" in page.content.decode()
    assert (
        sign_in(client, "customeradmin").post(f"/operations/{failed.pk}/retry/").status_code == 403
    )
    assert sign_in(client, "outsider").post(f"/operations/{failed.pk}/retry/").status_code == 404
    response = sign_in(client, "reselleradmin").post(f"/operations/{failed.pk}/retry/")
    assert response.status_code == 302
    failed.refresh_from_db()
    assert failed.state == OperationState.PENDING
    assert shop.provision(subscription) == "done"
    assert Subscription.objects.get(pk=subscription.pk).sync_status == SyncStatus.SYNCHRONIZED


def test_addons_page_offers_only_compatible_addons(cast, shop, client, frozen):
    subscription = order(cast, shop)
    body = sign_in(client, "reselleradmin").get(f"/subscriptions/{subscription.pk}/addons/")
    text = body.content.decode()
    assert "Teams Phone Standard" in text
    assert "Microsoft 365 E3" not in text and "Call recording" not in text
    assert "Set custom price margin" in text


def test_ordering_an_addon_with_its_own_margin(cast, shop, client, frozen):
    subscription = order(cast, shop)
    response = sign_in(client, "reselleradmin").post(
        f"/subscriptions/{subscription.pk}/addons/",
        {
            "offer": shop.world.teams.pk,
            "term_cycle": "P1Y|monthly",
            "quantity": 2,
            "friendly_name": "Phones",
            "margin_method": "markup",
            "margin_value": "10",
            "confirm": "yes",
        },
    )
    assert response.status_code == 302
    addon = Subscription.objects.get(parent=subscription)
    assert addon.quantity == 2 and addon.friendly_name == "Phones"
    rule = MarginRule.objects.get(subscription_ref=str(addon.pk))
    assert rule.target_id == cast.customer.pk and rule.owner_id == cast.reseller.pk


def test_a_customer_admin_never_sets_a_margin(cast, shop, client, frozen):
    subscription = order(cast, shop)
    grant(cast, can_order=True)
    body = sign_in(client, "customeradmin").get(f"/subscriptions/{subscription.pk}/addons/")
    assert body.status_code == 200 and b"Set custom price margin" not in body.content


def test_the_estore_walks_category_group_product_then_confirms(cast, shop, client, frozen):
    sign_in(client, "reselleradmin")
    store = f"/customers/{cast.customer.pk}/store/"
    page = client.get(store).content.decode()
    assert "Microsoft 365 Business Basic" in page or "Business" in page
    offer = shop.world.e3
    # the vendor's category codes read as words
    from seatkeeper.catalog.labels import category_label

    assert f'value="{offer.category}" selected>{category_label(offer.category)}</option>' in (
        client.get(f"{store}?category={offer.category}").content.decode()
    )
    page = client.get(f"{store}?category={offer.category}&group={offer.product_group}")
    assert 'title="Microsoft 365 E3 description"' in page.content.decode()
    values = {
        "offer": offer.pk,
        "term_cycle": "P1Y|monthly",
        "quantity": 3,
        "friendly_name": "Engineers",
        "po_number": "PO-9",
        "start_date": "",
    }
    review = client.post(f"{store}?offer={offer.pk}", values)
    text = review.content.decode()
    assert 'id="confirm-order"' in text and "Reseller price" in text and "£97.20" in text
    assert not Subscription.objects.filter(friendly_name="Engineers").exists()
    placed = client.post(f"{store}?offer={offer.pk}", {**values, "confirm": "yes"})
    assert placed.status_code == 302
    subscription = Subscription.objects.get(friendly_name="Engineers")
    assert (subscription.quantity, subscription.po_number) == (3, "PO-9")
    assert subscription.status == Status.PENDING


def test_the_estore_refuses_a_past_start_date_with_the_services_message(cast, shop, client, frozen):
    sign_in(client, "reselleradmin")
    offer = shop.world.e3
    response = client.post(
        f"/customers/{cast.customer.pk}/store/?offer={offer.pk}",
        {
            "offer": offer.pk,
            "term_cycle": "P1Y|monthly",
            "quantity": 3,
            "start_date": (START.date() - dt.timedelta(days=1)).isoformat(),
            "confirm": "yes",
        },
    )
    assert response.status_code == 200
    assert "cannot be in the past" in response.content.decode()
    assert not Subscription.objects.exists()


def test_the_estore_needs_the_order_right(cast, shop, client, frozen):
    sign_in(client, "customeradmin")
    assert client.get(f"/customers/{cast.customer.pk}/store/").status_code == 403
    grant(cast, can_order=True)
    assert client.get(f"/customers/{cast.customer.pk}/store/").status_code == 200
    assert (
        sign_in(client, "readonly").get(f"/customers/{cast.customer.pk}/store/").status_code == 403
    )


def test_rights_are_set_by_the_reseller_not_the_customer(cast, client):
    url = f"/customers/{cast.customer.pk}/rights/"
    assert sign_in(client, "customeradmin").get(url).status_code == 403
    assert client.post(url, {"can_order": "on"}).status_code == 403
    assert not CustomerRights.objects.exists()
    response = sign_in(client, "reselleradmin").post(url, {"can_order": "on", "monthly_only": "on"})
    assert response.status_code == 302
    rights = CustomerRights.objects.get(customer=cast.customer)
    assert rights.can_order and rights.monthly_only and not rights.can_increase


def test_fulfilment_queue_marks_manual_orders_provisioned_or_rejected(cast, shop, client, frozen):
    first = order(cast, shop, offer=shop.world.uc_business, term="P1M", name="UC one")
    second = order(cast, shop, offer=shop.world.uc_business, term="P1M", name="UC two")
    assert first.status == Status.PENDING
    assert sign_in(client, "reselleradmin").get("/fulfilment/").status_code == 403
    sign_in(client, "operator")
    page = client.get("/fulfilment/").content.decode()
    assert "UC one" in page and "UC two" in page
    create = first.operations.get(kind="create")
    response = client.post(
        "/fulfilment/",
        {"operation": create.pk, "decision": "complete", "vendor_reference": "RB-1"},
    )
    assert response.status_code == 302
    first.refresh_from_db()
    assert (first.status, first.vendor_subscription_id) == (Status.ACTIVE, "RB-1")
    missing = client.post(
        "/fulfilment/", {"operation": second.operations.get().pk, "decision": "reject"}
    )
    assert missing.status_code == 400
    # the missing reason is said once, on the reason field of that operation's Reject form,
    # and nothing changed
    body = missing.content.decode()
    assert body.count('id="reason-error"') == 1 and 'id="decision-error"' not in body
    assert 'aria-describedby="reason-error"' in body
    assert second.operations.get().state == OperationState.AWAITING_FULFILMENT
    assert 'data-confirm="Reject this operation?' in page
    response = client.post(
        "/fulfilment/",
        {"operation": second.operations.get().pk, "decision": "reject", "reason": "No stock"},
    )
    assert response.status_code == 302
    second.refresh_from_db()
    assert second.status == Status.CANCELLED and second.sync_error_message == "No stock"


def test_dashboard_shows_failures_and_closing_windows(cast, shop, client, frozen):
    subscription = order(cast, shop)
    bad = order(cast, shop, name="Bad seats", provision=False)
    shop.provider.failures = [ValidationFailed("Offer not available", code="800002")]
    shop.provision(bad)
    frozen.advance(days=6)
    body = sign_in(client, "reselleradmin").get("/").content.decode()
    assert 'id="dash-failures"' in body and "Bad seats" in body
    assert 'id="dash-windows"' in body and subscription.friendly_name in body
    assert 'id="dash-fulfilment"' not in body
    assert 'id="dash-fulfilment"' in sign_in(client, "operator").get("/").content.decode()


def test_the_customer_page_links_to_its_subscriptions(cast, client):
    body = sign_in(client, "reselleradmin").get(f"/organisations/{cast.customer.pk}/").content
    assert f"/customers/{cast.customer.pk}/subscriptions/".encode() in body
    assert b'data-nav="subscriptions"' in body


def test_a_reseller_sets_a_margin_for_one_subscription_on_its_edit_page(cast, shop, client, frozen):
    subscription = order(cast, shop)
    url = f"/subscriptions/{subscription.pk}/edit/"
    assert b"Set custom price margin" not in sign_in(client, "customeradmin").get(url).content
    sign_in(client, "reselleradmin")
    assert b"Set custom price margin" in client.get(url).content
    response = client.post(
        url,
        {
            "version": subscription.version,
            "friendly_name": subscription.friendly_name,
            "margin_method": "markup",
            "margin_value": "",
        },
    )
    assert response.status_code == 200 and b"Give the percentage" in response.content
    response = client.post(
        url,
        {
            "version": subscription.version,
            "friendly_name": subscription.friendly_name,
            "margin_method": "markup",
            "margin_value": "12.5",
        },
    )
    refusal = response.content.decode()
    assert response.status_code == 200 and "above the vendor list price" in refusal
    # the refusal names this subscription's product, term and cycle, no other offer's
    assert f"{subscription.offer.title} (P1Y, monthly) would cost" in refusal
    assert not MarginRule.objects.filter(subscription_ref=str(subscription.pk)).exists()
    response = client.post(
        url,
        {
            "version": subscription.version,
            "friendly_name": subscription.friendly_name,
            "margin_method": "markup",
            "margin_value": "5",
        },
    )
    assert response.status_code == 302
    rule = MarginRule.objects.get(subscription_ref=str(subscription.pk))
    assert (rule.owner_id, rule.target_id, rule.value) == (
        cast.reseller.pk,
        cast.customer.pk,
        Decimal("5"),
    )
    assert b'id="current-margin"' in client.get(url).content


def _detail_price(client, subscription, audience: str) -> str:
    body = client.get(f"/subscriptions/{subscription.pk}/?audience={audience}").content.decode()
    start = body.index(f'class="price" data-audience="{audience}"><strong>')
    return body[start:].split("<strong>", 1)[1].split("</strong>", 1)[0]


def test_a_subscriptions_own_margin_prices_its_page_as_it_prices_the_list(
    cast, shop, client, frozen
):
    subscription = order(cast, shop)
    sign_in(client, "reselleradmin")
    before = _detail_price(client, subscription, "customer_price")
    response = client.post(
        f"/subscriptions/{subscription.pk}/edit/",
        {
            "version": subscription.version,
            "friendly_name": subscription.friendly_name,
            "margin_method": "markup",
            "margin_value": "5",
        },
    )
    assert response.status_code == 302
    after = _detail_price(client, subscription, "customer_price")
    assert after != before
    assert after in _table(client.get(_list_url(cast) + "?audience=customer_price"))


def test_partner_staff_switch_whose_prices_the_list_shows(cast, shop, client, frozen):
    order(cast, shop)
    sign_in(client, "cloudadmin")
    assert "(Partner cost)" in _table(client.get(_list_url(cast)))
    assert "(Customer price)" in _table(client.get(_list_url(cast) + "?audience=customer_price"))
    sign_in(client, "customeradmin")
    assert "(Customer price)" in _table(client.get(_list_url(cast) + "?audience=partner_cost"))


def test_monthly_only_rights_in_the_pages(cast, shop, client, frozen):
    yearly = order(cast, shop)
    monthly = order(cast, shop, term="P1M", name="Monthly seats")
    grant(cast, can_increase=True, monthly_only=True)
    sign_in(client, "customeradmin")
    assert client.get(f"/subscriptions/{monthly.pk}/quantity/").status_code == 200
    refused = client.get(f"/subscriptions/{yearly.pk}/quantity/")
    assert refused.status_code == 403
    assert 'id="refusal"' in refused.content.decode()
    assert "monthly licences only" in refused.content.decode()
    page = _table(client.get(_list_url(cast)))
    assert f"/subscriptions/{monthly.pk}/quantity/" in page
    assert f"/subscriptions/{yearly.pk}/quantity/" not in page


def test_the_subscription_page_speaks_the_viewers_language(cast, shop, client, frozen):
    from seatkeeper.accounts import services as accounts_services

    accounts_services.user_update(actor=cast.cloud_admin, user=cast.reseller_admin, language="fr")
    _, body = _grown_from_5_to_8_seen_by_the_reseller(cast, shop, client, frozen)
    assert 'lang="fr"' in body
    assert "3 licences peuvent être retirées jusqu'au 29 nov. 2026, 11:00" in body
    assert "Prix revendeur" in body and "Modifier la quantité" in body
    assert (
        "Reseller One a augmenté l&#x27;abonnement Office seats de 5 à 8 licences. "
        "À payer 15,00\xa0£GB"
    ) in body
    # the lot's own price says whose it is: the customer's, as bought
    lots = body[body.index('id="lots"') : body.index("</table>", body.index('id="lots"'))]
    assert '5,00\xa0£GB <small class="muted">Prix client</small>' in lots


def test_the_customers_list_shows_providers_and_links_each_customers_subscriptions(
    cast, shop, client, frozen
):
    subscription = order(cast, shop)
    order(cast, shop, name="More seats")
    page = sign_in(client, "reselleradmin").get("/organisations/?kind=customer")
    rows = {
        obj.pk: {column.key: value for column, value in cells}
        for obj, cells in page.context["table"].rows
    }
    customer = rows[cast.customer.pk]
    assert customer["providers"] == subscription.offer.vendor.name  # once, not per subscription
    assert customer["subscriptions"] == 2
    assert f'href="/customers/{cast.customer.pk}/subscriptions/"' in page.content.decode()


def _headers(response) -> list[str]:
    return [column.key for column in response.context["table"].columns]


def test_each_person_chooses_the_columns_of_the_list(cast, shop, client, frozen):
    order(cast, shop)
    sign_in(client, "reselleradmin")
    default = _headers(client.get(_list_url(cast)))
    assert "created" not in default and {"friendly_name", "quantity", "price"} <= set(default)
    back = _list_url(cast) + "?status=active"
    response = client.post(
        "/profile/columns/subscriptions/",
        {"columns": ["friendly_name", "created", "quantity"], "next": back},
    )
    assert response.status_code == 302 and response["Location"] == back
    # the first column always stays: it names the row
    assert _headers(client.get(_list_url(cast))) == ["provider", "friendly_name", "created",
                                                     "quantity"]  # fmt: skip
    assert "created" in _headers(client.get(_list_url(cast) + "?sort=-created"))
    # an unknown column changes nothing
    client.post("/profile/columns/subscriptions/", {"columns": ["quantity", "secret"]})
    assert "created" in _headers(client.get(_list_url(cast)))
    assert client.post("/profile/columns/nosuchlist/", {"columns": ["x"]}).status_code == 404
    # someone else still sees the defaults
    sign_in(client, "customeradmin")
    assert "created" not in _headers(client.get(_list_url(cast)))
    sign_in(client, "reselleradmin")
    client.post("/profile/columns/subscriptions/", {"reset": "1"})
    assert _headers(client.get(_list_url(cast))) == default


def test_sorting_by_a_hidden_column_still_works(cast, shop, client, frozen):
    first = order(cast, shop, name="First")
    frozen.advance(hours=1)
    second = order(cast, shop, name="Second")
    sign_in(client, "reselleradmin")
    response = client.get(_list_url(cast) + "?sort=created")
    assert [row["subscription"].pk for row in response.context["rows"]] == [first.pk, second.pk]


def test_a_customers_page_shows_its_tenants(cast, shop, client, frozen):
    from seatkeeper.subscriptions.models import Tenant

    tenant = Tenant.objects.get(customer=cast.customer)
    page = sign_in(client, "reselleradmin").get(f"/organisations/{cast.customer.pk}/")
    body = page.content.decode()
    assert 'id="tenants"' in body
    assert f'data-tenant="{tenant.vendor_customer_id}"' in body and tenant.domain in body
    other = sign_in(client, "reselleradmin").get(f"/organisations/{cast.customer_two.pk}/")
    assert tenant.domain not in other.content.decode()


def test_a_forms_general_error_shows_once(cast, shop, client, frozen):
    subscription = order(cast, shop)
    seen = subscription.version
    services.subscription_change_quantity(
        actor=cast.cloud_admin, subscription=subscription, quantity=6, expected_version=seen
    )
    response = sign_in(client, "reselleradmin").post(
        f"/subscriptions/{subscription.pk}/edit/",
        {"version": seen, "friendly_name": "Renamed", "margin_method": "", "margin_value": ""},
    )
    errors = response.context["form"].non_field_errors()
    assert errors
    assert response.content.decode().count(str(errors[0])) == 1
