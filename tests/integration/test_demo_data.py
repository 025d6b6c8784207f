"""Demo data: loaded once into an empty database, sized for a demo, and every
demo login lands on its role's home page."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from portal import demo, demo_reports
from portal.models import (
    ApiKey,
    Company,
    ContractPrice,
    Invoice,
    PriceList,
    PriceListItem,
    Product,
    ProductCategory,
    Prospect,
    User,
)
from portal.services import api_keys
from portal.services.credit import credit_pictures
from tests.factories import bearer, make_company, sign_in, text_of

TODAY = date(2026, 11, 27)


async def count(session: AsyncSession, model: type) -> int:
    return int(await session.scalar(select(func.count()).select_from(model)) or 0)


@pytest.fixture
async def demo_loaded(session: AsyncSession) -> AsyncSession:
    await demo.load_demo_data(session, TODAY)
    await session.commit()
    return session


async def test_demo_data_is_sized_for_a_demo(demo_loaded: AsyncSession) -> None:
    session = demo_loaded
    assert await count(session, Company) >= 6
    assert 280 <= await count(session, Product) <= 320
    assert await count(session, ProductCategory) == 10
    assert 2 <= await count(session, PriceList) <= 3
    assert await count(session, PriceListItem) > 300
    assert await count(session, ContractPrice) > 0
    vat_rates = set(await session.scalars(select(Product.vat_rate).distinct()))
    assert vat_rates == {Decimal("23.00"), Decimal("8.00"), Decimal("5.00")}
    terms = set(await session.scalars(select(Company.payment_terms_days).distinct()))
    assert {14, 30, 60} <= terms


async def test_demo_companies_tell_the_credit_stories(demo_loaded: AsyncSession) -> None:
    pictures = await credit_pictures(demo_loaded, today=TODAY, grace_days=7)
    assert [p.company.name for p in pictures if p.on_hold] == ["Carpathia Catering"]
    assert "Mazovia Office Supplies" in [p.company.name for p in pictures if p.past_due]
    northwind = next(p for p in pictures if p.company.name == "Northwind Trading")
    assert northwind.overdue_amount > 0 and not northwind.past_due  # 3 days overdue, within grace
    paid = await demo_loaded.scalar(
        select(func.count()).select_from(Invoice).where(Invoice.paid_amount == Invoice.gross_amount)
    )
    assert paid and paid > 20
    managers = {p.company.account_manager.email for p in pictures if p.company.account_manager}
    assert managers == {"manager@seller.example", "manager2@seller.example"}


async def test_demo_data_goes_only_into_an_empty_database(demo_loaded: AsyncSession) -> None:
    with pytest.raises(demo.DemoDataRefused):
        await demo.load_demo_data(demo_loaded, TODAY)
    buyers = sum(len(c.buyers) for c in demo.COMPANIES) + len(demo_reports.CUSTOMERS)
    assert await count(demo_loaded, User) == len(demo.STAFF) + buyers


async def test_demo_data_never_goes_over_real_data(session: AsyncSession) -> None:
    await make_company(session, name="A real customer")
    with pytest.raises(demo.DemoDataRefused):
        await demo.load_demo_data(session, TODAY)
    assert await count(session, Product) == 0


DEMO_HOMES = [
    ("buyer@northwind.example", "/dashboard", "Northwind Trading"),
    ("buyer2@northwind.example", "/dashboard", "Northwind Trading"),
    ("buyer@baltic.example", "/dashboard", "Baltic Foods"),
    ("manager@seller.example", "/manager", "My customers"),
    ("manager2@seller.example", "/manager", "My customers"),
    ("finance@seller.example", "/finance", "Credit overview"),
    ("admin@seller.example", "/admin", "Administration"),
]


@pytest.mark.parametrize(("email", "home", "heading"), DEMO_HOMES)
async def test_every_demo_login_lands_on_its_home(
    demo_loaded: AsyncSession, client: AsyncTestClient, email: str, home: str, heading: str
) -> None:
    response = await sign_in(client, email, demo.DEMO_PASSWORD)
    assert (response.status_code, response.headers["location"]) == (303, home)
    page = await client.get(home)
    assert page.status_code == 200
    assert f"<h1>{heading}</h1>" in page.text
    assert "Sign out" in text_of(page.text)


async def test_the_demo_shows_what_admins_keep(demo_loaded: AsyncSession) -> None:
    from portal.models import AccessToken, AuditEntry

    silesia = await demo_loaded.scalar(select(Company).where(Company.name == "Silesia Build"))
    assert silesia is not None and silesia.delivery_weekdays == "24" and silesia.min_order_value == Decimal("500.00")
    assert await demo_loaded.scalar(select(Company.auto_approve).where(Company.name == "Warta Clinics"))
    assert set(await demo_loaded.scalars(select(PriceList.code))) == {"WHOLESALE", "HORECA", "KEY"}
    assert await count(demo_loaded, AccessToken) == 1
    assert await count(demo_loaded, AuditEntry) >= 3


async def test_the_demo_erp_key_has_every_scope_and_works(session: AsyncSession, client: AsyncTestClient) -> None:
    secret = await demo.load_demo_data(session, TODAY)
    await session.commit()
    (key,) = (await session.scalars(select(ApiKey))).all()
    assert key.name == "ERP (demo)" and key.scope_set == set(api_keys.ALL_SCOPES)
    creator = await session.get(User, key.created_by_id)
    assert creator is not None and creator.email == "admin@seller.example"
    assert secret.startswith("pk_") and key.prefix == secret[:10] and secret not in key.secret_hash
    answer = await client.put("/api/v1/stock", json={"items": []}, headers=bearer(secret))
    assert answer.status_code == 422, answer.text


async def test_the_demo_shows_quotes_in_every_state(demo_loaded: AsyncSession) -> None:
    from sqlalchemy.orm import selectinload

    from portal.models import FlagKind, MessageStatus, Order, OrderStatus, OutboxMessage, Quote, QuoteStatus
    from portal.services import quote_views, quotes

    session = demo_loaded
    nina = await session.scalar(select(User).where(User.email == "buyer@northwind.example"))
    anna = await session.scalar(select(User).where(User.email == "manager@seller.example"))
    assert nina is not None and anna is not None
    listed = list(
        await session.scalars(select(Quote).options(selectinload(Quote.company)).order_by(Quote.created_at, Quote.id))
    )
    northwind = {q.status: q for q in listed if q.company_id == nina.company_id}
    assert set(northwind) == {QuoteStatus.SENT, QuoteStatus.REQUESTED, QuoteStatus.ACCEPTED}
    assert [q.company.name for q in listed if q.status is QuoteStatus.DECLINED] == ["Baltic Foods"]
    assert all(q.number.startswith(f"Q-{TODAY.year}-") or q.number.startswith(f"Q-{TODAY.year - 1}-") for q in listed)

    sent = [q for q in listed if q.company_id == nina.company_id and q.status is QuoteStatus.SENT]
    negotiated = next(q for q in sent if q.sent_version == 2)
    seen = await quotes.buyer_quote(session, nina, negotiated.id)
    changes = quote_views.changes_between(quotes.sent_of(seen, 1), quotes.sent_of(seen, 2))  # type: ignore[arg-type]
    assert {d.change for d in changes} == set(quote_views.Change)
    assert [e.to_status for e in await quote_views.timeline(session, negotiated.id)] == [
        QuoteStatus.REQUESTED,
        QuoteStatus.SENT,
        QuoteStatus.CHANGES_REQUESTED,
        QuoteStatus.SENT,
    ]
    buyers_thread = await quote_views.thread(session, negotiated.id, internal=False)
    staff_thread = await quote_views.thread(session, negotiated.id, internal=True)
    assert len(staff_thread) == len(buyers_thread) + 1 and not any(c.internal for c in buyers_thread)
    assert seen.valid_until is not None and seen.valid_until > TODAY

    expiring = next(q for q in sent if q.sent_version == 1)
    assert expiring.requested_by_id is None and expiring.valid_until is not None
    assert TODAY <= expiring.valid_until <= TODAY + timedelta(days=quotes.REMIND_DAYS)
    assert quotes.draft_of(await quotes.staff_quote(session, anna, northwind[QuoteStatus.REQUESTED].id, TODAY))

    order = await session.scalar(
        select(Order).options(selectinload(Order.flags)).where(Order.quote_id == northwind[QuoteStatus.ACCEPTED].id)
    )
    assert order is not None and order.quote_version == 1 and order.submitted_at.date() < TODAY
    # Northwind is over its credit limit: the quote's order waits for approval with that blocker shown.
    assert order.status is OrderStatus.PENDING_APPROVAL
    assert [flag.kind for flag in order.flags if flag.blocking] == [FlagKind.EXCEEDS_CREDIT]
    pending = await session.scalar(
        select(func.count())
        .select_from(OutboxMessage)
        .where(OutboxMessage.link.like("%/quotes/%"), OutboxMessage.status == MessageStatus.PENDING)
    )
    assert pending == 0  # the story's e-mails went out on their days


WARTA_TIERS = [
    (Decimal("15000.00"), Decimal("1.00")),
    (Decimal("35000.00"), Decimal("2.00")),
    (Decimal("70000.00"), Decimal("3.00")),
]
"""Warta Clinics' agreement FA-2026-001, written out here: quarterly net turnover → rebate %."""


