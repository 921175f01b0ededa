"""Catalogs as bytes: large JSON fast, errors located even in the middle, YAML too."""

import json
import time

import pytest

from orchestrator.errors import ManifestError
from orchestrator.manifests import load_catalog, validate_catalog_bytes

COUNT = 2000


def assets(count=COUNT):
    return [{"id": f"asset-{index:05d}", "url": f"assets/{index:05d}.bin", "size": 1024 + index,
             "sha256": f"{index:064x}", "essential": index % 50 == 0, "priority": index % 101}
            for index in range(count)]


def pretty(document):
    """One field per line, as servers that indent their JSON write it."""
    return json.dumps(document, indent=2).encode()


def test_a_large_generated_catalog_is_valid_and_fast():
    data = json.dumps({"version": "7", "assets": assets()}).encode()
    start = time.perf_counter()
    assert validate_catalog_bytes(data, "catalog.json") == []
    assert time.perf_counter() - start < 0.5


def test_an_error_in_the_middle_is_located_exactly():
    document = {"version": "7", "assets": assets()}
    document["assets"][1234]["size"] = "12 parsecs"
    data = pretty(document)
    text = data.decode()
    line = text[: text.index('"12 parsecs"')].count("\n") + 1
    problems = validate_catalog_bytes(data, "catalog.json")
    assert [str(problem) for problem in problems] == [
        f"catalog.json:{line}:15: assets[1234].size: '12 parsecs' is not a size: "
        "write an integer number of bytes or a string like 600MiB or 1.5GB"]
    assert problems[0].path == "assets[1234].size"


def test_errors_in_many_assets_are_each_reported():
    document = {"version": "7", "assets": assets()}
    for index in (10, 1500):
        document["assets"][index]["priority"] = 300
    problems = validate_catalog_bytes(json.dumps(document).encode(), "c.json")
    assert [problem.path for problem in problems] == ["assets[10].priority",
                                                      "assets[1500].priority"]
    assert all(problem.line == 1 for problem in problems)
    assert problems[0].column < problems[1].column


def test_duplicate_asset_ids_point_at_the_second_one():
    document = {"version": "7", "assets": assets()}
    document["assets"][1999]["id"] = "asset-00003"
    problems = validate_catalog_bytes(pretty(document), "c.json")
    assert len(problems) == 1
    assert problems[0].path == "assets[1999].id"
    assert "duplicate asset id 'asset-00003', already used by assets[3]" in problems[0].message


def test_relative_and_absolute_urls_are_joined_to_the_catalog_url():
    data = json.dumps({"version": "1", "assets": [
        {"id": "a", "url": "files/a.bin", "size": "1KiB"},
        {"id": "b", "url": "/root/b.bin", "size": 2},
        {"id": "c", "url": "https://cdn.example.com/c.bin", "size": 3},
    ]}).encode()
    catalog = load_catalog(data, "c.json", "http://127.0.0.1:8470/app/catalog.json")
    assert [asset.url for asset in catalog.assets] == [
        "http://127.0.0.1:8470/app/files/a.bin",
        "http://127.0.0.1:8470/root/b.bin",
        "https://cdn.example.com/c.bin",
    ]
    assert catalog.assets[0].size == 1024


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://host/x", "has space.bin", ""])
def test_urls_that_cannot_be_fetched_are_refused(url):
    data = json.dumps({"version": "1", "assets": [{"id": "a", "url": url, "size": 1}]}).encode()
    problems = validate_catalog_bytes(data, "c.json")
    assert [problem.path for problem in problems] == ["assets[0].url"]


