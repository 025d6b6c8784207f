"""Admin: companies with their terms, delivery terms and addresses: the list (search, filters,
sorting, pages), the company page (addresses, buyers, history), creating and editing a company,
deactivating and reactivating it, and its addresses (add, edit, make default, retire).

Every form is a typed struct whose values the service checks (`companies_admin.check`, the same
check the CSV import and the API use); a refused form comes back on its page with each message
next to its field and what was typed kept (400), nothing saved."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated, Any, ClassVar, Literal

import msgspec
from litestar import Controller, Response, get, post
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, FromQuery, URLEncodedBody
from litestar.plugins.flash import flash
from litestar.response import Redirect, Template
from sqlalchemy.ext.asyncio import AsyncSession

from portal.errors import Refused
from portal.i18n import N_, gettext
from portal.models import Address, Company
from portal.services import audit, companies_admin
from portal.services.companies_admin import AddressRecord, CompanyRecord
from portal.services.listing import ListQuery
from portal.web.admin.listing import SortKey, list_query
from portal.web.context import PortalRequest, render
from portal.web.errors import Refusal
from portal.web.guards import admins_only
from portal.web.inputs import Flag, Form, FormId, Id, MaybeId, Money, PageNo, QueryText, Text, Translated, path_id

WEEKDAY_FIELDS = tuple(f"weekday_{day}" for day in companies_admin.WEEKDAYS)
Days = Annotated[int, msgspec.Meta(ge=-1_000_000, le=1_000_000)]
"""Read as a number here; its range is the service's to check, with its own message."""
Name = Annotated[Text, msgspec.Meta(max_length=companies_admin.NAME_MAX)]
TaxId = Annotated[Text, msgspec.Meta(max_length=companies_admin.TAX_ID_MAX)]
Short = Annotated[Text, msgspec.Meta(max_length=10)]
Label = Annotated[Text, msgspec.Meta(max_length=companies_admin.LABEL_MAX)]
Street = Annotated[Text, msgspec.Meta(max_length=companies_admin.STREET_MAX)]
PostalCode = Annotated[Text, msgspec.Meta(max_length=companies_admin.POSTAL_CODE_MAX)]
City = Annotated[Text, msgspec.Meta(max_length=companies_admin.CITY_MAX)]


class CompanyForm(Form):
    """Every field of the company form; ranges and the rest are checked by the service."""

    messages: ClassVar[dict[str, str]] = Translated(
        {
            "payment_terms_days": N_("Enter 0 to 365 days."),
            "price_list_id": N_("Choose one of the price lists."),
            "account_manager_id": N_("Choose one of the account managers."),
            "general_discount_pct": N_("Enter a percentage from 0 to 99.99, with at most 2 decimals."),
            "margin_floor_pct": N_("Enter a percentage from 0 to 100, with at most 2 decimals, or leave it empty."),
            "order_cutoff": N_("Enter the time as HH:MM, e.g. 14:30."),
        }
    )
    name: Name
    tax_id: TaxId
    payment_terms_days: Days = 30
    currency: Short = "PLN"
    price_list_id: FormId | None = None
    general_discount_pct: Money = Money("0")
    po_number_required: Flag | None = None
    auto_approve: Flag | None = None
    allow_backorders: Flag | None = None
    margin_floor_pct: Money | None = None
    account_manager_id: FormId | None = None
    weekday_1: Flag | None = None
    weekday_2: Flag | None = None
    weekday_3: Flag | None = None
    weekday_4: Flag | None = None
    weekday_5: Flag | None = None
    weekday_6: Flag | None = None
    weekday_7: Flag | None = None
    order_cutoff: Short | None = None
    min_order_value: Money = Money("0")
    delivery_fee: Money = Money("0")
    free_delivery_from: Money | None = None

    def record(self) -> CompanyRecord:
        """The record the service checks; a cut-off that is no time is refused next to its field."""
        cutoff = companies_admin.parse_cutoff(self.order_cutoff) if self.order_cutoff else None
        if self.order_cutoff and cutoff is None:
            raise Refused(gettext("Enter the time as HH:MM, e.g. 14:30."), "order_cutoff")
        days = "".join(
            day for day, name in zip(companies_admin.WEEKDAYS, WEEKDAY_FIELDS, strict=True) if getattr(self, name)
        )
        return CompanyRecord(
            name=self.name,
            tax_id=self.tax_id,
            payment_terms_days=self.payment_terms_days,
            currency=self.currency,
            price_list_id=self.price_list_id,
            general_discount_pct=Decimal(self.general_discount_pct),
            po_number_required=self.po_number_required is not None,
            auto_approve=self.auto_approve is not None,
            allow_backorders=self.allow_backorders is not None,
            margin_floor_pct=Decimal(self.margin_floor_pct) if self.margin_floor_pct is not None else None,
            account_manager_id=self.account_manager_id,
            delivery_weekdays=days,
            order_cutoff=cutoff,
            min_order_value=Decimal(self.min_order_value),
            delivery_fee=Decimal(self.delivery_fee),
            free_delivery_from=Decimal(self.free_delivery_from) if self.free_delivery_from is not None else None,
        )


