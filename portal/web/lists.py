"""Shopping lists shared by a company's buyers, and "your usual items"."""

from __future__ import annotations

from typing import Any

from litestar import Controller, get, post
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, URLEncodedBody
from litestar.plugins.flash import flash
from litestar.response import Redirect, Template
from sqlalchemy.ext.asyncio import AsyncSession

from portal.i18n import gettext
from portal.models import Role
from portal.services import lists
from portal.services.cart import parse_quantity
from portal.services.cart import PutReport
from portal.services.lists import ListError, ListGone
from portal.web.auth import safe_next
from portal.web.context import PortalRequest, discard_changes, is_partial, seller_today, settings_of
from portal.web.guards import allow


def gone() -> Template:
    """A list that is not there: deleted meanwhile, or never this company's. Either way 404."""
    return Template("lists/gone.html", status_code=404)


def _report(request: PortalRequest, report: PutReport) -> None:
    flash(request, gettext("Added %(count)d lines to your cart at today's prices.") % {"count": len(report.added)},
          "success")
    for message in report.skipped:
        flash(request, gettext("Not added: %(reason)s") % {"reason": message}, "error")


async def _list_page(
    request: PortalRequest, db_session: AsyncSession, list_id: int, *, errors: dict[int, str] | None = None,
    entered: dict[int, str] | None = None, form_error: ListError | None = None, status_code: int = 200,
) -> Template:
    priced = await lists.priced_list(db_session, request.user.company, list_id, seller_today(request))
    template = "lists/_partials/lines.html" if is_partial(request) else "lists/show.html"
    return Template(template, context={"priced": priced, "errors": errors or {}, "entered": entered or {},
                                       "form_error": form_error},
                    status_code=200 if is_partial(request) else status_code)


def _ids(values: object) -> list[int]:
    values = values if isinstance(values, list) else [values] if values else []
    return [int(v) for v in values if str(v).isdigit() and len(str(v)) < 10]


