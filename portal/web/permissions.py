"""What each role may do, in one table: guards, view models and templates ask `can(user, action)`
instead of comparing role names. Which companies a staff member may see is a separate rule
(the account manager's portfolio and covers), decided by the services."""

from __future__ import annotations

from portal.models import Role, User

BUYER, MANAGER, FINANCE, ADMIN = Role.BUYER, Role.ACCOUNT_MANAGER, Role.FINANCE, Role.ADMIN

ACTIONS: dict[str, frozenset[Role]] = {
    "buy": frozenset({BUYER}),
    "browse_catalog": frozenset({BUYER, MANAGER, ADMIN}),
    "decide": frozenset({MANAGER, ADMIN}),
    "order_for_customer": frozenset({MANAGER, ADMIN}),
    "name_deputy": frozenset({MANAGER}),
    "see_customers": frozenset({MANAGER, FINANCE, ADMIN}),
    "see_quote_desk": frozenset({MANAGER, FINANCE, ADMIN}),
    "see_credit_history": frozenset({MANAGER, ADMIN}),
    "control_credit": frozenset({FINANCE, ADMIN}),
    "see_credit_overview": frozenset({FINANCE, ADMIN}),
    "import_erp_files": frozenset({FINANCE, ADMIN}),
    "see_rebates": frozenset({MANAGER, FINANCE, ADMIN}),
    "see_pipeline": frozenset({MANAGER, FINANCE, ADMIN}),
    "see_reports": frozenset({MANAGER, FINANCE, ADMIN}),
    "work_pipeline": frozenset({MANAGER, ADMIN}),
    "reassign_customers": frozenset({ADMIN}),
    "administer": frozenset({ADMIN}),
    "open_own_invoices": frozenset({BUYER}),
}


def can(user: User | None, action: str) -> bool:
    """May this user do `action` (a key of `ACTIONS`)? An unknown action is a programming error."""
    return user is not None and user.role in ACTIONS[action]
