"""The staff side of quotes over HTTP: the desk lists the quotes of the companies a staff member
sees; the account manager prices the draft line by line against cost, today's price and the
margin floor, and sends it; a sent version is frozen; finance reads but does not change."""

from __future__ import annotations

import re
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from portal.models import Quote, QuoteLine, QuoteStatus, QuoteVersion, Role, User
from portal.services import quote_views, quotes
from tests.factories import csrf_from, make_company, make_product, make_user, sign_in, text_of
from tests.queries import counted_statements

TODAY = date(2026, 11, 27)
"""The seller's today under `frozen_clock`."""


@pytest.fixture
async def world(session: AsyncSession, frozen_clock: Any) -> dict[str, Any]:
    manager = await make_user(session, Role.ACCOUNT_MANAGER, full_name="Anna Kowalska", email="anna@seller.example")
    other_manager = await make_user(session, Role.ACCOUNT_MANAGER, email="piotr@seller.example")
    finance = await make_user(session, Role.FINANCE, email="fin@seller.example")
    admin = await make_user(session, Role.ADMIN, email="admin@seller.example")
    company = await make_company(session, name="Northwind Trading", account_manager_id=manager.id)
    buyer = await make_user(session, company_id=company.id, email="nina@northwind.example", full_name="Nina Buyer")
    await session.refresh(buyer, ["company"])
    gloves = await make_product(
        session, sku="GLV-1", name="Nitrile gloves", list_price=Decimal("20.0000"), cost=Decimal("10.0000")
    )
    pallet = await make_product(
        session, sku="PAL-1", name="Blue pallet", list_price=Decimal("50.0000"), cost=Decimal("30.0000")
    )
    quote = await quotes.request_quote(
        session,
        buyer,
        [
            quotes.WantedLine(100, gloves.id, target_price=Decimal("14.00")),
            quotes.WantedLine(5, name="A blue pallet, 120 × 80"),
        ],
        title="Gloves for Q1",
        message="We need them in January.",
        today=TODAY,
    )
    await session.commit()
    return {
        "manager": manager,
        "other_manager": other_manager,
        "finance": finance,
        "admin": admin,
        "company": company,
        "buyer": buyer,
        "gloves": gloves,
        "pallet": pallet,
        "quote": quote,
    }


async def signed_in(client: AsyncTestClient, email: str) -> str:
    """Signs in; the CSRF token for the forms."""
    assert (await sign_in(client, email)).status_code == 303
    return csrf_from((await client.get("/manage/quotes")).text)


async def post(client: AsyncTestClient, url: str, data: dict[str, Any]) -> Any:
    return await client.post(url, data=data, follow_redirects=False)


def lines_of(quote: Quote) -> tuple[QuoteLine, QuoteLine]:
    """The catalogue line and the described one of the request's draft."""
    draft = quotes.draft_of(quote)
    assert draft is not None
    catalogue = next(line for line in draft.lines if line.product_id is not None)
    described = next(line for line in draft.lines if line.product_id is None)
    return catalogue, described


def editor_form(csrf: str, lines: dict[int, dict[str, str]], **fields: str) -> dict[str, Any]:
    """The editor's form: the version's fields, and `<field>-<line id>` for each line."""
    form: dict[str, Any] = {
        "_csrf_token": csrf,
        "valid_until": (TODAY + timedelta(days=14)).isoformat(),
        "title": "Gloves for Q1",
        "payment_terms": "30 days",
        "line_id": [str(line_id) for line_id in lines],
    }
    for line_id, values in lines.items():
        form.update({f"{name}-{line_id}": value for name, value in values.items()})
    form.update(fields)
    return form


def line_error(html: str, line_id: int) -> str:
    found = re.search(rf'id="line-{line_id}-error"[^>]*>(.*?)</p>', html, re.S)
    assert found, f"no message next to line {line_id}"
    return text_of(found.group(1))


