"""Apps screen: installs on start, state and progress per app, launch, periodic, update."""

from __future__ import annotations

import asyncio
import contextlib

from orchestrator.events import EventKind
from orchestrator.model.device import Device, Network
from orchestrator.model.enums import DownloadState
from orchestrator.service import Orchestrator
from tests.tui.drive import install_all, last_outcome, offline, press, settle, show
from tests.tui.scenario import GAME, NEWS, scene, write_manifests
from tui.app import BgAssetsApp, in_process

SIZE = (160, 40)
NAME, VERSION, STATE, PROGRESS, ALLOWANCE, ESSENTIAL, DISK, RUNTIME, PERIODIC = range(1, 10)


async def test_installs_every_app_and_shows_them_launchable(tui):
    app, built = tui
    async with app.run_test(size=SIZE) as pilot:
        await install_all(app, pilot)
        table = app.screen.table
        assert table.shown_keys == [GAME, NEWS]
        for app_id in (GAME, NEWS):
            assert built.orchestrator.apps[app_id].launchable
            assert table.cell_text(app_id, STATE) == "launchable"
            assert table.cell_text(app_id, PROGRESS) == "█ █ █████ 100%"
        assert table.cell_text(GAME, NAME) == "Game" and table.cell_text(NEWS, NAME) == "News"
        record = built.orchestrator.journal.app(GAME)
        assert record.essential_bytes_used == 256 * 1024
        assert table.cell_text(GAME, ESSENTIAL) == "768.0 KiB"
        assert table.cell_text(GAME, RUNTIME) == "0s / 10m00s"
        assert table.cell_text(GAME, PERIODIC) == "in 1d00h"  # the install counts as a run
        await pilot.pause()
        toasts = [notification.message for notification in app._notifications]
        assert f"{GAME} is launchable" in toasts and f"{NEWS} is launchable" in toasts


async def test_offline_the_install_waits_and_launch_is_refused_until_it_is_done(tui):
    app, built = tui
    offline(built.orchestrator)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        table = app.screen.table
        assert table.cell_text(GAME, STATE) == "installing: offline"
        assert table.cell_text(GAME, PROGRESS).startswith("█ ░ ░░░░░")
        assert built.server.stats.requests == 0
        toasts = [notification.message for notification in app._notifications]
        assert f"install {GAME}: requested; waiting for the network: the catalog is fetched " \
               "once the device is online" in toasts
        await press(app, pilot, "l")
        refusal = last_outcome(app)
        assert refusal.code == 1050 and "appNotLaunchable" in refusal.message
        assert "offline" in refusal.message
        assert not built.orchestrator.apps[GAME].launched
        await show(app, pilot, "3")
        await press(app, pilot, "o", "1")
        assert built.orchestrator.device.network.online
        await install_all(app, pilot)
        assert app.screen.table.cell_text(GAME, STATE) == "launchable"
        await press(app, pilot, "l")
        assert last_outcome(app).ok and built.orchestrator.apps[GAME].running
        assert app.screen.table.cell_text(GAME, STATE) == "launched, running"
        assert app.screen.table.cell_text(GAME, ALLOWANCE) == "unrestricted"


async def test_periodic_update_and_reinstall_from_keys(tui):
    app, built = tui
    orchestrator = built.orchestrator
    async with app.run_test(size=SIZE) as pilot:
        await install_all(app, pilot)
        await press(app, pilot, "down", "r")
        assert last_outcome(app).message == f"periodic {NEWS}: content request sent"
        assert orchestrator.journal.app(NEWS).last_periodic_at is not None
        assert app.screen.table.cell_text(NEWS, PERIODIC) == "in 1d00h"
        await press(app, pilot, "n")
        assert "version 1.0 is installed already" in last_outcome(app).message
        await press(app, pilot, "u")
        assert "version 1.0 is installed already" in last_outcome(app).message
        write_manifests(built.manifests[0].parents[2], built.server.url, version="2.0")
        await press(app, pilot, "u")
        assert last_outcome(app).message == f"update {NEWS}: 1.0 -> 2.0 requested"
        assert orchestrator.journal.app(NEWS).version == "2.0"
        await settle(app, pilot)
        assert app.screen.table.cell_text(NEWS, VERSION) == "2.0"
        assert orchestrator.journal.app(GAME).version == "1.0"


