"""Hostile content (lone surrogates, NaN, odd YAML tags) is a located problem, never a crash."""

import subprocess
import sys
from pathlib import Path

import pytest

from orchestrator.manifests import validate_paths
from tests.manifests.bases import APP, CATALOG, write_set

ROOT = Path(__file__).resolve().parents[2]
YAML_CATALOG = 'version: "1"\nassets:\n  - id: a\n    url: a.bin\n    size: {size}\n'


def validate_cli(*paths):
    return subprocess.run([sys.executable, "-m", "orchestrator", "validate", *map(str, paths)],
                          capture_output=True, text=True, cwd=ROOT, timeout=60)


def only_problem(path):
    problems = validate_paths([path])
    assert len(problems) == 1, problems
    return problems[0]


@pytest.mark.parametrize(("old", "new", "where", "path"), [
    ('"level-1"', '"\\ud800"', (4, 12), "assets[0].id"),
    ('"essential": true', '"title": "a\\udfffb"', (4, 69), "assets[0].title"),
    ('"essential": true', '"\\ud800": true', (4, 60), "assets[0].\\ud800"),
])
def test_a_lone_surrogate_in_a_json_catalog_is_located(tmp_path, old, new, where, path):
    catalog = tmp_path / "catalog.json"
    catalog.write_text(CATALOG.replace(old, new))
    problem = only_problem(catalog)
    assert (problem.line, problem.column, problem.path) == (*where, path)
    assert "lone UTF-16 surrogate" in problem.message
    result = validate_cli(catalog)
    assert result.returncode == 1, result.stderr
    assert result.stdout.startswith(f"{catalog}:{where[0]}:{where[1]}: {path}: ")
    assert "Traceback" not in result.stderr


def test_a_lone_surrogate_escape_in_yaml_is_located(tmp_path):
    write_set(tmp_path, {"app.yaml": APP.replace("team: EXAMPLE123", 'team: "\\ud800"')})
    problem = only_problem(tmp_path / "app.yaml")
    assert (problem.line, problem.column) == (5, 12)


def test_a_surrogate_pair_escape_is_one_character_and_fine(tmp_path):
    catalog = tmp_path / "catalog.json"
    catalog.write_text(CATALOG.replace('"essential": true', '"title": "\\ud83d\\ude00"'))
    assert validate_paths([catalog]) == []


@pytest.mark.parametrize(("old", "new", "column", "name"), [
    ("1024", "NaN", 54, "NaN"), ("1024", "-Infinity", 54, "-Infinity"),
    ('"priority": 10', '"priority": Infinity', 91, "Infinity"),
])
def test_json_nan_and_infinity_are_refused_where_they_are(tmp_path, old, new, column, name):
    catalog = tmp_path / "catalog.json"
    catalog.write_text(CATALOG.replace('"version": "1"', '"version": "NaN"').replace(old, new))
    problem = only_problem(catalog)
    assert (problem.line, problem.column) == (4 if column == 54 else 5, column)
    assert problem.message == f"JSON has no {name}: write a number"


@pytest.mark.parametrize(("tagged", "message"), [
    ("!!timestamp x", "tag tag:yaml.org,2002:timestamp is not supported"),
    ("!!timestamp 2001-99-99", "tag tag:yaml.org,2002:timestamp is not supported"),
    ("!!bool maybe", "'maybe' is not a YAML 1.2 bool"),
    ("!!binary AAAA", "tag tag:yaml.org,2002:binary is not supported"),
    ("!!float abc", "'abc' is not a YAML 1.2 float"),
    ("!!int 0x", "'0x' is not a YAML 1.2 int"),
    ("!!int 12.5", "'12.5' is not a YAML 1.2 int"),
    ("!!str {a: 1}", "tag tag:yaml.org,2002:str is not supported on a mapping"),
    ("!!set {a}", "tag tag:yaml.org,2002:set is not supported on a mapping"),
    ("!!omap [a: 1]", "tag tag:yaml.org,2002:omap is not supported on a list"),
    ("!foo [1]", "tag !foo is not supported on a list"),
    ("!!map x", "tag tag:yaml.org,2002:map is not supported"),
    ("!!seq x", "tag tag:yaml.org,2002:seq is not supported"),
    ("!foo x", "tag !foo is not supported"),
    ("!<tag:yaml.org,2002:int> x", "'x' is not a YAML 1.2 int"),
])
def test_a_tag_that_does_not_fit_is_a_located_problem(tmp_path, tagged, message):
    catalog = tmp_path / "catalog.yaml"
    catalog.write_text(YAML_CATALOG.format(size=tagged))
    problem = only_problem(catalog)
    assert (problem.line, problem.column, problem.path) == (5, 11, "assets[0].size")
    assert message in problem.message


