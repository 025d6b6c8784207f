"""The approval queue and the order review: decide inline with htmx (approve with an optional
note, reject with a reason, cancel an approved order with a reason), bulk approval, and
out-of-office cover.

Every value is typed at the edge (`QueueFilter` from the query, the forms below); refusals are
the services' exceptions, shown by the app's error mapper on the page the form was on."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

import msgspec
from litestar import Controller, Response, get, post
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, FromQuery, QueryParameter, URLEncodedBody
from litestar.plugins.flash import flash
from litestar.response import Redirect, Template
from sqlalchemy.ext.asyncio import AsyncSession

from portal.i18n import N_, gettext
from portal.models import FlagKind, Order, Role
from portal.services import approvals, covers
from portal.services.approvals import BulkResult, QueueFilter, Skipped
from portal.services.flags import Policy
from portal.settings import Settings
from portal.web import inputs
from portal.web.context import PortalRequest, is_partial, render, seller_today, settings_of
from portal.web.errors import Refusal
from portal.web.formatting import flag_text, margin_note
from portal.web.guards import allow
from portal.web.inputs import Day, Form, FormId, Id, IdList, Text
from portal.web.scoping import sees_order

deciders = [allow(Role.ACCOUNT_MANAGER, Role.ADMIN)]
staff = [allow(Role.ACCOUNT_MANAGER, Role.ADMIN, Role.FINANCE)]
managers = [allow(Role.ACCOUNT_MANAGER)]

DecisionText = Annotated[Text, msgspec.Meta(max_length=approvals.NOTE_MAX)]
CompanyQuery = Annotated[int | None, QueryParameter(name="company", ge=1, le=inputs.MAX_ID)]
"""`?company=`: named apart from the app's `company` dependency (a buyer's own company)."""
ManagerQuery = Annotated[int | None, QueryParameter(name="manager", ge=1, le=inputs.MAX_ID)]

FLAG_LABELS = {
    FlagKind.EXCEEDS_CREDIT: N_("Exceeds available credit"),
    FlagKind.PAST_DUE: N_("Company past due"),
    FlagKind.ON_HOLD: N_("Company on hold"),
    FlagKind.BELOW_MARGIN_FLOOR: N_("Below the margin floor"),
    FlagKind.UNUSUAL_QUANTITY: N_("Unusual quantity"),
    FlagKind.PRICE_CHANGED: N_("Price changed"),
    FlagKind.FIRST_ORDER: N_("First order"),
    FlagKind.NOT_SOLD: N_("Product no longer sold"),
    FlagKind.OUTSIDE_AGREEMENT: N_("Outside the agreement"),
    FlagKind.OUTSIDE_AGREEMENT_BLOCKING: N_("Outside the agreement (blocking)"),
}
"""The queue filter's choices; translated when the page is drawn."""


class ApproveForm(Form):
    note: DecisionText = ""
    confirm_warnings: inputs.Flag | None = None

    @property
    def confirmed(self) -> bool:
        """The approver ticked "I have reviewed these warnings"."""
        return self.confirm_warnings is not None


class RejectForm(Form):
    reason: DecisionText = ""
    """Required: left empty, the service says so next to the field."""


class CancelForm(Form):
    reason: DecisionText = ""
    """Required, as for a rejection: the buyers read it."""


class BulkApproveForm(Form):
    order_ids: IdList = msgspec.field(default_factory=IdList)


class CoverForm(Form):
    deputy_id: FormId | None = None
    starts_on: Day | None = None
    ends_on: Day | None = None


def queue_filter(
    company_id: CompanyQuery = None, flag: FromQuery[FlagKind | None] = None, manager_id: ManagerQuery = None
) -> QueueFilter:
    """The queue's filter from `?company=…&flag=…&manager=…`, each typed and bounded."""
    return QueueFilter(company_id=company_id, flag=flag, manager_id=manager_id)


