"""Routes of the ERP API (filled in)."""

from __future__ import annotations

from typing import Any

ROUTES: list[Any] = []
