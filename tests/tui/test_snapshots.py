"""Snapshots of the main screens on a finished, fixed-clock scenario (no live speeds or times).

Update after an intended change with ``pytest tests/tui --snapshot-update`` and
look at the report before committing the new SVGs.
"""

from __future__ import annotations

import pytest

from tests.tui.drive import install_all, packs_read
from tests.tui.scenario import GAME, manifest_paths, orchestrator_session
from tui.app import BgAssetsApp, in_process

SIZE = (180, 32)


def finished_app(root) -> BgAssetsApp:
    return BgAssetsApp(in_process(lambda: orchestrator_session(root)), manifest_paths(root))


async def settled(pilot, *keys: str) -> None:
    app = pilot.app
    await install_all(app, pilot)
    app.controls.orchestrator.launch(GAME)
    await pilot.press(*keys)
    await install_all(app, pilot)
    app.clear_notifications()
    await pilot.pause()


# Downloads sorted by id: the default order puts recently ended rows by end time,
# which depends on the machine's timing.
@pytest.mark.parametrize("keys", [(), ("2", "o"), ("3",), ("question_mark",)],
                         ids=["apps", "downloads", "device", "help"])
def test_screen(snap_compare, tmp_path, keys):
    assert snap_compare(finished_app(tmp_path), terminal_size=SIZE,
                        run_before=lambda pilot: settled(pilot, *keys))


def test_packs_screen(snap_compare, tmp_path):
    """Game's asset packs after the install: two local and up to date, one on demand."""
    async def shown(pilot) -> None:
        await settled(pilot, "5")
        await packs_read(pilot.app, pilot)

    app = BgAssetsApp(in_process(lambda: orchestrator_session(tmp_path, packs=True)),
                      manifest_paths(tmp_path))
    assert snap_compare(app, terminal_size=SIZE, run_before=shown)
