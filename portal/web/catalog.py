"""The catalog with the prices of the company in view: search as you type, a
product's break table, and the company's price list as CSV."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Response, get
from litestar.di import NamedDependency, Provide
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from litestar.response import Template
from sqlalchemy.ext.asyncio import AsyncSession

from portal.i18n import gettext
from portal.models import Company, Role
from portal.services import catalog, customers, lists
from portal.services.catalog import CatalogQuery
from portal.web import formatting
from portal.web.context import PortalRequest, is_partial, query_params, seller_today
from portal.web.downloads import csv_download
from portal.web.guards import allow

CSV_COLUMNS = ("SKU", "Name", "Unit", "Min qty", "Net unit price", "Currency", "Valid to", "Source")


async def provide_customer(request: PortalRequest, db_session: NamedDependency[AsyncSession]) -> Company | None:
    """The company whose prices the page shows: a buyer's own, or the one staff chose
    (?company=ID). None: staff have not chosen yet. Not theirs to see: 404."""
    raw = query_params(request).get("company", "")
    company_id = int(raw) if raw.isdigit() and len(raw) < 10 else None
    if request.user.role is not Role.BUYER and company_id is None:
        if raw:
            raise NotFoundException()
        return None
    company = await customers.viewable_company(db_session, request.user, company_id)
    if company is None:
        raise NotFoundException()
    return company


def _view_params(request: PortalRequest, company: Company) -> dict[str, Any]:
    """What every catalog link carries: staff keep the company they are looking through."""
    return {} if request.user.role is Role.BUYER else {"company": company.id}


class CatalogController(Controller):
    path = "/catalog"
    guards = [allow(Role.BUYER, Role.ACCOUNT_MANAGER, Role.ADMIN)]
    dependencies = {"customer": Provide(provide_customer)}

    @get("/", name="catalog")
    async def index(
        self, request: PortalRequest, db_session: NamedDependency[AsyncSession], customer: NamedDependency[Company | None]
    ) -> Template:
        if customer is None:
            companies = await customers.viewable_companies(db_session, request.user)
            return Template("catalog/choose_company.html", context={"companies": companies})
        page = await catalog.browse(db_session, customer, CatalogQuery.parse(query_params(request)), seller_today(request))
        company_lists = await lists.company_lists(db_session, customer.id) if request.user.role is Role.BUYER else []
        template = "catalog/_partials/results.html" if is_partial(request) else "catalog/index.html"
        return Template(
            template,
            context={"page": page, "company": customer, "view": _view_params(request, customer),
                     "lists": company_lists},
            headers={"Vary": "HX-Request"},
        )

    @get("/products/{product_id:int}", name="product")
    async def product(
        self,
        request: PortalRequest,
        db_session: NamedDependency[AsyncSession],
        customer: NamedDependency[Company | None],
        product_id: FromPath[int],
    ) -> Template:
        detail = customer and await catalog.product_detail(db_session, customer, product_id, seller_today(request))
        if not detail:
            raise NotFoundException()
        company_lists = await lists.company_lists(db_session, customer.id) if request.user.role is Role.BUYER else []
        return Template(
            "catalog/product.html",
            context={"detail": detail, "company": customer, "view": _view_params(request, customer),
                     "lists": company_lists},
        )

    @get("/price-list.csv", name="price_list_csv")
    async def price_list_csv(
        self, request: PortalRequest, db_session: NamedDependency[AsyncSession], customer: NamedDependency[Company | None]
    ) -> Response[bytes]:
        if customer is None:
            raise NotFoundException()
        today = seller_today(request)
        lines = await catalog.price_list(db_session, customer, today)
        rows = (
            [
                line.product.sku,
                line.product.name,
                line.product.unit,
                line.price.min_quantity,
                f"{line.price.unit_price:.4f}",
                line.price.currency,
                line.price.valid_to.isoformat() if line.price.valid_to else "",
                formatting.price_source(line.price, line.product.unit),
            ]
            for line in lines
        )
        return csv_download(f"price-list-{customer.tax_id}-{today.isoformat()}.csv",
                            [gettext(column) for column in CSV_COLUMNS], rows)


