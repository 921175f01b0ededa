"""``bgassets pack build`` as a user runs it: deterministic output that a host serves.

Every test runs the real command in a subprocess on real files, then reads what it
wrote: each file of each pack comes back, byte for byte, from its object (a whole
object or a slice of a bundle), also over HTTP with a Range request from the dev server.
"""

from __future__ import annotations

import hashlib
import json
import os
import pty
import subprocess
import sys
import urllib.request

from orchestrator.devserver.thread import serve_in_thread
from orchestrator.packs.build import BUNDLE_TARGET, SMALL_FILE
from tests.packs.conftest import KiB, bgassets, build, data_for, pack_manifest, tree


def test_the_build_is_deterministic_and_every_file_comes_back_from_its_object(project,
                                                                            tmp_path):
    source, _ = project
    catalog = build(project, tmp_path / "one")
    build(project, tmp_path / "two")
    assert tree(tmp_path / "one") == tree(tmp_path / "two")  # byte-identical output

    packs = {pack["id"]: pack for pack in catalog["packs"]}
    assert list(packs) == ["levels", "textures", "tutorial"]
    assert packs["tutorial"]["downloadPolicy"] == {
        "essential": {"installationEventTypes": ["firstInstallation"]}}
    assert packs["textures"]["downloadPolicy"] == {"onDemand": {}}
    level_paths = [f["path"] for f in packs["levels"]["files"]]
    assert len(level_paths) == 300 and level_paths == sorted(level_paths)
    assert "levels/escape.level" not in level_paths  # a symlink is never followed
    assert [f["path"] for f in packs["textures"]["files"]] == [
        "textures/hd-a.tex", "textures/hd-b.tex"]
    for pack in packs.values():
        objects = {o["url"]: o for o in pack["objects"]}
        for url, entry in objects.items():
            data = (tmp_path / "one" / url).read_bytes()
            assert len(data) == entry["size"]
            assert hashlib.sha256(data).hexdigest() == entry["sha256"] == url.rsplit("/", 1)[1]
        for entry in pack["files"]:
            whole = (tmp_path / "one" / entry["object"]).read_bytes()
            offset = entry.get("offset", 0)
            data = whole[offset:offset + entry["size"]]
            assert data == (source / entry["path"]).read_bytes()
            assert hashlib.sha256(data).hexdigest() == entry["sha256"]
            assert ("offset" in entry) == (entry["size"] < SMALL_FILE)
        assert pack["installedSize"] == sum(f["size"] for f in pack["files"])
        assert pack["downloadSize"] == sum(o["size"] for o in pack["objects"])
    # 300 small files cost a few bundles, not 300 requests.
    small = packs["levels"]["installedSize"]
    assert len(packs["levels"]["objects"]) <= small // BUNDLE_TARGET + 1


def test_a_host_serves_the_objects_and_a_bundled_file_is_one_range_request(project,
                                                                         tmp_path):
    source, _ = project
    catalog = build(project, tmp_path / "out")
    entry = next(f for f in catalog["packs"][0]["files"] if "offset" in f and f["offset"])
    with serve_in_thread(tmp_path / "out") as server:
        start, end = entry["offset"], entry["offset"] + entry["size"] - 1
        request = urllib.request.Request(server.url + entry["object"],
                                         headers={"Range": f"bytes={start}-{end}"})
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.status == 206
            assert response.read() == (source / entry["path"]).read_bytes()


def test_a_changed_file_changes_its_pack_only_and_keeps_every_other_object(project,
                                                                          tmp_path):
    source, _ = project
    before = {p["id"]: p for p in build(project, tmp_path / "out")["packs"]}
    (source / "textures" / "hd-a.tex").write_bytes(data_for("changed", 300 * KiB))
    result = bgassets("pack", "build", *map(str, project[1]), "--source", str(source),
                      "--out", str(tmp_path / "out"))
    assert result.returncode == 0 and "(1 new)" in result.stdout, result.stdout
    after = {p["id"]: p for p in json.loads((tmp_path / "out" / "packs.json").read_text())[
        "packs"]}
    assert after["textures"]["version"] != before["textures"]["version"]
    assert [after[i]["version"] for i in ("levels", "tutorial")] == [
        before[i]["version"] for i in ("levels", "tutorial")]
    changed = {f["path"] for f in after["textures"]["files"]} - {
        f["path"] for f in after["textures"]["files"] if f in before["textures"]["files"]}
    assert changed == {"textures/hd-a.tex"}


