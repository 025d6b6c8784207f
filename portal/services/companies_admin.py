"""Companies as the admin keeps them: their terms, behaviour and delivery terms, their status and
their addresses. One typed record (`CompanyRecord`) of a company's master data and one check of
it against the database (`check` / `validate`) serve the admin form, the CSV import (`COMPANIES`)
and the ERP API alike; `save_company` writes and audits a record.

The tax id is a Polish NIP, checked with its checksum and kept compact (10 digits). A tax id kept
from before the check existed (the demo's "PL…" ids) stays as it is while it is not changed, so an
old company can still be edited. Credit limits and holds are finance's (`credit_control`): they
are not part of the record.

An address used by an order or a schedule is retired (never again offered), not deleted; among a
company's addresses still in use exactly one is the default."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, time
from decimal import Decimal
from typing import Any

from sqlalchemy import Select, exists, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased, contains_eager, selectinload
from sqlalchemy.sql.elements import ColumnElement
from stdnum.pl import nip

from portal.errors import NotFound, Refused
from portal.i18n import format_decimal, gettext
from portal.models import Address, Company, DeliverySchedule, Order, PriceList, Role, User
from portal.services import audit, lookup, schedules, tax_ids
from portal.services.listing import ListQuery, Page, paginate, searched
from portal.services.master_data import (
    Change,
    Column,
    Outcome,
    Plan,
    PlanRefused,
    Row,
    RowError,
    parse_bool,
    parse_decimal,
    parse_int,
)
from portal.services.transactions import lock_rows

NAME_MAX = 200
TAX_ID_MAX = 32
PAYMENT_TERMS_MAX = 365
DISCOUNT_LIMIT = Decimal("100")
"""A general discount is below 100 %."""
MARGIN_FLOOR_MAX = Decimal("100")
DELIVERY_AMOUNT_MAX = Decimal("10000000.00")
"""The largest minimum order value, delivery fee or free-delivery threshold taken: more is a typo."""
WEEKDAYS = "1234567"
DEFAULT_WEEKDAYS = "12345"
CLEAR = "-"
"""In an import, a cell that empties an optional value (a blank cell keeps the current one)."""

LABEL_MAX = 100
STREET_MAX = 200
POSTAL_CODE_MAX = 20
CITY_MAX = 100
POLISH_POSTAL_CODE = re.compile(r"[0-9]{2}-[0-9]{3}")

_NIP_INPUT = re.compile(r"\s*(PL)?[\s0-9-]+", re.IGNORECASE)
_CUTOFF = re.compile(r"([01][0-9]|2[0-3]):([0-5][0-9])(:00)?")
_CURRENCY = re.compile(r"[A-Z]{3}")
_COUNTRY = re.compile(r"[A-Z]{2}")
CENT = Decimal("0.01")


# The record and its check.
@dataclass(frozen=True)
class CompanyRecord:
    """A company's master data as the form, an import row or the API gives it, already typed."""

    name: str
    tax_id: str
    payment_terms_days: int = 30
    currency: str = "PLN"
    price_list_id: int | None = None
    general_discount_pct: Decimal = Decimal("0.00")
    po_number_required: bool = False
    auto_approve: bool = False
    allow_backorders: bool = True
    margin_floor_pct: Decimal | None = None
    account_manager_id: int | None = None
    delivery_weekdays: str = DEFAULT_WEEKDAYS
    order_cutoff: time | None = None
    min_order_value: Decimal = Decimal("0.00")
    delivery_fee: Decimal = Decimal("0.00")
    free_delivery_from: Decimal | None = None
    active: bool | None = None
    """None: as it is (a new company is active)."""


RECORD_FIELDS = (
    "name",
    "tax_id",
    "payment_terms_days",
    "currency",
    "price_list_id",
    "general_discount_pct",
    "po_number_required",
    "auto_approve",
    "allow_backorders",
    "margin_floor_pct",
    "account_manager_id",
    "delivery_weekdays",
    "order_cutoff",
    "min_order_value",
    "delivery_fee",
    "free_delivery_from",
)
"""The record's fields that are columns of `Company` under the same name."""


def record_of(company: Company) -> CompanyRecord:
    values = {name: getattr(company, name) for name in RECORD_FIELDS}
    return CompanyRecord(**values, active=company.is_active)


@dataclass
class Lookups:
    """What checking records needs from the database, loaded once for any number of records."""

    price_lists: dict[int, PriceList]
    managers: dict[int, User]
    """Every account manager, active or not (an inactive one is refused with a message saying so)."""
    by_tax_id: dict[str, Company] = field(default_factory=dict)
    """Companies by compact NIP (a stored "PL…" id under its digits)."""


