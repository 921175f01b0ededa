"""Device screen: every condition toggled by key, per-app background refresh, purge."""

from __future__ import annotations

from dataclasses import replace

from orchestrator.model.units import format_size
from tests.tui.drive import install_all, last_outcome, press, settle, show
from tests.tui.scenario import APPS, DEVICE, GAME, NEWS, GiB

SIZE = (160, 40)


def conditions_text(app) -> str:
    return str(app.screen.query_one("#conditions").render())


def line(key: str, label: str, value: str) -> str:
    return f" {key}  {label:<30}{value}"


async def test_each_key_flips_one_condition_and_the_screen_shows_it(tui):
    app, built = tui
    orchestrator = built.orchestrator
    async with app.run_test(size=SIZE) as pilot:
        await install_all(app, pilot)
        await press(app, pilot, "3")
        assert line("w", "low power mode", "off") in conditions_text(app)
        read = {
            "w": lambda d: d.low_power_mode, "b": lambda d: d.background_refresh.enabled,
            "i": lambda d: d.in_app_content, "o": lambda d: d.network.online,
            "m": lambda d: d.network.metered,
        }
        for key, value in read.items():
            before = value(orchestrator.device)
            await press(app, pilot, key)
            assert value(orchestrator.device) is (not before), key
            word = "on" if not before else "off"
            assert last_outcome(app).message.endswith(f": {word}")
        text = conditions_text(app)
        assert line("w", "low power mode", "on") in text
        assert line("b", "background refresh (global)", "off") in text
        assert line("i", "in-app content", "off") in text
        assert line("o", "network online", "off") in text
        assert line("m", "network metered", "on") in text


async def test_background_refresh_per_app_refuses_its_periodic_run(tui):
    app, built = tui
    async with app.run_test(size=SIZE) as pilot:
        await install_all(app, pilot)
        await show(app, pilot, "3")
        await press(app, pilot, "down", "a")
        assert last_outcome(app).message == f"background refresh for {NEWS}: off"
        assert not built.orchestrator.device.background_refresh.allows(NEWS)
        assert built.orchestrator.device.background_refresh.allows(GAME)
        table = app.screen.query_one("#device-apps")
        assert table.cell_text(NEWS, 1) == "off" and table.cell_text(GAME, 1) == "on"
        await show(app, pilot, "1")
        await press(app, pilot, "down", "r")
        refusal = last_outcome(app)
        assert refusal.code == 111 and "background refresh is off" in refusal.message
        assert app.screen.table.cell_text(NEWS, 9) == "off (no refresh)"


async def test_purge_removes_the_cache_file_and_the_count(tui):
    app, built = tui
    cache = built.orchestrator.layout.container(f"group.{GAME}") / "Library/Caches/thumbs.bin"
    async with app.run_test(size=SIZE) as pilot:
        await install_all(app, pilot)
        await press(app, pilot, "3")
        assert cache.is_file()
        assert "storage used by purgeable assets: 32.0 KiB" in conditions_text(app)
        await press(app, pilot, "x")
        assert last_outcome(app).message == "purge: freed 32.0 KiB"
        assert not cache.exists()
        assert "storage used by purgeable assets: 0 B" in conditions_text(app)


async def test_the_app_switch_shows_what_it_set_also_while_the_global_switch_is_off(tui):
    app, built = tui

    def refresh():
        return built.orchestrator.device.background_refresh

    async with app.run_test(size=SIZE) as pilot:
        await install_all(app, pilot)
        await show(app, pilot, "3")
        table = app.screen.query_one("#device-apps")
        await press(app, pilot, "b")
        assert not refresh().enabled
        assert table.cell_text(NEWS, 1) == "on"
        assert table.cell_text(NEWS, 2) == "off (global switch off)"
        await press(app, pilot, "down", "a")
        assert last_outcome(app).message == f"background refresh for {NEWS}: off"
        assert refresh().apps[NEWS] is False
        assert table.cell_text(NEWS, 1) == "off"
        assert table.cell_text(NEWS, 2) == "off (global switch off)"
        await press(app, pilot, "a")
        assert last_outcome(app).message == (
            f"background refresh for {NEWS}: on (no effect while background refresh is off "
            "globally)")
        assert refresh().apps[NEWS] is True and not refresh().allows(NEWS)
        assert table.cell_text(NEWS, 1) == "on"
        assert table.cell_text(NEWS, 2) == "off (global switch off)"
        await press(app, pilot, "b")
        assert table.cell_text(NEWS, 1) == "on" and table.cell_text(NEWS, 2) == "on"
        assert table.cell_text(GAME, 1) == "on" and table.cell_text(GAME, 2) == "on"
        await press(app, pilot, "a")
        assert table.cell_text(NEWS, 1) == "off" and table.cell_text(NEWS, 2) == "off"
        assert table.cell_text(GAME, 2) == "on"


async def test_the_screen_shows_free_reserve_available_and_purgeable_bytes_live(tui):
    app, built = tui
    orchestrator = built.orchestrator
    storage = DEVICE.storage
    async with app.run_test(size=SIZE) as pilot:
        await install_all(app, pilot)
        await show(app, pilot, "3")
        # 64 GiB - 40 GiB used by others - what the two apps got delivered.
        delivered = sum(a.size for assets in APPS.values() for a in assets)
        assert orchestrator.delivered_bytes() == delivered
        free = storage.capacity - storage.used - delivered
        text = conditions_text(app)
        assert (f"storage (simulated): {format_size(free)} free of 64.0 GiB, reserve 2.0 GiB, "
                f"{format_size(free - storage.reserve)} available to downloads") in text
        assert "storage used by purgeable assets: 32.0 KiB" in text
        # The disk fills up elsewhere: the screen follows without a key.
        orchestrator.set_device(replace(DEVICE, storage=replace(storage, used=62 * GiB)))
        await settle(app, pilot)
        assert "reserve 2.0 GiB, 0 B available to downloads" in conditions_text(app)
