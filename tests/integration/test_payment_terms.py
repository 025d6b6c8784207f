"""Payment terms carry price, over HTTP: the checkout offers the agreement's payment options with
the order's totals on each (computed by hand here), the choice is frozen on the order with the
agreement's skonto, a choice not offered is refused next to its field, a prepaid order stays out
of exposure, the confirmation and the order pages state the terms, and the statement says whether
each invoice's skonto was earned, missed or is still possible."""

from __future__ import annotations

import re
from datetime import date, timedelta
from decimal import Decimal

import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from portal.models import Address, Order, OrderSource, OrderStatus, Payment, PaymentOption, Role
from portal.services import ordering
from portal.services.credit import credit_picture
from tests.conftest import Clock
from tests.factories import (
    csrf_from,
    make_agreement,
    make_company,
    make_invoice,
    make_order,
    make_product,
    make_user,
    sign_in,
    text_of,
)
from tests.integration.test_buying import add
from tests.integration.test_documents import pdf_of
from tests.queries import counted_statements

TODAY = date(2026, 11, 27)
"""The seller's day under `frozen_clock`."""


@pytest.fixture
async def shop(session: AsyncSession, frozen_clock: Clock) -> dict:
    manager = await make_user(session, Role.ACCOUNT_MANAGER, full_name="Anna Kowalska", email="anna@seller.example")
    company = await make_company(
        session, name="Northwind Trading", credit_limit=Decimal("1000.00"), account_manager_id=manager.id
    )
    session.add(
        Address(company_id=company.id, label="HQ", street="ul. Prosta 1", postal_code="00-001", city="Warszawa")
    )
    buyer = await make_user(session, company_id=company.id, email="nina@northwind.example")
    glasses = await make_product(session, sku="GLS-1", name="Glass", list_price=Decimal("10.0000"))
    paper = await make_product(
        session, sku="PAP-1", name="Paper", list_price=Decimal("33.3333"), vat_rate=Decimal("8.00")
    )
    agreement = await make_agreement(session, company, skonto_pct=Decimal("2.00"), skonto_days=7)
    prepay = PaymentOption(agreement_id=agreement.id, company_id=company.id, days=0, price_effect_pct=Decimal("-1.00"))
    sixty = PaymentOption(agreement_id=agreement.id, company_id=company.id, days=60, price_effect_pct=Decimal("1.00"))
    session.add_all([prepay, sixty])
    other = await make_company(session, name="Baltic Foods")
    foreign = await make_agreement(session, other)
    stranger_option = PaymentOption(
        agreement_id=foreign.id, company_id=other.id, days=90, price_effect_pct=Decimal("-5.00")
    )
    session.add(stranger_option)
    await session.commit()
    return {
        "manager": manager,
        "company": company,
        "buyer": buyer,
        "glasses": glasses,
        "paper": paper,
        "agreement": agreement,
        "prepay": prepay,
        "sixty": sixty,
        "stranger_option": stranger_option,
    }


async def fill_cart(client: AsyncTestClient, shop: dict) -> None:
    """7 glasses at 10.0000 (23 % VAT) and 3 papers at 33.3333 (8 % VAT)."""
    await add(client, shop["glasses"].id, "7")
    await add(client, shop["paper"].id, "3")


def form_of(page: str, option: int | str) -> dict[str, str]:
    return {
        "_csrf_token": csrf_from(page),
        "key": re.search(r'name="key" value="([^"]+)"', page).group(1),  # type: ignore[union-attr]
        "address_id": re.search(r'<option value="(\d+)" selected', page).group(1),  # type: ignore[union-attr]
        "delivery_date": re.search(r'name="delivery_date" type="date" value="([^"]+)"', page).group(1),  # type: ignore[union-attr]
        "po_number": "PO-7",
        "payment_option": str(option),
    }


def choice_text(page: str, option: int) -> str:
    match = re.search(rf'<label class="choice" for="payment_option-{option}">(.*?)</label>', page, re.S)
    assert match, f"no choice {option}"
    return text_of(match.group(1))


