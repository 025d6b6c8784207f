"""Demo data for a fresh portal: realistic companies, staff, buyers, a catalog, price lists,
contract prices, invoices, framework agreements, quotes, the CRM (`demo_crm`) and an API key for
the ERP. Loaded into an empty database only."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from portal import clock
from portal.models import (
    Address,
    Agreement,
    AgreementStatus,
    AgreementTier,
    AssortmentItem,
    Company,
    ContractPrice,
    CreditEvent,
    CreditEventKind,
    Invoice,
    MessageStatus,
    Order,
    OrderEvent,
    OrderFlag,
    OrderLine,
    OrderSource,
    OrderStatus,
    OutboxMessage,
    Payment,
    PaymentOption,
    PriceList,
    PriceListItem,
    Product,
    ProductCategory,
    Role,
    SettlementPeriod,
    TierMode,
    User,
)
from portal.services import agreements, report_summary
from portal.services.agreements import Period
from portal.services.passwords import hash_password
from portal.services.pricing import line_net
from portal.services.totals import totals
from portal.settings import DEVELOPMENT_SECRET_KEY

DEMO_PASSWORD = "portal-demo"
ERP_KEY_NAME = "ERP (demo)"

STAFF = [
    ("admin@seller.example", "Ada Admin", Role.ADMIN),
    ("finance@seller.example", "Filip Finance", Role.FINANCE),
    ("manager@seller.example", "Anna Kowalska", Role.ACCOUNT_MANAGER),
    ("manager2@seller.example", "Piotr Nowak", Role.ACCOUNT_MANAGER),
]


@dataclass(frozen=True)
class DemoCompany:
    name: str
    tax_id: str
    terms: int
    limit: str
    discount: str
    price_list: str | None
    manager: str
    city: str
    buyers: tuple[tuple[str, str], ...]
    hold_reason: str | None = None


COMPANIES = [
    DemoCompany(
        "Northwind Trading",
        "PL5250001003",
        30,
        "60000",
        "0",
        "Wholesale",
        "manager@seller.example",
        "Warszawa",
        (("buyer@northwind.example", "Nina Nowicka"), ("buyer2@northwind.example", "Tomasz Wrona")),
    ),
    DemoCompany(
        "Baltic Foods",
        "PL5830002002",
        14,
        "25000",
        "2",
        "Horeca",
        "manager@seller.example",
        "Gdańsk",
        (("buyer@baltic.example", "Bartosz Bałtycki"),),
    ),
    DemoCompany(
        "Vistula Hotels",
        "PL6760003007",
        60,
        "150000",
        "0",
        "Key accounts",
        "manager2@seller.example",
        "Kraków",
        (("buyer@vistula.example", "Wiktoria Wiślańska"),),
    ),
    DemoCompany(
        "Carpathia Catering",
        "PL7340004006",
        30,
        "30000",
        "3",
        "Horeca",
        "manager@seller.example",
        "Nowy Sącz",
        (("buyer@carpathia.example", "Karol Karpacki"),),
        hold_reason="Direct debit returned unpaid twice; held until the balance is settled.",
    ),
    DemoCompany(
        "Mazovia Office Supplies",
        "PL1130005002",
        14,
        "15000",
        "0",
        "Wholesale",
        "manager2@seller.example",
        "Radom",
        (("buyer@mazovia.example", "Magda Mazur"),),
    ),
    DemoCompany(
        "Pomerania Retail",
        "PL9550006001",
        30,
        "40000",
        "5",
        None,
        "manager@seller.example",
        "Szczecin",
        (("buyer@pomerania.example", "Paweł Pomorski"),),
    ),
    DemoCompany(
        "Silesia Build",
        "PL6340007004",
        60,
        "90000",
        "0",
        "Wholesale",
        "manager2@seller.example",
        "Katowice",
        (("buyer@silesia.example", "Sylwia Ślązak"),),
    ),
    DemoCompany(
        "Warta Clinics",
        "PL7770008001",
        30,
        "20000",
        "4",
        None,
        "manager@seller.example",
        "Poznań",
        (("buyer@warta.example", "Waldemar Warciński"),),
    ),
]

CATEGORIES = [
    (
        "Beverages",
        "BEV",
        "5",
        [
            "Mineral water",
            "Sparkling water",
            "Orange juice",
            "Apple juice",
            "Cola",
            "Iced tea",
            "Coffee beans",
            "Ground coffee",
            "Black tea",
            "Green tea",
        ],
    ),
    (
        "Dairy",
        "DAI",
        "5",
        [
            "UHT milk",
            "Butter",
            "Cream 30%",
            "Natural yoghurt",
            "Gouda cheese",
            "Mozzarella",
            "Cottage cheese",
            "Sour cream",
            "Kefir",
            "Parmesan",
        ],
    ),
    (
        "Dry goods",
        "DRY",
        "5",
        [
            "Wheat flour",
            "Basmati rice",
            "Penne pasta",
            "Spaghetti",
            "Sugar",
            "Sea salt",
            "Rolled oats",
            "Red lentils",
            "Chickpeas",
            "Olive oil",
        ],
    ),
    (
        "Frozen food",
        "FRZ",
        "8",
        [
            "French fries",
            "Frozen peas",
            "Pierogi",
            "Fish fillets",
            "Mixed vegetables",
            "Vanilla ice cream",
            "Puff pastry",
            "Berries mix",
            "Chicken breast",
            "Spinach",
        ],
    ),
    (
        "Cleaning",
        "CLN",
        "23",
        [
            "Dishwasher tablets",
            "Floor cleaner",
            "Degreaser",
            "Glass cleaner",
            "Hand soap",
            "Disinfectant",
            "Bleach",
            "Descaler",
            "Laundry powder",
            "Sponges",
        ],
    ),
    (
        "Paper & hygiene",
        "PAP",
        "23",
        [
            "Paper towels",
            "Toilet paper",
            "Napkins",
            "Tissues",
            "Hand towels Z-fold",
            "Kitchen roll",
            "Wet wipes",
            "Table covers",
            "Paper cups",
            "Coffee filters",
        ],
    ),
    (
        "Packaging",
        "PCK",
        "23",
        [
            "Takeaway box",
            "Paper bag",
            "Cling film",
            "Aluminium foil",
            "Baking paper",
            "Vacuum bags",
            "Pizza box",
            "Soup container",
            "Cutlery set",
            "Straws",
        ],
    ),
    (
        "Office supplies",
        "OFF",
        "23",
        [
            "Copy paper A4",
            "Ballpoint pens",
            "Sticky notes",
            "Binders",
            "Staples",
            "Envelopes C4",
            "Printer toner",
            "Folders",
            "Markers",
            "Notebooks",
        ],
    ),
    (
        "Kitchen equipment",
        "KIT",
        "23",
        [
            "Chef knife",
            "Cutting board",
            "Gastronorm pan",
            "Mixing bowl",
            "Ladle",
            "Thermometer",
            "Whisk",
            "Sheet pan",
            "Food container",
            "Tongs",
        ],
    ),
    (
        "Protective wear",
        "PPE",
        "8",
        [
            "Nitrile gloves",
            "Hair nets",
            "Aprons",
            "Face masks",
            "Safety shoes",
            "Work trousers",
            "Oven mitts",
            "Shoe covers",
            "Chef jacket",
            "Safety goggles",
        ],
    ),
]
VARIANTS = ["small", "medium", "large"]
UNITS_BY_CATEGORY = {
    "BEV": "pcs",
    "DAI": "pcs",
    "DRY": "kg",
    "FRZ": "kg",
    "CLN": "pcs",
    "PAP": "pack",
    "PCK": "pack",
    "OFF": "pcs",
    "KIT": "pcs",
    "PPE": "box",
}


class DemoDataRefused(Exception):
    pass


SELLER_ZONE = ZoneInfo("Europe/Warsaw")
"""The demo seller's zone, for the reports' summary made at the end of the load."""


def _money(value: float | Decimal, places: str = "0.0001") -> Decimal:
    return Decimal(str(value)).quantize(Decimal(places), rounding=ROUND_HALF_UP)


async def database_is_empty(session: AsyncSession) -> bool:
    companies = await session.scalar(select(func.count()).select_from(Company))
    users = await session.scalar(select(func.count()).select_from(User))
    return not companies and not users


async def load_demo_data(session: AsyncSession, today: date, *, signing_key: str = DEVELOPMENT_SECRET_KEY) -> str:
    """Fill an empty database; refuse when anything is already there. Returns the secret of the
    demo ERP's API key (hashed with `signing_key`, the portal's secret key), shown only now."""
    if not await database_is_empty(session):
        raise DemoDataRefused("The database already holds companies or users; demo data goes only into an empty one.")
    rng = random.Random(20261127)
    password_hash = hash_password(DEMO_PASSWORD)

    staff = {
        email: User(email=email, full_name=name, role=role, password_hash=password_hash) for email, name, role in STAFF
    }
    session.add_all(staff.values())

    products = _catalog(session, rng)
    price_lists = {
        name: PriceList(name=name, currency="PLN", code=code)
        for name, code in (("Wholesale", "WHOLESALE"), ("Horeca", "HORECA"), ("Key accounts", "KEY"))
    }
    session.add_all(price_lists.values())
    await session.flush()
    _price_list_items(session, rng, products, price_lists, today)

    companies: dict[str, Company] = {}
    for spec in COMPANIES:
        company = Company(
            name=spec.name,
            tax_id=spec.tax_id,
            payment_terms_days=spec.terms,
            credit_limit=Decimal(spec.limit).quantize(Decimal("0.01")),
            currency="PLN",
            general_discount_pct=Decimal(spec.discount).quantize(Decimal("0.01")),
            price_list_id=price_lists[spec.price_list].id if spec.price_list else None,
            on_hold=spec.hold_reason is not None,
            hold_reason=spec.hold_reason,
            account_manager_id=staff[spec.manager].id,
        )
        session.add(company)
        companies[spec.name] = company
    await session.flush()

    for spec in COMPANIES:
        company = companies[spec.name]
        session.add_all(
            [
                Address(
                    company_id=company.id,
                    label="Head office",
                    street=f"ul. Główna {rng.randint(1, 120)}",
                    postal_code=f"{rng.randint(10, 99)}-{rng.randint(100, 999)}",
                    city=spec.city,
                    is_default=True,
                ),
                Address(
                    company_id=company.id,
                    label="Warehouse",
                    street=f"ul. Magazynowa {rng.randint(1, 40)}",
                    postal_code=f"{rng.randint(10, 99)}-{rng.randint(100, 999)}",
                    city=spec.city,
                ),
            ]
        )
        session.add_all(
            User(email=email, full_name=name, role=Role.BUYER, company_id=company.id, password_hash=password_hash)
            for email, name in spec.buyers
        )
    _contract_prices(session, rng, products, companies, today)
    _invoices(session, rng, companies, today)
    await session.flush()
    await _orders(session, rng, products, companies, today)
    await _agreements(session, products, companies, today)
    await _invoices_of_orders_and_payments(session, today)
    _credit_history(session, companies, staff, today)
    await _flag_pending(session, today)
    await _recurring_delivery(session, products, companies["Vistula Hotels"], today)
    await _master_data(session, companies, staff, products, today)
    await _quotes(session, companies, products, today)
    await _crm(session, companies, staff, today)
    await session.flush()
    await _report_history(session, companies, staff, products, today)
    await report_summary.refresh(session, today, SELLER_ZONE)
    return await _erp_key(session, staff["admin@seller.example"], today, signing_key)


async def _master_data(
    session: AsyncSession, companies: dict[str, Company], staff: dict[str, User], products: list[Product], today: date
) -> None:
    """What admins keep: delivery terms (Silesia Build: Tuesdays and Thursdays, orders by noon, a minimum
    and a fee under a free-delivery threshold), auto-approval (Warta Clinics), an invitation not yet
    accepted, and a few changes in the audit trail."""
    from datetime import UTC, datetime
    from datetime import time as clock_time

    from portal.services import audit, invitations

    admin = staff["admin@seller.example"]
    silesia, warta, baltic = (companies[name] for name in ("Silesia Build", "Warta Clinics", "Baltic Foods"))
    silesia.delivery_weekdays, silesia.order_cutoff = "24", clock_time(12, 0)
    silesia.min_order_value, silesia.delivery_fee, silesia.free_delivery_from = (
        Decimal("500.00"),
        Decimal("40.00"),
        Decimal("2000.00"),
    )
    warta.auto_approve = True
    await invitations.invite(
        session, admin, invitations.Invitee("bogna@baltic.example", "Bogna Bałtycka", Role.BUYER, baltic.id)
    )

    def at(days_ago: int) -> datetime:
        return datetime.combine(today - timedelta(days=days_ago), clock_time(9, 15), UTC)

    product = products[0]
    history: list[tuple[int, str, str, int, str, int | None, dict[str, list[str | None]]]] = [
        (
            40,
            "update",
            "company",
            silesia.id,
            silesia.name,
            silesia.id,
            {
                "delivery_weekdays": ["12345", "24"],
                "order_cutoff": [None, "12:00"],
                "min_order_value": ["0", "500"],
                "delivery_fee": ["0", "40"],
                "free_delivery_from": [None, "2000"],
            },
        ),
        (12, "update", "company", warta.id, warta.name, warta.id, {"auto_approve": ["no", "yes"]}),
        (
            5,
            "update",
            "product",
            product.id,
            product.sku,
            None,
            {"list_price": [audit.as_text(product.list_price * Decimal("0.95")), audit.as_text(product.list_price)]},
        ),
    ]
    for days_ago, action, kind, object_id, label, company_id, changes in history:
        entry = audit.record(session, admin, action, kind, object_id, label, company_id=company_id, changes=changes)
        entry.at = at(days_ago)
    await session.flush()


@asynccontextmanager
async def _on(session: AsyncSession, day: date, hour: int) -> AsyncIterator[None]:
    """One step of the demo's history, made by the services as it would have been on `day` at
    `hour`: what they stamp with `clock.now()` (events, versions, comments, the order) says then,
    and the e-mails the step queued went out then."""
    moment = datetime.combine(day, time(hour, 0), UTC)
    before = await session.scalar(select(func.max(OutboxMessage.id))) or 0
    real_now = clock.now
    clock.now = lambda: moment
    try:
        yield
        await session.flush()
    finally:
        clock.now = real_now
    await session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id > before)
        .values(status=MessageStatus.SENT, attempts=1, created_at=moment, next_attempt_at=moment, sent_at=moment)
    )


def _offer_price(product: Product, margin: str) -> Decimal:
    """A unit price that earns `margin` (a fraction) on the product's cost: above the margin floor."""
    return (product.cost / (1 - Decimal(margin))).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


