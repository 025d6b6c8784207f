"""The CRM's demo data: for every demo customer the people to talk to, what was said and agreed, what is
open and what is due; a pipeline in every stage for both account managers; three prospects, one of
them won and ready to become a customer. Loaded by `demo.load_demo_data` after the quotes, whose real
moves (sent, changes asked for, accepted, declined) time the opportunities linked to them.

The story, on the demo's day:
- Northwind Trading (Anna Kowalska) is the fullest customer page: four contacts, seven activities that
  tell what was agreed (delivery days, the credit limit, the 2027 framework terms, the quotes), and
  four opportunities — one in negotiation with the quote "Office supplies for the new Warsaw outlets",
  one won with the order its accepted quote made, one at the offer stage with Anna's expiring offer,
  one qualified for the 2027 framework agreement.
- Anna's tasks: two overdue, three due today (one at 10:30), four in the next seven days (one of them
  snoozed, with its note), three done and one cancelled; Piotr Nowak's: one overdue, one due today, two
  in the next seven days (one at 11:00) and one done.
- The system's tasks, made as the worker makes them (`tasks.add_system_task`, keys by
  `tasks.origin_key`): customers later than usual, the quote expiring within three days, the order
  blocked by credit for two days, and the changes asked for in the quote in negotiation (done when
  its version 2 went out).
- Prospects: Gastro-Podlasie (won, to convert into a customer), Hotel Jantar (qualified) and
  Lubelskie Centrum Medyczne (a lead).

Data typed by staff (positions, summaries, outcomes, titles) is in English like the rest of the demo;
people and prospects carry Polish names. Every time is UTC; every day is relative to `today`."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from portal import clock
from portal.models import (
    Activity,
    ActivityKind,
    Company,
    Contact,
    FlagKind,
    LostReason,
    Opportunity,
    OpportunityMove,
    Order,
    OrderStatus,
    Prospect,
    Quote,
    QuoteEvent,
    QuoteLine,
    QuoteStatus,
    QuoteVersion,
    Stage,
    Task,
    TaskEvent,
    TaskEventKind,
    TaskReason,
    TaskStatus,
    User,
)

SELLER_ZONE = ZoneInfo("Europe/Warsaw")
"""The demo seller's zone (the portal's default), for the reorder rhythm's days."""

ANNA = "manager@seller.example"
PIOTR = "manager2@seller.example"

NEGOTIATED_QUOTE = "Office supplies for the new Warsaw outlets"
ACCEPTED_QUOTE = "Paper and envelopes for the year-end mailing"
EXPIRING_QUOTE = "Kitchen hygiene, winter prices"
DECLINED_QUOTE = "Frozen range for the summer terrace"
"""The demo's quotes (`demo._quotes`), by title."""

PROSPECT_TO_CONVERT = "Gastro-Podlasie sp. z o.o."


@dataclass(frozen=True)
class DemoContact:
    full_name: str
    position: str
    phone: str
    email: str
    notes: str = ""
    purchasing: bool = False
    payables: bool = False
    retired: bool = False
    portal_user: bool = False
    """The person is the company's buyer with this e-mail (`Contact.user_id`)."""


CONTACTS: dict[str, tuple[DemoContact, ...]] = {
    "Northwind Trading": (
        DemoContact(
            "Nina Nowicka",
            "Purchasing manager",
            "+48 601 214 380",
            "buyer@northwind.example",
            "Orders for all outlets. Prefers e-mail; calls after 10:00.",
            purchasing=True,
            portal_user=True,
        ),
        DemoContact(
            "Tomasz Wrona",
            "Office manager",
            "+48 602 518 007",
            "buyer2@northwind.example",
            "Orders office supplies for the head office and takes the deliveries.",
            portal_user=True,
        ),
        DemoContact(
            "Agnieszka Lis",
            "Chief accountant",
            "+48 22 614 20 31",
            "ksiegowosc@northwind.example",
            "Payment runs on Tuesdays and Fridays. Invoice copies to the accounts mailbox.",
            payables=True,
        ),
        DemoContact(
            "Marek Zieliński",
            "Operations director",
            "+48 603 770 412",
            "m.zielinski@northwind.example",
            "Signs the framework agreement; decides on the new outlets.",
        ),
    ),
    "Baltic Foods": (
        DemoContact(
            "Bartosz Bałtycki",
            "Owner and head chef",
            "+48 604 330 118",
            "buyer@baltic.example",
            "Call before 11:00, the kitchen is busy from noon.",
            purchasing=True,
            portal_user=True,
        ),
        DemoContact(
            "Ewa Szymańska",
            "Accountant (external office)",
            "+48 58 305 44 90",
            "e.szymanska@baltic.example",
            payables=True,
        ),
        DemoContact(
            "Bogna Bałtycka",
            "Restaurant manager",
            "+48 605 901 226",
            "bogna@baltic.example",
            "Invited to the portal; will order for the terrace.",
        ),
        DemoContact(
            "Jan Kowalczyk",
            "Purchasing manager",
            "+48 600 412 775",
            "j.kowalczyk@baltic.example",
            "Left the company; Bartosz took over purchasing.",
            retired=True,
        ),
    ),
    "Vistula Hotels": (
        DemoContact(
            "Wiktoria Wiślańska",
            "Procurement manager",
            "+48 606 128 440",
            "buyer@vistula.example",
            "Buys for the three hotels; the board approves anything over PLN 50,000.",
            purchasing=True,
            portal_user=True,
        ),
        DemoContact(
            "Krzysztof Dąbrowski",
            "Financial controller",
            "+48 12 421 60 05",
            "k.dabrowski@vistula.example",
            "E-invoices only.",
            payables=True,
        ),
        DemoContact(
            "Joanna Mazurek",
            "Head of housekeeping",
            "+48 607 554 310",
            "j.mazurek@vistula.example",
            "Decides on linen and amenities.",
        ),
    ),
    "Carpathia Catering": (
        DemoContact(
            "Karol Karpacki",
            "Owner",
            "+48 608 772 901",
            "buyer@carpathia.example",
            purchasing=True,
            portal_user=True,
        ),
        DemoContact(
            "Halina Gąsienica",
            "Office and accounts",
            "+48 18 443 12 70",
            "biuro@carpathia.example",
            "Handles the payments; the direct debit came back twice.",
            payables=True,
        ),
    ),
    "Mazovia Office Supplies": (
        DemoContact(
            "Magda Mazur",
            "Purchasing specialist",
            "+48 609 245 633",
            "buyer@mazovia.example",
            purchasing=True,
            portal_user=True,
        ),
        DemoContact(
            "Robert Kamiński",
            "Finance director",
            "+48 48 362 11 84",
            "r.kaminski@mazovia.example",
            "Agreed the repayment plan for the overdue invoices.",
            payables=True,
        ),
        DemoContact("Anna Wójcik", "Warehouse manager", "+48 510 876 092", "magazyn@mazovia.example"),
    ),
    "Pomerania Retail": (
        DemoContact(
            "Paweł Pomorski",
            "Category manager",
            "+48 511 330 415",
            "buyer@pomerania.example",
            purchasing=True,
            portal_user=True,
        ),
        DemoContact(
            "Beata Krawczyk",
            "Accounts payable",
            "+48 91 434 70 22",
            "faktury@pomerania.example",
            "Each store's PO number on every invoice, please.",
            payables=True,
        ),
    ),
    "Silesia Build": (
        DemoContact(
            "Sylwia Ślązak",
            "Site purchasing coordinator",
            "+48 512 604 118",
            "buyer@silesia.example",
            purchasing=True,
            portal_user=True,
        ),
        DemoContact(
            "Grzegorz Nowakowski",
            "Accounts payable",
            "+48 32 201 55 67",
            "ksiegowosc@silesia.example",
            payables=True,
        ),
        DemoContact(
            "Damian Pietrzak",
            "Site manager, Gliwice",
            "+48 513 719 024",
            "d.pietrzak@silesia.example",
            "On site from 6:00; best reached before 8:00.",
        ),
    ),
    "Warta Clinics": (
        DemoContact(
            "Waldemar Warciński",
            "Procurement manager",
            "+48 514 288 306",
            "buyer@warta.example",
            purchasing=True,
            portal_user=True,
        ),
        DemoContact(
            "Dorota Michalska",
            "Chief accountant",
            "+48 61 852 33 19",
            "d.michalska@warta.example",
            "Books the quarterly rebate against the next invoice.",
            payables=True,
        ),
        DemoContact(
            "Łukasz Grabowski",
            "Infection control officer",
            "+48 515 402 871",
            "l.grabowski@warta.example",
        ),
    ),
}
"""Every demo customer's people: one primary for purchasing (its buyer, a portal user), one for accounts
payable; Baltic Foods' former purchasing manager is retired."""


