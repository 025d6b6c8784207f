"""Which negotiated rows count on a given day, for which company, loaded in one query."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession

from portal.models import Company, Product
from portal.services.pricing import PriceSource, load_company_prices
from tests.factories import (
    add_contract_price,
    add_list_price,
    make_company,
    make_price_list,
    make_product,
)

DAY = date(2026, 11, 27)


@pytest.fixture
async def setup(session: AsyncSession) -> tuple[Company, Product]:
    price_list = await make_price_list(session, "Wholesale")
    company = await make_company(session, price_list_id=price_list.id, general_discount_pct=Decimal("5.00"))
    product = await make_product(session, list_price=Decimal("20.0000"))
    await add_list_price(session, price_list, product, "18.00")
    return company, product


async def price_on(session: AsyncSession, company: Company, product: Product, day: date, quantity: int = 1):  # type: ignore[no-untyped-def]
    return (await load_company_prices(session, company, day, [product.id])).price(product, quantity)


async def test_contract_counts_from_its_first_to_its_last_day(session: AsyncSession, setup) -> None:  # type: ignore[no-untyped-def]
    company, product = setup
    await add_contract_price(session, company, product, "15.00", valid_from=DAY, valid_to=DAY + timedelta(days=30))

    before = await price_on(session, company, product, DAY - timedelta(days=1))
    first = await price_on(session, company, product, DAY)
    last = await price_on(session, company, product, DAY + timedelta(days=30))
    after = await price_on(session, company, product, DAY + timedelta(days=31))

    assert (before.source, before.unit_price) == (PriceSource.PRICE_LIST, Decimal("18.0000"))
    assert (first.source, first.unit_price, first.valid_to) == (
        PriceSource.CONTRACT,
        Decimal("15.0000"),
        DAY + timedelta(days=30),
    )
    assert last.source is PriceSource.CONTRACT
    assert after.source is PriceSource.PRICE_LIST  # expired contract falls back to the price list


async def test_price_list_entry_in_the_future_is_ignored(session: AsyncSession) -> None:
    price_list = await make_price_list(session)
    company = await make_company(session, price_list_id=price_list.id, general_discount_pct=Decimal("0"))
    product = await make_product(session, list_price=Decimal("20.0000"))
    await add_list_price(session, price_list, product, "16.00", valid_from=DAY + timedelta(days=1))

    today = await price_on(session, company, product, DAY)
    tomorrow = await price_on(session, company, product, DAY + timedelta(days=1))

    assert (today.source, today.unit_price) == (PriceSource.LIST_LESS_DISCOUNT, Decimal("20.0000"))
    assert (tomorrow.source, tomorrow.unit_price, tomorrow.price_list_name) == (
        PriceSource.PRICE_LIST,
        Decimal("16.0000"),
        price_list.name,
    )


async def test_another_companys_contract_never_applies(session: AsyncSession, setup) -> None:  # type: ignore[no-untyped-def]
    company, product = setup
    other = await make_company(session)
    await add_contract_price(session, other, product, "1.00")
    assert (await price_on(session, company, product, DAY)).unit_price == Decimal("18.0000")


async def test_company_without_price_list_gets_list_less_discount(session: AsyncSession) -> None:
    company = await make_company(session, general_discount_pct=Decimal("12.50"))
    product = await make_product(session, list_price=Decimal("40.0000"))
    price = await price_on(session, company, product, DAY)
    assert (price.source, price.unit_price, price.discount_pct) == (
        PriceSource.LIST_LESS_DISCOUNT,
        Decimal("35.0000"),
        Decimal("12.50"),
    )


async def test_quantity_breaks_from_the_database(session: AsyncSession, setup) -> None:  # type: ignore[no-untyped-def]
    company, product = setup
    price_list_id = company.price_list_id
    from portal.models import PriceList

    price_list = await session.get(PriceList, price_list_id)
    await add_list_price(session, price_list, product, "17.1234", min_quantity=50)
    prices = await load_company_prices(session, company, DAY, [product.id])
    assert prices.price(product, 49).next_break.unit_price == Decimal("17.1234")  # type: ignore[union-attr]
    assert prices.price(product, 50).unit_price == Decimal("17.1234")


async def test_many_products_cost_one_query(session: AsyncSession, setup) -> None:  # type: ignore[no-untyped-def]
    company, _ = setup
    products = [await make_product(session) for _ in range(40)]
    for product in products[::2]:
        await add_contract_price(session, company, product, "3.00")
    statements: list[str] = []
    sync_engine = session.bind.sync_engine  # type: ignore[union-attr]

    def record(*args) -> None:  # type: ignore[no-untyped-def]
        statements.append(args[2])

    event.listen(sync_engine, "before_cursor_execute", record)
    try:
        prices = await load_company_prices(session, company, DAY, [p.id for p in products])
    finally:
        event.remove(sync_engine, "before_cursor_execute", record)

    assert len(statements) == 2  # the company's agreement (none here), then every row at once
    assert [prices.price(p).source for p in products[:2]] == [PriceSource.CONTRACT, PriceSource.LIST_LESS_DISCOUNT]
