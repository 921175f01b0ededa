"""A connected app's delegate answers the challenges of its downloads, across processes.

A real daemon process, real app processes, and a dev server that wants a Bearer token
for the assets of one folder. While the app is connected its delegate is asked first;
default handling leaves the challenge to the extension's ``spec.credentials``; cancel
fails the download with 1025; an app that leaves is asked nothing more.
"""

from __future__ import annotations

import hashlib

import pytest

from orchestrator.devserver.thread import serve_in_thread
from tests.control.daemon_apps import Asset, running_daemon, write_app, write_content
from tests.control.test_app_connection import app_process as start_app
from tests.control.test_app_connection import ask, lines_until, until

pytestmark = pytest.mark.timeout(90)
KiB = 2**10
GAME = "com.example.game"
TOKEN = "app-t0ken-Secret"
SECRET = Asset("secret", 96 * KiB)


def schedule(process, download_id: str, url: str) -> dict:
    digest = hashlib.sha256(SECRET.data()).hexdigest()
    return ask(process, f"schedule {download_id} {url} {SECRET.size} {digest}")


def outcome_of(process, download_id: str) -> list[dict]:
    return lines_until(process, lambda line: line.get("callback") in ("finished", "failed")
                       and line.get("download") == download_id)


@pytest.fixture
def protected(tmp_path, short_state):
    """A daemon with app ``game`` (open catalog) and a bearer-protected server."""
    content, locked = tmp_path / "content", tmp_path / "locked"
    write_content(content / "game", [Asset("tutorial", 32 * KiB, essential=True)])
    locked.mkdir()
    (locked / "secret.bin").write_bytes(SECRET.data())
    token_file = tmp_path / "apps" / "game" / "token"
    with serve_in_thread(content) as open_server, \
            serve_in_thread(locked, bearer_token=TOKEN) as locked_server:
        manifest = write_app(tmp_path / "apps" / "game", "game",
                             f"{open_server.url}game/catalog.json")
        extension = manifest.parent / "extension.yaml"
        extension.write_text(extension.read_text() + (
            "  credentials:\n    - {host: 127.0.0.1, bearer: {tokenFile: token}}\n"))
        state = short_state
        with running_daemon(state, str(tmp_path / "apps")):
            yield state, f"{locked_server.url}secret.bin", locked_server, token_file


def test_the_delegate_answers_and_the_app_gets_the_file(protected, tmp_path):
    state, url, server, _ = protected
    app = start_app(state, tmp_path, "--wait", "--challenge", f"token:{TOKEN}", app=GAME)
    try:
        lines_until(app, lambda line: line["callback"] == "connected")
        assert schedule(app, "secret", url)["answer"] == "secret"
        seen = outcome_of(app, "secret")
        until(lambda: (tmp_path / "secret").is_file(), "the app moved the file")
    finally:
        app.kill()
    challenges = [line for line in seen if line["callback"] == "challenge"]
    assert [(c["download"], c["scheme"], c["realm"]) for c in challenges] == [
        ("secret", "bearer", "bgassets-serve")]
    assert seen[-1]["callback"] == "finished"
    assert (tmp_path / "secret").read_bytes() == SECRET.data()
    assert server.stats.status_counts[401] == 1
    for path in state.rglob("*"):  # the token is in no file of the state dir
        if path.is_file() and not path.is_socket():
            assert TOKEN.encode() not in path.read_bytes(), path


def test_default_handling_goes_to_the_extension_and_cancel_fails_with_1025(protected,
                                                                           tmp_path):
    state, url, server, token_file = protected
    token_file.write_text(TOKEN)
    app = start_app(state, tmp_path, "--wait", "--challenge", "default", app=GAME)
    try:
        lines_until(app, lambda line: line["callback"] == "connected")
        assert schedule(app, "secret", url)["answer"] == "secret"
        defaulted = outcome_of(app, "secret")
        until(lambda: (tmp_path / "secret").is_file(), "the app moved the file")
    finally:
        app.kill()
    assert [line["callback"] for line in defaulted if line["callback"] != "progress"] == [
        "began", "challenge", "finished"]
    assert (tmp_path / "secret").read_bytes() == SECRET.data()

    # A new connection: the answer the extension gave is forgotten, the delegate asked.
    app = start_app(state, tmp_path, "--challenge", "cancel", app=GAME)
    try:
        lines_until(app, lambda line: line["callback"] == "connected")
        assert schedule(app, "again", url)["answer"] == "again"
        cancelled = outcome_of(app, "again")
    finally:
        app.kill()
    assert [line["callback"] for line in cancelled] == ["began", "challenge", "failed"]
    assert cancelled[-1]["code"] == 1025
