"""The admin's CSV page for master data: choose what the file holds and the file, check it (a
preview of what would change, nothing written), apply it (all or nothing, flashed and audited),
and export every kind in the two flavours Excel opens, which import back unchanged.

A small kind over product categories (`CategoryKind`) stands for the real kinds; the last test
runs the page against a real kind when one is registered."""

from __future__ import annotations

import re
from decimal import Decimal
from html import unescape
from typing import Any

import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from portal.models import AuditEntry, ProductCategory, Role
from portal.services import master_data
from tests.factories import csrf_from, make_user, sign_in, text_of
from tests.unit.test_master_import import CategoryKind

PAGE = "/admin/imports"


@pytest.fixture
def categories(monkeypatch: pytest.MonkeyPatch) -> CategoryKind:
    kind = CategoryKind()
    real = master_data.kinds()
    monkeypatch.setattr(master_data, "kinds", lambda: {**real, kind.code: kind})
    return kind


@pytest.fixture
async def admin(client: AsyncTestClient, session: AsyncSession) -> AsyncTestClient:
    """The client, signed in as an admin."""
    user = await make_user(session, Role.ADMIN)
    await session.commit()
    await sign_in(client, user.email)
    return client


async def check(client: AsyncTestClient, content: bytes | str, kind: str = "categories", name: str = "cats.csv") -> Any:
    page = await client.get(PAGE)
    raw = content.encode() if isinstance(content, str) else content
    return await client.post(
        PAGE, data={"_csrf_token": csrf_from(page.text), "kind": kind}, files={"file": (name, raw, "text/csv")}
    )


def apply_fields(checked: str) -> dict[str, str]:
    """The hidden fields of the apply form on a checked page."""
    form = checked[checked.index('id="apply-form"') :]
    return {
        name: unescape(value)
        for name, value in re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', form)
    }


async def apply(client: AsyncTestClient, fields: dict[str, str]) -> Any:
    """Sends the apply form as a browser does (multipart)."""
    return await client.post(
        f"{PAGE}/apply",
        follow_redirects=False,
        data={key: value for key, value in fields.items() if key != "content"},
        files={"content": (None, fields["content"].encode())},
    )


async def stored(session: AsyncSession) -> dict[str, Decimal | None]:
    session.expunge_all()
    return {c.name: c.margin_floor_pct for c in await session.scalars(select(ProductCategory))}


def field_error(html: str, field: str) -> str:
    found = re.search(rf'<p class="field-error" id="{field}-error" role="alert">([^<]*)</p>', html)
    assert found is not None, f"no message next to {field}"
    return unescape(found.group(1))


async def test_the_page_states_its_limits_and_lists_the_kinds(admin: AsyncTestClient, categories: CategoryKind) -> None:
    page = await admin.get(PAGE)
    assert page.status_code == 200
    text = text_of(page.text)
    assert "at most 10 MB and 50,000 rows. Larger files are refused, never cut" in text
    assert '<option value="categories" >Product categories</option>' in page.text
    assert "/admin/exports/categories?format=excel_pl" in page.text


async def test_check_previews_then_apply_imports_all_and_again_changes_nothing(
    admin: AsyncTestClient, session: AsyncSession, categories: CategoryKind
) -> None:
    session.add(ProductCategory(name="Tools", margin_floor_pct=Decimal("10.00")))
    await session.commit()
    content = "\ufeffNazwa;Minimalna marża %\r\nTools;12,5\r\n\r\nPaint;\r\nGlue;3\r\n"

    checked = await check(admin, content)

    assert checked.status_code == 200
    text = text_of(checked.text)
    assert "2 new, 1 changed, 0 unchanged, 0 errors." in text
    assert "margin_floor_pct : 10 → 12.5" in text
    assert 'data-row="4"' in checked.text  # "Paint", after a blank line
    assert await stored(session) == {"Tools": Decimal("10.00")}  # nothing written yet

    fields = apply_fields(checked.text)
    applied = await apply(admin, fields)
    assert applied.status_code == 303 and applied.headers["location"] == PAGE
    assert "Imported: 2 new, 1 changed, 0 unchanged." in text_of((await admin.get(PAGE)).text)
    assert await stored(session) == {"Tools": Decimal("12.50"), "Paint": None, "Glue": Decimal("3.00")}
    [entry] = (await session.scalars(select(AuditEntry).where(AuditEntry.object_type == "import"))).all()
    assert (entry.action, entry.object_label) == ("import", "cats.csv")
    assert '"kind": "categories"' in entry.note and '"new": 2, "changed": 1, "unchanged": 0' in entry.note

    again = await check(admin, content)
    assert "0 new, 0 changed, 3 unchanged, 0 errors." in text_of(again.text)
    applied = await apply(admin, apply_fields(again.text))
    assert applied.status_code == 303
    assert "Imported: 0 new, 0 changed, 3 unchanged." in text_of((await admin.get(PAGE)).text)

    stale = await apply(admin, fields)  # the first check's form, sent again
    assert stale.status_code == 409
    assert "The data changed since the file was checked, so nothing was imported." in text_of(stale.text)
    assert "0 new, 0 changed, 3 unchanged, 0 errors." in text_of(stale.text)
    assert await session.scalar(select(func.count()).where(AuditEntry.object_type == "import")) == 2


