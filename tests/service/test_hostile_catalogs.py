"""A hostile catalog fails its own app's request with manifestInvalid; the orchestrator goes on."""

import json

import pytest

from orchestrator.devserver import DevServer
from orchestrator.engine import Engine, RetryPolicy
from orchestrator.service import Orchestrator
from orchestrator.service.views import download_views, snapshot, to_json
from tests.service.scenario import APP_ID, GROUP, Asset, KiB, Recorder, Scenario

OTHER_ID, OTHER_GROUP = "com.example.other", "group.com.example.other"
GOOD = '{"version": "1", "assets": [{"id": "a", "url": "a.bin", "size": 1024}]}'
HOSTILE = {
    "surrogate": GOOD.replace('"a"', '"\\ud800"', 1),
    "surrogate key": GOOD.replace('"size"', '"\\udfff": 1, "size"'),
    "400 digits": GOOD.replace("1024", "1" + "0" * 400),
    "5000 digits": GOOD.replace("1024", "9" * 5000),
    "digits and a unit": GOOD.replace("1024", f'"{"9" * 400}MiB"'),
    "exponent": GOOD.replace("1024", "1e400"),
    "NaN": GOOD.replace("1024", "NaN"),
    "negative zero": GOOD.replace("1024", "-0.0"),
    "timestamp tag": 'version: "1"\nassets:\n  - {id: a, url: a.bin, size: !!timestamp x}\n',
    "local tag": 'version: "1"\nassets:\n  - {id: !foo a, url: a.bin, size: 1}\n',
    "verbatim tag": 'version: "1"\nassets:\n  - {id: a, url: a.bin, size: !<tag:x> 1}\n',
    "garbage": bytes(range(256)) * 8,
    "nested 900 deep": '{"version": "1", "assets": ' + "[" * 900 + "]" * 900 + "}",
    "tagged mapping": 'version: "1"\nassets:\n  - !!set {id: a, url: a.bin, size: 1}\n',
    "8000 duplicate ids": json.dumps({"version": "1", "assets": [
        {"id": "a", "url": f"{index}.bin", "size": 1} for index in range(8000)]}, indent=2),
}


def scene_for(root, app_id):
    """An app with one 1 KiB asset; a second one gets its own id and app group."""
    scene = Scenario(root, [Asset("a", KiB)])
    scene.write_content()
    return scene


def write_manifests(scene, url, app_id):
    manifest = scene.write_manifests(url)
    if app_id != APP_ID:
        for path in (manifest, manifest.parent / "extension.yaml"):
            path.write_text(path.read_text().replace(GROUP, OTHER_GROUP).replace(APP_ID, app_id))
    return manifest


@pytest.mark.parametrize("name", list(HOSTILE))
async def test_a_hostile_catalog_fails_its_app_and_the_next_app_installs(tmp_path, name):
    hostile, good = scene_for(tmp_path / "hostile", APP_ID), scene_for(tmp_path / "good", OTHER_ID)
    recorder = Recorder()
    async with DevServer(hostile.content) as bad_server, DevServer(good.content) as good_server:
        bad_manifest = write_manifests(hostile, bad_server.url, APP_ID)
        content = HOSTILE[name]
        catalog = hostile.content / "game" / "catalog.json"
        if isinstance(content, bytes):
            catalog.write_bytes(content)
        else:
            catalog.write_text(content, encoding="utf-8")
        good_manifest = write_manifests(good, good_server.url, OTHER_ID)
        async with Engine(retry=RetryPolicy(attempts=2, base_delay=0.01)) as engine, \
                Orchestrator(tmp_path / "state", engine=engine) as orchestrator:
            orchestrator.events.subscribe(recorder)
            await orchestrator.install(bad_manifest)
            await orchestrator.install(good_manifest)
            await orchestrator.wait(OTHER_ID, "all", timeout=30)
            status = to_json(snapshot(orchestrator))["apps"]
            rows = [to_json(view) for view in download_views(orchestrator)]
    [failed] = recorder.named("download.failed")
    assert (failed["app"], failed["download"], failed["code"]) == (APP_ID, "@catalog", 1001)
    assert "Traceback" not in failed["message"] and failed["message"].count("\n") <= 50
    json.dumps(failed)  # an event any subscriber can print: no lone surrogate in it
    finished = recorder.named("download.finished")
    assert [(e["app"], e["download"]) for e in finished] == [(OTHER_ID, "a")]
    data = (tmp_path / "state" / "containers" / OTHER_GROUP / "assets" / "a.bin").read_bytes()
    assert data == Asset("a", KiB).data()
    assert [(app["app"], app["state"]) for app in status] == [
        (APP_ID, "launchable"), (OTHER_ID, "launchable")]
    assert [(row["app"], row["download"], row["state"]) for row in rows] == [
        (OTHER_ID, "a", "finished")]
    json.dumps([status, rows])
