"""Admin: framework agreements. The list (by company and status), the agreement page (its terms,
tier sets, history), the form (new and edit: a draft changes in everything, an active agreement in
its terms only), the tiers editor (a set applying from a period start not yet closed), activating
and ending.

The rules are `services/agreements_admin`'s; this module reads the forms into its records. Rows
(payment options, tiers) are named by position (`days-0`, `threshold-2`) and refused next to the
row, under the same keys the API's problems point at (`payment_options/0/days`, `tiers/2/threshold`)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date
from typing import Annotated, Any, ClassVar, Literal

import msgspec
from litestar import Controller, Response, get, post
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, FromQuery, QueryParameter, URLEncodedBody
from litestar.plugins.flash import flash
from litestar.response import Redirect, Template
from sqlalchemy.ext.asyncio import AsyncSession

from portal.errors import Refused
from portal.i18n import N_, gettext
from portal.models import Agreement, AgreementStatus, SettlementPeriod, TierMode
from portal.services import agreements, agreements_admin, audit
from portal.services.agreements_admin import AgreementRecord, Basics, PaymentRow, TierRow
from portal.services.listing import ListQuery
from portal.web.admin.listing import SortKey, list_query
from portal.web.context import PortalRequest, render, seller_today
from portal.web.errors import Refusal
from portal.web.guards import admins_only
from portal.web.inputs import (
    MAX_ID,
    Day,
    Flag,
    Form,
    FormId,
    Id,
    IdList,
    MaybeId,
    Money,
    PageNo,
    QueryText,
    Text,
    Translated,
    decode_hook,
    friendly,
    path_id,
)

CompanyQuery = Annotated[int | None, QueryParameter(name="company", ge=1, le=MAX_ID)]
"""`?company=` (not a parameter named `company`: that name is the app's dependency, the buyer's company)."""
PAYMENT_ROWS_EMPTY = 3
TIER_ROWS_EMPTY = 4
ROWS_MAX = 60
"""Rows of a table form read at most (a longer one is refused by the service's own limits)."""
Number = Annotated[Text, msgspec.Meta(max_length=agreements_admin.NUMBER_MAX)]
Terms = Annotated[Text, msgspec.Meta(max_length=agreements_admin.SPECIAL_TERMS_MAX)]
Skus = Annotated[Text, msgspec.Meta(max_length=100_000)]
WholeNumber = Annotated[int, msgspec.Meta(ge=-1_000_000, le=1_000_000)]
"""Read as a number here; its range is the service's to check, with its own message."""


class PaymentFields(Form):
    days: WholeNumber | None = None
    effect: Money | None = None


class TierFields(Form):
    scope: FormId | None = None
    threshold: Money | None = None
    rebate: Money | None = None


def _rows(form: Mapping[str, Any], kind: type[Form], prefix: str, names: Mapping[str, str]) -> list[tuple[int, Any]]:
    """The filled rows of a table form (`<field>-<n>`), typed; a value that cannot be read is
    refused next to its row's field (`<prefix>/<n>/<name>`)."""
    rows, errors = [], {}
    for position in range(ROWS_MAX):
        raw = {name: form[key] for name in kind.__struct_fields__ if (key := f"{name}-{position}") in form}
        if not raw:
            continue
        try:
            rows.append((position, msgspec.convert(raw, kind, strict=False, dec_hook=decode_hook)))
        except msgspec.ValidationError as problem:
            text, _, where = str(problem).partition(" - at `$.")
            errors[f"{prefix}/{position}/{names.get(where.rstrip('`'), '')}"] = friendly(text)
    if errors:
        raise Refused(gettext("Please correct the marked fields."), errors=errors)
    return rows


class AgreementForm(Form):
    """The agreement form. `basics` is sent when the draft-only fields are on the form."""

    messages: ClassVar[dict[str, str]] = Translated(
        {
            "company_id": N_("Choose the company."),
            "price_list": N_("Choose one of the price lists."),
            "period": N_("Choose the settlement period."),
            "tier_mode": N_("Choose how tiers work."),
            "skonto_pct": N_("Enter a percentage, e.g. 2 or 1.5."),
            "skonto_days": N_("Enter a whole number of days."),
            "categories": N_("Choose categories from the list."),
        }
    )
    basics: Flag | None = None
    number: Number = ""
    company_id: FormId | None = None
    """Not `company`: a form field named like a dependency of the app would be read as one."""
    valid_from: Day | None = None
    period: SettlementPeriod | None = None
    tier_mode: TierMode | None = None
    price_list: FormId | None = None
    valid_to: Day | None = None
    special_terms: Terms = ""
    skonto_pct: Money | None = None
    skonto_days: WholeNumber | None = None
    assortment_blocking: Flag | None = None
    categories: IdList = msgspec.field(default_factory=IdList)
    skus: Skus = ""

    def record(self, form: Mapping[str, Any]) -> AgreementRecord:
        names = {"days": "days", "effect": "price_effect_pct"}
        payments = _rows(form, PaymentFields, "payment_options", names)
        basics = None
        if self.basics is not None:
            basics = Basics(self.number, self.company_id, self.valid_from, self.period, self.tier_mode, self.price_list)
        return AgreementRecord(
            basics=basics,
            valid_to=self.valid_to,
            special_terms=self.special_terms,
            skonto_pct=self.skonto_pct,
            skonto_days=self.skonto_days,
            assortment_blocking=self.assortment_blocking is not None,
            payment_options=tuple(_payment(position, row) for position, row in payments),
            category_ids=tuple(dict.fromkeys(self.categories)),
            skus=agreements_admin.parse_skus(self.skus),
        )


def _payment(position: int, row: PaymentFields) -> PaymentRow:
    if row.days is None:
        raise Refused(gettext("Enter the days (0: prepayment)."), f"payment_options/{position}/days")
    return PaymentRow(row.days, row.effect if row.effect is not None else Money("0"), position)


class TiersForm(Form):
    applies_from: Day

    def rows(self, form: Mapping[str, Any]) -> list[TierRow]:
        names = {"scope": "category", "threshold": "threshold", "rebate": "rebate_pct"}
        read = _rows(form, TierFields, "tiers", names)
        missing = {
            f"tiers/{position}/{'threshold' if row.threshold is None else 'rebate_pct'}": gettext(
                "Enter both the threshold and the rebate %, or leave the row empty."
            )
            for position, row in read
            if row.threshold is None or row.rebate is None
        }
        if missing:
            raise Refused(gettext("Please correct the marked fields."), errors=missing)
        return [TierRow(row.scope, row.threshold, row.rebate, position) for position, row in read]


class ActivateForm(Form):
    messages: ClassVar[dict[str, str]] = Translated({"confirm": N_("Tick the box to confirm.")})
    confirm: Flag


class EndForm(Form):
    messages: ClassVar[dict[str, str]] = Translated({"ends_on": N_("Enter the last day of the agreement.")})
    ends_on: Day


def agreement_query(
    q: FromQuery[QueryText] = "",
    sort: FromQuery[SortKey] = "",
    direction: FromQuery[Literal["asc", "desc"]] = "asc",
    page: FromQuery[PageNo] = 1,
    company: FromQuery[MaybeId] = None,
    status: FromQuery[Literal["draft", "active", "ended"] | None] = None,
) -> ListQuery:
    """`?q=…&company=3&status=active&sort=valid_from&direction=desc&page=2`."""
    return list_query(q, sort, direction, page).with_filters(company=company, status=status or "")


# Values shown in the forms: the agreement's, or what was typed.
def _amount(value: Any) -> str:
    return "" if value is None else audit.as_text(value) or ""


def agreement_values(found: Agreement | None, company_id: int | None, skus: Mapping[int, str]) -> dict[str, Any]:
    if found is None:
        return {
            "company_id": str(company_id or ""),
            "period": "quarter",
            "tier_mode": "retrospective",
            "categories": [],
        }
    values: dict[str, Any] = {
        "number": found.number,
        "company_id": str(found.company_id),
        "valid_from": found.valid_from.isoformat(),
        "valid_to": found.valid_to.isoformat() if found.valid_to else "",
        "period": found.period.value,
        "tier_mode": found.tier_mode.value,
        "price_list": str(found.price_list_id or ""),
        "special_terms": found.special_terms,
        "skonto_pct": _amount(found.skonto_pct),
        "skonto_days": str(found.skonto_days or ""),
        "assortment_blocking": found.assortment_blocking,
        "categories": [str(item.category_id) for item in found.assortment if item.category_id],
        "skus": "\n".join(skus.get(item.product_id, "") for item in found.assortment if item.product_id),
    }
    for position, option in enumerate(found.payment_options):
        values[f"days-{position}"] = str(option.days)
        values[f"effect-{position}"] = _amount(option.price_effect_pct)
    return values


def _entered(refusal: Refusal) -> dict[str, Any]:
    values: dict[str, Any] = {name: value for name, value in refusal.entered.items() if isinstance(value, str)}
    chosen = refusal.entered.get("categories", [])
    values["categories"] = chosen if isinstance(chosen, list) else [chosen]
    return values


def _row_count(values: Mapping[str, Any], prefix: str, empty: int) -> int:
    filled = [
        int(match.group(1)) for key in values if (match := re.fullmatch(re.escape(prefix) + r"([0-9]{1,3})", key))
    ]
    return max(filled, default=-1) + 1 + empty


async def form_page(
    request: PortalRequest,
    db_session: AsyncSession,
    agreement_id: int | None,
    refusal: Refusal | None = None,
    company_id: int | None = None,
) -> Template:
    """The new-agreement form (`agreement_id` None; for `company_id` when given) or an agreement's edit form."""
    found = await agreements_admin.agreement(db_session, agreement_id) if agreement_id is not None else None
    products = [item.product_id for item in found.assortment if item.product_id] if found else []
    names = await agreements_admin.load_names(db_session, products)
    values = _entered(refusal) if refusal is not None else agreement_values(found, company_id, names.skus)
    context = {
        "agreement": found,
        "draft": found is None or found.status is AgreementStatus.DRAFT,
        "choices": await agreements_admin.form_choices(db_session),
        "values": values,
        "payment_rows": range(_row_count(values, "days-", PAYMENT_ROWS_EMPTY)),
        "errors": refusal.errors if refusal else {},
        "message": refusal.message if refusal else "",
    }
    return render(request, "admin/agreements/form.html", context, status_code=refusal.status_code if refusal else 200)


async def new_again(request: PortalRequest, db_session: AsyncSession, refusal: Refusal) -> Response[Any]:
    return await form_page(request, db_session, None, refusal)


async def edit_again(request: PortalRequest, db_session: AsyncSession, refusal: Refusal) -> Response[Any]:
    return await form_page(request, db_session, path_id(request.path_params["agreement_id"]), refusal)


async def detail_page(
    request: PortalRequest, db_session: AsyncSession, agreement_id: int, refusal: Refusal | None = None
) -> Template:
    """The agreement page; after a refused activation or end, the message next to its form."""
    found = await agreements_admin.agreement(db_session, agreement_id)
    names = await agreements_admin.load_names(db_session, [i.product_id for i in found.assortment if i.product_id])
    context = {
        "agreement": found,
        "sets": sorted(_tier_sets(found, names.categories).items(), reverse=True),
        "names": names,
        "history": await audit.history(db_session, "agreement", found.id),
        "errors": refusal.errors if refusal else {},
        "message": refusal.message if refusal else "",
        "entered": _entered(refusal) if refusal else {},
    }
    return render(request, "admin/agreements/show.html", context, status_code=refusal.status_code if refusal else 200)


def _tier_sets(found: Agreement, categories: Mapping[int, str]) -> dict[date, list[dict[str, Any]]]:
    return {
        start: [
            {
                "scope": categories.get(tier.category_id, "") if tier.category_id else "",
                "threshold": tier.threshold,
                "rebate_pct": tier.rebate_pct,
            }
            for tier in sorted(tiers, key=lambda tier: (tier.category_id or 0, tier.threshold))
        ]
        for start, tiers in agreements.tier_sets(found).items()
    }


async def detail_again(request: PortalRequest, db_session: AsyncSession, refusal: Refusal) -> Response[Any]:
    return await detail_page(request, db_session, path_id(request.path_params["agreement_id"]), refusal)


async def tiers_page(
    request: PortalRequest,
    db_session: AsyncSession,
    agreement_id: int,
    today: date,
    start: date | None = None,
    refusal: Refusal | None = None,
) -> Template:
    """The tiers editor for the set applying from `start` (default: the current open period)."""
    found = await agreements_admin.agreement(db_session, agreement_id)
    starts = agreements_admin.open_starts(found)
    chosen = start or agreements_admin.default_start(found, today)
    if refusal is not None:
        values = {name: value for name, value in refusal.entered.items() if isinstance(value, str)}
    else:
        values = {"applies_from": chosen.isoformat() if chosen else ""}
        for position, tier in enumerate(agreements_admin.tier_set(found, chosen) if chosen else []):
            values[f"scope-{position}"] = str(tier.category_id or "")
            values[f"threshold-{position}"] = _amount(tier.threshold)
            values[f"rebate-{position}"] = _amount(tier.rebate_pct)
    context = {
        "agreement": found,
        "starts": [day.isoformat() for day in starts],
        "values": values,
        "rows": range(_row_count(values, "threshold-", TIER_ROWS_EMPTY)),
        "categories": (await agreements_admin.form_choices(db_session)).categories,
        "errors": refusal.errors if refusal else {},
        "message": refusal.message if refusal else "",
    }
    return render(request, "admin/agreements/tiers.html", context, status_code=refusal.status_code if refusal else 200)


async def tiers_again(request: PortalRequest, db_session: AsyncSession, refusal: Refusal) -> Response[Any]:
    agreement_id = path_id(request.path_params["agreement_id"])
    return await tiers_page(request, db_session, agreement_id, seller_today(request), refusal=refusal)


def _to_agreement(request: PortalRequest, agreement_id: int, message: str) -> Redirect:
    flash(request, message, "success")
    return Redirect(request.app.route_reverse("admin_agreement", agreement_id=agreement_id), status_code=303)


class AgreementsController(Controller):
    path = "/admin/agreements"
    guards = [admins_only]

    @get("/", name="admin_agreements", dependencies={"wanted": Provide(agreement_query, sync_to_thread=False)})
    async def agreements(
        self, request: PortalRequest, db_session: NamedDependency[AsyncSession], wanted: NamedDependency[ListQuery]
    ) -> Template:
        found = await agreements_admin.agreement_list(db_session, wanted)
        companies = (await agreements_admin.form_choices(db_session)).companies
        return render(request, "admin/agreements/index.html", {"found": found, "companies": companies})

    @get("/new", name="new_agreement")
    async def new(
        self, request: PortalRequest, db_session: NamedDependency[AsyncSession], for_company: CompanyQuery = None
    ) -> Template:
        return await form_page(request, db_session, None, company_id=for_company)

    @post("/new", name="create_agreement", opt={"form": new_again})
    async def create(
        self, request: PortalRequest, db_session: NamedDependency[AsyncSession], data: URLEncodedBody[AgreementForm]
    ) -> Redirect:
        record = data.record(await request.form())
        made = await agreements_admin.save_agreement(db_session, request.user, None, record)
        return _to_agreement(
            request, made.id, gettext("Agreement %(number)s created as a draft.") % {"number": made.number}
        )

    @get("/{agreement_id:int}", name="admin_agreement")
    async def agreement(
        self, request: PortalRequest, db_session: NamedDependency[AsyncSession], agreement_id: FromPath[Id]
    ) -> Template:
        return await detail_page(request, db_session, agreement_id)

    @get("/{agreement_id:int}/edit", name="edit_agreement_form")
    async def edit_form(
        self, request: PortalRequest, db_session: NamedDependency[AsyncSession], agreement_id: FromPath[Id]
    ) -> Template:
        return await form_page(request, db_session, agreement_id)

    @post("/{agreement_id:int}/edit", name="edit_agreement", opt={"form": edit_again})
    async def edit(
        self,
        request: PortalRequest,
        db_session: NamedDependency[AsyncSession],
        agreement_id: FromPath[Id],
        data: URLEncodedBody[AgreementForm],
    ) -> Redirect:
        record = data.record(await request.form())
        await agreements_admin.save_agreement(db_session, request.user, agreement_id, record)
        return _to_agreement(request, agreement_id, gettext("Agreement saved."))

    @get("/{agreement_id:int}/tiers", name="agreement_tiers_form")
    async def tiers_form(
        self,
        request: PortalRequest,
        db_session: NamedDependency[AsyncSession],
        agreement_id: FromPath[Id],
        today: NamedDependency[date],
        start: FromQuery[Day | None] = None,
    ) -> Template:
        return await tiers_page(request, db_session, agreement_id, today, start)

    @post("/{agreement_id:int}/tiers", name="save_agreement_tiers", opt={"form": tiers_again})
    async def save_tiers(
        self,
        request: PortalRequest,
        db_session: NamedDependency[AsyncSession],
        agreement_id: FromPath[Id],
        data: URLEncodedBody[TiersForm],
    ) -> Redirect:
        rows = data.rows(await request.form())
        await agreements_admin.save_tiers(db_session, request.user, agreement_id, data.applies_from, rows)
        said = gettext("Tiers from %(day)s saved.") % {"day": data.applies_from.isoformat()}
        return _to_agreement(request, agreement_id, said)

    @post("/{agreement_id:int}/activate", name="activate_agreement", opt={"form": detail_again})
    async def activate(
        self,
        request: PortalRequest,
        db_session: NamedDependency[AsyncSession],
        agreement_id: FromPath[Id],
        data: URLEncodedBody[ActivateForm],
    ) -> Redirect:
        found = await agreements_admin.activate(db_session, request.user, agreement_id)
        return _to_agreement(
            request, agreement_id, gettext("Agreement %(number)s is active.") % {"number": found.number}
        )

    @post("/{agreement_id:int}/end", name="end_agreement", opt={"form": detail_again})
    async def end(
        self,
        request: PortalRequest,
        db_session: NamedDependency[AsyncSession],
        agreement_id: FromPath[Id],
        data: URLEncodedBody[EndForm],
    ) -> Redirect:
        found = await agreements_admin.end(db_session, request.user, agreement_id, data.ends_on)
        return _to_agreement(
            request, agreement_id, gettext("Agreement %(number)s has ended.") % {"number": found.number}
        )
