"""Many small files through `bgassets fetch -i`: a kill -9 midway leaves only whole,
verified files at their paths, and the same command then fetches the rest."""

from __future__ import annotations

import asyncio
import hashlib
import os
import signal
import sys
from pathlib import Path

from orchestrator.devserver import DevServer

ROOT = Path(__file__).resolve().parents[2]
FILES = 240
SIZE = 48 * 1024


async def fetch(*args: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "orchestrator", "fetch", "--quiet", *args, cwd=ROOT,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)


async def test_kill_9_midway_leaves_only_verified_files_and_the_rerun_completes(tmp_path):
    served, out = tmp_path / "www", tmp_path / "out"
    served.mkdir()
    digests = {}
    for index in range(FILES):
        data = index.to_bytes(4, "big") + os.urandom(SIZE - 4)
        (served / f"f{index:03d}.bin").write_bytes(data)
        digests[f"f{index:03d}.bin"] = hashlib.sha256(data).hexdigest()
    async with DevServer(served, rate_per_connection=512 * 1024) as server:
        listing = tmp_path / "list.txt"
        listing.write_text("".join(f"{server.url}{name} size={SIZE} sha256={digest}\n"
                                   for name, digest in digests.items()))
        args = ("-i", str(listing), "-d", str(out))
        first = await fetch(*args)
        for _ in range(3000):
            published = [name for name in digests if (out / name).exists()]
            if len(published) >= FILES // 4 or first.returncode is not None:
                break
            await asyncio.sleep(0.01)
        first.send_signal(signal.SIGKILL)
        await first.communicate()
        # What the publishing process had whole it still publishes, meanwhile or after.
        for path in out.iterdir():
            if path.name in digests:  # every file at its path is whole and verified
                assert hashlib.sha256(path.read_bytes()).hexdigest() == digests[path.name]
            else:
                assert path.name.removesuffix(".part") in digests, path.name
        assert FILES // 4 <= sum(name in digests for name in os.listdir(out)) < FILES
        second = await fetch(*args)  # at once: it waits for that process to be done
        _, errors = await second.communicate()
    assert second.returncode == 0, errors.decode()
    assert sorted(os.listdir(out)) == sorted(digests)
    for name, digest in digests.items():
        assert hashlib.sha256((out / name).read_bytes()).hexdigest() == digest


async def test_a_second_fetch_into_the_same_folder_waits_for_the_first(tmp_path):
    """Two runs of one list into one folder: the second says it waits, starts once the
    first and its publishing process are done, and finds every file in place."""
    served, out = tmp_path / "www", tmp_path / "out"
    served.mkdir()
    digests = {}
    for index in range(64):
        data = index.to_bytes(4, "big") + os.urandom(SIZE - 4)
        (served / f"f{index:03d}.bin").write_bytes(data)
        digests[f"f{index:03d}.bin"] = hashlib.sha256(data).hexdigest()
    async with DevServer(served, rate_per_connection=256 * 1024) as server:
        listing = tmp_path / "list.txt"
        listing.write_text("".join(f"{server.url}{name} size={SIZE} sha256={digest}\n"
                                   for name, digest in digests.items()))
        args = ("-i", str(listing), "-d", str(out))
        first = await fetch(*args)
        for _ in range(3000):
            if any((out / name).exists() for name in digests) or first.returncode is not None:
                break
            await asyncio.sleep(0.01)
        second = await fetch(*args)
        line = await asyncio.wait_for(second.stderr.readline(), timeout=60)
        assert b"waiting for another fetch into" in line and str(out).encode() in line
        assert second.returncode is None
        _, first_errors = await first.communicate()
        _, errors = await second.communicate()
    assert first.returncode == 0, first_errors.decode()
    assert second.returncode == 0, errors.decode()
    # The second found everything in place: each file was served once, to the first.
    assert server.stats.requests == len(digests)
    assert set(server.stats.requests_by_path.values()) == {1}
    assert sorted(os.listdir(out)) == sorted(digests)
    for name, digest in digests.items():
        assert hashlib.sha256((out / name).read_bytes()).hexdigest() == digest
