"""Order totals the Polish-invoice way: VAT per rate on the sum of that rate's
line nets, rounded half-up; gross = net + VAT."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")
ZERO = Decimal("0.00")


@dataclass(frozen=True)
class VatLine:
    rate: Decimal
    net: Decimal
    vat: Decimal


@dataclass(frozen=True)
class Totals:
    by_rate: list[VatLine]
    net: Decimal
    vat: Decimal
    gross: Decimal


def totals(lines: Iterable[tuple[Decimal, Decimal]]) -> Totals:
    """Totals of (line net, VAT rate %) pairs."""
    nets: dict[Decimal, Decimal] = defaultdict(lambda: ZERO)
    for line_net, rate in lines:
        nets[rate.normalize()] += line_net
    by_rate = [
        VatLine(rate=rate, net=net, vat=(net * rate / 100).quantize(CENT, rounding=ROUND_HALF_UP))
        for rate, net in sorted(nets.items(), reverse=True)
    ]
    net = sum((line.net for line in by_rate), ZERO)
    vat = sum((line.vat for line in by_rate), ZERO)
    return Totals(by_rate=by_rate, net=net, vat=vat, gross=net + vat)
