"""``bgassets pack build PACK.yaml... --source DIR --out OUT``: what a host serves for packs."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from orchestrator.errors import UsageError

REDRAW_INTERVAL = 0.1


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "pack",
        help="build managed asset packs into what a static host or CDN serves",
        description="Managed asset packs: 'pack build' turns AssetPack manifests and the "
        "files they select into a pack catalog (packs.json) and content-addressed objects.",
    )
    actions = parser.add_subparsers(dest="pack_action", metavar="ACTION", required=True)
    build = actions.add_parser(
        "build", help="write packs.json and the objects of the given packs",
        description="Select each pack's files in --source, then write OUT/packs.json (per "
        "pack: id, version, policy, download and installed size, files with path, size and "
        "sha256) and OUT/objects/ (one object per file of 64 KiB or more, small files "
        "grouped in bundles of about 4 MiB, each named by its sha256). The same input "
        "gives byte-identical output; objects already in OUT are kept. Serve OUT with "
        "'bgassets serve OUT' or any static host, and name OUT/packs.json in the App's "
        "spec.assetPacks.manifestURL.",
        epilog="Exit codes: 0 built, 1 a manifest or selector problem (FILE:LINE:COL: "
        "message lines, nothing written), 2 usage error.")
    build.add_argument("packs", nargs="+", metavar="PACK.yaml",
                       help="AssetPack manifests (all the packs of one app)")
    build.add_argument("--source", required=True, type=Path, metavar="DIR",
                       help="the folder the packs' selectors name files in")
    build.add_argument("--out", required=True, type=Path, metavar="OUT",
                       help="where packs.json and objects/ go (created if missing; must not "
                       "be inside --source)")
    build.add_argument("--base-url", metavar="URL", default=None,
                       help="the URL OUT is served at: object URLs in packs.json become "
                       "absolute under it (default: relative to packs.json)")
    build.add_argument("--quiet", action="store_true", help="no progress line")
    build.set_defaults(handler=run_build)


def _check(args: argparse.Namespace) -> tuple[Path, Path]:
    source, out = args.source, args.out
    if not source.is_dir():
        raise UsageError(f"--source {source}: no such folder")
    missing = [path for path in args.packs if not Path(path).is_file()]
    if missing:
        raise UsageError(f"no such pack manifest: {', '.join(missing)}")
    source_real, out_real = source.resolve(), out.resolve()
    if out_real == source_real or out_real.is_relative_to(source_real):
        raise UsageError(f"--out {out} is inside --source {source}: a later build would take "
                         "its own output as pack files; write it elsewhere")
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out}: not a folder")
    if args.base_url is not None and not args.base_url.startswith(("http://", "https://")):
        raise UsageError(f"--base-url {args.base_url!r}: expected an http(s) URL")
    return source, out


class _Line:
    """The progress line on a terminal: files, bytes, redrawn at most ten times a second."""

    def __init__(self, enabled: bool) -> None:
        self.enabled, self.drawn = enabled, 0.0

    def __call__(self, done: int, total: int, size: int) -> None:
        from orchestrator.model.units import format_size

        now = time.monotonic()
        if not self.enabled or (now - self.drawn < REDRAW_INTERVAL and done < total):
            return
        self.drawn = now
        width = 24
        filled = width * done // total if total else width
        sys.stderr.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {done:,}/{total:,} files,"
                         f" {format_size(size)}")
        sys.stderr.flush()

    def end(self) -> None:
        if self.enabled and self.drawn:
            sys.stderr.write("\n")


def run_build(args: argparse.Namespace) -> int:
    from orchestrator.manifests.documents import load_packs
    from orchestrator.model.units import format_size
    from orchestrator.packs.build import build

    source, out = _check(args)
    packs, selection = load_packs(args.packs, source)  # ManifestError: exit 1, located
    out.mkdir(parents=True, exist_ok=True)
    line = _Line(not args.quiet and sys.stderr.isatty())
    try:
        result = build(packs, selection, source, out, base_url=args.base_url, progress=line)
    except OSError as error:
        line.end()
        where = error.filename or out
        raise UsageError(f"cannot build into {out}: {where}: {error.strerror}") from None
    line.end()
    packs_built = result.catalog.packs
    files = sum(len(pack.files) for pack in packs_built)
    objects = len({o.url for pack in packs_built for o in pack.objects})
    size = sum(pack.installed_size for pack in packs_built)
    for pack in packs_built:
        print(f"{pack.pack.id:<24} {pack.pack.policy.value:<10} {pack.version}  "
              f"{len(pack.files):>6,} files  {format_size(pack.installed_size):>10}  "
              f"{len(pack.objects):>5,} objects")
    print(f"built {len(packs_built)} pack{'s' if len(packs_built) != 1 else ''}: {files:,} "
          f"files, {format_size(size)} in {objects:,} objects ({result.objects_written:,} "
          f"new) into {result.path}")
    return 0
