"""Orders: checkout into the approval queue (idempotent, one cart → one order), by a
buyer or by the account manager taking an order for a customer by phone or e-mail; the
order's allowed moves with their timeline, cancelling, reordering, and the company's
order history."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo
from decimal import Decimal

from sqlalchemy import String, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload, selectinload

from portal import clock
from portal.errors import Conflict, NotAllowed, NotFound, Refused
from portal.i18n import N_, format_datetime, format_decimal, gettext
from portal.models import (
    Address,
    Company,
    FlagKind,
    NotificationKind,
    Order,
    OrderEvent,
    OrderFlag,
    OrderLine,
    OrderNumberSequence,
    OrderSource,
    OrderStatus,
    Product,
    Quote,
    QuoteVersion,
    User,
)
from portal.services import delivery as terms
from portal.services import notifications, payment_terms, scoping
from portal.services.cart import (
    CartOwner,
    buyer_cart,
    check_stock,
    new_checkout_key,
    priced_cart,
    put_in_cart,
    quantity_problem,
)
from portal.services.credit import credit_picture, credit_use
from portal.services.flags import Flag, FlagSubject, Policy, order_flags
from portal.services.numbering import next_yearly_number
from portal.services.pricing import line_net, load_company_prices
from portal.services.totals import totals
from portal.services.transactions import retried

MOVES: dict[OrderStatus, frozenset[OrderStatus]] = {
    OrderStatus.PENDING_APPROVAL: frozenset({OrderStatus.APPROVED, OrderStatus.REJECTED, OrderStatus.CANCELLED}),
    OrderStatus.APPROVED: frozenset({OrderStatus.EXPORTED, OrderStatus.CANCELLED}),
    OrderStatus.EXPORTED: frozenset({OrderStatus.INVOICED}),
}
"""The only moves an order can make; everything else is refused. A buyer cancels an order still
waiting for approval (`cancel_order`); the account manager, their deputy or an admin cancels an
approved one the ERP has not taken yet (`approvals.cancel_approved`): it stops counting as a sale."""

KEY_PATTERN = re.compile(r"[0-9a-f]{32}")
"""A checkout key as `new_checkout_key` makes it: 32 lower-case hex digits."""
_po_number_type = Order.__table__.c.po_number.type
assert isinstance(_po_number_type, String) and _po_number_type.length is not None
PO_NUMBER_MAX: int = _po_number_type.length
NOTE_MAX = 2000
"""The note and the cancel reason are TEXT columns; a buyer's sentence is held to 2,000 characters."""
ORDERS_PER_PAGE = 25


class CompanyOnHold(Refused):
    """The company is on hold: nothing can be submitted; `reason` is finance's reason."""

    def __init__(self, reason: str = "") -> None:
        super().__init__(gettext("Your account is on hold, so orders cannot be submitted."))
        self.reason = reason


class CartChanged(Conflict):
    """The cart is not the one the checkout form was made from: it is shown again, not ordered unseen."""


class CheckoutInvalid(Refused):
    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__(gettext("Please correct the marked fields."), errors=errors)


class MoveRefused(Conflict):
    """The order is no longer where the move starts from; `last_event` says who moved it, when."""

    def __init__(self, message: str, order: Order, last_event: OrderEvent | None) -> None:
        super().__init__(message)
        self.order = order
        self.last_event = last_event


@dataclass(frozen=True)
class CheckoutForm:
    """What the buyer chose at checkout, decoded and bounded by the web form."""

    key: str = ""
    po_number: str = ""
    delivery_date: date | None = None
    address_id: int | None = None
    note: str = ""
    payment_option: int = 0
    """The payment terms chosen: 0 the company's standard, else the agreement's option (`payment_terms`)."""

    def __post_init__(self) -> None:
        # Callers other than the web form (scripts, older tests) may still pass the ISO date and
        # the address id as text; they are read once here, so the rules below see typed values.
        if isinstance(self.delivery_date, str):
            object.__setattr__(self, "delivery_date", _iso_day(self.delivery_date))
        if isinstance(self.address_id, str):
            number = self.address_id.strip()
            object.__setattr__(self, "address_id", int(number) if re.fullmatch(r"[0-9]{1,9}", number) else None)
        object.__setattr__(self, "po_number", self.po_number.strip())
        object.__setattr__(self, "note", self.note.strip())


def _iso_day(text: str) -> date | None:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        return None


