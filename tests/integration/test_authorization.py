"""Who may open what, for every route that names a thing by id, generated from the app's routes.

Every route with an id in its path × every role (buyer, account manager, finance, admin) ×
three subjects: the role's own company's thing (a buyer's company; a manager's assigned
customer), another company's (another manager's customer), and a covered customer's (a colleague
the manager covers today). `TABLE` says, per route name, how to make the id for a subject and
which roles the route's role guard lets in; the scoping rule (DESIGN.md "Who uses it") says the
rest: a role the guard keeps out gets 403; a thing outside what the user sees gets 404, the same
page as for a thing that does not exist; anything else is let in (an answer below 400 that is not
the sign-in page, or 400 for the empty form a POST sends here). A route with an id and no entry
fails the test, so a new route cannot be forgotten."""

from __future__ import annotations

import itertools
import re
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any, Literal

import pytest
from litestar import Litestar
from litestar.handlers import HTTPRouteHandler
from litestar.testing import AsyncTestClient
from sqlalchemy.ext.asyncio import AsyncSession

from portal.models import (
    Company,
    ContractPrice,
    CustomerNote,
    Deputy,
    MessageStatus,
    NotificationKind,
    OrderStatus,
    OutboxMessage,
    PriceList,
    PriceListItem,
    Product,
    ProductCategory,
    Role,
    User,
)
from portal.services import lists
from tests.factories import (
    make_company,
    make_invoice,
    make_order,
    make_product,
    make_schedule,
    make_user,
    sign_in,
    text_of,
)

TODAY = date(2026, 11, 27)
"""The seller's today under `frozen_clock`."""

RoleName = Literal["buyer", "account_manager", "finance", "admin"]
Subject = Literal["own", "other", "covered"]
ROLES: tuple[RoleName, ...] = ("buyer", "account_manager", "finance", "admin")
SUBJECTS: tuple[Subject, ...] = ("own", "other", "covered")
LET_IN = "let in"
MISSING_ID = 2**31 - 1
"""An id no test row reaches: the answer a foreign id must look like."""

BUYER: frozenset[RoleName] = frozenset({"buyer"})
MANAGER: frozenset[RoleName] = frozenset({"account_manager"})
FINANCE_STAFF: frozenset[RoleName] = frozenset({"finance", "admin"})
ADMIN: frozenset[RoleName] = frozenset({"admin"})
DECIDERS: frozenset[RoleName] = frozenset({"account_manager", "admin"})
STAFF: frozenset[RoleName] = frozenset({"account_manager", "finance", "admin"})
CATALOG: frozenset[RoleName] = frozenset({"buyer", "account_manager", "admin"})
EVERYONE: frozenset[RoleName] = frozenset(ROLES)


@dataclass
class World:
    """Three customers: the manager's own (the signed-in buyer's company), another manager's, and
    one of a colleague the manager covers today; one signed-in user per role."""

    session: AsyncSession
    users: dict[RoleName, User]
    companies: dict[Subject, Company]
    buyers: dict[Subject, User]
    colleague: User
    absent: User
    product: Product


Made = tuple[dict[str, int], dict[str, int]]
"""Path parameters, and query parameters, of one request."""
Maker = Callable[[World, Subject, RoleName], Awaitable[Made]]


async def company_id(world: World, subject: Subject, _: RoleName) -> Made:
    return {"company_id": world.companies[subject].id}, {}


async def order_id(world: World, subject: Subject, _: RoleName) -> Made:
    order = await make_order(
        world.session, world.companies[subject], gross="100.00", buyer=world.buyers[subject], product=world.product
    )
    return {"order_id": order.id}, {}


async def invoice_id(world: World, subject: Subject, _: RoleName) -> Made:
    invoice = await make_invoice(world.session, world.companies[subject], gross="100.00", due=TODAY + timedelta(days=9))
    return {"invoice_id": invoice.id}, {}


async def note_ids(world: World, subject: Subject, role: RoleName) -> Made:
    author = world.users[role] if role != "buyer" else world.users["account_manager"]
    note = CustomerNote(company_id=world.companies[subject].id, author_id=author.id, body="Called about Q1.")
    world.session.add(note)
    await world.session.flush()
    return {"company_id": note.company_id, "note_id": note.id}, {}


