"""Figures a benchmark hands to ``run.py`` for the one table at the end of ``make bench``.

Every benchmark script accepts ``--figures FILE`` and, when given, writes its figures
there as a JSON list: each of our figures with the peer measured in the same run (curl,
aria2c, a bare aiohttp loop, json.loads + jsonschema-rs, ...), the goal and whether it
is met. ``run.py`` reads them all and prints :func:`table`.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict, dataclass, replace
from pathlib import Path


@dataclass(frozen=True)
class Figure:
    """One of our figures, its peer from the same run, and the goal on the two."""

    benchmark: str
    ours: str
    value: float | None            # None: the command failed
    unit: str = "s"
    peer: str = ""
    peer_value: float | None = None
    goal: str = ""
    met: bool | None = None        # None: no goal
    note: str = ""

    @property
    def ratio(self) -> float | None:
        if self.value is None or not self.peer_value:
            return None
        return self.value / self.peer_value


def add_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--figures", type=Path, metavar="FILE",
                        help="also write the figures as JSON to FILE (for run.py's table)")


def write(path: Path | None, figures: list[Figure]) -> None:
    """Write ``figures`` to ``path`` (nothing when None)."""
    if path is not None:
        path.write_text(json.dumps([asdict(figure) for figure in figures], indent=1))


def read(path: Path) -> list[Figure]:
    """The figures a benchmark wrote, or none when it wrote no file."""
    try:
        rows = json.loads(path.read_text())
    except (OSError, ValueError):
        return []
    return [Figure(**row) for row in rows]


def _number(value: float | None, unit: str) -> str:
    if value is None:
        return "failed"
    if unit == "s":
        return f"{value:.2f} s"
    if unit == "ms":
        return f"{value:.1f} ms"
    if unit == "%":
        return f"{value:.0f} %"
    return f"{value:,.0f} {unit}"


def _escaped(figure: Figure) -> Figure:
    """The figure with ``|`` in its texts escaped for a markdown table cell."""
    return replace(figure, **{name: getattr(figure, name).replace("|", "\\|")
                              for name in ("benchmark", "ours", "peer", "goal", "note")})


def table(figures: list[Figure]) -> str:
    """The markdown table: each figure, its peer, the ratio, the goal and the verdict."""
    lines = ["| benchmark | bgassets | figure | peer (same run) | figure | ratio | goal | |",
             "|---|---|---:|---|---:|---:|---|---|"]
    for figure in map(_escaped, figures):
        ratio = f"{figure.ratio:.2f}" if figure.ratio is not None else ""
        verdict = {True: "met", False: "**not met**", None: ""}[figure.met]
        peer_value = (_number(figure.peer_value, figure.unit) if figure.peer else "")
        ours = figure.ours + (f" ({figure.note})" if figure.note else "")
        lines.append(f"| {figure.benchmark} | {ours} | {_number(figure.value, figure.unit)} | "
                     f"{figure.peer} | {peer_value} | {ratio} | {figure.goal} | {verdict} |")
    return "\n".join(lines)
