"""Buying: the cart with live totals, quick order, checkout, and the company's orders
with cancel and reorder. Every form works without JavaScript; htmx swaps fragments.

An account manager (their deputy while covering, an admin) takes an order for a customer by
phone or e-mail through the same cart and checkout, kept for that customer under
`/customers/{company_id}/cart` and `/customers/{company_id}/checkout` (`Buying` says whose
cart a page shows and where its forms go).

Every value arrives decoded and bounded (`portal.web.inputs`); a refused form comes back
through the page function its route names in `opt={"form": ...}`, with the message next to
its line or field and what was typed kept."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, time
from functools import partial
from typing import Annotated, Any

import msgspec
from litestar import Controller, get, post
from litestar.datastructures import UploadFile
from litestar.di import NamedDependency, Provide
from litestar.enums import RequestEncodingType
from litestar.params import Body, FromPath, FromQuery, URLEncodedBody
from litestar.plugins.flash import flash
from litestar.response import Redirect, Template
from sqlalchemy.ext.asyncio import AsyncSession

from portal import clock
from portal.errors import NotAllowed
from portal.i18n import format_decimal, gettext, ngettext
from portal.models import Company, OrderStatus, Role
from portal.services import buyer_agreement, delivery, ordering, payment_terms, schedules
from portal.services import cart as carts
from portal.services.cart import QUICK_MAX_BYTES, QUICK_MAX_LINES, QUICK_MAX_SIZE, CartOwner, QuickOrderReport
from portal.services.ordering import NOTE_MAX, PO_NUMBER_MAX, OrderFilter, OrderView, Submission
from portal.settings import Settings
from portal.web.auth import safe_next
from portal.web.context import PortalRequest, is_partial, render, settings_of
from portal.web.errors import Refusal
from portal.web.guards import allow
from portal.web.inputs import MAX_ID, Day, Form, FormId, Id, PageNo, Quantity, QuantityOrZero, QueryText, Text
from portal.web.permissions import can
from portal.web.scoping import sees_company

buyers = [allow(Role.BUYER)]
ordering_staff = [allow(Role.ACCOUNT_MANAGER, Role.ADMIN), sees_company()]
"""Who may take an order for a customer: the role, and a customer they see (else 404); the service
then asks whether they may decide its orders (else 403)."""
DbSession = NamedDependency[AsyncSession]
Note = Annotated[Text, msgspec.Meta(max_length=NOTE_MAX)]
QuickText = Annotated[str, msgspec.Meta(max_length=QUICK_MAX_BYTES)]
"""Pasted lines. NUL is let through on purpose: a line with one is reported as that line's error,
as it is in an uploaded file."""


class AddToCart(Form):
    product_id: FormId
    quantity: Quantity
    next: Annotated[Text, msgspec.Meta(max_length=500)] = ""
    """Where to come back to without JavaScript: a path of this site."""


class LineQuantity(Form):
    quantity: QuantityOrZero
    """0 reaches the cart, which says how many make a pack."""


class QuickOrder(Form):
    text: QuickText = ""
    file: UploadFile | None = None


class QuickConfirm(Form):
    text: QuickText = ""


class CheckoutFields(Form):
    key: Annotated[str, msgspec.Meta(pattern=r"\A[0-9a-f]{32}\Z")]
    """The cart's checkout key when the form was made (`ordering.KEY_PATTERN`)."""
    delivery_date: Day
    address_id: FormId
    po_number: Annotated[Text, msgspec.Meta(max_length=PO_NUMBER_MAX)] = ""
    note: Note = ""
    payment_option: Annotated[int, msgspec.Meta(ge=0, le=MAX_ID)] = payment_terms.STANDARD
    """The payment terms chosen: the standard (0) or one of the agreement's options, by id."""

    def choices(self) -> ordering.CheckoutForm:
        return ordering.CheckoutForm(**self.values())


class CancelFields(Form):
    reason: Note = ""


def order_filter(
    status: FromQuery[OrderStatus | None] = None,
    date_from: FromQuery[Day | None] = None,
    date_to: FromQuery[Day | None] = None,
    page: FromQuery[PageNo] = 1,
    q: FromQuery[QueryText] = "",
) -> OrderFilter:
    """The orders list's filter from its query values; a bad one answers 400 before the list is read."""
    return OrderFilter(status=status, date_from=date_from, date_to=date_to, page=page, q=q.strip())


