"""Commands that cannot change the device: offline, they stop instead of waiting forever.

``simulate`` and ``run --headless`` read the device once, from a file, and nothing in
their process changes it afterwards (no UI, no control API). Offline, a content
request waits for the network and a download does not move, so waiting for either
would never end: these commands stop with one line instead.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from orchestrator.errors import BackgroundAssetsError, ErrorCode


def offline_error(device_file: Path | None) -> BackgroundAssetsError:
    """The error that names where the device was declared offline."""
    where = f" in {device_file}" if device_file is not None else ""
    return BackgroundAssetsError(
        f"the device is offline (network.online: false{where}): nothing can be fetched",
        ErrorCode.NETWORK_ERROR)


async def wait_unless_offline(orchestrator: Any, app_id: str, until: str | None,
                              device_file: Path | None, timeout: float | None = None) -> None:
    """``orchestrator.wait(app_id, until)``, on a device nothing changes.

    Offline, raises :func:`offline_error` when a content request of the app waits
    for the network, or when the wait is not over already. ``until`` None checks the
    request only and does not wait.
    """
    if not orchestrator.device.network.online and (
            orchestrator.waiting_request(app_id) is not None
            or (until is not None and not orchestrator.settled(app_id, until))):
        raise offline_error(device_file)
    if until is not None:
        await orchestrator.wait(app_id, until, timeout=timeout)
