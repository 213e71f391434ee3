"""Importing a Microsoft customer's users from a CSV or XLSX file (seed 001), against the running
sandbox: the preview says what each line will do and changes nothing, the apply queues the
users' and licences' vendor operations (a new user's password through a one-time link, its
licences once the vendor made it), the same file twice changes nothing the second time, the
users export imports back as no change; pages and API scoped like the rest."""

from __future__ import annotations

import csv
import io
import re
import uuid
from dataclasses import dataclass

import pytest
from django.urls import reverse

from seatkeeper.accounts import services as account_services
from seatkeeper.accounts.models import Role
from seatkeeper.activity.models import ActivityRecord
from seatkeeper.conftest import PASSWORD, sign_in
from seatkeeper.core.errors import Conflict, PermissionRefused, ServiceError
from seatkeeper.people import bulk, licences, services, users
from seatkeeper.people.models import (
    DirectoryUser,
    ImportAction,
    ImportKind,
    LicenceAction,
    LicenceChange,
    LicenceSku,
    MemberImport,
    MemberImportLine,
    UserAction,
    UserChange,
    UserLicence,
    UserStatus,
)
from seatkeeper.people.selectors import SEAT_HOLDING
from seatkeeper.people.tests import test_directory as directory_tests
from seatkeeper.people.tests.test_directory import _seat_to_give, _vendor_skus
from seatkeeper.subscriptions.models import OperationState, Subscription, Tenant
from seatkeeper.subscriptions.tests.test_api import api_as

pytestmark = pytest.mark.django_db

world = directory_tests.world
connected = directory_tests.connected
imported = directory_tests.imported
by_hand = directory_tests.by_hand

GOOD = "Bright#Harbour42"


def _alias(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:8]}"


def _csv(rows: list[dict]) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=bulk.USER_COLUMNS, restval="")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode()


def _row(user: DirectoryUser, **changes) -> dict:
    """The line the export writes for `user`, with `changes`."""
    row = {
        "user_name": user.user_principal_name,
        "display_name": user.display_name,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "usage_location": user.usage_location,
        "licences": ";".join(str(licence.sku) for licence in user.licences.all()),
        "status": user.status,
    }
    row.update(changes)
    return row


@dataclass
class Scene:
    link: object
    tenant: Tenant
    sku: LicenceSku
    subscription: Subscription
    spare: DirectoryUser  # active, a usage location, no licence
    kept: DirectoryUser
    renamed: DirectoryUser
    leaver: DirectoryUser

    @property
    def customer(self):
        return self.tenant.customer

    def preview(self, data: bytes, name: str = "users.csv", actor=None) -> MemberImport:
        return bulk.users_import_preview(
            actor=actor or self.link.cast.cloud_admin,
            customer=self.customer,
            file_name=name,
            stream=io.BytesIO(data),
        )

    def apply(self, users_import: MemberImport, actor=None) -> MemberImport:
        return bulk.import_apply(
            actor=actor or self.link.cast.cloud_admin, member_import=users_import
        )


@pytest.fixture
def scene(imported, by_hand) -> Scene:
    link, tenants = imported
    spare, subscription = _seat_to_give(tenants)
    tenant = subscription.tenant
    sku = LicenceSku.objects.get(tenant=tenant, product_key=subscription.offer.external_id)
    others = list(
        DirectoryUser.objects.filter(tenant=tenant, status=UserStatus.ACTIVE)
        .exclude(pk=spare.pk)
        .exclude(display_name="")
        .order_by("pk")
    )
    leaver, kept, renamed = others[:3]
    # The pool has two seats left once the leaver freed its own (if it holds one): its other
    # subscriptions hold none here.
    Subscription.objects.filter(
        tenant=tenant, offer__external_id=subscription.offer.external_id, status__in=SEAT_HOLDING
    ).exclude(pk=subscription.pk).update(quantity=0)
    held = UserLicence.objects.filter(sku=sku, user__status=UserStatus.ACTIVE).count()
    frees = leaver.licences.filter(sku=sku).count()
    Subscription.objects.filter(pk=subscription.pk).update(quantity=held + 2 - frees)
    subscription.refresh_from_db()
    return Scene(link, tenant, sku, subscription, spare, kept, renamed, leaver)


