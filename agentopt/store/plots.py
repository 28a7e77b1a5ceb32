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
