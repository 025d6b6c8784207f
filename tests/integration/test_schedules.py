"""Recurring deliveries and their e-mails over HTTP: a buyer saves a schedule after seeing its
dates, the worker orders it, the account manager is told and approves, the buyer hears the decision."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal

import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from portal.models import (
    Address,
    DeliverySchedule,
    Deputy,
    NotificationKind,
    NotificationOptOut,
    Order,
    Role,
    ScheduleLine,
    ScheduleOccurrence,
)
from portal.services import lists
from portal.services.cart import add_to_cart, buyer_cart
from portal.services.notifications import SmtpSender, deliver_pending
from portal.services.ordering import CheckoutForm, submit_order
from portal.services.recurring import run_pass
from tests.factories import csrf_from, make_company, make_product, make_schedule, make_user, sign_in, text_of
from tests.smtp import Inbox

TODAY = date(2026, 11, 27)


@pytest.fixture
async def hotel(session: AsyncSession, frozen_clock) -> dict:  # type: ignore[no-untyped-def]
    manager = await make_user(session, Role.ACCOUNT_MANAGER, email="anna@seller.example", full_name="Anna Kowalska")
    deputy = await make_user(session, Role.ACCOUNT_MANAGER, email="piotr@seller.example")
    session.add(Deputy(manager_id=manager.id, deputy_id=deputy.id, starts_on=TODAY, ends_on=TODAY))
    company = await make_company(session, name="Vistula Hotels", account_manager_id=manager.id)
    session.add(
        Address(
            company_id=company.id,
            label="Hotel",
            street="Wiślana 1",
            postal_code="00-001",
            city="Warszawa",
            is_default=True,
        )
    )
    buyer = await make_user(session, company_id=company.id, email="ewa@vistula.example")
    other = await make_user(
        session, company_id=(await make_company(session, name="Baltic Foods")).id, email="bart@baltic.example"
    )
    towels = await make_product(session, sku="TWL-1", name="Towels", list_price=Decimal("10.0000"))
    await session.refresh(buyer, ["company"])
    linen = await lists.create_list(session, buyer, "Linen", lines={towels.id: 20}, today=TODAY)
    await session.commit()
    return {
        "manager": manager,
        "deputy": deputy,
        "company": company,
        "buyer": buyer,
        "list": linen,
        "other": other,
        "towels": towels,
    }


def sender(server) -> SmtpSender:  # type: ignore[no-untyped-def]
    return SmtpSender("127.0.0.1", server.port, "portal@seller.example")


async def test_a_schedule_is_ordered_approved_and_both_sides_are_told(
    client: AsyncTestClient,
    hotel: dict,
    session: AsyncSession,
    engine: AsyncEngine,
    smtp_server,  # type: ignore[no-untyped-def]
) -> None:
    await sign_in(client, "ewa@vistula.example")
    params = {
        "source": "list",
        "source_id": str(hotel["list"].id),
        "name": "Weekly linen",
        "frequency": "weekly",
        "interval_weeks": "1",
        "first_delivery": "2026-12-04",
        "lead_days": "2",
    }
    form = await client.get("/schedules/new", params={"source": "list", "source_id": str(hotel["list"].id)})
    assert '<form method="post" action="/schedules"' in form.text  # the CSRF token never travels in a URL
    preview = await client.post("/schedules", data={**params, "preview": "1", "_csrf_token": csrf_from(form.text)})
    assert preview.status_code == 200 and await session.scalar(select(DeliverySchedule.id)) is None
    assert (
        "Next five deliveries 4 Dec 2026 11 Dec 2026 18 Dec 2026"
        " 28 Dec 2026 (moved from Fri 25 Dec) 4 Jan 2027 (moved from Fri 1 Jan)"  # Christmas Day, New Year's Day
    ) in text_of(preview.text)
    too_soon = await client.post(
        "/schedules",
        data={
            **params,
            "first_delivery": "2026-11-30",
            "lead_days": "4",
            "preview": "1",
            "_csrf_token": csrf_from(form.text),
        },
    )
    assert "Next five deliveries 7 Dec 2026 14 Dec 2026" in text_of(too_soon.text)  # 30 Nov: ordered yesterday
    address = await session.scalar(select(Address.id).where(Address.company_id == hotel["company"].id))
    saved = await client.post(
        "/schedules", data={**params, "address_id": str(address), "_csrf_token": csrf_from(preview.text)}
    )
    assert "Recurring delivery “Weekly linen” saved." in text_of(saved.text)
    assert "Weekly linen" in text_of((await client.get("/dashboard")).text)

    maker = async_sessionmaker(engine, expire_on_commit=False)
    assert (await run_pass(maker, date(2026, 12, 2))).generated == 1
    await deliver_pending(maker, sender(smtp_server))
    (told,) = smtp_server.inbox.to("anna@seller.example")
    order = await session.scalar(select(Order))
    assert order is not None and "Weekly linen" in told["Subject"] and order.number in told["Subject"]
    assert f"http://localhost:8000/queue/orders/{order.id}" in Inbox.text(told)
    page = await client.get(f"/orders/{order.id}")
    assert "From the recurring delivery Weekly linen" in text_of(page.text)
    assert order.note == "Weekly linen"  # the schedule's name is stored; the page words it
    assert "Note: Recurring delivery “Weekly linen”" in text_of(page.text)
    shown = await client.get(f"/schedules/{await session.scalar(select(DeliverySchedule.id))}")
    assert f'<a href="/orders/{order.id}">order</a>' in shown.text
    assert "Past deliveries 4 Dec 2026: ordered · order" in text_of(shown.text)

    await client.get("/logout")
    client.cookies.clear()
    await sign_in(client, "anna@seller.example")
    review = await client.get(f"/queue/orders/{order.id}")
    approved = await client.post(
        f"/queue/orders/{order.id}/approve",
        data={"note": "", "confirm_warnings": "yes", "_csrf_token": csrf_from(review.text)},
    )
    assert approved.status_code == 200 and f"Order {order.number} approved." in text_of(approved.text)
    await deliver_pending(maker, sender(smtp_server))
    decision = [m for m in smtp_server.inbox.to("ewa@vistula.example") if "approved" in m["Subject"]]
    assert len(decision) == 1 and f"/orders/{order.id}" in Inbox.text(decision[0])


async def test_another_companys_schedule_is_404_for_every_url(
    client: AsyncTestClient, hotel: dict, session: AsyncSession
) -> None:
    plan = await make_schedule(
        session,
        hotel["company"],
        [(hotel["towels"], 5)],
        first=date(2026, 12, 4),
        created_by=hotel["buyer"],
        today=TODAY,
    )
    await session.commit()
    await sign_in(client, "bart@baltic.example")
    token = csrf_from((await client.get("/schedules")).text)
    assert "Weekly linen" not in (await client.get("/schedules")).text
    assert (await client.get(f"/schedules/{plan.id}")).status_code == 404
    assert (
        await client.get("/schedules/new", params={"source": "list", "source_id": hotel["list"].id})
    ).status_code == 404
    assert (await client.get(f"/schedules/{plan.id}/edit")).status_code == 404
    for path in ["pause", "resume", "skip", "unskip", "edit", "lines", "delete", f"lines/{plan.lines[0].id}"]:
        response = await client.post(
            f"/schedules/{plan.id}/{path}",
            data={
                "delivery_date": "2026-12-04",
                "quantity": "1",
                "sku": "TWL-1",
                "name": "Mine",
                "first_delivery": "2026-12-08",
                "_csrf_token": token,
            },
        )
        assert response.status_code == 404, path
    assert (await client.post(f"/schedules/{plan.id}/pause")).status_code == 403  # no CSRF token


async def test_pause_skip_edit_and_delete_over_http(
    client: AsyncTestClient, hotel: dict, session: AsyncSession
) -> None:
    plan = await make_schedule(
        session,
        hotel["company"],
        [(hotel["towels"], 5)],
        first=date(2026, 12, 4),
        created_by=hotel["buyer"],
        today=TODAY,
    )
    await session.commit()
    await sign_in(client, "ewa@vistula.example")
    page = await client.get(f"/schedules/{plan.id}")
    token = csrf_from(page.text)
    skipped = await client.post(
        f"/schedules/{plan.id}/skip", data={"delivery_date": "2026-12-04", "_csrf_token": token}
    )
    assert "That delivery will be skipped." in text_of(skipped.text)
    assert "4 Dec 2026 Skip" not in text_of(skipped.text.split('id="upcoming"')[1].split("</ul>")[0])
    edited = await client.post(
        f"/schedules/{plan.id}/lines/{plan.lines[0].id}", data={"quantity": "8", "_csrf_token": token}
    )
    assert 'value="8"' in edited.text
    paused = await client.post(f"/schedules/{plan.id}/pause", data={"_csrf_token": token})
    assert "Paused: nothing is ordered until you resume." in text_of(paused.text)
    resumed = await client.post(f"/schedules/{plan.id}/resume", data={"_csrf_token": token})
    assert "Resumed." in text_of(resumed.text)
    deleted = await client.post(f"/schedules/{plan.id}/delete", data={"_csrf_token": token})
    assert "deleted" in text_of(deleted.text)
    assert await session.scalar(select(DeliverySchedule.id)) is None


async def test_submitting_tells_the_manager_and_the_deputy_and_preferences_are_kept(
    client: AsyncTestClient,
    hotel: dict,
    session: AsyncSession,
    engine: AsyncEngine,
    smtp_server,  # type: ignore[no-untyped-def]
) -> None:
    buyer, company = hotel["buyer"], hotel["company"]
    await add_to_cart(session, buyer, hotel["towels"].id, 3)
    cart = await buyer_cart(session, buyer)
    address = await session.scalar(select(Address.id).where(Address.company_id == company.id))
    await submit_order(
        session,
        buyer,
        company,
        CheckoutForm(cart.checkout_key, "", "2026-11-30", str(address), ""),
        today=TODAY,
        grace_days=7,
        margin_floor=Decimal("10"),
    )
    await session.commit()
    await deliver_pending(async_sessionmaker(engine, expire_on_commit=False), sender(smtp_server))
    told = {m["To"] for m in smtp_server.inbox.messages}
    assert told == {"anna@seller.example", "piotr@seller.example", buyer.email}  # the buyer gets a confirmation
    assert "waits for approval" in smtp_server.inbox.messages[0]["Subject"]

    await sign_in(client, "anna@seller.example")
    page = await client.get("/account/notifications")
    saved = await client.post(
        "/account/notifications", data={"kind": ["order_submitted"], "_csrf_token": csrf_from(page.text)}
    )
    assert "Your e-mail choices are saved." in text_of(saved.text)
    assert 'value="credit_changed" >' in saved.text or 'value="credit_changed"  ' in saved.text
    assert 'value="order_submitted" checked' in saved.text


async def test_a_schedule_is_edited_after_seeing_its_new_dates(
    client: AsyncTestClient, hotel: dict, session: AsyncSession
) -> None:
    plan = await make_schedule(
        session,
        hotel["company"],
        [(hotel["towels"], 5)],
        first=date(2026, 12, 4),
        created_by=hotel["buyer"],
        today=TODAY,
    )
    await session.commit()
    hotel_address = await session.scalar(select(Address.id).where(Address.label == "Hotel"))
    await sign_in(client, "ewa@vistula.example")
    page = await client.get(f"/schedules/{plan.id}/edit")
    assert page.status_code == 200
    assert 'name="name" maxlength="100" value="Weekly linen"' in page.text
    assert 'value="2026-12-04"' in page.text and f'<option value="{plan.address_id}" selected' in page.text
    assert (
        "Next five deliveries 4 Dec 2026 11 Dec 2026 18 Dec 2026"
        " 28 Dec 2026 (moved from Fri 25 Dec) 4 Jan 2027 (moved from Fri 1 Jan)"
    ) in text_of(page.text)

    wanted = {
        "name": "Monthly linen",
        "address_id": str(hotel_address),
        "frequency": "monthly",
        "month_day": "31",
        "interval_weeks": "1",
        "first_delivery": "2026-12-31",
        "lead_days": "3",
    }
    preview = await client.post(
        f"/schedules/{plan.id}/edit", data={**wanted, "preview": "1", "_csrf_token": csrf_from(page.text)}
    )
    assert (
        "Next five deliveries 31 Dec 2026 1 Feb 2027 (moved from Sun 31 Jan) 1 Mar 2027 (moved from Sun 28 Feb)"
        " 31 Mar 2027 30 Apr 2027"
    ) in text_of(preview.text)
    await session.refresh(plan)
    assert plan.name == "Weekly linen"  # a preview saves nothing
    saved = await client.post(
        f"/schedules/{plan.id}/edit", data={**wanted, "_csrf_token": csrf_from(preview.text)}, follow_redirects=False
    )
    assert (saved.status_code, saved.headers["location"]) == (303, f"/schedules/{plan.id}")
    shown = text_of((await client.get(f"/schedules/{plan.id}")).text)
    assert "Saved: the next delivery not yet ordered follows the new rhythm." in shown
    assert "Monthly linen" in shown and "monthly on day 31, ordered 3 days ahead · Hotel, Warszawa" in shown
    # 31 January 2027 is a Sunday: delivered on the next of the company's delivery days (Monday to Friday)
    assert "Coming deliveries 31 Dec 2026 Skip 1 Feb 2027 (moved from Sun 31 Jan) Skip" in shown


async def test_a_refused_edit_shows_the_form_again_with_the_reason_next_to_the_field(
    client: AsyncTestClient, hotel: dict, session: AsyncSession
) -> None:
    plan = await make_schedule(
        session,
        hotel["company"],
        [(hotel["towels"], 5)],
        first=date(2026, 12, 4),
        created_by=hotel["buyer"],
        today=TODAY,
    )
    await session.commit()
    await sign_in(client, "ewa@vistula.example")
    page = await client.get(f"/schedules/{plan.id}/edit")
    refused = await client.post(
        f"/schedules/{plan.id}/edit",
        data={
            "name": "Renamed",
            "address_id": str(plan.address_id),
            "frequency": "weekly",
            "interval_weeks": "1",
            "first_delivery": "2026-11-27",
            "lead_days": "2",
            "_csrf_token": csrf_from(page.text),
        },
    )
    assert refused.status_code == 400
    assert (
        '<p class="field-error" id="first_delivery-error" role="alert">The first delivery must be after today.</p>'
        in refused.text
    )
    assert 'value="Renamed"' in refused.text
    await session.refresh(plan)
    assert (plan.name, plan.first_delivery) == ("Weekly linen", date(2026, 12, 4))


async def test_a_product_is_added_by_sku_and_a_skip_undone(
    client: AsyncTestClient, hotel: dict, session: AsyncSession
) -> None:
    await make_product(session, sku="SOAP-6", name="Soap", pack_size=6)
    plan = await make_schedule(
        session,
        hotel["company"],
        [(hotel["towels"], 5)],
        first=date(2026, 12, 4),
        created_by=hotel["buyer"],
        today=TODAY,
    )
    await session.commit()
    await sign_in(client, "ewa@vistula.example")
    token = csrf_from((await client.get(f"/schedules/{plan.id}")).text)

    added = await client.post(
        f"/schedules/{plan.id}/lines", data={"sku": "soap-6", "quantity": "12", "_csrf_token": token}
    )
    assert "SOAP-6 added: 12 on each delivery from the next one not yet ordered." in text_of(added.text)
    assert '<tr data-sku="SOAP-6">' in added.text
    again = await client.post(
        f"/schedules/{plan.id}/lines", data={"sku": "TWL-1", "quantity": "5", "_csrf_token": token}
    )
    assert "TWL-1 was already on the schedule: now 10 on each delivery." in text_of(again.text)
    unknown = await client.post(
        f"/schedules/{plan.id}/lines", data={"sku": "NOPE-9", "quantity": "1", "_csrf_token": token}
    )
    assert unknown.status_code == 400
    assert '<p class="field-error" id="add-line-sku-error" role="alert">No product with SKU NOPE-9.</p>' in unknown.text
    assert 'value="NOPE-9"' in unknown.text  # what was typed stays in the form
    blank = await client.post(f"/schedules/{plan.id}/lines", data={"sku": "  ", "quantity": "1", "_csrf_token": token})
    assert (
        blank.status_code == 400
        and 'id="add-line-sku-error" role="alert">Enter the SKU of the product to add.</p>' in blank.text
    )
    packs = await client.post(
        f"/schedules/{plan.id}/lines", data={"sku": "SOAP-6", "quantity": "4", "_csrf_token": token}
    )
    assert 'id="add-line-quantity-error" role="alert">Sold in packs of 6: 6?</p>' in packs.text
    soap = next(
        line
        for line in await session.scalars(select(ScheduleLine).where(ScheduleLine.schedule_id == plan.id))
        if line.quantity == 12
    )
    wrong = await client.post(f"/schedules/{plan.id}/lines/{soap.id}", data={"quantity": "4", "_csrf_token": token})
    assert wrong.status_code == 400
    assert f'id="line-{soap.id}-error">Sold in packs of 6: 6?' in wrong.text and 'value="4"' in wrong.text
    await session.refresh(soap)
    assert soap.quantity == 12

    skipped = await client.post(
        f"/schedules/{plan.id}/skip", data={"delivery_date": "2026-12-11", "_csrf_token": token}
    )
    assert "Skipped 11 Dec 2026 Undo skip" in text_of(skipped.text)
    assert "Past deliveries Nothing ordered yet." in text_of(skipped.text)  # a skip still ahead is not history
    undone = await client.post(
        f"/schedules/{plan.id}/unskip", data={"delivery_date": "2026-12-11", "_csrf_token": token}
    )
    assert "That delivery will be made after all." in text_of(undone.text)
    assert 'id="skipped"' not in undone.text and "11 Dec 2026 Skip" in text_of(undone.text)
    again = await client.post(
        f"/schedules/{plan.id}/unskip", data={"delivery_date": "2026-12-11", "_csrf_token": token}
    )
    assert again.status_code == 400 and 'id="upcoming-error">That delivery is not skipped.</p>' in again.text


async def test_a_schedule_stored_at_the_calendars_end_still_shows_everywhere(
    client: AsyncTestClient, hotel: dict, session: AsyncSession
) -> None:
    """New dates are bounded to 2000…2100, but a row written otherwise (an import, a script) must not break a page."""
    weekly = await make_schedule(
        session,
        hotel["company"],
        [(hotel["towels"], 5)],
        first=date(9999, 12, 20),
        created_by=hotel["buyer"],
        today=TODAY,
        name="Far weekly",
    )
    monthly = await make_schedule(
        session,
        hotel["company"],
        [(hotel["towels"], 5)],
        first=date(9999, 12, 20),
        frequency="monthly",
        month_day=31,
        created_by=hotel["buyer"],
        today=TODAY,
        name="Far monthly",
    )
    last = await make_schedule(
        session,
        hotel["company"],
        [(hotel["towels"], 5)],
        first=date(2026, 12, 4),
        created_by=hotel["buyer"],
        today=TODAY,
        name="Last day",
    )
    await session.commit()
    await session.execute(
        update(DeliverySchedule)
        .where(DeliverySchedule.id == last.id)
        .values(first_delivery=date.max, next_delivery=date.max, next_generation_on=date(9999, 12, 29))
    )
    await session.commit()
    await sign_in(client, "ewa@vistula.example")

    dashboard = await client.get("/dashboard")
    assert dashboard.status_code == 200
    assert "20 Dec 9999 · Far weekly" in text_of(dashboard.text)
    listed = await client.get("/schedules")
    assert listed.status_code == 200
    assert {"Far weekly", "Far monthly", "Last day"} <= set(re.findall(r'data-schedule="([^"]+)"', listed.text))
    for plan, coming in [
        (weekly, "20 Dec 9999 Skip 27 Dec 9999 Skip"),
        (monthly, "31 Dec 9999 Skip"),
        (last, "31 Dec 9999 Skip"),
    ]:
        page = await client.get(f"/schedules/{plan.id}")
        assert page.status_code == 200 and f"Coming deliveries {coming}" in text_of(page.text)
        edit = await client.get(f"/schedules/{plan.id}/edit")
        assert edit.status_code == 200 and plan.name in text_of(edit.text)

    # Saving that date again is refused next to the field: new input stays within 2000…2100.
    edit = await client.get(f"/schedules/{weekly.id}/edit")
    assert 'value="9999-12-20"' in edit.text
    refused = await client.post(
        f"/schedules/{weekly.id}/edit",
        data={
            "name": "Far weekly",
            "address_id": str(weekly.address_id),
            "frequency": "weekly",
            "first_delivery": "9999-12-20",
            "lead_days": "2",
            "_csrf_token": csrf_from(edit.text),
        },
    )
    assert refused.status_code == 400
    assert (
        '<p class="field-error" id="first_delivery-error" role="alert">Enter a date between 2000 and 2100.</p>'
        in refused.text
    )
    assert 'value="9999-12-20"' in refused.text


async def test_a_refused_new_schedule_answers_400_next_to_the_field_and_saves_nothing(
    client: AsyncTestClient, hotel: dict, session: AsyncSession
) -> None:
    await sign_in(client, "ewa@vistula.example")
    source = {"source": "list", "source_id": str(hotel["list"].id)}
    page = await client.get("/schedules/new", params=source)
    token = csrf_from(page.text)
    address = await session.scalar(select(Address.id).where(Address.company_id == hotel["company"].id))
    typed = {
        **source,
        "name": "Weekly linen",
        "address_id": str(address),
        "frequency": "weekly",
        "interval_weeks": "1",
        "first_delivery": "2026-12-04",
        "lead_days": "2",
        "_csrf_token": token,
    }
    cases = [  # (what is typed, the field refused, its message, refused when only previewing too)
        ({"interval_weeks": "0"}, "interval_weeks", "Enter at least 1.", True),
        ({"interval_weeks": "²"}, "interval_weeks", "Enter a whole number, in digits 0–9.", True),
        ({"lead_days": "61"}, "lead_days", "Enter at most 60.", True),
        ({"first_delivery": "9999-12-31"}, "first_delivery", "Enter a date between 2000 and 2100.", True),
        ({"first_delivery": "2026-02-30"}, "first_delivery", "This day does not exist.", True),
        ({"first_delivery": ""}, "first_delivery", "This field is required.", True),
        ({"name": "x" * 101}, "name", "Use at most 100 characters.", True),
        ({"name": "   "}, "name", "Give the schedule a name of at most 100 characters.", True),
        ({"non_working_day": "sunday"}, "non_working_day", "This value is not one of the choices.", True),
        ({"address_id": "99999999999"}, "address_id", "Enter at most 2,147,483,647.", True),
        ({"first_delivery": "2026-11-27"}, "first_delivery", "The first delivery must be after today.", False),
        (
            {"address_id": str(address + 1000)},
            "address_id",
            "Choose one of your company&#39;s delivery addresses.",
            False,
        ),
    ]
    for changed, field, message, in_preview in cases:
        for preview in ({}, {"preview": "1"}) if in_preview else ({},):
            refused = await client.post("/schedules", data={**typed, **changed, **preview})
            assert refused.status_code == 400, (changed, preview)
            assert f'<p class="field-error" id="{field}-error" role="alert">{message}</p>' in refused.text, (
                changed,
                preview,
            )
            assert f'aria-describedby="{field}-error"' in refused.text
            kept = {**typed, **changed}
            for name in ("interval_weeks", "lead_days", "first_delivery", "name"):
                assert f'name="{name}"' in refused.text and f'value="{kept[name]}"' in refused.text, (name, changed)
            assert "20 × TWL-1 Towels" in text_of(refused.text)  # the list's lines are still shown
    assert await session.scalar(select(DeliverySchedule.id)) is None


async def test_a_new_schedule_from_an_unknown_or_odd_source(client: AsyncTestClient, hotel: dict) -> None:
    await sign_in(client, "ewa@vistula.example")
    assert (await client.get("/schedules/new", params={"source": "list"})).status_code == 404
    assert (await client.get("/schedules/new", params={"source": "list", "source_id": "999999"})).status_code == 404
    assert (await client.get("/schedules/new", params={"source": "elsewhere"})).status_code == 400
    assert (
        await client.get("/schedules/new", params={"source": "order", "source_id": "99999999999"})
    ).status_code == 400
    assert (await client.get("/schedules/new", params={"source": "list", "source_id": "１２３"})).status_code == 400
    assert (await client.get("/schedules/new")).status_code == 200  # from the cart
    assert (await client.get("/schedules/99999999999")).status_code == 404
    assert (await client.get("/schedules/99999999999/edit")).status_code == 404


async def test_refused_changes_on_the_schedule_page_stand_next_to_their_form(
    client: AsyncTestClient, hotel: dict, session: AsyncSession
) -> None:
    plan = await make_schedule(
        session,
        hotel["company"],
        [(hotel["towels"], 5)],
        first=date(2026, 12, 4),
        created_by=hotel["buyer"],
        today=TODAY,
    )
    await session.commit()
    line_id = plan.lines[0].id
    await sign_in(client, "ewa@vistula.example")
    token = csrf_from((await client.get(f"/schedules/{plan.id}")).text)

    odd = await client.post(f"/schedules/{plan.id}/lines", data={"sku": "TWL-1", "quantity": "²", "_csrf_token": token})
    assert odd.status_code == 400
    assert (
        '<p class="field-error" id="add-line-quantity-error" role="alert">Enter a whole number, in digits 0–9.</p>'
        in odd.text
    )
    assert 'value="TWL-1"' in odd.text and 'value="²"' in odd.text
    long = await client.post(
        f"/schedules/{plan.id}/lines", data={"sku": "X" * 41, "quantity": "1", "_csrf_token": token}
    )
    assert (
        long.status_code == 400 and 'id="add-line-sku-error" role="alert">Use at most 40 characters.</p>' in long.text
    )
    zero = await client.post(f"/schedules/{plan.id}/lines/{line_id}", data={"quantity": "0", "_csrf_token": token})
    assert zero.status_code == 400 and f'id="line-{line_id}-error">Enter at least 1.</p>' in zero.text
    only = await client.post(f"/schedules/{plan.id}/lines/{line_id}", data={"remove": "1", "_csrf_token": token})
    assert only.status_code == 400
    assert (
        f'id="line-{line_id}-error">A schedule keeps at least one line; delete the schedule instead.</p>' in only.text
    )
    day = await client.post(f"/schedules/{plan.id}/skip", data={"delivery_date": "2026-02-30", "_csrf_token": token})
    assert day.status_code == 400 and 'id="upcoming-error">This day does not exist.</p>' in day.text
    far = await client.post(f"/schedules/{plan.id}/skip", data={"delivery_date": "2030-01-04", "_csrf_token": token})
    assert far.status_code == 400
    assert 'id="upcoming-error">That date is not one of the schedule&#39;s coming deliveries.</p>' in far.text
    missing = await client.post(
        f"/schedules/{plan.id}/lines/{line_id + 1000}", data={"quantity": "5", "_csrf_token": token}
    )
    assert missing.status_code == 404

    await session.refresh(plan, ["lines"])
    assert [(line.id, line.quantity) for line in plan.lines] == [(line_id, 5)]
    assert await session.scalar(select(func.count()).select_from(ScheduleOccurrence)) == 0


async def test_odd_notification_choices_are_refused_and_change_nothing(
    client: AsyncTestClient, hotel: dict, session: AsyncSession
) -> None:
    await sign_in(client, "ewa@vistula.example")
    page = await client.get("/account/notifications")
    token = csrf_from(page.text)
    one = await client.post("/account/notifications", data={"kind": "order_submitted", "_csrf_token": token})
    assert 'value="order_submitted" checked' in one.text and 'value="recurring_missed"  >' in one.text
    refused = await client.post(
        "/account/notifications", data={"kind": ["recurring_missed", "everything"], "_csrf_token": token}
    )
    assert refused.status_code == 400
    assert (
        '<p class="field-error" id="kind-error" role="alert">This value is not one of the choices.</p>' in refused.text
    )
    assert 'value="recurring_missed"  >' in refused.text  # as saved before: nothing changed
    off = set(
        await session.scalars(select(NotificationOptOut.kind).where(NotificationOptOut.user_id == hotel["buyer"].id))
    )
    assert NotificationKind.RECURRING_MISSED in off and NotificationKind.ORDER_SUBMITTED not in off
    none = await client.post("/account/notifications", data={"_csrf_token": token})
    assert none.status_code == 200 and 'value="order_submitted"  >' in none.text


async def test_deliveries_on_non_working_days_move_as_the_schedule_says_and_show_where_from(
    client: AsyncTestClient, hotel: dict, session: AsyncSession
) -> None:
    await sign_in(client, "ewa@vistula.example")
    source = {"source": "list", "source_id": str(hotel["list"].id)}
    page = await client.get("/schedules/new", params=source)
    assert '<option value="next" selected>' in page.text  # the next working day unless the buyer says otherwise
    address = await session.scalar(select(Address.id).where(Address.company_id == hotel["company"].id))
    monthly = {
        **source,
        "name": "Month-end linen",
        "address_id": str(address),
        "frequency": "monthly",
        "month_day": "31",
        "first_delivery": "2026-12-31",
        "lead_days": "2",
        "_csrf_token": csrf_from(page.text),
    }
    following = await client.post("/schedules", data={**monthly, "preview": "1"})
    assert (
        "Next five deliveries 31 Dec 2026 1 Feb 2027 (moved from Sun 31 Jan) 1 Mar 2027 (moved from Sun 28 Feb)"
        " 31 Mar 2027 30 Apr 2027"
    ) in text_of(following.text)
    before = await client.post("/schedules", data={**monthly, "non_working_day": "previous", "preview": "1"})
    assert (
        "Next five deliveries 31 Dec 2026 29 Jan 2027 (moved from Sun 31 Jan) 26 Feb 2027 (moved from Sun 28 Feb)"
        " 31 Mar 2027 30 Apr 2027"
    ) in text_of(before.text)
    assert '<option value="previous" selected>' in before.text

    saved = await client.post("/schedules", data={**monthly, "non_working_day": "previous"}, follow_redirects=False)
    assert saved.status_code == 303
    plan = await session.scalar(select(DeliverySchedule).where(DeliverySchedule.name == "Month-end linen"))
    assert plan is not None and plan.non_working_day == "previous"
    shown = text_of((await client.get(saved.headers["location"])).text)
    assert "Coming deliveries 31 Dec 2026 Skip 29 Jan 2027 (moved from Sun 31 Jan) Skip" in shown
    assert '<option value="previous" selected>' in (await client.get(f"/schedules/{plan.id}/edit")).text
    for page_path in ("/dashboard", "/schedules"):  # the next deliveries across the company's schedules
        listed = text_of((await client.get(page_path)).text)
        assert "29 Jan 2027 (moved from Sun 31 Jan) · Month-end linen" in listed, page_path
