"""What a user gets from ``pip install``: the sdist, the wheel built from it, a fresh venv.

Everything runs from an empty folder outside the repository, so nothing can be
found through the checkout: the schemas, the examples and the UI's styles must
come from the installed package.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import subprocess
import sys
import sysconfig
import tarfile
import time
import zipfile
from pathlib import Path

import pytest

from tests.support.ports import free_port

ROOT = Path(__file__).resolve().parents[2]
BUNDLED = ROOT / "orchestrator" / "bundled"
DEMO_PORT = 8470


def _run(command: list[str], **kwargs) -> subprocess.CompletedProcess[str]:
    kwargs.setdefault("timeout", 300)
    return subprocess.run(command, capture_output=True, text=True, **kwargs)


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> dict[str, Path | str]:
    """The sdist of this checkout and the wheel pip builds from that sdist, offline."""
    out = tmp_path_factory.mktemp("dist")
    sdist = _run([sys.executable, "-c",
                  "import sys; from setuptools import build_meta as b; "
                  "print(b.build_sdist(sys.argv[1]))", str(out)], cwd=ROOT)
    assert sdist.returncode == 0, sdist.stderr
    archive = out / sdist.stdout.strip().splitlines()[-1]
    wheel = _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                  "--no-index", "-w", str(out), str(archive)])
    assert wheel.returncode == 0, wheel.stderr
    (path,) = out.glob("bgassets-*.whl")
    return {"sdist": archive, "wheel": path, "log": sdist.stderr + wheel.stdout + wheel.stderr}


@pytest.fixture(scope="module")
def venv(built, tmp_path_factory) -> Path:
    """A new venv with the wheel installed; the dependencies come from the test venv.

    The test venv's site-packages is added by a ``.pth`` line, which makes its
    modules importable but runs none of its own ``.pth`` files, so the editable
    install of this checkout stays out of the new venv.
    """
    target = tmp_path_factory.mktemp("venv")
    made = _run([sys.executable, "-m", "venv", "--without-pip", str(target)])
    assert made.returncode == 0, made.stderr
    python = target / "bin" / "python"
    purelib = _run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"])
    Path(purelib.stdout.strip(), "_test_dependencies.pth").write_text(
        sysconfig.get_paths()["purelib"] + "\n")
    installed = _run([sys.executable, "-m", "pip", "--python", str(python), "install",
                      "--no-deps", "--no-index", str(built["wheel"])])
    assert installed.returncode == 0, installed.stderr
    return target


@pytest.fixture
def user(venv, tmp_path):
    """Run a command of the installed package from an empty folder, as a new user would."""
    home = tmp_path / "home"
    home.mkdir()
    env = {key: value for key, value in os.environ.items()
           if key not in ("PYTHONPATH", "VIRTUAL_ENV", "BGASSETS_STATE_DIR")}
    env.update(HOME=str(home), BGASSETS_STATE_DIR=str(tmp_path / "state"))

    def run(*arguments: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        program, *rest = arguments
        executable = venv / "bin" / ("python" if program == "python" else program)
        return _run([str(executable), *rest], cwd=home, env=env, timeout=timeout)

    run.home = home  # type: ignore[attr-defined]
    return run


def _bundled_files() -> set[str]:
    return {path.relative_to(ROOT).as_posix() for path in BUNDLED.rglob("*")
            if path.suffix in (".json", ".yaml")
            or ("pack-source" in path.parts and path.is_file())}


def test_the_wheel_and_the_sdist_ship_the_schemas_examples_styles_and_py_typed(built):
    with zipfile.ZipFile(built["wheel"]) as wheel:
        in_wheel = set(wheel.namelist())
    with tarfile.open(built["sdist"]) as sdist:
        in_sdist = {name.split("/", 1)[1] for name in sdist.getnames() if "/" in name}
    expected = _bundled_files() | {"tui/app.tcss", "orchestrator/py.typed"}
    assert len(expected) > 15
    assert expected <= in_wheel, sorted(expected - in_wheel)
    assert expected <= in_sdist, sorted(expected - in_sdist)


def test_building_warns_of_nothing_deprecated(built):
    assert "deprecat" not in str(built["log"]).lower(), built["log"]


def test_the_package_is_imported_from_the_new_venv_not_the_checkout(user, venv):
    result = user("python", "-c", "import orchestrator, tui; print(orchestrator.__file__); "
                  "print(tui.__file__)")
    assert result.returncode == 0, result.stderr
    for line in result.stdout.split():
        assert Path(line).is_relative_to(venv), line


def test_schema_prints_and_writes_the_shipped_schemas(user):
    printed = user("bgassets", "schema", "app")
    assert printed.returncode == 0, printed.stderr
    assert printed.stdout == (BUNDLED / "schemas" / "app.schema.json").read_text()
    written = user("bgassets", "schema", "--write", "schemas")
    assert written.returncode == 0, written.stderr
    folder = user.home / "schemas"
    index = json.loads((folder / "index.json").read_text())
    assert sorted(entry["url"] for entry in index["schemas"]) == [
        "./app.schema.json", "./assetpack.schema.json", "./catalog.schema.json",
        "./device.schema.json", "./extension.schema.json", "./scenario.schema.json"]
    for entry in index["schemas"]:
        assert json.loads((folder / entry["url"]).read_text())["$id"] == entry["$id"]


def test_a_bundled_example_copied_out_validates_and_plans(user):
    made = user("bgassets", "init", "sessions", "--example", "wwdc-sessions")
    assert made.returncode == 0, made.stderr
    validated = user("bgassets", "validate", "sessions")
    assert validated.returncode == 0, validated.stdout + validated.stderr
    planned = user("bgassets", "plan", "sessions/app.yaml", "--event", "install",
                   "--catalog", "sessions/catalog.json", "--json")
    assert planned.returncode == 0, planned.stderr
    assert "wwdc23-10108" in planned.stdout


def _wait_for_port(port: int, server: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        assert server.poll() is None, server.communicate()
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise AssertionError(f"nothing listens on {port}")


def test_a_new_app_installs_from_its_own_served_folder(user, venv):
    port = free_port()
    url = f"http://127.0.0.1:{port}/my-game/catalog.json"
    made = user("bgassets", "init", "apps/my-game", "--manifest-url", url)
    assert made.returncode == 0, made.stderr
    assert user("bgassets", "validate", "apps").returncode == 0
    server = subprocess.Popen([str(venv / "bin" / "bgassets"), "serve", "apps", "--port",
                               str(port)], cwd=user.home, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, text=True)
    try:
        _wait_for_port(port, server)
        result = user("bgassets", "simulate", "install", "apps/my-game/app.yaml", "--wait", "all")
    finally:
        server.terminate()
        server.wait(timeout=10)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "app.launchable" in result.stdout
    catalog = json.loads((user.home / "apps" / "my-game" / "catalog.json").read_text())
    (delivered,) = (user.home.parent / "state").rglob("assets/welcome.txt")
    assert hashlib.sha256(delivered.read_bytes()).hexdigest() == catalog["assets"][0]["sha256"]


def test_demo_content_is_generated_from_the_installed_examples(user):
    result = user("python", "-m", "orchestrator.demo", "content")
    assert result.returncode == 0, result.stderr
    catalogs = sorted((BUNDLED / "manifests").glob("*/catalog.json"))
    expected = sum(len(json.loads(path.read_text())["assets"]) for path in catalogs)
    files = [path for path in (user.home / "content").rglob("*") if path.is_file()]
    assert len(files) >= expected > 0
    assert f"{len(files)} file(s) written" in result.stdout


def test_run_headless_installs_the_bundled_examples(user):
    with socket.socket() as sock:
        if sock.connect_ex(("127.0.0.1", DEMO_PORT)) == 0:
            if os.environ.get("CI") == "true":
                raise AssertionError(f"port {DEMO_PORT} is taken; the examples need it")
            pytest.skip(f"port {DEMO_PORT} is taken (a demo running?)")
    result = user("bgassets", "run", "--headless", "--rate-per-connection", "0", timeout=300)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr
    assert "0 failed download(s)" in result.stdout
    assert result.stdout.count("app.launchable") == 3
    assert result.stdout.count("pack.installed") == 2  # level-packs: tutorial and worlds


def test_a_new_scenario_plays_for_a_new_app(user):
    """``scenario new`` beside an app made by ``init``: it validates and plays green, from
    the wheel, with the schemas its modeline names next to it."""
    port = free_port()
    url = f"http://127.0.0.1:{port}/my-game/catalog.json"
    assert user("bgassets", "init", "apps/my-game", "--manifest-url", url).returncode == 0
    made = user("bgassets", "scenario", "new", "apps/scenarios/first-week.yaml",
                "--app", "apps/my-game/app.yaml")
    assert made.returncode == 0, made.stderr
    scenario = user.home / "apps" / "scenarios" / "first-week.yaml"
    # No schemas/ folder beside it or above: they are written next to it.
    assert scenario.read_text().startswith(
        "# yaml-language-server: $schema=./schemas/scenario.schema.json")
    assert (scenario.parent / "schemas" / "device.schema.json").is_file()
    assert user("bgassets", "validate", "apps").returncode == 0
    played = user("bgassets", "scenario", "run", "apps/scenarios/first-week.yaml",
                  "--junit", "report.xml")
    assert played.returncode == 0, played.stdout + played.stderr
    assert "PASS first-week" in played.stdout
    assert 'failures="0"' in (user.home / "report.xml").read_text()


def test_a_bundled_scenario_plays_from_the_installed_package(user, venv):
    found = user("python", "-c", "from orchestrator.bundled import manifests_dir; "
                 "print(manifests_dir())")
    assert found.returncode == 0, found.stderr
    library = Path(found.stdout.strip()) / "scenarios"
    assert library.is_relative_to(venv)
    played = user("bgassets", "scenario", "run", str(library / "in-app-content-off.yaml"),
                  "--json")
    assert played.returncode == 0, played.stdout + played.stderr
    assert json.loads(played.stdout.splitlines()[-1])["passed"] is True