def _text(value: Any) -> str:
    """One submitted value as the text it was typed as (the first, if it came more than once)."""
    if isinstance(value, list):
        value = value[0] if value else ""
    return value if isinstance(value, str) else ""


def _company_of(request: PortalRequest) -> Company:
    """The signed-in buyer's company: the guards let only buyers in, and every buyer has one."""
    if (company := request.user.company) is None:
        raise NotAllowed()
    return company


@dataclass(frozen=True)
class Buying:
    """Whose cart a page shows and where its forms go: the buyer's own, or the one a staff member
    keeps for a customer (`for_customer`), taking an order by phone or e-mail."""

    owner: CartOwner
    company: Company
    for_customer: bool = False

    @classmethod
    def own(cls, request: PortalRequest) -> Buying:
        return cls(CartOwner.of(request.user), _company_of(request))

    @classmethod
    def customer(cls, request: PortalRequest, company: Company) -> Buying:
        return cls(CartOwner(request.user.id, company.id), company, for_customer=True)

    def url(self, request: PortalRequest, name: str, **params: Any) -> str:
        """The buyer's route `name` ("cart_line"), or for a customer its staff twin ("customer_cart_line")."""
        if self.for_customer:
            return request.app.route_reverse(f"customer_{name}", company_id=self.company.id, **params)
        return request.app.route_reverse(name, **params)

    def catalog_url(self, request: PortalRequest) -> str:
        catalog = request.app.route_reverse("catalog")
        return f"{catalog}?company={self.company.id}" if self.for_customer else catalog

    def links(self, request: PortalRequest) -> dict[str, Any]:
        """What the cart's templates link with: `cart_url("cart_line", product_id=…)`, the catalog,
        and the customer ordered for (None: the buyer's own cart)."""
        return {
            "cart_url": partial(self.url, request),
            "catalog_link": self.catalog_url(request),
            "for_customer": self.company if self.for_customer else None,
        }


def provide_own_cart(request: PortalRequest) -> Buying:
    return Buying.own(request)


async def provide_customer_cart(
    request: PortalRequest, db_session: DbSession, today: NamedDependency[date], company_id: FromPath[Id]
) -> Buying:
    """The cart the signed-in staff member keeps for the customer in the path, if they may order for it."""
    return Buying.customer(request, await ordering.customer_to_order_for(db_session, request.user, company_id, today))


async def buying_of(request: PortalRequest, db_session: AsyncSession) -> Buying:
    """For a refusal page (which the dependencies do not reach): the cart of the refused request."""
    if "company_id" in request.path_params:
        company = await ordering.customer_to_order_for(
            db_session, request.user, request.path_params["company_id"], _today(request)
        )
        return Buying.customer(request, company)
    return Buying.own(request)


def ordering_links(request: PortalRequest, company: Company) -> dict[str, Any]:
    """The cart links of a catalog page of `company`: the buyer's own cart; for staff who may order
    for customers, the cart they keep for this one; for anyone else none (`cart_url` None)."""
    if can(request.user, "buy"):
        return Buying.own(request).links(request)
    if can(request.user, "order_for_customer"):
        return Buying.customer(request, company).links(request)
    return {"cart_url": None, "catalog_link": "", "for_customer": None}


def _today(request: PortalRequest) -> date:
    """Today in the seller's calendar, for a refusal page (which the dependencies do not reach)."""
    return clock.today(settings_of(request).seller_zone)


# The cart page, its fragment, and a line refused.
async def cart_page(
    request: PortalRequest,
    db_session: AsyncSession,
    today: date,
    settings: Settings,
    buying: Buying,
    *,
    errors: dict[int, str] | None = None,
    entered: dict[int, str] | None = None,
    status_code: int = 200,
) -> Template:
    priced = await carts.priced_cart(
        db_session,
        request.user,
        buying.company,
        today=today,
        grace_days=settings.past_due_grace_days,
        errors=errors,
        entered=entered,
    )
    progress = buyer_agreement.cart_progress(buying.company, priced)
    context = {"cart": priced, "progress": progress, **buying.links(request)}
    return render(request, "cart/index.html", context, partial="cart/_partials/cart.html", status_code=status_code)


async def line_refused(request: PortalRequest, db_session: AsyncSession, refusal: Refusal) -> Template:
    """The cart again with the message next to the refused line and its quantity as typed."""
    product_id: int = request.path_params["product_id"]
    message = refusal.errors.get("quantity") or refusal.message
    return await cart_page(
        request,
        db_session,
        _today(request),
        settings_of(request),
        await buying_of(request, db_session),
        errors={product_id: message},
        entered={product_id: _text(refusal.entered.get("quantity"))},
        status_code=refusal.status_code,
    )


