"""The Textual app: wires the session, the bridge worker, the screens and the actions.

The session yields the service's :class:`Controls`: in process (the orchestrator
runs on the app's own event loop, entered by a worker so the message loop never
waits for it) or attached to a daemon; nothing else differs. One bridge worker
folds the event stream into :class:`tui.state.LiveState`; a timer repaints the
visible screen from that state and the service's views at most ten times a second.
Screens post :mod:`tui.messages`; the app runs them through :class:`Controller`.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any

from textual import work
from textual.app import App, ScreenStackError, SystemCommand
from textual.binding import Binding
from textual.css.query import NoMatches
from textual.message import Message
from textual.screen import Screen

from orchestrator.bulk import rare_collections
from orchestrator.errors import BackgroundAssetsError
from orchestrator.events import Event, EventKind
from orchestrator.service.controls import Controls, LocalControls
from orchestrator.service.orchestrator import Orchestrator
from tui.commands import system_commands
from tui.control import Controller, Outcome, refused
from tui.frame import Frame, LiveScreen
from tui.messages import (
    AppAction,
    DeviceAction,
    DownloadAction,
    DownloadHighlighted,
    PackRequest,
    PacksCheck,
    PacksStale,
    RedrawNow,
)
from tui.screens.apps import AppsScreen
from tui.screens.device import DeviceScreen
from tui.screens.downloads import DownloadsScreen
from tui.screens.events import EventsScreen
from tui.screens.help import HelpScreen
from tui.screens.packs import PacksScreen
from tui.state import LiveState

Session = Callable[[], AbstractAsyncContextManager[Controls]]
FRAME_SECONDS = 0.1
BRIDGE_QUEUE = 100_000
NOTABLE = frozenset({EventKind.APP_LAUNCHABLE, EventKind.EXTENSION_TERMINATED,
                     EventKind.DAEMON_LOST})


class BgAssetsApp(App[int]):
    """bgassets' live status and control; ``session`` yields the service's controls
    (:func:`in_process` makes such a session of one that yields an Orchestrator).

    ``rare_gc``: while the session is open, the garbage collector runs rarely
    (:func:`orchestrator.bulk.rare_collections`); for an app that is its process's main.
    """

    CSS_PATH = "app.tcss"
    TITLE = "bgassets"
    MODES = {"apps": AppsScreen, "downloads": DownloadsScreen, "device": DeviceScreen,
             "events": EventsScreen, "packs": PacksScreen, "help": HelpScreen}
    DEFAULT_MODE = "apps"
    BINDINGS = [
        Binding("1", "switch_mode('apps')", "Apps"),
        Binding("2", "switch_mode('downloads')", "Downloads"),
        Binding("3", "switch_mode('device')", "Device"),
        Binding("4", "switch_mode('events')", "Events"),
        # Not in the footer (the Help screen and the command palette list it).
        Binding("5", "switch_mode('packs')", "Packs", show=False),
        Binding("question_mark,f1", "switch_mode('help')", "Help", key_display="?"),
        Binding("q", "quit", "Quit"),
    ]

    class Notable(Message):
        """An event worth a notification on its own (an app became launchable, ran out)."""

        def __init__(self, event: Event) -> None:
            super().__init__()
            self.event = event

    def __init__(self, session: Session, manifests: Sequence[Path] = (), *,
                 install: bool = True, rare_gc: bool = False) -> None:
        super().__init__()
        self.session = session
        self.manifest_paths = list(manifests)
        self.install_on_start = install
        self.rare_gc = rare_gc
        self.state = LiveState()
        self.controls: Controls | None = None
        self.control: Controller | None = None
        self.outcomes: deque[Outcome] = deque(maxlen=200)
        self.ready = asyncio.Event()
        self.selection: dict[str, str | None] = {"download": None}
        self.frame_times: deque[float] = deque(maxlen=10_000)
        self.bridge_queue: asyncio.Queue[Event] | None = None

    def on_mount(self) -> None:
        self.start_session()
        self.set_interval(FRAME_SECONDS, self.repaint_paced)

    # Session and bridge ---------------------------------------------------------

    @work(group="session")
    async def start_session(self) -> None:
        """Enter the session, start the bridge, install every manifest, then keep it open."""
        try:
            async with self.session() as controls:
                self.controls = controls
                self.bridge_queue = controls.events.queue(BRIDGE_QUEUE)
                self.bridge(self.bridge_queue)
                control = Controller(controls, self.state, self._manifest_ids())
                await control.seed()
                self.control = control
                if self.install_on_start:
                    await self._install_all()
                # Textual's and the session's long-lived objects are never rescanned by the
                # collector, and each frame's strips and segments die young.
                with rare_collections() if self.rare_gc else contextlib.nullcontext():
                    self.ready.set()
                    await asyncio.Event().wait()
        except BackgroundAssetsError as error:
            self.exit(return_code=1, message=f"bgassets: error: {error.message}")

    def _manifest_ids(self) -> dict[str, Path]:
        from orchestrator.manifests import load_app

        ids = {}
        for path in self.manifest_paths:
            try:
                app, _ = load_app(path)
            except BackgroundAssetsError as error:
                self.report(refused(f"load {path}", error))
                continue
            ids[app.id] = path
        return ids

    async def _install_all(self) -> None:
        assert self.control is not None
        for app_id in self.control.manifests:
            if self.control.controls.snapshot().app(app_id) is None:
                self.report(await self.control.install(app_id))

    @work(group="bridge")
    async def bridge(self, queue: asyncio.Queue[Event]) -> None:
        """Fold every orchestrator event into the live state, a whole burst at a time.

        Screens read the state on the frame timer; only the few notable events
        become messages of their own.
        """
        while True:
            event = await queue.get()
            while True:
                self.state.apply(event)
                if event.event in NOTABLE:
                    self.post_message(self.Notable(event))
                if queue.empty():
                    break
                event = queue.get_nowait()

    def on_bg_assets_app_notable(self, message: Notable) -> None:
        event = message.event
        if event.event == EventKind.APP_LAUNCHABLE:
            self.notify(f"{event.app} is launchable", timeout=4)
        elif event.event == EventKind.DAEMON_LOST:
            self.sub_title = f"daemon gone ({event.data.get('socket')}): showing its last state"
            self.notify(str(event.data.get("message")), title="daemon gone", severity="error",
                        timeout=30)
        else:
            reason = event.data.get("reason") or event.data.get("message")
            self.notify(f"{event.app}: {event.event}: {reason}", severity="warning", timeout=6)

    def repaint_paced(self) -> None:
        """The frame timer's :meth:`repaint`: a screen may keep its own slower pace."""
        self.repaint(paced=True)

    def repaint(self, *, paced: bool = False) -> None:
        """The visible screen redraws what changed since its last frame (``paced``: for the
        frame timer, not for something a person asked)."""
        try:
            screen = self.screen
        except ScreenStackError:
            return  # between modes: the new mode's screen is not on its stack yet
        frame = self.frame(paced=paced)
        if not isinstance(screen, LiveScreen) or frame is None or not screen.is_mounted:
            return  # a screen just pushed has no widgets yet
        started = time.perf_counter()
        try:
            drawn = screen.refresh_from(frame)
        except NoMatches:
            return  # mounted, but its widgets are not composed yet: the next frame draws
        if drawn:
            self.frame_times.append(time.perf_counter() - started)

    def frame(self, *, paced: bool = False) -> Frame | None:
        """What a screen draws from now; None before the session is open."""
        if self.control is None:
            return None
        return Frame(self.state, self.control.controls, self.control.manifests, paced)

    # Actions ---------------------------------------------------------------------

    def report(self, outcome: Outcome) -> None:
        """Show an action's outcome: a notification, red with its code when refused."""
        self.outcomes.append(outcome)
        self.notify(outcome.message, severity="information" if outcome.ok else "error",
                    timeout=4 if outcome.ok else 8)

    def on_app_action(self, message: AppAction) -> None:
        """install, update, periodic (they wait for the catalog), launch, terminate, or
        pause-install, resume-install and cancel-install."""
        if self.control is None or not message.app_id:
            self.notify("no app selected", severity="warning")
            return
        calls = {"install": self.control.install, "update": self.control.update,
                 "periodic": self.control.periodic, "launch": self.control.launch,
                 "terminate": self.control.terminate,
                 "pause-install": self.control.pause_install,
                 "resume-install": self.control.resume_install,
                 "cancel-install": self.control.cancel_install}
        self.report_when_done(calls[message.verb](message.app_id))

    def on_download_action(self, message: DownloadAction) -> None:
        """promote, pause, resume or cancel the download of a table row."""
        if self.control is None or not message.row_key:
            self.notify("no download selected", severity="warning")
            return
        calls = {"promote": self.control.promote, "pause": self.control.pause,
                 "resume": self.control.resume, "cancel": self.control.cancel}
        self.report_when_done(calls[message.verb](message.row_key))

    def on_device_action(self, message: DeviceAction) -> None:
        """Toggle one device condition, or purge (``condition == "purge"``)."""
        if self.control is None:
            return
        if message.condition == "purge":
            self.report_when_done(self.control.purge())
        else:
            self.report_when_done(self.control.toggle(message.condition, message.app_id))

    def on_pack_request(self, message: PackRequest) -> None:
        """ensure, remove or rollback the asset pack of a Packs row."""
        if self.control is None or not message.app_id or not message.pack_id:
            self.notify("no asset pack selected", severity="warning")
            return
        self.report_when_done(self.control.pack(message.action, message.app_id,
                                                message.pack_id))

    def on_packs_check(self, message: PacksCheck) -> None:
        """Check an app's pack catalog for updates."""
        if self.control is None or not message.app_id:
            self.notify("no app selected", severity="warning")
            return
        self.report_when_done(self.control.check_packs(message.app_id))

    def on_packs_stale(self, message: PacksStale) -> None:
        if self.control is not None:
            self.read_packs(self.control, message.app_ids)

    @work(group="packs", exit_on_error=False)
    async def read_packs(self, control: Controller, app_ids: list[str]) -> None:
        """Read the apps' pack views into the live state (a daemon's over its socket)."""
        await control.read_packs(app_ids)
        self.repaint()

    def on_download_highlighted(self, message: DownloadHighlighted) -> None:
        self.selection["download"] = message.row_key

    def on_redraw_now(self, message: RedrawNow) -> None:
        self.repaint()

    @work(group="requests", exit_on_error=False)
    async def report_when_done(self, outcome: Awaitable[Outcome]) -> None:
        """Report an action's outcome once it is known (in a worker: a content request
        waits for the catalog, a daemon's answer for the socket)."""
        self.report(await outcome)

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        yield from system_commands(self, self.frame(), self.selection.get("download"), screen)


def run_app(app: BgAssetsApp) -> int:
    """Run ``app`` on the terminal; its return code (0 on quit, Ctrl-C included)."""
    with contextlib.suppress(KeyboardInterrupt):
        app.run()
    return app.return_code or 0


def in_process(session: Callable[[], AbstractAsyncContextManager[Orchestrator]]) -> Session:
    """A session yielding the controls of the orchestrator that ``session`` yields."""
    @contextlib.asynccontextmanager
    async def opened() -> AsyncIterator[Controls]:
        async with session() as orchestrator:
            yield LocalControls(orchestrator)

    return opened


def attached_app(path: Path, *, rare_gc: bool = False) -> BgAssetsApp:
    """The app attached to the daemon listening on ``path``: it installs nothing itself."""
    from orchestrator.control.remote import attached

    hint = "restart `bgassets tui` once the daemon runs again"
    app = BgAssetsApp(lambda: attached(path, hint), install=False, rare_gc=rare_gc)
    app.sub_title = f"attached to {path}"
    return app


def run_attached(path: Path) -> int:
    """``bgassets tui``: the app attached to a daemon; 0 on quit, the daemon keeps running."""
    return run_app(attached_app(path, rare_gc=True))
