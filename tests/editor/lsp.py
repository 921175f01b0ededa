"""A small Language Server Protocol client over stdio, enough to drive a real language server.

Messages are JSON-RPC 2.0 framed by ``Content-Length`` headers. A reader
thread parses the server's output into a queue so that every wait has a
deadline: a server that hangs or dies fails the test with what it wrote to
stderr instead of blocking it. The server's own requests
(``workspace/configuration``, ``client/registerCapability``, progress
tokens) are answered so that it never waits on the client.
"""

from __future__ import annotations

import contextlib
import json
import queue
import subprocess
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, BinaryIO

DEFAULT_TIMEOUT = 10.0

Message = dict[str, Any]


class LspError(RuntimeError):
    """The server answered with an error, sent something unreadable, went quiet or exited."""


def encode(message: Message) -> bytes:
    """``message`` as one framed JSON-RPC message."""
    body = json.dumps(message, separators=(",", ":")).encode("utf-8")
    return b"Content-Length: %d\r\n\r\n" % len(body) + body


def read_message(stream: BinaryIO) -> Message | None:
    """The next framed message of ``stream``; ``None`` at the end of the stream."""
    length = None
    while True:
        line = stream.readline()
        if not line:
            return None
        line = line.rstrip(b"\r\n")
        if not line:
            break
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    if length is None:
        raise LspError("a message without Content-Length")
    body = stream.read(length)
    if len(body) < length:
        return None
    return json.loads(body.decode("utf-8"))


