"""Buying: the cart with live totals, quick order, checkout, and the company's orders
with cancel and reorder. Every form works without JavaScript; htmx swaps fragments."""

from __future__ import annotations

from typing import Any

from litestar import Controller, get, post
from litestar.datastructures import UploadFile
from litestar.di import NamedDependency
from litestar.enums import RequestEncodingType
from litestar.exceptions import NotFoundException
from litestar.params import Body, FromPath, URLEncodedBody
from litestar.plugins.flash import flash
from litestar.response import Redirect, Template
from sqlalchemy.ext.asyncio import AsyncSession
from typing_extensions import Annotated

from portal.i18n import gettext
from portal.models import OrderStatus, Role
from portal.services import cart as carts
from portal.services import ordering, schedules
from portal.services.cart import CartError, parse_quantity
from portal.services.ordering import CheckoutForm, OrderFilter
from portal.web.auth import safe_next
from portal.web.context import PortalRequest, is_partial, query_params, seller_today, settings_of
from portal.web.guards import allow

buyers = [allow(Role.BUYER)]


def _int(value: object) -> int | None:
    return parse_quantity(str(value or ""))


async def _cart_page(
    request: PortalRequest, db_session: AsyncSession, *, errors: dict[int, str] | None = None,
    entered: dict[int, str] | None = None, status_code: int = 200,
) -> Template:
    priced = await carts.priced_cart(
        db_session, request.user, request.user.company, today=seller_today(request),
        grace_days=settings_of(request).past_due_grace_days, errors=errors,
    )
    template = "cart/_partials/cart.html" if is_partial(request) else "cart/index.html"
    return Template(template, context={"cart": priced, "entered": entered or {}},
                    status_code=200 if is_partial(request) else status_code)


class CartController(Controller):
    path = "/cart"
    guards = buyers

    @get("/", name="cart")
    async def show(self, request: PortalRequest, db_session: NamedDependency[AsyncSession]) -> Template:
        return await _cart_page(request, db_session)

    @post("/add", name="cart_add")
    async def add(
        self, request: PortalRequest, db_session: NamedDependency[AsyncSession], data: URLEncodedBody[dict[str, Any]]
    ) -> Template | Redirect:
        back = safe_next(str(data.get("next", ""))) or "/catalog"
        product_id, quantity = _int(data.get("product_id")), _int(data.get("quantity"))
        try:
            if product_id is None:
                raise CartError(gettext("This product is not sold any more."))
            if quantity is None:
                raise CartError(gettext("Enter the quantity as a whole number."), product_id)
            line = await carts.add_to_cart(db_session, request.user, product_id, quantity)
        except CartError as refused:
            if is_partial(request):
                return Template("cart/_partials/added.html", context={"error": refused.message})
            flash(request, refused.message, "error")
            return Redirect(back, status_code=303)
        await db_session.commit()
        message = gettext("Added %(quantity)d × %(name)s to your cart.") % {"quantity": quantity, "name": line.product.name}
        if is_partial(request):
            return Template("cart/_partials/added.html", context={"message": message})
        flash(request, message, "success")
        return Redirect(back, status_code=303)

    @post("/lines/{product_id:int}", name="cart_line")
    async def update(
        self, request: PortalRequest, db_session: NamedDependency[AsyncSession], product_id: FromPath[int],
        data: URLEncodedBody[dict[str, Any]],
    ) -> Template | Redirect:
        typed = str(data.get("quantity", ""))
        try:
            quantity = _int(typed)
            if quantity is None:
                raise CartError(gettext("Enter the quantity as a whole number."), product_id)
            await carts.set_quantity(db_session, request.user, product_id, quantity)
        except CartError as refused:
            return await _cart_page(request, db_session, errors={product_id: refused.message},
                                    entered={product_id: typed}, status_code=400)
        await db_session.commit()
        if is_partial(request):
            return await _cart_page(request, db_session)
        return Redirect("/cart", status_code=303)

    @post("/lines/{product_id:int}/remove", name="cart_remove")
    async def remove(
        self, request: PortalRequest, db_session: NamedDependency[AsyncSession], product_id: FromPath[int]
    ) -> Template | Redirect:
        await carts.remove_line(db_session, request.user, product_id)
        await db_session.commit()
        if is_partial(request):
            return await _cart_page(request, db_session)
        return Redirect("/cart", status_code=303)

    @get("/quick", name="quick_order")
    async def quick_form(self) -> Template:
        return Template("cart/quick.html", context={"report": None, "text": ""})

    @post("/quick", name="quick_order_check")
    async def quick_check(
        self, db_session: NamedDependency[AsyncSession],
        data: Annotated[dict[str, Any], Body(media_type=RequestEncodingType.MULTI_PART)],
    ) -> Template:
        text = str(data.get("text") or "")
        upload = data.get("file")
        if isinstance(upload, UploadFile):
            content = await upload.read(2_000_000)
            if content:
                text = _decode(content)
        report = await carts.check_quick_order(db_session, text)
        return Template("cart/quick.html", context={"report": report, "text": text})

    @post("/quick/confirm", name="quick_order_confirm")
    async def quick_confirm(
        self, request: PortalRequest, db_session: NamedDependency[AsyncSession], data: URLEncodedBody[dict[str, Any]]
    ) -> Redirect:
        report = await carts.add_quick_order(db_session, request.user, str(data.get("text", "")))
        await db_session.commit()
        skipped = sum(1 for row in report.rows if row.error)
        message = gettext("Added %(added)d lines to your cart.") % {"added": len(report.lines)}
        if skipped:
            message += " " + gettext("%(skipped)d lines with errors were left out.") % {"skipped": skipped}
        flash(request, message, "success")
        return Redirect("/cart", status_code=303)


