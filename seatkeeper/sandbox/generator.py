"""Deterministic world generator: the same options (and anchor date) always build the same world.

Every id comes from ``random.Random`` seeded from the options, so tenant ids of the demo customers
are stable and the platform's demo data can link to them (see README). Bulk worlds
(``--customers 10000 --subscriptions-per-customer 10 --users-per-customer 30``) are written with
``executemany`` in one transaction.
"""

from __future__ import annotations

import datetime as dt
import json
import random
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from . import audit, billing, story, terms
from .catalog import product_terms
from .catalog_data import ADDON_PRODUCTS, BASE_PRODUCTS, PRODUCTS_BY_ID, ProductDef
from .customers import build_customer
from .state import Sandbox
from .store import Clock, Store, dumps, iso, parse_iso, wall_now
from .subscriptions import build_subscription, due_of
from .users import build_user

# Users of each company of the story world (besides its administrator).
PEOPLE_PER_COMPANY = 6
FLUSH_EVERY = 500  # customers per executemany batch
# Tenants that exist at "Microsoft" but are not this partner's customers: HEAD /v1/domains says
# taken (200), creating a customer with them fails, so the platform's "already has a tenant ->
# send a relationship request" path can be exercised.
FOREIGN_DOMAINS = (
    "tailspintoys.onmicrosoft.com",
    "adatum.onmicrosoft.com",
    "litwareinc.onmicrosoft.com",
    "lesjardinsdeclaire.onmicrosoft.com",
)
WORLD_TABLES = (
    "customers",
    "domains",
    "carts",
    "orders",
    "subscriptions",
    "users",
    "licenses",
    "line_items",
    "invoices",
    "audit",
    "exports",
    "idempotency",
    "auth_codes",
)


@dataclass
class GeneratorOptions:
    # "demo" = the small world of the tests, "story" = the demo partner's customers of
    # `./dev run` (story.py), "none" = empty
    seed: str = "demo"
    random_seed: int = 1
    customers: int = 0
    subscriptions_per_customer: int = 3
    users_per_customer: int = 5
    customer_limit: int = 0  # 0 = sandbox quota of 75 created customers above what exists


class _Ids:
    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def guid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def hex(self, n: int) -> str:
        return f"{self.rng.getrandbits(n * 4):0{n}x}"