async def list_ids(world: World, subject: Subject, _: RoleName) -> Made:
    made = await lists.create_list(
        world.session, world.buyers[subject], "Usual", lines={world.product.id: 3}, today=TODAY
    )
    return {"list_id": made.id, "line_id": made.lines[0].id}, {}


async def schedule_ids(world: World, subject: Subject, _: RoleName) -> Made:
    plan = await make_schedule(
        world.session,
        world.companies[subject],
        [(world.product, 2)],
        first=TODAY + timedelta(days=7),
        created_by=world.buyers[subject],
        today=TODAY,
    )
    return {"schedule_id": plan.id, "line_id": plan.lines[0].id}, {}


async def product_id(world: World, subject: Subject, _: RoleName) -> Made:
    """A product is the seller's, not a customer's: the same for every subject."""
    return {"product_id": world.product.id}, {}


async def customer_product(world: World, subject: Subject, _: RoleName) -> Made:
    """A line of the cart staff keep for a customer (an order taken by phone): the customer and the product."""
    return {"company_id": world.companies[subject].id, "product_id": world.product.id}, {}


async def product_through(world: World, subject: Subject, _: RoleName) -> Made:
    """Staff look at a product through a customer's eyes (`?company=`); a buyer always through their own."""
    return {"product_id": world.product.id}, {"company": world.companies[subject].id}


async def message_id(world: World, subject: Subject, _: RoleName) -> Made:
    """An e-mail that failed: the seller's, not a customer's."""
    message = OutboxMessage(
        kind=NotificationKind.ORDER_DECIDED,
        recipient=world.buyers[subject].email,
        subject="Order decided",
        body_text="",
        body_html="",
        link="/orders/1",
        status=MessageStatus.FAILED,
        attempts=6,
        last_error="ConnectionRefusedError",
    )
    world.session.add(message)
    await world.session.flush()
    return {"message_id": message.id}, {}


async def cover_id(world: World, subject: Subject, _: RoleName) -> Made:
    """A cover the manager named (own), one between two colleagues (other), one in which the manager
    is the deputy (covered): only the first is the manager's to end. All start later, so they
    change nobody's view today."""
    manager, colleague, absent = world.users["account_manager"], world.colleague, world.absent
    named_by, deputy = {"own": (manager, colleague), "other": (colleague, absent), "covered": (absent, manager)}[
        subject
    ]
    cover = Deputy(
        manager_id=named_by.id,
        deputy_id=deputy.id,
        starts_on=TODAY + timedelta(days=30),
        ends_on=TODAY + timedelta(days=40),
    )
    world.session.add(cover)
    await world.session.flush()
    return {"cover_id": cover.id}, {}


async def address_ids(world: World, subject: Subject, _: RoleName) -> Made:
    """An address of the subject's company (admin pages: every company is the admin's to see)."""
    from portal.models import Address

    address = Address(
        company_id=world.companies[subject].id, label="Dock", street="Portowa 1", postal_code="80-001", city="Gdańsk"
    )
    world.session.add(address)
    await world.session.flush()
    return {"company_id": address.company_id, "address_id": address.id}, {}


async def staff_user_id(world: World, subject: Subject, _: RoleName) -> Made:
    """A staff member of the seller's, fresh for each request, so deactivating one locks nobody out."""
    user = await make_user(world.session, Role.FINANCE)
    return {"user_id": user.id}, {}


async def invitation_id(world: World, subject: Subject, _: RoleName) -> Made:
    """An invitation waiting to be followed (the seller's, not a customer's)."""
    from portal.models import AccessToken, TokenPurpose
    from portal.services import invitations

    invitation = AccessToken(
        purpose=TokenPurpose.INVITATION,
        token_hash=invitations.new_token()[1],
        email=f"invited-{subject}@example.test",
        full_name="Invited",
        role=Role.FINANCE,
        expires_at=datetime(2100, 1, 1, tzinfo=UTC),
    )
    world.session.add(invitation)
    await world.session.flush()
    return {"invitation_id": invitation.id}, {}


_serial = itertools.count(1)
"""Tells apart the names of the categories and price lists the makers below make, one per request."""


async def category_id(world: World, subject: Subject, role: RoleName) -> Made:
    """A product category: the seller's, the same kind of thing for every subject."""
    category = ProductCategory(name=f"Category {subject} {role} {next(_serial)}")
    world.session.add(category)
    await world.session.flush()
    return {"category_id": category.id}, {}


