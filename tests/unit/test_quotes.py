"""Quotes: the moves of the state machine and its refusals, version by version, into one order."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.orm import selectinload

from portal.errors import NotAllowed, NotFound
from portal.models import (
    Address,
    Deputy,
    FlagKind,
    NotificationKind,
    Order,
    OrderEvent,
    OrderLine,
    OrderSource,
    OrderStatus,
    OutboxMessage,
    Quote,
    QuoteEvent,
    QuoteLine,
    QuoteStatus,
    QuoteVersion,
    Role,
)
from portal.services import quote_views, quotes
from portal.services.approvals import QUOTE_ACCEPTED
from portal.services.ordering import CheckoutForm, CompanyOnHold, place_order
from tests.factories import make_company, make_product, make_user

TODAY = date(2026, 11, 27)
FLOOR = Decimal("10")


async def world(session: AsyncSession, **company_fields):  # type: ignore[no-untyped-def]
    manager = await make_user(session, Role.ACCOUNT_MANAGER, full_name="Anna Kowalska")
    company = await make_company(
        session, account_manager_id=manager.id, **{"credit_limit": Decimal("100000.00"), **company_fields}
    )
    session.add(
        Address(
            company_id=company.id,
            label="Main",
            street="Magazynowa 1",
            postal_code="00-001",
            city="Warszawa",
            is_default=True,
        )
    )
    buyer = await make_user(session, company_id=company.id)
    await session.refresh(buyer, ["company"])
    product = await make_product(session, list_price=Decimal("20.00"), cost=Decimal("10.00"))
    return manager, company, buyer, product


async def sent_quote(session, manager, buyer, product, price="15.00"):  # type: ignore[no-untyped-def]
    quote = await quotes.request_quote(
        session,
        buyer,
        [quotes.WantedLine(500, product.id, target_price=Decimal("14.00")), quotes.WantedLine(10, name="Red pallet")],
        message="We need 500 for a project.",
        today=TODAY,
    )
    draft = quotes.draft_of(quote)
    assert draft is not None
    free = next(line for line in draft.lines if line.product_id is None)
    changes = [quotes.LineChange(line.id, unit_price=Decimal(price), remove=line is free) for line in draft.lines]
    await quotes.save_draft(
        session,
        manager,
        quote.id,
        quotes.DraftChanges(valid_until=TODAY + timedelta(days=14), lines=changes),
        today=TODAY,
        margin_floor=FLOOR,
    )
    return await quotes.send(session, manager, quote.id, today=TODAY, margin_floor=FLOOR)


async def test_request_send_change_send_accept_makes_one_approved_order(session: AsyncSession) -> None:
    manager, company, buyer, product = await world(session)
    quote = await sent_quote(session, manager, buyer, product)
    assert (quote.status, quote.sent_version) == (QuoteStatus.SENT, 1)
    assert quote.number.startswith("Q-2026-")
    key = quotes.sent_of(quote).lines[0].line_key
    await quotes.ask_for_changes(session, buyer, quote.id, 1, "Lower, please.", {key: Decimal("13.50")}, today=TODAY)
    quote = await quotes.staff_quote(session, manager, quote.id, TODAY)
    draft = quotes.draft_of(quote)
    assert draft is not None and draft.number == 2 and draft.lines[0].target_price == Decimal("13.5")
    await quotes.save_draft(
        session,
        manager,
        quote.id,
        quotes.DraftChanges(
            valid_until=TODAY + timedelta(days=10),
            lines=[quotes.LineChange(draft.lines[0].id, unit_price=Decimal("13.80"))],
        ),
        today=TODAY,
        margin_floor=FLOOR,
    )
    await quotes.send(session, manager, quote.id, today=TODAY, margin_floor=FLOOR)
    address_id = await session.scalar(select(Address.id).where(Address.company_id == company.id))
    form = CheckoutForm(delivery_date=TODAY + timedelta(days=7), address_id=address_id)
    with pytest.raises(quotes.MovedMeanwhile):
        await quotes.accept(session, buyer, quote.id, 1, form, today=TODAY, grace_days=7, margin_floor=FLOOR)
    accepted = await quotes.accept(session, buyer, quote.id, 2, form, today=TODAY, grace_days=7, margin_floor=FLOOR)
    assert accepted.created and accepted.quote.status is QuoteStatus.ACCEPTED
    order = accepted.order
    assert (order.source, order.quote_id, order.quote_version) == (OrderSource.QUOTE, quote.id, 2)
    prices = await session.scalars(select(OrderLine.unit_price).where(OrderLine.order_id == order.id))
    assert list(prices) == [Decimal("13.80")]
    assert order.status is OrderStatus.APPROVED
    again = await quotes.accept(session, buyer, quote.id, 2, form, today=TODAY, grace_days=7, margin_floor=FLOOR)
    assert not again.created and again.order.id == order.id
    assert await session.scalar(select(func.count()).select_from(Order).where(Order.quote_id == quote.id)) == 1
    moves = list(
        await session.scalars(
            select(QuoteEvent.to_status).where(QuoteEvent.quote_id == quote.id).order_by(QuoteEvent.id)
        )
    )
    assert moves == [
        QuoteStatus.REQUESTED,
        QuoteStatus.SENT,
        QuoteStatus.CHANGES_REQUESTED,
        QuoteStatus.SENT,
        QuoteStatus.ACCEPTED,
    ]


# --- helpers for the tests below -----------------------------------------------------------------


async def checkout_form(session: AsyncSession, company) -> CheckoutForm:  # type: ignore[no-untyped-def]
    address_id = await session.scalar(select(Address.id).where(Address.company_id == company.id))
    return CheckoutForm(delivery_date=TODAY + timedelta(days=7), address_id=address_id)


async def accept(session, buyer, quote, version=None, today=TODAY):  # type: ignore[no-untyped-def]
    form = await checkout_form(session, buyer.company)
    number = quote.sent_version if version is None else version
    return await quotes.accept(session, buyer, quote.id, number, form, today=today, grace_days=7, margin_floor=FLOOR)


async def moves_of(session: AsyncSession, quote_id: int) -> list[tuple[QuoteStatus | None, QuoteStatus]]:
    rows = await session.execute(
        select(QuoteEvent.from_status, QuoteEvent.to_status)
        .where(QuoteEvent.quote_id == quote_id)
        .order_by(QuoteEvent.id)
    )
    return [(row[0], row[1]) for row in rows]


async def told(session: AsyncSession, link: str, kind: NotificationKind | None = None) -> list[str]:
    """The recipients of the e-mails queued about this page (of this kind)."""
    query = select(OutboxMessage.recipient).where(OutboxMessage.link == link)
    if kind is not None:
        query = query.where(OutboxMessage.kind == kind)
    return list(await session.scalars(query.order_by(OutboxMessage.id)))


async def requested(session, buyer, product, *, free: bool = True):  # type: ignore[no-untyped-def]
    wanted = [quotes.WantedLine(500, product.id, target_price=Decimal("14.00"))]
    if free:
        wanted.append(quotes.WantedLine(10, name="Red pallet"))
    return await quotes.request_quote(session, buyer, wanted, message="For the new outlet.", today=TODAY)


async def save(session, manager, quote, *lines, valid_until=TODAY + timedelta(days=14), today=TODAY):  # type: ignore[no-untyped-def]
    return await quotes.save_draft(
        session,
        manager,
        quote.id,
        quotes.DraftChanges(valid_until=valid_until, lines=list(lines)),
        today=today,
        margin_floor=FLOOR,
    )


async def send(session, user, quote, today=TODAY):  # type: ignore[no-untyped-def]
    return await quotes.send(session, user, quote.id, today=today, margin_floor=FLOOR)


async def count_of(session: AsyncSession, model: type, *where) -> int:  # type: ignore[no-untyped-def]
    return int(await session.scalar(select(func.count()).select_from(model).where(*where)) or 0)


# --- the state machine itself --------------------------------------------------------------------


def test_the_moves_are_exactly_the_documented_ones() -> None:
    S = QuoteStatus
    assert {
        S.REQUESTED: {S.SENT, S.WITHDRAWN},
        S.DRAFT: {S.SENT, S.WITHDRAWN},
        S.SENT: {S.SENT, S.ACCEPTED, S.DECLINED, S.CHANGES_REQUESTED, S.EXPIRED, S.WITHDRAWN},
        S.CHANGES_REQUESTED: {S.SENT, S.WITHDRAWN},
    } == quotes.MOVES
    assert set(quotes.OPEN) == {S.REQUESTED, S.DRAFT, S.SENT, S.CHANGES_REQUESTED}
    assert set(quotes.STATUS_LABELS) == set(S)
    assert quotes.status_label(S.SENT) == "Offer sent"


# --- request ------------------------------------------------------------------------------------

REQUEST_REFUSALS = {
    "no lines": (lambda p, r: [], "lines"),
    "zero quantity": (lambda p, r: [quotes.WantedLine(0, p.id)], "line-0"),
    "negative quantity": (lambda p, r: [quotes.WantedLine(-3, p.id)], "line-0"),
    "negative target": (lambda p, r: [quotes.WantedLine(5, p.id, target_price=Decimal("-1"))], "line-0"),
    "zero target": (lambda p, r: [quotes.WantedLine(5, p.id, target_price=Decimal("0"))], "line-0"),
    "target with 5 decimals": (lambda p, r: [quotes.WantedLine(5, p.id, target_price=Decimal("1.23456"))], "line-0"),
    "unsold product": (lambda p, r: [quotes.WantedLine(5, r.id)], "line-0"),
    "product twice": (lambda p, r: [quotes.WantedLine(5, p.id), quotes.WantedLine(7, p.id)], "line-1"),
    "blank free text": (lambda p, r: [quotes.WantedLine(5, p.id), quotes.WantedLine(2, name="   ")], "line-1"),
}


@pytest.mark.parametrize("case", list(REQUEST_REFUSALS))
async def test_a_request_is_refused_field_by_field_and_nothing_is_saved(session: AsyncSession, case: str) -> None:
    manager, company, buyer, product = await world(session)
    retired = await make_product(session, is_active=False)
    make_lines, field = REQUEST_REFUSALS[case]
    with pytest.raises(quotes.QuoteRefused) as refused:
        await quotes.request_quote(session, buyer, make_lines(product, retired), today=TODAY)
    assert field in refused.value.errors, refused.value.errors
    assert await count_of(session, Quote) == 0


async def test_a_request_wanted_by_a_past_day_is_refused(session: AsyncSession) -> None:
    manager, company, buyer, product = await world(session)
    with pytest.raises(quotes.QuoteRefused) as refused:
        await quotes.request_quote(
            session, buyer, [quotes.WantedLine(5, product.id)], wanted_by=TODAY - timedelta(days=1), today=TODAY
        )
    assert set(refused.value.errors) == {"wanted_by"}


def test_price_problem_names_each_rule() -> None:
    assert quotes.price_problem(Decimal("12.3456")) is None
    assert quotes.price_problem(Decimal("1.23456")) == "Use at most 4 decimal places."
    assert quotes.price_problem(Decimal("0")) == "Enter a price above zero."
    assert quotes.price_problem(Decimal("-2")) == "Enter a price above zero."
    assert quotes.price_problem(Decimal("NaN")) == "Enter a price above zero."
    assert quotes.price_problem(Decimal("99999999999")) == "This amount is too large."


async def test_a_request_copies_the_lines_and_tells_the_manager(session: AsyncSession) -> None:
    manager, company, buyer, product = await world(session)
    quote = await quotes.request_quote(
        session,
        buyer,
        [quotes.WantedLine(500, product.id, target_price=Decimal("14.00")), quotes.WantedLine(10, name=" Red pallet ")],
        message="For the new outlet.",
        wanted_by=TODAY + timedelta(days=5),
        today=TODAY,
    )
    assert (quote.status, quote.sent_version, quote.requested_by_id) == (QuoteStatus.REQUESTED, 0, buyer.id)
    draft = quotes.draft_of(quote)
    assert draft is not None and draft.number == 1
    first, second = draft.lines
    assert (first.product_id, first.quantity, first.target_price, first.catalogue_price) == (
        product.id,
        500,
        Decimal("14.00"),
        Decimal("20.00"),
    )
    assert (second.product_id, second.name, second.line_key) == (None, "Red pallet", 2)
    assert await quotes.buyer_quote(session, buyer, quote.id) is quote
    assert await told(session, f"/manage/quotes/{quote.id}", NotificationKind.QUOTE_REQUESTED) == [manager.email]
    comments = await quote_views.thread(session, quote.id, internal=False)
    assert [c.body for c in comments] == ["For the new outlet."]
    assert await moves_of(session, quote.id) == [(None, QuoteStatus.REQUESTED)]


# --- the manager's own offer ---------------------------------------------------------------------


async def test_the_managers_own_offer_is_hidden_from_the_buyer_until_sent(session: AsyncSession) -> None:
    manager, company, buyer, product = await world(session)
    quote = await quotes.new_offer(session, manager, company.id, title="Winter stock", today=TODAY)
    assert (quote.status, quote.requested_by_id) == (QuoteStatus.DRAFT, None)
    with pytest.raises(NotFound):
        await quotes.buyer_quote(session, buyer, quote.id)
    line = await quotes.add_line(session, manager, quote.id, sku=product.sku.lower(), quantity=40, today=TODAY)
    assert (line.unit_price, line.catalogue_price, line.requested_quantity) == (
        Decimal("20.00"),
        Decimal("20.00"),
        None,
    )
    with pytest.raises(quotes.QuoteRefused) as twice:
        await quotes.add_line(session, manager, quote.id, sku=product.sku, quantity=1, today=TODAY)
    assert twice.value.field == "sku"
    await send(session, manager, quote)
    seen = await quotes.buyer_quote(session, buyer, quote.id)
    assert (seen.status, seen.sent_version) == (QuoteStatus.SENT, 1)
    assert await moves_of(session, quote.id) == [(None, QuoteStatus.DRAFT), (QuoteStatus.DRAFT, QuoteStatus.SENT)]


async def test_only_a_negotiator_starts_an_offer(session: AsyncSession) -> None:
    manager, company, buyer, product = await world(session)
    finance = await make_user(session, Role.FINANCE)
    stranger = await make_user(session, Role.ACCOUNT_MANAGER)
    with pytest.raises(NotAllowed):
        await quotes.new_offer(session, finance, company.id, today=TODAY)
    with pytest.raises(NotFound):
        await quotes.new_offer(session, stranger, company.id, today=TODAY)


# --- drafting ------------------------------------------------------------------------------------

DRAFT_REFUSALS = {
    "negative price": ("-1.00", TODAY + timedelta(days=14), "line"),
    "zero price": ("0", TODAY + timedelta(days=14), "line"),
    "5 decimals": ("15.12345", TODAY + timedelta(days=14), "line"),
    "validity passed": ("15.00", TODAY - timedelta(days=1), "valid_until"),
    "validity missing": ("15.00", None, "valid_until"),
    "validity over a year": ("15.00", TODAY + timedelta(days=400), "valid_until"),
}


@pytest.mark.parametrize("case", list(DRAFT_REFUSALS))
async def test_a_draft_is_refused_field_by_field(session: AsyncSession, case: str) -> None:
    manager, company, buyer, product = await world(session)
    quote = await requested(session, buyer, product, free=False)
    price, valid_until, field = DRAFT_REFUSALS[case]
    (line,) = quotes.draft_of(quote).lines  # type: ignore[union-attr]
    with pytest.raises(quotes.QuoteRefused) as refused:
        await save(
            session, manager, quote, quotes.LineChange(line.id, unit_price=Decimal(price)), valid_until=valid_until
        )
    expected = f"line-{line.id}" if field == "line" else field
    assert set(refused.value.errors) == {expected}


async def test_a_draft_saves_all_or_nothing(session: AsyncSession) -> None:
    manager, company, buyer, product = await world(session)
    other = await make_product(session, list_price=Decimal("8.00"), cost=Decimal("4.00"))
    quote = await quotes.request_quote(
        session, buyer, [quotes.WantedLine(10, product.id), quotes.WantedLine(20, other.id)], today=TODAY
    )
    good, bad = quotes.draft_of(quote).lines  # type: ignore[union-attr]
    with pytest.raises(quotes.QuoteRefused) as refused:
        await save(
            session,
            manager,
            quote,
            quotes.LineChange(good.id, quantity=12, unit_price=Decimal("15.00")),
            quotes.LineChange(bad.id, unit_price=Decimal("-1")),
            valid_until=TODAY + timedelta(days=20),
        )
    assert set(refused.value.errors) == {f"line-{bad.id}"}
    again = await quotes.staff_quote(session, manager, quote.id, TODAY)
    draft = quotes.draft_of(again)
    assert draft is not None
    assert [(line.quantity, line.unit_price) for line in draft.lines] == [(10, None), (20, None)]
    assert draft.valid_until == TODAY + timedelta(days=14)


async def test_a_draft_with_a_product_twice_saves_nothing(session: AsyncSession) -> None:
    manager, company, buyer, product = await world(session)
    quote = await requested(session, buyer, product)
    priced, free = quotes.draft_of(quote).lines  # type: ignore[union-attr]
    with pytest.raises(quotes.QuoteRefused) as refused:
        await save(
            session,
            manager,
            quote,
            quotes.LineChange(priced.id, unit_price=Decimal("15.00")),
            quotes.LineChange(free.id, sku=product.sku, unit_price=Decimal("16.00")),
        )
    assert set(refused.value.errors) == {f"line-{free.id}"}
    again = quotes.draft_of(await quotes.staff_quote(session, manager, quote.id, TODAY))
    assert again is not None
    assert [(line.product_id, line.unit_price) for line in again.lines] == [(product.id, None), (None, None)]


async def test_a_described_line_is_answered_by_a_catalogue_product(session: AsyncSession) -> None:
    manager, company, buyer, product = await world(session)
    pallet = await make_product(session, name="Euro pallet", list_price=Decimal("60.00"), cost=Decimal("40.00"))
    quote = await requested(session, buyer, product)
    priced, free = quotes.draft_of(quote).lines  # type: ignore[union-attr]
    await save(
        session,
        manager,
        quote,
        quotes.LineChange(priced.id, unit_price=Decimal("15.00")),
        quotes.LineChange(free.id, sku=pallet.sku, unit_price=Decimal("55.00")),
    )
    draft = quotes.draft_of(await quotes.staff_quote(session, manager, quote.id, TODAY))
    assert draft is not None
    answered = draft.lines[1]
    assert (answered.product_id, answered.sku, answered.name, answered.unit_cost) == (
        pallet.id,
        pallet.sku,
        "Red pallet",
        Decimal("40.00"),
    )
    with pytest.raises(quotes.QuoteRefused) as unknown:
        await save(session, manager, quote, quotes.LineChange(priced.id, sku="NO-SUCH-SKU"))
    assert set(unknown.value.errors) == {f"line-{priced.id}"}


async def test_a_catalogue_line_given_another_product_takes_its_name(session: AsyncSession) -> None:
    manager, company, buyer, product = await world(session)
    better = await make_product(session, name="Copy paper, recycled", list_price=Decimal("18.00"), cost=Decimal("9.00"))
    quote = await requested(session, buyer, product, free=False)
    (line,) = quotes.draft_of(quote).lines  # type: ignore[union-attr]
    await save(session, manager, quote, quotes.LineChange(line.id, sku=better.sku, unit_price=Decimal("15.00")))
    draft = quotes.draft_of(await quotes.staff_quote(session, manager, quote.id, TODAY))
    assert draft is not None
    (swapped,) = draft.lines
    assert (swapped.product_id, swapped.sku, swapped.name, swapped.catalogue_price) == (
        better.id,
        better.sku,
        "Copy paper, recycled",
        Decimal("18.00"),
    )


# --- sending -------------------------------------------------------------------------------------


async def test_send_refuses_an_unpriced_line(session: AsyncSession) -> None:
    manager, company, buyer, product = await world(session)
    quote = await requested(session, buyer, product, free=False)
    (line,) = quotes.draft_of(quote).lines  # type: ignore[union-attr]
    with pytest.raises(quotes.QuoteRefused) as refused:
        await send(session, manager, quote)
    assert refused.value.errors == {f"line-{line.id}": "Enter a unit price."}
    assert (await quotes.staff_quote(session, manager, quote.id, TODAY)).status is QuoteStatus.REQUESTED


async def test_send_refuses_a_described_line_without_a_product(session: AsyncSession) -> None:
    manager, company, buyer, product = await world(session)
    quote = await requested(session, buyer, product)
    priced, free = quotes.draft_of(quote).lines  # type: ignore[union-attr]
    await save(
        session,
        manager,
        quote,
        quotes.LineChange(priced.id, unit_price=Decimal("15.00")),
        quotes.LineChange(free.id, unit_price=Decimal("30.00")),
    )
    with pytest.raises(quotes.QuoteRefused) as refused:
        await send(session, manager, quote)
    assert set(refused.value.errors) == {f"line-{free.id}"}


async def test_a_price_below_the_floor_is_sent_only_with_its_reason(session: AsyncSession) -> None:
    manager, company, buyer, product = await world(session)
    quote = await requested(session, buyer, product, free=False)
    (line,) = quotes.draft_of(quote).lines  # type: ignore[union-attr]
    await save(session, manager, quote, quotes.LineChange(line.id, unit_price=Decimal("10.50")))
    assert quotes.below_floor(company, line, FLOOR)
    assert quotes.line_floor(company, line, FLOOR) == FLOOR
    with pytest.raises(quotes.QuoteRefused) as refused:
        await send(session, manager, quote)
    assert set(refused.value.errors) == {f"line-{line.id}"}
    reason = "Matching a competitor's offer for the season."
    await save(
        session, manager, quote, quotes.LineChange(line.id, unit_price=Decimal("10.50"), below_floor_reason=reason)
    )
    sent = await send(session, manager, quote)
    assert (sent.status, sent.sent_version) == (QuoteStatus.SENT, 1)
    version = quotes.sent_of(sent)
    assert version is not None and version.sent_by_id == manager.id and version.sent_at is not None
    assert version.lines[0].below_floor_reason == reason
    assert quotes.version_label(sent, 1) == f"{sent.number}/1"
    assert await told(session, f"/quotes/{quote.id}", NotificationKind.QUOTE_SENT) == [buyer.email]


async def test_send_refuses_a_validity_that_has_passed(session: AsyncSession) -> None:
    manager, company, buyer, product = await world(session)
    quote = await requested(session, buyer, product, free=False)
    (line,) = quotes.draft_of(quote).lines  # type: ignore[union-attr]
    await save(session, manager, quote, quotes.LineChange(line.id, unit_price=Decimal("15.00")))
    with pytest.raises(quotes.QuoteRefused) as refused:
        await send(session, manager, quote, today=TODAY + timedelta(days=15))
    assert set(refused.value.errors) == {"valid_until"}


async def test_a_sent_version_never_changes(session: AsyncSession) -> None:
    manager, company, buyer, product = await world(session)
    quote = await sent_quote(session, manager, buyer, product)
    line = quotes.sent_of(quote).lines[0]  # type: ignore[union-attr]
    with pytest.raises(quotes.QuoteRefused, match="was sent and cannot change"):
        await save(session, manager, quote, quotes.LineChange(line.id, unit_price=Decimal("1.00")))
    with pytest.raises(quotes.QuoteRefused, match="was sent and cannot change"):
        await quotes.add_line(session, manager, quote.id, sku=product.sku, quantity=1, today=TODAY)
    with pytest.raises(quotes.QuoteRefused, match="was sent and cannot change"):
        await send(session, manager, quote)
    again = await quotes.staff_quote(session, manager, quote.id, TODAY)
    assert [line.unit_price for line in quotes.sent_of(again).lines] == [Decimal("15.00")]  # type: ignore[union-attr]


# --- revising and the buyer's answers ------------------------------------------------------------


async def test_a_revision_leaves_the_sent_version_acceptable(session: AsyncSession) -> None:
    manager, company, buyer, product = await world(session)
    quote = await sent_quote(session, manager, buyer, product)
    draft = await quotes.revise(session, manager, quote.id, today=TODAY)
    assert (draft.number, draft.sent_at, [line.unit_price for line in draft.lines]) == (2, None, [Decimal("15.00")])
    assert (await quotes.revise(session, manager, quote.id, today=TODAY)).id == draft.id
    seen = await quotes.buyer_quote(session, buyer, quote.id)
    assert (seen.status, seen.sent_version) == (QuoteStatus.SENT, 1)
    accepted = await accept(session, buyer, seen, 1)
    assert accepted.created and accepted.order.quote_version == 1
    after = await quotes.staff_quote(session, manager, quote.id, TODAY)
    assert after.status is QuoteStatus.ACCEPTED and quotes.draft_of(after) is None


async def test_asking_for_changes_needs_a_comment_and_sane_targets(session: AsyncSession) -> None:
    manager, company, buyer, product = await world(session)
    quote = await sent_quote(session, manager, buyer, product)
    key = quotes.sent_of(quote).lines[0].line_key  # type: ignore[union-attr]
    with pytest.raises(quotes.QuoteRefused) as no_comment:
        await quotes.ask_for_changes(session, buyer, quote.id, 1, "   ", {key: Decimal("13")}, today=TODAY)
    assert set(no_comment.value.errors) == {"comment"}
    with pytest.raises(quotes.QuoteRefused) as bad_target:
        await quotes.ask_for_changes(session, buyer, quote.id, 1, "Lower", {key: Decimal("13.00001")}, today=TODAY)
    assert set(bad_target.value.errors) == {f"target-{key}"}
    with pytest.raises(NotFound):
        await quotes.ask_for_changes(session, buyer, quote.id, 1, "Lower", {key + 99: Decimal("13")}, today=TODAY)
    assert (await quotes.staff_quote(session, manager, quote.id, TODAY)).status is QuoteStatus.SENT


async def test_new_targets_land_on_the_next_draft(session: AsyncSession) -> None:
    manager, company, buyer, product = await world(session)
    quote = await sent_quote(session, manager, buyer, product)
    key = quotes.sent_of(quote).lines[0].line_key  # type: ignore[union-attr]
    await quotes.ask_for_changes(session, buyer, quote.id, 1, "Lower, please.", {key: Decimal("12.50")}, today=TODAY)
    again = await quotes.staff_quote(session, manager, quote.id, TODAY)
    draft = quotes.draft_of(again)
    assert again.status is QuoteStatus.CHANGES_REQUESTED
    assert draft is not None and draft.number == 2 and draft.lines[0].target_price == Decimal("12.50")
    assert quotes.sent_of(again).lines[0].target_price == Decimal("14.00")  # type: ignore[union-attr]
    assert await told(session, f"/manage/quotes/{quote.id}", NotificationKind.QUOTE_REQUESTED) == [manager.email] * 2
    thread = await quote_views.thread(session, quote.id, internal=False)
    assert thread[-1].body == "Lower, please." and thread[-1].version == 1


async def test_new_targets_land_on_a_revision_already_started(session: AsyncSession) -> None:
    manager, company, buyer, product = await world(session)
    quote = await sent_quote(session, manager, buyer, product)
    started = await quotes.revise(session, manager, quote.id, today=TODAY)
    key = started.lines[0].line_key
    await quotes.ask_for_changes(session, buyer, quote.id, 1, "Lower, please.", {key: Decimal("12.50")}, today=TODAY)
    again = await quotes.staff_quote(session, manager, quote.id, TODAY)
    assert [v.number for v in again.versions] == [1, 2]
    assert quotes.draft_of(again).lines[0].target_price == Decimal("12.50")  # type: ignore[union-attr]


async def test_declining_needs_a_reason_and_tells_the_manager(session: AsyncSession) -> None:
    manager, company, buyer, product = await world(session)
    quote = await sent_quote(session, manager, buyer, product)
    with pytest.raises(quotes.QuoteRefused) as refused:
        await quotes.decline(session, buyer, quote.id, 1, "  ", today=TODAY)
    assert set(refused.value.errors) == {"reason"}
    declined = await quotes.decline(session, buyer, quote.id, 1, "Bought elsewhere.", today=TODAY)
    assert declined.status is QuoteStatus.DECLINED
    event = await session.scalar(
        select(QuoteEvent).where(QuoteEvent.quote_id == quote.id).order_by(QuoteEvent.id.desc())
    )
    assert event is not None
    assert (event.to_status, event.actor_id, event.reason, event.version) == (
        QuoteStatus.DECLINED,
        buyer.id,
        "Bought elsewhere.",
        1,
    )
    assert await told(session, f"/manage/quotes/{quote.id}", NotificationKind.QUOTE_ANSWERED) == [manager.email]


async def test_withdrawing_needs_a_reason_from_any_open_status(session: AsyncSession) -> None:
    manager, company, buyer, product = await world(session)
    asked = await requested(session, buyer, product, free=False)
    own = await quotes.new_offer(session, manager, company.id, today=TODAY)
    sent = await sent_quote(session, manager, buyer, product)
    changes = await sent_quote(session, manager, buyer, product)
    key = quotes.sent_of(changes).lines[0].line_key  # type: ignore[union-attr]
    await quotes.ask_for_changes(session, buyer, changes.id, 1, "Lower", {key: Decimal("12")}, today=TODAY)
    with pytest.raises(quotes.QuoteRefused) as refused:
        await quotes.withdraw(session, manager, sent.id, " ", today=TODAY)
    assert set(refused.value.errors) == {"reason"}
    for quote, buyers_told in ((asked, True), (own, False), (sent, True), (changes, True)):
        before = (await quotes.staff_quote(session, manager, quote.id, TODAY)).status
        withdrawn = await quotes.withdraw(session, manager, quote.id, "The product line is discontinued.", today=TODAY)
        assert withdrawn.status is QuoteStatus.WITHDRAWN
        assert (await moves_of(session, quote.id))[-1] == (before, QuoteStatus.WITHDRAWN)
        notices = await told(session, f"/quotes/{quote.id}", NotificationKind.QUOTE_SENT)
        assert (buyer.email in notices) is buyers_told, before
    with pytest.raises(NotFound):  # the offer the buyer never saw stays unseen
        await quotes.buyer_quote(session, buyer, own.id)
    assert (await quotes.buyer_quote(session, buyer, asked.id)).status is QuoteStatus.WITHDRAWN


# --- accepting -----------------------------------------------------------------------------------


async def test_an_old_version_cannot_be_accepted(session: AsyncSession) -> None:
    manager, company, buyer, product = await world(session)
    quote = await sent_quote(session, manager, buyer, product)
    await quotes.revise(session, manager, quote.id, today=TODAY)
    await send(session, manager, quote)
    with pytest.raises(quotes.MovedMeanwhile, match="no longer the offer"):
        await accept(session, buyer, quote, 1)
    assert await count_of(session, Order) == 0


async def test_an_expired_version_cannot_be_accepted(session: AsyncSession) -> None:
    manager, company, buyer, product = await world(session)
    quote = await sent_quote(session, manager, buyer, product)
    with pytest.raises(quotes.QuoteRefused, match="was valid until"):
        await accept(session, buyer, quote, today=TODAY + timedelta(days=15))
    assert await count_of(session, Order) == 0
    assert (await quotes.buyer_quote(session, buyer, quote.id)).status is QuoteStatus.SENT


async def test_a_company_on_hold_cannot_accept_and_nothing_changes(session: AsyncSession) -> None:
    manager, company, buyer, product = await world(session)
    quote = await sent_quote(session, manager, buyer, product)
    company.on_hold, company.hold_reason = True, "Unpaid invoices."
    await session.flush()
    events = len(await moves_of(session, quote.id))
    with pytest.raises(CompanyOnHold) as held:
        await accept(session, buyer, quote)
    assert held.value.reason == "Unpaid invoices."
    assert await count_of(session, Order) == 0
    assert (await quotes.buyer_quote(session, buyer, quote.id)).status is QuoteStatus.SENT
    assert len(await moves_of(session, quote.id)) == events


async def test_accepting_over_the_credit_limit_waits_for_approval(session: AsyncSession) -> None:
    manager, company, buyer, product = await world(session, credit_limit=Decimal("100.00"))
    quote = await sent_quote(session, manager, buyer, product)
    accepted = await accept(session, buyer, quote)
    assert accepted.created and accepted.quote.status is QuoteStatus.ACCEPTED
    order = await session.scalar(select(Order).options(selectinload(Order.flags)).where(Order.id == accepted.order.id))
    assert order is not None and order.status is OrderStatus.PENDING_APPROVAL
    assert FlagKind.EXCEEDS_CREDIT in {flag.kind for flag in order.flags if flag.blocking}


async def test_accepting_without_a_blocker_approves_at_the_quoted_prices_for_that_order_only(
    session: AsyncSession,
) -> None:
    manager, company, buyer, product = await world(session)
    quote = await sent_quote(session, manager, buyer, product, price="13.80")
    accepted = await accept(session, buyer, quote)
    order = accepted.order
    assert order.status is OrderStatus.APPROVED
    reasons = list(await session.scalars(select(OrderEvent.reason).where(OrderEvent.order_id == order.id)))
    assert QUOTE_ACCEPTED in reasons
    (line,) = await session.scalars(select(OrderLine).where(OrderLine.order_id == order.id))
    assert (line.unit_price, line.price_source, line.price_note) == (
        Decimal("13.80"),
        quotes.QUOTE_PRICE_SOURCE,
        f"{quote.number}/1",
    )
    address = await session.scalar(select(Address).where(Address.company_id == company.id))
    assert address is not None
    ordinary = await place_order(
        session,
        company,
        [(product, 500)],
        today=TODAY,
        grace_days=7,
        margin_floor=FLOOR,
        buyer=buyer,
        key="ordinary-after-quote",
        source=OrderSource.PORTAL,
        delivery=TODAY + timedelta(days=7),
        address=address,
    )
    assert [(line.unit_price, line.price_source) for line in ordinary.lines] == [
        (Decimal("20.00"), ordinary.lines[0].price_source)
    ]
    assert ordinary.lines[0].price_source != quotes.QUOTE_PRICE_SOURCE
    assert await told(session, f"/manage/quotes/{quote.id}", NotificationKind.QUOTE_ANSWERED) == [manager.email]


# --- who may see and act -------------------------------------------------------------------------


async def test_another_companys_buyer_finds_nothing(session: AsyncSession) -> None:
    manager, company, buyer, product = await world(session)
    quote = await sent_quote(session, manager, buyer, product)
    stranger = await make_user(session)
    await session.refresh(stranger, ["company"])
    with pytest.raises(NotFound):
        await quotes.buyer_quote(session, stranger, quote.id)
    with pytest.raises(NotFound):
        await accept(session, stranger, quote)
    with pytest.raises(NotFound):
        await quotes.decline(session, stranger, quote.id, 1, "No.", today=TODAY)
    with pytest.raises(NotFound):
        await quotes.ask_for_changes(session, stranger, quote.id, 1, "Lower", {}, today=TODAY)
    with pytest.raises(NotFound):
        await quotes.add_comment(session, stranger, quote.id, "Hello", today=TODAY)
    with pytest.raises(NotFound):  # and a buyer is not staff
        await quotes.staff_quote(session, buyer, quote.id, TODAY)
    assert (await quotes.buyer_quote(session, buyer, quote.id)).status is QuoteStatus.SENT


async def test_a_manager_of_other_companies_finds_nothing(session: AsyncSession) -> None:
    manager, company, buyer, product = await world(session)
    quote = await requested(session, buyer, product, free=False)
    other = await make_user(session, Role.ACCOUNT_MANAGER)
    with pytest.raises(NotFound):
        await quotes.staff_quote(session, other, quote.id, TODAY)
    with pytest.raises(NotFound):
        await send(session, other, quote)
    with pytest.raises(NotFound):
        await quotes.withdraw(session, other, quote.id, "Mine now.", today=TODAY)
    with pytest.raises(NotFound):
        await quotes.add_comment(session, other, quote.id, "Hello", today=TODAY)
    with pytest.raises(NotFound):
        await quotes.staff_quote(session, other, quote.id + 1000, TODAY)


async def test_finance_reads_but_does_not_negotiate(session: AsyncSession) -> None:
    manager, company, buyer, product = await world(session)
    quote = await requested(session, buyer, product, free=False)
    (line,) = quotes.draft_of(quote).lines  # type: ignore[union-attr]
    await save(session, manager, quote, quotes.LineChange(line.id, unit_price=Decimal("15.00")))
    finance = await make_user(session, Role.FINANCE)
    assert (await quotes.staff_quote(session, finance, quote.id, TODAY)).id == quote.id
    assert not await quotes.can_negotiate(session, finance, company, TODAY)
    with pytest.raises(NotAllowed):
        await send(session, finance, quote)
    with pytest.raises(NotAllowed):
        await save(session, finance, quote, quotes.LineChange(line.id, unit_price=Decimal("1.00")))
    with pytest.raises(NotAllowed):
        await quotes.withdraw(session, finance, quote.id, "No.", today=TODAY)
    assert (await quotes.staff_quote(session, finance, quote.id, TODAY)).status is QuoteStatus.REQUESTED


async def test_a_deputy_covering_sends_and_not_before_the_cover(session: AsyncSession) -> None:
    manager, company, buyer, product = await world(session)
    deputy = await make_user(session, Role.ACCOUNT_MANAGER)
    session.add(Deputy(manager_id=manager.id, deputy_id=deputy.id, starts_on=TODAY, ends_on=TODAY + timedelta(days=3)))
    await session.flush()
    quote = await requested(session, buyer, product, free=False)
    (line,) = quotes.draft_of(quote).lines  # type: ignore[union-attr]
    await save(session, deputy, quote, quotes.LineChange(line.id, unit_price=Decimal("15.00")))
    with pytest.raises(NotFound):
        await quotes.send(session, deputy, quote.id, today=TODAY - timedelta(days=1), margin_floor=FLOOR)
    assert await quotes.can_negotiate(session, deputy, company, TODAY)
    sent = await send(session, deputy, quote)
    assert (sent.status, quotes.sent_of(sent).sent_by_id) == (QuoteStatus.SENT, deputy.id)  # type: ignore[union-attr]


# --- the thread ----------------------------------------------------------------------------------


async def test_internal_comments_never_reach_a_buyer(session: AsyncSession) -> None:
    manager, company, buyer, product = await world(session)
    quote = await sent_quote(session, manager, buyer, product)
    await quotes.add_comment(session, manager, quote.id, "Cost goes up in January.", internal=True, today=TODAY)
    await quotes.add_comment(session, manager, quote.id, "Delivery in two batches is fine.", today=TODAY)
    sneaky = await quotes.add_comment(session, buyer, quote.id, "Thanks!", internal=True, today=TODAY)
    assert sneaky.internal is False
    with pytest.raises(quotes.QuoteRefused):
        await quotes.add_comment(session, buyer, quote.id, "  ", today=TODAY)
    buyers = [c.body for c in await quote_views.thread(session, quote.id, internal=False)]
    staff = [c.body for c in await quote_views.thread(session, quote.id, internal=True)]
    assert buyers == ["We need 500 for a project.", "Delivery in two batches is fine.", "Thanks!"]
    assert staff == [
        "We need 500 for a project.",
        "Cost goes up in January.",
        "Delivery in two batches is fine.",
        "Thanks!",
    ]
    comment_mail = await told(session, f"/quotes/{quote.id}", NotificationKind.QUOTE_COMMENT)
    assert comment_mail == [buyer.email]  # the internal one told nobody
    assert await told(session, f"/manage/quotes/{quote.id}", NotificationKind.QUOTE_COMMENT) == [manager.email]
    timeline = await quote_views.timeline(session, quote.id)
    assert [e.to_status for e in timeline] == [QuoteStatus.REQUESTED, QuoteStatus.SENT]


# --- terminal quotes -----------------------------------------------------------------------------


async def _terminal(session, engine, manager, buyer, product, status):  # type: ignore[no-untyped-def]
    quote = await sent_quote(session, manager, buyer, product)
    if status is QuoteStatus.ACCEPTED:
        await accept(session, buyer, quote)
    elif status is QuoteStatus.DECLINED:
        await quotes.decline(session, buyer, quote.id, 1, "Too dear.", today=TODAY)
    elif status is QuoteStatus.WITHDRAWN:
        await quotes.withdraw(session, manager, quote.id, "Out of stock.", today=TODAY)
    else:
        await session.commit()
        report = await quotes.expire_due(async_sessionmaker(engine, expire_on_commit=False), TODAY + timedelta(days=15))
        assert report.expired_ids == [quote.id]
    return await quotes.staff_quote(session, manager, quote.id, TODAY)


TERMINAL = [QuoteStatus.ACCEPTED, QuoteStatus.DECLINED, QuoteStatus.EXPIRED, QuoteStatus.WITHDRAWN]


@pytest.mark.parametrize("status", TERMINAL)
async def test_a_finished_quote_refuses_every_move(session: AsyncSession, engine: AsyncEngine, status) -> None:  # type: ignore[no-untyped-def]
    manager, company, buyer, product = await world(session)
    quote = await _terminal(session, engine, manager, buyer, product, status)
    assert quote.status is status and status not in quotes.MOVES
    events = await moves_of(session, quote.id)
    line = quotes.sent_of(quote).lines[0]  # type: ignore[union-attr]
    attempts = {
        "save_draft": lambda: save(session, manager, quote, quotes.LineChange(line.id, unit_price=Decimal("9.00"))),
        "add_line": lambda: quotes.add_line(session, manager, quote.id, sku=product.sku, quantity=1, today=TODAY),
        "send": lambda: send(session, manager, quote),
        "revise": lambda: quotes.revise(session, manager, quote.id, today=TODAY),
        "withdraw": lambda: quotes.withdraw(session, manager, quote.id, "Again.", today=TODAY),
        "decline": lambda: quotes.decline(session, buyer, quote.id, 1, "Again.", today=TODAY),
        "ask_for_changes": lambda: quotes.ask_for_changes(session, buyer, quote.id, 1, "Again.", {}, today=TODAY),
        "accept": lambda: accept(session, buyer, quote, 1),
    }
    for name, attempt in attempts.items():
        if status is QuoteStatus.ACCEPTED and name == "accept":
            assert not (await attempt()).created  # the order made then, not a second one
            continue
        with pytest.raises(quotes.MovedMeanwhile):
            await attempt()
        assert name and (await quotes.staff_quote(session, manager, quote.id, TODAY)).status is status
    assert await moves_of(session, quote.id) == events
    assert await count_of(session, Order) == (1 if status is QuoteStatus.ACCEPTED else 0)


async def test_every_event_written_is_a_move_of_the_machine(session: AsyncSession) -> None:
    manager, company, buyer, product = await world(session)
    first = await sent_quote(session, manager, buyer, product)
    await quotes.decline(session, buyer, first.id, 1, "Too dear.", today=TODAY)
    second = await requested(session, buyer, product, free=False)
    await quotes.withdraw(session, manager, second.id, "Discontinued.", today=TODAY)
    third = await sent_quote(session, manager, buyer, product)
    key = quotes.sent_of(third).lines[0].line_key  # type: ignore[union-attr]
    await quotes.ask_for_changes(session, buyer, third.id, 1, "Lower", {key: Decimal("12")}, today=TODAY)
    await send(session, manager, third)
    await accept(session, buyer, third)
    for quote in (first, second, third):
        for before, after in await moves_of(session, quote.id):
            assert before is None or after in quotes.MOVES[before], (before, after)
    assert [after for _, after in await moves_of(session, first.id)] == [
        QuoteStatus.REQUESTED,
        QuoteStatus.SENT,
        QuoteStatus.DECLINED,
    ]
    assert [after for _, after in await moves_of(session, second.id)] == [QuoteStatus.REQUESTED, QuoteStatus.WITHDRAWN]


# --- the diff between versions -------------------------------------------------------------------


def _line(key: int, quantity: int, price: str | None, product_id: int | None = 1) -> QuoteLine:
    return QuoteLine(
        line_key=key,
        quantity=quantity,
        unit_price=Decimal(price) if price else None,
        product_id=product_id,
        name=f"Line {key}",
        vat_rate=Decimal("23"),
    )


def test_changes_between_versions_line_by_line() -> None:
    previous = QuoteVersion(
        number=1, lines=[_line(1, 10, "5.00"), _line(2, 20, "3.00", 2), _line(3, 5, "9.00", 3), _line(4, 1, "1.00", 4)]
    )
    current = QuoteVersion(
        number=2, lines=[_line(1, 10, "5.00"), _line(2, 20, "2.80", 2), _line(3, 8, "9.00", 3), _line(5, 2, "4.00", 5)]
    )
    diff = quote_views.changes_between(previous, current)
    assert [(d.change, d.line.line_key) for d in diff] == [
        (quote_views.Change.SAME, 1),
        (quote_views.Change.CHANGED, 2),
        (quote_views.Change.CHANGED, 3),
        (quote_views.Change.ADDED, 5),
        (quote_views.Change.REMOVED, 4),
    ]
    same, price, quantity, added, removed = diff
    assert (price.price_changed, price.quantity_changed) == (True, False)
    assert (quantity.price_changed, quantity.quantity_changed, quantity.product_changed) == (False, True, False)
    assert price.previous is not None and price.previous.unit_price == Decimal("3.00")
    assert added.previous is None and not added.price_changed
    assert removed.line is removed.previous
    assert [d.change for d in quote_views.changes_between(None, current)] == [quote_views.Change.SAME] * 4
    totals = quote_views.version_totals(current)
    assert totals.net == Decimal("50.00") + Decimal("56.00") + Decimal("72.00") + Decimal("8.00")
    assert quote_views.line_value(_line(9, 3, None)) is None


# --- the worker: reminders and expiry ------------------------------------------------------------


async def test_expiry_reminds_once_and_expires_once(session: AsyncSession, engine: AsyncEngine) -> None:
    manager, company, buyer, product = await world(session)
    second_buyer = await make_user(session, company_id=company.id)
    soon = await sent_quote(session, manager, buyer, product)  # valid until TODAY + 14
    later = await sent_quote(session, manager, buyer, product)
    revised = await quotes.revise(session, manager, later.id, today=TODAY)
    await save(session, manager, later, valid_until=TODAY + timedelta(days=30))
    await send(session, manager, later)
    assert revised.number == 2
    await session.commit()
    maker = async_sessionmaker(engine, expire_on_commit=False)

    day = TODAY + timedelta(days=11)  # the last valid day is 3 days away
    first = await quotes.expire_due(maker, day)
    second = await quotes.expire_due(maker, day)
    assert (first.reminded, first.expired, second.reminded, second.expired) == (1, 0, 0, 0)
    reminders = await told(session, f"/quotes/{soon.id}", NotificationKind.QUOTE_EXPIRING)
    assert sorted(reminders) == sorted([buyer.email, second_buyer.email])
    assert await told(session, f"/quotes/{later.id}", NotificationKind.QUOTE_EXPIRING) == []

    still_valid = await quotes.expire_due(maker, TODAY + timedelta(days=14))  # the last valid day itself
    assert (still_valid.reminded, still_valid.expired) == (0, 0)

    after = TODAY + timedelta(days=15)
    expired = await quotes.expire_due(maker, after)
    again = await quotes.expire_due(maker, after)
    assert (expired.expired, expired.expired_ids, again.expired, again.reminded) == (1, [soon.id], 0, 0)
    assert (await quotes.staff_quote(session, manager, soon.id, TODAY)).status is QuoteStatus.EXPIRED
    assert (await quotes.staff_quote(session, manager, later.id, TODAY)).status is QuoteStatus.SENT
    assert await told(session, f"/manage/quotes/{soon.id}", NotificationKind.QUOTE_EXPIRING) == [manager.email]
    event = await session.scalar(
        select(QuoteEvent).where(QuoteEvent.quote_id == soon.id, QuoteEvent.to_status == QuoteStatus.EXPIRED)
    )
    assert event is not None and (event.from_status, event.actor_id, event.version) == (QuoteStatus.SENT, None, 1)
    assert await count_of(session, QuoteEvent, QuoteEvent.to_status == QuoteStatus.EXPIRED) == 1


async def test_a_new_version_is_reminded_again(session: AsyncSession, engine: AsyncEngine) -> None:
    manager, company, buyer, product = await world(session)
    quote = await sent_quote(session, manager, buyer, product)
    await session.commit()
    maker = async_sessionmaker(engine, expire_on_commit=False)
    day = TODAY + timedelta(days=12)
    assert (await quotes.expire_due(maker, day)).reminded == 1
    await quotes.revise(session, manager, quote.id, today=day)
    await save(session, manager, quote, valid_until=day + timedelta(days=2), today=day)
    await send(session, manager, quote, today=day)
    await session.commit()
    assert (await quotes.expire_due(maker, day)).reminded == 1
    assert (await quotes.expire_due(maker, day)).reminded == 0


async def test_a_quote_whose_product_is_no_longer_sold_cannot_be_accepted(session: AsyncSession) -> None:
    manager, company, buyer, product = await world(session)
    quote = await sent_quote(session, manager, buyer, product)
    product.is_active = False
    await session.flush()
    address_id = await session.scalar(select(Address.id).where(Address.company_id == company.id))
    form = CheckoutForm(delivery_date=TODAY + timedelta(days=7), address_id=address_id)
    with pytest.raises(quotes.QuoteRefused, match="no longer sold"):
        await quotes.accept(session, buyer, quote.id, 1, form, today=TODAY, grace_days=7, margin_floor=FLOOR)
    assert (await quotes.buyer_quote(session, buyer, quote.id)).status is QuoteStatus.SENT
    assert await session.scalar(select(func.count()).select_from(Order).where(Order.quote_id == quote.id)) == 0