async def counted_net(
    session: AsyncSession, company_id: int, first: date, last: date, category_id: int | None = None
) -> Decimal:
    """The company's counted net turnover from `first` to `last` (in one category when given),
    summed from the order lines of its approved, exported and invoiced orders."""
    from portal.models import Order, OrderLine, OrderStatus

    query = (
        select(func.sum(OrderLine.line_net))
        .join(Order, Order.id == OrderLine.order_id)
        .join(Product, Product.id == OrderLine.product_id)
        .where(
            Order.company_id == company_id,
            Order.status.in_([OrderStatus.APPROVED, OrderStatus.EXPORTED, OrderStatus.INVOICED]),
            Order.counted_on >= first,
            Order.counted_on <= last,
        )
    )
    if category_id is not None:
        query = query.where(Product.category_id == category_id)
    return await session.scalar(query) or Decimal("0.00")


async def test_the_closed_demo_quarter_carries_the_rebate_computed_by_hand(demo_loaded: AsyncSession) -> None:
    from decimal import ROUND_HALF_UP

    from sqlalchemy.orm import selectinload

    from portal.models import Agreement, AgreementStatus, SettlementClose, TierMode

    session = demo_loaded
    warta = await session.scalar(select(Company).where(Company.name == "Warta Clinics"))
    assert warta is not None
    agreement = await session.scalar(
        select(Agreement)
        .options(selectinload(Agreement.tiers), selectinload(Agreement.payment_options))
        .where(Agreement.company_id == warta.id, Agreement.status == AgreementStatus.ACTIVE)
    )
    assert agreement is not None and agreement.number == "FA-2026-001"
    assert agreement.tier_mode is TierMode.RETROSPECTIVE and agreement.closed_through == date(2026, 9, 30)
    assert [(t.category_id, t.threshold, t.rebate_pct) for t in agreement.tiers] == [(None, *t) for t in WARTA_TIERS]
    assert (agreement.skonto_pct, agreement.skonto_days) == (Decimal("2.00"), 7)
    assert [(o.days, o.price_effect_pct) for o in agreement.payment_options] == [
        (0, Decimal("-1.00")),
        (60, Decimal("1.00")),
    ]

    (close,) = (
        await session.scalars(
            select(SettlementClose)
            .options(selectinload(SettlementClose.lines))
            .where(SettlementClose.agreement_id == agreement.id)
        )
    ).all()
    assert (close.starts_on, close.ends_on) == (date(2026, 7, 1), date(2026, 9, 30))
    assert close.closed_at.date() == date(2026, 10, 1)  # the worker's pass on the quarter's first day
    turnover = await counted_net(session, warta.id, date(2026, 7, 1), date(2026, 9, 30))
    threshold, pct = max(tier for tier in WARTA_TIERS if turnover >= tier[0])
    expected = (turnover * pct / 100).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    assert pct == Decimal("2.00")  # the previous quarter reached the middle tier
    assert (close.turnover, close.rebate) == (turnover, expected)
    assert [(line.category_id, line.threshold, line.rebate_pct, line.amount) for line in close.lines] == [
        (None, threshold, pct, expected)
    ]


