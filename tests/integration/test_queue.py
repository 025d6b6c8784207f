"""The queue and the customer page over HTTP: the role matrix for every URL, inline
decisions, refused forms shown again with the message next to the field, bulk approval,
out-of-office cover, and the buyer reading the decision."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from portal import clock
from portal.models import (
    AssortmentItem,
    Deputy,
    FlagKind,
    Order,
    OrderEvent,
    OrderLine,
    OrderStatus,
    ProductCategory,
    Role,
)
from tests.factories import (
    csrf_from,
    make_agreement,
    make_company,
    make_counted_order,
    make_invoice,
    make_order,
    make_product,
    make_user,
    sign_in,
    text_of,
)
from tests.queries import counted_statements


@pytest.fixture
async def world(session: AsyncSession) -> dict:
    manager = await make_user(session, Role.ACCOUNT_MANAGER, full_name="Anna Kowalska", email="anna@seller.example")
    other_manager = await make_user(session, Role.ACCOUNT_MANAGER, email="piotr@seller.example")
    finance = await make_user(session, Role.FINANCE, email="fin@seller.example")
    admin = await make_user(session, Role.ADMIN, email="admin@seller.example")
    company = await make_company(
        session, name="Northwind Trading", account_manager_id=manager.id, credit_limit=Decimal("5000.00")
    )
    buyer = await make_user(session, company_id=company.id, email="nina@northwind.example")
    await make_order(
        session,
        company,
        gross="80.00",
        buyer=buyer,
        status=OrderStatus.INVOICED,
        submitted_at=datetime(2026, 1, 5, tzinfo=UTC),
    )  # Northwind has ordered before
    order = await make_order(session, company, gross="300.00", buyer=buyer)
    await session.commit()
    return {
        "manager": manager,
        "other_manager": other_manager,
        "finance": finance,
        "admin": admin,
        "company": company,
        "buyer": buyer,
        "order": order,
    }


def figures(html: str) -> dict[str, str]:
    """The credit box's figures, by name, as the page shows them."""
    return {name: text_of(value) for name, value in re.findall(r'data-figure="(\w+)"[^>]*>(.*?)</dd>', html)}


async def token(client: AsyncTestClient) -> str:
    return csrf_from((await client.get("/login", follow_redirects=True)).text)


MATRIX = {
    # who: (queue list, review page, approve/reject, customer page, a note on it)
    "manager": (200, 200, 303, 200, 303),
    "other_manager": (200, 404, 404, 404, 404),  # another manager's customer is not there for them
    "finance": (403, 200, 403, 200, 303),
    "admin": (200, 200, 303, 200, 303),
    "buyer": (403, 403, 403, 403, 403),
}


@pytest.mark.parametrize("who", list(MATRIX))
async def test_role_matrix(client: AsyncTestClient, world: dict, who: str) -> None:
    await sign_in(client, world[who].email)
    order, company = world["order"], world["company"]
    queue, review, decide, customer, note = MATRIX[who]
    assert (await client.get("/queue")).status_code == queue
    assert (await client.get(f"/queue/orders/{order.id}")).status_code == review
    assert (await client.get(f"/customers/{company.id}")).status_code == customer
    csrf = await token(client)
    response = await client.post(
        f"/queue/orders/{order.id}/reject", data={"reason": "test", "_csrf_token": csrf}, follow_redirects=False
    )
    assert response.status_code == decide
    posted = await client.post(
        f"/customers/{company.id}/notes", data={"body": "hello", "_csrf_token": csrf}, follow_redirects=False
    )
    assert posted.status_code == note


async def test_other_managers_queue_does_not_show_my_orders(client: AsyncTestClient, world: dict) -> None:
    await sign_in(client, world["other_manager"].email)
    page = await client.get("/queue")
    assert world["order"].number not in page.text and "Nothing waits for your decision." in text_of(page.text)
    assert 'id="queue-count">0<' in page.text


async def test_unknown_order_and_customer_are_404(client: AsyncTestClient, world: dict) -> None:
    await sign_in(client, world["manager"].email)
    assert (await client.get("/queue/orders/987654")).status_code == 404
    assert (await client.get("/customers/987654")).status_code == 404
    csrf = await token(client)
    assert (await client.post("/queue/orders/987654/approve", data={"_csrf_token": csrf})).status_code == 404


