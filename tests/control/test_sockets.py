"""Control sockets: a private folder for deep state dirs, and clients that trust only their own."""

from __future__ import annotations

import os
import socket
import stat

import pytest

from orchestrator.control import ControlClient, socket_path
from orchestrator.control.sockets import runtime_dir
from orchestrator.errors import ErrorCode, UntrustedSocket

DEEP = "x" * 120


def private_folder(path):
    path.mkdir(mode=0o700)
    path.chmod(0o700)
    return path


def test_a_short_state_dir_keeps_its_socket(tmp_path):
    assert socket_path(tmp_path / "state") == (tmp_path / "state" / "control.sock").resolve()


def test_a_deep_state_dir_gets_a_socket_in_the_private_runtime_dir(tmp_path, monkeypatch):
    runtime = private_folder(tmp_path / "run")
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(runtime))
    path = socket_path(tmp_path / DEEP / "state")
    assert path.parent == runtime / "bgassets" and len(str(path)) < 108
    found = os.lstat(path.parent)
    assert stat.S_IMODE(found.st_mode) == 0o700 and found.st_uid == os.getuid()
    assert socket_path(tmp_path / DEEP / "state") == path  # the same daemon, found again


def test_a_runtime_dir_others_can_enter_is_not_used(tmp_path, monkeypatch):
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(shared))
    folder = runtime_dir()
    assert not folder.is_relative_to(shared)
    assert stat.S_IMODE(os.lstat(folder).st_mode) == 0o700


@pytest.mark.parametrize("make", ["symlink", "open mode"])
def test_a_socket_folder_someone_else_prepared_is_refused(make, tmp_path, monkeypatch):
    runtime = private_folder(tmp_path / "run")
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(runtime))
    if make == "symlink":
        elsewhere = private_folder(tmp_path / "elsewhere")
        (runtime / "bgassets").symlink_to(elsewhere)
    else:
        (runtime / "bgassets").mkdir()
        (runtime / "bgassets").chmod(0o755)
    with pytest.raises(UntrustedSocket) as refused:
        socket_path(tmp_path / DEEP / "state")
    assert refused.value.code == ErrorCode.CONTROL_SOCKET_UNTRUSTED
    assert "not a private folder of yours" in refused.value.message


@pytest.mark.skipif(os.getuid() != 0, reason="giving a socket to another user needs root")
async def test_a_client_does_not_talk_to_another_users_socket(tmp_path):
    path = tmp_path / "control.sock"
    impostor = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    impostor.bind(str(path))
    impostor.listen()
    try:
        os.chown(path, 65534, 65534)
        with pytest.raises(UntrustedSocket) as refused:
            async with ControlClient(path):
                pass
    finally:
        impostor.close()
    assert "belongs to user 65534, not to you" in refused.value.message


async def test_a_client_does_not_talk_to_a_file_that_is_no_socket(tmp_path):
    path = tmp_path / "control.sock"
    path.write_text("")
    with pytest.raises(UntrustedSocket, match="is not a socket"):
        async with ControlClient(path):
            pass
