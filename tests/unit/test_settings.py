"""Settings: development works with no configuration; production refuses to start insecurely."""

from __future__ import annotations

import pytest

from portal.settings import DEVELOPMENT_SECRET_KEY, ImproperlyConfigured, Settings


def test_development_needs_no_configuration() -> None:
    settings = Settings.from_env({})
    assert settings.database_url.startswith("sqlite+aiosqlite:///")
    assert settings.database_url.endswith("var/portal.db")
    assert (settings.host, settings.port, settings.past_due_grace_days) == ("127.0.0.1", 8000, 7)
    assert not settings.is_production


@pytest.mark.parametrize("secret", [None, DEVELOPMENT_SECRET_KEY, "too-short"])
def test_production_refuses_a_default_or_weak_secret_key(secret: str | None) -> None:
    environ = {"PORTAL_ENV": "production"}
    if secret is not None:
        environ["PORTAL_SECRET_KEY"] = secret
    with pytest.raises(ImproperlyConfigured, match="PORTAL_SECRET_KEY"):
        Settings.from_env(environ)


def test_production_starts_with_a_real_secret_key() -> None:
    settings = Settings.from_env({"PORTAL_ENV": "production", "PORTAL_SECRET_KEY": "k" * 40, "PORT": "5000"})
    assert settings.is_production
    assert settings.port == 5000


def test_unknown_environment_is_refused() -> None:
    with pytest.raises(ImproperlyConfigured, match="PORTAL_ENV"):
        Settings.from_env({"PORTAL_ENV": "staging"})