async def load_lookups(session: AsyncSession, tax_ids: Iterable[str] | None = None) -> Lookups:
    """Price lists, account managers and the companies holding `tax_ids` (every company if None):
    three queries."""
    price_lists = {item.id: item for item in await session.scalars(select(PriceList))}
    managers = {user.id: user for user in await session.scalars(select(User).where(User.role == Role.ACCOUNT_MANAGER))}
    statement = select(Company)
    if tax_ids is not None:
        statement = statement.where(_holding(tax_ids))
    companies = await session.scalars(statement)
    return Lookups(price_lists, managers, {compact_tax_id(c.tax_id) or c.tax_id: c for c in companies})


def _holding(tax_ids: Iterable[str]) -> ColumnElement[bool]:
    """Companies whose tax id is one of these, however it was typed or stored ("PL…" or digits)."""
    wanted = {compact for text in tax_ids if (compact := compact_tax_id(text))}
    return Company.tax_id.in_(wanted | {f"PL{value}" for value in wanted})


async def companies_by_tax_id(session: AsyncSession, tax_ids: Iterable[str]) -> dict[str, Company]:
    """The companies holding these tax ids, by compact NIP (10 digits): one query."""
    companies = await session.scalars(select(Company).where(_holding(tax_ids)))
    return {compact_tax_id(c.tax_id) or c.tax_id: c for c in companies}


async def company_by_tax_id(session: AsyncSession, tax_id: str) -> Company:
    """The company with this NIP, however it is typed ("PL 526-000-12-46"); `NotFound` if none has it."""
    found = (await companies_by_tax_id(session, [tax_id])).get(compact_tax_id(tax_id))
    if found is None:
        raise NotFound()
    return found


def compact_tax_id(text: str) -> str:
    """ "PL 526-000-12-46" → "5260001246"; "" when the text is not digits with spaces, dashes and a PL prefix."""
    if not _NIP_INPUT.fullmatch(text):
        return ""
    return str(nip.compact(text))


def parse_cutoff(text: str) -> time | None:
    """ "14:30" (or "14:30:00") → 14:30; None when the text is no such time."""
    match = _CUTOFF.fullmatch(text.strip())
    return time(int(match.group(1)), int(match.group(2))) if match else None


def weekdays_of(digits: Iterable[str]) -> str:
    """ISO weekday digits in order, each once ("53" → "35"); other characters are kept for `check` to refuse."""
    return "".join(sorted(set(digits)))


def _money_problem(value: Decimal, *, positive: bool = False) -> str | None:
    if value != value.quantize(CENT):
        return gettext("Use at most 2 decimal places.")
    if positive and value <= 0:
        return gettext("Enter an amount above 0, or leave it empty.")
    if value < 0:
        return gettext("Enter 0 or more.")
    if value > DELIVERY_AMOUNT_MAX:
        return gettext("Enter at most %(max)s.") % {"max": format_decimal(DELIVERY_AMOUNT_MAX, 2)}
    return None


def check(record: CompanyRecord, lookups: Lookups, company: Company | None = None) -> CompanyRecord:
    """The record, normalised (tax id compact, currency upper-case, texts trimmed), or `Refused`
    with a message per field. `company` is the company the record is for (None: a new one)."""
    errors: dict[str, str] = {}
    name = record.name.strip()
    if not name:
        errors["name"] = gettext("Enter the company's name.")
    elif len(name) > NAME_MAX:
        errors["name"] = gettext("Use at most %(limit)s characters.") % {"limit": NAME_MAX}
    tax_id = _checked_tax_id(record.tax_id, lookups, company, errors)
    if not 0 <= record.payment_terms_days <= PAYMENT_TERMS_MAX:
        errors["payment_terms_days"] = gettext("Enter 0 to %(max)d days.") % {"max": PAYMENT_TERMS_MAX}
    currency = record.currency.strip().upper()
    price_list = lookups.price_lists.get(record.price_list_id) if record.price_list_id is not None else None
    if not _CURRENCY.fullmatch(currency):
        errors["currency"] = gettext("Enter a currency code of 3 letters, e.g. PLN.")
    if record.price_list_id is not None and price_list is None:
        errors["price_list_id"] = gettext("Choose one of the price lists.")
    elif price_list is not None and "currency" not in errors and price_list.currency != currency:
        errors["currency"] = gettext(
            "The price list %(list)s is in %(list_currency)s: the company must buy in it too."
        ) % {
            "list": price_list.name,
            "list_currency": price_list.currency,
        }
    discount = record.general_discount_pct
    if discount != discount.quantize(CENT) or not 0 <= discount < DISCOUNT_LIMIT:
        errors["general_discount_pct"] = gettext("Enter a percentage from 0 to 99.99, with at most 2 decimals.")
    floor = record.margin_floor_pct
    if floor is not None and (floor != floor.quantize(CENT) or not 0 <= floor <= MARGIN_FLOOR_MAX):
        errors["margin_floor_pct"] = gettext(
            "Enter a percentage from 0 to 100, with at most 2 decimals, or leave it empty."
        )
    if record.account_manager_id is not None:
        manager = lookups.managers.get(record.account_manager_id)
        if manager is None:
            errors["account_manager_id"] = gettext("Choose one of the account managers.")
        elif not manager.is_active:
            errors["account_manager_id"] = gettext("%(name)s is no longer active: choose another account manager.") % {
                "name": manager.full_name
            }
    weekdays = weekdays_of(record.delivery_weekdays)
    if not weekdays or any(day not in WEEKDAYS for day in weekdays):
        errors["delivery_weekdays"] = gettext("Choose at least one delivery weekday.")
    for name_, value, positive in (
        ("min_order_value", record.min_order_value, False),
        ("delivery_fee", record.delivery_fee, False),
        ("free_delivery_from", record.free_delivery_from, True),
    ):
        if value is not None and (problem := _money_problem(value, positive=positive)):
            errors[name_] = problem
    if errors:
        raise Refused(gettext("Please correct the marked fields."), errors=errors)
    return replace(record, name=name, tax_id=tax_id, currency=currency, delivery_weekdays=weekdays)


