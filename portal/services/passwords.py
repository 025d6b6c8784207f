"""Password hashing with argon2 (libpass, the maintained passlib)."""

from __future__ import annotations

from passlib.context import CryptContext

_context = CryptContext(schemes=["argon2"], deprecated="auto")

MIN_PASSWORD_LENGTH = 10


def hash_password(password: str) -> str:
    return _context.hash(password)


def verify_password(password: str, password_hash: str) -> bool:
    return _context.verify(password, password_hash)


def dummy_verify() -> None:
    """Spend the time a real verification costs, so an unknown e-mail answers as slowly as a known one."""
    _context.dummy_verify()