class AddressForm(Form):
    label: Label
    street: Street
    postal_code: PostalCode
    city: City
    country_code: Short = "PL"

    def record(self) -> AddressRecord:
        return AddressRecord(self.label, self.street, self.postal_code, self.city, self.country_code)


class ConfirmForm(Form):
    messages: ClassVar[dict[str, str]] = Translated({"confirm": N_("Tick the box to confirm.")})
    confirm: Flag


# The list's query: search, sorting, page and the list's own filters.
def company_query(
    q: FromQuery[QueryText] = "",
    sort: FromQuery[SortKey] = "",
    direction: FromQuery[Literal["asc", "desc"]] = "asc",
    page: FromQuery[PageNo] = 1,
    status: FromQuery[Literal["active", "inactive"] | None] = None,
    manager: FromQuery[MaybeId] = None,
    unassigned: FromQuery[bool] = False,
) -> ListQuery:
    """`?q=…&status=active&manager=3&unassigned=true&sort=manager&direction=desc&page=2`."""
    query = list_query(q, sort, direction, page)
    return query.with_filters(status=status or "", manager=manager, unassigned="true" if unassigned else "")


# Values shown in the company form: the company's, the defaults, or what was typed.
def _amount(value: Decimal | None) -> str:
    return "" if value is None else f"{value:.2f}"


def company_values(company: Company | None) -> dict[str, Any]:
    record = companies_admin.record_of(company) if company is not None else CompanyRecord(name="", tax_id="")
    values: dict[str, Any] = {
        "name": record.name,
        "tax_id": record.tax_id,
        "payment_terms_days": str(record.payment_terms_days),
        "currency": record.currency,
        "price_list_id": str(record.price_list_id or ""),
        "general_discount_pct": _amount(record.general_discount_pct),
        "po_number_required": record.po_number_required,
        "auto_approve": record.auto_approve,
        "allow_backorders": record.allow_backorders,
        "margin_floor_pct": _amount(record.margin_floor_pct),
        "account_manager_id": str(record.account_manager_id or ""),
        "order_cutoff": record.order_cutoff.strftime("%H:%M") if record.order_cutoff else "",
        "min_order_value": _amount(record.min_order_value),
        "delivery_fee": _amount(record.delivery_fee),
        "free_delivery_from": _amount(record.free_delivery_from),
    }
    values.update(
        {
            name: day in record.delivery_weekdays
            for day, name in zip(companies_admin.WEEKDAYS, WEEKDAY_FIELDS, strict=True)
        }
    )
    return values


def _entered(refusal: Refusal) -> dict[str, Any]:
    return {name: value for name, value in refusal.entered.items() if isinstance(value, str)}


async def company_form_page(
    request: PortalRequest, db_session: AsyncSession, company_id: int | None, refusal: Refusal | None = None
) -> Template:
    """The new-company form (`company_id` None) or a company's edit form; after a refusal, what was typed."""
    company = await companies_admin.company(db_session, company_id) if company_id is not None else None
    choices = await companies_admin.company_choices(db_session)
    values = _entered(refusal) if refusal is not None else company_values(company)
    context = {
        "company": company,
        "choices": choices,
        "values": values,
        "errors": refusal.errors if refusal else {},
        "message": refusal.message if refusal else "",
        "weekdays": list(zip(WEEKDAY_FIELDS, weekday_names(), strict=True)),
    }
    return render(request, "admin/companies/form.html", context, status_code=refusal.status_code if refusal else 200)


