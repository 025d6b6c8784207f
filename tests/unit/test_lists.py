"""Shopping lists: shared by a company's buyers, edited line by line, priced today."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.orm import selectinload

from portal.errors import NotFound, Refused
from portal.models import OrderStatus, ShoppingList, ShoppingListLine, User
from portal.services import lists
from portal.services.cart import add_to_cart, buyer_cart
from portal.services.lists import ListError, ListGone, ListSource
from tests.conftest import backend
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
        Decimal("10.0000"),
        Decimal("11.0000"),
        True,
    )
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
    shopping_list = await lists.create_list(
        session, nina, "Weekly", lines={kept.id: 2, retired.id: 1, other.id: 3}, today=TODAY
    )
    retired.is_active = False
    await session.flush()

    report = await lists.list_to_cart(
        session, nina, shopping_list.id, [shopping_list.lines[0].id, shopping_list.lines[1].id]
    )

    assert report.added == [kept.sku] and report.skipped == [f"{retired.sku} is not sold any more."]
    cart = await buyer_cart(session, nina)
    assert [(line.product_id, line.quantity) for line in cart.lines] == [(kept.id, 2)]
    assert len((await lists.priced_list(session, nina.company, shopping_list.id, TODAY)).items) == 3


async def test_lists_from_the_cart_and_from_a_past_order(session: AsyncSession) -> None:
    company, nina, _ = await two_buyers(session)
    product = await make_product(session)
    await add_to_cart(session, nina, product.id, 4)
    from_cart = await lists.list_from_cart(session, nina, "From cart", today=TODAY)
    assert [(line.product_id, line.quantity) for line in from_cart.lines] == [(product.id, 4)]
    order = await make_order(session, company, gross="50.00", buyer=nina, product=product, quantity=5)
    from_order = await lists.list_from_order(session, nina, order.id, "", today=TODAY)
    assert from_order.name == f"From order {order.number}"
    assert [(line.product_id, line.quantity) for line in from_order.lines] == [(product.id, 5)]


async def test_usual_items_are_products_of_at_least_three_of_the_last_six_months(session: AsyncSession) -> None:
    company, nina, _ = await two_buyers(session)
    regular = await make_product(session, name="Regular", pack_size=6)
    seasonal = await make_product(session, name="Seasonal")
    old = await make_product(session, name="Old favourite")
    when = lambda days: datetime.combine(TODAY - timedelta(days=days), datetime.min.time(), UTC).replace(hour=9)  # noqa: E731
    for days, quantity in [(10, 12), (40, 18), (75, 30)]:
        await make_order(
            session,
            company,
            gross="10.00",
            status=OrderStatus.INVOICED,
            submitted_at=when(days),
            product=regular,
            quantity=quantity,
        )
    for days in (10, 12):
        await make_order(
            session, company, gross="10.00", status=OrderStatus.INVOICED, submitted_at=when(days), product=seasonal
        )
    for days in (200, 230, 260):
        await make_order(
            session, company, gross="10.00", status=OrderStatus.INVOICED, submitted_at=when(days), product=old
        )
    await make_order(
        session, company, gross="10.00", status=OrderStatus.REJECTED, submitted_at=when(100), product=seasonal
    )

    items = await lists.usual_items(session, company, TODAY, ZONE)

    assert [(i.product.name, i.quantity, i.months) for i in items] == [("Regular", 18, 3)]
    saved = await lists.save_usual(session, nina, "Usual", TODAY, ZONE)
    assert [(line.product_id, line.quantity) for line in saved.lines] == [(regular.id, 18)]


def test_a_refusal_is_the_portals_refusal_and_a_missing_list_is_not_found() -> None:
    assert issubclass(ListError, Refused) and issubclass(ListGone, NotFound)
    assert ListError("No.", "quantity", 7).errors == {"quantity": "No."}
    assert lists.NAME_MAX == 100 and lists.NOTE_MAX == 200  # the columns' own lengths


async def test_a_list_name_is_tidied_and_must_fit_its_column(session: AsyncSession) -> None:
    _, nina, _ = await two_buyers(session)
    assert (await lists.create_list(session, nina, "  Bar \t supplies ", today=TODAY)).name == "Bar supplies"
    with pytest.raises(ListError, match="Give the list a name.") as blank:
        await lists.create_list(session, nina, " \u00a0 ", today=TODAY)
    with pytest.raises(ListError, match="Use at most 100 characters.") as long:
        await lists.create_list(session, nina, "x" * 101, today=TODAY)
    assert blank.value.errors.keys() == long.value.errors.keys() == {"name"}


async def test_a_new_list_from_an_empty_cart_is_refused_on_its_source(session: AsyncSession) -> None:
    _, nina, _ = await two_buyers(session)
    with pytest.raises(ListError, match="Your cart is empty.") as refused:
        await lists.new_list(session, nina, "From cart", "", ListSource.CART, today=TODAY)
    assert refused.value.errors == {"source": "Your cart is empty."}
    empty = await lists.new_list(session, nina, "Empty", "for later", ListSource.EMPTY, today=TODAY)
    assert (empty.name, empty.description, empty.lines) == ("Empty", "for later", [])


async def test_adding_to_a_list_deleted_meanwhile_is_refused_on_that_choice(session: AsyncSession) -> None:
    _, nina, tom = await two_buyers(session)
    product = await make_product(session, pack_size=6)
    shopping_list = await lists.create_list(session, nina, "Bar", today=TODAY)
    await lists.delete_list(session, tom, shopping_list.id)
    with pytest.raises(ListError, match="another buyer of your company may have deleted it") as refused:
        await lists.add_to_list(session, nina, product.id, 6, shopping_list.id, today=TODAY)
    assert refused.value.field == "list_id"
    with pytest.raises(ListError) as no_name:
        await lists.add_to_list(session, nina, product.id, 6, None, "", today=TODAY)
    assert no_name.value.field == "new_name"
    made = await lists.add_to_list(session, nina, product.id, 6, None, "Party", today=TODAY)
    again = await lists.add_to_list(session, nina, product.id, 12, made.id, today=TODAY)
    assert (again.name, [line.quantity for line in again.lines]) == ("Party", [18])


async def test_another_companys_order_makes_no_list(session: AsyncSession) -> None:
    _, nina, _ = await two_buyers(session)
    stranger = await make_company(session)
    order = await make_order(session, stranger, gross="10.00")
    with pytest.raises(NotFound):
        await lists.list_from_order(session, nina, order.id, "", today=TODAY)


async def test_removing_a_line_twice_is_the_same_as_once(session: AsyncSession) -> None:
    _, nina, tom = await two_buyers(session)
    a, b = await make_product(session), await make_product(session)
    shopping_list = await lists.create_list(session, nina, "Kitchen", lines={a.id: 1, b.id: 2}, today=TODAY)
    line = shopping_list.lines[0]
    await lists.remove_line(session, nina, shopping_list.id, line.id)
    await lists.remove_line(session, tom, shopping_list.id, line.id)
    priced = await lists.priced_list(session, nina.company, shopping_list.id, TODAY)
    assert [item.line.product_id for item in priced.items] == [b.id]
    with pytest.raises(ListError, match="This line was removed meanwhile."):
        await lists.change_line(session, tom, shopping_list.id, line.id, 1, "")


async def test_a_copy_of_a_list_with_a_long_name_still_fits_the_column(session: AsyncSession) -> None:
    _, nina, _ = await two_buyers(session)
    product = await make_product(session)
    original = await lists.create_list(session, nina, "L" * 100, lines={product.id: 3}, today=TODAY)
    copy = await lists.duplicate_list(session, nina, original.id)
    assert copy.name == "Copy of " + "L" * 92 and [line.quantity for line in copy.lines] == [3]


async def test_the_usual_items_saved_without_a_name_are_named_usual_items(session: AsyncSession) -> None:
    company, nina, _ = await two_buyers(session)
    with pytest.raises(ListError, match="There are no usual items yet."):
        await lists.save_usual(session, nina, "", TODAY, ZONE)
    product = await make_product(session)
    for days in (5, 50, 95):
        await make_order(
            session,
            company,
            gross="10.00",
            status=OrderStatus.APPROVED,
            product=product,
            submitted_at=datetime.combine(TODAY - timedelta(days=days), datetime.min.time(), UTC),
        )
    assert (await lists.save_usual(session, nina, "", TODAY, ZONE)).name == "Usual items"


async def test_adds_to_a_list_line_are_summed_by_the_database(session: AsyncSession) -> None:
    """Each add is `quantity = quantity + added` in one statement: the line the session holds plays
    no part; the total must stay whole packs and within one line's limit."""
    _, nina, tom = await two_buyers(session)
    glasses = await make_product(session, pack_size=6)
    shopping_list = await lists.create_list(session, nina, "Bar", lines={glasses.id: 6}, today=TODAY)
    held = shopping_list.lines[0]
    await lists.add_product(session, tom, shopping_list.id, glasses.id, 12, today=TODAY)
    again = await lists.add_to_list(session, nina, glasses.id, 6, shopping_list.id, today=TODAY)
    assert [line.quantity for line in again.lines] == [24] and again.lines[0] is held
    assert again.updated_by_id == nina.id
    with pytest.raises(ListError, match="more than one order line can take"):
        await lists.add_product(session, tom, shopping_list.id, glasses.id, 999_996, today=TODAY)
    priced = await lists.priced_list(session, nina.company, shopping_list.id, TODAY)
    assert [item.line.quantity for item in priced.items] == [24]