async def _changed(
    request: PortalRequest, db_session: AsyncSession, today: date, settings: Settings, buying: Buying
) -> Template | Redirect:
    """After a change of a line: the fresh fragment for htmx, else back to the cart page."""
    if is_partial(request):
        return await cart_page(request, db_session, today, settings, buying)
    return Redirect(buying.url(request, "cart"), status_code=303)


def _added(
    request: PortalRequest, buying: Buying, back: str, *, message: str = "", error: str = ""
) -> Template | Redirect:
    """Said next to the catalog row's add button (htmx), or flashed on the page the buyer came from."""
    if is_partial(request):
        context = {"message": message, "error": error, **buying.links(request)}
        return Template("cart/_partials/added.html", context=context, headers={"Vary": "HX-Request"})
    flash(request, error or message, "error" if error else "success")
    return Redirect(safe_next(back) or buying.catalog_url(request), status_code=303)


def _added_message(buying: Buying, line: carts.CartLine, quantity: int) -> str:
    values = {"quantity": quantity, "name": line.product.name}
    if buying.for_customer:
        values["company"] = buying.company.name
        return gettext("Added %(quantity)d × %(name)s to the cart for %(company)s.") % values
    return gettext("Added %(quantity)d × %(name)s to your cart.") % values


async def add_refused(request: PortalRequest, db_session: AsyncSession, refusal: Refusal) -> Template | Redirect:
    if "product_id" in refusal.errors:
        error = gettext("This product is not sold any more.")
    else:
        error = next(iter(refusal.errors.values()), refusal.message)
    return _added(request, await buying_of(request, db_session), _text(refusal.entered.get("next")), error=error)


# Quick order.
def quick_page(
    report: QuickOrderReport | None = None, text: str = "", errors: dict[str, str] | None = None, status_code: int = 200
) -> Template:
    """The quick-order form with its limits stated up front; after a check, the report of every line."""
    return Template(
        "cart/quick.html",
        status_code=status_code,
        context={
            "report": report,
            "text": report.text if report else text,
            "errors": errors or {},
            "max_lines": format_decimal(QUICK_MAX_LINES, 0),
            "max_size": QUICK_MAX_SIZE,
        },
    )


async def quick_refused(request: PortalRequest, db_session: AsyncSession, refusal: Refusal) -> Template:
    return quick_page(text=_text(refusal.entered.get("text")), errors=refusal.errors, status_code=refusal.status_code)


def _quick_added(report: QuickOrderReport) -> str:
    added = len(report.lines)
    message = ngettext("Added %(num)d line to your cart.", "Added %(num)d lines to your cart.", added) % {"num": added}
    if report.skipped:
        message += " " + ngettext(
            "%(num)d line with errors was left out.", "%(num)d lines with errors were left out.", report.skipped
        ) % {"num": report.skipped}
    return message


