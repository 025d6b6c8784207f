"""A company's delivery terms: the earliest delivery date after the cut-off, the delivery weekdays,
the fee under the free-delivery threshold, the minimum order value; and what checkout, the worker's
pass and the approval path do with them (and with auto-approval, the company's margin floor, an
inactive company's schedules and retired addresses)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from portal.errors import Refused
from portal.models import (
    Address,
    Company,
    FlagKind,
    NotificationKind,
    Order,
    OrderEvent,
    OrderFlag,
    OrderStatus,
    OutboxMessage,
    ProductCategory,
    Role,
    ScheduleOccurrence,
)
from portal.services import delivery, schedules
from portal.services.cart import add_to_cart, buyer_cart, priced_cart
from portal.services.ordering import BelowMinimum, CheckoutForm, CheckoutInvalid, company_addresses, submit_order
from portal.services.recurring import run_pass
from portal.services.schedules import ScheduleError, ScheduleForm
from portal.web.formatting import event_reason, flag_text, moved_from
from tests.factories import make_company, make_invoice, make_product, make_schedule, make_user

D = date.fromisoformat
WARSAW = ZoneInfo("Europe/Warsaw")
TODAY = D("2026-11-27")  # a Friday


def terms(**fields: object) -> Company:
    """A company that is only its delivery terms (nothing is saved)."""
    values: dict[str, object] = {
        "delivery_weekdays": "12345",
        "order_cutoff": None,
        "min_order_value": Decimal("0.00"),
        "delivery_fee": Decimal("0.00"),
        "free_delivery_from": None,
        "currency": "PLN",
    }
    values.update(fields)
    return Company(**values)


def warsaw(moment: str) -> datetime:
    """A moment of the seller's clock, as the UTC time the portal keeps."""
    return datetime.fromisoformat(moment).replace(tzinfo=WARSAW).astimezone(UTC)


# --- the earliest delivery date ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("weekdays", "cutoff", "now", "earliest"),
    [
        ("12345", None, "2026-11-26 09:00", "2026-11-27"),  # Thursday: Friday
        ("12345", None, "2026-11-27 23:59", "2026-11-30"),  # no cut-off: Friday night still orders for Monday
        ("12345", None, "2026-11-28 10:00", "2026-11-30"),  # Saturday: Monday
        ("12345", None, "2026-11-29 10:00", "2026-11-30"),  # Sunday: Monday
        ("12345", "12:00", "2026-11-26 11:59", "2026-11-27"),  # before the cut-off: the next day
        ("12345", "12:00", "2026-11-26 12:00", "2026-11-30"),  # exactly at the cut-off counts as after it
        ("12345", "12:00", "2026-11-27 11:00", "2026-11-30"),  # Friday before the cut-off: Monday
        ("12345", "12:00", "2026-11-27 14:00", "2026-12-01"),  # Friday after the cut-off: Tuesday
        ("6", None, "2026-11-27 09:00", "2026-11-30"),  # Saturdays only: not a working day, so any working day
        ("67", None, "2026-11-28 09:00", "2026-11-30"),
        ("6", "12:00", "2026-11-27 13:00", "2026-12-01"),  # after Friday's cut-off: taken Monday
        ("12345", "12:00", "2026-12-05 13:00", "2026-12-08"),  # Saturday after the cut-off: taken Monday
        ("12345", "12:00", "2026-12-23 13:00", "2026-12-29"),  # 24–27 December off: taken Monday, then Tuesday
        ("12345", None, "2026-12-23 13:00", "2026-12-28"),  # no cut-off: taken Wednesday, delivered Monday
        ("5", None, "2026-12-21 09:00", "2027-01-08"),  # Fridays only: Christmas Day and New Year's Day are off
        ("1", "12:00", "2027-03-26 13:00", "2027-04-05"),  # Mondays only: Easter Monday is off
        ("135", None, "2026-11-30 09:00", "2026-12-02"),  # Monday, Wednesday, Friday
    ],
)
def test_the_earliest_delivery_is_the_next_delivery_weekday_after_the_order_day(
    weekdays: str, cutoff: str | None, now: str, earliest: str
) -> None:
    company = terms(delivery_weekdays=weekdays, order_cutoff=time.fromisoformat(cutoff) if cutoff else None)
    assert delivery.earliest_delivery(company, warsaw(now), WARSAW) == D(earliest)


