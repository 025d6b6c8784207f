"""The staff's one search box: what it finds, in which order, and only what the searcher may see."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from portal.errors import NotAllowed, Refused
from portal.models import Company, Contact, Deputy, Invoice, Order, Prospect, Quote, QuoteStatus, Role, User
from portal.services import staff_search
from portal.services.staff_search import Results
from tests.factories import make_company, make_invoice, make_order, make_user

TODAY = date(2026, 11, 27)


@dataclass
class Portfolio:
    """One account manager's customer with one of each thing the search finds."""

    manager: User
    company: Company
    order: Order
    quote: Quote
    invoice: Invoice
    contact: Contact
    prospect: Prospect


async def portfolio(session: AsyncSession, word: str, *, nip: str, order_number: str, surname: str) -> Portfolio:
    """Everything named with `word`, so one search finds all of it."""
    manager = await make_user(session, Role.ACCOUNT_MANAGER, full_name=f"{word} Manager")
    company = await make_company(session, name=f"{word} Trading", tax_id=nip, account_manager_id=manager.id)
    order = await make_order(session, company, gross="100.00")
    order.number, order.po_number = order_number, f"PO-{word}-1"
    quote = Quote(company_id=company.id, number=f"Q-2026-{order_number[-6:]}", status=QuoteStatus.DRAFT)
    quote.title = f"{word} autumn offer"
    invoice = await make_invoice(session, company, gross="50.00", due=TODAY)
    invoice.number = f"FV/{word}/1"
    contact = Contact(company_id=company.id, full_name=f"Anna {surname}", email=f"anna@{word.lower()}.example")
    prospect = Prospect(name=f"{word} Prospect", owner_id=manager.id, tax_id="")
    session.add_all([quote, contact, prospect])
    await session.flush()
    return Portfolio(manager, company, order, quote, invoice, contact, prospect)


@pytest.fixture
async def mine(session: AsyncSession) -> Portfolio:
    return await portfolio(session, "Alfa", nip="PL5250001122", order_number="ORD-2026-000123", surname="Nowak")


@pytest.fixture
async def theirs(session: AsyncSession) -> Portfolio:
    return await portfolio(session, "Alfaville", nip="PL7770002233", order_number="ORD-2026-000456", surname="Nowacka")


def ids(results: Results) -> dict[str, set[int]]:
    """What was found, by kind, as ids (kinds with nothing left out)."""
    kinds = {
        "customers": results.customers,
        "prospects": results.prospects,
        "contacts": results.contacts,
        "orders": results.orders,
        "quotes": results.quotes,
        "invoices": results.invoices,
    }
    return {kind: {row.id for row in group.rows} for kind, group in kinds.items() if group.rows}


def everything_of(p: Portfolio) -> dict[str, set[int]]:
    return {
        "customers": {p.company.id},
        "prospects": {p.prospect.id},
        "contacts": {p.contact.id},
        "orders": {p.order.id},
        "quotes": {p.quote.id},
        "invoices": {p.invoice.id},
    }


async def test_one_word_finds_each_kind_of_the_managers_own(session: AsyncSession, mine: Portfolio) -> None:
    results = await staff_search.search(session, mine.manager, "alfa", TODAY)
    assert ids(results) == everything_of(mine)
    contact = results.contacts.rows[0]
    assert (contact.full_name, contact.company_name) == ("Anna Nowak", "Alfa Trading")
    assert results.orders.rows[0].company_name == "Alfa Trading"


async def test_each_kind_by_its_own_number_or_name(session: AsyncSession, mine: Portfolio) -> None:
    async def found(text: str) -> dict[str, set[int]]:
        return ids(await staff_search.search(session, mine.manager, text, TODAY))

    assert await found("ORD-2026-000123") == {"orders": {mine.order.id}}
    assert await found("po-alfa-1") == {"orders": {mine.order.id}}
    assert await found("Q-2026-000123") == {"quotes": {mine.quote.id}}
    assert await found("autumn offer") == {"quotes": {mine.quote.id}}
    assert await found("FV/Alfa/1") == {"invoices": {mine.invoice.id}}
    assert await found("Nowak") == {"contacts": {mine.contact.id}}
    assert await found("anna@alfa.example") == {"contacts": {mine.contact.id}}


