"""Documents as PDF files: an order's confirmation, for the buyers of its company and the staff who
see that company (the scoping guard answers 404 to anyone else), and the buyer's statement of account."""

from __future__ import annotations

from datetime import date

from litestar import Controller, Response, get
from litestar.di import NamedDependency
from litestar.params import FromPath
from sqlalchemy.ext.asyncio import AsyncSession

from portal.models import Company
from portal.services import documents
from portal.services.documents import Document, Seller
from portal.settings import Settings
from portal.web.downloads import safe_filename
from portal.web.guards import buyers_only
from portal.web.inputs import Id
from portal.web.scoping import sees_order


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