@pytest.mark.usefixtures("frozen_clock")  # the portal's day is the demo's: Friday 27 November 2026
async def test_a_demo_buyer_sees_the_progress_to_the_next_tier(
    demo_loaded: AsyncSession, client: AsyncTestClient
) -> None:
    from portal.i18n import format_money
    from portal.services import agreements

    session = demo_loaded
    warta = await session.scalar(select(Company).where(Company.name == "Warta Clinics"))
    assert warta is not None
    standing = await agreements.standing(session, warta.id, TODAY)
    assert standing is not None and standing.period == agreements.Period(date(2026, 10, 1), date(2026, 12, 31))
    (scope,) = standing.scopes
    turnover = await counted_net(session, warta.id, date(2026, 10, 1), TODAY)
    assert scope.turnover == turnover and WARTA_TIERS[0][0] <= turnover < WARTA_TIERS[1][0]
    assert scope.reached == agreements.Tier(*WARTA_TIERS[0])
    assert scope.next_tier() == agreements.Tier(*WARTA_TIERS[1])
    assert scope.remaining() == WARTA_TIERS[1][0] - turnover > 0

    def pln(amount: Decimal) -> str:
        return format_money(amount, "PLN").replace("\xa0", " ")  # as text_of reads it

    await sign_in(client, "buyer@warta.example", demo.DEMO_PASSWORD)
    page = text_of((await client.get("/dashboard")).text)
    goal = WARTA_TIERS[1][0]
    assert f"{pln(turnover)} of {pln(goal)} this quarter — {pln(goal - turnover)} more for 2 %" in page


