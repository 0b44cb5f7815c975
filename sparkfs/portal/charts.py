"""The quality-over-time chart as SVG, written by hand (no JavaScript, no library).

One stacked bar per gate run: rules that passed, warned (warn severity failed) and failed (error
severity failed). Every text is escaped; the picture is self-contained, so the same SVG goes in
a page and, inline, in the static report.
"""

from __future__ import annotations

from collections.abc import Sequence
from xml.sax.saxutils import escape

from sparkfs.portal.readmodel import QualityPoint

__all__ = ["COLORS", "quality_chart_svg"]

COLORS = {"passed": "#2e7d32", "warned": "#f9a825", "failed": "#c62828"}
_W, _H, _LEFT, _BOTTOM, _TOP = 640, 220, 40, 40, 16


def quality_chart_svg(points: Sequence[QualityPoint]) -> str:
    """An SVG of the gate results of ``points`` (oldest first); a short note when empty."""
    if not points:
        return (f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" width="{_W}" height="40" '
                'role="img" aria-label="no quality gate results"><text x="8" y="24">'
                'no quality gate results recorded yet</text></svg>')
    top = max(p.passed + p.warned + p.failed for p in points) or 1
    plot_w, plot_h = _W - _LEFT - 10, _H - _TOP - _BOTTOM
    step = plot_w / len(points)
    bar = max(2.0, min(40.0, step * 0.7))
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="chart quality-chart" width="{_W}" '
             f'height="{_H}" viewBox="0 0 {_W} {_H}" role="img" '
             f'aria-label="quality gate results of the last {len(points)} runs">',
             f'<line x1="{_LEFT}" y1="{_TOP + plot_h}" x2="{_W - 10}" y2="{_TOP + plot_h}" '
             'stroke="#555"/>',
             f'<line x1="{_LEFT}" y1="{_TOP}" x2="{_LEFT}" y2="{_TOP + plot_h}" stroke="#555"/>',
             f'<text x="{_LEFT - 6}" y="{_TOP + 4}" text-anchor="end" font-size="11">{top}</text>',
             f'<text x="{_LEFT - 6}" y="{_TOP + plot_h}" text-anchor="end" font-size="11">0</text>',
             f'<text x="4" y="{_TOP + plot_h / 2}" font-size="11" '
             f'transform="rotate(-90 10 {_TOP + plot_h / 2})">rules</text>']
    for i, point in enumerate(points):
        x = _LEFT + i * step + (step - bar) / 2
        y: float = _TOP + plot_h
        for label, count in (("passed", point.passed), ("warned", point.warned),
                             ("failed", point.failed)):
            if not count:
                continue
            height = plot_h * count / top
            y -= height
            tip = f"{point.at:%Y-%m-%d %H:%M} run {point.run_id[:8]}: {count} {label}"
            if label != "passed" and point.failures:
                tip += " (" + "; ".join(point.failures) + ")"
            parts.append(f'<rect class="bar {label}" x="{x:.1f}" y="{y:.1f}" width="{bar:.1f}" '
                         f'height="{height:.1f}" fill="{COLORS[label]}"><title>{escape(tip)}'
                         '</title></rect>')
        if len(points) <= 12 or i in (0, len(points) - 1):
            parts.append(f'<text x="{x + bar / 2:.1f}" y="{_TOP + plot_h + 14}" font-size="10" '
                         f'text-anchor="middle">{point.at:%m-%d %H:%M}</text>')
    for j, (label, color) in enumerate(COLORS.items()):
        lx = _LEFT + j * 90
        parts.append(f'<rect x="{lx}" y="{_H - 14}" width="10" height="10" fill="{color}"/>'
                     f'<text x="{lx + 14}" y="{_H - 5}" font-size="11">{label}</text>')
    parts.append("</svg>")
    return "".join(parts)
