"""Growth suggestions: what customers with a similar purchase mix buy regularly and this one does
not, on a small dataset whose similarities and counts are worked out in `growth_dataset`'s
docstring."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from portal.models import Company, Product, ProductCategory
from portal.services import growth, report_summary
from portal.services.growth import Growth, Suggestion
from tests.factories import make_company, make_counted_order, make_product

TODAY = date(2026, 11, 27)
"""The seller's day under the `frozen_clock` fixture; the last 12 months run from 1 December 2025."""
ZONE = ZoneInfo("Europe/Warsaw")
REGULAR = (date(2026, 8, 10), date(2026, 9, 10), date(2026, 10, 10))
"""Three distinct months: bought regularly."""


@dataclass(frozen=True)
class GrowthData:
    target: Company
    similar: list[Company]
    """S1, S2, S3, in that order."""
    inactive: Company
    tools: list[Company]
    """D1, D2: they buy only tools, nothing like the target."""
    products: dict[str, Product]
    categories: dict[str, ProductCategory]


async def buy(session: AsyncSession, company: Company, product: Product, net: str, days: tuple[date, ...]) -> None:
    for day in days:
        await make_counted_order(
            session,
            company,
            net=net,
            product=product,
            approved_at=datetime(day.year, day.month, day.day, 10, tzinfo=UTC),
        )


async def growth_dataset(session: AsyncSession, **target_fields: object) -> GrowthData:
    """Categories Dairy (Milk, Butter, Cream: Cream is no longer sold), Bakery (Bread), Drinks
    (Cola, Juice), Coffee (Espresso) and Tools (Hammer). Bought in Aug, Sep and Oct 2026 (three
    months: regularly) unless said otherwise:

    - Target: Milk 100, Bread 50 (mix: Dairy 300, Bakery 150); Butter once, in October 2025, before
      the 12 months.
    - S1: Milk 100, Butter 100, Bread 50, Cola 20, Juice 20 in Aug and Sep only, Cream 10, Espresso
      10 (Dairy 630, Bakery 150, Drinks 100 in 3 months, Coffee 30). Cosine with the target:
      (300·630 + 150·150) / (335.41 · 655.97) = 0.961.
    - S2: Milk 100, Butter 100, Cola 20, Cream 10 (Dairy 630, Drinks 60): 189,000 / (335.41 ·
      632.85) = 0.890.
    - S3: Milk 200 in August only, Cola 20, Juice 10, Espresso 10 (Dairy 200, Drinks 90, Coffee 30):
      60,000 / (335.41 · 221.36) = 0.808.
    - Inactive (similar, but no longer a customer): Milk 100, Espresso 10.
    - D1, D2: Hammer 100 (Tools 300): cosine 0 with the target.

    So the target's similar customers are S1, S2, S3. Categories they buy regularly that the target
    does not: Drinks (S1, S2, S3: 3), Coffee (S1, S3: 2; the inactive one not counted); Tools only
    by the dissimilar D1 and D2. Products: Cola (S1, S2, S3: 3), Butter (S1, S2: 2; the target's
    purchase is older than 12 months), Espresso (S1, S3: 2); not Juice (only S3 in three months),
    not Cream (no longer sold), not Milk (the target buys it), not Hammer."""
    names = ("Dairy", "Bakery", "Drinks", "Coffee", "Tools")
    categories = {name: ProductCategory(name=name) for name in names}
    in_category = {
        "Milk": "Dairy",
        "Butter": "Dairy",
        "Cream": "Dairy",
        "Bread": "Bakery",
        "Cola": "Drinks",
        "Juice": "Drinks",
        "Espresso": "Coffee",
        "Hammer": "Tools",
    }
    products = {
        name: await make_product(session, name=name, category=categories[category], is_active=name != "Cream")
        for name, category in in_category.items()
    }
    target = await make_company(session, name="Target Deli", **target_fields)
    s1, s2, s3 = [await make_company(session, name=f"Similar {n}") for n in (1, 2, 3)]
    inactive = await make_company(session, name="Closed Shop", is_active=False)
    d1, d2 = [await make_company(session, name=f"Tool Shop {n}") for n in (1, 2)]
    purchases: list[tuple[Company, str, str, tuple[date, ...]]] = [
        (target, "Milk", "100.00", REGULAR),
        (target, "Bread", "50.00", REGULAR),
        (target, "Butter", "100.00", (date(2025, 10, 15),)),
        (s1, "Milk", "100.00", REGULAR),
        (s1, "Butter", "100.00", REGULAR),
        (s1, "Bread", "50.00", REGULAR),
        (s1, "Cola", "20.00", REGULAR),
        (s1, "Juice", "20.00", REGULAR[:2]),
        (s1, "Cream", "10.00", REGULAR),
        (s1, "Espresso", "10.00", REGULAR),
        (s2, "Milk", "100.00", REGULAR),
        (s2, "Butter", "100.00", REGULAR),
        (s2, "Cola", "20.00", REGULAR),
        (s2, "Cream", "10.00", REGULAR),
        (s3, "Milk", "200.00", REGULAR[:1]),
        (s3, "Cola", "20.00", REGULAR),
        (s3, "Juice", "10.00", REGULAR),
        (s3, "Espresso", "10.00", REGULAR),
        (inactive, "Milk", "100.00", REGULAR),
        (inactive, "Espresso", "10.00", REGULAR),
        (d1, "Hammer", "100.00", REGULAR),
        (d2, "Hammer", "100.00", REGULAR),
    ]
    for company, product, net, days in purchases:
        await buy(session, company, products[product], net, days)
    await report_summary.refresh(session, TODAY, ZONE)
    await session.commit()
    return GrowthData(target, [s1, s2, s3], inactive, [d1, d2], products, categories)


