"""A pack project on disk (source files and three pack manifests) and the command."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from orchestrator.packs.build import SMALL_FILE

KiB = 1024


def bgassets(*args: str, **options) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "orchestrator", *args], capture_output=True,
                          text=True, timeout=120, **options)


def pack_manifest(folder: Path, pack_id: str, policy: str, selectors: str) -> Path:
    path = folder / f"{pack_id}.yaml"
    path.write_text(f"apiVersion: bgassets/v1\nkind: AssetPack\nmetadata: {{id: {pack_id}}}\n"
                    f"spec:\n  downloadPolicy: {policy}\n  files:\n"
                    + textwrap.indent(textwrap.dedent(selectors), "    "))
    return path


def data_for(name: str, size: int) -> bytes:
    seed = hashlib.sha256(name.encode()).digest()
    return (seed * (size // len(seed) + 1))[:size]


@pytest.fixture
def project(tmp_path):
    """A source folder with 300 small level files, big textures, a symlink; three packs."""
    source = tmp_path / "source"
    for index in range(300):
        path = source / "levels" / f"world-{index % 3}" / f"level-{index:03d}.level"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data_for(path.name, 1 + (index * 97) % (SMALL_FILE - 1)))
    (source / "textures").mkdir()
    for name, size in (("hd-a.tex", 300 * KiB), ("hd-b.tex", SMALL_FILE), ("draft.psd", 9)):
        (source / "textures" / name).write_bytes(data_for(name, size))
    (source / "tutorial.level").write_bytes(b"spawn 1 1\n")
    os.symlink("/etc/passwd", source / "levels" / "escape.level")
    packs = tmp_path / "packs"
    packs.mkdir()
    manifests = [
        pack_manifest(packs, "tutorial", "{essential: {installationEventTypes: "
                      "[firstInstallation]}}", "- file: tutorial.level\n"),
        pack_manifest(packs, "levels", "{prefetch: {installationEventTypes: "
                      "[firstInstallation, subsequentUpdate]}}", "- directory: levels\n"),
        pack_manifest(packs, "textures", "{onDemand: {}}", """\
            - directory: textures
              exclude: ["*.psd"]
            """),
    ]
    return source, manifests


def build(project, out: Path, *extra: str) -> dict:
    source, manifests = project
    result = bgassets("pack", "build", *map(str, manifests), "--source", str(source),
                      "--out", str(out), *extra)
    assert result.returncode == 0, result.stderr
    assert "built 3 packs" in result.stdout
    return json.loads((out / "packs.json").read_text())


def tree(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file()}
