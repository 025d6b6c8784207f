"""The catalog with the prices of the company in view: search as you type, a
product's break table, and the company's price list as CSV.

Every query value is typed and bounded (`catalog_query`): a value outside them answers
400 saying which. Staff look through a customer's eyes with `?company=ID`; a company that
is not theirs to see answers 404, as one that does not exist. Those who may order for the
customer (`order_for_customer`) add to the cart they keep for it (`web/ordering.py`)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import Annotated, Any

from litestar import Controller, Response, get
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, FromQuery, QueryParameter
from litestar.response import Template
from sqlalchemy.ext.asyncio import AsyncSession

from portal.errors import NotFound
from portal.i18n import N_, gettext
from portal.models import Company, Role, User
from portal.services import catalog, customers
from portal.services.catalog import CatalogPage, CatalogQuery, PerPage, PriceListLine, ProductDetail, Sort
from portal.services.pricing import UNIT_PRICE_PLACES
from portal.web import formatting
from portal.web.context import PortalRequest, render
from portal.web.downloads import Flavour, FlavourChoice, csv_download
from portal.web.guards import allow
from portal.web.inputs import MAX_ID, Id, PageNo, QueryText
from portal.web.ordering import ordering_links
from portal.web.permissions import can

CSV_COLUMNS = (
    N_("SKU"),
    N_("Name"),
    N_("Unit"),
    N_("Min qty"),
    N_("Net unit price"),
    N_("Currency"),
    N_("Valid to"),
    N_("Source"),
)

OptionalId = Annotated[int | None, QueryParameter(ge=1, le=MAX_ID)]
CompanyChoice = Annotated[int | None, QueryParameter(name="company", ge=1, le=MAX_ID)]


async def provide_customer(
    request: PortalRequest,
    db_session: NamedDependency[AsyncSession],
    today: NamedDependency[date],
    company_id: CompanyChoice = None,
) -> Company | None:
    """The company whose prices the page shows: a buyer's own, or the one staff chose
    (?company=ID), if they see it (their own customers and those they cover). None: staff
    have not chosen yet. Not theirs to see: 404."""
    return await customers.company_in_view(db_session, request.user, company_id, today)


def provide_chosen_customer(customer: NamedDependency[Company | None]) -> Company:
    """The company in view, for pages that need one: before staff chose, there is nothing to show."""
    if customer is None:
        raise NotFound()
    return customer


def catalog_query(
    q: QueryText = "",
    category: OptionalId = None,
    sort: FromQuery[Sort] = Sort.NAME,
    page: PageNo = 1,
    per_page: FromQuery[PerPage] = 20,
) -> CatalogQuery:
    return CatalogQuery(text=q, category_id=category, sort=sort, page=page, per_page=per_page)


def _view_params(user: User, company: Company) -> dict[str, Any]:
    """What every catalog link carries: staff keep the company they are looking through."""
    return {} if can(user, "buy") else {"company": company.id}


def _price_list_rows(lines: Iterable[PriceListLine]) -> Iterable[list[Any]]:
    for line in lines:
        product, price = line.product, line.price
        yield [
            product.sku,
            product.name,
            product.unit,
            price.min_quantity,
            price.unit_price.quantize(UNIT_PRICE_PLACES),
            price.currency,
            price.valid_to.isoformat() if price.valid_to else "",
            formatting.price_source(price, product.unit),
        ]


def _results_page(request: PortalRequest, page: CatalogPage, company: Company) -> Template:
    """The catalog page, or for htmx (search as you type, paging) only its results."""
    context = {
        "page": page,
        "company": company,
        "view": _view_params(request.user, company),
        "max_query_length": catalog.MAX_QUERY_LENGTH,
        **ordering_links(request, company),
    }
    return render(request, "catalog/index.html", context, partial="catalog/_partials/results.html")


def _product_page(request: PortalRequest, detail: ProductDetail, company: Company) -> Template:
    context = {"detail": detail, "company": company, "view": _view_params(request.user, company)}
    return Template("catalog/product.html", context={**context, **ordering_links(request, company)})


class CatalogController(Controller):
    path = "/catalog"
    guards = [allow(Role.BUYER, Role.ACCOUNT_MANAGER, Role.ADMIN)]
    dependencies = {
        "customer": Provide(provide_customer),
        "chosen": Provide(provide_chosen_customer, sync_to_thread=False),
    }

    @get("/", name="catalog", dependencies={"wanted": Provide(catalog_query, sync_to_thread=False)})
    async def index(
        self,
        request: PortalRequest,
        db_session: NamedDependency[AsyncSession],
        customer: NamedDependency[Company | None],
        wanted: NamedDependency[CatalogQuery],
        today: NamedDependency[date],
    ) -> Template:
        if customer is None:
            companies = await customers.viewable_companies(db_session, request.user, today)
            return Template("catalog/choose_company.html", context={"companies": companies})
        page = await catalog.browse(db_session, customer, wanted, today, with_lists=can(request.user, "buy"))
        return _results_page(request, page, customer)

    @get("/products/{product_id:int}", name="product")
    async def product(
        self,
        request: PortalRequest,
        db_session: NamedDependency[AsyncSession],
        chosen: NamedDependency[Company],
        product_id: FromPath[Id],
        today: NamedDependency[date],
    ) -> Template:
        detail = await catalog.product_detail(
            db_session, chosen, product_id, today, with_lists=can(request.user, "buy")
        )
        return _product_page(request, detail, chosen)

    @get("/price-list.csv", name="price_list_csv")
    async def price_list_csv(
        self,
        db_session: NamedDependency[AsyncSession],
        chosen: NamedDependency[Company],
        today: NamedDependency[date],
        flavour: FlavourChoice = None,
    ) -> Response[bytes]:
        lines = await catalog.price_list(db_session, chosen, today)
        return csv_download(
            f"price-list-{chosen.tax_id}-{today.isoformat()}.csv",
            [gettext(column) for column in CSV_COLUMNS],
            _price_list_rows(lines),
            flavour=Flavour.chosen(flavour),
        )
