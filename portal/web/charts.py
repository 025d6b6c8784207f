"""Charts drawn as inline SVG: Python computes every coordinate, the template only draws.

A chart is categories along the x axis (months, quarters) and one or more series of values: bars
(grouped side by side within a category) or lines (drawn over the bars, a marker per point). The y
axis runs over "nice" ticks (steps of 1, 2 or 5 × 10ⁿ, always including zero, negatives allowed),
labelled with the page's own formatter (money, percent). A missing value (None) draws nothing, and
breaks a line. The drawing scales to its container (CSS width 100 %), so the same geometry serves a
phone and a desktop; colours come from CSS classes `chart-s0`, `chart-s1`, … (no inline styles:
the portal's Content-Security-Policy forbids them). `templates/_charts.html` `svg_chart` draws it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import Literal

from babel.numbers import format_compact_decimal

from portal.i18n import format_decimal, locale

WIDTH = 400
HEIGHT = 200
"""The viewBox: about the width a phone gives a chart (so its 12-unit text stays legible there);
CSS scales it up to the container, at most 34rem wide."""
TOP = 10
BOTTOM = 24
"""Room under the plot for the x labels."""
RIGHT = 8
FONT = 12
CHAR_WIDTH = FONT * 0.6
"""An estimate of one character's width in viewBox units, to keep labels from overlapping."""
TARGET_INTERVALS = 5
COMPACT_FROM = Decimal(10_000)
"""From this size on, axis labels are written short ("150K"): full money amounts would crowd the axis."""
GROUP_SHARE = 0.8
"""The share of a category's width its bars take; the rest is the gap between categories."""
SERIES_COLOURS = 12
"""CSS defines this many series colours; further series reuse them in turn."""


@dataclass(frozen=True)
class Series:
    label: str
    values: Sequence[Decimal | int | None]
    kind: Literal["bar", "line"] = "bar"


@dataclass(frozen=True)
class Tick:
    y: float
    label: str
    value: Decimal


@dataclass(frozen=True)
class XLabel:
    x: float
    label: str


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    css: str
    title: str
    negative: bool


@dataclass(frozen=True)
class Point:
    x: float
    y: float
    title: str


@dataclass(frozen=True)
class Line:
    css: str
    segments: tuple[str, ...]
    """Polyline `points` attributes, one per run of values without a gap."""
    points: tuple[Point, ...]


@dataclass(frozen=True)
class LegendEntry:
    label: str
    css: str
    kind: Literal["bar", "line"]


@dataclass(frozen=True)
class Chart:
    title: str
    width: int
    height: int
    left: float
    right: float
    top: float
    bottom: float
    zero_y: float
    ticks: tuple[Tick, ...]
    x_labels: tuple[XLabel, ...]
    bars: tuple[Bar, ...]
    lines: tuple[Line, ...]
    legend: tuple[LegendEntry, ...]
    empty: bool
    """No value at all to draw (the template says so instead of drawing an empty frame)."""
    font_size: int = FONT

    @property
    def view_box(self) -> str:
        return f"0 0 {self.width} {self.height}"


def nice_ticks(low: Decimal, high: Decimal, intervals: int = TARGET_INTERVALS, *, whole: bool = False) -> list[Decimal]:
    """Evenly spaced round values covering [low, high] and zero: steps of 1, 2 or 5 × 10ⁿ,
    about `intervals` of them (at least 1 apart for `whole` numbers: counts have no half ticks).
    An empty or flat range becomes 0…1 (or 0…the value)."""
    low, high = min(low, Decimal(0)), max(high, Decimal(0))
    if low == high:
        high = Decimal(1)
    raw = (high - low) / intervals
    magnitude = Decimal(1).scaleb(raw.adjusted())
    step = next(m * magnitude for m in (Decimal(1), Decimal(2), Decimal(5), Decimal(10)) if m * magnitude >= raw)
    if whole:
        step = max(step, Decimal(1))
    first = (low / step).to_integral_value(rounding=ROUND_FLOOR)
    last = (high / step).to_integral_value(rounding=ROUND_CEILING)
    return [(step * n).normalize() + 0 for n in range(int(first), int(last) + 1)]


def _digits(step: Decimal) -> int:
    """Decimals a tick label needs: none for a step of 20, one for 0.5."""
    exponent = step.normalize().as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0


def _tick_format(step: Decimal) -> Callable[[Decimal], str]:
    digits = _digits(step)
    return lambda value: format_decimal(value, digits)


