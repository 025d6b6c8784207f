"""A prospective volume tier as a specification: the resolved price (contract, price list or
list less discount) less the tier's %, rounded half-up to 4 places, at every break; the price
says where it came from and keeps data enough to word it later; the buyer's progress per scope,
with what a cart adds, computed by hand."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

from portal.models import SettlementPeriod, TierMode
from portal.services.agreements import Period, ScopeStanding, Standing, Tier, TierDiscount
from portal.services.buyer_agreement import cart_by_category, progress_of
from portal.services.pricing import NextBreak, PriceEntry, PriceLadder, PriceSource, PricingTerms, TierNote
from portal.web.formatting import line_price_source, price_source

TERMS = PricingTerms(currency="PLN", discount_pct=Decimal("10.00"), price_list_name="Gold")
TIER = TierDiscount(rebate_pct=Decimal("3.00"), reached_on=date(2026, 11, 14), threshold=Decimal("100000.00"))
QUARTER = Period(date(2026, 10, 1), date(2026, 12, 31))


def entry(source: PriceSource, price: str, min_quantity: int = 1) -> PriceEntry:
    return PriceEntry(source=source, product_id=1, unit_price=Decimal(price), min_quantity=min_quantity)


def ladder(entries: list[PriceEntry], tier: TierDiscount | None = TIER) -> PriceLadder:
    return PriceLadder.build(1, Decimal("20.0000"), entries, TERMS, tier)


def test_the_tier_comes_off_a_price_list_price_with_its_source_kept() -> None:
    price = ladder([entry(PriceSource.PRICE_LIST, "17.3333")]).price(1)
    # 17.3333 × 0.97 = 16.813301 → 16.8133
    assert price.unit_price == Decimal("16.8133")
    assert (price.source, price.basis, price.price_list_name) == (
        PriceSource.VOLUME_TIER,
        PriceSource.PRICE_LIST,
        "Gold",
    )
    assert price.note == "3.00|2026-11-14|price_list|Gold"
    assert price_source(price, "pcs") == "Price list Gold less volume tier 3 % reached on 14 Nov 2026"


def test_the_tier_comes_off_the_list_price_less_discount_and_off_a_contract() -> None:
    fallback = ladder([]).price(1)
    # 20.0000 less 10 % = 18.0000, less 3 % = 17.4600
    assert fallback.unit_price == Decimal("17.4600") and fallback.basis is PriceSource.LIST_LESS_DISCOUNT
    assert (
        price_source(fallback, "pcs")
        == "List price less your 10 % discount less volume tier 3 % reached on 14 Nov 2026"
    )
    contract = ladder([entry(PriceSource.CONTRACT, "15.0000")]).price(1)
    assert contract.unit_price == Decimal("14.5500") and contract.is_contract
    assert contract.note == "3.00|2026-11-14|contract|"


def test_every_break_and_the_next_one_are_lowered_alike() -> None:
    rows = [entry(PriceSource.PRICE_LIST, "17.50"), entry(PriceSource.PRICE_LIST, "16.00", 50)]
    priced = ladder(rows)
    # 17.50 × 0.97 = 16.975; 16.00 × 0.97 = 15.52
    assert priced.price(1).next_break == NextBreak(50, Decimal("15.5200"))
    assert [(row.min_quantity, row.unit_price) for row in priced.breaks()] == [
        (1, Decimal("16.9750")),
        (50, Decimal("15.5200")),
    ]
    assert ladder(rows, tier=None).price(1).unit_price == Decimal("17.50")


def test_half_a_unit_of_the_fourth_place_rounds_up() -> None:
    # 0.0050 × 0.97 = 0.00485 → 0.0049 (half up), not 0.0048
    assert ladder([entry(PriceSource.CONTRACT, "0.0050")]).price(1).unit_price == Decimal("0.0049")


def line(source: str, note: str, min_quantity: int = 1) -> Any:
    return SimpleNamespace(price_source=source, price_note=note, price_min_quantity=min_quantity)


def test_a_frozen_line_is_worded_from_its_note() -> None:
    assert TierNote.parse("3.00|2026-11-14|price_list|Gold|Plus") == TierNote(
        Decimal("3.00"), date(2026, 11, 14), PriceSource.PRICE_LIST, "Gold|Plus"
    )
    assert TierNote.parse("nonsense") is None
    worded = line_price_source(line("volume_tier", "3.00|2026-11-14|price_list|Gold", 50))
    assert worded == "Price list Gold, from 50 less volume tier 3 % reached on 14 Nov 2026"
    assert line_price_source(line("volume_tier", "2.50|2026-10-02|contract|")) == (
        "Contract less volume tier 2.50 % reached on 2 Oct 2026"
    )


def scope(category_id: int | None, name: str, ladder: list[tuple[str, str]], turnover: str) -> ScopeStanding:
    tiers = tuple(Tier(Decimal(threshold), Decimal(pct)) for threshold, pct in ladder)
    amount = Decimal(turnover)
    reached = max((tier for tier in tiers if amount >= tier.threshold), key=lambda tier: tier.threshold, default=None)
    return ScopeStanding(category_id, name, tiers, amount, reached, date(2026, 11, 3), amount, reached)


def standing(*scopes: ScopeStanding, mode: TierMode = TierMode.RETROSPECTIVE) -> Standing:
    agreement: Any = SimpleNamespace(period=SettlementPeriod.QUARTER, tier_mode=mode)
    return Standing(agreement, QUARTER, date(2026, 11, 27), list(scopes))


def test_the_progress_of_each_scope_with_what_the_cart_adds() -> None:
    everything = scope(None, "", [("50000.00", "1.50"), ("100000.00", "3.00")], "82340.00")
    paper = scope(7, "Paper", [("20000.00", "2.00"), ("40000.00", "4.00")], "22340.00")
    cart = cart_by_category([(7, Decimal("5000.00")), (9, Decimal("2660.00")), (7, Decimal("0.00"))])
    progress = progress_of(standing(everything, paper), "PLN", cart)
    assert progress is not None and not progress.prospective
    whole, paper_progress = progress.scopes
    assert (whole.remaining, whole.next_tier) == (Decimal("17660.00"), Tier(Decimal("100000.00"), Decimal("3.00")))
    assert (whole.cart, whole.with_cart, whole.cart_remaining) == (
        Decimal("7660.00"),
        Decimal("90000.00"),
        Decimal("10000.00"),
    )
    assert (paper_progress.cart, paper_progress.with_cart, paper_progress.cart_remaining) == (
        Decimal("5000.00"),
        Decimal("27340.00"),
        Decimal("12660.00"),
    )
    assert whole.cart_reaches is None

    bigger = progress_of(standing(everything, paper), "PLN", {7: Decimal("17660.00")})
    assert bigger is not None
    assert [item.cart_reaches for item in bigger.scopes] == [
        Tier(Decimal("100000.00"), Decimal("3.00")),
        Tier(Decimal("40000.00"), Decimal("4.00")),
    ]


def test_no_agreement_or_no_tiers_means_no_progress() -> None:
    assert progress_of(None, "PLN") is None
    assert progress_of(standing(), "PLN") is None
    at_home = progress_of(standing(scope(None, "", [("1000.00", "2.00")], "1500.00")), "PLN")
    assert at_home is not None and at_home.scopes[0].cart is None and at_home.scopes[0].next_tier is None
