"""The pack store on a real file system: shared files linked, not copied; generations
switched atomically; what a crash leaves is cleaned; a reader never sees two versions."""

from __future__ import annotations

import hashlib
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from orchestrator.storage.packstore import PackStore


def put(store: PackStore, files: dict[str, bytes]) -> list[tuple[str, str]]:
    listing = []
    for path, data in files.items():
        digest = hashlib.sha256(data).hexdigest()
        store.add_bytes(digest, data)
        listing.append((path, digest))
    return listing


def read_all(store: PackStore, pack: str) -> dict[str, bytes]:
    return {path: file.read_bytes() for path, file in store.files(pack)}


def test_an_update_links_what_it_shares_and_keeps_the_previous_version(tmp_path):
    store = PackStore(tmp_path / "container")
    v1 = {"a.level": b"a1", "b.level": b"b", "deep/c.level": b"c"}
    store.install("worlds", "v1", put(store, v1))
    assert read_all(store, "worlds") == v1
    stored = store.stored(hashlib.sha256(b"b").hexdigest())
    assert not os.access(stored, os.W_OK) or os.geteuid() == 0
    assert stat_mode(stored) & 0o222 == 0  # read-only: nobody edits a shared file in place

    v2 = {**v1, "a.level": b"a2"}
    generation = store.install("worlds", "v2", put(store, v2))
    assert read_all(store, "worlds") == v2
    assert store.previous("worlds").version == "v1"
    shared_v1 = store.previous("worlds").path / "b.level"
    assert (generation.path / "b.level").stat().st_ino == shared_v1.stat().st_ino
    assert stored.stat().st_nlink == 3  # the store and both generations, one copy of bytes
    assert store.collect() == 0  # v1 is still kept for rollback

    v3 = {"a.level": b"a3"}
    store.install("worlds", "v3", put(store, v3))
    assert not (tmp_path / "container" / ".packs" / "packs" / "worlds" / "gen-v1").exists()
    freed = store.collect()  # a1 was only in v1: gone; b and c are still in v2
    assert freed == len(b"a1")
    assert store.has(hashlib.sha256(b"b").hexdigest())

    assert store.rollback("worlds").version == "v2"
    assert read_all(store, "worlds") == v2 and store.previous("worlds").version == "v3"
    assert store.locate("deep/c.level").read_bytes() == b"c"
    assert store.locate("nothing.level") is None
    with pytest.raises(ValueError):
        store.locate("../outside")


def stat_mode(path: Path) -> int:
    return path.stat().st_mode


def test_remove_frees_what_only_that_pack_used(tmp_path):
    store = PackStore(tmp_path / "c")
    store.install("one", "1", put(store, {"x": b"shared", "y": b"only-one"}))
    store.install("two", "1", put(store, {"z": b"shared"}))
    assert store.packs() == ["one", "two"]
    assert store.remove("one") == len(b"only-one")
    assert store.packs() == ["two"] and read_all(store, "two") == {"z": b"shared"}


def test_what_a_crash_left_half_made_is_removed_and_current_stays_whole(tmp_path):
    store = PackStore(tmp_path / "c")
    store.install("p", "1", put(store, {"f": b"one"}))
    folder = tmp_path / "c" / ".packs" / "packs" / "p"
    (folder / ".tmp-gen-2-999" / "sub").mkdir(parents=True)
    (folder / ".tmp-gen-2-999" / "sub" / "half").write_bytes(b"ha")
    os.symlink("gen-2", folder / ".tmp-current-999")
    (tmp_path / "c" / ".packs" / "store" / ".tmp-abc").write_bytes(b"partial")
    store.recover()
    assert sorted(p.name for p in folder.iterdir()) == ["current", "gen-1"]
    assert read_all(store, "p") == {"f": b"one"}
    assert not (tmp_path / "c" / ".packs" / "store" / ".tmp-abc").exists()


UPDATER = r"""
import hashlib, sys
from pathlib import Path
from orchestrator.storage.packstore import PackStore
store = PackStore(Path(sys.argv[1]))
version = 0
while True:
    version += 1
    files = []
    for index in range(40):
        data = f"v{version} file {index} ".encode() * 200
        digest = hashlib.sha256(data).hexdigest()
        store.add_bytes(digest, data)
        files.append((f"dir-{index % 4}/file-{index}.bin", digest))
    store.install("pack", f"v{version}", files)
    print(version, flush=True)
"""

READER = r"""
import json, os, sys, time
from pathlib import Path
folder = Path(sys.argv[1]) / ".packs" / "packs" / "pack"
deadline = time.monotonic() + float(sys.argv[2])
seen = set()
reads = 0
while time.monotonic() < deadline:
    try:
        generation = folder / os.readlink(folder / "current")
        versions = set()
        for index in range(40):
            with open(generation / f"dir-{index % 4}/file-{index}.bin", "rb") as handle:
                versions.add(handle.read(12).split(b" ")[0])
    except FileNotFoundError:
        continue  # that generation was collected while being read: read the new one
    reads += 1
    if len(versions) != 1:
        print(json.dumps({"mixed": sorted(v.decode() for v in versions)}), flush=True)
        sys.exit(1)
    seen |= versions
print(json.dumps({"reads": reads, "versions": len(seen)}), flush=True)
"""


def test_a_reader_always_sees_one_whole_generation_while_updates_are_killed(tmp_path):
    container = tmp_path / "container"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    rng = random.Random(7)
    reader = subprocess.Popen([sys.executable, "-c", READER, str(container), "6"],
                              stdout=subprocess.PIPE, text=True, env=env)
    kills = 0
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        updater = subprocess.Popen([sys.executable, "-c", UPDATER, str(container)],
                                   stdout=subprocess.PIPE, text=True, env=env)
        first = updater.stdout.readline()  # one generation at least, then kill -9 at random
        assert first.strip(), "the updater installed nothing"
        time.sleep(rng.uniform(0.0, 0.3))
        updater.send_signal(signal.SIGKILL)
        updater.wait(timeout=10)
        kills += 1
    result = json.loads(reader.stdout.readline())
    assert reader.wait(timeout=20) == 0, result
    assert result["reads"] > 50 and result["versions"] > 1 and kills >= 3
    store = PackStore(container)
    store.recover()
    current = store.current("pack")
    files = dict(store.files("pack"))
    assert len(files) == 40
    assert {f.read_bytes().split(b" ")[0].decode() for f in files.values()} == {current.version}


def test_many_small_files_are_stored_with_one_sync_read_only_and_once(tmp_path):
    store = PackStore(tmp_path / "c")
    files = [(hashlib.sha256(data).hexdigest(), data) for data in (b"one", b"two", b"one")]
    assert store.add_all(files) == [files[0][0], files[1][0]]  # the repeat is stored once
    assert store.add_all(files) == []  # all there already
    for sha256, data in files:
        assert store.stored(sha256).read_bytes() == data
        assert stat_mode(store.stored(sha256)) & 0o222 == 0
    assert [p.name for p in store.store.iterdir() if p.name.startswith(".tmp-")] == []
