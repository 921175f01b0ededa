"""A real small file system for full-disk tests: a tmpfs mounted as root, and a filler."""

from __future__ import annotations

import errno
import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.service.scenario import Asset, Scenario


@contextmanager
def small_tmpfs(folder: Path, size: str = "2m") -> Iterator[Path]:
    """A tmpfs of ``size`` mounted at ``folder`` (made), unmounted afterwards.

    Skips without root or mount(8); under CI that is a failure, since a full disk
    cannot be tested otherwise.
    """
    folder.mkdir(parents=True, exist_ok=True)
    mounted = os.geteuid() == 0 and shutil.which("mount") is not None and subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)],
        capture_output=True).returncode == 0
    if not mounted:
        reason = "mounting a tmpfs needs root and mount(8)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{reason}: cannot test a full disk under CI")
        pytest.skip(reason)
    try:
        yield folder
    finally:
        if subprocess.run(["umount", str(folder)], capture_output=True).returncode != 0:
            subprocess.run(["umount", "-l", str(folder)], capture_output=True)


def fill(folder: Path, leave: int = 0) -> Path:
    """Write a file in ``folder`` until not one more byte fits, then give back ``leave``
    bytes; return its path.

    Down to single bytes, so that with ``leave=0`` even a journal page finds no room.
    """
    path = folder / "filler"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        for chunk in (256 * 1024, 4096, 1):
            try:
                while True:
                    os.write(fd, bytes(chunk))
            except OSError as error:
                assert error.errno == errno.ENOSPC
        if leave:
            os.ftruncate(fd, max(0, os.fstat(fd).st_size - leave))
    finally:
        os.close(fd)
    return path


def small_disk_scenario(root: Path, assets: list[Asset], **options: Any) -> Scenario:
    """A :class:`Scenario` whose app fits a small disk: an essentialMaxInstallSize of
    64 KiB, so that its install is not refused for space before anything downloads."""
    return Scenario(root, assets, essential_max_install_size="64KiB", **options)