def _checked_tax_id(text: str, lookups: Lookups, company: Company | None, errors: dict[str, str]) -> str:
    compact = compact_tax_id(text.strip())
    if company is not None and compact and compact == compact_tax_id(company.tax_id):
        return company.tax_id  # unchanged: kept as stored, even one from before the checksum was checked
    if not text.strip():
        errors["tax_id"] = gettext("Enter the tax id (NIP).")
        return text
    if not compact or not tax_ids.is_valid(compact):
        errors["tax_id"] = gettext("This is not a valid NIP: enter its 10 digits, e.g. 526-000-12-46.")
        return text
    holder = lookups.by_tax_id.get(compact)
    if holder is not None and (company is None or holder.id != company.id):
        errors["tax_id"] = gettext("This NIP is already %(company)s's.") % {"company": holder.name}
    return tax_ids.normalise(compact)


async def validate(session: AsyncSession, record: CompanyRecord, company: Company | None = None) -> CompanyRecord:
    """`check` against the database as it is now (three queries)."""
    return check(record, await load_lookups(session, [record.tax_id]), company)


# What the trail and the import preview show of a company.
def described(record: CompanyRecord, lookups: Lookups) -> dict[str, str | None]:
    """The record as text, price list and account manager by name."""
    price_list = lookups.price_lists.get(record.price_list_id) if record.price_list_id is not None else None
    manager = lookups.managers.get(record.account_manager_id) if record.account_manager_id is not None else None
    values = audit.snapshot(
        record, [name for name in RECORD_FIELDS if name not in ("price_list_id", "account_manager_id")]
    )
    values["order_cutoff"] = record.order_cutoff.strftime("%H:%M") if record.order_cutoff else None
    values["price_list"] = _list_name(price_list) if price_list else None
    values["account_manager"] = manager.email if manager else None
    values["active"] = audit.as_text(record.active) if record.active is not None else None
    return values


def _list_name(price_list: PriceList) -> str:
    return price_list.code or price_list.name


def _write(company: Company, record: CompanyRecord) -> None:
    for name in RECORD_FIELDS:
        setattr(company, name, getattr(record, name))
    if record.active is not None:
        company.is_active = record.active


def _differences(before: CompanyRecord | None, after: CompanyRecord, lookups: Lookups) -> dict[str, list[str | None]]:
    old = described(before, lookups) if before is not None else {}
    new = described(after, lookups)
    if after.active is None:
        new.pop("active")
    return audit.changed(old, new)


async def save_company(
    session: AsyncSession, actor: User | str | None, company_id: int | None, record: CompanyRecord
) -> Company:
    """Creates (`company_id` None) or changes a company from a record: checked, written, audited."""
    company = None
    if company_id is not None:
        company = await session.get(Company, company_id)
        if company is None:
            raise NotFound()
    lookups = await load_lookups(session, [record.tax_id])
    checked = check(record, lookups, company)
    before = record_of(company) if company is not None else None
    target = company or Company(credit_limit=Decimal("0.00"))
    _write(target, checked)
    if company is None:
        session.add(target)
    await _flush_unique(session, checked.tax_id)
    changes = _differences(before, record_of(target), lookups)
    if company is None or changes:
        action = "create" if company is None else "update"
        audit.record(session, actor, action, "company", target.id, target.name, company_id=target.id, changes=changes)
        await session.flush()
    return target


async def _flush_unique(session: AsyncSession, tax_id: str) -> None:
    """A NIP saved by someone else at the same moment is refused like any duplicate."""
    try:
        await session.flush()
    except IntegrityError:
        raise Refused(gettext("This NIP was just saved for another company."), "tax_id") from None


async def set_active(session: AsyncSession, actor: User, company_id: int, active: bool, *, today: date) -> Company:
    """Deactivates or reactivates a company; everything it has is kept. Its buyers' sessions end at
    once (the sign-in check reads the company's state on every request); its schedules stop while it
    is inactive and start again from their next delivery when it is reactivated."""
    company = await session.get(Company, company_id)
    if company is None:
        raise NotFound()
    if company.is_active != active:
        company.is_active = active
        if active:
            await schedules.restart_company(session, company.id, today)
        await session.flush()
        action = "reactivate" if active else "deactivate"
        changes = {"active": [audit.as_text(not active), audit.as_text(active)]}
        audit.record(
            session, actor, action, "company", company.id, company.name, company_id=company.id, changes=changes
        )
        await session.flush()
    return company


