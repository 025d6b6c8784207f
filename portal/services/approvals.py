"""The approval queue: who may decide which orders (the assigned account manager,
their deputy during an absence, admins), the credit re-check under a row lock at
the moment of approval, rejections with a reason, and bulk approval."""

from __future__ import annotations

import statistics
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from sqlalchemy import Select, and_, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload, selectinload

from portal.i18n import gettext
from portal.models import (
    Company,
    Deputy,
    NotificationKind,
    FlagKind,
    Invoice,
    Order,
    OrderEvent,
    OrderFlag,
    OrderLine,
    OrderStatus,
    Role,
    User,
)
from portal.services.credit import CreditPicture, credit_picture, overdue_invoices
from portal.services.flags import COUNTED, Flag, margin_pct
from portal.services import notifications
from portal.services.ordering import MoveRefused, move_order, refusal

NOTE_MAX = 2000


class DecisionRefused(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotAllowed(DecisionRefused):
    pass


class ApprovalBlocked(DecisionRefused):
    """A blocking reason holds at this moment; `blockers` carry the numbers."""

    def __init__(self, blockers: list[Flag]) -> None:
        super().__init__(gettext("This order cannot be approved now."))
        self.blockers = blockers


class WarningsNotConfirmed(DecisionRefused):
    pass


async def covered_managers(session: AsyncSession, user: User, today: date) -> set[int]:
    """The account managers whose queue this user works today: their own, and those they deputise for."""
    absent = await session.scalars(
        select(Deputy.manager_id).where(Deputy.deputy_id == user.id, Deputy.starts_on <= today, Deputy.ends_on >= today)
    )
    return {user.id, *absent} if user.role is Role.ACCOUNT_MANAGER else set(absent)


async def decider(session: AsyncSession, user: User, company: Company, today: date) -> tuple[bool, int | None]:
    """May this user decide this company's orders today, and on whose behalf?"""
    if user.role is Role.ADMIN:
        return True, None
    if user.role is not Role.ACCOUNT_MANAGER or company.account_manager_id is None:
        return False, None
    if company.account_manager_id == user.id:
        return True, None
    if company.account_manager_id in await covered_managers(session, user, today):
        return True, company.account_manager_id
    return False, None


def approval_blockers(picture: CreditPicture, order: Order) -> list[Flag]:
    """What stops approval at this moment. Credit is checked against what is committed
    (unpaid invoices and approved orders not yet invoiced) plus this order; other orders
    still waiting do not hold this one back."""
    blockers = []
    if picture.on_hold:
        blockers.append(Flag(FlagKind.ON_HOLD, {"reason": picture.company.hold_reason or ""}))
    if picture.past_due:
        blockers.append(Flag(FlagKind.PAST_DUE, {"overdue": str(picture.overdue_amount),
                                                 "days": str(picture.oldest_overdue_days)}))
    available = picture.credit_limit - picture.unpaid_invoices - picture.approved_orders
    if order.gross_total > available:
        blockers.append(Flag(FlagKind.EXCEEDS_CREDIT, {
            "available": str(available), "gross": str(order.gross_total),
            "shortfall": str(order.gross_total - available)}))
    return blockers


def warnings_of(order: Order) -> list[OrderFlag]:
    return [flag for flag in order.flags if not flag.blocking]


async def _lock_company(session: AsyncSession, company_id: int) -> Company:
    """The company's row, locked until commit (PostgreSQL; SQLite has one writer at a time anyway),
    so two approvals for one company are checked one after the other."""
    company = await session.scalar(
        select(Company).where(Company.id == company_id).with_for_update().execution_options(populate_existing=True)
    )
    assert company is not None
    return company


async def _order_for_decision(session: AsyncSession, order_id: int) -> Order | None:
    return await session.scalar(select(Order).options(selectinload(Order.flags)).where(Order.id == order_id))


async def approve_order(
    session: AsyncSession, user: User, order_id: int, *, note: str = "", warnings_confirmed: bool = False,
    today: date, grace_days: int,
) -> Order:
    order = await _order_for_decision(session, order_id)
    if order is None:
        raise LookupError(order_id)
    company = await _lock_company(session, order.company_id)
    allowed, on_behalf_of = await decider(session, user, company, today)
    if not allowed:
        raise NotAllowed(gettext("Only the company's account manager, their deputy or an admin can decide."))
    if order.status is not OrderStatus.PENDING_APPROVAL:
        raise await refusal(session, order)
    picture = await credit_picture(session, company.id, today=today, grace_days=grace_days)
    if blockers := approval_blockers(picture, order):
        raise ApprovalBlocked(blockers)
    if warnings_of(order) and not warnings_confirmed:
        raise WarningsNotConfirmed(gettext("Confirm that you have reviewed the warnings."))
    order = await move_order(session, order.id, OrderStatus.APPROVED, user, note.strip()[:NOTE_MAX],
                             expected_from=OrderStatus.PENDING_APPROVAL, on_behalf_of_id=on_behalf_of)
    await _tell_buyer(session, order, "approved", note.strip())
    return order


async def reject_order(session: AsyncSession, user: User, order_id: int, *, reason: str, today: date) -> Order:
    order = await _order_for_decision(session, order_id)
    if order is None:
        raise LookupError(order_id)
    company = await session.get(Company, order.company_id)
    assert company is not None
    allowed, on_behalf_of = await decider(session, user, company, today)
    if not allowed:
        raise NotAllowed(gettext("Only the company's account manager, their deputy or an admin can decide."))
    if not reason.strip():
        raise DecisionRefused(gettext("Give the buyer a reason for the rejection."))
    order = await move_order(session, order.id, OrderStatus.REJECTED, user, reason.strip()[:NOTE_MAX],
                             expected_from=OrderStatus.PENDING_APPROVAL, on_behalf_of_id=on_behalf_of)
    await _tell_buyer(session, order, "rejected", reason.strip())
    return order


async def _tell_buyer(session: AsyncSession, order: Order, decision: str, reason: str) -> None:
    """The buyer who submitted hears the decision; a recurring order's buyers all do."""
    if order.buyer_id is not None:
        buyers = [await session.get(User, order.buyer_id)]
    else:
        buyers = await notifications.company_buyers(session, order.company_id)
    await notifications.notify(
        session, NotificationKind.ORDER_DECIDED, [b for b in buyers if b is not None],
        f"Order {order.number} was {decision}", "order_decided",
        {"order": order, "decision": decision, "reason": reason}, f"/orders/{order.id}")


@dataclass(frozen=True)
class BulkResult:
    approved: list[Order] = field(default_factory=list)
    skipped: list[tuple[int, str]] = field(default_factory=list)


async def bulk_approve(
    session: AsyncSession, user: User, order_ids: list[int], *, today: date, grace_days: int
) -> BulkResult:
    """Approves the chosen orders that carry no flag at all, each re-checked; says why for the rest."""
    result = BulkResult()
    for order_id in order_ids:
        order = await _order_for_decision(session, order_id)
        if order is None:
            continue
        if order.flags:
            result.skipped.append((order_id, gettext("%(number)s has flags: review it on its own.") % {"number": order.number}))
            continue
        try:
            result.approved.append(await approve_order(session, user, order_id, today=today, grace_days=grace_days))
        except MoveRefused as refused:
            result.skipped.append((order_id, f"{order.number}: {refused.message}"))
        except ApprovalBlocked:
            result.skipped.append((order_id, gettext("%(number)s cannot be approved now.") % {"number": order.number}))
        except DecisionRefused as refused:
            result.skipped.append((order_id, f"{order.number}: {refused.message}"))
    return result


QUEUE_FLAGS = tuple(FlagKind)


@dataclass(frozen=True)
class QueueFilter:
    company_id: int | None = None
    flag: FlagKind | None = None
    manager_id: int | None = None

    @classmethod
    def parse(cls, params: dict[str, str]) -> QueueFilter:
        def number(name: str) -> int | None:
            raw = params.get(name, "")
            return int(raw) if raw.isdigit() and len(raw) < 10 else None

        flag = params.get("flag", "")
        return cls(number("company"), FlagKind(flag) if flag in {k.value for k in FlagKind} else None, number("manager"))


@dataclass(frozen=True)
class QueueEntry:
    order: Order

    @property
    def margin_pct(self) -> Decimal | None:
        return margin_pct(self.order.net_total, self.order.cost_total)


@dataclass(frozen=True)
class Queue:
    entries: list[QueueEntry]
    companies: list[Company]
    managers: list[User]
    filter: QueueFilter


def _queue_query(user: User, covered: set[int], wanted: QueueFilter) -> Select:
    query = select(Order).join(Company, Company.id == Order.company_id).where(
        Order.status == OrderStatus.PENDING_APPROVAL
    )
    if user.role is not Role.ADMIN:
        query = query.where(Company.account_manager_id.in_(covered))
    elif wanted.manager_id is not None:
        query = query.where(Company.account_manager_id == wanted.manager_id)
    return query


async def pending_count(session: AsyncSession, user: User, today: date) -> int:
    """The number in the navigation: orders waiting for this user's decision."""
    covered = await covered_managers(session, user, today) if user.role is Role.ACCOUNT_MANAGER else set()
    query = _queue_query(user, covered, QueueFilter()).with_only_columns(func.count(Order.id))
    return int(await session.scalar(query) or 0)


async def approval_queue(session: AsyncSession, user: User, wanted: QueueFilter, today: date) -> Queue:
    """Pending orders of the companies this user decides for, oldest first."""
    covered = await covered_managers(session, user, today)
    base = _queue_query(user, covered, wanted)
    query = base.options(joinedload(Order.company), selectinload(Order.flags)).order_by(Order.submitted_at, Order.id)
    if wanted.company_id is not None:
        query = query.where(Order.company_id == wanted.company_id)
    if wanted.flag is not None:
        query = query.where(Order.flags.any(OrderFlag.kind == wanted.flag))
    orders = list((await session.scalars(query)).unique())
    companies_query = select(Company).order_by(Company.name)
    if user.role is not Role.ADMIN:
        companies_query = companies_query.where(Company.account_manager_id.in_(covered))
    companies = list(await session.scalars(companies_query))
    managers = list(await session.scalars(select(User).where(User.role == Role.ACCOUNT_MANAGER).order_by(User.full_name))) \
        if user.role is Role.ADMIN else []
    return Queue([QueueEntry(order) for order in orders], companies, managers, wanted)


@dataclass(frozen=True)
class Review:
    order: Order
    company: Company
    picture: CreditPicture
    blockers: list[Flag]
    warnings: list[OrderFlag]
    usual: dict[int, Decimal]
    """The company's median earlier quantity of each product on the order."""
    overdue: list[Invoice]
    last_orders: list[Order]
    can_decide: bool
    on_behalf_of: User | None

    @property
    def available_after(self) -> Decimal:
        return self.picture.credit_limit - self.picture.unpaid_invoices - self.picture.approved_orders - self.order.gross_total


async def review(session: AsyncSession, user: User, order_id: int, *, today: date, grace_days: int) -> Review | None:
    """Everything an approver weighs, for any staff member to see; only deciders get the buttons."""
    order = await session.scalar(
        select(Order)
        .options(selectinload(Order.lines), selectinload(Order.flags),
                 selectinload(Order.events).joinedload(OrderEvent.actor),
                 selectinload(Order.events).joinedload(OrderEvent.on_behalf_of), joinedload(Order.buyer))
        .where(Order.id == order_id)
    )
    if order is None:
        return None
    picture = await credit_picture(session, order.company_id, today=today, grace_days=grace_days)
    company = picture.company
    history: dict[int, list[int]] = defaultdict(list)
    rows = await session.execute(
        select(OrderLine.product_id, OrderLine.quantity)
        .join(Order, Order.id == OrderLine.order_id)
        .where(Order.company_id == company.id, Order.status.in_(COUNTED), Order.id != order.id,
               OrderLine.product_id.in_([line.product_id for line in order.lines]))
    )
    for product_id, quantity in rows:
        history[product_id].append(quantity)
    last_orders = list(await session.scalars(
        select(Order).where(Order.company_id == company.id, Order.id != order.id)
        .order_by(Order.submitted_at.desc()).limit(5)
    ))
    allowed, on_behalf_of = await decider(session, user, company, today)
    return Review(
        order=order, company=company, picture=picture,
        blockers=approval_blockers(picture, order) if order.status is OrderStatus.PENDING_APPROVAL else [],
        warnings=warnings_of(order),
        usual={pid: Decimal(str(statistics.median(qs))) for pid, qs in history.items()},
        overdue=await overdue_invoices(session, company.id, today=today),
        last_orders=last_orders,
        can_decide=allowed,
        on_behalf_of=await session.get(User, on_behalf_of) if on_behalf_of else None,
    )


class CoverInvalid(Exception):
    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("invalid cover")
        self.errors = errors


async def name_deputy(
    session: AsyncSession, manager: User, deputy_id: int | None, starts: date | None, ends: date | None, today: date
) -> Deputy:
    errors: dict[str, str] = {}
    deputy = await session.get(User, deputy_id) if deputy_id else None
    if deputy is None or deputy.role is not Role.ACCOUNT_MANAGER or not deputy.is_active or deputy.id == manager.id:
        errors["deputy"] = gettext("Choose another account manager.")
    if starts is None:
        errors["starts_on"] = gettext("Enter the first day of your absence.")
    if ends is None:
        errors["ends_on"] = gettext("Enter the last day of your absence.")
    if starts and ends and ends < starts:
        errors["ends_on"] = gettext("The last day cannot be before the first.")
    if ends and ends < today:
        errors["ends_on"] = gettext("The absence is already over.")
    if errors:
        raise CoverInvalid(errors)
    cover = Deputy(manager_id=manager.id, deputy_id=deputy.id, starts_on=starts, ends_on=ends)  # type: ignore[union-attr]
    session.add(cover)
    await session.flush()
    return cover


async def covers_of(session: AsyncSession, manager: User, today: date) -> tuple[list[Deputy], list[User]]:
    """The manager's current and coming covers, and who could cover."""
    covers = list(await session.scalars(
        select(Deputy).options(joinedload(Deputy.deputy), joinedload(Deputy.manager))
        .where(and_(Deputy.ends_on >= today), (Deputy.manager_id == manager.id) | (Deputy.deputy_id == manager.id))
        .order_by(Deputy.starts_on)
    ))
    colleagues = list(await session.scalars(
        select(User).where(User.role == Role.ACCOUNT_MANAGER, User.is_active, User.id != manager.id).order_by(User.full_name)
    ))
    return covers, colleagues


async def end_cover(session: AsyncSession, manager: User, cover_id: int) -> None:
    cover = await session.get(Deputy, cover_id)
    if cover is None or cover.manager_id != manager.id:
        raise LookupError(cover_id)
    await session.delete(cover)
    await session.flush()
