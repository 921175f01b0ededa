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
        self._paint: Paint | None = None
        # Per (row, column, cursor, hover) of the last paint: the cell's styles.
        self._styles: dict[tuple[int, int, bool, bool], _CellStyles] = {}
        # Per (cursor, hover) of the last paint: the cursor's style and what goes over it.
        self._components: dict[tuple[bool, bool], tuple[Style, Style]] = {}

    def line(self, paint: Paint, console: Console, index: int, cells: Sequence[Text],
             cursor: bool, hover: bool) -> Strip | None:
        """Row ``index``'s line; None when a cell is wider than its column or holds a line
        break (DataTable then crops or wraps it: let it draw that row).

        The styles are kept while the paint is the very same object (LiveTable keeps one
        while the paints it would make are equal)."""
        if paint is not self._paint:
            self._paint = paint
            self._styles.clear()
            self._components.clear()
        padding = " " * paint.padding
        segments: list[Segment] = []
        for column, (space, cell) in enumerate(zip(paint.spaces, cells, strict=True)):
            plain = cell.plain
            used = cell_len(plain)
            if used > space or "\n" in plain:
                return None
            styles = self._cell_styles(paint, index, column, cursor, hover)
            segments.append(Segment(padding, styles.pre_post))
            if not cell.spans:
                if plain:
                    segments.append(Segment(plain, styles.text(console, cell.style)))
            else:
                # Text's own style is the lowest of its spans when Rich renders it whole.
                pre, post = styles.pre, styles.post
                text_style = pre + console.get_style(cell.style) if cell.style else pre
                segments.extend(Segment(text, text_style + style + post if style
                                        else text_style + post)
                                for text, style, _ in cell.render(console) if text)
            segments.append(Segment(" " * (space - used) + padding, styles.pre_post))
        table_width = sum(paint.spaces) + 2 * paint.padding * len(paint.spaces)
        extend = self._cell_styles(paint, index, -1, cursor, hover).pre
        segments.append(Segment(" " * max(0, paint.width - table_width), extend))
        strip = Strip(segments)
        if paint.scroll_x or strip.cell_length > paint.width:
            strip = strip.crop(paint.scroll_x, paint.scroll_x + paint.width)
        return strip.adjust_cell_length(paint.width, paint.base).simplify()

    def _cell_styles(self, paint: Paint, index: int, column: int, cursor: bool,
                     hover: bool) -> _CellStyles:
        """A cell's styles (column -1: the space right of the last column). Each holds the
        cell's place as meta (DataTable's clicks read it), which Rich pickles: made once."""
        key = (index, column, cursor, hover)
        styles = self._styles.get(key)
        if styles is None:
            if len(self._styles) > 8192:
                self._styles.clear()
            component, post = self._component(paint, cursor, hover)
            row_style = paint.odd if index % 2 else paint.even
            if column < 0:
                meta = Style.from_meta({"row": index, "column": 0, "out_of_bounds": True})
                styles = _CellStyles(row_style + component + meta, post)
            else:
                meta = Style.from_meta({"row": index, "column": column})
                styles = _CellStyles(row_style + meta + component, post)
            self._styles[key] = styles
        return styles

    def _component(self, paint: Paint, cursor: bool, hover: bool) -> tuple[Style, Style]:
        """The cursor's and hover's style, and what goes over a cell's own (CSS colors)."""
        known = self._components.get((cursor, hover))
        if known is None:
            component = Style()
            if hover:
                component += paint.hover
            if cursor:
                component += paint.cursor
            post = Style.from_color(color=component.color) if paint.css_foreground \
                else Style.null()
            if paint.css_background:
                post += Style.from_color(bgcolor=component.bgcolor)
            known = self._components[(cursor, hover)] = (component, post)
        return known


class _CellStyles:
    """One cell's styles under one paint: ``pre`` under its text, ``pre_post`` with the
    cursor's colors over it, and its text's style for each style a Text names."""

    __slots__ = ("pre", "post", "pre_post", "_texts")

    def __init__(self, pre: Style, post: Style) -> None:
        self.pre, self.post, self.pre_post = pre, post, pre + post
        self._texts: dict[str | Style, Style] = {}

    def text(self, console: Console, style: str | Style) -> Style:
        """The style of a cell's text without spans whose own style is ``style``."""
        made = self._texts.get(style)
        if made is None:
            base = self.pre + console.get_style(style) if style else self.pre
            made = self._texts[style] = base + self.post
        return made
