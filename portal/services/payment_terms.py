"""Payment terms carry price: the terms an order is paid on, chosen at checkout from those the
company's framework agreement allows, and the early-payment discount (skonto) it grants.

- The choices: the company's standard terms (`Company.payment_terms_days`, no price effect) and
  each of the agreement's payment options (`PaymentOption`: days, 0 = prepayment, and a signed
  price effect in %). Without an active agreement there is only the standard.
- The effect applies to every line's unit price: unit × (1 + effect / 100), half-up to 4 decimal
  places, before the line nets, VAT, totals, margin and credit are computed, so everything sees
  the price the buyer pays.
- Submitting freezes the terms on the order (`Terms.freeze`): the agreement, the days, the effect,
  whether it is prepaid (days 0), and the agreement's skonto. A prepaid order does not count in
  exposure (`services/credit.py`). Recurring orders and accepted quotes take the standard terms,
  still with the agreement and its skonto.
- Skonto on the statement: earned when the invoice's payments made on or before issue date +
  skonto days cover its gross less the skonto; while that day has not passed, still possible;
  otherwise missed. Payment dates are the ERP's (`Payment.paid_on`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from portal.i18n import format_date, format_decimal, format_money, gettext, ngettext
from portal.models import Agreement, Company, Invoice, Order, OrderLine, Payment
from portal.services import delivery
from portal.services.agreements import active_agreement
from portal.services.pricing import line_net
from portal.services.totals import Totals, totals

if TYPE_CHECKING:
    from portal.services.cart import PricedCart

ZERO = Decimal("0.00")
CENT = Decimal("0.01")
UNIT = Decimal("0.0001")
STANDARD = 0
"""The form's value for the company's standard terms; any other value is a payment option's id."""


def with_effect(unit_price: Decimal, effect_pct: Decimal) -> Decimal:
    """A unit price after the payment terms' price effect, half-up to 4 decimal places."""
    if not effect_pct:
        return unit_price
    return (unit_price * (1 + effect_pct / 100)).quantize(UNIT, rounding=ROUND_HALF_UP)


def apply_effect(lines: Iterable[OrderLine], effect_pct: Decimal) -> None:
    """Puts the effect into each order line's unit price and net (nothing to do without one)."""
    if not effect_pct:
        return
    for line in lines:
        line.unit_price = with_effect(line.unit_price, effect_pct)
        line.line_net = line_net(line.unit_price, line.quantity)


@dataclass(frozen=True)
class Terms:
    """The payment terms an order is placed on, as frozen on it."""

    option_id: int
    """`STANDARD` or the payment option's id."""
    days: int
    effect_pct: Decimal
    agreement_id: int | None
    skonto_pct: Decimal | None
    skonto_days: int | None

    @property
    def prepaid(self) -> bool:
        return self.days == 0

    def freeze(self) -> dict[str, object]:
        """The order's columns these terms set."""
        return {
            "agreement_id": self.agreement_id,
            "payment_terms_days": self.days,
            "payment_effect_pct": self.effect_pct,
            "prepaid": self.prepaid,
            "skonto_pct": self.skonto_pct,
            "skonto_days": self.skonto_days,
        }


def choices(company: Company, agreement: Agreement | None) -> list[Terms]:
    """The standard terms first, then the agreement's options by days."""
    agreement_id = agreement.id if agreement else None
    skonto_pct = agreement.skonto_pct if agreement and agreement.skonto_pct else None
    skonto_days = agreement.skonto_days if skonto_pct is not None and agreement else None
    offered = [Terms(STANDARD, company.payment_terms_days, ZERO, agreement_id, skonto_pct, skonto_days)]
    for option in agreement.payment_options if agreement else []:
        offered.append(Terms(option.id, option.days, option.price_effect_pct, agreement_id, skonto_pct, skonto_days))
    return offered


async def offered(session: AsyncSession, company: Company, today: date) -> list[Terms]:
    """The terms the company may order on today (its active agreement's options, if any)."""
    return choices(company, await active_agreement(session, company.id, today))


def pick(offered: Sequence[Terms], option_id: int) -> Terms | None:
    """The chosen terms, None when they were not offered (a form from elsewhere)."""
    return next((terms for terms in offered if terms.option_id == option_id), None)


NOT_OFFERED = "payment_option"
"""The checkout field the terms are chosen with, named in a refusal."""


def not_offered_message() -> str:
    return gettext("Choose one of the payment terms offered.")


# --- words ------------------------------------------------------------------------------------


def signed_pct(value: Decimal) -> str:
    """ "+1.00 %", "−1.00 %" (a true minus sign)."""
    sign = "−" if value < 0 else "+"
    return f"{sign}{format_decimal(abs(value), 2)} %"


def days_text(days: int) -> str:
    if days == 0:
        return gettext("Prepayment")
    return ngettext("%(num)d day", "%(num)d days", days) % {"num": days}


def terms_text(days: int, effect_pct: Decimal) -> str:
    """ "Prepayment (−1.00 %)", "60 days (+1.00 %)", "30 days"."""
    text = days_text(days)
    return f"{text} ({signed_pct(effect_pct)})" if effect_pct else text


def order_terms(order: Order) -> str:
    return terms_text(order.payment_terms_days, order.payment_effect_pct or ZERO)


def order_terms_sentence(order: Order) -> str:
    """As a document states them: "Payment within 60 days (+1.00 %)", "Prepayment (−1.00 %)"."""
    days, effect = order.payment_terms_days, order.payment_effect_pct or ZERO
    if days == 0:
        return terms_text(days, effect)
    text = ngettext("Payment within %(num)d day", "Payment within %(num)d days", days) % {"num": days}
    return f"{text} ({signed_pct(effect)})" if effect else text


