"""The files of a new app folder: ``bgassets init DIR``.

A scaffold is a complete, valid app: App and Extension manifests, a catalog
with one essential asset whose size and sha256 are exact, that asset's file,
the schemas and VS Code settings, with modelines relative to the folder. Or it
is a copy of one of the bundled examples, with its modelines rewritten to
point at the copied schemas.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from orchestrator.bundled import LOOPBACK_HOSTS, manifests_dir
from orchestrator.bundled.editor import (
    MODELINE_PREFIX,
    modeline,
    relative_to,
    vscode_settings,
    write_file,
    write_schemas,
)

WELCOME = "Hello from bgassets: this file was downloaded before the app's first launch.\n"
_MODELINE = re.compile(rf"^{re.escape(MODELINE_PREFIX)}\S*?([a-z]+)\.schema\.json\s*$")


@dataclass(frozen=True)
class Identity:
    """Who the new app is: its bundle id, team and display name."""

    app_id: str
    team: str
    name: str
    manifest_url: str


def slug(folder: Path) -> str:
    """A bundle-id segment from a folder name: ``My Game`` -> ``my-game``."""
    text = re.sub(r"[^a-z0-9-]+", "-", folder.resolve().name.lower()).strip("-")
    return text if text and text[0].isalpha() else f"app-{text}".rstrip("-")


def example_names() -> list[str]:
    """The bundled examples that ``init --example`` can copy."""
    return sorted(path.parent.name for path in manifests_dir().glob("*/app.yaml"))


def planned_files(folder: Path, schemas: Path, example: str | None) -> list[Path]:
    """Every file a scaffold writes, so existing ones can be refused before any is written."""
    names = ["app.yaml", "extension.yaml", "catalog.json", ".vscode/settings.json"]
    if example is None:
        names.append("files/welcome.txt")
    return [folder / name for name in names] + [schemas / "index.json"]


def scaffold(folder: Path, schemas: Path, identity: Identity, example: str | None) -> list[Path]:
    """Write the new app into ``folder`` and the schemas into ``schemas``; the paths written."""
    written = write_schemas(schemas)
    pointer = relative_to(schemas, folder)
    if example is None:
        written += _new_app(folder, pointer, identity)
    else:
        written += _copy_example(folder, pointer, example)
    settings = json.dumps(vscode_settings(pointer), indent=2) + "\n"
    written.append(write_file(folder / ".vscode" / "settings.json", settings))
    return written


def _new_app(folder: Path, pointer: str, identity: Identity) -> list[Path]:
    welcome = WELCOME.encode()
    catalog = {
        "$schema": f"{pointer}/catalog.schema.json",
        "version": "1",
        "assets": [{
            "id": "welcome",
            "url": "files/welcome.txt",
            "size": len(welcome),
            "sha256": hashlib.sha256(welcome).hexdigest(),
            "essential": True,
            "priority": 50,
        }],
    }
    return [
        write_file(folder / "app.yaml", _app_yaml(pointer, identity)),
        write_file(folder / "extension.yaml", _extension_yaml(pointer, identity)),
        write_file(folder / "catalog.json", json.dumps(catalog, indent=2) + "\n"),
        write_file(folder / "files" / "welcome.txt", WELCOME),
    ]


def _app_yaml(pointer: str, identity: Identity) -> str:
    return f"""{modeline("app", pointer)}
{_serving_hint(identity)}
apiVersion: bgassets/v1
kind: App
metadata:
  id: {identity.app_id}
  team: {identity.team}
  name: {json.dumps(identity.name)}
spec:
  version: "1.0"
  appGroup: group.{identity.app_id}
  manifestURL: {identity.manifest_url}
  # The download size of the app itself, counted into install progress.
  size: 16MiB
  initialDownloadRestrictions:
    # Until the first launch: non-essential bytes (the catalog counts too) ...
    downloadAllowance: 64MiB
    # ... essential bytes, and the hosts downloads may come from.
    essentialDownloadAllowance: 16MiB
    domainAllowList: {json.dumps(_allowed_hosts(identity.manifest_url))}
  extension: extension.yaml
"""


def _serving_hint(identity: Identity) -> str:
    """Comment lines that say how manifestURL gets served."""
    url = urlsplit(identity.manifest_url)
    if url.hostname not in LOOPBACK_HOSTS:
        return (f"# {identity.name}: publish catalog.json and files/ so that manifestURL "
                "serves them, then:\n#   bgassets simulate install app.yaml")
    return (f"# {identity.name}: serve the folder that holds this one on its port,\n"
            f"#   bgassets serve .. --port {url.port or 80}\n"
            "# then, in another terminal:\n#   bgassets simulate install app.yaml")


def _allowed_hosts(manifest_url: str) -> list[str]:
    """The catalog's host, plus localhost's other name when it is the loopback."""
    host = urlsplit(manifest_url).hostname or "127.0.0.1"
    return list(LOOPBACK_HOSTS) if host in LOOPBACK_HOSTS else [host]


def _extension_yaml(pointer: str, identity: Identity) -> str:
    return f"""{modeline("extension", pointer)}
# Downloads every catalog asset not already present, essential when the catalog
# says so, into the app group container under assets/.
apiVersion: bgassets/v1
kind: Extension
metadata:
  id: {identity.app_id}.downloader
  app: {identity.app_id}
  team: {identity.team}
spec:
  appGroup: group.{identity.app_id}
  skipPresent: true
  rules:
    - match: {{id: "*"}}
      download: true
      essential: catalog
      priority: catalog
      destination: assets/{{filename}}
  onFailure:
    # A failed essential download is fetched again later in the background.
    essential: reenqueue-nonessential
    retries: 3
"""


def _copy_example(folder: Path, pointer: str, example: str) -> list[Path]:
    source = manifests_dir() / example
    written = []
    for name in ("app.yaml", "extension.yaml"):
        text = (source / name).read_text(encoding="utf-8")
        written.append(write_file(folder / name, _repoint(text, pointer)))
    catalog = json.loads((source / "catalog.json").read_text(encoding="utf-8"))
    catalog = {"$schema": f"{pointer}/catalog.schema.json", **catalog}
    written.append(write_file(folder / "catalog.json", json.dumps(catalog, indent=2) + "\n"))
    return written


def _repoint(text: str, pointer: str) -> str:
    """``text`` with its modeline pointing into ``pointer``."""
    first, _, rest = text.partition("\n")
    match = _MODELINE.match(first)
    if match is None:
        return text
    return f"{modeline(match.group(1), pointer)}\n{rest}"