def test_the_cutoff_is_read_on_the_sellers_clock_not_utc() -> None:
    company = terms(order_cutoff=time(12, 0))
    at_11_30_utc = datetime(2026, 11, 26, 11, 30, tzinfo=UTC)  # 12:30 in Warsaw: after the cut-off
    assert delivery.earliest_delivery(company, at_11_30_utc, WARSAW) == D("2026-11-30")
    assert delivery.earliest_delivery(company, at_11_30_utc, UTC) == D("2026-11-27")


def test_delivery_weekdays_and_where_a_date_moves() -> None:
    company = terms(delivery_weekdays="245")
    assert [delivery.is_delivery_day(company, D(f"2026-11-{day}")) for day in range(23, 30)] == [
        False,  # Monday
        True,
        False,
        True,
        True,
        False,
        False,  # Sunday
    ]
    assert delivery.delivery_day_from(company, D("2026-11-24")) == D("2026-11-24")  # a delivery day stays
    assert delivery.delivery_day_from(company, D("2026-11-29")) == D("2026-12-01")  # Sunday → Tuesday
    assert delivery.delivery_day_from(terms(), date.max) == date.max  # the calendar's end: nowhere to move


# --- the fee and the minimum -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fee", "free_from", "net", "charged", "missing"),
    [
        ("25.00", "500.00", "499.99", "25.00", "0.01"),
        ("25.00", "500.00", "500.00", "0.00", "0.00"),
        ("25.00", None, "10000.00", "25.00", "0.00"),  # no threshold: always
        ("0.00", "500.00", "100.00", "0.00", "0.00"),  # no fee: never
    ],
)
def test_the_fee_applies_under_the_free_delivery_threshold(
    fee: str, free_from: str | None, net: str, charged: str, missing: str
) -> None:
    company = terms(delivery_fee=Decimal(fee), free_delivery_from=Decimal(free_from) if free_from else None)
    assert delivery.delivery_fee(company, Decimal(net)) == Decimal(charged)
    assert delivery.free_delivery_missing(company, Decimal(net)) == Decimal(missing)


@pytest.mark.parametrize(
    ("minimum", "net", "missing"),
    [("300.00", "250.00", "50.00"), ("300.00", "300.00", "0.00"), ("0.00", "1.00", "0.00")],
)
def test_the_shortfall_is_what_is_missing_to_the_minimum(minimum: str, net: str, missing: str) -> None:
    assert delivery.shortfall(terms(min_order_value=Decimal(minimum)), Decimal(net)) == Decimal(missing)


def test_the_allowed_weekdays_and_a_moved_date_are_said_in_words() -> None:
    assert delivery.weekday_names(terms(delivery_weekdays="135")) == "Mon, Wed, Fri"
    assert moved_from(D("2026-12-06")) == "moved from Sun 6 Dec"


# --- checkout ----------------------------------------------------------------------------------


async def checkout_setup(session: AsyncSession, **company_fields: object):  # type: ignore[no-untyped-def]
    manager = await make_user(session, Role.ACCOUNT_MANAGER)
    company = await make_company(
        session, **{"credit_limit": Decimal("10000.00"), "account_manager_id": manager.id, **company_fields}
    )
    address = Address(company_id=company.id, label="HQ", street="ul. Prosta 1", postal_code="00-001", city="Warszawa")
    session.add(address)
    buyer = await make_user(session, company_id=company.id)
    await session.flush()
    return company, address, buyer


async def submit(session: AsyncSession, buyer, company, address, now: time | None = None, **fields: str):  # type: ignore[no-untyped-def]
    values = {"po_number": "", "delivery_date": "2026-11-30", "address_id": str(address.id), "note": ""}
    values.update(fields)
    form = CheckoutForm(key=(await buyer_cart(session, buyer)).checkout_key, **values)  # type: ignore[arg-type]
    return await submit_order(
        session, buyer, company, form, today=TODAY, grace_days=7, margin_floor=Decimal("10"), now=now
    )


async def test_checkout_refuses_a_date_that_is_not_a_delivery_weekday(session: AsyncSession) -> None:
    company, address, buyer = await checkout_setup(session, delivery_weekdays="24")
    await add_to_cart(session, buyer, (await make_product(session)).id, 1)
    with pytest.raises(CheckoutInvalid) as refused:
        await submit(session, buyer, company, address, delivery_date="2026-12-02")  # a Wednesday
    assert refused.value.errors == {"delivery_date": "We deliver to you on Tue, Thu only; choose one of those days."}
    order = (await submit(session, buyer, company, address, delivery_date="2026-12-01")).order
    assert order.requested_delivery_date == D("2026-12-01")


