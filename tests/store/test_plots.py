"""The SVG charts: well-formed, escaped, and points where the data says."""

import re
import xml.etree.ElementTree as ET

import pytest

from agentopt.store import plots
from agentopt.store.plots import BOTTOM, HEIGHT, LEFT, RIGHT, TOP, WIDTH, Frame, Series

NS = "{http://www.w3.org/2000/svg}"


def parse(svg: str, sized: bool = False) -> ET.Element:
    """`sized`: a chart laid out to its content (its own viewBox) instead of WIDTH x HEIGHT."""
    root = ET.fromstring(svg)
    assert root.tag == NS + "svg"
    assert sized or root.get("viewBox") == f"0 0 {WIDTH} {HEIGHT}"
    assert root.get("width") == "100%"
    assert root[0].tag == NS + "title"  # the accessible name comes first
    return root


def test_frame_maps_the_corners_of_the_plot_area():
    frame = Frame((0, 100), (0, 1))
    assert frame.x(0) == LEFT and frame.x(100) == WIDTH - RIGHT
    assert frame.y(0) == HEIGHT - BOTTOM and frame.y(1) == TOP
    assert frame.x(50) == pytest.approx((LEFT + WIDTH - RIGHT) / 2)
    assert frame.y(2) == TOP and frame.x(-5) == LEFT  # out-of-range values are clamped


@pytest.mark.parametrize(
    "lo, hi, expected",
    [(0, 1, [0, 0.2, 0.4, 0.6, 0.8, 1.0]), (0, 300, [0, 100, 200, 300]), (0, 0.25, [0, 0.05, 0.1, 0.15, 0.2, 0.25]), (0, 0.03, [0, 0.01, 0.02, 0.03])],
)
def test_nice_ticks(lo, hi, expected):
    assert plots.nice_ticks(lo, hi) == pytest.approx(expected)


@pytest.mark.parametrize("top, expected", [(0.03, 0.03), (0.031, 0.04), (0.0, 1.0), (7.2, 8.0), (0.9, 1.0)])
def test_nice_max_is_a_round_number_at_or_above_the_data(top, expected):
    assert plots.nice_max(top) == pytest.approx(expected)


def test_step_chart_places_points_steps_and_holds_to_the_end():
    svg = plots.step_line_chart(
        [Series("best", [(0, 0.5), (50, 0.75)]), Series("rejected", [(25, 0.25)], kind="dots")],
        "rollouts", "val score", hlines=[(0.5, "baseline")], x_range=(0, 100),
    )
    root = parse(svg)
    # plot area: x 60..624 over 0..100, y 254..36 over 0..1
    path = root.find(NS + "path").get("d")
    assert path == "M60.0 145.0 H342.0 V90.5 H624.0"
    circles = [(float(c.get("cx")), float(c.get("cy")), c.get("fill-opacity")) for c in root.iter(NS + "circle")]
    assert (60.0, 145.0, None) in circles and (342.0, 90.5, None) in circles
    assert (201.0, 199.5, "0.45") in circles  # the rejected dot is faint
    dashed = [el for el in root.iter(NS + "line") if el.get("stroke-dasharray") and el.get("x1") == str(LEFT)]
    assert dashed and dashed[0].get("y1") == "145.0"
    texts = "".join(root.itertext())
    assert "rollouts" in texts and "val score" in texts and "baseline" in texts


def test_line_chart_fits_y_to_the_data_and_draws_straight_segments():
    root = parse(plots.line_chart([Series("cost", [(0, 0.0), (10, 0.03)])], "rollouts", "cost (USD)"))
    d = root.find(NS + "path").get("d")
    assert d.startswith("M60.0 254.0 L") and " H" not in d
    assert d.endswith(f"L{WIDTH - RIGHT:.1f} {TOP:.1f}")  # 0.03 is the top tick
    assert "0.03" in "".join(root.itertext())


def test_line_chart_with_all_zero_values_still_renders():
    root = parse(plots.line_chart([Series("cost", [(0, 0.0), (5, 0.0)])], "rollouts", "cost"))
    assert root.find(NS + "path") is not None


