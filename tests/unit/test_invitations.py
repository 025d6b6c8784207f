"""One-time links: invitations (72 hours, single use, resend replaces the link, withdraw ends it),
forgotten passwords (the same silence for unknown addresses, throttled per address and client,
every session ends), and the one rule of who may be invited."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from portal.errors import Refused
from portal.models import AccessToken, AuditEntry, NotificationKind, OutboxMessage, Role, TokenPurpose, User
from portal.services import invitations
from portal.services.invitations import Invitee, LinkInvalid
from portal.services.passwords import verify_password
from tests.factories import make_company, make_user

NEW_PASSWORD = "a brand new secret"


def token_of(message: OutboxMessage) -> str:
    return message.link.rsplit("/", 1)[1]


async def outbox(session: AsyncSession, kind: NotificationKind) -> list[OutboxMessage]:
    return list(
        await session.scalars(select(OutboxMessage).where(OutboxMessage.kind == kind).order_by(OutboxMessage.id))
    )


async def invite_buyer(session: AsyncSession, **fields: Any) -> tuple[User, AccessToken, str]:
    admin = await make_user(session, Role.ADMIN)
    company = fields.pop("company", None) or await make_company(session)
    invitee = Invitee(fields.get("email", "New.Buyer@Example.test"), "Nina Nowak", Role.BUYER, company.id)
    invitation = await invitations.invite(session, admin, invitee)
    (message,) = await outbox(session, NotificationKind.INVITATION)
    return admin, invitation, token_of(message)


async def test_an_invitation_stores_only_the_hash_of_its_random_token(session: AsyncSession, frozen_clock: Any) -> None:
    _, invitation, token = await invite_buyer(session)
    assert len(token) >= 43
    assert invitation.token_hash == invitations.token_hash(token) != token
    assert invitation.email == "new.buyer@example.test"
    assert invitation.expires_at == frozen_clock.moment + invitations.INVITATION_VALID
    (message,) = await outbox(session, NotificationKind.INVITATION)
    assert message.recipient == "new.buyer@example.test" and message.link == f"/join/{token}"
    assert "Nina Nowak" in message.body_text and "72 hours" in message.body_text
    entry = await session.scalar(select(AuditEntry).where(AuditEntry.object_type == "invitation"))
    assert entry is not None and entry.action == "invite" and entry.changes["email"] == [None, invitation.email]


async def test_an_invitation_link_works_within_72_hours_and_not_after(session: AsyncSession, frozen_clock: Any) -> None:
    _, _, token = await invite_buyer(session)
    frozen_clock.advance(hours=71, minutes=59)
    assert (await invitations.opened(session, token, TokenPurpose.INVITATION)).full_name == "Nina Nowak"
    frozen_clock.advance(minutes=1)
    with pytest.raises(LinkInvalid):
        await invitations.opened(session, token, TokenPurpose.INVITATION)
    with pytest.raises(LinkInvalid):
        await invitations.accept(session, token, NEW_PASSWORD, NEW_PASSWORD)
    assert await session.scalar(select(func.count()).select_from(User).where(User.email.like("new.buyer%"))) == 0


async def test_accepting_creates_the_invited_buyer_once(session: AsyncSession, frozen_clock: Any) -> None:
    _, invitation, token = await invite_buyer(session)
    user = await invitations.accept(session, token, NEW_PASSWORD, NEW_PASSWORD)
    assert (user.email, user.full_name, user.role, user.company_id) == (
        "new.buyer@example.test",
        "Nina Nowak",
        Role.BUYER,
        invitation.company_id,
    )
    assert await verify_password(NEW_PASSWORD, user.password_hash)
    assert invitation.used_at == frozen_clock.moment and invitation.user_id == user.id
    with pytest.raises(LinkInvalid):
        await invitations.accept(session, token, NEW_PASSWORD, NEW_PASSWORD)


async def test_a_short_or_mistyped_password_is_refused_and_the_link_still_works(session: AsyncSession) -> None:
    _, invitation, token = await invite_buyer(session)
    with pytest.raises(Refused) as short:
        await invitations.accept(session, token, "short", "short")
    assert "password" in short.value.errors
    with pytest.raises(Refused) as mistyped:
        await invitations.accept(session, token, NEW_PASSWORD, NEW_PASSWORD + "!")
    assert "repeat_password" in mistyped.value.errors
    assert invitation.used_at is None
    assert await invitations.opened(session, token, TokenPurpose.INVITATION) is not None


async def test_an_unknown_or_odd_token_is_just_invalid(session: AsyncSession) -> None:
    for token in ["nothing", "", "x" * 10_000, "\x00", "é"]:
        with pytest.raises(LinkInvalid):
            await invitations.opened(session, token, TokenPurpose.INVITATION)


async def test_resending_makes_a_new_link_and_the_old_one_stops_working(
    session: AsyncSession, frozen_clock: Any
) -> None:
    admin, invitation, old = await invite_buyer(session)
    frozen_clock.advance(hours=80)  # expired: resending revives it
    await invitations.resend(session, admin, invitation.id)
    first, second = await outbox(session, NotificationKind.INVITATION)
    new = token_of(second)
    assert new != old and invitation.expires_at == frozen_clock.moment + invitations.INVITATION_VALID
    with pytest.raises(LinkInvalid):
        await invitations.opened(session, old, TokenPurpose.INVITATION)
    assert (await invitations.opened(session, new, TokenPurpose.INVITATION)).id == invitation.id


async def test_a_withdrawn_invitation_cannot_be_followed_nor_resent(session: AsyncSession) -> None:
    admin, invitation, token = await invite_buyer(session)
    await invitations.withdraw(session, admin, invitation.id)
    with pytest.raises(LinkInvalid):
        await invitations.opened(session, token, TokenPurpose.INVITATION)
    with pytest.raises(Refused):
        await invitations.resend(session, admin, invitation.id)
    with pytest.raises(Refused):
        await invitations.withdraw(session, admin, invitation.id)
    actions = list(await session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)))
    assert actions == ["invite", "withdraw"]


async def test_an_invitation_to_a_deactivated_company_no_longer_opens(session: AsyncSession) -> None:
    company = await make_company(session)
    _, _, token = await invite_buyer(session, company=company)
    company.is_active = False
    await session.flush()
    with pytest.raises(LinkInvalid):
        await invitations.opened(session, token, TokenPurpose.INVITATION)


async def test_who_may_be_invited_is_one_rule(session: AsyncSession) -> None:
    company = await make_company(session)
    closed = await make_company(session, is_active=False)
    existing = await make_user(session, email="taken@example.test", company_id=company.id)
    await invite_buyer(session, email="waiting@example.test", company=company)
    known = await invitations.known(session, ["taken@example.test", "waiting@example.test"], [company.id, closed.id])

    def errors(email: str, role: Role = Role.BUYER, company_id: int | None = company.id, name: str = "X") -> dict:
        return invitations.check(Invitee(email, name, role, company_id), known)

    assert errors("fresh@example.test") == {}
    assert set(errors("not-an-address")) == {"email"}
    assert "already exists" in errors(" TAKEN@example.test ")["email"]
    assert "waiting" in errors("waiting@example.test")["email"]
    assert set(errors("a@example.test", company_id=None)) == {"company_id"}
    assert "deactivated" in errors("a@example.test", company_id=closed.id)["company_id"]
    assert set(errors("a@example.test", Role.FINANCE)) == {"company_id"}
    assert errors("a@example.test", Role.FINANCE, None) == {}
    assert set(errors("a@example.test", name="  ")) == {"full_name"}
    assert invitations.already_there(Invitee(existing.email, "", Role.BUYER, company.id), known)
    assert not invitations.already_there(Invitee(existing.email, "", Role.FINANCE, None), known)


async def test_a_password_link_goes_only_to_a_user_who_may_sign_in(session: AsyncSession) -> None:
    closed = await make_company(session, is_active=False)
    user = await make_user(session, Role.FINANCE, email="fin@example.test")
    await make_user(session, Role.FINANCE, email="gone@example.test", is_active=False)
    await make_user(session, email="closed@example.test", company_id=closed.id)
    for email in ["nobody@example.test", "gone@example.test", "closed@example.test", "FIN@example.test"]:
        await invitations.request_reset(session, email, address="10.0.0.1")
    (message,) = await outbox(session, NotificationKind.PASSWORD_RESET)
    assert message.recipient == user.email and message.user_id == user.id
    assert message.link.startswith("/password/reset/") and "2 hours" in message.body_text


async def test_a_password_link_sets_the_password_once_and_ends_every_session(
    session: AsyncSession, frozen_clock: Any
) -> None:
    user = await make_user(session, Role.FINANCE, email="fin@example.test")
    version = user.session_version
    await invitations.request_reset(session, user.email, address="10.0.0.1")
    (message,) = await outbox(session, NotificationKind.PASSWORD_RESET)
    await invitations.reset_password(session, token_of(message), NEW_PASSWORD, NEW_PASSWORD)
    assert await verify_password(NEW_PASSWORD, user.password_hash)
    assert user.session_version == version + 1
    with pytest.raises(LinkInvalid):
        await invitations.reset_password(session, token_of(message), "another password!", "another password!")


async def test_a_password_link_expires_after_two_hours_and_a_newer_one_replaces_it(
    session: AsyncSession, frozen_clock: Any
) -> None:
    user = await make_user(session, Role.FINANCE, email="fin@example.test")
    await invitations.request_reset(session, user.email, address="10.0.0.1")
    await invitations.request_reset(session, user.email, address="10.0.0.1")
    first, second = await outbox(session, NotificationKind.PASSWORD_RESET)
    with pytest.raises(LinkInvalid):
        await invitations.opened(session, token_of(first), TokenPurpose.PASSWORD_RESET)
    frozen_clock.advance(hours=2)
    with pytest.raises(LinkInvalid):
        await invitations.opened(session, token_of(second), TokenPurpose.PASSWORD_RESET)
    with pytest.raises(LinkInvalid):  # an invitation link is no password link, and the other way round
        await invitations.opened(session, token_of(second), TokenPurpose.INVITATION)


async def test_password_links_are_throttled_per_address_and_per_client(
    session: AsyncSession, frozen_clock: Any
) -> None:
    user = await make_user(session, Role.FINANCE, email="fin@example.test")
    for n in range(5):
        await invitations.request_reset(session, user.email, address=f"10.0.0.{n}")
    assert len(await outbox(session, NotificationKind.PASSWORD_RESET)) == invitations.RESET_PER_EMAIL
    frozen_clock.advance(hours=1)
    await invitations.request_reset(session, user.email, address="10.0.0.9")
    assert len(await outbox(session, NotificationKind.PASSWORD_RESET)) == 4

    other = await make_user(session, Role.FINANCE, email="other@example.test")
    for n in range(invitations.RESET_PER_ADDRESS):
        await invitations.request_reset(session, f"nobody{n}@example.test", address="192.0.2.1")
    await invitations.request_reset(session, other.email, address="192.0.2.1")
    assert len(await outbox(session, NotificationKind.PASSWORD_RESET)) == 4  # this client asked too often
    frozen_clock.advance(minutes=15)
    await invitations.request_reset(session, other.email, address="192.0.2.1")
    assert len(await outbox(session, NotificationKind.PASSWORD_RESET)) == 5


async def test_a_deactivated_buyer_moves_to_another_company_by_being_invited_again(session: AsyncSession) -> None:
    old_company, new_company = await make_company(session), await make_company(session)
    buyer = await make_user(session, email="moving@example.test", company_id=old_company.id)
    admin = await make_user(session, Role.ADMIN)
    refused = Invitee("moving@example.test", "Mo Ving", Role.BUYER, new_company.id)
    with pytest.raises(Refused) as active:
        await invitations.invite(session, admin, refused)
    assert "re-inviting" in active.value.errors["email"]
    buyer.is_active = False
    await session.flush()
    await invitations.invite(session, admin, refused)
    (message,) = await outbox(session, NotificationKind.INVITATION)
    user = await invitations.accept(session, token_of(message), NEW_PASSWORD, NEW_PASSWORD)
    assert user.id == buyer.id and (user.company_id, user.is_active, user.full_name) == (
        new_company.id,
        True,
        "Mo Ving",
    )
    entry = await session.scalar(select(AuditEntry).where(AuditEntry.object_type == "user"))
    assert entry is not None and entry.action == "update"
    assert entry.changes["company_id"] == [str(old_company.id), str(new_company.id)]
