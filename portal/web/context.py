"""What every request handler may ask for, provided once for the whole app: the signed-in
user, the settings, today in the seller's calendar, the buyer's company; and the one
helper that renders a page or, for htmx, its fragment."""

from __future__ import annotations

from datetime import date
from typing import Any, TypeAlias

from litestar import Request
from litestar.datastructures import State
from litestar.di import Provide
from litestar.response import Template

from portal import clock
from portal.models import Company, User
from portal.settings import Settings

PortalRequest: TypeAlias = Request[User, dict[str, Any], State]


def settings_of(request: PortalRequest) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def seller_today(request: PortalRequest) -> date:
    return clock.today(settings_of(request).seller_zone)


def _provide_settings(request: PortalRequest) -> Settings:
    return settings_of(request)


def _provide_today(request: PortalRequest) -> date:
    return seller_today(request)


def _provide_company(request: PortalRequest) -> Company | None:
    return request.user.company


DEPENDENCIES = {
    "settings": Provide(_provide_settings, sync_to_thread=False),
    "today": Provide(_provide_today, sync_to_thread=False),
    "company": Provide(_provide_company, sync_to_thread=False),
}
"""Handlers declare `settings: NamedDependency[Settings]`, `today: NamedDependency[date]`,
`company: NamedDependency[Company]` (a buyer's own company)."""


def is_partial(request: PortalRequest) -> bool:
    """An htmx request that swaps a fragment; a history restore needs the whole page."""
    headers = request.headers
    return headers.get("hx-request") == "true" and headers.get("hx-history-restore-request") != "true"


def render(
    request: PortalRequest,
    template: str,
    context: dict[str, Any],
    *,
    partial: str | None = None,
    status_code: int = 200,
) -> Template:
    """The page, or for an htmx request its fragment `partial` (status 200, so htmx swaps it in
    even when it shows a refusal). Either way the answer varies with `HX-Request`."""
    if partial is not None and is_partial(request):
        return Template(partial, context=context, headers={"Vary": "HX-Request"})
    headers = {"Vary": "HX-Request"} if partial is not None else None
    return Template(template, context=context, status_code=status_code, headers=headers)
