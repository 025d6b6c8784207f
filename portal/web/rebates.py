"""Finance's rebates page: the open accruals of every active agreement with volume tiers (where
the current settlement period stands and the rebate it is expected to earn) and the closed
periods with the rebate each earned and whether the ERP has taken it, with CSV downloads of both
(the closed periods' CSV is the credit-note export, one row per rebate line).

Finance and admins see every company; an account manager their own and covered customers, and a
company filter naming any other answers 404 (`services/scoping.py`)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from litestar import Controller, Response, get
from litestar.di import NamedDependency
from litestar.params import FromQuery, QueryParameter
from litestar.response import Template
from sqlalchemy.ext.asyncio import AsyncSession

from portal.i18n import gettext
from portal.models import Role, SettlementClose, TierMode
from portal.services import agreements
from portal.services.agreements import Accrual, Tier
from portal.web.context import PortalRequest, render
from portal.web.downloads import Flavour, FlavourChoice, cents, csv_download
from portal.web.guards import allow
from portal.web.inputs import MAX_ID

CompanyQuery = Annotated[int | None, QueryParameter(name="company", ge=1, le=MAX_ID)]


def mode_label(mode: TierMode) -> str:
    return gettext("prospective") if mode is TierMode.PROSPECTIVE else gettext("retrospective")


def _pct(tier: Tier | None) -> object:
    return tier.rebate_pct if tier is not None else ""


def accrual_header() -> list[str]:
    return [
        gettext("Company"),
        gettext("Tax id"),
        gettext("Agreement"),
        gettext("Tiers"),
        gettext("Period start"),
        gettext("Period end"),
        gettext("Scope"),
        gettext("Currency"),
        gettext("Turnover to date"),
        gettext("Tier reached (%)"),
        gettext("Projected turnover"),
        gettext("On track for (%)"),
        gettext("Expected rebate"),
    ]


def accrual_rows(accruals: list[Accrual]) -> list[list[object]]:
    return [
        [
            row.agreement.company.name,
            row.agreement.company.tax_id,
            row.agreement.number,
            mode_label(row.agreement.tier_mode),
            row.period.starts_on.isoformat(),
            row.period.ends_on.isoformat(),
            row.scope.category_name or gettext("All products"),
            row.agreement.company.currency,
            cents(row.scope.turnover),
            _pct(row.scope.reached),
            cents(row.scope.projected),
            _pct(row.scope.on_track),
            "" if row.prospective else cents(row.expected_rebate),
        ]
        for row in accruals
    ]


def credit_note_header() -> list[str]:
    return [
        gettext("Close id"),
        gettext("Company"),
        gettext("Tax id"),
        gettext("Agreement"),
        gettext("Period start"),
        gettext("Period end"),
        gettext("Currency"),
        gettext("Scope"),
        gettext("Turnover"),
        gettext("Rebate (%)"),
        gettext("Amount"),
        gettext("Closed"),
        gettext("Exported to the ERP"),
    ]


def credit_note_rows(closes: list[SettlementClose]) -> list[list[object]]:
    return [
        [
            close.id,
            close.agreement.company.name,
            close.agreement.company.tax_id,
            close.agreement.number,
            close.starts_on.isoformat(),
            close.ends_on.isoformat(),
            close.currency,
            line.category_name or gettext("All products"),
            cents(line.turnover),
            line.rebate_pct,
            cents(line.amount),
            close.closed_at.date().isoformat(),
            close.exported_at.date().isoformat() if close.exported_at else "",
        ]
        for close in closes
        for line in close.lines
    ]


def _filename(stem: str, today: date, company_id: int | None) -> str:
    return f"{stem}-{today.isoformat()}" + (f"-{company_id}" if company_id else "") + ".csv"


class RebatesController(Controller):
    path = "/finance/rebates"
    guards = [allow(Role.ACCOUNT_MANAGER, Role.FINANCE, Role.ADMIN)]

    @get("/", name="rebates")
    async def page(
        self,
        request: PortalRequest,
        db_session: NamedDependency[AsyncSession],
        today: NamedDependency[date],
        company_id: CompanyQuery = None,
        order: FromQuery[Literal["newest", "oldest"]] = "newest",
    ) -> Template:
        found = await agreements.rebates(
            db_session, request.user, today, company_id=company_id, newest_first=order == "newest"
        )
        return render(request, "finance/rebates.html", {"rebates": found, "today": today, "order": order})

    @get("/accruals.csv", name="rebate_accruals_csv")
    async def accruals_csv(
        self,
        request: PortalRequest,
        db_session: NamedDependency[AsyncSession],
        today: NamedDependency[date],
        company_id: CompanyQuery = None,
        flavour: FlavourChoice = None,
    ) -> Response[bytes]:
        found = await agreements.rebates(db_session, request.user, today, company_id=company_id, limit=0)
        rows = accrual_rows(found.accruals)
        name = _filename("rebate-accruals", today, company_id)
        return csv_download(name, accrual_header(), rows, flavour=Flavour.chosen(flavour))

    @get("/closed.csv", name="rebate_credit_notes_csv")
    async def closed_csv(
        self,
        request: PortalRequest,
        db_session: NamedDependency[AsyncSession],
        today: NamedDependency[date],
        company_id: CompanyQuery = None,
        flavour: FlavourChoice = None,
    ) -> Response[bytes]:
        found = await agreements.rebates(db_session, request.user, today, company_id=company_id, limit=None)
        rows = credit_note_rows(found.closes)
        name = _filename("rebate-credit-notes", today, company_id)
        return csv_download(name, credit_note_header(), rows, flavour=Flavour.chosen(flavour))