async def reloaded(session: AsyncSession, quote_id: int) -> Quote:
    """The quote as the database has it now (the transaction ended first, so the app's commits show)."""
    await session.commit()
    manager = await session.scalar(select(User).where(User.email == "anna@seller.example"))
    assert manager is not None
    return await quotes.staff_quote(session, manager, quote_id, TODAY)


async def test_the_desk_lists_a_requested_quote_for_its_manager_only(
    client: AsyncTestClient, world: dict[str, Any]
) -> None:
    quote = world["quote"]
    await signed_in(client, world["manager"].email)
    desk = await client.get("/manage/quotes", params={"view": "requested"})
    assert desk.status_code == 200
    row = re.search(rf'<tr data-quote="{quote.number}".*?</tr>', desk.text, re.S)
    assert row, "the requested quote is on the desk"
    assert "Northwind Trading" in text_of(row.group(0)) and "Nina Buyer" in text_of(row.group(0))
    assert re.search(r'data-count="requested">1<', desk.text)
    assert (await client.get(f"/manage/quotes/{quote.id}")).status_code == 200

    client.cookies.clear()
    await signed_in(client, world["other_manager"].email)
    desk = await client.get("/manage/quotes", params={"view": "requested"})
    assert desk.status_code == 200 and quote.number not in desk.text
    assert re.search(r'data-count="requested">0<', desk.text)
    assert (await client.get(f"/manage/quotes/{quote.id}")).status_code == 404
    assert (await client.get("/manage/quotes/2147483647")).status_code == 404


async def test_a_buyer_is_kept_out_of_the_desk(client: AsyncTestClient, world: dict[str, Any]) -> None:
    await sign_in(client, world["buyer"].email)
    assert (await client.get("/manage/quotes")).status_code == 403
    assert (await client.get(f"/manage/quotes/{world['quote'].id}")).status_code == 403


async def test_finance_reads_the_quote_but_cannot_change_it(
    client: AsyncTestClient, world: dict[str, Any], session: AsyncSession
) -> None:
    quote = world["quote"]
    csrf = await signed_in(client, world["finance"].email)
    assert quote.number in (await client.get("/manage/quotes")).text
    page = await client.get(f"/manage/quotes/{quote.id}")
    assert page.status_code == 200
    assert 'id="editor-form"' not in page.text and 'id="version-lines"' in page.text
    catalogue, described = lines_of(quote)
    form = editor_form(csrf, {catalogue.id: {"price": "15.00"}, described.id: {"remove": "1"}})
    for route in ("draft", "send"):
        refused = await post(client, f"/manage/quotes/{quote.id}/{route}", data=form)
        assert refused.status_code == 403, route
    assert (await post(client, f"/manage/quotes/{quote.id}/withdraw", data={"_csrf_token": csrf})).status_code == 403
    assert (
        await post(client, f"/manage/quotes/{quote.id}/lines", data={"_csrf_token": csrf, "sku": "PAL-1"})
    ).status_code == 403
    again = await reloaded(session, quote.id)
    assert again.status is QuoteStatus.REQUESTED and lines_of(again)[0].unit_price is None


