"""One page of an admin list: searched, filtered by the caller, sorted by a named column, and
counted, in two queries whatever the page size. Every admin list (companies, users, products,
price lists, contract prices, the audit trail) uses it, so they page and sort alike."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Generic, TypeVar

from sqlalchemy import Select, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

T = TypeVar("T")
PER_PAGE = 50


@dataclass(frozen=True)
class ListQuery:
    """What the user asked of a list: `?q=…&sort=…&direction=desc&page=2` plus the list's own filters."""

    search: str = ""
    sort: str = ""
    descending: bool = False
    page: int = 1
    filters: Mapping[str, Any] | None = None

    def params(self, **changes: Any) -> dict[str, Any]:
        """The URL parameters of this query with some changed (for links: pages, sorting)."""
        values: dict[str, Any] = {
            "q": self.search,
            "sort": self.sort,
            "direction": "desc" if self.descending else "",
            "page": self.page if self.page > 1 else "",
            **{key: ("" if value is None else value) for key, value in (self.filters or {}).items()},
        }
        values.update(changes)
        return values

    def sorted_by(self, key: str) -> dict[str, Any]:
        """The parameters for clicking column `key`: the sorted column turns round, another starts ascending."""
        descending = not self.descending if key == self.sort else False
        return self.params(sort=key, direction="desc" if descending else "", page="")

    def filter(self, name: str) -> Any:
        return (self.filters or {}).get(name)

    def with_filters(self, **filters: Any) -> ListQuery:
        return replace(self, filters={**(self.filters or {}), **filters})


@dataclass(frozen=True)
class Page(Generic[T]):
    rows: list[T]
    total: int
    query: ListQuery
    per_page: int = PER_PAGE

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))

    @property
    def previous_page(self) -> int | None:
        return self.query.page - 1 if self.query.page > 1 else None

    @property
    def next_page(self) -> int | None:
        return self.query.page + 1 if self.query.page < self.pages else None


def searched(statement: Select[Any], text: str, columns: Sequence[ColumnElement[Any]]) -> Select[Any]:
    """Rows where any of `columns` contains `text`, ignoring case."""
    if not text.strip():
        return statement
    needle = text.strip().lower()
    return statement.where(or_(*(func.lower(column).contains(needle, autoescape=True) for column in columns)))


async def paginate(
    session: AsyncSession,
    statement: Select[Any],
    query: ListQuery,
    *,
    sorts: Mapping[str, ColumnElement[Any]],
    default_sort: str,
    tiebreak: ColumnElement[Any],
    per_page: int = PER_PAGE,
    scalars: bool = True,
) -> Page[Any]:
    """The page `query.page` of `statement` (already searched and filtered), sorted by `sorts[query.sort]`
    (an unknown key sorts by `default_sort`), and the total count."""
    total = await session.scalar(select(func.count()).select_from(statement.order_by(None).subquery())) or 0
    column = sorts[query.sort] if query.sort in sorts else sorts[default_sort]
    order = column.desc() if query.descending else column.asc()
    ordered = statement.order_by(order, tiebreak).limit(per_page).offset((query.page - 1) * per_page)
    result = await session.execute(ordered)
    rows = list(result.scalars()) if scalars else list(result.all())
    return Page(rows, total, query, per_page)
