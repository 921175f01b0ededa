"""Handlers run as real child processes: answers, budgets, memory limits, crashes, callbacks."""

import asyncio
import json
import logging
import os
import re
import sys
import textwrap
import time
from pathlib import Path

import pytest

import orchestrator
from orchestrator.errors import BackgroundAssetsError, ErrorCode
from orchestrator.model.download import Download
from orchestrator.model.enums import ContentRequest
from orchestrator.model.extension import Extension
from orchestrator.model.plan import AppExtensionInfo
from orchestrator.service import handler as handler_module
from orchestrator.service.handler import (
    HandlerAnswerError,
    HandlerRunner,
    call_handler,
    downloads_call,
    failed_call,
    finished_call,
    parse_downloads,
)
from orchestrator.storage.lock import exclusive_control

GROUP = "group.com.example.handler"
ROOT = Path(orchestrator.__file__).resolve().parent.parent
MiB = 2**20
SHA = "ab" * 32

HANDLERS = '''
import json, mmap, os, subprocess, sys, time
from datetime import datetime
from orchestrator.sdk import DownloaderExtension, read_catalog, with_exclusive_control


class Catalog(DownloaderExtension):
    def downloads(self, request, manifest_path, info):
        print("reading", manifest_path)  # goes to stderr, never the protocol
        catalog = read_catalog(manifest_path, self.catalog_url)
        essential = request.name == "INSTALL"
        return [self.download(a.id, a.url, size=a.size, sha256=a.sha256,
                              essential=essential and a.essential, priority=a.priority,
                              destination=f"Library/Caches/{a.id}.bin")
                for a in catalog.assets
                if info.restricted_download_size_remaining is None
                or a.size <= info.restricted_download_size_remaining]


class Slow(DownloaderExtension):
    def downloads(self, request, manifest_path, info):
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
        (self.container / "grandchild.pid").write_text(str(child.pid))
        time.sleep(60)
        return []


class Hog(DownloaderExtension):
    def downloads(self, request, manifest_path, info):
        self.kept = bytearray(int(os.environ.get("HOG_MIB", "200")) * 2**20)
        return [self.download("fits", "http://127.0.0.1/fits.bin")]


class SharedHog(DownloaderExtension):
    def downloads(self, request, manifest_path, info):
        pages = mmap.mmap(-1, 400 * 2**20)  # shared: RLIMIT_DATA does not see it
        for offset in range(0, len(pages), 4096):
            pages[offset] = 1
        time.sleep(30)
        return []


class Raises(DownloaderExtension):
    def downloads(self, request, manifest_path, info):
        raise ValueError("the catalog has no assets for me")


class Exits(DownloaderExtension):
    def downloads(self, request, manifest_path, info):
        sys.stdout.write("{not json at all\\n")
        os._exit(3)


class SysExit(DownloaderExtension):
    def downloads(self, request, manifest_path, info):
        sys.exit(0)


class WrongType(DownloaderExtension):
    def downloads(self, request, manifest_path, info):
        return [7]


class Mover(DownloaderExtension):
    def finished(self, download, path):
        self.move_into_container(path, "Library/Caches/" + download.id)

    def failed(self, download, error):
        (self.container / "failed.json").write_text(
            json.dumps({"code": int(error.code), "message": error.message}))
        return [download.removing_essential()]


class Keeper(DownloaderExtension):
    def finished(self, download, path):
        pass  # does not move: the orchestrator deletes the file afterwards


class Counter(DownloaderExtension):
    calls = 0

    def downloads(self, request, manifest_path, info):
        Counter.calls += 1
        return [self.download(f"call-{Counter.calls}", "http://127.0.0.1/x")]


class Locker(DownloaderExtension):
    def downloads(self, request, manifest_path, info):
        with with_exclusive_control(timeout=5):
            time.sleep(0.3)
        return []


class TryOnce(DownloaderExtension):
    def downloads(self, request, manifest_path, info):
        with with_exclusive_control(datetime.now()):
            return []


class Unsendable(DownloaderExtension):
    def downloads(self, request, manifest_path, info):
        return [self.download("x", "https://example.org/x", size=object())]


class AsyncLocker(DownloaderExtension):
    async def downloads(self, request, manifest_path, info):
        import asyncio
        from orchestrator.sdk import exclusive_control
        async with exclusive_control(timeout=5) as hold:
            await asyncio.sleep(0.2)
        return [self.download(f"waited-{hold.waited < 1}", "https://example.org/x")]


class Escapes(DownloaderExtension):
    def downloads(self, request, manifest_path, info):
        return [self.download("x", "https://example.org/x", destination="../../x")]


class Async(DownloaderExtension):
    async def downloads(self, request, manifest_path, info):
        return [self.download("async", "https://example.org/a.bin", size=1)]
'''


