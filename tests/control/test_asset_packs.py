"""AssetPackManager in this process against a real daemon process: packs from a real
DevServer serving what ``pack build`` wrote, read over the merged namespace."""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import sys
import time
from pathlib import Path

import pytest

from orchestrator.client import AssetPackManager, PackStatus, PackUpdateKind
from orchestrator.devserver.thread import serve_in_thread
from orchestrator.errors import BackgroundAssetsError, ErrorCode
from tests.control.daemon_apps import Asset, running_daemon, write_app, write_content
from tests.service.test_packs import build_packs, write_source

pytestmark = pytest.mark.timeout(90)
GAME = "com.example.game"


@contextlib.contextmanager
def served_game(tmp_path: Path, **options):
    """App ``game`` with packs (its source, built into what a DevServer serves) under
    ``tmp_path/apps``; yields the server and the content folder."""
    write_source(tmp_path / "source")
    content = tmp_path / "content"
    write_content(content / "game", [Asset("intro", 16 * 1024, essential=True)])
    build_packs(tmp_path, content / "packs")
    with serve_in_thread(content, **options) as server:
        manifest = write_app(tmp_path / "apps" / "game", "game",
                             f"{server.url}game/catalog.json")
        manifest.write_text(manifest.read_text()
                            + f"  assetPacks: {{manifestURL: {server.url}packs/packs.json}}\n")
        yield server, content


async def until_status(packs: AssetPackManager, pack: str, flag: PackStatus) -> None:
    for _ in range(300):
        with contextlib.suppress(BackgroundAssetsError):  # not in the pack catalog yet
            if flag in await packs.status(pack):
                return
        await asyncio.sleep(0.05)
    raise AssertionError(f"{pack} never became {flag}")


async def test_ensure_read_remove_and_check_for_updates(tmp_path, short_state):
    state = short_state
    with served_game(tmp_path) as (server, content), \
            running_daemon(state, str(tmp_path / "apps")):
            async with AssetPackManager(GAME, state) as packs:
                await until_status(packs, "worlds", PackStatus.DOWNLOADED)
                assert PackStatus.UP_TO_DATE in await packs.status("tutorial")
                assert await packs.status("hd") == PackStatus.DOWNLOAD_AVAILABLE
                with pytest.raises(BackgroundAssetsError) as missing:
                    packs.path("hd/grass.tex")
                assert missing.value.code == ErrorCode.DOWNLOAD_DOES_NOT_EXIST

                updates = []

                async def watch():
                    async for update in packs.status_updates("hd"):
                        updates.append(update)
                        if update.kind is PackUpdateKind.FINISHED:
                            return

                watching = asyncio.create_task(watch())
                await asyncio.sleep(0.2)  # the watcher is subscribed
                await packs.ensure_local_availability("hd")
                await asyncio.wait_for(watching, 20)
                assert packs.read_bytes("hd/grass.tex") == (
                    tmp_path / "source" / "hd" / "grass.tex").read_bytes()
                with packs.open("worlds/names.txt") as handle:
                    assert handle.read() == (tmp_path / "source/worlds/names.txt").read_bytes()
                kinds = [u.kind for u in updates]
                assert kinds[0] is PackUpdateKind.BEGAN and kinds[-1] is PackUpdateKind.FINISHED
                assert await packs.status("hd") == PackStatus.DOWNLOADED | PackStatus.UP_TO_DATE

                server.set_faults(["500"])  # a local pack needs no network
                await packs.ensure_local_availability("hd")
                server.set_faults([])

                assert await packs.remove("hd") == 200 * 1024
                with pytest.raises(BackgroundAssetsError):
                    packs.read_bytes("hd/grass.tex")

                write_source(tmp_path / "source", version="2")
                build_packs(tmp_path, content / "packs", only=("worlds", "hd"))
                assert await packs.check_for_updates() == (["worlds"], ["tutorial"])
                await until_status(packs, "worlds", PackStatus.UP_TO_DATE)
                assert packs.read_bytes("worlds/2/caves.level") == (
                    tmp_path / "source" / "worlds/2/caves.level").read_bytes()
                with pytest.raises(BackgroundAssetsError) as unknown:
                    await packs.ensure_local_availability("nope")
                assert unknown.value.code == ErrorCode.DOWNLOAD_DOES_NOT_EXIST


