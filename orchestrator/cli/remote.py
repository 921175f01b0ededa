"""The commands that talk to a running ``bgassets daemon`` on the same state dir.

``status`` and ``downloads`` read its views; ``promote``, ``cancel``, ``pause``,
``resume`` act on one download; ``launch``, ``terminate``, ``install``, ``update``
and ``uninstall`` drive an app's lifecycle, ``pause-install``, ``resume-install`` and
``cancel-install`` an install while it runs; ``purge`` evicts purgeable files.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from orchestrator.cli.state_dir import StateDirAccess
from orchestrator.model.enums import ContentRequest

if TYPE_CHECKING:
    from orchestrator.model.device import Device
    from orchestrator.service.views import AppView, DownloadView, StorageView

DOWNLOAD_ACTIONS = {"promote": "start a download in the foreground now (its app must be "
                               "running: see launch)",
                    "cancel": "cancel a download", "pause": "pause a download",
                    "resume": "resume a download paused by request"}
APP_ACTIONS = {"launch": "launch an app: it runs, and may promote its downloads",
               "terminate": "terminate a running app: its callbacks go to its extension "
                            "again",
               "uninstall": "uninstall an app: its container, staging files and journal "
                            "rows go"}
INSTALL_ACTIONS = {"pause-install": "pause an app's install or update: every download of it "
                                    "holds, and the app is not launchable until resumed",
                   "resume-install": "resume a paused install: its downloads continue from "
                                     "the bytes on disk",
                   "cancel-install": "cancel an app's install: its downloads stop and the app "
                                     "ends not installed (no container, no journal rows)"}
MANIFEST_ACTIONS = {"install": "install the app of an app manifest (an update when its "
                               "version changed)",
                    "update": "update an installed app from its edited app manifest"}
VIEWS = {"status": "apps and device as the daemon sees them",
         "downloads": "pending and recent downloads"}
# Every command of this module, for ``bgassets daemon --help``.
CLIENT_COMMANDS = (*VIEWS, *DOWNLOAD_ACTIONS, "purge", *APP_ACTIONS, *INSTALL_ACTIONS,
                   *MANIFEST_ACTIONS)


def register(subparsers: Any) -> None:
    for name, text in VIEWS.items():
        parser = _parser(subparsers, name, text, f"Show {text}.")
        parser.add_argument("--app", metavar="APP_ID", help="act as this app (see only its data)")
    for name, text in DOWNLOAD_ACTIONS.items():
        parser = _parser(subparsers, name, text,
                         f"{text[0].upper()}{text[1:]}: ID is the download's id.")
        parser.add_argument("download", metavar="ID", help="the download's id")
        parser.add_argument("--app", metavar="APP_ID",
                            help="act as this app (the id is looked up among its downloads)")
    for name, text in (APP_ACTIONS | INSTALL_ACTIONS).items():
        parser = _parser(subparsers, name, text, f"{text[0].upper()}{text[1:]}.")
        parser.add_argument("app_id", metavar="ID", help="the app's id (metadata.id)")
    for name, text in MANIFEST_ACTIONS.items():
        parser = _parser(subparsers, name, text,
                         f"{text[0].upper()}{text[1:]}: the daemon reads APP.yaml and its "
                         "extension manifest.")
        parser.add_argument("manifest", type=Path, metavar="APP.yaml",
                            help="the app manifest (kind: App)")
    parser = _parser(subparsers, "purge", "free space by evicting purgeable files",
                     "Evict purgeable files (those under Library/Caches of an app group "
                     "container), apps not running and least recently used first; each "
                     "evicted file is an asset.purged event.")
    parser.add_argument("--bytes", metavar="N", help="free at least N bytes (e.g. 500MiB; "
                        "default: every purgeable file)")
    parser.add_argument("--app", metavar="APP_ID", help="evict only this app's files")


def _parser(subparsers: Any, name: str, text: str, description: str) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        name, help=f"{text} (needs `bgassets daemon`)", description=description,
        epilog="Talks to the `bgassets daemon` of the same --state-dir. Exit codes: 0 done, "
        "1 refused (the error names the code) or no daemon, 2 usage error.")
    parser.add_argument("--json", action="store_true", help="print the daemon's answer as JSON")
    parser.set_defaults(handler=run, remote=name, state_dir_access=StateDirAccess.READ)
    return parser


def run(args: argparse.Namespace) -> int:
    from orchestrator.errors import UsageError
    from orchestrator.model.units import parse_size

    args.amount = None
    if args.remote == "purge" and args.bytes:
        try:
            args.amount = parse_size(args.bytes)
        except ValueError as error:
            raise UsageError(f"--bytes: {error}") from None
    if args.remote in MANIFEST_ACTIONS and not args.manifest.is_file():
        raise UsageError(f"{args.manifest}: no such file")
    answer = asyncio.run(_ask(args))
    if args.json:
        print(json.dumps(_as_json(answer), indent=2))
    else:
        print(_text(args.remote, answer))
    return 0


def _as_json(answer: Any) -> Any:
    """An answer as JSON: the views as the control API writes them, the rest as it is."""
    from orchestrator.service.views import DownloadView, Snapshot, to_json

    if isinstance(answer, Snapshot):
        return to_json(answer)
    if isinstance(answer, list):
        return [to_json(view) if isinstance(view, DownloadView) else view for view in answer]
    return answer


async def _ask(args: argparse.Namespace) -> Any:
    from orchestrator.control import ControlClient, socket_path

    scope = getattr(args, "app", None) if args.remote in (*VIEWS, *DOWNLOAD_ACTIONS) else None
    async with ControlClient(socket_path(args.state_dir), app=scope) as client:
        if args.remote == "status":
            return await client.snapshot()
        if args.remote == "downloads":
            return await client.download_views()
        if args.remote == "purge":
            return {"freed": await client.purge(args.amount, app=args.app), "app": args.app}
        if args.remote in APP_ACTIONS:
            return await client.app_action(args.app_id, args.remote)
        if args.remote in INSTALL_ACTIONS:
            return await client.install_action(args.app_id, args.remote.split("-")[0])
        if args.remote in MANIFEST_ACTIONS:
            return await client.install(args.manifest,
                                        request=ContentRequest[args.remote.upper()])
        return await client.act(args.download, args.remote)


def _text(command: str, answer: Any) -> str:
    from orchestrator.model.units import format_size

    if command == "status":
        return "\n".join([*(_app_line(app) for app in answer.apps.values()),
                          storage_line(answer.storage), _device_line(answer.device)])
    if command == "downloads":
        return "\n".join(_download_line(row) for row in answer) or "no downloads"
    if command == "purge":
        return f"freed {format_size(answer['freed'])}" + \
            (f" of {answer['app']}" if answer.get("app") else "")
    if command in MANIFEST_ACTIONS:
        return f"{answer['action']}: {answer['app']} {answer['version']}"
    if command in APP_ACTIONS:
        return f"{answer['action']}: {answer['app']}"
    if command in INSTALL_ACTIONS:
        return _install_text(answer)
    return f"{answer['action']}: {answer['download']} ({answer['app']})"


def _install_text(answer: dict[str, Any]) -> str:
    count = answer["downloads"]
    done = {"pause-install": "paused", "resume-install": "resumed",
            "cancel-install": "cancelled"}[answer["action"]]
    state = answer.get("state") or "not installed"
    return f"{answer['action']}: {answer['app']} ({count} download(s) {done}; now {state})"


def _app_line(app: AppView) -> str:
    from orchestrator.model.units import format_size

    running = ", running" if app.running else ""
    waiting = app.waiting_request
    over = app.over_max_install_size
    return (f"{app.id:<32} {app.state + running:<20} install {app.progress:4.0%}  "
            f"{app.pending} pending  runtime {app.runtime_today:.1f}/"
            f"{app.runtime_allotment:.0f} s  on disk {format_size(app.size_on_disk)}"
            + (f"  (over maxInstallSize {format_size(app.max_install_size)} by "
               f"{format_size(over)})" if over else "")
            + (f"  ({waiting.name.lower()} request waiting for the network)" if waiting else "")
            + ("  (install paused: resume-install or cancel-install it)"
               if app.install_paused else ""))


def storage_line(storage: StorageView) -> str:
    """The disk as ``status`` prints it: free, reserve, available and purgeable."""
    from orchestrator.model.units import format_size

    kind = "simulated" if storage.simulated else "measured"
    return (f"storage ({kind}): {format_size(storage.free)} free of "
            f"{format_size(storage.capacity)}, reserve {format_size(storage.reserve)}, "
            f"{format_size(storage.available)} available to downloads, "
            f"{format_size(storage.purgeable)} purgeable, {format_size(storage.delivered)} "
            "delivered")


def _device_line(device: Device) -> str:
    from orchestrator.model.units import format_size

    def on(flag: bool) -> str:
        return "on" if flag else "off"

    refresh, storage, network = device.background_refresh, device.storage, device.network
    disk = "measured" if storage.capacity is None else (
        f"{format_size(storage.used)} used of {format_size(storage.capacity)}")
    disk += f" (reserve {format_size(storage.reserve)})"
    off_for = sorted(app for app, allowed in refresh.apps.items() if not allowed)
    where = ("online" if network.online else "offline") + (", metered" if network.metered else "")
    return (f"device {device.name or 'default'}: {where}; "
            f"low power mode {on(device.low_power_mode)}; background refresh "
            f"{on(refresh.enabled)}" + (f" (off for {', '.join(off_for)})" if off_for else "")
            + f"; in-app content {on(device.in_app_content)}; storage {disk}; runtime "
            f"allotment {device.daily_allotment_seconds} s a day")


def _download_line(row: DownloadView) -> str:
    from orchestrator.model.units import format_size

    total = format_size(row.total) if row.total else "?"
    line = (f"{row.app:<32} {row.id:<28} {row.state.label:<11} "
            f"{format_size(row.bytes)} of {total}")
    if row.reason:
        line += f"  ({row.reason})"
    if row.speed:
        line += f"  {format_size(int(row.speed))}/s"
    if row.error:
        line += f"  error {row.error}"
    return line
