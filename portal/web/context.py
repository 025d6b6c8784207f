"""What every request handler may ask for: the signed-in user, the settings and today."""

from __future__ import annotations

from datetime import date
from typing import Any, TypeAlias

from litestar import Request
from litestar.datastructures import State

from portal import clock
from portal.models import User
from portal.settings import Settings

PortalRequest: TypeAlias = Request[User, dict[str, Any], State]


def settings_of(request: PortalRequest) -> Settings:
    return request.app.state.settings


def seller_today(request: PortalRequest) -> date:
    return clock.today(settings_of(request).seller_zone)
