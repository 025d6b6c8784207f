"""The cart's rules: whole packs only, never rounded silently; quick order lines
checked one by one, repeated SKUs summed."""

from __future__ import annotations

import asyncio
from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from portal.errors import Refused
from portal.models import Cart, CartLine, Product, User
from portal.services.cart import (
    QUICK_MAX_BYTES,
    QUICK_MAX_LINES,
    CartError,
    add_quick_order,
    add_to_cart,
    buyer_cart,
    check_quick_order,
    parse_quantity,
    priced_cart,
    put_in_cart,
    quantity_problem,
    remove_line,
    set_quantity,
)
from tests.conftest import backend
from tests.factories import make_company, make_invoice, make_product, make_user

TODAY = date(2026, 11, 27)


@pytest.mark.parametrize(
    ("pack", "quantity", "problem"),
    [
        (12, 24, None),
        (12, 30, "Sold in packs of 12: 24 or 36?"),
        (12, 5, "Sold in packs of 12: 12?"),
        (12, 0, "Enter a quantity of at least 12."),
        (1, 0, "Enter a quantity of at least 1."),
        (1, 7, None),
        (1, 1_000_001, "That is more than one order line can take."),
    ],
)
def test_quantities_must_be_whole_packs(pack: int, quantity: int, problem: str | None) -> None:
    assert quantity_problem(Product(pack_size=pack), quantity) == problem


@pytest.mark.parametrize(
    ("text", "quantity"),
    [
        ("24", 24),
        (" 24 ", 24),
        ("24,00", 24),
        ("24.0", 24),
        ("1\u00a0000", 1000),
        ("2.5", None),
        ("-3", None),
        ("abc", None),
        ("", None),
        ("1e3", None),
        ("１２３", None),
        ("²", None),
        ("1²", None),
        ("١٢", None),
        ("1\x00", None),
    ],
)
def test_quantities_as_typed_or_copied_from_excel(text: str, quantity: int | None) -> None:
    assert parse_quantity(text) == quantity


async def test_adding_the_same_product_sums_and_checks_the_total(session: AsyncSession) -> None:
    buyer = await make_user(session)
    glasses = await make_product(session, pack_size=6)
    await add_to_cart(session, buyer, glasses.id, 6)
    await add_to_cart(session, buyer, glasses.id, 12)
    cart = await buyer_cart(session, buyer)
    assert [(line.product_id, line.quantity) for line in cart.lines] == [(glasses.id, 18)]

    with pytest.raises(CartError, match=r"Sold in packs of 6: 6\?") as refused:
        await add_to_cart(session, buyer, glasses.id, 3)
    assert isinstance(refused.value, Refused) and refused.value.errors == {"quantity": "Sold in packs of 6: 6?"}
    with pytest.raises(CartError, match="Sold in packs of 6: 6 or 12"):
        await set_quantity(session, buyer, glasses.id, 10)
    assert (await buyer_cart(session, buyer)).lines[0].quantity == 18  # nothing changed


async def test_inactive_products_cannot_be_added(session: AsyncSession) -> None:
    buyer = await make_user(session)
    gone = await make_product(session, is_active=False)
    with pytest.raises(CartError, match="not sold any more"):
        await add_to_cart(session, buyer, gone.id, 1)
    with pytest.raises(CartError, match="not sold any more"):
        await add_to_cart(session, buyer, 987654, 1)


async def test_every_change_gives_the_cart_a_new_checkout_key(session: AsyncSession) -> None:
    buyer = await make_user(session)
    product = await make_product(session)
    keys = [(await buyer_cart(session, buyer)).checkout_key]
    await add_to_cart(session, buyer, product.id, 1)
    keys.append((await buyer_cart(session, buyer)).checkout_key)
    await set_quantity(session, buyer, product.id, 2)
    keys.append((await buyer_cart(session, buyer)).checkout_key)
    await remove_line(session, buyer, product.id)
    keys.append((await buyer_cart(session, buyer)).checkout_key)
    assert len(set(keys)) == 4