async def test_the_editor_saves_prices_and_a_price_below_the_floor_needs_a_reason_to_send(
    client: AsyncTestClient, world: dict[str, Any], session: AsyncSession
) -> None:
    quote = world["quote"]
    catalogue, described = lines_of(quote)
    csrf = await signed_in(client, world["manager"].email)
    editor = await client.get(f"/manage/quotes/{quote.id}")
    assert editor.status_code == 200 and 'id="editor-form"' in editor.text
    assert "A blue pallet, 120 × 80" in text_of(editor.text)  # the buyer's description, with an SKU field
    assert f'name="sku-{described.id}"' in editor.text

    below = {
        catalogue.id: {"quantity": "120", "price": "10.50"},
        described.id: {"sku": "pal-1", "quantity": "5", "price": "45.00"},
    }
    saved = await post(client, f"/manage/quotes/{quote.id}/draft", data=editor_form(csrf, below))
    assert saved.status_code == 303
    again = await reloaded(session, quote.id)
    catalogue, described = lines_of_saved(again)
    assert (catalogue.quantity, catalogue.unit_price) == (120, Decimal("10.5"))
    assert (described.sku, described.product_id, described.unit_price) == ("PAL-1", world["pallet"].id, Decimal("45"))
    assert described.name == "A blue pallet, 120 × 80"  # the buyer's words stay

    page = (await client.get(f"/manage/quotes/{quote.id}")).text
    row = re.search(rf'<tr data-line="{catalogue.id}".*?</tr>', page, re.S)
    assert row and "Below the floor" in row.group(0)
    assert "10.0" in text_of(row.group(0))  # the floor, 10 %

    refused = await post(client, f"/manage/quotes/{quote.id}/send", data=editor_form(csrf, below))
    assert refused.status_code == 400
    assert "below the margin floor" in line_error(refused.text, catalogue.id)
    assert (await reloaded(session, quote.id)).status is QuoteStatus.REQUESTED

    below[catalogue.id]["reason"] = "Matching a competitor's offer for 120 boxes."
    unticked = await post(client, f"/manage/quotes/{quote.id}/send", data=editor_form(csrf, below))
    assert unticked.status_code == 400
    assert "Accept below the floor" in line_error(unticked.text, catalogue.id)
    assert (await reloaded(session, quote.id)).status is QuoteStatus.REQUESTED

    below[catalogue.id]["accept"] = "1"
    sent = await post(client, f"/manage/quotes/{quote.id}/send", data=editor_form(csrf, below))
    assert sent.status_code == 303
    shown = await client.get(sent.headers["location"])
    assert f"Version {quote.number}/1 sent to Northwind Trading." in text_of(shown.text)
    assert "this version is frozen" in text_of(shown.text)
    again = await reloaded(session, quote.id)
    assert (again.status, again.sent_version) == (QuoteStatus.SENT, 1)
    assert lines_of_saved(again, version=1)[0].below_floor_reason.startswith("Matching")


def lines_of_saved(quote: Quote, version: int | None = None) -> tuple[QuoteLine, QuoteLine]:
    chosen: QuoteVersion | None = quotes.sent_of(quote, version) if version else quotes.draft_of(quote)
    assert chosen is not None
    glove = next(line for line in chosen.lines if line.sku == "GLV-1")
    other = next(line for line in chosen.lines if line is not glove)
    return glove, other


@pytest.mark.parametrize(
    ("price", "message"),
    [
        ("-5.00", "Enter a price above zero."),
        ("0", "Enter a price above zero."),
        ("12.12345", "Offered price:"),
        ("abc", "Offered price:"),
    ],
)
async def test_a_price_that_cannot_be_offered_is_refused_next_to_its_line(
    client: AsyncTestClient, world: dict[str, Any], session: AsyncSession, price: str, message: str
) -> None:
    quote = world["quote"]
    catalogue, described = lines_of(quote)
    csrf = await signed_in(client, world["manager"].email)
    form = editor_form(csrf, {catalogue.id: {"price": price, "quantity": "100"}, described.id: {"remove": "1"}})
    refused = await post(client, f"/manage/quotes/{quote.id}/draft", data=form)
    assert refused.status_code == 400
    assert message in line_error(refused.text, catalogue.id)
    assert f'value="{price}"' in refused.text  # what was typed is kept
    again = await reloaded(session, quote.id)
    assert lines_of(again)[0].unit_price is None and len(quotes.draft_of(again).lines) == 2  # type: ignore[union-attr]


async def test_a_validity_date_in_the_past_is_refused(
    client: AsyncTestClient, world: dict[str, Any], session: AsyncSession
) -> None:
    quote = world["quote"]
    catalogue, described = lines_of(quote)
    csrf = await signed_in(client, world["manager"].email)
    form = editor_form(
        csrf,
        {catalogue.id: {"price": "15.00"}, described.id: {"remove": "1"}},
        valid_until=(TODAY - timedelta(days=1)).isoformat(),
    )
    refused = await post(client, f"/manage/quotes/{quote.id}/draft", data=form)
    assert refused.status_code == 400
    found = re.search(r'id="editor-valid_until-error"[^>]*>(.*?)</p>', refused.text, re.S)
    assert found and "a day that has passed" in found.group(1)
    assert lines_of(await reloaded(session, quote.id))[0].unit_price is None