def _snapshot():
    return (
        list(DirectoryUser.objects.order_by("pk").values()),
        sorted(UserLicence.objects.values_list("user_id", "sku_id")),
        UserChange.objects.count(),
        LicenceChange.objects.count(),
        ActivityRecord.objects.count(),
    )


def _file(scene: Scene) -> tuple[bytes, dict[str, str]]:
    domain = scene.tenant.domain
    names = {key: f"{_alias(key)}@{domain}" for key in ("new", "full", "n3", "n4", "n5", "n6")}
    names["typed"] = f"{_alias('typed')}@{domain}"
    rows = [
        # 2: a new user with the pool's licence; a generated password to nia@.
        {
            "user_name": names["new"],
            "display_name": "Nia Quest",
            "first_name": "Nia",
            "last_name": "Quest",
            "usage_location": "GB",
            "licences": str(scene.sku),
            "send_password_to": "nia@example.org",
        },
        # 3: an existing user takes the pool's last seat.
        _row(scene.spare, licences=str(scene.sku)),
        # 4: no seat left for a third.
        {
            "user_name": names["full"],
            "display_name": "Full Pool",
            "usage_location": "GB",
            "licences": scene.sku.sku_id,
            "password": GOOD,
        },
        # 5: a password the policy refuses.
        {"user_name": names["n3"], "display_name": "Weak", "password": "weak"},
        # 6: not one of the tenant's domains.
        {"user_name": "someone@elsewhere.example", "display_name": "Else", "password": GOOD},
        # 7: the first line's user name again.
        {"user_name": names["new"].upper(), "display_name": "Again", "password": GOOD},
        # 8: a licence nobody knows.
        {
            "user_name": names["n4"],
            "display_name": "Unknown",
            "usage_location": "GB",
            "licences": "Platinum Suite",
            "password": GOOD,
        },
        # 9: a licence without a usage location.
        {
            "user_name": names["n5"],
            "display_name": "Nowhere",
            "licences": str(scene.sku),
            "password": GOOD,
        },
        # 10: exactly as it is.
        _row(scene.kept),
        # 11: a new display name.
        _row(scene.renamed, display_name="Renamed Person"),
        # 12: deleted.
        {"user_name": scene.leaver.user_principal_name, "action": "delete"},
        # 13: no password and nowhere to send one.
        {"user_name": names["n6"], "display_name": "Nobody"},
        # 14: a typed password, sent through the link too; no licence.
        {
            "user_name": names["typed"],
            "display_name": "Ty Ped",
            "usage_location": "FR",
            "password": GOOD,
            "send_password_to": "ty@example.org",
        },
    ]
    return _csv(rows), names


def _by_number(users_import) -> dict[int, MemberImportLine]:
    return {line.number: line for line in users_import.lines.all()}


def test_the_preview_says_what_each_line_will_do_and_changes_nothing(scene):
    data, _names = _file(scene)
    before = _snapshot()
    users_import = scene.preview(data)
    assert _snapshot() == before
    assert users_import.kind == ImportKind.USERS and users_import.vendor is None
    assert users_import.counts == {"create": 2, "update": 2, "none": 1, "delete": 1, "error": 7}
    lines = _by_number(users_import)
    assert lines[2].action == ImportAction.CREATE
    assert lines[2].message == f"+ {scene.subscription.friendly_name}"
    assert lines[3].action == ImportAction.UPDATE
    assert lines[4].action == ImportAction.ERROR and "No seat left" in lines[4].message
    assert lines[5].action == ImportAction.ERROR and "Password refused" in lines[5].message
    assert "not a domain of this tenant" in lines[6].message
    assert "already on an earlier line" in lines[7].message
    assert "Unknown licence: Platinum Suite." in lines[8].message
    assert "no usage location" in lines[9].message
    assert lines[10].action == ImportAction.NONE
    assert lines[11].action == ImportAction.UPDATE and lines[11].message == "name"
    assert lines[12].action == ImportAction.DELETE
    assert "one-time password link" in lines[13].message
    assert lines[14].action == ImportAction.CREATE
    # The password waits encrypted on its line, never in clear.
    assert lines[14].secret and GOOD not in lines[14].secret and "password" not in lines[14].values


