"""The three ways a service says no. The web layer maps them once (`portal.web.errors`):
`NotFound` → 404, as for a thing that does not exist; `NotAllowed` → 403;
`Refused` → the form again with each message next to its field (400, or 409 for a
conflict). Services raise them; handlers never catch them."""

from __future__ import annotations


class DomainError(Exception):
    """Something a user asked for that the portal will not do, with a sentence that says why."""

    status_code = 400

    def __init__(self, message: str = "") -> None:
        super().__init__(message)
        self.message = message


class NotFound(DomainError, LookupError):
    """The object does not exist, or is not this user's to see: the same answer for both."""

    status_code = 404


class NotAllowed(DomainError):
    """The user may see this, but not do it."""

    status_code = 403


class Refused(DomainError):
    """The request was understood and refused: `errors` maps each field (or "" for the form as a
    whole) to the message shown next to it."""

    def __init__(self, message: str, field: str = "", *, errors: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.field = field
        self.errors = dict(errors) if errors else {field: message}


class Conflict(Refused):
    """Someone else changed the thing meanwhile; nothing was saved."""

    status_code = 409