def skonto_text(pct: Decimal | None, days: int | None) -> str:
    """ "2.00 % early-payment discount if paid within 7 days of the invoice date", or nothing."""
    if not pct or days is None:
        return ""
    return ngettext(
        "%(pct)s %% early-payment discount if paid within %(num)d day of the invoice date",
        "%(pct)s %% early-payment discount if paid within %(num)d days of the invoice date",
        days,
    ) % {"pct": format_decimal(pct, 2), "num": days}


def order_skonto(order: Order) -> str:
    return skonto_text(order.skonto_pct, order.skonto_days)


# --- what each choice costs, before submission --------------------------------------------------


@dataclass(frozen=True)
class Choice:
    """One payment-term choice at checkout with the order's totals on it."""

    terms: Terms
    totals: Totals

    @property
    def label(self) -> str:
        if self.terms.option_id == STANDARD:
            return gettext("Standard terms: %(terms)s") % {"terms": days_text(self.terms.days)}
        text = days_text(self.terms.days)
        return f"{text}, {signed_pct(self.terms.effect_pct)}" if self.terms.effect_pct else text


def priced_choices(
    company: Company, offered: Sequence[Terms], lines: Sequence[tuple[Decimal, int, Decimal]]
) -> list[Choice]:
    """The totals the order would have on each of the `offered` terms, from its (unit price,
    quantity, VAT rate) lines, with the delivery fee as the order gets it (`ordering.place_order`)."""
    result = []
    for terms in offered:
        nets = [(line_net(with_effect(unit, terms.effect_pct), quantity), rate) for unit, quantity, rate in lines]
        products_net = sum((net for net, _ in nets), ZERO)
        fee = delivery.delivery_fee(company, products_net) if nets else ZERO
        result.append(Choice(terms, totals([*nets, *([(fee, delivery.FEE_VAT_RATE)] if fee else [])])))
    return result


# --- skonto on the statement ----------------------------------------------------------------------


class SkontoState(StrEnum):
    EARNED = "earned"
    MISSED = "missed"
    OPEN = "open"


@dataclass(frozen=True)
class Skonto:
    """An invoice's early-payment discount and whether it was earned."""

    pct: Decimal
    until: date
    """The last day a payment earns it: issue date + skonto days."""
    amount: Decimal
    """The discount: the invoice's gross × pct, half-up to the cent."""
    state: SkontoState

    def text(self, currency: str) -> str:
        values = {"pct": format_decimal(self.pct, 0 if self.pct == self.pct.to_integral_value() else 2)}
        if self.state is SkontoState.EARNED:
            return gettext("Skonto %(pct)s %%: earned") % values
        if self.state is SkontoState.MISSED:
            return gettext("Skonto %(pct)s %%: missed") % values
        return gettext("Skonto %(pct)s %%: possible until %(date)s: %(amount)s") % {
            **values,
            "date": format_date(self.until),
            "amount": format_money(self.amount, currency),
        }


def skonto_of(
    invoice: Invoice, pct: Decimal, days: int, payments: Sequence[tuple[date, Decimal]], today: date
) -> Skonto:
    """Pure: earned when the payments made by the last day cover the gross less the discount."""
    until = invoice.issue_date + timedelta(days=days)
    amount = (invoice.gross_amount * pct / 100).quantize(CENT, rounding=ROUND_HALF_UP)
    in_time = sum((paid for paid_on, paid in payments if paid_on <= until), ZERO)
    if in_time >= invoice.gross_amount - amount:
        state = SkontoState.EARNED
    elif today <= until and invoice.balance > 0:
        state = SkontoState.OPEN
    else:
        state = SkontoState.MISSED
    return Skonto(pct, until, amount, state)


async def invoice_skontos(
    session: AsyncSession, company_id: int, invoices: Sequence[Invoice], today: date
) -> dict[int, Skonto]:
    """The skonto of each invoice whose order carries one, by invoice id, in one query."""
    rows = await session.execute(
        select(Invoice.id, Order.skonto_pct, Order.skonto_days, Payment.paid_on, Payment.amount)
        .join(Order, (Order.number == Invoice.order_number) & (Order.company_id == Invoice.company_id))
        .outerjoin(Payment, Payment.invoice_id == Invoice.id)
        .where(
            Invoice.company_id == company_id,
            Invoice.id.in_([invoice.id for invoice in invoices]),
            Order.skonto_pct > 0,
            Order.skonto_days.is_not(None),
        )
    )
    terms: dict[int, tuple[Decimal, int]] = {}
    payments: dict[int, list[tuple[date, Decimal]]] = defaultdict(list)
    for invoice_id, pct, days, paid_on, amount in rows:
        if pct is None or days is None:  # the query keeps only orders with both
            continue
        terms[invoice_id] = (pct, days)
        if paid_on is not None:
            payments[invoice_id].append((paid_on, amount))
    by_id = {invoice.id: invoice for invoice in invoices}
    return {
        invoice_id: skonto_of(by_id[invoice_id], pct, days, payments[invoice_id], today)
        for invoice_id, (pct, days) in terms.items()
    }


def checkout_choices(company: Company, cart: PricedCart) -> list[Choice]:
    """The terms the checkout offers for this cart (those of the agreement it was priced under),
    each with the order's totals on it."""
    lines = [
        (item.price.unit_price, item.line.quantity, item.product.vat_rate) for item in cart.orderable if item.price
    ]
    agreement = cart.standing.agreement if cart.standing else None
    return priced_choices(company, choices(company, agreement), lines)