def test_the_apply_queues_the_vendor_operations_and_a_second_apply_changes_nothing(
    scene, world, smtp_server, django_capture_on_commit_callbacks
):
    data, names = _file(scene)
    with django_capture_on_commit_callbacks(execute=True):
        applied = scene.apply(scene.preview(data))
    assert applied.counts == {"create": 2, "update": 2, "none": 1, "delete": 1, "error": 7}
    assert not applied.lines.exclude(secret="").exists()  # passwords erased once applied
    new = DirectoryUser.objects.get(user_principal_name=names["new"])
    create = UserChange.objects.get(user=new)
    assert create.action == UserAction.CREATE and create.state == OperationState.PENDING
    assert create.credential_recipient == "nia@example.org" and create.secret
    waiting = LicenceChange.objects.get(user=new)
    assert waiting.action == LicenceAction.ASSIGN and waiting.subscription == scene.subscription
    assert set(new.licences.values_list("sku_id", flat=True)) == {scene.sku.pk}
    typed = DirectoryUser.objects.get(user_principal_name=names["typed"])
    assert UserChange.objects.get(user=typed).credential_recipient == "ty@example.org"
    assert not typed.licences.exists()
    assert LicenceChange.objects.get(user=scene.spare).state == OperationState.PENDING
    renamed = UserChange.objects.get(user=scene.renamed)
    assert renamed.action == UserAction.UPDATE
    assert renamed.fields["after"] == {"display_name": "Renamed Person"}
    scene.leaver.refresh_from_db()
    assert scene.leaver.status == UserStatus.DELETED
    assert UserChange.objects.get(user=scene.leaver).action == UserAction.DELETE
    assert not UserChange.objects.filter(user=scene.kept).exists()
    assert not DirectoryUser.objects.filter(user_principal_name=names["full"]).exists()
    # A new user's licence waits for the vendor to make the user.
    assert licences.run_change(waiting.pk, provider_factory=scene.link.provider) == "waiting"

    # The same file again, the vendor not reached yet: nothing to do.
    before = _snapshot()
    again = scene.apply(scene.preview(data))
    assert again.counts == {"none": 6, "error": 7}
    assert _snapshot()[1:4] == before[1:4]

    # The vendor makes the user, the password link is mailed, the licence follows.
    with django_capture_on_commit_callbacks(execute=True):
        assert users.run_user_change(create.pk, provider_factory=scene.link.provider) == "done"
    (mail,) = [m for m in smtp_server.messages if m["To"] == "nia@example.org"]
    body = mail.get_payload(decode=True).decode()
    token = re.search(r"/password-link/([^/\s]+)/", body).group(1)
    user_name, password = services.credential_reveal(token)
    assert user_name == names["new"] and password not in body
    assert users.password_problems(password, user_name=user_name) == []
    assert licences.run_change(waiting.pk, provider_factory=scene.link.provider) == "done"
    new.refresh_from_db()
    assert scene.sku.sku_id in _vendor_skus(world, new)
    # No default licence was added to the licences the file chose; still nothing to do.
    assert scene.preview(data).counts == {"none": 6, "error": 7}


def test_the_users_export_imports_back_as_no_change(scene, client):
    sign_in(client, scene.link.cast.cloud_admin.username)
    url = reverse("customer_users", args=[scene.customer.pk])
    exported = b"".join(client.get(url, {"export": "csv"}).streaming_content)
    header = exported.decode().splitlines()[0]
    assert header == ",".join(bulk.USER_COLUMNS)
    active = DirectoryUser.objects.filter(customer=scene.customer, status=UserStatus.ACTIVE)
    assert scene.preview(exported).counts == {"none": active.count()}
    workbook = client.get(url, {"export": "xlsx"}).content
    assert scene.preview(workbook, name="users.xlsx").counts == {"none": active.count()}
    # An edited cell is an update; a licence left out of the cell is taken back.
    holder = next(u for u in active if u.licences.exists())
    edited = exported.decode().replace(
        ",".join(_export_cells(holder)), ",".join(_export_cells(holder, licences=""))
    )
    users_import = scene.preview(edited.encode())
    lines = _by_number(users_import)
    line = next(line for line in lines.values() if line.user_name == holder.user_principal_name)
    assert line.action == ImportAction.UPDATE and line.message.startswith("− ")
    assert users_import.counts == {"update": 1, "none": active.count() - 1}
    held = set(holder.licences.values_list("sku_id", flat=True))
    scene.apply(users_import)
    assert not holder.licences.exists()
    removed = LicenceChange.objects.filter(user=holder, action=LicenceAction.REMOVE)
    assert set(removed.values_list("sku_id", flat=True)) == held
    assert not UserChange.objects.filter(user=holder).exists()  # its names did not change