@dataclass(frozen=True)
class Submission:
    order: Order
    created: bool
    """False when this key had already made the order: a double click or a second tab."""


async def _order_by_key(session: AsyncSession, company_id: int, key: str) -> Order | None:
    return await session.scalar(select(Order).where(Order.idempotency_key == key, Order.company_id == company_id))


async def next_order_number(session: AsyncSession, year: int) -> str:
    """ORD-2026-000123: sequential per year (`numbering.next_yearly_number`)."""
    return await next_yearly_number(session, OrderNumberSequence, "ORD", year)


def _validate(
    form: CheckoutForm, company: Company, addresses: list[Address], today: date, earliest: date
) -> tuple[date, Address]:
    """The form's choices against the company's terms; `earliest` is `delivery.earliest` of the moment."""
    errors: dict[str, str] = {}
    if company.po_number_required and not form.po_number:
        errors["po_number"] = gettext("Your company asks for a purchase order number on every order.")
    elif len(form.po_number) > PO_NUMBER_MAX:
        errors["po_number"] = gettext("At most %(max)d characters.") % {"max": PO_NUMBER_MAX}
    delivery = form.delivery_date
    if delivery is None:
        errors["delivery_date"] = gettext("Enter a date, e.g. %(date)s.") % {"date": earliest.isoformat()}
    elif problem := terms.date_problem(company, delivery, today, earliest):
        errors["delivery_date"] = problem
    address = next((a for a in addresses if a.id == form.address_id), None)
    if address is None:
        errors["address_id"] = gettext("Choose one of your company's delivery addresses.")
    if len(form.note) > NOTE_MAX:
        errors["note"] = gettext("At most %(max)d characters.") % {"max": NOTE_MAX}
    if errors:
        raise CheckoutInvalid(errors)
    assert delivery is not None and address is not None
    return delivery, address


async def company_addresses(session: AsyncSession, company_id: int, keep: int | None = None) -> list[Address]:
    """The addresses offered for new orders and schedules: the company's, less retired ones; `keep`
    (the address a schedule already names) is offered even when retired."""
    offered = Address.retired.is_(False) if keep is None else or_(Address.retired.is_(False), Address.id == keep)
    return list(
        await session.scalars(select(Address).where(Address.company_id == company_id, offered).order_by(Address.id))
    )


class BelowMinimum(Refused):
    """The products of the order do not reach the company's minimum order value."""

    def __init__(self, company: Company, missing: Decimal) -> None:
        super().__init__(terms.minimum_message(company, missing), "minimum")
        self.missing = missing


async def refusal(session: AsyncSession, order: Order) -> MoveRefused:
    """Why a move cannot be made: the order was moved already, by whom and when."""
    last = await session.scalar(
        select(OrderEvent)
        .options(joinedload(OrderEvent.actor))
        .where(OrderEvent.order_id == order.id)
        .order_by(OrderEvent.id.desc())
        .limit(1)
    )
    return MoveRefused(refusal_text(order, last), order, last)


STATUS_LABELS = {
    OrderStatus.PENDING_APPROVAL: N_("Waiting for approval"),
    OrderStatus.APPROVED: N_("Approved"),
    OrderStatus.EXPORTED: N_("Sent to fulfilment"),
    OrderStatus.INVOICED: N_("Invoiced"),
    OrderStatus.REJECTED: N_("Rejected"),
    OrderStatus.CANCELLED: N_("Cancelled"),
}
"""An order's status as pages, documents and sentences about the order name it."""


ERP_TAKEN = "erp_taken:"
"""A timeline reason the system writes when the ERP takes an order: the code, then the API key's label."""
ERP_INVOICED = "erp_invoiced:"
"""A timeline reason the system writes when the ERP's invoice arrives: the code, the invoice's number,
and after "|" the API key's label when an API key sent it (pages word it, `formatting.event_reason`)."""


def order_note(order: Order) -> str:
    """An order's note in the reader's language: a recurring order stores its schedule's name
    (data), and reads as the sentence that names it."""
    if order.source == OrderSource.RECURRING and order.note:
        return gettext("Recurring delivery “%(name)s”") % {"name": order.note}
    return order.note


def status_label(status: OrderStatus) -> str:
    return gettext(STATUS_LABELS[status])