async def test_the_demo_shows_a_prospective_tier_an_agreed_assortment_and_an_ended_agreement(
    demo_loaded: AsyncSession,
) -> None:
    from sqlalchemy.orm import selectinload

    from portal.models import Agreement, AgreementStatus, FlagKind, Order, OrderStatus, SettlementClose, TierMode
    from portal.services import agreements

    session = demo_loaded
    names = {company.name: company.id for company in await session.scalars(select(Company))}
    frozen = await session.scalar(select(ProductCategory.id).where(ProductCategory.name == "Frozen food"))
    assert frozen is not None

    standing = await agreements.standing(session, names["Baltic Foods"], TODAY)
    assert standing is not None and standing.agreement.tier_mode is TierMode.PROSPECTIVE
    discount = standing.tier_discount(frozen)
    assert discount is not None and discount.rebate_pct == Decimal("2.00")
    assert date(2026, 10, 1) <= discount.reached_on < TODAY
    frozen_turnover = await counted_net(session, names["Baltic Foods"], date(2026, 10, 1), TODAY, frozen)
    assert discount.threshold == Decimal("5000.00") <= frozen_turnover < Decimal("12000.00")  # 4 % from 12,000

    agreed = {item.category_id for item in standing.agreement.assortment}
    assert frozen in agreed and not standing.agreement.assortment_blocking
    waiting = list(
        await session.scalars(
            select(Order)
            .options(selectinload(Order.lines), selectinload(Order.flags))
            .where(Order.company_id == names["Baltic Foods"], Order.status == OrderStatus.PENDING_APPROVAL)
        )
    )
    categories = dict((await session.execute(select(Product.id, Product.category_id))).all())
    outside = [(o, line.sku) for o in waiting for line in o.lines if categories[line.product_id] not in agreed]
    assert len(outside) == 1  # one waiting order has one line outside the agreement: a warning, not a blocker
    ((order, sku),) = outside
    flagged = [f for f in order.flags if f.kind in (FlagKind.OUTSIDE_AGREEMENT, FlagKind.OUTSIDE_AGREEMENT_BLOCKING)]
    assert [(f.kind, f.blocking, f.data["sku"]) for f in flagged] == [(FlagKind.OUTSIDE_AGREEMENT, False, sku)]

    ended = (await session.scalars(select(Agreement).where(Agreement.company_id == names["Pomerania Retail"]))).one()
    assert ended.status is AgreementStatus.ENDED and ended.valid_to == date(2025, 12, 31)
    assert ended.closed_through == ended.valid_to
    assert await agreements.active_agreement(session, names["Pomerania Retail"], TODAY) is None
    closes = await session.scalars(select(SettlementClose.starts_on).where(SettlementClose.agreement_id == ended.id))
    assert list(closes) == [date(2025, 1, 1)]


