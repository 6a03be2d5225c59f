"""The usage pages' charts: SVG made on the server, escaped, accessible, with a table of the
same numbers."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from jhub_managed.services.usage import charts

SVG = "{http://www.w3.org/2000/svg}"
EVIL = '<script>alert("x")</script>'


def parse(chart: charts.Chart) -> ET.Element:
    """The SVG as XML: it must be well-formed to be shown at all."""
    return ET.fromstring(str(chart.svg))  # noqa: S314 - our own output


def texts(root: ET.Element) -> list[str]:
    return ["".join(t.itertext()) for t in root.iter(f"{SVG}text")]


def test_stacked_bars_have_title_description_labels_and_the_table_of_their_numbers():
    chart = charts.stacked_bars(
        "server-hours",
        "Server-hours per day by group",
        ["2026-11-01", "2026-11-02", "2026-11-03"],
        {"physics": [1.5, 0, 2], "chemistry": [0.25, 3, 0]},
        "server-hours",
    )
    root = parse(chart)
    assert root.get("role") == "img"
    title_id, desc_id = root.get("aria-labelledby").split()
    assert root.find(f"{SVG}title").get("id") == title_id
    assert root.find(f"{SVG}title").text == "Server-hours per day by group"
    assert root.find(f"{SVG}desc").get("id") == desc_id
    assert "physics" in root.find(f"{SVG}desc").text
    labels = texts(root)
    assert "2026-11-01" in labels and "2026-11-03" in labels
    assert "physics" in labels and "chemistry" in labels
    # one segment per non-zero value, each saying what it is
    segments = [
        r.find(f"{SVG}title").text
        for r in root.iter(f"{SVG}rect")
        if r.find(f"{SVG}title") is not None
    ]
    assert sorted(segments) == sorted(
        [
            "2026-11-01, physics: 1.50 server-hours",
            "2026-11-03, physics: 2.00 server-hours",
            "2026-11-01, chemistry: 0.25 server-hours",
            "2026-11-02, chemistry: 3.00 server-hours",
        ]
    )
    # the table: largest series first, a total per day
    assert chart.table.columns == ("Day", "physics", "chemistry", "Total")
    assert chart.table.rows == (
        ("2026-11-01", "1.50", "0.25", "1.75"),
        ("2026-11-02", "0.00", "3.00", "3.00"),
        ("2026-11-03", "2.00", "0.00", "2.00"),
    )


def test_a_bar_is_as_high_as_its_value_on_the_axis():
    chart = charts.stacked_bars("h", "Hours", ["a", "b"], {"g": [5, 10]}, "server-hours")
    root = parse(chart)
    bars = [r for r in root.iter(f"{SVG}rect") if r.find(f"{SVG}title") is not None]
    heights = [float(r.get("height")) for r in bars]
    assert heights[1] == pytest.approx(2 * heights[0], rel=0.01)
    assert "10" in texts(root)  # the axis ends at the highest total here


def test_the_axis_of_a_small_scale_says_each_tick_apart():
    """A few minutes of use: the axis goes to 0.01 server-hours, and its ticks read 0.0025,
    0.005, ..., not five times 0."""
    chart = charts.stacked_bars("h", "Hours", ["a", "b"], {"g": [0, 0.008]}, "server-hours")
    labels = texts(parse(chart))
    assert ["0", "0.0025", "0.005", "0.0075", "0.01"] == [t for t in labels if t[:1].isdigit()][:5]


def test_many_groups_fold_into_other_in_chart_and_table_alike():
    series = {f"g{i:02d}": [float(i)] for i in range(1, 13)}
    chart = charts.stacked_bars("h", "Hours", ["d"], series, "server-hours")
    names = chart.table.columns[1:-1]
    assert len(names) == charts.MAX_SERIES
    assert names[-1] == "other"
    assert names[0] == "g12"
    row = chart.table.rows[0]
    assert row[-1] == charts.number(sum(range(1, 13)))
    kept = charts.MAX_SERIES - 1  # the largest, then "other" for the rest: 1 + 2 + ...
    other = sum(range(1, 12 - kept + 1))
    assert row[-2] == charts.number(other)


def test_a_group_named_like_a_script_is_text_everywhere():
    for chart in (
        charts.stacked_bars("a", EVIL, ["2026-11-01"], {EVIL: [1.0]}, "server-hours"),
        charts.horizontal_bars("b", "Top", [(EVIL, 2.0)], "server-hours", "Profile"),
        charts.line("c", EVIL, [(EVIL, 3)], "users"),
        charts.budget_bars("d", "Budgets", [charts.BudgetBar(EVIL, 9, 10, "server-hours")]),
    ):
        svg = str(chart.svg)
        assert "<script" not in svg.lower()
        assert "&lt;script&gt;" in svg
        root = parse(chart)
        assert not list(root.iter(f"{SVG}script")) and not list(root.iter("script"))
        for element in root.iter():
            assert not any(name.lower().startswith("on") for name in element.attrib)


def test_a_quote_in_a_name_cannot_leave_an_attribute():
    chart = charts.stacked_bars("k", 'say "hi"', ["d"], {'x" onload="alert(1)': [1]}, "h")
    root = parse(chart)
    for element in root.iter():
        assert "onload" not in element.attrib


def test_the_chart_key_becomes_a_safe_id():
    chart = charts.line("a b<c>", "Users", [("d", 1)], "users")
    root = parse(chart)
    assert root.find(f"{SVG}title").get("id") == "jhm-chart-a-b-c-title"


def test_no_data_says_so_in_words():
    for chart in (
        charts.stacked_bars("a", "Hours", ["d1", "d2"], {}, "server-hours"),
        charts.stacked_bars("a", "Hours", ["d1"], {"g": [0.0]}, "server-hours"),
        charts.line("b", "Users", [("d1", 0)], "users"),
        charts.horizontal_bars("c", "Top", [], "server-hours", "Profile"),
        charts.budget_bars("d", "Budgets", []),
    ):
        root = parse(chart)
        assert chart.empty or chart.key == "b"  # a day with nobody is still a row
        assert any("No" in t for t in texts(root)), texts(root)


def test_active_users_line_and_table():
    points = [("2026-11-01", 3), ("2026-11-02", 0), ("2026-11-03", 7)]
    chart = charts.line("active", "Active users per day", points, "users")
    root = parse(chart)
    circles = [c.find(f"{SVG}title").text for c in root.iter(f"{SVG}circle")]
    assert circles == ["2026-11-01: 3 users", "2026-11-02: 0 users", "2026-11-03: 7 users"]
    assert chart.table.rows == (("2026-11-01", "3"), ("2026-11-02", "0"), ("2026-11-03", "7"))
    assert "highest 7 users on 2026-11-03" in chart.description


def test_top_profiles_largest_first_limited():
    items = [(f"p{i}", float(i)) for i in range(15)]
    chart = charts.horizontal_bars("top", "Top profiles", items, "server-hours", "Profile")
    assert [row[0] for row in chart.table.rows] == [f"p{i}" for i in range(14, 4, -1)]
    assert len([t for t in texts(parse(chart)) if t.startswith("p")]) == 10


def test_budget_bars_against_the_budget_line():
    bars = [
        charts.BudgetBar("low", 10, 100, "server-hours"),
        charts.BudgetBar("near", 85, 100, "server-hours"),
        charts.BudgetBar("over", 120, 100, "EUR"),
    ]
    chart = charts.budget_bars("budgets", "Budget use this month", bars)
    assert chart.table.rows == (
        ("over", "120.00", "100.00", "EUR", "120 %"),
        ("near", "85.00", "100.00", "server-hours", "85 %"),
        ("low", "10.00", "100.00", "server-hours", "10 %"),
    )
    root = parse(chart)
    lines = {float(ln.get("x1")) for ln in root.iter(f"{SVG}line")}
    assert len(lines) == 2  # 80 % and the budget
    rects = {r.find(f"{SVG}title").text.split(":")[0]: r for r in root.iter(f"{SVG}rect")}
    budget_x = max(lines)
    left = float(rects["low"].get("x"))
    assert left + float(rects["over"].get("width")) > budget_x
    assert left + float(rects["near"].get("width")) < budget_x
    assert "At or over budget: over." in chart.description


def test_nice_ceiling():
    assert [charts.nice_ceiling(v) for v in (0, 0.3, 1, 1.2, 2.2, 4, 7, 12, 260)] == [
        1,
        0.5,
        1,
        2,
        2.5,
        5,
        10,
        20,
        500,
    ]
