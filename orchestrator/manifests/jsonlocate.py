"""Positions in JSON text, found only when a problem must be reported.

Parsing with positions for every node would cost seconds on a large catalog;
instead the text is walked along one path, skipping siblings with the C
decoder's ``raw_decode``, which is as fast as parsing the document once.
The offsets of a list's items and of the text's lines are kept once found,
so that locating thousands of problems in one list (duplicate ids) costs one
walk of it, not one walk per problem.
"""

from __future__ import annotations

import bisect
import json
import re

from orchestrator.manifests.problems import PathTuple

_SPACE = re.compile(r"[ \t\n\r]*")
_DECODER = json.JSONDecoder()


class JsonLocator:
    """Positions of values and keys in JSON ``text``, as 1-based (line, column).

    Given the file's UTF-8 bytes instead, the text is decoded only when a position is
    asked for: the caller holds the bytes anyway, and a decoded copy kept for a valid
    document would be as large again (188 MB for 1,000,000 assets).
    """

    def __init__(self, text: str | bytes) -> None:
        self._text = text
        self._newlines: list[int] | None = None
        self._items: dict[int, list[int]] = {}

    @property
    def text(self) -> str:
        """The JSON text, decoded from the bytes on first use."""
        if isinstance(self._text, bytes):
            self._text = self._text.decode("utf-8-sig")
        return self._text

    def value(self, path: PathTuple) -> tuple[int, int]:
        """Where the value at ``path`` is, or its deepest existing ancestor."""
        return self._position(self._walk(path)[0])

    def key(self, path: PathTuple) -> tuple[int, int]:
        """Where the key naming ``path`` is; the value's position when it has no key."""
        value_at, key_at = self._walk(path)
        return self._position(key_at if key_at is not None else value_at)

    def _position(self, offset: int) -> tuple[int, int]:
        if self._newlines is None:
            self._newlines = [match.start() for match in re.finditer("\n", self.text)]
        line = bisect.bisect_left(self._newlines, offset)
        start = self._newlines[line - 1] + 1 if line else 0
        return line + 1, offset - start + 1

    def _skip(self, index: int) -> int:
        match = _SPACE.match(self.text, index)
        return match.end() if match else index

    def _walk(self, path: PathTuple) -> tuple[int, int | None]:
        index, key_at = self._skip(0), None
        try:
            for part in path:
                found = self._child(index, part)
                if found is None:
                    return index, None
                index, key_at = found
        except (ValueError, IndexError):
            pass
        return index, key_at

    def _child(self, index: int, part: str | int) -> tuple[int, int | None] | None:
        text = self.text
        opener = text[index]
        if opener not in "[{" or isinstance(part, int) != (opener == "["):
            return None
        if opener == "[":
            items = self._list_items(index)
            return (items[part], None) if isinstance(part, int) and 0 <= part < len(
                items) else None
        index = self._skip(index + 1)
        while text[index] != "}":
            key_at = index
            key, index = _DECODER.raw_decode(text, index)
            index = self._skip(self._skip(index) + 1)  # the ':'
            if key == part:
                return index, key_at
            _, index = _DECODER.raw_decode(text, index)
            index = self._skip(index)
            if text[index] == ",":
                index = self._skip(index + 1)
        return None

    def _list_items(self, index: int) -> list[int]:
        """The offsets of the items of the list opening at ``index``, found once."""
        items = self._items.get(index)
        if items is None:
            text, items = self.text, []
            at = self._skip(index + 1)
            while text[at] != "]":
                items.append(at)
                _, at = _DECODER.raw_decode(text, at)
                at = self._skip(at)
                if text[at] == ",":
                    at = self._skip(at + 1)
            self._items[index] = items
        return items