def refusal_text(order: Order, event: OrderEvent | None) -> str:
    """ "Already set to “Approved” by Anna Kowalska at 27 Nov 2026, 10:14": what happened instead."""
    status = status_label(order.status)
    if event is None:
        return gettext("This order's status is “%(status)s”; nothing was changed.") % {"status": status}
    who = event.actor.full_name if event.actor else gettext("the system")
    return gettext("Nothing was changed: this order was already set to “%(status)s” by %(who)s at %(when)s.") % {
        "status": status,
        "who": who,
        "when": format_datetime(event.at),
    }


def address_text(address: Address) -> str:
    return f"{address.label}\n{address.street}\n{address.postal_code} {address.city}\n{address.country_code}"


@retried
async def submit_order(
    session: AsyncSession,
    user: User,
    company: Company,
    form: CheckoutForm,
    *,
    today: date,
    grace_days: int,
    margin_floor: Decimal,
    now: time | None = None,
) -> Submission:
    """The buyer's cart becomes one order waiting for approval, in one transaction (`_check_out`);
    the account manager on duty is told it waits, the buyer that it arrived."""
    submission, approved = await _check_out(
        session, user, company, form, today=today, grace_days=grace_days, margin_floor=margin_floor, now=now
    )
    if submission.created and not approved:
        await tell_managers_waiting(session, submission.order, company, today, user.full_name)
        await notifications.confirm_submission(session, submission.order, company, user)
    return submission


async def customer_to_order_for(session: AsyncSession, user: User, company_id: int, today: date) -> Company:
    """The customer a staff member takes an order for by phone or e-mail: one they see (else
    `NotFound`, as one that does not exist) and whose orders they may decide (`scoping.decider`:
    the company's account manager, their deputy while covering, an admin; else `NotAllowed`).
    Loaded with its account manager, whom its pages name."""
    visible = await scoping.visible_companies_filter(session, user, today)
    company = await session.scalar(
        select(Company).options(joinedload(Company.account_manager)).where(Company.id == company_id, visible)
    )
    if company is None:
        raise NotFound()
    if not (await scoping.decider(session, user, company, today))[0]:
        raise NotAllowed(gettext("Only the customer's account manager, their deputy or an admin may order for them."))
    return company


@retried
async def submit_for_customer(
    session: AsyncSession,
    staff: User,
    company: Company,
    form: CheckoutForm,
    *,
    today: date,
    grace_days: int,
    margin_floor: Decimal,
    now: time | None = None,
) -> Submission:
    """An order taken by phone or e-mail: the cart `staff` keeps for the customer (`company`, as
    `customer_to_order_for` gave it) becomes one order, checked, flagged and approved exactly as a
    buyer's checkout (`_check_out`), recorded as placed by `staff` with no buyer. The company's
    buyers are told who placed it; another account manager on duty is told it waits."""
    submission, approved = await _check_out(
        session,
        staff,
        company,
        form,
        today=today,
        grace_days=grace_days,
        margin_floor=margin_floor,
        now=now,
        placed_by=staff,
    )
    if not submission.created:
        return submission
    order = submission.order
    if not approved:
        await tell_managers_waiting(session, order, company, today, staff.full_name, placed_by=staff)
    await notifications.notify(
        session,
        NotificationKind.ORDER_PLACED_FOR_YOU,
        await notifications.company_buyers(session, company.id),
        lambda: (
            gettext("%(manager)s placed order %(number)s for %(company)s")
            % {"manager": staff.full_name, "number": order.number, "company": company.name}
        ),
        "order_placed_for_you",
        {**await notifications.order_facts(session, order, company), "manager": staff.full_name, "approved": approved},
        f"/orders/{order.id}",
    )
    return submission


async def tell_managers_waiting(
    session: AsyncSession, order: Order, company: Company, today: date, by: str, *, placed_by: User | None = None
) -> None:
    """The account manager on duty (and their deputies) hear an order waits for approval; not the
    one who placed it."""
    managers = await notifications.managers_on_duty(session, company, today)
    await notifications.notify(
        session,
        NotificationKind.ORDER_SUBMITTED,
        [manager for manager in managers if placed_by is None or manager.id != placed_by.id],
        lambda: (
            gettext("Order %(number)s from %(company)s waits for approval")
            % {"number": order.number, "company": company.name}
        ),
        "order_submitted",
        {
            "order": order,
            "company": company,
            "buyer": by,
            "gross": order.gross_total,
            "delivery": order.requested_delivery_date,
        },
        f"/queue/orders/{order.id}",
    )


