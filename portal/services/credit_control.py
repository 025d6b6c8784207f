"""Credit control by finance: changing a company's credit limit, holding and
releasing its account. Every change appends to the company's credit history in
the same transaction; a change made by someone else in the meantime is never
overwritten (each update is conditional on the value the user saw). The ERP sets limits
through the same ledger (`set_limit`), recorded with the source "erp" and no person as actor.
Also what finance and the account manager read: one company's credit with its history.

Reasons are internal: the account manager's e-mail carries them, the buyers' never does. A
buyer reads the new limit and, if finance wrote one, the message meant for the customer; of a
hold, its reason, which the buyers see on the portal anyway (they must know why they cannot order)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any, cast

from sqlalchemy import select, update
from sqlalchemy.engine import CursorResult
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload

from portal import clock
from portal.errors import Conflict, NotFound, Refused
from portal.i18n import format_money, gettext
from portal.models import Company, CreditEvent, CreditEventKind, NotificationKind, User
from portal.services import customers, notifications
from portal.services.amounts import MAX_AMOUNT
from portal.services.credit import CreditPicture, credit_picture
from portal.services.statement import Statement, account_statement
from portal.services.transactions import lock_rows, retried

SOURCE_PORTAL = "portal"
SOURCE_ERP = "erp"
"""Where a credit event came from (`CreditEvent.source`): a person in finance, or the ERP's API."""
REASON_MAX = 2000
"""The longest reason of a limit change, hold or release (`CreditEvent.reason` is Text; this is the form's bound)."""
MESSAGE_MAX = 2000
"""The longest message for the customer with a limit change (`CreditEvent.customer_message` is Text)."""


class CreditControlError(Refused):
    """A change finance asked for and the rules refuse; `field` names the form field it belongs next to
    (empty for the whole form)."""


class ChangedMeanwhile(CreditControlError, Conflict):
    """Someone changed the company since the page was shown; nothing was written (409)."""


def _reason(reason: str) -> str:
    cleaned = reason.strip()
    if not cleaned:
        raise CreditControlError(gettext("Give a reason: it is kept in the credit history."), "reason")
    if len(cleaned) > REASON_MAX:
        raise CreditControlError(gettext("At most %(max)d characters.") % {"max": REASON_MAX}, "reason")
    return cleaned


def _customer_message(message: str) -> str:
    cleaned = message.strip()
    if len(cleaned) > MESSAGE_MAX:
        raise CreditControlError(gettext("At most %(max)d characters.") % {"max": MESSAGE_MAX}, "customer_message")
    return cleaned


def _buyers_read(event: CreditEvent) -> dict[str, str]:
    """What the company's buyers may read of a change: the hold's reason (shown to them on the
    portal too) and finance's message for them; never the reason of a limit change or a release."""
    return {
        "reason": event.reason if event.kind is CreditEventKind.HOLD else "",
        "message": event.customer_message,
    }


async def _company(session: AsyncSession, company_id: int) -> Company:
    company = await session.scalar(
        select(Company).where(Company.id == company_id).execution_options(populate_existing=True)
    )
    if company is None:
        raise NotFound()
    return company


def _what(event: CreditEvent, company: Company) -> str:
    """The change without its reason, in the reader's language: "ACME: credit limit changed to …"."""
    match event.kind:
        case CreditEventKind.LIMIT_CHANGED:
            return gettext("%(company)s: credit limit changed to %(limit)s") % {
                "company": company.name,
                "limit": format_money(event.new_limit, company.currency),
            }
        case CreditEventKind.HOLD:
            return gettext("%(company)s: account put on hold") % {"company": company.name}
    return gettext("%(company)s: hold released") % {"company": company.name}


async def _record(session: AsyncSession, event: CreditEvent) -> CreditEvent:
    """Records the event and tells the account manager (with the reason) and the company's buyers
    (`_buyers_read`), in the same transaction, each in their own language."""
    session.add(event)
    await session.flush()
    company = await _company(session, event.company_id)

    def subject() -> str:
        return _what(event, company)

    told = {"what": lambda: _what(event, company) + ".", "company": company, "staff": True}
    await notifications.notify(
        session,
        NotificationKind.CREDIT_CHANGED,
        [await notifications.account_manager(session, company)],
        subject,
        "credit_changed",
        {**told, "reason": event.reason, "message": event.customer_message},
        f"/customers/{company.id}/credit",
    )
    await notifications.notify(
        session,
        NotificationKind.CREDIT_CHANGED,
        await notifications.company_buyers(session, company.id),
        subject,
        "credit_changed",
        {**told, "staff": False, **_buyers_read(event)},
        "/dashboard",
    )
    return event