async def price_list_id(world: World, subject: Subject, role: RoleName) -> Made:
    """A price list: the seller's."""
    price_list = PriceList(name=f"List {subject} {role} {next(_serial)}")
    world.session.add(price_list)
    await world.session.flush()
    return {"price_list_id": price_list.id}, {}


async def agreement_id(world: World, subject: Subject, role: RoleName) -> Made:
    """A draft framework agreement of the subject's company (admin pages: every company is the admin's)."""
    from portal.models import Agreement, AgreementStatus, SettlementPeriod, TierMode

    agreement = Agreement(
        company_id=world.companies[subject].id,
        number=f"FA-{subject}-{role}-{next(_serial)}",
        status=AgreementStatus.DRAFT,
        valid_from=TODAY,
        period=SettlementPeriod.QUARTER,
        tier_mode=TierMode.RETROSPECTIVE,
    )
    world.session.add(agreement)
    await world.session.flush()
    return {"agreement_id": agreement.id}, {}


async def price_list_item_id(world: World, subject: Subject, role: RoleName) -> Made:
    """A row of a price list of its own, so deleting one as one role leaves the others."""
    (made, _) = await price_list_id(world, subject, role)
    item = PriceListItem(price_list_id=made["price_list_id"], product_id=world.product.id, unit_price=Decimal("9"))
    world.session.add(item)
    await world.session.flush()
    return {"item_id": item.id}, {}


async def contract_price_id(world: World, subject: Subject, _: RoleName) -> Made:
    """A contract price of the subject's company."""
    row = ContractPrice(company_id=world.companies[subject].id, product_id=world.product.id, unit_price=Decimal("8"))
    world.session.add(row)
    await world.session.flush()
    return {"contract_price_id": row.id}, {}


async def api_key_id(world: World, subject: Subject, role: RoleName) -> Made:
    """An API key of the seller's ERP, fresh for each request, so revoking one leaves the others."""
    from portal.models import ApiKey

    serial = next(_serial)
    key = ApiKey(
        name=f"ERP {subject} {role} {serial}",
        prefix="pk_test",
        secret_hash=f"{serial:064d}",
        scopes="orders:read",
        created_by_id=world.users["admin"].id,
    )
    world.session.add(key)
    await world.session.flush()
    return {"key_id": key.id}, {}


async def sent_quote_version(world: World, subject: Subject, role: RoleName) -> Made:
    """Version 1, sent, of a quote to the subject's company (the quote's PDF)."""
    from portal.models import Quote, QuoteLine, QuoteStatus, QuoteVersion

    company = world.companies[subject]
    quote = Quote(
        company_id=company.id,
        number=f"Q-2026-{900000 + next(_serial):06d}",
        status=QuoteStatus.SENT,
        sent_version=1,
        valid_until=TODAY + timedelta(days=14),
    )
    line = QuoteLine(
        company_id=company.id,
        line_key=1,
        product_id=world.product.id,
        name="Towels",
        quantity=5,
        unit_price=Decimal("9"),
    )
    quote.versions = [
        QuoteVersion(
            company_id=company.id,
            number=1,
            valid_until=TODAY + timedelta(days=14),
            sent_at=datetime(2026, 11, 26, 9, tzinfo=UTC),
            lines=[line],
        )
    ]
    world.session.add(quote)
    await world.session.flush()
    return {"quote_id": quote.id, "version": 1}, {}


async def requested_quote_id(world: World, subject: Subject, _: RoleName) -> Made:
    """A quote the subject's buyer asked for: its draft is the account manager's to price."""
    from portal.services import quotes

    quote = await quotes.request_quote(
        world.session, world.buyers[subject], [quotes.WantedLine(5, world.product.id)], today=TODAY
    )
    return {"quote_id": quote.id}, {}