async def test_quit_exits_with_code_zero(tui):
    app, _ = tui
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("q")
    assert app.return_code == 0


# The bundled examples' ids and names: the longest the demo shows.
EXAMPLES = {"com.example.level-packs": "Level Packs",
            "com.example.offline-models": "Offline Models",
            "com.example.wwdc-sessions": "WWDC Sessions"}


def example_manifests(root) -> list:
    paths = []
    for app_id, name in EXAMPLES.items():
        folder = root / app_id
        folder.mkdir(parents=True)
        group = f"group.{app_id}"
        (folder / "app.yaml").write_text(f"""\
apiVersion: bgassets/v1
kind: App
metadata: {{id: {app_id}, team: TEAM123456, name: {name}}}
spec:
  version: "12.0.1"
  appGroup: {group}
  manifestURL: http://127.0.0.1:9/catalog.json
  size: 100MiB
  maxInstallSize: 4GiB
  essentialMaxInstallSize: 1GiB
  initialDownloadRestrictions:
    downloadAllowance: 1000MiB
    essentialDownloadAllowance: 1000MiB
    domainAllowList: ["127.0.0.1"]
  extension: extension.yaml
""")
        (folder / "extension.yaml").write_text(f"""\
apiVersion: bgassets/v1
kind: Extension
metadata: {{id: {app_id}.downloader, app: {app_id}, team: TEAM123456}}
spec:
  appGroup: {group}
  rules: [{{destination: "{{filename}}"}}]
""")
        paths.append(folder / "app.yaml")
    return paths


def assert_every_column_fits(table) -> None:
    widths = [column.get_render_width(table) for column in table.ordered_columns]
    assert sum(widths) <= table.scrollable_content_region.width, widths
    lines = [table.render_line(y).text for y in range(table.size.height)]
    assert "Next periodic" in lines[0]
    for app_id, name in EXAMPLES.items():
        assert any(app_id in line and name in line for line in lines), (app_id, lines)


async def test_names_beside_ids_and_every_column_fits_160_columns(tmp_path):
    manifests = example_manifests(tmp_path / "manifests")
    offline_device = Device(network=Network(online=False))
    async with Orchestrator(tmp_path / "state", device=offline_device) as orchestrator:
        app = BgAssetsApp(in_process(lambda: contextlib.nullcontext(orchestrator)), manifests)
        async with app.run_test(size=SIZE) as pilot:
            await settle(app, pilot)
            table = app.screen.table
            assert table.shown_keys == sorted(EXAMPLES)
            for app_id, name in EXAMPLES.items():
                assert table.cell_text(app_id, NAME) == name
                assert table.cell_text(app_id, STATE) == "installing: offline"
                assert table.cell_text(app_id, ALLOWANCE) == "1000.0 MiB"
            assert_every_column_fits(table)
            await show(app, pilot, "3")
            await press(app, pilot, "b", "1")
            assert table.cell_text("com.example.wwdc-sessions", PERIODIC) == "off (no refresh)"
            assert_every_column_fits(table)


async def test_a_second_session_shows_the_installed_apps_complete_and_launchable(tmp_path):
    for session in ("first", "second"):
        async with scene(tmp_path) as built:
            app = BgAssetsApp(in_process(lambda: contextlib.nullcontext(built.orchestrator)),
                              built.manifests)
            async with app.run_test(size=SIZE) as pilot:
                if session == "first":
                    await install_all(app, pilot)
                    continue
                await settle(app, pilot)
                table = app.screen.table
                for app_id in (GAME, NEWS):
                    assert table.cell_text(app_id, STATE) == "launchable"
                    assert table.cell_text(app_id, PROGRESS) == "█ █ █████ 100%"
                assert built.server.stats.requests == 0  # nothing fetched again
                await press(app, pilot, "l")
                assert last_outcome(app).ok
                assert table.cell_text(GAME, STATE) == "launched, running"


