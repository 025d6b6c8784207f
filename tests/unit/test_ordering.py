"""Submitting an order: one transaction that snapshots prices and flags, empties
the cart, and happens once per checkout key; cancelling; reordering; exposure."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from portal.errors import Conflict, NotFound, Refused
from portal.models import Address, FlagKind, Order, OrderEvent, OrderStatus, ProductCategory, Role
from portal.services.cart import add_to_cart, buyer_cart
from portal.services.credit import credit_picture
from portal.services.ordering import (
    CartChanged,
    CheckoutForm,
    CheckoutInvalid,
    CompanyOnHold,
    MoveRefused,
    OrderFilter,
    OrderView,
    cancel_order,
    company_orders,
    move_order,
    next_order_number,
    reorder,
    reorder_preview,
    submit_order,
)
from tests.factories import add_contract_price, make_company, make_invoice, make_product, make_user

TODAY = date(2026, 11, 27)  # a Friday


async def buying_setup(session: AsyncSession, **company_fields):  # type: ignore[no-untyped-def]
    company = await make_company(session, **{"credit_limit": Decimal("10000.00"), **company_fields})
    address = Address(company_id=company.id, label="HQ", street="ul. Prosta 1", postal_code="00-001", city="Warszawa")
    session.add(address)
    buyer = await make_user(session, company_id=company.id)
    await session.flush()
    return company, address, buyer


def form_for(key: str, address: Address, **fields: str) -> CheckoutForm:
    values = {"key": key, "po_number": "PO-7", "delivery_date": "2026-11-30", "address_id": str(address.id), "note": ""}
    values.update(fields)
    return CheckoutForm(**values)


async def submit(session: AsyncSession, buyer, company, form):  # type: ignore[no-untyped-def]
    return await submit_order(session, buyer, company, form, today=TODAY, grace_days=7, margin_floor=Decimal("10"))


async def test_order_numbers_run_per_year(session: AsyncSession) -> None:
    numbers = [await next_order_number(session, 2026) for _ in range(3)] + [await next_order_number(session, 2027)]
    assert numbers == ["ORD-2026-000001", "ORD-2026-000002", "ORD-2026-000003", "ORD-2027-000001"]


async def test_submitting_snapshots_the_cart_into_a_pending_order(session: AsyncSession) -> None:
    company, address, buyer = await buying_setup(session, payment_terms_days=14)
    paper = await make_product(session, sku="PAP-1", list_price=Decimal("100.0000"), cost=Decimal("70.0000"))
    milk = await make_product(
        session,
        sku="MLK-1",
        list_price=Decimal("3.3350"),
        cost=Decimal("2.0000"),
        vat_rate=Decimal("5.00"),
        pack_size=3,
    )
    await add_contract_price(session, company, paper, "95.50")
    await add_to_cart(session, buyer, paper.id, 2)
    await add_to_cart(session, buyer, milk.id, 3)
    key = (await buyer_cart(session, buyer)).checkout_key

    submission = await submit(session, buyer, company, form_for(key, address))

    order = submission.order
    assert submission.created and order.status is OrderStatus.PENDING_APPROVAL
    assert order.number == "ORD-2026-000001" and order.po_number == "PO-7"
    assert [
        (ln.sku, ln.quantity, ln.unit_price, ln.price_source, ln.unit_cost, ln.vat_rate, ln.line_net)
        for ln in order.lines
    ] == [
        ("PAP-1", 2, Decimal("95.50"), "contract", Decimal("70.0000"), Decimal("23.00"), Decimal("191.00")),
        ("MLK-1", 3, Decimal("3.3350"), "list_less_discount", Decimal("2.0000"), Decimal("5.00"), Decimal("10.01")),
    ]
    # 191.00 × 23 % = 43.93; 10.01 × 5 % = 0.5005 → 0.50
    assert (order.net_total, order.vat_total, order.gross_total) == (
        Decimal("201.01"),
        Decimal("44.43"),
        Decimal("245.44"),
    )
    assert order.payment_terms_days == 14 and order.delivery_address.startswith("HQ\nul. Prosta 1")
    assert [event.to_status for event in order.events] == [OrderStatus.PENDING_APPROVAL]
    assert [flag.kind for flag in order.flags] == [FlagKind.FIRST_ORDER]
    fresh_cart = await buyer_cart(session, buyer)
    assert fresh_cart.lines == [] and fresh_cart.checkout_key != key


async def test_the_same_key_twice_makes_one_order(session: AsyncSession) -> None:
    company, address, buyer = await buying_setup(session)
    product = await make_product(session)
    await add_to_cart(session, buyer, product.id, 1)
    form = form_for((await buyer_cart(session, buyer)).checkout_key, address)

    first = await submit(session, buyer, company, form)
    second = await submit(session, buyer, company, form)

    assert (first.created, second.created) == (True, False)
    assert second.order.id == first.order.id
    assert await session.scalar(select(func.count()).select_from(Order)) == 1


async def test_a_cart_changed_after_the_form_was_made_is_not_ordered_unseen(session: AsyncSession) -> None:
    company, address, buyer = await buying_setup(session)
    product = await make_product(session)
    await add_to_cart(session, buyer, product.id, 1)
    stale = form_for((await buyer_cart(session, buyer)).checkout_key, address)
    await add_to_cart(session, buyer, product.id, 1)
    with pytest.raises(CartChanged) as changed:
        await submit(session, buyer, company, stale)
    assert isinstance(changed.value, Conflict) and changed.value.status_code == 409
    with pytest.raises(CartChanged):
        await submit(session, buyer, company, form_for("not-a-key", address))
    assert await session.scalar(select(func.count()).select_from(Order)) == 0


async def test_bad_checkout_fields_are_named_and_nothing_is_saved(session: AsyncSession) -> None:
    company, address, buyer = await buying_setup(session, po_number_required=True)
    other_company, other_address, _ = await buying_setup(session)
    product = await make_product(session)
    await add_to_cart(session, buyer, product.id, 1)
    key = (await buyer_cart(session, buyer)).checkout_key

    with pytest.raises(CheckoutInvalid) as invalid:
        await submit(session, buyer, company, form_for(key, other_address, po_number="", delivery_date="2026-11-28"))
    assert invalid.value.errors == {
        "po_number": "Your company asks for a purchase order number on every order.",
        "delivery_date": "The earliest delivery date is 30 Nov 2026.",
        "address_id": "Choose one of your company's delivery addresses.",
    }
    assert isinstance(invalid.value, Refused)
    with pytest.raises(CheckoutInvalid) as invalid:
        await submit(session, buyer, company, form_for(key, address, delivery_date="next week"))
    assert invalid.value.errors == {"delivery_date": "Enter a date, e.g. 2026-11-30."}
    with pytest.raises(CheckoutInvalid) as invalid:
        await submit(session, buyer, company, CheckoutForm(key, "PO-1", date(2027, 12, 1), address.id))
    assert invalid.value.errors == {"delivery_date": "Choose a date within a year."}
    assert await session.scalar(select(func.count()).select_from(Order)) == 0
    assert len((await buyer_cart(session, buyer)).lines) == 1


async def test_a_company_on_hold_cannot_submit(session: AsyncSession) -> None:
    company, address, buyer = await buying_setup(session, on_hold=True, hold_reason="Unpaid invoices")
    product = await make_product(session)
    await add_to_cart(session, buyer, product.id, 1)
    with pytest.raises(CompanyOnHold) as held:
        await submit(session, buyer, company, form_for((await buyer_cart(session, buyer)).checkout_key, address))
    assert isinstance(held.value, Refused) and held.value.reason == "Unpaid invoices"


async def test_typed_checkout_values_are_taken_as_they_are(session: AsyncSession) -> None:
    company, address, buyer = await buying_setup(session)
    product = await make_product(session)
    await add_to_cart(session, buyer, product.id, 1)
    form = CheckoutForm(
        key=(await buyer_cart(session, buyer)).checkout_key,
        po_number="  PO-9 ",
        delivery_date=date(2026, 12, 2),
        address_id=address.id,
        note="Ring twice",
    )
    order = (await submit(session, buyer, company, form)).order
    assert (order.po_number, order.requested_delivery_date, order.note) == ("PO-9", date(2026, 12, 2), "Ring twice")


async def test_flags_carry_their_numbers(session: AsyncSession) -> None:
    company, address, buyer = await buying_setup(session, credit_limit=Decimal("1000.00"))
    await make_invoice(session, company, gross="400.00", due=TODAY - timedelta(days=20))  # past due
    thin = ProductCategory(name="Thin margins", margin_floor_pct=Decimal("25.00"))
    cheap = await make_product(
        session, sku="THIN-1", category=thin, list_price=Decimal("100.0000"), cost=Decimal("80.0000")
    )
    usual = await make_product(session, sku="USUAL-1", list_price=Decimal("10.0000"), cost=Decimal("5.0000"))
    for quantity in (10, 12):  # the company's history of USUAL-1: median 11
        await add_to_cart(session, buyer, usual.id, quantity)
        first = await submit(
            session, buyer, company, form_for((await buyer_cart(session, buyer)).checkout_key, address)
        )
        first.order.status = OrderStatus.APPROVED  # only approved orders make a history
    await add_to_cart(session, buyer, cheap.id, 5)
    await add_to_cart(session, buyer, usual.id, 40)

    order = (
        await submit(session, buyer, company, form_for((await buyer_cart(session, buyer)).checkout_key, address))
    ).order

    flags = {flag.kind: (flag.blocking, flag.data) for flag in order.flags}
    assert flags[FlagKind.PAST_DUE] == (True, {"overdue": "400.00", "days": "20"})
    # limit 1000 − (invoice 400 + two approved orders) = available before this order
    earlier = first.order.gross_total + (
        await session.scalar(select(Order.gross_total).where(Order.id != first.order.id, Order.id != order.id))
    )
    available = Decimal("1000.00") - Decimal("400.00") - earlier
    assert flags[FlagKind.EXCEEDS_CREDIT] == (
        True,
        {"available": str(available), "gross": str(order.gross_total), "shortfall": str(order.gross_total - available)},
    )
    assert flags[FlagKind.BELOW_MARGIN_FLOOR] == (False, {"sku": "THIN-1", "margin_pct": "20.0", "floor_pct": "25.00"})
    assert flags[FlagKind.UNUSUAL_QUANTITY] == (False, {"sku": "USUAL-1", "quantity": "40", "usual": "11.0"})
    assert FlagKind.FIRST_ORDER not in flags


async def test_exposure_counts_pending_and_approved_orders_but_not_closed_ones(session: AsyncSession) -> None:
    company, address, buyer = await buying_setup(session, credit_limit=Decimal("5000.00"))
    await make_invoice(session, company, gross="1000.00", paid="250.00", due=TODAY + timedelta(days=3))
    product = await make_product(session, list_price=Decimal("100.0000"), vat_rate=Decimal("0.00"))
    orders = []
    for _ in range(4):
        await add_to_cart(session, buyer, product.id, 1)
        orders.append(
            (
                await submit(
                    session, buyer, company, form_for((await buyer_cart(session, buyer)).checkout_key, address)
                )
            ).order
        )
    manager = await make_user(session, Role.ACCOUNT_MANAGER)
    await move_order(session, orders[1].id, OrderStatus.APPROVED, manager, today=date(2026, 11, 27))
    await move_order(session, orders[2].id, OrderStatus.REJECTED, manager, "No")
    await cancel_order(session, buyer, orders[3].id, "")

    picture = await credit_picture(session, company.id, today=TODAY, grace_days=7)

    assert (picture.unpaid_invoices, picture.approved_orders, picture.pending_orders) == (
        Decimal("750.00"),
        Decimal("100.00"),
        Decimal("100.00"),
    )
    assert picture.exposure == Decimal("950.00") and picture.available_credit == Decimal("4050.00")


async def test_only_a_pending_order_can_be_cancelled_and_the_refusal_says_who(session: AsyncSession) -> None:
    company, address, buyer = await buying_setup(session)
    product = await make_product(session)
    await add_to_cart(session, buyer, product.id, 1)
    order = (
        await submit(session, buyer, company, form_for((await buyer_cart(session, buyer)).checkout_key, address))
    ).order
    manager = await make_user(session, Role.ACCOUNT_MANAGER, full_name="Anna Kowalska")
    await move_order(session, order.id, OrderStatus.APPROVED, manager, "ok", today=date(2026, 11, 27))

    with pytest.raises(MoveRefused) as refused:
        await cancel_order(session, buyer, order.id, "too late")
    assert refused.value.order.status is OrderStatus.APPROVED
    assert refused.value.last_event.actor.full_name == "Anna Kowalska"
    assert isinstance(refused.value, Conflict) and refused.value.errors == {"": refused.value.message}
    assert refused.value.message.startswith(
        "Nothing was changed: this order was already set to “Approved” by Anna Kowalska"
    )

    with pytest.raises(MoveRefused):
        await move_order(session, order.id, OrderStatus.PENDING_APPROVAL, manager)  # no way back


async def test_another_companys_buyer_cannot_cancel(session: AsyncSession) -> None:
    company, address, buyer = await buying_setup(session)
    _, _, stranger = await buying_setup(session)
    product = await make_product(session)
    await add_to_cart(session, buyer, product.id, 1)
    order = (
        await submit(session, buyer, company, form_for((await buyer_cart(session, buyer)).checkout_key, address))
    ).order
    with pytest.raises(NotFound):
        await cancel_order(session, stranger, order.id, "")


async def test_a_cancel_reason_is_kept_whole_or_refused_never_cut(session: AsyncSession) -> None:
    company, address, buyer = await buying_setup(session)
    product = await make_product(session)
    await add_to_cart(session, buyer, product.id, 1)
    order = (
        await submit(session, buyer, company, form_for((await buyer_cart(session, buyer)).checkout_key, address))
    ).order
    assert OrderView(order).can_cancel and OrderView(order).pending
    with pytest.raises(Refused) as refused:
        await cancel_order(session, buyer, order.id, "x" * 2001)
    assert refused.value.errors == {"reason": "Use at most 2,000 characters."}
    assert order.status is OrderStatus.PENDING_APPROVAL
    cancelled = await cancel_order(session, buyer, order.id, "y" * 2000)
    reasons = await session.scalars(select(OrderEvent.reason).where(OrderEvent.order_id == order.id))
    assert "y" * 2000 in list(reasons)
    assert not OrderView(cancelled).can_cancel and not OrderView(cancelled).pending


async def test_the_order_list_filters_by_status_days_and_number(session: AsyncSession) -> None:
    from zoneinfo import ZoneInfo

    company, address, buyer = await buying_setup(session)
    product = await make_product(session)
    orders = []
    for po_number in ("PO-100%", "PO-2_00", "other"):
        await add_to_cart(session, buyer, product.id, 1)
        form = form_for((await buyer_cart(session, buyer)).checkout_key, address, po_number=po_number)
        orders.append((await submit(session, buyer, company, form)).order)
    await cancel_order(session, buyer, orders[2].id, "")
    zone = ZoneInfo("Europe/Warsaw")

    async def numbers(**wanted: object) -> list[str]:
        page = await company_orders(session, company.id, OrderFilter(**wanted), zone)  # type: ignore[arg-type]
        return sorted(order.po_number or "" for order in page.orders)

    assert await numbers() == ["PO-100%", "PO-2_00", "other"]
    assert await numbers(q="100%") == ["PO-100%"]  # % and _ are letters here, not patterns
    assert await numbers(q="2_0") == ["PO-2_00"]
    assert await numbers(q=orders[1].number.lower()) == ["PO-2_00"]
    assert await numbers(status=OrderStatus.CANCELLED) == ["other"]
    assert await numbers(date_from=date(2100, 1, 1)) == []
    assert OrderFilter(status=OrderStatus.CANCELLED, q="x", page=2).params(page=3) == {
        "status": "cancelled",
        "q": "x",
        "page": 3,
    }


async def test_reorder_uses_todays_prices_and_skips_what_is_not_sold(session: AsyncSession) -> None:
    company, address, buyer = await buying_setup(session)
    steady = await make_product(session, sku="STEADY", list_price=Decimal("10.0000"))
    dearer = await make_product(session, sku="DEARER", list_price=Decimal("20.0000"))
    retired = await make_product(session, sku="RETIRED", list_price=Decimal("5.0000"))
    for product in (steady, dearer, retired):
        await add_to_cart(session, buyer, product.id, 2)
    order = (
        await submit(session, buyer, company, form_for((await buyer_cart(session, buyer)).checkout_key, address))
    ).order
    dearer.list_price = Decimal("22.5000")
    retired.is_active = False
    await session.flush()

    _, preview = await reorder_preview(session, company, order.id, TODAY)
    assert [(ln.line.sku, ln.available, ln.price_changed, ln.new_unit_price) for ln in preview] == [
        ("STEADY", True, False, Decimal("10.0000")),
        ("DEARER", True, True, Decimal("22.5000")),
        ("RETIRED", False, False, None),
    ]
    await reorder(session, buyer, company, order.id, TODAY)
    cart = await buyer_cart(session, buyer)
    assert sorted((line.product.sku, line.quantity) for line in cart.lines) == [("DEARER", 2), ("STEADY", 2)]
    other, _, _ = await buying_setup(session)
    with pytest.raises(NotFound):
        await reorder_preview(session, other, order.id, TODAY)
