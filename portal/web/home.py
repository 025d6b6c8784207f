"""Each role's home page, and the buyer's view of one invoice."""

from __future__ import annotations

from datetime import date

from litestar import Controller, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.plugins.flash import flash
from litestar.response import Redirect, Template
from sqlalchemy.ext.asyncio import AsyncSession

from portal.i18n import gettext
from portal.models import Company
from portal.services import buyer_agreement, customers, directory, notifications, quote_desk, tasks
from portal.settings import Settings
from portal.web.context import PortalRequest
from portal.web.guards import account_managers, admins_only, buyers_only, home_route
from portal.web.inputs import Id
from portal.web.scoping import sees_invoice


class HomeController(Controller):
    @get("/", name="home")
    async def home(self, request: PortalRequest) -> Redirect:
        return Redirect(request.app.route_reverse(home_route(request.user)), status_code=303)

    @get("/dashboard", guards=[buyers_only], name="dashboard")
    async def dashboard(
        self,
        request: PortalRequest,
        db_session: NamedDependency[AsyncSession],
        company: NamedDependency[Company],
        today: NamedDependency[date],
        settings: NamedDependency[Settings],
    ) -> Template:
        home = await directory.buyer_home(db_session, company.id, today=today, grace_days=settings.past_due_grace_days)
        # Whether an agreement is in force today was read with the user (the navigation links it).
        in_force = request.state.get("has_agreement", False)
        progress = await buyer_agreement.progress(db_session, company, today) if in_force else None
        return Template("home/buyer.html", context={"home": home, "progress": progress})

    @get("/invoices/{invoice_id:int}", guards=[buyers_only, sees_invoice()], name="invoice")
    async def invoice(
        self,
        db_session: NamedDependency[AsyncSession],
        company: NamedDependency[Company],
        invoice_id: FromPath[Id],
        today: NamedDependency[date],
    ) -> Template:
        view = await directory.company_invoice(db_session, company.id, invoice_id, today)
        return Template("home/invoice.html", context={"view": view, "invoice": view.invoice})

    @get("/manager", guards=[account_managers], name="manager_home")
    async def manager_home(
        self,
        request: PortalRequest,
        db_session: NamedDependency[AsyncSession],
        today: NamedDependency[date],
        settings: NamedDependency[Settings],
    ) -> Template:
        rows = await customers.portfolio(db_session, request.user, today=today, grace_days=settings.past_due_grace_days)
        waiting = await quote_desk.waiting_count(db_session, request.user, today)
        my_day = await tasks.my_day(db_session, request.user, today)
        return Template("home/manager.html", context={"rows": rows, "quotes_waiting": waiting, "my_day": my_day})

    @get("/admin", guards=[admins_only], name="admin_home")
    async def admin_home(
        self, request: PortalRequest, db_session: NamedDependency[AsyncSession], today: NamedDependency[date]
    ) -> Template:
        home = await directory.admin_home(db_session)
        my_day = await tasks.my_day(db_session, request.user, today)
        context = {"counts": home.counts, "attention": home.attention, "stuck": home.stuck, "my_day": my_day}
        return Template("home/admin.html", context=context)

    @post("/admin/messages/{message_id:int}/send-again", guards=[admins_only], name="send_again")
    async def send_again(
        self, request: PortalRequest, db_session: NamedDependency[AsyncSession], message_id: FromPath[Id]
    ) -> Redirect:
        message = await notifications.send_again(db_session, message_id)
        flash(request, gettext("The e-mail to %(to)s is queued again.") % {"to": message.recipient}, "success")
        return Redirect(request.app.route_reverse("admin_home"), status_code=303)
