"""Inputs that once took seconds per value are located problems in milliseconds.

Both were found by ``benchmarks/fuzz.py``: a regex that backtracks
quadratically is a hang for a document of a few hundred kilobytes.
"""

import json
import time

from orchestrator.cli.main import main
from orchestrator.manifests import validate_paths
from tests.manifests.bases import APP, write_set


def timed_problems(path):
    started = time.perf_counter()
    problems = validate_paths([path])
    return problems, time.perf_counter() - started


def test_a_size_of_digits_and_a_long_run_of_blanks_is_explained_at_once(tmp_path, capsys):
    """Python's re takes quadratic time on the size pattern for such text (14 s for
    80,000 blanks); the explanation now uses the compiled validator's linear engine."""
    size = "1" + " \t" * 40_000 + "x"
    catalog = tmp_path / "catalog.json"
    catalog.write_text(json.dumps({"version": "1", "assets": [
        {"id": "a", "url": "a.bin", "size": size}]}, indent=2))
    problems, seconds = timed_problems(catalog)
    assert seconds < 2
    assert [(p.line, p.column, p.path) for p in problems] == [(7, 15, "assets[0].size")]
    assert "is not a size" in problems[0].message
    assert main(["validate", str(catalog)]) == 1
    assert capsys.readouterr().out.startswith(f"{catalog}:7:15: assets[0].size: ")


def test_a_manifest_size_of_a_long_run_of_blanks_is_explained_at_once(tmp_path):
    app = APP.replace("size: 10MiB", f"size: \"1{' ' * 80_000}x\"")
    folder = write_set(tmp_path, {"app.yaml": app})
    problems, seconds = timed_problems(folder / "app.yaml")
    assert seconds < 2
    assert [(p.path, p.line) for p in problems] == [("spec.size", 10)]


def test_an_overlong_integer_after_many_long_ones_is_located_at_once(tmp_path):
    """Python reads integers of up to 4300 digits; finding the one that is longer once
    tried every digit of every number before it (7 ms per 3999-digit number)."""
    numbers = ", ".join(["9" * 3999] * 1500 + ["-" + "9" * 4400])
    catalog = tmp_path / "catalog.json"
    catalog.write_text(f'{{"version": "1",\n "x": [{numbers}],\n "assets": []}}')
    problems, seconds = timed_problems(catalog)
    assert seconds < 3
    assert [(p.line, p.column) for p in problems] == [(2, 8 + 1500 * 4001)]
    assert problems[0].message == "JSON: a number has too many digits to be read"


def test_an_overlong_integer_is_located_past_long_fractions_and_exponents(tmp_path):
    catalog = tmp_path / "catalog.json"
    catalog.write_text(f'{{"x": [1.{"5" * 5000}, 2e{"5" * 5000}, {"7" * 4400}]}}')
    problems, _ = timed_problems(catalog)
    assert [(p.line, p.column) for p in problems] == [(1, 10 + 5000 + 4 + 5000 + 2)]
