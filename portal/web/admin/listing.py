"""The query of every admin list, decoded once: search text, sort key, direction, page."""

from __future__ import annotations

from typing import Annotated, Literal

from litestar.params import FromQuery, Parameter

from portal.services.listing import ListQuery
from portal.web.inputs import PageNo, QueryText

SortKey = Annotated[str, Parameter(max_length=40, pattern=r"\A[a-z_]*\Z")]


def list_query(
    q: FromQuery[QueryText] = "",
    sort: FromQuery[SortKey] = "",
    direction: FromQuery[Literal["asc", "desc"]] = "asc",
    page: FromQuery[PageNo] = 1,
) -> ListQuery:
    """`?q=…&sort=name&direction=desc&page=2`; an unknown sort key sorts by the list's default."""
    return ListQuery(search=q.strip(), sort=sort, descending=direction == "desc", page=page)