class CartController(Controller):
    path = "/cart"
    guards = buyers
    dependencies = {"buying": Provide(provide_own_cart, sync_to_thread=False)}

    @get("/", name="cart")
    async def show(
        self,
        request: PortalRequest,
        db_session: DbSession,
        today: NamedDependency[date],
        settings: NamedDependency[Settings],
        buying: NamedDependency[Buying],
    ) -> Template:
        return await cart_page(request, db_session, today, settings, buying)

    @post("/add", name="cart_add", opt={"form": add_refused})
    async def add(
        self,
        request: PortalRequest,
        db_session: DbSession,
        buying: NamedDependency[Buying],
        data: URLEncodedBody[AddToCart],
    ) -> Template | Redirect:
        line = await carts.add_to_cart(db_session, buying.owner, data.product_id, data.quantity)
        return _added(request, buying, data.next, message=_added_message(buying, line, data.quantity))

    @post("/lines/{product_id:int}", name="cart_line", opt={"form": line_refused})
    async def update(
        self,
        request: PortalRequest,
        db_session: DbSession,
        today: NamedDependency[date],
        settings: NamedDependency[Settings],
        buying: NamedDependency[Buying],
        product_id: Id,
        data: URLEncodedBody[LineQuantity],
    ) -> Template | Redirect:
        await carts.set_quantity(db_session, buying.owner, product_id, data.quantity)
        return await _changed(request, db_session, today, settings, buying)

    @post("/lines/{product_id:int}/remove", name="cart_remove")
    async def remove(
        self,
        request: PortalRequest,
        db_session: DbSession,
        today: NamedDependency[date],
        settings: NamedDependency[Settings],
        buying: NamedDependency[Buying],
        product_id: Id,
    ) -> Template | Redirect:
        await carts.remove_line(db_session, buying.owner, product_id)
        return await _changed(request, db_session, today, settings, buying)

    @get("/quick", name="quick_order")
    async def quick_form(self) -> Template:
        return quick_page()

    @post("/quick", name="quick_order_check", opt={"form": quick_refused})
    async def quick_check(
        self, db_session: DbSession, data: Annotated[QuickOrder, Body(media_type=RequestEncodingType.MULTI_PART)]
    ) -> Template:
        content = await data.file.read(QUICK_MAX_BYTES + 1) if data.file is not None else None
        return quick_page(await carts.check_quick_order(db_session, data.text, content))

    @post("/quick/confirm", name="quick_order_confirm", opt={"form": quick_refused})
    async def quick_confirm(
        self,
        request: PortalRequest,
        db_session: DbSession,
        data: Annotated[QuickConfirm, Body(media_type=RequestEncodingType.MULTI_PART)],
    ) -> Redirect:
        report = await carts.add_quick_order(db_session, request.user, data.text)
        flash(request, _quick_added(report), "success")
        return Redirect(request.app.route_reverse("cart"), status_code=303)


# Checkout.
async def checkout_page(
    request: PortalRequest,
    db_session: AsyncSession,
    today: date,
    settings: Settings,
    buying: Buying,
    refusal: Refusal | None = None,
) -> Template:
    """The cart as it will be ordered, the credit it uses and the form; the form always carries the
    cart's current key, so what is submitted is what is shown. After a refusal: the fields as typed."""
    company = buying.company
    priced = await carts.priced_cart(
        db_session, request.user, company, today=today, grace_days=settings.past_due_grace_days
    )
    addresses = await ordering.company_addresses(db_session, company.id)
    earliest = delivery.earliest(company, today, _seller_time(settings))
    default = next((a for a in addresses if a.is_default), addresses[0] if addresses else None)
    form = {
        "po_number": "",
        "delivery_date": earliest.isoformat(),
        "address_id": str(default.id) if default else "",
        "note": "",
        "payment_option": str(payment_terms.STANDARD),
    }
    if refusal is not None:
        form = {name: _text(refusal.entered.get(name)) for name in form}
    return Template(
        "cart/checkout.html",
        status_code=refusal.status_code if refusal else 200,
        context={
            "cart": priced,
            "payment_choices": payment_terms.checkout_choices(company, priced),
            "key": priced.cart.checkout_key,
            "form": form,
            "errors": refusal.errors if refusal else {},
            "notice": _checkout_notice(company, refusal),
            "addresses": addresses,
            "earliest": earliest,
            "delivery_days": delivery.weekday_names(company),
            "company": company,
            "po_number_max": PO_NUMBER_MAX,
            "note_max": NOTE_MAX,
            **buying.links(request),
        },
    )


def _seller_time(settings: Settings) -> time:
    """The seller's time of day now, read against a company's order cut-off."""
    return clock.now().astimezone(settings.seller_zone).time()


def _checkout_terms(today: date, settings: Settings) -> dict[str, Any]:
    """What a submission is checked with besides the form: the seller's day and time of day (read
    against the company's cut-off), the grace period before past due, the global margin floor."""
    return {
        "today": today,
        "now": _seller_time(settings),
        "grace_days": settings.past_due_grace_days,
        "margin_floor": settings.margin_floor_pct,
    }


def _checkout_notice(company: Company, refusal: Refusal | None) -> str:
    """What is said above the form about the form as a whole (the hold has its own banner)."""
    if refusal is None or company.on_hold:
        return ""
    if "key" in refusal.errors:
        return gettext("This checkout form is out of date. Please review your cart and submit again.")
    return refusal.errors.get("") or refusal.errors.get("cart") or ""


async def checkout_refused(request: PortalRequest, db_session: AsyncSession, refusal: Refusal) -> Template:
    buying = await buying_of(request, db_session)
    return await checkout_page(request, db_session, _today(request), settings_of(request), buying, refusal)