async def test_priced_cart_shows_totals_and_credit_after_the_order(session: AsyncSession) -> None:
    company = await make_company(session, credit_limit=Decimal("1000.00"))
    buyer = await make_user(session, company_id=company.id)
    await make_invoice(session, company, gross="300.00", due=TODAY + timedelta(days=5))
    paper = await make_product(session, list_price=Decimal("100.0000"), vat_rate=Decimal("23.00"))
    milk = await make_product(session, list_price=Decimal("10.0000"), vat_rate=Decimal("5.00"), pack_size=6)
    retired = await make_product(session, list_price=Decimal("50.0000"))
    for product, quantity in [(paper, 5), (milk, 12), (retired, 1)]:
        await add_to_cart(session, buyer, product.id, quantity)
    retired.is_active = False
    await session.flush()

    priced = await priced_cart(session, buyer, company, today=TODAY, grace_days=7)

    assert [item.available for item in priced.items] == [True, True, False]
    assert (priced.totals.net, priced.totals.vat, priced.totals.gross) == (
        Decimal("620.00"),
        Decimal("121.00"),
        Decimal("741.00"),
    )
    # the one credit picture of the cart as an order (`credit.order_credit`): 1000 − 300 owed = 700
    assert priced.picture.available_credit == Decimal("700.00")
    assert (priced.credit.available_before, priced.credit.gross) == (Decimal("700.00"), Decimal("741.00"))
    assert priced.credit.available_after == Decimal("-41.00")
    assert priced.credit.exceeds and priced.credit.shortfall == Decimal("41.00")
    assert not priced.warn_high_utilisation  # the warning that it exceeds says more


async def test_a_cart_within_credit_warns_only_when_most_of_the_limit_is_used(session: AsyncSession) -> None:
    company = await make_company(session, credit_limit=Decimal("1000.00"))
    buyer = await make_user(session, company_id=company.id)
    paper = await make_product(session, list_price=Decimal("10.0000"), vat_rate=Decimal("0.00"))
    await add_to_cart(session, buyer, paper.id, 5)
    calm = await priced_cart(session, buyer, company, today=TODAY, grace_days=7)
    assert (calm.credit.exceeds, calm.warn_high_utilisation) == (False, False)

    await make_invoice(session, company, gross="850.00", due=TODAY + timedelta(days=5))  # 85 % used
    busy = await priced_cart(session, buyer, company, today=TODAY, grace_days=7)
    assert busy.credit.available_after == Decimal("100.00") and busy.warn_high_utilisation


async def test_quick_order_checks_every_line_first(session: AsyncSession) -> None:
    await make_product(session, sku="BEV-011", pack_size=6)
    await make_product(session, sku="DAI-023")
    await make_product(session, sku="OLD-001", is_active=False)
    pasted = "\n".join(
        [
            "SKU\tQuantity",  # a header copied from Excel
            "BEV-011\t12",  # tab
            "dai-023;3",  # semicolon, lower case
            "XYZ-999 4",  # unknown
            "OLD-001,2",  # no longer sold
            "BEV-011 7",  # bad pack size alone, but summed with line 2: 19
            "DAI-023  2,00",  # spaces and a decimal comma
            "DAI-023 two",  # not a number
            "",
            "BEV-011",  # no quantity
        ]
    )
    report = await check_quick_order(session, pasted)

    by_line = {row.number: row.error for row in report.rows}
    assert by_line == {
        2: "Together 19: Sold in packs of 6: 18 or 24?",
        3: None,
        4: "Unknown SKU.",
        5: "This product is not sold any more.",
        6: "Together 19: Sold in packs of 6: 18 or 24?",
        7: None,
        8: "The quantity must be a whole number.",
        10: "No quantity.",
    }
    assert [(report.products[pid].sku, qty) for pid, qty in report.lines.items()] == [("DAI-023", 5)]


