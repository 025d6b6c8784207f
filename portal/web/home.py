"""Each role's home page, and the buyer's view of one invoice."""

from __future__ import annotations

from litestar import Controller, get, post
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from litestar.plugins.flash import flash
from litestar.response import Redirect, Template
from sqlalchemy.ext.asyncio import AsyncSession

from portal.i18n import gettext
from portal.services import credit, customers, directory, notifications, schedules
from portal.web.context import PortalRequest, seller_today, settings_of
from portal.web.guards import HOME_BY_ROLE, account_managers, admins_only, buyers_only


class HomeController(Controller):
    @get("/", name="home")
    async def home(self, request: PortalRequest) -> Redirect:
        return Redirect(HOME_BY_ROLE[request.user.role], status_code=303)

    @get("/dashboard", guards=[buyers_only], name="dashboard")
    async def dashboard(self, request: PortalRequest, db_session: NamedDependency[AsyncSession]) -> Template:
        account = await credit.company_account(
            db_session,
            request.user.company_id,
            today=seller_today(request),
            grace_days=settings_of(request).past_due_grace_days,
        )
        upcoming = await schedules.next_deliveries(db_session, request.user.company_id)
        return Template("home/buyer.html", context={"account": account, "today": seller_today(request), "upcoming": upcoming})

    @get("/invoices/{invoice_id:int}", guards=[buyers_only], name="invoice")
    async def invoice(
        self, request: PortalRequest, db_session: NamedDependency[AsyncSession], invoice_id: FromPath[int]
    ) -> Template:
        invoice = await directory.company_invoice(db_session, request.user.company_id, invoice_id)
        if invoice is None:
            raise NotFoundException()
        return Template("home/invoice.html", context={"invoice": invoice, "today": seller_today(request)})

    @get("/manager", guards=[account_managers], name="manager_home")
    async def manager_home(self, request: PortalRequest, db_session: NamedDependency[AsyncSession]) -> Template:
        settings = settings_of(request)
        pictures = await credit.credit_pictures(
            db_session,
            today=seller_today(request),
            grace_days=settings.past_due_grace_days,
            account_manager_id=request.user.id,
        )
        rhythms = await customers.rhythms(
            db_session, [p.company.id for p in pictures], seller_today(request), settings.seller_zone
        )
        return Template("home/manager.html", context={"pictures": pictures, "rhythms": rhythms})

    @get("/admin", guards=[admins_only], name="admin_home")
    async def admin_home(self, db_session: NamedDependency[AsyncSession]) -> Template:
        return Template("home/admin.html", context={"counts": await directory.counts(db_session),
                                                    "stuck": await notifications.messages_for_admins(db_session)})

    @post("/admin/messages/{message_id:int}/send-again", guards=[admins_only], name="send_again")
    async def send_again(self, request: PortalRequest, db_session: NamedDependency[AsyncSession],
                         message_id: FromPath[int]) -> Redirect:
        try:
            message = await notifications.send_again(db_session, message_id)
        except LookupError:
            raise NotFoundException() from None
        await db_session.commit()
        flash(request, gettext("The e-mail to %(to)s is queued again.") % {"to": message.recipient}, "success")
        return Redirect("/admin", status_code=303)
