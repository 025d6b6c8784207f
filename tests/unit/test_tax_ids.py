"""A Polish tax id is stored one way however it was typed, and its checksum is checked."""

from __future__ import annotations

import pytest

from portal.services import tax_ids


@pytest.mark.parametrize("typed", ["526-000-12-46", "PL 526 000 12 46", "pl5260001246", " 5260001246 "])
def test_a_nip_is_stored_as_pl_and_ten_digits(typed: str) -> None:
    assert tax_ids.normalise(typed) == "PL5260001246"
    assert tax_ids.is_valid(typed)


@pytest.mark.parametrize(
    "typed", ["5260001247", "PL526000124", "DE123456789", "１２３４５６７８９０", "²260001246", ""]
)
def test_a_wrong_checksum_or_shape_is_not_a_nip(typed: str) -> None:
    assert not tax_ids.is_valid(typed)
