"""Exposure, available credit and past-due state, and the credit picture of one order
(`order_credit`), against hand-computed cases."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from portal.models import Company
from portal.services.credit import (
    CreditPicture,
    OrderCredit,
    company_account,
    credit_picture,
    credit_pictures,
    order_credit,
    sort_pictures,
)
from tests.factories import make_company, make_invoice

TODAY = date(2026, 11, 27)
GRACE = 7


async def test_exposure_counts_unpaid_balances_only(session: AsyncSession) -> None:
    company = await make_company(session, credit_limit=Decimal("10000.00"))
    await make_invoice(session, company, gross="1230.00", paid="1230.00", due=TODAY - timedelta(days=40))  # paid
    await make_invoice(session, company, gross="2460.00", paid="1000.50", due=TODAY + timedelta(days=10))  # partly
    await make_invoice(session, company, gross="615.25", due=TODAY + timedelta(days=20))

    picture = await credit_picture(session, company.id, today=TODAY, grace_days=GRACE)

    assert picture.exposure == Decimal("2074.75")  # 1459.50 + 615.25
    assert picture.available_credit == Decimal("7925.25")
    assert picture.utilisation_pct == Decimal("20.7")
    assert picture.overdue_amount == Decimal("0.00")
    assert not picture.past_due


async def test_available_credit_can_be_negative(session: AsyncSession) -> None:
    company = await make_company(session, credit_limit=Decimal("1000.00"))
    await make_invoice(session, company, gross="1500.00", due=TODAY + timedelta(days=5))
    picture = await credit_picture(session, company.id, today=TODAY, grace_days=GRACE)
    assert picture.available_credit == Decimal("-500.00")


async def test_company_without_invoices_has_its_whole_limit(session: AsyncSession) -> None:
    company = await make_company(session, credit_limit=Decimal("5000.00"))
    picture = await credit_picture(session, company.id, today=TODAY, grace_days=GRACE)
    assert (picture.exposure, picture.available_credit, picture.oldest_overdue_days) == (
        Decimal("0.00"),
        Decimal("5000.00"),
        0,
    )


async def test_zero_limit_has_no_utilisation_figure(session: AsyncSession) -> None:
    company = await make_company(session, credit_limit=Decimal("0.00"))
    picture = await credit_picture(session, company.id, today=TODAY, grace_days=GRACE)
    assert picture.utilisation_pct is None


async def test_overdue_within_grace_is_not_yet_past_due(session: AsyncSession) -> None:
    company = await make_company(session)
    await make_invoice(session, company, gross="100.00", paid="40.00", due=TODAY - timedelta(days=GRACE))
    await make_invoice(session, company, gross="50.00", due=TODAY - timedelta(days=2))
    await make_invoice(session, company, gross="70.00", due=TODAY)  # due today is not overdue

    picture = await credit_picture(session, company.id, today=TODAY, grace_days=GRACE)

    assert picture.overdue_amount == Decimal("110.00")
    assert picture.oldest_overdue_days == GRACE
    assert not picture.past_due


async def test_overdue_beyond_grace_makes_the_company_past_due(session: AsyncSession) -> None:
    company = await make_company(session)
    await make_invoice(session, company, gross="100.00", due=TODAY - timedelta(days=GRACE + 1))
    picture = await credit_picture(session, company.id, today=TODAY, grace_days=GRACE)
    assert picture.past_due
    assert picture.oldest_overdue_days == GRACE + 1


async def test_a_paid_old_invoice_is_not_overdue(session: AsyncSession) -> None:
    company = await make_company(session)
    await make_invoice(session, company, gross="100.00", paid="100.00", due=TODAY - timedelta(days=90))
    picture = await credit_picture(session, company.id, today=TODAY, grace_days=GRACE)
    assert (picture.overdue_amount, picture.past_due) == (Decimal("0.00"), False)


async def test_company_account_lists_overdue_invoices_oldest_first(session: AsyncSession) -> None:
    company = await make_company(session)
    newer = await make_invoice(session, company, gross="10.00", due=TODAY - timedelta(days=3))
    older = await make_invoice(session, company, gross="20.00", due=TODAY - timedelta(days=30))
    await make_invoice(session, company, gross="30.00", due=TODAY + timedelta(days=3))
    other = await make_company(session)
    await make_invoice(session, other, gross="40.00", due=TODAY - timedelta(days=50))

    account = await company_account(session, company.id, today=TODAY, grace_days=GRACE)

    assert [invoice.id for invoice in account.overdue] == [older.id, newer.id]
    assert account.picture.overdue_amount == Decimal("30.00")


async def test_pictures_of_many_companies_in_one_query(session: AsyncSession) -> None:
    companies = [await make_company(session, name=f"Firm {letter}") for letter in "CAB"]
    for company in companies:
        await make_invoice(session, company, gross="100.00", due=TODAY + timedelta(days=1))
    statements: list[str] = []

    from sqlalchemy import event

    sync_engine = session.bind.sync_engine  # type: ignore[union-attr]
    listener = lambda *args: statements.append(args[2])  # noqa: E731
    event.listen(sync_engine, "before_cursor_execute", listener)
    try:
        pictures = await credit_pictures(session, today=TODAY, grace_days=GRACE)
    finally:
        event.remove(sync_engine, "before_cursor_execute", listener)

    assert [p.company.name for p in pictures] == ["Firm A", "Firm B", "Firm C"]
    assert len(statements) == 1


async def test_sorting_by_utilisation_puts_the_most_used_first(session: AsyncSession) -> None:
    low = await make_company(session, name="Low", credit_limit=Decimal("1000.00"))
    high = await make_company(session, name="High", credit_limit=Decimal("1000.00"))
    unlimited = await make_company(session, name="Zero limit", credit_limit=Decimal("0.00"))
    await make_invoice(session, low, gross="100.00", due=TODAY)
    await make_invoice(session, high, gross="900.00", due=TODAY)
    pictures = await credit_pictures(session, today=TODAY, grace_days=GRACE)

    ordered = sort_pictures(pictures, "utilisation", descending=True)

    assert [p.company.id for p in ordered] == [high.id, low.id, unlimited.id]
    assert [p.company.name for p in sort_pictures(pictures, "no such key", descending=False)] == [
        "High",
        "Low",
        "Zero limit",
    ]


def picture_of(limit: str, *, invoices: str = "0.00", approved: str = "0.00", pending: str = "0.00") -> CreditPicture:
    return CreditPicture(
        company=Company(credit_limit=Decimal(limit), on_hold=False),
        unpaid_invoices=Decimal(invoices),
        overdue_amount=Decimal("0.00"),
        oldest_overdue_days=0,
        past_due=False,
        approved_orders=Decimal(approved),
        pending_orders=Decimal(pending),
    )


def test_an_orders_credit_is_the_same_before_and_after_it_is_submitted() -> None:
    """A cart is not yet in the exposure; the same order waiting for approval is, and is taken out again."""
    cart = order_credit(
        picture_of("1000.00", invoices="300.00", approved="100.00", pending="200.00"), Decimal("600.00"), pending=False
    )
    waiting = order_credit(
        picture_of("1000.00", invoices="300.00", approved="100.00", pending="800.00"), Decimal("600.00"), pending=True
    )
    assert (
        cart
        == waiting
        == OrderCredit(
            credit_limit=Decimal("1000.00"),
            exposure_without=Decimal("600.00"),
            gross=Decimal("600.00"),
            available_before=Decimal("400.00"),
        )
    )
    assert (waiting.available_after, waiting.exceeds, waiting.shortfall) == (
        Decimal("-200.00"),
        True,
        Decimal("200.00"),
    )


def test_an_order_that_uses_exactly_the_available_credit_does_not_exceed_it() -> None:
    credit = order_credit(picture_of("1000.00", invoices="400.00", pending="600.00"), Decimal("600.00"), pending=True)
    assert (credit.available_before, credit.available_after, credit.exceeds, credit.shortfall) == (
        Decimal("600.00"),
        Decimal("0.00"),
        False,
        Decimal("0.00"),
    )


def test_available_before_an_order_can_already_be_negative() -> None:
    credit = order_credit(picture_of("500.00", invoices="700.00"), Decimal("10.00"), pending=False)
    assert (credit.exposure_without, credit.available_before, credit.available_after, credit.shortfall) == (
        Decimal("700.00"),
        Decimal("-200.00"),
        Decimal("-210.00"),
        Decimal("210.00"),
    )


async def test_waiting_orders_of_the_company_count_in_its_exposure(session: AsyncSession) -> None:
    from tests.factories import make_order

    company = await make_company(session, credit_limit=Decimal("1000.00"))
    await make_invoice(session, company, gross="100.00", due=TODAY + timedelta(days=3))
    waiting = await make_order(session, company, gross="250.00")
    await make_order(session, company, gross="150.00")
    picture = await credit_picture(session, company.id, today=TODAY, grace_days=GRACE)
    assert (picture.pending_orders, picture.exposure) == (Decimal("400.00"), Decimal("500.00"))
    credit = order_credit(picture, waiting.gross_total, pending=True)
    assert (credit.exposure_without, credit.available_before, credit.available_after) == (
        Decimal("250.00"),
        Decimal("750.00"),
        Decimal("500.00"),
    )
