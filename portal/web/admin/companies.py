"""Admin: companies with their terms, delivery terms and addresses."""

from __future__ import annotations

from litestar import Controller

from portal.web.guards import admins_only


class CompaniesController(Controller):
    path = "/admin"
    guards = [admins_only]
