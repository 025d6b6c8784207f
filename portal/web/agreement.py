"""The buyer's page "Your agreement": the company's framework agreement as its buyers may read it."""

from __future__ import annotations

from datetime import date

from litestar import Controller, get
from litestar.di import NamedDependency
from litestar.response import Template
from sqlalchemy.ext.asyncio import AsyncSession

from portal.models import Company
from portal.services import buyer_agreement
from portal.web.guards import buyers_only


class AgreementController(Controller):
    @get("/agreement", guards=[buyers_only], name="agreement")
    async def show(
        self,
        db_session: NamedDependency[AsyncSession],
        company: NamedDependency[Company],
        today: NamedDependency[date],
    ) -> Template:
        view = await buyer_agreement.buyer_view(db_session, company, today)
        return Template("agreement/show.html", context={"view": view, "company": company})
