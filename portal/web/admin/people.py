"""Admin: users and invitations, assignments and covers; and the public pages a link from an
e-mail opens (following an invitation, a forgotten password).

Every form is a typed struct; a refused one comes back on its own page (`opt={"form": ...}`) with
the message next to its field and what was typed kept (400), nothing saved. A link that is
unknown, used, expired or withdrawn answers one page, 410, and changes nothing."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, ClassVar, Literal

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, FromQuery, Parameter, QueryParameter, URLEncodedBody
from litestar.plugins.flash import flash
from litestar.response import Redirect, Template
from sqlalchemy.ext.asyncio import AsyncSession

from portal import clock
from portal.i18n import N_, gettext
from portal.models import Role, TokenPurpose
from portal.services import accounts, covers, invitations, people
from portal.services.invitations import Invitee, LinkInvalid
from portal.services.listing import ListQuery
from portal.services.passwords import MIN_PASSWORD_LENGTH
from portal.web.admin.listing import SortKey, list_query
from portal.web.context import PortalRequest, render, settings_of
from portal.web.errors import Refusal
from portal.web.guards import admins_only
from portal.web.inputs import (
    MAX_ID,
    Day,
    Form,
    FormId,
    Id,
    IdList,
    MaybeId,
    PageNo,
    QueryText,
    Text,
    Translated,
    path_id,
)
from portal.web.sessions import client_address

Email = Annotated[Text, msgspec.Meta(max_length=accounts.EMAIL_MAX_LENGTH)]
Name = Annotated[Text, msgspec.Meta(max_length=invitations.NAME_MAX_LENGTH)]
Password = Annotated[Text, msgspec.Meta(max_length=accounts.PASSWORD_MAX_LENGTH)]
Token = Annotated[str, Parameter(max_length=invitations.TOKEN_MAX_LENGTH)]
CompanyQuery = Annotated[int | None, QueryParameter(name="company", ge=1, le=MAX_ID)]
"""`?company=`: named apart from the app's `company` dependency (a buyer's own company)."""
ManagerQuery = Annotated[int | None, QueryParameter(name="manager", ge=0, le=MAX_ID)]
"""`?manager=`: one manager's companies; 0: the companies without a manager."""
CoverState = Annotated[Literal["current", "future", "ended", "all"] | None, QueryParameter(name="state")]
"""`?state=` of the covers list (`state` itself names the app's state); none: current and future."""


# Form bodies.
class InvitationForm(Form):
    messages: ClassVar[dict[str, str]] = Translated(
        {"role": N_("Choose a role."), "company_id": N_("Choose a company from the list.")}
    )
    email: Email
    full_name: Name
    role: Role
    company_id: FormId | None = None


class RoleForm(Form):
    messages: ClassVar[dict[str, str]] = Translated({"role": N_("Choose a staff role.")})
    role: Role


class ReassignForm(Form):
    messages: ClassVar[dict[str, str]] = Translated({"manager_id": N_("Choose an active account manager.")})
    company_ids: IdList = msgspec.field(default_factory=IdList)
    manager_id: FormId | None = None


class CoverForm(Form):
    manager_id: FormId | None = None
    deputy_id: FormId | None = None
    starts_on: Day | None = None
    ends_on: Day | None = None


class PasswordForm(Form):
    password: Password
    repeat_password: Password


class ForgotForm(Form):
    email: Email


def _errors(refusal: Refusal | None) -> dict[str, Any]:
    return {
        "errors": refusal.errors if refusal else {},
        "entered": refusal.entered if refusal else {},
        "message": refusal.message if refusal else "",
    }


def _status(refusal: Refusal | None) -> int:
    return refusal.status_code if refusal else 200


def _roles(roles: tuple[Role, ...] = tuple(Role)) -> list[tuple[str, str]]:
    return [(role.value, people.role_label(role)) for role in roles]


def _today(request: PortalRequest) -> date:
    return clock.today(settings_of(request).seller_zone)