@dataclass(frozen=True)
class DemoProspect:
    name: str
    tax_id: str
    owner: str
    days_ago: int
    notes: str
    contact: DemoContact


PROSPECTS = (
    DemoProspect(
        PROSPECT_TO_CONVERT,
        "PL5423176482",
        ANNA,
        50,
        "Four restaurants in Białystok with a central kitchen. Horeca price list, 14 days, deliveries on "
        "Mondays and Thursdays.",
        DemoContact(
            "Michał Sokołowski",
            "Owner",
            "+48 516 203 447",
            "m.sokolowski@gastro-podlasie.example",
            purchasing=True,
            payables=True,
        ),
    ),
    DemoProspect(
        "Hotel Jantar Kołobrzeg sp. z o.o.",
        "PL6711903521",
        PIOTR,
        25,
        "180 rooms and a spa; their current supplier's contract ends in March.",
        DemoContact(
            "Aleksandra Wróbel",
            "Hotel manager",
            "+48 517 660 913",
            "a.wrobel@hoteljantar.example",
            purchasing=True,
        ),
    ),
    DemoProspect(
        "Lubelskie Centrum Medyczne sp. z o.o.",
        "PL7122847362",
        ANNA,
        6,
        "Met at the trade fair in Lublin; six outpatient clinics.",
        DemoContact(
            "Katarzyna Jabłońska",
            "Purchasing specialist",
            "+48 518 114 552",
            "zakupy@lcm.example",
            purchasing=True,
        ),
    ),
)
"""Prospects with valid NIPs that no demo company uses."""


def _at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), UTC)


def _round_hundreds(amount: Decimal) -> Decimal:
    return ((amount / 100).quantize(Decimal("1"), rounding=ROUND_HALF_UP) * 100).quantize(Decimal("0.01"))


@contextmanager
def _clock_at(moment: datetime) -> Iterator[None]:
    """What the services stamp with `clock.now()` says `moment`."""
    real_now = clock.now
    clock.now = lambda: moment
    try:
        yield
    finally:
        clock.now = real_now


@dataclass
class _Story:
    """What the rest of the demo made and the CRM's rows refer to: companies, staff, the quotes with their
    moves, orders, and the rows made here (prospects, contacts, opportunities) by name."""

    today: date
    companies: dict[str, Company]
    staff: dict[str, User]
    quotes: dict[str, Quote]
    quote_moves: dict[int, list[QuoteEvent]]
    quote_values: dict[int, Decimal]
    """The net value of each quote's last sent version."""
    mailing_order: Order
    """The order Northwind's accepted quote made."""
    linen_order: Order
    """Vistula Hotels' latest counted order: the first of the weekly linen deal."""
    prospects: dict[str, Prospect] = field(default_factory=dict)
    contacts: dict[str, Contact] = field(default_factory=dict)
    opportunities: dict[str, Opportunity] = field(default_factory=dict)

    @classmethod
    async def read(
        cls, session: AsyncSession, companies: dict[str, Company], staff: dict[str, User], today: date
    ) -> _Story:
        quotes = {quote.title: quote for quote in await session.scalars(select(Quote).order_by(Quote.id))}
        moves: dict[int, list[QuoteEvent]] = defaultdict(list)
        for event in await session.scalars(select(QuoteEvent).order_by(QuoteEvent.at, QuoteEvent.id)):
            moves[event.quote_id].append(event)
        rows = await session.execute(
            select(QuoteVersion.quote_id, QuoteVersion.number, func.sum(QuoteLine.quantity * QuoteLine.unit_price))
            .join(QuoteLine, QuoteLine.version_id == QuoteVersion.id)
            .join(Quote, Quote.id == QuoteVersion.quote_id)
            .where(QuoteVersion.number == Quote.sent_version)
            .group_by(QuoteVersion.quote_id, QuoteVersion.number)
        )
        values = {quote_id: Decimal(str(net)) for quote_id, _, net in rows}
        orders = list(
            await session.scalars(
                select(Order)
                .where(
                    (Order.quote_id == quotes[ACCEPTED_QUOTE].id)
                    | (
                        (Order.company_id == companies["Vistula Hotels"].id)
                        & Order.status.in_([OrderStatus.APPROVED, OrderStatus.EXPORTED, OrderStatus.INVOICED])
                    )
                )
                .order_by(Order.submitted_at.desc(), Order.id)
            )
        )
        mailing = next(order for order in orders if order.quote_id == quotes[ACCEPTED_QUOTE].id)
        linen = next(order for order in orders if order.quote_id is None)
        return cls(today, companies, staff, quotes, moves, values, mailing, linen)

    def ago(self, days: int, hour: int = 9, minute: int = 0) -> datetime:
        return _at(self.today - timedelta(days=days), hour, minute)

    def quote_moved(self, title: str, to_status: QuoteStatus) -> datetime:
        """When the quote first moved to `to_status`."""
        return next(e.at for e in self.quote_moves[self.quotes[title].id] if e.to_status is to_status)

    def manager(self, company: str) -> User:
        manager_id = self.companies[company].account_manager_id
        return next(user for user in self.staff.values() if user.id == manager_id)