def _decode(content: bytes) -> str:
    """Excel saves CSV as UTF-8 (with or without BOM) or, in Poland, as Windows-1250."""
    try:
        return content.decode("utf-8-sig")
    except UnicodeDecodeError:
        return content.decode("cp1250", errors="replace")


async def _checkout_page(
    request: PortalRequest, db_session: AsyncSession, form: CheckoutForm | None = None,
    errors: dict[str, str] | None = None, status_code: int = 200,
) -> Template:
    company = request.user.company
    priced = await carts.priced_cart(
        db_session, request.user, company, today=seller_today(request),
        grace_days=settings_of(request).past_due_grace_days,
    )
    addresses = await ordering.company_addresses(db_session, company.id)
    earliest = ordering.next_working_day(seller_today(request))
    if form is None:
        default = next((a for a in addresses if a.is_default), addresses[0] if addresses else None)
        form = CheckoutForm(key=priced.cart.checkout_key, delivery_date=earliest.isoformat(),
                            address_id=str(default.id) if default else "")
    return Template(
        "cart/checkout.html",
        context={"cart": priced, "form": form, "errors": errors or {}, "addresses": addresses,
                 "earliest": earliest, "company": company},
        status_code=status_code,
    )


class CheckoutController(Controller):
    path = "/checkout"
    guards = buyers

    @get("/", name="checkout")
    async def show(self, request: PortalRequest, db_session: NamedDependency[AsyncSession]) -> Template:
        return await _checkout_page(request, db_session)

    @post("/", name="submit_order")
    async def submit(
        self, request: PortalRequest, db_session: NamedDependency[AsyncSession], data: URLEncodedBody[dict[str, Any]]
    ) -> Template | Redirect:
        form = CheckoutForm.from_data(data)
        settings = settings_of(request)
        try:
            submission = await ordering.submit_order(
                db_session, request.user, request.user.company, form, today=seller_today(request),
                grace_days=settings.past_due_grace_days, margin_floor=settings.margin_floor_pct,
            )
        except ordering.CheckoutInvalid as invalid:
            return await _checkout_page(request, db_session, form, invalid.errors, status_code=400)
        except ordering.CartChanged as changed:
            flash(request, changed.message, "error")
            return Redirect("/cart", status_code=303)
        except ordering.CompanyOnHold:
            return await _checkout_page(request, db_session, form, status_code=400)
        await db_session.commit()
        order = submission.order
        if submission.created:
            flash(request, gettext("Order %(number)s submitted. It waits for approval by your account manager.")
                  % {"number": order.number}, "success")
        else:
            flash(request, gettext("Order %(number)s had already been submitted; here it is.")
                  % {"number": order.number}, "info")
        return Redirect(f"/orders/{order.id}", status_code=303)


class OrdersController(Controller):
    path = "/orders"
    guards = buyers

    @get("/", name="orders")
    async def index(self, request: PortalRequest, db_session: NamedDependency[AsyncSession]) -> Template:
        wanted = OrderFilter.parse(query_params(request))
        page = await ordering.company_orders(
            db_session, request.user.company_id, wanted, settings_of(request).seller_zone
        )
        return Template("orders/index.html", context={"page": page, "statuses": list(OrderStatus)})

    @get("/{order_id:int}", name="order")
    async def show(
        self, request: PortalRequest, db_session: NamedDependency[AsyncSession], order_id: FromPath[int]
    ) -> Template:
        order = await ordering.company_order(db_session, request.user.company_id, order_id)
        if order is None:
            raise NotFoundException()
        schedule = await schedules.schedule_of_order(db_session, request.user.company_id, order.id)
        return Template("orders/show.html", context={"order": order, "schedule": schedule})

    @post("/{order_id:int}/cancel", name="cancel_order")
    async def cancel(
        self, request: PortalRequest, db_session: NamedDependency[AsyncSession], order_id: FromPath[int],
        data: URLEncodedBody[dict[str, Any]],
    ) -> Redirect:
        try:
            order = await ordering.cancel_order(db_session, request.user, order_id, str(data.get("reason", "")))
        except LookupError:
            raise NotFoundException() from None
        except ordering.MoveRefused as refused:
            flash(request, refused.message, "error")
            return Redirect(f"/orders/{order_id}", status_code=303)
        await db_session.commit()
        flash(request, gettext("Order %(number)s cancelled.") % {"number": order.number}, "success")
        return Redirect(f"/orders/{order_id}", status_code=303)

    @get("/{order_id:int}/reorder", name="reorder_preview")
    async def reorder_preview(
        self, request: PortalRequest, db_session: NamedDependency[AsyncSession], order_id: FromPath[int]
    ) -> Template:
        preview = await ordering.reorder_preview(db_session, request.user.company, order_id, seller_today(request))
        if preview is None:
            raise NotFoundException()
        order, lines = preview
        return Template("orders/reorder.html", context={"order": order, "lines": lines})

    @post("/{order_id:int}/reorder", name="reorder")
    async def reorder(
        self, request: PortalRequest, db_session: NamedDependency[AsyncSession], order_id: FromPath[int]
    ) -> Redirect:
        lines = await ordering.reorder(db_session, request.user, request.user.company, order_id, seller_today(request))
        if lines is None:
            raise NotFoundException()
        await db_session.commit()
        added = [line for line in lines if line.available]
        message = gettext("Added %(added)d lines to your cart at today's prices.") % {"added": len(added)}
        if changed := sum(1 for line in added if line.price_changed):
            message += " " + gettext("%(count)d of them changed price since the order.") % {"count": changed}
        if skipped := len(lines) - len(added):
            message += " " + gettext("%(count)d could not be added.") % {"count": skipped}
        flash(request, message, "info")
        return Redirect("/cart", status_code=303)
