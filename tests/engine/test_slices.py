"""Slices: one file of a bundle, fetched as bytes [offset, offset + length) of its URL.

Only a 206 for exactly the bytes asked for is written; a 200 (the whole bundle) never is.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import signal
import sys
import textwrap
from pathlib import Path

import pytest

from orchestrator.devserver import DevServer
from orchestrator.engine import DownloadRequest, Engine
from orchestrator.engine.commit import GroupCommit
from orchestrator.engine.ranges import Action
from orchestrator.engine.request import DownloadResult
from orchestrator.engine.slices import decide_slice, range_header
from orchestrator.engine.staging import StagingFile
from orchestrator.errors import ErrorCode
from orchestrator.model.enums import DownloadState
from tests.engine.conftest import FAST_RETRY, Asset, make_asset, sha256_of
from tests.engine.servers import serve, shifted_range
from tests.support.nginx import nginx_server, read_access_log

MIB = 1 << 20
URL = "http://127.0.0.1/bundle.bin"
BUNDLE = 4 * MIB + 4321


def slice_of(base: str, bundle: Asset, destination: Path, offset: int, length: int,
             **options: object) -> DownloadRequest:
    """A request for one file of ``bundle``, with the slice's sha256 pinned."""
    options.setdefault("sha256", hashlib.sha256(bundle.data[offset:offset + length]).hexdigest())
    return DownloadRequest(base + bundle.name, destination, byte_range=(offset, length),
                           **options)


def assert_slice(path: Path, bundle: Asset, offset: int, length: int) -> None:
    data = path.read_bytes()
    assert len(data) == length and data == bundle.data[offset:offset + length]


# -- the decisions, without a network --------------------------------------------------------
def test_the_range_asks_for_the_slice_from_a_position_inside_it():
    assert range_header((1000, 500), 0, None) == "bytes=1000-1499"
    assert range_header((1000, 500), 200, None) == "bytes=1200-1499"
    assert range_header((1000, 500), 200, 300) == "bytes=1200-1299"


def test_an_exact_206_is_written_in_positions_of_the_slice():
    answer = decide_slice(206, {"Content-Range": "bytes 1200-1499/9000"}, URL, (1000, 500),
                          200, None, conditional=True)
    assert (answer.action, answer.start, answer.end, answer.total) == (Action.WRITE, 200, 500,
                                                                       500)


def test_a_200_is_never_written_and_only_an_answer_to_if_range_is_tried_again():
    ignored = decide_slice(200, {"Content-Length": "9000"}, URL, (1000, 500), 0, None,
                           conditional=False)
    assert ignored.action is Action.FAIL and ignored.error.code == ErrorCode.RANGE_NOT_HONOURED
    assert not ignored.error.transient and "ignored the Range bytes 1000-1499" in str(
        ignored.error)
    changed = decide_slice(200, {}, URL, (1000, 500), 200, None, conditional=True)
    assert changed.action is Action.FAIL and changed.error.transient


@pytest.mark.parametrize("content_range", ["bytes 1201-1499/9000", "bytes 1200-1498/9000",
                                           "bytes 0-8999/9000"])
def test_a_206_for_other_bytes_is_refused(content_range):
    answer = decide_slice(206, {"Content-Range": content_range}, URL, (1000, 500), 200, None,
                          conditional=True)
    assert answer.action is Action.FAIL and answer.error.code == ErrorCode.RANGE_NOT_HONOURED
    assert "when asked for bytes 1200-1499" in str(answer.error)


def test_a_resource_ending_inside_the_slice_or_before_it_fails_for_good():
    short = decide_slice(206, {"Content-Range": "bytes 1000-1199/1200"}, URL, (1000, 500), 0,
                         None, conditional=False)
    assert short.error.code == ErrorCode.RANGE_NOT_HONOURED and not short.error.transient
    assert "is 1200 bytes" in str(short.error)
    beyond = decide_slice(416, {"Content-Range": "bytes */800"}, URL, (1000, 500), 0, None,
                          conditional=False)
    assert beyond.error.code == ErrorCode.RANGE_NOT_HONOURED and not beyond.error.transient
    assert "beyond its end (it is 800 bytes)" in str(beyond.error)


@pytest.mark.parametrize("byte_range", [(-1, 10), (0, -1), (True, 3), (1.5, 3)])
def test_a_byte_range_is_two_integers_of_at_least_zero(byte_range):
    with pytest.raises(ValueError, match="byte_range"):
        DownloadRequest(URL, Path("x"), byte_range=byte_range)