async def test_an_apply_validates_again_and_a_refusal_shows_the_errors_as_they_stand(
    admin: AsyncTestClient, session: AsyncSession, categories: CategoryKind
) -> None:
    fields = apply_fields((await check(admin, "name,margin_floor_pct\nTools,12.5\n")).text)
    fields["content"] = "name,margin_floor_pct\nTools,12.5\nPaint,lots\n"  # not what was checked

    refused = await apply(admin, fields)

    assert refused.status_code == 400
    assert "The file has errors." in text_of(refused.text)  # the kind's refusal
    assert 'data-row="3"' in refused.text and "The margin is not a percentage." in text_of(refused.text)
    assert 'id="apply-form"' not in refused.text
    assert await stored(session) == {}


async def test_refusals_are_shown_next_to_their_field(admin: AsyncTestClient, categories: CategoryKind) -> None:
    page = await admin.get(PAGE)
    token = csrf_from(page.text)
    no_kind = await admin.post(PAGE, data={"_csrf_token": token}, files={"file": ("a.csv", b"name\nA\n", "text/csv")})
    assert no_kind.status_code == 400 and field_error(no_kind.text, "kind") == "Choose what the file holds."

    unknown_kind = await check(admin, "name\nA\n", kind="planets")
    assert unknown_kind.status_code == 400 and field_error(unknown_kind.text, "kind") == "Choose what the file holds."

    no_file = await admin.post(PAGE, data={"_csrf_token": token, "kind": "categories"}, files={"x": (None, b"")})
    assert no_file.status_code == 400 and field_error(no_file.text, "file") == "Choose a CSV file."
    assert '<option value="categories" selected>' in no_file.text
    empty_input = await admin.post(  # what a browser sends when no file was chosen
        PAGE, data={"_csrf_token": token, "kind": "categories"}, files={"file": ("", b"", "application/octet-stream")}
    )
    assert empty_input.status_code == 400 and field_error(empty_input.text, "file") == "Choose a CSV file."

    wrong_kind = await check(admin, "sku,name,list_price\nSKU-1,Drill,10\n")
    assert wrong_kind.status_code == 400
    assert field_error(wrong_kind.text, "file").startswith(
        "The header has columns this file cannot hold: sku, list_price."
    )
    assert 'id="apply-form"' not in wrong_kind.text

    utf16 = await check(admin, "name\nA\n".encode("utf-16"))
    assert "save it as “CSV UTF-8”" in field_error(utf16.text, "file")


async def test_ten_thousand_bad_rows_show_the_first_200_and_how_many_more(
    admin: AsyncTestClient, categories: CategoryKind
) -> None:
    checked = await check(admin, "name,margin_floor_pct\n" + "".join(f"c{n},x\n" for n in range(10_000)))
    assert checked.status_code == 400
    assert checked.text.count('class="row-error"') == 200
    assert "and 9,800 more" in text_of(checked.text)
    assert "0 new, 0 changed, 0 unchanged, 10,000 errors." in text_of(checked.text)


