"""Shopping lists shared by a company's buyers, and "your usual items".

Each form is a typed struct; a refused one comes back on its own page (`opt={"form": ...}`)
with the message next to its field, or next to its line, and what was typed kept. A list
that is not there answers 404 with the page that says it may have been deleted."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date
from typing import Annotated, Any

import msgspec
from litestar import Controller, Response, get, post
from litestar.di import NamedDependency
from litestar.params import URLEncodedBody
from litestar.plugins.flash import flash
from litestar.response import Redirect, Template
from sqlalchemy.ext.asyncio import AsyncSession

from portal import clock
from portal.i18n import gettext, ngettext
from portal.models import Company, Role, ShoppingList
from portal.services import lists
from portal.services.cart import PutReport
from portal.services.lists import ListGone, ListSource
from portal.settings import Settings
from portal.web.auth import safe_next
from portal.web.context import PortalRequest, is_partial, render, settings_of
from portal.web.errors import Refusal
from portal.web.guards import allow
from portal.web.inputs import Flag, Form, FormId, Id, IdList, QuantityOrZero, Text

ListName = Annotated[Text, msgspec.Meta(max_length=lists.NAME_MAX)]
Description = Annotated[Text, msgspec.Meta(max_length=lists.DESCRIPTION_MAX)]
Note = Annotated[Text, msgspec.Meta(max_length=lists.NOTE_MAX)]
NEXT_MAX = 2000
NextPath = Annotated[Text, msgspec.Meta(max_length=NEXT_MAX)]


class NewListForm(Form):
    name: ListName
    description: Description = ""
    source: ListSource = ListSource.EMPTY


class RenameForm(Form):
    name: ListName
    description: Description = ""


class NameForm(Form):
    """A list made from something else (a past order, the usual items); blank takes a name of its own."""

    name: ListName = ""


class AddToListForm(Form):
    """The catalog's "add to list": a chosen list, or none and the name of a new one."""

    product_id: FormId
    quantity: QuantityOrZero
    list_id: FormId | None = None
    new_name: ListName = ""
    next: NextPath = ""


class LineForm(Form):
    quantity: QuantityOrZero
    note: Note = ""


class ToCartForm(Form):
    """The lines ticked, or `all` (the "add all lines" button)."""

    all: Flag | None = None
    line_ids: IdList = msgspec.field(default_factory=IdList)

    def chosen(self) -> list[int] | None:
        return None if self.all is not None else list(self.line_ids)


NOTHING_REFUSED = Refusal(message="", errors={}, entered={}, status_code=200)
"""A page shown as it is, with no refusal to explain."""


def _today(request: PortalRequest) -> date:
    """Today in the seller's calendar. A form page shown after a refusal is called without the
    handler's dependencies, so the pages ask the clock themselves."""
    return clock.today(settings_of(request).seller_zone)


def _company(request: PortalRequest) -> Company:
    company = request.user.company
    assert company is not None, "the guard lets in buyers only, and a buyer belongs to a company"
    return company


def _to(request: PortalRequest, route: str, **params: Any) -> Redirect:
    return Redirect(request.app.route_reverse(route, **params), status_code=303)


def _back(request: PortalRequest, target: object) -> str:
    """The page the "add to list" form was on, when it names a page of this site."""
    wanted = safe_next(target) if isinstance(target, str) and len(target) <= NEXT_MAX else None
    return wanted or request.app.route_reverse("lists")


def _report(request: PortalRequest, report: PutReport) -> None:
    flash(
        request,
        ngettext(
            "Added %(num)d line to your cart at today's prices.",
            "Added %(num)d lines to your cart at today's prices.",
            len(report.added),
        )
        % {"num": len(report.added)},
        "success",
    )
    for message in report.skipped:
        flash(request, gettext("Not added: %(reason)s") % {"reason": message}, "error")


def gone(request: PortalRequest, _: ListGone) -> Template:
    """A list that is not there: deleted meanwhile, or never this company's. Either way 404."""
    return Template("lists/gone.html", status_code=404)


async def index_page(request: PortalRequest, db_session: AsyncSession, refusal: Refusal = NOTHING_REFUSED) -> Template:
    """The company's lists and the new-list form; after a refusal, with what was typed."""
    shopping_lists = await lists.company_lists(db_session, request.user.company_id or 0)
    return render(
        request,
        "lists/index.html",
        {"lists": shopping_lists, "errors": refusal.errors, "form": refusal.entered},
        status_code=refusal.status_code,
    )