@pytest.fixture
def ext(tmp_path):
    """An extension folder holding the handlers, a container and a catalog."""
    folder = tmp_path / "extension"
    folder.mkdir()
    (folder / "handlers.py").write_text(textwrap.dedent(HANDLERS))
    (tmp_path / "container").mkdir()
    catalog = {"version": "1", "assets": [
        {"id": "intro", "url": "intro.mp4", "size": 1000, "sha256": SHA, "essential": True,
         "priority": 90},
        {"id": "big", "url": "https://cdn.example.org/big.mp4", "size": 10 * MiB},
    ]}
    (tmp_path / "catalog.json").write_text(json.dumps(catalog))
    return tmp_path


UNRESTRICTED = AppExtensionInfo(None, None)


def request_call(tmp_path, info=UNRESTRICTED, request=ContentRequest.INSTALL):
    return downloads_call(request, tmp_path / "catalog.json", info, GROUP,
                          tmp_path / "container",
                          catalog_url="http://127.0.0.1:8080/wwdc/catalog.json")


async def run(tmp_path, name, call=None, *, budget=20.0, memory=64 * MiB, **options):
    return await call_handler(f"handlers:{name}", tmp_path / "extension",
                              call or request_call(tmp_path), runtime_budget=budget,
                              memory_limit=memory, state_dir=tmp_path / "state", **options)


async def test_downloads_are_answered_parsed_and_validated(ext):
    outcome = await run(ext, "Catalog", request_call(ext, AppExtensionInfo(5000, 2000)))
    assert outcome.ok, outcome
    downloads = parse_downloads(outcome.answer, GROUP)
    assert downloads == [Download("intro", "http://127.0.0.1:8080/wwdc/intro.mp4", GROUP,
                                  essential=True, size=1000, sha256=SHA, priority=90,
                                  destination="Library/Caches/intro.bin")]
    assert any("reading" in line for line in outcome.stderr)
    assert 0 < outcome.runtime < 10

    periodic = await run(ext, "Catalog", request_call(ext, request=ContentRequest.PERIODIC))
    assert [(d.id, d.essential) for d in parse_downloads(periodic.answer, GROUP)] == [
        ("intro", False), ("big", False)]


async def test_async_entry_points_are_awaited(ext):
    outcome = await run(ext, "Async")
    assert [d.id for d in parse_downloads(outcome.answer, GROUP)] == ["async"]


async def test_slow_handler_is_killed_with_its_process_group_at_the_budget(ext):
    outcome = await run(ext, "Slow", budget=1.5)
    assert outcome.terminated == "runtime budget"
    assert outcome.answer is None
    assert 1.5 <= outcome.runtime < 2.5
    grandchild = int((ext / "container" / "grandchild.pid").read_text())
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and _alive(grandchild):
        await asyncio.sleep(0.02)
    assert not _alive(grandchild), "what the handler started outlived it"


def _alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(") ")[1][0] != "Z"
    except FileNotFoundError:
        return False


async def test_handler_past_its_memory_limit_is_terminated(ext):
    heap, shared = await asyncio.gather(run(ext, "Hog", memory=32 * MiB),
                                        run(ext, "SharedHog", memory=32 * MiB))
    assert heap.terminated == "memory limit"
    assert shared.terminated == "memory limit"
    assert shared.runtime < 10

    within = await run(ext, "Hog", memory=64 * MiB, env={"HOG_MIB": "40"})
    assert within.ok, within
    assert [d.id for d in parse_downloads(within.answer, GROUP)] == ["fits"]