def test_the_packs_commands_against_a_running_daemon(tmp_path, short_state):
    state = short_state
    with served_game(tmp_path) as (server, content), \
            running_daemon(state, str(tmp_path / "apps")) as daemon:
            ensured = daemon.cli("packs", "ensure", GAME, "hd")
            assert ensured.returncode == 0 and ensured.stdout.strip() == "hd: local", ensured
            rows = {row["pack"]: row for row in daemon.json("packs", "list", GAME)}
            assert set(rows) == {"hd", "tutorial", "worlds"}
            assert rows["hd"]["status"] == ["DOWNLOADED", "UP_TO_DATE"]
            assert rows["hd"]["policy"] == "onDemand" and rows["hd"]["localSize"] == 200 * 1024
            listed = daemon.cli("packs", "list", GAME)
            assert "hd " in listed.stdout and "up_to_date" in listed.stdout
            no_pack = daemon.cli("packs", "remove", GAME)
            assert no_pack.returncode == 2 and "needs the pack's id" in no_pack.stderr
            unknown = daemon.cli("packs", "rollback", GAME, "hd")
            assert unknown.returncode == 1 and "no previous version" in unknown.stderr
            removed = daemon.cli("packs", "remove", GAME, "hd")
            assert removed.returncode == 0 and "200.0 KiB freed" in removed.stdout
            checked = daemon.cli("packs", "check", GAME)
            assert checked.returncode == 0 and "updating: none" in checked.stdout
            not_installed = daemon.cli("packs", "list", "com.example.none")
            assert not_installed.returncode == 1 and "not installed" in not_installed.stderr
            assert "Traceback" not in no_pack.stderr + unknown.stderr + not_installed.stderr


EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "level-packs" / "hd_textures.py"


def test_the_hd_textures_example_asks_for_its_pack_and_reads_a_file(tmp_path, short_state):
    state = short_state
    with served_game(tmp_path) as (server, content), \
            running_daemon(state, str(tmp_path / "apps")):
            def example(*args: str):
                return subprocess.run([sys.executable, str(EXAMPLE), "--state-dir", str(state),
                                       "--app", GAME, "--pack", "hd", "--file", "hd/grass.tex",
                                       *args], capture_output=True, text=True, timeout=60,
                                      cwd=tmp_path)

            first = example()
            assert first.returncode == 0, first.stdout + first.stderr
            assert "hd             onDemand   download_available" in first.stdout
            assert "  hd: began" in first.stdout and "  hd: finished" in first.stdout
            assert f"hd: local; hd/grass.tex is {200 * 1024} bytes" in first.stdout
            again = example()  # local already: no download
            assert again.returncode == 0 and "began" not in again.stdout
            removed = example("--remove")
            assert removed.returncode == 0 and "hd: removed, 204800 bytes freed" in removed.stdout


READER = r"""
import hashlib, json, os, sys, time
from pathlib import Path
folder = Path(sys.argv[1]) / ".packs" / "packs" / "worlds"
versions = [set(v) for v in json.loads(sys.argv[2])]
stop = Path(sys.argv[3])
reads, seen = 0, set()
while not stop.exists():
    try:
        generation = folder / os.readlink(folder / "current")
        digests = set()
        for root, _, names in os.walk(generation):
            for name in names:
                digests.add(hashlib.sha256((Path(root) / name).read_bytes()).hexdigest())
    except (FileNotFoundError, OSError):
        continue
    match = [i for i, version in enumerate(versions) if digests == version]
    if not match:
        print(json.dumps({"mixed": sorted(digests)}), flush=True)
        sys.exit(1)
    reads += 1
    seen.add(match[0])
    time.sleep(0.005)
print(json.dumps({"reads": reads, "seen": sorted(seen)}), flush=True)
"""


