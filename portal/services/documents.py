"""Documents a buyer can file or forward, as PDF: the confirmation of an order, the statement of
account and one version of a quote. Each is a Jinja template of `templates/documents/` laid out by
the print stylesheet (`static/css/print.css`: A4, page numbers) and written in the reader's
language, then made a PDF by WeasyPrint.

The data is loaded first, in the caller's async session; the HTML is written in the event loop in
the reader's language; only the HTML → PDF step, which is CPU-heavy, runs in a thread, so neither a
web process nor the worker stalls on it. Nothing is fetched over the network: the stylesheet is
read from the file system, and any other address a document might name is refused."""

from __future__ import annotations

import asyncio
import logging
import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from functools import cache
from typing import TYPE_CHECKING, Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload, selectinload

from portal import i18n
from portal.errors import NotFound
from portal.models import Company, Order, OrderStatus, Quote, QuoteLine, QuoteVersion, Role, User
from portal.services import ordering, payment_terms
from portal.services.statement import Statement, account_statement
from portal.services.totals import Totals, VatLine, totals
from portal.settings import STATIC_DIR, TEMPLATES_DIR, Settings

if TYPE_CHECKING:
    from weasyprint import CSS

log = logging.getLogger("portal.documents")

PDF = "application/pdf"
PRINT_CSS = STATIC_DIR / "css" / "print.css"
ORDER_ATTACHMENT = re.compile(r"order:([0-9]{1,10})")
"""`OutboxMessage.attachment` of an e-mail that carries an order's confirmation: "order:12"."""
MAX_ID = 2**31 - 1


def order_attachment(order_id: int) -> str:
    """What an e-mail stores to carry this order's confirmation (see `attachment`)."""
    return f"order:{order_id}"


def _order_status(status: OrderStatus) -> str:
    """The order page's word for the status (`ordering.status_label`), looked up when a document is
    written: `ordering` imports `notifications`, which imports this module."""
    return ordering.status_label(status)


_templates = i18n.install(
    Environment(loader=FileSystemLoader(TEMPLATES_DIR / "documents"), autoescape=select_autoescape(["html"]))
)
_templates.filters.update(
    order_status=_order_status,
    order_note=lambda order: ordering.order_note(order),
    payment_terms=payment_terms.order_terms_sentence,
    skonto_terms=payment_terms.order_skonto,
)
"""Documents are written like pages: `_()`, and the portal's money and date formats."""


@dataclass(frozen=True)
class Seller:
    """Who sells, as every document names them (`Settings.seller_*`)."""

    name: str
    tax_id: str
    address: str

    @classmethod
    def of(cls, settings: Settings) -> Seller:
        return cls(settings.seller_name, settings.seller_tax_id, settings.seller_address)

    @classmethod
    def default(cls) -> Seller:
        """The portal's defaults, for a worker started without settings (tests)."""
        return cls(Settings.seller_name, Settings.seller_tax_id, Settings.seller_address)


@dataclass(frozen=True)
class Document:
    """A finished PDF with the name it is offered under."""

    filename: str
    content: bytes


@dataclass(frozen=True)
class OrderConfirmation:
    """What an order's confirmation states: the order as submitted, with its VAT per rate (the
    totals themselves are the order's, as its page shows them)."""

    order: Order
    company: Company
    by_rate: list[VatLine]


# Loading, in the caller's session.
async def _order(session: AsyncSession, order_id: int) -> Order | None:
    return await session.scalar(
        select(Order).options(selectinload(Order.lines), joinedload(Order.company)).where(Order.id == order_id)
    )


def confirmation_of(order: Order) -> OrderConfirmation:
    """VAT per rate the way the order was totalled at submission: the lines and the delivery fee."""
    charged = [(line.line_net, line.vat_rate) for line in order.lines]
    if order.delivery_fee:
        charged.append((order.delivery_fee, order.delivery_fee_vat_rate))
    return OrderConfirmation(order, order.company, totals(charged).by_rate)


# The PDF, in a thread. WeasyPrint (and the pango library it loads) is imported only here, when a
# document is written: the portal starts and serves its pages on a machine without pango.
@cache
def _stylesheet() -> CSS:
    from weasyprint import CSS

    return CSS(filename=str(PRINT_CSS))


def _to_pdf(html: str) -> bytes:
    """CPU-heavy: call it through `asyncio.to_thread`. Addresses other than files are refused."""
    from weasyprint import HTML
    from weasyprint.urls import URLFetcher

    fetcher = URLFetcher(allowed_protocols=("file",))
    document = HTML(string=html, base_url=str(STATIC_DIR) + "/", url_fetcher=fetcher)
    pdf = document.write_pdf(stylesheets=[_stylesheet()])
    assert pdf is not None  # written to memory when no target is given
    return pdf