# (company, domain prefix, city, postal code, state, country, culture, language,
#  contact first name, contact last name)
DEMO_CUSTOMERS: tuple[tuple[str, ...], ...] = (
    (
        "Fabrikam Conseil SARL",
        "fabrikamconseil",
        "Lyon",
        "69002",
        "",
        "FR",
        "fr-FR",
        "fr",
        "Claire",
        "Dubois",
    ),
    (
        "Boulangerie Marceau et Fils",
        "boulangeriemarceau",
        "Bordeaux",
        "33000",
        "",
        "FR",
        "fr-FR",
        "fr",
        "Julien",
        "Marceau",
    ),
    (
        "Atelier Lumière Architectes",
        "atelierlumiere",
        "Paris",
        "75011",
        "",
        "FR",
        "fr-FR",
        "fr",
        "Sophie",
        "Laurent",
    ),
    (
        "Northwind Traders Ltd",
        "northwindtradersuk",
        "Manchester",
        "M1 1AE",
        "",
        "GB",
        "en-GB",
        "en",
        "Oliver",
        "Bennett",
    ),
    (
        "Harbourside Veterinary Clinic",
        "harboursidevets",
        "Bristol",
        "BS1 4DJ",
        "",
        "GB",
        "en-GB",
        "en",
        "Emily",
        "Clarke",
    ),
    (
        "Contoso Dental Group",
        "contosodental",
        "Seattle",
        "98101",
        "WA",
        "US",
        "en-US",
        "en",
        "Michael",
        "Reyes",
    ),
)
DEMO_STREETS = (
    "12 rue de la République",
    "4 cours de l'Intendance",
    "27 rue Oberkampf",
    "80 Deansgate",
    "15 Welsh Back",
    "1420 5th Avenue",
)
# (customer index, product id, term, cycle, quantity, days ago, status, auto renew, add-on of sub n)
DEMO_SUBSCRIPTIONS: tuple[tuple[Any, ...], ...] = (
    (0, "CFQ7TTC0LCHC", "P1Y", "monthly", 25, 200, "active", True, None),
    (0, "CFQ7TTC0LH0R", "P1Y", "monthly", 10, 200, "active", True, 0),
    (0, "CFQ7TTC0L3PB", "P1M", "monthly", 5, 2, "active", True, None),
    (1, "CFQ7TTC0LH18", "P1Y", "annual", 8, 100, "active", True, None),
    (1, "CFQ7TTC0LH16", "P1M", "monthly", 3, 20, "active", False, None),
    (2, "CFQ7TTC0LDPB", "P1Y", "monthly", 12, 300, "active", True, None),
    (2, "CFQ7TTC0LCHG", "P1Y", "monthly", 12, 300, "active", True, 5),
    (2, "CFQ7TTC0LH3N", "P3Y", "annual", 3, 400, "active", True, None),
    (2, "CFQ7TTC0LHXK", "P1M", "monthly", 2, 15, "suspended", True, None),
    (3, "CFQ7TTC0LFLX", "P1Y", "annual", 40, 50, "active", True, None),
    (3, "CFQ7TTC0LHSF", "P1Y", "annual", 10, 50, "active", True, 9),
    (3, "CFQ7TTC0LH3P", "P1Y", "monthly", 6, 1, "active", True, None),
    (4, "CFQ7TTC0LCHC", "P1M", "monthly", 9, 10, "active", False, None),
    (4, "CFQ7TTC0RQN9", "P1M", "monthly", 4, 25, "deleted", False, None),
    (5, "CFQ7TTC0LF8Q", "P1Y", "monthly", 15, 150, "active", True, None),
    (5, "CFQ7TTC0LFLZ", "P3Y", "triennial", 5, 500, "active", True, None),
    (5, "CFQ7TTC0L3PB", "P1Y", "annual", 5, 0, "active", True, None),
)
FIRST_NAMES = (
    "Alice",
    "Bruno",
    "Camille",
    "David",
    "Élodie",
    "Farid",
    "Grace",
    "Hugo",
    "Inès",
    "James",
    "Karim",
    "Léa",
    "Marc",
    "Nadia",
    "Owen",
    "Pauline",
    "Quentin",
    "Rose",
    "Samuel",
    "Théo",
    "Ursula",
    "Victor",
    "William",
    "Yasmine",
    "Zoé",
    "Amelia",
    "Harry",
    "Isla",
    "Jack",
    "Mia",
)
FRENCH_FIRST = (
    "Camille",
    "Élodie",
    "Hugo",
    "Inès",
    "Léa",
    "Marc",
    "Pauline",
    "Quentin",
    "Théo",
    "Zoé",
)
FRENCH_LAST = ("Martin", "Bernard", "Petit", "Durand", "Moreau", "Laurent", "Lefebvre", "Fontaine")
ENGLISH_FIRST = (
    "Amelia",
    "Grace",
    "Harry",
    "Isla",
    "Jack",
    "James",
    "Mia",
    "Owen",
    "Rose",
    "William",
)
ENGLISH_LAST = (
    "Smith",
    "Jones",
    "Taylor",
    "Brown",
    "Wilson",
    "Evans",
    "Walker",
    "Wright",
    "Hughes",
)
LAST_NAMES = (
    "Martin",
    "Bernard",
    "Thomas",
    "Petit",
    "Robert",
    "Richard",
    "Durand",
    "Moreau",
    "Simon",
    "Laurent",
    "Smith",
    "Jones",
    "Taylor",
    "Brown",
    "Wilson",
    "Evans",
    "Walker",
    "Wright",
    "Roberts",
    "Johnson",
    "Garcia",
    "Lefebvre",
    "Fontaine",
    "Chevalier",
    "Hughes",
    "Green",
)
NAME_A = (
    "Alder",
    "Birch",
    "Cedar",
    "Dune",
    "Ember",
    "Fjord",
    "Granite",
    "Harbor",
    "Iris",
    "Juniper",
    "Kestrel",
    "Lumen",
    "Maple",
    "Nimbus",
    "Onyx",
    "Pine",
    "Quartz",
    "Raven",
    "Saffron",
    "Tundra",
    "Umber",
    "Vale",
    "Willow",
    "Yarrow",
    "Zephyr",
)
NAME_B = (
    "Analytics",
    "Bakery",
    "Consulting",
    "Dental",
    "Engineering",
    "Freight",
    "Gardens",
    "Hotels",
    "Imaging",
    "Joinery",
    "Kitchens",
    "Logistics",
    "Media",
    "Nursery",
    "Optics",
    "Pharmacy",
    "Robotics",
    "Studios",
    "Textiles",
    "Ventures",
    "Workshop",
)
COUNTRIES = (
    ("FR", "fr-FR", "fr", "SARL", "Lyon", "69001"),
    ("GB", "en-GB", "en", "Ltd", "Leeds", "LS1 4AP"),
    ("US", "en-US", "en", "LLC", "Portland", "97201"),
    ("DE", "de-DE", "de", "GmbH", "Köln", "50667"),
)


