"""The portal's tables as typed SQLAlchemy mappings.

Every table that belongs to a customer carries `company_id`. Money is Numeric:
unit prices with 4 decimal places, amounts with 2. Times are UTC.
"""

from __future__ import annotations

import enum
from datetime import date, datetime, time
from decimal import Decimal

from advanced_alchemy.extensions.litestar.store import StoreModelMixin
from advanced_alchemy.types import DateTimeUTC
from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Date,
    Enum,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Text,
    Time,
    UniqueConstraint,
    false,
    text,
    true,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from portal import clock

UnitPrice = Numeric(14, 4)
Amount = Numeric(14, 2)
Percent = Numeric(5, 2)

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: DateTimeUTC(timezone=True)}


class Role(enum.StrEnum):
    BUYER = "buyer"
    ACCOUNT_MANAGER = "account_manager"
    FINANCE = "finance"
    ADMIN = "admin"

    @property
    def is_staff(self) -> bool:
        return self is not Role.BUYER


class Company(Base):
    __tablename__ = "companies"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    tax_id: Mapped[str] = mapped_column(String(32), unique=True)
    payment_terms_days: Mapped[int] = mapped_column(Integer, default=30)
    credit_limit: Mapped[Decimal] = mapped_column(Amount, default=Decimal("0.00"))
    currency: Mapped[str] = mapped_column(String(3), default="PLN")
    general_discount_pct: Mapped[Decimal] = mapped_column(Percent, default=Decimal("0.00"))
    price_list_id: Mapped[int | None] = mapped_column(ForeignKey("price_lists.id"))
    on_hold: Mapped[bool] = mapped_column(Boolean, default=False)
    hold_reason: Mapped[str | None] = mapped_column(Text)
    po_number_required: Mapped[bool] = mapped_column(Boolean, default=False)
    account_manager_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", use_alter=True), index=True)
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    """An inactive company's buyers cannot sign in and its schedules do not run; its history stays."""
    auto_approve: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    """Orders that raise no flag are approved at submission (off by default)."""
    margin_floor_pct: Mapped[Decimal | None] = mapped_column(Percent)
    """This company's margin floor, in place of the category's or the global one; None: theirs."""
    delivery_weekdays: Mapped[str] = mapped_column(String(7), default="12345", server_default="12345")
    """ISO weekdays deliveries are made on, as digits ("12345": Monday to Friday)."""
    order_cutoff: Mapped[time | None] = mapped_column(Time)
    """Orders submitted after this time of day (seller's zone) count as submitted the next day."""
    min_order_value: Mapped[Decimal] = mapped_column(Amount, default=Decimal("0.00"), server_default="0")
    """Net value an order must reach; 0: none."""
    delivery_fee: Mapped[Decimal] = mapped_column(Amount, default=Decimal("0.00"), server_default="0")
    """Net fee added to an order below `free_delivery_from`; 0: none."""
    free_delivery_from: Mapped[Decimal | None] = mapped_column(Amount)
    """Net order value from which delivery is free; None: the fee always applies (when set)."""
    allow_backorders: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    """Lines beyond the stock on hand may be ordered (delivered later); off: refused with what is available."""

    account_manager: Mapped[User | None] = relationship(foreign_keys=[account_manager_id])
    addresses: Mapped[list[Address]] = relationship(back_populates="company", order_by="Address.id")

    __table_args__ = (
        CheckConstraint("payment_terms_days >= 0", name="payment_terms_not_negative"),
        CheckConstraint("credit_limit >= 0", name="credit_limit_not_negative"),
        CheckConstraint("general_discount_pct >= 0 AND general_discount_pct < 100", name="discount_range"),
        CheckConstraint("min_order_value >= 0 AND delivery_fee >= 0", name="delivery_terms_not_negative"),
    )


class Address(Base):
    __tablename__ = "addresses"

    id: Mapped[int] = mapped_column(primary_key=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id", ondelete="CASCADE"), index=True)
    label: Mapped[str] = mapped_column(String(100))
    street: Mapped[str] = mapped_column(String(200))
    postal_code: Mapped[str] = mapped_column(String(20))
    city: Mapped[str] = mapped_column(String(100))
    country_code: Mapped[str] = mapped_column(String(2), default="PL")
    is_default: Mapped[bool] = mapped_column(Boolean, default=False)
    retired: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    """No longer offered for new orders and schedules; kept because orders or schedules name it."""

    company: Mapped[Company] = relationship(back_populates="addresses")


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    """Stored lower-cased, which makes the unique constraint case-insensitive."""
    full_name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[Role] = mapped_column(
        Enum(Role, name="user_role", native_enum=False, length=20, values_callable=lambda e: [m.value for m in e])
    )
    company_id: Mapped[int | None] = mapped_column(ForeignKey("companies.id"), index=True)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    locale: Mapped[str] = mapped_column(String(10), default="")
    """The language the user chose ("pl", "en"); empty: the browser's, else the portal's default."""
    timezone: Mapped[str] = mapped_column(String(50), default="Europe/Warsaw")
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
    session_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    """Sessions carry the version they were started with; raising it (password changed, signed
    out everywhere) ends every session started before."""

    company: Mapped[Company | None] = relationship(foreign_keys=[company_id])

    __table_args__ = (
        CheckConstraint(
            "(role = 'buyer' AND company_id IS NOT NULL) OR (role <> 'buyer' AND company_id IS NULL)",
            name="buyer_has_company",
        ),
    )


class LoginThrottle(Base):
    """Sign-in attempts counted three ways (`scope`), known account or not, so the answer
    never tells whether an address has an account:

    - "pair": one e-mail from one client address: the slow-down, and whether this address
      has signed in to this account before (`succeeded_at`, exempt from the account lock);
    - "account": one e-mail from any address, in a window (`counted_since`): the account lock;
    - "address": one client address for any e-mail, in a window: the per-address limit.

    The unused key is "" (an account row has no address, an address row no e-mail)."""

    __tablename__ = "login_throttles"

    scope: Mapped[str] = mapped_column(String(10), primary_key=True)
    email: Mapped[str] = mapped_column(String(254), primary_key=True)
    address: Mapped[str] = mapped_column(String(100), primary_key=True)
    failed_count: Mapped[int] = mapped_column(Integer, default=0)
    """Attempts reserved (counted before the password is checked) and not cleared by a success."""
    counted_since: Mapped[datetime]
    """The start of the window (account, address) or the first attempt counted (pair)."""
    last_failed_at: Mapped[datetime | None]
    next_attempt_at: Mapped[datetime | None]
    """Pair: the next attempt is heard from this moment on."""
    succeeded_at: Mapped[datetime | None]
    """Pair: the last successful sign-in from this address to this account."""


class ProductCategory(Base):
    __tablename__ = "product_categories"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    margin_floor_pct: Mapped[Decimal | None] = mapped_column(Percent)
    """Lines sold below this margin are flagged for the approver; None: the global setting."""


class Product(Base):
    __tablename__ = "products"

    id: Mapped[int] = mapped_column(primary_key=True)
    sku: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(200), index=True)
    description: Mapped[str] = mapped_column(Text, default="")
    category_id: Mapped[int] = mapped_column(ForeignKey("product_categories.id"), index=True)
    unit: Mapped[str] = mapped_column(String(10), default="pcs")
    pack_size: Mapped[int] = mapped_column(Integer, default=1)
    """The order multiple: quantities are whole multiples of it."""
    list_price: Mapped[Decimal] = mapped_column(UnitPrice)
    cost: Mapped[Decimal] = mapped_column(UnitPrice)
    vat_rate: Mapped[Decimal] = mapped_column(Percent)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    stock: Mapped[int] = mapped_column(Integer, default=0)

    category: Mapped[ProductCategory] = relationship()

    __table_args__ = (
        CheckConstraint("pack_size >= 1", name="pack_size_positive"),
        CheckConstraint("list_price >= 0 AND cost >= 0", name="prices_not_negative"),
        CheckConstraint("vat_rate >= 0", name="vat_not_negative"),
    )


class PriceList(Base):
    __tablename__ = "price_lists"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    currency: Mapped[str] = mapped_column(String(3), default="PLN")
    code: Mapped[str | None] = mapped_column(String(40), unique=True, index=True)
    """The ERP's short name of the list ("STANDARD", "HORECA"), used by imports and the API."""


class PriceListItem(Base):
    """One quantity break of a product on a price list, valid between two dates (inclusive)."""

    __tablename__ = "price_list_items"

    id: Mapped[int] = mapped_column(primary_key=True)
    price_list_id: Mapped[int] = mapped_column(ForeignKey("price_lists.id", ondelete="CASCADE"))
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"))
    unit_price: Mapped[Decimal] = mapped_column(UnitPrice)
    min_quantity: Mapped[int] = mapped_column(Integer, default=1)
    valid_from: Mapped[date | None] = mapped_column(Date)
    valid_to: Mapped[date | None] = mapped_column(Date)

    __table_args__ = (
        CheckConstraint("min_quantity >= 1", name="min_quantity_positive"),
        CheckConstraint("unit_price >= 0", name="unit_price_not_negative"),
        CheckConstraint("valid_to IS NULL OR valid_from IS NULL OR valid_from <= valid_to", name="validity_order"),
        Index("ix_price_list_items_list_product", "price_list_id", "product_id"),
    )


