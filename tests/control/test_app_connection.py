"""A real app process connected to a real daemon process: delegates across processes.

The app connects with ``orchestrator.client.DownloadManager``; its delegate gets the
files of downloads the extension scheduled, and moves them. An app killed inside
``finished`` leaves its file to the extension, and never gets it again.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest

from orchestrator.client import BlockingDownloadManager
from orchestrator.devserver.thread import serve_in_thread
from orchestrator.errors import BackgroundAssetsError, ErrorCode
from tests.control.daemon_apps import Asset as DaemonAsset
from tests.control.daemon_apps import running_daemon, write_app, write_content
from tests.service.scenario import APP_ID, GROUP, Asset, KiB, MiB, Scenario

GAME, NEWS = "com.example.game", "com.example.news"

pytestmark = pytest.mark.timeout(90)
ASSETS = [Asset("tutorial", 64 * KiB, essential=True), Asset("movie", 256 * KiB, priority=90),
          Asset("extra", 2 * MiB, priority=10)]


def cli(state: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "orchestrator", "--state-dir", str(state),
                           *args], capture_output=True, text=True, timeout=30)


def until(condition, what: str, timeout: float = 30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError(f"{what}: not reached in {timeout} s")


def status(state: Path) -> dict:
    answer = cli(state, "status", "--json")
    assert answer.returncode == 0, answer.stderr
    return next(app for app in json.loads(answer.stdout)["apps"] if app["app"] == APP_ID)


def downloads(state: Path) -> dict[str, dict]:
    answer = cli(state, "downloads", "--json")
    assert answer.returncode == 0, answer.stderr
    return {row["download"]: row for row in json.loads(answer.stdout)}


def app_process(state: Path, out: Path, *args: str, app: str = APP_ID) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "tests.control.app_process", str(state),
                             app, str(out), *args], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def ask(process: subprocess.Popen, command: str) -> dict:
    """Send the app process one command; its answer (callback lines before it skipped)."""
    process.stdin.write(command + "\n")
    process.stdin.flush()
    return lines_until(process, lambda line: "answer" in line or "refused" in line)[-1]


def lines_until(process: subprocess.Popen, stop) -> list[dict]:
    """The app's JSON lines until ``stop(line)`` holds or the process ends."""
    seen = []
    for text in process.stdout:
        seen.append(json.loads(text))
        if stop(seen[-1]):
            break
    return seen


@pytest.fixture
def daemon(tmp_path, short_state):
    scene = Scenario(tmp_path, ASSETS)
    scene.write_content()
    state = short_state
    with serve_in_thread(scene.content, rate_per_connection=256 * KiB) as server:
        scene.write_manifests(server.url)
        apps = tmp_path / "apps" / "game"
        apps.mkdir(parents=True)
        for name in ("app.yaml", "extension.yaml"):
            (apps / name).write_text((scene.root / "manifests" / name).read_text())
        with running_daemon(state, str(apps.parent)):
            yield state


def test_the_delegate_gets_the_files_and_a_crash_leaves_them_to_the_extension(daemon, tmp_path):
    state, out = daemon, tmp_path / "moved"
    out.mkdir()
    container = state / "containers" / GROUP / "assets"
    first = app_process(state, out, "--wait", "--die-on", "extra")
    try:
        seen = lines_until(first, lambda line: line["callback"] == "finished"
                           and line["download"] == "extra")
        assert first.wait(timeout=10) == 9, first.stderr.read()  # died inside finished()
    finally:
        first.kill()
    connected = next(line for line in seen if line["callback"] == "connected")
    assert {"movie", "extra"} <= set(connected["current"])
    finished = [line["download"] for line in seen if line["callback"] == "finished"]
    assert finished == ["movie", "extra"]
    progress = [line for line in seen if line["callback"] == "progress"
                and line["download"] == "extra"]
    assert progress and all(line["expected"] == 2 * MiB for line in progress)
    assert (out / "movie").read_bytes() == ASSETS[1].data()  # the app moved it
    assert not (container / "movie.bin").exists()  # and the extension never got it
    # The app died before returning: the extension's rules put the file in place.
    until(lambda: (container / "extra.bin").is_file(), "extra delivered by the extension")
    digest = hashlib.sha256((container / "extra.bin").read_bytes()).hexdigest()
    assert digest == hashlib.sha256(ASSETS[2].data()).hexdigest()
    assert not status(state)["running"]
    rows = downloads(state)
    assert (rows["movie"]["state"], rows["extra"]["state"]) == ("finished", "finished")

    again = app_process(state, out)
    try:
        seen = lines_until(again, lambda line: line["callback"] == "connected")
        assert seen[-1]["current"] == [] and until(lambda: status(state)["running"], "running")
        again.stdin.close()
        assert again.wait(timeout=10) == 0, again.stderr.read()
    finally:
        again.kill()
    assert not any(line["callback"] == "finished" for line in seen)  # nothing twice
    until(lambda: not status(state)["running"], "the app stops running once it leaves")


