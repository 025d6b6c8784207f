"""Deciding orders: who may decide which (`scoping.decider`: the assigned account manager, their
deputy during an absence, admins); approval, with the flags computed again inside the approving transaction once
the company's row is locked, so two approvals at once are checked one after the other; rejection
with a reason; cancelling an approved order the ERP has not taken yet (`cancel_approved`, with a
reason: it leaves exposure and stops counting as a sale); bulk approval; and the queue and review
page, which show each waiting order with its flags as they are now (`services/flags.py`) and, to
staff, the margin after the expected rebate and skonto of the company's agreement."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from decimal import Decimal
from typing import NamedTuple

from sqlalchemy import ColumnElement, Date, Select, String, case, cast, func, literal_column, null, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import contains_eager, joinedload, selectinload

from portal import errors
from portal.errors import Conflict, NotFound, Refused
from portal.i18n import N_, format_decimal, gettext
from portal.models import (
    Agreement,
    Company,
    FlagKind,
    Invoice,
    NotificationKind,
    Order,
    OrderEvent,
    OrderFlag,
    OrderLine,
    OrderStatus,
    Role,
    User,
)
from portal.services import agreements, documents, notifications, scoping
from portal.services.agreements import AfterTerms, Standing
from portal.services.credit import CreditPicture, OrderCredit, overdue, picture_from, with_credit
from portal.services.flags import Flag, FlagResult, FlagSubject, Policy, margin_pct, order_flags
from portal.services.ordering import move_order, refusal, tell_managers_waiting
from portal.services.transactions import lock_rows, retried

NOTE_MAX = 2000
"""The longest approval note or rejection reason: the timeline's `reason` is TEXT, the buyer reads it."""
AUTO_APPROVED = "auto_approved"
"""The timeline's reason code of an order approved at submission, without a person
(`formatting.event_reason` words it)."""


class DecisionRefused(Refused):
    """The decision was not made; the message says why, next to `field` where there is one."""


class NotAllowed(errors.NotAllowed):
    """This user may see the order but not decide it."""


class DecidedMeanwhile(Conflict, DecisionRefused):
    """Someone already decided the order (or it was cancelled); nothing was changed."""


class ApprovalBlocked(Conflict, DecisionRefused):
    """A blocking flag holds at this moment; `blockers` carry its numbers."""

    def __init__(self, blockers: list[Flag]) -> None:
        super().__init__(gettext("This order cannot be approved now."))
        self.blockers = blockers


class WarningsNotConfirmed(DecisionRefused):
    """The order has warnings and the approver did not confirm having read them."""

    def __init__(self) -> None:
        super().__init__(gettext("Confirm that you have reviewed the warnings."), "confirm_warnings")


async def _deciding_for(session: AsyncSession, user: User, company: Company, today: date) -> int | None:
    """The manager a deputy decides for (None: the user decides in their own right); refuses anyone else."""
    allowed, on_behalf_of = await scoping.decider(session, user, company, today)
    if not allowed:
        raise NotAllowed(gettext("Only the company's account manager, their deputy or an admin can decide."))
    return on_behalf_of


def _decision_text(text: str, required: bool) -> str:
    cleaned = text.strip()
    if required and not cleaned:
        raise DecisionRefused(gettext("Give the buyer a reason for the rejection."), "reason")
    if len(cleaned) > NOTE_MAX:
        raise DecisionRefused(
            gettext("Use at most %(limit)s characters.") % {"limit": format_decimal(NOTE_MAX, 0)},
            "reason" if required else "note",
        )
    return cleaned


async def _lock_company(session: AsyncSession, company_id: int) -> Company:
    """The company's row, locked until commit (`transactions.lock_rows`; on SQLite the one write
    lock), so the approvals of one company, and finance's changes to its limit, go one after the
    other. Several companies are locked together, in id order, before any of them (`bulk_approve`)."""
    await lock_rows(session, Company, [company_id])
    company = await session.scalar(
        select(Company).where(Company.id == company_id).execution_options(populate_existing=True)
    )
    assert company is not None
    return company


