"""The signed-in user's own account: the language the portal speaks to them (pages and e-mails;
automatic: the browser's), change the password (the current one required; the other sessions
end) and sign out everywhere (every session, this one included)."""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import URLEncodedBody
from litestar.plugins.flash import flash
from litestar.response import Redirect, Template
from sqlalchemy.ext.asyncio import AsyncSession

from portal import i18n
from portal.i18n import N_, gettext
from portal.services import accounts
from portal.services.passwords import MIN_PASSWORD_LENGTH
from portal.web.context import PortalRequest, render
from portal.web.errors import Refusal
from portal.web.inputs import Form, Text, Translated
from portal.web.sessions import client_address, signed_in_at, start_session, with_fresh_csrf_token

PasswordText = Annotated[Text, msgspec.Meta(max_length=accounts.PASSWORD_MAX_LENGTH)]


class PasswordChange(Form):
    current_password: PasswordText
    new_password: PasswordText
    repeat_password: PasswordText


AUTOMATIC = "auto"
"""The language choice that leaves it to the browser (stored as "")."""


class LanguageChoice(Form):
    messages: ClassVar[dict[str, str]] = Translated({"language": N_("Choose one of the languages.")})
    language: Literal["auto", "pl", "en"]


def _languages() -> list[tuple[str, str]]:
    """The choices, each language in its own words, after the one that follows the browser."""
    return [(AUTOMATIC, gettext("Automatic (the browser's language)")), *i18n.LANGUAGE_NAMES.items()]


async def _security_page(request: PortalRequest, refusal: Refusal | None = None) -> Template:
    errors = dict(refusal.errors) if refusal else {}
    return render(
        request,
        "account/password.html",
        {
            "errors": errors,
            "limits": {"password": accounts.PASSWORD_MAX_LENGTH, "min_password": MIN_PASSWORD_LENGTH},
            "languages": _languages(),
            "chosen": request.user.locale or AUTOMATIC,
        },
        status_code=refusal.status_code if refusal else 200,
    )


async def _password_again(request: Request[Any, Any, Any], db_session: AsyncSession, refusal: Refusal) -> Response[Any]:
    """The refused change, each message next to its field; the passwords are never shown again."""
    return await _security_page(request, refusal)


class AccountController(Controller):
    path = "/account"

    @get("/password", name="account_security")
    async def show(self, request: PortalRequest) -> Template:
        return await _security_page(request)

    @post("/password", name="change_password", opt={"form": _password_again})
    async def change_password(
        self, request: PortalRequest, db_session: NamedDependency[AsyncSession], data: URLEncodedBody[PasswordChange]
    ) -> Redirect:
        await accounts.change_password(
            db_session,
            request.user,
            current=data.current_password,
            new=data.new_password,
            repeat=data.repeat_password,
            address=client_address(request),
        )
        start_session(request, request.user, signed_in_at=signed_in_at(request))
        flash(request, gettext("Your password is changed. Your other sessions have ended."), "success")
        return Redirect(request.app.route_reverse("account_security"), status_code=303)

    @post("/language", name="choose_language", opt={"form": _password_again})
    async def choose_language(
        self, request: PortalRequest, db_session: NamedDependency[AsyncSession], data: URLEncodedBody[LanguageChoice]
    ) -> Redirect:
        chosen = await accounts.choose_language(
            db_session, request.user, "" if data.language == AUTOMATIC else data.language
        )
        with i18n.speaking(chosen or i18n.negotiate(request.headers.get("accept-language", ""))):
            flash(request, gettext("Your language is saved."), "success")
        return Redirect(request.app.route_reverse("account_security"), status_code=303)

    @post("/sign-out-everywhere", name="sign_out_everywhere")
    async def sign_out_everywhere(self, request: PortalRequest, db_session: NamedDependency[AsyncSession]) -> Redirect:
        await accounts.end_sessions(db_session, request.user)
        request.clear_session()
        return with_fresh_csrf_token(
            Redirect(request.app.route_reverse("login") + "?signed_out=true", status_code=303), request
        )
