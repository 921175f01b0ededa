"""Apps on disk and a real `bgassets daemon` process for the CLI's client commands.

Each app's content (catalog and asset files) is served by a real DevServer, or
lies next to its manifests for ``run``'s built-in server. Assets whose id
starts with ``cache-`` land in the container's ``Library/Caches`` (purgeable),
the others in ``assets/``.
"""

from __future__ import annotations

import hashlib
import json
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

KiB, MiB = 2**10, 2**20


@dataclass(frozen=True)
class Asset:
    id: str
    size: int
    essential: bool = False
    priority: int = 50

    def data(self) -> bytes:
        seed = hashlib.sha256(self.id.encode()).digest()
        return (seed * (self.size // len(seed) + 1))[: self.size]


def write_content(folder: Path, assets: list[Asset]) -> None:
    """``folder/catalog.json`` and every asset file next to it."""
    folder.mkdir(parents=True, exist_ok=True)
    entries = []
    for asset in assets:
        (folder / f"{asset.id}.bin").write_bytes(asset.data())
        entries.append({"id": asset.id, "url": f"{asset.id}.bin", "size": asset.size,
                        "sha256": hashlib.sha256(asset.data()).hexdigest(),
                        "essential": asset.essential, "priority": asset.priority})
    (folder / "catalog.json").write_text(json.dumps({"version": "1", "assets": entries}))


def write_app(folder: Path, name: str, catalog_url: str, version: str = "1.0",
              allow_metered: bool = True) -> Path:
    """``folder/app.yaml`` and ``folder/extension.yaml`` of app ``com.example.<name>``."""
    app_id, group = f"com.example.{name}", f"group.com.example.{name}"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "app.yaml").write_text(f"""\
apiVersion: bgassets/v1
kind: App
metadata: {{id: {app_id}, team: TEAM123456, name: {name.title()}}}
spec:
  version: "{version}"
  appGroup: {group}
  manifestURL: {catalog_url}
  size: 1MiB
  maxInstallSize: 1GiB
  essentialMaxInstallSize: 64MiB
  initialDownloadRestrictions:
    downloadAllowance: 64MiB
    essentialDownloadAllowance: 8MiB
    domainAllowList: ["127.0.0.1"]
  extension: extension.yaml
  networkPolicy: {{allowMetered: {str(allow_metered).lower()}}}
""")
    (folder / "extension.yaml").write_text(f"""\
apiVersion: bgassets/v1
kind: Extension
metadata: {{id: {app_id}.downloader, app: {app_id}, team: TEAM123456}}
spec:
  appGroup: {group}
  rules:
    - match: {{id: "cache-*"}}
      destination: "Library/Caches/{{filename}}"
    - destination: "assets/{{filename}}"
  onFailure: {{essential: reenqueue-nonessential, retries: 1}}
""")
    return folder / "app.yaml"


def bgassets(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "orchestrator", *args], capture_output=True,
                          text=True, timeout=timeout)


@dataclass
class Daemon:
    """A running `bgassets daemon` on ``state`` and the CLI that talks to it."""

    state: Path
    process: subprocess.Popen

    def cli(self, *args: str) -> subprocess.CompletedProcess:
        """``bgassets COMMAND ARGS --state-dir STATE``: the global option after the command."""
        return bgassets(*args, "--state-dir", str(self.state))

    def json(self, *args: str) -> Any:
        result = self.cli(*args, "--json")
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout)

    def wait_for(self, predicate: Callable[[list[dict[str, Any]]], bool],
                 timeout: float = 30) -> list[dict[str, Any]]:
        """``downloads --json`` once ``predicate`` holds for its rows."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            rows = self.json("downloads")
            if predicate(rows):
                return rows
            time.sleep(0.1)
        raise AssertionError(f"condition not reached; last rows: {rows}")

    def app(self, app_id: str) -> dict[str, Any]:
        return next(app for app in self.json("status")["apps"] if app["app"] == app_id)


@contextmanager
def running_daemon(state: Path, *args: str) -> Iterator[Daemon]:
    """`bgassets daemon ARGS` on ``state`` until the block ends (then SIGTERM)."""
    process = subprocess.Popen(
        [sys.executable, "-m", "orchestrator", "daemon", *args, "--state-dir", str(state)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = process.stdout.readline()
        assert "listening on" in line, process.stderr.read()
        yield Daemon(state, process)
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=20)