async def test_approve_inline_with_htmx_and_the_buyer_reads_it(client: AsyncTestClient, world: dict) -> None:
    await sign_in(client, world["manager"].email)
    page = await client.get("/queue")
    assert world["order"].number in page.text and 'id="queue-count">1<' in page.text
    fragment = await client.post(
        f"/queue/orders/{world['order'].id}/approve",
        data={"note": "Ships Tuesday", "_csrf_token": csrf_from(page.text)},
        headers={"hx-request": "true"},
    )
    assert fragment.status_code == 200 and "<html" not in fragment.text
    assert "Approved · Anna Kowalska" in text_of(fragment.text) and "Ships Tuesday" in text_of(fragment.text)

    again = await client.post(
        f"/queue/orders/{world['order'].id}/approve",
        data={"_csrf_token": csrf_from(page.text)},
        headers={"hx-request": "true"},
    )
    assert "Nothing was changed: this order was already set to “Approved” by Anna Kowalska" in text_of(again.text)

    client.cookies.clear()
    await sign_in(client, "nina@northwind.example")
    order_page = text_of((await client.get(f"/orders/{world['order'].id}")).text)
    assert "Approved" in order_page and "Ships Tuesday" in order_page


async def test_rejection_without_a_reason_is_refused_by_the_field(
    client: AsyncTestClient, world: dict, session: AsyncSession
) -> None:
    await sign_in(client, world["manager"].email)
    page = await client.get(f"/queue/orders/{world['order'].id}")
    refused = await client.post(
        f"/queue/orders/{world['order'].id}/reject", data={"reason": " ", "_csrf_token": csrf_from(page.text)}
    )
    assert refused.status_code == 400 and "Give the buyer a reason for the rejection." in text_of(refused.text)
    done = await client.post(
        f"/queue/orders/{world['order'].id}/reject",
        data={"reason": "Out of stock until January", "_csrf_token": csrf_from(page.text)},
        follow_redirects=False,
    )
    assert done.headers["location"] == "/queue"
    await session.refresh(world["order"])
    assert world["order"].status is OrderStatus.REJECTED


async def test_blocked_order_shows_the_reason_instead_of_the_button(
    client: AsyncTestClient, world: dict, session: AsyncSession
) -> None:
    big = await make_order(session, world["company"], gross="9000.00", buyer=world["buyer"])
    await session.commit()
    await sign_in(client, world["manager"].email)
    page = await client.get(f"/queue/orders/{big.id}")
    text = text_of(page.text)
    # the other waiting order (300.00) counts in the exposure; the page and the blocker show the same figures
    assert (
        "Cannot be approved now: Exceeds available credit by PLN 4,300.00 (available PLN 4,700.00, order PLN 9,000.00)."
        in text
    )
    assert figures(page.text) == {
        "limit": "PLN 5,000.00",
        "exposure": "PLN 300.00",
        "before": "PLN 4,700.00",
        "order": "PLN 9,000.00",
        "after": "-PLN 4,300.00",
    }
    assert 'id="approve"' not in page.text
    forced = await client.post(f"/queue/orders/{big.id}/approve", data={"_csrf_token": csrf_from(page.text)})
    assert forced.status_code == 409
    await session.refresh(big)
    assert big.status is OrderStatus.PENDING_APPROVAL


async def test_bulk_approve(client: AsyncTestClient, world: dict, session: AsyncSession) -> None:
    second = await make_order(session, world["company"], gross="100.00", buyer=world["buyer"])
    await session.commit()
    await sign_in(client, world["manager"].email)
    page = await client.get("/queue")
    response = await client.post(
        "/queue/bulk-approve",
        data={"order_ids": [str(world["order"].id), str(second.id)], "_csrf_token": csrf_from(page.text)},
    )
    assert "Approved:" in text_of(response.text) and "Nothing waits for your decision." in text_of(response.text)
    ids = [world["order"].id, second.id]
    session.expire_all()
    statuses = {(await session.get(Order, order_id)).status for order_id in ids}  # type: ignore[union-attr]
    assert statuses == {OrderStatus.APPROVED}