async def test_the_checkout_offers_each_payment_term_with_the_order_s_totals_on_it(
    client: AsyncTestClient, shop: dict
) -> None:
    await sign_in(client, shop["buyer"].email)
    await fill_cart(client, shop)
    page = (await client.get("/checkout")).text
    # Standard: 7 × 10.0000 = 70.00 (VAT 23 % 16.10); 3 × 33.3333 = 99.9999 → 100.00 (VAT 8 % 8.00).
    assert choice_text(page, 0) == "Standard terms: 30 days Net PLN 170.00, gross PLN 194.10"
    # Prepayment −1 %: 9.9000 × 7 = 69.30 (VAT 15.939 → 15.94); 33.3333 × 0.99 = 32.999967 → 33.0000,
    # × 3 = 99.00 (VAT 7.92): net 168.30, VAT 23.86, gross 192.16.
    assert choice_text(page, shop["prepay"].id) == "Prepayment, −1.00 % Net PLN 168.30, gross PLN 192.16"
    # 60 days +1 %: 10.1000 × 7 = 70.70 (VAT 16.261 → 16.26); 33.3333 × 1.01 = 33.666633 → 33.6666,
    # × 3 = 100.9998 → 101.00 (VAT 8.08): net 171.70, VAT 24.34, gross 196.04.
    assert choice_text(page, shop["sixty"].id) == "60 days, +1.00 % Net PLN 171.70, gross PLN 196.04"
    assert 'id="payment_option-0" value="0" checked' in page
    assert "2.00 % early-payment discount if paid within 7 days of the invoice date" in text_of(page)


async def test_the_chosen_terms_are_frozen_on_the_order_and_in_every_line_s_price(
    client: AsyncTestClient, session: AsyncSession, shop: dict
) -> None:
    await sign_in(client, shop["buyer"].email)
    await fill_cart(client, shop)
    page = (await client.get("/checkout")).text
    response = await client.post("/checkout", data=form_of(page, shop["sixty"].id), follow_redirects=False)
    assert response.status_code == 303, response.text[:500]

    order = await session.scalar(select(Order).where(Order.company_id == shop["company"].id))
    assert order is not None
    await session.refresh(order, ["lines"])
    assert (order.agreement_id, order.payment_terms_days, order.payment_effect_pct, order.prepaid) == (
        shop["agreement"].id,
        60,
        Decimal("1.00"),
        False,
    )
    assert (order.skonto_pct, order.skonto_days) == (Decimal("2.00"), 7)
    prices = {line.sku: (line.unit_price, line.line_net) for line in order.lines}
    assert prices == {
        "GLS-1": (Decimal("10.1000"), Decimal("70.70")),
        "PAP-1": (Decimal("33.6666"), Decimal("101.00")),
    }
    assert (order.net_total, order.vat_total, order.gross_total) == (
        Decimal("171.70"),
        Decimal("24.34"),
        Decimal("196.04"),
    )
    # cost 7 × 6 + 3 × 6 = 60.00: the margin is on the price paid
    assert order.margin == Decimal("111.70")

    shown = text_of((await client.get(f"/orders/{order.id}")).text)
    assert "Payment terms 60 days (+1.00 %)" in shown
    assert "Early payment: 2.00 % early-payment discount if paid within 7 days of the invoice date." in shown
    client.cookies.clear()
    await sign_in(client, shop["manager"].email)
    review = text_of((await client.get(f"/queue/orders/{order.id}")).text)
    assert "60 days (+1.00 %)" in review and "2.00 % early-payment discount" in review


async def test_a_payment_option_not_offered_is_refused_next_to_the_field_and_nothing_is_saved(
    client: AsyncTestClient, session: AsyncSession, shop: dict
) -> None:
    await sign_in(client, shop["buyer"].email)
    await fill_cart(client, shop)
    page = (await client.get("/checkout")).text
    for tampered in (shop["stranger_option"].id, 2_000_000_000):
        refused = await client.post("/checkout", data=form_of(page, tampered))
        assert refused.status_code == 400
        assert 'id="payment_option-error"' in refused.text
        assert "Choose one of the payment terms offered." in text_of(refused.text)
    garbage = await client.post("/checkout", data=form_of(page, "²"))
    assert garbage.status_code == 400 and 'id="payment_option-error"' in garbage.text
    count = await session.scalar(select(func.count()).select_from(Order))
    assert count == 0


