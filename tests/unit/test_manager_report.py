"""Account manager effectiveness on a hand-made dataset whose figures are worked out in the
docstring of `managers_dataset`: revenue and growth, customers retained, lost and won, quote win
rate and days to accept, approval turnaround and overdue share; an account manager's own row only."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from portal.models import (
    Company,
    Deputy,
    OrderEvent,
    OrderStatus,
    Quote,
    QuoteEvent,
    QuoteStatus,
    QuoteVersion,
    Role,
    User,
)
from portal.services import manager_report, report_summary, reports
from portal.services.manager_report import ManagerFigures, ManagerReport
from portal.services.reports import Period
from tests.factories import make_company, make_counted_order, make_invoice, make_order, make_user

TODAY = date(2026, 11, 27)
"""The seller's today (the `frozen_clock`'s day): the default period is Dec 2025 – Nov 2026, the
previous one Dec 2024 – Nov 2025."""
ZONE = ZoneInfo("Europe/Warsaw")
GRACE_DAYS = 7


def at(year: int, month: int, day: int, hour: float = 10) -> datetime:
    return datetime(year, month, day, tzinfo=UTC) + timedelta(hours=hour)


@dataclass(frozen=True)
class ManagersData:
    anna: User
    piotr: User
    admin: User
    finance: User
    alfa: Company
    beta: Company
    gamma: Company
    delta: Company


async def _counted(session: AsyncSession, company: Company, net: str, when: datetime) -> None:
    """A counted order, prepaid so that it is not in the exposure (only the invoices are)."""
    order = await make_counted_order(session, company, net=net, approved_at=when)
    order.prepaid = True


async def _decided(
    session: AsyncSession,
    company: Company,
    submitted: datetime,
    decided: datetime,
    actor: User,
    to: OrderStatus = OrderStatus.APPROVED,
) -> None:
    """An order (prepaid, not counted) decided by `actor` at `decided`."""
    order = await make_order(session, company, gross="100.00", submitted_at=submitted)
    order.status, order.prepaid = to, True
    session.add(
        OrderEvent(
            order_id=order.id,
            company_id=company.id,
            at=decided,
            actor_id=actor.id,
            from_status=OrderStatus.PENDING_APPROVAL,
            to_status=to,
        )
    )


async def _quote(
    session: AsyncSession,
    company: Company,
    requested: datetime,
    sent: list[datetime],
    accepted: datetime | None = None,
) -> None:
    """A quote requested at `requested`, a version sent at each of `sent`, accepted at `accepted`."""
    quote = Quote(
        company_id=company.id,
        number=f"Q/T/{company.id}/{requested:%Y%m%d%H%M}",
        status=QuoteStatus.ACCEPTED if accepted else QuoteStatus.SENT,
        sent_version=len(sent),
        created_at=requested,
    )
    session.add(quote)
    await session.flush()
    for number, moment in enumerate(sent, start=1):
        session.add(QuoteVersion(quote_id=quote.id, company_id=company.id, number=number, sent_at=moment))
    if accepted is not None:
        session.add(
            QuoteEvent(
                quote_id=quote.id,
                company_id=company.id,
                at=accepted,
                from_status=QuoteStatus.SENT,
                to_status=QuoteStatus.ACCEPTED,
                version=len(sent),
            )
        )
    await session.flush()


async def managers_dataset(session: AsyncSession) -> ManagersData:
    """Anna manages Alfa, Beta and Gamma; Piotr Delta and the inactive Epsilon; the inactive Olga
    Omega (never shown). Costs are 70 % of net, so margin is 30 %.

    Sales: Alfa 1,000.00 (10 Jun 2025) and 3,000.00 (10 Mar 2026): retained; Beta 2,000.00
    (15 Sep 2025): lost; Gamma 1,500.00 (20 May 2026), its first: won; Delta 800.00 (1 Jun 2024,
    before both periods) and 1,000.00 (1 Feb 2026): neither retained nor won. Anna: revenue
    4,500.00 against 3,000.00 (+50.0 %), margin 1,350.00 against 900.00 (+50.0 %); Piotr 1,000.00
    against nothing (no growth figure); together 5,500.00 against 3,000.00 (+83.3 %).

    Quotes: Alfa's requested 1 Feb 2026, sent 2 and 5 Feb, accepted 11 Feb: 10 days; Gamma's
    requested 1 Apr, sent 2 Apr, accepted 5 Apr 22:00: 4.5 days; Beta's sent 2 Jun, not accepted;
    Alfa's sent and accepted in Oct 2025 (the previous period): not counted. Anna: 3 sent, 2
    accepted (66.7 %), median 7.25 → 7.3 days. Delta's requested 17 Nov 2025 23:30 UTC, sent 25 Nov,
    accepted 30 Nov 23:30 UTC (1 Dec 00:30 in Warsaw: in the period): 13 days; another sent 1 Mar
    2026. Piotr: 1 sent, 1 accepted (100.0 %), 13.0 days. Together 4 sent, 3 accepted (75.0 %),
    median 10.0 days.

    Decisions: Anna approves Alfa's order 2 hours after submission, rejects Gamma's after 6 hours,
    the admin approves Beta's after 24 hours: median 6.0 hours; a buyer's approval and one in Jun
    2025 do not count. Piotr approves Delta's after 30 minutes: 0.5 hours. Together (0.5, 2, 6,
    24): 4.0 hours.

    Invoices: Alfa 1,000.00 due 1 Nov 2026, open (overdue); Gamma 3,000.00 due 15 Dec 2026; Delta
    500.00 due 10 Dec 2026. Anna: 1,000.00 overdue of 4,000.00 exposure (25.0 %); Piotr 0.0 %;
    together 1,000.00 of 4,500.00 (22.2 %)."""
    anna = await make_user(session, Role.ACCOUNT_MANAGER, full_name="Anna Kowalska", email="anna@seller.example")
    piotr = await make_user(session, Role.ACCOUNT_MANAGER, full_name="Piotr Nowak", email="piotr@seller.example")
    olga = await make_user(session, Role.ACCOUNT_MANAGER, full_name="Olga Gone", is_active=False)
    admin = await make_user(session, Role.ADMIN, full_name="Ada Admin", email="ada@seller.example")
    finance = await make_user(session, Role.FINANCE, full_name="Fiona Finance", email="fiona@seller.example")
    alfa = await make_company(session, name="Alfa Hurt", account_manager_id=anna.id)
    beta = await make_company(session, name="Beta Sklep", account_manager_id=anna.id)
    gamma = await make_company(session, name="Gamma Bud", account_manager_id=anna.id)
    delta = await make_company(session, name="Delta Dom", account_manager_id=piotr.id)
    await make_company(session, name="Epsilon Old", account_manager_id=piotr.id, is_active=False)
    omega = await make_company(session, name="Omega Gone", account_manager_id=olga.id)
    buyer = await make_user(session, company_id=alfa.id)

    await _counted(session, alfa, "1000.00", at(2025, 6, 10))
    await _counted(session, alfa, "3000.00", at(2026, 3, 10))
    await _counted(session, beta, "2000.00", at(2025, 9, 15))
    await _counted(session, gamma, "1500.00", at(2026, 5, 20))
    await _counted(session, delta, "800.00", at(2024, 6, 1))
    await _counted(session, delta, "1000.00", at(2026, 2, 1))
    await _counted(session, omega, "9000.00", at(2026, 2, 1))

    await _quote(session, alfa, at(2026, 2, 1), [at(2026, 2, 2), at(2026, 2, 5)], at(2026, 2, 11))
    await _quote(session, gamma, at(2026, 4, 1), [at(2026, 4, 2)], at(2026, 4, 5, 22))
    await _quote(session, beta, at(2026, 6, 1), [at(2026, 6, 2)])
    await _quote(session, alfa, at(2025, 9, 28), [at(2025, 10, 1)], at(2025, 10, 3))
    await _quote(session, delta, at(2025, 11, 17, 23.5), [at(2025, 11, 25)], at(2025, 11, 30, 23.5))
    await _quote(session, delta, at(2026, 2, 28), [at(2026, 3, 1)])
    await _quote(session, omega, at(2026, 2, 28), [at(2026, 3, 1)], at(2026, 3, 2))

    await _decided(session, alfa, at(2026, 3, 10, 8), at(2026, 3, 10, 10), anna)
    await _decided(session, gamma, at(2026, 5, 20, 6), at(2026, 5, 20, 12), anna, OrderStatus.REJECTED)
    await _decided(session, beta, at(2026, 6, 1, 9), at(2026, 6, 2, 9), admin)
    await _decided(session, alfa, at(2026, 7, 1, 9), at(2026, 7, 1, 19), buyer)
    await _decided(session, alfa, at(2025, 6, 10, 8), at(2025, 6, 10, 9), anna)
    await _decided(session, delta, at(2026, 2, 1, 9), at(2026, 2, 1, 9.5), piotr)

    await make_invoice(session, alfa, gross="1000.00", issued=date(2026, 10, 2), due=date(2026, 11, 1))
    await make_invoice(session, gamma, gross="3000.00", issued=date(2026, 11, 15), due=date(2026, 12, 15))
    await make_invoice(session, delta, gross="500.00", issued=date(2026, 11, 10), due=date(2026, 12, 10))
    await make_invoice(session, omega, gross="700.00", issued=date(2026, 9, 1), due=date(2026, 10, 1))
    await session.flush()
    await report_summary.refresh(session, TODAY, ZONE)
    await session.flush()
    return ManagersData(anna, piotr, admin, finance, alfa, beta, gamma, delta)


async def report_for(session: AsyncSession, reader: User, period: Period | None = None) -> ManagerReport:
    audience = await reports.audience(session, reader, TODAY)
    return await manager_report.manager_report(
        session, audience, period or Period.default(TODAY), today=TODAY, zone=ZONE, grace_days=GRACE_DAYS
    )


def figures(row: ManagerFigures) -> dict[str, Any]:
    return {
        "customers": row.customers,
        "revenue": (row.current.net, row.previous.net, row.revenue_growth_pct),
        "margin": (row.current.margin, row.previous.margin, row.margin_growth_pct),
        "retained, lost, won": (row.retained, row.lost, row.won),
        "quotes": (row.quotes_sent, row.quotes_accepted, row.win_rate_pct, row.median_days_to_accept),
        "approval hours": row.median_approval_hours,
        "overdue": (row.overdue, row.exposure, row.overdue_pct),
    }


ANNA = {
    "customers": 3,
    "revenue": (Decimal("4500.00"), Decimal("3000.00"), Decimal("50.0")),
    "margin": (Decimal("1350.00"), Decimal("900.00"), Decimal("50.0")),
    "retained, lost, won": (1, 1, 1),
    "quotes": (3, 2, Decimal("66.7"), Decimal("7.3")),
    "approval hours": Decimal("6.0"),
    "overdue": (Decimal("1000.00"), Decimal("4000.00"), Decimal("25.0")),
}
PIOTR = {
    "customers": 1,
    "revenue": (Decimal("1000.00"), Decimal("0.00"), None),
    "margin": (Decimal("300.00"), Decimal("0.00"), None),
    "retained, lost, won": (0, 0, 0),
    "quotes": (1, 1, Decimal("100.0"), Decimal("13.0")),
    "approval hours": Decimal("0.5"),
    "overdue": (Decimal("0.00"), Decimal("500.00"), Decimal("0.0")),
}
TOTALS = {
    "customers": 4,
    "revenue": (Decimal("5500.00"), Decimal("3000.00"), Decimal("83.3")),
    "margin": (Decimal("1650.00"), Decimal("900.00"), Decimal("83.3")),
    "retained, lost, won": (1, 1, 1),
    "quotes": (4, 3, Decimal("75.0"), Decimal("10.0")),
    "approval hours": Decimal("4.0"),
    "overdue": (Decimal("1000.00"), Decimal("4500.00"), Decimal("22.2")),
}


async def test_finance_sees_every_active_manager_with_the_figures_worked_out_by_hand(session: AsyncSession) -> None:
    data = await managers_dataset(session)
    found = await report_for(session, data.finance)
    assert [row.name for row in found.rows] == ["Anna Kowalska", "Piotr Nowak"]  # not the inactive Olga
    anna, piotr = found.rows
    assert figures(anna) == ANNA
    assert figures(piotr) == PIOTR
    assert found.totals is not None and figures(found.totals) == TOTALS


async def test_an_account_manager_sees_only_their_own_row_even_while_covering(session: AsyncSession) -> None:
    data = await managers_dataset(session)
    session.add(
        Deputy(manager_id=data.anna.id, deputy_id=data.piotr.id, starts_on=TODAY, ends_on=TODAY + timedelta(days=7))
    )
    await session.flush()
    found = await report_for(session, data.piotr)
    assert [(row.manager_id, figures(row)) for row in found.rows] == [(data.piotr.id, PIOTR)]
    assert found.totals is None
    own = await report_for(session, data.anna)
    assert [(row.manager_id, figures(row)) for row in own.rows] == [(data.anna.id, ANNA)]


async def test_a_period_without_activity_has_no_rates_and_the_previous_period_becomes_current(
    session: AsyncSession,
) -> None:
    data = await managers_dataset(session)
    earlier = await report_for(session, data.admin, Period(date(2024, 12, 1), date(2025, 11, 1)))
    anna = earlier.rows[0]
    # Alfa and Beta ordered; Alfa's quote of October 2025 was sent and accepted in 5 days
    assert (anna.current.net, anna.retained, anna.lost, anna.won) == (Decimal("3000.00"), 0, 0, 2)
    assert (anna.quotes_sent, anna.quotes_accepted, anna.median_days_to_accept) == (1, 1, Decimal("5.0"))
    assert anna.median_approval_hours == Decimal("1.0")
    piotr = earlier.rows[1]
    assert (piotr.quotes_sent, piotr.quotes_accepted, piotr.win_rate_pct) == (1, 0, Decimal("0.0"))
    assert piotr.median_days_to_accept is None and piotr.median_approval_hours is None


async def test_rows_sort_by_any_figure_with_missing_figures_last(session: AsyncSession) -> None:
    data = await managers_dataset(session)
    rows = (await report_for(session, data.admin)).rows
    by = manager_report.sorted_rows
    assert [row.name for row in by(rows, "revenue", descending=True)] == ["Anna Kowalska", "Piotr Nowak"]
    assert [row.name for row in by(rows, "approval_hours", descending=False)] == ["Piotr Nowak", "Anna Kowalska"]
    for descending in (True, False):
        assert [row.name for row in by(rows, "revenue_growth", descending=descending)][-1] == "Piotr Nowak"
