"""Tiny inline-SVG charts for report.html: no dependencies, no JavaScript, every text escaped.

Each chart function returns one `<svg>` string (viewBox, width 100%, an accessible `<title>`).
The output is also well-formed XML, so it can be embedded in an XHTML-compatible page.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

WIDTH, HEIGHT = 640, 300
LEFT, RIGHT, TOP, BOTTOM = 60, 16, 36, 46  # margins around the plot area; TOP holds the legend
PALETTE = ("#2563eb", "#f97316", "#16a34a", "#9333ea", "#64748b")
SMALL = 'text-anchor="middle" font-size="10"'
Point = tuple[float, float]


@dataclass(frozen=True)
class Series:
    label: str
    points: Sequence[Point]
    kind: str = ""  # "step", "line" or "dots"; "" takes the chart's default
    color: str = ""  # "" takes the palette colour of the series' position


@dataclass(frozen=True)
class Frame:
    """Maps data coordinates to SVG coordinates inside the plot area (values are clamped)."""

    x_range: tuple[float, float]
    y_range: tuple[float, float]

    def x(self, value: float) -> float:
        lo, hi = self.x_range
        return LEFT + (min(max(value, lo), hi) - lo) / (hi - lo) * (WIDTH - LEFT - RIGHT)

    def y(self, value: float) -> float:
        lo, hi = self.y_range
        return HEIGHT - BOTTOM - (min(max(value, lo), hi) - lo) / (hi - lo) * (HEIGHT - TOP - BOTTOM)


def nice_ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    """Round tick values (steps of 1, 2 or 5 times a power of ten) covering [lo, hi]."""
    raw = (hi - lo) / count if hi > lo else 1.0
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    first = math.ceil(lo / step - 1e-9)
    return [round(i * step, 10) for i in range(first, math.floor(hi / step + 1e-9) + 1)]


def nice_max(top: float) -> float:
    """The smallest round tick at or above `top` (1.0 when top <= 0)."""
    if top <= 0:
        return 1.0
    ticks = nice_ticks(0.0, top)
    step = ticks[1] - ticks[0]
    return ticks[-1] if ticks[-1] >= top - 1e-12 else round(ticks[-1] + step, 10)


def _n(value: float) -> str:
    return f"{value:.1f}"


def _label(value: float) -> str:
    return f"{value:.4g}"


def _svg(title: str, body: list[str]) -> str:
    t = escape(title)
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" width="100%" '
        f'role="img" aria-label="{t}" font-family="system-ui, sans-serif" font-size="12">'
        f"<title>{t}</title>" + "".join(body) + "</svg>"
    )


def _axes(frame: Frame, x_label: str, y_label: str, x_ticks: bool = True) -> list[str]:
    """Horizontal grid lines with y tick labels, the x axis with its ticks, and both axis labels."""
    x0, x1, bottom = LEFT, WIDTH - RIGHT, HEIGHT - BOTTOM
    out = []
    for t in nice_ticks(*frame.y_range):
        y = _n(frame.y(t))
        out.append(f'<line x1="{x0}" y1="{y}" x2="{x1}" y2="{y}" stroke="#e5e7eb"/>')
        out.append(f'<text x="{x0 - 6}" y="{y}" text-anchor="end" dominant-baseline="middle" fill="#374151">{_label(t)}</text>')
    out.append(f'<line x1="{x0}" y1="{bottom}" x2="{x1}" y2="{bottom}" stroke="#6b7280"/>')
    if x_ticks:
        for t in nice_ticks(*frame.x_range, count=8):
            x = _n(frame.x(t))
            out.append(f'<line x1="{x}" y1="{bottom}" x2="{x}" y2="{bottom + 4}" stroke="#6b7280"/>')
            out.append(f'<text x="{x}" y="{bottom + 16}" text-anchor="middle" fill="#374151">{_label(t)}</text>')
    out.append(f'<text x="{(x0 + x1) / 2:.1f}" y="{HEIGHT - 6}" text-anchor="middle" fill="#111827">{escape(x_label)}</text>')
    mid = (TOP + bottom) / 2
    out.append(f'<text transform="translate(12 {mid:.1f}) rotate(-90)" text-anchor="middle" fill="#111827">{escape(y_label)}</text>')
    return out


def _legend(items: list[tuple[str, str, str]]) -> list[str]:
    """One row above the plot area: (label, colour, kind) per item."""
    out, x = [], LEFT
    for label, color, kind in items:
        if kind == "dots":
            out.append(f'<circle cx="{x + 8}" cy="14" r="4" fill="{color}" fill-opacity="0.45"/>')
        elif kind == "bar":
            out.append(f'<rect x="{x + 2}" y="9" width="12" height="10" fill="{color}"/>')
        else:
            dash = ' stroke-dasharray="5 4"' if kind == "dashed" else ""
            out.append(f'<line x1="{x}" y1="14" x2="{x + 16}" y2="14" stroke="{color}" stroke-width="2"{dash}/>')
        out.append(f'<text x="{x + 22}" y="14" dominant-baseline="middle" fill="#111827">{escape(label)}</text>')
        x += 34 + 7 * len(label)
    return out


def _series(frame: Frame, s: Series, kind: str, color: str) -> list[str]:
    pts = sorted(s.points)
    if not pts:
        return []
    faint = ' fill-opacity="0.45"' if kind == "dots" else ""
    dots = "".join(
        f'<circle cx="{_n(frame.x(x))}" cy="{_n(frame.y(y))}" r="3.5" fill="{color}"{faint}>'
        f"<title>{escape(s.label)}: {_label(x)}, {_label(y)}</title></circle>"
        for x, y in pts
    )
    if kind == "dots":
        return [dots]
    d = f"M{_n(frame.x(pts[0][0]))} {_n(frame.y(pts[0][1]))}"
    for x, y in pts[1:]:
        d += f" H{_n(frame.x(x))} V{_n(frame.y(y))}" if kind == "step" else f" L{_n(frame.x(x))} {_n(frame.y(y))}"
    if kind == "step":  # a best-so-far value holds until the end of the x range
        d += f" H{_n(frame.x(frame.x_range[1]))}"
    return [f'<path d="{d}" fill="none" stroke="{color}" stroke-width="2"/>', dots if kind == "step" else ""]


def _widen(span: tuple[float, float]) -> tuple[float, float]:
    return span if span[1] > span[0] else (span[0], span[0] + 1)


def _xy_chart(series, x_label, y_label, y_range, hlines, title, x_range, default_kind) -> str:
    series = [Series(s.label, [p for p in s.points if None not in p], s.kind, s.color) for s in series]
    xs = [x for s in series for x, _ in s.points]
    if x_range is None:
        x_range = (min([0.0, *xs]), max([1.0, *xs]))
    if y_range is None:
        top = max([y for s in series for _, y in s.points] + [y for y, _ in hlines] + [0.0])
        y_range = (0.0, nice_max(top))
    frame = Frame(_widen(x_range), _widen(y_range))
    body, legend = _axes(frame, x_label, y_label), []
    for i, s in enumerate(series):
        kind, color = s.kind or default_kind, escape(s.color or PALETTE[i % len(PALETTE)])
        body += _series(frame, s, kind, color)
        legend.append((s.label, color, kind))
    for y, label in hlines:
        yy = _n(frame.y(y))
        body.append(
            f'<line x1="{LEFT}" y1="{yy}" x2="{WIDTH - RIGHT}" y2="{yy}" '
            f'stroke="#6b7280" stroke-width="1.5" stroke-dasharray="5 4"/>'
        )
        legend.append((label, "#6b7280", "dashed"))
    return _svg(title or y_label, body + _legend(legend))


def step_line_chart(
    series: list[Series], x_label: str, y_label: str, y_range: tuple[float, float] | None = (0, 1),
    hlines: Sequence[tuple[float, str]] = (), title: str = "", x_range: tuple[float, float] | None = None,
) -> str:
    """Step lines (a best-so-far value that holds until the next point), dot series, dashed hlines."""
    return _xy_chart(series, x_label, y_label, y_range, hlines, title, x_range, "step")


def line_chart(
    series: list[Series], x_label: str, y_label: str, y_range: tuple[float, float] | None = None,
    hlines: Sequence[tuple[float, str]] = (), title: str = "", x_range: tuple[float, float] | None = None,
) -> str:
    """Straight-segment lines; y_range None fits 0 to a round number above the data."""
    return _xy_chart(series, x_label, y_label, y_range, hlines, title, x_range, "line")


def grouped_bar_chart(
    categories: list[str], groups: list[tuple[str, list[float | None]]], y_range: tuple[float, float] = (0, 1),
    title: str = "", y_label: str = "",
) -> str:
    """One band per category, one bar per group inside it; a None value is drawn as "n/a"."""
    frame = Frame((0, max(len(categories), 1)), _widen(y_range))
    body = _axes(frame, "", y_label, x_ticks=False)
    band = (WIDTH - LEFT - RIGHT) / max(len(categories), 1)
    bar = band * 0.8 / max(len(groups), 1)
    base = HEIGHT - BOTTOM
    for i, category in enumerate(categories):
        left = frame.x(i) + band * 0.1
        for j, (label, values) in enumerate(groups):
            value, x = values[i] if i < len(values) else None, left + j * bar
            if value is None:
                body.append(f'<text x="{x + bar / 2:.1f}" y="{base - 4}" {SMALL} fill="#6b7280">n/a</text>')
                continue
            y = frame.y(value)
            body.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{max(bar - 2, 1):.1f}" height="{base - y:.1f}" '
                f'fill="{PALETTE[j % len(PALETTE)]}">'
                f"<title>{escape(category)}, {escape(label)}: {value:.2f}</title></rect>"
            )
            if bar >= 18:
                body.append(f'<text x="{x + (bar - 2) / 2:.1f}" y="{y - 3:.1f}" {SMALL} fill="#374151">{value:.2f}</text>')
        chars = max(int(band / 7), 3)
        short = category if len(category) <= chars else category[: chars - 1] + "\u2026"
        body.append(
            f'<text x="{frame.x(i) + band / 2:.1f}" y="{base + 16}" text-anchor="middle" fill="#374151">'
            f"<title>{escape(category)}</title>{escape(short)}</text>"
        )
    if not categories:
        body.append(f'<text x="{WIDTH / 2}" y="{HEIGHT / 2}" text-anchor="middle" fill="#6b7280">no data</text>')
    legend = [(label, PALETTE[j % len(PALETTE)], "bar") for j, (label, _) in enumerate(groups)]
    return _svg(title or y_label or "bar chart", body + _legend(legend))


# ---- charts sized to their content: full category names, labels at a legible size ----------

ROW_FONT = 13  # px in the SVG's own units; the figure is never drawn wider than its viewBox (no shrinking below it)
CHAR_W = 7.6  # average width of a character at ROW_FONT


def bar_rows_chart(
    categories: list[str], groups: list[tuple[str, list[float | None]]], x_range: tuple[float, float] = (0, 1),
    title: str = "", x_label: str = "",
) -> str:
    """Horizontal bars, one row per category with its whole name on the left, one bar per group
    inside a row, the value at the end of each bar; a None value is written "n/a"."""
    label_w = max([len(c) for c in categories] + [8]) * CHAR_W + 16
    plot_w = 420.0
    width = label_w + plot_w + 56
    bar_h, gap = 16.0, 12.0
    row_h = bar_h * max(len(groups), 1) + gap
    top, bottom = 34.0, 44.0
    height = top + row_h * max(len(categories), 1) + bottom
    lo, hi = _widen(x_range)

    def x_of(value: float) -> float:
        return label_w + (min(max(value, lo), hi) - lo) / (hi - lo) * plot_w

    body = []
    base_y = height - bottom
    for t in nice_ticks(lo, hi):
        x = _n(x_of(t))
        body.append(f'<line x1="{x}" y1="{top}" x2="{x}" y2="{base_y}" stroke="#e5e7eb"/>')
        body.append(f'<text x="{x}" y="{base_y + 18}" text-anchor="middle" font-size="{ROW_FONT}" fill="#374151">{_label(t)}</text>')
    body.append(f'<line x1="{_n(label_w)}" y1="{top}" x2="{_n(label_w)}" y2="{base_y}" stroke="#6b7280"/>')
    if x_label:
        body.append(f'<text x="{_n(label_w + plot_w / 2)}" y="{height - 6}" text-anchor="middle" font-size="{ROW_FONT}" fill="#111827">{escape(x_label)}</text>')
    for i, category in enumerate(categories):
        y0 = top + i * row_h + gap / 2
        mid = y0 + bar_h * max(len(groups), 1) / 2
        body.append(f'<text x="{_n(label_w - 8)}" y="{_n(mid)}" text-anchor="end" dominant-baseline="middle" '
                    f'font-size="{ROW_FONT}" fill="#111827">{escape(category)}</text>')
        for j, (label, values) in enumerate(groups):
            value = values[i] if i < len(values) else None
            y = y0 + j * bar_h
            if value is None:
                body.append(f'<text x="{_n(label_w + 4)}" y="{_n(y + bar_h / 2)}" dominant-baseline="middle" font-size="{ROW_FONT - 1}" fill="#6b7280">n/a</text>')
                continue
            end = x_of(value)
            body.append(
                f'<rect x="{_n(label_w)}" y="{_n(y + 1)}" width="{_n(max(end - label_w, 1))}" height="{_n(bar_h - 2)}" '
                f'fill="{PALETTE[j % len(PALETTE)]}"><title>{escape(category)}, {escape(label)}: {value:.2f}</title></rect>'
            )
            body.append(f'<text x="{_n(end + 4)}" y="{_n(y + bar_h / 2)}" dominant-baseline="middle" font-size="{ROW_FONT - 1}" fill="#374151">{value:.2f}</text>')
    if not categories:
        body.append(f'<text x="{_n(width / 2)}" y="{_n(height / 2)}" text-anchor="middle" fill="#6b7280">no data</text>')
    legend = []
    at = label_w
    for j, (label, _) in enumerate(groups):
        legend.append(f'<rect x="{_n(at)}" y="9" width="12" height="12" fill="{PALETTE[j % len(PALETTE)]}"/>')
        legend.append(f'<text x="{_n(at + 18)}" y="15" dominant-baseline="middle" font-size="{ROW_FONT}" fill="#111827">{escape(label)}</text>')
        at += 40 + CHAR_W * len(label)
    return _sized_svg(title or x_label or "bar chart", width, height, body + legend)


@dataclass(frozen=True)
class Dot:
    """One labelled point of a scatter chart; `marked` ones are drawn as the front."""

    label: str
    x: float
    y: float
    marked: bool = False


def front_chart(dots: list[Dot], x_label: str, y_label: str, title: str = "", front_label: str = "front") -> str:
    """Labelled dots; the marked ones joined by a step line (a quality/cost front: lower x, higher y)."""
    width, height, left, right, top, bottom = 720.0, 360.0, 64.0, 24.0, 36.0, 48.0
    xs, ys = [d.x for d in dots], [d.y for d in dots]
    x_hi = nice_max(max(xs + [0.0]) * 1.05)
    y_lo = 0.0
    y_hi = nice_max(max(ys + [0.0]))
    y_hi = 1.0 if y_hi <= 1.0 else y_hi

    def fx(v: float) -> float:
        return left + v / x_hi * (width - left - right)

    def fy(v: float) -> float:
        return height - bottom - (v - y_lo) / (y_hi - y_lo) * (height - top - bottom)

    body = []
    for t in nice_ticks(y_lo, y_hi):
        y = _n(fy(t))
        body.append(f'<line x1="{left}" y1="{y}" x2="{width - right}" y2="{y}" stroke="#e5e7eb"/>')
        body.append(f'<text x="{left - 6}" y="{y}" text-anchor="end" dominant-baseline="middle" font-size="{ROW_FONT}" fill="#374151">{_label(t)}</text>')
    base = height - bottom
    body.append(f'<line x1="{left}" y1="{base}" x2="{width - right}" y2="{base}" stroke="#6b7280"/>')
    for t in nice_ticks(0.0, x_hi, count=6):
        x = _n(fx(t))
        body.append(f'<line x1="{x}" y1="{base}" x2="{x}" y2="{base + 4}" stroke="#6b7280"/>')
        body.append(f'<text x="{x}" y="{base + 18}" text-anchor="middle" font-size="{ROW_FONT}" fill="#374151">{_label(t)}</text>')
    body.append(f'<text x="{_n((left + width - right) / 2)}" y="{height - 6}" text-anchor="middle" font-size="{ROW_FONT}" fill="#111827">{escape(x_label)}</text>')
    body.append(f'<text transform="translate(14 {_n((top + base) / 2)}) rotate(-90)" text-anchor="middle" font-size="{ROW_FONT}" fill="#111827">{escape(y_label)}</text>')
    front = sorted((d for d in dots if d.marked), key=lambda d: (d.x, -d.y))
    if front:
        d = f"M{_n(fx(front[0].x))} {_n(fy(front[0].y))}"
        for p in front[1:]:
            d += f" H{_n(fx(p.x))} V{_n(fy(p.y))}"
        body.append(f'<path d="{d}" fill="none" stroke="{PALETTE[1]}" stroke-width="2"/>')
    placed: list[tuple[float, float, float, float]] = []
    for p in sorted(dots, key=lambda d: (d.x, d.y)):
        color, faint = (PALETTE[1], "") if p.marked else (PALETTE[0], ' fill-opacity="0.6"')
        body.append(
            f'<circle cx="{_n(fx(p.x))}" cy="{_n(fy(p.y))}" r="{5 if p.marked else 4}" fill="{color}"{faint}><title>{escape(p.label)}: {escape(x_label)} {_label(p.x)}, {escape(y_label)} {_label(p.y)}</title></circle>'
        )
        lx, ly = _place_label(placed, fx(p.x), fy(p.y), len(p.label) * CHAR_W)
        body.append(f'<text x="{_n(lx)}" y="{_n(ly)}" font-size="{ROW_FONT - 1}" fill="#374151">{escape(p.label)}</text>')
    if not dots:
        body.append(f'<text x="{_n(width / 2)}" y="{_n(height / 2)}" text-anchor="middle" fill="#6b7280">no data</text>')
    legend = [
        f'<circle cx="{left + 8}" cy="15" r="4" fill="{PALETTE[0]}" fill-opacity="0.6"/>',
        f'<text x="{left + 18}" y="15" dominant-baseline="middle" font-size="{ROW_FONT}" fill="#111827">candidate</text>',
        f'<line x1="{left + 110}" y1="15" x2="{left + 126}" y2="15" stroke="{PALETTE[1]}" stroke-width="2"/>',
        f'<circle cx="{left + 118}" cy="15" r="5" fill="{PALETTE[1]}"/>',
        f'<text x="{left + 134}" y="15" dominant-baseline="middle" font-size="{ROW_FONT}" fill="#111827">{escape(front_label)}</text>',
    ]
    return _sized_svg(title or y_label, width, height, body + legend)


def _place_label(placed: list[tuple[float, float, float, float]], x: float, y: float, width: float) -> tuple[float, float]:
    """Where a point's label goes: above right, else below right, above left, further up...,
    the first spot that overlaps no label placed before (boxes are x0, y0, x1, y1)."""
    spots = [(x + 7, y - 7), (x + 7, y + 16), (x - 7 - width, y - 7), (x - 7 - width, y + 16), (x + 7, y - 21), (x + 7, y + 30)]
    for lx, ly in spots:
        box = (lx, ly - 12, lx + width, ly + 2)
        if not any(box[0] < b[2] and b[0] < box[2] and box[1] < b[3] and b[1] < box[3] for b in placed):
            placed.append(box)
            return lx, ly
    placed.append((spots[0][0], spots[0][1] - 12, spots[0][0] + width, spots[0][1] + 2))
    return spots[0]


def pareto_front(points: list[tuple[str, float, float]]) -> set[str]:
    """The labels of the points no other point beats: none has lower-or-equal x and higher-or-equal y, one strictly."""
    front = set()
    for label, x, y in points:
        if not any((ox <= x and oy >= y) and (ox < x or oy > y) for _, ox, oy in points):
            front.add(label)
    return front


def _sized_svg(title: str, width: float, height: float, body: list[str]) -> str:
    """An SVG drawn at most at its own size (text stays at the size it was laid out with)."""
    t = escape(title)
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {_n(width)} {_n(height)}" width="100%" '
        f'style="max-width: {_n(width)}px" role="img" aria-label="{t}" font-family="system-ui, sans-serif" font-size="12">'
        f"<title>{t}</title>" + "".join(body) + "</svg>"
    )