async def buyer_quote_id(world: World, subject: Subject, _: RoleName) -> Made:
    """A quote the subject's buyer asked for, priced and sent as version 1 (by an admin, who may
    negotiate every company's quotes): the buyer's pages answer it."""
    from portal.services import quotes

    quote = await quotes.request_quote(
        world.session, world.buyers[subject], [quotes.WantedLine(5, world.product.id)], today=TODAY
    )
    draft = quotes.draft_of(quote)
    assert draft is not None
    staff = world.users["admin"]
    changes = [quotes.LineChange(line.id, unit_price=Decimal("9")) for line in draft.lines]
    await quotes.save_draft(
        world.session,
        staff,
        quote.id,
        quotes.DraftChanges(valid_until=TODAY + timedelta(days=14), lines=changes),
        today=TODAY,
        margin_floor=Decimal("10"),
    )
    await quotes.send(world.session, staff, quote.id, today=TODAY, margin_floor=Decimal("10"))
    return {"quote_id": quote.id}, {}


async def opportunity_id(world: World, subject: Subject, _: RoleName) -> Made:
    """An opportunity with the subject's company, owned by its account manager."""
    from portal.models import Opportunity

    company = world.companies[subject]
    assert company.account_manager_id is not None
    opportunity = Opportunity(
        company_id=company.id,
        title="Towels for the spa",
        expected_value=Decimal("1000.00"),
        expected_close_on=TODAY + timedelta(days=30),
        owner_id=company.account_manager_id,
    )
    world.session.add(opportunity)
    await world.session.flush()
    return {"opportunity_id": opportunity.id}, {}


async def prospect_id(world: World, subject: Subject, role: RoleName) -> Made:
    """A prospect owned by the account manager of the subject's company (the manager's own, a
    colleague's, the covered colleague's)."""
    from portal.models import Prospect

    owner_id = world.companies[subject].account_manager_id
    assert owner_id is not None
    prospect = Prospect(name=f"Prospect {subject} {role} {next(_serial)}", owner_id=owner_id)
    world.session.add(prospect)
    await world.session.flush()
    return {"prospect_id": prospect.id}, {}


async def lost_reason_id(world: World, subject: Subject, role: RoleName) -> Made:
    """A reason an opportunity is lost for: the seller's list, one per request."""
    from portal.models import LostReason

    reason = LostReason(label=f"Reason {subject} {role} {next(_serial)}", position=next(_serial))
    world.session.add(reason)
    await world.session.flush()
    return {"reason_id": reason.id}, {}


async def task_id(world: World, subject: Subject, role: RoleName) -> Made:
    """An open task about the subject's company, its account manager's (a fresh one each time, so
    closing it as one role leaves the others theirs to open)."""
    from portal.models import Task, TaskStatus

    company = world.companies[subject]
    assert company.account_manager_id is not None
    task = Task(
        title=f"Call {subject} {role} {next(_serial)}",
        due_on=TODAY + timedelta(days=1),
        owner_id=company.account_manager_id,
        status=TaskStatus.OPEN,
        company_id=company.id,
        version=1,
    )
    world.session.add(task)
    await world.session.flush()
    return {"task_id": task.id}, {}


async def contact_id(world: World, subject: Subject, role: RoleName) -> Made:
    """A contact at the subject's company, fresh for each request (so deleting one as one role
    leaves the others theirs)."""
    from portal.models import Contact

    contact = Contact(company_id=world.companies[subject].id, full_name=f"Contact {subject} {role} {next(_serial)}")
    world.session.add(contact)
    await world.session.flush()
    return {"contact_id": contact.id}, {}


def only_own_cover(role: RoleName, subject: Subject) -> str | int:
    return LET_IN if subject == "own" else 404


async def rebate_close_id(world: World, subject: Subject, role: RoleName) -> Made:
    """A closed settlement period with a rebate, of the subject's company (the ERP's credit note)."""
    from portal.models import Agreement, AgreementStatus, SettlementClose, SettlementPeriod, TierMode

    company = world.companies[subject]
    agreement = Agreement(
        company_id=company.id,
        number=f"FA/AUTH/{next(_serial):05d}",
        status=AgreementStatus.ACTIVE,
        valid_from=date(2026, 7, 1),
        period=SettlementPeriod.QUARTER,
        tier_mode=TierMode.RETROSPECTIVE,
        closed_through=date(2026, 9, 30),
    )
    world.session.add(agreement)
    await world.session.flush()
    close = SettlementClose(
        agreement_id=agreement.id,
        company_id=company.id,
        starts_on=date(2026, 7, 1),
        ends_on=date(2026, 9, 30),
        tier_mode=TierMode.RETROSPECTIVE,
        currency="PLN",
        turnover=Decimal("1000.00"),
        rebate=Decimal("30.00"),
    )
    world.session.add(close)
    await world.session.flush()
    return {"close_id": close.id}, {}