# The admin's list and the company page.
COMPANY_SORTS = ("name", "tax_id", "manager", "created")


async def company_list(session: AsyncSession, query: ListQuery) -> Page[Company]:
    """One page of companies with their account managers, in two queries. Filters of `query`:
    `status` ("active" / "inactive"), `manager` (an account manager's id), `unassigned` (true:
    only companies without an account manager)."""
    manager = aliased(User)
    statement: Select[Any] = (
        select(Company)
        .outerjoin(manager, Company.account_manager_id == manager.id)
        .options(contains_eager(Company.account_manager.of_type(manager)))
    )
    statement = searched(statement, query.search, [Company.name.expression, Company.tax_id.expression])
    status, manager_id = query.filter("status"), query.filter("manager")
    if status == "active":
        statement = statement.where(Company.is_active.is_(True))
    elif status == "inactive":
        statement = statement.where(Company.is_active.is_(False))
    if query.filter("unassigned"):
        statement = statement.where(Company.account_manager_id.is_(None))
    elif isinstance(manager_id, int):
        statement = statement.where(Company.account_manager_id == manager_id)
    sorts: dict[str, ColumnElement[Any]] = {
        "name": Company.name.expression,
        "tax_id": Company.tax_id.expression,
        "manager": func.coalesce(manager.full_name, ""),  # companies without a manager first, on every database
        "created": Company.created_at.expression,
    }
    return await paginate(session, statement, query, sorts=sorts, default_sort="name", tiebreak=Company.id.expression)


async def account_managers(session: AsyncSession, *, active_only: bool = True) -> list[User]:
    statement = select(User).where(User.role == Role.ACCOUNT_MANAGER).order_by(User.full_name, User.id)
    if active_only:
        statement = statement.where(User.is_active.is_(True))
    return list(await session.scalars(statement))


async def price_lists(session: AsyncSession) -> list[PriceList]:
    return list(await session.scalars(select(PriceList).order_by(PriceList.name)))


@dataclass(frozen=True)
class CompanyChoices:
    """What the company form offers: price lists and active account managers."""

    price_lists: list[PriceList]
    managers: list[User]


async def company_choices(session: AsyncSession) -> CompanyChoices:
    return CompanyChoices(await price_lists(session), await account_managers(session))


@dataclass(frozen=True)
class CompanyPage:
    company: Company
    price_list: PriceList | None
    addresses: list[Address]
    """Addresses in use first (the default first among them), then retired ones."""
    buyers: list[User]
    history: list[audit.AuditEntry]


async def company_page(session: AsyncSession, company_id: int) -> CompanyPage:
    """The company with its account manager, addresses, buyers and history: five queries."""
    company = await session.scalar(
        select(Company)
        .options(selectinload(Company.account_manager), selectinload(Company.addresses))
        .where(Company.id == company_id)
    )
    if company is None:
        raise NotFound()
    price_list = await session.get(PriceList, company.price_list_id) if company.price_list_id else None
    buyers = await session.scalars(select(User).where(User.company_id == company.id).order_by(User.full_name, User.id))
    addresses = sorted(company.addresses, key=lambda a: (a.retired, not a.is_default, a.id))
    history = await audit.company_history(session, company.id)
    return CompanyPage(company, price_list, addresses, list(buyers), history)


async def company(session: AsyncSession, company_id: int) -> Company:
    return await lookup.one(session, Company, company_id)


# Addresses.
@dataclass(frozen=True)
class AddressRecord:
    label: str
    street: str
    postal_code: str
    city: str
    country_code: str = "PL"


ADDRESS_FIELDS = ("label", "street", "postal_code", "city", "country_code")


def check_address(record: AddressRecord) -> AddressRecord:
    """The address trimmed and upper-cased where it should be, or `Refused` with a message per field."""
    errors: dict[str, str] = {}
    values = {name: getattr(record, name).strip() for name in ADDRESS_FIELDS}
    values["country_code"] = values["country_code"].upper()
    limits = {"label": LABEL_MAX, "street": STREET_MAX, "postal_code": POSTAL_CODE_MAX, "city": CITY_MAX}
    required = {
        "label": gettext("Name the address, e.g. Warehouse."),
        "street": gettext("Enter the street and number."),
        "postal_code": gettext("Enter the postal code."),
        "city": gettext("Enter the city."),
    }
    for name, limit in limits.items():
        if not values[name]:
            errors[name] = required[name]
        elif len(values[name]) > limit:
            errors[name] = gettext("Use at most %(limit)s characters.") % {"limit": limit}
    if not _COUNTRY.fullmatch(values["country_code"]):
        errors["country_code"] = gettext("Enter the 2-letter country code, e.g. PL.")
    elif (
        values["country_code"] == "PL"
        and values["postal_code"]
        and not POLISH_POSTAL_CODE.fullmatch(values["postal_code"])
    ):
        errors["postal_code"] = gettext("A Polish postal code reads NN-NNN, e.g. 00-950.")
    if errors:
        raise Refused(gettext("Please correct the marked fields."), errors=errors)
    return AddressRecord(**values)


