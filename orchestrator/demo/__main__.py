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
                        help="the example manifests folder (default: the bundled one)")
    parser.add_argument("--refresh", action="store_true",
                        help="rewrite the sha256 of every catalog asset instead of generating")
    args = parser.parse_args()
    args.manifests = args.manifests or manifests_dir()
    try:
        if args.refresh:
            for catalog in sorted(args.manifests.glob(f"*/{CATALOG_NAME}")):
                refresh_catalog(catalog)
                print(f"refreshed {catalog}")
            return 0
        written = generate_content(args.manifests, args.out)
    except BackgroundAssetsError as error:
        print(f"error: {error.message}", file=sys.stderr)
        return 1
    print(f"{len(written)} file(s) written under {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
