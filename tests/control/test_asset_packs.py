"""AssetPackManager in this process against a real daemon process: packs from a real
DevServer serving what ``pack build`` wrote, read over the merged namespace."""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from orchestrator.client import AssetPackManager, PackStatus, PackUpdateKind
from orchestrator.devserver.thread import serve_in_thread
from orchestrator.errors import BackgroundAssetsError, ErrorCode
from tests.control.daemon_apps import Asset, running_daemon, write_app, write_content
from tests.service.test_packs import build_packs, write_source

pytestmark = pytest.mark.timeout(90)
GAME = "com.example.game"


async def until_status(packs: AssetPackManager, pack: str, flag: PackStatus) -> None:
    for _ in range(300):
        with contextlib.suppress(BackgroundAssetsError):  # not in the pack catalog yet
            if flag in await packs.status(pack):
                return
        await asyncio.sleep(0.05)
    raise AssertionError(f"{pack} never became {flag}")


async def test_ensure_read_remove_and_check_for_updates(tmp_path):
    write_source(tmp_path / "source")
    content = tmp_path / "content"
    write_content(content / "game", [Asset("intro", 16 * 1024, essential=True)])
    build_packs(tmp_path, content / "packs")
    state = Path(tempfile.mkdtemp(prefix="bgc-"))
    with serve_in_thread(content) as server:
        manifest = write_app(tmp_path / "apps" / "game", "game",
                             f"{server.url}game/catalog.json")
        manifest.write_text(manifest.read_text()
                            + f"  assetPacks: {{manifestURL: {server.url}packs/packs.json}}\n")
        with running_daemon(state, str(tmp_path / "apps")):
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


def test_the_packs_commands_against_a_running_daemon(tmp_path):
    write_source(tmp_path / "source")
    content = tmp_path / "content"
    write_content(content / "game", [Asset("intro", 16 * 1024, essential=True)])
    build_packs(tmp_path, content / "packs")
    state = Path(tempfile.mkdtemp(prefix="bgc-"))
    with serve_in_thread(content) as server:
        manifest = write_app(tmp_path / "apps" / "game", "game",
                             f"{server.url}game/catalog.json")
        manifest.write_text(manifest.read_text()
                            + f"  assetPacks: {{manifestURL: {server.url}packs/packs.json}}\n")
        with running_daemon(state, str(tmp_path / "apps")) as daemon:
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


def test_the_hd_textures_example_asks_for_its_pack_and_reads_a_file(tmp_path):
    write_source(tmp_path / "source")
    content = tmp_path / "content"
    write_content(content / "game", [Asset("intro", 16 * 1024, essential=True)])
    build_packs(tmp_path, content / "packs")
    state = Path(tempfile.mkdtemp(prefix="bgc-"))
    with serve_in_thread(content) as server:
        manifest = write_app(tmp_path / "apps" / "game", "game",
                             f"{server.url}game/catalog.json")
        manifest.write_text(manifest.read_text()
                            + f"  assetPacks: {{manifestURL: {server.url}packs/packs.json}}\n")
        with running_daemon(state, str(tmp_path / "apps")):
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