async def _still_waiting(session: AsyncSession, order: Order) -> None:
    """Locks the order's row and reads its status again: an order decided meanwhile is left as it is."""
    await session.refresh(order, ["status"], with_for_update=True)
    if order.status is not OrderStatus.PENDING_APPROVAL:
        raise DecidedMeanwhile((await refusal(session, order)).message)


def _for_decision() -> Select[Order]:
    return select(Order).options(selectinload(Order.lines), selectinload(Order.flags))


async def _order_for_decision(session: AsyncSession, order_id: int) -> Order:
    order = await session.scalar(_for_decision().where(Order.id == order_id))
    if order is None:
        raise NotFound()
    return order


@retried
async def approve_order(
    session: AsyncSession,
    user: User,
    order_id: int,
    policy: Policy,
    *,
    note: str = "",
    warnings_confirmed: bool = False,
) -> Order:
    """Approves an order waiting for approval, with an optional note for the buyer."""
    return await _approve(session, user, await _order_for_decision(session, order_id), policy, note, warnings_confirmed)


async def _approve(
    session: AsyncSession, user: User, order: Order, policy: Policy, note: str, warnings_confirmed: bool
) -> Order:
    """The flags are computed again here, after the company's row is locked: a blocker refuses the
    approval, warnings need `warnings_confirmed`."""
    note = _decision_text(note, required=False)
    company = await _lock_company(session, order.company_id)
    on_behalf_of = await _deciding_for(session, user, company, policy.today)
    await _still_waiting(session, order)
    (now,) = await order_flags(session, [FlagSubject.of(order)], policy)
    if now.blockers:
        raise ApprovalBlocked(now.blockers)
    if now.warnings and not warnings_confirmed:
        raise WarningsNotConfirmed()
    order = await move_order(
        session,
        order.id,
        OrderStatus.APPROVED,
        user,
        note,
        expected_from=OrderStatus.PENDING_APPROVAL,
        on_behalf_of_id=on_behalf_of,
        today=policy.today,
    )
    await _tell_buyer(session, order, "approved", note)
    return order


async def approve_automatically(session: AsyncSession, order: Order, company: Company, policy: Policy) -> bool:
    """At submission (checkout or a recurring delivery): an order of a company that allows it, with
    no flag, is approved at once by the approval path itself: the company's row locked, the flags
    computed again (the credit among them), the move recorded with no person and `AUTO_APPROVED`,
    the buyer told as by any approval. True when it was approved; otherwise it waits as usual."""
    if not company.auto_approve or order.flags:
        return False
    await session.flush()
    await _lock_company(session, order.company_id)
    await _still_waiting(session, order)
    (now,) = await order_flags(session, [FlagSubject.of(order)], policy)
    if now.flags:
        return False
    await move_order(
        session,
        order.id,
        OrderStatus.APPROVED,
        None,
        AUTO_APPROVED,
        expected_from=OrderStatus.PENDING_APPROVAL,
        today=policy.today,
    )
    await _tell_buyer(session, order, "approved", "")
    return True


QUOTE_ACCEPTED = "quote_accepted"
"""The timeline's reason code of an order approved because the buyer accepted a quote: the account
manager decided on its prices and margin when sending the quote."""


async def approve_quoted(
    session: AsyncSession, order: Order, company: Company, *, today: date, grace_days: int, margin_floor: Decimal
) -> bool:
    """An order made by accepting a quote is approved at once unless a blocking flag holds (credit,
    past due, on hold), checked with the company's row locked; then it waits in the queue with the
    blocker shown, and the account manager on duty is told as for any order waiting. True: approved."""
    await session.flush()
    await _lock_company(session, order.company_id)
    await _still_waiting(session, order)
    (now,) = await order_flags(session, [FlagSubject.of(order)], Policy(today, grace_days, margin_floor))
    if now.blockers:
        buyer = await session.get(User, order.buyer_id) if order.buyer_id else None
        await tell_managers_waiting(session, order, company, today, buyer.full_name if buyer else "")
        return False
    await move_order(
        session,
        order.id,
        OrderStatus.APPROVED,
        None,
        QUOTE_ACCEPTED,
        expected_from=OrderStatus.PENDING_APPROVAL,
        today=today,
    )
    await _tell_buyer(session, order, "approved", "")
    return True


