"""One controls protocol: a client of a daemon reads and does exactly what one in process does.

A real orchestrator serves its control socket; :class:`LocalControls` talks to it in
process and :class:`RemoteControls` over the socket, and the test holds them side by
side: the same views, the same effects, the same refusals.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import replace

import pytest

from orchestrator.control import ControlClient, ControlServer, socket_path
from orchestrator.control.remote import RemoteControls, attached
from orchestrator.errors import BackgroundAssetsError, ErrorCode
from orchestrator.model.enums import DownloadState
from orchestrator.service.controls import Controls, LocalControls
from orchestrator.service.views import AppState, DownloadView
from tests.tui.drive import installed_offline
from tests.tui.scenario import GAME, NEWS, scene

pytestmark = pytest.mark.timeout(30)


@pytest.fixture
async def both(tmp_path) -> AsyncIterator[tuple[LocalControls, RemoteControls]]:
    """Both scenario apps installed offline, every download waiting, served on a socket."""
    async with scene(tmp_path) as built:
        await installed_offline(built.orchestrator, built.manifests)
        path = socket_path(tmp_path / "state")
        async with ControlServer(built.orchestrator, path), attached(path) as remote:
            yield LocalControls(built.orchestrator), remote


def by_key(views: list[DownloadView]) -> dict[str, DownloadView]:
    return {view.key: view for view in views}


async def current(remote: RemoteControls, condition, timeout: float = 5.0) -> None:
    """Read the daemon's status until ``condition(snapshot)`` holds."""
    deadline = time.monotonic() + timeout
    while True:
        await remote.load_status()
        if condition(remote.snapshot()):
            return
        if time.monotonic() > deadline:
            raise AssertionError("the daemon's status never showed the change")
        await asyncio.sleep(0.02)


async def test_both_read_the_same_views(both):
    local, remote = both
    here, there = local.snapshot(), remote.snapshot()
    assert list(there.apps) == [GAME, NEWS]
    assert there.apps == here.apps and there.device == here.device
    assert there.apps[GAME].state == AppState.INSTALLING  # its essential download waits
    assert there.apps[NEWS].state == AppState.LAUNCHABLE
    assert abs(there.at - here.at) < 5
    pending_here, pending_there = by_key(await local.downloads()), by_key(await remote.downloads())
    assert pending_there == pending_here
    assert {view.state for view in pending_there.values()} == {DownloadState.WAITING}
    view = remote.download(NEWS, "archive")
    assert view == local.download(NEWS, "archive")
    assert view is not None and view.url.endswith("news/archive.bin") and view.total == 96 * 1024


async def test_a_pause_through_either_reads_paused_through_both(both: tuple[Controls, ...]):
    local, remote = both
    assert await remote.pause("archive", NEWS) == NEWS
    for controls in (local, remote):
        view = by_key(await controls.downloads())[f"{NEWS}/archive"]
        assert (view.state, view.reason, view.speed) == (
            DownloadState.PAUSED, "paused by request", None)
    assert await local.resume("archive") == NEWS  # by id alone: the first app's
    view = by_key(await remote.downloads())[f"{NEWS}/archive"]
    assert view.state == DownloadState.WAITING and view.reason is None


async def test_device_changes_and_refusals_are_the_same_through_both(both):
    local, remote = both
    device = remote.snapshot().device
    changed = await remote.set_device(replace(device, low_power_mode=True))
    assert changed.low_power_mode and local.snapshot().device.low_power_mode
    assert not changed.network.online  # only the switch that changed was sent
    for controls in (local, remote):
        await controls.launch(NEWS)
        with pytest.raises(BackgroundAssetsError) as offline:
            await controls.promote("archive", NEWS)  # offline: it waits in the background
        assert offline.value.code == ErrorCode.NETWORK_ERROR
        with pytest.raises(BackgroundAssetsError) as elsewhere:
            await controls.pause("archive", GAME)
        assert elsewhere.value.code == ErrorCode.DOWNLOAD_NOT_SCHEDULED
        with pytest.raises(BackgroundAssetsError) as unknown:
            await controls.launch("com.example.nothing")
        assert unknown.value.code == ErrorCode.APP_NOT_INSTALLED
        await controls.terminate(NEWS)
    await remote.launch(NEWS)
    await current(remote, lambda snapshot: snapshot.apps[NEWS].running)
    assert local.snapshot().apps[NEWS] == remote.snapshot().apps[NEWS]
    assert local.snapshot().apps[NEWS].state == AppState.LAUNCHED


