"""Polish tax ids (NIP) in one form: "PL" and ten digits, however they were typed
("526-000-12-46", "PL 526 000 12 46", "pl5260001246"). A NIP's last digit is a checksum
of the other nine (python-stdnum checks it), so a mistyped digit is caught at the field."""

from __future__ import annotations

from stdnum.pl import nip

PREFIX = "PL"


def normalise(text: str) -> str:
    """The stored form of a tax id as typed: "PL" + digits for a Polish NIP; anything else
    upper-cased without spaces and dashes (it is then refused by `is_valid`, or matches nothing)."""
    compact = text.replace(" ", "").replace("-", "").replace("\u00a0", "").strip().upper()
    digits = compact.removeprefix(PREFIX)
    if len(digits) == 10 and digits.isascii() and digits.isdigit():
        return PREFIX + digits
    return compact


def is_valid(text: str) -> bool:
    """Ten digits (after an optional "PL") whose checksum holds."""
    stored = normalise(text)
    return stored.startswith(PREFIX) and nip.is_valid(stored.removeprefix(PREFIX))
