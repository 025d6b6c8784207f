"""`PUT /api/v1/agreements/{number}` and `GET /api/v1/agreements/{number}`: a framework agreement
as a whole (its company by NIP, validity, settlement period, tier mode, price list, terms, skonto,
payment options, assortment by category name and SKU, tier sets with the period start each applies
from, status), through the admin's own service and checks (`services/agreements_admin`): all or
nothing, every problem pointing at its value (`/tiers/2/rebate_pct`)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated, Any, Literal, cast

import msgspec
from litestar import Request, Response, get, put
from litestar.params import JSONBody, PathParameter
from sqlalchemy.ext.asyncio import AsyncSession

from portal.errors import NotFound
from portal.models import Agreement, AgreementStatus, ApiKey, SettlementPeriod, TierMode
from portal.services import agreements_admin, api_keys
from portal.services.agreements_admin import AgreementRecord, Basics, PaymentRow, Put, PutNames, TierRow
from portal.web.api.access import CallingKey, DbSession
from portal.web.api.once import IdempotencyKey, once
from portal.web.api.problems import responses
from portal.web.api.types import Sku, TaxId, text

NumberInPath = Annotated[
    str,
    PathParameter(
        min_length=1,
        max_length=agreements_admin.NUMBER_MAX,
        pattern=agreements_admin.NUMBER_PATTERN,
        description="The agreement's number: letters, digits, dots, dashes and underscores.",
    ),
]
SignedPercent = Annotated[
    str,
    msgspec.Meta(pattern=r"^-?[0-9]{1,2}(\.[0-9]{1,2})?$", description="A percentage, −50 to 50.", examples=["-1.00"]),
]
Percent = Annotated[
    str, msgspec.Meta(pattern=r"^[0-9]{1,3}(\.[0-9]{1,2})?$", description="A percentage.", examples=["2.00"])
]
Threshold = Annotated[
    str,
    msgspec.Meta(
        pattern=r"^[0-9]{1,12}(\.[0-9]{1,2})?$", description="Net turnover, 2 decimals.", examples=["100000.00"]
    ),
]
CategoryName = Annotated[str, text(100, 1)]
StatusName = Literal["draft", "active", "ended"]


class PaymentOptionIn(msgspec.Struct):
    days: Annotated[int, msgspec.Meta(ge=0, le=agreements_admin.PAYMENT_DAYS_MAX)]
    """0: prepayment."""
    price_effect_pct: SignedPercent = "0"
    """On every line: negative is cheaper."""


class TierIn(msgspec.Struct):
    applies_from: date
    """The first day of the settlement period this set of tiers applies from."""
    threshold: Threshold
    rebate_pct: Percent
    category: CategoryName | None = None
    """A category's name; null: all products."""


class AgreementIn(msgspec.Struct, kw_only=True):
    """A whole agreement. Payment options and the assortment are replaced by what is sent; each tier
    set sent (by `applies_from`) replaces that set, sets not sent stay; `tiers` left out keeps them all."""

    company_tax_id: TaxId
    """The company's NIP."""
    valid_from: date
    valid_to: date | None = None
    period: SettlementPeriod
    tier_mode: TierMode
    price_list: Annotated[str, text(100, 1)] | None = None
    """A price list's code or name, switched to on activation; null: the company's own."""
    special_terms: Annotated[str, text(agreements_admin.SPECIAL_TERMS_MAX)] = ""
    skonto_pct: Percent | None = None
    skonto_days: Annotated[int, msgspec.Meta(ge=0, le=1000)] | None = None
    assortment_blocking: bool = False
    payment_options: Annotated[list[PaymentOptionIn], msgspec.Meta(max_length=agreements_admin.PAYMENT_OPTIONS_MAX)] = (
        msgspec.field(default_factory=list)
    )
    categories: Annotated[list[CategoryName], msgspec.Meta(max_length=200)] = msgspec.field(default_factory=list)
    skus: Annotated[list[Sku], msgspec.Meta(max_length=agreements_admin.SKUS_MAX)] = msgspec.field(default_factory=list)
    tiers: Annotated[list[TierIn], msgspec.Meta(max_length=agreements_admin.TIERS_MAX * 10)] | None = None
    status: StatusName = "draft"
    """draft → active (refused on overlap) → ended (ends on `valid_to`)."""


class AgreementOut(msgspec.Struct):
    number: str
    company_tax_id: str
    company_name: str
    status: StatusName
    valid_from: date
    valid_to: date | None
    period: str
    tier_mode: str
    price_list: str | None
    special_terms: str
    skonto_pct: str | None
    skonto_days: int | None
    assortment_blocking: bool
    payment_options: list[PaymentOptionIn]
    categories: list[str]
    skus: list[str]
    tiers: list[TierIn]
    closed_through: date | None
    """The last day of the last settlement period closed."""
    outcome: Literal["new", "changed", "unchanged", "read"] = "read"