# Users.
def user_filter(
    role: FromQuery[Role | None] = None,
    company_id: CompanyQuery = None,
    active: FromQuery[Literal["yes", "no"] | None] = None,
) -> people.UserFilter:
    return people.UserFilter(role, company_id, None if active is None else active == "yes")


async def users_page(
    request: PortalRequest, db_session: AsyncSession, query: ListQuery, wanted: people.UserFilter
) -> Template:
    shown = query.with_filters(
        role=wanted.role.value if wanted.role else None,
        company=wanted.company_id,
        active=None if wanted.active is None else ("yes" if wanted.active else "no"),
    )
    context = {
        "page": await people.users(db_session, shown, wanted),
        "companies": await people.companies_to_choose(db_session),
        "roles": _roles(),
        "role_label": people.role_label,
    }
    return render(request, "admin/people/users.html", context)


async def user_page(
    request: PortalRequest, db_session: AsyncSession, user_id: int, refusal: Refusal | None = None
) -> Template:
    details = await people.user_page(db_session, user_id)
    context = {
        "details": details,
        "user_shown": details.user,
        "is_buyer": details.user.role is Role.BUYER,
        "is_self": details.user.id == request.user.id,
        "current_role": details.user.role.value,
        "staff_roles": _roles(people.STAFF_ROLES),
        "role_label": people.role_label,
        **_errors(refusal),
    }
    return render(request, "admin/people/user.html", context, status_code=_status(refusal))


async def user_again(request: PortalRequest, db_session: AsyncSession, refusal: Refusal) -> Response[Any]:
    return await user_page(request, db_session, path_id(request.path_params["user_id"]), refusal)