async def test_every_demo_customer_has_its_people_and_what_was_said(demo_loaded: AsyncSession) -> None:
    from portal.models import Activity, Contact
    from portal.services import tax_ids

    session = demo_loaded
    everyone = list(await session.scalars(select(Company).order_by(Company.id)))
    companies = [c for c in everyone if c.name in {spec.name for spec in demo.COMPANIES}]  # the reports' have a buyer
    buyers = {user.id: user.company_id for user in await session.scalars(select(User).where(User.company_id > 0))}
    contacts = list(await session.scalars(select(Contact).where(Contact.company_id.is_not(None))))
    activities = list(await session.scalars(select(Activity).where(Activity.company_id.is_not(None))))
    for company in companies:
        people = [c for c in contacts if c.company_id == company.id]
        current = [c for c in people if not c.retired]
        assert 2 <= len(people) <= 4, company.name
        assert len([c for c in current if c.primary_purchasing]) == 1, company.name
        assert len([c for c in current if c.primary_payables]) == 1, company.name
        assert any(c.user_id is not None and buyers[c.user_id] == company.id for c in current), company.name
        logged = [a for a in activities if a.company_id == company.id]
        assert 3 <= len(logged) <= 8, company.name
        for activity in logged:
            assert TODAY - timedelta(days=183) <= activity.happened_at.date() < TODAY
            assert activity.author_id == company.account_manager_id and activity.summary and activity.outcome
            assert activity.contact_id in {c.id for c in people}
    assert [c.full_name for c in contacts if c.retired] == ["Jan Kowalczyk"]

    northwind = next(c for c in companies if c.name == "Northwind Trading")
    agreed = " ".join(a.outcome for a in activities if a.company_id == northwind.id)
    assert "Tuesday and Thursday" in agreed and "skonto 2 %" in agreed  # the delivery days and the 2027 terms
    company_tax_ids = {company.tax_id for company in everyone}
    for prospect in await session.scalars(select(Prospect)):
        assert tax_ids.is_valid(prospect.tax_id) and prospect.tax_id not in company_tax_ids


async def test_the_demo_managers_day_has_every_bucket_and_the_systems_tasks(demo_loaded: AsyncSession) -> None:
    from zoneinfo import ZoneInfo

    from portal.models import Order, Quote, Task, TaskEvent, TaskEventKind, TaskReason, TaskStatus
    from portal.services import task_generation

    session = demo_loaded
    anna = await session.scalar(select(User).where(User.email == "manager@seller.example"))
    assert anna is not None
    mine = list(await session.scalars(select(Task).where(Task.owner_id == anna.id, Task.reason.is_(None))))
    open_ = [t for t in mine if t.status is TaskStatus.OPEN]
    assert len([t for t in open_ if t.due_on < TODAY]) == 2
    due_today = [t for t in open_ if t.due_on == TODAY]
    assert len(due_today) == 3 and len([t for t in due_today if t.due_time is not None]) == 1
    assert len([t for t in open_ if TODAY < t.due_on <= TODAY + timedelta(days=7)]) == 4
    assert len([t for t in mine if t.status is TaskStatus.DONE]) >= 2
    assert len([t for t in mine if t.status is TaskStatus.CANCELLED]) == 1

    events = list(await session.scalars(select(TaskEvent).order_by(TaskEvent.id)))
    assert {e.task_id for e in events if e.kind is TaskEventKind.CREATED} >= {t.id for t in mine}
    (snoozed,) = [e for e in events if e.kind is TaskEventKind.SNOOZED]
    task = next(t for t in mine if t.id == snoozed.task_id)
    assert snoozed.from_due is not None and snoozed.from_due < TODAY < snoozed.to_due == task.due_on
    assert snoozed.note == "Marek is on holiday until next week." and task.status is TaskStatus.OPEN
    closed = {e.task_id: e.kind for e in events if e.kind in (TaskEventKind.DONE, TaskEventKind.CANCELLED)}
    assert all(closed[t.id].value == t.status.value for t in mine if t.status is not TaskStatus.OPEN)

    system = {t.reason: t for t in await session.scalars(select(Task).where(Task.reason.is_not(None)))}
    assert set(system) == {
        TaskReason.LATE_CUSTOMER,
        TaskReason.QUOTE_EXPIRING,
        TaskReason.CHANGES_REQUESTED,
        TaskReason.CREDIT_BLOCKED,
    }
    expiring = await session.get(Quote, system[TaskReason.QUOTE_EXPIRING].quote_id)
    assert expiring is not None and system[TaskReason.QUOTE_EXPIRING].origin_key == f"quote_expiring:{expiring.id}:v1"
    negotiated = await session.get(Quote, system[TaskReason.CHANGES_REQUESTED].quote_id)
    assert negotiated is not None and negotiated.sent_version == 2
    assert system[TaskReason.CHANGES_REQUESTED].origin_key == f"changes_requested:{negotiated.id}:v1"
    assert system[TaskReason.CHANGES_REQUESTED].status is TaskStatus.DONE  # version 2 went out
    blocked = await session.get(Order, system[TaskReason.CREDIT_BLOCKED].order_id)
    assert blocked is not None and system[TaskReason.CREDIT_BLOCKED].origin_key == f"credit_blocked:{blocked.id}"
    assert blocked.submitted_at.date() <= TODAY - timedelta(days=2)
    assert system[TaskReason.LATE_CUSTOMER].origin_key.startswith("late_customer:")
    # The worker's first pass on the demo's day finds every task it would make already made.
    due = await task_generation.due_tasks(session, TODAY, grace_days=7, zone=ZoneInfo("Europe/Warsaw"))
    made = set(await session.scalars(select(Task.origin_key).where(Task.origin_key.is_not(None))))
    assert due and {task.key for task in due} <= made


