"""Pages stay inert under a strict Content-Security-Policy."""

from __future__ import annotations

import re
from pathlib import Path

from litestar.testing import AsyncTestClient
from sqlalchemy.ext.asyncio import AsyncSession

from portal.settings import PROJECT_ROOT
from tests.factories import make_company, make_user, sign_in

TEMPLATES = sorted((PROJECT_ROOT / "templates").rglob("*.html"))


async def test_every_response_carries_a_strict_policy(client: AsyncTestClient, session: AsyncSession) -> None:
    for path in ["/login", "/no/such/page", "/static/css/portal.css"]:
        response = await client.get(path)
        assert response.headers["content-security-policy"].startswith("default-src 'self'")
        assert response.headers["x-content-type-options"] == "nosniff"


def test_templates_have_no_inline_scripts_handlers_or_styles() -> None:
    assert TEMPLATES
    for template in TEMPLATES:
        source = template.read_text()
        assert not re.search(r"<script(?![^>]*\bsrc=)", source), template
        assert not re.search(r"\son[a-z]+\s*=", source), template
        assert "hx-on" not in source, template
        assert not re.search(r"\sstyle\s*=", source), template


async def test_htmx_is_served_from_the_portal_itself(client: AsyncTestClient) -> None:
    page = await client.get("/login")
    assert '<script src="/static/vendor/htmx-2.0.11.min.js" defer></script>' in page.text
    script = await client.get("/static/vendor/htmx-2.0.11.min.js")
    assert script.status_code == 200 and 'version:"2.0.11"' in script.text.replace(" ", "")


async def test_user_supplied_text_is_escaped(client: AsyncTestClient, session: AsyncSession) -> None:
    company = await make_company(session, name="<script>alert(1)</script> Ltd", on_hold=True, hold_reason="<b>x</b>")
    buyer = await make_user(session, company_id=company.id)
    await session.commit()
    await sign_in(client, buyer.email)
    html = (await client.get("/dashboard")).text
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; Ltd" in html


def test_static_assets_exist() -> None:
    assert Path(PROJECT_ROOT / "static/vendor/htmx-2.0.11.min.js").stat().st_size > 40_000