@retried
async def reject_order(session: AsyncSession, user: User, order_id: int, *, reason: str, today: date) -> Order:
    """Rejects an order waiting for approval; the buyer reads the reason, which is required."""
    order = await _order_for_decision(session, order_id)
    company = await _lock_company(session, order.company_id)
    on_behalf_of = await _deciding_for(session, user, company, today)
    reason = _decision_text(reason, required=True)
    await _still_waiting(session, order)
    order = await move_order(
        session,
        order.id,
        OrderStatus.REJECTED,
        user,
        reason,
        expected_from=OrderStatus.PENDING_APPROVAL,
        on_behalf_of_id=on_behalf_of,
    )
    await _tell_buyer(session, order, "rejected", reason)
    return order


@retried
async def cancel_approved(session: AsyncSession, user: User, order_id: int, *, reason: str, today: date) -> Order:
    """The company's account manager (their deputy during an absence) or an admin cancels an approved
    order the ERP has not taken yet, with a reason the buyers read. A cancelled order no longer counts:
    it leaves the company's exposure and its settlement period's turnover. An order already taken by
    the ERP (or decided otherwise meanwhile) is refused with what happened."""
    order = await _order_for_decision(session, order_id)
    company = await _lock_company(session, order.company_id)
    on_behalf_of = await _deciding_for(session, user, company, today)
    if not reason.strip():
        raise DecisionRefused(gettext("Give the buyer a reason for the cancellation."), "reason")
    reason = _decision_text(reason, required=True)
    await session.refresh(order, ["status"], with_for_update=True)
    if order.status in (OrderStatus.EXPORTED, OrderStatus.INVOICED):
        raise DecidedMeanwhile(
            gettext(
                "Order %(number)s was already taken by the ERP, so it can no longer be cancelled here; "
                "nothing was changed."
            )
            % {"number": order.number}
        )
    if order.status is not OrderStatus.APPROVED:
        raise DecidedMeanwhile((await refusal(session, order)).message)
    order = await move_order(
        session,
        order.id,
        OrderStatus.CANCELLED,
        user,
        reason,
        expected_from=OrderStatus.APPROVED,
        on_behalf_of_id=on_behalf_of,
    )
    await _tell_buyer(session, order, "cancelled", reason)
    return order


DECISION_SUBJECTS = {
    "approved": N_("Order %(number)s was approved"),
    "rejected": N_("Order %(number)s was rejected"),
    "cancelled": N_("Order %(number)s was cancelled"),
}


async def _tell_buyer(session: AsyncSession, order: Order, decision: str, reason: str) -> None:
    """The buyer who submitted hears the decision (approved, rejected, or an approved order
    cancelled); a recurring order's buyers all do."""
    if order.buyer_id is not None:
        buyer = await session.get(User, order.buyer_id)
        buyers = [buyer] if buyer is not None else []
    else:
        buyers = await notifications.company_buyers(session, order.company_id)
    told = await notifications.notify(
        session,
        NotificationKind.ORDER_DECIDED,
        buyers,
        lambda: gettext(DECISION_SUBJECTS[decision]) % {"number": order.number},
        "order_decided",
        {"order": order, "decision": decision, "reason": reason},
        f"/orders/{order.id}",
    )
    if decision == "approved":  # the approved order's confirmation goes with it, as a PDF
        for message in told:
            message.attachment = documents.order_attachment(order.id)


@dataclass(frozen=True)
class Skipped:
    """A chosen order bulk approval left waiting: its blockers with their numbers, or why not."""

    order: Order
    blockers: list[Flag] = field(default_factory=list)
    reason: str = ""


@dataclass(frozen=True)
class BulkResult:
    approved: list[Order] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)


