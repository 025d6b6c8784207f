"""The API against its own published schema: schemathesis reads `/api/v1/schema` from a real
server and, for every operation, sends requests generated from the schema (valid ones, and ones
that break it) with a key that may do everything. No answer is a 5xx, and every answer conforms
to the schema: a documented status, the documented media type, a body of the documented shape."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy.ext.asyncio import AsyncSession

from portal.models import OrderStatus, PriceList, ProductCategory
from portal.settings import Settings
from tests.factories import bearer, make_api_key, make_company, make_order, make_product
from tests.live_server import live_server

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
EXAMPLES = 25
"""Requests per operation and mode: enough to reach every refusal path, few enough for CI."""


@pytest.fixture(scope="module")
def server(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with live_server(
        database_url, tmp_path_factory.mktemp("server"), workers=1, PORTAL_API_RATE_PER_MINUTE="1000000"
    ) as base_url:
        yield base_url


async def seed(session: AsyncSession) -> None:
    """Something for generated requests to find: a category, a product, a price list, a company, orders."""
    session.add(ProductCategory(name="Fasteners"))
    session.add(PriceList(name="Wholesale", code="WHOLESALE", currency="PLN"))
    company = await make_company(session, tax_id="PL5250001003", credit_limit=Decimal("1000.00"))
    product = await make_product(session, sku="SKU-1001")
    for status in (OrderStatus.APPROVED, OrderStatus.EXPORTED, OrderStatus.PENDING_APPROVAL):
        await make_order(session, company, gross="120.00", status=status, product=product)
    await session.commit()


async def test_every_operation_answers_within_its_schema(
    server: str, session: AsyncSession, settings: Settings
) -> None:
    await seed(session)
    _, secret = await make_api_key(session, settings)
    schema = schemathesis.openapi.from_url(f"{server}/api/v1/schema")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == 15, [f"{op.method} {op.path}" for op in operations]
    http = requests.Session()
    failures: list[str] = []
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @given(case=operation.as_strategy(generation_mode=mode))
            @hypothesis_settings(
                max_examples=EXAMPLES,
                deadline=None,
                database=None,
                derandomize=True,
                suppress_health_check=list(HealthCheck),
            )
            def run(case: schemathesis.Case) -> None:
                case.call_and_validate(base_url=server, session=http, headers=bearer(secret), checks=CHECKS)

            try:
                run()
            except (
                Exception,
                BaseExceptionGroup,
            ) as failure:  # every operation is tried; all failures are reported together
                failures.append(f"{operation.method.upper()} {operation.path} ({mode}): {failure}")
    assert not failures, "\n\n".join(failures)
