"""The report's daily availability chart: one inline SVG bar per day, grey for missing data.

A bar's height is the day's availability (the axis starts at a round percentage under the
worst day so small dips stay visible) and its colour the day's `DayAvailability.level`;
strips under it mark maintenance (blue) and minutes without data (grey); a day with no data
at all is hatched. Every text is escaped.
"""

from __future__ import annotations

from html import escape

from markupsafe import Markup

from statuspage.history import DayAvailability
from statuspage.report import ServiceFigures, percent

CHART_W, CHART_H, PAD_L, PAD_B, PAD_T = 680, 96, 44, 20, 6
COLOURS = {
    "up": "#1a7f37",
    "degraded": "#bf8700",
    "down": "#cf222e",
    "maintenance": "#0969da",
    "nodata": "#8c959f",
}


def chart_svg(figures: ServiceFigures) -> Markup:
    """Daily availability of one service as an inline SVG bar chart with a tooltip per day."""
    days = figures.days
    known = [d.availability for d in days if d.availability is not None]
    low = min([*known, figures.objective - 0.005])
    # The axis starts at a round percentage under the worst day so small dips stay visible.
    floor = max(0.0, min(0.99, int(low * 100 - 0.5) / 100))
    plot_w = CHART_W - PAD_L - 4
    plot_h = CHART_H - PAD_B - PAD_T
    slot = plot_w / max(1, len(days))
    bar = max(1.0, slot * 0.8)

    def y(value: float) -> float:
        return PAD_T + plot_h * (1 - (value - floor) / (1 - floor))

    title = f"Daily availability of {figures.name.en}"
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {CHART_W} {CHART_H}"'
        f' role="img" aria-label="{escape(title)}">',
        f"<title>{escape(title)}</title>",
        '<defs><pattern id="hatch" width="4" height="4" patternUnits="userSpaceOnUse" '
        'patternTransform="rotate(45)"><rect width="2" height="4" fill="#8c959f"/>'
        "</pattern></defs>",
    ]
    for value in (floor, (floor + 1) / 2, 1.0):
        yy = y(value)
        out.append(
            f'<line x1="{PAD_L}" x2="{CHART_W - 4}" y1="{yy:.1f}" y2="{yy:.1f}" stroke="#d0d7de"/>'
            f'<text x="{PAD_L - 4}" y="{yy + 3:.1f}" text-anchor="end" font-size="9">'
            f"{value * 100:.1f} %</text>"
        )
    for i, d in enumerate(days):
        x = PAD_L + i * slot + (slot - bar) / 2
        tip = _day_tip(d)
        avail = d.availability
        if avail is None:
            top, fill = float(PAD_T), "url(#hatch)"
        else:
            top, fill = y(max(floor, avail)), COLOURS.get(d.level, COLOURS["up"])
        height = max(1.0, PAD_T + plot_h - top)
        level = "nodata" if avail is None else d.level
        out.append(
            f'<rect class="day {level}" data-day="{d.day.isoformat()}" x="{x:.1f}" '
            f'y="{top:.1f}" width="{bar:.1f}" height="{height:.1f}" '
            f'fill="{fill}"><title>{escape(tip)}</title></rect>'
        )
        # Strips under the bar: maintenance (blue) and missing data (grey) on that day.
        for n, (kind, minutes) in enumerate((("maintenance", d.maintenance), ("nodata", d.gap))):
            if minutes:
                out.append(
                    f'<rect class="strip {kind}" data-day="{d.day.isoformat()}" x="{x:.1f}" '
                    f'y="{PAD_T + plot_h + 1 + 3 * n:.1f}" width="{bar:.1f}" '
                    f'height="2.5" fill="{COLOURS[kind]}"><title>{escape(tip)}</title></rect>'
                )
        if d.day.day == 1 or d.day.day % 5 == 0 or i == 0:
            out.append(
                f'<text x="{x + bar / 2:.1f}" y="{CHART_H - 2}" text-anchor="middle" '
                f'font-size="9">{d.day.day}</text>'
            )
    obj = y(figures.objective)
    out.append(
        f'<line x1="{PAD_L}" x2="{CHART_W - 4}" y1="{obj:.1f}" y2="{obj:.1f}" stroke="#24292f" '
        f'stroke-dasharray="4 3"><title>objective {escape(percent(figures.objective, digits=1))}'
        "</title></line>"
    )
    out.append("</svg>")
    return Markup("".join(out))


def _day_tip(d: DayAvailability) -> str:
    parts = [f"{d.day.isoformat()}: {percent(d.availability)}", f"{d.down} min down"]
    if d.gap:
        parts.append(f"{d.gap} min without data")
    if d.maintenance:
        parts.append(f"{d.maintenance} min maintenance")
    return ", ".join(parts)