@retried
async def bulk_approve(session: AsyncSession, user: User, order_ids: Sequence[int], policy: Policy) -> BulkResult:
    """Approves each chosen order that has no flag now, each checked as a single approval is;
    says why for the rest. Orders that do not exist, or of companies the user does not see, are
    passed over. All their companies' rows are locked first, in id order, whatever order the orders
    were chosen in: two bulk approvals of the same companies wait for each other instead of deadlocking."""
    if not order_ids:
        raise Refused(gettext("Choose the orders to approve."), "order_ids")
    chosen = list(dict.fromkeys(order_ids))
    visible = await scoping.visible_companies_filter(session, user, policy.today)  # others' orders: as missing
    query = _for_decision().join(Company, Company.id == Order.company_id).where(Order.id.in_(chosen), visible)
    found = {order.id: order for order in await session.scalars(query)}
    await lock_rows(session, Company, {order.company_id for order in found.values()})
    result = BulkResult()
    for order in [found[order_id] for order_id in chosen if order_id in found]:
        try:
            result.approved.append(await _approve(session, user, order, policy, "", False))
        except ApprovalBlocked as blocked:
            result.skipped.append(Skipped(order, blocked.blockers))
        except WarningsNotConfirmed:
            result.skipped.append(Skipped(order, reason=gettext("it has warnings; review it on its own.")))
        except (DecisionRefused, NotAllowed) as refused:
            result.skipped.append(Skipped(order, reason=refused.message))
    return result


@dataclass(frozen=True)
class QueueFilter:
    company_id: int | None = None
    flag: FlagKind | None = None
    """Only orders with this flag now."""
    manager_id: int | None = None
    """Admins only: the companies of this account manager."""


@dataclass(frozen=True)
class QueueEntry:
    order: Order
    now: FlagResult

    @property
    def flags(self) -> list[Flag]:
        return self.now.flags

    @property
    def margin_pct(self) -> Decimal | None:
        """Of the products: the delivery fee is not product revenue and has no cost."""
        return margin_pct(self.order.net_total - self.order.delivery_fee, self.order.cost_total)

    @property
    def bulk_approvable(self) -> bool:
        """Only orders without any flag now can be approved together."""
        return not self.now.flags


class Choice(NamedTuple):
    """A company or an account manager the queue can be narrowed to."""

    id: int
    name: str


@dataclass(frozen=True)
class Queue:
    entries: list[QueueEntry]
    companies: list[Choice]
    managers: list[Choice]
    """Admins only: every account manager."""
    filter: QueueFilter


def _queue_query(visible: ColumnElement[bool], wanted: QueueFilter) -> Select[Order]:
    """Pending orders of the companies `visible` keeps (`scoping.company_filter`), as `wanted`."""
    query = (
        select(Order)
        .join(Company, Company.id == Order.company_id)
        .where(Order.status == OrderStatus.PENDING_APPROVAL, visible)
    )
    if wanted.manager_id is not None:
        query = query.where(Company.account_manager_id == wanted.manager_id)
    if wanted.company_id is not None:
        query = query.where(Order.company_id == wanted.company_id)
    return query


async def pending_count(session: AsyncSession, user: User, today: date) -> int:
    """The number in the navigation: orders waiting for this user's decision, as the statement that
    loads the signed-in user reads it (`pending_count_column`, `services/visitors.py`)."""
    return int(await session.scalar(select(pending_count_column(today)).where(User.id == user.id)) or 0)


def pending_count_column(today: date | ColumnElement[date]) -> ColumnElement[int]:
    """`pending_count` in SQL for the `User` of the enclosing statement (staff who decide; 0 for others)."""
    count = _queue_query(scoping.signed_in_company_filter(today), QueueFilter()).with_only_columns(func.count(Order.id))
    return case((User.role.in_((Role.ACCOUNT_MANAGER, Role.ADMIN)), count.scalar_subquery()), else_=0)


async def approval_queue(session: AsyncSession, user: User, wanted: QueueFilter, policy: Policy) -> Queue:
    """Pending orders of the companies this user decides for, oldest first, each with its flags now;
    the same four statements however long the queue: the orders with their lines, flags and
    company's credit, what the flags read besides (`flags.order_flags`), the agreements in force,
    and the filter's choices."""
    visible = await scoping.visible_companies_filter(session, user, policy.today)
    query = (
        with_credit(
            _queue_query(visible, wanted if user.role is Role.ADMIN else replace(wanted, manager_id=None)), policy.today
        )
        .options(contains_eager(Order.company), joinedload(Order.lines), joinedload(Order.flags))
        .order_by(Order.submitted_at, Order.id)
    )
    rows = (await session.execute(query)).unique().all()
    orders = [row[0] for row in rows]
    pictures = {
        order.company_id: picture_from(order.company, figures, today=policy.today, grace_days=policy.grace_days)
        for order, *figures in rows
    }
    now = await order_flags(session, [FlagSubject.of(order) for order in orders], policy, pictures=pictures)
    entries = [QueueEntry(order, flags) for order, flags in zip(orders, now, strict=True)]
    if wanted.flag is not None:
        entries = [entry for entry in entries if any(flag.kind is wanted.flag for flag in entry.flags)]
    companies, managers = await _choices(session, visible, managers=user.role is Role.ADMIN)
    return Queue(entries, companies, managers, wanted)


