"""Downloads screen: rows from events; promote, pause, resume, cancel; sort, filter, detail."""

from __future__ import annotations

import time

from tests.tui.drive import (
    install_all,
    installed_offline,
    last_outcome,
    offline_after_first_catalog,
    press,
    settle,
    show,
)
from tests.tui.scenario import GAME, NEWS
from tui.screens.detail import DownloadDetail

SIZE = (160, 40)
ID, APP, ESSENTIAL, PRIORITY, STATE, PROGRESS, SPEED, ETA, ERROR = range(9)


async def select(app, pilot, key: str) -> None:
    table = app.screen.table
    table.move_cursor(row=table.shown_keys.index(key), animate=False)
    await pilot.pause()


async def test_offline_rows_wait_essential_first_then_finish_online(tui):
    app, built = tui
    offline_after_first_catalog(built.orchestrator)
    async with app.run_test(size=SIZE) as pilot:
        await press(app, pilot, "2")
        table = app.screen.table
        assert table.shown_keys == [f"{GAME}/tutorial", f"{GAME}/level-1", f"{GAME}/thumbs",
                                    f"{GAME}/level-2"]
        assert {table.cell_text(key, STATE) for key in table.shown_keys} == {"waiting"}
        assert table.cell_text(f"{GAME}/tutorial", ESSENTIAL) == "yes"
        assert table.cell_text(f"{GAME}/level-1", PRIORITY) == "90"
        assert built.server.stats.requests_by_path["/game/tutorial.bin"] == 0
        assert built.server.stats.requests_by_path["/news/catalog.json"] == 0
        await show(app, pilot, "3")
        await press(app, pilot, "o", "2")
        await install_all(app, pilot)
        assert {table.cell_text(key, STATE) for key in table.shown_keys} == {"finished"}
        assert table.cell_text(f"{NEWS}/archive", PROGRESS).endswith("100%")
        status = str(app.screen.query_one("#downloads-status").render())
        assert status.startswith("showing 6 of 6 matching (6 in all), active first")


async def test_promote_is_refused_until_the_app_runs(tui):
    app, built = tui
    await installed_offline(built.orchestrator, built.manifests)
    async with app.run_test(size=SIZE) as pilot:
        await press(app, pilot, "2")
        table = app.screen.table
        # Priority orders one app's downloads: across apps the rows interleave by rank.
        assert table.shown_keys == [f"{GAME}/tutorial", f"{GAME}/level-1", f"{NEWS}/front-page",
                                    f"{GAME}/thumbs", f"{NEWS}/archive", f"{GAME}/level-2"]
        assert {table.cell_text(key, STATE) for key in table.shown_keys} == {"waiting"}
        await select(app, pilot, f"{GAME}/level-1")
        await press(app, pilot, "p")
        refusal = last_outcome(app)
        assert refusal.code == 51 and "callFromInactiveProcessNotAllowed" in refusal.message
        assert not built.orchestrator.queue.tracked[f"group.{GAME}/level-1"].foreground


async def test_pause_resume_and_cancel_from_keys(tui):
    app, built = tui
    orchestrator = built.orchestrator
    offline_after_first_catalog(orchestrator)
    async with app.run_test(size=SIZE) as pilot:
        await press(app, pilot, "2")
        await select(app, pilot, f"{GAME}/level-1")
        await press(app, pilot, "z")
        assert last_outcome(app).message == f"{GAME}/level-1: paused"
        assert app.screen.table.cell_text(f"{GAME}/level-1", STATE) == "paused: paused by request"
        await select(app, pilot, f"{GAME}/level-2")
        await press(app, pilot, "c")
        assert last_outcome(app).message == f"{GAME}/level-2: cancelled"
        assert app.screen.table.cell_text(f"{GAME}/level-2", STATE) == "failed"
        assert app.screen.table.cell_text(f"{GAME}/level-2", ERROR).startswith("1040 cancelled")
        await select(app, pilot, f"{GAME}/level-1")
        await press(app, pilot, "s")
        assert last_outcome(app).message == f"{GAME}/level-1: resumed"
        assert app.screen.table.cell_text(f"{GAME}/level-1", STATE) == "waiting"  # offline
        await press(app, pilot, "z")
        await show(app, pilot, "3")
        await press(app, pilot, "o", "2")
        await orchestrator.wait(GAME, "essential", timeout=20)
        await orchestrator.wait(NEWS, "all", timeout=20)
        await settle(app, pilot)
        assert f"group.{GAME}/level-1" in orchestrator.queue.tracked  # still paused
        assert app.screen.table.cell_text(f"{GAME}/level-1", STATE) == "paused: paused by request"
        await select(app, pilot, f"{GAME}/level-1")
        await press(app, pilot, "s")
        assert last_outcome(app).message == f"{GAME}/level-1: resumed"
        await install_all(app, pilot)
        assert app.screen.table.cell_text(f"{GAME}/level-1", STATE) == "finished"
        failed = orchestrator.journal.download(f"group.{GAME}/level-2")
        assert failed.error_code == 1040


