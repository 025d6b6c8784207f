"""Pages stay inert under a strict Content-Security-Policy; nothing but static files is cached;
a state-changing request from another site is refused; the framework's schema is not published."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from portal.models import CartLine, Product
from portal.settings import PROJECT_ROOT
from tests.factories import csrf_from, make_company, make_product, make_user, sign_in, text_of

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


@pytest.fixture
async def buyer_and_product(session: AsyncSession) -> tuple[str, Product]:
    buyer = await make_user(session)
    product = await make_product(session)
    await session.commit()
    return buyer.email, product


async def test_signed_in_pages_fragments_and_downloads_are_never_stored(
    client: AsyncTestClient, buyer_and_product: tuple[str, Product]
) -> None:
    sign_in_page = await client.get("/login")
    assert sign_in_page.headers["cache-control"] == "no-store"
    await sign_in(client, buyer_and_product[0])
    page = await client.get("/dashboard")
    fragment = await client.get("/catalog", headers={"hx-request": "true"})
    download = await client.get("/statement.csv")
    assert fragment.status_code == 200 and "<html" not in fragment.text
    assert download.status_code == 200 and download.headers["content-type"].startswith("text/csv")
    for response in (page, fragment, download):
        assert response.headers["cache-control"] == "no-store", response.url


async def test_static_files_keep_their_caching(client: AsyncTestClient, buyer_and_product: tuple[str, Product]) -> None:
    await sign_in(client, buyer_and_product[0])
    response = await client.get("/static/css/portal.css")
    assert response.status_code == 200
    assert "no-store" not in response.headers.get("cache-control", "")


async def _add_to_cart(client: AsyncTestClient, product: Product, headers: dict[str, str]):  # type: ignore[no-untyped-def]
    page = await client.get("/catalog")
    data = {"product_id": str(product.id), "quantity": "1", "next": "/catalog", "_csrf_token": csrf_from(page.text)}
    return await client.post("/cart/add", data=data, headers=headers, follow_redirects=False)


async def _cart_lines(session: AsyncSession) -> int:
    return await session.scalar(select(func.count()).select_from(CartLine)) or 0


@pytest.mark.parametrize(
    "headers",
    [
        {"origin": "http://evil.example"},
        {"origin": "https://portal.test"},  # another scheme
        {"origin": "http://portal.test:8080"},  # another port
        {"origin": "null"},  # a sandboxed frame or a redirect chain hides where it came from
        {"referer": "http://evil.example/shop"},  # no Origin: the Referer speaks
        {"referer": "//evil.example/shop"},
        {"origin": "http://evil.example", "referer": "http://portal.test/catalog"},  # Origin wins
    ],
)
async def test_a_state_changing_request_from_another_site_is_refused_and_changes_nothing(
    client: AsyncTestClient,
    session: AsyncSession,
    buyer_and_product: tuple[str, Product],
    headers: dict[str, str],
) -> None:
    email, product = buyer_and_product
    await sign_in(client, email)
    refused = await _add_to_cart(client, product, headers)
    assert refused.status_code == 403
    assert "This request came from another site." in text_of(refused.text)
    assert await _cart_lines(session) == 0


@pytest.mark.parametrize(
    "headers",
    [
        {},  # neither header: the CSRF token alone decides
        {"origin": "http://portal.test"},
        {"origin": "http://PORTAL.test:80"},  # the same site, spelt out
        {"referer": "http://portal.test/catalog?page=2"},
        {"referer": "/catalog"},  # a path names no other site
    ],
)
async def test_a_request_from_the_portal_itself_passes(
    client: AsyncTestClient,
    session: AsyncSession,
    buyer_and_product: tuple[str, Product],
    headers: dict[str, str],
) -> None:
    email, product = buyer_and_product
    await sign_in(client, email)
    added = await _add_to_cart(client, product, headers)
    assert added.status_code == 303, text_of(added.text)
    assert await _cart_lines(session) == 1


async def test_sign_in_from_another_site_is_refused(
    client: AsyncTestClient, buyer_and_product: tuple[str, Product]
) -> None:
    page = await client.get("/login")
    data = {"email": buyer_and_product[0], "password": "x", "_csrf_token": csrf_from(page.text)}
    refused = await client.post("/login", data=data, headers={"origin": "http://evil.example"})
    assert refused.status_code == 403
    assert "session" not in client.cookies


async def test_the_framework_schema_is_not_published(
    client: AsyncTestClient, buyer_and_product: tuple[str, Product]
) -> None:
    await sign_in(client, buyer_and_product[0])
    assert (await client.get("/dashboard")).status_code == 200  # signed in
    for path in ["/schema", "/schema/openapi.json", "/schema/swagger", "/schema/openapi.yaml"]:
        assert (await client.get(path)).status_code == 404, path