class ListsController(Controller):
    path = "/lists"
    guards = [allow(Role.BUYER)]

    @get("/", name="lists")
    async def index(self, request: PortalRequest, db_session: NamedDependency[AsyncSession]) -> Template:
        return Template("lists/index.html", context={
            "lists": await lists.company_lists(db_session, request.user.company_id), "error": None, "form": {}})

    @post("/", name="create_list")
    async def create(
        self, request: PortalRequest, db_session: NamedDependency[AsyncSession], data: URLEncodedBody[dict[str, Any]]
    ) -> Template | Redirect:
        name, description = str(data.get("name", "")), str(data.get("description", ""))
        try:
            if data.get("source") == "cart":
                created = await lists.list_from_cart(db_session, request.user, name, today=seller_today(request))
            else:
                created = await lists.create_list(db_session, request.user, name, description, today=seller_today(request))
        except ListError as refused:
            return Template("lists/index.html", status_code=400, context={
                "lists": await lists.company_lists(db_session, request.user.company_id), "error": refused,
                "form": data})
        await db_session.commit()
        return Redirect(f"/lists/{created.id}", status_code=303)

    @post("/from-order/{order_id:int}", name="list_from_order")
    async def from_order(
        self, request: PortalRequest, db_session: NamedDependency[AsyncSession], order_id: FromPath[int],
        data: URLEncodedBody[dict[str, Any]],
    ) -> Redirect:
        try:
            created = await lists.list_from_order(db_session, request.user, order_id, str(data.get("name", "")),
                                                  today=seller_today(request))
        except LookupError:
            raise NotFoundException() from None
        await db_session.commit()
        flash(request, gettext("List “%(name)s” made from the order.") % {"name": created.name}, "success")
        return Redirect(f"/lists/{created.id}", status_code=303)

    @post("/add", name="add_to_list")
    async def add(
        self, request: PortalRequest, db_session: NamedDependency[AsyncSession], data: URLEncodedBody[dict[str, Any]]
    ) -> Redirect:
        back = safe_next(str(data.get("next", ""))) or "/lists"
        product_ids, list_ids = _ids(data.get("product_id")), _ids(data.get("list_id"))
        quantity = parse_quantity(str(data.get("quantity", "")))
        try:
            if not product_ids or quantity is None:
                raise ListError(gettext("Enter the quantity as a whole number."), "quantity")
            if list_ids:
                target = list_ids[0]
            else:
                target = (await lists.create_list(db_session, request.user, str(data.get("new_name", "")),
                                                  today=seller_today(request))).id
            shopping_list = await lists.add_product(db_session, request.user, target, product_ids[0], quantity,
                                                    today=seller_today(request))
        except ListError as refused:
            await discard_changes(request, db_session)
            flash(request, refused.message, "error")
            return Redirect(back, status_code=303)
        await db_session.commit()
        flash(request, gettext("Added to the list “%(name)s”.") % {"name": shopping_list.name}, "success")
        return Redirect(back, status_code=303)

    @get("/usual", name="usual_items")
    async def usual(self, request: PortalRequest, db_session: NamedDependency[AsyncSession]) -> Template:
        items = await lists.usual_items(db_session, request.user.company, seller_today(request),
                                        settings_of(request).seller_zone)
        return Template("lists/usual.html", context={"items": items})

    @post("/usual/cart", name="usual_to_cart")
    async def usual_to_cart(self, request: PortalRequest, db_session: NamedDependency[AsyncSession]) -> Redirect:
        try:
            report = await lists.usual_to_cart(db_session, request.user, seller_today(request),
                                               settings_of(request).seller_zone)
        except ListError as refused:
            flash(request, refused.message, "error")
            return Redirect("/lists/usual", status_code=303)
        await db_session.commit()
        _report(request, report)
        return Redirect("/cart", status_code=303)

    @post("/usual/save", name="save_usual")
    async def save_usual(
        self, request: PortalRequest, db_session: NamedDependency[AsyncSession], data: URLEncodedBody[dict[str, Any]]
    ) -> Redirect:
        try:
            created = await lists.save_usual(db_session, request.user, str(data.get("name", "")) or gettext("Usual items"),
                                             seller_today(request), settings_of(request).seller_zone)
        except ListError as refused:
            flash(request, refused.message, "error")
            return Redirect("/lists/usual", status_code=303)
        await db_session.commit()
        return Redirect(f"/lists/{created.id}", status_code=303)

    @get("/{list_id:int}", name="shopping_list")
    async def show(
        self, request: PortalRequest, db_session: NamedDependency[AsyncSession], list_id: FromPath[int]
    ) -> Template:
        try:
            return await _list_page(request, db_session, list_id)
        except ListGone:
            return gone()

    @post("/{list_id:int}", name="rename_list")
    async def rename(
        self, request: PortalRequest, db_session: NamedDependency[AsyncSession], list_id: FromPath[int],
        data: URLEncodedBody[dict[str, Any]],
    ) -> Template | Redirect:
        try:
            await lists.rename_list(db_session, request.user, list_id, str(data.get("name", "")),
                                    str(data.get("description", "")))
        except ListGone:
            return gone()
        except ListError as refused:
            await discard_changes(request, db_session)
            return await _list_page(request, db_session, list_id, form_error=refused, status_code=400)
        await db_session.commit()
        return Redirect(f"/lists/{list_id}", status_code=303)

    @post("/{list_id:int}/duplicate", name="duplicate_list")
    async def duplicate(
        self, request: PortalRequest, db_session: NamedDependency[AsyncSession], list_id: FromPath[int]
    ) -> Template | Redirect:
        try:
            copy = await lists.duplicate_list(db_session, request.user, list_id)
        except ListGone:
            return gone()
        await db_session.commit()
        return Redirect(f"/lists/{copy.id}", status_code=303)

    @get("/{list_id:int}/delete", name="confirm_delete_list")
    async def confirm_delete(
        self, request: PortalRequest, db_session: NamedDependency[AsyncSession], list_id: FromPath[int]
    ) -> Template:
        try:
            priced = await lists.priced_list(db_session, request.user.company, list_id, seller_today(request))
        except ListGone:
            return gone()
        return Template("lists/delete.html", context={"priced": priced})

    @post("/{list_id:int}/delete", name="delete_list")
    async def delete(
        self, request: PortalRequest, db_session: NamedDependency[AsyncSession], list_id: FromPath[int]
    ) -> Template | Redirect:
        try:
            name = await lists.delete_list(db_session, request.user, list_id)
        except ListGone:
            return gone()
        await db_session.commit()
        flash(request, gettext("List “%(name)s” deleted.") % {"name": name}, "success")
        return Redirect("/lists", status_code=303)

    @post("/{list_id:int}/lines/{line_id:int}", name="change_list_line")
    async def change_line(
        self, request: PortalRequest, db_session: NamedDependency[AsyncSession], list_id: FromPath[int],
        line_id: FromPath[int], data: URLEncodedBody[dict[str, Any]],
    ) -> Template | Redirect:
        typed = str(data.get("quantity", ""))
        try:
            await lists.change_line(db_session, request.user, list_id, line_id, parse_quantity(typed),
                                    str(data.get("note", "")))
        except ListGone:
            return gone()
        except ListError as refused:
            await discard_changes(request, db_session)
            return await _list_page(request, db_session, list_id, errors={line_id: refused.message},
                                    entered={line_id: typed}, status_code=400)
        await db_session.commit()
        if is_partial(request):
            return await _list_page(request, db_session, list_id)
        return Redirect(f"/lists/{list_id}", status_code=303)

    @post("/{list_id:int}/lines/{line_id:int}/remove", name="remove_list_line")
    async def remove_line(
        self, request: PortalRequest, db_session: NamedDependency[AsyncSession], list_id: FromPath[int],
        line_id: FromPath[int],
    ) -> Template | Redirect:
        try:
            await lists.remove_line(db_session, request.user, list_id, line_id)
        except ListGone:
            return gone()
        except ListError:
            pass  # removed meanwhile by another buyer: the result is the same
        await db_session.commit()
        if is_partial(request):
            return await _list_page(request, db_session, list_id)
        return Redirect(f"/lists/{list_id}", status_code=303)

    @post("/{list_id:int}/cart", name="list_to_cart")
    async def to_cart(
        self, request: PortalRequest, db_session: NamedDependency[AsyncSession], list_id: FromPath[int],
        data: URLEncodedBody[dict[str, Any]],
    ) -> Template | Redirect:
        chosen = None if data.get("all") == "yes" else _ids(data.get("line_ids"))
        try:
            report = await lists.list_to_cart(db_session, request.user, list_id, chosen)
        except ListGone:
            return gone()
        except ListError as refused:
            flash(request, refused.message, "error")
            return Redirect(f"/lists/{list_id}", status_code=303)
        await db_session.commit()
        _report(request, report)
        return Redirect("/cart", status_code=303)