def _text(value: Decimal) -> str:
    return format(value, "f")


def _put_of(number: str, item: AgreementIn, resolved: agreements_admin.Resolved) -> Put:
    basics = Basics(number, resolved.company_id, item.valid_from, item.period, item.tier_mode, resolved.price_list_id)
    record = AgreementRecord(
        basics=basics,
        valid_to=item.valid_to,
        special_terms=item.special_terms,
        skonto_pct=Decimal(item.skonto_pct) if item.skonto_pct is not None else None,
        skonto_days=item.skonto_days,
        assortment_blocking=item.assortment_blocking,
        payment_options=tuple(
            PaymentRow(option.days, Decimal(option.price_effect_pct), n)
            for n, option in enumerate(item.payment_options)
        ),
        category_ids=tuple(dict.fromkeys(resolved.category_ids)),
        skus=tuple(dict.fromkeys(item.skus)),
    )
    tiers = None
    if item.tiers is not None:
        tiers = tuple(
            (tier.applies_from, TierRow(category_id, Decimal(tier.threshold), Decimal(tier.rebate_pct), n))
            for n, (tier, category_id) in enumerate(zip(item.tiers, resolved.tier_category_ids, strict=True))
        )
    return Put(record, tiers, AgreementStatus(item.status))


async def agreement_out(session: AsyncSession, found: Agreement, outcome: str = "read") -> AgreementOut:
    names = await agreements_admin.load_names(session, [i.product_id for i in found.assortment if i.product_id])
    company, price_list = found.company, found.price_list
    return AgreementOut(
        number=found.number,
        company_tax_id=company.tax_id,
        company_name=company.name,
        status=found.status.value,
        valid_from=found.valid_from,
        valid_to=found.valid_to,
        period=found.period.value,
        tier_mode=found.tier_mode.value,
        price_list=(price_list.code or price_list.name) if price_list else None,
        special_terms=found.special_terms,
        skonto_pct=_text(found.skonto_pct) if found.skonto_pct is not None else None,
        skonto_days=found.skonto_days,
        assortment_blocking=found.assortment_blocking,
        payment_options=[PaymentOptionIn(o.days, _text(o.price_effect_pct)) for o in found.payment_options],
        categories=sorted(names.categories[i.category_id] for i in found.assortment if i.category_id),
        skus=sorted(names.skus[i.product_id] for i in found.assortment if i.product_id),
        tiers=[
            TierIn(
                t.applies_from,
                _text(t.threshold),
                _text(t.rebate_pct),
                names.categories[t.category_id] if t.category_id else None,
            )
            for t in found.tiers
        ],
        closed_through=found.closed_through,
        outcome=cast(Any, outcome),
    )


async def _put(session: AsyncSession, key: ApiKey, number: str, item: AgreementIn) -> AgreementOut:
    names = PutNames(
        item.company_tax_id, item.price_list, tuple(item.categories), tuple(t.category for t in item.tiers or [])
    )
    resolved = await agreements_admin.resolve(session, names)
    found, outcome = await agreements_admin.put(session, api_keys.actor_label(key), _put_of(number, item, resolved))
    return await agreement_out(session, await agreements_admin.agreement(session, found.id, fresh=True), outcome)


@put(
    "/agreements/{number:str}",
    opt={"scope": "agreements:write"},
    status_code=200,
    responses=responses(404, 409),
    summary="Create or change a framework agreement by its number",
    description="The whole agreement, all or nothing, through the checks of the admin's pages: overlapping "
    "validity with another agreement of the company, tiers that are not increasing, a rebate over 100 %, an end "
    "before the start, a skonto without days, or tiers for a period already closed are refused, each problem "
    "pointing at its value. Once active, only the terms (valid_to, special terms, skonto, payment options, "
    "assortment, tiers of open periods) may change; an ended agreement no longer changes.",
)
async def put_agreement(
    request: Request[Any, Any, Any],
    number: NumberInPath,
    data: JSONBody[AgreementIn],
    db_session: DbSession,
    key: CallingKey,
    idempotency_key: IdempotencyKey = "",
) -> Response[AgreementOut]:
    return await once(request, db_session, key, idempotency_key, lambda: _put(db_session, key, number, data))


@get(
    "/agreements/{number:str}",
    opt={"scope": "agreements:read"},
    responses=responses(404),
    summary="Read a framework agreement by its number",
)
async def get_agreement(number: NumberInPath, db_session: DbSession) -> AgreementOut:
    found = await agreements_admin.by_number(db_session, number)
    if found is None:
        raise NotFound()
    return await agreement_out(db_session, found)


ROUTES = [put_agreement, get_agreement]