def flag_policy(today: NamedDependency[date], settings: NamedDependency[Settings]) -> Policy:
    """The day and settings flags are read with, for this request."""
    return Policy(today, settings.past_due_grace_days, settings.margin_floor_pct)


def _policy_of(request: PortalRequest) -> Policy:
    """The same, for the form pages the error mapper calls without dependencies."""
    return flag_policy(seller_today(request), settings_of(request))


async def queue_page(request: PortalRequest, db_session: AsyncSession, wanted: QueueFilter, policy: Policy) -> Template:
    queue = await approvals.approval_queue(db_session, request.user, wanted, policy)
    choices = [(kind, gettext(label)) for kind, label in FLAG_LABELS.items()]
    return Template("queue/index.html", context={"queue": queue, "flag_choices": choices})


async def review_page(
    request: PortalRequest, db_session: AsyncSession, order_id: int, policy: Policy, refusal: Refusal | None = None
) -> Template:
    """The review page, or for htmx its decision box; a refused decision shows its message next to
    its field, with what was typed."""
    review = await approvals.review(db_session, request.user, order_id, policy)
    context: dict[str, Any] = {
        "review": review,
        "errors": refusal.errors if refusal else {},
        "entered": refusal.entered if refusal else {},
        "note_max": approvals.NOTE_MAX,
        "margin_note": margin_note(review.standing) if review.standing is not None else "",
    }
    return render(
        request,
        "queue/review.html",
        context,
        partial="queue/_partials/decision.html",
        status_code=refusal.status_code if refusal else 200,
    )


async def review_again(request: PortalRequest, db_session: AsyncSession, refusal: Refusal) -> Response[Any]:
    order_id: int = request.path_params["order_id"]
    return await review_page(request, db_session, order_id, _policy_of(request), refusal)


async def _decided(
    request: PortalRequest, db_session: AsyncSession, order: Order, policy: Policy, message: str
) -> Response[Any]:
    """After a decision: htmx swaps in the decided box; a plain form goes back to the queue."""
    if is_partial(request):
        return await review_page(request, db_session, order.id, policy)
    flash(request, message % {"number": order.number}, "success")
    return Redirect(request.app.route_reverse("queue"), status_code=303)


def skipped_text(skipped: Skipped) -> str:
    """ "ORD-2026-000123 not approved: Exceeds available credit by PLN 1,234.00 (…)"."""
    reason = " ".join(flag_text(flag, skipped.order.currency) for flag in skipped.blockers) or skipped.reason
    return gettext("%(number)s not approved: %(reason)s") % {"number": skipped.order.number, "reason": reason}


def _tell_bulk(request: PortalRequest, result: BulkResult) -> None:
    if result.approved:
        numbers = ", ".join(order.number for order in result.approved)
        flash(request, gettext("Approved: %(numbers)s.") % {"numbers": numbers}, "success")
    for skipped in result.skipped:
        flash(request, skipped_text(skipped), "error")


async def cover_page(
    request: PortalRequest, db_session: AsyncSession, today: date, refusal: Refusal | None = None
) -> Template:
    page = await covers.covers_of(db_session, request.user, today)
    context = {
        "covers": page,
        "errors": refusal.errors if refusal else {},
        "entered": refusal.entered if refusal else {},
    }
    return Template("queue/cover.html", context=context, status_code=refusal.status_code if refusal else 200)


async def cover_again(request: PortalRequest, db_session: AsyncSession, refusal: Refusal) -> Response[Any]:
    return await cover_page(request, db_session, seller_today(request), refusal)