async def test_sort_by_column_and_filter(tui):
    app, _ = tui
    async with app.run_test(size=SIZE) as pilot:
        await install_all(app, pilot)
        await show(app, pilot, "2")
        await press(app, pilot, "o")  # first column: id
        table = app.screen.table
        ids = [table.cell_text(key, ID) for key in table.shown_keys]
        assert ids == sorted(ids)
        app.screen.sort_by("priority")
        await settle(app, pilot)
        assert [table.cell_text(k, PRIORITY) for k in table.shown_keys] == \
            ["90", "80", "50", "50", "50", "10"]
        await press(app, pilot, "slash", *"news")
        assert table.shown_keys == [f"{NEWS}/front-page", f"{NEWS}/archive"]
        await press(app, pilot, "enter")
        assert app.screen.table.has_focus
        await press(app, pilot, "slash", *"game essential")  # focus selects the old text
        assert table.shown_keys == [f"{GAME}/tutorial"]
        status = str(app.screen.query_one("#downloads-status").render())
        assert status.startswith("showing 1 of 1 matching (6 in all), sorted by priority")


async def history_shown(app, pilot) -> list[str]:
    """The detail view's history lines (without their times), once the journal's are in:
    they are read in a worker."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        await settle(app, pilot)
        text = str(app.screen.query_one("#detail-text").render())
        lines = text.split("\nhistory\n")[1].split("\n\n")[0].splitlines()
        if lines:
            return [line.split(maxsplit=1)[1] for line in lines]
        await pilot.pause(0.02)
    raise AssertionError("the journal's history never showed")


async def test_detail_view_shows_the_download_and_closes(tui):
    app, built = tui
    async with app.run_test(size=SIZE) as pilot:
        await install_all(app, pilot)
        await press(app, pilot, "2")
        await select(app, pilot, f"{GAME}/tutorial")
        await press(app, pilot, "enter")
        assert isinstance(app.screen, DownloadDetail)
        text = str(app.screen.query_one("#detail-text").render())
        assert "tutorial of com.example.game" in text
        assert f"url          {built.server.url}game/tutorial.bin" in text
        assert "download.finished" in text and "essential    yes" in text
        assert await history_shown(app, pilot) == [
            "waiting (scheduled)", "downloading (started)", "finished (finished)"]
        await press(app, pilot, "escape")
        assert not isinstance(app.screen, DownloadDetail)


async def test_promote_once_the_app_runs_moves_it_to_the_foreground(tui):
    app, built = tui
    orchestrator = built.orchestrator
    offline_after_first_catalog(orchestrator)
    async with app.run_test(size=SIZE) as pilot:
        await press(app, pilot, "2")
        await select(app, pilot, f"{GAME}/level-2")
        await press(app, pilot, "z")
        await show(app, pilot, "3")
        await press(app, pilot, "o")
        await orchestrator.wait(GAME, "essential", timeout=20)
        await show(app, pilot, "1")
        await press(app, pilot, "l")
        assert orchestrator.apps[GAME].running
        await show(app, pilot, "3")
        await press(app, pilot, "o")
        assert not orchestrator.device.network.online
        await show(app, pilot, "2")
        await select(app, pilot, f"{GAME}/level-2")
        await press(app, pilot, "p")
        refusal = last_outcome(app)
        assert refusal.code == 1021 and "the device is offline" in refusal.message
        assert app.screen.table.cell_text(f"{GAME}/level-2", STATE) == "paused: paused by request"
        assert not orchestrator.queue.tracked[f"group.{GAME}/level-2"].foreground
        await show(app, pilot, "3")
        await press(app, pilot, "o")
        await show(app, pilot, "2")
        await select(app, pilot, f"{GAME}/level-2")
        await press(app, pilot, "p")
        assert last_outcome(app).message == f"{GAME}/level-2: promoted to the foreground"
        await install_all(app, pilot)
        assert app.screen.table.cell_text(f"{GAME}/level-2", STATE) == "finished"
        assert app.state.downloads[f"{GAME}/level-2"].foreground
        assert orchestrator.journal.download(f"group.{GAME}/level-2").delivered