async def test_an_invoice_is_found_by_the_number_of_the_order_it_bills(session: AsyncSession, mine: Portfolio) -> None:
    mine.invoice.order_number = mine.order.number
    await session.flush()
    results = await staff_search.search(session, mine.manager, mine.order.number, TODAY)
    assert ids(results) == {"orders": {mine.order.id}, "invoices": {mine.invoice.id}}


@pytest.mark.parametrize("typed", ["525-000-11-22", "PL 525 000 11 22", "5250001122", "pl5250001122", "000-11"])
async def test_a_nip_is_compared_by_its_digits(session: AsyncSession, mine: Portfolio, typed: str) -> None:
    results = await staff_search.search(session, mine.manager, typed, TODAY)
    assert [row.name for row in results.customers.rows] == ["Alfa Trading"]


async def test_a_prospects_nip_as_typed_is_found_by_its_digits(session: AsyncSession, mine: Portfolio) -> None:
    mine.prospect.tax_id = "894-000-12-34"
    await session.flush()
    results = await staff_search.search(session, mine.manager, "8940001234", TODAY)
    assert ids(results) == {"prospects": {mine.prospect.id}}


async def test_a_phone_number_is_compared_by_its_digits(session: AsyncSession, mine: Portfolio) -> None:
    mine.contact.phone = "+48 600 100 200"
    await session.flush()
    for typed in ("600100200", "600-100-200", "+48600100200"):
        results = await staff_search.search(session, mine.manager, typed, TODAY)
        assert ids(results) == {"contacts": {mine.contact.id}}, typed


async def test_percent_and_underscore_are_plain_characters(session: AsyncSession, mine: Portfolio) -> None:
    for name in ("100% Organic", "1000 Organic", "Wide_Range", "Wide Range"):
        await make_company(session, name=name, account_manager_id=mine.manager.id)

    async def names(text: str) -> list[str]:
        return [row.name for row in (await staff_search.search(session, mine.manager, text, TODAY)).customers.rows]

    assert await names("0% org") == ["100% Organic"]
    assert await names("e_r") == ["Wide_Range"]
    assert await names("%%") == []
    assert await names("__") == []


async def test_another_managers_things_never_appear(session: AsyncSession, mine: Portfolio, theirs: Portfolio) -> None:
    # "alfa" is in every name of both portfolios; "nowa" in both contacts' surnames.
    assert ids(await staff_search.search(session, mine.manager, "alfa", TODAY)) == everything_of(mine)
    assert ids(await staff_search.search(session, theirs.manager, "alfa", TODAY)) == everything_of(theirs)
    assert ids(await staff_search.search(session, mine.manager, "nowa", TODAY)) == {"contacts": {mine.contact.id}}
    for number in (theirs.order.number, theirs.quote.number, theirs.invoice.number, "7770002233"):
        assert not (await staff_search.search(session, mine.manager, number, TODAY)).found, number


async def test_a_prospects_contact_is_seen_by_the_prospects_owner_only(
    session: AsyncSession, mine: Portfolio, theirs: Portfolio
) -> None:
    lead = Contact(prospect_id=theirs.prospect.id, full_name="Piotr Zieliński", phone="601 222 333")
    session.add(lead)
    await session.flush()
    assert not (await staff_search.search(session, mine.manager, "zielinski", TODAY)).found
    results = await staff_search.search(session, theirs.manager, "zielinski", TODAY)
    assert [(row.id, row.prospect_name) for row in results.contacts.rows] == [(lead.id, "Alfaville Prospect")]


async def test_a_covered_colleagues_things_appear_while_the_cover_lasts(
    session: AsyncSession, mine: Portfolio, theirs: Portfolio
) -> None:
    session.add(Deputy(manager_id=theirs.manager.id, deputy_id=mine.manager.id, starts_on=TODAY, ends_on=TODAY))
    await session.flush()
    both = {kind: everything_of(mine)[kind] | everything_of(theirs)[kind] for kind in everything_of(mine)}
    assert ids(await staff_search.search(session, mine.manager, "alfa", TODAY)) == both
    after = TODAY + timedelta(days=1)
    assert ids(await staff_search.search(session, mine.manager, "alfa", after)) == everything_of(mine)


