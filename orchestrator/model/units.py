"""Byte sizes as people write them in manifests: ``600MiB``, ``1.5GB`` or a plain integer."""

from __future__ import annotations

import math
import re

_UNITS = {
    "": 1, "B": 1,
    "KB": 10**3, "MB": 10**6, "GB": 10**9, "TB": 10**12,
    "KIB": 2**10, "MIB": 2**20, "GIB": 2**30, "TIB": 2**40,
}
# The largest size anything accepts: 8 EiB, what a signed 64-bit integer (the journal's
# SQLite columns, file offsets) can hold.
MAX_SIZE = 2**63 - 1
_SIZE_RE = re.compile(r"^[ \t]*([0-9]+(?:\.[0-9]+)?)[ \t]*([A-Za-z]*)[ \t]*$")


def parse_size(value: int | float | str) -> int:
    """Return the number of bytes that ``value`` names.

    Integers are bytes (so are integral floats such as ``1024.0``, integers to JSON
    Schema). Strings take an SI (``KB``, ``MB``, ...) or binary (``KiB``, ``MiB``, ...)
    unit; fractions are rounded down to whole bytes. Raises ``ValueError`` with a
    message naming the value when it is not a size or is larger than ``MAX_SIZE``.
    """
    if type(value) is int and 0 <= value <= MAX_SIZE:
        return value
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a size")
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        value = int(value)
    if isinstance(value, int):
        if value < 0:
            raise ValueError(f"size {_shown(value)} is negative")
        return _bounded(value, value)
    text = str(value)
    match = _SIZE_RE.match(text)
    unit = match.group(2).upper() if match else None
    if match is None or unit not in _UNITS:
        raise ValueError(f"{_shown(value)} is not a size: use bytes or a unit such as 600MiB "
                         "or 1.5GB")
    number = match.group(1)
    whole, _, frac = number.partition(".")
    if len(whole.lstrip("0")) > 20:  # more than MAX_SIZE bytes in any unit
        return _bounded(MAX_SIZE + 1, value)
    scale = _UNITS[unit]
    frac = frac[:4000]  # Python reads no longer integers; far finer than a byte anyway
    extra = int(frac) * scale // 10 ** len(frac) if frac else 0
    return _bounded(int(whole) * scale + extra, value)


def _bounded(size: int, value: object) -> int:
    if size > MAX_SIZE:
        raise ValueError(f"{_shown(value)} is too large a size: at most {MAX_SIZE} bytes "
                         "(8 EiB)")
    return size


def _shown(value: object) -> str:
    text = repr(value) if isinstance(value, str) else str(value) if not isinstance(
        value, int) or value.bit_length() < 200 else f"a {len(str(value))}-digit number"
    return text if len(text) <= 60 else text[:57] + "..."


_BINARY_UNITS = ("B", "KiB", "MiB", "GiB", "TiB")


def format_size(size: int) -> str:
    """A short human form of a byte count, e.g. ``1.5 GiB``."""
    if size < 1024:
        return f"{size} B"
    # The unit from the bit length: one step per 10 bits (called for every rejection of a
    # 100,000-asset plan, so no loop of float divisions).
    step = min((int(size).bit_length() - 1) // 10, len(_BINARY_UNITS) - 1)
    scale = 1 << (10 * step)
    if size.bit_length() > 1000:  # beyond a float: whole units, in integers
        return f"{size // scale} {_BINARY_UNITS[step]}"
    return f"{size / scale:.1f} {_BINARY_UNITS[step]}"