async def test_the_demo_pipeline_has_every_stage_and_a_prospect_to_convert(demo_loaded: AsyncSession) -> None:
    from portal.models import Opportunity, OpportunityMove, Order, Quote, QuoteStatus, Stage

    session = demo_loaded
    opportunities = list(await session.scalars(select(Opportunity).order_by(Opportunity.id)))
    moves = list(await session.scalars(select(OpportunityMove).order_by(OpportunityMove.at, OpportunityMove.id)))
    assert {o.stage for o in opportunities} == set(Stage)
    assert len({o.owner_id for o in opportunities}) == 2
    assert all(Decimal("5000") <= o.expected_value <= Decimal("250000") for o in opportunities)
    for opportunity in opportunities:
        path = [m for m in moves if m.opportunity_id == opportunity.id]
        assert path[0].from_stage is None and path[0].to_stage is Stage.LEAD
        assert [m.from_stage for m in path[1:]] == [m.to_stage for m in path[:-1]]
        assert path[-1].to_stage is opportunity.stage and path[-1].at == opportunity.stage_changed_at

    quote = await session.scalar(select(Quote).where(Quote.status == QuoteStatus.SENT, Quote.sent_version == 2))
    assert quote is not None and quote.opportunity_id is not None
    linked = next(o for o in opportunities if o.id == quote.opportunity_id)
    path = [m for m in moves if m.opportunity_id == linked.id]
    assert [m.to_stage for m in path] == [Stage.LEAD, Stage.QUALIFIED, Stage.OFFER, Stage.NEGOTIATION]
    assert [(m.actor_id is None, m.quote_id) for m in path[2:]] == [(True, quote.id), (True, quote.id)]

    won = [o for o in opportunities if o.stage is Stage.WON and o.order_id is not None]
    assert won
    for opportunity in won:
        order = await session.get(Order, opportunity.order_id)
        assert order is not None and order.company_id == opportunity.company_id
    lost = [o for o in opportunities if o.stage is Stage.LOST]
    assert len(lost) == 2 and all(o.lost_reason_id is not None and o.lost_note for o in lost)

    prospects = list(await session.scalars(select(Prospect).order_by(Prospect.id)))
    assert len(prospects) == 3 and all(p.company_id is None for p in prospects)
    stages = {o.prospect_id: o.stage for o in opportunities if o.prospect_id is not None}
    assert sorted(stages[p.id] for p in prospects) == sorted([Stage.WON, Stage.QUALIFIED, Stage.LEAD])
    (ready,) = [p for p in prospects if stages[p.id] is Stage.WON]
    assert ready.name == "Gastro-Podlasie sp. z o.o."


