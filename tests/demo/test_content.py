"""The demo content is what the example catalogs say it is, byte for byte."""

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

from orchestrator.demo import generate_content, refresh_catalog
from orchestrator.demo.content import ExampleAsset, example_assets
from orchestrator.errors import ManifestError

MANIFESTS = Path(__file__).resolve().parents[2] / "manifests"
CATALOGS = sorted(MANIFESTS.glob("*/catalog.json"))


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        while block := stream.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def test_every_example_app_has_a_catalog():
    names = {path.parent.name for path in CATALOGS}
    assert names >= {"wwdc-sessions", "level-packs", "offline-models"}


def test_generated_content_matches_each_catalog_entry(tmp_path):
    written = generate_content(MANIFESTS, tmp_path)
    assert written
    for catalog in CATALOGS:
        served = tmp_path / catalog.parent.name
        assert (served / "catalog.json").read_bytes() == catalog.read_bytes()
        for asset in json.loads(catalog.read_text())["assets"]:
            path = served / asset["url"]
            assert path.stat().st_size == asset["size"], asset["id"]
            assert sha256_of(path) == asset["sha256"], asset["id"]
    assert not list(tmp_path.rglob("*.part"))


def test_second_generation_keeps_what_is_there(tmp_path):
    generate_content(MANIFESTS, tmp_path)
    assert generate_content(MANIFESTS, tmp_path) == []


def _small_catalog(folder: Path, url: str = "a.bin", sha256: str | None = None) -> Path:
    folder.mkdir(parents=True)
    asset = {"id": "a", "url": url, "size": 3000}
    if sha256:
        asset["sha256"] = sha256
    catalog = folder / "catalog.json"
    catalog.write_text(json.dumps({"version": 1, "assets": [asset]}))
    return catalog


def test_a_stale_sha256_is_refused_and_leaves_no_file(tmp_path):
    _small_catalog(tmp_path / "manifests" / "app", sha256="0" * 64)
    with pytest.raises(ManifestError, match="python -m orchestrator.demo --refresh"):
        generate_content(tmp_path / "manifests", tmp_path / "out")
    assert not (tmp_path / "out" / "app" / "a.bin").exists()


def test_refresh_writes_the_generated_sha256(tmp_path):
    catalog = _small_catalog(tmp_path / "manifests" / "app", sha256="0" * 64)
    refresh_catalog(catalog)
    generate_content(tmp_path / "manifests", tmp_path / "out")
    expected = json.loads(catalog.read_text())["assets"][0]["sha256"]
    assert sha256_of(tmp_path / "out" / "app" / "a.bin") == expected


def test_an_example_asset_is_known_by_size_and_sha256_under_any_folder_name(tmp_path):
    catalog = _small_catalog(tmp_path / "manifests" / "app")
    refresh_catalog(catalog)
    sha256 = json.loads(catalog.read_text())["assets"][0]["sha256"]

    example = example_assets(tmp_path / "manifests")[(3000, sha256)]
    assert example == ExampleAsset("app", "a")
    assert example.write(tmp_path / "copy" / "renamed.bin", 3000) == sha256
    assert (3000, "0" * 64) not in example_assets(tmp_path / "manifests")


def test_every_bundled_example_asset_is_known(tmp_path):
    known = example_assets(MANIFESTS)
    for catalog in CATALOGS:
        for asset in json.loads(catalog.read_text())["assets"]:
            assert known[asset["size"], asset["sha256"]] == \
                ExampleAsset(catalog.parent.name, asset["id"])


@pytest.mark.parametrize("url", ["../escape.bin", "/etc/passwd", "http://elsewhere/a.bin"])
def test_asset_urls_cannot_leave_the_served_folder(tmp_path, url):
    _small_catalog(tmp_path / "manifests" / "app", url=url)
    with pytest.raises(ManifestError, match="assets\\[0\\]"):
        generate_content(tmp_path / "manifests", tmp_path / "out")
    assert not (tmp_path / "escape.bin").exists()


def test_unreadable_catalog_is_named(tmp_path):
    folder = tmp_path / "manifests" / "app"
    folder.mkdir(parents=True)
    (folder / "catalog.json").write_text("{not json")
    with pytest.raises(ManifestError, match="catalog.json"):
        generate_content(tmp_path / "manifests", tmp_path / "out")


def _demo(*arguments: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "orchestrator.demo", *arguments], cwd=cwd,
                          capture_output=True, text=True, timeout=120)


def test_the_demo_command_refuses_a_folder_without_catalogs(tmp_path):
    result = _demo("out", "--manifests", str(tmp_path), cwd=tmp_path)
    assert result.returncode == 2 and "no <app>/catalog.json found" in result.stderr
    assert not (tmp_path / "out").exists()


def test_refresh_needs_an_explicit_folder(tmp_path):
    result = _demo("--refresh", cwd=tmp_path)
    assert result.returncode == 2 and "--manifests" in result.stderr


def test_the_demo_command_names_an_unwritable_output(tmp_path):
    (tmp_path / "taken").write_text("")
    result = _demo("taken/out", cwd=tmp_path)
    assert result.returncode == 2 and "cannot write there" in result.stderr
    assert "Traceback" not in result.stderr