async def test_checkout_after_the_cutoff_refuses_the_next_day(session: AsyncSession) -> None:
    company, address, buyer = await checkout_setup(session, order_cutoff=time(12, 0))
    await add_to_cart(session, buyer, (await make_product(session)).id, 1)
    with pytest.raises(CheckoutInvalid) as refused:  # Friday 14:00: Monday is too early now
        await submit(session, buyer, company, address, now=time(14, 0), delivery_date="2026-11-30")
    assert refused.value.errors == {"delivery_date": "The earliest delivery date is 1 Dec 2026."}
    assert (await submit(session, buyer, company, address, now=time(11, 0))).order.requested_delivery_date == D(
        "2026-11-30"
    )


async def test_the_fee_is_a_line_of_the_order_taxed_with_the_other_lines_of_its_rate(session: AsyncSession) -> None:
    company, address, buyer = await checkout_setup(
        session, delivery_fee=Decimal("25.00"), free_delivery_from=Decimal("500.00")
    )
    paper = await make_product(session, list_price=Decimal("100.0033"), vat_rate=Decimal("23.00"))
    milk = await make_product(session, list_price=Decimal("10.0000"), cost=Decimal("4.0000"), vat_rate=Decimal("5.00"))
    await add_to_cart(session, buyer, paper.id, 3)  # 300.01 at 23 %
    await add_to_cart(session, buyer, milk.id, 10)  # 100.00 at 5 %

    priced = await priced_cart(session, buyer, company, today=TODAY, grace_days=7)
    assert (priced.delivery_fee, priced.free_delivery_missing, priced.shortfall) == (
        Decimal("25.00"),
        Decimal("99.99"),
        Decimal("0.00"),
    )
    # 23 %: (300.01 + 25.00) × 0.23 = 74.7523 → 74.75, rounded once per rate; 5 %: 5.00
    assert [(line.rate, line.net, line.vat) for line in priced.totals.by_rate] == [
        (Decimal("23"), Decimal("325.01"), Decimal("74.75")),
        (Decimal("5"), Decimal("100.00"), Decimal("5.00")),
    ]
    assert priced.credit.gross == priced.totals.gross == Decimal("504.76")  # the credit box counts the fee

    order = (await submit(session, buyer, company, address)).order
    assert (order.delivery_fee, order.delivery_fee_vat_rate) == (Decimal("25.00"), Decimal("23"))
    assert (order.net_total, order.vat_total, order.gross_total) == (
        Decimal("425.01"),
        Decimal("79.75"),
        Decimal("504.76"),
    )
    assert order.cost_total == Decimal("58.00")  # the fee has no cost


async def test_the_fee_is_left_out_from_the_free_delivery_threshold_on(session: AsyncSession) -> None:
    company, address, buyer = await checkout_setup(
        session, delivery_fee=Decimal("25.00"), free_delivery_from=Decimal("500.00")
    )
    await add_to_cart(session, buyer, (await make_product(session, list_price=Decimal("500.0000"))).id, 1)
    order = (await submit(session, buyer, company, address)).order
    assert (order.delivery_fee, order.net_total) == (Decimal("0.00"), Decimal("500.00"))


async def test_an_order_under_the_minimum_is_refused_with_what_is_missing(session: AsyncSession) -> None:
    company, address, buyer = await checkout_setup(session, min_order_value=Decimal("300.00"))
    await add_to_cart(session, buyer, (await make_product(session, list_price=Decimal("10.0000"))).id, 25)
    with pytest.raises(BelowMinimum) as refused:
        await submit(session, buyer, company, address)
    assert refused.value.errors == {
        "minimum": "Your minimum order is PLN\u00a0300.00 (net); add PLN\u00a050.00 more to submit this order."
    }
    assert await session.scalar(select(Order.id)) is None


async def test_retired_addresses_are_not_offered_and_are_refused(session: AsyncSession) -> None:
    company, address, buyer = await checkout_setup(session)
    old = Address(company_id=company.id, label="Old", street="x", postal_code="00-002", city="Łódź", retired=True)
    session.add(old)
    await session.flush()
    await add_to_cart(session, buyer, (await make_product(session)).id, 1)
    assert [a.id for a in await company_addresses(session, company.id)] == [address.id]
    with pytest.raises(CheckoutInvalid) as refused:
        await submit(session, buyer, company, old)
    assert set(refused.value.errors) == {"address_id"}


# --- auto-approval and the company's margin floor ----------------------------------------------


