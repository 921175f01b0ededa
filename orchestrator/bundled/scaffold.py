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
from urllib.parse import quote, urljoin, urlsplit

import yaml

from orchestrator.bundled import EXAMPLES_PORT, LOOPBACK_HOSTS, manifests_dir, schema_path
from orchestrator.bundled.editor import (
    MODELINE_PREFIX,
    modeline,
    relative_to,
    schema_files,
    vscode_settings,
)
from orchestrator.model.hosts import allow_entry_problem

WELCOME = "Hello from bgassets: this file was downloaded before the app's first launch.\n"
_MODELINE = re.compile(rf"^{re.escape(MODELINE_PREFIX)}\S*?([a-z]+)\.schema\.json\s*$")


@dataclass(frozen=True)
class Identity:
    """Who the new app is: its bundle id, team, display name and catalog URL."""

    app_id: str
    team: str
    name: str
    manifest_url: str


def slug(folder: Path) -> str:
    """A bundle-id segment from a folder name: ``My Game`` -> ``my-game``."""
    text = re.sub(r"[^a-z0-9-]+", "-", folder.resolve().name.lower()).strip("-")
    return text if text and text[0].isalpha() else f"app-{text}".rstrip("-")


def default_manifest_url(folder: Path) -> str:
    """Where ``bgassets serve`` of the folder's parent, on the examples' port, serves it."""
    return f"http://127.0.0.1:{EXAMPLES_PORT}/{quote(folder.resolve().name)}/catalog.json"


def example_names() -> list[str]:
    """The bundled examples that ``init --example`` can copy."""
    return sorted(path.parent.name for path in manifests_dir().glob("*/app.yaml"))


def example_identity(example: str) -> Identity:
    """The identity a bundled example declares."""
    app = yaml.safe_load((manifests_dir() / example / "app.yaml").read_text(encoding="utf-8"))
    metadata, spec = app["metadata"], app["spec"]
    return Identity(metadata["id"], metadata["team"], metadata.get("name", metadata["id"]),
                    spec["manifestURL"])


def identity_problem(identity: Identity) -> str | None:
    """What in ``identity`` the App schema or the allow-list rules would refuse, if anything."""
    schema = json.loads(schema_path("app").read_text(encoding="utf-8"))
    definitions = schema["$defs"]
    url_pattern = schema["properties"]["spec"]["properties"]["manifestURL"]["pattern"]
    checks = (
        ("--id", identity.app_id, definitions["bundleId"]["pattern"],
         "is not a reverse-DNS id such as com.example.my-game"),
        ("--team", identity.team, definitions["team"]["pattern"],
         "is not ten upper-case letters or digits"),
        ("--manifest-url", identity.manifest_url, url_pattern,
         "is not an http(s) URL with a host and a path"),
    )
    for option, value, pattern, why in checks:
        if "\n" in value or not re.search(pattern, value):
            return f"{option}: {value!r} {why}"
    if any(ord(character) < 32 for character in identity.name):
        return f"--name: {identity.name!r} holds a control character"
    host = urlsplit(identity.manifest_url).hostname or ""
    problem = allow_entry_problem(host)
    return f"--manifest-url: {problem}" if problem else None


def scaffold_files(folder: Path, schemas: Path, identity: Identity,
                   example: str | None) -> dict[Path, str]:
    """Every file of the scaffold (path -> text): the app, its schemas, its editor settings."""
    pointer = relative_to(schemas, folder)
    files = schema_files(schemas)
    if example is None:
        files.update(_new_app(folder, pointer, identity))
    else:
        files.update(_copied_example(folder, pointer, example, identity))
    settings = json.dumps(vscode_settings(pointer), indent=2) + "\n"
    files[folder / ".vscode" / "settings.json"] = settings
    return files


def conflicts(files: dict[Path, str]) -> list[Path]:
    """The files that exist with other content than the scaffold's (identical ones are fine)."""
    found = []
    for path, text in files.items():
        try:
            if path.read_text(encoding="utf-8") != text:
                found.append(path)
        except (FileNotFoundError, NotADirectoryError):
            continue
        except (OSError, UnicodeDecodeError):
            found.append(path)
    return found


def _new_app(folder: Path, pointer: str, identity: Identity) -> dict[Path, str]:
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
    return {
        folder / "app.yaml": _app_yaml(pointer, identity),
        folder / "extension.yaml": _extension_yaml(pointer, identity),
        folder / "catalog.json": json.dumps(catalog, indent=2) + "\n",
        folder / "files" / "welcome.txt": WELCOME,
    }


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


def _copied_example(folder: Path, pointer: str, example: str,
                    identity: Identity) -> dict[Path, str]:
    """The example's manifests with this app's identity, URL and modelines; its catalog."""
    source = manifests_dir() / example
    own = example_identity(example)
    files = {}
    for name in ("app.yaml", "extension.yaml"):
        text = _repoint((source / name).read_text(encoding="utf-8"), pointer)
        text = text.replace(own.app_id, identity.app_id).replace(own.team, identity.team)
        if name == "app.yaml":
            text = _set_line(text, "manifestURL", identity.manifest_url)
            text = _set_line(text, "domainAllowList",
                             json.dumps(_allowed_hosts(identity.manifest_url)))
            if identity.name != own.name:
                text = _set_line(text, "name", json.dumps(identity.name))
        files[folder / name] = text
    catalog = json.loads((source / "catalog.json").read_text(encoding="utf-8"))
    catalog = {"$schema": f"{pointer}/catalog.schema.json", **catalog}
    files[folder / "catalog.json"] = json.dumps(catalog, indent=2) + "\n"
    if (source / "packs").is_dir():
        files.update(_copied_packs(source, folder, pointer))
        app = folder / "app.yaml"  # its pack catalog next to its catalog
        files[app] = re.sub(r"^(    manifestURL:[ \t]*).*$", lambda match: match.group(1)
                            + urljoin(identity.manifest_url, "packs/packs.json"), files[app],
                            count=1, flags=re.MULTILINE)
    return files


def _copied_packs(source: Path, folder: Path, pointer: str) -> dict[Path, str]:
    """An example's asset packs: its pack manifests (modelines one folder deeper) and
    their source files."""
    deeper = pointer if pointer.startswith("/") else "../" + pointer.removeprefix("./")
    files = {folder / "packs" / path.name: _repoint(path.read_text(encoding="utf-8"), deeper)
             for path in sorted((source / "packs").glob("*.yaml"))}
    base = source / "pack-source"
    for path in sorted(base.rglob("*")):
        if path.is_file():
            files[folder / "pack-source" / path.relative_to(base)] = path.read_text(
                encoding="utf-8")
    return files


def _set_line(text: str, key: str, value: str) -> str:
    """``text`` with the value of its first ``key:`` line replaced by ``value``."""
    pattern = re.compile(rf"^(\s*{key}:[ \t]*).*$", re.MULTILINE)
    return pattern.sub(lambda match: match.group(1) + value, text, count=1)


def _repoint(text: str, pointer: str) -> str:
    """``text`` with its modeline pointing into ``pointer``."""
    first, _, rest = text.partition("\n")
    match = _MODELINE.match(first)
    if match is None:
        return text
    return f"{modeline(match.group(1), pointer)}\n{rest}"
