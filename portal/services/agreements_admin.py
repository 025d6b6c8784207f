"""Agreements as the admin keeps them (and the ERP API upserts them): one check per rule, one write
per change, each change in the audit trail (object type "agreement", fields old → new).

- A draft may change in everything. Once active, only its terms may change: special terms, skonto,
  payment options, assortment, the end of its validity, and the tiers of periods not yet closed.
  An ended agreement keeps its history and changes no more.
- Activating takes the company's row lock, then refuses a second active agreement and any
  agreement of the company (active or ended) whose validity overlaps; a price list the agreement
  includes becomes the company's (audited on the company).
- Tiers come in sets, each applying from the start of a settlement period (`agreements.tiers_for`);
  saving a set replaces that set only, never one of a period already closed. Per scope (all
  products or one category) thresholds and rebates both rise strictly, thresholds above 0,
  rebates above 0 and at most 100 %.
- Error keys are JSON-pointer-like ("tiers/2/rebate_pct", "payment_options/0/days"), the same for
  the admin's form (the message next to the row) and the API (the problem's pointer)."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Select, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload
from sqlalchemy.sql.elements import ColumnElement

from portal import clock
from portal.errors import NotFound, Refused
from portal.i18n import gettext
from portal.models import (
    Agreement,
    AgreementStatus,
    AgreementTier,
    AssortmentItem,
    Company,
    PaymentOption,
    PriceList,
    Product,
    ProductCategory,
    SettlementPeriod,
    TierMode,
    User,
)
from portal.services import agreements, audit
from portal.services.agreements import Period
from portal.services.companies_admin import compact_tax_id, companies_by_tax_id
from portal.services.listing import ListQuery, Page, paginate, searched
from portal.services.transactions import lock_rows

NUMBER_MAX = 40
NUMBER_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]*$"
"""Letters, digits, dots, dashes and underscores (the number names the agreement in API paths)."""
SPECIAL_TERMS_MAX = 5000
SKONTO_MAX = Decimal("20")
SKONTO_DAYS_MAX = 60
PAYMENT_DAYS_MAX = 365
PRICE_EFFECT_LIMIT = Decimal("50")
REBATE_MAX = Decimal("100")
TIERS_MAX = 50
"""Tiers in one set at most (all scopes together)."""
PAYMENT_OPTIONS_MAX = 20
SKUS_MAX = 2000
OPEN_STARTS_SHOWN = 12
"""Period starts offered to the tiers editor (from the first open one)."""
CENT = Decimal("0.01")
FIRST_DAY, LAST_DAY = date(2000, 1, 1), date(2100, 12, 31)
"""The days an agreement may name (the form's date fields are bounded the same way)."""
_NUMBER = re.compile(NUMBER_PATTERN)

Errors = dict[str, str]


# --- records ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Basics:
    """What only a draft may change. None: not given (a required one is refused)."""

    number: str = ""
    company_id: int | None = None
    valid_from: date | None = None
    period: SettlementPeriod | None = None
    tier_mode: TierMode | None = None
    price_list_id: int | None = None


@dataclass(frozen=True)
class PaymentRow:
    days: int
    price_effect_pct: Decimal
    position: int = 0
    """Where the row was given (form row, API list index), for the message's key."""


@dataclass(frozen=True)
class TierRow:
    category_id: int | None
    threshold: Decimal
    rebate_pct: Decimal
    position: int = 0


@dataclass(frozen=True)
class AgreementRecord:
    """An agreement as the form or the API gives it, typed. `basics` None: kept as they are (the
    form of an active agreement does not show them)."""

    basics: Basics | None
    valid_to: date | None = None
    special_terms: str = ""
    skonto_pct: Decimal | None = None
    skonto_days: int | None = None
    assortment_blocking: bool = False
    payment_options: tuple[PaymentRow, ...] = ()
    category_ids: tuple[int, ...] = ()
    skus: tuple[str, ...] = ()


@dataclass
class Names:
    """Category names and SKUs by id, for the checks and the trail (loaded once per change)."""

    categories: dict[int, str] = field(default_factory=dict)
    skus: dict[int, str] = field(default_factory=dict)
    products_by_sku: dict[str, int] = field(default_factory=dict)


def parse_skus(text: str) -> tuple[str, ...]:
    """One SKU per line (commas and semicolons also separate), blanks dropped, each once, in order."""
    return tuple(dict.fromkeys(part.strip() for part in re.split(r"[\n\r,;]+", text) if part.strip()))


# --- reading -----------------------------------------------------------------------------------


def _with_terms(statement: Select[Any]) -> Select[Any]:
    return statement.options(
        selectinload(Agreement.tiers),
        selectinload(Agreement.payment_options),
        selectinload(Agreement.assortment),
        selectinload(Agreement.company),
        selectinload(Agreement.price_list),
    )


async def agreement(session: AsyncSession, agreement_id: int, *, fresh: bool = False) -> Agreement:
    """The agreement with its terms (`fresh`: read again, as written); `NotFound` if there is none."""
    query = _with_terms(select(Agreement).where(Agreement.id == agreement_id))
    if fresh:
        query = query.execution_options(populate_existing=True)
    found = (await session.scalars(query)).first()
    if found is None:
        raise NotFound()
    return found


async def by_number(session: AsyncSession, number: str) -> Agreement | None:
    return (await session.scalars(_with_terms(select(Agreement).where(Agreement.number == number)))).first()


async def load_names(session: AsyncSession, product_ids: Iterable[int] = (), skus: Iterable[str] = ()) -> Names:
    """Every category (a short list) and the products with these ids or SKUs: two queries."""
    names = Names({category.id: category.name for category in await session.scalars(select(ProductCategory))})
    ids, wanted = set(product_ids), set(skus)
    if ids or wanted:
        rows = await session.execute(
            select(Product.id, Product.sku).where(or_(Product.id.in_(ids), Product.sku.in_(wanted)))
        )
        for product_id, sku in rows:
            names.skus[product_id] = sku
            names.products_by_sku[sku] = product_id
    return names


def _product_ids(found: Agreement | None) -> list[int]:
    return [item.product_id for item in found.assortment if item.product_id] if found else []


async def agreement_list(session: AsyncSession, query: ListQuery) -> Page[Agreement]:
    """One page of agreements with their companies; filters `company` (id) and `status`."""
    statement: Select[Any] = (
        select(Agreement).join(Company, Company.id == Agreement.company_id).options(selectinload(Agreement.company))
    )
    statement = searched(statement, query.search, [Agreement.number.expression, Company.name.expression])
    if isinstance(company_id := query.filter("company"), int):
        statement = statement.where(Agreement.company_id == company_id)
    if status := query.filter("status"):
        statement = statement.where(Agreement.status == AgreementStatus(status))
    sorts: dict[str, ColumnElement[Any]] = {
        "number": Agreement.number.expression,
        "company": Company.name.expression,
        "valid_from": Agreement.valid_from.expression,
    }
    return await paginate(
        session, statement, query, sorts=sorts, default_sort="number", tiebreak=Agreement.id.expression
    )


@dataclass(frozen=True)
class FormChoices:
    companies: list[Company]
    price_lists: list[PriceList]
    categories: list[ProductCategory]


async def form_choices(session: AsyncSession) -> FormChoices:
    """The companies, price lists and categories the agreement form offers: three queries."""
    companies = list(await session.scalars(select(Company).order_by(Company.name, Company.id)))
    lists = list(await session.scalars(select(PriceList).order_by(PriceList.name)))
    categories = list(await session.scalars(select(ProductCategory).order_by(ProductCategory.name)))
    return FormChoices(companies, lists, categories)


async def company_agreements(session: AsyncSession, company_id: int) -> list[Agreement]:
    """A company's agreements, newest validity first (for its admin page)."""
    query = select(Agreement).where(Agreement.company_id == company_id).order_by(Agreement.valid_from.desc())
    return list(await session.scalars(query))


# --- periods the tiers editor offers -------------------------------------------------------------


def open_starts(found: Agreement, limit: int = OPEN_STARTS_SHOWN) -> list[date]:
    """The starts of the agreement's periods not closed yet, from the first open one."""
    starts: list[date] = []
    period = agreements.first_open_period(found)
    while period is not None and len(starts) < limit:
        starts.append(period.starts_on)
        period = agreements.period_of(found, period.ends_on + timedelta(days=1))
    return starts


def default_start(found: Agreement, today: date) -> date | None:
    """The current period's start when it is open, else the first open one."""
    current = agreements.period_of(found, today)
    if current is not None and not agreements.is_closed(found, current):
        return current.starts_on
    first = agreements.first_open_period(found)
    return first.starts_on if first is not None else None


def tier_set(found: Agreement, start: date) -> list[AgreementTier]:
    """The tiers in force for the period starting on `start` (its own set, or the one before it)."""
    sets = agreements.tier_sets(found)
    earlier = [day for day in sets if day <= start]
    return sets[max(earlier)] if earlier else []


# --- checks --------------------------------------------------------------------------------------


def _percent_problem(value: Decimal) -> bool:
    return value != value.quantize(CENT)


def check_basics(
    basics: Basics, taken_by: Agreement | None, company: Company | None, price_list: PriceList | None
) -> Errors:
    """The draft-only fields. `taken_by`: another agreement holding the number; `company`,
    `price_list`: the ones the ids name (None: no such one)."""
    errors: Errors = {}
    number = basics.number.strip()
    if not number:
        errors["number"] = gettext("Enter the agreement's number.")
    elif len(number) > NUMBER_MAX or not _NUMBER.fullmatch(number):
        errors["number"] = gettext(
            "Use at most %(limit)d letters, digits, dots, dashes and underscores, e.g. FA-2026-001."
        ) % {"limit": NUMBER_MAX}
    elif taken_by is not None:
        errors["number"] = gettext("The number %(number)s is already used by another agreement.") % {"number": number}
    if company is None:
        errors["company_id"] = gettext("Choose the company.")
    if basics.valid_from is None:
        errors["valid_from"] = gettext("Enter the first day of the agreement.")
    elif not FIRST_DAY <= basics.valid_from <= LAST_DAY:
        errors["valid_from"] = _out_of_range()
    if basics.period is None:
        errors["period"] = gettext("Choose the settlement period.")
    if basics.tier_mode is None:
        errors["tier_mode"] = gettext("Choose how tiers work.")
    if basics.price_list_id is not None and price_list is None:
        errors["price_list"] = gettext("Choose one of the price lists.")
    elif price_list is not None and company is not None and price_list.currency != company.currency:
        errors["price_list"] = gettext(
            "The price list %(list)s is in %(currency)s; %(company)s buys in %(company_currency)s."
        ) % {
            "list": price_list.name,
            "currency": price_list.currency,
            "company": company.name,
            "company_currency": company.currency,
        }
    return errors


def check_terms(record: AgreementRecord, valid_from: date | None, closed_through: date | None, names: Names) -> Errors:
    """What may change on an active agreement too: validity's end, special terms, skonto,
    payment options and assortment."""
    errors: Errors = {}
    if record.valid_to is not None and not FIRST_DAY <= record.valid_to <= LAST_DAY:
        errors["valid_to"] = _out_of_range()
    elif record.valid_to is not None and valid_from is not None and record.valid_to < valid_from:
        errors["valid_to"] = gettext("The agreement ends before it starts.")
    elif record.valid_to is not None and closed_through is not None and record.valid_to < closed_through:
        errors["valid_to"] = gettext("Periods up to %(day)s are closed: the agreement cannot end before that.") % {
            "day": closed_through.isoformat()
        }
    if len(record.special_terms) > SPECIAL_TERMS_MAX:
        errors["special_terms"] = gettext("Use at most %(limit)s characters.") % {"limit": SPECIAL_TERMS_MAX}
    errors.update(_skonto_errors(record.skonto_pct, record.skonto_days))
    errors.update(check_payment_options(record.payment_options))
    unknown_categories = [str(cid) for cid in record.category_ids if cid not in names.categories]
    if unknown_categories:
        errors["categories"] = gettext("Choose categories from the list.")
    unknown = [sku for sku in record.skus if sku not in names.products_by_sku]
    if len(record.skus) > SKUS_MAX:
        errors["skus"] = gettext("Name at most %(limit)d products.") % {"limit": SKUS_MAX}
    elif unknown:
        errors["skus"] = gettext("No product has the SKU %(skus)s.") % {"skus": ", ".join(unknown[:20])}
    return errors


def _out_of_range() -> str:
    return gettext("Enter a date between 2000 and 2100.")


def _skonto_errors(pct: Decimal | None, days: int | None) -> Errors:
    errors: Errors = {}
    if pct is not None and (pct <= 0 or pct > SKONTO_MAX or _percent_problem(pct)):
        errors["skonto_pct"] = gettext("Enter a skonto above 0 and at most %(max)s %%, with at most 2 decimals.") % {
            "max": SKONTO_MAX
        }
    if days is not None and not 1 <= days <= SKONTO_DAYS_MAX:
        errors["skonto_days"] = gettext("Enter 1 to %(max)d days.") % {"max": SKONTO_DAYS_MAX}
    if pct is not None and days is None and "skonto_pct" not in errors:
        errors["skonto_days"] = gettext("A skonto needs the days within which payment earns it.")
    if days is not None and pct is None and "skonto_days" not in errors:
        errors["skonto_pct"] = gettext("Enter the skonto % these days earn, or clear the days.")
    return errors


def check_payment_options(rows: Sequence[PaymentRow]) -> Errors:
    errors: Errors = {}
    if len(rows) > PAYMENT_OPTIONS_MAX:
        return {"payment_options": gettext("Give at most %(limit)d payment options.") % {"limit": PAYMENT_OPTIONS_MAX}}
    seen: set[int] = set()
    for row in rows:
        key = f"payment_options/{row.position}"
        if not 0 <= row.days <= PAYMENT_DAYS_MAX:
            errors[f"{key}/days"] = gettext("Enter 0 (prepayment) to %(max)d days.") % {"max": PAYMENT_DAYS_MAX}
        elif row.days in seen:
            errors[f"{key}/days"] = gettext("%(days)d days is already an option.") % {"days": row.days}
        seen.add(row.days)
        effect = row.price_effect_pct
        if abs(effect) > PRICE_EFFECT_LIMIT or _percent_problem(effect):
            errors[f"{key}/price_effect_pct"] = gettext(
                "Enter a price effect from −%(limit)s to %(limit)s %%, with at most 2 decimals."
            ) % {"limit": PRICE_EFFECT_LIMIT}
    return errors


def check_tiers(rows: Sequence[TierRow], categories: dict[int, str]) -> Errors:
    """One set of tiers: per scope, thresholds above 0 and rebates above 0 and at most 100 %, both
    rising strictly from one tier to the next (rows in any order: compared by threshold)."""
    errors: Errors = {}
    if len(rows) > TIERS_MAX:
        return {"tiers": gettext("Give at most %(limit)d tiers.") % {"limit": TIERS_MAX}}
    ladders: dict[int | None, list[TierRow]] = defaultdict(list)
    for row in rows:
        key = f"tiers/{row.position}"
        if row.category_id is not None and row.category_id not in categories:
            errors[f"{key}/category"] = gettext("Choose a category from the list.")
        if row.threshold <= 0 or _percent_problem(row.threshold):
            errors[f"{key}/threshold"] = gettext("Enter a threshold above 0, with at most 2 decimals.")
        if row.rebate_pct <= 0 or row.rebate_pct > REBATE_MAX or _percent_problem(row.rebate_pct):
            errors[f"{key}/rebate_pct"] = gettext("Enter a rebate above 0 and at most 100 %, with at most 2 decimals.")
        if not any(name.startswith(f"{key}/") for name in errors):
            ladders[row.category_id].append(row)
    for ladder in ladders.values():
        ladder.sort(key=lambda row: (row.threshold, row.position))
        for lower, upper in zip(ladder, ladder[1:], strict=False):
            if upper.threshold == lower.threshold:
                errors[f"tiers/{upper.position}/threshold"] = gettext(
                    "Tiers are not increasing: this threshold is already a tier of the same scope."
                )
            elif upper.rebate_pct <= lower.rebate_pct:
                errors[f"tiers/{upper.position}/rebate_pct"] = gettext(
                    "Tiers are not increasing: a higher threshold needs a higher rebate than %(pct)s %%."
                ) % {"pct": audit.as_text(lower.rebate_pct)}
    return errors


def check_start(found: Agreement, start: date) -> str | None:
    """Why tiers may not apply from `start` (None: they may): it must start one of the agreement's
    periods, and that period must not be closed."""
    period = agreements.period_of(found, start) if FIRST_DAY <= start <= LAST_DAY else None
    if period is None or period.starts_on != start:
        return gettext("%(day)s does not start a settlement period of this agreement.") % {"day": start.isoformat()}
    if agreements.is_closed(found, period):
        first = agreements.first_open_period(found)
        if first is None:
            return gettext("Period %(period)s is closed, and so is every period of this agreement.") % {
                "period": _period_text(period)
            }
        return gettext("Period %(period)s is closed; tiers can change from %(next)s.") % {
            "period": _period_text(period),
            "next": first.starts_on.isoformat(),
        }
    return None


def _period_text(period: Period) -> str:
    return f"{period.starts_on.isoformat()} – {period.ends_on.isoformat()}"


def _refuse(errors: Errors) -> None:
    if errors:
        raise Refused(gettext("Please correct the marked fields."), errors=errors)


# --- the trail -----------------------------------------------------------------------------------


def described(found: Agreement, names: Names) -> dict[str, str | None]:
    """The agreement as the trail keeps it: its fields, payment options, assortment and each tier set."""
    values = audit.snapshot(
        found,
        [
            "number",
            "status",
            "valid_from",
            "valid_to",
            "period",
            "tier_mode",
            "price_list_id",
            "special_terms",
            "skonto_pct",
            "skonto_days",
            "assortment_blocking",
        ],
    )
    values["company_id"] = audit.as_text(found.company_id)
    values["payment_options"] = (
        "; ".join(f"{option.days} d: {audit.as_text(option.price_effect_pct)} %" for option in found.payment_options)
        or None
    )
    categories = sorted(names.categories.get(i.category_id, "?") for i in found.assortment if i.category_id)
    products = sorted(names.skus.get(i.product_id, "?") for i in found.assortment if i.product_id)
    values["assortment_categories"] = ", ".join(categories) or None
    values["assortment_products"] = ", ".join(products) or None
    for start, tiers in sorted(agreements.tier_sets(found).items()):
        values[f"tiers from {start.isoformat()}"] = "; ".join(
            f"{names.categories.get(t.category_id, '?') if t.category_id else 'all'}: "
            f"{audit.as_text(t.threshold)} → {audit.as_text(t.rebate_pct)} %"
            for t in sorted(tiers, key=lambda t: (t.category_id or 0, t.threshold))
        )
    return values


def _audit(
    session: AsyncSession,
    actor: User | str | None,
    action: str,
    found: Agreement,
    before: dict[str, str | None],
    names: Names,
) -> bool:
    changes = audit.changed(before, described(found, names))
    for name in before.keys() - described(found, names).keys():
        changes[name] = [before[name], None]
    if changes or action != "update":
        audit.record(
            session, actor, action, "agreement", found.id, found.number, company_id=found.company_id, changes=changes
        )
    return bool(changes)


# --- writes --------------------------------------------------------------------------------------


async def _check_record(
    session: AsyncSession, found: Agreement | None, record: AgreementRecord, names: Names
) -> tuple[Errors, Basics | None]:
    """Every problem of the record for this agreement (None: a new one)."""
    errors: Errors = {}
    basics = record.basics
    draft = found is None or found.status is AgreementStatus.DRAFT
    if found is not None and found.status is AgreementStatus.ENDED:
        raise Refused(gettext("Agreement %(number)s has ended: it no longer changes.") % {"number": found.number})
    if basics is not None and not draft and found is not None:
        errors.update(_locked_changes(found, basics))
        basics = None
    elif basics is None and draft:
        basics = Basics()
    if basics is not None:
        number = basics.number.strip()
        taken = await by_number(session, number) if number else None
        company = await session.get(Company, basics.company_id) if basics.company_id else None
        price_list = await session.get(PriceList, basics.price_list_id) if basics.price_list_id else None
        errors.update(check_basics(basics, taken if taken is not found else None, company, price_list))
    valid_from = basics.valid_from if basics is not None else found.valid_from if found is not None else None
    errors.update(check_terms(record, valid_from, found.closed_through if found else None, names))
    return errors, basics


def _locked_changes(found: Agreement, basics: Basics) -> Errors:
    """An active agreement's draft-only fields sent with other values."""
    locked = gettext("This can change only while the agreement is a draft.")
    current = {
        "number": found.number,
        "company_id": found.company_id,
        "valid_from": found.valid_from,
        "period": found.period,
        "tier_mode": found.tier_mode,
        "price_list": found.price_list_id,
    }
    sent = {
        "number": basics.number.strip(),
        "company_id": basics.company_id,
        "valid_from": basics.valid_from,
        "period": basics.period,
        "tier_mode": basics.tier_mode,
        "price_list": basics.price_list_id,
    }
    return {name: locked for name, value in sent.items() if value != current[name]}


def _write(found: Agreement, record: AgreementRecord, basics: Basics | None, names: Names) -> None:
    if basics is not None:
        assert basics.company_id is not None and basics.valid_from is not None
        assert basics.period is not None and basics.tier_mode is not None
        found.number = basics.number.strip()
        found.company_id = basics.company_id
        found.valid_from = basics.valid_from
        found.period = basics.period
        found.tier_mode = basics.tier_mode
        found.price_list_id = basics.price_list_id
    found.valid_to = record.valid_to
    found.special_terms = record.special_terms.strip()
    found.skonto_pct = record.skonto_pct
    found.skonto_days = record.skonto_days
    found.assortment_blocking = record.assortment_blocking
    company_id = found.company_id
    wanted_options = {(row.days, row.price_effect_pct) for row in record.payment_options}
    if wanted_options != {(o.days, o.price_effect_pct) for o in found.payment_options}:
        found.payment_options = [
            PaymentOption(company_id=company_id, days=days, price_effect_pct=effect)
            for days, effect in sorted(wanted_options)
        ]
    wanted_items = {("c", cid) for cid in record.category_ids} | {
        ("p", names.products_by_sku[sku]) for sku in record.skus
    }
    current = {("c", i.category_id) if i.category_id else ("p", i.product_id) for i in found.assortment}
    if wanted_items != current:
        found.assortment = [
            AssortmentItem(
                company_id=company_id,
                category_id=item_id if kind == "c" else None,
                product_id=item_id if kind == "p" else None,
            )
            for kind, item_id in sorted(wanted_items, key=lambda pair: (pair[0], pair[1] or 0))
        ]
    if basics is not None:
        for option in found.payment_options:
            option.company_id = company_id
        for item in found.assortment:
            item.company_id = company_id
        for tier in found.tiers:
            tier.company_id = company_id
    found.updated_at = clock.now()


async def _flush_number(session: AsyncSession) -> None:
    """A number saved by someone else at the same moment is refused like any duplicate."""
    try:
        await session.flush()
    except IntegrityError:
        raise Refused(gettext("This number was just saved for another agreement."), "number") from None


async def save_agreement(
    session: AsyncSession, actor: User | str | None, agreement_id: int | None, record: AgreementRecord
) -> Agreement:
    """Creates a draft (`agreement_id` None) or changes one: checked whole, written, audited."""
    found = await agreement(session, agreement_id) if agreement_id is not None else None
    return await _save(session, actor, found, record)


async def _save(
    session: AsyncSession, actor: User | str | None, found: Agreement | None, record: AgreementRecord
) -> Agreement:
    names = await load_names(session, _product_ids(found), record.skus)
    errors, basics = await _check_record(session, found, record, names)
    if found is not None and found.status is AgreementStatus.ACTIVE and "valid_to" not in errors:
        other = await _overlapping(session, found, found.valid_from, record.valid_to)
        if other is not None:
            errors["valid_to"] = _overlap_message(other)
    _refuse(errors)
    if found is None:
        target = Agreement(status=AgreementStatus.DRAFT, tiers=[], payment_options=[], assortment=[])
        _write(target, record, basics, names)
        session.add(target)
        await _flush_number(session)
        _audit(session, actor, "create", target, {}, names)
    else:
        before = described(found, names)
        _write(found, record, basics, names)
        await _flush_number(session)
        _audit(session, actor, "update", found, before, names)
        target = found
    await session.flush()
    return target


async def save_tiers(
    session: AsyncSession, actor: User | str | None, agreement_id: int, start: date, rows: Sequence[TierRow]
) -> Agreement:
    """Replaces the set of tiers applying from the period starting on `start` (the earlier sets
    stay as they were): checked, written, audited."""
    found = await agreement(session, agreement_id)
    names = await load_names(session, _product_ids(found))
    errors = _tier_errors(found, start, rows, names)
    _refuse(errors)
    before = described(found, names)
    _replace_tiers(found, start, rows)
    await session.flush()
    _audit(session, actor, "update", found, before, names)
    await session.flush()
    return found


def _tier_errors(found: Agreement, start: date, rows: Sequence[TierRow], names: Names) -> Errors:
    if found.status is AgreementStatus.ENDED:
        return {"": gettext("Agreement %(number)s has ended: it no longer changes.") % {"number": found.number}}
    problem = check_start(found, start)
    errors = {"applies_from": problem} if problem else {}
    errors.update(check_tiers(rows, names.categories))
    return errors


def _replace_tiers(found: Agreement, start: date, rows: Sequence[TierRow]) -> bool:
    wanted = sorted((row.category_id or 0, row.threshold, row.rebate_pct) for row in rows)
    current = sorted((t.category_id or 0, t.threshold, t.rebate_pct) for t in found.tiers if t.applies_from == start)
    if wanted == current:
        return False
    kept = [tier for tier in found.tiers if tier.applies_from != start]
    found.tiers = kept + [
        AgreementTier(
            company_id=found.company_id,
            applies_from=start,
            category_id=row.category_id,
            threshold=row.threshold,
            rebate_pct=row.rebate_pct,
        )
        for row in rows
    ]
    found.updated_at = clock.now()
    return True


# --- activating and ending ---------------------------------------------------------------------


def _overlap_message(other: Agreement) -> str:
    if other.status is AgreementStatus.ACTIVE:
        return gettext("Agreement %(number)s of this company is active: end it first.") % {"number": other.number}
    return gettext("The validity overlaps agreement %(number)s of this company (%(from)s – %(to)s).") % {
        "number": other.number,
        "from": other.valid_from.isoformat(),
        "to": other.valid_to.isoformat() if other.valid_to else "…",
    }


async def _overlapping(
    session: AsyncSession, found: Agreement, valid_from: date, valid_to: date | None
) -> Agreement | None:
    """Another agreement of the company that is active (at most one may be), or ended with a
    validity overlapping [valid_from, valid_to]."""
    query = select(Agreement).where(
        Agreement.company_id == found.company_id,
        Agreement.id != found.id,
        Agreement.status != AgreementStatus.DRAFT,
        or_(
            Agreement.status == AgreementStatus.ACTIVE,
            (or_(Agreement.valid_to.is_(None), Agreement.valid_to >= valid_from))
            & (Agreement.valid_from <= (valid_to or date.max)),
        ),
    )
    return (await session.scalars(query.order_by(Agreement.valid_from))).first()


async def activate(session: AsyncSession, actor: User | str | None, agreement_id: int) -> Agreement:
    """Draft → active, under the company's row lock: refused while another agreement of the
    company is active or overlaps. A price list the agreement includes becomes the company's."""
    company_id = await session.scalar(select(Agreement.company_id).where(Agreement.id == agreement_id))
    if company_id is None:
        raise NotFound()
    await lock_rows(session, Company, [company_id])
    found = await agreement(session, agreement_id)
    await session.refresh(found, ["status", "company_id"])
    return await _activate(session, actor, found)


async def _activate(session: AsyncSession, actor: User | str | None, found: Agreement) -> Agreement:
    if found.status is not AgreementStatus.DRAFT:
        raise Refused(
            gettext("Agreement %(number)s is not a draft: it was activated already.") % {"number": found.number},
            "status",
        )
    other = await _overlapping(session, found, found.valid_from, found.valid_to)
    if other is not None:
        raise Refused(_overlap_message(other), "status")
    found.status = AgreementStatus.ACTIVE
    found.updated_at = clock.now()
    audit.record(
        session,
        actor,
        "activate",
        "agreement",
        found.id,
        found.number,
        company_id=found.company_id,
        changes={"status": ["draft", "active"]},
    )
    company = await session.get(Company, found.company_id)
    assert company is not None
    if found.price_list_id is not None and company.price_list_id != found.price_list_id:
        old = company.price_list_id
        company.price_list_id = found.price_list_id
        audit.record(
            session,
            actor,
            "update",
            "company",
            company.id,
            company.name,
            company_id=company.id,
            changes={"price_list_id": [audit.as_text(old), audit.as_text(found.price_list_id)]},
            note=gettext("Price list of agreement %(number)s.") % {"number": found.number},
        )
    await session.flush()
    return found


async def end(session: AsyncSession, actor: User | str | None, agreement_id: int, ends_on: date) -> Agreement:
    """Active → ended: its validity ends on `ends_on` (not before it starts, nor inside a closed
    period); the worker still closes its periods up to that day."""
    found = await agreement(session, agreement_id)
    return await _end(session, actor, found, ends_on)


async def _end(session: AsyncSession, actor: User | str | None, found: Agreement, ends_on: date) -> Agreement:
    if found.status is not AgreementStatus.ACTIVE:
        raise Refused(gettext("Only an active agreement can end."), "status")
    if ends_on > LAST_DAY:
        raise Refused(_out_of_range(), "ends_on")
    if ends_on < found.valid_from:
        raise Refused(gettext("The agreement ends before it starts."), "ends_on")
    if found.closed_through is not None and ends_on < found.closed_through:
        raise Refused(
            gettext("Periods up to %(day)s are closed: the agreement cannot end before that.")
            % {"day": found.closed_through.isoformat()},
            "ends_on",
        )
    old_to = found.valid_to
    found.valid_to = ends_on
    found.status = AgreementStatus.ENDED
    found.ended_at = clock.now()
    found.updated_at = found.ended_at
    audit.record(
        session,
        actor,
        "end",
        "agreement",
        found.id,
        found.number,
        company_id=found.company_id,
        changes={"status": ["active", "ended"], "valid_to": [audit.as_text(old_to), ends_on.isoformat()]},
    )
    await session.flush()
    return found


# --- the ERP's whole agreement -------------------------------------------------------------------


@dataclass(frozen=True)
class Put:
    """An agreement as the ERP sends it, names resolved to ids."""

    record: AgreementRecord
    tiers: tuple[tuple[date, TierRow], ...] | None
    """(applies_from, tier) in the order sent; None: the tiers are kept as they are."""
    status: AgreementStatus


@dataclass(frozen=True)
class PutNames:
    """The names the ERP uses, before they are ids."""

    company_tax_id: str
    price_list: str | None
    categories: tuple[str, ...]
    tier_categories: tuple[str | None, ...]


@dataclass(frozen=True)
class Resolved:
    company_id: int | None
    price_list_id: int | None
    category_ids: tuple[int, ...]
    tier_category_ids: tuple[int | None, ...]


async def resolve(session: AsyncSession, names: PutNames) -> Resolved:
    """The company by NIP, the price list by code or name, categories by name: unknown ones are
    refused, each at its place."""
    errors: Errors = {}
    companies = await companies_by_tax_id(session, [names.company_tax_id])
    company = companies.get(compact_tax_id(names.company_tax_id))
    if company is None:
        errors["company_tax_id"] = gettext("No company has the NIP %(tax_id)s.") % {"tax_id": names.company_tax_id}
    price_list_id = None
    if names.price_list is not None:
        price_list = (
            await session.scalars(
                select(PriceList).where(or_(PriceList.code == names.price_list, PriceList.name == names.price_list))
            )
        ).first()
        if price_list is None:
            errors["price_list"] = gettext("No price list has the code or name %(name)s.") % {"name": names.price_list}
        else:
            price_list_id = price_list.id
    wanted = {*names.categories, *(name for name in names.tier_categories if name is not None)}
    by_name = {
        category.name: category.id
        for category in await session.scalars(select(ProductCategory).where(ProductCategory.name.in_(wanted)))
    }
    unknown = [name for name in names.categories if name not in by_name]
    if unknown:
        errors["categories"] = gettext("No category is named %(names)s.") % {"names": ", ".join(unknown)}
    for position, name in enumerate(names.tier_categories):
        if name is not None and name not in by_name:
            errors[f"tiers/{position}/category"] = gettext("No category is named %(names)s.") % {"names": name}
    _refuse(errors)
    return Resolved(
        company.id if company else None,
        price_list_id,
        tuple(by_name[name] for name in names.categories),
        tuple(by_name[name] if name is not None else None for name in names.tier_categories),
    )


async def put(session: AsyncSession, actor: User | str | None, put_: Put) -> tuple[Agreement, str]:
    """Creates or changes the agreement its number names, its tier sets (each set sent replaces
    that set; sets not sent stay) and moves its status (draft → active → ended), all or nothing,
    through the same checks as the admin's pages. Returns the agreement and "new" / "changed" /
    "unchanged"."""
    basics = put_.record.basics
    assert basics is not None
    found = await by_number(session, basics.number.strip())
    if found is not None and found.status is AgreementStatus.ENDED:
        raise Refused(gettext("Agreement %(number)s has ended: it no longer changes.") % {"number": found.number})
    if found is not None and found.status is AgreementStatus.ACTIVE and put_.status is AgreementStatus.DRAFT:
        raise Refused(gettext("An active agreement cannot go back to draft."), "status")
    ending = found is not None and found.status is AgreementStatus.ACTIVE and put_.status is AgreementStatus.ENDED
    if ending and put_.record.valid_to is None:
        raise Refused(gettext("Give valid_to: the day the agreement ends."), "valid_to")
    if found is None and put_.status is AgreementStatus.ENDED:
        raise Refused(gettext("A new agreement starts as a draft or active, not ended."), "status")
    await lock_rows(session, Company, [basics.company_id] if basics.company_id else [])
    before_trail = None
    if found is not None:
        names = await load_names(session, _product_ids(found))
        before_trail = described(found, names)
    record = put_.record
    if ending and found is not None:
        record = AgreementRecord(
            basics=record.basics,
            valid_to=found.valid_to,
            special_terms=record.special_terms,
            skonto_pct=record.skonto_pct,
            skonto_days=record.skonto_days,
            assortment_blocking=record.assortment_blocking,
            payment_options=record.payment_options,
            category_ids=record.category_ids,
            skus=record.skus,
        )
    errors = await _put_errors(session, found, record, put_.tiers)
    _refuse(errors)
    target = await _save(session, actor, found, record)
    if put_.tiers is not None:
        await _put_tiers(session, actor, target, put_.tiers)
    if target.status is AgreementStatus.DRAFT and put_.status is AgreementStatus.ACTIVE:
        await _activate(session, actor, target)
    elif ending and put_.record.valid_to is not None:
        await _end(session, actor, target, put_.record.valid_to)
    if found is None:
        return target, "new"
    names = await load_names(session, _product_ids(target))
    return target, "changed" if before_trail != described(target, names) else "unchanged"


async def _put_errors(
    session: AsyncSession,
    found: Agreement | None,
    record: AgreementRecord,
    tiers: tuple[tuple[date, TierRow], ...] | None,
) -> Errors:
    """The record's and every tier set's problems together, before anything is written."""
    names = await load_names(session, _product_ids(found), record.skus)
    errors, basics = await _check_record(session, found, record, names)
    if tiers is None:
        return errors
    bad_dates = "valid_to" in errors or "valid_from" in errors
    probe = None if bad_dates else found
    if (
        not bad_dates
        and found is None
        and basics is not None
        and basics.valid_from is not None
        and basics.period is not None
    ):
        probe = Agreement(valid_from=basics.valid_from, valid_to=record.valid_to, period=basics.period, tiers=[])
    by_start: dict[date, list[TierRow]] = defaultdict(list)
    for start, row in tiers:
        by_start[start].append(row)
    for start, rows in by_start.items():
        problem = check_start(probe, start) if probe is not None and _set_differs(probe, start, rows) else None
        if problem:
            errors.update({f"tiers/{row.position}/applies_from": problem for row in rows})
        errors.update(check_tiers(rows, names.categories))
    return errors


def _set_differs(found: Agreement, start: date, rows: Sequence[TierRow]) -> bool:
    wanted = sorted((row.category_id or 0, row.threshold, row.rebate_pct) for row in rows)
    current = sorted((t.category_id or 0, t.threshold, t.rebate_pct) for t in found.tiers if t.applies_from == start)
    return wanted != current


async def _put_tiers(
    session: AsyncSession, actor: User | str | None, found: Agreement, tiers: tuple[tuple[date, TierRow], ...]
) -> None:
    by_start: dict[date, list[TierRow]] = defaultdict(list)
    for start, row in tiers:
        by_start[start].append(row)
    names = await load_names(session, _product_ids(found))
    before = described(found, names)
    changed = [_replace_tiers(found, start, rows) for start, rows in sorted(by_start.items())]
    if any(changed):
        await session.flush()
        _audit(session, actor, "update", found, before, names)
        await session.flush()
