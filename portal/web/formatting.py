"""Sentences that explain figures to a reader, shared by pages and downloads."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from portal.i18n import (
    N_,
    format_date,
    format_date_short,
    format_decimal,
    format_money,
    format_price_number,
    gettext,
    ngettext,
)
from portal.models import (
    CreditEvent,
    CreditEventKind,
    FlagKind,
    Order,
    OrderEvent,
    OrderFlag,
    OrderLine,
    OrderStatus,
    SettlementPeriod,
)
from portal.services import payment_terms as terms
from portal.services.agreements import Standing
from portal.services.approvals import AUTO_APPROVED, QUOTE_ACCEPTED
from portal.services.catalog import Availability
from portal.services.customers import MonthFigures
from portal.services.delivery import short_date
from portal.services.flags import Flag
from portal.services.ordering import ERP_INVOICED, ERP_TAKEN, QUOTE_PRICE, status_label
from portal.services.ordering import order_note as stored_order_note
from portal.services.pricing import Price, PriceSource, TierNote
from portal.services.recurring import occurrence_note
from portal.web.charts import Chart, Series, chart


def price_source(price: Price, unit: str) -> str:
    """Why a price is what it is: "Your contract price, valid until 31 Mar 2027"; under a volume
    tier "Price list Gold less volume tier 3 % reached on 14.11.2026"."""
    text = _resolved_source(price, unit)
    if price.tier is not None:
        text = volume_tier_note(text, price.tier.rebate_pct, price.tier.reached_on)
    return text


def volume_tier_note(source: str, rebate_pct: Decimal, reached_on: date) -> str:
    return gettext("%(source)s less volume tier %(pct)s %% reached on %(date)s") % {
        "source": source,
        "pct": _percent_number(rebate_pct),
        "date": format_date(reached_on),
    }


def _resolved_source(price: Price, unit: str) -> str:
    if price.basis is PriceSource.CONTRACT:
        text = gettext("Your contract price")
    elif price.basis is PriceSource.PRICE_LIST:
        text = gettext("Price list %(name)s") % {"name": price.price_list_name or ""}
    elif price.discount_pct:
        return gettext("List price less your %(pct)s %% discount") % {"pct": _percent_number(price.discount_pct)}
    else:
        return gettext("List price")
    if price.min_quantity > 1:
        text += gettext(", from %(quantity)s %(unit)s") % {"quantity": price.min_quantity, "unit": unit}
    if price.valid_to is not None:
        text += gettext(", valid until %(date)s") % {"date": format_date(price.valid_to)}
    return text


def line_price_source(line: OrderLine) -> str:
    """Where a submitted line's price came from, as kept with the line: "Price list Hotels, from 50"
    (a volume tier's line: "… less volume tier 3 % reached on 14.11.2026")."""
    source, note = line.price_source, line.price_note
    tier = TierNote.parse(note) if source == PriceSource.VOLUME_TIER else None
    if tier is not None:
        source, note = tier.base_source, tier.price_list_name
    if source == PriceSource.CONTRACT:
        text = gettext("Contract")
    elif source == PriceSource.PRICE_LIST:
        text = gettext("Price list %(name)s") % {"name": note}
    elif source == PriceSource.LIST_LESS_DISCOUNT:
        text = gettext("List price less discount")
    elif source == QUOTE_PRICE:
        text = gettext("Quote %(number)s") % {"number": note}
    else:
        text = source
    if line.price_min_quantity > 1:
        text = gettext("%(source)s, from %(quantity)s") % {"source": text, "quantity": line.price_min_quantity}
    if tier is not None:
        text = volume_tier_note(text, tier.rebate_pct, tier.reached_on)
    return text


def schedule_note(note: str) -> str:
    """A recurring delivery occurrence's note (a stored code) in the reader's language."""
    return occurrence_note(note)


def order_note(order: Order) -> str:
    """An order's note as its reader reads it (a recurring order's names its schedule)."""
    return stored_order_note(order)


def payment_terms(order: Order) -> str:
    """An order's payment terms with their price effect: "Prepayment (−1.00 %)", "60 days (+1.00 %)"."""
    return terms.order_terms(order)


def skonto_terms(terms_of: Order | terms.Terms) -> str:
    """The early-payment discount an order (or a checkout choice) carries, or nothing."""
    return terms.skonto_text(terms_of.skonto_pct, terms_of.skonto_days)


def _percent_number(value: Decimal) -> str:
    return format_decimal(value, 0 if value == value.to_integral_value() else 2)


def next_break(price: Price, unit: str) -> str:
    """ "from 50 pcs: 11.20", or nothing when ordering more would not lower the price."""
    if price.next_break is None:
        return ""
    return gettext("from %(quantity)s %(unit)s: %(price)s") % {
        "quantity": price.next_break.min_quantity,
        "unit": unit,
        "price": format_price_number(price.next_break.unit_price),
    }


AVAILABILITY = {
    Availability.IN_STOCK: N_("In stock"),
    Availability.LOW: N_("Low stock"),
    Availability.OUT: N_("Out of stock"),
}


def availability(value: Availability) -> str:
    return gettext(AVAILABILITY[value])


def order_status(status: OrderStatus) -> str:
    return status_label(status)


def _stored_number(text: str) -> str:
    """A number kept as text in a flag ("8.1", "1200") in the reader's format, with its own decimals."""
    try:
        value = Decimal(text)
    except ArithmeticError:
        return text
    if not value.is_finite():
        return text
    exponent = value.as_tuple().exponent
    return format_decimal(value, -exponent if isinstance(exponent, int) and exponent < 0 else 0)


def flag_text(flag: OrderFlag | Flag, currency: str) -> str:
    """A flag in words, with its numbers: one stored at submission, or one computed now."""
    data = flag.data
    money = lambda key: format_money(Decimal(data[key]), currency)  # noqa: E731
    number = lambda key: _stored_number(data[key])  # noqa: E731
    match flag.kind:
        case FlagKind.EXCEEDS_CREDIT:
            return gettext("Exceeds available credit by %(shortfall)s (available %(available)s, order %(gross)s).") % {
                "shortfall": money("shortfall"),
                "available": money("available"),
                "gross": money("gross"),
            }
        case FlagKind.PAST_DUE:
            return ngettext(
                "Company past due: %(amount)s overdue, the oldest by %(num)d day.",
                "Company past due: %(amount)s overdue, the oldest by %(num)d days.",
                int(data["days"]),
            ) % {"amount": money("overdue"), "num": int(data["days"])}
        case FlagKind.ON_HOLD:
            return gettext("Company on hold: %(reason)s") % {"reason": data.get("reason", "")}
        case FlagKind.BELOW_MARGIN_FLOOR:
            return gettext("%(sku)s below the margin floor: %(margin)s %% against %(floor)s %%.") % {
                "sku": data["sku"],
                "margin": number("margin_pct"),
                "floor": number("floor_pct"),
            }
        case FlagKind.UNUSUAL_QUANTITY:
            return gettext("%(sku)s: %(quantity)s ordered, usually %(usual)s.") % {
                "sku": data["sku"],
                "quantity": number("quantity"),
                "usual": number("usual"),
            }
        case FlagKind.PRICE_CHANGED:
            return gettext("%(sku)s: price changed from %(old)s to %(new)s.") % {
                "sku": data["sku"],
                "old": money("old"),
                "new": money("new"),
            }
        case FlagKind.NOT_SOLD:
            return gettext("%(sku)s is not sold any more; left out of this recurring delivery.") % {"sku": data["sku"]}
        case FlagKind.FIRST_ORDER:
            return gettext("First order of this company.")
        case FlagKind.BELOW_MINIMUM:
            return gettext("Under the minimum order value of %(minimum)s: %(missing)s missing.") % {
                "minimum": money("minimum"),
                "missing": money("missing"),
            }
        case FlagKind.OUTSIDE_AGREEMENT | FlagKind.OUTSIDE_AGREEMENT_BLOCKING:
            return gettext("Outside the agreement %(agreement)s: %(sku)s %(name)s") % {
                "agreement": data["agreement"],
                "sku": data["sku"],
                "name": data["name"],
            }
    return flag.kind.value


MARGIN_NOTES = {
    SettlementPeriod.MONTH: N_(
        "expected rebate: the tier the month's turnover is on track for at the pace so far (%(tiers)s)"
    ),
    SettlementPeriod.QUARTER: N_(
        "expected rebate: the tier the quarter's turnover is on track for at the pace so far (%(tiers)s)"
    ),
    SettlementPeriod.YEAR: N_(
        "expected rebate: the tier the year's turnover is on track for at the pace so far (%(tiers)s)"
    ),
}


def margin_note(standing: Standing) -> str:
    """How the margin after the terms is estimated, for staff: "expected rebate: the tier the
    quarter's turnover is on track for at the pace so far (3 %); skonto 2 % assumed taken"."""
    if standing.prospective:
        rebate = gettext("no rebate expected: volume tiers lower the prices themselves")
    else:
        tiers = [
            gettext("%(pct)s %%") % {"pct": _percent_number(scope.on_track.rebate_pct)}
            if scope.category_id is None
            else gettext("%(pct)s %% on %(category)s")
            % {"pct": _percent_number(scope.on_track.rebate_pct), "category": scope.category_name}
            for scope in standing.scopes
            if scope.on_track is not None
        ]
        shown = ", ".join(tiers) if tiers else gettext("no tier yet")
        rebate = gettext(MARGIN_NOTES[standing.agreement.period]) % {"tiers": shown}
    if standing.skonto_pct:
        skonto = gettext("skonto %(pct)s %% assumed taken") % {"pct": _percent_number(standing.skonto_pct)}
    else:
        skonto = gettext("no skonto")
    return f"{rebate}; {skonto}"


def waiting_for(order: Order) -> str:
    """What a pending order waits for, in the buyer's words."""
    kinds = {flag.kind for flag in order.flags}
    if FlagKind.ON_HOLD in kinds:
        return gettext("Waiting: your account is on hold.")
    if FlagKind.PAST_DUE in kinds:
        return gettext("Waiting for payment of overdue invoices, then for your account manager.")
    if FlagKind.EXCEEDS_CREDIT in kinds:
        return gettext("Waiting for credit: your account manager can approve it once credit is available.")
    return gettext("Waiting for your account manager.")


def event_text(event: OrderEvent) -> str:
    """One line of an order's timeline: what happened, who did it, for whom."""
    if event.from_status is None:
        what = gettext("Submitted")
    else:
        what = order_status(event.to_status)
    who = event.actor.full_name if event.actor else gettext("the system")
    if event.on_behalf_of is not None:
        who = gettext("%(deputy)s for %(manager)s") % {"deputy": who, "manager": event.on_behalf_of.full_name}
    return f"{what} · {who}"


EVENT_REASONS = {
    AUTO_APPROVED: N_("Approved automatically: no flags"),
    QUOTE_ACCEPTED: N_("Approved at once: the buyer accepted the quote"),
}
"""Reason codes the system writes into an order's timeline, and their words."""


def event_reason(event: OrderEvent) -> str:
    """The reason shown with a timeline entry: a person's words as written, a system code in words."""
    reason = event.reason
    if reason.startswith(ERP_TAKEN):
        return gettext("Taken by the ERP with %(key)s") % {"key": reason.removeprefix(ERP_TAKEN)}
    if reason.startswith(ERP_INVOICED):
        number, _, key = reason.removeprefix(ERP_INVOICED).partition("|")
        if key:
            return gettext("Invoice %(number)s from the ERP, sent with %(actor)s") % {"number": number, "actor": key}
        return gettext("Invoice %(number)s from the ERP") % {"number": number}
    known = EVENT_REASONS.get(reason) if event.actor_id is None else None
    return gettext(known) if known else reason


def moved_from(day: date) -> str:
    """A recurring delivery delivered on another day than the schedule's: "moved from Sun 6 Dec"."""
    return gettext("moved from %(date)s") % {"date": short_date(day)}


def rhythm_chart(months: list[MonthFigures], currency: str) -> Chart:
    """The customer page's last 12 months: revenue and margin bars per month, in money."""
    return chart(
        [format_date_short(month.month) for month in months],
        [
            Series(gettext("Revenue"), [month.revenue for month in months]),
            Series(gettext("Margin"), [month.margin for month in months]),
        ],
        title=gettext("Revenue and margin per month"),
        value_format=lambda amount: format_money(amount, currency),
    )


def credit_event(event: CreditEvent, currency: str) -> str:
    """One entry of the credit history in words: "Limit PLN 40,000.00 → PLN 45,000.00"."""
    match event.kind:
        case CreditEventKind.LIMIT_CHANGED:
            return gettext("Limit %(old)s → %(new)s") % {
                "old": format_money(event.old_limit, currency),
                "new": format_money(event.new_limit, currency),
            }
        case CreditEventKind.HOLD:
            return gettext("Put on hold")
        case CreditEventKind.RELEASE:
            return gettext("Released from hold")
    return event.kind.value
