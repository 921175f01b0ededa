"""What the built-in asset server of ``run`` (and ``daemon --serve-demo``) serves.

An app under DIR whose ``manifestURL`` names the built-in server (a loopback host
and run's ``--port``) gets its catalog from DIR at the URL's path, as a web server
rooted at DIR would serve it, and each asset of that catalog from the file at the
asset's URL path, next to the catalog. An asset with no such file is generated
when the catalog pins the bytes of the demo generator (the bundled examples ship
catalogs, not videos); any other missing file is an error that says where the
file belongs. Apps whose ``manifestURL`` names another server are fetched from
there, and when no app names the built-in server it is not started at all.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from urllib.parse import unquote, urlsplit

from orchestrator.errors import ManifestError

LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})


@dataclass
class LocalCatalog:
    """One app's catalog on the built-in server: where it is served and what it lists."""

    manifest: Path
    path: PurePosixPath
    assets: list[tuple[str, int, str | None, PurePosixPath]] = field(default_factory=list)


def served_path(url: str, port: int) -> PurePosixPath | None:
    """The path that ``url`` asks of the built-in server on ``port``, or None for others."""
    parts = urlsplit(url)
    try:
        url_port = parts.port or {"http": 80, "https": 443}.get(parts.scheme)
    except ValueError:
        return None
    if parts.scheme != "http" or parts.hostname not in LOOPBACK or url_port != port:
        return None
    return PurePosixPath(unquote(parts.path).lstrip("/"))


def _inside(path: PurePosixPath, where: str, url: str) -> PurePosixPath:
    if not path.parts or ".." in path.parts:
        raise ManifestError(f"{where}: {url} does not name a file the built-in server can "
                            "serve from DIR")
    return path


def local_catalogs(directory: Path, manifests: list[Path], port: int) -> list[LocalCatalog]:
    """The catalogs of the apps in ``manifests`` that the built-in server must serve."""
    from orchestrator.manifests import load_app, load_catalog

    found = []
    for manifest in manifests:
        app, _ = load_app(manifest)
        path = served_path(app.manifest_url, port)
        if path is None:
            continue
        path = _inside(path, f"{manifest}: spec.manifestURL", app.manifest_url)
        source = directory / path
        if not source.is_file():
            raise ManifestError(
                f"{manifest}: spec.manifestURL {app.manifest_url} names the built-in server, "
                f"which serves it from {source}: no such file; put the catalog there, or, if "
                f"another server has it, run `bgassets run {directory} --no-server`")
        catalog = load_catalog(source.read_bytes(), str(source), app.manifest_url)
        local = LocalCatalog(manifest, path)
        for index, asset in enumerate(catalog.assets):
            asset_path = served_path(asset.url, port)
            if asset_path is not None:
                where = f"{source}: assets[{index}] ({asset.id!r}) url"
                local.assets.append((asset.id, asset.size, asset.sha256,
                                     _inside(asset_path, where, asset.url)))
        found.append(local)
    return found


def _missing(directory: Path, catalogs: list[LocalCatalog]) -> bool:
    return any(not (directory / path).is_file()
               for catalog in catalogs for _, _, _, path in catalog.assets)


def _place(source: Path, target: Path) -> None:
    """The user's own file at ``target``: a hard link, or a copy across file systems."""
    with contextlib.suppress(FileNotFoundError):
        if target.samefile(source):
            return
        stat, mine = source.stat(), target.stat()
        if (stat.st_size, stat.st_mtime_ns) == (mine.st_size, mine.st_mtime_ns):
            return  # copied before and unchanged since
    target.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(FileNotFoundError):
        target.unlink()
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)


def _generate(directory: Path, catalog: LocalCatalog, out: Path) -> None:
    """Each asset of ``catalog`` under ``out``: the user's file, else the demo's bytes."""
    from orchestrator.demo.content import write_demo_asset

    source = directory / catalog.path
    _place(source, out / catalog.path)
    for asset_id, size, sha256, path in catalog.assets:
        mine, target = directory / path, out / path
        if mine.is_file():
            _place(mine, target)
            continue
        if sha256 is None:
            raise ManifestError(
                f"{source}: asset {asset_id!r} has no file at {mine}; put it there, or, if "
                f"another server has the catalog's files, run `bgassets run {directory} "
                "--no-server`")
        if target.is_file() and target.stat().st_size == size:
            continue  # generated before: a cheap check, the run starts often
        if write_demo_asset(target, source.parent.name, asset_id, size) != sha256:
            target.unlink()
            raise ManifestError(
                f"{source}: asset {asset_id!r} has no file at {mine} (and its sha256 is not "
                f"the demo generator's); put the file there, or, if another server has the "
                f"catalog's files, run `bgassets run {directory} --no-server`")


def prepare_content(directory: Path, manifests: list[Path], port: int,
                    out: Path) -> Path | None:
    """The folder the built-in server serves for ``manifests``, or None when no app needs it.

    DIR itself when every file is there; otherwise ``out``, filled with links to DIR's
    files and the generated demo assets.
    """
    catalogs = local_catalogs(directory, manifests, port)
    if not catalogs:
        return None
    if not _missing(directory, catalogs):
        return directory
    for catalog in catalogs:
        _generate(directory, catalog, out)
    return out
