"""`PUT /api/v1/companies` and `POST /api/v1/companies/{tax_id}/credit-limit`: companies from the
ERP through the kind the admin's CSV import uses (`COMPANIES`), their addresses through the
address rules of the admin's forms, and credit limits through finance's credit ledger."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from typing import Annotated, Any

import msgspec
from litestar import Request, Response, post, put
from litestar.params import JSONBody
from msgspec import UNSET, UnsetType
from sqlalchemy.ext.asyncio import AsyncSession

from portal.i18n import gettext
from portal.models import ApiKey
from portal.services import api_keys, companies_admin, credit_control, tax_ids
from portal.services.companies_admin import (
    CITY_MAX,
    COMPANIES,
    LABEL_MAX,
    NAME_MAX,
    PAYMENT_TERMS_MAX,
    POSTAL_CODE_MAX,
    STREET_MAX,
    AddressRecord,
    AddressUpsert,
)
from portal.services.master_data import PlanRefused
from portal.web.api import bulk
from portal.web.api.access import CallingKey, DbSession, Today
from portal.web.api.once import IdempotencyKey, once
from portal.web.api.problems import ApiProblem, ItemsRefused, ProblemItem, responses
from portal.web.api.types import Amount, BulkResult, ItemOutcome, Percent, TaxId, TaxIdInPath, text

MAX_ITEMS = 1_000
MAX_ADDRESSES = 100
"""Addresses sent with one company at most."""
REASON_MAX = 500
EMAIL_MAX = 254
PRICE_LIST_MAX = 200


class AddressIn(msgspec.Struct):
    """A delivery address, known by its label within the company."""

    label: Annotated[str, text(LABEL_MAX, 1)]
    street: Annotated[str, text(STREET_MAX, 1)]
    postal_code: Annotated[str, text(POSTAL_CODE_MAX, 1)]
    """NN-NNN for a Polish address."""
    city: Annotated[str, text(CITY_MAX, 1)]
    country_code: Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z]{2}$", examples=["PL"])] = "PL"
    default: bool = False
    """True: the company's default address from now on. False leaves the default as it is."""


