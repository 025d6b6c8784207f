"""API keys of the ERP: created by an admin with a name, scopes and an optional expiry; the secret
is shown once and only its keyed hash is kept; a key is revoked at once and says when it was
last used. A call authenticates with `Authorization: Bearer <secret>`; each key may make
`rate_per_minute` calls a minute (setting `PORTAL_API_RATE_PER_MINUTE`).

Secrets are 256 random bits, so a fast keyed hash (HMAC-SHA256 with the portal's secret key) is
enough: nobody can guess one, and a stolen table without the portal's key reveals none."""

from __future__ import annotations

import enum
import hashlib
import hmac
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal

from sqlalchemy import case, delete, select, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlalchemy.orm import selectinload

from portal import clock
from portal.errors import Refused
from portal.i18n import gettext
from portal.models import ApiKey, IdempotentResponse, User
from portal.services import audit
from portal.services.lookup import one

SECRET_PREFIX = "pk_"
NAME_MAX = 100
WINDOW = timedelta(minutes=1)
REPLAY_KEPT = timedelta(days=7)
"""How long the answer to a write sent with an `Idempotency-Key` is kept to be replayed."""


class Resource(enum.StrEnum):
    CATALOGUE = "catalogue"
    PRICES = "prices"
    COMPANIES = "companies"
    CREDIT = "credit"
    INVOICES = "invoices"
    ORDERS = "orders"
    AGREEMENTS = "agreements"
    REBATES = "rebates"


class Access(enum.StrEnum):
    READ = "read"
    WRITE = "write"


def scope(resource: Resource, access: Access) -> str:
    return f"{resource.value}:{access.value}"


ALL_SCOPES = tuple(scope(resource, access) for resource in Resource for access in Access)


def resource_title(resource: Resource) -> str:
    return {
        Resource.CATALOGUE: gettext("Catalogue and stock"),
        Resource.PRICES: gettext("Price lists and contract prices"),
        Resource.COMPANIES: gettext("Companies"),
        Resource.CREDIT: gettext("Credit limits"),
        Resource.INVOICES: gettext("Invoices and payments"),
        Resource.ORDERS: gettext("Orders"),
        Resource.AGREEMENTS: gettext("Framework agreements"),
        Resource.REBATES: gettext("Rebates of closed settlement periods (credit notes)"),
    }[resource]


def hash_secret(secret: str, signing_key: str) -> str:
    return hmac.new(signing_key.encode(), secret.encode(), hashlib.sha256).hexdigest()


def actor_label(key: ApiKey) -> str:
    """How the audit trail and order history name a change made with this key."""
    return f"API key {key.name} (#{key.id})"


@dataclass(frozen=True)
class KeyRecord:
    name: str
    scopes: frozenset[str]
    expires_on: date | None


def key_errors(record: KeyRecord, today: date) -> dict[str, str]:
    errors: dict[str, str] = {}
    if not record.name.strip():
        errors["name"] = gettext("This field is required.")
    elif len(record.name) > NAME_MAX:
        errors["name"] = gettext("At most %(max)d characters.") % {"max": NAME_MAX}
    if not record.scopes:
        errors["scopes"] = gettext("Choose at least one thing the key may read or write.")
    elif not record.scopes <= set(ALL_SCOPES):
        errors["scopes"] = gettext("Unknown scope.")
    if record.expires_on is not None and record.expires_on <= today:
        errors["expires_on"] = gettext("The expiry must be after today.")
    return errors


async def create_key(
    session: AsyncSession, actor: User, record: KeyRecord, *, signing_key: str, today: date
) -> tuple[ApiKey, str]:
    """The new key and its secret, which is never shown again."""
    if errors := key_errors(record, today):
        raise Refused(gettext("Please correct the marked fields."), errors=errors)
    secret = SECRET_PREFIX + secrets.token_urlsafe(32)
    expires_at = datetime.combine(record.expires_on, time(0), tzinfo=UTC) if record.expires_on is not None else None
    key = ApiKey(
        name=record.name.strip(),
        prefix=secret[:10],
        secret_hash=hash_secret(secret, signing_key),
        scopes=" ".join(sorted(record.scopes)),
        created_by_id=actor.id,
        created_at=clock.now(),
        expires_at=expires_at,
    )
    session.add(key)
    await session.flush()
    audit.record(
        session,
        actor,
        "create",
        "api_key",
        key.id,
        key.name,
        changes={"scopes": [None, key.scopes], "expires_at": [None, audit.as_text(expires_at)]},
    )
    return key, secret