def _address_label(address: Address) -> str:
    return f"{address.label}, {address.street}, {address.postal_code} {address.city}"


async def _company_address(session: AsyncSession, company_id: int, address_id: int) -> Address:
    address = await session.scalar(select(Address).where(Address.id == address_id, Address.company_id == company_id))
    if address is None:
        raise NotFound()
    return address


async def company_address(session: AsyncSession, company_id: int, address_id: int) -> Address:
    """One address of one company (retired ones too); another company's is not found."""
    return await _company_address(session, company_id, address_id)


async def _in_use(session: AsyncSession, company_id: int) -> list[Address]:
    statement = select(Address).where(Address.company_id == company_id, Address.retired.is_(False))
    return list(await session.scalars(statement.order_by(Address.id)))


def _record_created(session: AsyncSession, actor: User | str, address: Address) -> None:
    changes = audit.changed({}, audit.snapshot(address, [*ADDRESS_FIELDS, "is_default"]))
    label = _address_label(address)
    audit.record(session, actor, "create", "address", address.id, label, company_id=address.company_id, changes=changes)


def _rewrite(session: AsyncSession, actor: User | str, address: Address, checked: AddressRecord) -> bool:
    """A checked record written over an address in use, audited; False when nothing differed."""
    before = audit.snapshot(address, ADDRESS_FIELDS)
    for name in ADDRESS_FIELDS:
        setattr(address, name, getattr(checked, name))
    changes = audit.changed(before, audit.snapshot(address, ADDRESS_FIELDS))
    if changes:
        label = _address_label(address)
        audit.record(
            session, actor, "update", "address", address.id, label, company_id=address.company_id, changes=changes
        )
    return bool(changes)


def _switch_default(session: AsyncSession, actor: User | str, address: Address, previous: Address | None) -> None:
    """`address` becomes the default in place of `previous` (if any), audited."""
    if previous is not None:
        previous.is_default = False
    address.is_default = True
    changes: dict[str, list[str | None]] = {"is_default": ["no", "yes"]}
    if previous is not None:
        changes["previous_default"] = [_address_label(previous), None]
    label = _address_label(address)
    audit.record(
        session, actor, "default", "address", address.id, label, company_id=address.company_id, changes=changes
    )


async def add_address(session: AsyncSession, actor: User, company_id: int, record: AddressRecord) -> Address:
    """A new address; the company's first address in use becomes its default."""
    await company(session, company_id)
    checked = check_address(record)
    first = not await _in_use(session, company_id)
    address = Address(company_id=company_id, is_default=first, retired=False, **vars(checked))
    session.add(address)
    await session.flush()
    _record_created(session, actor, address)
    await session.flush()
    return address


async def edit_address(
    session: AsyncSession, actor: User, company_id: int, address_id: int, record: AddressRecord
) -> Address:
    """Changes an address in use (orders keep the address as it was when they were placed)."""
    address = await _company_address(session, company_id, address_id)
    if address.retired:
        raise Refused(gettext("This address is retired; add a new one instead."))
    _rewrite(session, actor, address, check_address(record))
    await session.flush()
    return address


async def make_default(session: AsyncSession, actor: User, company_id: int, address_id: int) -> Address:
    """This address becomes the one checkout and schedules offer first; the former default no longer is."""
    address = await _company_address(session, company_id, address_id)
    if address.retired:
        raise Refused(gettext("A retired address cannot be the default."))
    if address.is_default:
        return address
    previous = next((a for a in await _in_use(session, company_id) if a.is_default), None)
    _switch_default(session, actor, address, previous)
    await session.flush()
    return address


@dataclass(frozen=True)
class AddressUpsert:
    """An address of a company as a batch (the ERP) sends it: known by its label among the
    company's addresses in use, compared ignoring case."""

    record: AddressRecord
    default: bool = False
    """True: it becomes the company's default address. False leaves the default where it is (a
    company in use always has one)."""


def check_addresses(wanted: Sequence[AddressUpsert]) -> tuple[list[AddressUpsert], dict[int, dict[str, str]]]:
    """The addresses sent for one company, each checked by `check_address`; a label sent twice and
    more than one default are refused too. The checked addresses, and the messages by position
    (0 = the first address) and field; nothing may be written while there are messages."""
    checked: list[AddressUpsert] = []
    errors: dict[int, dict[str, str]] = {}
    labels: set[str] = set()
    first_default: int | None = None
    for position, item in enumerate(wanted):
        try:
            checked.append(replace(item, record=check_address(item.record)))
        except Refused as refused:
            errors[position] = dict(refused.errors)
            continue
        label = item.record.label.strip().casefold()
        if label in labels:
            errors.setdefault(position, {})["label"] = gettext(
                "Another address sent for this company has this label: each label once."
            )
        labels.add(label)
        if item.default and first_default is not None:
            errors.setdefault(position, {})["default"] = gettext("Only one address can be the default.")
        elif item.default:
            first_default = position
    return checked, errors


