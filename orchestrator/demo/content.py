"""Generate the demo assets that the example catalogs describe.

The catalogs in ``manifests/*/catalog.json`` pin each asset's exact size and
sha256, as a real server's catalog would. The bytes themselves are not
committed: they are a pure function of the example folder and the asset id
(SHAKE-128 in counter mode), so any machine can produce them offline in well
under a second per 100 MiB, and a changed generator shows up as a sha256
mismatch instead of a silently different demo.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

from orchestrator.errors import ManifestError

CHUNK = 1 << 20
CATALOG_NAME = "catalog.json"


def asset_chunks(seed: str, size: int) -> Iterator[bytes]:
    """The ``size`` bytes of the asset named by ``seed``, in chunks of at most 1 MiB."""
    for index, offset in enumerate(range(0, size, CHUNK)):
        block = hashlib.shake_128(f"{seed}#{index}".encode()).digest(min(CHUNK, size - offset))
        yield block


def _asset_seed(folder: str, asset_id: str) -> str:
    return f"{folder}/{asset_id}"


def _relative_path(url: str, where: str) -> Path:
    """The served path of a relative catalog URL, refusing anything that leaves the folder."""
    parts = urlsplit(url)
    if parts.scheme or parts.netloc or url.startswith("/"):
        raise ManifestError(f"{where}: demo asset URL {url!r} must be relative to the catalog")
    path = Path(parts.path)
    if ".." in path.parts or not path.parts:
        raise ManifestError(f"{where}: demo asset URL {url!r} leaves the catalog's folder")
    return path


def _write_asset(target: Path, seed: str, size: int) -> str:
    """Write one asset atomically and return its sha256."""
    digest = hashlib.sha256()
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = target.with_name(target.name + ".part")
    with open(staging, "wb") as out:
        for chunk in asset_chunks(seed, size):
            digest.update(chunk)
            out.write(chunk)
    os.replace(staging, target)
    return digest.hexdigest()


def _catalog_assets(catalog_path: Path) -> list[dict]:
    try:
        document = json.loads(catalog_path.read_text(encoding="utf-8"))
        assets = document["assets"]
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise ManifestError(f"{catalog_path}: not a readable catalog: {error}") from error
    return assets


def generate_content(manifests_dir: Path, out_dir: Path) -> list[Path]:
    """Produce every example folder's catalog and assets under ``out_dir``.

    ``out_dir/<folder>/catalog.json`` is a copy of the catalog and each asset
    lies at its URL relative to it, so that a server rooted at ``out_dir``
    serves each catalog at ``/<folder>/catalog.json``. Assets already present
    with the catalog's size are kept (a cheap check: the demo runs often);
    fresh ones are checked against the catalog's sha256. Returns the files
    written.
    """
    written: list[Path] = []
    for catalog_path in sorted(Path(manifests_dir).glob(f"*/{CATALOG_NAME}")):
        folder = catalog_path.parent.name
        target_dir = Path(out_dir) / folder
        target_dir.mkdir(parents=True, exist_ok=True)
        copy = target_dir / CATALOG_NAME
        data = catalog_path.read_bytes()
        if not copy.exists() or copy.read_bytes() != data:
            copy.write_bytes(data)
            written.append(copy)
        for index, asset in enumerate(_catalog_assets(catalog_path)):
            where = f"{catalog_path}: assets[{index}]"
            target = target_dir / _relative_path(asset["url"], where)
            size = int(asset["size"])
            if target.exists() and target.stat().st_size == size:
                continue
            sha256 = _write_asset(target, _asset_seed(folder, asset["id"]), size)
            if asset.get("sha256") not in (None, sha256):
                target.unlink()
                raise ManifestError(
                    f"{where}: generated content of {asset['id']!r} has sha256 {sha256}, the "
                    f"catalog says {asset['sha256']}; run `python -m orchestrator.demo --refresh`"
                )
            written.append(target)
    return written


def refresh_catalog(catalog_path: Path) -> None:
    """Rewrite the sha256 of every asset of a demo catalog from the generator."""
    document = json.loads(catalog_path.read_text(encoding="utf-8"))
    folder = catalog_path.parent.name
    for asset in document["assets"]:
        digest = hashlib.sha256()
        for chunk in asset_chunks(_asset_seed(folder, asset["id"]), int(asset["size"])):
            digest.update(chunk)
        asset["sha256"] = digest.hexdigest()
    catalog_path.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