def _placed(request: PortalRequest, submission: Submission, company: Company) -> Redirect:
    """After an order taken for a customer: its review page in the queue."""
    values = {"number": submission.order.number, "company": company.name}
    if not submission.created:
        flash(
            request, gettext("Order %(number)s had already been placed for %(company)s; here it is.") % values, "info"
        )
    elif submission.order.status is OrderStatus.APPROVED:
        flash(request, gettext("Order %(number)s placed for %(company)s and approved.") % values, "success")
    else:
        flash(request, gettext("Order %(number)s placed for %(company)s.") % values, "success")
    return Redirect(request.app.route_reverse("review", order_id=submission.order.id), status_code=303)


def _submitted(request: PortalRequest, submission: Submission) -> Redirect:
    number = {"number": submission.order.number}
    if submission.created and submission.order.status is OrderStatus.APPROVED:
        flash(request, gettext("Order %(number)s submitted and approved.") % number, "success")
    elif submission.created:
        flash(
            request,
            gettext("Order %(number)s submitted. It waits for approval by your account manager.") % number,
            "success",
        )
    else:
        flash(request, gettext("Order %(number)s had already been submitted; here it is.") % number, "info")
    return Redirect(request.app.route_reverse("order", order_id=submission.order.id), status_code=303)


class CheckoutController(Controller):
    path = "/checkout"
    guards = buyers
    dependencies = {"buying": Provide(provide_own_cart, sync_to_thread=False)}

    @get("/", name="checkout")
    async def show(
        self,
        request: PortalRequest,
        db_session: DbSession,
        today: NamedDependency[date],
        settings: NamedDependency[Settings],
        buying: NamedDependency[Buying],
    ) -> Template:
        return await checkout_page(request, db_session, today, settings, buying)

    @post("/", name="submit_order", opt={"form": checkout_refused})
    async def submit(
        self,
        request: PortalRequest,
        db_session: DbSession,
        company: NamedDependency[Company],
        today: NamedDependency[date],
        settings: NamedDependency[Settings],
        data: URLEncodedBody[CheckoutFields],
    ) -> Redirect:
        terms = _checkout_terms(today, settings)
        submission = await ordering.submit_order(db_session, request.user, company, data.choices(), **terms)
        return _submitted(request, submission)


class CustomerCartController(Controller):
    """An order taken by phone or e-mail: the cart the signed-in account manager (deputy, admin)
    keeps for one customer, its checkout, in the customer's prices and terms."""

    path = "/customers/{company_id:int}"
    guards = ordering_staff
    dependencies = {"buying": Provide(provide_customer_cart)}

    @get("/cart", name="customer_cart")
    async def show(
        self,
        request: PortalRequest,
        db_session: DbSession,
        today: NamedDependency[date],
        settings: NamedDependency[Settings],
        buying: NamedDependency[Buying],
    ) -> Template:
        return await cart_page(request, db_session, today, settings, buying)

    @post("/cart/add", name="customer_cart_add", opt={"form": add_refused})
    async def add(
        self,
        request: PortalRequest,
        db_session: DbSession,
        buying: NamedDependency[Buying],
        data: URLEncodedBody[AddToCart],
    ) -> Template | Redirect:
        line = await carts.add_to_cart(db_session, buying.owner, data.product_id, data.quantity)
        return _added(request, buying, data.next, message=_added_message(buying, line, data.quantity))

    @post("/cart/lines/{product_id:int}", name="customer_cart_line", opt={"form": line_refused})
    async def update(
        self,
        request: PortalRequest,
        db_session: DbSession,
        today: NamedDependency[date],
        settings: NamedDependency[Settings],
        buying: NamedDependency[Buying],
        product_id: Id,
        data: URLEncodedBody[LineQuantity],
    ) -> Template | Redirect:
        await carts.set_quantity(db_session, buying.owner, product_id, data.quantity)
        return await _changed(request, db_session, today, settings, buying)

    @post("/cart/lines/{product_id:int}/remove", name="customer_cart_remove")
    async def remove(
        self,
        request: PortalRequest,
        db_session: DbSession,
        today: NamedDependency[date],
        settings: NamedDependency[Settings],
        buying: NamedDependency[Buying],
        product_id: Id,
    ) -> Template | Redirect:
        await carts.remove_line(db_session, buying.owner, product_id)
        return await _changed(request, db_session, today, settings, buying)

    @get("/checkout", name="customer_checkout")
    async def checkout(
        self,
        request: PortalRequest,
        db_session: DbSession,
        today: NamedDependency[date],
        settings: NamedDependency[Settings],
        buying: NamedDependency[Buying],
    ) -> Template:
        return await checkout_page(request, db_session, today, settings, buying)

    @post("/checkout", name="customer_submit_order", opt={"form": checkout_refused})
    async def submit(
        self,
        request: PortalRequest,
        db_session: DbSession,
        today: NamedDependency[date],
        settings: NamedDependency[Settings],
        buying: NamedDependency[Buying],
        data: URLEncodedBody[CheckoutFields],
    ) -> Redirect:
        terms = _checkout_terms(today, settings)
        submission = await ordering.submit_for_customer(
            db_session, request.user, buying.company, data.choices(), **terms
        )
        return _placed(request, submission, buying.company)