class ContractPrice(Base):
    """A price negotiated with one company for one product, optionally from a minimum quantity."""

    __tablename__ = "contract_prices"

    id: Mapped[int] = mapped_column(primary_key=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id", ondelete="CASCADE"))
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"))
    unit_price: Mapped[Decimal] = mapped_column(UnitPrice)
    min_quantity: Mapped[int] = mapped_column(Integer, default=1)
    valid_from: Mapped[date | None] = mapped_column(Date)
    valid_to: Mapped[date | None] = mapped_column(Date)

    __table_args__ = (
        CheckConstraint("min_quantity >= 1", name="min_quantity_positive"),
        CheckConstraint("unit_price >= 0", name="unit_price_not_negative"),
        CheckConstraint("valid_to IS NULL OR valid_from IS NULL OR valid_from <= valid_to", name="validity_order"),
        Index("ix_contract_prices_company_product", "company_id", "product_id"),
    )


class Invoice(Base):
    """An invoice issued by the ERP; the ERP is its book of record, the portal shows and counts it."""

    __tablename__ = "invoices"

    id: Mapped[int] = mapped_column(primary_key=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id", ondelete="CASCADE"), index=True)
    number: Mapped[str] = mapped_column(String(50))
    """Unique across the seller: the ERP numbers invoices; the key below holds it per customer."""
    issue_date: Mapped[date] = mapped_column(Date)
    due_date: Mapped[date] = mapped_column(Date)
    currency: Mapped[str] = mapped_column(String(3), default="PLN")
    gross_amount: Mapped[Decimal] = mapped_column(Amount)
    paid_amount: Mapped[Decimal] = mapped_column(Amount, default=Decimal("0.00"))
    """The sum of the invoice's payments, kept in the transaction that records each one."""
    order_number: Mapped[str | None] = mapped_column(String(30), index=True)
    """The portal order this invoice bills: that order no longer counts as an order in exposure."""

    company: Mapped[Company] = relationship()

    __table_args__ = (
        UniqueConstraint("company_id", "number"),
        Index(
            "ix_invoices_open",
            "company_id",
            "due_date",
            postgresql_where=text("paid_amount < gross_amount"),
            sqlite_where=text("paid_amount < gross_amount"),
        ),
        CheckConstraint("gross_amount >= 0", name="gross_not_negative"),
        CheckConstraint("paid_amount >= 0 AND paid_amount <= gross_amount", name="paid_within_gross"),
        CheckConstraint("issue_date <= due_date", name="due_after_issue"),
    )

    @property
    def balance(self) -> Decimal:
        return self.gross_amount - self.paid_amount


class WebSession(StoreModelMixin):
    """Server-side web sessions (the Litestar session store), kept in the database so
    any number of web processes share them."""

    __tablename__ = "web_sessions"


class Cart(Base):
    """One cart per buyer, kept on the server so it survives signing out. Its
    checkout key changes whenever its content does: a checkout form carries the
    key it was made for, so one cart becomes at most one order."""

    __tablename__ = "carts"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id", ondelete="CASCADE"), index=True)
    """A buyer's own company; for an account manager taking an order by phone, the customer's."""
    checkout_key: Mapped[str] = mapped_column(String(32))
    updated_at: Mapped[datetime] = mapped_column(default=clock.now)

    lines: Mapped[list[CartLine]] = relationship(order_by="CartLine.id", cascade="all, delete-orphan")

    __table_args__ = (UniqueConstraint("user_id", "company_id"),)


class CartLine(Base):
    __tablename__ = "cart_lines"

    id: Mapped[int] = mapped_column(primary_key=True)
    cart_id: Mapped[int] = mapped_column(ForeignKey("carts.id", ondelete="CASCADE"))
    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id", ondelete="CASCADE"), index=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"))
    quantity: Mapped[int] = mapped_column(Integer)

    product: Mapped[Product] = relationship()

    __table_args__ = (
        UniqueConstraint("company_id", "cart_id", "product_id"),
        CheckConstraint("quantity > 0", name="quantity_positive"),
    )


class OrderStatus(enum.StrEnum):
    PENDING_APPROVAL = "pending_approval"
    APPROVED = "approved"
    EXPORTED = "exported"
    INVOICED = "invoiced"
    REJECTED = "rejected"
    CANCELLED = "cancelled"


class OrderSource(enum.StrEnum):
    PORTAL = "portal"
    RECURRING = "recurring"
    QUOTE = "quote"
    """Made by accepting a quote: its lines at the quoted prices (`Order.quote_id`, `quote_version`)."""


def _enum(kind: type[enum.StrEnum], name: str) -> Enum:
    return Enum(kind, name=name, native_enum=False, length=30, values_callable=lambda e: [m.value for m in e])