async def test_an_install_through_the_socket_reads_the_new_version(both, tmp_path):
    local, remote = both
    assert await remote.install(NEWS) == NEWS  # the manifest the daemon installed it from
    assert remote.snapshot().apps[NEWS].version == "1.0"
    with pytest.raises(BackgroundAssetsError) as missing:
        await remote.update("com.example.nothing")
    assert missing.value.code == ErrorCode.APP_NOT_INSTALLED
    assert await remote.purge() == await local.purge() == 0  # nothing delivered offline


async def test_a_downloads_history_is_the_journals_through_both(both):
    local, remote = both
    await remote.pause("archive", NEWS)
    await remote.resume("archive", NEWS)
    here = await local.history(NEWS, "archive")
    assert await remote.history(NEWS, "archive") == here
    assert [(entry.state, entry.reason) for entry in here][:1] == [
        (DownloadState.WAITING, "scheduled")]
    assert all(a.at <= b.at for a, b in zip(here, here[1:], strict=False))
    for controls in (local, remote):
        with pytest.raises(BackgroundAssetsError) as unknown:
            await controls.history(NEWS, "nothing")
        assert unknown.value.code == ErrorCode.DOWNLOAD_NOT_SCHEDULED
    async with ControlClient(remote.path, app=GAME) as game:
        with pytest.raises(BackgroundAssetsError) as other:
            await game.history(NEWS, "archive")  # an app reads its own downloads only
        assert other.value.code == ErrorCode.CALL_FROM_EXTENSION_NOT_ALLOWED
        assert [entry.state for entry in await game.history(GAME, "tutorial")][:1] == [
            DownloadState.WAITING]


async def test_an_install_paused_resumed_and_cancelled_through_either_reads_alike(both):
    local, remote = both
    assert await remote.pause_install(GAME) == 4  # every download of the game waits
    assert remote.snapshot().apps[GAME] == local.snapshot().apps[GAME]
    assert remote.snapshot().apps[GAME].state == AppState.PAUSED
    for controls in (local, remote):
        views = [view for view in await controls.downloads(GAME) if view.pending]
        assert {(view.state, view.reason) for view in views} == {
            (DownloadState.PAUSED, "install paused")}
        for call, code in ((controls.pause_install, ErrorCode.INSTALL_PAUSED),
                           (controls.cancel_install, ErrorCode.INSTALL_NOT_IN_PROGRESS)):
            with pytest.raises(BackgroundAssetsError) as refused:
                await call(GAME if code == ErrorCode.INSTALL_PAUSED else NEWS)
            assert refused.value.code == code
        with pytest.raises(BackgroundAssetsError) as alone:
            await controls.resume("tutorial", GAME)
        assert alone.value.code == ErrorCode.INSTALL_PAUSED
    assert await local.resume_install(GAME) == 4
    await current(remote, lambda snapshot: snapshot.apps[GAME].state == AppState.INSTALLING)
    with pytest.raises(BackgroundAssetsError) as not_paused:
        await remote.resume_install(GAME)
    assert not_paused.value.code == ErrorCode.INSTALL_NOT_PAUSED
    assert await remote.cancel_install(GAME) == 4
    assert GAME not in remote.snapshot().apps and GAME not in local.snapshot().apps