async def test_quick_order_adds_only_the_valid_lines(session: AsyncSession) -> None:
    buyer = await make_user(session)
    await make_product(session, sku="A-1")
    await make_product(session, sku="B-2", pack_size=10)
    await add_quick_order(session, buyer, "A-1 2\nB-2 5\nA-1 3\nZZZ 1")
    cart = await buyer_cart(session, buyer)
    assert [(line.product.sku, line.quantity) for line in cart.lines] == [("A-1", 5)]


async def test_quick_order_lines_that_are_odd_are_reported_one_by_one(session: AsyncSession) -> None:
    await make_product(session, sku="A-1")
    pasted = "\r".join(
        [  # CR-only line ends, as old Mac Excel writes them
            ";;;;",  # 1: only delimiters: an empty row, skipped
            ",,,",  # 2: the same with commas
            "A-1;;4",  # 3: an empty cell between
            ";A-1;2;",  # 4: empty cells around
            "A-1;１２３",  # 5: full-width digits
            "A-1 ²",  # 6: a superscript
            "A\x00-1;1",  # 7: NUL inside the SKU
            "A-1;1\x00",  # 8: NUL after the quantity
            '"' + "x" * 140_000 + ";1",  # 9: a field over 128 KiB with an unbalanced quote
            "\t\t",  # 10: only tabs
            '"A-1","3"',  # 11: quoted CSV cells
        ]
    )
    report = await check_quick_order(session, pasted)

    by_line = {row.number: row.error for row in report.rows}
    assert by_line == {
        3: None,
        4: None,
        5: "The quantity must be a whole number.",
        6: "The quantity must be a whole number.",
        7: "This line contains a character that cannot be read.",
        8: "This line contains a character that cannot be read.",
        9: "Unknown SKU.",
        11: None,
    }
    assert len(next(row for row in report.rows if row.number == 9).text) <= 201  # shown shortened, not stored
    assert [(report.products[pid].sku, qty) for pid, qty in report.lines.items()] == [("A-1", 9)]


async def test_quick_order_takes_five_thousand_lines_and_refuses_more(session: AsyncSession) -> None:
    await make_product(session, sku="A-1")
    report = await check_quick_order(session, "sku;quantity\n" + "A-1;1\n" * (QUICK_MAX_LINES - 1))
    assert len(report.rows) == QUICK_MAX_LINES - 1 and report.lines  # every line, none cut

    with pytest.raises(Refused) as refused:
        await check_quick_order(session, "A-1;1\n" * (QUICK_MAX_LINES + 1))
    assert refused.value.errors == {
        "text": "A quick order takes at most 5,000 lines; this one has 5,001. Split it and check each part."
    }
    with pytest.raises(Refused) as refused:
        await check_quick_order(session, "", b"sku\n" + b"A-1,1\n" * 6000)
    assert list(refused.value.errors) == ["file"]


async def test_quick_order_files_in_the_encodings_excel_writes(session: AsyncSession) -> None:
    await make_product(session, sku="ŻÓŁ-1")
    for content in [
        "SKU;Ilość\r\nŻÓŁ-1;24\r\n".encode("cp1250"),
        "\ufeffsku;qty\nŻÓŁ-1;24\n".encode(),
        "SKU\tIlość\r\nŻÓŁ-1\t24\r\n".encode("utf-16"),
    ]:
        report = await check_quick_order(session, "", content)
        assert [(row.sku, row.quantity, row.error) for row in report.rows] == [("ŻÓŁ-1", 24, None)], content

    for odd in [b"\x00\x00\x00", b"\xff\xfe\x00s\x00k\x00u", b"\n\n\n"]:
        assert not (await check_quick_order(session, "", odd)).lines
    with pytest.raises(Refused) as refused:
        await check_quick_order(session, "", b"a" * (QUICK_MAX_BYTES + 1))
    assert refused.value.errors == {"file": "This file is larger than 2 MB. Split it into smaller files."}


