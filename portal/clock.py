"""The portal's one source of the current time, so tests can move it."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo


def now() -> datetime:
    """The current moment, timezone-aware in UTC."""
    return datetime.now(UTC)


def today(zone: ZoneInfo) -> date:
    """Today's date where the seller does business: invoices fall due by the seller's calendar."""
    return now().astimezone(zone).date()