async def _choices(
    session: AsyncSession, visible: ColumnElement[bool], *, managers: bool
) -> tuple[list[Choice], list[Choice]]:
    """The companies `visible` keeps and, for `managers`, every account manager, by name, in one statement."""
    parts = [select(literal_column("'company'", String).label("kind"), Company.id, Company.name).where(visible)]
    if managers:
        parts.append(
            select(literal_column("'manager'", String), User.id, User.full_name).where(
                User.role == Role.ACCOUNT_MANAGER
            )
        )
    both = union_all(*parts).subquery()
    found: dict[str, list[Choice]] = {"company": [], "manager": []}
    for kind, choice_id, name in await session.execute(select(both).order_by(both.c.kind, both.c.name, both.c.id)):
        found[kind].append(Choice(choice_id, name))
    return found["company"], found["manager"]


class OtherOrder(NamedTuple):
    """One of the company's last orders, as the review page lists them."""

    id: int
    number: str
    submitted_at: datetime
    gross_total: Decimal
    currency: str
    status: OrderStatus


class OverdueInvoice(NamedTuple):
    number: str
    due_date: date
    balance: Decimal
    currency: str


LAST_ORDERS = 5
"""How many of the company's other orders the review page lists."""


@dataclass(frozen=True)
class Review:
    """Everything an approver weighs. While the order waits, its flags and credit figures are those
    of this moment; `submitted_flags` are the ones it was given at submission, kept as history."""

    order: Order
    now: FlagResult
    overdue: list[OverdueInvoice]
    last_orders: list[OtherOrder]
    can_decide: bool
    on_behalf_of: User | None
    standing: Standing | None = None
    """The company's agreement in force and where its settlement period stands (None: no agreement)."""

    @property
    def categories(self) -> dict[int, int]:
        """The category of each product on the order, for the deductions its lines earn."""
        return self.now.categories

    @property
    def company(self) -> Company:
        return self.now.picture.company

    @property
    def picture(self) -> CreditPicture:
        return self.now.picture

    @property
    def pending(self) -> bool:
        return self.order.status is OrderStatus.PENDING_APPROVAL

    @property
    def credit(self) -> OrderCredit | None:
        """This order's credit figures, while it waits for approval."""
        return self.now.credit if self.pending else None

    @property
    def blockers(self) -> list[Flag]:
        return self.now.blockers if self.pending else []

    @property
    def warnings(self) -> list[Flag]:
        return self.now.warnings if self.pending else []

    @property
    def submitted_flags(self) -> list[OrderFlag]:
        return list(self.order.flags)

    @property
    def products_net(self) -> Decimal:
        """The net of the lines, without the delivery fee."""
        return self.order.net_total - self.order.delivery_fee

    @property
    def margin(self) -> Decimal:
        """The margin of the lines: the delivery fee is not product revenue."""
        return self.products_net - self.order.cost_total

    @property
    def usual(self) -> dict[int, Decimal]:
        """The company's median earlier quantity of each product on the order."""
        return self.now.usual

    @property
    def decidable(self) -> bool:
        """The order waits and this user may decide it: the decision forms are shown."""
        return self.pending and self.can_decide

    @property
    def approvable(self) -> bool:
        return self.decidable and not self.blockers

    @property
    def cancellable(self) -> bool:
        """Approved, not yet taken by the ERP, and this user decides the company's orders."""
        return self.order.status is OrderStatus.APPROVED and self.can_decide

    def after_terms(self, line: OrderLine) -> AfterTerms | None:
        """The line's margin after the expected rebate and skonto (None without an agreement)."""
        if self.standing is None:
            return None
        cost = line.line_net - line.margin
        return agreements.after_terms(self.standing, self.categories[line.product_id], line.line_net, cost)

    @property
    def margin_after_terms(self) -> AfterTerms | None:
        """The order's: its lines' margins after the terms, over the products' net."""
        lines = [after for line in self.order.lines if (after := self.after_terms(line)) is not None]
        return sum(lines[1:], lines[0]) if lines else None


