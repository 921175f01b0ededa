"""A small app on disk for orchestrator tests: content served by DevServer, and its manifests.

Sizes are small so that every lifecycle test runs in well under a second of transfer.
"""

from __future__ import annotations

import hashlib
import json
import textwrap
from dataclasses import dataclass, field
from pathlib import Path

KiB, MiB = 2**10, 2**20
APP_ID = "com.example.game"
GROUP = "group.com.example.game"


@dataclass
class Asset:
    id: str
    size: int
    essential: bool = False
    priority: int = 50
    catalog_size: int | None = None  # a wrong size in the catalog
    sha256: bool = True
    url: str | None = None

    def data(self) -> bytes:
        seed = hashlib.sha256(self.id.encode()).digest()
        return (seed * (self.size // len(seed) + 1))[: self.size]


@dataclass
class Scenario:
    root: Path
    assets: list[Asset]
    essential_allowance: int = 8 * MiB
    download_allowance: int = 32 * MiB
    allow: list[str] = field(default_factory=lambda: ["127.0.0.1"])
    rules: tuple[str, ...] = ('{destination: "assets/{filename}"}',)
    version: str = "1.0"
    allow_metered: bool = True
    extension_spec: str = ""  # more of the Extension's spec, as YAML lines under it
    max_install_size: str = "1GiB"
    essential_max_install_size: str = "64MiB"

    @property
    def content(self) -> Path:
        return self.root / "content"

    def write_content(self) -> None:
        folder = self.content / "game"
        folder.mkdir(parents=True, exist_ok=True)
        for asset in self.assets:
            (folder / f"{asset.id}.bin").write_bytes(asset.data())

    def write_manifests(self, base_url: str) -> Path:
        entries = []
        for a in self.assets:
            entry = {"id": a.id, "url": a.url or f"{a.id}.bin",
                     "size": a.catalog_size if a.catalog_size is not None else a.size,
                     "essential": a.essential, "priority": a.priority}
            if a.sha256:
                entry["sha256"] = hashlib.sha256(a.data()).hexdigest()
            entries.append(entry)
        catalog = json.dumps({"version": "1", "assets": entries})
        (self.content / "game").mkdir(parents=True, exist_ok=True)
        (self.content / "game" / "catalog.json").write_text(catalog)
        manifests = self.root / "manifests"
        manifests.mkdir(exist_ok=True)
        (manifests / "app.yaml").write_text(f"""\
apiVersion: bgassets/v1
kind: App
metadata: {{id: {APP_ID}, team: TEAM123456, name: Game}}
spec:
  version: "{self.version}"
  appGroup: {GROUP}
  manifestURL: {base_url}game/catalog.json
  size: 4MiB
  maxInstallSize: {self.max_install_size}
  essentialMaxInstallSize: {self.essential_max_install_size}
  initialDownloadRestrictions:
    downloadAllowance: {self.download_allowance}
    essentialDownloadAllowance: {self.essential_allowance}
    domainAllowList: {json.dumps(self.allow)}
  extension: extension.yaml
  networkPolicy: {{allowMetered: {str(self.allow_metered).lower()}}}
""")
        rule_lines = "\n".join(f"    - {rule}" for rule in self.rules)
        (manifests / "extension.yaml").write_text(f"""\
apiVersion: bgassets/v1
kind: Extension
metadata: {{id: {APP_ID}.downloader, app: {APP_ID}, team: TEAM123456}}
spec:
  appGroup: {GROUP}
  rules:
{rule_lines}
  onFailure: {{essential: reenqueue-nonessential, retries: 1}}
{textwrap.indent(self.extension_spec, "  ")}""")
        return manifests / "app.yaml"


class Recorder(list):
    """Collects events as dicts; subscribe it to ``Orchestrator.events``."""

    def __call__(self, event):
        self.append(event.as_dict())

    @property
    def events(self):
        return self

    def named(self, name):
        return [e for e in self if e["event"] == name]
