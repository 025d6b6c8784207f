"""The staff's one search box: customers, prospects, contacts, orders, quotes and invoices whose
name, number, NIP, PO number, e-mail or phone contains what was typed, grouped by kind.

- Only what the user sees: every query is filtered by the one scoping rule (`services/scoping.py`),
  with the managers in charge computed once: an account manager finds their companies and those of
  a colleague they cover, finance and admins find every company. A contact is found through its
  customer or, before it became one, its prospect.
- A text of 2-100 characters. Letters match whatever their case and Polish accents ("lodz",
  "ŁÓDŹ" and "łódź" all find "Łódź"); `%` and `_` are plain characters. A NIP or a phone number
  matches by its digits only, so "525-000-11-22" finds PL5250001122.
- Exact matches come first (an order number typed in full is the top row), then names starting with
  the text, then the rest: customers, prospects and contacts by name, orders, quotes and invoices
  newest first.
- Each kind is one query that reads at most `per_kind` + 1 rows (the extra row says "more"), so a
  search costs the same few statements however much matches."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Generic, TypeVar

from sqlalchemy import ColumnElement, String, and_, case, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

from portal.errors import NotAllowed, Refused
from portal.i18n import gettext
from portal.models import Company, Contact, Invoice, Order, OrderStatus, Prospect, Quote, QuoteStatus, Role, User
from portal.services import ordering, quotes, scoping

MIN_LENGTH = 2
MAX_LENGTH = 100
PER_KIND = 10
FIELD = "q"

POLISH_LETTERS = "ĄĆĘŁŃÓŚŹŻąćęłńóśźż"
PLAIN_LETTERS = "ACELNOSZZacelnoszz"
_PLAIN = str.maketrans(POLISH_LETTERS, PLAIN_LETTERS)
SEPARATORS = (" ", "-", ".", "/", "(", ")", "+", "PL", "pl")
"""What a NIP or a phone number is written with besides its digits (on SQLite; PostgreSQL drops
every non-digit)."""


# --- how text is compared, the same on both databases ---------------------------------------------


class Folded(FunctionElement[str]):
    """A column's text in lower case with the Polish letters made plain ("Łódź" → "lodz")."""

    type = String()
    name = "folded"
    inherit_cache = True


class DigitsOf(FunctionElement[str]):
    """A column's text without the separators of a NIP or phone number ("PL 525-000-11-22" → "5250001122")."""

    type = String()
    name = "digits_of"
    inherit_cache = True


def _argument(element: FunctionElement[Any], compiler: SQLCompiler, **kw: Any) -> str:
    (argument,) = element.clauses
    return compiler.process(argument, **kw)


@compiles(Folded)
def _folded(element: Folded, compiler: SQLCompiler, **kw: Any) -> str:
    sql = _argument(element, compiler, **kw)
    for letter, plain in zip(POLISH_LETTERS, PLAIN_LETTERS, strict=True):
        sql = f"replace({sql}, '{letter}', '{plain}')"
    return f"lower({sql})"


@compiles(Folded, "postgresql")
def _folded_postgresql(element: Folded, compiler: SQLCompiler, **kw: Any) -> str:
    return f"lower(translate({_argument(element, compiler, **kw)}, '{POLISH_LETTERS}', '{PLAIN_LETTERS}'))"


@compiles(DigitsOf)
def _digits_of(element: DigitsOf, compiler: SQLCompiler, **kw: Any) -> str:
    sql = _argument(element, compiler, **kw)
    for separator in SEPARATORS:
        sql = f"replace({sql}, '{separator}', '')"
    return sql


@compiles(DigitsOf, "postgresql")
def _digits_of_postgresql(element: DigitsOf, compiler: SQLCompiler, **kw: Any) -> str:
    return f"regexp_replace({_argument(element, compiler, **kw)}, '[^0-9]', '', 'g')"


def fold(text: str) -> str:
    """`Folded`, in Python: what the typed text is compared as."""
    return text.lower().translate(_PLAIN)