def _ascii(text: str) -> str:
    table = str.maketrans("éèêëàâäîïôöûüçÉ", "eeeeaaaiioouucE")
    return text.translate(table)


class _World:
    """Accumulates rows, then writes them in one transaction."""

    def __init__(
        self, partner: SimpleNamespace, client_id: str, agent_upn: str, anchor: dt.date
    ) -> None:
        self.anchor = anchor
        self.partner = partner
        self.client_id = client_id
        self.agent_upn = agent_upn
        self.customers: list[tuple[Any, ...]] = []
        self.domains: list[tuple[Any, ...]] = []
        self.orders: list[tuple[Any, ...]] = []
        self.subscriptions: list[tuple[Any, ...]] = []
        self.users: list[tuple[Any, ...]] = []
        self.licenses: list[tuple[Any, ...]] = []
        self.lines: list[tuple[Any, ...]] = []
        self.audit: list[tuple[Any, ...]] = []

    def flush(self, store: Store) -> None:
        """Write the accumulated rows and forget them (keeps memory flat for big worlds)."""
        conn = store.conn
        with store.tx():
            conn.executemany(
                (
                    "INSERT INTO customers (id, company_name, domain, created, data) VALUES (?, ?, "
                    "?, ?, ?)"
                ),
                self.customers,
            )
            conn.executemany(
                "INSERT INTO domains (domain, customer_id) VALUES (?, ?)", self.domains
            )
            conn.executemany(
                (
                    "INSERT INTO orders (id, customer_id, created, ready_at, visible_at, status, "
                    "data) VALUES (?, ?, ?, ?, ?, ?, ?)"
                ),
                self.orders,
            )
            conn.executemany(
                (
                    "INSERT INTO subscriptions (id, customer_id, order_id, parent_id, status, "
                    "ready_at, visible_at, data, due) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
                ),
                self.subscriptions,
            )
            conn.executemany(
                "INSERT INTO users (id, customer_id, upn, state, data) VALUES (?, ?, ?, ?, ?)",
                self.users,
            )
            conn.executemany(
                "INSERT INTO licenses (customer_id, user_id, sku_guid) VALUES (?, ?, ?)",
                self.licenses,
            )
            conn.executemany(
                "INSERT INTO line_items (customer_id, period, currency, data) VALUES (?, ?, ?, ?)",
                self.lines,
            )
            conn.executemany(
                "INSERT INTO audit (op_date, customer_id, data) VALUES (?, ?, ?)", self.audit
            )
        for rows in (
            self.customers,
            self.domains,
            self.orders,
            self.subscriptions,
            self.users,
            self.licenses,
            self.lines,
            self.audit,
        ):
            rows.clear()

    def audit_row(
        self,
        ids: _Ids,
        customer: dict[str, Any],
        operation: str,
        resource_type: str,
        when: dt.datetime,
        new: dict[str, Any] | None,
        customized: dict[str, str],
    ) -> None:
        record = audit.build_record(
            partner_id=self.partner.identity.partner_tenant_id,
            operation=operation,
            resource_type=resource_type,
            customer=customer,
            actor=self.agent_upn,
            application_id=self.client_id,
            moment=when,
            correlation_id=ids.guid(),
            new=new,
            customized=customized,
        )
        self.audit.append((record["operationDate"], customer["id"], dumps(record)))

    def add_customer(
        self,
        ids: _Ids,
        *,
        company: str,
        prefix: str,
        street: str,
        city: str,
        postal: str,
        state: str,
        country: str,
        culture: str,
        language: str,
        first: str,
        last: str,
        created: dt.datetime,
        agreement_required: bool = False,
    ) -> dict[str, Any]:
        domain = f"{prefix}.onmicrosoft.com"
        address = {
            "country": country,
            "city": city,
            "addressLine1": street,
            "postalCode": postal,
            "firstName": first,
            "lastName": last,
            "phoneNumber": None,
        }
        if state:
            address["state"] = state
        email = f"{_ascii(first).lower()}.{_ascii(last).lower()}@{prefix}.example"
        customer = build_customer(
            tenant_id=ids.guid(),
            domain=domain,
            company_name=company,
            billing_id=ids.hex(32),
            first_name=first,
            last_name=last,
            email=email,
            culture=culture,
            language=language,
            address=address,
            etag=str(ids.rng.getrandbits(63) - 2**62),
            commerce_id=ids.guid(),
        )
        if agreement_required:
            customer["_agreementRequired"] = True
        self.customers.append(
            (customer["id"], company, domain, created.timestamp(), dumps(customer))
        )
        self.domains.append((domain, customer["id"]))
        self.audit_row(
            ids, customer, "add_customer", "customer", created, None, {"PrimaryDomainName": domain}
        )
        return customer

    def add_subscription(
        self,
        ids: _Ids,
        customer: dict[str, Any],
        product: ProductDef,
        duration: str,
        cycle: str,
        quantity: int,
        created: dt.datetime,
        status: str,
        auto_renew: bool,
        parent_id: str | None,
    ) -> dict[str, Any]:
        currency = terms.currency_for(customer["billingProfile"]["defaultAddress"]["country"])
        unit, erp = terms.term_price(product.monthly_erp_usd, duration, cycle, currency)
        order_id, sub_id = ids.hex(12), ids.guid()
        offer_id = f"{product.id}:0001:{product.availability_id}"
        sub = build_subscription(
            sub_id=sub_id,
            customer_id=customer["id"],
            order_id=order_id,
            offer_id=offer_id,
            offer_name=product.title,
            product=product,
            duration=duration,
            cycle=cycle,
            quantity=quantity,
            created=created,
            status=status,
            auto_renew=auto_renew,
            currency=currency,
            unit_price=unit,
            parent_id=parent_id,
        )
        # History before the world's month carries purchase lines only: the running sandbox
        # charges the cycles that start from the 1st of this month on, as its clock passes.
        # So mark as charged the cycle that covers the last day of the previous month.
        last_day = self.anchor.replace(day=1) - dt.timedelta(days=1)
        if created.date() <= last_day:
            covered = terms.cycle_end(created.date(), cycle, last_day).isoformat()
            if covered > sub["_sandbox"]["chargedUntil"]:
                sub["_sandbox"]["chargedUntil"] = min(covered, sub["_sandbox"]["termEnd"])
        if status == "deleted":
            sub["suspensionReasons"] = ["CustomerCancellation"]
        if status == "suspended":
            sub["suspensionReasons"] = ["PartnerInitiated"]
        ts = created.timestamp()
        self.subscriptions.append(
            (sub_id, customer["id"], order_id, parent_id, status, ts, ts, dumps(sub), due_of(sub))
        )
        order = {
            "id": order_id,
            "alternateId": order_id,
            "referenceCustomerId": customer["id"],
            "billingCycle": cycle,
            "currencyCode": currency,
            "currencySymbol": terms.CURRENCIES[currency][0],
            "lineItems": [
                {
                    "lineItemNumber": 0,
                    "offerId": offer_id,
                    "subscriptionId": sub_id,
                    "parentSubscriptionId": parent_id,
                    "termDuration": duration,
                    "transactionType": "New",
                    "friendlyName": product.title,
                    "quantity": quantity,
                    "partnerIdOnRecord": None,
                    "renewsTo": None,
                    "pricing": {
                        "listPrice": float(erp),
                        "discountedPrice": float(unit),
                        "proratedPrice": float(unit),
                        "price": float(unit),
                        "extendedPrice": float(unit * quantity),
                    },
                }
            ],
            "creationDate": iso(created),
            "status": "completed",
            "transactionType": "UserPurchase",
            "client": {"applicationId": self.client_id},
            "_sandbox": {"customerId": customer["id"], "subscriptionIds": [sub_id]},
        }
        self.orders.append((order_id, customer["id"], ts, ts, ts, "completed", dumps(order)))
        cycle_end = terms.add_months(created.date(), terms.CYCLE_MONTHS[cycle]) - dt.timedelta(
            days=1
        )
        line = billing.charge_line(
            self.partner,
            customer=customer,
            subscription=sub,
            product=product,
            charge_type="new",  # type: ignore[arg-type]
            quantity=quantity,
            unit_price=unit,
            effective_unit_price=unit,
            charge_start=created.date(),
            charge_end=cycle_end,
            when=created,
            reference_id=ids.guid(),
        )
        self.lines.append((customer["id"], created.strftime("%Y-%m"), currency, dumps(line)))
        self.audit_row(
            ids,
            customer,
            "create_order",
            "order",
            created,
            None,
            {
                "OrderId": order_id,
                "OfferId-0": offer_id,
                "SubscriptionId-0": sub_id,
                "Quantity-0": str(quantity),
            },
        )
        return sub

    def add_user(
        self,
        ids: _Ids,
        customer: dict[str, Any],
        upn: str,
        first: str,
        last: str,
        created: dt.datetime,
        skus: list[str],
    ) -> None:
        user = build_user(
            user_id=ids.guid(),
            customer_id=customer["id"],
            upn=upn,
            first_name=first,
            last_name=last,
            display_name=f"{first} {last}".strip() or "admin",
            usage_location=customer["billingProfile"]["defaultAddress"]["country"],
            created=created,
        )
        self.users.append((user["id"], customer["id"], upn, "active", dumps(user)))
        for sku in skus:
            self.licenses.append((customer["id"], user["id"], sku))


