"""Admin: categories, products, price lists and their items, contract prices.

Every form is a typed struct whose values the services check (`catalogue_admin.product_errors`,
`prices_admin.price_errors`: the same checks the CSV import and the API use); a refused form comes
back on its page with each message next to its field and what was typed kept (400), nothing saved."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any, ClassVar, Literal

import msgspec
from litestar import Controller, Response, get, post
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, FromQuery, Parameter, URLEncodedBody
from litestar.plugins.flash import flash
from litestar.response import Redirect, Template
from sqlalchemy.ext.asyncio import AsyncSession

from portal.i18n import N_, gettext
from portal.models import ContractPrice, PriceListItem, Product
from portal.services import audit, catalogue_admin, prices_admin
from portal.services.catalogue_admin import CategoryRecord, ProductRecord, price_text
from portal.services.listing import ListQuery
from portal.services.prices_admin import PriceListRecord, PriceRecord
from portal.web.admin.listing import SortKey, list_query
from portal.web.context import PortalRequest, render
from portal.web.errors import Refusal
from portal.web.guards import admins_only
from portal.web.inputs import (
    Day,
    Flag,
    Form,
    FormId,
    Id,
    MaybeId,
    Money,
    PageNo,
    QueryText,
    Text,
    Translated,
    UnitPrice,
    path_id,
)

PRICE_MESSAGE = N_("Enter a price such as 12.50, with at most 4 decimals.")
"""Said next to a price the framework could not read (its range is the service's: `price_error`)."""
Whole = Annotated[int, msgspec.Meta(ge=-(2**31), le=2**31 - 1)]
"""Read as a whole number here; its range is the service's to check, with its own message."""
CategoryName = Annotated[Text, msgspec.Meta(max_length=catalogue_admin.CATEGORY_NAME_MAX)]
Sku = Annotated[Text, msgspec.Meta(max_length=catalogue_admin.SKU_MAX)]
ProductName = Annotated[Text, msgspec.Meta(max_length=catalogue_admin.NAME_MAX)]
Description = Annotated[Text, msgspec.Meta(max_length=catalogue_admin.DESCRIPTION_MAX)]
Unit = Annotated[Text, msgspec.Meta(max_length=catalogue_admin.UNIT_MAX)]
ListName = Annotated[Text, msgspec.Meta(max_length=prices_admin.LIST_NAME_MAX)]
ListCode = Annotated[Text, msgspec.Meta(max_length=prices_admin.LIST_CODE_MAX)]
Currency = Annotated[Text, msgspec.Meta(max_length=3)]


def _decimal(value: Decimal | None) -> Decimal | None:
    return Decimal(value) if value is not None else None


class CategoryForm(Form):
    messages: ClassVar[dict[str, str]] = Translated(
        {"margin_floor_pct": N_("Enter a margin floor between 0 and 100 %, or leave it empty.")}
    )
    name: CategoryName
    margin_floor_pct: Money | None = None

    def record(self) -> CategoryRecord:
        return CategoryRecord(self.name, _decimal(self.margin_floor_pct))


class ProductForm(Form):
    messages: ClassVar[dict[str, str]] = Translated(
        {
            "category_id": N_("Choose a category from the list."),
            "vat_rate": N_("The VAT rate is one of 23, 8, 5 or 0 %."),
            "pack_size": N_("The pack size is a whole number from 1 to 10,000."),
            "stock": N_("Stock is a whole number from 0 to 10,000,000."),
            "list_price": PRICE_MESSAGE,
            "cost": PRICE_MESSAGE,
        }
    )
    sku: Sku
    name: ProductName
    category_id: FormId
    list_price: UnitPrice
    cost: UnitPrice
    vat_rate: Money = Money("23")
    unit: Unit = "pcs"
    pack_size: Whole = 1
    stock: Whole = 0
    description: Description = ""
    is_active: Flag | None = None

    def record(self) -> ProductRecord:
        return ProductRecord(
            sku=self.sku,
            name=self.name,
            category_id=self.category_id,
            list_price=Decimal(self.list_price),
            cost=Decimal(self.cost),
            vat_rate=Decimal(self.vat_rate),
            unit=self.unit,
            pack_size=self.pack_size,
            stock=self.stock,
            description=self.description,
            is_active=self.is_active is not None,
        )


class PriceListForm(Form):
    messages: ClassVar[dict[str, str]] = Translated(
        {"currency": N_("Enter a currency code of three capital letters, such as PLN or EUR.")}
    )
    name: ListName
    code: ListCode | None = None
    currency: Currency = "PLN"

    def record(self) -> PriceListRecord:
        return PriceListRecord(self.name, self.code, self.currency)


class PriceForm(Form):
    messages: ClassVar[dict[str, str]] = Translated(
        {"min_quantity": N_("The minimum quantity is a whole number from 1 to 1,000,000."), "unit_price": PRICE_MESSAGE}
    )
    sku: Sku
    unit_price: UnitPrice
    min_quantity: Whole = 1
    valid_from: Day | None = None
    valid_to: Day | None = None

    def record(self) -> PriceRecord:
        return PriceRecord(self.sku, Decimal(self.unit_price), self.min_quantity, self.valid_from, self.valid_to)


class ContractPriceForm(Form):
    messages: ClassVar[dict[str, str]] = Translated(
        {
            "company_id": N_("Choose a company from the list."),
            "min_quantity": N_("The minimum quantity is a whole number from 1 to 1,000,000."),
            "unit_price": PRICE_MESSAGE,
        }
    )
    company_id: FormId
    sku: Sku
    unit_price: UnitPrice
    min_quantity: Whole = 1
    valid_from: Day | None = None
    valid_to: Day | None = None

    def record(self) -> PriceRecord:
        return PriceRecord(self.sku, Decimal(self.unit_price), self.min_quantity, self.valid_from, self.valid_to)


# The lists' queries.
def product_query(
    q: FromQuery[QueryText] = "",
    sort: FromQuery[SortKey] = "",
    direction: FromQuery[Literal["asc", "desc"]] = "asc",
    page: FromQuery[PageNo] = 1,
    category: FromQuery[MaybeId] = None,
    status: FromQuery[Literal["active", "inactive"] | None] = None,
    stock: FromQuery[Literal["out"] | None] = None,
    unpriced: FromQuery[bool] = False,
) -> ListQuery:
    """`?q=…&category=3&status=active&stock=out&sort=stock&direction=desc&page=2`."""
    return list_query(q, sort, direction, page).with_filters(
        category=category, status=status or "", stock=stock or "", unpriced="true" if unpriced else ""
    )


CurrencyQuery = Annotated[str, Parameter(max_length=3, pattern=r"\A[A-Za-z]{0,3}\Z")]


def price_list_query(
    q: FromQuery[QueryText] = "",
    sort: FromQuery[SortKey] = "",
    direction: FromQuery[Literal["asc", "desc"]] = "asc",
    page: FromQuery[PageNo] = 1,
    currency: FromQuery[CurrencyQuery] = "",
) -> ListQuery:
    """`?q=…&currency=EUR&sort=items&direction=desc&page=2`."""
    return list_query(q, sort, direction, page).with_filters(currency=currency.upper())


def contract_query(
    q: FromQuery[QueryText] = "",
    sort: FromQuery[SortKey] = "",
    direction: FromQuery[Literal["asc", "desc"]] = "asc",
    page: FromQuery[PageNo] = 1,
    customer: FromQuery[MaybeId] = None,
) -> ListQuery:
    """`?customer=3&q=TWL&page=2` (a company's id; `company` names the buyer's own company)."""
    return list_query(q, sort, direction, page).with_filters(customer=customer)


# Values shown in the forms: the object's, the defaults, or what was typed.
def _entered(refusal: Refusal) -> dict[str, Any]:
    return {name: value for name, value in refusal.entered.items() if isinstance(value, str)}


def _status(refusal: Refusal | None) -> int:
    return refusal.status_code if refusal else 200


def _refused(refusal: Refusal | None) -> dict[str, Any]:
    return {"errors": refusal.errors if refusal else {}, "message": refusal.message if refusal else ""}


def product_values(product: Product | None) -> dict[str, Any]:
    if product is None:
        return {"unit": "pcs", "pack_size": "1", "vat_rate": "23", "stock": "0", "is_active": True}
    values: dict[str, Any] = audit.snapshot(product, ("sku", "name", "description", "unit", "pack_size", "stock"))
    values.update(
        vat_rate=audit.as_text(product.vat_rate),
        list_price=price_text(product.list_price),
        cost=price_text(product.cost),
        category_id=str(product.category_id),
        is_active=product.is_active,
    )
    return values


def price_values(row: PriceListItem | ContractPrice, sku: str) -> dict[str, Any]:
    return {
        "sku": sku,
        "unit_price": price_text(row.unit_price),
        "min_quantity": str(row.min_quantity),
        "valid_from": row.valid_from.isoformat() if row.valid_from else "",
        "valid_to": row.valid_to.isoformat() if row.valid_to else "",
        "company_id": str(getattr(row, "company_id", "")),
    }


# Pages, each also the page of its refused form.
async def categories_page(
    request: PortalRequest, db_session: AsyncSession, wanted: ListQuery, refusal: Refusal | None = None
) -> Template:
    found = await catalogue_admin.category_list(db_session, wanted)
    values = _entered(refusal) if refusal else {}
    context = {"found": found, "values": values, **_refused(refusal)}
    return render(request, "admin/catalogue/categories.html", context, status_code=_status(refusal))


async def categories_again(request: PortalRequest, db_session: AsyncSession, refusal: Refusal) -> Response[Any]:
    return await categories_page(request, db_session, ListQuery(), refusal)


async def category_page(
    request: PortalRequest, db_session: AsyncSession, category_id: int, refusal: Refusal | None = None
) -> Template:
    category = await catalogue_admin.category(db_session, category_id)
    values = _entered(refusal) if refusal else audit.snapshot(category, catalogue_admin.CATEGORY_FIELDS)
    history = await audit.history(db_session, "category", category_id)
    context = {"category": category, "values": values, "history": history, **_refused(refusal)}
    return render(request, "admin/catalogue/category.html", context, status_code=_status(refusal))


async def category_again(request: PortalRequest, db_session: AsyncSession, refusal: Refusal) -> Response[Any]:
    return await category_page(request, db_session, path_id(request.path_params["category_id"]), refusal)


async def product_form_page(
    request: PortalRequest, db_session: AsyncSession, product_id: int | None, refusal: Refusal | None = None
) -> Template:
    product = await catalogue_admin.product(db_session, product_id) if product_id else None
    values = _entered(refusal) if refusal else product_values(product)
    categories = await catalogue_admin.categories(db_session)
    context = {
        "product": product,
        "values": values,
        "categories": categories,
        "vat_rates": [audit.as_text(rate) for rate in catalogue_admin.VAT_RATES],
        **_refused(refusal),
    }
    return render(request, "admin/catalogue/product_form.html", context, status_code=_status(refusal))


async def new_product_again(request: PortalRequest, db_session: AsyncSession, refusal: Refusal) -> Response[Any]:
    return await product_form_page(request, db_session, None, refusal)


async def edit_product_again(request: PortalRequest, db_session: AsyncSession, refusal: Refusal) -> Response[Any]:
    return await product_form_page(request, db_session, path_id(request.path_params["product_id"]), refusal)


async def price_lists_page(
    request: PortalRequest, db_session: AsyncSession, wanted: ListQuery, refusal: Refusal | None = None
) -> Template:
    found = await prices_admin.price_list_list(db_session, wanted)
    currencies = await prices_admin.currencies(db_session)
    values = _entered(refusal) if refusal else {"currency": "PLN"}
    context = {"found": found, "currencies": currencies, "values": values, **_refused(refusal)}
    return render(request, "admin/catalogue/price_lists.html", context, status_code=_status(refusal))


async def price_lists_again(request: PortalRequest, db_session: AsyncSession, refusal: Refusal) -> Response[Any]:
    return await price_lists_page(request, db_session, ListQuery(), refusal)


async def price_list_page(
    request: PortalRequest,
    db_session: AsyncSession,
    price_list_id: int,
    wanted: ListQuery,
    refusal: Refusal | None = None,
) -> Template:
    """A price list: its name and code (editable), a form to add a row, and its rows; after a refused
    form, that form shows the messages and what was typed."""
    price_list = await prices_admin.price_list(db_session, price_list_id)
    found = await prices_admin.price_list_items(db_session, price_list_id, wanted)
    editing_list = refusal is not None and request.route_handler.name == "admin_edit_price_list"
    list_values = (
        _entered(refusal) if refusal and editing_list else audit.snapshot(price_list, ("name", "code", "currency"))
    )
    item_values = _entered(refusal) if refusal and not editing_list else {"min_quantity": "1"}
    context = {
        "price_list": price_list,
        "found": found,
        "list_values": list_values,
        "item_values": item_values,
        "list_errors": refusal.errors if refusal and editing_list else {},
        "item_errors": refusal.errors if refusal and not editing_list else {},
        "message": refusal.message if refusal else "",
        "history": await audit.history(db_session, "price_list", price_list_id),
    }
    return render(request, "admin/catalogue/price_list.html", context, status_code=_status(refusal))


async def price_list_again(request: PortalRequest, db_session: AsyncSession, refusal: Refusal) -> Response[Any]:
    price_list_id = path_id(request.path_params["price_list_id"])
    return await price_list_page(request, db_session, price_list_id, ListQuery(), refusal)


async def item_form_page(
    request: PortalRequest, db_session: AsyncSession, item_id: int, refusal: Refusal | None = None
) -> Template:
    item = await prices_admin.price_list_item(db_session, item_id)
    price_list = await prices_admin.price_list(db_session, item.price_list_id)
    values = (
        _entered(refusal) if refusal else price_values(item, await prices_admin.sku_of(db_session, item.product_id))
    )
    history = await audit.history(db_session, "price_list_item", item_id)
    context = {"item": item, "price_list": price_list, "values": values, "history": history, **_refused(refusal)}
    return render(request, "admin/catalogue/item_form.html", context, status_code=_status(refusal))


async def item_again(request: PortalRequest, db_session: AsyncSession, refusal: Refusal) -> Response[Any]:
    return await item_form_page(request, db_session, path_id(request.path_params["item_id"]), refusal)


async def contract_prices_page(
    request: PortalRequest, db_session: AsyncSession, wanted: ListQuery, refusal: Refusal | None = None
) -> Template:
    found = await prices_admin.contract_prices(db_session, wanted)
    companies = await prices_admin.company_choices(db_session)
    chosen = wanted.filter("customer")
    values = _entered(refusal) if refusal else {"min_quantity": "1", "company_id": str(chosen or "")}
    context = {"found": found, "companies": companies, "values": values, **_refused(refusal)}
    return render(request, "admin/catalogue/contract_prices.html", context, status_code=_status(refusal))


async def contract_prices_again(request: PortalRequest, db_session: AsyncSession, refusal: Refusal) -> Response[Any]:
    return await contract_prices_page(request, db_session, ListQuery(), refusal)


async def contract_form_page(
    request: PortalRequest, db_session: AsyncSession, contract_price_id: int, refusal: Refusal | None = None
) -> Template:
    row = await prices_admin.contract_price(db_session, contract_price_id)
    values = _entered(refusal) if refusal else price_values(row, await prices_admin.sku_of(db_session, row.product_id))
    companies = await prices_admin.company_choices(db_session)
    history = await audit.history(db_session, "contract_price", contract_price_id)
    context = {"row": row, "companies": companies, "values": values, "history": history, **_refused(refusal)}
    return render(request, "admin/catalogue/contract_form.html", context, status_code=_status(refusal))


async def contract_again(request: PortalRequest, db_session: AsyncSession, refusal: Refusal) -> Response[Any]:
    return await contract_form_page(request, db_session, path_id(request.path_params["contract_price_id"]), refusal)


def _to(request: PortalRequest, message: str, route: str, **params: int) -> Redirect:
    flash(request, message, "success")
    return Redirect(request.app.route_reverse(route, **params), status_code=303)


class CatalogueController(Controller):
    path = "/admin"
    guards = [admins_only]

    # Categories.
    @get("/categories", name="admin_categories", dependencies={"wanted": Provide(list_query, sync_to_thread=False)})
    async def categories(
        self, request: PortalRequest, db_session: NamedDependency[AsyncSession], wanted: NamedDependency[ListQuery]
    ) -> Template:
        return await categories_page(request, db_session, wanted)

    @post("/categories", name="admin_create_category", opt={"form": categories_again})
    async def create_category(
        self, request: PortalRequest, db_session: NamedDependency[AsyncSession], data: URLEncodedBody[CategoryForm]
    ) -> Redirect:
        made = await catalogue_admin.save_category(db_session, request.user, data.record())
        return _to(request, gettext("Category %(name)s created.") % {"name": made.name}, "admin_categories")

    @get("/categories/{category_id:int}/edit", name="admin_category")
    async def category(
        self, request: PortalRequest, db_session: NamedDependency[AsyncSession], category_id: FromPath[Id]
    ) -> Template:
        return await category_page(request, db_session, category_id)

    @post("/categories/{category_id:int}/edit", name="admin_edit_category", opt={"form": category_again})
    async def edit_category(
        self,
        request: PortalRequest,
        db_session: NamedDependency[AsyncSession],
        category_id: FromPath[Id],
        data: URLEncodedBody[CategoryForm],
    ) -> Redirect:
        await catalogue_admin.save_category(db_session, request.user, data.record(), category_id)
        return _to(request, gettext("Category saved."), "admin_categories")

    # Products.
    @get("/products", name="admin_products", dependencies={"wanted": Provide(product_query, sync_to_thread=False)})
    async def products(
        self, request: PortalRequest, db_session: NamedDependency[AsyncSession], wanted: NamedDependency[ListQuery]
    ) -> Template:
        found = await catalogue_admin.products(db_session, wanted)
        categories = await catalogue_admin.categories(db_session)
        return render(request, "admin/catalogue/products.html", {"found": found, "categories": categories})

    @get("/products/new", name="admin_new_product")
    async def new_product(self, request: PortalRequest, db_session: NamedDependency[AsyncSession]) -> Template:
        return await product_form_page(request, db_session, None)

    @post("/products/new", name="admin_create_product", opt={"form": new_product_again})
    async def create_product(
        self, request: PortalRequest, db_session: NamedDependency[AsyncSession], data: URLEncodedBody[ProductForm]
    ) -> Redirect:
        made = await catalogue_admin.save_product(db_session, request.user, data.record())
        message = gettext("Product %(sku)s created.") % {"sku": made.sku}
        return _to(request, message, "admin_product", product_id=made.id)

    @get("/products/{product_id:int}", name="admin_product")
    async def product(
        self, request: PortalRequest, db_session: NamedDependency[AsyncSession], product_id: FromPath[Id]
    ) -> Template:
        detail = await catalogue_admin.product_detail(db_session, product_id)
        return render(request, "admin/catalogue/product.html", {"detail": detail, "product": detail.product})

    @get("/products/{product_id:int}/edit", name="admin_edit_product_form")
    async def edit_product_form(
        self, request: PortalRequest, db_session: NamedDependency[AsyncSession], product_id: FromPath[Id]
    ) -> Template:
        return await product_form_page(request, db_session, product_id)

    @post("/products/{product_id:int}/edit", name="admin_edit_product", opt={"form": edit_product_again})
    async def edit_product(
        self,
        request: PortalRequest,
        db_session: NamedDependency[AsyncSession],
        product_id: FromPath[Id],
        data: URLEncodedBody[ProductForm],
    ) -> Redirect:
        await catalogue_admin.save_product(db_session, request.user, data.record(), product_id)
        return _to(request, gettext("Product saved."), "admin_product", product_id=product_id)

    # Price lists and their rows.
    @get(
        "/price-lists",
        name="admin_price_lists",
        dependencies={"wanted": Provide(price_list_query, sync_to_thread=False)},
    )
    async def price_lists(
        self, request: PortalRequest, db_session: NamedDependency[AsyncSession], wanted: NamedDependency[ListQuery]
    ) -> Template:
        return await price_lists_page(request, db_session, wanted)

    @post("/price-lists", name="admin_create_price_list", opt={"form": price_lists_again})
    async def create_price_list(
        self, request: PortalRequest, db_session: NamedDependency[AsyncSession], data: URLEncodedBody[PriceListForm]
    ) -> Redirect:
        made = await prices_admin.save_price_list(db_session, request.user, data.record())
        message = gettext("Price list %(name)s created.") % {"name": made.name}
        return _to(request, message, "admin_price_list", price_list_id=made.id)

    @get(
        "/price-lists/{price_list_id:int}",
        name="admin_price_list",
        dependencies={"wanted": Provide(list_query, sync_to_thread=False)},
    )
    async def price_list(
        self,
        request: PortalRequest,
        db_session: NamedDependency[AsyncSession],
        price_list_id: FromPath[Id],
        wanted: NamedDependency[ListQuery],
    ) -> Template:
        return await price_list_page(request, db_session, price_list_id, wanted)

    @post("/price-lists/{price_list_id:int}/edit", name="admin_edit_price_list", opt={"form": price_list_again})
    async def edit_price_list(
        self,
        request: PortalRequest,
        db_session: NamedDependency[AsyncSession],
        price_list_id: FromPath[Id],
        data: URLEncodedBody[PriceListForm],
    ) -> Redirect:
        await prices_admin.save_price_list(db_session, request.user, data.record(), price_list_id)
        return _to(request, gettext("Price list saved."), "admin_price_list", price_list_id=price_list_id)

    @post("/price-lists/{price_list_id:int}/items", name="admin_add_price_list_item", opt={"form": price_list_again})
    async def add_item(
        self,
        request: PortalRequest,
        db_session: NamedDependency[AsyncSession],
        price_list_id: FromPath[Id],
        data: URLEncodedBody[PriceForm],
    ) -> Redirect:
        await prices_admin.save_price_list_item(db_session, request.user, price_list_id, data.record())
        return _to(request, gettext("Price added."), "admin_price_list", price_list_id=price_list_id)

    @get("/price-list-items/{item_id:int}/edit", name="admin_price_list_item")
    async def item(
        self, request: PortalRequest, db_session: NamedDependency[AsyncSession], item_id: FromPath[Id]
    ) -> Template:
        return await item_form_page(request, db_session, item_id)

    @post("/price-list-items/{item_id:int}/edit", name="admin_edit_price_list_item", opt={"form": item_again})
    async def edit_item(
        self,
        request: PortalRequest,
        db_session: NamedDependency[AsyncSession],
        item_id: FromPath[Id],
        data: URLEncodedBody[PriceForm],
    ) -> Redirect:
        item = await prices_admin.price_list_item(db_session, item_id)
        await prices_admin.save_price_list_item(db_session, request.user, item.price_list_id, data.record(), item_id)
        return _to(request, gettext("Price saved."), "admin_price_list", price_list_id=item.price_list_id)

    @post("/price-list-items/{item_id:int}/delete", name="admin_delete_price_list_item")
    async def delete_item(
        self, request: PortalRequest, db_session: NamedDependency[AsyncSession], item_id: FromPath[Id]
    ) -> Redirect:
        price_list_id = await prices_admin.delete_price_list_item(db_session, request.user, item_id)
        return _to(request, gettext("Price removed."), "admin_price_list", price_list_id=price_list_id)

    # Contract prices.
    @get(
        "/contract-prices",
        name="admin_contract_prices",
        dependencies={"wanted": Provide(contract_query, sync_to_thread=False)},
    )
    async def contract_prices(
        self, request: PortalRequest, db_session: NamedDependency[AsyncSession], wanted: NamedDependency[ListQuery]
    ) -> Template:
        return await contract_prices_page(request, db_session, wanted)

    @post("/contract-prices", name="admin_add_contract_price", opt={"form": contract_prices_again})
    async def add_contract_price(
        self,
        request: PortalRequest,
        db_session: NamedDependency[AsyncSession],
        data: URLEncodedBody[ContractPriceForm],
    ) -> Redirect:
        await prices_admin.save_contract_price(db_session, request.user, data.company_id, data.record())
        return _to(request, gettext("Contract price added."), "admin_contract_prices")

    @get("/contract-prices/{contract_price_id:int}/edit", name="admin_contract_price")
    async def contract_price(
        self, request: PortalRequest, db_session: NamedDependency[AsyncSession], contract_price_id: FromPath[Id]
    ) -> Template:
        return await contract_form_page(request, db_session, contract_price_id)

    @post(
        "/contract-prices/{contract_price_id:int}/edit", name="admin_edit_contract_price", opt={"form": contract_again}
    )
    async def edit_contract_price(
        self,
        request: PortalRequest,
        db_session: NamedDependency[AsyncSession],
        contract_price_id: FromPath[Id],
        data: URLEncodedBody[ContractPriceForm],
    ) -> Redirect:
        record = data.record()
        await prices_admin.save_contract_price(db_session, request.user, data.company_id, record, contract_price_id)
        return _to(request, gettext("Contract price saved."), "admin_contract_prices")

    @post("/contract-prices/{contract_price_id:int}/delete", name="admin_delete_contract_price")
    async def delete_contract_price(
        self, request: PortalRequest, db_session: NamedDependency[AsyncSession], contract_price_id: FromPath[Id]
    ) -> Redirect:
        await prices_admin.delete_contract_price(db_session, request.user, contract_price_id)
        return _to(request, gettext("Contract price removed."), "admin_contract_prices")