# Invitations.
async def invitation_form(request: PortalRequest, db_session: AsyncSession, refusal: Refusal | None = None) -> Template:
    context = {
        "companies": await people.companies_to_choose(db_session, active_only=True),
        "roles": _roles(),
        "buyer_role": Role.BUYER.value,
        "hours": int(invitations.INVITATION_VALID.total_seconds() // 3600),
        **_errors(refusal),
    }
    return render(request, "admin/people/invitation_new.html", context, status_code=_status(refusal))


async def invitation_again(request: PortalRequest, db_session: AsyncSession, refusal: Refusal) -> Response[Any]:
    return await invitation_form(request, db_session, refusal)


async def invitations_page(
    request: PortalRequest, db_session: AsyncSession, query: ListQuery, refusal: Refusal | None = None
) -> Template:
    context = {"page": await invitations.invitations(db_session, query), "role_label": people.role_label}
    return render(
        request, "admin/people/invitations.html", {**context, **_errors(refusal)}, status_code=_status(refusal)
    )


async def invitations_again(request: PortalRequest, db_session: AsyncSession, refusal: Refusal) -> Response[Any]:
    return await invitations_page(request, db_session, ListQuery(), refusal)


# Assignments and covers.
def assignment_query(
    q: FromQuery[QueryText] = "",
    sort: FromQuery[SortKey] = "",
    direction: FromQuery[Literal["asc", "desc"]] = "asc",
    page: FromQuery[PageNo] = 1,
    manager: ManagerQuery = None,
) -> ListQuery:
    """`?q=…&manager=3&sort=manager&direction=desc&page=2` (`manager=0`: companies without one)."""
    return list_query(q, sort, direction, page).with_filters(manager=manager)


def cover_query(
    q: FromQuery[QueryText] = "",
    sort: FromQuery[SortKey] = "",
    direction: FromQuery[Literal["asc", "desc"]] = "asc",
    page: FromQuery[PageNo] = 1,
    manager: FromQuery[MaybeId] = None,
    cover_state: CoverState = None,
) -> ListQuery:
    """`?q=…&manager=3&state=ended&sort=ends&direction=desc&page=2` (no state: current and future)."""
    return list_query(q, sort, direction, page).with_filters(manager=manager, state=cover_state or "")


async def assignments_page(
    request: PortalRequest, db_session: AsyncSession, wanted: ListQuery, refusal: Refusal | None = None
) -> Template:
    chosen = refusal.entered.get("company_ids", []) if refusal else []
    context = {
        "chosen": {chosen} if isinstance(chosen, str) else set(chosen),
        "found": await people.assignment_list(db_session, wanted),
        "managers": await covers.account_managers(db_session),
        "manager_filter": wanted.filter("manager"),
        "no_manager": people.NO_MANAGER,
        **_errors(refusal),
    }
    return render(request, "admin/people/assignments.html", context, status_code=_status(refusal))


async def assignments_again(request: PortalRequest, db_session: AsyncSession, refusal: Refusal) -> Response[Any]:
    return await assignments_page(request, db_session, ListQuery(), refusal)


async def covers_page(
    request: PortalRequest, db_session: AsyncSession, wanted: ListQuery, refusal: Refusal | None = None
) -> Template:
    context = {
        "found": await covers.cover_list(db_session, wanted, _today(request)),
        "states": [
            ("", gettext("Current and future")),
            ("current", gettext("Current")),
            ("future", gettext("Future")),
            ("ended", gettext("Ended")),
            ("all", gettext("All")),
        ],
        "managers": await covers.account_managers(db_session),
        "max_days": covers.MAX_DAYS_AHEAD,
        **_errors(refusal),
    }
    return render(request, "admin/people/covers.html", context, status_code=_status(refusal))


async def covers_again(request: PortalRequest, db_session: AsyncSession, refusal: Refusal) -> Response[Any]:
    return await covers_page(request, db_session, ListQuery(), refusal)


def _to(request: PortalRequest, route: str, message: str, **params: Any) -> Redirect:
    flash(request, message, "success")
    return Redirect(request.app.route_reverse(route, **params), status_code=303)


class PeopleController(Controller):
    path = "/admin"
    guards = [admins_only]

    @get("/users", name="admin_users", dependencies={"listing": Provide(list_query, sync_to_thread=False),
         "wanted": Provide(user_filter, sync_to_thread=False)})  # fmt: skip
    async def users(
        self,
        request: PortalRequest,
        db_session: NamedDependency[AsyncSession],
        listing: NamedDependency[ListQuery],
        wanted: NamedDependency[people.UserFilter],
    ) -> Template:
        return await users_page(request, db_session, listing, wanted)

    @get("/users/{user_id:int}", name="admin_user")
    async def user(
        self, request: PortalRequest, db_session: NamedDependency[AsyncSession], user_id: FromPath[Id]
    ) -> Template:
        return await user_page(request, db_session, user_id)

    @get("/invitations", name="admin_invitations", dependencies={"listing": Provide(list_query, sync_to_thread=False)})
    async def invitations(
        self, request: PortalRequest, db_session: NamedDependency[AsyncSession], listing: NamedDependency[ListQuery]
    ) -> Template:
        return await invitations_page(request, db_session, listing)

    @get("/invitations/new", name="new_invitation")
    async def new_invitation(self, request: PortalRequest, db_session: NamedDependency[AsyncSession]) -> Template:
        return await invitation_form(request, db_session)

    @post("/invitations", name="send_invitation", opt={"form": invitation_again})
    async def invite(
        self,
        request: PortalRequest,
        db_session: NamedDependency[AsyncSession],
        data: URLEncodedBody[InvitationForm],
    ) -> Redirect:
        invitee = Invitee(data.email, data.full_name, data.role, data.company_id)
        invitation = await invitations.invite(db_session, request.user, invitee)
        message = gettext("Invitation sent to %(email)s.") % {"email": invitation.email}
        return _to(request, "admin_invitations", message)

    @post("/invitations/{invitation_id:int}/resend", name="resend_invitation", opt={"form": invitations_again})
    async def resend(
        self, request: PortalRequest, db_session: NamedDependency[AsyncSession], invitation_id: FromPath[Id]
    ) -> Redirect:
        invitation = await invitations.resend(db_session, request.user, invitation_id)
        message = gettext("A new link was sent to %(email)s; the old one no longer works.") % {
            "email": invitation.email
        }
        return _to(request, "admin_invitations", message)

    @post("/invitations/{invitation_id:int}/withdraw", name="withdraw_invitation", opt={"form": invitations_again})
    async def withdraw(
        self, request: PortalRequest, db_session: NamedDependency[AsyncSession], invitation_id: FromPath[Id]
    ) -> Redirect:
        invitation = await invitations.withdraw(db_session, request.user, invitation_id)
        message = gettext("The invitation to %(email)s is withdrawn.") % {"email": invitation.email}
        return _to(request, "admin_invitations", message)

    @get(
        "/assignments",
        name="admin_assignments",
        dependencies={"wanted": Provide(assignment_query, sync_to_thread=False)},
    )
    async def assignments(
        self, request: PortalRequest, db_session: NamedDependency[AsyncSession], wanted: NamedDependency[ListQuery]
    ) -> Template:
        return await assignments_page(request, db_session, wanted)

    @post("/assignments", name="reassign_companies", opt={"form": assignments_again})
    async def reassign(
        self, request: PortalRequest, db_session: NamedDependency[AsyncSession], data: URLEncodedBody[ReassignForm]
    ) -> Redirect:
        moved = await people.reassign(db_session, request.user, data.company_ids, data.manager_id)
        return _to(
            request, "admin_assignments", gettext("Companies given to their new manager: %(num)d.") % {"num": moved}
        )

    @get("/covers", name="admin_covers", dependencies={"wanted": Provide(cover_query, sync_to_thread=False)})
    async def covers(
        self, request: PortalRequest, db_session: NamedDependency[AsyncSession], wanted: NamedDependency[ListQuery]
    ) -> Template:
        return await covers_page(request, db_session, wanted)

    @post("/covers", name="set_cover", opt={"form": covers_again})
    async def set_cover(
        self,
        request: PortalRequest,
        db_session: NamedDependency[AsyncSession],
        data: URLEncodedBody[CoverForm],
        today: NamedDependency[date],
    ) -> Redirect:
        days = (data.starts_on, data.ends_on, today)
        await covers.set_cover(db_session, request.user, data.manager_id, data.deputy_id, *days)
        return _to(request, "admin_covers", gettext("The cover is set."))

    @post("/covers/{cover_id:int}/remove", name="remove_cover")
    async def remove_cover(
        self, request: PortalRequest, db_session: NamedDependency[AsyncSession], cover_id: FromPath[Id]
    ) -> Redirect:
        await covers.remove_cover(db_session, request.user, cover_id)
        return _to(request, "admin_covers", gettext("The cover is removed."))

    @post("/users/{user_id:int}/role", name="change_user_role", opt={"form": user_again})
    async def change_role(
        self,
        request: PortalRequest,
        db_session: NamedDependency[AsyncSession],
        user_id: FromPath[Id],
        data: URLEncodedBody[RoleForm],
    ) -> Redirect:
        user = await people.change_role(db_session, request.user, user_id, data.role)
        return _to(request, "admin_user", gettext("Role changed."), user_id=user.id)

    @post("/users/{user_id:int}/reactivate", name="reactivate_user", opt={"form": user_again})
    async def reactivate(
        self, request: PortalRequest, db_session: NamedDependency[AsyncSession], user_id: FromPath[Id]
    ) -> Redirect:
        await people.reactivate(db_session, request.user, user_id)
        return _to(request, "admin_user", gettext("The user can sign in again."), user_id=user_id)

    @post("/users/{user_id:int}/deactivate", name="deactivate_user", opt={"form": user_again})
    async def deactivate(
        self, request: PortalRequest, db_session: NamedDependency[AsyncSession], user_id: FromPath[Id]
    ) -> Redirect:
        await people.deactivate(db_session, request.user, user_id)
        return _to(request, "admin_user", gettext("The user is deactivated and signed out."), user_id=user_id)


# The public pages of the links.
def _link_page(purpose: TokenPurpose, context: dict[str, Any], status_code: int = 200) -> Template:
    template = "auth/join.html" if purpose is TokenPurpose.INVITATION else "auth/reset.html"
    values = {"min_length": MIN_PASSWORD_LENGTH, "hours": int(invitations.RESET_VALID.total_seconds() // 3600)}
    return Template(template, context={"gone": False, **values, **context}, status_code=status_code)


def link_gone(_: Request[Any, Any, Any], exc: LinkInvalid) -> Response[Any]:
    """Unknown, used, expired or withdrawn: one page, 410, and nothing happened."""
    return _link_page(exc.purpose, {"gone": True, "errors": {}}, status_code=410)


async def password_again(request: PortalRequest, db_session: AsyncSession, refusal: Refusal) -> Response[Any]:
    """The password form again with its message; a link that is no longer valid says so instead."""
    invitation = request.route_handler.name == "accept_invitation"
    purpose = TokenPurpose.INVITATION if invitation else TokenPurpose.PASSWORD_RESET
    token = request.path_params.get("token", "")
    found = await invitations.valid_link(db_session, token, purpose)
    if found is None:
        return _link_page(purpose, {"gone": True, "errors": {}}, status_code=410)
    errors = refusal.errors or {"": refusal.message}
    return _link_page(purpose, {"link": found, "token": token, "errors": errors}, refusal.status_code)


def forgot_page(*, sent: bool = False, refusal: Refusal | None = None) -> Template:
    context = {"sent": sent, "hours": int(invitations.RESET_VALID.total_seconds() // 3600), **_errors(refusal)}
    return Template("auth/forgot.html", context=context, status_code=_status(refusal))


async def forgot_again(_: PortalRequest, __: AsyncSession, refusal: Refusal) -> Response[Any]:
    return forgot_page(refusal=refusal)


class PublicAccessController(Controller):
    """Open without signing in (see `PUBLIC_PATHS` in `portal.app`)."""

    exception_handlers = {LinkInvalid: link_gone}

    @get("/join/{token:str}", name="join", exclude_from_auth=True)
    async def join(self, db_session: NamedDependency[AsyncSession], token: FromPath[Token]) -> Template:
        invitation = await invitations.opened(db_session, token, TokenPurpose.INVITATION)
        return _link_page(TokenPurpose.INVITATION, {"link": invitation, "token": token, "errors": {}})

    @post("/join/{token:str}", name="accept_invitation", exclude_from_auth=True, opt={"form": password_again})
    async def accept(
        self, request: PortalRequest, db_session: NamedDependency[AsyncSession], token: FromPath[Token],
        data: URLEncodedBody[PasswordForm],
    ) -> Redirect:  # fmt: skip
        await invitations.accept(db_session, token, data.password, data.repeat_password)
        flash(request, gettext("Your password is set; sign in."), "success")
        return Redirect(request.app.route_reverse("login"), status_code=303)

    @get("/password/forgot", name="forgot_password", exclude_from_auth=True)
    async def forgot(self) -> Template:
        return forgot_page()

    @post("/password/forgot", name="request_password_link", exclude_from_auth=True, opt={"form": forgot_again})
    async def ask(
        self, request: PortalRequest, db_session: NamedDependency[AsyncSession], data: URLEncodedBody[ForgotForm]
    ) -> Template:
        await invitations.request_reset(db_session, data.email, address=client_address(request))
        return forgot_page(sent=True)

    @get("/password/reset/{token:str}", name="reset_password", exclude_from_auth=True)
    async def reset(self, db_session: NamedDependency[AsyncSession], token: FromPath[Token]) -> Template:
        found = await invitations.opened(db_session, token, TokenPurpose.PASSWORD_RESET)
        return _link_page(TokenPurpose.PASSWORD_RESET, {"link": found, "token": token, "errors": {}})

    @post("/password/reset/{token:str}", name="set_new_password", exclude_from_auth=True, opt={"form": password_again})
    async def set_password(
        self, request: PortalRequest, db_session: NamedDependency[AsyncSession], token: FromPath[Token],
        data: URLEncodedBody[PasswordForm],
    ) -> Redirect:  # fmt: skip
        await invitations.reset_password(db_session, token, data.password, data.repeat_password)
        flash(request, gettext("Your new password is set; sign in."), "success")
        return Redirect(request.app.route_reverse("login"), status_code=303)
