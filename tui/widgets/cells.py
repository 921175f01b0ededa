"""Cell renderings: bars, speeds, times. Plain functions returning Rich ``Text``.

DataTable cells cannot hold widgets, so progress is drawn with block
characters; each function is pure so the table can redraw a cell cheaply.
"""

from __future__ import annotations

from rich.text import Span, Text

from orchestrator.model.enums import DownloadState
from orchestrator.model.units import format_size
from tui.state import DownloadRow

BLOCKS = " ▏▎▍▌▋▊▉█"
# The install progress's phases and the cells each gets: the base app and the install
# step are done or not, the essential bytes move.
PHASES = (("app", 1), ("install", 1), ("essential", 5))
STATE_STYLES = {DownloadState.DOWNLOADING: "bold green", DownloadState.PAUSED: "yellow",
                DownloadState.WAITING: "dim", DownloadState.FINISHED: "cyan",
                DownloadState.FAILED: "bold red"}


def bar_label(fraction: float, width: int = 12) -> str:
    """The text of :func:`bar`: ``width`` cells filled to ``fraction``, then the percent."""
    fraction = min(1.0, max(0.0, fraction))
    eighths = round(fraction * width * 8)
    full, part = divmod(eighths, 8)
    filled = "█" * full + (BLOCKS[part] if part and full < width else "")
    return f"{filled.ljust(width)} {fraction:4.0%}"


def bar(fraction: float, width: int = 12, style: str = "green") -> Text:
    """A bar of ``width`` cells filled to ``fraction`` with eighth-cell precision."""
    return _bar_text(bar_label(fraction, width), width, style)


def _bar_text(label: str, width: int, style: str = "green") -> Text:
    # Text.assemble's very Text, built directly (a cell of every moving row, every frame).
    spans = [Span(0, width, style)] if width and style else []
    return Text(label, spans=spans)


def phase_bar(phases: dict[str, float]) -> Text:
    """The install progress in its three phases, ``app``, ``install`` (the install step)
    and ``essential`` (bytes), one short bar each: ``█ █ ███░░``."""
    text = Text()
    for index, (key, width) in enumerate(PHASES):
        if index:
            text.append(" ")
        value = min(1.0, max(0.0, phases.get(key, 0.0)))
        filled = round(value * width)
        text.append("█" * filled + "░" * (width - filled), "green" if value >= 1 else "yellow")
    return text


def speed(bytes_per_second: float) -> str:
    return f"{format_size(int(bytes_per_second))}/s" if bytes_per_second > 0 else ""


def duration(seconds: float | None) -> str:
    """``2d03h``, ``1h02m``, ``3m05s``, ``42s``; empty when unknown."""
    if seconds is None:
        return ""
    seconds = int(round(seconds))
    days, rest = divmod(seconds, 86_400)
    if days:
        return f"{days}d{rest // 3600:02d}h"
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes:02d}m"
    return f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"


def state_label(row: DownloadRow) -> str:
    """The State cell's text: the state, and what it waits for or why it paused."""
    moving = row.state == DownloadState.DOWNLOADING
    label = row.state.label + (" (fg)" if row.foreground and moving else "")
    if row.reason and row.state == DownloadState.PAUSED:
        label += f": {row.reason}"
    elif row.reason and row.state == DownloadState.WAITING:  # the detail says how much
        label = "waiting for space"
    return label


def state(row: DownloadRow) -> Text:
    return Text(state_label(row), STATE_STYLES.get(row.state, ""))


def size_of(row: DownloadRow) -> str:
    total = format_size(row.total) if row.total else "?"
    return f"{format_size(row.bytes)} / {total}"


BAR_WIDTH = 10  # the Downloads table's Progress column


def download_cells(row: DownloadRow,
                   previous: tuple[Text, ...] | None = None) -> tuple[Text, ...]:
    """The Downloads table's cells for one row, in column order (Text already: the table
    takes them as they are, and every moving row's cells are made again each frame).

    With ``previous``, the row's cells of the last frame, a cell whose text is the same is
    that very cell: a progress event changes the bar, the speed and the time left, and the
    other six cells are neither built again nor compared by the table. A cell's style
    follows from its text (the state's from the state's label), so equal text is an
    equal cell.
    """
    labels = (row.id, row.app, "yes" if row.essential else "", str(row.priority),
              state_label(row), bar_label(row.fraction, BAR_WIDTH), speed(row.speed),
              duration(row.eta), row.error or "")
    if previous is None or len(previous) != len(labels):
        return tuple(_cell(column, label, row) for column, label in enumerate(labels))
    return tuple(old if old.plain == label else _cell(column, label, row)
                 for column, (old, label) in enumerate(zip(previous, labels, strict=True)))


_STATE, _PROGRESS, _ERROR = 4, 5, 8


def _cell(column: int, label: str, row: DownloadRow) -> Text:
    if column == _STATE:
        return Text(label, STATE_STYLES.get(row.state, ""))
    if column == _PROGRESS:
        return _bar_text(label, BAR_WIDTH)
    if column == _ERROR:
        return Text(label, "red")
    return Text(label)