async def test_customer_page_notes_and_reassignment(
    client: AsyncTestClient, world: dict, session: AsyncSession
) -> None:
    await sign_in(client, world["manager"].email)
    company = world["company"]
    page = await client.get(f"/customers/{company.id}")
    assert "Northwind Trading" in page.text and "nina@northwind.example" in page.text and "<svg" in page.text
    empty = await client.post(f"/customers/{company.id}/notes", data={"body": "", "_csrf_token": csrf_from(page.text)})
    assert empty.status_code == 400 and 'id="note-error"' in empty.text
    saved = await client.post(
        f"/customers/{company.id}/notes",
        data={"body": "Agreed 2% extra from January", "_csrf_token": csrf_from(page.text)},
    )
    assert "Agreed 2% extra from January" in saved.text and "Note saved." in text_of(saved.text)
    refused = await client.post(
        f"/customers/{company.id}/manager",
        data={"manager_id": str(world["other_manager"].id), "_csrf_token": csrf_from(page.text)},
    )
    assert refused.status_code == 403

    client.cookies.clear()
    await sign_in(client, world["admin"].email)
    page = await client.get(f"/customers/{company.id}")
    await client.post(
        f"/customers/{company.id}/manager",
        data={"manager_id": str(world["other_manager"].id), "_csrf_token": csrf_from(page.text)},
    )
    await session.refresh(company)
    assert company.account_manager_id == world["other_manager"].id


async def test_queue_and_customer_posts_need_the_csrf_token(client: AsyncTestClient, world: dict) -> None:
    await sign_in(client, world["admin"].email)
    order, company = world["order"], world["company"]
    for path in [
        f"/queue/orders/{order.id}/approve",
        f"/queue/orders/{order.id}/reject",
        "/queue/bulk-approve",
        f"/customers/{company.id}/notes",
        f"/customers/{company.id}/manager",
    ]:
        assert (await client.post(path, data={"reason": "x"})).status_code == 403, path


async def test_the_queue_lists_each_order_with_its_flags_now_in_words(
    client: AsyncTestClient, world: dict, session: AsyncSession
) -> None:
    big = await make_order(session, world["company"], gross="9000.00", buyer=world["buyer"])
    await session.commit()
    await sign_in(client, world["manager"].email)
    page = await client.get("/queue")
    row = re.search(rf'<tr data-order="{big.number}">.*?</tr>', page.text, re.S)
    assert row is not None
    assert "Exceeds available credit by PLN 4,300.00 (available PLN 4,700.00, order PLN 9,000.00)." in text_of(
        row.group(0)
    )
    assert 'name="order_ids"' not in row.group(0)  # flagged orders are reviewed one by one
    only = await client.get("/queue", params={"flag": "exceeds_credit"})
    # both exceed: every waiting order of Northwind counts against the other
    assert big.number in only.text and world["order"].number in only.text
    assert world["order"].number not in (await client.get("/queue", params={"flag": "past_due"})).text


PAGE_BUDGET = 6
"""Statements a main page may cost, the signed-in visitor's included, however much it shows."""


def seller_today() -> date:
    return clock.today(ZoneInfo("Europe/Warsaw"))


async def _covering(session: AsyncSession, world: dict) -> None:
    """Piotr is away: Anna covers his customers today."""
    today = seller_today()
    session.add(
        Deputy(
            manager_id=world["other_manager"].id,
            deputy_id=world["manager"].id,
            starts_on=today - timedelta(days=1),
            ends_on=today + timedelta(days=2),
        )
    )
    await session.commit()


async def _add_lines(session: AsyncSession, order: Order, count: int) -> None:
    """`count` more lines on `order`, each of a product of its own category."""
    for _ in range(count):
        product = await make_product(session)
        session.add(
            OrderLine(
                order_id=order.id,
                company_id=order.company_id,
                product_id=product.id,
                sku=product.sku,
                name=product.name,
                unit=product.unit,
                quantity=2,
                unit_price=Decimal("5.0000"),
                price_source="list_less_discount",
                unit_cost=Decimal("4.0000"),
                vat_rate=Decimal("0.00"),
                line_net=Decimal("10.00"),
            )
        )
    await session.commit()