def _identity(store: Store, options: GeneratorOptions) -> tuple[SimpleNamespace, str, str]:
    ids = _Ids(random.Random(f"seatkeeper-sandbox-identity:{options.random_seed}"))
    partner_id, client_id, agent_oid = ids.guid(), ids.guid(), ids.guid()
    meta = {
        "partner_tenant_id": partner_id,
        "partner_domain": "seatkeeperdemopartner.onmicrosoft.com",
        "partner_name": "Seatkeeper Demo Partner",
        "client_id": client_id,
        "client_secret": "sbx~" + ids.hex(32),
        "agent_oid": agent_oid,
        "agent_upn": "alex.moreau@seatkeeperdemopartner.onmicrosoft.com",
        "admin_key": "sbxadmin-" + ids.hex(24),
        "generator_options": json.dumps(asdict(options)),
        "clock_offset": "0",
    }
    with store.tx():
        for key, value in meta.items():
            store.set_meta(key, value)
        store.run(
            "INSERT OR REPLACE INTO apps (client_id, secret, name) VALUES (?, ?, ?)",
            (client_id, meta["client_secret"], "Seatkeeper (sandbox demo app)"),
        )
        store.run(
            "INSERT OR REPLACE INTO agents (oid, upn, name, password) VALUES (?, ?, ?, ?)",
            (agent_oid, meta["agent_upn"], "Alex Moreau", "Sandbox-Agent-" + ids.hex(6)),
        )
        if options.customer_limit:
            store.set_meta("customer_limit", str(options.customer_limit))
    return (
        SimpleNamespace(identity=SimpleNamespace(partner_tenant_id=partner_id)),
        client_id,
        meta["agent_upn"],
    )


