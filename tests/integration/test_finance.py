"""Finance over HTTP: who may open and change what, the limit form with its
optimistic check, holds the buyers see, imports in two steps, the ageing report,
the account manager's read-only history and the buyer's statement."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal
from html import escape, unescape

import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from portal import clock
from portal.models import Company, CreditEvent, Invoice, Role
from tests.factories import csrf_from, make_company, make_invoice, make_user, sign_in, text_of
from tests.integration.test_route_fuzz import CSV_CASES
from tests.queries import counted_statements


def seller_today():  # type: ignore[no-untyped-def]
    return clock.today(__import__("zoneinfo").ZoneInfo("Europe/Warsaw"))


@pytest.fixture
async def accounts(session: AsyncSession) -> dict:
    manager = await make_user(session, Role.ACCOUNT_MANAGER, email="anna@seller.example")
    colleague = await make_user(session, Role.ACCOUNT_MANAGER, email="piotr@seller.example")
    company = await make_company(
        session,
        name="Pomerania Retail",
        tax_id="PL9550006006",
        credit_limit=Decimal("40000.00"),
        account_manager_id=manager.id,
    )
    other = await make_company(session, name="Warta Clinics", tax_id="PL7770008008", account_manager_id=colleague.id)
    users = {
        Role.BUYER: await make_user(session, company_id=company.id, email="pawel@pomerania.example"),
        Role.ACCOUNT_MANAGER: manager,
        Role.FINANCE: await make_user(session, Role.FINANCE, email="filip@seller.example", full_name="Filip Finance"),
        Role.ADMIN: await make_user(session, Role.ADMIN, email="ada@seller.example"),
    }
    stranger = await make_user(session, company_id=other.id, email="waldemar@warta.example")
    invoice = await make_invoice(
        session, company, gross="1000.00", paid="400.00", due=seller_today() + timedelta(days=10)
    )
    foreign = await make_invoice(session, other, gross="777.00", due=seller_today() + timedelta(days=10))
    await session.commit()
    return {
        "company": company,
        "other": other,
        "users": users,
        "stranger": stranger,
        "invoice": invoice,
        "foreign": foreign,
    }


async def csrf_cookie(client: AsyncTestClient) -> str:
    """The CSRF token of the session: signing in starts a new one, set by the next page."""
    await client.get("/")
    return client.cookies.get("csrftoken") or ""


def finance_urls(company_id: int) -> tuple[list[str], list[str]]:
    gets = [
        "/finance",
        f"/finance/companies/{company_id}",
        "/finance/ageing",
        "/finance/ageing.csv",
        "/finance/imports",
    ]
    posts = [
        f"/finance/companies/{company_id}/limit",
        f"/finance/companies/{company_id}/hold",
        f"/finance/companies/{company_id}/release",
        "/finance/imports",
        "/finance/imports/apply",
    ]
    return gets, posts


@pytest.mark.parametrize("role", list(Role))
async def test_only_finance_and_admin_open_or_change_anything_under_finance(
    client: AsyncTestClient, session: AsyncSession, accounts: dict, role: Role
) -> None:
    await sign_in(client, accounts["users"][role].email)
    allowed = role in (Role.FINANCE, Role.ADMIN)
    gets, posts = finance_urls(accounts["company"].id)
    csrf = await csrf_cookie(client)
    for path in gets:
        response = await client.get(path, follow_redirects=False)
        assert response.status_code == (200 if allowed else 403), f"{role.value} GET {path}"
    for path in posts:
        response = await client.post(path, data={"_csrf_token": csrf, "reason": ""}, follow_redirects=False)
        if allowed:
            assert response.status_code in (200, 303, 400, 409), f"{role.value} POST {path}"
        else:
            assert response.status_code == 403, f"{role.value} POST {path}"
    company = await session.get(Company, accounts["company"].id, populate_existing=True)
    assert company is not None and (company.credit_limit, company.on_hold) == (Decimal("40000.00"), False)
    assert await session.scalar(select(func.count()).select_from(CreditEvent)) == 0


async def test_finance_posts_need_the_csrf_token(client: AsyncTestClient, accounts: dict) -> None:
    await sign_in(client, accounts["users"][Role.FINANCE].email)
    _, posts = finance_urls(accounts["company"].id)
    for path in posts:
        response = await client.post(path, data={"reason": "x", "new_limit": "1", "expected_limit": "40000.00"})
        assert response.status_code == 403, path


async def change_limit(client: AsyncTestClient, company_id: int, new: str, reason: str, expected: str | None = None):  # type: ignore[no-untyped-def]
    page = (await client.get(f"/finance/companies/{company_id}")).text
    shown = re.search(r'name="expected_limit" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    return await client.post(
        f"/finance/companies/{company_id}/limit",
        follow_redirects=False,
        data={"_csrf_token": csrf_from(page), "expected_limit": expected or shown, "new_limit": new, "reason": reason},
    )


async def test_finance_raises_a_limit_with_a_reason_and_sees_it_in_the_history(
    client: AsyncTestClient, session: AsyncSession, accounts: dict
) -> None:
    company_id = accounts["company"].id
    await sign_in(client, accounts["users"][Role.FINANCE].email)

    response = await change_limit(client, company_id, "45 000,00", "Two new stores")

    assert (response.status_code, response.headers["location"]) == (303, f"/finance/companies/{company_id}")
    page = text_of((await client.get(response.headers["location"])).text)
    assert "Credit limit changed." in page
    assert "Limit PLN 40,000.00 → PLN 45,000.00" in page and "Filip Finance Two new stores" in page
    assert "Credit limit PLN 45,000.00" in page


async def test_a_stale_form_is_told_the_limit_changed_and_overwrites_nothing(
    client: AsyncTestClient, session: AsyncSession, accounts: dict
) -> None:
    company_id = accounts["company"].id
    await sign_in(client, accounts["users"][Role.FINANCE].email)
    await change_limit(client, company_id, "50000.00", "First")

    late = await change_limit(client, company_id, "30000.00", "Second, from an old tab", expected="40000.00")

    assert late.status_code == 409
    assert "The limit was changed by someone else meanwhile: it is now PLN 50,000.00. Nothing was saved" in text_of(
        late.text
    )
    assert 'value="30000.00"' in late.text and "Second, from an old tab</textarea>" in late.text
    assert 'name="expected_limit" value="50000.00"' in late.text
    assert await session.scalar(select(Company.credit_limit).where(Company.id == company_id)) == Decimal("50000.00")
    assert await session.scalar(select(func.count()).select_from(CreditEvent)) == 1


@pytest.mark.parametrize(
    ("new", "reason", "field", "message"),
    [
        ("abc", "Because", "limit_new_limit", "Enter an amount such as 1250.00."),
        ("１２３", "Because", "limit_new_limit", "Enter an amount such as 1250.00."),
        ("45000.001", "Because", "limit_new_limit", "Use at most 2 decimal places."),
        ("9999999999999", "Because", "limit_new_limit", "Enter an amount such as 1250.00."),
        ("-100", "Because", "limit_new_limit", "A credit limit cannot be negative."),
        ("40 000,00", "Because", "limit_new_limit", "The limit is already that amount."),
        ("", "Because", "limit_new_limit", "This field is required."),
        ("45000", "", "limit_reason", "This field is required."),
        ("45000", "   ", "limit_reason", "Give a reason: it is kept in the credit history."),
        ("45000", "x" * 2001, "limit_reason", "Use at most 2,000 characters."),
        ("45000", "a\x00b", "limit_reason", "This text contains a character that cannot be saved."),
    ],
)
async def test_bad_limit_input_is_shown_by_its_field_and_nothing_is_saved(
    client: AsyncTestClient, session: AsyncSession, accounts: dict, new: str, reason: str, field: str, message: str
) -> None:
    await sign_in(client, accounts["users"][Role.FINANCE].email)
    response = await change_limit(client, accounts["company"].id, new, reason)
    assert response.status_code == 400
    assert f'<p class="field-error" id="{field}-error" role="alert">{escape(message)}</p>' in response.text
    assert f'aria-describedby="{field}-error"' in response.text
    assert f'name="new_limit" inputmode="decimal" required value="{escape(new)}"' in response.text  # kept as typed
    if "\x00" not in reason:
        assert f"{escape(reason)}</textarea>" in response.text
    assert 'name="expected_limit" value="40000.00"' in response.text
    assert await session.scalar(select(func.count()).select_from(CreditEvent)) == 0
    assert await session.scalar(select(Company.credit_limit).where(Company.id == accounts["company"].id)) == Decimal(
        "40000.00"
    )


async def test_a_limit_form_without_the_limit_it_was_shown_with_asks_for_a_reload(
    client: AsyncTestClient, session: AsyncSession, accounts: dict
) -> None:
    await sign_in(client, accounts["users"][Role.FINANCE].email)
    for expected in ("", "forty", "1e5"):
        response = await change_limit(client, accounts["company"].id, "45000.00", "Because", expected=expected or " ")
        assert response.status_code == 400
        assert (
            '<p class="field-error" id="limit_form-error" role="alert">The form is out of date; reload the page.</p>'
            in (response.text)
        )
    assert await session.scalar(select(func.count()).select_from(CreditEvent)) == 0


@pytest.mark.parametrize("action", ["hold", "release"])
@pytest.mark.parametrize(
    ("reason", "message"),
    [
        ("", "This field is required."),
        (" ", "Give a reason: it is kept in the credit history."),
        ("y" * 2001, "Use at most 2,000 characters."),
    ],
)
async def test_a_hold_or_release_without_a_good_reason_is_shown_by_its_field(
    client: AsyncTestClient, session: AsyncSession, accounts: dict, action: str, reason: str, message: str
) -> None:
    company_id = accounts["company"].id
    if action == "release":
        company = await session.get(Company, company_id)
        assert company is not None
        company.on_hold, company.hold_reason = True, "Cheque returned"
        await session.commit()
    await sign_in(client, accounts["users"][Role.FINANCE].email)
    page = await client.get(f"/finance/companies/{company_id}")
    response = await client.post(
        f"/finance/companies/{company_id}/{action}", data={"_csrf_token": csrf_from(page.text), "reason": reason}
    )
    assert response.status_code == 400
    assert f'<p class="field-error" id="{action}_reason-error" role="alert">{message}</p>' in response.text
    assert f'id="{action}-reason"' in response.text and f"{reason}</textarea>" in response.text
    held = await session.scalar(
        select(Company.on_hold).where(Company.id == company_id).execution_options(populate_existing=True)
    )
    assert held is (action == "release")
    assert await session.scalar(select(func.count()).select_from(CreditEvent)) == 0


@pytest.mark.parametrize("path", ["", "/limit", "/hold", "/release"])
@pytest.mark.parametrize("company_id", ["9223372036854775808", "2147483648", "0", "-1", "987654"])
async def test_a_company_id_that_names_no_company_is_404(
    client: AsyncTestClient, accounts: dict, path: str, company_id: str
) -> None:
    await sign_in(client, accounts["users"][Role.FINANCE].email)
    csrf = await csrf_cookie(client)
    url = f"/finance/companies/{company_id}{path}"
    data = {"_csrf_token": csrf, "reason": "Because", "new_limit": "1.00", "expected_limit": "40000.00"}
    response = await (client.post(url, data=data) if path else client.get(url))
    assert response.status_code == 404, url


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("sort=bogus", "sort: This value is not one of the choices."),
        ("direction=sideways", "direction: This value is not one of the choices."),
        ("show=everything", "show: This value is not one of the choices."),
    ],
)
async def test_an_unknown_overview_choice_is_a_readable_400(
    client: AsyncTestClient, accounts: dict, query: str, message: str
) -> None:
    await sign_in(client, accounts["users"][Role.FINANCE].email)
    response = await client.get(f"/finance?{query}")
    assert response.status_code == 400 and message in text_of(response.text)
    assert (await client.get("/finance?show=&sort=&direction=")).status_code == 200  # blank is the default


async def test_a_held_company_s_buyers_see_why_until_it_is_released(
    client: AsyncTestClient, session: AsyncSession, accounts: dict
) -> None:
    company_id = accounts["company"].id
    await sign_in(client, accounts["users"][Role.FINANCE].email)
    page = await client.get(f"/finance/companies/{company_id}")
    held = await client.post(
        f"/finance/companies/{company_id}/hold", data={"_csrf_token": csrf_from(page.text), "reason": "Cheque returned"}
    )
    assert "Account put on hold." in text_of(held.text) and 'id="release-form"' in held.text
    again = await client.post(
        f"/finance/companies/{company_id}/hold", data={"_csrf_token": csrf_from(page.text), "reason": "Twice"}
    )
    assert again.status_code == 409 and "Pomerania Retail is already on hold; nothing was changed." in text_of(
        again.text
    )

    client.cookies.clear()
    await sign_in(client, accounts["users"][Role.BUYER].email)
    for path in ("/dashboard", "/statement"):
        assert (
            "Your account is on hold. Orders cannot be submitted until it is released. Reason: Cheque returned"
            in text_of((await client.get(path)).text)
        )

    client.cookies.clear()
    await sign_in(client, accounts["users"][Role.ADMIN].email)
    page = await client.get(f"/finance/companies/{company_id}")
    released = await client.post(
        f"/finance/companies/{company_id}/release",
        data={"_csrf_token": csrf_from(page.text), "reason": "Paid"},
        follow_redirects=True,
    )
    history = text_of(released.text.split('id="credit-history"')[1])
    assert "Released from hold" in history and "Put on hold" in history
    assert history.index("Released from hold") < history.index("Put on hold")  # newest first
    client.cookies.clear()
    await sign_in(client, accounts["users"][Role.BUYER].email)
    assert "on hold" not in text_of((await client.get("/dashboard")).text)


async def test_the_history_cannot_be_edited_through_any_url(
    client: AsyncTestClient, session: AsyncSession, accounts: dict
) -> None:
    company_id = accounts["company"].id
    await sign_in(client, accounts["users"][Role.ADMIN].email)
    await change_limit(client, company_id, "45000.00", "Original")
    event_id = await session.scalar(select(CreditEvent.id))
    csrf = client.cookies.get("csrftoken")
    paths = [
        f"/finance/companies/{company_id}/history",
        f"/finance/companies/{company_id}/history/{event_id}",
        f"/finance/history/{event_id}",
        f"/finance/companies/{company_id}/limit",
        f"/customers/{company_id}/credit",
        f"/finance/companies/{company_id}",
    ]
    for path in paths:
        for method in ("put", "patch", "delete", "post"):
            if method == "post" and path.endswith("/limit"):
                continue
            response = await client.request(
                method.upper(),
                path,
                data={"_csrf_token": csrf, "reason": "Rewritten"},
                headers={"x-csrftoken": csrf or ""},
            )
            assert response.status_code in (404, 405), f"{method} {path}: {response.status_code}"
    (event,) = (await session.scalars(select(CreditEvent).execution_options(populate_existing=True))).all()
    assert (event.reason, event.new_limit) == ("Original", Decimal("45000.00"))


async def test_the_account_manager_reads_the_history_of_own_customers_only(
    client: AsyncTestClient, session: AsyncSession, accounts: dict
) -> None:
    await sign_in(client, accounts["users"][Role.FINANCE].email)
    await change_limit(client, accounts["company"].id, "45000.00", "Two new stores")
    client.cookies.clear()
    await sign_in(client, accounts["users"][Role.ACCOUNT_MANAGER].email)

    mine = await client.get(f"/customers/{accounts['company'].id}/credit")
    theirs = await client.get(f"/customers/{accounts['other'].id}/credit")
    missing = await client.get("/customers/987654/credit")

    assert mine.status_code == 200
    assert "Limit PLN 40,000.00 → PLN 45,000.00" in text_of(mine.text) and "Two new stores" in mine.text
    assert "<form" not in mine.text.split("<main")[1].split("Sign out")[-1]  # nothing to change here
    assert theirs.status_code == missing.status_code == 404
    assert f'href="/customers/{accounts["company"].id}"' in (await client.get("/manager")).text
    customer_page = (await client.get(f"/customers/{accounts['company'].id}")).text
    assert f'href="/customers/{accounts["company"].id}/credit"' in customer_page
    for role in (Role.BUYER, Role.FINANCE):
        client.cookies.clear()
        await sign_in(client, accounts["users"][role].email)
        assert (await client.get(f"/customers/{accounts['company'].id}/credit")).status_code == 403


async def test_the_statement_shows_the_buyer_s_own_invoices_and_downloads_as_csv(
    client: AsyncTestClient, session: AsyncSession, accounts: dict
) -> None:
    await make_invoice(
        session, accounts["company"], gross="250.00", paid="250.00", due=seller_today() - timedelta(days=20)
    )
    await make_invoice(session, accounts["company"], gross="80.00", due=seller_today() - timedelta(days=4))
    await session.commit()
    await sign_in(client, accounts["users"][Role.BUYER].email)

    page = await client.get("/statement")
    text = text_of(page.text)

    assert page.status_code == 200
    assert accounts["invoice"].number in text and accounts["foreign"].number not in text
    assert "PLN 1,000.00 PLN 400.00 PLN 600.00" in text
    assert "Total open PLN 1,080.00 PLN 400.00 PLN 680.00" in text and "Of which overdue: PLN 80.00" in text
    assert "Payment terms 30 days" in text and "Available credit PLN 39,320.00" in text
    download = await client.get("/statement.csv")
    assert download.headers["content-type"].startswith("text/csv")
    lines = download.content.decode("utf-8-sig").splitlines()
    invoices = lines[: lines.index("")]  # an empty row, then the totals, the terms and the credit picture
    assert invoices[0] == "Invoice,Issued,Due,Currency,Gross,Paid,Balance,Days overdue,Order"
    assert len(invoices) == 4 and all("777.00" not in line for line in lines)
    assert any(line.endswith(",80.00,0.00,80.00,4,") for line in lines)
    for role in (Role.ACCOUNT_MANAGER, Role.FINANCE, Role.ADMIN):
        client.cookies.clear()
        await sign_in(client, accounts["users"][role].email)
        assert (await client.get("/statement")).status_code == 403
        assert (await client.get("/statement.csv")).status_code == 403


async def test_a_payments_file_is_checked_then_applied_and_the_buyer_sees_the_balance(
    client: AsyncTestClient, session: AsyncSession, accounts: dict
) -> None:
    number = accounts["invoice"].number
    await sign_in(client, accounts["users"][Role.FINANCE].email)
    form = await client.get("/finance/imports")
    bad = f"invoice_number;paid_on;amount;reference\r\n{number};2026-11-01;100,00;BANK-1\r\n{number};2026-11-02;900,00;BANK-2\r\n"

    checked = await client.post(
        "/finance/imports",
        data={"_csrf_token": csrf_from(form.text), "kind": "payments"},
        files={"file": ("payments.csv", bad.encode("utf-8"), "text/csv")},
    )

    assert checked.status_code == 400
    assert 'data-row="3"' in checked.text and "exceeds the balance PLN 500.00" in text_of(checked.text)
    assert 'id="apply-form"' not in checked.text and "Nothing was imported." in text_of(checked.text)

    good = bad.replace("900,00", "200,00")
    checked = await client.post(
        "/finance/imports",
        data={"_csrf_token": csrf_from(form.text), "kind": "payments"},
        files={"file": ("payments.csv", good.encode("utf-8"), "text/csv")},
    )
    assert checked.status_code == 200 and "2 new, 0 already imported, 0 with errors." in text_of(checked.text)
    content = unescape(re.search(r'name="content" value="([^"]*)"', checked.text).group(1))  # type: ignore[union-attr]
    applied = await client.post(
        "/finance/imports/apply",
        follow_redirects=False,
        data={"_csrf_token": csrf_from(checked.text), "kind": "payments", "content": content},
    )
    assert applied.status_code == 303
    assert "Imported 2 payments. 0 payments were already there unchanged." in text_of(
        (await client.get("/finance/imports")).text
    )
    again = await client.post(
        "/finance/imports/apply",
        follow_redirects=True,
        data={"_csrf_token": csrf_from(checked.text), "kind": "payments", "content": content},
    )
    assert "Imported 0 payments. 2 payments were already there unchanged." in text_of(again.text)

    invoice = await session.scalar(
        select(Invoice).where(Invoice.number == number).execution_options(populate_existing=True)
    )
    assert invoice is not None and invoice.paid_amount == Decimal("700.00")
    client.cookies.clear()
    await sign_in(client, accounts["users"][Role.BUYER].email)
    assert "PLN 1,000.00 PLN 700.00 PLN 300.00" in text_of((await client.get("/statement")).text)


@pytest.mark.parametrize(
    ("kind", "file", "field", "message"),
    [
        (
            "orders",
            b"invoice_number,paid_on,amount\nX,2026-01-01,1\n",
            "kind",
            "Choose what the file holds: invoices or payments.",
        ),
        (
            "",
            b"invoice_number,paid_on,amount\nX,2026-01-01,1\n",
            "kind",
            "Choose what the file holds: invoices or payments.",
        ),
        ("payments", b"", "file", "The file is empty. Choose a CSV file with a header row and at least one row."),
        ("payments", None, "file", "The file is empty. Choose a CSV file with a header row and at least one row."),
        (
            "payments",
            b"a" * 1_000_001,
            "file",
            "The file is larger than 1 MB; nothing was read. Split it into smaller files.",
        ),
        ("payments", b";;;;\n;;;\n", "file", "Row 1: the first line must name the columns, but it has no names."),
        ("payments", b"invoice_number,paid_on,amount\nA\x00B,1,1\n", "file", "The file contains NUL bytes"),
        ("payments", b'invoice_number,paid_on,amount\n"' + b"x" * 140_000 + b"\n", "file", "Row 2 cannot be read"),
    ],
)
async def test_an_import_needs_a_kind_and_a_readable_file(
    client: AsyncTestClient,
    session: AsyncSession,
    accounts: dict,
    kind: str,
    file: bytes | None,
    field: str,
    message: str,
) -> None:
    await sign_in(client, accounts["users"][Role.FINANCE].email)
    form = await client.get("/finance/imports")
    assert "at most 1 MB and 5,000 rows. Larger files are refused, never cut" in text_of(form.text)
    files = {"file": ("import.csv", file, "text/csv")} if file is not None else {"other": ("x.txt", b"x", "text/plain")}
    response = await client.post(
        "/finance/imports", data={"_csrf_token": csrf_from(form.text), "kind": kind}, files=files
    )
    assert response.status_code == 400
    error = re.search(rf'<p class="field-error" id="{field}-error" role="alert">([^<]*)</p>', response.text)
    assert error is not None and unescape(error.group(1)).startswith(message)
    assert 'id="apply-form"' not in response.text
    if kind == "payments":
        assert '<option value="payments" selected>' in response.text  # the choice is kept
    assert await session.scalar(select(func.count()).select_from(Invoice)) == 2  # nothing was added


async def test_an_import_applied_from_a_stale_check_is_refused_row_by_row_and_nothing_applied(
    client: AsyncTestClient, session: AsyncSession, accounts: dict
) -> None:
    number = accounts["invoice"].number
    await sign_in(client, accounts["users"][Role.FINANCE].email)
    form = await client.get("/finance/imports")
    content = f"invoice_number;paid_on;amount;reference\r\n{number};2026-11-01;500,00;BANK-9\r\n"
    checked = await client.post(
        "/finance/imports",
        data={"_csrf_token": csrf_from(form.text), "kind": "payments"},
        files={"file": ("payments.csv", content.encode("utf-8"), "text/csv")},
    )
    assert checked.status_code == 200 and 'id="apply-form"' in checked.text
    invoice = await session.scalar(select(Invoice).where(Invoice.number == number))
    assert invoice is not None
    invoice.paid_amount = Decimal("900.00")  # paid meanwhile by another import
    await session.commit()

    applied = await client.post(
        "/finance/imports/apply",
        follow_redirects=False,
        data={"_csrf_token": csrf_from(checked.text), "kind": "payments", "content": content},
    )

    assert applied.status_code == 400
    page = text_of(applied.text)
    assert "Nothing was imported. Correct the rows and check the file again." in page
    assert 'data-row="2"' in applied.text and "exceeds the balance PLN 100.00" in page
    assert 'id="apply-form"' not in applied.text
    await session.refresh(invoice)
    assert invoice.paid_amount == Decimal("900.00")


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"kind": "payments"}, "content", "Nothing to import; choose the file and check it again."),
        ({"kind": "refunds", "content": "x"}, "kind", "Choose what the file holds: invoices or payments."),
        ({"kind": "payments", "content": "invoice_number\x00"}, "content", "Nothing to import; choose the file"),
    ],
)
async def test_an_apply_without_a_good_kind_or_file_says_so(
    client: AsyncTestClient, accounts: dict, data: dict, field: str, message: str
) -> None:
    await sign_in(client, accounts["users"][Role.FINANCE].email)
    response = await client.post("/finance/imports/apply", data={"_csrf_token": await csrf_cookie(client), **data})
    assert response.status_code == 400
    assert re.search(rf'<p class="field-error" id="{field}-error" role="alert">{re.escape(message)}', response.text)


async def test_the_overview_filters_and_shows_a_bar_per_company(
    client: AsyncTestClient, session: AsyncSession, accounts: dict
) -> None:
    busy = await make_company(session, name="Busy Bistro", credit_limit=Decimal("1000.00"))
    await make_invoice(session, busy, gross="900.00", due=seller_today() + timedelta(days=3))
    await session.commit()
    await sign_in(client, accounts["users"][Role.FINANCE].email)

    everything = (await client.get("/finance")).text
    busy_only = (await client.get("/finance?show=highly_utilised&sort=exposure&direction=desc")).text

    assert everything.count("<meter") == 3
    assert 'value="90.0"' in everything
    assert 'data-company="Busy Bistro"' in busy_only and 'data-company="Pomerania Retail"' not in busy_only
    assert "1 of 3 companies" in text_of(busy_only)
    assert "invoices PLN 900.00 approved orders PLN 0.00 pending orders PLN 0.00" in text_of(busy_only)
    assert (
        'href="/finance?show=highly_utilised&amp;sort=name&amp;direction=asc"' in busy_only
    )  # sorting keeps the filter
    assert 'href="/finance?show=highly_utilised&amp;sort=exposure&amp;direction=asc"' in busy_only  # turns round


async def test_ageing_report_and_csv(client: AsyncTestClient, session: AsyncSession, accounts: dict) -> None:
    await make_invoice(session, accounts["other"], gross="50.00", due=seller_today() - timedelta(days=95))
    await session.commit()
    await sign_in(client, accounts["users"][Role.FINANCE].email)

    page = text_of((await client.get("/finance/ageing")).text)
    download = (await client.get("/finance/ageing.csv")).content.decode("utf-8-sig").splitlines()

    assert "Pomerania Retail PLN 600.00 PLN 600.00" in page
    assert "Total PLN PLN 1,377.00 PLN 0.00 PLN 0.00 PLN 0.00 PLN 50.00 PLN 1,427.00" in page
    assert download == [
        "Company,Tax id,Currency,Not due,1-30,31-60,61-90,Over 90,Total",
        "Pomerania Retail,PL9550006006,PLN,600.00,0.00,0.00,0.00,0.00,600.00",
        "Warta Clinics,PL7770008008,PLN,777.00,0.00,0.00,0.00,50.00,827.00",
        "Total,,PLN,1377.00,0.00,0.00,0.00,50.00,1427.00",
    ]


async def test_the_ageing_report_costs_the_same_queries_for_3_and_30_companies(
    client: AsyncTestClient, session: AsyncSession
) -> None:
    finance = await make_user(session, Role.FINANCE)
    await session.commit()
    await sign_in(client, finance.email)

    async def statements_for(companies: int) -> int:
        for _ in range(companies):
            company = await make_company(session)
            await make_invoice(session, company, gross="10.00", due=seller_today() - timedelta(days=40))
        await session.commit()
        with counted_statements(client.app) as statements:
            assert (await client.get("/finance/ageing")).status_code == 200
        return len(statements)

    assert await statements_for(3) == await statements_for(27) <= 4


async def test_a_company_above_its_limit_shows_over_limit_never_good_standing(
    client: AsyncTestClient, session: AsyncSession, accounts: dict
) -> None:
    over = await make_company(session, name="Over Limit Ltd", credit_limit=Decimal("500.00"))
    await make_invoice(session, over, gross="700.00", due=seller_today() + timedelta(days=20))  # nothing overdue
    await session.commit()
    await sign_in(client, accounts["users"][Role.FINANCE].email)

    overview = (await client.get("/finance")).text
    row = overview.split('data-company="Over Limit Ltd"')[1].split("</tr>")[0]
    company = (await client.get(f"/finance/companies/{over.id}")).text
    picture = company.split('id="credit-picture"')[1].split("</section>")[0]

    for html in (row, picture):
        assert "Over limit" in html and "Good standing" not in html
    assert 'data-standing="over_limit"' in overview
    assert '<td class="num negative">' in row  # available credit below zero
    assert 'data-standing="good"' in overview.split('data-company="Pomerania Retail"')[1].split("</tr>")[0]
    client.cookies.clear()
    await sign_in(client, accounts["users"][Role.ADMIN].email)
    history = (await client.get(f"/customers/{over.id}/credit")).text
    assert "Over limit" in history and "Good standing" not in history


async def test_a_file_name_cannot_break_the_download_header(
    client: AsyncTestClient, session: AsyncSession, accounts: dict
) -> None:
    company = await session.get(Company, accounts["company"].id)
    assert company is not None
    company.tax_id = 'PL"9\r\nX-Evil: 1/ą'
    await session.commit()
    await sign_in(client, accounts["users"][Role.BUYER].email)
    response = await client.get("/statement.csv")
    assert response.status_code == 200 and "x-evil" not in response.headers
    assert response.headers["content-disposition"].startswith('attachment; filename="statement-PL-9-X-Evil-1-')


@pytest.mark.parametrize("kind", ["invoices", "payments"])
async def test_odd_files_are_refused_with_a_reason_never_a_5xx(
    client: AsyncTestClient, session: AsyncSession, accounts: dict, kind: str
) -> None:
    await sign_in(client, accounts["users"][Role.FINANCE].email)
    csrf = csrf_from((await client.get("/finance/imports")).text)
    for content in CSV_CASES:
        checked = await client.post(
            "/finance/imports",
            data={"_csrf_token": csrf, "kind": kind},
            files={"file": ("odd.csv", content, "text/csv")},
        )
        assert checked.status_code == 400, content[:40]
        said = re.search(
            r'<p class="field-error" id="file-error" role="alert">[^<]+</p>|class="row-error"', checked.text
        )
        assert said and 'id="apply-form"' not in checked.text, content[:40]  # the file's or its rows' problems
        applied = await client.post(
            "/finance/imports/apply",
            data={"_csrf_token": csrf, "kind": kind, "content": content.decode("latin-1")[:1_000_001]},
        )
        assert applied.status_code == 400, content[:40]
        assert (
            re.search(r'class="field-error"|class="row-error"', applied.text) and 'id="apply-form"' not in applied.text
        )
    assert await session.scalar(select(func.count()).select_from(Invoice)) == 2


async def test_the_overview_shows_a_hundred_companies_a_page_sorted_and_counted_over_all(
    client: AsyncTestClient, session: AsyncSession
) -> None:
    finance = await make_user(session, Role.FINANCE)
    for number in range(103):
        company = await make_company(session, name=f"Firma {number:03d}", credit_limit=Decimal("1000.00"))
        await make_invoice(session, company, gross=f"{number + 1}.00", due=seller_today() + timedelta(days=5))
    await session.commit()
    await sign_in(client, finance.email)

    def rows(page: str) -> list[str]:
        return re.findall(r'<tr data-company="([^"]+)"', page)

    with counted_statements(client.app) as statements:
        first = (await client.get("/finance", params={"sort": "exposure", "direction": "desc"})).text
    assert rows(first)[:2] == ["Firma 102", "Firma 101"] and len(rows(first)) == 100
    assert "103 of 103 companies" in text_of(first) and "Page 1 of 2" in text_of(first)
    assert 'href="/finance?sort=exposure&amp;direction=desc&amp;page=2" rel="next"' in first
    assert len(statements) <= 4, statements  # the session with its user, the credit of every company, the day's tasks
    second = (await client.get("/finance", params={"sort": "exposure", "direction": "desc", "page": 2})).text
    assert rows(second) == ["Firma 002", "Firma 001", "Firma 000"]
    past_the_end = (await client.get("/finance", params={"sort": "exposure", "direction": "desc", "page": 9})).text
    assert rows(past_the_end) == rows(second) and "Page 2 of 2" in text_of(past_the_end)
