"""Price resolution as a specification table: contract beats price list beats
list price less discount; the largest break not above the quantity applies; ties
go to the lower price; the next cheaper break is announced."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from portal.services.pricing import (
    NextBreak,
    PriceEntry,
    PriceSource,
    PricingTerms,
    line_net,
    list_less_discount,
    price_breaks,
    resolve_price,
)

C, P = PriceSource.CONTRACT, PriceSource.PRICE_LIST
LIST_PRICE = Decimal("20.0000")
TERMS = PricingTerms(currency="PLN", discount_pct=Decimal("10.00"), price_list_name="Wholesale")


def entry(source: PriceSource, price: str, min_quantity: int = 1) -> PriceEntry:
    return PriceEntry(source=source, product_id=1, unit_price=Decimal(price), min_quantity=min_quantity)


SPECIFICATION = [
    # (what the rule says, entries, quantity, expected price, expected source, break reached)
    ("no negotiated price: list price less 10 %", [], 1, "18.0000", PriceSource.LIST_LESS_DISCOUNT, 1),
    ("a price-list entry beats the discount", [entry(P, "17.50")], 1, "17.50", P, 1),
    ("a contract beats the price list, even a cheaper one", [entry(P, "15.00"), entry(C, "16.00")], 1, "16.00", C, 1),
    ("quantity exactly at a break reaches it", [entry(P, "17.50"), entry(P, "16.00", 50)], 50, "16.00", P, 50),
    ("one below a break stays on the lower break", [entry(P, "17.50"), entry(P, "16.00", 50)], 49, "17.50", P, 1),
    (
        "far above the last break keeps the last break",
        [entry(P, "17.50"), entry(P, "16.00", 50), entry(P, "15.00", 100)],
        10_000,
        "15.00",
        P,
        100,
    ),
    (
        "a contract from 10 pcs does not apply to 9: price list instead",
        [entry(C, "14.00", 10), entry(P, "17.50")],
        9,
        "17.50",
        P,
        1,
    ),
    ("a contract from 10 pcs applies to 10", [entry(C, "14.00", 10), entry(P, "17.50")], 10, "14.00", C, 10),
    (
        "a price list from 5 pcs does not apply to 1: list less discount",
        [entry(P, "15.00", 5)],
        1,
        "18.0000",
        PriceSource.LIST_LESS_DISCOUNT,
        1,
    ),
    (
        "two valid entries at the same break: the lower price wins",
        [entry(P, "17.00"), entry(P, "16.50"), entry(P, "17.20")],
        1,
        "16.50",
        P,
        1,
    ),
    ("the same tie among contracts", [entry(C, "12.00", 5), entry(C, "11.00", 5)], 5, "11.00", C, 5),
]


@pytest.mark.parametrize(
    ("rule", "entries", "quantity", "price", "source", "reached"), SPECIFICATION, ids=[row[0] for row in SPECIFICATION]
)
def test_price_resolution(
    rule: str, entries: list[PriceEntry], quantity: int, price: str, source: PriceSource, reached: int
) -> None:
    resolved = resolve_price(1, LIST_PRICE, entries, quantity, TERMS)
    assert (resolved.unit_price, resolved.source, resolved.min_quantity) == (Decimal(price), source, reached)
    assert resolved.currency == "PLN"


def test_the_result_order_never_depends_on_row_order() -> None:
    rows = [entry(P, "17.00"), entry(P, "16.50"), entry(P, "16.00", 50), entry(C, "19.00", 200)]
    assert {resolve_price(1, LIST_PRICE, order, 60, TERMS).unit_price for order in (rows, rows[::-1])} == {
        Decimal("16.00")
    }


@pytest.mark.parametrize(("discount", "expected"), [("0.00", "20.0000"), ("12.50", "17.5000"), ("33.33", "13.3340")])
def test_list_price_less_discount(discount: str, expected: str) -> None:
    terms = PricingTerms(currency="PLN", discount_pct=Decimal(discount))
    resolved = resolve_price(1, LIST_PRICE, [], 1, terms)
    assert resolved.unit_price == Decimal(expected)
    assert resolved.discount_pct == Decimal(discount)


def test_next_break_announces_what_ordering_more_costs() -> None:
    rows = [entry(P, "12.00"), entry(P, "11.20", 50), entry(P, "10.50", 100)]
    assert resolve_price(1, LIST_PRICE, rows, 1, TERMS).next_break == NextBreak(50, Decimal("11.20"))
    assert resolve_price(1, LIST_PRICE, rows, 50, TERMS).next_break == NextBreak(100, Decimal("10.50"))
    assert resolve_price(1, LIST_PRICE, rows, 100, TERMS).next_break is None


def test_next_break_skips_quantities_that_do_not_lower_the_price() -> None:
    # the price list is cheaper from 50, but the contract wins from 1, so 50 changes nothing
    rows = [entry(C, "12.00"), entry(P, "11.00", 50), entry(C, "11.50", 200)]
    assert resolve_price(1, LIST_PRICE, rows, 1, TERMS).next_break == NextBreak(200, Decimal("11.50"))


def test_a_higher_contract_break_is_not_announced_as_cheaper() -> None:
    rows = [entry(P, "12.00"), entry(C, "13.00", 10)]
    assert resolve_price(1, LIST_PRICE, rows, 1, TERMS).next_break is None


def test_break_table_lists_each_quantity_where_the_price_drops() -> None:
    rows = [entry(P, "12.00"), entry(P, "11.20", 50), entry(P, "11.20", 60), entry(C, "10.00", 100)]
    table = [(p.min_quantity, p.unit_price, p.source) for p in price_breaks(1, LIST_PRICE, rows, TERMS)]
    assert table == [(1, Decimal("12.00"), P), (50, Decimal("11.20"), P), (100, Decimal("10.00"), C)]


def test_break_table_of_a_product_without_negotiated_prices() -> None:
    table = price_breaks(1, LIST_PRICE, [], TERMS)
    assert [(p.min_quantity, p.unit_price) for p in table] == [(1, Decimal("18.0000"))]


@pytest.mark.parametrize(
    ("unit_price", "quantity", "net"),
    [
        ("0.0050", 1, "0.01"),
        ("0.0049", 1, "0.00"),
        ("1.2345", 10, "12.35"),
        ("11.2050", 3, "33.62"),
        ("19.9999", 7, "140.00"),
        ("0.3350", 3, "1.01"),
    ],
)
def test_line_net_is_rounded_half_up_to_the_cent(unit_price: str, quantity: int, net: str) -> None:
    assert line_net(Decimal(unit_price), quantity) == Decimal(net)


def test_discount_rounds_half_up_to_four_places() -> None:
    assert list_less_discount(Decimal("0.0015"), Decimal("50.00")) == Decimal("0.0008")


@st.composite
def monotone_data(draw: st.DrawFn) -> tuple[Decimal, list[PriceEntry], PricingTerms]:
    """Breaks whose prices fall as quantities rise, each level no dearer than the one below it."""
    list_price = Decimal(draw(st.integers(100, 100_000))) / 100
    discount = Decimal(draw(st.integers(0, 50)))
    ceiling = list_less_discount(list_price, discount)
    entries: list[PriceEntry] = []
    for source in (P, C):
        quantities = sorted(draw(st.sets(st.integers(1, 500), max_size=4)))
        for quantity in quantities:
            ceiling = (ceiling * Decimal(draw(st.integers(80, 100))) / 100).quantize(Decimal("0.0001"))
            entries.append(PriceEntry(source=source, product_id=1, unit_price=ceiling, min_quantity=quantity))
    return list_price, entries, PricingTerms(currency="PLN", discount_pct=discount)


@given(monotone_data(), st.integers(1, 600), st.integers(1, 600))
def test_more_never_costs_more_per_unit(data: tuple[Decimal, list[PriceEntry], PricingTerms], a: int, b: int) -> None:
    list_price, entries, terms = data
    small, large = sorted((a, b))
    assert (
        resolve_price(1, list_price, entries, large, terms).unit_price
        <= resolve_price(1, list_price, entries, small, terms).unit_price
    )