def world_moment(day: dt.date, clock_start: dt.datetime | None = None) -> dt.datetime:
    """The world's "now", from which its history is dated: 09:00 UTC on ``day``, or the moment
    the sandbox's clock starts (``clock_start``) when that is earlier the same day. Nothing in
    the world may be dated after its clock: a subscription bought "today" at 07:00 in a world
    served from 01:45 would carry an audit record from the future, which every incremental
    sync reads as a change made after it began (issue 9)."""
    nine = dt.datetime(day.year, day.month, day.day, 9, 0, tzinfo=dt.UTC)
    if clock_start is None:
        return nine
    start = clock_start.astimezone(dt.UTC).replace(second=0, microsecond=0)
    return min(nine, start) if start.date() == day else nine


def build(
    store: Store, options: GeneratorOptions, anchor: dt.date, now: dt.datetime | None = None
) -> None:
    """Write identity + world into an empty (or wiped) store.

    ``anchor`` is "today" for the world; ``now`` the moment its history stops (by default
    `world_moment(anchor)`, 09:00 UTC that day)."""
    partner, client_id, agent_upn = _identity(store, options)
    world = _World(partner, client_id, agent_upn, anchor)
    midnight = now or world_moment(anchor)
    with store.tx():
        store.conn.executemany(
            "INSERT INTO domains (domain, customer_id) VALUES (?, '')",
            [(domain,) for domain in FOREIGN_DOMAINS],
        )
        if options.seed == "demo":
            _demo(world, midnight)
        elif options.seed == "story":
            _story(world, midnight)
        if options.customers:
            _bulk(world, options, midnight, store)
        world.flush(store)
    existing = store.one("SELECT count(*) FROM customers")[0]
    if not options.customer_limit:
        # Sandbox quota: 75 customers may be created on top of the generated ones.
        store.set_meta("customer_limit", str(existing + 75))