def weekday_names() -> list[str]:
    return [
        gettext("Mon"),
        gettext("Tue"),
        gettext("Wed"),
        gettext("Thu"),
        gettext("Fri"),
        gettext("Sat"),
        gettext("Sun"),
    ]


async def new_again(request: PortalRequest, db_session: AsyncSession, refusal: Refusal) -> Response[Any]:
    return await company_form_page(request, db_session, None, refusal)


async def edit_again(request: PortalRequest, db_session: AsyncSession, refusal: Refusal) -> Response[Any]:
    return await company_form_page(request, db_session, path_id(request.path_params["company_id"]), refusal)


async def detail_page(
    request: PortalRequest, db_session: AsyncSession, company_id: int, refusal: Refusal | None = None
) -> Template:
    """The company page; after a refused address or confirmation, the message next to its field."""
    page = await companies_admin.company_page(db_session, company_id)
    is_address = request.route_handler.name == "add_address"
    context = {
        "page": page,
        "company": page.company,
        "errors": refusal.errors if refusal else {},
        "message": refusal.message if refusal else "",
        "address": _entered(refusal) if refusal is not None and is_address else {"country_code": "PL"},
        "weekdays": dict(zip(companies_admin.WEEKDAYS, weekday_names(), strict=True)),
    }
    return render(request, "admin/companies/show.html", context, status_code=refusal.status_code if refusal else 200)


async def detail_again(request: PortalRequest, db_session: AsyncSession, refusal: Refusal) -> Response[Any]:
    return await detail_page(request, db_session, path_id(request.path_params["company_id"]), refusal)


async def address_page(
    request: PortalRequest, db_session: AsyncSession, company_id: int, address_id: int, refusal: Refusal | None = None
) -> Template:
    company = await companies_admin.company(db_session, company_id)
    address = await companies_admin.company_address(db_session, company_id, address_id)
    values = _entered(refusal) if refusal is not None else audit.snapshot(address, companies_admin.ADDRESS_FIELDS)
    context = {"company": company, "address": address, "values": values, "errors": refusal.errors if refusal else {}}
    return render(request, "admin/companies/address.html", context, status_code=refusal.status_code if refusal else 200)


async def address_again(request: PortalRequest, db_session: AsyncSession, refusal: Refusal) -> Response[Any]:
    ids = request.path_params
    company_id, address_id = path_id(ids["company_id"]), path_id(ids["address_id"])
    return await address_page(request, db_session, company_id, address_id, refusal)


def _to_company(request: PortalRequest, company_id: int, message: str) -> Redirect:
    flash(request, message, "success")
    return Redirect(request.app.route_reverse("admin_company", company_id=company_id), status_code=303)


def _retired_message(address: Address | None, deleted: bool) -> str:
    said = (
        gettext("Address deleted (nothing used it).")
        if deleted
        else gettext("Address retired: orders keep it, checkout no longer offers it.")
    )
    if address is not None:
        said += " " + gettext("%(label)s is the default address now.") % {"label": address.label}
    return said