async def _quotes(session: AsyncSession, companies: dict[str, Company], products: list[Product], today: date) -> None:
    """Quotes in every state a demo user should see. Northwind Trading (Nina Nowicka, Anna Kowalska
    its manager): one in negotiation (version 1 sent, changes asked for, version 2 sent: a diff),
    one requested and waiting for Anna, one accepted with its order (waiting for approval: Northwind
    is over its credit limit), and Anna's own offer expiring
    within three days (`portal worker --once` reminds the buyers). Baltic Foods declined one."""
    from sqlalchemy.orm import selectinload

    from portal.services import quotes
    from portal.services.delivery import earliest
    from portal.services.ordering import CheckoutForm

    async def user(email: str) -> User:
        found = await session.scalar(select(User).options(selectinload(User.company)).where(User.email == email))
        assert found is not None
        return found

    nina, bartosz, anna = [
        await user(email) for email in ("buyer@northwind.example", "buyer@baltic.example", "manager@seller.example")
    ]
    northwind = companies["Northwind Trading"]
    sold = [p for p in products if p.is_active]
    floor = Decimal("10")

    def product(name: str) -> Product:
        return next(p for p in sold if p.name.startswith(name))

    def day(days_ago: int) -> date:
        return today - timedelta(days=days_ago)

    async def price_all(quote_id: int, on: date, valid_until: date, margin: str, answer: Product | None = None) -> None:
        """Anna prices every line of her draft to earn `margin`; a described line is answered by `answer`."""
        quote = await quotes.staff_quote(session, anna, quote_id, on)
        draft = quotes.draft_of(quote)
        assert draft is not None
        changes = []
        for line in draft.lines:
            offered = line.product or answer
            assert offered is not None
            sku = "" if line.product else offered.sku
            changes.append(quotes.LineChange(line.id, unit_price=_offer_price(offered, margin), sku=sku))
        terms = quotes.DraftChanges(
            valid_until=valid_until,
            delivery_terms="Delivery within 5 working days.",
            payment_terms=draft.payment_terms,
            title=quote.title,
            lines=changes,
        )
        await quotes.save_draft(session, anna, quote_id, terms, today=on, margin_floor=floor)

    # In negotiation: version 1, changes asked for, version 2 sent (paper cheaper for more, binders out, toner in).
    paper, pens, binders = product("Copy paper A4"), product("Ballpoint pens"), product("Binders")
    async with _on(session, day(9), 9):
        negotiated = await quotes.request_quote(
            session,
            nina,
            [
                quotes.WantedLine(200, paper.id, target_price=_offer_price(paper, "0.12")),
                quotes.WantedLine(120, pens.id),
                quotes.WantedLine(40, binders.id),
                quotes.WantedLine(300, name="Notebooks with our logo on the cover"),
            ],
            title="Office supplies for the new Warsaw outlets",
            message="We open three outlets in January and need to stock their offices.",
            wanted_by=day(2),
            today=day(9),
        )
    async with _on(session, day(8), 14):
        await price_all(negotiated.id, day(8), day(8) + timedelta(days=14), "0.25", answer=product("Notebooks"))
        await quotes.add_comment(
            session,
            anna,
            negotiated.id,
            "Three outlets: there is room on the paper if they take more. Stay above 20 % on the notebooks.",
            internal=True,
            today=day(8),
        )
        await quotes.send(session, anna, negotiated.id, today=day(8), margin_floor=floor)
    async with _on(session, day(6), 10):
        first = quotes.sent_of(await quotes.buyer_quote(session, nina, negotiated.id))
        assert first is not None
        paper_key = next(line.line_key for line in first.lines if line.product_id == paper.id)
        await quotes.ask_for_changes(
            session,
            nina,
            negotiated.id,
            1,
            "We would take 250 boxes of paper at our target price, and we have binders already.",
            {paper_key: _offer_price(paper, "0.14")},
            today=day(6),
        )
    async with _on(session, day(5), 11):
        quote = await quotes.staff_quote(session, anna, negotiated.id, day(5))
        draft = quotes.draft_of(quote)
        assert draft is not None
        changes = [
            quotes.LineChange(line.id, quantity=250, unit_price=_offer_price(paper, "0.15"))
            if line.product_id == paper.id
            else quotes.LineChange(line.id, remove=True)
            for line in draft.lines
            if line.product_id in (paper.id, binders.id)
        ]
        terms = quotes.DraftChanges(
            valid_until=today + timedelta(days=14),
            delivery_terms=draft.delivery_terms,
            payment_terms=draft.payment_terms,
            title=quote.title,
            lines=changes,
        )
        await quotes.save_draft(session, anna, negotiated.id, terms, today=day(5), margin_floor=floor)
        toner = product("Printer toner")
        await quotes.add_line(
            session, anna, negotiated.id, sku=toner.sku, quantity=6, unit_price=_offer_price(toner, "0.2"), today=day(5)
        )
        await quotes.send(session, anna, negotiated.id, today=day(5), margin_floor=floor)
        await quotes.add_comment(
            session,
            anna,
            negotiated.id,
            "Version 2: 250 boxes of paper at a better price, no binders, and toner for the new printers.",
            today=day(5),
        )

    # Requested yesterday: waiting for Anna.
    async with _on(session, day(1), 16):
        soap = product("Hand soap")
        await quotes.request_quote(
            session,
            nina,
            [
                quotes.WantedLine(60, soap.id, target_price=_offer_price(soap, "0.12")),
                quotes.WantedLine(24, product("Disinfectant").id),
                quotes.WantedLine(10, name="Mop heads, 40 cm, microfibre"),
            ],
            title="Cleaning for the outlets",
            message="Monthly quantities; can you hold the prices for the first quarter?",
            wanted_by=today + timedelta(days=7),
            today=day(1),
        )

    # Accepted the day before yesterday: the order it made at the quoted prices waits for approval, as
    # Northwind is over its credit limit (a quote's order is approved at once only without a blocker).
    async with _on(session, day(6), 10):
        won = await quotes.request_quote(
            session,
            nina,
            [quotes.WantedLine(120, product("Copy paper A4").id), quotes.WantedLine(60, product("Envelopes C4").id)],
            title="Paper and envelopes for the year-end mailing",
            today=day(6),
        )
    async with _on(session, day(5), 15):
        await price_all(won.id, day(5), day(5) + timedelta(days=14), "0.2")
        await quotes.send(session, anna, won.id, today=day(5), margin_floor=floor)
    async with _on(session, day(2), 9):
        address = await session.scalar(
            select(Address.id).where(Address.company_id == northwind.id, Address.is_default.is_(True))
        )
        delivery = earliest(northwind, day(2), None)
        form = CheckoutForm(po_number="PO/Q/2041", delivery_date=delivery, address_id=address)
        await quotes.accept(session, nina, won.id, 1, form, today=day(2), grace_days=7, margin_floor=floor)

    # Anna's own offer, valid two more days: the worker reminds the buyers.
    async with _on(session, day(12), 13):
        own = await quotes.new_offer(session, anna, northwind.id, title="Kitchen hygiene, winter prices", today=day(12))
        for name in ("Dishwasher tablets", "Degreaser", "Descaler"):
            await quotes.add_line(session, anna, own.id, sku=product(name).sku, quantity=30, today=day(12))
        await price_all(own.id, day(12), today + timedelta(days=2), "0.22")
        await quotes.send(session, anna, own.id, today=day(12), margin_floor=floor)

    # Baltic Foods declined.
    async with _on(session, day(15), 11):
        lost = await quotes.request_quote(
            session,
            bartosz,
            [quotes.WantedLine(80, product("French fries").id), quotes.WantedLine(40, product("Fish fillets").id)],
            title="Frozen range for the summer terrace",
            today=day(15),
        )
    async with _on(session, day(14), 10):
        await price_all(lost.id, day(14), day(14) + timedelta(days=10), "0.18")
        await quotes.send(session, anna, lost.id, today=day(14), margin_floor=floor)
    async with _on(session, day(10), 12):
        reason = "A local supplier delivers daily at a lower price."
        await quotes.decline(session, bartosz, lost.id, 1, reason, today=day(10))