def test_connecting_before_the_essential_downloads_is_refused_without_wait(tmp_path, short_state):
    scene = Scenario(tmp_path, [Asset("tutorial", 1 * MiB, essential=True)])
    scene.write_content()
    state = short_state
    with serve_in_thread(scene.content, rate_per_connection=64 * KiB) as server:
        manifest = scene.write_manifests(server.url)
        with running_daemon(state):
            assert cli(state, "install", str(manifest)).returncode == 0
            app = app_process(state, tmp_path)
            try:
                assert app.wait(timeout=20) == 1
                error = app.stderr.read()
                assert "BackgroundAssetsError" in error and "not launchable" in error
            finally:
                app.kill()


def test_an_app_schedules_its_own_downloads_and_cannot_touch_another_apps(tmp_path, short_state):
    content, apps, state = tmp_path / "content", tmp_path / "apps", short_state
    write_content(content / "game", [DaemonAsset("tutorial", 64 * KiB, essential=True),
                                      DaemonAsset("level", 2 * MiB)])
    write_content(content / "news", [DaemonAsset("front", 2 * MiB)])
    bonus = DaemonAsset("bonus", 128 * KiB)
    (content / "game" / "bonus.bin").write_bytes(bonus.data())
    with serve_in_thread(content, rate_per_connection=256 * KiB) as server:
        for name in ("game", "news"):
            write_app(apps / name, name, f"{server.url}{name}/catalog.json")
        with running_daemon(state, str(apps)):
            game = news = None
            try:
                game = app_process(state, tmp_path, "--wait", app=GAME)
                news = app_process(state, tmp_path, "--wait", app=NEWS)
                for process in (game, news):
                    lines_until(process, lambda line: line["callback"] == "connected")
                assert ask(news, "current")["answer"] == ["front"]  # its own only
                assert ask(news, "cancel level")["refused"] == ErrorCode.DOWNLOAD_NOT_SCHEDULED
                assert ask(news, "foreground level")["refused"] == ErrorCode.DOWNLOAD_NOT_SCHEDULED
                digest = hashlib.sha256(bonus.data()).hexdigest()
                url = f"{server.url}game/bonus.bin"
                essential = ask(game, f"schedule intro {url} {bonus.size} {digest} essential")
                assert essential["refused"] == ErrorCode.DOWNLOAD_ESSENTIAL_DOWNLOAD_NOT_PERMITTED
                assert ask(game, f"schedule bonus {url} {bonus.size} {digest}")["answer"] == "bonus"
                lines_until(game, lambda line: line.get("callback") == "finished"
                            and line["download"] == "bonus")
                until(lambda: (tmp_path / "bonus").is_file(), "the app moved its own download")
                again = ask(game, f"schedule level {url} {bonus.size} {digest}")
                assert again["refused"] == ErrorCode.DOWNLOAD_ALREADY_SCHEDULED
                assert ask(game, "foreground level")["answer"] is None
                assert "level" in ask(game, "current")["answer"]
                pending = {(row["app"], row["download"]): row for row in json.loads(
                    cli(state, "downloads", "--json").stdout)}
                assert pending[(GAME, "level")]["foreground"] is True
                lines_until(game, lambda line: line.get("callback") == "finished"
                            and line["download"] == "level")
                # Promoted while it transferred: it went on where it was, nothing sent twice.
                assert server.stats.bytes_by_path["/game/level.bin"] == 2 * MiB
                assert (tmp_path / "bonus").read_bytes() == bonus.data()
                rows = {(row["app"], row["download"]): row for row in json.loads(
                    cli(state, "downloads", "--json").stdout)}
                assert rows[(GAME, "bonus")]["state"] == "finished"
                assert rows[(NEWS, "front")]["state"] != "failed"  # news's stays untouched
            finally:
                for process in (game, news):
                    if process is not None:
                        process.kill()


