"""Admin: the audit trail: /admin/audit."""

from __future__ import annotations

from litestar import Controller

from portal.web.guards import admins_only


class AuditController(Controller):
    path = "/admin"
    guards = [admins_only]