async def load_crm(session: AsyncSession, companies: dict[str, Company], staff: dict[str, User], today: date) -> None:
    """The CRM's demo rows, into the demo's transaction."""
    story = await _Story.read(session, companies, staff, today)
    await _people(session, story)
    _activities(session, story)
    await _pipeline(session, story)
    await _tasks(session, story)
    await _system_tasks(session, story)


async def _people(session: AsyncSession, story: _Story) -> None:
    """Prospects, then everyone's contacts, buyers linked to their portal users."""
    for wanted in PROSPECTS:
        story.prospects[wanted.name] = Prospect(
            name=wanted.name,
            tax_id=wanted.tax_id,
            owner_id=story.staff[wanted.owner].id,
            notes=wanted.notes,
            created_at=story.ago(wanted.days_ago, 8),
        )
    session.add_all(story.prospects.values())
    await session.flush()
    buyers = {user.email: user.id for user in await session.scalars(select(User).where(User.company_id.is_not(None)))}

    def contact(spec: DemoContact, made: datetime, company: Company | None, prospect: Prospect | None) -> Contact:
        return Contact(
            company_id=None if company is None else company.id,
            prospect_id=None if prospect is None else prospect.id,
            user_id=buyers[spec.email] if spec.portal_user else None,
            full_name=spec.full_name,
            position=spec.position,
            phone=spec.phone,
            email=spec.email,
            notes=spec.notes,
            primary_purchasing=spec.purchasing,
            primary_payables=spec.payables,
            retired=spec.retired,
            created_at=made,
            updated_at=story.ago(95, 11) if spec.retired else made,
        )

    for name, specs in CONTACTS.items():
        for spec in specs:
            story.contacts[spec.full_name] = contact(spec, story.ago(175, 8), story.companies[name], None)
    for wanted in PROSPECTS:
        prospect = story.prospects[wanted.name]
        story.contacts[wanted.contact.full_name] = contact(wanted.contact, prospect.created_at, None, prospect)
    session.add_all(story.contacts.values())
    await session.flush()


