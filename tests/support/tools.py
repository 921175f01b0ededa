"""Find the external programs that integration tests need.

Outside CI a missing program skips the test; with ``CI=true`` it fails it, so
that a CI run cannot go green by silently testing less.
"""

from __future__ import annotations

import os
import shutil

import pytest

_SBIN = ["/usr/sbin", "/usr/local/sbin", "/sbin"]
_SEARCH_PATH = os.pathsep.join([os.environ.get("PATH", ""), *_SBIN])


def find_tool(name: str) -> str | None:
    """The absolute path of ``name``, looking in sbin folders too (nginx lives there)."""
    return shutil.which(name, path=_SEARCH_PATH)


def require_tool(name: str, *, installer: str = "apt-get") -> str:
    """The path of ``name``; skip the test when missing, or fail it under ``CI=true``.

    ``installer`` names what ``.ci/run`` installs it with, for the message.
    """
    path = find_tool(name)
    if path is None:
        message = f"{name} is not installed (.ci/run installs it with {installer})"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    return path
