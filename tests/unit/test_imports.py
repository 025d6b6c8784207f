"""ERP imports: every row checked first with its row number, then all applied or
nothing; the same file again changes nothing; an invoiced order counts once."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from portal.models import Invoice, Order, OrderEvent, OrderStatus, Payment, Role
from portal.services import audit
from portal.services.credit import credit_picture
from portal.services.imports import (
    MAX_FILE_BYTES,
    MAX_ROWS,
    ImportKind,
    ImportRefused,
    Outcome,
    apply_import,
    check_import,
)
from tests.factories import make_company, make_invoice, make_order, make_user

TODAY = date(2026, 11, 27)
INVOICES = ImportKind.INVOICES
PAYMENTS = ImportKind.PAYMENTS


@pytest.fixture
async def erp(session: AsyncSession) -> dict:
    company = await make_company(
        session, name="Pomerania Retail", tax_id="PL9550006006", credit_limit=Decimal("40000.00")
    )
    other = await make_company(session, name="Warta Clinics", tax_id="PL7770008008")
    finance = await make_user(session, Role.FINANCE)
    await session.commit()
    return {"company": company, "other": other, "finance": finance}


def csv(*lines: str) -> bytes:
    return ("\r\n".join(lines) + "\r\n").encode("utf-8")


async def snapshot(session: AsyncSession) -> list[tuple]:
    """Everything an import may touch, to compare before and after."""
    session.expunge_all()
    invoices = [
        (i.number, i.gross_amount, i.paid_amount, i.order_number)
        for i in await session.scalars(select(Invoice).order_by(Invoice.id))
    ]
    payments = [(p.reference, p.amount) for p in await session.scalars(select(Payment).order_by(Payment.id))]
    orders = [(o.number, o.status) for o in await session.scalars(select(Order).order_by(Order.id))]
    events = [(e.order_id, e.to_status) for e in await session.scalars(select(OrderEvent).order_by(OrderEvent.id))]
    return [tuple(invoices), tuple(payments), tuple(orders), tuple(events)]


async def errors_by_row(session: AsyncSession, kind: ImportKind, content: bytes) -> dict[int, list[str]]:
    report = await check_import(session, kind, content, today=TODAY)
    return {row.number: row.errors for row in report.rows if row.errors}


async def test_invoices_are_imported_with_semicolons_decimal_commas_and_a_bom(session: AsyncSession, erp: dict) -> None:
    content = (
        "\ufeffInvoice number;Tax ID;Issue date;Due date;Gross;Currency\r\n"
        "FV/1;PL 955-000-60-06;2026-11-01;2026-12-01;1 230,50;pln\r\n"
        "FV/2;PL9550006006;01.11.2026;15.11.2026;99,99;PLN\r\n"
    )
    report = await apply_import(session, INVOICES, content.encode("utf-8"), erp["finance"], today=TODAY)
    await session.commit()

    assert report.count(Outcome.NEW) == 2
    stored = {i.number: i for i in await session.scalars(select(Invoice))}
    assert stored["FV/1"].gross_amount == Decimal("1230.50") and stored["FV/1"].paid_amount == Decimal("0.00")
    assert stored["FV/2"].due_date == date(2026, 11, 15)
    picture = await credit_picture(session, erp["company"].id, today=TODAY, grace_days=7)
    assert picture.unpaid_invoices == Decimal("1330.49")
    [entry] = (await audit.entries(session, audit.AuditFilter(object_type="import"))).entries
    assert (entry.actor_id, entry.object_label, entry.note) == (
        erp["finance"].id,
        "invoices",
        '{"error": 0, "new": 2, "unchanged": 0}',
    )


async def test_every_invoice_row_is_checked_and_reported_by_its_row_number(session: AsyncSession, erp: dict) -> None:
    content = csv(
        "invoice_number,tax_id,issue_date,due_date,gross,currency",
        "FV/1,PL9550006006,2026-11-01,2026-12-01,100.00,PLN",
        "FV/2,PL0000000000,2026-11-01,2026-12-01,100.00,PLN",
        "FV/3,PL9550006006,2026-13-01,2026-12-01,100.00,PLN",
        "FV/4,PL9550006006,2026-11-01,2026-10-01,100.00,PLN",
        'FV/5,PL9550006006,2026-11-01,2026-12-01,"1,234",PLN',
        "FV/6,PL9550006006,2026-11-01,2026-12-01,100.00,EUR",
        "FV/1,PL9550006006,2026-11-01,2026-12-01,200.00,PLN",
        "",
        ",PL9550006006,2026-11-01,2026-12-01,-5,PLN",
    )
    errors = await errors_by_row(session, INVOICES, content)

    assert 2 not in errors
    assert errors[3] == ["No customer company has the tax id “PL0000000000”."]
    assert errors[4] == ["The issue date “2026-13-01” is not a date (YYYY-MM-DD)."]
    assert errors[5] == ["The due date is before the issue date."]
    assert errors[6] == ["The gross amount “1,234” is not an amount."]
    assert errors[7] == ["The currency EUR is not the company's currency PLN."]
    assert errors[8] == ["Invoice FV/1 is also in row 2 with other figures."]
    assert errors[10] == ["No invoice number.", "The gross amount cannot be negative."]


async def test_a_missing_column_is_reported_before_any_row(session: AsyncSession, erp: dict) -> None:
    report = await check_import(
        session, INVOICES, csv("invoice_number,tax_id,due_date,gross", "FV/1,X,2026-01-01,1"), today=TODAY
    )
    assert not report.ok
    assert "Row 1: the header has no column “issue_date”." in report.file_errors
    assert (await check_import(session, PAYMENTS, b"\xff\xfe", today=TODAY)).file_errors == [
        "The file is not UTF-8 text. In Excel, save it as “CSV UTF-8”."
    ]


async def test_one_bad_row_leaves_the_database_exactly_as_it_was(session: AsyncSession, erp: dict) -> None:
    invoice = await make_invoice(session, erp["company"], gross="1000.00", paid="100.00", due=date(2026, 12, 10))
    order = await make_order(session, erp["company"], gross="500.00", status=OrderStatus.APPROVED)
    await session.commit()
    before = await snapshot(session)
    invoices = csv(
        "invoice_number,tax_id,issue_date,due_date,gross,currency,order_number",
        f"FV/NEW,PL9550006006,2026-11-20,2026-12-20,500.00,PLN,{order.number}",
        "FV/BAD,PL9550006006,2026-11-20,not a date,500.00,PLN,",
    )
    payments = csv(
        "invoice_number,paid_on,amount,reference",
        f"{invoice.number},2026-11-20,100.00,BANK-1",
        f"{invoice.number},2026-11-21,1000.00,BANK-2",
    )

    for kind, content in [(INVOICES, invoices), (PAYMENTS, payments)]:
        with pytest.raises(ImportRefused) as refused:
            await apply_import(session, kind, content, erp["finance"], today=TODAY)
        assert [row.number for row in refused.value.report.rows if row.errors] == [3]
        await session.commit()  # even a commit afterwards finds nothing to write

    assert await snapshot(session) == before


async def test_reimporting_the_same_files_changes_nothing(session: AsyncSession, erp: dict) -> None:
    invoices = csv(
        "invoice_number,tax_id,issue_date,due_date,gross,currency",
        "FV/1,PL9550006006,2026-11-01,2026-12-01,1000.00,PLN",
    )
    payments = csv("invoice_number,paid_on,amount", "FV/1,2026-11-20,250.00", "FV/1,2026-11-20,250.00")
    await apply_import(session, INVOICES, invoices, erp["finance"], today=TODAY)
    report = await apply_import(session, PAYMENTS, payments, erp["finance"], today=TODAY)
    await session.commit()
    assert report.count(Outcome.NEW) == 2  # two equal payments on one day are two payments
    after_first = await snapshot(session)

    again_invoices = await apply_import(session, INVOICES, invoices, erp["finance"], today=TODAY)
    again_payments = await apply_import(session, PAYMENTS, payments, erp["finance"], today=TODAY)
    await session.commit()

    assert (again_invoices.count(Outcome.UNCHANGED), again_invoices.count(Outcome.NEW)) == (1, 0)
    assert (again_payments.count(Outcome.UNCHANGED), again_payments.count(Outcome.NEW)) == (2, 0)
    assert await snapshot(session) == after_first
    invoice = await session.scalar(select(Invoice).where(Invoice.number == "FV/1"))
    assert invoice is not None and invoice.paid_amount == Decimal("500.00")


async def test_a_known_invoice_number_with_other_figures_is_an_error(session: AsyncSession, erp: dict) -> None:
    await apply_import(
        session,
        INVOICES,
        csv(
            "invoice_number,tax_id,issue_date,due_date,gross,currency",
            "FV/1,PL9550006006,2026-11-01,2026-12-01,1000.00,PLN",
        ),
        erp["finance"],
        today=TODAY,
    )
    errors = await errors_by_row(
        session,
        INVOICES,
        csv(
            "invoice_number,tax_id,issue_date,due_date,gross,currency",
            "FV/1,PL9550006006,2026-11-01,2026-12-01,1100.00,PLN",
        ),
    )
    assert errors == {
        2: [
            "Invoice FV/1 was imported before with other figures (gross PLN\xa01,000.00, "
            "issued 2026-11-01, due 2026-12-01)."
        ]
    }


async def test_payments_are_checked_against_the_balance_row_by_row(session: AsyncSession, erp: dict) -> None:
    invoice = await make_invoice(session, erp["company"], gross="1000.00", paid="400.00", due=date(2026, 12, 10))
    await session.commit()
    number = invoice.number
    content = csv(
        "invoice_number;paid_on;amount;reference".replace(";", ","),
        f"{number},2026-11-20,500.00,BANK-1",
        f"{number},2026-11-21,100.01,BANK-2",  # 600 open, 500 of it paid by row 2
        "FV/NOPE,2026-11-21,1.00,BANK-3",
        f"{number},2026-11-28,1.00,BANK-4",
        f"{number},yesterday,0,BANK-5",
        f"{number},2026-11-20,500.00,BANK-1",
        f"{number},2026-11-20,400.00,BANK-1",
    )
    errors = await errors_by_row(session, PAYMENTS, content)

    assert errors == {
        3: [f"The payment of PLN\xa0100.01 exceeds the balance PLN\xa0100.00 of invoice {number}."],
        4: ["No invoice FV/NOPE; import the invoice first."],
        5: ["The payment date 2026-11-28 is in the future."],
        6: ["The payment date “yesterday” is not a date (YYYY-MM-DD).", "The amount must be more than zero."],
        8: ["The reference BANK-1 is also in row 2 for another payment."],
    }


async def test_an_overpayment_is_refused_and_a_full_payment_accepted(session: AsyncSession, erp: dict) -> None:
    invoice = await make_invoice(session, erp["company"], gross="1000.00", paid="400.00", due=date(2026, 12, 10))
    await session.commit()
    number = invoice.number
    with pytest.raises(ImportRefused):
        await apply_import(
            session,
            PAYMENTS,
            csv("invoice_number,paid_on,amount", f"{number},2026-11-20,600.01"),
            erp["finance"],
            today=TODAY,
        )
    await apply_import(
        session,
        PAYMENTS,
        csv("invoice_number,paid_on,amount", f'{number},2026-11-20,"600,00"'),
        erp["finance"],
        today=TODAY,
    )
    await session.commit()
    picture = await credit_picture(session, erp["company"].id, today=TODAY, grace_days=7)
    assert picture.unpaid_invoices == Decimal("0.00")
    payment = await session.scalar(select(Payment))
    assert payment is not None and (payment.amount, payment.company_id) == (Decimal("600.00"), erp["company"].id)


async def test_an_invoiced_order_moves_to_invoiced_and_counts_once(session: AsyncSession, erp: dict) -> None:
    company = erp["company"]
    approved = await make_order(session, company, gross="1230.00", status=OrderStatus.APPROVED)
    exported = await make_order(session, company, gross="400.00", status=OrderStatus.EXPORTED)
    pending = await make_order(session, company, gross="50.00", status=OrderStatus.PENDING_APPROVAL)
    await session.commit()
    before = await credit_picture(session, company.id, today=TODAY, grace_days=7)
    assert before.exposure == Decimal("1680.00")

    content = csv(
        "invoice_number,tax_id,issue_date,due_date,gross,currency,order_number",
        f"FV/10,PL9550006006,2026-11-25,2026-12-25,1230.00,PLN,{approved.number}",
        f"FV/11,PL9550006006,2026-11-25,2026-12-25,400.00,PLN,{exported.number}",
    )
    await apply_import(session, INVOICES, content, erp["finance"], today=TODAY)
    await session.commit()

    after = await credit_picture(session, company.id, today=TODAY, grace_days=7)
    assert (after.unpaid_invoices, after.approved_orders, after.pending_orders) == (
        Decimal("1630.00"),
        Decimal("0.00"),
        Decimal("50.00"),
    )
    assert after.exposure == before.exposure
    session.expunge_all()
    moved = await session.get(Order, approved.id)
    assert moved is not None and moved.status is OrderStatus.INVOICED
    timeline = list(
        await session.scalars(select(OrderEvent).where(OrderEvent.order_id == approved.id).order_by(OrderEvent.id))
    )
    timeline = timeline[1:]  # after its submission
    assert [(e.from_status, e.to_status, e.reason) for e in timeline] == [
        (OrderStatus.APPROVED, OrderStatus.EXPORTED, "erp_invoiced:FV/10"),
        (OrderStatus.EXPORTED, OrderStatus.INVOICED, "erp_invoiced:FV/10"),
    ]
    assert timeline[0].actor_id == erp["finance"].id
    assert (await session.get(Order, pending.id)).status is OrderStatus.PENDING_APPROVAL  # type: ignore[union-attr]


async def test_only_approved_orders_of_the_same_company_can_be_invoiced(session: AsyncSession, erp: dict) -> None:
    pending = await make_order(session, erp["company"], gross="10.00", status=OrderStatus.PENDING_APPROVAL)
    theirs = await make_order(session, erp["other"], gross="10.00", status=OrderStatus.APPROVED)
    await session.commit()
    errors = await errors_by_row(
        session,
        INVOICES,
        csv(
            "invoice_number,tax_id,issue_date,due_date,gross,currency,order_number",
            f"FV/1,PL9550006006,2026-11-25,2026-12-25,10.00,PLN,{pending.number}",
            f"FV/2,PL9550006006,2026-11-25,2026-12-25,10.00,PLN,{theirs.number}",
            "FV/3,PL9550006006,2026-11-25,2026-12-25,10.00,PLN,ORD-NONE",
        ),
    )
    assert errors == {
        2: [f"Order {pending.number} has the status “Waiting for approval”; only approved orders are invoiced."],
        3: [f"No order {theirs.number} of this company."],
        4: ["No order ORD-NONE of this company."],
    }


# Files that are not plainly CSV text are refused whole, with a sentence that says why.

INVOICE_HEADER = "invoice_number,tax_id,issue_date,due_date,gross,currency"


async def file_errors(session: AsyncSession, kind: ImportKind, content: bytes | str) -> list[str]:
    report = await check_import(session, kind, content, today=TODAY)
    assert not report.ok
    return report.file_errors


async def refused_and_nothing_applied(session: AsyncSession, erp: dict, kind: ImportKind, content: bytes) -> list[str]:
    before = await snapshot(session)
    with pytest.raises(ImportRefused) as refused:
        await apply_import(session, kind, content, erp["finance"], today=TODAY)
    await session.commit()
    assert await snapshot(session) == before
    assert refused.value.status_code == 400 and refused.value.errors["file"]
    return refused.value.report.file_errors


async def test_a_first_line_of_separators_only_is_no_header(session: AsyncSession, erp: dict) -> None:
    for content in (b";;;;\n;;;\n", b",,,\n1,2,3\n", b" ; ; \nFV/1;PL9550006006\n"):
        errors = await refused_and_nothing_applied(session, erp, INVOICES, content)
        assert errors[0] == "Row 1: the first line must name the columns, but it has no names.", content


async def test_an_empty_header_cell_between_names_is_refused_but_trailing_ones_are_ignored(
    session: AsyncSession, erp: dict
) -> None:
    errors = await file_errors(
        session,
        INVOICES,
        csv(
            "invoice_number,,tax_id,issue_date,due_date,gross,currency",
            "FV/1,,PL9550006006,2026-11-01,2026-12-01,1.00,PLN",
        ),
    )
    assert errors[0] == "Row 1: column 2 of the header has no name."
    report = await check_import(
        session, INVOICES, csv(INVOICE_HEADER + ",,", "FV/1,PL9550006006,2026-11-01,2026-12-01,1.00,PLN,,"), today=TODAY
    )
    assert report.ok


async def test_a_column_named_twice_is_refused(session: AsyncSession, erp: dict) -> None:
    errors = await file_errors(
        session, PAYMENTS, csv("invoice_number,paid_on,amount,paid_amount", "FV/1,2026-11-01,1,1")
    )
    assert errors[0] == "Row 1: the header has the column “amount” twice."


@pytest.mark.parametrize("line_end", ["\r", "\n", "\r\n"])
async def test_any_line_end_is_read_the_same(session: AsyncSession, erp: dict, line_end: str) -> None:
    content = (
        line_end.join(
            [
                INVOICE_HEADER,
                "FV/1,PL9550006006,2026-11-01,2026-12-01,1.00,PLN",
                "FV/2,PL9550006006,2026-11-01,2026-12-01,2.00,PLN",
            ]
        )
        + line_end
    )
    report = await check_import(session, INVOICES, content.encode(), today=TODAY)
    assert report.ok and [row.number for row in report.rows] == [2, 3]


async def test_a_cr_only_file_with_a_bad_row_names_the_row(session: AsyncSession, erp: dict) -> None:
    content = b"sku;quantity\r1;2\r3;4\r"
    errors = await refused_and_nothing_applied(session, erp, INVOICES, content)
    assert errors[0] == "Row 1: the header has no column “invoice_number”."
    errors = await errors_by_row(
        session, INVOICES, (INVOICE_HEADER + "\rFV/1,PL9550006006,2026-11-01,soon,1.00,PLN\r").encode()
    )
    assert errors == {2: ["The due date “soon” is not a date (YYYY-MM-DD)."]}


@pytest.mark.parametrize(
    "content",
    [
        INVOICE_HEADER.encode() + b'\n"' + b"x" * 140_000 + b"\n",
        (INVOICE_HEADER + "\nFV/1,PL9550006006,2026-11-01,2026-12-01," + "9" * 140_000 + ",PLN\n").encode(),
        (INVOICE_HEADER + '\nFV/1,"PL9550006006,2026-11-01,2026-12-01,1.00,PLN\n').encode(),
    ],
)
async def test_a_field_over_128_kib_or_an_unclosed_quote_makes_the_file_unreadable(
    session: AsyncSession, erp: dict, content: bytes
) -> None:
    errors = await refused_and_nothing_applied(session, erp, INVOICES, content)
    assert errors == ["Row 2 cannot be read: a quote is not closed, or a field is longer than 131,072 characters."]


@pytest.mark.parametrize(
    "content", [b"sku,quantity\nA\x00B,1\n", b"\x00\x00\x00", "\ufeffinvoice_number\x00,tax_id\n".encode("utf-16")]
)
async def test_a_nul_byte_is_refused(session: AsyncSession, erp: dict, content: bytes) -> None:
    errors = await refused_and_nothing_applied(session, erp, INVOICES, content)
    assert errors == ["The file contains NUL bytes, so it is not CSV text. In Excel, save it as “CSV UTF-8”."]
    assert await file_errors(session, INVOICES, content.decode("latin-1")) == errors  # sent back as text, too


async def test_windows_1250_is_read_and_other_encodings_refused(session: AsyncSession, erp: dict) -> None:
    await make_company(session, name="Łódź Hurt", tax_id="PL1111111111", currency="PLN")
    await session.commit()
    text = "Numer faktury;NIP;Data wystawienia;Termin płatności;Kwota brutto;Waluta\r\n"
    content = text + "FV/ŁÓDŹ/1;PL1111111111;2026-11-01;2026-12-01;100,00;PLN\r\n"
    with pytest.raises(ImportRefused):  # Polish headers are not known, but the file is read
        await apply_import(session, INVOICES, content.encode("cp1250"), erp["finance"], today=TODAY)
    header = INVOICE_HEADER + "\r\nFV/ŁÓDŹ/1,PL1111111111,2026-11-01,2026-12-01,100.00,PLN\r\n"
    report = await apply_import(session, INVOICES, header.encode("cp1250"), erp["finance"], today=TODAY)
    await session.commit()
    assert report.count(Outcome.NEW) == 1
    assert await session.scalar(select(Invoice.number).where(Invoice.number == "FV/ŁÓDŹ/1")) == "FV/ŁÓDŹ/1"
    for content_bytes in (b"\x81\x83\x88\x90\x98", header.encode("utf-16"), header.encode("utf-16-be")):
        errors = await file_errors(session, INVOICES, content_bytes)
        assert errors[0] in (
            "The file is not UTF-8 text. In Excel, save it as “CSV UTF-8”.",
            "The file contains NUL bytes, so it is not CSV text. In Excel, save it as “CSV UTF-8”.",
        )


async def test_a_file_over_the_size_limit_is_refused_not_cut(session: AsyncSession, erp: dict) -> None:
    row = "FV/{n},PL9550006006,2026-11-01,2026-12-01,1.00,PLN\n"
    content = (INVOICE_HEADER + "\n" + "".join(row.format(n=n) for n in range(30_000))).encode()
    assert len(content) > MAX_FILE_BYTES
    errors = await refused_and_nothing_applied(session, erp, INVOICES, content[: MAX_FILE_BYTES + 1])
    assert errors == ["The file is larger than 1 MB; nothing was read. Split it into smaller files."]
    assert await file_errors(session, INVOICES, "x" * (MAX_FILE_BYTES + 1)) == errors
    assert await file_errors(session, INVOICES, b"a" * 3_000_000) == errors


async def test_more_rows_than_allowed_are_refused(session: AsyncSession, erp: dict) -> None:
    content = csv("invoice_number,paid_on,amount", *[f"FV/{n},2026-11-01,1.00" for n in range(MAX_ROWS + 1)])
    assert await file_errors(session, PAYMENTS, content) == ["At most 5000 rows in one file; split it."]


@pytest.mark.parametrize("content", [b"", b"\n\n\n", b"  \r\n\t\r\n"])
async def test_an_empty_file_is_refused(session: AsyncSession, erp: dict, content: bytes) -> None:
    assert await file_errors(session, PAYMENTS, content) == [
        "The file is empty. Choose a CSV file with a header row and at least one row."
    ]


async def test_dates_outside_2000_to_2100_and_digits_that_are_not_ascii_are_row_errors(
    session: AsyncSession, erp: dict
) -> None:
    invoice = await make_invoice(session, erp["company"], gross="1000.00", due=date(2026, 12, 10))
    await session.commit()
    invoices = csv(
        INVOICE_HEADER,
        "FV/1,PL9550006006,9999-12-31,0001-01-01,1.00,PLN",
        "FV/2,PL9550006006,31.12.9999,1999-12-31,1.00,PLN",
        "FV/3,PL9550006006,２０２６-11-01,2026-12-01,１２３,PLN",
        "FV/4,PL9550006006,2026-11-01,2026-12-01,1²,PLN",
        "FV/5,PL9550006006,2026-11-01,2026-12-01,1e309,PLN",
        "FV/6,PL9550006006,2026-11-01,2026-12-01,1000000000000.00,PLN",
        "FV/7,PL9550006006,2026-11-01,2101-01-01,999999999999.99,PLN",
        'FV/8,PL9550006006,2026-11-01,2100-12-31,"999\u00a0999\u00a0999\u00a0999,99",PLN',
    )
    errors = await errors_by_row(session, INVOICES, invoices)
    assert errors == {
        2: ["The date 9999-12-31 is not between 2000 and 2100.", "The date 0001-01-01 is not between 2000 and 2100."],
        3: ["The date 31.12.9999 is not between 2000 and 2100.", "The date 1999-12-31 is not between 2000 and 2100."],
        4: [
            "The issue date “２０２６-11-01” is not a date (YYYY-MM-DD).",
            "The gross amount “１２３” is not an amount.",
        ],
        5: ["The gross amount “1²” is not an amount."],
        6: ["The gross amount “1e309” is not an amount."],
        7: ["The gross amount “1000000000000.00” is not an amount."],
        8: ["The date 2101-01-01 is not between 2000 and 2100."],
    }
    payments = csv(
        "invoice_number,paid_on,amount", f"{invoice.number},0001-01-01,1.00", f"{invoice.number},2026-11-01,٣"
    )
    assert await errors_by_row(session, PAYMENTS, payments) == {
        2: ["The date 0001-01-01 is not between 2000 and 2100."],
        3: ["The amount “٣” is not an amount."],
    }


async def test_a_long_value_is_quoted_short_in_its_message(session: AsyncSession, erp: dict) -> None:
    errors = await errors_by_row(
        session, INVOICES, csv(INVOICE_HEADER, f"FV/1,{'X' * 5000},2026-11-01,2026-12-01,1.00,PLN")
    )
    (message,) = errors[2]
    assert len(message) < 120 and "…" in message


async def test_a_refused_import_names_each_bad_row(session: AsyncSession, erp: dict) -> None:
    content = csv(
        INVOICE_HEADER, "FV/1,PL9550006006,2026-11-01,2026-12-01,1.00,PLN", "FV/2,PL0,2026-11-01,2026-12-01,1.00,PLN"
    )
    with pytest.raises(ImportRefused) as refused:
        await apply_import(session, INVOICES, content, erp["finance"], today=TODAY)
    assert refused.value.errors == {"row_3": "Row 3: No customer company has the tax id “PL0”."}
    assert refused.value.message == "Nothing was imported. Correct the rows and check the file again."


async def test_the_checked_text_can_be_applied_as_it_was_checked(session: AsyncSession, erp: dict) -> None:
    content = (INVOICE_HEADER + "\r\nFV/Ż/1,PL9550006006,2026-11-01,2026-12-01,1.00,PLN\r\n").encode("cp1250")
    checked = await check_import(session, INVOICES, content, today=TODAY)
    assert checked.ok and "FV/Ż/1" in checked.text
    report = await apply_import(session, INVOICES, checked.text, erp["finance"], today=TODAY)
    assert report.count(Outcome.NEW) == 1


async def test_a_payment_without_reference_is_known_by_its_parsed_values_not_its_text(
    session: AsyncSession, erp: dict
) -> None:
    invoice = await make_invoice(session, erp["company"], gross="1000.00", due=date(2026, 12, 31))
    await session.commit()
    number, day = invoice.number, date(2026, 12, 1)
    polish = csv("invoice_number;paid_on;amount", f"{number};30.11.2026;100,00", f"{number};30.11.2026;100,00")
    english = csv("invoice_number,paid_on,amount", f"{number},2026-11-30,100.00", f"{number},2026-11-30,100")

    first = await apply_import(session, PAYMENTS, polish, erp["finance"], today=day)
    again = await apply_import(session, PAYMENTS, english, erp["finance"], today=day)
    await session.commit()

    assert (first.count(Outcome.NEW), again.count(Outcome.NEW), again.count(Outcome.UNCHANGED)) == (2, 0, 2)
    session.expunge_all()
    stored = await session.get(Invoice, invoice.id)
    assert stored is not None and stored.paid_amount == Decimal("200.00")
    assert sorted(p.reference for p in await session.scalars(select(Payment))) == [
        f"{number}|2026-11-30|100.00|1",
        f"{number}|2026-11-30|100.00|2",
    ]

    third = csv("invoice_number,paid_on,amount", *[f'{number},30.11.2026,"100,00"'] * 3, f"{number},30.11.2026,100.00")
    more = await apply_import(session, PAYMENTS, third, erp["finance"], today=day)
    assert (more.count(Outcome.UNCHANGED), more.count(Outcome.NEW)) == (2, 2)  # the third and fourth equal rows are new