class CompanyIn(msgspec.Struct, kw_only=True):
    """A company, known by its NIP. A field left out keeps the stored value (a new company takes the
    default: 30 days, PLN, no discount, deliveries Monday to Friday, active); `null` empties an
    optional one."""

    tax_id: TaxId
    name: Annotated[str, text(NAME_MAX, 1)] | UnsetType = UNSET
    """Required for a new company."""
    payment_terms_days: Annotated[int, msgspec.Meta(ge=0, le=PAYMENT_TERMS_MAX)] | UnsetType = UNSET
    currency: Annotated[str, msgspec.Meta(pattern=r"^[A-Z]{3}$", examples=["PLN"])] | UnsetType = UNSET
    price_list: Annotated[str, text(PRICE_LIST_MAX, 1)] | None | UnsetType = UNSET
    """An existing price list's code or name; null: none."""
    general_discount_pct: Percent | UnsetType = UNSET
    po_number_required: bool | UnsetType = UNSET
    auto_approve: bool | UnsetType = UNSET
    margin_floor_pct: Percent | None | UnsetType = UNSET
    account_manager_email: Annotated[str, text(EMAIL_MAX, 1)] | None | UnsetType = UNSET
    """An account manager's e-mail; null: none."""
    delivery_weekdays: Annotated[str, msgspec.Meta(pattern=r"^[1-7]{1,7}$", examples=["12345"])] | UnsetType = UNSET
    """ISO weekday digits: 12345 for Monday to Friday."""
    order_cutoff: (
        Annotated[str, msgspec.Meta(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$", examples=["14:30"])] | None | UnsetType
    ) = UNSET
    """HH:MM in the seller's time zone; null: none."""
    min_order_value: Amount | UnsetType = UNSET
    delivery_fee: Amount | UnsetType = UNSET
    free_delivery_from: Amount | None | UnsetType = UNSET
    active: bool | UnsetType = UNSET
    addresses: Annotated[list[AddressIn], msgspec.Meta(max_length=MAX_ADDRESSES)] = msgspec.field(default_factory=list)
    """Added or changed by label; the company's other addresses are left as they are."""


class CompaniesIn(msgspec.Struct):
    items: Annotated[list[CompanyIn], msgspec.Meta(min_length=1, max_length=MAX_ITEMS)]


class CreditLimitIn(msgspec.Struct):
    credit_limit: Amount
    reason: Annotated[str, text(REASON_MAX, 1)]
    """Kept in the credit history for finance and the account manager; never shown to buyers."""
    customer_message: Annotated[str, text(credit_control.MESSAGE_MAX)] = ""
    """Told to the company's buyers with the change (optional)."""


class CreditLimitOut(msgspec.Struct):
    tax_id: str
    credit_limit: Amount
    previous_limit: Amount
    changed: bool
    """False: the limit already was this amount; nothing was written."""


def _row(item: CompanyIn) -> dict[str, str]:
    """A company as the kind's row: fields left out are not in it, `null` is the import's "empty it"."""
    row: dict[str, str] = {}
    for name in item.__struct_fields__:
        value = getattr(item, name)
        if name == "addresses" or value is UNSET:
            continue
        row[name] = bulk.cell(value) or companies_admin.CLEAR
    return row


def _addresses(items: Sequence[CompanyIn]) -> tuple[list[list[AddressUpsert]], list[ProblemItem]]:
    """Every item's addresses checked (nothing read or written): per item the addresses, and
    every problem with its pointer."""
    wanted: list[list[AddressUpsert]] = []
    problems: list[ProblemItem] = []
    for number, item in enumerate(items):
        sent = [
            AddressUpsert(
                AddressRecord(address.label, address.street, address.postal_code, address.city, address.country_code),
                address.default,
            )
            for address in item.addresses
        ]
        checked, errors = companies_admin.check_addresses(sent)
        wanted.append(checked)
        problems.extend(
            ProblemItem(f"/items/{number}/addresses/{position}/{field}", message)
            for position, fields in sorted(errors.items())
            for field, message in fields.items()
        )
    return wanted, problems


def _item_number(problem: ProblemItem) -> int:
    return int(problem.pointer.split("/")[2])


async def _put_companies(session: AsyncSession, key: ApiKey, items: Sequence[CompanyIn], *, today: date) -> BulkResult:
    """The companies and their addresses, all or none: addresses are checked before anything is
    written, and a refusal lists the problems of the companies and of the addresses together."""
    rows = [_row(item) for item in items]
    wanted, address_problems = _addresses(items)
    if address_problems:
        plan = await COMPANIES.plan(session, rows, today=today)
        company_problems = ItemsRefused(PlanRefused(plan)).errors if plan.errors else []
        found = sorted([*company_problems, *address_problems], key=_item_number)
        raise ApiProblem(422, gettext("The request has invalid values; nothing was written."), found)
    written = await bulk.write(session, COMPANIES, key, rows, today=today)
    sending = [item.tax_id for item, addresses in zip(items, wanted, strict=True) if addresses]
    companies = await companies_admin.companies_by_tax_id(session, sending) if sending else {}

    def company_id(item: CompanyIn) -> int:
        return companies[companies_admin.compact_tax_id(item.tax_id)].id

    moved = await companies_admin.put_addresses(
        session,
        api_keys.actor_label(key),
        {company_id(item): addresses for item, addresses in zip(items, wanted, strict=True) if addresses},
    )
    outcomes = [
        ItemOutcome(
            tax_ids.normalise(item.tax_id),
            "changed"
            if outcome.outcome == "unchanged" and addresses and company_id(item) in moved
            else outcome.outcome,
        )
        for item, addresses, outcome in zip(items, wanted, written.items, strict=True)
    ]
    return BulkResult(
        created=sum(1 for outcome in outcomes if outcome.outcome == "new"),
        updated=sum(1 for outcome in outcomes if outcome.outcome == "changed"),
        unchanged=sum(1 for outcome in outcomes if outcome.outcome == "unchanged"),
        items=outcomes,
    )


@put(
    "/companies",
    opt={"scope": "companies:write"},
    responses=responses(409, 413),
    summary="Upsert companies by NIP, with their addresses",
    description="Up to 1,000 companies per call, all or none: any bad company or address refuses the call "
    "and every problem is listed. A field left out keeps the stored value; `null` empties an optional one. "
    "The price list is named by its code or name, the account manager by e-mail. Addresses are matched by "
    "label within the company: a new label adds an address, a known one changes it; addresses not listed "
    "are left as they are (never deleted). An address sent with `default: true` becomes the company's "
    "default; a company's first address is its default.",
)
async def put_companies(
    request: Request[Any, Any, Any],
    data: JSONBody[CompaniesIn],
    db_session: DbSession,
    key: CallingKey,
    today: Today,
    idempotency_key: IdempotencyKey = "",
) -> Response[BulkResult]:
    return await once(
        request, db_session, key, idempotency_key, lambda: _put_companies(db_session, key, data.items, today=today)
    )


def _amount(value: Decimal) -> str:
    return f"{value:.2f}"


@post(
    "/companies/{tax_id:str}/credit-limit",
    opt={"scope": "credit:write"},
    status_code=200,
    responses=responses(404, 409),
    summary="Set a company's credit limit",
    description="Through the credit ledger: the change is kept in the company's credit history with its "
    "reason and the source ERP, and the account manager and the buyers are told (the buyers never read the "
    "reason, only the customer message). Setting the limit the company already has changes nothing and "
    "answers `changed: false`.",
)
async def post_credit_limit(
    request: Request[Any, Any, Any],
    tax_id: TaxIdInPath,
    data: JSONBody[CreditLimitIn],
    db_session: DbSession,
    key: CallingKey,
    idempotency_key: IdempotencyKey = "",
) -> Response[CreditLimitOut]:
    async def work() -> CreditLimitOut:
        company = await companies_admin.company_by_tax_id(db_session, tax_ids.normalise(tax_id))
        company_id, stored_tax_id = company.id, company.tax_id
        new = Decimal(data.credit_limit)
        done = await credit_control.set_limit(
            db_session,
            None,
            company_id,
            new,
            data.reason,
            data.customer_message,
            source=credit_control.SOURCE_ERP,
        )
        return CreditLimitOut(stored_tax_id, _amount(new), _amount(done.previous), done.changed)

    return await once(request, db_session, key, idempotency_key, work)


ROUTES = [put_companies, post_credit_limit]