def _activities(session: AsyncSession, story: _Story) -> None:
    """Three to eight calls, meetings, visits and e-mails per customer over the last six months, logged
    by its account manager; one or two per prospect, by its owner."""
    from portal.models import SettlementPeriod
    from portal.services import agreements

    today = story.today
    quarter = agreements.calendar_period(SettlementPeriod.QUARTER, today)
    previous = agreements.calendar_period(SettlementPeriod.QUARTER, quarter.starts_on - timedelta(days=1))
    baltic_signed = max(1, min(178, (today - quarter.starts_on).days + 16))
    warta_signed = max(1, min(178, (today - previous.starts_on).days + 20))
    warta_rebate = max(1, (today - quarter.starts_on).days - 3)
    negotiated = story.quotes[NEGOTIATED_QUOTE].number
    accepted = story.quotes[ACCEPTED_QUOTE].number
    declined = story.quotes[DECLINED_QUOTE].number
    asked = (today - story.quote_moved(NEGOTIATED_QUOTE, QuoteStatus.CHANGES_REQUESTED).date()).days
    accept_day = (today - story.quote_moved(ACCEPTED_QUOTE, QuoteStatus.ACCEPTED).date()).days
    linen_talk = (today - story.linen_order.submitted_at.date()).days + 21
    decline_day = (today - story.quote_moved(DECLINED_QUOTE, QuoteStatus.DECLINED).date()).days

    call, meeting, visit, email = ActivityKind.CALL, ActivityKind.MEETING, ActivityKind.VISIT, ActivityKind.EMAIL
    logged: list[tuple[str, int, int, ActivityKind, str, str, str]] = [
        # Northwind Trading: what was agreed, from the first talk about the new outlets to the quotes.
        (
            "Northwind Trading",
            170,
            10,
            meeting,
            "Marek Zieliński",
            "Annual review at their head office. Three new outlets open in Warsaw in January; they want one "
            "supplier for office, hygiene and kitchen supplies.",
            "Agreed to propose a framework agreement for all outlets from 2027.",
        ),
        (
            "Northwind Trading",
            75,
            8,
            visit,
            "Tomasz Wrona",
            "Visited the head office store room: deliveries arrived while the reception was closed.",
            "Agreed delivery days: Tuesday and Thursday, 8:00–10:00, to the warehouse; the driver calls Tomasz "
            "30 minutes before.",
        ),
        (
            "Northwind Trading",
            35,
            12,
            call,
            "Agnieszka Lis",
            "Asked for a higher credit limit ahead of the openings. Went through two years of payments with her, "
            "all on time.",
            "Finance raised the limit from PLN 50,000 to PLN 60,000.",
        ),
        (
            "Northwind Trading",
            30,
            9,
            call,
            "Nina Nowicka",
            "Nina asked about stocking the offices of the three new outlets: paper, pens, binders, notebooks "
            "with their logo.",
            "Opportunity opened; she sends a quote request once the quantities are known.",
        ),
        (
            "Northwind Trading",
            14,
            9,
            meeting,
            "Marek Zieliński",
            "Framework agreement 2027 with Marek and Nina: quarterly volume tiers on all products, one price for "
            "all outlets, 30 days payment.",
            "Agreed in principle: 1 % from PLN 40,000 a quarter, 2 % from PLN 80,000; skonto 2 % within 7 days. "
            "Draft terms to Marek next.",
        ),
        (
            "Northwind Trading",
            asked,
            13,
            email,
            "Nina Nowicka",
            f"Nina asked for changes to quote {negotiated}: 250 boxes of paper at their target price, no binders.",
            "Version 2 sent the next day: 250 boxes at a better price, binders out, toner for the new printers in.",
        ),
        (
            "Northwind Trading",
            accept_day,
            11,
            call,
            "Nina Nowicka",
            f"Nina accepted quote {accepted} for the year-end mailing.",
            "The order waits for approval: it is over the credit limit. Asked finance to look at it.",
        ),
        # Baltic Foods: a new purchasing contact, a prospective agreement, a quote lost to a local supplier.
        (
            "Baltic Foods",
            160,
            10,
            visit,
            "Jan Kowalczyk",
            "Tasting of the frozen range at the restaurant with Jan and Bartosz.",
            "They switch fries and fish to us from the summer; Jan orders weekly, on Mondays.",
        ),
        (
            "Baltic Foods",
            95,
            9,
            call,
            "Bartosz Bałtycki",
            "Jan Kowalczyk has left the company.",
            "Bartosz orders himself from now on; calls before 11:00.",
        ),
        (
            "Baltic Foods",
            baltic_signed,
            12,
            meeting,
            "Bartosz Bałtycki",
            "Frozen-food agreement for the quarter: lower prices once frozen turnover passes a threshold.",
            "Signed from the quarter's first day: 2 % from PLN 5,000, 4 % from PLN 12,000; the assortment is "
            "the categories they buy and frozen food.",
        ),
        (
            "Baltic Foods",
            decline_day,
            15,
            call,
            "Bartosz Bałtycki",
            f"Bartosz declined quote {declined} for the summer terrace: a local supplier delivers daily at a "
            "lower price.",
            "Lost for this season; ask again for the winter menu in January.",
        ),
        # Vistula Hotels.
        (
            "Vistula Hotels",
            150,
            10,
            meeting,
            "Wiktoria Wiślańska",
            "Presented the Key accounts price list for the three hotels.",
            "Breakfast and housekeeping supplies move to us; 60 days payment confirmed.",
        ),
        (
            "Vistula Hotels",
            linen_talk,
            13,
            meeting,
            "Joanna Mazurek",
            "Weekly linen and amenities for all three hotels: quantities per hotel and the delivery day.",
            "Agreed a weekly delivery to Kraków on Key accounts prices; Wiktoria places the first order.",
        ),
        (
            "Vistula Hotels",
            40,
            9,
            call,
            "Krzysztof Dąbrowski",
            "Asked for invoices by e-mail only.",
            "Passed to the ERP team; paper invoices stop from next month.",
        ),
        (
            "Vistula Hotels",
            9,
            10,
            visit,
            "Wiktoria Wiślańska",
            "Tasting of the breakfast buffet range (jams, cereals, juices) at the Old Town hotel.",
            "Prices per line agreed; their board decides before the end of the month.",
        ),
        # Carpathia Catering.
        (
            "Carpathia Catering",
            130,
            9,
            call,
            "Karol Karpacki",
            "Planning the winter event season in the mountains.",
            "They expect 40 % more packaging from December.",
        ),
        (
            "Carpathia Catering",
            21,
            10,
            call,
            "Halina Gąsienica",
            "The direct debit came back unpaid for the second time.",
            "Halina pays by transfer; finance put the account on hold until the balance is settled.",
        ),
        (
            "Carpathia Catering",
            8,
            12,
            email,
            "Karol Karpacki",
            "Sent the statement of the overdue invoice and what lifts the hold.",
            "Karol confirmed the transfer for next week.",
        ),
        # Mazovia Office Supplies.
        (
            "Mazovia Office Supplies",
            110,
            11,
            visit,
            "Magda Mazur",
            "Quarterly visit at the Radom warehouse with Magda and Anna Wójcik.",
            "Their copy paper lasts three weeks; they order every three weeks.",
        ),
        (
            "Mazovia Office Supplies",
            58,
            9,
            call,
            "Robert Kamiński",
            "Payments slipping past terms since the summer; finance lowers the limit to PLN 15,000.",
            "Robert agreed to pay the two oldest invoices by the month's end.",
        ),
        (
            "Mazovia Office Supplies",
            12,
            10,
            call,
            "Robert Kamiński",
            "The oldest invoice is now 41 days overdue.",
            "Repayment plan: half on Friday, the rest with the next payment run; orders wait until then.",
        ),
        # Pomerania Retail.
        (
            "Pomerania Retail",
            165,
            10,
            meeting,
            "Paweł Pomorski",
            "Review of last year's agreement: the stores never reached the first tier.",
            "Not renewed; they buy at the list price less 5 %.",
        ),
        (
            "Pomerania Retail",
            80,
            14,
            email,
            "Beata Krawczyk",
            "Asked for one invoice per store.",
            "Each order carries the store's PO number, and each order is invoiced on its own.",
        ),
        (
            "Pomerania Retail",
            40,
            11,
            call,
            "Paweł Pomorski",
            "Offered the cleaning range for the stores at a tier price.",
            "Too expensive for them this year.",
        ),
        # Silesia Build.
        (
            "Silesia Build",
            140,
            7,
            visit,
            "Sylwia Ślązak",
            "Site visit in Katowice: canteen supplies and protective wear for the construction sites.",
            "Deliveries on Tuesdays and Thursdays only, orders by noon.",
        ),
        (
            "Silesia Build",
            45,
            9,
            call,
            "Sylwia Ślązak",
            "Too many small orders from the sites.",
            "Agreed a minimum order of PLN 500 and a PLN 40 fee under PLN 2,000; set in their delivery terms.",
        ),
        (
            "Silesia Build",
            20,
            6,
            meeting,
            "Damian Pietrzak",
            "New project in Gliwice from February: a site canteen for 120 workers.",
            "Damian sends the headcount plan in December.",
        ),
        (
            "Silesia Build",
            7,
            13,
            email,
            "Grzegorz Nowakowski",
            "Sent the winter protective wear offer, prices per size.",
            "Answer expected next week.",
        ),
        # Warta Clinics: the framework agreement and its first rebate.
        (
            "Warta Clinics",
            warta_signed,
            10,
            meeting,
            "Waldemar Warciński",
            "Negotiated the framework agreement for all clinics: quarterly rebate tiers and payment terms.",
            "Agreed: 1 % from PLN 15,000, 2 % from PLN 35,000, 3 % from PLN 70,000 a quarter; skonto 2 % within "
            "7 days; prepayment −1 %, 60 days +1 %.",
        ),
        (
            "Warta Clinics",
            warta_rebate,
            12,
            call,
            "Dorota Michalska",
            "Explained last quarter's rebate: 2 % of the turnover, as a credit note.",
            "Dorota books it against the next invoice.",
        ),
        (
            "Warta Clinics",
            25,
            9,
            visit,
            "Łukasz Grabowski",
            "Hygiene audit in the Poznań clinics; he wants a cheaper hand disinfectant.",
            "Left two samples; he decides after the audit.",
        ),
        (
            "Warta Clinics",
            12,
            10,
            call,
            "Waldemar Warciński",
            "Orders without a flag are now approved at once.",
            "Waldemar told the clinics' staff.",
        ),
        # Prospects.
        (
            PROSPECT_TO_CONVERT,
            45,
            10,
            visit,
            "Michał Sokołowski",
            "Tasting at their central kitchen: frozen and dry goods for four restaurants.",
            "Interested; quantities per restaurant by next week.",
        ),
        (
            PROSPECT_TO_CONVERT,
            3,
            9,
            meeting,
            "Michał Sokołowski",
            "Terms: Horeca price list, 14 days payment, deliveries on Mondays and Thursdays.",
            "Won. Make them a customer and ask finance for a credit limit of PLN 20,000.",
        ),
        (
            "Hotel Jantar Kołobrzeg sp. z o.o.",
            18,
            9,
            call,
            "Aleksandra Wróbel",
            "Looking for a supplier of amenities and cleaning for the 2027 season.",
            "Budget confirmed for 180 rooms; a visit in Kołobrzeg next.",
        ),
        (
            "Lubelskie Centrum Medyczne sp. z o.o.",
            3,
            8,
            email,
            "Katarzyna Jabłońska",
            "Asked for the hygiene and protective wear catalogue after the trade fair.",
            "Catalogue sent; call her next week.",
        ),
    ]
    for owner, days, hour, kind, person, summary, outcome in logged:
        company = story.companies.get(owner)
        prospect = story.prospects.get(owner)
        author = story.manager(owner) if company else story.staff[next(p.owner for p in PROSPECTS if p.name == owner)]
        happened = story.ago(days, hour)
        session.add(
            Activity(
                company_id=None if company is None else company.id,
                prospect_id=None if prospect is None else prospect.id,
                kind=kind,
                happened_at=happened,
                contact_id=story.contacts[person].id,
                summary=summary,
                outcome=outcome,
                author_id=author.id,
                created_at=happened + timedelta(minutes=20),
            )
        )


