"""Numbers people read and quote back: ORD-2026-000123 for orders, Q-2026-000123 for quotes,
sequential per year. One statement takes the next number and keeps the year's counter row locked
until the transaction commits, so two documents never share a number and none is skipped by a
rolled-back transaction that held it."""

from __future__ import annotations

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from portal.models import OrderNumberSequence, QuoteNumberSequence


async def next_yearly_number(
    session: AsyncSession, counter: type[OrderNumberSequence] | type[QuoteNumberSequence], prefix: str, year: int
) -> str:
    """`prefix`-YYYY-NNNNNN from the year's row of `counter` (a table of year → last number)."""
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    statement = (
        insert(counter)
        .values(year=year, last_number=1)
        .on_conflict_do_update(index_elements=[counter.year], set_={"last_number": counter.last_number + 1})
        .returning(counter.last_number)
    )
    number = (await session.execute(statement)).scalar_one()
    return f"{prefix}-{year}-{number:06d}"