async def with_history(session: AsyncSession, company: Company, address: Address, buyer) -> None:  # type: ignore[no-untyped-def]
    """One approved order before, so the next one is not the company's first (which is a flag)."""
    await add_to_cart(session, buyer, (await make_product(session)).id, 1)
    (await submit(session, buyer, company, address)).order.status = OrderStatus.APPROVED
    await session.flush()


async def test_an_order_without_flags_of_an_auto_approving_company_is_approved_at_submission(
    session: AsyncSession,
) -> None:
    company, address, buyer = await checkout_setup(session, auto_approve=True)
    await with_history(session, company, address, buyer)
    await add_to_cart(session, buyer, (await make_product(session)).id, 2)
    order = (await submit(session, buyer, company, address)).order
    assert order.status is OrderStatus.APPROVED
    events = list(await session.scalars(select(OrderEvent).where(OrderEvent.order_id == order.id)))
    approved = events[-1]
    assert (approved.to_status, approved.actor_id, approved.reason) == (OrderStatus.APPROVED, None, "auto_approved")
    assert event_reason(approved) == "Approved automatically: no flags"
    told = await session.scalar(
        select(OutboxMessage).where(
            OutboxMessage.kind == NotificationKind.ORDER_DECIDED, OutboxMessage.user_id == buyer.id
        )
    )
    assert told is not None and f"Order {order.number} was approved" in told.subject


async def test_a_flagged_order_or_a_company_without_auto_approval_waits(session: AsyncSession) -> None:
    company, address, buyer = await checkout_setup(session, auto_approve=True)
    await add_to_cart(session, buyer, (await make_product(session)).id, 1)
    first = (await submit(session, buyer, company, address)).order  # the first order is a flag
    assert first.status is OrderStatus.PENDING_APPROVAL

    plain, plain_address, plain_buyer = await checkout_setup(session)
    await with_history(session, plain, plain_address, plain_buyer)
    await add_to_cart(session, plain_buyer, (await make_product(session)).id, 1)
    assert (await submit(session, plain_buyer, plain, plain_address)).order.status is OrderStatus.PENDING_APPROVAL


async def test_auto_approval_rechecks_credit_like_any_approval(session: AsyncSession) -> None:
    company, address, buyer = await checkout_setup(session, auto_approve=True, credit_limit=Decimal("100.00"))
    await with_history(session, company, address, buyer)
    await make_invoice(session, company, gross="95.00", due=TODAY)
    await add_to_cart(session, buyer, (await make_product(session)).id, 1)
    order = (await submit(session, buyer, company, address)).order
    assert order.status is OrderStatus.PENDING_APPROVAL
    assert FlagKind.EXCEEDS_CREDIT in {flag.kind for flag in order.flags}


async def test_the_companys_margin_floor_replaces_the_category_and_the_global_one(session: AsyncSession) -> None:
    company, address, buyer = await checkout_setup(session, margin_floor_pct=Decimal("5.00"))
    strict = ProductCategory(name="Strict", margin_floor_pct=Decimal("50.00"))
    product = await make_product(session, category=strict, list_price=Decimal("10.0000"), cost=Decimal("8.0000"))
    await add_to_cart(session, buyer, product.id, 1)  # margin 20 %: under 50 % and the global 10 %, over 5 %
    order = (await submit(session, buyer, company, address)).order
    assert FlagKind.BELOW_MARGIN_FLOOR not in {flag.kind for flag in order.flags}

    company.margin_floor_pct = Decimal("30.00")  # stricter than the category's would be, too
    await add_to_cart(session, buyer, product.id, 1)
    order = (await submit(session, buyer, company, address)).order
    floors = [flag.data for flag in order.flags if flag.kind is FlagKind.BELOW_MARGIN_FLOOR]
    assert floors == [{"sku": product.sku, "margin_pct": "20.0", "floor_pct": "30.00"}]


# --- recurring deliveries ----------------------------------------------------------------------


async def recurring_setup(session: AsyncSession, **company_fields: object):  # type: ignore[no-untyped-def]
    manager = await make_user(session, Role.ACCOUNT_MANAGER)
    company = await make_company(session, account_manager_id=manager.id, **company_fields)
    buyer = await make_user(session, company_id=company.id)
    towels = await make_product(session, list_price=Decimal("10.0000"))
    plan = await make_schedule(session, company, [(towels, 5)], created_by=buyer, first=D("2026-12-06"))  # Sundays
    await session.commit()
    return company, buyer, plan


async def generated(session: AsyncSession) -> list[Order]:
    query = select(Order).order_by(Order.id).execution_options(populate_existing=True)
    return list(await session.scalars(query))