async def test_a_prepaid_order_stays_out_of_exposure_waiting_and_approved(
    client: AsyncTestClient, session: AsyncSession, shop: dict
) -> None:
    company = shop["company"]
    standard = await make_order(session, company, gross="100.00")
    await session.commit()
    await sign_in(client, shop["buyer"].email)
    await fill_cart(client, shop)
    page = (await client.get("/checkout")).text
    response = await client.post("/checkout", data=form_of(page, shop["prepay"].id), follow_redirects=False)
    assert response.status_code == 303, response.text[:500]
    prepaid = await session.scalar(select(Order).where(Order.company_id == company.id, Order.id != standard.id))
    assert prepaid is not None
    assert (prepaid.prepaid, prepaid.payment_terms_days, prepaid.gross_total) == (True, 0, Decimal("192.16"))

    picture = await credit_picture(session, company.id, today=TODAY, grace_days=7)
    assert (picture.pending_orders, picture.exposure) == (Decimal("100.00"), Decimal("100.00"))
    prepaid.status = OrderStatus.APPROVED
    await session.commit()
    picture = await credit_picture(session, company.id, today=TODAY, grace_days=7)
    assert (picture.approved_orders, picture.pending_orders) == (Decimal("0.00"), Decimal("100.00"))
    assert picture.available_credit == Decimal("900.00")


async def test_the_confirmation_states_the_terms_with_their_effect_and_the_skonto(
    client: AsyncTestClient, session: AsyncSession, shop: dict
) -> None:
    await sign_in(client, shop["buyer"].email)
    await fill_cart(client, shop)
    page = (await client.get("/checkout")).text
    await client.post("/checkout", data=form_of(page, shop["prepay"].id), follow_redirects=False)
    order = await session.scalar(select(Order).where(Order.company_id == shop["company"].id))
    assert order is not None
    text = pdf_of(await client.get(f"/orders/{order.id}/confirmation.pdf"))
    assert "Prepayment (−1.00 %)" in text
    assert "2.00 % early-payment discount if paid within 7 days of the invoice date" in text
    assert "Gross total PLN 192.16" in text


async def test_orders_without_an_agreement_keep_the_standard_terms(
    client: AsyncTestClient, session: AsyncSession, shop: dict
) -> None:
    shop["agreement"].valid_to = date(2026, 6, 30)  # no agreement in force today
    await session.commit()
    await sign_in(client, shop["buyer"].email)
    await fill_cart(client, shop)
    page = (await client.get("/checkout")).text
    assert 'id="payment-choices"' not in page and "Payment terms: 30 days from the invoice." in text_of(page)
    await client.post("/checkout", data=form_of(page, 0), follow_redirects=False)
    order = await session.scalar(select(Order).where(Order.company_id == shop["company"].id))
    assert order is not None
    assert (order.agreement_id, order.payment_terms_days, order.payment_effect_pct, order.prepaid) == (
        None,
        30,
        Decimal("0.00"),
        False,
    )
    assert (order.skonto_pct, order.skonto_days, order.gross_total) == (None, None, Decimal("194.10"))


async def test_a_phone_order_offers_the_same_choice_and_recurring_orders_take_the_standard_terms(
    client: AsyncTestClient, session: AsyncSession, shop: dict
) -> None:
    company = shop["company"]
    await sign_in(client, shop["manager"].email)
    catalog = await client.get(f"/catalog?company={company.id}")
    await client.post(
        f"/customers/{company.id}/cart/add",
        data={"product_id": str(shop["glasses"].id), "quantity": "7", "_csrf_token": csrf_from(catalog.text)},
    )
    page = (await client.get(f"/customers/{company.id}/checkout")).text
    assert choice_text(page, shop["prepay"].id) == "Prepayment, −1.00 % Net PLN 69.30, gross PLN 85.24"
    placed = await client.post(
        f"/customers/{company.id}/checkout", data=form_of(page, shop["prepay"].id), follow_redirects=False
    )
    assert placed.status_code == 303, placed.text[:500]
    phoned = await session.scalar(select(Order).where(Order.company_id == company.id))
    assert phoned is not None and (phoned.prepaid, phoned.gross_total) == (True, Decimal("85.24"))

    address = await session.scalar(select(Address).where(Address.company_id == company.id))
    assert address is not None
    recurring = await ordering.place_order(
        session,
        company,
        [(shop["glasses"], 2)],
        today=TODAY,
        grace_days=7,
        margin_floor=Decimal("0"),
        buyer=None,
        key="recurring-test",
        source=OrderSource.RECURRING,
        delivery=TODAY + timedelta(days=7),
        address=address,
    )
    assert (recurring.agreement_id, recurring.payment_terms_days, recurring.payment_effect_pct) == (
        shop["agreement"].id,
        30,
        Decimal("0.00"),
    )
    assert (recurring.skonto_pct, recurring.skonto_days, recurring.prepaid) == (Decimal("2.00"), 7, False)
    assert recurring.lines[0].unit_price == Decimal("10.0000")