async def change_limit(
    session: AsyncSession,
    actor: User | None,
    company_id: int,
    expected_old: Decimal,
    new: Decimal,
    reason: str,
    customer_message: str = "",
    *,
    source: str = SOURCE_PORTAL,
) -> CreditEvent:
    """Sets the limit from `expected_old` (the value the user saw) to `new`. If the
    limit is no longer `expected_old`, raises `ChangedMeanwhile` and changes nothing.
    The reason is kept for staff; `customer_message` (optional) is what the buyers are told.
    `actor` is None and `source` `SOURCE_ERP` for a change the ERP sent."""
    reason = _reason(reason)
    customer_message = _customer_message(customer_message)
    if new < 0:
        raise CreditControlError(gettext("A credit limit cannot be negative."), "new_limit")
    if new > MAX_AMOUNT:
        raise CreditControlError(gettext("That is more than a credit limit can hold."), "new_limit")
    if new == expected_old:
        raise CreditControlError(gettext("The limit is already that amount."), "new_limit")
    result = cast(  # an UPDATE answers a CursorResult, which has the row count
        CursorResult[Any],
        await session.execute(
            update(Company)
            .where(Company.id == company_id, Company.credit_limit == expected_old)
            .values(credit_limit=new)
            .execution_options(synchronize_session=False)
        ),
    )
    company = await _company(session, company_id)
    if result.rowcount != 1:
        raise ChangedMeanwhile(
            gettext(
                "The limit was changed by someone else meanwhile: it is now %(current)s. "
                "Nothing was saved; check the history and try again."
            )
            % {"current": format_money(company.credit_limit, company.currency)}
        )
    return await _record(
        session,
        CreditEvent(
            company_id=company_id,
            kind=CreditEventKind.LIMIT_CHANGED,
            old_limit=expected_old,
            new_limit=new,
            reason=reason,
            customer_message=customer_message,
            actor_id=actor.id if actor is not None else None,
            at=clock.now(),
            source=source,
        ),
    )


@dataclass(frozen=True)
class LimitSet:
    previous: Decimal
    """The limit before the call."""
    changed: bool
    """False: the limit already was the amount asked for, and nothing was written."""


@retried
async def set_limit(
    session: AsyncSession,
    actor: User | None,
    company_id: int,
    new: Decimal,
    reason: str,
    customer_message: str = "",
    *,
    source: str,
) -> LimitSet:
    """Sets the limit to `new` from whatever it is, for a caller that saw no value (the ERP): the
    company's row is locked first, so calls at the same moment each change the limit the other
    left and none is lost. The limit it already has changes nothing and is no error."""
    reason, customer_message = _reason(reason), _customer_message(customer_message)
    await lock_rows(session, Company, [company_id])
    previous = (await _company(session, company_id)).credit_limit
    if new == previous:
        return LimitSet(previous, changed=False)
    await change_limit(session, actor, company_id, previous, new, reason, customer_message, source=source)
    return LimitSet(previous, changed=True)


async def _set_hold(session: AsyncSession, actor: User, company_id: int, reason: str, *, hold: bool) -> CreditEvent:
    """Holds or releases in one conditional update, so two people doing it at once change it once."""
    reason = _reason(reason)
    result = cast(  # an UPDATE answers a CursorResult, which has the row count
        CursorResult[Any],
        await session.execute(
            update(Company)
            .where(Company.id == company_id, Company.on_hold.is_(not hold))
            .values(on_hold=hold, hold_reason=reason if hold else None)
            .execution_options(synchronize_session=False)
        ),
    )
    company = await _company(session, company_id)
    if result.rowcount != 1:
        message = (
            gettext("%(company)s is already on hold; nothing was changed.")
            if hold
            else gettext("%(company)s is not on hold; nothing was changed.")
        )
        raise ChangedMeanwhile(message % {"company": company.name})
    return await _record(
        session,
        CreditEvent(
            company_id=company_id,
            kind=CreditEventKind.HOLD if hold else CreditEventKind.RELEASE,
            reason=reason,
            actor_id=actor.id,
            at=clock.now(),
        ),
    )


async def hold_account(session: AsyncSession, actor: User, company_id: int, reason: str) -> CreditEvent:
    """Puts the account on hold: its buyers see the reason and cannot submit orders."""
    return await _set_hold(session, actor, company_id, reason, hold=True)


async def release_account(session: AsyncSession, actor: User, company_id: int, reason: str) -> CreditEvent:
    """Ends a hold; the reason of the release goes to the history next to the hold's."""
    return await _set_hold(session, actor, company_id, reason, hold=False)


async def credit_history(session: AsyncSession, company_id: int) -> list[CreditEvent]:
    """The company's credit history, newest first."""
    return list(
        await session.scalars(
            select(CreditEvent)
            .options(joinedload(CreditEvent.actor))
            .where(CreditEvent.company_id == company_id)
            .order_by(CreditEvent.at.desc(), CreditEvent.id.desc())
        )
    )


@dataclass(frozen=True)
class CompanyCredit:
    """One company's credit as finance works with it: its statement (the credit picture and the
    open invoices) and its credit history, newest first."""

    account: Statement
    history: list[CreditEvent]

    @property
    def picture(self) -> CreditPicture:
        return self.account.picture


async def company_credit(session: AsyncSession, company_id: int, *, today: date, grace_days: int) -> CompanyCredit:
    """Raises `NotFound` for a company that does not exist."""
    if await session.get(Company, company_id) is None:
        raise NotFound()
    account = await account_statement(session, company_id, today=today, grace_days=grace_days)
    return CompanyCredit(account=account, history=await credit_history(session, company_id))


@dataclass(frozen=True)
class CustomerCredit:
    """What an account manager reads of a customer's credit: the picture and the history."""

    picture: CreditPicture
    history: list[CreditEvent]


async def customer_credit(
    session: AsyncSession, viewer: User, company_id: int, *, today: date, grace_days: int
) -> CustomerCredit:
    """Raises `NotFound` unless the company is the viewer's to see (their portfolio, a cover, or any as admin)."""
    company = await customers.viewable_company(session, viewer, company_id, today)
    if company is None:
        raise NotFound()
    picture = await credit_picture(session, company.id, today=today, grace_days=grace_days)
    return CustomerCredit(picture=picture, history=await credit_history(session, company.id))