def test_a_reader_sees_one_whole_version_while_the_daemon_updating_it_is_killed(
        tmp_path, short_state):
    """The update is killed -9 twice at random moments; after each restart it resumes;
    a reader process hashing the current version in a loop never sees a mix."""
    import hashlib
    import json
    import random
    import signal

    def digest(folder: str) -> set[str]:
        return {hashlib.sha256(p.read_bytes()).hexdigest()
                for p in (tmp_path / "source" / folder).rglob("*") if p.is_file()}

    state = short_state
    container = state / "containers" / "group.com.example.game"
    rng = random.Random(11)
    with served_game(tmp_path, rate_per_connection=200 * 1024) as (server, content):
        first = digest("worlds")
        with running_daemon(state, str(tmp_path / "apps")) as daemon:
            for _ in range(200):
                if (container / ".packs" / "packs" / "worlds" / "current").is_symlink():
                    break
                time.sleep(0.05)
            for index in (1, 2, 3):  # three files change: more than one object to fetch
                path = tmp_path / "source" / "worlds" / str(index % 2 + 1)
                for file in sorted(path.glob("*")):
                    file.write_bytes(file.read_bytes()[::-1] + bytes([index]))
            build_packs(tmp_path, content / "packs")
            second = digest("worlds")
            reader = subprocess.Popen(
                [sys.executable, "-c", READER, str(container), json.dumps(
                    [sorted(first), sorted(second)]), str(tmp_path / "stop")],
                stdout=subprocess.PIPE, text=True)
            assert daemon.cli("packs", "check", "com.example.game").returncode == 0
            time.sleep(rng.uniform(0.1, 0.5))
            daemon.process.send_signal(signal.SIGKILL)
            daemon.process.wait(timeout=10)
        for _ in range(2):  # restarted, killed again mid-update, then left to finish
            with running_daemon(state, str(tmp_path / "apps")) as daemon:
                time.sleep(rng.uniform(0.2, 0.6))
                daemon.process.send_signal(signal.SIGKILL)
                daemon.process.wait(timeout=10)
        with running_daemon(state, str(tmp_path / "apps")) as daemon:
            for _ in range(100):
                rows = daemon.json("packs", "list", "com.example.game")
                worlds = next(row for row in rows if row["pack"] == "worlds")
                if worlds["status"] == ["DOWNLOADED", "UP_TO_DATE"]:
                    break
                time.sleep(0.1)
            assert worlds["status"] == ["DOWNLOADED", "UP_TO_DATE"], worlds
            time.sleep(0.3)  # the reader reads the new version a few times too
        (tmp_path / "stop").touch()
        result = json.loads(reader.stdout.readline())
        assert reader.wait(timeout=30) == 0, result
    assert result["reads"] > 20 and result["seen"] in ([0, 1], [1]), result
    current = container / ".packs" / "packs" / "worlds" / "current"
    assert {hashlib.sha256(p.read_bytes()).hexdigest()
            for p in current.resolve().rglob("*") if p.is_file()} == second


async def test_pack_ids_a_request_cannot_mean_are_refused_with_113(tmp_path, short_state):
    """Whatever a client puts where the pack id goes, it is a refusal with a code, never
    a 500 and never a path outside the pack store."""
    state = short_state
    with served_game(tmp_path), running_daemon(state, str(tmp_path / "apps")):
        async with AssetPackManager(GAME, state) as packs:
            await until_status(packs, "worlds", PackStatus.DOWNLOADED)
            for pack in ("..", ".", "%2e%2e", "store", "x" * 300, "a b", "-dash"):
                for call in (packs.rollback, packs.remove, packs.ensure_local_availability):
                    with pytest.raises(BackgroundAssetsError) as refused:
                        await call(pack)
                    assert refused.value.code == ErrorCode.DOWNLOAD_DOES_NOT_EXIST, (
                        pack, call, refused.value)
            assert await packs.status("worlds") == PackStatus.DOWNLOADED | PackStatus.UP_TO_DATE
