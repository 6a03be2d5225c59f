"""Charts of the usage pages as SVG made on the server.

Pure functions from plain data (lists and mappings) to a :class:`Chart`: the SVG, readable
without JavaScript and by screen readers (``role="img"``, a ``<title>`` and a ``<desc>``, text
labels on axes and bars), and a :class:`Table` with the same numbers for the table under the
chart. Names (groups, profiles) come from users: every text is escaped here, and the SVG is
handed to the templates as :class:`markupsafe.Markup`, so nothing else escapes it twice.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from html import escape

from markupsafe import Markup

#: colours that colour-blind readers can tell apart (Okabe and Ito), then grey for "other"
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442")
OTHER_COLOUR = "#8C8C8C"
#: at most this many series in a stacked chart; the smallest are summed up as "other"
MAX_SERIES = len(PALETTE)
OTHER = "other"

WIDTH = 720
LEFT, RIGHT, TOP, BOTTOM = 64, 16, 16, 44
FONT = 'font-family="system-ui, sans-serif" font-size="12"'


@dataclass(frozen=True)
class Table:
    """The numbers of a chart as a table: a caption, column headers and rows of text."""

    caption: str
    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    #: column indexes that hold numbers (aligned right)
    numeric: frozenset[int] = field(default_factory=frozenset)


@dataclass(frozen=True)
class Chart:
    key: str
    title: str
    description: str
    svg: Markup
    table: Table

    @property
    def empty(self) -> bool:
        return not self.table.rows


def number(value: float, digits: int = 2) -> str:
    """``1234.5`` as ``1,234.50``; whole counts without decimals when ``digits`` is 0."""
    if digits == 0:
        return f"{round(value):,}"
    return f"{value:,.{digits}f}"


def nice_ceiling(value: float) -> float:
    """The smallest of 1, 2, 2.5, 5 times a power of ten that is at least ``value``."""
    if value <= 0 or not math.isfinite(value):
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if step * power >= value * (1 - 1e-9):
            return step * power
    return 10 * power  # pragma: no cover - the loop always returns


def _e(text: object) -> str:
    return escape(str(text), quote=True)


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "chart"


def _frame(key: str, title: str, description: str, height: int, body: list[str]) -> Markup:
    ident = f"jhm-chart-{_slug(key)}"
    head = (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="jhm-chart" role="img" '
        f'viewBox="0 0 {WIDTH} {height}" width="100%" preserveAspectRatio="xMinYMin meet" '
        f'aria-labelledby="{ident}-title {ident}-desc" {FONT}>'
        f'<title id="{ident}-title">{_e(title)}</title>'
        f'<desc id="{ident}-desc">{_e(description)}</desc>'
    )
    # every text and attribute value in it went through _e()
    return Markup(head + "".join(body) + "</svg>")  # noqa: S704


def _empty(key: str, title: str, message: str, table: Table) -> Chart:
    body = [
        f'<text x="{WIDTH / 2:.0f}" y="40" text-anchor="middle" fill="currentColor">'
        f"{_e(message)}</text>"
    ]
    return Chart(key, title, message, _frame(key, title, message, 64, body), table)


def _y_axis(top: float, height: int, plot_bottom: float, unit: str) -> list[str]:
    """Gridlines and labels at 0, 1/4, ... of ``top``."""
    parts = []
    plot_height = plot_bottom - TOP
    for i in range(5):
        value = top * i / 4
        y = plot_bottom - plot_height * i / 4
        parts.append(
            f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" '
            f'stroke="currentColor" stroke-opacity="{0.6 if i == 0 else 0.15}"/>'
        )
        parts.append(
            f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" fill="currentColor">'
            f"{_e(_tick(value))}</text>"
        )
    parts.append(
        f'<text x="12" y="{TOP + plot_height / 2:.1f}" text-anchor="middle" fill="currentColor" '
        f'transform="rotate(-90 12 {TOP + plot_height / 2:.1f})">{_e(unit)}</text>'
    )
    return parts


def _tick(value: float) -> str:
    """An axis label: as many decimals as the value has, up to six, so that the ticks of a
    small scale (0.0025, 0.005, ...) do not all read 0."""
    if value == int(value):
        return f"{int(value):,}"
    return f"{value:,.6f}".rstrip("0").rstrip(".")


def _x_labels(labels: Sequence[str], x_of, plot_bottom: float) -> list[str]:
    """At most 8 labels along the x axis, the first and the last always among them."""
    n = len(labels)
    if not n:
        return []
    every = max(1, math.ceil(n / 8))
    shown = sorted({*range(0, n, every), n - 1})
    if len(shown) > 1 and shown[-1] - shown[-2] < every / 2:
        shown.pop(-2)
    return [
        f'<text x="{x_of(i):.1f}" y="{plot_bottom + 18:.1f}" text-anchor="middle" '
        f'fill="currentColor">{_e(labels[i])}</text>'
        for i in shown
    ]


def _legend(names: Sequence[str], colours: Sequence[str], y: float) -> list[str]:
    parts = []
    x = float(LEFT)
    for name, colour in zip(names, colours, strict=True):
        label = name if len(name) <= 24 else name[:23] + "…"
        parts.append(
            f'<rect x="{x:.1f}" y="{y - 10:.1f}" width="12" height="12" fill="{colour}"/>'
            f'<text x="{x + 16:.1f}" y="{y:.1f}" fill="currentColor">{_e(label)}</text>'
        )
        x += 16 + 7.5 * len(label) + 18
        if x > WIDTH - 120:
            x = float(LEFT)
            y += 18
    return parts


def fold_series(
    series: Mapping[str, Sequence[float]], limit: int = MAX_SERIES
) -> list[tuple[str, list[float]]]:
    """The ``limit`` series with the largest totals, largest first, and the rest summed up
    as ``"other"`` (merged into a real series of that name, if there is one)."""
    ranked = sorted(series.items(), key=lambda item: (-sum(item[1]), item[0]))
    if len(ranked) <= limit:
        return [(name, list(values)) for name, values in ranked]
    kept = [(name, list(values)) for name, values in ranked[: limit - 1]]
    rest = ranked[limit - 1 :]
    length = max(len(values) for _, values in rest)
    summed = [sum(v[i] if i < len(v) else 0.0 for _, v in rest) for i in range(length)]
    for name, values in kept:
        if name == OTHER:
            kept.remove((name, values))
            summed = [a + b for a, b in zip(summed, values, strict=False)]
            break
    return [*kept, (OTHER, summed)]


def _colours(names: Sequence[str]) -> list[str]:
    return [
        OTHER_COLOUR if name == OTHER else PALETTE[i % len(PALETTE)] for i, name in enumerate(names)
    ]


def stacked_bars(
    key: str,
    title: str,
    labels: Sequence[str],
    series: Mapping[str, Sequence[float]],
    unit: str,
    label_column: str = "Day",
) -> Chart:
    """One bar per label (a day), one coloured segment per series (a group)."""
    folded = [(name, values) for name, values in fold_series(series) if any(values)]
    names = [name for name, _ in folded]
    totals = [sum(values[i] for _, values in folded) for i in range(len(labels))]
    table = Table(
        caption=f"{title} ({unit})",
        columns=(label_column, *names, "Total"),
        rows=tuple(
            (label, *(number(values[i]) for _, values in folded), number(totals[i]))
            for i, label in enumerate(labels)
            if totals[i]
        ),
        numeric=frozenset(range(1, len(names) + 2)),
    )
    if not names:
        return _empty(key, title, "No use in this period.", table)
    colours = _colours(names)
    height = 300 + 18 * (len(names) // 5)
    plot_bottom = 300 - BOTTOM
    top = nice_ceiling(max(totals))
    plot_width = WIDTH - LEFT - RIGHT
    slot = plot_width / len(labels)
    bar = max(1.0, slot * 0.8)

    def x_of(i: int) -> float:
        return LEFT + slot * (i + 0.5)

    body = _y_axis(top, height, plot_bottom, unit)
    for i, label in enumerate(labels):
        y = plot_bottom
        for (name, values), colour in zip(folded, colours, strict=True):
            value = values[i]
            if not value:
                continue
            h = (plot_bottom - TOP) * value / top
            y -= h
            body.append(
                f'<rect x="{x_of(i) - bar / 2:.1f}" y="{y:.1f}" width="{bar:.1f}" '
                f'height="{h:.1f}" fill="{colour}"><title>{_e(label)}, {_e(name)}: '
                f"{_e(number(value))} {_e(unit)}</title></rect>"
            )
    body += _x_labels(labels, x_of, plot_bottom)
    body += _legend(names, colours, plot_bottom + 38)
    description = (
        f"Stacked bars, one per {label_column.lower()}, for {len(labels)} "
        f"{label_column.lower()}s; {len(names)} series: {', '.join(names)}. "
        f"Highest total {number(max(totals))} {unit}. The table below has every number."
    )
    return Chart(key, title, description, _frame(key, title, description, height, body), table)


def line(
    key: str,
    title: str,
    points: Sequence[tuple[str, float]],
    unit: str,
    label_column: str = "Day",
    digits: int = 0,
) -> Chart:
    """A line through one value per label (users active each day)."""
    table = Table(
        caption=f"{title} ({unit})",
        columns=(label_column, unit[:1].upper() + unit[1:]),
        rows=tuple((label, number(value, digits)) for label, value in points),
        numeric=frozenset({1}),
    )
    if not points or not any(value for _, value in points):
        return _empty(key, title, "Nobody was active in this period.", table)
    height = 260
    plot_bottom = height - BOTTOM + 10
    top = nice_ceiling(max(value for _, value in points))
    plot_width = WIDTH - LEFT - RIGHT
    n = len(points)
    slot = plot_width / n

    def x_of(i: int) -> float:
        return LEFT + slot * (i + 0.5)

    def y_of(value: float) -> float:
        return plot_bottom - (plot_bottom - TOP) * value / top

    body = _y_axis(top, height, plot_bottom, unit)
    path = " ".join(f"{x_of(i):.1f},{y_of(v):.1f}" for i, (_, v) in enumerate(points))
    body.append(f'<polyline points="{path}" fill="none" stroke="{PALETTE[0]}" stroke-width="2"/>')
    for i, (label, value) in enumerate(points):
        body.append(
            f'<circle cx="{x_of(i):.1f}" cy="{y_of(value):.1f}" r="3" fill="{PALETTE[0]}">'
            f"<title>{_e(label)}: {_e(number(value, digits))} {_e(unit)}</title></circle>"
        )
    body += _x_labels([label for label, _ in points], x_of, plot_bottom)
    peak = max(points, key=lambda p: p[1])
    description = (
        f"A line over {n} {label_column.lower()}s from {points[0][0]} to {points[-1][0]}; "
        f"highest {number(peak[1], digits)} {unit} on {peak[0]}. The table below has every "
        "number."
    )
    return Chart(key, title, description, _frame(key, title, description, height, body), table)


def horizontal_bars(
    key: str,
    title: str,
    items: Sequence[tuple[str, float]],
    unit: str,
    label_column: str,
    limit: int = 10,
) -> Chart:
    """The ``limit`` largest items as labelled bars, largest first."""
    ranked = sorted(((n, v) for n, v in items if v), key=lambda item: (-item[1], item[0]))
    ranked = ranked[:limit]
    table = Table(
        caption=f"{title} ({unit})",
        columns=(label_column, unit[:1].upper() + unit[1:]),
        rows=tuple((name, number(value)) for name, value in ranked),
        numeric=frozenset({1}),
    )
    if not ranked:
        return _empty(key, title, "No use in this period.", table)
    row = 26
    label_width = 180
    height = TOP + row * len(ranked) + 8
    top = nice_ceiling(ranked[0][1])
    plot_left = LEFT + label_width - 40
    plot_width = WIDTH - plot_left - RIGHT - 90
    body = []
    for i, (name, value) in enumerate(ranked):
        y = TOP + row * i
        w = max(1.0, plot_width * value / top)
        label = name if len(name) <= 26 else name[:25] + "…"
        body.append(
            f'<text x="{plot_left - 8}" y="{y + 15}" text-anchor="end" fill="currentColor">'
            f"{_e(label)}</text>"
            f'<rect x="{plot_left}" y="{y + 3}" width="{w:.1f}" height="{row - 8}" '
            f'fill="{PALETTE[i % len(PALETTE)]}"><title>{_e(name)}: {_e(number(value))} '
            f"{_e(unit)}</title></rect>"
            f'<text x="{plot_left + w + 6:.1f}" y="{y + 15}" fill="currentColor">'
            f"{_e(number(value))}</text>"
        )
    description = (
        f"Bars for the {len(ranked)} {label_column.lower()}s with the most {unit}, largest "
        f"first: {ranked[0][0]} with {number(ranked[0][1])}. The table below has every number."
    )
    return Chart(key, title, description, _frame(key, title, description, height, body), table)


@dataclass(frozen=True)
class BudgetBar:
    """One group's use of its monthly budget."""

    group: str
    used: float
    budget: float
    unit: str  # "server-hours" or a currency code

    @property
    def fraction(self) -> float:
        return self.used / self.budget if self.budget > 0 else 0.0