class Order(Base):
    """A submitted order. Its lines keep the prices, costs and VAT rates of the moment
    of submission: later price changes never touch it."""

    __tablename__ = "orders"

    id: Mapped[int] = mapped_column(primary_key=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id", ondelete="CASCADE"), index=True)
    number: Mapped[str] = mapped_column(String(30))
    """Unique across the seller: drawn from `order_number_sequences`; the key below holds it per customer."""
    status: Mapped[OrderStatus] = mapped_column(_enum(OrderStatus, "order_status"), index=True)
    source: Mapped[OrderSource] = mapped_column(_enum(OrderSource, "order_source"), default=OrderSource.PORTAL)
    buyer_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    idempotency_key: Mapped[str] = mapped_column(String(64))
    """The checkout key the order was made with, unique per customer (a second submission finds the order)."""
    po_number: Mapped[str | None] = mapped_column(String(50))
    requested_delivery_date: Mapped[date] = mapped_column(Date)
    delivery_address_id: Mapped[int | None] = mapped_column(ForeignKey("addresses.id", ondelete="SET NULL"))
    delivery_address: Mapped[str] = mapped_column(Text)
    """The address as it was at submission, in lines."""
    note: Mapped[str] = mapped_column(Text, default="")
    currency: Mapped[str] = mapped_column(String(3))
    net_total: Mapped[Decimal] = mapped_column(Amount)
    vat_total: Mapped[Decimal] = mapped_column(Amount)
    gross_total: Mapped[Decimal] = mapped_column(Amount)
    cost_total: Mapped[Decimal] = mapped_column(Amount)
    delivery_fee: Mapped[Decimal] = mapped_column(Amount, default=Decimal("0.00"), server_default="0")
    """Net delivery fee of the order (included in `net_total`, taxed at `delivery_fee_vat_rate`)."""
    delivery_fee_vat_rate: Mapped[Decimal] = mapped_column(Percent, default=Decimal("23"), server_default="23")
    payment_terms_days: Mapped[int] = mapped_column(Integer)
    submitted_at: Mapped[datetime] = mapped_column(default=clock.now, index=True)
    quote_id: Mapped[int | None] = mapped_column(ForeignKey("quotes.id", ondelete="SET NULL"))
    """The quote whose acceptance made this order (one order per quote)."""
    quote_version: Mapped[int | None] = mapped_column(Integer)
    placed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    """The account manager who placed the order for the company (by phone or e-mail); None: its buyer did."""
    agreement_id: Mapped[int | None] = mapped_column(ForeignKey("agreements.id", ondelete="SET NULL"))
    """The framework agreement in force at submission, whose terms below were frozen on the order."""
    payment_effect_pct: Mapped[Decimal] = mapped_column(Percent, default=Decimal("0.00"), server_default="0")
    """The price effect of the payment terms chosen at checkout, already in every line's unit price."""
    prepaid: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    """Paid in advance: the order does not count in exposure."""
    skonto_pct: Mapped[Decimal | None] = mapped_column(Percent)
    skonto_days: Mapped[int | None] = mapped_column(Integer)
    counted_on: Mapped[date | None] = mapped_column(Date)
    """The seller's day the order was approved: from then on it counts as a sale (volume tiers count it in that day's period)."""
    list_total: Mapped[Decimal | None] = mapped_column(Amount)
    """The goods at the products' list prices of the moment of submission (Σ list price × quantity):
    the order's discount against list price is `list_total` − (`net_total` − `delivery_fee`)."""

    buyer: Mapped[User | None] = relationship(foreign_keys=[buyer_id])
    placed_by: Mapped[User | None] = relationship(foreign_keys=[placed_by_id])
    quote: Mapped[Quote | None] = relationship(foreign_keys=[quote_id], viewonly=True)
    company: Mapped[Company] = relationship()
    lines: Mapped[list[OrderLine]] = relationship(order_by="OrderLine.id", cascade="all, delete-orphan")
    flags: Mapped[list[OrderFlag]] = relationship(order_by="OrderFlag.id", cascade="all, delete-orphan")
    events: Mapped[list[OrderEvent]] = relationship(order_by="OrderEvent.id", cascade="all, delete-orphan")

    __table_args__ = (
        UniqueConstraint("company_id", "number"),
        UniqueConstraint("company_id", "idempotency_key"),
        UniqueConstraint("company_id", "quote_id"),
        Index("ix_orders_company_submitted", "company_id", "submitted_at"),
        Index("ix_orders_company_counted", "company_id", "counted_on"),
        Index("ix_orders_counted_on", "counted_on", "company_id"),
    )

    @property
    def margin(self) -> Decimal:
        return self.net_total - self.cost_total


class OrderLine(Base):
    __tablename__ = "order_lines"

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id", ondelete="CASCADE"))
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"))
    sku: Mapped[str] = mapped_column(String(40))
    name: Mapped[str] = mapped_column(String(200))
    unit: Mapped[str] = mapped_column(String(10))
    quantity: Mapped[int] = mapped_column(Integer)
    unit_price: Mapped[Decimal] = mapped_column(UnitPrice)
    price_source: Mapped[str] = mapped_column(String(30))
    price_note: Mapped[str] = mapped_column(String(200), default="")
    """The price list's name when the price came from one (data, not words: pages word it); a
    volume-tier price keeps `pricing.TierNote`: "3.00|2026-11-14|price_list|Gold" (the tier's %, the
    day it was reached, the source it came off, the price list's name)."""
    price_min_quantity: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    """The quantity break the price applied from (1: no break)."""
    unit_cost: Mapped[Decimal] = mapped_column(UnitPrice)
    vat_rate: Mapped[Decimal] = mapped_column(Percent)
    line_net: Mapped[Decimal] = mapped_column(Amount)

    __table_args__ = (
        Index("ix_order_lines_company_product", "company_id", "product_id"),
        CheckConstraint("quantity > 0", name="quantity_positive"),
    )

    @property
    def margin(self) -> Decimal:
        return self.line_net - (self.unit_cost * self.quantity).quantize(Decimal("0.01"))


class FlagKind(enum.StrEnum):
    EXCEEDS_CREDIT = "exceeds_credit"
    PAST_DUE = "past_due"
    ON_HOLD = "on_hold"
    BELOW_MARGIN_FLOOR = "below_margin_floor"
    UNUSUAL_QUANTITY = "unusual_quantity"
    PRICE_CHANGED = "price_changed"
    FIRST_ORDER = "first_order"
    NOT_SOLD = "not_sold"
    """A recurring delivery's product that is no longer sold: left out of the order."""
    BELOW_MINIMUM = "below_minimum"
    """A recurring delivery's order under the company's minimum order value: made all the same."""
    OUTSIDE_AGREEMENT = "outside_agreement"
    """A line outside the agreed assortment of the company's framework agreement."""
    OUTSIDE_AGREEMENT_BLOCKING = "outside_agreement_blocking"
    """The same, where the agreement says such lines block approval."""

    @property
    def blocking(self) -> bool:
        return self in (
            FlagKind.EXCEEDS_CREDIT,
            FlagKind.PAST_DUE,
            FlagKind.ON_HOLD,
            FlagKind.OUTSIDE_AGREEMENT_BLOCKING,
        )


class OrderFlag(Base):
    """Something the approver must see, with its numbers (kept as text in `data`)."""

    __tablename__ = "order_flags"

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id", ondelete="CASCADE"))
    kind: Mapped[FlagKind] = mapped_column(_enum(FlagKind, "flag_kind"))
    blocking: Mapped[bool] = mapped_column(Boolean)
    data: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)


class OrderEvent(Base):
    """The order's timeline: every move, who made it, when and why."""

    __tablename__ = "order_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column(default=clock.now)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    from_status: Mapped[OrderStatus | None] = mapped_column(_enum(OrderStatus, "order_status"))
    to_status: Mapped[OrderStatus] = mapped_column(_enum(OrderStatus, "order_status"))
    reason: Mapped[str] = mapped_column(Text, default="")
    on_behalf_of_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    """The account manager a deputy decided for, while covering their absence."""

    actor: Mapped[User | None] = relationship(foreign_keys=[actor_id])
    on_behalf_of: Mapped[User | None] = relationship(foreign_keys=[on_behalf_of_id])
    order: Mapped[Order] = relationship(viewonly=True)

    __table_args__ = (Index("ix_order_events_company_at", "company_id", "at"),)


class OrderNumberSequence(Base):
    """The last order number given out in each year: numbers run 1, 2, 3… per year."""

    __tablename__ = "order_number_sequences"

    year: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    last_number: Mapped[int] = mapped_column(Integer, default=0)


class Deputy(Base):
    """Out-of-office cover: from `starts_on` to `ends_on` (inclusive) the deputy sees and
    decides the queue of the manager's companies."""

    __tablename__ = "deputies"

    id: Mapped[int] = mapped_column(primary_key=True)
    manager_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    deputy_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    starts_on: Mapped[date] = mapped_column(Date)
    ends_on: Mapped[date] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(default=clock.now)

    manager: Mapped[User] = relationship(foreign_keys=[manager_id])
    deputy: Mapped[User] = relationship(foreign_keys=[deputy_id])

    __table_args__ = (
        CheckConstraint("starts_on <= ends_on", name="range_order"),
        CheckConstraint("manager_id <> deputy_id", name="not_self"),
    )


class CustomerNote(Base):
    """What staff learned about a customer (calls, agreements), kept with the customer."""

    __tablename__ = "customer_notes"

    id: Mapped[int] = mapped_column(primary_key=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id", ondelete="CASCADE"), index=True)
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
    updated_at: Mapped[datetime] = mapped_column(default=clock.now)

    author: Mapped[User] = relationship()


class ShoppingList(Base):
    """A list of a company's usual purchases, shared by all its buyers; not a cart, it survives checkout."""

    __tablename__ = "shopping_lists"

    id: Mapped[int] = mapped_column(primary_key=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    description: Mapped[str] = mapped_column(Text, default="")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
    updated_at: Mapped[datetime] = mapped_column(default=clock.now)

    created_by: Mapped[User | None] = relationship(foreign_keys=[created_by_id])
    updated_by: Mapped[User | None] = relationship(foreign_keys=[updated_by_id])
    lines: Mapped[list[ShoppingListLine]] = relationship(
        order_by="ShoppingListLine.id", cascade="all, delete-orphan", back_populates="shopping_list"
    )


class ShoppingListLine(Base):
    __tablename__ = "shopping_list_lines"

    id: Mapped[int] = mapped_column(primary_key=True)
    list_id: Mapped[int] = mapped_column(ForeignKey("shopping_lists.id", ondelete="CASCADE"))
    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id", ondelete="CASCADE"), index=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"))
    quantity: Mapped[int] = mapped_column(Integer)
    note: Mapped[str] = mapped_column(String(200), default="")
    price_when_added: Mapped[Decimal | None] = mapped_column(UnitPrice)
    """The company's unit price when the line was added, to show what changed since."""
    updated_at: Mapped[datetime] = mapped_column(default=clock.now)

    shopping_list: Mapped[ShoppingList] = relationship(back_populates="lines")
    product: Mapped[Product] = relationship()

    __table_args__ = (
        UniqueConstraint("company_id", "list_id", "product_id"),
        CheckConstraint("quantity > 0", name="quantity_positive"),
    )


class Payment(Base):
    """A payment of one invoice, as the ERP reports it; its reference makes a re-import change nothing."""

    __tablename__ = "payments"

    id: Mapped[int] = mapped_column(primary_key=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id", ondelete="CASCADE"), index=True)
    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoices.id", ondelete="CASCADE"), index=True)
    reference: Mapped[str] = mapped_column(String(100))
    """The bank's reference (or one derived from the invoice, date and amount), unique per customer."""
    paid_on: Mapped[date] = mapped_column(Date)
    amount: Mapped[Decimal] = mapped_column(Amount)
    recorded_at: Mapped[datetime] = mapped_column(default=clock.now)

    __table_args__ = (
        UniqueConstraint("company_id", "reference"),
        CheckConstraint("amount > 0", name="amount_positive"),
    )


class CreditEventKind(enum.StrEnum):
    LIMIT_CHANGED = "limit_changed"
    HOLD = "hold"
    RELEASE = "release"


class CreditEvent(Base):
    """The company's credit history: limit changes, holds and releases with who, when and why.
    Append-only: the database itself refuses to update or delete a row (triggers in migration 0003)."""

    __tablename__ = "credit_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id"))
    kind: Mapped[CreditEventKind] = mapped_column(_enum(CreditEventKind, "credit_event_kind"))
    old_limit: Mapped[Decimal | None] = mapped_column(Amount)
    new_limit: Mapped[Decimal | None] = mapped_column(Amount)
    reason: Mapped[str] = mapped_column(Text)
    """Internal: finance and the account manager read it, a buyer never does."""
    customer_message: Mapped[str] = mapped_column(Text, default="", server_default="")
    """What finance chose to tell the customer's buyers with the change (may be empty)."""
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    at: Mapped[datetime] = mapped_column(default=clock.now)
    source: Mapped[str] = mapped_column(String(20), default="portal", server_default="portal")
    """Where the change came from: "portal" (a person in finance) or "erp" (the API)."""

    actor: Mapped[User | None] = relationship()

    __table_args__ = (Index("ix_credit_events_company_at", "company_id", "at"),)


