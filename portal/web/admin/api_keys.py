"""Admin: the ERP's API keys at `/admin/api-keys`: the list (what each key may read and write,
when it was last used, whether it still works), creating one and revoking one.

A new key's secret is shown once, in the answer to the form that made it (never in a link, a
flash message or a later page; the answer is not cached), because only its keyed hash is kept.
A revoked key is refused from its next call on. A refused form comes back on the list's page with
each message next to its field and what was typed kept (400), nothing saved."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Annotated, Any

import msgspec
from litestar import Controller, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, URLEncodedBody
from litestar.plugins.flash import flash
from litestar.response import Redirect, Template
from sqlalchemy.ext.asyncio import AsyncSession

from portal import clock
from portal.i18n import gettext
from portal.models import ApiKey
from portal.services import api_keys
from portal.services.api_keys import Access, KeyRecord, KeyState, Resource
from portal.settings import Settings
from portal.web.api import OPENAPI_CONFIG
from portal.web.context import PortalRequest, render
from portal.web.errors import Refusal
from portal.web.guards import admins_only
from portal.web.inputs import Day, Flag, Form, Id, Text

Name = Annotated[Text, msgspec.Meta(max_length=api_keys.NAME_MAX)]
API_DOCS = f"{OPENAPI_CONFIG.path}/docs"
"""The browsable page of the API's schema."""


def field_of(resource: Resource, access: Access) -> str:
    """The form field of one scope's checkbox: `catalogue_read` for "catalogue:read"."""
    return f"{resource.value}_{access.value}"


SCOPE_FIELDS = tuple(
    (api_keys.scope(resource, access), field_of(resource, access)) for resource in Resource for access in Access
)


class KeyForm(Form):
    """A new key: its name, a checkbox per resource and access, an optional last day."""

    name: Name
    catalogue_read: Flag | None = None
    catalogue_write: Flag | None = None
    prices_read: Flag | None = None
    prices_write: Flag | None = None
    companies_read: Flag | None = None
    companies_write: Flag | None = None
    credit_read: Flag | None = None
    credit_write: Flag | None = None
    invoices_read: Flag | None = None
    invoices_write: Flag | None = None
    orders_read: Flag | None = None
    orders_write: Flag | None = None
    rebates_read: Flag | None = None
    rebates_write: Flag | None = None
    agreements_read: Flag | None = None
    agreements_write: Flag | None = None
    expires_on: Day | None = None

    def record(self) -> KeyRecord:
        scopes = frozenset(scope for scope, name in SCOPE_FIELDS if getattr(self, name) is not None)
        return KeyRecord(self.name, scopes, self.expires_on)


@dataclass(frozen=True)
class KeyRow:
    """A key as the list shows it: whether it still works, and what it may do, in words."""

    key: ApiKey
    state: KeyState
    grants: list[str]


def access_label(access: Access) -> str:
    return {Access.READ: gettext("read"), Access.WRITE: gettext("write")}[access]


def grants_of(key: ApiKey) -> list[str]:
    """One line per resource the key may use: "Orders: read, write"."""
    granted = key.scope_set
    lines = []
    for resource in Resource:
        allowed = [access_label(access) for access in Access if api_keys.scope(resource, access) in granted]
        if allowed:
            lines.append(f"{api_keys.resource_title(resource)}: {', '.join(allowed)}")
    return lines


def scope_grid() -> list[tuple[str, list[tuple[str, str]]]]:
    """The form's checkboxes, a row per resource: its title, and per access the field and its label."""
    return [
        (
            api_keys.resource_title(resource),
            [(field_of(resource, access), access_label(access)) for access in Access],
        )
        for resource in Resource
    ]


async def keys_page(request: PortalRequest, db_session: AsyncSession, refusal: Refusal | None = None) -> Template:
    now = clock.now()
    rows = [KeyRow(key, api_keys.key_state(key, now), grants_of(key)) for key in await api_keys.all_keys(db_session)]
    entered = {name: value for name, value in refusal.entered.items() if isinstance(value, str)} if refusal else {}
    context = {
        "rows": rows,
        "grid": scope_grid(),
        "accesses": [access_label(access) for access in Access],
        "name_max": api_keys.NAME_MAX,
        "docs_url": API_DOCS,
        "errors": refusal.errors if refusal else {},
        "message": refusal.message if refusal else "",
        "entered": entered,
    }
    return render(request, "admin/api_keys/index.html", context, status_code=refusal.status_code if refusal else 200)


async def keys_again(request: PortalRequest, db_session: AsyncSession, refusal: Refusal) -> Response[Any]:
    return await keys_page(request, db_session, refusal)


class ApiKeysController(Controller):
    path = "/admin"
    guards = [admins_only]

    @get("/api-keys", name="admin_api_keys")
    async def keys(self, request: PortalRequest, db_session: NamedDependency[AsyncSession]) -> Template:
        return await keys_page(request, db_session)

    @post("/api-keys", name="create_api_key", opt={"form": keys_again})
    async def create(
        self,
        request: PortalRequest,
        db_session: NamedDependency[AsyncSession],
        data: URLEncodedBody[KeyForm],
        settings: NamedDependency[Settings],
        today: NamedDependency[date],
    ) -> Template:
        key, secret = await api_keys.create_key(
            db_session, request.user, data.record(), signing_key=settings.secret_key, today=today
        )
        context = {"key": key, "secret": secret, "grants": grants_of(key)}
        return Template(
            "admin/api_keys/created.html", context=context, status_code=201, headers={"Cache-Control": "no-store"}
        )

    @post("/api-keys/{key_id:int}/revoke", name="revoke_api_key")
    async def revoke(
        self, request: PortalRequest, db_session: NamedDependency[AsyncSession], key_id: FromPath[Id]
    ) -> Redirect:
        key = await api_keys.revoke_key(db_session, request.user, key_id)
        message = gettext("The key %(name)s is revoked: no call is accepted with it any more.") % {"name": key.name}
        flash(request, message, "success")
        return Redirect(request.app.route_reverse("admin_api_keys"), status_code=303)