class CompaniesController(Controller):
    path = "/admin"
    guards = [admins_only]

    @get("/companies", name="admin_companies", dependencies={"wanted": Provide(company_query, sync_to_thread=False)})
    async def companies(
        self, request: PortalRequest, db_session: NamedDependency[AsyncSession], wanted: NamedDependency[ListQuery]
    ) -> Template:
        found = await companies_admin.company_list(db_session, wanted)
        managers = await companies_admin.account_managers(db_session, active_only=False)
        return render(request, "admin/companies/index.html", {"found": found, "wanted": wanted, "managers": managers})

    @get("/companies/new", name="new_company")
    async def new(self, request: PortalRequest, db_session: NamedDependency[AsyncSession]) -> Template:
        return await company_form_page(request, db_session, None)

    @post("/companies/new", name="create_company", opt={"form": new_again})
    async def create(
        self, request: PortalRequest, db_session: NamedDependency[AsyncSession], data: URLEncodedBody[CompanyForm]
    ) -> Redirect:
        company = await companies_admin.save_company(db_session, request.user, None, data.record())
        return _to_company(request, company.id, gettext("Company %(name)s created.") % {"name": company.name})

    @get("/companies/{company_id:int}", name="admin_company")
    async def company(
        self, request: PortalRequest, db_session: NamedDependency[AsyncSession], company_id: FromPath[Id]
    ) -> Template:
        return await detail_page(request, db_session, company_id)

    @get("/companies/{company_id:int}/edit", name="edit_company_form")
    async def edit_form(
        self, request: PortalRequest, db_session: NamedDependency[AsyncSession], company_id: FromPath[Id]
    ) -> Template:
        return await company_form_page(request, db_session, company_id)

    @post("/companies/{company_id:int}/edit", name="edit_company", opt={"form": edit_again})
    async def edit(
        self,
        request: PortalRequest,
        db_session: NamedDependency[AsyncSession],
        company_id: FromPath[Id],
        data: URLEncodedBody[CompanyForm],
    ) -> Redirect:
        await companies_admin.save_company(db_session, request.user, company_id, data.record())
        return _to_company(request, company_id, gettext("Company saved."))

    @post("/companies/{company_id:int}/deactivate", name="deactivate_company", opt={"form": detail_again})
    async def deactivate(
        self,
        request: PortalRequest,
        db_session: NamedDependency[AsyncSession],
        company_id: FromPath[Id],
        data: URLEncodedBody[ConfirmForm],
        today: NamedDependency[date],
    ) -> Redirect:
        await companies_admin.set_active(db_session, request.user, company_id, False, today=today)
        return _to_company(request, company_id, gettext("Company deactivated: its buyers can no longer sign in."))

    @post("/companies/{company_id:int}/reactivate", name="reactivate_company", opt={"form": detail_again})
    async def reactivate(
        self,
        request: PortalRequest,
        db_session: NamedDependency[AsyncSession],
        company_id: FromPath[Id],
        data: URLEncodedBody[ConfirmForm],
        today: NamedDependency[date],
    ) -> Redirect:
        await companies_admin.set_active(db_session, request.user, company_id, True, today=today)
        return _to_company(request, company_id, gettext("Company reactivated: its buyers can sign in again."))

    @post("/companies/{company_id:int}/addresses", name="add_address", opt={"form": detail_again})
    async def add_address(
        self,
        request: PortalRequest,
        db_session: NamedDependency[AsyncSession],
        company_id: FromPath[Id],
        data: URLEncodedBody[AddressForm],
    ) -> Redirect:
        await companies_admin.add_address(db_session, request.user, company_id, data.record())
        return _to_company(request, company_id, gettext("Address added."))

    @get("/companies/{company_id:int}/addresses/{address_id:int}/edit", name="edit_address_form")
    async def edit_address_form(
        self,
        request: PortalRequest,
        db_session: NamedDependency[AsyncSession],
        company_id: FromPath[Id],
        address_id: FromPath[Id],
    ) -> Template:
        return await address_page(request, db_session, company_id, address_id)

    @post(
        "/companies/{company_id:int}/addresses/{address_id:int}/edit", name="edit_address", opt={"form": address_again}
    )
    async def edit_address(
        self,
        request: PortalRequest,
        db_session: NamedDependency[AsyncSession],
        company_id: FromPath[Id],
        address_id: FromPath[Id],
        data: URLEncodedBody[AddressForm],
    ) -> Redirect:
        await companies_admin.edit_address(db_session, request.user, company_id, address_id, data.record())
        return _to_company(request, company_id, gettext("Address saved."))

    @post("/companies/{company_id:int}/addresses/{address_id:int}/default", name="default_address")
    async def default_address(
        self,
        request: PortalRequest,
        db_session: NamedDependency[AsyncSession],
        company_id: FromPath[Id],
        address_id: FromPath[Id],
    ) -> Redirect:
        address = await companies_admin.make_default(db_session, request.user, company_id, address_id)
        return _to_company(
            request, company_id, gettext("%(label)s is the default address now.") % {"label": address.label}
        )

    @post("/companies/{company_id:int}/addresses/{address_id:int}/retire", name="retire_address")
    async def retire_address(
        self,
        request: PortalRequest,
        db_session: NamedDependency[AsyncSession],
        company_id: FromPath[Id],
        address_id: FromPath[Id],
    ) -> Redirect:
        done = await companies_admin.retire_address(db_session, request.user, company_id, address_id)
        return _to_company(request, company_id, _retired_message(done.new_default, done.deleted))
