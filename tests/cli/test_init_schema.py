"""`bgassets schema` and `bgassets init`: what an editor and a new project get."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from orchestrator.bundled import KINDS, schema_path
from tests.support.ports import free_port

MODELINE = re.compile(r"^# yaml-language-server: \$schema=(\S+)$")


def bgassets(*arguments: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "orchestrator", *arguments], cwd=cwd,
                          capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("kind", KINDS)
def test_schema_prints_each_kind_as_shipped(kind, tmp_path):
    result = bgassets("schema", kind.upper(), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == json.loads(schema_path(kind).read_text())


@pytest.mark.parametrize("arguments, message", [
    (("schema",), "name a kind"),
    (("schema", "widget"), "unknown kind 'widget'"),
    (("schema", "app", "--write", "out"), "not both"),
])
def test_schema_usage_errors_are_one_line(arguments, message, tmp_path):
    result = bgassets(*arguments, cwd=tmp_path)
    assert result.returncode == 2
    assert message in result.stderr and len(result.stderr.splitlines()) == 1


def test_schema_write_into_a_file_is_a_usage_error(tmp_path):
    (tmp_path / "taken").write_text("")
    result = bgassets("schema", "--write", "taken/schemas", cwd=tmp_path)
    assert result.returncode == 2 and "taken/schemas: cannot write" in result.stderr
    assert "Traceback" not in result.stderr


def _modeline_target(path: Path) -> Path:
    match = MODELINE.match(path.read_text().splitlines()[0])
    assert match, path
    return (path.parent / match.group(1)).resolve()


@pytest.mark.parametrize("example", [None, "level-packs"])
def test_init_writes_an_app_whose_modelines_resolve_and_that_validates(example, tmp_path):
    arguments = ["init", "project/game"] + (["--example", example] if example else [])
    made = bgassets(*arguments, cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    folder = tmp_path / "project" / "game"
    for name, kind in (("app.yaml", "app"), ("extension.yaml", "extension")):
        target = _modeline_target(folder / name)
        assert target == (folder / "schemas" / f"{kind}.schema.json").resolve()
        assert target.read_text() == schema_path(kind).read_text()
    catalog = json.loads((folder / "catalog.json").read_text())
    assert (folder / catalog["$schema"]).resolve() == folder / "schemas" / "catalog.schema.json"
    settings = json.loads((folder / ".vscode" / "settings.json").read_text())
    for schema in settings["yaml.schemas"]:
        assert (folder / schema).is_file(), schema
    validated = bgassets("validate", "project", cwd=tmp_path)
    assert validated.returncode == 0, validated.stdout + validated.stderr


def test_init_with_shared_schemas_points_modelines_up(tmp_path):
    made = bgassets("init", "apps/game", "--schemas", "schemas", "--id", "org.acme.game",
                    "--team", "ACME000001", cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    app = tmp_path / "apps" / "game" / "app.yaml"
    assert _modeline_target(app) == tmp_path / "schemas" / "app.schema.json"
    assert "id: org.acme.game" in app.read_text() and "team: ACME000001" in app.read_text()
    assert bgassets("validate", "apps", cwd=tmp_path).returncode == 0


def test_init_refuses_to_overwrite_and_names_the_file(tmp_path):
    assert bgassets("init", "game", cwd=tmp_path).returncode == 0
    assert bgassets("init", "game", cwd=tmp_path).returncode == 0  # the same files again
    before = (tmp_path / "game" / "app.yaml").read_text()
    again = bgassets("init", "game", "--id", "com.example.other", cwd=tmp_path)
    assert again.returncode == 2 and "game/app.yaml exists already" in again.stderr
    assert (tmp_path / "game" / "app.yaml").read_text() == before
    forced = bgassets("init", "game", "--id", "com.example.other", "--force", cwd=tmp_path)
    assert forced.returncode == 0 and "com.example.other" in (tmp_path / "game" / "app.yaml"
                                                              ).read_text()


@pytest.mark.parametrize("arguments, message", [
    (("--id", "not an id"), "--id: 'not an id' is not a reverse-DNS id"),
    (("--team", "small"), "--team: 'small'"),
    (("--example", "nothing"), "no bundled example 'nothing'"),
    (("--manifest-url", "ftp://x/catalog.json"), "is not an http(s) URL"),
    (("--manifest-url", "http://"), "is not an http(s) URL"),
    (("--manifest-url", "http://host/a catalog.json"), "is not an http(s) URL"),
    (("--manifest-url", "http://-bad-/catalog.json"), "neither a host name"),
    (("--name", "Two\nLines"), "control character"),
    (("--team", "EXAMPLE123\n"), "--team"),
])
def test_init_usage_errors(arguments, message, tmp_path):
    result = bgassets("init", "game", *arguments, cwd=tmp_path)
    assert result.returncode == 2 and message in result.stderr
    assert not (tmp_path / "game").exists()


def test_init_into_a_path_through_a_file_is_a_usage_error(tmp_path):
    (tmp_path / "taken").write_text("")
    result = bgassets("init", "taken/game", cwd=tmp_path)
    assert result.returncode == 2 and "cannot write there" in result.stderr
    assert "Traceback" not in result.stderr


def test_apps_of_one_project_share_a_schemas_folder(tmp_path):
    for name in ("first", "second"):
        made = bgassets("init", f"apps/{name}", "--schemas", "schemas", cwd=tmp_path)
        assert made.returncode == 0, made.stderr
    assert bgassets("validate", "apps", cwd=tmp_path).returncode == 0
    (tmp_path / "schemas" / "app.schema.json").write_text("{}")
    third = bgassets("init", "apps/third", "--schemas", "schemas", cwd=tmp_path)
    assert third.returncode == 2 and "schemas/app.schema.json exists already" in third.stderr


def test_a_folder_name_with_a_space_is_the_served_path(tmp_path):
    made = bgassets("init", "apps/My Game", cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    assert "next: bgassets validate 'apps/My Game'" in made.stderr
    app = (tmp_path / "apps" / "My Game" / "app.yaml").read_text()
    assert "manifestURL: http://127.0.0.1:8470/My%20Game/catalog.json" in app
    assert "id: com.example.my-game" in app
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "orchestrator", "serve", "apps", "--port",
                               str(port)], cwd=tmp_path, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    try:
        body = fetch_when_up(f"http://127.0.0.1:{port}/My%20Game/catalog.json")
    finally:
        server.terminate()
        server.wait(timeout=10)
    assert json.loads(body) == json.loads(
        (tmp_path / "apps" / "My Game" / "catalog.json").read_text())


def test_a_copied_example_takes_the_new_identity_and_url(tmp_path):
    made = bgassets("init", "apps/sessions", "--example", "wwdc-sessions", "--id",
                    "org.acme.talks", "--team", "ACME000001", "--name", "Talks", cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    folder = tmp_path / "apps" / "sessions"
    app, extension = (folder / "app.yaml").read_text(), (folder / "extension.yaml").read_text()
    assert "com.example.wwdc-sessions" not in app + extension and "EXAMPLE123" not in app
    assert "appGroup: group.org.acme.talks" in app and "id: org.acme.talks.downloader" in extension
    assert "manifestURL: http://127.0.0.1:8470/sessions/catalog.json" in app
    assert 'name: "Talks"' in app
    validated = bgassets("validate", "apps", cwd=tmp_path)
    assert validated.returncode == 0, validated.stdout + validated.stderr


def fetch_when_up(url: str) -> bytes:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback only
    deadline = time.monotonic() + 20
    while True:
        try:
            with opener.open(url, timeout=5) as response:
                return response.read()
        except urllib.error.URLError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)