def test_the_blocking_manager_connects_schedules_and_takes_the_lock(daemon, tmp_path):
    """The same calls without an event loop, from a plain thread of this process."""
    state, moved = daemon, []

    class Keeper:
        def finished(self, download, path):
            moved.append(download.id)
            path.replace(tmp_path / download.id)

    with BlockingDownloadManager(APP_ID, state, wait_until_launchable=True) as manager:
        manager.delegate = Keeper()
        assert {"movie", "extra"} & {view.id for view in manager.fetch_current_downloads()}
        with manager.exclusive_control() as hold:
            assert hold.app_group == GROUP
        with pytest.raises(BackgroundAssetsError) as essential:
            manager.schedule(replace(manager.download("x", "http://127.0.0.1:9/x"),
                                     essential=True))
        assert essential.value.code == ErrorCode.DOWNLOAD_ESSENTIAL_DOWNLOAD_NOT_PERMITTED
        until(lambda: "movie" in moved, "movie handed to the blocking app")
    assert (tmp_path / "movie").read_bytes() == ASSETS[1].data()
    until(lambda: not status(state)["running"], "the app stops running once it leaves")


LOCKER = '''
import time
from orchestrator.sdk import DownloaderExtension, read_catalog, with_exclusive_control


class Locker(DownloaderExtension):
    """Takes the app group's lock before it answers, and notes when it got it."""

    def downloads(self, request, manifest_path, info):
        with with_exclusive_control(timeout=30):
            with open(self.container / "locked.txt", "a") as notes:
                notes.write(f"{request.name} {time.time()}\\n")
        catalog = read_catalog(manifest_path, self.catalog_url)
        return [self.download(a.id, a.url, size=a.size, sha256=a.sha256, priority=a.priority,
                              destination=f"assets/{a.id}") for a in catalog.assets]

    def finished(self, download, path):
        self.move_into_container(path, f"assets/{download.id}")
'''


def test_the_app_and_its_handler_take_turns_on_the_app_groups_lock(tmp_path, short_state):
    """The app holds the lock; the handler's periodic call waits for it, then runs. A
    connected app without a delegate leaves its files to the handler."""
    scene = Scenario(tmp_path, [Asset("level", 64 * KiB)])
    scene.write_content()
    state = short_state
    with serve_in_thread(scene.content) as server:
        manifest = scene.write_manifests(server.url)
        extension = manifest.parent / "extension.yaml"
        extension.write_text(extension.read_text().replace(
            "  rules:", "  handler: handlers:Locker\n  rules:"))
        (manifest.parent / "handlers.py").write_text(LOCKER)
        with running_daemon(state):
            assert cli(state, "install", str(manifest)).returncode == 0
            notes = state / "containers" / GROUP / "locked.txt"
            level = state / "containers" / GROUP / "assets" / "level"
            until(lambda: notes.is_file() and level.is_file(), "the install's file handled")
            level.unlink()  # the periodic request below plans it again
            with BlockingDownloadManager(APP_ID, state, wait_until_launchable=True) as app:
                with app.exclusive_control() as hold:
                    asking = subprocess.Popen([sys.executable, "-c", (
                        "import asyncio, sys\n"
                        "from orchestrator.control import ControlClient, socket_path\n"
                        "async def ask():\n"
                        "    async with ControlClient(socket_path(sys.argv[1])) as c:\n"
                        f"        await c.app_action({APP_ID!r}, 'periodic')\n"
                        "asyncio.run(ask())\n"), str(state)])
                    time.sleep(1.5)  # the handler's periodic request waits for the lock
                    assert notes.read_text().count("PERIODIC") == 0
                released = time.time()
                assert asking.wait(timeout=30) == 0
                assert hold.held >= 1.5
                # Connected, but with no delegate: the file goes to the handler after all.
                until(lambda: level.is_file(), "the handler's finished() while connected")
            periodic = [line for line in notes.read_text().splitlines()
                        if line.startswith("PERIODIC")]
            assert len(periodic) == 1 and float(periodic[0].split()[1]) >= released - 0.05