@pytest.mark.parametrize("who", ["manager", "admin"])
async def test_the_queue_costs_the_same_few_statements_however_long(
    client: AsyncTestClient, world: dict, session: AsyncSession, who: str
) -> None:
    await _covering(session, world)
    await sign_in(client, world[who].email)
    await client.get("/queue")
    with counted_statements(client.app) as short:
        assert (await client.get("/queue")).status_code == 200
    for index in range(4):
        manager = world["manager"] if index % 2 else world["other_manager"]  # covered ones too
        other = await make_company(session, name=f"Firm {index}", account_manager_id=manager.id)
        await make_invoice(session, other, gross="100.00", due=date(2026, 1, 1))
        await make_agreement(session, other, tiers=[("1000.00", "2.00")])
        for _ in range(3):
            order = await make_order(session, other, gross="50.00", flags=[(FlagKind.FIRST_ORDER, {})])
        await _add_lines(session, order, 5)
    await session.commit()
    with counted_statements(client.app) as long:
        page = await client.get("/queue")
    assert page.text.count("<tr data-order=") == 13
    assert len(long) == len(short) <= PAGE_BUDGET


@pytest.mark.parametrize("who", ["manager", "admin"])
async def test_the_review_page_costs_the_same_few_statements_however_many_lines(
    client: AsyncTestClient, world: dict, session: AsyncSession, who: str
) -> None:
    """The heaviest case: a covered customer with an agreement (tiers and an agreed assortment),
    overdue invoices, earlier orders and flags at submission; the deputy decides on Piotr's behalf."""
    await _covering(session, world)
    company = await make_company(session, name="Harbour Hotels", account_manager_id=world["other_manager"].id)
    category = ProductCategory(name="Glassware")
    agreement = await make_agreement(session, company, tiers=[("100.00", "2.00"), ("5000.00", "3.00")])
    session.add(AssortmentItem(agreement_id=agreement.id, company_id=company.id, category=category))
    overdue = [await make_invoice(session, company, gross=gross, due=date(2026, 1, 1)) for gross in ("100.00", "40.00")]
    for day in (3, 4):
        await make_counted_order(session, company, net="80.00", approved_at=datetime(2026, 11, day, 10, tzinfo=UTC))
    order = await make_order(
        session, company, gross="300.00", flags=[(FlagKind.PRICE_CHANGED, {"sku": "X", "old": "1.00", "new": "1.20"})]
    )
    await session.commit()
    await sign_in(client, world[who].email)
    url = f"/queue/orders/{order.id}"
    await client.get(url)
    with counted_statements(client.app) as few:
        first = await client.get(url)
    await _add_lines(session, order, 12)
    with counted_statements(client.app) as many:
        page = await client.get(url)
    assert first.status_code == page.status_code == 200
    assert page.text.count("<tr data-sku=") == 13 and 'id="margin-after-terms"' in page.text
    assert all(invoice.number in page.text for invoice in overdue)
    assert page.text.count('<li><a href="/queue/orders/') == 2  # the last orders
    deputy_note = f"You decide on behalf of {world['other_manager'].full_name}."
    assert (deputy_note in page.text) is (who == "manager")
    assert len(many) == len(few) <= PAGE_BUDGET


async def test_the_manager_home_costs_at_most_six_statements_with_a_cover_in_force(
    client: AsyncTestClient, world: dict, session: AsyncSession
) -> None:
    await _covering(session, world)
    await sign_in(client, world["manager"].email)
    await client.get("/manager")
    with counted_statements(client.app) as statements:
        assert (await client.get("/manager")).status_code == 200
    assert len(statements) <= PAGE_BUDGET


