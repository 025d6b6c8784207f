"""Exposure, available credit and past-due state, against hand-computed cases."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from portal.services.credit import company_account, credit_picture, credit_pictures, sort_pictures
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
        Decimal("0.00"), Decimal("5000.00"), 0
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
        "High", "Low", "Zero limit"
    ]