def _export_cells(user: DirectoryUser, **changes) -> list[str]:
    row = _row(user, **changes)
    return [row[name] for name in bulk.USER_COLUMNS[:7]]


def test_refusals_change_nothing(scene):
    data, _names = _file(scene)
    cast = scene.link.cast
    reader = account_services.user_create(
        actor=None,
        organisation=cast.partner,
        username="partnerreader",
        email="partnerreader@test.example",
        password=PASSWORD,
        role=Role.READ_ONLY,
    )
    before = _snapshot()
    with pytest.raises(PermissionRefused):
        scene.preview(data, actor=cast.outsider)
    with pytest.raises(PermissionRefused):
        scene.preview(data, actor=reader)
    with pytest.raises(ServiceError, match="has no tenant"):
        bulk.users_import_preview(
            actor=cast.cloud_admin,
            customer=cast.customer,
            file_name="users.csv",
            stream=io.BytesIO(data),
        )
    with pytest.raises(ServiceError, match="user_name"):
        scene.preview(b"name,licences\nx,y\n")
    with pytest.raises(ServiceError, match="no lines"):
        scene.preview(",".join(bulk.USER_COLUMNS).encode() + b"\n")
    with pytest.raises(ServiceError, match="NUL character"):
        scene.preview(b"user_name,display_name\nok@x.example,A\nn\x00l@x.example,B\n")
    with pytest.raises(ServiceError, match="not an XLSX"):
        scene.preview(b"not a workbook", name="users.xlsx")
    assert not MemberImport.objects.exists()
    users_import = scene.preview(data)
    with pytest.raises(PermissionRefused):
        scene.apply(users_import, actor=reader)
    assert _snapshot()[:4] == before[:4]
    users_import.refresh_from_db()
    assert users_import.applied_at is None
    scene.apply(users_import)
    after = _snapshot()
    with pytest.raises(Conflict):
        scene.apply(users_import)
    assert _snapshot() == after


def test_the_page_previews_applies_and_gives_the_result(scene, client):
    data, names = _file(scene)
    sign_in(client, scene.link.cast.cloud_admin.username)
    listing = client.get(reverse("customer_users", args=[scene.customer.pk])).content.decode()
    assert 'id="users-import"' in listing and "Import users" in listing
    upload = io.BytesIO(data)
    upload.name = "people.csv"
    answer = client.post(reverse("users_import_upload", args=[scene.customer.pk]), {"file": upload})
    assert answer.status_code == 302
    users_import = MemberImport.objects.get(kind=ImportKind.USERS)
    assert answer["Location"] == reverse("users_import", args=[scene.customer.pk, users_import.pk])
    page = client.get(answer["Location"]).content.decode()
    assert names["new"] in page and "Unknown licence: Platinum Suite." in page
    assert 'data-action="apply"' in page
    applied = client.post(
        reverse("users_import_apply", args=[scene.customer.pk, users_import.pk]), follow=True
    )
    assert "2 created, 2 updated, 1 deleted, 1 unchanged, 7 refused" in applied.content.decode()
    result = client.get(answer["Location"], {"export": "csv"})
    rows = list(csv.reader(io.StringIO(b"".join(result.streaming_content).decode())))
    assert rows[0] == list(bulk.RESULT_COLUMNS)
    assert [row[2] for row in rows[1:]].count("Create") == 2
    # Another reseller sees neither the page nor the file.
    sign_in(client, scene.link.cast.reseller_admin.username)
    assert client.get(answer["Location"]).status_code == 404
    assert (
        client.post(
            reverse("users_import_apply", args=[scene.customer.pk, users_import.pk])
        ).status_code
        == 404
    )


