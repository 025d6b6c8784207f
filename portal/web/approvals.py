"""The approval queue and the order review: decide inline with htmx (approve with an
optional note, reject with a reason), bulk approval, and out-of-office cover."""

from __future__ import annotations

from datetime import date
from typing import Any

from litestar import Controller, get, post
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException, PermissionDeniedException
from litestar.params import FromPath, URLEncodedBody
from litestar.plugins.flash import flash
from litestar.response import Redirect, Template
from sqlalchemy.ext.asyncio import AsyncSession

from portal.i18n import gettext
from portal.models import FlagKind, Role
from portal.services import approvals
from portal.services.approvals import QueueFilter
from portal.services.ordering import MoveRefused
from portal.web.context import PortalRequest, discard_changes, is_partial, query_params, seller_today, settings_of
from portal.web.guards import allow

deciders = [allow(Role.ACCOUNT_MANAGER, Role.ADMIN)]
staff = [allow(Role.ACCOUNT_MANAGER, Role.ADMIN, Role.FINANCE)]


async def _review_page(
    request: PortalRequest, db_session: AsyncSession, order_id: int, *, error: str | None = None,
    note: str = "", reason: str = "", status_code: int = 200,
) -> Template:
    review = await approvals.review(db_session, request.user, order_id, today=seller_today(request),
                                    grace_days=settings_of(request).past_due_grace_days)
    if review is None:
        raise NotFoundException()
    template = "queue/_partials/decision.html" if is_partial(request) else "queue/review.html"
    return Template(template, context={"review": review, "error": error, "note": note, "reason": reason},
                    status_code=200 if is_partial(request) else status_code)


def _date(value: object) -> date | None:
    try:
        return date.fromisoformat(str(value or ""))
    except ValueError:
        return None


class QueueController(Controller):
    path = "/queue"

    @get("/", guards=deciders, name="queue")
    async def index(self, request: PortalRequest, db_session: NamedDependency[AsyncSession]) -> Template:
        queue = await approvals.approval_queue(
            db_session, request.user, QueueFilter.parse(query_params(request)), seller_today(request)
        )
        return Template("queue/index.html", context={"queue": queue, "flag_kinds": list(FlagKind)})

    @get("/orders/{order_id:int}", guards=staff, name="review")
    async def show(
        self, request: PortalRequest, db_session: NamedDependency[AsyncSession], order_id: FromPath[int]
    ) -> Template:
        return await _review_page(request, db_session, order_id)

    @post("/orders/{order_id:int}/approve", guards=deciders, name="approve")
    async def approve(
        self, request: PortalRequest, db_session: NamedDependency[AsyncSession], order_id: FromPath[int],
        data: URLEncodedBody[dict[str, Any]],
    ) -> Template | Redirect:
        note = str(data.get("note", ""))
        try:
            order = await approvals.approve_order(
                db_session, request.user, order_id, note=note, warnings_confirmed=data.get("confirm_warnings") == "yes",
                today=seller_today(request), grace_days=settings_of(request).past_due_grace_days,
            )
        except LookupError:
            raise NotFoundException() from None
        except approvals.NotAllowed as refused:
            raise PermissionDeniedException(refused.message) from None
        except (approvals.DecisionRefused, MoveRefused) as refused:
            await discard_changes(request, db_session)
            return await _review_page(request, db_session, order_id, error=refused.message, note=note, status_code=409)
        await db_session.commit()
        if is_partial(request):
            return await _review_page(request, db_session, order_id)
        flash(request, gettext("Order %(number)s approved.") % {"number": order.number}, "success")
        return Redirect("/queue", status_code=303)

    @post("/orders/{order_id:int}/reject", guards=deciders, name="reject")
    async def reject(
        self, request: PortalRequest, db_session: NamedDependency[AsyncSession], order_id: FromPath[int],
        data: URLEncodedBody[dict[str, Any]],
    ) -> Template | Redirect:
        reason = str(data.get("reason", ""))
        try:
            order = await approvals.reject_order(db_session, request.user, order_id, reason=reason,
                                                 today=seller_today(request))
        except LookupError:
            raise NotFoundException() from None
        except approvals.NotAllowed as refused:
            raise PermissionDeniedException(refused.message) from None
        except (approvals.DecisionRefused, MoveRefused) as refused:
            await discard_changes(request, db_session)
            return await _review_page(request, db_session, order_id, error=refused.message, reason=reason,
                                      status_code=409 if isinstance(refused, MoveRefused) else 400)
        await db_session.commit()
        if is_partial(request):
            return await _review_page(request, db_session, order_id)
        flash(request, gettext("Order %(number)s rejected.") % {"number": order.number}, "success")
        return Redirect("/queue", status_code=303)

    @post("/bulk-approve", guards=deciders, name="bulk_approve")
    async def bulk(
        self, request: PortalRequest, db_session: NamedDependency[AsyncSession],
        data: URLEncodedBody[dict[str, Any]],
    ) -> Redirect:
        chosen = data.get("order_ids", [])
        chosen = chosen if isinstance(chosen, list) else [chosen]
        ids = [int(value) for value in chosen if str(value).isdigit() and len(str(value)) < 10]
        result = await approvals.bulk_approve(db_session, request.user, ids, today=seller_today(request),
                                              grace_days=settings_of(request).past_due_grace_days)
        await db_session.commit()
        if result.approved:
            flash(request, gettext("Approved: %(numbers)s.") % {"numbers": ", ".join(o.number for o in result.approved)},
                  "success")
        for _, message in result.skipped:
            flash(request, message, "error")
        if not ids:
            flash(request, gettext("Choose the orders to approve."), "error")
        return Redirect("/queue", status_code=303)

    @get("/cover", guards=[allow(Role.ACCOUNT_MANAGER)], name="cover")
    async def cover(self, request: PortalRequest, db_session: NamedDependency[AsyncSession]) -> Template:
        covers, colleagues = await approvals.covers_of(db_session, request.user, seller_today(request))
        return Template("queue/cover.html", context={"covers": covers, "colleagues": colleagues, "errors": {},
                                                     "form": {}})

    @post("/cover", guards=[allow(Role.ACCOUNT_MANAGER)], name="name_deputy")
    async def name_deputy(
        self, request: PortalRequest, db_session: NamedDependency[AsyncSession], data: URLEncodedBody[dict[str, Any]]
    ) -> Template | Redirect:
        deputy = str(data.get("deputy_id", ""))
        try:
            await approvals.name_deputy(
                db_session, request.user, int(deputy) if deputy.isdigit() and len(deputy) < 10 else None,
                _date(data.get("starts_on")), _date(data.get("ends_on")), seller_today(request),
            )
        except approvals.CoverInvalid as invalid:
            covers, colleagues = await approvals.covers_of(db_session, request.user, seller_today(request))
            return Template("queue/cover.html", context={"covers": covers, "colleagues": colleagues,
                                                         "errors": invalid.errors, "form": data}, status_code=400)
        await db_session.commit()
        flash(request, gettext("Your deputy is named."), "success")
        return Redirect("/queue/cover", status_code=303)

    @post("/cover/{cover_id:int}/end", guards=[allow(Role.ACCOUNT_MANAGER)], name="end_cover")
    async def end_cover(
        self, request: PortalRequest, db_session: NamedDependency[AsyncSession], cover_id: FromPath[int]
    ) -> Redirect:
        try:
            await approvals.end_cover(db_session, request.user, cover_id)
        except LookupError:
            raise NotFoundException() from None
        await db_session.commit()
        flash(request, gettext("The cover is removed."), "success")
        return Redirect("/queue/cover", status_code=303)