@pytest.mark.usefixtures("frozen_clock")
async def test_a_manager_taking_over_a_demo_customer_reads_it_on_one_page(
    demo_loaded: AsyncSession, client: AsyncTestClient
) -> None:
    """Northwind Trading is given to Piotr Nowak: its page tells him, from the top, what is due, who the
    people are, what was agreed, and what is open (orders waiting, quotes, opportunities)."""
    import re

    from portal.models import Activity, Contact, Opportunity, Order, OrderStatus, Quote, Role, Stage, Task, TaskStatus
    from portal.services import customers, tasks

    session = demo_loaded
    northwind = await session.scalar(select(Company).where(Company.name == "Northwind Trading"))
    admin = await session.scalar(select(User).where(User.role == Role.ADMIN))
    piotr = await session.scalar(select(User).where(User.email == "manager2@seller.example"))
    assert northwind is not None and admin is not None and piotr is not None
    assert northwind.account_manager_id != piotr.id
    await session.refresh(northwind, ["account_manager"])
    await customers.reassign(session, admin, northwind.id, piotr.id)
    await session.commit()

    await sign_in(client, piotr.email, demo.DEMO_PASSWORD)
    html = (await client.get(f"/customers/{northwind.id}")).text
    order = [html.index(f'id="{section}"') for section in ("due", "contacts", "agreed", "waiting-orders", "quotes")]
    order.append(html.index('id="opportunities"'))
    assert order == sorted(order), "due, contacts, what was agreed, then what is open"

    def section(name: str) -> str:
        start = html.index(f'id="{name}"')
        return text_of(html[start : html.index("</section>", start)])

    open_tasks = list(
        await session.scalars(
            select(Task).where(Task.company_id == northwind.id, Task.status == TaskStatus.OPEN).order_by(Task.id)
        )
    )
    assert open_tasks
    for task in open_tasks:
        await session.refresh(task, ["company", "prospect", "quote", "order"])
        assert tasks.title_of(task) in section("due")
    people = section("contacts")
    for contact in await session.scalars(
        select(Contact).where(Contact.company_id == northwind.id, Contact.retired.is_(False))
    ):
        assert contact.full_name in people
    assert "Primary for purchasing" in people and "Primary for accounts payable" in people
    agreed = section("agreed")
    latest = await session.scalar(
        select(Activity)
        .where(Activity.company_id == northwind.id, Activity.outcome != "")
        .order_by(Activity.happened_at.desc())
        .limit(1)
    )
    assert latest is not None and re.sub(r"\s+", " ", latest.outcome) in agreed
    assert "Payment in 30 days" in agreed
    waiting = section("waiting-orders")
    for number in await session.scalars(
        select(Order.number).where(Order.company_id == northwind.id, Order.status == OrderStatus.PENDING_APPROVAL)
    ):
        assert number in waiting
    open_quotes = section("quotes")
    for number in await session.scalars(
        select(Quote.number).where(
            Quote.company_id == northwind.id, Quote.status.in_(["requested", "draft", "sent", "changes_requested"])
        )
    ):
        assert number in open_quotes
    chances = section("opportunities")
    for title in await session.scalars(
        select(Opportunity.title).where(
            Opportunity.company_id == northwind.id, Opportunity.stage.not_in([Stage.WON, Stage.LOST])
        )
    ):
        assert title in chances