def test_base_url_makes_object_urls_absolute(project, tmp_path):
    catalog = build(project, tmp_path / "out", "--base-url", "https://cdn.example.com/game/")
    urls = [o["url"] for p in catalog["packs"] for o in p["objects"]]
    assert urls and all(u.startswith("https://cdn.example.com/game/objects/") for u in urls)


def test_overlapping_and_empty_selectors_are_located_and_nothing_is_written(project,
                                                                          tmp_path):
    source, manifests = project
    extra = pack_manifest(manifests[0].parent, "extra", "{onDemand: {}}", """\
        - file: textures/hd-a.tex
        - directory: textures
          include: ["*.wav"]
        """)
    result = bgassets("pack", "build", *map(str, [*manifests, extra]), "--source", str(source),
                      "--out", str(tmp_path / "out"))
    assert result.returncode == 1
    lines = result.stderr.splitlines()
    assert any(line.endswith("extra.yaml:7:7: spec.files[0]: 'textures/hd-a.tex' is "
                             "claimed by pack 'textures' too (its spec.files[0]); a path "
                             "belongs to one pack") for line in lines), lines
    assert any(line.endswith("textures.yaml:7:7: spec.files[0]: 'textures/hd-a.tex' is "
                             "claimed by pack 'extra' too (its spec.files[0]); a path "
                             "belongs to one pack") for line in lines), lines
    assert any("extra.yaml:8:7: spec.files[1]: directory 'textures' has no files after "
               "include and exclude" in line for line in lines), lines
    assert not (tmp_path / "out").exists()
    validated = bgassets("validate", str(manifests[0].parent), "--source", str(source))
    assert validated.returncode == 1
    for name in ("extra.yaml:7:7:", "textures.yaml:7:7:"):
        assert f"{name} spec.files[0]: 'textures/hd-a.tex' is claimed" in validated.stdout
    assert bgassets("validate", str(manifests[0].parent)).returncode == 0  # no --source


def test_usage_errors_exit_2_with_a_message(project, tmp_path):
    source, manifests = project
    inside = bgassets("pack", "build", str(manifests[0]), "--source", str(source),
                      "--out", str(source / "out"))
    assert inside.returncode == 2 and "is inside --source" in inside.stderr
    missing = bgassets("pack", "build", str(manifests[0]), "--source", str(tmp_path / "no"),
                       "--out", str(tmp_path / "out"))
    assert missing.returncode == 2 and "no such folder" in missing.stderr
    wrong_kind = tmp_path / "app.yaml"
    wrong_kind.write_text("apiVersion: bgassets/v1\nkind: Device\nmetadata: {name: d}\n"
                          "spec: {}\n")
    refused = bgassets("pack", "build", str(wrong_kind), "--source", str(source),
                       "--out", str(tmp_path / "out"))
    assert refused.returncode == 1 and "expected an AssetPack document" in refused.stderr
    assert "Traceback" not in inside.stderr + missing.stderr + refused.stderr


def test_a_terminal_gets_a_progress_bar(project, tmp_path):
    source, manifests = project
    primary, secondary = pty.openpty()
    try:
        result = subprocess.run(
            [sys.executable, "-m", "orchestrator", "pack", "build", *map(str, manifests),
             "--source", str(source), "--out", str(tmp_path / "out")],
            stdout=subprocess.PIPE, stderr=secondary, timeout=120)
        os.close(secondary)
        secondary = -1
        shown = b""
        while True:
            try:
                chunk = os.read(primary, 65536)
            except OSError:
                break
            if not chunk:
                break
            shown += chunk
    finally:
        os.close(primary)
        if secondary >= 0:
            os.close(secondary)
    assert result.returncode == 0
    assert b"303/303 files" in shown and b"\r[" in shown