@dataclass(frozen=True)
class _Move:
    at: datetime
    stage: Stage
    by_quote: bool = False
    """Moved by the linked quote's move (no person), rather than by its owner."""
    note: str = ""


async def _pipeline(session: AsyncSession, story: _Story) -> None:
    """Opportunities in every stage for both account managers, each with its history from the lead on.
    The quotes' opportunities move with their quotes (sent → offer, changes asked for → negotiation,
    accepted → won); the others move by hand."""
    reasons = await _lost_reasons(session, ("Price too high", "Chose a competitor"))
    linen_won = story.linen_order.submitted_at + timedelta(hours=3)

    def moved(title: str, status: QuoteStatus) -> datetime:
        return story.quote_moved(title, status)

    lead, qualified, offer, negotiation = Stage.LEAD, Stage.QUALIFIED, Stage.OFFER, Stage.NEGOTIATION
    ago = story.ago
    plans: list[tuple[str, str, str, Decimal | None, date, list[_Move]]] = [
        # (customer or prospect, title, owner, value (None: the quote's), expected close, moves)
        (
            "Northwind Trading",
            NEGOTIATED_QUOTE,
            ANNA,
            None,
            story.quotes[NEGOTIATED_QUOTE].valid_until or story.today,
            [
                _Move(ago(30, 9, 20), lead, note="Three new outlets in January."),
                _Move(ago(14, 12), qualified, note="Openings confirmed by Marek; budget for all three offices."),
                _Move(moved(NEGOTIATED_QUOTE, QuoteStatus.SENT), offer, by_quote=True),
                _Move(moved(NEGOTIATED_QUOTE, QuoteStatus.CHANGES_REQUESTED), negotiation, by_quote=True),
            ],
        ),
        (
            "Northwind Trading",
            "Framework agreement 2027 for all outlets",
            ANNA,
            Decimal("180000"),
            story.today + timedelta(days=35),
            [
                _Move(ago(170, 11), lead),
                _Move(ago(14, 12, 10), qualified, note="Tiers and skonto agreed in principle; draft terms next."),
            ],
        ),
        (
            "Northwind Trading",
            ACCEPTED_QUOTE,
            ANNA,
            None,
            moved(ACCEPTED_QUOTE, QuoteStatus.ACCEPTED).date(),
            [
                _Move(moved(ACCEPTED_QUOTE, QuoteStatus.REQUESTED) + timedelta(minutes=30), lead),
                _Move(moved(ACCEPTED_QUOTE, QuoteStatus.SENT), offer, by_quote=True),
                _Move(moved(ACCEPTED_QUOTE, QuoteStatus.ACCEPTED), Stage.WON, by_quote=True),
            ],
        ),
        (
            "Northwind Trading",
            EXPIRING_QUOTE,
            ANNA,
            None,
            story.quotes[EXPIRING_QUOTE].valid_until or story.today,
            [
                _Move(moved(EXPIRING_QUOTE, QuoteStatus.DRAFT) - timedelta(minutes=30), lead),
                _Move(moved(EXPIRING_QUOTE, QuoteStatus.SENT), offer, by_quote=True),
            ],
        ),
        (
            "Baltic Foods",
            DECLINED_QUOTE,
            ANNA,
            None,
            moved(DECLINED_QUOTE, QuoteStatus.DECLINED).date(),
            [
                _Move(moved(DECLINED_QUOTE, QuoteStatus.REQUESTED) + timedelta(minutes=30), lead),
                _Move(moved(DECLINED_QUOTE, QuoteStatus.SENT), offer, by_quote=True),
                _Move(moved(DECLINED_QUOTE, QuoteStatus.DECLINED) + timedelta(hours=3), Stage.LOST),
            ],
        ),
        (
            "Pomerania Retail",
            "Cleaning range for the stores",
            ANNA,
            Decimal("24000"),
            story.today - timedelta(days=40),
            [
                _Move(ago(70, 10), lead),
                _Move(ago(55, 10), qualified),
                _Move(ago(48, 14), offer, note="Tier prices sent by e-mail."),
                _Move(ago(40, 11, 30), Stage.LOST),
            ],
        ),
        (
            "Carpathia Catering",
            "Packaging for the winter event season",
            ANNA,
            Decimal("12000"),
            story.today + timedelta(days=40),
            [_Move(ago(130, 9, 30), lead, note="Waits until the account's hold is lifted.")],
        ),
        (
            "Vistula Hotels",
            "Weekly linen and amenities for the three hotels",
            PIOTR,
            Decimal("60000"),
            linen_won.date(),
            [
                _Move(linen_won - timedelta(days=45), lead),
                _Move(linen_won - timedelta(days=38), qualified),
                _Move(linen_won - timedelta(days=30), offer),
                _Move(linen_won - timedelta(days=21), negotiation),
                _Move(linen_won, Stage.WON, note="The first weekly order is in."),
            ],
        ),
        (
            "Vistula Hotels",
            "Breakfast buffet range",
            PIOTR,
            Decimal("95000"),
            story.today + timedelta(days=10),
            [
                _Move(ago(60, 10), lead),
                _Move(ago(44, 10), qualified),
                _Move(ago(20, 15), offer, note="Prices per line sent to Wiktoria."),
                _Move(ago(9, 12), negotiation, note="Prices agreed; waiting for their board."),
            ],
        ),
        (
            "Mazovia Office Supplies",
            "Copy paper, annual contract 2027",
            PIOTR,
            Decimal("28000"),
            story.today + timedelta(days=50),
            [_Move(ago(100, 12), lead), _Move(ago(33, 10), qualified, note="Only once the overdue invoices are paid.")],
        ),
        (
            "Silesia Build",
            "Site canteen for the Gliwice project",
            PIOTR,
            Decimal("40000"),
            story.today + timedelta(days=90),
            [_Move(ago(20, 8), lead)],
        ),
        (
            "Silesia Build",
            "Winter protective wear for the sites",
            PIOTR,
            Decimal("62000"),
            story.today + timedelta(days=12),
            [_Move(ago(35, 9), lead), _Move(ago(21, 9), qualified), _Move(ago(7, 13, 30), offer)],
        ),
        (
            PROSPECT_TO_CONVERT,
            "Frozen and dry goods for four restaurants",
            ANNA,
            Decimal("65000"),
            story.today - timedelta(days=3),
            [
                _Move(ago(50, 8), lead),
                _Move(ago(45, 12), qualified),
                _Move(ago(30, 10), offer, note="Horeca prices and delivery days sent."),
                _Move(ago(12, 10), negotiation),
                _Move(ago(3, 12), Stage.WON, note="Terms agreed with Michał; first deliveries next month."),
            ],
        ),
        (
            "Hotel Jantar Kołobrzeg sp. z o.o.",
            "Amenities and cleaning for the 2027 season",
            PIOTR,
            Decimal("120000"),
            story.today + timedelta(days=75),
            [_Move(ago(25, 8), lead), _Move(ago(18, 10), qualified, note="180 rooms; budget confirmed.")],
        ),
        (
            "Lubelskie Centrum Medyczne sp. z o.o.",
            "Hygiene and protective wear for six clinics",
            ANNA,
            Decimal("45000"),
            story.today + timedelta(days=100),
            [_Move(ago(6, 8), lead)],
        ),
    ]
    lost = {
        DECLINED_QUOTE: (reasons["Chose a competitor"], "A local supplier delivers daily at a lower price."),
        "Cleaning range for the stores": (reasons["Price too high"], "Tier prices still above their list less 5 %."),
    }
    won_orders = {
        ACCEPTED_QUOTE: story.mailing_order,
        "Weekly linen and amenities for the three hotels": story.linen_order,
    }
    moves: list[OpportunityMove] = []
    for owner, title, owner_email, value, close_on, path in plans:
        company = story.companies.get(owner)
        quote = story.quotes.get(title) if company else None
        reason, note = lost.get(title, (None, ""))
        if value is None:
            assert quote is not None
            value = _round_hundreds(story.quote_values[quote.id])
        opportunity = Opportunity(
            company_id=None if company is None else company.id,
            prospect_id=story.prospects[owner].id if company is None else None,
            title=title,
            expected_value=value,
            currency="PLN",
            expected_close_on=close_on,
            stage=path[-1].stage,
            owner_id=story.staff[owner_email].id,
            lost_reason_id=reason,
            lost_note=note,
            order_id=won_orders[title].id if title in won_orders else None,
            created_at=path[0].at,
            updated_at=path[-1].at,
            stage_changed_at=path[-1].at,
            version=len(path),
        )
        session.add(opportunity)
        story.opportunities[title] = opportunity
    await session.flush()
    for owner, title, owner_email, _, _, path in plans:
        opportunity = story.opportunities[title]
        quote = story.quotes.get(title) if owner in story.companies else None
        if quote is not None:
            quote.opportunity_id = opportunity.id
        before: Stage | None = None
        for move in path:
            moves.append(
                OpportunityMove(
                    opportunity_id=opportunity.id,
                    company_id=opportunity.company_id,
                    at=move.at,
                    actor_id=None if move.by_quote else story.staff[owner_email].id,
                    from_stage=before,
                    to_stage=move.stage,
                    quote_id=quote.id if move.by_quote and quote is not None else None,
                    note=move.note,
                )
            )
            before = move.stage
    session.add_all(moves)
    await session.flush()