@dataclass(frozen=True)
class ListForms:
    """What the forms of a list page show: the saved values, or, in the form that was refused,
    what was typed and the message for each field."""

    name: str
    description: str
    rename_errors: dict[str, str]
    typed: dict[int, dict[str, Any]]
    """Line id → the values typed into its refused form."""
    line_errors: dict[int, dict[str, str]]
    lines_error: str | None
    """About the lines as a whole: none chosen for the cart, or a line removed meanwhile."""

    @classmethod
    def of(cls, request: PortalRequest, shopping_list: ShoppingList, refusal: Refusal) -> ListForms:
        errors, entered = refusal.errors, refusal.entered
        route = request.route_handler.name if errors else None
        if route == "rename_list":
            return cls(entered.get("name", ""), entered.get("description", ""), errors, {}, {}, None)
        saved = cls(shopping_list.name, shopping_list.description, {}, {}, {}, None)
        first_error = next(iter(errors.values()), None)
        if route == "list_to_cart":
            return replace(saved, lines_error=first_error)
        if route != "change_list_line":
            return saved
        line_id = request.path_params["line_id"]
        if line_id not in {line.id for line in shopping_list.lines}:  # removed meanwhile
            return replace(saved, lines_error=first_error)
        typed = {"quantity": entered.get("quantity", ""), "note": entered.get("note", "")}
        return replace(saved, typed={line_id: typed}, line_errors={line_id: errors})


async def list_page(request: PortalRequest, db_session: AsyncSession, refusal: Refusal = NOTHING_REFUSED) -> Template:
    """The list at today's prices (for htmx, its lines); after a refusal, the refused form
    with its messages next to the fields."""
    priced = await lists.priced_list(db_session, _company(request), request.path_params["list_id"], _today(request))
    forms = ListForms.of(request, priced.shopping_list, refusal)
    return render(
        request,
        "lists/show.html",
        {"priced": priced, "forms": forms},
        partial="lists/_partials/lines.html",
        status_code=refusal.status_code,
    )


async def _line_changed(request: PortalRequest, db_session: AsyncSession) -> Template | Redirect:
    """After a line changed: htmx swaps in the lines again; a plain form goes back to the list."""
    if is_partial(request):
        return await list_page(request, db_session)
    return _to(request, "shopping_list", list_id=request.path_params["list_id"])


async def usual_page(request: PortalRequest, db_session: AsyncSession, refusal: Refusal = NOTHING_REFUSED) -> Template:
    """The usual items and the forms that use them; after a refusal, its message."""
    items = await lists.usual_items(db_session, _company(request), _today(request), settings_of(request).seller_zone)
    name = refusal.entered.get("name", "") if refusal.errors else gettext("Usual items")
    return render(
        request,
        "lists/usual.html",
        {"items": items, "errors": refusal.errors, "name": name},
        status_code=refusal.status_code,
    )


async def back_to_the_catalog(request: PortalRequest, db_session: AsyncSession, refusal: Refusal) -> Response[Any]:
    """The "add to list" form lives on the catalog's pages: back there, with the refusal said."""
    for message in dict.fromkeys(refusal.errors.values() or [refusal.message]):
        flash(request, message, "error")
    return Redirect(_back(request, refusal.entered.get("next")), status_code=303)