@pytest.mark.parametrize("role", [Role.FINANCE, Role.ADMIN])
async def test_finance_and_admins_find_every_company(
    session: AsyncSession, mine: Portfolio, theirs: Portfolio, role: Role
) -> None:
    staff = await make_user(session, role)
    both = {kind: everything_of(mine)[kind] | everything_of(theirs)[kind] for kind in everything_of(mine)}
    assert ids(await staff_search.search(session, staff, "alfa", TODAY)) == both


@pytest.mark.parametrize("typed", ["", "a", "  b  ", "x" * 101])
async def test_a_text_of_fewer_than_2_or_more_than_100_characters_is_refused(
    session: AsyncSession, mine: Portfolio, typed: str
) -> None:
    with pytest.raises(Refused, match="at (least 2|most 100) characters") as refused:
        await staff_search.search(session, mine.manager, typed, TODAY)
    assert set(refused.value.errors) == {"q"}


async def test_buyers_have_no_staff_search(session: AsyncSession, mine: Portfolio) -> None:
    buyer = await make_user(session, Role.BUYER, company_id=mine.company.id)
    with pytest.raises(NotAllowed):
        await staff_search.search(session, buyer, "alfa", TODAY)


@pytest.mark.parametrize("typed", ["łódź", "ŁÓDŹ", "Lodz", "lódz"])
async def test_case_and_polish_letters_do_not_matter(session: AsyncSession, mine: Portfolio, typed: str) -> None:
    company = await make_company(session, name="Hurtownia Łódź Bałuty", account_manager_id=mine.manager.id)
    contact = Contact(company_id=company.id, full_name="Łucja Żółkiewska")
    session.add(contact)
    await session.flush()
    results = await staff_search.search(session, mine.manager, typed, TODAY)
    assert [row.name for row in results.customers.rows] == ["Hurtownia Łódź Bałuty"]
    surname = await staff_search.search(session, mine.manager, "ŻÓŁKIEWSKA", TODAY)
    assert [row.id for row in surname.contacts.rows] == [contact.id]


async def test_an_order_number_typed_in_full_is_the_first_row(session: AsyncSession, mine: Portfolio) -> None:
    newer = datetime(2026, 11, 26, 9, tzinfo=UTC)
    for n in range(3):  # newer orders whose numbers contain the typed one
        order = await make_order(session, mine.company, gross="10.00", submitted_at=newer + timedelta(minutes=n))
        order.number = f"{mine.order.number}{n}"
    await session.flush()
    results = await staff_search.search(session, mine.manager, "ord-2026-000123", TODAY)
    numbers = [row.number for row in results.orders.rows]
    assert numbers == ["ORD-2026-000123", "ORD-2026-0001232", "ORD-2026-0001231", "ORD-2026-0001230"]


async def test_at_most_per_kind_rows_and_a_sign_that_there_are_more(session: AsyncSession, mine: Portfolio) -> None:
    for n in range(4):
        await make_company(session, name=f"Alfa Branch {n}", account_manager_id=mine.manager.id)
    results = await staff_search.search(session, mine.manager, "alfa", TODAY, per_kind=3)
    assert (len(results.customers.rows), results.customers.more) == (3, True)
    assert [row.name for row in results.customers.rows][0] == "Alfa Branch 0"
    assert (len(results.orders.rows), results.orders.more) == (1, False)


async def test_a_name_starting_with_the_text_comes_before_one_containing_it(
    session: AsyncSession, mine: Portfolio
) -> None:
    await make_company(session, name="Betaalfa", account_manager_id=mine.manager.id)
    await make_company(session, name="Alfa", account_manager_id=mine.manager.id)
    results = await staff_search.search(session, mine.manager, "alfa", TODAY)
    assert [row.name for row in results.customers.rows] == ["Alfa", "Alfa Trading", "Betaalfa"]


async def test_a_converted_prospect_is_found_as_its_customer(session: AsyncSession, mine: Portfolio) -> None:
    mine.prospect.company_id = mine.company.id
    await session.flush()
    results = await staff_search.search(session, mine.manager, "alfa", TODAY)
    assert not results.prospects.rows and [row.id for row in results.customers.rows] == [mine.company.id]
