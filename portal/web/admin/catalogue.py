"""Admin: categories, products, price lists and their items, contract prices."""

from __future__ import annotations

from litestar import Controller

from portal.web.guards import admins_only


class CatalogueController(Controller):
    path = "/admin"
    guards = [admins_only]