def needs_an_api_key(role: RoleName, subject: Subject) -> str | int:
    """An API route: a signed-in session is no API key, whoever it belongs to."""
    return 401


@dataclass(frozen=True)
class Entry:
    roles: frozenset[RoleName]
    """The roles the route's role guard lets in; any other gets 403."""
    make: Maker
    scoped: bool = True
    """The id names a customer's thing, so the scoping rule applies; False: the seller's (a product, an e-mail)."""
    rule: Callable[[RoleName, Subject], str | int] | None = None
    """A rule of its own instead of the scoping rule."""


TABLE: dict[str, Entry] = {
    # the buyer's own pages: scoped to their company inside the services
    "invoice": Entry(BUYER, invoice_id),
    "order": Entry(BUYER, order_id),
    "cancel_order": Entry(BUYER, order_id),
    "reorder_preview": Entry(BUYER, order_id),
    "reorder": Entry(BUYER, order_id),
    "list_from_order": Entry(BUYER, order_id),
    "shopping_list": Entry(BUYER, list_ids),
    "rename_list": Entry(BUYER, list_ids),
    "confirm_delete_list": Entry(BUYER, list_ids),
    "delete_list": Entry(BUYER, list_ids),
    "duplicate_list": Entry(BUYER, list_ids),
    "list_to_cart": Entry(BUYER, list_ids),
    "change_list_line": Entry(BUYER, list_ids),
    "remove_list_line": Entry(BUYER, list_ids),
    "schedule": Entry(BUYER, schedule_ids),
    "edit_schedule_form": Entry(BUYER, schedule_ids),
    "edit_schedule": Entry(BUYER, schedule_ids),
    "delete_schedule": Entry(BUYER, schedule_ids),
    "pause_schedule": Entry(BUYER, schedule_ids),
    "resume_schedule": Entry(BUYER, schedule_ids),
    "skip_occurrence": Entry(BUYER, schedule_ids),
    "unskip_occurrence": Entry(BUYER, schedule_ids),
    "add_schedule_line": Entry(BUYER, schedule_ids),
    "change_schedule_line": Entry(BUYER, schedule_ids),
    "cart_line": Entry(BUYER, product_id, scoped=False),
    "quote": Entry(BUYER, buyer_quote_id),
    "accept_quote": Entry(BUYER, buyer_quote_id),
    "decline_quote": Entry(BUYER, buyer_quote_id),
    "ask_quote_changes": Entry(BUYER, buyer_quote_id),
    "comment_quote": Entry(BUYER, buyer_quote_id),
    "cart_remove": Entry(BUYER, product_id, scoped=False),
    # the catalog through a customer's eyes
    "product": Entry(CATALOG, product_through),
    # staff pages of one customer
    "customer": Entry(STAFF, company_id),
    "customer_growth": Entry(STAFF, company_id),
    "add_note": Entry(STAFF, company_id),
    "edit_note": Entry(STAFF, note_ids),
    "reassign": Entry(ADMIN, company_id),
    # contacts and activities: any staff who see the customer (or prospect) keep them
    "add_contact": Entry(STAFF, company_id),
    "log_activity": Entry(STAFF, company_id),
    "contact_edit": Entry(STAFF, contact_id),
    "edit_contact": Entry(STAFF, contact_id),
    "retire_contact": Entry(STAFF, contact_id),
    "reactivate_contact": Entry(STAFF, contact_id),
    "delete_contact": Entry(STAFF, contact_id),
    "add_prospect_contact": Entry(STAFF, prospect_id),
    "log_prospect_activity": Entry(STAFF, prospect_id),
    "customer_credit": Entry(DECIDERS, company_id),
    "customer_cart": Entry(DECIDERS, company_id),
    "customer_cart_add": Entry(DECIDERS, company_id),
    "customer_cart_line": Entry(DECIDERS, customer_product),
    "customer_cart_remove": Entry(DECIDERS, customer_product),
    "customer_checkout": Entry(DECIDERS, company_id),
    "customer_submit_order": Entry(DECIDERS, company_id),
    "review": Entry(STAFF, order_id),
    "order_confirmation": Entry(EVERYONE, order_id),
    "quote_pdf": Entry(EVERYONE, sent_quote_version),
    "approve": Entry(DECIDERS, order_id),
    "reject": Entry(DECIDERS, order_id),
    "cancel_approved": Entry(DECIDERS, order_id),
    "finance_company": Entry(FINANCE_STAFF, company_id),
    "change_limit": Entry(FINANCE_STAFF, company_id),
    "hold_account": Entry(FINANCE_STAFF, company_id),
    "release_account": Entry(FINANCE_STAFF, company_id),
    # the staff quote desk: staff read; the company's manager, their deputy or an admin change
    "manage_quote": Entry(STAFF, requested_quote_id),
    "staff_comment_quote": Entry(STAFF, requested_quote_id),
    "save_quote_draft": Entry(DECIDERS, requested_quote_id),
    "add_quote_line": Entry(DECIDERS, requested_quote_id),
    "send_quote": Entry(DECIDERS, requested_quote_id),
    "revise_quote": Entry(DECIDERS, requested_quote_id),
    "withdraw_quote": Entry(DECIDERS, requested_quote_id),
    # the pipeline: staff read the opportunities of the customers they see; managers and admins change them
    "opportunity": Entry(STAFF, opportunity_id),
    "edit_opportunity": Entry(DECIDERS, opportunity_id),
    "move_opportunity": Entry(DECIDERS, opportunity_id),
    "link_quote": Entry(DECIDERS, opportunity_id),
    "new_opportunity_offer": Entry(DECIDERS, opportunity_id),
    # prospects: staff see those of the managers in their charge; their managers and admins convert them
    "prospect": Entry(STAFF, prospect_id),
    "edit_prospect": Entry(STAFF, prospect_id),
    "convert_prospect": Entry(DECIDERS, prospect_id),
    # the seller's own things
    "admin_category": Entry(ADMIN, category_id, scoped=False),
    "admin_edit_category": Entry(ADMIN, category_id, scoped=False),
    "admin_product": Entry(ADMIN, product_id, scoped=False),
    "admin_edit_product_form": Entry(ADMIN, product_id, scoped=False),
    "admin_edit_product": Entry(ADMIN, product_id, scoped=False),
    "admin_price_list": Entry(ADMIN, price_list_id, scoped=False),
    "admin_edit_price_list": Entry(ADMIN, price_list_id, scoped=False),
    "admin_add_price_list_item": Entry(ADMIN, price_list_id, scoped=False),
    "admin_price_list_item": Entry(ADMIN, price_list_item_id, scoped=False),
    "admin_edit_price_list_item": Entry(ADMIN, price_list_item_id, scoped=False),
    "admin_delete_price_list_item": Entry(ADMIN, price_list_item_id, scoped=False),
    "admin_contract_price": Entry(ADMIN, contract_price_id),
    "admin_edit_contract_price": Entry(ADMIN, contract_price_id),
    "admin_delete_contract_price": Entry(ADMIN, contract_price_id),
    "admin_company": Entry(ADMIN, company_id),
    "admin_agreement": Entry(ADMIN, agreement_id),
    "edit_agreement_form": Entry(ADMIN, agreement_id),
    "edit_agreement": Entry(ADMIN, agreement_id),
    "agreement_tiers_form": Entry(ADMIN, agreement_id),
    "save_agreement_tiers": Entry(ADMIN, agreement_id),
    "activate_agreement": Entry(ADMIN, agreement_id),
    "end_agreement": Entry(ADMIN, agreement_id),
    "edit_company_form": Entry(ADMIN, company_id),
    "edit_company": Entry(ADMIN, company_id),
    "deactivate_company": Entry(ADMIN, company_id),
    "reactivate_company": Entry(ADMIN, company_id),
    "add_address": Entry(ADMIN, company_id),
    "edit_address_form": Entry(ADMIN, address_ids),
    "edit_address": Entry(ADMIN, address_ids),
    "default_address": Entry(ADMIN, address_ids),
    "retire_address": Entry(ADMIN, address_ids),
    "admin_user": Entry(ADMIN, staff_user_id, scoped=False),
    "deactivate_user": Entry(ADMIN, staff_user_id, scoped=False),
    "reactivate_user": Entry(ADMIN, staff_user_id, scoped=False),
    "change_user_role": Entry(ADMIN, staff_user_id, scoped=False),
    "resend_invitation": Entry(ADMIN, invitation_id, scoped=False),
    "withdraw_invitation": Entry(ADMIN, invitation_id, scoped=False),
    "remove_cover": Entry(ADMIN, cover_id, scoped=False),
    "send_again": Entry(ADMIN, message_id, scoped=False),
    "revoke_api_key": Entry(ADMIN, api_key_id, scoped=False),
    "end_cover": Entry(MANAGER, cover_id, rule=only_own_cover),
    # tasks: whoever sees the customer sees and works its tasks
    "task": Entry(STAFF, task_id),
    "edit_task": Entry(STAFF, task_id),
    "snooze_task": Entry(STAFF, task_id),
    "complete_task": Entry(STAFF, task_id),
    "cancel_task": Entry(STAFF, task_id),
    "reopen_task": Entry(STAFF, task_id),
    "acknowledge_rebate": Entry(EVERYONE, rebate_close_id, rule=needs_an_api_key),
    "rename_lost_reason": Entry(ADMIN, lost_reason_id, scoped=False),
    "retire_lost_reason": Entry(ADMIN, lost_reason_id, scoped=False),
    "reactivate_lost_reason": Entry(ADMIN, lost_reason_id, scoped=False),
    "move_lost_reason": Entry(ADMIN, lost_reason_id, scoped=False),
}


