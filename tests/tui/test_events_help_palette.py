"""Events log and its filters, the Help screen's bindings, and actions from the palette."""

from __future__ import annotations

from tests.tui.drive import install_all, last_outcome, press, settle
from tests.tui.scenario import GAME, NEWS
from tui.screens.help import binding_rows

SIZE = (160, 40)


async def test_events_log_follows_and_filters_by_app_and_kind(tui):
    app, _ = tui
    async with app.run_test(size=SIZE) as pilot:
        await install_all(app, pilot)
        await press(app, pilot, "4")
        log = app.screen.log_widget
        lines = list(log.lines)
        assert any("download.finished" in line and "tutorial" in line for line in lines)
        assert not any("download.progress" in line for line in lines)
        await press(app, pilot, "slash", *"news")
        await settle(app, pilot)
        lines = list(log.lines)
        assert lines and all(NEWS in line for line in lines)
        await press(app, pilot, "tab", *"finished")
        await settle(app, pilot)
        lines = list(log.lines)
        assert len(lines) == 2 and all("download.finished" in line for line in lines)
        await press(app, pilot, "escape")
        await app.orchestrator.periodic(GAME)
        await settle(app, pilot)
        assert len(log.lines) == 2  # filtered out: game's events are not news


async def test_help_lists_every_binding_of_every_screen(tui):
    app, _ = tui
    async with app.run_test(size=SIZE) as pilot:
        await press(app, pilot, "question_mark")
        table = app.screen.query_one("#bindings")
        rows = [tuple(str(cell) for cell in table.get_row_at(i)) for i in range(table.row_count)]
        assert rows == [tuple(row) for row in binding_rows()]
        assert ("Apps", "l", "launch the selected app (refused while essential downloads pend)") \
            in rows
        places = {(where, key) for where, key, _ in rows}
        for expected in [("Downloads", "p"), ("Downloads", "z"), ("Downloads", "s"),
                         ("Downloads", "c"), ("Device", "x"), ("Device", "w"), ("Device", "a"),
                         ("everywhere", "q"), ("everywhere", "ctrl+p")]:
            assert expected in places


async def test_palette_runs_an_action_by_name(tui):
    app, built = tui
    async with app.run_test(size=SIZE) as pilot:
        await install_all(app, pilot)
        await pilot.press("ctrl+p")
        await pilot.press(*f"Launch {NEWS}")
        await pilot.pause(0.3)
        await press(app, pilot, "enter")
        assert last_outcome(app).message == f"{NEWS} launched"
        assert built.orchestrator.apps[NEWS].running and not built.orchestrator.apps[GAME].running
        titles = [command.title for command in app.get_system_commands(app.screen)]
        for title in ("Purge", f"Install {GAME}", f"Periodic run {NEWS}", "Toggle low power mode",
                      f"Toggle background refresh for {GAME}", "Show Downloads"):
            assert title in titles