def budget_bars(key: str, title: str, bars: Sequence[BudgetBar]) -> Chart:
    """Each group's use as a bar against a line at its budget (100 %); 80 % is marked."""
    ordered = sorted(bars, key=lambda b: (-b.fraction, b.group))
    table = _budget_table(title, ordered)
    if not ordered:
        return _empty(key, title, "No group has a budget.", table)
    row = 28
    label_width = 140
    height = TOP + row * len(ordered) + 30
    top = max(1.0, max(b.fraction for b in ordered))
    top = math.ceil(top * 4) / 4  # a quarter of the budget at a time
    plot_left = LEFT + label_width - 40
    plot_width = WIDTH - plot_left - RIGHT - 130
    bottom = TOP + row * len(ordered)

    def x_of(fraction: float) -> float:
        return plot_left + plot_width * fraction / top

    body = []
    for i, b in enumerate(ordered):
        y = TOP + row * i
        colour = "#D55E00" if b.fraction >= 1 else "#E69F00" if b.fraction >= 0.8 else "#0072B2"
        w = max(1.0, x_of(b.fraction) - plot_left)
        label = b.group if len(b.group) <= 20 else b.group[:19] + "…"
        words = f"{number(b.used)} of {number(b.budget)} {b.unit} ({100 * b.fraction:.0f} %)"
        body.append(
            f'<text x="{plot_left - 8}" y="{y + 16}" text-anchor="end" fill="currentColor">'
            f"{_e(label)}</text>"
            f'<rect x="{plot_left}" y="{y + 4}" width="{w:.1f}" height="{row - 10}" '
            f'fill="{colour}"><title>{_e(b.group)}: {_e(words)}</title></rect>'
            f'<text x="{plot_left + w + 6:.1f}" y="{y + 16}" fill="currentColor">'
            f"{_e(f'{100 * b.fraction:.0f} %')}</text>"
        )
    for fraction, words, dash in ((0.8, "80 %", "4 3"), (1.0, "budget", "")):
        x = x_of(fraction)
        body.append(
            f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{TOP - 4}" y2="{bottom + 4}" '
            f'stroke="currentColor" stroke-width="{1 if dash else 2}"'
            + (f' stroke-dasharray="{dash}"' if dash else "")
            + "/>"
            f'<text x="{x:.1f}" y="{bottom + 20}" text-anchor="middle" fill="currentColor">'
            f"{words}</text>"
        )
    description = _budget_description(ordered)
    return Chart(key, title, description, _frame(key, title, description, height, body), table)


def _budget_table(title: str, ordered: Sequence[BudgetBar]) -> Table:
    return Table(
        caption=title,
        columns=("Group", "Used", "Budget", "Unit", "Share of budget"),
        rows=tuple(
            (b.group, number(b.used), number(b.budget), b.unit, f"{100 * b.fraction:.0f} %")
            for b in ordered
        ),
        numeric=frozenset({1, 2, 4}),
    )


def _budget_description(ordered: Sequence[BudgetBar]) -> str:
    over = [b.group for b in ordered if b.fraction >= 1]
    near = [b.group for b in ordered if 0.8 <= b.fraction < 1]
    return (
        f"Bars for {len(ordered)} groups, each its use this month as a share of its monthly "
        "budget, with a line at the budget and a dashed line at 80 %. "
        + (f"At or over budget: {', '.join(over)}. " if over else "")
        + (f"Over 80 %: {', '.join(near)}. " if near else "")
        + "The table below has every number."
    )
