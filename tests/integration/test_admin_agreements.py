"""Admin → Agreements over HTTP: a draft created, its tiers set, activated (the company switched
to the agreement's price list) and ended through the pages, each change in the audit trail; every
bad input refused next to its field with nothing saved; overlapping activation refused naming the
other agreement; tiers of a closed period refused while the next period may change."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from portal.models import (
    Agreement,
    AgreementStatus,
    AgreementTier,
    AuditEntry,
    Company,
    PaymentOption,
    ProductCategory,
    Role,
)
from tests.conftest import Clock
from tests.factories import make_agreement, make_company, make_price_list, make_product, make_user, sign_in, text_of

pytestmark = pytest.mark.usefixtures("frozen_clock")
"""Today is 2026-11-27: the current quarter starts 2026-10-01."""


async def post(client: AsyncTestClient, path: str, data: dict[str, Any]) -> Any:
    await client.get("/")
    headers = {"x-csrftoken": client.cookies.get("csrftoken") or ""}
    return await client.post(path, data=data, headers=headers, follow_redirects=False)


@pytest.fixture
async def world(session: AsyncSession) -> dict[str, Any]:
    await make_user(session, Role.ADMIN, email="ada@seller.example")
    await make_user(session, Role.ACCOUNT_MANAGER, email="max@seller.example")
    own_list = await make_price_list(session, "Standard")
    agreed_list = await make_price_list(session, "Agreed 2026")
    company = await make_company(session, name="Hotel Baltic", price_list_id=own_list.id)
    category = ProductCategory(name="Fasteners")
    product = await make_product(session, sku="SKU-BOLT", category=category)
    await session.commit()
    return {"company": company, "category": category, "product": product, "list": agreed_list, "own": own_list}


def draft_form(world: dict[str, Any], **changes: str) -> dict[str, Any]:
    form: dict[str, Any] = {
        "basics": "1",
        "number": "FA-2026-001",
        "company_id": str(world["company"].id),
        "valid_from": "2026-10-01",
        "period": "quarter",
        "tier_mode": "retrospective",
        "price_list": str(world["list"].id),
        "special_terms": "Delivery within 48 h.",
        "skonto_pct": "2",
        "skonto_days": "7",
        "days-0": "0",
        "effect-0": "-1",
        "days-1": "60",
        "effect-1": "1.5",
        "categories": str(world["category"].id),
        "skus": "SKU-BOLT\n",
        "assortment_blocking": "1",
    }
    form.update(changes)
    return {key: value for key, value in form.items() if value != ""}


async def count(session: AsyncSession, model: Any) -> int:
    return await session.scalar(select(func.count()).select_from(model)) or 0


async def only_agreement(session: AsyncSession) -> Agreement:
    return (await session.scalars(select(Agreement).execution_options(populate_existing=True))).one()


async def test_a_draft_gets_its_tiers_then_is_activated_and_ended_through_the_pages(
    client: AsyncTestClient, session: AsyncSession, world: dict[str, Any]
) -> None:
    await sign_in(client, "ada@seller.example")
    created = await post(client, "/admin/agreements/new", draft_form(world))
    assert created.status_code == 303, text_of(created.text)
    agreement = await only_agreement(session)
    path = f"/admin/agreements/{agreement.id}"
    assert created.headers["location"] == path
    assert (agreement.status, agreement.valid_from, agreement.valid_to) == (
        AgreementStatus.DRAFT,
        date(2026, 10, 1),
        None,
    )
    assert (agreement.skonto_pct, agreement.skonto_days, agreement.assortment_blocking) == (Decimal("2.00"), 7, True)
    options = await session.execute(select(PaymentOption.days, PaymentOption.price_effect_pct).order_by("days"))
    assert list(options) == [(0, Decimal("-1.00")), (60, Decimal("1.50"))]

    editor = await client.get(f"{path}/tiers")
    assert editor.status_code == 200
    assert '<option value="2026-10-01" selected>' in editor.text  # the current quarter is the default
    tiers = {
        "applies_from": "2026-10-01",
        "threshold-0": "100000",
        "rebate-0": "3",
        "threshold-1": "50000",
        "rebate-1": "2",
        "scope-2": str(world["category"].id),
        "threshold-2": "20000",
        "rebate-2": "1",
    }
    saved = await post(client, f"{path}/tiers", tiers)
    assert saved.status_code == 303, text_of(saved.text)
    rows = await session.execute(
        select(AgreementTier.category_id, AgreementTier.threshold, AgreementTier.rebate_pct).order_by(
            AgreementTier.category_id, AgreementTier.threshold
        )
    )
    assert sorted(rows, key=lambda row: (row[0] or 0, row[1])) == [
        (None, Decimal("50000.00"), Decimal("2.00")),
        (None, Decimal("100000.00"), Decimal("3.00")),
        (world["category"].id, Decimal("20000.00"), Decimal("1.00")),
    ]

    activated = await post(client, f"{path}/activate", {"confirm": "1"})
    assert activated.status_code == 303, text_of(activated.text)
    company = await session.get(Company, world["company"].id, populate_existing=True)
    assert company is not None and company.price_list_id == world["list"].id

    edited = await post(client, f"{path}/edit", {"special_terms": "Delivery within 24 h.", "valid_to": "2027-09-30"})
    assert edited.status_code == 303, text_of(edited.text)
    agreement = await only_agreement(session)
    assert (agreement.special_terms, agreement.valid_to, agreement.skonto_pct) == (
        "Delivery within 24 h.",
        date(2027, 9, 30),
        None,
    )

    ended = await post(client, f"{path}/end", {"ends_on": "2026-12-31"})
    assert ended.status_code == 303, text_of(ended.text)
    agreement = await only_agreement(session)
    assert (agreement.status, agreement.valid_to) == (AgreementStatus.ENDED, date(2026, 12, 31))
    assert agreement.ended_at is not None

    trail = await session.execute(
        select(AuditEntry.object_type, AuditEntry.action, AuditEntry.changes).order_by(AuditEntry.id)
    )
    entries = [(kind, action, changes) for kind, action, changes in trail]
    assert [(kind, action) for kind, action, _ in entries] == [
        ("agreement", "create"),
        ("agreement", "update"),
        ("agreement", "activate"),
        ("company", "update"),
        ("agreement", "update"),
        ("agreement", "end"),
    ]
    assert entries[1][2]["tiers from 2026-10-01"] == [
        None,
        "all: 50000 → 2 %; all: 100000 → 3 %; Fasteners: 20000 → 1 %",
    ]
    assert entries[3][2] == {"price_list_id": [str(world["own"].id), str(world["list"].id)]}
    assert entries[4][2]["special_terms"] == ["Delivery within 48 h.", "Delivery within 24 h."]
    assert entries[5][2] == {"status": ["active", "ended"], "valid_to": ["2027-09-30", "2026-12-31"]}

    page = text_of((await client.get(path)).text)
    assert "Agreement FA-2026-001" in page and "ended" in page
    listed = text_of((await client.get(f"/admin/agreements?company={world['company'].id}&status=ended")).text)
    assert "FA-2026-001" in listed and "Hotel Baltic" in listed


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"valid_to": "2026-09-30"}, "valid_to", "The agreement ends before it starts."),
        ({"skonto_days": ""}, "skonto_days", "A skonto needs the days within which payment earns it."),
        ({"skonto_pct": "25"}, "skonto_pct", "Enter a skonto above 0 and at most 20 %"),
        ({"days-1": "0"}, "payment_options/1/days", "0 days is already an option."),
        ({"effect-1": "51"}, "payment_options/1/price_effect_pct", "Enter a price effect from −50 to 50 %"),
        ({"skus": "SKU-BOLT\nSKU-NOPE"}, "skus", "No product has the SKU SKU-NOPE."),
        ({"number": ""}, "number", "Enter the agreement's number."),
        ({"number": "FA 2026/1"}, "number", "Use at most 40 letters, digits"),
        ({"company_id": ""}, "company_id", "Choose the company."),
    ],
)
async def test_a_bad_agreement_form_is_refused_next_to_its_field_and_nothing_is_saved(
    client: AsyncTestClient,
    session: AsyncSession,
    world: dict[str, Any],
    changes: dict[str, str],
    field: str,
    message: str,
) -> None:
    await sign_in(client, "ada@seller.example")
    refused = await post(client, "/admin/agreements/new", draft_form(world, **changes))
    assert refused.status_code == 400
    assert f'id="{field}-error"' in refused.text
    assert message in text_of(refused.text)
    assert await count(session, Agreement) == 0
    assert await count(session, PaymentOption) == 0
    assert await count(session, AuditEntry) == 0


@pytest.mark.parametrize(
    ("rows", "field", "message"),
    [
        (
            {"threshold-0": "50000", "rebate-0": "3", "threshold-1": "100000", "rebate-1": "2"},
            "tiers/1/rebate_pct",
            "Tiers are not increasing",
        ),
        (
            {"threshold-0": "50000", "rebate-0": "2", "threshold-3": "50000", "rebate-3": "3"},
            "tiers/3/threshold",
            "Tiers are not increasing",
        ),
        ({"threshold-0": "50000", "rebate-0": "100.01"}, "tiers/0/rebate_pct", "at most 100 %"),
        ({"threshold-0": "0", "rebate-0": "2"}, "tiers/0/threshold", "Enter a threshold above 0"),
        ({"threshold-2": "50000"}, "tiers/2/rebate_pct", "Enter both the threshold and the rebate %"),
        ({"threshold-0": "lots", "rebate-0": "2"}, "tiers/0/threshold", "Enter an amount such as 1250.00."),
    ],
)
async def test_tiers_that_are_not_increasing_or_out_of_range_are_refused_and_nothing_is_saved(
    client: AsyncTestClient,
    session: AsyncSession,
    world: dict[str, Any],
    rows: dict[str, str],
    field: str,
    message: str,
) -> None:
    agreement = await make_agreement(session, world["company"], status=AgreementStatus.DRAFT, number="FA-1")
    await session.commit()
    await sign_in(client, "ada@seller.example")
    refused = await post(client, f"/admin/agreements/{agreement.id}/tiers", {"applies_from": "2026-10-01", **rows})
    assert refused.status_code == 400
    assert f'id="{field}-error"' in refused.text
    assert message in text_of(refused.text)
    assert await count(session, AgreementTier) == 0
    assert await count(session, AuditEntry) == 0


async def test_the_tiers_of_a_closed_period_are_refused_and_the_next_period_may_change(
    client: AsyncTestClient, session: AsyncSession, world: dict[str, Any]
) -> None:
    agreement = await make_agreement(
        session, world["company"], number="FA-1", tiers=[("50000", "2")], closed_through=date(2026, 9, 30)
    )
    await session.commit()
    await sign_in(client, "ada@seller.example")
    path = f"/admin/agreements/{agreement.id}/tiers"
    refused = await post(client, path, {"applies_from": "2026-07-01", "threshold-0": "40000", "rebate-0": "2"})
    assert refused.status_code == 400
    assert "Period 2026-07-01 – 2026-09-30 is closed; tiers can change from 2026-10-01." in text_of(refused.text)
    assert 'value="2026-07-01"' not in (await client.get(path)).text  # a closed period is not offered

    saved = await post(client, path, {"applies_from": "2026-10-01", "threshold-0": "40000", "rebate-0": "2.5"})
    assert saved.status_code == 303
    rows = await session.execute(
        select(AgreementTier.applies_from, AgreementTier.threshold, AgreementTier.rebate_pct).order_by(
            AgreementTier.applies_from
        )
    )
    assert list(rows) == [
        (date(2026, 1, 1), Decimal("50000.00"), Decimal("2.00")),
        (date(2026, 10, 1), Decimal("40000.00"), Decimal("2.50")),
    ]


async def test_activation_is_refused_while_another_agreement_overlaps_or_is_active(
    client: AsyncTestClient, session: AsyncSession, world: dict[str, Any]
) -> None:
    company = world["company"]
    await make_agreement(session, company, number="FA-OLD", status=AgreementStatus.ENDED, valid_to=date(2026, 6, 30))
    overlapping = await make_agreement(
        session, company, number="FA-NEW", status=AgreementStatus.DRAFT, valid_from=date(2026, 6, 1)
    )
    later = await make_agreement(
        session, company, number="FA-LATER", status=AgreementStatus.DRAFT, valid_from=date(2026, 7, 1)
    )
    other = await make_agreement(
        session, company, number="FA-OTHER", status=AgreementStatus.DRAFT, valid_from=date(2027, 1, 1)
    )
    await session.commit()
    await sign_in(client, "ada@seller.example")

    refused = await post(client, f"/admin/agreements/{overlapping.id}/activate", {"confirm": "1"})
    assert refused.status_code == 400
    assert "The validity overlaps agreement FA-OLD of this company" in text_of(refused.text)

    assert (await post(client, f"/admin/agreements/{later.id}/activate", {"confirm": "1"})).status_code == 303
    second = await post(client, f"/admin/agreements/{other.id}/activate", {"confirm": "1"})
    assert second.status_code == 400
    assert "Agreement FA-LATER of this company is active: end it first." in text_of(second.text)

    statuses = dict(list(await session.execute(select(Agreement.number, Agreement.status))))
    assert statuses == {
        "FA-OLD": AgreementStatus.ENDED,
        "FA-NEW": AgreementStatus.DRAFT,
        "FA-LATER": AgreementStatus.ACTIVE,
        "FA-OTHER": AgreementStatus.DRAFT,
    }


async def test_an_active_agreement_keeps_its_draft_only_fields(
    client: AsyncTestClient, session: AsyncSession, world: dict[str, Any], frozen_clock: Clock
) -> None:
    agreement = await make_agreement(session, world["company"], number="FA-1")
    await session.commit()
    await sign_in(client, "ada@seller.example")
    form = (await client.get(f"/admin/agreements/{agreement.id}/edit")).text
    assert 'name="number"' not in form and 'name="basics"' not in form
    refused = await post(
        client, f"/admin/agreements/{agreement.id}/edit", draft_form(world, number="FA-2", valid_to="")
    )
    assert refused.status_code == 400
    assert "This can change only while the agreement is a draft." in text_of(refused.text)
    assert (await session.scalars(select(Agreement.number))).one() == "FA-1"


async def test_only_admins_open_the_agreement_pages(
    client: AsyncTestClient, session: AsyncSession, world: dict[str, Any]
) -> None:
    await sign_in(client, "max@seller.example")
    assert (await client.get("/admin/agreements")).status_code == 403
    assert (await client.get("/admin/agreements/new")).status_code == 403


async def test_the_new_form_takes_its_company_from_the_query(
    client: AsyncTestClient, session: AsyncSession, world: dict[str, Any]
) -> None:
    await sign_in(client, "ada@seller.example")
    chosen = await client.get(f"/admin/agreements/new?company={world['company'].id}")
    assert f'<option value="{world["company"].id}" selected>' in chosen.text
    assert (await client.get("/admin/agreements/new?company=abc")).status_code == 400