async def test_bad_queue_filters_answer_400_and_bad_ids_404(client: AsyncTestClient, world: dict) -> None:
    await sign_in(client, world["admin"].email)
    for params in ({"company": "²"}, {"company": "0"}, {"manager": "99999999999"}, {"flag": "nonsense"}):
        assert (await client.get("/queue", params=params)).status_code == 400, params
    assert (
        await client.get("/queue", params={"company": str(world["company"].id), "flag": "first_order"})
    ).status_code == 200
    assert (await client.get("/queue/orders/99999999999")).status_code == 404
    csrf = await token(client)
    assert (await client.post("/queue/orders/0/approve", data={"_csrf_token": csrf})).status_code == 404
    client.cookies.clear()
    await sign_in(client, world["manager"].email)
    csrf = await token(client)
    assert (await client.post("/queue/cover/99999999999/end", data={"_csrf_token": csrf})).status_code == 404
    assert (await client.post("/queue/cover/12345/end", data={"_csrf_token": csrf})).status_code == 404


async def test_a_refused_approval_shows_the_form_again_with_the_note_kept(
    client: AsyncTestClient, world: dict, session: AsyncSession
) -> None:
    await sign_in(client, world["manager"].email)
    order = world["order"]
    csrf = csrf_from((await client.get(f"/queue/orders/{order.id}")).text)
    too_long = await client.post(f"/queue/orders/{order.id}/approve", data={"note": "x" * 2001, "_csrf_token": csrf})
    assert too_long.status_code == 400
    assert re.search(r'id="note-error" role="alert">Use at most 2,000 characters.<', too_long.text)
    assert 'value="' + "x" * 2001 + '"' in too_long.text

    first_time = await make_company(session, name="Newcomer", account_manager_id=world["manager"].id)
    fresh = await make_order(session, first_time, gross="20.00")
    await session.commit()
    unconfirmed = await client.post(
        f"/queue/orders/{fresh.id}/approve", data={"note": "Welcome aboard", "_csrf_token": csrf}
    )
    assert unconfirmed.status_code == 400
    assert 'id="confirm_warnings-error" role="alert">Confirm that you have reviewed the warnings.<' in unconfirmed.text
    assert 'value="Welcome aboard"' in unconfirmed.text and "First order of this company." in unconfirmed.text
    ids = [order.id, fresh.id]
    assert (
        list(await session.scalars(select(Order.status).where(Order.id.in_(ids)))) == [OrderStatus.PENDING_APPROVAL] * 2
    )
    assert await session.scalar(select(func.count()).select_from(OrderEvent).where(OrderEvent.order_id.in_(ids))) == 2

    confirmed = await client.post(
        f"/queue/orders/{fresh.id}/approve",
        data={"note": "Welcome aboard", "confirm_warnings": "yes", "_csrf_token": csrf},
        follow_redirects=False,
    )
    assert confirmed.status_code == 303


async def test_a_refused_rejection_keeps_the_reason_next_to_its_field(
    client: AsyncTestClient, world: dict, session: AsyncSession
) -> None:
    await sign_in(client, world["manager"].email)
    order = world["order"]
    csrf = csrf_from((await client.get(f"/queue/orders/{order.id}")).text)
    blank = await client.post(f"/queue/orders/{order.id}/reject", data={"reason": "", "_csrf_token": csrf})
    assert blank.status_code == 400
    assert 'id="reason-error" role="alert">Give the buyer a reason for the rejection.<' in blank.text
    nul = await client.post(f"/queue/orders/{order.id}/reject", data={"reason": "Out\x00of stock", "_csrf_token": csrf})
    assert nul.status_code == 400 and 'id="reason-error"' in nul.text
    htmx = await client.post(
        f"/queue/orders/{order.id}/reject", data={"reason": "  ", "_csrf_token": csrf}, headers={"hx-request": "true"}
    )
    assert htmx.status_code == 200 and "<html" not in htmx.text and 'id="reason-error"' in htmx.text
    await session.refresh(order)
    assert order.status is OrderStatus.PENDING_APPROVAL


async def test_deciding_an_order_decided_meanwhile_answers_409(
    client: AsyncTestClient, world: dict, session: AsyncSession
) -> None:
    await sign_in(client, world["admin"].email)
    order = world["order"]
    csrf = csrf_from((await client.get(f"/queue/orders/{order.id}")).text)
    await client.post(f"/queue/orders/{order.id}/reject", data={"reason": "Duplicate", "_csrf_token": csrf})
    again = await client.post(f"/queue/orders/{order.id}/approve", data={"_csrf_token": csrf})
    assert again.status_code == 409
    assert "Nothing was changed: this order was already set to “Rejected” by" in text_of(again.text)
    assert 'id="decided"' in again.text