def _demo(world: _World, now: dt.datetime) -> None:
    ids = _Ids(random.Random("seatkeeper-sandbox-demo"))
    customers = []
    for n, row in enumerate(DEMO_CUSTOMERS):
        company, prefix, city, postal, state, country, culture, language, first, last = row
        created = now - dt.timedelta(days=600 - n * 20)
        customers.append(
            world.add_customer(
                ids,
                company=company,
                prefix=prefix,
                street=DEMO_STREETS[n],
                city=city,
                postal=postal,
                state=state,
                country=country,
                culture=culture,
                language=language,
                first=first,
                last=last,
                created=created,
            )
        )
    subs: list[dict[str, Any]] = []
    for cust, product_id, duration, cycle, qty, days, status, renew, parent in DEMO_SUBSCRIPTIONS:
        created = now - dt.timedelta(days=days, hours=2)
        parent_id = subs[parent]["id"] if parent is not None else None
        subs.append(
            world.add_subscription(
                ids,
                customers[cust],
                PRODUCTS_BY_ID[product_id],
                duration,
                cycle,
                qty,
                created,
                status,
                renew,
                parent_id,
            )
        )
    rng = random.Random("seatkeeper-sandbox-demo-users")
    for n, customer in enumerate(customers):
        domain = customer["companyProfile"]["domain"]
        created = now - dt.timedelta(days=590 - n * 20)
        world.add_user(ids, customer, f"admin@{domain}", "", "", created, [])
        bases = [
            s
            for s in subs
            if s["_sandbox"]["customerId"] == customer["id"]
            and s["status"] == "active"
            and not s["parentSubscriptionId"]
        ]
        used: dict[str, int] = {}
        for k in range(4 + n % 5):
            french = customer["billingProfile"]["defaultAddress"]["country"] == "FR"
            first = rng.choice(FRENCH_FIRST if french else ENGLISH_FIRST)
            last = rng.choice(FRENCH_LAST if french else ENGLISH_LAST)
            upn = f"{_ascii(first).lower()}.{_ascii(last).lower()}{k}@{domain}"
            skus = []
            for sub in bases:
                sku = PRODUCTS_BY_ID[sub["_sandbox"]["productId"]].sku_guid
                if used.get(sub["id"], 0) < sub["quantity"] and (not skus or k % 3 == 0):
                    used[sub["id"]] = used.get(sub["id"], 0) + 1
                    skus.append(sku)
            world.add_user(ids, customer, upn, first, last, created + dt.timedelta(days=k), skus)


def _story(world: _World, now: dt.datetime) -> None:
    """The demo partner's customers (story.py): each company's subscriptions sized to its staff,
    a few bought this week (their cancellation window closes in the coming days), some renewing
    within the month, one suspended, one cancelled; its people hold most of the licences."""
    ids = _Ids(random.Random("seatkeeper-sandbox-story"))
    for n, company in enumerate(c for c in story.COMPANIES if c.has_tenant):
        rng = random.Random(f"seatkeeper-sandbox-story:{company.name}")
        french = company.country == "FR"
        customer = world.add_customer(
            ids,
            company=company.legal_name,
            prefix=company.domain_prefix,
            street=company.street,
            city=company.city,
            postal=company.postal_code,
            state="",
            country=company.country,
            culture="fr-FR" if french else "en-GB",
            language="fr" if french else "en",
            first=company.first_name,
            last=company.last_name,
            created=now - dt.timedelta(days=rng.randint(420, 1500)),
            agreement_required=company.agreement_missing,
        )
        plan = _story_plan(company, n, rng)
        subs: list[dict[str, Any]] = []
        for product_id, duration, cycle, quantity, days, status, parent in plan:
            product = PRODUCTS_BY_ID[product_id]
            subs.append(
                world.add_subscription(
                    ids,
                    customer,
                    product,
                    duration,
                    cycle,
                    quantity,
                    now - dt.timedelta(days=days, hours=rng.randint(1, 8)),
                    status,
                    status == "active" and rng.random() < 0.85,
                    subs[parent]["id"] if parent is not None else None,
                )
            )
        _story_people(world, ids, customer, company, subs, now, rng)