async def test_pause_resume_and_cancel_install_from_the_apps_keys(tui):
    app, built = tui
    orchestrator = built.orchestrator
    offline(orchestrator)  # both installs wait for the network: neither is launchable
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        table = app.screen.table
        await press(app, pilot, "z")  # the first row: the game
        assert last_outcome(app).message == \
            f"pause-install {GAME}: 0 download(s) paused; resume-install to go on"
        assert table.cell_text(GAME, STATE) == "install paused"
        await press(app, pilot, "z")
        assert last_outcome(app).code == 1042 and "installPaused" in last_outcome(app).message
        await press(app, pilot, "l")
        assert last_outcome(app).code == 1050 and "paused" in last_outcome(app).message
        titles = {command.title for command in app.get_system_commands(app.screen)}
        assert {f"Resume install of {GAME}", f"Cancel install of {NEWS}"} <= titles

        held = asyncio.get_running_loop().create_future()
        orchestrator.events.subscribe(lambda e: e.event == EventKind.DOWNLOAD_PAUSED
                                      and e.data["download"] == "tutorial"
                                      and not held.done() and held.set_result(e))
        await show(app, pilot, "3")
        await press(app, pilot, "o")  # online: the game's plan is made, its downloads held
        await show(app, pilot, "1")
        assert (await asyncio.wait_for(held, 20)).data["reason"] == "install paused"
        await settle(app, pilot)
        row = app.state.downloads[f"{GAME}/tutorial"]
        assert (row.state, row.reason) == (DownloadState.PAUSED, "install paused")
        assert app.screen.table.cell_text(GAME, STATE) == "install paused"

        await press(app, pilot, "s")
        assert last_outcome(app).message == f"resume-install {GAME}: 4 download(s) resumed"
        await install_all(app, pilot)
        assert app.screen.table.cell_text(GAME, STATE) == "launchable"
        await press(app, pilot, "c")
        assert last_outcome(app).code == 1041 and GAME in orchestrator.apps


async def test_cancel_install_from_the_apps_screen_leaves_the_app_not_installed(tui):
    app, built = tui
    orchestrator = built.orchestrator
    offline(orchestrator)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await press(app, pilot, "down", "c")
        assert last_outcome(app).message == \
            f"cancel-install {NEWS}: 0 download(s) cancelled; the app is not installed"
        assert NEWS not in orchestrator.apps
        assert not (orchestrator.state_dir / "containers" / f"group.{NEWS}").exists()
        assert app.screen.table.cell_text(NEWS, STATE) == "not installed"
        assert app.screen.table.cell_text(GAME, STATE) == "installing: offline"
async def test_bytes_over_max_install_size_are_shown_red_with_the_excess(tmp_path):
    async with scene(tmp_path, max_install_size="1MiB") as built:
        app = BgAssetsApp(in_process(lambda: contextlib.nullcontext(built.orchestrator)),
                          built.manifests)
        async with app.run_test(size=SIZE) as pilot:
            await install_all(app, pilot)
            table = app.screen.table
            # 1 MiB of app and 416 KiB delivered, against a maxInstallSize of 1 MiB.
            assert table.cell_text(GAME, DISK) == "1.4 MiB"
            assert table.cell_text(NEWS, DISK) == "1.1 MiB"
            summary = str(app.screen.query_one("#apps-summary").render())
            assert (f"over maxInstallSize: {GAME} by 416.0 KiB (max 1.0 MiB), "
                    f"{NEWS} by 144.0 KiB (max 1.0 MiB)") in summary