class ListsController(Controller):
    path = "/lists"
    guards = [allow(Role.BUYER)]
    exception_handlers = {ListGone: gone}

    @get("/", name="lists")
    async def index(self, request: PortalRequest, db_session: NamedDependency[AsyncSession]) -> Template:
        return await index_page(request, db_session)

    @post("/", name="create_list", opt={"form": index_page})
    async def create(
        self,
        request: PortalRequest,
        db_session: NamedDependency[AsyncSession],
        data: URLEncodedBody[NewListForm],
        today: NamedDependency[date],
    ) -> Redirect:
        created = await lists.new_list(db_session, request.user, data.name, data.description, data.source, today=today)
        return _to(request, "shopping_list", list_id=created.id)

    @post("/from-order/{order_id:int}", name="list_from_order")
    async def from_order(
        self,
        request: PortalRequest,
        db_session: NamedDependency[AsyncSession],
        order_id: Id,
        data: URLEncodedBody[NameForm],
        today: NamedDependency[date],
    ) -> Redirect:
        created = await lists.list_from_order(db_session, request.user, order_id, data.name, today=today)
        flash(request, gettext("List “%(name)s” made from the order.") % {"name": created.name}, "success")
        return _to(request, "shopping_list", list_id=created.id)

    @post("/add", name="add_to_list", opt={"form": back_to_the_catalog})
    async def add(
        self,
        request: PortalRequest,
        db_session: NamedDependency[AsyncSession],
        data: URLEncodedBody[AddToListForm],
        today: NamedDependency[date],
    ) -> Redirect:
        shopping_list = await lists.add_to_list(
            db_session, request.user, data.product_id, data.quantity, data.list_id, data.new_name, today=today
        )
        flash(request, gettext("Added to the list “%(name)s”.") % {"name": shopping_list.name}, "success")
        return Redirect(_back(request, data.next), status_code=303)

    @get("/usual", name="usual_items")
    async def usual(self, request: PortalRequest, db_session: NamedDependency[AsyncSession]) -> Template:
        return await usual_page(request, db_session)

    @post("/usual/cart", name="usual_to_cart", opt={"form": usual_page})
    async def usual_to_cart(
        self,
        request: PortalRequest,
        db_session: NamedDependency[AsyncSession],
        today: NamedDependency[date],
        settings: NamedDependency[Settings],
    ) -> Redirect:
        _report(request, await lists.usual_to_cart(db_session, request.user, today, settings.seller_zone))
        return _to(request, "cart")

    @post("/usual/save", name="save_usual", opt={"form": usual_page})
    async def save_usual(
        self,
        request: PortalRequest,
        db_session: NamedDependency[AsyncSession],
        data: URLEncodedBody[NameForm],
        today: NamedDependency[date],
        settings: NamedDependency[Settings],
    ) -> Redirect:
        created = await lists.save_usual(db_session, request.user, data.name, today, settings.seller_zone)
        return _to(request, "shopping_list", list_id=created.id)

    @get("/{list_id:int}", name="shopping_list")
    async def show(self, request: PortalRequest, db_session: NamedDependency[AsyncSession], list_id: Id) -> Template:
        return await list_page(request, db_session)

    @post("/{list_id:int}", name="rename_list", opt={"form": list_page})
    async def rename(
        self,
        request: PortalRequest,
        db_session: NamedDependency[AsyncSession],
        list_id: Id,
        data: URLEncodedBody[RenameForm],
    ) -> Redirect:
        await lists.rename_list(db_session, request.user, list_id, data.name, data.description)
        return _to(request, "shopping_list", list_id=list_id)

    @post("/{list_id:int}/duplicate", name="duplicate_list")
    async def duplicate(
        self, request: PortalRequest, db_session: NamedDependency[AsyncSession], list_id: Id
    ) -> Redirect:
        copy = await lists.duplicate_list(db_session, request.user, list_id)
        return _to(request, "shopping_list", list_id=copy.id)

    @get("/{list_id:int}/delete", name="confirm_delete_list")
    async def confirm_delete(
        self,
        request: PortalRequest,
        db_session: NamedDependency[AsyncSession],
        list_id: Id,
        company: NamedDependency[Company],
        today: NamedDependency[date],
    ) -> Template:
        priced = await lists.priced_list(db_session, company, list_id, today)
        return Template("lists/delete.html", context={"priced": priced})

    @post("/{list_id:int}/delete", name="delete_list")
    async def delete(self, request: PortalRequest, db_session: NamedDependency[AsyncSession], list_id: Id) -> Redirect:
        name = await lists.delete_list(db_session, request.user, list_id)
        flash(request, gettext("List “%(name)s” deleted.") % {"name": name}, "success")
        return _to(request, "lists")

    @post("/{list_id:int}/lines/{line_id:int}", name="change_list_line", opt={"form": list_page})
    async def change_line(
        self,
        request: PortalRequest,
        db_session: NamedDependency[AsyncSession],
        list_id: Id,
        line_id: Id,
        data: URLEncodedBody[LineForm],
    ) -> Template | Redirect:
        await lists.change_line(db_session, request.user, list_id, line_id, data.quantity, data.note)
        return await _line_changed(request, db_session)

    @post("/{list_id:int}/lines/{line_id:int}/remove", name="remove_list_line")
    async def remove_line(
        self,
        request: PortalRequest,
        db_session: NamedDependency[AsyncSession],
        list_id: Id,
        line_id: Id,
    ) -> Template | Redirect:
        await lists.remove_line(db_session, request.user, list_id, line_id)
        return await _line_changed(request, db_session)

    @post("/{list_id:int}/cart", name="list_to_cart", opt={"form": list_page})
    async def to_cart(
        self,
        request: PortalRequest,
        db_session: NamedDependency[AsyncSession],
        list_id: Id,
        data: URLEncodedBody[ToCartForm],
    ) -> Redirect:
        _report(request, await lists.list_to_cart(db_session, request.user, list_id, data.chosen()))
        return _to(request, "cart")
