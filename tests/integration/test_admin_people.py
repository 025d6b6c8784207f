"""Admin → People through the browser's eyes: inviting (and the e-mailed link, through a real SMTP
server, to a signed-in buyer), resending and withdrawing, forgotten passwords, the users list and
page (deactivate, reactivate, role), bulk reassignment and covers; each form's refusals come back
with the message next to the field, what was typed kept, and nothing saved. Only admins get in."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from portal import clock
from portal.models import AccessToken, AuditEntry, Company, Deputy, NotificationKind, OutboxMessage, Role, User
from portal.services.notifications import SmtpSender, deliver_pending
from tests.factories import csrf_from, make_company, make_user, sign_in, text_of
from tests.queries import counted_statements
from tests.smtp import Inbox

ADMIN_PAGES = ["/admin/users", "/admin/invitations", "/admin/invitations/new", "/admin/assignments", "/admin/covers"]


@pytest.fixture
async def world(session: AsyncSession) -> dict[str, Any]:
    admin = await make_user(session, Role.ADMIN, full_name="Ada Admin", email="admin@seller.example")
    anna = await make_user(session, Role.ACCOUNT_MANAGER, full_name="Anna Kowalska", email="anna@seller.example")
    piotr = await make_user(session, Role.ACCOUNT_MANAGER, full_name="Piotr Nowak", email="piotr@seller.example")
    northwind = await make_company(session, name="Northwind", account_manager_id=anna.id)
    closed = await make_company(session, name="Closed Ltd", is_active=False)
    buyer = await make_user(session, full_name="Bartek Buyer", email="buyer@northwind.example", company_id=northwind.id)
    await session.commit()
    return {"admin": admin, "anna": anna, "piotr": piotr, "northwind": northwind, "closed": closed, "buyer": buyer}


async def admin_csrf(client: AsyncTestClient, world: dict[str, Any], page: str = "/admin/users") -> str:
    assert (await sign_in(client, world["admin"].email)).status_code == 303
    return csrf_from((await client.get(page)).text)


async def count(session: AsyncSession, model: Any, *where: Any) -> int:
    return await session.scalar(select(func.count()).select_from(model).where(*where)) or 0


async def test_inviting_refuses_each_bad_field_next_to_it_and_keeps_what_was_typed(
    client: AsyncTestClient, world: dict[str, Any], session: AsyncSession
) -> None:
    csrf = await admin_csrf(client, world, "/admin/invitations/new")
    taken = await client.post(
        "/admin/invitations",
        data={"email": "BUYER@northwind.example", "full_name": "Someone", "role": "buyer",
              "company_id": str(world["northwind"].id), "_csrf_token": csrf},
    )  # fmt: skip
    assert taken.status_code == 400
    assert 'id="email-error" role="alert">A user with this email already exists' in taken.text
    assert 'value="BUYER@northwind.example"' in taken.text and 'value="Someone"' in taken.text
    assert f'<option value="{world["northwind"].id}" selected>' in taken.text
    closed = await client.post(
        "/admin/invitations",
        data={"email": "new@closed.example", "full_name": "N", "role": "buyer",
              "company_id": str(world["closed"].id), "_csrf_token": csrf},
    )  # fmt: skip
    assert closed.status_code == 400 and 'id="company_id-error" role="alert">' in closed.text
    no_company = await client.post(
        "/admin/invitations", data={"email": "x@example.test", "role": "buyer", "_csrf_token": csrf}
    )
    assert no_company.status_code == 400
    assert 'id="full_name-error" role="alert">This field is required.<' in no_company.text
    staff_with_company = await client.post(
        "/admin/invitations",
        data={"email": "x@example.test", "full_name": "X", "role": "finance",
              "company_id": str(world["northwind"].id), "_csrf_token": csrf},
    )  # fmt: skip
    assert 'id="company_id-error" role="alert">Only buyers belong to a customer company.<' in staff_with_company.text
    odd_role = await client.post(
        "/admin/invitations", data={"email": "x@example.test", "full_name": "X", "role": "king", "_csrf_token": csrf}
    )
    assert odd_role.status_code == 400 and 'id="role-error" role="alert">Choose a role.<' in odd_role.text
    assert await count(session, AccessToken) == 0 and await count(session, OutboxMessage) == 0

    sent = await client.post(
        "/admin/invitations",
        data={"email": "fin@seller.example", "full_name": "Filip", "role": "finance", "_csrf_token": csrf},
        follow_redirects=False,
    )
    assert sent.status_code == 303 and sent.headers["location"] == "/admin/invitations"
    again = await client.post(
        "/admin/invitations",
        data={"email": "fin@seller.example", "full_name": "Filip", "role": "finance", "_csrf_token": csrf},
    )
    assert again.status_code == 400 and "An invitation to this address is waiting" in again.text
    assert await count(session, AccessToken) == 1


async def test_an_invited_buyer_follows_the_e_mailed_link_sets_a_password_and_signs_in(
    client: AsyncTestClient, world: dict[str, Any], session: AsyncSession, engine: AsyncEngine, smtp_server: Any
) -> None:
    csrf = await admin_csrf(client, world, "/admin/invitations/new")
    sent = await client.post(
        "/admin/invitations",
        data={"email": "nina@northwind.example", "full_name": "Nina Nowak", "role": "buyer",
              "company_id": str(world["northwind"].id), "_csrf_token": csrf},
    )  # fmt: skip
    assert sent.status_code == 200 and "Invitation sent to nina@northwind.example." in text_of(sent.text)
    assert "nina@northwind.example" in text_of((await client.get("/admin/invitations")).text)
    maker = async_sessionmaker(engine, expire_on_commit=False)
    sender = SmtpSender("127.0.0.1", smtp_server.port, "portal@seller.example", base_url="http://portal.test")
    assert (await deliver_pending(maker, sender)).sent == 1
    (mail,) = smtp_server.inbox.to("nina@northwind.example")
    text = Inbox.text(mail)
    assert "Hello Nina Nowak" in text and "Northwind" in text
    link = re.search(r"http://portal\.test(/join/\S+)", text)
    assert link is not None
    path = link.group(1)

    client.cookies.clear()
    page = await client.get(path)
    assert page.status_code == 200 and "Welcome, Nina Nowak" in text_of(page.text)
    csrf = csrf_from(page.text)
    mismatch = await client.post(
        path, data={"password": "a good password", "repeat_password": "another one!", "_csrf_token": csrf}
    )
    assert mismatch.status_code == 400
    assert 'id="repeat_password-error" role="alert">The two passwords are not the same.<' in mismatch.text
    done = await client.post(
        path, data={"password": "a good password", "repeat_password": "a good password", "_csrf_token": csrf}
    )
    assert done.status_code == 200 and str(done.url).endswith("/login")
    assert "Your password is set; sign in." in text_of(done.text)
    used = await client.get(path)
    assert used.status_code == 410 and "This invitation link is no longer valid" in text_of(used.text)
    again = await client.post(path, data={"password": "x" * 12, "repeat_password": "x" * 12, "_csrf_token": csrf})
    assert again.status_code == 410

    signed = await sign_in(client, "nina@northwind.example", "a good password")
    assert signed.status_code == 303 and signed.headers["location"] == "/dashboard"
    nina = await session.scalar(select(User).where(User.email == "nina@northwind.example"))
    assert nina is not None and (nina.role, nina.company_id) == (Role.BUYER, world["northwind"].id)


async def test_a_link_unknown_expired_or_odd_shows_one_page_and_nothing_happens(
    client: AsyncTestClient, world: dict[str, Any], session: AsyncSession
) -> None:
    page = await client.get("/login")
    csrf = csrf_from(page.text)
    for path in ["/join/nothing-here", "/password/reset/nothing-here", "/join/" + "x" * 99]:
        answer = await client.get(path)
        assert answer.status_code == 410, path
        posted = await client.post(path, data={"password": "p" * 12, "repeat_password": "p" * 12, "_csrf_token": csrf})
        assert posted.status_code == 410
        empty = await client.post(path, data={"_csrf_token": csrf})
        assert empty.status_code == 410
    assert (await client.get("/join/" + "x" * 500)).status_code == 404
    assert await count(session, User) == 4


async def test_a_forgotten_password_answers_the_same_and_the_link_ends_every_session(
    client: AsyncTestClient, world: dict[str, Any], session: AsyncSession
) -> None:
    login = await client.get("/login")
    assert 'href="/password/forgot"' in login.text
    form = await client.get("/password/forgot")
    assert form.status_code == 200 and "2 hours" in text_of(form.text)
    csrf = csrf_from(form.text)
    answers = []
    for email in ["nobody@example.test", "buyer@northwind.example"]:
        answer = await client.post("/password/forgot", data={"email": email, "_csrf_token": csrf})
        assert answer.status_code == 200
        answers.append(text_of(answer.text))
    assert answers[0] == answers[1] and "If an account exists for this address, we sent a link" in answers[0]
    missing = await client.post("/password/forgot", data={"_csrf_token": csrf})
    assert missing.status_code == 400 and 'id="email-error" role="alert">This field is required.<' in missing.text
    (message,) = (await session.scalars(select(OutboxMessage))).all()
    assert message.kind is NotificationKind.PASSWORD_RESET and message.recipient == "buyer@northwind.example"

    other = AsyncTestClient(client.app, base_url="http://portal.test")
    async with other:
        assert (await sign_in(other, "buyer@northwind.example")).status_code == 303
        assert (await other.get("/dashboard")).status_code == 200
        page = await client.get(message.link)
        assert page.status_code == 200 and "buyer@northwind.example" in text_of(page.text)
        short = await client.post(
            message.link, data={"password": "short", "repeat_password": "short", "_csrf_token": csrf}
        )
        assert short.status_code == 400 and 'id="password-error" role="alert">' in short.text
        done = await client.post(
            message.link,
            data={"password": "my new password", "repeat_password": "my new password", "_csrf_token": csrf},
            follow_redirects=False,
        )
        assert done.status_code == 303 and done.headers["location"] == "/login"
        assert (await other.get("/dashboard", follow_redirects=False)).status_code in (302, 303)
    assert (await client.get(message.link)).status_code == 410
    assert (await sign_in(client, "buyer@northwind.example", "my new password")).status_code == 303


async def test_resending_and_withdrawing_from_the_invitations_list(
    client: AsyncTestClient, world: dict[str, Any], session: AsyncSession
) -> None:
    csrf = await admin_csrf(client, world, "/admin/invitations/new")
    await client.post(
        "/admin/invitations",
        data={"email": "fin@seller.example", "full_name": "Filip", "role": "finance", "_csrf_token": csrf},
    )
    invitation = await session.scalar(select(AccessToken))
    assert invitation is not None
    listed = await client.get("/admin/invitations")
    assert f'action="/admin/invitations/{invitation.id}/resend"' in listed.text and "Waiting" in text_of(listed.text)
    resent = await client.post(f"/admin/invitations/{invitation.id}/resend", data={"_csrf_token": csrf})
    assert resent.status_code == 200 and "the old one no longer works" in text_of(resent.text)
    links = list(await session.scalars(select(OutboxMessage.link).order_by(OutboxMessage.id)))
    assert len(links) == 2 and links[0] != links[1]
    assert (await client.get(links[0])).status_code == 410
    assert (await client.get(links[1])).status_code == 200
    withdrawn = await client.post(f"/admin/invitations/{invitation.id}/withdraw", data={"_csrf_token": csrf})
    assert withdrawn.status_code == 200 and "Withdrawn" in text_of(withdrawn.text)
    assert (await client.get(links[1])).status_code == 410
    refused = await client.post(f"/admin/invitations/{invitation.id}/resend", data={"_csrf_token": csrf})
    assert refused.status_code == 400 and "used or withdrawn" in text_of(refused.text)
    assert (await client.post("/admin/invitations/2147483647/withdraw", data={"_csrf_token": csrf})).status_code == 404


async def test_the_users_list_and_a_user_s_page_with_deactivation_and_history(
    client: AsyncTestClient, world: dict[str, Any], session: AsyncSession
) -> None:
    csrf = await admin_csrf(client, world)
    for n in range(20):
        await make_user(session, full_name=f"Extra {n:02d}", company_id=world["northwind"].id)
    await session.commit()
    with counted_statements(client.app) as statements:
        listed = await client.get("/admin/users?q=extra&sort=name&direction=desc&role=buyer&active=yes")
    assert listed.status_code == 200 and len(statements) <= 8
    names = re.findall(r">(Extra \d\d)</a>", listed.text)
    assert names[:2] == ["Extra 19", "Extra 18"] and len(names) == 20
    assert (await client.get("/admin/users?role=king")).status_code == 400

    buyer = world["buyer"]
    page = await client.get(f"/admin/users/{buyer.id}")
    assert "move this person to another company, deactivate this account and invite them again" in text_of(page.text)
    assert 'id="role-form"' not in page.text
    gone = await client.post(f"/admin/users/{buyer.id}/deactivate", data={"_csrf_token": csrf})
    assert gone.status_code == 200 and "deactivated and signed out" in text_of(gone.text)
    assert "deactivated" in text_of(gone.text.split('id="user-history"')[1])
    await session.refresh(buyer)
    assert not buyer.is_active and buyer.session_version == 1
    back = await client.post(f"/admin/users/{buyer.id}/reactivate", data={"_csrf_token": csrf})
    assert back.status_code == 200 and "can sign in again" in text_of(back.text)

    me = await client.post(f"/admin/users/{world['admin'].id}/deactivate", data={"_csrf_token": csrf})
    assert me.status_code == 400 and "You cannot deactivate your own account." in text_of(me.text)
    demote = await client.post(f"/admin/users/{world['admin'].id}/role", data={"role": "finance", "_csrf_token": csrf})
    assert demote.status_code == 400 and 'id="role-error" role="alert">You cannot change your own role.<' in demote.text
    anna = await client.post(f"/admin/users/{world['anna'].id}/deactivate", data={"_csrf_token": csrf})
    assert anna.status_code == 400 and "1 company still has this account manager" in text_of(anna.text)
    role = await client.post(f"/admin/users/{world['piotr'].id}/role", data={"role": "finance", "_csrf_token": csrf})
    assert role.status_code == 200 and "Role changed." in text_of(role.text)
    await session.refresh(world["piotr"])
    await session.refresh(world["admin"])
    assert world["piotr"].role is Role.FINANCE and world["admin"].is_active and world["admin"].role is Role.ADMIN
    assert (await client.get("/admin/users/2147483647")).status_code == 404


async def test_bulk_reassignment_and_its_refusals(
    client: AsyncTestClient, world: dict[str, Any], session: AsyncSession
) -> None:
    csrf = await admin_csrf(client, world, "/admin/assignments")
    orphan = await make_company(session, name="Orphan")
    await session.commit()
    unassigned = await client.get("/admin/assignments?manager=0")
    assert 'data-company="Orphan"' in unassigned.text and 'data-company="Northwind"' not in unassigned.text
    refused = await client.post(
        "/admin/assignments",
        data={"company_ids": [str(orphan.id)], "manager_id": str(world["buyer"].id), "_csrf_token": csrf},
    )
    assert refused.status_code == 400
    assert 'id="manager_id-error" role="alert">Choose an active account manager.<' in refused.text
    assert f'value="{orphan.id}" id="company-{orphan.id}" checked' in refused.text
    none_chosen = await client.post(
        "/admin/assignments", data={"manager_id": str(world["piotr"].id), "_csrf_token": csrf}
    )
    assert 'id="company_ids-error" role="alert">Choose at least one company.<' in none_chosen.text
    done = await client.post(
        "/admin/assignments",
        data={"company_ids": [str(orphan.id), str(world["northwind"].id)], "manager_id": str(world["piotr"].id),
              "_csrf_token": csrf},
    )  # fmt: skip
    assert done.status_code == 200 and "Companies given to their new manager: 2." in text_of(done.text)
    managers = dict((await session.execute(select(Company.name, Company.account_manager_id))).all())
    assert managers == {"Northwind": world["piotr"].id, "Closed Ltd": None, "Orphan": world["piotr"].id}
    changes = list(await session.scalars(select(AuditEntry.changes).where(AuditEntry.action == "reassign")))
    assert sorted(c["account_manager"][0] or "" for c in changes) == ["", "anna@seller.example"]


async def test_covers_set_by_an_admin_with_the_rules_and_removal(
    client: AsyncTestClient, world: dict[str, Any], session: AsyncSession
) -> None:
    csrf = await admin_csrf(client, world, "/admin/covers")
    today = clock.today(__import__("zoneinfo").ZoneInfo("Europe/Warsaw"))
    anna, piotr = str(world["anna"].id), str(world["piotr"].id)
    far = await client.post(
        "/admin/covers",
        data={"manager_id": anna, "deputy_id": piotr, "starts_on": today.isoformat(),
              "ends_on": (today + timedelta(days=91)).isoformat(), "_csrf_token": csrf},
    )  # fmt: skip
    assert far.status_code == 400 and 'id="ends_on-error" role="alert">A cover ends at most 90 days ahead' in far.text
    assert f'<option value="{anna}" selected>' in far.text
    itself = await client.post(
        "/admin/covers", data={"manager_id": anna, "deputy_id": anna, "starts_on": "2026-13-01", "_csrf_token": csrf}
    )
    assert itself.status_code == 400 and 'id="starts_on-error" role="alert">' in itself.text
    week = {"starts_on": today.isoformat(), "ends_on": (today + timedelta(days=7)).isoformat()}
    made = await client.post(
        "/admin/covers", data={"manager_id": anna, "deputy_id": piotr, **week, "_csrf_token": csrf}
    )
    assert made.status_code == 200 and "The cover is set." in text_of(made.text)
    overlap = await client.post(
        "/admin/covers", data={"manager_id": anna, "deputy_id": piotr, **week, "_csrf_token": csrf}
    )
    assert overlap.status_code == 400 and "Anna Kowalska is already covered by Piotr Nowak" in text_of(overlap.text)
    cover = await session.scalar(select(Deputy))
    assert cover is not None and await count(session, Deputy) == 1
    removed = await client.post(f"/admin/covers/{cover.id}/remove", data={"_csrf_token": csrf})
    assert removed.status_code == 200 and "The cover is removed." in text_of(removed.text)
    actions = list(await session.scalars(select(AuditEntry.action).where(AuditEntry.object_type == "cover")))
    assert actions == ["create", "remove"] and await count(session, Deputy) == 0


@pytest.mark.parametrize("role", [Role.BUYER, Role.ACCOUNT_MANAGER, Role.FINANCE])
async def test_only_admins_open_the_people_pages(
    client: AsyncTestClient, world: dict[str, Any], session: AsyncSession, role: Role
) -> None:
    person = (
        world["buyer"] if role is Role.BUYER else await make_user(session, role, email=f"{role.value}@seller.example")
    )
    await session.commit()
    assert (await sign_in(client, person.email)).status_code == 303
    home = await client.get("/", follow_redirects=True)
    csrf = client.cookies.get("csrftoken") or csrf_from(home.text)
    for path in ADMIN_PAGES + [f"/admin/users/{world['admin'].id}"]:
        assert (await client.get(path)).status_code == 403, path
    for path in [
        "/admin/invitations",
        "/admin/invitations/1/resend",
        "/admin/invitations/1/withdraw",
        "/admin/assignments",
        "/admin/covers",
        "/admin/covers/1/remove",
        f"/admin/users/{world['admin'].id}/deactivate",
        f"/admin/users/{world['admin'].id}/reactivate",
        f"/admin/users/{world['admin'].id}/role",
    ]:
        assert (await client.post(path, data={"role": "finance"}, headers={"x-csrftoken": csrf})).status_code == 403, (
            path
        )
    await session.refresh(world["admin"])
    assert world["admin"].is_active and world["admin"].role is Role.ADMIN


def shown(html: str, attribute: str) -> list[str]:
    return re.findall(rf'{attribute}="([^"]+)"', html)


async def test_the_assignments_list_searches_filters_sorts_and_pages_and_reassigns_the_page_shown(
    client: AsyncTestClient, world: dict[str, Any], session: AsyncSession
) -> None:
    csrf = await admin_csrf(client, world, "/admin/assignments")
    await make_company(session, name="Hotel Baltic", tax_id="PL5260001246", account_manager_id=world["piotr"].id)
    await session.commit()

    async def names(**params: Any) -> list[str]:
        return shown((await client.get("/admin/assignments", params=params)).text, "data-company")

    assert await names() == ["Closed Ltd", "Hotel Baltic", "Northwind"]
    assert await names(q="526000") == ["Hotel Baltic"]
    assert await names(q="NORTH") == ["Northwind"]
    assert await names(q="o", manager=world["anna"].id) == ["Northwind"]
    assert await names(manager=0) == ["Closed Ltd"]
    assert await names(sort="manager", direction="desc") == ["Hotel Baltic", "Northwind", "Closed Ltd"]
    assert await names(sort="nonsense") == ["Closed Ltd", "Hotel Baltic", "Northwind"]
    for odd in ({"manager": "-1"}, {"q": "x" * 201}, {"page": "0"}):
        assert (await client.get("/admin/assignments", params=odd)).status_code == 400, odd

    with counted_statements(client.app) as few:
        assert (await client.get("/admin/assignments")).status_code == 200
    for n in range(50):
        await make_company(session, name=f"Firma {n:02d}")
    await session.commit()
    with counted_statements(client.app) as many:
        first = await client.get("/admin/assignments")
    assert len(many) == len(few), many
    assert len(shown(first.text, "data-company")) == 50 and "53 companies" in text_of(first.text)
    second = await client.get("/admin/assignments", params={"page": 2})
    assert shown(second.text, "data-company") == ["Firma 49", "Hotel Baltic", "Northwind"]
    ticked = re.findall(r'name="company_ids" value="(\d+)"', second.text)
    done = await client.post(
        "/admin/assignments",
        data={"company_ids": ticked, "manager_id": str(world["anna"].id), "_csrf_token": csrf},
    )
    assert "Companies given to their new manager: 2." in text_of(done.text)  # Northwind was already hers
    assert await names(manager=world["anna"].id) == ["Firma 49", "Hotel Baltic", "Northwind"]


async def test_the_covers_list_filters_by_manager_and_state_searches_sorts_and_pages(
    client: AsyncTestClient, world: dict[str, Any], session: AsyncSession
) -> None:
    today = clock.today(__import__("zoneinfo").ZoneInfo("Europe/Warsaw"))
    anna, piotr = world["anna"], world["piotr"]
    zofia = await make_user(session, Role.ACCOUNT_MANAGER, full_name="Zofia Wójcik", email="zofia@seller.example")

    def cover(manager: User, deputy: User, starts: int, ends: int) -> Deputy:
        days = (today + timedelta(days=starts), today + timedelta(days=ends))
        return Deputy(manager_id=manager.id, deputy_id=deputy.id, starts_on=days[0], ends_on=days[1])

    now, soon, past = cover(anna, piotr, -2, 2), cover(piotr, zofia, 5, 10), cover(anna, zofia, -20, -10)
    session.add_all([now, soon, past])
    await session.commit()
    await admin_csrf(client, world, "/admin/covers")

    async def ids(**params: Any) -> list[int]:
        return [int(i) for i in shown((await client.get("/admin/covers", params=params)).text, "data-cover")]

    assert await ids() == [now.id, soon.id]
    assert await ids(state="current") == [now.id]
    assert await ids(state="future") == [soon.id]
    assert await ids(state="ended") == [past.id]
    assert await ids(state="all", manager=anna.id) == [past.id, now.id]
    assert await ids(q="wójcik") == [soon.id]
    assert await ids(q="Zofia", state="all") == [past.id, soon.id]
    assert await ids(sort="manager", direction="desc") == [soon.id, now.id]
    assert await ids(sort="ends", direction="desc", state="all") == [soon.id, now.id, past.id]
    assert await ids(sort="whatever") == [now.id, soon.id]
    assert "No cover matches." in text_of((await client.get("/admin/covers", params={"q": "nobody"})).text)
    for odd in ({"state": "gone"}, {"manager": "0"}, {"direction": "sideways"}):
        assert (await client.get("/admin/covers", params=odd)).status_code == 400, odd

    with counted_statements(client.app) as few:
        assert (await client.get("/admin/covers")).status_code == 200
    later = [cover(zofia, anna, 20 + n, 20 + n) for n in range(50)]
    session.add_all(later)
    await session.commit()
    with counted_statements(client.app) as many:
        first = await client.get("/admin/covers")
    assert len(many) == len(few), many
    assert len(shown(first.text, "data-cover")) == 50 and "52 covers" in text_of(first.text)
    second = await client.get("/admin/covers", params={"page": 2})
    assert "Page 2 of 2" in text_of(second.text)
    assert shown(second.text, "data-cover") == [str(later[48].id), str(later[49].id)]
