"""What the built-in asset server of ``run``, ``daemon --serve-demo`` and ``scenario run`` serves.

An app under DIR whose ``manifestURL`` names the built-in server (a loopback host
and run's ``--port``) gets its catalog from DIR at the URL's path, as a web server
rooted at DIR would serve it, and each asset of that catalog from the file at the
asset's URL path, next to the catalog. An asset with no such file is generated
when its size and sha256 are those of an asset of a bundled example (the examples
ship catalogs, not videos), from that example's seed, so an example copied under
another folder name gets the same bytes; any other missing file is an error that
says where the file belongs, before anything is written. Apps whose
``manifestURL`` names another server are fetched from there, and when no app
names the built-in server it is not started at all.

An app whose ``spec.assetPacks.manifestURL`` names the built-in server gets its pack
catalog and objects from DIR at that URL's folder when ``packs.json`` is there; else,
when the app's folder has AssetPack manifests in ``packs/`` and their files in
``pack-source/``, they are built (``pack build``) into the served folder as it starts.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlsplit

from orchestrator.bundled import LOOPBACK_HOSTS
from orchestrator.errors import ManifestError

if TYPE_CHECKING:
    from orchestrator.demo.content import ExampleAsset


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
    if parts.scheme != "http" or parts.hostname not in LOOPBACK_HOSTS or url_port != port:
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


@dataclass(frozen=True)
class GeneratedAsset:
    """An asset of DIR's catalogs without a file: the bundled example asset it is."""

    catalog: Path
    asset_id: str
    size: int
    sha256: str
    path: PurePosixPath
    mine: Path
    example: ExampleAsset

    def write(self, target: Path) -> None:
        """Generate it at ``target``, unless a file of its size is there already."""
        if target.is_file() and target.stat().st_size == self.size:
            return  # generated before: a cheap check, the run starts often
        if self.example.write(target, self.size) != self.sha256:
            target.unlink()
            raise ManifestError(
                f"{self.catalog}: asset {self.asset_id!r}: the bytes generated for the bundled "
                f"example's {self.example.folder}/{self.example.asset_id} do not match its "
                f"sha256; put the file at {self.mine}")


@dataclass(frozen=True)
class PackBuild:
    """An app's asset packs, built from its folder's ``packs/`` and ``pack-source/`` into
    the served folder ``path`` (where its pack catalog URL points)."""

    manifests: tuple[Path, ...]
    source: Path
    path: PurePosixPath

    def write(self, out: Path) -> None:
        from orchestrator.manifests.documents import load_packs
        from orchestrator.packs.build import build

        packs, selection = load_packs(self.manifests, self.source)
        build(packs, selection, self.source, out / self.path)


@dataclass
class ServedContent:
    """What the built-in server serves for DIR's apps, decided before a file is written."""

    directory: Path
    files: list[tuple[PurePosixPath, Path]] = field(default_factory=list)
    generated: list[GeneratedAsset] = field(default_factory=list)
    packs: list[PackBuild] = field(default_factory=list)

    def root(self, out: Path) -> Path:
        """The folder to serve: DIR itself when every file is there; otherwise ``out``,
        filled with links to DIR's files, the generated assets and the built packs.
        Writing in ``out`` is for the holder of its state dir only (see ``session``)."""
        if not self.generated and not self.packs:
            return self.directory
        for path, source in self.files:
            _place(source, out / path)
        for asset in self.generated:
            asset.write(out / asset.path)
        for build in self.packs:
            build.write(out)
        return out


def _missing_file(source: Path, asset_id: str, mine: Path, directory: Path) -> ManifestError:
    return ManifestError(
        f"{source}: asset {asset_id!r} has no file at {mine}; put it there, or, if another "
        f"server has the catalog's files, run `bgassets run {directory} --no-server`")


def plan_content(directory: Path, manifests: list[Path], port: int) -> ServedContent | None:
    """What the built-in server must serve for ``manifests``, or None when no app needs it.

    Raises :class:`ManifestError` for the first file that is neither in DIR nor an asset
    of a bundled example, without writing anything.
    """
    from orchestrator.bundled import manifests_dir
    from orchestrator.demo.content import example_assets

    catalogs = local_catalogs(directory, manifests, port)
    pack_paths = {m: path for m in manifests if (path := _pack_path(m, port)) is not None}
    if not catalogs and not pack_paths:
        return None
    examples = example_assets(manifests_dir())
    content = ServedContent(directory)
    content.packs = _pack_builds(directory, pack_paths, content)
    for catalog in catalogs:
        source = directory / catalog.path
        content.files.append((catalog.path, source))
        for asset_id, size, sha256, path in catalog.assets:
            mine = directory / path
            if mine.is_file():
                content.files.append((path, mine))
                continue
            if sha256 is None or (example := examples.get((size, sha256))) is None:
                raise _missing_file(source, asset_id, mine, directory)
            content.generated.append(GeneratedAsset(source, asset_id, size, sha256, path,
                                                    mine, example))
    return content


def _pack_path(manifest: Path, port: int) -> PurePosixPath | None:
    """Where the built-in server serves the app's pack catalog, if it does."""
    from orchestrator.manifests import load_app

    app, _ = load_app(manifest)
    if app.pack_catalog_url is None:
        return None
    path = served_path(app.pack_catalog_url, port)
    if path is None:
        return None
    return _inside(path, f"{manifest}: spec.assetPacks.manifestURL", app.pack_catalog_url)


def _pack_builds(directory: Path, pack_paths: dict[Path, PurePosixPath],
                 content: ServedContent) -> list[PackBuild]:
    """The pack catalogs to serve (``pack_paths``: where each app's is served): DIR's own
    (with its objects), or built from the app's ``packs/`` manifests and
    ``pack-source/``; a ManifestError says what is missing."""
    builds = []
    for manifest, path in pack_paths.items():
        mine = directory / path
        if mine.is_file():
            content.files.append((path, mine))
            objects = mine.parent / "objects"
            for found in sorted(objects.rglob("*")) if objects.is_dir() else []:
                if found.is_file():
                    content.files.append((path.parent / found.relative_to(mine.parent)
                                          .as_posix(), found))
            continue
        packs = tuple(sorted((manifest.parent / "packs").glob("*.yaml")))
        source = manifest.parent / "pack-source"
        if not packs or not source.is_dir():
            raise ManifestError(
                f"{manifest}: spec.assetPacks.manifestURL names the built-in server, which "
                f"serves it from {mine}: no such file, and no packs/*.yaml with a "
                f"pack-source/ folder next to the manifest to build it from")
        if path.name != "packs.json":
            raise ManifestError(f"{manifest}: spec.assetPacks.manifestURL must end in "
                                "packs.json for the built-in server to build the packs")
        builds.append(PackBuild(packs, source, path.parent))
    return builds