def _story_plan(company: story.Company, n: int, rng: random.Random) -> list[tuple[Any, ...]]:
    """(product id, term, cycle, quantity, days ago, status, add-on of plan line n)"""
    seats = company.seats

    def term() -> tuple[str, str, int]:
        roll = rng.random()
        if roll < 0.6:
            return "P1Y", "monthly", rng.randint(20, 330)
        if roll < 0.85:
            return "P1Y", "annual", rng.randint(20, 330)
        return "P1M", "monthly", rng.randint(3, 27)

    suites = (
        story.SMALL_SUITES
        if seats < 15
        else story.MEDIUM_SUITES
        if seats < 60
        else story.LARGE_SUITES
    )
    office = seats if seats < 40 else seats * 3 // 5
    duration, cycle, days = term()
    if n % 5 == 1:  # renews within the month
        duration, cycle, days = "P1Y", rng.choice(("monthly", "annual")), 365 - 4 - n % 23
    plan: list[tuple[Any, ...]] = [
        (rng.choice(suites), duration, cycle, office, days, "active", None)
    ]
    if seats >= 40:  # the staff without a desk read their mail on a phone
        duration, cycle, days = term()
        plan.append(("CFQ7TTC0LH16", duration, cycle, seats - office, days, "active", None))
    base = PRODUCTS_BY_ID[plan[0][0]]
    for addon_id in story.ADDONS:
        addon = PRODUCTS_BY_ID[addon_id]
        if f"{base.id}:0001" in addon.prerequisites and rng.random() < 0.5:
            quantity = max(1, office // rng.randint(1, 4))
            plan.append((addon_id, plan[0][1], plan[0][2], quantity, plan[0][4], "active", 0))
    for extra in rng.sample(story.EXTRAS, k=1 + (seats >= 10) + (seats >= 20) + (seats >= 60)):
        duration, cycle, days = term()
        quantity = max(1, min(seats // 4, rng.randint(2, 8)))
        plan.append((extra, duration, cycle, quantity, days, "active", None))
    if n % 6 == 2:  # bought this week: still cancellable for a few days
        product = rng.choice(("CFQ7TTC0L3PB", "CFQ7TTC0RQN9", "CFQ7TTC0LH18"))
        plan.append((product, "P1Y", "monthly", rng.randint(1, 5), 1 + n % 6, "active", None))
    if n == 7:  # unpaid: the partner suspended it
        plan.append(("CFQ7TTC0LHXK", "P1M", "monthly", 3, 20, "suspended", None))
    if n == 12:  # cancelled in its first week
        plan.append(("CFQ7TTC0RQN9", "P1M", "monthly", 4, 25, "deleted", None))
    return plan


def _story_people(
    world: _World,
    ids: _Ids,
    customer: dict[str, Any],
    company: story.Company,
    subs: list[dict[str, Any]],
    now: dt.datetime,
    rng: random.Random,
) -> None:
    """The administrator, the contact and a few colleagues (the first discovery reads each
    user's licences with one call: `./dev run` must start fast); most of their seats are
    assigned, a few are free (so "Assigned" is below the quantity, as in life)."""
    domain = customer["companyProfile"]["domain"]
    created = now - dt.timedelta(days=400)
    world.add_user(ids, customer, f"admin@{domain}", "", "", created, [])
    french = company.country == "FR"
    people = [(company.first_name, company.last_name)]
    while len(people) < min(company.seats, PEOPLE_PER_COMPANY):
        person = (
            rng.choice(FRENCH_FIRST if french else ENGLISH_FIRST),
            rng.choice(FRENCH_LAST if french else ENGLISH_LAST),
        )
        if person not in people:
            people.append(person)
    licences: list[list[str]] = [[] for _ in people]
    for sub in subs:
        if sub["status"] != "active":
            continue
        sku = PRODUCTS_BY_ID[sub["_sandbox"]["productId"]].sku_guid
        free = rng.randint(0, max(1, sub["quantity"] // 6))
        count = min(len(people), max(sub["quantity"] - free, 1))
        # The frontline staff are the last ones, the office the first ones.
        first = len(people) - count if sub["_sandbox"]["productId"] == "CFQ7TTC0LH16" else 0
        for k in range(first, first + count):
            if sku not in licences[k]:
                licences[k].append(sku)
    for k, ((first, last), skus) in enumerate(zip(people, licences, strict=True)):
        upn = f"{_ascii(first).lower()}.{_ascii(last).lower().replace(' ', '')}@{domain}"
        world.add_user(ids, customer, upn, first, last, created + dt.timedelta(days=k), skus)


def _bulk(world: _World, options: GeneratorOptions, now: dt.datetime, store: Store) -> None:
    rng = random.Random(f"seatkeeper-sandbox-bulk:{options.random_seed}")
    ids = _Ids(rng)
    for n in range(options.customers):
        if n and n % FLUSH_EVERY == 0:
            world.flush(store)
        a, b = rng.choice(NAME_A), rng.choice(NAME_B)
        country, culture, language, suffix, city, postal = rng.choice(COUNTRIES)
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        created = now - dt.timedelta(days=rng.randint(30, 900), seconds=rng.randint(0, 86399))
        customer = world.add_customer(
            ids,
            company=f"{a} {b} {n + 1:05d} {suffix}",
            prefix=f"{a}{b}{n + 1:05d}".lower(),
            street=f"{rng.randint(1, 200)} Main Street",
            city=city,
            postal=postal,
            state="OR" if country == "US" else "",
            country=country,
            culture=culture,
            language=language,
            first=first,
            last=last,
            created=created,
        )
        bases: list[dict[str, Any]] = []
        for _ in range(options.subscriptions_per_customer):
            want_addon = bases and rng.random() < 0.25
            product = rng.choice(ADDON_PRODUCTS if want_addon else BASE_PRODUCTS)
            duration, cycle = rng.choice(product_terms(product))
            age = rng.randint(0, terms.TERM_MONTHS[duration] * 30 - 2)
            roll = rng.random()
            status = "active" if roll < 0.88 else "suspended" if roll < 0.94 else "deleted"
            parent = None
            if product.is_addon:
                fits = [
                    s
                    for s in bases
                    if f"{s['_sandbox']['productId']}:0001" in product.prerequisites
                ]
                parent = fits[0]["id"] if fits else None
                if parent is None:
                    product = rng.choice(BASE_PRODUCTS)
                    duration, cycle = rng.choice(product_terms(product))
            qty = max(product.minimum_quantity, rng.randint(1, 60))
            sub = world.add_subscription(
                ids,
                customer,
                product,
                duration,
                cycle,
                qty,
                now - dt.timedelta(days=age, seconds=rng.randint(0, 86399)),
                status,
                rng.random() < 0.8,
                parent,
            )
            if not product.is_addon:
                bases.append(sub)
        domain = customer["companyProfile"]["domain"]
        seats = [
            (PRODUCTS_BY_ID[s["_sandbox"]["productId"]].sku_guid, s["quantity"])
            for s in bases
            if s["status"] == "active"
        ]
        for k in range(options.users_per_customer):
            if k == 0:
                world.add_user(ids, customer, f"admin@{domain}", "", "", created, [])
                continue
            first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
            skus = []
            if seats:
                index = k % len(seats)
                sku, left = seats[index]
                if left > 0:
                    skus.append(sku)
                    seats[index] = (sku, left - 1)
            world.add_user(
                ids,
                customer,
                f"{_ascii(first).lower()}.{_ascii(last).lower()}.{k}@{domain}",
                first,
                last,
                created + dt.timedelta(days=1),
                skus,
            )


def generate(
    data_dir: Path,
    options: GeneratorOptions,
    anchor: dt.date | None = None,
    *,
    start: dt.datetime | None = None,
) -> Path:
    """Build a fresh store in ``data_dir`` (replacing any previous world).

    ``anchor`` is the world's "today" (the machine's date by default). ``start`` (aware) also
    starts the sandbox's clock at that moment, so a test's world does not depend on the date it
    runs on; ``anchor`` is then its date."""
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / "sandbox.sqlite3"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    store = Store(path)
    try:
        # A fresh file that is simply rebuilt if interrupted: no need for a journal while filling.
        store.conn.execute("PRAGMA journal_mode=OFF")
        store.conn.execute("PRAGMA synchronous=OFF")
        store.conn.execute("PRAGMA cache_size=-262144")  # 256 MB while loading
        store.drop_indexes()
        day = start.astimezone(dt.UTC).date() if start else (anchor or wall_now().date())
        # Served on the machine's clock (no anchor, no start): its history stops at that clock.
        now = world_moment(day, start or (None if anchor else wall_now()))
        build(store, options, day, now)
        if start is not None:
            store.set_meta("clock_origin", iso(start))
            store.set_meta("clock_offset", repr(Clock.offset_for(start)))
        store.create_indexes()
        # Issue the invoices of past months now rather than on the first billing call.
        billing.close_periods_at(store, now)
        store.conn.execute("PRAGMA journal_mode=WAL")
    finally:
        store.close()
    return path


def rebuild(sandbox: Sandbox) -> None:
    """Wipe the world tables and regenerate them with the stored options (admin reset)."""
    raw = sandbox.store.get_meta("generator_options") or "{}"
    options = GeneratorOptions(**json.loads(raw))
    with sandbox.store.tx():
        for table in (*WORLD_TABLES, "refresh_tokens", "consents"):
            sandbox.store.run(f"DELETE FROM {table}")  # noqa: S608
        sandbox.store.run("DELETE FROM sqlite_sequence")
        sandbox.store.run("DELETE FROM meta WHERE key = 'settled_day'")
        origin = sandbox.store.get_meta("clock_origin")
        start = parse_iso(origin) if origin else wall_now()
        build(sandbox.store, options, start.date(), world_moment(start.date(), start))
        billing.close_periods_at(sandbox.store, start)
    sandbox.clock.offset = Clock.offset_for(start) if origin else 0.0
    sandbox.store.set_meta("clock_offset", repr(sandbox.clock.offset))
