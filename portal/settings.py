"""Settings of one portal process, read once from environment variables.

Development needs no configuration; production (`PORTAL_ENV=production`) refuses
to start with the development secret key.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

PACKAGE_DIR = Path(__file__).resolve().parent
PROJECT_ROOT = PACKAGE_DIR.parent
"""The checkout the portal runs from; an installed portal keeps its data files in `portal/_data`."""


def resource_dir(name: str) -> Path:
    """`templates`, `static` or `migrations`: inside the installed package, else in the checkout."""
    installed = PACKAGE_DIR / "_data" / name
    return installed if installed.is_dir() else PROJECT_ROOT / name


TEMPLATES_DIR = resource_dir("templates")
STATIC_DIR = resource_dir("static")
MIGRATIONS_DIR = resource_dir("migrations")
WORK_DIR = PROJECT_ROOT if (PROJECT_ROOT / "pyproject.toml").is_file() else Path.cwd()
"""Where `var/portal.db` lives by default: the checkout, or for an installed portal the current directory."""
DEVELOPMENT_SECRET_KEY = "development-only-secret-key-change-me"


class ImproperlyConfigured(RuntimeError):
    """The environment describes a portal that must not start."""


@dataclass(frozen=True)
class Settings:
    database_url: str
    secret_key: str
    env: str
    host: str
    port: int
    seller_timezone: str
    past_due_grace_days: int
    session_absolute_seconds: int
    """A sign-in lasts this long at most, however busy the session (PORTAL_SESSION_ABSOLUTE_SECONDS)."""
    session_idle_seconds: int = 2 * 3600
    """A session unused this long has ended (PORTAL_SESSION_IDLE_SECONDS)."""
    margin_floor_pct: Decimal = Decimal("10")
    base_url: str = "http://localhost:8000"
    """Where links in e-mails point."""
    smtp_host: str = ""
    """Empty: e-mails are written to the log (development)."""
    smtp_port: int = 25
    smtp_tls: bool = False
    smtp_user: str = ""
    smtp_password: str = ""
    smtp_sender: str = "portal@localhost"
    """Lines below this margin are flagged for the approver, unless their category sets its own floor."""
    api_rate_per_minute: int = 600
    """Calls one API key may make in a minute; more are answered 429 (PORTAL_API_RATE_PER_MINUTE)."""
    quote_validity_days: int = 14
    """How long a new version of a quote is valid by default, in days (PORTAL_QUOTE_VALIDITY_DAYS)."""
    default_locale: str = "pl"
    """The language of whoever chose none and whose browser asks for none the portal speaks
    (PORTAL_DEFAULT_LOCALE: "pl" or "en")."""
    seller_name: str = "Hurtownia Przykładowa Sp. z o.o."
    """Who sells, as named on every document (PORTAL_SELLER_NAME)."""
    seller_tax_id: str = "5260000005"
    """The seller's NIP, as printed on documents (PORTAL_SELLER_TAX_ID)."""
    seller_address: str = "ul. Magazynowa 5\n02-676 Warszawa"
    """The seller's address, in lines (PORTAL_SELLER_ADDRESS; "\\n" between lines)."""

    @property
    def is_production(self) -> bool:
        return self.env == "production"

    @property
    def is_development(self) -> bool:
        return self.env == "development"

    @property
    def seller_zone(self) -> ZoneInfo:
        return ZoneInfo(self.seller_timezone)

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        settings = cls(
            database_url=env.get("PORTAL_DATABASE_URL", f"sqlite+aiosqlite:///{WORK_DIR / 'var' / 'portal.db'}"),
            secret_key=env.get("PORTAL_SECRET_KEY", DEVELOPMENT_SECRET_KEY),
            env=env.get("PORTAL_ENV", "development"),
            host=env.get("PORTAL_HOST", "127.0.0.1"),
            port=int(env.get("PORTAL_PORT", env.get("PORT", "8000"))),
            seller_timezone=env.get("PORTAL_SELLER_TIMEZONE", "Europe/Warsaw"),
            past_due_grace_days=int(env.get("PORTAL_PAST_DUE_GRACE_DAYS", "7")),
            session_absolute_seconds=int(
                env.get("PORTAL_SESSION_ABSOLUTE_SECONDS", env.get("PORTAL_SESSION_MAX_AGE", str(12 * 3600)))
            ),
            session_idle_seconds=int(env.get("PORTAL_SESSION_IDLE_SECONDS", str(2 * 3600))),
            margin_floor_pct=Decimal(env.get("PORTAL_MARGIN_FLOOR_PCT", "10")),
            base_url=env.get("PORTAL_BASE_URL", "http://localhost:8000"),
            smtp_host=env.get("PORTAL_SMTP_HOST", ""),
            smtp_port=int(env.get("PORTAL_SMTP_PORT", "25")),
            smtp_tls=env.get("PORTAL_SMTP_TLS", "").lower() in {"1", "true", "yes"},
            smtp_user=env.get("PORTAL_SMTP_USER", ""),
            smtp_password=env.get("PORTAL_SMTP_PASSWORD", ""),
            smtp_sender=env.get("PORTAL_SMTP_SENDER", "portal@localhost"),
            api_rate_per_minute=int(env.get("PORTAL_API_RATE_PER_MINUTE", "600")),
            quote_validity_days=int(env.get("PORTAL_QUOTE_VALIDITY_DAYS", "14")),
            default_locale=env.get("PORTAL_DEFAULT_LOCALE", "pl"),
            seller_name=env.get("PORTAL_SELLER_NAME", cls.seller_name),
            seller_tax_id=env.get("PORTAL_SELLER_TAX_ID", cls.seller_tax_id),
            seller_address=env.get("PORTAL_SELLER_ADDRESS", cls.seller_address).replace("\\n", "\n"),
        )
        settings.validate()
        return settings

    def validate(self) -> None:
        if self.env not in {"development", "production", "test"}:
            raise ImproperlyConfigured(f"PORTAL_ENV must be development, test or production, not {self.env!r}")
        if self.is_production and (self.secret_key == DEVELOPMENT_SECRET_KEY or len(self.secret_key) < 32):
            raise ImproperlyConfigured(
                "PORTAL_SECRET_KEY must be set to a random value of at least 32 characters in production"
            )
        if self.session_absolute_seconds <= 0 or self.session_idle_seconds <= 0:
            raise ImproperlyConfigured(
                "PORTAL_SESSION_ABSOLUTE_SECONDS and PORTAL_SESSION_IDLE_SECONDS must be positive"
            )
        ZoneInfo(self.seller_timezone)
        if not 1 <= self.quote_validity_days <= 366:
            raise ImproperlyConfigured("PORTAL_QUOTE_VALIDITY_DAYS must be between 1 and 366")
        if self.default_locale not in ("pl", "en"):
            raise ImproperlyConfigured(f"PORTAL_DEFAULT_LOCALE must be pl or en, not {self.default_locale!r}")