def sees(role: RoleName, subject: Subject) -> bool:
    """The scoping rule: finance and admins see every customer; an account manager their own and
    those they cover today; a buyer their own company."""
    if role in ("finance", "admin"):
        return True
    if role == "account_manager":
        return subject in ("own", "covered")
    return subject == "own"


def expected(entry: Entry, role: RoleName, subject: Subject) -> str | int:
    if role not in entry.roles:
        return 403
    if entry.rule is not None:
        return entry.rule(role, subject)
    if role == "buyer" and entry.make is product_through:
        return LET_IN  # a buyer's catalog is always their own company's, whatever `?company=` says
    return LET_IN if not entry.scoped or sees(role, subject) else 404


@dataclass(frozen=True)
class IdRoute:
    name: str
    method: str
    path: str


def id_routes(app: Litestar) -> list[IdRoute]:
    """Every route whose path names something by an integer id, from the app's route table."""
    found = []
    for route in app.routes:
        if ":int}" not in route.path:
            continue
        for handler in getattr(route, "route_handlers", []):
            if isinstance(handler, HTTPRouteHandler):
                for method in sorted(handler.http_methods - {"HEAD", "OPTIONS"}):
                    found.append(IdRoute(handler.name or f"{method} {route.path}", method, route.path))
    return found


