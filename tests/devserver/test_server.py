"""The dev server over real sockets: headers, ranges, validators, path safety and counters."""

from __future__ import annotations

import os
import time
import urllib.request
from pathlib import Path

import aiohttp
import pytest

from orchestrator.devserver import DevServer, serve_in_thread
from tests.devserver.conftest import ASSET_SIZE, asset_bytes, raw_get

DATA = asset_bytes()


async def test_get_sends_the_file_with_validators_and_no_compression(server: DevServer) -> None:
    response = await raw_get(server.port, "/asset.bin", {"Accept-Encoding": "gzip, br"})
    assert response.status == 200
    assert response.body == DATA and response.ending == "complete"
    assert response.headers["content-length"] == str(ASSET_SIZE)
    assert response.headers["accept-ranges"] == "bytes"
    assert response.headers["content-type"] == "application/octet-stream"
    assert response.headers["etag"].startswith('"')
    assert response.headers["last-modified"].endswith(" GMT")
    assert "content-encoding" not in response.headers


async def test_head_sends_the_same_headers_without_a_body(server: DevServer) -> None:
    get = await raw_get(server.port, "/asset.bin")
    head = await raw_get(server.port, "/asset.bin", method="HEAD")
    assert head.status == 200 and head.body == b""
    for name in ("content-length", "etag", "last-modified", "accept-ranges", "content-type"):
        assert head.headers[name] == get.headers[name]
    assert server.stats.bytes_by_path["/asset.bin"] == ASSET_SIZE


@pytest.mark.parametrize(("path", "media_type"), [
    ("/hello.txt", "text/plain"), ("/sub/catalog.json", "application/json"),
])
async def test_content_type_follows_the_extension(server: DevServer, path: str,
                                                  media_type: str) -> None:
    response = await raw_get(server.port, path)
    assert response.headers["content-type"].split(";")[0] == media_type


@pytest.mark.parametrize(("header", "first", "last"), [
    ("bytes=0-0", 0, 0), ("bytes=1000-1999", 1000, 1999), ("bytes=1048000-", 1048000, 1048575),
    ("bytes=-576", 1048000, 1048575), ("bytes=5-99999999", 5, 1048575),
])
async def test_single_range_gets_206_with_exact_bytes(server: DevServer, header: str, first: int,
                                                      last: int) -> None:
    response = await raw_get(server.port, "/asset.bin", {"Range": header})
    assert response.status == 206
    assert response.headers["content-range"] == f"bytes {first}-{last}/{ASSET_SIZE}"
    assert response.headers["content-length"] == str(last - first + 1)
    assert response.body == DATA[first:last + 1]
    assert server.stats.range_requests == 1


@pytest.mark.parametrize(("path", "header", "size"), [
    ("/asset.bin", f"bytes={ASSET_SIZE}-", ASSET_SIZE), ("/asset.bin", "bytes=-0", ASSET_SIZE),
    ("/empty.bin", "bytes=0-", 0),
])
async def test_unsatisfiable_range_gets_416_with_the_size(server: DevServer, path: str,
                                                          header: str, size: int) -> None:
    response = await raw_get(server.port, path, {"Range": header})
    assert response.status == 416
    assert response.headers["content-range"] == f"bytes */{size}"


async def test_multiple_ranges_get_the_whole_file(server: DevServer) -> None:
    response = await raw_get(server.port, "/asset.bin", {"Range": "bytes=0-9,20-29"})
    assert response.status == 200 and response.body == DATA


async def test_if_range_honours_the_range_only_for_current_validators(server: DevServer) -> None:
    head = await raw_get(server.port, "/asset.bin", method="HEAD")
    etag, date = head.headers["etag"], head.headers["last-modified"]

    async def status_for(if_range: str) -> int:
        response = await raw_get(server.port, "/asset.bin",
                                 {"Range": "bytes=100-", "If-Range": if_range})
        assert response.body == (DATA[100:] if response.status == 206 else DATA)
        return response.status

    assert await status_for(etag) == 206
    assert await status_for(date) == 206
    assert await status_for('"an-old-etag"') == 200
    assert await status_for("W/" + etag) == 200
    assert await status_for("Mon, 01 Jan 2024 00:00:00 GMT") == 200


async def test_conditional_get_answers_304(server: DevServer) -> None:
    head = await raw_get(server.port, "/asset.bin", method="HEAD")
    by_tag = await raw_get(server.port, "/asset.bin", {"If-None-Match": head.headers["etag"]})
    by_date = await raw_get(server.port, "/asset.bin",
                            {"If-Modified-Since": head.headers["last-modified"]})
    assert (by_tag.status, by_tag.body) == (304, b"")
    assert (by_date.status, by_date.body) == (304, b"")
    assert by_tag.headers["etag"] == head.headers["etag"]