def _compact(value: Decimal) -> str:
    """A large axis value in short: "150K", "150 tys." (the points' tooltips keep the full value)."""
    return format_compact_decimal(value, locale=locale(), fraction_digits=1)


def _plain(values: Sequence[Decimal | int | None]) -> Callable[[Decimal], str]:
    """The default value format: whole numbers without decimals, others with two."""
    whole = all(v is None or isinstance(v, int) or v == v.to_integral_value() for v in values)
    return lambda value: format_decimal(value, 0 if whole and value == value.to_integral_value() else 2)


def chart(
    categories: Sequence[str],
    series: Sequence[Series],
    *,
    title: str,
    value_format: Callable[[Decimal], str] | None = None,
) -> Chart:
    """The geometry of a chart of `series` over `categories` (each series has a value per category)."""
    values = [Decimal(v) for s in series for v in s.values if v is not None]
    whole = all(isinstance(v, int) for s in series for v in s.values if v is not None)
    ticks = nice_ticks(min(values, default=Decimal(0)), max(values, default=Decimal(0)), whole=whole)
    low, high = ticks[0], ticks[-1]
    large = max(abs(low), abs(high)) >= COMPACT_FROM
    tick_format = _compact if large else value_format or _tick_format(ticks[1] - ticks[0])
    point_format = value_format or _plain([v for s in series for v in s.values])
    tick_labels = [tick_format(t) for t in ticks]
    left = max(len(label) for label in tick_labels) * CHAR_WIDTH + 8
    right = WIDTH - RIGHT
    top, bottom = float(TOP), float(HEIGHT - BOTTOM)
    span = float(high - low)

    def y_of(value: Decimal) -> float:
        return round(top + float(high - value) / span * (bottom - top), 1)

    zero_y = y_of(Decimal(0))
    band = (right - left) / max(len(categories), 1)
    bar_series = [(index, s) for index, s in enumerate(series) if s.kind == "bar"]
    bar_width = band * GROUP_SHARE / max(len(bar_series), 1)
    bars = []
    for slot, (index, s) in enumerate(bar_series):
        for position, (category, value) in enumerate(zip(categories, s.values, strict=False)):
            if value is None:
                continue
            y = y_of(Decimal(value))
            bars.append(
                Bar(
                    x=round(left + position * band + band * (1 - GROUP_SHARE) / 2 + slot * bar_width, 1),
                    y=min(y, zero_y),
                    width=round(bar_width, 1),
                    height=round(abs(zero_y - y), 1),
                    css=_css(index),
                    title=f"{category} · {s.label}: {point_format(Decimal(value))}",
                    negative=value < 0,
                )
            )
    lines = []
    for index, s in enumerate(series):
        if s.kind != "line":
            continue
        points: list[Point] = []
        segments: list[list[Point]] = [[]]
        for position, (category, value) in enumerate(zip(categories, s.values, strict=False)):
            if value is None:
                segments.append([])
                continue
            point = Point(
                x=round(left + (position + 0.5) * band, 1),
                y=y_of(Decimal(value)),
                title=f"{category} · {s.label}: {point_format(Decimal(value))}",
            )
            points.append(point)
            segments[-1].append(point)
        lines.append(
            Line(
                css=_css(index),
                segments=tuple(" ".join(f"{p.x},{p.y}" for p in run) for run in segments if len(run) > 1),
                points=tuple(points),
            )
        )
    return Chart(
        title=title,
        width=WIDTH,
        height=HEIGHT,
        left=round(left, 1),
        right=right,
        top=top,
        bottom=bottom,
        zero_y=zero_y,
        ticks=tuple(Tick(y=y_of(t), label=label, value=t) for t, label in zip(ticks, tick_labels, strict=True)),
        x_labels=_x_labels(categories, left, band),
        bars=tuple(bars),
        lines=tuple(lines),
        legend=tuple(LegendEntry(label=s.label, css=_css(index), kind=s.kind) for index, s in enumerate(series)),
        empty=not values,
    )


def _css(index: int) -> str:
    return f"chart-s{index % SERIES_COLOURS}"


def _x_labels(categories: Sequence[str], left: float, band: float) -> tuple[XLabel, ...]:
    """A label under every category, or under every second, third… when they would overlap."""
    if not categories:
        return ()
    widest = max(len(c) for c in categories) * CHAR_WIDTH + 6
    every = max(1, math.ceil(widest / band))
    return tuple(
        XLabel(x=round(left + (position + 0.5) * band, 1), label=category)
        for position, category in enumerate(categories)
        if position % every == 0
    )
