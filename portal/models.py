"""The portal's tables as typed SQLAlchemy mappings.

Every table that belongs to a customer carries `company_id`. Money is Numeric:
unit prices with 4 decimal places, amounts with 2. Times are UTC.
"""

from __future__ import annotations

import enum
from datetime import date, datetime
from decimal import Decimal

from advanced_alchemy.extensions.litestar.store import StoreModelMixin
from advanced_alchemy.types import DateTimeUTC
from sqlalchemy import (
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
    account_manager_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", use_alter=True), index=True)
    created_at: Mapped[datetime] = mapped_column(default=clock.now)

    account_manager: Mapped[User | None] = relationship(foreign_keys=[account_manager_id])
    addresses: Mapped[list[Address]] = relationship(back_populates="company", order_by="Address.id")

    __table_args__ = (
        CheckConstraint("payment_terms_days >= 0", name="payment_terms_not_negative"),
        CheckConstraint("credit_limit >= 0", name="credit_limit_not_negative"),
        CheckConstraint("general_discount_pct >= 0 AND general_discount_pct < 100", name="discount_range"),
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
    locale: Mapped[str] = mapped_column(String(10), default="en")
    timezone: Mapped[str] = mapped_column(String(50), default="Europe/Warsaw")
    created_at: Mapped[datetime] = mapped_column(default=clock.now)

    company: Mapped[Company | None] = relationship(foreign_keys=[company_id])

    __table_args__ = (
        CheckConstraint(
            "(role = 'buyer' AND company_id IS NOT NULL) OR (role <> 'buyer' AND company_id IS NULL)",
            name="buyer_has_company",
        ),
    )


class LoginThrottle(Base):
    """Failed sign-in attempts per e-mail address, known account or not, so the
    answer never tells whether an address has an account."""

    __tablename__ = "login_throttles"

    email: Mapped[str] = mapped_column(String(254), primary_key=True)
    failed_count: Mapped[int] = mapped_column(Integer, default=0)
    last_failed_at: Mapped[datetime | None]
    locked_until: Mapped[datetime | None]


class ProductCategory(Base):
    __tablename__ = "product_categories"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)


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
    number: Mapped[str] = mapped_column(String(50), unique=True)
    issue_date: Mapped[date] = mapped_column(Date)
    due_date: Mapped[date] = mapped_column(Date)
    currency: Mapped[str] = mapped_column(String(3), default="PLN")
    gross_amount: Mapped[Decimal] = mapped_column(Amount)
    paid_amount: Mapped[Decimal] = mapped_column(Amount, default=Decimal("0.00"))

    company: Mapped[Company] = relationship()

    __table_args__ = (
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