def test_grouped_bars_heights_and_missing_values():
    svg = plots.grouped_bar_chart(["accuracy", "tone"], [("before", [0.5, None]), ("after", [1.0, 0.25])], title="per criterion")
    root = parse(svg)
    rects = [r for r in root.iter(NS + "rect") if r.find(NS + "title") is not None]
    assert len(rects) == 3  # the None value has no bar
    heights = sorted(float(r.get("height")) for r in rects)
    plot_h = HEIGHT - TOP - BOTTOM
    assert heights == pytest.approx([plot_h * 0.25, plot_h * 0.5, plot_h * 1.0], abs=0.1)
    for r in rects:
        assert float(r.get("y")) + float(r.get("height")) == pytest.approx(HEIGHT - BOTTOM, abs=0.1)
    assert "n/a" in "".join(root.itertext())


def test_text_is_escaped():
    evil = '<script>alert("x")</script> & co'
    svg = plots.step_line_chart([Series(evil, [(1, 0.5)])], evil, evil, hlines=[(0.5, evil)], title=evil)
    svg += plots.grouped_bar_chart([evil], [(evil, [0.5])], title=evil)
    assert "<script>" not in svg
    assert "&lt;script&gt;" in svg
    root = parse(svg.split("</svg>")[0] + "</svg>")
    assert root.find(NS + "title").text == evil


def test_empty_charts_do_not_crash():
    parse(plots.step_line_chart([Series("best", [])], "x", "y"))
    parse(plots.grouped_bar_chart([], []))
    assert re.search(r"no data", plots.grouped_bar_chart([], []))


def test_degenerate_ranges_do_not_divide_by_zero():
    parse(plots.step_line_chart([Series("one", [(5, 0.5)])], "x", "y", y_range=(0.5, 0.5), x_range=(5, 5)))
    parse(plots.line_chart([Series("gaps", [(0, None), (1, 0.2)])], "x", "y"))  # None points are skipped


def test_bar_rows_show_whole_names_at_a_legible_size():
    names = ["reply_acknowledges_the_customer", "category_correct"]
    root = parse(plots.bar_rows_chart(names, [("before", [0.25, None]), ("after", [1.0, 0.5])], x_label="mean score"), sized=True)
    texts = {t.text: t for t in root.iter(NS + "text")}
    for name in names:  # never cut
        assert name in texts and float(texts[name].get("font-size")) >= 12
    label_right = float(texts[names[0]].get("x"))
    bars = [r for r in root.iter(NS + "rect") if r.find(NS + "title") is not None]
    assert len(bars) == 3 and all(float(r.get("x")) == pytest.approx(label_right + 8) for r in bars)
    widths = sorted(float(r.get("width")) for r in bars)
    assert widths == pytest.approx([105, 210, 420], abs=0.2)  # 0.25, 0.5, 1.0 of the 420 px scale
    assert "n/a" in texts and "1.00" in texts
    width = float(root.get("viewBox").split()[2])
    assert root.get("style") == f"max-width: {width:.1f}px"  # never drawn larger than laid out: text stays its size


def test_pareto_front_keeps_what_nothing_beats():
    points = [("a", 1, 0.5), ("b", 2, 0.6), ("c", 2, 0.5), ("d", 3, 0.6), ("e", 0.5, 0.2), ("f", 1, 0.5)]
    assert plots.pareto_front(points) == {"a", "b", "e", "f"}  # a tie is on the front with its twin


def test_front_chart_labels_every_candidate_and_marks_the_front():
    dots = [plots.Dot("c0", 100, 0.4, True), plots.Dot("c1", 101, 0.41, True), plots.Dot("c2", 300, 0.3)]
    root = parse(plots.front_chart(dots, "tokens per val episode", "val score"), sized=True)
    labels = [t for t in root.iter(NS + "text") if t.text in ("c0", "c1", "c2")]
    assert sorted(t.text for t in labels) == ["c0", "c1", "c2"]
    boxes = [(float(t.get("x")), float(t.get("y"))) for t in labels]
    assert len({(round(x), round(y)) for x, y in boxes}) == 3 and abs(boxes[0][1] - boxes[1][1]) >= 12  # near points: labels apart
    assert root.find(NS + "path") is not None  # the front's step line