class QueueController(Controller):
    path = "/queue"
    dependencies = {"policy": Provide(flag_policy, sync_to_thread=False)}

    @get("/", guards=deciders, name="queue", dependencies={"wanted": Provide(queue_filter, sync_to_thread=False)})
    async def index(
        self,
        request: PortalRequest,
        db_session: NamedDependency[AsyncSession],
        wanted: NamedDependency[QueueFilter],
        policy: NamedDependency[Policy],
    ) -> Template:
        return await queue_page(request, db_session, wanted, policy)

    @get("/orders/{order_id:int}", guards=staff, name="review")
    async def show(
        self,
        request: PortalRequest,
        db_session: NamedDependency[AsyncSession],
        order_id: FromPath[Id],
        policy: NamedDependency[Policy],
    ) -> Template:
        """No scope guard: `approvals.review` reads the order only among the companies this user
        sees (any other is `NotFound`), in the statement that loads it."""
        return await review_page(request, db_session, order_id, policy)

    @post(
        "/orders/{order_id:int}/approve", guards=[*deciders, sees_order()], name="approve", opt={"form": review_again}
    )
    async def approve(
        self,
        request: PortalRequest,
        db_session: NamedDependency[AsyncSession],
        order_id: FromPath[Id],
        data: URLEncodedBody[ApproveForm],
        policy: NamedDependency[Policy],
    ) -> Response[Any]:
        order = await approvals.approve_order(
            db_session, request.user, order_id, policy, note=data.note, warnings_confirmed=data.confirmed
        )
        return await _decided(request, db_session, order, policy, gettext("Order %(number)s approved."))

    @post("/orders/{order_id:int}/reject", guards=[*deciders, sees_order()], name="reject", opt={"form": review_again})
    async def reject(
        self,
        request: PortalRequest,
        db_session: NamedDependency[AsyncSession],
        order_id: FromPath[Id],
        data: URLEncodedBody[RejectForm],
        policy: NamedDependency[Policy],
    ) -> Response[Any]:
        order = await approvals.reject_order(db_session, request.user, order_id, reason=data.reason, today=policy.today)
        return await _decided(request, db_session, order, policy, gettext("Order %(number)s rejected."))

    @post(
        "/orders/{order_id:int}/cancel",
        guards=[*deciders, sees_order()],
        name="cancel_approved",
        opt={"form": review_again},
    )
    async def cancel(
        self,
        request: PortalRequest,
        db_session: NamedDependency[AsyncSession],
        order_id: FromPath[Id],
        data: URLEncodedBody[CancelForm],
        policy: NamedDependency[Policy],
    ) -> Response[Any]:
        order = await approvals.cancel_approved(
            db_session, request.user, order_id, reason=data.reason, today=policy.today
        )
        return await _decided(request, db_session, order, policy, gettext("Order %(number)s cancelled."))

    @post("/bulk-approve", guards=deciders, name="bulk_approve")
    async def bulk(
        self,
        request: PortalRequest,
        db_session: NamedDependency[AsyncSession],
        data: URLEncodedBody[BulkApproveForm],
        policy: NamedDependency[Policy],
    ) -> Redirect:
        _tell_bulk(request, await approvals.bulk_approve(db_session, request.user, data.order_ids, policy))
        return Redirect(request.app.route_reverse("queue"), status_code=303)

    @get("/cover", guards=managers, name="cover")
    async def cover(
        self, request: PortalRequest, db_session: NamedDependency[AsyncSession], today: NamedDependency[date]
    ) -> Template:
        return await cover_page(request, db_session, today)

    @post("/cover", guards=managers, name="name_deputy", opt={"form": cover_again})
    async def name_deputy(
        self,
        request: PortalRequest,
        db_session: NamedDependency[AsyncSession],
        data: URLEncodedBody[CoverForm],
        today: NamedDependency[date],
    ) -> Redirect:
        await covers.name_deputy(db_session, request.user, data.deputy_id, data.starts_on, data.ends_on, today)
        flash(request, gettext("Your deputy is named."), "success")
        return Redirect(request.app.route_reverse("cover"), status_code=303)

    @post("/cover/{cover_id:int}/end", guards=managers, name="end_cover")
    async def end_cover(
        self, request: PortalRequest, db_session: NamedDependency[AsyncSession], cover_id: FromPath[Id]
    ) -> Redirect:
        await covers.end_cover(db_session, request.user, cover_id)
        flash(request, gettext("The cover is removed."), "success")
        return Redirect(request.app.route_reverse("cover"), status_code=303)
