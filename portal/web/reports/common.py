"""What every report page shares: the period chosen in the query (`?from=2026-01&to=2026-12`, whole
months; without them the last 12 months), whom the reader sees, the report settings and how fresh
the worker's summary is. A report page's handler asks `report_view` once and hands the result to
its template, which extends `reports/_layout.html` (tabs, period form, freshness, downloads); a
report controller gets it as the dependency `view` (`VIEW`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Annotated

from litestar.di import NamedDependency, Provide
from litestar.params import QueryParameter
from sqlalchemy.ext.asyncio import AsyncSession

from portal.models import ReportRefresh, ReportSettings, Role, User
from portal.services import reports
from portal.services.report_summary import add_months
from portal.services.reports import MAX_MONTHS, Audience, Period
from portal.web.context import PortalRequest
from portal.web.guards import allow

MONTH = r"^(20[0-9][0-9]|2100)-(0[1-9]|1[0-2])$"
FromMonth = Annotated[str | None, QueryParameter(name="from", pattern=MONTH)]
ToMonth = Annotated[str | None, QueryParameter(name="to", pattern=MONTH)]
Descending = Annotated[bool, QueryParameter(name="desc")]
report_readers = allow(Role.ACCOUNT_MANAGER, Role.FINANCE, Role.ADMIN)


def _month(text: str) -> date:
    return date(int(text[:4]), int(text[5:7]), 1)


def chosen_period(today: date, first: str | None, last: str | None) -> Period:
    """The months asked for: both ends, or one end and 12 months from or to it, or the default; a
    reversed range is turned round, and a range longer than `MAX_MONTHS` keeps its last months."""
    if first is None and last is None:
        return Period.default(today)
    start = _month(first) if first else add_months(_month(last or ""), 1 - reports.DEFAULT_MONTHS)
    end = _month(last) if last else add_months(start, reports.DEFAULT_MONTHS - 1)
    start, end = min(start, end), max(start, end)
    return Period(max(start, add_months(end, 1 - MAX_MONTHS)), end)


@dataclass(frozen=True)
class ReportView:
    """A report page's common context."""

    period: Period
    audience: Audience
    settings: ReportSettings
    freshness: ReportRefresh | None
    today: date

    @property
    def user(self) -> User:
        return self.audience.user

    @property
    def through(self) -> date:
        """The last day the summary covers (today when it has never been made: then it is empty)."""
        fresh = self.freshness
        return fresh.through if fresh is not None and fresh.through is not None else self.today

    @property
    def ready(self) -> bool:
        return self.freshness is not None and self.freshness.refreshed_at is not None

    @property
    def query(self) -> dict[str, str]:
        """The period as query parameters, for links and downloads that keep it."""
        return {"from": self.period.first.strftime("%Y-%m"), "to": self.period.last.strftime("%Y-%m")}

    def days(self, period: Period) -> int:
        return period.days(self.through)


async def report_view(
    session: AsyncSession, user: User, today: date, first: str | None, last: str | None
) -> ReportView:
    settings, freshness = await reports.settings_and_freshness(session)
    return ReportView(
        period=chosen_period(today, first, last),
        audience=await reports.audience(session, user, today),
        settings=settings,
        freshness=freshness,
        today=today,
    )


async def provide_view(
    request: PortalRequest,
    db_session: NamedDependency[AsyncSession],
    today: NamedDependency[date],
    first: FromMonth = None,
    last: ToMonth = None,
) -> ReportView:
    """`view`: the report page's `ReportView`, from `?from=` and `?to=`."""
    return await report_view(db_session, request.user, today, first, last)


VIEW = {"view": Provide(provide_view)}
"""A report controller's dependencies: its handlers take `view: NamedDependency[ReportView]`."""
