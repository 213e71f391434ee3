from __future__ import annotations

import csv
import io

from seatkeeper.accounts import services
from seatkeeper.accounts.models import Organisation, OrganisationKind, Role
from seatkeeper.activity.models import ActivityRecord
from seatkeeper.conftest import company, sign_in


def test_navigation_follows_the_role(client, cast):
    sign_in(client, "cloudadmin")
    admin_page = client.get("/").content.decode()
    assert 'data-nav="organisations"' in admin_page
    assert 'data-nav="admin"' in admin_page
    client.logout()
    sign_in(client, "customeradmin")
    customer_page = client.get("/").content.decode()
    assert 'data-nav="organisations"' not in customer_page
    assert 'data-nav="admin"' not in customer_page
    assert 'data-nav="my_organisation"' in customer_page


def test_each_role_sees_few_top_level_entries_and_the_rest_in_groups(client, cast):
    top_level = {}
    for username in ("cloudadmin", "operator", "reselleradmin", "customeradmin", "readonly"):
        sign_in(client, username)
        entries = client.get("/").context["nav_items"]
        top_level[username] = entries
        keys = [key for entry in entries for key in entry.keys]
        assert len(keys) == len(set(keys)), keys  # every page once
        assert len(entries) <= 7, (username, [entry.key for entry in entries])
        # a group holds two entries or more (a lone entry shows as itself)
        assert all(len(entry.items) >= 2 for entry in entries if hasattr(entry, "items"))
        client.logout()
    admin = {entry.key: entry for entry in top_level["cloudadmin"]}
    assert set(admin["settings"].keys) >= {"my_organisation", "providers", "activity", "admin"}
    assert set(admin["billing_group"].keys) == {"billing", "invoices"}
    customer = [entry.key for entry in top_level["customeradmin"]]
    assert "fulfilment" not in customer and "organisations" not in customer
    # The menu is a <details> per group: it opens without JavaScript
    sign_in(client, "cloudadmin")
    page = client.get("/").content.decode()
    assert '<details class="navgroup" data-nav-group="settings">' in page
    assert '<a href="/providers/" class="" data-nav="providers">' in page


def test_organisation_list_searches_sorts_and_pages(client, cast):
    for number in range(30):
        services.organisation_create(
            actor=None,
            parent=cast.reseller,
            kind=OrganisationKind.CUSTOMER,
            **company(f"Bulk {number:02d}"),
        )
    sign_in(client, "reselleradmin")
    page = client.get("/organisations/?q=bulk&sort=-name&size=25")
    names = [obj.name for obj in page.context["table"].page.object_list]
    assert names[0] == "Bulk 29"
    assert len(names) == 25
    second = client.get("/organisations/?q=bulk&sort=-name&size=25&page=2")
    assert [obj.name for obj in second.context["table"].page.object_list] == [
        "Bulk 04",
        "Bulk 03",
        "Bulk 02",
        "Bulk 01",
        "Bulk 00",
    ]
    # an unknown sort key falls back to the default instead of ordering by anything asked
    fallback = client.get("/organisations/?sort=password")
    assert fallback.context["table"].sort == "name"


def test_htmx_requests_get_only_the_table(client, cast):
    sign_in(client, "cloudadmin")
    response = client.get("/organisations/?q=Reseller", HTTP_HX_REQUEST="true")
    body = response.content.decode()
    assert body.lstrip().startswith('<div id="table-region">')
    assert "<html" not in body
    assert "Reseller One" in body


def test_csv_export_has_every_matching_row(client, cast):
    sign_in(client, "cloudadmin")
    response = client.get("/organisations/?export=csv&kind=customer")
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig"))))
    assert rows[0][0] == "Company name"
    assert {row[0] for row in rows[1:]} == {
        "Customer One",
        "Customer Two",
        "Customer Three",
        "Direct Customer",
    }


def test_creating_a_customer_shows_validation_messages_then_saves(client, cast):
    sign_in(client, "reselleradmin")
    url = f"/organisations/{cast.reseller.pk}/new/?kind=customer"
    bad = client.post(url, {**company("New Co"), "country": "ZZZ", "contact_email": "nope"})
    assert bad.status_code == 200
    assert bad.context["form"].errors.keys() == {"country", "contact_email"}
    assert not Organisation.objects.filter(name="New Co").exists()
    good = client.post(url, company("New Co"))
    assert good.status_code == 302
    created = Organisation.objects.get(name="New Co")
    assert created.parent == cast.reseller and created.kind == OrganisationKind.CUSTOMER


def test_detail_page_shows_the_last_five_records_in_context(client, cast):
    for number in range(7):
        services.organisation_update(
            actor=cast.reseller_admin,
            organisation=cast.customer,
            contact_phone=f"+33 1 00 00 00 0{number}",
        )
    sign_in(client, "reselleradmin")
    page = client.get(f"/organisations/{cast.customer.pk}/")
    records = page.context["activity"]
    assert len(records) == 5
    assert records[0].details["changes"]["contact_phone"] == [
        "+33 1 00 00 00 05",
        "+33 1 00 00 00 06",
    ]
    assert all(record.organisation == cast.customer for record in records)


def test_switching_to_french(client, cast):
    sign_in(client, "reselleradmin")
    assert "Tableau de bord" not in client.get("/").content.decode()
    client.post("/profile/language/", {"language": "fr", "next": "/"})
    page = client.get("/").content.decode()
    assert "Tableau de bord" in page
    assert 'lang="fr"' in page
    cast.reseller_admin.refresh_from_db()
    assert cast.reseller_admin.language == "fr"


def test_language_defaults_to_the_organisation(client, cast):
    services.organisation_update(
        actor=cast.cloud_admin, organisation=cast.customer, default_language="fr"
    )
    sign_in(client, "customeradmin")
    assert "Journal d'activité" in client.get("/").content.decode()


def test_the_admin_site_is_for_cloud_admins_only(client, cast):
    sign_in(client, "cloudadmin")
    assert client.get("/admin/").status_code == 200
    listing = client.get("/admin/accounts/organisation/").content.decode()
    assert "Reseller One" in listing and "Other Customer" not in listing
    for login in ("operator", "reselleradmin", "customeradmin", "readonly"):
        client.logout()
        sign_in(client, login)
        assert client.get("/admin/accounts/organisation/").status_code == 302


def test_activity_page_filters(client, cast):
    services.user_update(
        actor=cast.cloud_admin, user=cast.read_only, role=Role.READ_ONLY, first_name="Ro"
    )
    sign_in(client, "cloudadmin")
    page = client.get("/activity/?operation=user.update")
    records = list(page.context["table"].page.object_list)
    assert [record.operation for record in records] == ["user.update"]
    assert ActivityRecord.objects.filter(operation="user.update").count() == 1


def test_the_dashboard_counts_customers_for_those_who_serve_them(client, cast):
    page = sign_in(client, "reselleradmin").get("/").content.decode()
    assert 'id="dash-customers"' in page and "/organisations/?kind=customer" in page
    client.logout()
    page = sign_in(client, "customeradmin").get("/").content.decode()
    # a customer's own people never see "Customers: 1", their organisation is not a count
    assert 'id="dash-customers"' not in page and 'id="dash-resellers"' not in page
    assert 'id="dash-failures"' in page
