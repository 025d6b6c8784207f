"""Growth suggestions for the account manager: what customers who buy like this one buy regularly
and this one does not. Consultative selling: the customer page lists them, each with a "create
task" link; nothing is sent and nothing happens by itself.

- Similar customers: by the cosine similarity of the purchase mix, the trailing 12 months' net per
  category (`ReportCategoryMix`, the worker's summary); the `SIMILAR_SHOWN` most similar active
  customers above `MIN_SIMILARITY`, the customer itself excluded.
- A category is suggested when at least `MIN_BUYERS` of them buy from it regularly (in
  `REGULAR_MONTHS` of the 12 months or more) and this customer not at all.
- A product is suggested when at least `MIN_BUYERS` of them bought it, in orders that count, in
  `REGULAR_MONTHS` distinct months of the last 12 or more, it is still sold and this customer did
  not buy it in those months.

Each comes with the number of similar customers buying it, never their names: the reader may not
see them. Two queries whatever the number of customers: the whole mix (500 customers × 40
categories at most), then the similar customers' products with this customer's."""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from sqlalchemy import and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from portal.i18n import ngettext
from portal.models import Company, Order, OrderLine, Product, ProductCategory, ReportCategoryMix
from portal.services.flags import COUNTED
from portal.services.report_summary import MIX_MONTHS, add_months, month_key, month_start
from portal.services.tasks import TITLE_MAX

SIMILAR_SHOWN = 10
"""How many of the most similar customers the suggestions are drawn from (K)."""
MIN_SIMILARITY = 0.5
"""Customers less similar than this (cosine of the purchase mixes) are not compared with."""
REGULAR_MONTHS = 3
"""Bought in this many of the last 12 months or more: bought regularly."""
MIN_BUYERS = 2
"""A category or product is suggested when at least this many similar customers buy it regularly."""
CATEGORIES_SHOWN = 5
PRODUCTS_SHOWN = 8


@dataclass(frozen=True)
class Suggestion:
    """A category or a product to offer, and how many similar customers buy it regularly."""

    id: int
    name: str
    buyers: int
    category: str = ""
    """A product's category (empty for a category)."""

    @property
    def task_title(self) -> str:
        """The suggested title of a task to offer it, within the task title's limit."""
        title = ngettext(
            "Offer %(name)s: bought regularly by %(num)d similar customer",
            "Offer %(name)s: bought regularly by %(num)d similar customers",
            self.buyers,
        ) % {"name": self.name, "num": self.buyers}
        return title[:TITLE_MAX]


@dataclass(frozen=True)
class Growth:
    similar: int
    """How many similar customers the suggestions come from (0: none to compare with)."""
    categories: list[Suggestion] = field(default_factory=list)
    products: list[Suggestion] = field(default_factory=list)


def cosine(one: dict[int, Decimal], other: dict[int, Decimal]) -> float:
    """The cosine of two category-net vectors; 0 when either is empty."""
    dot = sum(float(value) * float(other.get(key, 0)) for key, value in one.items())
    norms = math.sqrt(sum(float(v) ** 2 for v in one.values())) * math.sqrt(sum(float(v) ** 2 for v in other.values()))
    return dot / norms if norms else 0.0


def most_similar(company_id: int, mixes: dict[int, dict[int, Decimal]]) -> list[int]:
    """The ids of the `SIMILAR_SHOWN` customers whose mix is most like `company_id`'s, above
    `MIN_SIMILARITY`, the most similar first."""
    own = mixes.get(company_id, {})
    scored = [(cosine(own, mix), other) for other, mix in mixes.items() if other != company_id]
    scored = [(score, other) for score, other in scored if score > MIN_SIMILARITY]
    scored.sort(key=lambda pair: (-pair[0], pair[1]))
    return [other for _, other in scored[:SIMILAR_SHOWN]]


async def suggestions(session: AsyncSession, company_id: int, today: date) -> Growth:
    """What to offer `company_id`, from the customers most like it (see the module's docstring)."""
    rows = await session.execute(
        select(
            ReportCategoryMix.company_id,
            ReportCategoryMix.category_id,
            ProductCategory.name,
            ReportCategoryMix.net,
            ReportCategoryMix.months,
        )
        .join(Company, Company.id == ReportCategoryMix.company_id)
        .join(ProductCategory, ProductCategory.id == ReportCategoryMix.category_id)
        .where(or_(Company.is_active, Company.id == company_id))
    )
    mixes: dict[int, dict[int, Decimal]] = defaultdict(dict)
    months: dict[tuple[int, int], int] = {}
    names: dict[int, str] = {}
    for company, category, name, net, count in rows:
        mixes[company][category] = net
        months[(company, category)] = count
        names[category] = name
    similar = most_similar(company_id, mixes)
    if not similar:
        return Growth(0)
    regular: dict[int, int] = defaultdict(int)
    for other in similar:
        for category in mixes[other]:
            if months[(other, category)] >= REGULAR_MONTHS and months.get((company_id, category), 0) < 1:
                regular[category] += 1
    categories = [Suggestion(c, names[c], n) for c, n in regular.items() if n >= MIN_BUYERS]
    return Growth(
        len(similar),
        _best(categories)[:CATEGORIES_SHOWN],
        _best(await _products(session, company_id, similar, today))[:PRODUCTS_SHOWN],
    )


def _best(found: list[Suggestion]) -> list[Suggestion]:
    return sorted(found, key=lambda s: (-s.buyers, s.name, s.id))


async def _products(session: AsyncSession, company_id: int, similar: list[int], today: date) -> list[Suggestion]:
    """Active products that at least `MIN_BUYERS` of `similar` bought in `REGULAR_MONTHS` distinct
    months of the last 12 and `company_id` did not buy in them (one query: the similar customers'
    regular products and whatever `company_id` bought)."""
    since = add_months(month_start(today), 1 - MIX_MONTHS)
    bought = (
        select(OrderLine.product_id, Product.name, ProductCategory.name, Order.company_id)
        .join(Order, Order.id == OrderLine.order_id)
        .join(Product, Product.id == OrderLine.product_id)
        .join(ProductCategory, ProductCategory.id == Product.category_id)
        .where(
            Order.status.in_(COUNTED),
            Order.counted_on >= since,
            Order.counted_on <= today,
            Order.company_id.in_([*similar, company_id]),
        )
        .group_by(OrderLine.product_id, Product.name, ProductCategory.name, Order.company_id, Product.is_active)
        .having(
            or_(
                Order.company_id == company_id,
                and_(Product.is_active, func.count(month_key(session, Order.counted_on).distinct()) >= REGULAR_MONTHS),
            )
        )
    )
    rows = (await session.execute(bought)).all()
    own = {product_id for product_id, _name, _category, company in rows if company == company_id}
    buyers: dict[int, int] = defaultdict(int)
    named: dict[int, tuple[str, str]] = {}
    for product_id, name, category, company in rows:
        if company != company_id and product_id not in own:
            buyers[product_id] += 1
            named[product_id] = (name, category)
    return [Suggestion(p, named[p][0], n, named[p][1]) for p, n in buyers.items() if n >= MIN_BUYERS]