def test_the_api_previews_and_applies_scoped(scene):
    data, names = _file(scene)
    cast = scene.link.cast
    api = api_as(cast.cloud_admin)
    base = f"/api/v1/customers/{scene.customer.pk}/users/imports/"

    def upload():
        file = io.BytesIO(data)
        file.name = "users.csv"
        return {"file": file}

    first = api.post(base, upload(), format="multipart", HTTP_IDEMPOTENCY_KEY="users-1")
    again = api.post(base, upload(), format="multipart", HTTP_IDEMPOTENCY_KEY="users-1")
    assert first.status_code == again.status_code == 201, first.content
    assert first.json()["id"] == again.json()["id"]
    assert MemberImport.objects.filter(kind=ImportKind.USERS).count() == 1
    one = f"{base}{first.json()['id']}/"
    assert api.get(one).json()["counts"]["error"] == 7
    lines = api.get(f"{one}lines/").json()["results"]
    assert lines[0]["user_name"] == names["new"] and lines[0]["action"] == "create"
    assert api.post(base, {}, format="multipart").status_code == 400
    assert api.get(f"{base}{2**70}/lines/").status_code == 404
    assert api.post(f"{base}{2**70}/apply/").status_code == 404
    # Another customer's address, another reseller, a login that may only read.
    elsewhere = Tenant.objects.exclude(customer=scene.customer).first().customer_id
    assert (
        api.get(f"/api/v1/customers/{elsewhere}/users/imports/{first.json()['id']}/").status_code
        == 404
    )
    other = api_as(cast.reseller_admin)
    assert other.get(one).status_code == 404
    assert other.post(f"{one}apply/").status_code == 404
    assert other.post(base, upload(), format="multipart").status_code == 404
    reader = account_services.user_create(
        actor=None,
        organisation=cast.partner,
        username="apireader",
        email="apireader@test.example",
        password=PASSWORD,
        role=Role.READ_ONLY,
    )
    assert api_as(reader).post(f"{one}apply/").status_code == 403
    assert not UserChange.objects.exists()
    applied = api.post(f"{one}apply/")
    assert applied.status_code == 200 and applied.json()["counts"]["create"] == 2
    assert api.post(f"{one}apply/").status_code == 409
    assert UserChange.objects.filter(action=UserAction.CREATE).count() == 2


def test_licences_by_subscription_id_and_the_default_licence_only_without_the_column(
    scene, django_capture_on_commit_callbacks
):
    Subscription.objects.filter(pk=scene.subscription.pk).update(
        quantity=scene.subscription.quantity + 5
    )
    users.default_licence_set(actor=scene.link.cast.cloud_admin, subscription=scene.subscription)
    domain = scene.tenant.domain
    chosen, defaulted = f"{_alias('chosen')}@{domain}", f"{_alias('dflt')}@{domain}"
    data = _csv(
        [
            _row(scene.spare, licences=str(scene.subscription.pk)),
            {
                "user_name": chosen,
                "display_name": "Cho Sen",
                "usage_location": "GB",
                "password": GOOD,
            },
        ]
    )
    # A file without the licences column leaves licences to the default.
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["user_name", "display_name", "usage_location", "password"])
    writer.writerow([defaulted, "De Fault", "GB", GOOD])
    lines = _by_number(scene.preview(data))
    assert lines[2].action == ImportAction.UPDATE
    assert lines[2].message == f"+ {scene.subscription.friendly_name}"
    assert lines[3].action == ImportAction.CREATE and lines[3].message == "no licence"
    with django_capture_on_commit_callbacks(execute=True):
        scene.apply(scene.preview(data))
        scene.apply(scene.preview(out.getvalue().encode()))
    assert scene.spare.licences.filter(sku=scene.sku).exists()
    for name, expected in ((chosen, set()), (defaulted, {scene.sku.pk})):
        user = DirectoryUser.objects.get(user_principal_name=name)
        change = UserChange.objects.get(user=user, action=UserAction.CREATE)
        assert users.run_user_change(change.pk, provider_factory=scene.link.provider) == "done"
        change.refresh_from_db()
        assert change.notice == ""
        assert set(user.licences.values_list("sku_id", flat=True)) == expected
    # The file that chose no licence still changes nothing.
    assert scene.preview(data).counts == {"none": 2}