async def test_the_demo_reports_tell_years_of_history(demo_loaded: AsyncSession) -> None:
    """About three years of counted orders: the summary has months in at least 10 quarters, first
    orders in at least 6 quarters (the retention cohorts), customers lost and customers at risk, one
    that grows, one big but losing money once served, one that pays late."""
    from sqlalchemy import true

    from portal.services import reports, tax_ids
    from portal.services.report_summary import add_months

    session = demo_loaded
    names = {company.id: company.name for company in await session.scalars(select(Company))}
    assert len(names) == len(demo.COMPANIES) + len(demo_reports.CUSTOMERS) >= 18
    months = await reports.by_company_month(session, true(), date(2020, 1, 1), date(2026, 11, 1))
    bought = {
        names[c]: sorted(m for m, figures in by_month.items() if figures.orders) for c, by_month in months.items()
    }
    assert set(bought) == set(names.values())  # every customer bought

    def quarter(month: date) -> tuple[int, int]:
        return month.year, (month.month - 1) // 3

    assert len({quarter(month) for months_bought in bought.values() for month in months_bought}) >= 10
    assert min(min(months_bought) for months_bought in bought.values()) <= date(2023, 12, 1)
    assert len({quarter(months_bought[0]) for months_bought in bought.values()}) >= 6  # cohorts

    def active(name: str, first: date, last: date) -> int:
        return len([month for month in bought[name] if first <= month <= last])

    now = date(2026, 11, 1)
    lost = [name for name in bought if active(name, add_months(now, -11), now) == 0]
    at_risk = [
        name
        for name in bought
        if active(name, add_months(now, -2), now) == 0 and active(name, add_months(now, -14), add_months(now, -3)) >= 6
    ]
    assert sorted(lost) == ["Lublin Print House", "Masuria Resorts"]
    assert sorted(at_risk) == ["Bieszczady Lodges", "Kashubia Cafés"]

    period = reports.Period.default(TODAY)
    settings = await reports.settings(session)
    year = {names[c]: figures for c, figures in (await reports.by_company(session, true(), period)).items()}
    before = {names[c]: figures for c, figures in (await reports.by_company(session, true(), period.previous)).items()}
    assert year["Warmia Bakeries"].net > 2 * before["Warmia Bakeries"].net  # grows
    assert "Opole Fitness Clubs" not in before  # won this year
    big = year["Kujawy Food Service"]
    assert big.net >= sorted(figures.net for figures in year.values())[-5]  # among the five biggest
    assert big.orders == max(figures.orders for figures in year.values()) and big.small_orders > big.orders / 2
    assert big.margin_pct is not None and big.margin_pct < 10 and big.net_margin(settings) < 0
    assert all(figures.net_margin(settings) > 0 for name, figures in year.items() if name != "Kujawy Food Service")
    history = await reports.by_company(session, true(), reports.Period(date(2023, 1, 1), now))
    days_late = {names[c]: figures.days_late for c, figures in history.items()}
    assert (days_late["Carpathia Catering"] or 0) > 10
    assert [name for name, days in days_late.items() if days is not None and days > 10] == ["Carpathia Catering"]

    tax = [company.tax_id for company in await session.scalars(select(Company))]
    assert len(set(tax)) == len(tax) and all(tax_ids.is_valid(tax_id) for tax_id in tax)


async def test_northwinds_growth_suggestions_come_from_the_wholesalers_in_its_trade(demo_loaded: AsyncSession) -> None:
    """Three wholesalers buy the six products Northwind Trading bought most of and, besides, one
    product each of cleaning and dairy (which Northwind never buys), beverages, dry goods and paper:
    they are the customers most like Northwind, and its page suggests the two categories and the
    five products, each bought regularly by the three (and by other similar customers at times)."""
    from collections import defaultdict

    from portal.models import Order, OrderLine, ReportCategoryMix
    from portal.services import growth

    session = demo_loaded
    ids = {company.name: company.id for company in await session.scalars(select(Company))}
    northwind = ids["Northwind Trading"]
    wholesalers = {ids[spec.name] for spec in demo_reports.CUSTOMERS if spec.buying.like == "Northwind Trading"}
    assert len(wholesalers) == 3
    mixes: dict[int, dict[int, Decimal]] = defaultdict(dict)
    for mix in await session.scalars(select(ReportCategoryMix)):
        mixes[mix.company_id][mix.category_id] = mix.net
    similar = growth.most_similar(northwind, mixes)
    assert set(similar[:3]) == wholesalers and growth.cosine(mixes[northwind], mixes[similar[2]]) > 0.9

    found = await growth.suggestions(session, northwind, TODAY)
    assert found.similar == len(similar) == 8
    assert [(s.name, s.buyers) for s in found.categories] == [("Cleaning", 6), ("Dairy", 6), ("Frozen food", 2)]
    assert [(s.name, s.category, s.buyers) for s in found.products] == [
        ("Cola, small", "Beverages", 4),
        ("Cottage cheese, medium", "Dairy", 3),
        ("Disinfectant, large", "Cleaning", 3),
        ("Hand towels Z-fold, medium", "Paper & hygiene", 3),
        ("Sea salt, medium", "Dry goods", 3),
        ("Bleach, small", "Cleaning", 2),
        ("Butter, medium", "Dairy", 2),
        ("Rolled oats, small", "Dry goods", 2),
    ]
    bought: dict[int, set[int]] = defaultdict(set)
    for company_id, product_id in await session.execute(
        select(Order.company_id, OrderLine.product_id).join(OrderLine, OrderLine.order_id == Order.id).distinct()
    ):
        bought[company_id].add(product_id)
    besides = set.intersection(*(bought[company_id] for company_id in wholesalers)) - bought[northwind]
    assert len(besides) == 5 and besides <= {s.id for s in found.products if s.buyers >= 3}