async def test_withdrawing_needs_a_reason(
    client: AsyncTestClient, world: dict[str, Any], session: AsyncSession
) -> None:
    quote = world["quote"]
    csrf = await signed_in(client, world["manager"].email)
    refused = await post(client, f"/manage/quotes/{quote.id}/withdraw", data={"_csrf_token": csrf})
    assert refused.status_code == 400
    found = re.search(r'id="withdraw-reason-error"[^>]*>(.*?)</p>', refused.text, re.S)
    assert found and "reason" in found.group(1)
    assert (await reloaded(session, quote.id)).status is QuoteStatus.REQUESTED
    done = await post(
        client,
        f"/manage/quotes/{quote.id}/withdraw",
        data={"_csrf_token": csrf, "reason": "The product is discontinued."},
    )
    assert done.status_code == 303
    assert (await reloaded(session, quote.id)).status is QuoteStatus.WITHDRAWN


async def test_an_internal_comment_shows_on_the_staff_page_and_never_to_the_buyer(
    client: AsyncTestClient, world: dict[str, Any], session: AsyncSession
) -> None:
    quote = world["quote"]
    csrf = await signed_in(client, world["manager"].email)
    said = await post(
        client,
        f"/manage/quotes/{quote.id}/comments",
        data={"_csrf_token": csrf, "body": "Margin is thin; ask Piotr before going lower.", "internal": "1"},
    )
    assert said.status_code == 303
    page = text_of((await client.get(f"/manage/quotes/{quote.id}")).text)
    assert "Margin is thin; ask Piotr before going lower." in page and "Internal: staff only" in page
    assert "We need them in January." in page  # the buyer's message
    for_buyer = await quote_views.thread(session, quote.id, internal=False)
    assert [comment.body for comment in for_buyer] == ["We need them in January."]

    refused = await post(client, f"/manage/quotes/{quote.id}/comments", data={"_csrf_token": csrf, "internal": "1"})
    assert refused.status_code == 400 and 'id="comment-body-error"' in refused.text


async def test_a_sent_version_is_frozen(client: AsyncTestClient, world: dict[str, Any], session: AsyncSession) -> None:
    quote = world["quote"]
    catalogue, described = lines_of(quote)
    csrf = await signed_in(client, world["manager"].email)
    priced = {catalogue.id: {"price": "15.00"}, described.id: {"remove": "1"}}
    assert (await post(client, f"/manage/quotes/{quote.id}/send", data=editor_form(csrf, priced))).status_code == 303

    page = await client.get(f"/manage/quotes/{quote.id}")
    assert 'id="editor-form"' not in page.text and 'id="revise-button"' in page.text
    changed = {catalogue.id: {"price": "11.00"}}
    refused = await post(client, f"/manage/quotes/{quote.id}/draft", data=editor_form(csrf, changed))
    assert refused.status_code == 400
    assert f"Version {quote.number}/1 was sent and cannot change" in text_of(refused.text)
    again = await reloaded(session, quote.id)
    assert quotes.draft_of(again) is None
    assert [line.unit_price for line in quotes.sent_of(again).lines] == [Decimal("15")]  # type: ignore[union-attr]

    revised = await post(client, f"/manage/quotes/{quote.id}/revise", data={"_csrf_token": csrf})
    assert revised.status_code == 303
    editor = await client.get(f"/manage/quotes/{quote.id}")
    assert 'id="editor-form"' in editor.text and "is frozen: it cannot change" in text_of(editor.text)