# The company's orders.
async def order_page(
    request: PortalRequest, db_session: AsyncSession, order_id: int, refusal: Refusal | None = None
) -> Template:
    """One order of the company with its timeline; after a refused cancel, why, and the reason as typed."""
    company_id = request.user.company_id or 0
    view = OrderView(await ordering.buyer_order(db_session, company_id, order_id))
    schedule = await schedules.schedule_of_order(db_session, company_id, order_id)
    return Template(
        "orders/show.html",
        status_code=refusal.status_code if refusal else 200,
        context={
            "view": view,
            "order": view.order,
            "schedule": schedule,
            "errors": refusal.errors if refusal else {},
            "reason": _text(refusal.entered.get("reason")) if refusal else "",
            "reason_max": NOTE_MAX,
        },
    )


async def cancel_refused(request: PortalRequest, db_session: AsyncSession, refusal: Refusal) -> Template:
    return await order_page(request, db_session, request.path_params["order_id"], refusal)


def _reordered(lines: list[ordering.ReorderLine]) -> str:
    added = [line for line in lines if line.available]
    message = ngettext(
        "Added %(num)d line to your cart at today's prices.",
        "Added %(num)d lines to your cart at today's prices.",
        len(added),
    ) % {"num": len(added)}
    if changed := sum(1 for line in added if line.price_changed):
        message += " " + ngettext(
            "%(num)d of them changed price since the order.", "%(num)d of them changed price since the order.", changed
        ) % {"num": changed}
    if skipped := len(lines) - len(added):
        message += " " + ngettext("%(num)d line could not be added.", "%(num)d lines could not be added.", skipped) % {
            "num": skipped
        }
    return message


class OrdersController(Controller):
    path = "/orders"
    guards = buyers

    @get("/", name="orders", dependencies={"wanted": Provide(order_filter, sync_to_thread=False)})
    async def index(
        self,
        db_session: DbSession,
        company: NamedDependency[Company],
        settings: NamedDependency[Settings],
        wanted: NamedDependency[OrderFilter],
    ) -> Template:
        page = await ordering.company_orders(db_session, company.id, wanted, settings.seller_zone)
        return Template("orders/index.html", context={"page": page, "statuses": list(OrderStatus), "company": company})

    @get("/{order_id:int}", name="order")
    async def show(self, request: PortalRequest, db_session: DbSession, order_id: Id) -> Template:
        return await order_page(request, db_session, order_id)

    @post("/{order_id:int}/cancel", name="cancel_order", opt={"form": cancel_refused})
    async def cancel(
        self, request: PortalRequest, db_session: DbSession, order_id: Id, data: URLEncodedBody[CancelFields]
    ) -> Redirect:
        order = await ordering.cancel_order(db_session, request.user, order_id, data.reason)
        flash(request, gettext("Order %(number)s cancelled.") % {"number": order.number}, "success")
        return Redirect(request.app.route_reverse("order", order_id=order_id), status_code=303)

    @get("/{order_id:int}/reorder", name="reorder_preview")
    async def reorder_preview(
        self, db_session: DbSession, company: NamedDependency[Company], today: NamedDependency[date], order_id: Id
    ) -> Template:
        order, lines = await ordering.reorder_preview(db_session, company, order_id, today)
        return Template("orders/reorder.html", context={"order": order, "lines": lines})

    @post("/{order_id:int}/reorder", name="reorder")
    async def reorder(
        self,
        request: PortalRequest,
        db_session: DbSession,
        company: NamedDependency[Company],
        today: NamedDependency[date],
        order_id: Id,
    ) -> Redirect:
        lines = await ordering.reorder(db_session, request.user, company, order_id, today)
        flash(request, _reordered(lines), "info")
        return Redirect(request.app.route_reverse("cart"), status_code=303)