async def test_raising_handler_gives_a_clean_outcome_and_logs_file_and_line(ext, caplog):
    caplog.set_level(logging.WARNING, logger="bgassets.handler")
    outcome = await run(ext, "Raises")
    handlers_py = ext / "extension" / "handlers.py"
    line = HANDLERS.splitlines().index(
        '        raise ValueError("the catalog has no assets for me")') + 1
    assert outcome.terminated == (
        f"crashed: ValueError: the catalog has no assets for me at {handlers_py}:{line}")
    assert "Traceback" not in outcome.terminated
    assert f"{handlers_py}:{line}" in caplog.text


@pytest.mark.parametrize(("name", "expected"), [
    ("Exits", "crashed: exited with status 3 without an answer"),
    ("SysExit", "crashed: the handler exited early (SystemExit: 0) at"),
    ("WrongType", "bad answer: downloads() item 0 is int, not a Download"),
    ("Unsendable", "bad answer: the answer cannot be sent as JSON: Object of type object"),
    ("Missing", "crashed: AttributeError: module 'handlers' has no attribute 'Missing'"),
])
async def test_early_exits_and_wrong_answers_give_clean_outcomes(ext, name, expected):
    outcome = await run(ext, name)
    assert outcome.answer is None
    assert outcome.terminated.startswith(expected), outcome.terminated


async def test_garbage_on_the_protocol_channel_is_a_bad_answer(ext):
    script = ext / "garbage.sh"
    script.write_text("#!/bin/sh\ncat > /dev/null\necho 'Hello, I am not JSON'\n")
    script.chmod(0o755)
    outcome = await run(ext, "Any", command=[str(script)])
    assert outcome.terminated == (
        "bad answer: line 1 of the answer is not a JSON status object: 'Hello, I am not JSON'")


async def test_a_handler_in_another_language_speaks_the_protocol(ext):
    script = ext / "answer.py"
    script.write_text(textwrap.dedent('''
        import json, sys
        request = json.load(sys.stdin)
        print(json.dumps({"status": "started"}))
        print(json.dumps({"status": "ok", "downloads": [
            {"id": request["request"], "url": "https://example.org/x.bin", "size": 4}]}))
    '''))
    outcome = await run(ext, "Any", command=[sys.executable, str(script)])
    assert parse_downloads(outcome.answer, GROUP) == [
        Download("install", "https://example.org/x.bin", GROUP, size=4, destination="x.bin")]


async def test_finished_moves_the_file_and_failed_reenqueues_non_essential(ext):
    staged = ext / "staging" / "intro.mp4"
    staged.parent.mkdir()
    staged.write_bytes(b"movie")
    download = Download("intro", "http://127.0.0.1/intro.mp4", GROUP, essential=True, size=5,
                        destination="Library/Caches/intro.mp4")
    container = ext / "container"
    finished = await run(ext, "Mover", finished_call(download, staged, container))
    assert finished.ok, finished
    assert not staged.exists()
    assert (container / "Library/Caches/intro").read_bytes() == b"movie"

    error = BackgroundAssetsError("expected 5 bytes, got 6", ErrorCode.SIZE_MISMATCH)
    failed = await run(ext, "Mover", failed_call(download, error, container))
    assert parse_downloads(failed.answer, GROUP) == [download.removing_essential()]
    assert json.loads((container / "failed.json").read_text()) == {
        "code": 1010, "message": "expected 5 bytes, got 6"}


async def test_a_file_nobody_moves_stays_where_it_was_handed_over(ext):
    staged = ext / "staging.bin"
    staged.write_bytes(b"x")
    download = Download("x", "http://127.0.0.1/x", GROUP)
    outcome = await run(ext, "Keeper", finished_call(download, staged, ext / "container"))
    assert outcome.ok and staged.exists()


async def test_in_memory_state_does_not_survive_between_calls(ext):
    first = await run(ext, "Counter")
    second = await run(ext, "Counter")
    assert [d.id for d in parse_downloads(first.answer, GROUP)] == ["call-1"]
    assert [d.id for d in parse_downloads(second.answer, GROUP)] == ["call-1"]