async def test_a_new_offer_starts_an_empty_draft_and_takes_lines(
    client: AsyncTestClient, world: dict[str, Any], session: AsyncSession
) -> None:
    csrf = await signed_in(client, world["manager"].email)
    started = await post(
        client, "/manage/quotes", data={"_csrf_token": csrf, "company_id": str(world["company"].id), "title": "Spring"}
    )
    assert started.status_code == 303
    quote_id = int(started.headers["location"].rsplit("/", 1)[1])
    added = await post(
        client, f"/manage/quotes/{quote_id}/lines", data={"_csrf_token": csrf, "sku": "glv-1", "quantity": "40"}
    )
    assert added.status_code == 303
    refused = await post(
        client, f"/manage/quotes/{quote_id}/lines", data={"_csrf_token": csrf, "sku": "NOPE", "quantity": "40"}
    )
    assert refused.status_code == 400 and 'id="add-sku-error"' in refused.text and 'value="NOPE"' in refused.text
    quote = await reloaded(session, quote_id)
    assert quote.status is QuoteStatus.DRAFT and quote.title == "Spring"
    draft = quotes.draft_of(quote)
    assert draft is not None and [(line.sku, line.unit_price) for line in draft.lines] == [("GLV-1", Decimal("20"))]


async def test_the_desk_and_the_editor_cost_the_same_statements_however_many_quotes_and_lines(
    client: AsyncTestClient, world: dict[str, Any], session: AsyncSession
) -> None:
    quote = world["quote"]
    await signed_in(client, world["manager"].email)
    await client.get("/manage/quotes")
    with counted_statements(client.app) as short_desk:
        assert (await client.get("/manage/quotes")).status_code == 200
    with counted_statements(client.app) as short_editor:
        assert (await client.get(f"/manage/quotes/{quote.id}")).status_code == 200

    products = [await make_product(session, sku=f"MORE-{n}", cost=Decimal("3")) for n in range(6)]
    for n in range(5):
        company = await make_company(session, name=f"Firm {n}", account_manager_id=world["manager"].id)
        buyer = await make_user(session, company_id=company.id)
        await session.refresh(buyer, ["company"])
        await quotes.request_quote(
            session, buyer, [quotes.WantedLine(3, product.id) for product in products], today=TODAY
        )
    await quotes.add_line(session, world["manager"], quote.id, sku="PAL-1", quantity=2, today=TODAY)
    for product in products:
        await quotes.add_line(session, world["manager"], quote.id, sku=product.sku, quantity=2, today=TODAY)
    await session.commit()

    with counted_statements(client.app) as long_desk:
        desk = await client.get("/manage/quotes")
    assert desk.text.count("<tr data-quote=") == 6
    with counted_statements(client.app) as long_editor:
        editor = await client.get(f"/manage/quotes/{quote.id}")
    assert editor.text.count('name="line_id"') == 9
    assert len(long_desk) == len(short_desk)
    assert len(long_editor) == len(short_editor)


ODD_NUMBERS = ["²", "1e309", "\x00", "x" * 10_000, "nan", "-0", "99999999999999999999", "1,5.5", "١٢٣"]
ODD = {
    "quantity": ODD_NUMBERS,
    "price": ODD_NUMBERS,
    "reason": ["\x00", "x" * 10_000],
    "sku": ["\x00", "x" * 10_000, "NO-SUCH-SKU"],
    "remove": ["x" * 10_000],
}


async def test_odd_values_in_a_lines_fields_are_refused_next_to_the_line(
    client: AsyncTestClient, world: dict[str, Any], session: AsyncSession
) -> None:
    quote = world["quote"]
    catalogue, _ = lines_of(quote)
    csrf = await signed_in(client, world["manager"].email)
    for name, values in ODD.items():
        for value in values:
            form = editor_form(csrf, {catalogue.id: {name: value}})
            refused = await post(client, f"/manage/quotes/{quote.id}/draft", form)
            assert refused.status_code == 400, (name, value[:20])
            assert line_error(refused.text, catalogue.id), (name, value[:20])
    assert lines_of(await reloaded(session, quote.id))[0].unit_price is None
