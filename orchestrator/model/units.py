"""Byte sizes as people write them in manifests: ``600MiB``, ``1.5GB`` or a plain integer."""

from __future__ import annotations

import re

_UNITS = {
    "": 1, "B": 1,
    "KB": 10**3, "MB": 10**6, "GB": 10**9, "TB": 10**12,
    "KIB": 2**10, "MIB": 2**20, "GIB": 2**30, "TIB": 2**40,
}
# The same pattern as the schemas' size strings: spaces and tabs only (``\s`` differs between
# JavaScript and Python regexes), units in any case.
SIZE_PATTERN = r"^[ \t]*[0-9]+(\.[0-9]+)?[ \t]*([KkMmGgTt][Ii]?[Bb]|[Bb])?[ \t]*$"
_SIZE_RE = re.compile(r"^[ \t]*([0-9]+(?:\.[0-9]+)?)[ \t]*([A-Za-z]*)[ \t]*$")


def parse_size(value: int | str) -> int:
    """Return the number of bytes that ``value`` names.

    Integers are bytes. Strings take an SI (``KB``, ``MB``, ...) or binary
    (``KiB``, ``MiB``, ...) unit; fractions are rounded down to whole bytes.
    Raises ``ValueError`` with a message naming the value when it is not a size.
    """
    if type(value) is int and value >= 0:
        return value
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a size")
    if isinstance(value, int):
        if value < 0:
            raise ValueError(f"size {value} is negative")
        return value
    match = _SIZE_RE.match(str(value))
    unit = match.group(2).upper() if match else None
    if match is None or unit not in _UNITS:
        raise ValueError(f"{value!r} is not a size: use bytes or a unit such as 600MiB or 1.5GB")
    number = match.group(1)
    scale = _UNITS[unit]
    if "." in number:
        whole, frac = number.split(".")
        return int(whole) * scale + int(frac) * scale // 10 ** len(frac)
    return int(number) * scale


_BINARY_UNITS = ("B", "KiB", "MiB", "GiB", "TiB")


def format_size(size: int) -> str:
    """A short human form of a byte count, e.g. ``1.5 GiB``."""
    if size < 1024:
        return f"{size} B"
    # The unit from the bit length: one step per 10 bits (called for every rejection of a
    # 100,000-asset plan, so no loop of float divisions).
    step = min((int(size).bit_length() - 1) // 10, len(_BINARY_UNITS) - 1)
    return f"{size / (1 << (10 * step)):.1f} {_BINARY_UNITS[step]}"