async def _crm(session: AsyncSession, companies: dict[str, Company], staff: dict[str, User], today: date) -> None:
    """The customer memory: contacts, activities, tasks, opportunities and prospects (`demo_crm`)."""
    from portal.demo_crm import load_crm

    await load_crm(session, companies, staff, today)


async def _report_history(
    session: AsyncSession, companies: dict[str, Company], staff: dict[str, User], products: list[Product], today: date
) -> None:
    """Three years of history for the reports, and more customers (`demo_reports`)."""
    from portal.demo_reports import load_report_history

    await load_report_history(session, companies, staff, products, today)


async def _erp_key(session: AsyncSession, admin: User, today: date, signing_key: str) -> str:
    """The demo ERP's API key, with every scope, made by the admin; its secret."""
    from portal.services import api_keys

    record = api_keys.KeyRecord(ERP_KEY_NAME, frozenset(api_keys.ALL_SCOPES), None)
    _, secret = await api_keys.create_key(session, admin, record, signing_key=signing_key, today=today)
    return secret


async def _recurring_delivery(session: AsyncSession, products: list[Product], company: Company, today: date) -> None:
    """Vistula Hotels' weekly linen: its next delivery is ordered by `portal worker --once` today."""
    from portal.models import Frequency
    from portal.services.schedules import ScheduleForm, create_schedule

    buyer = await session.scalar(select(User).where(User.company_id == company.id).order_by(User.id))
    address = await session.scalar(
        select(Address).where(Address.company_id == company.id, Address.is_default.is_(True))
    )
    assert buyer is not None and address is not None
    lines = [(product, product.pack_size * 4) for product in products if product.is_active][:3]
    form = ScheduleForm("Weekly linen and amenities", address.id, Frequency.WEEKLY, today + timedelta(days=2), 2)
    await create_schedule(session, buyer, form, lines, today)