async def _check_out(
    session: AsyncSession,
    user: User,
    company: Company,
    form: CheckoutForm,
    *,
    today: date,
    grace_days: int,
    margin_floor: Decimal,
    now: time | None,
    placed_by: User | None = None,
) -> tuple[Submission, bool]:
    """The cart `user` keeps for `company` becomes one order waiting for approval, in one
    transaction; True with it when it was approved at once.

    The form's key is the cart's checkout key of the moment the form was made:
    the same key again (double click, retry, a second tab) finds the order it
    already made, and a cart changed since then is refused rather than ordered
    unseen.

    `now` is the seller's time of day, read against the company's order cut-off (None: before it).
    An order with no flag of a company that allows it is approved at once (`approvals.approve_automatically`).
    A company that does not allow backorders cannot order beyond the stock on hand, as read in this
    transaction (`cart.check_stock`). `placed_by`: staff ordering for the customer; the order has no buyer.

    The cart's row is locked before anything is read: two submissions of one form at the same
    moment go one after the other, and the second finds the order the first made."""
    if not KEY_PATTERN.fullmatch(form.key):
        raise CartChanged(gettext("This checkout form is out of date. Please review your cart and submit again."))
    cart = await buyer_cart(session, CartOwner(user.id, company.id), lock=True)
    if existing := await _order_by_key(session, company.id, form.key):
        return Submission(existing, created=False), False
    if company.on_hold:
        raise CompanyOnHold(company.hold_reason or "")
    if cart.checkout_key != form.key:
        raise CartChanged(gettext("Your cart changed since this form was opened. Please check it and submit again."))

    addresses = await company_addresses(session, company.id)
    delivery, address = _validate(form, company, addresses, today, terms.earliest(company, today, now))
    chosen = payment_terms.pick(await payment_terms.offered(session, company, today), form.payment_option)
    if chosen is None:
        raise CheckoutInvalid({payment_terms.NOT_OFFERED: payment_terms.not_offered_message()})
    priced = await priced_cart(session, user, company, today=today, grace_days=grace_days, cart=cart)
    items = priced.orderable
    if not items:
        raise CheckoutInvalid({"cart": gettext("Your cart has nothing that can be ordered.")})
    for item in items:
        if problem := quantity_problem(item.product, item.line.quantity):
            raise CheckoutInvalid({"cart": f"{item.product.sku}: {problem}"})
    await check_stock(session, items)
    if priced.shortfall > 0:
        raise BelowMinimum(company, priced.shortfall)

    order = await place_order(
        session,
        company,
        [(item.product, item.line.quantity) for item in items],
        today=today,
        grace_days=grace_days,
        margin_floor=margin_floor,
        buyer=None if placed_by else user,
        key=form.key,
        source=OrderSource.PORTAL,
        delivery=delivery,
        address=address,
        po_number=form.po_number,
        note=form.note,
        placed_by=placed_by,
        payment=chosen,
    )
    for line in [line for line in cart.lines if line.product.is_active]:
        cart.lines.remove(line)
    cart.checkout_key = new_checkout_key()
    cart.updated_at = order.submitted_at
    try:
        await session.flush()
    except IntegrityError:
        # Another request with this key won the race and committed first.
        await session.rollback()
        existing = await _order_by_key(session, company.id, form.key)
        if existing is None:
            raise
        return Submission(existing, created=False), False
    # approvals moves orders with `move_order` from here: imported when used, not in a circle
    from portal.services.approvals import approve_automatically

    approved = await approve_automatically(session, order, company, Policy(today, grace_days, margin_floor))
    return Submission(order, created=True), approved


