"""Folder listings: many downloads into one folder ask a listing, not the disk, whether
their destination or an earlier .part is there, and the answer is never wrong in a way
that loses or skips bytes."""

from __future__ import annotations

import time

from orchestrator.engine import Engine
from orchestrator.engine.listing import ASKED_BEFORE_LISTING, LISTING_SECONDS, FolderListings
from tests.engine.conftest import FAST_RETRY, make_asset, request_for, sha256_of


def test_a_folder_is_listed_only_once_asked_about_often_and_the_listing_ages_out(tmp_path):
    listings = FolderListings()
    (tmp_path / "there.bin").write_bytes(b"x")
    answers = [listings.surely_absent(tmp_path / "missing.bin")
               for _ in range(ASKED_BEFORE_LISTING - 1)]
    assert answers == [False] * (ASKED_BEFORE_LISTING - 1)  # looked at the exact way
    assert listings.surely_absent(tmp_path / "missing.bin")  # this question listed it
    assert not listings.surely_absent(tmp_path / "there.bin")
    (tmp_path / "late.bin").write_bytes(b"y")
    assert listings.surely_absent(tmp_path / "late.bin")  # made after the listing
    time.sleep(LISTING_SECONDS + 0.1)
    assert not listings.surely_absent(tmp_path / "late.bin")  # a new window: asked again
    for _ in range(ASKED_BEFORE_LISTING):
        listings.surely_absent(tmp_path / "other.bin")
    assert not listings.surely_absent(tmp_path / "late.bin")
    assert listings.surely_absent(tmp_path / "missing.bin")


def test_a_folder_that_cannot_be_listed_is_never_said_to_lack_anything(tmp_path):
    listings = FolderListings()
    gone = tmp_path / "not-made"
    assert not any(listings.surely_absent(gone / f"f{index}")
                   for index in range(3 * ASKED_BEFORE_LISTING))
    file = tmp_path / "a-file"
    file.write_bytes(b"")
    assert not any(listings.surely_absent(file / "child")
                   for index in range(3 * ASKED_BEFORE_LISTING))


async def test_many_files_into_one_folder_skip_those_in_place_and_resume_earlier_parts(
        served, server, out):
    """Forty small files into one folder: the ones already in place are verified and not
    fetched, the one with a .part of an earlier run resumes from it, the rest are fetched."""
    assets = [make_asset(served, f"f{index:02d}.bin", 20_000 + index, seed=index)
              for index in range(40)]
    in_place = assets[10:20]
    for asset in in_place:
        (out / asset.name).write_bytes(asset.data)
    resumed = assets[30]
    (out / f"{resumed.name}.part").write_bytes(resumed.data[:8_000])
    async with Engine(retry=FAST_RETRY) as engine:
        results = [await engine.fetch(request_for(server, asset, out)) for asset in assets]
    assert all(result.ok for result in results)
    assert all(sha256_of(out / asset.name) == asset.sha256 for asset in assets)
    assert sorted(path.name for path in out.iterdir()) == sorted(a.name for a in assets)
    fetched = server.stats.requests_by_path
    assert not any(fetched[f"/{asset.name}"] for asset in in_place)
    assert all(fetched[f"/{asset.name}"] == 1 for asset in assets if asset not in in_place)
    assert results[30].resumed_from == 8_000 and server.stats.range_requests == 1