async def test_a_recurring_date_off_the_delivery_weekdays_moves_and_the_order_carries_the_fee(
    session: AsyncSession, engine: AsyncEngine
) -> None:
    company, buyer, plan = await recurring_setup(
        session, delivery_fee=Decimal("20.00"), min_order_value=Decimal("80.00")
    )
    view = await schedules.schedule_view(session, buyer, plan.id)
    assert view.upcoming[:2] == [
        schedules.Delivery(D("2026-12-06"), D("2026-12-07")),  # Sunday → Monday
        schedules.Delivery(D("2026-12-13"), D("2026-12-14")),
    ]
    maker = async_sessionmaker(engine, expire_on_commit=False)
    assert (await run_pass(maker, D("2026-12-04"))).generated == 0  # the lead time counts back from Monday
    assert (await run_pass(maker, D("2026-12-05"))).generated == 1
    (order,) = await generated(session)
    assert order.requested_delivery_date == D("2026-12-07")
    assert (order.delivery_fee, order.net_total) == (Decimal("20.00"), Decimal("70.00"))  # 50.00 + the fee
    flags = list(await session.scalars(select(OrderFlag).where(OrderFlag.order_id == order.id)))
    minimum = next(flag for flag in flags if flag.kind is FlagKind.BELOW_MINIMUM)
    assert (minimum.blocking, minimum.data) == (False, {"minimum": "80.00", "missing": "30.00"})
    assert flag_text(minimum, "PLN") == "Under the minimum order value of PLN\u00a080.00: PLN\u00a030.00 missing."
    occurrence = await session.scalar(select(ScheduleOccurrence))
    assert occurrence is not None and occurrence.delivery_date == D("2026-12-06")  # the key stays the schedule's date


async def test_an_inactive_companys_schedules_are_passed_over_silently(
    session: AsyncSession, engine: AsyncEngine
) -> None:
    company, buyer, plan = await recurring_setup(session, is_active=False)
    maker = async_sessionmaker(engine, expire_on_commit=False)
    report = await run_pass(maker, D("2026-12-04"))
    assert (report.generated, report.missed, report.skipped) == (0, 0, 0)
    assert await generated(session) == []
    assert await session.scalar(select(ScheduleOccurrence)) is None
    assert await session.scalar(select(OutboxMessage.id)) is None


async def test_a_recurring_order_without_flags_of_an_auto_approving_company_is_approved(
    session: AsyncSession, engine: AsyncEngine
) -> None:
    company, buyer, plan = await recurring_setup(session, auto_approve=True, delivery_weekdays="1234567")
    maker = async_sessionmaker(engine, expire_on_commit=False)
    await run_pass(maker, D("2026-12-05"))  # the first order is flagged: it waits
    (first,) = await generated(session)
    assert first.status is OrderStatus.PENDING_APPROVAL
    first.status = OrderStatus.APPROVED
    await session.commit()
    await run_pass(maker, D("2026-12-12"))
    second = (await generated(session))[-1]
    assert (second.requested_delivery_date, second.status) == (D("2026-12-14"), OrderStatus.APPROVED)
    event = await session.scalar(
        select(OrderEvent).where(OrderEvent.order_id == second.id).order_by(OrderEvent.id.desc())
    )
    assert event is not None and (event.actor_id, event.reason) == (None, "auto_approved")


async def test_schedules_refuse_a_retired_address_but_keep_the_one_they_have(session: AsyncSession) -> None:
    company, buyer, plan = await recurring_setup(session)
    retired = Address(company_id=company.id, label="Old", street="x", postal_code="00-002", city="Łódź", retired=True)
    session.add(retired)
    await session.flush()
    form = ScheduleForm("Weekly linen", retired.id, plan.frequency, D("2026-12-13"), 2)
    with pytest.raises(ScheduleError) as refused:
        await schedules.edit(session, buyer, plan.id, form, D("2026-12-01"))
    assert refused.value.errors == {"address_id": "Choose one of your company's delivery addresses."}

    own = await session.get(Address, plan.address_id)
    assert own is not None
    own.retired = True  # retired after the schedule named it: the schedule goes on with it
    await session.flush()
    revision = await schedules.revision(session, buyer, plan.id)
    assert [a.id for a in revision.addresses] == [own.id]
    form = ScheduleForm("Renamed", own.id, plan.frequency, D("2026-12-13"), 2)
    assert (await schedules.edit(session, buyer, plan.id, form, D("2026-12-01"))).name == "Renamed"
    draft = await schedules.draft(session, buyer, schedules.Source.CART, None)
    assert draft.addresses == []
    assert isinstance(refused.value, Refused)
