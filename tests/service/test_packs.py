"""Managed asset packs through the orchestrator, against a real DevServer serving what
``pack build`` wrote: essential packs before launch, prefetch after, on-demand on ask,
updates that fetch only what changed, rollback, removal, check for updates."""

from __future__ import annotations

import hashlib
import textwrap
from pathlib import Path

from orchestrator.devserver import DevServer
from orchestrator.engine import Engine, RetryPolicy
from orchestrator.manifests.documents import load_packs
from orchestrator.packs.build import build
from orchestrator.service import Orchestrator
from orchestrator.storage.packstore import PackStore
from tests.service.scenario import APP_ID, GROUP, Asset, KiB, Recorder, Scenario

FAST = RetryPolicy(attempts=2, base_delay=0.01)
PACKS = {
    "tutorial": ("{essential: {installationEventTypes: [firstInstallation]}}", "tutorial"),
    "worlds": ("{prefetch: {installationEventTypes: [firstInstallation, subsequentUpdate]}}",
               "worlds"),
    "hd": ("{onDemand: {}}", "hd"),
}


def write_source(source: Path, version: str = "1",
                 changed: tuple[str, ...] = ("worlds/2/caves.level",)) -> None:
    files = {"tutorial/island.level": 2 * KiB, "tutorial/hints.txt": 300,
             "worlds/1/meadows.level": 100 * KiB, "worlds/2/caves.level": 90 * KiB,
             "worlds/names.txt": 40, "hd/grass.tex": 200 * KiB}
    for name, size in files.items():
        path = source / name
        path.parent.mkdir(parents=True, exist_ok=True)
        seed = f"{name}@{version if name in changed else '1'}"
        path.write_bytes(hashlib.shake_128(seed.encode()).digest(size))


def build_packs(root: Path, out: Path, only: tuple[str, ...] = tuple(PACKS)) -> None:
    manifests = root / "pack-manifests"
    manifests.mkdir(exist_ok=True)
    paths = []
    for pack_id in only:
        policy, folder = PACKS[pack_id]
        path = manifests / f"{pack_id}.yaml"
        path.write_text(f"apiVersion: bgassets/v1\nkind: AssetPack\nmetadata: {{id: {pack_id}}}"
                        f"\nspec:\n  downloadPolicy: {policy}\n  files:\n"
                        f"    - directory: {folder}\n")
        paths.append(path)
    packs, selection = load_packs(paths, root / "source")
    build(packs, selection, root / "source", out)


def app_with_packs(tmp_path: Path, base_url: str, extension_spec: str = "") -> Path:
    scene = Scenario(tmp_path, [Asset("intro", 16 * KiB, essential=True)],
                     extension_spec=extension_spec)
    scene.write_content()
    manifest = scene.write_manifests(base_url)
    manifest.write_text(manifest.read_text()
                        + f"  assetPacks: {{manifestURL: {base_url}packs/packs.json}}\n")
    return manifest


def local(state: Path, pack: str) -> dict[str, bytes]:
    return {path: file.read_bytes()
            for path, file in PackStore(state / "containers" / GROUP).files(pack)}


def source_files(tmp_path: Path, folder: str) -> dict[str, bytes]:
    base = tmp_path / "source"
    return {p.relative_to(base).as_posix(): p.read_bytes()
            for p in sorted((base / folder).rglob("*")) if p.is_file()}


async def test_essential_before_launch_prefetch_after_and_on_demand_when_asked(tmp_path):
    write_source(tmp_path / "source")
    build_packs(tmp_path, tmp_path / "content" / "packs")
    state, recorder = tmp_path / "state", Recorder()
    async with DevServer(tmp_path / "content") as server:
        manifest = app_with_packs(tmp_path, server.url)
        async with Engine(retry=FAST) as engine, \
                Orchestrator(state, engine=engine) as orchestrator:
            orchestrator.events.subscribe(recorder)
            await orchestrator.install(manifest)
            await orchestrator.wait(APP_ID, "all", timeout=30)
            names = [e["event"] for e in recorder]
            tutorial_at = next(i for i, e in enumerate(recorder)
                               if e["event"] == "pack.installed" and e["pack"] == "tutorial")
            assert tutorial_at < names.index("app.launchable")
            essential = {e["download"] for e in recorder.named("download.scheduled")
                         if e["essential"]}
            assert any(d.startswith("@pack:tutorial:") for d in essential)
            assert not any(d.startswith("@pack:worlds:") for d in essential)
            assert local(state, "tutorial") == source_files(tmp_path, "tutorial")
            assert local(state, "worlds") == source_files(tmp_path, "worlds")
            assert local(state, "hd") == {}
            assert not any("hd" in e["download"] for e in recorder.named("download.scheduled"))
            states = orchestrator.packs(APP_ID)
            assert (states["hd"].local_version, states["hd"].pack.pack.policy.value) == (
                None, "onDemand")

            assert orchestrator.ensure_pack(APP_ID, "hd") == 1
            await orchestrator.wait(APP_ID, "all", timeout=30)
            assert local(state, "hd") == source_files(tmp_path, "hd")
            assert orchestrator.ensure_pack(APP_ID, "hd") == 0  # already current
            freed = orchestrator.remove_pack(APP_ID, "hd")
            assert freed == 200 * KiB and local(state, "hd") == {}
    container = state / "containers" / GROUP
    assert list((container / ".packs" / "incoming").iterdir()) == []


