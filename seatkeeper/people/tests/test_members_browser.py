"""In a real browser (Debian's Chromium): a reseller uploads a bulk provisioning file of
Rainbow members, reads the preview line by line, applies it and sees each line's outcome and
the seats taken."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from seatkeeper.conftest import PASSWORD, Cast
from seatkeeper.people.models import Member
from seatkeeper.people.tests.members_world import rainbow_world

pytestmark = [pytest.mark.browser]

FILE = (
    "user_name,display_name,email,service,options\n"
    "ada@customer.example,Ada,ada@mail.example,Business,Recording\n"
    "bob@customer.example,Bob,bob@mail.example,Platinum,\n"
    "cy@customer.example,Cy,cy@mail.example,Enterprise,\n"
)


@pytest.fixture
def rainbow(transactional_db, settings, live_server):
    settings.TASKS = {"default": {"BACKEND": "django.tasks.backends.dummy.DummyBackend"}}
    settings.SITE_URL = live_server.url
    cast = Cast()
    return cast, rainbow_world(cast, business=2, enterprise=1, recording=2, attendant=1)


def test_a_bulk_file_previewed_then_applied(page, live_server, rainbow, tmp_path):
    cast, world = rainbow
    members_file = tmp_path / "members.csv"
    members_file.write_text(FILE)
    page.goto(f"{live_server.url}/login/")
    page.fill("#id_username", "reselleradmin")
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/")
    page.goto(f"{live_server.url}/customers/{cast.customer.pk}/users/")
    page.click("#manual-vendors [data-action=members]")
    expect(page.locator("h1")).to_contain_text("Members at Rainbow UC")
    page.set_input_files("#member-import input[type=file]", str(members_file))
    page.click("[data-action=preview]")

    lines = page.locator("#lines tbody tr")
    expect(lines).to_have_count(3)
    expect(page.locator("tr[data-line='2']")).to_have_attribute("data-action", "create")
    expect(page.locator("tr[data-line='3']")).to_contain_text("Unknown subscription: Platinum")
    expect(page.locator("tr[data-line='4']")).to_have_attribute("data-action", "create")
    assert not Member.objects.exists()  # the preview changes nothing

    page.click("[data-action=apply]")
    expect(page.locator("ul.messages")).to_contain_text(
        "2 created, 0 updated, 0 deleted, 0 unchanged, 1 refused"
    )
    expect(page.locator("tr[data-line='2']")).to_have_attribute("data-outcome", "create")
    expect(page.locator("tr[data-line='3']")).to_have_attribute("data-outcome", "error")
    expect(page.locator("[data-action=result-csv]")).to_be_visible()
    expect(page.locator("[data-action=apply]")).to_have_count(0)

    page.click(".breadcrumbs a >> nth=1")
    seats = page.locator(
        f"#seats tr[data-subscription='{world.business.pk}'] [data-field=assigned]"
    )
    expect(seats).to_have_text("1")
    expect(page.locator("#members tr[data-member='ada@customer.example']")).to_contain_text(
        "Business, Recording"
    )
    assert sorted(Member.objects.values_list("user_name", flat=True)) == [
        "ada@customer.example",
        "cy@customer.example",
    ]