@dataclass(frozen=True)
class Needle:
    """The typed text in the forms it is compared in."""

    text: str
    folded: str
    lowered: str
    upper: str
    digits: str | None
    """The digits of a text made of digits and separators only (a NIP, a phone number); None otherwise."""

    @classmethod
    def of(cls, text: str) -> Needle:
        text = " ".join(text.split())
        if len(text) < MIN_LENGTH:
            raise Refused(gettext("Type at least 2 characters."), FIELD)
        if len(text) > MAX_LENGTH:
            raise Refused(gettext("Type at most 100 characters."), FIELD)
        compact = text
        for separator in SEPARATORS:
            compact = compact.replace(separator, "")
        digits = compact if compact.isascii() and compact.isdigit() and len(compact) >= MIN_LENGTH else None
        return cls(text=text, folded=fold(text), lowered=text.lower(), upper=text.upper(), digits=digits)


# --- what is found --------------------------------------------------------------------------------

T = TypeVar("T")


@dataclass(frozen=True)
class Group(Generic[T]):
    """The rows of one kind; `more`: there are more than these, the text should be longer."""

    rows: Sequence[T]
    more: bool

    def __len__(self) -> int:
        return len(self.rows)


@dataclass(frozen=True)
class CustomerHit:
    id: int
    name: str
    tax_id: str
    is_active: bool


@dataclass(frozen=True)
class ProspectHit:
    id: int
    name: str
    tax_id: str
    owner_name: str


@dataclass(frozen=True)
class ContactHit:
    id: int
    full_name: str
    position: str
    email: str
    phone: str
    retired: bool
    company_id: int | None
    company_name: str | None
    prospect_id: int | None
    prospect_name: str | None


@dataclass(frozen=True)
class OrderHit:
    id: int
    number: str
    po_number: str | None
    status: OrderStatus
    submitted_at: datetime
    gross_total: Decimal
    currency: str
    company_id: int
    company_name: str

    @property
    def status_label(self) -> str:
        return ordering.status_label(self.status)


@dataclass(frozen=True)
class QuoteHit:
    id: int
    number: str
    title: str
    status: QuoteStatus
    updated_at: datetime
    company_id: int
    company_name: str

    @property
    def status_label(self) -> str:
        return quotes.status_label(self.status)


@dataclass(frozen=True)
class InvoiceHit:
    id: int
    number: str
    order_number: str | None
    issue_date: date
    due_date: date
    gross_amount: Decimal
    paid_amount: Decimal
    currency: str
    company_id: int
    company_name: str

    @property
    def balance(self) -> Decimal:
        return self.gross_amount - self.paid_amount

    @property
    def is_paid(self) -> bool:
        return self.balance <= 0


@dataclass(frozen=True)
class Results:
    text: str
    customers: Group[CustomerHit]
    prospects: Group[ProspectHit]
    contacts: Group[ContactHit]
    orders: Group[OrderHit]
    quotes: Group[QuoteHit]
    invoices: Group[InvoiceHit]

    @property
    def found(self) -> bool:
        return any(len(group) for group in self.groups)

    @property
    def groups(self) -> tuple[Group[Any], ...]:
        return (self.customers, self.prospects, self.contacts, self.orders, self.quotes, self.invoices)


async def search(session: AsyncSession, user: User, text: str, today: date, *, per_kind: int = PER_KIND) -> Results:
    """Everything of the six kinds this user sees that matches `text`, at most `per_kind` of each.
    A text shorter than 2 or longer than 100 characters is refused; buyers have no staff search."""
    if user.role is Role.BUYER:
        raise NotAllowed()
    needle = Needle.of(text)
    in_charge = await scoping.managers_in_charge(session, user, today)
    companies = scoping.company_filter(user, in_charge)
    prospects = scoping.prospect_filter(user, in_charge)
    limit = per_kind + 1
    return Results(
        text=needle.text,
        customers=_group(await _customers(session, needle, companies, limit), CustomerHit, per_kind),
        prospects=_group(await _prospects(session, needle, prospects, limit), ProspectHit, per_kind),
        contacts=_group(await _contacts(session, needle, companies, prospects, limit), ContactHit, per_kind),
        orders=_group(await _orders(session, needle, companies, limit), OrderHit, per_kind),
        quotes=_group(await _quotes(session, needle, companies, limit), QuoteHit, per_kind),
        invoices=_group(await _invoices(session, needle, companies, limit), InvoiceHit, per_kind),
    )