def _catalog(session: AsyncSession, rng: random.Random) -> list[Product]:
    products: list[Product] = []
    for name, prefix, vat, items in CATEGORIES:
        category = ProductCategory(name=name)
        session.add(category)
        for item_number, item in enumerate(items):
            base = rng.uniform(2, 180)
            for variant_number, variant in enumerate(VARIANTS):
                list_price = _money(base * (1 + variant_number * 0.8), "0.01")
                product = Product(
                    sku=f"{prefix}-{item_number + 1:02d}{variant_number + 1}",
                    name=f"{item}, {variant}",
                    description=f"{item} ({variant} pack), for professional kitchens, offices and shops.",
                    category=category,
                    unit=UNITS_BY_CATEGORY[prefix],
                    pack_size=rng.choice([1, 1, 1, 6, 12, 24]),
                    list_price=list_price,
                    cost=_money(list_price * Decimal(str(rng.uniform(0.55, 0.8)))),
                    vat_rate=Decimal(vat).quantize(Decimal("0.01")),
                    is_active=rng.random() > 0.02,
                    stock=rng.choice([0, 3, 8, 40, 120, 500, 1200]),
                )
                products.append(product)
    session.add_all(products)
    return products


def _price_list_items(
    session: AsyncSession,
    rng: random.Random,
    products: list[Product],
    price_lists: dict[str, PriceList],
    today: date,
) -> None:
    plans = {
        "Wholesale": (0.6, Decimal("0.93")),
        "Horeca": (0.45, Decimal("0.95")),
        "Key accounts": (0.8, Decimal("0.88")),
    }
    for name, (share, factor) in plans.items():
        price_list = price_lists[name]
        for product in products:
            if rng.random() > share:
                continue
            base = product.list_price * factor
            window = rng.random()
            valid_from, valid_to = None, None
            if window < 0.1:
                valid_from, valid_to = today - timedelta(days=30), today + timedelta(days=rng.randint(20, 120))
            elif window < 0.15:
                valid_from, valid_to = today - timedelta(days=400), today - timedelta(days=10)  # expired
            elif window < 0.2:
                valid_from = today + timedelta(days=rng.randint(10, 60))  # announced for later
            for min_quantity, step in (
                (1, Decimal("1")),
                (product.pack_size * 10, Decimal("0.96")),
                (product.pack_size * 50, Decimal("0.92")),
            ):
                session.add(
                    PriceListItem(
                        price_list_id=price_list.id,
                        product_id=product.id,
                        unit_price=_money(base * step, "0.01"),
                        min_quantity=min_quantity,
                        valid_from=valid_from,
                        valid_to=valid_to,
                    )
                )


