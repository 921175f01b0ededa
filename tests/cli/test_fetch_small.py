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


def served_files(folder: Path, count: int) -> dict[str, str]:
    """``count`` distinct files of SIZE bytes in ``folder``: their sha256 by name."""
    folder.mkdir()
    digests = {}
    for index in range(count):
        data = index.to_bytes(4, "big") + os.urandom(SIZE - 4)
        (folder / f"f{index:03d}.bin").write_bytes(data)
        digests[f"f{index:03d}.bin"] = hashlib.sha256(data).hexdigest()
    return digests


def fetch_list(path: Path, server: DevServer, digests: dict[str, str]) -> Path:
    """The list file naming each file with its size and sha256, as a catalog gives them."""
    path.write_text("".join(f"{server.url}{name} size={SIZE} sha256={digest}\n"
                            for name, digest in digests.items()))
    return path


async def until_published(run: asyncio.subprocess.Process, out: Path,
                          digests: dict[str, str], count: int) -> None:
    """Wait until ``count`` files are at their paths, or the run has ended (30 s at most)."""
    for _ in range(3000):
        if sum((out / name).exists() for name in digests) >= count \
                or run.returncode is not None:
            return
        await asyncio.sleep(0.01)


def assert_all_verified(out: Path, digests: dict[str, str]) -> None:
    assert sorted(os.listdir(out)) == sorted(digests)
    for name, digest in digests.items():
        assert hashlib.sha256((out / name).read_bytes()).hexdigest() == digest


async def test_kill_9_midway_leaves_only_verified_files_and_the_rerun_completes(tmp_path):
    out = tmp_path / "out"
    digests = served_files(tmp_path / "www", FILES)
    async with DevServer(tmp_path / "www", rate_per_connection=512 * 1024) as server:
        args = ("-i", str(fetch_list(tmp_path / "list.txt", server, digests)), "-d", str(out))
        first = await fetch(*args)
        await until_published(first, out, digests, FILES // 4)
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
    assert_all_verified(out, digests)


async def test_a_second_fetch_into_the_same_folder_waits_for_the_first(tmp_path):
    """Two runs of one list into one folder: the second says it waits, starts once the
    first and its publishing process are done, and finds every file in place."""
    out = tmp_path / "out"
    digests = served_files(tmp_path / "www", 64)
    async with DevServer(tmp_path / "www", rate_per_connection=256 * 1024) as server:
        args = ("-i", str(fetch_list(tmp_path / "list.txt", server, digests)), "-d", str(out))
        first = await fetch(*args)
        await until_published(first, out, digests, 1)
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
    assert_all_verified(out, digests)
