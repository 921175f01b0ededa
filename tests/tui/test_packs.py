"""Packs screen: game's asset packs from a real DevServer serving what ``pack build``
wrote, with their flags; ensure, remove, rollback and check for updates from the keys,
the palette and a daemon's socket; refusals with their codes."""

from __future__ import annotations

import contextlib

import pytest

from orchestrator.control import ControlServer, socket_path
from orchestrator.events import Event, EventKind
from orchestrator.service.controls import PackAction
from orchestrator.service.views import PackStatus, PackView
from tests.service.test_packs import build_packs
from tests.tui.drive import install_all, last_outcome, packs_read, press, show
from tests.tui.scenario import GAME, NEWS, scene, write_packs
from tui.app import BgAssetsApp, attached_app, in_process
from tui.control import check_outcome
from tui.screens.packs import STATUS_WORDS, pack_progress, status_text
from tui.state import LiveState

SIZE = (160, 40)
APP, PACK, POLICY, LATEST, LOCAL, SIZE_ON_DISK, STATUS, PROGRESS = range(8)
HD, TUTORIAL, WORLDS = (f"{GAME}/{pack}" for pack in ("hd", "tutorial", "worlds"))
pytestmark = pytest.mark.timeout(60)


@pytest.fixture
async def packs_tui(tmp_path):
    """The TUI on the two apps, game with asset packs, everything installed."""
    async with scene(tmp_path, packs=True) as built:
        app = BgAssetsApp(in_process(lambda: contextlib.nullcontext(built.orchestrator)),
                          built.manifests)
        yield app, built


async def packs_screen(app, pilot) -> None:
    await install_all(app, pilot)
    await show(app, pilot, "5")
    await packs_read(app, pilot)


def cell(app, key: str, column: int) -> str:
    return app.screen.table.cell_text(key, column)


async def test_the_screen_shows_each_pack_of_each_app_with_its_status_in_words(packs_tui):
    app, built = packs_tui
    async with app.run_test(size=SIZE) as pilot:
        await packs_screen(app, pilot)
        table = app.screen.table
        assert table.shown_keys == [HD, TUTORIAL, WORLDS]
        assert [cell(app, key, APP) for key in table.shown_keys] == [GAME, "", ""]
        assert [cell(app, key, POLICY) for key in table.shown_keys] == [
            "onDemand", "essential", "prefetch"]
        versions = {pack: state.pack.version
                    for pack, state in built.orchestrator.packs(GAME).items()}
        assert cell(app, HD, LATEST) == versions["hd"] and cell(app, HD, LOCAL) == "none"
        assert cell(app, HD, STATUS) == "download available"
        assert cell(app, HD, SIZE_ON_DISK) == ""
        for key, pack, size in ((TUTORIAL, "tutorial", "2.3 KiB"),
                                (WORLDS, "worlds", "190.0 KiB")):
            assert cell(app, key, LATEST) == cell(app, key, LOCAL) == versions[pack]
            assert cell(app, key, STATUS) == "downloaded, up to date"
            assert cell(app, key, SIZE_ON_DISK) == size
        summary = str(app.screen.query_one("#packs-summary").render())
        assert f"3 pack(s) of 2 app(s) · no asset packs: {NEWS}" in summary


async def test_ensure_downloads_the_on_demand_pack_and_remove_frees_it(packs_tui):
    app, built = packs_tui
    async with app.run_test(size=SIZE) as pilot:
        await packs_screen(app, pilot)
        await press(app, pilot, "e")  # the first row: hd
        assert last_outcome(app).message == f"ensure {HD}: 1 download(s) scheduled"
        await built.orchestrator.wait(GAME, "all", timeout=20)
        await packs_read(app, pilot)
        assert cell(app, HD, STATUS) == "downloaded, up to date"
        assert cell(app, HD, LOCAL) == cell(app, HD, LATEST)
        assert cell(app, HD, SIZE_ON_DISK) == "200.0 KiB"
        assert cell(app, HD, PROGRESS) == ""
        await press(app, pilot, "e")
        assert last_outcome(app).ok and "nothing to download" in last_outcome(app).message
        await press(app, pilot, "x")
        assert last_outcome(app).message == f"remove {HD}: freed 200.0 KiB"
        await packs_read(app, pilot)
        assert cell(app, HD, STATUS) == "download available"
        assert cell(app, HD, LOCAL) == "none"
        await press(app, pilot, "x")
        refusal = last_outcome(app)
        assert refusal.code == 113 and "downloadDoesNotExist" in refusal.message
        assert f"{GAME} has no local asset pack 'hd'" in refusal.message


