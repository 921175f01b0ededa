"""The level-packs game turns its HD textures on: an on-demand asset pack, asked for.

Run the daemon on the bundled examples first (`bgassets daemon --serve-demo manifests`);
the tutorial and worlds packs arrive with the install. This is what the game's settings
screen does when the player switches HD textures on::

    python examples/level-packs/hd_textures.py

It prints every pack's status, asks for the HD textures (which returns at once when they
are local already, with or without a network), shows the download's progress, and reads a
file from the pack. ``--remove`` frees the pack again.
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from orchestrator.client import AssetPackManager, BackgroundAssetsError, PackUpdateKind


async def main(args: argparse.Namespace) -> int:
    async with AssetPackManager(args.app, args.state_dir) as packs:
        for view in await packs.packs():
            flags = ", ".join(flag.name.lower() for flag in type(view.status)
                              if flag in view.status and flag.name)
            print(f"{view.id:<14} {view.policy or '-':<10} {flags}")
        if args.remove:
            freed = await packs.remove(args.pack)
            print(f"{args.pack}: removed, {freed} bytes freed")
            return 0

        async def show_progress() -> None:
            async for update in packs.status_updates(args.pack):
                if update.kind is PackUpdateKind.DOWNLOADING and update.expected:
                    print(f"  {args.pack}: {update.written}/{update.expected} bytes")
                elif update.kind is not PackUpdateKind.DOWNLOADING:
                    print(f"  {args.pack}: {update.kind.value}")

        watcher = asyncio.create_task(show_progress())
        await asyncio.sleep(0.1)  # subscribed before asking
        try:
            await asyncio.wait_for(packs.ensure_local_availability(args.pack), args.timeout)
        finally:
            watcher.cancel()
        data = packs.read_bytes(args.file)
        print(f"{args.pack}: local; {args.file} is {len(data)} bytes: "
              f"{data[:60].decode(errors='replace').strip()!r}")
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--state-dir", default=None, help="the daemon's state dir")
    parser.add_argument("--app", default="com.example.level-packs")
    parser.add_argument("--pack", default="hd-textures")
    parser.add_argument("--file", default="textures/hd/README.txt")
    parser.add_argument("--remove", action="store_true", help="remove the pack instead")
    parser.add_argument("--timeout", type=float, default=120)
    try:
        sys.exit(asyncio.run(main(parser.parse_args())))
    except BackgroundAssetsError as error:
        print(f"hd_textures: {error}", file=sys.stderr)
        sys.exit(1)