async def test_a_list_deleted_meanwhile_is_gone_for_rename_delete_and_line_changes(session: AsyncSession) -> None:
    _, nina, tom = await two_buyers(session)
    product = await make_product(session)
    shopping_list = await lists.create_list(session, nina, "Old", lines={product.id: 1}, today=TODAY)
    line_id = shopping_list.lines[0].id
    assert await lists.delete_list(session, tom, shopping_list.id) == "Old"
    for late in [
        lists.rename_list(session, nina, shopping_list.id, "New", ""),
        lists.delete_list(session, nina, shopping_list.id),
        lists.change_line(session, nina, shopping_list.id, line_id, 2, ""),
        lists.remove_line(session, nina, shopping_list.id, line_id),
        lists.add_product(session, nina, shopping_list.id, product.id, 1, today=TODAY),
    ]:
        with pytest.raises(ListGone, match="another buyer of your company may have deleted it"):
            await late
    assert await session.scalar(select(func.count()).select_from(ShoppingListLine)) == 0


async def test_a_rename_and_a_delete_at_once_are_one_after_the_other(
    engine: AsyncEngine, session: AsyncSession
) -> None:
    """The delete waits for the rename holding the list (or the other way round): the one that
    comes second deletes the renamed list, or finds it gone."""
    if backend() != "postgresql":
        pytest.skip("concurrent writers need PostgreSQL; SQLite serialises them by design")
    _, nina, tom = await two_buyers(session)
    product = await make_product(session)
    shopping_list = await lists.create_list(session, nina, "Old", lines={product.id: 1}, today=TODAY)
    await session.commit()
    makers = async_sessionmaker(engine, expire_on_commit=False)

    async def rename(pause: float) -> str:
        async with makers() as own:
            user = await own.scalar(select(User).options(selectinload(User.company)).where(User.id == nina.id))
            assert user is not None
            await asyncio.sleep(pause)
            try:
                renamed = await lists.rename_list(own, user, shopping_list.id, "New", "")
            except ListGone:
                return "gone"
            await asyncio.sleep(0.3)  # the rename holds the list a moment, as a slow request would
            await own.commit()
            return renamed.name

    async def delete(pause: float) -> str:
        async with makers() as own:
            user = await own.get(User, tom.id)
            assert user is not None
            await asyncio.sleep(pause)
            name = await lists.delete_list(own, user, shopping_list.id)
            await asyncio.sleep(0.3)
            await own.commit()
            return name

    assert await asyncio.gather(rename(0), delete(0.1)) == ["New", "New"]
    shopping_list = await lists.create_list(session, nina, "Old", today=TODAY)
    await session.commit()
    assert await asyncio.gather(rename(0.1), delete(0)) == ["gone", "Old"]
    assert await session.scalar(select(func.count()).select_from(ShoppingList)) == 0