async def revoke_key(session: AsyncSession, actor: User, key_id: int) -> ApiKey:
    key = await one(session, ApiKey, key_id)
    if key.revoked_at is None:
        key.revoked_at = clock.now()
        audit.record(session, actor, "revoke", "api_key", key.id, key.name)
    return key


async def all_keys(session: AsyncSession) -> list[ApiKey]:
    """Every key, the revoked ones last, each with the admin who made it."""
    query = select(ApiKey).options(selectinload(ApiKey.created_by))
    return list(await session.scalars(query.order_by(ApiKey.revoked_at.is_not(None), ApiKey.name, ApiKey.id)))


KeyState = Literal["active", "revoked", "expired"]


def key_state(key: ApiKey, now: datetime) -> KeyState:
    if key.revoked_at is not None:
        return "revoked"
    if key.expires_at is not None and key.expires_at <= now:
        return "expired"
    return "active"


class Denied(enum.Enum):
    MISSING = "missing"
    UNKNOWN = "unknown"
    REVOKED = "revoked"
    EXPIRED = "expired"


@dataclass(frozen=True)
class Admitted:
    key: ApiKey
    retry_after: int = 0
    """Seconds until the key may call again; 0 when this call is within its rate."""


def bearer_secret(header: str | None) -> str | None:
    if not header:
        return None
    kind, _, secret = header.strip().partition(" ")
    secret = secret.strip()
    if kind.lower() != "bearer" or not secret or len(secret) > 200:
        return None
    return secret


async def admit(
    session: AsyncSession, header: str | None, *, signing_key: str, rate_per_minute: int, now: datetime
) -> Admitted | Denied:
    """The key named by an `Authorization` header, with the call counted against its rate in one
    conditional update (so concurrent calls are all counted), or why it is refused. The caller commits."""
    secret = bearer_secret(header)
    if secret is None:
        return Denied.MISSING
    key = await session.scalar(select(ApiKey).where(ApiKey.secret_hash == hash_secret(secret, signing_key)))
    if key is None:
        return Denied.UNKNOWN
    state = key_state(key, now)
    if state != "active":
        return Denied.REVOKED if state == "revoked" else Denied.EXPIRED
    window_open = ApiKey.window_started_at > now - WINDOW
    result = (
        await session.execute(
            update(ApiKey)
            .where(ApiKey.id == key.id)
            .values(
                last_used_at=now,
                window_count=case((window_open, ApiKey.window_count + 1), else_=1),
                window_started_at=case((window_open, ApiKey.window_started_at), else_=now),
            )
            .returning(ApiKey.window_count, ApiKey.window_started_at)
            .execution_options(synchronize_session=False)
        )
    ).one()
    count: int = result[0]
    started: datetime = result[1] or now
    if count > rate_per_minute:
        started = started if started.tzinfo else started.replace(tzinfo=UTC)
        wait = (started + WINDOW - now).total_seconds()
        return Admitted(key, retry_after=max(1, int(wait) + 1))
    return Admitted(key)


async def admit_call(
    engine: AsyncEngine, header: str | None, *, signing_key: str, rate_per_minute: int, now: datetime
) -> Admitted | Denied:
    """`admit` in a transaction of its own, committed whatever the call then answers: a refused call
    still counts against the key's rate and marks the key used."""
    async with AsyncSession(engine, expire_on_commit=False) as session:
        admitted = await admit(session, header, signing_key=signing_key, rate_per_minute=rate_per_minute, now=now)
        await session.commit()
    return admitted


async def forget_responses(session: AsyncSession, now: datetime) -> int:
    """Drops stored idempotent responses older than `REPLAY_KEPT` (for the worker's tidy-up); the
    number dropped. A retry comes within minutes or hours; after a week a key may be reused."""
    result = await session.execute(delete(IdempotentResponse).where(IdempotentResponse.created_at <= now - REPLAY_KEPT))
    return int(getattr(result, "rowcount", 0) or 0)


def granted(key: ApiKey, needed: Iterable[str]) -> bool:
    return set(needed) <= key.scope_set