def _group(rows: Sequence[Any], kind: type[T], per_kind: int) -> Group[T]:
    return Group(rows=[kind(*row) for row in rows[:per_kind]], more=len(rows) > per_kind)


def _rank(exact: Sequence[ColumnElement[bool]], near: Sequence[ColumnElement[bool]]) -> ColumnElement[int]:
    """0 for an exact match, 1 for a near one (a name starting with the text), 2 for the rest."""
    whens = [(or_(*conditions), rank) for rank, conditions in enumerate((exact, near)) if conditions]
    return case(*whens, else_=2)


def _names(column: Any, needle: Needle) -> tuple[ColumnElement[bool], ColumnElement[bool], ColumnElement[bool]]:
    """Contains, equals, starts with (a word of) the text, for a name."""
    name = Folded(column)
    return (
        name.contains(needle.folded, autoescape=True),
        name == needle.folded,
        or_(name.startswith(needle.folded, autoescape=True), name.contains(" " + needle.folded, autoescape=True)),
    )


def _numbers(
    needle: Needle, *, ours: Sequence[Any] = (), theirs: Sequence[Any] = ()
) -> tuple[list[ColumnElement[bool]], list[ColumnElement[bool]]]:
    """Contains and equals the text, for the numbers people type: the portal's own (ORD-2026-000123,
    Q-2026-000123), always upper case, compared as they are stored, which spares a conversion of
    every row; and those that come from elsewhere (PO numbers, the ERP's invoice numbers) in lower
    case (on PostgreSQL `lower(x) LIKE` is faster than `ILIKE`, and an expression index can serve it)."""
    contains = [column.contains(needle.upper, autoescape=True) for column in ours]
    equals = [column == needle.upper for column in ours]
    lowered = [func.lower(column) for column in theirs]
    contains += [column.contains(needle.lowered, autoescape=True) for column in lowered]
    equals += [column == needle.lowered for column in lowered]
    return contains, equals


def _tax_id(column: Any, needle: Needle) -> tuple[list[ColumnElement[bool]], list[ColumnElement[bool]]]:
    if needle.digits is None:
        return [], []
    digits = DigitsOf(column)
    return [digits.contains(needle.digits, autoescape=True)], [digits == needle.digits]


async def _customers(session: AsyncSession, needle: Needle, visible: ColumnElement[bool], limit: int) -> Sequence[Any]:
    contains, equals, starts = _names(Company.name, needle)
    nip_contains, nip_equals = _tax_id(Company.tax_id, needle)
    query = (
        select(Company.id, Company.name, Company.tax_id, Company.is_active)
        .where(visible, or_(contains, *nip_contains))
        .order_by(_rank([equals, *nip_equals], [starts]), Company.name, Company.id)
        .limit(limit)
    )
    return (await session.execute(query)).all()


async def _prospects(session: AsyncSession, needle: Needle, visible: ColumnElement[bool], limit: int) -> Sequence[Any]:
    """Prospects not yet converted: a converted one is found as the customer it became."""
    contains, equals, starts = _names(Prospect.name, needle)
    nip_contains, nip_equals = _tax_id(Prospect.tax_id, needle)
    query = (
        select(Prospect.id, Prospect.name, Prospect.tax_id, User.full_name)
        .join(User, User.id == Prospect.owner_id)
        .where(visible, Prospect.company_id.is_(None), or_(contains, *nip_contains))
        .order_by(_rank([equals, *nip_equals], [starts]), Prospect.name, Prospect.id)
        .limit(limit)
    )
    return (await session.execute(query)).all()