async def test_time_under_exclusive_control_is_reported(ext):
    outcome, held_async = await asyncio.gather(run(ext, "Locker"), run(ext, "AsyncLocker"))
    assert outcome.ok, outcome
    assert 0.3 <= outcome.lock_seconds < outcome.runtime
    assert [d.id for d in parse_downloads(held_async.answer, GROUP)] == ["waited-True"]
    assert 0.2 <= held_async.lock_seconds < held_async.runtime


async def test_exclusive_control_held_by_the_app_refuses_a_try_once(ext):
    async with exclusive_control(ext / "state", GROUP):
        outcome = await run(ext, "TryOnce")
    assert outcome.terminated.startswith("crashed: LockTimeout: exclusive control of " + GROUP)


@pytest.mark.parametrize(("entry", "problem"), [
    ({"id": ""}, "downloads[0].id must be a non-empty string"),
    ({"url": "ftp://x/y"}, "downloads[0].url 'ftp://x/y' is not an http(s) url"),
    ({"size": "12"}, "downloads[0].size is '12', not a byte count or null"),
    ({"size": True}, "downloads[0].size is True, not a byte count or null"),
    ({"sha256": "abc"}, "downloads[0].sha256 'abc' is not 64 hex digits"),
    ({"essential": 1}, "downloads[0].essential is 1, not true or false"),
    ({"priority": 101}, "downloads[0].priority is 101, not an integer 0..100"),
    ({"destination": "../../etc/passwd"}, "downloads[0].destination: destination"),
    ({"destination": "/etc/passwd"}, "downloads[0].destination: destination"),
    ({"appGroup": "group.other"}, "downloads[0].appGroup 'group.other' is not this app's"),
    ({"sizee": 3}, "downloads[0] has unknown field 'sizee'"),
])
def test_parse_downloads_names_the_bad_field(entry, problem):
    answer = {"status": "ok", "downloads": [{"id": "a", "url": "https://h/a", **entry}]}
    with pytest.raises(HandlerAnswerError) as raised:
        parse_downloads(answer, GROUP)
    assert raised.value.message.startswith("bad answer: " + problem)
    assert raised.value.code == ErrorCode.EXTENSION_FAILED


def test_parse_downloads_accepts_the_minimal_entry():
    answer = {"status": "ok", "downloads": [{"id": "a", "url": "https://h/dir/a%20b.bin"}]}
    assert parse_downloads(answer, GROUP) == [
        Download("a", "https://h/dir/a%20b.bin", GROUP, destination="a b.bin")]
    assert parse_downloads({"status": "ok"}, GROUP) == []


def doc_blocks(language):
    """The fenced ``language`` blocks of docs/handlers.md, so the documented examples run."""
    text = (ROOT / "docs" / "handlers.md").read_text()
    return re.findall(rf"```{language}\n(.*?)```", text, flags=re.DOTALL)


async def test_the_documented_example_handler_plans_level_packs(tmp_path):
    (tmp_path / "extension").mkdir()
    (tmp_path / "extension" / "docexample.py").write_text(doc_blocks("python")[0])
    catalog = ROOT / "manifests" / "level-packs" / "catalog.json"
    call = downloads_call(ContentRequest.INSTALL, catalog,
                          AppExtensionInfo(96 * MiB, 16 * MiB), GROUP, tmp_path / "container",
                          catalog_url="http://127.0.0.1:8470/level-packs/catalog.json")
    outcome = await call_handler("docexample:Downloader", tmp_path / "extension", call,
                                 runtime_budget=20, state_dir=tmp_path / "state")
    downloads = parse_downloads(outcome.answer, GROUP)
    assert [(d.id, d.essential) for d in downloads] == [
        ("tutorial", True), ("world-1", False), ("world-2", False), ("world-3", False),
        ("world-4", False), ("soundtrack", False)]
    assert downloads[0].url == "http://127.0.0.1:8470/level-packs/packs/tutorial.pack"
    assert downloads[0].destination == "packs/tutorial.pack"


async def test_the_documented_shell_handler_speaks_the_protocol(ext):
    script = ext / "handler.sh"
    script.write_text(doc_blocks("sh")[0])
    script.chmod(0o755)
    outcome = await run(ext, "Any", command=[str(script)])
    assert [(d.id, d.size) for d in parse_downloads(outcome.answer, GROUP)] == [
        ("intro", 2**20)]