async def review(session: AsyncSession, user: User, order_id: int, policy: Policy) -> Review:
    """The review page of an order of a company this user sees (`services/scoping.py`; any other is
    `NotFound`); only deciders get the forms. Four statements, five with an agreement that has tiers:
    the order with all it shows and its company's credit, the agreement in force (and its period's
    sales), what the flags read besides (`flags.order_flags`), and the company's last orders with its
    overdue invoices."""
    visible = await scoping.visible_companies_filter(session, user, policy.today)
    query = with_credit(
        select(Order).join(Company, Company.id == Order.company_id).where(Order.id == order_id, visible), policy.today
    ).options(
        contains_eager(Order.company).joinedload(Company.account_manager),
        joinedload(Order.lines),
        joinedload(Order.flags),
        joinedload(Order.events).joinedload(OrderEvent.actor),
        joinedload(Order.events).joinedload(OrderEvent.on_behalf_of),
        joinedload(Order.buyer),
        joinedload(Order.placed_by),
        joinedload(Order.quote),
    )
    found = (await session.execute(query)).unique().first()
    if found is None:
        raise NotFound()
    order, *figures = found
    company = order.company
    picture = picture_from(company, figures, today=policy.today, grace_days=policy.grace_days)
    agreement = await _agreement_in_force(session, company.id, policy.today)
    standing = await agreements.standing_for(session, agreement, policy.today) if agreement is not None else None
    (now,) = await order_flags(
        session, [FlagSubject.of(order)], policy, pictures={company.id: picture}, agreements={company.id: agreement}
    )
    allowed, on_behalf_of = await scoping.decider(session, user, company, policy.today)
    last_orders, overdue = await _around(session, order, policy.today)
    return Review(
        order=order,
        now=now,
        overdue=overdue,
        last_orders=last_orders,
        can_decide=allowed,
        on_behalf_of=company.account_manager if on_behalf_of else None,
        standing=standing,
    )


async def _agreement_in_force(session: AsyncSession, company_id: int, today: date) -> Agreement | None:
    """The company's active agreement with what its standing and the assortment flag read, in one statement."""
    query = (
        select(Agreement)
        .where(agreements.active_on(company_id, today))
        .options(agreements.with_tiers(), joinedload(Agreement.assortment))
    )
    return (await session.scalars(query)).unique().first()


async def _around(session: AsyncSession, order: Order, today: date) -> tuple[list[OtherOrder], list[OverdueInvoice]]:
    """The company's `LAST_ORDERS` other orders, latest first, and its overdue invoices, oldest
    first (`credit.overdue`), in one statement."""
    last = (
        select(
            literal_column("'order'", String).label("kind"),
            Order.id,
            Order.number,
            Order.submitted_at,
            cast(null(), Date).label("due_date"),
            Order.gross_total.label("amount"),
            Order.currency,
            Order.status,
        )
        .where(Order.company_id == order.company_id, Order.id != order.id)
        .order_by(Order.submitted_at.desc(), Order.id.desc())
        .limit(LAST_ORDERS)
        .subquery()
    )
    invoices = select(
        literal_column("'invoice'", String),
        Invoice.id,
        Invoice.number,
        null(),
        Invoice.due_date,
        Invoice.gross_amount - Invoice.paid_amount,
        Invoice.currency,
        null(),
    ).where(Invoice.company_id == order.company_id, overdue(today))
    others, owed = [], []
    for kind, row_id, number, at, due_date, amount, currency, status in await session.execute(
        union_all(select(last), invoices)
    ):
        if kind == "order":
            others.append(OtherOrder(row_id, number, at, amount, currency, status))
        else:
            owed.append(OverdueInvoice(number, due_date, amount, currency))
    others.sort(key=lambda other: (other.submitted_at, other.id), reverse=True)
    owed.sort(key=lambda invoice: (invoice.due_date, invoice.number))
    return others, owed