def test_yaml_catalogs_are_read_and_located():
    text = ("version: '3'\n"
            "assets:\n"
            "  - id: intro\n"
            "    url: intro.bin\n"
            "    size: 600MiB\n"
            "    essential: true\n"
            "  - id: extra\n"
            "    url: extra.bin\n"
            "    size: lots\n")
    problems = validate_catalog_bytes(text.encode(), "catalog.yaml")
    assert [str(problem) for problem in problems] == [
        "catalog.yaml:9:11: assets[1].size: 'lots' is not a size: "
        "write an integer number of bytes or a string like 600MiB or 1.5GB"]
    fixed = load_catalog(text.replace("lots", "1.5GB").encode(), "catalog.yaml", None)
    assert [asset.size for asset in fixed.assets] == [600 * 2**20, 1_500_000_000]


def test_load_catalog_raises_with_every_located_problem():
    data = b'{"version": 1, "assets": [{"id": "a", "url": "a", "size": -1}]}'
    with pytest.raises(ManifestError) as caught:
        load_catalog(data, "c.json", None)
    lines = str(caught.value).splitlines()
    assert lines == ["c.json:1:13: version: 1 is an integer, expected text (quote it in YAML)",
                     "c.json:1:59: assets[0].size: -1 is below the minimum 0"]


@pytest.mark.parametrize(("data", "fragment"), [
    (b"", "empty"),
    (b"[1, 2]", "the top level is a list"),
    (b'{"version": "1", "assets": [', "JSON syntax"),
    (b'{"version": "1", "assets": []}\xff', "not UTF-8"),
    (b"apiVersion: bgassets/v1\nkind: App\n", "expected a catalog"),
    (b'{"version": "1", "assets": [], "extra": 1}', "unknown field 'extra'"),
    (b'{"version": "1", "assets": [], "x-note": "ours"}', None),
    (b'{"version": "1", "assets": [{"id": "a", "url": "a", "size": ' + b"9" * 5000 + b"}]}",
     "too many digits"),
    (b"version: '1'\nassets: [{id: a, url: a, size: 0x" + b"f" * 5000 + b"}]\n", "too long"),
    (b'{"version": "1", "x-deep": ' + b"[" * 5000 + b"]" * 5000 + b', "assets": []}',
     "nested too deeply"),
])
def test_bad_catalog_bytes_give_problems_not_tracebacks(data, fragment):
    problems = validate_catalog_bytes(data, "c.json")
    if fragment is None:
        assert problems == []
    else:
        assert any(fragment in problem.message for problem in problems), problems


@pytest.mark.parametrize("in_pairs", [False, True])
@pytest.mark.parametrize("encode", [pretty, lambda document: json.dumps(document).encode()])
def test_thousands_of_duplicate_ids_are_each_reported_in_one_pass(in_pairs, encode):
    """Each duplicate is located from what was found for the one before it, not from scratch."""
    document = {"version": "7", "assets": assets(8000)}
    for index, asset in enumerate(document["assets"]):
        asset["id"] = f"asset-{index // 2:05d}" if in_pairs else "asset-00000"
    problems = validate_catalog_bytes(encode(document), "c.json")
    assert len(problems) == (4000 if in_pairs else 7999)
    first = problems[0]
    assert first.path == "assets[1].id"
    assert first.message == "assets[1].id: duplicate asset id 'asset-00000', already used by " \
        "assets[0]"
    if encode is pretty:
        assert (first.line, first.column) == (13, 13)
    last = max(problems, key=lambda problem: (problem.line, problem.column))
    assert last.path == "assets[7999].id"
    assert last.message.endswith(f"already used by assets[{7998 if in_pairs else 0}]")


def test_thousands_of_duplicate_ids_in_a_yaml_catalog_are_each_reported():
    lines = ["version: '7'", "assets:"] + [
        f"  - {{id: same, url: a/{index}.bin, size: 1}}" for index in range(8000)]
    problems = validate_catalog_bytes("\n".join(lines).encode(), "c.yaml")
    assert len(problems) == 7999
    assert (problems[0].line, problems[0].column, problems[0].path) == (4, 10, "assets[1].id")
    assert (problems[-1].line, problems[-1].path) == (8002, "assets[7999].id")