def url(path: str, params: dict[str, int]) -> str:
    def value(match: re.Match[str]) -> str:
        assert match.group(1) in params, f"the table makes no {match.group(1)} for {path}"
        return str(params[match.group(1)])

    return re.sub(r"\{(\w+):int\}", value, path)


def answer(status: int, location: str) -> str | int:
    """What an answer means here: let in, or kept out by scope (404) or role (403)."""
    if status in (403, 404):
        return status
    if location.startswith("/login"):
        return "sent to sign in"
    return LET_IN if status < 400 or status == 400 else status


@pytest.fixture
async def world(session: AsyncSession, frozen_clock: Any) -> World:
    manager = await make_user(session, Role.ACCOUNT_MANAGER, full_name="Anna Kowalska", email="anna@seller.example")
    colleague = await make_user(session, Role.ACCOUNT_MANAGER, full_name="Piotr Nowak", email="piotr@seller.example")
    absent = await make_user(session, Role.ACCOUNT_MANAGER, full_name="Ola Wiśniewska", email="ola@seller.example")
    session.add(Deputy(manager_id=absent.id, deputy_id=manager.id, starts_on=TODAY, ends_on=TODAY + timedelta(days=5)))
    managers = {"own": manager, "other": colleague, "covered": absent}
    companies: dict[Subject, Company] = {}
    buyers: dict[Subject, User] = {}
    for subject in SUBJECTS:
        company = await make_company(
            session, name=f"Customer {subject}", account_manager_id=managers[subject].id, credit_limit=Decimal("1E6")
        )
        buyers[subject] = await make_user(session, company_id=company.id, email=f"buyer@{subject}.example")
        await session.refresh(buyers[subject], ["company"])
        await make_order(
            session,
            company,
            gross="50.00",
            status=OrderStatus.INVOICED,
            buyer=buyers[subject],
            submitted_at=datetime(2026, 10, 1, tzinfo=UTC),
        )  # not the company's first order
        companies[subject] = company
    users: dict[RoleName, User] = {
        "buyer": buyers["own"],
        "account_manager": manager,
        "finance": await make_user(session, Role.FINANCE, email="finance@seller.example"),
        "admin": await make_user(session, Role.ADMIN, email="admin@seller.example"),
    }
    product = await make_product(session, sku="TWL-1", name="Towels")
    await session.commit()
    return World(session, users, companies, buyers, colleague, absent, product)


