"""Apps screen: installs on start, state and progress per app, launch, periodic, update."""

from __future__ import annotations

from tests.tui.drive import install_all, last_outcome, offline, press, settle, show
from tests.tui.scenario import GAME, NEWS, write_manifests

SIZE = (160, 40)
STATE, PROGRESS, ALLOWANCE, ESSENTIAL, RUNTIME, PERIODIC = 2, 3, 4, 5, 6, 7


async def test_installs_every_app_and_shows_them_launchable(tui):
    app, built = tui
    async with app.run_test(size=SIZE) as pilot:
        await install_all(app, pilot)
        table = app.screen.table
        assert table.shown_keys == [GAME, NEWS]
        for app_id in (GAME, NEWS):
            assert built.orchestrator.apps[app_id].launchable
            assert table.cell_text(app_id, STATE) == "launchable"
            assert table.cell_text(app_id, PROGRESS) == (
                "app ████ install ████ essential ████ 100%")
        record = built.orchestrator.journal.app(GAME)
        assert record.essential_bytes_used == 256 * 1024
        assert table.cell_text(GAME, ESSENTIAL) == "256.0 KiB / 768.0 KiB"
        assert table.cell_text(GAME, RUNTIME) == "0s / 10m00s"
        assert table.cell_text(GAME, PERIODIC) == "in 1d00h"  # the install counts as a run
        await pilot.pause()
        toasts = [notification.message for notification in app._notifications]
        assert f"{GAME} is launchable" in toasts and f"{NEWS} is launchable" in toasts


async def test_launch_is_refused_until_the_essential_download_ends(tui):
    app, built = tui
    offline(built.orchestrator)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        assert app.screen.table.cell_text(GAME, STATE) == "installing"
        assert app.screen.table.cell_text(GAME, PROGRESS).startswith(
            "app ████ install ████ essential ░░░░")
        await press(app, pilot, "l")
        refusal = last_outcome(app)
        assert refusal.code == 1050 and "appNotLaunchable" in refusal.message
        assert "tutorial" in refusal.message
        assert not built.orchestrator.apps[GAME].launched
        await show(app, pilot, "3")
        await press(app, pilot, "o", "1")
        assert built.orchestrator.device.network.online
        await install_all(app, pilot)
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
        assert app.screen.table.cell_text(NEWS, 1) == "2.0"
        assert orchestrator.journal.app(GAME).version == "1.0"


async def test_quit_exits_with_code_zero(tui):
    app, _ = tui
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("q")
    assert app.return_code == 0