async def test_etag_changes_when_the_file_changes(site: Path, server: DevServer) -> None:
    before = await raw_get(server.port, "/hello.txt", method="HEAD")
    again = await raw_get(server.port, "/hello.txt", method="HEAD")
    (site / "hello.txt").write_text("hello, changed assets\n")
    os.utime(site / "hello.txt", ns=(1_000_000_000, 1_000_000_000))
    after = await raw_get(server.port, "/hello.txt", method="HEAD")
    assert before.headers["etag"] == again.headers["etag"] != after.headers["etag"]


@pytest.mark.parametrize("path", [
    "/../secret.txt", "/%2e%2e/secret.txt", "/sub/..%2F..%2Fsecret.txt",
    "/sub/%2e%2e/%2e%2e/secret.txt",
    "/%00hello.txt", "/sub", "/sub/", "/", "/missing.bin", "/link.txt",
])
async def test_paths_outside_the_root_folders_and_missing_files_are_404(
        site: Path, server: DevServer, path: str) -> None:
    (site / "link.txt").symlink_to(site.parent / "secret.txt")
    response = await raw_get(server.port, path)
    assert response.status == 404
    assert b"outside the root" not in response.body


async def test_percent_encoded_names_are_decoded(site: Path, server: DevServer) -> None:
    (site / "with space é.txt").write_text("spaced\n")
    response = await raw_get(server.port, "/with%20space%20%C3%A9.txt")
    assert (response.status, response.body) == (200, b"spaced\n")


async def test_other_methods_get_405(server: DevServer) -> None:
    response = await raw_get(server.port, "/hello.txt", method="DELETE")
    assert response.status == 405 and response.headers["allow"] == "GET, HEAD"


async def test_stats_count_requests_bytes_ranges_and_statuses(server: DevServer) -> None:
    await raw_get(server.port, "/asset.bin")
    await raw_get(server.port, "/asset.bin", {"Range": "bytes=0-99"})
    await raw_get(server.port, "/hello.txt", method="HEAD")
    await raw_get(server.port, "/missing")
    stats = server.stats
    assert stats.requests == 4
    assert stats.requests_by_path == {"/asset.bin": 2, "/hello.txt": 1, "/missing": 1}
    assert stats.body_bytes_sent == ASSET_SIZE + 100
    assert stats.bytes_by_path["/asset.bin"] == ASSET_SIZE + 100
    assert stats.range_requests == 1
    assert stats.status_counts == {200: 2, 206: 1, 404: 1}
    assert not stats.faults_fired


async def test_rate_per_connection_paces_the_body(site: Path) -> None:
    async with DevServer(site, rate_per_connection=2 * 1024 * 1024) as server:
        started = time.monotonic()
        response = await raw_get(server.port, "/asset.bin")
        elapsed = time.monotonic() - started
    assert response.body == DATA
    assert elapsed >= 0.3  # 1 MiB at 2 MiB/s is 0.5 s; the first chunk leaves at once


async def test_rate_is_per_connection_across_keep_alive_requests(site: Path) -> None:
    connector = aiohttp.TCPConnector(limit=1)
    async with DevServer(site, rate_per_connection=2 * 1024 * 1024) as server, \
            aiohttp.ClientSession(connector=connector) as session:
        started = time.monotonic()
        for index in range(8):
            first = index * 131072
            headers = {"Range": f"bytes={first}-{first + 131071}"}
            async with session.get(server.url + "asset.bin", headers=headers) as response:
                assert await response.read() == DATA[first:first + 131072]
        elapsed = time.monotonic() - started
    assert elapsed >= 0.35  # 1 MiB over one connection at 2 MiB/s, less one chunk of credit


async def test_url_names_host_and_real_port(site: Path) -> None:
    async with DevServer(site, port=0) as server:
        assert server.port > 0
        assert server.url == f"http://127.0.0.1:{server.port}/"


async def test_a_taken_port_raises_oserror(site: Path, server: DevServer) -> None:
    with pytest.raises(OSError):
        async with DevServer(site, port=server.port):
            pass


def test_serve_in_thread_works_for_synchronous_clients(site: Path) -> None:
    with serve_in_thread(site) as server:
        request = urllib.request.Request(server.url + "asset.bin",
                                         headers={"Range": "bytes=10-19"})
        with urllib.request.urlopen(request, timeout=5) as response:
            assert response.status == 206
            assert response.read() == DATA[10:20]
        assert server.stats.requests == 1
    with pytest.raises(OSError):
        urllib.request.urlopen(server.url + "asset.bin", timeout=2)
