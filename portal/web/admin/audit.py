"""Admin: the audit trail at `/admin/audit`, filtered by object, customer, who, what and when."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, get
from litestar.di import NamedDependency, Provide
from litestar.params import FromQuery, Parameter
from litestar.response import Template
from sqlalchemy.ext.asyncio import AsyncSession

from portal.services import audit
from portal.web.context import PortalRequest
from portal.web.guards import admins_only
from portal.web.inputs import Day, MaybeId, PageNo, QueryText

Code = Annotated[str, Parameter(max_length=40, pattern=r"\A[a-z_]*\Z")]

OBJECT_TYPES = (
    "company",
    "address",
    "user",
    "invitation",
    "product",
    "category",
    "price_list",
    "price_list_item",
    "contract_price",
    "cover",
    "note",
    "import",
    "api_key",
)
ACTIONS = (
    "create",
    "update",
    "delete",
    "deactivate",
    "reactivate",
    "retire",
    "invite",
    "reassign",
    "import",
    "revoke",
)


def audit_filter(
    object_type: FromQuery[Code] = "",
    object_id: FromQuery[MaybeId] = None,
    customer: FromQuery[MaybeId] = None,
    actor: FromQuery[QueryText] = "",
    action: FromQuery[Code] = "",
    since: FromQuery[Day | None] = None,
    until: FromQuery[Day | None] = None,
    q: FromQuery[QueryText] = "",
) -> audit.AuditFilter:
    """`?object_type=product&object_id=7&customer=3&actor=anna&action=update&since=…&until=…&q=…`."""
    return audit.AuditFilter(
        object_type=object_type or None,
        object_id=object_id,
        company_id=customer,
        actor=actor.strip() or None,
        action=action or None,
        since=since,
        until=until,
        search=q.strip() or None,
    )


class AuditController(Controller):
    path = "/admin"
    guards = [admins_only]

    @get("/audit", name="admin_audit", dependencies={"wanted": Provide(audit_filter, sync_to_thread=False)})
    async def trail(
        self,
        request: PortalRequest,
        db_session: NamedDependency[AsyncSession],
        wanted: NamedDependency[audit.AuditFilter],
        page: FromQuery[PageNo] = 1,
    ) -> Template:
        found = await audit.entries(db_session, wanted, page)
        context = {"found": found, "wanted": wanted, "object_types": OBJECT_TYPES, "actions": ACTIONS}
        return Template("admin/audit.html", context=context)