class LanguageServer:
    """A language server process spoken to over its stdin and stdout.

    Use it as a context manager: leaving it asks the server to shut down and
    exit, and kills it if it has not within a few seconds.
    """

    def __init__(self, argv: Sequence[str], *, settings: Message | None = None,
                 stderr_path: Path | None = None, timeout: float = DEFAULT_TIMEOUT) -> None:
        self.settings = settings or {}
        self.timeout = timeout
        self._stderr_path = stderr_path
        self._stderr = open(stderr_path, "wb") if stderr_path else subprocess.DEVNULL  # noqa: SIM115
        self.process = subprocess.Popen(list(argv), stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, stderr=self._stderr)
        self._incoming: queue.Queue[Message | None] = queue.Queue()
        self._responses: dict[int, Message] = {}
        self._notifications: list[Message] = []
        self._next_id = 0
        self.configuration_pulls = 0
        self.pulls_configuration = False
        self._timed_out = False
        self._write_lock = threading.Lock()
        self._reader = threading.Thread(target=self._read, name="lsp-reader", daemon=True)
        self._reader.start()

    # Process lifetime

    def __enter__(self) -> LanguageServer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Shut the server down politely, else kill it; always reaps it.

        A server that has already let a wait time out is killed straight away.
        """
        try:
            if self.process.poll() is None and not self._timed_out:
                with contextlib.suppress(LspError, OSError, ValueError):
                    self.request("shutdown", None, timeout=3)
                    self.notify("exit", None)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    self.process.wait(timeout=3)
            if self.process.poll() is None:
                self.process.kill()
                self.process.wait(timeout=5)
        finally:
            if self.process.stdin:
                with contextlib.suppress(OSError):
                    self.process.stdin.close()
            # The reader ends at end of output; closing the pipe under it would wait for it.
            self._reader.join(timeout=2)
            if self.process.stdout and not self._reader.is_alive():
                self.process.stdout.close()
            if self._stderr is not subprocess.DEVNULL:
                self._stderr.close()

    def stderr_tail(self, size: int = 2000) -> str:
        """The end of what the server wrote to stderr, for failure messages."""
        if self._stderr_path is None or not self._stderr_path.exists():
            return ""
        return self._stderr_path.read_text(errors="replace")[-size:]

    def _read(self) -> None:
        stdout = self.process.stdout
        assert stdout is not None
        try:
            while (message := read_message(stdout)) is not None:
                self._incoming.put(message)
        except (OSError, ValueError, LspError):
            pass
        finally:
            self._incoming.put(None)

    # Sending

    def _send(self, message: Message) -> None:
        stdin = self.process.stdin
        assert stdin is not None
        with self._write_lock:
            try:
                stdin.write(encode({"jsonrpc": "2.0", **message}))
                stdin.flush()
            except (BrokenPipeError, ValueError) as error:
                raise LspError(f"the server is gone ({error}); stderr: {self.stderr_tail()}") \
                    from error

    def notify(self, method: str, params: Any) -> None:
        """Send the notification ``method``."""
        self._send({"method": method, "params": params})

    def request(self, method: str, params: Any, *, timeout: float | None = None) -> Any:
        """Send the request ``method`` and return its result, within ``timeout`` seconds."""
        self._next_id += 1
        request_id = self._next_id
        self._send({"id": request_id, "method": method, "params": params})
        self._pump_until(lambda: request_id in self._responses, timeout,
                         f"no answer to {method}")
        response = self._responses.pop(request_id)
        if "error" in response:
            raise LspError(f"{method} failed: {response['error']}")
        return response.get("result")

    # Receiving

    def _pump_until(self, done: Callable[[], bool], timeout: float | None, what: str) -> None:
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while not done():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self._timed_out = True
                raise LspError(f"{what} within the timeout; stderr: {self.stderr_tail()}")
            try:
                message = self._incoming.get(timeout=remaining)
            except queue.Empty:
                continue
            if message is None:
                self._incoming.put(None)  # later waits see the end too
                raise LspError(f"{what}: the server exited (code {self.process.poll()}); "
                               f"stderr: {self.stderr_tail()}")
            self._dispatch(message)

    def _dispatch(self, message: Message) -> None:
        if "id" in message and "method" in message:
            self._answer(message)
        elif "id" in message:
            self._responses[message["id"]] = message
        else:
            self._notifications.append(message)

    def _answer(self, request: Message) -> None:
        """Answer the server's own request so that it does not wait for us."""
        result: Any = None
        if request["method"] == "workspace/configuration":
            self.configuration_pulls += 1
            result = [self._setting(item.get("section"))
                      for item in request.get("params", {}).get("items", [])]
        self._send({"id": request["id"], "result": result})

    def _setting(self, section: str | None) -> Any:
        value: Any = self.settings
        for part in (section or "").split("."):
            if part:
                value = value.get(part) if isinstance(value, dict) else None
        return value

    def notifications(self, method: str) -> list[Message]:
        """The notifications ``method`` received so far (their ``params``), oldest first."""
        return [n.get("params") for n in self._notifications if n.get("method") == method]

    def wait_for_notification(self, method: str, matches: Callable[[Any], bool] = lambda _: True,
                              *, timeout: float | None = None) -> Any:
        """The ``params`` of the first ``method`` notification, not yet taken, that matches."""
        found: list[Any] = []

        def take() -> bool:
            for index, note in enumerate(self._notifications):
                if note.get("method") == method and matches(note.get("params")):
                    found.append(self._notifications.pop(index).get("params"))
                    return True
            return False

        self._pump_until(take, timeout, f"no {method} notification")
        return found[0]

    def drain(self, quiet: float) -> None:
        """Read whatever the server sends until it has been silent for ``quiet`` seconds."""
        while True:
            try:
                message = self._incoming.get(timeout=quiet)
            except queue.Empty:
                return
            if message is None:
                self._incoming.put(None)
                return
            self._dispatch(message)

    # The LSP conversation

    def initialize(self, root: Path, capabilities: Message | None = None) -> Message:
        """``initialize`` with ``root`` as the workspace, then ``initialized``; the result."""
        uri = root.resolve().as_uri()
        result = self.request("initialize", {
            "processId": None,
            "rootUri": uri,
            "workspaceFolders": [{"uri": uri, "name": root.name}],
            "capabilities": capabilities or default_capabilities(),
        })
        self.pulls_configuration = bool(
            (capabilities or default_capabilities()).get("workspace", {}).get("configuration"))
        self.notify("initialized", {})
        return result

    def configure(self, settings: Message, *, timeout: float | None = None) -> None:
        """Send ``settings`` with ``workspace/didChangeConfiguration``.

        A server that pulls its configuration (``workspace/configuration``)
        is waited for until it has, so that later documents see the settings.
        """
        self.settings = settings
        pulls = self.configuration_pulls
        self.notify("workspace/didChangeConfiguration", {"settings": settings})
        if self.pulls_configuration:
            self._pump_until(lambda: self.configuration_pulls > pulls, timeout,
                             "no workspace/configuration request after the settings changed")

    def open(self, path: Path, text: str | None = None, *, language: str = "yaml",
             version: int = 1) -> str:
        """``textDocument/didOpen`` of ``path`` (its text on disk unless given); its URI."""
        uri = path.resolve().as_uri()
        if text is None:
            text = path.read_text(encoding="utf-8")
        self.notify("textDocument/didOpen", {"textDocument": {
            "uri": uri, "languageId": language, "version": version, "text": text}})
        return uri

    def close_document(self, uri: str) -> None:
        """``textDocument/didClose``."""
        self.notify("textDocument/didClose", {"textDocument": {"uri": uri}})

    def diagnostics(self, uri: str, *, timeout: float | None = None) -> list[Message]:
        """The diagnostics of the next ``textDocument/publishDiagnostics`` for ``uri``."""
        params = self.wait_for_notification("textDocument/publishDiagnostics",
                                            lambda p: p.get("uri") == uri, timeout=timeout)
        return params.get("diagnostics", [])

    def hover(self, uri: str, line: int, character: int) -> Message | None:
        """``textDocument/hover`` at a zero-based position."""
        return self.request("textDocument/hover", {
            "textDocument": {"uri": uri}, "position": {"line": line, "character": character}})

    def completion(self, uri: str, line: int, character: int) -> list[Message]:
        """The items of ``textDocument/completion`` at a zero-based position."""
        result = self.request("textDocument/completion", {
            "textDocument": {"uri": uri}, "position": {"line": line, "character": character},
            "context": {"triggerKind": 1}})
        if result is None:
            return []
        return result["items"] if isinstance(result, dict) else result


def default_capabilities() -> Message:
    """What a plain editor tells the server it can do: pull configuration, markdown hovers."""
    return {
        "workspace": {"configuration": True, "workspaceFolders": True,
                      "didChangeConfiguration": {"dynamicRegistration": True}},
        "textDocument": {
            "synchronization": {"dynamicRegistration": False, "didSave": True},
            "publishDiagnostics": {"relatedInformation": True, "versionSupport": True},
            "hover": {"contentFormat": ["markdown", "plaintext"]},
            "completion": {"completionItem": {"snippetSupport": True,
                                              "documentationFormat": ["markdown", "plaintext"]}},
        },
    }


@contextlib.contextmanager
def language_server(argv: Sequence[str], root: Path, settings: Message,
                    **kwargs: Any) -> Iterator[LanguageServer]:
    """A started, initialized and configured server for the workspace ``root``."""
    with LanguageServer(argv, settings=settings, **kwargs) as server:
        server.initialize(root)
        server.configure(settings)
        yield server
