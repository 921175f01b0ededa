"""What the daemon tests share: a state dir with a short path.

A Unix socket's path has a limit of about 100 bytes, which pytest's ``tmp_path`` can pass,
so the daemons here keep their state in a short folder of the system's temp dir. It is
removed after the test, since a daemon's state holds whole downloaded files.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture
def short_state() -> Iterator[Path]:
    state = Path(tempfile.mkdtemp(prefix="bgc-"))
    try:
        yield state
    finally:
        shutil.rmtree(state, ignore_errors=True)