def _contract_prices(
    session: AsyncSession, rng: random.Random, products: list[Product], companies: dict[str, Company], today: date
) -> None:
    plan = {"Northwind Trading": 18, "Vistula Hotels": 12, "Baltic Foods": 6, "Silesia Build": 8}
    for name, count in plan.items():
        company = companies[name]
        for product in rng.sample([p for p in products if p.is_active], count):
            valid_to = None if rng.random() < 0.5 else today + timedelta(days=rng.randint(30, 200))
            session.add(
                ContractPrice(
                    company_id=company.id,
                    product_id=product.id,
                    unit_price=_money(product.list_price * Decimal("0.82"), "0.01"),
                    min_quantity=1,
                    valid_from=today - timedelta(days=rng.randint(30, 300)),
                    valid_to=valid_to,
                )
            )


def _invoices(session: AsyncSession, rng: random.Random, companies: dict[str, Company], today: date) -> None:
    """Paid history for everyone, some open invoices, and overdue ones where the story needs them."""
    overdue_days = {"Northwind Trading": [3], "Mazovia Office Supplies": [41, 12], "Carpathia Catering": [25]}
    sequence = 0
    for company in companies.values():
        terms = company.payment_terms_days

        def add(issue: date, gross: Decimal, paid: Decimal, company: Company = company, terms: int = terms) -> None:
            nonlocal sequence
            sequence += 1
            session.add(
                Invoice(
                    company_id=company.id,
                    number=f"FV/{issue.year}/{issue.month:02d}/{sequence:04d}",
                    issue_date=issue,
                    due_date=issue + timedelta(days=terms),
                    currency=company.currency,
                    gross_amount=gross,
                    paid_amount=paid,
                )
            )

        def amount(company: Company = company) -> Decimal:
            return _money(float(company.credit_limit) * rng.uniform(0.04, 0.14), "0.01")

        for months_back in range(6, 1, -1):
            gross = amount()
            add(today - timedelta(days=30 * months_back + terms), gross, gross)
        open_gross = amount()
        add(today - timedelta(days=max(terms - 5, 1)), open_gross, _money(open_gross * Decimal("0.4"), "0.01"))
        add(today - timedelta(days=2), amount(), Decimal("0.00"))
        for days in overdue_days.get(company.name, []):
            add(today - timedelta(days=terms + days), amount(), Decimal("0.00"))


ORDER_HISTORY = {
    # company: (past invoiced orders, approved not yet invoiced, waiting for approval)
    "Northwind Trading": (6, 1, 1),
    "Baltic Foods": (4, 0, 1),
    "Vistula Hotels": (3, 1, 0),
    "Carpathia Catering": (2, 0, 1),  # submitted before the account was put on hold
    "Mazovia Office Supplies": (2, 0, 1),
    "Pomerania Retail": (2, 0, 0),
    "Silesia Build": (2, 0, 0),
    "Warta Clinics": (1, 0, 0),
}


