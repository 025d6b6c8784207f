"""Admin: CSV import and export of master data."""

from __future__ import annotations

from litestar import Controller

from portal.web.guards import admins_only


class MasterImportsController(Controller):
    path = "/admin"
    guards = [admins_only]