async def test_a_line_takes_each_add_in_one_statement_up_to_the_line_limit(session: AsyncSession) -> None:
    """Adding is `quantity = quantity + added` in the database: what the session holds of the line
    plays no part, and a total beyond one line's limit is refused, not overflowed."""
    buyer = await make_user(session)
    paper = await make_product(session)
    await add_to_cart(session, buyer, paper.id, 999_999)
    stale = (await buyer_cart(session, buyer)).lines[0]
    await add_to_cart(session, buyer, paper.id, 1)
    assert (await buyer_cart(session, buyer)).lines[0] is stale and stale.quantity == 1_000_000
    with pytest.raises(CartError, match="more than one order line can take"):
        await add_to_cart(session, buyer, paper.id, 1)
    assert (await buyer_cart(session, buyer)).lines[0].quantity == 1_000_000


async def test_many_lines_go_in_at_once_summed_and_each_refusal_said(session: AsyncSession) -> None:
    buyer = await make_user(session)
    glasses = await make_product(session, sku="GLS-6", pack_size=6)
    paper = await make_product(session, sku="PAP-1")
    full = await make_product(session, sku="FULL-1")
    gone = await make_product(session, sku="OLD-1", is_active=False)
    await add_to_cart(session, buyer, glasses.id, 6)
    await add_to_cart(session, buyer, full.id, 1_000_000)
    report = await put_in_cart(
        session, buyer, [(glasses, 12), (paper, 2), (gone, 1), (paper, 3), (glasses, 4), (full, 1)]
    )
    assert report.added == ["GLS-6", "PAP-1"]
    assert report.skipped == [
        "OLD-1 is not sold any more.",
        "GLS-6: Sold in packs of 6: 6?",
        "FULL-1: That is more than one order line can take.",
    ]
    cart = await buyer_cart(session, buyer)
    assert {line.product.sku: line.quantity for line in cart.lines} == {"GLS-6": 18, "PAP-1": 5, "FULL-1": 1_000_000}


async def test_a_line_left_in_old_packs_is_not_added_to(session: AsyncSession) -> None:
    """A line of 4 from before the product went to packs of 6: adding 6 would make 10, refused."""
    buyer = await make_user(session)
    glasses = await make_product(session, pack_size=1)
    await add_to_cart(session, buyer, glasses.id, 4)
    glasses.pack_size = 6
    await session.flush()
    with pytest.raises(CartError, match="Sold in packs of 6: 6 or 12"):
        await add_to_cart(session, buyer, glasses.id, 6)
    assert (await put_in_cart(session, buyer, [(glasses, 6)])).skipped == [
        f"{glasses.sku}: Sold in packs of 6: 6 or 12?"
    ]


async def test_a_cart_is_made_once_however_many_first_uses(session: AsyncSession) -> None:
    buyer = await make_user(session)
    first = await buyer_cart(session, buyer)
    again = await buyer_cart(session, buyer, lock=True)
    assert again.id == first.id and again.checkout_key == first.checkout_key
    assert await session.scalar(select(func.count()).select_from(Cart)) == 1


async def test_two_buyers_tabs_adding_at_once_add_both(engine: AsyncEngine, session: AsyncSession) -> None:
    """Two transactions add to one line (the first use of the cart, too): both quantities count."""
    if backend() != "postgresql":
        pytest.skip("concurrent writers need PostgreSQL; SQLite serialises them by design")
    buyer = await make_user(session)
    paper = await make_product(session)
    await session.commit()
    makers = async_sessionmaker(engine, expire_on_commit=False)

    async def add(pause: float) -> None:
        async with makers() as own:
            user = await own.get(User, buyer.id)
            assert user is not None
            await add_to_cart(own, user, paper.id, 2)
            await asyncio.sleep(pause)  # the first holds the cart a moment, as a slow request would
            await own.commit()

    await asyncio.gather(add(0.3), add(0))
    assert await session.scalar(select(func.sum(CartLine.quantity))) == 4
    assert await session.scalar(select(func.count()).select_from(Cart)) == 1
