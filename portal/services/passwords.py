"""Password hashing with argon2 (libpass, the maintained passlib).

argon2 costs about 150 ms of CPU by design; it runs in a worker thread, so a sign-in never
stalls the other requests of its process. A hash made with older parameters is replaced at
the next successful sign-in (`verify_and_update`)."""

from __future__ import annotations

from anyio import to_thread
from passlib.context import CryptContext

_context = CryptContext(schemes=["argon2"], deprecated="auto")

MIN_PASSWORD_LENGTH = 10


def hash_password(password: str) -> str:
    """The blocking form, for scripts and demo data; request paths use `hash_password_async`."""
    return _context.hash(password)


async def hash_password_async(password: str) -> str:
    return await to_thread.run_sync(_context.hash, password)


async def verify_password(password: str, password_hash: str) -> bool:
    return await to_thread.run_sync(_context.verify, password, password_hash)


async def verify_and_update(password: str, password_hash: str) -> tuple[bool, str | None]:
    """Whether the password matches, and a new hash when the stored one uses older parameters."""
    return await to_thread.run_sync(_context.verify_and_update, password, password_hash)


async def dummy_verify() -> None:
    """Spend the time a real verification costs, so an unknown e-mail answers as slowly as a known one."""
    await to_thread.run_sync(_context.dummy_verify)