async def test_cancelling_the_call_kills_the_handler(ext):
    task = asyncio.create_task(run(ext, "Slow", budget=None))
    pid_file = ext / "container" / "grandchild.pid"
    deadline = time.monotonic() + 10
    while not pid_file.exists() and time.monotonic() < deadline:
        await asyncio.sleep(0.02)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    grandchild = int(pid_file.read_text())
    while time.monotonic() < deadline and _alive(grandchild):
        await asyncio.sleep(0.02)
    assert not _alive(grandchild)


async def test_other_programs_are_watched_from_zero_and_get_a_clean_environment(
        ext, monkeypatch):
    monkeypatch.setenv("BGASSETS_TEST_SECRET", "s3cret")
    script = ext / "answer.py"
    script.write_text(textwrap.dedent('''
        import json, os, sys, time
        request = json.load(sys.stdin)
        if request["entry"] == "downloads" and os.environ.get("HOG"):
            kept = bytearray(200 * 2**20)
            time.sleep(30)
        print(json.dumps({"status": "ok", "downloads": [{
            "id": "secret-seen" if "BGASSETS_TEST_SECRET" in os.environ else "clean",
            "url": "https://example.org/" + os.environ["BGASSETS_STATE_DIR"].replace("/", "_")}]}))
    '''))
    command = [sys.executable, str(script)]
    clean, hog = await asyncio.gather(
        run(ext, "Any", command=command),
        run(ext, "Any", command=command, memory=32 * MiB, env={"HOG": "1"}))
    [download] = parse_downloads(clean.answer, GROUP)
    assert download.id == "clean"
    assert download.url.endswith(str(ext / "state").replace("/", "_"))
    assert hog.terminated == "memory limit"


def runner(tmp_path, handler):
    extension = Extension(id="com.example.handler.downloader", app="com.example.handler",
                          team="T", app_group=GROUP, handler=handler, memory_limit=32 * MiB)
    return HandlerRunner(extension, tmp_path / "extension", tmp_path / "state",
                         tmp_path / "container")


async def test_runner_parses_answers_and_turns_invalid_downloads_into_bad_answers(ext):
    downloads, outcome = await runner(ext, "handlers:Catalog").downloads(
        ContentRequest.UPDATE, ext / "catalog.json", UNRESTRICTED, budget=20,
        catalog_url="https://cdn.example.org/catalog.json")
    assert outcome.ok
    assert [(d.id, d.url) for d in downloads] == [
        ("intro", "https://cdn.example.org/intro.mp4"), ("big", "https://cdn.example.org/big.mp4")]

    escaped, refused = await runner(ext, "handlers:Escapes").downloads(
        ContentRequest.PERIODIC, ext / "catalog.json", UNRESTRICTED, budget=20)
    assert escaped == []
    assert refused.terminated.startswith("bad answer: downloads[0].destination: destination")

    essential = Download("intro", "https://h/intro.mp4", GROUP, essential=True, size=1,
                         destination="intro.mp4")
    again, failed = await runner(ext, "handlers:Mover").failed(
        essential, BackgroundAssetsError("gone", ErrorCode.HTTP_ERROR), budget=20)
    assert failed.ok and again == [essential.removing_essential()]


async def test_start_up_is_not_charged_but_may_not_hang(ext, monkeypatch):
    quick = await run(ext, "Counter", budget=0.2)
    assert quick.ok, quick
    assert quick.runtime < 0.2

    site = ext / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text("import time\ntime.sleep(30)\n")
    monkeypatch.setattr(handler_module, "STARTUP_LIMIT", 1.0)
    hung = await run(ext, "Counter", env={"PYTHONPATH": f"{site}{os.pathsep}{ROOT}"})
    assert hung.terminated == "crashed: did not start within 1 s"
    assert hung.runtime == 0.0, "the app is not charged for our start-up"


async def test_a_program_that_never_reads_its_request_still_ends_at_the_budget(ext):
    call = {**request_call(ext), "padding": "x" * 4 * MiB}  # far past a pipe's buffer
    outcome = await run(ext, "Any", call, budget=0.5, command=["sleep", "30"])
    assert outcome.terminated == "runtime budget"
    assert 0.5 <= outcome.runtime < 1.5
