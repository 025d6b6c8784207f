"""Documents as PDF files: an order's confirmation, for the buyers of its company and the staff who
see that company (the scoping guard answers 404 to anyone else), the buyer's statement of account,
and one version of a quote (a buyer: their company's sent versions; staff who see the company: the
sent ones and the draft; anyone else 404)."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from litestar import Controller, Response, get
from litestar.di import NamedDependency
from litestar.params import FromPath, Parameter
from sqlalchemy.ext.asyncio import AsyncSession

from portal.models import Company
from portal.services import documents
from portal.services.documents import Document, Seller
from portal.settings import Settings
from portal.web.context import PortalRequest
from portal.web.downloads import safe_filename
from portal.web.guards import buyers_only
from portal.web.inputs import Id
from portal.web.scoping import sees_order

VersionNo = Annotated[int, Parameter(ge=1, le=1000)]
"""A quote's version number in a path: 1…1,000 (outside it names nothing, a 404)."""


def pdf(document: Document) -> Response[bytes]:
    """Shown by the browser, saved under the document's own name."""
    name = safe_filename(document.filename)
    return Response(
        document.content, media_type=documents.PDF, headers={"Content-Disposition": f'inline; filename="{name}"'}
    )


class DocumentsController(Controller):
    @get("/orders/{order_id:int}/confirmation.pdf", guards=[sees_order()], name="order_confirmation")
    async def order_confirmation(
        self, db_session: NamedDependency[AsyncSession], settings: NamedDependency[Settings], order_id: FromPath[Id]
    ) -> Response[bytes]:
        return pdf(await documents.order_confirmation(db_session, order_id, Seller.of(settings)))

    @get("/quotes/{quote_id:int}/versions/{version:int}/quote.pdf", name="quote_pdf")
    async def quote(
        self,
        request: PortalRequest,
        db_session: NamedDependency[AsyncSession],
        today: NamedDependency[date],
        settings: NamedDependency[Settings],
        quote_id: FromPath[Id],
        version: FromPath[VersionNo],
    ) -> Response[bytes]:
        document = await documents.quote_offer(
            db_session, request.user, quote_id, version, today=today, seller=Seller.of(settings)
        )
        return pdf(document)

    @get("/statement.pdf", guards=[buyers_only], name="statement_pdf")
    async def statement(
        self,
        db_session: NamedDependency[AsyncSession],
        company: NamedDependency[Company],
        today: NamedDependency[date],
        settings: NamedDependency[Settings],
    ) -> Response[bytes]:
        document = await documents.statement_of_account(
            db_session, company.id, today=today, grace_days=settings.past_due_grace_days, seller=Seller.of(settings)
        )
        return pdf(document)