async def place_order(
    session: AsyncSession,
    company: Company,
    wanted: list[tuple[Product, int]],
    *,
    today: date,
    grace_days: int,
    margin_floor: Decimal,
    buyer: User | None,
    key: str,
    source: OrderSource,
    delivery: date,
    address: Address,
    po_number: str = "",
    note: str = "",
    extra_flags: list[Flag] | None = None,
    quoted: Quoted | None = None,
    placed_by: User | None = None,
    payment: payment_terms.Terms | None = None,
) -> Order:
    """An order waiting for approval from (product, quantity) lines at `today`'s prices, with its
    totals, flags, number and first event; added to the session, not flushed. Checkout and the
    recurring deliveries both make their orders here; an accepted quote (`quoted`) too, at its prices. The company's delivery fee is part of the
    totals (VAT at `delivery.FEE_VAT_RATE`, with that rate's lines); an order under its minimum
    order value (only a recurring one gets here) is flagged for the approver."""
    products = {
        p.id: p
        for p in await session.scalars(
            select(Product).options(joinedload(Product.category)).where(Product.id.in_([p.id for p, _ in wanted]))
        )
    }
    prices = await load_company_prices(session, company, today, list(products))
    order_lines: list[OrderLine] = []
    for wanted_product, quantity in wanted:
        product = products[wanted_product.id]
        price = prices.price(product, quantity)
        unit_price, price_source, price_note, minimum = (
            price.unit_price,
            price.source.value,
            price.note,
            price.min_quantity,
        )
        if quoted is not None:
            unit_price, price_source, price_note, minimum = quoted.prices[product.id], QUOTE_PRICE, quoted.label, 1
        order_lines.append(
            OrderLine(
                company_id=company.id,
                product_id=product.id,
                sku=product.sku,
                name=product.name,
                unit=product.unit,
                quantity=quantity,
                unit_price=unit_price,
                price_source=price_source,
                price_note=price_note,
                price_min_quantity=minimum,
                unit_cost=product.cost,
                vat_rate=product.vat_rate,
                line_net=line_net(unit_price, quantity),
            )
        )
    if payment is None:  # recurring orders, accepted quotes: the standard terms, the agreement's skonto
        payment = (await payment_terms.offered(session, company, today))[0]
    payment_terms.apply_effect(order_lines, payment.effect_pct)
    products_net = sum((line.line_net for line in order_lines), Decimal("0.00"))
    fee = terms.delivery_fee(company, products_net)
    order_totals = totals(
        [*((line.line_net, line.vat_rate) for line in order_lines), *([(fee, terms.FEE_VAT_RATE)] if fee else [])]
    )
    picture = await credit_picture(session, company.id, today=today, grace_days=grace_days)
    cost_total = sum((line_net(line.unit_cost, line.quantity) for line in order_lines), Decimal("0.00"))
    (flagged,) = await order_flags(
        session,
        [FlagSubject(company.id, credit_use(order_totals.gross, prepaid=payment.prepaid), order_lines)],
        Policy(today, grace_days, margin_floor),
        pictures={company.id: picture},
    )
    flags = flagged.flags + (extra_flags or [])
    if missing := terms.shortfall(company, products_net):
        flags.append(Flag(FlagKind.BELOW_MINIMUM, {"minimum": str(company.min_order_value), "missing": str(missing)}))
    now = clock.now()
    order = Order(
        company_id=company.id,
        number=await next_order_number(session, today.year),
        status=OrderStatus.PENDING_APPROVAL,
        source=source,
        buyer_id=buyer.id if buyer else None,
        idempotency_key=key,
        po_number=po_number or None,
        requested_delivery_date=delivery,
        delivery_address_id=address.id,
        delivery_address=address_text(address),
        note=note,
        currency=company.currency,
        net_total=order_totals.net,
        vat_total=order_totals.vat,
        gross_total=order_totals.gross,
        cost_total=cost_total,
        list_total=sum((line_net(products[p.id].list_price, q) for p, q in wanted), Decimal("0.00")),
        delivery_fee=fee,
        delivery_fee_vat_rate=terms.FEE_VAT_RATE,
        **payment.freeze(),
        submitted_at=now,
        quote_id=quoted.quote_id if quoted else None,
        quote_version=quoted.version if quoted else None,
        placed_by_id=placed_by.id if placed_by else None,
        lines=order_lines,
        flags=[OrderFlag(company_id=company.id, kind=f.kind, blocking=f.blocking, data=f.data) for f in flags],
        events=[
            OrderEvent(
                company_id=company.id,
                at=now,
                actor_id=placed_by.id if placed_by else buyer.id if buyer else None,
                from_status=None,
                to_status=OrderStatus.PENDING_APPROVAL,
                reason="",
            )
        ],
    )
    session.add(order)
    return order


QUOTE_PRICE = "quote"
"""`OrderLine.price_source` of a line priced by an accepted quote; `price_note` holds the version's number."""


@dataclass(frozen=True)
class Quoted:
    """The accepted version of a quote an order is made from: its unit price per product."""

    quote_id: int
    version: int
    label: str
    """Q-2026-000123/2"""
    prices: dict[int, Decimal]


