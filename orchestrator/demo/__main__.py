"""``python -m orchestrator.demo [--refresh] [OUT]``: generate the demo content.

With ``--refresh`` the catalogs' sha256 fields are rewritten from the
generator (for maintainers after changing a catalog's assets).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from orchestrator.bundled import manifests_dir
from orchestrator.demo.content import CATALOG_NAME, generate_content, refresh_catalog
from orchestrator.errors import BackgroundAssetsError


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m orchestrator.demo", description=__doc__)
    parser.add_argument("out", nargs="?", type=Path, default=Path(".demo/content"),
                        help="folder to generate the served content into (default .demo/content)")
    parser.add_argument("--manifests", type=Path, default=None,
                        help="a folder of <app>/catalog.json (default: the bundled examples)")
    parser.add_argument("--refresh", action="store_true",
                        help="rewrite the sha256 of every catalog asset of --manifests in place "
                        "instead of generating")
    args = parser.parse_args()
    if args.refresh and args.manifests is None:
        return _fail("--refresh rewrites catalogs in place: name their folder with --manifests", 2)
    manifests: Path = args.manifests or manifests_dir()
    catalogs = sorted(manifests.glob(f"*/{CATALOG_NAME}"))
    if not catalogs:
        return _fail(f"{manifests}: no <app>/{CATALOG_NAME} found", 2)
    try:
        if args.refresh:
            for catalog in catalogs:
                refresh_catalog(catalog)
                print(f"refreshed {catalog}")
            return 0
        written = generate_content(manifests, args.out)
    except BackgroundAssetsError as error:
        return _fail(error.message, 1)
    except OSError as error:
        return _fail(f"{error.filename or args.out}: cannot write there "
                     f"({error.strerror or error})", 2)
    print(f"{len(written)} file(s) written under {args.out}")
    return 0


def _fail(message: str, code: int) -> int:
    print(f"python -m orchestrator.demo: {message}", file=sys.stderr)
    return code


if __name__ == "__main__":
    sys.exit(main())