async def test_while_a_pack_downloads_its_row_says_so_and_its_bar_moves(packs_tui):
    app, built = packs_tui
    root = built.manifests[0].parents[2]
    async with app.run_test(size=SIZE) as pilot:
        await packs_screen(app, pilot)
        # Files up to 1 MiB come whole, without progress: hd becomes 1.25 MiB, read by a
        # check, and takes about half a second to come.
        (root / "source" / "hd" / "grass.tex").write_bytes(bytes(1280 * 1024))
        build_packs(root, root / "content" / "packs")
        built.orchestrator.launch(GAME)  # no allowance to count against
        await press(app, pilot, "u")
        built.server.rate_per_connection = 2 * 1024 * 1024
        await press(app, pilot, "e")
        seen: set[str] = set()
        while built.orchestrator.packs(GAME)["hd"].local_version is None:
            await packs_read(app, pilot)
            if cell(app, HD, STATUS).startswith("downloading"):
                seen.add(cell(app, HD, PROGRESS))
        await packs_read(app, pilot)
        moving = [bar for bar in seen if bar.endswith("%") and not bar.endswith(" 0%")]
        assert moving, seen
        assert cell(app, HD, STATUS) == "downloaded, up to date"
        assert cell(app, HD, SIZE_ON_DISK) == "1.2 MiB" and cell(app, HD, PROGRESS) == ""


async def test_refusals_show_their_code_and_message_never_a_traceback(packs_tui):
    app, _ = packs_tui
    async with app.run_test(size=SIZE) as pilot:
        await packs_screen(app, pilot)
        await press(app, pilot, "down", "r")  # tutorial has a single version
        refusal = last_outcome(app)
        assert refusal.message == (
            f"rollback {TUTORIAL} refused: 113 downloadDoesNotExist: {GAME}: pack 'tutorial' "
            "has no previous version to go back to")
        unknown = await app.control.pack(PackAction.ENSURE, GAME, "sounds")
        assert unknown.code == 113 and "has no asset pack 'sounds'" in unknown.message
        not_installed = await app.control.check_packs("com.example.gone")
        assert not_installed.code == 1051 and "appNotInstalled" in not_installed.message
        toasts = [notification.message for notification in app._notifications]
        assert refusal.message in toasts


async def test_check_for_updates_fetches_the_new_version_and_rollback_goes_back(packs_tui):
    app, built = packs_tui
    async with app.run_test(size=SIZE) as pilot:
        await packs_screen(app, pilot)
        await press(app, pilot, "u")
        assert last_outcome(app).message == \
            f"check packs of {GAME}: every local pack is up to date"
        old = cell(app, WORLDS, LOCAL)
        root = built.manifests[0].parents[2]
        write_packs(root, root / "content", version="2")  # worlds changes one file
        await press(app, pilot, "u")
        assert last_outcome(app).message == f"check packs of {GAME}: updating worlds"
        await built.orchestrator.wait(GAME, "all", timeout=20)
        await packs_read(app, pilot)
        new = cell(app, WORLDS, LATEST)
        assert new != old and cell(app, WORLDS, LOCAL) == new
        assert cell(app, WORLDS, STATUS) == "downloaded, up to date"
        await press(app, pilot, "down", "down", "r")
        assert last_outcome(app).message == f"rollback {WORLDS}: version {old} is current again"
        await packs_read(app, pilot)
        assert cell(app, WORLDS, LOCAL) == old
        assert cell(app, WORLDS, STATUS) == "downloaded, out of date, update available"


async def test_the_palette_offers_each_pack_action_and_the_check_per_app(packs_tui):
    app, built = packs_tui
    async with app.run_test(size=SIZE) as pilot:
        await packs_screen(app, pilot)
        titles = {command.title for command in app.get_system_commands(app.screen)}
        assert {"Show Packs", f"Ensure pack {HD}", f"Remove pack {WORLDS}",
                f"Roll back pack {TUTORIAL}", f"Check packs of {GAME}",
                f"Check packs of {NEWS}"} <= titles
        await pilot.press("ctrl+p")
        await pilot.press(*f"Ensure pack {HD}")
        await pilot.pause(0.3)
        await press(app, pilot, "enter")
        assert last_outcome(app).message == f"ensure {HD}: 1 download(s) scheduled"
        await built.orchestrator.wait(GAME, "all", timeout=20)
        await packs_read(app, pilot)
        assert cell(app, HD, STATUS) == "downloaded, up to date"


