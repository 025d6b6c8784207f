"""VAT per rate on the sum of that rate's nets, rounded half-up: hand-computed examples."""

from __future__ import annotations

from decimal import Decimal as D

from portal.services.pricing import line_net
from portal.services.totals import VatLine, totals


def test_vat_is_computed_per_rate_on_the_sum_of_nets() -> None:
    # three 23 % lines of 0.05 each: per line VAT would round 0.0115 to 0.01 three times (0.03);
    # on the sum, 0.15 × 23 % = 0.0345 → 0.03; two 8 % lines 10.05 + 0.10 = 10.15 × 8 % = 0.812 → 0.81
    result = totals(
        [
            (D("0.05"), D("23.00")),
            (D("0.05"), D("23")),
            (D("0.05"), D("23.00")),
            (D("10.05"), D("8.00")),
            (D("0.10"), D("8.00")),
        ]
    )
    assert result.by_rate == [VatLine(D("23"), D("0.15"), D("0.03")), VatLine(D("8"), D("10.15"), D("0.81"))]
    assert (result.net, result.vat, result.gross) == (D("10.30"), D("0.84"), D("11.14"))


def test_half_a_cent_of_vat_rounds_up() -> None:
    # 0.50 × 5 % = 0.025 → 0.03 (half-up, not banker's 0.02)
    assert totals([(D("0.50"), D("5.00"))]).vat == D("0.03")


def test_line_nets_then_totals() -> None:
    lines = [(line_net(D("11.2050"), 3), D("23.00")), (line_net(D("0.3350"), 3), D("5.00"))]
    assert lines == [(D("33.62"), D("23.00")), (D("1.01"), D("5.00"))]
    result = totals(lines)
    # 33.62 × 23 % = 7.7326 → 7.73; 1.01 × 5 % = 0.0505 → 0.05
    assert (result.net, result.vat, result.gross) == (D("34.63"), D("7.78"), D("42.41"))


def test_empty_cart_totals_are_zero() -> None:
    result = totals([])
    assert (result.by_rate, result.net, result.vat, result.gross) == ([], D("0.00"), D("0.00"), D("0.00"))