def found(suggestions: list[Suggestion]) -> list[tuple[str, int]]:
    return [(suggestion.name, suggestion.buyers) for suggestion in suggestions]


async def test_the_target_gets_what_its_similar_customers_buy_regularly(session: AsyncSession) -> None:
    data = await growth_dataset(session)
    suggested = await growth.suggestions(session, data.target.id, TODAY)
    assert suggested.similar == 3
    assert found(suggested.categories) == [("Drinks", 3), ("Coffee", 2)]
    assert found(suggested.products) == [("Cola", 3), ("Butter", 2), ("Espresso", 2)]
    assert [s.category for s in suggested.products] == ["Drinks", "Dairy", "Coffee"]
    assert suggested.categories[0].id == data.categories["Drinks"].id
    assert suggested.products[0].id == data.products["Cola"].id


async def test_a_dissimilar_customers_purchases_are_never_suggested(session: AsyncSession) -> None:
    data = await growth_dataset(session)
    suggested = await growth.suggestions(session, data.target.id, TODAY)
    assert "Tools" not in [s.name for s in suggested.categories]
    assert "Hammer" not in [s.name for s in suggested.products]
    # The tool shops are like each other: D1's one similar customer buys nothing D1 does not.
    assert await growth.suggestions(session, data.tools[0].id, TODAY) == Growth(1, [], [])


async def test_a_customer_without_purchases_has_no_one_to_compare_with(session: AsyncSession) -> None:
    data = await growth_dataset(session)
    newcomer = await make_company(session, name="Newcomer")
    assert await growth.suggestions(session, newcomer.id, TODAY) == Growth(0)
    await report_summary.refresh(session, date(2030, 1, 1), ZONE)  # every purchase older than 12 months
    assert await growth.suggestions(session, data.target.id, date(2030, 1, 1)) == Growth(0)


def test_the_suggested_task_title_names_the_offer_and_the_count() -> None:
    assert Suggestion(1, "Drinks", 3).task_title == "Offer Drinks: bought regularly by 3 similar customers"
    assert len(Suggestion(1, "x" * 200, 12).task_title) == 200


def test_only_the_ten_most_similar_above_one_half_are_compared_with() -> None:
    one = Decimal(1)
    mixes = {0: {1: one}} | {n: {1: one, 2: Decimal(n) / 10} for n in range(1, 13)}
    # Company n's cosine with 0 is 1 / sqrt(1 + (n/10)²): 12 of them, the least similar 0.640.
    assert growth.most_similar(0, mixes) == list(range(1, 11))
    # Exactly one half is not more than one half: 1 / (1 · |(1, 1, 1, 1)|).
    assert growth.most_similar(0, {0: {1: one}, 7: {1: one, 2: one, 3: one, 4: one}}) == []
    assert growth.cosine({}, {1: one}) == 0.0
