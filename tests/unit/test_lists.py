"""Shopping lists: shared by a company's buyers, edited line by line, priced today."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from portal.models import OrderStatus
from portal.services import lists
from portal.services.cart import add_to_cart, buyer_cart
from portal.services.lists import ListError, ListGone
from tests.factories import make_company, make_order, make_product, make_user

TODAY = date(2026, 11, 27)
ZONE = ZoneInfo("Europe/Warsaw")


async def two_buyers(session: AsyncSession):  # type: ignore[no-untyped-def]
    company = await make_company(session)
    first = await make_user(session, company_id=company.id)
    second = await make_user(session, company_id=company.id)
    await session.refresh(first, ["company"])
    await session.refresh(second, ["company"])
    return company, first, second


async def test_a_list_is_shared_and_priced_today_with_changes_shown(session: AsyncSession) -> None:
    company, nina, tom = await two_buyers(session)
    glasses = await make_product(session, list_price=Decimal("10.0000"), pack_size=6)
    shopping_list = await lists.create_list(session, nina, "Bar", lines={glasses.id: 12}, today=TODAY)
    glasses.list_price = Decimal("11.0000")
    await session.flush()

    priced = await lists.priced_list(session, tom.company, shopping_list.id, TODAY)

    (item,) = priced.items
    assert (item.line.price_when_added, item.price.unit_price, item.price_changed) == (  # type: ignore[union-attr]
        Decimal("10.0000"), Decimal("11.0000"), True)
    assert priced.total == Decimal("132.00")


async def test_pack_sizes_hold_on_list_lines_too(session: AsyncSession) -> None:
    company, nina, _ = await two_buyers(session)
    glasses = await make_product(session, pack_size=6)
    shopping_list = await lists.create_list(session, nina, "Bar", lines={glasses.id: 6}, today=TODAY)
    line = shopping_list.lines[0]
    with pytest.raises(ListError, match="Sold in packs of 6: 6 or 12"):
        await lists.change_line(session, nina, shopping_list.id, line.id, 8, "")
    with pytest.raises(ListError, match="Sold in packs of 6: 6?"):
        await lists.add_product(session, nina, shopping_list.id, glasses.id, 3, today=TODAY)


async def test_two_buyers_editing_different_lines_keep_both_changes(session: AsyncSession) -> None:
    company, nina, tom = await two_buyers(session)
    a, b = await make_product(session), await make_product(session)
    shopping_list = await lists.create_list(session, nina, "Kitchen", lines={a.id: 1, b.id: 1}, today=TODAY)
    line_a, line_b = shopping_list.lines
    await lists.change_line(session, nina, shopping_list.id, line_a.id, 5, "for Monday")
    await lists.change_line(session, tom, shopping_list.id, line_b.id, 7, "")
    await lists.change_line(session, tom, shopping_list.id, line_a.id, 6, "Tom's")  # the later change wins
    priced = await lists.priced_list(session, company, shopping_list.id, TODAY)
    assert [(i.line.quantity, i.line.note) for i in priced.items] == [(6, "Tom's"), (7, "")]
    assert priced.shopping_list.updated_by_id == tom.id


async def test_a_deleted_list_says_so_when_used(session: AsyncSession) -> None:
    company, nina, tom = await two_buyers(session)
    product = await make_product(session)
    shopping_list = await lists.create_list(session, nina, "Old", lines={product.id: 1}, today=TODAY)
    await lists.delete_list(session, nina, shopping_list.id)
    with pytest.raises(ListGone, match="another buyer of your company may have deleted it"):
        await lists.list_to_cart(session, tom, shopping_list.id)


async def test_another_companys_list_does_not_exist(session: AsyncSession) -> None:
    _, nina, _ = await two_buyers(session)
    _, stranger, _ = await two_buyers(session)
    shopping_list = await lists.create_list(session, nina, "Mine", today=TODAY)
    with pytest.raises(ListGone):
        await lists.priced_list(session, stranger.company, shopping_list.id, TODAY)
    with pytest.raises(ListGone):
        await lists.rename_list(session, stranger, shopping_list.id, "Theirs", "")


async def test_adding_a_list_to_the_cart_skips_what_is_not_sold_and_keeps_the_list(session: AsyncSession) -> None:
    _, nina, _ = await two_buyers(session)
    kept, retired, other = await make_product(session), await make_product(session), await make_product(session)
    shopping_list = await lists.create_list(session, nina, "Weekly", lines={kept.id: 2, retired.id: 1, other.id: 3},
                                            today=TODAY)
    retired.is_active = False
    await session.flush()

    report = await lists.list_to_cart(session, nina, shopping_list.id, [shopping_list.lines[0].id, shopping_list.lines[1].id])

    assert report.added == [kept.sku] and report.skipped == [f"{retired.sku} is not sold any more."]
    cart = await buyer_cart(session, nina)
    assert [(line.product_id, line.quantity) for line in cart.lines] == [(kept.id, 2)]
    assert len((await lists.priced_list(session, nina.company, shopping_list.id, TODAY)).items) == 3


async def test_lists_from_the_cart_and_from_a_past_order(session: AsyncSession) -> None:
    company, nina, _ = await two_buyers(session)
    product = await make_product(session)
    await add_to_cart(session, nina, product.id, 4)
    from_cart = await lists.list_from_cart(session, nina, "From cart", today=TODAY)
    assert [(l.product_id, l.quantity) for l in from_cart.lines] == [(product.id, 4)]
    order = await make_order(session, company, gross="50.00", buyer=nina, product=product, quantity=5)
    from_order = await lists.list_from_order(session, nina, order.id, "", today=TODAY)
    assert from_order.name == f"From order {order.number}"
    assert [(l.product_id, l.quantity) for l in from_order.lines] == [(product.id, 5)]


async def test_usual_items_are_products_of_at_least_three_of_the_last_six_months(session: AsyncSession) -> None:
    company, nina, _ = await two_buyers(session)
    regular = await make_product(session, name="Regular", pack_size=6)
    seasonal = await make_product(session, name="Seasonal")
    old = await make_product(session, name="Old favourite")
    when = lambda days: datetime.combine(TODAY - timedelta(days=days), datetime.min.time(), UTC).replace(hour=9)  # noqa: E731
    for days, quantity in [(10, 12), (40, 18), (75, 30)]:
        await make_order(session, company, gross="10.00", status=OrderStatus.INVOICED, submitted_at=when(days),
                         product=regular, quantity=quantity)
    for days in (10, 12):
        await make_order(session, company, gross="10.00", status=OrderStatus.INVOICED, submitted_at=when(days), product=seasonal)
    for days in (200, 230, 260):
        await make_order(session, company, gross="10.00", status=OrderStatus.INVOICED, submitted_at=when(days), product=old)
    await make_order(session, company, gross="10.00", status=OrderStatus.REJECTED, submitted_at=when(100), product=seasonal)

    items = await lists.usual_items(session, company, TODAY, ZONE)

    assert [(i.product.name, i.quantity, i.months) for i in items] == [("Regular", 18, 3)]
    saved = await lists.save_usual(session, nina, "Usual", TODAY, ZONE)
    assert [(l.product_id, l.quantity) for l in saved.lines] == [(regular.id, 18)]