async def _render(filename: str, template: str, context: dict[str, Any]) -> Document:
    """The HTML in the language being written in now, then the PDF in a thread."""
    html = _templates.get_template(template).render(**context, lang=i18n.locale())
    return Document(filename, await asyncio.to_thread(_to_pdf, html))


# The documents.
async def order_confirmation(session: AsyncSession, order_id: int, seller: Seller) -> Document:
    """The confirmation of an order: `NotFound` when there is no such order. Whether the reader may
    see it is the caller's to decide (the routes' scoping guard), before this is called."""
    order = await _order(session, order_id)
    if order is None:
        raise NotFound()
    return await _render(
        f"{order.number}.pdf",
        "order_confirmation.html",
        {"seller": seller, "confirmation": confirmation_of(order), "order": order, "company": order.company},
    )


@dataclass(frozen=True)
class QuoteOffer:
    """What a quote's document states: one version as the buyer reads it (a sent one, or the
    account manager's draft, marked so), its lines and totals. Never costs, margins, floor reasons
    or the thread: none of them is on this object."""

    quote: Quote
    version: QuoteVersion
    label: str
    """Q-2026-000123/2"""
    lines: list[tuple[QuoteLine, Decimal | None]]
    """Each line with its net value at the offered price (None while a draft's line has no price)."""
    totals: Totals
    draft: bool


async def _readable_version(
    session: AsyncSession, reader: User, quote_id: int, number: int, today: date
) -> tuple[Quote, QuoteVersion]:
    """The version `number` of a quote as this reader may have it: a buyer only their company's
    quotes and only sent versions; staff who see the company (`quotes.staff_quote`) the sent ones
    and the draft. Anything else is `NotFound`."""
    from portal.services import quotes  # quotes tells people by e-mail: notifications imports this module

    if reader.role is Role.BUYER:
        quote = await quotes.buyer_quote(session, reader, quote_id)
        version = quotes.sent_of(quote, number)
    else:
        quote = await quotes.staff_quote(session, reader, quote_id, today)
        version = quotes.sent_of(quote, number)
        if version is None and (draft := quotes.draft_of(quote)) is not None and draft.number == number:
            version = draft
    if version is None:
        raise NotFound()
    return quote, version


def offer_of(quote: Quote, version: QuoteVersion) -> QuoteOffer:
    from portal.services import quote_views, quotes  # imported when used, as in `_readable_version`

    return QuoteOffer(
        quote,
        version,
        quotes.version_label(quote, version.number),
        [(line, quote_views.line_value(line)) for line in version.lines],
        quote_views.version_totals(version),
        draft=version.sent_at is None,
    )


async def quote_offer(
    session: AsyncSession, reader: User, quote_id: int, number: int, *, today: date, seller: Seller
) -> Document:
    """One version of a quote as a PDF, for a reader who may have it (`_readable_version`): the
    seller and the customer, the quote's number, when it was sent and until when it is valid, the
    lines at the offered prices, the totals, the delivery and payment terms."""
    quote, version = await _readable_version(session, reader, quote_id, number, today)
    offer = offer_of(quote, version)
    name = offer.label.replace("/", "-v")
    return await _render(
        f"{name}-draft.pdf" if offer.draft else f"{name}.pdf",
        "quote.html",
        {"seller": seller, "offer": offer, "quote": quote, "version": version, "company": quote.company},
    )


async def statement_of_account(
    session: AsyncSession, company_id: int, *, today: date, grace_days: int, seller: Seller
) -> Document:
    """The company's statement as its page and CSV show it: open invoices, paid ones of the last
    year, the balance and what of it is overdue, the credit limit, available credit and terms."""
    account: Statement = await account_statement(session, company_id, today=today, grace_days=grace_days)
    company = account.picture.company
    return await _render(
        f"statement-{company.tax_id}-{today.isoformat()}.pdf",
        "statement.html",
        {"seller": seller, "statement": account, "picture": account.picture, "company": company},
    )


async def attachment(session: AsyncSession, reference: str, seller: Seller) -> Document | None:
    """The document an e-mail carries (`OutboxMessage.attachment`), in the language being written in
    now: "order:12" is that order's confirmation. None when it names nothing (the order is gone):
    the e-mail is sent without it."""
    named = ORDER_ATTACHMENT.fullmatch(reference)
    if named is None or not 1 <= int(named.group(1)) <= MAX_ID:
        log.warning("unknown attachment", extra={"attachment": reference[:60]})
        return None
    try:
        return await order_confirmation(session, int(named.group(1)), seller)
    except NotFound:
        return None
