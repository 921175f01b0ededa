"""Two small apps served by a real DevServer, for the TUI's pilot and snapshot tests.

``game`` has one essential asset (the launch gate), two background ones with
different priorities and one purgeable cache file; ``news`` has background
assets only. Sizes are small so a whole install takes well under a second. With
``packs``, game also has managed asset packs, built by the real ``pack build``: an
essential ``tutorial``, a prefetch ``worlds`` and an on-demand ``hd``.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

from orchestrator.clock import SystemClock
from orchestrator.devserver import DevServer
from orchestrator.model.device import Device, Storage
from orchestrator.service import Orchestrator

KiB = 2**10
GAME, NEWS = "com.example.game", "com.example.news"
FIXED_NOW = 1_780_000_000.0  # 2026-05-28, a fixed clock for deterministic frames
GiB = 2**30
# A simulated disk, so that frames show the same storage numbers on every machine.
DEVICE = Device(storage=Storage(capacity=64 * GiB, reserve=2 * GiB, used=40 * GiB))


@dataclass(frozen=True)
class Asset:
    id: str
    size: int
    essential: bool = False
    priority: int = 50
    cache: bool = False

    def data(self) -> bytes:
        seed = hashlib.sha256(self.id.encode()).digest()
        return (seed * (self.size // len(seed) + 1))[: self.size]


APPS = {
    GAME: [Asset("tutorial", 256 * KiB, essential=True), Asset("level-1", 64 * KiB, priority=90),
           Asset("level-2", 64 * KiB, priority=10), Asset("thumbs", 32 * KiB, cache=True)],
    NEWS: [Asset("front-page", 48 * KiB, priority=80), Asset("archive", 96 * KiB)],
}


def short(app_id: str) -> str:
    return app_id.rsplit(".", 1)[-1]


def write_content(root: Path) -> Path:
    """Asset files and catalogs under ``root/content``; returns that folder."""
    content = root / "content"
    for app_id, assets in APPS.items():
        folder = content / short(app_id)
        folder.mkdir(parents=True, exist_ok=True)
        entries = []
        for asset in assets:
            (folder / f"{asset.id}.bin").write_bytes(asset.data())
            entries.append({"id": asset.id, "url": f"{asset.id}.bin", "size": asset.size,
                            "essential": asset.essential, "priority": asset.priority,
                            "sha256": hashlib.sha256(asset.data()).hexdigest()})
        (folder / "catalog.json").write_text(json.dumps({"version": "1", "assets": entries}))
    return content


def write_manifests(root: Path, base_url: str, version: str = "1.0",
                    max_install_size: str = "64MiB") -> list[Path]:
    """``root/manifests/<app>/app.yaml`` and ``extension.yaml`` for both apps."""
    paths = []
    for app_id in APPS:
        name = short(app_id)
        folder = root / "manifests" / name
        folder.mkdir(parents=True, exist_ok=True)
        group = f"group.{app_id}"
        (folder / "app.yaml").write_text(f"""\
apiVersion: bgassets/v1
kind: App
metadata: {{id: {app_id}, team: TEAM123456, name: {name.title()}}}
spec:
  version: "{version}"
  appGroup: {group}
  manifestURL: {base_url}{name}/catalog.json
  size: 1MiB
  maxInstallSize: {max_install_size}
  essentialMaxInstallSize: 1MiB
  initialDownloadRestrictions:
    downloadAllowance: 2MiB
    essentialDownloadAllowance: 1MiB
    domainAllowList: ["127.0.0.1"]
  extension: extension.yaml
""")
        (folder / "extension.yaml").write_text(f"""\
apiVersion: bgassets/v1
kind: Extension
metadata: {{id: {app_id}.downloader, app: {app_id}, team: TEAM123456}}
spec:
  appGroup: {group}
  rules:
    - match: {{id: thumbs}}
      destination: "Library/Caches/{{filename}}"
    - destination: "assets/{{filename}}"
  onFailure: {{essential: reenqueue-nonessential, retries: 1}}
""")
        paths.append(folder / "app.yaml")
    return paths


@dataclass
class Scene:
    """What a session built: the server, the running orchestrator and the manifests."""

    server: DevServer
    orchestrator: Orchestrator
    manifests: list[Path]


def with_packs(manifest: Path, base_url: str) -> None:
    """The app of ``manifest`` opts in to the packs :func:`write_packs` serves."""
    manifest.write_text(manifest.read_text()
                        + f"  assetPacks: {{manifestURL: {base_url}packs/packs.json}}\n")


def write_packs(root: Path, content: Path, version: str = "1") -> None:
    """Pack sources under ``root/source`` (``version`` changes one file of ``worlds``),
    built into ``content/packs``."""
    from tests.service.test_packs import build_packs, write_source

    write_source(root / "source", version)
    build_packs(root, content / "packs")


class FixedClock(SystemClock):
    """The machine's clock with its wall time pinned at ``FIXED_NOW``."""

    def time(self) -> float:
        return FIXED_NOW


@contextlib.asynccontextmanager
async def scene(root: Path, *, rate: int | None = None, fixed_clock: bool = True,
                max_install_size: str = "64MiB", packs: bool = False) -> AsyncIterator[Scene]:
    """DevServer on port 0 and an Orchestrator (one download at a time, fixed clock);
    with ``packs``, game's asset packs too."""
    content = write_content(root)
    if packs:
        write_packs(root, content)
    async with DevServer(content, rate_per_connection=rate) as server:
        manifests = write_manifests(root, server.url, max_install_size=max_install_size)
        if packs:
            with_packs(manifests[0], server.url)
        options = {"clock": FixedClock()} if fixed_clock else {}
        async with Orchestrator(root / "state", device=DEVICE, max_active=1,
                                **options) as orchestrator:
            yield Scene(server, orchestrator, manifests)


def manifest_paths(root: Path) -> list[Path]:
    """Where :func:`write_manifests` puts the app manifests (known before the server runs)."""
    return [root / "manifests" / short(app_id) / "app.yaml" for app_id in APPS]


@contextlib.asynccontextmanager
async def orchestrator_session(root: Path, packs: bool = False) -> AsyncIterator[Orchestrator]:
    """A session for an app that makes its own event loop (snapshot tests): yields the
    orchestrator of :func:`scene`."""
    async with scene(root, packs=packs) as built:
        yield built.orchestrator
