"""Admin: users and invitations, assignments and covers; and the public pages a link from an
e-mail opens (following an invitation, a forgotten password)."""

from __future__ import annotations

from litestar import Controller

from portal.web.guards import admins_only


class PeopleController(Controller):
    path = "/admin"
    guards = [admins_only]


class PublicAccessController(Controller):
    """Open without signing in (see `PUBLIC_PATHS` in `portal.app`)."""