async def put_addresses(
    session: AsyncSession, actor: User | str, wanted: Mapping[int, Sequence[AddressUpsert]]
) -> set[int]:
    """Addresses of companies (by company id) written as a batch: each is matched by label among
    its company's addresses in use (the oldest if two share it), a new label is added and a known
    one changed; addresses not sent are left as they are, and a retired address is never changed
    (its label sent adds a new address). One sent as default becomes the default; a company with
    no address in use gets its first new one as default, as in `add_address`. Every change is
    audited. The addresses must be checked (`check_addresses`). The companies' rows are locked
    first, so two batches for one company match labels one after the other, and their addresses
    are read in one query. Answers the ids of the companies whose addresses changed."""
    ids = sorted(company_id for company_id, items in wanted.items() if items)
    if not ids:
        return set()
    await lock_rows(session, Company, ids)
    in_use: dict[int, list[Address]] = {company_id: [] for company_id in ids}
    statement = select(Address).where(Address.company_id.in_(ids), Address.retired.is_(False)).order_by(Address.id)
    for address in await session.scalars(statement):
        in_use[address.company_id].append(address)
    changed: set[int] = set()
    created: list[Address] = []
    switches: list[tuple[Address, Address | None]] = []
    for company_id in ids:
        by_label: dict[str, Address] = {}
        for address in in_use[company_id]:
            by_label.setdefault(address.label.casefold(), address)
        previous = next((address for address in in_use[company_id] if address.is_default), None)
        chosen: Address | None = None
        for item in wanted[company_id]:
            known = by_label.get(item.record.label.casefold())
            if known is None:
                target = Address(company_id=company_id, is_default=False, retired=False, **vars(item.record))
                created.append(target)
                changed.add(company_id)
            else:
                target = known
                if _rewrite(session, actor, known, item.record):
                    changed.add(company_id)
            if item.default or (chosen is None and previous is None and not in_use[company_id]):
                chosen = target
        if chosen is None or chosen is previous:
            continue
        changed.add(company_id)
        if previous is None and chosen in created:
            chosen.is_default = True  # the company's first address: created as its default
        else:
            switches.append((chosen, previous))
    session.add_all(created)
    await session.flush()
    for address in created:
        _record_created(session, actor, address)
    for address, previous in switches:
        _switch_default(session, actor, address, previous)
    await session.flush()
    return changed


@dataclass(frozen=True)
class Retirement:
    deleted: bool
    """True: nothing used it, so it is gone; False: kept as retired."""
    new_default: Address | None
    """The address that became the default in its place, if it was the default."""


async def retire_address(session: AsyncSession, actor: User, company_id: int, address_id: int) -> Retirement:
    """An address no longer offered: deleted when no order or schedule names it, else retired. If
    it was the default, the oldest other address in use becomes the default."""
    address = await _company_address(session, company_id, address_id)
    if address.retired:
        return Retirement(False, None)
    used = await session.scalar(
        select(
            or_(
                exists().where(Order.delivery_address_id == address.id),
                exists().where(DeliverySchedule.address_id == address.id),
            )
        )
    )
    label, was_default = _address_label(address), address.is_default
    if used:
        address.retired, address.is_default = True, False
        audit.record(
            session,
            actor,
            "retire",
            "address",
            address.id,
            label,
            company_id=company_id,
            changes={"retired": ["no", "yes"]},
        )
    else:
        await session.delete(address)
        audit.record(session, actor, "delete", "address", address.id, label, company_id=company_id)
    await session.flush()
    new_default = None
    if was_default:
        others = await _in_use(session, company_id)
        if others:
            new_default = others[0]
            new_default.is_default = True
            audit.record(
                session,
                actor,
                "default",
                "address",
                new_default.id,
                _address_label(new_default),
                company_id=company_id,
                changes={"is_default": ["no", "yes"]},
            )
            await session.flush()
    return Retirement(not used, new_default)


# The CSV kind.
def _money_text(value: Decimal | None) -> str:
    return "" if value is None else f"{value:.2f}"