async def _lost_reasons(session: AsyncSession, labels: tuple[str, ...]) -> dict[str, int]:
    """The ids of the lost reasons the demo uses; the migration seeds them, and any missing is added."""
    found = {
        reason.label: reason for reason in await session.scalars(select(LostReason).where(LostReason.label.in_(labels)))
    }
    missing = [
        LostReason(label=label, is_active=True, position=n) for n, label in enumerate(labels) if label not in found
    ]
    if missing:
        session.add_all(missing)
        await session.flush()
        found |= {reason.label: reason for reason in missing}
    return {label: reason.id for label, reason in found.items()}


@dataclass(frozen=True)
class _DemoTask:
    owner: str
    title: str
    made: int
    """Days ago it was made."""
    due: int
    """Its first due day, in days from today (negative: past)."""
    about: str
    """The customer or prospect it is about."""
    contact: str | None = None
    opportunity: str | None = None
    quote: str | None = None
    due_time: time | None = None
    notes: str = ""
    snoozed: tuple[int, int, str] | None = None
    """(days ago, the new due day in days from today, the note)."""
    done: int | None = None
    """Days ago it was done."""
    cancelled: tuple[int, str] | None = None
    """(days ago, why)."""

    @property
    def status(self) -> TaskStatus:
        if self.done is not None:
            return TaskStatus.DONE
        return TaskStatus.CANCELLED if self.cancelled else TaskStatus.OPEN


