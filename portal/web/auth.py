"""Sign in and sign out."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from litestar import Controller, get, post
from litestar.di import NamedDependency
from typing import Annotated

from litestar.params import FromQuery, QueryParameter, URLEncodedBody
from litestar.response import Redirect, Template
from sqlalchemy.ext.asyncio import AsyncSession

from portal.services.accounts import SignInRefused, authenticate
from portal.web.context import PortalRequest
from portal.web.guards import HOME_BY_ROLE
from portal.web.sessions import rotate_session_id


def safe_next(target: str | None) -> str | None:
    """Only a path on this site: never send a signed-in user to another host."""
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return None
    return target


class AuthController(Controller):
    @get("/login", name="login")
    async def login_page(
        self,
        request: PortalRequest,
        next_path: Annotated[str | None, QueryParameter(name="next")] = None,
        signed_out: FromQuery[bool] = False,
    ) -> Template | Redirect:
        if request.session.get("user_id"):
            return Redirect("/", status_code=303)
        return Template(
            "auth/login.html",
            context={"next": safe_next(next_path) or "", "email": "", "error": None, "signed_out": signed_out},
        )

    @post("/login")
    async def login(
        self,
        request: PortalRequest,
        db_session: NamedDependency[AsyncSession],
        data: URLEncodedBody[dict[str, Any]],
    ) -> Template | Redirect:
        email = str(data.get("email", "")).strip()
        target = safe_next(str(data.get("next", "")))
        try:
            user = await authenticate(db_session, email, str(data.get("password", "")))
        except SignInRefused as refused:
            await db_session.commit()
            return Template(
                "auth/login.html",
                context={"next": target or "", "email": email, "error": refused.message, "signed_out": False},
                status_code=400,
            )
        await db_session.commit()
        rotate_session_id(request)
        request.set_session({"user_id": user.id})
        return Redirect(target or HOME_BY_ROLE[user.role], status_code=303)

    @post("/logout", name="logout")
    async def logout(self, request: PortalRequest) -> Redirect:
        request.clear_session()
        return Redirect("/login?signed_out=true", status_code=303)