async def accept_quote_order(
    session: AsyncSession,
    buyer: User,
    company: Company,
    quote: Quote,
    version: QuoteVersion,
    form: CheckoutForm,
    *,
    today: date,
    grace_days: int,
    margin_floor: Decimal,
) -> Order:
    """The order an accepted quote version makes: its lines and quoted prices, the buyer's PO number,
    delivery date and address checked as at checkout. Its key is the quote's, so one quote makes one
    order whatever happens at once."""
    addresses = await company_addresses(session, company.id)
    delivery, address = _validate(form, company, addresses, today, terms.earliest(company, today, None))
    lines = [(line.product, line.quantity) for line in version.lines if line.product is not None]
    prices = {line.product.id: line.unit_price for line in version.lines if line.product and line.unit_price}
    label = f"{quote.number}/{version.number}"
    order = await place_order(
        session,
        company,
        lines,
        today=today,
        grace_days=grace_days,
        margin_floor=margin_floor,
        buyer=buyer,
        key=f"quote-{quote.id}",
        source=OrderSource.QUOTE,
        delivery=delivery,
        address=address,
        po_number=form.po_number,
        note=form.note,
        quoted=Quoted(quote.id, version.number, label, prices),
    )
    await session.flush()
    return order


async def move_order(
    session: AsyncSession,
    order_id: int,
    to_status: OrderStatus,
    actor: User | None,
    reason: str = "",
    *,
    expected_from: OrderStatus | None = None,
    on_behalf_of_id: int | None = None,
    today: date | None = None,
) -> Order:
    """Moves an order along the allowed path, recording who, when and why. The row is
    locked first; an order that someone else already moved is left as it is. An approval
    records the seller's day (`today`) the order starts to count as a sale."""
    order = await session.scalar(
        select(Order).where(Order.id == order_id).with_for_update().execution_options(populate_existing=True)
    )
    assert order is not None
    allowed = MOVES.get(order.status, frozenset())
    if to_status not in allowed or (expected_from is not None and order.status is not expected_from):
        raise await refusal(session, order)
    event = OrderEvent(
        order_id=order.id,
        company_id=order.company_id,
        at=clock.now(),
        actor_id=actor.id if actor else None,
        from_status=order.status,
        to_status=to_status,
        reason=reason,
        on_behalf_of_id=on_behalf_of_id,
    )
    order.status = to_status
    if to_status is OrderStatus.APPROVED:
        assert today is not None, "an approval needs the seller's day it counts from"
        order.counted_on = today
    session.add(event)
    await session.flush()
    return order


@retried
async def cancel_order(session: AsyncSession, user: User, order_id: int, reason: str) -> Order:
    """A buyer of the company withdraws an order still waiting for approval."""
    if await company_order(session, user.company_id or 0, order_id) is None:
        raise NotFound()
    if len(reason := reason.strip()) > NOTE_MAX:
        raise Refused(gettext("Use at most %(limit)s characters.") % {"limit": format_decimal(NOTE_MAX, 0)}, "reason")
    return await move_order(
        session, order_id, OrderStatus.CANCELLED, user, reason, expected_from=OrderStatus.PENDING_APPROVAL
    )


async def company_order(session: AsyncSession, company_id: int, order_id: int) -> Order | None:
    """One order of this company with everything its page shows; another company's does not exist."""
    return await session.scalar(
        select(Order)
        .options(
            selectinload(Order.lines),
            selectinload(Order.flags),
            selectinload(Order.events).joinedload(OrderEvent.actor),
            selectinload(Order.events).joinedload(OrderEvent.on_behalf_of),
            joinedload(Order.buyer),
            joinedload(Order.placed_by),
            joinedload(Order.quote),
            joinedload(Order.company),
        )
        .where(Order.id == order_id, Order.company_id == company_id)
    )


async def buyer_order(session: AsyncSession, company_id: int, order_id: int) -> Order:
    """One order of the buyer's company; any other order does not exist for them."""
    order = await company_order(session, company_id, order_id)
    if order is None:
        raise NotFound()
    return order


@dataclass(frozen=True)
class OrderView:
    """What the buyer's order page decides: whether it still waits, what blocks it, if it can be cancelled."""

    order: Order

    @property
    def pending(self) -> bool:
        return self.order.status is OrderStatus.PENDING_APPROVAL

    @property
    def can_cancel(self) -> bool:
        """A buyer cancels only while the order waits; an approved one only staff may cancel."""
        return self.pending

    @property
    def blocking_flags(self) -> list[OrderFlag]:
        """The blockers flagged at submission, while the order still waits for approval."""
        return [flag for flag in self.order.flags if flag.blocking] if self.pending else []