BIG = "1" + "0" * 400


@pytest.mark.parametrize(("name", "text", "where", "message"), [
    ("catalog.json", CATALOG.replace("1024", BIG), (4, 54),
     "assets[0].size: a 401-digit number is too large a size"),
    ("catalog.json", CATALOG.replace('"2MiB"', f'"{"9" * 400}MiB"'), (5, 71),
     "assets[1].size: '99999"),
    ("catalog.json", CATALOG.replace("1024", "1e300"), (4, 54),
     "assets[0].size: a 301-digit number is too large a size"),
    ("catalog.json", CATALOG.replace("1024", "-0.0"), (4, 54),
     "assets[0].size: -0.0 is a negative zero: write 0"),
    ("catalog.json", CATALOG.replace('"priority": 10', f'"priority": {BIG}'), (5, 91),
     "assets[1].priority: 1000"),
    ("catalog.json", CATALOG.replace('"priority": 10', '"priority": 1e400'), (5, 91),
     "assets[1].priority: inf is a number, expected an integer"),
    ("catalog.yaml", YAML_CATALOG.format(size=BIG), (5, 11), "assets[0].size: this number is "
     "too long"),
    ("catalog.yaml", YAML_CATALOG.format(size=f'"{"9" * 400}MiB"'), (5, 11),
     "assets[0].size: '99999"),
    ("catalog.yaml", YAML_CATALOG.format(size="9223372036854775808"), (5, 11),
     "assets[0].size: 9223372036854775808 is too large a size: at most 9223372036854775807"),
    ("app.yaml", APP.replace("maxInstallSize: 1GiB", f"maxInstallSize: {'9' * 400}MiB"),
     (11, 19), "spec.maxInstallSize: '99999"),
])
def test_a_number_too_large_for_64_bits_is_a_located_problem(tmp_path, name, text, where,
                                                              message):
    write_set(tmp_path, {name: text})
    problems = validate_paths([tmp_path / name])
    assert [(p.line, p.column) for p in problems][:1] == [where], problems
    assert problems[0].message.startswith(message)
    result = validate_cli(tmp_path / name)
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr


def test_plan_reports_a_catalog_size_too_large_instead_of_overflowing(tmp_path):
    write_set(tmp_path, {"catalog.json": CATALOG.replace("1024", "9" * 400)})
    result = subprocess.run(
        [sys.executable, "-m", "orchestrator", "plan", "--event", "install", "--catalog",
         str(tmp_path / "catalog.json"), "--state-dir", str(tmp_path / "state"),
         str(tmp_path / "app.yaml")], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr, result.stderr
    assert f"{tmp_path / 'catalog.json'}:4:54: assets[0].size: a 400-digit number is too large" \
        in result.stderr


def test_a_json_number_longer_than_python_reads_is_located_past_long_digit_strings(tmp_path):
    catalog = tmp_path / "catalog.json"
    catalog.write_text(CATALOG.replace('"version": "1"', f'"version": "{"7" * 5000}"')
                       .replace("1024", "9" * 5000))
    problem = only_problem(catalog)
    assert (problem.line, problem.column) == (4, 54)
    assert problem.message == "JSON: a number has too many digits to be read"


@pytest.mark.parametrize("url", ["http://[::1", "http://[zz]/a", "http://x]/a"])
def test_an_asset_url_that_cannot_be_split_is_a_located_problem(tmp_path, url):
    catalog = tmp_path / "catalog.json"
    catalog.write_text(CATALOG.replace("levels/1.bin", url))
    problem = only_problem(catalog)
    assert (problem.line, problem.column, problem.path) == (4, 30, "assets[0].url")
    assert problem.message.startswith(f"assets[0].url: {url!r} is not a URL: ")


def test_a_tagged_key_is_a_located_problem(tmp_path):
    catalog = tmp_path / "catalog.yaml"
    catalog.write_text(YAML_CATALOG.format(size="1") + "    !!int 5: 1\n")
    problem = only_problem(catalog)
    assert (problem.line, problem.column, problem.path) == (6, 5, "assets[0]")
    assert problem.message == "assets[0]: tag tag:yaml.org,2002:int is not supported on a key: " \
        "remove it"


@pytest.mark.parametrize("depth", [500, 950])
def test_a_json_document_nested_too_deep_for_the_schema_validator_is_located(tmp_path, depth):
    catalog = tmp_path / "catalog.json"
    catalog.write_text('{"version": "\\u00e9\\ud83d\\ude00", "assets": ' + "[" * depth
                       + "]" * depth + "}")
    problem = only_problem(catalog)
    assert (problem.line, problem.column) == (1, 45 + 64)
    assert problem.message.endswith("]: nested deeper than 64 levels")
    result = validate_cli(catalog, tmp_path)
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
