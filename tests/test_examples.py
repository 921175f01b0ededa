"""The example manifests, schemas and editor settings are valid and agree with each other."""

import json
import re
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

from orchestrator.bundled.editor import vscode_settings
from orchestrator.cli.main import main
from orchestrator.manifests import load_app, load_catalog, load_device, validate_paths
from orchestrator.model.units import parse_size

ROOT = Path(__file__).resolve().parents[1]
MANIFESTS = ROOT / "manifests"
SCHEMAS = sorted((ROOT / "schemas").glob("*.schema.json"))
YAMLS = sorted(MANIFESTS.rglob("*.yaml"))
APPS = sorted(MANIFESTS.glob("*/app.yaml"))
DEVICES = sorted((MANIFESTS / "devices").glob("*.yaml"))
CATALOGS = sorted(MANIFESTS.glob("*/catalog.json"))
MODELINE = re.compile(r"^# yaml-language-server: \$schema=(\S+)$")


def names(paths):
    return [str(path.relative_to(ROOT)) for path in paths]


def test_every_example_validates():
    assert validate_paths([MANIFESTS]) == []


def test_every_example_validates_through_the_cli(capsys):
    assert main(["validate", str(MANIFESTS), "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out) == []


def test_the_cli_says_how_many_files_are_valid():
    result = subprocess.run([sys.executable, "-m", "orchestrator", "validate", "manifests"],
                            capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert result.returncode == 0, result.stdout
    assert result.stdout == ""
    assert result.stderr.strip() == f"{len(YAMLS) + len(CATALOGS)} files valid"


def test_the_expected_examples_exist():
    assert [path.parent.name for path in APPS] == ["level-packs", "offline-models",
                                                   "wwdc-sessions"]
    assert {path.stem for path in DEVICES} == {
        "default", "low-power", "metered", "background-refresh-off", "in-app-content-off",
        "low-storage"}
    for app in APPS:
        assert (app.parent / "extension.yaml").is_file()
        assert (app.parent / "catalog.json").is_file()


@pytest.mark.parametrize("schema_path", SCHEMAS, ids=names(SCHEMAS))
def test_schema_is_valid_draft_2020_12(schema_path):
    schema = json.loads(schema_path.read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    kind = schema_path.name.removesuffix(".schema.json")
    assert schema["$id"] == f"https://bgassets.dev/schemas/v1/{kind}.schema.json"
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"


def _properties(node, where):
    """Every (where, property schema) pair in a schema, wherever it is nested."""
    if isinstance(node, dict):
        for name, child in (node.get("properties") or {}).items():
            yield f"{where}.{name}", child
        for key, child in node.items():
            yield from _properties(child, f"{where}/{key}")
    elif isinstance(node, list):
        for index, child in enumerate(node):
            yield from _properties(child, f"{where}[{index}]")


@pytest.mark.parametrize("schema_path", SCHEMAS, ids=names(SCHEMAS))
def test_every_property_has_a_title_and_description(schema_path):
    """Editors show them on hover.

    yaml-language-server resolves a ``$ref`` by copying only the keys a property
    lacks, so a property's own title wins over its definition's (nothing is joined);
    a definition's title shows where a reference has none (list items, map keys).
    """
    schema = json.loads(schema_path.read_text())
    missing = [where for where, prop in _properties(schema, "") if
               not (prop.get("title") and prop.get("description"))]
    assert missing == []
    for name, definition in schema["$defs"].items():
        assert definition.get("title") and definition.get("description"), name


@pytest.mark.parametrize("schema_path", SCHEMAS, ids=names(SCHEMAS))
def test_every_value_property_has_an_example(schema_path):
    """Editors offer examples in completion; the manifest reference shows one per field."""
    schema = json.loads(schema_path.read_text())
    missing = [where for where, prop in _properties(schema, "")
               if prop.get("type") != "object" and "examples" not in prop]
    assert missing == []


@pytest.mark.parametrize("path", YAMLS, ids=names(YAMLS))
def test_modeline_resolves_to_the_right_schema(path):
    first = path.read_text().splitlines()[0]
    match = MODELINE.match(first)
    assert match, f"{path}: first line is not a yaml-language-server modeline"
    target = (path.parent / match.group(1)).resolve()
    assert target.is_file()
    kind = {"App": "app", "Extension": "extension", "Device": "device",
            "AssetPack": "assetpack", "Scenario": "scenario"}[
        re.search(r"^kind: (\w+)$", path.read_text(), re.M).group(1)]
    assert target == (ROOT / "schemas" / f"{kind}.schema.json").resolve()


def glob_regex(glob):
    """A VS Code / yaml-language-server glob as a regex: ``**/`` is any folders, even none."""
    parts = re.split(r"(\*\*/|\*\*|\*|\?)", glob)
    wild = {"**/": "(?:.*/)?", "**": ".*", "*": "[^/]*", "?": "[^/]"}
    return re.compile("".join(wild.get(part, re.escape(part)) for part in parts))


def schemas_for(settings, relative):
    """The schema file names that the settings give to the workspace file ``relative``."""
    found = {Path(schema).name for schema, globs in settings["yaml.schemas"].items()
             if relative.endswith((".yaml", ".yml"))
             and any(glob_regex(glob).fullmatch(relative) for glob in globs)}
    found |= {Path(entry["url"]).name for entry in settings["json.schemas"]
              if relative.endswith(".json")
              and any(glob_regex(glob).fullmatch(relative) for glob in entry["fileMatch"])}
    return found


def test_vscode_settings_are_those_that_init_writes():
    settings = json.loads((ROOT / ".vscode" / "settings.json").read_text())
    assert settings == vscode_settings("./schemas")
    assert settings["yaml.yamlVersion"] == "1.2"
    for schema in settings["yaml.schemas"]:
        assert (ROOT / schema).is_file()


def test_vscode_settings_give_every_example_its_schema():
    settings = json.loads((ROOT / ".vscode" / "settings.json").read_text())
    for path in YAMLS:
        relative = str(path.relative_to(ROOT))
        kind = path.read_text().split("\nkind: ")[1].split()[0].lower()
        assert schemas_for(settings, relative) == {f"{kind}.schema.json"}, relative
    for path in CATALOGS:
        assert schemas_for(settings, str(path.relative_to(ROOT))) == {"catalog.schema.json"}


@pytest.mark.parametrize(("relative", "schema"), [
    ("app.yaml", "app"), ("games/chess/app.yaml", "app"), ("chess.app.yaml", "app"),
    ("deep/er/extension.yaml", "extension"), ("x/chess.extension.yaml", "extension"),
    ("devices/phone.yaml", "device"), ("lab/devices/phone.yaml", "device"),
    ("phone.device.yaml", "device"), ("catalog.json", "catalog"),
    ("server/v2/catalog.json", "catalog"), ("big.catalog.json", "catalog"),
    ("server/catalog.yaml", "catalog"), ("games/chess/app.yml", "app"),
    ("extension.yml", "extension"), ("devices/phone.yml", "device"),
    ("server/catalog.yml", "catalog"),
])
def test_vscode_settings_match_by_file_name_wherever_the_file_is(relative, schema):
    settings = json.loads((ROOT / ".vscode" / "settings.json").read_text())
    assert schemas_for(settings, relative) == {f"{schema}.schema.json"}
    assert schemas_for(settings, f"notes/{Path(relative).stem}.txt") == set()


@pytest.mark.parametrize("app_path", APPS, ids=names(APPS))
def test_apps_load_into_the_model_and_their_allowances_fit(app_path):
    app, extension = load_app(app_path)
    assert app.id == f"com.example.{app_path.parent.name}"
    assert extension.id.startswith(app.id + ".")
    assert (extension.team, extension.app_group) == (app.team, app.app_group)
    assert app.manifest_url == f"http://127.0.0.1:8470/{app_path.parent.name}/catalog.json"
    catalog = load_catalog((app_path.parent / "catalog.json").read_bytes(),
                           str(app_path.parent / "catalog.json"), app.manifest_url)
    essential = sum(asset.size for asset in catalog.assets if asset.essential)
    assert app.restrictions.essential_download_allowance >= essential
    assert app.max_install_size >= app.size + sum(asset.size for asset in catalog.assets)
    assert catalog.assets[0].url.startswith("http://127.0.0.1:8470/")


def test_level_packs_allowance_is_deliberately_too_small_for_everything():
    app, _ = load_app(MANIFESTS / "level-packs" / "app.yaml")
    catalog = json.loads((MANIFESTS / "level-packs" / "catalog.json").read_text())
    background = sum(asset["size"] for asset in catalog["assets"] if not asset["essential"])
    assert app.restrictions.download_allowance < background


def test_offline_models_refuse_metered_networks():
    app, _ = load_app(MANIFESTS / "offline-models" / "app.yaml")
    assert app.network_policy.allow_metered is False


@pytest.mark.parametrize("device_path", DEVICES, ids=names(DEVICES))
def test_devices_load_into_the_model(device_path):
    device = load_device(device_path)
    assert device.name == device_path.stem
    assert device.storage.available > 0


def test_device_profiles_say_what_they_are_named_for():
    low_power = load_device(MANIFESTS / "devices" / "low-power.yaml")
    assert low_power.low_power_mode
    assert load_device(MANIFESTS / "devices" / "metered.yaml").network.metered
    refresh = load_device(MANIFESTS / "devices" / "background-refresh-off.yaml")
    assert not refresh.background_refresh.allows("com.example.level-packs")
    assert not load_device(MANIFESTS / "devices" / "in-app-content-off.yaml").in_app_content
    low_storage = load_device(MANIFESTS / "devices" / "low-storage.yaml")
    assert low_storage.storage.available < parse_size("178MiB")


@pytest.mark.parametrize("text", ["0", "600MiB", "1.5GB", " 12 kb ", "7b", "3TiB", "1.25 GiB",
                                  "12 parsecs", "-5", "1.", ".5", "5 MiBs", "5 M", ""])
def test_the_schema_size_pattern_agrees_with_parse_size(text):
    size = json.loads((ROOT / "schemas" / "app.schema.json").read_text())["$defs"]["size"]
    schema_accepts = jsonschema.Draft202012Validator(size).is_valid(text)
    try:
        parse_size(text)
        parses = True
    except ValueError:
        parses = False
    assert schema_accepts == parses