TASKS = (
    # Anna Kowalska: two overdue …
    _DemoTask(
        ANNA,
        "Send Bartosz the frozen price list for January",
        9,
        -2,
        "Baltic Foods",
        "Bartosz Bałtycki",
        notes="With the tier prices of the agreement.",
    ),
    _DemoTask(
        ANNA,
        "Remind Agnieszka Lis about the overdue invoice",
        4,
        -1,
        "Northwind Trading",
        "Agnieszka Lis",
        notes="Within the grace period, but the year-end mailing order waits for credit.",
    ),
    # … three due today, one at a time …
    _DemoTask(
        ANNA,
        "Call Nina about the January deliveries to the new outlets",
        5,
        0,
        "Northwind Trading",
        "Nina Nowicka",
        opportunity=NEGOTIATED_QUOTE,
        due_time=time(10, 30),
        notes="Delivery days for the outlets: Tuesday and Thursday like the head office?",
    ),
    _DemoTask(ANNA, "Prepare the quarterly review for Warta Clinics", 14, 0, "Warta Clinics", "Waldemar Warciński"),
    _DemoTask(ANNA, "Check Carpathia's transfer with finance", 8, 0, "Carpathia Catering", "Halina Gąsienica"),
    # … four in the next seven days, one of them snoozed …
    _DemoTask(
        ANNA,
        "Send Gastro-Podlasie's details to finance for a credit limit",
        3,
        1,
        PROSPECT_TO_CONVERT,
        "Michał Sokołowski",
        opportunity="Frozen and dry goods for four restaurants",
        notes="Asked for PLN 20,000; 14 days payment.",
    ),
    _DemoTask(
        ANNA,
        "Follow up the winter packaging with Karol",
        20,
        2,
        "Carpathia Catering",
        "Karol Karpacki",
        opportunity="Packaging for the winter event season",
    ),
    _DemoTask(
        ANNA,
        "Send Marek the draft framework terms for 2027",
        14,
        -7,
        "Northwind Trading",
        "Marek Zieliński",
        opportunity="Framework agreement 2027 for all outlets",
        snoozed=(7, 3, "Marek is on holiday until next week."),
    ),
    _DemoTask(
        ANNA,
        "Call Katarzyna Jabłońska about the catalogue",
        3,
        4,
        "Lubelskie Centrum Medyczne sp. z o.o.",
        "Katarzyna Jabłońska",
        opportunity="Hygiene and protective wear for six clinics",
    ),
    # … one further ahead, three done and one cancelled.
    _DemoTask(ANNA, "Quarterly call with Paweł", 10, 12, "Pomerania Retail", "Paweł Pomorski"),
    _DemoTask(ANNA, "Confirm delivery days with Tomasz", 80, -75, "Northwind Trading", "Tomasz Wrona", done=75),
    _DemoTask(
        ANNA,
        "Price Nina's year-end mailing request",
        6,
        -5,
        "Northwind Trading",
        "Nina Nowicka",
        quote=ACCEPTED_QUOTE,
        done=5,
    ),
    _DemoTask(
        ANNA,
        "Follow up the summer terrace quote with Bartosz",
        13,
        -10,
        "Baltic Foods",
        "Bartosz Bałtycki",
        quote=DECLINED_QUOTE,
        done=10,
    ),
    _DemoTask(
        ANNA,
        "Visit Carpathia's new kitchen in Zakopane",
        30,
        5,
        "Carpathia Catering",
        "Karol Karpacki",
        cancelled=(20, "The account is on hold; the visit waits until the balance is settled."),
    ),
    # Piotr Nowak.
    _DemoTask(
        PIOTR,
        "Check Mazovia's first repayment with Robert",
        12,
        -1,
        "Mazovia Office Supplies",
        "Robert Kamiński",
        notes="Half of the overdue balance was promised for Friday.",
    ),
    _DemoTask(
        PIOTR,
        "Send Wiktoria the breakfast buffet prices for the board",
        9,
        0,
        "Vistula Hotels",
        "Wiktoria Wiślańska",
        opportunity="Breakfast buffet range",
    ),
    _DemoTask(
        PIOTR,
        "Ask Damian for the Gliwice headcount plan",
        20,
        5,
        "Silesia Build",
        "Damian Pietrzak",
        opportunity="Site canteen for the Gliwice project",
    ),
    _DemoTask(
        PIOTR,
        "Visit Hotel Jantar in Kołobrzeg",
        18,
        6,
        "Hotel Jantar Kołobrzeg sp. z o.o.",
        "Aleksandra Wróbel",
        opportunity="Amenities and cleaning for the 2027 season",
        due_time=time(11, 0),
    ),
    _DemoTask(
        PIOTR,
        "Send Grzegorz the winter protective wear offer",
        14,
        -7,
        "Silesia Build",
        "Grzegorz Nowakowski",
        opportunity="Winter protective wear for the sites",
        done=7,
    ),
)
"""The account managers' own tasks, with their history."""


async def _tasks(session: AsyncSession, story: _Story) -> None:
    """The managers' own tasks and their events: made, snoozed (from which day to which, with the note),
    done or cancelled."""
    made: list[tuple[Task, _DemoTask]] = []
    for spec in TASKS:
        owner = story.staff[spec.owner]
        company = story.companies.get(spec.about)
        prospect = story.prospects.get(spec.about)
        created = story.ago(spec.made, 10, 40)
        due_on = story.today + timedelta(days=spec.snoozed[1] if spec.snoozed else spec.due)
        closed = story.ago(spec.done, 15, 5) if spec.done is not None else None
        if spec.cancelled:
            closed = story.ago(spec.cancelled[0], 16, 10)
        changes = (spec.snoozed is not None) + (closed is not None)
        task = Task(
            title=spec.title,
            notes=spec.notes,
            due_on=due_on,
            due_time=spec.due_time,
            owner_id=owner.id,
            status=spec.status,
            company_id=None if company is None else company.id,
            prospect_id=None if prospect is None else prospect.id,
            contact_id=story.contacts[spec.contact].id if spec.contact else None,
            quote_id=story.quotes[spec.quote].id if spec.quote else None,
            opportunity_id=story.opportunities[spec.opportunity].id if spec.opportunity else None,
            created_by_id=owner.id,
            created_at=created,
            updated_at=closed or (story.ago(spec.snoozed[0], 9, 15) if spec.snoozed else created),
            closed_at=closed,
            closed_by_id=owner.id if closed else None,
            version=1 + changes,
        )
        made.append((task, spec))
    session.add_all(task for task, _ in made)
    await session.flush()
    events: list[TaskEvent] = []
    for task, spec in made:
        first_due = story.today + timedelta(days=spec.due)
        events.append(
            TaskEvent(
                task_id=task.id,
                at=task.created_at,
                actor_id=task.owner_id,
                kind=TaskEventKind.CREATED,
                to_due=first_due,
            )
        )
        if spec.snoozed:
            days, to_due, note = spec.snoozed
            events.append(
                TaskEvent(
                    task_id=task.id,
                    at=story.ago(days, 9, 15),
                    actor_id=task.owner_id,
                    kind=TaskEventKind.SNOOZED,
                    from_due=first_due,
                    to_due=story.today + timedelta(days=to_due),
                    note=note,
                )
            )
        if task.closed_at is not None:
            kind = TaskEventKind.DONE if task.status is TaskStatus.DONE else TaskEventKind.CANCELLED
            note = spec.cancelled[1] if spec.cancelled else ""
            events.append(TaskEvent(task_id=task.id, at=task.closed_at, actor_id=task.owner_id, kind=kind, note=note))
    session.add_all(events)
    await session.flush()


