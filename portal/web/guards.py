"""Who may open what: guards per role. Staff areas answer 403 to the wrong role;
another company's object answers 404 (see `portal.web.scoping`)."""

from __future__ import annotations

from typing import Any

from litestar.connection import ASGIConnection
from litestar.exceptions import PermissionDeniedException
from litestar.handlers import BaseRouteHandler
from litestar.types import Guard

from portal.i18n import gettext
from portal.models import Role, User

HOME_BY_ROLE: dict[Role, str] = {
    Role.BUYER: "/dashboard",
    Role.ACCOUNT_MANAGER: "/manager",
    Role.FINANCE: "/finance",
    Role.ADMIN: "/admin",
}
HOME_ROUTE: dict[Role, str] = {
    Role.BUYER: "dashboard",
    Role.ACCOUNT_MANAGER: "manager_home",
    Role.FINANCE: "finance_home",
    Role.ADMIN: "admin_home",
}
"""Each role's home page, by route name (for `url_for`)."""


def home_route(user: User) -> str:
    return HOME_ROUTE[user.role]


def allow(*roles: Role) -> Guard:
    allowed = frozenset(roles)

    def guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
        if connection.user.role not in allowed:
            raise PermissionDeniedException(gettext("This page is not available to your role."))

    guard.__name__ = "allow_" + "_".join(sorted(role.value for role in allowed))
    return guard


buyers_only = allow(Role.BUYER)
account_managers = allow(Role.ACCOUNT_MANAGER)
finance_staff = allow(Role.FINANCE, Role.ADMIN)
admins_only = allow(Role.ADMIN)
