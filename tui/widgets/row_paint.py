"""A table row's line drawn from its cells' Rich segments, exactly as DataTable draws it.

DataTable renders each cell through ``Padding``, ``Styled`` and
``Console.render_lines`` and reads its component styles (which walk the DOM)
for every row: ~0.4 ms a row of nine cells, every visible row once per frame
while downloads move. Here what all rows of one paint share is read once
(:class:`Paint`), and a row costs its cells' ``Text.render`` and a few style
additions. The segments, styles and meta are DataTable's own
(tests/tui/test_table.py compares the lines).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rich.cells import cell_len
from rich.console import Console
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.strip import Strip


@dataclass(frozen=True)
class Paint:
    """What every row line of one paint shares; equal paints draw equal lines."""

    width: int
    scroll_x: int
    base: Style
    even: Style
    odd: Style
    cursor: Style
    hover: Style
    spaces: tuple[int, ...]
    padding: int
    css_foreground: bool
    css_background: bool
    state: object  # the widget's pseudo-classes (focus, hover, dark...)


class RowPainter:
    """Draws row lines for one table, keeping each cell's styles with their meta."""

    def __init__(self) -> None:
        self._styles: dict[tuple[Style, Style, Style, int, int], tuple[Style, Style]] = {}

    def line(self, paint: Paint, console: Console, index: int, cells: Sequence[Text],
             cursor: bool, hover: bool) -> Strip | None:
        """Row ``index``'s line; None when a cell is wider than its column or holds a line
        break (DataTable then crops or wraps it: let it draw that row)."""
        component = Style()
        if hover:
            component += paint.hover
        if cursor:
            component += paint.cursor
        post = Style.from_color(color=component.color) if paint.css_foreground else Style.null()
        if paint.css_background:
            post += Style.from_color(bgcolor=component.bgcolor)
        row_style = paint.odd if index % 2 else paint.even
        padding = " " * paint.padding
        segments: list[Segment] = []
        for column, (space, cell) in enumerate(zip(paint.spaces, cells, strict=True)):
            plain = cell.plain
            used = cell_len(plain)
            if used > space or "\n" in plain:
                return None
            pre, pre_post = self._cell_style(row_style, component, post, index, column)
            segments.append(Segment(padding, pre_post))
            # Text's own style is the lowest of its spans when Rich renders it whole.
            text_style = pre + console.get_style(cell.style) if cell.style else pre
            segments.extend(Segment(text, text_style + style + post if style
                                    else text_style + post)
                            for text, style, _ in cell.render(console) if text)
            segments.append(Segment(" " * (space - used) + padding, pre_post))
        table_width = sum(paint.spaces) + 2 * paint.padding * len(paint.spaces)
        extend = row_style + component + Style.from_meta(
            {"row": index, "column": 0, "out_of_bounds": True})
        segments.append(Segment(" " * max(0, paint.width - table_width), extend))
        strip = Strip(segments)
        if paint.scroll_x or strip.cell_length > paint.width:
            strip = strip.crop(paint.scroll_x, paint.scroll_x + paint.width)
        return strip.adjust_cell_length(paint.width, paint.base).simplify()

    def _cell_style(self, row_style: Style, component: Style, post: Style, index: int,
                    column: int) -> tuple[Style, Style]:
        """A cell's style under its text and with the cursor's over it, kept: each holds
        the cell's place as meta (DataTable's clicks read it), which Rich pickles."""
        key = (row_style, component, post, index, column)
        styles = self._styles.get(key)
        if styles is None:
            if len(self._styles) > 8192:
                self._styles.clear()
            pre = row_style + Style.from_meta({"row": index, "column": column}) + component
            styles = self._styles[key] = (pre, pre + post)
        return styles