COLUMNS = (
    Column("name", ("name", "nazwa")),
    Column("tax_id", ("tax_id", "nip")),
    Column("payment_terms_days", ("payment_terms_days", "termin_platnosci"), required=False),
    Column("currency", ("currency", "waluta"), required=False),
    Column("price_list", ("price_list", "cennik"), required=False),
    Column("general_discount_pct", ("general_discount_pct", "rabat"), required=False, numeric=True),
    Column("po_number_required", ("po_number_required", "wymagany_numer_zamowienia"), required=False),
    Column("auto_approve", ("auto_approve", "automatyczna_akceptacja"), required=False),
    Column("margin_floor_pct", ("margin_floor_pct", "minimalna_marza"), required=False, numeric=True),
    Column("account_manager_email", ("account_manager_email", "opiekun"), required=False),
    Column("delivery_weekdays", ("delivery_weekdays", "dni_dostaw"), required=False),
    Column("order_cutoff", ("order_cutoff", "godzina_graniczna"), required=False),
    Column("min_order_value", ("min_order_value", "minimalna_wartosc_zamowienia"), required=False, numeric=True),
    Column("delivery_fee", ("delivery_fee", "oplata_za_dostawe"), required=False, numeric=True),
    Column("free_delivery_from", ("free_delivery_from", "darmowa_dostawa_od"), required=False, numeric=True),
    Column("active", ("active", "aktywna"), required=False),
)

_COLUMN_OF = {"price_list_id": "price_list", "account_manager_id": "account_manager_email"}
"""Record field → the column its message belongs to, where they differ."""


class _Cells:
    """One row's cells read into record values; each unreadable cell becomes a message for its column."""

    def __init__(self, row: Row, lists_by_name: dict[str, PriceList], managers_by_email: dict[str, User]) -> None:
        self.row = row
        self.lists_by_name = lists_by_name
        self.managers_by_email = managers_by_email
        self.values: dict[str, Any] = {}
        self.errors: dict[str, str] = {}

    def cell(self, name: str) -> str | None:
        text = self.row.get(name)
        return text.strip() if text is not None and text.strip() else None

    def read(self) -> None:
        for name in ("name", "tax_id"):
            if (text := self.cell(name)) is not None:
                self.values[name] = text
        self._number(
            "payment_terms_days", lambda t: parse_int(t, 0, PAYMENT_TERMS_MAX), gettext("Enter 0 to 365 days.")
        )
        if (text := self.cell("currency")) is not None:
            self.values["currency"] = text
        self._decimal("general_discount_pct", optional=False)
        self._decimal("margin_floor_pct", optional=True)
        self._decimal("min_order_value", optional=False)
        self._decimal("delivery_fee", optional=False)
        self._decimal("free_delivery_from", optional=True)
        for name in ("po_number_required", "auto_approve", "active"):
            if (text := self.cell(name)) is not None:
                value = parse_bool(text)
                if value is None:
                    self.errors[name] = gettext("Write yes or no (tak / nie).")
                else:
                    self.values[name] = value
        if (text := self.cell("delivery_weekdays")) is not None:
            if re.fullmatch(r"[1-7]{1,7}", text):
                self.values["delivery_weekdays"] = weekdays_of(text)
            else:
                self.errors["delivery_weekdays"] = gettext(
                    "Write the ISO weekday digits, e.g. 12345 for Monday to Friday."
                )
        if (text := self.cell("order_cutoff")) is not None:
            cutoff = parse_cutoff(text)
            if text == CLEAR or cutoff is not None:
                self.values["order_cutoff"] = cutoff
            else:
                self.errors["order_cutoff"] = gettext("Enter the time as HH:MM, e.g. 14:30.")
        self._price_list()
        self._manager()

    def _number(self, name: str, parse: Any, message: str) -> None:
        if (text := self.cell(name)) is not None:
            value = parse(text)
            if value is None:
                self.errors[name] = message
            else:
                self.values[name] = value

    def _decimal(self, name: str, *, optional: bool) -> None:
        text = self.cell(name)
        if text is None:
            return
        if optional and text == CLEAR:
            self.values[name] = None
            return
        value = parse_decimal(text, 2)
        if value is None:
            self.errors[name] = gettext("Enter a number with at most 2 decimals, e.g. 12,50.")
        else:
            self.values[name] = value

    def _price_list(self) -> None:
        text = self.cell("price_list")
        if text is None:
            return
        if text == CLEAR:
            self.values["price_list_id"] = None
            return
        found = self.lists_by_name.get(text.lower())
        if found is None:
            self.errors["price_list"] = gettext("No price list has this code or name.")
        else:
            self.values["price_list_id"] = found.id

    def _manager(self) -> None:
        text = self.cell("account_manager_email")
        if text is None:
            return
        if text == CLEAR:
            self.values["account_manager_id"] = None
            return
        found = self.managers_by_email.get(text.lower())
        if found is None:
            self.errors["account_manager_email"] = gettext("No account manager has this e-mail.")
        else:
            self.values["account_manager_id"] = found.id


@dataclass
class _Planned:
    """A row that passed: what it will write."""

    row: int
    company: Company | None
    record: CompanyRecord


