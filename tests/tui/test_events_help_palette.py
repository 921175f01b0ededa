"""Events log and its filters, the Help screen's bindings, and actions from the palette."""

from __future__ import annotations

from textual.screen import Screen

from tests.tui.drive import install_all, last_outcome, press, settle
from tests.tui.scenario import GAME, NEWS

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
        await app.controls.orchestrator.periodic(GAME)
        await settle(app, pilot)
        assert len(log.lines) == 2  # filtered out: game's events are not news


async def test_help_lists_every_binding_of_every_screen(tui):
    """Checked against the bindings Textual resolves on each screen as it is shown, so a
    binding the help's own list misses (a new screen, a key added at run time) fails."""
    app, _ = tui
    modes = [binding for binding in app.BINDINGS if binding.key in "12345"]
    shown: set[tuple[str, str]] = set()
    async with app.run_test(size=SIZE) as pilot:
        for mode in modes:
            await press(app, pilot, mode.key)
            for active in app.active_bindings.values():
                binding = active.binding
                if binding.system or not binding.show or not (
                        active.node is app or isinstance(active.node, Screen)):
                    continue  # Textual's own, and the focused widget's (table navigation)
                place = "everywhere" if active.node is app else mode.description
                shown.add((place, binding.key_display or binding.key))
        await press(app, pilot, "question_mark")
        table = app.screen.query_one("#bindings")
        rows = [tuple(str(cell) for cell in table.get_row_at(i)) for i in range(table.row_count)]
    listed = {(where, key) for where, keys, what in rows if what
              for key in [keys, *keys.split(",")]}
    assert len(shown) > 15
    assert shown - listed == set(), "bindings missing from the help"
    assert ("Apps", "l", "launch the selected app (refused while essential downloads pend)") \
        in rows
    assert ("everywhere", "ctrl+p") in listed


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