async def cookies_of(client: AsyncTestClient, email: str) -> dict[str, str]:
    """A role's cookies, signed in once and sent as a header afterwards (argon2 is slow on purpose);
    the home page after signing in sets the CSRF cookie a sign-in drops."""
    client.cookies.clear()
    assert (await sign_in(client, email)).status_code == 303
    assert (await client.get("/", follow_redirects=True)).status_code == 200
    return dict(client.cookies)


async def send(client: AsyncTestClient, method: str, target: str, query: dict[str, int], jar: dict[str, str]) -> Any:
    client.cookies.clear()
    headers = {"cookie": "; ".join(f"{name}={value}" for name, value in jar.items())}
    if method == "GET":
        return await client.get(target, params=query, headers=headers)
    headers["x-csrftoken"] = jar.get("csrftoken", "")
    return await client.post(target, params=query, headers=headers, data={})


@dataclass
class Tally:
    cases: int = 0
    wrong: list[str] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)


async def test_every_route_with_an_id_has_an_entry(client: AsyncTestClient) -> None:
    names = {route.name for route in id_routes(client.app)}
    missing = sorted(names - TABLE.keys())
    assert not missing, "add an entry to TABLE for: " + ", ".join(missing)
    assert not TABLE.keys() - names, "TABLE names routes that no longer exist: " + ", ".join(TABLE.keys() - names)


async def test_every_id_route_answers_each_role_and_subject_as_the_rule_says(
    client: AsyncTestClient, world: World
) -> None:
    routes = id_routes(client.app)
    unknown = sorted({route.name for route in routes} - TABLE.keys())
    assert not unknown, "add an entry to TABLE for: " + ", ".join(unknown)
    jars = {role: await cookies_of(client, world.users[role].email) for role in ROLES}
    tally = Tally()
    for route in routes:
        entry = TABLE[route.name]
        for role in ROLES:
            made = {subject: await entry.make(world, subject, role) for subject in SUBJECTS}
            await world.session.commit()
            for subject in SUBJECTS:
                params, query = made[subject]
                response = await send(client, route.method, url(route.path, params), query, jars[role])
                got = answer(response.status_code, response.headers.get("location", ""))
                want = expected(entry, role, subject)
                tally.cases += 1
                tally.statuses[response.status_code] += 1
                if got != want:
                    tally.wrong.append(
                        f"{route.method} {route.path} ({route.name}) as {role}, {subject}: "
                        f"{response.status_code} ({got}), expected {want}"
                    )
                elif got == 404:
                    missing = {name: MISSING_ID for name in params}
                    nothing = await send(client, route.method, url(route.path, missing), query, jars[role])
                    if nothing.status_code != 404 or text_of(nothing.text) != text_of(response.text):
                        tally.wrong.append(
                            f"{route.name} as {role}, {subject}: a foreign id reads unlike a missing one"
                        )
    size = f"{len(routes)} routes × {len(ROLES)} roles × {len(SUBJECTS)} subjects = {tally.cases} cases"
    answers = ", ".join(f"{count} × {status}" for status, count in sorted(tally.statuses.items()))
    print(f"\nauthorization table: {size} ({answers}), {len(tally.wrong)} wrong")
    assert tally.cases == len(routes) * len(ROLES) * len(SUBJECTS)
    assert not tally.wrong, f"{len(tally.wrong)} of {size} answered against the rule:\n" + "\n".join(tally.wrong)