class CompaniesKind:
    """Companies with their terms and delivery terms, upserted by NIP. A blank cell keeps the
    company's current value (a new company takes the default); "-" empties an optional one."""

    code = "companies"
    columns: Sequence[Column] = COLUMNS

    def title(self) -> str:
        return gettext("Companies")

    async def plan(self, session: AsyncSession, rows: Sequence[Row], *, today: date) -> Plan:
        plan, _, _ = await self._plan(session, rows)
        return plan

    async def _plan(self, session: AsyncSession, rows: Sequence[Row]) -> tuple[Plan, list[_Planned], Lookups]:
        """Every row checked against the database as loaded once (three queries, whatever the rows)."""
        lookups = await load_lookups(session)
        lists_by_name = {item.name.lower(): item for item in lookups.price_lists.values()}
        lists_by_name.update({item.code.lower(): item for item in lookups.price_lists.values() if item.code})
        managers_by_email = {user.email.lower(): user for user in lookups.managers.values()}
        plan, planned, seen = Plan(), [], dict[str, int]()
        for number, row in enumerate(rows, 1):
            cells = _Cells(row, lists_by_name, managers_by_email)
            cells.read()
            compact = compact_tax_id(cells.values.get("tax_id", ""))
            existing = lookups.by_tax_id.get(compact) if compact else None
            if compact and compact in seen:
                cells.errors["tax_id"] = gettext("This NIP is in row %(row)d too.") % {"row": seen[compact]}
            elif compact:
                seen[compact] = number
            base = record_of(existing) if existing is not None else CompanyRecord(name="", tax_id="")
            record = replace(base, **cells.values)
            if existing is None and "currency" not in cells.values and record.price_list_id in lookups.price_lists:
                record = replace(record, currency=lookups.price_lists[record.price_list_id].currency)
            try:
                checked = check(record, lookups, existing)
            except Refused as refused:
                for name, message in refused.errors.items():
                    cells.errors.setdefault(_COLUMN_OF.get(name, name), message)
            if cells.errors:
                plan.errors.extend(RowError(number, name, message) for name, message in cells.errors.items())
                continue
            key = f"{checked.tax_id} {checked.name}"
            if existing is None:
                plan.changes.append(Change(number, key, Outcome.NEW, _differences(None, checked, lookups)))
                planned.append(_Planned(number, None, checked))
                continue
            differences = _differences(record_of(existing), checked, lookups)
            outcome = Outcome.CHANGED if differences else Outcome.UNCHANGED
            plan.changes.append(Change(number, key, outcome, differences))
            if differences:
                planned.append(_Planned(number, existing, checked))
        return plan, planned, lookups

    async def apply(self, session: AsyncSession, actor: User | str, rows: Sequence[Row], *, today: date) -> Plan:
        """All rows or none: any error refuses the file; else every new or changed company is written and audited."""
        plan, planned, lookups = await self._plan(session, rows)
        if not plan.ok:
            raise PlanRefused(plan)
        written: list[tuple[Company, CompanyRecord | None]] = []
        for item in planned:
            before = record_of(item.company) if item.company is not None else None
            target = item.company or Company(credit_limit=Decimal("0.00"))
            if item.company is not None and not item.company.is_active and item.record.active:
                await schedules.restart_company(session, item.company.id, today)
            _write(target, item.record)
            if item.company is None:
                session.add(target)
            written.append((target, before))
        await _flush_unique(session, "")
        for target, before in written:
            action = "create" if before is None else "update"
            changes = _differences(before, record_of(target), lookups)
            audit.record(
                session, actor, action, "company", target.id, target.name, company_id=target.id, changes=changes
            )
        await session.flush()
        return plan

    async def export(self, session: AsyncSession) -> list[dict[str, str]]:
        """Every company, in the columns an import reads back unchanged (three queries)."""
        lookups = await load_lookups(session, [])
        companies = await session.scalars(select(Company).order_by(Company.name, Company.id))
        return [self._row(item, lookups) for item in companies]

    @staticmethod
    def _row(company: Company, lookups: Lookups) -> dict[str, str]:
        price_list = lookups.price_lists.get(company.price_list_id) if company.price_list_id else None
        manager = lookups.managers.get(company.account_manager_id) if company.account_manager_id else None
        return {
            "name": company.name,
            "tax_id": company.tax_id,
            "payment_terms_days": str(company.payment_terms_days),
            "currency": company.currency,
            "price_list": _list_name(price_list) if price_list else "",
            "general_discount_pct": _money_text(company.general_discount_pct),
            "po_number_required": "yes" if company.po_number_required else "no",
            "auto_approve": "yes" if company.auto_approve else "no",
            "margin_floor_pct": _money_text(company.margin_floor_pct),
            "account_manager_email": manager.email if manager else "",
            "delivery_weekdays": company.delivery_weekdays,
            "order_cutoff": company.order_cutoff.strftime("%H:%M") if company.order_cutoff else "",
            "min_order_value": _money_text(company.min_order_value),
            "delivery_fee": _money_text(company.delivery_fee),
            "free_delivery_from": _money_text(company.free_delivery_from),
            "active": "yes" if company.is_active else "no",
        }


COMPANIES = CompaniesKind()