# -- against the DevServer -------------------------------------------------------------------
@pytest.fixture
def bundle(served: Path) -> Asset:
    return make_asset(served, "bundle.bin", BUNDLE, seed=91)


SLICES = {"start.bin": (0, 1000), "middle.bin": (1_000_003, 200_000),
          "end.bin": (BUNDLE - 5000, 5000), "large.bin": (BUNDLE - 3 * MIB // 2, 3 * MIB // 2)}


async def test_slices_from_the_start_middle_and_end_are_byte_exact(bundle, server, out):
    async with Engine(retry=FAST_RETRY) as engine:
        results = await asyncio.gather(*(
            engine.fetch(slice_of(server.url, bundle, out / name, offset, length))
            for name, (offset, length) in SLICES.items()))
    assert all(result.ok for result in results), [result.error for result in results]
    for (name, (offset, length)), result in zip(SLICES.items(), results, strict=True):
        assert_slice(out / name, bundle, offset, length)
        assert result.size == length and result.sha256 == sha256_of(out / name)
    assert sorted(header for _path, header in server.stats.range_headers) == sorted(
        f"bytes={offset}-{offset + length - 1}" for offset, length in SLICES.values())
    assert server.stats.body_bytes_sent == sum(length for _o, length in SLICES.values())
    assert sorted(os.listdir(out)) == sorted(SLICES)


class CountingCommit(GroupCommit):
    """The real group commit, counting the files it publishes."""

    def __init__(self) -> None:
        super().__init__()
        self.published: list[Path] = []

    async def publish_verified(self, part: StagingFile, data: bytes, destination: Path, *,
                               sha256: str | None, source: str) -> str:
        self.published.append(destination)
        return await super().publish_verified(part, data, destination, sha256=sha256,
                                              source=source)


async def test_small_slices_are_published_by_the_group_commit(bundle, server, out):
    commit = CountingCommit()
    async with Engine(retry=FAST_RETRY) as engine:
        engine.context.group_commit = commit
        results = await asyncio.gather(*(
            engine.fetch(slice_of(server.url, bundle, out / f"{index}.bin", index * 9000, 7000))
            for index in range(20)))
    assert all(result.ok for result in results)
    assert sorted(commit.published) == sorted(out / f"{index}.bin" for index in range(20))
    assert_slice(out / "7.bin", bundle, 7 * 9000, 7000)


@pytest.mark.parametrize("connections", [4, None])  # fixed, and grown by the ramp
async def test_a_segmented_slice_asks_only_for_bytes_inside_it(served, out, connections):
    bundle = make_asset(served, "bundle.bin", 12 * MIB, seed=92)
    offset, length = MIB + 7, 10 * MIB + 3
    async with DevServer(served, rate_per_connection=24 * MIB) as server, \
            Engine(retry=FAST_RETRY) as engine:
        result = await engine.fetch(slice_of(server.url, bundle, out / "file.bin", offset,
                                             length, connections=connections))
    assert result.ok, result.error
    assert_slice(out / "file.bin", bundle, offset, length)
    assert server.stats.range_requests >= 2
    for _path, header in server.stats.range_headers:
        first, last = (int(n) for n in header.removeprefix("bytes=").split("-"))
        assert offset <= first <= last <= offset + length - 1, header


SLICE_FAULTS = ["reset:once", "500:once", "truncate:once", "etag-change:once", "endless:once",
                "redirect-offsite:once", "reset:0.3", "truncate:0.3"]


@pytest.mark.parametrize("length", [300_000, 2 * MIB + 17])  # in memory, and via the .part
@pytest.mark.parametrize("fault", SLICE_FAULTS)
async def test_a_slice_under_a_fault_ends_verified(bundle, served, out, fault, length):
    offset = 1_234_567
    async with DevServer(served, faults=[fault], seed=3) as server, \
            Engine(retry=FAST_RETRY) as engine:
        result = await engine.fetch(slice_of(server.url, bundle, out / "file.bin", offset,
                                             length))
    assert result.ok, result.error
    assert_slice(out / "file.bin", bundle, offset, length)
    assert os.listdir(out) == ["file.bin"]
    for _path, header in server.stats.range_headers:
        first, last = (int(n) for n in header.removeprefix("bytes=").split("-"))
        assert offset <= first <= last == offset + length - 1, header


async def test_a_server_ignoring_range_fails_the_slice_and_writes_nothing(bundle, server, out):
    server.set_faults(["ignore-range:1"])
    async with Engine(retry=FAST_RETRY) as engine:
        result = await engine.fetch(slice_of(server.url, bundle, out / "file.bin", 1000, 5000))
    assert result.error.code == ErrorCode.RANGE_NOT_HONOURED and not result.error.transient
    assert "answered 200 with the whole resource" in str(result.error)
    assert server.stats.requests == 1 and server.stats.faults_fired["ignore-range"] == 1
    assert os.listdir(out) == []


async def test_a_wrong_content_range_fails_the_slice(bundle, out):
    async with serve({"/bundle.bin": shifted_range(bundle.data, 1)}) as (base, seen), \
            Engine(retry=FAST_RETRY) as engine:
        result = await engine.fetch(slice_of(base + "/", bundle, out / "file.bin", 1000, 5000))
    assert result.error.code == ErrorCode.RANGE_NOT_HONOURED
    assert "answered bytes 1001-6000" in str(result.error)
    assert len(seen) == FAST_RETRY.attempts and {h["Range"] for h in seen} == {
        "bytes=1000-5999"}
    assert os.listdir(out) == []


@pytest.mark.parametrize(("offset", "length", "says"), [
    (BUNDLE - 100, 200, f"is {BUNDLE} bytes: it ends before the slice"),
    (BUNDLE + 10, 5, f"lies beyond its end (it is {BUNDLE} bytes)")])
async def test_a_slice_past_the_end_of_the_bundle_fails_at_once(bundle, server, out, offset,
                                                                 length, says):
    async with Engine(retry=FAST_RETRY) as engine:
        result = await engine.fetch(slice_of(server.url, bundle, out / "file.bin", offset,
                                             length))
    assert result.error.code == ErrorCode.RANGE_NOT_HONOURED and says in str(result.error)
    assert server.stats.requests == 1 and os.listdir(out) == []


async def test_a_size_other_than_the_slice_length_fails_before_any_request(bundle, server, out):
    async with Engine(retry=FAST_RETRY) as engine:
        result = await engine.fetch(slice_of(server.url, bundle, out / "file.bin", 1000, 5000,
                                             size=5001))
    assert result.error.code == ErrorCode.SIZE_MISMATCH and "5000 bytes" in str(result.error)
    assert server.stats.requests == 0 and os.listdir(out) == []


@pytest.mark.parametrize("length", [5000, 2 * MIB])  # in memory, and through the .part
async def test_a_sha256_mismatch_of_a_slice_fails_and_leaves_nothing(bundle, server, out,
                                                                     length):
    async with Engine(retry=FAST_RETRY) as engine:
        result = await engine.fetch(slice_of(server.url, bundle, out / "file.bin", 1000, length,
                                             sha256="0" * 64))
    assert result.error.code == ErrorCode.CHECKSUM_MISMATCH
    assert os.listdir(out) == []
    assert {header for _p, header in server.stats.range_headers} == {
        f"bytes=1000-{1000 + length - 1}"}


async def test_an_empty_slice_is_an_empty_file_fetched_without_a_request(bundle, server, out):
    async with Engine(retry=FAST_RETRY) as engine:
        result = await engine.fetch(slice_of(server.url, bundle, out / "empty.bin", 1000, 0))
    assert result.ok and result.size == 0
    assert (out / "empty.bin").read_bytes() == b"" and server.stats.requests == 0


# -- resuming ---------------------------------------------------------------------------------
async def _wait_for_state(handle, state: DownloadState) -> None:
    async def reached() -> None:
        while handle.state is not state:
            await asyncio.sleep(0.01)
    await asyncio.wait_for(reached(), 20)


async def test_a_paused_slice_resumes_within_the_slice(served, out):
    bundle = make_asset(served, "bundle.bin", 8 * MIB, seed=93)
    offset, length = 2 * MIB + 123, 3 * MIB
    reached = asyncio.Event()
    async with DevServer(served, rate_per_connection=4 * MIB) as server, \
            Engine(retry=FAST_RETRY) as engine:
        handle = engine.start(slice_of(server.url, bundle, out / "file.bin", offset, length),
                              on_progress=lambda p: p.bytes >= MIB and reached.set())
        await asyncio.wait_for(reached.wait(), 20)
        handle.pause()
        await _wait_for_state(handle, DownloadState.PAUSED)
        server.rate_per_connection = None
        handle.resume()
        result = await handle.wait()
    assert result.ok, result.error
    assert_slice(out / "file.bin", bundle, offset, length)
    (_, first), (_, again) = server.stats.range_headers
    assert first == f"bytes={offset}-{offset + length - 1}"
    resumed_at = int(again.removeprefix("bytes=").split("-")[0])
    assert again == f"bytes={resumed_at}-{offset + length - 1}"
    assert offset + MIB <= resumed_at < offset + length
    # What was in flight at the pause comes again; a restart would send the slice twice.
    assert server.stats.body_bytes_sent <= length + MIB
    assert result.resumed_from >= MIB and result.resumed_from == resumed_at - offset
    assert result.bytes_transferred == length  # over both transfers: every byte once


async def wait_until(condition, timeout: float = 5.0) -> None:
    async def polled() -> None:
        while not condition():
            await asyncio.sleep(0.01)
    await asyncio.wait_for(polled(), timeout)


async def _interrupt(request: DownloadRequest, after: int) -> None:
    """Run ``request`` until ``after`` bytes are on disk, then stop the engine."""
    reached = asyncio.Event()
    async with Engine(retry=FAST_RETRY) as engine:
        engine.start(request, on_progress=lambda p: p.bytes >= after and reached.set())
        await asyncio.wait_for(reached.wait(), 20)


async def test_a_slice_of_a_changed_bundle_starts_the_slice_over(served, out):
    """The resume carries If-Range: the changed bundle answers 200, whose body is not read."""
    bundle = make_asset(served, "bundle.bin", 6 * MIB, seed=94)
    offset, length = MIB + 5, 3 * MIB
    async with DevServer(served, rate_per_connection=4 * MIB) as server:
        request = slice_of(server.url, bundle, out / "file.bin", offset, length)
        await _interrupt(request, MIB)
        server.rate_per_connection = None
        server.set_faults(["etag-change:once"])
        async with Engine(retry=FAST_RETRY) as engine:
            result = await engine.fetch(request)
    assert result.ok, result.error
    assert_slice(out / "file.bin", bundle, offset, length)
    assert result.bytes_transferred == length
    # Counted once the response has ended, which the closed 200 does a moment later.
    await wait_until(lambda: server.stats.status_counts[200] == 1)
    assert server.stats.range_headers[-1][1] == f"bytes={offset}-{offset + length - 1}"


async def test_the_part_of_another_slice_is_never_resumed(served, out):
    bundle = make_asset(served, "bundle.bin", 6 * MIB, seed=95)
    async with DevServer(served, rate_per_connection=4 * MIB) as server:
        await _interrupt(slice_of(server.url, bundle, out / "file.bin", 0, 3 * MIB,
                                  sha256=None), MIB)
        assert (out / "file.bin.part.json").exists()
        server.rate_per_connection = None
        async with Engine(retry=FAST_RETRY) as engine:
            result = await engine.fetch(slice_of(server.url, bundle, out / "file.bin", MIB,
                                                 3 * MIB, sha256=None))
    assert result.ok and result.resumed_from == 0
    assert_slice(out / "file.bin", bundle, MIB, 3 * MIB)


CHILD = textwrap.dedent("""
    import asyncio, sys
    from pathlib import Path
    from orchestrator.engine import DownloadRequest, Engine

    async def main(url, destination, offset, length, sha256):
        request = DownloadRequest(url, Path(destination), sha256=sha256 or None,
                                  byte_range=(int(offset), int(length)), connections=1)
        async with Engine() as engine:
            await engine.fetch(request, on_progress=lambda p: print(p.bytes, flush=True))

    asyncio.run(main(*sys.argv[1:]))
""")


async def _kill_9_after(request: DownloadRequest, threshold: int) -> None:
    """Run ``request`` in a child process and kill -9 it once ``threshold`` bytes are in."""
    offset, length = request.byte_range
    child = await asyncio.create_subprocess_exec(
        sys.executable, "-c", CHILD, request.url, str(request.destination), str(offset),
        str(length), request.sha256 or "", stdout=asyncio.subprocess.PIPE, cwd=os.getcwd())
    try:
        while True:
            line = await asyncio.wait_for(child.stdout.readline(), 20)
            assert line, "the child ended before reaching the threshold"
            if int(line) >= threshold:
                break
    finally:
        child.send_signal(signal.SIGKILL)
        await child.wait()


@pytest.mark.parametrize("pinned", [True, False])
async def test_a_slice_killed_mid_transfer_resumes_within_the_slice(served, out, pinned):
    bundle = make_asset(served, "bundle.bin", 16 * MIB, seed=96)
    offset, length = 3 * MIB + 11, 10 * MIB
    async with DevServer(served, rate_per_connection=8 * MIB) as server:
        request = slice_of(server.url, bundle, out / "file.bin", offset, length,
                           **({} if pinned else {"sha256": None}))
        await _kill_9_after(request, 4 * MIB)
        server.rate_per_connection = None
        async with Engine(retry=FAST_RETRY) as engine:
            result: DownloadResult = await engine.fetch(request)
    assert result.ok, result.error
    assert_slice(out / "file.bin", bundle, offset, length)
    (_, first), (_, again) = server.stats.range_headers
    resumed_at = int(again.removeprefix("bytes=").split("-")[0])
    assert first == f"bytes={offset}-{offset + length - 1}"
    assert again == f"bytes={resumed_at}-{offset + length - 1}"
    assert offset + 3 * MIB <= resumed_at < offset + length
    assert resumed_at - offset == result.resumed_from
    assert result.bytes_transferred == length - result.resumed_from
    # The killed child's bytes in flight and the resume: a restart would add 4 MiB or more.
    assert server.stats.body_bytes_sent <= length + 2 * MIB
    assert sorted(os.listdir(out)) == ["file.bin"]


# -- against nginx ----------------------------------------------------------------------------
@pytest.mark.integration
async def test_slices_from_nginx_are_byte_exact_and_past_its_end_fail(bundle, served, out,
                                                                      tmp_path):
    log = tmp_path / "access.log"
    with nginx_server(served, tmp_path / "nginx", access_log=log) as base:
        async with Engine(retry=FAST_RETRY) as engine:
            results = await asyncio.gather(*(
                engine.fetch(slice_of(base, bundle, out / name, offset, length))
                for name, (offset, length) in SLICES.items()))
            short, beyond = await asyncio.gather(
                engine.fetch(slice_of(base, bundle, out / "short.bin", BUNDLE - 100, 200)),
                engine.fetch(slice_of(base, bundle, out / "beyond.bin", BUNDLE + 1, 10)))
    assert all(result.ok for result in results), [result.error for result in results]
    for name, (offset, length) in SLICES.items():
        assert_slice(out / name, bundle, offset, length)
    assert short.error.code == beyond.error.code == ErrorCode.RANGE_NOT_HONOURED
    assert f"is {BUNDLE} bytes" in str(short.error) and "beyond its end" in str(beyond.error)
    assert sorted(os.listdir(out)) == sorted(SLICES)
    records = read_access_log(log)
    # The short slice's last 100 bytes of the bundle came too (a 206 for fewer bytes than
    # asked), and were refused.
    assert sum(r.body_bytes_sent for r in records if r.status == 206) == sum(
        length for _o, length in SLICES.values()) + 100
    assert {r.status for r in records} == {206, 416}


@pytest.mark.integration
async def test_a_throttled_nginx_slice_resumes_within_the_slice(served, out, tmp_path):
    bundle = make_asset(served, "bundle.bin", 8 * MIB, seed=97)
    offset, length = 2 * MIB + 99, 4 * MIB
    log = tmp_path / "access.log"
    with nginx_server(served, tmp_path / "nginx", limit_rate="4m", access_log=log) as base:
        request = slice_of(base, bundle, out / "file.bin", offset, length)
        await _interrupt(request, MIB)
        async with Engine(retry=FAST_RETRY) as engine:
            result = await engine.fetch(request)
    assert result.ok, result.error
    assert_slice(out / "file.bin", bundle, offset, length)
    first, again = sorted(read_access_log(log), key=lambda record: record.started)
    assert first.range == f"bytes={offset}-{offset + length - 1}"
    resumed_at, end = again.requested(bundle.size)
    assert again.status == 206 and end == offset + length
    assert offset + MIB <= resumed_at and resumed_at - offset == result.resumed_from
    assert again.body_bytes_sent == length - result.resumed_from
