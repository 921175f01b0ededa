"""Positions in JSON text, found only when a problem must be reported.

Parsing with positions for every node would cost seconds on a large catalog;
instead the text is walked along one path, skipping siblings with the C
decoder's ``raw_decode``, which is as fast as parsing the document once.
"""

from __future__ import annotations

import json
import re

from orchestrator.manifests.problems import PathTuple, position

_SPACE = re.compile(r"[ \t\n\r]*")
_DECODER = json.JSONDecoder()


class JsonLocator:
    """Positions of values and keys in JSON ``text``, as 1-based (line, column)."""

    def __init__(self, text: str) -> None:
        self.text = text

    def value(self, path: PathTuple) -> tuple[int, int]:
        """Where the value at ``path`` is, or its deepest existing ancestor."""
        return position(self.text, self._walk(path)[0])

    def key(self, path: PathTuple) -> tuple[int, int]:
        """Where the key naming ``path`` is; the value's position when it has no key."""
        value_at, key_at = self._walk(path)
        return position(self.text, key_at if key_at is not None else value_at)

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
        index = self._skip(index + 1)
        count = 0
        while text[index] not in "]}":
            key_at = None
            if opener == "{":
                key_at = index
                key, index = _DECODER.raw_decode(text, index)
                index = self._skip(self._skip(index) + 1)  # the ':'
            if (key if opener == "{" else count) == part:
                return index, key_at
            _, index = _DECODER.raw_decode(text, index)
            index = self._skip(index)
            if text[index] == ",":
                index = self._skip(index + 1)
            count += 1
        return None