class Frequency(enum.StrEnum):
    WEEKLY = "weekly"
    """Every `interval_weeks` weeks on the weekday of the first delivery (1 = weekly)."""
    MONTHLY = "monthly"
    """Every month on `month_day`, the month's last day where the month is shorter."""


class DeliverySchedule(Base):
    """A company's recurring delivery: the same lines delivered on a rhythm, each
    occurrence ordered by the worker `lead_days` before its delivery date."""

    __tablename__ = "delivery_schedules"

    id: Mapped[int] = mapped_column(primary_key=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    address_id: Mapped[int] = mapped_column(ForeignKey("addresses.id"))
    frequency: Mapped[Frequency] = mapped_column(_enum(Frequency, "frequency"))
    interval_weeks: Mapped[int] = mapped_column(Integer, default=1)
    month_day: Mapped[int] = mapped_column(Integer, default=1)
    first_delivery: Mapped[date] = mapped_column(Date)
    lead_days: Mapped[int] = mapped_column(Integer, default=2)
    paused: Mapped[bool] = mapped_column(Boolean, default=False)
    next_delivery: Mapped[date | None] = mapped_column(Date)
    """The first delivery date not yet generated, skipped or missed."""
    next_generation_on: Mapped[date | None] = mapped_column(Date, index=True)
    """`next_delivery` less the lead time: the day the worker orders it."""
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    confirmed_at: Mapped[datetime] = mapped_column(default=clock.now)
    non_working_day: Mapped[str] = mapped_column(String(10), default="next", server_default="next")
    """Where a delivery date on a weekend or public holiday moves: "next" or "previous" working day."""

    address: Mapped[Address] = relationship()
    lines: Mapped[list[ScheduleLine]] = relationship(order_by="ScheduleLine.id", cascade="all, delete-orphan")

    __table_args__ = (
        CheckConstraint("interval_weeks BETWEEN 1 AND 52", name="interval_weeks_range"),
        CheckConstraint("month_day BETWEEN 1 AND 31", name="month_day_range"),
        CheckConstraint("lead_days BETWEEN 0 AND 60", name="lead_days_range"),
    )


class ScheduleLine(Base):
    __tablename__ = "schedule_lines"

    id: Mapped[int] = mapped_column(primary_key=True)
    schedule_id: Mapped[int] = mapped_column(ForeignKey("delivery_schedules.id", ondelete="CASCADE"), index=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id", ondelete="CASCADE"))
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"))
    quantity: Mapped[int] = mapped_column(Integer)
    confirmed_price: Mapped[Decimal | None] = mapped_column(UnitPrice)
    """The unit price the buyer saw when the line was last confirmed; a generated order is flagged if it differs."""

    product: Mapped[Product] = relationship()

    __table_args__ = (
        UniqueConstraint("company_id", "schedule_id", "product_id"),
        CheckConstraint("quantity > 0", name="quantity_positive"),
    )


class OccurrenceStatus(enum.StrEnum):
    GENERATED = "generated"
    MISSED = "missed"
    SKIPPED = "skipped"


class ScheduleOccurrence(Base):
    """What became of one delivery date of a schedule; the unique key makes it happen once."""

    __tablename__ = "schedule_occurrences"

    id: Mapped[int] = mapped_column(primary_key=True)
    schedule_id: Mapped[int] = mapped_column(ForeignKey("delivery_schedules.id", ondelete="CASCADE"))
    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id", ondelete="CASCADE"), index=True)
    delivery_date: Mapped[date] = mapped_column(Date)
    status: Mapped[OccurrenceStatus] = mapped_column(_enum(OccurrenceStatus, "occurrence_status"))
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id", ondelete="SET NULL"), index=True)
    note: Mapped[str] = mapped_column(Text, default="")
    """Why it was missed, as a code ("no_order_in_time", "nothing_sold"); pages word it."""
    at: Mapped[datetime] = mapped_column(default=clock.now)

    __table_args__ = (UniqueConstraint("company_id", "schedule_id", "delivery_date"),)


class NotificationKind(enum.StrEnum):
    ORDER_SUBMITTED = "order_submitted"
    ORDER_DECIDED = "order_decided"
    RECURRING_GENERATED = "recurring_generated"
    RECURRING_MISSED = "recurring_missed"
    CREDIT_CHANGED = "credit_changed"
    INVITATION = "invitation"
    PASSWORD_RESET = "password_reset"
    QUOTE_REQUESTED = "quote_requested"
    """To the account manager on duty: a buyer asked for a quote, or for changes to one."""
    QUOTE_SENT = "quote_sent"
    """To the company's buyers: a version of a quote was sent, or the quote was withdrawn."""
    QUOTE_ANSWERED = "quote_answered"
    """To the account manager: the buyer accepted or declined a quote."""
    QUOTE_EXPIRING = "quote_expiring"
    """To the buyers three days before a sent quote expires; to the manager when it has expired."""
    QUOTE_COMMENT = "quote_comment"
    """To the other side: a comment on a quote's thread."""
    ORDER_PLACED_FOR_YOU = "order_placed_for_you"
    """To the company's buyers: their account manager placed an order for the company."""
    PERIOD_CLOSED = "period_closed"
    """To finance and the account manager: a settlement period of an agreement was closed, with its rebate."""
    TASK_DIGEST = "task_digest"
    """To staff each morning: their tasks overdue, due today and in the next 7 days."""

    @property
    def optional(self) -> bool:
        """The decision on one's own order, an invitation and a password link always arrive."""
        return self not in (
            NotificationKind.ORDER_DECIDED,
            NotificationKind.INVITATION,
            NotificationKind.PASSWORD_RESET,
        )


class MessageStatus(enum.StrEnum):
    PENDING = "pending"
    SENDING = "sending"
    """Claimed and committed before the mail server is asked: a worker that dies before recording the
    outcome leaves the message here, shown to admins, rather than ever sending it a second time."""
    SENT = "sent"
    FAILED = "failed"


class OutboxMessage(Base):
    """An e-mail written in the transaction of the change it tells about, sent later by the worker."""

    __tablename__ = "outbox_messages"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[NotificationKind] = mapped_column(_enum(NotificationKind, "notification_kind"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    company_id: Mapped[int | None] = mapped_column(ForeignKey("companies.id", ondelete="SET NULL"), index=True)
    """The customer the message concerns (its recipient's company); None: the seller's staff or nobody yet."""
    recipient: Mapped[str] = mapped_column(String(254))
    subject: Mapped[str] = mapped_column(String(200))
    body_text: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str] = mapped_column(Text)
    link: Mapped[str] = mapped_column(String(500))
    locale: Mapped[str] = mapped_column(String(10), default="", server_default="")
    """The language the message was written in (the recipient's), for what the sender adds."""
    attachment: Mapped[str] = mapped_column(String(60), default="", server_default="")
    """A document the sender renders and attaches ("order:12": the order's confirmation PDF); empty: none."""
    status: Mapped[MessageStatus] = mapped_column(_enum(MessageStatus, "message_status"), default=MessageStatus.PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=clock.now)
    last_error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
    claimed_at: Mapped[datetime | None] = mapped_column()
    sent_at: Mapped[datetime | None] = mapped_column()

    __table_args__ = (Index("ix_outbox_messages_status_next", "status", "next_attempt_at"),)


class NotificationOptOut(Base):
    """A kind of notification a user chose not to receive."""

    __tablename__ = "notification_opt_outs"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    kind: Mapped[NotificationKind] = mapped_column(_enum(NotificationKind, "notification_kind"), primary_key=True)


class TokenPurpose(enum.StrEnum):
    INVITATION = "invitation"
    """Sets the first password of a new user, created when the link is followed."""
    PASSWORD_RESET = "password_reset"
    """Sets a new password of an existing user."""


class AccessToken(Base):
    """A one-time link sent by e-mail: an invitation to join, or a forgotten password. Only the
    SHA-256 of the random token is kept; the link works once, until `expires_at`, unless withdrawn."""

    __tablename__ = "access_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    purpose: Mapped[TokenPurpose] = mapped_column(_enum(TokenPurpose, "token_purpose"))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    email: Mapped[str] = mapped_column(String(254), index=True)
    full_name: Mapped[str] = mapped_column(String(200), default="")
    role: Mapped[Role] = mapped_column(
        Enum(Role, name="user_role", native_enum=False, length=20, values_callable=lambda e: [m.value for m in e])
    )
    company_id: Mapped[int | None] = mapped_column(ForeignKey("companies.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    """The user whose password it sets (a reset), or who was created by following it (an invitation)."""
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
    withdrawn_at: Mapped[datetime | None]

    company: Mapped[Company | None] = relationship(foreign_keys=[company_id])
    created_by: Mapped[User | None] = relationship(foreign_keys=[created_by_id])


class AuditEntry(Base):
    """One change to master data (or one import): who, when, which object, and each field old → new.
    Append-only: the database refuses to update or delete a row (triggers in migration 0010)."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=clock.now, index=True)
    actor_id: Mapped[int | None] = mapped_column(Integer, index=True)
    """The user who made the change; no foreign key, so the entry outlives the user's row."""
    actor: Mapped[str] = mapped_column(String(254))
    """Who, as they were named then (an e-mail, or "ERP key …", or "system")."""
    action: Mapped[str] = mapped_column(String(40))
    """A code: create, update, deactivate, reactivate, retire, invite, import, reassign, cover, …"""
    object_type: Mapped[str] = mapped_column(String(40))
    """A code: company, address, user, invitation, product, category, price_list, price_list_item, contract_price, cover, note, import."""
    object_id: Mapped[int | None] = mapped_column(Integer)
    object_label: Mapped[str] = mapped_column(String(200), default="")
    """The object as a person reads it (a company's name, a SKU), as it was then."""
    company_id: Mapped[int | None] = mapped_column(Integer, index=True)
    """The customer the change concerns, if any, so a company's page shows its own history."""
    changes: Mapped[dict[str, list[str | None]]] = mapped_column(JSON, default=dict)
    """Field → [old, new] as text; None where there was no value."""
    note: Mapped[str] = mapped_column(Text, default="")

    __table_args__ = (Index("ix_audit_log_object", "object_type", "object_id"),)


class ApiKey(Base):
    """A key the ERP calls the API with. Only a keyed hash of the secret is kept (HMAC-SHA256 with
    the portal's secret key); the secret itself is shown once, when the key is created."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    prefix: Mapped[str] = mapped_column(String(16))
    """The secret's first characters, shown in lists so a person can tell keys apart."""
    secret_hash: Mapped[str] = mapped_column(String(64), unique=True)
    scopes: Mapped[str] = mapped_column(String(500))
    """Space-separated "resource:read" / "resource:write" grants."""
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
    expires_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    last_used_at: Mapped[datetime | None]
    window_started_at: Mapped[datetime | None]
    """The start of the current rate-limit minute."""
    window_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    """Calls made in the current rate-limit minute."""

    created_by: Mapped[User | None] = relationship()

    @property
    def scope_set(self) -> frozenset[str]:
        return frozenset(self.scopes.split())


class IdempotentResponse(Base):
    """The response to a write sent with an `Idempotency-Key`, saved in the write's own transaction:
    the same key with the same request gets it back; with another request, 409."""

    __tablename__ = "idempotent_responses"

    api_key_id: Mapped[int] = mapped_column(ForeignKey("api_keys.id", ondelete="CASCADE"), primary_key=True)
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    request_hash: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int] = mapped_column(Integer)
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=clock.now, index=True)


class QuoteStatus(enum.StrEnum):
    REQUESTED = "requested"
    """A buyer asked; the account manager drafts the first version."""
    DRAFT = "draft"
    """The account manager's own offer, not sent yet."""
    SENT = "sent"
    CHANGES_REQUESTED = "changes_requested"
    """The buyer asked for changes to the sent version; the manager drafts the next one."""
    ACCEPTED = "accepted"
    DECLINED = "declined"
    EXPIRED = "expired"
    WITHDRAWN = "withdrawn"


class QuoteNumberSequence(Base):
    """The last quote number given in a year: Q-2026-000123, one row per year."""

    __tablename__ = "quote_number_sequences"

    year: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    last_number: Mapped[int] = mapped_column(Integer, default=0)


class Quote(Base):
    """An offer to one company, negotiated in versions (`services/quotes.py` holds its moves).

    `sent_version` is the version the buyer sees (0: none sent yet); a version above it is the
    account manager's draft. Accepting makes one order (`Order.quote_id` is unique)."""

    __tablename__ = "quotes"

    id: Mapped[int] = mapped_column(primary_key=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id", ondelete="CASCADE"), index=True)
    number: Mapped[str] = mapped_column(String(30))
    """Unique across the seller: drawn from `quote_number_sequences`; the key below holds it per customer."""
    status: Mapped[QuoteStatus] = mapped_column(_enum(QuoteStatus, "quote_status"), index=True)
    title: Mapped[str] = mapped_column(String(200), default="")
    requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    """The buyer who asked; None for the account manager's own offer."""
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    wanted_by: Mapped[date | None] = mapped_column(Date)
    """When the buyer wants the offer by."""
    sent_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    valid_until: Mapped[date | None] = mapped_column(Date, index=True)
    """The sent version's validity, kept here so the worker finds the ones to remind and expire."""
    reminded_at: Mapped[datetime | None]
    """When the buyers were reminded that the sent version expires soon (once per version)."""
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
    updated_at: Mapped[datetime] = mapped_column(default=clock.now, index=True)
    opportunity_id: Mapped[int | None] = mapped_column(
        ForeignKey("opportunities.id", ondelete="SET NULL", use_alter=True), index=True
    )
    """The opportunity this quote is for: its moves move the opportunity's stage."""

    company: Mapped[Company] = relationship()
    requested_by: Mapped[User | None] = relationship(foreign_keys=[requested_by_id])
    created_by: Mapped[User | None] = relationship(foreign_keys=[created_by_id])
    order: Mapped[Order | None] = relationship(primaryjoin="Order.quote_id == Quote.id", viewonly=True, uselist=False)
    """The order accepting the quote made (at most one: `orders.quote_id` is unique)."""
    versions: Mapped[list[QuoteVersion]] = relationship(
        order_by="QuoteVersion.number", cascade="all, delete-orphan", back_populates="quote"
    )

    __table_args__ = (UniqueConstraint("company_id", "number"),)


class QuoteVersion(Base):
    """One version of a quote's offer. Once `sent_at` is set it never changes again."""

    __tablename__ = "quote_versions"

    id: Mapped[int] = mapped_column(primary_key=True)
    quote_id: Mapped[int] = mapped_column(ForeignKey("quotes.id", ondelete="CASCADE"))
    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id", ondelete="CASCADE"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    valid_until: Mapped[date | None] = mapped_column(Date)
    delivery_terms: Mapped[str] = mapped_column(Text, default="")
    payment_terms: Mapped[str] = mapped_column(Text, default="")
    currency: Mapped[str] = mapped_column(String(3), default="PLN")
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
    sent_at: Mapped[datetime | None]
    sent_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    quote: Mapped[Quote] = relationship(back_populates="versions")
    sent_by: Mapped[User | None] = relationship()
    lines: Mapped[list[QuoteLine]] = relationship(
        order_by="QuoteLine.position, QuoteLine.id", cascade="all, delete-orphan", back_populates="version"
    )

    __table_args__ = (UniqueConstraint("company_id", "quote_id", "number"),)


class QuoteLine(Base):
    """A line of one version: a catalogue product or a free-text item. `line_key` is the same for a
    line in every version of its quote, so versions can be compared line by line."""

    __tablename__ = "quote_lines"

    id: Mapped[int] = mapped_column(primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("quote_versions.id", ondelete="CASCADE"), index=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id", ondelete="CASCADE"))
    line_key: Mapped[int] = mapped_column(Integer)
    position: Mapped[int] = mapped_column(Integer, default=0)
    product_id: Mapped[int | None] = mapped_column(ForeignKey("products.id"))
    """None: a free-text line, an item the catalogue does not have."""
    sku: Mapped[str] = mapped_column(String(40), default="")
    name: Mapped[str] = mapped_column(String(200))
    unit: Mapped[str] = mapped_column(String(10), default="pcs")
    quantity: Mapped[int] = mapped_column(Integer)
    requested_quantity: Mapped[int | None] = mapped_column(Integer)
    """What the buyer asked for; None for a line the account manager added."""
    target_price: Mapped[Decimal | None] = mapped_column(UnitPrice)
    """The buyer's target unit price, if they gave one."""
    unit_price: Mapped[Decimal | None] = mapped_column(UnitPrice)
    """The offered unit price; set on every line before a version is sent."""
    unit_cost: Mapped[Decimal | None] = mapped_column(UnitPrice)
    catalogue_price: Mapped[Decimal | None] = mapped_column(UnitPrice)
    """The company's price of the moment the version was saved, for comparison."""
    vat_rate: Mapped[Decimal] = mapped_column(Percent, default=Decimal("23"))
    below_floor_reason: Mapped[str] = mapped_column(Text, default="")
    """Why the price is below the margin floor, as the account manager recorded it (staff only)."""

    version: Mapped[QuoteVersion] = relationship(back_populates="lines")
    product: Mapped[Product | None] = relationship()

    __table_args__ = (
        CheckConstraint("quantity > 0", name="quantity_positive"),
        CheckConstraint("unit_price IS NULL OR unit_price > 0", name="unit_price_positive"),
    )


class QuoteComment(Base):
    """One message of a quote's thread. An internal one is for staff only; a buyer never sees it."""

    __tablename__ = "quote_comments"

    id: Mapped[int] = mapped_column(primary_key=True)
    quote_id: Mapped[int] = mapped_column(ForeignKey("quotes.id", ondelete="CASCADE"), index=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id", ondelete="CASCADE"))
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    body: Mapped[str] = mapped_column(Text)
    internal: Mapped[bool] = mapped_column(Boolean, default=False)
    version: Mapped[int] = mapped_column(Integer, default=0)
    """The version sent when the comment was written (0: none yet)."""
    at: Mapped[datetime] = mapped_column(default=clock.now)

    author: Mapped[User | None] = relationship()


class QuoteEvent(Base):
    """A move of a quote: who, when, from which status to which, for which version, and why.
    Append-only; the quote's timeline and the customer's show it."""

    __tablename__ = "quote_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    quote_id: Mapped[int] = mapped_column(ForeignKey("quotes.id", ondelete="CASCADE"), index=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(default=clock.now)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    from_status: Mapped[QuoteStatus | None] = mapped_column(_enum(QuoteStatus, "quote_status"))
    to_status: Mapped[QuoteStatus] = mapped_column(_enum(QuoteStatus, "quote_status"))
    version: Mapped[int] = mapped_column(Integer, default=0)
    reason: Mapped[str] = mapped_column(Text, default="")

    actor: Mapped[User | None] = relationship()
    quote: Mapped[Quote] = relationship(viewonly=True)


class AgreementStatus(enum.StrEnum):
    DRAFT = "draft"
    ACTIVE = "active"
    ENDED = "ended"


class SettlementPeriod(enum.StrEnum):
    MONTH = "month"
    QUARTER = "quarter"
    YEAR = "year"


class TierMode(enum.StrEnum):
    RETROSPECTIVE = "retrospective"
    """At the period's end, a rebate on the whole period's turnover at the tier reached."""
    PROSPECTIVE = "prospective"
    """Reaching a tier lowers the prices for the rest of the period."""


class Agreement(Base):
    """A company's framework agreement (`services/agreements.py` reads it): validity, the
    settlement period its volume tiers count over, payment-term pricing and the agreed
    assortment. At most one is active per company at a time; an ended one keeps its history.

    `closed_through` is the last day of the last settlement period the worker closed."""

    __tablename__ = "agreements"

    id: Mapped[int] = mapped_column(primary_key=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id", ondelete="CASCADE"), index=True)
    number: Mapped[str] = mapped_column(String(40))
    """Unique across the seller: the ERP numbers agreements; the key below holds it per customer."""
    status: Mapped[AgreementStatus] = mapped_column(_enum(AgreementStatus, "agreement_status"), index=True)
    valid_from: Mapped[date] = mapped_column(Date)
    valid_to: Mapped[date | None] = mapped_column(Date)
    period: Mapped[SettlementPeriod] = mapped_column(_enum(SettlementPeriod, "settlement_period"))
    tier_mode: Mapped[TierMode] = mapped_column(_enum(TierMode, "tier_mode"))
    price_list_id: Mapped[int | None] = mapped_column(ForeignKey("price_lists.id", ondelete="SET NULL"))
    """The price list the agreement includes (the company's contract prices always apply)."""
    special_terms: Mapped[str] = mapped_column(Text, default="")
    skonto_pct: Mapped[Decimal | None] = mapped_column(Percent)
    """Early-payment discount: this % off when the invoice is paid within `skonto_days` of issue."""
    skonto_days: Mapped[int | None] = mapped_column(Integer)
    assortment_blocking: Mapped[bool] = mapped_column(Boolean, default=False)
    """Lines outside the agreed assortment block approval (otherwise they are a warning)."""
    closed_through: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
    updated_at: Mapped[datetime] = mapped_column(default=clock.now)
    ended_at: Mapped[datetime | None]

    company: Mapped[Company] = relationship()
    price_list: Mapped[PriceList | None] = relationship()
    tiers: Mapped[list[AgreementTier]] = relationship(
        order_by="AgreementTier.applies_from, AgreementTier.category_id, AgreementTier.threshold",
        cascade="all, delete-orphan",
    )
    payment_options: Mapped[list[PaymentOption]] = relationship(
        order_by="PaymentOption.days", cascade="all, delete-orphan"
    )
    assortment: Mapped[list[AssortmentItem]] = relationship(order_by="AssortmentItem.id", cascade="all, delete-orphan")

    __table_args__ = (UniqueConstraint("company_id", "number"),)


class AgreementTier(Base):
    """A volume threshold on the net turnover of a settlement period (all products when
    `category_id` is None, else that category's), with its rebate %. A set of tiers applies
    from the period starting on `applies_from` until a later set replaces it."""

    __tablename__ = "agreement_tiers"

    id: Mapped[int] = mapped_column(primary_key=True)
    agreement_id: Mapped[int] = mapped_column(ForeignKey("agreements.id", ondelete="CASCADE"), index=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id", ondelete="CASCADE"), index=True)
    applies_from: Mapped[date] = mapped_column(Date)
    category_id: Mapped[int | None] = mapped_column(ForeignKey("product_categories.id", ondelete="CASCADE"))
    threshold: Mapped[Decimal] = mapped_column(Amount)
    rebate_pct: Mapped[Decimal] = mapped_column(Percent)

    category: Mapped[ProductCategory | None] = relationship()

    __table_args__ = (
        CheckConstraint("threshold > 0", name="threshold_positive"),
        CheckConstraint("rebate_pct > 0 AND rebate_pct <= 100", name="rebate_in_range"),
    )


class PaymentOption(Base):
    """A payment-term choice the agreement allows at checkout: `days` (0: prepayment) and the
    price effect in % on every line (negative: cheaper)."""

    __tablename__ = "agreement_payment_options"

    id: Mapped[int] = mapped_column(primary_key=True)
    agreement_id: Mapped[int] = mapped_column(ForeignKey("agreements.id", ondelete="CASCADE"), index=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id", ondelete="CASCADE"), index=True)
    days: Mapped[int] = mapped_column(Integer)
    price_effect_pct: Mapped[Decimal] = mapped_column(Percent, default=Decimal("0.00"))

    __table_args__ = (UniqueConstraint("company_id", "agreement_id", "days"),)


class AssortmentItem(Base):
    """One category or one product the agreement covers; an agreement without items covers everything."""

    __tablename__ = "agreement_assortment"

    id: Mapped[int] = mapped_column(primary_key=True)
    agreement_id: Mapped[int] = mapped_column(ForeignKey("agreements.id", ondelete="CASCADE"), index=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id", ondelete="CASCADE"), index=True)
    category_id: Mapped[int | None] = mapped_column(ForeignKey("product_categories.id", ondelete="CASCADE"))
    product_id: Mapped[int | None] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"))

    category: Mapped[ProductCategory | None] = relationship()
    product: Mapped[Product | None] = relationship()

    __table_args__ = (CheckConstraint("(category_id IS NULL) <> (product_id IS NULL)", name="category_or_product"),)


class SettlementClose(Base):
    """A closed settlement period of an agreement: its counted turnover and the rebate it earned.
    Append-only, written once per (agreement, period) by the worker; `exported_at` is when the
    ERP took it as a credit note."""

    __tablename__ = "settlement_closes"

    id: Mapped[int] = mapped_column(primary_key=True)
    agreement_id: Mapped[int] = mapped_column(ForeignKey("agreements.id", ondelete="CASCADE"), index=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id", ondelete="CASCADE"), index=True)
    starts_on: Mapped[date] = mapped_column(Date)
    ends_on: Mapped[date] = mapped_column(Date)
    tier_mode: Mapped[TierMode] = mapped_column(_enum(TierMode, "tier_mode"))
    currency: Mapped[str] = mapped_column(String(3))
    turnover: Mapped[Decimal] = mapped_column(Amount)
    rebate: Mapped[Decimal] = mapped_column(Amount)
    """The rebate to credit (0 for a prospective agreement: its tiers were given in the prices)."""
    closed_at: Mapped[datetime] = mapped_column(default=clock.now, index=True)
    exported_at: Mapped[datetime | None]

    agreement: Mapped[Agreement] = relationship()
    lines: Mapped[list[RebateLine]] = relationship(order_by="RebateLine.id", cascade="all, delete-orphan")

    __table_args__ = (UniqueConstraint("company_id", "agreement_id", "starts_on"),)


class RebateLine(Base):
    """One scope of a closed period (all products or one category): its turnover, the tier reached and the rebate."""

    __tablename__ = "rebate_lines"

    id: Mapped[int] = mapped_column(primary_key=True)
    close_id: Mapped[int] = mapped_column(ForeignKey("settlement_closes.id", ondelete="CASCADE"), index=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id", ondelete="CASCADE"), index=True)
    category_id: Mapped[int | None] = mapped_column(ForeignKey("product_categories.id", ondelete="SET NULL"))
    category_name: Mapped[str] = mapped_column(String(100), default="")
    turnover: Mapped[Decimal] = mapped_column(Amount)
    threshold: Mapped[Decimal | None] = mapped_column(Amount)
    rebate_pct: Mapped[Decimal] = mapped_column(Percent, default=Decimal("0.00"))
    amount: Mapped[Decimal] = mapped_column(Amount, default=Decimal("0.00"))


# --- CRM: the customer memory (`services/contacts.py`, `activities.py`, `tasks.py`, `pipeline.py`) -----


class Prospect(Base):
    """A company that is not a customer yet, owned by an account manager. Converting a won prospect
    makes a `Company` (`company_id`); its contacts, activities, opportunities and tasks then belong to
    that company too, so its history stays."""

    __tablename__ = "prospects"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    tax_id: Mapped[str] = mapped_column(String(32), default="")
    """NIP, as given (may be empty while unknown)."""
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    notes: Mapped[str] = mapped_column(Text, default="")
    company_id: Mapped[int | None] = mapped_column(ForeignKey("companies.id", ondelete="SET NULL"), unique=True)
    """The customer it became; None while a prospect."""
    converted_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=clock.now)

    owner: Mapped[User] = relationship(foreign_keys=[owner_id])
    company: Mapped[Company | None] = relationship(foreign_keys=[company_id])


class Contact(Base):
    """A person at a customer or a prospect, a portal user or not. A contact that activities or tasks
    name is retired, never deleted."""

    __tablename__ = "crm_contacts"

    id: Mapped[int] = mapped_column(primary_key=True)
    company_id: Mapped[int | None] = mapped_column(ForeignKey("companies.id", ondelete="CASCADE"), index=True)
    prospect_id: Mapped[int | None] = mapped_column(ForeignKey("prospects.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    """The portal user (a buyer of the company) this person is; None: not a portal user."""
    full_name: Mapped[str] = mapped_column(String(200))
    position: Mapped[str] = mapped_column(String(100), default="")
    phone: Mapped[str] = mapped_column(String(40), default="")
    email: Mapped[str] = mapped_column(String(254), default="")
    notes: Mapped[str] = mapped_column(Text, default="")
    primary_purchasing: Mapped[bool] = mapped_column(Boolean, default=False)
    primary_payables: Mapped[bool] = mapped_column(Boolean, default=False)
    """The primary contact for accounts payable (invoices, payments)."""
    retired: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
    updated_at: Mapped[datetime] = mapped_column(default=clock.now)

    user: Mapped[User | None] = relationship()

    __table_args__ = (CheckConstraint("company_id IS NOT NULL OR prospect_id IS NOT NULL", name="has_owner"),)


class ActivityKind(enum.StrEnum):
    CALL = "call"
    MEETING = "meeting"
    VISIT = "visit"
    EMAIL = "email"


class Activity(Base):
    """A call, meeting, visit or e-mail a member of staff logged; it joins the customer's timeline."""

    __tablename__ = "activities"

    id: Mapped[int] = mapped_column(primary_key=True)
    company_id: Mapped[int | None] = mapped_column(ForeignKey("companies.id", ondelete="CASCADE"))
    prospect_id: Mapped[int | None] = mapped_column(ForeignKey("prospects.id", ondelete="CASCADE"), index=True)
    kind: Mapped[ActivityKind] = mapped_column(_enum(ActivityKind, "activity_kind"))
    happened_at: Mapped[datetime]
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("crm_contacts.id"))
    summary: Mapped[str] = mapped_column(Text)
    outcome: Mapped[str] = mapped_column(Text, default="")
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=clock.now)

    contact: Mapped[Contact | None] = relationship()
    author: Mapped[User] = relationship()

    __table_args__ = (
        CheckConstraint("company_id IS NOT NULL OR prospect_id IS NOT NULL", name="has_owner"),
        Index("ix_activities_company_happened", "company_id", "happened_at"),
    )


class TaskStatus(enum.StrEnum):
    OPEN = "open"
    DONE = "done"
    CANCELLED = "cancelled"


class TaskReason(enum.StrEnum):
    """Why the system made a task (None: a person made it)."""

    LATE_CUSTOMER = "late_customer"
    """The customer is later than usual (`customers.Rhythm.late`): call about the usual order."""
    QUOTE_EXPIRING = "quote_expiring"
    """A sent quote expires in 3 days: follow it up."""
    CHANGES_REQUESTED = "changes_requested"
    """The buyer asked for changes to a quote: prepare the next version."""
    CREDIT_BLOCKED = "credit_blocked"
    """An order has waited 2 days blocked by credit: talk to finance."""
    PROSPECT_WON = "prospect_won"
    """A won prospect became a customer: set its terms and credit (for finance)."""


class Task(Base):
    """Something a member of staff must do by a day: owned by a person (`owner_id`) or, for a team
    task, by everyone of a role (`team`). Linked to what it is about. A system task carries the
    `reason` and a unique `origin_key`, so it is made once whatever number of workers run."""

    __tablename__ = "tasks"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    notes: Mapped[str] = mapped_column(Text, default="")
    due_on: Mapped[date] = mapped_column(Date)
    due_time: Mapped[time | None] = mapped_column(Time)
    """The time of day it is due at (the seller's zone); None: any time that day."""
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    team: Mapped[Role | None] = mapped_column(_enum(Role, "user_role"))
    """A team task: for everyone of this role (finance), when it has no owner."""
    status: Mapped[TaskStatus] = mapped_column(_enum(TaskStatus, "task_status"), default=TaskStatus.OPEN)
    company_id: Mapped[int | None] = mapped_column(ForeignKey("companies.id", ondelete="CASCADE"), index=True)
    prospect_id: Mapped[int | None] = mapped_column(ForeignKey("prospects.id", ondelete="CASCADE"))
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("crm_contacts.id"))
    quote_id: Mapped[int | None] = mapped_column(ForeignKey("quotes.id", ondelete="SET NULL"))
    opportunity_id: Mapped[int | None] = mapped_column(ForeignKey("opportunities.id", ondelete="SET NULL"))
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id", ondelete="SET NULL"))
    reason: Mapped[TaskReason | None] = mapped_column(_enum(TaskReason, "task_reason"))
    origin_key: Mapped[str | None] = mapped_column(String(100), unique=True)
    """What the system made it for ("quote_expiring:12:v2"); the unique key makes it once."""
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    """None: the system."""
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
    updated_at: Mapped[datetime] = mapped_column(default=clock.now)
    closed_at: Mapped[datetime | None]
    closed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    version: Mapped[int] = mapped_column(Integer, default=1)
    """Raised by every change; a change made on an older version is refused (the later one is told)."""

    owner: Mapped[User | None] = relationship(foreign_keys=[owner_id])
    created_by: Mapped[User | None] = relationship(foreign_keys=[created_by_id])
    closed_by: Mapped[User | None] = relationship(foreign_keys=[closed_by_id])
    company: Mapped[Company | None] = relationship()
    prospect: Mapped[Prospect | None] = relationship()
    contact: Mapped[Contact | None] = relationship()
    quote: Mapped[Quote | None] = relationship()
    opportunity: Mapped[Opportunity | None] = relationship()
    order: Mapped[Order | None] = relationship()

    __table_args__ = (
        CheckConstraint("owner_id IS NOT NULL OR team IS NOT NULL", name="has_owner"),
        Index("ix_tasks_status_due", "status", "due_on"),
    )


class TaskEventKind(enum.StrEnum):
    CREATED = "created"
    CHANGED = "changed"
    SNOOZED = "snoozed"
    DONE = "done"
    CANCELLED = "cancelled"
    REOPENED = "reopened"


class TaskEvent(Base):
    """A task's history: made, changed, snoozed (from which day to which, with the note), closed."""

    __tablename__ = "task_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("tasks.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(default=clock.now)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    kind: Mapped[TaskEventKind] = mapped_column(_enum(TaskEventKind, "task_event_kind"))
    from_due: Mapped[date | None] = mapped_column(Date)
    to_due: Mapped[date | None] = mapped_column(Date)
    note: Mapped[str] = mapped_column(Text, default="")

    actor: Mapped[User | None] = relationship()


class TaskDigest(Base):
    """The daily digest of tasks sent to a user on a day: claimed once per (user, day)."""

    __tablename__ = "task_digests"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    created_at: Mapped[datetime] = mapped_column(default=clock.now)


class Stage(enum.StrEnum):
    LEAD = "lead"
    QUALIFIED = "qualified"
    OFFER = "offer"
    NEGOTIATION = "negotiation"
    WON = "won"
    LOST = "lost"


class LostReason(Base):
    """A reason an opportunity is lost, from the list an admin keeps."""

    __tablename__ = "lost_reasons"

    id: Mapped[int] = mapped_column(primary_key=True)
    label: Mapped[str] = mapped_column(String(200), unique=True)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    position: Mapped[int] = mapped_column(Integer, default=0)


class StageProbability(Base):
    """The chance an opportunity at a stage is won, for the pipeline's weighted value (admin's setting)."""

    __tablename__ = "stage_probabilities"

    stage: Mapped[Stage] = mapped_column(_enum(Stage, "opportunity_stage"), primary_key=True)
    percent: Mapped[Decimal] = mapped_column(Percent)

    __table_args__ = (CheckConstraint("percent >= 0 AND percent <= 100", name="percent_range"),)


class Opportunity(Base):
    """A chance of business with a customer or a prospect, moved through the stages by hand and by its
    quotes' moves (`services/pipeline.py`); every move is kept (`OpportunityMove`)."""

    __tablename__ = "opportunities"

    id: Mapped[int] = mapped_column(primary_key=True)
    company_id: Mapped[int | None] = mapped_column(ForeignKey("companies.id", ondelete="CASCADE"), index=True)
    prospect_id: Mapped[int | None] = mapped_column(ForeignKey("prospects.id", ondelete="CASCADE"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    expected_value: Mapped[Decimal] = mapped_column(Amount)
    currency: Mapped[str] = mapped_column(String(3), default="PLN")
    expected_close_on: Mapped[date] = mapped_column(Date)
    stage: Mapped[Stage] = mapped_column(_enum(Stage, "opportunity_stage"), default=Stage.LEAD, index=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    lost_reason_id: Mapped[int | None] = mapped_column(ForeignKey("lost_reasons.id"))
    lost_note: Mapped[str] = mapped_column(Text, default="")
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id", ondelete="SET NULL"))
    """The order it was won with."""
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
    updated_at: Mapped[datetime] = mapped_column(default=clock.now)
    stage_changed_at: Mapped[datetime] = mapped_column(default=clock.now)
    version: Mapped[int] = mapped_column(Integer, default=1)

    owner: Mapped[User] = relationship()
    company: Mapped[Company | None] = relationship()
    prospect: Mapped[Prospect | None] = relationship()
    lost_reason: Mapped[LostReason | None] = relationship()
    order: Mapped[Order | None] = relationship()
    moves: Mapped[list[OpportunityMove]] = relationship(order_by="OpportunityMove.id", viewonly=True)

    __table_args__ = (
        CheckConstraint("company_id IS NOT NULL OR prospect_id IS NOT NULL", name="has_owner"),
        CheckConstraint("expected_value >= 0", name="value_not_negative"),
    )


class OpportunityMove(Base):
    """A move of an opportunity from one stage to another: when, by whom (None: a quote's move), why."""

    __tablename__ = "opportunity_moves"

    id: Mapped[int] = mapped_column(primary_key=True)
    opportunity_id: Mapped[int] = mapped_column(ForeignKey("opportunities.id", ondelete="CASCADE"), index=True)
    company_id: Mapped[int | None] = mapped_column(ForeignKey("companies.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(default=clock.now)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    from_stage: Mapped[Stage | None] = mapped_column(_enum(Stage, "opportunity_stage"))
    to_stage: Mapped[Stage] = mapped_column(_enum(Stage, "opportunity_stage"))
    quote_id: Mapped[int | None] = mapped_column(ForeignKey("quotes.id", ondelete="SET NULL"))
    note: Mapped[str] = mapped_column(Text, default="")

    actor: Mapped[User | None] = relationship()


# --- Reporting: the worker's summary the report pages read (`services/report_summary.py`) ---------

SummarySum = Numeric(18, 2)
"""Sums over many invoices and days (balance × days) outgrow an amount's 14 digits."""


class ReportMonth(Base):
    """One customer's month, summarised by the worker from the orders that count (by `counted_on`),
    its quotes, approvals, invoices and payments. Counts and sums only: the report settings (credit
    rate, costs) are applied when a page reads them, so changing a setting needs no new summary."""

    __tablename__ = "report_months"

    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id", ondelete="CASCADE"), primary_key=True)
    month: Mapped[date] = mapped_column(Date, primary_key=True, index=True)
    """The month's first day."""
    orders: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    net: Mapped[Decimal] = mapped_column(Amount, default=Decimal("0.00"), server_default="0")
    """Net revenue: the orders' `net_total` (delivery fees included)."""
    cost: Mapped[Decimal] = mapped_column(Amount, default=Decimal("0.00"), server_default="0")
    goods_net: Mapped[Decimal] = mapped_column(Amount, default=Decimal("0.00"), server_default="0")
    """Net of the goods (fee left out) of the orders whose list value is known: the discount's base."""
    list_total: Mapped[Decimal] = mapped_column(Amount, default=Decimal("0.00"), server_default="0")
    """The same orders' goods at list prices (`Order.list_total`)."""
    small_orders: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    """Deliveries under the free-delivery threshold: orders that were charged a delivery fee."""
    skonto: Mapped[Decimal] = mapped_column(Amount, default=Decimal("0.00"), server_default="0")
    """The early-payment discount the orders were sold with (net × `Order.skonto_pct`), assumed taken."""
    rebates: Mapped[Decimal] = mapped_column(Amount, default=Decimal("0.00"), server_default="0")
    """Rebates of the settlement periods that ended in this month (`SettlementClose.rebate`)."""
    quotes_sent: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    """Quote versions sent to the customer in the month."""
    approvals: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    """Orders a person approved or rejected in the month (automatic approvals cost nothing)."""
    balance_days: Mapped[Decimal] = mapped_column(SummarySum, default=Decimal("0.00"), server_default="0")
    """Σ over the month's days of the customer's unpaid invoice balances: the credit extended, in
    money × days; ÷ days gives the average daily exposure on invoices."""
    paid: Mapped[Decimal] = mapped_column(SummarySum, default=Decimal("0.00"), server_default="0")
    """Payments received in the month."""
    late_days: Mapped[Decimal] = mapped_column(SummarySum, default=Decimal("0.00"), server_default="0")
    """Σ payment × days it came after the invoice's due date (0 when on time): ÷ `paid` gives the
    average days paid late, weighted by amount."""


class ReportCategoryMix(Base):
    """What a customer bought per category over the 12 months up to the summary's day: the purchase
    mix the growth suggestions compare customers by."""

    __tablename__ = "report_category_mix"

    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id", ondelete="CASCADE"), primary_key=True)
    category_id: Mapped[int] = mapped_column(ForeignKey("product_categories.id", ondelete="CASCADE"), primary_key=True)
    net: Mapped[Decimal] = mapped_column(Amount, default=Decimal("0.00"), server_default="0")
    months: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    """Of the 12 months, in how many the customer bought from the category."""


class ReportSettings(Base):
    """What the reports price credit and service with; one row, kept by an admin."""

    __tablename__ = "report_settings"

    id: Mapped[int] = mapped_column(primary_key=True)
    credit_rate_pct: Mapped[Decimal] = mapped_column(Percent)
    """The annual rate trade credit costs the seller (cost of credit = balance × days × rate / 365)."""
    order_cost: Mapped[Decimal] = mapped_column(Amount)
    """Handling one order."""
    delivery_cost: Mapped[Decimal] = mapped_column(Amount)
    """One delivery under the free-delivery threshold."""
    quote_cost: Mapped[Decimal] = mapped_column(Amount)
    """Preparing one quote version."""
    approval_cost: Mapped[Decimal] = mapped_column(Amount)
    """One order a person approved or rejected."""
    updated_at: Mapped[datetime | None]
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    updated_by: Mapped[User | None] = relationship()

    __table_args__ = (
        CheckConstraint("id = 1", name="one_row"),
        CheckConstraint(
            "credit_rate_pct >= 0 AND order_cost >= 0 AND delivery_cost >= 0 AND quote_cost >= 0"
            " AND approval_cost >= 0",
            name="not_negative",
        ),
    )


class ReportRefresh(Base):
    """When the worker last made the summary, and up to which of the seller's days (one row)."""

    __tablename__ = "report_refresh"

    id: Mapped[int] = mapped_column(primary_key=True)
    refreshed_at: Mapped[datetime | None]
    through: Mapped[date | None] = mapped_column(Date)

    __table_args__ = (CheckConstraint("id = 1", name="one_row"),)