async def _orders(
    session: AsyncSession,
    rng: random.Random,
    products: list[Product],
    companies: dict[str, Company],
    today: date,
) -> None:
    """A buying history: the same products again and again, at the prices of their day
    (a little below today's), so reorders show what changed; a few orders wait for approval."""
    sold = [p for p in products if p.is_active]
    retired = next(p for p in products if not p.is_active)
    for name, (invoiced, approved, pending) in ORDER_HISTORY.items():
        company = companies[name]
        history = await _History.of(session, company)
        usual = rng.sample(sold, 6)
        count = invoiced + approved + pending
        for index in range(count):
            age_days = (count - index) * 25 + rng.randint(0, 6) if index < invoiced + approved else rng.randint(0, 2)
            submitted = datetime.combine(today - timedelta(days=age_days), time(9 + index % 6, 15), UTC)
            status = (
                OrderStatus.INVOICED
                if index < invoiced
                else OrderStatus.APPROVED
                if index < invoiced + approved
                else OrderStatus.PENDING_APPROVAL
            )
            chosen = rng.sample(usual, 3)
            if name == "Northwind Trading" and index == invoiced - 1:
                chosen.append(retired)
            lines = []
            for product in chosen:
                quantity = product.pack_size * rng.randint(1, 5)
                then = _money(product.list_price * Decimal(str(rng.choice([0.86, 0.9, 0.9, 0.95]))), "0.01")
                lines.append(_history_line(company, product, quantity, then))
            await history.order(lines, status, submitted, f"demo-{company.id}-{index}", index + 1)
    await session.flush()


@dataclass(frozen=True)
class _History:
    """Who a company's past orders came from and went to: its buyer, its account manager who
    approved them, and its default address."""

    session: AsyncSession
    company: Company
    buyer_id: int
    approver_id: int
    address_id: int
    street: str

    @classmethod
    async def of(cls, session: AsyncSession, company: Company) -> _History:
        buyer_id = await session.scalar(
            select(User.id).where(User.company_id == company.id, User.role == Role.BUYER).order_by(User.id)
        )
        address = (
            await session.execute(
                select(Address.id, Address.street).where(Address.company_id == company.id, Address.is_default)
            )
        ).one()
        assert buyer_id is not None and company.account_manager_id is not None
        return cls(session, company, buyer_id, company.account_manager_id, address.id, address.street)

    async def order(
        self,
        lines: list[OrderLine],
        status: OrderStatus,
        submitted: datetime,
        key: str,
        po_sequence: int,
        agreement: Agreement | None = None,
    ) -> Order:
        """An order of the history, made directly: submitted, then (unless it still waits)
        approved three hours later and counted from that day, exported, and invoiced the next day."""
        from portal.services.ordering import next_order_number

        wanted = [line.product_id for line in lines]
        rows = await self.session.execute(select(Product.id, Product.list_price).where(Product.id.in_(wanted)))
        list_prices = {product_id: price for product_id, price in rows}
        number = await next_order_number(self.session, submitted.year)
        order = self.draft(lines, status, submitted, key, po_sequence, number, list_prices, agreement)
        self.session.add(order)
        return order

    def draft(
        self,
        lines: list[OrderLine],
        status: OrderStatus,
        submitted: datetime,
        key: str,
        po_sequence: int,
        number: str,
        list_prices: dict[int, Decimal],
        agreement: Agreement | None = None,
    ) -> Order:
        """The order `order` makes, in memory, given its number and its products' list prices (by id)."""
        company = self.company
        order_totals = totals((line.line_net, line.vat_rate) for line in lines)
        events = [
            OrderEvent(
                company_id=company.id,
                at=submitted,
                actor_id=self.buyer_id,
                from_status=None,
                to_status=OrderStatus.PENDING_APPROVAL,
            )
        ]
        if status is not OrderStatus.PENDING_APPROVAL:
            events.append(
                OrderEvent(
                    company_id=company.id,
                    at=submitted + timedelta(hours=3),
                    actor_id=self.approver_id,
                    from_status=OrderStatus.PENDING_APPROVAL,
                    to_status=OrderStatus.APPROVED,
                )
            )
        if status is OrderStatus.INVOICED:
            events += [
                OrderEvent(
                    company_id=company.id,
                    at=submitted + timedelta(hours=5),
                    from_status=OrderStatus.APPROVED,
                    to_status=OrderStatus.EXPORTED,
                ),
                OrderEvent(
                    company_id=company.id,
                    at=submitted + timedelta(days=1),
                    from_status=OrderStatus.EXPORTED,
                    to_status=OrderStatus.INVOICED,
                ),
            ]
        return Order(
            company_id=company.id,
            number=number,
            status=status,
            source=OrderSource.PORTAL,
            buyer_id=self.buyer_id,
            idempotency_key=key,
            po_number=f"PO/{submitted:%y%m}/{po_sequence:03d}",
            requested_delivery_date=submitted.date() + timedelta(days=3),
            delivery_address_id=self.address_id,
            delivery_address=self.street,
            currency=company.currency,
            net_total=order_totals.net,
            vat_total=order_totals.vat,
            gross_total=order_totals.gross,
            cost_total=sum((line_net(line.unit_cost, line.quantity) for line in lines), Decimal("0.00")),
            list_total=sum((line_net(list_prices[line.product_id], line.quantity) for line in lines), Decimal("0.00")),
            payment_terms_days=company.payment_terms_days,
            agreement_id=None if agreement is None else agreement.id,
            skonto_pct=None if agreement is None else agreement.skonto_pct,
            skonto_days=None if agreement is None else agreement.skonto_days,
            submitted_at=submitted,
            counted_on=events[1].at.date() if len(events) > 1 else None,
            lines=lines,
            events=events,
        )


def _history_line(company: Company, product: Product, quantity: int, unit_price: Decimal) -> OrderLine:
    """An order line of the history, at `unit_price` (the price of its day)."""
    return OrderLine(
        company_id=company.id,
        product_id=product.id,
        sku=product.sku,
        name=product.name,
        unit=product.unit,
        quantity=quantity,
        unit_price=unit_price,
        price_source="list_less_discount",
        price_note="",
        unit_cost=product.cost,
        vat_rate=product.vat_rate,
        line_net=line_net(unit_price, quantity),
    )


AGREEMENT_TIERS = {
    # Warta Clinics, retrospective, all products: quarterly net turnover → rebate %.
    "Warta Clinics": [("15000", "1"), ("35000", "2"), ("70000", "3")],
    # Baltic Foods, prospective, frozen food only.
    "Baltic Foods": [("5000", "2"), ("12000", "4")],
}