async def test_the_app_key_shows_only_the_selected_rows_app(packs_tui):
    app, _ = packs_tui
    async with app.run_test(size=SIZE) as pilot:
        await packs_screen(app, pilot)
        await press(app, pilot, "a")
        assert app.screen.only_app == GAME
        assert "3 pack(s) of 1 app(s)" in str(app.screen.query_one("#packs-summary").render())
        await press(app, pilot, "a")
        assert app.screen.only_app is None


async def test_attached_to_a_daemon_the_screen_reads_and_acts_over_its_socket(tmp_path):
    async with scene(tmp_path, packs=True) as built:
        for manifest in built.manifests:
            await built.orchestrator.install(manifest)
        await built.orchestrator.wait(GAME, "all", timeout=20)
        async with ControlServer(built.orchestrator, socket_path(tmp_path / "state")) as server:
            app = attached_app(server.path)
            async with app.run_test(size=SIZE) as pilot:
                await show(app, pilot, "5")
                await packs_read(app, pilot)
                assert app.screen.table.shown_keys == [HD, TUTORIAL, WORLDS]
                assert cell(app, HD, STATUS) == "download available"
                await press(app, pilot, "e")
                assert last_outcome(app).message == f"ensure {HD}: 1 download(s) scheduled"
                await built.orchestrator.wait(GAME, "all", timeout=20)
                for _ in range(100):  # the events cross the socket
                    await packs_read(app, pilot)
                    if cell(app, HD, STATUS) == "downloaded, up to date":
                        break
                assert cell(app, HD, STATUS) == "downloaded, up to date"
                await press(app, pilot, "down", "r")
                assert last_outcome(app).code == 113
                assert "no previous version" in last_outcome(app).message


# Pure parts -------------------------------------------------------------------------


def event(name: str, download: str, **data) -> Event:
    return Event(0.0, EventKind(name), GAME, {"download": download, "essential": False,
                                              "bytes": 0, "total": 100, **data})


def test_status_words_follow_the_flags():
    assert {flag for flag, _, _ in STATUS_WORDS} == set(PackStatus)
    assert status_text(PackStatus.DOWNLOADING | PackStatus.DOWNLOAD_AVAILABLE).plain == \
        "downloading, download available"
    assert status_text(PackStatus.DOWNLOADED | PackStatus.OBSOLETE).plain == \
        "downloaded, obsolete"


def test_progress_spans_the_rows_of_the_packs_current_download_only():
    state = LiveState()
    view = PackView(GAME, "hd", latest_version="2", pending=2)
    old = "@pack:hd:0000000000000000"
    state.apply(event("download.scheduled", old, priority=50))
    state.apply(event("download.finished", old, bytes=100))
    assert pack_progress(state, view).plain == "2 file(s) left"  # the view says, not the rows
    first, second = "@pack:hd:1111111111111111", "@pack:hd:2222222222222222"
    state.apply(event("download.scheduled", first, priority=50))
    state.apply(event("download.scheduled", second, priority=50, total=300))
    assert state.packs.batch(GAME, "hd") == [f"{GAME}/{first}", f"{GAME}/{second}"]
    state.apply(event("download.progress", first, bytes=100, speed=1))
    changes = state.packs.changes[GAME]
    state.apply(event("download.progress", second, bytes=100, total=300, speed=1))
    assert state.packs.changes[GAME] == changes  # progress makes no read stale
    assert pack_progress(state, view).plain.endswith(" 50%")
    state.apply(event("download.finished", first, bytes=100))
    state.apply(event("download.finished", second, bytes=300, total=300))
    assert pack_progress(state, PackView(GAME, "hd", "2", "2")).plain == ""
    state.apply(Event(0.0, EventKind.APP_UNINSTALLED, GAME))
    assert state.packs.batch(GAME, "hd") == [] and GAME in state.packs.stale([GAME])


def test_check_outcome_names_what_updates_and_what_went():
    assert check_outcome(GAME, ["hd", "worlds"], ["tutorial"]) == (
        f"check packs of {GAME}: updating hd, worlds; removed tutorial (gone from the pack "
        "catalog)")
    assert check_outcome(GAME, [], []) == f"check packs of {GAME}: every local pack is up to date"
