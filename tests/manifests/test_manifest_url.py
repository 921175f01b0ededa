"""A manifestURL that the schema's pattern lets through but no URL parser splits is a
located problem for validate and for plan, not a traceback from the planner.

``plan`` on such an app raised ValueError (Invalid IPv6 URL) while checking the first
download's host against domainAllowList; ``benchmarks/fuzz.py`` generates such URLs.
"""

import pytest

from orchestrator.cli.main import main
from orchestrator.manifests import validate_paths
from tests.manifests.bases import APP, CATALOG, write_set

GOOD = "https://cdn.example.com/game/catalog.json"


@pytest.mark.parametrize(("url", "reason"), [
    ("http://[::1/game/catalog.json", "Invalid IPv6 URL"),
    ("http://cdn]example.com/catalog.json", "Invalid IPv6 URL"),
    ("https://cdn.example.com:99999/catalog.json", "Port out of range 0-65535"),
    ("https://cdn.example.com:http/catalog.json", "Port could not be cast to integer"),
])
def test_an_unsplittable_manifest_url_is_located_by_validate_and_plan(tmp_path, capsys, url,
                                                                      reason):
    folder = write_set(tmp_path, {"app.yaml": APP.replace(GOOD, f'"{url}"'),
                                  "catalog.json": CATALOG})
    app = folder / "app.yaml"
    problems = validate_paths([app])
    assert [(p.file, p.line, p.column, p.path) for p in problems] == [
        (str(app), 9, 16, "spec.manifestURL")]
    assert f"is not a URL: {reason}" in problems[0].message

    code = main(["plan", str(app), "--event", "install", "--catalog",
                 str(folder / "catalog.json")])
    captured = capsys.readouterr()
    assert code == 1
    assert f"{app}:9:16: spec.manifestURL: " in captured.err
    assert "Traceback" not in captured.err


def test_a_bracketed_ipv6_manifest_url_stays_valid(tmp_path):
    app = APP.replace(GOOD, "http://[::1]:8470/game/catalog.json").replace(
        '"cdn.example.com"', '"::1"')
    folder = write_set(tmp_path, {"app.yaml": app})
    assert validate_paths([folder / "app.yaml"]) == []