async def _invoiced(session: AsyncSession, shop: dict, *, gross: str, issued: date, paid: list[tuple[date, str]]):  # type: ignore[no-untyped-def]
    """An invoice of an order carrying 2 % skonto within 7 days, with its payments."""
    company = shop["company"]
    order = await make_order(session, company, gross=gross, status=OrderStatus.INVOICED)
    order.skonto_pct, order.skonto_days = Decimal("2.00"), 7
    total = sum((Decimal(amount) for _, amount in paid), Decimal("0.00"))
    invoice = await make_invoice(
        session, company, gross=gross, paid=str(total), issued=issued, due=issued + timedelta(days=30)
    )
    invoice.order_number = order.number
    for number, (paid_on, amount) in enumerate(paid):
        session.add(
            Payment(
                company_id=company.id,
                invoice_id=invoice.id,
                reference=f"{invoice.number}-{number}",
                paid_on=paid_on,
                amount=Decimal(amount),
            )
        )
    await session.flush()
    return invoice


async def test_the_statement_says_whether_each_skonto_was_earned_missed_or_is_still_possible(
    client: AsyncTestClient, session: AsyncSession, shop: dict
) -> None:
    plain = await make_invoice(session, shop["company"], gross="50.00", due=TODAY + timedelta(days=5))
    await session.commit()
    await sign_in(client, shop["buyer"].email)
    with counted_statements(client.app) as before:
        assert (await client.get("/statement")).status_code == 200

    # Issued 20 days ago: the last day is 13 days ago; 980.00 paid 14 days ago (1000 less 2 %).
    earned = await _invoiced(
        session, shop, gross="1000.00", issued=TODAY - timedelta(days=20), paid=[(TODAY - timedelta(days=14), "980.00")]
    )
    # Paid in full on the last day itself: earned too.
    on_the_day = await _invoiced(
        session, shop, gross="300.00", issued=TODAY - timedelta(days=40), paid=[(TODAY - timedelta(days=33), "300.00")]
    )
    # The last day was 23 days ago; paid in full 22 days ago, one day late: missed.
    late = await _invoiced(
        session, shop, gross="500.00", issued=TODAY - timedelta(days=30), paid=[(TODAY - timedelta(days=22), "500.00")]
    )
    # Issued 3 days ago, unpaid: possible until 1 Dec 2026, 2 % of 1234.56 = 24.6912 → 24.69.
    still = await _invoiced(session, shop, gross="1234.56", issued=TODAY - timedelta(days=3), paid=[])
    # Half paid in time, the last day passed: missed.
    partly = await _invoiced(
        session, shop, gross="200.00", issued=TODAY - timedelta(days=10), paid=[(TODAY - timedelta(days=5), "100.00")]
    )
    await session.commit()

    with counted_statements(client.app) as after:
        page = await client.get("/statement")
    assert len(after) == len(before)  # one query for every invoice's skonto, however many
    rows = {
        number: text_of(row)
        for number, row in re.findall(r'<tr data-invoice="([^"]+)"[^>]*>(.*?)</tr>', page.text, re.S)
    }
    assert "Skonto 2 %: earned" in rows[earned.number] and "Skonto 2 %: earned" in rows[on_the_day.number]
    assert "Skonto 2 %: missed" in rows[late.number] and "Skonto 2 %: missed" in rows[partly.number]
    assert "Skonto 2 %: possible until 1 Dec 2026: PLN 24.69" in rows[still.number]
    assert "Skonto" not in rows[plain.number]

    text = pdf_of(await client.get("/statement.pdf"))
    assert "Skonto 2 %: possible until 1 Dec 2026: PLN 24.69" in text
    assert text.count("Skonto 2 %: earned") == 2 and text.count("Skonto 2 %: missed") == 2
