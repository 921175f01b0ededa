"""LiveTable draws each row's line itself: the lines must be DataTable's own, cell for cell."""

from __future__ import annotations

from rich.text import Text
from textual.app import App, ComposeResult
from textual.widgets import DataTable

from tui.widgets.cells import bar
from tui.widgets.table import LiveTable

COLUMNS = [("id", "ID"), ("state", "State"), ("progress", "Progress"), ("error", "Error")]


class TableApp(App[None]):
    def compose(self) -> ComposeResult:
        yield LiveTable(COLUMNS, id="table")


def rows(step: int) -> list[tuple[str, tuple[object, ...]]]:
    return [(f"d{i}", (f"asset-{i}", Text("downloading", "bold green"), bar((i + step) / 40, 10),
                       Text("" if i % 3 else "1021 networkError: reset", "red")))
            for i in range(30)]


def lines_differ(table: LiveTable) -> list[int]:
    """The lines on screen (header included) that LiveTable draws otherwise than DataTable."""
    table.render_lines(table.region.reset_offset)
    top = table.header_height
    return [y for y in range(table.size.height)
            if y + table.scroll_offset.y - top < len(table.shown_keys)
            and table.render_line(y) != DataTable.render_line(table, y)]


async def test_rows_are_drawn_as_datatable_draws_them_under_the_cursor_and_blurred():
    app = TableApp()
    async with app.run_test(size=(100, 16)) as pilot:
        table = app.query_one(LiveTable)
        table.show(rows(0))
        table.focus()
        await pilot.pause()
        assert lines_differ(table) == []
        await pilot.press("down", "down", "pagedown")
        table.show(rows(5))
        await pilot.pause()
        assert table.cursor_row > 2 and lines_differ(table) == []
        table.blur()
        await pilot.pause()
        assert lines_differ(table) == []


async def test_a_batch_repaints_only_the_rows_it_changed():
    app = TableApp()
    async with app.run_test(size=(100, 16)) as pilot:
        table = app.query_one(LiveTable)
        table.show(rows(0))
        await pilot.pause()
        changed = rows(0)
        changed[3] = ("d3", ("asset-3", Text("paused", "yellow"), bar(0.5, 10), Text("", "red")))
        versions = list(table._versions)
        table.show(changed)
        await pilot.pause()
        after = table._versions
        assert [i for i, (a, b) in enumerate(zip(versions, after, strict=True)) if a != b] == [3]
        assert table.cell_text("d3", 1) == "paused" and lines_differ(table) == []


async def test_cells_are_made_only_for_rows_drawn_or_read():
    """200 rows, 13 on screen: only the rows drawn have their cells made; a row scrolled
    into view is made then, and drawn as DataTable draws it; a read makes the row read."""
    made: list[int] = []

    def maker(index: int, step: int):
        def make() -> tuple[Text, ...]:
            made.append(index)
            return (Text(f"asset-{index}"), Text(f"step {step}"), bar(step / 10, 10), Text(""))
        return make

    def lazy(step: int):
        return [(f"d{i}", (i, step), maker(i, step)) for i in range(200)]

    app = TableApp()
    async with app.run_test(size=(100, 16)) as pilot:
        table = app.query_one(LiveTable)
        table.focus()
        table.show_made(lazy(0))
        await pilot.pause()
        shown = table.size.height - table.header_height
        assert sorted(made) == list(range(shown))
        made.clear()
        table.show_made(lazy(1))  # every token changed: only the rows on screen are made
        await pilot.pause()
        assert sorted(made) == list(range(shown))
        made.clear()
        table.move_cursor(row=199, animate=False)  # the table scrolls to its end
        await pilot.pause()
        assert table.scroll_offset.y == 200 - shown
        assert set(made) == set(range(200 - shown, 200))
        assert table.cell_text("d199", 1) == "step 1" and lines_differ(table) == []
        made.clear()
        assert table.cell_text("d50", 1) == "step 1"
        assert made == [50]
        table.show_made(lazy(1))  # no token changed: nothing is made again
        await pilot.pause()
        assert made == [50]