@dataclass(frozen=True)
class OrderFilter:
    """Which of the company's orders to list: typed and bounded by the web layer."""

    status: OrderStatus | None = None
    date_from: date | None = None
    date_to: date | None = None
    page: int = 1
    q: str = ""
    """Part of an order number or of the buyer's PO number."""
    per_page: int = ORDERS_PER_PAGE

    def params(self, **changes: object) -> dict[str, object]:
        values: dict[str, object] = {
            "status": self.status.value if self.status else "",
            "date_from": self.date_from.isoformat() if self.date_from else "",
            "date_to": self.date_to.isoformat() if self.date_to else "",
            "q": self.q,
            "page": self.page,
        }
        values.update(changes)
        return {k: v for k, v in values.items() if v not in ("", None)}

    @property
    def previous_page(self) -> int | None:
        return self.page - 1 if self.page > 1 else None


@dataclass(frozen=True)
class OrderPage:
    orders: list[Order]
    total: int
    filter: OrderFilter

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.filter.per_page))

    @property
    def next_page(self) -> int | None:
        return self.filter.page + 1 if self.filter.page < self.pages else None


async def company_orders(session: AsyncSession, company_id: int, wanted: OrderFilter, zone: tzinfo) -> OrderPage:
    """The company's orders, newest first, all buyers'; dates are the seller's calendar days."""
    query = select(Order).where(Order.company_id == company_id)
    if wanted.status is not None:
        query = query.where(Order.status == wanted.status)
    if wanted.date_from is not None:
        query = query.where(Order.submitted_at >= datetime.combine(wanted.date_from, time(), zone))
    if wanted.date_to is not None:
        query = query.where(Order.submitted_at < datetime.combine(wanted.date_to + timedelta(days=1), time(), zone))
    if wanted.q:
        query = query.where(
            or_(Order.number.icontains(wanted.q, autoescape=True), Order.po_number.icontains(wanted.q, autoescape=True))
        )
    rows = (
        await session.execute(
            query.add_columns(func.count().over().label("total"))
            .options(joinedload(Order.buyer), joinedload(Order.placed_by))
            .order_by(Order.submitted_at.desc(), Order.id.desc())
            .limit(wanted.per_page)
            .offset((wanted.page - 1) * wanted.per_page)
        )
    ).all()
    return OrderPage(orders=[row[0] for row in rows], total=rows[0].total if rows else 0, filter=wanted)


@dataclass(frozen=True)
class ReorderLine:
    line: OrderLine
    product: Product | None
    new_unit_price: Decimal | None
    problem: str | None = None

    @property
    def available(self) -> bool:
        return self.product is not None and self.new_unit_price is not None and self.problem is None

    @property
    def price_changed(self) -> bool:
        return self.available and self.new_unit_price != self.line.unit_price


async def reorder_preview(
    session: AsyncSession, company: Company, order_id: int, today: date
) -> tuple[Order, list[ReorderLine]]:
    """An earlier order's lines at today's prices: which changed price, which are not sold any more."""
    order = await buyer_order(session, company.id, order_id)
    products = {
        p.id: p
        for p in await session.scalars(select(Product).where(Product.id.in_([line.product_id for line in order.lines])))
    }
    prices = await load_company_prices(session, company, today, list(products))
    result = []
    for line in order.lines:
        product = products.get(line.product_id)
        if product is None or not product.is_active:
            result.append(ReorderLine(line, None, None, gettext("Not sold any more; not added.")))
            continue
        problem = quantity_problem(product, line.quantity)
        result.append(
            ReorderLine(
                line,
                product,
                prices.price(product, line.quantity).unit_price,
                gettext("Now sold in packs of %(pack)d; not added.") % {"pack": product.pack_size} if problem else None,
            )
        )
    return order, result


@retried
async def reorder(session: AsyncSession, user: User, company: Company, order_id: int, today: date) -> list[ReorderLine]:
    """Puts the earlier order's available lines into the cart; the cart prices them at today's prices."""
    _, lines = await reorder_preview(session, company, order_id, today)
    await put_in_cart(
        session,
        user,
        [(item.product, item.line.quantity) for item in lines if item.available and item.product is not None],
    )
    return lines
