"""Files that ship inside the package: the JSON Schemas and the example manifests.

They are package data, found through ``importlib.resources`` the same way in
a checkout, an editable install, a wheel and an sdist. The repository's
top-level ``schemas/`` and ``manifests/`` are links to these folders, so the
examples' modelines (``../../schemas/app.schema.json``) resolve both in a
checkout and inside an installed package.
"""

from __future__ import annotations

import atexit
import contextlib
from functools import cache
from importlib import resources
from pathlib import Path

KINDS = ("app", "extension", "device", "catalog", "assetpack", "scenario")
# The port of the local asset server that the examples' manifestURLs name, and
# the default of `bgassets serve`, `run` and `init`.
EXAMPLES_PORT = 8470
# Host names of this machine that the built-in asset server answers on.
LOOPBACK_HOSTS = ("127.0.0.1", "localhost")


@cache
def _root() -> Path:
    """This package's folder on disk (extracted for the process's lifetime if zipped)."""
    traversable = resources.files(__name__)
    if isinstance(traversable, Path):
        return traversable
    stack = contextlib.ExitStack()
    atexit.register(stack.close)
    return stack.enter_context(resources.as_file(traversable))


def schemas_dir() -> Path:
    """The folder holding ``<kind>.schema.json`` for every document kind."""
    return _root() / "schemas"


def schema_path(kind: str) -> Path:
    """The schema file of ``kind`` (app, extension, device, catalog, assetpack)."""
    return schemas_dir() / f"{kind}.schema.json"


def manifests_dir() -> Path:
    """The example apps (``<app>/app.yaml`` …) and the ``devices/`` profiles."""
    return _root() / "manifests"


def default_device() -> Path:
    """The Device profile used when none is given: nothing holds downloads back."""
    return manifests_dir() / "devices" / "default.yaml"