async def _system_tasks(session: AsyncSession, story: _Story) -> None:
    """The system's tasks, made as the worker's pass makes them (once each, by their origin key): the
    customers later than usual (today), the quote expiring within three days, the order blocked by
    credit for two days, and the changes the buyer asked for in the quote in negotiation — made when
    asked, done by Anna when she sent version 2."""
    from portal.services import customers, tasks
    from portal.services.tasks import SystemTask, origin_key

    today = story.today
    morning = _at(today, 0, 30)  # the worker's first pass of the seller's day
    titles = tasks.SYSTEM_TITLES
    by_id = {company.id: company for company in story.companies.values()}

    # Changes asked for in the quote in negotiation: made when the buyer asked, done when version 2 went out.
    negotiated = story.quotes[NEGOTIATED_QUOTE]
    asked = next(e for e in story.quote_moves[negotiated.id] if e.to_status is QuoteStatus.CHANGES_REQUESTED)
    answered = next(e for e in story.quote_moves[negotiated.id] if e.at > asked.at and e.to_status is QuoteStatus.SENT)
    key = origin_key(TaskReason.CHANGES_REQUESTED, negotiated.id, f"v{asked.version}")
    with _clock_at(asked.at):
        await tasks.add_system_task(
            session,
            SystemTask(
                TaskReason.CHANGES_REQUESTED,
                key,
                asked.at.date(),
                titles[TaskReason.CHANGES_REQUESTED] % {"version": asked.version + 1, "quote": negotiated.number},
                owner_id=story.manager("Northwind Trading").id,
                company_id=negotiated.company_id,
                quote_id=negotiated.id,
                opportunity_id=story.opportunities[NEGOTIATED_QUOTE].id,
            ),
        )
    changes_task = await session.scalar(select(Task).where(Task.origin_key == key))
    assert changes_task is not None
    if changes_task.status is TaskStatus.OPEN:  # made here, not closed by the quote's move
        done_at = answered.at + timedelta(minutes=5)
        changes_task.status, changes_task.closed_at, changes_task.closed_by_id = (
            TaskStatus.DONE,
            done_at,
            answered.actor_id,
        )
        changes_task.updated_at, changes_task.version = done_at, changes_task.version + 1
        session.add(TaskEvent(task_id=changes_task.id, at=done_at, actor_id=answered.actor_id, kind=TaskEventKind.DONE))

    # The quote expiring within three days: found by the pass three days before, due the day before it ends.
    expiring = story.quotes[EXPIRING_QUOTE]
    assert expiring.valid_until is not None and today <= expiring.valid_until <= today + timedelta(days=3)
    found_on = max(expiring.valid_until - timedelta(days=3), today - timedelta(days=2))
    with _clock_at(_at(found_on, 0, 30)):
        await tasks.add_system_task(
            session,
            SystemTask(
                TaskReason.QUOTE_EXPIRING,
                origin_key(TaskReason.QUOTE_EXPIRING, expiring.id, f"v{expiring.sent_version}"),
                max(expiring.valid_until - timedelta(days=1), today),
                titles[TaskReason.QUOTE_EXPIRING] % {"quote": expiring.number},
                owner_id=story.manager("Northwind Trading").id,
                company_id=expiring.company_id,
                quote_id=expiring.id,
                opportunity_id=story.opportunities[EXPIRING_QUOTE].id,
            ),
        )

    # Orders blocked by credit for two days or more.
    waiting = await session.scalars(
        select(Order)
        .options(selectinload(Order.flags))
        .where(Order.status == OrderStatus.PENDING_APPROVAL)
        .order_by(Order.id)
    )
    for order in waiting:
        blocked_since = order.submitted_at.astimezone(SELLER_ZONE).date()
        manager_id = by_id[order.company_id].account_manager_id
        if manager_id is None or blocked_since > today - timedelta(days=2):
            continue
        if not any(flag.kind is FlagKind.EXCEEDS_CREDIT for flag in order.flags):
            continue
        with _clock_at(_at(blocked_since + timedelta(days=2), 0, 30)):
            await tasks.add_system_task(
                session,
                SystemTask(
                    TaskReason.CREDIT_BLOCKED,
                    origin_key(TaskReason.CREDIT_BLOCKED, order.id),
                    blocked_since + timedelta(days=2),
                    titles[TaskReason.CREDIT_BLOCKED] % {"order": order.number},
                    owner_id=manager_id,
                    company_id=order.company_id,
                    order_id=order.id,
                ),
            )

    # Customers later than usual, found by this morning's pass.
    active = [company for company in story.companies.values() if company.is_active and company.account_manager_id]
    rhythms = await customers.rhythms(session, [company.id for company in active], today)
    with _clock_at(morning):
        for company in active:
            rhythm = rhythms[company.id]
            if not rhythm.late or rhythm.days_since_last is None:
                continue
            last_order_day = today - timedelta(days=rhythm.days_since_last)
            await tasks.add_system_task(
                session,
                SystemTask(
                    TaskReason.LATE_CUSTOMER,
                    origin_key(TaskReason.LATE_CUSTOMER, company.id, last_order_day),
                    today,
                    titles[TaskReason.LATE_CUSTOMER] % {"company": company.name},
                    owner_id=company.account_manager_id,
                    company_id=company.id,
                ),
            )
    await session.flush()