async def _contacts(
    session: AsyncSession,
    needle: Needle,
    companies: ColumnElement[bool],
    prospects: ColumnElement[bool],
    limit: int,
) -> Sequence[Any]:
    """A contact of a customer is seen with its customer; one of a prospect only, with the prospect."""
    contains, equals, starts = _names(Contact.full_name, needle)
    matches = [contains, func.lower(Contact.email).contains(needle.lowered, autoescape=True)]
    if needle.digits is not None and len(needle.digits) >= 3:
        matches.append(DigitsOf(Contact.phone).contains(needle.digits, autoescape=True))
    query = (
        select(
            Contact.id,
            Contact.full_name,
            Contact.position,
            Contact.email,
            Contact.phone,
            Contact.retired,
            Contact.company_id,
            Company.name,
            Contact.prospect_id,
            Prospect.name,
        )
        .outerjoin(Company, Company.id == Contact.company_id)
        .outerjoin(Prospect, Prospect.id == Contact.prospect_id)
        .where(
            or_(
                and_(Contact.company_id.is_not(None), companies),
                and_(Contact.company_id.is_(None), prospects),
            ),
            or_(*matches),
        )
        .order_by(
            Contact.retired,
            _rank([equals, func.lower(Contact.email) == needle.lowered], [starts]),
            Contact.full_name,
            Contact.id,
        )
        .limit(limit)
    )
    return (await session.execute(query)).all()


async def _orders(session: AsyncSession, needle: Needle, visible: ColumnElement[bool], limit: int) -> Sequence[Any]:
    contains, equals = _numbers(needle, ours=[Order.number], theirs=[Order.po_number])
    query = (
        select(
            Order.id,
            Order.number,
            Order.po_number,
            Order.status,
            Order.submitted_at,
            Order.gross_total,
            Order.currency,
            Order.company_id,
            Company.name,
        )
        .join(Company, Company.id == Order.company_id)
        .where(visible, or_(*contains))
        .order_by(_rank(equals, []), Order.submitted_at.desc(), Order.id.desc())
        .limit(limit)
    )
    return (await session.execute(query)).all()


async def _quotes(session: AsyncSession, needle: Needle, visible: ColumnElement[bool], limit: int) -> Sequence[Any]:
    contains, equals = _numbers(needle, ours=[Quote.number])
    title_contains, title_equals, title_starts = _names(Quote.title, needle)
    query = (
        select(
            Quote.id,
            Quote.number,
            Quote.title,
            Quote.status,
            Quote.updated_at,
            Quote.company_id,
            Company.name,
        )
        .join(Company, Company.id == Quote.company_id)
        .where(visible, or_(*contains, title_contains))
        .order_by(_rank([*equals, title_equals], [title_starts]), Quote.updated_at.desc(), Quote.id.desc())
        .limit(limit)
    )
    return (await session.execute(query)).all()


async def _invoices(session: AsyncSession, needle: Needle, visible: ColumnElement[bool], limit: int) -> Sequence[Any]:
    """By the invoice's number, or the number of the order it bills."""
    contains, equals = _numbers(needle, theirs=[Invoice.number, Invoice.order_number])
    query = (
        select(
            Invoice.id,
            Invoice.number,
            Invoice.order_number,
            Invoice.issue_date,
            Invoice.due_date,
            Invoice.gross_amount,
            Invoice.paid_amount,
            Invoice.currency,
            Invoice.company_id,
            Company.name,
        )
        .join(Company, Company.id == Invoice.company_id)
        .where(visible, or_(*contains))
        .order_by(_rank(equals[:1], equals[1:]), Invoice.issue_date.desc(), Invoice.id.desc())
        .limit(limit)
    )
    return (await session.execute(query)).all()