async def test_bulk_approval_names_each_blocker_with_its_numbers(
    client: AsyncTestClient, world: dict, session: AsyncSession
) -> None:
    other = await make_company(
        session, name="Baltic Foods", account_manager_id=world["manager"].id, credit_limit=Decimal("1000.00")
    )
    await make_order(session, other, gross="5.00", status=OrderStatus.INVOICED)
    big = await make_order(session, other, gross="2234.00")
    await session.commit()
    await sign_in(client, world["manager"].email)
    csrf = await token(client)
    response = await client.post(
        "/queue/bulk-approve", data={"order_ids": [str(world["order"].id), str(big.id)], "_csrf_token": csrf}
    )
    text = text_of(response.text)
    assert f"Approved: {world['order'].number}." in text
    assert (
        f"{big.number} not approved: Exceeds available credit by PLN 1,234.00 "
        "(available PLN 1,000.00, order PLN 2,234.00)."
    ) in text
    none = await client.post("/queue/bulk-approve", data={"_csrf_token": csrf}, headers={"referer": "/queue"})
    assert "Choose the orders to approve." in text_of(none.text)
    bad = await client.post(
        "/queue/bulk-approve", data={"order_ids": ["1", "²"], "_csrf_token": csrf}, headers={"referer": "/queue"}
    )
    assert bad.status_code == 200 and "Choose from the list." in text_of(bad.text)
    await session.refresh(big)
    assert big.status is OrderStatus.PENDING_APPROVAL


async def test_naming_a_deputy_shows_refusals_next_to_the_fields(
    client: AsyncTestClient, world: dict, session: AsyncSession
) -> None:
    await sign_in(client, world["manager"].email)
    page = await client.get("/queue/cover")
    assert page.status_code == 200
    csrf = csrf_from(page.text)
    refused = await client.post(
        "/queue/cover",
        data={
            "deputy_id": str(world["other_manager"].id),
            "starts_on": "9999-12-31",
            "ends_on": "2026-12-24",
            "_csrf_token": csrf,
        },
    )
    assert refused.status_code == 400
    assert 'id="starts_on-error" role="alert">Enter a date between 2000 and 2100.<' in refused.text
    assert 'value="9999-12-31"' in refused.text and 'value="2026-12-24"' in refused.text
    assert f'<option value="{world["other_manager"].id}" selected>' in refused.text
    no_day = await client.post(
        "/queue/cover", data={"starts_on": "2026-12-20", "ends_on": "2026-02-30", "_csrf_token": csrf}
    )
    assert 'id="ends_on-error" role="alert">This day does not exist.<' in no_day.text
    over = await client.post(
        "/queue/cover",
        data={
            "deputy_id": str(world["finance"].id),
            "starts_on": "2020-01-01",
            "ends_on": "2020-01-05",
            "_csrf_token": csrf,
        },
    )
    assert over.status_code == 400
    assert 'id="deputy_id-error" role="alert">Choose another account manager.<' in over.text
    assert 'id="ends_on-error" role="alert">The absence is already over.<' in over.text
    assert await session.scalar(select(func.count()).select_from(Deputy)) == 0

    today = date.today()
    named = await client.post(
        "/queue/cover",
        data={
            "deputy_id": str(world["other_manager"].id),
            "starts_on": today.isoformat(),
            "ends_on": (today + timedelta(days=3)).isoformat(),
            "_csrf_token": csrf,
        },
        follow_redirects=False,
    )
    assert named.status_code == 303 and named.headers["location"] == "/queue/cover"
    cover_id = await session.scalar(select(Deputy.id))
    shown = await client.get("/queue/cover")
    assert f'action="/queue/cover/{cover_id}/end"' in shown.text

    client.cookies.clear()
    await sign_in(client, world["other_manager"].email)
    csrf = await token(client)
    assert world["order"].number in (await client.get("/queue")).text  # the deputy works the queue
    assert (await client.post(f"/queue/cover/{cover_id}/end", data={"_csrf_token": csrf})).status_code == 404
    assert await session.scalar(select(func.count()).select_from(Deputy)) == 1
