"""The floor of P3: a bare aiohttp loop fetching a URL list, 16 at a time.

No verification, no durability, no progress, no resume: one session, ``--jobs``
workers, each GET read whole and written to ``DIR/<last path segment>``. It runs as
its own process, so its figure includes Python's start-up as bgassets' does. With
``--uvloop`` (when installed) it runs on uvloop, as ``bgassets fetch`` does.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

import aiohttp


async def fetch_all(urls: list[str], folder: Path, jobs: int) -> int:
    queue = iter(urls)
    failures = 0
    connector = aiohttp.TCPConnector(limit=0, limit_per_host=jobs)
    async with aiohttp.ClientSession(connector=connector, auto_decompress=False) as session:

        async def worker() -> None:
            nonlocal failures
            for url in queue:
                async with session.get(url) as response:
                    if response.status != 200:
                        failures += 1
                        continue
                    body = await response.read()
                with open(folder / url.rsplit("/", 1)[-1], "wb") as handle:
                    handle.write(body)

        await asyncio.gather(*(worker() for _ in range(min(jobs, len(urls)))))
    return failures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("list_file", help="one URL per line")
    parser.add_argument("-d", "--dir", default=".", help="output folder")
    parser.add_argument("--jobs", type=int, default=16)
    parser.add_argument("--uvloop", action="store_true", help="run on uvloop when installed")
    args = parser.parse_args()
    urls = [line.split()[0] for line in Path(args.list_file).read_text().splitlines()
            if line.strip()]
    folder = Path(args.dir)
    folder.mkdir(parents=True, exist_ok=True)
    loop_factory = None
    if args.uvloop:
        try:
            import uvloop
        except ImportError:
            pass
        else:
            loop_factory = uvloop.new_event_loop
    with asyncio.Runner(loop_factory=loop_factory) as runner:
        failures = runner.run(fetch_all(urls, folder, args.jobs))
    if failures:
        print(f"{failures} of {len(urls)} failed", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