async def _agreements(
    session: AsyncSession, products: list[Product], companies: dict[str, Company], today: date
) -> None:
    """Framework agreements, each telling one part of the story:

    - Warta Clinics, FA-…-001 from the start of the previous quarter: quarterly tiers on all products,
      paid back as a rebate after each quarter (retrospective), skonto 2 % within 7 days, prepayment
      −1 % or 60 days +1 % at checkout. The previous quarter reached 2 % and was closed by the
      worker's step (`agreements.close_due`) on the quarter's first day; this quarter's turnover grows
      with the days gone, short of the next tier.
    - Baltic Foods, FA-…-002 from this quarter: a tier on frozen food, already reached, lowers
      those prices for the rest of the quarter (prospective); the agreed assortment (the
      categories Baltic buys, and frozen food) leaves out one category, and an order waiting for
      approval has a line from it (a warning for the approver, not a blocker).
    - Pomerania Retail: last year's agreement, ended and not renewed, its year closed.

    The counted orders are made like the rest of the history, with their own random stream so
    the other companies' history stays as it was."""
    rng = random.Random(18)
    quarter = agreements.calendar_period(SettlementPeriod.QUARTER, today)
    previous = agreements.calendar_period(SettlementPeriod.QUARTER, quarter.starts_on - timedelta(days=1))
    so_far = Period(quarter.starts_on, max(quarter.starts_on, today - timedelta(days=1)))
    categories = {product.category.name: product.category_id for product in products}
    sold = [p for p in products if p.is_active and p.list_price * p.pack_size <= 900]  # a line's packs ≈ its value
    warta, baltic, pomerania = (companies[name] for name in ("Warta Clinics", "Baltic Foods", "Pomerania Retail"))

    def tiers(company: Company, applies_from: date, category: str | None = None) -> list[AgreementTier]:
        return [
            AgreementTier(
                company_id=company.id,
                applies_from=applies_from,
                category_id=None if category is None else categories[category],
                threshold=Decimal(threshold),
                rebate_pct=Decimal(pct),
            )
            for threshold, pct in AGREEMENT_TIERS[company.name]
        ]

    retrospective = Agreement(
        company_id=warta.id,
        number=f"FA-{previous.starts_on.year}-001",
        status=AgreementStatus.ACTIVE,
        valid_from=previous.starts_on,
        valid_to=date(previous.starts_on.year + 1, 12, 31),
        period=SettlementPeriod.QUARTER,
        tier_mode=TierMode.RETROSPECTIVE,
        special_terms="Quarterly volume rebate credited after each quarter. Deliveries to all clinics at one price.",
        skonto_pct=Decimal("2.00"),
        skonto_days=7,
        tiers=tiers(warta, previous.starts_on),
        payment_options=[
            PaymentOption(company_id=warta.id, days=0, price_effect_pct=Decimal("-1.00")),
            PaymentOption(company_id=warta.id, days=60, price_effect_pct=Decimal("1.00")),
        ],
    )
    prospective = Agreement(
        company_id=baltic.id,
        number=f"FA-{quarter.starts_on.year}-002",
        status=AgreementStatus.ACTIVE,
        valid_from=quarter.starts_on,
        valid_to=date(quarter.starts_on.year + 1, 12, 31),
        period=SettlementPeriod.QUARTER,
        tier_mode=TierMode.PROSPECTIVE,
        price_list_id=baltic.price_list_id,
        special_terms="Frozen range for the restaurants: lower prices for the rest of the quarter once a tier is reached.",
        tiers=tiers(baltic, quarter.starts_on, "Frozen food"),
    )
    ended = Agreement(
        company_id=pomerania.id,
        number=f"FA-{today.year - 1}-003",
        status=AgreementStatus.ENDED,
        valid_from=date(today.year - 1, 1, 1),
        valid_to=date(today.year - 1, 12, 31),
        period=SettlementPeriod.YEAR,
        tier_mode=TierMode.RETROSPECTIVE,
        special_terms="Not renewed: the stores now buy at the list price less their general discount.",
        tiers=[
            AgreementTier(
                company_id=pomerania.id,
                applies_from=date(today.year - 1, 1, 1),
                threshold=Decimal(threshold),
                rebate_pct=Decimal(pct),
            )
            for threshold, pct in (("150000", "1"), ("300000", "2"))
        ],
        ended_at=datetime.combine(date(today.year, 1, 1), time(8, 0), UTC),
    )
    for agreement in (ended, retrospective, prospective):
        async with _on(session, agreement.valid_from - timedelta(days=14), 11):
            session.add(agreement)

    # Warta Clinics: the previous quarter reached 2 %; this one grows with the days gone, short of 2 %.
    warta_history = await _History.of(session, warta)
    clinic_goods = [p for p in sold if p.category.name in ("Cleaning", "Paper & hygiene", "Protective wear")]
    usual = rng.sample(clinic_goods, 6)
    pace = Decimal(quarter.elapsed(today)) / Decimal(quarter.days)
    for window, target in (
        (previous, Decimal("38000")),
        (so_far, min(Decimal("27000"), Decimal("6000") + Decimal("36000") * pace)),
    ):
        await _counted_orders(session, rng, warta_history, retrospective, usual, window, target, today)

    # Baltic Foods: frozen food past its first tier early this quarter.
    baltic_history = await _History.of(session, baltic)
    frozen = [p for p in sold if p.category_id == categories["Frozen food"]]
    early = Period(so_far.starts_on, so_far.starts_on + timedelta(days=so_far.days // 3))
    await _counted_orders(
        session, rng, baltic_history, prospective, rng.sample(frozen, 4), early, Decimal("7000"), today
    )
    bought = set(
        await session.scalars(
            select(Product.category_id)
            .join(OrderLine, OrderLine.product_id == Product.id)
            .where(OrderLine.company_id == baltic.id)
            .distinct()
        )
    )
    agreed = sorted(bought | {categories["Frozen food"]})
    session.add_all(
        AssortmentItem(agreement_id=prospective.id, company_id=baltic.id, category_id=category_id)
        for category_id in agreed
    )
    outside = next(p for p in sold if p.category_id not in agreed)
    waiting = [
        _history_line(baltic, product, product.pack_size * 4, _money(product.list_price * Decimal("0.93"), "0.01"))
        for product in [*rng.sample(frozen, 2), outside]
    ]
    submitted = datetime.combine(today - timedelta(days=1), time(10, 40), UTC)
    await baltic_history.order(
        waiting, OrderStatus.PENDING_APPROVAL, submitted, "demo-agreement-waiting", 90, prospective
    )
    await session.flush()

    # The worker's passes: on the first day of this year and of this quarter, in the demo's transaction
    # (each close is a savepoint of it, on its connection, so the load stays all or nothing).
    closing = async_sessionmaker(
        bind=await session.connection(), join_transaction_mode="create_savepoint", expire_on_commit=False
    )
    for day in sorted({date(today.year, 1, 1), quarter.starts_on}):
        async with _on(session, day, 2):
            await agreements.close_due(closing, day)
    for agreement in (ended, retrospective, prospective):
        await session.refresh(agreement, ["closed_through"])


async def _counted_orders(
    session: AsyncSession,
    rng: random.Random,
    history: _History,
    agreement: Agreement,
    usual: list[Product],
    window: Period,
    target: Decimal,
    today: date,
) -> None:
    """Orders of three lines of about PLN 1,500 each, of the `usual` products, spread evenly over the
    window, until the company's counted turnover there in the agreement's scopes reaches `target`.
    Invoiced, but for those of the last two days (approved, not invoiced yet)."""
    scopes = {tier.category_id for tier in agreement.tiers}
    sales = await agreements.counted_sales(session, history.company.id, window)
    turnover = sum((sale.net for sale in sales if None in scopes or sale.category_id in scopes), Decimal("0.00"))
    baskets = []
    while turnover < target:
        basket = []
        for product in rng.sample(usual, 3):
            price = _money(product.list_price * Decimal(str(rng.choice([0.9, 0.93, 0.95]))), "0.01")
            packs = max(1, round(Decimal(rng.randint(1200, 1800)) / (price * product.pack_size)))
            basket.append(_history_line(history.company, product, packs * product.pack_size, price))
        turnover += sum((line.line_net for line in basket), Decimal("0.00"))
        baskets.append(basket)
    for index, basket in enumerate(baskets):
        day = window.starts_on + timedelta(days=(index + 1) * (window.days - 1) // (len(baskets) + 1))
        submitted = datetime.combine(day, time(8 + index % 5, 30), UTC)
        status = OrderStatus.INVOICED if day < today - timedelta(days=1) else OrderStatus.APPROVED
        key = f"demo-agreement-{agreement.id}-{window.starts_on:%Y%m}-{index}"
        await history.order(basket, status, submitted, key, 50 + index, agreement)
    await session.flush()


async def _flag_pending(session: AsyncSession, today: date) -> None:
    """The flags the waiting demo orders would have been given at checkout, kept as their history."""
    from sqlalchemy.orm import selectinload

    from portal.services.flags import FlagSubject, Policy, order_flags

    pending = list(
        await session.scalars(
            select(Order)
            .options(selectinload(Order.lines), selectinload(Order.flags))
            .where(Order.status == OrderStatus.PENDING_APPROVAL)
            .order_by(Order.id)
        )
    )
    now = await order_flags(session, [FlagSubject.of(order) for order in pending], Policy(today, 7, Decimal("10")))
    for order, flagged in zip(pending, now, strict=True):
        order.flags += [
            OrderFlag(company_id=order.company_id, kind=flag.kind, blocking=flag.blocking, data=flag.data)
            for flag in flagged.flags
        ]
    await session.flush()


async def _invoices_of_orders_and_payments(session: AsyncSession, today: date) -> None:
    """The paid history invoices bill the invoiced orders (linked by order number, for
    the same amount), and every amount paid is a payment the ERP reported."""
    invoices = list(await session.scalars(select(Invoice).order_by(Invoice.issue_date, Invoice.id)))
    orders = list(
        await session.scalars(
            select(Order).where(Order.status == OrderStatus.INVOICED).order_by(Order.submitted_at, Order.id)
        )
    )
    for company_id in {invoice.company_id for invoice in invoices}:
        paid = [i for i in invoices if i.company_id == company_id and i.paid_amount == i.gross_amount]
        for invoice, order in zip(paid, [o for o in orders if o.company_id == company_id], strict=False):
            invoice.order_number = order.number
            invoice.gross_amount = invoice.paid_amount = order.gross_total
    skonto_days = {order.number: order.skonto_days for order in orders if order.skonto_days}
    taken = 0
    for invoice in invoices:
        if invoice.paid_amount > 0:
            paid_on = max(min(invoice.due_date - timedelta(days=2), today), invoice.issue_date)
            if (days := skonto_days.get(invoice.order_number or "")) and (taken := taken + 1) % 2:
                paid_on = min(invoice.issue_date + timedelta(days=days - 2), today)  # the skonto taken
            session.add(
                Payment(
                    company_id=invoice.company_id,
                    invoice_id=invoice.id,
                    reference=f"DEMO/{invoice.number}",
                    paid_on=paid_on,
                    amount=invoice.paid_amount,
                )
            )
    await session.flush()


def _credit_history(session: AsyncSession, companies: dict[str, Company], staff: dict[str, User], today: date) -> None:
    from datetime import UTC, datetime, time

    finance = staff["finance@seller.example"]

    def at(days_ago: int) -> datetime:
        return datetime.combine(today - timedelta(days=days_ago), time(10, 30), UTC)

    northwind, mazovia, carpathia = (
        companies[name] for name in ("Northwind Trading", "Mazovia Office Supplies", "Carpathia Catering")
    )
    session.add_all(
        [
            CreditEvent(
                company_id=northwind.id,
                kind=CreditEventKind.LIMIT_CHANGED,
                old_limit=Decimal("50000.00"),
                new_limit=northwind.credit_limit,
                actor_id=finance.id,
                at=at(31),
                reason="Volume grew with the new Warsaw outlets; two years of payments on time.",
            ),
            CreditEvent(
                company_id=mazovia.id,
                kind=CreditEventKind.LIMIT_CHANGED,
                old_limit=Decimal("20000.00"),
                new_limit=mazovia.credit_limit,
                actor_id=finance.id,
                at=at(60),
                reason="Payments slipping past terms since the summer.",
            ),
            CreditEvent(
                company_id=carpathia.id,
                kind=CreditEventKind.HOLD,
                actor_id=finance.id,
                at=at(20),
                reason=carpathia.hold_reason or "",
            ),
        ]
    )