async def test_exports_open_in_excel_both_ways_and_import_back_unchanged(
    admin: AsyncTestClient, session: AsyncSession, categories: CategoryKind
) -> None:
    session.add_all(
        [
            ProductCategory(name="=HYPERLINK(1)", margin_floor_pct=Decimal("-2.50")),
            ProductCategory(name="Paint; glue", margin_floor_pct=Decimal("12.00")),
            ProductCategory(name="Łożyska"),
        ]
    )
    await session.commit()

    english = await admin.get("/admin/exports/categories?format=excel")
    assert english.status_code == 200 and english.headers["content-type"].startswith("text/csv")
    assert 'filename="categories-' in english.headers["content-disposition"]
    assert english.content.startswith(b"\xef\xbb\xbf")
    assert english.content.decode("utf-8-sig").splitlines() == [
        "name,margin_floor_pct",
        "'=HYPERLINK(1),-2.50",
        '"Paint; glue",12.00',
        "Łożyska,",
    ]
    polish = await admin.get("/admin/exports/categories?format=excel_pl")
    assert polish.content.decode("utf-8-sig").splitlines() == [
        "name;margin_floor_pct",
        "'=HYPERLINK(1);-2,50",
        '"Paint; glue";12,00',
        "Łożyska;",
    ]
    assert (await admin.get("/admin/exports/categories")).content == english.content

    for export in (english, polish):
        checked = await check(admin, export.content)
        assert "0 new, 0 changed, 3 unchanged, 0 errors." in text_of(checked.text)

    assert (await admin.get("/admin/exports/planets")).status_code == 404
    assert (await admin.get("/admin/exports/categories?format=xlsx")).status_code == 400


async def test_buyers_managers_and_finance_are_refused_every_route(
    client: AsyncTestClient, session: AsyncSession, categories: CategoryKind
) -> None:
    users = [await make_user(session, role) for role in (Role.BUYER, Role.ACCOUNT_MANAGER, Role.FINANCE)]
    await session.commit()
    for user in users:
        client.cookies.clear()
        await sign_in(client, user.email)
        token = csrf_from((await client.get("/")).text)
        answers = [
            await client.get(PAGE),
            await client.post(
                PAGE, data={"_csrf_token": token, "kind": "categories"}, files={"file": ("a.csv", b"name\nA\n")}
            ),
            await client.post(
                f"{PAGE}/apply",
                data={"_csrf_token": token, "kind": "categories"},
                files={"content": (None, b"name\nA\n")},
            ),
            await client.get("/admin/exports/categories?format=excel"),
        ]
        assert [answer.status_code for answer in answers] == [403] * 4, user.role
    assert await stored(session) == {}


async def test_twenty_thousand_products_check_apply_and_export_back_unchanged_through_the_page(
    admin: AsyncTestClient, session: AsyncSession
) -> None:
    session.add(ProductCategory(name="Narzędzia"))
    await session.commit()
    lines = ["Indeks;Nazwa;Opis;VAT;Cena katalogowa;Koszt;Kategoria;Stan"]
    lines += [
        f"SKU-{n:05d};Wiertło {n} mm;Stal, „HSS”;23;{n % 97 + 1},5;{n % 97},25;Narzędzia;{n}" for n in range(20_000)
    ]
    content = "\r\n".join(lines).encode("utf-8-sig")

    checked = await check(admin, content, kind="products", name="produkty.csv")

    assert checked.status_code == 200, text_of(checked.text)[:2000]
    assert "20,000 new, 0 changed, 0 unchanged, 0 errors." in text_of(checked.text)
    assert checked.text.count("<tr data-row=") == 20  # the first 20 shown
    applied = await apply(admin, apply_fields(checked.text))
    assert applied.status_code == 303
    assert "Imported: 20,000 new, 0 changed, 0 unchanged." in text_of((await admin.get(PAGE)).text)

    export = await admin.get("/admin/exports/products?format=excel_pl")
    assert export.content.decode("utf-8-sig").splitlines()[1].startswith('SKU-00000;Wiertło 0 mm;"Stal, „HSS”";')
    again = await check(admin, export.content, kind="products")
    assert "0 new, 0 changed, 20,000 unchanged, 0 errors." in text_of(again.text)


async def test_an_apply_of_text_that_is_not_a_file_is_refused_next_to_the_file(
    admin: AsyncTestClient, session: AsyncSession, categories: CategoryKind
) -> None:
    fields = apply_fields((await check(admin, "name\nTools\n")).text)
    for content, says in [(" \r\n", "The file is empty."), ("colour\nred\n", "The header has no column “name”.")]:
        refused = await apply(admin, {**fields, "content": content})
        assert refused.status_code == 400 and says in field_error(refused.text, "file")
    assert await stored(session) == {}