async def test_an_update_fetches_only_the_changed_object_and_rollback_goes_back(tmp_path):
    write_source(tmp_path / "source")
    build_packs(tmp_path, tmp_path / "content" / "packs")
    state, recorder = tmp_path / "state", Recorder()
    async with DevServer(tmp_path / "content") as server:
        manifest = app_with_packs(tmp_path, server.url)
        async with Engine(retry=FAST) as engine, \
                Orchestrator(state, engine=engine) as orchestrator:
            orchestrator.events.subscribe(recorder)
            await orchestrator.install(manifest)
            await orchestrator.wait(APP_ID, "all", timeout=30)
            before = dict(server.stats.bytes_by_path)
            old_version = orchestrator.packs(APP_ID)["worlds"].local_version

            # caves.level changes, and so does the tutorial, which comes at a first
            # installation only: the update leaves it as it is.
            write_source(tmp_path / "source", version="2",
                         changed=("worlds/2/caves.level", "tutorial/hints.txt"))
            build_packs(tmp_path, tmp_path / "content" / "packs")
            manifest.write_text(manifest.read_text().replace('version: "1.0"',
                                                             'version: "1.1"'))
            await orchestrator.update(manifest)
            await orchestrator.wait(APP_ID, "all", timeout=30)
            fetched = {path: sent - before.get(path, 0)
                       for path, sent in server.stats.bytes_by_path.items()
                       if sent - before.get(path, 0)}
            caves = hashlib.sha256((tmp_path / "source" / "worlds/2/caves.level")
                                   .read_bytes()).hexdigest()
            objects = [path for path in fetched if "/objects/" in path]
            assert objects == [f"/packs/objects/{caves[:2]}/{caves}"], fetched
            assert set(fetched) - set(objects) <= {"/packs/packs.json", "/game/catalog.json"}
            assert local(state, "worlds") == source_files(tmp_path, "worlds")
            states = orchestrator.packs(APP_ID)
            assert states["worlds"].local_version != old_version
            tutorial = states["tutorial"]
            assert tutorial.local_version != tutorial.pack.version  # not fetched on update
            assert orchestrator.rollback_pack(APP_ID, "worlds") == old_version
            assert local(state, "worlds")["worlds/2/caves.level"] != (
                tmp_path / "source" / "worlds/2/caves.level").read_bytes()


async def test_the_extension_decides_per_pack_and_check_finds_updates_and_removals(tmp_path):
    write_source(tmp_path / "source")
    build_packs(tmp_path, tmp_path / "content" / "packs")
    state = tmp_path / "state"
    async with DevServer(tmp_path / "content") as server:
        manifest = app_with_packs(tmp_path, server.url, textwrap.dedent("""\
            packs:
              - {id: "world*", download: false}
            """))
        async with Engine(retry=FAST) as engine, \
                Orchestrator(state, engine=engine) as orchestrator:
            await orchestrator.install(manifest)
            await orchestrator.wait(APP_ID, "all", timeout=30)
            assert local(state, "worlds") == {} and local(state, "tutorial")
            assert orchestrator.ensure_pack(APP_ID, "hd") == 1
            await orchestrator.wait(APP_ID, "all", timeout=30)

            (tmp_path / "source" / "hd" / "grass.tex").write_bytes(b"new grass" * 1000)
            build_packs(tmp_path, tmp_path / "content" / "packs", only=("hd", "worlds"))
            updating, removed = await orchestrator.check_packs(APP_ID)
            assert (updating, removed) == (["hd"], ["tutorial"])
            await orchestrator.wait(APP_ID, "all", timeout=30)
            assert local(state, "hd") == source_files(tmp_path, "hd")
            assert local(state, "tutorial") == {}


