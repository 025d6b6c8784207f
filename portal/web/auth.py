"""Sign in and sign out.

A sign-in starts a new session (new id, new CSRF token) that carries its own lifetimes
(`portal.web.sessions`); the accounts service throttles by account and by client address.

The sign-in form is typed and bounded (`SignInForm`); a refusal, whether the framework's
(a 10,000-character address) or the accounts service's (wrong password, locked), shows
the form again with the message next to its field and the address kept. The failed-attempt
counter is committed by `accounts.authenticate` itself, so it survives the refusal."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlsplit

import msgspec
from litestar import Controller, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromQuery, QueryParameter, URLEncodedBody
from litestar.response import Redirect, Template
from sqlalchemy.ext.asyncio import AsyncSession

from portal.services import accounts
from portal.web.context import PortalRequest
from portal.web.errors import Refusal
from portal.web.guards import home_route
from portal.web.inputs import NO_NUL, Form, Text
from portal.web.sessions import client_address, start_session, with_fresh_csrf_token

NEXT_MAX_LENGTH = 500
"""The longest page address a sign-in sends the user back to."""

NextPath = Annotated[str | None, QueryParameter(name="next", max_length=NEXT_MAX_LENGTH, pattern=NO_NUL)]


def safe_next(target: str | None) -> str | None:
    """Only a path on this site: never send a signed-in user to another host."""
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return None
    return target


class SignInForm(Form):
    email: Annotated[Text, msgspec.Meta(max_length=accounts.EMAIL_MAX_LENGTH)]
    password: Annotated[Text, msgspec.Meta(max_length=accounts.PASSWORD_MAX_LENGTH)]
    next: Annotated[Text, msgspec.Meta(max_length=NEXT_MAX_LENGTH)] = ""

    @property
    def target(self) -> str | None:
        """Where to go after signing in: the page asked for, if it is a page of this site."""
        return safe_next(self.next)


def login_form(
    *,
    next_path: str | None = None,
    email: str = "",
    errors: dict[str, str] | None = None,
    signed_out: bool = False,
    status_code: int = 200,
) -> Template:
    context = {
        "next": safe_next(next_path) or "",
        "email": email,
        "errors": errors or {},
        "signed_out": signed_out,
        "limits": {"email": accounts.EMAIL_MAX_LENGTH, "password": accounts.PASSWORD_MAX_LENGTH},
    }
    return Template("auth/login.html", context=context, status_code=status_code)


def _typed(refusal: Refusal, name: str) -> str:
    value: Any = refusal.entered.get(name, "")
    return value if isinstance(value, str) else ""


async def login_form_again(request: PortalRequest, db_session: AsyncSession, refusal: Refusal) -> Response[Any]:
    """The refused sign-in: the message next to its field, the address kept, never the password."""
    return login_form(
        next_path=_typed(refusal, "next"),
        email=_typed(refusal, "email"),
        errors=refusal.errors or {"": refusal.message},
        status_code=refusal.status_code,
    )


class AuthController(Controller):
    @get("/login", name="login")
    async def login_page(
        self, request: PortalRequest, next_path: NextPath = None, signed_out: FromQuery[bool] = False
    ) -> Template | Redirect:
        if request.session.get("user_id"):
            return Redirect(request.app.route_reverse("home"), status_code=303)
        return login_form(next_path=next_path, signed_out=signed_out)

    @post("/login", name="sign_in", opt={"form": login_form_again})
    async def login(
        self, request: PortalRequest, db_session: NamedDependency[AsyncSession], data: URLEncodedBody[SignInForm]
    ) -> Redirect:
        user = await accounts.authenticate(db_session, data.email, data.password, address=client_address(request))
        start_session(request, user)
        return with_fresh_csrf_token(
            Redirect(data.target or request.app.route_reverse(home_route(user)), status_code=303), request
        )

    @post("/logout", name="logout")
    async def logout(self, request: PortalRequest) -> Redirect:
        request.clear_session()
        return Redirect(request.app.route_reverse("login") + "?signed_out=true", status_code=303)
