"""Chart geometry: round ticks, bars standing on zero (also below it), lines broken by gaps."""

from __future__ import annotations

from decimal import Decimal

from jinja2 import Environment, FileSystemLoader

from portal import i18n
from portal.web.charts import HEIGHT, WIDTH, Series, chart, nice_ticks


def test_ticks_are_round_steps_that_include_zero() -> None:
    assert nice_ticks(Decimal(0), Decimal(100)) == [Decimal(n) for n in (0, 20, 40, 60, 80, 100)]
    assert nice_ticks(Decimal(37), Decimal(93)) == [Decimal(n) for n in (0, 20, 40, 60, 80, 100)]
    assert nice_ticks(Decimal("1234.56"), Decimal("8200")) == [Decimal(n) for n in range(0, 10_001, 2000)]
    assert nice_ticks(Decimal("0.03"), Decimal("0.27")) == [Decimal(n) for n in ("0", "0.1", "0.2", "0.3")]


def test_ticks_run_below_zero_for_negative_values() -> None:
    assert nice_ticks(Decimal(-130), Decimal(870)) == [Decimal(n) for n in (-200, 0, 200, 400, 600, 800, 1000)]
    assert nice_ticks(Decimal(-40), Decimal(-10)) == [Decimal(n) for n in (-40, -30, -20, -10, 0)]


def test_an_empty_range_becomes_zero_to_one() -> None:
    assert nice_ticks(Decimal(0), Decimal(0))[0] == 0
    assert nice_ticks(Decimal(0), Decimal(0))[-1] == 1


def test_bars_stand_on_zero_and_hang_below_it_for_negatives() -> None:
    with i18n.speaking("en"):
        drawn = chart(["Jan", "Feb"], [Series("Margin", [Decimal(800), Decimal(-200)])], title="Margin")
    assert [t.value for t in drawn.ticks] == [Decimal(n) for n in (-200, 0, 200, 400, 600, 800)]
    assert [t.label for t in drawn.ticks] == ["-200", "0", "200", "400", "600", "800"]
    span = drawn.bottom - drawn.top
    assert drawn.zero_y == drawn.top + span * 4 / 5
    up, down = drawn.bars
    assert up.y == drawn.top and up.y + up.height == drawn.zero_y
    assert down.y == drawn.zero_y and round(down.y + down.height, 1) == drawn.bottom
    assert down.negative and not up.negative
    assert up.title == "Jan · Margin: 800"
    assert 0 < drawn.left < up.x < down.x and down.x + down.width <= drawn.right <= WIDTH


def test_bars_of_several_series_are_grouped_within_their_category() -> None:
    drawn = chart(
        ["Q1", "Q2"],
        [Series("Revenue", [10, 20]), Series("Margin", [5, 8]), Series("Share", [1, 2], kind="line")],
        title="t",
    )
    band = (drawn.right - drawn.left) / 2
    first, second = [b for b in drawn.bars if b.title.startswith("Q1")]
    assert first.css == "chart-s0" and second.css == "chart-s1"
    assert abs(second.x - (first.x + first.width)) < 0.2
    assert first.x >= drawn.left and second.x + second.width <= drawn.left + band
    (line,) = drawn.lines
    assert line.css == "chart-s2" and len(line.points) == 2
    assert [(e.label, e.kind) for e in drawn.legend] == [("Revenue", "bar"), ("Margin", "bar"), ("Share", "line")]


def test_missing_values_draw_nothing_and_break_a_line() -> None:
    drawn = chart(
        ["a", "b", "c", "d", "e"],
        [Series("s", [1, 2, None, 4, 5], kind="line"), Series("bars", [None, 3, None, None, None])],
        title="t",
    )
    (line,) = drawn.lines
    assert len(line.points) == 4
    assert len(line.segments) == 2 and all(len(s.split(" ")) == 2 for s in line.segments)
    assert len(drawn.bars) == 1 and drawn.bars[0].title.startswith("b ")


def test_an_empty_chart_still_has_axes() -> None:
    drawn = chart([], [], title="Nothing")
    assert drawn.empty and drawn.bars == () and drawn.lines == () and drawn.x_labels == ()
    assert [t.value for t in drawn.ticks][0] == 0
    no_values = chart(["a"], [Series("s", [None])], title="t")
    assert no_values.empty and no_values.bars == ()


def test_the_value_format_labels_ticks_and_tooltips() -> None:
    drawn = chart(["a"], [Series("s", [Decimal("1500")])], title="t", value_format=lambda v: f"PLN {v:.2f}")
    assert drawn.ticks[-1].label == "PLN 1500.00"
    assert drawn.bars[0].title == "a · s: PLN 1500.00"
    assert drawn.left > len("PLN 1500.00") * 6


def test_many_categories_thin_the_x_labels() -> None:
    months = [f"Month {n:02d}" for n in range(36)]
    drawn = chart(months, [Series("s", list(range(36)))], title="t")
    assert 1 < len(drawn.x_labels) < 36
    gaps = {round(b.x - a.x, 1) for a, b in zip(drawn.x_labels, drawn.x_labels[1:], strict=False)}
    assert min(gaps) >= len("Month 00") * 6
    few = chart(["Jan", "Feb", "Mar"], [Series("s", [1, 2, 3])], title="t")
    assert [label.label for label in few.x_labels] == ["Jan", "Feb", "Mar"]


def test_the_macro_draws_an_accessible_svg_without_inline_styles() -> None:
    environment = i18n.install(Environment(loader=FileSystemLoader("templates"), autoescape=True))
    drawn = chart(["Jan", "Feb"], [Series("Revenue", [3, 4]), Series("Margin", [1, None], kind="line")], title="R&M")
    html = environment.from_string('{% from "_charts.html" import svg_chart %}{{ svg_chart(c, id="x") }}').render(
        c=drawn
    )
    assert 'id="x"' in html and 'role="img"' in html and 'aria-label="R&amp;M"' in html
    assert f'viewBox="0 0 {WIDTH} {HEIGHT}"' in html
    assert html.count("<rect") == 2 and html.count("<circle") == 1 and "<polyline" not in html
    assert "Jan · Revenue: 3" in html and 'class="chart-legend"' in html
    assert "style=" not in html