async def test_changing_one_file_of_a_200_file_pack_fetches_that_file_alone_from_nginx(
        tmp_path):
    """The issue's delta test: 200 small files in bundles; one changes; the update fetches
    the pack catalog, the app's catalog and that file's byte range of its bundle."""
    from tests.support.nginx import nginx_server, read_access_log

    source = tmp_path / "source"
    for index in range(200):
        path = source / "levels" / f"level-{index:03d}.level"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(hashlib.shake_128(f"level {index}".encode()).digest(1000 + index))
    manifests = tmp_path / "pack-manifests"
    manifests.mkdir()
    (manifests / "levels.yaml").write_text(
        "apiVersion: bgassets/v1\nkind: AssetPack\nmetadata: {id: levels}\nspec:\n"
        "  downloadPolicy: {prefetch: {installationEventTypes: [firstInstallation, "
        "subsequentUpdate]}}\n  files:\n    - directory: levels\n")

    def rebuild() -> None:
        packs, selection = load_packs([manifests / "levels.yaml"], source)
        build(packs, selection, source, tmp_path / "content" / "packs")

    rebuild()
    state, log = tmp_path / "state", tmp_path / "access.log"
    scene = Scenario(tmp_path, [Asset("intro", 16 * KiB, essential=True)])
    scene.write_content()
    with nginx_server(tmp_path / "content", tmp_path / "nginx", access_log=log) as base:
        manifest = app_with_packs(tmp_path, base)
        async with Engine(retry=FAST) as engine, \
                Orchestrator(state, engine=engine) as orchestrator:
            await orchestrator.install(manifest)
            await orchestrator.wait(APP_ID, "all", timeout=30)
            first = len(read_access_log(log))
            changed = source / "levels" / "level-123.level"
            changed.write_bytes(b"a new level 123\n" * 70)
            rebuild()
            manifest.write_text(manifest.read_text().replace('version: "1.0"',
                                                             'version: "1.1"'))
            await orchestrator.update(manifest)
            await orchestrator.wait(APP_ID, "all", timeout=30)
            assert local(state, "levels")["levels/level-123.level"] == changed.read_bytes()
            assert len(local(state, "levels")) == 200
    update = read_access_log(log)[first:]
    objects = [r for r in update if "/objects/" in r.uri]
    assert [(r.status, r.body_bytes_sent) for r in objects] == [(206, len(changed.read_bytes()))]
    assert objects[0].range.startswith("bytes=")
    assert sorted(r.uri for r in update if "/objects/" not in r.uri) == [
        "/game/catalog.json", "/packs/packs.json"]


HANDLERS = '''
from orchestrator.sdk import DownloadPolicy, DownloaderExtension, read_catalog


class Downloader(DownloaderExtension):
    def downloads(self, request, manifest_path, info):
        catalog = read_catalog(manifest_path, self.catalog_url)
        return [self.download(a.id, a.url, size=a.size, sha256=a.sha256,
                              essential=a.essential and request.name == "INSTALL",
                              destination=f"assets/{a.id}.bin") for a in catalog.assets]

    def should_download(self, pack):
        with open(self.container / "asked.txt", "a") as notes:
            notes.write(f"{pack.id} {pack.policy.value}\\n")
        return pack.id != "worlds"
'''


async def test_a_handler_answers_should_download_for_each_pack(tmp_path):
    write_source(tmp_path / "source")
    build_packs(tmp_path, tmp_path / "content" / "packs")
    state = tmp_path / "state"
    async with DevServer(tmp_path / "content") as server:
        manifest = app_with_packs(tmp_path, server.url, "handler: handlers:Downloader\n")
        (manifest.parent / "handlers.py").write_text(HANDLERS)
        async with Engine(retry=FAST) as engine, \
                Orchestrator(state, engine=engine) as orchestrator:
            await orchestrator.install(manifest)
            await orchestrator.wait(APP_ID, "all", timeout=30)
    container = state / "containers" / GROUP
    assert (container / "asked.txt").read_text() == "tutorial essential\nworlds prefetch\n"
    assert local(state, "tutorial") == source_files(tmp_path, "tutorial")
    assert local(state, "worlds") == {}
    assert (container / "assets" / "intro.bin").is_file()
